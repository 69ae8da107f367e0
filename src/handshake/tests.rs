//! The state machines on their own, through a recording [`Output`]: no records, no
//! connection. Each test drives a client and a server machine by handing one's messages to
//! the other and checks what a rule of RFC 8446 section 4 (or RFC 5246 7.4) says: which
//! messages a state takes, the alert for one it refuses, which keys it installs and when.

use std::sync::Arc;

use super::output::{EarlyData, KeyLevel, Negotiated, Output, Transport};
use super::{client13, server13, Handshake, HandshakeLog, Msg};
use crate::codec::{AlertDescription, HandshakeType, KeyUpdateRequest, ProtocolVersion};
use crate::config::{CertifiedKey, ClientConfig, ServerConfig};
use crate::crypto::aead::RecordKey;
use crate::crypto::hash::Transcript;
use crate::crypto::secret::Secret;
use crate::crypto::suites::Tls13Suite;
use crate::crypto::Prk;
use crate::error::Error;
use crate::event::Event;
use crate::msgs::{Dialect, HandshakePayload, ServerHelloExtension};
use crate::pki::{ServerName, TrustAnchors, WebPkiServerVerifier};

/// One output of a state machine, in the order it was made.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Step {
    Sent(HandshakeType),
    Ccs,
    Write(KeyLevel),
    Read(KeyLevel),
    /// RFC 8446 5.1: plaintext records after the first ClientHello say 0x0303.
    RecordVersion,
    Write12,
    PendingRead12,
    Read12,
    AppOpen,
    Event(Event),
}

/// An [`Output`] that records what the state machine did and keeps the messages it sent
/// (TLS-encoded, header included) for the peer machine.
struct Recorder {
    transport: Transport,
    steps: Vec<Step>,
    outbox: Vec<Vec<u8>>,
    neg: Negotiated,
    early: EarlyData,
    pending_read12: bool,
    /// Each TLS 1.3 key installed: (write, level, the record key it expands to).
    keys13: Vec<(bool, KeyLevel, Vec<u8>)>,
}

impl Recorder {
    fn new() -> Self {
        Recorder {
            transport: Transport::Tls,
            steps: Vec::new(),
            outbox: Vec::new(),
            neg: Negotiated::default(),
            early: EarlyData::default(),
            pending_read12: false,
            keys13: Vec::new(),
        }
    }

    /// The steps so far, clearing them.
    fn take_steps(&mut self) -> Vec<Step> {
        std::mem::take(&mut self.steps)
    }

    /// The messages sent so far, clearing them.
    fn take_outbox(&mut self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.outbox)
    }
}

impl Output for Recorder {
    fn transport(&self) -> Transport {
        self.transport
    }

    fn send_handshake(&mut self, msg: &HandshakePayload, transcript: Option<&mut Transcript>) -> Vec<u8> {
        let bytes = msg.encode();
        if let Some(t) = transcript {
            t.update(&bytes);
        }
        self.steps.push(Step::Sent(msg.typ()));
        self.outbox.push(bytes.clone());
        bytes
    }

    fn send_handshake_encoded(
        &mut self,
        typ: HandshakeType,
        bytes: &[u8],
        transcript: Option<&mut Transcript>,
    ) {
        if let Some(t) = transcript {
            t.update(bytes);
        }
        self.steps.push(Step::Sent(typ));
        self.outbox.push(bytes.to_vec());
    }

    fn send_handshake12(&mut self, tls: Vec<u8>, log: &mut HandshakeLog) -> Result<(), Error> {
        log.add(&tls)?;
        self.steps.push(Step::Sent(HandshakeType::from(tls[0])));
        self.outbox.push(tls);
        Ok(())
    }

    fn last_sent_for_log12(&self, tls: Vec<u8>) -> Vec<u8> {
        tls
    }

    fn send_ccs(&mut self) {
        self.steps.push(Step::Ccs);
    }

    fn install_write13(&mut self, suite: &'static Tls13Suite, key: &Prk, level: KeyLevel) {
        self.steps.push(Step::Write(level));
        self.keys13.push((true, level, record_key_of(suite, key)));
    }

    fn install_read13(&mut self, suite: &'static Tls13Suite, key: &Prk, level: KeyLevel) {
        self.steps.push(Step::Read(level));
        self.keys13.push((false, level, record_key_of(suite, key)));
    }

    fn end_initial_record_version(&mut self) {
        self.steps.push(Step::RecordVersion);
    }

    fn install_write12(&mut self, _: RecordKey) {
        self.steps.push(Step::Write12);
    }

    fn set_pending_read12(&mut self, _: RecordKey) {
        self.pending_read12 = true;
        self.steps.push(Step::PendingRead12);
    }

    fn activate_pending_read12(&mut self) -> Result<(), Error> {
        if !std::mem::take(&mut self.pending_read12) {
            return Err(Error::Internal("ChangeCipherSpec without pending keys"));
        }
        self.steps.push(Step::Read12);
        Ok(())
    }

    fn open_application_data(&mut self) {
        self.steps.push(Step::AppOpen);
    }

    fn emit(&mut self, event: Event) {
        self.steps.push(Step::Event(event));
    }

    fn negotiated(&mut self) -> &mut Negotiated {
        &mut self.neg
    }

    fn early_data(&mut self) -> &mut EarlyData {
        &mut self.early
    }

    fn limit_fragment(&mut self, _: usize) {}

    fn log_secret(&self, _: &str, _: &Secret) {}

    fn local_transport_parameters(&self) -> Option<Vec<u8>> {
        None
    }

    fn take_peer_transport_parameters(&mut self, _: &[u8]) -> bool {
        false
    }

    fn has_peer_transport_parameters(&self) -> bool {
        false
    }

    fn traffic_secrets(&mut self, _: KeyLevel, _: &'static Tls13Suite, _: &Secret, _: &Secret) {}

    fn early_secret(&mut self, _: &'static Tls13Suite, _: &Secret) {}

    fn discard_early_keys(&mut self) {}
}

/// The record key a traffic secret expands to (RFC 8446 7.3), to tell installed keys apart.
fn record_key_of(suite: &'static Tls13Suite, key: &Prk) -> Vec<u8> {
    key.expand_label(b"key", &[], suite.aead.key_len())
        .as_bytes()
        .to_vec()
}

fn vectors() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("vectors")
}

fn client_config(versions: &[ProtocolVersion]) -> Arc<ClientConfig> {
    let anchors = TrustAnchors::from_pem_file(vectors().join("ca.pem")).unwrap();
    ClientConfig::builder(Arc::new(WebPkiServerVerifier::new(anchors)))
        .versions(versions)
        .build()
        .unwrap()
}

/// The server's certificate and key (ECDSA P-256, also valid for client authentication).
fn server_key() -> CertifiedKey {
    CertifiedKey::from_pem_files(
        vectors().join("localhost-ecdsa-p256.pem"),
        vectors().join("localhost-ecdsa-p256.key"),
    )
    .unwrap()
}

/// A TLS 1.3 server that lists only P-384, which the client sends no share of: it answers
/// with a HelloRetryRequest (RFC 8446 4.1.4).
fn p384_only_server() -> Arc<ServerConfig> {
    ServerConfig::builder(server_key())
        .versions(&[ProtocolVersion::TLSv1_3])
        .groups(&[crate::codec::NamedGroup::secp384r1])
        .build()
        .unwrap()
}

fn server_config(versions: &[ProtocolVersion]) -> Arc<ServerConfig> {
    ServerConfig::builder(server_key())
        .versions(versions)
        .tickets(1)
        .build()
        .unwrap()
}

/// Hands one TLS-encoded message to a state machine the way the connection does: header
/// check against the state first, then decoding in the state's dialect, then the state.
fn deliver(hs: Handshake, cx: &mut Recorder, raw: &[u8]) -> Result<Handshake, Error> {
    let typ = HandshakeType::from(raw[0]);
    let body = &raw[4..];
    hs.check_header(cx, typ, body.len())?;
    let payload = HandshakePayload::decode(typ, body, hs.dialect())?;
    hs.handle(
        cx,
        Msg {
            payload,
            raw: raw.to_vec(),
        },
    )
}

/// One TLS-encoded handshake message (header included) decoded in `dialect`.
fn decoded(raw: &[u8], dialect: Dialect) -> HandshakePayload {
    HandshakePayload::decode(HandshakeType::from(raw[0]), &raw[4..], dialect).unwrap()
}

/// Delivers every message in `flight`, in order.
fn deliver_all(
    mut hs: Handshake,
    cx: &mut Recorder,
    flight: &[impl AsRef<[u8]>],
) -> Result<Handshake, Error> {
    for raw in flight {
        hs = deliver(hs, cx, raw.as_ref())?;
    }
    Ok(hs)
}

fn alert_of(result: Result<Handshake, Error>) -> AlertDescription {
    match result {
        Ok(_) => panic!("the state accepted what it must refuse"),
        Err(e) => e.alert().expect("a peer's fault sends an alert"),
    }
}

/// The handshake types of TLS-encoded messages, in order.
fn types_of(msgs: &[Vec<u8>]) -> Vec<HandshakeType> {
    msgs.iter().map(|m| HandshakeType::from(m[0])).collect()
}

/// A client machine for "localhost" from `config`, its ClientHello in the recorder.
fn start_client(config: Arc<ClientConfig>) -> (Handshake, Recorder) {
    let mut c = Recorder::new();
    let hs = client13::start(config, Some(ServerName::try_from("localhost").unwrap()), &mut c).unwrap();
    (hs, c)
}

/// A TLS 1.3 client and server machine, each with its recorder.
struct Pair13 {
    client: Option<Handshake>,
    server: Option<Handshake>,
    c: Recorder,
    s: Recorder,
}

impl Pair13 {
    fn new() -> Self {
        let (client, c) = start_client(client_config(&[ProtocolVersion::TLSv1_3]));
        Pair13 {
            client: Some(client),
            server: Some(server13::start(server_config(&[ProtocolVersion::TLSv1_3]))),
            c,
            s: Recorder::new(),
        }
    }

    /// The client's queued messages to the server.
    fn deliver_to_server(&mut self) -> Result<(), Error> {
        let flight = self.c.take_outbox();
        let server = self.server.take().unwrap();
        self.server = Some(deliver_all(server, &mut self.s, &flight)?);
        Ok(())
    }

    /// The server's queued messages to the client.
    fn deliver_to_client(&mut self) -> Result<(), Error> {
        let flight = self.s.take_outbox();
        let client = self.client.take().unwrap();
        self.client = Some(deliver_all(client, &mut self.c, &flight)?);
        Ok(())
    }
}

impl Pair13 {
    /// The alert the client's machine answers `flight` with (it must refuse it).
    fn client_refuses(&mut self, flight: &[impl AsRef<[u8]>]) -> AlertDescription {
        alert_of(deliver_all(self.client.take().unwrap(), &mut self.c, flight))
    }

    /// The alert the server's machine answers `flight` with (it must refuse it).
    fn server_refuses(&mut self, flight: &[impl AsRef<[u8]>]) -> AlertDescription {
        alert_of(deliver_all(self.server.take().unwrap(), &mut self.s, flight))
    }
}

use Step::*;

/// RFC 8446 2 and 4: a full handshake, with every key installed where the RFC puts it and the
/// middlebox-compatibility CCS where D.4 puts it.
#[test]
fn tls13_full_handshake_outputs_in_rfc_order() {
    let mut p = Pair13::new();
    // The ClientHello goes out in plaintext; later plaintext says 0x0303 (5.1).
    assert_eq!(
        p.c.take_steps(),
        [Sent(HandshakeType::ClientHello), RecordVersion]
    );

    p.deliver_to_server().unwrap();
    // 4.1.3..4.4.4: ServerHello, then the handshake keys, then the encrypted flight; the
    // application write key right after our Finished (0.5-RTT), the read side waits for the
    // client's Finished.
    assert_eq!(
        p.s.take_steps(),
        [
            Sent(HandshakeType::ServerHello),
            Ccs,
            Write(KeyLevel::Handshake),
            Read(KeyLevel::Handshake),
            Sent(HandshakeType::EncryptedExtensions),
            Sent(HandshakeType::Certificate),
            Sent(HandshakeType::CertificateVerify),
            Sent(HandshakeType::Finished),
            Write(KeyLevel::Application),
            AppOpen,
        ]
    );

    p.deliver_to_client().unwrap();
    assert_eq!(
        p.c.take_steps(),
        [
            Read(KeyLevel::Handshake),
            Ccs,
            Write(KeyLevel::Handshake),
            Read(KeyLevel::Application),
            Sent(HandshakeType::Finished),
            Write(KeyLevel::Application),
            AppOpen,
            Event(Event::HandshakeComplete),
        ]
    );
    assert!(p.client.as_ref().unwrap().is_established());

    p.deliver_to_server().unwrap();
    // 4.6.1: tickets after the client's Finished, under the application keys.
    assert_eq!(
        p.s.take_steps(),
        [
            Read(KeyLevel::Application),
            Sent(HandshakeType::NewSessionTicket),
            Event(Event::HandshakeComplete),
        ]
    );
    p.deliver_to_client().unwrap();
    assert_eq!(p.c.take_steps(), [Event(Event::SessionTicket)]);
    // 7.1, 7.3: each side writes with the key the other reads with, at each level, and the
    // handshake and application keys differ.
    let of = |keys: &[(bool, KeyLevel, Vec<u8>)], write: bool, level: KeyLevel| {
        keys.iter()
            .find(|(w, l, _)| *w == write && *l == level)
            .map(|(_, _, k)| k.clone())
            .unwrap()
    };
    for level in [KeyLevel::Handshake, KeyLevel::Application] {
        assert_eq!(of(&p.c.keys13, true, level), of(&p.s.keys13, false, level));
        assert_eq!(of(&p.s.keys13, true, level), of(&p.c.keys13, false, level));
        assert_ne!(of(&p.c.keys13, true, level), of(&p.c.keys13, false, level));
    }
    assert_ne!(
        of(&p.c.keys13, true, KeyLevel::Handshake),
        of(&p.c.keys13, true, KeyLevel::Application)
    );
    assert_eq!(p.c.neg.version, Some(ProtocolVersion::TLSv1_3));
    assert_eq!(p.c.neg.suite, p.s.neg.suite);
    assert_eq!(p.c.neg.group, p.s.neg.group);
    assert_eq!(p.c.neg.server_random, p.s.neg.server_random);
}

/// RFC 8446 4: a client waiting for the ServerHello takes nothing else: each other server
/// message is unexpected_message, at its header.
#[test]
fn tls13_client_before_server_hello_refuses_every_other_message() {
    let mut p = Pair13::new();
    p.deliver_to_server().unwrap();
    let flight = p.s.take_outbox();
    for later in &flight[1..] {
        let (client, _) = start_client(client_config(&[ProtocolVersion::TLSv1_3]));
        assert_eq!(
            alert_of(deliver(client, &mut Recorder::new(), later)),
            AlertDescription::UnexpectedMessage,
            "{:?}",
            HandshakeType::from(later[0])
        );
    }
}

/// RFC 8446 4.3.1 and 4.4: after the ServerHello the server's messages come in one order;
/// skipping EncryptedExtensions or the CertificateVerify is unexpected_message.
#[test]
fn tls13_client_refuses_the_server_flight_out_of_order() {
    for skip in [1, 3] {
        let mut p = Pair13::new();
        p.deliver_to_server().unwrap();
        let mut flight = p.s.take_outbox();
        flight.remove(skip);
        assert_eq!(p.client_refuses(&flight), AlertDescription::UnexpectedMessage);
    }
}

/// RFC 8446 4.4.4: a server Finished that does not match the transcript is decrypt_error, and
/// no application key is installed.
#[test]
fn tls13_client_refuses_a_wrong_server_finished() {
    let mut p = Pair13::new();
    p.deliver_to_server().unwrap();
    let mut flight = p.s.take_outbox();
    *flight.last_mut().unwrap().last_mut().unwrap() ^= 1;
    assert_eq!(p.client_refuses(&flight), AlertDescription::DecryptError);
    assert!(!p.c.take_steps().contains(&Read(KeyLevel::Application)));
}

/// RFC 8446 4.4.4: the same rule on the server for the client's Finished.
#[test]
fn tls13_server_refuses_a_wrong_client_finished() {
    let mut p = Pair13::new();
    p.deliver_to_server().unwrap();
    p.deliver_to_client().unwrap();
    let mut flight = p.c.take_outbox();
    *flight.last_mut().unwrap().last_mut().unwrap() ^= 1;
    assert_eq!(p.server_refuses(&flight), AlertDescription::DecryptError);
    assert!(!p.s.take_steps().contains(&Read(KeyLevel::Application)));
}

/// RFC 8446 4.1.3: a ServerHello whose cipher suite the client did not offer is
/// illegal_parameter.
#[test]
fn tls13_client_refuses_a_suite_it_did_not_offer() {
    let (p, flight) = server_flight_with(|sh| sh.cipher_suite = crate::codec::CipherSuite::from(0x1305u16));
    assert_eq!(client_alert(p, &flight[..1]), AlertDescription::IllegalParameter);
}

/// RFC 8446 4.2.8: a key share for a group the client offered no share for (and the server
/// did not ask for by HelloRetryRequest) is illegal_parameter.
#[test]
fn tls13_client_refuses_a_key_share_of_another_group() {
    let (p, flight) = server_flight_with(|sh| {
        for ext in &mut sh.extensions {
            if let ServerHelloExtension::KeyShare(share) = ext {
                share.group = crate::codec::NamedGroup::secp384r1;
            }
        }
    });
    assert_eq!(client_alert(p, &flight[..1]), AlertDescription::IllegalParameter);
}

/// RFC 8446 4.1.2: a TLS 1.3 ClientHello whose compression methods are not exactly [null] is
/// illegal_parameter.
#[test]
fn tls13_server_refuses_compression() {
    let (_, mut c) = start_client(client_config(&[ProtocolVersion::TLSv1_3]));
    let hello = c.take_outbox().remove(0);
    let HandshakePayload::ClientHello(mut ch) = decoded(&hello, Dialect::Tls13) else {
        panic!("a ClientHello");
    };
    ch.compression_methods = vec![1, 0];
    let raw = HandshakePayload::ClientHello(ch).encode();
    let server = server13::start(server_config(&[ProtocolVersion::TLSv1_3]));
    let mut s = Recorder::new();
    assert_eq!(
        alert_of(deliver(server, &mut s, &raw)),
        AlertDescription::IllegalParameter
    );
    assert!(s.take_steps().is_empty(), "nothing sent, no key installed");
}

/// RFC 8446 4.2.1: a server that speaks only TLS 1.3 answers a ClientHello without
/// supported_versions with protocol_version.
#[test]
fn tls13_only_server_refuses_a_tls12_client() {
    let (_, mut c) = start_client(client_config(&[ProtocolVersion::TLSv1_2]));
    let hello = c.take_outbox().remove(0);
    let server = server13::start(server_config(&[ProtocolVersion::TLSv1_3]));
    assert_eq!(
        alert_of(deliver(server, &mut Recorder::new(), &hello)),
        AlertDescription::ProtocolVersion
    );
}

/// RFC 8446 4.6.3: a KeyUpdate installs the peer's next read key; with update_requested the
/// receiver answers with its own KeyUpdate before its next write key.
#[test]
fn tls13_key_update_installs_the_next_keys() {
    let mut p = Pair13::new();
    p.complete();
    let Some(Handshake::Established(mut est)) = p.server.take() else {
        panic!("server established");
    };
    est.update_ours(&mut p.s, true);
    assert_eq!(
        p.s.take_steps(),
        [
            Sent(HandshakeType::KeyUpdate),
            Write(KeyLevel::Update),
            Event(Event::KeyUpdated { ours: true })
        ]
    );
    p.server = Some(Handshake::Established(est));
    p.deliver_to_client().unwrap();
    assert_eq!(
        p.c.take_steps(),
        [
            Read(KeyLevel::Update),
            Event(Event::KeyUpdated { ours: false }),
            Sent(HandshakeType::KeyUpdate),
            Write(KeyLevel::Update),
            Event(Event::KeyUpdated { ours: true }),
        ]
    );
    // The answer does not ask again (4.6.3: update_not_requested).
    let answer = p.c.take_outbox().remove(0);
    let HandshakePayload::KeyUpdate(req) = decoded(&answer, Dialect::Tls13) else {
        panic!("a KeyUpdate");
    };
    assert_eq!(req, KeyUpdateRequest::UpdateNotRequested);
}

/// RFC 8446 4: once established, a handshake message other than NewSessionTicket (client),
/// KeyUpdate or CertificateRequest is unexpected_message, e.g. a second ServerHello.
#[test]
fn tls13_established_client_refuses_a_second_server_hello() {
    let mut p = Pair13::new();
    p.deliver_to_server().unwrap();
    let server_hello = p.s.outbox[0].clone();
    p.deliver_to_client().unwrap();
    assert_eq!(
        p.client_refuses(std::slice::from_ref(&server_hello)),
        AlertDescription::UnexpectedMessage
    );
}

/// RFC 5246 7.4 and 7.1: TLS 1.2's full handshake; each side's write key follows its own
/// ChangeCipherSpec and its read key waits, pending, for the peer's.
#[test]
fn tls12_full_handshake_keys_follow_change_cipher_spec() {
    let v12 = [ProtocolVersion::TLSv1_2];
    let (client, mut c) = start_client(client_config(&v12));
    let mut s = Recorder::new();
    let server = server13::start(server_config(&v12));
    let server = deliver_all(server, &mut s, &c.take_outbox()).unwrap();
    assert_eq!(
        s.take_steps(),
        [
            Sent(HandshakeType::ServerHello),
            Sent(HandshakeType::Certificate),
            Sent(HandshakeType::ServerKeyExchange),
            Sent(HandshakeType::ServerHelloDone),
        ]
    );
    c.take_steps();
    let client = deliver_all(client, &mut c, &s.take_outbox()).unwrap();
    assert_eq!(
        c.take_steps(),
        [
            Sent(HandshakeType::ClientKeyExchange),
            Ccs,
            Write12,
            Sent(HandshakeType::Finished),
            PendingRead12,
        ]
    );
    let flight = c.take_outbox();
    // RFC 5246 7.1: the Finished before the ChangeCipherSpec is refused.
    let early_finished = deliver_all(
        server13::start(server_config(&v12)),
        &mut Recorder::new(),
        &flight[..1],
    )
    .and_then(|hs| deliver(hs, &mut Recorder::new(), &flight[1]));
    assert_eq!(alert_of(early_finished), AlertDescription::UnexpectedMessage);

    let server = deliver(server, &mut s, &flight[0]).unwrap();
    assert_eq!(s.take_steps(), [PendingRead12]);
    let server = server.handle_ccs12(&mut s).unwrap();
    assert_eq!(s.take_steps(), [Read12]);
    let server = deliver(server, &mut s, &flight[1]).unwrap();
    let steps = s.take_steps();
    let ccs = steps.iter().position(|st| *st == Ccs).unwrap();
    assert_eq!(steps[ccs + 1], Write12, "write key right after our CCS");
    assert!(steps.contains(&Event(Event::HandshakeComplete)));
    assert!(server.is_established());

    // The server's flight: NewSessionTicket, then (after its CCS) Finished (RFC 5077 3.3).
    let [ticket, finished] = <[Vec<u8>; 2]>::try_from(s.take_outbox()).unwrap();
    let client = deliver(client, &mut c, &ticket).unwrap();
    let client = client.handle_ccs12(&mut c).unwrap();
    let client = deliver(client, &mut c, &finished).unwrap();
    let steps = c.take_steps();
    assert_eq!(steps[..1], [Read12]);
    assert!(steps.contains(&Event(Event::HandshakeComplete)) && client.is_established());
    // A second ChangeCipherSpec is unexpected (RFC 5246 7.1).
    assert_eq!(
        client.handle_ccs12(&mut c).err().and_then(|e| e.alert()),
        Some(AlertDescription::UnexpectedMessage)
    );
}

/// RFC 8446 4.1.4: a server whose groups the client sent no share for answers with a
/// HelloRetryRequest and installs no key; the client sends its compatibility CCS (D.4) and a
/// second ClientHello with one share of the group asked for, still in plaintext.
#[test]
fn tls13_hello_retry_request_installs_no_key_until_the_second_hello() {
    let mut p = Pair13::new();
    p.server = Some(server13::start(p384_only_server()));
    p.c.take_steps();
    p.deliver_to_server().unwrap();
    // D.4: the server's compatibility CCS follows its first message, here the retry request.
    assert_eq!(p.s.take_steps(), [Sent(HandshakeType::ServerHello), Ccs]);
    assert!(matches!(
        HandshakePayload::decode(HandshakeType::ServerHello, &p.s.outbox[0][4..], Dialect::Tls13),
        Ok(HandshakePayload::HelloRetryRequest(_))
    ));
    let retry = p.s.outbox[0].clone();
    p.deliver_to_client().unwrap();
    assert_eq!(p.c.take_steps(), [Ccs, Sent(HandshakeType::ClientHello)]);
    let HandshakePayload::ClientHello(ch2) = decoded(&p.c.outbox[0], Dialect::Tls13) else {
        panic!("a second ClientHello");
    };
    let groups: Vec<_> = ch2.key_shares().unwrap().iter().map(|k| k.group).collect();
    assert_eq!(groups, [crate::codec::NamedGroup::secp384r1]);
    // A second HelloRetryRequest is unexpected_message (RFC 8446 4.1.4).
    assert_eq!(
        p.client_refuses(std::slice::from_ref(&retry)),
        AlertDescription::UnexpectedMessage
    );
}

/// The server's first flight with its ServerHello changed by `change`.
fn server_flight_with(change: impl FnOnce(&mut crate::msgs::ServerHello)) -> (Pair13, Vec<Vec<u8>>) {
    let mut p = Pair13::new();
    p.deliver_to_server().unwrap();
    let mut flight = p.s.take_outbox();
    let HandshakePayload::ServerHello(mut sh) = decoded(&flight[0], Dialect::Tls13) else {
        panic!("first message is the ServerHello");
    };
    change(&mut sh);
    flight[0] = HandshakePayload::ServerHello(sh).encode();
    (p, flight)
}

/// The client's answer to a flight, as an alert.
fn client_alert(mut p: Pair13, flight: &[Vec<u8>]) -> AlertDescription {
    p.client_refuses(flight)
}

/// RFC 8446 4.1.3: legacy_session_id_echo must echo the client's session ID.
#[test]
fn tls13_client_refuses_a_session_id_it_did_not_send() {
    let (p, flight) = server_flight_with(|sh| sh.session_id[0] ^= 1);
    assert_eq!(client_alert(p, &flight[..1]), AlertDescription::IllegalParameter);
}

/// RFC 8446 4.2.1: a selected_version the client did not offer is illegal_parameter.
#[test]
fn tls13_client_refuses_a_version_it_did_not_offer() {
    let (p, flight) = server_flight_with(|sh| {
        for ext in &mut sh.extensions {
            if let ServerHelloExtension::SupportedVersions(v) = ext {
                *v = ProtocolVersion::from(0x0305u16);
            }
        }
    });
    assert_eq!(client_alert(p, &flight[..1]), AlertDescription::IllegalParameter);
}

/// RFC 8446 4.2: an extension the client did not offer is unsupported_extension (a
/// pre_shared_key when no PSK was offered); a recognised one the table does not allow in a
/// ServerHello is illegal_parameter (session_ticket).
#[test]
fn tls13_client_refuses_unsolicited_and_misplaced_server_hello_extensions() {
    let (p, flight) = server_flight_with(|sh| sh.extensions.push(ServerHelloExtension::PreSharedKey(0)));
    assert_eq!(
        client_alert(p, &flight[..1]),
        AlertDescription::UnsupportedExtension
    );
    let (p, flight) = server_flight_with(|sh| sh.extensions.push(ServerHelloExtension::SessionTicketAck));
    assert_eq!(client_alert(p, &flight[..1]), AlertDescription::IllegalParameter);
}

/// RFC 8446 4.1.3: a TLS 1.3 client that gets a TLS 1.2 ServerHello whose random ends in
/// the downgrade sentinel aborts with illegal_parameter.
#[test]
fn client_refuses_a_tls12_server_hello_with_the_downgrade_sentinel() {
    let both = [ProtocolVersion::TLSv1_3, ProtocolVersion::TLSv1_2];
    let (client, mut c) = start_client(client_config(&both));
    let mut s = Recorder::new();
    let server = server13::start(server_config(&[ProtocolVersion::TLSv1_2]));
    let _ = deliver_all(server, &mut s, &c.take_outbox()).unwrap();
    let flight = s.take_outbox();
    let mut sh = match HandshakePayload::decode(HandshakeType::ServerHello, &flight[0][4..], Dialect::Tls12) {
        Ok(HandshakePayload::ServerHello(sh)) => sh,
        other => panic!("a TLS 1.2 ServerHello, got {other:?}"),
    };
    // Without the sentinel a client takes the same hello (a TLS 1.2-only server sets none).
    let (other, _) = start_client(client_config(&both));
    assert!(deliver(other, &mut Recorder::new(), &flight[0]).is_ok());
    sh.random[24..].copy_from_slice(b"DOWNGRD\x01");
    let raw = HandshakePayload::ServerHello(sh).encode();
    assert_eq!(
        alert_of(deliver(client, &mut c, &raw)),
        AlertDescription::IllegalParameter
    );
}

/// RFC 8446 4.4.2.4: a server that sends an empty Certificate makes the client abort with
/// decode_error.
#[test]
fn tls13_client_refuses_an_empty_server_certificate() {
    let (p, mut flight) = server_flight_with(|_| {});
    flight[2] = HandshakePayload::Certificate13(crate::msgs::Certificate13 {
        context: Vec::new(),
        entries: Vec::new(),
    })
    .encode();
    assert_eq!(client_alert(p, &flight), AlertDescription::DecodeError);
}

/// RFC 8446 4.4.3: a CertificateVerify whose signature does not verify is decrypt_error.
#[test]
fn tls13_client_refuses_a_bad_certificate_verify() {
    let (p, mut flight) = server_flight_with(|_| {});
    let verify = flight[3].last_mut().unwrap();
    *verify ^= 0x55;
    assert_eq!(client_alert(p, &flight), AlertDescription::DecryptError);
}

/// RFC 8446 4.4.2: a client Certificate the server did not ask for (no CertificateRequest)
/// is unexpected_message; so is a NewSessionTicket or an EndOfEarlyData from a client that
/// sent no early data (4.5, 4.6.1).
#[test]
fn tls13_server_refuses_client_messages_it_did_not_ask_for() {
    let unasked = [
        HandshakePayload::Certificate13(crate::msgs::Certificate13 {
            context: Vec::new(),
            entries: Vec::new(),
        })
        .encode(),
        HandshakePayload::EndOfEarlyData.encode(),
        HandshakePayload::KeyUpdate(KeyUpdateRequest::UpdateNotRequested).encode(),
    ];
    for raw in unasked {
        let mut p = Pair13::new();
        p.deliver_to_server().unwrap();
        p.deliver_to_client().unwrap();
        let server = p.server.take().unwrap();
        assert_eq!(
            alert_of(deliver(server, &mut p.s, &raw)),
            AlertDescription::UnexpectedMessage,
            "{:?}",
            HandshakeType::from(raw[0])
        );
    }
}

/// RFC 8446 4.1.4: a HelloRetryRequest for a group the client already sent a share of is
/// illegal_parameter.
#[test]
fn tls13_client_refuses_a_retry_for_a_group_it_already_shared() {
    let mut p = Pair13::new();
    let hello = p.c.outbox[0].clone();
    let HandshakePayload::ClientHello(ch) = decoded(&hello, Dialect::Tls13) else {
        panic!("a ClientHello");
    };
    let shared = ch.key_shares().unwrap()[0].group;
    let retry = HandshakePayload::HelloRetryRequest(crate::msgs::HelloRetryRequest {
        legacy_version: ProtocolVersion::TLSv1_2,
        session_id: ch.session_id.clone(),
        cipher_suite: crate::codec::CipherSuite::TLS_AES_128_GCM_SHA256,
        extensions: vec![
            crate::msgs::HelloRetryExtension::SupportedVersions(ProtocolVersion::TLSv1_3),
            crate::msgs::HelloRetryExtension::KeyShare(shared),
        ],
    })
    .encode();
    assert_eq!(
        p.client_refuses(std::slice::from_ref(&retry)),
        AlertDescription::IllegalParameter
    );
}

/// A TLS 1.2 client machine and the server's first flight to it (ServerHello, Certificate,
/// ServerKeyExchange, ServerHelloDone).
fn tls12_server_flight() -> (Handshake, Recorder, Vec<Vec<u8>>) {
    let v12 = [ProtocolVersion::TLSv1_2];
    let (client, mut c) = start_client(client_config(&v12));
    let mut s = Recorder::new();
    deliver_all(server13::start(server_config(&v12)), &mut s, &c.take_outbox()).unwrap();
    (client, c, s.take_outbox())
}

/// RFC 5246 7.3: the server's first flight comes in one order; a ServerHelloDone in place of
/// the Certificate or the ServerKeyExchange is unexpected_message.
#[test]
fn tls12_client_refuses_the_server_flight_out_of_order() {
    for skip in [1, 2] {
        let (client, mut c, mut flight) = tls12_server_flight();
        flight.remove(skip);
        assert_eq!(
            alert_of(deliver_all(client, &mut c, &flight)),
            AlertDescription::UnexpectedMessage
        );
    }
}

/// RFC 5246 7.4.3 (RFC 8422 5.4): a ServerKeyExchange whose signature does not verify is
/// decrypt_error, and nothing is sent.
#[test]
fn tls12_client_refuses_a_bad_server_key_exchange_signature() {
    let (client, mut c, mut flight) = tls12_server_flight();
    *flight[2].last_mut().unwrap() ^= 0x55;
    c.take_steps();
    assert_eq!(
        alert_of(deliver_all(client, &mut c, &flight)),
        AlertDescription::DecryptError
    );
    assert!(c.take_steps().is_empty());
}

/// The client's first TLS 1.3 ClientHello, decoded.
fn client_hello13() -> crate::msgs::ClientHello {
    let (_, mut c) = start_client(client_config(&[ProtocolVersion::TLSv1_3]));
    let hello = c.take_outbox().remove(0);
    match HandshakePayload::decode(HandshakeType::ClientHello, &hello[4..], Dialect::Tls13) {
        Ok(HandshakePayload::ClientHello(ch)) => ch,
        other => panic!("a ClientHello, got {other:?}"),
    }
}

/// What a fresh TLS 1.3 server answers to the client's first hello changed by `change`: the
/// alert, after checking that the refusal sent nothing and installed no key.
fn server_alert_for_hello(change: impl FnOnce(&mut crate::msgs::ClientHello)) -> AlertDescription {
    let mut ch = client_hello13();
    change(&mut ch);
    let raw = HandshakePayload::ClientHello(ch).encode();
    let mut s = Recorder::new();
    let alert = alert_of(deliver(
        server13::start(server_config(&[ProtocolVersion::TLSv1_3])),
        &mut s,
        &raw,
    ));
    assert!(
        s.take_steps().is_empty(),
        "a refused hello gets no answer and no key"
    );
    alert
}

fn drop_client_extension(ch: &mut crate::msgs::ClientHello, typ: crate::codec::ExtensionType) {
    ch.extensions.retain(|e| e.typ() != typ);
}

/// RFC 8446 9.2: a TLS 1.3 ClientHello that asks for certificate authentication without
/// signature_algorithms, or sends key_share without supported_groups, is missing_extension.
#[test]
fn tls13_server_refuses_a_hello_missing_a_mandatory_extension() {
    use crate::codec::ExtensionType;
    assert_eq!(
        server_alert_for_hello(|ch| drop_client_extension(ch, ExtensionType::SignatureAlgorithms)),
        AlertDescription::MissingExtension
    );
    assert_eq!(
        server_alert_for_hello(|ch| drop_client_extension(ch, ExtensionType::SupportedGroups)),
        AlertDescription::MissingExtension
    );
}

/// RFC 8446 4.2.8: each KeyShareEntry names a group of supported_groups, at most one per
/// group; otherwise illegal_parameter.
#[test]
fn tls13_server_refuses_key_shares_that_break_the_group_rules() {
    use crate::msgs::ClientExtension;
    // A share for a group the client did not list.
    assert_eq!(
        server_alert_for_hello(|ch| {
            for ext in &mut ch.extensions {
                if let ClientExtension::SupportedGroups(groups) = ext {
                    let shared = groups.remove(0);
                    groups.retain(|g| *g != shared);
                }
            }
        }),
        AlertDescription::IllegalParameter
    );
    // Two shares of one group.
    assert_eq!(
        server_alert_for_hello(|ch| {
            for ext in &mut ch.extensions {
                if let ClientExtension::KeyShare(shares) = ext {
                    let again = shares[0].clone();
                    shares.push(again);
                }
            }
        }),
        AlertDescription::IllegalParameter
    );
}

/// RFC 8446 4.1.1: no cipher suite in common is handshake_failure; so is no group in common
/// when no HelloRetryRequest can help.
#[test]
fn tls13_server_without_a_common_suite_or_group_is_handshake_failure() {
    use crate::codec::{CipherSuite, NamedGroup};
    use crate::msgs::ClientExtension;
    assert_eq!(
        server_alert_for_hello(|ch| ch.cipher_suites = vec![CipherSuite::from(0x1305u16)]),
        AlertDescription::HandshakeFailure
    );
    assert_eq!(
        server_alert_for_hello(|ch| {
            for ext in &mut ch.extensions {
                match ext {
                    ClientExtension::SupportedGroups(groups) => *groups = vec![NamedGroup::from(0x0101u16)],
                    ClientExtension::KeyShare(shares) => shares.clear(),
                    _ => {}
                }
            }
        }),
        AlertDescription::HandshakeFailure
    );
}

/// RFC 8446 4.2.11: pre_shared_key is the last extension of the ClientHello
/// (illegal_parameter otherwise); 4.2.9: a client offering a PSK without
/// psk_key_exchange_modes is refused with missing_extension.
#[test]
fn tls13_server_refuses_a_misplaced_or_modeless_pre_shared_key() {
    use crate::codec::ExtensionType;
    use crate::msgs::{ClientExtension, OfferedPsks, PskIdentity};
    let psk = || {
        ClientExtension::PreSharedKey(OfferedPsks {
            identities: vec![PskIdentity {
                identity: b"no such ticket".to_vec(),
                obfuscated_ticket_age: 0,
            }],
            binders: vec![vec![0; 32]],
        })
    };
    assert_eq!(
        server_alert_for_hello(|ch| ch.extensions.insert(0, psk())),
        AlertDescription::IllegalParameter
    );
    assert_eq!(
        server_alert_for_hello(|ch| {
            drop_client_extension(ch, ExtensionType::PskKeyExchangeModes);
            ch.extensions.push(psk());
        }),
        AlertDescription::MissingExtension
    );
}

/// The two machines through a HelloRetryRequest: the server lists only P-384, for which the
/// client sent no share. Returns the pair with the client's second ClientHello queued.
fn pair_after_retry() -> Pair13 {
    let mut p = Pair13::new();
    p.server = Some(server13::start(p384_only_server()));
    p.deliver_to_server().unwrap();
    p.deliver_to_client().unwrap();
    p.c.take_steps();
    p.s.take_steps();
    p
}

/// The second ClientHello of `p`, changed by `change`, delivered to the server: its alert.
fn server_alert_for_second_hello(
    mut p: Pair13,
    change: impl FnOnce(&mut crate::msgs::ClientHello),
) -> AlertDescription {
    let raw = p.c.take_outbox().remove(0);
    let HandshakePayload::ClientHello(mut ch) = decoded(&raw, Dialect::Tls13) else {
        panic!("a second ClientHello");
    };
    change(&mut ch);
    let server = p.server.take().unwrap();
    let alert = alert_of(deliver(
        server,
        &mut p.s,
        &HandshakePayload::ClientHello(ch).encode(),
    ));
    assert!(!p.s.take_steps().iter().any(|s| matches!(s, Write(_) | Read(_))));
    alert
}

/// RFC 8446 4.1.2 and 4.1.4: the second ClientHello repeats the first except for the changes
/// the HelloRetryRequest asked for; its key_share holds one share of the group asked for.
/// Another suite list or a share of another group is illegal_parameter; the unchanged hello
/// goes on to the ServerHello and the handshake keys.
#[test]
fn tls13_server_holds_the_second_client_hello_to_the_retry() {
    use crate::codec::{CipherSuite, NamedGroup};
    use crate::msgs::ClientExtension;
    let mut p = pair_after_retry();
    p.deliver_to_server().unwrap();
    let steps = p.s.take_steps();
    assert_eq!(
        steps[..2],
        [Sent(HandshakeType::ServerHello), Write(KeyLevel::Handshake)]
    );

    assert_eq!(
        server_alert_for_second_hello(pair_after_retry(), |ch| {
            ch.cipher_suites
                .retain(|s| *s != CipherSuite::TLS_AES_128_GCM_SHA256)
        }),
        AlertDescription::IllegalParameter
    );
    let p = pair_after_retry();
    let first_share = client_hello13().key_shares().unwrap()[0].clone();
    assert_ne!(first_share.group, NamedGroup::secp384r1);
    assert_eq!(
        server_alert_for_second_hello(p, |ch| {
            for ext in &mut ch.extensions {
                if let ClientExtension::KeyShare(shares) = ext {
                    *shares = vec![first_share.clone()];
                }
            }
        }),
        AlertDescription::IllegalParameter
    );
}

/// A HelloRetryRequest to the client's first hello, with `extensions`.
fn retry_with(
    ch: &crate::msgs::ClientHello,
    suite: crate::codec::CipherSuite,
    extensions: Vec<crate::msgs::HelloRetryExtension>,
) -> Vec<u8> {
    HandshakePayload::HelloRetryRequest(crate::msgs::HelloRetryRequest {
        legacy_version: ProtocolVersion::TLSv1_2,
        session_id: ch.session_id.clone(),
        cipher_suite: suite,
        extensions,
    })
    .encode()
}

/// RFC 8446 4.1.4: a HelloRetryRequest for a suite the client did not offer, for a group it
/// did not list, or one that would not change the ClientHello is illegal_parameter.
#[test]
fn tls13_client_refuses_a_retry_it_cannot_follow() {
    use crate::codec::{CipherSuite, NamedGroup};
    use crate::msgs::HelloRetryExtension;
    let v13 = HelloRetryExtension::SupportedVersions(ProtocolVersion::TLSv1_3);
    let cases = [
        (
            CipherSuite::from(0x1305u16),
            vec![v13.clone(), HelloRetryExtension::KeyShare(NamedGroup::secp384r1)],
        ),
        (
            CipherSuite::TLS_AES_128_GCM_SHA256,
            vec![
                v13.clone(),
                HelloRetryExtension::KeyShare(NamedGroup::from(0x0101u16)),
            ],
        ),
        (CipherSuite::TLS_AES_128_GCM_SHA256, vec![v13.clone()]),
    ];
    for (suite, extensions) in cases {
        let mut p = Pair13::new();
        let HandshakePayload::ClientHello(ch) = decoded(&p.c.outbox[0], Dialect::Tls13) else {
            panic!("a ClientHello");
        };
        let retry = retry_with(&ch, suite, extensions.clone());
        p.c.take_steps();
        assert_eq!(
            p.client_refuses(std::slice::from_ref(&retry)),
            AlertDescription::IllegalParameter,
            "{suite:?} {extensions:?}"
        );
        assert!(!p.c.take_steps().contains(&Sent(HandshakeType::ClientHello)));
    }
}

/// RFC 8446 4.1.4: the ServerHello after a HelloRetryRequest keeps the retry's suite;
/// another is illegal_parameter.
#[test]
fn tls13_client_refuses_a_server_hello_that_changes_the_retry_suite() {
    use crate::codec::CipherSuite;
    let mut p = pair_after_retry();
    p.deliver_to_server().unwrap();
    let mut flight = p.s.take_outbox();
    let HandshakePayload::ServerHello(mut sh) = decoded(&flight[0], Dialect::Tls13) else {
        panic!("a ServerHello");
    };
    assert_eq!(sh.cipher_suite, CipherSuite::TLS_AES_128_GCM_SHA256);
    sh.cipher_suite = CipherSuite::TLS_AES_256_GCM_SHA384;
    flight[0] = HandshakePayload::ServerHello(sh).encode();
    assert_eq!(client_alert(p, &flight[..1]), AlertDescription::IllegalParameter);
}

/// The server's first flight with its EncryptedExtensions changed by `change`.
fn server_flight_with_extensions(
    change: impl FnOnce(&mut Vec<crate::msgs::EncryptedExtension>),
) -> (Pair13, Vec<Vec<u8>>) {
    let (p, mut flight) = server_flight_with(|_| {});
    let HandshakePayload::EncryptedExtensions(mut ee) = decoded(&flight[1], Dialect::Tls13) else {
        panic!("EncryptedExtensions second");
    };
    change(&mut ee);
    flight[1] = HandshakePayload::EncryptedExtensions(ee).encode();
    (p, flight)
}

/// RFC 8446 4.2 and 4.3.1: EncryptedExtensions answering an extension the client did not
/// send is unsupported_extension (ALPN without an offer, RFC 7301 3.2); one that belongs in
/// another message (key_share) is illegal_parameter.
#[test]
fn tls13_client_refuses_unasked_and_misplaced_encrypted_extensions() {
    use crate::msgs::EncryptedExtension;
    let (p, flight) = server_flight_with_extensions(|ee| ee.push(EncryptedExtension::Alpn(b"h2".to_vec())));
    assert_eq!(
        client_alert(p, &flight[..2]),
        AlertDescription::UnsupportedExtension
    );
    let (p, flight) = server_flight_with_extensions(|ee| {
        ee.push(EncryptedExtension::Unknown {
            typ: crate::codec::ExtensionType::KeyShare,
            data: vec![0, 23, 0, 1, 4],
        })
    });
    assert_eq!(client_alert(p, &flight[..2]), AlertDescription::IllegalParameter);
}

/// RFC 8446 4.4.2: the server's Certificate has an empty certificate_request_context.
#[test]
fn tls13_client_refuses_a_server_certificate_with_a_context() {
    let (p, mut flight) = server_flight_with(|_| {});
    let HandshakePayload::Certificate13(mut cert) = decoded(&flight[2], Dialect::Tls13) else {
        panic!("Certificate third");
    };
    cert.context = vec![1];
    flight[2] = HandshakePayload::Certificate13(cert).encode();
    assert_eq!(client_alert(p, &flight), AlertDescription::IllegalParameter);
}

/// RFC 8446 4.4.3: the server signs with a scheme of the client's signature_algorithms; a
/// CertificateVerify naming another is illegal_parameter, before any signature check.
#[test]
fn tls13_client_refuses_a_certificate_verify_scheme_it_did_not_offer() {
    let (p, mut flight) = server_flight_with(|_| {});
    let HandshakePayload::CertificateVerify(mut cv) = decoded(&flight[3], Dialect::Tls13) else {
        panic!("CertificateVerify fourth");
    };
    cv.scheme = crate::codec::SignatureScheme::from(0x0201u16);
    flight[3] = HandshakePayload::CertificateVerify(cv).encode();
    assert_eq!(client_alert(p, &flight), AlertDescription::IllegalParameter);
}

/// RFC 8446 4.6.3: a KeyUpdate before the handshake's Finished is unexpected_message; a
/// request value other than 0 and 1 is illegal_parameter.
#[test]
fn tls13_key_update_rules() {
    let key_update = HandshakePayload::KeyUpdate(KeyUpdateRequest::UpdateNotRequested).encode();
    let (p, mut flight) = server_flight_with(|_| {});
    flight.insert(2, key_update);
    assert_eq!(client_alert(p, &flight), AlertDescription::UnexpectedMessage);

    let mut p = Pair13::new();
    p.complete();
    let bad_request = [u8::from(HandshakeType::KeyUpdate), 0, 0, 1, 2];
    assert!(p.client.as_ref().unwrap().is_established());
    assert_eq!(
        p.client_refuses(&[bad_request]),
        AlertDescription::IllegalParameter
    );
}

/// RFC 8446 4.6.1: after the handshake the client takes NewSessionTickets and reports each;
/// one whose lifetime exceeds the seven days a server may give is still taken (the client
/// caches it no longer than seven days), and a flood past `MAX_TICKETS` is refused with
/// unexpected_message rather than stored without bound.
#[test]
fn tls13_client_takes_tickets_up_to_a_bound() {
    let mut p = Pair13::new();
    p.deliver_to_server().unwrap();
    p.deliver_to_client().unwrap();
    p.deliver_to_server().unwrap();
    let ticket = p.s.take_outbox().remove(0);
    let HandshakePayload::NewSessionTicket13(mut nst) = decoded(&ticket, Dialect::Tls13) else {
        panic!("a NewSessionTicket");
    };
    assert!(nst.lifetime <= 604_800);
    p.c.take_steps();
    let mut client = deliver(p.client.take().unwrap(), &mut p.c, &ticket).unwrap();
    assert_eq!(p.c.take_steps(), [Event(Event::SessionTicket)]);
    nst.lifetime = 604_801;
    let too_long = HandshakePayload::NewSessionTicket13(nst).encode();
    for _ in 1..super::established::MAX_TICKETS {
        client = deliver(client, &mut p.c, &too_long).unwrap();
    }
    assert_eq!(
        alert_of(deliver(client, &mut p.c, &too_long)),
        AlertDescription::UnexpectedMessage
    );
}

/// RFC 5246 7.4.9: a TLS 1.2 Finished that does not match is decrypt_error, on either side,
/// and the side that refuses it does not complete.
#[test]
fn tls12_finished_that_does_not_match_is_decrypt_error() {
    let v12 = [ProtocolVersion::TLSv1_2];
    let corrupt = |msg: &[u8]| {
        let mut bad = msg.to_vec();
        *bad.last_mut().unwrap() ^= 1;
        bad
    };
    let (client, mut c) = start_client(client_config(&v12));
    let mut s = Recorder::new();
    let server = deliver_all(server13::start(server_config(&v12)), &mut s, &c.take_outbox()).unwrap();
    let client = deliver_all(client, &mut c, &s.take_outbox()).unwrap();
    let [kex, finished] = <[Vec<u8>; 2]>::try_from(c.take_outbox()).unwrap();
    let server = deliver(server, &mut s, &kex)
        .and_then(|hs| hs.handle_ccs12(&mut s))
        .unwrap();
    s.take_steps();

    // The server refuses a corrupted client Finished (a second pair of machines)...
    let mut s2 = Recorder::new();
    let (client2, mut c2) = start_client(client_config(&v12));
    let server2 = deliver_all(server13::start(server_config(&v12)), &mut s2, &c2.take_outbox()).unwrap();
    deliver_all(client2, &mut c2, &s2.take_outbox()).unwrap();
    let [kex2, finished2] = <[Vec<u8>; 2]>::try_from(c2.take_outbox()).unwrap();
    let refused = deliver(server2, &mut s2, &kex2)
        .and_then(|hs| hs.handle_ccs12(&mut s2))
        .and_then(|hs| deliver(hs, &mut s2, &corrupt(&finished2)));
    assert_eq!(alert_of(refused), AlertDescription::DecryptError);
    assert!(!s2.take_steps().contains(&Event(Event::HandshakeComplete)));

    // ...and the client a corrupted server Finished.
    deliver(server, &mut s, &finished).unwrap();
    let [ticket, server_finished] = <[Vec<u8>; 2]>::try_from(s.take_outbox()).unwrap();
    c.take_steps();
    let refused = deliver(client, &mut c, &ticket)
        .and_then(|hs| hs.handle_ccs12(&mut c))
        .and_then(|hs| deliver(hs, &mut c, &corrupt(&server_finished)));
    assert_eq!(alert_of(refused), AlertDescription::DecryptError);
    assert!(!c.take_steps().contains(&Event(Event::HandshakeComplete)));
}

/// RFC 5246 7.4.1.3: a TLS 1.2 ServerHello selecting a suite the client did not offer is
/// illegal_parameter.
#[test]
fn tls12_client_refuses_a_suite_it_did_not_offer() {
    let (client, mut c, mut flight) = tls12_server_flight();
    let HandshakePayload::ServerHello(mut sh) = decoded(&flight[0], Dialect::Tls12) else {
        panic!("a ServerHello");
    };
    sh.cipher_suite = crate::codec::CipherSuite::from(0x009cu16);
    flight[0] = HandshakePayload::ServerHello(sh).encode();
    assert_eq!(
        alert_of(deliver(client, &mut c, &flight[0])),
        AlertDescription::IllegalParameter
    );
}

/// A TLS 1.3 pair whose server asks for a client certificate (`mandatory` or not) and whose
/// client has one (`client_cert`) or not.
fn pair_with_client_auth(mandatory: bool, client_cert: bool) -> Pair13 {
    let mut p = Pair13::new();
    let anchors = TrustAnchors::from_pem_file(vectors().join("ca.pem")).unwrap();
    let verifier = crate::pki::WebPkiClientVerifier::new(anchors);
    let verifier = if mandatory { verifier } else { verifier.optional() };
    let server = ServerConfig::builder(server_key())
        .versions(&[ProtocolVersion::TLSv1_3])
        .client_verifier(Arc::new(verifier))
        .build()
        .unwrap();
    p.server = Some(server13::start(server));
    let anchors = TrustAnchors::from_pem_file(vectors().join("ca.pem")).unwrap();
    let builder = ClientConfig::builder(Arc::new(WebPkiServerVerifier::new(anchors)))
        .versions(&[ProtocolVersion::TLSv1_3]);
    let builder = if client_cert {
        builder.client_auth_cert(server_key())
    } else {
        builder
    };
    let (client, c) = start_client(builder.build().unwrap());
    p.client = Some(client);
    p.c = c;
    p.c.take_steps();
    p
}

/// RFC 8446 4.3.2 and 4.4: a server that asks for a certificate sends CertificateRequest
/// after EncryptedExtensions; the client answers with Certificate, CertificateVerify and
/// Finished under its handshake key, and the server reads the application key only after.
#[test]
fn tls13_client_authentication_in_rfc_order() {
    let mut p = pair_with_client_auth(true, true);
    p.deliver_to_server().unwrap();
    assert_eq!(
        types_of(&p.s.outbox),
        [
            HandshakeType::ServerHello,
            HandshakeType::EncryptedExtensions,
            HandshakeType::CertificateRequest,
            HandshakeType::Certificate,
            HandshakeType::CertificateVerify,
            HandshakeType::Finished,
        ]
    );
    p.s.take_steps();
    p.deliver_to_client().unwrap();
    let steps = p.c.take_steps();
    let sent: Vec<_> = steps
        .iter()
        .filter_map(|s| match s {
            Sent(t) => Some(*t),
            _ => None,
        })
        .collect();
    assert_eq!(
        sent,
        [
            HandshakeType::Certificate,
            HandshakeType::CertificateVerify,
            HandshakeType::Finished
        ]
    );
    let write_hs = steps
        .iter()
        .position(|s| *s == Write(KeyLevel::Handshake))
        .unwrap();
    let cert = steps
        .iter()
        .position(|s| *s == Sent(HandshakeType::Certificate))
        .unwrap();
    assert!(
        write_hs < cert,
        "the client's Certificate goes under its handshake key"
    );
    p.deliver_to_server().unwrap();
    let steps = p.s.take_steps();
    assert_eq!(steps[0], Read(KeyLevel::Application));
    assert!(steps.contains(&Event(Event::HandshakeComplete)));
    assert!(
        !p.s.neg.peer_chain.is_empty(),
        "the server keeps the client's chain"
    );
}

/// RFC 8446 4.4.2.4: a client without a certificate answers a CertificateRequest with an
/// empty Certificate; a server that requires one aborts with certificate_required, one that
/// does not completes.
#[test]
fn tls13_server_requiring_a_certificate_refuses_an_empty_one() {
    let mut p = pair_with_client_auth(true, false);
    p.deliver_to_server().unwrap();
    p.deliver_to_client().unwrap();
    let flight = p.c.take_outbox();
    let types = types_of(&flight);
    assert_eq!(types, [HandshakeType::Certificate, HandshakeType::Finished]);
    assert_eq!(p.server_refuses(&flight), AlertDescription::CertificateRequired);

    let mut p = pair_with_client_auth(false, false);
    p.deliver_to_server().unwrap();
    p.deliver_to_client().unwrap();
    p.s.take_steps();
    p.deliver_to_server().unwrap();
    assert!(p.s.take_steps().contains(&Event(Event::HandshakeComplete)));
    assert!(p.s.neg.peer_chain.is_empty());
}

/// RFC 8446 4.3.2: a CertificateRequest in the handshake has an empty
/// certificate_request_context (illegal_parameter otherwise) and carries
/// signature_algorithms (missing_extension otherwise).
#[test]
fn tls13_client_refuses_a_malformed_certificate_request() {
    use crate::msgs::CertReqExtension;
    type Change = fn(&mut crate::msgs::CertificateRequest13);
    let cases: [(Change, AlertDescription); 2] = [
        (|cr| cr.context = vec![7], AlertDescription::IllegalParameter),
        (
            |cr| {
                cr.extensions
                    .retain(|e| !matches!(e, CertReqExtension::SignatureAlgorithms(_)))
            },
            AlertDescription::MissingExtension,
        ),
    ];
    for (change, want) in cases {
        let mut p = pair_with_client_auth(true, true);
        p.deliver_to_server().unwrap();
        let mut flight = p.s.take_outbox();
        let HandshakePayload::CertificateRequest13(mut cr) = decoded(&flight[2], Dialect::Tls13) else {
            panic!("CertificateRequest third");
        };
        change(&mut cr);
        flight[2] = HandshakePayload::CertificateRequest13(cr).encode();
        assert_eq!(p.client_refuses(&flight), want);
    }
}

/// The TLS 1.2 machines up to the client's second flight (ClientKeyExchange, Finished; the
/// CCS between them is the recorder's `Ccs` step).
fn tls12_client_flight() -> (Handshake, Recorder, Vec<Vec<u8>>) {
    let v12 = [ProtocolVersion::TLSv1_2];
    let (client, mut c) = start_client(client_config(&v12));
    let mut s = Recorder::new();
    let server = deliver_all(server13::start(server_config(&v12)), &mut s, &c.take_outbox()).unwrap();
    deliver_all(client, &mut c, &s.take_outbox()).unwrap();
    s.take_steps();
    (server, s, c.take_outbox())
}

/// RFC 5246 7.3 and 7.4.7: the TLS 1.2 server waits for ClientKeyExchange: a Finished in
/// its place, or a ChangeCipherSpec before it, is unexpected_message; an X25519 share of
/// low order (all zeros: the shared secret would be zero, RFC 8422 5.11, RFC 7748 6.1) is
/// refused without installing a key.
#[test]
fn tls12_server_refuses_the_client_flight_out_of_order() {
    let (server, mut s, flight) = tls12_client_flight();
    assert_eq!(
        alert_of(deliver(server, &mut s, &flight[1])),
        AlertDescription::UnexpectedMessage
    );
    let (server, mut s, _) = tls12_client_flight();
    assert_eq!(
        server.handle_ccs12(&mut s).err().and_then(|e| e.alert()),
        Some(AlertDescription::UnexpectedMessage)
    );
    let (server, mut s, mut flight) = tls12_client_flight();
    // ClientKeyExchange: a one-byte length, then the share (X25519 by default: 32 bytes).
    assert_eq!(flight[0][4], 32);
    flight[0][5..].fill(0);
    assert_eq!(
        alert_of(deliver(server, &mut s, &flight[0])),
        AlertDescription::IllegalParameter
    );
    assert!(!s.take_steps().contains(&PendingRead12));
}

impl Pair13 {
    /// A pair from given configs (shared between pairs, so a ticket from one resumes in the
    /// next).
    fn with(client: &Arc<ClientConfig>, server: &Arc<ServerConfig>) -> Self {
        let (hs, mut c) = start_client(client.clone());
        c.take_steps();
        Pair13 {
            client: Some(hs),
            server: Some(server13::start(server.clone())),
            c,
            s: Recorder::new(),
        }
    }

    /// Runs the handshake to the end, tickets delivered.
    fn complete(&mut self) {
        self.deliver_to_server().unwrap();
        self.deliver_to_client().unwrap();
        self.deliver_to_server().unwrap();
        self.deliver_to_client().unwrap();
        self.c.take_steps();
        self.s.take_steps();
    }
}

/// RFC 8446 2.2 and 4.2.11: with a ticket the client offers pre_shared_key (last) and the
/// server that accepts it sends no Certificate or CertificateVerify; a binder that does not
/// match the transcript is decrypt_error (4.2.11.2) and nothing is answered.
#[test]
fn tls13_resumption_skips_the_certificate_and_checks_the_binder() {
    let client = client_config(&[ProtocolVersion::TLSv1_3]);
    let server = server_config(&[ProtocolVersion::TLSv1_3]);
    Pair13::with(&client, &server).complete();

    let mut p = Pair13::with(&client, &server);
    let HandshakePayload::ClientHello(ch) = decoded(&p.c.outbox[0], Dialect::Tls13) else {
        panic!("a ClientHello");
    };
    assert!(matches!(
        ch.extensions.last(),
        Some(crate::msgs::ClientExtension::PreSharedKey(_))
    ));
    p.deliver_to_server().unwrap();
    assert_eq!(
        types_of(&p.s.outbox),
        [
            HandshakeType::ServerHello,
            HandshakeType::EncryptedExtensions,
            HandshakeType::Finished
        ]
    );
    p.deliver_to_client().unwrap();
    assert!(p.client.as_ref().unwrap().is_established());
    // The resumed connection's tickets replace the one it used (single use, RFC 8446 C.4).
    p.deliver_to_server().unwrap();
    p.deliver_to_client().unwrap();

    let mut p = Pair13::with(&client, &server);
    let offers_psk =
        |raw: &[u8]| match HandshakePayload::decode(HandshakeType::ClientHello, &raw[4..], Dialect::Tls13) {
            Ok(HandshakePayload::ClientHello(ch)) => {
                matches!(
                    ch.extensions.last(),
                    Some(crate::msgs::ClientExtension::PreSharedKey(_))
                )
            }
            _ => false,
        };
    assert!(offers_psk(&p.c.outbox[0]));
    let last = p.c.outbox[0].len() - 1;
    p.c.outbox[0][last] ^= 1;
    assert_eq!(
        alert_of(deliver_all(
            p.server.take().unwrap(),
            &mut p.s,
            &p.c.take_outbox()
        )),
        AlertDescription::DecryptError
    );
    assert!(p.s.take_steps().is_empty());
}

/// One message of each handshake type either machine sends, TLS-encoded: taken from a TLS 1.3
/// handshake with client authentication and a TLS 1.2 one, plus KeyUpdate and
/// EndOfEarlyData.
fn every_message() -> Vec<Vec<u8>> {
    let mut all = Vec::new();
    let mut p = pair_with_client_auth(true, true);
    all.extend(p.c.outbox.iter().cloned());
    p.deliver_to_server().unwrap();
    all.extend(p.s.outbox.iter().cloned());
    p.deliver_to_client().unwrap();
    all.extend(p.c.outbox.iter().cloned());
    p.deliver_to_server().unwrap();
    all.extend(p.s.outbox.iter().cloned());
    let (_, _, flight12) = tls12_server_flight();
    all.extend(flight12);
    let (_, _, client12) = tls12_client_flight();
    all.extend(client12);
    all.push(HandshakePayload::KeyUpdate(KeyUpdateRequest::UpdateNotRequested).encode());
    all.push(HandshakePayload::EndOfEarlyData.encode());
    let mut seen = std::collections::HashSet::new();
    all.retain(|m| seen.insert(m[0]));
    all
}

/// A state made by `make` refuses each message whose type is not in `accepted` with
/// unexpected_message, at its header, and outputs nothing for it (RFC 8446 4, RFC 5246 7.3).
fn refuses_all_but(
    what: &str,
    make: impl Fn() -> (Handshake, Recorder),
    accepted: &[HandshakeType],
    messages: &[Vec<u8>],
) {
    let mut refused = 0;
    for raw in messages {
        let typ = HandshakeType::from(raw[0]);
        if accepted.contains(&typ) {
            continue;
        }
        let (hs, mut cx) = make();
        cx.take_steps();
        let got = deliver(hs, &mut cx, raw).err().and_then(|e| e.alert());
        assert_eq!(got, Some(AlertDescription::UnexpectedMessage), "{what}: {typ:?}");
        assert!(cx.take_steps().is_empty(), "{what}: {typ:?} made output");
        refused += 1;
    }
    assert!(refused >= messages.len() - accepted.len(), "{what}");
}

/// RFC 8446 4 (and 4.3.2, 4.4, 4.6): each state of the TLS 1.3 client takes only the
/// messages that may come next and refuses every other type with unexpected_message.
#[test]
fn tls13_client_states_refuse_every_unexpected_message() {
    use HandshakeType as T;
    let messages = every_message();
    assert!(messages.len() >= 13, "{}", messages.len());
    let expected: [&[HandshakeType]; 5] = [
        &[T::ServerHello],
        &[T::EncryptedExtensions],
        &[T::Certificate, T::CertificateRequest],
        &[T::CertificateVerify],
        &[T::Finished],
    ];
    for (k, accepted) in expected.iter().enumerate() {
        let make = || {
            let mut p = Pair13::new();
            p.deliver_to_server().unwrap();
            let flight = p.s.take_outbox();
            let client = deliver_all(p.client.take().unwrap(), &mut p.c, &flight[..k]).unwrap();
            (client, p.c)
        };
        refuses_all_but(
            &format!("client after {k} server messages"),
            make,
            accepted,
            &messages,
        );
    }
    let established = || {
        let mut p = Pair13::new();
        p.complete();
        (p.client.take().unwrap(), p.c)
    };
    refuses_all_but(
        "established client",
        established,
        &[T::NewSessionTicket, T::KeyUpdate],
        &messages,
    );
}

/// RFC 8446 4, 4.4.2 and 4.5: each state of the TLS 1.3 server takes only what may come
/// next: the ClientHello; then the client's Finished (its Certificate first when one was
/// asked for; EndOfEarlyData only after accepted 0-RTT); once established only KeyUpdate.
#[test]
fn tls13_server_states_refuse_every_unexpected_message() {
    use HandshakeType as T;
    let messages = every_message();
    let fresh = || {
        (
            server13::start(server_config(&[
                ProtocolVersion::TLSv1_3,
                ProtocolVersion::TLSv1_2,
            ])),
            Recorder::new(),
        )
    };
    refuses_all_but("server at start", fresh, &[T::ClientHello], &messages);
    let after_hello = |auth: bool| {
        move || {
            let mut p = if auth {
                pair_with_client_auth(true, true)
            } else {
                Pair13::new()
            };
            p.deliver_to_server().unwrap();
            (p.server.take().unwrap(), p.s)
        }
    };
    refuses_all_but(
        "server after hello",
        after_hello(false),
        &[T::Finished],
        &messages,
    );
    refuses_all_but(
        "server asking for a certificate",
        after_hello(true),
        &[T::Certificate],
        &messages,
    );
    let after_client_cert = || {
        let mut p = pair_with_client_auth(true, true);
        p.deliver_to_server().unwrap();
        p.deliver_to_client().unwrap();
        let flight = p.c.take_outbox();
        let server = deliver(p.server.take().unwrap(), &mut p.s, &flight[0]).unwrap();
        (server, p.s)
    };
    refuses_all_but(
        "server after the client's Certificate",
        after_client_cert,
        &[T::CertificateVerify],
        &messages,
    );
    let established = || {
        let mut p = Pair13::new();
        p.complete();
        (p.server.take().unwrap(), p.s)
    };
    refuses_all_but("established server", established, &[T::KeyUpdate], &messages);
}

/// RFC 5246 7.3 and 7.4: each state of the TLS 1.2 client and server takes only the
/// messages that may come next (a Finished only after the ChangeCipherSpec) and refuses
/// every other type with unexpected_message.
#[test]
fn tls12_states_refuse_every_unexpected_message() {
    use HandshakeType as T;
    let messages = every_message();
    let client_expects: [&[HandshakeType]; 4] = [
        &[T::ServerHello],
        &[T::Certificate],
        &[T::ServerKeyExchange],
        &[T::ServerHelloDone, T::CertificateRequest],
    ];
    for (k, accepted) in client_expects.iter().enumerate() {
        let make = || {
            let (client, mut c, flight) = tls12_server_flight();
            (deliver_all(client, &mut c, &flight[..k]).unwrap(), c)
        };
        refuses_all_but(
            &format!("TLS 1.2 client after {k} server messages"),
            make,
            accepted,
            &messages,
        );
    }
    let client_after_done = || {
        let (client, mut c, flight) = tls12_server_flight();
        (deliver_all(client, &mut c, &flight).unwrap(), c)
    };
    // RFC 5077 3.3: the server announced a ticket, so NewSessionTicket comes before its CCS.
    refuses_all_but(
        "TLS 1.2 client awaiting the server's CCS",
        client_after_done,
        &[T::NewSessionTicket],
        &messages,
    );
    let server_after_hello = || {
        let (server, s, _) = tls12_client_flight();
        (server, s)
    };
    refuses_all_but(
        "TLS 1.2 server after the hello",
        server_after_hello,
        &[T::ClientKeyExchange],
        &messages,
    );
    let server_after_kex = || {
        let (server, mut s, flight) = tls12_client_flight();
        (deliver(server, &mut s, &flight[0]).unwrap(), s)
    };
    refuses_all_but(
        "TLS 1.2 server before the client's CCS",
        server_after_kex,
        &[],
        &messages,
    );
}
