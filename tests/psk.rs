//! External PSKs in TLS 1.2 and DTLS 1.2 (RFC 4279, RFC 5487, RFC 5489, RFC 6655, RFC 7905)
//! and the AES-CCM suites (RFC 7251, RFC 8446 B.4), our client against our server: the
//! handshake, data both ways, the alerts for an unknown identity, a wrong key and an
//! oversized identity.

mod common;

use std::sync::Arc;

use common::dtls::{events as dtls_events, read_all, write, Dir, Link};
use sanstls::codec::{AlertDescription, CipherSuite, ProtocolVersion};
use sanstls::dtls::DtlsConfig;
use sanstls::{
    ClientConfig, Connection, Error, ExternalPsk, Parameter, PeerMisbehaved, PskStore, ServerConfig,
};

const KEY: [u8; 16] = [0x1a; 16];

const PSK_SUITES: [CipherSuite; 3] = [
    CipherSuite::TLS_PSK_WITH_AES_128_CCM_8,
    CipherSuite::TLS_PSK_WITH_AES_128_GCM_SHA256,
    CipherSuite::TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256,
];

fn store() -> Arc<PskStore> {
    let mut s = PskStore::new();
    s.insert("client1", KEY.to_vec()).unwrap();
    s.insert("other", vec![2; 32]).unwrap();
    Arc::new(s)
}

fn psk_client(suite: CipherSuite, identity: &str, key: &[u8]) -> Arc<ClientConfig> {
    common::client_builder()
        .versions(&[ProtocolVersion::TLSv1_2])
        .cipher_suites(&[suite])
        .psk(ExternalPsk::new(identity, key.to_vec()).unwrap())
        .build()
        .unwrap()
}

fn psk_server(suite: CipherSuite, hint: Option<&str>) -> Arc<ServerConfig> {
    let mut b = common::server_builder("ecdsa-p256")
        .versions(&[ProtocolVersion::TLSv1_2])
        .cipher_suites(&[suite])
        .psk_lookup(store());
    if let Some(h) = hint {
        b = b.psk_identity_hint(h);
    }
    b.build().unwrap()
}

fn data_both_ways(client: &mut Connection, server: &mut Connection) {
    assert_eq!(common::send(client, server, b"ping"), b"ping");
    assert_eq!(common::send(server, client, b"pong"), b"pong");
}

#[test]
fn every_psk_suite_over_tls12_with_and_without_a_hint() {
    for suite in PSK_SUITES {
        for hint in [None, Some("sanstls hint")] {
            let (mut c, mut s) = common::pair(psk_client(suite, "client1", &KEY), psk_server(suite, hint));
            common::handshake(&mut c, &mut s).unwrap();
            for conn in [&c, &s] {
                assert_eq!(conn.cipher_suite(), Some(suite));
                assert_eq!(conn.psk_identity(), Some(&b"client1"[..]));
                assert!(conn.peer_certificates().is_empty(), "no certificate under PSK");
            }
            data_both_ways(&mut c, &mut s);
        }
    }
}

#[test]
fn plain_psk_without_hint_sends_no_server_key_exchange() {
    let suite = CipherSuite::TLS_PSK_WITH_AES_128_CCM_8;
    let (mut c, mut s) = common::pair(psk_client(suite, "client1", &KEY), psk_server(suite, None));
    common::transfer(&mut c, &mut s).unwrap();
    // ServerHello, ServerHelloDone: no Certificate (11), no ServerKeyExchange (12).
    let msgs = handshake_messages(&common::drain(&mut s));
    assert_eq!(msgs.iter().map(|m| m[0]).collect::<Vec<_>>(), [2, 14]);
    let (mut c, mut s) = common::pair(psk_client(suite, "client1", &KEY), psk_server(suite, Some("h")));
    common::transfer(&mut c, &mut s).unwrap();
    let msgs = handshake_messages(&common::drain(&mut s));
    assert_eq!(msgs.iter().map(|m| m[0]).collect::<Vec<_>>(), [2, 12, 14]);
    // psk_identity_hint<0..2^16-1> = "h".
    assert_eq!(&msgs[1][4..], &[0, 1, b'h']);
}

/// The handshake messages (header included) of plaintext TLS records.
fn handshake_messages(flight: &[u8]) -> Vec<Vec<u8>> {
    let body: Vec<u8> = common::records(flight)
        .iter()
        .filter(|r| r[0] == 22)
        .flat_map(|r| r[5..].to_vec())
        .collect();
    let mut out = Vec::new();
    let mut rest = &body[..];
    while rest.len() >= 4 {
        let len = 4 + (usize::from(rest[1]) << 16 | usize::from(rest[2]) << 8 | usize::from(rest[3]));
        out.push(rest[..len].to_vec());
        rest = &rest[len..];
    }
    out
}

#[test]
fn psk_suites_are_offered_only_with_a_psk() {
    let c = common::client_builder()
        .versions(&[ProtocolVersion::TLSv1_2])
        .cipher_suites(&[
            CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            CipherSuite::TLS_PSK_WITH_AES_128_CCM_8,
        ])
        .build()
        .unwrap();
    let mut conn = Connection::client(c, "localhost").unwrap();
    let hello = common::drain(&mut conn);
    let needle = [0xc0, 0xa8];
    assert!(
        !hello.windows(2).any(|w| w == needle),
        "PSK suite offered without a PSK"
    );
    // A server without a PSK lookup answers a PSK-only client with handshake_failure.
    let suite = CipherSuite::TLS_PSK_WITH_AES_128_CCM_8;
    let server = common::server_builder("ecdsa-p256")
        .versions(&[ProtocolVersion::TLSv1_2])
        .build()
        .unwrap();
    let (mut c, mut s) = common::pair(psk_client(suite, "client1", &KEY), server);
    let err = common::handshake(&mut c, &mut s).unwrap_err();
    assert_eq!(err.alert(), Some(AlertDescription::HandshakeFailure), "{err:?}");
}

#[test]
fn server_prefers_by_its_own_order_between_certificate_and_psk_suites() {
    let psk = CipherSuite::TLS_PSK_WITH_AES_128_GCM_SHA256;
    let cert = CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256;
    let client = common::client_builder()
        .versions(&[ProtocolVersion::TLSv1_2])
        .cipher_suites(&[cert, psk])
        .psk(ExternalPsk::new("client1", KEY.to_vec()).unwrap())
        .build()
        .unwrap();
    for (order, want) in [([psk, cert], psk), ([cert, psk], cert)] {
        let server = common::server_builder("ecdsa-p256")
            .versions(&[ProtocolVersion::TLSv1_2])
            .cipher_suites(&order)
            .psk_lookup(store())
            .build()
            .unwrap();
        let (mut c, mut s) = common::pair(client.clone(), server);
        common::handshake(&mut c, &mut s).unwrap();
        assert_eq!(c.cipher_suite(), Some(want));
        assert_eq!(c.psk_identity().is_some(), want == psk);
    }
}

#[test]
fn unknown_identity_is_unknown_psk_identity_on_the_wire() {
    for suite in PSK_SUITES {
        let (mut c, mut s) = common::pair(psk_client(suite, "stranger", &KEY), psk_server(suite, None));
        common::transfer(&mut c, &mut s).unwrap();
        common::transfer(&mut s, &mut c).unwrap();
        assert_eq!(common::transfer(&mut c, &mut s), Err(Error::UnknownPskIdentity));
        let alert = common::drain(&mut s);
        // A fatal (2) unknown_psk_identity (115) alert record, in plaintext: the server
        // has no keys for this client.
        assert_eq!(&alert[..], &[21, 3, 3, 0, 2, 2, 115], "{suite:?}");
        assert_eq!(
            common::feed(&mut c, &alert),
            Err(Error::AlertReceived(AlertDescription::UnknownPskIdentity))
        );
    }
}

#[test]
fn wrong_key_fails_on_the_clients_finished_with_bad_record_mac() {
    for suite in PSK_SUITES {
        let (mut c, mut s) = common::pair(psk_client(suite, "client1", &[0x1b; 16]), psk_server(suite, None));
        common::transfer(&mut c, &mut s).unwrap();
        common::transfer(&mut s, &mut c).unwrap();
        // The client's Finished, sealed under keys from another premaster, does not open.
        assert_eq!(common::transfer(&mut c, &mut s), Err(Error::DecryptFailed));
        let alert = common::drain(&mut s);
        assert_eq!(&alert[..], &[21, 3, 3, 0, 2, 2, 20], "{suite:?}");
        assert_eq!(
            common::feed(&mut c, &alert),
            Err(Error::AlertReceived(AlertDescription::BadRecordMac))
        );
    }
}

/// The client's ClientKeyExchange record with its identity replaced by `identity`
/// (`claimed` as its length).
fn rewritten_cke(flight: &[u8], identity: &[u8], claimed: usize) -> Vec<u8> {
    let recs = common::records(flight);
    let cke = recs
        .iter()
        .find(|r| r[0] == 22 && r[5] == 16)
        .expect("ClientKeyExchange record");
    assert_eq!(&cke[9..11], &[0, 7], "identity client1");
    let mut body = (claimed as u16).to_be_bytes().to_vec();
    body.extend_from_slice(identity);
    let mut msg = vec![16];
    msg.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    msg.extend_from_slice(&body);
    let mut rec = vec![22, 3, 3];
    rec.extend_from_slice(&(msg.len() as u16).to_be_bytes());
    rec.extend_from_slice(&msg);
    rec
}

#[test]
fn oversized_identity_is_refused_before_any_lookup() {
    let suite = CipherSuite::TLS_PSK_WITH_AES_128_CCM_8;
    // Configuring one is refused.
    assert!(ExternalPsk::new(vec![b'a'; sanstls::conn::MAX_PSK_IDENTITY_LEN + 1], KEY.to_vec()).is_err());
    let long = vec![b'a'; sanstls::conn::MAX_PSK_IDENTITY_LEN + 1];
    // Over our cap: illegal_parameter; a length running past the message: decode_error.
    for (identity, claimed, want) in [
        (
            long.clone(),
            long.len(),
            Error::PeerMisbehaved(PeerMisbehaved::IllegalParameter(Parameter::PskIdentityTooLong)),
        ),
        (
            b"abc".to_vec(),
            0xffff,
            Error::Decode(sanstls::codec::DecodeError::Truncated("psk_identity")),
        ),
    ] {
        let (mut c, mut s) = common::pair(psk_client(suite, "client1", &KEY), psk_server(suite, None));
        common::transfer(&mut c, &mut s).unwrap();
        common::transfer(&mut s, &mut c).unwrap();
        let flight = common::drain(&mut c);
        let err = common::feed(&mut s, &rewritten_cke(&flight, &identity, claimed)).unwrap_err();
        assert_eq!(err.alert(), want.alert(), "{err:?}");
        if claimed == long.len() {
            assert_eq!(err, want);
        }
        let alert = common::drain(&mut s);
        assert_eq!(&alert[5..], &[2, u8::from(want.alert().unwrap())]);
    }
}

fn dtls_link(client: Arc<ClientConfig>, server: Arc<ServerConfig>) -> Link {
    Link::new(client, server, DtlsConfig::default())
}

#[test]
fn every_psk_suite_over_dtls12() {
    for suite in PSK_SUITES {
        let mut link = dtls_link(
            psk_client(suite, "client1", &KEY),
            psk_server(suite, Some("hint")),
        );
        link.pump().unwrap();
        for conn in [&mut link.client, link.server.as_mut().unwrap()] {
            assert!(!conn.is_handshaking());
            assert_eq!(conn.protocol_version(), Some(ProtocolVersion::DTLSv1_2));
            assert_eq!(conn.cipher_suite(), Some(suite));
            assert_eq!(conn.psk_identity(), Some(&b"client1"[..]));
            dtls_events(conn);
        }
        write(&mut link.client, b"ping");
        link.pump().unwrap();
        assert_eq!(read_all(link.server()), b"ping");
        write(link.server(), b"pong");
        link.pump().unwrap();
        assert_eq!(read_all(&mut link.client), b"pong");
    }
}

#[test]
fn dtls12_unknown_identity_alert_and_wrong_key_silence() {
    let suite = CipherSuite::TLS_PSK_WITH_AES_128_CCM_8;
    for (identity, key, want) in [
        ("stranger", KEY.to_vec(), AlertDescription::UnknownPskIdentity),
        ("client1", vec![0x1b; 16], AlertDescription::BadRecordMac),
    ] {
        let mut link = dtls_link(psk_client(suite, identity, &key), psk_server(suite, None));
        let res = link.pump();
        if want == AlertDescription::BadRecordMac {
            // RFC 6347 4.1.2.7: over datagrams a record that fails to deprotect is dropped,
            // not answered: the client's Finished never counts, the handshake never ends.
            res.unwrap();
            assert!(link.server().is_handshaking() && link.client.is_handshaking());
            assert_eq!(link.server().error(), None);
            for _ in 0..3 {
                link.advance();
                link.pump().unwrap();
            }
            assert!(
                link.server().is_handshaking(),
                "a wrong key completed a handshake"
            );
            continue;
        }
        let err = res.unwrap_err();
        assert_eq!(err.alert(), Some(want), "{err:?}");
        // The alert reaches the client as a fatal alert record.
        let alert = link.take(Dir::ToClient);
        assert!(!alert.is_empty(), "no alert datagram");
        let got = link.deliver(Dir::ToClient, &alert[0]).unwrap_err();
        assert_eq!(got, Error::AlertReceived(want));
    }
}

/// The AES-CCM suites with certificates: TLS 1.2 ECDHE_ECDSA (RFC 7251) and TLS 1.3
/// (RFC 8446 B.4), over TLS and DTLS; CCM_8 records carry an 8-byte tag.
#[test]
fn ccm_suites_over_tls_and_dtls() {
    let cases = [
        (
            CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_CCM,
            ProtocolVersion::TLSv1_2,
            8 + 16,
        ),
        (
            CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8,
            ProtocolVersion::TLSv1_2,
            8 + 8,
        ),
        (
            CipherSuite::TLS_AES_128_CCM_SHA256,
            ProtocolVersion::TLSv1_3,
            1 + 16,
        ),
        (
            CipherSuite::TLS_AES_128_CCM_8_SHA256,
            ProtocolVersion::TLSv1_3,
            1 + 8,
        ),
    ];
    for (suite, version, overhead) in cases {
        let client = common::client_builder()
            .versions(&[version])
            .cipher_suites(&[suite])
            .build()
            .unwrap();
        let server = common::server_builder("ecdsa-p256")
            .versions(&[version])
            .cipher_suites(&[suite])
            .build()
            .unwrap();
        let (mut c, mut s) = common::pair(client.clone(), server.clone());
        common::handshake(&mut c, &mut s).unwrap();
        assert_eq!(s.cipher_suite(), Some(suite));
        common::events(&mut c);
        // One application_data record: header, explicit nonce or inner type, data, tag.
        std::io::Write::write_all(&mut c.writer(), b"0123456789").unwrap();
        let rec = common::drain(&mut c);
        assert_eq!(rec.len(), 5 + 10 + overhead, "{suite:?}");
        common::feed(&mut s, &rec).unwrap();
        assert_eq!(common::send(&mut s, &mut c, b"pong"), b"pong");

        let mut link = dtls_link(client, server);
        link.settle().unwrap();
        assert_eq!(link.client.cipher_suite(), Some(suite));
        dtls_events(&mut link.client);
        write(&mut link.client, b"ping");
        link.pump().unwrap();
        assert_eq!(read_all(link.server()), b"ping");
        write(link.server(), b"pong");
        link.pump().unwrap();
        assert_eq!(read_all(&mut link.client), b"pong");
    }
}

#[test]
fn ccm_suites_are_opt_in() {
    let c = common::client_builder().build().unwrap();
    let mut conn = Connection::client(c, "localhost").unwrap();
    let hello = common::drain(&mut conn);
    let offered = offered_suites(&hello);
    assert!(offered.contains(&[0x13, 0x01]), "TLS_AES_128_GCM_SHA256 offered");
    for code in [[0x13, 0x04], [0x13, 0x05], [0xc0, 0xac], [0xc0, 0xae]] {
        assert!(!offered.contains(&code), "{code:02x?} offered by default");
    }
}

/// The cipher_suites list of a ClientHello in one plaintext record (RFC 8446 4.1.2): record
/// header, handshake header, legacy_version, random, legacy_session_id, then the suites (the
/// random bytes must not be mistaken for suite codes).
fn offered_suites(record: &[u8]) -> Vec<[u8; 2]> {
    let body = &record[5 + 4..];
    let at = 2 + 32;
    let sid_len = usize::from(body[at]);
    let at = at + 1 + sid_len;
    let len = usize::from(u16::from_be_bytes([body[at], body[at + 1]]));
    body[at + 2..at + 2 + len]
        .chunks_exact(2)
        .map(|c| [c[0], c[1]])
        .collect()
}

fn psk13_client(identity: &str, key: &[u8], psk_ke: bool) -> Arc<ClientConfig> {
    common::client_builder()
        .versions(&[ProtocolVersion::TLSv1_3])
        .psk(ExternalPsk::new(identity, key.to_vec()).unwrap())
        .allow_psk_ke(psk_ke)
        .build()
        .unwrap()
}

fn psk13_server(psk_ke: bool) -> Arc<ServerConfig> {
    common::server_builder("ecdsa-p256")
        .versions(&[ProtocolVersion::TLSv1_3])
        .psk_lookup(store())
        .allow_psk_ke(psk_ke)
        .build()
        .unwrap()
}

/// TLS 1.3 external PSK (RFC 8446 4.2.11): psk_dhe_ke (a key share), also when both sides
/// allow psk_ke (the client offers psk_dhe_ke first, with a share); no certificate either
/// way; not a resumption.
#[test]
fn tls13_external_psk_dhe_and_psk_ke() {
    for psk_ke_only in [false, true] {
        let client = common::client_builder()
            .versions(&[ProtocolVersion::TLSv1_3])
            .psk(ExternalPsk::new("client1", KEY.to_vec()).unwrap())
            .allow_psk_ke(psk_ke_only)
            .build()
            .unwrap();
        let (mut c, mut s) = common::pair(client, psk13_server(psk_ke_only));
        common::handshake(&mut c, &mut s).unwrap();
        for conn in [&c, &s] {
            assert_eq!(conn.protocol_version(), Some(ProtocolVersion::TLSv1_3));
            assert_eq!(conn.psk_identity(), Some(&b"client1"[..]));
            assert!(conn.peer_certificates().is_empty());
            assert!(!conn.is_resumed());
            assert_eq!(conn.signature_scheme(), None);
            // psk_dhe_ke is what a client offers first, and the server takes it when it can.
            assert!(conn.key_exchange_group().is_some());
        }
        data_both_ways(&mut c, &mut s);
    }
}

#[test]
fn tls13_external_psk_binder_uses_ext_binder_and_wrong_key_is_decrypt_error() {
    let (mut c, mut s) = common::pair(psk13_client("client1", &[0x1b; 16], false), psk13_server(false));
    let err = common::handshake(&mut c, &mut s).unwrap_err();
    // RFC 8446 4.2.11.2: a binder that does not verify is fatal, decrypt_error.
    assert_eq!(err, Error::PeerMisbehaved(PeerMisbehaved::BadPskBinder));
    let alert = common::drain(&mut s);
    assert_eq!(&alert[alert.len() - 2..], &[2, 51]);
}

/// An identity the server does not know is ignored (RFC 8446 4.2.11): the server goes on
/// with its certificate, which the PSK-only client (no trust anchors) refuses.
#[test]
fn tls13_unknown_identity_falls_back_to_the_certificate() {
    let client = common::client_builder()
        .versions(&[ProtocolVersion::TLSv1_3])
        .psk(ExternalPsk::new("stranger", KEY.to_vec()).unwrap())
        .build()
        .unwrap();
    let (mut c, mut s) = common::pair(client, psk13_server(false));
    common::handshake(&mut c, &mut s).unwrap();
    assert_eq!(c.psk_identity(), None);
    assert!(
        !c.peer_certificates().is_empty(),
        "full handshake with the certificate"
    );
}

#[test]
fn dtls13_external_psk() {
    let client = common::client_builder()
        .psk(ExternalPsk::new("client1", KEY.to_vec()).unwrap())
        .build()
        .unwrap();
    let server = common::server_builder("ecdsa-p256")
        .psk_lookup(store())
        .build()
        .unwrap();
    let mut link = dtls_link(client, server);
    link.settle().unwrap();
    for conn in [&mut link.client, link.server.as_mut().unwrap()] {
        assert_eq!(conn.protocol_version(), Some(ProtocolVersion::DTLSv1_3));
        assert_eq!(conn.psk_identity(), Some(&b"client1"[..]));
        assert!(conn.peer_certificates().is_empty());
    }
    write(&mut link.client, b"ping");
    link.pump().unwrap();
    assert_eq!(read_all(link.server()), b"ping");
}
