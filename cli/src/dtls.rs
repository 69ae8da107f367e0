//! `sanstls connect --dtls` and `sanstls serve --dtls`: DTLS over UDP, 1.3 and 1.2 from one
//! config (the highest both enable wins; `--tls12`/`--tls13`/`--min-version`/`--max-version`
//! restrict it as they do TLS). Kept apart from the TCP tools: a plain loop over a
//! `std::net::UdpSocket` with a short read timeout, the connection's own retransmission timer,
//! and the same `handshake:` line.

use std::collections::HashMap;
use std::io::{self, BufRead, Read, Write};
use std::net::{SocketAddr, UdpSocket};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use sanstls::dtls::{Accepted, DtlsAcceptor, DtlsConfig, DtlsConnection};
use sanstls::{ClientConfig, Event, ServerConfig};

use crate::common::BoxError;

/// How long the client waits for the server's close_notify after its own.
const LINGER: Duration = Duration::from_secs(2);
/// Peers a DTLS server holds at once; more are not accepted until one leaves.
const MAX_PEERS: usize = 1024;
/// A peer silent this long is forgotten.
const IDLE: Duration = Duration::from_secs(300);

/// The `handshake:` line of a DTLS connection, as `common::handshake_summary` for TLS: DTLS
/// 1.2 lines end with ` ems=yes|no`, DTLS 1.3 lines (like TLS 1.3 ones) have no `ems=`.
pub fn summary(conn: &DtlsConnection) -> String {
    fn or_dash<T: std::fmt::Display>(v: Option<T>) -> String {
        v.map(|v| v.to_string()).unwrap_or_else(|| "-".into())
    }
    let alpn = conn
        .alpn_protocol()
        .map(|p| String::from_utf8_lossy(p).into_owned());
    // `extended_master_secret()` is `None` for DTLS 1.3.
    let ems = match conn.extended_master_secret() {
        Some(true) => " ems=yes",
        Some(false) => " ems=no",
        None => "",
    };
    format!(
        "version={} suite={} group={} sigscheme={} alpn={} resumed={}{}",
        or_dash(conn.protocol_version()),
        or_dash(conn.cipher_suite()),
        or_dash(conn.key_exchange_group()),
        or_dash(conn.signature_scheme()),
        or_dash(alpn),
        if conn.is_resumed() { "yes" } else { "no" },
        ems,
    )
}

pub fn dtls_config(mtu: usize) -> DtlsConfig {
    DtlsConfig {
        mtu,
        ..DtlsConfig::default()
    }
}

fn read_plaintext(conn: &mut DtlsConnection) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 16384];
    while let Ok(n) = conn.reader().read(&mut buf) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    out
}

fn send_all(conn: &mut DtlsConnection, sock: &UdpSocket, to: Option<SocketAddr>, buf: &mut [u8]) {
    while let Some(n) = conn.poll_datagram(buf) {
        // A lost datagram is what DTLS is built for; the timer resends handshake flights.
        let _ = match to {
            Some(addr) => sock.send_to(&buf[..n], addr),
            None => sock.send(&buf[..n]),
        };
    }
}

/// Sleep budget for the next socket read: until the connection's timer, at most 50 ms.
fn read_timeout(next: Option<Instant>) -> Duration {
    let cap = Duration::from_millis(50);
    match next {
        Some(t) => t
            .saturating_duration_since(Instant::now())
            .clamp(Duration::from_millis(1), cap),
        None => cap,
    }
}

/// `connect --dtls`: stdin to the server, the server's bytes to stdout. At the end of stdin
/// we send close_notify and wait briefly for the server's.
pub fn connect(addr: &str, name: &str, config: Arc<ClientConfig>, mtu: usize) -> Result<(), BoxError> {
    let target: SocketAddr = std::net::ToSocketAddrs::to_socket_addrs(addr)?
        .next()
        .ok_or("address resolves to nothing")?;
    let local = if target.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
    let sock = UdpSocket::bind(local)?;
    sock.connect(target)?;
    let mut conn = DtlsConnection::client(config, name, dtls_config(mtu), Instant::now())?;
    let stdin = spawn_stdin_reader();
    let mut stdin_open = true;
    let mut to_send = Vec::new();
    let mut closing_since: Option<Instant> = None;
    let mut stdout = io::stdout();
    let mut buf = vec![0u8; 65536];
    loop {
        send_all(&mut conn, &sock, None, &mut buf);
        if let Some(e) = conn.error() {
            return Err(format!("connection failed: {e}").into());
        }
        while let Some(ev) = conn.next_event() {
            match ev {
                Event::HandshakeComplete => eprintln!("handshake: {}", summary(&conn)),
                Event::PeerClosed => {
                    stdout.write_all(&read_plaintext(&mut conn))?;
                    stdout.flush()?;
                    if closing_since.is_none() {
                        conn.send_close_notify();
                        send_all(&mut conn, &sock, None, &mut buf);
                    }
                    return Ok(());
                }
                _ => {}
            }
        }
        let data = read_plaintext(&mut conn);
        if !data.is_empty() {
            stdout.write_all(&data)?;
            stdout.flush()?;
        }
        while stdin_open {
            match stdin.try_recv() {
                Ok(chunk) => to_send.extend_from_slice(&chunk),
                Err(mpsc::TryRecvError::Empty) => break,
                Err(mpsc::TryRecvError::Disconnected) => stdin_open = false,
            }
        }
        if !conn.is_handshaking() {
            if !to_send.is_empty() {
                let n = conn.writer().write(&to_send).unwrap_or(0);
                to_send.drain(..n);
                continue;
            }
            if !stdin_open && closing_since.is_none() {
                conn.send_close_notify();
                closing_since = Some(Instant::now());
                continue;
            }
        }
        if closing_since.is_some_and(|t| t.elapsed() >= LINGER) {
            return Ok(());
        }
        sock.set_read_timeout(Some(read_timeout(conn.poll_timeout())))?;
        // An error is nothing yet, or the server's port refusing an earlier datagram.
        if let Ok(n) = sock.recv(&mut buf) {
            if let Err(e) = conn.recv_datagram(&buf[..n], Instant::now()) {
                send_all(&mut conn, &sock, None, &mut buf);
                return Err(format!("handshake failed: {e}").into());
            }
        }
        let now = Instant::now();
        if conn.poll_timeout().is_some_and(|t| t <= now) {
            if let Err(e) = conn.handle_timeout(now) {
                return Err(format!("handshake failed: {e}").into());
            }
        }
    }
}

fn spawn_stdin_reader() -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let stdin = io::stdin();
        let mut stdin = stdin.lock();
        loop {
            let chunk = match stdin.fill_buf() {
                Ok([]) | Err(_) => break,
                Ok(b) => b.to_vec(),
            };
            stdin.consume(chunk.len());
            if tx.send(chunk).is_err() {
                break;
            }
        }
    });
    rx
}

struct Peer {
    conn: DtlsConnection,
    last_seen: Instant,
}

/// `serve --dtls`: an echo server over UDP. A ClientHello without a valid cookie gets an
/// answer from the stateless acceptor and leaves nothing behind: a HelloVerifyRequest when it
/// is a DTLS 1.2 hello (RFC 6347 4.2.1), a HelloRetryRequest carrying the cookie extension
/// when it offers DTLS 1.3 (RFC 9147 5.1); a cookie that checks out starts a connection for
/// that address. Each connection prints its `handshake:` line and echoes
/// what it receives; a close_notify is answered and the peer forgotten.
pub fn serve(listen: &str, config: Arc<ServerConfig>, versions: &str, mtu: usize) -> Result<(), BoxError> {
    let sock = UdpSocket::bind(listen)?;
    eprintln!(
        "listening on {} (DTLS {versions}, UDP, MTU {mtu})",
        sock.local_addr()?
    );
    let mut acceptor = DtlsAcceptor::new(config, dtls_config(mtu), Instant::now())?;
    let mut peers: HashMap<SocketAddr, Peer> = HashMap::new();
    let mut buf = vec![0u8; 65536];
    loop {
        let next = peers.values().filter_map(|p| p.conn.poll_timeout()).min();
        sock.set_read_timeout(Some(read_timeout(next)))?;
        if let Ok((n, from)) = sock.recv_from(&mut buf) {
            let now = Instant::now();
            let datagram = buf[..n].to_vec();
            let full = peers.len() >= MAX_PEERS;
            match peers.get_mut(&from) {
                Some(p) => {
                    p.last_seen = now;
                    let _ = p.conn.recv_datagram(&datagram, now);
                }
                None if !full => match acceptor.accept(&datagram, from.to_string().as_bytes(), now) {
                    Accepted::HelloVerifyRequest(reply) | Accepted::HelloRetryRequest(reply) => {
                        let _ = sock.send_to(&reply, from);
                    }
                    Accepted::Connection(conn) => {
                        peers.insert(
                            from,
                            Peer {
                                conn: *conn,
                                last_seen: now,
                            },
                        );
                    }
                    Accepted::Dropped => {}
                },
                None => {}
            }
        }
        let now = Instant::now();
        let mut gone = Vec::new();
        for (addr, p) in peers.iter_mut() {
            if p.conn.poll_timeout().is_some_and(|t| t <= now) {
                let _ = p.conn.handle_timeout(now);
            }
            let mut closed = false;
            while let Some(ev) = p.conn.next_event() {
                match ev {
                    Event::HandshakeComplete => eprintln!("handshake: {} peer={addr}", summary(&p.conn)),
                    Event::PeerClosed => closed = true,
                    _ => {}
                }
            }
            let data = read_plaintext(&mut p.conn);
            if !data.is_empty() {
                let _ = p.conn.writer().write(&data);
            }
            if closed {
                p.conn.send_close_notify();
            }
            send_all(&mut p.conn, &sock, Some(*addr), &mut buf);
            if let Some(e) = p.conn.error() {
                eprintln!("connection from {addr} failed: {e}");
                gone.push(*addr);
            } else if closed || now.saturating_duration_since(p.last_seen) > IDLE {
                gone.push(*addr);
            }
        }
        for addr in gone {
            peers.remove(&addr);
        }
    }
}
