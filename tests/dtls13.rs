//! DTLS 1.3 (RFC 9147) over an in-memory link: our client against our server, through the
//! stateless HelloRetryRequest cookie of the acceptor, with the unified header, encrypted
//! sequence numbers, ACKs, selective retransmission and KeyUpdate. Every record on the wire
//! is opened with the secrets of the key log (`common::dtls::decode_wire`), so the tests
//! assert what was sent, under which epoch, and what each ACK acknowledged.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::dtls::{
    data_flows_both_ways, decode_wire, events, handshake_message, lossy_link_runs, plain_handshake,
    plain_record, read_all, seal13, split_records, write, Dir, Link, Lossy, Secrets, SeededRandom,
    WireRecord, CLIENT_ADDR,
};
use sanstls::codec::{
    AlertDescription, CipherSuite, ContentType, HandshakeType, NamedGroup, ProtocolVersion,
};
use sanstls::conn::ClientSessions12;
use sanstls::dtls::{Accepted, Ack, DtlsAcceptor, DtlsConfig, DtlsConnection, RecordNumber};
use sanstls::pki::{TrustAnchors, WebPkiClientVerifier};
use sanstls::{ClientConfig, Error, Event, Limit, Parameter, PeerMisbehaved, ServerConfig};

const SUITES13: [CipherSuite; 3] = [
    CipherSuite::TLS_AES_128_GCM_SHA256,
    CipherSuite::TLS_AES_256_GCM_SHA384,
    CipherSuite::TLS_CHACHA20_POLY1305_SHA256,
];

const GROUPS: [NamedGroup; 3] = [NamedGroup::x25519, NamedGroup::secp256r1, NamedGroup::secp384r1];

/// ServerHello.random of a HelloRetryRequest (RFC 8446 4.1.3).
const HRR_RANDOM: [u8; 32] = sanstls::msgs::HRR_RANDOM;

fn dtls(mtu: usize) -> DtlsConfig {
    DtlsConfig {
        mtu,
        ..DtlsConfig::default()
    }
}

/// Default configs (TLS 1.3 and 1.2 enabled on both sides: DTLS 1.3 is negotiated), the
/// client logging its secrets.
fn configs(kind: &str) -> (Arc<ClientConfig>, Arc<ServerConfig>, Arc<Secrets>) {
    let secrets = Arc::new(Secrets::default());
    (
        common::client_builder().key_log(secrets.clone()).build().unwrap(),
        common::server_builder(kind).build().unwrap(),
        secrets,
    )
}

fn assert_established(link: &mut Link) {
    link.assert_established();
    assert_eq!(link.client.protocol_version(), Some(ProtocolVersion::DTLSv1_3));
    assert_eq!(link.server().protocol_version(), Some(ProtocolVersion::DTLSv1_3));
}

/// A DTLS 1.3 connection through the acceptor (stateless HelloRetryRequest), settled.
fn established(kind: &str, mtu: usize) -> (Link, Arc<Secrets>) {
    let (c, s, secrets) = configs(kind);
    let mut link = Link::new(c, s, dtls(mtu));
    link.settle().unwrap();
    assert_established(&mut link);
    events(&mut link.client);
    events(link.server());
    (link, secrets)
}

fn suite(link: &Link) -> CipherSuite {
    link.client.cipher_suite().expect("negotiated suite")
}

/// Every record of the link's wire from datagram `from` on, opened.
fn wire(link: &Link, secrets: &Secrets, from: usize) -> Vec<WireRecord> {
    decode_wire(&link.wire, from, secrets, suite(link))
}

/// The record number of a decoded record.
fn rn(r: &WireRecord) -> RecordNumber {
    RecordNumber::new(r.epoch, r.seq)
}

/// The next sequence number of `dir`'s sender in `epoch`, from what went on the wire.
fn next_seq(link: &Link, secrets: &Secrets, dir: Dir, epoch: u64) -> u64 {
    wire(link, secrets, 0)
        .iter()
        .filter(|r| r.dir == dir && r.epoch == epoch && r.typ.is_some())
        .map(|r| r.seq + 1)
        .max()
        .unwrap_or(0)
}

fn all_acked(acks: &[Ack]) -> Vec<RecordNumber> {
    acks.iter().flat_map(|a| a.record_numbers.clone()).collect()
}

/// Moves what `dir`'s sender has now to the other side; returns what was sent.
fn forward(link: &mut Link, dir: Dir) -> Vec<Vec<u8>> {
    let ds = link.take(dir);
    for d in &ds {
        link.deliver(dir, d).unwrap();
    }
    ds
}

/// Runs `conn`'s timer at its deadline (advancing the link clock there).
fn fire_timer(link: &mut Link, side: Dir) {
    let conn = match side {
        Dir::ToServer => &mut link.client,
        Dir::ToClient => link.server.as_mut().unwrap(),
    };
    let at = conn.poll_timeout().expect("a timer runs");
    link.now = link.now.max(at);
    let now = link.now;
    let conn = match side {
        Dir::ToServer => &mut link.client,
        Dir::ToClient => link.server.as_mut().unwrap(),
    };
    conn.handle_timeout(now).unwrap();
}

// ---- Handshakes

#[test]
fn every_suite_group_and_key_type_completes() {
    for kind in common::KEY_TYPES {
        let s = common::server_builder(kind).build().unwrap();
        for suite in SUITES13 {
            for group in GROUPS {
                let c = common::client_builder()
                    .cipher_suites(&[suite])
                    .groups(&[group])
                    .build()
                    .unwrap();
                let mut link = Link::new(c, s.clone(), dtls(1200));
                link.pump().unwrap();
                assert_established(&mut link);
                for conn in [&mut link.client, link.server.as_mut().unwrap()] {
                    assert_eq!(conn.cipher_suite(), Some(suite), "{kind}");
                    assert_eq!(conn.key_exchange_group(), Some(group), "{kind} {suite:?}");
                    assert_eq!(conn.read_epoch(), 3);
                    assert_eq!(conn.write_epoch(), 3);
                }
                data_flows_both_ways(&mut link, b"to server", b"to client");
            }
        }
    }
}

#[test]
fn handshake_on_the_wire() {
    let (c, s, secrets) = configs("ecdsa-p256");
    let mut link = Link::new(c, s, dtls(1200));
    link.settle().unwrap();
    assert_established(&mut link);
    // One stateless HelloRetryRequest (the cookie), no HelloVerifyRequest.
    assert_eq!((link.hrrs, link.hvrs), (1, 0));
    for conn in [&mut link.client, link.server.as_mut().unwrap()] {
        assert_eq!(conn.protocol_version().unwrap().name(), Some("DTLSv1.3"));
        assert_eq!(events(conn)[0], Event::HandshakeComplete);
        assert!(!conn.is_resumed());
    }
    assert_eq!(link.client.server_name(), Some("localhost"));
    assert_eq!(link.server().server_name(), Some("localhost"));
    assert!(!link.client.peer_certificates().is_empty());

    // The client offered DTLS 1.3 and DTLS 1.2: supported_versions = [0xFEFC, 0xFEFD].
    let ch = &link.wire[0].1;
    assert!(
        ch.windows(9)
            .any(|w| w == [0, 43, 0, 5, 4, 0xfe, 0xfc, 0xfe, 0xfd]),
        "supported_versions"
    );

    let recs = wire(&link, &secrets, 0);
    for r in &recs {
        // Every record opens with the secrets of the key log (derived with "dtls13").
        assert!(r.typ.is_some(), "record nobody can open: {r:?}");
        // No ChangeCipherSpec, ever (RFC 9147 5: no compatibility mode).
        assert_ne!(r.typ, Some(ContentType::ChangeCipherSpec), "{r:?}");
        if r.epoch == 0 {
            // DTLSPlaintext: 13-byte header, version 0xFEFD (RFC 9147 4), but 0xFEFF on
            // the initial ClientHello ("for compatibility purposes", RFC 9147 5).
            let initial_hello = r.dir == Dir::ToServer && r.datagram == 0;
            let want = if initial_hello { 0xfeff } else { 0xfefd };
            assert_eq!(r.version, Some(want), "{r:?}");
            assert!(matches!(r.typ, Some(ContentType::Handshake | ContentType::Alert)));
        } else {
            // Unified header 001 C=0 S=1 L=1 EE (RFC 9147 4).
            assert!(r.version.is_none(), "{r:?}");
            assert_eq!(r.first, 0x2c | (r.epoch & 3) as u8, "{r:?}");
            assert!(r.epoch >= 2, "{r:?}");
        }
    }
    // In the clear only the hellos; everything after the ServerHello is encrypted.
    let plain: Vec<HandshakeType> = recs
        .iter()
        .filter(|r| r.epoch == 0)
        .flat_map(|r| r.fragments())
        .map(|f| f.0)
        .collect();
    assert!(
        plain
            .iter()
            .all(|t| *t == HandshakeType::ClientHello || *t == HandshakeType::ServerHello),
        "{plain:?}"
    );
    let server_hs: Vec<HandshakeType> = recs
        .iter()
        .filter(|r| r.dir == Dir::ToClient && r.epoch == 2)
        .flat_map(|r| r.fragments())
        .map(|f| f.0)
        .collect();
    for t in [
        HandshakeType::EncryptedExtensions,
        HandshakeType::Certificate,
        HandshakeType::CertificateVerify,
        HandshakeType::Finished,
    ] {
        assert!(server_hs.contains(&t), "{t:?} not in epoch 2: {server_hs:?}");
    }
    // message_seq (RFC 9147 5.2): the HelloRetryRequest answers the first hello with its
    // number 0, the second hello is 1 and the ServerHello answers it as 1; then each side
    // counts on.
    let seqs: Vec<(Dir, HandshakeType, u16)> = recs
        .iter()
        .flat_map(|r| r.fragments().into_iter().map(move |f| (r.dir, f.0, f.1)))
        .collect();
    let mut unique = seqs.clone();
    unique.dedup();
    assert_eq!(
        unique,
        [
            (Dir::ToServer, HandshakeType::ClientHello, 0),
            (Dir::ToClient, HandshakeType::ServerHello, 0),
            (Dir::ToServer, HandshakeType::ClientHello, 1),
            (Dir::ToClient, HandshakeType::ServerHello, 1),
            (Dir::ToClient, HandshakeType::EncryptedExtensions, 2),
            (Dir::ToClient, HandshakeType::Certificate, 3),
            (Dir::ToClient, HandshakeType::CertificateVerify, 4),
            (Dir::ToClient, HandshakeType::Finished, 5),
            (Dir::ToServer, HandshakeType::Finished, 2),
            (Dir::ToClient, HandshakeType::NewSessionTicket, 6),
            (Dir::ToClient, HandshakeType::NewSessionTicket, 7),
        ]
    );
    let fin = recs
        .iter()
        .find(|r| r.dir == Dir::ToServer && r.is_handshake(HandshakeType::Finished))
        .expect("client Finished");
    assert_eq!(fin.epoch, 2);
    // The server ACKs the client's Finished (RFC 9147 5.8.3, 7).
    let acks: Vec<Ack> = recs
        .iter()
        .filter(|r| r.dir == Dir::ToClient)
        .filter_map(WireRecord::ack)
        .collect();
    assert!(all_acked(&acks).contains(&rn(fin)), "{acks:?}");
    // Application data goes in epoch 3.
    write(&mut link.client, b"ping");
    let n = link.wire.len();
    link.pump().unwrap();
    assert_eq!(read_all(link.server()), b"ping");
    let data = wire(&link, &secrets, n);
    let data = data
        .iter()
        .find(|r| r.typ == Some(ContentType::ApplicationData))
        .unwrap();
    assert_eq!(
        (data.epoch, &data.content[..], data.first),
        (3, &b"ping"[..], 0x2f)
    );

    // The key log has the TLS 1.3 labels, nothing of TLS 1.2.
    let labels = secrets.labels();
    for l in [
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
        "SERVER_HANDSHAKE_TRAFFIC_SECRET",
        "CLIENT_TRAFFIC_SECRET_0",
        "SERVER_TRAFFIC_SECRET_0",
        "EXPORTER_SECRET",
    ] {
        assert!(labels.iter().any(|x| x == l), "{l} not logged: {labels:?}");
    }
    assert!(!labels.iter().any(|x| x == "CLIENT_RANDOM"));

    // Exporter: the same on both sides, not the one of a DTLS 1.2 connection.
    let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
    link.client
        .export_keying_material(&mut a, b"EXPORTER-test", Some(b"ctx"))
        .unwrap();
    link.server()
        .export_keying_material(&mut b, b"EXPORTER-test", Some(b"ctx"))
        .unwrap();
    assert_eq!(a, b);
    let mut other = [0u8; 32];
    link.client
        .export_keying_material(&mut other, b"EXPORTER-other", Some(b"ctx"))
        .unwrap();
    assert_ne!(a, other);
    let c12 = common::client_builder()
        .versions(&[ProtocolVersion::TLSv1_2])
        .build()
        .unwrap();
    let s12 = common::server_builder("ecdsa-p256").build().unwrap();
    let mut link12 = Link::new(c12, s12, dtls(1200));
    link12.pump().unwrap();
    assert_eq!(link12.client.protocol_version(), Some(ProtocolVersion::DTLSv1_2));
    let mut c = [0u8; 32];
    link12
        .client
        .export_keying_material(&mut c, b"EXPORTER-test", Some(b"ctx"))
        .unwrap();
    assert_ne!(a, c);

    // Both timers stop once the handshake is over and acknowledged.
    assert_eq!(link.client.poll_timeout(), None);
    assert_eq!(link.server().poll_timeout(), None);
}

#[test]
fn large_chain_is_fragmented_to_the_mtu() {
    let (mut link, secrets) = established("rsa2048", 256);
    assert!(link.wire.iter().all(|(_, d)| d.len() <= 256));
    let recs = wire(&link, &secrets, 0);
    let cert_fragments = recs
        .iter()
        .filter(|r| r.dir == Dir::ToClient)
        .flat_map(|r| r.fragments())
        .filter(|f| f.0 == HandshakeType::Certificate)
        .count();
    assert!(cert_fragments >= 3, "Certificate in {cert_fragments} fragments");
    write(&mut link.client, &[1; 1000]);
    link.pump().unwrap();
    assert_eq!(read_all(link.server()), vec![1; 1000]);
}

#[test]
fn flight_messages_share_records_and_fill_datagrams() {
    // RFC 9147 5.5 (RFC 8446 5.1): handshake messages of one epoch may share a record. The
    // server's encrypted flight goes out as few records and datagrams as the MTU allows.
    let (c, s, secrets) = configs("ecdsa-p256");
    let mut link = Link::direct(c, s, dtls(1200));
    forward(&mut link, Dir::ToServer);
    let from = link.wire.len();
    let flight = link.take(Dir::ToClient);
    assert_eq!(flight.len(), 1);
    link.deliver(Dir::ToClient, &flight[0]).unwrap();
    let recs: Vec<WireRecord> = wire(&link, &secrets, from)
        .into_iter()
        .filter(|r| r.dir == Dir::ToClient)
        .collect();
    let encrypted: Vec<&WireRecord> = recs.iter().filter(|r| r.epoch == 2).collect();
    assert_eq!(encrypted.len(), 1, "{recs:?}");
    let types: Vec<HandshakeType> = encrypted[0].fragments().iter().map(|f| f.0).collect();
    assert_eq!(
        types,
        [
            HandshakeType::EncryptedExtensions,
            HandshakeType::Certificate,
            HandshakeType::CertificateVerify,
            HandshakeType::Finished
        ]
    );

    // A flight larger than the MTU: every datagram but the last is full, a message starting
    // in the room the previous one left (no room for a further fragment: its 12-byte header
    // and a byte, in a record of its own (at most 22 bytes of overhead) or in the same one).
    let (c, s, secrets) = configs("rsa2048");
    let mut link = Link::direct(c, s, dtls(300));
    forward(&mut link, Dir::ToServer);
    let from = link.wire.len();
    let flight = link.take(Dir::ToClient);
    assert!(flight.len() >= 4, "{} datagrams", flight.len());
    for d in &flight[..flight.len() - 1] {
        assert!(d.len() > 300 - 13, "datagram of {} bytes", d.len());
    }
    for d in &flight {
        link.deliver(Dir::ToClient, d).unwrap();
    }
    let recs: Vec<WireRecord> = wire(&link, &secrets, from)
        .into_iter()
        .filter(|r| r.dir == Dir::ToClient)
        .collect();
    // One encrypted record per datagram.
    let encrypted: Vec<&WireRecord> = recs.iter().filter(|r| r.epoch == 2).collect();
    assert_eq!(encrypted.len(), flight.len(), "{recs:?}");
    link.pump().unwrap();
    assert_established(&mut link);
}

#[test]
fn second_client_hello_over_the_mtu_passes_the_acceptor() {
    // At MTU 256 the first hello fits one datagram; with the cookie the second does not.
    let (c, s, _) = configs("ecdsa-p256");
    let mut link = Link::new(c, s, dtls(256));
    link.pump().unwrap();
    assert_established(&mut link);
    assert_eq!((link.hrrs, link.hvrs), (1, 0));
    let ch2_datagrams = link
        .wire
        .iter()
        .filter(|(d, r)| *d == Dir::ToServer && r[0] == 22 && r[13] == 1 && r[17..19] == [0, 1])
        .count();
    assert!(ch2_datagrams >= 2, "second hello in {ch2_datagrams} datagram(s)");
}

// ---- Version negotiation

fn versions(v: &[ProtocolVersion]) -> (Arc<ClientConfig>, Arc<ServerConfig>) {
    (
        common::client_builder().versions(v).build().unwrap(),
        common::server_builder("ecdsa-p256").versions(v).build().unwrap(),
    )
}

fn negotiated(c: Arc<ClientConfig>, s: Arc<ServerConfig>, direct: bool) -> Link {
    let mut link = if direct {
        Link::direct(c, s, dtls(1200))
    } else {
        Link::new(c, s, dtls(1200))
    };
    link.pump().unwrap();
    link.assert_established();
    let v = link.client.protocol_version();
    assert_eq!(link.server().protocol_version(), v);
    write(&mut link.client, b"hi");
    link.pump().unwrap();
    assert_eq!(read_all(link.server()), b"hi");
    link
}

#[test]
fn client_offering_13_and_12_gets_12_from_a_12_only_server() {
    let (c, _) = versions(&[ProtocolVersion::TLSv1_3, ProtocolVersion::TLSv1_2]);
    let (_, s) = versions(&[ProtocolVersion::TLSv1_2]);
    // Through the acceptor: the hello offering both is answered with a HelloVerifyRequest.
    let link = negotiated(c.clone(), s.clone(), false);
    assert_eq!(link.client.protocol_version(), Some(ProtocolVersion::DTLSv1_2));
    assert_eq!((link.hvrs, link.hrrs), (1, 0));
    let link = negotiated(c, s, true);
    assert_eq!(link.client.protocol_version(), Some(ProtocolVersion::DTLSv1_2));
}

/// A client whose first hello carries three key shares: more than a 300-byte datagram holds.
fn three_share_client() -> Arc<ClientConfig> {
    common::client_builder()
        .groups(&[NamedGroup::x25519, NamedGroup::secp256r1, NamedGroup::secp384r1])
        .key_share_groups(3)
        .build()
        .unwrap()
}

#[test]
fn first_hello_in_pieces_gets_a_hello_retry_request_not_a_hello_verify_request() {
    // At MTU 300 the first ClientHello (offering DTLS 1.3 and 1.2) takes several datagrams.
    // The acceptor reassembles it and answers with a stateless HelloRetryRequest: a
    // HelloVerifyRequest would put a legacy_cookie in the second hello, which a DTLS 1.3
    // server must refuse (RFC 9147 5.3).
    let c = three_share_client();
    let s = common::server_builder("ecdsa-p256").build().unwrap();
    let mut link = Link::new(c, s, dtls(300));
    let first = link.take(Dir::ToServer);
    assert!(
        first.len() > 1,
        "the first hello fits no single 300-byte datagram"
    );
    for d in &first {
        link.deliver(Dir::ToServer, d).unwrap();
    }
    assert_eq!((link.hvrs, link.hrrs), (0, 1));
    link.pump().unwrap();
    assert_eq!(link.client.protocol_version(), Some(ProtocolVersion::DTLSv1_3));
    assert_eq!(link.server().protocol_version(), Some(ProtocolVersion::DTLSv1_3));
    write(&mut link.client, b"in pieces");
    link.pump().unwrap();
    assert_eq!(read_all(link.server()), b"in pieces");
}

#[test]
fn pieces_of_first_hellos_are_held_for_a_bounded_number_of_addresses() {
    use sanstls::dtls::acceptor::MAX_PENDING_HELLOS;
    let now = Instant::now();
    let c = three_share_client();
    let s = common::server_builder("ecdsa-p256").build().unwrap();
    let mut client = DtlsConnection::client(c, "localhost", dtls(300), now).unwrap();
    let mut acceptor = DtlsAcceptor::new(s, dtls(300), now).unwrap();
    let mut pieces = Vec::new();
    let mut buf = vec![0u8; 300];
    while let Some(n) = client.poll_datagram(&mut buf) {
        pieces.push(buf[..n].to_vec());
    }
    assert!(pieces.len() > 1);
    let (first, rest) = pieces.split_first().unwrap();
    // How many HelloRetryRequests the pieces of one hello from `addr` get.
    let retries = |acceptor: &mut DtlsAcceptor, addr: &[u8]| {
        [first]
            .into_iter()
            .chain(rest)
            .filter(|d| matches!(acceptor.accept(d, addr, now), Accepted::HelloRetryRequest(_)))
            .count()
    };
    // The first piece from our address, then first pieces from as many other addresses as
    // are held: ours is pushed out, and the rest of it alone is not answered.
    assert!(matches!(acceptor.accept(first, b"ours", now), Accepted::Dropped));
    for i in 0..MAX_PENDING_HELLOS {
        assert!(matches!(
            acceptor.accept(first, format!("spoof {i}").as_bytes(), now),
            Accepted::Dropped
        ));
    }
    for d in rest {
        assert!(matches!(acceptor.accept(d, b"ours", now), Accepted::Dropped));
    }
    // The client's retransmission of the whole hello is answered once.
    assert_eq!(retries(&mut acceptor, b"ours"), 1);
    assert_eq!(retries(&mut acceptor, b"fresh"), 1);
    // Pieces too old are forgotten: the rest of a hello 10 s later starts a new one.
    assert!(matches!(acceptor.accept(first, b"late", now), Accepted::Dropped));
    let later = now + Duration::from_secs(11);
    for d in rest {
        assert!(matches!(acceptor.accept(d, b"late", later), Accepted::Dropped));
    }
}

#[test]
fn dtls13_server_hello_after_a_hello_verify_request_is_refused() {
    // RFC 9147 5.3: a DTLS 1.3 server aborts on a non-empty legacy_cookie, so a DTLS 1.3
    // ServerHello cannot answer the hello we sent with a HelloVerifyRequest's cookie.
    let now = Instant::now();
    let (c, _) = versions(&[ProtocolVersion::TLSv1_3, ProtocolVersion::TLSv1_2]);
    let (_, s12) = versions(&[ProtocolVersion::TLSv1_2]);
    let mut client = DtlsConnection::client(c.clone(), "localhost", dtls(1200), now).unwrap();
    let mut acceptor12 = DtlsAcceptor::new(s12, dtls(1200), now).unwrap();
    let mut buf = vec![0u8; 1200];
    let n = client.poll_datagram(&mut buf).unwrap();
    let Accepted::HelloVerifyRequest(hvr) = acceptor12.accept(&buf[..n], b"client", now) else {
        panic!("a DTLS 1.2 server answers with a HelloVerifyRequest");
    };
    client.recv_datagram(&hvr, now).unwrap();
    assert!(
        client.poll_datagram(&mut buf).is_some(),
        "the hello again, with the cookie"
    );

    // A DTLS 1.3 ServerHello from another handshake of a server that speaks both.
    let (c2, s) = versions(&[ProtocolVersion::TLSv1_3, ProtocolVersion::TLSv1_2]);
    let mut other = Link::direct(c2, s, dtls(1200));
    for d in other.take(Dir::ToServer) {
        other.deliver(Dir::ToServer, &d).unwrap();
    }
    let mut server_hello = other.take(Dir::ToClient).remove(0);
    // It answers the second hello: message_seq 1 (record header 13 bytes, then type and
    // length 4 bytes; plaintext, so nothing else changes).
    assert_eq!(server_hello[13], HandshakeType::ServerHello.get());
    server_hello[17..19].copy_from_slice(&[0, 1]);
    let err = client.recv_datagram(&server_hello, now).unwrap_err();
    assert_eq!(
        err,
        Error::PeerMisbehaved(PeerMisbehaved::IllegalParameter(
            Parameter::Dtls13AfterHelloVerifyRequest
        ))
    );
    assert_eq!(
        client.last_alert_sent().map(|a| a.description),
        Some(AlertDescription::IllegalParameter)
    );
}

#[test]
fn client_offering_12_only_gets_12_from_a_13_and_12_server() {
    let (c, _) = versions(&[ProtocolVersion::TLSv1_2]);
    let (_, s) = versions(&[ProtocolVersion::TLSv1_3, ProtocolVersion::TLSv1_2]);
    let link = negotiated(c.clone(), s.clone(), false);
    assert_eq!(link.client.protocol_version(), Some(ProtocolVersion::DTLSv1_2));
    assert_eq!((link.hvrs, link.hrrs), (1, 0));
    let link = negotiated(c, s, true);
    assert_eq!(link.client.protocol_version(), Some(ProtocolVersion::DTLSv1_2));
}

#[test]
fn both_13_gets_13() {
    let (c, s) = versions(&[ProtocolVersion::TLSv1_3]);
    let link = negotiated(c.clone(), s.clone(), false);
    assert_eq!(link.client.protocol_version(), Some(ProtocolVersion::DTLSv1_3));
    assert_eq!((link.hvrs, link.hrrs), (0, 1));
    // The hello offers DTLS 1.3 only.
    assert!(link.wire[0]
        .1
        .windows(7)
        .any(|w| w == [0, 43, 0, 3, 2, 0xfe, 0xfc]));
    let link = negotiated(c, s, true);
    assert_eq!(link.client.protocol_version(), Some(ProtocolVersion::DTLSv1_3));
}

/// legacy_session_id (ClientHello) or legacy_session_id_echo (ServerHello, HelloRetryRequest)
/// of a datagram whose first record is a plaintext hello: record header (13), handshake header
/// (12), legacy_version (2), random (32), then the length-prefixed id.
fn hello_session_id(datagram: &[u8]) -> &[u8] {
    let at = 13 + 12 + 2 + 32;
    &datagram[at + 1..at + 1 + usize::from(datagram[at])]
}

#[test]
fn server_never_echoes_the_legacy_session_id() {
    // A DTLS 1.2 session resumable by id makes the hello offering 1.3 and 1.2 carry its id.
    let store = Arc::new(ClientSessions12::new(4));
    let both = [ProtocolVersion::TLSv1_3, ProtocolVersion::TLSv1_2];
    let client = || {
        common::client_builder()
            .versions(&both)
            .session_store12(store.clone())
            .tickets12(false)
            .build()
            .unwrap()
    };
    let server = |v: &[ProtocolVersion]| {
        common::server_builder("ecdsa-p256")
            .versions(v)
            .tickets12(false)
            .build()
            .unwrap()
    };
    let link = negotiated(client(), server(&[ProtocolVersion::TLSv1_2]), true);
    assert_eq!(link.client.protocol_version(), Some(ProtocolVersion::DTLSv1_2));
    // RFC 9147 5: DTLS 1.3 has no compatibility mode; the server MUST NOT echo the client's
    // legacy_session_id, and the client accepts the empty echo.
    for direct in [true, false] {
        let link = negotiated(client(), server(&both), direct);
        assert_eq!(link.client.protocol_version(), Some(ProtocolVersion::DTLSv1_3));
        let hello = &link.wire[0];
        assert_eq!(hello.0, Dir::ToServer);
        assert_eq!(hello_session_id(&hello.1).len(), 32);
        let answer = link.wire.iter().find(|(d, _)| *d == Dir::ToClient).unwrap();
        // Direct: the ServerHello; through the acceptor: its stateless HelloRetryRequest. The
        // ServerHello after it answers a hello with the same id.
        assert_eq!(hello_session_id(&answer.1), b"");
        for (dir, d) in link.wire.iter().filter(|(d, _)| *d == Dir::ToClient) {
            if d[0] == 22 && d[13] == 2 {
                assert_eq!(hello_session_id(d), b"", "{dir:?}");
            }
        }
    }
}

#[test]
fn a_13_capable_server_answering_12_marks_its_random() {
    // RFC 8446 4.1.3 (DTLS 1.3 keeps TLS 1.3's downgrade protection): the last 8 bytes of
    // the ServerHello.random are "DOWNGRD" 01.
    let (c, _) = versions(&[ProtocolVersion::TLSv1_2]);
    let (_, s) = versions(&[ProtocolVersion::TLSv1_3, ProtocolVersion::TLSv1_2]);
    let mut link = negotiated(c, s, false);
    assert_eq!(&link.client.server_random()[24..], b"DOWNGRD\x01");
    assert_eq!(&link.server().server_random()[24..], b"DOWNGRD\x01");
    // A DTLS 1.2-only server does not.
    let (c, s) = versions(&[ProtocolVersion::TLSv1_2]);
    let link = negotiated(c, s, false);
    assert_ne!(&link.client.server_random()[24..], b"DOWNGRD\x01");
}

#[test]
fn client_offering_13_refuses_a_downgrade_to_12() {
    // Someone on the path takes DTLS 1.3 out of the hello: the server, which speaks DTLS 1.3,
    // answers DTLS 1.2 with the sentinel, and the client, which offered 1.3, must refuse
    // with illegal_parameter (RFC 8446 4.1.3).
    let c = common::client_builder()
        .customize_client_hello(|h| {
            for e in &mut h.extensions {
                if let sanstls::msgs::ClientExtension::SupportedVersions(v) = e {
                    v.retain(|v| *v != ProtocolVersion::DTLSv1_3);
                }
            }
        })
        .build()
        .unwrap();
    let s = common::server_builder("ecdsa-p256").build().unwrap();
    let mut link = Link::direct(c, s, dtls(1200));
    forward(&mut link, Dir::ToServer);
    assert_eq!(link.server().protocol_version(), Some(ProtocolVersion::DTLSv1_2));
    let flight = link.take(Dir::ToClient);
    let res = flight
        .iter()
        .map(|d| link.deliver(Dir::ToClient, d))
        .find(Result::is_err)
        .unwrap_or(Ok(()));
    assert_fatal(
        &mut link.client,
        res,
        AlertDescription::IllegalParameter,
        &Secrets::default(),
        None,
    );
}

// ---- The stateless HelloRetryRequest cookie (RFC 9147 5.1)

/// The value of extension `typ` in the hello (ClientHello, or ServerHello /
/// HelloRetryRequest) that a plaintext handshake record carries whole.
fn hello_extension(record: &[u8], typ: u16) -> Option<Vec<u8>> {
    let body = &record[25..];
    let mut at = 2 + 32;
    let sid = usize::from(body[at]);
    at += 1 + sid;
    // ClientHello: cookie<0..255>, suites<2..>, compression<1..>; ServerHello: suite(2),
    // compression(1).
    if record[13] == 1 {
        at += 1 + usize::from(body[at]);
        at += 2 + usize::from(u16::from_be_bytes([body[at], body[at + 1]]));
        at += 1 + usize::from(body[at]);
    } else {
        at += 3;
    }
    let end = at + 2 + usize::from(u16::from_be_bytes([body[at], body[at + 1]]));
    at += 2;
    while at + 4 <= end {
        let t = u16::from_be_bytes([body[at], body[at + 1]]);
        let len = usize::from(u16::from_be_bytes([body[at + 2], body[at + 3]]));
        if t == typ {
            return Some(body[at + 4..at + 4 + len].to_vec());
        }
        at += 4 + len;
    }
    None
}

fn is_hello_retry_request(d: &[u8]) -> bool {
    d.len() > 25 + 34 && d[0] == 22 && d[13] == 2 && d[25 + 2..25 + 34] == HRR_RANDOM
}

#[test]
fn acceptor_answers_a_13_hello_with_a_stateless_hello_retry_request() {
    let c = common::client_builder().build().unwrap();
    // Two server configs drawing the same bytes: two acceptors with one cookie secret.
    let server = || {
        common::server_builder("ecdsa-p256")
            .random(SeededRandom::new(7))
            .build()
            .unwrap()
    };
    let now = Instant::now();
    let mut acc = DtlsAcceptor::new(server(), dtls(1200), now).unwrap();
    let mut client = DtlsConnection::client(c, "localhost", dtls(1200), now).unwrap();
    let mut buf = [0u8; 1200];
    let n = client.poll_datagram(&mut buf).unwrap();
    let ch1 = buf[..n].to_vec();
    let Accepted::HelloRetryRequest(hrr) = acc.accept(&ch1, CLIENT_ADDR, now) else {
        panic!("no HelloRetryRequest")
    };
    // A DTLSPlaintext ServerHello with the HelloRetryRequest random, version 0xFEFD, the
    // hello's record number echoed, and a cookie.
    assert!(is_hello_retry_request(&hrr));
    assert_eq!(&hrr[1..3], &[0xfe, 0xfd]);
    assert_eq!(&hrr[3..11], &ch1[3..11]);
    let cookie = hello_extension(&hrr, 44).expect("cookie extension");
    assert!(cookie.len() > 2);
    // The same hello gets the same answer, from this acceptor and from a fresh one with the
    // same secret: nothing was stored.
    let Accepted::HelloRetryRequest(again) = acc.accept(&ch1, CLIENT_ADDR, now) else {
        panic!("no HelloRetryRequest")
    };
    assert_eq!(hrr, again);
    let mut fresh = DtlsAcceptor::new(server(), dtls(1200), now).unwrap();
    let Accepted::HelloRetryRequest(again) = fresh.accept(&ch1, CLIENT_ADDR, now) else {
        panic!("no HelloRetryRequest")
    };
    assert_eq!(hrr, again);

    client.recv_datagram(&hrr, now).unwrap();
    let n = client.poll_datagram(&mut buf).unwrap();
    let ch2 = buf[..n].to_vec();
    // The second hello echoes the cookie (RFC 8446 4.2.2) and keeps legacy_cookie empty.
    assert_eq!(hello_extension(&ch2, 44).as_deref(), Some(&cookie[..]));
    // From another address the cookie is not valid: no connection.
    assert!(matches!(
        acc.accept(&ch2, b"192.0.2.2:4433", now),
        Accepted::Dropped
    ));
    // A tampered cookie neither.
    let at = ch2
        .windows(cookie.len())
        .position(|w| w == cookie.as_slice())
        .unwrap();
    let mut bad = ch2.clone();
    bad[at + cookie.len() - 1] ^= 1;
    assert!(matches!(acc.accept(&bad, CLIENT_ADDR, now), Accepted::Dropped));

    // The fresh acceptor, which never saw the first hello, opens the connection.
    let Accepted::Connection(server) = fresh.accept(&ch2, CLIENT_ADDR, now) else {
        panic!("valid cookie refused")
    };
    assert!(server.error().is_none());
    let mut link = Link {
        client,
        server: Some(*server),
        acceptor: acc,
        now,
        mtu: 1200,
        wire: Vec::new(),
        hvrs: 0,
        hrrs: 0,
    };
    link.pump().unwrap();
    assert_established(&mut link);
    // The server's handshake counts the retry.
    write(&mut link.client, b"after the retry");
    link.pump().unwrap();
    assert_eq!(read_all(link.server()), b"after the retry");
}

#[test]
fn retry_asks_for_a_missing_key_share_group() {
    let c = common::client_builder()
        .groups(&[NamedGroup::x25519, NamedGroup::secp256r1])
        .key_share_groups(1)
        .build()
        .unwrap();
    let s = common::server_builder("ecdsa-p256")
        .groups(&[NamedGroup::secp256r1])
        .build()
        .unwrap();
    // The client shares X25519 only.
    let ch = {
        let mut client = DtlsConnection::client(c.clone(), "localhost", dtls(1200), Instant::now()).unwrap();
        let mut buf = [0u8; 1200];
        let n = client.poll_datagram(&mut buf).unwrap();
        buf[..n].to_vec()
    };
    let shares = hello_extension(&ch, 51).unwrap();
    assert_eq!(&shares[2..4], &[0, 0x1d], "one X25519 share");
    assert_eq!(shares.len(), 2 + 4 + 32);

    // A server without an acceptor: one (stateful) HelloRetryRequest for P-256.
    let mut link = negotiated(c.clone(), s.clone(), true);
    assert_established(&mut link);
    let hrrs: Vec<&Vec<u8>> = link
        .wire
        .iter()
        .filter(|(d, r)| *d == Dir::ToClient && is_hello_retry_request(r))
        .map(|(_, r)| r)
        .collect();
    assert_eq!(hrrs.len(), 1);
    assert_eq!(hello_extension(hrrs[0], 51).unwrap(), [0, 0x17]);
    for conn in [&mut link.client, link.server.as_mut().unwrap()] {
        assert_eq!(conn.key_exchange_group(), Some(NamedGroup::secp256r1));
    }
    // Through the acceptor: the one stateless HelloRetryRequest asks for P-256 and carries
    // the cookie.
    let mut link = negotiated(c, s, false);
    assert_established(&mut link);
    assert_eq!((link.hrrs, link.hvrs), (1, 0));
    let hrr = &link
        .wire
        .iter()
        .find(|(d, r)| *d == Dir::ToClient && is_hello_retry_request(r))
        .unwrap()
        .1;
    assert_eq!(hello_extension(hrr, 51).unwrap(), [0, 0x17]);
    assert!(hello_extension(hrr, 44).is_some());
    assert_eq!(link.client.key_exchange_group(), Some(NamedGroup::secp256r1));
}

// ---- Client authentication and resumption

#[test]
fn client_authentication() {
    let anchors = TrustAnchors::from_pem_file(common::vectors().join("ca.pem")).unwrap();
    let s = common::server_builder("ecdsa-p256")
        .client_verifier(Arc::new(WebPkiClientVerifier::new(anchors)))
        .build()
        .unwrap();
    let secrets = Arc::new(Secrets::default());
    let c = common::client_builder()
        .client_auth_cert(common::certified_key("ed25519"))
        .key_log(secrets.clone())
        .build()
        .unwrap();
    let mut link = Link::new(c, s, dtls(1200));
    link.pump().unwrap();
    assert_established(&mut link);
    assert!(!link.server().peer_certificates().is_empty());
    // The client's Certificate, CertificateVerify and Finished, all in epoch 2.
    let client_hs: Vec<(u64, HandshakeType)> = wire(&link, &secrets, 0)
        .iter()
        .filter(|r| r.dir == Dir::ToServer && r.epoch > 0)
        .flat_map(|r| r.fragments().into_iter().map(move |f| (r.epoch, f.0)))
        .collect();
    assert_eq!(
        client_hs,
        [
            (2, HandshakeType::Certificate),
            (2, HandshakeType::CertificateVerify),
            (2, HandshakeType::Finished)
        ]
    );
    write(link.server(), b"authenticated");
    link.pump().unwrap();
    assert_eq!(read_all(&mut link.client), b"authenticated");
}

#[test]
fn resumption_by_ticket() {
    let (c, s, secrets) = configs("ecdsa-p256");
    let mut first = Link::new(c.clone(), s.clone(), dtls(1200));
    first.settle().unwrap();
    assert_established(&mut first);
    assert!(!first.client.is_resumed());
    assert!(events(&mut first.client).contains(&Event::SessionTicket));
    // The NewSessionTickets come in epoch 3 and the client ACKs them (RFC 9147 5.8.4).
    let recs = wire(&first, &secrets, 0);
    let tickets: Vec<&WireRecord> = recs
        .iter()
        .filter(|r| r.dir == Dir::ToClient && r.is_handshake(HandshakeType::NewSessionTicket))
        .collect();
    assert!(!tickets.is_empty());
    let acked = all_acked(
        &recs
            .iter()
            .filter(|r| r.dir == Dir::ToServer)
            .filter_map(WireRecord::ack)
            .collect::<Vec<_>>(),
    );
    for t in tickets {
        assert_eq!(t.epoch, 3);
        assert!(
            acked.contains(&rn(t)),
            "ticket record {:?} not acked: {acked:?}",
            rn(t)
        );
    }
    assert_eq!(first.server().poll_timeout(), None);

    let mut second = Link::new(c, s, dtls(1200));
    second.pump().unwrap();
    assert_established(&mut second);
    assert!(second.client.is_resumed());
    assert!(second.server().is_resumed());
    // No certificate in a resumed handshake.
    let recs = wire(&second, &secrets, 0);
    assert!(!recs.iter().any(|r| r.is_handshake(HandshakeType::Certificate)));
    write(&mut second.client, b"again");
    second.pump().unwrap();
    assert_eq!(read_all(second.server()), b"again");
}

// ---- ACKs and retransmission (RFC 9147 5.8, 7)

/// A link without the acceptor run up to the client's final flight (taken, not delivered).
fn to_client_finished(kind: &str, tickets: bool) -> (Link, Arc<Secrets>, Vec<Vec<u8>>) {
    let secrets = Arc::new(Secrets::default());
    let c = common::client_builder().key_log(secrets.clone()).build().unwrap();
    let s = common::server_builder(kind)
        .tickets(if tickets { 2 } else { 0 })
        .build()
        .unwrap();
    let mut link = Link::direct(c, s, dtls(1200));
    forward(&mut link, Dir::ToServer);
    forward(&mut link, Dir::ToClient);
    let fin = link.take(Dir::ToServer);
    assert!(!fin.is_empty());
    (link, secrets, fin)
}

#[test]
fn server_acks_the_clients_finished_and_the_client_timer_stops() {
    let (mut link, secrets, fin) = to_client_finished("ecdsa-p256", false);
    // Until its Finished is acknowledged, the client keeps a timer to repeat it.
    assert!(
        link.client.poll_timeout().is_some(),
        "client Finished needs an ACK"
    );
    let from = link.wire.len();
    for d in &fin {
        link.deliver(Dir::ToServer, d).unwrap();
    }
    assert!(!link.server().is_handshaking());
    let fin_rec = wire(&link, &secrets, from - fin.len())
        .into_iter()
        .find(|r| r.is_handshake(HandshakeType::Finished))
        .unwrap();
    let ack = link.take(Dir::ToClient);
    assert!(!ack.is_empty(), "no ACK for the client's Finished");
    let recs = wire(&link, &secrets, from);
    let acks: Vec<Ack> = recs.iter().filter_map(WireRecord::ack).collect();
    assert!(all_acked(&acks).contains(&rn(&fin_rec)), "{acks:?}");
    // The server sends the ACK in its application epoch.
    assert!(recs
        .iter()
        .filter(|r| r.typ == Some(ContentType::Ack))
        .all(|r| r.epoch == 3));
    for d in &ack {
        link.deliver(Dir::ToClient, d).unwrap();
    }
    assert_eq!(link.client.poll_timeout(), None);
    assert_eq!(link.server().poll_timeout(), None);
    assert!(!link.client.is_handshaking());
}

#[test]
fn tickets_are_acknowledged_together_after_a_short_delay() {
    // RFC 9147 7.1: NewSessionTickets are acknowledged, but they may come in a row (as
    // here, with the ACK of the client's Finished; a peer may send them apart): the client
    // waits a quarter of its retransmission timeout and acknowledges them at once.
    let (mut link, secrets, fin) = to_client_finished("ecdsa-p256", true);
    for d in &fin {
        link.deliver(Dir::ToServer, d).unwrap();
    }
    let from = link.wire.len();
    forward(&mut link, Dir::ToClient);
    let recs = wire(&link, &secrets, from);
    let ticket_recs: Vec<&WireRecord> = recs
        .iter()
        .filter(|r| r.is_handshake(HandshakeType::NewSessionTicket))
        .collect();
    let n = ticket_recs
        .iter()
        .flat_map(|r| r.fragments())
        .filter(|f| f.0 == HandshakeType::NewSessionTicket)
        .count();
    assert_eq!(n, 2);
    let tickets: Vec<RecordNumber> = ticket_recs.iter().map(|r| rn(r)).collect();
    assert!(!link.client.is_handshaking());
    // Nothing at once; the ACK is due in 250 ms (a quarter of the initial 1 s).
    let from2 = link.wire.len();
    let early = link.take(Dir::ToServer);
    assert!(early.is_empty(), "{:?}", wire(&link, &secrets, from2));
    assert_eq!(
        link.client.poll_timeout(),
        Some(link.now + Duration::from_millis(250))
    );
    fire_timer(&mut link, Dir::ToServer);
    let from = link.wire.len();
    let ack = link.take(Dir::ToServer);
    assert_eq!(ack.len(), 1);
    let recs = wire(&link, &secrets, from);
    assert_eq!(recs.len(), 1, "{recs:?}");
    let acked = all_acked(&recs.iter().filter_map(WireRecord::ack).collect::<Vec<_>>());
    assert_eq!(acked, tickets);
    assert_eq!(link.client.poll_timeout(), None);
    // The server's timer for its tickets stops with the ACK.
    link.deliver(Dir::ToServer, &ack[0]).unwrap();
    assert_eq!(link.server().poll_timeout(), None);
}

#[test]
fn server_acks_the_clients_finished_before_its_tickets() {
    // The client waits for the ACK of its Finished to end its handshake (RFC 9147 7): it
    // comes first in the server's datagram, ahead of the NewSessionTickets.
    let (mut link, secrets, fin) = to_client_finished("ecdsa-p256", true);
    let from = link.wire.len();
    for d in &fin {
        link.deliver(Dir::ToServer, d).unwrap();
    }
    let fin_rec = wire(&link, &secrets, from - fin.len())
        .into_iter()
        .find(|r| r.is_handshake(HandshakeType::Finished))
        .unwrap();
    forward(&mut link, Dir::ToClient);
    let recs = wire(&link, &secrets, from);
    let first_ticket = recs
        .iter()
        .position(|r| r.is_handshake(HandshakeType::NewSessionTicket))
        .expect("tickets sent");
    let ack = recs
        .iter()
        .position(|r| r.ack().is_some_and(|a| all_acked(&[a]).contains(&rn(&fin_rec))))
        .expect("the client's Finished acknowledged");
    assert!(
        ack < first_ticket,
        "ACK at {ack}, first ticket at {first_ticket}: {recs:?}"
    );
}

#[test]
fn lost_ack_makes_the_client_repeat_its_finished() {
    let (mut link, secrets, fin) = to_client_finished("ecdsa-p256", false);
    for d in &fin {
        link.deliver(Dir::ToServer, d).unwrap();
    }
    // The ACK is lost.
    assert!(!link.take(Dir::ToClient).is_empty());
    let t0 = link.now;
    fire_timer(&mut link, Dir::ToServer);
    assert_eq!(link.now - t0, Duration::from_secs(1));
    let from = link.wire.len();
    let again = link.take(Dir::ToServer);
    assert!(!again.is_empty(), "Finished not repeated");
    let recs = wire(&link, &secrets, from);
    assert!(recs
        .iter()
        .any(|r| r.is_handshake(HandshakeType::Finished) && r.epoch == 2));
    for d in &again {
        link.deliver(Dir::ToServer, d).unwrap();
    }
    // The server, done already, acknowledges the repeat again, on its ACK timer (a quarter
    // of the retransmission timeout, RFC 9147 7.1).
    assert!(link.server().error().is_none());
    let t1 = link.now;
    fire_timer(&mut link, Dir::ToClient);
    assert_eq!(link.now - t1, Duration::from_millis(250));
    let ack = link.take(Dir::ToClient);
    assert!(!ack.is_empty(), "repeated Finished not acknowledged");
    for d in &ack {
        link.deliver(Dir::ToClient, d).unwrap();
    }
    assert_eq!(link.client.poll_timeout(), None);
}

#[test]
fn partial_flight_is_acked_and_only_the_missing_fragments_are_sent_again() {
    let secrets = Arc::new(Secrets::default());
    let c = common::client_builder().key_log(secrets.clone()).build().unwrap();
    let s = common::server_builder("rsa2048").tickets(0).build().unwrap();
    let mut link = Link::direct(c, s, dtls(300));
    forward(&mut link, Dir::ToServer);
    let flight = link.take(Dir::ToClient);
    let flight_start = link.wire.len() - flight.len();
    assert!(flight.len() >= 5, "server flight in {} datagrams", flight.len());
    // Lose one datagram in the middle (a part of the Certificate).
    let lost = flight.len() / 2;
    for (i, d) in flight.iter().enumerate() {
        if i != lost {
            link.deliver(Dir::ToClient, d).unwrap();
        }
    }
    assert!(link.client.is_handshaking());
    let recs = wire(&link, &secrets, flight_start);
    let lost_recs: Vec<&WireRecord> = recs
        .iter()
        .filter(|r| r.datagram == flight_start + lost)
        .collect();
    let lost_fragments: Vec<_> = lost_recs.iter().flat_map(|r| r.fragments()).collect();
    assert!(!lost_fragments.is_empty());
    // The client acknowledges what it got, at once (it saw the gap) or at its timer.
    let mut from = link.wire.len();
    let mut acks = link.take(Dir::ToServer);
    if acks.is_empty() {
        fire_timer(&mut link, Dir::ToServer);
        from = link.wire.len();
        acks = link.take(Dir::ToServer);
    }
    let ack_recs = wire(&link, &secrets, from);
    let acked = all_acked(&ack_recs.iter().filter_map(WireRecord::ack).collect::<Vec<_>>());
    assert!(!acked.is_empty(), "client sent no ACK: {ack_recs:?}");
    for r in &lost_recs {
        assert!(
            !acked.contains(&rn(r)),
            "lost record {:?} acked: {acked:?}",
            rn(r)
        );
    }
    // Records after the gap are acknowledged: the gap is what the ACK tells.
    let last = recs.iter().rev().find(|r| r.epoch > 0).unwrap();
    assert!(acked.contains(&rn(last)), "{:?} not acked: {acked:?}", rn(last));
    // The client acknowledges at each record past the gap; its last ACK holds all it has
    // (each earlier one would make the server resend what that one left out).
    link.deliver(Dir::ToServer, acks.last().unwrap()).unwrap();
    // The server sends only what was not acknowledged (at once, or at its timer).
    let mut from = link.wire.len();
    let mut again = link.take(Dir::ToClient);
    if again.is_empty() {
        fire_timer(&mut link, Dir::ToClient);
        from = link.wire.len();
        again = link.take(Dir::ToClient);
    }
    assert!(!again.is_empty(), "nothing retransmitted");
    let flight_bytes: usize = flight.iter().map(Vec::len).sum();
    let again_bytes: usize = again.iter().map(Vec::len).sum();
    let again_recs = wire(&link, &secrets, from);
    let full_records = recs.len();
    assert!(
        again.len() < flight.len() && again_bytes < flight_bytes && again_recs.len() < full_records,
        "retransmitted {} datagrams / {again_bytes} bytes / {} records of {} / {flight_bytes} / {full_records}",
        again.len(),
        again_recs.len(),
        flight.len()
    );
    // What was sent again covers what was lost.
    let again_fragments: Vec<_> = again_recs.iter().flat_map(|r| r.fragments()).collect();
    for (typ, seq, off, len) in &lost_fragments {
        let covered = again_fragments
            .iter()
            .any(|(t, s, o, l)| t == typ && s == seq && o <= off && o + l >= off + len);
        assert!(
            covered,
            "lost fragment {typ:?} {seq} {off}+{len} not sent again: {again_fragments:?}"
        );
    }
    eprintln!(
        "selective retransmission: {} of {} datagrams, {again_bytes} of {flight_bytes} bytes",
        again.len(),
        flight.len()
    );
    for d in &again {
        link.deliver(Dir::ToClient, d).unwrap();
    }
    link.pump().unwrap();
    assert_established(&mut link);
    write(&mut link.client, b"complete");
    link.pump().unwrap();
    assert_eq!(read_all(link.server()), b"complete");
}

#[test]
fn lost_server_flight_is_resent_with_doubling_timeouts() {
    let (c, s, _) = configs("ecdsa-p256");
    let mut link = Link::direct(c, s, dtls(1200));
    forward(&mut link, Dir::ToServer);
    let first = link.take(Dir::ToClient);
    assert!(!first.is_empty());
    let mut waits = Vec::new();
    let mut flight = Vec::new();
    for _ in 0..3 {
        let at = link.server().poll_timeout().expect("server timer");
        waits.push(at - link.now);
        link.now = at;
        let now = link.now;
        link.server().handle_timeout(now).unwrap();
        flight = link.take(Dir::ToClient);
        assert!(!flight.is_empty(), "server flight not repeated");
    }
    assert_eq!(waits, [1, 2, 4].map(Duration::from_secs));
    for d in &flight {
        link.deliver(Dir::ToClient, d).unwrap();
    }
    link.pump().unwrap();
    assert_established(&mut link);
}

#[test]
fn timeouts_double_to_the_cap_and_the_handshake_gives_up() {
    let c = common::client_builder()
        .versions(&[ProtocolVersion::TLSv1_3])
        .build()
        .unwrap();
    let now = Instant::now();
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
    let mut hellos = 0;
    loop {
        while client.poll_datagram(&mut buf).is_some() {
            hellos += 1;
        }
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
    assert_eq!(
        waits,
        [1, 2, 4, 8, 16, 32, 60, 60, 60, 57].map(Duration::from_secs)
    );
    assert_eq!(hellos, 10, "the hello and its nine repeats");
    assert_eq!(t - now, Duration::from_secs(300));
    assert_eq!(client.error(), Some(&Error::HandshakeTimeout));
    assert_eq!(client.poll_timeout(), None);
}

// ---- KeyUpdate (RFC 9147 8)

fn key_update_records(recs: &[WireRecord]) -> Vec<&WireRecord> {
    recs.iter()
        .filter(|r| r.is_handshake(HandshakeType::KeyUpdate))
        .collect()
}

#[test]
fn key_update_takes_effect_when_acknowledged() {
    let (mut link, secrets) = established("ecdsa-p256", 1200);
    for conn in [&mut link.client, link.server.as_mut().unwrap()] {
        assert_eq!((conn.read_epoch(), conn.write_epoch()), (3, 3));
    }
    // Data written before the request goes out in epoch 3, ahead of the KeyUpdate.
    write(&mut link.client, b"before the update");
    link.client.request_key_update(false).unwrap();
    // Data written while it awaits its ACK goes out at once, in epoch 3 too (RFC 9147 8:
    // the new keys wait for the ACK; the peer may wait for this data before it ACKs).
    write(&mut link.client, b"while it awaits its ACK");
    let from = link.wire.len();
    let records: Vec<Vec<u8>> = link
        .take(Dir::ToServer)
        .iter()
        .flat_map(|d| split_records(d))
        .collect();
    let recs = wire(&link, &secrets, from);
    // (Handshake before application data of the same epoch: DESIGN queue rule 2.)
    let mut kinds: Vec<(u64, Option<ContentType>)> = recs.iter().map(|r| (r.epoch, r.typ)).collect();
    kinds.sort_by_key(|k| k.1.map(|t| t.get()));
    assert_eq!(
        kinds,
        [
            (3, Some(ContentType::Handshake)),
            (3, Some(ContentType::ApplicationData)),
            (3, Some(ContentType::ApplicationData))
        ]
    );
    assert!(records.iter().all(|r| r[0] == 0x2c | 3));
    let data: Vec<&[u8]> = recs
        .iter()
        .filter(|r| r.typ == Some(ContentType::ApplicationData))
        .map(|r| &r.content[..])
        .collect();
    assert_eq!(data, [&b"before the update"[..], b"while it awaits its ACK"]);
    let data_at = recs
        .iter()
        .position(|r| r.typ == Some(ContentType::ApplicationData))
        .unwrap();
    let ku_at = recs
        .iter()
        .position(|r| r.typ == Some(ContentType::Handshake))
        .unwrap();
    let ku_rec = key_update_records(&recs);
    assert_eq!(ku_rec.len(), 1);
    // KeyUpdate body: update_not_requested(0).
    assert_eq!(ku_rec[0].content[12..], [0]);
    let ku_rn = rn(ku_rec[0]);
    // Not acknowledged yet: we still write in epoch 3.
    assert_eq!(link.client.write_epoch(), 3);
    assert!(!link.client.wants_write());
    assert!(link.take(Dir::ToServer).is_empty());
    // The peer moves its read epoch on receipt of the KeyUpdate, still reads epoch 3 (the
    // data reordered behind it) and answers with an ACK only, a quarter of its
    // retransmission timeout later (RFC 9147 7.1), as for other post-handshake messages.
    link.deliver(Dir::ToServer, &records[ku_at]).unwrap();
    assert_eq!(link.server().read_epoch(), 4);
    assert_eq!(link.server().write_epoch(), 3);
    link.deliver(Dir::ToServer, &records[data_at]).unwrap();
    assert_eq!(read_all(link.server()), b"before the update");
    for (i, r) in records.iter().enumerate() {
        if i != ku_at && i != data_at {
            link.deliver(Dir::ToServer, r).unwrap();
        }
    }
    assert_eq!(read_all(link.server()), b"while it awaits its ACK");
    assert!(link.take(Dir::ToClient).is_empty(), "the ACK waits for its timer");
    let t0 = link.now;
    fire_timer(&mut link, Dir::ToClient);
    assert_eq!(link.now - t0, Duration::from_millis(250));
    let from = link.wire.len();
    let ack = link.take(Dir::ToClient);
    let recs = wire(&link, &secrets, from);
    assert!(
        key_update_records(&recs).is_empty(),
        "the peer was not asked to update"
    );
    let acks: Vec<Ack> = recs.iter().filter_map(WireRecord::ack).collect();
    assert!(all_acked(&acks).contains(&ku_rn), "{acks:?}");
    assert!(link.client.poll_timeout().is_some(), "KeyUpdate awaits its ACK");
    for d in &ack {
        link.deliver(Dir::ToClient, d).unwrap();
    }
    assert_eq!(link.client.write_epoch(), 4);
    assert_eq!(link.client.read_epoch(), 3);
    assert_eq!(link.client.poll_timeout(), None);
    // Data written now goes out in epoch 4 (first byte 0x2c | 4 & 3).
    write(&mut link.client, b"after the update");
    let from = link.wire.len();
    let d4 = link.take(Dir::ToServer);
    assert_eq!(d4.len(), 1);
    assert_eq!(d4[0][0], 0x2c);
    let recs = wire(&link, &secrets, from);
    assert_eq!(
        (recs[0].epoch, &recs[0].content[..]),
        (4, &b"after the update"[..])
    );
    link.deliver(Dir::ToServer, &d4[0]).unwrap();
    assert_eq!(read_all(link.server()), b"after the update");
    // The other direction is untouched.
    write(link.server(), b"server still 3");
    link.pump().unwrap();
    assert_eq!(read_all(&mut link.client), b"server still 3");
    assert_eq!(link.server().write_epoch(), 3);
    assert!(events(&mut link.client).contains(&Event::KeyUpdated { ours: true }));
}

#[test]
fn key_update_asking_the_peer_moves_both_directions() {
    let (mut link, secrets) = established("ecdsa-p256", 1200);
    let from = link.wire.len();
    link.client.request_key_update(true).unwrap();
    link.pump_timers().unwrap();
    for conn in [&mut link.client, link.server.as_mut().unwrap()] {
        assert_eq!((conn.read_epoch(), conn.write_epoch()), (4, 4));
    }
    let recs = wire(&link, &secrets, from);
    let kus = key_update_records(&recs);
    let bodies: Vec<(Dir, u8)> = kus.iter().map(|r| (r.dir, r.content[12])).collect();
    // update_requested(1) from us, update_not_requested(0) in answer (RFC 8446 4.6.3).
    assert_eq!(bodies, [(Dir::ToServer, 1), (Dir::ToClient, 0)]);
    data_flows_both_ways(&mut link, b"up", b"down");
    assert_eq!(link.client.poll_timeout(), None);
    assert_eq!(link.server().poll_timeout(), None);
}

#[test]
fn lost_key_update_ack_makes_the_key_update_repeat() {
    let (mut link, secrets) = established("ecdsa-p256", 1200);
    link.client.request_key_update(false).unwrap();
    let t0 = link.now;
    let ku = forward(&mut link, Dir::ToServer);
    assert!(!ku.is_empty());
    assert_eq!(link.server().read_epoch(), 4);
    // The ACK, on the server's ACK timer, is lost.
    fire_timer(&mut link, Dir::ToClient);
    assert!(!link.take(Dir::ToClient).is_empty());
    fire_timer(&mut link, Dir::ToServer);
    assert_eq!(link.now - t0, Duration::from_secs(1));
    let from = link.wire.len();
    let again = link.take(Dir::ToServer);
    let recs = wire(&link, &secrets, from);
    let kus = key_update_records(&recs);
    assert_eq!(kus.len(), 1, "KeyUpdate not repeated: {recs:?}");
    assert_eq!(kus[0].epoch, 3, "a repeated KeyUpdate goes in the old epoch");
    assert_eq!(link.client.write_epoch(), 3);
    for d in &again {
        link.deliver(Dir::ToServer, d).unwrap();
    }
    // The repeat is not a second update; the server acknowledges it again, on its ACK
    // timer (RFC 9147 7.1).
    assert_eq!(link.server().read_epoch(), 4);
    fire_timer(&mut link, Dir::ToClient);
    forward(&mut link, Dir::ToClient);
    assert_eq!(link.client.write_epoch(), 4);
    assert_eq!(link.client.poll_timeout(), None);
    write(&mut link.client, b"after the repeat");
    link.pump().unwrap();
    assert_eq!(read_all(link.server()), b"after the repeat");
}

#[test]
fn a_key_update_request_while_ours_awaits_its_ack_gets_no_second_answer() {
    // RFC 8446 4.6.3: update_requested is answered by a KeyUpdate of ours, and several
    // received while silent by one. Ours already out, awaiting its ACK (RFC 9147 8), is
    // that answer: its keys are not in use yet.
    let (mut link, secrets) = established("ecdsa-p256", 1200);
    let from = link.wire.len();
    link.server().request_key_update(false).unwrap();
    let ours = link.take(Dir::ToClient);
    link.client.request_key_update(true).unwrap();
    forward(&mut link, Dir::ToServer);
    assert_eq!(link.server().read_epoch(), 4);
    for d in &ours {
        link.deliver(Dir::ToClient, d).unwrap();
    }
    link.pump_timers().unwrap();
    for conn in [&mut link.client, link.server.as_mut().unwrap()] {
        assert_eq!((conn.read_epoch(), conn.write_epoch()), (4, 4));
    }
    let recs = wire(&link, &secrets, from);
    let server_kus: Vec<&[u8]> = key_update_records(&recs)
        .into_iter()
        .filter(|r| r.dir == Dir::ToClient)
        .map(|r| &r.content[..])
        .collect();
    // One KeyUpdate (message_seq in bytes 4..6), update_not_requested.
    assert!(!server_kus.is_empty());
    assert!(server_kus
        .iter()
        .all(|ku| ku[4..6] == server_kus[0][4..6] && ku[12] == 0));
    data_flows_both_ways(&mut link, b"up", b"down");
}

#[test]
fn an_old_read_epoch_opens_late_records_for_four_minutes_then_nothing() {
    let (mut link, _) = established("ecdsa-p256", 1200);
    // Two epoch 3 records the link delays past the client's KeyUpdate.
    write(&mut link.client, b"late");
    let late = link.take(Dir::ToServer);
    write(&mut link.client, b"too late");
    let too_late = link.take(Dir::ToServer);
    link.client.request_key_update(false).unwrap();
    link.pump_timers().unwrap();
    assert_eq!((link.server().read_epoch(), link.client.write_epoch()), (4, 4));
    // Within the lifetime the old epoch still opens records: data, no error.
    link.now += Duration::from_secs(239);
    link.deliver(Dir::ToServer, &late[0]).unwrap();
    assert_eq!(read_all(link.server()), b"late");
    // Past it the old epoch opens nothing: no data, not a bad record, no answer.
    link.now += Duration::from_secs(2);
    link.deliver(Dir::ToServer, &too_late[0]).unwrap();
    assert_eq!(read_all(link.server()), b"");
    assert_eq!(link.server().bad_records(), 0);
    assert!(link.take(Dir::ToClient).is_empty());
    assert!(link.server().error().is_none());
    // The current epoch is untouched.
    write(&mut link.client, b"epoch 4");
    link.pump().unwrap();
    assert_eq!(read_all(link.server()), b"epoch 4");
}

/// `n` KeyUpdates, the client and the server taking turns (each asking the other to update
/// too if `ask_peer`), with data both ways after each.
fn alternate_key_updates(link: &mut Link, n: u64, ask_peer: bool) {
    for i in 0..n {
        if i % 2 == 0 {
            link.client.request_key_update(ask_peer).unwrap();
        } else {
            link.server().request_key_update(ask_peer).unwrap();
        }
        link.pump_timers().unwrap();
        let msg = format!("after update {i}");
        write(&mut link.client, msg.as_bytes());
        write(link.server(), msg.as_bytes());
        link.pump_timers().unwrap();
        assert_eq!(read_all(link.server()), msg.as_bytes());
        assert_eq!(read_all(&mut link.client), msg.as_bytes());
    }
}

#[test]
fn key_updates_in_a_row() {
    let (mut link, _) = established("ecdsa-p256", 1200);
    alternate_key_updates(&mut link, 6, false);
    assert_eq!(link.client.write_epoch(), 6);
    assert_eq!(link.server().read_epoch(), 6);
    assert_eq!(link.server().write_epoch(), 6);
    assert_eq!(link.client.read_epoch(), 6);
}

#[test]
fn key_update_before_the_handshake_completes_is_refused() {
    let c = common::client_builder().build().unwrap();
    let mut client = DtlsConnection::client(c, "localhost", dtls(1200), Instant::now()).unwrap();
    assert!(client.request_key_update(false).is_err());
    // And over DTLS 1.2 there is no KeyUpdate.
    let (c, s) = versions(&[ProtocolVersion::TLSv1_2]);
    let mut link = negotiated(c, s, false);
    assert!(link.client.request_key_update(false).is_err());
}

// ---- Faults: each ends in an alert, or a silent drop that changes nothing.

fn assert_fatal(
    conn: &mut DtlsConnection,
    res: Result<(), Error>,
    alert: AlertDescription,
    secrets: &Secrets,
    suite: Option<CipherSuite>,
) {
    let e = res.expect_err("expected a fatal error");
    assert_eq!(e.alert(), Some(alert), "{e:?}");
    assert_eq!(conn.error(), Some(&e));
    let mut buf = [0u8; 1200];
    let n = conn.poll_datagram(&mut buf).expect("alert datagram");
    let dir = match conn.side() {
        sanstls::Side::Client => Dir::ToServer,
        sanstls::Side::Server => Dir::ToClient,
    };
    let recs = decode_wire(
        &[(dir, buf[..n].to_vec())],
        0,
        secrets,
        suite.unwrap_or(CipherSuite::TLS_AES_128_GCM_SHA256),
    );
    assert!(
        recs.iter()
            .any(|r| r.typ == Some(ContentType::Alert) && r.content == [2, alert.get()]),
        "no fatal {alert:?} alert record: {recs:?}"
    );
}

/// Direct link: the ClientHello delivered, the server's flight taken (not delivered) and
/// returned record by record.
fn server_flight_records(kind: &str) -> (Link, Arc<Secrets>, Vec<Vec<u8>>) {
    let secrets = Arc::new(Secrets::default());
    let c = common::client_builder().key_log(secrets.clone()).build().unwrap();
    let s = common::server_builder(kind).tickets(0).build().unwrap();
    let mut link = Link::direct(c, s, dtls(1200));
    forward(&mut link, Dir::ToServer);
    let flight = link
        .take(Dir::ToClient)
        .iter()
        .flat_map(|d| split_records(d))
        .collect();
    (link, secrets, flight)
}

#[test]
fn plaintext_handshake_messages_after_the_server_hello_are_ignored() {
    let (mut link, secrets, flight) = server_flight_records("ecdsa-p256");
    // [ServerHello] in the clear, then the encrypted rest.
    assert_eq!(flight[0][0], 22);
    assert_eq!(flight[0][13], 2);
    assert!(flight[1..].iter().all(|r| r[0] & 0xe0 == 0x20));
    let sh_seq = u16::from_be_bytes([flight[0][17], flight[0][18]]);
    link.deliver(Dir::ToClient, &flight[0]).unwrap();
    // Forged plaintext EncryptedExtensions and Finished where the encrypted ones belong
    // (RFC 9147 4.1: after the ServerHello, epoch 0 carries no handshake message).
    for (rs, typ, body) in [(5, 8u8, vec![0, 0]), (6, 20, vec![0; 32]), (7, 11, vec![0; 4])] {
        let res = link.deliver(Dir::ToClient, &plain_handshake(rs, typ, sh_seq + 1, &body));
        assert_eq!(res, Ok(()), "plaintext handshake type {typ}");
        assert!(link.client.error().is_none());
        assert!(link.client.is_handshaking());
    }
    // (An ACK the client may send for the ServerHello is lost; nothing depends on it.)
    link.take(Dir::ToServer);
    for r in &flight[1..] {
        link.deliver(Dir::ToClient, r).unwrap();
    }
    // The client's Finished; before it, a plaintext Finished at the server is ignored too.
    let fin = link.take(Dir::ToServer);
    let fin_seq = wire(&link, &secrets, link.wire.len() - fin.len())
        .iter()
        .flat_map(|r| r.fragments())
        .find(|f| f.0 == HandshakeType::Finished)
        .unwrap()
        .1;
    let res = link.deliver(Dir::ToServer, &plain_handshake(9, 20, fin_seq, &[0; 32]));
    assert_eq!(res, Ok(()));
    assert!(link.server().is_handshaking());
    assert!(link.server().error().is_none());
    for d in &fin {
        link.deliver(Dir::ToServer, d).unwrap();
    }
    link.pump().unwrap();
    assert_established(&mut link);
}

#[test]
fn bad_finished_is_decrypt_error() {
    let (mut link, secrets, fin) = to_client_finished("ecdsa-p256", false);
    let from = link.wire.len() - fin.len();
    let recs = wire(&link, &secrets, from);
    let rec = recs
        .iter()
        .find(|r| r.is_handshake(HandshakeType::Finished))
        .unwrap();
    // A well-protected record (the client's epoch 2 keys) with a wrong verify_data.
    let mut content = rec.content.clone();
    *content.last_mut().unwrap() ^= 1;
    let forged = seal13(
        &secrets,
        suite(&link),
        true,
        2,
        rec.seq,
        ContentType::Handshake,
        &content,
    );
    let res = link.deliver(Dir::ToServer, &forged);
    let suite = Some(suite(&link));
    assert_fatal(
        link.server(),
        res,
        AlertDescription::DecryptError,
        &secrets,
        suite,
    );
    // After a fatal error every later datagram is refused with the same error.
    let e = link.server().error().cloned().unwrap();
    assert_eq!(link.deliver(Dir::ToServer, &fin[0]), Err(e));
    assert!(link.server().poll_datagram(&mut [0u8; 1200]).is_none());
}

#[test]
fn application_data_before_the_handshake_completes_is_not_delivered() {
    let (mut link, secrets, fin) = to_client_finished("ecdsa-p256", false);
    // In the clear: dropped.
    link.deliver(Dir::ToServer, &plain_record(23, 0, 40, b"sneaky"))
        .unwrap();
    // Under the client's application keys but before its Finished: not delivered.
    let forged = seal13(
        &secrets,
        suite(&link),
        true,
        3,
        0,
        ContentType::ApplicationData,
        b"too early",
    );
    link.deliver(Dir::ToServer, &forged).unwrap();
    assert!(link.server().error().is_none());
    assert!(link.server().is_handshaking());
    assert_eq!(read_all(link.server()), b"");
    assert!(!events(link.server())
        .iter()
        .any(|e| matches!(e, Event::Data { .. })));
    for d in &fin {
        link.deliver(Dir::ToServer, d).unwrap();
    }
    assert!(!link.server().is_handshaking());
    let got = read_all(link.server());
    assert!(!got.windows(6).any(|w| w == b"sneaky"));
    // Data written before the handshake completed waits for it, never sent in the clear.
    let (c, s, _) = configs("ecdsa-p256");
    let mut link = Link::new(c, s, dtls(1200));
    write(&mut link.client, b"early bird");
    link.pump().unwrap();
    assert!(link
        .wire
        .iter()
        .all(|(_, d)| !d.windows(10).any(|w| w == b"early bird")));
    assert_eq!(read_all(link.server()), b"early bird");
}

#[test]
fn records_after_close_notify_or_a_fatal_alert_are_ignored() {
    let (mut link, secrets) = established("ecdsa-p256", 1200);
    write(&mut link.client, b"one");
    let data = link.take(Dir::ToServer);
    link.client.send_close_notify();
    let from = link.wire.len();
    let close = link.take(Dir::ToServer);
    let recs = wire(&link, &secrets, from);
    assert_eq!(recs[0].typ, Some(ContentType::Alert));
    assert_eq!(recs[0].content, [1, 0], "warning close_notify");
    assert!(std::io::Write::write(&mut link.client.writer(), b"x").is_err());
    for d in close.iter().chain(&data) {
        link.deliver(Dir::ToServer, d).unwrap();
    }
    assert!(link.server().peer_has_closed());
    assert!(events(link.server()).contains(&Event::PeerClosed));
    assert_eq!(
        read_all(link.server()),
        b"",
        "data after close_notify was delivered"
    );
    // A peer's fatal alert ends the connection; later records are not taken.
    let (mut link, secrets) = established("ecdsa-p256", 1200);
    let suite = suite(&link);
    let seq = next_seq(&link, &secrets, Dir::ToServer, 3) + 5;
    write(&mut link.client, b"late");
    let late = link.take(Dir::ToServer);
    let alert = seal13(
        &secrets,
        suite,
        true,
        3,
        seq,
        ContentType::Alert,
        &[2, AlertDescription::InternalError.get()],
    );
    let res = link.deliver(Dir::ToServer, &alert);
    assert!(res.is_err(), "fatal alert taken as {res:?}");
    assert!(link.server().error().is_some());
    let _ = link.deliver(Dir::ToServer, &late[0]);
    assert_eq!(read_all(link.server()), b"");
}

#[test]
fn records_that_fail_to_deprotect_are_dropped_up_to_a_limit() {
    let (c, s, _) = configs("ecdsa-p256");
    let mut link = Link::new(
        c,
        s,
        DtlsConfig {
            max_bad_records: 3,
            ..dtls(1200)
        },
    );
    link.pump().unwrap();
    assert_established(&mut link);
    write(&mut link.client, b"hello");
    let d = link.take(Dir::ToServer).remove(0);
    let mut bad = d.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    for _ in 0..3 {
        link.deliver(Dir::ToServer, &bad).unwrap();
    }
    assert_eq!(link.server().bad_records(), 3);
    assert!(link.server().error().is_none());
    // The forged records did not move the window: the real one still deprotects.
    link.deliver(Dir::ToServer, &d).unwrap();
    assert_eq!(read_all(link.server()), b"hello");
    write(&mut link.client, b"again");
    let mut bad = link.take(Dir::ToServer).remove(0);
    bad[8] ^= 0x40;
    assert_eq!(
        link.deliver(Dir::ToServer, &bad),
        Err(Error::LimitExceeded(Limit::BadRecords))
    );
}

#[test]
fn replayed_records_are_dropped() {
    let (mut link, _) = established("ecdsa-p256", 1200);
    write(&mut link.client, b"once");
    let d = link.take(Dir::ToServer);
    for _ in 0..3 {
        link.deliver(Dir::ToServer, &d[0]).unwrap();
    }
    assert_eq!(read_all(link.server()), b"once");
    // A replayed KeyUpdate is not a second update.
    link.client.request_key_update(false).unwrap();
    let ku = link.take(Dir::ToServer);
    for _ in 0..3 {
        link.deliver(Dir::ToServer, &ku[0]).unwrap();
    }
    assert_eq!(link.server().read_epoch(), 4);
    assert_eq!(link.server().bad_records(), 0);
    assert!(link.server().error().is_none());
}

#[test]
fn ack_for_records_never_sent_is_harmless() {
    let (mut link, secrets) = established("ecdsa-p256", 1200);
    let suite = suite(&link);
    let client_seq = next_seq(&link, &secrets, Dir::ToServer, 3) + 20;
    let server_seq = next_seq(&link, &secrets, Dir::ToClient, 3) + 20;
    let ack = Ack {
        record_numbers: vec![
            RecordNumber::new(3, 999),
            RecordNumber::new(2, 77),
            RecordNumber::new(0, 12345),
            RecordNumber::new(9, 1),
        ],
    };
    let forged = seal13(
        &secrets,
        suite,
        true,
        3,
        client_seq,
        ContentType::Ack,
        &ack.to_bytes(),
    );
    link.deliver(Dir::ToServer, &forged).unwrap();
    assert!(link.server().error().is_none());
    assert_eq!(link.server().poll_timeout(), None);
    // An ACK for a KeyUpdate never sent does not move the write epoch either.
    let forged = seal13(
        &secrets,
        suite,
        false,
        3,
        server_seq,
        ContentType::Ack,
        &Ack {
            record_numbers: vec![RecordNumber::new(3, 400)],
        }
        .to_bytes(),
    );
    link.deliver(Dir::ToClient, &forged).unwrap();
    assert_eq!(link.client.write_epoch(), 3);
    write(&mut link.client, b"still fine");
    write(link.server(), b"both ways");
    link.pump().unwrap();
    assert_eq!(read_all(link.server()), b"still fine");
    assert_eq!(read_all(&mut link.client), b"both ways");
}

#[test]
fn non_empty_legacy_cookie_in_a_13_client_hello_is_illegal_parameter() {
    let (c, s) = versions(&[ProtocolVersion::TLSv1_3]);
    let now = Instant::now();
    let mut client = DtlsConnection::client(c, "localhost", dtls(1200), now).unwrap();
    let mut buf = [0u8; 1200];
    let n = client.poll_datagram(&mut buf).unwrap();
    let ch = &buf[..n];
    let body = &ch[25..];
    let at = 2 + 32 + 1 + usize::from(body[34]);
    assert_eq!(body[at], 0, "legacy_cookie is empty (RFC 9147 5.3)");
    let mut forged = body[..at].to_vec();
    forged.extend_from_slice(&[4, 1, 2, 3, 4]);
    forged.extend_from_slice(&body[at + 1..]);
    let mut server = DtlsConnection::server(s.clone(), dtls(1200)).unwrap();
    let res = server.recv_datagram(&plain_handshake(0, 1, 0, &forged), now);
    assert_fatal(
        &mut server,
        res,
        AlertDescription::IllegalParameter,
        &Secrets::default(),
        None,
    );
    // Through the acceptor it opens nothing.
    let mut acc = DtlsAcceptor::new(s, dtls(1200), now).unwrap();
    assert!(!matches!(
        acc.accept(&plain_handshake(0, 1, 0, &forged), CLIENT_ADDR, now),
        Accepted::Connection(_)
    ));
}

#[test]
fn records_with_unknown_epoch_bits_or_header_flags_are_dropped() {
    let (mut link, _) = established("ecdsa-p256", 1200);
    write(&mut link.client, b"x");
    let d = link.take(Dir::ToServer).remove(0);
    assert_eq!(d[0], 0x2f);
    // Epoch 1 (early data, never in use), epoch 4 (no update happened), a connection id
    // nobody negotiated, an 8-bit sequence number form of the same bytes.
    for first in [0x2d, 0x2c, 0x3f, 0x27] {
        let mut v = d.clone();
        v[0] = first;
        link.deliver(Dir::ToServer, &v).unwrap();
        assert!(link.server().error().is_none(), "{first:#x}");
        assert_eq!(link.server().read_epoch(), 3);
    }
    // A handshake record in epoch 2 long after the handshake: dropped (its keys are gone or
    // it does not deprotect).
    let mut v = d.clone();
    v[0] = 0x2e;
    link.deliver(Dir::ToServer, &v).unwrap();
    assert!(link.server().error().is_none());
    assert_eq!(read_all(link.server()), b"");
    link.deliver(Dir::ToServer, &d).unwrap();
    assert_eq!(read_all(link.server()), b"x");
}

#[test]
fn unified_header_records_before_any_keys_are_dropped() {
    let (c, s, _) = configs("ecdsa-p256");
    let now = Instant::now();
    let mut server = DtlsConnection::server(s, dtls(1200)).unwrap();
    let mut rec = vec![0x2e, 0x12, 0x34, 0, 20];
    rec.extend_from_slice(&[0xaa; 20]);
    server.recv_datagram(&rec, now).unwrap();
    assert!(server.error().is_none());
    let mut buf = [0u8; 1200];
    assert!(server.poll_datagram(&mut buf).is_none());
    // The same record ahead of a real hello in one datagram: the hello is still taken.
    let mut client = DtlsConnection::client(c, "localhost", dtls(1200), now).unwrap();
    let n = client.poll_datagram(&mut buf).unwrap();
    let mut both = rec.clone();
    both.extend_from_slice(&buf[..n]);
    server.recv_datagram(&both, now).unwrap();
    assert!(server.poll_datagram(&mut buf).is_some());
}

#[test]
fn handshake_message_framing_is_checked() {
    let (c, s) = versions(&[ProtocolVersion::TLSv1_3]);
    let now = Instant::now();
    let mut server = DtlsConnection::server(s.clone(), dtls(1200)).unwrap();
    let mut buf = [0u8; 1200];
    // A fragment claiming more bytes than its record holds: decode_error, the alert in
    // the clear (RFC 9147 4.5.2 allows a fatal alert for an invalid record).
    let mut msg = handshake_message(1, 0, &[0xfe, 0xfd]);
    msg[11] = 0x40;
    let res = server.recv_datagram(&plain_record(22, 0, 0, &msg), now);
    assert_fatal(
        &mut server,
        res,
        AlertDescription::DecodeError,
        &Secrets::default(),
        None,
    );
    let mut server = DtlsConnection::server(s.clone(), dtls(1200)).unwrap();
    // A first fragment of a ClientHello announced at 4 MiB (over the 64 KiB cap).
    let mut msg = handshake_message(1, 0, &[0xfe, 0xfd, 0, 0]);
    msg[1..4].copy_from_slice(&[0x40, 0, 0]);
    let res = server.recv_datagram(&plain_record(22, 0, 1, &msg), now);
    assert_eq!(res, Err(Error::LimitExceeded(Limit::HandshakeMessageSize)));
    let alert = res.unwrap_err().alert().unwrap();
    let res = server.recv_datagram(&[], now);
    assert_fatal(&mut server, res, alert, &Secrets::default(), None);
    // Nothing of either was kept: a fresh server answers a real hello.
    let mut server = DtlsConnection::server(s, dtls(1200)).unwrap();
    let mut client = DtlsConnection::client(c, "localhost", dtls(1200), now).unwrap();
    let n = client.poll_datagram(&mut buf).unwrap();
    server.recv_datagram(&buf[..n], now).unwrap();
    assert!(server.poll_datagram(&mut buf).is_some());
}

// ---- Lossy link

/// 1,000 seeded runs over a link that drops, duplicates, delays and reorders datagrams
/// (`common::dtls::lossy_link_runs`, shared with tests/dtls12.rs): the handshake (stateless
/// retry, ACKs, selective retransmission) completes within the total handshake timeout;
/// then each side sends numbered records with a KeyUpdate from each side in the middle (the
/// records written after it are held until its ACK, then go out in the new epoch): every
/// record the link delivers arrives exactly once, and the link goes quiet with both
/// KeyUpdates acknowledged (epoch 4 both ways). Which datagram carries which record is read
/// by opening it with the client's key log. `DTLS_SEED=<n>` replays one seed,
/// `DTLS_TRACE=<n>` traces it.
#[test]
fn lossy_link_thousand_seeded_runs() {
    // Four setups in turn: plain; the server preferring P-256 to the client's X25519 share
    // (the stateless retry also asks for a share); an RSA chain (more fragments); client
    // authentication (a longer client flight).
    let secrets = Arc::new(Secrets::default());
    let anchors = TrustAnchors::from_pem_file(common::vectors().join("ca.pem")).unwrap();
    let client = || common::client_builder().key_log(secrets.clone());
    let setups = [
        (
            client().build().unwrap(),
            common::server_builder("ecdsa-p256").build().unwrap(),
        ),
        (
            client()
                .groups(&[NamedGroup::x25519, NamedGroup::secp256r1])
                .key_share_groups(1)
                .build()
                .unwrap(),
            common::server_builder("ecdsa-p256")
                .groups(&[NamedGroup::secp256r1])
                .build()
                .unwrap(),
        ),
        (
            client().build().unwrap(),
            common::server_builder("rsa2048").build().unwrap(),
        ),
        (
            client()
                .client_auth_cert(common::certified_key("ecdsa-p256"))
                .build()
                .unwrap(),
            common::server_builder("ecdsa-p256")
                .client_verifier(Arc::new(WebPkiClientVerifier::new(anchors)))
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
    lossy_link_runs("DTLS 1.3", &setups, &opts);
}

mod fuzzish {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Arbitrary datagrams, and real DTLS 1.3 ones (hellos, the encrypted flights, ACKs,
        /// application data, a KeyUpdate) with bytes flipped, never panic either side and
        /// end, at worst, in an error with an alert; a flipped protected record is dropped.
        #[test]
        fn mangled_datagrams_never_panic(
            noise in proptest::collection::vec(any::<u8>(), 0..1500),
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
            pick in any::<usize>(),
        ) {
            let (c, s, _) = configs("ecdsa-p256");
            let mut link = Link::direct(c, s, dtls(1200));
            let now = link.now;
            let _ = link.client.recv_datagram(&noise, now);
            let _ = link.server().recv_datagram(&noise, now);
            let _ = link.pump();
            write(&mut link.client, b"data");
            let _ = link.client.request_key_update(true);
            let _ = link.pump();
            let mut all: Vec<Vec<u8>> = link.wire.iter().map(|(_, d)| d.clone()).collect();
            let n = all.len();
            let victim = &mut all[pick % n];
            let protected = victim[0] & 0xe0 == 0x20;
            for (at, x) in flips {
                let len = victim.len();
                victim[at % len] ^= x | 1;
            }
            let victim = victim.clone();
            let before = (link.client.read_epoch(), link.server().read_epoch());
            let rc = link.deliver(Dir::ToClient, &victim);
            let rs = link.deliver(Dir::ToServer, &victim);
            if protected && victim[0] & 0xe0 == 0x20 {
                // Unified header, mangled: dropped by both, nothing changes (no error unless
                // the decrypted content itself is refused, which a flip cannot forge).
                prop_assert!(rc.is_ok() && rs.is_ok(), "{rc:?} {rs:?}");
                prop_assert_eq!(before, (link.client.read_epoch(), link.server().read_epoch()));
            }
            let mut buf = [0u8; 1200];
            while link.client.poll_datagram(&mut buf).is_some() {}
            while link.server().poll_datagram(&mut buf).is_some() {}
        }
    }
}

#[test]
fn server_polled_before_its_first_datagram_keeps_working() {
    for v in [ProtocolVersion::TLSv1_3, ProtocolVersion::TLSv1_2] {
        let (c, s) = versions(&[v]);
        let mut link = Link::direct(c, s, dtls(1200));
        let mut buf = [0u8; 1200];
        assert_eq!(link.server().poll_datagram(&mut buf), None);
        assert_eq!(link.server().error(), None);
        link.pump().unwrap();
        assert!(!link.server().is_handshaking(), "{v:?}");
    }
}

// ---- More handshake and post-handshake rules

#[test]
fn alpn_and_sni_over_dtls13() {
    let c = common::client_builder()
        .alpn_protocols(&[b"coap".as_slice(), b"webrtc".as_slice()])
        .build()
        .unwrap();
    let s = common::server_builder("ecdsa-p256")
        .alpn_protocols(&[b"webrtc".as_slice()])
        .build()
        .unwrap();
    let mut link = negotiated(c, s, false);
    assert_established(&mut link);
    assert_eq!(link.client.alpn_protocol(), Some(&b"webrtc"[..]));
    assert_eq!(link.server().alpn_protocol(), Some(&b"webrtc"[..]));
    assert_eq!(link.server().server_name(), Some("localhost"));
}

#[test]
fn client_13_only_against_a_12_only_server_is_protocol_version() {
    let (c, _) = versions(&[ProtocolVersion::TLSv1_3]);
    let (_, s) = versions(&[ProtocolVersion::TLSv1_2]);
    let mut link = Link::direct(c, s, dtls(1200));
    let ch = link.take(Dir::ToServer);
    let res = link.deliver(Dir::ToServer, &ch[0]);
    assert_fatal(
        link.server(),
        res,
        AlertDescription::ProtocolVersion,
        &Secrets::default(),
        None,
    );
}

#[test]
fn missing_client_certificate_is_certificate_required() {
    let anchors = TrustAnchors::from_pem_file(common::vectors().join("ca.pem")).unwrap();
    let s = common::server_builder("ecdsa-p256")
        .tickets(0)
        .client_verifier(Arc::new(WebPkiClientVerifier::new(anchors)))
        .build()
        .unwrap();
    let secrets = Arc::new(Secrets::default());
    let c = common::client_builder().key_log(secrets.clone()).build().unwrap();
    let mut link = Link::direct(c, s, dtls(1200));
    forward(&mut link, Dir::ToServer);
    forward(&mut link, Dir::ToClient);
    let flight = link.take(Dir::ToServer);
    // An empty Certificate, then Finished (no CertificateVerify).
    let kinds: Vec<HandshakeType> = wire(&link, &secrets, link.wire.len() - flight.len())
        .iter()
        .flat_map(|r| r.fragments())
        .map(|f| f.0)
        .collect();
    assert_eq!(kinds, [HandshakeType::Certificate, HandshakeType::Finished]);
    let res = flight
        .iter()
        .map(|d| link.deliver(Dir::ToServer, d))
        .find(Result::is_err)
        .unwrap_or(Ok(()));
    let suite = Some(suite(&link));
    assert_fatal(
        link.server(),
        res,
        AlertDescription::CertificateRequired,
        &secrets,
        suite,
    );
}

#[test]
fn lost_client_finished_is_recovered() {
    let (mut link, secrets, fin) = to_client_finished("ecdsa-p256", false);
    drop(fin);
    // Both wait: the client for the ACK of its Finished, the server for the Finished.
    let (c, s) = (link.client.poll_timeout(), link.server().poll_timeout());
    assert!(c.is_some() && s.is_some());
    // Whichever fires first, the handshake completes from the repeats.
    let side = if c <= s { Dir::ToServer } else { Dir::ToClient };
    fire_timer(&mut link, side);
    let from = link.wire.len();
    link.pump().unwrap();
    assert_established(&mut link);
    let recs = wire(&link, &secrets, from);
    assert!(recs
        .iter()
        .any(|r| r.dir == Dir::ToServer && r.is_handshake(HandshakeType::Finished)));
    assert_eq!(link.client.poll_timeout(), None);
    assert_eq!(link.server().poll_timeout(), None);
}

#[test]
fn data_is_cut_into_records_that_fit_the_mtu() {
    let (mut link, secrets) = established("ecdsa-p256", 600);
    let big: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
    write(link.server(), &big);
    let from = link.wire.len();
    let sent = link.take(Dir::ToClient);
    assert!(
        sent.len() >= 9,
        "5000 bytes in {} datagrams under MTU 600",
        sent.len()
    );
    assert!(sent.iter().all(|d| d.len() <= 600));
    let recs = wire(&link, &secrets, from);
    assert!(recs
        .iter()
        .all(|r| r.typ == Some(ContentType::ApplicationData) && r.epoch == 3));
    // Delivered in reverse order: DTLS keeps record boundaries, not order, and a replay of
    // the first one is dropped.
    for d in sent.iter().rev() {
        link.deliver(Dir::ToClient, d).unwrap();
    }
    link.deliver(Dir::ToClient, &sent[0]).unwrap();
    let got = read_all(&mut link.client);
    assert_eq!(got.len(), big.len());
    let mut chunks: Vec<&[u8]> = recs.iter().map(|r| r.content.as_slice()).collect();
    chunks.reverse();
    assert_eq!(got, chunks.concat());
}

#[test]
fn stale_cookie_is_dropped() {
    let (c, s, _) = configs("ecdsa-p256");
    let now = Instant::now();
    let cfg = DtlsConfig {
        cookie_period: Duration::from_secs(10),
        ..dtls(1200)
    };
    let mut acc = DtlsAcceptor::new(s, cfg.clone(), now).unwrap();
    let mut client = DtlsConnection::client(c, "localhost", cfg, now).unwrap();
    let mut buf = [0u8; 1200];
    let n = client.poll_datagram(&mut buf).unwrap();
    let Accepted::HelloRetryRequest(hrr) = acc.accept(&buf[..n], CLIENT_ADDR, now) else {
        panic!("no HelloRetryRequest")
    };
    client.recv_datagram(&hrr, now).unwrap();
    let n = client.poll_datagram(&mut buf).unwrap();
    let ch2 = buf[..n].to_vec();
    // One period later the cookie still opens a connection; two rotations later it is gone.
    let later = now + Duration::from_secs(11);
    assert!(matches!(
        acc.accept(&ch2, CLIENT_ADDR, later),
        Accepted::Connection(_)
    ));
    let much_later = now + Duration::from_secs(25);
    assert!(matches!(
        acc.accept(&ch2, CLIENT_ADDR, much_later),
        Accepted::Dropped
    ));
}

/// The next message_seq of `dir`'s sender, from the handshake messages on the wire.
fn next_message_seq(link: &Link, secrets: &Secrets, dir: Dir) -> u16 {
    wire(link, secrets, 0)
        .iter()
        .filter(|r| r.dir == dir)
        .flat_map(|r| r.fragments())
        .map(|f| f.1 + 1)
        .max()
        .unwrap_or(0)
}

#[test]
fn key_update_with_an_invalid_request_value_is_illegal_parameter() {
    let (mut link, secrets) = established("ecdsa-p256", 1200);
    let suite = suite(&link);
    let msg_seq = next_message_seq(&link, &secrets, Dir::ToServer);
    let seq = next_seq(&link, &secrets, Dir::ToServer, 3);
    let ku = handshake_message(24, msg_seq, &[2]);
    let forged = seal13(&secrets, suite, true, 3, seq, ContentType::Handshake, &ku);
    let res = link.deliver(Dir::ToServer, &forged);
    assert_fatal(
        link.server(),
        res,
        AlertDescription::IllegalParameter,
        &secrets,
        Some(suite),
    );
}

#[test]
fn fatal_alert_behind_an_unacknowledged_key_update_is_reported_by_wants_write() {
    // Our KeyUpdate awaits its ACK (RFC 9147 8) when the peer's next record is fatal: the
    // alert does not wait for that ACK, and wants_write says there is something to send.
    let (mut link, secrets) = established("ecdsa-p256", 1200);
    let suite = suite(&link);
    link.server().request_key_update(false).unwrap();
    assert!(
        !link.take(Dir::ToClient).is_empty(),
        "the KeyUpdate went out, unacknowledged"
    );
    let msg_seq = next_message_seq(&link, &secrets, Dir::ToServer);
    let seq = next_seq(&link, &secrets, Dir::ToServer, 3);
    let ku = handshake_message(24, msg_seq, &[2]);
    let forged = seal13(&secrets, suite, true, 3, seq, ContentType::Handshake, &ku);
    let res = link.server().recv_datagram(&forged, Instant::now());
    assert!(res.is_err());
    assert!(link.server().wants_write());
    let mut buf = vec![0u8; 1200];
    assert!(link.server().poll_datagram(&mut buf).is_some(), "the alert");
    assert_eq!(
        link.server().last_alert_sent().map(|a| a.description),
        Some(AlertDescription::IllegalParameter)
    );
}

#[test]
fn key_update_before_the_finished_is_unexpected_message() {
    let (mut link, secrets, fin) = to_client_finished("ecdsa-p256", false);
    let suite = suite(&link);
    let fin_rec = wire(&link, &secrets, link.wire.len() - fin.len())
        .into_iter()
        .find(|r| r.is_handshake(HandshakeType::Finished))
        .unwrap();
    let msg_seq = fin_rec.fragments()[0].1;
    // In the Finished's place, under the client's handshake keys.
    let ku = handshake_message(24, msg_seq, &[0]);
    let forged = seal13(&secrets, suite, true, 2, fin_rec.seq, ContentType::Handshake, &ku);
    let res = link.deliver(Dir::ToServer, &forged);
    assert_fatal(
        link.server(),
        res,
        AlertDescription::UnexpectedMessage,
        &secrets,
        Some(suite),
    );
}

#[test]
fn new_session_ticket_from_the_client_is_unexpected_message() {
    let (mut link, secrets) = established("ecdsa-p256", 1200);
    let suite = suite(&link);
    let msg_seq = next_message_seq(&link, &secrets, Dir::ToServer);
    let seq = next_seq(&link, &secrets, Dir::ToServer, 3);
    // lifetime, age_add, nonce<1>, ticket<2>, extensions<2>
    let body = [0, 0, 0, 60, 0, 0, 0, 1, 1, 0, 0, 1, 7, 0, 0];
    let nst = handshake_message(4, msg_seq, &body);
    let forged = seal13(&secrets, suite, true, 3, seq, ContentType::Handshake, &nst);
    let res = link.deliver(Dir::ToServer, &forged);
    assert_fatal(
        link.server(),
        res,
        AlertDescription::UnexpectedMessage,
        &secrets,
        Some(suite),
    );
}

#[test]
fn plaintext_alert_after_the_handshake_is_ignored() {
    // Once records are protected, an epoch 0 record is not the peer's (RFC 9147 4.1): a
    // forged plaintext fatal alert closes nothing.
    let (mut link, _) = established("ecdsa-p256", 1200);
    let alert = plain_record(21, 0, 9, &[2, AlertDescription::InternalError.get()]);
    assert_eq!(link.deliver(Dir::ToServer, &alert), Ok(()));
    assert!(link.server().error().is_none());
    write(&mut link.client, b"still here");
    link.pump().unwrap();
    assert_eq!(read_all(link.server()), b"still here");
}

#[test]
fn key_updates_wrap_the_epoch_bits() {
    // Epochs 4.. reuse the two low bits of 0..3 (RFC 9147 4.2.2): 12 updates take both
    // directions through epoch 9, past bits 2 (the handshake epoch's) twice.
    let (mut link, _) = established("ecdsa-p256", 1200);
    alternate_key_updates(&mut link, 12, true);
    for conn in [&mut link.client, link.server.as_mut().unwrap()] {
        assert_eq!((conn.read_epoch(), conn.write_epoch()), (15, 15));
        assert_eq!(conn.bad_records(), 0);
    }
}

#[test]
fn key_updates_without_data_between_are_a_flood() {
    // Data resets the count (as over TLS): 64 KeyUpdates with a record after each 32 pass.
    let (mut link, _) = established("ecdsa-p256", 1200);
    for i in 1..=64 {
        link.client.request_key_update(false).unwrap();
        link.pump_timers().unwrap();
        if i % 32 == 0 {
            write(&mut link.client, b"x");
            link.pump_timers().unwrap();
            assert_eq!(read_all(link.server()), b"x");
        }
    }
    for _ in 0..32 {
        link.client.request_key_update(false).unwrap();
        link.pump_timers().unwrap();
    }
    // The 33rd in a row is one too many.
    link.client.request_key_update(false).unwrap();
    let flood = Error::LimitExceeded(Limit::KeyUpdates);
    assert_eq!(link.pump(), Err(flood.clone()));
    assert_eq!(link.server().error(), Some(&flood));
    // The alert reaches the client.
    let _ = link.pump();
    assert_eq!(
        link.client.error(),
        Some(&Error::AlertReceived(AlertDescription::UnexpectedMessage))
    );
}

#[test]
fn epochs_past_16_bits_keep_working() {
    // DTLS 1.3 epochs are 64-bit (RFC 9147 4): epoch 2^16 is not a truncated one. The
    // client's 16-bit message_seq (RFC 9147 5.2) ends first: after the cookie exchange its
    // Finished is message 2, so the KeyUpdate into epoch 2^16 is message 0xffff, its last.
    let (mut link, _) = established("ecdsa-p256", 1200);
    while link.client.write_epoch() < (1 << 16) {
        link.client.request_key_update(false).unwrap();
        link.pump_timers().unwrap();
        // Data between KeyUpdates: without it the server calls them a flood.
        if link.client.write_epoch() % 16 == 0 {
            write(&mut link.client, b"x");
            link.pump_timers().unwrap();
            assert_eq!(read_all(link.server()), b"x");
        }
    }
    assert_eq!(link.client.write_epoch(), 65_536);
    assert_eq!(link.server().read_epoch(), 65_536);
    assert_eq!(
        link.client.request_key_update(false),
        Err(Error::LimitExceeded(Limit::HandshakeMessageSeq))
    );
    write(&mut link.client, b"past 2^16");
    write(link.server(), b"still at 3");
    link.pump_timers().unwrap();
    assert_eq!(read_all(link.server()), b"past 2^16");
    assert_eq!(read_all(&mut link.client), b"still at 3");
    assert_eq!(link.server().write_epoch(), 3);
    for conn in [&mut link.client, link.server.as_mut().unwrap()] {
        assert_eq!(conn.bad_records(), 0);
    }
}

#[test]
fn sequence_numbers_past_16_bits_are_reconstructed() {
    // The header carries the low 16 bits (encrypted); the receiver rebuilds the full number
    // from its window (RFC 9147 4.2.2). 70,000 records cross 2^16.
    let (mut link, _) = established("ecdsa-p256", 1200);
    let mut buf = [0u8; 1200];
    let mut last = Vec::new();
    for i in 0..70_000u32 {
        write(&mut link.client, &i.to_be_bytes());
        let n = link.client.poll_datagram(&mut buf).unwrap();
        let now = link.now;
        link.server().recv_datagram(&buf[..n], now).unwrap();
        let got = read_all(link.server());
        assert_eq!(got, i.to_be_bytes(), "record {i}");
        if i == 69_999 {
            last = buf[..n].to_vec();
        }
    }
    assert_eq!(link.server().bad_records(), 0);
    // A replay of the last one is still a replay.
    let now = link.now;
    link.server().recv_datagram(&last, now).unwrap();
    assert_eq!(read_all(link.server()), b"");
}

#[test]
fn records_per_key_triggers_a_key_update() {
    let c = common::client_builder().records_per_key(10).build().unwrap();
    let s = common::server_builder("ecdsa-p256").build().unwrap();
    let mut link = Link::new(c, s, dtls(1200));
    link.pump_timers().unwrap();
    assert_established(&mut link);
    for i in 0..30u8 {
        write(&mut link.client, &[i]);
        link.pump_timers().unwrap();
    }
    assert_eq!(read_all(link.server()), (0..30u8).collect::<Vec<_>>());
    // At least one update per 10 records, each acknowledged before the next.
    eprintln!("write epoch after 30 records: {}", link.client.write_epoch());
    assert!(link.client.write_epoch() >= 5, "{}", link.client.write_epoch());
    assert_eq!(link.server().read_epoch(), link.client.write_epoch());
    assert_eq!(
        link.server().write_epoch(),
        3,
        "the server's own limit is the default"
    );
}

#[test]
fn crossing_key_updates_asking_each_other_answer_each_other() {
    // RFC 8446 4.6.3: update_requested is answered by a KeyUpdate of our own. Two that
    // cross each arrive while the receiver's own is out awaiting its ACK (RFC 9147 8), its
    // keys not yet in use: that one is the answer, so each side moves one generation (as
    // BoringSSL, which sends no second KeyUpdate while one is unacknowledged).
    let (mut link, _) = established("ecdsa-p256", 1200);
    link.client.request_key_update(true).unwrap();
    link.server().request_key_update(true).unwrap();
    link.pump().unwrap();
    for _ in 0..4 {
        if link.advance().is_none() {
            break;
        }
        link.pump().unwrap();
    }
    let c = (link.client.read_epoch(), link.client.write_epoch());
    let s = (link.server().read_epoch(), link.server().write_epoch());
    assert_eq!((c.0, c.1), (s.1, s.0), "both directions agree");
    assert_eq!((c, s), ((4, 4), (4, 4)));
    data_flows_both_ways(&mut link, b"up", b"down");
}

#[test]
fn plaintext_ack_does_not_stop_the_retransmission_of_protected_records() {
    // Once the server reads epoch 2, a plaintext ACK is anyone's: claiming the encrypted
    // flight it must not keep it from being sent again (RFC 9147 4, 7).
    // The client has not seen the ServerHello: the server logs the secrets.
    let secrets = Arc::new(Secrets::default());
    let c = common::client_builder().build().unwrap();
    let s = common::server_builder("ecdsa-p256")
        .key_log(secrets.clone())
        .build()
        .unwrap();
    let mut link = Link::direct(c, s, dtls(1200));
    forward(&mut link, Dir::ToServer);
    let suite = link.server().cipher_suite().unwrap();
    let from = link.wire.len();
    let flight = link.take(Dir::ToClient);
    let recs = decode_wire(&link.wire, from, &secrets, suite);
    let protected: Vec<RecordNumber> = recs.iter().filter(|r| r.epoch == 2).map(rn).collect();
    assert!(!protected.is_empty());
    let mut claimed = protected.clone();
    claimed.push(RecordNumber::new(0, 0));
    let forged = plain_record(
        26,
        0,
        5,
        &Ack {
            record_numbers: claimed,
        }
        .to_bytes(),
    );
    link.deliver(Dir::ToServer, &forged).unwrap();
    assert!(link.server().error().is_none());
    fire_timer(&mut link, Dir::ToClient);
    let from = link.wire.len();
    let again = link.take(Dir::ToClient);
    let resent = decode_wire(&link.wire, from, &secrets, suite);
    let resent_hs: Vec<_> = resent
        .iter()
        .filter(|r| r.epoch == 2)
        .flat_map(|r| r.fragments())
        .collect();
    let first_hs: Vec<_> = recs
        .iter()
        .filter(|r| r.epoch == 2)
        .flat_map(|r| r.fragments())
        .collect();
    assert_eq!(
        resent_hs, first_hs,
        "the encrypted flight was not sent again in full"
    );
    for d in &again {
        link.deliver(Dir::ToClient, d).unwrap();
    }
    drop(flight);
    link.pump().unwrap();
    assert_established(&mut link);
}

#[test]
fn server_flight_in_reverse_order_completes() {
    // The encrypted records arrive before the ServerHello that brings their keys.
    let (c, s, _) = configs("rsa2048");
    let mut link = Link::direct(c, s, dtls(600));
    forward(&mut link, Dir::ToServer);
    let flight: Vec<Vec<u8>> = link
        .take(Dir::ToClient)
        .iter()
        .flat_map(|d| split_records(d))
        .collect();
    assert!(flight.len() > 3);
    for r in flight.iter().rev() {
        link.deliver(Dir::ToClient, r).unwrap();
    }
    // Whatever was kept, ACKed and sent again, the handshake completes without loss.
    for _ in 0..4 {
        link.pump().unwrap();
        if !link.client.is_handshaking() && !link.server().is_handshaking() {
            break;
        }
        link.advance();
    }
    assert_established(&mut link);
    assert_eq!(link.client.bad_records(), 0);
}

#[test]
fn duplicated_flights_change_nothing() {
    let (c, s, _) = configs("ecdsa-p256");
    let mut link = Link::direct(c, s, dtls(1200));
    for _ in 0..6 {
        for dir in [Dir::ToServer, Dir::ToClient] {
            for d in link.take(dir) {
                for _ in 0..3 {
                    link.deliver(dir, &d).unwrap();
                }
            }
        }
    }
    assert_established(&mut link);
    let ev = events(&mut link.client);
    assert_eq!(ev.iter().filter(|e| **e == Event::HandshakeComplete).count(), 1);
    assert_eq!(link.client.bad_records(), 0);
    assert_eq!(link.server().bad_records(), 0);
    write(&mut link.client, b"once");
    let d = link.take(Dir::ToServer);
    for _ in 0..3 {
        link.deliver(Dir::ToServer, &d[0]).unwrap();
    }
    assert_eq!(read_all(link.server()), b"once");
}

#[test]
fn early_data_configured_is_not_used_over_dtls() {
    // No 0-RTT over DTLS 1.3 here (no epoch 1, no EndOfEarlyData): configs that enable it
    // still resume, without early data.
    let c = common::client_builder().enable_early_data(true).build().unwrap();
    let s = common::server_builder("ecdsa-p256")
        .max_early_data(4096)
        .build()
        .unwrap();
    let mut first = negotiated(c.clone(), s.clone(), false);
    assert_established(&mut first);
    assert!(events(&mut first.client).contains(&Event::SessionTicket));
    let mut second = Link::new(c, s, dtls(1200));
    // Nothing may go out in epoch 1.
    write(&mut second.client, b"early?");
    second.pump().unwrap();
    assert_established(&mut second);
    assert!(second.client.is_resumed());
    assert!(second.wire.iter().all(|(_, d)| d[0] & 0xe3 != 0x21));
    assert_eq!(read_all(second.server()), b"early?");
}

#[test]
fn fragmented_second_hello_cookie_is_checked_from_its_first_fragment() {
    let (c, s, _) = configs("ecdsa-p256");
    let now = Instant::now();
    let mut acc = DtlsAcceptor::new(s, dtls(256), now).unwrap();
    let mut client = DtlsConnection::client(c, "localhost", dtls(256), now).unwrap();
    let mut buf = [0u8; 256];
    let n = client.poll_datagram(&mut buf).unwrap();
    let Accepted::HelloRetryRequest(hrr) = acc.accept(&buf[..n], CLIENT_ADDR, now) else {
        panic!("no HelloRetryRequest")
    };
    // The extension holds cookie<1..2^16-1>: skip its length.
    let cookie = hello_extension(&hrr, 44).unwrap()[2..].to_vec();
    client.recv_datagram(&hrr, now).unwrap();
    let ch2: Vec<Vec<u8>> =
        std::iter::from_fn(|| client.poll_datagram(&mut buf).map(|n| buf[..n].to_vec())).collect();
    assert!(ch2.len() >= 2, "second hello in {} datagram(s)", ch2.len());
    let first = &ch2[0];
    let at = first
        .windows(cookie.len())
        .position(|w| w == cookie.as_slice())
        .expect("the cookie rides in the first fragment");
    // Another address, or one bit of the cookie changed: dropped.
    assert!(matches!(
        acc.accept(first, b"192.0.2.9:1", now),
        Accepted::Dropped
    ));
    for flip in [at, at + cookie.len() - 1] {
        let mut bad = first.clone();
        bad[flip] ^= 0x80;
        assert!(matches!(acc.accept(&bad, CLIENT_ADDR, now), Accepted::Dropped));
    }
    // A cookie extension that does not parse opens nothing either.
    let mut bad = first.clone();
    bad[at - 2] ^= 0x80;
    assert!(!matches!(
        acc.accept(&bad, CLIENT_ADDR, now),
        Accepted::Connection(_)
    ));
    // The later fragments alone open nothing.
    assert!(matches!(acc.accept(&ch2[1], CLIENT_ADDR, now), Accepted::Dropped));
    let Accepted::Connection(server) = acc.accept(first, CLIENT_ADDR, now) else {
        panic!("valid cookie in the first fragment refused")
    };
    let mut link = Link {
        client,
        server: Some(*server),
        acceptor: acc,
        now,
        mtu: 256,
        wire: Vec::new(),
        hvrs: 0,
        hrrs: 0,
    };
    for d in &ch2[1..] {
        link.deliver(Dir::ToServer, d).unwrap();
    }
    link.pump().unwrap();
    assert_established(&mut link);
}

// ---------------------------------------------------------------------------------------------
// What the peer sends that TLS caps or pushes back on, over DTLS 1.3 the same way.

/// A DTLS 1.3 link whose server holds at most `max_buffered` unread plaintext bytes and
/// blinds its failures.
fn established_with(max_buffered: usize, dtls: DtlsConfig) -> (Link, Arc<Secrets>) {
    let secrets = Arc::new(Secrets::default());
    let client = common::client_builder().key_log(secrets.clone()).build().unwrap();
    let server = common::server_builder("ecdsa-p256")
        .max_buffered_plaintext(max_buffered)
        .blinding(Duration::from_millis(10), Duration::from_millis(20))
        .build()
        .unwrap();
    let mut link = Link::new(client, server, dtls);
    link.pump().unwrap();
    assert_established(&mut link);
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
    let got = read_all(link.server());
    assert_eq!(got, [[b'a'; 800], [b'b'; 800]].concat());
    // Once read, records are taken again.
    write(&mut link.client, b"after");
    link.pump().unwrap();
    assert_eq!(read_all(link.server()), b"after");
    assert_eq!(link.server().blinding_delay(), None);
}

#[test]
fn warning_alerts_in_a_row_are_capped_as_over_tls() {
    let (mut link, secrets) = established_with(65536, dtls(1200));
    let suite = suite(&link);
    let mut seq = next_seq(&link, &secrets, Dir::ToServer, 3);
    let mut forge = |typ: ContentType, content: &[u8]| {
        seq += 1;
        seal13(&secrets, suite, true, 3, seq - 1, typ, content)
    };
    let user_canceled = [1, AlertDescription::UserCanceled.get()];
    // Data in between resets the count (RFC 8446 6.1: user_canceled is not an error).
    for _ in 0..sanstls::conn::MAX_WARNING_ALERTS_IN_A_ROW {
        link.deliver(Dir::ToServer, &forge(ContentType::Alert, &user_canceled))
            .unwrap();
    }
    link.deliver(Dir::ToServer, &forge(ContentType::ApplicationData, b"x"))
        .unwrap();
    for _ in 0..sanstls::conn::MAX_WARNING_ALERTS_IN_A_ROW {
        link.deliver(Dir::ToServer, &forge(ContentType::Alert, &user_canceled))
            .unwrap();
    }
    let flood = Error::LimitExceeded(Limit::WarningAlerts);
    assert_eq!(
        link.deliver(Dir::ToServer, &forge(ContentType::Alert, &user_canceled)),
        Err(flood.clone())
    );
    assert_eq!(link.server().error(), Some(&flood));
    assert!(link.server().blinding_delay().is_some());
    let _ = link.pump();
    assert_eq!(
        link.client.error(),
        Some(&Error::AlertReceived(AlertDescription::UnexpectedMessage))
    );
}

#[test]
fn empty_records_in_a_row_are_capped_as_over_tls() {
    let (mut link, secrets) = established_with(65536, dtls(1200));
    let suite = suite(&link);
    let first = next_seq(&link, &secrets, Dir::ToServer, 3);
    let cap = u64::from(sanstls::conn::MAX_EMPTY_RECORDS_IN_A_ROW);
    for seq in first..first + cap {
        let empty = seal13(&secrets, suite, true, 3, seq, ContentType::ApplicationData, b"");
        link.deliver(Dir::ToServer, &empty).unwrap();
    }
    let empty = seal13(
        &secrets,
        suite,
        true,
        3,
        first + cap,
        ContentType::ApplicationData,
        b"",
    );
    let flood = Error::LimitExceeded(Limit::ConsecutiveEmptyRecords);
    assert_eq!(link.deliver(Dir::ToServer, &empty), Err(flood.clone()));
    assert!(link.server().blinding_delay().is_some());
    let _ = link.pump();
    assert_eq!(
        link.client.error(),
        Some(&Error::AlertReceived(AlertDescription::UnexpectedMessage))
    );
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
    assert_eq!(link.server().blinding_delay(), None);
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
    // The client has blinding off.
    let _ = link.pump();
    assert!(link.client.error().is_some());
    assert_eq!(link.client.blinding_delay(), None);
}

#[test]
fn client_alert_for_a_rejected_certificate_is_under_its_handshake_epoch() {
    // RFC 9147 4, RFC 8446 6: once the server's flight is read, the server reads the client
    // at epoch 2; an epoch-0 alert would be unauthenticated and ignored.
    let secrets = Arc::new(Secrets::default());
    // A leaf as the only anchor: the server's issuer is unknown.
    let anchors = TrustAnchors::from_pem_file(common::vectors().join("localhost-ecdsa-p384.pem")).unwrap();
    let client = ClientConfig::builder(Arc::new(sanstls::pki::WebPkiServerVerifier::new(anchors)))
        .key_log(secrets.clone())
        .build()
        .unwrap();
    let server = common::server_builder("ecdsa-p256").build().unwrap();
    let mut link = Link::new(client, server, dtls(1200));
    let err = link.pump().unwrap_err();
    assert_eq!(err.alert(), Some(AlertDescription::UnknownCa));
    let from = link.wire.len();
    let out = link.take(Dir::ToServer);
    let recs = wire(&link, &secrets, from);
    assert_eq!(recs.len(), 1, "{recs:?}");
    assert_eq!(recs[0].epoch, 2);
    assert_eq!(recs[0].typ, Some(ContentType::Alert));
    assert_eq!(recs[0].content, [2, AlertDescription::UnknownCa.get()]);
    assert_eq!(
        link.deliver(Dir::ToServer, &out[0]),
        Err(Error::AlertReceived(AlertDescription::UnknownCa))
    );
    assert_eq!(
        link.server().last_alert_received().map(|a| a.description),
        Some(AlertDescription::UnknownCa)
    );
}

#[test]
fn nothing_goes_out_after_a_fatal_alert_behind_the_clients_finished() {
    // RFC 8446 6.2, RFC 9147 4: on a fatal alert the connection closes at once. The
    // client's Finished makes the server queue tickets and an ACK; the alert in the same
    // datagram, read next, must leave them unsent.
    let (mut link, secrets, fin) = to_client_finished("ecdsa-p256", true);
    let suite = suite(&link);
    let seq = next_seq(&link, &secrets, Dir::ToServer, 2);
    let alert = seal13(
        &secrets,
        suite,
        true,
        2,
        seq,
        ContentType::Alert,
        &[2, AlertDescription::InternalError.get()],
    );
    let (last, rest) = fin.split_last().unwrap();
    for d in rest {
        link.deliver(Dir::ToServer, d).unwrap();
    }
    let mut d = last.clone();
    d.extend_from_slice(&alert);
    let res = link.deliver(Dir::ToServer, &d);
    assert_eq!(res, Err(Error::AlertReceived(AlertDescription::InternalError)));
    assert!(!link.server().is_handshaking() || link.server().error().is_some());
    assert!(!link.server().wants_write());
    assert_eq!(link.take(Dir::ToClient), Vec::<Vec<u8>>::new());
    assert_eq!(link.server().poll_timeout(), None);
}

#[test]
fn ack_of_the_client_hello_before_the_server_speaks_is_ignored() {
    // Until a ServerHello or HelloRetryRequest names DTLS 1.3 the client does not know the
    // version (a DTLS 1.2 server has no ACK): an ACK of its ClientHello changes nothing, the
    // whole hello goes out again on the timer.
    let (c, s, _) = configs("ecdsa-p256");
    let mut link = Link::direct(c, s, dtls(1200));
    let hello = link.take(Dir::ToServer);
    assert_eq!(hello.len(), 1);
    let ack = plain_record(
        26,
        0,
        0,
        &Ack {
            record_numbers: vec![RecordNumber::new(0, 0)],
        }
        .to_bytes(),
    );
    link.deliver(Dir::ToClient, &ack).unwrap();
    assert!(link.client.error().is_none());
    fire_timer(&mut link, Dir::ToServer);
    let again = link.take(Dir::ToServer);
    assert_eq!(again.len(), 1, "the ClientHello was not sent again");
    // The same hello, in a record of its own with the next sequence number.
    assert_eq!(again[0][13..], hello[0][13..]);
    for d in &again {
        link.deliver(Dir::ToServer, d).unwrap();
    }
    link.pump().unwrap();
    assert_established(&mut link);
}

#[test]
fn an_acknowledged_flight_is_not_retransmitted() {
    // RFC 9147 7.2: once the peer acknowledged every record of our flight there is nothing
    // to send again; we wait for its next flight without any timer (the peer is alive and
    // has our flight: how long to wait is the application's idle timeout, as after the
    // handshake; BoringSSL does the same).
    let secrets = Arc::new(Secrets::default());
    let c = common::client_builder().key_log(secrets.clone()).build().unwrap();
    let s = common::server_builder("ecdsa-p256").build().unwrap();
    let mut link = Link::direct(c, s, dtls(1200));
    forward(&mut link, Dir::ToServer);
    let from = link.wire.len();
    let flight = link.take(Dir::ToClient);
    for d in &flight {
        link.deliver(Dir::ToClient, d).unwrap();
    }
    let suite = link.client.cipher_suite().unwrap();
    let recs = decode_wire(&link.wire, from, &secrets, suite);
    let all: Vec<RecordNumber> = recs.iter().map(rn).collect();
    // The client's answer is held back; an ACK of the whole server flight goes instead.
    let _ = link.take(Dir::ToServer);
    let timer_before = link.server().poll_timeout().expect("retransmission timer armed");
    let ack = Ack { record_numbers: all };
    let sealed = seal13(&secrets, suite, true, 2, 50, ContentType::Ack, &ack.to_bytes());
    link.deliver(Dir::ToServer, &sealed).unwrap();
    assert_eq!(
        link.server().poll_timeout(),
        None,
        "was armed at {timer_before:?}"
    );
    link.now += Duration::from_secs(600);
    let now = link.now;
    link.server().handle_timeout(now).unwrap();
    assert!(
        link.take(Dir::ToClient).is_empty(),
        "an acknowledged flight was sent again"
    );
}

#[test]
fn a_smaller_mtu_applies_to_the_next_retransmission() {
    let (c, s, _) = configs("rsa2048");
    let mut link = Link::direct(c, s, dtls(1200));
    forward(&mut link, Dir::ToServer);
    let first = link.take(Dir::ToClient);
    assert!(
        first.iter().any(|d| d.len() > 600),
        "the flight fills 1,200-byte datagrams"
    );
    assert!(matches!(link.server().set_mtu(100), Err(Error::Config(_))));
    link.server().set_mtu(600).unwrap();
    fire_timer(&mut link, Dir::ToClient);
    let again = link.take(Dir::ToClient);
    assert!(!again.is_empty());
    assert!(
        again.iter().all(|d| d.len() <= 600),
        "{:?}",
        again.iter().map(Vec::len).collect::<Vec<_>>()
    );
    for d in &again {
        link.deliver(Dir::ToClient, d).unwrap();
    }
    link.pump().unwrap();
    assert_established(&mut link);
}

#[test]
fn part_of_a_post_handshake_message_is_acknowledged_after_a_short_delay() {
    // RFC 9147 7.1: the first half of a NewSessionTicket alone is acknowledged, on the delayed
    // ACK (a quarter of the retransmission timeout), so the peer resends only the rest.
    let (mut link, secrets, fin) = to_client_finished("ecdsa-p256", true);
    for d in &fin {
        link.deliver(Dir::ToServer, d).unwrap();
    }
    let from = link.wire.len();
    let _ = link.take(Dir::ToClient);
    let recs = wire(&link, &secrets, from);
    let ticket = recs
        .iter()
        .find(|r| r.is_handshake(HandshakeType::NewSessionTicket))
        .expect("a ticket");
    // The first NewSessionTicket of the record: header, then half its body, as its own record.
    let content = &ticket.content;
    let len = u32::from_be_bytes([0, content[1], content[2], content[3]]) as usize;
    let half = len / 2;
    let mut partial = content[..12].to_vec();
    partial[9..12].copy_from_slice(&(half as u32).to_be_bytes()[1..]);
    partial.extend_from_slice(&content[12..12 + half]);
    let suite = link.client.cipher_suite().unwrap();
    let forged = seal13(&secrets, suite, false, 3, 500, ContentType::Handshake, &partial);
    link.deliver(Dir::ToClient, &forged).unwrap();
    assert!(link.take(Dir::ToServer).is_empty(), "no ACK at once");
    assert_eq!(
        link.client.poll_timeout(),
        Some(link.now + Duration::from_millis(250))
    );
    fire_timer(&mut link, Dir::ToServer);
    let from = link.wire.len();
    let ack = link.take(Dir::ToServer);
    assert_eq!(ack.len(), 1);
    let acks: Vec<Ack> = wire(&link, &secrets, from)
        .iter()
        .filter_map(WireRecord::ack)
        .collect();
    assert!(all_acked(&acks).contains(&RecordNumber::new(3, 500)), "{acks:?}");
}

#[test]
fn application_data_is_sealed_into_the_callers_buffer_one_datagram_per_call() {
    let (mut link, _) = established("ecdsa-p256", 1200);
    // A DTLS 1.3 record adds its unified header (5), the content type (1) and the tag (16):
    // records carry 1,178 bytes, and a full one fills the MTU.
    let full = 1200;
    let data: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
    let last = data.len() - 2 * (1200 - 22) + 22;

    // A buffer under the MTU: nothing comes out, the burst waits sealed in whole datagrams.
    write(&mut link.client, &data);
    assert!(link.client.poll_datagram(&mut [0u8; 100]).is_none());
    let first = link.take(Dir::ToServer);
    let lens: Vec<usize> = first.iter().map(Vec::len).collect();
    assert_eq!(lens, [full, full, last]);

    // Sealed straight into the caller's buffer, one datagram per call, packed the same: the
    // close_notify (2 bytes of content) shares the last datagram.
    write(&mut link.client, &data);
    link.client.send_close_notify();
    let second = link.take(Dir::ToServer);
    let lens: Vec<usize> = second.iter().map(Vec::len).collect();
    assert_eq!(lens, [full, full, last + 2 + 22]);

    for d in first.iter().chain(&second) {
        link.deliver(Dir::ToServer, d).unwrap();
    }
    assert_eq!(read_all(link.server()), [&data[..], &data[..]].concat());
    assert!(link.server().peer_has_closed());
}

/// RFC 9147 4.5.2: a record invalid before it is authenticated is dropped, not fatal: here
/// one whose ciphertext is longer than any record's (2^14 + 256, RFC 8446 5.2), which anyone
/// could have sent.
#[test]
fn overlong_ciphertext_is_dropped_not_fatal() {
    let (mut link, _) = established("ecdsa-p256", 1200);
    let len = (1 << 14) + 257;
    // Unified header: fixed bits 001, no connection id, 16-bit sequence number, length
    // present, epoch bits 3.
    let mut rec = vec![0x2f, 0, 9];
    rec.extend_from_slice(&(len as u16).to_be_bytes());
    rec.resize(rec.len() + len, 0x55);
    assert_eq!(link.deliver(Dir::ToServer, &rec), Ok(()));
    assert!(link.server().error().is_none());
    assert_eq!(link.server().bad_records(), 1);
    assert!(link.take(Dir::ToClient).is_empty());
    write(&mut link.client, b"still up");
    link.pump().unwrap();
    assert_eq!(read_all(link.server()), b"still up");
}

/// Over DTLS each record's data is announced by an `Event::Data` of its own, even with no
/// other event between them: a record is the application's message, and the event's length
/// is its boundary (what BoringSSL's `SSL_read` returns one at a time).
#[test]
fn each_record_is_announced_by_its_own_data_event() {
    let (mut link, _) = established("ecdsa-p256", 1200);
    for round in 0..3u32 {
        write(&mut link.client, &vec![round as u8 + 1; round as usize + 1]);
        link.pump().unwrap();
    }
    assert_eq!(
        events(link.server()),
        vec![
            Event::Data { len: 1 },
            Event::Data { len: 2 },
            Event::Data { len: 3 }
        ]
    );
    assert_eq!(read_all(link.server()), [1, 2, 2, 3, 3, 3]);
}

/// Each write is a message (DTLS preserves datagram semantics, RFC 9147 abstract): two writes
/// before one `poll_datagram` become two records, packed into one datagram, and the peer
/// reads them as two. A write is taken whole or not at all: while earlier writes fill the
/// plaintext cap the next one is `WouldBlock`, never cut in two.
#[test]
fn each_write_is_a_record_of_its_own_and_is_taken_whole() {
    let (mut link, secrets) = established("ecdsa-p256", 1200);
    let from = link.wire.len();
    write(&mut link.client, b"one");
    write(&mut link.client, b"two");
    link.pump().unwrap();
    let sent: Vec<WireRecord> = wire(&link, &secrets, from)
        .into_iter()
        .filter(|r| r.dir == Dir::ToServer && r.typ == Some(ContentType::ApplicationData))
        .collect();
    assert_eq!(sent.len(), 2);
    assert_eq!(
        sent[0].datagram, sent[1].datagram,
        "both records share a datagram"
    );
    assert_eq!(
        events(link.server()),
        vec![Event::Data { len: 3 }, Event::Data { len: 3 }]
    );
    assert_eq!(read_all(link.server()), b"onetwo");

    // The cap (64 KiB by default): a write that would cross it waits whole.
    let cap = 64 * 1024;
    write(&mut link.client, &vec![1u8; cap - 10]);
    let err = std::io::Write::write(&mut link.client.writer(), &[2u8; 20]).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
    link.pump().unwrap();
    assert_eq!(read_all(link.server()), vec![1u8; cap - 10]);
    write(&mut link.client, &[2u8; 20]);
    link.pump().unwrap();
    assert_eq!(read_all(link.server()), [2u8; 20]);
}
