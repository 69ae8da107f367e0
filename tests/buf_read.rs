//! `io::BufRead` over received plaintext (`Connection::reader()`): `fill_buf` lends each
//! record's plaintext where it lies, `consume` walks it, and the outcomes when nothing waits
//! are `read`'s.

mod common;

use std::io::{BufRead, ErrorKind, Read, Write};

use common::*;
use sanstls::Connection;

/// Seals each of `parts` into records of its own, then delivers them all at once.
fn deliver_as_records(from: &mut Connection, to: &mut Connection, parts: &[&[u8]]) {
    let mut wire = Vec::new();
    for part in parts {
        from.writer().write_all(part).unwrap();
        while from.write_tls(&mut wire).unwrap() > 0 {}
    }
    let mut rd = &wire[..];
    while !rd.is_empty() {
        assert!(to.read_tls(&mut rd).unwrap() > 0);
        to.process_new_packets().unwrap();
    }
}

fn established() -> (Connection, Connection) {
    let (mut client, mut server) = pair(
        client_builder().build().unwrap(),
        server_builder("ecdsa-p256").build().unwrap(),
    );
    handshake(&mut client, &mut server).unwrap();
    (client, server)
}

/// Up to `most` bytes of what `reader` holds, taken through `fill_buf` / `consume` in steps
/// of at most `step`.
fn take_in_steps(conn: &mut Connection, step: usize, most: usize) -> Vec<u8> {
    let mut got = Vec::new();
    while got.len() < most {
        let mut r = conn.reader();
        let n = match r.fill_buf() {
            Ok([]) => break,
            Ok(front) => {
                let n = front.len().min(step).min(most - got.len());
                got.extend_from_slice(&front[..n]);
                n
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) => panic!("{e}"),
        };
        r.consume(n);
    }
    got
}

#[test]
fn fill_buf_lends_one_records_plaintext_at_a_time() {
    let (mut client, mut server) = established();
    // Nothing received yet: as `read`, WouldBlock.
    let e = client.reader().fill_buf().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::WouldBlock);
    // Three records, arriving together: each one's plaintext stays where it was opened.
    deliver_as_records(&mut server, &mut client, &[b"alpha\n", b"beta\ngamma\n", b"tail"]);
    {
        let mut r = client.reader();
        assert_eq!(r.fill_buf().unwrap(), b"alpha\n");
        r.consume(2);
        assert_eq!(r.fill_buf().unwrap(), b"pha\n");
        r.consume(4);
        // The next record's plaintext, not a copy of everything: one record at a time.
        assert_eq!(r.fill_buf().unwrap(), b"beta\ngamma\n");
    }
    // BufRead's own helpers work over it: lines across and within records.
    let mut line = String::new();
    client.reader().read_line(&mut line).unwrap();
    assert_eq!(line, "beta\n");
    line.clear();
    client.reader().read_line(&mut line).unwrap();
    assert_eq!(line, "gamma\n");
    // A line still open when nothing more waits: its bytes are taken, then WouldBlock.
    line.clear();
    let e = client.reader().read_line(&mut line).unwrap_err();
    assert_eq!((e.kind(), line.as_str()), (ErrorKind::WouldBlock, "tail"));
    // Unread plaintext moved out of the inbound buffer by the next read_tls comes before the
    // record that arrived then.
    deliver_as_records(&mut server, &mut client, &[b"end", b"\nnext"]);
    assert_eq!(client.reader().fill_buf().unwrap(), b"end");
    client.reader().read_line(&mut line).unwrap();
    assert_eq!(line, "tailend\n");
    assert_eq!(client.reader().fill_buf().unwrap(), b"next");
    client.reader().consume(4);
    // After close_notify: empty, as `read` gives Ok(0).
    server.send_close_notify();
    transfer(&mut server, &mut client).unwrap();
    client.process_new_packets().unwrap();
    assert_eq!(client.reader().fill_buf().unwrap(), b"");
}

#[test]
fn plaintext_moved_out_of_the_inbound_buffer_comes_first() {
    let (mut client, mut server) = established();
    let sent: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    // Writes of uneven sizes, delivered in batches, with only part of each batch read
    // before the next arrives: each read_tls moves the plaintext still held in the inbound
    // buffer out of it first, so what fill_buf lends comes from both places, oldest first.
    let mut got = Vec::new();
    let mut at = 0;
    for (i, size) in [1, 300, 16_384, 5_000, 20_000, 17, 9_000]
        .iter()
        .cycle()
        .enumerate()
    {
        if at == sent.len() {
            break;
        }
        let end = (at + size).min(sent.len());
        server.writer().write_all(&sent[at..end]).unwrap();
        at = end;
        if i % 3 == 2 {
            transfer(&mut server, &mut client).unwrap();
            got.extend(take_in_steps(&mut client, 4_097, 15_000));
        }
    }
    transfer(&mut server, &mut client).unwrap();
    got.extend(take_in_steps(&mut client, 777, usize::MAX));
    assert_eq!(got.len(), sent.len());
    assert!(got == sent);
}

#[test]
fn fill_buf_and_read_share_one_position() {
    let (mut client, mut server) = established();
    deliver_as_records(&mut server, &mut client, &[b"0123456789", b"abcdef"]);
    let mut three = [0u8; 3];
    client.reader().read_exact(&mut three).unwrap();
    assert_eq!(&three, b"012");
    assert_eq!(client.reader().fill_buf().unwrap(), b"3456789");
    client.reader().consume(5);
    let mut rest = Vec::new();
    let mut buf = [0u8; 64];
    let n = client.reader().read(&mut buf).unwrap();
    rest.extend_from_slice(&buf[..n]);
    assert_eq!(rest, b"89abcdef");
}

#[test]
fn fill_buf_after_a_fatal_error_gives_the_error() {
    let (mut client, _server) = established();
    // A record that does not deprotect.
    let garbage = [0x17, 0x03, 0x03, 0x00, 0x20]
        .into_iter()
        .chain([0u8; 32])
        .collect::<Vec<_>>();
    client.read_tls(&mut &garbage[..]).unwrap();
    assert!(client.process_new_packets().is_err());
    let e = client.reader().fill_buf().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionAborted);
}
