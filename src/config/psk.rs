//! External pre-shared keys (RFC 4279 and RFC 5489 for TLS 1.2; RFC 8446 4.2.11 for TLS
//! 1.3): the client's identity and key, and the server's lookup from identity to key.

use std::collections::HashMap;
use std::fmt;

use crate::crypto::secret::Secret;
use crate::error::Error;

/// The longest PSK identity we send or look up. RFC 4279 5.3 asks for at least 128 bytes;
/// OpenSSL takes up to 256. A longer one (the syntax allows 2^16-1) is `illegal_parameter`.
pub const MAX_PSK_IDENTITY_LEN: usize = 256;

/// The longest key we take (RFC 4279 5.3 asks for at least 64 bytes; OpenSSL takes 512).
pub const MAX_PSK_LEN: usize = 512;

/// A client's external PSK: the identity it names and the key. The key is zeroized on
/// drop and never printed.
#[derive(Clone)]
pub struct ExternalPsk {
    identity: Vec<u8>,
    key: Secret,
}

impl ExternalPsk {
    /// `identity` of 1 to [`MAX_PSK_IDENTITY_LEN`] bytes, `key` of 1 to [`MAX_PSK_LEN`].
    pub fn new(identity: impl Into<Vec<u8>>, key: impl Into<Vec<u8>>) -> Result<Self, Error> {
        let identity = identity.into();
        let key = Secret::new(key.into());
        if identity.is_empty() || identity.len() > MAX_PSK_IDENTITY_LEN {
            return Err(Error::Config(format!(
                "a PSK identity is 1 to {MAX_PSK_IDENTITY_LEN} bytes"
            )));
        }
        if key.is_empty() || key.len() > MAX_PSK_LEN {
            return Err(Error::Config(format!("a PSK is 1 to {MAX_PSK_LEN} bytes")));
        }
        Ok(ExternalPsk { identity, key })
    }

    /// The identity sent to the server.
    pub fn identity(&self) -> &[u8] {
        &self.identity
    }

    pub(crate) fn key(&self) -> &Secret {
        &self.key
    }
}

impl fmt::Debug for ExternalPsk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExternalPsk")
            .field("identity", &String::from_utf8_lossy(&self.identity))
            .finish_non_exhaustive()
    }
}

/// The server's lookup from a PSK identity to its key. `None`: unknown identity (the
/// handshake ends with `unknown_psk_identity`). Called once per handshake, with an identity
/// of at most [`MAX_PSK_IDENTITY_LEN`] bytes.
pub trait PskLookup: Send + Sync {
    /// The key of `identity`, if it is known.
    fn key(&self, identity: &[u8]) -> Option<Secret>;
}

/// An in-memory [`PskLookup`]: identity to key.
#[derive(Default)]
pub struct PskStore {
    keys: HashMap<Vec<u8>, Secret>,
}

impl PskStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) `identity`'s key; the same bounds as [`ExternalPsk::new`].
    pub fn insert(&mut self, identity: impl Into<Vec<u8>>, key: impl Into<Vec<u8>>) -> Result<(), Error> {
        let psk = ExternalPsk::new(identity, key)?;
        self.keys.insert(psk.identity, psk.key);
        Ok(())
    }

    /// Reads `identity:hexkey` lines (blank lines and `#` comments skipped), the format of
    /// `gnutls-serv --pskpasswd` files.
    pub fn from_text(text: &str) -> Result<Self, Error> {
        let mut store = PskStore::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = || Error::Config(format!("PSK file line {}: expected identity:hexkey", n + 1));
            let (identity, hex) = line.rsplit_once(':').ok_or_else(bad)?;
            store.insert(identity.as_bytes(), decode_hex(hex).ok_or_else(bad)?)?;
        }
        Ok(store)
    }

    /// Number of identities.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True without identities.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

impl PskLookup for PskStore {
    fn key(&self, identity: &[u8]) -> Option<Secret> {
        // Identities are not secret; the map finds one by its bytes, and the key is
        // handed on without being compared.
        self.keys.get(identity).cloned()
    }
}

impl fmt::Debug for PskStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PskStore")
            .field("identities", &self.keys.len())
            .finish_non_exhaustive()
    }
}

/// Hex digits to bytes (`None`: odd length or a non-hex digit); the bytes are a key, so the
/// intermediate buffer is the caller's to wrap.
pub fn decode_hex(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| text.get(i..i + 2).and_then(|d| u8::from_str_radix(d, 16).ok()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_and_debug() {
        assert!(ExternalPsk::new(vec![], vec![1]).is_err());
        assert!(ExternalPsk::new(vec![b'a'; MAX_PSK_IDENTITY_LEN + 1], vec![1]).is_err());
        assert!(ExternalPsk::new("id", vec![]).is_err());
        let p = ExternalPsk::new("client1", vec![0xab; 16]).unwrap();
        let d = format!("{p:?}");
        assert!(
            d.contains("client1") && !d.contains("ab") && !d.contains("171"),
            "{d}"
        );
    }

    #[test]
    fn store_reads_identity_hexkey_lines() {
        let s = PskStore::from_text("# comment\nclient1:000102\n\nwith:colon:ff\n").unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s.key(b"client1").unwrap().as_bytes(), &[0, 1, 2]);
        assert_eq!(s.key(b"with:colon").unwrap().as_bytes(), &[0xff]);
        assert!(s.key(b"other").is_none());
        assert!(PskStore::from_text("nocolon\n").is_err());
        assert!(PskStore::from_text("a:0g\n").is_err());
        assert!(!format!("{s:?}").contains("ff"));
    }
}
