//! TLS 1.2 client and server against each other, in memory: every suite, group and key type,
//! version negotiation and the downgrade sentinel, EMS, resumption by session ID and by
//! ticket, client authentication, and the alerts for broken peers.

mod common;

use sanstls::Failure;
use std::sync::{Arc, Mutex};

use common::*;
use sanstls::codec::{
    AlertDescription, CipherSuite, ExtensionType, NamedGroup, ProtocolVersion, SignatureScheme,
};
use sanstls::conn::{ClientSessions12, SessionCache12};
use sanstls::crypto::RecordKey;
use sanstls::msgs::ClientExtension;
use sanstls::pki::{CertError, TrustAnchors, WebPkiClientVerifier};
use sanstls::{Connection, Error, Event, KeyLog, Misuse, Parameter, PeerMisbehaved};

const V12: &[ProtocolVersion] = &[ProtocolVersion::TLSv1_2];
const GROUPS: [NamedGroup; 3] = [NamedGroup::x25519, NamedGroup::secp256r1, NamedGroup::secp384r1];
const ECDSA_SUITES: [CipherSuite; 3] = [
    CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
];
const RSA_SUITES: [CipherSuite; 3] = [
    CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
];

fn suites_for(kind: &str) -> [CipherSuite; 3] {
    if kind == "rsa2048" {
        RSA_SUITES
    } else {
        ECDSA_SUITES
    }
}

/// Collects `CLIENT_RANDOM` master secrets.
#[derive(Debug, Default)]
struct Masters(Mutex<Vec<(Vec<u8>, Vec<u8>)>>);

impl KeyLog for Masters {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        assert_eq!(label, "CLIENT_RANDOM", "TLS 1.2 logs only the master secret");
        self.0
            .lock()
            .unwrap()
            .push((client_random.to_vec(), secret.to_vec()));
    }
}

fn read_alert(conn: &Connection) -> Option<AlertDescription> {
    conn.error().and_then(Error::alert)
}

#[test]
fn every_suite_group_and_key_type_handshakes_and_moves_data() {
    for kind in KEY_TYPES {
        for suite in suites_for(kind) {
            for group in GROUPS {
                let clog = Arc::new(Masters::default());
                let slog = Arc::new(Masters::default());
                // The client also lists the certificate's curve; the server holds to `group`.
                let client = client_builder()
                    .versions(V12)
                    .cipher_suites(&[suite])
                    .groups(&groups_with_cert_curve(group, kind))
                    .key_log(clog.clone())
                    .build()
                    .unwrap();
                let server = server_builder(kind)
                    .groups(&[group])
                    .key_log(slog.clone())
                    .build()
                    .unwrap();
                let (mut c, mut s) = pair(client, server);
                handshake(&mut c, &mut s).unwrap_or_else(|e| panic!("{kind} {suite} {group}: {e}"));
                for conn in [&c, &s] {
                    assert_eq!(conn.protocol_version(), Some(ProtocolVersion::TLSv1_2));
                    assert_eq!(conn.cipher_suite(), Some(suite));
                    assert_eq!(conn.key_exchange_group(), Some(group));
                    assert_eq!(conn.extended_master_secret(), Some(true));
                    assert!(!conn.is_resumed());
                }
                assert_eq!(c.signature_scheme(), s.signature_scheme());
                assert_eq!(send(&mut c, &mut s, b"ping"), b"ping");
                assert_eq!(send(&mut s, &mut c, b"pong"), b"pong");
                assert_eq!(c.peer_certificates().len(), 1);
                let (cl, sl) = (clog.0.lock().unwrap(), slog.0.lock().unwrap());
                assert_eq!(*cl, *sl, "both sides log the same master secret");
                assert_eq!(cl.len(), 1);
                assert_eq!(cl[0].0, c.client_random());
                let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
                c.export_keying_material(&mut a, b"EXPORTER-test", Some(b"ctx"))
                    .unwrap();
                s.export_keying_material(&mut b, b"EXPORTER-test", Some(b"ctx"))
                    .unwrap();
                assert_eq!(a, b);
            }
        }
    }
}

#[test]
fn handshake_complete_once_and_large_data_both_ways() {
    let (mut c, mut s) = pair(
        client_builder().versions(V12).build().unwrap(),
        server_builder("rsa2048").build().unwrap(),
    );
    handshake(&mut c, &mut s).unwrap();
    assert_eq!(events(&mut c), [Event::HandshakeComplete, Event::SessionTicket]);
    assert_eq!(events(&mut s), [Event::HandshakeComplete]);
    let big: Vec<u8> = (0..40_000u32).map(|i| i as u8).collect();
    assert_eq!(send(&mut c, &mut s, &big), big);
    assert_eq!(send(&mut s, &mut c, &big), big);
}

#[test]
fn default_configs_negotiate_tls13_and_each_side_falls_back_to_tls12() {
    let (mut c, mut s) = pair(
        client_builder().build().unwrap(),
        server_builder("ecdsa-p256").build().unwrap(),
    );
    handshake(&mut c, &mut s).unwrap();
    assert_eq!(c.protocol_version(), Some(ProtocolVersion::TLSv1_3));

    // A TLS 1.3-capable client and a TLS 1.2-only server.
    let (mut c, mut s) = pair(
        client_builder().build().unwrap(),
        server_builder("ecdsa-p256").versions(V12).build().unwrap(),
    );
    handshake(&mut c, &mut s).unwrap();
    assert_eq!(c.protocol_version(), Some(ProtocolVersion::TLSv1_2));
    assert_eq!(s.protocol_version(), Some(ProtocolVersion::TLSv1_2));
    assert_ne!(
        &s.server_random()[24..],
        b"DOWNGRD\x01",
        "a 1.2-only server writes no sentinel"
    );

    // A TLS 1.2-only client and a TLS 1.3-capable server: the server marks its random.
    let (mut c, mut s) = pair(
        client_builder().versions(V12).build().unwrap(),
        server_builder("rsa2048").build().unwrap(),
    );
    handshake(&mut c, &mut s).unwrap();
    assert_eq!(c.protocol_version(), Some(ProtocolVersion::TLSv1_2));
    assert_eq!(&c.server_random()[24..], b"DOWNGRD\x01");
    assert_eq!(send(&mut c, &mut s, b"x"), b"x");
}

#[test]
fn forced_downgrade_to_tls12_is_illegal_parameter() {
    // An attacker strips supported_versions: the 1.3 server answers in 1.2 with the sentinel,
    // and the 1.3 client refuses.
    let client = client_builder()
        .customize_client_hello(|h| {
            h.extensions
                .retain(|e| e.typ() != ExtensionType::SupportedVersions)
        })
        .build()
        .unwrap();
    let (mut c, mut s) = pair(client, server_builder("ecdsa-p256").build().unwrap());
    let err = handshake(&mut c, &mut s).unwrap_err();
    assert_eq!(err, Error::PeerMisbehaved(PeerMisbehaved::DowngradeDetected));
    assert_eq!(err.alert(), Some(AlertDescription::IllegalParameter));
}

/// A TLS 1.2 client retrying after a failed attempt, as RFC 7507 has it signal: TLS 1.2
/// with TLS_FALLBACK_SCSV among its suites.
fn fallback_client() -> Arc<sanstls::ClientConfig> {
    client_builder()
        .versions(V12)
        .customize_client_hello(|h| h.cipher_suites.push(CipherSuite::TLS_FALLBACK_SCSV))
        .build()
        .unwrap()
}

#[test]
fn fallback_scsv_to_a_tls13_server_is_inappropriate_fallback() {
    // RFC 7507 3: the server speaks a higher version than the client's highest.
    let (mut c, mut s) = pair(fallback_client(), server_builder("ecdsa-p256").build().unwrap());
    let err = handshake(&mut c, &mut s).unwrap_err();
    assert_eq!(err, Error::PeerMisbehaved(PeerMisbehaved::InappropriateFallback));
    assert_eq!(err.alert(), Some(AlertDescription::InappropriateFallback));
    transfer(&mut s, &mut c).unwrap_err();
    assert_eq!(
        c.error(),
        Some(&Error::AlertReceived(AlertDescription::InappropriateFallback))
    );
}

#[test]
fn fallback_scsv_to_a_tls12_only_server_is_served() {
    // The client's highest version is the server's: nothing was downgraded.
    let server = server_builder("ecdsa-p256").versions(V12).build().unwrap();
    let (mut c, mut s) = pair(fallback_client(), server);
    handshake(&mut c, &mut s).unwrap();
    assert_eq!(s.protocol_version(), Some(ProtocolVersion::TLSv1_2));
}

#[test]
fn fallback_scsv_for_tls11_to_a_tls12_only_server_is_inappropriate_fallback() {
    // RFC 7507 3: the server's highest version (1.2) is above the hello's (1.1); of the two
    // alerts the RFC allows, inappropriate_fallback, not protocol_version.
    let client = client_builder()
        .versions(V12)
        .customize_client_hello(|h| {
            h.legacy_version = ProtocolVersion::TLSv1_1;
            h.cipher_suites.push(CipherSuite::TLS_FALLBACK_SCSV);
        })
        .build()
        .unwrap();
    let server = server_builder("ecdsa-p256").versions(V12).build().unwrap();
    let (mut c, mut s) = pair(client, server);
    let err = handshake(&mut c, &mut s).unwrap_err();
    assert_eq!(err, Error::PeerMisbehaved(PeerMisbehaved::InappropriateFallback));
    transfer(&mut s, &mut c).unwrap_err();
    assert_eq!(
        c.error(),
        Some(&Error::AlertReceived(AlertDescription::InappropriateFallback))
    );
}

#[test]
fn version_flags_pick_only_that_version() {
    let client = client_builder()
        .versions(&[ProtocolVersion::TLSv1_3])
        .build()
        .unwrap();
    let server = server_builder("ecdsa-p256").versions(V12).build().unwrap();
    let (mut c, mut s) = pair(client, server);
    let err = handshake(&mut c, &mut s).unwrap_err();
    assert_eq!(err.alert(), Some(AlertDescription::ProtocolVersion));

    let client = client_builder().versions(V12).build().unwrap();
    let server = server_builder("ecdsa-p256")
        .versions(&[ProtocolVersion::TLSv1_3])
        .build()
        .unwrap();
    let (mut c, mut s) = pair(client, server);
    let err = handshake(&mut c, &mut s).unwrap_err();
    assert_eq!(err.alert(), Some(AlertDescription::ProtocolVersion));

    assert!(client_builder()
        .versions(&[ProtocolVersion::TLSv1_1])
        .build()
        .is_err());
    assert!(client_builder()
        .versions(V12)
        .cipher_suites(&[CipherSuite::TLS_AES_128_GCM_SHA256])
        .build()
        .is_err());
}

fn strip_ems(h: &mut sanstls::msgs::ClientHello) {
    h.extensions
        .retain(|e| *e != ClientExtension::ExtendedMasterSecret);
}

#[test]
fn server_requiring_ems_refuses_a_client_without_it() {
    let client = client_builder()
        .versions(V12)
        .customize_client_hello(strip_ems)
        .build()
        .unwrap();
    let server = server_builder("ecdsa-p256").require_ems(true).build().unwrap();
    let (mut c, mut s) = pair(client, server);
    let err = handshake(&mut c, &mut s).unwrap_err();
    assert_eq!(err.alert(), Some(AlertDescription::HandshakeFailure));
    assert_eq!(read_alert(&s), Some(AlertDescription::HandshakeFailure));
}

#[test]
fn client_requiring_ems_refuses_a_server_without_it() {
    // The server is not asked for EMS (the hook strips it), so it answers without; the
    // client requires it.
    let client = client_builder()
        .versions(V12)
        .require_ems(true)
        .customize_client_hello(strip_ems)
        .build()
        .unwrap();
    let server = server_builder("ecdsa-p256").build().unwrap();
    let (mut c, mut s) = pair(client, server);
    let err = handshake(&mut c, &mut s).unwrap_err();
    assert_eq!(
        err,
        Error::HandshakeFailure(Failure::ExtendedMasterSecretRequired)
    );
    assert_eq!(read_alert(&c), Some(AlertDescription::HandshakeFailure));
}

#[test]
fn a_client_without_ems_is_served_by_default() {
    // RFC 7627 5.4 lets a server go on without EMS; OpenSSL, GnuTLS and rustls do.
    let client = client_builder()
        .versions(V12)
        .customize_client_hello(strip_ems)
        .build()
        .unwrap();
    let (mut c, mut s) = pair(client, server_builder("ecdsa-p256").build().unwrap());
    handshake(&mut c, &mut s).unwrap();
    assert_eq!(c.extended_master_secret(), Some(false));
    assert_eq!(s.extended_master_secret(), Some(false));
    assert_eq!(send(&mut c, &mut s, b"legacy"), b"legacy");
    assert_eq!(send(&mut s, &mut c, b"back"), b"back");
    // RFC 7627 5.4: no keying material exported from a master secret not bound to the
    // handshake.
    let mut out = [0u8; 32];
    for conn in [&c, &s] {
        assert_eq!(
            conn.export_keying_material(&mut out, b"EXPORTER-test", None),
            Err(Error::Misuse(Misuse::NoExporterWithoutEms))
        );
    }
}

#[test]
fn a_session_without_ems_is_never_resumed() {
    // RFC 7627 5.3: neither side files such a session, by ticket or by session ID, even when
    // both turn the requirement off explicitly.
    for tickets in [false, true] {
        let client = client_builder()
            .versions(V12)
            .require_ems(false)
            .tickets12(tickets)
            .customize_client_hello(strip_ems)
            .build()
            .unwrap();
        let server = server_builder("ecdsa-p256").require_ems(false).build().unwrap();
        for round in 0..2 {
            let (mut c, mut s) = pair(client.clone(), server.clone());
            handshake(&mut c, &mut s).unwrap();
            assert_eq!(s.extended_master_secret(), Some(false));
            assert!(
                !c.is_resumed() && !s.is_resumed(),
                "tickets={tickets} round {round}"
            );
            // No NewSessionTicket: the server did not acknowledge session_ticket.
            assert_eq!(events(&mut c), [Event::HandshakeComplete], "tickets={tickets}");
        }
    }
}

#[test]
fn fips_and_modern_policies_require_ems_default_does_not() {
    use sanstls::SecurityPolicy;
    let client = client_builder()
        .versions(V12)
        .customize_client_hello(strip_ems)
        .build()
        .unwrap();
    for (policy, refused) in [
        (&SecurityPolicy::FIPS_2026_11, true),
        (&SecurityPolicy::DEFAULT_2026_11, false),
        (&SecurityPolicy::FIPS_2026_12, true),
        (&SecurityPolicy::DEFAULT_2026_12, false),
    ] {
        // The policy decides, whatever was set before it.
        let server = server_builder("ecdsa-p256")
            .require_ems(!refused)
            .policy(policy)
            .build()
            .unwrap();
        let (mut c, mut s) = pair(client.clone(), server);
        let result = handshake(&mut c, &mut s);
        assert_eq!(result.is_err(), refused, "{}", policy.name);
        if refused {
            assert_eq!(read_alert(&s), Some(AlertDescription::HandshakeFailure));
        }
    }
    for policy in SecurityPolicy::ALL {
        assert_eq!(
            policy.require_ems,
            !policy.name.starts_with("default-"),
            "{}",
            policy.name
        );
    }
    // The policy's requirement can still be turned off after it.
    let server = server_builder("ecdsa-p256")
        .policy(&SecurityPolicy::FIPS_2026_11)
        .require_ems(false)
        .build()
        .unwrap();
    let (mut c, mut s) = pair(client, server);
    handshake(&mut c, &mut s).unwrap();
    assert_eq!(s.extended_master_secret(), Some(false));
}

#[test]
fn resumption_by_session_id_and_by_ticket() {
    for tickets in [false, true] {
        let client = client_builder().versions(V12).tickets12(tickets).build().unwrap();
        let server = server_builder("ecdsa-p256").build().unwrap();
        let (mut c, mut s) = pair(client.clone(), server.clone());
        handshake(&mut c, &mut s).unwrap();
        assert!(!c.is_resumed());
        let first_suite = c.cipher_suite();
        let first_group = c.key_exchange_group();
        assert!(first_group.is_some());

        let (mut c, mut s) = pair(client.clone(), server.clone());
        handshake(&mut c, &mut s).unwrap();
        assert!(c.is_resumed(), "tickets={tickets}");
        assert!(s.is_resumed(), "tickets={tickets}");
        assert_eq!(c.cipher_suite(), first_suite);
        // No key exchange in an abbreviated handshake: both sides report the session's group.
        assert_eq!(c.key_exchange_group(), first_group);
        assert_eq!(s.key_exchange_group(), first_group);
        assert_eq!(c.extended_master_secret(), Some(true));
        // No Certificate in an abbreviated handshake: the client reports the chain of the
        // full one, as on a resumed TLS 1.3 connection.
        assert!(!c.peer_certificates().is_empty());
        assert_eq!(send(&mut c, &mut s, b"again"), b"again");
        assert_eq!(send(&mut s, &mut c, b"back"), b"back");

        // Another server (other ticket key, empty cache) falls back to a full handshake.
        let other = server_builder("ecdsa-p256").build().unwrap();
        let (mut c, mut s) = pair(client.clone(), other);
        handshake(&mut c, &mut s).unwrap();
        assert!(!c.is_resumed() && !s.is_resumed());
    }
}

#[test]
fn ticket_only_server_resumes_without_a_cache() {
    let client = client_builder().versions(V12).build().unwrap();
    let server = server_builder("rsa2048").session_cache12(0).build().unwrap();
    let (mut c, mut s) = pair(client.clone(), server.clone());
    handshake(&mut c, &mut s).unwrap();
    let (mut c, mut s) = pair(client, server);
    handshake(&mut c, &mut s).unwrap();
    assert!(c.is_resumed() && s.is_resumed());
}

#[test]
fn shared_session_stores_resume_across_configs() {
    // Session IDs (no tickets): the client's sessions and the server's cache both live
    // outside the configs, so a second pair of configs (other settings) resumes the first's.
    let client_store = Arc::new(ClientSessions12::new(8));
    let server_cache = Arc::new(SessionCache12::new(8));
    let client = |alpn: &str| {
        client_builder()
            .versions(V12)
            .tickets12(false)
            .alpn_protocols(&[alpn])
            .session_store12(client_store.clone())
            .build()
            .unwrap()
    };
    let server = |alpn: &str| {
        server_builder("ecdsa-p256")
            .tickets12(false)
            .alpn_protocols(&[alpn])
            .session_store12(server_cache.clone())
            .build()
            .unwrap()
    };
    let (mut c, mut s) = pair(client("a"), server("a"));
    handshake(&mut c, &mut s).unwrap();
    assert!(!c.is_resumed());
    let (mut c, mut s) = pair(client("b"), server("b"));
    handshake(&mut c, &mut s).unwrap();
    assert!(c.is_resumed() && s.is_resumed());
    assert_eq!(send(&mut c, &mut s, b"resumed"), b"resumed");

    // Without the shared stores the same two pairs of configs run two full handshakes.
    let unshared = |alpn: &str| {
        (
            client_builder()
                .versions(V12)
                .tickets12(false)
                .alpn_protocols(&[alpn])
                .build()
                .unwrap(),
            server_builder("ecdsa-p256")
                .tickets12(false)
                .alpn_protocols(&[alpn])
                .build()
                .unwrap(),
        )
    };
    let (c1, s1) = unshared("a");
    let (mut c, mut s) = pair(c1, s1);
    handshake(&mut c, &mut s).unwrap();
    let (c2, s2) = unshared("b");
    let (mut c, mut s) = pair(c2, s2);
    handshake(&mut c, &mut s).unwrap();
    assert!(!c.is_resumed() && !s.is_resumed());
}

#[test]
fn resumption_off_means_full_handshakes() {
    let client = client_builder().versions(V12).session_cache12(0).build().unwrap();
    let server = server_builder("ecdsa-p256").build().unwrap();
    for _ in 0..2 {
        let (mut c, mut s) = pair(client.clone(), server.clone());
        handshake(&mut c, &mut s).unwrap();
        assert!(!c.is_resumed());
    }
}

fn client_verifier(optional: bool) -> Arc<WebPkiClientVerifier> {
    let anchors = TrustAnchors::from_pem_file(vectors().join("ca.pem")).unwrap();
    let v = WebPkiClientVerifier::new(anchors);
    Arc::new(if optional { v.optional() } else { v })
}

#[test]
fn client_authentication_with_every_key_type() {
    for kind in KEY_TYPES {
        let client = client_builder()
            .versions(V12)
            .client_auth_cert(certified_key(kind))
            .build()
            .unwrap();
        let server = server_builder("ecdsa-p256")
            .client_verifier(client_verifier(false))
            .build()
            .unwrap();
        let (mut c, mut s) = pair(client, server);
        handshake(&mut c, &mut s).unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(s.peer_certificates().len(), 1, "{kind}");
        assert_eq!(send(&mut c, &mut s, b"me"), b"me");
    }
}

#[test]
fn rsassa_pss_certificates_serve_and_authenticate_clients() {
    // RFC 8446 1.3, 4.2.3: rsa_pss_pss_* (an id-RSASSA-PSS key) sign in TLS 1.2 too, with
    // the ECDHE_RSA suites.
    let client = client_builder()
        .versions(V12)
        .client_auth_cert(certified_key("rsa-pss"))
        .build()
        .unwrap();
    let server = server_builder("rsa-pss")
        .client_verifier(client_verifier(false))
        .build()
        .unwrap();
    let (mut c, mut s) = pair(client, server);
    handshake(&mut c, &mut s).unwrap();
    assert_eq!(c.protocol_version(), Some(ProtocolVersion::TLSv1_2));
    assert_eq!(
        c.cipher_suite(),
        Some(CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)
    );
    assert_eq!(c.signature_scheme(), Some(SignatureScheme::rsa_pss_pss_sha256));
    assert_eq!(
        c.peer_certificates().len(),
        2,
        "end entity and RSA-PSS intermediate"
    );
    assert_eq!(s.peer_certificates().len(), 2);
    assert_eq!(send(&mut c, &mut s, b"pss"), b"pss");

    // A client that does not offer rsa_pss_pss_* gets no signature from a PSS-only key.
    let client = client_builder()
        .versions(V12)
        .signature_schemes(&[
            SignatureScheme::rsa_pss_rsae_sha256,
            SignatureScheme::rsa_pkcs1_sha256,
        ])
        .build()
        .unwrap();
    let (mut c, mut s) = pair(client, server_builder("rsa-pss").build().unwrap());
    let err = handshake(&mut c, &mut s).unwrap_err();
    assert_eq!(err.alert(), Some(AlertDescription::HandshakeFailure));
}

#[test]
fn missing_client_certificate_is_handshake_failure_when_required() {
    let server = server_builder("ecdsa-p256")
        .client_verifier(client_verifier(false))
        .build()
        .unwrap();
    let (mut c, mut s) = pair(client_builder().versions(V12).build().unwrap(), server);
    let err = handshake(&mut c, &mut s).unwrap_err();
    assert_eq!(err.alert(), Some(AlertDescription::HandshakeFailure));

    let server = server_builder("ecdsa-p256")
        .client_verifier(client_verifier(true))
        .build()
        .unwrap();
    let (mut c, mut s) = pair(client_builder().versions(V12).build().unwrap(), server);
    handshake(&mut c, &mut s).unwrap();
    assert!(s.peer_certificates().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Broken peers. Records are cut apart and rebuilt; protected ones are sealed with keys
// derived from the logged master secret.

/// Splits the handshake messages of plaintext handshake records.
fn messages(recs: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let body: Vec<u8> = recs
        .iter()
        .filter(|r| r[0] == 22)
        .flat_map(|r| r[5..].to_vec())
        .collect();
    let mut out = Vec::new();
    let mut at = 0;
    while at + 4 <= body.len() {
        let len = 4
            + (usize::from(body[at + 1]) << 16 | usize::from(body[at + 2]) << 8 | usize::from(body[at + 3]));
        out.push(body[at..at + len].to_vec());
        at += len;
    }
    out
}

fn record(typ: u8, body: &[u8]) -> Vec<u8> {
    let mut r = vec![typ, 3, 3];
    r.extend_from_slice(&(body.len() as u16).to_be_bytes());
    r.extend_from_slice(body);
    r
}

/// One side's TLS 1.2 record key, from the master secret.
fn record_key(conn: &Connection, master: &[u8], from_client: bool) -> RecordKey {
    let suite = conn.cipher_suite().unwrap();
    tls12_record_key(
        suite,
        master,
        &conn.client_random(),
        &conn.server_random(),
        from_client,
    )
}

/// The additional data of a TLS 1.2 AEAD record (RFC 5246 6.2.3.3).
fn aad12(seq: u64, typ: u8, len: usize) -> Vec<u8> {
    let mut aad = seq.to_be_bytes().to_vec();
    aad.extend_from_slice(&[typ, 3, 3]);
    aad.extend_from_slice(&(len as u16).to_be_bytes());
    aad
}

/// Opens a TLS 1.2 record (header included) one side sealed: its type and plaintext.
fn open(conn: &Connection, master: &[u8], from_client: bool, seq: u64, rec: &[u8]) -> (u8, Vec<u8>) {
    let key = record_key(conn, master, from_client);
    let overhead = key.explicit_nonce_len() + key.tag_len();
    let aad = aad12(seq, rec[0], rec.len() - 5 - overhead);
    let mut body = rec[5..].to_vec();
    let plain = key
        .open_in_place(seq, &aad, &mut body)
        .expect("record opens")
        .to_vec();
    (rec[0], plain)
}

/// Seals TLS 1.2 records as one side would, from the master secret.
fn seal(conn: &Connection, master: &[u8], from_client: bool, seq: u64, typ: u8, plain: &[u8]) -> Vec<u8> {
    let key = record_key(conn, master, from_client);
    let aad = aad12(seq, typ, plain.len());
    let mut body = plain.to_vec();
    key.seal_in_place(seq, &aad, &mut body).unwrap();
    let mut payload = Vec::new();
    if key.explicit_nonce_len() > 0 {
        payload.extend_from_slice(&key.explicit_nonce(seq));
    }
    payload.extend_from_slice(&body);
    record(typ, &payload)
}

fn logged_pair() -> (Connection, Connection, Arc<Masters>) {
    let log = Arc::new(Masters::default());
    let client = client_builder()
        .versions(V12)
        .key_log(log.clone())
        .build()
        .unwrap();
    let (c, s) = pair(client, server_builder("ecdsa-p256").build().unwrap());
    (c, s, log)
}

/// A Certificate message carrying one certificate, `der`.
fn certificate_message(der: &[u8]) -> Vec<u8> {
    let u24 = |n: usize| [(n >> 16) as u8, (n >> 8) as u8, n as u8];
    let mut body = u24(der.len() + 3).to_vec();
    body.extend_from_slice(&u24(der.len()));
    body.extend_from_slice(der);
    let mut msg = vec![11];
    msg.extend_from_slice(&u24(body.len()));
    msg.extend_from_slice(&body);
    msg
}

#[test]
fn server_certificate_that_does_not_parse_is_decode_error() {
    // RFC 8446 6.2: a certificate whose DER does not parse is a message that could not be
    // decoded; the alert goes out in plaintext, before our ChangeCipherSpec.
    let (mut c, mut s, _) = logged_pair();
    transfer(&mut c, &mut s).unwrap();
    let msgs = messages(&records(&drain(&mut s)));
    let garbage = certificate_message(b"not a certificate");
    let flight = [msgs[0].clone(), garbage, msgs[2].clone(), msgs[3].clone()].concat();
    let err = feed(&mut c, &record(22, &flight)).unwrap_err();
    assert_eq!(err, Error::InvalidCertificate(CertError::BadEncoding));
    assert_eq!(err.alert(), Some(AlertDescription::DecodeError));
    assert_eq!(drain(&mut c), [21, 3, 3, 0, 2, 2, 50]);
}

#[test]
fn handshake_data_after_the_end_of_a_flight_is_unexpected_message() {
    // ServerHelloDone ends the server's flight and the ClientHello the client's: what follows
    // either answers our next flight, so it may not share their record (no key change lies
    // between them, so RFC 8446 5.1 alone would not catch it).
    let (mut c, mut s, _) = logged_pair();
    transfer(&mut c, &mut s).unwrap();
    let mut flight = messages(&records(&drain(&mut s))).concat();
    flight.extend_from_slice(&[4, 0, 0, 10, 0, 0]);
    let err = feed(&mut c, &record(22, &flight)).unwrap_err();
    assert_eq!(err, Error::PeerMisbehaved(PeerMisbehaved::MessagePastEndOfFlight));
    assert_eq!(drain(&mut c), [21, 3, 3, 0, 2, 2, 10]);

    let (mut c, mut s, _) = logged_pair();
    let mut hello = messages(&records(&drain(&mut c))).concat();
    hello.extend_from_slice(&[16, 0, 0, 33, 32]);
    let err = feed(&mut s, &record(22, &hello)).unwrap_err();
    assert_eq!(err, Error::PeerMisbehaved(PeerMisbehaved::MessagePastEndOfFlight));
    assert_eq!(drain(&mut s), [21, 3, 3, 0, 2, 2, 10]);

    // The same for a server that holds the ClientHello to choose its config.
    let mut s = Connection::server_deferred();
    let err = feed(&mut s, &record(22, &hello)).unwrap_err();
    assert_eq!(err, Error::PeerMisbehaved(PeerMisbehaved::MessagePastEndOfFlight));
    assert_eq!(drain(&mut s), [21, 3, 3, 0, 2, 2, 10]);
}

#[test]
fn record_version_other_than_tls12_after_the_server_hello_is_refused() {
    // RFC 5246 E.1: only records before the ServerHello may carry another record version.
    let (mut c, mut s, _) = logged_pair();
    transfer(&mut c, &mut s).unwrap();
    let msgs = messages(&records(&drain(&mut s)));
    let mut flight = record(22, &msgs[0]);
    let mut rest = record(22, &msgs[1..].concat());
    rest[1..3].copy_from_slice(&[3, 1]);
    flight.extend_from_slice(&rest);
    let err = feed(&mut c, &flight).unwrap_err();
    assert_eq!(err, Error::PeerMisbehaved(PeerMisbehaved::WrongLegacyVersion));
    assert_eq!(drain(&mut c), [21, 3, 3, 0, 2, 2, 47]);
}

#[test]
fn certificate_key_that_does_not_fit_the_suite_is_illegal_parameter() {
    // RFC 5246 7.4.2: an ECDSA certificate after a ServerHello choosing ECDHE_RSA is refused
    // at the Certificate, before any signature is looked at.
    let (mut c, mut s, _) = logged_pair();
    transfer(&mut c, &mut s).unwrap();
    let mut msgs = messages(&records(&drain(&mut s)));
    let at = 4 + 2 + 32 + 1 + usize::from(msgs[0][4 + 2 + 32]);
    let rsa = CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
        .get()
        .to_be_bytes();
    msgs[0][at..at + 2].copy_from_slice(&rsa);
    let err = feed(&mut c, &record(22, &msgs.concat())).unwrap_err();
    assert_eq!(
        err,
        Error::PeerMisbehaved(PeerMisbehaved::IllegalParameter(Parameter::CertificateKeyType))
    );
    assert_eq!(drain(&mut c), [21, 3, 3, 0, 2, 2, 47]);
}

#[test]
fn server_flight_out_of_order_is_unexpected_message() {
    let (mut c, mut s, _) = logged_pair();
    transfer(&mut c, &mut s).unwrap();
    let flight = drain(&mut s);
    let msgs = messages(&records(&flight));
    // ServerHello, Certificate, ServerKeyExchange, ServerHelloDone.
    assert_eq!(msgs.iter().map(|m| m[0]).collect::<Vec<_>>(), [2, 11, 12, 14]);
    let swapped = [msgs[0].clone(), msgs[2].clone(), msgs[1].clone(), msgs[3].clone()].concat();
    let err = feed(&mut c, &record(22, &swapped)).unwrap_err();
    assert_eq!(err.alert(), Some(AlertDescription::UnexpectedMessage));

    let (mut c, mut s, _) = logged_pair();
    transfer(&mut c, &mut s).unwrap();
    let msgs = messages(&records(&drain(&mut s)));
    let skipped = [msgs[0].clone(), msgs[1].clone(), msgs[3].clone()].concat();
    let err = feed(&mut c, &record(22, &skipped)).unwrap_err();
    assert_eq!(err.alert(), Some(AlertDescription::UnexpectedMessage));
}

#[test]
fn finished_before_change_cipher_spec_is_unexpected_message() {
    let (mut c, mut s, _) = logged_pair();
    transfer(&mut c, &mut s).unwrap();
    transfer(&mut s, &mut c).unwrap();
    let recs = records(&drain(&mut c));
    // ClientKeyExchange, CCS, Finished: drop the CCS.
    assert_eq!(recs.iter().map(|r| r[0]).collect::<Vec<_>>(), [22, 20, 22]);
    feed(&mut s, &recs[0]).unwrap();
    let err = feed(&mut s, &recs[2]).unwrap_err();
    assert_eq!(err.alert(), Some(AlertDescription::UnexpectedMessage));
}

#[test]
fn missing_finished_then_data_is_unexpected_message() {
    let (mut c, mut s, log) = logged_pair();
    transfer(&mut c, &mut s).unwrap();
    transfer(&mut s, &mut c).unwrap();
    let recs = records(&drain(&mut c));
    feed(&mut s, &[recs[0].clone(), recs[1].clone()].concat()).unwrap();
    // The client's next record (seq 1) is application data instead of Finished (seq 0 was
    // skipped, so seal it as seq 0 to pass the record layer).
    let master = log.0.lock().unwrap()[0].1.clone();
    let data = seal(&c, &master, true, 0, 23, b"early");
    let err = feed(&mut s, &data).unwrap_err();
    assert_eq!(err.alert(), Some(AlertDescription::UnexpectedMessage));
}

#[test]
fn altered_finished_is_decrypt_error_both_ways() {
    // Client's Finished altered: the server answers decrypt_error.
    let (mut c, mut s, log) = logged_pair();
    transfer(&mut c, &mut s).unwrap();
    transfer(&mut s, &mut c).unwrap();
    let recs = records(&drain(&mut c));
    let master = log.0.lock().unwrap()[0].1.clone();
    let bad = seal(
        &c,
        &master,
        true,
        0,
        22,
        &[20, 0, 0, 12, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
    );
    feed(&mut s, &[recs[0].clone(), recs[1].clone()].concat()).unwrap();
    let err = feed(&mut s, &bad).unwrap_err();
    assert_eq!(err, Error::BadFinished);
    assert_eq!(err.alert(), Some(AlertDescription::DecryptError));

    // Server's Finished altered: the client answers decrypt_error.
    let (mut c, mut s, log) = logged_pair();
    handshake_until_server_finished(&mut c, &mut s);
    let recs = records(&drain(&mut s));
    let master = log.0.lock().unwrap()[0].1.clone();
    let ccs_at = recs.iter().position(|r| r[0] == 20).unwrap();
    let bad = seal(
        &c,
        &master,
        false,
        0,
        22,
        &[20, 0, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    );
    let mut flight: Vec<u8> = recs[..=ccs_at].concat();
    flight.extend_from_slice(&bad);
    let err = feed(&mut c, &flight).unwrap_err();
    assert_eq!(err, Error::BadFinished);
}

fn handshake_until_server_finished(c: &mut Connection, s: &mut Connection) {
    transfer(c, s).unwrap();
    transfer(s, c).unwrap();
    transfer(c, s).unwrap();
}

#[test]
fn unsolicited_renegotiation_is_no_renegotiation_both_ways() {
    // HelloRequest from the server after the handshake.
    let (mut c, mut s, log) = logged_pair();
    handshake(&mut c, &mut s).unwrap();
    let master = log.0.lock().unwrap()[0].1.clone();
    // The server sent NewSessionTicket and Finished under its keys? No: the ticket goes
    // before its CCS; only Finished (seq 0) is protected.
    let hello_request = seal(&c, &master, false, 1, 22, &[0, 0, 0, 0]);
    let err = feed(&mut c, &hello_request).unwrap_err();
    assert_eq!(err, Error::PeerMisbehaved(PeerMisbehaved::RenegotiationAttempted));
    assert_eq!(err.alert(), Some(AlertDescription::NoRenegotiation));

    // A new ClientHello from the client after the handshake.
    let (mut c, mut s, log) = logged_pair();
    handshake(&mut c, &mut s).unwrap();
    let master = log.0.lock().unwrap()[0].1.clone();
    let mut probe = Connection::client(client_builder().versions(V12).build().unwrap(), "localhost").unwrap();
    let hello = records(&drain(&mut probe))[0][5..].to_vec();
    let reneg = seal(&c, &master, true, 1, 22, &hello);
    let err = feed(&mut s, &reneg).unwrap_err();
    assert_eq!(err.alert(), Some(AlertDescription::NoRenegotiation));
}

#[test]
fn second_change_cipher_spec_is_unexpected_message() {
    let (mut c, mut s, _) = logged_pair();
    handshake(&mut c, &mut s).unwrap();
    let err = feed(&mut s, &record(20, &[1])).unwrap_err();
    assert_eq!(err.alert(), Some(AlertDescription::UnexpectedMessage));
}

#[test]
fn change_cipher_spec_before_key_exchange_is_unexpected_message() {
    let (mut c, mut s, _) = logged_pair();
    transfer(&mut c, &mut s).unwrap();
    let err = feed(&mut s, &record(20, &[1])).unwrap_err();
    assert_eq!(err.alert(), Some(AlertDescription::UnexpectedMessage));
}

// ---------------------------------------------------------------------------------------------
// Fatal alerts on the wire: before our ChangeCipherSpec in plaintext, after it under our
// keys (RFC 5246 7.2: alerts are encrypted as specified by the current connection state).

#[test]
fn client_alert_before_its_change_cipher_spec_is_plaintext() {
    let client = client_builder().versions(V12).build().unwrap();
    let mut c = Connection::client(client, "example.com").unwrap();
    let mut s = Connection::server(server_builder("ecdsa-p256").build().unwrap()).unwrap();
    transfer(&mut c, &mut s).unwrap();
    let err = feed(&mut c, &drain(&mut s)).unwrap_err();
    assert_eq!(err.alert(), Some(AlertDescription::BadCertificate));
    let out = drain(&mut c);
    assert_eq!(out, [21, 3, 3, 0, 2, 2, 42]);
    let err = feed(&mut s, &out).unwrap_err();
    assert_eq!(err, Error::AlertReceived(AlertDescription::BadCertificate));
    assert_eq!(
        s.last_alert_received().map(|a| a.description),
        Some(AlertDescription::BadCertificate)
    );
}

#[test]
fn client_alert_after_its_change_cipher_spec_is_encrypted() {
    // Full handshake: CCS and Finished are out when the server's Finished fails.
    let (mut c, mut s, log) = logged_pair();
    handshake_until_server_finished(&mut c, &mut s);
    let recs = records(&drain(&mut s));
    let master = log.0.lock().unwrap()[0].1.clone();
    let ccs_at = recs.iter().position(|r| r[0] == 20).unwrap();
    let bad = seal(
        &c,
        &master,
        false,
        0,
        22,
        &[20, 0, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    );
    let mut flight: Vec<u8> = recs[..=ccs_at].concat();
    flight.extend_from_slice(&bad);
    assert_eq!(feed(&mut c, &flight).unwrap_err(), Error::BadFinished);
    let out = records(&drain(&mut c));
    assert_eq!(out.len(), 1);
    // Our Finished had sequence number 0.
    assert_eq!(open(&c, &master, true, 1, &out[0]), (21, vec![2, 51]));
    let err = feed(&mut s, &out[0]).unwrap_err();
    assert_eq!(err, Error::AlertReceived(AlertDescription::DecryptError));

    // Abbreviated handshake: the client fails on a record right behind the server's
    // Finished, with its own CCS, key switch and Finished still queued. The CCS goes out
    // and the alert follows it under the new keys; the Finished does not.
    let log = Arc::new(Masters::default());
    let client = client_builder()
        .versions(V12)
        .key_log(log.clone())
        .build()
        .unwrap();
    let server = server_builder("ecdsa-p256").build().unwrap();
    let (mut c, mut s) = pair(client.clone(), server.clone());
    handshake(&mut c, &mut s).unwrap();
    let (mut c, mut s) = pair(client, server);
    transfer(&mut c, &mut s).unwrap();
    let mut flight = drain(&mut s);
    // ServerHello, CCS, Finished.
    assert_eq!(
        records(&flight).iter().map(|r| r[0]).collect::<Vec<_>>(),
        [22, 20, 22]
    );
    flight.extend_from_slice(&record(23, &[0; 40]));
    assert_eq!(
        feed(&mut c, &flight).unwrap_err().alert(),
        Some(AlertDescription::BadRecordMac)
    );
    let master = log.0.lock().unwrap().last().unwrap().1.clone();
    let out = records(&drain(&mut c));
    assert_eq!(out.len(), 2);
    assert_eq!(out[0], [20, 3, 3, 0, 1, 1]);
    assert_eq!(open(&c, &master, true, 0, &out[1]), (21, vec![2, 20]));
    let err = feed(&mut s, &out.concat()).unwrap_err();
    assert_eq!(err, Error::AlertReceived(AlertDescription::BadRecordMac));
}

#[test]
fn server_alert_before_its_server_hello_is_plaintext() {
    let (mut c, mut s, _) = logged_pair();
    let mut input = drain(&mut c);
    // The ClientHello and, in the same read, a record the handshake cannot take: the
    // ServerHello queued for the hello never goes out, nor anything under its keys.
    input.extend_from_slice(&record(23, &[0; 40]));
    let err = feed(&mut s, &input).unwrap_err();
    assert_eq!(err.alert(), Some(AlertDescription::UnexpectedMessage));
    let out = drain(&mut s);
    assert_eq!(out, [21, 3, 3, 0, 2, 2, 10]);
    let err = feed(&mut c, &out).unwrap_err();
    assert_eq!(err, Error::AlertReceived(AlertDescription::UnexpectedMessage));
}

/// RFC 5246 7.2: a TLS 1.2 warning alert leaves the connection up, as the warning
/// unrecognized_name some servers send ahead of their ServerHello (the version is not known
/// yet then); more than a few in a row are cut off, as user_canceled is in TLS 1.3.
#[test]
fn tls12_warning_alerts_leave_the_connection_up_a_few_in_a_row() {
    use sanstls::codec::AlertLevel;
    use sanstls::conn::MAX_WARNING_ALERTS_IN_A_ROW;
    use sanstls::Limit;
    let warning = record(21, &[1, AlertDescription::UnrecognizedName.get()]);
    let server = server_builder("ecdsa-p256").versions(V12).build().unwrap();
    let (mut c, mut s) = pair(client_builder().build().unwrap(), server.clone());
    transfer(&mut c, &mut s).unwrap();
    let mut flight = warning.repeat(MAX_WARNING_ALERTS_IN_A_ROW as usize);
    flight.extend(drain(&mut s));
    feed(&mut c, &flight).unwrap();
    handshake(&mut c, &mut s).unwrap();
    assert_eq!(c.protocol_version(), Some(ProtocolVersion::TLSv1_2));
    assert!(events(&mut c).contains(&Event::Alert {
        level: AlertLevel::Warning,
        description: AlertDescription::UnrecognizedName,
    }));
    assert_eq!(send(&mut c, &mut s, b"still up"), b"still up");

    let (mut c, mut s) = pair(client_builder().build().unwrap(), server);
    transfer(&mut c, &mut s).unwrap();
    let flood = warning.repeat(MAX_WARNING_ALERTS_IN_A_ROW as usize + 1);
    assert_eq!(
        feed(&mut c, &flood),
        Err(Error::LimitExceeded(Limit::WarningAlerts))
    );
}

#[test]
fn quic_transport_parameters_in_a_tls12_hello_is_unsupported_extension() {
    // RFC 9001 8.2: an implementation that knows the extension MUST answer it on a non-QUIC
    // connection with unsupported_extension, also when the hello negotiates TLS 1.2.
    let client = client_builder()
        .versions(V12)
        .customize_client_hello(|h| {
            h.extensions
                .push(ClientExtension::QuicTransportParameters(vec![1, 2]))
        })
        .build()
        .unwrap();
    let (mut c, mut s) = pair(client, server_builder("ecdsa-p256").build().unwrap());
    let err = handshake(&mut c, &mut s).unwrap_err();
    assert_eq!(err, Error::PeerMisbehaved(PeerMisbehaved::UnsolicitedExtension));
    transfer(&mut s, &mut c).unwrap_err();
    assert_eq!(
        c.error(),
        Some(&Error::AlertReceived(AlertDescription::UnsupportedExtension))
    );
}

#[test]
fn tls12_server_name_is_acknowledged_on_request() {
    // RFC 6066 3: an empty server_name in the ServerHello when the server uses the name.
    use sanstls::msgs::ServerHelloExtension;
    for ack in [true, false] {
        let acks = Arc::new(Mutex::new(Vec::new()));
        let seen = acks.clone();
        let server = server_builder("ecdsa-p256")
            .versions(V12)
            .acknowledge_server_name(ack)
            .customize_server_hello(move |sh| {
                seen.lock()
                    .unwrap()
                    .push(sh.extensions.contains(&ServerHelloExtension::ServerNameAck));
            })
            .build()
            .unwrap();
        let (mut c, mut s) = pair(client_builder().build().unwrap(), server);
        handshake(&mut c, &mut s).unwrap();
        assert_eq!(*acks.lock().unwrap(), [ack]);
    }
}
