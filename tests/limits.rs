//! Resource limits under flood: each test throws far more than the limit at a connection and
//! shows that it answers with one alert after a bounded number of records (CPU is counted in
//! records, not time) while its heap stays bounded (a counting allocator in this binary
//! measures the peak bytes the connection takes while it is flooded).
//!
//! Limits tested elsewhere: 0-RTT volume (`tests/resumption.rs`
//! `early_data_is_capped_by_max_early_data_size`), path-building work (`src/pki/tests.rs`
//! `path_search_work_is_bounded`, `intermediate_depth_is_capped`), DTLS reassembly
//! (`src/dtls/fragment.rs` `caps_bound_memory`) and the plaintext a writer may queue
//! (`tests/tls13.rs` `buffered_plaintext_is_capped`).

mod common;

#[path = "../benches/support/counting_alloc.rs"]
mod counting_alloc;

#[global_allocator]
static ALLOC: counting_alloc::Counting = counting_alloc::Counting;

use std::io::{Read, Write};

use common::forge::{established13, Forge13};
use common::*;
use sanstls::codec::{AlertDescription, ProtocolVersion};
use sanstls::conn::{
    MAX_CERTIFICATE_CHAIN_LEN, MAX_EMPTY_RECORDS_IN_A_ROW, MAX_KEY_UPDATES_IN_A_ROW, MAX_TICKETS,
    MAX_WARNING_ALERTS_IN_A_ROW,
};
use sanstls::{CertifiedKey, Connection, Error, Event, Limit, PeerMisbehaved};

/// Records in every flood: far beyond each limit.
const FLOOD: usize = 2_000;
/// Heap a flooded connection may take on top of what it held before (the deframer's
/// buffer of one maximal record, the handshake joiner's one maximal message, bookkeeping).
const HEAP_BOUND: i64 = 256 * 1024;

struct Outcome {
    error: Error,
    /// Records fed, the one that failed included.
    records: usize,
    /// Peak heap growth while flooded.
    heap: i64,
    /// What the connection wrote after the error.
    sent: Vec<u8>,
}

/// Feeds pre-built records one at a time until the connection fails.
fn flood(conn: &mut Connection, records: &[Vec<u8>]) -> Outcome {
    let mut sink = Vec::new();
    while conn.write_tls(&mut sink).unwrap() > 0 {}
    let base = counting_alloc::live_bytes();
    counting_alloc::reset_peak();
    for (i, rec) in records.iter().enumerate() {
        let mut rd = &rec[..];
        while !rd.is_empty() {
            conn.read_tls(&mut rd).unwrap();
            if let Err(error) = conn.process_new_packets() {
                let heap = counting_alloc::peak_bytes() - base;
                let mut sent = Vec::new();
                while conn.write_tls(&mut sent).unwrap() > 0 {}
                return Outcome {
                    error,
                    records: i + 1,
                    heap,
                    sent,
                };
            }
        }
        // Our own answers (KeyUpdate responses) go out as they would on a socket.
        sink.clear();
        while conn.write_tls(&mut sink).unwrap() > 0 {}
    }
    panic!("{} records accepted without an error", records.len());
}

fn record(typ: u8, payload: &[u8]) -> Vec<u8> {
    let mut r = vec![typ, 3, 3, (payload.len() >> 8) as u8, payload.len() as u8];
    r.extend_from_slice(payload);
    r
}

/// The one alert sent: a plaintext alert record before the handshake keys...
fn assert_plain_alert(o: &Outcome, desc: AlertDescription) {
    assert_eq!(o.error.alert(), Some(desc), "{:?}", o.error);
    assert_eq!(o.sent, record(21, &[2, desc.get()]), "exactly one fatal alert");
}

/// ...or one protected record of alert size (2 bytes, content type, 16-byte tag) after.
fn assert_protected_alert(o: &Outcome, desc: AlertDescription) {
    assert_eq!(o.error.alert(), Some(desc), "{:?}", o.error);
    assert_eq!(o.sent.len(), 5 + 2 + 1 + 16, "exactly one protected alert record");
    assert_eq!(o.sent[0], 23);
}

fn assert_bounded(o: &Outcome, max_records: usize) {
    assert!(o.records <= max_records, "{} records before the alert", o.records);
    assert!(o.heap <= HEAP_BOUND, "heap grew by {} bytes", o.heap);
}

fn server() -> Connection {
    Connection::server(server_builder("ecdsa-p256").build().unwrap()).unwrap()
}

fn client_hello_record() -> Vec<u8> {
    let mut c = Connection::client(client_builder().build().unwrap(), "localhost").unwrap();
    let mut out = Vec::new();
    while c.write_tls(&mut out).unwrap() > 0 {}
    out
}

#[test]
fn handshake_message_size_flood_is_refused_at_its_header() {
    // A ClientHello declaring 2^24-1 bytes, then full handshake records to fill it.
    let mut first = vec![1, 0xff, 0xff, 0xff];
    first.resize(16_384, 0);
    let mut records = vec![record(22, &first)];
    records.extend(std::iter::repeat_n(record(22, &[0u8; 16_384]), FLOOD));
    let o = flood(&mut server(), &records);
    assert_eq!(o.error, Error::LimitExceeded(Limit::HandshakeMessageSize));
    // RFC 8446 6.2: record_overflow is for records; this is a message of incorrect length.
    assert_plain_alert(&o, AlertDescription::DecodeError);
    assert_bounded(&o, 1);
}

/// A handshake record whose message header declares `len` body bytes of type `typ`, and
/// enough full records after it to fill any message.
fn declared(typ: u8, len: usize) -> Vec<Vec<u8>> {
    let mut first = vec![typ, (len >> 16) as u8, (len >> 8) as u8, len as u8];
    first.resize(16_384, 0);
    let mut records = vec![record(22, &first)];
    records.extend(std::iter::repeat_n(record(22, &[0u8; 16_384]), FLOOD));
    records
}

#[test]
fn client_hello_just_over_the_syntax_maximum_is_refused_before_it_is_buffered() {
    let o = flood(&mut server(), &declared(1, sanstls::msgs::MAX_CLIENT_HELLO + 1));
    assert_eq!(o.error, Error::LimitExceeded(Limit::HandshakeMessageSize));
    assert_plain_alert(&o, AlertDescription::DecodeError);
    assert_bounded(&o, 1);
}

#[test]
fn client_hello_at_the_syntax_maximum_is_buffered_within_bounds() {
    // Past the 64 KiB of other messages: buffered whole (then its zeros fail to decode).
    let len = sanstls::msgs::MAX_CLIENT_HELLO;
    assert!(len > sanstls::msgs::MAX_HANDSHAKE_MESSAGE);
    let o = flood(&mut server(), &declared(1, len));
    assert!(matches!(o.error, Error::Decode(_)), "{:?}", o.error);
    assert_plain_alert(&o, AlertDescription::DecodeError);
    assert_bounded(&o, (4 + len).div_ceil(16_384));
}

#[test]
fn other_handshake_message_just_over_the_limit_is_refused_before_it_is_buffered() {
    // The client, after the ServerHello, gets an EncryptedExtensions declaring 64 KiB + 1.
    let log = std::sync::Arc::new(common::forge::Secrets::default());
    let server = server_builder("ecdsa-p256")
        .cipher_suites(&[sanstls::codec::CipherSuite::TLS_AES_128_GCM_SHA256])
        .key_log(log.clone())
        .build()
        .unwrap();
    let (mut c, mut s) = pair(client_builder().build().unwrap(), server);
    transfer(&mut c, &mut s).unwrap();
    let mut flight = Vec::new();
    while s.write_tls(&mut flight).unwrap() > 0 {}
    let server_hello_len = 5 + usize::from(u16::from_be_bytes([flight[3], flight[4]]));
    let mut forge = Forge13::new(&log.get("SERVER_HANDSHAKE_TRAFFIC_SECRET"));
    let len = sanstls::msgs::MAX_HANDSHAKE_MESSAGE + 1;
    let mut first = vec![8, (len >> 16) as u8, (len >> 8) as u8, len as u8];
    first.resize(16_000, 0);
    let mut records = vec![flight[..server_hello_len].to_vec(), forge.record(22, &first)];
    records.extend((0..FLOOD).map(|_| forge.record(22, &[0u8; 16_000])));
    let o = flood(&mut c, &records);
    assert_eq!(o.error, Error::LimitExceeded(Limit::HandshakeMessageSize));
    // The client's compatibility CCS went out with the ServerHello's answers: the alert is
    // the first record under its handshake keys.
    assert_protected_alert(&o, AlertDescription::DecodeError);
    let mut client_hs = Forge13::new(&log.get("CLIENT_HANDSHAKE_TRAFFIC_SECRET"));
    assert_eq!(
        client_hs.open(&o.sent),
        (21, vec![2, AlertDescription::DecodeError.get()])
    );
    assert_bounded(&o, 2);
}

#[test]
fn change_cipher_spec_flood_stops_after_max_ignored_ccs() {
    let mut records = vec![client_hello_record()];
    records.extend(std::iter::repeat_n(record(20, &[1]), FLOOD));
    let o = flood(&mut server(), &records);
    assert_eq!(
        o.error,
        Error::PeerMisbehaved(PeerMisbehaved::TooManyChangeCipherSpecs)
    );
    // The server has its handshake keys once it answered the ClientHello: the alert is
    // protected.
    assert_protected_alert(&o, AlertDescription::UnexpectedMessage);
    assert_bounded(&o, 2 + sanstls::conn::MAX_IGNORED_CCS as usize);
}

#[test]
fn warning_alert_flood_is_cut_off() {
    // user_canceled is the one warning-level alert TLS 1.3 lets pass (RFC 8446 6.1).
    let records = vec![record(21, &[1, AlertDescription::UserCanceled.get()]); FLOOD];
    let o = flood(&mut server(), &records);
    assert_eq!(o.error, Error::LimitExceeded(Limit::WarningAlerts));
    assert_plain_alert(&o, AlertDescription::UnexpectedMessage);
    assert_bounded(&o, MAX_WARNING_ALERTS_IN_A_ROW as usize + 1);
}

#[test]
fn empty_application_data_flood_is_cut_off() {
    let (_c, mut s, log) = established13();
    let mut forge = Forge13::new(&log.get("CLIENT_TRAFFIC_SECRET_0"));
    let records: Vec<_> = (0..FLOOD).map(|_| forge.record(23, &[])).collect();
    let o = flood(&mut s, &records);
    assert_eq!(o.error, Error::LimitExceeded(Limit::ConsecutiveEmptyRecords));
    assert_protected_alert(&o, AlertDescription::UnexpectedMessage);
    assert_bounded(&o, MAX_EMPTY_RECORDS_IN_A_ROW as usize + 1);
}

#[test]
fn key_update_flood_is_cut_off() {
    let (mut c, _s, log) = established13();
    let mut forge = Forge13::new(&log.get("SERVER_TRAFFIC_SECRET_0"));
    let records: Vec<_> = (0..FLOOD)
        .map(|_| {
            // KeyUpdate(update_requested): the victim also has to answer each one.
            let rec = forge.record(22, &[24, 0, 0, 1, 1]);
            forge.update();
            rec
        })
        .collect();
    let o = flood(&mut c, &records);
    assert_eq!(o.error, Error::LimitExceeded(Limit::KeyUpdates));
    assert_protected_alert(&o, AlertDescription::UnexpectedMessage);
    assert_bounded(&o, MAX_KEY_UPDATES_IN_A_ROW as usize + 1);
}

#[test]
fn new_session_ticket_flood_is_cut_off() {
    let (mut c, _s, log) = established13();
    let mut forge = Forge13::new(&log.get("SERVER_TRAFFIC_SECRET_0"));
    // lifetime 3600, age_add, nonce <1>, ticket <200>, no extensions.
    let mut body = vec![0, 0, 0x0e, 0x10, 1, 2, 3, 4, 1, 7, 0, 200];
    body.extend_from_slice(&[0x7a; 200]);
    body.extend_from_slice(&[0, 0]);
    let mut msg = vec![4, 0, 0, body.len() as u8];
    msg.extend_from_slice(&body);
    let records: Vec<_> = (0..FLOOD).map(|_| forge.record(22, &msg)).collect();
    let o = flood(&mut c, &records);
    assert_eq!(o.error, Error::LimitExceeded(Limit::NewSessionTickets));
    assert_protected_alert(&o, AlertDescription::UnexpectedMessage);
    assert_bounded(&o, MAX_TICKETS as usize + 1);
}

/// The test leaf followed by `extra` copies of the CA: a chain too long to be worth parsing.
fn long_chain_server(extra: usize, version: ProtocolVersion) -> Connection {
    let dir = vectors();
    let mut pem = read(&dir.join("localhost-ecdsa-p256.pem"));
    let ca = read(&dir.join("ca.pem"));
    for _ in 0..extra {
        pem.extend_from_slice(&ca);
    }
    let key = CertifiedKey::from_pem(&pem, &read(&dir.join("localhost-ecdsa-p256.key"))).unwrap();
    let config = sanstls::ServerConfig::builder(key)
        .versions(&[version])
        .build()
        .unwrap();
    Connection::server(config).unwrap()
}

#[test]
fn certificate_chain_longer_than_the_limit_is_bad_certificate() {
    for version in [ProtocolVersion::TLSv1_3, ProtocolVersion::TLSv1_2] {
        let mut c = Connection::client(client_builder().build().unwrap(), "localhost").unwrap();
        let mut s = long_chain_server(MAX_CERTIFICATE_CHAIN_LEN, version);
        let err = handshake(&mut c, &mut s).unwrap_err();
        assert_eq!(
            err,
            Error::LimitExceeded(Limit::CertificateChainLength),
            "{version:?}"
        );
        assert_eq!(err.alert(), Some(AlertDescription::BadCertificate));
    }
}

#[test]
fn certificate_chain_at_the_limit_is_still_verified() {
    let mut c = Connection::client(client_builder().build().unwrap(), "localhost").unwrap();
    let mut s = long_chain_server(MAX_CERTIFICATE_CHAIN_LEN - 1, ProtocolVersion::TLSv1_3);
    handshake(&mut c, &mut s).unwrap();
}

#[test]
fn unread_plaintext_stops_reading_instead_of_buffering() {
    // The application never reads: the connection stops taking records once its received
    // plaintext reaches the cap, so the peer's flood waits in the socket, not in our heap.
    let (mut c, mut s, _) = established13();
    let chunk = vec![0x42u8; 16 * 1024];
    let mut wire = Vec::new();
    for _ in 0..64 {
        s.writer().write_all(&chunk).unwrap();
        while s.write_tls(&mut wire).unwrap() > 0 {}
    }
    let base = counting_alloc::live_bytes();
    counting_alloc::reset_peak();
    let mut rd = &wire[..];
    let mut reads = 0;
    while c.wants_read() && !rd.is_empty() {
        c.read_tls(&mut rd).unwrap();
        c.process_new_packets().unwrap();
        reads += 1;
        assert!(reads < 10_000, "the connection never stopped reading");
    }
    let heap = counting_alloc::peak_bytes() - base;
    let taken = wire.len() - rd.len();
    assert!(
        taken <= sanstls::conn::DEFAULT_MAX_BUFFERED_PLAINTEXT + 2 * 16_500,
        "took {taken} bytes"
    );
    assert!(
        heap <= HEAP_BOUND + sanstls::conn::DEFAULT_MAX_BUFFERED_PLAINTEXT as i64,
        "heap grew by {heap}"
    );
    // Nothing was lost: reading drains it and the rest comes in.
    let mut got = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match c.reader().read(&mut buf) {
            Ok(n) if n > 0 => got.extend_from_slice(&buf[..n]),
            _ => {
                if rd.is_empty() {
                    break;
                }
                c.read_tls(&mut rd).unwrap();
                c.process_new_packets().unwrap();
            }
        }
    }
    assert_eq!(got.len(), 64 * chunk.len());
}

/// An application that reads through `reader()` and never drains events holds one
/// `Event::Data` for all the records it read, not one per record: thousands of records add
/// nothing to the heap.
#[test]
fn reading_without_draining_events_does_not_grow_the_event_queue() {
    let mut client = Connection::client(client_builder().build().unwrap(), "localhost").unwrap();
    let mut server = Connection::server(server_builder("ecdsa-p256").build().unwrap()).unwrap();
    handshake(&mut client, &mut server).unwrap();
    while server.next_event().is_some() {}
    // Warm up the buffers, then count.
    assert_eq!(send(&mut client, &mut server, b"warm"), b"warm");
    while server.next_event().is_some() {}
    let base = counting_alloc::live_bytes();
    for round in 0..5_000u32 {
        assert_eq!(
            send(&mut client, &mut server, &round.to_be_bytes()),
            round.to_be_bytes()
        );
    }
    assert!(
        counting_alloc::live_bytes() - base < 4096,
        "the connections grew by {} bytes over 5,000 records",
        counting_alloc::live_bytes() - base
    );
    assert_eq!(events(&mut server), vec![Event::Data { len: 20_000 }]);
}
