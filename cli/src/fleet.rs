//! `serve --session-store redis://HOST:PORT[/DB] --fleet-key FILE`: resumption and 0-RTT
//! across servers behind one load balancer, with the shared state in Redis (or anything
//! speaking its protocol).
//!
//! What is shared, under `sanstls:` keys:
//! - `sanstls:ticket-keys`: the ticket-key ring (the keys of epochs `now / period` around
//!   now), one value with an expiry of three periods, rotated by whichever server first sees
//!   an epoch without its key (WATCH/MULTI/EXEC, so two servers never install different
//!   keys). Every server keeps a copy, refreshed in the background ahead of each epoch, so
//!   sealing and opening tickets costs no round trip.
//! - `sanstls:s12:<id>`: TLS 1.2 sessions by session ID, with the session lifetime as TTL.
//! - `sanstls:s13:<id>`: with `--single-use-tickets`, TLS 1.3 sessions by ticket, taken with
//!   GETDEL (one use across the fleet).
//! - `sanstls:0rtt:<binder>`: 0-RTT anti-replay (RFC 8446 8): SET NX with the freshness
//!   window as expiry, so a ClientHello replayed to another server finds it there.
//!
//! Keys and sessions are sealed (AES-256-GCM, the Redis key name bound in as AAD) under the
//! fleet key every server is given; Redis never sees a secret in the clear.
//!
//! Nothing here blocks an event loop. The library asks its stores during the handshake and
//! must get an answer at once, so the event loop defers each ClientHello that needs the
//! store ([`Lookup::for_hello`]), a store thread does the round trip (one pipeline) and wakes
//! the loop, which hands the answers to the connection ([`with_answers`]) as it accepts the
//! hello. The wait is bounded ([`STORE_WAIT`]); an unreachable store answers "unknown" at
//! once: full handshakes, no 0-RTT (fail closed), logged once per outage.

use std::cell::RefCell;
use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender, TrySendError};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mio::Waker;
use sanstls::codec::ProtocolVersion;
use sanstls::conn::{AntiReplayCheck, ClientHelloInfo, SessionStore, TicketKeySource};
use sanstls::crypto::rand::{RandomSource, SystemRandomSource};
use sanstls::crypto::ticket::TicketKey;
use tracing::{info, warn};
use zeroize::Zeroizing;

use crate::common::BoxError;

/// How long a deferred ClientHello waits for the store before going on without it.
pub const STORE_WAIT: Duration = Duration::from_millis(250);
/// Connect, read and write timeout of one Redis round trip.
const IO_TIMEOUT: Duration = Duration::from_millis(200);
/// While the store is down, how often a reconnect is tried.
const RETRY_EVERY: Duration = Duration::from_secs(1);
/// Lookups and writes waiting for the store thread; beyond it they go unanswered.
const QUEUE: usize = 4096;
/// The Redis key of the ticket-key ring.
const RING_KEY: &str = "sanstls:ticket-keys";
/// The environment variable that may hold the fleet key (64 hex digits).
pub const FLEET_KEY_ENV: &str = "SANSTLS_FLEET_KEY";

/// What `serve` sets up a fleet with.
pub struct FleetOpts {
    pub url: String,
    pub fleet_key: Zeroizing<Vec<u8>>,
    /// Ticket-key rotation period, seconds.
    pub period: u64,
    /// 0-RTT freshness window, milliseconds.
    pub window_ms: u64,
    /// TLS 1.3 tickets are ids into the store, taken on use (otherwise sealed tickets).
    pub single_use_tickets: bool,
}

/// The fleet key from `path` (32 bytes, raw or as 64 hex digits) or, without a path, from
/// [`FLEET_KEY_ENV`].
pub fn load_fleet_key(path: Option<&Path>) -> Result<Zeroizing<Vec<u8>>, BoxError> {
    let (text, from) = match path {
        Some(p) => (
            Zeroizing::new(std::fs::read(p).map_err(|e| format!("--fleet-key {}: {e}", p.display()))?),
            p.display().to_string(),
        ),
        None => (
            Zeroizing::new(
                std::env::var(FLEET_KEY_ENV)
                    .map_err(|_| format!("--session-store needs --fleet-key FILE or {FLEET_KEY_ENV}"))?
                    .into_bytes(),
            ),
            FLEET_KEY_ENV.to_string(),
        ),
    };
    if text.len() == 32 {
        return Ok(Zeroizing::new(text.to_vec()));
    }
    let hex = std::str::from_utf8(&text).map(str::trim).unwrap_or("");
    let mut key = Zeroizing::new(vec![0u8; 32]);
    if hex.len() != 64 || !hex.is_ascii() {
        return Err(format!("{from}: the fleet key is 32 bytes or 64 hex digits").into());
    }
    for (i, b) in key.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)
            .map_err(|_| format!("{from}: the fleet key is 32 bytes or 64 hex digits"))?;
    }
    Ok(key)
}

/// Whether the store answers; says so in the log once per change.
struct Health {
    up: AtomicBool,
    url: String,
}

impl Health {
    fn up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    fn failed(&self, e: &dyn fmt::Display) {
        if self.up.swap(false, Ordering::SeqCst) {
            warn!(
                "session store {} unreachable ({e}): full handshakes only, 0-RTT refused, until it is back",
                self.url
            );
        }
    }

    fn ok(&self) {
        if !self.up.swap(true, Ordering::SeqCst) {
            info!("session store {} reachable again: resumption resumes", self.url);
        }
    }
}

/// One ticket key of the ring, its bytes kept to write the ring back.
struct RingKey {
    epoch: u64,
    bytes: Zeroizing<[u8; 32]>,
    key: Arc<TicketKey>,
}

/// The state every part of the fleet support shares.
pub struct Fleet {
    client: redis::Client,
    sealer: TicketKey,
    period: u64,
    window_ms: u64,
    single_use_tickets: bool,
    ring: RwLock<Vec<RingKey>>,
    health: Health,
    jobs: SyncSender<Job>,
    /// Redis round trips made (pipelines and single commands), for the figures.
    round_trips: AtomicU64,
}

impl fmt::Debug for Fleet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fleet")
            .field("url", &self.health.url)
            .field("period", &self.period)
            .finish_non_exhaustive()
    }
}

/// What the store thread is asked to do.
enum Job {
    Lookup(Lookup, Reply),
    Put {
        key: String,
        value: Vec<u8>,
        ttl_secs: u64,
    },
}

/// Where the answers to a deferred ClientHello go.
pub struct Reply {
    pub tx: Sender<Resolved>,
    pub waker: Arc<Waker>,
    pub slot: usize,
    pub conn_id: u64,
}

/// Answers for one deferred connection, back on its event loop.
pub struct Resolved {
    pub slot: usize,
    pub conn_id: u64,
    pub answers: Answers,
}

/// What one ClientHello needs from the store.
#[derive(Debug, Default)]
pub struct Lookup {
    /// TLS 1.2 session ID to look up.
    session_id: Option<Vec<u8>>,
    /// TLS 1.3 ticket (single-use) to take.
    ticket: Option<Vec<u8>>,
    /// 0-RTT binder to mark as seen.
    binder: Option<Vec<u8>>,
}

impl Lookup {
    /// The store work a ClientHello needs, if any: a TLS 1.2 session ID a TLS 1.2 handshake
    /// will try (not a TLS 1.3 client's compatibility filler, not beside a ticket), the first
    /// PSK identity with single-use tickets, and the first binder when 0-RTT is asked for.
    pub fn for_hello(fleet: &Fleet, hello: &ClientHelloInfo, tls13_on: bool, early_on: bool) -> Option<Self> {
        let tls13 = tls13_on && hello.versions.contains(&ProtocolVersion::TLSv1_3);
        let mut l = Lookup::default();
        let ticket_sent = hello.session_ticket.as_ref().is_some_and(|t| !t.is_empty());
        if !tls13 && !hello.session_id.is_empty() && !ticket_sent {
            l.session_id = Some(hello.session_id.clone());
        }
        if tls13 && fleet.single_use_tickets {
            l.ticket = hello.psk_identities.first().cloned();
        }
        if tls13 && early_on && hello.early_data {
            l.binder = hello.first_psk_binder.clone();
        }
        (l.session_id.is_some() || l.ticket.is_some() || l.binder.is_some()).then_some(l)
    }
}

/// The store's answers for the ClientHello being accepted, read by the store types below.
#[derive(Default)]
pub struct Answers {
    sessions: Vec<(Vec<u8>, Zeroizing<Vec<u8>>)>,
    /// Binders found fresh (set-if-absent succeeded).
    fresh: Vec<Vec<u8>>,
}

thread_local! {
    /// Answers for the ClientHello this thread is accepting now (the library asks during
    /// `accept_with`, on the event loop's thread).
    static ANSWERS: RefCell<Answers> = RefCell::new(Answers::default());
}

/// Runs `f` (the connection's `accept_with`) with `answers` at hand for the store types;
/// whatever it did not use is dropped afterwards.
pub fn with_answers<R>(answers: Answers, f: impl FnOnce() -> R) -> R {
    ANSWERS.with(|a| *a.borrow_mut() = answers);
    let r = f();
    ANSWERS.with(|a| *a.borrow_mut() = Answers::default());
    r
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Fleet {
    /// Connects (bounded), loads or creates the ticket-key ring, and starts the store and
    /// ring threads. An unreachable store is not fatal: the server starts without resumption
    /// and picks the store up when it answers.
    pub fn start(opts: FleetOpts) -> Result<Arc<Fleet>, BoxError> {
        let client = redis::Client::open(opts.url.as_str())
            .map_err(|e| format!("--session-store {}: {e}", opts.url))?;
        let sealer = TicketKey::from_key(&opts.fleet_key)?;
        let (jobs, rx) = mpsc::sync_channel(QUEUE);
        let fleet = Arc::new(Fleet {
            client,
            sealer,
            period: opts.period.max(1),
            window_ms: opts.window_ms,
            single_use_tickets: opts.single_use_tickets,
            ring: RwLock::new(Vec::new()),
            health: Health {
                up: AtomicBool::new(true),
                url: opts.url.clone(),
            },
            jobs,
            round_trips: AtomicU64::new(0),
        });
        let mut ring_con = fleet.connect().ok();
        fleet.refresh_ring(&mut ring_con);
        if fleet.health.up() {
            info!(
                "session store {}: ticket keys shared, rotating every {} s",
                opts.url, fleet.period
            );
        }
        let f = fleet.clone();
        std::thread::Builder::new()
            .name("fleet-store".into())
            .spawn(move || f.store_thread(rx))?;
        let f = fleet.clone();
        std::thread::Builder::new()
            .name("fleet-keys".into())
            .spawn(move || f.ring_thread(ring_con))?;
        Ok(fleet)
    }

    /// Whether the store answered last time.
    pub fn up(&self) -> bool {
        self.health.up()
    }

    /// Redis round trips made so far.
    pub fn round_trips(&self) -> u64 {
        self.round_trips.load(Ordering::Relaxed)
    }

    /// Queues `lookup`; false if the queue is full (the caller goes on without answers).
    pub fn submit(&self, lookup: Lookup, reply: Reply) -> bool {
        match self.jobs.try_send(Job::Lookup(lookup, reply)) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
        }
    }

    fn connect(&self) -> redis::RedisResult<redis::Connection> {
        let con = self.client.get_connection_with_timeout(IO_TIMEOUT)?;
        con.set_read_timeout(Some(IO_TIMEOUT))?;
        con.set_write_timeout(Some(IO_TIMEOUT))?;
        Ok(con)
    }

    /// `value` sealed under the fleet key, bound to the Redis key it is stored under.
    fn seal(&self, key: &str, value: &[u8]) -> Option<Vec<u8>> {
        self.sealer.seal(&SystemRandomSource, key.as_bytes(), value).ok()
    }

    fn open(&self, key: &str, sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        self.sealer.open(key.as_bytes(), sealed)
    }

    /// Keeps `con` connected (at most one try per [`RETRY_EVERY`] while the store is down).
    fn ensure<'c>(
        &self,
        con: &'c mut Option<redis::Connection>,
        last_try: &mut Option<Instant>,
    ) -> Option<&'c mut redis::Connection> {
        // The key thread may have seen the store come back: then try at once.
        if con.is_none() && (self.health.up() || last_try.is_none_or(|t| t.elapsed() >= RETRY_EVERY)) {
            *last_try = Some(Instant::now());
            match self.connect() {
                Ok(c) => *con = Some(c),
                Err(e) => self.health.failed(&e),
            }
        }
        con.as_mut()
    }

    fn store_thread(self: Arc<Self>, rx: Receiver<Job>) {
        let mut con = None;
        let mut last_try = None;
        while let Ok(job) = rx.recv() {
            let Some(c) = self.ensure(&mut con, &mut last_try) else {
                if let Job::Lookup(_, reply) = job {
                    answer(reply, Answers::default());
                }
                continue;
            };
            let result = match job {
                Job::Lookup(lookup, reply) => match self.lookup(c, &lookup) {
                    Ok(answers) => {
                        answer(reply, answers);
                        Ok(())
                    }
                    Err(e) => {
                        answer(reply, Answers::default());
                        Err(e)
                    }
                },
                Job::Put { key, value, ttl_secs } => {
                    self.round_trips.fetch_add(1, Ordering::Relaxed);
                    redis::cmd("SET")
                        .arg(&key)
                        .arg(value)
                        .arg("EX")
                        .arg(ttl_secs.max(1))
                        .query::<()>(c)
                }
            };
            match result {
                Ok(()) => self.health.ok(),
                Err(e) => {
                    self.health.failed(&e);
                    con = None;
                    last_try = Some(Instant::now());
                }
            }
        }
    }

    /// One pipeline for everything a ClientHello needs.
    fn lookup(&self, con: &mut redis::Connection, l: &Lookup) -> redis::RedisResult<Answers> {
        let mut pipe = redis::pipe();
        let s12 = l.session_id.as_ref().map(|id| format!("sanstls:s12:{}", hex(id)));
        let s13 = l.ticket.as_ref().map(|id| format!("sanstls:s13:{}", hex(id)));
        if let Some(k) = &s12 {
            pipe.cmd("GET").arg(k);
        }
        if let Some(k) = &s13 {
            pipe.cmd("GETDEL").arg(k);
        }
        if let Some(b) = &l.binder {
            pipe.cmd("SET")
                .arg(format!("sanstls:0rtt:{}", hex(b)))
                .arg(1)
                .arg("NX")
                .arg("PX")
                .arg(self.window_ms.max(1));
        }
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        let values: Vec<redis::Value> = pipe.query(con)?;
        let mut values = values.into_iter();
        let mut answers = Answers::default();
        for (id, key) in [(&l.session_id, &s12), (&l.ticket, &s13)] {
            if let (Some(id), Some(key)) = (id, key) {
                if let Some(redis::Value::BulkString(sealed)) = values.next() {
                    if let Some(state) = self.open(key, &sealed) {
                        answers.sessions.push((id.clone(), state));
                    }
                }
            }
        }
        if let Some(b) = &l.binder {
            // OK when the key was set (first sighting); nil when it was there already.
            if matches!(values.next(), Some(redis::Value::Okay)) {
                answers.fresh.push(b.clone());
            }
        }
        Ok(answers)
    }

    fn put(&self, key: String, state: &[u8], ttl_secs: u64) {
        if !self.health.up() {
            return;
        }
        if let Some(value) = self.seal(&key, state) {
            // A full queue drops the write: that session resumes on no other server.
            let _ = self.jobs.try_send(Job::Put { key, value, ttl_secs });
        }
    }

    fn ring_thread(self: Arc<Self>, mut con: Option<redis::Connection>) {
        // Often enough that the next epoch's key is everywhere well before it starts.
        let tick = Duration::from_millis((self.period * 1000 / 4).clamp(100, 1000));
        loop {
            std::thread::sleep(tick);
            self.refresh_ring(&mut con);
        }
    }

    /// Reads the ring, adds the keys of this epoch and the next if missing, drops the ones
    /// before the previous epoch, writes it back if it changed (atomically: WATCH, and a
    /// concurrent rotation by another server makes us read again), and keeps the result.
    fn refresh_ring(&self, con: &mut Option<redis::Connection>) {
        if con.is_none() {
            match self.connect() {
                Ok(c) => *con = Some(c),
                Err(e) => return self.health.failed(&e),
            }
        }
        let Some(c) = con.as_mut() else { return };
        match self.sync_ring(c) {
            Ok(ring) => {
                self.health.ok();
                *self.ring.write().unwrap_or_else(|e| e.into_inner()) = ring;
            }
            Err(e) => {
                self.health.failed(&e);
                *con = None;
            }
        }
    }

    /// A copy of the keys we hold.
    fn local_ring(&self) -> Vec<RingKey> {
        let ring = self.ring.read().unwrap_or_else(|e| e.into_inner());
        ring.iter()
            .map(|k| RingKey {
                epoch: k.epoch,
                bytes: k.bytes.clone(),
                key: k.key.clone(),
            })
            .collect()
    }

    fn sync_ring(&self, con: &mut redis::Connection) -> Result<Vec<RingKey>, BoxError> {
        for _ in 0..8 {
            let epoch = unix_now() / self.period;
            self.round_trips.fetch_add(2, Ordering::Relaxed);
            redis::cmd("WATCH").arg(RING_KEY).query::<()>(con)?;
            let stored: Option<Vec<u8>> = redis::cmd("GET").arg(RING_KEY).query(con)?;
            let mut ring = match &stored {
                Some(sealed) => {
                    let plain = self.open(RING_KEY, sealed).ok_or(
                        "the stored ticket keys do not open under our fleet key (another fleet, or a different --fleet-key)",
                    )?;
                    decode_ring(&plain)?
                }
                // A store that lost the ring (restarted without persistence) gets ours back,
                // so the tickets out there keep opening; the first server to write wins.
                None => self.local_ring(),
            };
            let before = if stored.is_some() { ring.len() } else { usize::MAX };
            ring.retain(|k| k.epoch + 1 >= epoch && k.epoch <= epoch + 1);
            let mut changed = ring.len() != before;
            for e in [epoch, epoch + 1] {
                if !ring.iter().any(|k| k.epoch == e) {
                    ring.push(new_ring_key(e)?);
                    changed = true;
                }
            }
            if !changed {
                self.round_trips.fetch_add(1, Ordering::Relaxed);
                redis::cmd("UNWATCH").query::<()>(con)?;
                return Ok(ring);
            }
            let sealed = self
                .seal(RING_KEY, &encode_ring(&ring))
                .ok_or("sealing the ticket keys failed")?;
            self.round_trips.fetch_add(1, Ordering::Relaxed);
            let done: redis::Value = redis::pipe()
                .atomic()
                .cmd("SET")
                .arg(RING_KEY)
                .arg(sealed)
                .arg("EX")
                .arg(self.period * 3)
                .query(con)?;
            if !matches!(done, redis::Value::Nil) {
                return Ok(ring);
            }
            // Another server rotated first: read its keys.
        }
        Err("ticket-key ring: too many concurrent rotations".into())
    }
}

fn answer(reply: Reply, answers: Answers) {
    let Reply {
        tx,
        waker,
        slot,
        conn_id,
    } = reply;
    if tx
        .send(Resolved {
            slot,
            conn_id,
            answers,
        })
        .is_ok()
    {
        let _ = waker.wake();
    }
}

fn new_ring_key(epoch: u64) -> Result<RingKey, BoxError> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    SystemRandomSource.fill(&mut bytes[..])?;
    let key = Arc::new(TicketKey::from_key(&bytes[..])?);
    Ok(RingKey { epoch, bytes, key })
}

/// `(epoch u64 || key 32 bytes)*`.
fn encode_ring(ring: &[RingKey]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(ring.len() * 40));
    for k in ring {
        out.extend_from_slice(&k.epoch.to_be_bytes());
        out.extend_from_slice(&k.bytes[..]);
    }
    out
}

fn decode_ring(bytes: &[u8]) -> Result<Vec<RingKey>, BoxError> {
    if !bytes.len().is_multiple_of(40) || bytes.len() > 40 * 16 {
        return Err("stored ticket-key ring is malformed".into());
    }
    bytes
        .chunks_exact(40)
        .map(|c| {
            let (epoch, key) = c.split_at(8);
            let mut raw = Zeroizing::new([0u8; 32]);
            raw.copy_from_slice(key);
            Ok(RingKey {
                epoch: u64::from_be_bytes(epoch.try_into()?),
                key: Arc::new(TicketKey::from_key(&raw[..])?),
                bytes: raw,
            })
        })
        .collect()
}

/// The fleet's ticket keys ([`TicketKeySource`]): the local copy of the shared ring.
#[derive(Debug)]
pub struct FleetTicketKeys(pub Arc<Fleet>);

impl TicketKeySource for FleetTicketKeys {
    fn sealing_key(&self, now_secs: u64) -> Option<(u64, Arc<TicketKey>)> {
        let epoch = now_secs / self.0.period;
        let ring = self.0.ring.read().unwrap_or_else(|e| e.into_inner());
        ring.iter()
            .find(|k| k.epoch == epoch)
            .map(|k| (k.epoch, k.key.clone()))
    }

    /// This epoch's key and the previous one's (the overlap), and the next one's, for a
    /// server whose clock runs a little ahead of ours.
    fn opening_key(&self, now_secs: u64, epoch: u64) -> Option<Arc<TicketKey>> {
        let now = now_secs / self.0.period;
        if epoch + 1 < now || epoch > now + 1 {
            return None;
        }
        let ring = self.0.ring.read().unwrap_or_else(|e| e.into_inner());
        ring.iter().find(|k| k.epoch == epoch).map(|k| k.key.clone())
    }
}

/// The fleet's session store ([`SessionStore`]): lookups answered from what the event loop
/// fetched for this ClientHello, writes queued to the store thread.
#[derive(Debug)]
pub struct FleetSessions {
    fleet: Arc<Fleet>,
    /// `s12` (TLS 1.2 session IDs) or `s13` (TLS 1.3 single-use tickets).
    space: &'static str,
}

impl FleetSessions {
    /// The TLS 1.2 session-ID store.
    pub fn tls12(fleet: Arc<Fleet>) -> Self {
        FleetSessions { fleet, space: "s12" }
    }

    /// The TLS 1.3 single-use ticket store.
    pub fn tls13(fleet: Arc<Fleet>) -> Self {
        FleetSessions { fleet, space: "s13" }
    }

    fn answered(&self, id: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        ANSWERS.with(|a| {
            let mut a = a.borrow_mut();
            let at = a.sessions.iter().position(|(k, _)| k == id)?;
            Some(a.sessions.swap_remove(at).1)
        })
    }
}

impl SessionStore for FleetSessions {
    fn put(&self, id: &[u8], state: &[u8], lifetime_secs: u32) {
        let key = format!("sanstls:{}:{}", self.space, hex(id));
        self.fleet.put(key, state, u64::from(lifetime_secs));
    }

    fn get(&self, id: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        self.answered(id)
    }

    fn take(&self, id: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        self.answered(id)
    }
}

/// The fleet's 0-RTT anti-replay check ([`AntiReplayCheck`]): fresh only when the event loop's
/// SET NX for this binder succeeded; unknown (store down, slow) is not fresh.
#[derive(Debug)]
pub struct FleetAntiReplay(pub Arc<Fleet>);

impl AntiReplayCheck for FleetAntiReplay {
    fn window_ms(&self) -> u64 {
        self.0.window_ms
    }

    fn check_fresh(&self, id: &[u8], _now_ms: u64) -> bool {
        ANSWERS.with(|a| {
            let mut a = a.borrow_mut();
            match a.fresh.iter().position(|b| b == id) {
                Some(at) => {
                    a.fresh.swap_remove(at);
                    true
                }
                None => false,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_round_trips_and_rejects_bad_lengths() {
        let ring = vec![new_ring_key(7).unwrap(), new_ring_key(8).unwrap()];
        let back = decode_ring(&encode_ring(&ring)).unwrap();
        assert_eq!(back.iter().map(|k| k.epoch).collect::<Vec<_>>(), [7, 8]);
        assert_eq!(back[1].bytes[..], ring[1].bytes[..]);
        assert!(decode_ring(&[0; 39]).is_err());
    }

    #[test]
    fn fleet_key_is_raw_or_hex() {
        let dir = std::env::temp_dir().join(format!("sanstls-fleet-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let hexfile = dir.join("hex");
        std::fs::write(&hexfile, format!("{}\n", "ab".repeat(32))).unwrap();
        assert_eq!(load_fleet_key(Some(&hexfile)).unwrap()[..], [0xab; 32]);
        let raw = dir.join("raw");
        std::fs::write(&raw, [5u8; 32]).unwrap();
        assert_eq!(load_fleet_key(Some(&raw)).unwrap()[..], [5; 32]);
        std::fs::write(&raw, b"short").unwrap();
        assert!(load_fleet_key(Some(&raw)).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
