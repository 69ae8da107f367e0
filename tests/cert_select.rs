//! Several certificates in one ServerConfig: chosen by SNI and by the client's signature
//! algorithms (ServerConfig::choose_cert) and, in TLS 1.2, by the client's curves (RFC 8422
//! 5.1), the RFC 6066 server_name ack when the name chose, and the RecordObserver window on records and handshake messages.

mod common;

use sanstls::Failure;
use std::sync::{Arc, Mutex};

use common::*;
use sanstls::codec::{
    AlertDescription, CipherSuite, ContentType, HandshakeType, NamedGroup, ProtocolVersion,
    SignatureScheme as S,
};
use sanstls::msgs::ClientExtension;
use sanstls::{CertifiedKey, ClientConfig, Connection, Direction, Error, RecordObserver, ServerConfig};

fn other_test() -> CertifiedKey {
    let dir = vectors();
    CertifiedKey::from_pem_files(
        dir.join("other-test-ecdsa-p256.pem"),
        dir.join("other-test-ecdsa-p256.key"),
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

fn end_entity(c: &CertifiedKey) -> sanstls::pki_types::CertificateDer<'static> {
    c.chain[0].clone()
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

/// A TLS 1.2 client whose supported_groups lists only `groups`.
fn tls12_client(groups: &[NamedGroup]) -> Arc<ClientConfig> {
    client_builder()
        .versions(&[ProtocolVersion::TLSv1_2])
        .groups(groups)
        .build()
        .unwrap()
}

/// The suite, scheme and end-entity certificate a TLS 1.2 handshake settled on.
fn tls12_served(
    client: Arc<ClientConfig>,
    server: Arc<ServerConfig>,
) -> (CipherSuite, S, sanstls::pki_types::CertificateDer<'static>) {
    let (mut c, mut s) = pair(client, server);
    handshake(&mut c, &mut s).unwrap();
    let suite = c.cipher_suite().unwrap();
    (
        suite,
        c.signature_scheme().unwrap(),
        c.peer_certificates()[0].clone(),
    )
}

#[test]
fn tls12_ecdsa_certificate_only_on_a_curve_the_client_lists() {
    use NamedGroup as G;
    // RFC 8422 5.1: a client listing only x25519 gets no ECDSA P-256 signature.
    let (mut c, mut s) = pair(
        tls12_client(&[G::x25519]),
        server_builder("ecdsa-p256").build().unwrap(),
    );
    let err = handshake(&mut c, &mut s).unwrap_err();
    assert_eq!(err, Error::HandshakeFailure(Failure::NoCommonSignatureScheme));
    assert_eq!(err.alert(), Some(AlertDescription::HandshakeFailure));
    let _ = transfer(&mut s, &mut c);
    assert_eq!(
        c.last_alert_received().map(|a| a.description),
        Some(AlertDescription::HandshakeFailure)
    );
    assert!(c.signature_scheme().is_none(), "nothing signed");

    // Another certificate that fits serves it: RSA (with an ECDHE_RSA suite) or Ed25519.
    let server = server_builder("ecdsa-p256")
        .add_cert(certified_key("rsa2048"))
        .build()
        .unwrap();
    let (suite, scheme, ee) = tls12_served(tls12_client(&[G::x25519]), server);
    assert_eq!(suite, CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256);
    assert_eq!(scheme, S::rsa_pss_rsae_sha256);
    assert_eq!(ee, end_entity(&certified_key("rsa2048")));
    let server = server_builder("ecdsa-p256")
        .add_cert(certified_key("ed25519"))
        .build()
        .unwrap();
    let (suite, scheme, ee) = tls12_served(tls12_client(&[G::x25519]), server);
    assert_eq!(suite, CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256);
    assert_eq!(scheme, S::ed25519);
    assert_eq!(ee, end_entity(&certified_key("ed25519")));

    // The certificate on a listed curve, even when the client prefers another group.
    let server = server_builder("ecdsa-p256")
        .add_cert(certified_key("ecdsa-p384"))
        .build()
        .unwrap();
    let (_, scheme, ee) = tls12_served(tls12_client(&[G::x25519, G::secp384r1]), server.clone());
    assert_eq!(scheme, S::ecdsa_secp384r1_sha384);
    assert_eq!(ee, end_entity(&certified_key("ecdsa-p384")));
    let (_, _, ee) = tls12_served(tls12_client(&[G::secp256r1, G::secp384r1]), server.clone());
    assert_eq!(
        ee,
        end_entity(&certified_key("ecdsa-p256")),
        "configuration order"
    );

    // Without supported_groups RFC 8422 4 would let any curve do; we refuse ECDHE instead
    // (the client cannot tell us which curve it has), with handshake_failure.
    let client = client_builder()
        .versions(&[ProtocolVersion::TLSv1_2])
        .customize_client_hello(|h| {
            h.extensions
                .retain(|e| !matches!(e, ClientExtension::SupportedGroups(_)))
        })
        .build()
        .unwrap();
    let (mut c, mut s) = pair(client, server_builder("ecdsa-p256").build().unwrap());
    let err = handshake(&mut c, &mut s).unwrap_err();
    assert_eq!(err, Error::HandshakeFailure(Failure::NoCommonGroup));
    let _ = transfer(&mut s, &mut c);
    assert_eq!(
        c.error(),
        Some(&Error::AlertReceived(AlertDescription::HandshakeFailure))
    );

    // TLS 1.3 binds the curve to the signature scheme instead: x25519 alone is no obstacle.
    let client = client_builder().groups(&[G::x25519]).build().unwrap();
    let (mut c, mut s) = pair(client, server_builder("ecdsa-p256").build().unwrap());
    handshake(&mut c, &mut s).unwrap();
    assert_eq!(c.protocol_version(), Some(ProtocolVersion::TLSv1_3));
    assert_eq!(c.signature_scheme(), Some(S::ecdsa_secp256r1_sha256));
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

// ---- A key must be its certificate's

/// The key of `localhost-<key>` under the certificate of `localhost-<cert>` (or
/// `other-test-ecdsa-p256` for `"other"`).
fn mixed(cert: &str, key: &str) -> Result<CertifiedKey, Error> {
    let dir = vectors();
    let file = |kind: &str, ext: &str| match kind {
        "other" => dir.join(format!("other-test-ecdsa-p256.{ext}")),
        kind => dir.join(format!("localhost-{kind}.{ext}")),
    };
    CertifiedKey::from_pem_files(file(cert, "pem"), file(key, "key"))
}

const MISMATCHED: &[(&str, &str)] = &[
    ("ecdsa-p256", "ecdsa-p384"),
    ("ecdsa-p256", "ed25519"),
    ("ecdsa-p256", "other"),
    ("ecdsa-p256", "rsa2048"),
    ("ed25519", "ecdsa-p256"),
    ("rsa2048", "rsa-pss"),
    ("rsa-pss", "rsa2048"),
    ("rsa-pss", "ecdsa-p256"),
];

#[test]
fn key_not_matching_its_certificate_is_refused_at_load() {
    for kind in KEY_TYPES.iter().copied().chain(["rsa-pss", "other"]) {
        assert!(mixed(kind, kind).is_ok(), "{kind}");
    }
    for (cert, key) in MISMATCHED {
        let res = mixed(cert, key);
        assert_eq!(
            res.err(),
            Some(Error::InconsistentKeys(sanstls::InconsistentKeys::KeyMismatch)),
            "{cert} certificate with {key} key"
        );
    }
    // The same through CertifiedKey::new.
    let chain = certified_key("ecdsa-p256").chain;
    let key = certified_key("ecdsa-p384").key;
    assert_eq!(
        CertifiedKey::new(chain, key).err(),
        Some(Error::InconsistentKeys(sanstls::InconsistentKeys::KeyMismatch))
    );
    // A certificate whose public key cannot be read.
    let key = certified_key("ecdsa-p256").key;
    assert_eq!(
        CertifiedKey::new(vec![b"not a certificate".to_vec().into()], key).err(),
        Some(Error::InconsistentKeys(sanstls::InconsistentKeys::Unknown))
    );
}

#[test]
fn key_swapped_after_load_is_refused_when_the_config_is_built() {
    let mismatched = || {
        let mut ck = certified_key("ecdsa-p256");
        ck.key = certified_key("ed25519").key;
        ck
    };
    let mismatch = Some(Error::InconsistentKeys(sanstls::InconsistentKeys::KeyMismatch));
    assert_eq!(ServerConfig::builder(mismatched()).build().err(), mismatch);
    assert_eq!(
        server_builder("rsa2048").add_cert(mismatched()).build().err(),
        mismatch
    );
    // A client certificate too.
    assert_eq!(
        client_builder().client_auth_cert(mismatched()).build().err(),
        mismatch
    );
    assert!(client_builder()
        .client_auth_cert(certified_key("ed25519"))
        .build()
        .is_ok());
}

// ---- Errors that say what was wrong

#[test]
fn name_mismatch_names_the_expected_name_and_the_certificates_names() {
    let mut client = Connection::client(client_builder().build().unwrap(), "example.com").unwrap();
    let mut server = Connection::server(server_builder("ecdsa-p256").build().unwrap()).unwrap();
    let err = handshake(&mut client, &mut server).unwrap_err();
    let want = Error::InvalidCertificate(sanstls::pki::CertError::NameMismatch {
        expected: "example.com".into(),
        presented: vec!["localhost".into(), "127.0.0.1".into(), "::1".into()],
    });
    assert_eq!(err, want);
    assert_eq!(
        err.to_string(),
        "invalid peer certificate: certificate is not valid for example.com: it names localhost, 127.0.0.1, ::1"
    );
    // The alert is unchanged (RFC 8446 6.2).
    assert_eq!(err.alert(), Some(AlertDescription::BadCertificate));
    let _ = transfer(&mut client, &mut server);
    assert_eq!(
        server.error(),
        Some(&Error::AlertReceived(AlertDescription::BadCertificate))
    );
}

#[test]
fn pem_file_without_a_certificate_is_an_error_naming_the_file() {
    let dir = vectors();
    // A key file holds no CERTIFICATE block.
    let keyfile = dir.join("localhost-ecdsa-p256.key");
    let err = sanstls::pki::TrustAnchors::from_pem_file(&keyfile).unwrap_err();
    let Error::Config(msg) = &err else {
        panic!("{err:?}")
    };
    assert!(msg.contains(&keyfile.display().to_string()), "{msg}");
    assert!(msg.contains("no CERTIFICATE"), "{msg}");
    let err = CertifiedKey::from_pem_files(&keyfile, &keyfile).err().unwrap();
    let Error::Config(msg) = &err else {
        panic!("{err:?}")
    };
    assert!(msg.contains(&keyfile.display().to_string()), "{msg}");
    assert!(msg.contains("no CERTIFICATE"), "{msg}");
    // The same from memory, and one error type for both.
    let pem = std::fs::read(&keyfile).unwrap();
    let err: Error = sanstls::pki::TrustAnchors::from_pem(&pem).unwrap_err();
    assert!(
        matches!(&err, Error::Config(m) if m.contains("no CERTIFICATE")),
        "{err:?}"
    );
    assert_eq!(
        sanstls::pki::TrustAnchors::from_pem_file(dir.join("ca.pem"))
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn peer_and_sent_certificates_have_one_type() {
    use sanstls::pki_types::CertificateDer;
    let server_cfg = server_builder("ecdsa-p256")
        .client_verifier(Arc::new(sanstls::pki::WebPkiClientVerifier::new(
            sanstls::pki::TrustAnchors::from_pem_file(vectors().join("ca.pem")).unwrap(),
        )))
        .build()
        .unwrap();
    let client_cfg = client_builder()
        .client_auth_cert(certified_key("ed25519"))
        .build()
        .unwrap();
    let (mut client, mut server) = pair(client_cfg, server_cfg);
    handshake(&mut client, &mut server).unwrap();
    let seen: &[CertificateDer<'static>] = client.peer_certificates();
    assert_eq!(seen, server.sent_certificates());
    assert_eq!(server.peer_certificates(), client.sent_certificates());
    assert!(!seen.is_empty() && !server.peer_certificates().is_empty());
}
