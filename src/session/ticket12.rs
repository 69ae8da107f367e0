//! TLS 1.2 session resumption state: what a resumable session remembers, the server's session
//! ID cache, the client's session store, and ticket sealing (RFC 5077) behind [`TicketSealer`]
//! (its own rotating keys, or a [`TicketKeySource`] shared with TLS 1.3 tickets).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, RwLock};

use zeroize::Zeroizing;

use crate::codec::{CipherSuite, NamedGroup};
use crate::crypto::rand::{RandomSource, SystemRandomSource};
use crate::crypto::secret::Secret;
use crate::crypto::ticket::TicketKey;
use crate::error::Error;
use crate::session::tickets::{open_ticket, seal_ticket, SessionStore, TicketKeySource};
use crate::time::TimeProvider;
use crate::transport::Transport;

/// Seconds a TLS 1.2 session stays resumable (and the ticket lifetime hint we send).
pub const SESSION_LIFETIME: u32 = 7200;
/// Default number of sessions a server's session-ID cache holds.
pub const DEFAULT_SESSION_CACHE_SIZE: usize = 256;
/// Sessions a client keeps (one per server name).
pub const DEFAULT_CLIENT_SESSIONS: usize = 64;
/// Largest ticket a client stores (RFC 5077 allows 2^16-1; real ones are a few hundred bytes).
pub const MAX_TICKET_LEN: usize = 4096;

/// Seals session state into an opaque ticket and opens it again (RFC 5077 4).
pub trait TicketSealer: Send + Sync + std::fmt::Debug {
    /// The sealed ticket; empty if sealing failed (an empty ticket means "none", RFC 5077 3.3).
    fn seal(&self, plain: &[u8]) -> Vec<u8>;
    /// The state inside `sealed`, or `None` if it is not ours, expired keys, or tampered with.
    fn open(&self, sealed: &[u8]) -> Option<Vec<u8>>;
}

/// Bytes of the public key name that prefixes every TLS 1.2 ticket.
const KEY_NAME_LEN: usize = 16;

/// One named ticket key: the name goes in the clear (and is bound in as AAD) so rotation
/// can find the key; the sealing itself is the [`TicketKey`] TLS 1.3 tickets use too.
struct NamedKey {
    name: [u8; KEY_NAME_LEN],
    key: TicketKey,
}

impl NamedKey {
    fn generate(rng: &dyn RandomSource) -> Result<Self, Error> {
        let mut name = [0u8; KEY_NAME_LEN];
        rng.fill(&mut name)?;
        Ok(NamedKey {
            name,
            key: TicketKey::generate(rng)?,
        })
    }

    /// name || nonce || AES-256-GCM(plain) || tag.
    fn seal(&self, rng: &dyn RandomSource, plain: &[u8]) -> Result<Vec<u8>, Error> {
        let mut out = self.name.to_vec();
        out.extend_from_slice(&self.key.seal(rng, &self.name, plain)?);
        Ok(out)
    }

    fn open(&self, sealed: &[u8]) -> Option<Vec<u8>> {
        let (name, rest) = sealed.split_at_checked(KEY_NAME_LEN)?;
        if name != self.name {
            return None;
        }
        self.key.open(name, rest).map(|plain| plain.to_vec())
    }
}

/// AES-256-GCM ticket sealing with a current and a previous key: [`rotate`](Self::rotate)
/// makes a new current key while tickets under the previous one still open.
pub struct AeadTicketSealer {
    keys: RwLock<(NamedKey, Option<NamedKey>)>,
    rng: Arc<dyn RandomSource>,
}

impl std::fmt::Debug for AeadTicketSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AeadTicketSealer").finish_non_exhaustive()
    }
}

impl AeadTicketSealer {
    /// A sealer with a fresh ticket key drawn from `rng`.
    pub fn new(rng: Arc<dyn RandomSource>) -> Result<Self, Error> {
        Ok(AeadTicketSealer {
            keys: RwLock::new((NamedKey::generate(rng.as_ref())?, None)),
            rng,
        })
    }

    /// New current key; the old current key becomes the previous one, the older is dropped.
    pub fn rotate(&self) -> Result<(), Error> {
        let fresh = NamedKey::generate(self.rng.as_ref())?;
        let mut keys = self.keys.write().unwrap_or_else(|e| e.into_inner());
        let old = std::mem::replace(&mut keys.0, fresh);
        keys.1 = Some(old);
        Ok(())
    }
}

impl TicketSealer for AeadTicketSealer {
    fn seal(&self, plain: &[u8]) -> Vec<u8> {
        let keys = self.keys.read().unwrap_or_else(|e| e.into_inner());
        keys.0.seal(self.rng.as_ref(), plain).unwrap_or_default()
    }

    fn open(&self, sealed: &[u8]) -> Option<Vec<u8>> {
        let keys = self.keys.read().unwrap_or_else(|e| e.into_inner());
        keys.0
            .open(sealed)
            .or_else(|| keys.1.as_ref().and_then(|k| k.open(sealed)))
    }
}

/// AAD label of TLS 1.2 tickets sealed under a [`TicketKeySource`]: a TLS 1.3 ticket under
/// the same key never opens as one.
const TLS12_TICKET_LABEL: &[u8] = b"sanstls tls12 ticket";

/// TLS 1.2 tickets sealed under a [`TicketKeySource`]'s keys, the epoch taken from the
/// config's clock: the same rotating keys as TLS 1.3 tickets (shared by a fleet of servers,
/// say). Made by [`ServerConfigBuilder::ticket_keys12`](crate::conn::ServerConfigBuilder::ticket_keys12).
pub(crate) struct KeySourceSealer {
    pub keys: Arc<dyn TicketKeySource>,
    pub time: Arc<dyn TimeProvider>,
}

impl std::fmt::Debug for KeySourceSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySourceSealer").finish_non_exhaustive()
    }
}

impl TicketSealer for KeySourceSealer {
    fn seal(&self, plain: &[u8]) -> Vec<u8> {
        let now = self.time.now_unix();
        // Nonces from the system, as for TLS 1.3 tickets.
        seal_ticket(
            self.keys.as_ref(),
            &SystemRandomSource,
            TLS12_TICKET_LABEL,
            now,
            plain,
        )
        .ok()
        .flatten()
        .unwrap_or_default()
    }

    fn open(&self, sealed: &[u8]) -> Option<Vec<u8>> {
        let now = self.time.now_unix();
        open_ticket(self.keys.as_ref(), TLS12_TICKET_LABEL, now, sealed).map(|p| p.to_vec())
    }
}

/// What a resumable TLS 1.2 session remembers.
pub(crate) struct Session12 {
    /// The transport (TLS or DTLS) the session was made on; it resumes only there.
    pub transport: Transport,
    pub suite: CipherSuite,
    /// RFC 7627 5.3: whether the session's master secret is an extended one.
    pub ems: bool,
    /// The key exchange group of the full handshake (`None`: plain PSK), which a resumed
    /// connection reports as its own (no key exchange happens then).
    pub group: Option<NamedGroup>,
    pub master: Secret,
    /// Unix seconds when the full handshake completed.
    pub created: u64,
}

/// 3: the key exchange group follows the EMS byte (2: a transport byte follows the version).
/// Older encodings no longer decode: their tickets and cache entries fall back to a full
/// handshake.
const SESSION_ENCODING_VERSION: u8 = 3;

impl Session12 {
    /// version(1) transport(1) suite(2) ems(1) group(2, 0 for none) created(8) master_len(1)
    /// master.
    pub fn encode(&self) -> Secret {
        let mut out = Vec::with_capacity(16 + self.master.len());
        out.push(SESSION_ENCODING_VERSION);
        out.push(self.transport.code());
        out.extend_from_slice(&self.suite.get().to_be_bytes());
        out.push(u8::from(self.ems));
        out.extend_from_slice(&self.group.map_or(0, |g| g.get()).to_be_bytes());
        out.extend_from_slice(&self.created.to_be_bytes());
        out.push(self.master.len() as u8);
        out.extend_from_slice(self.master.as_bytes());
        Secret::new(out)
    }

    pub fn decode(b: &[u8]) -> Option<Self> {
        let (&[v, transport, s0, s1, ems], rest) = b.split_first_chunk::<5>()?;
        if v != SESSION_ENCODING_VERSION || ems > 1 {
            return None;
        }
        let transport = Transport::from_code(transport)?;
        let (&group, rest) = rest.split_first_chunk::<2>()?;
        let group = Some(u16::from_be_bytes(group))
            .filter(|g| *g != 0)
            .map(NamedGroup::from);
        let (created, rest) = rest.split_first_chunk::<8>()?;
        let (&len, master) = rest.split_first()?;
        if master.len() != usize::from(len) || master.len() != crate::crypto::prf::MASTER_SECRET_LEN {
            return None;
        }
        Some(Session12 {
            transport,
            suite: CipherSuite::from(u16::from_be_bytes([s0, s1])),
            ems: ems == 1,
            group,
            master: Secret::new(master.to_vec()),
            created: u64::from_be_bytes(*created),
        })
    }

    /// Still inside [`SESSION_LIFETIME`] at `now` (and not from the future).
    pub fn fresh(&self, now: u64) -> bool {
        now >= self.created && now - self.created <= u64::from(SESSION_LIFETIME)
    }
}

/// A bounded map with first-in first-out eviction.
#[derive(Debug)]
struct Bounded<K, V> {
    map: HashMap<K, V>,
    order: VecDeque<K>,
    cap: usize,
}

impl<K: std::hash::Hash + Eq + Clone, V> Bounded<K, V> {
    fn new(cap: usize) -> Self {
        Bounded {
            map: HashMap::new(),
            order: VecDeque::new(),
            cap,
        }
    }

    fn insert(&mut self, k: K, v: V) {
        if self.cap == 0 {
            return;
        }
        if self.map.insert(k.clone(), v).is_none() {
            self.order.push_back(k);
        }
        while self.map.len() > self.cap {
            match self.order.pop_front() {
                Some(old) => {
                    self.map.remove(&old);
                }
                None => break,
            }
        }
    }

    fn remove(&mut self, k: &K) -> Option<V> {
        let v = self.map.remove(k)?;
        self.order.retain(|o| o != k);
        Some(v)
    }

    fn get(&self, k: &K) -> Option<&V> {
        self.map.get(k)
    }
}

/// The server's session-ID cache (RFC 5246 7.4.1.2): session ID to the encoded session state.
pub struct SessionCache12 {
    inner: Mutex<Bounded<Vec<u8>, Secret>>,
}

impl std::fmt::Debug for SessionCache12 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionCache12").finish_non_exhaustive()
    }
}

impl SessionCache12 {
    /// A server session-ID cache holding at most `capacity` sessions.
    pub fn new(capacity: usize) -> Self {
        SessionCache12 {
            inner: Mutex::new(Bounded::new(capacity)),
        }
    }
}

/// The in-memory [`SessionStore`]: entries leave by first-in first-out eviction (their
/// lifetime is checked when a session is resumed).
impl SessionStore for SessionCache12 {
    fn put(&self, id: &[u8], state: &[u8], _lifetime_secs: u32) {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.insert(id.to_vec(), Secret::new(state.to_vec()));
    }

    fn get(&self, id: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.get(&id.to_vec()).map(|s| Zeroizing::new(s.as_bytes().to_vec()))
    }

    fn take(&self, id: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.remove(&id.to_vec())
            .map(|s| Zeroizing::new(s.as_bytes().to_vec()))
    }
}

/// Files a TLS 1.2 session under its session ID for [`SESSION_LIFETIME`].
pub(crate) fn put_session(store: &dyn SessionStore, id: &[u8], session: &Session12) {
    store.put(id, session.encode().as_bytes(), SESSION_LIFETIME);
}

/// The TLS 1.2 session filed under `id`, if the store has it and it decodes.
pub(crate) fn get_session(store: &dyn SessionStore, id: &[u8]) -> Option<Session12> {
    Session12::decode(&store.get(id)?)
}

/// A session a client can offer again.
pub(crate) struct ClientSession12 {
    pub session_id: Vec<u8>,
    pub ticket: Vec<u8>,
    pub state: Session12,
    /// The server's chain from the full handshake: what a resumed connection reports as
    /// the peer's certificates, and what is verified again on resumption when asked.
    pub peer_chain: Vec<rustls_pki_types::CertificateDer<'static>>,
}

/// The client's TLS 1.2 sessions, one per server name and transport (a TLS connection
/// neither offers nor replaces the session a DTLS connection to the same name keeps).
pub struct ClientSessions12 {
    inner: Mutex<Bounded<(Transport, String), Arc<ClientSession12>>>,
}

impl std::fmt::Debug for ClientSessions12 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSessions12").finish_non_exhaustive()
    }
}

impl ClientSessions12 {
    /// A client store holding at most `capacity` TLS 1.2 sessions.
    pub fn new(capacity: usize) -> Self {
        ClientSessions12 {
            inner: Mutex::new(Bounded::new(capacity)),
        }
    }

    /// Files `s` under `name` and the transport it was made on.
    pub(crate) fn put(&self, name: &str, s: ClientSession12) {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.insert((s.state.transport, name.to_string()), Arc::new(s));
    }

    /// The session for `name` made on `transport`.
    pub(crate) fn get(&self, name: &str, transport: Transport) -> Option<Arc<ClientSession12>> {
        let g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.get(&(transport, name.to_string())).cloned()
    }

    /// Forgets the session for `name` on `transport` (after it failed or was used with a
    /// single-use ticket); other transports' sessions stay.
    pub(crate) fn forget(&self, name: &str, transport: Transport) {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.remove(&(transport, name.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::rand::SystemRandomSource;

    fn session() -> Session12 {
        Session12 {
            transport: Transport::Dtls,
            suite: CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            ems: true,
            group: Some(NamedGroup::x25519),
            master: Secret::new(vec![7; 48]),
            created: 1000,
        }
    }

    #[test]
    fn session_round_trip_and_rejects() {
        let enc = session().encode();
        let back = Session12::decode(enc.as_bytes()).unwrap();
        assert_eq!(back.suite, CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256);
        assert_eq!(back.transport, Transport::Dtls);
        assert_eq!(
            enc.as_bytes()[..2],
            [SESSION_ENCODING_VERSION, Transport::Dtls.code()]
        );
        assert_eq!(back.group, Some(NamedGroup::x25519));
        let psk_only = Session12 {
            group: None,
            ..session()
        };
        assert_eq!(
            Session12::decode(psk_only.encode().as_bytes()).unwrap().group,
            None
        );
        // A version 2 encoding (no group) no longer decodes: full handshake.
        let mut v2 = enc.as_bytes().to_vec();
        v2.drain(5..7);
        v2[0] = 2;
        assert!(Session12::decode(&v2).is_none());
        let mut unknown = enc.as_bytes().to_vec();
        unknown[1] = 9;
        assert!(Session12::decode(&unknown).is_none(), "unknown transport");
        assert!(back.ems && back.master.ct_eq(&[7; 48]) && back.created == 1000);
        for n in 0..enc.len() {
            assert!(Session12::decode(&enc.as_bytes()[..n]).is_none());
        }
        assert!(back.fresh(1000 + u64::from(SESSION_LIFETIME)));
        assert!(!back.fresh(1001 + u64::from(SESSION_LIFETIME)));
        assert!(!back.fresh(999));
    }

    #[test]
    fn sealer_rotation_keeps_previous_key() {
        let s = AeadTicketSealer::new(Arc::new(SystemRandomSource)).unwrap();
        let t1 = s.seal(b"one");
        s.rotate().unwrap();
        assert_eq!(s.open(&t1).as_deref(), Some(&b"one"[..]));
        s.rotate().unwrap();
        assert_eq!(s.open(&t1), None, "two rotations retire a key");
    }

    #[test]
    fn key_source_sealer_follows_the_clock_and_keeps_versions_apart() {
        use crate::config::FixedClock;
        use crate::session::tickets::TicketKeys;
        let keys: Arc<dyn TicketKeySource> = Arc::new(TicketKeys::new(100));
        let at = |t| KeySourceSealer {
            keys: keys.clone(),
            time: Arc::new(FixedClock(t)),
        };
        let t = at(1000).seal(b"state");
        assert_eq!(
            at(1150).open(&t).as_deref(),
            Some(&b"state"[..]),
            "previous key opens"
        );
        assert_eq!(at(1200).open(&t), None, "two periods on");
        // A TLS 1.3 ticket under the same key does not open as a TLS 1.2 one.
        let t13 = seal_ticket(keys.as_ref(), &SystemRandomSource, b"", 1200, b"state")
            .unwrap()
            .unwrap();
        assert_eq!(at(1200).open(&t13), None);
    }

    #[test]
    fn caches_are_bounded() {
        let c = SessionCache12::new(2);
        for i in 0..5u8 {
            put_session(&c, &[i], &session());
        }
        assert!(get_session(&c, &[0]).is_none() && get_session(&c, &[2]).is_none());
        assert!(get_session(&c, &[3]).is_some() && get_session(&c, &[4]).is_some());
        assert!(c.take(&[3]).is_some() && c.get(&[3]).is_none(), "take removes");
        let none = SessionCache12::new(0);
        put_session(&none, &[1], &session());
        assert!(get_session(&none, &[1]).is_none());
    }

    #[test]
    fn client_sessions_are_kept_per_transport() {
        let store = ClientSessions12::new(4);
        let on = |transport, id: u8| ClientSession12 {
            session_id: vec![id],
            ticket: Vec::new(),
            state: Session12 {
                transport,
                ..session()
            },
            peer_chain: Vec::new(),
        };
        store.put("a", on(Transport::Dtls, 1));
        assert!(store.get("a", Transport::Tls).is_none());
        store.put("a", on(Transport::Tls, 2));
        assert_eq!(store.get("a", Transport::Dtls).unwrap().session_id, [1]);
        assert_eq!(store.get("a", Transport::Tls).unwrap().session_id, [2]);
        store.forget("a", Transport::Tls);
        assert!(store.get("a", Transport::Tls).is_none());
        assert!(store.get("a", Transport::Dtls).is_some(), "DTLS session kept");
    }
}
