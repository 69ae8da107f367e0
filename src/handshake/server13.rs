//! TLS 1.3 server (RFC 8446 2, 4): ClientHello (and a second one after HelloRetryRequest),
//! ServerHello, EncryptedExtensions, [CertificateRequest], Certificate, CertificateVerify,
//! Finished; then the client's [Certificate, CertificateVerify] and Finished.

use crate::error::{Failure, Parameter};
use std::sync::Arc;

use super::keys13::{ApplicationKeys, EarlyKeys};
use super::negotiated::EarlyDataReason;
use super::output::{Output, Side, Transport};
use super::{unexpected, Established13, Handshake, Msg};
use crate::codec::{ExtensionType, HandshakeType, NamedGroup, ProtocolVersion, PskKeyExchangeMode};
use crate::config::ServerConfig;
use crate::crypto::hash::Transcript;
use crate::crypto::key_schedule::resumption_psk_prefixed;
use crate::crypto::kx::KeyExchange;
use crate::crypto::secret::Secret;
use crate::crypto::sign::{tls13_signed_message, verify_signature};
use crate::crypto::suites::{tls13_suite, Tls13Suite};
use crate::error::{Error, PeerMisbehaved};
use crate::event::Event;
use crate::msgs::*;
use crate::pki;
use crate::session::tickets::ServerSession;
use crate::time::TimeProvider;

pub(crate) enum ServerState {
    ClientHello(ExpectClientHello),
    EndOfEarlyData(ExpectEndOfEarlyData),
    Certificate(ExpectCertificate),
    CertificateVerify(ExpectCertificateVerify),
    Finished(ExpectFinished),
}

impl ServerState {
    pub fn handle(self, cx: &mut dyn Output, msg: Msg) -> Result<Handshake, Error> {
        match self {
            ServerState::ClientHello(s) => s.handle(cx, msg),
            ServerState::EndOfEarlyData(s) => s.handle(cx, msg),
            ServerState::Certificate(s) => s.handle(cx, msg),
            ServerState::CertificateVerify(s) => s.handle(cx, msg),
            ServerState::Finished(s) => s.handle(cx, msg),
        }
    }

    pub fn accepts_ccs(&self) -> bool {
        // The client's compatibility CCS comes after its first ClientHello (RFC 8446 D.4).
        match self {
            ServerState::ClientHello(s) => s.retry.is_some(),
            _ => true,
        }
    }

    /// True while accepted 0-RTT data may arrive (before EndOfEarlyData).
    pub fn accepts_early_data(&self) -> bool {
        matches!(self, ServerState::EndOfEarlyData(_))
    }

    /// The one message type each state takes; otherwise the state's name.
    pub fn expects(&self, typ: HandshakeType) -> Result<(), &'static str> {
        let (want, state) = match self {
            ServerState::ClientHello(_) => (HandshakeType::ClientHello, "expect ClientHello"),
            ServerState::EndOfEarlyData(_) => (HandshakeType::EndOfEarlyData, "expect EndOfEarlyData"),
            ServerState::Certificate(_) => (HandshakeType::Certificate, "expect client Certificate"),
            ServerState::CertificateVerify(_) => (
                HandshakeType::CertificateVerify,
                "expect client CertificateVerify",
            ),
            ServerState::Finished(_) => (HandshakeType::Finished, "expect client Finished"),
        };
        if typ == want {
            Ok(())
        } else {
            Err(state)
        }
    }
}

/// Most PSK identities we look at in one ClientHello.
const MAX_PSK_IDENTITIES: usize = 8;
/// Rejected 0-RTT we skip at least this much of (RFC 8446 4.2.10), whatever our own
/// max_early_data (a client may hold a ticket from an earlier configuration).
const MIN_EARLY_SKIP: usize = 16 * 1024 + 256;

/// The PSK the server picked from the ClientHello (RFC 8446 4.2.11).
struct PskChoice {
    index: u16,
    session: ServerSession,
    suite: &'static Tls13Suite,
    keys: EarlyKeys,
    /// psk_dhe_ke (true) or psk_ke (false).
    dhe: bool,
    early_accepted: bool,
    /// Why 0-RTT is accepted or not with this PSK.
    early_reason: EarlyDataReason,
    /// An external PSK's identity (not a resumption).
    external: Option<Vec<u8>>,
}

pub(crate) fn start(config: Arc<ServerConfig>) -> Handshake {
    Handshake::Server(ServerState::ClientHello(ExpectClientHello {
        config,
        retry: None,
    }))
}

/// What we remember after sending a HelloRetryRequest.
struct RetrySent {
    /// The first ClientHello; `None` after a stateless retry (DTLS 1.3), where the cookie
    /// carried only its hash.
    first: Option<ClientHello>,
    /// The group HelloRetryRequest asked a share for (`None`: it asked for none).
    group: Option<NamedGroup>,
    suite: &'static Tls13Suite,
    transcript: Transcript,
    cookie: Vec<u8>,
}

pub(crate) struct ExpectClientHello {
    config: Arc<ServerConfig>,
    retry: Option<RetrySent>,
}

/// Extensions that may differ between the first and second ClientHello (RFC 8446 4.1.2).
fn may_change_after_retry(ext: &ClientExtension) -> bool {
    match ext {
        ClientExtension::KeyShare(_)
        | ClientExtension::Cookie(_)
        | ClientExtension::EarlyData
        | ClientExtension::PreSharedKey(_) => true,
        ClientExtension::Unknown { typ, .. } => *typ == ExtensionType::Padding,
        _ => false,
    }
}

/// RFC 8446 4.1.2: the second ClientHello must be the first with only the allowed changes.
fn check_second_hello(first: &ClientHello, second: &ClientHello) -> Result<(), Error> {
    let same_fields = first.legacy_version == second.legacy_version
        && first.random == second.random
        && first.session_id == second.session_id
        && first.cipher_suites == second.cipher_suites
        && first.compression_methods == second.compression_methods;
    let a = first.extensions.iter().filter(|e| !may_change_after_retry(e));
    let b = second.extensions.iter().filter(|e| !may_change_after_retry(e));
    if !same_fields || !a.eq(b) {
        return Err(PeerMisbehaved::SecondClientHelloMismatch.into());
    }
    // pre_shared_key may be updated, "if present" (4.1.2), and may drop the PSKs the retry's
    // suite rules out, but not appear or go away: a hello without it is missing_extension.
    match (first.psk().is_some(), second.psk().is_some()) {
        (true, false) => return Err(PeerMisbehaved::MissingExtension("pre_shared_key").into()),
        (false, true) => return Err(PeerMisbehaved::SecondClientHelloMismatch.into()),
        _ => {}
    }
    Ok(())
}

impl ExpectClientHello {
    fn handle(self, cx: &mut dyn Output, msg: Msg) -> Result<Handshake, Error> {
        let HandshakePayload::ClientHello(hello) = &msg.payload else {
            return Err(unexpected("expect ClientHello", &msg));
        };
        let cfg = &self.config.shared;
        // Before supported_versions is looked at: it cannot rescue an SSL 3.0 legacy_version.
        super::check_legacy_version(hello.legacy_version)?;
        // RFC 9001 8.2: "A fatal unsupported_extension alert MUST be sent by an implementation
        // that supports this extension if the extension is received when the transport is
        // not QUIC", whichever version the hello goes on to negotiate.
        if !cx.transport().is_quic() && hello.quic_transport_parameters().is_some() {
            return Err(PeerMisbehaved::UnsolicitedExtension.into());
        }
        // RFC 8446 4.2.1: TLS 1.3 is negotiated only through supported_versions; without it
        // (or with 1.3 disabled) `server12` answers.
        if !cfg.tls13()
            || !hello
                .supported_versions()
                .is_some_and(|v| v.contains(&cx.transport().v13()))
        {
            if self.retry.is_some() {
                return Err(PeerMisbehaved::SecondClientHelloMismatch.into());
            }
            // RFC 9001 4.2: QUIC never negotiates a version below TLS 1.3.
            if cx.transport().is_quic() {
                return Err(Error::NoCommonVersion);
            }
            cx.negotiated()
                .early_data_decided(EarlyDataReason::ProtocolVersion);
            return super::server12::handle_client_hello(self.config.clone(), cx, &msg, hello);
        }
        // RFC 8446 4.1.2: exactly one compression method, null.
        if hello.compression_methods != [0] {
            return Err(PeerMisbehaved::CompressionNotNull.into());
        }
        if cx.transport().is_quic() {
            // RFC 9001 8.4: no compatibility mode (QUIC calls it PROTOCOL_VIOLATION; our
            // nearest alert is illegal_parameter).
            if !hello.session_id.is_empty() {
                return Err(PeerMisbehaved::IllegalParameter(Parameter::QuicSessionId).into());
            }
            // RFC 9001 8.2: the client's transport parameters are mandatory.
            let params = hello
                .quic_transport_parameters()
                .ok_or(PeerMisbehaved::MissingExtension("quic_transport_parameters"))?;
            cx.take_peer_transport_parameters(params);
        }
        if let Some(retry) = &self.retry {
            // RFC 8446 4.2.10: 0-RTT can only precede the second ClientHello; from here on a
            // record that fails to deprotect is bad_record_mac (5.2), not skipped early data.
            cx.early_data().skip_budget = 0;
            // RFC 8446 4.1.2: early data is not permitted after a HelloRetryRequest.
            if hello.has(ExtensionType::EarlyData) {
                return Err(PeerMisbehaved::IllegalParameter(Parameter::EarlyDataAfterRetry).into());
            }
            if let Some(first) = &retry.first {
                check_second_hello(first, hello)?;
            }
            // Our cookie must come back unchanged.
            // Compared with subtle like every MAC, Finished and binder, although this cookie
            // (a hash of the first ClientHello) is no secret.
            let echoed = hello
                .cookie()
                .is_some_and(|c| bool::from(subtle::ConstantTimeEq::ct_eq(c, retry.cookie.as_slice())));
            if !echoed {
                return Err(PeerMisbehaved::IllegalParameter(Parameter::Cookie).into());
            }
        } else if hello.cookie().is_some() {
            // We never sent a cookie, so a first ClientHello cannot carry one.
            return Err(PeerMisbehaved::IllegalParameter(Parameter::Cookie).into());
        }

        // Our first TLS 1.3 suite the client offers (a TLS 1.2 suite listed before it in our
        // config does not hide it); never CCM_8 under QUIC (RFC 9001 5.3). Except that a
        // client listing ChaCha20-Poly1305 first among its TLS 1.3 suites says it lacks AES
        // hardware: it gets ChaCha20 if we have it, unless `prioritize_chacha` is off (RFC
        // 8446 4.1.1 leaves the choice to us; BoringSSL does the same, OpenSSL with
        // PRIORITIZE_CHACHA).
        let quic = cx.transport().is_quic();
        let chacha = crate::codec::CipherSuite::TLS_CHACHA20_POLY1305_SHA256;
        let client_first = hello
            .cipher_suites
            .iter()
            .find(|s| tls13_suite(**s).is_some())
            .filter(|_| self.config.prioritize_chacha);
        let suite = cfg
            .suites
            .iter()
            .filter(|s| hello.cipher_suites.contains(s))
            .filter(|s| !(quic && **s == crate::codec::CipherSuite::TLS_AES_128_CCM_8_SHA256))
            .filter(|s| client_first != Some(&chacha) || !cfg.suites.contains(&chacha) || **s == chacha)
            .find_map(|s| tls13_suite(*s))
            .ok_or(Error::HandshakeFailure(Failure::NoCommonSuite))?;
        let offered_schemes = hello
            .signature_algorithms()
            .ok_or(PeerMisbehaved::MissingExtension("signature_algorithms"))?;
        let sni = hello
            .server_name()
            .and_then(|n| std::str::from_utf8(n).ok())
            .map(str::to_ascii_lowercase);
        // The certificate by SNI and the client's signature algorithms (ServerConfig::choose_cert).
        let (cert, scheme, sni_chose_cert) = self
            .config
            .select_cert(sni.as_deref(), offered_schemes, true, None)
            .ok_or(Error::HandshakeFailure(Failure::NoCommonSignatureScheme))?;
        let groups = hello
            .supported_groups()
            .ok_or(PeerMisbehaved::MissingExtension("supported_groups"))?;
        // RFC 8446 4.2.9: a client offering pre_shared_key MUST offer psk_key_exchange_modes.
        if hello.psk().is_some() && hello.psk_modes().is_none() {
            return Err(PeerMisbehaved::MissingExtension("psk_key_exchange_modes").into());
        }
        let modes = hello.psk_modes().unwrap_or(&[]);
        // RFC 8446 4.2.9: servers SHOULD NOT send tickets the client's modes cannot use (a
        // client without psk_key_exchange_modes never resumes).
        let client_resumes = modes.contains(&PskKeyExchangeMode::PskDheKe)
            || self.config.resumption.allow_psk_ke && modes.contains(&PskKeyExchangeMode::PskKe);
        let psk_ke_only = self.config.resumption.allow_psk_ke
            && hello.psk().is_some()
            && modes.contains(&PskKeyExchangeMode::PskKe)
            && !modes.contains(&PskKeyExchangeMode::PskDheKe);
        let shares = match hello.key_shares() {
            Some(shares) => shares,
            // RFC 8446 4.2.8: key_share may be absent only for psk_ke.
            None if psk_ke_only => &[],
            None => return Err(PeerMisbehaved::MissingExtension("key_share").into()),
        };
        // RFC 8446 4.2.8: each share for an offered group, at most one per group.
        for (i, share) in shares.iter().enumerate() {
            if !groups.contains(&share.group) || shares[..i].iter().any(|s| s.group == share.group) {
                return Err(PeerMisbehaved::IllegalParameter(Parameter::KeyShare).into());
            }
        }
        let alpn = choose_alpn(&cfg.alpn, hello.alpn())?;
        // RFC 9001 8.1: QUIC needs an application protocol.
        if cx.transport().is_quic() && alpn.is_none() {
            return Err(Error::NoApplicationProtocol);
        }

        // Our preference order: the first group the client sent a share for, else HRR.
        let share = cfg
            .groups
            .iter()
            .find_map(|g| shares.iter().find(|s| s.group == *g));
        if let Some(retry) = &self.retry {
            // RFC 8446 4.2.8: after HRR, exactly one share, for the group we asked for.
            if retry
                .group
                .is_some_and(|g| shares.len() != 1 || share.map(|s| s.group) != Some(g))
            {
                return Err(PeerMisbehaved::IllegalParameter(Parameter::KeyShareAfterRetry).into());
            }
        }
        let share = match share {
            Some(share) => Some(share),
            None if psk_ke_only => None,
            None => {
                let group = cfg
                    .groups
                    .iter()
                    .find(|g| groups.contains(g))
                    .copied()
                    .ok_or(Error::HandshakeFailure(Failure::NoCommonGroup))?;
                return self.send_retry(cx, &msg, hello, suite, group);
            }
        };

        let sni = hello
            .server_name()
            .and_then(|n| std::str::from_utf8(n).ok())
            .map(str::to_ascii_lowercase);
        let psk = choose_psk(
            &self.config,
            hello,
            &msg.raw,
            suite,
            self.retry.as_ref(),
            sni.as_deref(),
            alpn.as_deref(),
            share.is_some(),
            cx.transport().label_prefix(),
            cx.transport(),
        )?;
        if share.is_none() && psk.as_ref().is_none_or(|p| p.dhe) {
            return Err(PeerMisbehaved::MissingExtension("key_share").into());
        }
        let suite = psk.as_ref().map_or(suite, |p| p.suite);

        let retry = self.retry;
        let retried = retry.is_some();
        // RFC 8446 4.1.4: the suite chosen after HRR must be the one HRR named.
        if retry.as_ref().is_some_and(|r| r.suite.suite != suite.suite) {
            return Err(Error::HandshakeFailure(Failure::SuiteChangedAfterRetry));
        }
        let mut transcript = match retry {
            Some(r) => r.transcript,
            None => Transcript::new(suite.hash),
        };
        transcript.update(&msg.raw);
        // RFC 8446 D.4: the compatibility CCS, on TLS over TCP whatever the client's
        // legacy_session_id (the client MUST drop a CCS at any point of the handshake, 5; an
        // empty session_id does not stop a middlebox from expecting one; BoringSSL sends it
        // always too). DTLS 1.3 (RFC 9147 5) and QUIC (RFC 9001 8.4) have none.
        let compat = !cx.transport().is_dtls() && !cx.transport().is_quic();

        let rng = cfg.rng.clone();
        let mut extensions = vec![ServerHelloExtension::SupportedVersions(cx.transport().v13())];
        let shared = match share.filter(|_| psk.as_ref().is_none_or(|p| p.dhe)) {
            Some(share) => {
                let (payload, shared) = KeyExchange::accept(share.group, &share.payload, rng.as_ref())?;
                extensions.push(ServerHelloExtension::KeyShare(KeyShareEntry {
                    group: share.group,
                    payload,
                }));
                cx.negotiated().group = Some(share.group);
                shared
            }
            // psk_ke: the handshake secret takes zeros for the (EC)DHE input (RFC 8446 7.1).
            None => Secret::new(vec![0u8; suite.hash.output_len()]),
        };
        if let Some(p) = &psk {
            // RFC 8446 4.2.11: the selected identity's index, after key_share.
            extensions.push(ServerHelloExtension::PreSharedKey(p.index));
        }
        if let Some(cid) = super::connection_id::server_reply(cx, hello) {
            extensions.push(cid);
        }
        let mut random = [0u8; 32];
        rng.fill(&mut random)?;

        cx.negotiated().version = Some(cx.transport().v13());
        cx.negotiated().suite = Some(suite.suite);
        cx.negotiated().sig_scheme = if psk.is_some() { None } else { Some(scheme) };
        cx.negotiated().client_random = hello.random;
        cx.negotiated().server_random = random;
        cx.negotiated().alpn = alpn.clone();
        cx.negotiated().sni = sni.clone();

        // 0-RTT (RFC 8446 4.2.10): keys over the ClientHello, before the ServerHello.
        let offered_early = hello.has(ExtensionType::EarlyData);
        let early_accepted = psk.as_ref().is_some_and(|p| p.early_accepted);
        let early_reason = match &psk {
            _ if self.config.resumption.max_early_data == 0 => EarlyDataReason::Disabled,
            None if hello.psk().is_none() => EarlyDataReason::NoSessionOffered,
            None => EarlyDataReason::SessionNotResumed,
            Some(p) => p.early_reason,
        };
        // A HelloRetryRequest rejected 0-RTT already (4.2.10); when the session offered does
        // not resume either, that is the reason kept: without the retry 0-RTT would have been
        // lost all the same, and for operations a ticket that stopped resuming is the finding
        // (BoringSSL reports it so too).
        if retried && early_reason == EarlyDataReason::SessionNotResumed {
            cx.negotiated()
                .early_data_redecided(EarlyDataReason::HelloRetryRequest, early_reason);
        }
        cx.negotiated().early_data_decided(early_reason);
        let mut client_early = None;
        if let Some(p) = &psk {
            if offered_early {
                cx.negotiated().early_data = Some(early_accepted);
            }
            if early_accepted {
                client_early = Some(p.keys.early_traffic(cx, &transcript.current_hash()));
            }
        }
        if offered_early && !early_accepted {
            // RFC 8446 4.2.10: skip the 0-RTT records we cannot or will not read.
            cx.early_data().skip_budget = MIN_EARLY_SKIP.max(self.config.resumption.max_early_data as usize);
        }
        if let Some(p) = &psk {
            match &p.external {
                Some(identity) => cx.negotiated().psk_identity = Some(identity.clone()),
                None => {
                    cx.negotiated().resumed = true;
                    cx.negotiated().peer_chain =
                        p.session.peer_chain.iter().map(|c| c.clone().into()).collect();
                }
            }
        }

        let mut server_hello = ServerHello {
            legacy_version: cx.transport().v12(),
            random,
            session_id: session_id_echo(cx.transport().v13(), &hello.session_id),
            cipher_suite: suite.suite,
            compression_method: 0,
            extensions,
        };
        if let Some(hook) = &self.config.server_hello_hook {
            hook(&mut server_hello);
        }
        cx.send_handshake(
            &HandshakePayload::ServerHello(server_hello),
            Some(&mut transcript),
        );
        let retried = cx.negotiated().hrr;
        // RFC 8446 D.4: one compatibility CCS after our first handshake message.
        if compat && !retried {
            cx.send_ccs();
        }

        let resumed = psk.is_some();
        let early_keys = match psk {
            Some(p) => p.keys,
            None => EarlyKeys::new(cx.transport().label_prefix(), suite, None),
        };
        let keys = early_keys.into_handshake(cx, Side::Server, shared.as_bytes(), &transcript);
        keys.traffic().install_write(cx);
        let early_accepted = client_early.is_some();
        match client_early {
            Some(early) => {
                early.install(cx, Side::Server);
                cx.early_data().receive_budget = self.config.resumption.max_early_data as usize;
            }
            None => keys.traffic().install_read(cx),
        }

        let mut extensions = Vec::new();
        if let Some(proto) = alpn {
            extensions.push(EncryptedExtension::Alpn(proto));
        }
        // RFC 5764 4.1.1 (RFC 8446 4.2: in EncryptedExtensions).
        if let Some(answer) = super::srtp::select(cx.transport(), &cfg.srtp, hello.use_srtp(), true) {
            cx.negotiated().srtp = answer.profiles.first().map(|p| (*p, answer.mki.clone()));
            extensions.push(EncryptedExtension::UseSrtp(answer));
        }
        if early_accepted {
            extensions.push(EncryptedExtension::EarlyData);
        }
        // RFC 6066 3: server_name is acknowledged (empty) when the name chose the certificate
        // (which a single-certificate config never does) or the application uses it, and
        // never on resumption ("MUST NOT"), where no certificate is chosen.
        let sni_used = sni_chose_cert || self.config.acknowledge_server_name && hello.server_name().is_some();
        if sni_used && !resumed {
            extensions.push(EncryptedExtension::ServerNameAck);
        }
        // QUIC (RFC 9001 8.2): our transport parameters.
        if let Some(params) = cx.local_transport_parameters() {
            extensions.push(EncryptedExtension::QuicTransportParameters(params));
        }
        if let Some(limit) =
            super::record_limit::server_reply(cx, &self.config.shared, hello.record_size_limit(), true)
        {
            extensions.push(EncryptedExtension::RecordSizeLimit(limit));
        }
        if let Some(hook) = &self.config.encrypted_extensions_hook {
            hook(&mut extensions);
        }
        cx.send_handshake(
            &HandshakePayload::EncryptedExtensions(extensions),
            Some(&mut transcript),
        );

        // RFC 8446 4.3.2: no CertificateRequest when authenticating with a resumption PSK,
        // and 4.4.2: no server Certificate either.
        let verifier = self.config.client_verifier.clone().filter(|_| !resumed);
        if let Some(verifier) = &verifier {
            let mut extensions = vec![CertReqExtension::SignatureAlgorithms(cfg.sig_schemes.clone())];
            let roots = verifier.root_subjects();
            if !roots.is_empty() {
                extensions.push(CertReqExtension::CertificateAuthorities(roots));
            }
            let request = CertificateRequest13 {
                context: Vec::new(),
                extensions,
            };
            cx.send_handshake(
                &HandshakePayload::CertificateRequest13(request),
                Some(&mut transcript),
            );
        }

        if !resumed {
            // Encoded once per certificate, not per handshake.
            cx.send_handshake_encoded(
                HandshakeType::Certificate,
                cert.certificate13(),
                Some(&mut transcript),
            );
            cx.negotiated().own_cert = Some(cert.clone());

            let signed = tls13_signed_message(true, &transcript.current_hash());
            let signature = cert.key.sign_with(scheme, &signed, rng.as_ref())?;
            let verify = CertificateVerify { scheme, signature };
            cx.send_handshake(
                &HandshakePayload::CertificateVerify(verify),
                Some(&mut transcript),
            );
        }

        let finished = keys.traffic().our_finished(&transcript.current_hash());
        cx.send_handshake(&HandshakePayload::Finished(finished), Some(&mut transcript));

        let keys = keys.into_application(cx, &transcript);
        // RFC 8446 4.4.4: the server may send data after its Finished (0.5-RTT).
        keys.install_write(cx);
        cx.open_application_data();

        let k = Keys {
            config: self.config.clone(),
            suite,
            keys,
            transcript,
            client_resumes,
        };
        // RFC 9001 8.3: QUIC clients send no EndOfEarlyData.
        if early_accepted && !cx.transport().is_quic() {
            return Ok(Handshake::Server(ServerState::EndOfEarlyData(
                ExpectEndOfEarlyData { k },
            )));
        }
        Ok(Handshake::Server(match verifier {
            Some(verifier) => ServerState::Certificate(ExpectCertificate {
                k,
                verifier,
                time: self.config.shared.time.clone(),
            }),
            None => ServerState::Finished(ExpectFinished { k }),
        }))
    }

    /// RFC 8446 4.1.4: ask for a share in `group`, with a cookie binding the first hello.
    fn send_retry(
        self,
        cx: &mut dyn Output,
        msg: &Msg,
        hello: &ClientHello,
        suite: &'static Tls13Suite,
        group: NamedGroup,
    ) -> Result<Handshake, Error> {
        if self.retry.is_some() {
            return Err(PeerMisbehaved::IllegalParameter(Parameter::SecondRetryNeeded).into());
        }
        let HandshakePayload::ClientHello(first) = msg.payload.clone() else {
            return Err(unexpected("expect ClientHello", msg));
        };
        let mut transcript = Transcript::new(suite.hash);
        transcript.update(&msg.raw);
        transcript.replace_with_message_hash();
        // The cookie is the hash of the first ClientHello: echoed back, it proves the second
        // hello continues this exchange.
        let cookie = suite.hash.hash(&msg.raw);
        let retry = hello_retry_request(
            (cx.transport().v13(), cx.transport().v12()),
            &first.session_id,
            suite,
            Some(group),
            &cookie,
        );
        cx.send_handshake(&HandshakePayload::HelloRetryRequest(retry), Some(&mut transcript));
        // RFC 8446 D.4, as after a ServerHello (see `compat` there).
        if !cx.transport().is_dtls() && !cx.transport().is_quic() {
            cx.send_ccs();
        }
        cx.negotiated().hrr = true;
        // RFC 8446 4.2.10: HelloRetryRequest rejects 0-RTT; skip what the client sent.
        if hello.has(ExtensionType::EarlyData) && self.config.resumption.max_early_data > 0 {
            cx.negotiated()
                .early_data_decided(EarlyDataReason::HelloRetryRequest);
        }
        if hello.has(ExtensionType::EarlyData) {
            cx.negotiated().early_data = Some(false);
            cx.early_data().skip_budget = MIN_EARLY_SKIP.max(self.config.resumption.max_early_data as usize);
        }
        Ok(Handshake::Server(ServerState::ClientHello(ExpectClientHello {
            config: self.config,
            retry: Some(RetrySent {
                first: Some(first),
                group: Some(group),
                suite,
                transcript,
                cookie,
            }),
        })))
    }
}

/// The HelloRetryRequest for `suite`, asking for a share in `group` (if any), with `cookie`
/// (RFC 8446 4.1.4). Deterministic: a stateless DTLS 1.3 server rebuilds the one it sent.
pub(crate) fn hello_retry_request(
    (v13, v12): (ProtocolVersion, ProtocolVersion),
    session_id: &[u8],
    suite: &'static Tls13Suite,
    group: Option<NamedGroup>,
    cookie: &[u8],
) -> HelloRetryRequest {
    let mut extensions = vec![HelloRetryExtension::SupportedVersions(v13)];
    if let Some(group) = group {
        extensions.push(HelloRetryExtension::KeyShare(group));
    }
    extensions.push(HelloRetryExtension::Cookie(cookie.to_vec()));
    HelloRetryRequest {
        legacy_version: v12,
        session_id: session_id_echo(v13, session_id),
        cipher_suite: suite.suite,
        extensions,
    }
}

/// The legacy_session_id_echo of a ServerHello or HelloRetryRequest of version `v13`: the
/// client's legacy_session_id (RFC 8446 4.1.3), except in DTLS 1.3, which has no
/// compatibility mode: RFC 9147 5, DTLS servers MUST NOT echo the client's value.
pub(crate) fn session_id_echo(v13: ProtocolVersion, session_id: &[u8]) -> Vec<u8> {
    if v13 == ProtocolVersion::DTLSv1_3 {
        Vec::new()
    } else {
        session_id.to_vec()
    }
}

/// What a stateless DTLS 1.3 server's HelloRetryRequest cookie carried back (RFC 9147 5.1):
/// enough to rebuild the transcript `message_hash(ClientHello1) || HelloRetryRequest`.
pub(crate) struct StatelessRetry {
    pub suite: &'static Tls13Suite,
    pub group: Option<NamedGroup>,
    /// Transcript-Hash(ClientHello1).
    pub ch1_hash: Vec<u8>,
    /// The cookie as the second ClientHello echoed it.
    pub cookie: Vec<u8>,
    /// legacy_session_id (the HelloRetryRequest echoed it; the second hello repeats it).
    pub session_id: Vec<u8>,
}

/// A server that already sent (statelessly) a HelloRetryRequest: it expects the second
/// ClientHello.
pub(crate) fn start_after_retry(
    config: Arc<ServerConfig>,
    cx: &mut dyn Output,
    retry: StatelessRetry,
) -> Handshake {
    let hrr = hello_retry_request(
        (cx.transport().v13(), cx.transport().v12()),
        &retry.session_id,
        retry.suite,
        retry.group,
        &retry.cookie,
    );
    let mut transcript = Transcript::new(retry.suite.hash);
    transcript.update_message_hash(&retry.ch1_hash);
    transcript.update(&HandshakePayload::HelloRetryRequest(hrr).encode());
    cx.negotiated().hrr = true;
    Handshake::Server(ServerState::ClientHello(ExpectClientHello {
        config,
        retry: Some(RetrySent {
            first: None,
            group: retry.group,
            suite: retry.suite,
            transcript,
            cookie: retry.cookie,
        }),
    }))
}

/// RFC 7301 3.2: our preference among what the client offered; no overlap is fatal.
pub(super) fn choose_alpn(ours: &[Vec<u8>], offered: Option<&[Vec<u8>]>) -> Result<Option<Vec<u8>>, Error> {
    match offered {
        Some(offered) if !ours.is_empty() => ours
            .iter()
            .find(|p| offered.contains(p))
            .cloned()
            .map(Some)
            .ok_or(Error::NoApplicationProtocol),
        _ => Ok(None),
    }
}

/// RFC 8446 4.2.11: picks the first offered identity that is one of our tickets, still
/// valid, and bound to this transport, SNI, ALPN and suite; then checks its binder (a mismatch is fatal,
/// 4.2.11.2). Identities we cannot use are ignored: the handshake falls back to a full one.
///
/// A ticket resumes only at `chosen`, the suite a full handshake would take now: RFC 8446
/// 4.2.11 lets a server resume at another suite of the same hash, or at the ticket's own
/// when the client still offers it, but a session must not keep a client on a suite that
/// its current offer or our current order would not pick (BoringSSL declines the same).
// The hello's facts this choice depends on, each one named: bundling them would only hide them.
#[allow(clippy::too_many_arguments)]
fn choose_psk(
    config: &ServerConfig,
    hello: &ClientHello,
    raw: &[u8],
    chosen: &'static Tls13Suite,
    retry: Option<&RetrySent>,
    sni: Option<&str>,
    alpn: Option<&[u8]>,
    have_share: bool,
    labels: &'static [u8],
    transport: Transport,
) -> Result<Option<PskChoice>, Error> {
    // DTLS 1.3 runs without 0-RTT here (epoch 1 is not implemented).
    let early_possible = labels == crate::crypto::hkdf::TLS13_LABEL_PREFIX;
    let r = &config.resumption;
    let Some(offered) = hello.psk() else {
        return Ok(None);
    };
    let modes = hello.psk_modes().unwrap_or(&[]);
    let dhe = modes.contains(&PskKeyExchangeMode::PskDheKe) && have_share;
    if !(dhe || r.allow_psk_ke && modes.contains(&PskKeyExchangeMode::PskKe)) {
        return Ok(None);
    }
    let time = &config.shared.time;
    let (now_secs, now_ms) = (time.now_unix(), time.now_millis());
    let mut found = None;
    for (i, id) in offered.identities.iter().enumerate().take(MAX_PSK_IDENTITIES) {
        // A session of another transport (TLS, DTLS, QUIC) is skipped like an unknown one.
        let Some(session) = r.storage.redeem(now_secs, &id.identity, transport) else {
            continue;
        };
        let age_ms = now_ms.saturating_sub(session.issued_ms);
        let fresh = age_ms <= u64::from(session.lifetime) * 1000;
        // After a HelloRetryRequest the suite it named is the one chosen.
        let suite_ok = match retry {
            Some(rt) => rt.suite.suite == session.suite,
            None => chosen.suite == session.suite,
        };
        let bound = session.sni.as_deref() == sni && session.alpn.as_deref() == alpn;
        // A session without a client certificate cannot stand in for a required one.
        let auth_ok = !config
            .client_verifier
            .as_ref()
            .is_some_and(|v| v.client_auth_mandatory() && session.peer_chain.is_empty());
        if fresh && suite_ok && bound && auth_ok {
            if let Some(suite) = tls13_suite(session.suite) {
                found = Some((i, id.obfuscated_ticket_age, session, suite));
                break;
            }
        }
    }
    let mut external = None;
    if found.is_none() {
        found = find_external_psk(config, hello, retry, transport, now_ms, &mut external);
    }
    let Some((index, obfuscated_age, session, suite)) = found else {
        return Ok(None);
    };
    let binder = offered
        .binders
        .get(index)
        .ok_or(PeerMisbehaved::IllegalParameter(Parameter::PskBinders))?;
    // RFC 8446 4.2.11.2: the binder is an HMAC over the transcript up to the ClientHello
    // truncated before the binders list (after HelloRetryRequest, with CH1 and HRR first).
    let truncated_len = raw
        .len()
        .checked_sub(hello.binders_encoded_len())
        .ok_or(PeerMisbehaved::IllegalParameter(Parameter::PskBinders))?;
    let mut transcript = match retry {
        Some(rt) => rt.transcript.clone(),
        None => Transcript::new(suite.hash),
    };
    transcript.update(&raw[..truncated_len]);
    let keys = EarlyKeys::new(labels, suite, Some(session.psk.as_bytes()));
    // RFC 8446 7.1: "ext binder" for an external PSK, "res binder" for a ticket.
    let expected = keys.binder(external.is_none(), &transcript.current_hash());
    if !Secret::new(expected).ct_eq(binder) {
        return Err(PeerMisbehaved::BadPskBinder.into());
    }

    // RFC 8446 4.2.10: 0-RTT only on the first identity, without HRR, with the ticket's
    // suite and ALPN (checked above), a fresh ticket age (8.3) and an unseen ClientHello (8.2).
    let client_age = u64::from(obfuscated_age.wrapping_sub(session.age_add));
    let server_age = now_ms.saturating_sub(session.issued_ms);
    let window = r.anti_replay.window_ms();
    let early_reason = if !hello.has(ExtensionType::EarlyData) {
        EarlyDataReason::PeerDeclined
    } else if !early_possible || r.max_early_data == 0 {
        EarlyDataReason::Disabled
    } else if retry.is_some() {
        EarlyDataReason::HelloRetryRequest
    } else if session.max_early_data == 0 || index != 0 {
        EarlyDataReason::UnsupportedForSession
    } else if client_age.abs_diff(server_age) > window {
        EarlyDataReason::TicketAgeSkew
    } else if !(r.storage.single_use() || r.anti_replay.check_fresh(binder, now_ms)) {
        EarlyDataReason::Replay
    } else {
        EarlyDataReason::Accepted
    };
    Ok(Some(PskChoice {
        index: index as u16,
        session,
        suite,
        keys,
        dhe,
        early_accepted: early_reason == EarlyDataReason::Accepted,
        early_reason,
        external,
    }))
}

/// RFC 8446 4.2.11: the first offered identity the PSK lookup knows (identities over
/// [`MAX_PSK_IDENTITY_LEN`](crate::config::MAX_PSK_IDENTITY_LEN) are not looked up), as a
/// session of our first SHA-256 suite the client offers (an external PSK's hash is SHA-256
/// unless provisioned otherwise), without early data. Sets `external` to the identity.
fn find_external_psk(
    config: &ServerConfig,
    hello: &ClientHello,
    retry: Option<&RetrySent>,
    transport: Transport,
    now_ms: u64,
    external: &mut Option<Vec<u8>>,
) -> Option<(usize, u32, ServerSession, &'static Tls13Suite)> {
    let lookup = config.psk_lookup.as_ref()?;
    let suite = match retry {
        Some(rt) => Some(rt.suite).filter(|s| s.hash == crate::crypto::HashAlg::Sha256)?,
        None => config
            .shared
            .suites
            .iter()
            .filter_map(|s| tls13_suite(*s))
            .find(|s| s.hash == crate::crypto::HashAlg::Sha256 && hello.cipher_suites.contains(&s.suite))?,
    };
    let offered = hello.psk()?;
    for (i, id) in offered.identities.iter().enumerate().take(MAX_PSK_IDENTITIES) {
        if id.identity.len() > crate::config::MAX_PSK_IDENTITY_LEN {
            continue;
        }
        if let Some(key) = lookup.key(&id.identity) {
            *external = Some(id.identity.clone());
            let session = ServerSession {
                transport,
                suite: suite.suite,
                psk: key,
                age_add: id.obfuscated_ticket_age,
                issued_ms: now_ms,
                lifetime: 0,
                max_early_data: 0,
                sni: None,
                alpn: None,
                peer_chain: Vec::new(),
            };
            return Some((i, id.obfuscated_ticket_age, session, suite));
        }
    }
    None
}

/// Secrets and transcript carried until the client's Finished.
struct Keys {
    config: Arc<ServerConfig>,
    suite: &'static Tls13Suite,
    keys: ApplicationKeys,
    transcript: Transcript,
    /// The client offered a psk_key_exchange_mode we accept: tickets are worth sending.
    client_resumes: bool,
}

pub(crate) struct ExpectEndOfEarlyData {
    k: Keys,
}

impl ExpectEndOfEarlyData {
    fn handle(mut self, cx: &mut dyn Output, msg: Msg) -> Result<Handshake, Error> {
        let HandshakePayload::EndOfEarlyData = &msg.payload else {
            return Err(unexpected("expect EndOfEarlyData", &msg));
        };
        // RFC 8446 4.5: EndOfEarlyData closes the early keys; handshake keys follow.
        self.k.transcript.update(&msg.raw);
        self.k.keys.handshake().install_read(cx);
        cx.early_data().receive_budget = 0;
        Ok(Handshake::Server(ServerState::Finished(ExpectFinished {
            k: self.k,
        })))
    }
}

pub(crate) struct ExpectCertificate {
    k: Keys,
    verifier: Arc<dyn pki::ClientCertVerifier>,
    time: Arc<dyn TimeProvider>,
}

impl ExpectCertificate {
    fn handle(mut self, cx: &mut dyn Output, msg: Msg) -> Result<Handshake, Error> {
        let HandshakePayload::Certificate13(cert) = &msg.payload else {
            return Err(unexpected("expect client Certificate", &msg));
        };
        if !cert.context.is_empty() {
            return Err(PeerMisbehaved::IllegalParameter(Parameter::CertificateRequestContext).into());
        }
        self.k.transcript.update(&msg.raw);
        super::check_chain_len(cert.entries.len())?;
        super::check_no_entry_extensions(&cert.entries)?;
        let Some((end_entity, rest)) = cert.entries.split_first() else {
            // RFC 8446 4.4.2.4: no certificate; fatal only if we require one.
            if self.verifier.client_auth_mandatory() {
                return Err(Error::CertificateRequired);
            }
            return Ok(Handshake::Server(ServerState::Finished(ExpectFinished {
                k: self.k,
            })));
        };
        let intermediates: Vec<&[u8]> = rest.iter().map(|e| e.cert.as_slice()).collect();
        let now = self.time.now_unix();
        self.verifier
            .verify_client_cert(&end_entity.cert, &intermediates, now)?;
        cx.negotiated().peer_chain = cert.entries.iter().map(|e| e.cert.clone().into()).collect();
        let spki = pki::end_entity_spki(&end_entity.cert)?;
        Ok(Handshake::Server(ServerState::CertificateVerify(
            ExpectCertificateVerify { k: self.k, spki },
        )))
    }
}

pub(crate) struct ExpectCertificateVerify {
    k: Keys,
    spki: Vec<u8>,
}

impl ExpectCertificateVerify {
    fn handle(mut self, cx: &mut dyn Output, msg: Msg) -> Result<Handshake, Error> {
        let HandshakePayload::CertificateVerify(cv) = &msg.payload else {
            return Err(unexpected("expect client CertificateVerify", &msg));
        };
        // RFC 8446 4.4.3: the scheme must be one our CertificateRequest offered.
        if !self.k.config.shared.sig_schemes.contains(&cv.scheme) {
            return Err(PeerMisbehaved::UnsupportedSignatureScheme.into());
        }
        let signed = tls13_signed_message(false, &self.k.transcript.current_hash());
        verify_signature(&self.spki, cv.scheme, &signed, &cv.signature, true)?;
        cx.negotiated().client_sig_scheme = Some(cv.scheme);
        self.k.transcript.update(&msg.raw);
        Ok(Handshake::Server(ServerState::Finished(ExpectFinished {
            k: self.k,
        })))
    }
}

pub(crate) struct ExpectFinished {
    k: Keys,
}

impl ExpectFinished {
    fn handle(self, cx: &mut dyn Output, msg: Msg) -> Result<Handshake, Error> {
        let HandshakePayload::Finished(verify_data) = &msg.payload else {
            return Err(unexpected("expect client Finished", &msg));
        };
        let mut k = self.k;
        k.keys
            .handshake()
            .check_their_finished(&k.transcript.current_hash(), verify_data)?;
        k.keys.install_read(cx);
        k.transcript.update(&msg.raw);
        if k.client_resumes && k.config.resumption.tickets > 0 {
            let res_master = k.keys.resumption_master_secret(&k.transcript);
            send_tickets(&k, cx, &res_master)?;
        }
        cx.emit(Event::HandshakeComplete);
        let (ours, theirs) = k.keys.into_traffic_secrets();
        Ok(Handshake::Established(Established13 {
            suite: k.suite,
            side: Side::Server,
            ours,
            theirs,
            key_updates_in_a_row: 0,
            answered_at_write: None,
            tickets: 0,
            resumption: None,
        }))
    }
}

/// RFC 8446 4.6.1: NewSessionTickets after the client's Finished, each with its own nonce,
/// age_add and PSK, sealed (or cached) with the SNI, ALPN and suite they are bound to.
fn send_tickets(k: &Keys, cx: &mut dyn Output, res_master: &Secret) -> Result<(), Error> {
    let r = &k.config.resumption;
    let shared = &k.config.shared;
    let (now_secs, now_ms) = (shared.time.now_unix(), shared.time.now_millis());
    // RFC 9001 4.6.1: a QUIC ticket allows 0-RTT with max_early_data_size 0xffffffff.
    let max_early_data = match r.max_early_data {
        n if n > 0 && cx.transport().is_quic() => super::established::QUIC_MAX_EARLY_DATA,
        n => n,
    };
    for i in 0..r.tickets {
        let nonce = vec![i as u8];
        let mut age_add = [0u8; 4];
        shared.rng.fill(&mut age_add)?;
        let age_add = u32::from_be_bytes(age_add);
        let session = ServerSession {
            transport: cx.transport(),
            suite: k.suite.suite,
            psk: resumption_psk_prefixed(
                k.suite.hash,
                cx.transport().label_prefix(),
                res_master.as_bytes(),
                &nonce,
            ),
            age_add,
            issued_ms: now_ms,
            lifetime: r.lifetime,
            max_early_data,
            sni: cx.negotiated().sni.clone(),
            alpn: cx.negotiated().alpn.clone(),
            peer_chain: cx.negotiated().peer_chain.iter().map(|c| c.to_vec()).collect(),
        };
        let Some(ticket) = r.storage.issue(shared.rng.as_ref(), now_secs, session)? else {
            return Ok(());
        };
        let mut extensions = Vec::new();
        if max_early_data > 0 {
            extensions.push(TicketExtension::EarlyData(max_early_data));
        }
        let nst = NewSessionTicket13 {
            lifetime: r.lifetime,
            age_add,
            nonce,
            ticket,
            extensions,
        };
        cx.send_handshake(&HandshakePayload::NewSessionTicket13(nst), None);
    }
    Ok(())
}
