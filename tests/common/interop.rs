//! Real peers as processes on 127.0.0.1, with bounded time.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sanstls::{Connection, Error, Event, ServerConfig};

/// Every interop exchange finishes within this.
pub const DEADLINE: Duration = Duration::from_secs(15);

/// True if `cmd` runs; under CI a missing peer fails the test instead of skipping it.
pub fn have(cmd: &str) -> bool {
    let ok = Command::new(cmd)
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
        || Command::new(cmd)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok();
    if !ok {
        assert!(std::env::var_os("CI").is_none(), "{cmd} is missing under CI");
        eprintln!("skipping: {cmd} not installed");
    }
    ok
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process killed when dropped.
pub struct Peer {
    pub child: Child,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn spawn_server(cmd: &str, args: &[String], port: u16) -> Peer {
    let child = Command::new(cmd)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd}: {e}"));
    let peer = Peer { child };
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < DEADLINE,
            "{cmd} did not start listening on {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    peer
}

/// Drives `conn` over `sock` until the peer closes or `done` says stop; returns the plaintext
/// received. Bounded by [`DEADLINE`].
pub fn drive(
    conn: &mut Connection,
    sock: &mut TcpStream,
    mut to_send: Vec<u8>,
    done: impl Fn(&Connection, &[u8]) -> bool,
) -> Result<Vec<u8>, Error> {
    sock.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
    let start = Instant::now();
    let mut received = Vec::new();
    loop {
        assert!(
            start.elapsed() < DEADLINE,
            "exchange timed out; got {:?}",
            String::from_utf8_lossy(&received)
        );
        if !conn.is_handshaking() && !to_send.is_empty() {
            let n = conn.writer().write(&to_send).unwrap_or(0);
            to_send.drain(..n);
        }
        while conn.wants_write() {
            match conn.write_tls(sock) {
                Ok(0) => break,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        if let Some(e) = conn.error() {
            return Err(e.clone());
        }
        if done(conn, &received) {
            return Ok(received);
        }
        match conn.read_tls(sock) {
            Ok(0) => {
                conn.process_new_packets()?;
                collect(conn, &mut received);
                return Ok(received);
            }
            Ok(_) => {}
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
            Err(_) => return Ok(received),
        }
        if let Err(e) = conn.process_new_packets() {
            let _ = conn.write_tls(sock);
            return Err(e);
        }
        if collect(conn, &mut received) {
            return Ok(received);
        }
    }
}

/// Reads plaintext out; true once the peer has closed.
fn collect(conn: &mut Connection, received: &mut Vec<u8>) -> bool {
    let mut closed = false;
    while let Some(ev) = conn.next_event() {
        if ev == Event::PeerClosed {
            closed = true;
        }
    }
    let mut buf = [0u8; 16384];
    while let Ok(n) = conn.reader().read(&mut buf) {
        if n == 0 {
            break;
        }
        received.extend_from_slice(&buf[..n]);
    }
    closed
}

/// What [`serve_one`]'s thread returns: the connection and what it received (or its error).
pub type ServedOne = (Connection, Result<Vec<u8>, Error>);

/// Accepts one connection with our server on a fresh port, echoes what arrives until the
/// client closes; the thread returns the connection and what it received.
pub fn serve_one(config: Arc<ServerConfig>) -> (u16, std::thread::JoinHandle<ServedOne>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let (mut sock, _) = listener.accept().unwrap();
        let mut conn = Connection::server(config).unwrap();
        let mut all = Vec::new();
        sock.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
        let start = Instant::now();
        let result = loop {
            if start.elapsed() > DEADLINE {
                break Ok(all);
            }
            while conn.wants_write() {
                if conn.write_tls(&mut sock).unwrap_or(0) == 0 {
                    break;
                }
            }
            if let Some(e) = conn.error() {
                break Err(e.clone());
            }
            match conn.read_tls(&mut sock) {
                Ok(0) => break Ok(all),
                Ok(_) => {}
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => continue,
                Err(_) => break Ok(all),
            }
            if let Err(e) = conn.process_new_packets() {
                let _ = conn.write_tls(&mut sock);
                break Err(e);
            }
            let before = all.len();
            let closed = collect(&mut conn, &mut all);
            if all.len() > before {
                let echo = all[before..].to_vec();
                let _ = conn.writer().write_all(&echo);
            }
            if closed {
                conn.send_close_notify();
                while conn.write_tls(&mut sock).unwrap_or(0) > 0 {}
                break Ok(all);
            }
        };
        (conn, result)
    });
    (port, handle)
}

/// Runs a client process to completion (stdin given, bounded time); returns stdout+stderr.
pub fn run_client(cmd: &str, args: &[String], stdin: &[u8]) -> String {
    run_client_env(cmd, args, &[], stdin)
}

/// [`run_client`] with extra environment variables (e.g. `OPENSSL_CONF`).
pub fn run_client_env(cmd: &str, args: &[String], env: &[(&str, &std::path::Path)], stdin: &[u8]) -> String {
    let mut child = Command::new(cmd)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd}: {e}"));
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
        // Keep stdin open a moment so the client reads the echo before it quits.
        std::thread::sleep(Duration::from_millis(500));
    });
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = writer.join();
    let out = child.wait_with_output().unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
