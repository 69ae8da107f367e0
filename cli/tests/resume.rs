//! `connect --reconnect/--early-data/--cert` and `serve --max-early-data/--tickets/--client-ca`
//! as a user runs them: real processes on 127.0.0.1, bounded time.

mod support;
use support::{bin, free_port, have, vector, Killed};

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(15);

/// Starts a server whose stdout goes to `stdout` and waits until it listens.
fn start(cmd: &str, args: &[&str], port: u16, stdout: Stdio) -> Killed {
    let child = Killed(
        Command::new(cmd)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(stdout)
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let t = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(t.elapsed() < DEADLINE, "{cmd} never listened");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

fn serve(extra: &[&str]) -> (Killed, String) {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut args = vec!["serve", "--listen", &addr];
    args.extend_from_slice(extra);
    (start(bin(), &args, port, Stdio::null()), addr)
}

fn connect_args<'a>(addr: &'a str, ca: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["connect", addr, "--cafile", ca, "--sni", "localhost"];
    args.extend_from_slice(extra);
    args
}

/// Runs `sanstls` with `stdin` (then closed), killing it after the deadline.
fn run(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(bin())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The command may exit (refusing its arguments) before it reads its input.
    match child.stdin.take().unwrap().write_all(stdin) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => panic!("writing stdin: {e}"),
        _ => {}
    }
    let t = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if t.elapsed() > DEADLINE {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// Runs `sanstls` with stdin held open until its stdout holds `want` (or the deadline), then
/// a little longer (so that a second copy would show), then kills it: (stdout, stderr).
fn run_until(args: &[&str], want: &[u8]) -> (Vec<u8>, String) {
    run_while(args, |got| !got.windows(want.len()).any(|w| w == want))
}

/// Runs `sanstls` with stdin held open while `waiting(stdout so far)` (up to the deadline),
/// then a little longer, then kills it: (stdout, stderr).
fn run_while(args: &[&str], waiting: impl Fn(&[u8]) -> bool) -> (Vec<u8>, String) {
    let mut child = Killed(
        Command::new(bin())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut out = child.0.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = out.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                return;
            }
        }
    });
    let mut got = Vec::new();
    let t = Instant::now();
    while waiting(&got) && t.elapsed() < DEADLINE {
        if let Ok(chunk) = rx.recv_timeout(Duration::from_millis(100)) {
            got.extend_from_slice(&chunk);
        }
    }
    while let Ok(chunk) = rx.recv_timeout(Duration::from_millis(300)) {
        got.extend_from_slice(&chunk);
    }
    let _ = child.0.kill();
    let mut stderr = String::new();
    child
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    (got, stderr)
}

fn handshake_lines(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.starts_with("handshake: ")).collect()
}

const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";

#[test]
fn reconnect_resumes_each_following_connection() {
    let (_server, addr) = serve(&["--tickets", "1"]);
    let ca = vector("ca.pem");
    let out = run(&connect_args(&addr, &ca, &["--reconnect", "2"]), REQUEST);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let lines = handshake_lines(&stderr);
    assert_eq!(lines.len(), 3, "{stderr}");
    assert!(lines[0].ends_with(" resumed=no early_data=-"), "{stderr}");
    for line in &lines[1..] {
        // A resumed handshake has no certificate, so no signature scheme.
        assert!(line.contains(" sigscheme=- "), "{stderr}");
        assert!(line.ends_with(" resumed=yes early_data=-"), "{stderr}");
    }
    // Only the last connection carries stdin: one page, which shows the resumption too.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.matches("HTTP/1.1 200 OK").count(), 1, "{stdout}");
    assert!(stdout.contains("resumed=yes"), "{stdout}");
}

#[test]
fn no_tickets_means_no_resumption() {
    let (_server, addr) = serve(&["--tickets", "0"]);
    let ca = vector("ca.pem");
    let out = run(&connect_args(&addr, &ca, &["--reconnect", "1"]), REQUEST);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let lines = handshake_lines(&stderr);
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(
        lines.iter().all(|l| l.ends_with(" resumed=no early_data=-")),
        "{stderr}"
    );
}

#[test]
fn tls12_resumes_with_tickets_and_session_ids() {
    // The control for the next test: without --tickets 0, a TLS 1.2 client resumes.
    let (_server, addr) = serve(&[]);
    let ca = vector("ca.pem");
    let out = run(
        &connect_args(&addr, &ca, &["--tls12", "--reconnect", "1"]),
        REQUEST,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let lines = handshake_lines(&stderr);
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(lines[0].contains(" resumed=no"), "{stderr}");
    assert!(
        lines[1].contains("version=TLSv1.2 ") && lines[1].contains(" resumed=yes"),
        "{stderr}"
    );
}

#[test]
fn no_tickets_means_no_tls12_resumption_either() {
    // --tickets 0 turns off every kind of resumption: no RFC 5077 tickets and no session-ID
    // cache, so a TLS 1.2 client (which offers both) gets full handshakes.
    let (_server, addr) = serve(&["--tickets", "0"]);
    let ca = vector("ca.pem");
    let out = run(
        &connect_args(&addr, &ca, &["--tls12", "--reconnect", "2"]),
        REQUEST,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let lines = handshake_lines(&stderr);
    assert_eq!(lines.len(), 3, "{stderr}");
    for line in &lines {
        assert!(
            line.contains("version=TLSv1.2 ") && line.contains(" resumed=no"),
            "{stderr}"
        );
    }
}

fn early_file(name: &str, data: &[u8]) -> PathBuf {
    let path = std::env::temp_dir().join(format!("sanstls-{name}-{}", std::process::id()));
    std::fs::write(&path, data).unwrap();
    path
}

#[test]
fn early_data_is_accepted_and_echoed_by_serve() {
    let (_server, addr) = serve(&["--max-early-data", "1024", "--echo"]);
    let ca = vector("ca.pem");
    let data = b"zero round trip\n";
    let file = early_file("early-echo", data);
    let args = connect_args(
        &addr,
        &ca,
        &["--reconnect", "1", "--early-data", file.to_str().unwrap()],
    );
    let (stdout, stderr) = run_until(&args, data);
    let _ = std::fs::remove_file(&file);
    let lines = handshake_lines(&stderr);
    assert_eq!(lines.len(), 2, "{stderr}");
    // The first connection has no ticket yet: no 0-RTT.
    assert!(lines[0].ends_with(" resumed=no early_data=-"), "{stderr}");
    assert!(lines[1].ends_with(" resumed=yes early_data=accepted"), "{stderr}");
    // Sent once, as 0-RTT on the resumed connection, and echoed once.
    assert_eq!(stdout, data, "{}", String::from_utf8_lossy(&stdout));
}

#[test]
fn early_data_the_ticket_does_not_allow_is_sent_after_the_handshake() {
    // Without --max-early-data the tickets allow no 0-RTT: the client resumes without it and
    // sends FILE as ordinary data once the handshake is done.
    let (_server, addr) = serve(&["--echo"]);
    let ca = vector("ca.pem");
    let data = b"sent after the handshake\n";
    let file = early_file("early-none", data);
    let args = connect_args(
        &addr,
        &ca,
        &["--reconnect", "1", "--early-data", file.to_str().unwrap()],
    );
    let (stdout, stderr) = run_until(&args, data);
    let _ = std::fs::remove_file(&file);
    let lines = handshake_lines(&stderr);
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(lines[1].ends_with(" resumed=yes early_data=-"), "{stderr}");
    assert_eq!(stdout, data, "{}", String::from_utf8_lossy(&stdout));
}

/// 27 bytes, for a 10-byte 0-RTT limit.
const EARLY_27: &[u8] = b"0123456789abcdefghijklmnop\n";

#[test]
fn early_data_beyond_the_tickets_limit_follows_the_handshake() {
    // The ticket allows 10 bytes of 0-RTT: those go early, the other 17 after the handshake,
    // in order, each once.
    let (_server, addr) = serve(&["--echo", "--max-early-data", "10"]);
    let ca = vector("ca.pem");
    let file = early_file("early-part", EARLY_27);
    let args = connect_args(
        &addr,
        &ca,
        &["--reconnect", "1", "--early-data", file.to_str().unwrap()],
    );
    let (stdout, stderr) = run_until(&args, EARLY_27);
    let _ = std::fs::remove_file(&file);
    let lines = handshake_lines(&stderr);
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(lines[1].ends_with(" resumed=yes early_data=accepted"), "{stderr}");
    assert_eq!(stdout, EARLY_27, "{}", String::from_utf8_lossy(&stdout));
    assert!(stderr.contains("early data: 10 of 27 bytes as 0-RTT"), "{stderr}");
}

#[test]
fn early_data_refused_after_hello_retry_is_resent_once() {
    // The server wants secp384r1, which the client does not send a key share for: a
    // HelloRetryRequest, and with it the 0-RTT refused (RFC 8446 4.2.10). The 10 bytes sent
    // early are resent ahead of the 17 that did not fit: the file arrives once, in order.
    let (_server, addr) = serve(&["--echo", "--max-early-data", "10", "--group", "secp384r1"]);
    let ca = vector("ca.pem");
    let file = early_file("early-hrr", EARLY_27);
    let args = connect_args(
        &addr,
        &ca,
        &["--reconnect", "1", "--early-data", file.to_str().unwrap()],
    );
    let (stdout, stderr) = run_until(&args, EARLY_27);
    let _ = std::fs::remove_file(&file);
    let lines = handshake_lines(&stderr);
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(lines[1].ends_with(" resumed=yes early_data=rejected"), "{stderr}");
    assert_eq!(stdout, EARLY_27, "{}", String::from_utf8_lossy(&stdout));
}

/// `openssl s_server -tls1_3 -early_data` with its stdout (what it received) in a file:
/// (server, address, log file).
fn s_server_early(name: &str) -> (Killed, String, PathBuf) {
    assert!(have("openssl"), "openssl is needed for this test");
    let port = free_port();
    let port_s = port.to_string();
    let log = std::env::temp_dir().join(format!("sanstls-{name}-{}", std::process::id()));
    let log_file = std::fs::File::create(&log).unwrap();
    let (cert, key) = (vector("localhost-rsa2048.pem"), vector("localhost-rsa2048.key"));
    let server = start(
        "openssl",
        &[
            "s_server",
            "-tls1_3",
            "-early_data",
            "-accept",
            &port_s,
            "-cert",
            &cert,
            "-key",
            &key,
        ],
        port,
        Stdio::from(log_file),
    );
    (server, format!("127.0.0.1:{port}"), log)
}

/// The log file once it contains `what` (or at the deadline), then removed.
fn read_log_when(log: &PathBuf, what: &str) -> String {
    let t = Instant::now();
    let mut out = String::new();
    while t.elapsed() < DEADLINE {
        out = std::fs::read_to_string(log).unwrap_or_default();
        if out.contains(what) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = std::fs::remove_file(log);
    out
}

#[test]
fn early_data_accepted_by_openssl_server() {
    let (_server, addr, log) = s_server_early("oss-early");
    let data = b"early to openssl\n";
    let file = early_file("early-oss", data);
    let ca = vector("ca.pem");
    let args = connect_args(
        &addr,
        &ca,
        &["--reconnect", "1", "--early-data", file.to_str().unwrap()],
    );
    let out = run(&args, b"");
    let _ = std::fs::remove_file(&file);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines = handshake_lines(&stderr);
    // The last connection waits for the server (s_server does not close): killed at the
    // deadline, so no exit status to check; the lines are what matters.
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(lines[0].ends_with(" resumed=no early_data=-"), "{stderr}");
    assert!(lines[1].ends_with(" resumed=yes early_data=accepted"), "{stderr}");
    let server_out = read_log_when(&log, "early to openssl");
    assert!(server_out.contains("Early data received"), "{server_out}");
    assert!(server_out.contains("early to openssl"), "{server_out}");
}

#[test]
fn early_data_goes_on_the_last_connection_only() {
    // With --reconnect 2 the second connection resumes too and could carry 0-RTT; FILE goes
    // once, on the last connection (the one that also carries stdin).
    let (_server, addr, log) = s_server_early("oss-once");
    let data = b"sent once\n";
    let file = early_file("early-once", data);
    let ca = vector("ca.pem");
    let args = connect_args(
        &addr,
        &ca,
        &["--reconnect", "2", "--early-data", file.to_str().unwrap()],
    );
    let received = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("sent once")
    };
    let (_, stderr) = run_while(&args, |_| !received());
    let _ = std::fs::remove_file(&file);
    let lines = handshake_lines(&stderr);
    assert_eq!(lines.len(), 3, "{stderr}");
    assert!(lines[2].ends_with(" resumed=yes early_data=accepted"), "{stderr}");
    let server_out = read_log_when(&log, "sent once");
    assert_eq!(server_out.matches("sent once").count(), 1, "{server_out}");
}

#[test]
fn client_certificate_is_required_and_accepted() {
    let ca = vector("ca.pem");
    let (_server, addr) = serve(&["--echo", "--client-ca", &ca, "--require-client-cert"]);
    let (cert, key) = (vector("localhost-ed25519.pem"), vector("localhost-ed25519.key"));
    let args = connect_args(&addr, &ca, &["--cert", &cert, "--key", &key]);
    let (stdout, stderr) = {
        let mut child = Killed(
            Command::new(bin())
                .args(&args)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        );
        child
            .0
            .stdin
            .as_mut()
            .unwrap()
            .write_all(b"authenticated\n")
            .unwrap();
        let mut got = [0u8; 14];
        child.0.stdout.as_mut().unwrap().read_exact(&mut got).unwrap();
        let _ = child.0.kill();
        let mut stderr = String::new();
        child
            .0
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        (got, stderr)
    };
    assert_eq!(&stdout, b"authenticated\n");
    assert_eq!(handshake_lines(&stderr).len(), 1, "{stderr}");
}

#[test]
fn missing_client_certificate_gets_certificate_required() {
    let ca = vector("ca.pem");
    let (_server, addr) = serve(&["--echo", "--client-ca", &ca, "--require-client-cert"]);
    let out = run(&connect_args(&addr, &ca, &[]), b"no cert\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(out.stdout.is_empty());
    assert!(
        stderr.contains("received fatal alert: certificate_required"),
        "{stderr}"
    );
}
