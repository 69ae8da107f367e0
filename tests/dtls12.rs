//! DTLS 1.2 (RFC 6347) over an in-memory link: our client against our server, through the
//! stateless cookie exchange, with fragmentation, retransmission and the record rules.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::dtls::{events, read_all, write, Dir, Link, CLIENT_ADDR};
use sanstls::codec::{CipherSuite, ProtocolVersion};
use sanstls::dtls::{Accepted, DtlsAcceptor, DtlsConfig, DtlsConnection};
use sanstls::pki::{TrustAnchors, WebPkiClientVerifier};
use sanstls::{ClientConfig, Error, Event, Limit, ServerConfig};

fn configs(kind: &str) -> (Arc<ClientConfig>, Arc<ServerConfig>) {
    (
        common::client_builder().build().unwrap(),
        common::server_builder(kind).build().unwrap(),
    )
}

fn dtls(mtu: usize) -> DtlsConfig {
    DtlsConfig {
        mtu,
        ..DtlsConfig::default()
    }
}

fn established(kind: &str, mtu: usize) -> Link {
    let (c, s) = configs(kind);
    let mut link = Link::new(c, s, dtls(mtu));
    link.pump().unwrap();
    assert!(!link.client.is_handshaking(), "client: {:?}", link.client.error());
    assert!(
        !link.server().is_handshaking(),
        "server: {:?}",
        link.server().error()
    );
    link
}

#[test]
fn handshake_completes_through_the_cookie_exchange() {
    let mut link = established("ecdsa-p256", 1200);
    assert_eq!(link.hvrs, 1);
    for conn in [&mut link.client, link.server.as_mut().unwrap()] {
        assert_eq!(conn.protocol_version(), Some(ProtocolVersion::DTLSv1_2));
        assert_eq!(conn.protocol_version().unwrap().name(), Some("DTLSv1.2"));
        assert!(conn.cipher_suite().is_some());
        assert_eq!(conn.extended_master_secret(), Some(true));
        assert_eq!(events(conn)[0], Event::HandshakeComplete);
        assert_eq!(conn.read_epoch(), 1);
    }
    assert_eq!(link.client.client_random(), link.server().client_random());
    assert_eq!(link.client.server_name(), Some("localhost"));
    assert_eq!(link.server().server_name(), Some("localhost"));
    assert!(!link.client.peer_certificates().is_empty());
    let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
    link.client
        .export_keying_material(&mut a, b"EXPORTER-test", None)
        .unwrap();
    link.server()
        .export_keying_material(&mut b, b"EXPORTER-test", None)
        .unwrap();
    assert_eq!(a, b);
    // Both timers stop once the handshake is over.
    assert_eq!(link.client.poll_timeout(), None);
    assert_eq!(link.server().poll_timeout(), None);
}

#[test]
fn first_flights_on_the_wire() {
    let link = established("ecdsa-p256", 1200);
    // ClientHello (epoch 0, seq 0, message_seq 0), the HelloVerifyRequest echoes both.
    let (dir, ch1) = &link.wire[0];
    assert_eq!(*dir, Dir::ToServer);
    assert_eq!(&ch1[..3], &[22, 0xfe, 0xfd]);
    assert_eq!(&ch1[3..11], &[0; 8]);
    assert_eq!(ch1[13], 1); // client_hello
    assert_eq!(&ch1[17..19], &[0, 0]); // message_seq 0
    let (dir, hvr) = &link.wire[1];
    assert_eq!(*dir, Dir::ToClient);
    assert_eq!(&hvr[..3], &[22, 0xfe, 0xff]);
    assert_eq!(hvr[13], 3); // hello_verify_request
    assert_eq!(&hvr[17..19], &[0, 0]);
    // The second ClientHello is message 1 and carries the 32-byte cookie.
    let (_, ch2) = &link.wire[2];
    assert_eq!(&ch2[17..19], &[0, 1]);
    assert!(ch2.len() == ch1.len() + 32);
    // The ServerHello answers as message 1 (RFC 6347 4.2.2).
    let (_, sh) = &link.wire[3];
    assert_eq!(sh[13], 2);
    assert_eq!(&sh[17..19], &[0, 1]);
}

#[test]
fn data_flows_both_ways_exactly_once() {
    let mut link = established("ecdsa-p256", 1200);
    events(&mut link.client);
    events(link.server());
    write(&mut link.client, b"ping");
    link.pump().unwrap();
    assert_eq!(read_all(link.server()), b"ping");
    let big = vec![7u8; 5000];
    write(link.server(), &big);
    let sent = link.take(Dir::ToClient);
    assert!(sent.len() >= 5, "5000 bytes need several records under MTU 1200");
    for d in &sent {
        link.deliver(Dir::ToClient, d).unwrap();
    }
    // A replayed record is dropped (RFC 6347 4.1.2.6).
    link.deliver(Dir::ToClient, &sent[0]).unwrap();
    assert_eq!(read_all(&mut link.client), big);
    assert!(events(&mut link.client)
        .iter()
        .all(|e| matches!(e, Event::Data { .. })));
}

#[test]
fn large_chain_is_fragmented_to_the_mtu() {
    // RSA certificate and signature over MTU 256: every flight is cut into fragments.
    let mut link = established("rsa2048", 256);
    assert!(link.wire.iter().all(|(_, d)| d.len() <= 256));
    let to_client = link.wire.iter().filter(|(d, _)| *d == Dir::ToClient).count();
    assert!(to_client > 6, "server flight in {to_client} datagrams");
    write(&mut link.client, &[1; 1000]);
    link.pump().unwrap();
    assert_eq!(read_all(link.server()), vec![1; 1000]);
}

#[test]
fn every_suite_completes() {
    for suite in [
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ] {
        let c = common::client_builder().cipher_suites(&[suite]).build().unwrap();
        let s = common::server_builder("ecdsa-p256").build().unwrap();
        let mut link = Link::new(c, s, dtls(1200));
        link.pump().unwrap();
        assert_eq!(link.client.cipher_suite(), Some(suite));
        write(&mut link.client, b"x");
        write(link.server(), b"y");
        link.pump().unwrap();
        assert_eq!(read_all(link.server()), b"x");
        assert_eq!(read_all(&mut link.client), b"y");
    }
}

#[test]
fn client_authentication() {
    let anchors = TrustAnchors::from_pem_file(common::vectors().join("ca.pem")).unwrap();
    let s = common::server_builder("ecdsa-p256")
        .client_verifier(Arc::new(WebPkiClientVerifier::new(anchors)))
        .build()
        .unwrap();
    let c = common::client_builder()
        .client_auth_cert(common::certified_key("ecdsa-p384"))
        .build()
        .unwrap();
    let mut link = Link::new(c, s, dtls(1200));
    link.pump().unwrap();
    assert!(!link.server().is_handshaking());
    assert!(!link.server().peer_certificates().is_empty());
}

#[test]
fn acceptor_keeps_no_state_and_binds_the_cookie_to_the_address() {
    let (c, s) = configs("ecdsa-p256");
    let now = std::time::Instant::now();
    let mut acc = DtlsAcceptor::new(s, dtls(1200), now).unwrap();
    let mut client = DtlsConnection::client(c, "localhost", dtls(1200), now).unwrap();
    let mut buf = [0u8; 1200];
    let n = client.poll_datagram(&mut buf).unwrap();
    let ch1 = buf[..n].to_vec();
    let Accepted::HelloVerifyRequest(hvr) = acc.accept(&ch1, CLIENT_ADDR, now) else {
        panic!("no HelloVerifyRequest")
    };
    // The same hello gets the same cookie: nothing was stored between the two.
    let Accepted::HelloVerifyRequest(hvr2) = acc.accept(&ch1, CLIENT_ADDR, now) else {
        panic!("no HelloVerifyRequest")
    };
    assert_eq!(hvr, hvr2);
    client.recv_datagram(&hvr, now).unwrap();
    let n = client.poll_datagram(&mut buf).unwrap();
    let ch2 = buf[..n].to_vec();
    // From another address the cookie is not valid: another HelloVerifyRequest.
    assert!(matches!(
        acc.accept(&ch2, b"192.0.2.2:4433", now),
        Accepted::HelloVerifyRequest(_)
    ));
    // A cookie with one bit flipped is not valid either.
    let mut bad = ch2.clone();
    let at = 13 + 12 + 2 + 32 + 1 + 1;
    bad[at] ^= 1;
    assert!(matches!(
        acc.accept(&bad, CLIENT_ADDR, now),
        Accepted::HelloVerifyRequest(_)
    ));
    // Not a ClientHello at all: dropped.
    assert!(matches!(
        acc.accept(&[23, 0xfe, 0xfd, 0, 0], CLIENT_ADDR, now),
        Accepted::Dropped
    ));
    let Accepted::Connection(mut server) = acc.accept(&ch2, CLIENT_ADDR, now) else {
        panic!("valid cookie refused")
    };
    assert!(server.error().is_none());
    assert!(server.poll_datagram(&mut buf).is_some());
}

#[test]
fn lost_flight_is_retransmitted_with_doubling_timeouts() {
    let (c, s) = configs("ecdsa-p256");
    let mut link = Link::new(c, s, dtls(1200));
    let t0 = link.now;
    // CH1 -> HVR -> CH2 arrive; the server's flight is lost.
    for d in link.take(Dir::ToServer) {
        link.deliver(Dir::ToServer, &d).unwrap();
    }
    for d in link.take(Dir::ToServer) {
        link.deliver(Dir::ToServer, &d).unwrap();
    }
    assert!(!link.take(Dir::ToClient).is_empty());
    assert_eq!(link.client.poll_timeout(), Some(t0 + Duration::from_secs(1)));
    // The client repeats CH2 after 1 s, 2 s, 4 s (RFC 6347 4.2.4.1); each repeat of the
    // server's previous message makes the server repeat its flight at once.
    let mut waits = Vec::new();
    let mut flight = Vec::new();
    for _ in 0..3 {
        let wait = link.client.poll_timeout().unwrap() - link.now;
        waits.push(wait);
        link.now += wait;
        link.client.handle_timeout(link.now).unwrap();
        let again = link.take(Dir::ToServer);
        assert_eq!(again.len(), 1);
        link.deliver(Dir::ToServer, &again[0]).unwrap();
        flight = link.take(Dir::ToClient);
        assert!(!flight.is_empty(), "server did not repeat its flight");
    }
    assert_eq!(waits, [1, 2, 4].map(Duration::from_secs));
    for d in flight {
        link.deliver(Dir::ToClient, &d).unwrap();
    }
    link.pump().unwrap();
    assert!(!link.client.is_handshaking());
    assert!(!link.server().is_handshaking());
}

#[test]
fn timeout_is_capped_and_the_handshake_gives_up() {
    let (c, _) = configs("ecdsa-p256");
    let now = std::time::Instant::now();
    let config = DtlsConfig {
        timer: sanstls::dtls::TimerConfig {
            total: Duration::from_secs(300),
            ..Default::default()
        },
        ..dtls(1200)
    };
    let mut client = DtlsConnection::client(c, "localhost", config, now).unwrap();
    let mut buf = [0u8; 1200];
    let mut t = now;
    let mut waits = Vec::new();
    loop {
        while client.poll_datagram(&mut buf).is_some() {}
        let Some(next) = client.poll_timeout() else {
            break;
        };
        waits.push(next - t);
        t = next;
        if let Err(e) = client.handle_timeout(t) {
            assert_eq!(e, Error::HandshakeTimeout);
            break;
        }
    }
    // 1 s doubling to the 60 s cap (RFC 6347 4.2.4.1), then the total timeout.
    assert_eq!(
        waits,
        [1, 2, 4, 8, 16, 32, 60, 60, 60, 57].map(Duration::from_secs)
    );
    assert_eq!(t - now, Duration::from_secs(300));
    assert_eq!(client.error(), Some(&Error::HandshakeTimeout));
    assert_eq!(client.poll_timeout(), None);
}

#[test]
fn lost_last_flight_is_repeated_when_the_peer_repeats_its_own() {
    let (c, s) = configs("ecdsa-p256");
    let mut link = Link::new(c, s, dtls(1200));
    // Run until the server has the client's Finished.
    loop {
        for d in link.take(Dir::ToServer) {
            link.deliver(Dir::ToServer, &d).unwrap();
        }
        if link.server.as_ref().is_some_and(|s| !s.is_handshaking()) {
            break;
        }
        for d in link.take(Dir::ToClient) {
            link.deliver(Dir::ToClient, &d).unwrap();
        }
    }
    // The server's last flight needs no timer; it is lost.
    assert_eq!(link.server().poll_timeout(), None);
    assert!(!link.take(Dir::ToClient).is_empty());
    assert!(link.client.is_handshaking());
    link.advance();
    let again = link.take(Dir::ToServer);
    assert!(!again.is_empty());
    for d in again {
        link.deliver(Dir::ToServer, &d).unwrap();
    }
    let last = link.take(Dir::ToClient);
    assert!(!last.is_empty(), "server did not repeat its last flight");
    for d in last {
        link.deliver(Dir::ToClient, &d).unwrap();
    }
    assert!(!link.client.is_handshaking());
}

#[test]
fn records_that_fail_to_deprotect_are_dropped_up_to_a_limit() {
    let (c, s) = configs("ecdsa-p256");
    let mut link = Link::new(
        c,
        s,
        DtlsConfig {
            max_bad_records: 3,
            ..dtls(1200)
        },
    );
    link.pump().unwrap();
    write(&mut link.client, b"hello");
    let d = link.take(Dir::ToServer).remove(0);
    let mut bad = d.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    for _ in 0..3 {
        link.deliver(Dir::ToServer, &bad).unwrap();
    }
    assert_eq!(link.server().bad_records(), 3);
    // The forged records did not move the window: the real one still deprotects.
    link.deliver(Dir::ToServer, &d).unwrap();
    assert_eq!(read_all(link.server()), b"hello");
    write(&mut link.client, b"again");
    let mut bad = link.take(Dir::ToServer).remove(0);
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert_eq!(
        link.deliver(Dir::ToServer, &bad),
        Err(Error::LimitExceeded(Limit::BadRecords))
    );
}

#[test]
fn close_notify_ends_the_stream() {
    let mut link = established("ecdsa-p256", 1200);
    write(&mut link.client, b"bye");
    link.client.send_close_notify();
    link.pump().unwrap();
    assert_eq!(read_all(link.server()), b"bye");
    assert!(link.server().peer_has_closed());
    assert!(events(link.server()).contains(&Event::PeerClosed));
}

/// A small deterministic generator (SplitMix64) for the simulated link.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// True with probability `pct` percent.
    fn chance(&mut self, pct: u64) -> bool {
        self.next() % 100 < pct
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// What the lossy link did to one run.
#[derive(Debug, Default)]
struct LossStats {
    dropped: usize,
    duplicated: usize,
    retransmit_timeouts: usize,
}

/// One seeded run over a link that drops, duplicates, delays and so reorders datagrams.
/// The handshake must complete; then each side sends numbered records (one per datagram):
/// every record the link delivers at least one copy of must arrive exactly once, and a
/// record whose every copy was dropped must not arrive (DTLS does not retransmit data).
fn lossy_run(seed: u64, client: &Arc<ClientConfig>, server: &Arc<ServerConfig>) -> LossStats {
    let mut rng = Rng(seed);
    let mtu = [300, 600, 1200][rng.below(3) as usize];
    let drop_pct = rng.below(16); // 0..=15 %
    let dup_pct = rng.below(16);
    let mut link = Link::new(client.clone(), server.clone(), dtls(mtu));
    if std::env::var("DTLS_TRACE").is_ok_and(|t| t == seed.to_string()) {
        eprintln!("mtu {mtu} drop {drop_pct}% dup {dup_pct}%");
    }
    let mut stats = LossStats::default();
    // In flight: (arrival time, direction, datagram, record id for application data).
    let mut in_flight: Vec<(std::time::Instant, Dir, Vec<u8>, Option<usize>)> = Vec::new();
    let mut delivered_copies: Vec<usize> = Vec::new();
    let mut received: Vec<Vec<u8>> = vec![Vec::new(), Vec::new()];
    let mut sent_ids: Vec<(Dir, Vec<u8>)> = Vec::new();
    let mut app_phase = false;
    let start = link.now;
    for _step in 0..100_000 {
        // Everything the two sides want to send now goes on the link.
        for dir in [Dir::ToServer, Dir::ToClient] {
            for d in link.take(dir) {
                if rng.chance(drop_pct) {
                    stats.dropped += 1;
                    continue;
                }
                let copies = if rng.chance(dup_pct) { 2 } else { 1 };
                stats.duplicated += copies - 1;
                for _ in 0..copies {
                    let at = link.now + Duration::from_millis(rng.below(300));
                    in_flight.push((at, dir, d.clone(), None));
                }
            }
        }
        let done_handshake =
            link.server.as_ref().is_some_and(|s| !s.is_handshaking()) && !link.client.is_handshaking();
        if done_handshake && !app_phase {
            app_phase = true;
            // Each side writes numbered records, one datagram each.
            for i in 0..10 {
                for dir in [Dir::ToServer, Dir::ToClient] {
                    let msg = format!("{dir:?} record {i} of seed {seed}").into_bytes();
                    let conn = match dir {
                        Dir::ToServer => &mut link.client,
                        Dir::ToClient => link.server.as_mut().unwrap(),
                    };
                    write(conn, &msg);
                    let ds = link.take(dir);
                    assert_eq!(ds.len(), 1);
                    let id = sent_ids.len();
                    sent_ids.push((dir, msg));
                    delivered_copies.push(0);
                    if rng.chance(drop_pct) {
                        stats.dropped += 1;
                        continue;
                    }
                    let copies = if rng.chance(dup_pct) { 2 } else { 1 };
                    stats.duplicated += copies - 1;
                    for _ in 0..copies {
                        let at = link.now + Duration::from_millis(rng.below(300));
                        in_flight.push((at, dir, ds[0].clone(), Some(id)));
                    }
                }
            }
        }
        if app_phase && in_flight.is_empty() {
            break;
        }
        // Jump to the next arrival or timer, whichever comes first.
        let next_arrival = in_flight.iter().map(|f| f.0).min();
        let next_timer = [
            link.client.poll_timeout(),
            link.server.as_ref().and_then(DtlsConnection::poll_timeout),
        ]
        .into_iter()
        .flatten()
        .min();
        let next = match (next_arrival, next_timer) {
            (Some(a), Some(t)) => a.min(t),
            (Some(a), None) => a,
            (None, Some(t)) => t,
            (None, None) => panic!("seed {seed}: link idle before the handshake completed"),
        };
        link.now = link.now.max(next);
        // Deliver what has arrived, in arrival order.
        in_flight.sort_by_key(|f| f.0);
        while in_flight.first().is_some_and(|f| f.0 <= link.now) {
            let (_, dir, d, id) = in_flight.remove(0);
            if let Some(id) = id {
                delivered_copies[id] += 1;
            }
            if std::env::var("DTLS_TRACE").is_ok_and(|t| t == seed.to_string()) {
                eprintln!(
                    "{:?} {dir:?} {} bytes first {:?} | c {:?} s {:?}",
                    link.now - start,
                    d.len(),
                    &d[..14.min(d.len())],
                    link.client,
                    link.server
                );
            }
            link.deliver(dir, &d)
                .unwrap_or_else(|e| panic!("seed {seed}: {dir:?} failed: {e:?}"));
        }
        if next_timer.is_some_and(|t| t <= link.now) {
            stats.retransmit_timeouts += 1;
            link.client
                .handle_timeout(link.now)
                .unwrap_or_else(|e| panic!("seed {seed}: client {e:?}"));
            if let Some(s) = link.server.as_mut() {
                s.handle_timeout(link.now)
                    .unwrap_or_else(|e| panic!("seed {seed}: server {e:?}"));
            }
        }
        if app_phase {
            received[0].extend(read_all(link.server()));
            received[1].extend(read_all(&mut link.client));
        }
    }
    assert!(app_phase, "seed {seed}: handshake did not complete");
    assert!(link.now - start <= Duration::from_secs(120), "seed {seed}");
    // Every delivered record arrived exactly once, nothing else arrived.
    for (side, dir) in [(0, Dir::ToServer), (1, Dir::ToClient)] {
        let mut expected = Vec::new();
        for (id, (d, msg)) in sent_ids.iter().enumerate() {
            if *d == dir && delivered_copies[id] > 0 {
                expected.push(msg.clone());
            }
        }
        let mut got = received[side].clone();
        for msg in &expected {
            let at = got
                .windows(msg.len())
                .position(|w| w == msg.as_slice())
                .unwrap_or_else(|| panic!("seed {seed}: {} lost", String::from_utf8_lossy(msg)));
            got.drain(at..at + msg.len());
        }
        assert!(
            got.is_empty(),
            "seed {seed}: extra bytes {:?}",
            String::from_utf8_lossy(&got)
        );
    }
    stats
}

#[test]
fn lossy_link_thousand_seeded_runs() {
    let (c, s) = configs("ecdsa-p256");
    let mut total = LossStats::default();
    let seeds = match std::env::var("DTLS_SEED") {
        Ok(s) => s.parse().unwrap()..s.parse::<u64>().unwrap() + 1,
        Err(_) => 0..1000,
    };
    for seed in seeds {
        let st = lossy_run(seed, &c, &s);
        total.dropped += st.dropped;
        total.duplicated += st.duplicated;
        total.retransmit_timeouts += st.retransmit_timeouts;
    }
    // The link really was lossy.
    assert!(total.dropped > 1000 && total.duplicated > 1000, "{total:?}");
    eprintln!("1000 runs: {total:?}");
}
