//! TLS 1.2 server (RFC 5246 7.3, RFC 8422, RFC 7627, RFC 5746, RFC 5077). `server13` hands
//! over a ClientHello that does not negotiate TLS 1.3 to [`handle_client_hello`].
//!
//! Full:        ClientHello → ServerHello, Certificate, ServerKeyExchange,
//!              [CertificateRequest], ServerHelloDone → [Certificate], ClientKeyExchange,
//!              [CertificateVerify], CCS, Finished → [NewSessionTicket], CCS, Finished.
//! Abbreviated: ClientHello → ServerHello, CCS, Finished → CCS, Finished.

use crate::error::{Failure, Parameter};
use std::sync::Arc;

use super::common12::{
    body12, check_finished, finished, master_secret, record_keys, scheme_fits_suite, ske_signed,
    unexpected12, Established12, HandshakeLog, DOWNGRADE_TLS12,
};
use super::output::{Output, Side, Transport};
use super::{Handshake, Msg};
use crate::codec::{CipherSuite, EcPointFormat, HandshakeType, NamedGroup, ProtocolVersion, SignatureScheme};
use crate::config::MAX_PSK_IDENTITY_LEN;
use crate::config::{CertifiedKey, ServerConfig};
use crate::crypto::aead::RecordKey;
use crate::crypto::kx::{self, KeyExchange};
use crate::crypto::prf::psk_premaster;
use crate::crypto::secret::Secret;
use crate::crypto::sign::verify_signature;
use crate::crypto::suites::{tls12_suite, SuiteAuth, Tls12Suite};
use crate::error::{Error, PeerMisbehaved};
use crate::event::Event;
use crate::msgs::*;
use crate::pki;
use crate::session::ticket12::{get_session, put_session, Session12, SESSION_LIFETIME};

/// RFC 5246 7.4.4: certificate_types we ask for (rsa_sign, ecdsa_sign).
const CERT_TYPES: &[u8] = &[1, 64];

struct Ctx {
    config: Arc<ServerConfig>,
    suite: &'static Tls12Suite,
    log: HandshakeLog,
    client_random: [u8; 32],
    server_random: [u8; 32],
    session_id: Vec<u8>,
    ems: bool,
    /// We acknowledged session_ticket: a NewSessionTicket goes before our CCS.
    send_ticket: bool,
}

pub(crate) enum Server12 {
    Certificate(ExpectCertificate),
    ClientKeyExchange(ExpectClientKeyExchange),
    CertificateVerify(ExpectCertificateVerify),
    Ccs(ExpectCcs),
    Finished(ExpectFinished),
    PskClientKeyExchange(ExpectPskClientKeyExchange),
}

impl Server12 {
    /// The one message type each state takes; otherwise the state's name.
    pub fn expects(&self, typ: HandshakeType) -> Result<(), &'static str> {
        let (want, state) = match self {
            Server12::Certificate(_) => (HandshakeType::Certificate, "expect client Certificate"),
            Server12::ClientKeyExchange(_) => (HandshakeType::ClientKeyExchange, "expect ClientKeyExchange"),
            Server12::CertificateVerify(_) => (HandshakeType::CertificateVerify, "expect CertificateVerify"),
            Server12::Ccs(_) => return Err("expect ChangeCipherSpec"),
            Server12::Finished(_) => (HandshakeType::Finished, "expect Finished"),
            Server12::PskClientKeyExchange(_) => {
                (HandshakeType::ClientKeyExchange, "expect ClientKeyExchange")
            }
        };
        if typ == want {
            Ok(())
        } else {
            Err(state)
        }
    }

    pub fn handle(self, cx: &mut dyn Output, msg: Msg) -> Result<Handshake, Error> {
        match self {
            Server12::Certificate(s) => s.handle(cx, msg),
            Server12::ClientKeyExchange(s) => s.handle(cx, msg),
            Server12::CertificateVerify(s) => s.handle(cx, msg),
            Server12::Ccs(_) => Err(unexpected12("expect ChangeCipherSpec", &msg)),
            Server12::Finished(s) => s.handle(cx, msg),
            Server12::PskClientKeyExchange(s) => s.handle(cx, msg),
        }
    }

    /// RFC 5246 7.1: the client's ChangeCipherSpec makes the pending read state current.
    pub fn handle_ccs(self, cx: &mut dyn Output) -> Result<Handshake, Error> {
        match self {
            Server12::Ccs(s) => {
                cx.activate_pending_read12()?;
                Ok(Handshake::Server12(Server12::Finished(ExpectFinished {
                    c: s.c,
                    master: s.master,
                    full_write: s.full_write,
                })))
            }
            _ => Err(PeerMisbehaved::IllegalChangeCipherSpec.into()),
        }
    }
}

/// True if `suite` can be served with one of our certificates' keys.
fn suite_fits_key(suite: &Tls12Suite, config: &ServerConfig) -> bool {
    config.certs.iter().any(|c| {
        c.key
            .tls12_schemes()
            .iter()
            .any(|s| scheme_fits_suite(*s, suite.auth))
    })
}

/// The PSK suite to answer with: the first of ours the client offers, when a lookup is
/// configured and no certificate suite comes before it in our order. `None`: the
/// certificate path decides.
fn choose_psk_suite(config: &ServerConfig, hello: &ClientHello) -> Option<&'static Tls12Suite> {
    config.psk_lookup.as_ref()?;
    let suite = config
        .shared
        .suites
        .iter()
        .filter_map(|s| tls12_suite(*s))
        .filter(|s| hello.cipher_suites.contains(&s.suite))
        .find(|s| s.auth.is_psk() || suite_fits_key(s, config))?;
    suite.auth.is_psk().then_some(suite)
}

/// Our first (classical) group the client lists. The hybrids are TLS 1.3 only.
///
/// Without supported_groups RFC 8422 4 leaves the server "free to choose any one of the
/// elliptic curves"; we refuse ECDHE then, as BoringSSL and rustls do: a client offering
/// ECDHE "SHOULD" send the list, and one that does not cannot tell us which curve it has.
fn choose_group12(config: &ServerConfig, hello: &ClientHello) -> Result<NamedGroup, Error> {
    let groups = hello
        .supported_groups()
        .ok_or(Error::HandshakeFailure(Failure::NoCommonGroup))?;
    config
        .shared
        .groups
        .iter()
        .find(|g| !kx::is_hybrid(**g) && groups.contains(g))
        .copied()
        .ok_or(Error::HandshakeFailure(Failure::NoCommonGroup))
}

/// Our preferred suite the client offers, with the certificate (by SNI first, as
/// [`ServerConfig::select_cert`]) and scheme that sign for it. When the certificate the SNI
/// name selects cannot serve any offered suite, any certificate may.
fn choose_suite_and_cert(
    config: &ServerConfig,
    hello: &ClientHello,
    sni: Option<&str>,
) -> Result<(&'static Tls12Suite, Arc<CertifiedKey>, SignatureScheme), Error> {
    let offered = || {
        config
            .shared
            .suites
            .iter()
            .filter_map(|s| tls12_suite(*s))
            .filter(|s| hello.cipher_suites.contains(&s.suite))
    };
    if !offered().any(|s| suite_fits_key(s, config)) {
        return Err(Error::HandshakeFailure(Failure::NoCommonSuite));
    }
    // RFC 5246 7.4.1.4.1: without signature_algorithms the client means SHA-1, which we
    // do not sign with.
    let offered_schemes = hello
        .signature_algorithms()
        .ok_or(Error::HandshakeFailure(Failure::NoSignatureAlgorithms))?;
    let mut fallback = None;
    for suite in offered() {
        let schemes: Vec<SignatureScheme> = offered_schemes
            .iter()
            .copied()
            .filter(|s| scheme_fits_suite(*s, suite.auth))
            .collect();
        // RFC 8422 5.1: an ECDSA certificate only on a curve the client lists.
        if let Some((cert, scheme, by_name)) =
            config.select_cert(sni, &schemes, false, hello.supported_groups())
        {
            if by_name || sni.is_none() || config.certs.len() == 1 {
                return Ok((suite, cert, scheme));
            }
            fallback.get_or_insert((suite, cert, scheme));
        }
    }
    fallback.ok_or(Error::HandshakeFailure(Failure::NoCommonSignatureScheme))
}

/// The session the ClientHello offers, if we can resume it: a ticket we sealed (RFC 5077
/// 3.1) or a cached session ID (RFC 5246 7.4.1.2), made on `transport` (a session of another
/// transport is not resumed: full handshake). Returns the session and how it was found.
fn find_session(
    config: &ServerConfig,
    hello: &ClientHello,
    now: u64,
    transport: Transport,
) -> Option<(Session12, bool)> {
    if let (Some(sealer), Some(ticket)) = (&config.ticketer12, hello.session_ticket()) {
        if !ticket.is_empty() {
            if let Some(s) = sealer.open(ticket).and_then(|p| Session12::decode(&p)) {
                return Some((s, true)).filter(|(s, _)| s.fresh(now) && s.transport == transport);
            }
        }
    }
    if hello.session_id.is_empty() {
        return None;
    }
    let cache = config.session_cache12.as_ref()?;
    get_session(cache.as_ref(), &hello.session_id)
        .filter(|s| s.fresh(now) && s.transport == transport)
        .map(|s| (s, false))
}

/// Answers a ClientHello that negotiates TLS 1.2.
pub(crate) fn handle_client_hello(
    config: Arc<ServerConfig>,
    cx: &mut dyn Output,
    msg: &Msg,
    hello: &ClientHello,
) -> Result<Handshake, Error> {
    let cfg = &config.shared;
    // RFC 9001 8.2: quic_transport_parameters outside QUIC is unsupported_extension, also on
    // a server that starts here (a DTLS 1.2-only one; TLS servers check it in `server13`).
    if hello.quic_transport_parameters().is_some() {
        return Err(PeerMisbehaved::UnsolicitedExtension.into());
    }
    // RFC 5246 E.1: the client's highest version is legacy_version (or listed in
    // supported_versions); TLS 1.2 must be within it.
    let dtls = cx.transport().is_dtls();
    // RFC 8446 4.2.1: with supported_versions, only that list counts (a DTLS 1.3-only hello
    // carries legacy_version 0xFEFD too, RFC 9147 5.3).
    let offers12 = match hello.supported_versions() {
        Some(v) if !dtls => v.contains(&ProtocolVersion::TLSv1_2),
        Some(v) => v.contains(&ProtocolVersion::DTLSv1_2),
        // RFC 6347 4.1: DTLS versions count down; 0xFEFD (1.2) or below means 1.2 or newer,
        // also a version we do not know yet (0xFE00, or a new major 0xFDFF): we answer 1.2.
        None if dtls => u16::from(hello.legacy_version) <= 0xfefd,
        None => u16::from(hello.legacy_version) >= 0x0303 && !hello.legacy_version.is_dtls(),
    };
    // RFC 7507 3: a client that retries with a lower version after a failed attempt says so
    // with TLS_FALLBACK_SCSV; when we speak a higher version than it offered (1.3, or 1.2 to
    // a hello for 1.1 or below), something in the path made the first attempt fail: refuse
    // the downgrade. The RFC also allows protocol_version for a version we do not support at
    // all; inappropriate_fallback says more, and is what BoringSSL sends.
    let higher_than_offered = cfg.tls13() || (cfg.tls12() && !offers12);
    if higher_than_offered && hello.cipher_suites.contains(&CipherSuite::TLS_FALLBACK_SCSV) {
        return Err(PeerMisbehaved::InappropriateFallback.into());
    }
    if !offers12 || !cfg.tls12() {
        return Err(Error::NoCommonVersion);
    }
    // RFC 5246 7.4.1.2: the list must include null compression.
    if !hello.compression_methods.contains(&0) {
        return Err(PeerMisbehaved::CompressionNotNull.into());
    }
    // RFC 5746 3.6: in an initial handshake renegotiated_connection must be empty.
    let reneg_ext = hello.renegotiation_info();
    if reneg_ext.is_some_and(|v| !v.is_empty()) {
        return Err(Error::HandshakeFailure(Failure::RenegotiationInfo));
    }
    let secure_reneg = reneg_ext.is_some()
        || hello
            .cipher_suites
            .contains(&CipherSuite::TLS_EMPTY_RENEGOTIATION_INFO_SCSV);
    // RFC 8422 5.1.2: if the client lists point formats, uncompressed must be among them.
    if hello
        .ec_point_formats()
        .is_some_and(|f| !f.contains(&EcPointFormat::Uncompressed))
    {
        return Err(PeerMisbehaved::IllegalParameter(Parameter::EcPointFormatsWithoutUncompressed).into());
    }
    let ems = hello.has(crate::codec::ExtensionType::ExtendedMasterSecret);
    // RFC 7627 5.3: a server that requires EMS aborts with handshake_failure.
    if !ems && cfg.require_ems {
        return Err(Error::HandshakeFailure(Failure::ExtendedMasterSecretRequired));
    }
    let alpn = super::server13::choose_alpn(&cfg.alpn, hello.alpn())?;
    let sni = hello
        .server_name()
        .and_then(|n| std::str::from_utf8(n).ok())
        .map(str::to_ascii_lowercase);

    let rng = cfg.rng.clone();
    let mut server_random = [0u8; 32];
    rng.fill(&mut server_random)?;
    // RFC 8446 4.1.3: a TLS 1.3 server negotiating TLS 1.2 marks its random; a DTLS 1.3
    // server negotiating DTLS 1.2 too (RFC 9147 5 keeps the rule).
    if cfg.tls13() {
        server_random[24..].copy_from_slice(&DOWNGRADE_TLS12);
    }
    cx.negotiated().version = Some(match dtls {
        true => ProtocolVersion::DTLSv1_2,
        false => ProtocolVersion::TLSv1_2,
    });
    cx.negotiated().client_random = hello.random;
    cx.negotiated().server_random = server_random;
    cx.negotiated().alpn = alpn.clone();
    cx.negotiated().sni = sni;
    cx.negotiated().ems = ems;
    // RFC 5764 4.1.1; keys come from the exporter, which needs the extended master secret.
    cx.negotiated().srtp = super::srtp::select(cx.transport(), &cfg.srtp, hello.use_srtp(), ems)
        .and_then(|a| a.profiles.first().map(|p| (*p, a.mki)));

    let mut log = HandshakeLog::default();
    log.add(&msg.raw)?;
    let now = cfg.time.now_unix();
    // RFC 7627 5.3, 5.4: a session without the extended master secret is never resumed, so
    // none is issued (no ticket, no session ID).
    let tickets_offered = ems && hello.session_ticket().is_some() && config.ticketer12.is_some();
    // The handshake's state, however it goes on (resumed, PSK or certificate).
    let ctx_config = config.clone();
    let client_random = hello.random;
    let new_ctx = move |suite, session_id, send_ticket| Ctx {
        config: ctx_config,
        suite,
        log,
        client_random,
        server_random,
        session_id,
        ems,
        send_ticket,
    };

    // Resumption: same suite still offered and enabled; RFC 7627 5.3: only an EMS session,
    // and only when the client offers EMS again (else a full handshake).
    if let Some((session, by_ticket)) = find_session(&config, hello, now, cx.transport()).filter(|(s, _)| {
        s.ems && ems && hello.cipher_suites.contains(&s.suite) && cfg.suites.contains(&s.suite)
    }) {
        if let Some(suite) = tls12_suite(session.suite) {
            cx.negotiated().suite = Some(suite.suite);
            cx.negotiated().resumed = true;
            cx.negotiated().group = session.group;
            let mut c = new_ctx(suite, hello.session_id.clone(), false);
            let _ = by_ticket;
            send_server_hello(cx, &mut c, hello, secure_reneg, alpn)?;
            let master = session.master;
            cx.log_secret("CLIENT_RANDOM", &master);
            let (write, read) =
                record_keys(suite, &master, &c.client_random, &c.server_random, Side::Server)?;
            cx.send_ccs();
            cx.install_write12(write);
            let ours = finished(suite, &master, false, &mut c.log);
            let fin = cx.send_handshake(&HandshakePayload::Finished(ours), None);
            c.log.add(&fin)?;
            cx.set_pending_read12(read);
            return Ok(Handshake::Server12(Server12::Ccs(ExpectCcs {
                c,
                master,
                full_write: None,
                peer_cert: false,
            })));
        }
    }

    let mut session_id = Vec::new();
    if ems && config.session_cache12.is_some() {
        session_id = vec![0u8; 32];
        rng.fill(&mut session_id)?;
    }

    // Full handshake with an external PSK (RFC 4279 2, RFC 5489 2): no certificate.
    if let Some(suite) = choose_psk_suite(&config, hello) {
        let group = match suite.auth {
            SuiteAuth::EcdhePsk => Some(choose_group12(&config, hello)?),
            _ => None,
        };
        cx.negotiated().suite = Some(suite.suite);
        cx.negotiated().group = group;
        let mut c = new_ctx(suite, session_id, tickets_offered);
        send_server_hello(cx, &mut c, hello, secure_reneg, alpn)?;
        let kx = group.map(|g| KeyExchange::start(g, rng.as_ref())).transpose()?;
        let hint = config.psk_identity_hint.clone();
        // RFC 4279 2: plain PSK leaves the ServerKeyExchange out when there is no hint.
        if kx.is_some() || hint.is_some() {
            let ske = PskServerKeyExchange {
                hint: hint.unwrap_or_default(),
                ecdh: group.zip(kx.as_ref().map(|k| k.public_key().to_vec())),
            };
            cx.send_handshake12(ske.encode(), &mut c.log)?;
        }
        c.log_send(cx, &Tls12Payload::ServerHelloDone)?;
        return Ok(Handshake::Server12(Server12::PskClientKeyExchange(
            ExpectPskClientKeyExchange { c, kx },
        )));
    }

    // Full handshake: our preferred suite that the client offers and a key can sign for.
    let (suite, cert, scheme) = choose_suite_and_cert(&config, hello, cx.negotiated().sni.as_deref())?;
    let group = choose_group12(&config, hello)?;
    cx.negotiated().suite = Some(suite.suite);
    cx.negotiated().group = Some(group);
    cx.negotiated().sig_scheme = Some(scheme);

    let mut c = new_ctx(suite, session_id, tickets_offered);
    send_server_hello(cx, &mut c, hello, secure_reneg, alpn)?;

    let certs = cert.chain.iter().map(|c| c.as_ref().to_vec()).collect();
    c.log_send(cx, &Tls12Payload::Certificate(Certificate12 { certs }))?;
    cx.negotiated().own_cert = Some(cert.clone());

    let kx = KeyExchange::start(group, rng.as_ref())?;
    let mut ske = ServerKeyExchange {
        group,
        public: kx.public_key().to_vec(),
        scheme,
        signature: Vec::new(),
    };
    let signed = ske_signed(&c.client_random, &c.server_random, &ske.params());
    ske.signature = cert.key.sign(scheme, &signed)?;
    c.log_send(cx, &Tls12Payload::ServerKeyExchange(ske))?;

    let verifier = config.client_verifier.clone();
    if let Some(verifier) = &verifier {
        let req = CertificateRequest12 {
            cert_types: CERT_TYPES.to_vec(),
            schemes: cfg.sig_schemes.clone(),
            authorities: verifier.root_subjects(),
        };
        c.log_send(cx, &Tls12Payload::CertificateRequest(req))?;
    }
    c.log_send(cx, &Tls12Payload::ServerHelloDone)?;

    Ok(Handshake::Server12(match verifier {
        Some(verifier) => Server12::Certificate(ExpectCertificate { c, kx, verifier }),
        None => Server12::ClientKeyExchange(ExpectClientKeyExchange { c, kx, spki: None }),
    }))
}

impl Ctx {
    fn log_send(&mut self, cx: &mut dyn Output, m: &Tls12Payload) -> Result<(), Error> {
        cx.send_handshake12(m.encode(), &mut self.log)
    }
}

fn send_server_hello(
    cx: &mut dyn Output,
    c: &mut Ctx,
    hello: &ClientHello,
    secure_reneg: bool,
    alpn: Option<Vec<u8>>,
) -> Result<(), Error> {
    let mut extensions = Vec::new();
    // RFC 5746 3.6: an empty renegotiation_info when the client signalled support.
    if secure_reneg {
        extensions.push(ServerHelloExtension::RenegotiationInfo(Vec::new()));
    }
    if c.ems {
        extensions.push(ServerHelloExtension::ExtendedMasterSecret);
    }
    if hello.ec_point_formats().is_some() {
        extensions.push(ServerHelloExtension::EcPointFormats(vec![
            EcPointFormat::Uncompressed,
        ]));
    }
    if let Some(proto) = alpn {
        extensions.push(ServerHelloExtension::Alpn(proto));
    }
    // RFC 6066 3: acknowledged (empty) when the application uses the name, never on
    // resumption ("MUST NOT").
    if c.config.acknowledge_server_name && hello.server_name().is_some() && !cx.negotiated().resumed {
        extensions.push(ServerHelloExtension::ServerNameAck);
    }
    if c.send_ticket {
        extensions.push(ServerHelloExtension::SessionTicketAck);
    }
    if let Some((profile, mki)) = cx.negotiated().srtp.clone() {
        extensions.push(ServerHelloExtension::UseSrtp(crate::msgs::UseSrtp {
            profiles: vec![profile],
            mki,
        }));
    }
    if let Some(limit) =
        super::record_limit::server_reply(cx, &c.config.shared, hello.record_size_limit(), false)
    {
        extensions.push(ServerHelloExtension::RecordSizeLimit(limit));
    }
    if let Some(cid) = super::connection_id::server_reply(cx, hello) {
        extensions.push(cid);
    }
    let mut sh = ServerHello {
        legacy_version: cx.transport().v12(),
        random: c.server_random,
        session_id: c.session_id.clone(),
        cipher_suite: c.suite.suite,
        compression_method: 0,
        extensions,
    };
    if let Some(hook) = &c.config.server_hello_hook {
        hook(&mut sh);
    }
    let bytes = cx.send_handshake(&HandshakePayload::ServerHello(sh), None);
    c.log.add(&bytes)
}

pub(crate) struct ExpectCertificate {
    c: Ctx,
    kx: KeyExchange,
    verifier: Arc<dyn pki::ClientCertVerifier>,
}

impl ExpectCertificate {
    fn handle(mut self, cx: &mut dyn Output, msg: Msg) -> Result<Handshake, Error> {
        let Some(Tls12Payload::Certificate(cert)) = body12(&msg)? else {
            return Err(unexpected12("expect client Certificate", &msg));
        };
        self.c.log.add(&msg.raw)?;
        super::check_chain_len(cert.certs.len())?;
        let Some((end_entity, rest)) = cert.certs.split_first() else {
            // RFC 5246 7.4.6: no certificate; we may go on or refuse with handshake_failure.
            if self.verifier.client_auth_mandatory() {
                return Err(Error::HandshakeFailure(Failure::ClientCertificateRequired));
            }
            return Ok(Handshake::Server12(Server12::ClientKeyExchange(
                ExpectClientKeyExchange {
                    c: self.c,
                    kx: self.kx,
                    spki: None,
                },
            )));
        };
        let intermediates: Vec<&[u8]> = rest.iter().map(Vec::as_slice).collect();
        let now = self.c.config.shared.time.now_unix();
        self.verifier
            .verify_client_cert(end_entity, &intermediates, now)?;
        cx.negotiated().peer_chain = cert.certs.iter().map(|c| c.clone().into()).collect();
        let spki = pki::end_entity_spki(end_entity)?;
        Ok(Handshake::Server12(Server12::ClientKeyExchange(
            ExpectClientKeyExchange {
                c: self.c,
                kx: self.kx,
                spki: Some(spki),
            },
        )))
    }
}

pub(crate) struct ExpectClientKeyExchange {
    c: Ctx,
    kx: KeyExchange,
    /// The client certificate's key, when it sent one: a CertificateVerify follows.
    spki: Option<Vec<u8>>,
}

impl ExpectClientKeyExchange {
    fn handle(mut self, cx: &mut dyn Output, msg: Msg) -> Result<Handshake, Error> {
        let Some(Tls12Payload::ClientKeyExchange(cke)) = body12(&msg)? else {
            return Err(unexpected12("expect ClientKeyExchange", &msg));
        };
        let pre_master = self.kx.complete(&cke.public)?;
        self.c.log.add(&msg.raw)?;
        let mut c = self.c;
        let (master, write) = master_and_read_keys(&mut c, &pre_master, cx)?;
        Ok(Handshake::Server12(match self.spki {
            Some(spki) => Server12::CertificateVerify(ExpectCertificateVerify {
                c,
                master,
                write,
                spki,
            }),
            None => Server12::Ccs(ExpectCcs {
                c,
                master,
                full_write: Some(write),
                peer_cert: false,
            }),
        }))
    }
}

/// The master secret from the ClientKeyExchange's premaster (RFC 5246 8.1, RFC 7627 4),
/// logged, and the client's write keys made pending for its ChangeCipherSpec; our write key
/// comes from the same key block, kept for our ChangeCipherSpec.
fn master_and_read_keys(
    c: &mut Ctx,
    pre_master: &Secret,
    cx: &mut dyn Output,
) -> Result<(Secret, Box<RecordKey>), Error> {
    let master = master_secret(
        c.suite,
        pre_master,
        c.ems,
        &mut c.log,
        &c.client_random,
        &c.server_random,
    );
    cx.log_secret("CLIENT_RANDOM", &master);
    let (write, read) = record_keys(c.suite, &master, &c.client_random, &c.server_random, Side::Server)?;
    cx.set_pending_read12(read);
    Ok((master, Box::new(write)))
}

/// The PSK suites' ClientKeyExchange: the identity (and for ECDHE_PSK the client's share).
pub(crate) struct ExpectPskClientKeyExchange {
    c: Ctx,
    /// ECDHE_PSK: our ephemeral key.
    kx: Option<KeyExchange>,
}

impl ExpectPskClientKeyExchange {
    fn handle(mut self, cx: &mut dyn Output, msg: Msg) -> Result<Handshake, Error> {
        let HandshakePayload::Unknown {
            typ: HandshakeType::ClientKeyExchange,
            body,
        } = &msg.payload
        else {
            return Err(unexpected12("expect ClientKeyExchange", &msg));
        };
        let cke = PskClientKeyExchange::decode(body, self.kx.is_some())?;
        // RFC 4279 5.3: identities longer than we take are refused before any lookup.
        if cke.identity.len() > MAX_PSK_IDENTITY_LEN {
            return Err(PeerMisbehaved::IllegalParameter(Parameter::PskIdentityTooLong).into());
        }
        let lookup = self
            .c
            .config
            .psk_lookup
            .clone()
            .ok_or(Error::UnknownPskIdentity)?;
        // RFC 4279 2: an identity we do not know is unknown_psk_identity. A wrong key
        // shows as the client's Finished failing to deprotect (bad_record_mac).
        let psk = lookup.key(&cke.identity).ok_or(Error::UnknownPskIdentity)?;
        let shared = match (self.kx, &cke.public) {
            (Some(kx), Some(public)) => Some(kx.complete(public)?),
            _ => None,
        };
        let pre_master = psk_premaster(shared.as_ref().map(|s| s.as_bytes()), psk.as_bytes());
        self.c.log.add(&msg.raw)?;
        cx.negotiated().psk_identity = Some(cke.identity);
        let mut c = self.c;
        let (master, write) = master_and_read_keys(&mut c, &pre_master, cx)?;
        Ok(Handshake::Server12(Server12::Ccs(ExpectCcs {
            c,
            master,
            full_write: Some(write),
            peer_cert: false,
        })))
    }
}

pub(crate) struct ExpectCertificateVerify {
    c: Ctx,
    master: Secret,
    /// Our write key, for our ChangeCipherSpec.
    write: Box<RecordKey>,
    spki: Vec<u8>,
}

impl ExpectCertificateVerify {
    fn handle(mut self, cx: &mut dyn Output, msg: Msg) -> Result<Handshake, Error> {
        let HandshakePayload::CertificateVerify(cv) = &msg.payload else {
            return Err(unexpected12("expect CertificateVerify", &msg));
        };
        // RFC 5246 7.4.8: a scheme from our CertificateRequest, over all messages so far.
        if !self.c.config.shared.sig_schemes.contains(&cv.scheme) {
            return Err(PeerMisbehaved::UnsupportedSignatureScheme.into());
        }
        verify_signature(&self.spki, cv.scheme, self.c.log.bytes(), &cv.signature, false)?;
        cx.negotiated().client_sig_scheme = Some(cv.scheme);
        self.c.log.add(&msg.raw)?;
        Ok(Handshake::Server12(Server12::Ccs(ExpectCcs {
            c: self.c,
            master: self.master,
            full_write: Some(self.write),
            peer_cert: true,
        })))
    }
}

pub(crate) struct ExpectCcs {
    c: Ctx,
    master: Secret,
    /// A full handshake: our write key, for the ChangeCipherSpec and Finished that answer
    /// the client's (`None`: resumed, ours went first).
    full_write: Option<Box<RecordKey>>,
    #[allow(dead_code)]
    peer_cert: bool,
}

pub(crate) struct ExpectFinished {
    c: Ctx,
    master: Secret,
    /// As [`ExpectCcs::full_write`].
    full_write: Option<Box<RecordKey>>,
}

impl ExpectFinished {
    fn handle(self, cx: &mut dyn Output, msg: Msg) -> Result<Handshake, Error> {
        let mut c = self.c;
        check_finished(c.suite, &self.master, true, &mut c.log, &msg)?;
        c.log.add(&msg.raw)?;
        let master = self.master;
        if let Some(write) = self.full_write {
            let session = Session12 {
                transport: cx.transport(),
                suite: c.suite.suite,
                ems: c.ems,
                group: cx.negotiated().group,
                master: Secret::new(master.as_bytes().to_vec()),
                created: c.config.shared.time.now_unix(),
            };
            if c.send_ticket {
                // RFC 5077 3.3: the ticket goes between the client's Finished and our CCS.
                let ticket = c
                    .config
                    .ticketer12
                    .as_ref()
                    .map(|t| t.seal(session.encode().as_bytes()))
                    .unwrap_or_default();
                let nst = Tls12Payload::NewSessionTicket(NewSessionTicket12 {
                    lifetime_hint: SESSION_LIFETIME,
                    ticket,
                });
                c.log_send(cx, &nst)?;
            }
            if let Some(cache) = &c.config.session_cache12 {
                if !c.session_id.is_empty() {
                    put_session(cache.as_ref(), &c.session_id, &session);
                }
            }
            cx.send_ccs();
            cx.install_write12(*write);
            let ours = finished(c.suite, &master, false, &mut c.log);
            cx.send_handshake(&HandshakePayload::Finished(ours), None);
        }
        cx.open_application_data();
        cx.negotiated().exporter12 = Some((c.suite.hash, master));
        cx.emit(Event::HandshakeComplete);
        Ok(Handshake::Established12(Established12 { side: Side::Server }))
    }
}
