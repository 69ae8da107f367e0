//! One test per decoding rule, asserting the exact error and its alert.

use super::*;
use crate::codec::{CipherSuite, ExtensionType as T, KeyUpdateRequest, NamedGroup, ProtocolVersion};
use crate::error::Parameter;
use crate::PeerMisbehaved as PM;

use AlertDescription::IllegalParameter as IP;

/// Raw extension: the `Unknown` variant encodes any type with any data, which lets tests
/// put malformed or misplaced extensions on the wire.
fn raw(typ: T, data: &[u8]) -> ClientExtension {
    ClientExtension::Unknown {
        typ,
        data: data.to_vec(),
    }
}

fn ch_with(extensions: Vec<ClientExtension>) -> ClientHello {
    ClientHello {
        legacy_version: ProtocolVersion::TLSv1_2,
        random: [7; 32],
        session_id: vec![1; 32],
        cookie: None,
        cipher_suites: vec![CipherSuite::TLS_AES_128_GCM_SHA256, CipherSuite::Unknown(0x0a0a)],
        compression_methods: vec![0],
        extensions,
    }
}

fn ch_bytes(ch: &ClientHello) -> Vec<u8> {
    HandshakePayload::ClientHello(ch.clone()).encode()
}

fn decode_ch(exts: Vec<ClientExtension>) -> Result<HandshakePayload, Error> {
    decode_msg(&ch_bytes(&ch_with(exts)), Dialect::Tls13)
}

/// The encoded body of a server message with raw extensions in place of typed ones.
fn msg(typ: HandshakeType, head: &[u8], exts: &[(T, &[u8])]) -> Vec<u8> {
    let mut body = head.to_vec();
    crate::codec::put_len_prefixed(&mut body, crate::codec::LenPrefix::U16, |o| {
        for (t, d) in exts {
            raw(*t, d).encode(o);
        }
    });
    let mut out = vec![u8::from(typ)];
    crate::codec::put_u24(&mut out, body.len() as u32);
    out.extend_from_slice(&body);
    out
}

fn sh_head(random: [u8; 32]) -> Vec<u8> {
    let mut h = vec![0x03, 0x03];
    h.extend_from_slice(&random);
    h.extend_from_slice(&[0, 0x13, 0x01, 0]);
    h
}

const SV13: &[u8] = &[0x03, 0x04];

fn ext_err(e: PM) -> Error {
    Error::PeerMisbehaved(e)
}

#[test]
fn duplicate_extension_is_decode_error_in_hellos_and_illegal_parameter_elsewhere() {
    // RFC 8446 4.2 names no alert; BoringSSL says decode_error for a ClientHello, ServerHello
    // or EncryptedExtensions, and illegal_parameter for other messages, and so do we.
    let exts = vec![raw(T::Unknown(0x1234), b""), raw(T::Unknown(0x1234), b"x")];
    assert_decode_err(decode_ch(exts));
    let sni = ClientExtension::ServerName(b"a.example".to_vec());
    assert_decode_err(decode_ch(vec![sni.clone(), sni]));
    let m = msg(
        HandshakeType::ServerHello,
        &sh_head([1; 32]),
        &[(T::SupportedVersions, SV13), (T::SupportedVersions, SV13)],
    );
    assert_decode_err(decode_msg(&m, Dialect::Tls13));
    let m = msg(
        HandshakeType::ServerHello,
        &sh_head(HRR_RANDOM),
        &[
            (T::SupportedVersions, SV13),
            (T::Cookie, &[0, 1, 9]),
            (T::Cookie, &[0, 1, 9]),
        ],
    );
    assert_err(
        decode_msg(&m, Dialect::Tls13),
        ext_err(PM::DuplicateExtension),
        IP,
    );
    let m = msg(
        HandshakeType::EncryptedExtensions,
        &[],
        &[(T::EarlyData, b""), (T::EarlyData, b"")],
    );
    assert_decode_err(decode_msg(&m, Dialect::Tls13));
}

#[test]
fn psk_not_last_is_illegal_parameter() {
    let psk = ClientExtension::PreSharedKey(OfferedPsks {
        identities: vec![PskIdentity {
            identity: b"id".to_vec(),
            obfuscated_ticket_age: 1,
        }],
        binders: vec![vec![9; 32]],
    });
    assert_err(
        decode_ch(vec![psk.clone(), ClientExtension::EarlyData]),
        ext_err(PM::PreSharedKeyNotLast),
        IP,
    );
    assert!(decode_ch(vec![ClientExtension::EarlyData, psk]).is_ok());
}

#[test]
fn truncated_client_hello_is_decode_error() {
    let ch = ch_with(vec![
        ClientExtension::ServerName(b"example.com".to_vec()),
        ClientExtension::EarlyData,
    ]);
    let full = ch_bytes(&ch);
    // The hello without its extension block is legal (RFC 5246 7.4.1.2).
    let no_ext_len = 4 + 2 + 32 + 1 + 32 + 2 + 4 + 2;
    for cut in 4..full.len() {
        let got = HandshakePayload::decode(HandshakeType::ClientHello, &full[4..cut], Dialect::Tls13);
        if cut == no_ext_len {
            assert!(got.is_ok());
        } else {
            assert_decode_err(got);
        }
    }
}

#[test]
fn trailing_bytes_are_decode_error() {
    let mut m = HandshakePayload::KeyUpdate(KeyUpdateRequest::UpdateRequested).encode();
    m.push(0);
    assert_decode_err(HandshakePayload::decode(
        HandshakeType::KeyUpdate,
        &m[4..],
        Dialect::Tls13,
    ));
    let mut m = ch_bytes(&ch_with(vec![ClientExtension::EarlyData]));
    m.push(0);
    assert_decode_err(HandshakePayload::decode(
        HandshakeType::ClientHello,
        &m[4..],
        Dialect::Tls13,
    ));
    // Trailing bytes inside one extension's data.
    assert_decode_err(decode_ch(vec![raw(T::RecordSizeLimit, &[0x40, 0, 0])]));
}

#[test]
fn cipher_suites_odd_or_empty_is_decode_error() {
    let mut ch = ch_with(vec![]);
    ch.cipher_suites.clear();
    assert_decode_err(decode_msg(&ch_bytes(&ch), Dialect::Tls13));
    let ch = ch_with(vec![]);
    let mut m = ch_bytes(&ch);
    // Cipher suite length at offset 4 + 2 + 32 + 1 + 32: make it 3 (odd).
    let at = 4 + 2 + 32 + 1 + 32;
    m[at + 1] = 3;
    assert_decode_err(decode_msg(&m, Dialect::Tls13));
}

#[test]
fn session_id_longer_than_32_is_decode_error() {
    let mut ch = ch_with(vec![]);
    ch.session_id = vec![0; 33];
    assert_decode_err(decode_msg(&ch_bytes(&ch), Dialect::Tls13));
}

#[test]
fn empty_compression_methods_is_decode_error() {
    let mut ch = ch_with(vec![]);
    ch.compression_methods.clear();
    assert_decode_err(decode_msg(&ch_bytes(&ch), Dialect::Tls13));
}

#[test]
fn tls13_client_hello_compression_must_be_null_only() {
    let mut ch = ch_with(vec![ClientExtension::SupportedVersions(vec![
        ProtocolVersion::TLSv1_3,
    ])]);
    ch.compression_methods = vec![1, 0];
    assert_err(
        decode_msg(&ch_bytes(&ch), Dialect::Tls13),
        ext_err(PM::CompressionNotNull),
        IP,
    );
    // A TLS 1.2-only hello may list more methods.
    ch.extensions.clear();
    assert!(decode_msg(&ch_bytes(&ch), Dialect::Tls12).is_ok());
}

#[test]
fn alpn_names_must_be_non_empty() {
    assert_decode_err(decode_ch(vec![raw(T::Alpn, &[0, 3, 2, b'h', b'2', 0])]));
    assert_decode_err(decode_ch(vec![raw(T::Alpn, &[0, 0])]));
    assert_decode_err(decode_ch(vec![raw(T::Alpn, &[])]));
}

#[test]
fn key_share_payload_must_be_non_empty() {
    assert_decode_err(decode_ch(vec![raw(T::KeyShare, &[0, 4, 0, 0x1d, 0, 0])]));
    let m = msg(
        HandshakeType::ServerHello,
        &sh_head([1; 32]),
        &[(T::SupportedVersions, SV13), (T::KeyShare, &[0, 0x1d, 0, 0])],
    );
    assert_decode_err(decode_msg(&m, Dialect::Tls13));
}

#[test]
fn duplicate_key_share_group_is_illegal_parameter() {
    let ks = |b| KeyShareEntry {
        group: NamedGroup::x25519,
        payload: vec![b; 32],
    };
    let got = decode_ch(vec![ClientExtension::KeyShare(vec![ks(1), ks(2)])]);
    assert_err(
        got,
        ext_err(PM::IllegalParameter(Parameter::DuplicateKeyShare)),
        IP,
    );
}

#[test]
fn empty_client_key_share_list_is_fine() {
    // RFC 8446 4.2.8: the client may send an empty client_shares to ask for an HRR.
    let got = decode_ch(vec![ClientExtension::KeyShare(vec![])]).unwrap();
    let HandshakePayload::ClientHello(ch) = got else {
        panic!("not a ClientHello")
    };
    assert_eq!(ch.key_shares(), Some(&[][..]));
}

#[test]
fn supported_versions_list_bounds_are_decode_error() {
    assert_decode_err(decode_ch(vec![raw(T::SupportedVersions, &[0])]));
    assert_decode_err(decode_ch(vec![raw(T::SupportedVersions, &[3, 3, 4, 3])]));
}

#[test]
fn vector_floors_are_decode_error() {
    assert_decode_err(decode_ch(vec![raw(T::SupportedGroups, &[0, 0])]));
    assert_decode_err(decode_ch(vec![raw(T::SignatureAlgorithms, &[0, 0])]));
    assert_decode_err(decode_ch(vec![raw(T::SignatureAlgorithmsCert, &[0, 1, 4])]));
    assert_decode_err(decode_ch(vec![raw(T::PskKeyExchangeModes, &[0])]));
    assert_decode_err(decode_ch(vec![raw(T::Cookie, &[0, 0])]));
    assert_decode_err(decode_ch(vec![raw(T::EcPointFormats, &[0])]));
    assert_decode_err(decode_ch(vec![raw(T::EarlyData, &[0])]));
    assert_decode_err(decode_ch(vec![raw(T::ExtendedMasterSecret, &[0])]));
    assert_decode_err(decode_ch(vec![raw(T::PostHandshakeAuth, &[0])]));
}

#[test]
fn sni_must_be_one_host_name() {
    // name_type 1 is not host_name.
    assert_decode_err(decode_ch(vec![raw(T::ServerName, &[0, 4, 1, 0, 1, b'a'])]));
    // Empty list, empty name.
    assert_decode_err(decode_ch(vec![raw(T::ServerName, &[0, 0])]));
    assert_decode_err(decode_ch(vec![raw(T::ServerName, &[0, 3, 0, 0, 0])]));
    // RFC 6066 3: no two names of one type.
    let two = [0, 8, 0, 0, 1, b'a', 0, 0, 1, b'b'];
    assert_err(
        decode_ch(vec![raw(T::ServerName, &two)]),
        ext_err(PM::IllegalParameter(Parameter::ServerNameCount)),
        IP,
    );
}

#[test]
fn psk_binder_rules() {
    let ident = [0, 7, 0, 1, b'x', 0, 0, 0, 0];
    let with_binders = |binders: &[u8]| {
        let mut d = ident.to_vec();
        d.extend_from_slice(binders);
        decode_ch(vec![raw(T::PreSharedKey, &d)])
    };
    // A binder shorter than 32 bytes parses: it fails verification when its identity is
    // chosen (decrypt_error), and is ignored otherwise.
    let mut short = vec![0, 32, 31];
    short.extend_from_slice(&[0; 31]);
    assert!(with_binders(&short).is_ok());
    // Two binders for one identity.
    let mut two = vec![0, 66, 32];
    two.extend_from_slice(&[0; 32]);
    two.push(32);
    two.extend_from_slice(&[0; 32]);
    assert_err(
        with_binders(&two),
        ext_err(PM::IllegalParameter(Parameter::PskBinderCount)),
        IP,
    );
    // Empty identity.
    assert_decode_err(decode_ch(vec![raw(
        T::PreSharedKey,
        &[0, 6, 0, 0, 0, 0, 0, 0, 0, 0],
    )]));
}

#[test]
fn record_size_limit_below_64_is_illegal_parameter() {
    let want = ext_err(PM::IllegalParameter(Parameter::RecordSizeLimit));
    assert_err(
        decode_ch(vec![raw(T::RecordSizeLimit, &[0, 63])]),
        want.clone(),
        IP,
    );
    let m = msg(
        HandshakeType::EncryptedExtensions,
        &[],
        &[(T::RecordSizeLimit, &[0, 10])],
    );
    assert_err(decode_msg(&m, Dialect::Tls13), want, IP);
}

#[test]
fn unknown_extension_in_client_hello_is_kept() {
    let got = decode_ch(vec![raw(T::Unknown(0xfafa), b"grease"), raw(T::Padding, &[0; 5])]).unwrap();
    let HandshakePayload::ClientHello(ch) = got else {
        panic!("not a ClientHello")
    };
    assert_eq!(
        ch.extensions,
        vec![raw(T::Unknown(0xfafa), b"grease"), raw(T::Padding, &[0; 5])]
    );
}

#[test]
fn unknown_extension_in_server_messages_is_kept() {
    let m = msg(
        HandshakeType::EncryptedExtensions,
        &[],
        &[(T::Unknown(0xeeee), b"z")],
    );
    let want = EncryptedExtension::Unknown {
        typ: T::Unknown(0xeeee),
        data: b"z".to_vec(),
    };
    assert_eq!(
        decode_msg(&m, Dialect::Tls13).unwrap(),
        HandshakePayload::EncryptedExtensions(vec![want])
    );
    let m = msg(
        HandshakeType::ServerHello,
        &sh_head([1; 32]),
        &[(T::SupportedVersions, SV13), (T::Unknown(0xeeee), b"")],
    );
    let HandshakePayload::ServerHello(sh) = decode_msg(&m, Dialect::Tls13).unwrap() else {
        panic!()
    };
    assert!(sh.has(T::Unknown(0xeeee)));
}

#[test]
fn forbidden_extension_in_client_hello_is_illegal_parameter() {
    assert_err(
        decode_ch(vec![raw(T::OidFilters, &[0, 0])]),
        ext_err(PM::ExtensionForbiddenInMessage),
        IP,
    );
}

#[test]
fn forbidden_extension_in_tls13_server_hello_is_illegal_parameter() {
    for (t, d) in [
        (T::ServerName, &[][..]),
        (T::Alpn, &[0, 3, 2, b'h', b'2'][..]),
        (T::EarlyData, &[][..]),
    ] {
        let m = msg(
            HandshakeType::ServerHello,
            &sh_head([1; 32]),
            &[(T::SupportedVersions, SV13), (t, d)],
        );
        assert_err(
            decode_msg(&m, Dialect::Tls13),
            ext_err(PM::ExtensionForbiddenInMessage),
            IP,
        );
    }
    // TLS 1.2 ServerHello: ALPN is fine, key_share is not.
    let m = msg(
        HandshakeType::ServerHello,
        &sh_head([1; 32]),
        &[(T::Alpn, &[0, 3, 2, b'h', b'2'])],
    );
    let HandshakePayload::ServerHello(sh) = decode_msg(&m, Dialect::Tls12).unwrap() else {
        panic!()
    };
    assert_eq!(sh.alpn(), Some(&b"h2"[..]));
    let m = msg(
        HandshakeType::ServerHello,
        &sh_head([1; 32]),
        &[(T::KeyShare, &[0, 0x1d, 0, 1, 1])],
    );
    assert_err(
        decode_msg(&m, Dialect::Tls12),
        ext_err(PM::ExtensionForbiddenInMessage),
        IP,
    );
}

#[test]
fn forbidden_extension_in_hello_retry_request_is_illegal_parameter() {
    let m = msg(
        HandshakeType::ServerHello,
        &sh_head(HRR_RANDOM),
        &[(T::SupportedVersions, SV13), (T::PreSharedKey, &[0, 0])],
    );
    assert_err(
        decode_msg(&m, Dialect::Tls13),
        ext_err(PM::ExtensionForbiddenInMessage),
        IP,
    );
}

#[test]
fn forbidden_extension_in_encrypted_extensions_is_illegal_parameter() {
    for t in [
        T::KeyShare,
        T::SupportedVersions,
        T::SignatureAlgorithms,
        T::ExtendedMasterSecret,
        T::PreSharedKey,
    ] {
        let m = msg(HandshakeType::EncryptedExtensions, &[], &[(t, &[0, 0x1d])]);
        assert_err(
            decode_msg(&m, Dialect::Tls13),
            ext_err(PM::ExtensionForbiddenInMessage),
            IP,
        );
    }
}

#[test]
fn forbidden_extension_in_certificate_request_is_illegal_parameter() {
    let m = msg(
        HandshakeType::CertificateRequest,
        &[0],
        &[
            (T::SignatureAlgorithms, &[0, 2, 8, 4]),
            (T::Alpn, &[0, 3, 2, b'h', b'2']),
        ],
    );
    assert_err(
        decode_msg(&m, Dialect::Tls13),
        ext_err(PM::ExtensionForbiddenInMessage),
        IP,
    );
}

#[test]
fn forbidden_extension_in_new_session_ticket_is_illegal_parameter() {
    let head = [0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 1, 0xaa];
    let m = msg(HandshakeType::NewSessionTicket, &head, &[(T::ServerName, &[])]);
    assert_err(
        decode_msg(&m, Dialect::Tls13),
        ext_err(PM::ExtensionForbiddenInMessage),
        IP,
    );
    let m = msg(
        HandshakeType::NewSessionTicket,
        &head,
        &[(T::EarlyData, &[0, 0, 0x40, 0])],
    );
    let HandshakePayload::NewSessionTicket13(t) = decode_msg(&m, Dialect::Tls13).unwrap() else {
        panic!()
    };
    assert_eq!(t.max_early_data_size(), Some(0x4000));
}

#[test]
fn forbidden_extension_in_certificate_entry_is_illegal_parameter() {
    // context 0, list: cert_data "c", extensions: alpn.
    let entry_exts = [0, 16, 0, 0];
    let mut body = vec![0, 0, 0, 10, 0, 0, 1, b'c', 0, 4];
    body.extend_from_slice(&entry_exts);
    assert_err(
        HandshakePayload::decode(HandshakeType::Certificate, &body, Dialect::Tls13),
        ext_err(PM::ExtensionForbiddenInMessage),
        IP,
    );
    // Duplicates in an entry's block, and an empty cert_data.
    let body = [0, 0, 0, 14, 0, 0, 1, b'c', 0, 8, 0, 5, 0, 0, 0, 5, 0, 0];
    assert_err(
        HandshakePayload::decode(HandshakeType::Certificate, &body, Dialect::Tls13),
        ext_err(PM::DuplicateExtension),
        IP,
    );
    let body = [0, 0, 0, 5, 0, 0, 0, 0, 0];
    assert_decode_err(HandshakePayload::decode(
        HandshakeType::Certificate,
        &body,
        Dialect::Tls13,
    ));
}

#[test]
fn certificate_request_without_signature_algorithms_is_missing_extension() {
    let m = msg(
        HandshakeType::CertificateRequest,
        &[0],
        &[(T::SignatureAlgorithmsCert, &[0, 2, 8, 4])],
    );
    assert_err(
        decode_msg(&m, Dialect::Tls13),
        ext_err(PM::MissingExtension("signature_algorithms")),
        AlertDescription::MissingExtension,
    );
}

#[test]
fn server_alpn_must_name_exactly_one_protocol() {
    let m = msg(
        HandshakeType::EncryptedExtensions,
        &[],
        &[(T::Alpn, &[0, 6, 2, b'h', b'2', 2, b'h', b'3'])],
    );
    assert_err(
        decode_msg(&m, Dialect::Tls13),
        ext_err(PM::IllegalParameter(Parameter::ServerAlpnCount)),
        IP,
    );
}

#[test]
fn key_update_other_than_0_or_1_is_illegal_parameter() {
    let got = HandshakePayload::decode(HandshakeType::KeyUpdate, &[2], Dialect::Tls13);
    assert_err(
        got,
        ext_err(PM::IllegalParameter(Parameter::KeyUpdateRequest)),
        IP,
    );
    assert_decode_err(HandshakePayload::decode(
        HandshakeType::KeyUpdate,
        &[],
        Dialect::Tls13,
    ));
}

#[test]
fn empty_finished_decodes() {
    let got = HandshakePayload::decode(HandshakeType::Finished, &[], Dialect::Tls13).unwrap();
    assert_eq!(got, HandshakePayload::Finished(vec![]));
}

#[test]
fn end_of_early_data_with_body_is_decode_error() {
    assert_decode_err(HandshakePayload::decode(
        HandshakeType::EndOfEarlyData,
        &[0],
        Dialect::Tls13,
    ));
    assert_eq!(HandshakePayload::EndOfEarlyData.encode(), [5, 0, 0, 0]);
}

#[test]
fn empty_ticket_is_decode_error() {
    let m = msg(
        HandshakeType::NewSessionTicket,
        &[0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0],
        &[],
    );
    assert_decode_err(decode_msg(&m, Dialect::Tls13));
}

#[test]
fn server_hello_with_hrr_random_decodes_as_hello_retry_request() {
    let m = msg(
        HandshakeType::ServerHello,
        &sh_head(HRR_RANDOM),
        &[
            (T::SupportedVersions, SV13),
            (T::KeyShare, &[0, 0x17]),
            (T::Cookie, &[0, 1, 9]),
        ],
    );
    let HandshakePayload::HelloRetryRequest(hrr) = decode_msg(&m, Dialect::Tls13).unwrap() else {
        panic!("not HRR")
    };
    assert_eq!(hrr.selected_group(), Some(NamedGroup::secp256r1));
    assert_eq!(hrr.cookie(), Some(&[9][..]));
    assert_eq!(hrr.supported_version(), Some(ProtocolVersion::TLSv1_3));
    assert_eq!(HandshakePayload::HelloRetryRequest(hrr).encode(), m);
}

#[test]
fn hello_retry_request_compression_must_be_zero_or_decode_error() {
    let mut head = sh_head(HRR_RANDOM);
    *head.last_mut().unwrap() = 1;
    let m = msg(
        HandshakeType::ServerHello,
        &head,
        &[(T::SupportedVersions, SV13), (T::KeyShare, &[0, 0x17])],
    );
    assert_decode_err(decode_msg(&m, Dialect::Tls13));
}

#[test]
fn tls13_server_hello_compression_must_be_zero() {
    let mut head = sh_head([1; 32]);
    *head.last_mut().unwrap() = 1;
    let m = msg(HandshakeType::ServerHello, &head, &[(T::SupportedVersions, SV13)]);
    assert_err(
        decode_msg(&m, Dialect::Tls13),
        ext_err(PM::CompressionNotNull),
        IP,
    );
}

#[test]
fn unknown_values_survive() {
    let ch = ch_with(vec![
        ClientExtension::SupportedGroups(vec![NamedGroup::Unknown(0x2a2a), NamedGroup::x25519]),
        ClientExtension::SignatureAlgorithms(vec![crate::codec::SignatureScheme::Unknown(0x0a0a)]),
        ClientExtension::SupportedVersions(vec![ProtocolVersion::Unknown(0x7a7a), ProtocolVersion::TLSv1_3]),
    ]);
    let got = decode_msg(&ch_bytes(&ch), Dialect::Tls13).unwrap();
    assert_eq!(got, HandshakePayload::ClientHello(ch));
}

#[test]
fn binders_encoded_len_covers_the_binders_suffix() {
    let psk = OfferedPsks {
        identities: vec![
            PskIdentity {
                identity: b"a".to_vec(),
                obfuscated_ticket_age: 1,
            },
            PskIdentity {
                identity: b"b".to_vec(),
                obfuscated_ticket_age: 2,
            },
        ],
        binders: vec![vec![1; 32], vec![2; 48]],
    };
    let ch = ch_with(vec![
        ClientExtension::EarlyData,
        ClientExtension::PreSharedKey(psk.clone()),
    ]);
    assert_eq!(ch.binders_encoded_len(), 2 + 33 + 49);
    let m = ch_bytes(&ch);
    let mut binders = Vec::new();
    psk.encode_binders(&mut binders);
    assert!(m.ends_with(&binders));
    assert_eq!(binders.len(), ch.binders_encoded_len());
    assert_eq!(ch_with(vec![]).binders_encoded_len(), 0);
}

#[test]
fn tls12_dialect_leaves_tls12_bodies_unknown() {
    for t in [
        HandshakeType::Certificate,
        HandshakeType::CertificateRequest,
        HandshakeType::NewSessionTicket,
    ] {
        let got = HandshakePayload::decode(t, &[1, 2, 3], Dialect::Tls12).unwrap();
        assert_eq!(
            got,
            HandshakePayload::Unknown {
                typ: t,
                body: vec![1, 2, 3]
            }
        );
    }
}

#[test]
fn dtls_client_hello_carries_cookie() {
    let mut ch = ch_with(vec![]);
    ch.legacy_version = ProtocolVersion::DTLSv1_2;
    ch.cookie = Some(vec![0xc0; 20]);
    let bytes = ch_bytes(&ch);
    let got = HandshakePayload::decode_dtls(HandshakeType::ClientHello, &bytes[4..], Dialect::Tls12).unwrap();
    assert_eq!(got, HandshakePayload::ClientHello(ch.clone()));
    // Over TLS there is no cookie field: the same bytes do not parse as that hello.
    assert_ne!(
        decode_msg(&bytes, Dialect::Tls12).ok(),
        Some(HandshakePayload::ClientHello(ch))
    );
}

#[test]
fn dtls_client_hello_of_an_unknown_version_still_carries_cookie() {
    // RFC 6347 4.1: a newer DTLS version's hello is parsed as a DTLS hello all the same.
    let mut ch = ch_with(vec![]);
    ch.legacy_version = ProtocolVersion::from(0xfe00);
    ch.cookie = Some(vec![0xc0; 20]);
    let bytes = ch_bytes(&ch);
    let got = HandshakePayload::decode_dtls(HandshakeType::ClientHello, &bytes[4..], Dialect::Tls12).unwrap();
    assert_eq!(got, HandshakePayload::ClientHello(ch));
}

#[test]
fn typed_getters_find_their_extensions() {
    let ch = ch_with(vec![
        ClientExtension::ServerName(b"example.com".to_vec()),
        ClientExtension::Alpn(vec![b"h2".to_vec()]),
        ClientExtension::Cookie(vec![1]),
        ClientExtension::PskKeyExchangeModes(vec![crate::codec::PskKeyExchangeMode::PskDheKe]),
    ]);
    assert_eq!(ch.server_name(), Some(&b"example.com"[..]));
    assert_eq!(ch.alpn(), Some(&[b"h2".to_vec()][..]));
    assert_eq!(ch.cookie(), Some(&[1][..]));
    assert_eq!(
        ch.psk_modes(),
        Some(&[crate::codec::PskKeyExchangeMode::PskDheKe][..])
    );
    assert!(ch.find(T::Cookie).is_some());
    assert!(ch.psk().is_none() && ch.key_shares().is_none() && ch.supported_groups().is_none());
}
