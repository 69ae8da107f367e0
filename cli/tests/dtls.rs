//! `sanstls serve --dtls` and `sanstls connect --dtls` over UDP on 127.0.0.1: DTLS 1.3 by
//! default, DTLS 1.2 when a version flag leaves only TLS 1.2, and openssl s_client (DTLS 1.2).

mod support;
use support::have;

use std::io::{Read, Write};
use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(15);

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_sanstls")
}

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

/// The client's `handshake:` line for the default test setup (ECDSA P-256 server, x25519).
const DTLS13_LINE: &str = "handshake: version=DTLSv1.3 suite=TLS_AES_128_GCM_SHA256 group=x25519 \
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
    // The server printed the same parameters for its side.
    wait_for(&server, &format!("{DTLS13_LINE} peer="));
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
