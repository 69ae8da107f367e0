//! The DTLS zero-copy receive path, `recv_datagram_in_place`: application data deprotected
//! where it lies in the caller's datagram, every other record taking the path
//! `recv_datagram` gives it. DTLS 1.3 and 1.2, over the in-memory link.

mod common;

use std::sync::Arc;

use common::dtls::{events, read_all, seal12, seal13, split_records, write, Dir, Link, Secrets};
use sanstls::codec::{AlertDescription, CipherSuite, ContentType, ProtocolVersion};
use sanstls::dtls::{DtlsConfig, DtlsConnection};
use sanstls::{ClientConfig, Error, Event, Misuse, ServerConfig};

const V12: ProtocolVersion = ProtocolVersion::DTLSv1_2;
const V13: ProtocolVersion = ProtocolVersion::DTLSv1_3;

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

/// Configs that negotiate `version` with `suite`; the client logs its secrets.
fn configs(
    version: ProtocolVersion,
    suite: CipherSuite,
) -> (Arc<ClientConfig>, Arc<ServerConfig>, Arc<Secrets>) {
    let secrets = Arc::new(Secrets::default());
    let tls = if version == V12 {
        ProtocolVersion::TLSv1_2
    } else {
        ProtocolVersion::TLSv1_3
    };
    (
        common::client_builder()
            .versions(&[tls])
            .cipher_suites(&[suite])
            .key_log(secrets.clone())
            .build()
            .unwrap(),
        common::server_builder("ecdsa-p256")
            .versions(&[tls])
            .build()
            .unwrap(),
        secrets,
    )
}

fn default_suite(version: ProtocolVersion) -> CipherSuite {
    if version == V12 {
        SUITES12[0]
    } else {
        SUITES13[0]
    }
}

/// An established link (the handshake over `recv_datagram`), events drained.
fn established_with(version: ProtocolVersion, suite: CipherSuite, dtls: DtlsConfig) -> (Link, Arc<Secrets>) {
    let (c, s, secrets) = configs(version, suite);
    let mut link = Link::new(c, s, dtls);
    link.settle().unwrap();
    assert!(!link.client.is_handshaking() && !link.server().is_handshaking());
    assert_eq!(link.client.protocol_version(), Some(version));
    assert_eq!(link.client.cipher_suite(), Some(suite));
    events(&mut link.client);
    events(link.server());
    (link, secrets)
}

fn established(version: ProtocolVersion) -> (Link, Arc<Secrets>) {
    established_with(version, default_suite(version), DtlsConfig::default())
}

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
    for (version, suites) in [(V13, SUITES13), (V12, SUITES12)] {
        for suite in suites {
            let (mut link, _) = established_with(version, suite, DtlsConfig::default());
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
            assert_eq!(d.len() - r.end, 16 + usize::from(version == V13), "{suite:?}");
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
    for version in [V13, V12] {
        let (mut link, _) = established(version);
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
    for version in [V13, V12] {
        let (c, s, _) = configs(version, default_suite(version));
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
            assert_eq!(conn.protocol_version(), Some(version));
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
    for version in [V13, V12] {
        let (mut link, _) = established(version);
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
    for version in [V13, V12] {
        let (mut link, _) = established(version);
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
    for version in [V13, V12] {
        let dtls = DtlsConfig {
            connection_id: Some(4),
            ..DtlsConfig::default()
        };
        let (mut link, _) = established_with(version, default_suite(version), dtls);
        write(&mut link.client, b"with the id");
        let d = link.take(Dir::ToServer).remove(0);
        let now = link.now;
        // The id: after the first byte (DTLS 1.3 unified header), after type, version,
        // epoch and sequence number (DTLS 1.2 tls12_cid, RFC 9146 4).
        let at = if version == V13 { 1 } else { 11 };
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
    let (mut link, _) = established(V13);
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
    for version in [V13, V12] {
        let (mut link, _) = established(version);
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
    for version in [V13, V12] {
        let (mut link, secrets) = established(version);
        let alert = [2, AlertDescription::HandshakeFailure.get()];
        let mut d = if version == V13 {
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
    for version in [V13, V12] {
        let (mut link, _) = established(version);
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
