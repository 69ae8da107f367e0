//! DTLS-SRTP (RFC 5764) and fingerprint authentication (RFC 8122) through the CLI, against
//! OpenSSL and GnuTLS on 127.0.0.1: `connect --dtls --srtp` against `openssl s_server
//! -use_srtp` and `gnutls-serv --srtp-profiles`, `openssl s_client -use_srtp` and
//! `gnutls-cli --srtp-profiles` against `serve --dtls --srtp`. Where the peer prints its
//! exported keying material (`-keymatexport EXTRACTOR-dtls_srtp`, `--keymatexport`), it
//! must equal the `srtp_keys=` of our handshake line byte for byte. The server is
//! authenticated by its certificate's fingerprint (`--fingerprint`) instead of a CA, and
//! `serve --fingerprint` requires the client's. Missing tools fail the tests.

mod support;
use support::{bin, free_port, need, vector};

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use sanstls::pki::{Fingerprint, FingerprintAlg};

const DEADLINE: Duration = Duration::from_secs(20);
const LABEL: &str = "EXTRACTOR-dtls_srtp";

/// The SDP-form SHA-256 fingerprint of the first certificate of a PEM file in `vectors/`.
fn fingerprint_of(pem: &str) -> String {
    let der = CertificateDer::from_pem_file(vector(pem)).unwrap();
    Fingerprint::of(FingerprintAlg::Sha256, &der).to_string()
}

/// A process whose stdout and stderr are collected together, killed when dropped.
struct Proc {
    child: Child,
    out: Arc<Mutex<Vec<u8>>>,
}

impl Proc {
    fn spawn(cmd: &str, args: &[String]) -> Proc {
        let mut child = Command::new(cmd)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{cmd}: {e}"));
        let out = Arc::new(Mutex::new(Vec::new()));
        for mut pipe in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let sink = out.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    sink.lock().unwrap().extend_from_slice(&buf[..n]);
                }
            });
        }
        Proc { child, out }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.out.lock().unwrap()).into_owned()
    }

    fn send(&mut self, bytes: &[u8]) {
        let stdin = self.child.stdin.as_mut().unwrap();
        stdin.write_all(bytes).unwrap();
        stdin.flush().unwrap();
    }

    /// Waits until the output holds `needle`, failing the test after the deadline.
    fn wait_for(&self, what: &str, needle: &str) -> String {
        let t = Instant::now();
        loop {
            let text = self.text();
            if text.contains(needle) {
                return text;
            }
            assert!(t.elapsed() < DEADLINE, "{what}: no {needle:?} in:\n{text}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until the output has a line holding `key` followed by hex, and returns the hex
    /// (upper-cased).
    fn wait_hex_after(&self, what: &str, key: &str) -> String {
        let t = Instant::now();
        loop {
            if let Some(hex) = hex_after(&self.text(), key) {
                return hex;
            }
            assert!(t.elapsed() < DEADLINE, "{what}: no {key:?} in:\n{}", self.text());
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The hex digits right after `key` (spaces skipped), upper-cased, if a whole run is there.
fn hex_after(text: &str, key: &str) -> Option<String> {
    let rest = &text[text.find(key)? + key.len()..];
    let rest = rest.trim_start();
    let hex: String = rest.chars().take_while(char::is_ascii_hexdigit).collect();
    // A run cut by the end of what was read so far is not whole yet.
    let whole = rest.len() > hex.len();
    (whole && !hex.is_empty()).then(|| hex.to_ascii_uppercase())
}

/// `sanstls connect --dtls` to `port`, authenticating the server (the test certificate
/// `localhost-ecdsa-p256.pem`) by fingerprint, offering `srtp`.
fn our_client(port: u16, srtp: &str, extra: &[&str]) -> Proc {
    let mut args = vec![
        "connect".to_string(),
        "--dtls".into(),
        format!("127.0.0.1:{port}"),
        "--fingerprint".into(),
        fingerprint_of("localhost-ecdsa-p256.pem"),
        "--srtp".into(),
        srtp.into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    Proc::spawn(bin(), &args)
}

/// `sanstls serve --dtls --srtp` on `port` with the test certificate, requiring a client
/// certificate whose fingerprint is `localhost-ecdsa-p384.pem`'s.
fn our_server(port: u16, srtp: &str) -> Proc {
    let args = [
        "serve",
        "--dtls",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--srtp",
        srtp,
        "--fingerprint",
        &fingerprint_of("localhost-ecdsa-p384.pem"),
    ]
    .map(String::from);
    let server = Proc::spawn(bin(), &args);
    server.wait_for("serve --dtls", "listening on");
    server
}

#[test]
fn connect_srtp_against_openssl_s_server_exports_the_same_keys() {
    need("openssl");
    let port = free_port();
    let args = [
        "s_server",
        "-dtls1_2",
        "-listen",
        "-accept",
        &port.to_string(),
        "-cert",
        &vector("localhost-ecdsa-p256.pem"),
        "-key",
        &vector("localhost-ecdsa-p256.key"),
        "-use_srtp",
        "SRTP_AES128_CM_SHA1_80",
        "-keymatexport",
        LABEL,
        "-keymatexportlen",
        "60",
    ]
    .map(String::from);
    let server = Proc::spawn("openssl", &args);
    server.wait_for("s_server", "ACCEPT");
    let mut client = our_client(port, "SRTP_AEAD_AES_128_GCM,SRTP_AES128_CM_HMAC_SHA1_80", &[]);
    let ours = client.wait_hex_after("connect", "srtp_keys=");
    let line = client.wait_for("connect", "handshake: ");
    assert!(
        line.contains("version=DTLSv1.2") && line.contains(" srtp=SRTP_AES128_CM_HMAC_SHA1_80 "),
        "{line}"
    );
    let theirs = server.wait_hex_after("s_server", "Keying material:");
    assert_eq!(ours.len(), 120, "2 * (16 + 14) bytes");
    assert_eq!(ours, theirs);
    server.wait_for(
        "s_server",
        "SRTP Extension negotiated, profile=SRTP_AES128_CM_SHA1_80",
    );
    // The data path works under those keys' handshake.
    client.send(b"ping from sanstls\n");
    server.wait_for("s_server", "ping from sanstls");
}

#[test]
fn connect_refuses_a_server_whose_fingerprint_differs() {
    need("openssl");
    let port = free_port();
    let args = [
        "s_server",
        "-dtls1_2",
        "-listen",
        "-accept",
        &port.to_string(),
        "-cert",
        &vector("other-test-ecdsa-p256.pem"),
        "-key",
        &vector("other-test-ecdsa-p256.key"),
        "-use_srtp",
        "SRTP_AES128_CM_SHA1_80",
    ]
    .map(String::from);
    let server = Proc::spawn("openssl", &args);
    server.wait_for("s_server", "ACCEPT");
    let mut client = our_client(port, "SRTP_AES128_CM_HMAC_SHA1_80", &[]);
    let t = Instant::now();
    let status = loop {
        if let Some(status) = client.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            t.elapsed() < DEADLINE,
            "connect did not give up: {}",
            client.text()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(!status.success());
    let out = client.text();
    assert!(
        out.contains("FingerprintMismatch") && !out.contains("handshake: "),
        "{out}"
    );
}

#[test]
fn openssl_s_client_srtp_against_serve_exports_the_same_keys() {
    need("openssl");
    let port = free_port();
    let server = our_server(port, "SRTP_AEAD_AES_256_GCM,SRTP_AES128_CM_HMAC_SHA1_80");
    let args = [
        "s_client",
        "-dtls1_2",
        "-connect",
        &format!("127.0.0.1:{port}"),
        "-cert",
        &vector("localhost-ecdsa-p384.pem"),
        "-key",
        &vector("localhost-ecdsa-p384.key"),
        "-CAfile",
        &vector("ca.pem"),
        "-verify_return_error",
        "-use_srtp",
        "SRTP_AES128_CM_SHA1_80:SRTP_AEAD_AES_256_GCM",
        "-keymatexport",
        LABEL,
        "-keymatexportlen",
        "88",
    ]
    .map(String::from);
    let mut client = Proc::spawn("openssl", &args);
    let theirs = client.wait_hex_after("s_client", "Keying material:");
    client.wait_for(
        "s_client",
        "SRTP Extension negotiated, profile=SRTP_AEAD_AES_256_GCM",
    );
    let ours = server.wait_hex_after("serve", "srtp_keys=");
    let log = server.wait_for("serve", " srtp=SRTP_AEAD_AES_256_GCM ");
    assert!(log.contains("version=DTLSv1.2"), "{log}");
    assert_eq!(ours.len(), 176, "2 * (32 + 12) bytes");
    assert_eq!(ours, theirs);
    client.send(b"ping from openssl\n");
    client.wait_for("s_client echo", "ping from openssl\n");
}

#[test]
fn gnutls_cli_srtp_against_serve_exports_the_same_keys() {
    need("gnutls-cli");
    let port = free_port();
    let server = our_server(port, "SRTP_AES128_CM_HMAC_SHA1_80");
    let args = [
        "--udp",
        "-p",
        &port.to_string(),
        "--x509cafile",
        &vector("ca.pem"),
        "--x509certfile",
        &vector("localhost-ecdsa-p384.pem"),
        "--x509keyfile",
        &vector("localhost-ecdsa-p384.key"),
        "--srtp-profiles=SRTP_AES128_CM_HMAC_SHA1_32:SRTP_AES128_CM_HMAC_SHA1_80",
        &format!("--keymatexport={LABEL}"),
        "--keymatexportsize=60",
        "localhost",
    ]
    .map(String::from);
    let mut client = Proc::spawn("gnutls-cli", &args);
    let theirs = client.wait_hex_after("gnutls-cli", "- Key material:");
    client.wait_for("gnutls-cli", "- SRTP profile: SRTP_AES128_CM_HMAC_SHA1_80");
    let ours = server.wait_hex_after("serve", "srtp_keys=");
    assert_eq!(ours, theirs);
    client.send(b"ping from gnutls\n");
    client.wait_for("gnutls-cli echo", "ping from gnutls\n");
}

/// gnutls-serv does not print what it exports, so this direction checks the profile both
/// sides name and the data path; the keys are compared in the gnutls-cli direction.
#[test]
fn connect_srtp_against_gnutls_serv_negotiates_the_profile() {
    need("gnutls-serv");
    let port = free_port();
    let args = [
        "--udp",
        "--echo",
        "-p",
        &port.to_string(),
        "--x509certfile",
        &vector("localhost-ecdsa-p256.pem"),
        "--x509keyfile",
        &vector("localhost-ecdsa-p256.key"),
        "--srtp-profiles=SRTP_AES128_CM_HMAC_SHA1_80",
    ]
    .map(String::from);
    let server = Proc::spawn("gnutls-serv", &args);
    server.wait_for("gnutls-serv", "listening");
    let mut client = our_client(port, "SRTP_AES128_CM_HMAC_SHA1_80", &[]);
    let line = client.wait_for("connect", "srtp_keys=");
    assert!(line.contains(" srtp=SRTP_AES128_CM_HMAC_SHA1_80 "), "{line}");
    assert_eq!(client.wait_hex_after("connect", "srtp_keys=").len(), 120);
    client.send(b"ping from sanstls\n");
    client.wait_for("gnutls-serv echo", "ping from sanstls\n");
}
