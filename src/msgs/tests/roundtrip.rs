//! encode → decode → equal, for every message and extension type.

use proptest::collection::vec;
use proptest::prelude::*;

use super::*;
use crate::codec::{
    AlertLevel, CipherSuite, Codec, EcPointFormat, ExtensionType, KeyUpdateRequest, NamedGroup,
    ProtocolVersion, PskKeyExchangeMode, SignatureScheme,
};

fn bytes(min: usize, max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), min..=max)
}

fn group() -> impl Strategy<Value = NamedGroup> {
    any::<u16>().prop_map(NamedGroup::from)
}

fn scheme() -> impl Strategy<Value = SignatureScheme> {
    any::<u16>().prop_map(SignatureScheme::from)
}

fn version() -> impl Strategy<Value = ProtocolVersion> {
    any::<u16>().prop_map(ProtocolVersion::from)
}

fn suite() -> impl Strategy<Value = CipherSuite> {
    any::<u16>().prop_map(CipherSuite::from)
}

fn schemes() -> impl Strategy<Value = Vec<SignatureScheme>> {
    vec(scheme(), 1..6)
}

/// An extension type we do not name, so it decodes as `Unknown`.
fn unknown_type() -> impl Strategy<Value = ExtensionType> {
    any::<u16>()
        .prop_map(ExtensionType::from)
        .prop_filter("unnamed", |t| matches!(t, ExtensionType::Unknown(_)))
}

fn alpn_name() -> impl Strategy<Value = Vec<u8>> {
    bytes(1, 255)
}

fn key_share() -> impl Strategy<Value = KeyShareEntry> {
    (group(), bytes(1, 40)).prop_map(|(group, payload)| KeyShareEntry { group, payload })
}

fn offered_psks() -> impl Strategy<Value = OfferedPsks> {
    vec((bytes(1, 30), any::<u32>(), bytes(32, 64)), 1..4).prop_map(|v| OfferedPsks {
        identities: v
            .iter()
            .map(|(identity, age, _)| PskIdentity {
                identity: identity.clone(),
                obfuscated_ticket_age: *age,
            })
            .collect(),
        binders: v.into_iter().map(|(_, _, b)| b).collect(),
    })
}

/// Keeps the first extension of each type (RFC 8446 4.2: no duplicates).
fn dedupe<T>(v: Vec<T>, typ: impl Fn(&T) -> ExtensionType) -> Vec<T> {
    let mut seen = std::collections::HashSet::new();
    v.into_iter().filter(|e| seen.insert(typ(e).get())).collect()
}

fn client_ext() -> impl Strategy<Value = ClientExtension> {
    use ClientExtension as E;
    prop_oneof![
        bytes(1, 40).prop_map(E::ServerName),
        vec(group(), 1..6).prop_map(E::SupportedGroups),
        schemes().prop_map(E::SignatureAlgorithms),
        schemes().prop_map(E::SignatureAlgorithmsCert),
        vec(key_share(), 0..4).prop_map(|v| E::KeyShare(dedupe_groups(v))),
        vec(version(), 1..6).prop_map(E::SupportedVersions),
        vec(any::<u8>().prop_map(PskKeyExchangeMode::from), 1..4).prop_map(E::PskKeyExchangeModes),
        offered_psks().prop_map(E::PreSharedKey),
        Just(E::EarlyData),
        bytes(1, 40).prop_map(E::Cookie),
        vec(alpn_name(), 1..4).prop_map(E::Alpn),
        (64u16..).prop_map(E::RecordSizeLimit),
        Just(E::ExtendedMasterSecret),
        bytes(0, 48).prop_map(E::RenegotiationInfo),
        vec(any::<u8>().prop_map(EcPointFormat::from), 1..4).prop_map(E::EcPointFormats),
        bytes(0, 40).prop_map(E::SessionTicket),
        Just(E::PostHandshakeAuth),
        (unknown_type(), bytes(0, 20)).prop_map(|(typ, data)| E::Unknown { typ, data }),
    ]
}

fn dedupe_groups(v: Vec<KeyShareEntry>) -> Vec<KeyShareEntry> {
    let mut seen = std::collections::HashSet::new();
    v.into_iter().filter(|k| seen.insert(k.group.get())).collect()
}

fn client_exts() -> impl Strategy<Value = Vec<ClientExtension>> {
    vec(client_ext(), 0..10).prop_map(|v| {
        let mut v = dedupe(v, ClientExtension::typ);
        // RFC 8446 4.2.11: pre_shared_key goes last.
        if let Some(i) = v
            .iter()
            .position(|e| matches!(e, ClientExtension::PreSharedKey(_)))
        {
            let psk = v.remove(i);
            v.push(psk);
        }
        v
    })
}

prop_compose! {
    fn client_hello()(
        dtls in any::<bool>(),
        random in any::<[u8; 32]>(),
        session_id in bytes(0, 32),
        cookie in bytes(0, 40),
        cipher_suites in vec(suite(), 1..10),
        compression in bytes(1, 4),
        extensions in client_exts(),
    ) -> ClientHello {
        let mut ch = ClientHello {
            legacy_version: if dtls { ProtocolVersion::DTLSv1_2 } else { ProtocolVersion::TLSv1_2 },
            random,
            session_id,
            cookie: dtls.then_some(cookie),
            cipher_suites,
            compression_methods: compression,
            extensions,
        };
        let offers_13 = ch.supported_versions().is_some_and(|v| {
            v.iter().any(|v| matches!(v, ProtocolVersion::TLSv1_3 | ProtocolVersion::DTLSv1_3))
        });
        if offers_13 {
            ch.compression_methods = vec![0];
        }
        ch
    }
}

fn sh13_ext() -> impl Strategy<Value = ServerHelloExtension> {
    use ServerHelloExtension as E;
    prop_oneof![
        key_share().prop_map(E::KeyShare),
        any::<u16>().prop_map(E::PreSharedKey),
        (unknown_type(), bytes(0, 20)).prop_map(|(typ, data)| E::Unknown { typ, data }),
    ]
}

fn sh12_ext() -> impl Strategy<Value = ServerHelloExtension> {
    use ServerHelloExtension as E;
    prop_oneof![
        Just(E::ExtendedMasterSecret),
        bytes(0, 48).prop_map(E::RenegotiationInfo),
        vec(any::<u8>().prop_map(EcPointFormat::from), 1..4).prop_map(E::EcPointFormats),
        alpn_name().prop_map(E::Alpn),
        Just(E::ServerNameAck),
        Just(E::SessionTicketAck),
        (unknown_type(), bytes(0, 20)).prop_map(|(typ, data)| E::Unknown { typ, data }),
    ]
}

prop_compose! {
    fn server_hello()(
        tls13 in any::<bool>(),
        legacy_version in version(),
        random in any::<[u8; 32]>().prop_filter("not HRR", |r| *r != HRR_RANDOM),
        session_id in bytes(0, 32),
        cipher_suite in suite(),
        compression_method in any::<u8>(),
        sv in version(),
        ext13 in vec(sh13_ext(), 0..4),
        ext12 in vec(sh12_ext(), 0..8),
    ) -> ServerHello {
        let extensions = if tls13 {
            let mut v = ext13;
            v.push(ServerHelloExtension::SupportedVersions(sv));
            dedupe(v, ServerHelloExtension::typ)
        } else {
            dedupe(ext12, ServerHelloExtension::typ)
        };
        ServerHello {
            legacy_version,
            random,
            session_id,
            cipher_suite,
            compression_method: if tls13 { 0 } else { compression_method },
            extensions,
        }
    }
}

fn hrr_ext() -> impl Strategy<Value = HelloRetryExtension> {
    use HelloRetryExtension as E;
    prop_oneof![
        group().prop_map(E::KeyShare),
        bytes(1, 40).prop_map(E::Cookie),
        version().prop_map(E::SupportedVersions),
        (unknown_type(), bytes(0, 20)).prop_map(|(typ, data)| E::Unknown { typ, data }),
    ]
}

prop_compose! {
    fn hello_retry_request()(
        legacy_version in version(),
        session_id in bytes(0, 32),
        cipher_suite in suite(),
        extensions in vec(hrr_ext(), 0..5),
    ) -> HelloRetryRequest {
        HelloRetryRequest { legacy_version, session_id, cipher_suite, extensions: dedupe(extensions, HelloRetryExtension::typ) }
    }
}

fn ee_ext() -> impl Strategy<Value = EncryptedExtension> {
    use EncryptedExtension as E;
    prop_oneof![
        Just(E::ServerNameAck),
        vec(group(), 1..6).prop_map(E::SupportedGroups),
        alpn_name().prop_map(E::Alpn),
        Just(E::EarlyData),
        (64u16..).prop_map(E::RecordSizeLimit),
        (unknown_type(), bytes(0, 20)).prop_map(|(typ, data)| E::Unknown { typ, data }),
    ]
}

fn encrypted_extensions() -> impl Strategy<Value = Vec<EncryptedExtension>> {
    vec(ee_ext(), 0..7).prop_map(|v| dedupe(v, EncryptedExtension::typ))
}

/// A well-formed raw CertificateEntry extension block (status_request, SCT, unknown).
fn cert_entry_exts() -> impl Strategy<Value = Vec<u8>> {
    let typ = prop_oneof![
        Just(ExtensionType::StatusRequest),
        Just(ExtensionType::SignedCertificateTimestamp),
        unknown_type()
    ];
    vec((typ, bytes(0, 20)), 0..3).prop_map(|v| {
        let v = dedupe(v, |(t, _)| *t);
        let mut out = Vec::new();
        for (t, d) in v {
            ClientExtension::Unknown { typ: t, data: d }.encode(&mut out);
        }
        out
    })
}

prop_compose! {
    fn certificate13()(
        context in bytes(0, 32),
        entries in vec((bytes(1, 200), cert_entry_exts()), 0..4),
    ) -> Certificate13 {
        Certificate13 {
            context,
            entries: entries.into_iter().map(|(cert, extensions)| CertificateEntry { cert, extensions }).collect(),
        }
    }
}

fn cr_ext() -> impl Strategy<Value = CertReqExtension> {
    use CertReqExtension as E;
    prop_oneof![
        schemes().prop_map(E::SignatureAlgorithmsCert),
        vec(bytes(1, 40), 1..4).prop_map(E::CertificateAuthorities),
        (unknown_type(), bytes(0, 20)).prop_map(|(typ, data)| E::Unknown { typ, data }),
    ]
}

prop_compose! {
    fn certificate_request13()(
        context in bytes(0, 32),
        sigs in schemes(),
        at in any::<prop::sample::Index>(),
        rest in vec(cr_ext(), 0..4),
    ) -> CertificateRequest13 {
        let mut extensions = dedupe(rest, CertReqExtension::typ);
        let i = at.index(extensions.len() + 1);
        extensions.insert(i, CertReqExtension::SignatureAlgorithms(sigs));
        CertificateRequest13 { context, extensions }
    }
}

fn ticket_ext() -> impl Strategy<Value = TicketExtension> {
    prop_oneof![
        any::<u32>().prop_map(TicketExtension::EarlyData),
        (unknown_type(), bytes(0, 20)).prop_map(|(typ, data)| TicketExtension::Unknown { typ, data }),
    ]
}

prop_compose! {
    fn new_session_ticket13()(
        lifetime in any::<u32>(),
        age_add in any::<u32>(),
        nonce in bytes(0, 255),
        ticket in bytes(1, 100),
        extensions in vec(ticket_ext(), 0..4),
    ) -> NewSessionTicket13 {
        NewSessionTicket13 { lifetime, age_add, nonce, ticket, extensions: dedupe(extensions, TicketExtension::typ) }
    }
}

fn payload13() -> impl Strategy<Value = HandshakePayload> {
    use HandshakePayload as P;
    prop_oneof![
        client_hello().prop_map(P::ClientHello),
        server_hello().prop_map(P::ServerHello),
        hello_retry_request().prop_map(P::HelloRetryRequest),
        encrypted_extensions().prop_map(P::EncryptedExtensions),
        certificate13().prop_map(P::Certificate13),
        certificate_request13().prop_map(P::CertificateRequest13),
        (scheme(), bytes(0, 100))
            .prop_map(|(scheme, signature)| P::CertificateVerify(CertificateVerify { scheme, signature })),
        bytes(0, 64).prop_map(P::Finished),
        new_session_ticket13().prop_map(P::NewSessionTicket13),
        prop_oneof![
            Just(KeyUpdateRequest::UpdateNotRequested),
            Just(KeyUpdateRequest::UpdateRequested)
        ]
        .prop_map(P::KeyUpdate),
        Just(P::EndOfEarlyData),
        bytes(0, 40).prop_map(|body| P::Unknown {
            typ: HandshakeType::ServerHelloDone,
            body
        }),
    ]
}

/// Encodes, checks the header, decodes, compares.
fn round_trip(p: &HandshakePayload, dialect: Dialect) -> Result<(), TestCaseError> {
    let msg = p.encode();
    prop_assert_eq!(msg[0], u8::from(p.typ()));
    let len = u32::from_be_bytes([0, msg[1], msg[2], msg[3]]) as usize;
    prop_assert_eq!(len, msg.len() - 4);
    let mut body = Vec::new();
    p.encode_body(&mut body);
    prop_assert_eq!(&body[..], &msg[4..]);
    // A ClientHello with a cookie field is a DTLS one: decoded as DTLS messages are.
    let back = match p {
        HandshakePayload::ClientHello(ch) if ch.cookie.is_some() => {
            HandshakePayload::decode_dtls(p.typ(), &msg[4..], dialect)
        }
        _ => decode_msg(&msg, dialect),
    }
    .map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
    prop_assert_eq!(&back, p);
    Ok(())
}

proptest! {
    #[test]
    fn handshake_payload_round_trips(p in payload13()) {
        round_trip(&p, Dialect::Tls13)?;
    }

    #[test]
    fn client_hello_round_trips_directly(ch in client_hello()) {
        let mut body = Vec::new();
        ch.encode(&mut body);
        let mut r = crate::codec::Reader::new(&body);
        let back = ClientHello::decode(&mut r, ch.cookie.is_some()).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        prop_assert!(r.is_empty());
        prop_assert_eq!(back, ch);
    }

    #[test]
    fn client_extension_round_trips(e in client_ext()) {
        let mut out = Vec::new();
        e.encode(&mut out);
        let typ = ExtensionType::from(u16::from_be_bytes([out[0], out[1]]));
        prop_assert_eq!(typ, e.typ());
        prop_assert_eq!(u16::from_be_bytes([out[2], out[3]]) as usize, out.len() - 4);
        prop_assert_eq!(ClientExtension::decode(typ, &out[4..]).map_err(|e| TestCaseError::fail(format!("{e:?}")))?, e);
    }

    #[test]
    fn server_extensions_round_trip(
        sh in sh13_ext(), sh2 in sh12_ext(), hrr in hrr_ext(), ee in ee_ext(), cr in cr_ext(), t in ticket_ext(),
    ) {
        fn split(out: &[u8]) -> (ExtensionType, &[u8]) {
            (ExtensionType::from(u16::from_be_bytes([out[0], out[1]])), &out[4..])
        }
        let fail = |e: Error| TestCaseError::fail(format!("{e:?}"));
        for e in [sh, sh2] {
            let o = { let mut o = Vec::new(); e.encode(&mut o); o };
            let (typ, data) = split(&o);
            prop_assert_eq!(ServerHelloExtension::decode(typ, data).map_err(fail)?, e);
        }
        let o = { let mut o = Vec::new(); hrr.encode(&mut o); o };
        let (typ, data) = split(&o);
        prop_assert_eq!(HelloRetryExtension::decode(typ, data).map_err(fail)?, hrr);
        let o = { let mut o = Vec::new(); ee.encode(&mut o); o };
        let (typ, data) = split(&o);
        prop_assert_eq!(EncryptedExtension::decode(typ, data).map_err(fail)?, ee);
        let o = { let mut o = Vec::new(); cr.encode(&mut o); o };
        let (typ, data) = split(&o);
        prop_assert_eq!(CertReqExtension::decode(typ, data).map_err(fail)?, cr);
        let o = { let mut o = Vec::new(); t.encode(&mut o); o };
        let (typ, data) = split(&o);
        prop_assert_eq!(TicketExtension::decode(typ, data).map_err(fail)?, t);
    }

    #[test]
    fn alert_round_trips(level in any::<u8>(), desc in any::<u8>()) {
        let a = AlertMessage { level: AlertLevel::from(level), description: AlertDescription::from(desc) };
        prop_assert_eq!(AlertMessage::read_exact(&a.to_vec(), "alert").unwrap(), a);
    }

    /// Decoding arbitrary bytes never panics, whatever the type.
    #[test]
    fn decode_never_panics(typ in any::<u8>(), body in bytes(0, 300), tls13 in any::<bool>()) {
        let dialect = if tls13 { Dialect::Tls13 } else { Dialect::Tls12 };
        let _ = HandshakePayload::decode(HandshakeType::from(typ), &body, dialect);
    }

    /// Every strict prefix of a valid message fails to decode (or, for hellos, is the same
    /// message without its extension block).
    #[test]
    fn truncations_never_panic(p in payload13()) {
        let msg = p.encode();
        for cut in 4..msg.len() {
            let _ = HandshakePayload::decode(p.typ(), &msg[4..cut], Dialect::Tls13);
        }
    }
}
