//! Scale: 10,000 concurrent TLS connections held open against `sanstls serve --echo` on
//! 127.0.0.1, each with a completed handshake and one echoed message, while the server's RSS
//! is measured. Clients are the sanstls library on one mio loop in this process.
//!
//! `SANSTLS_SCALE_CONNS` changes the count (the default needs `ulimit -n` above 10,100 for
//! this process and for the server; .ci/run raises it).

mod support;
use support::Killed;

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use sanstls::pki::{TrustAnchors, WebPkiServerVerifier};
use sanstls::{ClientConfig, Connection};

/// Bounds the whole run so a broken server fails the test instead of hanging it.
const DEADLINE: Duration = Duration::from_secs(600);
const BATCH: usize = 256;
/// The server's RSS growth per held connection we accept (KiB). Measured: see README.md.
const MAX_KIB_PER_CONN: u64 = 12;

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

struct Client {
    sock: TcpStream,
    tls: Connection,
    sent_ping: bool,
    got: Vec<u8>,
}

impl Client {
    /// Moves bytes until the socket would block. Err: the connection failed.
    fn step(&mut self) -> Result<(), String> {
        loop {
            while self.tls.wants_write() {
                match self.tls.write_tls(&mut self.sock) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::NotConnected => return Ok(()),
                    Err(e) => return Err(format!("write: {e}")),
                }
            }
            match self.tls.read_tls(&mut self.sock) {
                Ok(0) => return Err("server closed".into()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return Ok(()),
                Err(e) => return Err(format!("read: {e}")),
            }
            self.tls.process_new_packets().map_err(|e| e.to_string())?;
            while self.tls.next_event().is_some() {}
            let mut buf = [0u8; 64];
            while let Ok(n) = self.tls.reader().read(&mut buf) {
                if n == 0 {
                    break;
                }
                self.got.extend_from_slice(&buf[..n]);
            }
            if !self.tls.is_handshaking() && !self.sent_ping {
                self.tls.writer().write_all(b"ping").map_err(|e| e.to_string())?;
                self.sent_ping = true;
                continue;
            }
            if !self.tls.wants_write() {
                return Ok(());
            }
        }
    }

    fn done(&self) -> bool {
        self.got == b"ping"
    }
}

#[test]
fn ten_thousand_concurrent_connections() {
    let n: usize = std::env::var("SANSTLS_SCALE_CONNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let server = Killed(
        Command::new(env!("CARGO_BIN_EXE_sanstls"))
            .args(["serve", "--listen", &listen, "--echo", "--log", "warn"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let addr: SocketAddr = listen.parse().unwrap();
    let t = Instant::now();
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(t.elapsed() < Duration::from_secs(20), "server never listened");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(100));
    let baseline = rss_kib(server.0.id());

    let ca = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../vectors/ca.pem");
    let anchors = TrustAnchors::from_pem_file(ca).unwrap();
    let config: Arc<ClientConfig> = ClientConfig::builder(Arc::new(WebPkiServerVerifier::new(anchors)))
        .build()
        .unwrap();

    let mut poll = Poll::new().unwrap();
    let mut events = Events::with_capacity(1024);
    let mut clients: HashMap<usize, Client> = HashMap::new();
    let mut done = 0usize;
    let start = Instant::now();
    while clients.len() < n || done < n {
        assert!(
            start.elapsed() < DEADLINE,
            "{done} of {n} served before the deadline"
        );
        // Keep at most BATCH handshakes in flight.
        while clients.len() < n && clients.len() - done < BATCH {
            let id = clients.len();
            let mut sock = TcpStream::connect(addr).unwrap();
            poll.registry()
                .register(&mut sock, Token(id), Interest::READABLE | Interest::WRITABLE)
                .unwrap();
            let tls = Connection::client(config.clone(), "localhost").unwrap();
            clients.insert(
                id,
                Client {
                    sock,
                    tls,
                    sent_ping: false,
                    got: Vec::new(),
                },
            );
        }
        poll.poll(&mut events, Some(Duration::from_millis(100))).unwrap();
        for ev in events.iter() {
            let Some(c) = clients.get_mut(&ev.token().0) else {
                continue;
            };
            if c.done() {
                continue;
            }
            if let Err(e) = c.step() {
                panic!("connection {} failed after {done} served: {e}", ev.token().0);
            }
            if c.done() {
                done += 1;
            }
        }
    }
    let elapsed = start.elapsed();
    // Let the server settle, then measure while every connection is still open.
    std::thread::sleep(Duration::from_millis(500));
    let held = rss_kib(server.0.id());
    let per_conn = (held.saturating_sub(baseline)) as f64 / n as f64;
    eprintln!(
        "scale: {n} connections held; server RSS {baseline} KiB idle, {held} KiB with them: {per_conn:.1} KiB per connection; {:.0} handshakes/s (client and server on the same 2 cores)",
        n as f64 / elapsed.as_secs_f64()
    );
    assert_eq!(done, n);
    assert!(
        held <= baseline + MAX_KIB_PER_CONN * n as u64,
        "{per_conn:.1} KiB per connection"
    );
}
