//! Signature algorithms and public keys, matched by their exact DER encodings and verified
//! with `ring`. SHA-1, MD5, DSA and small curves are refused.

use ring::signature::{self as rs, VerificationAlgorithm};

use super::der::{self, Der};
use super::CertError;

/// What kind of key a SubjectPublicKeyInfo holds. Only keys we can verify with are
/// accepted anywhere in a path, including the end entity (the handshake must use it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyKind {
    Rsa,
    /// An id-RSASSA-PSS key (RFC 4055 1.2): PSS signatures only, with the hash its
    /// parameters name (`None`: any).
    RsaPss(Option<Hash>),
    P256,
    P384,
    Ed25519,
}

/// The parsed parts of a SubjectPublicKeyInfo.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PublicKey<'a> {
    pub kind: KeyKind,
    /// The BIT STRING content in the form `ring` takes.
    pub key: &'a [u8],
}

// AlgorithmIdentifier contents (inside the SEQUENCE).
const RSA_ENCRYPTION: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
];
const EC_P256: &[u8] = &[
    0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03,
    0x01, 0x07,
];
const EC_P384: &[u8] = &[
    0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22,
];
const ED25519: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];

const RSA_PKCS1_SHA256: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00,
];
const RSA_PKCS1_SHA384: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c, 0x05, 0x00,
];
const RSA_PKCS1_SHA512: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d, 0x05, 0x00,
];
const RSA_PSS_OID: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a];
const MGF1_OID: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08];
const SHA256_OID: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
const SHA384_OID: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02];
const SHA512_OID: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03];
const ECDSA_SHA256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
const ECDSA_SHA384: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03];

/// RSA modulus sizes we accept, in bits (CA/B Forum BR 6.1.5: at least 2048, a multiple of 8).
pub const MIN_RSA_BITS: usize = 2048;
/// Largest RSA modulus we verify with (ring's limit; bounds the work per signature).
pub const MAX_RSA_BITS: usize = 8192;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SigAlg {
    RsaPkcs1(Hash),
    RsaPss(Hash),
    Ecdsa(Hash),
    Ed25519,
}

/// Parses a SubjectPublicKeyInfo (the whole SEQUENCE) into a key we can use.
pub(crate) fn parse_spki(spki: &[u8]) -> Result<PublicKey<'_>, CertError> {
    let outer = der::single(spki, der::SEQUENCE).ok_or(CertError::BadEncoding)?;
    let mut d = Der::new(outer.value);
    let alg = d.expect(der::SEQUENCE).ok_or(CertError::BadEncoding)?;
    let bits = d.expect(der::BIT_STRING).ok_or(CertError::BadEncoding)?;
    if !d.is_empty() {
        return Err(CertError::BadEncoding);
    }
    let key = der::bit_string_bytes(&bits).ok_or(CertError::BadEncoding)?;
    let kind = match alg.value {
        RSA_ENCRYPTION => KeyKind::Rsa,
        EC_P256 => KeyKind::P256,
        EC_P384 => KeyKind::P384,
        ED25519 => KeyKind::Ed25519,
        _ => KeyKind::RsaPss(rsa_pss_key_params(alg.value)?),
    };
    let ok = match kind {
        KeyKind::Rsa | KeyKind::RsaPss(_) => rsa_key_ok(key)?,
        // Uncompressed points only (RFC 5480 2.2).
        KeyKind::P256 => key.len() == 65 && key.first() == Some(&4),
        KeyKind::P384 => key.len() == 97 && key.first() == Some(&4),
        KeyKind::Ed25519 => key.len() == 32,
    };
    if !ok {
        return Err(CertError::WeakOrInvalidKey);
    }
    Ok(PublicKey { kind, key })
}

fn rsa_key_ok(key: &[u8]) -> Result<bool, CertError> {
    let seq = der::single(key, der::SEQUENCE).ok_or(CertError::BadEncoding)?;
    let mut d = Der::new(seq.value);
    let n = d.expect(der::INTEGER).ok_or(CertError::BadEncoding)?;
    let e = d.expect(der::INTEGER).ok_or(CertError::BadEncoding)?;
    if !d.is_empty() {
        return Err(CertError::BadEncoding);
    }
    let n = der::positive_integer(n.value).ok_or(CertError::BadEncoding)?;
    der::positive_integer(e.value).ok_or(CertError::BadEncoding)?;
    let top = n.first().copied().unwrap_or(0);
    let bits = n.len().saturating_sub(1) * 8 + (8 - top.leading_zeros() as usize);
    Ok((MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) && bits % 8 == 0)
}

/// Maps the content of a signature AlgorithmIdentifier to an algorithm we support.
fn parse_sig_alg(alg: &[u8]) -> Result<SigAlg, CertError> {
    Ok(match alg {
        RSA_PKCS1_SHA256 => SigAlg::RsaPkcs1(Hash::Sha256),
        RSA_PKCS1_SHA384 => SigAlg::RsaPkcs1(Hash::Sha384),
        RSA_PKCS1_SHA512 => SigAlg::RsaPkcs1(Hash::Sha512),
        ECDSA_SHA256 => SigAlg::Ecdsa(Hash::Sha256),
        ECDSA_SHA384 => SigAlg::Ecdsa(Hash::Sha384),
        ED25519 => SigAlg::Ed25519,
        _ => SigAlg::RsaPss(parse_pss(alg)?),
    })
}

/// The content of an id-RSASSA-PSS key's AlgorithmIdentifier (in a SubjectPublicKeyInfo or
/// a PKCS#8 PrivateKeyInfo): the hash the parameters restrict the key to, or `None` when
/// they are absent (RFC 4055 1.2: any hash). Any other algorithm is unsupported.
pub(crate) fn rsa_pss_key_params(alg: &[u8]) -> Result<Option<Hash>, CertError> {
    let mut d = Der::new(alg);
    let oid = d.expect(der::OID).ok_or(CertError::BadEncoding)?;
    if oid.value != RSA_PSS_OID {
        return Err(CertError::UnsupportedAlgorithm);
    }
    if d.is_empty() {
        return Ok(None);
    }
    parse_pss(alg).map(Some)
}

/// RSASSA-PSS parameters (RFC 4055 3.1): hash, MGF1 with the same hash, salt length equal
/// to the hash length and the default trailer; anything else is refused.
fn parse_pss(alg: &[u8]) -> Result<Hash, CertError> {
    let unsupported = CertError::UnsupportedAlgorithm;
    let mut d = Der::new(alg);
    let oid = d.expect(der::OID).ok_or(CertError::BadEncoding)?;
    if oid.value != RSA_PSS_OID {
        return Err(unsupported);
    }
    let params = d.expect(der::SEQUENCE).ok_or(CertError::BadEncoding)?;
    if !d.is_empty() {
        return Err(CertError::BadEncoding);
    }
    let mut p = Der::new(params.value);
    let hash_alg = p.expect(0xa0).ok_or(unsupported.clone())?;
    let hash = hash_from_alg_id(hash_alg.value)?;
    let mgf = p.expect(0xa1).ok_or(unsupported.clone())?;
    let mgf = der::single(mgf.value, der::SEQUENCE).ok_or(CertError::BadEncoding)?;
    let mut m = Der::new(mgf.value);
    let mgf_oid = m.expect(der::OID).ok_or(CertError::BadEncoding)?;
    if mgf_oid.value != MGF1_OID || hash_from_alg_id(m.read().ok_or(CertError::BadEncoding)?.raw)? != hash {
        return Err(unsupported);
    }
    let salt = p.expect(0xa2).ok_or(unsupported.clone())?;
    let salt = der::single(salt.value, der::INTEGER).ok_or(CertError::BadEncoding)?;
    let want: u8 = match hash {
        Hash::Sha256 => 32,
        Hash::Sha384 => 48,
        Hash::Sha512 => 64,
    };
    if salt.value != [want] {
        return Err(unsupported);
    }
    if let Some(trailer) = p.optional(0xa3) {
        if trailer.value != [der::INTEGER, 1, 1] {
            return Err(unsupported);
        }
    }
    if !m.is_empty() || !p.is_empty() {
        return Err(CertError::BadEncoding);
    }
    Ok(hash)
}

/// A hash AlgorithmIdentifier (whole SEQUENCE), parameters NULL or absent (RFC 5754 2).
fn hash_from_alg_id(raw: &[u8]) -> Result<Hash, CertError> {
    let seq = der::single(raw, der::SEQUENCE).ok_or(CertError::BadEncoding)?;
    let mut d = Der::new(seq.value);
    let oid = d.expect(der::OID).ok_or(CertError::BadEncoding)?;
    if let Some(null) = d.optional(der::NULL) {
        if !null.value.is_empty() {
            return Err(CertError::BadEncoding);
        }
    }
    if !d.is_empty() {
        return Err(CertError::BadEncoding);
    }
    match oid.value {
        SHA256_OID => Ok(Hash::Sha256),
        SHA384_OID => Ok(Hash::Sha384),
        SHA512_OID => Ok(Hash::Sha512),
        _ => Err(CertError::UnsupportedAlgorithm),
    }
}

/// Verifies `signature` over `message` with `key` under the algorithm `alg`
/// (the content of the signing AlgorithmIdentifier).
pub(crate) fn verify(
    key: &PublicKey<'_>,
    alg: &[u8],
    message: &[u8],
    signature: &[u8],
) -> Result<(), CertError> {
    let alg = parse_sig_alg(alg)?;
    let ring_alg: &dyn VerificationAlgorithm = match (key.kind, alg) {
        (KeyKind::Rsa, SigAlg::RsaPkcs1(Hash::Sha256)) => &rs::RSA_PKCS1_2048_8192_SHA256,
        (KeyKind::Rsa, SigAlg::RsaPkcs1(Hash::Sha384)) => &rs::RSA_PKCS1_2048_8192_SHA384,
        (KeyKind::Rsa, SigAlg::RsaPkcs1(Hash::Sha512)) => &rs::RSA_PKCS1_2048_8192_SHA512,
        (KeyKind::Rsa, SigAlg::RsaPss(Hash::Sha256)) => &rs::RSA_PSS_2048_8192_SHA256,
        (KeyKind::Rsa, SigAlg::RsaPss(Hash::Sha384)) => &rs::RSA_PSS_2048_8192_SHA384,
        (KeyKind::Rsa, SigAlg::RsaPss(Hash::Sha512)) => &rs::RSA_PSS_2048_8192_SHA512,
        // RFC 4055 1.2: an RSASSA-PSS key signs PSS only, with its parameters' hash if any.
        (KeyKind::RsaPss(only), SigAlg::RsaPss(hash)) if only.is_none_or(|h| h == hash) => match hash {
            Hash::Sha256 => &rs::RSA_PSS_2048_8192_SHA256,
            Hash::Sha384 => &rs::RSA_PSS_2048_8192_SHA384,
            Hash::Sha512 => &rs::RSA_PSS_2048_8192_SHA512,
        },
        (KeyKind::P256, SigAlg::Ecdsa(Hash::Sha256)) => &rs::ECDSA_P256_SHA256_ASN1,
        (KeyKind::P256, SigAlg::Ecdsa(Hash::Sha384)) => &rs::ECDSA_P256_SHA384_ASN1,
        (KeyKind::P384, SigAlg::Ecdsa(Hash::Sha256)) => &rs::ECDSA_P384_SHA256_ASN1,
        (KeyKind::P384, SigAlg::Ecdsa(Hash::Sha384)) => &rs::ECDSA_P384_SHA384_ASN1,
        (KeyKind::Ed25519, SigAlg::Ed25519) => &rs::ED25519,
        // The algorithm does not fit the issuer's key: it cannot have signed this.
        _ => return Err(CertError::BadSignature),
    };
    rs::UnparsedPublicKey::new(ring_alg, key.key)
        .verify(message, signature)
        .map_err(|_| CertError::BadSignature)
}
