//! Real messages from the illustrated TLS 1.3 / 1.2 / DTLS captures in `vectors/illustrated`: decode,
//! then re-encode byte for byte.

use std::path::Path;

use super::*;
use crate::codec::{CipherSuite, NamedGroup, ProtocolVersion, SignatureScheme};

/// Reads `vectors/<rel>` from this repository; a missing vector fails the test.
pub(super) fn vector(rel: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors").join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("test vector {}: {e}", p.display()))
}

/// One handshake message after a 5-byte TLS record header.
pub(super) fn from_record(rec: &[u8]) -> &[u8] {
    let m = &rec[5..];
    &m[..4 + u32::from_be_bytes([0, m[1], m[2], m[3]]) as usize]
}

/// A decrypted handshake message (drops the inner content-type byte).
fn from_plain(m: &[u8]) -> &[u8] {
    &m[..4 + u32::from_be_bytes([0, m[1], m[2], m[3]]) as usize]
}

fn round_trip(msg: &[u8], dialect: Dialect) -> HandshakePayload {
    let p = decode_msg(msg, dialect).unwrap();
    assert_eq!(p.encode(), msg, "re-encoding differs");
    p
}

#[test]
fn illustrated_tls13_client_hello() {
    let rec = vector("illustrated/tls13/caps/clienthello");
    let HandshakePayload::ClientHello(ch) = round_trip(from_record(&rec), Dialect::Tls13) else {
        panic!("not a ClientHello")
    };
    assert_eq!(ch.server_name(), Some(&b"example.ulfheim.net"[..]));
    assert_eq!(ch.supported_versions(), Some(&[ProtocolVersion::TLSv1_3][..]));
    assert_eq!(ch.key_shares().unwrap()[0].group, NamedGroup::x25519);
    assert!(ch.cipher_suites.contains(&CipherSuite::TLS_AES_256_GCM_SHA384));
    assert!(ch
        .signature_algorithms()
        .unwrap()
        .contains(&SignatureScheme::rsa_pss_rsae_sha256));
    assert_eq!(ch.binders_encoded_len(), 0);
}

#[test]
fn illustrated_tls13_server_hello() {
    let rec = vector("illustrated/tls13/caps/serverhello");
    let HandshakePayload::ServerHello(sh) = round_trip(from_record(&rec), Dialect::Tls13) else {
        panic!("not a ServerHello")
    };
    assert_eq!(sh.supported_version(), Some(ProtocolVersion::TLSv1_3));
    assert_eq!(sh.key_share().unwrap().group, NamedGroup::x25519);
    assert_eq!(sh.cipher_suite, CipherSuite::TLS_AES_256_GCM_SHA384);
}

#[test]
fn illustrated_tls13_server_flight() {
    for (file, typ) in [
        ("serverextensions", HandshakeType::EncryptedExtensions),
        ("servercert", HandshakeType::Certificate),
        ("servercertverify", HandshakeType::CertificateVerify),
        ("serverfinished", HandshakeType::Finished),
        ("serverticket1", HandshakeType::NewSessionTicket),
        ("serverticket2", HandshakeType::NewSessionTicket),
        ("clientfinished", HandshakeType::Finished),
    ] {
        let m = vector(&format!("illustrated/tls13/caps/{file}"));
        let p = round_trip(from_plain(&m), Dialect::Tls13);
        assert_eq!(p.typ(), typ, "{file}");
        assert!(!matches!(p, HandshakePayload::Unknown { .. }), "{file}");
    }
}

#[test]
fn illustrated_tls12_hellos() {
    let rec = vector("illustrated/tls12/caps/clienthello");
    let HandshakePayload::ClientHello(ch) = round_trip(from_record(&rec), Dialect::Tls12) else {
        panic!()
    };
    assert_eq!(ch.server_name(), Some(&b"example.ulfheim.net"[..]));
    let rec = vector("illustrated/tls12/caps/serverhello");
    let HandshakePayload::ServerHello(sh) = round_trip(from_record(&rec), Dialect::Tls12) else {
        panic!()
    };
    assert_eq!(sh.supported_version(), None);
    assert_eq!(sh.renegotiation_info(), Some(&[][..]));
}

#[test]
fn illustrated_dtls13_client_hello() {
    let rec = vector("illustrated/dtls/caps/record-chello");
    // 13-byte DTLS record header, 12-byte DTLS handshake header (RFC 9147 5.2).
    let body = &rec[13 + 12..];
    let mut body_len = [0u8; 4];
    body_len[1..].copy_from_slice(&rec[14..17]);
    let body = &body[..u32::from_be_bytes(body_len) as usize];
    let p = HandshakePayload::decode_dtls(HandshakeType::ClientHello, body, Dialect::Tls13).unwrap();
    let HandshakePayload::ClientHello(ch) = &p else {
        panic!()
    };
    assert_eq!(ch.legacy_version, ProtocolVersion::DTLSv1_2);
    assert_eq!(ch.cookie.as_deref(), Some(&[][..]));
    assert_eq!(ch.supported_versions(), Some(&[ProtocolVersion::DTLSv1_3][..]));
    let mut out = Vec::new();
    p.encode_body(&mut out);
    assert_eq!(out, body);
}
