//! Resumption, 0-RTT and client authentication against real peers: OpenSSL processes on
//! 127.0.0.1 (bounded time) and rustls in-process, both ways.

mod common;

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::interop::*;
use common::rustls_pipe::*;
use common::*;
use rustls::crypto::ring as provider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use sanstls::conn::ClientSessionStore;
use sanstls::pki::{TrustAnchors, WebPkiClientVerifier};
use sanstls::{codec::AlertDescription, Connection, Error, Event, ServerConfig};

fn path(name: &str) -> String {
    vectors().join(name).display().to_string()
}

/// Serves `n` connections one after the other with our server; per connection: whether it
/// resumed, whether 0-RTT was accepted, the 0-RTT and 1-RTT bytes received (echoed back),
/// the peer chain length, or the error.
type Served = Result<(bool, bool, Vec<u8>, Vec<u8>, usize), Error>;

fn serve_n(config: Arc<ServerConfig>, n: usize) -> (u16, std::thread::JoinHandle<Vec<Served>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        (0..n)
            .map(|_| {
                let (sock, _) = listener.accept().unwrap();
                serve_conn(config.clone(), sock)
            })
            .collect()
    });
    (port, handle)
}

fn serve_conn(config: Arc<ServerConfig>, mut sock: TcpStream) -> Served {
    let mut conn = Connection::server(config).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
    let (mut early, mut data) = (Vec::new(), Vec::new());
    let start = Instant::now();
    let mut buf = [0u8; 16384];
    while start.elapsed() < DEADLINE {
        while conn.wants_write() && conn.write_tls(&mut sock).unwrap_or(0) > 0 {}
        if let Some(e) = conn.error() {
            return Err(e.clone());
        }
        match conn.read_tls(&mut sock) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => continue,
            Err(_) => break,
        }
        if let Err(e) = conn.process_new_packets() {
            let _ = conn.write_tls(&mut sock);
            return Err(e);
        }
        let closed = std::iter::from_fn(|| conn.next_event()).any(|e| e == Event::PeerClosed);
        while let Ok(n) = conn.early_data_reader().read(&mut buf) {
            early.extend_from_slice(&buf[..n]);
            let _ = conn.writer().write_all(&buf[..n]);
        }
        while let Ok(n) = conn.reader().read(&mut buf) {
            if n == 0 {
                break;
            }
            data.extend_from_slice(&buf[..n]);
            let _ = conn.writer().write_all(&buf[..n]);
        }
        if closed {
            conn.send_close_notify();
            while conn.write_tls(&mut sock).unwrap_or(0) > 0 {}
            break;
        }
    }
    let chain = conn.peer_certificates().len();
    Ok((conn.is_resumed(), conn.early_data_accepted(), early, data, chain))
}

fn s_client(port: u16, extra: &[&str], stdin: &[u8]) -> String {
    let mut args: Vec<String> = [
        "s_client",
        "-connect",
        &format!("127.0.0.1:{port}"),
        "-servername",
        "localhost",
        "-CAfile",
        &path("ca.pem"),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    run_client("openssl", &args, stdin)
}

fn early_server() -> Arc<ServerConfig> {
    server_builder("ecdsa-p256").max_early_data(4096).build().unwrap()
}

#[test]
fn openssl_client_resumes_and_sends_early_data_to_our_server() {
    if !have("openssl") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("sanstls-resume-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sess = dir.join("sess.pem").display().to_string();
    let early = dir.join("early.txt");
    std::fs::write(&early, b"early from openssl\n").unwrap();
    let (port, server) = serve_n(early_server(), 2);
    let out = s_client(port, &["-sess_out", &sess], b"one\n");
    assert!(out.contains("New, TLSv1.3"), "{out}");
    let out = s_client(
        port,
        &["-sess_in", &sess, "-early_data", &early.display().to_string()],
        b"two\n",
    );
    assert!(out.contains("Reused, TLSv1.3"), "{out}");
    assert!(out.contains("Early data was accepted"), "{out}");
    let served = server.join().unwrap();
    let (resumed, _, _, first, _) = served[0].clone().unwrap();
    assert!(!resumed);
    assert_eq!(first, b"one\n");
    let (resumed, accepted, early_bytes, data, _) = served[1].clone().unwrap();
    assert!(resumed && accepted);
    assert_eq!(early_bytes, b"early from openssl\n");
    assert_eq!(data, b"two\n");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn our_client_resumes_with_early_data_against_openssl_server() {
    if !have("openssl") {
        return;
    }
    let port = free_port();
    let log = std::env::temp_dir().join(format!("sanstls-oss-early-{}.txt", std::process::id()));
    let out = std::fs::File::create(&log).unwrap();
    // stdbuf: s_server writes to a file through stdio; line buffering makes it visible.
    let child = Command::new("stdbuf")
        .args([
            "-oL",
            "openssl",
            "s_server",
            "-tls1_3",
            "-accept",
            &port.to_string(),
        ])
        .args([
            "-cert",
            &path("localhost-ecdsa-p256.pem"),
            "-key",
            &path("localhost-ecdsa-p256.key"),
        ])
        .args(["-early_data", "-num_tickets", "2"])
        .stdin(Stdio::piped())
        .stdout(out)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _peer = Peer { child };
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(start.elapsed() < DEADLINE);
        std::thread::sleep(Duration::from_millis(20));
    }
    let store = Arc::new(ClientSessionStore::default());
    let config = client_builder()
        .session_store(store.clone())
        .enable_early_data(true)
        .build()
        .unwrap();
    // The probe connection above consumed one accept; s_server serves one at a time.
    let mut c = Connection::client(config.clone(), "localhost").unwrap();
    let mut sock = TcpStream::connect(("127.0.0.1", port)).unwrap();
    drive(&mut c, &mut sock, b"first\n".to_vec(), |_, _| {
        store.tickets_for("localhost") > 0
    })
    .unwrap();
    assert!(!c.is_resumed());
    c.send_close_notify();
    let _ = c.write_tls(&mut sock);
    drop(sock);
    let mut c = Connection::client(config, "localhost").unwrap();
    c.early_data()
        .expect("ticket allows 0-RTT")
        .write_all(b"zero-rtt hello\n")
        .unwrap();
    let mut sock = TcpStream::connect(("127.0.0.1", port)).unwrap();
    drive(&mut c, &mut sock, b"after\n".to_vec(), |c, _| {
        !c.is_handshaking() && !c.wants_write()
    })
    .unwrap();
    assert!(c.is_resumed(), "resumed against openssl");
    assert!(c.early_data_accepted(), "openssl accepted our 0-RTT");
    c.send_close_notify();
    let _ = c.write_tls(&mut sock);
    drop(sock);
    let start = Instant::now();
    while !std::fs::read_to_string(&log).unwrap().contains("zero-rtt hello") && start.elapsed() < DEADLINE {
        std::thread::sleep(Duration::from_millis(50));
    }
    let printed = std::fs::read_to_string(&log).unwrap();
    assert!(printed.contains("zero-rtt hello"), "{printed}");
    let _ = std::fs::remove_file(&log);
}

#[test]
fn client_auth_against_openssl_both_ways() {
    if !have("openssl") {
        return;
    }
    // Our client, certificate and no certificate, to s_server -Verify 1.
    let port = free_port();
    let args: Vec<String> = [
        "s_server",
        "-tls1_3",
        "-accept",
        &port.to_string(),
        "-cert",
        &path("localhost-ecdsa-p256.pem"),
        "-key",
        &path("localhost-ecdsa-p256.key"),
        "-Verify",
        "1",
        "-CAfile",
        &path("ca.pem"),
        "-verify_return_error",
        "-www",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let _server = spawn_server("openssl", &args, port);
    for kind in KEY_TYPES {
        let config = client_builder()
            .client_auth_cert(certified_key(kind))
            .build()
            .unwrap();
        let mut c = Connection::client(config, "localhost").unwrap();
        let mut sock = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let page = drive(&mut c, &mut sock, b"GET / HTTP/1.0\r\n\r\n".to_vec(), |_, _| {
            false
        })
        .unwrap();
        assert!(
            String::from_utf8_lossy(&page).starts_with("HTTP/1.0 200 ok"),
            "{kind}"
        );
    }
    let mut c = Connection::client(client_builder().build().unwrap(), "localhost").unwrap();
    let mut sock = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let err = drive(&mut c, &mut sock, b"GET / HTTP/1.0\r\n\r\n".to_vec(), |_, _| {
        false
    });
    assert_eq!(
        err,
        Err(Error::AlertReceived(AlertDescription::CertificateRequired))
    );

    // s_client -cert/-key to our server requiring a certificate; then without one.
    let verifier = WebPkiClientVerifier::new(TrustAnchors::from_pem_file(vectors().join("ca.pem")).unwrap());
    let config = server_builder("ecdsa-p256")
        .client_verifier(Arc::new(verifier))
        .build()
        .unwrap();
    let (port, server) = serve_n(config, 2);
    let out = s_client(
        port,
        &[
            "-cert",
            &path("localhost-rsa2048.pem"),
            "-key",
            &path("localhost-rsa2048.key"),
        ],
        b"with cert\n",
    );
    assert!(out.contains("with cert"), "{out}");
    let _ = s_client(port, &[], b"none\n");
    let served = server.join().unwrap();
    let (_, _, _, data, chain) = served[0].clone().unwrap();
    assert_eq!(data, b"with cert\n");
    assert!(chain >= 1, "the client chain reached the application");
    assert_eq!(served[1], Err(Error::CertificateRequired));
}

// ---------------------------------------------------------------------------------------------
// rustls in-process.

fn roots() -> rustls::RootCertStore {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(vectors().join("ca.pem")).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    roots
}

fn chain_and_key(kind: &str) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
    let v = vectors();
    let chain = CertificateDer::pem_file_iter(v.join(format!("localhost-{kind}.pem")))
        .unwrap()
        .map(|c| c.unwrap())
        .collect();
    (
        chain,
        PrivateKeyDer::from_pem_file(v.join(format!("localhost-{kind}.key"))).unwrap(),
    )
}

fn rustls_client_config(cert: Option<&str>) -> Arc<rustls::ClientConfig> {
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(provider::default_provider()))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots());
    let mut config = match cert {
        Some(kind) => {
            let (chain, key) = chain_and_key(kind);
            builder.with_client_auth_cert(chain, key).unwrap()
        }
        None => builder.with_no_client_auth(),
    };
    config.enable_early_data = true;
    Arc::new(config)
}

fn rustls_server_config(client_auth: bool) -> Arc<rustls::ServerConfig> {
    let builder = rustls::ServerConfig::builder_with_provider(Arc::new(provider::default_provider()))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap();
    let builder = match client_auth {
        true => builder.with_client_cert_verifier(
            rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots()),
                Arc::new(provider::default_provider()),
            )
            .build()
            .unwrap(),
        ),
        false => builder.with_no_client_auth(),
    };
    let (chain, key) = chain_and_key("ecdsa-p256");
    let mut config = builder.with_single_cert(chain, key).unwrap();
    config.max_early_data_size = 4096;
    Arc::new(config)
}

fn rustls_client(config: &Arc<rustls::ClientConfig>) -> rustls::ClientConnection {
    rustls::ClientConnection::new(config.clone(), ServerName::try_from("localhost").unwrap()).unwrap()
}

#[test]
fn rustls_client_resumes_with_early_data_and_client_auth_against_our_server() {
    let verifier = WebPkiClientVerifier::new(TrustAnchors::from_pem_file(vectors().join("ca.pem")).unwrap());
    let server = server_builder("ecdsa-p256")
        .client_verifier(Arc::new(verifier))
        .max_early_data(4096)
        .build()
        .unwrap();
    let client = rustls_client_config(Some("ed25519"));
    let mut theirs = rustls_client(&client);
    let mut ours = Connection::server(server.clone()).unwrap();
    pump(&mut *theirs, &mut ours);
    assert!(!ours.is_handshaking() && !ours.is_resumed());
    assert_eq!(ours.peer_certificates().len(), 1, "rustls's client certificate");

    let mut theirs = rustls_client(&client);
    theirs
        .early_data()
        .expect("rustls offers 0-RTT")
        .write_all(b"rustls early")
        .unwrap();
    let mut ours = Connection::server(server).unwrap();
    pump(&mut *theirs, &mut ours);
    assert!(ours.is_resumed() && ours.early_data_accepted());
    assert!(theirs.is_early_data_accepted());
    assert_eq!(
        ours.peer_certificates().len(),
        1,
        "identity kept across resumption"
    );
    let mut early = Vec::new();
    ours.early_data_reader().read_to_end(&mut early).ok();
    assert_eq!(early, b"rustls early");
}

#[test]
fn our_client_resumes_with_early_data_and_client_auth_against_rustls() {
    let server = rustls_server_config(true);
    let client = client_builder()
        .enable_early_data(true)
        .client_auth_cert(certified_key("ecdsa-p384"))
        .build()
        .unwrap();
    let mut theirs = rustls::ServerConnection::new(server.clone()).unwrap();
    let mut ours = Connection::client(client.clone(), "localhost").unwrap();
    pump(&mut *theirs, &mut ours);
    assert!(!ours.is_handshaking() && !ours.is_resumed());
    assert_eq!(theirs.peer_certificates().map(|c| c.len()), Some(1));

    let mut theirs = rustls::ServerConnection::new(server).unwrap();
    let mut ours = Connection::client(client, "localhost").unwrap();
    ours.early_data()
        .expect("0-RTT allowed")
        .write_all(b"sanstls early")
        .unwrap();
    pump(&mut *theirs, &mut ours);
    assert!(ours.is_resumed() && ours.early_data_accepted());
    let mut early = Vec::new();
    if let Some(mut rd) = theirs.early_data() {
        rd.read_to_end(&mut early).unwrap();
    }
    assert_eq!(early, b"sanstls early");
    ours.writer().write_all(b"1-rtt").unwrap();
    pump(&mut *theirs, &mut ours);
    let mut got = [0u8; 5];
    theirs.reader().read_exact(&mut got).unwrap();
    assert_eq!(&got, b"1-rtt");
}
