//! TLS 1.2 client (RFC 5246 7.3, RFC 8422, RFC 7627, RFC 5746, RFC 5077). The ClientHello is
//! the one `client13` builds (with [`extend_hello`]); when the ServerHello picks TLS 1.2,
//! `client13` hands it to [`handle_server_hello`].
//!
//! Full:        ServerHello, Certificate, ServerKeyExchange, [CertificateRequest],
//!              ServerHelloDone → [Certificate], ClientKeyExchange, [CertificateVerify], CCS,
//!              Finished → [NewSessionTicket], CCS, Finished.
//! Abbreviated: ServerHello, [NewSessionTicket], CCS, Finished → CCS, Finished.

use crate::error::{Failure, Parameter};
use std::sync::Arc;

use super::common12::{
    body12, check_finished, finished, master_secret, record_keys, scheme_fits_suite, ske_signed,
    unexpected12, Established12, HandshakeLog, DOWNGRADE_TLS11, DOWNGRADE_TLS12,
};
use super::output::{Output, Side, Transport};
use super::{Handshake, Msg};
use crate::codec::{EcPointFormat, ExtensionType, HandshakeType, ProtocolVersion};
use crate::config::ClientConfig;
use crate::crypto::aead::RecordKey;
use crate::crypto::kx::{self, KeyExchange};
use crate::crypto::prf::psk_premaster;
use crate::crypto::secret::Secret;
use crate::crypto::sign::verify_signature;
use crate::crypto::suites::{tls12_suite, SuiteAuth, Tls12Suite};
use crate::error::{Error, PeerMisbehaved};
use crate::event::Event;
use crate::msgs::*;
use crate::pki::{self, ServerName};
use crate::session::ticket12::{ClientSession12, Session12, MAX_TICKET_LEN};

/// The key the client session store files a server under.
fn store_key(name: &Option<ServerName>) -> Option<String> {
    match name {
        Some(ServerName::Dns(d)) => Some(d.clone()),
        Some(other) => Some(format!("{other:?}")),
        None => None,
    }
}

/// Adds the TLS 1.2 extensions to a ClientHello and, when a stored session can be resumed,
/// offers it: its ticket in session_ticket (with a fresh session ID to detect acceptance,
/// RFC 5077 3.4) or its session ID. Only a session made on `transport` is offered.
pub(crate) fn extend_hello(
    config: &ClientConfig,
    name: &Option<ServerName>,
    transport: Transport,
    extensions: &mut Vec<ClientExtension>,
    session_id: &mut Vec<u8>,
) -> Result<(), Error> {
    // RFC 8422 5.1.2: only the uncompressed point format.
    extensions.push(ClientExtension::EcPointFormats(vec![EcPointFormat::Uncompressed]));
    // RFC 7627 5.1: always offered.
    extensions.push(ClientExtension::ExtendedMasterSecret);
    // RFC 5746 3.4: an empty renegotiation_info in the initial ClientHello.
    extensions.push(ClientExtension::RenegotiationInfo(Vec::new()));
    let now = config.shared.time.now_unix();
    let stored = match (&config.sessions12, store_key(name)) {
        (Some(store), Some(key)) => store.get(&key, transport).filter(|s| {
            // RFC 7627 5.3: a session without the extended master secret is not resumed.
            s.state.fresh(now) && config.shared.suites.contains(&s.state.suite) && s.state.ems
        }),
        _ => None,
    };
    if config.sessions12.is_some() && config.tickets12 {
        let ticket = stored.as_ref().map(|s| s.ticket.clone()).unwrap_or_default();
        if !ticket.is_empty() && session_id.is_empty() {
            *session_id = vec![0u8; 32];
            config.shared.rng.fill(session_id)?;
        }
        extensions.push(ClientExtension::SessionTicket(ticket));
    }
    if let Some(s) = stored {
        if s.ticket.is_empty() && !s.session_id.is_empty() {
            *session_id = s.session_id.clone();
        }
    }
    Ok(())
}

/// What every TLS 1.2 client state carries.
struct Ctx {
    config: Arc<ClientConfig>,
    name: Option<ServerName>,
    suite: &'static Tls12Suite,
    log: HandshakeLog,
    client_random: [u8; 32],
    server_random: [u8; 32],
    session_id: Vec<u8>,
    ems: bool,
    /// The server acknowledged session_ticket: a NewSessionTicket precedes its CCS.
    ticket_expected: bool,
    /// The ticket it sent, if any.
    ticket: Vec<u8>,
}

pub(crate) enum Client12 {
    Certificate(ExpectCertificate),
    ServerKeyExchange(ExpectServerKeyExchange),
    ServerHelloDone(ExpectServerHelloDone),
    Ticket(ExpectTicket),
    Ccs(ExpectCcs),
    Finished(ExpectFinished),
    PskServerKeyExchange(ExpectPskServerKeyExchange),
}

impl Client12 {
    pub fn handle(self, cx: &mut dyn Output, msg: Msg) -> Result<Handshake, Error> {
        // RFC 5246 7.4.1.1: a HelloRequest while negotiating is ignored.
        if msg.payload.typ() == HandshakeType::HelloRequest && msg.raw.len() == 4 {
            return Ok(Handshake::Client12(self));
        }
        match self {
            Client12::Certificate(s) => s.handle(cx, msg),
            Client12::ServerKeyExchange(s) => s.handle(cx, msg),
            Client12::ServerHelloDone(s) => s.handle(cx, msg),
            Client12::Ticket(s) => s.handle(cx, msg),
            Client12::Ccs(_) => Err(unexpected12("expect ChangeCipherSpec", &msg)),
            Client12::Finished(s) => s.handle(cx, msg),
            Client12::PskServerKeyExchange(s) => s.handle(cx, msg),
        }
    }

    /// Whether this state takes a message of type `typ`; if not, the state's name.
    pub fn expects(&self, typ: HandshakeType) -> Result<(), &'static str> {
        let (ok, state) = match self {
            // RFC 5246 7.4.1.1: a HelloRequest while negotiating is ignored.
            _ if typ == HandshakeType::HelloRequest => (true, ""),
            Client12::Certificate(_) => (typ == HandshakeType::Certificate, "expect Certificate"),
            Client12::ServerKeyExchange(_) => (
                typ == HandshakeType::ServerKeyExchange,
                "expect ServerKeyExchange",
            ),
            Client12::ServerHelloDone(s) => (
                typ == HandshakeType::ServerHelloDone
                    || typ == HandshakeType::CertificateRequest && s.cert_request.is_none(),
                "expect ServerHelloDone",
            ),
            Client12::Ticket(t) => (
                typ == HandshakeType::NewSessionTicket && t.c.ticket_expected,
                "expect ChangeCipherSpec",
            ),
            Client12::Ccs(_) => (false, "expect ChangeCipherSpec"),
            Client12::Finished(_) => (typ == HandshakeType::Finished, "expect Finished"),
            Client12::PskServerKeyExchange(s) => (
                typ == HandshakeType::ServerKeyExchange && s.ske.is_none()
                    || typ == HandshakeType::ServerHelloDone
                        && (s.ske.is_some() || s.c.suite.auth == SuiteAuth::Psk),
                "expect ServerKeyExchange",
            ),
        };
        if ok {
            Ok(())
        } else {
            Err(state)
        }
    }

    /// True in the states [`handle_ccs`](Self::handle_ccs) accepts.
    pub fn expects_ccs(&self) -> bool {
        match self {
            Client12::Ticket(t) => !t.c.ticket_expected,
            Client12::Ccs(_) => true,
            _ => false,
        }
    }

    /// RFC 5246 7.1: the server's ChangeCipherSpec makes the pending read state current.
    pub fn handle_ccs(self, cx: &mut dyn Output) -> Result<Handshake, Error> {
        match self {
            Client12::Ticket(ExpectTicket {
                c,
                master,
                resumed_write,
            }) if !c.ticket_expected => ExpectCcs {
                c,
                master,
                resumed_write,
            }
            .handle_ccs(cx),
            Client12::Ccs(s) => s.handle_ccs(cx),
            _ => Err(PeerMisbehaved::IllegalChangeCipherSpec.into()),
        }
    }
}

/// Takes over from `client13` when the ServerHello selects TLS 1.2 (no supported_versions).
pub(crate) fn handle_server_hello(
    config: Arc<ClientConfig>,
    name: Option<ServerName>,
    hello: &ClientHello,
    hello_bytes: &[u8],
    cx: &mut dyn Output,
    msg: &Msg,
    sh: &ServerHello,
) -> Result<Handshake, Error> {
    let cfg = &config.shared;
    // RFC 5246 7.4.1.3 / RFC 8446 4.2.1: a pre-1.3 server names its version in the
    // ServerHello; TLS 1.2 is the only one below 1.3 we speak.
    // DTLS 1.2 (RFC 6347 4.2.1) names itself 0xFEFD.
    let dtls = cx.transport().is_dtls();
    let wanted = match dtls {
        true => ProtocolVersion::DTLSv1_2,
        false => ProtocolVersion::TLSv1_2,
    };
    if sh.legacy_version != wanted || !cfg.tls12() {
        return Err(Error::NoCommonVersion);
    }
    // RFC 8446 4.1.3: a TLS 1.3 client MUST check the downgrade sentinel. DTLS 1.3 keeps
    // this rule (RFC 9147 5 changes nothing here), and our DTLS client offers DTLS 1.3
    // whenever TLS 1.3 is on.
    if cfg.tls13() && (sh.random[24..] == DOWNGRADE_TLS12 || sh.random[24..] == DOWNGRADE_TLS11) {
        return Err(PeerMisbehaved::DowngradeDetected.into());
    }
    if !hello.cipher_suites.contains(&sh.cipher_suite) {
        return Err(PeerMisbehaved::SuiteNotOffered.into());
    }
    let suite = tls12_suite(sh.cipher_suite).ok_or(PeerMisbehaved::SuiteNotOffered)?;
    // We offer the PSK suites only with a PSK.
    if suite.auth.is_psk() && config.psk.is_none() {
        return Err(PeerMisbehaved::SuiteNotOffered.into());
    }
    // RFC 5246 7.4.1.3: the method must be one we offered; we offer only null.
    if sh.compression_method != 0 {
        return Err(PeerMisbehaved::CompressionNotNull.into());
    }
    let offered_ticket = hello.session_ticket().is_some();
    let mut ticket_expected = false;
    for ext in &sh.extensions {
        match ext {
            ServerHelloExtension::ExtendedMasterSecret => {}
            // RFC 5746 3.4: in the initial handshake renegotiated_connection must be empty.
            ServerHelloExtension::RenegotiationInfo(v) if v.is_empty() => {}
            ServerHelloExtension::RenegotiationInfo(_) => {
                return Err(Error::HandshakeFailure(Failure::RenegotiationInfo));
            }
            // RFC 8422 5.2: if sent, it must include uncompressed.
            ServerHelloExtension::EcPointFormats(f) if f.contains(&EcPointFormat::Uncompressed) => {}
            ServerHelloExtension::EcPointFormats(_) => {
                return Err(PeerMisbehaved::IllegalParameter(Parameter::EcPointFormats).into());
            }
            ServerHelloExtension::Alpn(proto) => {
                // RFC 7301 3.2: the protocol must be one we offered.
                if cfg.alpn.is_empty() {
                    return Err(PeerMisbehaved::UnsolicitedExtension.into());
                }
                if !cfg.alpn.contains(proto) {
                    return Err(PeerMisbehaved::AlpnNotOffered.into());
                }
                cx.negotiated().alpn = Some(proto.clone());
            }
            ServerHelloExtension::ServerNameAck if hello.server_name().is_some() => {}
            // RFC 5077 3.2: only in answer to our session_ticket extension.
            ServerHelloExtension::SessionTicketAck if offered_ticket => ticket_expected = true,
            ServerHelloExtension::RecordSizeLimit(limit) => {
                super::record_limit::client_accept(cx, cfg, *limit, false)?;
            }
            ServerHelloExtension::ConnectionId(cid) => super::connection_id::client_accept(cx, cid)?,
            ServerHelloExtension::UseSrtp(answer) => {
                let ems = sh.extended_master_secret();
                cx.negotiated().srtp = Some(super::srtp::accept(cx.transport(), &cfg.srtp, answer, ems)?);
            }
            // We sent supported_groups, so an answer is not unsolicited (RFC 5246 7.4.1.4);
            // RFC 8422 defines none for the ServerHello, but servers in the field echo their
            // list: it tells us nothing, and is ignored (as BoringSSL and OpenSSL do).
            ServerHelloExtension::Unknown {
                typ: ExtensionType::SupportedGroups,
                ..
            } => {}
            _ => return Err(PeerMisbehaved::UnsolicitedExtension.into()),
        }
    }
    super::connection_id::client_done(cx);
    let ems = sh.extended_master_secret();
    // RFC 7627 5.3: a client that requires EMS aborts with handshake_failure.
    if !ems && cfg.require_ems {
        return Err(Error::HandshakeFailure(Failure::ExtendedMasterSecretRequired));
    }

    cx.negotiated().version = Some(wanted);
    cx.negotiated().suite = Some(suite.suite);
    cx.negotiated().server_random = sh.random;
    cx.negotiated().ems = ems;
    if let (Some(ServerName::Dns(dns)), Some(_)) = (&name, hello.server_name()) {
        cx.negotiated().sni = Some(dns.clone());
    }
    let mut log = HandshakeLog::default();
    log.add(hello_bytes)?;
    log.add(&msg.raw)?;
    let c = Ctx {
        config,
        name,
        suite,
        log,
        client_random: cx.negotiated().client_random,
        server_random: sh.random,
        session_id: sh.session_id.clone(),
        ems,
        ticket_expected,
        ticket: Vec::new(),
    };

    // Resumption: the server echoed the session ID of the hello that offered a session.
    if !sh.session_id.is_empty() && sh.session_id == hello.session_id {
        let offered = match (&c.config.sessions12, store_key(&c.name)) {
            (Some(store), Some(key)) => store.get(&key, cx.transport()).filter(|s| {
                (!s.ticket.is_empty() && hello.session_ticket() == Some(s.ticket.as_slice()))
                    || (s.ticket.is_empty() && s.session_id == hello.session_id)
            }),
            _ => None,
        };
        let Some(offered) = offered else {
            // A random (compatibility) session ID cannot name a session.
            return Err(PeerMisbehaved::IllegalParameter(Parameter::ResumptionNotOffered).into());
        };
        // RFC 5246 7.4.1.3: a resumed session keeps its suite.
        if offered.state.suite != suite.suite {
            return Err(PeerMisbehaved::IllegalParameter(Parameter::ResumedSuite).into());
        }
        // RFC 7627 5.3: the EMS status must match the original session's.
        if offered.state.ems != ems {
            return Err(Error::HandshakeFailure(Failure::ExtendedMasterSecretChanged));
        }
        if c.config.reverify_on_resume {
            super::reverify_server_chain(&c.config, c.name.as_ref(), &offered.peer_chain)?;
        }
        let master = Secret::new(offered.state.master.as_bytes().to_vec());
        cx.negotiated().resumed = true;
        cx.negotiated().group = offered.state.group;
        cx.negotiated().peer_chain = offered.peer_chain.clone();
        // Our write key comes from the same key block, kept for our CCS after the server's.
        let (write, read) = record_keys(suite, &master, &c.client_random, &c.server_random, Side::Client)?;
        cx.set_pending_read12(read);
        cx.log_secret("CLIENT_RANDOM", &master);
        return Ok(Handshake::Client12(Client12::Ticket(ExpectTicket {
            c,
            master,
            resumed_write: Some(Box::new(write)),
        })));
    }
    // RFC 4279 2, RFC 5489 2: no Certificate; a ServerKeyExchange (optional for plain PSK).
    if suite.auth.is_psk() {
        return Ok(Handshake::Client12(Client12::PskServerKeyExchange(
            ExpectPskServerKeyExchange { c, ske: None },
        )));
    }
    Ok(Handshake::Client12(Client12::Certificate(ExpectCertificate {
        c,
    })))
}

/// The PSK suites' ServerKeyExchange (identity hint, and for ECDHE_PSK the unsigned server
/// share; RFC 4279 2, RFC 5489 2), then ServerHelloDone.
pub(crate) struct ExpectPskServerKeyExchange {
    c: Ctx,
    ske: Option<PskServerKeyExchange>,
}

impl ExpectPskServerKeyExchange {
    fn handle(mut self, cx: &mut dyn Output, msg: Msg) -> Result<Handshake, Error> {
        let ecdhe = self.c.suite.auth == SuiteAuth::EcdhePsk;
        match &msg.payload {
            HandshakePayload::Unknown {
                typ: HandshakeType::ServerKeyExchange,
                body,
            } if self.ske.is_none() => {
                let ske = PskServerKeyExchange::decode(body, ecdhe)?;
                if let Some((group, _)) = &ske.ecdh {
                    let cfg = &self.c.config.shared;
                    // RFC 8422 5.4 (RFC 5489 2 keeps it): a curve we offered, not a hybrid.
                    if !cfg.groups.contains(group) || kx::is_hybrid(*group) {
                        return Err(
                            PeerMisbehaved::IllegalParameter(Parameter::ServerKeyExchangeGroup).into(),
                        );
                    }
                    cx.negotiated().group = Some(*group);
                }
                self.c.log.add(&msg.raw)?;
                self.ske = Some(ske);
                Ok(Handshake::Client12(Client12::PskServerKeyExchange(self)))
            }
            _ if matches!(body12(&msg)?, Some(Tls12Payload::ServerHelloDone))
                && (self.ske.is_some() || !ecdhe) =>
            {
                self.c.log.add(&msg.raw)?;
                self.send_flight(cx)
            }
            _ => Err(unexpected12("expect ServerKeyExchange", &msg)),
        }
    }

    /// ClientKeyExchange (our identity, and share), CCS, Finished.
    fn send_flight(mut self, cx: &mut dyn Output) -> Result<Handshake, Error> {
        let config = self.c.config.clone();
        let psk = config.psk.as_ref().ok_or(PeerMisbehaved::SuiteNotOffered)?;
        let (public, shared) = match self.ske.as_ref().and_then(|s| s.ecdh.as_ref()) {
            Some((group, server_public)) => {
                let kx = KeyExchange::start(*group, config.shared.rng.as_ref())?;
                let public = kx.public_key().to_vec();
                (Some(public), Some(kx.complete(server_public)?))
            }
            None => (None, None),
        };
        let cke = PskClientKeyExchange {
            identity: psk.identity().to_vec(),
            public,
        };
        cx.send_handshake12(cke.encode(), &mut self.c.log)?;
        cx.negotiated().psk_identity = Some(psk.identity().to_vec());
        let pre_master = psk_premaster(shared.as_ref().map(|s| s.as_bytes()), psk.key().as_bytes());
        let mut c = self.c;
        let master = master_secret(
            c.suite,
            &pre_master,
            c.ems,
            &mut c.log,
            &c.client_random,
            &c.server_random,
        );
        cx.log_secret("CLIENT_RANDOM", &master);
        send_ccs_and_finished(c, master, cx)
    }
}

pub(crate) struct ExpectCertificate {
    c: Ctx,
}

impl ExpectCertificate {
    fn handle(mut self, cx: &mut dyn Output, msg: Msg) -> Result<Handshake, Error> {
        let Some(Tls12Payload::Certificate(cert)) = body12(&msg)? else {
            return Err(unexpected12("expect Certificate", &msg));
        };
        super::check_chain_len(cert.certs.len())?;
        // RFC 8422 2: ECDHE_ECDSA and ECDHE_RSA need the server's certificate.
        let Some((end_entity, rest)) = cert.certs.split_first() else {
            return Err(PeerMisbehaved::EmptyCertificate.into());
        };
        let intermediates: Vec<&[u8]> = rest.iter().map(Vec::as_slice).collect();
        let now = self.c.config.shared.time.now_unix();
        let name = self
            .c
            .name
            .as_ref()
            .ok_or(Error::Config("no server name to verify".into()))?;
        self.c
            .config
            .verifier
            .verify_server_cert(end_entity, &intermediates, name, now)?;
        cx.negotiated().peer_chain = cert.certs.iter().map(|c| c.clone().into()).collect();
        let spki = pki::end_entity_spki(end_entity)?;
        // RFC 5246 7.4.2: the key must fit the suite, checked here rather than at the
        // ServerKeyExchange signature, so the refusal names the certificate.
        if !crate::crypto::sign::spki_fits_auth(&spki, self.c.suite.auth)? {
            return Err(PeerMisbehaved::IllegalParameter(Parameter::CertificateKeyType).into());
        }
        // RFC 8422 5.1: the curves we listed bind the server's ECDSA certificate too.
        if let Some(curve) = crate::crypto::sign::spki_ecdsa_group(&spki)? {
            if !self.c.config.shared.groups.contains(&curve) {
                return Err(PeerMisbehaved::IllegalParameter(Parameter::CertificateCurve).into());
            }
        }
        self.c.log.add(&msg.raw)?;
        Ok(Handshake::Client12(Client12::ServerKeyExchange(
            ExpectServerKeyExchange { c: self.c, spki },
        )))
    }
}

pub(crate) struct ExpectServerKeyExchange {
    c: Ctx,
    spki: Vec<u8>,
}

impl ExpectServerKeyExchange {
    fn handle(mut self, cx: &mut dyn Output, msg: Msg) -> Result<Handshake, Error> {
        let Some(Tls12Payload::ServerKeyExchange(ske)) = body12(&msg)? else {
            return Err(unexpected12("expect ServerKeyExchange", &msg));
        };
        let cfg = &self.c.config.shared;
        // RFC 5246 7.4.1.4.1: the scheme must be one we offered, and fit the suite.
        if !cfg.sig_schemes.contains(&ske.scheme) || !scheme_fits_suite(ske.scheme, self.c.suite.auth) {
            return Err(PeerMisbehaved::UnsupportedSignatureScheme.into());
        }
        let signed = ske_signed(&self.c.client_random, &self.c.server_random, &ske.params());
        verify_signature(&self.spki, ske.scheme, &signed, &ske.signature, false)?;
        // RFC 8422 5.4: the curve must be one we offered in supported_groups; the hybrids
        // are TLS 1.3 only (draft-ietf-tls-ecdhe-mlkem 3).
        if !cfg.groups.contains(&ske.group) || kx::is_hybrid(ske.group) {
            return Err(PeerMisbehaved::IllegalParameter(Parameter::ServerKeyExchangeGroup).into());
        }
        cx.negotiated().sig_scheme = Some(ske.scheme);
        cx.negotiated().group = Some(ske.group);
        self.c.log.add(&msg.raw)?;
        Ok(Handshake::Client12(Client12::ServerHelloDone(
            ExpectServerHelloDone {
                c: self.c,
                ske,
                cert_request: None,
            },
        )))
    }
}

pub(crate) struct ExpectServerHelloDone {
    c: Ctx,
    ske: ServerKeyExchange,
    cert_request: Option<CertificateRequest12>,
}

impl ExpectServerHelloDone {
    fn handle(mut self, cx: &mut dyn Output, msg: Msg) -> Result<Handshake, Error> {
        match body12(&msg)? {
            Some(Tls12Payload::CertificateRequest(req)) if self.cert_request.is_none() => {
                self.c.log.add(&msg.raw)?;
                self.cert_request = Some(req);
                Ok(Handshake::Client12(Client12::ServerHelloDone(self)))
            }
            Some(Tls12Payload::ServerHelloDone) => self.send_flight(cx, &msg),
            _ => Err(unexpected12("expect ServerHelloDone", &msg)),
        }
    }

    /// Our second flight: [Certificate], ClientKeyExchange, [CertificateVerify], CCS, Finished.
    fn send_flight(mut self, cx: &mut dyn Output, msg: &Msg) -> Result<Handshake, Error> {
        self.c.log.add(&msg.raw)?;
        let config = self.c.config.clone();
        // RFC 5246 7.4.6: answer a CertificateRequest with our chain if a scheme fits, else
        // with an empty Certificate.
        let mut signer = None;
        if let Some(req) = &self.cert_request {
            let mut chain = Vec::new();
            if let Some(ck) = &config.client_cert {
                // Our own signature keeps to our configured schemes too.
                let offered: Vec<_> = req
                    .schemes
                    .iter()
                    .copied()
                    .filter(|s| config.shared.signing_schemes().contains(s))
                    .collect();
                if let Some(scheme) = ck.key.choose_scheme(&offered, false) {
                    chain = ck.chain.iter().map(|c| c.as_ref().to_vec()).collect();
                    signer = Some((ck.clone(), scheme));
                    cx.negotiated().client_sig_scheme = Some(scheme);
                    cx.negotiated().own_cert = Some(ck.clone());
                }
            }
            cx.send_handshake12(
                Tls12Payload::Certificate(Certificate12 { certs: chain }).encode(),
                &mut self.c.log,
            )?;
        }
        let kx = KeyExchange::start(self.ske.group, config.shared.rng.as_ref())?;
        let cke = Tls12Payload::ClientKeyExchange(ClientKeyExchange {
            public: kx.public_key().to_vec(),
        })
        .encode();
        let pre_master = kx.complete(&self.ske.public)?;
        cx.send_handshake12(cke, &mut self.c.log)?;
        let mut c = self.c;
        let master = master_secret(
            c.suite,
            &pre_master,
            c.ems,
            &mut c.log,
            &c.client_random,
            &c.server_random,
        );
        let mut c = c;
        cx.log_secret("CLIENT_RANDOM", &master);
        if let Some((ck, scheme)) = signer {
            // RFC 5246 7.4.8: the signature covers every handshake message so far.
            let signature = ck.key.sign(scheme, c.log.bytes())?;
            let cv = HandshakePayload::CertificateVerify(CertificateVerify { scheme, signature });
            cx.send_handshake12(cv.encode(), &mut c.log)?;
        }
        send_ccs_and_finished(c, master, cx)
    }
}

/// Before the server's CCS: its NewSessionTicket if it promised one (RFC 5077 3.3).
pub(crate) struct ExpectTicket {
    c: Ctx,
    master: Secret,
    /// An abbreviated handshake (resumption): our write key, for the ChangeCipherSpec and
    /// Finished that follow the server's (`None`: full, ours went first).
    resumed_write: Option<Box<RecordKey>>,
}

impl ExpectTicket {
    fn handle(mut self, _cx: &mut dyn Output, msg: Msg) -> Result<Handshake, Error> {
        match body12(&msg)? {
            Some(Tls12Payload::NewSessionTicket(t)) if self.c.ticket_expected => {
                self.c.log.add(&msg.raw)?;
                if t.ticket.len() <= MAX_TICKET_LEN {
                    self.c.ticket = t.ticket;
                }
                self.c.ticket_expected = false;
                Ok(Handshake::Client12(Client12::Ccs(ExpectCcs {
                    c: self.c,
                    master: self.master,
                    resumed_write: self.resumed_write,
                })))
            }
            _ => Err(unexpected12("expect ChangeCipherSpec", &msg)),
        }
    }
}

pub(crate) struct ExpectCcs {
    c: Ctx,
    master: Secret,
    /// As [`ExpectTicket::resumed_write`].
    resumed_write: Option<Box<RecordKey>>,
}

impl ExpectCcs {
    fn handle_ccs(self, cx: &mut dyn Output) -> Result<Handshake, Error> {
        cx.activate_pending_read12()?;
        Ok(Handshake::Client12(Client12::Finished(ExpectFinished {
            c: self.c,
            master: self.master,
            resumed_write: self.resumed_write,
        })))
    }
}

pub(crate) struct ExpectFinished {
    c: Ctx,
    master: Secret,
    /// As [`ExpectTicket::resumed_write`].
    resumed_write: Option<Box<RecordKey>>,
}

impl ExpectFinished {
    fn handle(self, cx: &mut dyn Output, msg: Msg) -> Result<Handshake, Error> {
        let mut c = self.c;
        check_finished(c.suite, &self.master, false, &mut c.log, &msg)?;
        c.log.add(&msg.raw)?;
        let resumed = self.resumed_write.is_some();
        if let Some(write) = self.resumed_write {
            // Abbreviated: our CCS and Finished follow the server's (RFC 5246 7.3).
            cx.send_ccs();
            cx.install_write12(*write);
            let ours = finished(c.suite, &self.master, true, &mut c.log);
            cx.send_handshake(&HandshakePayload::Finished(ours), None);
        }
        cx.open_application_data();
        cx.negotiated().exporter12 = Some((c.suite.hash, Secret::new(self.master.as_bytes().to_vec())));
        cx.emit(Event::HandshakeComplete);
        remember(&c, self.master, resumed, cx);
        Ok(Handshake::Established12(Established12 { side: Side::Client }))
    }
}

/// Our second flight's end (RFC 5246 7.4.9): the ChangeCipherSpec, our Finished under the
/// new write keys, the server's keys pending for its ChangeCipherSpec.
fn send_ccs_and_finished(mut c: Ctx, master: Secret, cx: &mut dyn Output) -> Result<Handshake, Error> {
    let (write, read) = record_keys(c.suite, &master, &c.client_random, &c.server_random, Side::Client)?;
    cx.send_ccs();
    cx.install_write12(write);
    let ours = finished(c.suite, &master, true, &mut c.log);
    let fin = cx.send_handshake(&HandshakePayload::Finished(ours), None);
    c.log.add(&fin)?;
    cx.set_pending_read12(read);
    Ok(Handshake::Client12(Client12::Ticket(ExpectTicket {
        c,
        master,
        resumed_write: None,
    })))
}

/// Files the session for resumption: a new ticket, or the session ID of a full handshake.
fn remember(c: &Ctx, master: Secret, resumed: bool, cx: &mut dyn Output) {
    let (Some(store), Some(key)) = (&c.config.sessions12, store_key(&c.name)) else {
        return;
    };
    if !c.ticket.is_empty() {
        cx.emit(Event::SessionTicket);
    }
    if resumed && c.ticket.is_empty() {
        // Session-ID resumption keeps the stored session as it is.
        return;
    }
    // RFC 7627 5.3: a session without the extended master secret is not kept for resumption.
    if !c.ems || (c.ticket.is_empty() && c.session_id.is_empty()) {
        // Nothing resumable came of this handshake: drop what we offered.
        store.forget(&key, cx.transport());
        return;
    }
    let created = match (resumed, store.get(&key, cx.transport())) {
        (true, Some(old)) => old.state.created,
        _ => c.config.shared.time.now_unix(),
    };
    // A resumed connection reports the original chain (set at resumption).
    let peer_chain = cx.negotiated().peer_chain.clone();
    store.put(
        &key,
        ClientSession12 {
            session_id: c.session_id.clone(),
            ticket: c.ticket.clone(),
            state: Session12 {
                transport: cx.transport(),
                suite: c.suite.suite,
                ems: c.ems,
                group: cx.negotiated().group,
                master,
                created,
            },
            peer_chain,
        },
    );
}
