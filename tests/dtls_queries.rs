//! The TLS connection queries on `DtlsConnection`, DTLS 1.3 and 1.2: how the handshake went
//! (`handshake_kind`, `had_hello_retry`), the alerts sent and received, the plaintext waiting
//! and the certificates we sent.

mod common;

use std::sync::Arc;

use common::dtls::{read_all, write, Dir, Link};
use sanstls::codec::{AlertDescription, AlertLevel, ProtocolVersion};
use sanstls::conn::{AlertRecord, HandshakeKind};
use sanstls::dtls::{DtlsConfig, DtlsConnection};
use sanstls::pki::{TrustAnchors, WebPkiClientVerifier};
use sanstls::{ClientConfig, ServerConfig};

const V13: ProtocolVersion = ProtocolVersion::TLSv1_3;
const V12: ProtocolVersion = ProtocolVersion::TLSv1_2;

/// Configs enabling only `version` (TLS 1.3 gives DTLS 1.3, TLS 1.2 DTLS 1.2).
fn configs(version: ProtocolVersion) -> (Arc<ClientConfig>, Arc<ServerConfig>) {
    (
        common::client_builder().versions(&[version]).build().unwrap(),
        common::server_builder("ecdsa-p256")
            .versions(&[version])
            .build()
            .unwrap(),
    )
}

fn dtls_version(version: ProtocolVersion) -> ProtocolVersion {
    match version {
        V13 => ProtocolVersion::DTLSv1_3,
        _ => ProtocolVersion::DTLSv1_2,
    }
}

fn kinds(link: &mut Link) -> (Option<HandshakeKind>, Option<HandshakeKind>) {
    (link.client.handshake_kind(), link.server().handshake_kind())
}

fn settle(link: &mut Link, version: ProtocolVersion) {
    link.pump().unwrap();
    assert_eq!(link.client.protocol_version(), Some(dtls_version(version)));
    assert_eq!(link.server().protocol_version(), Some(dtls_version(version)));
}

#[test]
fn handshake_kind_says_how_each_handshake_went() {
    for version in [V13, V12] {
        let (c, s) = configs(version);
        // Through the acceptor: DTLS 1.3's stateless cookie is a HelloRetryRequest, DTLS
        // 1.2's HelloVerifyRequest is not.
        let mut link = Link::new(c, s, DtlsConfig::default());
        assert_eq!(link.client.handshake_kind(), None, "{version:?}: still running");
        settle(&mut link, version);
        let retry = version == V13;
        assert_eq!(link.client.had_hello_retry(), retry, "{version:?}");
        assert_eq!(link.server().had_hello_retry(), retry, "{version:?}");
        let expected = if retry {
            HandshakeKind::HelloRetry
        } else {
            HandshakeKind::Full
        };
        assert_eq!(kinds(&mut link), (Some(expected), Some(expected)), "{version:?}");

        // Without the acceptor (fresh configs, so no ticket yet): a full handshake, then one
        // resumed from its ticket.
        let (c, s) = configs(version);
        let mut full = Link::direct(c.clone(), s.clone(), DtlsConfig::default());
        settle(&mut full, version);
        let expected = (Some(HandshakeKind::Full), Some(HandshakeKind::Full));
        assert_eq!(kinds(&mut full), expected, "{version:?}");
        let mut resumed = Link::direct(c, s, DtlsConfig::default());
        settle(&mut resumed, version);
        assert!(resumed.client.is_resumed(), "{version:?}");
        let expected = (Some(HandshakeKind::Resumed), Some(HandshakeKind::Resumed));
        assert_eq!(kinds(&mut resumed), expected, "{version:?}");
    }
}

#[test]
fn a_failed_handshake_has_no_kind_and_records_the_alert_both_ways() {
    // A client offering only DTLS 1.3 against a DTLS 1.2-only server: protocol_version.
    let c = common::client_builder().versions(&[V13]).build().unwrap();
    let (_, s) = configs(V12);
    let mut link = Link::direct(c, s, DtlsConfig::default());
    let err = link.pump().expect_err("no shared version");
    assert_eq!(err.alert(), Some(AlertDescription::ProtocolVersion), "{err:?}");
    // The server's alert reaches the client.
    let _ = link.pump();
    let fatal = Some(AlertRecord {
        level: AlertLevel::Fatal,
        description: AlertDescription::ProtocolVersion,
    });
    assert_eq!(link.server().last_alert_sent(), fatal);
    assert_eq!(link.client.last_alert_received(), fatal);
    assert_eq!(link.client.last_alert_sent(), None);
    assert_eq!(link.server().last_alert_received(), None);
    assert_eq!(kinds(&mut link), (None, None));
}

#[test]
fn close_notify_is_recorded_on_both_sides() {
    for version in [V13, V12] {
        let (c, s) = configs(version);
        let mut link = Link::new(c, s, DtlsConfig::default());
        settle(&mut link, version);
        assert_eq!(link.client.last_alert_sent(), None, "{version:?}");
        link.client.send_close_notify();
        link.pump().unwrap();
        let sent = link.client.last_alert_sent().expect("close_notify sent");
        assert_eq!(sent.description, AlertDescription::CloseNotify, "{version:?}");
        assert_eq!(link.server().last_alert_received(), Some(sent), "{version:?}");
        assert!(link.server().peer_has_closed(), "{version:?}");
    }
}

#[test]
fn plaintext_available_peeks_without_consuming() {
    for version in [V13, V12] {
        let (c, s) = configs(version);
        let mut link = Link::new(c, s, DtlsConfig::default());
        settle(&mut link, version);
        assert_eq!(link.server().plaintext_available(), 0);
        write(&mut link.client, b"eleven byte");
        write(&mut link.client, b"s+4");
        link.pump().unwrap();
        assert_eq!(link.server().plaintext_available(), 14, "{version:?}");
        assert_eq!(link.server().plaintext_available(), 14, "{version:?}: a peek");
        assert_eq!(read_all(link.server()), b"eleven bytes+4");
        assert_eq!(link.server().plaintext_available(), 0, "{version:?}");
    }
}

fn der(conn: &DtlsConnection) -> Vec<sanstls::pki_types::CertificateDer<'static>> {
    conn.sent_certificates().to_vec()
}

#[test]
fn sent_certificates_are_what_the_peer_received() {
    for version in [V13, V12] {
        let anchors = TrustAnchors::from_pem_file(common::vectors().join("ca.pem")).unwrap();
        let s = common::server_builder("ecdsa-p384")
            .versions(&[version])
            .client_verifier(Arc::new(WebPkiClientVerifier::new(anchors)))
            .build()
            .unwrap();
        let c = common::client_builder()
            .versions(&[version])
            .client_auth_cert(common::certified_key("ed25519"))
            .build()
            .unwrap();
        let mut link = Link::new(c.clone(), s.clone(), DtlsConfig::default());
        settle(&mut link, version);
        let server_sent = der(link.server());
        assert_eq!(server_sent, link.client.peer_certificates(), "{version:?}");
        let ours = common::certified_key("ecdsa-p384");
        assert_eq!(server_sent[0], ours.chain[0], "{version:?}: the configured leaf");
        let client_sent = der(&link.client);
        assert_eq!(client_sent, link.server().peer_certificates(), "{version:?}");
        assert!(!client_sent.is_empty(), "{version:?}");

        // A resumed handshake sends no certificate.
        let mut resumed = Link::direct(c, s, DtlsConfig::default());
        settle(&mut resumed, version);
        assert!(resumed.client.is_resumed(), "{version:?}");
        assert!(der(resumed.server()).is_empty(), "{version:?}");
        assert!(der(&resumed.client).is_empty(), "{version:?}");
        // Nothing else went wrong on either side.
        for link in [&mut link, &mut resumed] {
            let _ = link.take(Dir::ToServer);
            assert!(link.client.error().is_none() && link.server().error().is_none());
        }
    }
}
