//! TLS 1.2 bodies: round-trips, rules, and the illustrated TLS 1.2 capture.

use crate::error::Parameter;
use proptest::collection::vec;
use proptest::prelude::*;

use super::*;
use crate::codec::{NamedGroup, ProtocolVersion, SignatureScheme};

fn bytes(min: usize, max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), min..=max)
}

fn payload12() -> impl Strategy<Value = Tls12Payload> {
    use Tls12Payload as P;
    prop_oneof![
        Just(P::HelloRequest),
        (any::<u16>(), bytes(0, 255)).prop_map(|(v, cookie)| P::HelloVerifyRequest(HelloVerifyRequest {
            server_version: ProtocolVersion::from(v),
            cookie
        })),
        vec(bytes(1, 100), 0..4).prop_map(|certs| P::Certificate(Certificate12 { certs })),
        (any::<u16>(), bytes(1, 97), any::<u16>(), bytes(0, 100)).prop_map(|(g, public, s, signature)| {
            P::ServerKeyExchange(ServerKeyExchange {
                group: NamedGroup::from(g),
                public,
                scheme: SignatureScheme::from(s),
                signature,
            })
        }),
        (
            bytes(1, 5),
            vec(any::<u16>().prop_map(SignatureScheme::from), 1..6),
            vec(bytes(1, 40), 0..3)
        )
            .prop_map(|(cert_types, schemes, authorities)| P::CertificateRequest(
                CertificateRequest12 {
                    cert_types,
                    schemes,
                    authorities
                }
            )),
        Just(P::ServerHelloDone),
        bytes(1, 97).prop_map(|public| P::ClientKeyExchange(ClientKeyExchange { public })),
        (any::<u32>(), bytes(0, 100)).prop_map(|(lifetime_hint, ticket)| P::NewSessionTicket(
            NewSessionTicket12 {
                lifetime_hint,
                ticket
            }
        )),
    ]
}

proptest! {
    #[test]
    fn tls12_payload_round_trips(p in payload12()) {
        let msg = p.encode();
        prop_assert_eq!(msg[0], u8::from(p.typ()));
        let back = Tls12Payload::decode(p.typ(), &msg[4..]).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        prop_assert_eq!(back, Some(p));
    }

    #[test]
    fn tls12_decode_never_panics(typ in any::<u8>(), body in bytes(0, 300)) {
        let _ = Tls12Payload::decode(HandshakeType::from(typ), &body);
    }
}

#[test]
fn explicit_curve_is_illegal_parameter() {
    let body = [1, 0, 0x1d, 1, 9, 8, 4, 0, 0];
    assert_err(
        Tls12Payload::decode(HandshakeType::ServerKeyExchange, &body),
        Error::PeerMisbehaved(crate::PeerMisbehaved::IllegalParameter(Parameter::CurveType)),
        AlertDescription::IllegalParameter,
    );
}

#[test]
fn tls12_vector_floors_are_decode_error() {
    // Empty ECPoint, empty certificate_types, empty ASN.1Cert, empty ecdh_Yc.
    assert_decode_err(Tls12Payload::decode(
        HandshakeType::ServerKeyExchange,
        &[3, 0, 0x1d, 0, 8, 4, 0, 0],
    ));
    assert_decode_err(Tls12Payload::decode(
        HandshakeType::CertificateRequest,
        &[0, 0, 2, 8, 4, 0, 0],
    ));
    assert_decode_err(Tls12Payload::decode(
        HandshakeType::Certificate,
        &[0, 0, 3, 0, 0, 0],
    ));
    assert_decode_err(Tls12Payload::decode(HandshakeType::ClientKeyExchange, &[0]));
    // Trailing bytes.
    assert_decode_err(Tls12Payload::decode(HandshakeType::ServerHelloDone, &[0]));
}

#[test]
fn shared_types_are_left_to_handshake_payload() {
    assert_eq!(Tls12Payload::decode(HandshakeType::Finished, &[1; 12]), Ok(None));
    assert_eq!(Tls12Payload::decode(HandshakeType::ClientHello, &[]), Ok(None));
}

#[test]
fn illustrated_tls12_server_and_client_flights() {
    for file in [
        "servercert",
        "serverkeyexchange",
        "serverhellodone",
        "clientkeyexchange",
    ] {
        let rec = super::vectors::vector(&format!("illustrated/tls12/caps/{file}"));
        let msg = super::vectors::from_record(&rec);
        let typ = HandshakeType::from(msg[0]);
        let p = Tls12Payload::decode(typ, &msg[4..])
            .unwrap()
            .expect("a TLS 1.2 body");
        assert_eq!(p.encode(), msg, "{file}");
        if let Tls12Payload::ServerKeyExchange(ske) = &p {
            assert_eq!(ske.group, NamedGroup::x25519);
            assert_eq!(ske.public.len(), 32);
            assert_eq!(ske.scheme, SignatureScheme::rsa_pkcs1_sha256);
        }
    }
}
