//! `sanstls serve --dtls` and `sanstls connect --dtls` over UDP on 127.0.0.1.

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
    child.stdin.take().unwrap().write_all(stdin).unwrap();
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

#[test]
fn connect_dtls_to_serve_dtls_echoes_and_prints_the_handshake_line() {
    // The defaults negotiate DTLS 1.3; `--tls12` on the client DTLS 1.2.
    connect_dtls(
        &[],
        "handshake: version=DTLSv1.3 suite=TLS_AES_128_GCM_SHA256 group=x25519 \
         sigscheme=ecdsa_secp256r1_sha256 alpn=- resumed=no",
        "handshake: version=DTLSv1.3",
    );
    connect_dtls(
        &["--tls12"],
        "handshake: version=DTLSv1.2 suite=TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 group=x25519 \
         sigscheme=ecdsa_secp256r1_sha256 alpn=- resumed=no ems=yes",
        "handshake: version=DTLSv1.2",
    );
}

fn connect_dtls(extra: &[&str], line: &str, server_line: &str) {
    let port = udp_port();
    let listen = format!("127.0.0.1:{port}");
    let server = Server::start(&["serve", "--dtls", "--listen", &listen, "--mtu", "1200"]);
    let ca = vectors().join("ca.pem");
    let mut args = vec![
        "connect",
        "--dtls",
        &listen,
        "--cafile",
        ca.to_str().unwrap(),
        "--sni",
        "localhost",
        "--mtu",
        "1200",
    ];
    args.extend_from_slice(extra);
    let out = run(bin(), &args, b"hello over DTLS\n");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains(line), "{stderr}");
    assert_eq!(stdout, "hello over DTLS\n");
    // The server printed the same line for its side.
    let t = Instant::now();
    while !server.stderr().contains(server_line) {
        assert!(t.elapsed() < DEADLINE, "{}", server.stderr());
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn openssl_s_client_against_serve_dtls() {
    let ok = Command::new("openssl")
        .arg("version")
        .stdout(Stdio::null())
        .status()
        .is_ok();
    if !ok {
        assert!(std::env::var_os("CI").is_none(), "openssl is missing under CI");
        return;
    }
    let port = udp_port();
    let listen = format!("127.0.0.1:{port}");
    let _server = Server::start(&["serve", "--dtls", "--listen", &listen]);
    let ca = vectors().join("ca.pem");
    // s_client sends stdin, prints the echo, and leaves on our close_notify... which comes
    // only after its own; bounded by the deadline, so it is killed after the echo.
    let mut child = Command::new("openssl")
        .args([
            "s_client",
            "-dtls1_2",
            "-connect",
            &listen,
            "-CAfile",
            ca.to_str().unwrap(),
            "-verify_return_error",
            "-mtu",
            "1200",
            "-quiet",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .as_mut()
        .unwrap()
        .write_all(b"ping over DTLS\n")
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
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
        assert!(t.elapsed() < DEADLINE, "no echo from serve --dtls");
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}
