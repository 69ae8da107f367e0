//! `sanstls connect --dtls` and `sanstls serve --dtls`: DTLS over UDP, 1.3 and 1.2 from one
//! config (the highest both enable wins; `--tls12`/`--tls13`/`--min-version`/`--max-version`
//! restrict it as they do TLS). Both run on a `mio` loop like the TCP tools: the poll sleeps
//! until a datagram, a signal or stdin arrives, or until the earliest deadline (a connection's
//! retransmission timer, a handshake or idle timeout, the shutdown deadline); nothing polls at
//! a fixed interval.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token, Waker};
use sanstls::dtls::{Accepted, DtlsAcceptor, DtlsConfig, DtlsConnection};
use sanstls::{ClientConfig, Error, Event, ServerConfig};
use tracing::{debug, info, info_span, warn};

use crate::common::BoxError;
use crate::netfilter::Filter;

/// How long the client waits for the server's close_notify after its own.
const LINGER: Duration = Duration::from_secs(2);
/// Largest UDP payload (65,535 minus the IPv4 and UDP headers), the receive buffer.
const MAX_DATAGRAM: usize = 65_507;
/// Plaintext moved from a connection's reader to its writer at a time (echo).
const CHUNK: usize = 16 * 1024;
/// At most one `refused:` line per this period: refusals are per datagram, and a flood of
/// (possibly spoofed) datagrams must not become a flood of log lines.
const REFUSAL_LOG_PERIOD: Duration = Duration::from_secs(1);

/// Datagrams read in one go before timers and signals get a turn.
const RECV_BATCH: usize = 256;

const SOCKET: Token = Token(0);
const SIGNALS: Token = Token(1);
const STDIN: Token = Token(1);

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
        "version={} suite={} group={} sigscheme={} alpn={} resumed={}{}{}{}",
        or_dash(conn.protocol_version()),
        or_dash(conn.cipher_suite()),
        or_dash(conn.key_exchange_group()),
        or_dash(conn.signature_scheme()),
        or_dash(alpn),
        if conn.is_resumed() { "yes" } else { "no" },
        ems,
        crate::common::psk_word(conn.psk_identity()),
        crate::common::srtp_summary(conn),
    )
}

pub fn dtls_config(mtu: usize, cid: Option<usize>) -> DtlsConfig {
    DtlsConfig {
        mtu,
        connection_id: cid,
        ..DtlsConfig::default()
    }
}

/// What `connect --dtls` takes from `connect`'s arguments.
pub struct ConnectOpts {
    pub mtu: usize,
    pub cid: Option<usize>,
    pub rebind_after: Option<u64>,
}

/// A UDP socket connected to `target`, on a fresh local port, registered with `poll`.
fn client_socket(poll: &Poll, target: SocketAddr) -> Result<UdpSocket, BoxError> {
    let local: SocketAddr = if target.is_ipv4() {
        "0.0.0.0:0".parse()?
    } else {
        "[::]:0".parse()?
    };
    let mut sock = UdpSocket::bind(local)?;
    sock.connect(target)?;
    poll.registry().register(&mut sock, SOCKET, Interest::READABLE)?;
    Ok(sock)
}

fn read_plaintext(conn: &mut DtlsConnection) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; CHUNK];
    while let Ok(n) = conn.reader().read(&mut buf) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    out
}

/// Sends every datagram the connection has ready. A datagram the socket refuses (its send
/// buffer is full: `WouldBlock`) is lost, which is what DTLS is built for: the timer resends
/// handshake flights, and application data over DTLS is unreliable anyway.
fn send_all(conn: &mut DtlsConnection, sock: &UdpSocket, to: Option<SocketAddr>, buf: &mut [u8]) {
    while let Some(n) = conn.poll_datagram(buf) {
        let sent = match to {
            Some(addr) => sock.send_to(&buf[..n], addr),
            None => sock.send(&buf[..n]),
        };
        if let Err(e) = sent {
            debug!("datagram of {n} bytes not sent: {e}");
        }
    }
}

/// `poll`'s timeout for a deadline: `None` (sleep until an event) without one. Rounded up to
/// the next millisecond, as mio's (epoll's) resolution would otherwise wake us just before it.
fn until(deadline: Option<Instant>, now: Instant) -> Option<Duration> {
    deadline.map(|d| {
        let left = d.saturating_duration_since(now);
        let whole_ms = Duration::from_millis(left.as_millis() as u64);
        if whole_ms < left {
            whole_ms + Duration::from_millis(1)
        } else {
            whole_ms
        }
    })
}

/// `poll` that treats EINTR as an empty wake-up.
fn poll_once(poll: &mut Poll, events: &mut Events, timeout: Option<Duration>) -> io::Result<()> {
    match poll.poll(events, timeout) {
        Err(e) if e.kind() == io::ErrorKind::Interrupted => {
            events.clear();
            Ok(())
        }
        r => r,
    }
}

/// `connect --dtls`: stdin to the server, the server's bytes to stdout. At the end of stdin
/// we send close_notify and wait up to [`LINGER`] for the server's; a close_notify from the
/// server is answered and ends the run (exit 0).
pub fn connect(addr: &str, name: &str, config: Arc<ClientConfig>, opts: ConnectOpts) -> Result<(), BoxError> {
    let target: SocketAddr = std::net::ToSocketAddrs::to_socket_addrs(addr)?
        .next()
        .ok_or("address resolves to nothing")?;
    let mut poll = Poll::new()?;
    let mut sock = client_socket(&poll, target)?;
    let mut writes = 0u64;
    // Our own handle keeps the waker's eventfd open: were the stdin thread's handle the last,
    // its exit would close the fd and take its final wake-up out of the poll with it.
    let waker = Arc::new(Waker::new(poll.registry(), STDIN)?);
    let stdin = crate::connect::spawn_stdin_reader(waker.clone());
    let mut conn = DtlsConnection::client(config, name, dtls_config(opts.mtu, opts.cid), Instant::now())?;
    let mut stdin_open = true;
    let mut to_send = Vec::new();
    let mut linger_until: Option<Instant> = None;
    let mut stdout = io::stdout();
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut events = Events::with_capacity(16);
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
                    // Answer with ours (a no-op if we already sent it, RFC 8446 6.1).
                    conn.send_close_notify();
                    send_all(&mut conn, &sock, None, &mut buf);
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
                if opts.rebind_after == Some(writes) {
                    // A new source port mid-session, as after a NAT rebinding; replies to
                    // the old one are lost until the server follows.
                    poll.registry().deregister(&mut sock)?;
                    sock = client_socket(&poll, target)?;
                    eprintln!("rebound to {}", sock.local_addr()?);
                }
                let n = conn.writer().write(&to_send).unwrap_or(0);
                to_send.drain(..n);
                if n > 0 {
                    writes += 1;
                    continue;
                }
            } else if !stdin_open && linger_until.is_none() {
                conn.send_close_notify();
                linger_until = Some(Instant::now() + LINGER);
                continue;
            }
        }
        let now = Instant::now();
        if linger_until.is_some_and(|t| now >= t) {
            return Ok(());
        }
        let deadline = [conn.poll_timeout(), linger_until].into_iter().flatten().min();
        poll_once(&mut poll, &mut events, until(deadline, now))?;
        // Readiness is edge-triggered: read until the socket runs dry. Another error is the
        // server's port refusing an earlier datagram (ICMP), reported once; reading goes on
        // (a few times at most, should an error keep coming).
        let mut errors = 0;
        loop {
            match sock.recv(&mut buf) {
                Ok(n) => {
                    if let Err(e) = conn.recv_datagram(&buf[..n], Instant::now()) {
                        send_all(&mut conn, &sock, None, &mut buf);
                        return Err(format!("handshake failed: {e}").into());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) if errors < 16 => errors += 1,
                Err(_) => break,
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

/// What `serve --dtls` takes from `serve`'s arguments.
pub struct ServeOpts {
    pub listen: String,
    pub versions: String,
    pub mtu: usize,
    pub max_connections: usize,
    pub idle_timeout: Duration,
    pub handshake_timeout: Duration,
    pub shutdown_timeout: Duration,
    pub filter: Filter,
    /// `--cid`: the length of the connection ids handed out, if any.
    pub cid: Option<usize>,
}

/// Why a peer is forgotten, for the log.
type Reason = Cow<'static, str>;

struct Peer {
    conn: DtlsConnection,
    span: tracing::Span,
    /// When the acceptor let it in (the handshake timeout runs from here).
    started: Instant,
    /// Its last datagram (the idle timeout runs from here).
    last_seen: Instant,
    /// Received plaintext the writer did not take yet (bounded: read only when empty).
    pending: Vec<u8>,
    /// We sent close_notify for this reason: forget the peer when it answers.
    closing: Option<Reason>,
    /// The deadline filed in [`Server::deadlines`] for it.
    deadline: Option<Instant>,
    bytes_in: u64,
}

/// Refusals (`--allow`/`--block`, `--max-connections`) logged at most once per
/// [`REFUSAL_LOG_PERIOD`], with a count of those left out.
#[derive(Default)]
struct Refusals {
    last: Option<Instant>,
    unlogged: u64,
}

impl Refusals {
    fn note(&mut self, now: Instant, peer: SocketAddr, why: &str) {
        if self
            .last
            .is_some_and(|t| now.saturating_duration_since(t) < REFUSAL_LOG_PERIOD)
        {
            self.unlogged += 1;
            return;
        }
        if self.unlogged > 0 {
            info!(%peer, "refused: {why} (and {} more datagrams refused)", self.unlogged);
        } else {
            info!(%peer, "refused: {why}");
        }
        self.last = Some(now);
        self.unlogged = 0;
    }
}

struct Server {
    sock: UdpSocket,
    opts: ServeOpts,
    acceptor: DtlsAcceptor,
    peers: HashMap<SocketAddr, Peer>,
    /// `--cid`: each peer's connection id, to find it when its address changes.
    cids: HashMap<Vec<u8>, SocketAddr>,
    /// Every peer's next deadline, earliest first: the poll timeout is the first entry, and
    /// only the peers due are looked at when it passes.
    deadlines: BTreeSet<(Instant, SocketAddr)>,
    refusals: Refusals,
    next_id: u64,
    /// Set by SIGINT/SIGTERM: no new peers; exit once every peer answered our close_notify
    /// or at this time.
    drain_deadline: Option<Instant>,
    /// Datagrams out.
    buf: Vec<u8>,
    /// Datagrams in.
    rbuf: Vec<u8>,
}

/// `serve --dtls`: an echo server over UDP. A ClientHello without a valid cookie gets an
/// answer from the stateless acceptor and leaves nothing behind: a HelloVerifyRequest when it
/// is a DTLS 1.2 hello (RFC 6347 4.2.1), a HelloRetryRequest carrying the cookie extension
/// when it offers DTLS 1.3 (RFC 9147 5.1); a cookie that checks out starts a connection for
/// that address. Each connection logs its `handshake:` line and echoes what it receives; a
/// close_notify is answered and the peer forgotten.
///
/// Before the acceptor, a datagram from an address without a connection is dropped unanswered
/// when `--allow`/`--block` refuse the address or `--max-connections` peers are held (see
/// [`Server::on_datagram`]). SIGINT/SIGTERM sends close_notify to every peer and exits 0 once
/// they all answered, or after `--shutdown-timeout`.
pub fn serve(config: Arc<ServerConfig>, opts: ServeOpts) -> Result<(), BoxError> {
    let mut dtls = dtls_config(opts.mtu, opts.cid);
    // The library's total handshake timeout (RFC 6347 4.2.4.1) gives up on a handshake whose
    // flights go unanswered; the loop's own deadline (from `started`) also covers a
    // connection that never sent a flight (a ClientHello whose later fragments never come).
    dtls.timer.total = opts.handshake_timeout;
    let addr: SocketAddr = crate::common::listen_addr(&opts.listen)?;
    let mut sock = UdpSocket::bind(addr).map_err(|e| crate::common::bind_error(addr, e))?;
    let mut poll = Poll::new()?;
    poll.registry().register(&mut sock, SOCKET, Interest::READABLE)?;
    // Signals arrive on the poll itself (signal-hook-mio: a self-pipe, no work in the handler).
    let mut signals =
        signal_hook_mio::v1_0::Signals::new([signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM])?;
    poll.registry()
        .register(&mut signals, SIGNALS, Interest::READABLE)?;
    info!(
        "listening on {} (DTLS {}, UDP, MTU {})",
        sock.local_addr()?,
        opts.versions,
        opts.mtu
    );
    let acceptor = DtlsAcceptor::new(config, dtls, Instant::now())?;
    let mut server = Server {
        sock,
        opts,
        acceptor,
        peers: HashMap::new(),
        cids: HashMap::new(),
        deadlines: BTreeSet::new(),
        refusals: Refusals::default(),
        next_id: 1,
        drain_deadline: None,
        buf: vec![0u8; MAX_DATAGRAM],
        rbuf: vec![0u8; MAX_DATAGRAM],
    };
    let mut events = Events::with_capacity(64);
    let mut more_to_read = false;
    loop {
        let now = Instant::now();
        let next = [server.deadlines.first().map(|d| d.0), server.drain_deadline]
            .into_iter()
            .flatten()
            .min();
        let timeout = if more_to_read {
            Some(Duration::ZERO)
        } else {
            until(next, now)
        };
        poll_once(&mut poll, &mut events, timeout)?;
        if server.drain_deadline.is_none() {
            if let Some(sig) = signals.pending().next() {
                info!("signal {sig}: shutting down");
                server.begin_shutdown();
            }
        }
        more_to_read = server.receive_all();
        server.run_due(Instant::now());
        if let Some(deadline) = server.drain_deadline {
            if server.peers.is_empty() {
                break;
            }
            if Instant::now() >= deadline {
                warn!(
                    "shutdown deadline: {} peers did not answer close_notify",
                    server.peers.len()
                );
                let addrs: Vec<SocketAddr> = server.peers.keys().copied().collect();
                for addr in addrs {
                    server.forget(addr, "shutdown deadline".into());
                }
                break;
            }
        }
    }
    info!("shut down");
    Ok(())
}

impl Server {
    /// Reads datagrams until the socket runs dry (mio readiness is edge-triggered) or
    /// [`RECV_BATCH`] were read; true in the second case: the loop then polls without
    /// sleeping, so timers run between batches under a flood.
    fn receive_all(&mut self) -> bool {
        // The receive buffer is lent out of `self` for the loop (`buf` is for sending).
        let mut rbuf = std::mem::take(&mut self.rbuf);
        let mut more = false;
        for _ in 0..RECV_BATCH {
            more = true;
            let (n, from) = match self.sock.recv_from(&mut rbuf) {
                Ok(x) => x,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    more = false;
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // An ICMP error for an earlier datagram (a peer's port closed): the next
                    // read goes on with the queue.
                    debug!("recv: {e}");
                    continue;
                }
            };
            self.on_datagram(&rbuf[..n], from, Instant::now());
        }
        self.rbuf = rbuf;
        more
    }

    fn on_datagram(&mut self, datagram: &[u8], from: SocketAddr, now: Instant) {
        if let Some(p) = self.peers.get_mut(&from) {
            p.last_seen = now;
            p.bytes_in += datagram.len() as u64;
            // Errors stay in the connection (and its alert is queued); `service` reports them.
            let _ = p.conn.recv_datagram(datagram, now);
            self.service(from, now);
            return;
        }
        // Nothing is sent to an address refused here, not even the cookie exchange: the
        // address is unverified (it may be spoofed), so any answer would make us a reflector,
        // and silence costs the sender what a lost datagram costs. A refused client simply
        // retransmits its hello on its own timer; once a slot frees up (--max-connections)
        // a retransmission gets in. (The TCP server sends a fatal alert instead, to a
        // peer whose address the TCP handshake has verified.)
        if self.drain_deadline.is_some() {
            return;
        }
        if let Err(why) = self.opts.filter.check(from.ip()) {
            self.refusals.note(now, from, why);
            return;
        }
        // A known connection id from a new address: the peer's datagram, if it opens.
        if let Some(cid) = self.acceptor.connection_id(datagram) {
            if let Some(&old) = self.cids.get(cid) {
                self.route_moved_peer(old, from, datagram, now);
            }
            // An unknown id is no ClientHello: nothing for the acceptor either.
            return;
        }
        if self.peers.len() >= self.opts.max_connections {
            let why = format!("--max-connections {} reached", self.opts.max_connections);
            self.refusals.note(now, from, &why);
            return;
        }
        match self.acceptor.accept(datagram, from.to_string().as_bytes(), now) {
            Accepted::HelloVerifyRequest(reply) | Accepted::HelloRetryRequest(reply) => {
                if let Err(e) = self.sock.send_to(&reply, from) {
                    debug!(peer = %from, "cookie request not sent: {e}");
                }
            }
            Accepted::Connection(conn) => {
                let id = self.next_id;
                self.next_id += 1;
                let span = info_span!("conn", id, peer = %from);
                span.in_scope(|| info!("accepted"));
                self.peers.insert(
                    from,
                    Peer {
                        conn: *conn,
                        span,
                        started: now,
                        last_seen: now,
                        pending: Vec::new(),
                        closing: None,
                        deadline: None,
                        bytes_in: datagram.len() as u64,
                    },
                );
                self.service(from, now);
            }
            Accepted::Dropped => {}
        }
    }

    /// A datagram routed by its connection id from `from`, not the peer's address `old`. RFC
    /// 9146 6: the peer moves only when the datagram authenticated and is the newest it sent;
    /// a forged or replayed one leaves it where it was.
    fn route_moved_peer(&mut self, old: SocketAddr, from: SocketAddr, datagram: &[u8], now: Instant) {
        let Some(p) = self.peers.get_mut(&old) else {
            return;
        };
        let _ = p.conn.recv_datagram(datagram, now);
        if !p.conn.last_datagram_authenticated() || self.peers.contains_key(&from) {
            self.service(old, now);
            return;
        }
        let Some(mut p) = self.peers.remove(&old) else {
            return;
        };
        p.last_seen = now;
        p.bytes_in += datagram.len() as u64;
        if let Some(t) = p.deadline.take() {
            self.deadlines.remove(&(t, old));
        }
        p.span.in_scope(|| info!("peer moved: {old} -> {from}"));
        if let Some(cid) = p.conn.own_connection_id() {
            self.cids.insert(cid.to_vec(), from);
        }
        self.peers.insert(from, p);
        self.service(from, now);
    }

    /// Services every peer whose deadline passed.
    fn run_due(&mut self, now: Instant) {
        let due: Vec<SocketAddr> = self
            .deadlines
            .iter()
            .take_while(|(t, _)| *t <= now)
            .map(|(_, a)| *a)
            .collect();
        for addr in due {
            self.service(addr, now);
        }
    }

    /// Runs one peer: its timer, events, the echo, its timeouts, its datagrams out; then
    /// forgets it or files its next deadline.
    fn service(&mut self, addr: SocketAddr, now: Instant) {
        let Some(p) = self.peers.get_mut(&addr) else {
            return;
        };
        let span = p.span.clone();
        let _g = span.enter();
        // The id is known once the ClientHello is in (it may come in fragments).
        if let Some(cid) = p.conn.own_connection_id().filter(|c| !c.is_empty()) {
            self.cids.entry(cid.to_vec()).or_insert(addr);
        }
        if p.conn.poll_timeout().is_some_and(|t| t <= now) {
            // An error stays in the connection and is reported below.
            let _ = p.conn.handle_timeout(now);
        }
        let mut peer_closed = false;
        while let Some(ev) = p.conn.next_event() {
            match ev {
                Event::HandshakeComplete => info!("handshake: {} peer={addr}", summary(&p.conn)),
                Event::Alert { level, description } => info!("alert received: {level:?} {description}"),
                Event::KeyUpdated { ours } => debug!("key update (ours: {ours})"),
                Event::PeerClosed => {
                    info!("close_notify received");
                    peer_closed = true;
                }
                _ => {}
            }
        }
        echo(p, &self.sock, addr, &mut self.buf);
        let mut reason: Option<Reason> = None;
        if peer_closed {
            // Answer with ours (RFC 8446 6.1; a no-op if ours went first).
            p.conn.send_close_notify();
            reason = Some(
                p.closing
                    .take()
                    .unwrap_or_else(|| "peer sent close_notify".into()),
            );
        } else if p.conn.is_handshaking() {
            if now.saturating_duration_since(p.started) >= self.opts.handshake_timeout {
                // Nothing to say to a peer that is not there.
                reason = Some("handshake timeout".into());
            }
        } else if p.closing.is_none() && now.saturating_duration_since(p.last_seen) >= self.opts.idle_timeout
        {
            // Say goodbye properly, then forget the peer: it may well be gone.
            p.conn.send_close_notify();
            reason = Some("idle timeout".into());
        }
        send_all(&mut p.conn, &self.sock, Some(addr), &mut self.buf);
        if let Some(e) = p.conn.error() {
            reason = Some(match e {
                Error::HandshakeTimeout => "handshake timeout".into(),
                e => {
                    match e.alert() {
                        Some(alert) => warn!("alert sent: {alert} ({e})"),
                        None => warn!("error: {e}"),
                    }
                    format!("DTLS error: {e}").into()
                }
            });
        }
        let next = match &reason {
            Some(_) => None,
            None => Some(peer_deadline(p, &self.opts)),
        };
        let old = std::mem::replace(&mut p.deadline, next.flatten());
        drop(_g);
        if let Some(t) = old {
            self.deadlines.remove(&(t, addr));
        }
        match reason {
            Some(reason) => self.forget(addr, reason),
            None => {
                if let Some(t) = next.flatten() {
                    self.deadlines.insert((t, addr));
                }
            }
        }
    }

    /// Drops a peer, logging why.
    fn forget(&mut self, addr: SocketAddr, reason: Reason) {
        let Some(p) = self.peers.remove(&addr) else {
            return;
        };
        if let Some(t) = p.deadline {
            self.deadlines.remove(&(t, addr));
        }
        if let Some(cid) = p.conn.own_connection_id() {
            self.cids.remove(cid);
        }
        p.span
            .in_scope(|| info!(bytes_in = p.bytes_in, "closed: {reason}"));
    }

    /// SIGINT/SIGTERM: no new peers; close_notify to every established one (handshakes in
    /// progress are dropped, as the TCP server does); the loop waits for the answers.
    fn begin_shutdown(&mut self) {
        self.drain_deadline = Some(Instant::now() + self.opts.shutdown_timeout);
        let addrs: Vec<SocketAddr> = self.peers.keys().copied().collect();
        for addr in addrs {
            let Some(p) = self.peers.get_mut(&addr) else {
                continue;
            };
            if p.conn.is_handshaking() {
                self.forget(addr, "shutdown during the handshake".into());
                continue;
            }
            let _g = p.span.enter();
            p.conn.send_close_notify();
            p.closing = Some("shutdown".into());
            send_all(&mut p.conn, &self.sock, Some(addr), &mut self.buf);
        }
    }
}

/// When a peer next needs attention: its retransmission timer, and its handshake timeout or
/// (established, not closing) its idle timeout.
fn peer_deadline(p: &Peer, opts: &ServeOpts) -> Option<Instant> {
    let limit = if p.conn.is_handshaking() {
        p.started.checked_add(opts.handshake_timeout)
    } else if p.closing.is_none() {
        p.last_seen.checked_add(opts.idle_timeout)
    } else {
        None
    };
    [p.conn.poll_timeout(), limit].into_iter().flatten().min()
}

/// The echo: received plaintext back into the connection's writer, within its plaintext cap
/// (`--max-buffer`); the datagrams go out as they fill so the writer keeps taking.
fn echo(p: &mut Peer, sock: &UdpSocket, addr: SocketAddr, buf: &mut [u8]) {
    if p.closing.is_some() {
        // After our close_notify nothing more can be written; drop what arrives.
        let _ = read_plaintext(&mut p.conn);
        return;
    }
    loop {
        if p.pending.is_empty() {
            let mut chunk = [0u8; CHUNK];
            match p.conn.reader().read(&mut chunk) {
                Ok(n) if n > 0 => p.pending.extend_from_slice(&chunk[..n]),
                _ => return,
            }
        }
        let n = p.conn.writer().write(&p.pending).unwrap_or(0);
        p.pending.drain(..n);
        send_all(&mut p.conn, sock, Some(addr), buf);
        if n == 0 {
            // The writer takes nothing (not yet established, or closed): keep it for later.
            return;
        }
    }
}
