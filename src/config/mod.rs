//! Client and server configuration, built once and shared (`Arc`) by many connections.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

mod keylog;
mod observer;
mod policy;
mod psk;
mod self_signed;
mod sizing;

pub use keylog::{key_log_line, KeyLog, KeyLogFile, NoKeyLog};
pub use observer::{Direction, RecordObserver};
pub use policy::SecurityPolicy;
pub use psk::{decode_hex, ExternalPsk, PskLookup, PskStore, MAX_PSK_IDENTITY_LEN, MAX_PSK_LEN};
pub use sizing::{RecordSizing, LOW_LATENCY_RECORD_LEN};

use crate::codec::{CipherSuite, NamedGroup, ProtocolVersion, SignatureScheme};
use crate::crypto::rand::{RandomSource, SystemRandomSource};
use crate::crypto::sign::SigningKey;
use crate::crypto::{kx, suites};
use crate::error::Error;
use crate::msgs::{
    Certificate13, CertificateEntry, ClientHello, EncryptedExtension, HandshakePayload, ServerHello,
};
use crate::pki::{self, ClientCertVerifier, ServerCertVerifier};
use crate::session::ticket12::{
    AeadTicketSealer, ClientSessions12, KeySourceSealer, SessionCache12, TicketSealer,
    DEFAULT_CLIENT_SESSIONS, DEFAULT_SESSION_CACHE_SIZE,
};
use crate::session::tickets::{
    AntiReplay, AntiReplayCheck, ClientSessionStore, SessionStorage, SessionStore, TicketKeySource,
    TicketKeys, DEFAULT_FRESHNESS_WINDOW_MS, DEFAULT_TICKET_KEY_PERIOD, MAX_TICKET_LIFETIME,
};
pub use crate::time::{FixedClock, SystemClock, TimeProvider};

/// Default signature schemes we accept from peers, in preference order.
pub const DEFAULT_SIGNATURE_SCHEMES: &[SignatureScheme] = &[
    SignatureScheme::ecdsa_secp256r1_sha256,
    SignatureScheme::ecdsa_secp384r1_sha384,
    SignatureScheme::ed25519,
    SignatureScheme::rsa_pss_rsae_sha256,
    SignatureScheme::rsa_pss_rsae_sha384,
    SignatureScheme::rsa_pss_rsae_sha512,
    // RFC 8446 4.2.3: RSASSA-PSS keys (id-RSASSA-PSS), in TLS 1.3 and 1.2.
    SignatureScheme::rsa_pss_pss_sha256,
    SignatureScheme::rsa_pss_pss_sha384,
    SignatureScheme::rsa_pss_pss_sha512,
    SignatureScheme::rsa_pkcs1_sha256,
    SignatureScheme::rsa_pkcs1_sha384,
    SignatureScheme::rsa_pkcs1_sha512,
];

/// Default cap on plaintext buffered in either direction (bytes).
pub const DEFAULT_MAX_BUFFERED_PLAINTEXT: usize = 64 * 1024;

/// RFC 8446 5.5: AES-GCM keys must change well before 2^24.5 records; we update at 2^24.
pub const DEFAULT_RECORDS_PER_KEY: u64 = 1 << 24;

/// Settings both sides share.
#[derive(Clone)]
pub(crate) struct Shared {
    pub versions: Vec<ProtocolVersion>,
    pub suites: Vec<CipherSuite>,
    pub groups: Vec<NamedGroup>,
    pub sig_schemes: Vec<SignatureScheme>,
    /// The schemes our own signatures may use (`None`: `sig_schemes`).
    pub signing_schemes: Option<Vec<SignatureScheme>>,
    pub alpn: Vec<Vec<u8>>,
    pub rng: Arc<dyn RandomSource>,
    pub time: Arc<dyn TimeProvider>,
    pub key_log: Arc<dyn KeyLog>,
    pub max_buffered_plaintext: usize,
    pub records_per_key: u64,
    pub record_observer: Option<Arc<dyn RecordObserver>>,
    /// TLS 1.2: refuse peers without the extended master secret (RFC 7627 5.2, 5.3). Off by
    /// default: a full handshake without it goes ahead (RFC 7627 5.4), but such a session
    /// is never resumed and exports no keying material.
    pub require_ems: bool,
    /// RFC 8449 record_size_limit we advertise (`None`: the client does not send one; a
    /// server still answers a client's with the protocol maximum).
    pub record_size_limit: Option<u16>,
    /// How large the records we send are (see [`RecordSizing`](RecordSizing)).
    pub record_sizing: RecordSizing,
    /// Allow `extract_ktls_secrets` and `serialize` (off by default: they hand out keys).
    pub secret_extraction: bool,
    /// Blinding delay range after a peer-caused failure (zero: off).
    pub blinding: (std::time::Duration, std::time::Duration),
    /// DTLS-SRTP (RFC 5764): profiles, MKI; used over DTLS only.
    pub srtp: crate::srtp::SrtpSettings,
}

impl Shared {
    /// The schemes our own CertificateVerify and ServerKeyExchange signatures may use.
    pub fn signing_schemes(&self) -> &[SignatureScheme] {
        self.signing_schemes.as_deref().unwrap_or(&self.sig_schemes)
    }
}

impl Default for Shared {
    fn default() -> Self {
        Shared {
            versions: vec![ProtocolVersion::TLSv1_3, ProtocolVersion::TLSv1_2],
            suites: suites::TLS13_SUITES
                .iter()
                .filter(|s| !s.opt_in)
                .map(|s| s.suite)
                .chain(suites::TLS12_SUITES.iter().filter(|s| !s.opt_in).map(|s| s.suite))
                .collect(),
            groups: kx::default_groups().to_vec(),
            sig_schemes: DEFAULT_SIGNATURE_SCHEMES.to_vec(),
            signing_schemes: None,
            alpn: Vec::new(),
            rng: Arc::new(SystemRandomSource),
            time: Arc::new(SystemClock),
            key_log: Arc::new(NoKeyLog),
            max_buffered_plaintext: DEFAULT_MAX_BUFFERED_PLAINTEXT,
            records_per_key: DEFAULT_RECORDS_PER_KEY,
            record_observer: None,
            require_ems: false,
            record_size_limit: None,
            record_sizing: RecordSizing::default(),
            blinding: (std::time::Duration::ZERO, std::time::Duration::ZERO),
            secret_extraction: false,
            srtp: crate::srtp::SrtpSettings::default(),
        }
    }
}

impl Shared {
    fn validate(&self) -> Result<(), Error> {
        let known = |s: &CipherSuite| suites::tls13_suite(*s).is_some() || suites::tls12_suite(*s).is_some();
        if self.suites.is_empty() || !self.suites.iter().all(known) {
            return Err(Error::Config(
                "cipher suites must be a non-empty list of supported suites".into(),
            ));
        }
        if self.groups.is_empty() || self.groups.iter().any(|g| !kx::supported_groups().contains(g)) {
            return Err(Error::Config(
                "groups must be a non-empty list of supported groups".into(),
            ));
        }
        if self.alpn.iter().any(|p| p.is_empty() || p.len() > 255) {
            return Err(Error::Config("ALPN protocol names are 1 to 255 bytes".into()));
        }
        let supported = [ProtocolVersion::TLSv1_3, ProtocolVersion::TLSv1_2];
        if !self.versions.iter().all(|v| supported.contains(v)) {
            return Err(Error::Config(
                "only TLS 1.3 and TLS 1.2 can be enabled (see README: unsupported)".into(),
            ));
        }
        if !self.tls13() && !self.tls12() {
            return Err(Error::Config(
                "no enabled protocol version has an enabled cipher suite".into(),
            ));
        }
        if self.records_per_key == 0 || self.max_buffered_plaintext == 0 {
            return Err(Error::Config("limits must be non-zero".into()));
        }
        // RFC 8449 4: at least 64; above 2^14 + 1 means nothing more.
        if self.record_size_limit.is_some_and(|l| !(64..=16385).contains(&l)) {
            return Err(Error::Config("record_size_limit must be 64 to 16385".into()));
        }
        self.srtp.validate()?;
        Ok(())
    }
}

impl Shared {
    /// TLS 1.3 is enabled and has at least one enabled suite.
    pub fn tls13(&self) -> bool {
        self.versions.contains(&ProtocolVersion::TLSv1_3)
            && self.suites.iter().any(|s| suites::tls13_suite(*s).is_some())
    }

    /// TLS 1.2 is enabled and has at least one enabled suite.
    pub fn tls12(&self) -> bool {
        self.versions.contains(&ProtocolVersion::TLSv1_2)
            && self.suites.iter().any(|s| suites::tls12_suite(*s).is_some())
    }
}

macro_rules! shared_setters {
    ($builder:ident) => {
        impl $builder {
            /// Applies a named security policy: versions, suites, groups, signature schemes
            /// and whether TLS 1.2 requires the extended master secret, all at once. Later
            /// calls to the single setters refine it.
            pub fn policy(mut self, policy: &SecurityPolicy) -> Self {
                self.shared.versions = policy.versions.to_vec();
                self.shared.suites = policy.suites.to_vec();
                self.shared.groups = policy.groups.to_vec();
                self.shared.sig_schemes = policy.signature_schemes.to_vec();
                self.shared.require_ems = policy.require_ems;
                self
            }

            /// Cipher suites in preference order (IANA values).
            pub fn cipher_suites(mut self, suites: &[CipherSuite]) -> Self {
                self.shared.suites = suites.to_vec();
                self
            }

            /// Key-exchange groups in preference order. Default: X25519MLKEM768, x25519,
            /// secp256r1, secp384r1 ([`default_groups`](crate::crypto::default_groups)), so a
            /// default client sends X25519MLKEM768 and x25519 shares and a default server
            /// takes the hybrid when it gets its share, else the classical share it got.
            pub fn groups(mut self, groups: &[NamedGroup]) -> Self {
                self.shared.groups = groups.to_vec();
                self
            }

            /// Signature schemes accepted from the peer and advertised (signature_algorithms,
            /// RFC 8446 4.2.3), in preference order; our own signatures use only these too,
            /// unless [`signing_schemes`](Self::signing_schemes) says otherwise. Code points
            /// reserved for private use (0xFE00-0xFFFF, RFC 8446 11; e.g. BoringSSL's internal
            /// MD5-SHA1 id 0xff01) are left out: no peer can know what they mean to us.
            pub fn signature_schemes(mut self, schemes: &[SignatureScheme]) -> Self {
                self.shared.sig_schemes = schemes
                    .iter()
                    .copied()
                    .filter(|s| u16::from(*s) < 0xfe00)
                    .collect();
                self
            }

            /// The schemes our own signatures (CertificateVerify, TLS 1.2 ServerKeyExchange)
            /// may use, apart from what we accept: e.g. sign only with RSA-PSS SHA-256 while
            /// still verifying every default scheme. The peer's list still decides among them.
            pub fn signing_schemes(mut self, schemes: &[SignatureScheme]) -> Self {
                self.shared.signing_schemes = Some(schemes.to_vec());
                self
            }

            /// ALPN protocols in preference order (RFC 7301).
            pub fn alpn_protocols<P: AsRef<[u8]>>(mut self, protocols: &[P]) -> Self {
                self.shared.alpn = protocols.iter().map(|p| p.as_ref().to_vec()).collect();
                self
            }

            /// Enabled protocol versions (default TLS 1.3 and TLS 1.2; the highest shared one
            /// is negotiated).
            pub fn versions(mut self, versions: &[ProtocolVersion]) -> Self {
                self.shared.versions = versions.to_vec();
                self
            }

            /// TLS 1.2: require the extended master secret (RFC 7627) from the peer. Default
            /// off, as in OpenSSL, GnuTLS and rustls: a peer without it gets a full handshake,
            /// but its master secret is not bound to the handshake (RFC 7627 1), so the session
            /// is neither resumed (RFC 7627 5.3) nor used for exporters (RFC 7627 5.4). The
            /// FIPS and modern policies turn it on.
            pub fn require_ems(mut self, on: bool) -> Self {
                self.shared.require_ems = on;
                self
            }

            /// The randomness source (default: ring's system random).
            pub fn random(mut self, rng: Arc<dyn RandomSource>) -> Self {
                self.shared.rng = rng;
                self
            }

            /// The clock (default: the system clock).
            pub fn time(mut self, time: Arc<dyn TimeProvider>) -> Self {
                self.shared.time = time;
                self
            }

            /// Where secrets are logged (default: nowhere).
            pub fn key_log(mut self, key_log: Arc<dyn KeyLog>) -> Self {
                self.shared.key_log = key_log;
                self
            }

            /// Cap on plaintext buffered in each direction. Back-pressure, never an error:
            /// received records wait (TLS) or are dropped (DTLS) while this much is unread,
            /// and writes are partial while this much is unsent.
            pub fn max_buffered_plaintext(mut self, bytes: usize) -> Self {
                self.shared.max_buffered_plaintext = bytes;
                self
            }

            /// Records sent under one key before an automatic KeyUpdate (capped at the
            /// RFC 8446 5.5 safe default).
            pub fn records_per_key(mut self, records: u64) -> Self {
                self.shared.records_per_key = records.min(DEFAULT_RECORDS_PER_KEY);
                self
            }

            /// RFC 8449: advertise a record_size_limit of `limit` bytes (64 to 16385; in TLS
            /// 1.3 it counts the content type byte, so 16385 means no limit). The peer's
            /// records above it are record_overflow. The peer's limit is always honoured.
            pub fn record_size_limit(mut self, limit: u16) -> Self {
                self.shared.record_size_limit = Some(limit);
                self
            }

            /// Records that fit one TCP segment (at most
            /// [`LOW_LATENCY_RECORD_LEN`](LOW_LATENCY_RECORD_LEN) bytes on the wire), so
            /// the peer can decrypt each as soon as its segment arrives.
            pub fn prefer_low_latency(mut self) -> Self {
                self.shared.record_sizing = RecordSizing::LowLatency;
                self
            }

            /// Full 16 KiB records: the fewest records and AEAD calls (the default).
            pub fn prefer_throughput(mut self) -> Self {
                self.shared.record_sizing = RecordSizing::Throughput;
                self
            }

            /// Dynamic record sizing: segment-sized records for the first `small_bytes` of
            /// application data, and again after `idle_ms` milliseconds without sending
            /// (measured with the config's [`TimeProvider`]), full records in between.
            pub fn dynamic_record_sizing(mut self, small_bytes: usize, idle_ms: u64) -> Self {
                self.shared.record_sizing = RecordSizing::Dynamic {
                    small_bytes,
                    idle_ms,
                };
                self
            }

            /// Blinding: after a failure the peer caused, [`Connection::blinding_delay`]
            /// reports a delay drawn uniformly from `min..=max` (from the config's randomness)
            /// that the application waits before closing, so the timing of the close does not
            /// tell which check failed. Default off (zero); `max` below `min` is taken as `min`.
            ///
            /// [`Connection::blinding_delay`]: super::Connection::blinding_delay
            pub fn blinding(mut self, min: std::time::Duration, max: std::time::Duration) -> Self {
                self.shared.blinding = (min, max.max(min));
                self
            }

            /// Lets established connections hand out their keys: for kernel TLS
            /// (`Connection::extract_ktls_secrets`) and for moving them to another process
            /// (`Connection::serialize`). Off by default; whoever gets those keys can read and
            /// forge the connection.
            pub fn enable_secret_extraction(mut self, on: bool) -> Self {
                self.shared.secret_extraction = on;
                self
            }

            /// Reports every record and handshake message, both directions (debugging).
            pub fn record_observer(mut self, observer: Arc<dyn RecordObserver>) -> Self {
                self.shared.record_observer = Some(observer);
                self
            }
        }
    };
}

/// Configuration of a client. Build with [`ClientConfig::builder`].
pub struct ClientConfig {
    pub(crate) shared: Shared,
    pub(crate) verifier: Arc<dyn ServerCertVerifier>,
    pub(crate) enable_sni: bool,
    /// How many groups (from the front of the list) get a key share in the first ClientHello;
    /// `None`: the first group and the first of the other kind (hybrid or classical).
    pub(crate) key_share_groups: Option<usize>,
    /// RFC 8446 D.4 middlebox compatibility mode: fake session id and a CCS.
    pub(crate) middlebox_compat: bool,
    pub(crate) hello_hook: Option<HelloHook>,
    /// Where tickets are kept for resumption (`None`: never resume).
    pub(crate) session_store: Option<Arc<ClientSessionStore>>,
    /// Offer 0-RTT when a ticket allows it (RFC 8446 4.2.10).
    pub(crate) enable_early_data: bool,
    /// Also offer psk_ke (resumption without (EC)DHE, no forward secrecy).
    pub(crate) allow_psk_ke: bool,
    /// Our certificate for client authentication, both versions (RFC 8446 4.4.2,
    /// RFC 5246 7.4.6).
    pub(crate) client_cert: Option<Arc<CertifiedKey>>,
    /// TLS 1.2 sessions to resume (session IDs and tickets), if resumption is on.
    pub(crate) sessions12: Option<Arc<ClientSessions12>>,
    /// TLS 1.2: ask servers for session tickets (RFC 5077).
    pub(crate) tickets12: bool,
    /// Run the verifier again on the stored chain when a session resumes.
    pub(crate) reverify_on_resume: bool,
    /// An external PSK: the PSK suites are offered only with one.
    pub(crate) psk: Option<Arc<ExternalPsk>>,
}

/// Reshapes the first ClientHello before it is sent (see [`ClientConfigBuilder::customize_client_hello`]).
pub type HelloHook = Arc<dyn Fn(&mut ClientHello) + Send + Sync>;

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("suites", &self.shared.suites)
            .field("groups", &self.shared.groups)
            .field("alpn", &self.shared.alpn)
            .field("verifier", &self.verifier)
            .finish_non_exhaustive()
    }
}

impl ClientConfig {
    /// Starts a client configuration that checks server certificates with `verifier`.
    pub fn builder(verifier: Arc<dyn ServerCertVerifier>) -> ClientConfigBuilder {
        ClientConfigBuilder {
            shared: Shared::default(),
            verifier,
            enable_sni: true,
            key_share_groups: None,
            middlebox_compat: true,
            hello_hook: None,
            session_store: Some(Arc::new(ClientSessionStore::default())),
            enable_early_data: false,
            allow_psk_ke: false,
            client_cert: None,
            sessions12: Some(DEFAULT_CLIENT_SESSIONS),
            shared_sessions12: None,
            tickets12: true,
            reverify_on_resume: false,
            psk: None,
        }
    }
}

/// Builds a [`ClientConfig`]: start from [`ClientConfig::builder`], set what differs from the
/// defaults, then [`build`](Self::build).
pub struct ClientConfigBuilder {
    shared: Shared,
    verifier: Arc<dyn ServerCertVerifier>,
    enable_sni: bool,
    key_share_groups: Option<usize>,
    middlebox_compat: bool,
    hello_hook: Option<HelloHook>,
    session_store: Option<Arc<ClientSessionStore>>,
    enable_early_data: bool,
    allow_psk_ke: bool,
    client_cert: Option<Arc<CertifiedKey>>,
    sessions12: Option<usize>,
    /// A TLS 1.2 session store shared with other configs (replaces `sessions12`).
    shared_sessions12: Option<Arc<ClientSessions12>>,
    tickets12: bool,
    reverify_on_resume: bool,
    psk: Option<Arc<ExternalPsk>>,
}

shared_setters!(ClientConfigBuilder);

impl ClientConfigBuilder {
    /// Send server_name (default on; never sent for IP addresses).
    pub fn enable_sni(mut self, on: bool) -> Self {
        self.enable_sni = on;
        self
    }

    /// Exactly the first `n` groups (at least one) get a key share in the first ClientHello;
    /// the others are reachable through HelloRetryRequest. By default the first group gets
    /// one, and when the list mixes kinds, also the first hybrid group (such as
    /// `X25519MLKEM768`) or the first classical one, whichever the first is not, as browsers
    /// offer X25519MLKEM768 with x25519: a server of either kind then needs no retry. A
    /// classical share on the curve of a hybrid sent before it (x25519 after X25519MLKEM768)
    /// is that hybrid's own ECDH key (draft-ietf-tls-hybrid-design 3.2).
    pub fn key_share_groups(mut self, n: usize) -> Self {
        self.key_share_groups = Some(n.max(1));
        self
    }

    /// RFC 8446 D.4 middlebox compatibility mode (default on).
    pub fn middlebox_compat(mut self, on: bool) -> Self {
        self.middlebox_compat = on;
        self
    }

    /// Lets the application reshape the first ClientHello (extension order, extra or GREASE
    /// extensions, a fingerprint to match) after sanstls builds it. The transcript hashes what
    /// is sent, so the handshake stays sound; removing what the handshake needs (key_share,
    /// supported_versions) makes it fail with the peer's alert.
    pub fn customize_client_hello(mut self, hook: impl Fn(&mut ClientHello) + Send + Sync + 'static) -> Self {
        self.hello_hook = Some(Arc::new(hook));
        self
    }

    /// Where session tickets are kept (default: an in-memory store of 256 names x 8
    /// tickets, single-use). Share one store between configs to resume across them.
    pub fn session_store(mut self, store: Arc<ClientSessionStore>) -> Self {
        self.session_store = Some(store);
        self
    }

    /// Turn resumption off (TLS 1.3 and TLS 1.2): no tickets or sessions kept, none offered.
    pub fn no_resumption(mut self) -> Self {
        self.session_store = None;
        self.sessions12 = None;
        self.shared_sessions12 = None;
        self
    }

    /// Offer 0-RTT early data when a ticket permits it (default off). Write it with
    /// `Connection::early_data` before the first `write_tls`.
    pub fn enable_early_data(mut self, on: bool) -> Self {
        self.enable_early_data = on;
        self
    }

    /// Also offer psk_ke: resumption without a fresh (EC)DHE, hence without forward
    /// secrecy for the resumed session (RFC 8446 4.2.9). Default off.
    pub fn allow_psk_ke(mut self, on: bool) -> Self {
        self.allow_psk_ke = on;
        self
    }

    /// Verify the server's certificate chain again, with today's verifier and clock, when a
    /// session resumes (default off: the chain was verified when the session was made).
    /// Turn it on when trust can be withdrawn while sessions live (a revoked or expired
    /// certificate, a changed set of trust anchors). A refused chain fails the handshake
    /// with the verifier's alert; with 0-RTT offered the check runs before the ClientHello,
    /// so no early data goes to a server we no longer trust.
    pub fn reverify_on_resume(mut self, on: bool) -> Self {
        self.reverify_on_resume = on;
        self
    }

    /// The certificate and key we present when the server asks, in TLS 1.3 (RFC 8446
    /// 4.4.2) and TLS 1.2 (RFC 5246 7.4.6). Without one we answer a CertificateRequest
    /// with an empty Certificate.
    pub fn client_auth_cert(mut self, cert: CertifiedKey) -> Self {
        self.client_cert = Some(Arc::new(cert));
        self
    }

    /// TLS 1.2 resumption: how many sessions (one per server name) to keep; 0 turns
    /// resumption off (default 64). Connections from one config share the store.
    pub fn session_cache12(mut self, sessions: usize) -> Self {
        self.sessions12 = (sessions > 0).then_some(sessions);
        self.shared_sessions12 = None;
        self
    }

    /// TLS 1.2 resumption from `store`, which other configs may share: a session made under
    /// one config is offered by connections of another (say, one with other settings for the
    /// same servers), as [`session_store`](Self::session_store) does for TLS 1.3 tickets.
    pub fn session_store12(mut self, store: Arc<ClientSessions12>) -> Self {
        self.shared_sessions12 = Some(store);
        self
    }

    /// TLS 1.2: ask for and offer RFC 5077 session tickets (default on; needs the cache).
    pub fn tickets12(mut self, on: bool) -> Self {
        self.tickets12 = on;
        self
    }

    /// An external PSK (RFC 4279, RFC 5489): with it the client offers the PSK suites among
    /// its [`cipher_suites`](Self::cipher_suites) (which must list some), and names the
    /// identity when the server picks one.
    pub fn psk(mut self, psk: ExternalPsk) -> Self {
        self.psk = Some(Arc::new(psk));
        self
    }

    /// Checks the settings against each other and freezes them; an unusable combination is `Error::Config`.
    pub fn build(self) -> Result<Arc<ClientConfig>, Error> {
        self.shared.validate()?;
        if let Some(c) = &self.client_cert {
            c.keys_match()?;
        }
        Ok(Arc::new(ClientConfig {
            shared: self.shared,
            verifier: self.verifier,
            enable_sni: self.enable_sni,
            key_share_groups: self.key_share_groups,
            middlebox_compat: self.middlebox_compat,
            hello_hook: self.hello_hook,
            session_store: self.session_store,
            enable_early_data: self.enable_early_data,
            allow_psk_ke: self.allow_psk_ke,
            client_cert: self.client_cert,
            sessions12: self
                .shared_sessions12
                .or_else(|| self.sessions12.map(|n| Arc::new(ClientSessions12::new(n)))),
            tickets12: self.tickets12,
            reverify_on_resume: self.reverify_on_resume,
            psk: self.psk,
        }))
    }
}

/// A certificate chain and the private key of its end-entity certificate.
pub struct CertifiedKey {
    /// The chain, end-entity certificate first.
    pub chain: Vec<CertificateDer<'static>>,
    /// The end-entity certificate's private key.
    pub key: SigningKey,
    /// The TLS 1.3 Certificate message of `chain`, encoded by the first handshake that sends
    /// it and reused by every later one (the chain is fixed once the key is in a config).
    certificate13: OnceLock<Vec<u8>>,
}

impl CertifiedKey {
    /// Pairs a chain with its key, refusing a key that is not the certificate's (`Error::InconsistentKeys`).
    pub fn new(chain: Vec<CertificateDer<'static>>, key: SigningKey) -> Result<Self, Error> {
        if chain.is_empty() {
            return Err(Error::Config("certificate chain is empty".into()));
        }
        let ck = CertifiedKey {
            chain,
            key,
            certificate13: OnceLock::new(),
        };
        ck.keys_match()?;
        Ok(ck)
    }

    /// Checks that the private key is the end-entity certificate's: a key that is not would
    /// make every handshake fail on the peer's signature check, so it is refused where the
    /// mistake is made ([`CertifiedKey::new`], and again when a config is built, as the fields
    /// are public).
    pub fn keys_match(&self) -> Result<(), Error> {
        let end_entity = self
            .chain
            .first()
            .ok_or_else(|| Error::Config("certificate chain is empty".into()))?;
        let cert_key = crate::pki::cert_public_key(end_entity.as_ref())
            .map_err(|_| Error::InconsistentKeys(crate::InconsistentKeys::Unknown))?;
        if cert_key != self.key.public_key_raw() {
            return Err(Error::InconsistentKeys(crate::InconsistentKeys::KeyMismatch));
        }
        Ok(())
    }

    /// The encoded TLS 1.3 Certificate handshake message (header included) of a server's
    /// chain: empty request context, no per-entry extensions (RFC 8446 4.4.2).
    pub(crate) fn certificate13(&self) -> &[u8] {
        self.certificate13.get_or_init(|| {
            let entries = self
                .chain
                .iter()
                .map(|c| CertificateEntry {
                    cert: c.as_ref().to_vec(),
                    extensions: Vec::new(),
                })
                .collect();
            HandshakePayload::Certificate13(Certificate13 {
                context: Vec::new(),
                entries,
            })
            .encode()
        })
    }

    /// Loads a PEM chain (end-entity first) and a PEM private key.
    pub fn from_pem_files(chain: impl AsRef<Path>, key: impl AsRef<Path>) -> Result<Self, Error> {
        let path = chain.as_ref();
        let chain = CertificateDer::pem_file_iter(path)
            .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
        if chain.is_empty() {
            return Err(Error::Config(format!("{}: no CERTIFICATE block", path.display())));
        }
        Self::new(chain, SigningKey::from_pem_file(key)?)
    }

    /// Parses a PEM chain and PEM key held in memory.
    pub fn from_pem(chain: &[u8], key: &[u8]) -> Result<Self, Error> {
        let chain = CertificateDer::pem_slice_iter(chain)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Error::Config(format!("certificate PEM: {e}")))?;
        let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| Error::Config(format!("key PEM: {e}")))?;
        Self::new(chain, SigningKey::from_der(&key)?)
    }
}

/// Configuration of a server. Build with [`ServerConfig::builder`].
pub struct ServerConfig {
    pub(crate) shared: Shared,
    /// The first certificate given (the default when nothing else decides).
    pub(crate) cert: Arc<CertifiedKey>,
    /// Every certificate, `cert` first, in the order given (see [`ServerConfig::choose_cert`]).
    pub(crate) certs: Vec<Arc<CertifiedKey>>,
    pub(crate) client_verifier: Option<Arc<dyn ClientCertVerifier>>,
    pub(crate) resumption: Resumption,
    /// TLS 1.2 session-ID store (`None`: no session IDs issued).
    pub(crate) session_cache12: Option<Arc<dyn SessionStore>>,
    /// TLS 1.2 ticket sealing (`None`: no tickets, RFC 5077).
    pub(crate) ticketer12: Option<Arc<dyn TicketSealer>>,
    /// Reshapes the TLS 1.3 ServerHello before it is sent.
    pub(crate) server_hello_hook: Option<ServerHelloHook>,
    /// Reshapes the TLS 1.3 EncryptedExtensions before they are sent.
    pub(crate) encrypted_extensions_hook: Option<EncryptedExtensionsHook>,
    /// External PSKs by identity: the PSK suites are chosen only with it.
    pub(crate) psk_lookup: Option<Arc<dyn PskLookup>>,
    /// TLS 1.2 psk_identity_hint sent in the ServerKeyExchange (RFC 4279 2).
    pub(crate) psk_identity_hint: Option<Vec<u8>>,
    /// Acknowledge server_name in every full handshake whose client sent one (see
    /// [`ServerConfigBuilder::acknowledge_server_name`]).
    pub(crate) acknowledge_server_name: bool,
    /// Give ChaCha20-Poly1305 to a TLS 1.3 client that lists it first (see
    /// [`ServerConfigBuilder::prioritize_chacha`]).
    pub(crate) prioritize_chacha: bool,
}

/// Reshapes the TLS 1.3 ServerHello before it is sent (see
/// [`ServerConfigBuilder::customize_server_hello`]).
pub type ServerHelloHook = Arc<dyn Fn(&mut ServerHello) + Send + Sync>;

/// Reshapes the TLS 1.3 EncryptedExtensions before they are sent (see
/// [`ServerConfigBuilder::customize_encrypted_extensions`]).
pub type EncryptedExtensionsHook = Arc<dyn Fn(&mut Vec<EncryptedExtension>) + Send + Sync>;

/// Server settings for tickets, resumption and 0-RTT.
#[derive(Clone, Debug)]
pub(crate) struct Resumption {
    pub storage: SessionStorage,
    /// NewSessionTickets sent after each full or resumed handshake.
    pub tickets: usize,
    /// Seconds (RFC 8446 4.6.1: at most seven days).
    pub lifetime: u32,
    /// 0 disables 0-RTT.
    pub max_early_data: u32,
    pub anti_replay: Arc<dyn AntiReplayCheck>,
    pub allow_psk_ke: bool,
}

impl Default for Resumption {
    fn default() -> Self {
        Resumption {
            storage: SessionStorage::Tickets(Arc::new(TicketKeys::new(DEFAULT_TICKET_KEY_PERIOD))),
            tickets: DEFAULT_TICKETS,
            lifetime: DEFAULT_TICKET_LIFETIME,
            max_early_data: 0,
            anti_replay: Arc::new(AntiReplay::new(DEFAULT_FRESHNESS_WINDOW_MS, 64 * 1024)),
            allow_psk_ke: false,
        }
    }
}

/// NewSessionTickets a server sends per handshake by default.
pub const DEFAULT_TICKETS: usize = 2;
/// Default ticket lifetime: two hours.
pub const DEFAULT_TICKET_LIFETIME: u32 = 2 * 3600;
/// Most tickets a server may be configured to send per handshake.
pub const MAX_TICKETS_PER_HANDSHAKE: usize = 16;

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerConfig")
            .field("suites", &self.shared.suites)
            .field("groups", &self.shared.groups)
            .field("alpn", &self.shared.alpn)
            .finish_non_exhaustive()
    }
}

impl ServerConfig {
    /// A builder for a server presenting `cert` (add more with `add_cert`).
    pub fn builder(cert: CertifiedKey) -> ServerConfigBuilder {
        ServerConfigBuilder {
            shared: Shared::default(),
            cert: Arc::new(cert),
            more_certs: Vec::new(),
            client_verifier: None,
            resumption: Resumption::default(),
            session_cache12: DEFAULT_SESSION_CACHE_SIZE,
            shared_session_cache12: None,
            tickets12: Tickets12::Default,
            server_hello_hook: None,
            encrypted_extensions_hook: None,
            psk_lookup: None,
            psk_identity_hint: None,
            acknowledge_server_name: false,
            prioritize_chacha: true,
        }
    }

    /// The first certificate given to the builder (served when nothing else decides).
    pub fn default_cert(&self) -> &Arc<CertifiedKey> {
        &self.cert
    }

    /// Picks the certificate for a TLS 1.3 ClientHello and the scheme to sign with.
    ///
    /// Certificates whose subjectAltName carries the SNI name come first; among them (or among
    /// all certificates when none carries it, or no name was sent) the first, in configuration
    /// order, whose key can sign with one of the offered `schemes` wins. So an ECDSA and an
    /// RSA certificate for one name serve both kinds of client. `None`: no key fits.
    pub fn choose_cert(
        &self,
        sni: Option<&str>,
        schemes: &[SignatureScheme],
    ) -> Option<(Arc<CertifiedKey>, SignatureScheme)> {
        self.select_cert(sni, schemes, true, None).map(|(c, s, _)| (c, s))
    }

    /// [`choose_cert`](Self::choose_cert), plus whether the SNI name decided it (RFC 6066 3:
    /// then, and only then, the server acknowledges server_name). `tls13` picks the version's
    /// signature schemes (TLS 1.2 also signs with PKCS#1 v1.5 and curve-independent ECDSA).
    /// `curves`: the TLS 1.2 client's supported_groups, if it sent them; an ECDSA certificate
    /// must be on one of them (RFC 8422 5.1; without the extension any curve will do).
    pub(crate) fn select_cert(
        &self,
        sni: Option<&str>,
        schemes: &[SignatureScheme],
        tls13: bool,
        curves: Option<&[NamedGroup]>,
    ) -> Option<(Arc<CertifiedKey>, SignatureScheme, bool)> {
        // Our own signatures keep to the configured schemes (a policy restricts both ways).
        let schemes: Vec<SignatureScheme> = schemes
            .iter()
            .copied()
            .filter(|s| self.shared.signing_schemes().contains(s))
            .collect();
        let on_client_curve = |c: &CertifiedKey| match (curves, c.key.ecdsa_group()) {
            (Some(curves), Some(curve)) => curves.contains(&curve),
            _ => true,
        };
        let fits = |c: &Arc<CertifiedKey>| {
            c.key
                .choose_scheme(&schemes, tls13)
                .filter(|_| on_client_curve(c))
                .map(|s| (c.clone(), s))
        };
        if self.certs.len() > 1 {
            if let Some(name) = sni.and_then(|n| pki::ServerName::parse(n).ok()) {
                let named = self
                    .certs
                    .iter()
                    .filter(|c| {
                        c.chain
                            .first()
                            .is_some_and(|ee| pki::cert_names(ee.as_ref(), &name))
                    })
                    .find_map(fits);
                if let Some((cert, scheme)) = named {
                    return Some((cert, scheme, true));
                }
            }
        }
        self.certs.iter().find_map(fits).map(|(c, s)| (c, s, false))
    }
}

/// Ticket setting of a server builder.
enum Tickets12 {
    Off,
    /// An [`AeadTicketSealer`] made at build time from the config's randomness.
    Default,
    Custom(Arc<dyn TicketSealer>),
    /// Sealed under a key source, with the config's clock (made at build time).
    Keys(Arc<dyn TicketKeySource>),
}

/// Builds a [`ServerConfig`]: start from [`ServerConfig::builder`], set what differs from the
/// defaults, then [`build`](Self::build).
pub struct ServerConfigBuilder {
    shared: Shared,
    cert: Arc<CertifiedKey>,
    more_certs: Vec<Arc<CertifiedKey>>,
    client_verifier: Option<Arc<dyn ClientCertVerifier>>,
    resumption: Resumption,
    session_cache12: usize,
    /// A TLS 1.2 session-ID store shared with other configs (replaces `session_cache12`).
    shared_session_cache12: Option<Arc<dyn SessionStore>>,
    tickets12: Tickets12,
    server_hello_hook: Option<ServerHelloHook>,
    encrypted_extensions_hook: Option<EncryptedExtensionsHook>,
    psk_lookup: Option<Arc<dyn PskLookup>>,
    psk_identity_hint: Option<Vec<u8>>,
    acknowledge_server_name: bool,
    prioritize_chacha: bool,
}

shared_setters!(ServerConfigBuilder);

impl ServerConfigBuilder {
    /// Another certificate to serve: chosen by SNI and by the client's signature algorithms
    /// (see [`ServerConfig::choose_cert`]).
    pub fn add_cert(mut self, cert: CertifiedKey) -> Self {
        self.more_certs.push(Arc::new(cert));
        self
    }

    /// Ask for client certificates and check them with `verifier`.
    pub fn client_verifier(mut self, verifier: Arc<dyn ClientCertVerifier>) -> Self {
        self.client_verifier = Some(verifier);
        self
    }

    /// How sessions are kept: stateless tickets under rotating keys (the default, a
    /// six-hour period; [`SessionStorage::Tickets`] with a shared [`TicketKeySource`] for a
    /// fleet of servers), a single-use server cache or store, or disabled.
    pub fn session_storage(mut self, storage: SessionStorage) -> Self {
        self.resumption.storage = storage;
        self
    }

    /// NewSessionTickets sent after each handshake (default 2, at most 16; 0 sends none).
    pub fn tickets(mut self, n: usize) -> Self {
        self.resumption.tickets = n.min(MAX_TICKETS_PER_HANDSHAKE);
        self
    }

    /// Ticket lifetime in seconds (default two hours, capped at seven days).
    pub fn ticket_lifetime(mut self, secs: u32) -> Self {
        self.resumption.lifetime = secs.min(MAX_TICKET_LIFETIME);
        self
    }

    /// Accept up to `bytes` of 0-RTT data on resumed connections (default 0: refuse).
    pub fn max_early_data(mut self, bytes: u32) -> Self {
        self.resumption.max_early_data = bytes;
        self
    }

    /// The 0-RTT anti-replay check (RFC 8446 8.2): an [`AntiReplay`] window by default; share
    /// one between configs serving the same tickets, and across servers (an
    /// [`AntiReplayCheck`] on a shared store) when tickets open on several.
    pub fn anti_replay(mut self, window: Arc<dyn AntiReplayCheck>) -> Self {
        self.resumption.anti_replay = window;
        self
    }

    /// Accept psk_ke resumption (no (EC)DHE) when a client offers only that (default off).
    pub fn allow_psk_ke(mut self, on: bool) -> Self {
        self.resumption.allow_psk_ke = on;
        self
    }

    /// TLS 1.2 session-ID cache size (default 256; 0: no session IDs).
    pub fn session_cache12(mut self, sessions: usize) -> Self {
        self.session_cache12 = sessions;
        self.shared_session_cache12 = None;
        self
    }

    /// TLS 1.2 session IDs kept in `cache` (a [`SessionCache12`], or any [`SessionStore`]),
    /// which other configs and servers may share: a session one issued resumes under another
    /// (as a shared ticket sealer does for tickets).
    pub fn session_store12(mut self, cache: Arc<dyn SessionStore>) -> Self {
        self.shared_session_cache12 = Some(cache);
        self
    }

    /// TLS 1.2 session tickets (RFC 5077) on or off (default on, with a random AES-256-GCM
    /// key made at build time).
    pub fn tickets12(mut self, on: bool) -> Self {
        self.tickets12 = if on { Tickets12::Default } else { Tickets12::Off };
        self
    }

    /// Lets the application reshape the ServerHello (TLS and DTLS, 1.3 and 1.2) after sanstls
    /// builds it and before it is sent: extension order, to replay a recorded trace byte for
    /// byte. The transcript hashes what is sent; the handshake goes on from what sanstls
    /// chose, so changing a value (suite, key share, version) makes the handshake fail.
    /// HelloRetryRequests are not reshaped.
    pub fn customize_server_hello(mut self, hook: impl Fn(&mut ServerHello) + Send + Sync + 'static) -> Self {
        self.server_hello_hook = Some(Arc::new(hook));
        self
    }

    /// Lets the application reshape the TLS 1.3 (and DTLS 1.3) EncryptedExtensions after
    /// sanstls builds them: extension order, or an informational extension such as our
    /// supported_groups (RFC 8446 4.2.7), to replay a recorded trace byte for byte. Removing
    /// or changing a negotiated one (ALPN, early_data) leaves the client with a different
    /// view than ours, and the handshake or the data fails.
    pub fn customize_encrypted_extensions(
        mut self,
        hook: impl Fn(&mut Vec<EncryptedExtension>) + Send + Sync + 'static,
    ) -> Self {
        self.encrypted_extensions_hook = Some(Arc::new(hook));
        self
    }

    /// TLS 1.2 session tickets sealed by `sealer` (shared between configs, rotated by the
    /// application).
    pub fn ticket_sealer12(mut self, sealer: Arc<dyn TicketSealer>) -> Self {
        self.tickets12 = Tickets12::Custom(sealer);
        self
    }

    /// TLS 1.2 session tickets sealed under `keys`, the source TLS 1.3 tickets may use too
    /// (shared by a fleet of servers): rotation follows the config's clock.
    pub fn ticket_keys12(mut self, keys: Arc<dyn TicketKeySource>) -> Self {
        self.tickets12 = Tickets12::Keys(keys);
        self
    }

    /// External PSKs (RFC 4279, RFC 5489): with a lookup the server chooses a PSK suite when
    /// one comes first, in its [`cipher_suites`](Self::cipher_suites) order, among those
    /// the client offers. An unknown identity ends the handshake with `unknown_psk_identity`.
    pub fn psk_lookup(mut self, lookup: Arc<dyn PskLookup>) -> Self {
        self.psk_lookup = Some(lookup);
        self
    }

    /// Acknowledge the client's server_name (an empty server_name in the ServerHello, or the
    /// EncryptedExtensions in TLS 1.3) in every full handshake, for an application that
    /// uses the name (RFC 6066 3: a server that uses it "SHALL include" the extension). By
    /// default the name is acknowledged only where it chose among several certificates. A
    /// resumed handshake never acknowledges it (RFC 6066 3: "MUST NOT").
    pub fn acknowledge_server_name(mut self, yes: bool) -> Self {
        self.acknowledge_server_name = yes;
        self
    }

    /// TLS 1.3: a client that lists ChaCha20-Poly1305 first among its suites (one without AES
    /// hardware) gets it when our suites include it, before our own first choice (RFC 8446
    /// 4.1.1 leaves the choice to the server). On by default; off, our suite order alone
    /// decides (a policy that prefers AES whatever the client).
    pub fn prioritize_chacha(mut self, yes: bool) -> Self {
        self.prioritize_chacha = yes;
        self
    }

    /// TLS 1.2: the psk_identity_hint of the ServerKeyExchange (RFC 4279 2; at most
    /// [`MAX_PSK_IDENTITY_LEN`] bytes). Without one a PSK suite's ServerKeyExchange is
    /// left out (ECDHE_PSK sends an empty hint).
    pub fn psk_identity_hint(mut self, hint: impl Into<Vec<u8>>) -> Self {
        self.psk_identity_hint = Some(hint.into());
        self
    }

    /// Checks the settings against each other and freezes them; an unusable combination is `Error::Config`.
    pub fn build(self) -> Result<Arc<ServerConfig>, Error> {
        self.shared.validate()?;
        if self
            .psk_identity_hint
            .as_ref()
            .is_some_and(|h| h.len() > MAX_PSK_IDENTITY_LEN)
        {
            return Err(Error::Config(format!(
                "a PSK identity hint is at most {MAX_PSK_IDENTITY_LEN} bytes"
            )));
        }
        if self.resumption.max_early_data as usize > self.shared.max_buffered_plaintext {
            return Err(Error::Config(
                "max_early_data must not exceed the buffered plaintext cap".into(),
            ));
        }
        let mut certs = vec![self.cert.clone()];
        certs.extend(self.more_certs);
        for c in &certs {
            c.keys_match()?;
        }
        let ticketer12: Option<Arc<dyn TicketSealer>> = match self.tickets12 {
            Tickets12::Off => None,
            // Ticket keys and nonces come from the system: a replay's fixed randomness is for the
            // handshake, not for key material the trace never shows.
            Tickets12::Default => Some(Arc::new(AeadTicketSealer::new(Arc::new(SystemRandomSource))?)),
            Tickets12::Custom(s) => Some(s),
            Tickets12::Keys(keys) => Some(Arc::new(KeySourceSealer {
                keys,
                time: self.shared.time.clone(),
            })),
        };
        Ok(Arc::new(ServerConfig {
            shared: self.shared,
            cert: self.cert,
            certs,
            client_verifier: self.client_verifier,
            resumption: self.resumption,
            session_cache12: self.shared_session_cache12.or_else(|| {
                (self.session_cache12 > 0)
                    .then(|| Arc::new(SessionCache12::new(self.session_cache12)) as Arc<dyn SessionStore>)
            }),
            ticketer12,
            server_hello_hook: self.server_hello_hook,
            encrypted_extensions_hook: self.encrypted_extensions_hook,
            psk_lookup: self.psk_lookup,
            psk_identity_hint: self.psk_identity_hint,
            acknowledge_server_name: self.acknowledge_server_name,
            prioritize_chacha: self.prioritize_chacha,
        }))
    }
}

impl ClientConfigBuilder {
    /// DTLS-SRTP (RFC 5764 4.1.1): the protection profiles to offer in `use_srtp`, in
    /// preference order (default none: the extension is not sent). Offered over DTLS only:
    /// a TLS or QUIC connection from the same config leaves the extension out (RFC 5764
    /// is defined for DTLS alone), so one config may serve both.
    pub fn srtp_profiles(mut self, profiles: &[crate::srtp::SrtpProtectionProfile]) -> Self {
        self.shared.srtp.profiles = profiles.to_vec();
        self
    }

    /// DTLS-SRTP: the SRTP Master Key Identifier to offer with the profiles (RFC 5764
    /// 4.1.1; at most 255 bytes; default empty, no MKI). The server either echoes it (it
    /// will use the MKI) or answers an empty one (it will not); any other answer is
    /// refused with illegal_parameter.
    pub fn srtp_mki(mut self, mki: &[u8]) -> Self {
        self.shared.srtp.mki = mki.to_vec();
        self
    }
}

impl ServerConfigBuilder {
    /// DTLS-SRTP (RFC 5764 4.1.1): the protection profiles we accept, in our preference
    /// order: of the client's offered profiles the server picks the first in *this* list
    /// (the server's preference, as for cipher suites). No profile in common: the
    /// ServerHello (DTLS 1.2) or EncryptedExtensions (DTLS 1.3) has no use_srtp and the
    /// handshake goes on without SRTP (RFC 5764 4.1.1). Default none: use_srtp is ignored.
    /// Over TLS and QUIC the extension is never answered.
    pub fn srtp_profiles(mut self, profiles: &[crate::srtp::SrtpProtectionProfile]) -> Self {
        self.shared.srtp.profiles = profiles.to_vec();
        self
    }

    /// DTLS-SRTP: echo the client's MKI, so SRTP packets carry it (RFC 5764 4.1.1, first
    /// choice). Default off: the answer's srtp_mki is empty, the second choice of the RFC
    /// for a server that cannot use the client's MKI.
    pub fn srtp_accept_mki(mut self, on: bool) -> Self {
        self.shared.srtp.accept_mki = on;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate13_is_encoded_once_as_the_message_of_the_chain() {
        let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("vectors");
        let ck = CertifiedKey::from_pem_files(
            dir.join("localhost-ecdsa-p256.pem"),
            dir.join("localhost-ecdsa-p256.key"),
        )
        .unwrap();
        let first = ck.certificate13();
        assert!(core::ptr::eq(first, ck.certificate13()), "cached, not re-encoded");
        let per_handshake = HandshakePayload::Certificate13(Certificate13 {
            context: Vec::new(),
            entries: ck
                .chain
                .iter()
                .map(|c| CertificateEntry {
                    cert: c.as_ref().to_vec(),
                    extensions: Vec::new(),
                })
                .collect(),
        })
        .encode();
        assert_eq!(first, per_handshake.as_slice());
        assert_eq!(first[0], 11, "HandshakeType.certificate");
    }
}
