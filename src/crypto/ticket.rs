//! The AEAD key that seals stateless session tickets, for both versions: TLS 1.3 tickets
//! (RFC 8446 4.6.1 leaves the format to the server) and TLS 1.2 tickets (RFC 5077 4
//! recommends an authenticated encryption of the state under a key only the server knows).
//! AES-256-GCM with a random 96-bit nonce per ticket: `nonce || ciphertext || tag`; the
//! caller binds its key identifier (TLS 1.3: key epoch, TLS 1.2: key name) in as AAD.

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use zeroize::Zeroizing;

use super::rand::RandomSource;
use crate::error::Error;

/// One ticket-protection key. The key bytes live only inside ring's `LessSafeKey`.
pub struct TicketKey {
    key: LessSafeKey,
}

impl core::fmt::Debug for TicketKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("TicketKey(..)")
    }
}

/// Bytes a sealed ticket adds to its plaintext.
pub const TICKET_OVERHEAD: usize = NONCE_LEN + 16;

impl TicketKey {
    /// A fresh random key.
    pub fn generate(rng: &dyn RandomSource) -> Result<Self, Error> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rng.fill(&mut bytes[..])?;
        Self::from_key(&bytes[..])
    }

    /// A key from 32 given bytes (tests, or keys shared between servers).
    pub fn from_key(key: &[u8]) -> Result<Self, Error> {
        let key = UnboundKey::new(&AES_256_GCM, key)
            .map_err(|_| Error::Config("ticket key must be 32 bytes".into()))?;
        Ok(TicketKey {
            key: LessSafeKey::new(key),
        })
    }

    /// Seals `plaintext` with `aad` bound in; the output starts with the random nonce.
    pub fn seal(&self, rng: &dyn RandomSource, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, Error> {
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill(&mut nonce)?;
        let mut out = Vec::with_capacity(plaintext.len() + TICKET_OVERHEAD);
        out.extend_from_slice(&nonce);
        let mut body = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), &mut body)
            .map_err(|_| Error::Crypto("ticket seal failed"))?;
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Opens a sealed ticket; `None` for anything that does not authenticate.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        if sealed.len() < TICKET_OVERHEAD {
            return None;
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut buf = Zeroizing::new(body.to_vec());
        let n = self
            .key
            .open_in_place(nonce, Aad::from(aad), &mut buf[..])
            .ok()?
            .len();
        buf.truncate(n);
        Some(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::rand::SystemRandomSource;

    #[test]
    fn seal_open_round_trip_and_tamper() {
        let rng = SystemRandomSource;
        let a = TicketKey::generate(&rng).unwrap();
        let b = TicketKey::generate(&rng).unwrap();
        let sealed = a.seal(&rng, b"aad", b"session state").unwrap();
        assert_eq!(sealed.len(), 13 + TICKET_OVERHEAD);
        assert_eq!(&a.open(b"aad", &sealed).unwrap()[..], b"session state");
        assert!(a.open(b"other", &sealed).is_none());
        assert!(b.open(b"aad", &sealed).is_none());
        for i in 0..sealed.len() {
            let mut flipped = sealed.clone();
            flipped[i] ^= 1;
            assert!(a.open(b"aad", &flipped).is_none(), "byte {i}");
        }
        assert!(a.open(b"aad", &sealed[..sealed.len() - 1]).is_none());
        assert!(a.open(b"aad", &sealed[..10]).is_none());
        assert!(a.open(b"aad", &[]).is_none());
    }
}
