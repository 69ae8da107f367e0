//! NSS key log output (the SSLKEYLOGFILE format Wireshark reads).

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

/// Receives every secret the key schedule derives, labelled as in the NSS key log format.
/// Implementations must treat the bytes as the secrets they are.
pub trait KeyLog: Send + Sync + fmt::Debug {
    /// Records one secret: `label` is the NSS key log label
    /// (`CLIENT_HANDSHAKE_TRAFFIC_SECRET`, ...), `client_random` identifies the connection.
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]);

    /// Lets an implementation skip the work for labels it does not want.
    fn will_log(&self, _label: &str) -> bool {
        true
    }
}

/// The default: logs nothing.
#[derive(Debug, Default)]
pub struct NoKeyLog;

impl KeyLog for NoKeyLog {
    fn log(&self, _: &str, _: &[u8], _: &[u8]) {}

    fn will_log(&self, _: &str) -> bool {
        false
    }
}

/// Appends NSS key log lines to a file.
pub struct KeyLogFile {
    file: Mutex<File>,
}

impl KeyLogFile {
    /// Opens (appending to) the key log file at `path`.
    pub fn create(path: impl AsRef<Path>) -> std::io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path.as_ref())?;
        Ok(KeyLogFile {
            file: Mutex::new(file),
        })
    }

    /// Opens the file named by `SSLKEYLOGFILE`, if that is set.
    pub fn from_env() -> Option<Self> {
        let path = std::env::var_os("SSLKEYLOGFILE")?;
        Self::create(Path::new(&path)).ok()
    }
}

impl fmt::Debug for KeyLogFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyLogFile")
    }
}

/// Formats one line: `LABEL <client_random hex> <secret hex>`.
pub fn key_log_line(label: &str, client_random: &[u8], secret: &[u8]) -> String {
    let mut line = String::with_capacity(label.len() + 2 + 2 * (client_random.len() + secret.len()) + 1);
    line.push_str(label);
    line.push(' ');
    for b in client_random {
        line.push_str(&format!("{b:02x}"));
    }
    line.push(' ');
    for b in secret {
        line.push_str(&format!("{b:02x}"));
    }
    line.push('\n');
    line
}

impl KeyLog for KeyLogFile {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        let line = key_log_line(label, client_random, secret);
        if let Ok(mut f) = self.file.lock() {
            // A failed key log write must not fail the connection.
            let _ = f.write_all(line.as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_format_matches_nss() {
        assert_eq!(
            key_log_line("CLIENT_TRAFFIC_SECRET_0", &[0xab, 0x01], &[0xff]),
            "CLIENT_TRAFFIC_SECRET_0 ab01 ff\n"
        );
    }
}
