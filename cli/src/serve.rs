//! `sanstls serve`: a TLS server on `mio` event loops (`--threads`, one per core by default).
//! `--http` (default) answers HTTP/1.1 requests (keep-alive) with a page of the negotiated
//! parameters; `--echo` echoes bytes back.
//!
//! Each worker thread runs its own `mio::Poll` over a clone of the listening socket and owns
//! the connections it accepted. The main thread waits for SIGINT/SIGTERM and then asks every
//! worker to drain: stop accepting, close_notify everywhere, wait for the bytes to leave (up
//! to `--shutdown-timeout`), exit 0.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use sanstls::conn::{
    SessionStorage, TicketKeys, DEFAULT_FRESHNESS_WINDOW_MS, DEFAULT_TICKET_KEY_PERIOD, LINGER_BYTES,
    LINGER_TIME,
};
use sanstls::pki::{TrustAnchors, WebPkiClientVerifier};
use sanstls::{CertifiedKey, Connection, Event, ServerConfig};
use tracing::{debug, info, info_span, warn};

use crate::common::{early_data_word, handshake_summary, BoxError, TlsArgs};
use crate::fleet::{
    self, Answers, Fleet, FleetAntiReplay, FleetOpts, FleetSessions, FleetTicketKeys, Lookup,
};
use crate::netfilter::{Cidr, Filter};

/// The embedded localhost test certificate (its CA is `vectors/ca.pem`).
const TEST_CERT: &[u8] = include_bytes!("../../vectors/localhost-ecdsa-p256.pem");
const TEST_KEY: &[u8] = include_bytes!("../../vectors/localhost-ecdsa-p256.key");

/// Largest HTTP request head we buffer.
const MAX_REQUEST_HEAD: usize = 16 * 1024;
/// Plaintext chunk moved between the connection's reader and writer at a time.
const CHUNK: usize = 16 * 1024;

#[derive(clap::Args)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8443")]
    listen: String,
    /// PEM certificate chain, end-entity first (repeatable, paired in order with --key;
    /// chosen per client by SNI and signature algorithms). Default: the embedded localhost
    /// test certificate.
    #[arg(long = "cert")]
    certs: Vec<PathBuf>,
    /// PEM private key for the --cert at the same position.
    #[arg(long = "key")]
    keys: Vec<PathBuf>,
    /// PEM intermediates sent after every --cert's own chain.
    #[arg(long)]
    chain: Option<PathBuf>,
    /// Ask clients for a certificate and verify it against these PEM CAs.
    #[arg(long)]
    client_ca: Option<PathBuf>,
    /// Refuse clients without a certificate (with --client-ca).
    #[arg(long, requires = "client_ca")]
    require_client_cert: bool,
    #[command(flatten)]
    tls: TlsArgs,
    /// Accept up to BYTES of 0-RTT early data on resumed connections (0: refuse); accepted
    /// early data is handled like the data after the handshake (echoed / part of the request).
    /// Not with --dtls (no 0-RTT over DTLS).
    #[arg(long, default_value_t = 0, conflicts_with = "dtls")]
    max_early_data: u32,
    /// NewSessionTickets sent after each TLS 1.3 handshake (0: no resumption at all, also no
    /// TLS 1.2 session tickets or session IDs).
    #[arg(long, default_value_t = sanstls::conn::DEFAULT_TICKETS)]
    tickets: usize,
    /// Echo received bytes back (--dtls always echoes).
    #[arg(long, conflicts_with = "http")]
    echo: bool,
    /// Answer HTTP/1.1 requests with a page of the negotiated parameters (the default).
    #[arg(long)]
    http: bool,
    /// Event-loop threads (default: one per core). Not with --dtls (one loop over one
    /// socket).
    #[arg(long, conflicts_with = "dtls", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    threads: Option<usize>,
    /// Connections held at once; beyond it new ones get a fatal alert and are closed (--dtls:
    /// their datagrams are dropped unanswered).
    #[arg(long, default_value_t = 100_000)]
    max_connections: usize,
    /// Close a connection silent for this long (seconds, fractions allowed).
    #[arg(long, default_value = "300", value_parser = parse_secs)]
    idle_timeout: Duration,
    /// Close a connection whose handshake is silent for this long (seconds; --dtls: the
    /// whole handshake must finish within it).
    #[arg(long, default_value = "10", value_parser = parse_secs)]
    handshake_timeout: Duration,
    /// On SIGINT/SIGTERM, wait this long for connections to drain (seconds).
    #[arg(long, default_value = "5", value_parser = parse_secs)]
    shutdown_timeout: Duration,
    /// Accept only clients in ADDR/PREFIX (repeatable; default: everyone).
    #[arg(long)]
    allow: Vec<Cidr>,
    /// Refuse clients in ADDR/PREFIX (repeatable; wins over --allow).
    #[arg(long)]
    block: Vec<Cidr>,
    /// Plaintext buffered per connection and direction (bytes); a peer that does not read
    /// is muted (not read from) while its outbound data waits.
    #[arg(long, default_value_t = 64 * 1024)]
    max_buffer: usize,
    /// Serve DTLS over UDP (an echo server) instead of TLS over TCP: DTLS 1.3
    /// and 1.2, or what the version flags leave. The connection limits, timeouts, --allow,
    /// --block, --max-buffer and --log apply; a refused client gets no answer at all.
    #[arg(long, conflicts_with = "http")]
    dtls: bool,
    /// DTLS: the largest datagram to send (bytes).
    #[arg(long, default_value_t = sanstls::dtls::conn::DEFAULT_MTU, requires = "dtls")]
    mtu: usize,
    /// DTLS-SRTP: accept these protection profiles (comma-separated, our preference first);
    /// handshake lines then show `srtp=PROFILE srtp_keys=HEX` (RFC 5764).
    #[arg(long, value_name = "PROFILE[,PROFILE]", requires = "dtls")]
    srtp: Option<String>,
    /// Require a client certificate and accept it by its fingerprint (SDP form, `sha-256
    /// AB:CD:..` or `sha-256:AB:CD:..`; repeatable) instead of a CA (RFC 8122, RFC 8827).
    #[arg(long, value_name = "FINGERPRINT", conflicts_with = "client_ca")]
    fingerprint: Vec<String>,
    /// Share resumption with other servers through a Redis store (redis://HOST:PORT[/DB]):
    /// ticket keys, TLS 1.2 session IDs, 0-RTT anti-replay. Needs --fleet-key (or the
    /// SANSTLS_FLEET_KEY environment variable). When the store is unreachable: full
    /// handshakes, no 0-RTT. Not with --dtls.
    #[arg(long, value_name = "URL", conflicts_with = "dtls")]
    session_store: Option<String>,
    /// The key (32 bytes, raw or 64 hex digits) that seals everything put in the
    /// --session-store; every server of the fleet is given the same.
    #[arg(long, value_name = "FILE", requires = "session_store")]
    fleet_key: Option<PathBuf>,
    /// Ticket keys rotate every SECS seconds; a ticket opens during its key's period and
    /// the next.
    #[arg(long, value_name = "SECS", default_value_t = DEFAULT_TICKET_KEY_PERIOD,
          value_parser = clap::builder::RangedU64ValueParser::<u64>::new().range(1..))]
    ticket_key_period: u64,
    /// With --session-store: TLS 1.3 tickets are ids of sessions kept in the store, each
    /// usable once across the fleet (instead of sealed tickets).
    #[arg(long, requires = "session_store")]
    single_use_tickets: bool,
    /// Log level: error, warn, info, debug, trace.
    #[arg(long, default_value = "info")]
    log: String,
    /// DTLS: hand each client a connection id of BYTES (RFC 9146, RFC 9147 9; 0..=255) and
    /// find its datagrams by it, so the session survives a change of the client's address
    /// or port (the peer moves only on a datagram that authenticates).
    #[arg(long, value_name = "BYTES", requires = "dtls",
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(0..=255))]
    cid: Option<usize>,
    /// External PSKs: FILE holds `identity:hexkey` lines (as `gnutls-serv --pskpasswd`).
    /// Without --suite the server then also takes the PSK suites, after its defaults.
    #[arg(long, value_name = "FILE")]
    psk_file: Option<PathBuf>,
    /// TLS 1.2 psk_identity_hint to send with the PSK suites (with --psk-file).
    #[arg(long, value_name = "TEXT", requires = "psk_file")]
    psk_hint: Option<String>,
}

fn parse_secs(s: &str) -> Result<Duration, String> {
    let secs: f64 = s.parse().map_err(|_| format!("bad number of seconds {s}"))?;
    Duration::try_from_secs_f64(secs).map_err(|e| e.to_string())
}

fn load_certs(args: &Args) -> Result<Vec<CertifiedKey>, BoxError> {
    if args.certs.len() != args.keys.len() {
        return Err("give one --key for each --cert".into());
    }
    let extra: Vec<CertificateDer<'static>> = match &args.chain {
        Some(p) => CertificateDer::pem_file_iter(p)
            .map_err(|e| format!("{}: {e}", p.display()))?
            .collect::<Result<_, _>>()
            .map_err(|e| format!("{}: {e}", p.display()))?,
        None => Vec::new(),
    };
    let mut out = Vec::new();
    if args.certs.is_empty() {
        out.push(CertifiedKey::from_pem(TEST_CERT, TEST_KEY)?);
    }
    for (cert, key) in args.certs.iter().zip(&args.keys) {
        let mut ck = CertifiedKey::from_pem_files(cert, key)
            .map_err(|e| format!("--cert {} --key {}: {e}", cert.display(), key.display()))?;
        ck.chain.extend(extra.iter().cloned());
        out.push(ck);
    }
    Ok(out)
}

fn build_config(args: &Args, fleet: Option<&Arc<Fleet>>) -> Result<Arc<ServerConfig>, BoxError> {
    let mut certs = load_certs(args)?.into_iter();
    let first = certs.next().ok_or("no certificate")?;
    let mut builder = ServerConfig::builder(first);
    for c in certs {
        builder = builder.add_cert(c);
    }
    if let Some(path) = &args.psk_file {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let store = sanstls::PskStore::from_text(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        builder = builder
            .psk_lookup(Arc::new(store))
            .cipher_suites(&crate::common::server_suites_with_psk());
        if let Some(hint) = &args.psk_hint {
            builder = builder.psk_identity_hint(hint.as_bytes());
        }
    }
    builder = crate::apply_tls_args!(builder, &args.tls);
    builder = builder.max_buffered_plaintext(args.max_buffer);
    if let Some(ca) = &args.client_ca {
        let anchors = TrustAnchors::from_pem_file(ca)?;
        let mut verifier = WebPkiClientVerifier::new(anchors);
        if !args.require_client_cert {
            verifier = verifier.optional();
        }
        builder = builder.client_verifier(Arc::new(verifier));
    }
    if !args.fingerprint.is_empty() {
        builder = builder.client_verifier(Arc::new(crate::common::fingerprint_verifier(&args.fingerprint)?));
    }
    if let Some(list) = &args.srtp {
        builder = builder.srtp_profiles(&crate::common::parse_srtp_profiles(list)?);
    }
    builder = builder.max_early_data(args.max_early_data).tickets(args.tickets);
    builder = match fleet {
        Some(f) => {
            let keys = Arc::new(FleetTicketKeys(f.clone()));
            let storage = match args.single_use_tickets {
                true => SessionStorage::Store(Arc::new(FleetSessions::tls13(f.clone()))),
                false => SessionStorage::Tickets(keys.clone()),
            };
            builder
                .session_storage(storage)
                .ticket_keys12(keys)
                .session_store12(Arc::new(FleetSessions::tls12(f.clone())))
                .anti_replay(Arc::new(FleetAntiReplay(f.clone())))
        }
        None => builder.session_storage(SessionStorage::Tickets(Arc::new(TicketKeys::new(
            args.ticket_key_period,
        )))),
    };
    if args.tickets == 0 {
        // No resumption by any means: TLS 1.2 resumes through RFC 5077 tickets and the
        // session-ID cache (RFC 5246 7.4.1.2) as well as TLS 1.3's NewSessionTicket.
        builder = builder.tickets12(false).session_cache12(0);
    }
    Ok(builder.build()?)
}

/// What the workers share.
struct Shared {
    live: AtomicUsize,
    next_id: AtomicU64,
    shutdown: AtomicBool,
}

/// Settings a worker reads.
struct Opts {
    config: Arc<ServerConfig>,
    /// `--session-store`: ClientHellos wait for the store's answers before the handshake.
    fleet: Option<FleetLoop>,
    echo: bool,
    max_connections: usize,
    idle_timeout: Duration,
    handshake_timeout: Duration,
    shutdown_timeout: Duration,
    filter: Filter,
}

/// What the event loop needs to ask the fleet's store about a ClientHello.
struct FleetLoop {
    fleet: Arc<Fleet>,
    tls13_on: bool,
    early_on: bool,
}

const LISTENER: Token = Token(0);
const WAKER: Token = Token(1);
const FIRST_CONN: usize = 2;

impl Args {
    /// The client address filter of `--allow` / `--block`.
    fn filter(&self) -> Filter {
        Filter {
            allow: self.allow.clone(),
            block: self.block.clone(),
        }
    }
}

pub fn run(args: Args) -> Result<(), BoxError> {
    crate::common::init_log(&args.log)?;
    let fleet = match &args.session_store {
        Some(url) => Some(Fleet::start(FleetOpts {
            url: url.clone(),
            fleet_key: fleet::load_fleet_key(args.fleet_key.as_deref())?,
            period: args.ticket_key_period,
            window_ms: DEFAULT_FRESHNESS_WINDOW_MS,
            single_use_tickets: args.single_use_tickets,
        })?),
        None => None,
    };
    let config = build_config(&args, fleet.as_ref())?;
    if args.dtls {
        let opts = crate::dtls::ServeOpts {
            listen: args.listen.clone(),
            versions: crate::common::dtls_versions_label(&args.tls)?,
            mtu: args.mtu,
            max_connections: args.max_connections,
            idle_timeout: args.idle_timeout,
            handshake_timeout: args.handshake_timeout,
            shutdown_timeout: args.shutdown_timeout,
            filter: args.filter(),
            cid: args.cid,
        };
        return crate::dtls::serve(config, opts);
    }
    let addr = crate::common::listen_addr(&args.listen)?;
    let listener = std::net::TcpListener::bind(addr).map_err(|e| crate::common::bind_error(addr, e))?;
    listener.set_nonblocking(true)?;
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let tls13_on = !args.tls.tls12
        && args
            .tls
            .max_version
            .as_deref()
            .is_none_or(|v| !v.ends_with("1.2"));
    let opts = Arc::new(Opts {
        config,
        fleet: fleet.clone().map(|fleet| FleetLoop {
            fleet,
            tls13_on,
            early_on: args.max_early_data > 0,
        }),
        echo: args.echo,
        max_connections: args.max_connections,
        idle_timeout: args.idle_timeout,
        handshake_timeout: args.handshake_timeout,
        shutdown_timeout: args.shutdown_timeout,
        filter: args.filter(),
    });
    let shared = Arc::new(Shared {
        live: AtomicUsize::new(0),
        next_id: AtomicU64::new(1),
        shutdown: AtomicBool::new(false),
    });

    // Signals arrive on the main thread's own poll (signal-hook-mio: a self-pipe registered
    // with mio, so no work happens in the signal handler); workers are woken by their Waker.
    let mut signals =
        signal_hook_mio::v1_0::Signals::new([signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM])?;
    let mut poll = Poll::new()?;
    poll.registry()
        .register(&mut signals, Token(0), Interest::READABLE)?;

    let mut workers = Vec::new();
    for i in 0..threads {
        let mut l = TcpListener::from_std(listener.try_clone()?);
        let wpoll = Poll::new()?;
        wpoll.registry().register(&mut l, LISTENER, Interest::READABLE)?;
        let waker = Arc::new(Waker::new(wpoll.registry(), WAKER)?);
        let (resolved_tx, resolved) = mpsc::channel();
        let mut worker = Worker {
            poll: wpoll,
            waker: waker.clone(),
            resolved_tx,
            resolved,
            listener: Some(l),
            conns: Vec::new(),
            free: Vec::new(),
            opts: opts.clone(),
            shared: shared.clone(),
        };
        let handle = std::thread::Builder::new()
            .name(format!("serve-{i}"))
            .spawn(move || worker.run())?;
        workers.push((handle, waker));
    }
    let local = listener.local_addr()?;
    info!("listening on {local} ({threads} event loops)");
    let url_host = if local.ip().is_loopback() {
        "localhost".to_string()
    } else {
        local.ip().to_string()
    };
    if args.certs.is_empty() {
        // What a first-time user needs to reach it: the URL and the CA that signed the cert.
        info!(
            "https://{url_host}:{}/ serves the embedded test certificate for localhost, \
             signed by the test CA vectors/ca.pem (curl --cacert vectors/ca.pem https://localhost:{}/)",
            local.port(),
            local.port()
        );
    } else {
        info!("https://{url_host}:{}/", local.port());
    }
    drop(listener);

    let mut events = Events::with_capacity(8);
    'wait: loop {
        if let Err(e) = poll.poll(&mut events, None) {
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e.into());
        }
        if let Some(sig) = signals.pending().next() {
            info!("signal {sig}: shutting down");
            break 'wait;
        }
    }
    shared.shutdown.store(true, Ordering::SeqCst);
    for (_, waker) in &workers {
        waker.wake()?;
    }
    for (handle, _) in workers {
        let _ = handle.join();
    }
    if let Some(f) = &fleet {
        info!("session store: {} round trips", f.round_trips());
    }
    info!("shut down");
    Ok(())
}

/// Why a connection ends, for the log.
type Reason = std::borrow::Cow<'static, str>;

struct Conn {
    /// The connection's number (its log span's `id`).
    id: u64,
    /// Deferred ClientHello: until when it waits for the fleet's store.
    store_deadline: Option<Instant>,
    sock: TcpStream,
    tls: Connection,
    span: tracing::Span,
    last_activity: Instant,
    /// Plaintext produced for the peer that the connection's writer did not take yet.
    pending: Vec<u8>,
    /// HTTP request bytes not yet answered.
    request: Vec<u8>,
    bytes_in: u64,
    bytes_out: u64,
    muted: bool,
    /// Send close_notify once `pending` is taken (HTTP `Connection: close`).
    close_after_pending: bool,
    /// We sent close_notify (or a fatal alert): close once the queue is flushed.
    closing: Option<Reason>,
    /// Our last record is out and our side shut: draining the peer before closing.
    linger: Option<Linger>,
}

/// What is left of a connection's drain before it closes.
struct Linger {
    until: Instant,
    bytes_left: usize,
}

struct Worker {
    poll: Poll,
    waker: Arc<Waker>,
    /// The fleet's store thread answers deferred ClientHellos here (and wakes the loop).
    resolved_tx: mpsc::Sender<fleet::Resolved>,
    resolved: mpsc::Receiver<fleet::Resolved>,
    listener: Option<TcpListener>,
    conns: Vec<Option<Conn>>,
    free: Vec<usize>,
    opts: Arc<Opts>,
    shared: Arc<Shared>,
}

impl Worker {
    fn run(&mut self) {
        let mut events = Events::with_capacity(1024);
        let mut last_sweep = Instant::now();
        let mut drain_deadline: Option<Instant> = None;
        loop {
            // Short ticks while ClientHellos may wait for the store, so the bounded wait holds.
            let tick = if drain_deadline.is_some() || self.opts.fleet.is_some() {
                Duration::from_millis(50)
            } else {
                Duration::from_millis(250)
            };
            if let Err(e) = self.poll.poll(&mut events, Some(tick)) {
                if e.kind() != io::ErrorKind::Interrupted {
                    warn!("poll: {e}");
                    return;
                }
            }
            for ev in events.iter() {
                match ev.token() {
                    LISTENER => self.accept_all(),
                    WAKER => self.store_answers(),
                    Token(t) => self.service(t - FIRST_CONN),
                }
            }
            if drain_deadline.is_none() && self.shared.shutdown.load(Ordering::SeqCst) {
                drain_deadline = Some(Instant::now() + self.opts.shutdown_timeout);
                self.begin_shutdown();
            }
            let now = Instant::now();
            if now.duration_since(last_sweep) >= tick {
                last_sweep = now;
                self.sweep(now);
            }
            if let Some(deadline) = drain_deadline {
                let open = self.conns.iter().filter(|c| c.is_some()).count();
                if open == 0 {
                    return;
                }
                if now >= deadline {
                    warn!("shutdown deadline: {open} connections still draining");
                    for i in 0..self.conns.len() {
                        self.close(i, "shutdown deadline".into());
                    }
                    return;
                }
            }
        }
    }

    fn accept_all(&mut self) {
        loop {
            let Some(listener) = &self.listener else { return };
            let (sock, peer) = match listener.accept() {
                Ok(x) => x,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // EMFILE and friends: the next readiness event retries.
                    warn!("accept: {e}");
                    return;
                }
            };
            self.accept_one(sock, peer);
        }
    }

    fn accept_one(&mut self, mut sock: TcpStream, peer: SocketAddr) {
        if let Err(why) = self.opts.filter.check(peer.ip()) {
            info!(%peer, "refused: {why}");
            return;
        }
        if self.shared.live.fetch_add(1, Ordering::SeqCst) >= self.opts.max_connections {
            self.shared.live.fetch_sub(1, Ordering::SeqCst);
            info!(%peer, "refused: --max-connections {} reached", self.opts.max_connections);
            // A plaintext fatal internal_error alert (RFC 8446 6.2) instead of a bare reset, so
            // the client reports a refusal. Best effort: the socket is fresh, so it fits.
            let _ = sock.write(&[21, 3, 3, 0, 2, 2, 80]);
            return;
        }
        let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        let span = info_span!("conn", id, %peer);
        let tls = match self.opts.fleet {
            // The handshake starts once the store has answered what the ClientHello needs.
            Some(_) => Ok(Connection::server_deferred()),
            None => Connection::server(self.opts.config.clone()),
        };
        let tls = match tls {
            Ok(t) => t,
            Err(e) => {
                self.shared.live.fetch_sub(1, Ordering::SeqCst);
                warn!("connection setup: {e}");
                return;
            }
        };
        let _ = sock.set_nodelay(true);
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.conns.push(None);
                self.conns.len() - 1
            }
        };
        let token = Token(slot + FIRST_CONN);
        if let Err(e) =
            self.poll
                .registry()
                .register(&mut sock, token, Interest::READABLE | Interest::WRITABLE)
        {
            self.shared.live.fetch_sub(1, Ordering::SeqCst);
            self.free.push(slot);
            warn!("register: {e}");
            return;
        }
        span.in_scope(|| info!("accepted"));
        self.conns[slot] = Some(Conn {
            id,
            store_deadline: None,
            sock,
            tls,
            span,
            last_activity: Instant::now(),
            pending: Vec::new(),
            request: Vec::new(),
            bytes_in: 0,
            bytes_out: 0,
            muted: false,
            close_after_pending: false,
            closing: None,
            linger: None,
        });
    }

    fn service(&mut self, slot: usize) {
        let echo = self.opts.echo;
        let Some(Some(c)) = self.conns.get_mut(slot) else {
            return;
        };
        let span = c.span.clone();
        let _g = span.enter();
        if let Err(reason) = pump(c, echo) {
            drop(_g);
            self.close(slot, reason);
            return;
        }
        drop(_g);
        self.settle_hello(slot);
    }

    /// A deferred ClientHello (`--session-store`): asks the store what it needs, or accepts
    /// it at once when it needs nothing (or the store is down, or its queue full).
    fn settle_hello(&mut self, slot: usize) {
        let Some(fl) = &self.opts.fleet else { return };
        let Some(Some(c)) = self.conns.get_mut(slot) else {
            return;
        };
        if c.store_deadline.is_some() || c.closing.is_some() {
            return;
        }
        let Some(hello) = c.tls.client_hello() else {
            return;
        };
        let lookup = match fl.fleet.up() {
            true => Lookup::for_hello(&fl.fleet, hello, fl.tls13_on, fl.early_on),
            false => None,
        };
        if let Some(lookup) = lookup {
            let reply = fleet::Reply {
                tx: self.resolved_tx.clone(),
                waker: self.waker.clone(),
                slot,
                conn_id: c.id,
            };
            if fl.fleet.submit(lookup, reply) {
                c.store_deadline = Some(Instant::now() + fleet::STORE_WAIT);
                return;
            }
        }
        self.accept_hello(slot, Answers::default());
    }

    /// Goes on with the deferred handshake in `slot`, the store's `answers` at hand.
    fn accept_hello(&mut self, slot: usize, answers: Answers) {
        let config = self.opts.config.clone();
        let echo = self.opts.echo;
        let Some(Some(c)) = self.conns.get_mut(slot) else {
            return;
        };
        c.store_deadline = None;
        let span = c.span.clone();
        let _g = span.enter();
        let result = fleet::with_answers(answers, || c.tls.accept_with(config));
        report_events(c, true);
        if let Err(e) = result {
            match e.alert() {
                Some(alert) => warn!("alert sent: {alert} ({e})"),
                None => warn!("error: {e}"),
            }
            c.closing = Some(format!("TLS error: {e}").into());
        }
        if let Err(reason) = pump(c, echo) {
            drop(_g);
            self.close(slot, reason);
        }
    }

    /// The store thread's answers for deferred ClientHellos.
    fn store_answers(&mut self) {
        while let Ok(r) = self.resolved.try_recv() {
            let waiting = matches!(
                self.conns.get(r.slot),
                Some(Some(c)) if c.id == r.conn_id && c.store_deadline.is_some()
            );
            if waiting {
                self.accept_hello(r.slot, r.answers);
            }
        }
    }

    fn close(&mut self, slot: usize, reason: Reason) {
        let Some(mut c) = self.conns.get_mut(slot).and_then(Option::take) else {
            return;
        };
        let _g = c.span.enter();
        let _ = self.poll.registry().deregister(&mut c.sock);
        info!(bytes_in = c.bytes_in, bytes_out = c.bytes_out, "closed: {reason}");
        drop(_g);
        self.free.push(slot);
        self.shared.live.fetch_sub(1, Ordering::SeqCst);
    }

    fn sweep(&mut self, now: Instant) {
        for slot in 0..self.conns.len() {
            let Some(c) = &mut self.conns[slot] else { continue };
            if c.store_deadline.is_some_and(|d| now >= d) {
                // The store is slow: no resumption, no 0-RTT for this one.
                c.span.in_scope(|| debug!("session store did not answer in time"));
                self.accept_hello(slot, Answers::default());
                continue;
            }
            if let Some(linger) = &c.linger {
                // Draining after our last record: only its own deadline applies.
                if now >= linger.until {
                    let reason = c.closing.clone().unwrap_or_default();
                    self.close(slot, reason);
                }
                continue;
            }
            let (limit, what) = if c.tls.is_handshaking() {
                (self.opts.handshake_timeout, "handshake timeout")
            } else {
                (self.opts.idle_timeout, "idle timeout")
            };
            if now.duration_since(c.last_activity) < limit {
                continue;
            }
            if c.closing.is_none() && !c.tls.is_handshaking() {
                // Say goodbye properly; the socket may still take it.
                let span = c.span.clone();
                let _g = span.enter();
                c.tls.send_close_notify();
                let _ = flush(c);
            }
            self.close(slot, what.into());
        }
    }

    fn begin_shutdown(&mut self) {
        if let Some(mut l) = self.listener.take() {
            let _ = self.poll.registry().deregister(&mut l);
        }
        let echo = self.opts.echo;
        for slot in 0..self.conns.len() {
            let Some(c) = &mut self.conns[slot] else { continue };
            let span = c.span.clone();
            let _g = span.enter();
            let result = if c.tls.is_handshaking() {
                Err("shutdown during the handshake".into())
            } else {
                c.tls.send_close_notify();
                if c.closing.is_none() {
                    c.closing = Some("shutdown".into());
                }
                pump(c, echo)
            };
            if let Err(reason) = result {
                drop(_g);
                self.close(slot, reason);
            }
        }
    }
}

/// Writes queued records until the socket would block. Ok(true): everything went out.
fn flush(c: &mut Conn) -> Result<bool, Reason> {
    while c.tls.wants_write() {
        match c.tls.write_tls(&mut c.sock) {
            Ok(0) => return Ok(!c.tls.wants_write()),
            Ok(n) => {
                c.bytes_out += n as u64;
                c.last_activity = Instant::now();
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("write: {e}").into()),
        }
    }
    Ok(true)
}

/// Moves bytes both ways until the socket would block, applying flow control: while the
/// peer has not taken what we owe it, we do not read from it (muted).
fn pump(c: &mut Conn, echo: bool) -> Result<(), Reason> {
    loop {
        let drained = flush(c)?;
        if c.closing.is_some() {
            if drained {
                return linger(c);
            }
            return Ok(());
        }
        if !drained || !c.pending.is_empty() {
            // The peer has not taken what we owe it: stop reading from it until it does.
            if !c.muted {
                c.muted = true;
                debug!("muted: peer is not reading");
            }
            // With room in the socket, move owed plaintext along and look again.
            if drained && produce(c, echo)? {
                continue;
            }
            return Ok(());
        }
        if c.muted {
            c.muted = false;
            debug!("unmuted");
        }
        // Records may wait in the connection while its plaintext buffer was full.
        process(c);
        if c.closing.is_some() || c.tls.wants_write() || produce(c, echo)? {
            continue;
        }
        if c.tls.peer_has_closed() {
            // All its data was taken: answer the peer's close_notify with ours (RFC 8446 6.1).
            c.tls.send_close_notify();
            c.closing = Some("peer sent close_notify".into());
            continue;
        }
        if !c.tls.wants_read() {
            return Ok(());
        }
        match c.tls.read_tls(&mut c.sock) {
            Ok(0) => {
                return Err(if c.tls.is_handshaking() {
                    "peer closed the TCP connection during the handshake".into()
                } else {
                    "peer closed the TCP connection".into()
                })
            }
            Ok(n) => {
                c.bytes_in += n as u64;
                c.last_activity = Instant::now();
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                // Quiet until the next readiness event: an idle connection keeps no buffers.
                c.tls.release_buffers();
                return Ok(());
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("read: {e}").into()),
        }
    }
}

/// Drains the peer once our last record is out, then closes (`Err(reason)`); `Ok(())` while
/// waiting for more. Closing a TCP socket with unread bytes makes the kernel reset the
/// connection, and the reset can cost the peer our alert or close_notify (its write fails, or
/// its stack drops what it had not read): so we shut our side (FIN after our records) and read
/// and discard until the peer closes, up to the library adapters' [`LINGER_BYTES`] and
/// [`LINGER_TIME`] (the sweep enforces the time when the peer goes quiet), so a peer cannot
/// hold the slot.
fn linger(c: &mut Conn) -> Result<(), Reason> {
    let reason = c.closing.clone().unwrap_or_default();
    if c.linger.is_none() {
        if c.tls.peer_has_closed() {
            // Its close_notify was its last record: nothing more is coming.
            return Err(reason);
        }
        let _ = c.sock.shutdown(Shutdown::Write);
        c.linger = Some(Linger {
            until: Instant::now() + LINGER_TIME,
            bytes_left: LINGER_BYTES,
        });
    }
    let Some(linger) = c.linger.as_mut() else {
        return Err(reason);
    };
    let mut buf = [0u8; CHUNK];
    loop {
        if linger.bytes_left == 0 || Instant::now() >= linger.until {
            return Err(reason);
        }
        let want = linger.bytes_left.min(buf.len());
        match c.sock.read(&mut buf[..want]) {
            Ok(0) => return Err(reason),
            Ok(n) => {
                linger.bytes_left -= n;
                c.bytes_in += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Err(reason),
        }
    }
}

/// Runs the state machine over buffered records; an error sets `closing`.
fn process(c: &mut Conn) {
    let was_handshaking = c.tls.is_handshaking();
    let result = c.tls.process_new_packets();
    report_events(c, was_handshaking);
    if let Err(e) = result {
        match e.alert() {
            Some(alert) => warn!("alert sent: {alert} ({e})"),
            None => warn!("error: {e}"),
        }
        c.closing = Some(format!("TLS error: {e}").into());
    }
}

fn report_events(c: &mut Conn, was_handshaking: bool) {
    while let Some(ev) = c.tls.next_event() {
        match ev {
            Event::HandshakeComplete => {
                let sni = c.tls.server_name().unwrap_or("-").to_string();
                info!(
                    "handshake: {} early_data={} sni={sni}",
                    handshake_summary(&c.tls),
                    early_data_word(&c.tls)
                );
                if let Some(ee) = c.tls.peer_certificates().first() {
                    info!(
                        "client certificate presented ({} bytes, chain of {}): verified",
                        ee.len(),
                        c.tls.peer_certificates().len()
                    );
                }
            }
            Event::Alert { level, description } => {
                info!("alert received: {level:?} {description}")
            }
            Event::KeyUpdated { ours } => debug!("key update (ours: {ours})"),
            Event::PeerClosed => info!("close_notify received"),
            _ => {}
        }
    }
    if was_handshaking && c.tls.error().is_some() {
        if let Some(sanstls::Error::InvalidCertificate(e)) = c.tls.error() {
            info!("client certificate refused: {e}");
        }
        if let Some(sanstls::Error::CertificateRequired) = c.tls.error() {
            info!("client certificate required, none presented");
        }
    }
}

/// Moves received plaintext to the application (echo or HTTP) and its answers into the
/// connection's writer, within the caps. Returns true if anything moved.
fn produce(c: &mut Conn, echo: bool) -> Result<bool, Reason> {
    let mut moved = false;
    loop {
        // What we owe goes first; it is at most one chunk or one response.
        if !c.pending.is_empty() {
            match c.tls.writer().write(&c.pending) {
                Ok(n) => {
                    c.pending.drain(..n);
                    moved |= n > 0;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(moved),
                Err(e) => return Err(format!("write: {e}").into()),
            }
            if !c.pending.is_empty() {
                return Ok(moved);
            }
        }
        if c.close_after_pending {
            // The answer is queued: close_notify after it.
            c.tls.send_close_notify();
            c.closing = Some("HTTP Connection: close".into());
            return Ok(true);
        }
        let mut buf = [0u8; CHUNK];
        // Accepted 0-RTT data comes first, then the data after the handshake.
        let n = match c.tls.early_data_reader().read(&mut buf) {
            Ok(n) if n > 0 => n,
            _ => c.tls.reader().read(&mut buf).unwrap_or(0),
        };
        if echo {
            if n == 0 {
                return Ok(moved);
            }
            moved = true;
            c.pending.extend_from_slice(&buf[..n]);
            continue;
        }
        c.request.extend_from_slice(&buf[..n]);
        moved |= n > 0;
        let Some(end) = head_end(&c.request) else {
            if c.request.len() > MAX_REQUEST_HEAD {
                return Err("HTTP request head too large".into());
            }
            if n == 0 {
                return Ok(moved);
            }
            continue;
        };
        let head: Vec<u8> = c.request.drain(..end).collect();
        let (response, close) = http_response(&c.tls, &head);
        c.pending = response;
        c.close_after_pending = close;
    }
}

/// The length of the request head in `buf` (through the empty line that ends it), if it is
/// all there. RFC 9112 2.2: a bare LF ends a line as well as CR LF (simple clients send it),
/// so the head ends at an LF followed by LF or by CR LF.
fn head_end(buf: &[u8]) -> Option<usize> {
    buf.iter().enumerate().find_map(|(i, &b)| {
        if b != b'\n' {
            return None;
        }
        match buf.get(i + 1..) {
            Some([b'\n', ..]) => Some(i + 2),
            Some([b'\r', b'\n', ..]) => Some(i + 3),
            _ => None,
        }
    })
}

/// The response to one request head, and whether to close after it (the client asked to,
/// or spoke HTTP/1.0 without keep-alive).
fn http_response(conn: &Connection, head: &[u8]) -> (Vec<u8>, bool) {
    let text = String::from_utf8_lossy(head).to_ascii_lowercase();
    let header = |name: &str| {
        text.lines()
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim() == name)
            .map(|(_, v)| v.trim().to_string())
    };
    let http10 = text.lines().next().is_some_and(|l| l.ends_with("http/1.0"));
    let connection = header("connection").unwrap_or_default();
    let close = connection.contains("close") || (http10 && !connection.contains("keep-alive"));
    let sni = conn.server_name().unwrap_or("-");
    // One `name=value` per line, so the page reads in a narrow window too.
    let body = format!(
        "<!DOCTYPE html>\n<html><head><title>sanstls</title></head><body>\n<h1>sanstls</h1>\n<pre>\n{}\nsni={}\n</pre>\n</body></html>\n",
        handshake_summary(conn).replace(' ', "\n"),
        sni
    );
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: {}\r\n\r\n{}",
        body.len(),
        if close { "close" } else { "keep-alive" },
        body
    );
    (response.into_bytes(), close)
}
