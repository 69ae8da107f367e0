//! DTLS connection ids (RFC 9146 for DTLS 1.2, RFC 9147 9 for DTLS 1.3): negotiation, the
//! ids on the wire, routing by id, and the peer address moving only on an authenticated,
//! newest datagram (RFC 9146 6) — on a seeded lossy link whose client changes address
//! mid-session, and against forged and replayed datagrams.

mod common;

use std::collections::VecDeque;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::dtls::{events, read_all, write, Dir, Link, Secrets};
use sanstls::codec::{AlertDescription, ContentType, ExtensionType, ProtocolVersion};
use sanstls::dtls::{Accepted, DtlsAcceptor, DtlsConfig, DtlsConnection, HeaderFormat};
use sanstls::msgs::{ClientExtension, ServerHelloExtension};
use sanstls::{ClientConfig, Error, Event, ServerConfig};

const V12: ProtocolVersion = ProtocolVersion::DTLSv1_2;
const V13: ProtocolVersion = ProtocolVersion::DTLSv1_3;

/// Configs that negotiate `version`; the client logs its secrets.
fn configs(version: ProtocolVersion) -> (Arc<ClientConfig>, Arc<ServerConfig>, Arc<Secrets>) {
    let secrets = Arc::new(Secrets::default());
    let tls = if version == V12 {
        ProtocolVersion::TLSv1_2
    } else {
        ProtocolVersion::TLSv1_3
    };
    (
        common::client_builder()
            .versions(&[tls])
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

fn dtls(cid: Option<usize>) -> DtlsConfig {
    DtlsConfig {
        connection_id: cid,
        ..DtlsConfig::default()
    }
}

/// A link whose client asks for `client_cid`-byte ids and whose server for `server_cid`.
fn link(
    version: ProtocolVersion,
    client_cid: Option<usize>,
    server_cid: Option<usize>,
) -> (Link, Arc<Secrets>) {
    let (c, s, secrets) = configs(version);
    let mut link = Link::new(c.clone(), s.clone(), dtls(server_cid));
    link.client = DtlsConnection::client(c, "localhost", dtls(client_cid), link.now).unwrap();
    (link, secrets)
}

fn established(
    version: ProtocolVersion,
    client_cid: Option<usize>,
    server_cid: Option<usize>,
) -> (Link, Arc<Secrets>) {
    let (mut link, secrets) = link(version, client_cid, server_cid);
    link.settle().unwrap();
    link.assert_established();
    assert_eq!(link.client.protocol_version(), Some(version));
    (link, secrets)
}

/// The first record of a datagram: (content type or unified first byte, CID bytes if any).
fn first_record_cid(d: &[u8], cid_len: usize) -> (u8, Option<Vec<u8>>) {
    if d[0] == ContentType::Tls12Cid.get() {
        return (d[0], Some(d[11..11 + cid_len].to_vec()));
    }
    if d[0] & 0xe0 == 0x20 && d[0] & 0x10 != 0 {
        return (d[0], Some(d[1..1 + cid_len].to_vec()));
    }
    (d[0], None)
}

// ---- Negotiation and the wire

#[test]
fn ids_are_negotiated_and_carried_on_the_wire() {
    for version in [V12, V13] {
        let (mut link, _) = established(version, Some(4), Some(6));
        let client_id = link.client.own_connection_id().unwrap().to_vec();
        let server_id = link.server().own_connection_id().unwrap().to_vec();
        assert_eq!((client_id.len(), server_id.len()), (4, 6));
        assert_eq!(link.client.peer_connection_id(), Some(&server_id[..]));
        assert_eq!(link.server().peer_connection_id(), Some(&client_id[..]));
        // The ClientHello offers extension 54 (not the draft's 53) with the 4-byte id.
        let hello = &link.wire[0].1;
        let mut ext = vec![0x00, 0x36, 0x00, 0x05, 0x04];
        ext.extend_from_slice(&client_id);
        assert!(
            hello.windows(ext.len()).any(|w| w == ext),
            "{version:?}: no connection_id in the hello"
        );
        link.wire.clear();
        write(&mut link.client, b"ping");
        link.settle().unwrap();
        assert_eq!(read_all(link.server()), b"ping");
        write(link.server(), b"pong");
        link.settle().unwrap();
        assert_eq!(read_all(&mut link.client), b"pong");
        assert!(!link.wire.is_empty());
        for (dir, d) in &link.wire {
            let (want, len) = match dir {
                Dir::ToServer => (&server_id, 6),
                Dir::ToClient => (&client_id, 4),
            };
            let (first, cid) = first_record_cid(d, len);
            if version == V12 {
                assert_eq!(first, 25, "{dir:?}: tls12_cid content type");
            } else {
                assert_eq!(first & 0x10, 0x10, "{dir:?}: C bit");
            }
            assert_eq!(cid.as_ref(), Some(want), "{version:?} {dir:?}");
        }
    }
}

/// RFC 9146 5.2 by hand: the client's tls12_cid record opens under the key-log's master
/// secret with `8 x ff || 25 || cid_len || 25 || version || epoch || seq || cid || inner
/// length` as additional data, and its DTLSInnerPlaintext is the content, the real type
/// (23) and no padding. Written from the RFC, not from the library's record code.
#[test]
fn dtls12_cid_record_matches_rfc9146_additional_data() {
    let (mut link, secrets) = established(V12, Some(3), Some(5));
    let master = secrets.get("CLIENT_RANDOM").expect("master secret logged");
    link.wire.clear();
    write(&mut link.client, b"hello cid");
    link.take(Dir::ToServer);
    let d = link.wire.last().unwrap().1.clone();
    let cid = link.server().own_connection_id().unwrap().to_vec();
    assert_eq!(d[0], 25);
    assert_eq!(&d[1..3], &[0xfe, 0xfd]);
    let (epoch, seq) = (&d[3..5], &d[5..11]);
    assert_eq!(epoch, &[0, 1]);
    assert_eq!(&d[11..16], &cid[..]);
    let len = u16::from_be_bytes([d[16], d[17]]) as usize;
    let body = &d[18..];
    assert_eq!(body.len(), len);
    let suite = link.client.cipher_suite().unwrap();
    let key = common::tls12_record_key(
        suite,
        &master,
        &link.client.client_random(),
        &link.client.server_random(),
        true,
    );
    let explicit = key.explicit_nonce_len();
    let inner_len = len - explicit - 16;
    let mut aad = vec![0xff; 8];
    aad.extend_from_slice(&[25, 5, 25, 0xfe, 0xfd]);
    aad.extend_from_slice(epoch);
    aad.extend_from_slice(seq);
    aad.extend_from_slice(&cid);
    aad.extend_from_slice(&(inner_len as u16).to_be_bytes());
    let mut record_seq = [0u8; 8];
    record_seq[..2].copy_from_slice(epoch);
    record_seq[2..].copy_from_slice(seq);
    // The payload as a receiver hands it over: explicit nonce, ciphertext, tag.
    let mut sealed = body.to_vec();
    let opened = key
        .open_in_place(u64::from_be_bytes(record_seq), &aad, &mut sealed)
        .expect("opens with the RFC 9146 additional data")
        .to_vec();
    assert_eq!(opened, b"hello cid\x17");
}

#[test]
fn zero_length_id_sends_the_peers_but_receives_classic_records() {
    for version in [V12, V13] {
        let (mut link, _) = established(version, Some(0), Some(4));
        assert_eq!(link.client.own_connection_id(), Some(&[][..]));
        let server_id = link.server().own_connection_id().unwrap().to_vec();
        link.wire.clear();
        write(&mut link.client, b"up");
        write(link.server(), b"down");
        link.settle().unwrap();
        assert_eq!(read_all(link.server()), b"up");
        assert_eq!(read_all(&mut link.client), b"down");
        for (dir, d) in &link.wire {
            let (first, cid) = first_record_cid(d, 4);
            match dir {
                Dir::ToServer => assert_eq!(cid.as_ref(), Some(&server_id), "{version:?}"),
                // No id toward the client: DTLS 1.2's classic format, DTLS 1.3 without C.
                Dir::ToClient if version == V12 => assert_eq!(first, 23),
                Dir::ToClient => assert_eq!((first & 0xf0, cid), (0x20, None)),
            }
        }
    }
}

#[test]
fn ids_are_not_used_unless_both_sides_take_part() {
    for version in [V12, V13] {
        for (c, s) in [(Some(4), None), (None, Some(4)), (None, None)] {
            let (mut link, _) = established(version, c, s);
            assert_eq!(link.client.own_connection_id(), None);
            assert_eq!(link.server().own_connection_id(), None);
            assert!(!link.wire[0].1.windows(2).any(|w| w == [0x00, 0x36]) || c.is_some());
            link.wire.clear();
            write(&mut link.client, b"plain");
            link.settle().unwrap();
            assert_eq!(read_all(link.server()), b"plain");
            for (_, d) in &link.wire {
                assert_eq!(first_record_cid(d, 4).1, None, "{version:?} {c:?} {s:?}");
            }
        }
    }
}

#[test]
fn id_longer_than_255_is_a_config_error() {
    let (c, s, _) = configs(V13);
    let now = Instant::now();
    assert!(matches!(
        DtlsConnection::client(c, "localhost", dtls(Some(256)), now),
        Err(Error::Config(_))
    ));
    assert!(matches!(
        DtlsAcceptor::new(s, dtls(Some(256)), now),
        Err(Error::Config(_))
    ));
}

/// The extension's id has a one-byte length: an id that overruns it, or bytes past it (an
/// id of 300 bytes cannot be written), is decode_error.
#[test]
fn malformed_id_extension_is_decode_error() {
    for version in [V12, V13] {
        for data in [vec![5, 1, 2], [vec![255], vec![7; 299]].concat()] {
            let (c0, s, _) = configs(version);
            let tls = if version == V12 {
                ProtocolVersion::TLSv1_2
            } else {
                ProtocolVersion::TLSv1_3
            };
            let bad = data.clone();
            let c = common::client_builder()
                .versions(&[tls])
                .customize_client_hello(move |h| {
                    h.extensions.retain(|e| e.typ() != ExtensionType::ConnectionId);
                    h.extensions.push(ClientExtension::Unknown {
                        typ: ExtensionType::ConnectionId,
                        data: bad.clone(),
                    });
                })
                .build()
                .unwrap();
            drop(c0);
            let mut link = Link::direct(c, s, dtls(Some(4)));
            let res = link.pump();
            assert!(res.is_err(), "{version:?} {data:?}");
            assert_eq!(
                link.server().error().and_then(Error::alert),
                Some(AlertDescription::DecodeError),
                "{version:?}"
            );
        }
    }
}

/// A server that answers an extension the client never offered: unsupported_extension.
#[test]
fn unsolicited_id_in_server_hello_is_refused() {
    let (c, _, _) = configs(V13);
    let s = common::server_builder("ecdsa-p256")
        .customize_server_hello(|sh| sh.extensions.push(ServerHelloExtension::ConnectionId(vec![1, 2])))
        .build()
        .unwrap();
    let mut link = Link::direct(c, s, dtls(None));
    let _ = link.pump();
    assert_eq!(
        link.client.error().and_then(Error::alert),
        Some(AlertDescription::UnsupportedExtension)
    );
}

/// Records carrying an id when none was negotiated are dropped, not taken and not fatal.
#[test]
fn id_records_without_negotiation_are_dropped() {
    for version in [V12, V13] {
        // The client offered an id, the server took no part: the client hands out none.
        let (mut link, _) = established(version, Some(4), None);
        let bad_before = link.client.bad_records();
        let forged: Vec<u8> = if version == V12 {
            let mut r = vec![25, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 9, 1, 2, 3, 4, 0, 24];
            r.extend_from_slice(&[0u8; 24]);
            r
        } else {
            // 001 C=1 S=1 L=1 epoch 3, a 4-byte id, seq, length, 24 bytes.
            let mut r = vec![0x3f, 1, 2, 3, 4, 0, 9, 0, 24];
            r.extend_from_slice(&[0u8; 24]);
            r
        };
        link.client.recv_datagram(&forged, link.now).unwrap();
        assert!(link.client.error().is_none());
        assert!(!link.client.last_datagram_authenticated());
        assert_eq!(
            link.client.bad_records(),
            bad_before,
            "{version:?}: not even tried"
        );
        assert!(events(&mut link.client)
            .iter()
            .all(|e| !matches!(e, Event::Data { .. })));
        // The connection goes on.
        write(link.server(), b"still");
        link.settle().unwrap();
        assert_eq!(read_all(&mut link.client), b"still");
    }
}

/// DTLS 1.3 post-handshake id messages are not implemented: NewConnectionId and
/// RequestConnectionId are refused with unexpected_message (RFC 9147 9 asks the same of
/// an endpoint that negotiated no ids).
#[test]
fn new_connection_id_messages_are_refused() {
    for typ in [9u8, 10] {
        let (mut link, secrets) = established(V13, Some(4), Some(4));
        let suite = link.client.cipher_suite().unwrap();
        let keys = common::dtls::epoch_keys(&secrets, suite, false, 3);
        let k = keys.iter().find(|k| k.epoch() == 3).unwrap();
        // With the client's id (C bit), as the server would send it.
        let cid = link.client.own_connection_id().unwrap().to_vec();
        let format = HeaderFormat {
            cid: Some(&cid),
            ..HeaderFormat::default()
        };
        // The server's next message_seq is not known here: one record for each candidate;
        // earlier ones are taken as repeats, later ones wait for the gap.
        for (i, message_seq) in (0..16u16).enumerate() {
            let msg = common::dtls::handshake_message(typ, message_seq, &[0, 1, 0]);
            let mut d = Vec::new();
            k.seal(&mut d, &format, 1000 + i as u64, ContentType::Handshake, &msg, 0)
                .unwrap();
            if link.client.recv_datagram(&d, link.now).is_err() {
                break;
            }
        }
        assert_eq!(
            link.client.error().and_then(Error::alert),
            Some(AlertDescription::UnexpectedMessage),
            "type {typ}"
        );
    }
}

// ---- Routing and address change

/// A server-side router as a user's event loop would keep it: the connection's address,
/// and its id to find it by from another address.
struct Router {
    server_addr_of_client: u32,
    id: Vec<u8>,
    moves: usize,
}

impl Router {
    /// Delivers a datagram from `from` to the server; returns whether it was routed.
    fn route(&mut self, link: &mut Link, from: u32, d: &[u8]) -> bool {
        if from != self.server_addr_of_client {
            // An unknown address: only the id can name the connection.
            if link.acceptor.connection_id(d) != Some(&self.id[..]) {
                return false;
            }
        }
        let now = link.now;
        let _ = link.server().recv_datagram(d, now);
        if from != self.server_addr_of_client && link.server().last_datagram_authenticated() {
            self.server_addr_of_client = from;
            self.moves += 1;
        }
        true
    }
}

#[test]
fn forged_or_replayed_datagram_from_a_new_address_does_not_move_the_peer() {
    for version in [V12, V13] {
        let (mut link, _) = established(version, Some(4), Some(8));
        let mut router = Router {
            server_addr_of_client: 1,
            id: link.server().own_connection_id().unwrap().to_vec(),
            moves: 0,
        };
        write(&mut link.client, b"one");
        let d = link.take(Dir::ToServer).pop().unwrap();
        // A forged copy, ahead of the real one: valid id, bad tag, from a new address.
        let mut forged = d.clone();
        let last = forged.len() - 1;
        forged[last] ^= 0x55;
        let bad = link.server().bad_records();
        assert!(router.route(&mut link, 2, &forged), "{version:?}: routed by id");
        assert!(!link.server().last_datagram_authenticated());
        assert_eq!(link.server().bad_records(), bad + 1, "{version:?}");
        assert_eq!(
            router.server_addr_of_client, 1,
            "{version:?}: forged datagram moved the peer"
        );
        // The real one from the known address.
        assert!(router.route(&mut link, 1, &d));
        assert!(link.server().last_datagram_authenticated());
        assert_eq!(read_all(link.server()), b"one");
        // The genuine datagram replayed from a new address: authentic but not new.
        assert!(router.route(&mut link, 3, &d));
        assert!(!link.server().last_datagram_authenticated());
        assert_eq!(
            router.server_addr_of_client, 1,
            "{version:?}: replay moved the peer"
        );
        assert!(read_all(link.server()).is_empty());
        // A new record from the new address moves it.
        write(&mut link.client, b"two");
        let d2 = link.take(Dir::ToServer).pop().unwrap();
        assert!(router.route(&mut link, 2, &d2));
        assert_eq!(router.server_addr_of_client, 2);
        assert_eq!(read_all(link.server()), b"two");
        // A datagram without the id from an unknown address is not routed here.
        assert!(!router.route(&mut link, 4, &[0x16, 0xfe, 0xfd, 0, 0]));
    }
}

/// splitmix64: the seeded fate of each datagram.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn chance(&mut self, pct: u64) -> bool {
        self.next() % 100 < pct
    }
}

/// One seeded run: handshake, data both ways, then the client's address changes (a NAT
/// rebinding: datagrams to the old one are lost) and the session goes on. The link drops,
/// duplicates and delays (reorders) datagrams (each rate 0..=15 %, from the seed).
/// Returns the datagrams the link dropped and duplicated.
fn rebinding_run(version: ProtocolVersion, seed: u64) -> (usize, usize) {
    let mut rng = Rng(seed);
    let drop_pct = rng.next() % 16;
    let dup_pct = rng.next() % 16;
    let (c, s, _) = configs(version);
    let mut cfg = dtls(Some(4));
    cfg.timer.total = Duration::from_secs(400);
    let mut link = Link::new(c.clone(), s, cfg.clone());
    link.client = DtlsConnection::client(c, "localhost", dtls(Some(2)), link.now).unwrap();
    let start = link.now;
    // In flight: arrival time, direction, source address (to the server), bytes.
    let mut flight: VecDeque<(Instant, Dir, u32, Vec<u8>)> = VecDeque::new();
    let mut client_addr = 1u32;
    let mut router: Option<Router> = None;
    let mut connections = 0;
    let (mut to_server, mut to_client) = (Vec::new(), Vec::new());
    let (mut sent_up, mut sent_down) = (0u32, 0u32);
    let mut rebound_at_up = None;
    let (mut dropped, mut duplicated) = (0, 0);
    for _ in 0..20_000 {
        // Send what each side has, with the link's fate.
        for dir in [Dir::ToServer, Dir::ToClient] {
            for d in link.take(dir) {
                let copies = if rng.chance(drop_pct) {
                    dropped += 1;
                    0
                } else if rng.chance(dup_pct) {
                    duplicated += 1;
                    2
                } else {
                    1
                };
                for _ in 0..copies {
                    let delay = Duration::from_millis(5 + rng.next() % 40);
                    let dest_ok = match dir {
                        Dir::ToServer => true,
                        // The server sends to the address it knows; after the rebinding the
                        // old one leads nowhere.
                        Dir::ToClient => {
                            router.as_ref().map_or(1, |r| r.server_addr_of_client) == client_addr
                        }
                    };
                    if dest_ok {
                        flight.push_back((link.now + delay, dir, client_addr, d.clone()));
                    }
                }
            }
        }
        let established =
            link.server.as_ref().is_some_and(|s| !s.is_handshaking()) && !link.client.is_handshaking();
        if established && router.is_none() {
            router = Some(Router {
                server_addr_of_client: 1,
                id: link.server().own_connection_id().unwrap().to_vec(),
                moves: 0,
            });
        }
        if established {
            // Data: one record per side every 100 ms of simulated time, 20 each way; the
            // client's address changes after its 8th.
            if sent_up < 20 && link.now >= start + Duration::from_millis(100 * u64::from(sent_up)) {
                write(&mut link.client, format!("up{sent_up};").as_bytes());
                sent_up += 1;
                if sent_up == 8 {
                    client_addr = 2;
                    rebound_at_up = Some(sent_up);
                }
                continue;
            }
            if sent_down < 20 && link.now >= start + Duration::from_millis(100 * u64::from(sent_down)) {
                write(link.server(), format!("down{sent_down};").as_bytes());
                sent_down += 1;
                continue;
            }
        }
        if let Some(s) = link.server.as_mut() {
            to_server.extend(read_all(s));
        }
        to_client.extend(read_all(&mut link.client));
        let next_timer = [
            link.client.poll_timeout(),
            link.server.as_ref().and_then(DtlsConnection::poll_timeout),
        ]
        .into_iter()
        .flatten()
        .min();
        let next_data = (established && (sent_up < 20 || sent_down < 20))
            .then(|| start + Duration::from_millis(100 * u64::from(sent_up.min(sent_down))));
        let next_arrival = flight.iter().map(|f| f.0).min();
        let Some(next) = [next_timer, next_data, next_arrival].into_iter().flatten().min() else {
            break;
        };
        link.now = link.now.max(next);
        // Deliver what is due, in arrival order.
        let mut due: Vec<_> = Vec::new();
        flight.retain(|f| {
            if f.0 <= link.now {
                due.push(f.clone());
                false
            } else {
                true
            }
        });
        due.sort_by_key(|f| f.0);
        for (_, dir, from, d) in due {
            match dir {
                Dir::ToClient => {
                    let _ = link.client.recv_datagram(&d, link.now);
                }
                Dir::ToServer => match router.as_mut() {
                    Some(r) => {
                        if !r.route(&mut link, from, &d) {
                            // Not this connection's: the acceptor would see it; a
                            // ClientHello would start a new handshake, which must not
                            // happen here.
                            assert!(
                                !matches!(
                                    link.acceptor.accept(&d, b"elsewhere", link.now),
                                    Accepted::Connection(_)
                                ),
                                "seed {seed}: a new handshake"
                            );
                        }
                    }
                    None => {
                        let before = link.server.is_some();
                        let _ = link.deliver(Dir::ToServer, &d);
                        if !before && link.server.is_some() {
                            connections += 1;
                        }
                    }
                },
            }
        }
        if next_timer.is_some_and(|t| t <= link.now) {
            link.client
                .handle_timeout(link.now)
                .unwrap_or_else(|e| panic!("seed {seed}: client {e:?}"));
            if let Some(s) = link.server.as_mut() {
                s.handle_timeout(link.now)
                    .unwrap_or_else(|e| panic!("seed {seed}: server {e:?}"));
            }
        }
    }
    assert_eq!(connections, 1, "seed {seed}: one handshake");
    assert!(rebound_at_up.is_some(), "seed {seed}: the client never moved");
    let router = router.expect("established");
    for conn in [&link.client, link.server.as_ref().unwrap()] {
        assert!(conn.error().is_none(), "seed {seed}: {:?}", conn.error());
        assert_eq!(conn.protocol_version(), Some(version));
    }
    // Each record arrives at most once; the server moved to the new address (12 records
    // left from it, the chance that every one is lost is negligible at <= 15 %), once.
    let got_up = String::from_utf8(to_server).unwrap();
    let got_down = String::from_utf8(to_client).unwrap();
    for i in 0..20 {
        assert!(got_up.matches(&format!("up{i};")).count() <= 1, "seed {seed}");
        assert!(got_down.matches(&format!("down{i};")).count() <= 1, "seed {seed}");
    }
    assert_eq!(
        router.server_addr_of_client, 2,
        "seed {seed} ({drop_pct}% drop): server did not follow"
    );
    assert_eq!(router.moves, 1, "seed {seed}");
    // Records sent after the move arrived at the server from the new address, and the
    // server's records reach the client there.
    assert!(
        (8..20).any(|i| got_up.contains(&format!("up{i};"))),
        "seed {seed}: {got_up}"
    );
    let mut link = link;
    write(link.server(), b"after;");
    for _ in 0..10 {
        for d in link.take(Dir::ToClient) {
            let _ = link.client.recv_datagram(&d, link.now);
        }
    }
    assert!(String::from_utf8(read_all(&mut link.client))
        .unwrap()
        .contains("after;"));
    (dropped, duplicated)
}

/// 100 seeded runs; the link must really have dropped and duplicated datagrams.
fn rebinding_runs(version: ProtocolVersion) {
    let (mut dropped, mut duplicated) = (0, 0);
    for seed in 0..100 {
        let (d, u) = rebinding_run(version, seed);
        dropped += d;
        duplicated += u;
    }
    eprintln!("{version:?}: 100 runs, {dropped} datagrams dropped, {duplicated} duplicated");
    assert!(
        dropped > 100 && duplicated > 100,
        "{dropped} dropped, {duplicated} duplicated"
    );
}

#[test]
fn nat_rebinding_on_a_lossy_link_keeps_the_session_dtls12() {
    rebinding_runs(V12);
}

#[test]
fn nat_rebinding_on_a_lossy_link_keeps_the_session_dtls13() {
    rebinding_runs(V13);
}

/// A UDP/IPv4 loopback pcap of `datagrams` (to the server: from port 50001 to 4433).
fn udp_pcap(datagrams: &[(Dir, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    for v in [0u32, 0, 65535, 1] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    for (n, (dir, d)) in datagrams.iter().enumerate() {
        let (src, dst) = match dir {
            Dir::ToServer => (50001u16, 4433u16),
            Dir::ToClient => (4433, 50001),
        };
        let mut frame = vec![0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 2, 0x08, 0x00];
        let total = (20 + 8 + d.len()) as u16;
        frame.extend_from_slice(&[
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0,
            0,
            0x40,
            0,
            64,
            17,
            0,
            0,
        ]);
        frame.extend_from_slice(&[127, 0, 0, 1, 127, 0, 0, 1]);
        frame.extend_from_slice(&src.to_be_bytes());
        frame.extend_from_slice(&dst.to_be_bytes());
        frame.extend_from_slice(&((8 + d.len()) as u16).to_be_bytes());
        frame.extend_from_slice(&[0, 0]);
        frame.extend_from_slice(d);
        out.extend_from_slice(&(n as u32 + 1).to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        out.extend_from_slice(&frame);
    }
    out
}

/// Wireshark's DTLS dissector (an implementation of RFC 9146 of its own) reads our DTLS 1.2
/// session with connection ids from a capture and, with our key log, decrypts the
/// tls12_cid records both ways: their additional data is what it computes.
#[test]
fn tshark_decrypts_our_dtls12_cid_records() {
    assert!(
        Command::new("tshark")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success()),
        "tshark is needed (Debian package tshark)"
    );
    let dir = std::env::temp_dir().join(format!("sanstls-dtls-cid-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let keylog = dir.join("keys.log");
    let log = Arc::new(sanstls::KeyLogFile::create(&keylog).unwrap());
    let c = common::client_builder()
        .versions(&[ProtocolVersion::TLSv1_2])
        .key_log(log)
        .build()
        .unwrap();
    let s = common::server_builder("ecdsa-p256")
        .versions(&[ProtocolVersion::TLSv1_2])
        .build()
        .unwrap();
    let mut link = Link::new(c.clone(), s, dtls(Some(5)));
    link.client = DtlsConnection::client(c, "localhost", dtls(Some(3)), link.now).unwrap();
    link.settle().unwrap();
    let handshake = link.wire.len();
    write(&mut link.client, b"up-marker-1234");
    write(link.server(), b"down-marker-5678");
    link.settle().unwrap();
    assert_eq!(read_all(link.server()), b"up-marker-1234");
    let tshark = |wire: &[(Dir, Vec<u8>)]| {
        let capture = dir.join("dtls.pcap");
        std::fs::write(&capture, udp_pcap(wire)).unwrap();
        let out = Command::new("timeout")
            .args(["60", "tshark", "-n", "-r"])
            .arg(&capture)
            .args(["-d", "udp.port==4433,dtls", "-o"])
            .arg(format!("tls.keylog_file:{}", keylog.display()))
            .args([
                "-T",
                "fields",
                "-e",
                "dtls.record.connection_id",
                "-e",
                "data.data",
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let text = tshark(&link.wire);
    // The ids as tshark reads them from the headers (5 bytes to the server, 3 back).
    let server_id = hex::encode(link.server().own_connection_id().unwrap());
    let client_id = hex::encode(link.client.own_connection_id().unwrap());
    assert!(
        text.contains(&format!("{server_id}\t{}", hex::encode(b"up-marker-1234"))),
        "{text}"
    );
    assert!(
        text.contains(&format!("{client_id}\t{}", hex::encode(b"down-marker-5678"))),
        "{text}"
    );
    // Control: the same records with one sequence-number bit changed (so other additional
    // data, the same explicit nonce) do not decrypt: tshark checks the tag.
    let mut bent = link.wire.clone();
    for (_, d) in bent.iter_mut().skip(handshake) {
        if d[0] == 25 {
            d[10] ^= 1;
        }
    }
    let text = tshark(&bent);
    assert!(!text.contains(&hex::encode(b"up-marker-1234")), "{text}");
    assert!(!text.contains(&hex::encode(b"down-marker-5678")), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}
