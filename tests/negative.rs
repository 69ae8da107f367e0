//! Malformed and out-of-order input: each class gets its precise error and the right alert
//! on the wire, and arbitrary input never panics.

mod common;

use common::forge::{Forge13, Secrets};
use common::*;
use proptest::prelude::*;
use sanstls::codec::{AlertDescription, CipherSuite, ProtocolVersion};
use sanstls::msgs::ClientExtension;
use sanstls::Parameter;
use sanstls::{Connection, Error, PeerMisbehaved};

fn record(typ: u8, payload: &[u8]) -> Vec<u8> {
    let mut r = vec![typ, 3, 3, (payload.len() >> 8) as u8, payload.len() as u8];
    r.extend_from_slice(payload);
    r
}

fn handshake_msg(typ: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![typ, 0, (body.len() >> 8) as u8, body.len() as u8];
    m.extend_from_slice(body);
    m
}

fn server() -> Connection {
    Connection::server(server_builder("ecdsa-p256").build().unwrap()).unwrap()
}

fn client() -> Connection {
    Connection::client(client_builder().build().unwrap(), "localhost").unwrap()
}

/// Feeds `bytes`, returns the error and the alert record written in answer.
fn feed(conn: &mut Connection, bytes: &[u8]) -> (Error, Vec<u8>) {
    let mut pending = Vec::new();
    while conn.write_tls(&mut pending).unwrap() > 0 {}
    let mut rd = bytes;
    let err = loop {
        if rd.is_empty() {
            match conn.process_new_packets() {
                Err(e) => break e,
                Ok(()) => panic!("input accepted"),
            }
        }
        conn.read_tls(&mut rd).unwrap();
        if let Err(e) = conn.process_new_packets() {
            break e;
        }
    };
    let mut out = Vec::new();
    while conn.write_tls(&mut out).unwrap() > 0 {}
    (err, out)
}

/// Splits a byte stream into its records.
fn records(mut bytes: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let len = 5 + usize::from(u16::from_be_bytes([bytes[3], bytes[4]]));
        let (rec, rest) = bytes.split_at(len);
        out.push(rec);
        bytes = rest;
    }
    out
}

fn alert_record(desc: AlertDescription) -> Vec<u8> {
    record(21, &[2, desc.get()])
}

/// The client's first flight, as our own client writes it.
fn client_hello_record() -> Vec<u8> {
    let mut c = client();
    let mut out = Vec::new();
    c.write_tls(&mut out).unwrap();
    out
}

#[test]
fn truncated_client_hello_is_decode_error() {
    let mut s = server();
    let (err, wire) = feed(&mut s, &record(22, &handshake_msg(1, &[3, 3, 0, 1])));
    assert!(matches!(err, Error::Decode(_)), "{err:?}");
    assert_eq!(wire, alert_record(AlertDescription::DecodeError));
}

#[test]
fn finished_before_client_hello_is_unexpected_message() {
    let mut s = server();
    let (err, wire) = feed(&mut s, &record(22, &handshake_msg(20, &[0; 32])));
    assert!(matches!(err, Error::UnexpectedMessage { .. }), "{err:?}");
    assert_eq!(wire, alert_record(AlertDescription::UnexpectedMessage));
}

#[test]
fn oversized_record_is_record_overflow() {
    let mut s = server();
    let len = (1 << 14) + 257;
    let mut bytes = vec![22, 3, 3, (len >> 8) as u8, len as u8];
    bytes.resize(5 + len, 0);
    let (err, wire) = feed(&mut s, &bytes);
    assert_eq!(err, Error::RecordOverflow);
    assert_eq!(wire, alert_record(AlertDescription::RecordOverflow));
}

#[test]
fn oversized_plaintext_record_is_record_overflow() {
    let mut s = server();
    let len = (1 << 14) + 1;
    let mut bytes = vec![22, 3, 3, (len >> 8) as u8, len as u8];
    bytes.resize(5 + len, 0);
    let (err, _) = feed(&mut s, &bytes);
    assert_eq!(err, Error::RecordOverflow);
}

#[test]
fn application_data_before_the_handshake_is_unexpected_message() {
    let mut s = server();
    let (err, wire) = feed(&mut s, &record(23, b"hello"));
    assert!(matches!(err, Error::UnexpectedMessage { .. }), "{err:?}");
    assert_eq!(wire, alert_record(AlertDescription::UnexpectedMessage));
}

#[test]
fn change_cipher_spec_before_client_hello_is_unexpected_message() {
    let mut s = server();
    let (err, wire) = feed(&mut s, &record(20, &[1]));
    assert_eq!(
        err,
        Error::PeerMisbehaved(PeerMisbehaved::IllegalChangeCipherSpec)
    );
    assert_eq!(wire, alert_record(AlertDescription::UnexpectedMessage));
}

#[test]
fn ccs_records_are_dropped_up_to_max_ignored_ccs() {
    // RFC 8446 5: each CCS during the handshake is dropped (a client that offered 0-RTT and
    // then got a HelloRetryRequest sends two); a flood stops at the bound.
    let mut s = server();
    let mut bytes = client_hello_record();
    for _ in 0..sanstls::conn::MAX_IGNORED_CCS {
        bytes.extend(record(20, &[1]));
    }
    let mut rd = &bytes[..];
    s.read_tls(&mut rd).unwrap();
    s.process_new_packets().unwrap();
    let (err, _) = feed(&mut s, &record(20, &[1]));
    assert_eq!(
        err,
        Error::PeerMisbehaved(PeerMisbehaved::TooManyChangeCipherSpecs)
    );
}

#[test]
fn ccs_with_wrong_value_is_unexpected_message() {
    let mut s = server();
    let mut bytes = client_hello_record();
    bytes.extend(record(20, &[2]));
    let (err, _) = feed(&mut s, &bytes);
    assert_eq!(
        err,
        Error::PeerMisbehaved(PeerMisbehaved::IllegalChangeCipherSpec)
    );
    assert_eq!(err.alert(), Some(AlertDescription::UnexpectedMessage));
}

#[test]
fn empty_handshake_record_is_unexpected_message() {
    let mut s = server();
    let (err, _) = feed(&mut s, &record(22, &[]));
    assert_eq!(err, Error::PeerMisbehaved(PeerMisbehaved::EmptyRecord));
    assert_eq!(err.alert(), Some(AlertDescription::UnexpectedMessage));
}

#[test]
fn message_spanning_a_key_change_is_unexpected_message() {
    // ClientHello and the start of another message in one record: the server switches to
    // handshake keys after the ClientHello, so the tail would straddle the change.
    let mut s = server();
    let chr = client_hello_record();
    let mut payload = chr[5..].to_vec();
    payload.extend_from_slice(&[20, 0, 0, 32, 1, 2]);
    let (err, wire) = feed(&mut s, &record(22, &payload));
    assert_eq!(err, Error::PeerMisbehaved(PeerMisbehaved::MessageSpansKeyChange));
    // The alert goes out after the server flight queued before the error? No: a fatal alert
    // jumps everything not yet encrypted, so it is the only record.
    assert_eq!(wire, alert_record(AlertDescription::UnexpectedMessage));
}

#[test]
fn interleaved_alert_inside_a_handshake_message_is_unexpected_message() {
    let mut s = server();
    let chr = client_hello_record();
    let mut bytes = record(22, &chr[5..20]);
    bytes.extend(alert_record(AlertDescription::UserCanceled));
    let (err, _) = feed(&mut s, &bytes);
    assert!(matches!(err, Error::UnexpectedMessage { .. }), "{err:?}");
}

#[test]
fn tampered_record_is_bad_record_mac() {
    let (mut c, mut s) = pair(
        client_builder().build().unwrap(),
        server_builder("ecdsa-p256").build().unwrap(),
    );
    handshake(&mut c, &mut s).unwrap();
    use std::io::Write;
    c.writer().write_all(b"secret").unwrap();
    let mut wire = Vec::new();
    while c.write_tls(&mut wire).unwrap() > 0 {}
    let last = wire.len() - 1;
    wire[last] ^= 1;
    let (err, out) = feed(&mut s, &wire);
    assert_eq!(err, Error::DecryptFailed);
    // The alert is protected now; check its size: header + 2 + type + tag.
    assert_eq!(out.len(), 5 + 2 + 1 + 16);
}

#[test]
fn tls12_only_client_hello_is_protocol_version() {
    // Strip supported_versions by offering a bare TLS 1.2 hello to a TLS 1.3-only server.
    let mut body = vec![3, 3];
    body.extend_from_slice(&[7; 32]);
    body.push(0);
    body.extend_from_slice(&[0, 2, 0xc0, 0x2b, 1, 0, 0, 0]);
    let config = server_builder("ecdsa-p256")
        .versions(&[sanstls::codec::ProtocolVersion::TLSv1_3])
        .build()
        .unwrap();
    let mut s = Connection::server(config).unwrap();
    let (err, wire) = feed(&mut s, &record(22, &handshake_msg(1, &body)));
    assert_eq!(err, Error::NoCommonVersion);
    assert_eq!(wire, alert_record(AlertDescription::ProtocolVersion));
    // With TLS 1.2 enabled (the default) the same hello lacks the extended master secret.
    let (err, wire) = feed(&mut server(), &record(22, &handshake_msg(1, &body)));
    assert_eq!(err.alert(), Some(AlertDescription::HandshakeFailure));
    assert_eq!(wire, alert_record(AlertDescription::HandshakeFailure));
}

#[test]
fn server_hello_for_unoffered_suite_is_illegal_parameter() {
    let client_cfg = client_builder()
        .cipher_suites(&[sanstls::codec::CipherSuite::TLS_AES_128_GCM_SHA256])
        .build();
    let mut c = Connection::client(client_cfg.unwrap(), "localhost").unwrap();
    let server_cfg = server_builder("ecdsa-p256").build().unwrap();
    let mut s = Connection::server(server_cfg).unwrap();
    transfer(&mut c, &mut s).unwrap();
    let mut flight = Vec::new();
    while s.write_tls(&mut flight).unwrap() > 0 {}
    // ServerHello: type(1) len(3) version(2) random(32) sid_len(1) sid(32) suite(2)
    let suite_at = 5 + 4 + 2 + 32 + 1 + 32;
    flight[suite_at + 1] = 0x02;
    let (err, wire) = feed(&mut c, &flight);
    assert_eq!(err, Error::PeerMisbehaved(PeerMisbehaved::SuiteNotOffered));
    assert_eq!(wire, alert_record(AlertDescription::IllegalParameter));
}

#[test]
fn corrupted_server_finished_is_decrypt_error_or_bad_mac() {
    let (mut c, mut s) = pair(
        client_builder().build().unwrap(),
        server_builder("ecdsa-p256").build().unwrap(),
    );
    transfer(&mut c, &mut s).unwrap();
    let mut flight = Vec::new();
    while s.write_tls(&mut flight).unwrap() > 0 {}
    let last = flight.len() - 20;
    flight[last] ^= 0x80;
    let (err, _) = feed(&mut c, &flight);
    assert_eq!(err, Error::DecryptFailed);
}

#[test]
fn nothing_is_accepted_after_a_fatal_error() {
    let mut s = server();
    let (err, _) = feed(&mut s, &record(23, b"x"));
    let mut rd = &client_hello_record()[..];
    let _ = s.read_tls(&mut rd);
    assert_eq!(s.process_new_packets().unwrap_err(), err);
    let mut out = Vec::new();
    assert_eq!(s.write_tls(&mut out).unwrap(), 0, "one alert, then silence");
}

fn drive(conn: &mut Connection, chunks: &[Vec<u8>]) {
    for chunk in chunks {
        let mut rd = &chunk[..];
        while !rd.is_empty() {
            match conn.read_tls(&mut rd) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let res = conn.process_new_packets();
            let mut out = Vec::new();
            while conn.write_tls(&mut out).unwrap() > 0 {}
            if res.is_err() {
                assert!(out.len() < 64, "after an error only an alert is written");
                assert!(conn.error().is_some());
                return;
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic_the_server(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..600), 1..6)) {
        drive(&mut server(), &chunks);
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_client(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..600), 1..6)) {
        drive(&mut client(), &chunks);
    }

    #[test]
    fn arbitrary_records_after_a_valid_hello_never_panic(
        records in proptest::collection::vec((prop_oneof![Just(20u8), Just(21), Just(22), Just(23)], proptest::collection::vec(any::<u8>(), 0..300)), 1..8)
    ) {
        let mut chunks = vec![client_hello_record()];
        for (typ, payload) in records {
            chunks.push(record(typ, &payload));
        }
        drive(&mut server(), &chunks);
    }

    #[test]
    fn mutated_handshake_flights_never_panic(flip in 0usize..4000, bit in 0u8..8) {
        let (mut c, mut s) = pair(client_builder().build().unwrap(), server_builder("ecdsa-p256").build().unwrap());
        transfer(&mut c, &mut s).unwrap();
        let mut flight = Vec::new();
        while s.write_tls(&mut flight).unwrap() > 0 {}
        let at = flip % flight.len();
        flight[at] ^= 1 << bit;
        drive(&mut c, &[flight]);
    }
}

/// A client that offers x25519 first and a server that only takes secp384r1: HRR.
fn hrr_pair() -> (Connection, Connection) {
    use sanstls::codec::NamedGroup;
    let client = client_builder()
        .groups(&[NamedGroup::x25519, NamedGroup::secp384r1])
        .build()
        .unwrap();
    let server = server_builder("ecdsa-p256")
        .groups(&[NamedGroup::secp384r1])
        .build()
        .unwrap();
    pair(client, server)
}

#[test]
fn hrr_second_client_hello_must_match_first() {
    let (mut c, mut s) = hrr_pair();
    transfer(&mut c, &mut s).unwrap();
    transfer(&mut s, &mut c).unwrap();
    assert!(c.had_hello_retry());
    // A second ClientHello from another client (another random) is not a retry of the first.
    let (mut other, mut other_server) = hrr_pair();
    transfer(&mut other, &mut other_server).unwrap();
    transfer(&mut other_server, &mut other).unwrap();
    let mut second = Vec::new();
    while other.write_tls(&mut second).unwrap() > 0 {}
    let (err, wire) = feed(&mut s, &second);
    assert_eq!(
        err,
        Error::PeerMisbehaved(PeerMisbehaved::SecondClientHelloMismatch)
    );
    assert_eq!(wire, alert_record(AlertDescription::IllegalParameter));
}

#[test]
fn hrr_cookie_must_be_echoed_unchanged() {
    let (mut c, mut s) = hrr_pair();
    let mut first = Vec::new();
    while c.write_tls(&mut first).unwrap() > 0 {}
    let mut rd = &first[..];
    s.read_tls(&mut rd).unwrap();
    s.process_new_packets().unwrap();
    transfer(&mut s, &mut c).unwrap();
    let mut second = Vec::new();
    while c.write_tls(&mut second).unwrap() > 0 {}
    // Our server's cookie is the SHA-256 of the first ClientHello message.
    let cookie = ring::digest::digest(&ring::digest::SHA256, &first[5..]);
    let at = second
        .windows(32)
        .position(|w| w == cookie.as_ref())
        .expect("cookie echoed");
    second[at] ^= 0xff;
    let (err, _) = feed(&mut s, &second);
    assert_eq!(
        err,
        Error::PeerMisbehaved(PeerMisbehaved::IllegalParameter(Parameter::Cookie))
    );
    assert_eq!(err.alert(), Some(AlertDescription::IllegalParameter));
}

#[test]
fn hello_retry_request_with_an_unknown_extension_is_unsupported_extension() {
    // RFC 8446 4.2: the HelloRetryRequest carries only supported_versions and an extension
    // the client never offered; that is unsupported_extension, whatever else it lacks.
    let mut c = Connection::client(client_builder().build().unwrap(), "localhost").unwrap();
    let mut hello = Vec::new();
    while c.write_tls(&mut hello).unwrap() > 0 {}
    // record header 5, handshake header 4, legacy_version 2, random 32: the session id.
    let sid_len = usize::from(hello[43]);
    let session_id = &hello[44..44 + sid_len];
    const HRR_RANDOM: [u8; 32] = [
        0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91, 0xc2,
        0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
    ];
    let extensions = [0x00, 0x2b, 0x00, 0x02, 0x03, 0x04, 0xfa, 0xfa, 0x00, 0x00];
    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(&HRR_RANDOM);
    body.push(sid_len as u8);
    body.extend_from_slice(session_id);
    body.extend_from_slice(&[0x13, 0x01, 0x00]);
    body.extend_from_slice(&(extensions.len() as u16).to_be_bytes());
    body.extend_from_slice(&extensions);
    let mut msg = vec![2, 0, 0, body.len() as u8];
    msg.extend_from_slice(&body);
    let mut record = vec![0x16, 0x03, 0x03];
    record.extend_from_slice(&(msg.len() as u16).to_be_bytes());
    record.extend_from_slice(&msg);
    let (err, wire) = feed(&mut c, &record);
    assert_eq!(err, Error::PeerMisbehaved(PeerMisbehaved::UnsolicitedExtension));
    assert_eq!(wire, alert_record(AlertDescription::UnsupportedExtension));
}

#[test]
fn tls12_server_hello_echoing_supported_groups_is_accepted() {
    // Servers in the field echo supported_groups in a TLS 1.2 ServerHello; we sent the
    // extension, so the answer is not unsolicited (RFC 5246 7.4.1.4), and it is ignored.
    let mut c = Connection::client(client_builder().build().unwrap(), "localhost").unwrap();
    let mut hello = Vec::new();
    while c.write_tls(&mut hello).unwrap() > 0 {}
    let extensions = [
        0x00, 0x0a, 0x00, 0x04, 0x00, 0x02, 0x00, 0x1d, // supported_groups: x25519
        0x00, 0x17, 0x00, 0x00, // extended_master_secret
        0xff, 0x01, 0x00, 0x01, 0x00, // renegotiation_info, empty
    ];
    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(&[0x42; 32]);
    body.push(0); // no session id: a full handshake, not cached
    body.extend_from_slice(&[0xc0, 0x2b, 0x00]); // ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, null
    body.extend_from_slice(&(extensions.len() as u16).to_be_bytes());
    body.extend_from_slice(&extensions);
    let mut record = vec![0x16, 0x03, 0x03];
    record.extend_from_slice(&((body.len() + 4) as u16).to_be_bytes());
    record.extend_from_slice(&[2, 0, 0, body.len() as u8]);
    record.extend_from_slice(&body);
    c.read_tls(&mut &record[..]).unwrap();
    c.process_new_packets().unwrap();
    assert_eq!(c.protocol_version(), Some(ProtocolVersion::TLSv1_2));
    assert!(c.is_handshaking(), "waiting for the server's Certificate");
}

#[test]
fn handshake_data_after_a_hello_retry_request_is_unexpected_message() {
    // The HelloRetryRequest ends the server's flight: a ServerHello can only answer our
    // second ClientHello, so its start in the HelloRetryRequest's record is refused however
    // the records reached us (no key change lies between them).
    let (mut c, mut s) = hrr_pair();
    transfer(&mut c, &mut s).unwrap();
    let mut hrr = Vec::new();
    while s.write_tls(&mut hrr).unwrap() > 0 {}
    let hrr_len = 5 + usize::from(u16::from_be_bytes([hrr[3], hrr[4]]));
    let mut payload = hrr[5..hrr_len].to_vec();
    payload.extend_from_slice(&[2, 0, 0, 80, 3, 3]);
    let (err, wire) = feed(&mut c, &record(22, &payload));
    assert_eq!(err, Error::PeerMisbehaved(PeerMisbehaved::MessagePastEndOfFlight));
    assert_eq!(wire, alert_record(AlertDescription::UnexpectedMessage));
}

#[test]
fn second_client_hello_in_the_first_ones_record_is_unexpected_message() {
    // The server answers the first ClientHello with a HelloRetryRequest (no key change):
    // the second ClientHello cannot have been written before it.
    let (mut c, mut s) = hrr_pair();
    let mut first = Vec::new();
    while c.write_tls(&mut first).unwrap() > 0 {}
    let mut payload = first[5..].to_vec();
    payload.extend_from_slice(&[1, 0, 1, 0, 3, 3]);
    let (err, wire) = feed(&mut s, &record(22, &payload));
    assert_eq!(err, Error::PeerMisbehaved(PeerMisbehaved::MessagePastEndOfFlight));
    assert_eq!(wire, alert_record(AlertDescription::UnexpectedMessage));
}

#[test]
fn second_hello_retry_request_is_unexpected_message() {
    let (mut c, mut s) = hrr_pair();
    transfer(&mut c, &mut s).unwrap();
    let mut hrr = Vec::new();
    while s.write_tls(&mut hrr).unwrap() > 0 {}
    let mut twice = hrr.clone();
    // HRR record (and the compatibility CCS after it), then the same HRR again.
    let hrr_len = 5 + usize::from(u16::from_be_bytes([hrr[3], hrr[4]]));
    twice.extend_from_slice(&hrr[..hrr_len]);
    let (err, _) = feed(&mut c, &twice);
    assert_eq!(
        err,
        Error::PeerMisbehaved(PeerMisbehaved::SecondHelloRetryRequest)
    );
    assert_eq!(err.alert(), Some(AlertDescription::UnexpectedMessage));
}

#[test]
fn a_tls_hello_with_a_dtls_legacy_version_is_read_as_tls() {
    // Only DTLS hellos have a cookie field: over TLS a legacy_version of 0xFEFD is just a
    // number, and supported_versions decides (RFC 8446 4.2.1).
    let client = client_builder()
        .customize_client_hello(|h| h.legacy_version = ProtocolVersion::from(0xfefd))
        .build()
        .unwrap();
    let (mut c, mut s) = pair(client, server_builder("ecdsa-p256").build().unwrap());
    handshake(&mut c, &mut s).unwrap();
    assert_eq!(s.protocol_version(), Some(ProtocolVersion::TLSv1_3));
}

#[test]
fn obsolete_legacy_version_is_protocol_version_whatever_supported_versions_offers() {
    // RFC 8446 D.5: legacy_version 0x0300 or less is refused, though supported_versions
    // offers TLS 1.3 (and TLS 1.2).
    for v in [0x0300u16, 0x0000, 0x0100, 0x0200, 0x0102, 0x02ff] {
        let config = client_builder()
            .customize_client_hello(move |h| h.legacy_version = ProtocolVersion::from(v))
            .build()
            .unwrap();
        let mut c = Connection::client(config, "localhost").unwrap();
        let mut hello = Vec::new();
        while c.write_tls(&mut hello).unwrap() > 0 {}
        let (err, wire) = feed(&mut server(), &hello);
        assert_eq!(
            err,
            Error::PeerMisbehaved(PeerMisbehaved::ObsoleteLegacyVersion),
            "{v:#06x}"
        );
        assert_eq!(wire, alert_record(AlertDescription::ProtocolVersion), "{v:#06x}");
    }
    // TLS 1.0 as legacy_version is not refused for itself: supported_versions decides.
    let config = client_builder()
        .customize_client_hello(|h| h.legacy_version = ProtocolVersion::TLSv1_0)
        .build()
        .unwrap();
    let (mut c, mut s) = pair(config, server_builder("ecdsa-p256").build().unwrap());
    handshake(&mut c, &mut s).unwrap();
    assert_eq!(s.protocol_version(), Some(ProtocolVersion::TLSv1_3));
}

#[test]
fn server_hello_with_an_obsolete_legacy_version_is_protocol_version() {
    // RFC 8446 D.5 holds for the ServerHello too (and a HelloRetryRequest is one).
    for hrr in [false, true] {
        let (mut c, mut s) = match hrr {
            true => hrr_pair(),
            false => pair(
                client_builder().build().unwrap(),
                server_builder("ecdsa-p256").build().unwrap(),
            ),
        };
        transfer(&mut c, &mut s).unwrap();
        let mut flight = Vec::new();
        while s.write_tls(&mut flight).unwrap() > 0 {}
        // Record header (5), handshake header (4), then legacy_version.
        assert_eq!(flight[9..11], [3, 3]);
        flight[9..11].copy_from_slice(&[3, 0]);
        let (err, wire) = feed(&mut c, &flight);
        assert_eq!(
            err,
            Error::PeerMisbehaved(PeerMisbehaved::ObsoleteLegacyVersion),
            "hrr: {hrr}"
        );
        assert_eq!(wire, alert_record(AlertDescription::ProtocolVersion));
    }
}

/// A server that has answered our client's ClientHello with its whole flight, and the
/// client's key log (TLS_AES_128_GCM_SHA256, so `Forge13` can play the client).
fn server_awaiting_client_finished() -> (Connection, std::sync::Arc<Secrets>) {
    let (mut c, mut s, log) = client_and_server_hello_pair();
    transfer(&mut c, &mut s).unwrap();
    transfer(&mut s, &mut c).unwrap();
    (s, log)
}

/// A client (TLS_AES_128_GCM_SHA256, its key log returned) and a server, nothing sent yet.
fn client_and_server_hello_pair() -> (Connection, Connection, std::sync::Arc<Secrets>) {
    let log = std::sync::Arc::new(Secrets::default());
    let client = client_builder()
        .cipher_suites(&[CipherSuite::TLS_AES_128_GCM_SHA256])
        .key_log(log.clone())
        .build()
        .unwrap();
    let (c, s) = pair(client, server_builder("ecdsa-p256").build().unwrap());
    (c, s, log)
}

#[test]
fn client_finished_of_the_wrong_length_is_decrypt_error() {
    // RFC 8446 4.4.4: verify_data is Hash.length (32 here) bytes. Another length, like the
    // right length with the wrong bytes, is a Finished that does not validate: decrypt_error
    // (6.2), as BoringSSL's runner expects (TrailingMessageData-*Finished).
    for len in [31, 33, 0, 48, 32] {
        let alert = AlertDescription::DecryptError;
        let (mut s, log) = server_awaiting_client_finished();
        let mut client = Forge13::new(&log.get("CLIENT_HANDSHAKE_TRAFFIC_SECRET"));
        let finished = client.record(22, &handshake_msg(20, &vec![0x5a; len]));
        let (err, wire) = feed(&mut s, &finished);
        assert_eq!(err, Error::BadFinished, "{len}");
        // The server has its application write keys after its Finished: the alert is the
        // first record under them.
        let mut server = Forge13::new(&log.get("SERVER_TRAFFIC_SECRET_0"));
        assert_eq!(server.open(&wire), (21, vec![2, alert.get()]), "{len}");
    }
}

#[test]
fn server_finished_of_the_wrong_length_is_decrypt_error() {
    let log = std::sync::Arc::new(Secrets::default());
    let server = server_builder("ecdsa-p256")
        .cipher_suites(&[CipherSuite::TLS_AES_128_GCM_SHA256])
        .key_log(log.clone())
        .build()
        .unwrap();
    let (mut c, mut s) = pair(client_builder().build().unwrap(), server);
    transfer(&mut c, &mut s).unwrap();
    let mut flight = Vec::new();
    while s.write_tls(&mut flight).unwrap() > 0 {}
    // Keep the ServerHello record (and the compatibility CCS), then replay the protected
    // handshake messages with a Finished one byte short.
    let mut plain = Vec::new();
    let mut server_hs = Forge13::new(&log.get("SERVER_HANDSHAKE_TRAFFIC_SECRET"));
    let mut messages = Vec::new();
    for rec in records(&flight) {
        match rec[0] {
            23 => {
                let (typ, content) = server_hs.open(rec);
                assert_eq!(typ, 22);
                messages.extend_from_slice(&content);
            }
            _ => plain.extend_from_slice(rec),
        }
    }
    // The Finished is the last message: type 20, 32 bytes.
    let at = messages.len() - 36;
    assert_eq!(&messages[at..at + 4], &[20, 0, 0, 32]);
    messages.truncate(messages.len() - 1);
    messages[at + 3] = 31;
    let mut forged = Forge13::new(&log.get("SERVER_HANDSHAKE_TRAFFIC_SECRET"));
    plain.extend(forged.record(22, &messages));
    let (err, wire) = feed(&mut c, &plain);
    assert_eq!(err, Error::BadFinished);
    // The compatibility CCS and the switch to the client's handshake keys, queued with the
    // ServerHello, go out first; the alert follows under those keys (RFC 8446 6, A.1).
    let out = records(&wire);
    assert_eq!(out.len(), 2, "{out:02x?}");
    assert_eq!(out[0], [20, 3, 3, 0, 1, 1]);
    let mut client_hs = Forge13::new(&log.get("CLIENT_HANDSHAKE_TRAFFIC_SECRET"));
    assert_eq!(
        client_hs.open(out[1]),
        (21, vec![2, AlertDescription::DecryptError.get()])
    );
}

#[test]
fn end_of_early_data_in_place_of_the_client_hello_is_unexpected_message() {
    // Its body would not decode (EndOfEarlyData is empty), but the type is checked against
    // the state first.
    let hello = client_hello_record();
    let (err, wire) = feed(&mut server(), &record(22, &handshake_msg(5, &hello[9..])));
    assert_eq!(
        err,
        Error::UnexpectedMessage {
            state: "expect ClientHello",
            got: "end_of_early_data",
        }
    );
    assert_eq!(wire, alert_record(AlertDescription::UnexpectedMessage));
    // Empty, as it should be, it is unexpected too.
    let (err, wire) = feed(&mut server(), &record(22, &handshake_msg(5, &[])));
    assert!(matches!(err, Error::UnexpectedMessage { .. }), "{err:?}");
    assert_eq!(wire, alert_record(AlertDescription::UnexpectedMessage));
    // A malformed KeyUpdate (request 2) and a truncated ServerHello: the type decides.
    for (typ, body) in [(24u8, vec![2u8]), (2, vec![3, 3, 0])] {
        let (err, wire) = feed(&mut server(), &record(22, &handshake_msg(typ, &body)));
        assert!(matches!(err, Error::UnexpectedMessage { .. }), "{typ}: {err:?}");
        assert_eq!(wire, alert_record(AlertDescription::UnexpectedMessage));
    }
}

#[test]
fn malformed_message_of_an_unexpected_type_after_the_hello_is_unexpected_message() {
    // The server waits for the client's Finished; a KeyUpdate with an illegal request value
    // is out of place before it is malformed.
    let (mut s, log) = server_awaiting_client_finished();
    let mut client = Forge13::new(&log.get("CLIENT_HANDSHAKE_TRAFFIC_SECRET"));
    let (err, wire) = feed(&mut s, &client.record(22, &handshake_msg(24, &[7])));
    assert_eq!(
        err,
        Error::UnexpectedMessage {
            state: "expect client Finished",
            got: "key_update",
        }
    );
    let mut server = Forge13::new(&log.get("SERVER_TRAFFIC_SECRET_0"));
    assert_eq!(
        server.open(&wire),
        (21, vec![2, AlertDescription::UnexpectedMessage.get()])
    );
}

/// HelloRetryRequest pair whose client offers early_data in its first ClientHello (as with a
/// 0-RTT ticket; the server refuses 0-RTT by retrying), with the client's key log.
fn hrr_pair_offering_early_data() -> (Connection, Connection, std::sync::Arc<Secrets>) {
    use sanstls::codec::NamedGroup;
    let log = std::sync::Arc::new(Secrets::default());
    let client = client_builder()
        .groups(&[NamedGroup::x25519, NamedGroup::secp384r1])
        .cipher_suites(&[CipherSuite::TLS_AES_128_GCM_SHA256])
        .key_log(log.clone())
        .customize_client_hello(|h| h.extensions.push(ClientExtension::EarlyData))
        .build()
        .unwrap();
    let server = server_builder("ecdsa-p256")
        .groups(&[NamedGroup::secp384r1])
        .build()
        .unwrap();
    let (c, s) = pair(client, server);
    (c, s, log)
}

#[test]
fn undecryptable_record_after_the_second_client_hello_is_bad_record_mac() {
    let (mut c, mut s, log) = hrr_pair_offering_early_data();
    transfer(&mut c, &mut s).unwrap();
    // 0-RTT sent behind the first ClientHello is skipped (RFC 8446 4.2.10)...
    let early = record(23, &[0xee; 100]);
    let mut rd = &early[..];
    s.read_tls(&mut rd).unwrap();
    s.process_new_packets().unwrap();
    transfer(&mut s, &mut c).unwrap();
    assert!(c.had_hello_retry());
    transfer(&mut c, &mut s).unwrap();
    transfer(&mut s, &mut c).unwrap();
    // ...but nothing can follow the second one: a record that fails to deprotect is
    // bad_record_mac (5.2), however much skip budget the retry had left.
    let (err, wire) = feed(&mut s, &record(23, &[0xee; 100]));
    assert_eq!(err, Error::DecryptFailed);
    let mut server = Forge13::new(&log.get("SERVER_TRAFFIC_SECRET_0"));
    assert_eq!(
        server.open(&wire),
        (21, vec![2, AlertDescription::BadRecordMac.get()])
    );
}

#[test]
fn early_data_in_the_second_client_hello_is_illegal_parameter() {
    let (mut c, mut s, _log) = hrr_pair_offering_early_data();
    transfer(&mut c, &mut s).unwrap();
    transfer(&mut s, &mut c).unwrap();
    let mut flight = Vec::new();
    while c.write_tls(&mut flight).unwrap() > 0 {}
    // The compatibility CCS, then the second ClientHello.
    let mut second = records(&flight);
    let second = second.pop().unwrap().to_vec();
    assert_eq!(second[..6], [22, 3, 3, second[3], second[4], 1]);
    // Our client drops early_data from the second hello (RFC 8446 4.1.2); put it back, as
    // the last extension: 0x002a, empty.
    let ext_total_at = {
        let sid_at = 5 + 4 + 2 + 32;
        let suites_at = sid_at + 1 + usize::from(second[sid_at]);
        let suites_len = u16::from_be_bytes([second[suites_at], second[suites_at + 1]]);
        let comp_at = suites_at + 2 + usize::from(suites_len);
        comp_at + 1 + usize::from(second[comp_at])
    };
    let grow = |at: usize, width: usize, bytes: &mut Vec<u8>| {
        let mut n = 0usize;
        for b in &bytes[at..at + width] {
            n = n << 8 | usize::from(*b);
        }
        n += 4;
        for i in 0..width {
            bytes[at + i] = (n >> (8 * (width - 1 - i))) as u8;
        }
    };
    let mut hello = second;
    hello.extend_from_slice(&[0, 0x2a, 0, 0]);
    grow(3, 2, &mut hello);
    grow(6, 3, &mut hello);
    grow(ext_total_at, 2, &mut hello);
    let (err, wire) = feed(&mut s, &hello);
    assert_eq!(
        err,
        Error::PeerMisbehaved(PeerMisbehaved::IllegalParameter(Parameter::EarlyDataAfterRetry))
    );
    assert_eq!(wire, alert_record(AlertDescription::IllegalParameter));
}

#[test]
fn certificate_entry_extension_we_did_not_ask_for_is_unsupported_extension() {
    // RFC 8446 4.4.2, 4.2: a CertificateEntry's extensions answer ClientHello extensions
    // (status_request, signed_certificate_timestamp); we send none, so any is unsolicited.
    let (mut c, mut s, log) = client_and_server_hello_pair();
    transfer(&mut c, &mut s).unwrap();
    let mut flight = Vec::new();
    while s.write_tls(&mut flight).unwrap() > 0 {}
    let records = records(&flight);
    // ServerHello (and the compatibility CCS) in the clear: the client derives its keys.
    let clear: Vec<u8> = records
        .iter()
        .filter(|r| r[0] != 23)
        .flat_map(|r| r.iter())
        .copied()
        .collect();
    c.read_tls(&mut &clear[..]).unwrap();
    c.process_new_packets().unwrap();
    let secret = log.get("SERVER_HANDSHAKE_TRAFFIC_SECRET");
    let mut opener = Forge13::new(&secret);
    let mut messages = Vec::new();
    for r in records.iter().filter(|r| r[0] == 23) {
        let (typ, content) = opener.open(r);
        assert_eq!(typ, 22);
        messages.extend_from_slice(&content);
    }
    // Walk the handshake messages to the Certificate (type 11) and give its first entry an
    // extension of an unknown type.
    let mut at = 0;
    while messages[at] != 11 {
        at += 4 + usize::from_be_bytes([
            0,
            0,
            0,
            0,
            0,
            messages[at + 1],
            messages[at + 2],
            messages[at + 3],
        ]);
    }
    let u24 = |b: &[u8]| usize::from_be_bytes([0, 0, 0, 0, 0, b[0], b[1], b[2]]);
    let put24 = |b: &mut [u8], v: usize| b.copy_from_slice(&v.to_be_bytes()[5..]);
    let msg_len = u24(&messages[at + 1..]);
    assert_eq!(messages[at + 4], 0, "empty certificate_request_context");
    let list_at = at + 5;
    let list_len = u24(&messages[list_at..]);
    let cert_len = u24(&messages[list_at + 3..]);
    let ext_at = list_at + 3 + 3 + cert_len;
    assert_eq!(
        &messages[ext_at..ext_at + 2],
        [0, 0],
        "no entry extensions from our server"
    );
    let mut forged = messages[..ext_at].to_vec();
    forged.extend_from_slice(&[0x00, 0x04, 0xfa, 0xfa, 0x00, 0x00]);
    forged.extend_from_slice(&messages[ext_at + 2..]);
    put24(&mut forged[at + 1..at + 4], msg_len + 4);
    put24(&mut forged[list_at..list_at + 3], list_len + 4);
    let mut sealer = Forge13::new(&secret);
    let record = sealer.record(22, &forged);
    let (err, _) = feed(&mut c, &record);
    assert_eq!(err, Error::PeerMisbehaved(PeerMisbehaved::UnsolicitedExtension));
    assert_eq!(err.alert(), Some(AlertDescription::UnsupportedExtension));
}
