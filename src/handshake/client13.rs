//! TLS 1.3 client (RFC 8446 2, 4): ClientHello, optional HelloRetryRequest, ServerHello,
//! EncryptedExtensions, [CertificateRequest], Certificate, CertificateVerify, Finished.

use crate::error::Parameter;
use std::sync::Arc;

use super::established::ClientResumption;
use super::keys13::{EarlyKeys, HandshakeKeys};
use super::negotiated::EarlyDataReason;
use super::output::{Output, Side};
use super::server13::session_id_echo;
use super::{unexpected, Established13, Handshake, Msg};
use crate::codec::{CipherSuite, HandshakeType, NamedGroup, PskKeyExchangeMode, SignatureScheme};
use crate::config::ClientConfig;
use crate::crypto::hash::Transcript;
use crate::crypto::kx::{self, KeyExchange};
use crate::crypto::secret::Secret;
use crate::crypto::sign::{tls13_signed_message, verify_signature};
use crate::crypto::suites::{tls12_suite, tls13_suite, Tls13Suite};
use crate::error::{Error, PeerMisbehaved};
use crate::event::Event;
use crate::msgs::*;
use crate::pki::{self, ServerName};
use crate::session::tickets::ClientTicket;

pub(crate) enum ClientState {
    ServerHello(ExpectServerHello),
    EncryptedExtensions(ExpectEncryptedExtensions),
    Certificate(ExpectCertificate),
    CertificateVerify(ExpectCertificateVerify),
    Finished(ExpectFinished),
}

impl ClientState {
    pub fn handle(self, cx: &mut dyn Output, msg: Msg) -> Result<Handshake, Error> {
        match self {
            ClientState::ServerHello(s) => s.handle(cx, msg),
            ClientState::EncryptedExtensions(s) => s.handle(cx, msg),
            ClientState::Certificate(s) => s.handle(cx, msg),
            ClientState::CertificateVerify(s) => s.handle(cx, msg),
            ClientState::Finished(s) => s.handle(cx, msg),
        }
    }

    /// Whether this state takes a message of type `typ`; if not, the state's name.
    pub fn expects(&self, typ: HandshakeType) -> Result<(), &'static str> {
        let (ok, state) = match self {
            // A HelloRetryRequest is a ServerHello on the wire (RFC 8446 4.1.4).
            ClientState::ServerHello(_) => (typ == HandshakeType::ServerHello, "expect ServerHello"),
            ClientState::EncryptedExtensions(_) => (
                typ == HandshakeType::EncryptedExtensions,
                "expect EncryptedExtensions",
            ),
            ClientState::Certificate(s) => (
                typ == HandshakeType::Certificate
                    || typ == HandshakeType::CertificateRequest && s.cert_request.is_none(),
                "expect Certificate",
            ),
            ClientState::CertificateVerify(_) => (
                typ == HandshakeType::CertificateVerify,
                "expect CertificateVerify",
            ),
            ClientState::Finished(_) => (typ == HandshakeType::Finished, "expect Finished"),
        };
        if ok {
            Ok(())
        } else {
            Err(state)
        }
    }

    pub fn accepts_ccs(&self) -> bool {
        // The server's compatibility CCS follows its ServerHello or HRR (RFC 8446 D.4).
        match self {
            ClientState::ServerHello(s) => s.hrr.is_some(),
            _ => true,
        }
    }
}

/// The groups that get a key share in the first ClientHello, in the order of `groups`: the
/// first `count`, or by default (`None`) the first hybrid and the first classical group, so
/// a server of either kind finds a share it takes without a HelloRetryRequest (as browsers
/// and BoringSSL offer X25519MLKEM768 with x25519).
fn share_groups(groups: &[NamedGroup], count: Option<usize>) -> Vec<NamedGroup> {
    let first_hybrid = groups.iter().position(|g| kx::is_hybrid(*g));
    let first_classical = groups.iter().position(|g| !kx::is_hybrid(*g));
    groups
        .iter()
        .enumerate()
        .filter(|(i, _)| match count {
            Some(n) => *i < n,
            None => Some(*i) == first_hybrid || Some(*i) == first_classical,
        })
        .map(|(_, g)| *g)
        .collect()
}

impl ExpectServerHello {
    /// True once a HelloRetryRequest came (the server speaks TLS 1.3).
    pub(super) fn after_retry(&self) -> bool {
        self.hrr.is_some()
    }
}

/// What every client state carries.
struct Session {
    config: Arc<ClientConfig>,
    name: Option<ServerName>,
    /// The ticket offered in pre_shared_key, if any.
    ticket: Option<Box<ClientTicket>>,
    /// True while our 0-RTT offer stands (cleared when refused).
    early_offered: bool,
    /// The ticket's chain was verified again before the ClientHello (0-RTT with
    /// `reverify_on_resume`): not again when the server accepts the ticket.
    chain_reverified: bool,
}

/// The key the ticket store files tickets under.
fn store_key(name: &ServerName) -> String {
    match name {
        ServerName::Dns(d) => d.clone(),
        ServerName::Ip(ip) => ip.to_string(),
    }
}

/// RFC 8446 4.2.11.2: sets the (single) binder of `hello` to the HMAC over `prefix` (the
/// transcript before this ClientHello: empty, or CH1's message_hash and HRR) and the
/// ClientHello truncated before its binders list.
fn fill_binder(
    hello: &mut ClientHello,
    ticket: &ClientTicket,
    prefix: Option<&Transcript>,
    labels: &'static [u8],
) -> Result<(), Error> {
    let suite = tls13_suite(ticket.suite).ok_or(Error::Internal("ticket suite unknown"))?;
    let bytes = HandshakePayload::ClientHello(hello.clone()).encode();
    let truncated = bytes
        .len()
        .checked_sub(hello.binders_encoded_len())
        .ok_or(Error::Internal("binders longer than the ClientHello"))?;
    let mut transcript = prefix.cloned().unwrap_or_else(|| Transcript::new(suite.hash));
    transcript.update(&bytes[..truncated]);
    let early = EarlyKeys::new(labels, suite, Some(ticket.psk.as_bytes()));
    // RFC 8446 7.1: "ext binder" for an external PSK, "res binder" for a ticket.
    let binder = early.binder(!ticket.external, &transcript.current_hash());
    for ext in hello.extensions.iter_mut() {
        if let ClientExtension::PreSharedKey(psk) = ext {
            psk.binders = vec![binder.clone()];
        }
    }
    Ok(())
}

/// An external PSK in the shape of a ticket: identity, key, the hash of our first SHA-256
/// TLS 1.3 suite (RFC 8446 4.2.11: SHA-256 when none is named), no early data.
fn external_psk_ticket(
    config: &ClientConfig,
    psk: &crate::config::ExternalPsk,
    transport: super::output::Transport,
) -> Option<ClientTicket> {
    let suite = config
        .shared
        .suites
        .iter()
        .filter_map(|s| tls13_suite(*s))
        .find(|s| s.hash == crate::crypto::HashAlg::Sha256)?;
    Some(ClientTicket {
        transport,
        suite: suite.suite,
        psk: psk.key().clone(),
        ticket: psk.identity().to_vec(),
        age_add: 0,
        lifetime: u32::MAX,
        // Received "in the future": the obfuscated age stays 0, also after HelloRetryRequest.
        received_ms: u64::MAX,
        max_early_data: 0,
        alpn: None,
        peer_chain: Vec::new(),
        external: true,
    })
}

/// The pre_shared_key extension for `ticket`, binder zeroed until [`fill_binder`].
fn psk_extension(ticket: &ClientTicket, now_ms: u64) -> Option<ClientExtension> {
    let suite = tls13_suite(ticket.suite)?;
    Some(ClientExtension::PreSharedKey(OfferedPsks {
        identities: vec![PskIdentity {
            identity: ticket.ticket.clone(),
            obfuscated_ticket_age: ticket.obfuscated_age(now_ms),
        }],
        binders: vec![vec![0u8; suite.hash.output_len()]],
    }))
}

/// The server refused 0-RTT (or never could take it): tell the application, close the writer.
fn early_data_rejected(cx: &mut dyn Output, s: &mut Session, why: EarlyDataReason) {
    if s.early_offered {
        cx.negotiated().early_data_decided(why);
        s.early_offered = false;
        cx.early_data().send_budget = None;
        cx.negotiated().early_data = Some(false);
        cx.emit(Event::EarlyDataRejected);
        cx.discard_early_keys();
    }
}

/// Starts a client handshake: queues the first ClientHello.
pub(crate) fn start(
    config: Arc<ClientConfig>,
    name: Option<ServerName>,
    cx: &mut dyn Output,
) -> Result<Handshake, Error> {
    let rng = config.shared.rng.clone();
    let mut random = [0u8; 32];
    rng.fill(&mut random)?;
    // Versions the config enables and has suites for (TLS 1.2: `client12`).
    // QUIC: TLS 1.3 only (RFC 9001 4.2) and no compatibility mode (RFC 9001 8.4).
    // DTLS 1.3: no compatibility mode either (RFC 9147 5) and no 0-RTT (not implemented).
    let quic = cx.transport().is_quic();
    let dtls = cx.transport().is_dtls();
    let (tls13, tls12) = (config.shared.tls13(), config.shared.tls12() && !quic);
    let compat = config.middlebox_compat && !quic && !dtls;
    let mut session_id = Vec::new();
    if compat && tls13 {
        session_id = vec![0u8; 32];
        rng.fill(&mut session_id)?;
    }
    let mut shares = OurShares::default();
    if tls13 {
        // DTLS: no hybrid share in the first ClientHello. At 1,216 bytes and more it would
        // not fit one datagram, and a stateless acceptor can only answer a hello it reads
        // whole (it must hash it into the cookie, RFC 8446 4.4.1). The cookie retry that
        // follows asks for the hybrid when the server prefers it, at no extra round trip;
        // the second hello, cookie first, may then be fragmented.
        let first_flight: Vec<NamedGroup> = config
            .shared
            .groups
            .iter()
            .copied()
            .filter(|g| !(dtls && kx::is_hybrid(*g)))
            .collect();
        shares = OurShares::start(
            &share_groups(&first_flight, config.key_share_groups),
            rng.as_ref(),
        )?;
    }
    cx.negotiated().client_random = random;

    let mut extensions = Vec::new();
    if config.enable_sni {
        if let Some(ServerName::Dns(dns)) = &name {
            extensions.push(ClientExtension::ServerName(dns.as_bytes().to_vec()));
        }
    }
    if tls13 {
        let mut versions = vec![cx.transport().v13()];
        if tls12 {
            versions.push(cx.transport().v12());
        }
        extensions.push(ClientExtension::SupportedVersions(versions));
    }
    // The hybrids are TLS 1.3 only (draft-ietf-tls-ecdhe-mlkem 3): a TLS 1.2-only hello
    // leaves them out.
    let groups = config
        .shared
        .groups
        .iter()
        .filter(|g| tls13 || !kx::is_hybrid(**g));
    extensions.push(ClientExtension::SupportedGroups(groups.copied().collect()));
    extensions.push(ClientExtension::SignatureAlgorithms(
        config.shared.sig_schemes.clone(),
    ));
    // RFC 8449: advertised only when configured (the value's meaning follows the version the
    // server picks, so we send the configured one as is).
    if let Some(limit) = config.shared.record_size_limit {
        extensions.push(ClientExtension::RecordSizeLimit(limit));
    }
    if tls13 {
        extensions.push(ClientExtension::KeyShare(shares.entries()));
        // RFC 8446 4.2.9: the modes in which we would resume. Without a session store we never
        // resume, so we offer none, and the server need not issue tickets we would throw away.
        if config.session_store.is_some() || config.psk.is_some() {
            let mut modes = vec![PskKeyExchangeMode::PskDheKe];
            if config.allow_psk_ke {
                modes.push(PskKeyExchangeMode::PskKe);
            }
            extensions.push(ClientExtension::PskKeyExchangeModes(modes));
        }
    }
    if tls12 {
        super::client12::extend_hello(&config, &name, cx.transport(), &mut extensions, &mut session_id)?;
    }
    if !config.shared.alpn.is_empty() {
        extensions.push(ClientExtension::Alpn(config.shared.alpn.clone()));
    }
    if let Some(offer) = super::srtp::offer(cx.transport(), &config.shared.srtp) {
        extensions.push(ClientExtension::UseSrtp(offer));
    }
    // QUIC (RFC 9001 8.2): our transport parameters.
    if let Some(params) = cx.local_transport_parameters() {
        extensions.push(ClientExtension::QuicTransportParameters(params));
    }
    // DTLS (RFC 9146 3, RFC 9147 9): the connection id we want to receive.
    if let Some(cid) = super::connection_id::offer(cx) {
        extensions.push(cid);
    }
    // RFC 8446 4.6.1: a ticket of this server name whose suite we still offer.
    let now_ms = config.shared.time.now_millis();
    let ticket = match (&config.session_store, &name) {
        (Some(store), Some(n)) if tls13 => store
            .take(&store_key(n), cx.transport(), now_ms)
            .filter(|t| config.shared.suites.contains(&t.suite))
            .map(Box::new),
        _ => None,
    };
    // RFC 8446 4.2.11: with no ticket, the external PSK (with SHA-256, our first suite of
    // that hash), its obfuscated_ticket_age 0.
    let ticket = match (ticket, &config.psk) {
        (None, Some(psk)) if tls13 => external_psk_ticket(&config, psk, cx.transport()).map(Box::new),
        (t, _) => t,
    };
    // RFC 8446 4.2.10: 0-RTT only if the ticket allows it and its ALPN is one we offer.
    let early_offered = ticket.as_ref().is_some_and(|t| {
        config.enable_early_data
            && !dtls
            && t.max_early_data > 0
            && t.alpn.as_ref().is_none_or(|p| config.shared.alpn.contains(p))
    });
    if !early_offered {
        let why = match &ticket {
            _ if !config.enable_early_data || dtls => EarlyDataReason::Disabled,
            _ if !tls13 => EarlyDataReason::ProtocolVersion,
            None => EarlyDataReason::NoSessionOffered,
            Some(t) if t.max_early_data == 0 => EarlyDataReason::UnsupportedForSession,
            Some(_) => EarlyDataReason::AlpnMismatch,
        };
        cx.negotiated().early_data_decided(why);
    }
    // With 0-RTT the early data goes out with the ClientHello: a chain we no longer trust
    // must be refused before, not once the server answers.
    let chain_reverified = early_offered && config.reverify_on_resume;
    if let Some(t) = ticket.as_ref().filter(|_| chain_reverified) {
        super::reverify_server_chain(&config, name.as_ref(), &t.peer_chain)?;
    }
    if early_offered {
        extensions.push(ClientExtension::EarlyData);
    }
    let mut hello = ClientHello {
        legacy_version: cx.transport().v12(),
        random,
        session_id,
        // RFC 6347 4.2.1 / RFC 9147 5.3: DTLS hellos carry the (legacy) cookie field.
        cookie: dtls.then(Vec::new),
        cipher_suites: config
            .shared
            .suites
            .iter()
            .copied()
            .filter(|s| if tls13_suite(*s).is_some() { tls13 } else { tls12 })
            // RFC 9001 5.3: QUIC never negotiates TLS_AES_128_CCM_8_SHA256.
            .filter(|s| !(cx.transport().is_quic() && *s == CipherSuite::TLS_AES_128_CCM_8_SHA256))
            // The TLS 1.2 PSK suites only with a PSK to use.
            .filter(|s| config.psk.is_some() || !tls12_suite(*s).is_some_and(|t| t.auth.is_psk()))
            .collect(),
        compression_methods: vec![0],
        extensions,
    };
    if let Some(hook) = &config.hello_hook {
        hook(&mut hello);
    }
    // RFC 8446 4.2.11: pre_shared_key goes last, after any reshaping.
    if let Some(ext) = ticket.as_ref().and_then(|t| psk_extension(t, now_ms)) {
        hello.extensions.push(ext);
    }
    if let Some(t) = &ticket {
        fill_binder(&mut hello, t, None, cx.transport().label_prefix())?;
    }
    let hello_bytes = cx.send_handshake(&HandshakePayload::ClientHello(hello.clone()), None);
    let mut sent_ccs = false;
    match ticket.as_ref().filter(|_| early_offered) {
        Some(t) => {
            // RFC 8446 4.2.10: 0-RTT under client_early_traffic_secret, right after CH1;
            // the compatibility CCS goes first (D.4).
            let suite = tls13_suite(t.suite).ok_or(Error::Internal("ticket suite unknown"))?;
            let keys = EarlyKeys::new(cx.transport().label_prefix(), suite, Some(t.psk.as_bytes()));
            let early = keys.early_traffic(cx, &suite.hash.hash(&hello_bytes));
            // RFC 8446 5.1: only the initial ClientHello may use legacy_record_version 0x0301.
            cx.end_initial_record_version();
            if compat {
                cx.send_ccs();
                sent_ccs = true;
            }
            early.install(cx, Side::Client);
            cx.early_data().send_budget = Some(t.max_early_data as usize);
        }
        // RFC 8446 5.1: only the initial ClientHello may use legacy_record_version 0x0301.
        None => cx.end_initial_record_version(),
    }
    Ok(Handshake::Client(ClientState::ServerHello(ExpectServerHello {
        s: Session {
            config,
            name,
            ticket,
            early_offered,
            chain_reverified,
        },
        hello,
        hello_bytes,
        shares,
        hrr: None,
        sent_ccs,
    })))
}

/// Where a key share's key lives.
#[derive(Clone, Copy)]
enum ShareKey {
    /// Its own key exchange, `kx[i]`.
    Own(usize),
    /// The ECDH part of the hybrid `kx[i]` (a classical group on the same curve).
    EcdhOf(usize),
}

/// The key shares of our ClientHello, in the order sent. A classical group whose curve is
/// the ECDH part of a hybrid sent before it (x25519 after X25519MLKEM768, as the default
/// list has them) reuses that hybrid's ECDH key rather than drawing its own:
/// draft-ietf-tls-hybrid-design 3.2 allows one key_exchange value in several KeyShareEntry
/// records of a ClientHello, and it saves a key generation on every default handshake.
#[derive(Default)]
struct OurShares {
    kx: Vec<KeyExchange>,
    sent: Vec<(NamedGroup, ShareKey)>,
}

impl OurShares {
    /// Shares for `groups`, in that order, keys drawn from `rng` in that order.
    fn start(groups: &[NamedGroup], rng: &dyn crate::crypto::RandomSource) -> Result<Self, Error> {
        let mut out = OurShares::default();
        for &group in groups {
            let reuse = out
                .kx
                .iter()
                .position(|k| k.classical_part().is_some_and(|(g, _)| g == group));
            let key = match reuse {
                Some(i) => ShareKey::EcdhOf(i),
                None => {
                    out.kx.push(KeyExchange::start(group, rng)?);
                    ShareKey::Own(out.kx.len() - 1)
                }
            };
            out.sent.push((group, key));
        }
        Ok(out)
    }

    /// The one share a HelloRetryRequest asked for.
    fn single(kx: KeyExchange) -> Self {
        OurShares {
            sent: vec![(kx.group(), ShareKey::Own(0))],
            kx: vec![kx],
        }
    }

    fn contains(&self, group: NamedGroup) -> bool {
        self.sent.iter().any(|(g, _)| *g == group)
    }

    fn entries(&self) -> Vec<KeyShareEntry> {
        self.sent
            .iter()
            .filter_map(|&(group, key)| {
                let payload = match key {
                    ShareKey::Own(i) => self.kx.get(i)?.public_key(),
                    ShareKey::EcdhOf(i) => self.kx.get(i)?.classical_part()?.1,
                };
                Some(KeyShareEntry {
                    group,
                    payload: payload.to_vec(),
                })
            })
            .collect()
    }

    /// The shared secret with the server's share for `group`; `None` if we sent no share
    /// for it.
    fn complete(self, group: NamedGroup, peer: &[u8]) -> Option<Result<Secret, Error>> {
        let &(_, key) = self.sent.iter().find(|(g, _)| *g == group)?;
        let (i, classical) = match key {
            ShareKey::Own(i) => (i, false),
            ShareKey::EcdhOf(i) => (i, true),
        };
        let kx = self.kx.into_iter().nth(i)?;
        Some(match classical {
            true => kx.complete_classical(peer),
            false => kx.complete(peer),
        })
    }
}

/// After a HelloRetryRequest: the suite it chose and the transcript so far.
struct RetryState {
    suite: CipherSuite,
    transcript: Transcript,
}

pub(crate) struct ExpectServerHello {
    s: Session,
    /// The ClientHello we sent last (the second one after HRR).
    hello: ClientHello,
    hello_bytes: Vec<u8>,
    shares: OurShares,
    hrr: Option<RetryState>,
    sent_ccs: bool,
}

impl ExpectServerHello {
    fn handle(self, cx: &mut dyn Output, msg: Msg) -> Result<Handshake, Error> {
        match msg.payload {
            HandshakePayload::HelloRetryRequest(ref hrr) => {
                super::check_legacy_version(hrr.legacy_version)?;
                let hrr = hrr.clone();
                self.handle_retry(cx, &msg, hrr)
            }
            HandshakePayload::ServerHello(ref sh) => {
                super::check_legacy_version(sh.legacy_version)?;
                let sh = sh.clone();
                self.handle_server_hello(cx, &msg, sh)
            }
            _ => Err(unexpected("expect ServerHello", &msg)),
        }
    }

    /// DTLS: a DTLS 1.2 server's HelloVerifyRequest (RFC 6347 4.2.1): the same hello again
    /// with its cookie (and a binder over it). One per handshake, before any ServerHello.
    pub(crate) fn dtls_hello_verify(
        mut self,
        cx: &mut dyn Output,
        cookie: Vec<u8>,
    ) -> Result<Handshake, Error> {
        if self.hrr.is_some() || self.hello.cookie.as_ref().is_none_or(|c| !c.is_empty()) {
            return Err(Error::UnexpectedMessage {
                state: "expect ServerHello",
                got: "HelloVerifyRequest",
            });
        }
        if cookie.is_empty() {
            return Err(PeerMisbehaved::IllegalParameter(Parameter::EmptyHelloVerifyCookie).into());
        }
        self.hello.cookie = Some(cookie);
        if let Some(t) = &self.s.ticket {
            fill_binder(&mut self.hello, t, None, cx.transport().label_prefix())?;
        }
        self.hello_bytes = cx.send_handshake(&HandshakePayload::ClientHello(self.hello.clone()), None);
        Ok(Handshake::Client(ClientState::ServerHello(self)))
    }

    fn check_suite(&self, suite: CipherSuite) -> Result<&'static Tls13Suite, Error> {
        if !self.hello.cipher_suites.contains(&suite) {
            return Err(PeerMisbehaved::SuiteNotOffered.into());
        }
        tls13_suite(suite).ok_or(Error::PeerMisbehaved(PeerMisbehaved::SuiteNotOffered))
    }

    /// RFC 8446 4.1.4: answer a HelloRetryRequest with a second ClientHello.
    fn handle_retry(
        mut self,
        cx: &mut dyn Output,
        msg: &Msg,
        hrr: HelloRetryRequest,
    ) -> Result<Handshake, Error> {
        if self.hrr.is_some() {
            // RFC 8446 4.1.4: a second HelloRetryRequest is unexpected_message.
            return Err(PeerMisbehaved::SecondHelloRetryRequest.into());
        }
        if hrr.supported_version() != Some(cx.transport().v13()) {
            return Err(PeerMisbehaved::IllegalParameter(Parameter::RetryVersion).into());
        }
        if hrr.session_id != session_id_echo(cx.transport().v13(), &self.hello.session_id) {
            return Err(PeerMisbehaved::SessionIdMismatch.into());
        }
        // RFC 8446 4.2: an extension we did not ask for is unsupported_extension, before
        // anything is concluded from the ones we know.
        for ext in &hrr.extensions {
            if let HelloRetryExtension::Unknown { .. } = ext {
                return Err(PeerMisbehaved::UnsolicitedExtension.into());
            }
        }
        let suite = self.check_suite(hrr.cipher_suite)?;
        let cookie = hrr.cookie().map(|c| c.to_vec());
        let group = hrr.selected_group();
        if let Some(group) = group {
            // RFC 8446 4.2.8: the group must be one we offered, and not one we sent a share for.
            if !self.s.config.shared.groups.contains(&group) || self.shares.contains(group) {
                return Err(PeerMisbehaved::IllegalParameter(Parameter::RetryGroup).into());
            }
        }
        if group.is_none() && cookie.is_none() {
            return Err(PeerMisbehaved::HelloRetryRequestChangedNothing.into());
        }
        cx.negotiated().hrr = true;
        // RFC 8446 4.2.10: HelloRetryRequest refuses 0-RTT; CH2 goes in plaintext again.
        if self.s.early_offered {
            early_data_rejected(cx, &mut self.s, EarlyDataReason::HelloRetryRequest);
            cx.end_initial_record_version();
        }
        // RFC 8446 4.1.4: keep the PSK only if its hash matches the suite HRR chose.
        if self
            .s
            .ticket
            .as_ref()
            .is_some_and(|t| tls13_suite(t.suite).is_none_or(|ts| ts.hash != suite.hash))
        {
            self.s.ticket = None;
        }

        let mut transcript = Transcript::new(suite.hash);
        transcript.update(&self.hello_bytes);
        transcript.replace_with_message_hash();
        transcript.update(&msg.raw);

        if let Some(group) = group {
            self.shares = OurShares::single(KeyExchange::start(group, self.s.config.shared.rng.as_ref())?);
        }
        // RFC 8446 4.1.2: the same ClientHello with key_share replaced and the cookie added.
        let mut hello = self.hello.clone();
        let shares = self.shares.entries();
        let mut extensions = Vec::with_capacity(hello.extensions.len() + 1);
        for ext in hello.extensions.drain(..) {
            match ext {
                ClientExtension::KeyShare(_) => extensions.push(ClientExtension::KeyShare(shares.clone())),
                ClientExtension::EarlyData
                | ClientExtension::Cookie(_)
                | ClientExtension::PreSharedKey(_) => {}
                other => extensions.push(other),
            }
        }
        if let Some(cookie) = cookie {
            if cx.transport().is_dtls() {
                // DTLS: first, so that the first fragment of a second hello too large for
                // one datagram carries it to a stateless server (`dtls::acceptor`).
                extensions.insert(0, ClientExtension::Cookie(cookie));
            } else {
                extensions.push(ClientExtension::Cookie(cookie));
            }
        }
        // RFC 8446 4.1.2: an updated age and binder for the PSK (still the last extension).
        let now_ms = self.s.config.shared.time.now_millis();
        if let Some(ext) = self.s.ticket.as_ref().and_then(|t| psk_extension(t, now_ms)) {
            extensions.push(ext);
        }
        hello.extensions = extensions;
        if let Some(t) = &self.s.ticket {
            fill_binder(&mut hello, t, Some(&transcript), cx.transport().label_prefix())?;
        }

        // RFC 8446 D.4: the compatibility CCS goes before the second ClientHello.
        if self.s.config.middlebox_compat && !self.sent_ccs && cx.transport().has_compat_ccs() {
            cx.send_ccs();
            self.sent_ccs = true;
        }
        let hello_bytes = cx.send_handshake(
            &HandshakePayload::ClientHello(hello.clone()),
            Some(&mut transcript),
        );
        Ok(Handshake::Client(ClientState::ServerHello(ExpectServerHello {
            s: self.s,
            hello,
            hello_bytes,
            shares: self.shares,
            hrr: Some(RetryState {
                suite: suite.suite,
                transcript,
            }),
            sent_ccs: self.sent_ccs,
        })))
    }

    fn handle_server_hello(
        mut self,
        cx: &mut dyn Output,
        msg: &Msg,
        sh: ServerHello,
    ) -> Result<Handshake, Error> {
        // No supported_versions: the server chose TLS 1.2 or older (`client12` decides).
        if sh.supported_version().is_none() && self.hrr.is_none() {
            // RFC 8446 D.3: a client that sent 0-RTT data MUST fail on a TLS 1.2 ServerHello.
            if self.s.early_offered {
                return Err(PeerMisbehaved::IllegalParameter(Parameter::Tls12AfterEarlyData).into());
            }
            let s = self.s;
            // DTLS: the hello went into our bytes in its TLS 1.3 transcript form; DTLS 1.2
            // hashes it with its DTLS header (RFC 6347 4.2.6). It was our last message.
            let hello_bytes = cx.last_sent_for_log12(self.hello_bytes);
            return super::client12::handle_server_hello(
                s.config,
                s.name,
                &self.hello,
                &hello_bytes,
                cx,
                msg,
                &sh,
            );
        }
        // RFC 8446 4.1.3: legacy_version 0x0303 and supported_versions selecting TLS 1.3.
        match sh.supported_version() {
            Some(v) if v == cx.transport().v13() => {}
            Some(_) => return Err(PeerMisbehaved::IllegalParameter(Parameter::SelectedVersion).into()),
            None => return Err(Error::NoCommonVersion),
        }
        if sh.legacy_version != cx.transport().v12() {
            return Err(PeerMisbehaved::WrongLegacyVersion.into());
        }
        // RFC 9147 5.3: a DTLS 1.3 server aborts on a non-empty legacy_cookie, so it cannot
        // have read the hello we sent with a HelloVerifyRequest's cookie.
        if self.hello.cookie.as_ref().is_some_and(|c| !c.is_empty()) {
            return Err(PeerMisbehaved::IllegalParameter(Parameter::Dtls13AfterHelloVerifyRequest).into());
        }
        // RFC 9147 5: a DTLS 1.3 server echoes none, even of a DTLS 1.2 session's id we offered.
        if sh.session_id != session_id_echo(cx.transport().v13(), &self.hello.session_id) {
            return Err(PeerMisbehaved::SessionIdMismatch.into());
        }
        if sh.compression_method != 0 {
            return Err(PeerMisbehaved::CompressionNotNull.into());
        }
        let suite = self.check_suite(sh.cipher_suite)?;
        if let Some(retry) = &self.hrr {
            // RFC 8446 4.1.4: the suite must match the one in HelloRetryRequest.
            if retry.suite != suite.suite {
                return Err(PeerMisbehaved::IllegalParameter(Parameter::SuiteDiffersFromRetry).into());
            }
        }
        for ext in &sh.extensions {
            match ext {
                ServerHelloExtension::KeyShare(_) | ServerHelloExtension::SupportedVersions(_) => {}
                ServerHelloExtension::PreSharedKey(_) if self.s.ticket.is_some() => {}
                ServerHelloExtension::ConnectionId(cid) => super::connection_id::client_accept(cx, cid)?,
                _ => return Err(PeerMisbehaved::UnsolicitedExtension.into()),
            }
        }
        super::connection_id::client_done(cx);
        // RFC 8446 4.2.11: the selected identity must be one we offered (we offer one), and
        // the suite must use the PSK's hash.
        let resumed = match sh.psk_index() {
            Some(0) => true,
            Some(_) => return Err(PeerMisbehaved::PskNotOffered.into()),
            None => false,
        };
        let ticket = match resumed {
            true => {
                let t = self.s.ticket.take().ok_or(PeerMisbehaved::PskNotOffered)?;
                if tls13_suite(t.suite).is_none_or(|ts| ts.hash != suite.hash) {
                    return Err(PeerMisbehaved::IllegalParameter(Parameter::PskSuiteHash).into());
                }
                Some(t)
            }
            false => None,
        };
        let shared = match sh.key_share() {
            Some(share) => {
                let shared = self
                    .shares
                    .complete(share.group, &share.payload)
                    .ok_or(PeerMisbehaved::KeyShareForUnofferedGroup)??;
                cx.negotiated().group = Some(share.group);
                shared
            }
            // RFC 8446 4.2.9: no key_share only with psk_ke, which we must have offered.
            None if resumed && self.s.config.allow_psk_ke => Secret::new(vec![0u8; suite.hash.output_len()]),
            None => return Err(PeerMisbehaved::MissingExtension("key_share").into()),
        };

        cx.negotiated().version = Some(cx.transport().v13());
        cx.negotiated().suite = Some(suite.suite);
        cx.negotiated().server_random = sh.random;
        if let Some(t) = ticket.as_ref().filter(|t| t.external) {
            // An external PSK authenticates the server: a full handshake without certificates.
            cx.negotiated().psk_identity = Some(t.ticket.clone());
        } else if let Some(t) = &ticket {
            cx.negotiated().resumed = true;
            cx.negotiated().peer_chain = t.peer_chain.iter().map(|c| c.clone().into()).collect();
        } else {
            early_data_rejected(cx, &mut self.s, EarlyDataReason::SessionNotResumed);
        }

        let mut transcript = match self.hrr {
            Some(retry) => retry.transcript,
            None => {
                let mut t = Transcript::new(suite.hash);
                t.update(&self.hello_bytes);
                t
            }
        };
        transcript.update(&msg.raw);
        let psk = ticket.as_ref().map(|t| t.psk.as_bytes());
        let keys = EarlyKeys::new(cx.transport().label_prefix(), suite, psk).into_handshake(
            cx,
            Side::Client,
            shared.as_bytes(),
            &transcript,
        );
        keys.traffic().install_read(cx);
        if self.s.config.middlebox_compat && !self.sent_ccs && cx.transport().has_compat_ccs() {
            cx.send_ccs();
        }
        // With 0-RTT still pending we keep the early keys until EndOfEarlyData.
        if !self.s.early_offered {
            keys.traffic().install_write(cx);
        }

        Ok(Handshake::Client(ClientState::EncryptedExtensions(
            ExpectEncryptedExtensions {
                k: Keys {
                    s: self.s,
                    suite,
                    keys,
                    transcript,
                    ticket,
                },
                offered_sni: self.hello.server_name().is_some(),
            },
        )))
    }
}

/// Handshake keys and transcript, carried from ServerHello to Finished.
struct Keys {
    s: Session,
    suite: &'static Tls13Suite,
    keys: HandshakeKeys,
    transcript: Transcript,
    /// The ticket the server accepted (resumption: no certificates follow).
    ticket: Option<Box<ClientTicket>>,
}

pub(crate) struct ExpectEncryptedExtensions {
    k: Keys,
    offered_sni: bool,
}

impl ExpectEncryptedExtensions {
    fn handle(mut self, cx: &mut dyn Output, msg: Msg) -> Result<Handshake, Error> {
        let HandshakePayload::EncryptedExtensions(exts) = &msg.payload else {
            return Err(unexpected("expect EncryptedExtensions", &msg));
        };
        let mut early_accepted = false;
        for ext in exts {
            match ext {
                EncryptedExtension::Alpn(proto) => {
                    // RFC 7301 3.2: the protocol must be one we offered.
                    if self.k.s.config.shared.alpn.is_empty() {
                        return Err(PeerMisbehaved::UnsolicitedExtension.into());
                    }
                    if !self.k.s.config.shared.alpn.contains(proto) {
                        return Err(PeerMisbehaved::AlpnNotOffered.into());
                    }
                    cx.negotiated().alpn = Some(proto.clone());
                }
                EncryptedExtension::ServerNameAck => {
                    if !self.offered_sni {
                        return Err(PeerMisbehaved::UnsolicitedExtension.into());
                    }
                }
                // RFC 8446 4.2.7: servers may tell their groups; clients must not act on it.
                EncryptedExtension::SupportedGroups(_) => {}
                EncryptedExtension::EarlyData if self.k.s.early_offered => {
                    early_accepted = true;
                }
                // RFC 9001 8.2: QUIC only; on TLS it is unsupported_extension.
                EncryptedExtension::QuicTransportParameters(p) => {
                    if !cx.take_peer_transport_parameters(p) {
                        return Err(PeerMisbehaved::UnsolicitedExtension.into());
                    }
                }
                EncryptedExtension::RecordSizeLimit(limit) => {
                    super::record_limit::client_accept(cx, &self.k.s.config.shared, *limit, true)?;
                }
                EncryptedExtension::UseSrtp(answer) => {
                    let srtp = &self.k.s.config.shared.srtp;
                    cx.negotiated().srtp = Some(super::srtp::accept(cx.transport(), srtp, answer, true)?);
                }
                EncryptedExtension::EarlyData | EncryptedExtension::Unknown { .. } => {
                    return Err(PeerMisbehaved::UnsolicitedExtension.into());
                }
            }
        }
        if cx.transport().is_quic() {
            // RFC 9001 8.2: the server's transport parameters are mandatory.
            if !cx.has_peer_transport_parameters() {
                return Err(PeerMisbehaved::MissingExtension("quic_transport_parameters").into());
            }
            // RFC 9001 8.1: no negotiated application protocol is no_application_protocol.
            if cx.negotiated().alpn.is_none() {
                return Err(Error::NoApplicationProtocol);
            }
        }
        if let Some(ServerName::Dns(name)) = &self.k.s.name {
            if self.offered_sni {
                cx.negotiated().sni = Some(name.clone());
            }
        }
        if early_accepted {
            // RFC 8446 4.2.10: accepted 0-RTT must keep the ticket's ALPN.
            let ticket_alpn = self.k.ticket.as_ref().and_then(|t| t.alpn.as_ref());
            if cx.negotiated().alpn.as_ref() != ticket_alpn {
                return Err(PeerMisbehaved::IllegalParameter(Parameter::EarlyDataAlpn).into());
            }
            // RFC 8446 4.2.10: and the ticket's cipher suite, which our 0-RTT was encrypted
            // under (a server may resume at another suite of the same hash, but not accept
            // the early data then).
            if self
                .k
                .ticket
                .as_ref()
                .is_some_and(|t| t.suite != self.k.suite.suite)
            {
                return Err(PeerMisbehaved::IllegalParameter(Parameter::EarlyDataSuite).into());
            }
            cx.negotiated().early_data = Some(true);
            cx.negotiated().early_data_decided(EarlyDataReason::Accepted);
        } else if self.k.s.early_offered {
            early_data_rejected(cx, &mut self.k.s, EarlyDataReason::PeerDeclined);
            self.k.keys.traffic().install_write(cx);
        }
        self.k.transcript.update(&msg.raw);
        if let Some(t) = &self.k.ticket {
            // Where a full handshake verifies the Certificate, so the refusal's alert goes
            // under the handshake keys the server reads with.
            let s = &self.k.s;
            if s.config.reverify_on_resume && !s.chain_reverified {
                super::reverify_server_chain(&s.config, s.name.as_ref(), &t.peer_chain)?;
            }
            // RFC 8446 4.4.2: PSK authentication, no Certificate or CertificateVerify.
            return Ok(Handshake::Client(ClientState::Finished(ExpectFinished {
                k: self.k,
                cert_request: None,
            })));
        }
        Ok(Handshake::Client(ClientState::Certificate(ExpectCertificate {
            k: self.k,
            cert_request: None,
        })))
    }
}

/// What the server's CertificateRequest asked for.
struct CertRequest {
    context: Vec<u8>,
    schemes: Vec<SignatureScheme>,
}

pub(crate) struct ExpectCertificate {
    k: Keys,
    /// The server's CertificateRequest, if it sent one.
    cert_request: Option<CertRequest>,
}

impl ExpectCertificate {
    fn handle(mut self, cx: &mut dyn Output, msg: Msg) -> Result<Handshake, Error> {
        match &msg.payload {
            HandshakePayload::CertificateRequest13(req) if self.cert_request.is_none() => {
                // RFC 8446 4.3.2: signature_algorithms is mandatory; context empty in-handshake.
                if !req
                    .extensions
                    .iter()
                    .any(|e| matches!(e, CertReqExtension::SignatureAlgorithms(_)))
                {
                    return Err(PeerMisbehaved::MissingExtension("signature_algorithms").into());
                }
                if !req.context.is_empty() {
                    return Err(
                        PeerMisbehaved::IllegalParameter(Parameter::CertificateRequestContext).into(),
                    );
                }
                self.k.transcript.update(&msg.raw);
                self.cert_request = Some(CertRequest {
                    context: req.context.clone(),
                    schemes: req.signature_algorithms().unwrap_or(&[]).to_vec(),
                });
                Ok(Handshake::Client(ClientState::Certificate(self)))
            }
            HandshakePayload::Certificate13(cert) => {
                if !cert.context.is_empty() {
                    return Err(
                        PeerMisbehaved::IllegalParameter(Parameter::CertificateRequestContext).into(),
                    );
                }
                super::check_chain_len(cert.entries.len())?;
                super::check_no_entry_extensions(&cert.entries)?;
                // RFC 8446 4.4.2.4: an empty server Certificate is a decode_error.
                let Some((end_entity, rest)) = cert.entries.split_first() else {
                    return Err(PeerMisbehaved::EmptyCertificate.into());
                };
                let intermediates: Vec<&[u8]> = rest.iter().map(|e| e.cert.as_slice()).collect();
                let now = self.k.s.config.shared.time.now_unix();
                let name = self
                    .k
                    .s
                    .name
                    .as_ref()
                    .ok_or(Error::Config("no server name to verify".into()))?;
                self.k
                    .s
                    .config
                    .verifier
                    .verify_server_cert(&end_entity.cert, &intermediates, name, now)?;
                cx.negotiated().peer_chain = cert.entries.iter().map(|e| e.cert.clone().into()).collect();
                self.k.transcript.update(&msg.raw);
                let spki = pki::end_entity_spki(&end_entity.cert)?;
                Ok(Handshake::Client(ClientState::CertificateVerify(
                    ExpectCertificateVerify {
                        k: self.k,
                        cert_request: self.cert_request,
                        spki,
                    },
                )))
            }
            _ => Err(unexpected("expect Certificate", &msg)),
        }
    }
}

pub(crate) struct ExpectCertificateVerify {
    k: Keys,
    cert_request: Option<CertRequest>,
    spki: Vec<u8>,
}

impl ExpectCertificateVerify {
    fn handle(mut self, cx: &mut dyn Output, msg: Msg) -> Result<Handshake, Error> {
        let HandshakePayload::CertificateVerify(cv) = &msg.payload else {
            return Err(unexpected("expect CertificateVerify", &msg));
        };
        // RFC 8446 4.4.3: the scheme must be one we offered in signature_algorithms.
        if !self.k.s.config.shared.sig_schemes.contains(&cv.scheme) {
            return Err(PeerMisbehaved::UnsupportedSignatureScheme.into());
        }
        let signed = tls13_signed_message(true, &self.k.transcript.current_hash());
        verify_signature(&self.spki, cv.scheme, &signed, &cv.signature, true)?;
        cx.negotiated().sig_scheme = Some(cv.scheme);
        self.k.transcript.update(&msg.raw);
        Ok(Handshake::Client(ClientState::Finished(ExpectFinished {
            k: self.k,
            cert_request: self.cert_request,
        })))
    }
}

pub(crate) struct ExpectFinished {
    k: Keys,
    cert_request: Option<CertRequest>,
}

impl ExpectFinished {
    fn handle(self, cx: &mut dyn Output, msg: Msg) -> Result<Handshake, Error> {
        let HandshakePayload::Finished(verify_data) = &msg.payload else {
            return Err(unexpected("expect Finished", &msg));
        };
        let Keys {
            s,
            suite,
            keys,
            mut transcript,
            ticket: _,
        } = self.k;
        keys.traffic()
            .check_their_finished(&transcript.current_hash(), verify_data)?;
        transcript.update(&msg.raw);
        let keys = keys.into_application(cx, &transcript);
        keys.install_read(cx);

        // RFC 9001 8.3: QUIC clients send no EndOfEarlyData.
        if s.early_offered && !cx.transport().is_quic() {
            // RFC 8446 4.5: EndOfEarlyData under the early keys, then the handshake keys.
            cx.send_handshake(&HandshakePayload::EndOfEarlyData, Some(&mut transcript));
            cx.early_data().send_budget = None;
            keys.handshake().install_write(cx);
        }
        if let Some(req) = self.cert_request {
            send_client_auth(cx, &s.config, req, &mut transcript)?;
        }
        let ours = keys.handshake().our_finished(&transcript.current_hash());
        cx.send_handshake(&HandshakePayload::Finished(ours), Some(&mut transcript));
        keys.install_write(cx);
        cx.open_application_data();
        cx.emit(Event::HandshakeComplete);
        // RFC 8446 7.1: resumption_master_secret over ClientHello..client Finished.
        let resumption = match (&s.config.session_store, &s.name) {
            (Some(store), Some(name)) => Some(ClientResumption {
                res_master: keys.resumption_master_secret(&transcript),
                store: store.clone(),
                name: store_key(name),
                time: s.config.shared.time.clone(),
            }),
            _ => None,
        };
        let (ours, theirs) = keys.into_traffic_secrets();
        Ok(Handshake::Established(Established13 {
            suite,
            side: Side::Client,
            ours,
            theirs,
            key_updates_in_a_row: 0,
            answered_at_write: None,
            tickets: 0,
            resumption,
        }))
    }
}

/// RFC 8446 4.4.2, 4.4.3: our Certificate and CertificateVerify, or an empty Certificate
/// when we have no certificate or no scheme the server accepts.
fn send_client_auth(
    cx: &mut dyn Output,
    config: &ClientConfig,
    req: CertRequest,
    transcript: &mut Transcript,
) -> Result<(), Error> {
    let chosen = config.client_cert.as_ref().and_then(|c| {
        // Our own signature keeps to our configured schemes too.
        let offered: Vec<_> = req
            .schemes
            .iter()
            .copied()
            .filter(|s| config.shared.signing_schemes().contains(s))
            .collect();
        c.key.choose_scheme(&offered, true).map(|scheme| (c, scheme))
    });
    let Some((cert, scheme)) = chosen else {
        let empty = HandshakePayload::Certificate13(Certificate13 {
            context: req.context,
            entries: Vec::new(),
        });
        cx.send_handshake(&empty, Some(transcript));
        return Ok(());
    };
    cx.negotiated().client_sig_scheme = Some(scheme);
    let entries = cert
        .chain
        .iter()
        .map(|c| CertificateEntry {
            cert: c.as_ref().to_vec(),
            extensions: Vec::new(),
        })
        .collect();
    cx.send_handshake(
        &HandshakePayload::Certificate13(Certificate13 {
            context: req.context,
            entries,
        }),
        Some(transcript),
    );
    cx.negotiated().own_cert = Some(cert.clone());
    let signed = tls13_signed_message(false, &transcript.current_hash());
    let signature = cert.key.sign_with(scheme, &signed, config.shared.rng.as_ref())?;
    cx.send_handshake(
        &HandshakePayload::CertificateVerify(CertificateVerify { scheme, signature }),
        Some(transcript),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::share_groups;
    use crate::codec::NamedGroup;

    const HYBRID: NamedGroup = NamedGroup::X25519MLKEM768;
    const P384_HYBRID: NamedGroup = NamedGroup::SecP384r1MLKEM1024;
    const X: NamedGroup = NamedGroup::x25519;
    const P256: NamedGroup = NamedGroup::secp256r1;

    #[test]
    fn by_default_the_first_hybrid_and_the_first_classical_get_shares() {
        assert_eq!(share_groups(&[HYBRID, X, P256], None), [HYBRID, X]);
        assert_eq!(share_groups(&[X, HYBRID], None), [X, HYBRID]);
        assert_eq!(share_groups(&[X, P256, HYBRID, P384_HYBRID], None), [X, HYBRID]);
        assert_eq!(share_groups(&[X, P256], None), [X]);
        assert_eq!(share_groups(&[HYBRID, P384_HYBRID], None), [HYBRID]);
        assert!(share_groups(&[], None).is_empty());
    }

    #[test]
    fn x25519_after_x25519mlkem768_reuses_its_key() {
        use super::OurShares;
        use crate::crypto::FixedRandom;
        // Draws: the ML-KEM seed and the X25519 key of the hybrid, then P-256's key; the x25519
        // share draws nothing.
        let rng = FixedRandom::new(vec![vec![1; 64], vec![2; 32], vec![3; 32], vec![4; 5]]);
        let shares = OurShares::start(&[HYBRID, X, P256], &rng).unwrap();
        assert_eq!(rng.remaining(), 5);
        let entries = shares.entries();
        let groups: Vec<_> = entries.iter().map(|e| e.group).collect();
        assert_eq!(groups, [HYBRID, X, P256]);
        assert_eq!(entries[0].payload.len(), 1216);
        assert_eq!(entries[1].payload, entries[0].payload[1184..]);
        assert!(shares.contains(X) && !shares.contains(P384_HYBRID));
        // A classical group before the hybrid keeps its own key.
        let rng = FixedRandom::new(vec![vec![2; 32], vec![1; 64], vec![5; 32]]);
        let shares = OurShares::start(&[X, HYBRID], &rng).unwrap();
        assert_eq!(rng.remaining(), 0);
        let entries = shares.entries();
        assert_ne!(entries[0].payload, entries[1].payload[1184..]);
    }

    #[test]
    fn a_count_takes_exactly_the_first_groups() {
        assert_eq!(share_groups(&[HYBRID, X, P256], Some(1)), [HYBRID]);
        assert_eq!(share_groups(&[X, P256, HYBRID], Some(2)), [X, P256]);
        assert_eq!(share_groups(&[X], Some(3)), [X]);
    }
}
