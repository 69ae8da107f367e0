//! Opts -> sanstls `ClientConfig` / `ServerConfig`, through the public builders only.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use sanstls::codec::{CipherSuite, NamedGroup, ProtocolVersion, SignatureScheme};
use sanstls::conn::{
    AeadTicketSealer, ClientSessionStore, ClientSessions12, SessionCache12, SessionStorage, TicketKeys,
};
use sanstls::crypto::SystemRandomSource;
use sanstls::pki::{CertError, ClientCertVerifier, ServerCertVerifier, ServerName};
use sanstls::{CertifiedKey, ClientConfig, SecurityPolicy, ServerConfig, SystemClock, TimeProvider};

use crate::opts::Opts;
use crate::Fail;

/// The system clock plus the seconds `-resumption-delay` moved it forward (BoringSSL's
/// shim advances its clock between connections the same way). Whole seconds, as BoringSSL
/// keeps session times: the runner checks a ticket age of exactly the delay
/// (TLS13-TestValidTicketAge-Client), which a millisecond clock misses by the milliseconds
/// the test itself took.
#[derive(Debug, Default)]
pub struct ShimClock {
    offset_secs: AtomicU64,
}

impl ShimClock {
    pub fn advance(&self, secs: u64) {
        self.offset_secs.fetch_add(secs, Ordering::Relaxed);
    }
}

impl TimeProvider for ShimClock {
    fn now_unix(&self) -> u64 {
        SystemClock.now_unix() + self.offset_secs.load(Ordering::Relaxed)
    }
}

pub fn clock() -> Arc<ShimClock> {
    static CLOCK: OnceLock<Arc<ShimClock>> = OnceLock::new();
    CLOCK.get_or_init(Default::default).clone()
}

/// Session state shared by every config of one test run, so a connection made with the
/// `-on-resume-` settings still finds the first connection's session.
fn client_store() -> Arc<ClientSessionStore> {
    static STORE: OnceLock<Arc<ClientSessionStore>> = OnceLock::new();
    STORE.get_or_init(Default::default).clone()
}

fn client_store12() -> Arc<ClientSessions12> {
    static STORE: OnceLock<Arc<ClientSessions12>> = OnceLock::new();
    STORE.get_or_init(|| Arc::new(ClientSessions12::new(64))).clone()
}

fn server_cache12() -> Arc<SessionCache12> {
    static CACHE: OnceLock<Arc<SessionCache12>> = OnceLock::new();
    CACHE.get_or_init(|| Arc::new(SessionCache12::new(256))).clone()
}

fn ticket_sealer12() -> Result<Arc<AeadTicketSealer>, Fail> {
    static SEALER: OnceLock<Arc<AeadTicketSealer>> = OnceLock::new();
    if let Some(s) = SEALER.get() {
        return Ok(s.clone());
    }
    let sealer = AeadTicketSealer::new(Arc::new(SystemRandomSource))
        .map_err(|e| Fail::Check(format!("ticket sealer: {e}")))?;
    Ok(SEALER.get_or_init(|| Arc::new(sealer)).clone())
}

fn ticket_keys() -> Arc<TicketKeys> {
    static KEYS: OnceLock<Arc<TicketKeys>> = OnceLock::new();
    KEYS.get_or_init(|| Arc::new(TicketKeys::new(6 * 3600))).clone()
}

/// Whether a certificate verification of this test run failed (a soft failure: BoringSSL's
/// `SSL_get_verify_result`, which `-expect-verify-result` checks and a resumed session keeps).
static VERIFY_FAILED: AtomicBool = AtomicBool::new(false);

/// Whether a verification failed softly in this run (the handshake went on).
pub fn verify_failed() -> bool {
    VERIFY_FAILED.load(Ordering::Relaxed)
}

/// The client accepts the runner's certificates (BoringSSL's shim installs a verify callback
/// that accepts unless `-verify-fail`); signatures are still checked by the engine.
#[derive(Debug)]
struct RunnerCerts {
    fail: bool,
    mandatory: bool,
    /// A client without `-verify-peer` is in BoringSSL's `SSL_VERIFY_NONE` mode: a failed
    /// verification is recorded, not fatal. Here that is an application verifier that
    /// accepts and remembers.
    soft: bool,
}

impl RunnerCerts {
    fn verdict(&self) -> Result<(), CertError> {
        if !self.fail {
            Ok(())
        } else if self.soft {
            VERIFY_FAILED.store(true, Ordering::Relaxed);
            Ok(())
        } else {
            Err(CertError::Rejected("-verify-fail"))
        }
    }
}

impl ServerCertVerifier for RunnerCerts {
    fn verify_server_cert(&self, _: &[u8], _: &[&[u8]], _: &ServerName, _: u64) -> Result<(), CertError> {
        self.verdict()
    }
}

impl ClientCertVerifier for RunnerCerts {
    fn verify_client_cert(&self, _: &[u8], _: &[&[u8]], _: u64) -> Result<(), CertError> {
        self.verdict()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_subjects(&self) -> Vec<Vec<u8>> {
        Vec::new()
    }
}

fn unimpl(what: impl Into<String>) -> Fail {
    Fail::Unimplemented(what.into())
}

/// Versions in TLS numbering (DTLS 1.2 = 0x0303, DTLS 1.3 = 0x0304; DTLS 1.0 counts as 1.1).
fn tls_number(v: u16) -> u16 {
    match v {
        0xfeff => 0x0302,
        0xfefd => 0x0303,
        0xfefc => 0x0304,
        v => v,
    }
}

/// The enabled versions (TLS 1.3 first), from -min-version/-max-version/-no-tls1x.
pub fn versions(o: &Opts) -> Result<Vec<ProtocolVersion>, Fail> {
    let min = o.min_version.map_or(0, tls_number);
    let max = o.max_version.map_or(0xffff, tls_number);
    let mut out = Vec::new();
    if min <= 0x0304 && max >= 0x0304 && !o.no_tls13 {
        out.push(ProtocolVersion::TLSv1_3);
    }
    if min <= 0x0303 && max >= 0x0303 && !o.no_tls12 {
        out.push(ProtocolVersion::TLSv1_2);
    }
    if out.is_empty() {
        return Err(unimpl("only TLS 1.0/1.1 (or nothing) enabled: not supported"));
    }
    Ok(out)
}

/// -cipher: a colon-separated list of standard suite names selects the TLS 1.2 suites (as in
/// BoringSSL, TLS 1.3 suites are not configurable). OpenSSL keywords are not supported.
fn suites(o: &Opts) -> Result<Option<Vec<CipherSuite>>, Fail> {
    let Some(list) = &o.cipher else { return Ok(None) };
    let mut tls12 = Vec::new();
    for name in list.split(':').filter(|n| !n.is_empty()) {
        let suite = CipherSuite::from_name(name).ok_or_else(|| unimpl(format!("cipher string {name:?}")))?;
        if sanstls::crypto::suites::tls12_suite(suite).is_some() {
            tls12.push(suite);
        }
    }
    if tls12.is_empty() {
        return Err(unimpl(format!("no supported TLS 1.2 suite in {list:?}")));
    }
    let mut all: Vec<CipherSuite> = sanstls::crypto::suites::TLS13_SUITES
        .iter()
        .map(|s| s.suite)
        .collect();
    all.extend(tls12);
    Ok(Some(all))
}

/// (groups, how many get a first-flight key share).
fn groups(o: &Opts) -> Result<(Option<Vec<NamedGroup>>, Option<usize>), Fail> {
    let supported = sanstls::crypto::supported_groups();
    let mut groups: Option<Vec<NamedGroup>> = None;
    if !o.curves.is_empty() {
        let list: Vec<NamedGroup> = o.curves.iter().map(|&c| NamedGroup::from(c)).collect();
        if let Some(g) = list.iter().find(|g| !supported.contains(g)) {
            return Err(unimpl(format!("group {g}")));
        }
        groups = Some(list);
    }
    let Some(shares) = &o.key_shares else {
        return Ok((groups, None));
    };
    if shares.is_empty() {
        return Err(unimpl("-no-key-shares (key_share_groups is at least 1)"));
    }
    let shares: Vec<NamedGroup> = shares.iter().map(|&c| NamedGroup::from(c)).collect();
    let base = groups
        .clone()
        .unwrap_or_else(|| sanstls::crypto::default_groups().to_vec());
    if base.starts_with(&shares) {
        return Ok((groups, Some(shares.len())));
    }
    if groups.is_some() || shares.iter().any(|g| !supported.contains(g)) {
        return Err(unimpl("-key-shares that are not a prefix of -curves"));
    }
    let mut reordered = shares.clone();
    reordered.extend(base.into_iter().filter(|g| !shares.contains(g)));
    Ok((Some(reordered), Some(shares.len())))
}

/// The signature schemes: `-verify-prefs` what we accept and advertise, `-signing-prefs` what
/// our own signatures may use (BoringSSL's defaults otherwise: `-verify-prefs` alone leaves
/// signing as it was).
///
/// Without `-verify-prefs` (and without a compliance policy, which names its own) the shim
/// accepts BoringSSL's default list, which leaves Ed25519 out (the runner's tests are written
/// against it: `*-VerifyDefault-Ed25519-*`, `Ed25519DefaultDisable-*`); sanstls itself accepts
/// Ed25519 by default, which `tests/tls13.rs` and the interop tests cover.
fn schemes(o: &Opts) -> (Option<Vec<SignatureScheme>>, Option<Vec<SignatureScheme>>) {
    let conv =
        |v: &[u16]| (!v.is_empty()).then(|| v.iter().map(|&s| SignatureScheme::from(s)).collect::<Vec<_>>());
    let verify = conv(&o.verify_prefs).or_else(|| {
        o.compliance_policy.is_none().then(|| {
            sanstls::conn::DEFAULT_SIGNATURE_SCHEMES
                .iter()
                .copied()
                .filter(|s| *s != SignatureScheme::ed25519)
                .collect()
        })
    });
    let signing = conv(&o.signing_prefs).or_else(|| {
        verify
            .is_some()
            .then(|| sanstls::conn::DEFAULT_SIGNATURE_SCHEMES.to_vec())
    });
    (verify, signing)
}

fn alpn_list(wire: &[u8]) -> Result<Vec<Vec<u8>>, Fail> {
    let mut out = Vec::new();
    let mut rest = wire;
    while let Some((&len, tail)) = rest.split_first() {
        let len = usize::from(len);
        if len == 0 || tail.len() < len {
            return Err(unimpl("malformed -advertise-alpn"));
        }
        out.push(tail[..len].to_vec());
        rest = &tail[len..];
    }
    Ok(out)
}

fn load_key(cert: &Option<String>, key: &Option<String>) -> Result<Option<CertifiedKey>, Fail> {
    match (cert, key) {
        (Some(c), Some(k)) => CertifiedKey::from_pem_files(c, k)
            .map(Some)
            .map_err(|e| unimpl(format!("certificate {c}: {e}"))),
        (None, None) => Ok(None),
        _ => Err(unimpl("-cert-file without -key-file or the reverse")),
    }
}

/// Our certificates in BoringSSL's order: the default one (`-cert-file`, number -1), then
/// each `-new-x509-credential` (numbers 0, 1, ...), with the number of each.
pub fn certified_keys(o: &Opts) -> Result<Vec<(i32, CertifiedKey)>, Fail> {
    // BoringSSL tries the credentials in the order they were added, the default one (from
    // -cert-file/-key-file) last; sanstls tries its certificates in configuration order.
    let mut out = Vec::new();
    for (i, c) in o.credentials.iter().enumerate() {
        if !c.signing_prefs.is_empty() {
            return Err(unimpl(
                "-signing-prefs per credential (one scheme list per config)",
            ));
        }
        let k =
            load_key(&c.cert_file, &c.key_file)?.ok_or_else(|| unimpl("credential without a certificate"))?;
        out.push((i as i32, k));
    }
    if let Some(k) = load_key(&o.cert_file, &o.key_file)? {
        out.push((-1, k));
    }
    Ok(out)
}

/// The end-entity certificate of credential `n` (-1: the default one).
pub fn credential_leaf(o: &Opts, n: i32) -> Result<Vec<u8>, Fail> {
    let file = if n < 0 {
        o.cert_file.as_ref()
    } else {
        o.credentials.get(n as usize).and_then(|c| c.cert_file.as_ref())
    };
    let file = file.ok_or_else(|| Fail::Check(format!("no credential {n}")))?;
    pem_chain(file)?
        .into_iter()
        .next()
        .ok_or_else(|| Fail::Check(format!("{file}: no certificate")))
}

pub fn pem_chain(path: &str) -> Result<Vec<Vec<u8>>, Fail> {
    let pem = std::fs::read(path).map_err(|e| Fail::Check(format!("{path}: {e}")))?;
    CertificateDer::pem_slice_iter(&pem)
        .map(|c| c.map(|c| c.to_vec()))
        .collect::<Result<_, _>>()
        .map_err(|e| Fail::Check(format!("{path}: {e}")))
}

/// AES-256-GCM suites only (BoringSSL's WPA 2023-04 and CNSA 1.0 2026-03 policies).
const AES_256_GCM_SUITES: &[CipherSuite] = &[
    CipherSuite::TLS_AES_256_GCM_SHA384,
    CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
];

/// BoringSSL's compliance policies (`SSL_set_compliance_policy`) as sanstls security
/// policies: the fips-202205 one is our FIPS 2026-11 preset (AES-GCM, P-256/P-384, SHA-2
/// ECDSA/RSA signatures); the WPA and CNSA ones narrow it to AES-256-GCM, P-384 and
/// SHA-384(/512) signatures, which the shim spells out with the public policy fields.
fn compliance_policy(o: &Opts) -> Result<Option<SecurityPolicy>, Fail> {
    use SignatureScheme as S;
    let versions = &[ProtocolVersion::TLSv1_3, ProtocolVersion::TLSv1_2];
    Ok(match o.compliance_policy.as_deref() {
        None | Some("cnsa-202407") => None,
        Some("fips-202205") => Some(SecurityPolicy::FIPS_2026_11),
        Some("wpa-202304") => Some(SecurityPolicy {
            name: "wpa-202304",
            versions,
            suites: AES_256_GCM_SUITES,
            groups: &[NamedGroup::secp384r1],
            signature_schemes: &[
                S::ecdsa_secp384r1_sha384,
                S::rsa_pss_rsae_sha384,
                S::rsa_pss_rsae_sha512,
                S::rsa_pkcs1_sha384,
                S::rsa_pkcs1_sha512,
            ],
            require_ems: false,
        }),
        // Its other group, ML-KEM-1024 on its own, is not provided.
        Some("cnsa1-202603") => Some(SecurityPolicy {
            name: "cnsa1-202603",
            versions,
            suites: AES_256_GCM_SUITES,
            groups: &[NamedGroup::secp384r1],
            signature_schemes: &[
                S::ecdsa_secp384r1_sha384,
                S::rsa_pss_rsae_sha384,
                S::rsa_pkcs1_sha384,
            ],
            require_ems: false,
        }),
        Some(p) => {
            return Err(unimpl(format!(
                "-{p}: its only group, ML-KEM-1024 on its own, is not provided"
            )))
        }
    })
}

/// BoringSSL's cnsa-202407 policy only reorders the TLS 1.3 suites: AES-256-GCM, then
/// AES-128-GCM, then ChaCha20-Poly1305.
fn cnsa_202407_suites() -> Vec<CipherSuite> {
    let mut all = vec![
        CipherSuite::TLS_AES_256_GCM_SHA384,
        CipherSuite::TLS_AES_128_GCM_SHA256,
        CipherSuite::TLS_CHACHA20_POLY1305_SHA256,
    ];
    all.extend(sanstls::crypto::suites::TLS12_SUITES.iter().map(|s| s.suite));
    all
}

macro_rules! common {
    ($b:ident, $o:ident) => {{
        let mut b = $b;
        if let Some(p) = compliance_policy($o)? {
            b = b.policy(&p);
        }
        if $o.compliance_policy.as_deref() == Some("cnsa-202407") {
            b = b.cipher_suites(&cnsa_202407_suites());
        }
        let mut b = b.versions(&versions($o)?).time(clock());
        if let Some(s) = suites($o)? {
            b = b.cipher_suites(&s);
        }
        let (verify, signing) = schemes($o);
        if let Some(s) = verify {
            b = b.signature_schemes(&s);
        }
        if let Some(s) = signing {
            b = b.signing_schemes(&s);
        }
        b
    }};
}

pub fn client(o: &Opts) -> Result<Arc<ClientConfig>, Fail> {
    // The server-side ALPN flags (-select-alpn, -decline-alpn, -reject-alpn) mean nothing
    // to a client, as in BoringSSL's shim.
    let verifier = Arc::new(RunnerCerts {
        fail: o.verify_fail,
        mandatory: true,
        soft: !o.verify_peer,
    });
    let b = ClientConfig::builder(verifier);
    let mut b = common!(b, o);
    let (mut groups, shares) = groups(o)?;
    // Our clients list X25519MLKEM768 by default, as the browsers do; BoringSSL's shim offers
    // no post-quantum group unless -curves names one, and the runner's tests are written
    // against that (PostQuantumNotEnabledByDefaultInClients; over DTLS 1.3 the runner's
    // stateful server would answer our hybrid with a HelloRetryRequest its tests do not
    // expect, and one of them panics the runner). So a client without -curves gets the
    // classical default groups here; the hybrids are tested in tests/pq.rs and against
    // rustls, and the CurveTest-* tests name their curves.
    if !o.server && groups.is_none() && shares.is_none() && o.compliance_policy.is_none() {
        let hybrid = [
            NamedGroup::X25519MLKEM768,
            NamedGroup::SecP256r1MLKEM768,
            NamedGroup::SecP384r1MLKEM1024,
        ];
        groups = Some(
            sanstls::crypto::default_groups()
                .iter()
                .copied()
                .filter(|g| !hybrid.contains(g))
                .collect(),
        );
    }
    if let Some(g) = groups {
        b = b.groups(&g);
    }
    if let Some(n) = shares {
        b = b.key_share_groups(n);
    }
    if let Some(wire) = &o.advertise_alpn {
        b = b.alpn_protocols(&alpn_list(wire)?);
    }
    let mut keys = certified_keys(o)?;
    if keys.len() > 1 {
        return Err(unimpl(
            "several client credentials (sanstls has one client certificate)",
        ));
    }
    if let Some((_, key)) = keys.pop() {
        b = b.client_auth_cert(key);
    }
    b = b
        .enable_sni(o.host_name.is_some())
        .session_store(client_store())
        .session_store12(client_store12())
        .enable_early_data(o.enable_early_data)
        .reverify_on_resume(o.reverify_on_resume)
        .tickets12(!o.no_ticket);
    b.build().map_err(|e| unimpl(format!("client config: {e}")))
}

pub fn server(o: &Opts) -> Result<Arc<ServerConfig>, Fail> {
    if o.reject_alpn {
        return Err(unimpl("-reject-alpn"));
    }
    let mut keys = certified_keys(o)?.into_iter();
    let (_, key) = keys
        .next()
        .ok_or_else(|| unimpl("server without a certificate"))?;
    let mut b = ServerConfig::builder(key);
    for (_, k) in keys {
        b = b.add_cert(k);
    }
    let mut b = common!(b, o);
    if o.key_shares.is_some() {
        return Err(unimpl("-key-shares on a server"));
    }
    if let (Some(g), _) = groups(o)? {
        b = b.groups(&g);
    }
    if let Some(p) = &o.select_alpn {
        if !o.decline_alpn {
            b = b.alpn_protocols(&[p.as_bytes()]);
        }
    }
    if o.verify_peer || o.require_any_client_certificate {
        b = b.client_verifier(Arc::new(RunnerCerts {
            fail: o.verify_fail,
            mandatory: o.require_any_client_certificate,
            soft: false,
        }));
    }
    // cnsa-202407 prefers AES whatever the client lists first.
    if o.compliance_policy.as_deref() == Some("cnsa-202407") {
        b = b.prioritize_chacha(false);
    }
    // BoringSSL's shim has a servername callback that takes the name (unless
    // -no-server-name-ack), and then its server acknowledges server_name (RFC 6066 3).
    b = b.acknowledge_server_name(!o.no_server_name_ack);
    b = b
        .session_storage(SessionStorage::Tickets(ticket_keys()))
        .session_store12(server_cache12());
    if o.no_ticket {
        // BoringSSL's SSL_OP_NO_TICKET: no tickets issued, and in TLS 1.3 none accepted either
        // (TLS 1.2 still resumes by session id).
        b = b
            .session_storage(SessionStorage::Disabled)
            .tickets(0)
            .tickets12(false);
    } else {
        b = b.ticket_sealer12(ticket_sealer12()?);
    }
    if o.enable_early_data {
        // BoringSSL's limit (kMaxEarlyDataAccepted).
        b = b.max_early_data(14336);
    }
    b.build().map_err(|e| unimpl(format!("server config: {e}")))
}
