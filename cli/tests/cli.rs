//! The `sanstls` tool as a user runs it: `serve` against `connect`, curl and openssl.

mod support;
use support::{have, Killed};

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(15);

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_sanstls")
}

fn vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../vectors")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(cmd: &str, args: &[&str], port: u16) -> Killed {
    let mut command = Command::new(cmd);
    command
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let child = Killed(command.spawn().unwrap());
    let t = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(t.elapsed() < DEADLINE, "{cmd} never listened");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

fn serve(extra: &[&str]) -> (Killed, u16) {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut args = vec!["serve", "--listen", &listen];
    args.extend_from_slice(extra);
    (start(bin(), &args, port), port)
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

const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";

#[test]
fn connect_to_serve_prints_the_handshake_line_and_the_page() {
    let (_server, port) = serve(&[]);
    let ca = vectors().join("ca.pem");
    let addr = format!("127.0.0.1:{port}");
    let out = run(
        bin(),
        &[
            "connect",
            &addr,
            "--cafile",
            ca.to_str().unwrap(),
            "--sni",
            "localhost",
        ],
        REQUEST,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains(
        "handshake: version=TLSv1.3 suite=TLS_AES_128_GCM_SHA256 group=x25519 sigscheme=ecdsa_secp256r1_sha256 alpn=- resumed=no"
    ), "{stderr}");
    assert!(stdout.starts_with("HTTP/1.1 200 OK\r\n"), "{stdout}");
    assert!(stdout.contains("version=TLSv1.3"), "{stdout}");
    assert!(stdout.contains("sni=localhost"), "{stdout}");
}

#[test]
fn connect_with_chosen_suite_group_and_alpn() {
    let (_server, port) = serve(&["--alpn", "h2", "--alpn", "http/1.1"]);
    let ca = vectors().join("ca.pem");
    let addr = format!("127.0.0.1:{port}");
    let args = [
        "connect",
        &addr,
        "--cafile",
        ca.to_str().unwrap(),
        "--sni",
        "localhost",
        "--suite",
        "TLS_CHACHA20_POLY1305_SHA256",
        "--group",
        "secp384r1",
        "--alpn",
        "http/1.1",
    ];
    let out = run(bin(), &args, REQUEST);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("suite=TLS_CHACHA20_POLY1305_SHA256 group=secp384r1"),
        "{stderr}"
    );
    assert!(stderr.contains("alpn=http/1.1"), "{stderr}");
}

/// `--group` takes the post-quantum hybrids: serve preferring X25519MLKEM768, connect
/// offering only it; the `handshake:` line names it.
#[test]
fn connect_and_serve_with_a_hybrid_group() {
    let (_server, port) = serve(&["--group", "X25519MLKEM768", "--group", "x25519"]);
    let ca = vectors().join("ca.pem");
    let addr = format!("127.0.0.1:{port}");
    let args = [
        "connect",
        &addr,
        "--cafile",
        ca.to_str().unwrap(),
        "--sni",
        "localhost",
        "--group",
        "X25519MLKEM768",
    ];
    let out = run(bin(), &args, REQUEST);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("group=X25519MLKEM768 "), "{stderr}");
}

#[test]
fn connect_refuses_an_untrusted_server_and_prints_no_data() {
    let (_server, port) = serve(&[]);
    let other_ca = vectors().join("localhost-rsa2048.pem"); // not a CA of the served chain
    let addr = format!("127.0.0.1:{port}");
    let out = run(
        bin(),
        &[
            "connect",
            &addr,
            "--cafile",
            other_ca.to_str().unwrap(),
            "--sni",
            "localhost",
        ],
        REQUEST,
    );
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("certificate"), "{stderr}");
}

#[test]
fn echo_mode_echoes() {
    let (_server, port) = serve(&["--echo"]);
    let ca = vectors().join("ca.pem");
    let addr = format!("127.0.0.1:{port}");
    let mut child = Command::new(bin())
        .args([
            "connect",
            &addr,
            "--cafile",
            ca.to_str().unwrap(),
            "--sni",
            "localhost",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child.stdin.as_mut().unwrap().write_all(b"echo me\n").unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut got = [0u8; 8];
    use std::io::Read;
    stdout.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"echo me\n");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn curl_fetches_the_page() {
    if !have("curl") {
        return;
    }
    let (_server, port) = serve(&[]);
    let ca = vectors().join("ca.pem");
    let url = format!("https://localhost:{port}/");
    let resolve = format!("localhost:{port}:127.0.0.1");
    let out = run(
        "curl",
        &[
            "-sS",
            "--max-time",
            "10",
            "--cacert",
            ca.to_str().unwrap(),
            "--resolve",
            &resolve,
            &url,
            &url,
        ],
        b"",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // Two requests over one keep-alive connection: two pages.
    assert_eq!(stdout.matches("<h1>sanstls</h1>").count(), 2, "{stdout}");
    assert!(stdout.contains("version=TLSv1.3"), "{stdout}");
}

#[test]
fn connect_to_openssl_server_and_write_the_key_log() {
    if !have("openssl") {
        return;
    }
    let port = free_port();
    let v = vectors();
    let cert = v.join("localhost-rsa2048.pem");
    let key = v.join("localhost-rsa2048.key");
    let port_s = port.to_string();
    let _server = start(
        "openssl",
        &[
            "s_server",
            "-tls1_3",
            "-accept",
            &port_s,
            "-cert",
            cert.to_str().unwrap(),
            "-key",
            key.to_str().unwrap(),
            "-www",
        ],
        port,
    );
    let dir = std::env::temp_dir().join(format!("sanstls-keylog-{}", std::process::id()));
    let _ = std::fs::remove_file(&dir);
    let ca = v.join("ca.pem");
    let addr = format!("127.0.0.1:{port}");
    let args = [
        "connect",
        &addr,
        "--cafile",
        ca.to_str().unwrap(),
        "--sni",
        "localhost",
        "--keylog",
        dir.to_str().unwrap(),
    ];
    let out = run(bin(), &args, b"GET / HTTP/1.0\r\n\r\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("sigscheme=rsa_pss_rsae_sha256"), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("HTTP/1.0 200 ok"));
    let log = std::fs::read_to_string(&dir).unwrap();
    let _ = std::fs::remove_file(&dir);
    for label in [
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
        "SERVER_HANDSHAKE_TRAFFIC_SECRET",
        "CLIENT_TRAFFIC_SECRET_0",
        "SERVER_TRAFFIC_SECRET_0",
        "EXPORTER_SECRET",
    ] {
        assert_eq!(log.matches(&format!("{label} ")).count(), 1, "{log}");
    }
}

#[test]
fn openssl_client_against_serve() {
    if !have("openssl") {
        return;
    }
    let (_server, port) = serve(&[]);
    let ca = vectors().join("ca.pem");
    let addr = format!("127.0.0.1:{port}");
    let out = run(
        "openssl",
        &[
            "s_client",
            "-connect",
            &addr,
            "-servername",
            "localhost",
            "-CAfile",
            ca.to_str().unwrap(),
            "-verify_return_error",
            "-quiet",
        ],
        REQUEST,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("HTTP/1.1 200 OK"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `connect` with `extra` version flags against `addr`: (success, stderr).
fn connect_with(addr: &str, extra: &[&str]) -> (bool, String) {
    let ca = vectors().join("ca.pem");
    let mut args = vec![
        "connect",
        addr,
        "--cafile",
        ca.to_str().unwrap(),
        "--sni",
        "localhost",
    ];
    args.extend_from_slice(extra);
    let out = run(bin(), &args, REQUEST);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The `handshake:` line of a run.
fn handshake_line(stderr: &str) -> &str {
    stderr
        .lines()
        .find(|l| l.contains("handshake: "))
        .unwrap_or_else(|| panic!("no handshake line in {stderr}"))
}

#[test]
fn version_flags_against_serve() {
    let (_server, port) = serve(&[]);
    let addr = format!("127.0.0.1:{port}");
    const TLS12_LINE: &str = "handshake: version=TLSv1.2 suite=TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 group=x25519 sigscheme=ecdsa_secp256r1_sha256 alpn=- resumed=no ems=yes";
    for flags in [
        &["--tls12"][..],
        &["--max-version", "1.2"],
        &["--min-version", "1.2", "--max-version", "TLSv1.2"],
    ] {
        let (ok, stderr) = connect_with(&addr, flags);
        assert!(ok, "{flags:?}: {stderr}");
        assert!(
            handshake_line(&stderr).ends_with(&format!("{TLS12_LINE} early_data=-")),
            "{flags:?}: {stderr}"
        );
    }
    // TLS 1.3 lines carry no ems= (TLS 1.3 always binds its secrets to the transcript).
    for flags in [&["--tls13"][..], &["--min-version", "1.3"], &[]] {
        let (ok, stderr) = connect_with(&addr, flags);
        assert!(ok, "{flags:?}: {stderr}");
        let line = handshake_line(&stderr);
        assert!(
            line.contains("version=TLSv1.3 suite=TLS_AES_128_GCM_SHA256"),
            "{flags:?}: {line}"
        );
        assert!(
            line.ends_with("resumed=no early_data=-") && !line.contains("ems="),
            "{flags:?}: {line}"
        );
    }
    // Nonsense is refused before any connection is made.
    let (ok, stderr) = connect_with(&addr, &["--min-version", "1.3", "--max-version", "1.2"]);
    assert!(
        !ok && stderr.contains("--min-version is above --max-version"),
        "{stderr}"
    );
    let (ok, stderr) = connect_with(&addr, &["--max-version", "1.1"]);
    assert!(!ok && stderr.contains("unsupported TLS version"), "{stderr}");
    let (ok, _) = connect_with(&addr, &["--tls12", "--tls13"]);
    assert!(!ok, "--tls12 and --tls13 conflict");
}

#[test]
fn version_flags_on_both_sides() {
    // A TLS 1.2-only server: a default client speaks 1.2 with it, a 1.3-only client fails.
    let (_server, port) = serve(&["--tls12"]);
    let addr = format!("127.0.0.1:{port}");
    let (ok, stderr) = connect_with(&addr, &[]);
    assert!(ok, "{stderr}");
    let line = handshake_line(&stderr);
    assert!(
        line.contains("version=TLSv1.2") && line.ends_with(" ems=yes early_data=-"),
        "{line}"
    );
    let (ok, stderr) = connect_with(&addr, &["--tls13"]);
    assert!(!ok && !stderr.contains("handshake: "), "{stderr}");
    // A server with 1.3 as its floor refuses a 1.2-only client.
    let (_server, port) = serve(&["--min-version", "1.3"]);
    let addr = format!("127.0.0.1:{port}");
    let (ok, stderr) = connect_with(&addr, &["--max-version", "1.2"]);
    assert!(!ok && !stderr.contains("handshake: "), "{stderr}");
    let (ok, stderr) = connect_with(&addr, &[]);
    assert!(
        ok && handshake_line(&stderr).contains("version=TLSv1.3"),
        "{stderr}"
    );
}

#[test]
fn version_flags_against_openssl_tls12_server() {
    if !have("openssl") {
        return;
    }
    let port = free_port();
    let v = vectors();
    let cert = v.join("localhost-rsa2048.pem");
    let key = v.join("localhost-rsa2048.key");
    let port_s = port.to_string();
    let _server = start(
        "openssl",
        &[
            "s_server",
            "-tls1_2",
            "-accept",
            &port_s,
            "-cert",
            cert.to_str().unwrap(),
            "-key",
            key.to_str().unwrap(),
            "-www",
        ],
        port,
    );
    let addr = format!("127.0.0.1:{port}");
    for flags in [
        &[][..],
        &["--tls12"],
        &["--max-version", "1.2"],
        &["--min-version", "1.2"],
    ] {
        let ca = v.join("ca.pem");
        let mut args = vec![
            "connect",
            &addr,
            "--cafile",
            ca.to_str().unwrap(),
            "--sni",
            "localhost",
        ];
        args.extend_from_slice(flags);
        let out = run(bin(), &args, b"GET / HTTP/1.0\r\n\r\n");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{flags:?}: {stderr}");
        let line = handshake_line(&stderr);
        assert!(
            line.contains("version=TLSv1.2 suite=TLS_ECDHE_RSA_WITH_"),
            "{flags:?}: {line}"
        );
        assert!(line.contains(" sigscheme=rsa_"), "{flags:?}: {line}");
        assert!(
            line.ends_with(" resumed=no ems=yes early_data=-"),
            "{flags:?}: {line}"
        );
        assert!(String::from_utf8_lossy(&out.stdout).starts_with("HTTP/1.0 200 ok"));
    }
    // Only TLS 1.3 offered: OpenSSL's TLS 1.2-only server cannot answer.
    for flags in [&["--tls13"][..], &["--min-version", "1.3"]] {
        let (ok, stderr) = connect_with(&addr, flags);
        assert!(!ok && !stderr.contains("handshake: "), "{flags:?}: {stderr}");
    }
}
