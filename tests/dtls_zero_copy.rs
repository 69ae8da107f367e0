//! The zero-copy DTLS path beside `writer()`/`poll_datagram` and `recv_datagram`/`reader()`:
//! application data sealed straight from the caller's bytes into the caller's datagram
//! buffer (`seal_datagram`). Over the in-memory link of `common::dtls`, both versions; the
//! DTLS 1.3 records are opened with the key log's secrets to check what went on the wire.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::dtls::{decode_wire, events, read_all, write, Dir, Link, Secrets, WireRecord};
use sanstls::codec::{CipherSuite, ContentType, ProtocolVersion};
use sanstls::dtls::{DtlsConfig, DtlsConnection};
use sanstls::{ClientConfig, Error, Event, Misuse, ServerConfig};

const MTU: usize = 1200;

const SUITES13: [CipherSuite; 3] = [
    CipherSuite::TLS_AES_128_GCM_SHA256,
    CipherSuite::TLS_AES_256_GCM_SHA384,
    CipherSuite::TLS_CHACHA20_POLY1305_SHA256,
];

const SUITES12: [CipherSuite; 3] = [
    CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
];

fn configs(
    version: ProtocolVersion,
    suite: CipherSuite,
    records_per_key: u64,
) -> (Arc<ClientConfig>, Arc<ServerConfig>, Arc<Secrets>) {
    let secrets = Arc::new(Secrets::default());
    let client = common::client_builder()
        .versions(&[version])
        .cipher_suites(&[suite])
        .records_per_key(records_per_key)
        .key_log(secrets.clone())
        .build()
        .unwrap();
    let server = common::server_builder("ecdsa-p256")
        .versions(&[version])
        .build()
        .unwrap();
    (client, server, secrets)
}

/// An established pair of `version` and `suite` through the acceptor, settled, events
/// drained.
fn established_with(
    version: ProtocolVersion,
    suite: CipherSuite,
    records_per_key: u64,
) -> (Link, Arc<Secrets>) {
    let (c, s, secrets) = configs(version, suite, records_per_key);
    let mut link = Link::new(
        c,
        s,
        DtlsConfig {
            mtu: MTU,
            ..DtlsConfig::default()
        },
    );
    link.settle().unwrap();
    assert!(!link.client.is_handshaking(), "client: {:?}", link.client.error());
    assert!(
        !link.server().is_handshaking(),
        "server: {:?}",
        link.server().error()
    );
    events(&mut link.client);
    events(link.server());
    (link, secrets)
}

fn established(version: ProtocolVersion, suite: CipherSuite) -> (Link, Arc<Secrets>) {
    established_with(version, suite, u64::MAX)
}

/// Seals `data` from the client with `seal_datagram` into an MTU buffer, records the
/// datagram on the link's wire and delivers it to the server; the datagram.
fn seal_and_deliver(link: &mut Link, data: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; MTU];
    let n = link.client.seal_datagram(data, &mut buf).unwrap();
    let datagram = buf[..n].to_vec();
    link.wire.push((Dir::ToServer, datagram.clone()));
    link.deliver(Dir::ToServer, &datagram).unwrap();
    datagram
}

/// The client's application-data records on the wire from datagram `from` on, opened.
fn sent_data(link: &Link, secrets: &Secrets, from: usize) -> Vec<WireRecord> {
    let suite = link.client.cipher_suite().unwrap();
    decode_wire(&link.wire, from, secrets, suite)
        .into_iter()
        .filter(|r| r.dir == Dir::ToServer && r.typ == Some(ContentType::ApplicationData))
        .collect()
}

#[test]
fn each_call_is_one_record_in_one_datagram_the_peer_reads_as_one_message_dtls13() {
    for suite in SUITES13 {
        let (mut link, secrets) = established(ProtocolVersion::TLSv1_3, suite);
        let from = link.wire.len();
        let overhead = MTU - link.client.max_datagram_data();
        let one = seal_and_deliver(&mut link, b"first message");
        let two = seal_and_deliver(&mut link, b"second");
        assert_eq!(one.len(), b"first message".len() + overhead, "{suite:?}");
        assert_eq!(two.len(), b"second".len() + overhead, "{suite:?}");
        let sent = sent_data(&link, &secrets, from);
        assert_eq!(sent.len(), 2, "{suite:?}");
        assert_eq!(sent[0].content, b"first message");
        assert_eq!(sent[1].content, b"second");
        assert_eq!((sent[0].epoch, sent[1].epoch), (3, 3));
        assert_eq!(sent[1].seq, sent[0].seq + 1, "numbered on from the same sequence");
        assert_eq!(sent[0].wire_len, one.len(), "the datagram is the record");
        assert_eq!(
            events(link.server()),
            vec![Event::Data { len: 13 }, Event::Data { len: 6 }]
        );
        assert_eq!(read_all(link.server()), b"first messagesecond");
        // The buffered path numbers on after it: the server reads both in order.
        write(&mut link.client, b"buffered");
        link.pump().unwrap();
        assert_eq!(read_all(link.server()), b"buffered");
        let sent = sent_data(&link, &secrets, from);
        assert_eq!(sent[2].seq, sent[1].seq + 1);
    }
}

#[test]
fn each_call_is_one_record_the_peer_reads_as_one_message_dtls12() {
    for suite in SUITES12 {
        let (mut link, _) = established(ProtocolVersion::TLSv1_2, suite);
        let overhead = MTU - link.client.max_datagram_data();
        // 13-byte header, explicit nonce (8 for AES-GCM, none for ChaCha20), 16-byte tag.
        let explicit = if suite == CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 {
            0
        } else {
            8
        };
        assert_eq!(overhead, 13 + explicit + 16, "{suite:?}");
        let one = seal_and_deliver(&mut link, b"first message");
        assert_eq!(one.len(), 13 + overhead);
        assert_eq!(one[0], 23, "application_data");
        assert_eq!(one[1..3], [0xfe, 0xfd], "DTLS 1.2");
        assert_eq!(one[3..5], [0, 1], "epoch 1");
        seal_and_deliver(&mut link, b"second");
        assert_eq!(
            events(link.server()),
            vec![Event::Data { len: 13 }, Event::Data { len: 6 }]
        );
        assert_eq!(read_all(link.server()), b"first messagesecond");
    }
}

#[test]
fn a_full_datagram_is_exactly_the_mtu() {
    for (version, suite, max) in [
        // A 5-byte unified header, the content type byte and the tag.
        (ProtocolVersion::TLSv1_3, SUITES13[0], MTU - 5 - 1 - 16),
        // A 13-byte header, the 8-byte explicit nonce and the tag.
        (ProtocolVersion::TLSv1_2, SUITES12[0], MTU - 13 - 8 - 16),
    ] {
        let (mut link, _) = established(version, suite);
        assert_eq!(link.client.max_datagram_data(), max, "{version:?}");
        let data: Vec<u8> = (0..max).map(|i| i as u8).collect();
        let datagram = seal_and_deliver(&mut link, &data);
        assert_eq!(datagram.len(), MTU, "{version:?}");
        assert_eq!(read_all(link.server()), data);
        // One byte more is one record too many.
        let mut buf = vec![0u8; MTU];
        assert_eq!(
            link.client.seal_datagram(&vec![0u8; max + 1], &mut buf),
            Err(Error::Misuse(Misuse::ContentTooLarge))
        );
        // A buffer short of the record.
        assert_eq!(
            link.client.seal_datagram(&data, &mut buf[..MTU - 1]),
            Err(Error::Misuse(Misuse::BufferTooSmall))
        );
        // Neither refusal spent anything: the next record still reads.
        seal_and_deliver(&mut link, b"after");
        assert_eq!(read_all(link.server()), b"after");
        assert_eq!(link.server().error(), None);
    }
}

#[test]
fn refused_before_the_handshake_while_written_data_waits_and_after_close() {
    for version in [ProtocolVersion::TLSv1_3, ProtocolVersion::TLSv1_2] {
        let suite = match version {
            ProtocolVersion::TLSv1_3 => SUITES13[0],
            _ => SUITES12[0],
        };
        let (c, _, _) = configs(version, suite, u64::MAX);
        let now = std::time::Instant::now();
        let mut fresh = DtlsConnection::client(c, "localhost", DtlsConfig::default(), now).unwrap();
        let mut buf = vec![0u8; MTU];
        assert_eq!(
            fresh.seal_datagram(b"early", &mut buf),
            Err(Error::Misuse(Misuse::HandshakeIncomplete))
        );

        let (mut link, _) = established(version, suite);
        // Data written with `writer()` goes first: the call waits for `poll_datagram`.
        write(&mut link.client, b"written first");
        assert_eq!(
            link.client.seal_datagram(b"sealed", &mut buf),
            Err(Error::BufferFull)
        );
        link.pump().unwrap();
        seal_and_deliver(&mut link, b"sealed");
        assert_eq!(read_all(link.server()), b"written firstsealed");

        link.client.send_close_notify();
        assert_eq!(
            link.client.seal_datagram(b"late", &mut buf),
            Err(Error::Misuse(Misuse::Closed))
        );
        link.pump().unwrap();
        assert!(link.server().peer_has_closed());
    }
}

/// Runs both sides' timers and pumps until nothing is in flight (bounded).
fn pump_timers(link: &mut Link) {
    link.pump().unwrap();
    for _ in 0..8 {
        if link.advance().is_none() {
            break;
        }
        link.pump().unwrap();
    }
}

#[test]
fn a_key_update_the_records_make_due_goes_out_through_poll_datagram() {
    // RFC 9147 8: the client updates its keys after 10 records; records sealed meanwhile
    // go out under the current keys until the KeyUpdate is acknowledged.
    let (mut link, secrets) = established_with(ProtocolVersion::TLSv1_3, SUITES13[0], 10);
    let from = link.wire.len();
    let mut buf = vec![0u8; MTU];
    let mut got = Vec::new();
    let mut sent = 0u8;
    for _ in 0..200 {
        if sent == 30 {
            break;
        }
        match link.client.seal_datagram(&[sent], &mut buf) {
            Ok(n) => {
                let d = buf[..n].to_vec();
                link.wire.push((Dir::ToServer, d.clone()));
                link.deliver(Dir::ToServer, &d).unwrap();
                sent += 1;
            }
            // The KeyUpdate waits in front: it goes out, then the call is made again.
            Err(Error::BufferFull) => {
                assert!(link.client.wants_write());
                pump_timers(&mut link);
            }
            Err(e) => panic!("seal_datagram: {e:?}"),
        }
        got.extend(read_all(link.server()));
    }
    pump_timers(&mut link);
    got.extend(read_all(link.server()));
    assert_eq!(got, (0..30u8).collect::<Vec<_>>());
    assert!(link.client.write_epoch() >= 5, "{}", link.client.write_epoch());
    assert_eq!(link.server().read_epoch(), link.client.write_epoch());
    let epochs: Vec<u64> = sent_data(&link, &secrets, from).iter().map(|r| r.epoch).collect();
    assert_eq!(epochs.len(), 30);
    assert!(epochs.windows(2).all(|w| w[0] <= w[1]), "{epochs:?}");
    assert_eq!(epochs[0], 3);
}

#[test]
fn while_our_key_update_awaits_its_ack_records_go_under_the_current_keys() {
    let (mut link, secrets) = established(ProtocolVersion::TLSv1_3, SUITES13[0]);
    link.client.request_key_update(false).unwrap();
    // The KeyUpdate goes first.
    let mut buf = vec![0u8; MTU];
    assert_eq!(link.client.seal_datagram(b"x", &mut buf), Err(Error::BufferFull));
    let key_update = link.take(Dir::ToServer);
    assert_eq!(key_update.len(), 1);
    // Not delivered yet: no ACK, the new keys wait (RFC 9147 8), data goes on under epoch 3.
    let from = link.wire.len();
    seal_and_deliver(&mut link, b"during");
    assert_eq!(read_all(link.server()), b"during");
    assert_eq!(sent_data(&link, &secrets, from)[0].epoch, 3);
    // The KeyUpdate arrives, the server acknowledges it (on its ACK timer): epoch 4 from then on.
    link.deliver(Dir::ToServer, &key_update[0]).unwrap();
    link.now += Duration::from_secs(1);
    pump_timers(&mut link);
    assert_eq!(link.client.write_epoch(), 4);
    let from = link.wire.len();
    seal_and_deliver(&mut link, b"after");
    assert_eq!(read_all(link.server()), b"after");
    assert_eq!(sent_data(&link, &secrets, from)[0].epoch, 4);
}

#[test]
fn several_calls_fill_one_datagram_with_a_record_each() {
    for version in [ProtocolVersion::TLSv1_3, ProtocolVersion::TLSv1_2] {
        let suite = match version {
            ProtocolVersion::TLSv1_3 => SUITES13[0],
            _ => SUITES12[0],
        };
        let (mut link, secrets) = established(version, suite);
        let from = link.wire.len();
        let mut buf = vec![0u8; MTU];
        let mut used = 0;
        for msg in [&b"move 1"[..], b"move 2", b"chat: hi"] {
            used += link.client.seal_datagram(msg, &mut buf[used..]).unwrap();
        }
        // A message that does not fit what is left of the datagram waits for the next one.
        let big = vec![7u8; MTU - used];
        assert_eq!(
            link.client.seal_datagram(&big, &mut buf[used..]),
            Err(Error::Misuse(Misuse::BufferTooSmall))
        );
        link.wire.push((Dir::ToServer, buf[..used].to_vec()));
        link.deliver(Dir::ToServer, &buf[..used]).unwrap();
        assert_eq!(
            events(link.server()),
            vec![
                Event::Data { len: 6 },
                Event::Data { len: 6 },
                Event::Data { len: 8 }
            ],
            "{version:?}"
        );
        assert_eq!(read_all(link.server()), b"move 1move 2chat: hi");
        if version == ProtocolVersion::TLSv1_3 {
            let sent = sent_data(&link, &secrets, from);
            assert_eq!(sent.len(), 3);
            assert!(sent.iter().all(|r| r.datagram == sent[0].datagram));
        }
    }
}
