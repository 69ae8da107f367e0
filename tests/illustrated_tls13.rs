//! Replays the captured TLS 1.3 connection of `vectors/illustrated/tls13` (TLS_AES_256_GCM_
//! SHA384, X25519, RSA-PSS): the X25519 exchange from the ephemeral keys, every secret of
//! `keylog.txt` from the real transcript, every protected record (opened and re-sealed byte
//! for byte), both Finished messages and the server's CertificateVerify.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivatePkcs8KeyDer, SubjectPublicKeyInfoDer};
use sanstls::codec::{CipherSuite, NamedGroup, SignatureScheme};
use sanstls::crypto::{
    finished_verify_data, tls13_signed_message, tls13_suite, verify_signature, FixedRandom, KeyExchange,
    KeySchedule13, RecordKey, Secret, Transcript,
};

struct Capture(PathBuf);

impl Capture {
    fn cap(&self, name: &str) -> Vec<u8> {
        common::read(&self.0.join("caps").join(name))
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

fn capture() -> Capture {
    common::vector("illustrated/tls13/keylog.txt");
    Capture(common::vector("illustrated/tls13"))
}

/// The raw X25519 key at the end of a PKCS#8 or SPKI DER (RFC 8410).
fn x25519_tail(der: &[u8]) -> Vec<u8> {
    der[der.len() - 32..].to_vec()
}

fn keylog(path: &Path) -> HashMap<String, (Vec<u8>, Vec<u8>)> {
    String::from_utf8(common::read(path))
        .expect("utf-8")
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let (label, random, secret) = (w.next()?, w.next()?, w.next()?);
            Some((
                label.to_string(),
                (hex::decode(random).ok()?, hex::decode(secret).ok()?),
            ))
        })
        .collect()
}

/// Opens a captured protected record (5-byte header as AAD) and checks that sealing the
/// plaintext again gives the same bytes. Returns the inner plaintext (message || type).
fn open_and_reseal(key: &RecordKey, seq: u64, record: &[u8]) -> Vec<u8> {
    assert_eq!(record[0], 0x17);
    assert_eq!(
        usize::from(u16::from_be_bytes([record[3], record[4]])),
        record.len() - 5
    );
    let mut body = record[5..].to_vec();
    let inner = key
        .open_in_place(seq, &record[..5], &mut body)
        .expect("record opens")
        .to_vec();
    let mut resealed = inner.clone();
    key.seal_in_place(seq, &record[..5], &mut resealed).unwrap();
    assert_eq!(resealed, &record[5..], "re-sealing gives the captured record");
    // Tampering with the header (AAD) or the wrong sequence number fails.
    let mut body = record[5..].to_vec();
    let mut aad = record[..5].to_vec();
    aad[2] ^= 1;
    assert_eq!(
        key.open_in_place(seq, &aad, &mut body),
        Err(sanstls::Error::DecryptFailed)
    );
    let mut body = record[5..].to_vec();
    assert_eq!(
        key.open_in_place(seq + 1, &record[..5], &mut body),
        Err(sanstls::Error::DecryptFailed)
    );
    inner
}

/// Strips the inner content type (no padding in this capture) and checks it.
fn message(inner: &[u8], content_type: u8) -> &[u8] {
    let (last, msg) = inner.split_last().expect("non-empty");
    assert_eq!(*last, content_type);
    msg
}

#[test]
fn illustrated_tls13_connection_replays() {
    let c = capture();
    let log = keylog(&c.path("keylog.txt"));
    let secret = |label: &str| {
        log.get(label)
            .unwrap_or_else(|| panic!("keylog lacks {label}"))
            .1
            .clone()
    };

    let client_hello_rec = c.cap("clienthello");
    let server_hello_rec = c.cap("serverhello");
    let (client_hello, server_hello) = (&client_hello_rec[5..], &server_hello_rec[5..]);
    // The keylog is keyed by the client random.
    assert_eq!(
        &log["CLIENT_HANDSHAKE_TRAFFIC_SECRET"].0[..],
        &client_hello[6..38]
    );

    // ServerHello: legacy_version(2) random(32) session_id(1+32) cipher_suite(2).
    let suite_at = 4 + 2 + 32 + 1 + usize::from(server_hello[38]);
    let suite = CipherSuite::from(u16::from_be_bytes([
        server_hello[suite_at],
        server_hello[suite_at + 1],
    ]));
    assert_eq!(suite, CipherSuite::TLS_AES_256_GCM_SHA384);
    let suite = tls13_suite(suite).expect("TLS 1.3 suite");

    // X25519: the injected random is the client's private key; the public keys are the ones
    // in the hellos; both sides agree.
    let client_sk = PrivatePkcs8KeyDer::from_pem_file(c.path("client-ephemeral-private.key")).unwrap();
    let server_sk = PrivatePkcs8KeyDer::from_pem_file(c.path("server-ephemeral-private.key")).unwrap();
    let client_pk = SubjectPublicKeyInfoDer::from_pem_file(c.path("client-ephemeral-public.key")).unwrap();
    let server_pk = SubjectPublicKeyInfoDer::from_pem_file(c.path("server-ephemeral-public.key")).unwrap();
    let (client_pk, server_pk) = (x25519_tail(&client_pk), x25519_tail(&server_pk));
    let client_kx = KeyExchange::start(
        NamedGroup::x25519,
        &FixedRandom::new(vec![x25519_tail(client_sk.secret_pkcs8_der())]),
    )
    .unwrap();
    assert_eq!(client_kx.public_key(), client_pk);
    assert!(
        client_hello.windows(32).any(|w| w == client_pk),
        "client share in ClientHello"
    );
    assert!(
        server_hello.windows(32).any(|w| w == server_pk),
        "server share in ServerHello"
    );
    let server_kx = KeyExchange::start(
        NamedGroup::x25519,
        &FixedRandom::new(vec![x25519_tail(server_sk.secret_pkcs8_der())]),
    )
    .unwrap();
    assert_eq!(server_kx.public_key(), server_pk);
    let shared = client_kx.complete(&server_pk).unwrap();
    assert!(shared.ct_eq(server_kx.complete(&client_pk).unwrap().as_bytes()));

    // Handshake secrets over ClientHello..ServerHello.
    let mut transcript = Transcript::new(suite.hash);
    transcript.update(client_hello);
    transcript.update(server_hello);
    let mut ks = KeySchedule13::new(suite.hash, None);
    ks.input_shared_secret(shared.as_bytes());
    let hello_hash = transcript.current_hash();
    let c_hs = ks.client_handshake_traffic_secret(&hello_hash);
    let s_hs = ks.server_handshake_traffic_secret(&hello_hash);
    assert!(c_hs.ct_eq(&secret("CLIENT_HANDSHAKE_TRAFFIC_SECRET")));
    assert!(s_hs.ct_eq(&secret("SERVER_HANDSHAKE_TRAFFIC_SECRET")));

    // Server flight under the server handshake key, seq 0, 1, 2, 3.
    let server_hs_key = RecordKey::tls13(suite.aead, suite.hash, s_hs.as_bytes());
    let flight = [
        "serverextensions",
        "servercert",
        "servercertverify",
        "serverfinished",
    ];
    let mut messages = Vec::new();
    for (seq, name) in flight.iter().enumerate() {
        let inner = open_and_reseal(
            &server_hs_key,
            seq as u64,
            &c.cap(&format!("serverenc{}", &name[6..])),
        );
        assert_eq!(inner, c.cap(name), "{name}");
        messages.push(message(&inner, 0x16).to_vec());
    }
    let [ee, cert, cert_verify, server_finished] = <[Vec<u8>; 4]>::try_from(messages).unwrap();

    transcript.update(&ee);
    transcript.update(&cert);
    // CertificateVerify: rsa_pss_rsae_sha256 by the key of server.crt (RFC 8446 4.4.3).
    let scheme = SignatureScheme::from(u16::from_be_bytes([cert_verify[4], cert_verify[5]]));
    assert_eq!(scheme, SignatureScheme::rsa_pss_rsae_sha256);
    let sig = &cert_verify[8..];
    assert_eq!(
        usize::from(u16::from_be_bytes([cert_verify[6], cert_verify[7]])),
        sig.len()
    );
    let cert_der = CertificateDer::from_pem_file(c.path("server.crt")).unwrap();
    assert!(
        cert.windows(cert_der.len()).any(|w| w == &cert_der[..]),
        "server.crt is the one sent"
    );
    let (_, x509) = x509_parser::parse_x509_certificate(&cert_der).unwrap();
    let spki = x509.tbs_certificate.subject_pki.raw;
    let signed = tls13_signed_message(true, &transcript.current_hash());
    verify_signature(spki, scheme, &signed, sig, true).expect("CertificateVerify verifies");
    assert_eq!(
        verify_signature(spki, scheme, &signed[1..], sig, true),
        Err(sanstls::Error::BadSignature)
    );
    transcript.update(&cert_verify);

    // Server Finished over ClientHello..CertificateVerify.
    let verify_data = finished_verify_data(suite.hash, s_hs.as_bytes(), &transcript.current_hash());
    assert_eq!(&server_finished[4..], &verify_data[..]);
    transcript.update(&server_finished);

    // Application secrets and exporter over ClientHello..server Finished.
    ks.input_empty();
    let through_server_fin = transcript.current_hash();
    let c_ap = ks.client_application_traffic_secret_0(&through_server_fin);
    let s_ap = ks.server_application_traffic_secret_0(&through_server_fin);
    assert!(c_ap.ct_eq(&secret("CLIENT_TRAFFIC_SECRET_0")));
    assert!(s_ap.ct_eq(&secret("SERVER_TRAFFIC_SECRET_0")));
    assert!(ks
        .exporter_master_secret(&through_server_fin)
        .ct_eq(&secret("EXPORTER_SECRET")));

    // Client Finished under the client handshake key, seq 0.
    let client_hs_key = RecordKey::tls13(suite.aead, suite.hash, c_hs.as_bytes());
    let inner = open_and_reseal(&client_hs_key, 0, &c.cap("clientencfinished"));
    assert_eq!(inner, c.cap("clientfinished"));
    let client_finished = message(&inner, 0x16);
    let verify_data = finished_verify_data(suite.hash, c_hs.as_bytes(), &through_server_fin);
    assert_eq!(&client_finished[4..], &verify_data[..]);
    transcript.update(client_finished);
    let _resumption: Secret = ks.resumption_master_secret(&transcript.current_hash());

    // Application traffic: two tickets and "pong" from the server, "ping" from the client.
    let server_ap_key = RecordKey::tls13(suite.aead, suite.hash, s_ap.as_bytes());
    for (seq, (enc, plain)) in [
        ("serverencticket1", "serverticket1"),
        ("serverencticket2", "serverticket2"),
        ("serverencdata", "serverdata"),
    ]
    .iter()
    .enumerate()
    {
        assert_eq!(
            open_and_reseal(&server_ap_key, seq as u64, &c.cap(enc)),
            c.cap(plain),
            "{enc}"
        );
    }
    let client_ap_key = RecordKey::tls13(suite.aead, suite.hash, c_ap.as_bytes());
    let inner = open_and_reseal(&client_ap_key, 0, &c.cap("clientencdata"));
    assert_eq!(inner, c.cap("clientdata"));
    assert_eq!(message(&inner, 0x17), b"ping");

    // The zero-copy path seals into a caller buffer the same way.
    let mut buf = c.cap("clientdata");
    let len = buf.len();
    buf.resize(len + 16, 0);
    let rec = c.cap("clientencdata");
    assert_eq!(
        client_ap_key.seal_in_place_slice(0, &rec[..5], &mut buf, len),
        Ok(len + 16)
    );
    assert_eq!(buf, &rec[5..]);
}
