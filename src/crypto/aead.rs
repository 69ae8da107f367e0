//! Record protection keys: AEAD key plus nonce construction, sealing and opening in place.
//!
//! AES-GCM and ChaCha20-Poly1305 are ring's; AES-CCM and AES-CCM_8, which ring lacks, are
//! RustCrypto's `ccm` over `aes`, driven through its detached in-place interface so a
//! record is sealed and opened where it lies, as with ring.

use aes::Aes128;
use ccm::aead::AeadInOut;
use ccm::consts::{U12, U16, U8};
use ccm::{Ccm, KeyInit};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey};
use zeroize::Zeroizing;

use super::hash::HashAlg;
use super::hkdf::Prk;
use super::suites::AeadAlg;
use crate::Error;

const NONCE_LEN: usize = AeadAlg::NONCE_LEN;
/// TLS 1.2 AES-GCM and AES-CCM: 4-byte implicit salt, 8-byte explicit nonce (RFC 5288 3,
/// RFC 6655 3).
const GCM_SALT_LEN: usize = 4;
const GCM_EXPLICIT_LEN: usize = 8;

/// How the per-record nonce is built.
enum NonceMode {
    /// TLS 1.3 (RFC 8446 5.3) and TLS 1.2 ChaCha20-Poly1305 (RFC 7905 2): iv XOR seq.
    XorSeq(Zeroizing<[u8; NONCE_LEN]>),
    /// TLS 1.2 AES-GCM (RFC 5288 3) and AES-CCM (RFC 6655 3): salt || explicit nonce, the
    /// explicit part sent in the record. We send the sequence number as the explicit part.
    Tls12Gcm(Zeroizing<[u8; GCM_SALT_LEN]>),
}

/// AES-128-CCM with a 16-byte tag and a 12-byte nonce (RFC 6655 3, RFC 8446 B.4).
type Aes128Ccm = Ccm<Aes128, U16, U12>;
/// AES-128-CCM_8: the same with an 8-byte tag.
type Aes128Ccm8 = Ccm<Aes128, U8, U12>;

/// The keyed cipher. The key bytes live inside it (ring's `LessSafeKey`, or the AES round
/// keys, which `aes` zeroizes on drop).
enum Cipher {
    Ring(LessSafeKey),
    Ccm(Aes128Ccm),
    Ccm8(Aes128Ccm8),
}

/// One direction's record protection key: the AEAD key and the IV (or salt). Our copies of
/// the IV are zeroized.
pub struct RecordKey {
    aead: AeadAlg,
    key: Cipher,
    nonce: NonceMode,
}

impl core::fmt::Debug for RecordKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RecordKey")
            .field("aead", &self.aead)
            .field("explicit_nonce_len", &self.explicit_nonce_len())
            .finish_non_exhaustive()
    }
}

fn xor_seq(iv: &[u8; NONCE_LEN], seq: u64) -> [u8; NONCE_LEN] {
    let mut n = *iv;
    for (b, s) in n[NONCE_LEN - 8..].iter_mut().zip(seq.to_be_bytes()) {
        *b ^= s;
    }
    n
}

fn unbound(aead: AeadAlg, key: &[u8]) -> Result<Cipher, Error> {
    let bad = |_| Error::Crypto("bad AEAD key length");
    match aead.ring_alg() {
        Some(alg) => UnboundKey::new(alg, key)
            .map(|k| Cipher::Ring(LessSafeKey::new(k)))
            .map_err(bad),
        None if aead == AeadAlg::Aes128Ccm8 => Aes128Ccm8::new_from_slice(key)
            .map(Cipher::Ccm8)
            .map_err(|_| Error::Crypto("bad AEAD key length")),
        None => Aes128Ccm::new_from_slice(key)
            .map(Cipher::Ccm)
            .map_err(|_| Error::Crypto("bad AEAD key length")),
    }
}

impl Cipher {
    /// Encrypts `plain` in place; returns the tag (its first `tag_len` bytes count).
    fn seal(&self, nonce: [u8; NONCE_LEN], aad: &[u8], plain: &mut [u8]) -> Result<([u8; 16], usize), Error> {
        let failed = |_| Error::Crypto("AEAD seal failed");
        let mut out = [0u8; 16];
        let n = match self {
            Cipher::Ring(k) => {
                let tag = k
                    .seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), plain)
                    .map_err(|_| Error::Crypto("AEAD seal failed"))?;
                out.copy_from_slice(tag.as_ref());
                16
            }
            Cipher::Ccm(k) => {
                let tag = k
                    .encrypt_inout_detached(&nonce.into(), aad, plain.into())
                    .map_err(failed)?;
                out.copy_from_slice(&tag);
                16
            }
            Cipher::Ccm8(k) => {
                let tag = k
                    .encrypt_inout_detached(&nonce.into(), aad, plain.into())
                    .map_err(failed)?;
                out[..8].copy_from_slice(&tag);
                8
            }
        };
        Ok((out, n))
    }

    /// Opens `in_out[prefix..]` (ciphertext || tag) in place and moves the plaintext to the
    /// start of `in_out`; returns its length. Any failure is [`Error::DecryptFailed`].
    #[inline]
    fn open(
        &self,
        nonce: [u8; NONCE_LEN],
        aad: &[u8],
        in_out: &mut [u8],
        prefix: usize,
        tag_len: usize,
    ) -> Result<usize, Error> {
        let failed = |_: ccm::Error| Error::DecryptFailed;
        let ct_len = in_out.len() - prefix - tag_len;
        match self {
            Cipher::Ring(k) => {
                let n = k
                    .open_within(
                        Nonce::assume_unique_for_key(nonce),
                        Aad::from(aad),
                        in_out,
                        prefix..,
                    )
                    .map_err(|_| Error::DecryptFailed)?
                    .len();
                return Ok(n);
            }
            Cipher::Ccm(k) => {
                let (ct, tag) = in_out[prefix..].split_at_mut(ct_len);
                let tag = ccm::Tag::<U16>::try_from(&*tag).map_err(|_| Error::DecryptFailed)?;
                k.decrypt_inout_detached(&nonce.into(), aad, ct.into(), &tag)
                    .map_err(failed)?;
            }
            Cipher::Ccm8(k) => {
                let (ct, tag) = in_out[prefix..].split_at_mut(ct_len);
                let tag = ccm::Tag::<U8>::try_from(&*tag).map_err(|_| Error::DecryptFailed)?;
                k.decrypt_inout_detached(&nonce.into(), aad, ct.into(), &tag)
                    .map_err(failed)?;
            }
        }
        // As ring does: the plaintext moves over the explicit nonce (RFC 5288 3).
        if prefix > 0 {
            in_out.copy_within(prefix..prefix + ct_len, 0);
        }
        Ok(ct_len)
    }
}

impl RecordKey {
    /// TLS 1.3: key = HKDF-Expand-Label(secret, "key", "", key_len), iv =
    /// HKDF-Expand-Label(secret, "iv", "", 12); nonce = iv XOR seq (RFC 8446 5.3, 7.3).
    pub fn tls13(aead: AeadAlg, hash: HashAlg, traffic_secret: &[u8]) -> Self {
        Self::tls13_prk(aead, &Prk::new(hash, traffic_secret))
    }

    /// [`tls13`](Self::tls13) from the traffic secret's [`Prk`]: "key" and "iv" share its
    /// HMAC key setup (and so can "finished", when the caller keeps the `Prk`).
    pub fn tls13_prk(aead: AeadAlg, traffic_secret: &Prk) -> Self {
        // Key and IV go straight into zeroized stack buffers (no allocation per key).
        let mut key = Zeroizing::new([0u8; 32]);
        let key = &mut key[..aead.key_len()];
        traffic_secret.expand_label_into(b"key", &[], key);
        let mut iv_arr = Zeroizing::new([0u8; NONCE_LEN]);
        traffic_secret.expand_label_into(b"iv", &[], &mut iv_arr[..]);
        // The key length comes from `aead` itself, so the cipher cannot refuse it.
        let key = match unbound(aead, key) {
            Ok(k) => k,
            Err(_) => unreachable!("key length matches the algorithm"),
        };
        RecordKey {
            aead,
            key,
            nonce: NonceMode::XorSeq(iv_arr),
        }
    }

    /// TLS 1.2: for AES-GCM and AES-CCM `iv` is the 4-byte implicit salt (RFC 5288 3,
    /// RFC 6655 3), for ChaCha20-Poly1305 the 12-byte IV XORed with the sequence number
    /// (RFC 7905 2).
    pub fn tls12(aead: AeadAlg, key: &[u8], iv: &[u8]) -> Result<Self, Error> {
        let key = unbound(aead, key)?;
        let nonce = match aead {
            AeadAlg::Aes128Gcm | AeadAlg::Aes256Gcm | AeadAlg::Aes128Ccm | AeadAlg::Aes128Ccm8 => {
                let mut salt = Zeroizing::new([0u8; GCM_SALT_LEN]);
                if iv.len() != GCM_SALT_LEN {
                    return Err(Error::Crypto("TLS 1.2 GCM/CCM salt must be 4 bytes"));
                }
                salt.copy_from_slice(iv);
                NonceMode::Tls12Gcm(salt)
            }
            AeadAlg::ChaCha20Poly1305 => {
                let mut full = Zeroizing::new([0u8; NONCE_LEN]);
                if iv.len() != NONCE_LEN {
                    return Err(Error::Crypto("TLS 1.2 ChaCha20 IV must be 12 bytes"));
                }
                full.copy_from_slice(iv);
                NonceMode::XorSeq(full)
            }
        };
        Ok(RecordKey { aead, key, nonce })
    }

    /// The AEAD algorithm this key seals and opens with.
    pub fn aead(&self) -> AeadAlg {
        self.aead
    }

    /// Bytes the record carries before the ciphertext (8 for TLS 1.2 GCM and CCM, else 0).
    pub fn explicit_nonce_len(&self) -> usize {
        match self.nonce {
            NonceMode::XorSeq(_) => 0,
            NonceMode::Tls12Gcm(_) => GCM_EXPLICIT_LEN,
        }
    }

    /// The explicit nonce to write before the ciphertext of record `seq` (TLS 1.2 GCM): the
    /// sequence number, big-endian.
    pub fn explicit_nonce(&self, seq: u64) -> [u8; 8] {
        seq.to_be_bytes()
    }

    /// Bytes sealing adds to a plaintext: the tag, 16 bytes or 8 for CCM_8 (the explicit
    /// nonce is the caller's).
    pub fn tag_len(&self) -> usize {
        self.aead.tag_len()
    }

    fn seal_nonce(&self, seq: u64) -> [u8; NONCE_LEN] {
        match &self.nonce {
            NonceMode::XorSeq(iv) => xor_seq(iv, seq),
            NonceMode::Tls12Gcm(salt) => {
                let mut n = [0u8; NONCE_LEN];
                n[..GCM_SALT_LEN].copy_from_slice(&salt[..]);
                n[GCM_SALT_LEN..].copy_from_slice(&self.explicit_nonce(seq));
                n
            }
        }
    }

    /// Seals `in_out` (the plaintext) in place and appends the tag. For TLS 1.2 GCM and CCM
    /// the caller writes [`explicit_nonce`](Self::explicit_nonce)`(seq)` before it.
    pub fn seal_in_place(&self, seq: u64, aad: &[u8], in_out: &mut Vec<u8>) -> Result<(), Error> {
        let (tag, n) = self.key.seal(self.seal_nonce(seq), aad, in_out)?;
        in_out.extend_from_slice(&tag[..n]);
        Ok(())
    }

    /// Seals `buf[..plaintext_len]` in place and writes the tag right after it; `buf` needs
    /// `plaintext_len + tag_len()` bytes. Returns the ciphertext length (plaintext + tag).
    pub fn seal_in_place_slice(
        &self,
        seq: u64,
        aad: &[u8],
        buf: &mut [u8],
        plaintext_len: usize,
    ) -> Result<usize, Error> {
        let total = plaintext_len
            .checked_add(self.tag_len())
            .filter(|t| *t <= buf.len());
        let Some(total) = total else {
            return Err(Error::Crypto("seal: buffer has no room for the tag"));
        };
        let (plain, rest) = buf.split_at_mut(plaintext_len);
        let (tag, n) = self.key.seal(self.seal_nonce(seq), aad, plain)?;
        rest[..n].copy_from_slice(&tag[..n]);
        Ok(total)
    }

    /// Opens `in_out` (ciphertext || tag; for TLS 1.2 GCM explicit nonce || ciphertext ||
    /// tag) in place and returns the plaintext, at the start of `in_out`. Any failure,
    /// including a record too short to hold a tag, is [`Error::DecryptFailed`].
    pub fn open_in_place<'a>(
        &self,
        seq: u64,
        aad: &[u8],
        in_out: &'a mut [u8],
    ) -> Result<&'a mut [u8], Error> {
        let prefix = self.explicit_nonce_len();
        let tag_len = self.tag_len();
        if in_out.len() < prefix + tag_len {
            return Err(Error::DecryptFailed);
        }
        let nonce = self.open_nonce(seq, &in_out[..prefix])?;
        let n = self.key.open(nonce, aad, in_out, prefix, tag_len)?;
        Ok(&mut in_out[..n])
    }

    /// Opens `in_out` (ciphertext || tag) where it lies, the plaintext staying at its
    /// start, with `explicit_nonce` the [`explicit_nonce_len`](Self::explicit_nonce_len)
    /// bytes the record carried before it. Returns the plaintext length. For a receiver that
    /// opens a record in place without moving it over its explicit nonce (or copies only
    /// the ciphertext). Any failure is [`Error::DecryptFailed`].
    #[inline]
    pub fn open_detached(
        &self,
        seq: u64,
        aad: &[u8],
        explicit_nonce: &[u8],
        in_out: &mut [u8],
    ) -> Result<usize, Error> {
        let tag_len = self.tag_len();
        if in_out.len() < tag_len {
            return Err(Error::DecryptFailed);
        }
        let nonce = self.open_nonce(seq, explicit_nonce)?;
        self.key.open(nonce, aad, in_out, 0, tag_len)
    }

    /// The nonce that opens record `seq`, `explicit` being the explicit nonce it carried
    /// (RFC 5288 3: the receiver uses the one the record carries; empty for the XOR-IV
    /// nonces). An explicit nonce of the wrong length cannot open anything.
    #[inline]
    fn open_nonce(&self, seq: u64, explicit: &[u8]) -> Result<[u8; NONCE_LEN], Error> {
        match &self.nonce {
            NonceMode::XorSeq(iv) if explicit.is_empty() => Ok(xor_seq(iv, seq)),
            NonceMode::Tls12Gcm(salt) if explicit.len() == GCM_EXPLICIT_LEN => {
                let mut n = [0u8; NONCE_LEN];
                n[..GCM_SALT_LEN].copy_from_slice(&salt[..]);
                n[GCM_SALT_LEN..].copy_from_slice(explicit);
                Ok(n)
            }
            _ => Err(Error::DecryptFailed),
        }
    }
}

/// DTLS 1.3 (RFC 9147 4, 5.9) builds its keys in `crypto::dtls` with the `"dtls13"` label
/// prefix and then uses the TLS 1.3 nonce (iv XOR the 64-bit record sequence number).
impl RecordKey {
    pub(crate) fn xor_iv(aead: AeadAlg, key: &[u8], iv: &[u8]) -> Result<Self, Error> {
        let key = unbound(aead, key)?;
        let mut full = Zeroizing::new([0u8; NONCE_LEN]);
        if iv.len() != NONCE_LEN {
            return Err(Error::Crypto("IV must be 12 bytes"));
        }
        full.copy_from_slice(iv);
        Ok(RecordKey {
            aead,
            key,
            nonce: NonceMode::XorSeq(full),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn keys() -> Vec<RecordKey> {
        vec![
            RecordKey::tls13(AeadAlg::Aes128Gcm, HashAlg::Sha256, &[1; 32]),
            RecordKey::tls13(AeadAlg::Aes256Gcm, HashAlg::Sha384, &[2; 48]),
            RecordKey::tls13(AeadAlg::ChaCha20Poly1305, HashAlg::Sha256, &[3; 32]),
            RecordKey::tls12(AeadAlg::Aes128Gcm, &[4; 16], &[5; 4]).unwrap(),
            RecordKey::tls12(AeadAlg::Aes256Gcm, &[4; 32], &[5; 4]).unwrap(),
            RecordKey::tls12(AeadAlg::ChaCha20Poly1305, &[6; 32], &[7; 12]).unwrap(),
            RecordKey::tls13(AeadAlg::Aes128Ccm, HashAlg::Sha256, &[8; 32]),
            RecordKey::tls13(AeadAlg::Aes128Ccm8, HashAlg::Sha256, &[9; 32]),
            RecordKey::tls12(AeadAlg::Aes128Ccm, &[10; 16], &[11; 4]).unwrap(),
            RecordKey::tls12(AeadAlg::Aes128Ccm8, &[12; 16], &[13; 4]).unwrap(),
        ]
    }

    /// Seals like a record layer would: explicit nonce (if any), then ciphertext || tag.
    fn seal_record(k: &RecordKey, seq: u64, aad: &[u8], plain: &[u8]) -> Vec<u8> {
        let mut body = plain.to_vec();
        k.seal_in_place(seq, aad, &mut body).unwrap();
        let mut rec = if k.explicit_nonce_len() > 0 {
            k.explicit_nonce(seq).to_vec()
        } else {
            vec![]
        };
        rec.extend(body);
        rec
    }

    proptest! {
        #[test]
        fn seal_open_round_trip(plain in proptest::collection::vec(any::<u8>(), 0..300),
                                aad in proptest::collection::vec(any::<u8>(), 0..16),
                                seq in any::<u64>()) {
            for k in keys() {
                let mut rec = seal_record(&k, seq, &aad, &plain);
                prop_assert_eq!(rec.len(), k.explicit_nonce_len() + plain.len() + k.tag_len());
                // The slice path produces the same bytes.
                let mut buf = plain.clone();
                buf.resize(plain.len() + k.tag_len() + 3, 0);
                let n = k.seal_in_place_slice(seq, &aad, &mut buf, plain.len()).unwrap();
                prop_assert_eq!(&buf[..n], &rec[k.explicit_nonce_len()..]);
                // Opened where it lies after the explicit nonce: the plaintext stays there.
                let mut detached = rec.clone();
                let (nonce, body) = detached.split_at_mut(k.explicit_nonce_len());
                let len = k.open_detached(seq, &aad, nonce, body).unwrap();
                prop_assert_eq!(&body[..len], &plain[..]);
                let opened = k.open_in_place(seq, &aad, &mut rec).unwrap();
                prop_assert_eq!(&*opened, &plain[..]);
            }
        }

        #[test]
        fn any_tamper_fails(plain in proptest::collection::vec(any::<u8>(), 0..64),
                            flip_at in any::<prop::sample::Index>(), bit in 0u8..8) {
            for k in keys() {
                let rec = seal_record(&k, 9, b"aad", &plain);
                let mut bad = rec.clone();
                let i = flip_at.index(bad.len());
                bad[i] ^= 1 << bit;
                let mut copy = bad.clone();
                prop_assert_eq!(k.open_in_place(9, b"aad", &mut copy), Err(Error::DecryptFailed));
                let (nonce, body) = bad.split_at_mut(k.explicit_nonce_len());
                prop_assert_eq!(k.open_detached(9, b"aad", nonce, body), Err(Error::DecryptFailed));
            }
        }
    }

    #[test]
    fn wrong_seq_aad_or_length_fails() {
        for k in keys() {
            let rec = seal_record(&k, 5, b"aad", b"hello");
            if k.explicit_nonce_len() == 0 {
                assert_eq!(
                    k.open_in_place(6, b"aad", &mut rec.clone()),
                    Err(Error::DecryptFailed)
                );
            }
            assert_eq!(
                k.open_in_place(5, b"aaD", &mut rec.clone()),
                Err(Error::DecryptFailed)
            );
            let short = &mut rec.clone()[..k.explicit_nonce_len() + k.tag_len() - 1];
            assert_eq!(k.open_in_place(5, b"aad", short), Err(Error::DecryptFailed));
            assert_eq!(k.open_in_place(5, b"aad", &mut []), Err(Error::DecryptFailed));
        }
    }

    #[test]
    fn slice_seal_needs_room_for_tag() {
        let k = &keys()[0];
        let mut buf = [0u8; 20];
        assert!(k.seal_in_place_slice(0, b"", &mut buf, 5).is_err());
        assert_eq!(k.seal_in_place_slice(0, b"", &mut buf, 4), Ok(20));
    }

    #[test]
    fn tls12_rejects_bad_lengths() {
        assert!(RecordKey::tls12(AeadAlg::Aes128Gcm, &[0; 15], &[0; 4]).is_err());
        assert!(RecordKey::tls12(AeadAlg::Aes128Gcm, &[0; 16], &[0; 12]).is_err());
        assert!(RecordKey::tls12(AeadAlg::ChaCha20Poly1305, &[0; 32], &[0; 4]).is_err());
        assert!(RecordKey::tls12(AeadAlg::Aes128Ccm8, &[0; 32], &[0; 4]).is_err());
        assert!(RecordKey::tls12(AeadAlg::Aes128Ccm, &[0; 16], &[0; 12]).is_err());
    }

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    /// NIST SP 800-38C Appendix C, Example 3: AES-128, a 12-byte nonce, 20 bytes of
    /// associated data, 24 of payload, an 8-byte tag (CCM_8, RFC 6655 3). The 16-byte tag of
    /// the same input was computed with OpenSSL's AES-CCM (via pyca/cryptography).
    #[test]
    fn ccm_known_answers() {
        let key = h("404142434445464748494a4b4c4d4e4f");
        let nonce = h("101112131415161718191a1b");
        let aad = h("000102030405060708090a0b0c0d0e0f10111213");
        let plain = h("202122232425262728292a2b2c2d2e2f3031323334353637");
        let want8 = h("e3b201a9f5b71a7a9b1ceaeccd97e70b6176aad9a4428aa5 484392fbc1b09951");
        let want16 = h("e3b201a9f5b71a7a9b1ceaeccd97e70b6176aad9a4428aa5 c87ae488918de93f17dd3e4934347f44");
        for (aead, want) in [(AeadAlg::Aes128Ccm8, want8), (AeadAlg::Aes128Ccm, want16)] {
            // As a TLS 1.3 key whose IV is the nonce: record 0 uses the nonce unchanged.
            let k = RecordKey::xor_iv(aead, &key, &nonce).unwrap();
            let mut buf = plain.clone();
            k.seal_in_place(0, &aad, &mut buf).unwrap();
            assert_eq!(buf, want, "{aead:?}");
            let opened = k.open_in_place(0, &aad, &mut buf).unwrap();
            assert_eq!(opened, &plain[..]);
            let mut bad = want.clone();
            *bad.last_mut().unwrap() ^= 1;
            assert_eq!(k.open_in_place(0, &aad, &mut bad), Err(Error::DecryptFailed));
        }
    }

    #[test]
    fn tls13_nonce_is_iv_xor_seq() {
        assert_eq!(
            xor_seq(&[0xff; 12], 1),
            [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]
        );
        assert_eq!(xor_seq(&[0; 12], 0x0102), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2]);
    }
}
