//! The tokio adapter (`sanstls::tokio_io`, feature `tokio`) over real sockets: a megabyte both
//! ways against `sanstls serve --echo` (reader and writer in two tasks over a split stream) and
//! against `openssl s_server` with TLS 1.3 and TLS 1.2; and the acceptor serving the blocking
//! `Stream`. Both adapters, as servers refusing a client still sending, drain it so that their
//! alert arrives.

mod support;
use support::{early_garbage, refused_flood, Killed};

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use sanstls::codec::ProtocolVersion;
use sanstls::pki::{TrustAnchors, WebPkiServerVerifier};
use sanstls::tokio_io::{TlsAcceptor, TlsConnector, TlsStream};
use sanstls::{CertifiedKey, ClientConfig, Connection, ServerConfig, Stream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const DEADLINE: Duration = Duration::from_secs(30);
const CHUNK: usize = 16384;
const ROUNDS: usize = 64; // 1 MiB

fn vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../vectors")
}

fn connector() -> TlsConnector {
    let anchors = TrustAnchors::from_pem_file(vectors().join("ca.pem")).unwrap();
    TlsConnector::new(
        ClientConfig::builder(Arc::new(WebPkiServerVerifier::new(anchors)))
            .build()
            .unwrap(),
    )
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Connects (retrying while the server starts) and runs the handshake.
async fn connect(port: u16) -> TlsStream<TcpStream> {
    let t = std::time::Instant::now();
    let sock = loop {
        match TcpStream::connect(("127.0.0.1", port)).await {
            Ok(s) => break s,
            Err(_) if t.elapsed() < DEADLINE => tokio::time::sleep(Duration::from_millis(20)).await,
            Err(e) => panic!("server never listened: {e}"),
        }
    };
    connector().connect("localhost", sock).await.unwrap()
}

fn pattern(i: usize) -> u8 {
    (i % 251) as u8
}

#[tokio::test]
async fn tokio_stream_carries_a_megabyte_both_ways_through_serve() {
    let port = free_port();
    let _server = Killed(
        Command::new(env!("CARGO_BIN_EXE_sanstls"))
            .args(["serve", "--echo", "--threads", "1", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let tls = connect(port).await;
    assert_eq!(tls.conn().protocol_version(), Some(ProtocolVersion::TLSv1_3));
    // Two tasks over one connection: the writer must not lose its wakeups to the reader.
    let (mut rd, mut wr) = tokio::io::split(tls);
    let writer = tokio::spawn(async move {
        let chunk: Vec<u8> = (0..CHUNK).map(pattern).collect();
        for _ in 0..ROUNDS {
            wr.write_all(&chunk).await.unwrap();
        }
        wr.shutdown().await.unwrap(); // close_notify; the echo server answers with its own
    });
    let reader = tokio::spawn(async move {
        let mut back = Vec::new();
        rd.read_to_end(&mut back).await.unwrap();
        back
    });
    let back = tokio::time::timeout(DEADLINE, reader).await.unwrap().unwrap();
    writer.await.unwrap();
    assert_eq!(back.len(), CHUNK * ROUNDS);
    assert!(back
        .chunks(CHUNK)
        .all(|c| c.iter().enumerate().all(|(i, b)| *b == pattern(i))));
}

/// `openssl s_server` prints what it receives and sends its stdin: a megabyte each way.
async fn against_s_server(version: &str, expect: ProtocolVersion) {
    if !have_openssl() {
        return;
    }
    let port = free_port();
    let v = vectors();
    let mut server = Killed(
        Command::new("openssl")
            .args(["s_server", version, "-quiet", "-accept", &port.to_string()])
            .arg("-cert")
            .arg(v.join("localhost-ecdsa-p256.pem"))
            .arg("-key")
            .arg(v.join("localhost-ecdsa-p256.key"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut out = server.0.stdout.take().unwrap();
    let printed = std::thread::spawn(move || {
        let mut got = vec![0u8; CHUNK * ROUNDS];
        out.read_exact(&mut got).map(|_| got)
    });
    let mut tls = connect(port).await;
    assert_eq!(tls.conn().protocol_version(), Some(expect));
    let chunk: Vec<u8> = (0..CHUNK).map(|i| b'a' + (i % 26) as u8).collect();
    let send = async {
        for _ in 0..ROUNDS {
            tls.write_all(&chunk).await.unwrap();
        }
        tls.flush().await.unwrap();
    };
    tokio::time::timeout(DEADLINE, send).await.unwrap();
    let got = tokio::task::spawn_blocking(move || printed.join().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(got.chunks(CHUNK).all(|c| c == chunk.as_slice()));
    let mut stdin = server.0.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        for _ in 0..ROUNDS {
            stdin.write_all(&[b'z'; CHUNK]).unwrap();
        }
        stdin
    });
    let mut back = vec![0u8; CHUNK * ROUNDS];
    tokio::time::timeout(DEADLINE, tls.read_exact(&mut back))
        .await
        .unwrap()
        .unwrap();
    assert!(back.iter().all(|b| *b == b'z'));
    drop(feeder.join().unwrap());
}

#[tokio::test]
async fn tokio_stream_against_openssl_s_server_tls13() {
    against_s_server("-tls1_3", ProtocolVersion::TLSv1_3).await;
}

#[tokio::test]
async fn tokio_stream_against_openssl_s_server_tls12() {
    against_s_server("-tls1_2", ProtocolVersion::TLSv1_2).await;
}

fn have_openssl() -> bool {
    let ok = Command::new("openssl")
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    assert!(
        ok || std::env::var_os("CI").is_none(),
        "openssl is missing under CI"
    );
    ok
}

fn server_config() -> Arc<ServerConfig> {
    let v = vectors();
    let cert = CertifiedKey::from_pem_files(v.join("localhost-rsa2048.pem"), v.join("localhost-rsa2048.key"));
    ServerConfig::builder(cert.unwrap()).build().unwrap()
}

/// What a client flooding a refusing server must see: the alert (RFC 8446 6.2: alert(21),
/// legacy version, length 2, fatal(2), unexpected_message(10)), then a clean end for the
/// reader and the writer, not a reset.
fn assert_alert_then_clean_end(flood: (std::io::Result<()>, Vec<u8>, std::io::Result<()>)) {
    let (wrote, got, end) = flood;
    assert_eq!(got, [21, 3, 3, 0, 2, 2, 10], "{end:?}");
    assert!(end.is_ok(), "{end:?}");
    assert!(wrote.is_ok(), "{wrote:?}");
}

#[tokio::test]
async fn tokio_acceptor_alert_reaches_a_client_still_sending() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let acceptor = TlsAcceptor::new(server_config());
    let server = tokio::spawn(async move {
        let (sock, _) = listener.accept().await.unwrap();
        acceptor.accept(sock).await.map(|_| ())
    });
    let flood = tokio::task::spawn_blocking(move || refused_flood(&addr, early_garbage(256 * 1024)));
    let flood = tokio::time::timeout(DEADLINE, flood).await.unwrap().unwrap();
    let refused = tokio::time::timeout(DEADLINE, server).await.unwrap().unwrap();
    assert_eq!(refused.unwrap_err().kind(), std::io::ErrorKind::InvalidData);
    assert_alert_then_clean_end(flood);
}

#[test]
fn blocking_stream_alert_reaches_a_client_still_sending() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let server = std::thread::spawn(move || {
        let (sock, _) = listener.accept().unwrap();
        sock.set_read_timeout(Some(DEADLINE)).unwrap();
        let mut tls = Stream::new(Connection::server(server_config()).unwrap(), sock);
        tls.handshake()
        // Dropping `tls` closes the socket.
    });
    let flood = refused_flood(&addr, early_garbage(256 * 1024));
    let refused = server.join().unwrap();
    assert_eq!(refused.unwrap_err().kind(), std::io::ErrorKind::InvalidData);
    assert_alert_then_clean_end(flood);
}

#[tokio::test]
async fn tokio_acceptor_echoes_a_megabyte_to_the_blocking_stream() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = TlsAcceptor::new(server_config());
    let server = tokio::spawn(async move {
        let (sock, _) = listener.accept().await.unwrap();
        let mut tls = acceptor.accept(sock).await.unwrap();
        let mut buf = vec![0u8; CHUNK];
        let mut total = 0;
        loop {
            let n = tls.read(&mut buf).await.unwrap();
            if n == 0 {
                break; // the client's close_notify
            }
            total += n;
            tls.write_all(&buf[..n]).await.unwrap();
        }
        tls.shutdown().await.unwrap();
        total
    });
    let client = tokio::task::spawn_blocking(move || {
        let anchors = TrustAnchors::from_pem_file(vectors().join("ca.pem")).unwrap();
        let config = ClientConfig::builder(Arc::new(WebPkiServerVerifier::new(anchors)))
            .build()
            .unwrap();
        let sock = std::net::TcpStream::connect(addr).unwrap();
        sock.set_read_timeout(Some(DEADLINE)).unwrap();
        let mut tls = Stream::new(Connection::client(config, "localhost").unwrap(), sock);
        let chunk: Vec<u8> = (0..CHUNK).map(pattern).collect();
        let mut back = vec![0u8; CHUNK];
        for _ in 0..ROUNDS {
            tls.write_all(&chunk).unwrap();
            tls.read_exact(&mut back).unwrap();
            assert!(back == chunk);
        }
        tls.shutdown().unwrap();
        let mut rest = Vec::new();
        tls.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty());
    });
    tokio::time::timeout(DEADLINE, client).await.unwrap().unwrap();
    assert_eq!(server.await.unwrap(), CHUNK * ROUNDS);
}

/// The adapter's types as tokio-rustls users hold them: connector and acceptor from an
/// `Arc` config, a `ServerName` (or a string) to connect to, the peer's chain as
/// `CertificateDer`s.
#[tokio::test]
async fn connector_takes_a_server_name_and_converts_from_a_config() {
    use sanstls::pki::ServerName;
    let anchors = TrustAnchors::from_pem_file(vectors().join("ca.pem")).unwrap();
    let client = ClientConfig::builder(Arc::new(WebPkiServerVerifier::new(anchors)))
        .build()
        .unwrap();
    let connector = TlsConnector::from(client);
    let acceptor = TlsAcceptor::from(server_config());
    let names: [Box<dyn Fn() -> ServerName>; 2] = [
        Box::new(|| ServerName::try_from("localhost").unwrap()),
        Box::new(|| "127.0.0.1".to_string().try_into().unwrap()),
    ];
    for name in names {
        let (c, s) = tokio::io::duplex(1 << 16);
        let server = tokio::spawn({
            let acceptor = acceptor.clone();
            async move { acceptor.accept(s).await.unwrap() }
        });
        let tls = connector.connect(name(), c).await.unwrap();
        let server = server.await.unwrap();
        let chain: &[sanstls::pki_types::CertificateDer<'static>] = tls.conn().peer_certificates();
        assert_eq!(chain, server.conn().sent_certificates());
        assert!(!chain.is_empty());
    }
    // A string still works; one that is no name is refused before any I/O.
    let (c, _s) = tokio::io::duplex(1 << 16);
    let err = connector.connect("not a name!", c).await.err().unwrap();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}
