//! The blocking `Stream` adapter over real sockets: a megabyte both ways, in-process server,
//! and against `openssl s_server`.

mod common;

use std::io::{BufRead, Read, Write};
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

/// `openssl s_server -tls1_3 -quiet` on a free port (it prints what it receives and sends
/// its stdin), and our client `Stream` connected to it.
fn client_of_openssl_s_server() -> (std::process::Child, Stream<TcpStream>) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let v = vectors();
    let server = std::process::Command::new("openssl")
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
    (server, Stream::new(conn, sock))
}

#[test]
fn stream_against_openssl_s_server() {
    if !interop::have("openssl") {
        return;
    }
    let (mut server, mut tls) = client_of_openssl_s_server();
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

#[test]
fn stream_reads_lines_from_openssl_s_server_in_place() {
    if !interop::have("openssl") {
        return;
    }
    let (mut server, mut tls) = client_of_openssl_s_server();
    tls.handshake().unwrap();
    // s_server sends what it reads from its stdin as it comes: a line may share a record
    // with others or span several (the 40,000-byte one).
    let long = "y".repeat(40_000);
    let text = format!("one\ntwo\n{long}\nthree\n");
    let mut stdin = server.stdin.take().unwrap();
    let lines_in = text.clone();
    let writer = std::thread::spawn(move || {
        for piece in lines_in.as_bytes().chunks(7_000) {
            stdin.write_all(piece).unwrap();
            stdin.flush().unwrap();
        }
        stdin
    });
    let mut lines = Vec::new();
    for _ in 0..4 {
        let mut line = String::new();
        tls.read_line(&mut line).unwrap();
        lines.push(line);
    }
    assert_eq!(lines.concat(), text);
    assert_eq!(lines[2].len(), 40_001);
    // fill_buf waits for the next plaintext too (the Stream does the I/O).
    let mut stdin = writer.join().unwrap();
    stdin.write_all(b"more").unwrap();
    stdin.flush().unwrap();
    let mut more = Vec::new();
    while more.len() < 4 {
        let front = tls.fill_buf().unwrap();
        assert!(!front.is_empty());
        more.extend_from_slice(front);
        let n = front.len();
        tls.consume(n);
    }
    assert_eq!(more, b"more");
    let _ = server.kill();
    let _ = server.wait();
}
