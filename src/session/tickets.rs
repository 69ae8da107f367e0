//! Session resumption state (RFC 8446 2.2, 4.6.1): the server's rotating ticket keys, its
//! stateful session cache, the 0-RTT anti-replay window (8.2), and the client's ticket store.
//!
//! Everything here is shared by many connections through the configs, so it sits behind a
//! `Mutex`, and every collection has a cap.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use zeroize::Zeroizing;

use crate::codec::{put_u16, put_u32, put_u64, put_u8, put_vec_bytes, CipherSuite, LenPrefix, Reader};
use crate::crypto::rand::{RandomSource, SystemRandomSource};
use crate::crypto::secret::Secret;
use crate::crypto::ticket::TicketKey;
use crate::error::Error;
use crate::transport::Transport;

/// RFC 8446 4.6.1: servers MUST NOT use a ticket lifetime above seven days.
pub const MAX_TICKET_LIFETIME: u32 = 7 * 24 * 3600;
/// Largest peer chain a ticket carries (a bigger one means no ticket is issued).
const MAX_TICKET_CHAIN: usize = 16 * 1024;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What the server remembers about a session, sealed into a ticket or kept in the cache.
#[derive(Clone)]
pub(crate) struct ServerSession {
    /// The transport the session was made on; it resumes only there.
    pub transport: Transport,
    pub suite: CipherSuite,
    pub psk: Secret,
    pub age_add: u32,
    pub issued_ms: u64,
    pub lifetime: u32,
    pub max_early_data: u32,
    pub sni: Option<String>,
    pub alpn: Option<Vec<u8>>,
    pub peer_chain: Vec<Vec<u8>>,
}

/// 2: the transport byte follows the format byte (format 1 sessions no longer decode, so
/// their tickets fall back to a full handshake).
const SESSION_FORMAT: u8 = 2;

impl ServerSession {
    pub fn encode(&self) -> Option<Zeroizing<Vec<u8>>> {
        let mut out = Zeroizing::new(Vec::new());
        let o = &mut *out;
        put_u8(o, SESSION_FORMAT);
        put_u8(o, self.transport.code());
        put_u16(o, self.suite.get());
        put_vec_bytes(o, LenPrefix::U8, self.psk.as_bytes());
        put_u32(o, self.age_add);
        put_u64(o, self.issued_ms);
        put_u32(o, self.lifetime);
        put_u32(o, self.max_early_data);
        put_vec_bytes(o, LenPrefix::U8, self.sni.as_deref().unwrap_or("").as_bytes());
        put_vec_bytes(o, LenPrefix::U8, self.alpn.as_deref().unwrap_or(&[]));
        let chain_len: usize = self.peer_chain.iter().map(|c| c.len() + 3).sum();
        if chain_len > MAX_TICKET_CHAIN {
            return None;
        }
        put_u16(o, self.peer_chain.len() as u16);
        for c in &self.peer_chain {
            put_vec_bytes(o, LenPrefix::U24, c);
        }
        Some(out)
    }

    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let mut r = Reader::new(bytes);
        if r.u8("format").ok()? != SESSION_FORMAT {
            return None;
        }
        let transport = Transport::from_code(r.u8("transport").ok()?)?;
        let suite = CipherSuite::from(r.u16("suite").ok()?);
        let psk = Secret::new(r.vec_bytes(LenPrefix::U8, "psk").ok()?.to_vec());
        let age_add = r.u32("age_add").ok()?;
        let issued_ms = r.u64("issued").ok()?;
        let lifetime = r.u32("lifetime").ok()?;
        let max_early_data = r.u32("max_early_data").ok()?;
        let sni = r.vec_bytes(LenPrefix::U8, "sni").ok()?;
        let sni = match sni.is_empty() {
            true => None,
            false => Some(String::from_utf8(sni.to_vec()).ok()?),
        };
        let alpn = r.vec_bytes(LenPrefix::U8, "alpn").ok()?;
        let alpn = (!alpn.is_empty()).then(|| alpn.to_vec());
        let n = r.u16("chain").ok()?;
        let mut peer_chain = Vec::new();
        for _ in 0..n {
            peer_chain.push(r.vec_bytes(LenPrefix::U24, "cert").ok()?.to_vec());
        }
        r.expect_empty("session").ok()?;
        Some(ServerSession {
            transport,
            suite,
            psk,
            age_add,
            issued_ms,
            lifetime,
            max_early_data,
            sni,
            alpn,
            peer_chain,
        })
    }
}

/// Where a server's ticket-protection keys come from (RFC 8446 4.6.1, RFC 5077 4: the
/// ticket format and its keys are the server's business). Every key is named by an epoch, a
/// number the source chooses (the in-memory [`TicketKeys`] uses `now / period`); the epoch
/// travels in the clear at the front of each ticket and is bound in as AAD, so opening finds
/// the key without trying them all.
///
/// Servers behind one load balancer share one source's keys (rotated together), so a ticket
/// one sealed opens on all. The handshake calls these methods, so they answer from memory and
/// never wait on a network: a source that keeps its keys elsewhere refreshes a local copy
/// ahead of time (before an epoch starts) and answers from it.
pub trait TicketKeySource: Send + Sync + fmt::Debug {
    /// The key to seal new tickets with at `now_secs` (the config's clock), and its epoch.
    /// `None`: issue no ticket now (the handshake goes on without one).
    fn sealing_key(&self, now_secs: u64) -> Option<(u64, Arc<TicketKey>)>;
    /// The key named `epoch`, if tickets sealed under it still open at `now_secs` (the
    /// current and the previous key, so no ticket dies younger than one rotation period).
    fn opening_key(&self, now_secs: u64, epoch: u64) -> Option<Arc<TicketKey>>;
}

/// `epoch (8 bytes) || nonce || AES-256-GCM(plaintext) || tag`, with `label || epoch` bound in
/// as AAD (the label keeps TLS 1.3 and TLS 1.2 tickets apart). `None`: the source has no key.
pub(crate) fn seal_ticket(
    keys: &dyn TicketKeySource,
    rng: &dyn RandomSource,
    label: &[u8],
    now_secs: u64,
    plaintext: &[u8],
) -> Result<Option<Vec<u8>>, Error> {
    let Some((epoch, key)) = keys.sealing_key(now_secs) else {
        return Ok(None);
    };
    let epoch = epoch.to_be_bytes();
    let aad = [label, &epoch[..]].concat();
    let mut out = epoch.to_vec();
    out.extend_from_slice(&key.seal(rng, &aad, plaintext)?);
    Ok(Some(out))
}

/// Opens what [`seal_ticket`] made with the same `label`; `None` for anything else.
pub(crate) fn open_ticket(
    keys: &dyn TicketKeySource,
    label: &[u8],
    now_secs: u64,
    ticket: &[u8],
) -> Option<Zeroizing<Vec<u8>>> {
    let (epoch, sealed) = ticket.split_first_chunk::<8>()?;
    let key = keys.opening_key(now_secs, u64::from_be_bytes(*epoch))?;
    key.open(&[label, &epoch[..]].concat(), sealed)
}

/// Stateless tickets: the session state sealed under a key that rotates every `period`
/// seconds (time from the config's `TimeProvider`). A ticket sealed under the previous key
/// still opens during the following period, so no ticket dies younger than one period. The
/// in-memory [`TicketKeySource`]: one server's own keys.
pub struct TicketKeys {
    period: u64,
    rng: Arc<dyn RandomSource>,
    ring: Mutex<KeyRing>,
}

#[derive(Default)]
struct KeyRing {
    current: Option<(u64, Arc<TicketKey>)>,
    previous: Option<(u64, Arc<TicketKey>)>,
}

impl fmt::Debug for TicketKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TicketKeys")
            .field("period", &self.period)
            .finish_non_exhaustive()
    }
}

/// Default ticket key rotation period: six hours.
pub const DEFAULT_TICKET_KEY_PERIOD: u64 = 6 * 3600;

impl TicketKeys {
    /// Keys from the system random source, rotating every `period_secs` seconds.
    pub fn new(period_secs: u64) -> Self {
        Self::with_random(period_secs, Arc::new(SystemRandomSource))
    }

    /// As [`TicketKeys::new`] with the keys drawn from `rng` (ticket nonces always come from
    /// the system: a fixed source would repeat them under one key).
    pub fn with_random(period_secs: u64, rng: Arc<dyn RandomSource>) -> Self {
        TicketKeys {
            period: period_secs.max(1),
            rng,
            ring: Mutex::new(KeyRing::default()),
        }
    }

    /// The rotation period in seconds.
    pub fn period(&self) -> u64 {
        self.period
    }

    fn rotate(&self, ring: &mut KeyRing, now_secs: u64) -> Result<u64, Error> {
        let epoch = now_secs / self.period;
        match &ring.current {
            Some((e, _)) if *e >= epoch => return Ok(*e),
            _ => {}
        }
        let fresh = Arc::new(TicketKey::generate(self.rng.as_ref())?);
        let old = ring.current.replace((epoch, fresh));
        // Only the key of the period just before stays usable.
        ring.previous = old.filter(|(e, _)| e + 1 == epoch);
        Ok(epoch)
    }

    #[cfg(test)]
    fn seal(&self, now_secs: u64, plaintext: &[u8]) -> Result<Vec<u8>, Error> {
        seal_ticket(self, &SystemRandomSource, b"", now_secs, plaintext)?
            .ok_or(Error::Crypto("ticket key missing"))
    }

    #[cfg(test)]
    fn open(&self, now_secs: u64, ticket: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        open_ticket(self, b"", now_secs, ticket)
    }
}

impl TicketKeySource for TicketKeys {
    fn sealing_key(&self, now_secs: u64) -> Option<(u64, Arc<TicketKey>)> {
        let mut ring = lock(&self.ring);
        self.rotate(&mut ring, now_secs).ok()?;
        ring.current.clone()
    }

    fn opening_key(&self, now_secs: u64, epoch: u64) -> Option<Arc<TicketKey>> {
        let mut ring = lock(&self.ring);
        self.rotate(&mut ring, now_secs).ok()?;
        if let Some((_, k)) = ring.current.as_ref().filter(|(e, _)| *e == epoch) {
            return Some(k.clone());
        }
        ring.previous
            .as_ref()
            .filter(|(e, _)| *e == epoch)
            .map(|(_, k)| k.clone())
    }
}

/// A server-side session store, keyed by ids that cross the wire in the clear: TLS 1.2
/// session IDs (RFC 5246 7.4.1.2; [`SessionCache12`](crate::conn::SessionCache12) is the
/// in-memory one) and TLS 1.3 single-use tickets ([`SessionStorage::Store`]). Values are
/// session state the library encoded, master secrets inside: a store that keeps them
/// outside the process seals them.
///
/// Servers behind one load balancer share one store so that a session made on one resumes
/// on another. The handshake calls these methods, so they must not block: a store behind a
/// network answers from what the I/O layer fetched for this ClientHello before handing it
/// to the connection (a [`Connection::server_deferred`](crate::Connection::server_deferred)
/// server pauses at the ClientHello for that: [`ClientHelloInfo`](crate::conn::ClientHelloInfo)
/// carries the session ID and PSK identities), and answers `None` for anything else; the
/// connection then runs a full handshake.
pub trait SessionStore: Send + Sync + fmt::Debug {
    /// Files `state` under `id`; it may be forgotten after `lifetime_secs` (or sooner).
    fn put(&self, id: &[u8], state: &[u8], lifetime_secs: u32);
    /// The state under `id`, which stays (a TLS 1.2 session ID resumes many times within
    /// its lifetime); `None` if unknown or not at hand.
    fn get(&self, id: &[u8]) -> Option<Zeroizing<Vec<u8>>>;
    /// The state under `id`, removed in the same step (single-use, so 0-RTT on it cannot be
    /// replayed: across servers the removal must be atomic); `None` if unknown or not at hand.
    fn take(&self, id: &[u8]) -> Option<Zeroizing<Vec<u8>>>;
}

/// Stateful resumption: the ticket is a random id and the state stays here. Entries are
/// single-use (taken on lookup), which also makes 0-RTT replay-safe. Oldest evicted at `cap`.
pub struct SessionCache {
    cap: usize,
    inner: Mutex<CacheInner>,
}

#[derive(Default)]
struct CacheInner {
    map: HashMap<Vec<u8>, ServerSession>,
    order: VecDeque<Vec<u8>>,
}

impl fmt::Debug for SessionCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionCache")
            .field("cap", &self.cap)
            .field("len", &self.len())
            .finish()
    }
}

impl SessionCache {
    /// A single-use session cache holding at most `cap` sessions.
    pub fn new(cap: usize) -> Self {
        SessionCache {
            cap: cap.max(1),
            inner: Mutex::new(CacheInner::default()),
        }
    }

    /// Sessions held now.
    pub fn len(&self) -> usize {
        lock(&self.inner).map.len()
    }

    /// True when no session is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn insert(&self, id: Vec<u8>, session: ServerSession) {
        let mut inner = lock(&self.inner);
        while inner.map.len() >= self.cap {
            let Some(old) = inner.order.pop_front() else { break };
            inner.map.remove(&old);
        }
        inner.order.push_back(id.clone());
        inner.map.insert(id, session);
    }

    /// The session filed under `id` if it was made on `transport`; a session of another
    /// transport stays (it is not ours to spend here).
    pub(crate) fn take(&self, id: &[u8], transport: Transport) -> Option<ServerSession> {
        let mut inner = lock(&self.inner);
        if inner.map.get(id)?.transport != transport {
            return None;
        }
        let s = inner.map.remove(id)?;
        inner.order.retain(|k| k != id);
        Some(s)
    }
}

/// How a server keeps sessions for resumption.
#[derive(Clone, Debug)]
pub enum SessionStorage {
    /// No tickets, no resumption.
    Disabled,
    /// Stateless tickets sealed under rotating keys ([`TicketKeys`], or keys a fleet of
    /// servers shares).
    Tickets(Arc<dyn TicketKeySource>),
    /// A server-side cache; tickets are ids.
    Cache(Arc<SessionCache>),
    /// Single-use tickets that are ids into the application's [`SessionStore`] (shared by a
    /// fleet of servers, say); each is taken on use, so 0-RTT on it is never replayed.
    Store(Arc<dyn SessionStore>),
}

impl SessionStorage {
    pub(crate) fn issue(
        &self,
        rng: &dyn RandomSource,
        now_secs: u64,
        session: ServerSession,
    ) -> Result<Option<Vec<u8>>, Error> {
        match self {
            SessionStorage::Disabled => Ok(None),
            // Nonces from the system: a replay's fixed randomness must not repeat them.
            SessionStorage::Tickets(keys) => match session.encode() {
                Some(plain) => seal_ticket(keys.as_ref(), &SystemRandomSource, b"", now_secs, &plain),
                None => Ok(None),
            },
            SessionStorage::Cache(cache) => {
                let mut id = vec![0u8; 32];
                rng.fill(&mut id)?;
                cache.insert(id.clone(), session);
                Ok(Some(id))
            }
            SessionStorage::Store(store) => {
                let Some(state) = session.encode() else {
                    return Ok(None);
                };
                let mut id = vec![0u8; 32];
                rng.fill(&mut id)?;
                store.put(&id, &state, session.lifetime);
                Ok(Some(id))
            }
        }
    }

    /// The session a PSK identity names, if it was made on `transport`: a session of another
    /// transport is ignored like an unknown one (RFC 8446 4.2.11 lets the server skip any
    /// identity), so that connection runs a full handshake.
    pub(crate) fn redeem(&self, now_secs: u64, ticket: &[u8], transport: Transport) -> Option<ServerSession> {
        match self {
            SessionStorage::Disabled => None,
            SessionStorage::Tickets(keys) => {
                ServerSession::decode(&open_ticket(keys.as_ref(), b"", now_secs, ticket)?)
                    .filter(|s| s.transport == transport)
            }
            SessionStorage::Cache(cache) => cache.take(ticket, transport),
            // Taken whatever its transport: a store shared across servers spends on lookup.
            SessionStorage::Store(store) => {
                ServerSession::decode(&store.take(ticket)?).filter(|s| s.transport == transport)
            }
        }
    }

    /// True when a ticket can be redeemed only once (so 0-RTT on it cannot be replayed).
    pub(crate) fn single_use(&self) -> bool {
        matches!(self, SessionStorage::Cache(_) | SessionStorage::Store(_))
    }
}

/// RFC 8446 8.2: a ClientHello record window. A ClientHello (identified by its PSK binder,
/// which covers its random) may carry accepted 0-RTT once; together with the freshness check
/// on the ticket age, a replay either falls outside the window or is found in it.
pub struct AntiReplay {
    window_ms: u64,
    cap: usize,
    inner: Mutex<ReplayInner>,
}

#[derive(Default)]
struct ReplayInner {
    seen: HashMap<Vec<u8>, u64>,
    order: VecDeque<(u64, Vec<u8>)>,
}

impl fmt::Debug for AntiReplay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AntiReplay")
            .field("window_ms", &self.window_ms)
            .field("cap", &self.cap)
            .finish_non_exhaustive()
    }
}

/// The 0-RTT anti-replay check (RFC 8446 8): has this ClientHello been seen within the
/// freshness window? Together with the ticket-age check (8.3) a replay is either too old or
/// found. Servers that share tickets must share this state too (8: otherwise a ClientHello
/// replayed to a second server is accepted there); [`AntiReplay`] is one server's own.
///
/// Called during the handshake, so it must not block: a check behind a network answers from
/// what the I/O layer settled for this ClientHello before handing it to the connection (an
/// atomic set-if-absent with an expiry of the window), and says `false` for anything it does
/// not know: 0-RTT is then refused, the handshake goes on (fail closed).
pub trait AntiReplayCheck: Send + Sync + fmt::Debug {
    /// The freshness window in milliseconds: 0-RTT needs the client's view of the ticket
    /// age within this of ours.
    fn window_ms(&self) -> u64;
    /// True if `id` (the binder of the ClientHello's first PSK identity, which covers its
    /// random) was not seen within the window, and records it; false for a replay, or when
    /// the answer is not known.
    fn check_fresh(&self, id: &[u8], now_ms: u64) -> bool;
}

/// Default freshness window for 0-RTT: ten seconds.
pub const DEFAULT_FRESHNESS_WINDOW_MS: u64 = 10_000;

impl AntiReplay {
    /// A 0-RTT anti-replay filter with a `window_ms` freshness window, remembering at most
    /// `cap` entries (RFC 8446 8.2, 8.3).
    pub fn new(window_ms: u64, cap: usize) -> Self {
        AntiReplay {
            window_ms,
            cap: cap.max(1),
            inner: Mutex::new(ReplayInner::default()),
        }
    }
}

impl AntiReplayCheck for AntiReplay {
    fn window_ms(&self) -> u64 {
        self.window_ms
    }

    /// True if `id` was not seen within the window (and records it); false for a replay or
    /// when the window is full (0-RTT is then refused rather than the memory grown).
    fn check_fresh(&self, id: &[u8], now_ms: u64) -> bool {
        let mut inner = lock(&self.inner);
        while let Some((at, _)) = inner.order.front() {
            if now_ms.saturating_sub(*at) <= self.window_ms {
                break;
            }
            if let Some((_, old)) = inner.order.pop_front() {
                inner.seen.remove(&old);
            }
        }
        if inner.seen.contains_key(id) || inner.seen.len() >= self.cap {
            return false;
        }
        inner.seen.insert(id.to_vec(), now_ms);
        inner.order.push_back((now_ms, id.to_vec()));
        true
    }
}

/// A ticket the client holds for one server.
#[derive(Clone)]
pub(crate) struct ClientTicket {
    /// The transport the ticket came over; it is offered only there.
    pub transport: Transport,
    pub suite: CipherSuite,
    pub psk: Secret,
    pub ticket: Vec<u8>,
    pub age_add: u32,
    pub lifetime: u32,
    pub received_ms: u64,
    pub max_early_data: u32,
    pub alpn: Option<Vec<u8>>,
    pub peer_chain: Vec<Vec<u8>>,
    /// An external PSK (RFC 8446 4.2.11): `ticket` is its identity, the binder takes the
    /// "ext binder" label, and the handshake is not a resumption.
    pub external: bool,
}

impl ClientTicket {
    /// RFC 8446 4.2.11.1: ticket age in milliseconds plus age_add, modulo 2^32.
    pub fn obfuscated_age(&self, now_ms: u64) -> u32 {
        (now_ms.saturating_sub(self.received_ms) as u32).wrapping_add(self.age_add)
    }

    fn expired(&self, now_ms: u64) -> bool {
        now_ms.saturating_sub(self.received_ms) > u64::from(self.lifetime.min(MAX_TICKET_LIFETIME)) * 1000
    }
}

/// The client's tickets, per server name, with caps on names and tickets per name. Tickets
/// are single-use by default (RFC 8446 C.4: reuse lets observers link connections).
pub struct ClientSessionStore {
    max_names: usize,
    per_name: usize,
    reuse: bool,
    inner: Mutex<StoreInner>,
}

#[derive(Default)]
struct StoreInner {
    by_name: HashMap<String, VecDeque<ClientTicket>>,
    order: VecDeque<String>,
}

impl fmt::Debug for ClientSessionStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientSessionStore")
            .field("max_names", &self.max_names)
            .field("per_name", &self.per_name)
            .field("reuse", &self.reuse)
            .finish_non_exhaustive()
    }
}

impl Default for ClientSessionStore {
    fn default() -> Self {
        Self::new(256, 8)
    }
}

impl ClientSessionStore {
    /// A store for up to `max_names` servers with up to `per_name` tickets each.
    pub fn new(max_names: usize, per_name: usize) -> Self {
        ClientSessionStore {
            max_names: max_names.max(1),
            per_name: per_name.max(1),
            reuse: false,
            inner: Mutex::new(StoreInner::default()),
        }
    }

    /// Keep a ticket after use (off by default: tickets are single-use).
    pub fn reuse_tickets(mut self, on: bool) -> Self {
        self.reuse = on;
        self
    }

    /// Tickets held for `server_name`, of every transport (TLS, DTLS, QUIC).
    pub fn tickets_for(&self, server_name: &str) -> usize {
        lock(&self.inner)
            .by_name
            .get(server_name)
            .map_or(0, VecDeque::len)
    }

    pub(crate) fn insert(&self, server_name: &str, ticket: ClientTicket) {
        let mut inner = lock(&self.inner);
        if !inner.by_name.contains_key(server_name) {
            while inner.by_name.len() >= self.max_names {
                let Some(old) = inner.order.pop_front() else { break };
                inner.by_name.remove(&old);
            }
            inner.order.push_back(server_name.to_string());
        }
        let list = inner.by_name.entry(server_name.to_string()).or_default();
        while list.len() >= self.per_name {
            list.pop_front();
        }
        list.push_back(ticket);
    }

    /// The newest unexpired ticket for `server_name` made on `transport` (removed unless
    /// reuse is on). Tickets of other transports stay where they are.
    pub(crate) fn take(&self, server_name: &str, transport: Transport, now_ms: u64) -> Option<ClientTicket> {
        let mut inner = lock(&self.inner);
        let list = inner.by_name.get_mut(server_name)?;
        list.retain(|t| !t.expired(now_ms));
        let at = list.iter().rposition(|t| t.transport == transport)?;
        if self.reuse {
            list.get(at).cloned()
        } else {
            list.remove(at)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> ServerSession {
        ServerSession {
            transport: Transport::Dtls,
            suite: CipherSuite::TLS_AES_128_GCM_SHA256,
            psk: Secret::new(vec![7; 32]),
            age_add: 0x01020304,
            issued_ms: 1_700_000_000_000,
            lifetime: 7200,
            max_early_data: 1024,
            sni: Some("localhost".into()),
            alpn: Some(b"h2".to_vec()),
            peer_chain: vec![vec![1, 2, 3]],
        }
    }

    #[test]
    fn session_round_trips() {
        let s = session();
        let back = ServerSession::decode(&s.encode().unwrap()).unwrap();
        assert!(back.psk.ct_eq(&[7; 32]));
        assert_eq!(
            (back.age_add, back.issued_ms, back.lifetime),
            (s.age_add, s.issued_ms, 7200)
        );
        assert_eq!(
            (back.sni, back.alpn, back.peer_chain),
            (s.sni, s.alpn, s.peer_chain)
        );
        assert!(ServerSession::decode(&[1, 2]).is_none());
    }

    #[test]
    fn ticket_key_rotates_and_previous_opens_for_one_period() {
        let keys = TicketKeys::new(100);
        let t0 = keys.seal(1000, b"state").unwrap();
        assert_eq!(&keys.open(1099, &t0).unwrap()[..], b"state");
        // Next period: a new key seals, the old one still opens.
        let t1 = keys.seal(1100, b"later").unwrap();
        assert_ne!(t0[..8], t1[..8]);
        assert_eq!(&keys.open(1150, &t0).unwrap()[..], b"state");
        // Two periods on, the first key is gone.
        assert!(keys.open(1200, &t0).is_none());
        assert_eq!(&keys.open(1200, &t1).unwrap()[..], b"later");
        // Another server's keys never open our tickets.
        assert!(TicketKeys::new(100).open(1200, &t1).is_none());
    }

    #[test]
    fn cache_is_single_use_and_capped() {
        let cache = SessionCache::new(2);
        for id in [b"a", b"b", b"c"] {
            cache.insert(id.to_vec(), session());
        }
        assert_eq!(cache.len(), 2);
        assert!(cache.take(b"a", Transport::Dtls).is_none());
        assert!(cache.take(b"b", Transport::Dtls).is_some());
        assert!(cache.take(b"b", Transport::Dtls).is_none());
    }

    #[test]
    fn anti_replay_window() {
        let ar = AntiReplay::new(10_000, 2);
        assert!(ar.check_fresh(b"x", 0));
        assert!(!ar.check_fresh(b"x", 5_000));
        assert!(ar.check_fresh(b"y", 5_000));
        // Full: refused rather than grown.
        assert!(!ar.check_fresh(b"z", 6_000));
        // x ages out of the window.
        assert!(ar.check_fresh(b"z", 10_001));
    }

    fn ticket(n: u8, received_ms: u64) -> ClientTicket {
        ClientTicket {
            transport: Transport::Tls,
            suite: CipherSuite::TLS_AES_128_GCM_SHA256,
            psk: Secret::new(vec![n; 32]),
            ticket: vec![n],
            age_add: 5,
            lifetime: 10,
            received_ms,
            max_early_data: 0,
            alpn: None,
            peer_chain: Vec::new(),
            external: false,
        }
    }

    #[test]
    fn client_store_caps_single_use_and_expiry() {
        let store = ClientSessionStore::new(1, 2);
        for n in 0..3 {
            store.insert("a", ticket(n, 0));
        }
        assert_eq!(store.tickets_for("a"), 2);
        assert_eq!(store.take("a", Transport::Tls, 0).unwrap().ticket, vec![2]);
        assert_eq!(store.tickets_for("a"), 1);
        store.insert("b", ticket(9, 0));
        assert_eq!(store.tickets_for("a"), 0, "names capped at 1");
        assert!(store.take("b", Transport::Tls, 10_001).is_none(), "expired");
        let reuse = ClientSessionStore::new(4, 4).reuse_tickets(true);
        reuse.insert("a", ticket(1, 0));
        assert!(reuse.take("a", Transport::Tls, 0).is_some() && reuse.take("a", Transport::Tls, 0).is_some());
        assert_eq!(ticket(1, 1000).obfuscated_age(3000), 2005);
    }

    #[test]
    fn session_records_its_transport_and_old_formats_do_not_decode() {
        for t in [Transport::Tls, Transport::Dtls, Transport::Quic] {
            let s = ServerSession {
                transport: t,
                ..session()
            };
            assert_eq!(ServerSession::decode(&s.encode().unwrap()).unwrap().transport, t);
        }
        let mut enc = session().encode().unwrap();
        assert_eq!(enc[..2], [SESSION_FORMAT, Transport::Dtls.code()]);
        // A format 1 session (no transport byte) is not ours any more: full handshake.
        let mut v1 = enc.clone();
        v1.remove(1);
        v1[0] = 1;
        assert!(ServerSession::decode(&v1).is_none());
        enc[1] = 3;
        assert!(ServerSession::decode(&enc).is_none(), "unknown transport");
    }

    #[test]
    fn storage_redeems_only_sessions_of_the_transport() {
        let rng = SystemRandomSource;
        let keys = SessionStorage::Tickets(Arc::new(TicketKeys::new(100)));
        let t = keys.issue(&rng, 1000, session()).unwrap().unwrap();
        assert!(keys.redeem(1000, &t, Transport::Tls).is_none());
        assert!(keys.redeem(1000, &t, Transport::Quic).is_none());
        assert!(keys.redeem(1000, &t, Transport::Dtls).is_some());
        let cache = Arc::new(SessionCache::new(4));
        let storage = SessionStorage::Cache(cache.clone());
        let id = storage.issue(&rng, 1000, session()).unwrap().unwrap();
        assert!(storage.redeem(1000, &id, Transport::Tls).is_none());
        assert_eq!(cache.len(), 1, "another transport does not spend the session");
        assert!(storage.redeem(1000, &id, Transport::Dtls).is_some());
        assert!(cache.is_empty());
    }

    #[test]
    fn a_session_store_backs_single_use_tickets() {
        let rng = SystemRandomSource;
        let store = Arc::new(crate::session::ticket12::SessionCache12::new(4));
        let storage = SessionStorage::Store(store.clone());
        assert!(storage.single_use());
        let id = storage.issue(&rng, 1000, session()).unwrap().unwrap();
        assert_eq!(id.len(), 32);
        // The state is the encoded session, under the ticket.
        assert!(ServerSession::decode(&store.get(&id).unwrap()).is_some());
        assert!(storage.redeem(1000, &id, Transport::Dtls).is_some());
        assert!(storage.redeem(1000, &id, Transport::Dtls).is_none(), "taken once");
        assert!(storage.redeem(1000, b"unknown", Transport::Dtls).is_none());
    }

    #[test]
    fn client_store_takes_only_the_transport_and_keeps_the_rest() {
        let store = ClientSessionStore::new(4, 8);
        let on = |n, transport| ClientTicket {
            transport,
            ..ticket(n, 0)
        };
        store.insert("a", on(1, Transport::Dtls));
        store.insert("a", on(2, Transport::Tls));
        store.insert("a", on(3, Transport::Dtls));
        store.insert("a", on(4, Transport::Quic));
        assert_eq!(store.take("a", Transport::Tls, 0).unwrap().ticket, vec![2]);
        assert!(store.take("a", Transport::Tls, 0).is_none());
        assert_eq!(store.tickets_for("a"), 3, "no other transport's ticket dropped");
        assert_eq!(store.take("a", Transport::Dtls, 0).unwrap().ticket, vec![3]);
        assert_eq!(store.take("a", Transport::Dtls, 0).unwrap().ticket, vec![1]);
        assert_eq!(store.take("a", Transport::Quic, 0).unwrap().ticket, vec![4]);
        let reuse = ClientSessionStore::new(4, 4).reuse_tickets(true);
        reuse.insert("a", on(1, Transport::Quic));
        assert!(reuse.take("a", Transport::Tls, 0).is_none());
        assert!(reuse.take("a", Transport::Quic, 0).is_some() && reuse.tickets_for("a") == 1);
    }

    /// Server side of the transport binding, with a client that offers a session anyway (its
    /// store is bypassed by relabelling the server's cached copy): a TLS connection that
    /// offers a session the server made on DTLS gets a full handshake, not an alert.
    mod server_binding {
        use super::*;
        use crate::codec::ProtocolVersion;
        use crate::config::{CertifiedKey, ClientConfig, ServerConfig};
        use crate::pki::{TrustAnchors, WebPkiServerVerifier};
        use crate::session::ticket12::{get_session, put_session};
        use crate::Connection;

        fn configs(
            version: ProtocolVersion,
            cache: Arc<SessionCache>,
        ) -> (Arc<ClientConfig>, Arc<ServerConfig>) {
            let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("vectors");
            let anchors = TrustAnchors::from_pem_file(dir.join("ca.pem")).unwrap();
            let ck = CertifiedKey::from_pem_files(
                dir.join("localhost-ecdsa-p256.pem"),
                dir.join("localhost-ecdsa-p256.key"),
            )
            .unwrap();
            let client = ClientConfig::builder(Arc::new(WebPkiServerVerifier::new(anchors)))
                .versions(&[version])
                .tickets12(false)
                .build()
                .unwrap();
            let server = ServerConfig::builder(ck)
                .versions(&[version])
                .session_storage(SessionStorage::Cache(cache))
                .tickets(1)
                .build()
                .unwrap();
            (client, server)
        }

        fn move_records(from: &mut Connection, to: &mut Connection) {
            let mut buf = Vec::new();
            while from.write_tls(&mut buf).unwrap() > 0 {}
            let mut rd = &buf[..];
            while !rd.is_empty() {
                to.read_tls(&mut rd).unwrap();
                to.process_new_packets().unwrap();
            }
        }

        /// One TLS connection; whether it resumed (both sides agree).
        fn connect(client: &Arc<ClientConfig>, server: &Arc<ServerConfig>) -> bool {
            let mut c = Connection::client(client.clone(), "localhost").unwrap();
            let mut s = Connection::server(server.clone()).unwrap();
            for _ in 0..6 {
                move_records(&mut c, &mut s);
                move_records(&mut s, &mut c);
            }
            assert!(!c.is_handshaking() && !s.is_handshaking());
            assert_eq!(c.is_resumed(), s.is_resumed());
            c.is_resumed()
        }

        #[test]
        fn tls13_session_of_another_transport_is_ignored() {
            let cache = Arc::new(SessionCache::new(8));
            let (client, server) = configs(ProtocolVersion::TLSv1_3, cache.clone());
            assert!(!connect(&client, &server));
            for s in lock(&cache.inner).map.values_mut() {
                s.transport = Transport::Dtls;
            }
            assert!(!connect(&client, &server), "a DTLS session resumed over TLS");
            assert_eq!(
                cache.len(),
                2,
                "the DTLS session is not spent, a TLS one is added"
            );
            assert!(connect(&client, &server), "the TLS session resumes");
        }

        #[test]
        fn tls12_session_of_another_transport_is_ignored() {
            let (client, server) = configs(ProtocolVersion::TLSv1_2, Arc::new(SessionCache::new(8)));
            assert!(!connect(&client, &server));
            let stored = client
                .sessions12
                .as_ref()
                .unwrap()
                .get("localhost", Transport::Tls)
                .unwrap();
            let cache = server.session_cache12.as_ref().unwrap();
            let mut session = get_session(cache.as_ref(), &stored.session_id).unwrap();
            session.transport = Transport::Dtls;
            put_session(cache.as_ref(), &stored.session_id, &session);
            assert!(!connect(&client, &server), "a DTLS session resumed over TLS 1.2");
            assert!(connect(&client, &server), "the new TLS session resumes");
        }
    }
}
