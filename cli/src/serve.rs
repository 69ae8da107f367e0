//! `sanstls serve`: a TLS server, one thread per connection (the event loop comes later).
//! `--http` (default) answers each request with a page of the negotiated parameters;
//! `--echo` echoes bytes back.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use sanstls::{CertifiedKey, Connection, Event, KeyLogFile, ServerConfig};

use crate::common::{handshake_summary, parse_groups, parse_suites, BoxError, VersionArgs};

/// The embedded localhost test certificate (its CA is `vectors/ca.pem`).
const TEST_CERT: &[u8] = include_bytes!("../../vectors/localhost-ecdsa-p256.pem");
const TEST_KEY: &[u8] = include_bytes!("../../vectors/localhost-ecdsa-p256.key");

#[derive(clap::Args)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8443")]
    listen: String,
    /// PEM certificate chain, end-entity first (default: the embedded localhost test certificate).
    #[arg(long, requires = "key")]
    cert: Option<PathBuf>,
    /// PEM private key for --cert.
    #[arg(long, requires = "cert")]
    key: Option<PathBuf>,
    /// ALPN protocol to accept (repeat for several, in preference order).
    #[arg(long = "alpn")]
    alpn: Vec<String>,
    /// Cipher suite to enable by IANA name (repeatable, preference order).
    #[arg(long = "suite")]
    suites: Vec<String>,
    /// Key-exchange group to enable (repeatable, preference order).
    #[arg(long = "group")]
    groups: Vec<String>,
    /// Echo received bytes back.
    #[arg(long, conflicts_with = "http")]
    echo: bool,
    /// Answer HTTP/1.1 requests with a page of the negotiated parameters (the default).
    #[arg(long)]
    http: bool,
    /// Append NSS key log lines to FILE.
    #[arg(long)]
    keylog: Option<PathBuf>,
    #[command(flatten)]
    versions: VersionArgs,
}

pub fn run(args: Args) -> Result<(), BoxError> {
    let cert = match (&args.cert, &args.key) {
        (Some(cert), Some(key)) => CertifiedKey::from_pem_files(cert, key)?,
        _ => CertifiedKey::from_pem(TEST_CERT, TEST_KEY)?,
    };
    let mut builder = ServerConfig::builder(cert);
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
    let listener = TcpListener::bind(&args.listen)?;
    eprintln!("listening on {}", listener.local_addr()?);
    let echo = args.echo;
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let config = config.clone();
        std::thread::spawn(move || {
            let peer = stream.peer_addr().map(|a| a.to_string()).unwrap_or_default();
            if let Err(e) = serve_one(stream, config, echo) {
                eprintln!("{peer}: {e}");
            }
        });
    }
    Ok(())
}

fn serve_one(mut sock: TcpStream, config: Arc<ServerConfig>, echo: bool) -> Result<(), BoxError> {
    sock.set_nodelay(true)?;
    sock.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut conn = Connection::server(config)?;
    let mut request = Vec::new();
    loop {
        while conn.wants_write() {
            if conn.write_tls(&mut sock)? == 0 {
                break;
            }
        }
        if conn.error().is_some() {
            return Ok(());
        }
        if conn.read_tls(&mut sock)? == 0 {
            return Ok(());
        }
        if let Err(e) = conn.process_new_packets() {
            let _ = conn.write_tls(&mut sock);
            return Err(e.into());
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
        while let Ok(n) = conn.reader().read(&mut buf) {
            if n == 0 {
                break;
            }
            if echo {
                conn.writer().write_all(&buf[..n])?;
            } else {
                request.extend_from_slice(&buf[..n]);
            }
        }
        if !echo {
            while let Some(end) = find(&request, b"\r\n\r\n") {
                let head: Vec<u8> = request.drain(..end + 4).collect();
                let close = answer_http(&mut conn, &head)?;
                if close {
                    conn.send_close_notify();
                    while conn.write_tls(&mut sock)? > 0 {}
                    return Ok(());
                }
            }
            if request.len() > 64 * 1024 {
                return Err("request head too large".into());
            }
        }
        if closed {
            conn.send_close_notify();
            while conn.write_tls(&mut sock)? > 0 {}
            return Ok(());
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Writes the response; returns true when the client asked to close (or spoke HTTP/1.0).
fn answer_http(conn: &mut Connection, head: &[u8]) -> io::Result<bool> {
    let text = String::from_utf8_lossy(head).to_ascii_lowercase();
    let close = text
        .lines()
        .any(|l| l.starts_with("connection:") && l.contains("close"))
        || text.lines().next().is_some_and(|l| l.ends_with("http/1.0"));
    let sni = conn.server_name().unwrap_or("-").to_string();
    let body = format!(
        "<!DOCTYPE html>\n<html><head><title>sanstls</title></head><body>\n<h1>sanstls</h1>\n<pre>\n{}\nsni={}\n</pre>\n</body></html>\n",
        handshake_summary(conn),
        sni
    );
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: {}\r\n\r\n{}",
        body.len(),
        if close { "close" } else { "keep-alive" },
        body
    );
    conn.writer().write_all(response.as_bytes())?;
    Ok(close)
}
