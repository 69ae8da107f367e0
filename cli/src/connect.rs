//! `sanstls connect`: a TLS client between stdin/stdout and a server, on a `mio` loop (the
//! socket and a waker for the stdin thread). `--starttls smtp` speaks SMTP first.

use std::io::{self, BufRead, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token, Waker};
use sanstls::conn::PlaintextPhase;
use sanstls::pki::{ServerCertVerifier, TrustAnchors, WebPkiServerVerifier};
use sanstls::{CertifiedKey, ClientConfig, Connection, Event};

use crate::common::{early_data_word, handshake_summary, BoxError, TlsArgs};

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
    /// PEM file of trusted CA certificates (default: the platform's trusted roots, or the
    /// bundle SSL_CERT_FILE names).
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
    /// Make N further connections, each resuming the previous session (each prints its own
    /// `handshake:` line); earlier ones close once a session ticket arrived.
    #[arg(long, default_value_t = 0)]
    reconnect: u32,
    /// With --reconnect: the connections take turns between HOST:PORT and each --also
    /// address, in order (servers that share resumption state, say).
    #[arg(long, value_name = "HOST:PORT", conflicts_with_all = ["starttls", "dtls"])]
    also: Vec<String>,
    /// Send FILE on the last connection, ahead of stdin: as 0-RTT early data as far as the
    /// resumed session's ticket allows, the rest (or all of it, if the server refuses the
    /// 0-RTT or the ticket allows none) as ordinary data after the handshake. Sent once.
    #[arg(long)]
    early_data: Option<PathBuf>,
    /// PEM client certificate chain for client authentication.
    #[arg(long, requires = "key")]
    cert: Option<PathBuf>,
    /// PEM private key for --cert.
    #[arg(long, requires = "cert")]
    key: Option<PathBuf>,
    /// DTLS over UDP instead of TLS over TCP: offers DTLS 1.3 and 1.2, or what the version
    /// flags leave; stdin's lines go out as datagrams.
    #[arg(long, conflicts_with_all = ["starttls", "reconnect", "early_data"])]
    dtls: bool,
    /// DTLS: the largest datagram to send (bytes).
    #[arg(long, default_value_t = sanstls::dtls::conn::DEFAULT_MTU, requires = "dtls")]
    mtu: usize,
    /// DTLS: offer connection ids, asking for BYTES-long ones in what the server sends
    /// (0..=255; 0: none toward us, but we send the server's).
    #[arg(long, value_name = "BYTES", requires = "dtls",
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(0..=255))]
    cid: Option<usize>,
    /// DTLS: after N writes of stdin data, move to a new UDP socket (a new source port), as a
    /// NAT rebinding would; with --cid the server follows.
    #[arg(long, value_name = "N", requires = "dtls")]
    rebind_after: Option<u64>,
    /// External PSK identity (with --psk): the client then offers the PSK suites (without
    /// --suite: ECDHE_PSK ChaCha20, PSK AES-128-GCM, PSK AES-128-CCM_8) and needs no CA.
    #[arg(long, value_name = "ID", requires = "psk")]
    psk_identity: Option<String>,
    /// The external PSK, as hex digits (with --psk-identity).
    #[arg(long, value_name = "HEX", requires = "psk_identity")]
    psk: Option<String>,
    /// DTLS-SRTP: offer these protection profiles (comma-separated, preference order); the
    /// handshake line then shows `srtp=PROFILE srtp_keys=HEX` (RFC 5764).
    #[arg(long, value_name = "PROFILE[,PROFILE]", requires = "dtls")]
    srtp: Option<String>,
    /// Accept the server by its certificate's fingerprint (SDP form, `sha-256 AB:CD:..` or
    /// `sha-256:AB:CD:..`; repeatable) instead of a CA, as WebRTC does (RFC 8122, RFC 8827).
    #[arg(long, value_name = "FINGERPRINT", conflicts_with = "cafile")]
    fingerprint: Vec<String>,
}

/// How long an earlier connection of `--reconnect` waits for a session ticket after its
/// handshake.
const TICKET_WAIT: Duration = Duration::from_secs(3);

pub fn build_config(args: &Args) -> Result<Arc<ClientConfig>, BoxError> {
    let verifier: Arc<dyn ServerCertVerifier> = match (&args.cafile, args.fingerprint.is_empty(), &args.psk) {
        (_, false, _) => Arc::new(crate::common::fingerprint_verifier(&args.fingerprint)?),
        (Some(path), true, _) => Arc::new(WebPkiServerVerifier::new(TrustAnchors::from_pem_file(path)?)),
        // A PSK-only client checks no certificate: an empty set of anchors will do.
        (None, true, Some(_)) => Arc::new(WebPkiServerVerifier::new(TrustAnchors::default())),
        (None, true, None) => Arc::new(WebPkiServerVerifier::new(TrustAnchors::native()?)),
    };
    let mut builder = ClientConfig::builder(verifier);
    if let (Some(identity), Some(hex)) = (&args.psk_identity, &args.psk) {
        let key = sanstls::conn::decode_hex(hex).ok_or("--psk: expected hex digits")?;
        builder = builder
            .psk(sanstls::ExternalPsk::new(identity.as_bytes(), key)?)
            .cipher_suites(crate::common::PSK_SUITES);
    }
    let mut builder = crate::apply_tls_args!(builder, &args.tls);
    if let Some(list) = &args.srtp {
        builder = builder.srtp_profiles(&crate::common::parse_srtp_profiles(list)?);
    }
    if let (Some(cert), Some(key)) = (&args.cert, &args.key) {
        builder = builder.client_auth_cert(CertifiedKey::from_pem_files(cert, key)?);
    }
    builder = builder.enable_early_data(args.early_data.is_some());
    Ok(builder.build()?)
}

pub fn run(args: Args) -> Result<(), BoxError> {
    if args.tls.log_records {
        crate::common::init_log("info")?;
    }
    let host = host_of(&args.addr)?;
    let name = args.sni.clone().unwrap_or_else(|| host.to_string());
    let config = build_config(&args)?;
    if args.dtls {
        let opts = crate::dtls::ConnectOpts {
            mtu: args.mtu,
            cid: args.cid,
            rebind_after: args.rebind_after,
        };
        return crate::dtls::connect(&args.addr, &name, config, opts);
    }
    let early = match &args.early_data {
        Some(path) => Some(std::fs::read(path)?),
        None => None,
    };
    let mut poll = Poll::new()?;
    // Our own handle keeps the waker's eventfd open: were the stdin thread's handle the last,
    // its exit would close the fd and take its final wake-up out of the poll with it.
    let waker = Arc::new(Waker::new(poll.registry(), STDIN)?);
    let stdin = spawn_stdin_reader(waker.clone());
    // One Connection per round; the config's session store carries the tickets over. FILE
    // goes on the last one only, like stdin.
    let addrs: Vec<&str> = std::iter::once(args.addr.as_str())
        .chain(args.also.iter().map(String::as_str))
        .collect();
    let addr_of = |i: u32| addrs[i as usize % addrs.len()];
    for i in 0..args.reconnect {
        run_one(&args, addr_of(i), &config, &name, &mut poll, None, None)?;
    }
    let last = addr_of(args.reconnect);
    run_one(
        &args,
        last,
        &config,
        &name,
        &mut poll,
        early.as_deref(),
        Some(&stdin),
    )
}

/// One connection. Earlier ones of `--reconnect` (`stdin` is `None`) close once a session
/// ticket arrived (or [`TICKET_WAIT`] after the handshake); the last one runs stdin to the
/// server and the server to stdout.
fn run_one(
    args: &Args,
    addr: &str,
    config: &Arc<ClientConfig>,
    name: &str,
    poll: &mut Poll,
    early: Option<&[u8]>,
    stdin: Option<&mpsc::Receiver<Vec<u8>>>,
) -> Result<(), BoxError> {
    let mut conn = Connection::client(config.clone(), name)?;
    let sock = TcpStream::connect(addr)?;
    sock.set_nodelay(true)?;
    if let Some(StartTls::Smtp) = args.starttls {
        smtp_starttls(&sock)?;
    }
    sock.set_nonblocking(true)?;
    let mut sock = mio::net::TcpStream::from_std(sock);
    poll.registry()
        .register(&mut sock, SOCKET, Interest::READABLE | Interest::WRITABLE)?;
    let result = drive(&mut conn, &mut sock, poll, early, stdin);
    let _ = poll.registry().deregister(&mut sock);
    result
}

fn drive(
    conn: &mut Connection,
    sock: &mut mio::net::TcpStream,
    poll: &mut Poll,
    early: Option<&[u8]>,
    stdin: Option<&mpsc::Receiver<Vec<u8>>>,
) -> Result<(), BoxError> {
    // 0-RTT when the session allows it, bounded by the ticket's max_early_data (RFC 8446
    // 4.2.10, 4.6.1); what does not fit goes after the handshake, ahead of stdin.
    let mut to_send: Vec<u8> = Vec::new();
    let mut sent_early: &[u8] = &[];
    if let Some(data) = early {
        let n = match conn.early_data() {
            Some(mut w) => w.write(data)?,
            None => 0,
        };
        if n < data.len() {
            eprintln!(
                "early data: {n} of {} bytes as 0-RTT, the rest after the handshake",
                data.len()
            );
        }
        sent_early = &data[..n];
        to_send.extend_from_slice(&data[n..]);
    }
    let mut stdout = io::stdout();
    let mut stdin_open = stdin.is_some();
    let mut done_at: Option<Instant> = None;
    let mut sent_close = false;
    let mut events = Events::with_capacity(16);
    loop {
        // Our records out, as far as the socket takes them.
        let mut write_blocked = false;
        while conn.wants_write() {
            match conn.write_tls(sock) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    write_blocked = true;
                    break;
                }
                Err(e) => return Err(e.into()),
            }
        }
        if let Some(e) = conn.error() {
            return Err(format!("connection failed: {e}").into());
        }
        // The server's records in, until the socket runs dry.
        let mut eof = None;
        loop {
            if !conn.wants_read() {
                break;
            }
            match conn.read_tls(sock) {
                Ok(0) => {
                    eof = Some("closed the TCP connection");
                    break;
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset && !conn.is_handshaking() => {
                    eof = Some("reset the TCP connection");
                    break;
                }
                Err(e) => return Err(e.into()),
            }
            if let Err(e) = conn.process_new_packets() {
                // Send our alert before giving up.
                let _ = conn.write_tls(sock);
                return Err(format!("handshake failed: {e}").into());
            }
            let d = deliver(conn, &mut stdout, sent_early, &mut to_send)?;
            if d.ticket && stdin.is_none() {
                done_at = Some(Instant::now());
            } else if d.handshake && stdin.is_none() && done_at.is_none() {
                done_at = Some(Instant::now() + TICKET_WAIT);
            }
            if d.closed {
                conn.send_close_notify();
                let _ = conn.write_tls(sock);
                return Ok(());
            }
        }
        if let Some(how) = eof {
            if conn.is_handshaking() {
                return Err("server closed the connection during the handshake".into());
            }
            // RFC 8446 6.1: without close_notify the end of the data cannot be told from a
            // truncation by an attacker; what was printed may be cut short.
            return Err(format!("server {how} without close_notify: the data may be truncated").into());
        }
        if done_at.is_some_and(|t| Instant::now() >= t) {
            // An earlier connection of --reconnect: its ticket is stored.
            conn.send_close_notify();
            while conn.wants_write() {
                match conn.write_tls(sock) {
                    Ok(n) if n > 0 => {}
                    _ => break,
                }
            }
            return Ok(());
        }
        // stdin to the server once the handshake is done.
        while let (true, Some(stdin)) = (stdin_open, stdin) {
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
        if stdin.is_some() && !stdin_open && to_send.is_empty() && !conn.is_handshaking() {
            // stdin ended and all of it is queued: half-close (RFC 8446 6.1) and keep reading
            // until the server answers with its close_notify (`d.closed` above).
            if !sent_close {
                sent_close = true;
                conn.send_close_notify();
                continue;
            }
        }
        if conn.wants_write() && !write_blocked {
            // Records the server's flight produced (our Finished): out before waiting.
            continue;
        }
        let timeout = match done_at {
            Some(t) => t
                .saturating_duration_since(Instant::now())
                .min(Duration::from_secs(1)),
            None => Duration::from_secs(1),
        };
        if let Err(e) = poll.poll(&mut events, Some(timeout)) {
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e.into());
            }
        }
    }
}

/// What [`deliver`] saw.
#[derive(Default)]
struct Delivered {
    handshake: bool,
    ticket: bool,
    closed: bool,
}

/// Handles events and writes received plaintext to stdout. The 0-RTT data `sent_early`, if
/// refused, goes back to the front of `to_send` (ahead of the rest of the file), to be resent
/// after the handshake.
fn deliver(
    conn: &mut Connection,
    stdout: &mut io::Stdout,
    sent_early: &[u8],
    to_send: &mut Vec<u8>,
) -> Result<Delivered, BoxError> {
    let mut d = Delivered::default();
    while let Some(event) = conn.next_event() {
        match event {
            Event::HandshakeComplete => {
                d.handshake = true;
                eprintln!(
                    "handshake: {} early_data={}",
                    handshake_summary(conn),
                    early_data_word(conn)
                );
            }
            Event::EarlyDataRejected => {
                to_send.splice(0..0, sent_early.iter().copied());
            }
            Event::SessionTicket => d.ticket = true,
            Event::PeerClosed => d.closed = true,
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
    Ok(d)
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
pub(crate) fn spawn_stdin_reader(waker: Arc<Waker>) -> mpsc::Receiver<Vec<u8>> {
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
