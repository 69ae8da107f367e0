//! The `sanstls` tool as a user runs it: `serve` against `connect`, curl and openssl.

mod support;
use support::{bin, free_port, have, Killed};

use std::io::Write;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(15);

fn vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../vectors")
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
    // The defaults on both sides: the post-quantum hybrid, in one round trip.
    assert!(stderr.contains(
        "handshake: version=TLSv1.3 suite=TLS_AES_128_GCM_SHA256 group=X25519MLKEM768 sigscheme=ecdsa_secp256r1_sha256 alpn=- resumed=no"
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

/// stdin's EOF ends `connect` over TCP: close_notify out, the server's close_notify back,
/// exit 0, well before the server's 10 s idle timeout would have closed it.
#[test]
fn connect_closes_with_close_notify_when_stdin_ends() {
    let (_server, port) = serve(&["--echo", "--max-early-data", "4096", "--tickets", "2"]);
    let ca = vectors().join("ca.pem");
    let addr = format!("127.0.0.1:{port}");
    for reconnect in ["0", "2"] {
        let t = Instant::now();
        let out = run(
            bin(),
            &[
                "connect",
                &addr,
                "--sni",
                "localhost",
                "--cafile",
                ca.to_str().unwrap(),
                "--reconnect",
                reconnect,
            ],
            b"hi\n",
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(t.elapsed() < Duration::from_secs(8), "took {:?}", t.elapsed());
        assert_eq!(String::from_utf8_lossy(&out.stdout), "hi\n", "{stderr}");
        let n: usize = reconnect.parse().unwrap();
        assert_eq!(stderr.matches("handshake: ").count(), n + 1, "{stderr}");
    }
}

/// The same against `openssl s_server`, which answers our close_notify with its own: it
/// printed what we sent, and we exit 0.
#[test]
fn connect_closes_with_close_notify_against_openssl_s_server() {
    assert!(have("openssl"), "openssl is needed for this test");
    let port = free_port();
    let v = vectors();
    let port_s = port.to_string();
    let cert = v.join("localhost-ecdsa-p256.pem");
    let key = v.join("localhost-ecdsa-p256.key");
    let _server = start(
        "openssl",
        &[
            "s_server",
            "-quiet",
            "-accept",
            &port_s,
            "-cert",
            cert.to_str().unwrap(),
            "-key",
            key.to_str().unwrap(),
        ],
        port,
    );
    let ca = v.join("ca.pem");
    let addr = format!("127.0.0.1:{port}");
    let t = Instant::now();
    let out = run(
        bin(),
        &[
            "connect",
            &addr,
            "--sni",
            "localhost",
            "--cafile",
            ca.to_str().unwrap(),
        ],
        b"hi\n",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(t.elapsed() < Duration::from_secs(8), "took {:?}", t.elapsed());
}

/// A server that goes away without close_notify (here `openssl s_server`, killed after the
/// handshake) cannot be told from a truncation attack: `connect` says so and fails.
#[test]
fn connect_reports_a_close_without_close_notify() {
    use std::io::{BufRead, BufReader};
    assert!(have("openssl"), "openssl is needed for this test");
    let port = free_port();
    let v = vectors();
    let port_s = port.to_string();
    let cert = v.join("localhost-ecdsa-p256.pem");
    let key = v.join("localhost-ecdsa-p256.key");
    let mut server = start(
        "openssl",
        &[
            "s_server",
            "-quiet",
            "-accept",
            &port_s,
            "-cert",
            cert.to_str().unwrap(),
            "-key",
            key.to_str().unwrap(),
        ],
        port,
    );
    let ca = v.join("ca.pem");
    let addr = format!("127.0.0.1:{port}");
    // stdin stays open: only the server's end can end this connection.
    let mut client = Killed(
        Command::new(bin())
            .args([
                "connect",
                &addr,
                "--sni",
                "localhost",
                "--cafile",
                ca.to_str().unwrap(),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut stderr = BufReader::new(client.0.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    assert!(line.starts_with("handshake: "), "{line}");
    // SIGKILL: the kernel closes the socket, no close_notify.
    server.0.kill().unwrap();
    let t = Instant::now();
    let status = loop {
        if let Some(s) = client.0.try_wait().unwrap() {
            break s;
        }
        assert!(t.elapsed() < DEADLINE, "connect did not exit");
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert!(!status.success(), "{rest}");
    assert!(rest.contains("without close_notify"), "{rest}");
}

/// Without --cafile, `connect` trusts the platform's roots: SSL_CERT_FILE naming the test CA
/// makes the test server trusted; the real system store does not know it.
#[test]
fn connect_trusts_the_platform_roots_by_default() {
    let (_server, port) = serve(&["--echo"]);
    let addr = format!("127.0.0.1:{port}");
    let connect = |env: Option<PathBuf>| {
        let mut cmd = Command::new(bin());
        cmd.args(["connect", &addr, "--sni", "localhost"])
            .env_remove("SSL_CERT_FILE")
            .env_remove("SSL_CERT_DIR")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(file) = env {
            cmd.env("SSL_CERT_FILE", file);
        }
        let mut child = cmd.spawn().unwrap();
        child.stdin.take().unwrap().write_all(b"hi\n").unwrap();
        child.wait_with_output().unwrap()
    };
    let out = connect(Some(vectors().join("ca.pem")));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hi\n");
    let out = connect(None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "the system store does not hold the test CA"
    );
    assert!(
        stderr.contains("UnknownIssuer") || stderr.contains("unknown") || stderr.contains("no trust anchors"),
        "{stderr}"
    );
}

/// `serve` tells a first-time user where to go and which CA to trust; `--threads 0` is
/// refused rather than taken as 1; `--help` names no source files.
#[test]
fn serve_set_up_rough_edges() {
    use std::io::{BufRead, BufReader};
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut server = Killed(
        Command::new(bin())
            .args(["serve", "--listen", &listen])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut stderr = BufReader::new(server.0.stderr.take().unwrap());
    let mut log = String::new();
    while !log.contains("vectors/ca.pem") {
        assert!(stderr.read_line(&mut log).unwrap() > 0, "{log}");
    }
    assert!(log.contains(&format!("https://localhost:{port}/")), "{log}");

    let out = run(
        bin(),
        &["serve", "--threads", "0", "--listen", "127.0.0.1:0"],
        b"",
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--threads"));

    for sub in ["serve", "connect"] {
        let out = run(bin(), &[sub, "--help"], b"");
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success() && !help.contains(".rs"), "{help}");
    }
}

/// `--log-records` over TLS 1.2 traces every handshake message each side sends, those the
/// TLS 1.2 machines frame themselves included.
#[test]
fn log_records_traces_tls12_messages_on_both_sides() {
    use std::io::{BufRead, BufReader};
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut server = Killed(
        Command::new(bin())
            .args(["serve", "--tls12", "--log-records", "--listen", &listen])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = server.0.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let ca = vectors().join("ca.pem");
    let addr = format!("127.0.0.1:{port}");
    let t = Instant::now();
    let out = loop {
        let out = run(
            bin(),
            &[
                "connect",
                &addr,
                "--sni",
                "localhost",
                "--cafile",
                ca.to_str().unwrap(),
                "--tls12",
                "--log-records",
            ],
            REQUEST,
        );
        if out.status.success() || t.elapsed() > DEADLINE {
            break out;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let client_log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{client_log}");
    for m in ["client_hello", "client_key_exchange", "finished"] {
        assert!(
            client_log.contains(&format!("handshake -> {m} ")),
            "{m}: {client_log}"
        );
    }
    let mut server_log = String::new();
    let want = [
        "server_hello",
        "certificate",
        "server_key_exchange",
        "server_hello_done",
        "new_session_ticket",
        "finished",
    ];
    while !want
        .iter()
        .all(|m| server_log.contains(&format!("handshake -> {m} ")))
    {
        let line = rx
            .recv_timeout(DEADLINE)
            .unwrap_or_else(|_| panic!("{server_log}"));
        server_log.push_str(&line);
        server_log.push('\n');
    }
}
