//! HKDF (RFC 5869) and the TLS 1.3 `HKDF-Expand-Label` / `Derive-Secret` (RFC 8446 7.1).

use ring::hmac;
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

/// A pseudorandom key (RFC 5869 2.2) set up for `HKDF-Expand`: the HMAC key schedule (the
/// two padded-key compressions) runs once here, and every label expanded from the same
/// secret ("key", "iv", "finished"; a key-schedule stage's traffic secrets) reuses it.
///
/// The HMAC state lives inside ring's `hmac::Key`, which does not zeroize on drop (nor did
/// the per-call keys this replaces); the secret bytes it was built from stay in [`Secret`].
#[derive(Clone)]
pub struct Prk {
    alg: HashAlg,
    /// The `HKDF-Expand-Label` prefix [`expand_label`](Self::expand_label) uses: `"tls13 "`,
    /// or `"dtls13"` for secrets of a DTLS 1.3 connection (RFC 9147 5.9).
    prefix: &'static [u8],
    /// Boxed: the two hash states are a few hundred bytes, and handshake states hold Prks.
    key: Box<hmac::Key>,
}

impl core::fmt::Debug for Prk {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Prk")
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl Prk {
    /// The PRK of `secret` (a traffic secret, a stage secret, any HKDF-Expand input).
    pub fn new(alg: HashAlg, secret: &[u8]) -> Self {
        Self::with_prefix(alg, TLS13_LABEL_PREFIX, secret)
    }

    /// [`new`](Self::new) whose labels take `prefix` (`"dtls13"` on DTLS 1.3).
    pub fn with_prefix(alg: HashAlg, prefix: &'static [u8], secret: &[u8]) -> Self {
        Prk {
            alg,
            prefix,
            key: Box::new(hmac::Key::new(alg.hmac_alg(), secret)),
        }
    }

    /// `HKDF-Extract(salt, IKM)` straight into a PRK, for secrets only ever expanded from.
    pub fn extract(alg: HashAlg, salt: &[u8], ikm: &[u8]) -> Self {
        Self::extract_with_prefix(alg, TLS13_LABEL_PREFIX, salt, ikm)
    }

    /// [`extract`](Self::extract) whose labels take `prefix`.
    pub fn extract_with_prefix(alg: HashAlg, prefix: &'static [u8], salt: &[u8], ikm: &[u8]) -> Self {
        // The PRK is only an HMAC key from here on: it goes from the tag into the key with no
        // heap copy in between.
        Self::extract_with_salt_key(alg, prefix, &alg.hmac_key(salt), ikm)
    }

    /// [`extract_with_prefix`](Self::extract_with_prefix) with the salt already an HMAC key
    /// (a constant salt's, set up once and kept).
    pub(crate) fn extract_with_salt_key(
        alg: HashAlg,
        prefix: &'static [u8],
        salt: &hmac::Key,
        ikm: &[u8],
    ) -> Self {
        let tag = hmac::sign(salt, ikm);
        Prk::with_prefix(alg, prefix, tag.as_ref())
    }

    /// The hash behind this secret's HMAC.
    pub fn alg(&self) -> HashAlg {
        self.alg
    }

    /// The label prefix of this secret's protocol.
    pub fn prefix(&self) -> &'static [u8] {
        self.prefix
    }

    /// `HKDF-Expand(PRK, info, L)` (RFC 5869 2.3), with `info` given in pieces.
    ///
    /// # Panics
    /// If `len > 255 * Hash.length` (RFC 5869 2.3); every caller in the crate asks for less.
    pub fn expand(&self, info: &[&[u8]], len: usize) -> Secret {
        let mut out = vec![0u8; len];
        self.expand_into(info, &mut out);
        Secret::new(out)
    }

    /// [`expand`](Self::expand) filling `out` (L = `out.len()`): record keys and IVs go
    /// straight into their fixed-size homes, with no allocation.
    ///
    /// # Panics
    /// If `out.len() > 255 * Hash.length` (RFC 5869 2.3).
    pub fn expand_into(&self, info: &[&[u8]], out: &mut [u8]) {
        let hash_len = self.alg.output_len();
        assert!(out.len() <= 255 * hash_len, "HKDF-Expand: output too long");
        // T(0) is empty; T(i) = HMAC-Hash(PRK, T(i-1) | info | i).
        let mut t = Zeroizing::new([0u8; 64]);
        let mut t_len = 0;
        let mut counter = 1u8;
        for chunk in out.chunks_mut(hash_len) {
            let mut ctx = hmac::Context::with_key(&self.key);
            ctx.update(&t[..t_len]);
            for part in info {
                ctx.update(part);
            }
            ctx.update(&[counter]);
            let block = ctx.sign();
            t[..hash_len].copy_from_slice(block.as_ref());
            t_len = hash_len;
            chunk.copy_from_slice(&t[..chunk.len()]);
            counter = counter.wrapping_add(1);
        }
    }

    /// `HKDF-Expand-Label` with an explicit prefix (`"tls13 "` or DTLS 1.3's `"dtls13"`).
    ///
    /// # Panics
    /// If `prefix || label` or `context` exceed 255 bytes, or `len` exceeds `u16` or
    /// `255 * Hash.length`: these are the callers' constants, never peer data.
    pub fn expand_label_with_prefix(
        &self,
        prefix: &[u8],
        label: &[u8],
        context: &[u8],
        len: usize,
    ) -> Secret {
        let mut out = vec![0u8; len];
        self.expand_label_into_with_prefix(prefix, label, context, &mut out);
        Secret::new(out)
    }

    /// [`expand_label_with_prefix`](Self::expand_label_with_prefix) filling `out` (Length =
    /// `out.len()`), with no allocation.
    ///
    /// # Panics
    /// As `expand_label_with_prefix`.
    pub fn expand_label_into_with_prefix(&self, prefix: &[u8], label: &[u8], context: &[u8], out: &mut [u8]) {
        // struct { uint16 length; opaque label<7..255>; opaque context<0..255>; } HkdfLabel;
        let full_label_len = prefix.len() + label.len();
        assert!(
            full_label_len <= 255 && context.len() <= 255,
            "HKDF-Expand-Label: label or context too long"
        );
        let out_len = u16::try_from(out.len()).unwrap_or(u16::MAX);
        assert!(
            usize::from(out_len) == out.len(),
            "HKDF-Expand-Label: length exceeds u16"
        );
        let len_bytes = out_len.to_be_bytes();
        let label_len = [full_label_len as u8];
        let ctx_len = [context.len() as u8];
        self.expand_into(&[&len_bytes, &label_len, prefix, label, &ctx_len, context], out);
    }

    /// [`expand_label`](Self::expand_label) filling `out`, with no allocation.
    pub fn expand_label_into(&self, label: &[u8], context: &[u8], out: &mut [u8]) {
        self.expand_label_into_with_prefix(self.prefix, label, context, out);
    }

    /// `HKDF-Expand-Label(Secret, Label, Context, Length)` (RFC 8446 7.1); `label` without
    /// the prefix, which is this secret's (`"tls13 "` unless built with another).
    pub fn expand_label(&self, label: &[u8], context: &[u8], len: usize) -> Secret {
        self.expand_label_with_prefix(self.prefix, label, context, len)
    }

    /// `Derive-Secret(Secret, Label, Messages)` (RFC 8446 7.1), given the transcript hash.
    pub fn derive_secret(&self, label: &[u8], transcript_hash: &[u8]) -> Secret {
        self.expand_label(label, transcript_hash, self.alg.output_len())
    }
}

/// `HKDF-Expand(PRK, info, L)` (RFC 5869 2.3), with `info` given in pieces. For several
/// expansions from one PRK, build a [`Prk`] once instead.
///
/// # Panics
/// If `len > 255 * Hash.length` (RFC 5869 2.3); every caller in the crate asks for less.
pub fn hkdf_expand(alg: HashAlg, prk: &[u8], info: &[&[u8]], len: usize) -> Secret {
    Prk::new(alg, prk).expand(info, len)
}

/// `HKDF-Expand-Label` with an explicit prefix (`"tls13 "` or DTLS 1.3's `"dtls13"`).
///
/// # Panics
/// See [`Prk::expand_label_with_prefix`].
pub fn hkdf_expand_label_with_prefix(
    alg: HashAlg,
    prefix: &[u8],
    secret: &[u8],
    label: &[u8],
    context: &[u8],
    len: usize,
) -> Secret {
    Prk::new(alg, secret).expand_label_with_prefix(prefix, label, context, len)
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

    /// HKDF-Expand as RFC 5869 2.3 writes it, with a fresh HMAC key per block (the
    /// derivation `Prk` replaced).
    fn expand_reference(alg: HashAlg, prk: &[u8], info: &[u8], len: usize) -> Vec<u8> {
        let (mut out, mut t) = (Vec::new(), Vec::new());
        let mut counter = 1u8;
        while out.len() < len {
            let mut msg = t.clone();
            msg.extend_from_slice(info);
            msg.push(counter);
            t = alg.hmac(prk, &msg);
            out.extend_from_slice(&t);
            counter += 1;
        }
        out.truncate(len);
        out
    }

    #[test]
    fn prk_reuse_matches_fresh_keys() {
        for alg in [HashAlg::Sha256, HashAlg::Sha384] {
            let secret = vec![0x5a; alg.output_len()];
            let prk = Prk::new(alg, &secret);
            // Several labels and lengths (multi-block too) from one Prk, twice over: the
            // shared HMAC key is never consumed or changed by an expansion.
            for _ in 0..2 {
                for (label, len) in [
                    (&b"key"[..], 16),
                    (b"iv", 12),
                    (b"finished", alg.output_len()),
                    (b"x", 200),
                ] {
                    let got = prk.expand_label(label, b"ctx", len);
                    let mut info = vec![0, len as u8, 6 + label.len() as u8];
                    info.extend_from_slice(b"tls13 ");
                    info.extend_from_slice(label);
                    info.extend_from_slice(&[3, b'c', b't', b'x']);
                    assert_eq!(got.as_bytes(), expand_reference(alg, &secret, &info, len));
                    assert!(got.ct_eq(hkdf_expand_label(alg, &secret, label, b"ctx", len).as_bytes()));
                }
            }
            assert!(prk
                .derive_secret(b"derived", alg.empty_hash())
                .ct_eq(derive_secret(alg, &secret, b"derived", &alg.hash(b"")).as_bytes()));
            // Extract straight into a Prk = the Prk of the extracted secret.
            let extracted = hkdf_extract(alg, b"salt", b"ikm");
            assert!(Prk::extract(alg, b"salt", b"ikm")
                .expand(&[b"info"], 100)
                .ct_eq(hkdf_expand(alg, extracted.as_bytes(), &[b"info"], 100).as_bytes()));
            assert_eq!(format!("{prk:?}"), format!("Prk {{ alg: {alg:?}, .. }}"));
        }
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
