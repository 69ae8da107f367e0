//! An AEAD key for sealing session state into tickets (RFC 5077 4 recommends an authenticated
//! encryption of the state under a key only the server knows). AES-256-GCM with a random
//! 96-bit nonce per ticket; the key name goes in the clear so rotation can find the key.

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};

use super::rand::RandomSource;
use crate::Error;

const NAME_LEN: usize = 16;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// One ticket key: a 16-byte public name and an AES-256-GCM key.
pub struct TicketKey {
    name: [u8; NAME_LEN],
    key: LessSafeKey,
    rng: std::sync::Arc<dyn RandomSource>,
}

impl core::fmt::Debug for TicketKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TicketKey").finish_non_exhaustive()
    }
}

impl TicketKey {
    /// A fresh random key (name and key bytes from `rng`).
    pub fn generate(rng: std::sync::Arc<dyn RandomSource>) -> Result<Self, Error> {
        let mut name = [0u8; NAME_LEN];
        rng.fill(&mut name)?;
        let mut key = zeroize::Zeroizing::new([0u8; 32]);
        rng.fill(&mut key[..])?;
        let key = UnboundKey::new(&AES_256_GCM, &key[..]).map_err(|_| Error::Crypto("ticket key"))?;
        Ok(TicketKey {
            name,
            key: LessSafeKey::new(key),
            rng,
        })
    }

    /// The key name that prefixes every ticket this key seals.
    pub fn name(&self) -> &[u8] {
        &self.name
    }

    /// name || nonce || AES-256-GCM(plain) || tag, the name authenticated as AAD.
    pub fn seal(&self, plain: &[u8]) -> Result<Vec<u8>, Error> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce)?;
        let mut out = Vec::with_capacity(NAME_LEN + NONCE_LEN + plain.len() + TAG_LEN);
        out.extend_from_slice(&self.name);
        out.extend_from_slice(&nonce);
        let mut body = plain.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&self.name),
                &mut body,
            )
            .map_err(|_| Error::Crypto("ticket seal failed"))?;
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Opens a ticket sealed by this key; `None` for another key's ticket or any tampering.
    pub fn open(&self, sealed: &[u8]) -> Option<Vec<u8>> {
        let (name, rest) = sealed.split_at_checked(NAME_LEN)?;
        if name != self.name {
            return None;
        }
        let (nonce, ciphertext) = rest.split_at_checked(NONCE_LEN)?;
        if ciphertext.len() < TAG_LEN {
            return None;
        }
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut buf = ciphertext.to_vec();
        let plain = self.key.open_in_place(nonce, Aad::from(name), &mut buf).ok()?;
        Some(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::rand::SystemRandomSource;
    use std::sync::Arc;

    #[test]
    fn seal_open_and_tamper() {
        let k = TicketKey::generate(Arc::new(SystemRandomSource)).unwrap();
        let t = k.seal(b"state").unwrap();
        assert_eq!(k.open(&t).as_deref(), Some(&b"state"[..]));
        for i in 0..t.len() {
            let mut bad = t.clone();
            bad[i] ^= 1;
            assert_eq!(k.open(&bad), None, "byte {i}");
        }
        assert_eq!(k.open(&t[..t.len() - 1]), None);
        assert_eq!(k.open(&[]), None);
        let other = TicketKey::generate(Arc::new(SystemRandomSource)).unwrap();
        assert_eq!(other.open(&t), None);
    }
}
