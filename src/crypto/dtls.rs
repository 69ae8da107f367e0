//! DTLS cryptography: the DTLS 1.3 key derivations with the `"dtls13"` label prefix
//! (RFC 9147 5.9), record-number encryption keys (RFC 9147 4.2.3) and the cookie MAC used by
//! `dtls::cookie`.

use ring::aead::quic;
use ring::hmac;

use super::aead::RecordKey;
use super::hash::HashAlg;
use super::hkdf::{hkdf_expand_label_with_prefix, Prk, DTLS13_LABEL_PREFIX};
use super::secret::Secret;
use super::suites::AeadAlg;
use crate::Error;

/// Length of the ciphertext sample the record-number mask is computed over (RFC 9147 4.2.3).
pub const SN_SAMPLE_LEN: usize = 16;
/// Mask bytes we expose: DTLS 1.3 sequence numbers on the wire are at most 16 bits, so only
/// the two leading bytes of the 16-byte mask are ever used (RFC 9147 4.2.3).
pub const SN_MASK_LEN: usize = 2;

/// `HKDF-Expand-Label` with the DTLS 1.3 prefix (RFC 9147 5.9).
pub fn dtls13_expand_label(alg: HashAlg, secret: &[u8], label: &[u8], context: &[u8], len: usize) -> Secret {
    hkdf_expand_label_with_prefix(alg, DTLS13_LABEL_PREFIX, secret, label, context, len)
}

/// `Derive-Secret` with the DTLS 1.3 prefix, given the transcript hash (RFC 8446 7.1,
/// RFC 9147 5.9).
pub fn dtls13_derive_secret(alg: HashAlg, secret: &[u8], label: &[u8], transcript_hash: &[u8]) -> Secret {
    dtls13_expand_label(alg, secret, label, transcript_hash, alg.output_len())
}

/// DTLS 1.3 record protection key for one direction and epoch: key =
/// HKDF-Expand-Label(secret, "key", "", key_len), iv = HKDF-Expand-Label(secret, "iv", "", 12),
/// both with the `"dtls13"` prefix; nonce = iv XOR the 64-bit record sequence number (the
/// epoch is not part of the nonce; RFC 9147 4, 5.9).
pub fn dtls13_record_key(aead: AeadAlg, hash: HashAlg, traffic_secret: &[u8]) -> RecordKey {
    // One PRK for both labels (one HMAC key setup).
    let prk = Prk::new(hash, traffic_secret);
    let key = prk.expand_label_with_prefix(DTLS13_LABEL_PREFIX, b"key", &[], aead.key_len());
    let iv = prk.expand_label_with_prefix(DTLS13_LABEL_PREFIX, b"iv", &[], AeadAlg::NONCE_LEN);
    match RecordKey::xor_iv(aead, key.as_bytes(), iv.as_bytes()) {
        Ok(k) => k,
        // Both lengths come from `aead` itself.
        Err(_) => unreachable!("key and IV lengths match the algorithm"),
    }
}

/// The record-number encryption key of one direction and epoch (RFC 9147 4.2.3):
/// `sn_key = HKDF-Expand-Label(Secret, "sn", "", key_length)` with the `"dtls13"` prefix.
/// The mask is AES-ECB(sn_key, sample) for the AES suites and the ChaCha20 block function
/// with the sample's first 4 bytes as the (little-endian) block counter and the next 12 as
/// the nonce for ChaCha20-Poly1305, the same construction as QUIC header protection.
pub struct SequenceNumberKey {
    key: quic::HeaderProtectionKey,
}

impl core::fmt::Debug for SequenceNumberKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SequenceNumberKey")
            .field("alg", self.key.algorithm())
            .finish_non_exhaustive()
    }
}

fn sn_alg(aead: AeadAlg) -> &'static quic::Algorithm {
    match aead {
        // RFC 9147 4.2.3: the AES suites, GCM and CCM alike, mask with AES-ECB.
        AeadAlg::Aes128Gcm | AeadAlg::Aes128Ccm | AeadAlg::Aes128Ccm8 => &quic::AES_128,
        AeadAlg::Aes256Gcm => &quic::AES_256,
        AeadAlg::ChaCha20Poly1305 => &quic::CHACHA20,
    }
}

impl SequenceNumberKey {
    /// Derives the sn_key from a DTLS 1.3 traffic secret.
    pub fn new(aead: AeadAlg, hash: HashAlg, traffic_secret: &[u8]) -> Self {
        let key = dtls13_expand_label(hash, traffic_secret, b"sn", &[], aead.key_len());
        match Self::from_key(aead, key.as_bytes()) {
            Ok(k) => k,
            Err(_) => unreachable!("sn_key length matches the algorithm"),
        }
    }

    /// Builds the key from raw sn_key bytes (`aead.key_len()` of them).
    pub fn from_key(aead: AeadAlg, key: &[u8]) -> Result<Self, Error> {
        quic::HeaderProtectionKey::new(sn_alg(aead), key)
            .map(|key| SequenceNumberKey { key })
            .map_err(|_| Error::Crypto("bad sn_key length"))
    }

    /// The leading [`SN_MASK_LEN`] bytes of the mask over the first 16 ciphertext bytes.
    pub fn mask(&self, sample: &[u8; SN_SAMPLE_LEN]) -> [u8; SN_MASK_LEN] {
        match self.key.new_mask(sample) {
            Ok(m) => [m[0], m[1]],
            // The sample has the one length ring accepts.
            Err(_) => unreachable!("sample is 16 bytes"),
        }
    }
}

/// Length of a [`cookie_mac`] tag.
pub const COOKIE_MAC_LEN: usize = 32;

/// HMAC-SHA256(key, parts...) for stateless cookies (RFC 6347 4.2.1, RFC 9147 5.1).
pub fn cookie_mac(key: &[u8], parts: &[&[u8]]) -> [u8; COOKIE_MAC_LEN] {
    let mut ctx = hmac::Context::with_key(&hmac::Key::new(hmac::HMAC_SHA256, key));
    for p in parts {
        ctx.update(p);
    }
    let tag = ctx.sign();
    let mut out = [0u8; COOKIE_MAC_LEN];
    out.copy_from_slice(tag.as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    #[test]
    fn chacha_mask_matches_quic_construction() {
        // RFC 9001 A.5: the same ChaCha20 block over (counter = sample[0..4] LE, nonce =
        // sample[4..16]) that RFC 9147 4.2.3 specifies.
        let k = SequenceNumberKey::from_key(
            AeadAlg::ChaCha20Poly1305,
            &h("25a282b9e82f06f21f488917a4fc8f1b73573685608597d0efcb076b0ab7a7a4"),
        )
        .unwrap();
        let sample: [u8; 16] = h("5e5cd55c41f69080575d7999c25a5bfb").try_into().unwrap();
        assert_eq!(k.mask(&sample), [0xae, 0xfe]);
    }

    #[test]
    fn aes_mask_is_ecb_of_sample() {
        // RFC 9001 A.2: AES-128-ECB(hp, sample) starts 437b9aec36.
        let k =
            SequenceNumberKey::from_key(AeadAlg::Aes128Gcm, &h("9f50449e04a0e810283a1e9933adedd2")).unwrap();
        let sample: [u8; 16] = h("d1b1c98dd7689fb8ec11d242b123dc9b").try_into().unwrap();
        assert_eq!(k.mask(&sample), [0x43, 0x7b]);
    }

    #[test]
    fn sn_key_uses_dtls13_prefix_and_key_length() {
        let secret = [9u8; 32];
        let sn = dtls13_expand_label(HashAlg::Sha256, &secret, b"sn", &[], 16);
        let a = SequenceNumberKey::new(AeadAlg::Aes128Gcm, HashAlg::Sha256, &secret);
        let b = SequenceNumberKey::from_key(AeadAlg::Aes128Gcm, sn.as_bytes()).unwrap();
        let s = [3u8; 16];
        assert_eq!(a.mask(&s), b.mask(&s));
        assert!(SequenceNumberKey::from_key(AeadAlg::Aes256Gcm, sn.as_bytes()).is_err());
        assert!(!format!("{a:?}").contains(&hex::encode(sn.as_bytes())));
    }

    #[test]
    fn dtls13_record_key_round_trips_and_differs_from_tls13() {
        let secret = [5u8; 32];
        let d = dtls13_record_key(AeadAlg::Aes128Gcm, HashAlg::Sha256, &secret);
        let t = RecordKey::tls13(AeadAlg::Aes128Gcm, HashAlg::Sha256, &secret);
        let mut rec = b"hello".to_vec();
        d.seal_in_place(7, b"hdr", &mut rec).unwrap();
        assert_eq!(
            t.open_in_place(7, b"hdr", &mut rec.clone()),
            Err(Error::DecryptFailed)
        );
        assert_eq!(&*d.open_in_place(7, b"hdr", &mut rec).unwrap(), b"hello");
    }

    #[test]
    fn cookie_mac_is_hmac_sha256_over_the_parts() {
        assert_eq!(
            cookie_mac(b"Jefe", &[b"what do ya want ", b"for nothing?"]).to_vec(),
            h("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        );
    }
}
