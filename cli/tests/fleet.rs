//! `serve --session-store redis://...`: two servers sharing one real Redis (Debian's
//! redis-server, started on a free port) resume each other's sessions, refuse a 0-RTT
//! ClientHello replayed from one to the other, rotate ticket keys together, and keep serving
//! full handshakes while Redis is down. Real processes on 127.0.0.1, bounded time. A missing
//! redis-server or openssl fails these tests.

#[path = "support/redis.rs"]
mod redis_support;
mod support;

use redis_support::Redis;
use support::{bin, free_port, vector, Killed};

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sanstls::conn::{ClientSessionStore, FixedClock};
use sanstls::crypto::RandomSource;
use sanstls::pki::{TrustAnchors, WebPkiServerVerifier};
use sanstls::{ClientConfig, Connection, Event};

const DEADLINE: Duration = Duration::from_secs(15);
const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";

/// A scratch directory with a fleet key in it, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("sanstls-fleet-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("fleet.key"), format!("{}\n", "5a".repeat(32))).unwrap();
        Scratch(dir)
    }

    fn path(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A `serve` process of the fleet: its address and its log file.
struct Server {
    _child: Killed,
    addr: String,
    log: PathBuf,
}

impl Server {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The log once it contains `line`, or as it is at the deadline: the server writes a
    /// connection's handshake line when it has processed the client's Finished, which on a
    /// loaded machine can come after the client has moved on.
    fn log_once_it_has(&self, line: &str) -> String {
        let t = Instant::now();
        loop {
            let log = self.log();
            if log.contains(line) || t.elapsed() >= DEADLINE {
                return log;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Starts `sanstls serve` on the fleet's store (`--echo` with `echo`, else HTTP) and waits
/// until it listens.
fn serve(redis_url: &str, dir: &Scratch, name: &str, extra: &[&str]) -> Server {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let log = dir.0.join(format!("{name}.log"));
    let mut args = vec!["serve", "--listen", &addr, "--session-store", redis_url];
    let key = dir.path("fleet.key");
    args.extend_from_slice(&["--fleet-key", &key, "--threads", "1"]);
    args.extend_from_slice(extra);
    let child = Killed(
        Command::new(bin())
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    let t = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t.elapsed() < DEADLINE,
            "serve never listened: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Server {
        _child: child,
        addr,
        log,
    }
}

/// Runs a command with `stdin` (then closed), killed after the deadline: (stdout, stderr).
fn run(cmd: &str, args: &[&str], stdin: &[u8]) -> (String, String) {
    let mut child = Command::new(cmd)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{cmd} is needed: {e}"));
    let _ = child.stdin.take().unwrap().write_all(stdin);
    let t = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if t.elapsed() > DEADLINE {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `openssl s_client` against `addr`, one HTTP request: its stdout (which says "New" or
/// "Reused").
fn s_client(addr: &str, extra: &[&str]) -> String {
    let ca = vector("ca.pem");
    let mut args = vec![
        "s_client",
        "-connect",
        addr,
        "-servername",
        "localhost",
        "-CAfile",
        &ca,
        "-ign_eof",
    ];
    args.extend_from_slice(extra);
    run("openssl", &args, REQUEST).0
}

fn reused(out: &str) -> bool {
    assert!(out.contains("HTTP/1.1 200 OK"), "no answer: {out}");
    out.contains("\nReused, ")
}

/// Under three version settings, a session made on A resumes on B (OpenSSL's session file).
#[test]
fn openssl_sessions_made_on_one_server_resume_on_the_other() {
    let redis = Redis::start();
    let dir = Scratch::new("openssl");
    let a = serve(&redis.url(), &dir, "a", &[]);
    let b = serve(&redis.url(), &dir, "b", &[]);
    let sess = dir.path("sess.pem");
    for (what, flags) in [
        ("TLS 1.3 ticket", &["-tls1_3"][..]),
        ("TLS 1.2 ticket", &["-tls1_2"][..]),
        ("TLS 1.2 session ID", &["-tls1_2", "-no_ticket"][..]),
    ] {
        let mut first = vec!["-sess_out", &sess];
        first.extend_from_slice(flags);
        let out = s_client(&a.addr, &first);
        assert!(!reused(&out), "{what}: first connection resumed? {out}");
        let mut second = vec!["-sess_in", &sess];
        second.extend_from_slice(flags);
        let out = s_client(&b.addr, &second);
        assert!(
            reused(&out),
            "{what}: not resumed on the other server: {out}\n{}",
            b.log()
        );
        // And back: B's session file (it is the same session) opens on A too.
        let out = s_client(&a.addr, &second);
        assert!(
            reused(&out),
            "{what}: not resumed back on the first server: {out}"
        );
    }
    // The control: a server on another store (its own keys, its own cache) resumes nothing.
    let other = Redis::start();
    let c = serve(&other.url(), &dir, "c", &[]);
    let out = s_client(&c.addr, &["-sess_in", &sess, "-tls1_2", "-no_ticket"]);
    assert!(!reused(&out), "a server of another fleet resumed: {out}");
    // Nothing secret in the clear in Redis: every value is sealed; the ring is one key.
    let keys = redis.command("KEYS sanstls:*").unwrap();
    assert!(keys.contains("sanstls:ticket-keys"), "{keys}");
    assert!(keys.contains("sanstls:s12:"), "{keys}");
}

fn handshake_lines(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.starts_with("handshake: ")).collect()
}

#[test]
fn our_client_alternating_between_two_servers_resumes_every_time() {
    let redis = Redis::start();
    let dir = Scratch::new("alternate");
    let a = serve(&redis.url(), &dir, "a", &[]);
    let b = serve(&redis.url(), &dir, "b", &[]);
    let ca = vector("ca.pem");
    for version in ["--tls13", "--tls12"] {
        let args = [
            "connect",
            &a.addr,
            "--also",
            &b.addr,
            "--reconnect",
            "3",
            "--cafile",
            &ca,
            "--sni",
            "localhost",
            version,
        ];
        let (stdout, stderr) = run(bin(), &args, REQUEST);
        let lines = handshake_lines(&stderr);
        assert_eq!(lines.len(), 4, "{version}: {stderr}");
        assert!(lines[0].contains(" resumed=no"), "{version}: {stderr}");
        for l in &lines[1..] {
            assert!(l.contains(" resumed=yes"), "{version}: {stderr}");
        }
        assert!(stdout.contains("resumed=yes"), "{stdout}");
    }
    // Each server made some of the resumed handshakes.
    for s in [&a, &b] {
        let log = s.log_once_it_has("resumed=yes");
        assert!(log.contains("resumed=yes"), "{log}");
    }
}

/// The same bytes every call: two client connections from one config then send the same
/// ClientHello, byte for byte, and each can finish the handshake its copy starts.
#[derive(Debug)]
struct RepeatingRandom;

impl RandomSource for RepeatingRandom {
    fn fill(&self, out: &mut [u8]) -> Result<(), sanstls::Error> {
        for (i, b) in out.iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(151).wrapping_add(7);
        }
        Ok(())
    }
}

fn replay_client() -> Arc<ClientConfig> {
    let anchors = TrustAnchors::from_pem_file(vector("ca.pem")).unwrap();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    ClientConfig::builder(Arc::new(WebPkiServerVerifier::new(anchors)))
        .random(Arc::new(RepeatingRandom))
        // Ticket ages from a stopped clock: the age in both copies is the same.
        .time(Arc::new(FixedClock(now)))
        .session_store(Arc::new(ClientSessionStore::new(4, 4).reuse_tickets(true)))
        .enable_early_data(true)
        .build()
        .unwrap()
}

/// Drives `conn` over `sock` until `done(conn)`, with `first` (the ClientHello flight) sent
/// as given. Returns the plaintext received.
fn drive(conn: &mut Connection, sock: &mut TcpStream, done: impl Fn(&Connection, &[u8]) -> bool) -> Vec<u8> {
    sock.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let mut got = Vec::new();
    let t = Instant::now();
    let mut buf = [0u8; 16384];
    while !done(conn, &got) {
        assert!(
            t.elapsed() < DEADLINE,
            "stalled; got {:?}",
            String::from_utf8_lossy(&got)
        );
        let mut out = Vec::new();
        while conn.write_tls(&mut out).unwrap() > 0 {}
        sock.write_all(&out).unwrap();
        match sock.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let mut rd = &buf[..n];
                while !rd.is_empty() {
                    conn.read_tls(&mut rd).unwrap();
                    conn.process_new_packets().unwrap();
                }
            }
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
            Err(e) => panic!("read: {e}"),
        }
        while let Some(ev) = conn.next_event() {
            if matches!(ev, Event::Data { .. }) {
                let mut b = [0u8; 4096];
                let n = conn.reader().read(&mut b).unwrap_or(0);
                got.extend_from_slice(&b[..n]);
            }
        }
        let mut b = [0u8; 4096];
        let n = conn.reader().read(&mut b).unwrap_or(0);
        got.extend_from_slice(&b[..n]);
    }
    // What the last records made us send (our Finished, say) goes out too.
    let mut out = Vec::new();
    while conn.write_tls(&mut out).unwrap() > 0 {}
    sock.write_all(&out).unwrap();
    got
}

/// The ClientHello and the 0-RTT record after it, as a resuming client sends them.
fn early_flight(conn: &mut Connection, early: &[u8]) -> Vec<u8> {
    let mut w = conn.early_data().expect("the ticket allows 0-RTT");
    assert_eq!(w.write(early).unwrap(), early.len());
    let mut out = Vec::new();
    while conn.write_tls(&mut out).unwrap() > 0 {}
    out
}

#[test]
fn early_data_replayed_to_the_second_server_is_refused_there() {
    let redis = Redis::start();
    let dir = Scratch::new("replay");
    let a = serve(
        &redis.url(),
        &dir,
        "a",
        &["--echo", "--max-early-data", "4096", "--tls13"],
    );
    let b = serve(
        &redis.url(),
        &dir,
        "b",
        &["--echo", "--max-early-data", "4096", "--tls13"],
    );
    let config = replay_client();
    // A ticket from A.
    let mut conn = Connection::client(config.clone(), "localhost").unwrap();
    let mut sock = TcpStream::connect(&a.addr).unwrap();
    conn.writer().write_all(b"ticket please").unwrap();
    drive(&mut conn, &mut sock, |_, got| got == b"ticket please");
    // The NewSessionTickets come before the echo.
    assert!(!conn.is_resumed());
    drop(sock);

    // One early-data ClientHello, made twice: the same bytes.
    let mut first = Connection::client(config.clone(), "localhost").unwrap();
    let flight = early_flight(&mut first, b"GET /once\n");
    let mut copy = Connection::client(config, "localhost").unwrap();
    assert_eq!(
        early_flight(&mut copy, b"GET /once\n"),
        flight,
        "not a byte-for-byte replay"
    );

    // To A: accepted, and echoed.
    let mut sock = TcpStream::connect(&a.addr).unwrap();
    sock.write_all(&flight).unwrap();
    let got = drive(&mut first, &mut sock, |c, got| {
        !c.is_handshaking() && got == b"GET /once\n"
    });
    assert!(
        first.is_resumed() && first.early_data_accepted(),
        "A refused the 0-RTT"
    );
    assert_eq!(got, b"GET /once\n");

    // The same bytes to B: the handshake completes (resumed, B opens A's tickets), the 0-RTT
    // is refused, and only what is sent after the handshake arrives.
    let mut sock = TcpStream::connect(&b.addr).unwrap();
    sock.write_all(&flight).unwrap();
    drive(&mut copy, &mut sock, |c, _| !c.is_handshaking());
    assert!(copy.is_resumed(), "B did not resume");
    assert_eq!(
        copy.early_data_status(),
        Some(false),
        "B accepted a replayed 0-RTT"
    );
    copy.writer().write_all(b"after\n").unwrap();
    let got = drive(&mut copy, &mut sock, |_, got| got == b"after\n");
    assert_eq!(got, b"after\n", "B delivered the replayed early data");
    let log = b.log_once_it_has("early_data=rejected");
    assert!(log.contains("early_data=rejected"), "{log}");
    let log = a.log_once_it_has("early_data=accepted");
    assert!(log.contains("early_data=accepted"), "{log}");
}

fn epoch(period: u64) -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() / period
}

/// Sleeps until `secs` past the start of epoch `e`.
fn sleep_until_epoch(e: u64, period: u64, plus_ms: u64) {
    let target = Duration::from_secs(e * period) + Duration::from_millis(plus_ms);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    if let Some(wait) = target.checked_sub(now) {
        std::thread::sleep(wait);
    }
}

#[test]
fn ticket_keys_rotate_together_and_old_tickets_open_only_in_the_overlap() {
    const PERIOD: u64 = 4;
    let redis = Redis::start();
    let dir = Scratch::new("rotate");
    let period = PERIOD.to_string();
    let a = serve(&redis.url(), &dir, "a", &["--ticket-key-period", &period]);
    let b = serve(&redis.url(), &dir, "b", &["--ticket-key-period", &period]);
    let (s13, s12) = (dir.path("s13.pem"), dir.path("s12.pem"));
    // Sessions made on A inside one epoch (started early in it, so both fit).
    let mut e0 = epoch(PERIOD);
    sleep_until_epoch(e0 + 1, PERIOD, 100);
    e0 += 1;
    assert!(!reused(&s_client(&a.addr, &["-sess_out", &s13, "-tls1_3"])));
    assert!(!reused(&s_client(&a.addr, &["-sess_out", &s12, "-tls1_2"])));
    assert_eq!(epoch(PERIOD), e0, "the first connections took a whole period");
    let ring_before = redis.command("GET sanstls:ticket-keys").unwrap();

    // The next epoch: the key rotated (on both servers, through the store); the tickets
    // sealed under the previous key still open, on either server.
    sleep_until_epoch(e0 + 1, PERIOD, 300);
    assert!(
        reused(&s_client(&b.addr, &["-sess_in", &s13, "-tls1_3"])),
        "TLS 1.3 ticket in the overlap"
    );
    assert!(
        reused(&s_client(&b.addr, &["-sess_in", &s12, "-tls1_2"])),
        "TLS 1.2 ticket in the overlap"
    );
    assert!(reused(&s_client(&a.addr, &["-sess_in", &s13, "-tls1_3"])));
    // A fresh ticket made now (under the new key) opens on the other server.
    let fresh = dir.path("fresh.pem");
    assert!(!reused(&s_client(&b.addr, &["-sess_out", &fresh, "-tls1_3"])));
    assert!(reused(&s_client(&a.addr, &["-sess_in", &fresh, "-tls1_3"])));
    assert_eq!(epoch(PERIOD), e0 + 1, "the overlap checks took a whole period");
    let ring_after = redis.command("GET sanstls:ticket-keys").unwrap();
    assert_ne!(ring_before, ring_after, "the stored ring did not rotate");

    // Two epochs on: the old key is gone everywhere; the session is new.
    sleep_until_epoch(e0 + 2, PERIOD, 300);
    assert!(
        !reused(&s_client(&b.addr, &["-sess_in", &s13, "-tls1_3"])),
        "TLS 1.3 ticket after the overlap"
    );
    assert!(!reused(&s_client(&a.addr, &["-sess_in", &s13, "-tls1_3"])));
    assert!(
        !reused(&s_client(&b.addr, &["-sess_in", &s12, "-tls1_2"])),
        "TLS 1.2 ticket after the overlap"
    );
    // The ticket made in the overlap epoch is in its own overlap now.
    assert!(reused(&s_client(&b.addr, &["-sess_in", &fresh, "-tls1_3"])));
}

/// A 0-RTT attempt with our client against an HTTP `serve`, after a connection that fetches
/// a ticket: (resumed, early data accepted).
fn try_early(addr: &str, config: &Arc<ClientConfig>) -> (bool, Option<bool>) {
    const KEEP_ALIVE: &[u8] = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
    let mut ticket = Connection::client(config.clone(), "localhost").unwrap();
    let mut sock = TcpStream::connect(addr).unwrap();
    ticket.writer().write_all(KEEP_ALIVE).unwrap();
    drive(&mut ticket, &mut sock, |_, got| got.ends_with(b"</html>\n"));
    let mut conn = Connection::client(config.clone(), "localhost").unwrap();
    let mut sock = TcpStream::connect(addr).unwrap();
    let flight = early_flight(&mut conn, KEEP_ALIVE);
    sock.write_all(&flight).unwrap();
    drive(&mut conn, &mut sock, |c, _| !c.is_handshaking());
    (conn.is_resumed(), conn.early_data_status())
}

fn early_config() -> Arc<ClientConfig> {
    let anchors = TrustAnchors::from_pem_file(vector("ca.pem")).unwrap();
    ClientConfig::builder(Arc::new(WebPkiServerVerifier::new(anchors)))
        .enable_early_data(true)
        .build()
        .unwrap()
}

fn session_id_resumes(from: &str, to: &str, sess: &str) -> bool {
    assert!(!reused(&s_client(
        from,
        &["-sess_out", sess, "-tls1_2", "-no_ticket"]
    )));
    reused(&s_client(to, &["-sess_in", sess, "-tls1_2", "-no_ticket"]))
}

#[test]
fn redis_down_means_full_handshakes_and_no_early_data_until_it_is_back() {
    let mut redis = Redis::start();
    let port = redis.port;
    let dir = Scratch::new("outage");
    let flags = ["--max-early-data", "4096"];
    let a = serve(&redis.url(), &dir, "a", &flags);
    let b = serve(&redis.url(), &dir, "b", &flags);
    let sess = dir.path("sess.pem");
    let config = early_config();
    // Up: session IDs resume across, 0-RTT is accepted.
    assert!(session_id_resumes(&a.addr, &b.addr, &sess));
    assert_eq!(try_early(&a.addr, &config), (true, Some(true)));

    redis.kill();
    let t = Instant::now();
    for _ in 0..3 {
        // A fresh client: a full handshake, as always.
        let out = s_client(&a.addr, &["-tls1_3"]);
        assert!(!reused(&out));
        // A session ID made while the store is down resumes nowhere else: full handshake.
        assert!(!session_id_resumes(&a.addr, &b.addr, &sess));
        // A sealed ticket still opens (the servers keep the keys they had), but 0-RTT is
        // refused: nothing can say the ClientHello was not seen elsewhere.
        assert_eq!(try_early(&b.addr, &config), (true, Some(false)));
    }
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "connections waited on the dead store: {:?}",
        t.elapsed()
    );
    for s in [&a, &b] {
        let log = s.log();
        assert_eq!(
            log.matches("unreachable").count(),
            1,
            "one line per outage: {log}"
        );
        assert!(!log.contains("panicked"), "{log}");
    }

    // Back (empty: no persistence): the servers write their keys back, and it all resumes.
    let _redis = Redis::start_on(port);
    let t = Instant::now();
    while !session_id_resumes(&a.addr, &b.addr, &sess) {
        assert!(
            t.elapsed() < DEADLINE,
            "resumption did not come back: {}",
            b.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(try_early(&a.addr, &config), (true, Some(true)));
    assert_eq!(try_early(&b.addr, &config), (true, Some(true)));
    for s in [&a, &b] {
        assert!(s.log().contains("reachable again"), "{}", s.log());
    }
}
