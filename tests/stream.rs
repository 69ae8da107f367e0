//! The blocking `Stream` adapter over real sockets: a megabyte both ways, in-process server,
//! and against `openssl s_server`.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use common::*;
use sanstls::{Connection, Stream};

const CHUNK: usize = 16384;
const ROUNDS: usize = 64; // 1 MiB

#[test]
fn stream_carries_a_megabyte_both_ways() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (sock, _) = listener.accept().unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let conn = Connection::server(server_builder("ecdsa-p256").build().unwrap()).unwrap();
        let mut tls = Stream::new(conn, sock);
        let mut buf = [0u8; CHUNK];
        let mut total = 0;
        loop {
            let n = tls.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            total += n;
            tls.write_all(&buf[..n]).unwrap();
        }
        tls.shutdown().unwrap();
        total
    });
    let sock = TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let conn = Connection::client(client_builder().build().unwrap(), "localhost").unwrap();
    let mut tls = Stream::new(conn, sock);
    tls.handshake().unwrap();
    assert!(!tls.conn.is_handshaking());
    let chunk: Vec<u8> = (0..CHUNK).map(|i| (i % 251) as u8).collect();
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
    assert_eq!(server.join().unwrap(), CHUNK * ROUNDS);
}

#[test]
fn stream_against_openssl_s_server() {
    if !interop::have("openssl") {
        return;
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let v = vectors();
    let mut server = std::process::Command::new("openssl")
        .args(["s_server", "-tls1_3", "-quiet", "-accept", &port.to_string()])
        .arg("-cert")
        .arg(v.join("localhost-rsa2048.pem"))
        .arg("-key")
        .arg(v.join("localhost-rsa2048.key"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t = std::time::Instant::now();
    let sock = loop {
        if let Ok(s) = TcpStream::connect(("127.0.0.1", port)) {
            break s;
        }
        assert!(t.elapsed() < Duration::from_secs(20), "s_server never listened");
        std::thread::sleep(Duration::from_millis(20));
    };
    sock.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let conn = Connection::client(client_builder().build().unwrap(), "localhost").unwrap();
    let mut tls = Stream::new(conn, sock);
    // Client to server: s_server prints what it receives on stdout.
    let mut out = server.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut got = vec![0u8; CHUNK * ROUNDS];
        out.read_exact(&mut got).map(|_| got)
    });
    let chunk: Vec<u8> = (0..CHUNK).map(|i| b'a' + (i % 26) as u8).collect();
    for _ in 0..ROUNDS {
        tls.write_all(&chunk).unwrap();
    }
    let got = reader.join().unwrap().unwrap();
    assert!(got.chunks(CHUNK).all(|c| c == chunk.as_slice()));
    // Server to client: s_server sends its stdin.
    let mut stdin = server.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        for _ in 0..ROUNDS {
            stdin.write_all(&[b'z'; CHUNK]).unwrap();
        }
        stdin
    });
    let mut back = vec![0u8; CHUNK * ROUNDS];
    tls.read_exact(&mut back).unwrap();
    assert!(back.iter().all(|b| *b == b'z'));
    drop(writer.join().unwrap());
    let _ = server.kill();
    let _ = server.wait();
}
