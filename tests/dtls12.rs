//! DTLS 1.2 (RFC 6347) over an in-memory link: our client against our server, through the
//! stateless cookie exchange, with fragmentation, retransmission and the record rules.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::dtls::{
    events, lossy_link_runs, plain_handshake, plain_record, read_all, seal12, split_records, write, Dir,
    Link, Lossy, Secrets, CLIENT_ADDR,
};
use sanstls::codec::{AlertDescription, CipherSuite, ProtocolVersion};
use sanstls::conn::{MAX_EMPTY_RECORDS_IN_A_ROW, MAX_WARNING_ALERTS_IN_A_ROW};
use sanstls::dtls::{Accepted, DtlsAcceptor, DtlsConfig, DtlsConnection};
use sanstls::pki::{TrustAnchors, WebPkiClientVerifier};
use sanstls::{ClientConfig, Error, Event, Limit, ServerConfig};

/// DTLS 1.2 only (a config enabling TLS 1.3 too negotiates DTLS 1.3: tests/dtls13.rs).
fn configs(kind: &str) -> (Arc<ClientConfig>, Arc<ServerConfig>) {
    (
        common::client_builder()
            .versions(&[ProtocolVersion::TLSv1_2])
            .build()
            .unwrap(),
        common::server_builder(kind)
            .versions(&[ProtocolVersion::TLSv1_2])
            .build()
            .unwrap(),
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
    link.assert_established();
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
    // The initial ClientHello's record version is DTLS 1.0 (RFC 6347 4.1, RFC 9147 5).
    assert_eq!(&ch1[..3], &[22, 0xfe, 0xff]);
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
        let c = common::client_builder()
            .versions(&[ProtocolVersion::TLSv1_2])
            .cipher_suites(&[suite])
            .build()
            .unwrap();
        let s = common::server_builder("ecdsa-p256")
            .versions(&[ProtocolVersion::TLSv1_2])
            .build()
            .unwrap();
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
        .versions(&[ProtocolVersion::TLSv1_2])
        .client_verifier(Arc::new(WebPkiClientVerifier::new(anchors)))
        .build()
        .unwrap();
    let c = common::client_builder()
        .versions(&[ProtocolVersion::TLSv1_2])
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
    // Run until the server has the client's Finished (a few rounds; a handshake that does
    // not complete, e.g. on a transcript mismatch, fails here instead of looping).
    for round in 0.. {
        assert!(
            round < 10,
            "no Finished in 10 rounds: client {:?}, server {:?}",
            link.client.error(),
            link.server.as_ref().and_then(|s| s.error())
        );
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

/// 1,000 seeded runs over a link that drops, duplicates, delays and reorders datagrams
/// (`common::dtls::lossy_link_runs`, shared with tests/dtls13.rs): the handshake completes
/// through the cookie exchange within the total handshake timeout, every application record
/// the link delivers arrives exactly once, and the link goes quiet in epoch 1. DTLS 1.2 has
/// no KeyUpdate (and we do not renegotiate), so the runs differ by setup instead.
/// `DTLS_SEED=<n>` replays one seed, `DTLS_TRACE=<n>` traces it.
#[test]
fn lossy_link_thousand_seeded_runs() {
    // Three setups in turn: plain; an RSA chain (more fragments in the server's flight);
    // client authentication (Certificate and CertificateVerify lengthen the client's flight).
    let anchors = TrustAnchors::from_pem_file(common::vectors().join("ca.pem")).unwrap();
    let client_auth = (
        common::client_builder()
            .versions(&[ProtocolVersion::TLSv1_2])
            .client_auth_cert(common::certified_key("ecdsa-p256"))
            .build()
            .unwrap(),
        common::server_builder("ecdsa-p256")
            .versions(&[ProtocolVersion::TLSv1_2])
            .client_verifier(Arc::new(WebPkiClientVerifier::new(anchors)))
            .build()
            .unwrap(),
    );
    let setups = [configs("ecdsa-p256"), configs("rsa2048"), client_auth];
    let opts = Lossy {
        version: ProtocolVersion::DTLSv1_2,
        key_updates: false,
        final_epoch: 1,
        secrets: None,
    };
    lossy_link_runs("DTLS 1.2", &setups, &opts);
}

// ---- State-machine faults (the ones research fuzzers found in DTLS stacks). Each ends with
// a fatal alert or a silent drop that leaves the state as it was.

/// (content type, epoch, handshake type, message_seq) of a record (handshake fields only
/// meaningful for plaintext handshake records).
fn describe(r: &[u8]) -> (u8, u16, u8, u16) {
    let epoch = u16::from_be_bytes([r[3], r[4]]);
    if r[0] == 22 && epoch == 0 {
        (r[0], epoch, r[13], u16::from_be_bytes([r[17], r[18]]))
    } else {
        (r[0], epoch, 0, 0)
    }
}

/// The body of a plaintext handshake record's (whole) message.
fn body(r: &[u8]) -> Vec<u8> {
    r[25..].to_vec()
}

/// Runs the link up to the client's second flight and returns its records (not delivered);
/// the server's first flight records are returned too.
fn to_client_flight(link: &mut Link) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    for _ in 0..2 {
        for d in link.take(Dir::ToServer) {
            link.deliver(Dir::ToServer, &d).unwrap();
        }
    }
    let server_flight: Vec<Vec<u8>> = link
        .take(Dir::ToClient)
        .iter()
        .flat_map(|d| split_records(d))
        .collect();
    for r in &server_flight {
        link.deliver(Dir::ToClient, r).unwrap();
    }
    let client_flight = link
        .take(Dir::ToServer)
        .iter()
        .flat_map(|d| split_records(d))
        .collect();
    (server_flight, client_flight)
}

fn assert_fatal(conn: &mut DtlsConnection, res: Result<(), Error>, alert: AlertDescription) {
    let e = res.expect_err("expected a fatal error");
    assert_eq!(e.alert(), Some(alert), "{e:?}");
    assert_eq!(conn.error(), Some(&e));
    // The alert goes out as a fatal alert record.
    let mut buf = [0u8; 1200];
    let n = conn.poll_datagram(&mut buf).expect("alert datagram");
    let recs = split_records(&buf[..n]);
    assert!(recs.iter().any(|r| r[0] == 21), "no alert record");
}

fn link_with_client_auth() -> Link {
    let anchors = TrustAnchors::from_pem_file(common::vectors().join("ca.pem")).unwrap();
    let s = common::server_builder("ecdsa-p256")
        .versions(&[ProtocolVersion::TLSv1_2])
        .client_verifier(Arc::new(WebPkiClientVerifier::new(anchors)))
        .build()
        .unwrap();
    let c = common::client_builder()
        .versions(&[ProtocolVersion::TLSv1_2])
        .client_auth_cert(common::certified_key("ecdsa-p256"))
        .build()
        .unwrap();
    Link::new(c, s, dtls(1200))
}

#[test]
fn finished_before_ccs_waits_for_the_ccs() {
    let (c, s) = configs("ecdsa-p256");
    let mut link = Link::new(c, s, dtls(1200));
    let (_, flight) = to_client_flight(&mut link);
    // [ClientKeyExchange] [CCS] [Finished under epoch 1]
    let kinds: Vec<_> = flight.iter().map(|r| describe(r).0).collect();
    assert_eq!(kinds, [22, 20, 22]);
    link.deliver(Dir::ToServer, &flight[0]).unwrap();
    // The encrypted Finished before the CCS: held, nothing changes.
    link.deliver(Dir::ToServer, &flight[2]).unwrap();
    assert_eq!(link.server().read_epoch(), 0);
    assert!(link.server().is_handshaking());
    link.deliver(Dir::ToServer, &flight[1]).unwrap();
    assert!(!link.server().is_handshaking());
}

#[test]
fn plaintext_finished_in_place_of_ccs_is_fatal() {
    let (c, s) = configs("ecdsa-p256");
    let mut link = Link::new(c, s, dtls(1200));
    let (_, flight) = to_client_flight(&mut link);
    link.deliver(Dir::ToServer, &flight[0]).unwrap();
    let (_, _, _, cke_seq) = describe(&flight[0]);
    let fin = plain_handshake(50, 20, cke_seq + 1, &[0; 12]);
    let res = link.deliver(Dir::ToServer, &fin);
    assert_fatal(link.server(), res, AlertDescription::UnexpectedMessage);
}

#[test]
fn early_finished_is_fatal() {
    let (c, s) = configs("ecdsa-p256");
    let mut link = Link::new(c, s, dtls(1200));
    let (_, flight) = to_client_flight(&mut link);
    let (_, _, _, cke_seq) = describe(&flight[0]);
    // A Finished where the ClientKeyExchange belongs.
    let res = link.deliver(Dir::ToServer, &plain_handshake(50, 20, cke_seq, &[0; 12]));
    assert_fatal(link.server(), res, AlertDescription::UnexpectedMessage);
}

#[test]
fn ccs_before_certificate_verify_is_dropped() {
    let mut link = link_with_client_auth();
    let (_, flight) = to_client_flight(&mut link);
    // [Certificate] [ClientKeyExchange] [CertificateVerify] [CCS] [Finished]
    let kinds: Vec<_> = flight.iter().map(|r| (describe(r).0, describe(r).2)).collect();
    assert_eq!(kinds, [(22, 11), (22, 16), (22, 15), (20, 0), (22, 0)]);
    link.deliver(Dir::ToServer, &flight[0]).unwrap();
    link.deliver(Dir::ToServer, &flight[1]).unwrap();
    link.deliver(Dir::ToServer, &flight[3]).unwrap();
    assert_eq!(
        link.server().read_epoch(),
        0,
        "CCS before CertificateVerify took effect"
    );
    assert!(link.server().error().is_none());
    // The rest in order (the CCS again, as a retransmission would bring it) completes.
    link.deliver(Dir::ToServer, &flight[2]).unwrap();
    link.deliver(Dir::ToServer, &plain_record(20, 0, 40, &[1]))
        .unwrap();
    link.deliver(Dir::ToServer, &flight[4]).unwrap();
    assert!(!link.server().is_handshaking());
}

#[test]
fn several_ccs_change_nothing_and_a_bad_one_is_fatal() {
    let (c, s) = configs("ecdsa-p256");
    let mut link = Link::new(c, s, dtls(1200));
    let (_, flight) = to_client_flight(&mut link);
    link.deliver(Dir::ToServer, &flight[0]).unwrap();
    link.deliver(Dir::ToServer, &flight[1]).unwrap();
    assert_eq!(link.server().read_epoch(), 1);
    for seq in 60..63 {
        link.deliver(Dir::ToServer, &plain_record(20, 0, seq, &[1]))
            .unwrap();
    }
    assert_eq!(link.server().read_epoch(), 1);
    link.deliver(Dir::ToServer, &flight[2]).unwrap();
    assert!(!link.server().is_handshaking());
    let res = link.deliver(Dir::ToServer, &plain_record(20, 1, 70, &[2]));
    // Epoch 1 records must deprotect: a forged one is dropped, not obeyed.
    assert!(res.is_ok());
    assert_eq!(link.server().bad_records(), 1);
    // A malformed CCS at the epoch in force (epoch 0 before the switch) is fatal.
    let (c, s) = configs("ecdsa-p256");
    let mut link = Link::new(c, s, dtls(1200));
    let (_, flight) = to_client_flight(&mut link);
    link.deliver(Dir::ToServer, &flight[0]).unwrap();
    let res = link.deliver(Dir::ToServer, &plain_record(20, 0, 90, &[1, 1]));
    assert_fatal(link.server(), res, AlertDescription::UnexpectedMessage);
}

#[test]
fn client_key_exchange_before_client_certificate_is_fatal() {
    let mut link = link_with_client_auth();
    let (_, flight) = to_client_flight(&mut link);
    let (_, _, _, cert_seq) = describe(&flight[0]);
    let cke = plain_handshake(50, 16, cert_seq, &body(&flight[1]));
    let res = link.deliver(Dir::ToServer, &cke);
    assert_fatal(link.server(), res, AlertDescription::UnexpectedMessage);
}

#[test]
fn unrequested_client_certificate_is_fatal() {
    let (c, s) = configs("ecdsa-p256");
    let mut link = Link::new(c, s, dtls(1200));
    let (server_flight, flight) = to_client_flight(&mut link);
    let (_, _, _, cke_seq) = describe(&flight[0]);
    // The server's own Certificate body will do as a (well-formed) client Certificate.
    let cert = server_flight.iter().find(|r| describe(r).2 == 11).unwrap();
    let res = link.deliver(Dir::ToServer, &plain_handshake(50, 11, cke_seq, &body(cert)));
    assert_fatal(link.server(), res, AlertDescription::UnexpectedMessage);
}

/// The server's first flight delivered up to (not including) message type `stop`, then
/// `extra` in its place.
fn client_gets_server_flight_with(stop: u8, extra: impl Fn(&[Vec<u8>], u16) -> Vec<u8>, client_auth: bool) {
    let mut link = if client_auth {
        link_with_client_auth()
    } else {
        let (c, s) = configs("ecdsa-p256");
        Link::new(c, s, dtls(1200))
    };
    for _ in 0..2 {
        for d in link.take(Dir::ToServer) {
            link.deliver(Dir::ToServer, &d).unwrap();
        }
    }
    let flight: Vec<Vec<u8>> = link
        .take(Dir::ToClient)
        .iter()
        .flat_map(|d| split_records(d))
        .collect();
    let at = flight.iter().position(|r| describe(r).2 == stop).unwrap();
    for r in &flight[..at] {
        link.deliver(Dir::ToClient, r).unwrap();
    }
    let seq = describe(&flight[at]).3;
    let res = link.deliver(Dir::ToClient, &extra(&flight, seq));
    assert_fatal(&mut link.client, res, AlertDescription::UnexpectedMessage);
}

#[test]
fn repeated_server_certificate_is_fatal() {
    // Certificate again where the ServerKeyExchange belongs.
    client_gets_server_flight_with(
        12,
        |f, seq| {
            let cert = f.iter().find(|r| describe(r).2 == 11).unwrap();
            plain_handshake(70, 11, seq, &body(cert))
        },
        false,
    );
}

#[test]
fn repeated_server_key_exchange_is_fatal() {
    client_gets_server_flight_with(
        14,
        |f, seq| {
            let ske = f.iter().find(|r| describe(r).2 == 12).unwrap();
            plain_handshake(70, 12, seq, &body(ske))
        },
        false,
    );
}

#[test]
fn repeated_certificate_request_is_fatal() {
    client_gets_server_flight_with(
        14,
        |f, seq| {
            let cr = f.iter().find(|r| describe(r).2 == 13).unwrap();
            plain_handshake(70, 13, seq, &body(cr))
        },
        true,
    );
}

#[test]
fn second_hello_verify_request_mid_handshake_is_fatal() {
    client_gets_server_flight_with(
        11,
        |_, seq| {
            let mut hvr = vec![0xfe, 0xff, 4];
            hvr.extend_from_slice(&[9; 4]);
            plain_handshake(70, 3, seq, &hvr)
        },
        false,
    );
}

#[test]
fn handshake_restarted_mid_way_is_fatal() {
    let (c, s) = configs("ecdsa-p256");
    let mut link = Link::new(c, s, dtls(1200));
    let (_, flight) = to_client_flight(&mut link);
    let (_, _, _, cke_seq) = describe(&flight[0]);
    // A new ClientHello (the first one's body) where ClientKeyExchange belongs.
    let ch = link
        .wire
        .iter()
        .find(|(d, r)| *d == Dir::ToServer && r[13] == 1)
        .map(|(_, r)| body(r))
        .unwrap();
    let res = link.deliver(Dir::ToServer, &plain_handshake(50, 1, cke_seq, &ch));
    assert_fatal(link.server(), res, AlertDescription::UnexpectedMessage);
}

#[test]
fn invalid_finished_disguised_as_a_retransmission_changes_nothing() {
    let mut link = established("ecdsa-p256", 1200);
    let fin_seq = link
        .wire
        .iter()
        .filter(|(d, _)| *d == Dir::ToServer)
        .flat_map(|(_, d)| split_records(d))
        .filter(|r| describe(r).0 == 22 && describe(r).1 == 0)
        .map(|r| describe(&r).3)
        .max()
        .unwrap()
        + 1;
    // Plaintext, old message_seq, garbage verify_data: taken for a retransmission at most.
    link.deliver(Dir::ToServer, &plain_handshake(80, 20, fin_seq, &[0xee; 12]))
        .unwrap();
    assert!(link.server().error().is_none());
    assert!(!link.server().is_handshaking());
    // And an encrypted Finished that fails to deprotect is dropped and counted.
    let (c, s) = configs("ecdsa-p256");
    let mut link = Link::new(c, s, dtls(1200));
    let (_, flight) = to_client_flight(&mut link);
    link.deliver(Dir::ToServer, &flight[0]).unwrap();
    link.deliver(Dir::ToServer, &flight[1]).unwrap();
    let mut bad = flight[2].clone();
    let last = bad.len() - 1;
    bad[last] ^= 0x80;
    link.deliver(Dir::ToServer, &bad).unwrap();
    assert!(link.server().is_handshaking());
    assert_eq!(link.server().bad_records(), 1);
    link.deliver(Dir::ToServer, &flight[2]).unwrap();
    assert!(!link.server().is_handshaking());
}

#[test]
fn non_conforming_cookies() {
    // An empty cookie in a HelloVerifyRequest is useless: illegal_parameter.
    let (c, _) = configs("ecdsa-p256");
    let now = std::time::Instant::now();
    let mut client = DtlsConnection::client(c.clone(), "localhost", dtls(1200), now).unwrap();
    let res = client.recv_datagram(&plain_handshake(0, 3, 0, &[0xfe, 0xff, 0]), now);
    assert_fatal(&mut client, res, AlertDescription::IllegalParameter);
    // A cookie length past the message: decode_error.
    let mut client = DtlsConnection::client(c, "localhost", dtls(1200), now).unwrap();
    let res = client.recv_datagram(&plain_handshake(0, 3, 0, &[0xfe, 0xff, 40, 1, 2]), now);
    assert_fatal(&mut client, res, AlertDescription::DecodeError);
}

#[test]
fn records_after_close_notify_or_a_fatal_alert_are_ignored() {
    let mut link = established("ecdsa-p256", 1200);
    events(link.server());
    write(&mut link.client, b"one");
    let data = link.take(Dir::ToServer);
    link.client.send_close_notify();
    let close = link.take(Dir::ToServer);
    assert!(std::io::Write::write(&mut link.client.writer(), b"x").is_err());
    for d in close.iter().chain(&data) {
        link.deliver(Dir::ToServer, d).unwrap();
    }
    assert!(link.server().peer_has_closed());
    assert_eq!(
        read_all(link.server()),
        b"",
        "data after close_notify was delivered"
    );
    // After a fatal error every later datagram is refused with the same error.
    let (c, s) = configs("ecdsa-p256");
    let mut link = Link::new(c, s, dtls(1200));
    let (_, flight) = to_client_flight(&mut link);
    let (_, _, _, cke_seq) = describe(&flight[0]);
    let err = link
        .deliver(Dir::ToServer, &plain_handshake(50, 20, cke_seq, &[0; 12]))
        .unwrap_err();
    assert_eq!(link.deliver(Dir::ToServer, &flight[0]), Err(err));
    assert!(link.server().is_handshaking() || link.server().error().is_some());
}

#[test]
fn application_data_before_the_handshake_completes_is_dropped() {
    let (c, s) = configs("ecdsa-p256");
    let mut link = Link::new(c, s, dtls(1200));
    let (_, flight) = to_client_flight(&mut link);
    // Unprotected application data during the handshake: dropped, no event, no state change.
    link.deliver(Dir::ToServer, &plain_record(23, 0, 55, b"sneaky"))
        .unwrap();
    assert!(events(link.server()).is_empty());
    assert_eq!(read_all(link.server()), b"");
    for r in &flight {
        link.deliver(Dir::ToServer, r).unwrap();
    }
    assert!(!link.server().is_handshaking());
    // Data written before the handshake completed waits for it (never sent in the clear).
    let (c, s) = configs("ecdsa-p256");
    let mut link = Link::new(c, s, dtls(1200));
    write(&mut link.client, b"early");
    link.pump().unwrap();
    assert!(link
        .wire
        .iter()
        .all(|(_, d)| !d.windows(5).any(|w| w == b"early")));
    assert_eq!(read_all(link.server()), b"early");
}

#[test]
fn mismatched_epochs_are_dropped() {
    let (c, s) = configs("ecdsa-p256");
    let mut link = Link::new(c, s, dtls(1200));
    let (_, flight) = to_client_flight(&mut link);
    let (_, _, _, cke_seq) = describe(&flight[0]);
    // A handshake message under an epoch nobody is in.
    let mut far = plain_handshake(1, 16, cke_seq, &body(&flight[0]));
    far[3..5].copy_from_slice(&7u16.to_be_bytes());
    link.deliver(Dir::ToServer, &far).unwrap();
    assert!(link.server().is_handshaking());
    assert_eq!(link.server().read_epoch(), 0);
    // After the CCS, a new message under epoch 0 is not taken.
    link.deliver(Dir::ToServer, &flight[0]).unwrap();
    link.deliver(Dir::ToServer, &flight[1]).unwrap();
    link.deliver(Dir::ToServer, &plain_handshake(77, 20, cke_seq + 1, &[0; 12]))
        .unwrap();
    assert!(link.server().is_handshaking());
    assert!(link.server().error().is_none());
    link.deliver(Dir::ToServer, &flight[2]).unwrap();
    assert!(!link.server().is_handshaking());
}

#[test]
fn data_reordered_ahead_of_the_servers_finished_is_held() {
    let (c, s) = configs("ecdsa-p256");
    let mut link = Link::new(c, s, dtls(1200));
    let (_, flight) = to_client_flight(&mut link);
    for r in &flight {
        link.deliver(Dir::ToServer, r).unwrap();
    }
    assert!(!link.server().is_handshaking());
    let last_flight = link.take(Dir::ToClient);
    write(link.server(), b"first words");
    let data = link.take(Dir::ToClient);
    // Data first, then the server's CCS and Finished.
    for d in data.iter().chain(&last_flight) {
        link.deliver(Dir::ToClient, d).unwrap();
    }
    assert!(!link.client.is_handshaking());
    assert_eq!(read_all(&mut link.client), b"first words");
}

#[test]
fn resumption_by_ticket_and_key_log() {
    #[derive(Debug, Default)]
    struct Log(std::sync::Mutex<Vec<String>>);
    impl sanstls::KeyLog for Log {
        fn log(&self, label: &str, _client_random: &[u8], _secret: &[u8]) {
            self.0.lock().unwrap().push(label.to_string());
        }
    }
    let log = Arc::new(Log::default());
    let c = common::client_builder()
        .versions(&[ProtocolVersion::TLSv1_2])
        .key_log(log.clone())
        .build()
        .unwrap();
    let s = common::server_builder("ecdsa-p256")
        .versions(&[ProtocolVersion::TLSv1_2])
        .build()
        .unwrap();
    let mut first = Link::new(c.clone(), s.clone(), dtls(1200));
    first.pump().unwrap();
    assert!(!first.client.is_resumed());
    assert!(events(&mut first.client).contains(&Event::SessionTicket));
    let mut second = Link::new(c, s, dtls(1200));
    second.pump().unwrap();
    assert!(second.client.is_resumed());
    assert!(second.server().is_resumed());
    write(&mut second.client, b"again");
    second.pump().unwrap();
    assert_eq!(read_all(second.server()), b"again");
    assert_eq!(*log.0.lock().unwrap(), ["CLIENT_RANDOM", "CLIENT_RANDOM"]);
}

mod fuzzish {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Arbitrary datagrams, and real ones with bytes flipped, never panic either side and
        /// end, at worst, in an error with an alert.
        #[test]
        fn mangled_datagrams_never_panic(
            noise in proptest::collection::vec(any::<u8>(), 0..1500),
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
            pick in any::<usize>(),
        ) {
            let (c, s) = configs("ecdsa-p256");
            let mut link = Link::new(c, s, dtls(1200));
            let _ = link.client.recv_datagram(&noise, link.now);
            let (server_flight, client_flight) = to_client_flight(&mut link);
            let mut all: Vec<Vec<u8>> = server_flight.into_iter().chain(client_flight).collect();
            let n = all.len();
            let victim = &mut all[pick % n];
            for (at, x) in flips {
                let len = victim.len();
                victim[at % len] ^= x | 1;
            }
            let victim = victim.clone();
            let _ = link.deliver(Dir::ToServer, &victim);
            let _ = link.deliver(Dir::ToClient, &victim);
            let _ = link.deliver(Dir::ToServer, &noise);
            let mut buf = [0u8; 1200];
            while link.client.poll_datagram(&mut buf).is_some() {}
            while link.server().poll_datagram(&mut buf).is_some() {}
        }
    }
}

/// RFC 8446 4.2.1 (RFC 9147 5.3): a hello with supported_versions is judged by that list
/// alone. A DTLS 1.3-only client still says 0xFEFD in legacy_version; a DTLS 1.2-only server
/// refuses it with protocol_version (as the TLS server does) instead of going ahead with
/// DTLS 1.2 and failing later on a missing extension.
#[test]
fn dtls12_server_refuses_a_dtls13_only_hello_with_protocol_version() {
    let client = common::client_builder()
        .versions(&[ProtocolVersion::TLSv1_3])
        .build()
        .unwrap();
    let (_, server) = configs("ecdsa-p256");
    let mut link = Link::new(client, server, dtls(1200));
    assert_eq!(link.pump().unwrap_err(), Error::NoCommonVersion);
    assert_eq!(link.server().error(), Some(&Error::NoCommonVersion));
    // The alert reaches the client.
    let alert = Error::AlertReceived(sanstls::codec::AlertDescription::ProtocolVersion);
    assert_eq!(link.pump().unwrap_err(), alert);
    assert_eq!(link.client.error(), Some(&alert));
    assert_eq!(link.client.protocol_version(), None);
}

// ---------------------------------------------------------------------------------------------
// What the peer sends that TLS caps or pushes back on, over DTLS 1.2 the same way.

/// A DTLS 1.2 link whose server holds at most `max_buffered` unread plaintext bytes and
/// blinds its failures; the client's key log gives the master secret.
fn established_with(max_buffered: usize, dtls: DtlsConfig) -> (Link, Arc<Secrets>) {
    let secrets = Arc::new(Secrets::default());
    let client = common::client_builder()
        .versions(&[ProtocolVersion::TLSv1_2])
        .key_log(secrets.clone())
        .build()
        .unwrap();
    let server = common::server_builder("ecdsa-p256")
        .versions(&[ProtocolVersion::TLSv1_2])
        .max_buffered_plaintext(max_buffered)
        .blinding(Duration::from_millis(10), Duration::from_millis(20))
        .build()
        .unwrap();
    let mut link = Link::new(client, server, dtls);
    link.pump().unwrap();
    assert!(!link.server().is_handshaking(), "{:?}", link.server().error());
    events(&mut link.client);
    events(link.server());
    (link, secrets)
}

#[test]
fn unread_plaintext_is_back_pressure_not_the_peers_fault() {
    let (mut link, _) = established_with(1000, dtls(1200));
    // Three records of 800 bytes; the server's application reads nothing. The second still
    // finds room (one record may pass the cap, as over TLS), the third is dropped.
    for i in 0..3u8 {
        write(&mut link.client, &[b'a' + i; 800]);
        link.pump().unwrap();
    }
    assert_eq!(link.server().error(), None);
    assert_eq!(link.server().last_alert_sent(), None);
    assert_eq!(link.client.error(), None);
    assert_eq!(link.server().plaintext_available(), 1600);
    assert_eq!(read_all(link.server()), [[b'a'; 800], [b'b'; 800]].concat());
    write(&mut link.client, b"after");
    link.pump().unwrap();
    assert_eq!(read_all(link.server()), b"after");
    assert_eq!(link.server().blinding_delay(), None);
}

#[test]
fn warning_alerts_and_empty_records_in_a_row_are_capped_as_over_tls() {
    let user_canceled = [1, AlertDescription::UserCanceled.get()];
    // RFC 5246 7.2: any warning leaves a DTLS 1.2 connection up, not only user_canceled.
    let unrecognized_name = [1, AlertDescription::UnrecognizedName.get()];
    // (the record repeated, how many in a row pass, the limit)
    let cases = [
        (
            21,
            &user_canceled[..],
            MAX_WARNING_ALERTS_IN_A_ROW,
            Limit::WarningAlerts,
        ),
        (
            21,
            &unrecognized_name[..],
            MAX_WARNING_ALERTS_IN_A_ROW,
            Limit::WarningAlerts,
        ),
        (
            23,
            &b""[..],
            MAX_EMPTY_RECORDS_IN_A_ROW,
            Limit::ConsecutiveEmptyRecords,
        ),
    ];
    for (typ, content, cap, limit) in cases {
        let (mut link, secrets) = established_with(65536, dtls(1200));
        let master = secrets.get("CLIENT_RANDOM").expect("master secret logged");
        let mut seq = 100;
        let mut forge = |link: &Link, typ: u8, content: &[u8]| {
            seq += 1;
            seal12(&link.client, &master, true, 1, seq, typ, content)
        };
        // Data in between resets the count.
        for i in 0..2 * cap + 1 {
            let d = if i == cap {
                forge(&link, 23, b"x")
            } else {
                forge(&link, typ, content)
            };
            link.deliver(Dir::ToServer, &d).unwrap();
        }
        let d = forge(&link, typ, content);
        assert_eq!(link.deliver(Dir::ToServer, &d), Err(Error::LimitExceeded(limit)));
        assert!(link.server().blinding_delay().is_some(), "{limit:?}");
        let _ = link.pump();
        assert_eq!(
            link.client.error(),
            Some(&Error::AlertReceived(AlertDescription::UnexpectedMessage)),
            "{limit:?}"
        );
    }
}

#[test]
fn blinding_delay_is_armed_by_a_failure_the_peer_caused() {
    let (mut link, _) = established_with(
        65536,
        DtlsConfig {
            max_bad_records: 0,
            ..dtls(1200)
        },
    );
    write(&mut link.client, b"hello");
    let mut bad = link.take(Dir::ToServer).remove(0);
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert_eq!(
        link.deliver(Dir::ToServer, &bad),
        Err(Error::LimitExceeded(Limit::BadRecords))
    );
    let delay = link.server().blinding_delay().expect("blinding armed");
    assert!(
        (Duration::from_millis(10)..=Duration::from_millis(20)).contains(&delay),
        "{delay:?}"
    );
    let _ = link.pump();
    assert!(link.client.error().is_some());
    assert_eq!(link.client.blinding_delay(), None);
}

#[test]
fn nothing_goes_out_after_a_fatal_alert_behind_the_clients_finished() {
    // RFC 8446 6.2 (as RFC 6347 4.1.2.7 applies it): on a fatal alert the connection closes
    // at once. The client's Finished makes the server queue its last flight (ticket, CCS,
    // Finished); the alert in the same datagram, read next, must leave it unsent.
    let secrets = Arc::new(Secrets::default());
    let client = common::client_builder()
        .versions(&[ProtocolVersion::TLSv1_2])
        .key_log(secrets.clone())
        .build()
        .unwrap();
    let server = common::server_builder("ecdsa-p256")
        .versions(&[ProtocolVersion::TLSv1_2])
        .build()
        .unwrap();
    let mut link = Link::direct(client, server, dtls(1200));
    for dir in [Dir::ToServer, Dir::ToClient] {
        for d in link.take(dir) {
            link.deliver(dir, &d).unwrap();
        }
    }
    let flight = link.take(Dir::ToServer);
    let master = secrets.get("CLIENT_RANDOM").expect("master secret logged");
    // The client's Finished is record 0 of epoch 1.
    let alert = seal12(
        &link.client,
        &master,
        true,
        1,
        1,
        21,
        &[2, AlertDescription::InternalError.get()],
    );
    let (last, rest) = flight.split_last().unwrap();
    for d in rest {
        link.deliver(Dir::ToServer, d).unwrap();
    }
    let mut d = last.clone();
    d.extend_from_slice(&alert);
    let res = link.deliver(Dir::ToServer, &d);
    assert_eq!(res, Err(Error::AlertReceived(AlertDescription::InternalError)));
    assert!(!link.server().wants_write());
    assert_eq!(link.take(Dir::ToClient), Vec::<Vec<u8>>::new());
    assert_eq!(link.server().poll_timeout(), None);
}

#[test]
fn hello_from_a_future_dtls_version_is_answered_with_dtls12() {
    // RFC 6347 4.1: DTLS versions count down. A ClientHello whose legacy_version is below
    // 0xFEFD (a newer minor 0xFE00, a newer major 0xFDFF) is parsed with its cookie field and
    // answered with the highest version we share, DTLS 1.2.
    for v in [0xfe00u16, 0xfdff] {
        let client = common::client_builder()
            .versions(&[ProtocolVersion::TLSv1_2])
            .customize_client_hello(move |h| h.legacy_version = ProtocolVersion::from(v))
            .build()
            .unwrap();
        let server = common::server_builder("ecdsa-p256").build().unwrap();
        let mut link = Link::new(client, server, dtls(1200));
        link.pump().unwrap();
        assert!(
            !link.server().is_handshaking(),
            "{v:#x}: {:?}",
            link.server().error()
        );
        assert_eq!(link.server().protocol_version(), Some(ProtocolVersion::DTLSv1_2));
        assert!(!link.client.is_handshaking(), "{v:#x}: {:?}", link.client.error());
    }
}

/// The record observer hears each handshake message we send with its body length, the same
/// on DTLS 1.2 as over TLS: the 12-byte DTLS header is not counted (a TLS 1.2 Finished body is
/// 12 bytes of verify_data, RFC 5246 7.4.9).
#[test]
fn record_observer_reports_sent_handshake_bodies_without_the_dtls_header() {
    #[derive(Default)]
    struct Sent(std::sync::Mutex<Vec<(sanstls::codec::HandshakeType, usize)>>);
    impl sanstls::RecordObserver for Sent {
        fn handshake(&self, dir: sanstls::Direction, typ: sanstls::codec::HandshakeType, len: usize, _: u16) {
            if dir == sanstls::Direction::Sent {
                self.0.lock().unwrap().push((typ, len));
            }
        }
    }
    let seen = Arc::new(Sent::default());
    let client = common::client_builder()
        .versions(&[ProtocolVersion::TLSv1_2])
        .record_observer(seen.clone())
        .build()
        .unwrap();
    let (_, server) = configs("ecdsa-p256");
    let mut link = Link::new(client, server, dtls(1200));
    link.pump().unwrap();
    assert!(!link.client.is_handshaking());
    let sent = seen.0.lock().unwrap().clone();
    assert!(
        sent.contains(&(sanstls::codec::HandshakeType::Finished, 12)),
        "{sent:?}"
    );
}

/// A copy of the HelloVerifyRequest that arrives once the server's next flight has begun (a
/// duplicate, or a replay by an attacker) is stale: the server had our second ClientHello,
/// so nothing is sent again (RFC 6347 4.2.4 answers a repeated flight only while we still
/// wait for the next one).
#[test]
fn stale_hello_verify_request_after_the_server_hello_is_ignored() {
    let (c, s) = configs("ecdsa-p256");
    let mut link = Link::new(c, s, dtls(400));
    // The acceptor's HelloVerifyRequest goes straight to the client.
    for d in link.take(Dir::ToServer) {
        link.deliver(Dir::ToServer, &d).unwrap();
    }
    let hvr = link.wire[1].1.clone();
    assert_eq!(hvr[13], 3, "a HelloVerifyRequest");
    for d in link.take(Dir::ToServer) {
        link.deliver(Dir::ToServer, &d).unwrap();
    }
    let flight = link.take(Dir::ToClient);
    assert!(flight.len() > 1, "the server's flight spans datagrams");
    assert_eq!(flight[0][13], 2, "the ServerHello first");
    link.deliver(Dir::ToClient, &flight[0]).unwrap();
    link.deliver(Dir::ToClient, &hvr).unwrap();
    assert!(
        link.take(Dir::ToServer).is_empty(),
        "the ClientHello was sent again"
    );
    for d in &flight[1..] {
        link.deliver(Dir::ToClient, d).unwrap();
    }
    link.pump().unwrap();
    assert!(!link.client.is_handshaking() && !link.server().is_handshaking());
}

/// RFC 9001 8.2: quic_transport_parameters outside QUIC is unsupported_extension, also on a
/// DTLS 1.2-only server, whose handshake starts in the TLS 1.2 machine.
#[test]
fn quic_transport_parameters_are_refused_by_a_dtls12_server() {
    use sanstls::msgs::ClientExtension;
    let client = common::client_builder()
        .versions(&[ProtocolVersion::TLSv1_2])
        .customize_client_hello(|h| {
            h.extensions
                .push(ClientExtension::QuicTransportParameters(vec![1, 2]))
        })
        .build()
        .unwrap();
    let (_, server) = configs("ecdsa-p256");
    let mut link = Link::new(client, server, dtls(1200));
    let err = link.pump().unwrap_err();
    assert_eq!(
        err.alert(),
        Some(AlertDescription::UnsupportedExtension),
        "{err:?}"
    );
    // The server's alert reaches the client on the next round.
    let _ = link.pump();
    assert_eq!(
        link.client.error(),
        Some(&Error::AlertReceived(AlertDescription::UnsupportedExtension))
    );
}

/// One way to start a DTLS client: a DTLS 1.2-only config's ClientHello comes from the same
/// client machine as a DTLS 1.3 one and says DTLS 1.2 (RFC 6347 4.2.1: legacy_version
/// 0xFEFD, a cookie field), offers only TLS 1.2 suites, none of TLS 1.3's extensions and no
/// post-quantum hybrid group (those exist only in (D)TLS 1.3); its handshake completes.
#[test]
fn dtls12_only_client_hello_offers_only_what_dtls12_uses() {
    let hellos = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = hellos.clone();
    let client = common::client_builder()
        .versions(&[ProtocolVersion::TLSv1_2])
        .customize_client_hello(move |h| seen.lock().unwrap().push(h.clone()))
        .build()
        .unwrap();
    let (_, server) = configs("ecdsa-p256");
    let mut link = Link::new(client, server, dtls(1200));
    link.pump().unwrap();
    assert!(!link.client.is_handshaking(), "{:?}", link.client.error());
    assert_eq!(link.client.protocol_version(), Some(ProtocolVersion::DTLSv1_2));
    let hellos = hellos.lock().unwrap();
    let hello = hellos.first().expect("a ClientHello");
    assert_eq!(hello.legacy_version, ProtocolVersion::DTLSv1_2);
    assert!(hello.cookie.is_some());
    assert!(!hello.cipher_suites.is_empty());
    for suite in &hello.cipher_suites {
        assert_ne!(u16::from(*suite) >> 8, 0x13, "a TLS 1.3 suite: {suite:?}");
    }
    assert!(hello.supported_versions().is_none() && hello.key_shares().is_none());
    let groups = hello.supported_groups().expect("supported_groups");
    assert!(!groups.is_empty());
    for group in groups {
        assert!(
            !(0x11eb..=0x11ed).contains(&u16::from(*group)),
            "a hybrid group in a DTLS 1.2 hello: {group:?}"
        );
    }
}

/// Runs the handshake until the server has the client's Finished; returns the server's last
/// flight (NewSessionTicket, ChangeCipherSpec, Finished), taken, not delivered, record by
/// record.
fn server_last_flight_records(link: &mut Link) -> Vec<Vec<u8>> {
    for _ in 0..10 {
        for d in link.take(Dir::ToServer) {
            link.deliver(Dir::ToServer, &d).unwrap();
        }
        if link.server.as_ref().is_some_and(|s| !s.is_handshaking()) {
            return link
                .take(Dir::ToClient)
                .iter()
                .flat_map(|d| split_records(d))
                .collect();
        }
        for d in link.take(Dir::ToClient) {
            link.deliver(Dir::ToClient, &d).unwrap();
        }
    }
    panic!("the server did not complete in 10 rounds");
}

/// RFC 6347 4.1: records may be reordered. A ChangeCipherSpec that overtakes the
/// NewSessionTicket before it in the server's flight is held until the ticket is in, not
/// dropped (the server has no timer on its last flight: dropping it would stall the client
/// until its own timer fires).
#[test]
fn ccs_overtaking_the_ticket_of_its_flight_is_taken_after_it() {
    let (c, s) = configs("ecdsa-p256");
    let mut link = Link::new(c, s, dtls(1200));
    let recs = server_last_flight_records(&mut link);
    let types: Vec<u8> = recs.iter().map(|r| r[0]).collect();
    assert_eq!(types, [22, 20, 22], "NewSessionTicket, CCS, Finished");
    for i in [1, 0, 2] {
        link.deliver(Dir::ToClient, &recs[i]).unwrap();
    }
    assert!(!link.client.is_handshaking(), "client: {:?}", link.client.error());
    // The client's timer (on its Finished flight) has nothing left to resend.
    assert!(link.take(Dir::ToServer).is_empty());
    write(&mut link.client, b"after");
    link.pump().unwrap();
    assert_eq!(read_all(link.server()), b"after");
}

/// A copy of the peer's flight that arrives right after our answer went out is a duplicate
/// (the network's, or a peer that sends each record twice), answered by nothing; one that
/// comes after the peer's timer is a retransmission, answered at once (RFC 6347 4.2.4;
/// `lost_flight_is_retransmitted_with_doubling_timeouts`).
#[test]
fn duplicate_of_the_peers_flight_during_the_handshake_is_not_answered() {
    let (c, s) = configs("ecdsa-p256");
    let mut link = Link::new(c, s, dtls(1200));
    // ClientHello, the acceptor's HelloVerifyRequest, the ClientHello with the cookie.
    for _ in 0..2 {
        for d in link.take(Dir::ToServer) {
            link.deliver(Dir::ToServer, &d).unwrap();
        }
    }
    let flight = link.take(Dir::ToClient);
    assert!(!flight.is_empty());
    for d in &flight {
        link.deliver(Dir::ToClient, d).unwrap();
    }
    let answer = link.take(Dir::ToServer);
    assert!(!answer.is_empty(), "the client answered the server's flight");
    for d in &flight {
        link.deliver(Dir::ToClient, d).unwrap();
    }
    assert!(link.take(Dir::ToServer).is_empty(), "a duplicate was answered");
    // The server's timer resends its flight (it never got the answer): a retransmission,
    // answered at once.
    let at = link.server().poll_timeout().unwrap();
    link.now = at;
    link.server().handle_timeout(at).unwrap();
    let again = link.take(Dir::ToClient);
    assert!(!again.is_empty());
    for d in &again {
        link.deliver(Dir::ToClient, d).unwrap();
    }
    assert!(
        !link.take(Dir::ToServer).is_empty(),
        "a retransmission went unanswered"
    );
}
