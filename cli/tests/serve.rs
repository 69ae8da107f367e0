//! `sanstls serve` as an operator runs it: limits, timeouts, filters, certificate selection,
//! flow control, graceful shutdown, scale; and `connect --starttls smtp`.
//! Clients are the sanstls library over std sockets (or mio for the scale test).

mod support;
use support::{bin, early_garbage, free_port, have, refused_flood};

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sanstls::codec::AlertDescription;
use sanstls::pki::{TrustAnchors, WebPkiServerVerifier};
use sanstls::{CertifiedKey, ClientConfig, Connection, Error, Event, ServerConfig};

const DEADLINE: Duration = Duration::from_secs(20);

fn vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../vectors")
}

fn v(name: &str) -> String {
    vectors().join(name).to_str().unwrap().to_string()
}

/// A running `sanstls serve`, its log in a file; killed on drop.
struct Server {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

impl Server {
    fn start(extra: &[&str]) -> Server {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let log = std::env::temp_dir().join(format!("sanstls-serve-{}-{port}.log", std::process::id()));
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(bin())
            .args(["serve", "--listen", &listen])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .unwrap();
        let server = Server { child, port, log };
        server.wait_log("listening on");
        server
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (bounded) until the log contains `what`.
    fn wait_log(&self, what: &str) -> String {
        let t = Instant::now();
        loop {
            let log = self.log();
            if log.contains(what) {
                return log;
            }
            assert!(t.elapsed() < DEADLINE, "log never said {what:?}:\n{log}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn rss_kib(&self) -> u64 {
        rss_kib(self.child.id())
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }

    fn wait_exit(&mut self) -> std::process::ExitStatus {
        let t = Instant::now();
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st;
            }
            assert!(t.elapsed() < DEADLINE, "server did not exit:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

fn client_config() -> Arc<ClientConfig> {
    let anchors = TrustAnchors::from_pem_file(vectors().join("ca.pem")).unwrap();
    ClientConfig::builder(Arc::new(WebPkiServerVerifier::new(anchors)))
        .build()
        .unwrap()
}

/// A blocking library client.
struct Client {
    sock: TcpStream,
    tls: Connection,
    events: Vec<Event>,
}

impl Client {
    fn connect(addr: &str, config: Arc<ClientConfig>, sni: &str) -> Client {
        let sock = TcpStream::connect(addr).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        Client {
            sock,
            tls: Connection::client(config, sni).unwrap(),
            events: Vec::new(),
        }
    }

    /// Moves bytes both ways once. Ok(false): EOF.
    fn step(&mut self) -> Result<bool, Error> {
        while self.tls.wants_write() {
            if self.tls.write_tls(&mut self.sock).unwrap_or(0) == 0 {
                break;
            }
        }
        let n = match self.tls.read_tls(&mut self.sock) {
            Ok(n) => n,
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                return Ok(true)
            }
            Err(_) => 0,
        };
        let r = self.tls.process_new_packets();
        self.events.extend(std::iter::from_fn(|| self.tls.next_event()));
        r?;
        Ok(n > 0)
    }

    fn handshake(&mut self) -> Result<(), Error> {
        let t = Instant::now();
        while self.tls.is_handshaking() {
            assert!(t.elapsed() < DEADLINE, "handshake never finished");
            if !self.step()? {
                // The server closed the socket (a refusal before any TLS): no TLS error to
                // report, so the test's stand-in.
                return Err(Error::Internal("EOF during the handshake"));
            }
        }
        // Our Finished goes out too.
        self.step().map(|_| ())
    }

    /// Steps until EOF or PeerClosed; returns the events seen.
    fn until_closed(&mut self) -> Result<(), Error> {
        let t = Instant::now();
        loop {
            assert!(t.elapsed() < DEADLINE, "never closed");
            if self.events.contains(&Event::PeerClosed) || !self.step()? {
                return Ok(());
            }
        }
    }
}

fn connect_cli(server: &Server, extra: &[&str], stdin: &[u8]) -> std::process::Output {
    let ca = v("ca.pem");
    let mut child = Command::new(bin())
        .args(["connect", &server.addr(), "--cafile", &ca])
        .args(extra)
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
    wait_output(child)
}

fn wait_output(mut child: Child) -> std::process::Output {
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

const GET_CLOSE: &[u8] = b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";

#[test]
fn http_requests_with_bare_lf_line_endings_are_answered() {
    // RFC 9112 2.2: a recipient may take a bare LF as a line terminator, as simple clients send
    // it. The idle timeout is short so that a request never recognised fails fast (the server
    // closes with close_notify and no page).
    let server = Server::start(&["--idle-timeout", "3"]);
    let out = connect_cli(&server, &["--sni", "localhost"], b"GET / HTTP/1.0\n\n");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("HTTP/1.1 200 OK\r\n"), "{stdout}");
    // HTTP/1.0 without keep-alive: one answer, then the server closes.
    assert!(stdout.contains("Connection: close\r\n"), "{stdout}");
    server.wait_log("closed: HTTP Connection: close");

    // Two keep-alive requests with LF endings (one with a CR LF header line among them): two
    // answers, the headers read (the second asks to close).
    let requests =
        b"GET / HTTP/1.1\nHost: localhost\n\nGET / HTTP/1.1\nHost: localhost\r\nConnection: close\n\n";
    let out = connect_cli(&server, &["--sni", "localhost"], requests);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.matches("HTTP/1.1 200 OK\r\n").count(), 2, "{stdout}");
    assert_eq!(
        stdout.matches("Connection: keep-alive\r\n").count(),
        1,
        "{stdout}"
    );
    assert_eq!(stdout.matches("Connection: close\r\n").count(), 1, "{stdout}");
}

#[test]
fn block_and_allow_lists_refuse_before_any_tls() {
    let blocked = Server::start(&["--block", "127.0.0.0/8"]);
    let mut c = Client::connect(&blocked.addr(), client_config(), "localhost");
    assert!(c.handshake().is_err());
    blocked.wait_log("refused: blocked by --block");
    assert!(!blocked.log().contains("accepted"));

    let elsewhere = Server::start(&["--allow", "10.0.0.0/8"]);
    let mut c = Client::connect(&elsewhere.addr(), client_config(), "localhost");
    assert!(c.handshake().is_err());
    elsewhere.wait_log("refused: not in --allow");

    let allowed = Server::start(&["--allow", "10.0.0.0/8", "--allow", "127.0.0.1/32"]);
    let mut c = Client::connect(&allowed.addr(), client_config(), "localhost");
    c.handshake().unwrap();
}

#[test]
fn tls12_handshake_line_says_whether_ems_was_used() {
    // RFC 7627 5.4: serve takes a TLS 1.2 client without the extended master secret, as
    // OpenSSL and GnuTLS do; the log line's ems= tells the two apart.
    use sanstls::codec::ProtocolVersion;
    use sanstls::msgs::ClientExtension;
    let server = Server::start(&[]);
    for (strip, word) in [(false, "ems=yes"), (true, "ems=no")] {
        let anchors = TrustAnchors::from_pem_file(vectors().join("ca.pem")).unwrap();
        let mut builder = ClientConfig::builder(Arc::new(WebPkiServerVerifier::new(anchors)))
            .versions(&[ProtocolVersion::TLSv1_2]);
        if strip {
            builder = builder.customize_client_hello(|h| {
                h.extensions
                    .retain(|e| *e != ClientExtension::ExtendedMasterSecret)
            });
        }
        let mut c = Client::connect(&server.addr(), builder.build().unwrap(), "localhost");
        c.handshake().unwrap();
        assert_eq!(c.tls.extended_master_secret(), Some(!strip));
        let log = server.wait_log(&format!(" {word} early_data="));
        assert!(
            log.lines()
                .any(|l| l.contains("handshake: version=TLSv1.2") && l.contains(&format!(" {word} "))),
            "{log}"
        );
    }
}

#[test]
fn max_connections_refuses_with_an_alert_and_frees_slots() {
    let server = Server::start(&["--echo", "--max-connections", "2"]);
    let mut a = Client::connect(&server.addr(), client_config(), "localhost");
    a.handshake().unwrap();
    let mut b = Client::connect(&server.addr(), client_config(), "localhost");
    b.handshake().unwrap();
    let mut c = Client::connect(&server.addr(), client_config(), "localhost");
    match c.handshake() {
        Err(Error::AlertReceived(AlertDescription::InternalError)) => {}
        other => panic!("{other:?}"),
    }
    server.wait_log("refused: --max-connections 2 reached");
    drop(a);
    server.wait_log("closed: peer closed the TCP connection");
    let mut d = Client::connect(&server.addr(), client_config(), "localhost");
    d.handshake().unwrap();
}

#[test]
fn handshake_timeout_closes_a_silent_client() {
    let server = Server::start(&["--handshake-timeout", "0.3"]);
    let mut sock = TcpStream::connect(server.addr()).unwrap();
    sock.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut buf = [0u8; 16];
    // Nothing sent: the server hangs up.
    assert_eq!(sock.read(&mut buf).unwrap_or(0), 0);
    server.wait_log("closed: handshake timeout");
}

#[test]
fn idle_timeout_sends_close_notify() {
    let server = Server::start(&["--echo", "--idle-timeout", "0.3"]);
    let mut c = Client::connect(&server.addr(), client_config(), "localhost");
    c.handshake().unwrap();
    c.until_closed().unwrap();
    assert!(c.events.contains(&Event::PeerClosed), "{:?}", c.events);
    server.wait_log("closed: idle timeout");
}

#[test]
fn certificates_are_chosen_by_sni_and_signature_algorithms() {
    let server = Server::start(&[
        "--cert",
        &v("localhost-ecdsa-p256.pem"),
        "--key",
        &v("localhost-ecdsa-p256.key"),
        "--cert",
        &v("localhost-rsa2048.pem"),
        "--key",
        &v("localhost-rsa2048.key"),
        "--cert",
        &v("other-test-ecdsa-p256.pem"),
        "--key",
        &v("other-test-ecdsa-p256.key"),
    ]);
    // An ECDSA-capable client gets the ECDSA certificate.
    let out = connect_cli(&server, &["--sni", "localhost"], GET_CLOSE);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("sigscheme=ecdsa_secp256r1_sha256"), "{stderr}");
    // A client offering only RSA-PSS gets the RSA certificate.
    let out = connect_cli(
        &server,
        &["--sni", "localhost", "--sigscheme", "rsa_pss_rsae_sha256"],
        GET_CLOSE,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("sigscheme=rsa_pss_rsae_sha256"), "{stderr}");
    // other.test gets its own certificate (the client verifies the name).
    let out = connect_cli(&server, &["--sni", "other.test"], GET_CLOSE);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("sni=other.test"), "{stdout}");
}

#[test]
fn client_certificates_are_required_and_logged() {
    if !have("openssl") {
        return;
    }
    let server = Server::start(&["--client-ca", &v("ca.pem"), "--require-client-cert"]);
    let addr = server.addr();
    let (cert, key, ca) = (
        v("localhost-rsa2048.pem"),
        v("localhost-rsa2048.key"),
        v("ca.pem"),
    );
    let base = [
        "s_client",
        "-connect",
        &addr,
        "-servername",
        "localhost",
        "-CAfile",
        &ca,
        "-quiet",
    ];
    let with = [&base[..], &["-cert", &cert, "-key", &key]].concat();
    let child = spawn_with_stdin("openssl", &with, GET_CLOSE);
    let out = wait_output(child);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("HTTP/1.1 200 OK"));
    server.wait_log("client certificate presented");
    let child = spawn_with_stdin("openssl", &base, GET_CLOSE);
    let out = wait_output(child);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("200 OK"));
    // The client hears why (RFC 8446 4.4.2.4: certificate_required).
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("alert certificate required"), "{stderr}");
    server.wait_log("alert sent: certificate_required");
}

/// Runs `openssl` in `dir`, failing the test if it fails.
fn openssl_in(dir: &std::path::Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn chain_sends_the_intermediates() {
    if !have("openssl") {
        return;
    }
    // vectors/ca.pem -> an intermediate -> a localhost leaf, made for this test.
    let dir = std::env::temp_dir().join(format!("sanstls-chain-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("ext.cnf"),
        "[ica]\nbasicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n\
         subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n\
         [leaf]\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n\
         extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost\n\
         subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n",
    )
    .unwrap();
    let (ca, ca_key) = (v("ca.pem"), v("ca.key"));
    let newkey = ["-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];
    openssl_in(
        &dir,
        &[
            &["req", "-new"][..],
            &newkey,
            &[
                "-keyout",
                "ica.key",
                "-out",
                "ica.csr",
                "-subj",
                "/CN=sanstls test intermediate",
            ],
        ]
        .concat(),
    );
    openssl_in(
        &dir,
        &[
            "x509",
            "-req",
            "-in",
            "ica.csr",
            "-CA",
            &ca,
            "-CAkey",
            &ca_key,
            "-set_serial",
            "7001",
            "-days",
            "30",
            "-extfile",
            "ext.cnf",
            "-extensions",
            "ica",
            "-out",
            "ica.pem",
        ],
    );
    openssl_in(
        &dir,
        &[
            &["req", "-new"][..],
            &newkey,
            &[
                "-keyout",
                "leaf.key",
                "-out",
                "leaf.csr",
                "-subj",
                "/CN=localhost",
            ],
        ]
        .concat(),
    );
    openssl_in(
        &dir,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ica.pem",
            "-CAkey",
            "ica.key",
            "-set_serial",
            "7002",
            "-days",
            "30",
            "-extfile",
            "ext.cnf",
            "-extensions",
            "leaf",
            "-out",
            "leaf.pem",
        ],
    );
    let p = |f: &str| dir.join(f).to_str().unwrap().to_string();
    let s_client = |server: &Server| {
        let addr = server.addr();
        let args = [
            "s_client",
            "-connect",
            &addr,
            "-servername",
            "localhost",
            "-CAfile",
            &ca,
            "-verify_return_error",
            "-showcerts",
            "-ign_eof", // wait for the answer after our request (stdin ends at once)
        ];
        let out = wait_output(spawn_with_stdin("openssl", &args, GET_CLOSE));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };

    let with = Server::start(&[
        "--cert",
        &p("leaf.pem"),
        "--key",
        &p("leaf.key"),
        "--chain",
        &p("ica.pem"),
    ]);
    let out = s_client(&with);
    assert_eq!(out.matches("-----BEGIN CERTIFICATE-----").count(), 2, "{out}");
    assert!(out.contains("1 s:CN = sanstls test intermediate"), "{out}");
    assert!(out.contains("Verify return code: 0 (ok)"), "{out}");
    assert!(out.contains("<h1>sanstls</h1>"), "{out}");

    // Without --chain the client cannot build the path: the intermediate was the missing link.
    let without = Server::start(&["--cert", &p("leaf.pem"), "--key", &p("leaf.key")]);
    let out = s_client(&without);
    assert_eq!(out.matches("-----BEGIN CERTIFICATE-----").count(), 1, "{out}");
    assert!(!out.contains("<h1>sanstls</h1>"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn spawn_with_stdin(cmd: &str, args: &[&str], stdin: &[u8]) -> Child {
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
    child
}

#[test]
fn sigterm_sends_close_notify_and_exits_zero() {
    let mut server = Server::start(&["--echo"]);
    let mut clients: Vec<Client> = (0..3)
        .map(|_| {
            let mut c = Client::connect(&server.addr(), client_config(), "localhost");
            c.handshake().unwrap();
            c
        })
        .collect();
    server.signal("-TERM");
    for c in &mut clients {
        c.until_closed().unwrap();
        assert!(c.events.contains(&Event::PeerClosed), "{:?}", c.events);
    }
    assert!(server.wait_exit().success(), "{}", server.log());
    let log = server.log();
    assert_eq!(log.matches("closed: shutdown").count(), 3, "{log}");
    // Nobody is accepted after the signal.
    assert!(TcpStream::connect(server.addr()).is_err());
}

#[test]
fn the_fatal_alert_reaches_a_client_still_sending() {
    // 256 KiB of application_data records before any handshake: the first one is refused
    // with a fatal unexpected_message (RFC 8446 5.1). Closing with the rest unread would
    // reset the connection and take the alert with it; the server drains first.
    let server = Server::start(&[]);
    let (wrote, got, end) = refused_flood(&server.addr(), early_garbage(256 * 1024));
    // RFC 8446 6.2: alert(21), legacy version, length 2, fatal(2), unexpected_message(10);
    // then a clean end, not a reset, for the reader and the writer.
    assert_eq!(got, [21, 3, 3, 0, 2, 2, 10], "{end:?}");
    assert!(end.is_ok(), "{end:?}");
    assert!(wrote.is_ok(), "{wrote:?}");
    let log = server.wait_log("closed: TLS error");
    assert!(log.contains("alert sent: unexpected_message"), "{log}");
}

#[test]
fn the_drain_after_a_fatal_alert_is_bounded() {
    let server = Server::start(&[]);
    // A peer that goes quiet after its bad record and never closes: the server closes anyway.
    let quiet = TcpStream::connect(server.addr()).unwrap();
    quiet.set_read_timeout(Some(DEADLINE)).unwrap();
    let t = Instant::now();
    (&quiet).write_all(&early_garbage(1)).unwrap();
    let mut alert = [0u8; 7];
    (&quiet).read_exact(&mut alert).unwrap();
    assert_eq!(alert, [21, 3, 3, 0, 2, 2, 10]);
    server.wait_log("closed: TLS error");
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    drop(quiet);

    // A peer that never stops sending: the server reads a bounded amount, then closes; the
    // writer sees its connection end.
    let flood = TcpStream::connect(server.addr()).unwrap();
    let mut w = flood.try_clone().unwrap();
    let t = Instant::now();
    let writer = std::thread::spawn(move || {
        let chunk = early_garbage(64 * 1024);
        let mut sent = 0usize;
        while t.elapsed() < DEADLINE {
            match w.write_all(&chunk) {
                Ok(()) => sent += chunk.len(),
                Err(_) => return Some(sent),
            }
        }
        None
    });
    let sent = writer.join().unwrap();
    assert!(sent.is_some(), "the server never closed");
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    let log = server.wait_log("closed: TLS error");
    assert_eq!(log.matches("closed: TLS error").count(), 2, "{log}");
}

#[test]
fn a_peer_that_does_not_read_is_muted_and_memory_stays_flat() {
    let server = Server::start(&[
        "--echo",
        "--log",
        "debug",
        "--max-buffer",
        "16384",
        "--threads",
        "1",
    ]);
    let mut c = Client::connect(&server.addr(), client_config(), "localhost");
    c.handshake().unwrap();
    c.sock.set_nonblocking(true).unwrap();
    let before = server.rss_kib();
    // Write without reading until the server says it stopped reading from us.
    let total: usize = 256 << 20;
    let byte = |i: usize| (i % 251) as u8;
    let chunk_at = |from: usize| -> Vec<u8> { (from..(from + 16384).min(total)).map(byte).collect() };
    let mut sent = 0;
    let t = Instant::now();
    while !server.log().contains("muted: peer is not reading") {
        assert!(
            t.elapsed() < DEADLINE && sent < total,
            "never muted:\n{}",
            server.log()
        );
        if let Ok(n) = c.tls.writer().write(&chunk_at(sent)) {
            sent += n;
        }
        let mut progress = false;
        while c.tls.wants_write() {
            match c.tls.write_tls(&mut c.sock) {
                Ok(n) if n > 0 => progress = true,
                _ => break,
            }
        }
        if !progress {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    let during = server.rss_kib();
    // The server holds at most its caps; the kernel's socket buffers hold the rest.
    assert!(during < before + 4096, "RSS grew from {before} to {during} KiB");
    // Now read everything back while sending the rest: it all comes back intact.
    c.sock.set_nonblocking(false).unwrap();
    c.sock.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    let total = sent + (1 << 20);
    let mut got = 0;
    let t = Instant::now();
    while got < total {
        assert!(t.elapsed() < DEADLINE * 3, "echoed {got} of {total}");
        if sent < total {
            if let Ok(n) = c.tls.writer().write(&chunk_at(sent)[..16384.min(total - sent)]) {
                sent += n;
            }
        }
        c.step().unwrap();
        let mut buf = [0u8; 16384];
        while let Ok(k) = c.tls.reader().read(&mut buf) {
            if k == 0 {
                break;
            }
            assert!(
                buf[..k].iter().enumerate().all(|(i, b)| *b == byte(got + i)),
                "echo differs at {got}"
            );
            got += k;
        }
    }
    server.wait_log("unmuted");
}

#[test]
fn curl_keeps_the_connection_alive() {
    if !have("curl") {
        return;
    }
    let server = Server::start(&[]);
    let url = format!("https://localhost:{}/", server.port);
    let resolve = format!("localhost:{}:127.0.0.1", server.port);
    let ca = v("ca.pem");
    let args = [
        "-sS",
        "--max-time",
        "10",
        "--cacert",
        &ca,
        "--resolve",
        &resolve,
        &url,
        &url,
        &url,
    ];
    let out = wait_output(spawn_with_stdin("curl", &args, b""));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.matches("<h1>sanstls</h1>").count(), 3, "{stdout}");
    let log = server.wait_log("closed:");
    assert_eq!(log.matches("accepted").count(), 1, "{log}");
    assert_eq!(log.matches("handshake: ").count(), 1, "{log}");
}

#[test]
fn log_records_traces_records_and_handshake_messages() {
    let server = Server::start(&["--log-records"]);
    let out = connect_cli(&server, &["--sni", "localhost"], GET_CLOSE);
    assert!(out.status.success());
    let log = server.wait_log("closed:");
    assert!(log.contains("handshake <- client_hello len="), "{log}");
    assert!(log.contains("handshake -> server_hello len="), "{log}");
    assert!(log.contains("record -> handshake len="), "{log}");
    assert!(log.contains("handshake <- finished len=32 epoch=1"), "{log}");
    assert!(log.contains("record <- application_data len=54 epoch=2"), "{log}");
}

/// A fake SMTP server: greeting, EHLO, STARTTLS, then (unless it injects) TLS with the
/// library, saying hello and closing.
fn fake_smtp(inject: bool) -> (u16, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let h = std::thread::spawn(move || {
        let (mut sock, _) = listener.accept().unwrap();
        sock.set_read_timeout(Some(DEADLINE)).unwrap();
        let line = |sock: &mut TcpStream| {
            let mut l = Vec::new();
            let mut b = [0u8; 1];
            while sock.read(&mut b).unwrap_or(0) == 1 && b[0] != b'\n' {
                l.push(b[0]);
            }
            String::from_utf8_lossy(&l).into_owned()
        };
        sock.write_all(b"220 fake.test ESMTP\r\n").unwrap();
        assert!(line(&mut sock).starts_with("EHLO "));
        sock.write_all(b"250-fake.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n")
            .unwrap();
        assert_eq!(line(&mut sock).trim_end(), "STARTTLS");
        if inject {
            sock.write_all(b"220 go ahead\r\n250 injected\r\n").unwrap();
            let mut rest = Vec::new();
            let _ = sock.read_to_end(&mut rest);
            return;
        }
        sock.write_all(b"220 go ahead\r\n").unwrap();
        let dir = vectors();
        let key = CertifiedKey::from_pem_files(
            dir.join("localhost-ecdsa-p256.pem"),
            dir.join("localhost-ecdsa-p256.key"),
        )
        .unwrap();
        let mut tls = Connection::server(ServerConfig::builder(key).build().unwrap()).unwrap();
        let t = Instant::now();
        while tls.is_handshaking() {
            assert!(t.elapsed() < DEADLINE);
            while tls.write_tls(&mut sock).unwrap() > 0 {}
            if tls.read_tls(&mut sock).unwrap() == 0 {
                return;
            }
            tls.process_new_packets().unwrap();
        }
        tls.writer().write_all(b"hello over tls\n").unwrap();
        tls.send_close_notify();
        while tls.write_tls(&mut sock).unwrap() > 0 {}
    });
    (port, h)
}

fn connect_smtp(port: u16) -> std::process::Output {
    let child = Command::new(bin())
        .args([
            "connect",
            &format!("127.0.0.1:{port}"),
            "--cafile",
            &v("ca.pem"),
            "--sni",
            "localhost",
            "--starttls",
            "smtp",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_output(child)
}

#[test]
fn starttls_smtp_upgrades() {
    let (port, h) = fake_smtp(false);
    let out = connect_smtp(port);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("handshake: version=TLSv1.3"), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello over tls\n");
    h.join().unwrap();
}

#[test]
fn starttls_smtp_refuses_bytes_after_the_go_ahead() {
    let (port, h) = fake_smtp(true);
    let out = connect_smtp(port);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("followed the STARTTLS reply"), "{stderr}");
    assert!(!stderr.contains("handshake:"), "{stderr}");
    assert!(out.stdout.is_empty());
    h.join().unwrap();
}

#[test]
fn blocking_stream_carries_a_megabyte_both_ways_through_serve() {
    let server = Server::start(&["--echo"]);
    let conn = Connection::client(client_config(), "localhost").unwrap();
    let mut tls = sanstls::Stream::new(conn, TcpStream::connect(server.addr()).unwrap());
    tls.sock.set_read_timeout(Some(DEADLINE)).unwrap();
    let chunk: Vec<u8> = (0..16384u32).map(|i| (i % 253) as u8).collect();
    let mut back = vec![0u8; chunk.len()];
    for _ in 0..64 {
        tls.write_all(&chunk).unwrap();
        tls.read_exact(&mut back).unwrap();
        assert!(back == chunk);
    }
    tls.shutdown().unwrap();
    let mut rest = Vec::new();
    tls.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
    let log = server.wait_log("closed:");
    assert!(log.contains("bytes_in=10"), "{log}");
}

#[test]
fn python_ssl_fetches_the_page_twice_on_one_connection() {
    if !have_python() {
        return;
    }
    let server = Server::start(&[]);
    let script = format!(
        r#"
import socket, ssl
ctx = ssl.create_default_context(cafile={ca:?})
with socket.create_connection(("127.0.0.1", {port})) as s:
    with ctx.wrap_socket(s, server_hostname="localhost") as t:
        f = t.makefile("rb")
        for close in (False, True):
            t.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n" + (b"Connection: close\r\n" if close else b"") + b"\r\n")
            n = 0
            while True:
                line = f.readline()
                if line.lower().startswith(b"content-length:"):
                    n = int(line.split(b":")[1])
                if line == b"\r\n":
                    break
            print(f.read(n).decode())
        print(t.version())
"#,
        ca = v("ca.pem"),
        port = server.port
    );
    let out = wait_output(spawn_with_stdin("python3", &["-c", &script], b""));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout.matches("<h1>sanstls</h1>").count(), 2, "{stdout}");
    assert!(stdout.contains("TLSv1.3"), "{stdout}");
    assert_eq!(server.wait_log("closed:").matches("accepted").count(), 1);
}

fn have_python() -> bool {
    let ok = Command::new("python3")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    assert!(
        ok || std::env::var_os("CI").is_none(),
        "python3 is missing under CI"
    );
    ok
}

#[test]
fn gnutls_cli_fetches_the_page() {
    if !have("gnutls-cli") {
        return;
    }
    let server = Server::start(&[]);
    let port = server.port.to_string();
    let ca = v("ca.pem");
    let args = ["--x509cafile", &ca, "--port", &port, "127.0.0.1"];
    let out = wait_output(spawn_with_stdin("gnutls-cli", &args, GET_CLOSE));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("<h1>sanstls</h1>"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("version=TLSv1.3"), "{stdout}");
}

/// True if headless Chromium is installed; under CI a missing browser fails the test.
fn have_chromium() -> bool {
    let ok = Command::new("chromium")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
        && Command::new("certutil")
            .arg("-H")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok();
    assert!(
        ok || std::env::var_os("CI").is_none(),
        "chromium or certutil (libnss3-tools) is missing under CI"
    );
    ok
}

/// Headless Chromium with `home` as its HOME (where its NSS database lives) loading `url`.
fn chromium(home: &std::path::Path, extra: &[&str], url: &str) -> std::process::Output {
    let child = Command::new("chromium")
        .env("HOME", home)
        .args([
            "--headless",
            "--no-sandbox", // we may be root in CI
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--window-size=800,600",
        ])
        .args(extra)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_output(child)
}

/// Headless Chromium (a real browser, so its own ClientHello: GREASE, X25519MLKEM768 and
/// x25519 shares) trusting the test CA loads the page of `serve`, which shows the
/// negotiated group, X25519MLKEM768; without the CA it gets no page.
#[test]
fn headless_chromium_trusting_the_test_ca_renders_the_page() {
    if !have_chromium() {
        return;
    }
    let server = Server::start(&[]);
    let url = format!("https://localhost:{}/", server.port);
    let base = std::env::temp_dir().join(format!("sanstls-chromium-{}", std::process::id()));
    // The test CA is trusted the way a user would: in the NSS database under $HOME/.pki.
    let trusted = base.join("trusted");
    let nssdb = trusted.join(".pki/nssdb");
    std::fs::create_dir_all(&nssdb).unwrap();
    let db = format!("sql:{}", nssdb.display());
    for args in [
        &["-N", "-d", &db, "--empty-password"][..],
        &[
            "-A",
            "-d",
            &db,
            "-t",
            "C,,",
            "-n",
            "sanstls test CA",
            "-i",
            &v("ca.pem"),
        ],
    ] {
        let st = Command::new("certutil").args(args).status().unwrap();
        assert!(st.success(), "certutil {args:?}");
    }

    let out = chromium(&trusted, &["--dump-dom"], &url);
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        dom.contains("<h1>sanstls</h1>"),
        "{dom}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dom.contains("sni=localhost"), "{dom}");
    assert!(dom.contains("version=TLSv1.3"), "{dom}");
    // Chromium offers X25519MLKEM768 first with an x25519 share beside it, and the default
    // server takes the hybrid: the page and the server's log line both name it.
    assert!(dom.contains("group=X25519MLKEM768"), "{dom}");
    let logged = server.wait_log("group=X25519MLKEM768");
    assert!(
        logged.lines().any(|l| l.contains("handshake: version=TLSv1.3")
            && l.contains("group=X25519MLKEM768")
            && l.contains("sni=localhost")),
        "{logged}"
    );

    let shot = base.join("page.png");
    let screenshot = format!("--screenshot={}", shot.display());
    let out = chromium(&trusted, &[&screenshot], &url);
    let png = std::fs::read(&shot)
        .unwrap_or_else(|e| panic!("no screenshot ({e}): {}", String::from_utf8_lossy(&out.stderr)));
    // A PNG of the window's size (IHDR width and height), with more in it than a blank page.
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(&png[12..16], b"IHDR");
    assert_eq!(u32::from_be_bytes(png[16..20].try_into().unwrap()), 800);
    assert_eq!(u32::from_be_bytes(png[20..24].try_into().unwrap()), 600);
    // (Here: a blank 800x600 page is 2.7 KB, this one 12 KB.)
    assert!(png.len() > 6 * 1024, "{} bytes: a blank page?", png.len());

    // Without the CA in its database the browser refuses the certificate: no page.
    let untrusted = base.join("untrusted");
    std::fs::create_dir_all(&untrusted).unwrap();
    let out = chromium(&untrusted, &["--dump-dom"], &url);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("<h1>sanstls</h1>"));
    let log = server.log();
    assert!(log.matches("handshake:").count() >= 2, "{log}");
    let _ = std::fs::remove_dir_all(&base);
}
