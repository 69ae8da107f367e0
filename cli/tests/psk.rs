//! External PSKs and the AES-CCM suites against OpenSSL and GnuTLS, as real processes on
//! 127.0.0.1: `sanstls connect` against `openssl s_server` / `gnutls-serv`, and
//! `openssl s_client` / `gnutls-cli` against `sanstls serve`, over DTLS 1.2 (UDP) and TLS
//! (TCP). Each run carries data both ways. A missing peer tool fails the test.

mod support;
use support::{bin, free_port, need, vector};

use std::io::{Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(20);
const IDENTITY: &str = "client1";
const KEY_HEX: &str = "00112233445566778899aabbccddeeff";

/// A child process with its stdin held open and its stdout and stderr collected; killed and
/// reaped when dropped.
struct Proc {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    out: Arc<Mutex<Vec<u8>>>,
}

fn collect(mut from: impl Read + Send + 'static, into: Arc<Mutex<Vec<u8>>>) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 {
                break;
            }
            into.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
}

impl Proc {
    fn start(cmd: &str, args: &[String]) -> Proc {
        let mut child = Command::new(cmd)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{cmd}: {e}"));
        let out = Arc::new(Mutex::new(Vec::new()));
        collect(child.stdout.take().unwrap(), out.clone());
        collect(child.stderr.take().unwrap(), out.clone());
        Proc {
            name: format!("{cmd} {}", args.join(" ")),
            stdin: child.stdin.take(),
            child,
            out,
        }
    }

    fn output(&self) -> String {
        String::from_utf8_lossy(&self.out.lock().unwrap()).into_owned()
    }

    /// Waits until the output (stdout and stderr) contains `needle`.
    fn wait_for(&self, needle: &str) {
        let t = Instant::now();
        while !self.output().contains(needle) {
            assert!(
                t.elapsed() < DEADLINE,
                "no {needle:?} from `{}`:\n{}",
                self.name,
                self.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn send(&mut self, text: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(text.as_bytes()).unwrap();
        stdin.flush().unwrap();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// Data both ways between a client and a server that print what they receive: the client
/// sends a line, the server prints it, the server sends one back, the client prints it.
fn exchange(client: &mut Proc, server: &mut Proc) {
    client.send("ping from the client\n");
    server.wait_for("ping from the client");
    server.send("pong from the server\n");
    client.wait_for("pong from the server");
}

/// `sanstls connect` to `addr` (over DTLS with `dtls`) with `extra` flags.
fn sanstls_connect(addr: &str, dtls: bool, extra: &[&str]) -> Proc {
    let mut args = vec!["connect", addr];
    if dtls {
        args.push("--dtls");
    }
    args.extend_from_slice(extra);
    Proc::start(bin(), &strings(&args))
}

fn psk_flags() -> Vec<&'static str> {
    vec!["--psk-identity", IDENTITY, "--psk", KEY_HEX]
}

/// `openssl s_server` with PSK only (no certificate) and `cipher`.
fn openssl_psk_server(port: u16, dtls: bool, cipher: &str) -> Proc {
    need("openssl");
    let port = port.to_string();
    let mut args = vec![
        "s_server",
        "-accept",
        &port,
        "-nocert",
        "-psk",
        KEY_HEX,
        "-psk_identity",
        IDENTITY,
    ];
    args.extend_from_slice(if dtls { &["-dtls1_2"] } else { &["-tls1_2"] });
    args.extend_from_slice(&["-cipher", cipher]);
    let p = Proc::start("openssl", &strings(&args));
    p.wait_for("ACCEPT");
    p
}

/// Our client against `openssl s_server`: the suite, the identity, data both ways.
fn connect_to_openssl_psk(dtls: bool, cipher: &str, suite: &str) {
    let port = free_port();
    let mut server = openssl_psk_server(port, dtls, cipher);
    let addr = format!("127.0.0.1:{port}");
    let mut flags = psk_flags();
    flags.extend_from_slice(&["--suite", suite]);
    let mut client = sanstls_connect(&addr, dtls, &flags);
    let version = if dtls { "DTLSv1.2" } else { "TLSv1.2" };
    client.wait_for(&format!("handshake: version={version} suite={suite} "));
    client.wait_for(&format!("psk={IDENTITY}"));
    exchange(&mut client, &mut server);
}

#[test]
fn connect_dtls_psk_ccm8_to_openssl() {
    connect_to_openssl_psk(true, "PSK-AES128-CCM8", "TLS_PSK_WITH_AES_128_CCM_8");
}

#[test]
fn connect_dtls_psk_gcm_to_openssl() {
    connect_to_openssl_psk(true, "PSK-AES128-GCM-SHA256", "TLS_PSK_WITH_AES_128_GCM_SHA256");
}

#[test]
fn connect_dtls_ecdhe_psk_chacha_to_openssl() {
    connect_to_openssl_psk(
        true,
        "ECDHE-PSK-CHACHA20-POLY1305",
        "TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256",
    );
}

#[test]
fn connect_tls_psk_ccm8_to_openssl() {
    connect_to_openssl_psk(false, "PSK-AES128-CCM8", "TLS_PSK_WITH_AES_128_CCM_8");
}

/// A PSK file of `identity:hexkey` lines in a fresh temporary directory.
fn psk_file() -> (std::path::PathBuf, String) {
    let dir = std::env::temp_dir().join(format!("sanstls-psk-{}-{}", std::process::id(), free_port()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("psk.txt");
    std::fs::write(&path, format!("other:0102\n{IDENTITY}:{KEY_HEX}\n")).unwrap();
    let s = path.display().to_string();
    (dir, s)
}

/// `sanstls serve` (an echo server) with the PSK file and `extra`; returns it and its port.
fn sanstls_serve(dtls: bool, extra: &[&str]) -> (Proc, u16) {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut args = vec!["serve", "--listen", &listen];
    if dtls {
        args.push("--dtls");
    } else {
        args.push("--echo");
    }
    args.extend_from_slice(extra);
    let p = Proc::start(bin(), &strings(&args));
    p.wait_for("listening on");
    (p, port)
}

/// `openssl s_client` with `flags` against our echo server: the echo is the data both ways.
fn openssl_client_against_serve(dtls: bool, serve_flags: &[&str], client_flags: &[&str], line: &str) {
    need("openssl");
    let (server, port) = sanstls_serve(dtls, serve_flags);
    let connect = format!("127.0.0.1:{port}");
    let mut args = vec!["s_client", "-connect", &connect, "-quiet"];
    if dtls {
        args.extend_from_slice(&["-dtls1_2", "-mtu", "1200"]);
    }
    args.extend_from_slice(client_flags);
    let mut client = Proc::start("openssl", &strings(&args));
    client.send("ping through sanstls\n");
    // The echo came back through the server.
    let t = Instant::now();
    while client.output().matches("ping through sanstls").count() < 1 {
        assert!(
            t.elapsed() < DEADLINE,
            "no echo:\n{}\nserver:\n{}",
            client.output(),
            server.output()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    server.wait_for(line);
}

#[test]
fn openssl_s_client_dtls_psk_ccm8_against_serve() {
    let (dir, file) = psk_file();
    openssl_client_against_serve(
        true,
        &["--psk-file", &file],
        &["-psk", KEY_HEX, "-psk_identity", IDENTITY, "-cipher", "PSK-AES128-CCM8"],
        &format!("handshake: version=DTLSv1.2 suite=TLS_PSK_WITH_AES_128_CCM_8 group=- sigscheme=- alpn=- resumed=no ems=yes psk={IDENTITY}"),
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn openssl_s_client_dtls_psk_gcm_against_serve() {
    let (dir, file) = psk_file();
    openssl_client_against_serve(
        true,
        &["--psk-file", &file, "--psk-hint", "sanstls"],
        &["-psk", KEY_HEX, "-psk_identity", IDENTITY, "-cipher", "PSK-AES128-GCM-SHA256"],
        &format!("suite=TLS_PSK_WITH_AES_128_GCM_SHA256 group=- sigscheme=- alpn=- resumed=no ems=yes psk={IDENTITY}"),
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn openssl_s_client_tls_ecdhe_psk_against_serve() {
    let (dir, file) = psk_file();
    openssl_client_against_serve(
        false,
        &["--psk-file", &file],
        &["-tls1_2", "-psk", KEY_HEX, "-psk_identity", IDENTITY, "-cipher", "ECDHE-PSK-CHACHA20-POLY1305"],
        &format!("suite=TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256 group=x25519 sigscheme=- alpn=- resumed=no ems=yes psk={IDENTITY}"),
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// An identity the server does not know: OpenSSL reports our unknown_psk_identity alert.
#[test]
fn openssl_s_client_unknown_identity_gets_unknown_psk_identity() {
    need("openssl");
    let (dir, file) = psk_file();
    let (server, port) = sanstls_serve(true, &["--psk-file", &file]);
    let connect = format!("127.0.0.1:{port}");
    let client = Proc::start(
        "openssl",
        &strings(&[
            "s_client",
            "-connect",
            &connect,
            "-dtls1_2",
            "-psk",
            KEY_HEX,
            "-psk_identity",
            "stranger",
            "-cipher",
            "PSK-AES128-CCM8",
        ]),
    );
    client.wait_for("alert unknown psk identity");
    drop(server);
    std::fs::remove_dir_all(dir).unwrap();
}

/// A wrong key: the client's Finished does not deprotect, and OpenSSL reports our
/// bad_record_mac alert.
#[test]
fn openssl_s_client_wrong_key_gets_bad_record_mac() {
    need("openssl");
    let (dir, file) = psk_file();
    let (_server, port) = sanstls_serve(false, &["--psk-file", &file]);
    let connect = format!("127.0.0.1:{port}");
    let client = Proc::start(
        "openssl",
        &strings(&[
            "s_client",
            "-connect",
            &connect,
            "-tls1_2",
            "-psk",
            "ffeeddccbbaa99887766554433221100",
            "-psk_identity",
            IDENTITY,
            "-cipher",
            "PSK-AES128-GCM-SHA256",
        ]),
    );
    client.wait_for("alert bad record mac");
    std::fs::remove_dir_all(dir).unwrap();
}

/// Our client with a wrong key: OpenSSL's s_server cannot open our Finished and answers
/// with bad_record_mac, which we report. (s_server warns about an unexpected identity but
/// goes on with its one key, so only the key decides there.)
#[test]
fn connect_with_wrong_key_to_openssl_gets_bad_record_mac() {
    let port = free_port();
    let _server = openssl_psk_server(port, false, "PSK-AES128-CCM8");
    let addr = format!("127.0.0.1:{port}");
    let client = sanstls_connect(
        &addr,
        false,
        &[
            "--psk-identity",
            IDENTITY,
            "--psk",
            "ffeeddccbbaa99887766554433221100",
            "--suite",
            "TLS_PSK_WITH_AES_128_CCM_8",
        ],
    );
    client.wait_for("received fatal alert: bad_record_mac");
}

#[test]
fn gnutls_cli_dtls_psk_ccm8_against_serve() {
    need("gnutls-cli");
    let (dir, file) = psk_file();
    let (server, port) = sanstls_serve(true, &["--psk-file", &file]);
    let port_s = port.to_string();
    let mut client = Proc::start(
        "gnutls-cli",
        &strings(&[
            "--udp",
            "-p",
            &port_s,
            "--pskusername",
            IDENTITY,
            "--pskkey",
            KEY_HEX,
            "--priority",
            "NORMAL:-VERS-ALL:+VERS-DTLS1.2:-KX-ALL:+PSK:-CIPHER-ALL:+AES-128-CCM-8",
            "127.0.0.1",
        ]),
    );
    client.wait_for("Handshake was completed");
    client.send("ping through sanstls\n");
    let t = Instant::now();
    while client.output().matches("ping through sanstls").count() < 1 {
        assert!(
            t.elapsed() < DEADLINE,
            "no echo:\n{}\nserver:\n{}",
            client.output(),
            server.output()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    server.wait_for(&format!(
        "suite=TLS_PSK_WITH_AES_128_CCM_8 group=- sigscheme=- alpn=- resumed=no ems=yes psk={IDENTITY}"
    ));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn connect_dtls_psk_ccm8_to_gnutls_serv() {
    need("gnutls-serv");
    let (dir, file) = psk_file();
    let port = free_port();
    let port_s = port.to_string();
    let server = Proc::start(
        "gnutls-serv",
        &strings(&[
            "--udp",
            "-p",
            &port_s,
            "--echo",
            "--pskpasswd",
            &file,
            "--priority",
            "NORMAL:-VERS-ALL:+VERS-DTLS1.2:-KX-ALL:+PSK:-CIPHER-ALL:+AES-128-CCM-8",
        ]),
    );
    server.wait_for("listening");
    let addr = format!("127.0.0.1:{port}");
    let mut flags = psk_flags();
    flags.extend_from_slice(&["--suite", "TLS_PSK_WITH_AES_128_CCM_8"]);
    let mut client = sanstls_connect(&addr, true, &flags);
    client.wait_for("handshake: version=DTLSv1.2 suite=TLS_PSK_WITH_AES_128_CCM_8 ");
    // gnutls-serv --echo sends back what it receives: data both ways.
    client.send("ping through gnutls\n");
    client.wait_for("ping through gnutls");
    drop(server);
    std::fs::remove_dir_all(dir).unwrap();
}

/// ECDHE_ECDSA with AES-128-CCM_8 (RFC 7251) over DTLS 1.2, both ways, and with CCM (16-byte
/// tag) over TLS 1.2.
#[test]
fn ecdhe_ecdsa_ccm8_against_openssl_both_ways() {
    need("openssl");
    for (dtls, cipher, suite) in [
        (
            true,
            "ECDHE-ECDSA-AES128-CCM8",
            "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8",
        ),
        (
            false,
            "ECDHE-ECDSA-AES128-CCM",
            "TLS_ECDHE_ECDSA_WITH_AES_128_CCM",
        ),
    ] {
        // Our client, OpenSSL's server.
        let port = free_port();
        let port_s = port.to_string();
        let cert = vector("localhost-ecdsa-p256.pem");
        let key = vector("localhost-ecdsa-p256.key");
        let mut args = vec![
            "s_server", "-accept", &port_s, "-cert", &cert, "-key", &key, "-cipher", cipher,
        ];
        args.push(if dtls { "-dtls1_2" } else { "-tls1_2" });
        let mut server = Proc::start("openssl", &strings(&args));
        server.wait_for("ACCEPT");
        let addr = format!("127.0.0.1:{port}");
        let ca = vector("ca.pem");
        let mut client = sanstls_connect(
            &addr,
            dtls,
            &["--cafile", &ca, "--sni", "localhost", "--tls12", "--suite", suite],
        );
        client.wait_for(&format!("suite={suite} "));
        exchange(&mut client, &mut server);
        drop(client);
        drop(server);
        // OpenSSL's client, our server.
        openssl_client_against_serve(
            dtls,
            &["--suite", suite],
            &[
                "-tls1_2",
                "-cipher",
                cipher,
                "-CAfile",
                &ca,
                "-verify_return_error",
            ][usize::from(dtls)..],
            &format!("suite={suite} "),
        );
    }
}

/// TLS 1.3 AES-128-CCM and CCM_8 (RFC 8446 B.4) with OpenSSL over TLS, both ways.
#[test]
fn tls13_ccm_against_openssl_both_ways() {
    need("openssl");
    let ca = vector("ca.pem");
    for suite in ["TLS_AES_128_CCM_SHA256", "TLS_AES_128_CCM_8_SHA256"] {
        let port = free_port();
        let port_s = port.to_string();
        let cert = vector("localhost-ecdsa-p256.pem");
        let key = vector("localhost-ecdsa-p256.key");
        let mut server = Proc::start(
            "openssl",
            &strings(&[
                "s_server",
                "-accept",
                &port_s,
                "-cert",
                &cert,
                "-key",
                &key,
                "-tls1_3",
                "-ciphersuites",
                suite,
            ]),
        );
        server.wait_for("ACCEPT");
        let addr = format!("127.0.0.1:{port}");
        let mut client = sanstls_connect(
            &addr,
            false,
            &["--cafile", &ca, "--sni", "localhost", "--tls13", "--suite", suite],
        );
        client.wait_for(&format!("handshake: version=TLSv1.3 suite={suite} "));
        exchange(&mut client, &mut server);
        drop(client);
        drop(server);
        openssl_client_against_serve(
            false,
            &["--suite", suite],
            &[
                "-tls1_3",
                "-ciphersuites",
                suite,
                "-CAfile",
                &ca,
                "-verify_return_error",
            ],
            &format!("handshake: version=TLSv1.3 suite={suite} "),
        );
    }
}

/// TLS 1.3 external PSK (RFC 8446 4.2.11) with OpenSSL, both ways: `s_server -psk` (no
/// certificate) and `s_client -psk` use the key with SHA-256 and TLS_AES_128_GCM_SHA256.
#[test]
fn tls13_external_psk_against_openssl_both_ways() {
    need("openssl");
    let port = free_port();
    let port_s = port.to_string();
    let mut server = Proc::start(
        "openssl",
        &strings(&[
            "s_server",
            "-accept",
            &port_s,
            "-nocert",
            "-tls1_3",
            "-psk",
            KEY_HEX,
            "-psk_identity",
            IDENTITY,
        ]),
    );
    server.wait_for("ACCEPT");
    let addr = format!("127.0.0.1:{port}");
    let mut flags = psk_flags();
    flags.extend_from_slice(&["--tls13", "--suite", "TLS_AES_128_GCM_SHA256"]);
    let mut client = sanstls_connect(&addr, false, &flags);
    client.wait_for("handshake: version=TLSv1.3 suite=TLS_AES_128_GCM_SHA256 ");
    client.wait_for(&format!("psk={IDENTITY}"));
    exchange(&mut client, &mut server);
    drop(client);
    drop(server);
    let (dir, file) = psk_file();
    openssl_client_against_serve(
        false,
        &["--psk-file", &file, "--tls13"],
        &["-tls1_3", "-psk", KEY_HEX, "-psk_identity", IDENTITY],
        // No signature: the PSK, not a certificate, authenticated the server.
        &format!("sigscheme=- alpn=- resumed=no psk={IDENTITY}"),
    );
    std::fs::remove_dir_all(dir).unwrap();
}
