//! Resumed handshakes per second against two `sanstls serve` processes sharing one Redis
//! (`--session-store`), and against the same two servers keeping their state in memory, with
//! the Redis round trips each resumed handshake cost.
//!
//! `cargo bench -p sanstls-cli --bench fleet` (20,000 resumed handshakes per case; `--count N`
//! for another number). Under `cargo test` (no `--bench`), a short pass of 200 checks that
//! every case still resumes. Needs redis-server and the `sanstls` binary of this build.
//!
//! One client thread on this machine, sequential connections, each: TCP connect, a resumed
//! handshake (TLS 1.3 ticket, TLS 1.3 ticket with 1 byte of 0-RTT, or TLS 1.2 session ID),
//! one byte echoed (so the next ticket has arrived), close_notify. Against the fleet the
//! connections alternate between the two servers, each resuming the other's session; against
//! the in-memory servers each resumes its own (the same work, without the sharing).

#[path = "../tests/support/redis.rs"]
mod redis_support;

use redis_support::Redis;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sanstls::pki::{TrustAnchors, WebPkiServerVerifier};
use sanstls::{ClientConfig, Connection};

/// A child killed on drop.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn serve(extra: &[&str]) -> (Killed, String) {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut args = vec![
        "serve",
        "--listen",
        &addr,
        "--echo",
        "--threads",
        "1",
        "--tickets",
        "1",
        "--max-early-data",
        "4096",
        "--log",
        "warn",
    ];
    args.extend_from_slice(extra);
    let child = Killed(
        Command::new(env!("CARGO_BIN_EXE_sanstls"))
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let t = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(t.elapsed() < Duration::from_secs(10), "serve never listened");
        std::thread::sleep(Duration::from_millis(20));
    }
    (child, addr)
}

#[derive(Clone, Copy, Debug)]
enum Case {
    Tls13,
    Tls13EarlyData,
    Tls12SessionId,
}

impl Case {
    fn name(self) -> &'static str {
        match self {
            Case::Tls13 => "TLS 1.3 ticket",
            Case::Tls13EarlyData => "TLS 1.3 ticket + 0-RTT",
            Case::Tls12SessionId => "TLS 1.2 session ID",
        }
    }

    fn config(self) -> Arc<ClientConfig> {
        let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../vectors");
        let anchors = TrustAnchors::from_pem_file(dir.join("ca.pem")).unwrap();
        let b = ClientConfig::builder(Arc::new(WebPkiServerVerifier::new(anchors)));
        match self {
            Case::Tls13 => b.versions(&[sanstls::codec::ProtocolVersion::TLSv1_3]),
            Case::Tls13EarlyData => b
                .versions(&[sanstls::codec::ProtocolVersion::TLSv1_3])
                .enable_early_data(true),
            Case::Tls12SessionId => b
                .versions(&[sanstls::codec::ProtocolVersion::TLSv1_2])
                .tickets12(false),
        }
        .build()
        .unwrap()
    }
}

/// One connection: returns whether it resumed (and, with 0-RTT, whether that was accepted).
fn one(config: &Arc<ClientConfig>, addr: &str, case: Case) -> (bool, bool) {
    let mut conn = Connection::client(config.clone(), "localhost").unwrap();
    let mut sock = TcpStream::connect(addr).unwrap();
    sock.set_nodelay(true).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut sent_early = false;
    if let (Case::Tls13EarlyData, Some(mut w)) = (case, conn.early_data()) {
        sent_early = w.write(b"x").unwrap() == 1;
    }
    if !sent_early {
        conn.writer().write_all(b"x").unwrap();
    }
    let mut buf = [0u8; 16384];
    let mut out = Vec::new();
    let mut echoed = false;
    // TLS 1.3: the next connection's ticket (after an accepted 0-RTT, the echo can come
    // before it).
    let mut ticket = matches!(case, Case::Tls12SessionId);
    let mut queued_after_reject = false;
    while !(echoed && ticket) {
        out.clear();
        while conn.write_tls(&mut out).unwrap() > 0 {}
        sock.write_all(&out).unwrap();
        let n = sock.read(&mut buf).unwrap();
        assert!(n > 0, "server closed early");
        let mut rd = &buf[..n];
        while !rd.is_empty() {
            conn.read_tls(&mut rd).unwrap();
            conn.process_new_packets().unwrap();
        }
        while let Some(ev) = conn.next_event() {
            ticket |= ev == sanstls::Event::SessionTicket;
        }
        if sent_early && conn.early_data_status() == Some(false) && !queued_after_reject {
            // Refused 0-RTT: send the byte again after the handshake.
            conn.writer().write_all(b"x").unwrap();
            queued_after_reject = true;
        }
        let mut b = [0u8; 16];
        echoed |= conn.reader().read(&mut b).unwrap_or(0) > 0;
    }
    conn.send_close_notify();
    out.clear();
    while conn.write_tls(&mut out).unwrap() > 0 {}
    let _ = sock.write_all(&out);
    // The server closes first (it keeps the TIME_WAIT, not our ports).
    while matches!(sock.read(&mut buf), Ok(n) if n > 0) {}
    (conn.is_resumed(), conn.early_data_accepted())
}

#[derive(Default)]
struct Figures {
    secs: f64,
    count: usize,
    resumed: usize,
    early: usize,
    /// Each connection's time, microseconds.
    micros: Vec<u64>,
}

impl Figures {
    fn per_sec(&self) -> f64 {
        self.count as f64 / self.secs
    }

    /// The `p`th percentile of connection times, milliseconds.
    fn ms(&mut self, p: usize) -> f64 {
        self.micros.sort_unstable();
        let at = (self.micros.len() * p / 100).min(self.micros.len().saturating_sub(1));
        self.micros.get(at).copied().unwrap_or(0) as f64 / 1000.0
    }
}

/// Two servers, and the client sessions that resume on them: `shared`, one store for both
/// (the connections alternate servers), else one per server.
struct Target<'a> {
    addrs: [&'a str; 2],
    configs: [Arc<ClientConfig>; 2],
}

impl<'a> Target<'a> {
    /// Also makes the first (full) handshake on each server.
    fn new(case: Case, addrs: [&'a str; 2], shared: bool) -> Self {
        let configs = match shared {
            true => {
                let c = case.config();
                [c.clone(), c]
            }
            false => [case.config(), case.config()],
        };
        for i in 0..2 {
            one(&configs[i], addrs[i], case);
        }
        Target { addrs, configs }
    }

    /// `n` connections (an even number keeps the alternation), added to `f`.
    fn run(&self, case: Case, n: usize, f: &mut Figures) {
        let t = Instant::now();
        for i in 0..n {
            let c = Instant::now();
            let (r, e) = one(&self.configs[i % 2], self.addrs[i % 2], case);
            f.micros.push(c.elapsed().as_micros() as u64);
            f.resumed += usize::from(r);
            f.early += usize::from(e);
        }
        f.secs += t.elapsed().as_secs_f64();
        f.count += n;
    }
}

/// Batches per case: the two targets take turns, so a busy spell on the machine falls on both.
const ROUNDS: usize = 10;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let smoke = !args.iter().any(|a| a == "--bench");
    let count = args
        .iter()
        .position(|a| a == "--count")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(if smoke { 200 } else { 20_000 });
    let redis = Redis::start();
    let dir = std::env::temp_dir().join(format!("sanstls-fleet-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = dir.join("fleet.key");
    std::fs::write(&key, "3c".repeat(32)).unwrap();
    let (url, key) = (redis.url(), key.display().to_string());
    let store = ["--session-store", url.as_str(), "--fleet-key", key.as_str()];
    let (_a, a) = serve(&store);
    let (_b, b) = serve(&store);
    let (_c, c) = serve(&[]);
    let (_d, d) = serve(&[]);
    println!(
        "fleet bench: about {count} resumed handshakes per case and target, one client thread{}",
        if smoke { " (smoke pass: cargo test)" } else { "" }
    );
    println!(
        "{:<24} {:>14} {:>14} {:>8} {:>22}",
        "case", "redis hs/s", "memory hs/s", "ratio", "redis cmds / resumed"
    );
    for case in [Case::Tls13, Case::Tls13EarlyData, Case::Tls12SessionId] {
        let fleet_target = Target::new(case, [&a, &b], true);
        let memory_target = Target::new(case, [&c, &d], false);
        let (mut fleet, mut memory, mut cmds) = (Figures::default(), Figures::default(), 0);
        for round in 0..ROUNDS {
            let n = (count * (round + 1) / ROUNDS - count * round / ROUNDS) & !1;
            memory_target.run(case, n, &mut memory);
            let before = redis.info_counter("total_commands_processed");
            fleet_target.run(case, n, &mut fleet);
            cmds += redis.info_counter("total_commands_processed") - before;
        }
        println!(
            "{:<24} {:>14.0} {:>14.0} {:>8.2} {:>22.3}",
            case.name(),
            fleet.per_sec(),
            memory.per_sec(),
            fleet.per_sec() / memory.per_sec(),
            cmds as f64 / fleet.resumed.max(1) as f64
        );
        println!(
            "{:<24} p50/p99 ms: redis {:.2}/{:.2}, memory {:.2}/{:.2}",
            "",
            fleet.ms(50),
            fleet.ms(99),
            memory.ms(50),
            memory.ms(99)
        );
        // Every connection resumed; 0-RTT accepted on every one (each ClientHello is new).
        assert_eq!(
            fleet.resumed,
            count,
            "{}: fleet resumed {} of {count}",
            case.name(),
            fleet.resumed
        );
        assert_eq!(
            memory.resumed,
            count,
            "{}: memory resumed {} of {count}",
            case.name(),
            memory.resumed
        );
        if let Case::Tls13EarlyData = case {
            assert_eq!(
                fleet.early, count,
                "fleet 0-RTT accepted {} of {count}",
                fleet.early
            );
            assert_eq!(memory.early, count);
        }
    }
    println!("(redis cmds include the key ring's background refresh: 3 commands a second per server)");
    let _ = std::fs::remove_dir_all(&dir);
}
