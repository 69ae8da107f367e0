//! `sanstls serve --dtls` and `sanstls connect --dtls` over UDP on 127.0.0.1: DTLS 1.3 by
//! default, DTLS 1.2 when a version flag leaves only TLS 1.2, and openssl s_client (DTLS 1.2).

mod support;
use support::{bin, have};

use std::io::{Read, Write};
use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(15);

fn vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../vectors")
}

fn udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A process killed when dropped, its stderr collected.
struct Server {
    child: Child,
    stderr: Arc<Mutex<Vec<u8>>>,
}

impl Server {
    fn start(args: &[&str]) -> Server {
        let mut child = Command::new(bin())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let mut pipe = child.stderr.take().unwrap();
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        let server = Server { child, stderr };
        let t = Instant::now();
        while !server.stderr().contains("listening on") {
            assert!(t.elapsed() < DEADLINE, "serve --dtls never listened");
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    /// Sends SIGTERM (through kill(1): the tests carry no libc binding).
    fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the server to exit by itself, failing the test after the deadline.
    fn wait_exit(&mut self) -> ExitStatus {
        let t = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(t.elapsed() < DEADLINE, "server still running: {}", self.stderr());
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a command with `stdin`, killing it after the deadline.
fn run(cmd: &str, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(cmd)
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

/// `connect --dtls` to `listen` with the test CA, `--sni localhost`, MTU 1200 and `extra`.
fn connect(listen: &str, extra: &[&str], stdin: &[u8]) -> Output {
    let ca = vectors().join("ca.pem");
    let mut args = vec![
        "connect",
        "--dtls",
        listen,
        "--cafile",
        ca.to_str().unwrap(),
        "--sni",
        "localhost",
        "--mtu",
        "1200",
    ];
    args.extend_from_slice(extra);
    run(bin(), &args, stdin)
}

/// `serve --dtls` on a fresh port with MTU 1200 and `extra`; returns it and its address.
fn serve(extra: &[&str]) -> (Server, String) {
    let listen = format!("127.0.0.1:{}", udp_port());
    let mut args = vec!["serve", "--dtls", "--listen", &listen, "--mtu", "1200"];
    args.extend_from_slice(extra);
    (Server::start(&args), listen)
}

/// Waits until the server's stderr contains `needle`.
fn wait_for(server: &Server, needle: &str) {
    let t = Instant::now();
    while !server.stderr().contains(needle) {
        assert!(t.elapsed() < DEADLINE, "no {needle:?} in {}", server.stderr());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The client's `handshake:` line for the default test setup (ECDSA P-256 server, default
/// groups: the first ClientHello carries only an x25519 share, and the acceptor's cookie
/// HelloRetryRequest asks for X25519MLKEM768, so DTLS 1.3 gets the hybrid too).
const DTLS13_LINE: &str = "handshake: version=DTLSv1.3 suite=TLS_AES_128_GCM_SHA256 group=X25519MLKEM768 \
                           sigscheme=ecdsa_secp256r1_sha256 alpn=- resumed=no";
const DTLS12_LINE: &str = "handshake: version=DTLSv1.2 suite=TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 \
                           group=x25519 sigscheme=ecdsa_secp256r1_sha256 alpn=- resumed=no ems=yes";

/// Both tools enable TLS 1.3 and 1.2 by default, so they negotiate DTLS 1.3; the server
/// answers the cookie-less first ClientHello with a stateless HelloRetryRequest (the
/// acceptor), so this runs the cookie round trip too. The line has no `ems=`, like TLS 1.3's.
#[test]
fn connect_dtls_to_serve_dtls_negotiates_dtls13_and_echoes() {
    let (server, listen) = serve(&[]);
    assert!(
        server.stderr().contains("(DTLS 1.3/1.2, UDP, MTU 1200)"),
        "{}",
        server.stderr()
    );
    let out = connect(&listen, &[], b"hello over DTLS 1.3\n");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.lines().any(|l| l == DTLS13_LINE), "{stderr}");
    assert_eq!(stdout, "hello over DTLS 1.3\n");
    // The server printed the same parameters for its side, and logged the connection's life.
    wait_for(&server, &format!("{DTLS13_LINE} peer="));
    wait_for(&server, "closed: peer sent close_notify");
    let log = server.stderr();
    assert!(log.contains("}: accepted"), "{log}");
    assert!(log.contains("}: close_notify received"), "{log}");
}

/// `--tls12` on either side leaves DTLS 1.2 only: the server's acceptor then answers with a
/// HelloVerifyRequest, and the line ends with `ems=yes`.
#[test]
fn tls12_flag_on_either_side_gives_dtls12() {
    for (client_flags, server_flags) in [(&["--tls12"][..], &[][..]), (&[][..], &["--tls12"][..])] {
        let (server, listen) = serve(server_flags);
        let out = connect(&listen, client_flags, b"hello over DTLS 1.2\n");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "{client_flags:?} {server_flags:?}: {stderr}"
        );
        assert!(stderr.lines().any(|l| l == DTLS12_LINE), "{stderr}");
        assert_eq!(stdout, "hello over DTLS 1.2\n");
        wait_for(&server, &format!("{DTLS12_LINE} peer="));
    }
    let (server, _) = serve(&["--max-version", "1.2"]);
    assert!(server.stderr().contains("(DTLS 1.2, UDP"), "{}", server.stderr());
}

/// The shared TLS flags work over DTLS 1.3: ALPN is negotiated and shown, `--tls13` keeps
/// DTLS 1.3, and `--keylog` writes the TLS 1.3 NSS labels (secrets from the "dtls13" labels).
#[test]
fn dtls13_alpn_tls13_flag_and_keylog() {
    let (server, listen) = serve(&["--alpn", "coap", "--tls13"]);
    assert!(server.stderr().contains("(DTLS 1.3, UDP"), "{}", server.stderr());
    let dir = std::env::temp_dir().join(format!("sanstls-dtls13-keylog-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let keylog = dir.join("keylog.txt");
    let _ = std::fs::remove_file(&keylog);
    let out = connect(
        &listen,
        &["--alpn", "coap", "--tls13", "--keylog", keylog.to_str().unwrap()],
        b"ping\n",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let line = DTLS13_LINE.replace("alpn=-", "alpn=coap");
    assert!(stderr.lines().any(|l| l == line), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ping\n");
    let log = std::fs::read_to_string(&keylog).unwrap();
    for label in [
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
        "SERVER_HANDSHAKE_TRAFFIC_SECRET",
        "CLIENT_TRAFFIC_SECRET_0",
        "SERVER_TRAFFIC_SECRET_0",
    ] {
        assert_eq!(
            log.lines().filter(|l| l.starts_with(label)).count(),
            1,
            "{label}: {log}"
        );
    }
    assert!(!log.contains("CLIENT_RANDOM"), "{log}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A client that speaks only DTLS 1.3 and a server that speaks only DTLS 1.2 share nothing:
/// the server refuses with protocol_version (RFC 8446 4.2.1: supported_versions decides) and
/// the client fails (no `handshake:` line, non-zero exit).
#[test]
fn tls13_client_against_tls12_server_fails() {
    let (server, listen) = serve(&["--tls12"]);
    let out = connect(&listen, &["--tls13"], b"never sent\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("received fatal alert: protocol_version"),
        "{stderr}"
    );
    assert!(!stderr.contains("handshake:"), "{stderr}");
    assert!(out.stdout.is_empty());
    assert!(!server.stderr().contains("handshake:"), "{}", server.stderr());
}

/// Runs a third-party DTLS client (stdin piped, stdout collected) against a default
/// `serve --dtls` (1.3 and 1.2 enabled) until our echo of `ping over DTLS` comes back, then
/// checks the server settled on DTLS 1.2. The client may not leave by itself (s_client waits
/// for our close_notify, which follows only its own; gnutls-cli for its stdin to close), so it
/// is killed after the echo.
/// `args` gets the listen address, its port and the CA file.
fn third_party_client_gets_dtls12(cmd: &str, args: &dyn Fn(&str, &str, &str) -> Vec<String>) {
    let (server, listen) = serve(&[]);
    let ca = vectors().join("ca.pem");
    let port = listen.rsplit(':').next().unwrap().to_string();
    let child = Command::new(cmd)
        .args(args(&listen, &port, ca.to_str().unwrap()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = support::Killed(child);
    child
        .0
        .stdin
        .as_mut()
        .unwrap()
        .write_all(b"ping over DTLS\n")
        .unwrap();
    let mut stdout = child.0.stdout.take().unwrap();
    let got = Arc::new(Mutex::new(Vec::new()));
    let sink = got.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    let t = Instant::now();
    while !String::from_utf8_lossy(&got.lock().unwrap()).contains("ping over DTLS") {
        assert!(
            t.elapsed() < DEADLINE,
            "{cmd}: no echo from serve --dtls; server: {}",
            server.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    wait_for(&server, "handshake: version=DTLSv1.2 ");
}

/// OpenSSL 3.0 has no DTLS 1.3 (nor has GnuTLS 3.7), so `s_client -dtls1_2` and
/// `gnutls-cli --udp` are the interop checks here: the default `serve --dtls` (1.3 and 1.2)
/// settles on DTLS 1.2 with them, through the HelloVerifyRequest cookie exchange.
#[test]
fn openssl_s_client_against_serve_dtls() {
    if !have("openssl") {
        return;
    }
    third_party_client_gets_dtls12("openssl", &|listen, _, ca| {
        [
            "s_client",
            "-dtls1_2",
            "-connect",
            listen,
            "-CAfile",
            ca,
            "-verify_return_error",
            "-mtu",
            "1200",
            "-quiet",
        ]
        .map(String::from)
        .to_vec()
    });
}

#[test]
fn gnutls_cli_against_serve_dtls() {
    if !have("gnutls-cli") {
        return;
    }
    third_party_client_gets_dtls12("gnutls-cli", &|_, port, ca| {
        [
            "--udp",
            "-p",
            port,
            "--x509cafile",
            ca,
            "--mtu",
            "1200",
            "127.0.0.1",
        ]
        .map(String::from)
        .to_vec()
    });
}

/// An in-process DTLS client on its own UDP socket (the library's `DtlsConnection`), for the
/// tests that need a peer to stop at a given point: it sends only its first `sends_left`
/// datagrams and counts what it receives.
struct RawClient {
    sock: UdpSocket,
    conn: sanstls::dtls::DtlsConnection,
    sends_left: usize,
    received: usize,
    buf: Vec<u8>,
}

impl RawClient {
    fn new(listen: &str) -> RawClient {
        let anchors = sanstls::pki::TrustAnchors::from_pem_file(vectors().join("ca.pem")).unwrap();
        let verifier = sanstls::pki::WebPkiServerVerifier::new(anchors);
        let config = sanstls::ClientConfig::builder(Arc::new(verifier))
            .build()
            .unwrap();
        let dtls = sanstls::dtls::DtlsConfig {
            mtu: 1200,
            ..Default::default()
        };
        let conn = sanstls::dtls::DtlsConnection::client(config, "localhost", dtls, Instant::now()).unwrap();
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.connect(listen).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        RawClient {
            sock,
            conn,
            sends_left: usize::MAX,
            received: 0,
            buf: vec![0; 65536],
        }
    }

    /// Sends what the connection has ready (within `sends_left`), takes in one datagram if
    /// one comes soon, and runs the connection's timer.
    fn step(&mut self) {
        self.flush();
        if let Ok(n) = self.sock.recv(&mut self.buf) {
            self.received += 1;
            let _ = self.conn.recv_datagram(&self.buf[..n], Instant::now());
        }
        let now = Instant::now();
        if self.conn.poll_timeout().is_some_and(|t| t <= now) {
            let _ = self.conn.handle_timeout(now);
        }
    }

    /// Sends what the connection has ready (within `sends_left`).
    fn flush(&mut self) {
        while let Some(n) = self.conn.poll_datagram(&mut self.buf) {
            if self.sends_left > 0 {
                self.sends_left -= 1;
                let _ = self.sock.send(&self.buf[..n]);
            }
        }
    }

    /// Steps until `done` holds, failing the test after the deadline.
    fn step_until(&mut self, what: &str, done: impl Fn(&RawClient) -> bool) {
        let t = Instant::now();
        while !done(self) {
            assert!(t.elapsed() < DEADLINE, "{what}: error {:?}", self.conn.error());
            self.step();
        }
    }

    fn handshake(&mut self) {
        self.step_until("handshake", |c| !c.conn.is_handshaking());
        // Our last flight (the DTLS 1.3 client Finished) out now.
        self.flush();
        assert!(self.conn.error().is_none(), "{:?}", self.conn.error());
    }
}

/// `--idle-timeout 1`: a peer silent after its handshake gets the server's close_notify (a
/// verified peer is told) and is forgotten with a `closed: idle timeout` line.
#[test]
fn idle_timeout_sends_close_notify_and_forgets_the_peer() {
    let (server, listen) = serve(&["--idle-timeout", "1"]);
    let mut client = RawClient::new(&listen);
    client.handshake();
    client.step_until("the server's close_notify", |c| c.conn.peer_has_closed());
    wait_for(&server, "closed: idle timeout");
    assert!(server.stderr().contains("}: accepted"), "{}", server.stderr());
}

/// `--handshake-timeout 1`: a client that goes silent after the cookie exchange (it sends its
/// two ClientHellos, then nothing: its Finished never leaves) is dropped, and with
/// `--max-connections 1` its slot is free again for a client that completes.
#[test]
fn handshake_timeout_drops_a_stalled_handshake() {
    let (server, listen) = serve(&["--handshake-timeout", "1", "--max-connections", "1"]);
    let mut stalled = RawClient::new(&listen);
    // Its hellos and nothing after: the first ClientHello, then the second in two datagrams
    // (the cookie retry asks for X25519MLKEM768, whose 1,216-byte share does not fit one
    // 1,200-byte datagram with the rest of the hello).
    stalled.sends_left = 3;
    stalled.step_until("the server's flight", |c| c.received >= 2);
    wait_for(&server, "}: accepted");
    wait_for(&server, "closed: handshake timeout");
    assert!(
        !server.stderr().contains("handshake: version"),
        "{}",
        server.stderr()
    );
    let out = connect(&listen, &[], b"after the stalled one\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "after the stalled one\n");
}

/// `--max-connections 1`: while one peer is held, a second client's hellos are dropped
/// unanswered (`refused:` line); once the first leaves, the second's retransmitted hello gets
/// in and its bytes are echoed.
#[test]
fn max_connections_keeps_a_second_client_out_until_the_first_leaves() {
    let (server, listen) = serve(&["--max-connections", "1"]);
    let mut first = RawClient::new(&listen);
    first.handshake();
    let second = {
        let listen = listen.clone();
        std::thread::spawn(move || connect(&listen, &[], b"second client\n"))
    };
    wait_for(&server, "refused: --max-connections 1 reached");
    assert_eq!(
        server.stderr().matches("}: accepted").count(),
        1,
        "{}",
        server.stderr()
    );
    first.conn.send_close_notify();
    first.step_until("the server's close_notify", |c| c.conn.peer_has_closed());
    let out = second.join().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.lines().any(|l| l == DTLS13_LINE), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "second client\n");
}

/// `--block` and `--allow` are checked before the acceptor: a refused address gets nothing,
/// not even the cookie exchange (it may be spoofed); the server logs the refusal.
#[test]
fn allow_and_block_refuse_without_an_answer() {
    for (flags, why) in [
        (["--block", "127.0.0.1/32"], "refused: blocked by --block"),
        (["--allow", "10.0.0.0/8"], "refused: not in --allow"),
    ] {
        let (server, listen) = serve(&flags);
        let mut client = RawClient::new(&listen);
        client.step();
        wait_for(&server, why);
        // Anything the server had sent would have left before its log line; give loopback a
        // moment anyway.
        for _ in 0..10 {
            client.step();
        }
        assert_eq!(client.received, 0, "{flags:?}");
        assert!(!server.stderr().contains("accepted"), "{}", server.stderr());
    }
    // An address --allow names gets in.
    let (_server, listen) = serve(&["--allow", "127.0.0.0/8", "--block", "10.0.0.0/8"]);
    RawClient::new(&listen).handshake();
}

/// SIGTERM: the server sends close_notify to a connected `connect --dtls` (which answers and
/// exits 0 though its stdin is still open), logs why each peer closed, and exits 0.
#[test]
fn sigterm_sends_close_notify_and_exits_zero() {
    let (mut server, listen) = serve(&["--shutdown-timeout", "5"]);
    let ca = vectors().join("ca.pem");
    let client = Command::new(bin())
        .args([
            "connect",
            "--dtls",
            &listen,
            "--cafile",
            ca.to_str().unwrap(),
            "--sni",
            "localhost",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut client = support::Killed(client);
    // Its stdin stays open: only the server's close_notify ends it.
    let _stdin = client.0.stdin.take();
    wait_for(&server, "handshake: version=DTLSv1.3");
    server.terminate();
    let t = Instant::now();
    let client_status = loop {
        if let Some(status) = client.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            t.elapsed() < DEADLINE,
            "connect --dtls still running: {}",
            server.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(client_status.success(), "{client_status}");
    let status = server.wait_exit();
    let log = server.stderr();
    assert!(status.success(), "{status}: {log}");
    assert!(log.contains("shutting down"), "{log}");
    assert!(log.contains("}: closed: shutdown"), "{log}");
    assert!(log.contains("INFO shut down"), "{log}");
}

/// Options without a meaning over UDP are refused with `--dtls`; `--echo` is accepted (DTLS
/// always echoes).
#[test]
fn tcp_only_options_are_refused_with_dtls() {
    for flags in [
        &["--threads", "2"][..],
        &["--max-early-data", "100"][..],
        &["--http"][..],
    ] {
        let mut args = vec!["serve", "--dtls", "--listen", "127.0.0.1:0"];
        args.extend_from_slice(flags);
        let out = run(bin(), &args, b"");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{flags:?}: {stderr}");
        assert!(stderr.contains("cannot be used with"), "{flags:?}: {stderr}");
    }
    let (_server, listen) = serve(&["--echo"]);
    let out = connect(&listen, &[], b"echo\n");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "echo\n");
}

/// `--max-buffer` is the connection's plaintext cap over DTLS too, and as over TCP it is
/// back-pressure, not the peer's fault: a record is taken while less than the cap waits
/// unread (so one bigger than the cap still gets through), the echo's writes are partial,
/// and nothing fails: 300 bytes through a 100-byte cap come back whole, with no alert.
#[test]
fn max_buffer_caps_plaintext_per_peer() {
    let (server, listen) = serve(&["--max-buffer", "100"]);
    let small = connect(&listen, &[], b"fits in the cap\n");
    assert_eq!(String::from_utf8_lossy(&small.stdout), "fits in the cap\n");
    let big = [b'x'; 300];
    let out = connect(&listen, &[], &big);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(out.stdout, big);
    assert!(!stderr.contains("alert"), "{stderr}");
    // Both peers end with their close_notify; the server never blamed either.
    let t = Instant::now();
    while server.stderr().matches("closed: peer sent close_notify").count() < 2 {
        assert!(t.elapsed() < DEADLINE, "{}", server.stderr());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!server.stderr().contains("alert sent"), "{}", server.stderr());
}

/// SIGTERM with a peer that never answers our close_notify: the server gives up at
/// `--shutdown-timeout`, says so, and still exits 0. The peer did get the close_notify.
#[test]
fn sigterm_with_a_silent_peer_exits_at_the_shutdown_deadline() {
    let (mut server, listen) = serve(&["--shutdown-timeout", "0.5"]);
    let mut client = RawClient::new(&listen);
    client.handshake();
    wait_for(&server, "handshake: version=DTLSv1.3");
    // The client stops answering: it reads the close_notify but sends nothing back.
    client.sends_left = 0;
    server.terminate();
    client.step_until("the server's close_notify", |c| c.conn.peer_has_closed());
    let status = server.wait_exit();
    let log = server.stderr();
    assert!(status.success(), "{status}: {log}");
    assert!(
        log.contains("shutdown deadline: 1 peers did not answer close_notify"),
        "{log}"
    );
    assert!(log.contains("}: closed: shutdown deadline"), "{log}");
}

/// `serve --dtls --cid`: a client that moves to a new source port mid-session (`connect
/// --rebind-after 1`, as a NAT rebinding would) keeps its session: the server finds it by
/// its connection id, moves it once the datagram authenticates, and echoes to the new
/// port; one handshake, no new connection. DTLS 1.3 and (with --tls12) 1.2.
#[test]
fn serve_dtls_cid_follows_a_client_that_changes_its_source_port() {
    for version in [&[][..], &["--tls12"][..]] {
        let (server, listen) = serve(&["--cid", "6"]);
        let ca = vectors().join("ca.pem");
        let mut args = vec![
            "connect",
            "--dtls",
            &listen,
            "--cafile",
            ca.to_str().unwrap(),
            "--sni",
            "localhost",
            "--cid",
            "3",
            "--rebind-after",
            "1",
        ];
        args.extend_from_slice(version);
        let mut child = Command::new(bin())
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let echoed = Arc::new(Mutex::new(Vec::new()));
        let sink = echoed.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        let wait_echo = |want: &str| {
            let t = Instant::now();
            while !String::from_utf8_lossy(&echoed.lock().unwrap()).contains(want) {
                assert!(t.elapsed() < DEADLINE, "no echo of {want:?}");
                std::thread::sleep(Duration::from_millis(20));
            }
        };
        stdin.write_all(b"before the move\n").unwrap();
        wait_echo("before the move\n");
        stdin.write_all(b"after the move\n").unwrap();
        wait_echo("after the move\n");
        drop(stdin);
        let t = Instant::now();
        while child.try_wait().unwrap().is_none() {
            if t.elapsed() > DEADLINE {
                let _ = child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(stderr.contains("rebound to"), "{stderr}");
        wait_for(&server, "closed: peer sent close_notify");
        let log = server.stderr();
        assert_eq!(log.matches("}: peer moved: 127.0.0.1:").count(), 1, "{log}");
        assert_eq!(log.matches("}: accepted").count(), 1, "{version:?}: {log}");
        assert_eq!(log.matches("handshake: version=").count(), 1, "{log}");
    }
}

/// Without `--cid` on the server the same move loses the session: the new port's
/// datagrams belong to no connection (and are no ClientHello), so nothing is echoed.
#[test]
fn serve_dtls_without_cid_does_not_follow_a_moved_client() {
    let (server, listen) = serve(&[]);
    let ca = vectors().join("ca.pem");
    let mut child = Command::new(bin())
        .args([
            "connect",
            "--dtls",
            &listen,
            "--cafile",
            ca.to_str().unwrap(),
            "--sni",
            "localhost",
            "--cid",
            "3",
            "--rebind-after",
            "1",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    stdin.write_all(b"first\n").unwrap();
    let mut buf = [0u8; 64];
    let n = stdout.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"first\n");
    wait_for(&server, "handshake: version=DTLSv1.3");
    stdin.write_all(b"second\n").unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let _ = child.kill();
    let _ = child.wait();
    let log = server.stderr();
    assert!(!log.contains("peer moved"), "{log}");
    assert_eq!(log.matches("}: accepted").count(), 1, "{log}");
}
