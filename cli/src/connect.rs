//! `sanstls connect`: a TLS client between stdin/stdout and a server, on a `mio` loop (the
//! socket and a waker for the stdin thread). `--starttls smtp` speaks SMTP first.

use std::io::{self, BufRead, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::{mpsc, Arc};
use std::time::Duration;

use mio::{Events, Interest, Poll, Token, Waker};
use sanstls::conn::PlaintextPhase;
use sanstls::pki::{TrustAnchors, WebPkiServerVerifier};
use sanstls::{ClientConfig, Connection, Event};

use crate::common::{handshake_summary, BoxError, TlsArgs};

/// The trust store used when no `--cafile` is given.
const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

const SOCKET: Token = Token(0);
const STDIN: Token = Token(1);

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum StartTls {
    /// SMTP (RFC 3207): EHLO, STARTTLS, then TLS.
    Smtp,
}

#[derive(clap::Args)]
pub struct Args {
    /// Server address, HOST:PORT.
    addr: String,
    /// PEM file of trusted CA certificates (default: the system bundle).
    #[arg(long)]
    cafile: Option<PathBuf>,
    /// Server name to send and verify (default: HOST).
    #[arg(long)]
    sni: Option<String>,
    #[command(flatten)]
    tls: TlsArgs,
    /// Speak this protocol in plaintext first and upgrade with its STARTTLS command. Bytes the
    /// server sends after its go-ahead reply refuse the upgrade (plaintext injection).
    #[arg(long, value_enum)]
    starttls: Option<StartTls>,
}

pub fn build_config(args: &Args) -> Result<Arc<ClientConfig>, BoxError> {
    let anchors = TrustAnchors::from_pem_file(args.cafile.as_deref().unwrap_or(SYSTEM_CA_BUNDLE.as_ref()))?;
    let builder = ClientConfig::builder(Arc::new(WebPkiServerVerifier::new(anchors)));
    let builder = crate::apply_tls_args!(builder, &args.tls);
    Ok(builder.build()?)
}

pub fn run(args: Args) -> Result<(), BoxError> {
    if args.tls.log_records {
        crate::common::init_log("info")?;
    }
    let host = host_of(&args.addr)?;
    let name = args.sni.clone().unwrap_or_else(|| host.to_string());
    let config = build_config(&args)?;
    let mut conn = Connection::client(config, &name)?;
    let sock = TcpStream::connect(&args.addr)?;
    sock.set_nodelay(true)?;
    if let Some(StartTls::Smtp) = args.starttls {
        smtp_starttls(&sock)?;
    }
    sock.set_nonblocking(true)?;
    let mut sock = mio::net::TcpStream::from_std(sock);

    let mut poll = Poll::new()?;
    poll.registry()
        .register(&mut sock, SOCKET, Interest::READABLE | Interest::WRITABLE)?;
    let waker = Arc::new(Waker::new(poll.registry(), STDIN)?);
    let stdin = spawn_stdin_reader(waker);
    let mut stdout = io::stdout();
    let mut stdin_open = true;
    let mut to_send: Vec<u8> = Vec::new();
    let mut events = Events::with_capacity(16);
    loop {
        // Our records out, as far as the socket takes them.
        while conn.wants_write() {
            match conn.write_tls(&mut sock) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e.into()),
            }
        }
        if let Some(e) = conn.error() {
            return Err(format!("connection failed: {e}").into());
        }
        // The server's records in, until the socket runs dry.
        let mut eof = false;
        loop {
            if !conn.wants_read() {
                break;
            }
            match conn.read_tls(&mut sock) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
            if let Err(e) = conn.process_new_packets() {
                // Send our alert before giving up.
                let _ = conn.write_tls(&mut sock);
                return Err(format!("handshake failed: {e}").into());
            }
            if deliver(&mut conn, &mut stdout)? {
                conn.send_close_notify();
                let _ = conn.write_tls(&mut sock);
                return Ok(());
            }
        }
        if eof {
            if conn.is_handshaking() {
                return Err("server closed the connection during the handshake".into());
            }
            return Ok(());
        }
        // stdin to the server once the handshake is done.
        while stdin_open {
            match stdin.try_recv() {
                Ok(chunk) => to_send.extend_from_slice(&chunk),
                Err(mpsc::TryRecvError::Empty) => break,
                Err(mpsc::TryRecvError::Disconnected) => stdin_open = false,
            }
        }
        if !conn.is_handshaking() && !to_send.is_empty() {
            match conn.writer().write(&to_send) {
                Ok(n) => {
                    to_send.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e.into()),
            }
            if conn.wants_write() {
                continue;
            }
        }
        if let Err(e) = poll.poll(&mut events, Some(Duration::from_secs(1))) {
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e.into());
            }
        }
    }
}

/// Handles events and writes received plaintext to stdout. True once the server closed.
fn deliver(conn: &mut Connection, stdout: &mut io::Stdout) -> Result<bool, BoxError> {
    let mut closed = false;
    while let Some(event) = conn.next_event() {
        match event {
            Event::HandshakeComplete => eprintln!("handshake: {}", handshake_summary(conn)),
            Event::PeerClosed => closed = true,
            _ => {}
        }
    }
    let mut buf = [0u8; 16384];
    loop {
        match conn.reader().read(&mut buf) {
            Ok(0) => break,
            Ok(n) => stdout.write_all(&buf[..n])?,
            Err(_) => break,
        }
    }
    stdout.flush()?;
    Ok(closed)
}

/// RFC 3207: read the greeting, EHLO, STARTTLS, read the 220 go-ahead. Anything the server
/// sent after the go-ahead refuses the upgrade ([`PlaintextPhase::finish`]).
fn smtp_starttls(sock: &TcpStream) -> Result<(), BoxError> {
    sock.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut phase = PlaintextPhase::new(64 * 1024);
    let mut rd = sock;
    let (code, _) = smtp_reply(&mut phase, &mut rd)?;
    if code != 220 {
        return Err(format!("SMTP greeting {code}").into());
    }
    (&*sock).write_all(b"EHLO sanstls.invalid\r\n")?;
    let (code, lines) = smtp_reply(&mut phase, &mut rd)?;
    if code != 250 {
        return Err(format!("SMTP EHLO refused: {code}").into());
    }
    if !lines
        .iter()
        .any(|l| l.get(4..).is_some_and(|k| k.eq_ignore_ascii_case("STARTTLS")))
    {
        return Err("the SMTP server does not offer STARTTLS".into());
    }
    (&*sock).write_all(b"STARTTLS\r\n")?;
    let (code, _) = smtp_reply(&mut phase, &mut rd)?;
    if code != 220 {
        return Err(format!("SMTP STARTTLS refused: {code}").into());
    }
    phase.finish()?;
    sock.set_read_timeout(None)?;
    Ok(())
}

/// One SMTP reply (RFC 5321 4.2: `CODE-text` lines, then `CODE text`): code and lines.
fn smtp_reply(phase: &mut PlaintextPhase, rd: &mut &TcpStream) -> Result<(u16, Vec<String>), BoxError> {
    let mut lines = Vec::new();
    loop {
        while let Some(line) = phase.next_line() {
            let line = String::from_utf8_lossy(&line).into_owned();
            let code: u16 = line
                .get(..3)
                .and_then(|c| c.parse().ok())
                .ok_or_else(|| format!("bad SMTP reply line {line:?}"))?;
            let last = line.as_bytes().get(3) != Some(&b'-');
            lines.push(line);
            if last {
                return Ok((code, lines));
            }
        }
        let mut buf = [0u8; 4096];
        let n = rd.read(&mut buf)?;
        if n == 0 {
            return Err("SMTP server closed the connection".into());
        }
        phase.push(&buf[..n])?;
    }
}

fn host_of(addr: &str) -> Result<&str, BoxError> {
    let (host, _port) = addr.rsplit_once(':').ok_or("address must be HOST:PORT")?;
    Ok(host.trim_start_matches('[').trim_end_matches(']'))
}

/// Reads stdin on its own thread (blocking std I/O), hands chunks over a channel and wakes
/// the loop.
fn spawn_stdin_reader(waker: Arc<Waker>) -> mpsc::Receiver<Vec<u8>> {
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
            let _ = waker.wake();
        }
        drop(tx);
        let _ = waker.wake();
    });
    rx
}
