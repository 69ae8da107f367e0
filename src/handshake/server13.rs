//! TLS 1.3 server (RFC 8446 2, 4): ClientHello (and a second one after HelloRetryRequest),
//! ServerHello, EncryptedExtensions, [CertificateRequest], Certificate, CertificateVerify,
//! Finished; then the client's [Certificate, CertificateVerify] and Finished.

use std::sync::Arc;

use super::{read_state13, unexpected, write_state13, Established13, Handshake, Msg};
use crate::codec::{ExtensionType, NamedGroup, ProtocolVersion};
use crate::conn::common::{Common, Side};
use crate::conn::{Event, ServerConfig, TimeProvider};
use crate::crypto::hash::Transcript;
use crate::crypto::key_schedule::{finished_verify_data, KeySchedule13};
use crate::crypto::kx::KeyExchange;
use crate::crypto::secret::Secret;
use crate::crypto::sign::{tls13_signed_message, verify_signature};
use crate::crypto::suites::{tls13_suite, Tls13Suite};
use crate::error::{Error, PeerMisbehaved};
use crate::msgs::*;
use crate::pki;

pub(crate) enum ServerState {
    ClientHello(ExpectClientHello),
    Certificate(ExpectCertificate),
    CertificateVerify(ExpectCertificateVerify),
    Finished(ExpectFinished),
}

impl ServerState {
    pub fn handle(self, cx: &mut Common, msg: Msg) -> Result<Handshake, Error> {
        match self {
            ServerState::ClientHello(s) => s.handle(cx, msg),
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
}

pub(crate) fn start(config: Arc<ServerConfig>) -> Handshake {
    Handshake::Server(ServerState::ClientHello(ExpectClientHello {
        config,
        retry: None,
    }))
}

/// What we remember after sending a HelloRetryRequest.
struct RetrySent {
    first: ClientHello,
    group: NamedGroup,
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
    Ok(())
}

impl ExpectClientHello {
    fn handle(self, cx: &mut Common, msg: Msg) -> Result<Handshake, Error> {
        let HandshakePayload::ClientHello(hello) = &msg.payload else {
            return Err(unexpected("expect ClientHello", &msg));
        };
        let cfg = &self.config.shared;
        // RFC 8446 4.2.1: TLS 1.3 is negotiated only through supported_versions; without it
        // (or with 1.3 disabled) `server12` answers.
        if !cfg.tls13()
            || !hello
                .supported_versions()
                .is_some_and(|v| v.contains(&ProtocolVersion::TLSv1_3))
        {
            if self.retry.is_some() {
                return Err(PeerMisbehaved::SecondClientHelloMismatch.into());
            }
            return super::server12::handle_client_hello(self.config.clone(), cx, &msg, hello);
        }
        // RFC 8446 4.1.2: exactly one compression method, null.
        if hello.compression_methods != [0] {
            return Err(PeerMisbehaved::CompressionNotNull.into());
        }
        if let Some(retry) = &self.retry {
            check_second_hello(&retry.first, hello)?;
            // Our cookie must come back unchanged.
            if hello.cookie() != Some(retry.cookie.as_slice()) {
                return Err(PeerMisbehaved::IllegalParameter("cookie").into());
            }
        } else if hello.cookie().is_some() {
            // We never sent a cookie, so a first ClientHello cannot carry one.
            return Err(PeerMisbehaved::IllegalParameter("cookie").into());
        }

        let suite = cfg
            .suites
            .iter()
            .find(|s| hello.cipher_suites.contains(s))
            .and_then(|s| tls13_suite(*s))
            .ok_or(Error::HandshakeFailure("no cipher suite in common"))?;
        let offered_schemes = hello
            .signature_algorithms()
            .ok_or(PeerMisbehaved::MissingExtension("signature_algorithms"))?;
        let scheme = self
            .config
            .cert
            .key
            .choose_scheme(offered_schemes, true)
            .ok_or(Error::HandshakeFailure("no signature scheme in common"))?;
        let groups = hello
            .supported_groups()
            .ok_or(PeerMisbehaved::MissingExtension("supported_groups"))?;
        let shares = hello
            .key_shares()
            .ok_or(PeerMisbehaved::MissingExtension("key_share"))?;
        // RFC 8446 4.2.8: each share for an offered group, at most one per group.
        for (i, share) in shares.iter().enumerate() {
            if !groups.contains(&share.group) || shares[..i].iter().any(|s| s.group == share.group) {
                return Err(PeerMisbehaved::IllegalParameter("key_share").into());
            }
        }
        let alpn = choose_alpn(&cfg.alpn, hello.alpn())?;

        // Our preference order: the first group the client sent a share for, else HRR.
        let share = cfg
            .groups
            .iter()
            .find_map(|g| shares.iter().find(|s| s.group == *g));
        if let Some(retry) = &self.retry {
            // RFC 8446 4.2.8: after HRR, exactly one share, for the group we asked for.
            if shares.len() != 1 || share.map(|s| s.group) != Some(retry.group) {
                return Err(PeerMisbehaved::IllegalParameter("key_share after HelloRetryRequest").into());
            }
        }
        let Some(share) = share else {
            let group = cfg
                .groups
                .iter()
                .find(|g| groups.contains(g))
                .copied()
                .ok_or(Error::HandshakeFailure("no key exchange group in common"))?;
            return self.send_retry(cx, &msg, suite, group);
        };

        let retry = self.retry;
        // RFC 8446 4.1.4: the suite chosen after HRR must be the one HRR named.
        if retry.as_ref().is_some_and(|r| r.suite.suite != suite.suite) {
            return Err(Error::HandshakeFailure(
                "cipher suite changed after HelloRetryRequest",
            ));
        }
        let mut transcript = match retry {
            Some(r) => r.transcript,
            None => Transcript::new(suite.hash),
        };
        transcript.update(&msg.raw);
        let compat = !hello.session_id.is_empty();
        let sni = hello
            .server_name()
            .and_then(|n| std::str::from_utf8(n).ok())
            .map(str::to_ascii_lowercase);

        let rng = cfg.rng.clone();
        let kx = KeyExchange::start(share.group, rng.as_ref())?;
        let our_share = KeyShareEntry {
            group: kx.group(),
            payload: kx.public_key().to_vec(),
        };
        let shared = kx.complete(&share.payload)?;
        let mut random = [0u8; 32];
        rng.fill(&mut random)?;

        cx.neg.version = Some(ProtocolVersion::TLSv1_3);
        cx.neg.suite = Some(suite.suite);
        cx.neg.group = Some(share.group);
        cx.neg.sig_scheme = Some(scheme);
        cx.neg.client_random = hello.random;
        cx.neg.server_random = random;
        cx.neg.alpn = alpn.clone();
        cx.neg.sni = sni.clone();

        let server_hello = ServerHello {
            legacy_version: ProtocolVersion::TLSv1_2,
            random,
            session_id: hello.session_id.clone(),
            cipher_suite: suite.suite,
            compression_method: 0,
            extensions: vec![
                ServerHelloExtension::SupportedVersions(ProtocolVersion::TLSv1_3),
                ServerHelloExtension::KeyShare(our_share),
            ],
        };
        cx.send_handshake(
            &HandshakePayload::ServerHello(server_hello),
            Some(&mut transcript),
        );
        let retried = cx.neg.hrr;
        // RFC 8446 D.4: one compatibility CCS after our first handshake message.
        if compat && !retried {
            cx.queue.push_ccs();
        }

        let mut ks = KeySchedule13::new(suite.hash, None);
        ks.input_shared_secret(shared.as_bytes());
        let hash = transcript.current_hash();
        let client_hs = ks.client_handshake_traffic_secret(&hash);
        let server_hs = ks.server_handshake_traffic_secret(&hash);
        cx.log_secret("CLIENT_HANDSHAKE_TRAFFIC_SECRET", &client_hs);
        cx.log_secret("SERVER_HANDSHAKE_TRAFFIC_SECRET", &server_hs);
        cx.install_write(write_state13(suite, &server_hs, cx.max_fragment));
        cx.install_read(read_state13(suite, &client_hs));

        let mut extensions = Vec::new();
        if let Some(proto) = alpn {
            extensions.push(EncryptedExtension::Alpn(proto));
        }
        // RFC 6066 3: server_name is acknowledged only when the name chose the certificate,
        // which a single-certificate config never does.
        cx.send_handshake(
            &HandshakePayload::EncryptedExtensions(extensions),
            Some(&mut transcript),
        );

        let verifier = self.config.client_verifier.clone();
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

        let entries = self
            .config
            .cert
            .chain
            .iter()
            .map(|c| CertificateEntry {
                cert: c.as_ref().to_vec(),
                extensions: Vec::new(),
            })
            .collect();
        let certificate = Certificate13 {
            context: Vec::new(),
            entries,
        };
        cx.send_handshake(
            &HandshakePayload::Certificate13(certificate),
            Some(&mut transcript),
        );

        let signed = tls13_signed_message(true, &transcript.current_hash());
        let signature = self.config.cert.key.sign(scheme, &signed)?;
        let verify = CertificateVerify { scheme, signature };
        cx.send_handshake(
            &HandshakePayload::CertificateVerify(verify),
            Some(&mut transcript),
        );

        let finished = finished_verify_data(suite.hash, server_hs.as_bytes(), &transcript.current_hash());
        cx.send_handshake(&HandshakePayload::Finished(finished), Some(&mut transcript));

        ks.input_empty();
        let server_finished_hash = transcript.current_hash();
        let client_ap = ks.client_application_traffic_secret_0(&server_finished_hash);
        let server_ap = ks.server_application_traffic_secret_0(&server_finished_hash);
        let exporter = ks.exporter_master_secret(&server_finished_hash);
        cx.log_secret("CLIENT_TRAFFIC_SECRET_0", &client_ap);
        cx.log_secret("SERVER_TRAFFIC_SECRET_0", &server_ap);
        cx.log_secret("EXPORTER_SECRET", &exporter);
        // RFC 8446 4.4.4: the server may send data after its Finished (0.5-RTT).
        cx.install_write(write_state13(suite, &server_ap, cx.max_fragment));
        cx.queue.open_app();
        cx.neg.exporter = Some((suite.hash, exporter));

        let k = Keys {
            suite,
            transcript,
            client_hs,
            client_ap,
            server_ap,
        };
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
        cx: &mut Common,
        msg: &Msg,
        suite: &'static Tls13Suite,
        group: NamedGroup,
    ) -> Result<Handshake, Error> {
        if self.retry.is_some() {
            return Err(PeerMisbehaved::IllegalParameter("second HelloRetryRequest needed").into());
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
        let retry = HelloRetryRequest {
            legacy_version: ProtocolVersion::TLSv1_2,
            session_id: first.session_id.clone(),
            cipher_suite: suite.suite,
            extensions: vec![
                HelloRetryExtension::SupportedVersions(ProtocolVersion::TLSv1_3),
                HelloRetryExtension::KeyShare(group),
                HelloRetryExtension::Cookie(cookie.clone()),
            ],
        };
        cx.send_handshake(&HandshakePayload::HelloRetryRequest(retry), Some(&mut transcript));
        if !first.session_id.is_empty() {
            cx.queue.push_ccs();
        }
        cx.neg.hrr = true;
        Ok(Handshake::Server(ServerState::ClientHello(ExpectClientHello {
            config: self.config,
            retry: Some(RetrySent {
                first,
                group,
                suite,
                transcript,
                cookie,
            }),
        })))
    }
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

/// Secrets and transcript carried until the client's Finished.
struct Keys {
    suite: &'static Tls13Suite,
    transcript: Transcript,
    client_hs: Secret,
    client_ap: Secret,
    server_ap: Secret,
}

pub(crate) struct ExpectCertificate {
    k: Keys,
    verifier: Arc<dyn pki::ClientCertVerifier>,
    time: Arc<dyn TimeProvider>,
}

impl ExpectCertificate {
    fn handle(mut self, cx: &mut Common, msg: Msg) -> Result<Handshake, Error> {
        let HandshakePayload::Certificate13(cert) = &msg.payload else {
            return Err(unexpected("expect client Certificate", &msg));
        };
        if !cert.context.is_empty() {
            return Err(PeerMisbehaved::IllegalParameter("certificate_request_context").into());
        }
        self.k.transcript.update(&msg.raw);
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
        cx.neg.peer_chain = cert.entries.iter().map(|e| e.cert.clone()).collect();
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
    fn handle(mut self, _cx: &mut Common, msg: Msg) -> Result<Handshake, Error> {
        let HandshakePayload::CertificateVerify(cv) = &msg.payload else {
            return Err(unexpected("expect client CertificateVerify", &msg));
        };
        let signed = tls13_signed_message(false, &self.k.transcript.current_hash());
        verify_signature(&self.spki, cv.scheme, &signed, &cv.signature, true)?;
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
    fn handle(self, cx: &mut Common, msg: Msg) -> Result<Handshake, Error> {
        let HandshakePayload::Finished(verify_data) = &msg.payload else {
            return Err(unexpected("expect client Finished", &msg));
        };
        let k = self.k;
        let expected =
            finished_verify_data(k.suite.hash, k.client_hs.as_bytes(), &k.transcript.current_hash());
        // RFC 8446 4.4.4: constant-time comparison; mismatch is decrypt_error.
        if !Secret::new(expected).ct_eq(verify_data) {
            return Err(Error::BadFinished);
        }
        cx.install_read(read_state13(k.suite, &k.client_ap));
        cx.events.push_back(Event::HandshakeComplete);
        Ok(Handshake::Established(Established13 {
            suite: k.suite,
            side: Side::Server,
            ours: k.server_ap,
            theirs: k.client_ap,
            key_updates_in_a_row: 0,
            tickets: 0,
        }))
    }
}
