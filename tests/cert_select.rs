//! Several certificates in one ServerConfig: chosen by SNI and by the client's signature
//! algorithms (ServerConfig::choose_cert), the RFC 6066 server_name ack when the name chose,
//! and the RecordObserver window on records and handshake messages.

mod common;

use std::sync::{Arc, Mutex};

use common::*;
use sanstls::codec::{ContentType, HandshakeType, SignatureScheme as S};
use sanstls::{CertifiedKey, Connection, Direction, RecordObserver, ServerConfig};

fn other_test() -> CertifiedKey {
    let dir = vectors();
    CertifiedKey::from_pem_files(
        &dir.join("other-test-ecdsa-p256.pem"),
        &dir.join("other-test-ecdsa-p256.key"),
    )
    .unwrap()
}

/// ECDSA localhost, RSA localhost, ECDSA other.test, in that order.
fn three_certs() -> Arc<ServerConfig> {
    server_builder("ecdsa-p256")
        .add_cert(certified_key("rsa2048"))
        .add_cert(other_test())
        .build()
        .unwrap()
}

fn end_entity(c: &CertifiedKey) -> Vec<u8> {
    c.chain[0].as_ref().to_vec()
}

#[test]
fn choose_cert_by_signature_algorithms() {
    let cfg = three_certs();
    let (c, s) = cfg
        .choose_cert(Some("localhost"), &[S::ecdsa_secp256r1_sha256])
        .unwrap();
    assert_eq!(end_entity(&c), end_entity(&certified_key("ecdsa-p256")));
    assert_eq!(s, S::ecdsa_secp256r1_sha256);
    let (c, s) = cfg
        .choose_cert(Some("localhost"), &[S::rsa_pss_rsae_sha256])
        .unwrap();
    assert_eq!(end_entity(&c), end_entity(&certified_key("rsa2048")));
    assert_eq!(s, S::rsa_pss_rsae_sha256);
    // RFC 8446 4.2.3: PKCS#1 v1.5 is not for TLS 1.3 CertificateVerify.
    assert!(cfg.choose_cert(None, &[S::rsa_pkcs1_sha256]).is_none());
}

#[test]
fn choose_cert_by_sni_falls_back_to_the_first_that_signs() {
    let cfg = three_certs();
    let (c, _) = cfg
        .choose_cert(Some("other.test"), &[S::ecdsa_secp256r1_sha256])
        .unwrap();
    assert_eq!(end_entity(&c), end_entity(&other_test()));
    // The named certificate cannot sign what is offered: the first one that can.
    let (c, _) = cfg
        .choose_cert(Some("other.test"), &[S::rsa_pss_rsae_sha256])
        .unwrap();
    assert_eq!(end_entity(&c), end_entity(&certified_key("rsa2048")));
    // Unknown name and no name: configuration order.
    for sni in [Some("nowhere.test"), None] {
        let (c, _) = cfg.choose_cert(sni, &[S::ecdsa_secp256r1_sha256]).unwrap();
        assert_eq!(end_entity(&c), end_entity(&certified_key("ecdsa-p256")));
    }
}

#[test]
fn handshake_serves_the_certificate_sni_names() {
    let client = client_builder().build().unwrap();
    let mut c = Connection::client(client, "other.test").unwrap();
    let mut s = Connection::server(three_certs()).unwrap();
    handshake(&mut c, &mut s).unwrap();
    assert_eq!(c.peer_certificates()[0], end_entity(&other_test()));
    assert_eq!(s.server_name(), Some("other.test"));
}

#[test]
fn handshake_serves_rsa_to_a_client_offering_only_rsa() {
    let client = client_builder()
        .signature_schemes(&[S::rsa_pss_rsae_sha256])
        .build()
        .unwrap();
    let (mut c, mut s) = pair(client, three_certs());
    handshake(&mut c, &mut s).unwrap();
    assert_eq!(c.signature_scheme(), Some(S::rsa_pss_rsae_sha256));
    assert_eq!(c.peer_certificates()[0], end_entity(&certified_key("rsa2048")));
}

#[derive(Default)]
struct Recorder(Mutex<Vec<String>>);

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

fn encrypted_extensions_len(server: ServerConfig_) -> usize {
    let rec = Arc::new(Recorder::default());
    let cfg = server.record_observer(rec.clone()).build().unwrap();
    let (mut c, mut s) = pair(client_builder().build().unwrap(), cfg);
    handshake(&mut c, &mut s).unwrap();
    let log = rec.0.lock().unwrap();
    let line = log
        .iter()
        .find(|l| l.starts_with("hs Sent EncryptedExtensions"))
        .unwrap();
    // Sent at the handshake epoch (1).
    assert!(line.ends_with(" 1"), "{line}");
    line.split(' ').nth(3).unwrap().parse().unwrap()
}

type ServerConfig_ = sanstls::conn::ServerConfigBuilder;

#[test]
fn server_name_is_acknowledged_only_when_it_chose_the_certificate() {
    // RFC 6066 3: an empty server_name in EncryptedExtensions (4 bytes) when the name was used.
    let one = encrypted_extensions_len(server_builder("ecdsa-p256"));
    let several = encrypted_extensions_len(server_builder("ecdsa-p256").add_cert(other_test()));
    assert_eq!(one, 2);
    assert_eq!(several, 6);
}

#[test]
fn record_observer_sees_every_record_and_message_with_epochs() {
    let rec = Arc::new(Recorder::default());
    let server = server_builder("ecdsa-p256")
        .record_observer(rec.clone())
        .build()
        .unwrap();
    let (mut c, mut s) = pair(client_builder().build().unwrap(), server);
    handshake(&mut c, &mut s).unwrap();
    send(&mut c, &mut s, b"ping");
    let log = rec.0.lock().unwrap().clone();
    let has = |want: &str| log.iter().any(|l| l.starts_with(want));
    assert!(has("rec Received Handshake"), "{log:?}");
    assert!(has("hs Received ClientHello"), "{log:?}");
    assert!(has("hs Sent ServerHello"), "{log:?}");
    assert!(has("rec Sent Handshake"), "{log:?}");
    assert!(log.contains(&"hs Received Finished 32 1".to_string()), "{log:?}");
    assert!(
        log.contains(&"rec Received ApplicationData 4 2".to_string()),
        "{log:?}"
    );
    // The ServerHello record goes out in the clear, Finished under the handshake keys.
    let sh = log
        .iter()
        .position(|l| l.starts_with("rec Sent Handshake"))
        .unwrap();
    assert!(log[sh].ends_with(" 0"), "{log:?}");
}
