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
