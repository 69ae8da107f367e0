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

fn server_config(versions: &[ProtocolVersion]) -> Arc<ServerConfig> {
    let ck = CertifiedKey::from_pem_files(
        vectors().join("localhost-ecdsa-p256.pem"),
        vectors().join("localhost-ecdsa-p256.key"),
    )
    .unwrap();
    ServerConfig::builder(ck)
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

/// Delivers every message in `flight`, in order.
fn deliver_all(mut hs: Handshake, cx: &mut Recorder, flight: &[Vec<u8>]) -> Result<Handshake, Error> {
    for raw in flight {
        hs = deliver(hs, cx, raw)?;
    }
    Ok(hs)
}

fn alert_of(result: Result<Handshake, Error>) -> AlertDescription {
    match result {
        Ok(_) => panic!("the state accepted what it must refuse"),
        Err(e) => e.alert().expect("a peer's fault sends an alert"),
    }
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
        let mut c = Recorder::new();
        let client = client13::start(
            client_config(&[ProtocolVersion::TLSv1_3]),
            Some(ServerName::try_from("localhost").unwrap()),
            &mut c,
        )
        .unwrap();
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
        let client = client13::start(
            client_config(&[ProtocolVersion::TLSv1_3]),
            Some(ServerName::try_from("localhost").unwrap()),
            &mut Recorder::new(),
        )
        .unwrap();
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
        let client = p.client.take().unwrap();
        assert_eq!(
            alert_of(deliver_all(client, &mut p.c, &flight)),
            AlertDescription::UnexpectedMessage
        );
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
    let client = p.client.take().unwrap();
    assert_eq!(
        alert_of(deliver_all(client, &mut p.c, &flight)),
        AlertDescription::DecryptError
    );
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
    let server = p.server.take().unwrap();
    assert_eq!(
        alert_of(deliver_all(server, &mut p.s, &flight)),
        AlertDescription::DecryptError
    );
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
    let mut c = Recorder::new();
    client13::start(
        client_config(&[ProtocolVersion::TLSv1_3]),
        Some(ServerName::try_from("localhost").unwrap()),
        &mut c,
    )
    .unwrap();
    let hello = c.take_outbox().remove(0);
    let HandshakePayload::ClientHello(mut ch) =
        HandshakePayload::decode(HandshakeType::ClientHello, &hello[4..], Dialect::Tls13).unwrap()
    else {
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
    let mut c = Recorder::new();
    super::client13::start(
        client_config(&[ProtocolVersion::TLSv1_2]),
        Some(ServerName::try_from("localhost").unwrap()),
        &mut c,
    )
    .unwrap();
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
    p.deliver_to_server().unwrap();
    p.deliver_to_client().unwrap();
    p.deliver_to_server().unwrap();
    p.deliver_to_client().unwrap();
    p.c.take_steps();
    p.s.take_steps();
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
    let HandshakePayload::KeyUpdate(req) =
        HandshakePayload::decode(HandshakeType::KeyUpdate, &answer[4..], Dialect::Tls13).unwrap()
    else {
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
    let client = p.client.take().unwrap();
    assert_eq!(
        alert_of(deliver(client, &mut p.c, &server_hello)),
        AlertDescription::UnexpectedMessage
    );
}

/// RFC 5246 7.4 and 7.1: TLS 1.2's full handshake; each side's write key follows its own
/// ChangeCipherSpec and its read key waits, pending, for the peer's.
#[test]
fn tls12_full_handshake_keys_follow_change_cipher_spec() {
    let v12 = [ProtocolVersion::TLSv1_2];
    let mut c = Recorder::new();
    let client = client13::start(
        client_config(&v12),
        Some(ServerName::try_from("localhost").unwrap()),
        &mut c,
    )
    .unwrap();
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
    let ck = CertifiedKey::from_pem_files(
        vectors().join("localhost-ecdsa-p256.pem"),
        vectors().join("localhost-ecdsa-p256.key"),
    )
    .unwrap();
    let p384_only = ServerConfig::builder(ck)
        .versions(&[ProtocolVersion::TLSv1_3])
        .groups(&[crate::codec::NamedGroup::secp384r1])
        .build()
        .unwrap();
    p.server = Some(server13::start(p384_only));
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
    let HandshakePayload::ClientHello(ch2) =
        HandshakePayload::decode(HandshakeType::ClientHello, &p.c.outbox[0][4..], Dialect::Tls13).unwrap()
    else {
        panic!("a second ClientHello");
    };
    let groups: Vec<_> = ch2.key_shares().unwrap().iter().map(|k| k.group).collect();
    assert_eq!(groups, [crate::codec::NamedGroup::secp384r1]);
    // A second HelloRetryRequest is unexpected_message (RFC 8446 4.1.4).
    let client = p.client.take().unwrap();
    assert_eq!(
        alert_of(deliver(client, &mut p.c, &retry)),
        AlertDescription::UnexpectedMessage
    );
}

/// The server's first flight with its ServerHello changed by `change`.
fn server_flight_with(change: impl FnOnce(&mut crate::msgs::ServerHello)) -> (Pair13, Vec<Vec<u8>>) {
    let mut p = Pair13::new();
    p.deliver_to_server().unwrap();
    let mut flight = p.s.take_outbox();
    let HandshakePayload::ServerHello(mut sh) =
        HandshakePayload::decode(HandshakeType::ServerHello, &flight[0][4..], Dialect::Tls13).unwrap()
    else {
        panic!("first message is the ServerHello");
    };
    change(&mut sh);
    flight[0] = HandshakePayload::ServerHello(sh).encode();
    (p, flight)
}

/// The client's answer to a flight, as an alert.
fn client_alert(mut p: Pair13, flight: &[Vec<u8>]) -> AlertDescription {
    let client = p.client.take().unwrap();
    alert_of(deliver_all(client, &mut p.c, flight))
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
    let mut c = Recorder::new();
    let client = client13::start(
        client_config(&both),
        Some(ServerName::try_from("localhost").unwrap()),
        &mut c,
    )
    .unwrap();
    let mut s = Recorder::new();
    let server = server13::start(server_config(&[ProtocolVersion::TLSv1_2]));
    let _ = deliver_all(server, &mut s, &c.take_outbox()).unwrap();
    let flight = s.take_outbox();
    let mut sh = match HandshakePayload::decode(HandshakeType::ServerHello, &flight[0][4..], Dialect::Tls12) {
        Ok(HandshakePayload::ServerHello(sh)) => sh,
        other => panic!("a TLS 1.2 ServerHello, got {other:?}"),
    };
    // Without the sentinel a client takes the same hello (a TLS 1.2-only server sets none).
    let other = client13::start(
        client_config(&both),
        Some(ServerName::try_from("localhost").unwrap()),
        &mut Recorder::new(),
    )
    .unwrap();
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
    let HandshakePayload::ClientHello(ch) =
        HandshakePayload::decode(HandshakeType::ClientHello, &hello[4..], Dialect::Tls13).unwrap()
    else {
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
    let client = p.client.take().unwrap();
    assert_eq!(
        alert_of(deliver(client, &mut p.c, &retry)),
        AlertDescription::IllegalParameter
    );
}

/// A TLS 1.2 client machine and the server's first flight to it (ServerHello, Certificate,
/// ServerKeyExchange, ServerHelloDone).
fn tls12_server_flight() -> (Handshake, Recorder, Vec<Vec<u8>>) {
    let v12 = [ProtocolVersion::TLSv1_2];
    let mut c = Recorder::new();
    let client = client13::start(
        client_config(&v12),
        Some(ServerName::try_from("localhost").unwrap()),
        &mut c,
    )
    .unwrap();
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
