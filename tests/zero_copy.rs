//! The zero-copy record path: records opened in place in the caller's buffer and sealed
//! straight into one, beside the buffered `read_tls`/`write_tls`.

mod common;

use std::io::Write;

use common::*;
use sanstls::codec::AlertDescription;
use sanstls::{Connection, Error, Event, Misuse};

fn established() -> (Connection, Connection) {
    let (mut c, mut s) = pair(
        client_builder().build().unwrap(),
        server_builder("ecdsa-p256").build().unwrap(),
    );
    handshake(&mut c, &mut s).unwrap();
    transfer(&mut s, &mut c).unwrap(); // tickets, if any
    events(&mut c);
    events(&mut s);
    (c, s)
}

/// Seals `data` with `encrypt_into` and returns the records.
fn seal(conn: &mut Connection, data: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; conn.encrypted_len(data.len())];
    let sealed = conn.encrypt_into(data, &mut out).unwrap();
    assert_eq!(sealed.consumed, data.len());
    out.truncate(sealed.written);
    out
}

/// Opens every record in `wire` in place; returns the application data in order.
fn open_all(conn: &mut Connection, wire: &mut [u8]) -> Result<Vec<u8>, Error> {
    let mut got = Vec::new();
    let mut at = 0;
    while at < wire.len() {
        let res = conn.read_in_place(&mut wire[at..])?;
        got.extend_from_slice(res.data(&wire[at..]));
        if res.consumed == 0 {
            break;
        }
        at += res.consumed;
    }
    assert_eq!(at, wire.len(), "every whole record consumed");
    Ok(got)
}

fn drain_tls(conn: &mut Connection) -> Vec<u8> {
    let mut wire = Vec::new();
    while conn.write_tls(&mut wire).unwrap() > 0 {}
    wire
}

#[test]
fn zero_copy_writer_to_buffered_reader_round_trip() {
    let (mut c, mut s) = established();
    let data: Vec<u8> = (0..40_000u32).map(|i| i as u8).collect();
    let wire = seal(&mut c, &data);
    // Three records: 16384 + 16384 + 7232 bytes of content, 22 bytes of overhead each.
    assert_eq!(wire.len(), data.len() + 3 * 22);
    let mut got = Vec::new();
    let mut rd = &wire[..];
    while !rd.is_empty() {
        s.read_tls(&mut rd).unwrap();
        s.process_new_packets().unwrap();
        let mut buf = [0u8; 8192];
        while let Ok(n) = std::io::Read::read(&mut s.reader(), &mut buf) {
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
    }
    assert_eq!(got, data);
}

#[test]
fn buffered_writer_to_zero_copy_reader_round_trip() {
    let (mut c, mut s) = established();
    c.writer().write_all(b"hello, in place").unwrap();
    let mut wire = drain_tls(&mut c);
    let got = open_all(&mut s, &mut wire).unwrap();
    assert_eq!(got, b"hello, in place");
    // Zero-copy data raises no Data event and leaves nothing for reader().
    assert!(events(&mut s).is_empty());
}

#[test]
fn zero_copy_both_ways_and_seal_in_place() {
    let (mut c, mut s) = established();
    // seal_in_place: the content is written where the record wants it; no copy at all.
    let off = c.record_content_offset();
    let mut rec = vec![0u8; 5 + c.record_overhead()];
    rec[off..off + 5].copy_from_slice(b"abcde");
    let n = c.seal_in_place(&mut rec, 5).unwrap();
    assert_eq!(n, rec.len());
    let res = s.read_in_place(&mut rec).unwrap();
    assert_eq!(res.consumed, n);
    assert_eq!(res.data(&rec), b"abcde");
    // And back.
    let mut wire = seal(&mut s, b"reply");
    assert_eq!(open_all(&mut c, &mut wire).unwrap(), b"reply");
}

#[test]
fn partial_record_is_left_for_the_next_call() {
    let (mut c, mut s) = established();
    let mut wire = seal(&mut c, b"split me");
    let res = s.read_in_place(&mut wire[..10]).unwrap();
    assert_eq!(res, sanstls::conn::InPlace::default());
    let res = s.read_in_place(&mut wire).unwrap();
    assert_eq!(res.data(&wire), b"split me");
}

#[test]
fn tampered_record_is_bad_record_mac() {
    let (mut c, mut s) = established();
    let mut wire = seal(&mut c, b"do not touch");
    let last = wire.len() - 1;
    wire[last] ^= 1;
    assert_eq!(s.read_in_place(&mut wire).unwrap_err(), Error::DecryptFailed);
    // The alert is queued for write_tls, and the peer sees bad_record_mac.
    let alert = drain_tls(&mut s);
    c.read_tls(&mut &alert[..]).unwrap();
    assert_eq!(
        c.process_new_packets().unwrap_err(),
        Error::AlertReceived(AlertDescription::BadRecordMac)
    );
    // The connection stays failed on both paths.
    assert_eq!(s.read_in_place(&mut wire).unwrap_err(), Error::DecryptFailed);
    assert!(s.encrypt_into(b"x", &mut [0u8; 64]).is_err());
}

#[test]
fn key_update_arriving_on_the_zero_copy_path() {
    let (mut c, mut s) = established();
    c.request_key_update(true).unwrap();
    // The KeyUpdate goes through the queue; encrypt_into waits for it.
    assert_eq!(
        c.encrypt_into(b"x", &mut [0u8; 64]).unwrap_err(),
        Error::BufferFull
    );
    let mut wire = drain_tls(&mut c);
    wire.extend_from_slice(&seal(&mut c, b"under new keys"));
    assert_eq!(open_all(&mut s, &mut wire).unwrap(), b"under new keys");
    let ev = events(&mut s);
    assert!(ev.contains(&Event::KeyUpdated { ours: false }), "{ev:?}");
    // update_requested: the server answers with its own KeyUpdate before any more data.
    assert!(ev.contains(&Event::KeyUpdated { ours: true }), "{ev:?}");
    assert_eq!(
        s.encrypt_into(b"x", &mut [0u8; 64]).unwrap_err(),
        Error::BufferFull
    );
    let mut back = drain_tls(&mut s);
    back.extend_from_slice(&seal(&mut s, b"answered"));
    assert_eq!(open_all(&mut c, &mut back).unwrap(), b"answered");
    assert!(events(&mut c).contains(&Event::KeyUpdated { ours: false }));
}

#[test]
fn refuses_to_write_before_the_handshake() {
    let (mut c, mut s) = pair(
        client_builder().build().unwrap(),
        server_builder("ecdsa-p256").build().unwrap(),
    );
    let mut out = [0u8; 256];
    assert!(matches!(
        c.encrypt_into(b"too early", &mut out),
        Err(Error::Misuse(Misuse::HandshakeIncomplete))
    ));
    assert!(matches!(
        s.encrypt_into(b"too early", &mut out),
        Err(Error::Misuse(Misuse::HandshakeIncomplete))
    ));
    assert!(matches!(
        c.seal_in_place(&mut out, 1),
        Err(Error::Misuse(Misuse::HandshakeIncomplete))
    ));
    // Nothing was queued or sent by the refusals: the handshake still completes.
    handshake(&mut c, &mut s).unwrap();
    let mut wire = seal(&mut c, b"now");
    assert_eq!(open_all(&mut s, &mut wire).unwrap(), b"now");
}

#[test]
fn buffered_data_goes_out_before_zero_copy_data() {
    let (mut c, mut s) = established();
    c.writer().write_all(b"first ").unwrap();
    assert_eq!(
        c.encrypt_into(b"second", &mut [0u8; 64]).unwrap_err(),
        Error::BufferFull
    );
    let mut wire = drain_tls(&mut c);
    wire.extend_from_slice(&seal(&mut c, b"second"));
    assert_eq!(open_all(&mut s, &mut wire).unwrap(), b"first second");
}

#[test]
fn refused_while_read_tls_bytes_are_pending() {
    let (mut c, mut s) = established();
    let mut wire = seal(&mut c, b"abc");
    s.read_tls(&mut &wire[..3]).unwrap();
    assert!(matches!(
        s.read_in_place(&mut wire),
        Err(Error::Misuse(Misuse::InputBuffered))
    ));
}

#[test]
fn close_notify_on_the_zero_copy_path() {
    let (mut c, mut s) = established();
    let mut wire = seal(&mut c, b"last words");
    c.send_close_notify();
    wire.extend_from_slice(&drain_tls(&mut c));
    assert_eq!(open_all(&mut s, &mut wire).unwrap(), b"last words");
    assert!(s.peer_has_closed());
    assert!(matches!(
        c.encrypt_into(b"more", &mut [0u8; 64]),
        Err(Error::Misuse(Misuse::Closed))
    ));
}

#[test]
fn whole_handshake_through_read_in_place() {
    let (mut c, mut s) = pair(
        client_builder().build().unwrap(),
        server_builder("ecdsa-p256").build().unwrap(),
    );
    for _ in 0..4 {
        let mut w = drain_tls(&mut c);
        open_all(&mut s, &mut w).unwrap();
        let mut w = drain_tls(&mut s);
        open_all(&mut c, &mut w).unwrap();
    }
    assert!(!c.is_handshaking() && !s.is_handshaking());
    assert!(events(&mut s).contains(&Event::HandshakeComplete));
    let mut wire = seal(&mut s, b"done");
    assert_eq!(open_all(&mut c, &mut wire).unwrap(), b"done");
}
