//! The tokio adapter (feature `tokio`): [`TlsConnector`] and [`TlsAcceptor`] run the handshake
//! over any `AsyncRead + AsyncWrite` transport and hand back a [`TlsStream`], itself
//! `AsyncRead + AsyncWrite`.
//!
//! The adapter owns no buffers of its own: it polls the transport through a small shim that
//! turns `Poll::Pending` into `io::ErrorKind::WouldBlock`, so the sans-I/O [`Connection`]'s
//! `read_tls`/`write_tls` run unchanged and the transport registers the task's waker exactly
//! when it returns `Pending`. Every `Pending` this module returns therefore comes from the
//! transport, which is what makes the wakeups correct. Reads never wait on the transport's
//! write side and writes never read, so the halves of `tokio::io::split` may live in two tasks.
//!
//! ```
//! use std::sync::Arc;
//! use sanstls::pki::{TrustAnchors, WebPkiServerVerifier};
//! use sanstls::tokio_io::{TlsAcceptor, TlsConnector};
//! use sanstls::{CertifiedKey, ClientConfig, ServerConfig};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let anchors = TrustAnchors::from_pem(include_bytes!("../vectors/ca.pem"))?;
//! let connector = TlsConnector::new(
//!     ClientConfig::builder(Arc::new(WebPkiServerVerifier::new(anchors))).build()?,
//! );
//! let acceptor = TlsAcceptor::new(
//!     ServerConfig::builder(CertifiedKey::from_pem(
//!         include_bytes!("../vectors/localhost-ecdsa-p256.pem"),
//!         include_bytes!("../vectors/localhost-ecdsa-p256.key"),
//!     )?)
//!     .build()?,
//! );
//! let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
//! rt.block_on(async move {
//!     // A TcpStream works the same; an in-memory pipe keeps the example self-contained.
//!     let (client_io, server_io) = tokio::io::duplex(4096);
//!     let server = tokio::spawn(async move {
//!         let mut tls = acceptor.accept(server_io).await?;
//!         let mut buf = Vec::new();
//!         tls.read_to_end(&mut buf).await?; // until the client's close_notify
//!         tls.write_all(&buf).await?;
//!         tls.shutdown().await?; // sends close_notify
//!         std::io::Result::Ok(())
//!     });
//!     let mut tls = connector.connect("localhost", client_io).await?;
//!     tls.write_all(b"hello").await?;
//!     tls.shutdown().await?; // close_notify: the server sees EOF, we may still read
//!     let mut back = Vec::new();
//!     tls.read_to_end(&mut back).await?;
//!     assert_eq!(back, b"hello");
//!     server.await??;
//!     Ok(())
//! })
//! # }
//! ```

use std::future::poll_fn;
use std::io::{self, BufRead as _, Read, Write};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll, Waker};
use std::time::Instant;

use tokio::io::{AsyncBufRead, AsyncRead, AsyncWrite, ReadBuf};

use crate::codec::AlertDescription;
use crate::conn::{ClientHelloInfo, LINGER_BYTES, LINGER_TIME};
use crate::pki::ServerName;
use crate::{ClientConfig, Connection, ServerConfig};

/// Starts client connections with one configuration.
#[derive(Clone, Debug)]
pub struct TlsConnector {
    config: Arc<ClientConfig>,
    early_data: bool,
}

impl TlsConnector {
    /// A connector making client connections with `config`.
    pub fn new(config: Arc<ClientConfig>) -> Self {
        TlsConnector {
            config,
            early_data: false,
        }
    }

    /// With `true`, [`connect`](Self::connect) returns before the handshake when the stored
    /// session allows 0-RTT (the config needs `enable_early_data`): writes then go out as early
    /// data up to the ticket's max_early_data_size (RFC 8446 4.2.10), and later ones wait for
    /// the handshake. Early data the server refuses is sent again after the handshake, so the
    /// peer sees the same byte stream either way (but accepted early data can be replayed:
    /// send only what is safe to repeat).
    pub fn early_data(mut self, enabled: bool) -> Self {
        self.early_data = enabled;
        self
    }

    /// Runs a client handshake for `server_name` over `io`: a [`ServerName`], or anything
    /// that converts to one (`"example.com"`, a `String`), as tokio-rustls takes.
    pub async fn connect<N, IO>(&self, server_name: N, io: IO) -> io::Result<TlsStream<IO>>
    where
        N: TryInto<ServerName>,
        N::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        let name = server_name
            .try_into()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let mut conn = Connection::client_for(self.config.clone(), name).map_err(io::Error::other)?;
        if self.early_data && conn.early_data().is_some() {
            let mut tls = TlsStream::new(conn, io);
            tls.early = Some(Vec::new());
            // The ClientHello goes out now; the handshake goes on in the first read or write.
            poll_fn(|cx| match tls.poll_write_tls(cx) {
                Poll::Pending => Poll::Ready(Ok(())),
                r => r,
            })
            .await?;
            return Ok(tls);
        }
        TlsStream::handshaken(conn, io).await
    }
}

impl From<Arc<ClientConfig>> for TlsConnector {
    fn from(config: Arc<ClientConfig>) -> Self {
        TlsConnector::new(config)
    }
}

/// A server that looks at the ClientHello before choosing its [`ServerConfig`] (certificate,
/// ALPN, versions... by SNI, say), like tokio-rustls's `LazyConfigAcceptor`: awaiting it reads
/// until the ClientHello and gives a [`StartHandshake`].
///
/// ```no_run
/// # async fn f(listener: tokio::net::TcpListener, by_name: impl Fn(Option<&str>) -> std::sync::Arc<sanstls::ServerConfig>) -> std::io::Result<()> {
/// use sanstls::tokio_io::LazyConfigAcceptor;
/// let (tcp, _) = listener.accept().await?;
/// let start = LazyConfigAcceptor::new(tcp).await?;
/// let config = by_name(start.client_hello().server_name.as_deref());
/// let tls = start.into_stream(config).await?;
/// # drop(tls); Ok(()) }
/// ```
pub struct LazyConfigAcceptor<IO> {
    tls: Option<TlsStream<IO>>,
}

impl<IO: AsyncRead + AsyncWrite + Unpin> LazyConfigAcceptor<IO> {
    /// Waits on `io` for the ClientHello, so the config can be chosen from it.
    pub fn new(io: IO) -> Self {
        LazyConfigAcceptor {
            tls: Some(TlsStream::new(Connection::server_deferred(), io)),
        }
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> std::future::Future for LazyConfigAcceptor<IO> {
    type Output = io::Result<StartHandshake<IO>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let Some(tls) = this.tls.as_mut() else {
            return Poll::Ready(Err(io::Error::other(
                "LazyConfigAcceptor polled after completion",
            )));
        };
        loop {
            if tls.conn.client_hello().is_some() {
                let tls = this.tls.take().expect("checked above");
                return Poll::Ready(Ok(StartHandshake { tls }));
            }
            if let Some(e) = tls.conn.error() {
                let e = e.clone();
                ready!(tls.poll_after_error(cx));
                return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, e)));
            }
            if tls.eof || ready!(tls.poll_read_tls(cx))? == 0 {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "peer closed the transport before its ClientHello",
                )));
            }
        }
    }
}

/// The ClientHello has arrived ([`LazyConfigAcceptor`]): look at it, then go on with the
/// config of your choice or refuse the client.
pub struct StartHandshake<IO> {
    tls: TlsStream<IO>,
}

impl<IO: AsyncRead + AsyncWrite + Unpin> StartHandshake<IO> {
    /// SNI, ALPN, suites, groups, schemes, versions and PSK offer of the waiting ClientHello.
    pub fn client_hello(&self) -> &ClientHelloInfo {
        self.tls
            .conn
            .client_hello()
            .expect("StartHandshake is made only once the ClientHello waits")
    }

    /// Answers the ClientHello with `config` and runs the handshake.
    pub async fn into_stream(mut self, config: Arc<ServerConfig>) -> io::Result<TlsStream<IO>> {
        // An error here queued its alert; the handshake's error path sends it.
        let _ = self.tls.conn.accept_with(config);
        poll_fn(|cx| self.tls.poll_handshake(cx)).await?;
        Ok(self.tls)
    }

    /// Refuses the client with a fatal `alert` (e.g. `unrecognized_name`), sent before this
    /// returns.
    pub async fn reject(mut self, alert: AlertDescription) -> io::Result<()> {
        let e = self.tls.conn.reject(alert);
        poll_fn(|cx| self.tls.poll_after_error(cx)).await;
        Err(io::Error::new(io::ErrorKind::ConnectionRefused, e))
    }
}

/// Accepts server connections with one configuration.
#[derive(Clone, Debug)]
pub struct TlsAcceptor {
    config: Arc<ServerConfig>,
}

impl TlsAcceptor {
    /// An acceptor making server connections with `config`.
    pub fn new(config: Arc<ServerConfig>) -> Self {
        TlsAcceptor { config }
    }

    /// Runs a server handshake over `io`.
    pub async fn accept<IO>(&self, io: IO) -> io::Result<TlsStream<IO>>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        let conn = Connection::server(self.config.clone()).map_err(io::Error::other)?;
        TlsStream::handshaken(conn, io).await
    }
}

impl From<Arc<ServerConfig>> for TlsAcceptor {
    fn from(config: Arc<ServerConfig>) -> Self {
        TlsAcceptor::new(config)
    }
}

/// A connection over an async transport. Reads return `Ok(0)` after the peer's close_notify
/// and `UnexpectedEof` when the transport ends without one (a truncation attack looks like
/// that); `shutdown` sends close_notify, then shuts the transport's write side.
///
/// A failure that sends the peer a fatal alert (in the handshake or in a read) flushes the
/// alert, shuts the transport's write side and drains the peer (reads and discards until it
/// closes, [`LINGER_BYTES`] or [`LINGER_TIME`]) before the error comes back: a socket closed
/// with unread bytes makes the kernel reset the connection, and the reset can cost a peer
/// still sending (a large ClientHello, say) the alert. An honest peer closes once it has the
/// alert; against a silent one, the caller's timeout bounds the wait, as for the handshake.
#[derive(Debug)]
pub struct TlsStream<IO> {
    io: IO,
    conn: Connection,
    /// The transport reported EOF.
    eof: bool,
    linger: Linger,
    /// Client 0-RTT ([`TlsConnector::early_data`]): the bytes sent as early data, kept until
    /// the server's answer to send them again if it refuses them. `None` once settled.
    early: Option<Vec<u8>>,
}

/// The drain after our fatal alert.
#[derive(Debug)]
enum Linger {
    /// Not started.
    Idle,
    /// Alert out and write side shut: reading until EOF or the bounds.
    Draining {
        until: Instant,
        bytes_left: usize,
    },
    Done,
}

/// `std::io` over a polled transport: `Pending` becomes `WouldBlock` (the waker is registered
/// by the transport's own poll).
struct Shim<'a, 'b, IO> {
    io: &'a mut IO,
    cx: &'a mut Context<'b>,
}

impl<IO: AsyncRead + Unpin> Read for Shim<'_, '_, IO> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut rb = ReadBuf::new(buf);
        match Pin::new(&mut *self.io).poll_read(self.cx, &mut rb) {
            Poll::Ready(Ok(())) => Ok(rb.filled().len()),
            Poll::Ready(Err(e)) => Err(e),
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }
}

impl<IO: AsyncWrite + Unpin> Write for Shim<'_, '_, IO> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match Pin::new(&mut *self.io).poll_write(self.cx, buf) {
            Poll::Ready(r) => r,
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match Pin::new(&mut *self.io).poll_flush(self.cx) {
            Poll::Ready(r) => r,
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }
}

fn pending_on_would_block<T>(r: io::Result<T>) -> Poll<io::Result<T>> {
    match r {
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Poll::Pending,
        r => Poll::Ready(r),
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> TlsStream<IO> {
    /// Wraps a [`Connection`] made (and perhaps configured, or partly run) by the caller. The
    /// handshake, if not done, runs in the first read or write, or in [`handshake`](Self::handshake).
    pub fn new(conn: Connection, io: IO) -> Self {
        TlsStream {
            io,
            conn,
            eof: false,
            linger: Linger::Idle,
            early: None,
        }
    }

    async fn handshaken(conn: Connection, io: IO) -> io::Result<Self> {
        let mut tls = TlsStream::new(conn, io);
        tls.handshake().await?;
        Ok(tls)
    }

    /// Runs the handshake to its end (at once if it is done).
    pub async fn handshake(&mut self) -> io::Result<()> {
        poll_fn(|cx| self.poll_handshake(cx)).await
    }

    /// The connection, for its negotiated parameters (version, suite, ALPN, peer chain, ...).
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// The connection, for queries and requests (e.g. a KeyUpdate).
    pub fn conn_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// The transport.
    pub fn get_ref(&self) -> &IO {
        &self.io
    }

    /// The transport, mutably (reading or writing it directly corrupts the TLS stream).
    pub fn get_mut(&mut self) -> &mut IO {
        &mut self.io
    }

    /// Gives back the connection and the transport, without closing either.
    pub fn into_inner(self) -> (Connection, IO) {
        (self.conn, self.io)
    }

    /// Writes every record the connection can produce now. Ready once nothing more can go
    /// out (application data still waiting for handshake keys stays queued).
    fn poll_write_tls(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.conn.wants_write() {
            let mut shim = Shim { io: &mut self.io, cx };
            if ready!(pending_on_would_block(self.conn.write_tls(&mut shim)))? == 0 {
                break;
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Reads once from the transport and runs the state machine over it. Ready(Ok(0)) at EOF.
    fn poll_read_tls(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let mut shim = Shim { io: &mut self.io, cx };
        let n = ready!(pending_on_would_block(self.conn.read_tls(&mut shim)))?;
        if n == 0 {
            self.eof = true;
            return Poll::Ready(Ok(0));
        }
        if let Err(e) = self.conn.process_new_packets() {
            // Our alert goes out, and the peer is drained, before the error comes back.
            ready!(self.poll_after_error(cx));
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, e)));
        }
        Poll::Ready(Ok(n))
    }

    /// After a failure that sent the peer a fatal alert: the alert out, our write side shut,
    /// the peer drained (see [`TlsStream`]). Ready at once after other failures, and once done.
    fn poll_after_error(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.conn.error().is_none_or(|e| e.alert().is_none()) {
            return Poll::Ready(());
        }
        loop {
            match &mut self.linger {
                Linger::Idle => {
                    let flushed = match ready!(self.poll_write_tls(cx)) {
                        Ok(()) => ready!(Pin::new(&mut self.io).poll_shutdown(cx)).is_ok(),
                        Err(_) => false,
                    };
                    self.linger = if flushed {
                        Linger::Draining {
                            until: Instant::now() + LINGER_TIME,
                            bytes_left: LINGER_BYTES,
                        }
                    } else {
                        Linger::Done
                    };
                }
                Linger::Draining { until, bytes_left } => {
                    if self.eof || *bytes_left == 0 || Instant::now() >= *until {
                        self.linger = Linger::Done;
                        continue;
                    }
                    let mut buf = [0u8; 4096];
                    let want = (*bytes_left).min(buf.len());
                    let mut rb = ReadBuf::new(&mut buf[..want]);
                    match ready!(Pin::new(&mut self.io).poll_read(cx, &mut rb)) {
                        Ok(()) if rb.filled().is_empty() => self.eof = true,
                        Ok(()) => *bytes_left -= rb.filled().len(),
                        Err(_) => self.linger = Linger::Done,
                    }
                }
                Linger::Done => return Poll::Ready(()),
            }
        }
    }

    fn poll_handshake(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            if let Some(e) = self.conn.error() {
                let e = e.clone();
                ready!(self.poll_after_error(cx));
                return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, e)));
            }
            // Our flight first: the peer answers nothing until it has it.
            ready!(self.poll_write_tls(cx))?;
            if !self.conn.is_handshaking() {
                if let Some(sent) = self.early.take() {
                    if self.conn.early_data_status() == Some(false) {
                        // RFC 8446 4.2.10: refused 0-RTT data is ours to send again.
                        self.conn.writer().write_all(&sent)?;
                        ready!(self.poll_write_tls(cx))?;
                    }
                }
                return Poll::Ready(Ok(()));
            }
            if self.eof || ready!(self.poll_read_tls(cx))? == 0 {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "peer closed the transport during the handshake",
                )));
            }
        }
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> TlsStream<IO> {
    /// Runs the handshake and the I/O until plaintext waits (0-RTT data first), the peer's
    /// close_notify came, or an error.
    fn poll_plaintext(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.conn.is_handshaking() {
            ready!(self.poll_handshake(cx))?;
        }
        loop {
            // Server: accepted 0-RTT data comes first in the byte stream (RFC 8446 4.2.10).
            if self.conn.has_early_plaintext() {
                return Poll::Ready(Ok(()));
            }
            match self.conn.reader().fill_buf() {
                Ok(_) => return Poll::Ready(Ok(())),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => {
                    ready!(self.poll_after_error(cx));
                    return Poll::Ready(Err(e));
                }
            }
            // Whatever the state machine owes the peer (a KeyUpdate answer, tickets) goes out
            // without holding up the read. A no-op waker: a reader must not take the transport's
            // write-readiness slot from a writer task polling the other half of a split stream.
            let mut quiet = Context::from_waker(Waker::noop());
            if let Poll::Ready(Err(e)) = self.poll_write_tls(&mut quiet) {
                return Poll::Ready(Err(e));
            }
            if self.eof || ready!(self.poll_read_tls(cx))? == 0 {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "peer closed the transport without close_notify",
                )));
            }
        }
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncRead for TlsStream<IO> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_plaintext(cx))?;
        // 0-RTT data first; then as much as waits, across records.
        let read = if this.conn.has_early_plaintext() {
            this.conn.early_data_reader().read(buf.initialize_unfilled())
        } else {
            this.conn.reader().read(buf.initialize_unfilled())
        };
        buf.advance(read?);
        Poll::Ready(Ok(()))
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncBufRead for TlsStream<IO> {
    /// The received plaintext where the connection holds it (see
    /// [`Reader`](crate::conn::Reader)'s `fill_buf`), 0-RTT data first, after as much I/O as
    /// it takes; empty after the peer's close_notify.
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        ready!(this.poll_plaintext(cx))?;
        Poll::Ready(Ok(this.conn.stream_front()))
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        self.get_mut().conn.consume_stream(amt);
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncWrite for TlsStream<IO> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let (Some(sent), true) = (this.early.as_mut(), this.conn.is_handshaking()) {
            // Client 0-RTT while the ticket's budget lasts; the rest waits for the handshake.
            if let Some(mut w) = this.conn.early_data() {
                let n = w.write(buf)?;
                if n > 0 {
                    sent.extend_from_slice(&buf[..n]);
                    if let Poll::Ready(Err(e)) = this.poll_write_tls(cx) {
                        return Poll::Ready(Err(e));
                    }
                    return Poll::Ready(Ok(n));
                }
            }
        }
        if this.conn.is_handshaking() {
            ready!(this.poll_handshake(cx))?;
        }
        loop {
            match this.conn.writer().write(buf) {
                Ok(n) => {
                    // Start sending now; poll_flush finishes the job if the transport is full.
                    if let Poll::Ready(Err(e)) = this.poll_write_tls(cx) {
                        return Poll::Ready(Err(e));
                    }
                    return Poll::Ready(Ok(n));
                }
                // The plaintext cap is reached: drain to the transport, then try again.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let before = this.conn.wants_write();
                    ready!(this.poll_write_tls(cx))?;
                    if !before {
                        return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                    }
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_write_tls(cx))?;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    /// Sends close_notify (once), flushes it, then shuts the transport's write side.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.conn.send_close_notify();
        ready!(this.poll_write_tls(cx))?;
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}
