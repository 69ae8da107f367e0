//! `sanstls connect`: a blocking TLS client between stdin/stdout and a server.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::{mpsc, Arc};
use std::time::Duration;

use sanstls::pki::{TrustAnchors, WebPkiServerVerifier};
use sanstls::{ClientConfig, Connection, Event, KeyLogFile};

use crate::common::{handshake_summary, parse_groups, parse_suites, BoxError, VersionArgs};

/// The trust store used when no `--cafile` is given.
const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

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
    /// ALPN protocol to offer (repeat for several, in preference order).
    #[arg(long = "alpn")]
    alpn: Vec<String>,
    /// Cipher suite to offer by IANA name (repeatable).
    #[arg(long = "suite")]
    suites: Vec<String>,
    /// Key-exchange group to offer: x25519, secp256r1, secp384r1 (repeatable).
    #[arg(long = "group")]
    groups: Vec<String>,
    /// Append NSS key log lines to FILE.
    #[arg(long)]
    keylog: Option<PathBuf>,
    #[command(flatten)]
    versions: VersionArgs,
}

pub fn run(args: Args) -> Result<(), BoxError> {
    let host = host_of(&args.addr)?;
    let name = args.sni.clone().unwrap_or_else(|| host.to_string());
    let anchors = TrustAnchors::from_pem_file(args.cafile.as_deref().unwrap_or(SYSTEM_CA_BUNDLE.as_ref()))?;
    let mut builder = ClientConfig::builder(Arc::new(WebPkiServerVerifier::new(anchors)));
    if !args.suites.is_empty() {
        builder = builder.cipher_suites(&parse_suites(&args.suites)?);
    }
    if !args.groups.is_empty() {
        builder = builder.groups(&parse_groups(&args.groups)?);
    }
    if !args.alpn.is_empty() {
        builder = builder.alpn_protocols(&args.alpn);
    }
    if let Some(versions) = args.versions.versions()? {
        builder = builder.versions(&versions);
    }
    if let Some(path) = &args.keylog {
        builder = builder.key_log(Arc::new(KeyLogFile::create(path)?));
    }
    let config = builder.build()?;
    let mut conn = Connection::client(config, &name)?;
    let mut sock = TcpStream::connect(&args.addr)?;
    sock.set_nodelay(true)?;
    sock.set_read_timeout(Some(Duration::from_millis(20)))?;

    let stdin = spawn_stdin_reader();
    let mut stdout = io::stdout();
    let mut stdin_open = true;
    loop {
        while conn.wants_write() {
            if conn.write_tls(&mut sock)? == 0 {
                break;
            }
        }
        if let Some(e) = conn.error() {
            return Err(format!("connection failed: {e}").into());
        }
        match conn.read_tls(&mut sock) {
            Ok(0) => {
                if conn.is_handshaking() {
                    return Err("server closed the connection during the handshake".into());
                }
                return Ok(());
            }
            Ok(_) => {}
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
            Err(e) => return Err(e.into()),
        }
        if let Err(e) = conn.process_new_packets() {
            // Send our alert before giving up.
            let _ = conn.write_tls(&mut sock);
            return Err(format!("handshake failed: {e}").into());
        }
        let mut closed = false;
        while let Some(event) = conn.next_event() {
            match event {
                Event::HandshakeComplete => eprintln!("handshake: {}", handshake_summary(&conn)),
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
        if closed {
            conn.send_close_notify();
            let _ = conn.write_tls(&mut sock);
            return Ok(());
        }
        if stdin_open && !conn.is_handshaking() {
            loop {
                match stdin.try_recv() {
                    Ok(chunk) => conn.writer().write_all(&chunk)?,
                    Err(mpsc::TryRecvError::Empty) => break,
                    Err(mpsc::TryRecvError::Disconnected) => {
                        stdin_open = false;
                        break;
                    }
                }
            }
        }
    }
}

fn host_of(addr: &str) -> Result<&str, BoxError> {
    let (host, _port) = addr.rsplit_once(':').ok_or("address must be HOST:PORT")?;
    Ok(host.trim_start_matches('[').trim_end_matches(']'))
}

/// Reads stdin on its own thread (blocking std I/O) and hands chunks over a channel.
fn spawn_stdin_reader() -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut stdin = io::stdin();
        let mut buf = [0u8; 16384];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if tx.send(buf[..n].to_vec()).is_err() {
                        return;
                    }
                }
            }
        }
    });
    rx
}
