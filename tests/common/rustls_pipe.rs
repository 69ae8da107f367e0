//! Moving bytes between a rustls connection and ours, in memory, for the rustls interop tests.

use std::io::Read;

use sanstls::Connection;

/// Moves bytes between a rustls connection and ours until both are quiet.
pub fn pump<D>(theirs: &mut rustls::ConnectionCommon<D>, ours: &mut Connection) {
    for _ in 0..20 {
        let mut moved = 0;
        let mut buf = Vec::new();
        while theirs.wants_write() {
            theirs.write_tls(&mut buf).unwrap();
        }
        moved += buf.len();
        let mut rd = &buf[..];
        while !rd.is_empty() {
            ours.read_tls(&mut rd).unwrap();
            ours.process_new_packets().unwrap();
        }
        let mut buf = Vec::new();
        while ours.write_tls(&mut buf).unwrap() > 0 {}
        moved += buf.len();
        let mut rd = &buf[..];
        while !rd.is_empty() {
            theirs.read_tls(&mut rd).unwrap();
            theirs.process_new_packets().unwrap();
        }
        if moved == 0 {
            return;
        }
    }
    panic!("no quiescence after 20 rounds");
}

/// Everything our connection has received and not yet read.
pub fn read_all(conn: &mut Connection) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = conn.reader().read(&mut buf) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    out
}
