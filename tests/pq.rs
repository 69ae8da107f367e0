//! Post-quantum hybrid groups (draft-ietf-tls-ecdhe-mlkem) ours against ours: TLS 1.3, the
//! HelloRetryRequest paths, TLS 1.2 never using them, bad shares on the wire, DTLS 1.3 with
//! a ClientHello larger than one datagram (fragmentation, the stateless cookie exchange, a
//! lossy link) and QUIC.

mod common;

use sanstls::Failure;
use std::sync::Arc;

use common::dtls::{lossy_link_runs, Dir, Link, Lossy, Secrets};
use common::*;
use sanstls::codec::{AlertDescription, CipherSuite, NamedGroup, ProtocolVersion};
use sanstls::dtls::DtlsConfig;
use sanstls::quic::QuicConnection;
use sanstls::{Connection, Error};

const HYBRIDS: [NamedGroup; 3] = [
    NamedGroup::X25519MLKEM768,
    NamedGroup::SecP256r1MLKEM768,
    NamedGroup::SecP384r1MLKEM1024,
];

/// The key_share entries (group, share length) of a TLS ClientHello record.
fn client_hello_shares(record: &[u8]) -> Vec<(u16, usize)> {
    let u16_at = |b: &[u8], i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
    // record(5) type(1) len(3) version(2) random(32)
    let mut i = 5 + 4 + 2 + 32;
    i += 1 + record[i] as usize; // session_id
    i += 2 + u16_at(record, i) as usize; // cipher_suites
    i += 1 + record[i] as usize; // compression
    let end = i + 2 + u16_at(record, i) as usize;
    i += 2;
    while i < end {
        let (typ, len) = (u16_at(record, i), u16_at(record, i + 2) as usize);
        if typ == 0x0033 {
            let mut j = i + 6;
            let mut out = Vec::new();
            while j < i + 4 + len {
                let (g, l) = (u16_at(record, j), u16_at(record, j + 2) as usize);
                out.push((g, l));
                j += 4 + l;
            }
            return out;
        }
        i += 4 + len;
    }
    Vec::new()
}

#[test]
fn every_hybrid_group_handshakes_with_every_suite() {
    for group in HYBRIDS {
        for suite in [
            CipherSuite::TLS_AES_128_GCM_SHA256,
            CipherSuite::TLS_AES_256_GCM_SHA384,
            CipherSuite::TLS_CHACHA20_POLY1305_SHA256,
        ] {
            let client = client_builder()
                .cipher_suites(&[suite])
                .groups(&[group])
                .build()
                .unwrap();
            let server = server_builder("ecdsa-p256").groups(&[group]).build().unwrap();
            let (mut c, mut s) = pair(client, server);
            let hello = drain(&mut c);
            let expected_len = match group {
                NamedGroup::X25519MLKEM768 => 1216,
                NamedGroup::SecP256r1MLKEM768 => 1249,
                _ => 1665,
            };
            assert_eq!(
                client_hello_shares(&hello),
                [(group.get(), expected_len)],
                "{group}"
            );
            feed(&mut s, &hello).unwrap();
            handshake(&mut c, &mut s).unwrap_or_else(|e| panic!("{group} {suite}: {e}"));
            for conn in [&c, &s] {
                assert_eq!(conn.key_exchange_group(), Some(group));
                assert_eq!(conn.protocol_version(), Some(ProtocolVersion::TLSv1_3));
                assert!(!conn.had_hello_retry());
            }
            assert_eq!(send(&mut c, &mut s, b"ping"), b"ping");
            assert_eq!(send(&mut s, &mut c, b"pong"), b"pong");
        }
    }
}

/// A client with only an x25519 share, a server preferring the hybrid but also taking
/// x25519: the server picks among the shares sent, no HelloRetryRequest.
#[test]
fn classical_share_to_a_hybrid_preferring_server_gets_no_retry() {
    let client = client_builder()
        .groups(&[NamedGroup::x25519, NamedGroup::X25519MLKEM768])
        .key_share_groups(1)
        .build()
        .unwrap();
    let server = server_builder("ecdsa-p256")
        .groups(&[NamedGroup::X25519MLKEM768, NamedGroup::x25519])
        .build()
        .unwrap();
    let (mut c, mut s) = pair(client, server);
    handshake(&mut c, &mut s).unwrap();
    assert!(!c.had_hello_retry() && !s.had_hello_retry());
    assert_eq!(s.key_exchange_group(), Some(NamedGroup::x25519));

    // Both shares sent (the default for a list with both kinds): the server's preference,
    // the hybrid, wins.
    let client = client_builder()
        .groups(&[NamedGroup::x25519, NamedGroup::X25519MLKEM768])
        .build()
        .unwrap();
    let server = server_builder("ecdsa-p256")
        .groups(&[NamedGroup::X25519MLKEM768, NamedGroup::x25519])
        .build()
        .unwrap();
    let (mut c, mut s) = pair(client, server);
    handshake(&mut c, &mut s).unwrap();
    assert!(!c.had_hello_retry());
    assert_eq!(c.key_exchange_group(), Some(NamedGroup::X25519MLKEM768));
}

/// By default a groups list with both kinds sends a share of its first hybrid and of its
/// first classical group, as browsers do, and the ClientHello says so.
#[test]
fn mixed_groups_send_the_first_hybrid_and_the_first_classical_share() {
    for (groups, want) in [
        (
            [
                NamedGroup::X25519MLKEM768,
                NamedGroup::x25519,
                NamedGroup::secp256r1,
            ],
            [NamedGroup::X25519MLKEM768, NamedGroup::x25519],
        ),
        (
            [
                NamedGroup::secp256r1,
                NamedGroup::x25519,
                NamedGroup::SecP256r1MLKEM768,
            ],
            [NamedGroup::secp256r1, NamedGroup::SecP256r1MLKEM768],
        ),
    ] {
        let client = client_builder().groups(&groups).build().unwrap();
        let mut c = Connection::client(client, "localhost").unwrap();
        let mut s = Connection::server_deferred();
        transfer(&mut c, &mut s).unwrap();
        let info = s.client_hello().cloned().expect("ClientHello read");
        assert_eq!(info.groups, groups);
        assert_eq!(info.key_share_groups, want);
    }
}

/// The ClientHello of a TLS 1.3 record as the server reads it.
fn decode_client_hello(record: &[u8]) -> sanstls::msgs::ClientHello {
    use sanstls::codec::HandshakeType;
    use sanstls::msgs::{Dialect, HandshakePayload};
    assert_eq!(record[0], 22, "a handshake record");
    let len = u16::from_be_bytes([record[3], record[4]]) as usize;
    let msg = &record[5..5 + len];
    assert_eq!(msg[0], 1, "ClientHello");
    match HandshakePayload::decode(HandshakeType::ClientHello, &msg[4..], Dialect::Tls13).unwrap() {
        HandshakePayload::ClientHello(ch) => ch,
        other => panic!("{other:?}"),
    }
}

/// The defaults, as the browsers have them: the default client lists X25519MLKEM768,
/// x25519, P-256, P-384 and sends X25519MLKEM768 and x25519 shares in one ClientHello (the
/// x25519 share is the hybrid's own X25519 key, draft-ietf-tls-hybrid-design 3.2); the
/// default server takes the hybrid, no HelloRetryRequest, both sides agree.
#[test]
fn default_client_and_server_negotiate_x25519mlkem768_in_one_round_trip() {
    let (mut c, mut s) = pair(
        client_builder().build().unwrap(),
        server_builder("ecdsa-p256").build().unwrap(),
    );
    let hello = drain(&mut c);
    let ch = decode_client_hello(&hello);
    assert_eq!(
        ch.supported_groups().unwrap(),
        [
            NamedGroup::X25519MLKEM768,
            NamedGroup::x25519,
            NamedGroup::secp256r1,
            NamedGroup::secp384r1
        ]
    );
    let shares = ch.key_shares().unwrap();
    let groups: Vec<NamedGroup> = shares.iter().map(|k| k.group).collect();
    assert_eq!(groups, [NamedGroup::X25519MLKEM768, NamedGroup::x25519]);
    assert_eq!(shares[0].payload.len(), 1216);
    assert_eq!(
        shares[1].payload,
        shares[0].payload[1184..],
        "one X25519 key for both"
    );
    feed(&mut s, &hello).unwrap();
    let reply = drain(&mut s);
    assert_eq!(reply[0], 22);
    // ServerHello: handshake type 2, not a HelloRetryRequest (its random is the fixed one,
    // RFC 8446 4.1.3); key_share with X25519MLKEM768 (0x11ec), 1,120 bytes.
    assert_eq!(reply[5], 2);
    const HRR_RANDOM_START: [u8; 4] = [0xcf, 0x21, 0xad, 0x74];
    assert_ne!(reply[11..15], HRR_RANDOM_START);
    assert!(reply.windows(6).any(|w| w == [0, 0x33, 0x04, 0x64, 0x11, 0xec]));
    feed(&mut c, &reply).unwrap();
    handshake(&mut c, &mut s).unwrap();
    for conn in [&c, &s] {
        assert_eq!(conn.key_exchange_group(), Some(NamedGroup::X25519MLKEM768));
        assert!(!conn.had_hello_retry());
    }
    assert_eq!(send(&mut c, &mut s, b"pq by default"), b"pq by default");
}

/// The default server prefers the hybrid but picks among the shares the client sent before
/// it would ask for one: a client listing X25519MLKEM768 with only a P-256 (or only an
/// x25519) share gets that group, no HelloRetryRequest; so does a server whose own order puts
/// a classical group first and a client sending both shares.
#[test]
fn default_server_takes_a_classical_share_without_retry() {
    for share in [NamedGroup::secp256r1, NamedGroup::x25519, NamedGroup::secp384r1] {
        let client = client_builder()
            .groups(&[share, NamedGroup::X25519MLKEM768])
            .key_share_groups(1)
            .build()
            .unwrap();
        let (mut c, mut s) = pair(client, server_builder("ecdsa-p256").build().unwrap());
        let hello = drain(&mut c);
        assert_eq!(client_hello_shares(&hello).len(), 1, "{share}");
        feed(&mut s, &hello).unwrap();
        handshake(&mut c, &mut s).unwrap();
        assert_eq!(s.key_exchange_group(), Some(share));
        assert!(!c.had_hello_retry() && !s.had_hello_retry(), "{share}");
    }
    let server = server_builder("ecdsa-p256")
        .groups(&[NamedGroup::x25519, NamedGroup::X25519MLKEM768])
        .build()
        .unwrap();
    let (mut c, mut s) = pair(client_builder().build().unwrap(), server);
    handshake(&mut c, &mut s).unwrap();
    assert_eq!(c.key_exchange_group(), Some(NamedGroup::x25519));
    assert!(!c.had_hello_retry());
}

/// TLS 1.2 with the defaults: a TLS 1.2-only default client lists no hybrid, and a default
/// client meeting a TLS 1.2-only default server gets x25519 there.
#[test]
fn default_configs_over_tls12_use_x25519() {
    let client12 = client_builder()
        .versions(&[ProtocolVersion::TLSv1_2])
        .build()
        .unwrap();
    let mut c = Connection::client(client12.clone(), "localhost").unwrap();
    let hello = drain(&mut c);
    assert!(
        !hello.windows(2).any(|w| w == [0x11, 0xec]),
        "no hybrid in a TLS 1.2 hello"
    );
    let server12 = server_builder("ecdsa-p256")
        .versions(&[ProtocolVersion::TLSv1_2])
        .build()
        .unwrap();
    for client in [client12, client_builder().build().unwrap()] {
        let (mut c, mut s) = pair(client, server12.clone());
        handshake(&mut c, &mut s).unwrap();
        assert_eq!(c.protocol_version(), Some(ProtocolVersion::TLSv1_2));
        assert_eq!(c.key_exchange_group(), Some(NamedGroup::x25519));
        assert_eq!(s.key_exchange_group(), Some(NamedGroup::x25519));
    }
}

/// DTLS 1.3 with the defaults: the first ClientHello lists X25519MLKEM768 but carries only
/// the x25519 share and fits one datagram. A default server without the cookie exchange
/// takes that share: no HelloRetryRequest at all. Through the stateless acceptor, whose
/// cookie retry is sent anyway, the retry asks for the hybrid at no extra round trip.
#[test]
fn dtls13_default_configs() {
    let client = client_builder().build().unwrap();
    let server = server_builder("ecdsa-p256").build().unwrap();
    let mut link = Link::direct(client.clone(), server.clone(), dtls(1200));
    let first = link.take(Dir::ToServer);
    assert_eq!(first.len(), 1, "the first hello fits one datagram");
    let hello = &first[0];
    assert!(hello.len() <= 1200);
    assert!(
        hello.windows(2).any(|w| w == [0x11, 0xec]),
        "X25519MLKEM768 listed"
    );
    assert!(
        !hello.windows(4).any(|w| w == [0x11, 0xec, 0x04, 0xc0]),
        "no 1,216-byte hybrid share"
    );
    assert!(
        hello.windows(4).any(|w| w == [0x00, 0x1d, 0x00, 0x20]),
        "an x25519 share"
    );
    for d in &first {
        link.deliver(Dir::ToServer, d).unwrap();
    }
    link.pump().unwrap();
    assert!(!link.client.is_handshaking());
    assert_eq!(link.client.protocol_version(), Some(ProtocolVersion::DTLSv1_3));
    assert_eq!(link.client.key_exchange_group(), Some(NamedGroup::x25519));
    assert_eq!(link.server().key_exchange_group(), Some(NamedGroup::x25519));
    assert!(!link.client.had_hello_retry() && !link.server().had_hello_retry());
    assert_eq!((link.hrrs, link.hvrs), (0, 0));

    let mut link = Link::new(client, server, dtls(1200));
    link.pump().unwrap();
    assert_eq!((link.hrrs, link.hvrs), (1, 0), "the cookie retry only");
    assert_eq!(link.client.key_exchange_group(), Some(NamedGroup::X25519MLKEM768));
    assert!(link.wire.iter().all(|(_, d)| d.len() <= 1200));
}

/// Only a hybrid share, to a server without hybrids: HelloRetryRequest for a classical group.
#[test]
fn hybrid_share_to_a_classical_server_retries_for_a_classical_group() {
    for group in HYBRIDS {
        let client = client_builder()
            .groups(&[group, NamedGroup::secp256r1])
            .key_share_groups(1)
            .build()
            .unwrap();
        let server = server_builder("ecdsa-p256")
            .groups(&[NamedGroup::x25519, NamedGroup::secp256r1, NamedGroup::secp384r1])
            .build()
            .unwrap();
        let (mut c, mut s) = pair(client, server);
        handshake(&mut c, &mut s).unwrap();
        assert!(c.had_hello_retry() && s.had_hello_retry(), "{group}");
        assert_eq!(c.key_exchange_group(), Some(NamedGroup::secp256r1));
        assert_eq!(send(&mut c, &mut s, b"after hrr"), b"after hrr");
    }
}

/// A hybrid-only server and a classical-only client: handshake_failure both sides, no hang.
#[test]
fn hybrid_only_server_and_classical_client_fail_with_handshake_failure() {
    let client = client_builder()
        .groups(&[NamedGroup::x25519, NamedGroup::secp256r1])
        .build()
        .unwrap();
    let server = server_builder("ecdsa-p256").groups(&HYBRIDS).build().unwrap();
    let (mut c, mut s) = pair(client, server);
    let err = handshake(&mut c, &mut s).unwrap_err();
    assert_eq!(err, Error::HandshakeFailure(Failure::NoCommonGroup));
    transfer(&mut s, &mut c).unwrap_err();
    assert_eq!(
        c.error(),
        Some(&Error::AlertReceived(AlertDescription::HandshakeFailure))
    );
}

/// FIPS 203 7.2 on the wire: an encapsulation key with a coefficient >= q is refused with
/// illegal_parameter, before any ServerHello.
#[test]
fn out_of_range_encapsulation_key_is_illegal_parameter() {
    for group in HYBRIDS {
        let client = client_builder().groups(&[group]).build().unwrap();
        let server = server_builder("ecdsa-p256").groups(&[group]).build().unwrap();
        let (mut c, mut s) = pair(client, server);
        let mut hello = drain(&mut c);
        // The share is the last bytes of key_share; find it by its group and length header.
        let (_, len) = client_hello_shares(&hello)[0];
        let header = [&group.get().to_be_bytes()[..], &(len as u16).to_be_bytes()].concat();
        let at = hello.windows(4).position(|w| w == header).unwrap() + 4;
        let ek_at = match group {
            NamedGroup::X25519MLKEM768 => at,
            NamedGroup::SecP256r1MLKEM768 => at + 65,
            _ => at + 97,
        };
        hello[ek_at] = 0xff;
        hello[ek_at + 1] |= 0x0f;
        let err = feed(&mut s, &hello).unwrap_err();
        assert!(matches!(err, Error::PeerMisbehaved(_)), "{group}: {err}");
        let reply = drain(&mut s);
        assert_eq!(reply[0], 21, "{group}: only an alert goes out");
        assert_eq!(
            s.last_alert_sent().map(|a| a.description),
            Some(AlertDescription::IllegalParameter),
            "{group}"
        );
        feed(&mut c, &reply).unwrap_err();
        assert_eq!(
            c.error(),
            Some(&Error::AlertReceived(AlertDescription::IllegalParameter))
        );
    }
}

/// TLS 1.2 never negotiates a hybrid (draft-ietf-tls-ecdhe-mlkem 3): a 1.3+1.2 client listing
/// one first gets a classical group from a TLS 1.2 server, and a 1.2-only ClientHello does
/// not list them.
#[test]
fn tls12_never_uses_a_hybrid() {
    let client = client_builder()
        .groups(&[NamedGroup::X25519MLKEM768, NamedGroup::x25519])
        .build()
        .unwrap();
    let server = server_builder("ed25519")
        .versions(&[ProtocolVersion::TLSv1_2])
        .groups(&[NamedGroup::X25519MLKEM768, NamedGroup::x25519])
        .build()
        .unwrap();
    let (mut c, mut s) = pair(client, server);
    handshake(&mut c, &mut s).unwrap();
    assert_eq!(c.protocol_version(), Some(ProtocolVersion::TLSv1_2));
    assert_eq!(c.key_exchange_group(), Some(NamedGroup::x25519));

    let client = client_builder()
        .versions(&[ProtocolVersion::TLSv1_2])
        .groups(&[NamedGroup::X25519MLKEM768, NamedGroup::x25519])
        .build()
        .unwrap();
    let mut c = Connection::client(client, "localhost").unwrap();
    let hello = drain(&mut c);
    assert!(
        !hello.windows(2).any(|w| w == [0x11, 0xec]),
        "no hybrid in a TLS 1.2 hello"
    );
}

fn dtls(mtu: usize) -> DtlsConfig {
    DtlsConfig {
        mtu,
        ..DtlsConfig::default()
    }
}

/// DTLS 1.3: the client's first ClientHello carries no hybrid share (it would not fit one
/// datagram, and the stateless acceptor must read a first hello whole); the acceptor's
/// cookie HelloRetryRequest asks for the hybrid, and the second ClientHello, 1,216 bytes of
/// share and more, goes out fragmented at MTU 1,200 and 600 and passes the acceptor on its
/// first fragment. One retry, no HelloVerifyRequest, the hybrid negotiated.
#[test]
fn dtls13_hybrid_share_follows_the_cookie_retry_fragmented() {
    for group in HYBRIDS {
        for mtu in [600, 1200] {
            let client = client_builder()
                .groups(&[group, NamedGroup::x25519])
                .build()
                .unwrap();
            let server = server_builder("ecdsa-p256")
                .groups(&[group, NamedGroup::x25519])
                .build()
                .unwrap();
            let mut link = Link::new(client, server, dtls(mtu));
            let first = link.take(Dir::ToServer);
            assert_eq!(first.len(), 1, "{group} {mtu}: the first hello fits one datagram");
            for d in &first {
                link.deliver(Dir::ToServer, d).unwrap();
            }
            let second = link.take(Dir::ToServer);
            assert!(
                second.len() >= 2,
                "{group} {mtu}: second hello in {} datagrams",
                second.len()
            );
            for d in &second {
                link.deliver(Dir::ToServer, d).unwrap();
            }
            link.pump().unwrap();
            assert_eq!((link.hrrs, link.hvrs), (1, 0), "{group} {mtu}");
            assert!(!link.client.is_handshaking(), "{group} {mtu}");
            assert_eq!(link.client.protocol_version(), Some(ProtocolVersion::DTLSv1_3));
            assert_eq!(link.client.key_exchange_group(), Some(group));
            assert_eq!(link.server().key_exchange_group(), Some(group));
            assert!(link.wire.iter().all(|(_, d)| d.len() <= mtu));
        }
    }
    // A server without the hybrid takes the client's x25519 share: the cookie retry only.
    let client = client_builder()
        .groups(&[NamedGroup::X25519MLKEM768, NamedGroup::x25519])
        .build()
        .unwrap();
    let classical = server_builder("ecdsa-p256")
        .groups(&[NamedGroup::x25519, NamedGroup::secp256r1])
        .build()
        .unwrap();
    let mut link = Link::new(client, classical, dtls(1200));
    link.pump().unwrap();
    assert_eq!((link.hrrs, link.hvrs), (1, 0));
    assert_eq!(link.client.key_exchange_group(), Some(NamedGroup::x25519));
}

/// The DTLS 1.3 lossy link (1,000 seeded runs, MTU 300/600/1,200, KeyUpdates) with hybrid
/// groups: X25519MLKEM768 both sides; and a client with a hybrid share the server answers
/// with a retry for P-256.
#[test]
fn dtls13_lossy_link_with_hybrids() {
    let secrets = Arc::new(Secrets::default());
    let client = || client_builder().key_log(secrets.clone());
    let setups = [
        (
            client().groups(&[NamedGroup::X25519MLKEM768]).build().unwrap(),
            server_builder("ecdsa-p256")
                .groups(&[NamedGroup::X25519MLKEM768])
                .build()
                .unwrap(),
        ),
        (
            client()
                .groups(&[NamedGroup::SecP384r1MLKEM1024, NamedGroup::secp256r1])
                .build()
                .unwrap(),
            server_builder("ecdsa-p256")
                .groups(&[NamedGroup::secp256r1])
                .build()
                .unwrap(),
        ),
    ];
    let opts = Lossy {
        version: ProtocolVersion::DTLSv1_3,
        key_updates: true,
        final_epoch: 4,
        secrets: Some(secrets),
    };
    lossy_link_runs("DTLS 1.3 hybrid", &setups, &opts);
}

/// Moves `from`'s pending handshake bytes into `to`, level by level.
fn quic_move(from: &mut QuicConnection, to: &mut QuicConnection) {
    loop {
        let level = from.write_level();
        let mut buf = Vec::new();
        let change = from.write_handshake(&mut buf);
        if !buf.is_empty() {
            to.read_handshake(level, &buf).unwrap();
        }
        if change.is_none() {
            break;
        }
    }
}

/// QUIC carries the hybrid ClientHello in CRYPTO frames (no record limit): the handshake
/// completes with each hybrid group.
#[test]
fn quic_handshake_with_each_hybrid() {
    for group in HYBRIDS {
        let cc = client_builder()
            .alpn_protocols(&["h3"])
            .groups(&[group])
            .build()
            .unwrap();
        let sc = server_builder("ecdsa-p256")
            .alpn_protocols(&["h3"])
            .groups(&[group])
            .build()
            .unwrap();
        let mut c = QuicConnection::client(cc, "localhost", b"client-params".to_vec()).unwrap();
        let mut s = QuicConnection::server(sc, b"server-params".to_vec()).unwrap();
        for _ in 0..8 {
            quic_move(&mut c, &mut s);
            quic_move(&mut s, &mut c);
        }
        assert!(!c.is_handshaking() && !s.is_handshaking(), "{group}");
        assert_eq!(c.key_exchange_group(), Some(group));
        assert_eq!(s.key_exchange_group(), Some(group));
    }
}
