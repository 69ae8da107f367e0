//! A blocking adapter: a [`Connection`] over any `Read + Write` transport (a `TcpStream`, a
//! Unix socket, a pipe pair), itself `Read + Write`.

use std::io::{self, BufRead, Read, Write};
use std::time::{Duration, Instant};

use super::Connection;

/// After sending a fatal alert, the most the adapters read and discard of what the peer still
/// sends before handing the error back (see [`Stream::complete_io`]).
pub const LINGER_BYTES: usize = 1024 * 1024;
/// The longest they drain: checked between reads (a read waits as long as the transport lets
/// it, as in every other call; set a read timeout, or wrap the future in a timeout).
pub const LINGER_TIME: Duration = Duration::from_secs(2);

/// A connection and its transport, driven by blocking calls: a [`Connection`] over any
/// `Read + Write` transport (a `TcpStream`, a Unix socket, a pipe pair), itself `Read + Write`.
/// `read` and `write` run the handshake first and then the event loop the crate docs describe.
///
/// ```
/// use std::io::{Read, Write};
/// use std::net::{TcpListener, TcpStream};
/// use std::sync::Arc;
/// use sanstls::pki::{TrustAnchors, WebPkiServerVerifier};
/// use sanstls::{CertifiedKey, ClientConfig, Connection, ServerConfig, Stream};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server_config = ServerConfig::builder(CertifiedKey::from_pem(
///     include_bytes!("../../vectors/localhost-ecdsa-p256.pem"),
///     include_bytes!("../../vectors/localhost-ecdsa-p256.key"),
/// )?)
/// .build()?;
/// let listener = TcpListener::bind("127.0.0.1:0")?;
/// let addr = listener.local_addr()?;
/// let server = std::thread::spawn(move || -> std::io::Result<()> {
///     let (sock, _) = listener.accept()?;
///     let conn = Connection::server(server_config).map_err(std::io::Error::other)?;
///     let mut tls = Stream::new(conn, sock);
///     let mut hello = [0u8; 5];
///     tls.read_exact(&mut hello)?; // runs the handshake first
///     tls.write_all(&hello)?;
///     tls.shutdown() // close_notify
/// });
///
/// let anchors = TrustAnchors::from_pem(include_bytes!("../../vectors/ca.pem"))?;
/// let config = ClientConfig::builder(Arc::new(WebPkiServerVerifier::new(anchors))).build()?;
/// let conn = Connection::client(config, "localhost")?;
/// let mut tls = Stream::new(conn, TcpStream::connect(addr)?);
/// tls.write_all(b"hello")?;
/// tls.shutdown()?; // our close_notify; reading goes on (half-close)
/// let mut back = Vec::new();
/// tls.read_to_end(&mut back)?; // Ok(0) at the server's close_notify
/// assert_eq!(back, b"hello");
/// server.join().expect("server thread")?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Stream<S: Read + Write> {
    /// The TLS state machine.
    pub conn: Connection,
    /// The transport the records travel over.
    pub sock: S,
}

impl<S: Read + Write> Stream<S> {
    /// Pairs a fresh (or already running) connection with its transport; no I/O yet.
    pub fn new(conn: Connection, sock: S) -> Self {
        Stream { conn, sock }
    }

    /// One round of I/O: sends everything queued, then (if the connection wants bytes and
    /// has no plaintext waiting) reads once and processes it. Returns (read, written) bytes.
    ///
    /// A failure that sends the peer a fatal alert flushes the alert, then drains the peer
    /// (reads and discards until it closes, [`LINGER_BYTES`], or [`LINGER_TIME`]) before the
    /// error comes back: a socket closed with unread bytes makes the kernel reset the
    /// connection, and the reset can cost a peer still sending (a large ClientHello, say) the
    /// alert. An honest peer closes once it has the alert.
    pub fn complete_io(&mut self) -> io::Result<(usize, usize)> {
        let mut wrote = 0;
        while self.conn.wants_write() {
            let n = self.conn.write_tls(&mut self.sock)?;
            if n == 0 {
                break;
            }
            wrote += n;
        }
        let mut read = 0;
        if self.conn.wants_read() && self.conn.error().is_none() {
            read = self.conn.read_tls(&mut self.sock)?;
            if read == 0 && self.conn.is_handshaking() {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "peer closed the transport during the handshake",
                ));
            }
            if let Err(e) = self.conn.process_new_packets() {
                // Our alert goes out before the error comes back.
                while self.conn.wants_write() && self.conn.write_tls(&mut self.sock).unwrap_or(0) > 0 {}
                if e.alert().is_some() && self.sock.flush().is_ok() {
                    self.linger();
                }
                return Err(io::Error::new(io::ErrorKind::InvalidData, e));
            }
        }
        Ok((read, wrote))
    }

    /// Reads and discards until the peer closes or the bounds are reached (errors end it too).
    fn linger(&mut self) {
        let until = Instant::now() + LINGER_TIME;
        let mut left = LINGER_BYTES;
        let mut buf = [0u8; 4096];
        while left > 0 && Instant::now() < until {
            let want = left.min(buf.len());
            match self.sock.read(&mut buf[..want]) {
                Ok(0) => return,
                Ok(n) => left -= n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    }

    /// Runs the handshake to its end.
    pub fn handshake(&mut self) -> io::Result<()> {
        while self.conn.is_handshaking() {
            self.complete_io()?;
        }
        self.flush()
    }

    /// Sends close_notify and flushes it (the transport stays open for the caller to close).
    pub fn shutdown(&mut self) -> io::Result<()> {
        self.conn.send_close_notify();
        self.flush()
    }

    /// Gives back the connection and the transport, without closing either.
    pub fn into_inner(self) -> (Connection, S) {
        (self.conn, self.sock)
    }
}

impl<S: Read + Write> Stream<S> {
    /// Runs I/O until received plaintext waits, the peer's close_notify came, or an error.
    fn wait_for_plaintext(&mut self) -> io::Result<()> {
        loop {
            match self.conn.reader().fill_buf() {
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            let (read, _) = self.complete_io()?;
            if read == 0 && !self.conn.wants_write() && self.conn.reader().fill_buf().is_err() {
                // EOF without close_notify: report it as such.
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "peer closed the transport without close_notify",
                ));
            }
        }
    }
}

impl<S: Read + Write> Read for Stream<S> {
    /// Plaintext from the peer; `Ok(0)` after its close_notify. A transport that ends without
    /// close_notify gives `UnexpectedEof`: a truncation attack looks exactly like that.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.wait_for_plaintext()?;
        self.conn.reader().read(buf)
    }
}

impl<S: Read + Write> BufRead for Stream<S> {
    /// Plaintext from the peer where the connection holds it (see [`Reader`]'s `fill_buf`),
    /// after as much I/O as it takes; empty after the peer's close_notify, `UnexpectedEof`
    /// as for `read`.
    ///
    /// [`Reader`]: crate::conn::Reader
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.wait_for_plaintext()?;
        Ok(self.conn.plaintext_front())
    }

    fn consume(&mut self, amt: usize) {
        self.conn.reader().consume(amt);
    }
}

impl<S: Read + Write> Write for Stream<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.conn.is_handshaking() {
            self.handshake()?;
        }
        loop {
            match self.conn.writer().write(buf) {
                Ok(n) => {
                    self.flush()?;
                    return Ok(n);
                }
                // The plaintext cap: send what is queued, then try again.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.flush()?,
                Err(e) => return Err(e),
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        while self.conn.wants_write() {
            if self.conn.write_tls(&mut self.sock)? == 0 {
                break;
            }
        }
        self.sock.flush()
    }
}
