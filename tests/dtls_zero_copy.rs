//! The zero-copy DTLS path beside `writer()`/`poll_datagram` and `recv_datagram`/`reader()`:
//! application data sealed straight from the caller's bytes into the caller's datagram
//! buffer (`seal_datagram`), and deprotected where it lies in the caller's datagram
//! (`recv_datagram_in_place`), every other record taking the path `recv_datagram` gives it.
//! Over the in-memory link of `common::dtls`, both versions; the DTLS 1.3 records are opened
//! with the key log's secrets to check what went on the wire.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::dtls::{
    decode_wire, events, read_all, seal12, seal13, split_records, write, Dir, Link, Secrets, WireRecord,
    SUITES12, SUITES13,
};
use sanstls::codec::{AlertDescription, CipherSuite, ContentType, ProtocolVersion};
use sanstls::dtls::{DtlsConfig, DtlsConnection};
use sanstls::{ClientConfig, Error, Event, Misuse, ServerConfig};

const MTU: usize = 1200;

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
    link.assert_established();
    events(&mut link.client);
    events(link.server());
    (link, secrets)
}

fn established(version: ProtocolVersion, suite: CipherSuite) -> (Link, Arc<Secrets>) {
    established_with(version, suite, u64::MAX)
}

/// The first suite of `version`'s list.
fn first_suite(version: ProtocolVersion) -> CipherSuite {
    match version {
        ProtocolVersion::TLSv1_3 => SUITES13[0],
        _ => SUITES12[0],
    }
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
        let suite = first_suite(version);
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
                link.pump_timers().unwrap();
            }
            Err(e) => panic!("seal_datagram: {e:?}"),
        }
        got.extend(read_all(link.server()));
    }
    link.pump_timers().unwrap();
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
    link.pump_timers().unwrap();
    assert_eq!(link.client.write_epoch(), 4);
    let from = link.wire.len();
    seal_and_deliver(&mut link, b"after");
    assert_eq!(read_all(link.server()), b"after");
    assert_eq!(sent_data(&link, &secrets, from)[0].epoch, 4);
}

#[test]
fn several_calls_fill_one_datagram_with_a_record_each() {
    for version in [ProtocolVersion::TLSv1_3, ProtocolVersion::TLSv1_2] {
        let suite = first_suite(version);
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

// ---- Receiving in place

/// Takes in `datagram` with `recv_datagram_in_place`, call after call; returns each
/// record's application data, in order.
fn open_all(
    conn: &mut DtlsConnection,
    datagram: &mut [u8],
    now: std::time::Instant,
) -> Result<Vec<Vec<u8>>, Error> {
    let mut got = Vec::new();
    let mut at = 0;
    while at < datagram.len() {
        let res = conn.recv_datagram_in_place(&mut datagram[at..], now)?;
        let rest = &datagram[at..];
        match &res.plaintext {
            Some(r) => {
                assert!(r.end <= res.consumed, "the plaintext lies in what was consumed");
                got.push(rest[r.clone()].to_vec());
            }
            None => assert_eq!(
                res.consumed,
                rest.len(),
                "without data the whole datagram is taken"
            ),
        }
        assert!(res.consumed > 0);
        at += res.consumed;
    }
    Ok(got)
}

/// Delivers `dir`'s datagrams in place; returns the application data messages.
fn deliver_in_place(link: &mut Link, dir: Dir) -> Vec<Vec<u8>> {
    let now = link.now;
    let mut got = Vec::new();
    for mut d in link.take(dir) {
        let conn = match dir {
            Dir::ToServer => link.server(),
            Dir::ToClient => &mut link.client,
        };
        got.extend(open_all(conn, &mut d, now).unwrap());
    }
    got
}

fn no_data_events(conn: &mut DtlsConnection) {
    let evs = events(conn);
    assert!(
        !evs.iter().any(|e| matches!(e, Event::Data { .. })),
        "no Event::Data for data opened in place: {evs:?}"
    );
    assert_eq!(read_all(conn), b"", "nothing for the reader");
}

#[test]
fn data_opens_in_place_every_suite_both_versions() {
    for (version, suites) in [
        (ProtocolVersion::TLSv1_3, SUITES13),
        (ProtocolVersion::TLSv1_2, SUITES12),
    ] {
        for suite in suites {
            let (mut link, _) = established(version, suite);
            let msg = format!("to the server under {suite:?}").into_bytes();
            write(&mut link.client, &msg);
            let datagrams = link.take(Dir::ToServer);
            assert_eq!(datagrams.len(), 1);
            let mut d = datagrams[0].clone();
            let now = link.now;
            let res = link.server().recv_datagram_in_place(&mut d, now).unwrap();
            assert_eq!(res.consumed, d.len(), "{suite:?}");
            assert_eq!(res.data(&d), msg, "{suite:?}");
            // Exactly the record's content: it ends where the tag starts.
            let r = res.plaintext.clone().unwrap();
            assert_eq!(
                d.len() - r.end,
                16 + usize::from(version == ProtocolVersion::TLSv1_3),
                "{suite:?}"
            );
            no_data_events(link.server());
            // And the other way.
            write(link.server(), b"to the client");
            assert_eq!(
                deliver_in_place(&mut link, Dir::ToClient),
                [b"to the client".to_vec()]
            );
            no_data_events(&mut link.client);
        }
    }
}

#[test]
fn two_records_in_one_datagram_take_two_calls() {
    for version in [ProtocolVersion::TLSv1_3, ProtocolVersion::TLSv1_2] {
        let (mut link, _) = established(version, first_suite(version));
        write(&mut link.client, b"first message");
        write(&mut link.client, b"second");
        let datagrams = link.take(Dir::ToServer);
        assert_eq!(datagrams.len(), 1, "both records share a datagram");
        let mut d = datagrams[0].clone();
        let now = link.now;
        let first = link.server().recv_datagram_in_place(&mut d, now).unwrap();
        assert_eq!(first.data(&d), b"first message");
        assert!(first.consumed < d.len());
        let rest = &mut d[first.consumed..];
        let second = link.server().recv_datagram_in_place(rest, now).unwrap();
        assert_eq!(second.data(rest), b"second");
        assert_eq!(second.consumed, rest.len());
        no_data_events(link.server());
    }
}

/// Both sides take every datagram in place, the handshake included.
#[test]
fn whole_handshake_in_place_both_versions() {
    for version in [ProtocolVersion::TLSv1_3, ProtocolVersion::TLSv1_2] {
        let (c, s, _) = configs(version, first_suite(version), u64::MAX);
        let mut link = Link::direct(c, s, DtlsConfig::default());
        for _ in 0..20 {
            let up = deliver_in_place(&mut link, Dir::ToServer);
            let down = deliver_in_place(&mut link, Dir::ToClient);
            assert!(up.is_empty() && down.is_empty());
            if !link.client.wants_write() && !link.server().wants_write() {
                // The delayed ACKs (DTLS 1.3) go out on their timers.
                match link.advance() {
                    Some(_) if link.client.wants_write() || link.server().wants_write() => continue,
                    _ => break,
                }
            }
        }
        for conn in [&mut link.client, link.server.as_mut().unwrap()] {
            assert!(!conn.is_handshaking(), "{version:?}: {:?}", conn.error());
            let dtls = match version {
                ProtocolVersion::TLSv1_3 => ProtocolVersion::DTLSv1_3,
                _ => ProtocolVersion::DTLSv1_2,
            };
            assert_eq!(conn.protocol_version(), Some(dtls));
            assert_eq!(events(conn).first(), Some(&Event::HandshakeComplete));
        }
        assert_eq!(
            link.client.poll_timeout(),
            None,
            "{version:?}: nothing left in flight"
        );
        write(&mut link.client, b"up");
        write(link.server(), b"down");
        assert_eq!(deliver_in_place(&mut link, Dir::ToServer), [b"up".to_vec()]);
        assert_eq!(deliver_in_place(&mut link, Dir::ToClient), [b"down".to_vec()]);
        no_data_events(&mut link.client);
        no_data_events(link.server());
    }
}

#[test]
fn replayed_datagram_gives_nothing_the_second_time() {
    for version in [ProtocolVersion::TLSv1_3, ProtocolVersion::TLSv1_2] {
        let (mut link, _) = established(version, first_suite(version));
        write(&mut link.client, b"once");
        let d = link.take(Dir::ToServer).remove(0);
        let now = link.now;
        assert_eq!(
            open_all(link.server(), &mut d.clone(), now).unwrap(),
            [b"once".to_vec()]
        );
        assert!(link.server().last_datagram_authenticated());
        let res = link.server().recv_datagram_in_place(&mut d.clone(), now).unwrap();
        assert_eq!((res.consumed, res.plaintext), (d.len(), None), "{version:?}");
        assert!(!link.server().last_datagram_authenticated());
        assert_eq!(link.server().bad_records(), 0, "a replay is not a bad record");
        assert_eq!(link.server().error(), None);
    }
}

#[test]
fn tampered_record_is_dropped_and_counted() {
    for version in [ProtocolVersion::TLSv1_3, ProtocolVersion::TLSv1_2] {
        let (mut link, _) = established(version, first_suite(version));
        write(&mut link.client, b"tampered");
        write(&mut link.client, b"intact");
        let datagrams = link.take(Dir::ToServer);
        let mut d = datagrams[0].clone();
        // Flip a bit of the first record's tag.
        let first = split_records(&d)[0].len();
        d[first - 1] ^= 1;
        let now = link.now;
        let got = open_all(link.server(), &mut d, now).unwrap();
        assert_eq!(got, [b"intact".to_vec()], "{version:?}");
        assert_eq!(link.server().bad_records(), 1);
        assert_eq!(link.server().error(), None);
        write(&mut link.client, b"still up");
        assert_eq!(deliver_in_place(&mut link, Dir::ToServer), [b"still up".to_vec()]);
    }
}

#[test]
fn record_with_another_connection_id_is_dropped() {
    for version in [ProtocolVersion::TLSv1_3, ProtocolVersion::TLSv1_2] {
        let dtls = DtlsConfig {
            connection_id: Some(4),
            ..DtlsConfig::default()
        };
        let (c, s, _) = configs(version, first_suite(version), u64::MAX);
        let mut link = Link::new(c, s, dtls);
        link.settle().unwrap();
        write(&mut link.client, b"with the id");
        let d = link.take(Dir::ToServer).remove(0);
        let now = link.now;
        // The id: after the first byte (DTLS 1.3 unified header), after type, version,
        // epoch and sequence number (DTLS 1.2 tls12_cid, RFC 9146 4).
        let at = if version == ProtocolVersion::TLSv1_3 {
            1
        } else {
            11
        };
        let mut other = d.clone();
        other[at] ^= 0xff;
        let res = link.server().recv_datagram_in_place(&mut other, now).unwrap();
        assert_eq!((res.consumed, res.plaintext), (d.len(), None), "{version:?}");
        assert_eq!(link.server().bad_records(), 0);
        assert_eq!(
            open_all(link.server(), &mut d.clone(), now).unwrap(),
            [b"with the id".to_vec()]
        );
    }
}

/// DTLS 1.3: the client's KeyUpdate reaches the server in place; its ACK goes back the same
/// way; the records under epoch 4 open in place.
#[test]
fn key_update_received_in_place() {
    let (mut link, _) = established(ProtocolVersion::TLSv1_3, SUITES13[0]);
    link.client.request_key_update(false).unwrap();
    assert_eq!(deliver_in_place(&mut link, Dir::ToServer), Vec::<Vec<u8>>::new());
    assert_eq!(link.server().read_epoch(), 4);
    assert!(events(link.server()).contains(&Event::KeyUpdated { ours: false }));
    // The ACK, on the server's timer, then our data under the new keys.
    let at = link.server().poll_timeout().expect("the ACK timer");
    link.now = at;
    link.server().handle_timeout(at).unwrap();
    deliver_in_place(&mut link, Dir::ToClient);
    assert_eq!(link.client.write_epoch(), 4);
    write(&mut link.client, b"under epoch 4");
    assert_eq!(
        deliver_in_place(&mut link, Dir::ToServer),
        [b"under epoch 4".to_vec()]
    );
    no_data_events(link.server());
}

#[test]
fn close_notify_received_in_place() {
    for version in [ProtocolVersion::TLSv1_3, ProtocolVersion::TLSv1_2] {
        let (mut link, _) = established(version, first_suite(version));
        write(&mut link.client, b"last words");
        link.client.send_close_notify();
        assert_eq!(
            deliver_in_place(&mut link, Dir::ToServer),
            [b"last words".to_vec()]
        );
        assert!(link.server().peer_has_closed(), "{version:?}");
        let evs = events(link.server());
        assert!(evs.contains(&Event::PeerClosed), "{evs:?}");
        // Records after close_notify are not read.
        let mut more = vec![0u8; 64];
        let now = link.now;
        let res = link.server().recv_datagram_in_place(&mut more, now).unwrap();
        assert_eq!((res.consumed, res.plaintext), (64, None));
    }
}

/// A fatal alert from the peer (forged here with the logged secrets) fails the call, and
/// every call after it.
#[test]
fn fatal_alert_received_in_place_fails() {
    for version in [ProtocolVersion::TLSv1_3, ProtocolVersion::TLSv1_2] {
        let (mut link, secrets) = established(version, first_suite(version));
        let alert = [2, AlertDescription::HandshakeFailure.get()];
        let mut d = if version == ProtocolVersion::TLSv1_3 {
            let suite = link.client.cipher_suite().unwrap();
            seal13(&secrets, suite, true, 3, 100, ContentType::Alert, &alert)
        } else {
            let master = secrets.get("CLIENT_RANDOM").expect("master secret logged");
            seal12(&link.client, &master, true, 1, 100, 21, &alert)
        };
        let now = link.now;
        let want = Error::AlertReceived(AlertDescription::HandshakeFailure);
        assert_eq!(
            link.server().recv_datagram_in_place(&mut d.clone(), now),
            Err(want.clone())
        );
        assert_eq!(link.server().error(), Some(&want));
        assert_eq!(
            link.server().recv_datagram_in_place(&mut d, now),
            Err(want),
            "{version:?}"
        );
    }
}

/// Plaintext waiting for `reader()` comes first: the in-place path refuses until it is read.
#[test]
fn refused_while_the_reader_has_data() {
    for version in [ProtocolVersion::TLSv1_3, ProtocolVersion::TLSv1_2] {
        let (mut link, _) = established(version, first_suite(version));
        write(&mut link.client, b"buffered");
        link.pump().unwrap();
        assert_eq!(link.server().plaintext_available(), 8);
        write(&mut link.client, b"in place");
        let mut d = link.take(Dir::ToServer).remove(0);
        let now = link.now;
        assert_eq!(
            link.server().recv_datagram_in_place(&mut d.clone(), now),
            Err(Error::Misuse(Misuse::InputBuffered))
        );
        assert_eq!(link.server().error(), None);
        assert_eq!(read_all(link.server()), b"buffered");
        assert_eq!(
            open_all(link.server(), &mut d, now).unwrap(),
            [b"in place".to_vec()]
        );
    }
}
