//! QUIC packet protection from TLS secrets (RFC 9001 5): packet keys and IVs from the
//! `"quic key"` / `"quic iv"` labels, header protection keys from `"quic hp"`, the key update
//! step `"quic ku"` (6.1), and the version 1 Initial secrets from the client's Destination
//! Connection ID (5.2). The QUIC stack owns packets; this module only seals, opens and masks.

use ring::aead::quic as hp;

use super::aead::RecordKey;
use super::hash::HashAlg;
use super::hkdf::{hkdf_extract, Prk};
use super::secret::Secret;
use super::suites::{AeadAlg, Tls13Suite};
use crate::codec::CipherSuite;
use crate::Error;

/// RFC 9001 5.2: `initial_salt` for QUIC version 1.
pub const INITIAL_SALT_V1: [u8; 20] = [
    0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc,
    0xbb, 0x7f, 0x0a,
];

/// RFC 9001 5.4.2: header protection samples 16 bytes of ciphertext.
pub const SAMPLE_LEN: usize = 16;

/// RFC 9001 5.2: Initial packets use AEAD_AES_128_GCM with SHA-256 (TLS_AES_128_GCM_SHA256).
pub fn initial_suite() -> &'static Tls13Suite {
    match super::suites::tls13_suite(CipherSuite::TLS_AES_128_GCM_SHA256) {
        Some(s) => s,
        None => unreachable!("TLS_AES_128_GCM_SHA256 is always built in"),
    }
}

/// RFC 9001 5.2: `initial_secret = HKDF-Extract(initial_salt, client_dst_connection_id)`.
pub fn initial_secret(client_dcid: &[u8]) -> Secret {
    hkdf_extract(HashAlg::Sha256, &INITIAL_SALT_V1, client_dcid)
}

/// RFC 9001 5.2: (client_initial_secret, server_initial_secret), each
/// `HKDF-Expand-Label(initial_secret, "client in" / "server in", "", 32)`.
pub fn initial_secrets(client_dcid: &[u8]) -> (Secret, Secret) {
    let prk = Prk::new(HashAlg::Sha256, initial_secret(client_dcid).as_bytes());
    (
        prk.expand_label(b"client in", &[], 32),
        prk.expand_label(b"server in", &[], 32),
    )
}

/// The raw bytes RFC 9001 5.1 derives from one secret: (key, iv, hp). Exposed for test
/// vectors and for stacks that bring their own AEAD; [`PacketKey`] and
/// [`HeaderProtectionKey`] are the ready-made forms.
pub fn packet_key_material(suite: &Tls13Suite, secret: &[u8]) -> (Secret, Secret, Secret) {
    let prk = Prk::new(suite.hash, secret);
    (
        prk.expand_label(b"quic key", &[], suite.aead.key_len()),
        prk.expand_label(b"quic iv", &[], AeadAlg::NONCE_LEN),
        prk.expand_label(b"quic hp", &[], suite.aead.key_len()),
    )
}

/// RFC 9001 6.1: the next 1-RTT secret,
/// `HKDF-Expand-Label(current, "quic ku", "", Hash.length)`.
pub fn next_secret(suite: &Tls13Suite, secret: &[u8]) -> Secret {
    Prk::new(suite.hash, secret).expand_label(b"quic ku", &[], suite.hash.output_len())
}

/// RFC 9001 5.8: the QUIC v1 Retry integrity key and nonce (fixed, public by design: the
/// tag proves the Retry came from an on-path server that saw the Initial, not secrecy).
const RETRY_KEY_V1: [u8; 16] = [
    0xbe, 0x0c, 0x69, 0x0b, 0x9f, 0x66, 0x57, 0x5a, 0x1d, 0x76, 0x6b, 0x54, 0xe3, 0x68, 0xc8, 0x4e,
];
const RETRY_NONCE_V1: [u8; 12] = [
    0x46, 0x15, 0x99, 0xd3, 0x5d, 0x63, 0x2b, 0xf2, 0x23, 0x98, 0x25, 0xbb,
];
/// Longest connection ID QUIC v1 allows (RFC 9000 17.2).
const MAX_CID_LEN: usize = 20;

/// RFC 9001 5.8: the Retry Integrity Tag, AEAD_AES_128_GCM with the fixed v1 key and nonce,
/// an empty plaintext and the Retry pseudo-packet (ODCID length, ODCID, the Retry packet
/// without its tag) as associated data.
pub fn retry_integrity_tag(original_dcid: &[u8], retry_without_tag: &[u8]) -> Result<[u8; 16], Error> {
    use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM};
    if original_dcid.len() > MAX_CID_LEN {
        return Err(Error::Crypto("connection ID longer than 20 bytes"));
    }
    let mut pseudo = Vec::with_capacity(1 + original_dcid.len() + retry_without_tag.len());
    pseudo.push(original_dcid.len() as u8);
    pseudo.extend_from_slice(original_dcid);
    pseudo.extend_from_slice(retry_without_tag);
    let key = UnboundKey::new(&AES_128_GCM, &RETRY_KEY_V1)
        .map(LessSafeKey::new)
        .map_err(|_| Error::Crypto("retry key"))?;
    let tag = key
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(RETRY_NONCE_V1),
            Aad::from(&pseudo[..]),
            &mut [],
        )
        .map_err(|_| Error::Crypto("retry tag"))?;
    let mut out = [0u8; 16];
    out.copy_from_slice(tag.as_ref());
    Ok(out)
}

/// RFC 9001 5.8: checks a received Retry packet (tag included) against the Destination
/// Connection ID of our first Initial, in constant time.
pub fn verify_retry_integrity(original_dcid: &[u8], retry_packet: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    let Some(split) = retry_packet.len().checked_sub(16) else {
        return false;
    };
    let (body, tag) = retry_packet.split_at(split);
    retry_integrity_tag(original_dcid, body).is_ok_and(|expected| bool::from(expected.ct_eq(tag)))
}

/// One direction's packet protection (RFC 9001 5.3): AEAD key and IV; the nonce is the IV
/// XOR the packet number left-padded to 12 bytes, the associated data the unprotected header.
pub struct PacketKey {
    key: RecordKey,
    suite: &'static Tls13Suite,
}

impl core::fmt::Debug for PacketKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PacketKey")
            .field("suite", &self.suite.suite)
            .finish_non_exhaustive()
    }
}

impl PacketKey {
    /// The packet key of a traffic secret ("quic key", "quic iv").
    pub fn new(suite: &'static Tls13Suite, secret: &[u8]) -> Self {
        let prk = Prk::new(suite.hash, secret);
        let key = prk.expand_label(b"quic key", &[], suite.aead.key_len());
        let iv = prk.expand_label(b"quic iv", &[], AeadAlg::NONCE_LEN);
        match RecordKey::xor_iv(suite.aead, key.as_bytes(), iv.as_bytes()) {
            Ok(key) => PacketKey { key, suite },
            Err(_) => unreachable!("key and IV lengths come from the suite"),
        }
    }

    /// The suite these keys belong to.
    pub fn suite(&self) -> &'static Tls13Suite {
        self.suite
    }

    /// Seals `payload` in place (appending the 16-byte tag), with `header` as associated data.
    pub fn encrypt_in_place(
        &self,
        packet_number: u64,
        header: &[u8],
        payload: &mut Vec<u8>,
    ) -> Result<(), Error> {
        self.key.seal_in_place(packet_number, header, payload)
    }

    /// Opens `payload` (ciphertext || tag) in place; returns the plaintext. Failure is
    /// [`Error::DecryptFailed`], which a QUIC stack treats as a packet to drop (RFC 9001 5.5).
    pub fn decrypt_in_place<'a>(
        &self,
        packet_number: u64,
        header: &[u8],
        payload: &'a mut [u8],
    ) -> Result<&'a mut [u8], Error> {
        self.key.open_in_place(packet_number, header, payload)
    }

    /// Bytes [`encrypt_in_place`](Self::encrypt_in_place) adds.
    pub fn tag_len(&self) -> usize {
        self.key.tag_len()
    }

    /// RFC 9001 6.6: packets one key may protect before a key update is due.
    pub fn confidentiality_limit(&self) -> u64 {
        match self.suite.aead {
            AeadAlg::Aes128Gcm | AeadAlg::Aes256Gcm => 1 << 23,
            // RFC 9001 6.6: the ChaCha20-Poly1305 limit exceeds 2^62 packets.
            AeadAlg::ChaCha20Poly1305 => 1 << 62,
            // RFC 9001 6.6, B.2: 2^21.5 for AEAD_AES_128_CCM (CCM_8 is not for QUIC, 5.3).
            AeadAlg::Aes128Ccm | AeadAlg::Aes128Ccm8 => 1 << 21,
        }
    }

    /// RFC 9001 6.6: forged packets tolerated across all keys of a connection.
    pub fn integrity_limit(&self) -> u64 {
        match self.suite.aead {
            AeadAlg::Aes128Gcm | AeadAlg::Aes256Gcm => 1 << 52,
            AeadAlg::ChaCha20Poly1305 => 1 << 36,
            AeadAlg::Aes128Ccm | AeadAlg::Aes128Ccm8 => 1 << 21,
        }
    }
}

/// One direction's header protection (RFC 9001 5.4): AES-ECB or ChaCha20 over a 16-byte
/// ciphertext sample gives a 5-byte mask for the first byte and the packet number.
pub struct HeaderProtectionKey {
    key: hp::HeaderProtectionKey,
}

impl core::fmt::Debug for HeaderProtectionKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("HeaderProtectionKey")
            .field("alg", self.key.algorithm())
            .finish_non_exhaustive()
    }
}

fn hp_alg(aead: AeadAlg) -> &'static hp::Algorithm {
    match aead {
        AeadAlg::Aes128Gcm | AeadAlg::Aes128Ccm | AeadAlg::Aes128Ccm8 => &hp::AES_128,
        AeadAlg::Aes256Gcm => &hp::AES_256,
        AeadAlg::ChaCha20Poly1305 => &hp::CHACHA20,
    }
}

/// RFC 9001 5.4.1: bits of the first byte the mask covers (long header: 4, short: 5).
fn first_byte_mask(first: u8) -> u8 {
    if first & 0x80 != 0 {
        0x0f
    } else {
        0x1f
    }
}

impl HeaderProtectionKey {
    /// The header protection key of a traffic secret ("quic hp").
    pub fn new(suite: &Tls13Suite, secret: &[u8]) -> Self {
        let key = Prk::new(suite.hash, secret).expand_label(b"quic hp", &[], suite.aead.key_len());
        match hp::HeaderProtectionKey::new(hp_alg(suite.aead), key.as_bytes()) {
            Ok(key) => HeaderProtectionKey { key },
            Err(_) => unreachable!("hp key length comes from the suite"),
        }
    }

    /// The 5-byte mask for a 16-byte `sample` (RFC 9001 5.4.3, 5.4.4).
    pub fn new_mask(&self, sample: &[u8]) -> Result<[u8; 5], Error> {
        if sample.len() != SAMPLE_LEN {
            return Err(Error::Crypto("header protection sample must be 16 bytes"));
        }
        self.key
            .new_mask(sample)
            .map_err(|_| Error::Crypto("header protection mask failed"))
    }

    /// Applies protection: `first` is the plain first byte, `packet_number` exactly the
    /// packet number bytes its low two bits announce (RFC 9001 5.4.1).
    pub fn encrypt_in_place(
        &self,
        sample: &[u8],
        first: &mut u8,
        packet_number: &mut [u8],
    ) -> Result<(), Error> {
        let pn_len = usize::from(*first & 0x03) + 1;
        if packet_number.len() != pn_len {
            return Err(Error::Crypto(
                "packet number length disagrees with the first byte",
            ));
        }
        let mask = self.new_mask(sample)?;
        *first ^= mask[0] & first_byte_mask(*first);
        for (b, m) in packet_number.iter_mut().zip(&mask[1..]) {
            *b ^= m;
        }
        Ok(())
    }

    /// Removes protection: `first` is the protected first byte, `packet_number` the (up to
    /// 4) bytes from the packet number offset. Unmasks the first byte, then as many packet
    /// number bytes as it announces; returns that length.
    pub fn decrypt_in_place(
        &self,
        sample: &[u8],
        first: &mut u8,
        packet_number: &mut [u8],
    ) -> Result<usize, Error> {
        let mask = self.new_mask(sample)?;
        let plain_first = *first ^ (mask[0] & first_byte_mask(*first));
        let pn_len = usize::from(plain_first & 0x03) + 1;
        let Some(pn) = packet_number.get_mut(..pn_len) else {
            return Err(Error::DecryptFailed);
        };
        *first = plain_first;
        for (b, m) in pn.iter_mut().zip(&mask[1..]) {
            *b ^= m;
        }
        Ok(pn_len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap_or(0))
            .collect()
    }

    // RFC 9001 A.1.
    #[test]
    fn initial_secrets_match_rfc9001_a1() {
        let dcid = h("8394c8f03e515708");
        assert_eq!(
            initial_secret(&dcid).as_bytes(),
            h("7db5df06e7a69e432496adedb00851923595221596ae2ae9fb8115c1e9ed0a44")
        );
        let (c, s) = initial_secrets(&dcid);
        assert_eq!(
            c.as_bytes(),
            h("c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea")
        );
        assert_eq!(
            s.as_bytes(),
            h("3c199828fd139efd216c155ad844cc81fb82fa8d7446fa7d78be803acdda951b")
        );
    }

    #[test]
    fn header_protection_round_trips_short_and_long() {
        let suite = initial_suite();
        let key = HeaderProtectionKey::new(suite, &[7u8; 32]);
        let sample = [3u8; 16];
        for first0 in [0xc3u8, 0x41] {
            let (mut first, mut pn) = (first0, [1u8, 2, 3, 4]);
            let len = usize::from(first0 & 3) + 1;
            key.encrypt_in_place(&sample, &mut first, &mut pn[..len]).unwrap();
            let n = key.decrypt_in_place(&sample, &mut first, &mut pn).unwrap();
            assert_eq!((first, n, &pn[..n]), (first0, len, &[1u8, 2, 3, 4][..len]));
        }
        assert!(key.new_mask(&[0u8; 15]).is_err());
    }
}
