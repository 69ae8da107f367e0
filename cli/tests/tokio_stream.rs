//! The tokio adapter (`sanstls::tokio_io`, feature `tokio`) over real sockets: a megabyte both
//! ways against `sanstls serve --echo` (reader and writer in two tasks over a split stream) and
//! against `openssl s_server` with TLS 1.3 and TLS 1.2; and the acceptor serving the blocking
//! `Stream`. Both adapters, as servers refusing a client still sending, drain it so that their
//! alert arrives. `TlsStream` as an `AsyncBufRead`: lines from `openssl s_server`, and 0-RTT
//! data lent first.

mod support;
use support::{early_garbage, free_port, refused_flood, Killed};

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use sanstls::codec::AlertDescription;
use sanstls::codec::ProtocolVersion;
use sanstls::pki::{TrustAnchors, WebPkiServerVerifier};
use sanstls::tokio_io::{LazyConfigAcceptor, TlsAcceptor, TlsConnector, TlsStream};
use sanstls::{CertifiedKey, ClientConfig, Connection, ServerConfig, Stream};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
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

/// `openssl s_server -quiet` with the P-256 test certificate on `port`, `version` one of its
/// protocol flags: it prints what it receives and sends its stdin.
fn s_server(version: &str, port: u16) -> Killed {
    let v = vectors();
    Killed(
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
    )
}

/// `openssl s_server` prints what it receives and sends its stdin: a megabyte each way.
async fn against_s_server(version: &str, expect: ProtocolVersion) {
    if !have_openssl() {
        return;
    }
    let port = free_port();
    let mut server = s_server(version, port);
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

/// `TlsStream` as an `AsyncBufRead`: `read_line` over what `openssl s_server` sends from its
/// stdin in 7,000-byte pieces (lines sharing records, one of 40,000 bytes across several).
#[tokio::test]
async fn tokio_stream_reads_lines_from_openssl_s_server() {
    if !have_openssl() {
        return;
    }
    let port = free_port();
    let mut server = s_server("-tls1_3", port);
    let mut tls = connect(port).await;
    let long = "w".repeat(40_000);
    let text = format!("one\ntwo\n{long}\nthree\n");
    let mut stdin = server.0.stdin.take().unwrap();
    let lines_in = text.clone();
    let feeder = std::thread::spawn(move || {
        for piece in lines_in.as_bytes().chunks(7_000) {
            stdin.write_all(piece).unwrap();
            stdin.flush().unwrap();
        }
        stdin
    });
    let read = async {
        let mut lines = Vec::new();
        for _ in 0..4 {
            let mut line = String::new();
            tls.read_line(&mut line).await.unwrap();
            lines.push(line);
        }
        lines
    };
    let lines = tokio::time::timeout(DEADLINE, read).await.unwrap();
    assert_eq!(lines.concat(), text);
    assert_eq!(lines[2].len(), 40_001);
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

fn client_config(early_data: bool) -> Arc<ClientConfig> {
    let anchors = TrustAnchors::from_pem_file(vectors().join("ca.pem")).unwrap();
    ClientConfig::builder(Arc::new(WebPkiServerVerifier::new(anchors)))
        .alpn_protocols(&["h2", "http/1.1"])
        .enable_early_data(early_data)
        .build()
        .unwrap()
}

#[tokio::test]
async fn lazy_acceptor_shows_the_client_hello_and_takes_the_chosen_config() {
    let (client_io, server_io) = tokio::io::duplex(4096);
    let server = tokio::spawn(async move {
        let start = LazyConfigAcceptor::new(server_io).await.unwrap();
        let hello = start.client_hello();
        assert_eq!(hello.server_name.as_deref(), Some("localhost"));
        assert_eq!(hello.alpn, [b"h2".to_vec(), b"http/1.1".to_vec()]);
        // The config chosen from the hello: its ALPN preference decides.
        let v = vectors();
        let key =
            CertifiedKey::from_pem_files(v.join("localhost-ed25519.pem"), v.join("localhost-ed25519.key"))
                .unwrap();
        let config = ServerConfig::builder(key)
            .alpn_protocols(&["http/1.1"])
            .build()
            .unwrap();
        let mut tls = start.into_stream(config).await.unwrap();
        let mut buf = [0u8; 5];
        tls.read_exact(&mut buf).await.unwrap();
        tls.write_all(&buf).await.unwrap();
        tls.shutdown().await.unwrap();
    });
    let mut tls = TlsConnector::from(client_config(false))
        .connect("localhost", client_io)
        .await
        .unwrap();
    assert_eq!(tls.conn().alpn_protocol(), Some(&b"http/1.1"[..]));
    assert_eq!(
        tls.conn().signature_scheme(),
        Some(sanstls::codec::SignatureScheme::ed25519)
    );
    tls.write_all(b"hello").await.unwrap();
    let mut back = Vec::new();
    tls.read_to_end(&mut back).await.unwrap();
    assert_eq!(back, b"hello");
    tokio::time::timeout(DEADLINE, server).await.unwrap().unwrap();
}

#[tokio::test]
async fn lazy_acceptor_rejects_with_the_chosen_alert() {
    let (client_io, server_io) = tokio::io::duplex(4096);
    let server = tokio::spawn(async move {
        let start = LazyConfigAcceptor::new(server_io).await.unwrap();
        start.reject(AlertDescription::UnrecognizedName).await
    });
    let err = TlsConnector::from(client_config(false))
        .connect("localhost", client_io)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("unrecognized_name"), "{err}");
    let refused = tokio::time::timeout(DEADLINE, server).await.unwrap().unwrap();
    assert_eq!(refused.unwrap_err().kind(), std::io::ErrorKind::ConnectionRefused);
}

#[tokio::test]
async fn tls_stream_wraps_a_connection_the_caller_made() {
    let (client_io, server_io) = tokio::io::duplex(4096);
    let acceptor = TlsAcceptor::from(server_config());
    let server = tokio::spawn(async move {
        let mut tls = acceptor.accept(server_io).await.unwrap();
        tls.write_all(b"from the server").await.unwrap();
        tls.shutdown().await.unwrap();
    });
    let mut conn = Connection::client(client_config(false), "localhost").unwrap();
    // Queued before any I/O: goes out once the handshake opens the write keys.
    conn.writer().write_all(b"queued").unwrap();
    let mut tls = TlsStream::new(conn, client_io);
    assert!(tls.conn().is_handshaking());
    tls.handshake().await.unwrap();
    assert!(!tls.conn().is_handshaking());
    let mut back = Vec::new();
    tls.read_to_end(&mut back).await.unwrap();
    assert_eq!(back, b"from the server");
    tokio::time::timeout(DEADLINE, server).await.unwrap().unwrap();
}

/// One resumed connection with 0-RTT through the tokio adapter on both ends: the client's
/// first write goes out as early data before the handshake completes, and the server reads
/// it from the stream ahead of the 1-RTT data. With `refuse`, the server's second config
/// has a fresh ticket key, so it refuses the PSK and the client sends the bytes again.
/// What the server of a resumed connection got (read with `read_to_end`, or `lent` through
/// `AsyncBufRead`), and the client's and the server's 0-RTT status.
async fn zero_rtt(refuse: bool, lent: bool) -> (Vec<u8>, Option<bool>, Option<bool>) {
    let server_config = |tickets| {
        ServerConfig::builder(
            CertifiedKey::from_pem_files(
                vectors().join("localhost-ecdsa-p256.pem"),
                vectors().join("localhost-ecdsa-p256.key"),
            )
            .unwrap(),
        )
        .tickets(tickets)
        .max_early_data(4096)
        .build()
        .unwrap()
    };
    let first = server_config(2);
    let second = if refuse { server_config(0) } else { first.clone() };
    let connector = TlsConnector::from(client_config(true)).early_data(true);

    // A full handshake for the ticket: one round trip so the tickets are read.
    let (client_io, server_io) = tokio::io::duplex(16384);
    let acceptor = TlsAcceptor::from(first);
    let server = tokio::spawn(async move {
        let mut tls = acceptor.accept(server_io).await.unwrap();
        let mut b = [0u8; 1];
        tls.read_exact(&mut b).await.unwrap();
        tls.write_all(&b).await.unwrap();
        tls.shutdown().await.unwrap();
    });
    let mut tls = connector.connect("localhost", client_io).await.unwrap();
    tls.write_all(b"x").await.unwrap();
    let mut b = Vec::new();
    tls.read_to_end(&mut b).await.unwrap();
    server.await.unwrap();

    let (client_io, server_io) = tokio::io::duplex(16384);
    let acceptor = TlsAcceptor::from(second);
    let server = tokio::spawn(async move {
        let mut tls = acceptor.accept(server_io).await.unwrap();
        let mut got = Vec::new();
        if lent {
            loop {
                let front = tls.fill_buf().await.unwrap();
                if front.is_empty() {
                    break;
                }
                got.extend_from_slice(front);
                let n = front.len();
                tls.consume(n);
            }
        } else {
            tls.read_to_end(&mut got).await.unwrap();
        }
        let accepted = tls.conn().early_data_status();
        tls.shutdown().await.unwrap();
        (got, accepted)
    });
    let mut tls = connector.connect("localhost", client_io).await.unwrap();
    // connect returned before the handshake: this write is 0-RTT.
    assert!(tls.conn().is_handshaking());
    tls.write_all(b"early ").await.unwrap();
    tls.handshake().await.unwrap();
    tls.write_all(b"then 1-RTT").await.unwrap();
    tls.shutdown().await.unwrap();
    let client_status = tls.conn().early_data_status();
    let mut rest = Vec::new();
    tls.read_to_end(&mut rest).await.unwrap();
    let (got, server_status) = tokio::time::timeout(DEADLINE, server).await.unwrap().unwrap();
    (got, client_status, server_status)
}

#[tokio::test]
async fn zero_rtt_through_the_tokio_adapter_is_read_first_by_the_server() {
    let (got, client, server) = zero_rtt(false, false).await;
    assert_eq!((client, server), (Some(true), Some(true)), "0-RTT accepted");
    assert_eq!(got, b"early then 1-RTT");
}

#[tokio::test]
async fn zero_rtt_is_lent_first_through_async_buf_read() {
    let (got, client, server) = zero_rtt(false, true).await;
    assert_eq!((client, server), (Some(true), Some(true)), "0-RTT accepted");
    assert_eq!(got, b"early then 1-RTT");
}

#[tokio::test]
async fn refused_zero_rtt_through_the_tokio_adapter_is_sent_again() {
    let (got, client, server) = zero_rtt(true, false).await;
    assert_eq!(client, Some(false), "0-RTT refused");
    assert_ne!(server, Some(true));
    assert_eq!(got, b"early then 1-RTT");
}

/// The adapter's 0-RTT against `sanstls serve --echo --max-early-data`: the echo of the
/// early bytes comes back, and both sides agree it was accepted.
#[tokio::test]
async fn tokio_zero_rtt_against_serve() {
    let port = free_port();
    let _server = Killed(
        Command::new(env!("CARGO_BIN_EXE_sanstls"))
            .args([
                "serve",
                "--echo",
                "--max-early-data",
                "4096",
                "--tickets",
                "2",
                "--listen",
            ])
            .arg(format!("127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let connector = TlsConnector::from(client_config(true)).early_data(true);
    let mut tls = connect_with(&connector, port).await;
    tls.write_all(b"x").await.unwrap();
    let mut b = [0u8; 1];
    tls.read_exact(&mut b).await.unwrap();
    tls.shutdown().await.unwrap();

    let mut tls = connect_with(&connector, port).await;
    assert!(
        tls.conn().is_handshaking(),
        "connect returned before the handshake"
    );
    tls.write_all(b"early").await.unwrap();
    let mut back = [0u8; 5];
    tokio::time::timeout(DEADLINE, tls.read_exact(&mut back))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&back, b"early");
    assert_eq!(tls.conn().early_data_status(), Some(true));
}

async fn connect_with(connector: &TlsConnector, port: u16) -> TlsStream<TcpStream> {
    let t = std::time::Instant::now();
    let sock = loop {
        match TcpStream::connect(("127.0.0.1", port)).await {
            Ok(s) => break s,
            Err(_) if t.elapsed() < DEADLINE => tokio::time::sleep(Duration::from_millis(20)).await,
            Err(e) => panic!("server never listened: {e}"),
        }
    };
    connector.connect("localhost", sock).await.unwrap()
}

/// The adapter's 0-RTT against `openssl s_server -early_data`, which prints the early data it
/// accepted: the resumed connection's first write arrives as 0-RTT and is accepted.
#[tokio::test]
async fn tokio_zero_rtt_against_openssl_s_server() {
    assert!(have_openssl(), "openssl is needed for this test");
    let port = free_port();
    let v = vectors();
    let mut server = Killed(
        Command::new("openssl")
            .args(["s_server", "-tls1_3", "-early_data", "-no_anti_replay", "-quiet"])
            .args(["-accept", &port.to_string()])
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
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = out.read(&mut buf) {
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
            let _ = tx.send(seen.clone());
        }
    });
    let wait_for = |needle: &[u8]| loop {
        let seen = rx.recv_timeout(DEADLINE).expect("s_server printed it");
        if seen.windows(needle.len()).any(|w| w == needle) {
            break;
        }
    };
    let connector = TlsConnector::from(client_config(true)).early_data(true);
    let mut tls = connect_with(&connector, port).await;
    tls.write_all(b"first\n").await.unwrap();
    wait_for(b"first\n");
    // s_server sends its tickets after the handshake: read them (no data comes).
    let mut buf = [0u8; 16];
    let _ = tokio::time::timeout(Duration::from_millis(500), tls.read(&mut buf)).await;
    drop(tls);

    let mut tls = connect_with(&connector, port).await;
    assert!(
        tls.conn().is_handshaking(),
        "connect returned before the handshake"
    );
    tls.write_all(b"early-hello\n").await.unwrap();
    tls.handshake().await.unwrap();
    assert_eq!(tls.conn().early_data_status(), Some(true));
    wait_for(b"early-hello\n");
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
