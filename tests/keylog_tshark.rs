//! Our key log decrypts our own traffic in Wireshark: a full handshake and a resumed one with
//! 0-RTT between our client and server are written as a loopback pcap (TCP framing
//! synthesised around the exact record bytes), and `tshark` with the NSS key log file shows
//! the HTTP requests inside, the 0-RTT one included.

mod common;

use std::io::Write;
use std::process::Command;
use std::sync::Arc;

use common::interop::have;
use common::*;
use sanstls::{Connection, KeyLogFile};

/// One TCP connection's segments, in order: (from client?, bytes).
struct Stream {
    client_port: u16,
    segments: Vec<(bool, Vec<u8>)>,
}

fn pump(c: &mut Connection, s: &mut Connection, stream: &mut Stream) {
    for _ in 0..10 {
        let mut moved = false;
        for from_client in [true, false] {
            let (from, to) = if from_client {
                (&mut *c, &mut *s)
            } else {
                (&mut *s, &mut *c)
            };
            let mut buf = Vec::new();
            while from.write_tls(&mut buf).unwrap() > 0 {}
            if buf.is_empty() {
                continue;
            }
            moved = true;
            let mut rd = &buf[..];
            while !rd.is_empty() {
                to.read_tls(&mut rd).unwrap();
                to.process_new_packets().unwrap();
            }
            stream.segments.push((from_client, buf));
        }
        if !moved {
            return;
        }
    }
}

#[allow(clippy::too_many_arguments)] // one TCP segment, field by field
fn packet(out: &mut Vec<u8>, n: u32, src: u16, dst: u16, seq: u32, ack: u32, flags: u8, payload: &[u8]) {
    let mut frame = vec![0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 2, 0x08, 0x00];
    let total = (20 + 20 + payload.len()) as u16;
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
        6,
        0,
        0,
    ]);
    frame.extend_from_slice(&[127, 0, 0, 1, 127, 0, 0, 1]);
    frame.extend_from_slice(&src.to_be_bytes());
    frame.extend_from_slice(&dst.to_be_bytes());
    frame.extend_from_slice(&seq.to_be_bytes());
    frame.extend_from_slice(&ack.to_be_bytes());
    frame.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    frame.extend_from_slice(payload);
    out.extend_from_slice(&n.to_le_bytes()); // ts_sec
    out.extend_from_slice(&0u32.to_le_bytes()); // ts_usec
    out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
    out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
    out.extend_from_slice(&frame);
}

fn pcap(streams: &[Stream]) -> Vec<u8> {
    const SYN: u8 = 0x02;
    const ACK: u8 = 0x10;
    const PSH_ACK: u8 = 0x18;
    let mut out = Vec::new();
    // Global header: magic, v2.4, zone, sigfigs, snaplen, Ethernet.
    out.extend_from_slice(&0xa1b2c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    for v in [0u32, 0, 65535, 1] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    let mut n = 1;
    for st in streams {
        let (cp, sp) = (st.client_port, 443u16);
        let (mut cseq, mut sseq) = (1000u32, 5000u32);
        packet(&mut out, n, cp, sp, cseq, 0, SYN, &[]);
        packet(&mut out, n, sp, cp, sseq, cseq + 1, SYN | ACK, &[]);
        cseq += 1;
        sseq += 1;
        packet(&mut out, n, cp, sp, cseq, sseq, ACK, &[]);
        for (from_client, bytes) in &st.segments {
            for chunk in bytes.chunks(1400) {
                n += 1;
                if *from_client {
                    packet(&mut out, n, cp, sp, cseq, sseq, PSH_ACK, chunk);
                    cseq += chunk.len() as u32;
                } else {
                    packet(&mut out, n, sp, cp, sseq, cseq, PSH_ACK, chunk);
                    sseq += chunk.len() as u32;
                }
            }
        }
    }
    out
}

#[test]
fn tshark_decrypts_our_traffic_with_our_key_log() {
    if !have("tshark") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("sanstls-tshark-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let keylog = dir.join("keys.log");
    let log = Arc::new(KeyLogFile::create(&keylog).unwrap());
    let client = client_builder()
        .enable_early_data(true)
        .key_log(log.clone())
        .build()
        .unwrap();
    let server = server_builder("ecdsa-p256")
        .max_early_data(4096)
        .key_log(log)
        .build()
        .unwrap();

    let mut streams = Vec::new();
    // A full handshake, then a resumed one carrying its request as 0-RTT.
    for (port, path) in [(50001u16, "/full-handshake-marker"), (50002, "/zero-rtt-marker")] {
        let mut stream = Stream {
            client_port: port,
            segments: Vec::new(),
        };
        let (mut c, mut s) = pair(client.clone(), server.clone());
        let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
        match c.early_data() {
            Some(mut w) => w.write_all(request.as_bytes()).unwrap(),
            None => c.writer().write_all(request.as_bytes()).unwrap(),
        }
        pump(&mut c, &mut s, &mut stream);
        assert_eq!(s.early_data_accepted(), port == 50002);
        s.writer()
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            .unwrap();
        pump(&mut c, &mut s, &mut stream);
        streams.push(stream);
    }
    let capture = dir.join("loopback.pcap");
    std::fs::write(&capture, pcap(&streams)).unwrap();

    let out = Command::new("timeout")
        .args(["60", "tshark", "-n", "-r"])
        .arg(&capture)
        .arg("-o")
        .arg(format!("tls.keylog_file:{}", keylog.display()))
        .args([
            "-Y",
            "http",
            "-T",
            "fields",
            "-e",
            "http.request.uri",
            "-e",
            "http.response.code",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("/full-handshake-marker"), "{text}");
    assert!(
        text.contains("/zero-rtt-marker"),
        "0-RTT decrypted with CLIENT_EARLY_TRAFFIC_SECRET: {text}"
    );
    assert_eq!(text.matches("200").count(), 2, "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}
