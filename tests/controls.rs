//! The connection controls, between our own client and server: each test shows
//! the control's effect on the wire (records, alerts, handshake messages) or on the state
//! the application sees.

mod common;

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

use common::*;
use sanstls::codec::{AlertDescription, AlertLevel, ContentType, HandshakeType, NamedGroup};
use sanstls::conn::{AlertRecord, HandshakeKind, SessionStorage, TicketKeys};
use sanstls::pki::{TrustAnchors, WebPkiClientVerifier};
use sanstls::{Connection, Direction, Error, Event, RecordObserver};

/// Every record and handshake message as "rec|hs Sent|Received type len epoch".
#[derive(Default)]
pub struct Recorder(pub Mutex<Vec<String>>);

impl RecordObserver for Recorder {
    fn record(&self, dir: Direction, typ: ContentType, len: usize, epoch: u16) {
        self.0
            .lock()
            .unwrap()
            .push(format!("rec {dir:?} {typ:?} {len} {epoch}"));
    }
    fn handshake(&self, dir: Direction, typ: HandshakeType, len: usize, epoch: u16) {
        self.0
            .lock()
            .unwrap()
            .push(format!("hs {dir:?} {typ:?} {len} {epoch}"));
    }
}

impl Recorder {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

fn established() -> (Connection, Connection) {
    let (mut c, mut s) = pair(
        client_builder().build().unwrap(),
        server_builder("ecdsa-p256").build().unwrap(),
    );
    handshake(&mut c, &mut s).unwrap();
    transfer(&mut s, &mut c).unwrap();
    events(&mut c);
    events(&mut s);
    (c, s)
}

#[test]
fn plaintext_available_peeks_without_consuming() {
    let (mut c, mut s) = established();
    assert_eq!(s.plaintext_available(), 0);
    c.writer().write_all(b"twelve bytes").unwrap();
    transfer(&mut c, &mut s).unwrap();
    assert_eq!(s.plaintext_available(), 12);
    assert_eq!(s.plaintext_available(), 12, "peeking twice consumes nothing");
    let mut buf = [0u8; 5];
    s.reader().read_exact(&mut buf).unwrap();
    assert_eq!(s.plaintext_available(), 7);
}

#[test]
fn key_update_with_and_without_asking_the_peer() {
    let rec = Arc::new(Recorder::default());
    let server = server_builder("ecdsa-p256")
        .record_observer(rec.clone())
        .build()
        .unwrap();
    let (mut c, mut s) = pair(client_builder().build().unwrap(), server);
    handshake(&mut c, &mut s).unwrap();
    transfer(&mut s, &mut c).unwrap();
    rec.take();

    // update_not_requested: the server reads the KeyUpdate, changes its read keys, sends nothing.
    c.request_key_update(false).unwrap();
    transfer(&mut c, &mut s).unwrap();
    assert_eq!(
        rec.take(),
        ["rec Received Handshake 5 2", "hs Received KeyUpdate 1 2"]
    );
    assert!(!s.wants_write(), "nothing to answer");

    // update_requested: the server answers with its own KeyUpdate under its next epoch.
    c.request_key_update(true).unwrap();
    transfer(&mut c, &mut s).unwrap();
    assert!(s.wants_write());
    let mut wire = Vec::new();
    while s.write_tls(&mut wire).unwrap() > 0 {}
    let log = rec.take();
    let kinds: Vec<&str> = log.iter().map(|l| l.rsplitn(3, ' ').nth(2).unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "rec Received Handshake",
            "hs Received KeyUpdate",
            "hs Sent KeyUpdate",
            "rec Sent Handshake",
        ],
        "{log:?}"
    );
    // One protected record (5-byte header + KeyUpdate 5 + type 1 + tag 16).
    assert_eq!(wire.len(), 5 + 5 + 1 + 16);
    c.read_tls(&mut &wire[..]).unwrap();
    c.process_new_packets().unwrap();
    assert!(events(&mut c).contains(&Event::KeyUpdated { ours: false }));
    assert_eq!(send(&mut s, &mut c, b"new keys both ways"), b"new keys both ways");
}

#[test]
fn several_key_update_requests_while_silent_get_one_answer() {
    // RFC 8446 4.6.3: the answer to KeyUpdate(update_requested) is owed "prior to sending
    // [the receiver's] next Application Data record", and several received "while it is
    // silent" may be answered with a single update. Silent means no application data since
    // our last KeyUpdate, whether that update is still queued or has gone out.
    let (mut c, mut s) = pair(
        client_builder().build().unwrap(),
        server_builder("ecdsa-p256").build().unwrap(),
    );
    handshake(&mut c, &mut s).unwrap();
    transfer(&mut s, &mut c).unwrap();
    let updates_by_server = |s: &mut sanstls::Connection| {
        events(s)
            .iter()
            .filter(|e| **e == Event::KeyUpdated { ours: true })
            .count()
    };
    for _ in 0..5 {
        c.request_key_update(true).unwrap();
    }
    transfer(&mut c, &mut s).unwrap();
    let received = events(&mut s);
    let theirs = received
        .iter()
        .filter(|e| **e == Event::KeyUpdated { ours: false })
        .count();
    let ours = received
        .iter()
        .filter(|e| **e == Event::KeyUpdated { ours: true })
        .count();
    assert_eq!((theirs, ours), (5, 1));
    // One protected record holding one KeyUpdate (header 5 + message 5 + type 1 + tag 16).
    let wire = drain(&mut s);
    assert_eq!(wire.len(), 5 + 5 + 1 + 16);
    feed(&mut c, &wire).unwrap();

    // Our answer is out, but we have still sent no data: requests read one at a time (each
    // answer flushed in between, as an event loop does) get no second answer.
    for _ in 0..3 {
        c.request_key_update(true).unwrap();
        transfer(&mut c, &mut s).unwrap();
        assert_eq!(updates_by_server(&mut s), 0);
        assert!(drain(&mut s).is_empty());
    }
    assert_eq!(send(&mut s, &mut c, b"one update"), b"one update");

    // Data went out since: the next request gets its own answer.
    c.request_key_update(true).unwrap();
    transfer(&mut c, &mut s).unwrap();
    assert_eq!(updates_by_server(&mut s), 1);
    assert_eq!(send(&mut s, &mut c, b"and another"), b"and another");
    assert_eq!(send(&mut c, &mut s, b"both ways"), b"both ways");

    // An update of our own, not an answer, still owes the next request its answer: the
    // requester wants keys newer than its request (as when two requests cross).
    s.request_key_update(false).unwrap();
    transfer(&mut s, &mut c).unwrap();
    assert_eq!(updates_by_server(&mut s), 1);
    c.request_key_update(true).unwrap();
    transfer(&mut c, &mut s).unwrap();
    assert_eq!(updates_by_server(&mut s), 1);
    assert_eq!(send(&mut s, &mut c, b"last"), b"last");
}

#[test]
fn send_close_notify_closes_only_our_direction() {
    let (mut c, mut s) = established();
    c.writer().write_all(b"request").unwrap();
    c.send_close_notify();
    let mut wire = Vec::new();
    while c.write_tls(&mut wire).unwrap() > 0 {}
    // Data record (5 + 7 + 1 + 16) then the close_notify record (5 + 2 + 1 + 16).
    assert_eq!(wire.len(), 29 + 24);
    assert_eq!(
        c.last_alert_sent(),
        Some(AlertRecord {
            level: AlertLevel::Warning,
            description: AlertDescription::CloseNotify
        })
    );
    s.read_tls(&mut &wire[..]).unwrap();
    s.process_new_packets().unwrap();
    assert!(s.peer_has_closed());
    assert_eq!(
        s.last_alert_received().map(|a| a.description),
        Some(AlertDescription::CloseNotify)
    );
    // Our read side stays open: the server still answers and we read it.
    assert_eq!(send(&mut s, &mut c, b"response"), b"response");
    assert!(c.writer().write(b"more").is_err());
}

#[test]
fn last_alerts_sent_and_received_on_a_failure() {
    // The server only has P-256 and the client offers only x25519: handshake_failure.
    let client = client_builder().groups(&[NamedGroup::x25519]).build().unwrap();
    let server = server_builder("ecdsa-p256")
        .groups(&[NamedGroup::secp256r1])
        .build()
        .unwrap();
    let (mut c, mut s) = pair(client, server);
    assert_eq!(s.last_alert_sent(), None);
    let err = handshake(&mut c, &mut s).unwrap_err();
    assert!(matches!(err, Error::HandshakeFailure(_)), "{err:?}");
    // Queued, not yet on the wire.
    assert_eq!(s.last_alert_sent(), None);
    let mut wire = Vec::new();
    while s.write_tls(&mut wire).unwrap() > 0 {}
    assert_eq!(wire, [21, 3, 3, 0, 2, 2, 40]);
    let fatal = AlertRecord {
        level: AlertLevel::Fatal,
        description: AlertDescription::HandshakeFailure,
    };
    assert_eq!(s.last_alert_sent(), Some(fatal));
    c.read_tls(&mut &wire[..]).unwrap();
    assert!(c.process_new_packets().is_err());
    assert_eq!(c.last_alert_received(), Some(fatal));
    assert_eq!(c.last_alert_sent(), None, "no alert answers an alert");
}

#[test]
fn handshake_kind_full_hrr_resumed_and_early_data() {
    let keys = SessionStorage::Tickets(Arc::new(TicketKeys::new(3600)));
    let server = server_builder("ecdsa-p256")
        .session_storage(keys.clone())
        .max_early_data(1024)
        .build()
        .unwrap();
    let client = client_builder().enable_early_data(true).build().unwrap();

    let (mut c, mut s) = pair(client.clone(), server.clone());
    assert_eq!(c.handshake_kind(), None);
    handshake(&mut c, &mut s).unwrap();
    transfer(&mut s, &mut c).unwrap();
    assert_eq!(c.handshake_kind(), Some(HandshakeKind::Full));
    assert_eq!(s.handshake_kind(), Some(HandshakeKind::Full));

    // Resumed, no 0-RTT written: the client offers none.
    let plain_client = client_builder().build().unwrap();
    let (mut c, mut s) = pair(plain_client.clone(), server.clone());
    handshake(&mut c, &mut s).unwrap();
    transfer(&mut s, &mut c).unwrap();
    let (mut c, mut s) = pair(plain_client, server.clone());
    handshake(&mut c, &mut s).unwrap();
    assert_eq!(c.handshake_kind(), Some(HandshakeKind::Resumed));
    assert_eq!(s.handshake_kind(), Some(HandshakeKind::Resumed));

    // 0-RTT accepted.
    let (mut c, mut s) = pair(client.clone(), server.clone());
    c.early_data().unwrap().write_all(b"early").unwrap();
    handshake(&mut c, &mut s).unwrap();
    transfer(&mut s, &mut c).unwrap();
    assert_eq!(c.handshake_kind(), Some(HandshakeKind::EarlyDataAccepted));
    assert_eq!(s.handshake_kind(), Some(HandshakeKind::EarlyDataAccepted));

    // 0-RTT rejected by a server sharing the ticket keys but refusing early data.
    let refusing = server_builder("ecdsa-p256")
        .session_storage(keys)
        .build()
        .unwrap();
    let (mut c, mut s) = pair(client, refusing);
    c.early_data().unwrap().write_all(b"early").unwrap();
    handshake(&mut c, &mut s).unwrap();
    assert_eq!(c.handshake_kind(), Some(HandshakeKind::EarlyDataRejected));
    assert_eq!(s.handshake_kind(), Some(HandshakeKind::EarlyDataRejected));

    // HelloRetryRequest: the server wants P-256, the client's first share is x25519.
    let client = client_builder()
        .groups(&[NamedGroup::x25519, NamedGroup::secp256r1])
        .build()
        .unwrap();
    let p256 = server_builder("ecdsa-p256")
        .groups(&[NamedGroup::secp256r1])
        .build()
        .unwrap();
    let (mut c, mut s) = pair(client, p256);
    handshake(&mut c, &mut s).unwrap();
    assert_eq!(c.handshake_kind(), Some(HandshakeKind::HelloRetry));
    assert_eq!(s.handshake_kind(), Some(HandshakeKind::HelloRetry));
}

#[test]
fn sent_certificates_are_the_chain_on_the_wire() {
    for tls12 in [false, true] {
        let verifier =
            WebPkiClientVerifier::new(TrustAnchors::from_pem_file(vectors().join("ca.pem")).unwrap());
        let mut cb = client_builder().client_auth_cert(certified_key("ed25519"));
        let mut sb = server_builder("rsa2048").client_verifier(Arc::new(verifier));
        if tls12 {
            cb = cb
                .versions(&[sanstls::codec::ProtocolVersion::TLSv1_2])
                .client_auth_cert(certified_key("ecdsa-p256"));
            sb = sb.versions(&[sanstls::codec::ProtocolVersion::TLSv1_2]);
        }
        let (mut c, mut s) = pair(cb.build().unwrap(), sb.build().unwrap());
        assert!(c.sent_certificates().is_empty());
        handshake(&mut c, &mut s).unwrap();
        // What each side sent is exactly what the other received.
        let sent: Vec<&[u8]> = s.sent_certificates().iter().map(|c| c.as_ref()).collect();
        let got: Vec<&[u8]> = c.peer_certificates().iter().map(|c| c.as_ref()).collect();
        assert_eq!(sent, got, "server chain, tls12={tls12}");
        assert_eq!(sent[0], certified_key("rsa2048").chain[0].as_ref());
        let sent: Vec<&[u8]> = c.sent_certificates().iter().map(|c| c.as_ref()).collect();
        let got: Vec<&[u8]> = s.peer_certificates().iter().map(|c| c.as_ref()).collect();
        assert_eq!(sent, got, "client chain, tls12={tls12}");
    }
}

#[test]
fn app_context_is_typed() {
    #[derive(Debug, PartialEq)]
    struct Tenant(u32);
    let (mut c, _s) = established();
    assert_eq!(c.app_context::<Tenant>(), None);
    c.set_app_context(Tenant(7));
    assert_eq!(c.app_context::<Tenant>(), Some(&Tenant(7)));
    assert_eq!(c.app_context::<String>(), None, "another type is not there");
    c.app_context_mut::<Tenant>().unwrap().0 = 8;
    assert_eq!(c.take_app_context::<String>(), None);
    assert_eq!(c.take_app_context::<Tenant>(), Some(Tenant(8)));
    assert_eq!(c.app_context::<Tenant>(), None);
}

// ---- security policies and key_share_groups ----

use sanstls::codec::{CipherSuite, ProtocolVersion, SignatureScheme};
use sanstls::msgs::{ClientHello, Dialect, HandshakePayload};
use sanstls::SecurityPolicy;

/// The client's first flight as the server would read it: the ClientHello in the first
/// record, decoded from the wire bytes.
fn client_hello_on_wire(c: &mut Connection) -> (ClientHello, Vec<u8>) {
    let mut wire = Vec::new();
    while c.write_tls(&mut wire).unwrap() > 0 {}
    assert_eq!(wire[0], 22, "a handshake record");
    let len = u16::from_be_bytes([wire[3], wire[4]]) as usize;
    let msg = &wire[5..5 + len];
    assert_eq!(msg[0], 1, "ClientHello");
    match HandshakePayload::decode(HandshakeType::ClientHello, &msg[4..], Dialect::Tls13).unwrap() {
        HandshakePayload::ClientHello(ch) => (ch, wire),
        other => panic!("{other:?}"),
    }
}

#[test]
fn each_policy_is_what_the_client_hello_offers() {
    for policy in SecurityPolicy::ALL {
        let client = client_builder().policy(policy).build().unwrap();
        let mut c = Connection::client(client, "localhost").unwrap();
        let (ch, _) = client_hello_on_wire(&mut c);
        let suites: Vec<CipherSuite> = ch
            .cipher_suites
            .iter()
            .copied()
            .filter(|s| *s != CipherSuite::TLS_EMPTY_RENEGOTIATION_INFO_SCSV)
            .collect();
        assert_eq!(suites, policy.suites, "{}", policy.name);
        assert_eq!(ch.supported_groups().unwrap(), policy.groups, "{}", policy.name);
        assert_eq!(
            ch.signature_algorithms().unwrap(),
            policy.signature_schemes,
            "{}",
            policy.name
        );
        assert_eq!(
            ch.supported_versions().unwrap(),
            policy.versions,
            "{}",
            policy.name
        );
    }
    assert_eq!(
        SecurityPolicy::by_name("FIPS-2026-11"),
        Some(&SecurityPolicy::FIPS_2026_11)
    );
    assert_eq!(
        SecurityPolicy::by_name("modern-2026-12"),
        Some(&SecurityPolicy::MODERN_2026_12)
    );
}

/// The newest default preset is what the builders do without one: the same ClientHello
/// lists and key shares. (When the defaults change, a new dated preset records them.)
#[test]
fn default_2026_12_is_the_builders_defaults() {
    let hello = |client: Arc<sanstls::ClientConfig>| {
        let mut c = Connection::client(client, "localhost").unwrap();
        client_hello_on_wire(&mut c).0
    };
    let plain = hello(client_builder().build().unwrap());
    let preset = hello(
        client_builder()
            .policy(&SecurityPolicy::DEFAULT_2026_12)
            .build()
            .unwrap(),
    );
    assert_eq!(plain.cipher_suites, preset.cipher_suites);
    assert_eq!(plain.supported_groups(), preset.supported_groups());
    assert_eq!(plain.signature_algorithms(), preset.signature_algorithms());
    assert_eq!(plain.supported_versions(), preset.supported_versions());
    let groups = |ch: &ClientHello| {
        ch.key_shares()
            .unwrap()
            .iter()
            .map(|k| k.group)
            .collect::<Vec<_>>()
    };
    assert_eq!(groups(&plain), groups(&preset));
    assert_eq!(groups(&plain), [NamedGroup::X25519MLKEM768, NamedGroup::x25519]);
    // The 2026-11 presets keep their meaning: no hybrid.
    for policy in [
        &SecurityPolicy::MODERN_2026_11,
        &SecurityPolicy::DEFAULT_2026_11,
        &SecurityPolicy::FIPS_2026_11,
    ] {
        let ch = hello(client_builder().policy(policy).build().unwrap());
        assert_eq!(groups(&ch).len(), 1, "{}", policy.name);
        assert!(
            !ch.supported_groups()
                .unwrap()
                .contains(&NamedGroup::X25519MLKEM768),
            "{}",
            policy.name
        );
    }
}

/// The 2026-12 FIPS preset: X25519MLKEM768, SecP256r1MLKEM768, SecP384r1MLKEM1024, P-256,
/// P-384 and never x25519 alone. Its client sends X25519MLKEM768 and P-256 shares; a default
/// server takes the hybrid, a FIPS server too; a client of X25519 alone meets a FIPS server
/// only through a HelloRetryRequest for P-256, or not at all.
#[test]
fn fips_2026_12_offers_the_approved_hybrids_and_never_x25519_alone() {
    let fips = &SecurityPolicy::FIPS_2026_12;
    let client = client_builder().policy(fips).build().unwrap();
    let mut c = Connection::client(client.clone(), "localhost").unwrap();
    let (ch, _) = client_hello_on_wire(&mut c);
    let offered = ch.supported_groups().unwrap();
    assert!(offered.contains(&NamedGroup::SecP256r1MLKEM768));
    assert!(offered.contains(&NamedGroup::X25519MLKEM768));
    assert!(!offered.contains(&NamedGroup::x25519));
    let shares: Vec<NamedGroup> = ch.key_shares().unwrap().iter().map(|k| k.group).collect();
    assert_eq!(shares, [NamedGroup::X25519MLKEM768, NamedGroup::secp256r1]);

    let fips_server = || server_builder("ecdsa-p256").policy(fips).build().unwrap();
    for server in [server_builder("ecdsa-p256").build().unwrap(), fips_server()] {
        let (mut c, mut s) = pair(client.clone(), server);
        handshake(&mut c, &mut s).unwrap();
        assert_eq!(c.key_exchange_group(), Some(NamedGroup::X25519MLKEM768));
        assert!(!c.had_hello_retry());
        assert_eq!(c.cipher_suite(), Some(CipherSuite::TLS_AES_128_GCM_SHA256));
    }
    // SecP256r1MLKEM768 alone from the client: the FIPS server takes it.
    let nist = client_builder()
        .policy(fips)
        .groups(&[NamedGroup::SecP256r1MLKEM768])
        .build()
        .unwrap();
    let (mut c, mut s) = pair(nist, fips_server());
    handshake(&mut c, &mut s).unwrap();
    assert_eq!(s.key_exchange_group(), Some(NamedGroup::SecP256r1MLKEM768));
    // An x25519 share: refused in favour of P-256 by HelloRetryRequest ...
    let x = client_builder()
        .groups(&[NamedGroup::x25519, NamedGroup::secp256r1])
        .build()
        .unwrap();
    let (mut c, mut s) = pair(x, fips_server());
    handshake(&mut c, &mut s).unwrap();
    assert_eq!(c.key_exchange_group(), Some(NamedGroup::secp256r1));
    assert!(c.had_hello_retry());
    // ... and x25519 alone is no group in common.
    let x_only = client_builder().groups(&[NamedGroup::x25519]).build().unwrap();
    let (mut c, mut s) = pair(x_only, fips_server());
    let err = handshake(&mut c, &mut s).unwrap_err();
    assert_eq!(err.alert(), Some(AlertDescription::HandshakeFailure), "{err:?}");
    // TLS 1.2 under it: no hybrid listed, ECDHE on P-256.
    let client12 = client_builder()
        .policy(fips)
        .versions(&[ProtocolVersion::TLSv1_2])
        .build()
        .unwrap();
    let mut c = Connection::client(client12.clone(), "localhost").unwrap();
    let (_, wire) = client_hello_on_wire(&mut c);
    assert!(!wire.windows(2).any(|w| w == [0x11, 0xec] || w == [0x11, 0xeb]));
    let (mut c, mut s) = pair(client12, fips_server());
    handshake(&mut c, &mut s).unwrap();
    assert_eq!(c.protocol_version(), Some(ProtocolVersion::TLSv1_2));
    assert_eq!(c.key_exchange_group(), Some(NamedGroup::secp256r1));
}

/// The 2026-12 modern preset puts every hybrid ahead of every classical group: a server
/// under it takes any hybrid the client sent a share for, even one it lists after another.
#[test]
fn modern_2026_12_prefers_any_hybrid_share() {
    let modern = &SecurityPolicy::MODERN_2026_12;
    let server = server_builder("ecdsa-p256").policy(modern).build().unwrap();
    for share in [
        NamedGroup::X25519MLKEM768,
        NamedGroup::SecP256r1MLKEM768,
        NamedGroup::SecP384r1MLKEM1024,
    ] {
        let client = client_builder()
            .groups(&[NamedGroup::x25519, share])
            .build()
            .unwrap();
        let (mut c, mut s) = pair(client, server.clone());
        handshake(&mut c, &mut s).unwrap();
        assert_eq!(s.key_exchange_group(), Some(share));
        assert!(!s.had_hello_retry());
    }
    let (mut c, mut s) = pair(client_builder().policy(modern).build().unwrap(), server);
    handshake(&mut c, &mut s).unwrap();
    assert_eq!(c.key_exchange_group(), Some(NamedGroup::X25519MLKEM768));
}

#[test]
fn lists_stay_settable_after_a_policy() {
    let client = client_builder()
        .policy(&SecurityPolicy::FIPS_2026_11)
        .groups(&[NamedGroup::secp384r1])
        .build()
        .unwrap();
    let mut c = Connection::client(client, "localhost").unwrap();
    let (ch, _) = client_hello_on_wire(&mut c);
    assert_eq!(ch.supported_groups().unwrap(), [NamedGroup::secp384r1]);
    assert!(!ch
        .cipher_suites
        .contains(&CipherSuite::TLS_CHACHA20_POLY1305_SHA256));
}

#[test]
fn fips_server_negotiates_only_approved_algorithms() {
    // A default client sends X25519MLKEM768 and x25519 shares, neither of which the
    // 2026-11 FIPS server takes: it asks for P-256, picks AES-GCM and signs with ECDSA.
    let server = server_builder("ed25519")
        .add_cert(certified_key("ecdsa-p256"))
        .policy(&SecurityPolicy::FIPS_2026_11)
        .build()
        .unwrap();
    let client = client_builder()
        .cipher_suites(&[
            CipherSuite::TLS_CHACHA20_POLY1305_SHA256,
            CipherSuite::TLS_AES_256_GCM_SHA384,
        ])
        .build()
        .unwrap();
    let (mut c, mut s) = pair(client, server);
    handshake(&mut c, &mut s).unwrap();
    assert_eq!(c.cipher_suite(), Some(CipherSuite::TLS_AES_256_GCM_SHA384));
    assert_eq!(c.key_exchange_group(), Some(NamedGroup::secp256r1));
    assert!(c.had_hello_retry());
    assert_eq!(
        c.signature_scheme(),
        Some(SignatureScheme::ecdsa_secp256r1_sha256)
    );

    // With only an Ed25519 certificate the FIPS server has nothing it may sign with.
    let server = server_builder("ed25519")
        .policy(&SecurityPolicy::FIPS_2026_11)
        .build()
        .unwrap();
    let (mut c, mut s) = pair(client_builder().build().unwrap(), server);
    let err = handshake(&mut c, &mut s).unwrap_err();
    assert_eq!(err.alert(), Some(AlertDescription::HandshakeFailure), "{err:?}");

    // TLS 1.2 under the FIPS policy: an ECDHE AES-GCM suite on P-256.
    let client = client_builder()
        .policy(&SecurityPolicy::FIPS_2026_11)
        .versions(&[ProtocolVersion::TLSv1_2])
        .build()
        .unwrap();
    let server = server_builder("rsa2048")
        .policy(&SecurityPolicy::FIPS_2026_11)
        .build()
        .unwrap();
    let (mut c, mut s) = pair(client, server);
    handshake(&mut c, &mut s).unwrap();
    assert_eq!(c.protocol_version(), Some(ProtocolVersion::TLSv1_2));
    assert_eq!(
        c.cipher_suite(),
        Some(CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)
    );
    assert_eq!(c.key_exchange_group(), Some(NamedGroup::secp256r1));
}

#[test]
fn modern_policy_refuses_tls12_peers() {
    let server = server_builder("ecdsa-p256")
        .policy(&SecurityPolicy::MODERN_2026_11)
        .build()
        .unwrap();
    let client = client_builder()
        .versions(&[ProtocolVersion::TLSv1_2])
        .build()
        .unwrap();
    let (mut c, mut s) = pair(client, server);
    let err = handshake(&mut c, &mut s).unwrap_err();
    assert_eq!(err, Error::NoCommonVersion);
    let mut wire = Vec::new();
    while s.write_tls(&mut wire).unwrap() > 0 {}
    assert_eq!(wire[5..], [2, AlertDescription::ProtocolVersion.get()]);
}

#[test]
fn key_share_groups_decides_which_groups_get_a_share() {
    let groups = [NamedGroup::x25519, NamedGroup::secp256r1];
    // Our server prefers P-256 and takes nothing else.
    let p256_server = || {
        server_builder("ecdsa-p256")
            .groups(&[NamedGroup::secp256r1, NamedGroup::x25519])
            .build()
            .unwrap()
    };
    let p256_only = || {
        server_builder("ecdsa-p256")
            .groups(&[NamedGroup::secp256r1])
            .build()
            .unwrap()
    };
    for n in [1, 2] {
        let client = client_builder()
            .groups(&groups)
            .key_share_groups(n)
            .build()
            .unwrap();
        let mut c = Connection::client(client.clone(), "localhost").unwrap();
        let (ch, _) = client_hello_on_wire(&mut c);
        let shared: Vec<NamedGroup> = ch.key_shares().unwrap().iter().map(|k| k.group).collect();
        assert_eq!(shared, groups[..n], "shares in the first ClientHello");
        assert_eq!(ch.supported_groups().unwrap(), groups, "every group is offered");

        // The server preferring P-256 uses a share when there is one for it ...
        let (mut c, mut s) = pair(client.clone(), p256_server());
        handshake(&mut c, &mut s).unwrap();
        let want = if n == 2 {
            NamedGroup::secp256r1
        } else {
            NamedGroup::x25519
        };
        assert_eq!(c.key_exchange_group(), Some(want));
        assert!(!c.had_hello_retry());

        // ... and a server taking only P-256 reaches it by HelloRetryRequest when it has none.
        let (mut c, mut s) = pair(client, p256_only());
        handshake(&mut c, &mut s).unwrap();
        assert_eq!(c.key_exchange_group(), Some(NamedGroup::secp256r1));
        assert_eq!(c.had_hello_retry(), n == 1);
    }
}

// ---- choosing the config after the ClientHello ----

use sanstls::conn::ClientHelloInfo;

fn hello_info_for(client: Arc<sanstls::ClientConfig>) -> (Connection, Connection, ClientHelloInfo) {
    let mut c = Connection::client(client, "localhost").unwrap();
    let mut s = Connection::server_deferred();
    assert!(s.client_hello().is_none());
    transfer(&mut c, &mut s).unwrap();
    assert_eq!(events(&mut s), [Event::ClientHello]);
    let info = s.client_hello().cloned().expect("waiting with the ClientHello");
    (c, s, info)
}

#[test]
fn deferred_server_reads_the_client_hello_then_chooses_its_config_tls13() {
    let client = client_builder()
        .alpn_protocols(&[b"h2".as_slice(), b"http/1.1"])
        .groups(&[NamedGroup::x25519, NamedGroup::secp256r1])
        .key_share_groups(2)
        .build()
        .unwrap();
    let (mut c, mut s, info) = hello_info_for(client);
    assert_eq!(info.server_name.as_deref(), Some("localhost"));
    assert_eq!(info.alpn, [b"h2".to_vec(), b"http/1.1".to_vec()]);
    assert_eq!(
        info.versions,
        [ProtocolVersion::TLSv1_3, ProtocolVersion::TLSv1_2]
    );
    assert_eq!(info.groups, [NamedGroup::x25519, NamedGroup::secp256r1]);
    assert_eq!(info.key_share_groups, [NamedGroup::x25519, NamedGroup::secp256r1]);
    assert!(info.cipher_suites.contains(&CipherSuite::TLS_AES_128_GCM_SHA256));
    assert!(info
        .signature_schemes
        .contains(&SignatureScheme::rsa_pss_rsae_sha256));
    assert!(!info.offers_psk);

    // The application takes its time: more calls change nothing and send nothing.
    s.process_new_packets().unwrap();
    let mut wire = Vec::new();
    s.write_tls(&mut wire).unwrap();
    assert!(
        wire.is_empty() && s.is_handshaking(),
        "nothing sent while waiting"
    );
    assert!(events(&mut s).is_empty());

    // It picks an RSA certificate, ALPN http/1.1 and P-256 for this client.
    let chosen = server_builder("rsa2048")
        .alpn_protocols(&[b"http/1.1".as_slice()])
        .groups(&[NamedGroup::secp256r1])
        .build()
        .unwrap();
    s.accept_with(chosen).unwrap();
    assert!(s.client_hello().is_none());
    handshake(&mut c, &mut s).unwrap();
    assert_eq!(c.peer_certificates()[0], certified_key("rsa2048").chain[0]);
    assert_eq!(c.alpn_protocol(), Some(&b"http/1.1"[..]));
    assert_eq!(c.key_exchange_group(), Some(NamedGroup::secp256r1));
    assert_eq!(send(&mut c, &mut s, b"hello"), b"hello");
    assert!(s.accept_with(server_builder("rsa2048").build().unwrap()).is_err());
}

#[test]
fn deferred_server_chooses_a_tls12_config() {
    let client = client_builder()
        .versions(&[ProtocolVersion::TLSv1_2])
        .build()
        .unwrap();
    let (mut c, mut s, info) = hello_info_for(client);
    assert_eq!(info.versions, [ProtocolVersion::TLSv1_2]);
    assert!(info.key_share_groups.is_empty());
    let chosen = server_builder("ecdsa-p384")
        .policy(&SecurityPolicy::FIPS_2026_11)
        .build()
        .unwrap();
    s.accept_with(chosen).unwrap();
    handshake(&mut c, &mut s).unwrap();
    assert_eq!(c.protocol_version(), Some(ProtocolVersion::TLSv1_2));
    assert_eq!(c.peer_certificates()[0], certified_key("ecdsa-p384").chain[0]);
    assert_eq!(send(&mut s, &mut c, b"over 1.2"), b"over 1.2");
}

#[test]
fn deferred_server_rejects_early_with_an_alert() {
    for versions in [&[ProtocolVersion::TLSv1_3][..], &[ProtocolVersion::TLSv1_2][..]] {
        let client = client_builder().versions(versions).build().unwrap();
        let (mut c, mut s, info) = hello_info_for(client);
        assert_eq!(info.server_name.as_deref(), Some("localhost"));
        let err = s.reject(AlertDescription::UnrecognizedName);
        assert_eq!(err, Error::Refused(AlertDescription::UnrecognizedName));
        let mut wire = Vec::new();
        while s.write_tls(&mut wire).unwrap() > 0 {}
        assert_eq!(wire, [21, 3, 3, 0, 2, 2, 112], "only the alert, no ServerHello");
        c.read_tls(&mut &wire[..]).unwrap();
        assert_eq!(
            c.process_new_packets(),
            Err(Error::AlertReceived(AlertDescription::UnrecognizedName))
        );
        assert_eq!(
            s.blinding_delay(),
            None,
            "a refusal is the application's, not blinded"
        );
    }
}

// ---- blinding ----

/// Randomness that is always the same byte (for a predictable blinding delay).
#[derive(Debug)]
struct Constant(u8);

impl sanstls::crypto::rand::RandomSource for Constant {
    fn fill(&self, buf: &mut [u8]) -> Result<(), Error> {
        buf.fill(self.0);
        Ok(())
    }
}

fn corrupt_record_to(s: &mut Connection, c: &mut Connection) -> Error {
    c.writer().write_all(b"tampered").unwrap();
    let mut wire = Vec::new();
    while c.write_tls(&mut wire).unwrap() > 0 {}
    let last = wire.len() - 1;
    wire[last] ^= 1;
    s.read_tls(&mut &wire[..]).unwrap();
    s.process_new_packets().unwrap_err()
}

#[test]
fn blinding_reports_a_random_delay_after_a_peer_caused_failure() {
    use std::time::Duration;
    let (min, max) = (Duration::from_secs(10), Duration::from_secs(30));
    for (byte, want) in [
        (0x00u8, min),
        // u64::MAX mod (20 s in ns + 1) past the minimum.
        (0xff, min + Duration::from_nanos(u64::MAX % 20_000_000_001)),
    ] {
        let server = server_builder("ecdsa-p256")
            .random(Arc::new(Constant(byte)))
            .blinding(min, max)
            .build()
            .unwrap();
        let (mut c, mut s) = pair(client_builder().build().unwrap(), server);
        handshake(&mut c, &mut s).unwrap();
        assert_eq!(s.blinding_delay(), None, "nothing failed");
        assert_eq!(corrupt_record_to(&mut s, &mut c), Error::DecryptFailed);
        let delay = s.blinding_delay().unwrap();
        assert_eq!(delay, want);
        assert!(delay >= min && delay <= max);
        // The alert is still queued for whenever the application sends it.
        let mut wire = Vec::new();
        while s.write_tls(&mut wire).unwrap() > 0 {}
        assert_eq!(wire.len(), 5 + 2 + 1 + 16, "one protected bad_record_mac alert");
    }
    // Off by default.
    let (mut c, mut s) = established();
    corrupt_record_to(&mut s, &mut c);
    assert_eq!(s.blinding_delay(), None);
}

/// TLS 1.2 with client authentication and tickets: the observer sees every handshake message
/// each side sends, those built by the TLS 1.2 machines' own framing included (Certificate,
/// ServerKeyExchange, CertificateRequest, ServerHelloDone, client Certificate,
/// ClientKeyExchange, CertificateVerify, NewSessionTicket).
#[test]
fn observer_sees_every_tls12_handshake_message_sent() {
    use sanstls::codec::ProtocolVersion;
    let (crec, srec) = (Arc::new(Recorder::default()), Arc::new(Recorder::default()));
    let anchors = TrustAnchors::from_pem_file(common::vectors().join("ca.pem")).unwrap();
    let server = server_builder("ecdsa-p256")
        .versions(&[ProtocolVersion::TLSv1_2])
        .client_verifier(Arc::new(WebPkiClientVerifier::new(anchors)))
        .record_observer(srec.clone())
        .build()
        .unwrap();
    let client = client_builder()
        .versions(&[ProtocolVersion::TLSv1_2])
        .client_auth_cert(common::certified_key("ed25519"))
        .record_observer(crec.clone())
        .build()
        .unwrap();
    let (mut c, mut s) = pair(client, server);
    handshake(&mut c, &mut s).unwrap();
    assert_eq!(c.protocol_version(), Some(ProtocolVersion::TLSv1_2));
    let sent = |rec: &Recorder| -> Vec<String> {
        rec.take()
            .into_iter()
            .filter(|l| l.starts_with("hs Sent"))
            .map(|l| l.split(' ').nth(2).unwrap().to_string())
            .collect()
    };
    assert_eq!(
        sent(&srec),
        [
            "ServerHello",
            "Certificate",
            "ServerKeyExchange",
            "CertificateRequest",
            "ServerHelloDone",
            "NewSessionTicket",
            "Finished"
        ]
    );
    assert_eq!(
        sent(&crec),
        [
            "ClientHello",
            "Certificate",
            "ClientKeyExchange",
            "CertificateVerify",
            "Finished"
        ]
    );
}

#[test]
fn close_notify_before_the_handshake_ends_follows_the_data_written_before_it() {
    let (mut c, mut s) = pair(
        client_builder().build().unwrap(),
        server_builder("ecdsa-p256").build().unwrap(),
    );
    // Written and closed while the handshake has not even started: the request still goes
    // out first, once the keys allow it, and the close_notify after it.
    c.writer().write_all(b"request").unwrap();
    c.send_close_notify();
    handshake(&mut c, &mut s).unwrap();
    transfer(&mut c, &mut s).unwrap();
    let mut got = Vec::new();
    s.reader().read_to_end(&mut got).unwrap();
    assert_eq!(got, b"request");
    assert!(s.peer_has_closed());
}

#[test]
fn signing_schemes_narrow_our_signatures_not_what_we_accept() {
    // The server signs only with RSA-PSS SHA-384; the client's default list has SHA-256 first.
    let server = server_builder("rsa2048")
        .signing_schemes(&[SignatureScheme::rsa_pss_rsae_sha384])
        .build()
        .unwrap();
    let (mut c, mut s) = pair(client_builder().build().unwrap(), server);
    handshake(&mut c, &mut s).unwrap();
    assert_eq!(c.signature_scheme(), Some(SignatureScheme::rsa_pss_rsae_sha384));

    // On a client: an RSA certificate with a signing list of ECDSA only has nothing to sign
    // with, so the client answers the CertificateRequest without a certificate.
    let anchors = TrustAnchors::from_pem_file(vectors().join("ca.pem")).unwrap();
    let client = client_builder()
        .client_auth_cert(certified_key("rsa2048"))
        .signing_schemes(&[SignatureScheme::ecdsa_secp256r1_sha256])
        .build()
        .unwrap();
    let server = server_builder("ecdsa-p256")
        .client_verifier(Arc::new(WebPkiClientVerifier::new(anchors)))
        .build()
        .unwrap();
    let (mut c, mut s) = pair(client, server);
    assert_eq!(handshake(&mut c, &mut s).unwrap_err(), Error::CertificateRequired);
    assert!(c.sent_certificates().is_empty());

    // A signing list with nothing the certificate can make: no handshake, while the same
    // server accepts such signatures from its peers.
    let server = server_builder("ecdsa-p256")
        .signing_schemes(&[SignatureScheme::ed25519])
        .build()
        .unwrap();
    let (mut c, mut s) = pair(client_builder().build().unwrap(), server);
    assert!(handshake(&mut c, &mut s).is_err());
}

#[test]
fn client_signature_scheme_is_known_to_both_sides() {
    let anchors = TrustAnchors::from_pem_file(vectors().join("ca.pem")).unwrap();
    for versions in [&[ProtocolVersion::TLSv1_3][..], &[ProtocolVersion::TLSv1_2]] {
        let client = client_builder()
            .versions(versions)
            .client_auth_cert(certified_key("ecdsa-p256"))
            .build()
            .unwrap();
        let server = server_builder("ecdsa-p256")
            .client_verifier(Arc::new(WebPkiClientVerifier::new(anchors.clone())))
            .build()
            .unwrap();
        let (mut c, mut s) = pair(client, server);
        handshake(&mut c, &mut s).unwrap();
        for conn in [&c, &s] {
            assert_eq!(
                conn.client_signature_scheme(),
                Some(SignatureScheme::ecdsa_secp256r1_sha256),
                "{versions:?}"
            );
        }
    }
    let (mut c, mut s) = pair(
        client_builder().build().unwrap(),
        server_builder("ecdsa-p256").build().unwrap(),
    );
    handshake(&mut c, &mut s).unwrap();
    assert_eq!(s.client_signature_scheme(), None);
}

/// A scheme list with private-use code points (BoringSSL's internal MD5-SHA1 id 0xff01)
/// advertises the others only: a private code point means nothing to a peer.
#[test]
fn private_use_signature_schemes_are_not_advertised() {
    let client = client_builder()
        .signature_schemes(&[
            SignatureScheme::from(0xff01),
            SignatureScheme::rsa_pkcs1_sha256,
            SignatureScheme::from(0xfe00),
            SignatureScheme::ecdsa_secp256r1_sha256,
        ])
        .build()
        .unwrap();
    let mut c = Connection::client(client, "localhost").unwrap();
    let (ch, _) = client_hello_on_wire(&mut c);
    assert_eq!(
        ch.signature_algorithms(),
        Some(
            &[
                SignatureScheme::rsa_pkcs1_sha256,
                SignatureScheme::ecdsa_secp256r1_sha256
            ][..]
        )
    );
}
