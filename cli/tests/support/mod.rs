//! Helpers every CLI test binary shares: peer detection, child processes that die with the
//! test, and a client that floods a server with records it refuses.
#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The `sanstls` binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_sanstls")
}

/// A file of the repository's `vectors/` (test certificates and keys), as a path argument.
pub fn vector(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../vectors")
        .join(name)
        .display()
        .to_string()
}

/// A port of 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// True when `cmd` runs (as `cmd version` or `cmd --version`). Under `CI=true` a missing peer
/// fails the test instead of skipping it.
pub fn have(cmd: &str) -> bool {
    let runs = |arg: &str| {
        Command::new(cmd)
            .arg(arg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    };
    let ok = runs("version") || runs("--version");
    assert!(
        ok || std::env::var_os("CI").is_none(),
        "{cmd} is missing under CI"
    );
    ok
}

/// Fails the test when `cmd` does not run: an interop test without its peer proves nothing,
/// with or without CI.
pub fn need(cmd: &str) {
    let ok = have(cmd);
    assert!(
        ok,
        "{cmd} is missing: install it (apt-get install openssl gnutls-bin)"
    );
}

/// A child process killed and reaped when dropped, so a failing test leaves no server behind.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `total` bytes of 16 KiB application_data records, to send before any handshake: a server
/// refuses the first with a fatal unexpected_message (RFC 8446 5.1).
pub fn early_garbage(total: usize) -> Vec<u8> {
    let mut records = Vec::new();
    while records.len() < total {
        records.extend_from_slice(&[23, 3, 3, 0x40, 0x00]);
        records.extend_from_slice(&[0xAA; 0x4000]);
    }
    records
}

/// Sends `records` (garbage the server refuses at the first record) from one thread while
/// reading from another, like a client still writing its flight when the server gives up.
/// Once the writer is done, closes its side as a client does after a fatal alert, then reads
/// to the end. Returns the write's result, what was read and how the reading ended.
pub fn refused_flood(addr: &str, records: Vec<u8>) -> (io::Result<()>, Vec<u8>, io::Result<()>) {
    let sock = TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut w = sock.try_clone().unwrap();
    let mut writer = Some(std::thread::spawn(move || w.write_all(&records)));
    let mut got = Vec::new();
    let mut rd = &sock;
    let mut buf = [0u8; 4096];
    let mut wrote = None;
    let end = loop {
        if got.len() >= 7 {
            if let Some(writer) = writer.take() {
                // The alert (a 7-byte record) is in: finish writing, then close our side.
                let r = writer.join().unwrap();
                if r.is_ok() {
                    let _ = sock.shutdown(std::net::Shutdown::Write);
                }
                wrote = Some(r);
            }
        }
        match rd.read(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => break Err(e),
        }
    };
    if let Some(writer) = writer {
        wrote = Some(writer.join().unwrap());
    }
    (wrote.unwrap(), got, end)
}
