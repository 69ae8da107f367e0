//! DTLS-SRTP (RFC 5764, RFC 7714) between our own client and server, DTLS 1.3 and 1.2: the
//! server's preference picks the profile, both sides export the same keys (API and event),
//! the MKI is echoed or answered empty (RFC 5764 4.1.1), no common profile means no
//! extension, and the client's refusals of a bad answer (a profile it did not offer, more
//! than one profile, a foreign MKI) with illegal_parameter. Over TLS the extension is never
//! sent nor answered.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::dtls::{events, Link};
use sanstls::codec::{AlertDescription, ProtocolVersion};
use sanstls::conn::{ClientConfigBuilder, ServerConfigBuilder};
use sanstls::dtls::DtlsConfig;
use sanstls::msgs::{ClientExtension, EncryptedExtension, ServerHelloExtension, UseSrtp};
use sanstls::srtp::SrtpProtectionProfile as P;
use sanstls::{Error, Event, Parameter, PeerMisbehaved};

const VERSIONS: [ProtocolVersion; 2] = [ProtocolVersion::TLSv1_3, ProtocolVersion::TLSv1_2];

fn client(v: ProtocolVersion) -> ClientConfigBuilder {
    common::client_builder().versions(&[v])
}

fn server(v: ProtocolVersion) -> ServerConfigBuilder {
    common::server_builder("ecdsa-p256").versions(&[v])
}

fn link(c: ClientConfigBuilder, s: ServerConfigBuilder) -> Link {
    Link::new(c.build().unwrap(), s.build().unwrap(), DtlsConfig::default())
}

#[test]
fn server_preference_picks_the_profile_and_both_export_the_same_keys() {
    for v in VERSIONS {
        let mut l = link(
            client(v).srtp_profiles(&[P::SRTP_AES128_CM_HMAC_SHA1_80, P::SRTP_AEAD_AES_256_GCM]),
            server(v).srtp_profiles(&[P::SRTP_AEAD_AES_256_GCM, P::SRTP_AES128_CM_HMAC_SHA1_80]),
        );
        l.settle().unwrap();
        let c = l.client.srtp_keying_material().unwrap();
        let s = l.server().srtp_keying_material().unwrap();
        assert_eq!(
            c.profile(),
            P::SRTP_AEAD_AES_256_GCM,
            "{v:?}: the server's first choice"
        );
        assert_eq!(c, s);
        assert_eq!(
            (c.client_write_key().len(), c.client_write_salt().len()),
            (32, 12)
        );
        assert!(c.mki().is_empty());
        // The exporter the keys come from, by hand: label, no context, 2 * (32 + 12) bytes.
        let mut out = [0u8; 88];
        l.client
            .export_keying_material(&mut out, b"EXTRACTOR-dtls_srtp", None)
            .unwrap();
        assert_eq!(c.to_exported().as_slice(), out.as_slice());
        for conn in [&mut l.client, l.server.as_mut().unwrap()] {
            let ev = events(conn);
            let at = ev.iter().position(|e| *e == Event::HandshakeComplete).unwrap();
            assert_eq!(
                ev.get(at + 1),
                Some(&Event::SrtpKeyingMaterial(Box::new(c.clone())))
            );
        }
    }
}

#[test]
fn the_mki_is_echoed_only_by_a_server_that_accepts_it() {
    for v in VERSIONS {
        for accept in [false, true] {
            let mut l = link(
                client(v)
                    .srtp_profiles(&[P::SRTP_AEAD_AES_128_GCM])
                    .srtp_mki(&[7, 7, 7]),
                server(v)
                    .srtp_profiles(&[P::SRTP_AEAD_AES_128_GCM])
                    .srtp_accept_mki(accept),
            );
            l.settle().unwrap();
            let want: &[u8] = if accept { &[7, 7, 7] } else { &[] };
            assert_eq!(l.client.srtp_keying_material().unwrap().mki(), want);
            assert_eq!(l.server().srtp_keying_material().unwrap().mki(), want);
        }
    }
}

#[test]
fn no_common_profile_means_no_extension_and_no_keys() {
    for v in VERSIONS {
        let mut l = link(
            client(v).srtp_profiles(&[P::SRTP_AES128_CM_HMAC_SHA1_32]),
            server(v).srtp_profiles(&[P::SRTP_AEAD_AES_128_GCM]),
        );
        l.settle().unwrap();
        assert!(!l.client.is_handshaking() && !l.server().is_handshaking());
        assert_eq!(l.client.srtp_profile(), None);
        assert!(matches!(
            l.client.srtp_keying_material(),
            Err(Error::Misuse(sanstls::Misuse::SrtpNotNegotiated))
        ));
        assert!(!events(&mut l.client)
            .iter()
            .any(|e| matches!(e, Event::SrtpKeyingMaterial(_))));
    }
}

/// The server's answer rewritten (ServerHello for DTLS 1.2, EncryptedExtensions for 1.3):
/// the client refuses it with illegal_parameter.
#[test]
fn the_client_refuses_a_bad_answer_with_illegal_parameter() {
    let cases: [(&[P], &[u8], Parameter); 3] = [
        (&[P::SRTP_AEAD_AES_256_GCM], &[], Parameter::SrtpProfileNotOffered),
        (
            &[P::SRTP_AES128_CM_HMAC_SHA1_80, P::SRTP_AEAD_AES_128_GCM],
            &[],
            Parameter::SrtpProfileCount,
        ),
        (&[P::SRTP_AES128_CM_HMAC_SHA1_80], &[9], Parameter::SrtpMki),
    ];
    for v in VERSIONS {
        for (profiles, mki, why) in cases {
            let answer = UseSrtp {
                profiles: profiles.to_vec(),
                mki: mki.to_vec(),
            };
            let a = answer.clone();
            let s = server(v)
                .srtp_profiles(&[P::SRTP_AES128_CM_HMAC_SHA1_80])
                .customize_server_hello(move |sh| {
                    for e in sh.extensions.iter_mut() {
                        if let ServerHelloExtension::UseSrtp(u) = e {
                            *u = a.clone();
                        }
                    }
                })
                .customize_encrypted_extensions(move |ee| {
                    for e in ee.iter_mut() {
                        if let EncryptedExtension::UseSrtp(u) = e {
                            *u = answer.clone();
                        }
                    }
                });
            let c = client(v).srtp_profiles(&[P::SRTP_AES128_CM_HMAC_SHA1_80, P::SRTP_AEAD_AES_128_GCM]);
            let mut l = link(c, s);
            let err = l.settle().unwrap_err();
            assert_eq!(
                err,
                Error::PeerMisbehaved(PeerMisbehaved::IllegalParameter(why)),
                "{v:?}"
            );
            assert_eq!(
                l.client.last_alert_sent().map(|a| a.description),
                Some(AlertDescription::IllegalParameter)
            );
        }
    }
}

/// RFC 5764 is for DTLS: a TLS client with profiles configured leaves the extension out, and
/// a TLS server never answers one (here forced into the hello).
#[test]
fn tls_neither_offers_nor_answers_use_srtp() {
    for v in VERSIONS {
        let offered = Arc::new(AtomicBool::new(false));
        let seen = offered.clone();
        let c = client(v)
            .srtp_profiles(&[P::SRTP_AES128_CM_HMAC_SHA1_80])
            .customize_client_hello(move |ch| {
                seen.store(ch.use_srtp().is_some(), Ordering::SeqCst);
            })
            .build()
            .unwrap();
        let s = server(v)
            .srtp_profiles(&[P::SRTP_AES128_CM_HMAC_SHA1_80])
            .build()
            .unwrap();
        let (mut cc, mut sc) = common::pair(c, s.clone());
        common::handshake(&mut cc, &mut sc).unwrap();
        assert!(!offered.load(Ordering::SeqCst), "{v:?}: no use_srtp over TLS");
        assert_eq!(cc.srtp_profile(), None);

        let forced = client(v)
            .customize_client_hello(|ch| {
                ch.extensions.push(ClientExtension::UseSrtp(UseSrtp {
                    profiles: vec![P::SRTP_AES128_CM_HMAC_SHA1_80],
                    mki: Vec::new(),
                }))
            })
            .build()
            .unwrap();
        let (mut cc, mut sc) = common::pair(forced, s);
        common::handshake(&mut cc, &mut sc).unwrap();
        assert_eq!(
            sc.srtp_profile(),
            None,
            "{v:?}: a TLS server does not answer use_srtp"
        );
    }
}

#[test]
fn configs_with_unknown_or_repeated_profiles_or_a_long_mki_are_refused() {
    let c = || common::client_builder();
    assert!(matches!(
        c().srtp_profiles(&[P::Unknown(3)]).build(),
        Err(Error::Config(_))
    ));
    assert!(matches!(
        c().srtp_profiles(&[P::SRTP_AEAD_AES_128_GCM, P::SRTP_AEAD_AES_128_GCM])
            .build(),
        Err(Error::Config(_))
    ));
    assert!(matches!(c().srtp_mki(&[0; 256]).build(), Err(Error::Config(_))));
}
