//! HKDF (RFC 5869) and the TLS 1.3 `HKDF-Expand-Label` / `Derive-Secret` (RFC 8446 7.1).

use zeroize::Zeroizing;

use super::hash::HashAlg;
use super::secret::Secret;

/// The TLS 1.3 label prefix (RFC 8446 7.1).
pub const TLS13_LABEL_PREFIX: &[u8] = b"tls13 ";
/// The DTLS 1.3 label prefix (RFC 9147 5.9).
pub const DTLS13_LABEL_PREFIX: &[u8] = b"dtls13";

/// `HKDF-Extract(salt, IKM)` = HMAC-Hash(salt, IKM) (RFC 5869 2.2). An empty salt acts as
/// `Hash.length` zero bytes, since HMAC pads the key with zeros.
pub fn hkdf_extract(alg: HashAlg, salt: &[u8], ikm: &[u8]) -> Secret {
    Secret::new(alg.hmac(salt, ikm))
}

/// `HKDF-Expand(PRK, info, L)` (RFC 5869 2.3), with `info` given in pieces.
///
/// # Panics
/// If `len > 255 * Hash.length` (RFC 5869 2.3); every caller in the crate asks for less.
pub fn hkdf_expand(alg: HashAlg, prk: &[u8], info: &[&[u8]], len: usize) -> Secret {
    let hash_len = alg.output_len();
    assert!(len <= 255 * hash_len, "HKDF-Expand: output too long");
    let mut out = Vec::with_capacity(len);
    let mut t: Zeroizing<Vec<u8>> = Zeroizing::new(Vec::new());
    let mut counter = 1u8;
    while out.len() < len {
        let mut parts: Vec<&[u8]> = Vec::with_capacity(info.len() + 2);
        parts.push(&t);
        parts.extend_from_slice(info);
        let ctr = [counter];
        parts.push(&ctr);
        let block = alg.hmac_parts(prk, &parts);
        t = Zeroizing::new(block.as_ref().to_vec());
        let take = (len - out.len()).min(hash_len);
        out.extend_from_slice(&t[..take]);
        counter = counter.wrapping_add(1);
    }
    Secret::new(out)
}

/// `HKDF-Expand-Label` with an explicit prefix (`"tls13 "` or DTLS 1.3's `"dtls13"`).
///
/// # Panics
/// If `prefix || label` or `context` exceed 255 bytes, or `len` exceeds `u16` or
/// `255 * Hash.length`: these are the callers' constants, never peer data.
pub fn hkdf_expand_label_with_prefix(
    alg: HashAlg,
    prefix: &[u8],
    secret: &[u8],
    label: &[u8],
    context: &[u8],
    len: usize,
) -> Secret {
    // struct { uint16 length; opaque label<7..255>; opaque context<0..255>; } HkdfLabel;
    let full_label_len = prefix.len() + label.len();
    assert!(
        full_label_len <= 255 && context.len() <= 255,
        "HKDF-Expand-Label: label or context too long"
    );
    let out_len = u16::try_from(len).unwrap_or(u16::MAX);
    assert!(
        usize::from(out_len) == len,
        "HKDF-Expand-Label: length exceeds u16"
    );
    let len_bytes = out_len.to_be_bytes();
    let label_len = [full_label_len as u8];
    let ctx_len = [context.len() as u8];
    hkdf_expand(
        alg,
        secret,
        &[&len_bytes, &label_len, prefix, label, &ctx_len, context],
        len,
    )
}

/// `HKDF-Expand-Label(Secret, Label, Context, Length)` (RFC 8446 7.1); `label` is given
/// without the `"tls13 "` prefix.
pub fn hkdf_expand_label(alg: HashAlg, secret: &[u8], label: &[u8], context: &[u8], len: usize) -> Secret {
    hkdf_expand_label_with_prefix(alg, TLS13_LABEL_PREFIX, secret, label, context, len)
}

/// `Derive-Secret(Secret, Label, Messages)` = HKDF-Expand-Label(Secret, Label,
/// Transcript-Hash(Messages), Hash.length) (RFC 8446 7.1), given the transcript hash.
pub fn derive_secret(alg: HashAlg, secret: &[u8], label: &[u8], transcript_hash: &[u8]) -> Secret {
    hkdf_expand_label(alg, secret, label, transcript_hash, alg.output_len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    #[test]
    fn rfc5869_case1() {
        let prk = hkdf_extract(HashAlg::Sha256, &h("000102030405060708090a0b0c"), &[0x0b; 22]);
        assert_eq!(
            hex::encode(prk.as_bytes()),
            "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5"
        );
        let okm = hkdf_expand(HashAlg::Sha256, prk.as_bytes(), &[&h("f0f1f2f3f4f5f6f7f8f9")], 42);
        assert_eq!(
            hex::encode(okm.as_bytes()),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
        );
    }

    #[test]
    fn rfc5869_case3_empty_salt_and_info() {
        let prk = hkdf_extract(HashAlg::Sha256, &[], &[0x0b; 22]);
        assert_eq!(
            hex::encode(prk.as_bytes()),
            "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04"
        );
        let okm = hkdf_expand(HashAlg::Sha256, prk.as_bytes(), &[], 42);
        assert_eq!(
            hex::encode(okm.as_bytes()),
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"
        );
        // An empty salt is the same as Hash.length zero bytes.
        assert!(prk.ct_eq(hkdf_extract(HashAlg::Sha256, &[0; 32], &[0x0b; 22]).as_bytes()));
    }

    #[test]
    fn expand_label_encodes_hkdf_label() {
        let secret = [7u8; 48];
        let got = hkdf_expand_label(HashAlg::Sha384, &secret, b"key", b"ctx", 32);
        let mut info = vec![0, 32, 9];
        info.extend_from_slice(b"tls13 key");
        info.push(3);
        info.extend_from_slice(b"ctx");
        assert!(got.ct_eq(hkdf_expand(HashAlg::Sha384, &secret, &[&info], 32).as_bytes()));
        let dtls =
            hkdf_expand_label_with_prefix(HashAlg::Sha384, DTLS13_LABEL_PREFIX, &secret, b"key", b"ctx", 32);
        assert!(!dtls.ct_eq(got.as_bytes()));
    }
}
