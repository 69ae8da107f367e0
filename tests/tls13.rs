//! TLS 1.3 client and server against each other, in memory.

mod common;

use sanstls::Failure;
use std::sync::{Arc, Mutex};

use common::*;
use sanstls::codec::{
    AlertDescription, AlertLevel, CipherSuite, NamedGroup, ProtocolVersion, SignatureScheme,
};
use sanstls::conn::AlertRecord;
use sanstls::pki::{TrustAnchors, WebPkiClientVerifier, WebPkiServerVerifier};
use sanstls::{ClientConfig, Connection, Error, Event, KeyLog};

const SUITES: [CipherSuite; 3] = [
    CipherSuite::TLS_AES_128_GCM_SHA256,
    CipherSuite::TLS_AES_256_GCM_SHA384,
    CipherSuite::TLS_CHACHA20_POLY1305_SHA256,
];
const GROUPS: [NamedGroup; 3] = [NamedGroup::x25519, NamedGroup::secp256r1, NamedGroup::secp384r1];

#[test]
fn every_suite_group_and_key_type_handshakes_and_moves_data() {
    for kind in KEY_TYPES {
        for suite in SUITES {
            for group in GROUPS {
                let client = client_builder()
                    .cipher_suites(&[suite])
                    .groups(&[group])
                    .build()
                    .unwrap();
                let server = server_builder(kind).build().unwrap();
                let (mut c, mut s) = pair(client, server);
                handshake(&mut c, &mut s).unwrap_or_else(|e| panic!("{kind} {suite} {group}: {e}"));
                for conn in [&c, &s] {
                    assert_eq!(conn.protocol_version(), Some(ProtocolVersion::TLSv1_3));
                    assert_eq!(conn.cipher_suite(), Some(suite));
                    assert_eq!(conn.key_exchange_group(), Some(group));
                    assert!(!conn.had_hello_retry());
                }
                let expected_scheme = match *kind {
                    "ecdsa-p256" => SignatureScheme::ecdsa_secp256r1_sha256,
                    "ecdsa-p384" => SignatureScheme::ecdsa_secp384r1_sha384,
                    "ed25519" => SignatureScheme::ed25519,
                    _ => SignatureScheme::rsa_pss_rsae_sha256,
                };
                assert_eq!(c.signature_scheme(), Some(expected_scheme), "{kind}");
                assert_eq!(s.signature_scheme(), Some(expected_scheme), "{kind}");
                assert_eq!(send(&mut c, &mut s, b"ping"), b"ping");
                assert_eq!(send(&mut s, &mut c, b"pong"), b"pong");
                assert_eq!(c.client_random(), s.client_random());
                assert_eq!(c.server_random(), s.server_random());
                assert_eq!(c.peer_certificates().len(), 1);
            }
        }
    }
}

#[test]
fn handshake_complete_is_reported_once_each_side() {
    let (mut c, mut s) = pair(
        client_builder().build().unwrap(),
        server_builder("ecdsa-p256").build().unwrap(),
    );
    handshake(&mut c, &mut s).unwrap();
    // The client also hears of the server's NewSessionTickets (two by default).
    assert_eq!(
        events(&mut c),
        [
            Event::HandshakeComplete,
            Event::SessionTicket,
            Event::SessionTicket
        ]
    );
    assert_eq!(events(&mut s), [Event::HandshakeComplete]);
}

#[test]
fn server_preference_order_decides_suite_and_group() {
    let client = client_builder()
        .cipher_suites(&SUITES)
        .groups(&[NamedGroup::x25519, NamedGroup::secp256r1])
        .key_share_groups(2)
        .build()
        .unwrap();
    let server = server_builder("ecdsa-p256")
        .cipher_suites(&[
            CipherSuite::TLS_CHACHA20_POLY1305_SHA256,
            CipherSuite::TLS_AES_128_GCM_SHA256,
        ])
        .groups(&[NamedGroup::secp256r1, NamedGroup::x25519])
        .build()
        .unwrap();
    let (mut c, mut s) = pair(client, server);
    handshake(&mut c, &mut s).unwrap();
    assert_eq!(c.cipher_suite(), Some(CipherSuite::TLS_CHACHA20_POLY1305_SHA256));
    assert_eq!(c.key_exchange_group(), Some(NamedGroup::secp256r1));
    assert!(!c.had_hello_retry());
}

#[test]
fn hello_retry_request_for_another_group() {
    let client = client_builder()
        .groups(&[NamedGroup::x25519, NamedGroup::secp384r1])
        .build()
        .unwrap();
    let server = server_builder("ecdsa-p256")
        .groups(&[NamedGroup::secp384r1])
        .build()
        .unwrap();
    let (mut c, mut s) = pair(client, server);
    handshake(&mut c, &mut s).unwrap();
    assert!(c.had_hello_retry() && s.had_hello_retry());
    assert_eq!(c.key_exchange_group(), Some(NamedGroup::secp384r1));
    assert_eq!(send(&mut c, &mut s, b"after hrr"), b"after hrr");
}

#[test]
fn no_common_group_is_handshake_failure() {
    let client = client_builder().groups(&[NamedGroup::x25519]).build().unwrap();
    let server = server_builder("ecdsa-p256")
        .groups(&[NamedGroup::secp384r1])
        .build()
        .unwrap();
    let (mut c, mut s) = pair(client, server);
    let err = handshake(&mut c, &mut s).unwrap_err();
    assert_eq!(err, Error::HandshakeFailure(Failure::NoCommonGroup));
    transfer(&mut s, &mut c).unwrap_err();
    assert_eq!(
        c.error(),
        Some(&Error::AlertReceived(AlertDescription::HandshakeFailure))
    );
}

#[test]
fn alpn_server_preference_wins() {
    let client = client_builder()
        .alpn_protocols(&["http/1.1", "h2"])
        .build()
        .unwrap();
    let server = server_builder("ecdsa-p256")
        .alpn_protocols(&["h2", "http/1.1"])
        .build()
        .unwrap();
    let (mut c, mut s) = pair(client, server);
    handshake(&mut c, &mut s).unwrap();
    assert_eq!(c.alpn_protocol(), Some(&b"h2"[..]));
    assert_eq!(s.alpn_protocol(), Some(&b"h2"[..]));
}

#[test]
fn alpn_without_overlap_is_no_application_protocol() {
    let client = client_builder().alpn_protocols(&["spdy/1"]).build().unwrap();
    let server = server_builder("ecdsa-p256")
        .alpn_protocols(&["h2"])
        .build()
        .unwrap();
    let (mut c, mut s) = pair(client, server);
    assert_eq!(
        handshake(&mut c, &mut s).unwrap_err(),
        Error::NoApplicationProtocol
    );
    transfer(&mut s, &mut c).unwrap_err();
    assert_eq!(
        c.error(),
        Some(&Error::AlertReceived(AlertDescription::NoApplicationProtocol))
    );
}

#[test]
fn alpn_the_client_did_not_offer_is_illegal_parameter() {
    // RFC 7301 3.2: the server must pick one of the client's protocols.
    let client = client_builder().alpn_protocols(&["h2"]).build().unwrap();
    let server = server_builder("ecdsa-p256")
        .alpn_protocols(&["h2"])
        .customize_encrypted_extensions(|ee| {
            for ext in ee.iter_mut() {
                if let sanstls::msgs::EncryptedExtension::Alpn(p) = ext {
                    *p = b"spdy/1".to_vec();
                }
            }
        })
        .build()
        .unwrap();
    let (mut c, mut s) = pair(client, server);
    assert_eq!(
        handshake(&mut c, &mut s).unwrap_err(),
        Error::PeerMisbehaved(sanstls::PeerMisbehaved::AlpnNotOffered)
    );
    transfer(&mut c, &mut s).unwrap_err();
    assert_eq!(
        s.error(),
        Some(&Error::AlertReceived(AlertDescription::IllegalParameter))
    );
}

#[test]
fn alpn_ignored_when_server_has_none() {
    let client = client_builder().alpn_protocols(&["h2"]).build().unwrap();
    let (mut c, mut s) = pair(client, server_builder("ecdsa-p256").build().unwrap());
    handshake(&mut c, &mut s).unwrap();
    assert_eq!(c.alpn_protocol(), None);
}

#[test]
fn sni_reaches_the_server() {
    let (mut c, mut s) = pair(
        client_builder().build().unwrap(),
        server_builder("ecdsa-p256").build().unwrap(),
    );
    handshake(&mut c, &mut s).unwrap();
    assert_eq!(s.server_name(), Some("localhost"));
    assert_eq!(c.server_name(), Some("localhost"));
}

#[test]
fn ip_address_names_send_no_sni_and_verify() {
    let client = client_builder().build().unwrap();
    let mut c = sanstls::Connection::client(client, "127.0.0.1").unwrap();
    let mut s = sanstls::Connection::server(server_builder("ecdsa-p256").build().unwrap()).unwrap();
    handshake(&mut c, &mut s).unwrap();
    assert_eq!(s.server_name(), None);
}

#[test]
fn wrong_name_is_bad_certificate() {
    let client = client_builder().build().unwrap();
    let mut c = sanstls::Connection::client(client, "example.com").unwrap();
    let mut s = sanstls::Connection::server(server_builder("ecdsa-p256").build().unwrap()).unwrap();
    let err = handshake(&mut c, &mut s).unwrap_err();
    assert!(matches!(err, Error::InvalidCertificate(_)), "{err:?}");
    assert_eq!(err.alert(), Some(AlertDescription::BadCertificate));
    transfer(&mut c, &mut s).unwrap_err();
    assert_eq!(
        s.error(),
        Some(&Error::AlertReceived(AlertDescription::BadCertificate))
    );
}

#[test]
fn key_update_requested_by_client_updates_both_directions() {
    let (mut c, mut s) = pair(
        client_builder().build().unwrap(),
        server_builder("ecdsa-p256").build().unwrap(),
    );
    handshake(&mut c, &mut s).unwrap();
    events(&mut c);
    events(&mut s);
    c.request_key_update(true).unwrap();
    assert_eq!(send(&mut c, &mut s, b"new keys"), b"new keys");
    let ev = events(&mut s);
    assert!(
        ev.contains(&Event::KeyUpdated { ours: false }) && ev.contains(&Event::KeyUpdated { ours: true })
    );
    assert_eq!(send(&mut s, &mut c, b"answer"), b"answer");
    let ev = events(&mut c);
    assert!(
        ev.contains(&Event::KeyUpdated { ours: true }) && ev.contains(&Event::KeyUpdated { ours: false })
    );
}

#[test]
fn key_update_not_requested_changes_one_direction() {
    let (mut c, mut s) = pair(
        client_builder().build().unwrap(),
        server_builder("ecdsa-p256").build().unwrap(),
    );
    handshake(&mut c, &mut s).unwrap();
    events(&mut s);
    s.request_key_update(false).unwrap();
    assert_eq!(send(&mut s, &mut c, b"x"), b"x");
    assert!(events(&mut c).contains(&Event::KeyUpdated { ours: false }));
    assert!(!c.wants_write(), "no update answered when not requested");
}

#[test]
fn data_written_before_a_key_update_goes_out_under_the_old_keys() {
    // Found by the fuzz corpus generator: the KeyUpdate used to jump ahead of data written
    // before it, so the peer read that data with the new keys and failed with bad_record_mac.
    use std::io::Write;
    let (mut c, mut s) = pair(
        client_builder().build().unwrap(),
        server_builder("ecdsa-p256").build().unwrap(),
    );
    handshake(&mut c, &mut s).unwrap();
    for request in [true, false] {
        s.writer().write_all(b"before").unwrap();
        s.request_key_update(request).unwrap();
        s.writer().write_all(b" after").unwrap();
        transfer(&mut s, &mut c).unwrap();
        transfer(&mut c, &mut s).unwrap();
        let mut got = [0u8; 12];
        std::io::Read::read_exact(&mut c.reader(), &mut got).unwrap();
        assert_eq!(&got, b"before after");
    }
}

#[test]
fn automatic_key_update_before_the_record_limit() {
    let client = client_builder().records_per_key(4).build().unwrap();
    let (mut c, mut s) = pair(client, server_builder("ecdsa-p256").build().unwrap());
    handshake(&mut c, &mut s).unwrap();
    events(&mut c);
    for i in 0..20u8 {
        assert_eq!(send(&mut c, &mut s, &[i]), [i]);
    }
    let ours = events(&mut c)
        .iter()
        .filter(|e| **e == Event::KeyUpdated { ours: true })
        .count();
    let theirs = events(&mut s)
        .iter()
        .filter(|e| **e == Event::KeyUpdated { ours: false })
        .count();
    assert!(ours >= 4, "client updated {ours} times");
    assert_eq!(ours, theirs);
}

#[test]
fn close_notify_is_a_half_close() {
    let (mut c, mut s) = pair(
        client_builder().build().unwrap(),
        server_builder("ecdsa-p256").build().unwrap(),
    );
    handshake(&mut c, &mut s).unwrap();
    events(&mut s);
    c.writer().write_all(b"last words").unwrap();
    c.send_close_notify();
    transfer(&mut c, &mut s).unwrap();
    let ev = events(&mut s);
    assert!(ev.contains(&Event::PeerClosed));
    let mut buf = [0u8; 64];
    use std::io::{Read, Write};
    let n = s.reader().read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"last words");
    assert_eq!(s.reader().read(&mut buf).unwrap(), 0, "EOF after close_notify");
    // The server may still send after the client's close.
    assert_eq!(send(&mut s, &mut c, b"reply after close"), b"reply after close");
    assert!(
        c.writer().write(b"more").is_err(),
        "no writes after our close_notify"
    );
}

#[test]
fn exporters_agree() {
    let (mut c, mut s) = pair(
        client_builder().build().unwrap(),
        server_builder("ecdsa-p256").build().unwrap(),
    );
    let mut early = [0u8; 8];
    assert!(c.export_keying_material(&mut early, b"label", None).is_err());
    handshake(&mut c, &mut s).unwrap();
    let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
    c.export_keying_material(&mut a, b"EXPERIMENTAL test", Some(b"ctx"))
        .unwrap();
    s.export_keying_material(&mut b, b"EXPERIMENTAL test", Some(b"ctx"))
        .unwrap();
    assert_eq!(a, b);
    s.export_keying_material(&mut b, b"EXPERIMENTAL test", None)
        .unwrap();
    assert_ne!(a, b, "no context differs from a context");
}

#[derive(Debug, Default)]
struct CollectKeyLog(Mutex<Vec<LogLine>>);

/// (label, client random, secret)
type LogLine = (String, Vec<u8>, Vec<u8>);

impl KeyLog for CollectKeyLog {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        self.0
            .lock()
            .unwrap()
            .push((label.to_string(), client_random.to_vec(), secret.to_vec()));
    }
}

#[test]
fn key_log_sees_every_secret_on_both_sides() {
    let client_log = Arc::new(CollectKeyLog::default());
    let server_log = Arc::new(CollectKeyLog::default());
    let client = client_builder().key_log(client_log.clone()).build().unwrap();
    let server = server_builder("ecdsa-p256")
        .key_log(server_log.clone())
        .build()
        .unwrap();
    let (mut c, mut s) = pair(client, server);
    handshake(&mut c, &mut s).unwrap();
    let mut a = client_log.0.lock().unwrap().clone();
    let mut b = server_log.0.lock().unwrap().clone();
    a.sort();
    b.sort();
    assert_eq!(a, b);
    let labels: Vec<&str> = a.iter().map(|(l, _, _)| l.as_str()).collect();
    assert_eq!(
        labels,
        [
            "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
            "CLIENT_TRAFFIC_SECRET_0",
            "EXPORTER_SECRET",
            "SERVER_HANDSHAKE_TRAFFIC_SECRET",
            "SERVER_TRAFFIC_SECRET_0"
        ]
    );
    assert!(a.iter().all(|(_, r, _)| r.as_slice() == c.client_random()));
}

#[test]
fn plaintext_written_before_the_handshake_is_sent_after_it() {
    use std::io::Write;
    let (mut c, mut s) = pair(
        client_builder().build().unwrap(),
        server_builder("ecdsa-p256").build().unwrap(),
    );
    c.writer().write_all(b"early bird").unwrap();
    handshake(&mut c, &mut s).unwrap();
    transfer(&mut c, &mut s).unwrap();
    let mut buf = [0u8; 32];
    use std::io::Read;
    let n = s.reader().read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"early bird");
}

#[test]
fn buffered_plaintext_is_capped() {
    use std::io::Write;
    let client = client_builder().max_buffered_plaintext(1000).build().unwrap();
    let (mut c, _s) = pair(client, server_builder("ecdsa-p256").build().unwrap());
    assert_eq!(c.writer().write(&[0u8; 600]).unwrap(), 600);
    assert_eq!(c.writer().write(&[0u8; 600]).unwrap(), 400);
    assert_eq!(
        c.writer().write(&[0u8; 1]).unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock
    );
}

#[test]
fn large_writes_are_split_into_full_records() {
    use std::io::Write;
    let (mut c, mut s) = pair(
        client_builder().build().unwrap(),
        server_builder("ecdsa-p256").build().unwrap(),
    );
    handshake(&mut c, &mut s).unwrap();
    let data: Vec<u8> = (0..40000u32).map(|i| i as u8).collect();
    c.writer().write_all(&data).unwrap();
    let mut wire = Vec::new();
    while c.write_tls(&mut wire).unwrap() > 0 {}
    // 16384 + 16384 + 7232 bytes of plaintext: three records of 5 + n + 1 + 16 bytes.
    assert_eq!(wire.len(), 40000 + 3 * (5 + 1 + 16));
    let mut rd = &wire[..];
    while !rd.is_empty() {
        s.read_tls(&mut rd).unwrap();
        s.process_new_packets().unwrap();
    }
    let mut got = Vec::new();
    use std::io::Read;
    s.reader().read_to_end(&mut got).unwrap_or_default();
    assert_eq!(got.len(), 40000);
}

// ---------------------------------------------------------------------------------------------
// Fatal alerts on the wire: under the keys the peer reads with (RFC 8446 6), the client's
// after the ServerHello under its handshake keys (A.1), a server's before its ServerHello in
// plaintext.

const COMPAT_CCS: [u8; 6] = [20, 3, 3, 0, 1, 1];

#[test]
fn client_alert_for_a_rejected_certificate_is_under_its_handshake_keys() {
    // (name we connect to, trust anchor, alert)
    let cases = [
        ("example.com", "ca.pem", AlertDescription::BadCertificate),
        // A leaf as the only anchor: the server's issuer is unknown.
        (
            "localhost",
            "localhost-ecdsa-p384.pem",
            AlertDescription::UnknownCa,
        ),
    ];
    for (name, anchor, alert) in cases {
        for compat in [true, false] {
            let log = Arc::new(forge::Secrets::default());
            let anchors = TrustAnchors::from_pem_file(vectors().join(anchor)).unwrap();
            let client = ClientConfig::builder(Arc::new(WebPkiServerVerifier::new(anchors)))
                .cipher_suites(&[CipherSuite::TLS_AES_128_GCM_SHA256])
                .middlebox_compat(compat)
                .key_log(log.clone())
                .build()
                .unwrap();
            let mut c = Connection::client(client, name).unwrap();
            let mut s = Connection::server(server_builder("ecdsa-p256").build().unwrap()).unwrap();
            transfer(&mut c, &mut s).unwrap();
            // The server's whole flight in one read: the client rejects the certificate with
            // its CCS and the switch to its handshake keys still queued.
            let err = feed(&mut c, &drain(&mut s)).unwrap_err();
            assert_eq!(err.alert(), Some(alert), "{name} compat={compat}");
            let out = records(&drain(&mut c));
            let protected = if compat {
                assert_eq!(out[0], COMPAT_CCS);
                &out[1..]
            } else {
                &out[..]
            };
            assert_eq!(protected.len(), 1, "{name} compat={compat}: {out:02x?}");
            let mut keys = forge::Forge13::new(&log.get("CLIENT_HANDSHAKE_TRAFFIC_SECRET"));
            assert_eq!(keys.open(&protected[0]), (21, vec![2, alert.get()]));
            // The server reads it with the keys it expects and learns why.
            let err = feed(&mut s, &out.concat()).unwrap_err();
            assert_eq!(err, Error::AlertReceived(alert));
            assert_eq!(
                s.last_alert_received(),
                Some(AlertRecord {
                    level: AlertLevel::Fatal,
                    description: alert
                })
            );
        }
    }
}

#[test]
fn client_alert_for_an_oversized_message_is_under_its_handshake_keys() {
    let clog = Arc::new(forge::Secrets::default());
    let slog = Arc::new(forge::Secrets::default());
    let client = client_builder()
        .cipher_suites(&[CipherSuite::TLS_AES_128_GCM_SHA256])
        .key_log(clog.clone())
        .build()
        .unwrap();
    let server = server_builder("ecdsa-p256")
        .key_log(slog.clone())
        .build()
        .unwrap();
    let (mut c, mut s) = pair(client, server);
    transfer(&mut c, &mut s).unwrap();
    let flight = records(&drain(&mut s));
    // ServerHello, CCS, then a protected EncryptedExtensions declaring 2^16 + 1 bytes.
    assert_eq!(flight[1], COMPAT_CCS);
    let mut forged = flight[..2].concat();
    let mut server_keys = forge::Forge13::new(&slog.get("SERVER_HANDSHAKE_TRAFFIC_SECRET"));
    forged.extend_from_slice(&server_keys.record(22, &[8, 1, 0, 1]));
    let err = feed(&mut c, &forged).unwrap_err();
    assert_eq!(err, Error::LimitExceeded(sanstls::Limit::HandshakeMessageSize));
    let out = records(&drain(&mut c));
    assert_eq!(out.len(), 2, "{out:02x?}");
    assert_eq!(out[0], COMPAT_CCS);
    let mut keys = forge::Forge13::new(&clog.get("CLIENT_HANDSHAKE_TRAFFIC_SECRET"));
    assert_eq!(
        keys.open(&out[1]),
        (21, vec![2, AlertDescription::DecodeError.get()])
    );
    let err = feed(&mut s, &out.concat()).unwrap_err();
    assert_eq!(err, Error::AlertReceived(AlertDescription::DecodeError));
}

#[test]
fn server_alert_before_its_server_hello_is_plaintext() {
    let (mut c, mut s) = pair(
        client_builder().build().unwrap(),
        server_builder("ecdsa-p256").build().unwrap(),
    );
    let mut input = drain(&mut c);
    // The ClientHello and, in the same read, a record that is not the client's: the
    // ServerHello queued for the hello never goes out, so neither do its keys.
    input.extend_from_slice(&[23, 3, 3, 0, 1, 0]);
    let err = feed(&mut s, &input).unwrap_err();
    let alert = err.alert().unwrap();
    let out = drain(&mut s);
    assert_eq!(out, [21, 3, 3, 0, 2, 2, alert.get()]);
    let err = feed(&mut c, &out).unwrap_err();
    assert_eq!(err, Error::AlertReceived(alert));
}

#[test]
fn server_alert_after_its_flight_is_under_its_application_keys() {
    // The client's certificate is from an issuer the server does not know. The server's
    // whole flight went out, Finished included: the client reads its application keys.
    let slog = Arc::new(forge::Secrets::default());
    let anchors = TrustAnchors::from_pem_file(vectors().join("localhost-ecdsa-p384.pem")).unwrap();
    let server = server_builder("ecdsa-p256")
        .client_verifier(Arc::new(WebPkiClientVerifier::new(anchors)))
        .cipher_suites(&[CipherSuite::TLS_AES_128_GCM_SHA256])
        .key_log(slog.clone())
        .build()
        .unwrap();
    let client = client_builder()
        .client_auth_cert(certified_key("ed25519"))
        .build()
        .unwrap();
    let (mut c, mut s) = pair(client, server);
    transfer(&mut c, &mut s).unwrap();
    transfer(&mut s, &mut c).unwrap();
    let err = transfer(&mut c, &mut s).unwrap_err();
    assert_eq!(err.alert(), Some(AlertDescription::UnknownCa));
    let out = records(&drain(&mut s));
    assert_eq!(out.len(), 1, "{out:02x?}");
    let mut keys = forge::Forge13::new(&slog.get("SERVER_TRAFFIC_SECRET_0"));
    assert_eq!(
        keys.open(&out[0]),
        (21, vec![2, AlertDescription::UnknownCa.get()])
    );
    let err = feed(&mut c, &out[0]).unwrap_err();
    assert_eq!(err, Error::AlertReceived(AlertDescription::UnknownCa));
    assert_eq!(
        c.last_alert_received().map(|a| a.description),
        Some(AlertDescription::UnknownCa)
    );
}

/// Randomness from the system, except that the first draw after `arm` is all 0xff bytes: as a
/// P-256 or P-384 scalar that is not below the group order, which ring refuses.
#[derive(Debug, Default)]
struct FirstDrawOutOfRange {
    armed: std::sync::atomic::AtomicBool,
    draws: Mutex<Vec<(usize, bool)>>,
}

impl sanstls::crypto::RandomSource for FirstDrawOutOfRange {
    fn fill(&self, buf: &mut [u8]) -> Result<(), Error> {
        let forced = self.armed.swap(false, std::sync::atomic::Ordering::SeqCst);
        if forced {
            buf.fill(0xff);
        } else {
            sanstls::crypto::SystemRandomSource.fill(buf)?;
        }
        self.draws.lock().unwrap().push((buf.len(), forced));
        Ok(())
    }
}

#[test]
fn out_of_range_ec_scalar_is_drawn_again_and_the_handshake_completes() {
    for (group, len) in [(NamedGroup::secp256r1, 32), (NamedGroup::secp384r1, 48)] {
        let rng = Arc::new(FirstDrawOutOfRange::default());
        let server = server_builder("ecdsa-p256")
            .groups(&[group])
            .random(rng.clone())
            .build()
            .unwrap();
        let client = client_builder().groups(&[group]).build().unwrap();
        let (mut c, mut s) = pair(client, server);
        // The server's first draw for the ClientHello is its key share's private key.
        rng.armed.store(true, std::sync::atomic::Ordering::SeqCst);
        handshake(&mut c, &mut s).unwrap();
        assert_eq!(s.key_exchange_group(), Some(group));
        let draws = rng.draws.lock().unwrap().clone();
        assert_eq!(
            draws[..2],
            [(len, true), (len, false)],
            "{group}: refused, then drawn again"
        );
        drop(draws);
        assert_eq!(send(&mut c, &mut s, b"in range"), b"in range");
    }
}

#[test]
fn client_hello_as_large_as_its_syntax_allows_is_accepted() {
    use sanstls::msgs::{ClientExtension, MAX_CLIENT_HELLO, MAX_HANDSHAKE_MESSAGE};
    // 2^15-1 cipher suites (2^16-2 bytes, the most the length allows) and 2^16-1 bytes of
    // extensions, padded: hybrid key shares and padding make ClientHellos past 64 KiB real.
    let sent = Arc::new(Mutex::new(0usize));
    let seen = sent.clone();
    let config = client_builder()
        .customize_client_hello(move |h| {
            let ours = h.cipher_suites.clone();
            let filler = (0x0100u16..)
                .filter(|v| !ours.iter().any(|s| s.get() == *v) && *v != 0x5600)
                .map(CipherSuite::from);
            h.cipher_suites = ours.iter().copied().chain(filler).take(0x7fff).collect();
            let padding = sanstls::codec::ExtensionType::Padding;
            h.extensions.push(ClientExtension::Unknown {
                typ: padding,
                data: Vec::new(),
            });
            let mut body = Vec::new();
            h.encode(&mut body);
            // Extensions start after version, random, session_id, suites and compression.
            let ext_at = 2 + 32 + 1 + h.session_id.len() + 2 + 2 * h.cipher_suites.len() + 1 + 1;
            let ext_len = body.len() - ext_at - 2;
            if let Some(ClientExtension::Unknown { data, .. }) = h.extensions.last_mut() {
                data.resize(0xffff - ext_len, 0);
            }
            let mut body = Vec::new();
            h.encode(&mut body);
            *seen.lock().unwrap() = body.len();
        })
        .build()
        .unwrap();
    let (mut c, mut s) = pair(config, server_builder("ecdsa-p256").build().unwrap());
    handshake(&mut c, &mut s).unwrap();
    let len = *sent.lock().unwrap();
    // A 32-byte session ID and the one null compression method TLS 1.3 allows.
    assert_eq!(len, 2 + 32 + 33 + (2 + 0xfffe) + 2 + (2 + 0xffff));
    assert!(len > MAX_HANDSHAKE_MESSAGE && len <= MAX_CLIENT_HELLO);
    assert_eq!(send(&mut c, &mut s, b"large hello"), b"large hello");
}

#[test]
fn rsassa_pss_certificates_serve_and_authenticate_clients() {
    // RFC 8446 4.2.3: an id-RSASSA-PSS key signs CertificateVerify with rsa_pss_pss_*, its
    // chain signed with RSA-PSS (vectors/localhost-rsa-pss.pem).
    let anchors = sanstls::pki::TrustAnchors::from_pem_file(vectors().join("ca.pem")).unwrap();
    let client = client_builder()
        .client_auth_cert(certified_key("rsa-pss"))
        .build()
        .unwrap();
    let server = server_builder("rsa-pss")
        .client_verifier(std::sync::Arc::new(sanstls::pki::WebPkiClientVerifier::new(
            anchors,
        )))
        .build()
        .unwrap();
    let (mut c, mut s) = pair(client, server);
    handshake(&mut c, &mut s).unwrap();
    assert_eq!(c.protocol_version(), Some(ProtocolVersion::TLSv1_3));
    assert_eq!(c.signature_scheme(), Some(SignatureScheme::rsa_pss_pss_sha256));
    assert_eq!(
        c.peer_certificates().len(),
        2,
        "end entity and RSA-PSS intermediate"
    );
    assert_eq!(s.peer_certificates().len(), 2);
    assert_eq!(send(&mut c, &mut s, b"pss"), b"pss");
    assert_eq!(send(&mut s, &mut c, b"back"), b"back");

    // Only the schemes the client offers: here SHA-512.
    let client = client_builder()
        .signature_schemes(&[
            SignatureScheme::rsa_pss_pss_sha512,
            SignatureScheme::rsa_pss_rsae_sha256,
        ])
        .build()
        .unwrap();
    let (mut c, mut s) = pair(client, server_builder("rsa-pss").build().unwrap());
    handshake(&mut c, &mut s).unwrap();
    assert_eq!(c.signature_scheme(), Some(SignatureScheme::rsa_pss_pss_sha512));
}

/// An application verifier that refuses every server certificate for a reason of its own.
#[derive(Debug)]
struct RefuseAll;

impl sanstls::pki::ServerCertVerifier for RefuseAll {
    fn verify_server_cert(
        &self,
        _: &[u8],
        _: &[&[u8]],
        _: &sanstls::pki::ServerName,
        _: u64,
    ) -> Result<(), sanstls::pki::CertError> {
        Err(sanstls::pki::CertError::Rejected("not on the allow list"))
    }
}

#[test]
fn a_certificate_the_application_rejects_is_certificate_unknown() {
    // RFC 8446 6.2: certificate_unknown, "some other issue" made it unacceptable; the
    // application's reason stays local.
    let client = ClientConfig::builder(Arc::new(RefuseAll)).build().unwrap();
    let (mut c, mut s) = pair(client, server_builder("ecdsa-p256").build().unwrap());
    let err = handshake(&mut c, &mut s).unwrap_err();
    assert_eq!(
        err,
        Error::InvalidCertificate(sanstls::pki::CertError::Rejected("not on the allow list"))
    );
    assert!(err.to_string().contains("not on the allow list"), "{err}");
    transfer(&mut c, &mut s).unwrap_err();
    assert_eq!(
        s.error(),
        Some(&Error::AlertReceived(AlertDescription::CertificateUnknown))
    );
}

/// An application verifier that accepts every server certificate (a pinning verifier that
/// already knows the key, say).
#[derive(Debug)]
struct AcceptAll;

impl sanstls::pki::ServerCertVerifier for AcceptAll {
    fn verify_server_cert(
        &self,
        _: &[u8],
        _: &[&[u8]],
        _: &sanstls::pki::ServerName,
        _: u64,
    ) -> Result<(), sanstls::pki::CertError> {
        Ok(())
    }
}

#[test]
fn a_key_whose_certificate_forbids_signing_is_refused_whatever_the_verifier_says() {
    // RFC 8446 4.4.2.2: with a keyUsage extension, digitalSignature must be set for the key to
    // sign the handshake; the engine checks it itself, also behind an accept-all verifier.
    let dir = vectors();
    let key = || {
        sanstls::CertifiedKey::from_pem_files(
            dir.join("localhost-ecdsa-p256-keyagreement.pem"),
            dir.join("localhost-ecdsa-p256-keyagreement.key"),
        )
        .unwrap()
    };
    let want = Error::InvalidCertificate(sanstls::pki::CertError::ConstraintViolated(
        "keyUsage lacks digitalSignature",
    ));
    for versions in [&[ProtocolVersion::TLSv1_3][..], &[ProtocolVersion::TLSv1_2]] {
        let client = ClientConfig::builder(Arc::new(AcceptAll))
            .versions(versions)
            .build()
            .unwrap();
        let server = sanstls::ServerConfig::builder(key()).build().unwrap();
        let (mut c, mut s) = pair(client, server);
        assert_eq!(handshake(&mut c, &mut s).unwrap_err(), want, "{versions:?}");
        transfer(&mut c, &mut s).unwrap_err();
        assert_eq!(
            s.error(),
            Some(&Error::AlertReceived(want.alert().unwrap())),
            "{versions:?}"
        );
    }
    // A certificate whose keyUsage is digitalSignature passes behind the same verifier.
    let client = ClientConfig::builder(Arc::new(AcceptAll)).build().unwrap();
    let (mut c, mut s) = pair(client, server_builder("ecdsa-p256").build().unwrap());
    handshake(&mut c, &mut s).unwrap();
}

/// A server whose suite list names a TLS 1.2 suite first still finds its first TLS 1.3
/// suite the client offers, in a TLS 1.3 handshake.
#[test]
fn tls12_suite_listed_first_does_not_hide_the_tls13_ones() {
    use sanstls::codec::CipherSuite as S;
    let server = server_builder("ecdsa-p256")
        .cipher_suites(&[
            S::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            S::TLS_AES_256_GCM_SHA384,
        ])
        .build()
        .unwrap();
    let (mut c, mut s) = pair(client_builder().build().unwrap(), server);
    handshake(&mut c, &mut s).unwrap();
    assert_eq!(
        s.protocol_version(),
        Some(sanstls::codec::ProtocolVersion::TLSv1_3)
    );
    assert_eq!(s.cipher_suite(), Some(S::TLS_AES_256_GCM_SHA384));
}

#[test]
fn server_follows_a_client_that_lists_chacha20_first() {
    // A client that puts ChaCha20-Poly1305 first lacks AES hardware: the server takes it
    // over its own first choice (RFC 8446 4.1.1 leaves the choice to the server).
    use sanstls::codec::CipherSuite as S;
    for (client_order, want) in [
        (
            [S::TLS_CHACHA20_POLY1305_SHA256, S::TLS_AES_128_GCM_SHA256],
            S::TLS_CHACHA20_POLY1305_SHA256,
        ),
        (
            [S::TLS_AES_128_GCM_SHA256, S::TLS_CHACHA20_POLY1305_SHA256],
            S::TLS_AES_128_GCM_SHA256,
        ),
    ] {
        let client = client_builder().cipher_suites(&client_order).build().unwrap();
        let (mut c, mut s) = pair(client, server_builder("ecdsa-p256").build().unwrap());
        handshake(&mut c, &mut s).unwrap();
        assert_eq!(s.cipher_suite(), Some(want), "{client_order:?}");
    }
    // With prioritize_chacha off, the server's own order decides.
    let client = client_builder()
        .cipher_suites(&[S::TLS_CHACHA20_POLY1305_SHA256, S::TLS_AES_128_GCM_SHA256])
        .build()
        .unwrap();
    let server = server_builder("ecdsa-p256")
        .prioritize_chacha(false)
        .build()
        .unwrap();
    let (mut c, mut s) = pair(client, server);
    handshake(&mut c, &mut s).unwrap();
    assert_eq!(s.cipher_suite(), Some(S::TLS_AES_128_GCM_SHA256));
    // Without ChaCha20 in the server's config, its own order still decides.
    let client = client_builder()
        .cipher_suites(&[
            S::TLS_CHACHA20_POLY1305_SHA256,
            S::TLS_AES_256_GCM_SHA384,
            S::TLS_AES_128_GCM_SHA256,
        ])
        .build()
        .unwrap();
    let server = server_builder("ecdsa-p256")
        .cipher_suites(&[S::TLS_AES_128_GCM_SHA256, S::TLS_AES_256_GCM_SHA384])
        .build()
        .unwrap();
    let (mut c, mut s) = pair(client, server);
    handshake(&mut c, &mut s).unwrap();
    assert_eq!(s.cipher_suite(), Some(S::TLS_AES_128_GCM_SHA256));
}

#[test]
fn server_sends_the_compatibility_ccs_whatever_the_session_id() {
    // RFC 8446 D.4: the server's CCS follows its first handshake message; a client drops a CCS
    // wherever it comes in the handshake (5), so an empty legacy_session_id does not stop it.
    let client = client_builder()
        .customize_client_hello(|h| h.session_id.clear())
        .build()
        .unwrap();
    let (mut c, mut s) = pair(client, server_builder("ecdsa-p256").build().unwrap());
    let mut hello = Vec::new();
    while c.write_tls(&mut hello).unwrap() > 0 {}
    s.read_tls(&mut &hello[..]).unwrap();
    s.process_new_packets().unwrap();
    let mut flight = Vec::new();
    while s.write_tls(&mut flight).unwrap() > 0 {}
    let sh_len = 5 + u16::from_be_bytes([flight[3], flight[4]]) as usize;
    assert_eq!(flight[0], 22);
    assert_eq!(flight[sh_len..sh_len + 6], COMPAT_CCS);
    c.read_tls(&mut &flight[..]).unwrap();
    c.process_new_packets().unwrap();
    handshake(&mut c, &mut s).unwrap();
}
