//! Mistakes in `serve`'s arguments end the command at once, with an error that names what
//! was given and says what is wrong, and a non-zero exit.

use std::net::{TcpListener, UdpSocket};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_sanstls")
}

fn v(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../vectors")
        .join(name)
        .display()
        .to_string()
}

/// Runs `sanstls serve` with `args`; it must exit on its own within a few seconds.
fn serve_fails(args: &[&str]) -> String {
    let mut child = Command::new(bin())
        .arg("serve")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if t.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("serve {args:?} kept running");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out: Output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "serve {args:?} exited 0: {stderr}");
    stderr
}

#[test]
fn serve_refuses_a_key_that_is_not_the_certificates() {
    for key in [
        "localhost-ecdsa-p384.key",
        "localhost-ed25519.key",
        "other-test-ecdsa-p256.key",
    ] {
        let (cert, key) = (v("localhost-ecdsa-p256.pem"), v(key));
        let stderr = serve_fails(&["--listen", "127.0.0.1:0", "--cert", &cert, "--key", &key]);
        assert!(stderr.contains(&cert) && stderr.contains(&key), "{stderr}");
        assert!(stderr.contains("does not match"), "{stderr}");
        assert!(!stderr.contains("listening"), "{stderr}");
    }
}

#[test]
fn serve_names_a_listen_value_that_is_not_an_address() {
    let stderr = serve_fails(&["--listen", "18444"]);
    assert!(stderr.contains("--listen 18444"), "{stderr}");
}

#[test]
fn serve_names_the_address_in_use() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let stderr = serve_fails(&["--listen", &addr]);
    assert!(stderr.contains(&format!("cannot listen on {addr}")), "{stderr}");
    let taken = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let stderr = serve_fails(&["--dtls", "--listen", &addr]);
    assert!(stderr.contains(&format!("cannot listen on {addr}")), "{stderr}");
}

#[test]
fn serve_names_a_certificate_file_without_a_certificate() {
    let key = v("localhost-ecdsa-p256.key");
    let stderr = serve_fails(&["--listen", "127.0.0.1:0", "--cert", &key, "--key", &key]);
    assert!(
        stderr.contains(&key) && stderr.contains("no CERTIFICATE"),
        "{stderr}"
    );
    let stderr = serve_fails(&["--listen", "127.0.0.1:0", "--client-ca", &key]);
    assert!(
        stderr.contains(&key) && stderr.contains("no CERTIFICATE"),
        "{stderr}"
    );
}
