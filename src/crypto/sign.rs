//! Signing with our key and verifying the peer's signatures (RFC 8446 4.2.3, 4.4.3;
//! RFC 5246 7.4.1.4.1).

use std::path::Path;

use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::PrivateKeyDer;
use zeroize::Zeroizing;

use crate::codec::{NamedGroup, SignatureScheme};
use crate::crypto::rand::{RandomSource, SystemRandomSource};
use crate::crypto::suites::SuiteAuth;
use crate::pki::CertError;
use crate::{Error, PeerMisbehaved};

use SignatureScheme as S;

/// DER of the id-ecPublicKey OID and the two named curves we support (RFC 5480 2.1.1).
const OID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const OID_P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
/// rsaEncryption, id-RSASSA-PSS (RFC 8017 A.1, A.2.3) and id-Ed25519 (RFC 8410 3).
const OID_RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const OID_RSASSA_PSS: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a];
const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];

static P256: &[S] = &[S::ecdsa_secp256r1_sha256];
static P384: &[S] = &[S::ecdsa_secp384r1_sha384];
static ED25519: &[S] = &[S::ed25519];
static RSA_13: &[S] = &[
    S::rsa_pss_rsae_sha256,
    S::rsa_pss_rsae_sha384,
    S::rsa_pss_rsae_sha512,
];
/// An id-RSASSA-PSS key signs with rsa_pss_pss_* only, in both versions (RFC 8446 4.2.3),
/// and only with the hash its parameters name, if they name one (RFC 4055 1.2).
static RSA_PSS: &[S] = &[
    S::rsa_pss_pss_sha256,
    S::rsa_pss_pss_sha384,
    S::rsa_pss_pss_sha512,
];
static RSA_PSS_SHA256: &[S] = &[S::rsa_pss_pss_sha256];
static RSA_PSS_SHA384: &[S] = &[S::rsa_pss_pss_sha384];
static RSA_PSS_SHA512: &[S] = &[S::rsa_pss_pss_sha512];
static RSA_12: &[S] = &[
    S::rsa_pss_rsae_sha256,
    S::rsa_pss_rsae_sha384,
    S::rsa_pss_rsae_sha512,
    S::rsa_pkcs1_sha256,
    S::rsa_pkcs1_sha384,
    S::rsa_pkcs1_sha512,
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Curve {
    P256,
    P384,
}

enum Inner {
    /// ring binds the hash to the key pair: P-256 signs with SHA-256, P-384 with SHA-384.
    Ecdsa {
        curve: Curve,
        key: EcdsaKeyPair,
    },
    Ed25519(Ed25519KeyPair),
    Rsa(RsaKeyPair),
    /// An id-RSASSA-PSS key with the schemes it may sign with.
    RsaPss {
        key: RsaKeyPair,
        schemes: &'static [SignatureScheme],
    },
}

/// Our private key: ECDSA P-256/P-384, Ed25519 or RSA, rsaEncryption or RSASSA-PSS
/// (2048..=4096 bits, ring's limit for private keys).
pub struct SigningKey {
    inner: Inner,
}

impl core::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let kind = match &self.inner {
            Inner::Ecdsa {
                curve: Curve::P256, ..
            } => "ECDSA P-256",
            Inner::Ecdsa {
                curve: Curve::P384, ..
            } => "ECDSA P-384",
            Inner::Ed25519(_) => "Ed25519",
            Inner::Rsa(_) => "RSA",
            Inner::RsaPss { .. } => "RSASSA-PSS",
        };
        f.debug_struct("SigningKey")
            .field("kind", &kind)
            .finish_non_exhaustive()
    }
}

/// A DER TLV with a definite length.
fn der_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// Wraps a SEC1 ECPrivateKey in a PKCS#8 PrivateKeyInfo for `curve` (RFC 5915 3, RFC 5208 5).
fn sec1_to_pkcs8(sec1: &[u8], curve_oid: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut alg = der_tlv(0x06, OID_EC_PUBLIC_KEY);
    alg.extend(der_tlv(0x06, curve_oid));
    let mut body = Zeroizing::new(vec![0x02, 0x01, 0x00]);
    body.extend(der_tlv(0x30, &alg));
    body.extend(Zeroizing::new(der_tlv(0x04, sec1)).iter());
    Zeroizing::new(der_tlv(0x30, &body))
}

fn ecdsa_from_pkcs8(pkcs8: &[u8]) -> Option<Inner> {
    let rng = SystemRandom::new();
    let pair = |alg| EcdsaKeyPair::from_pkcs8(alg, pkcs8, &rng).ok();
    if let Some(key) = pair(&signature::ECDSA_P256_SHA256_ASN1_SIGNING) {
        return Some(Inner::Ecdsa {
            curve: Curve::P256,
            key,
        });
    }
    pair(&signature::ECDSA_P384_SHA384_ASN1_SIGNING).map(|key| Inner::Ecdsa {
        curve: Curve::P384,
        key,
    })
}

/// A PKCS#8 PrivateKeyInfo (RFC 5208 5, RFC 5958 2) whose algorithm is id-RSASSA-PSS: the
/// key, which ring's PKCS#8 parser does not take, from the RSAPrivateKey (PKCS#1) it wraps,
/// and the schemes the AlgorithmIdentifier's parameters allow. `None`: not such a key.
fn rsa_pss_from_pkcs8(pkcs8: &[u8]) -> Option<Result<Inner, Error>> {
    use crate::pki::der::{self, Der};
    let info = der::single(pkcs8, der::SEQUENCE)?;
    let mut d = Der::new(info.value);
    d.expect(der::INTEGER)?;
    let alg = d.expect(der::SEQUENCE)?;
    let is_pss = Der::new(alg.value)
        .expect(der::OID)
        .is_some_and(|oid| oid.value == OID_RSASSA_PSS);
    if !is_pss {
        return None;
    }
    let private = d.expect(der::OCTET_STRING).map(|k| k.value);
    Some(rsa_pss_key(alg.value, private))
}

/// The key from an id-RSASSA-PSS AlgorithmIdentifier's content and the RSAPrivateKey.
fn rsa_pss_key(alg: &[u8], private: Option<&[u8]>) -> Result<Inner, Error> {
    use crate::pki::sig::{rsa_pss_key_params, Hash};
    let unusable = |why: String| Error::Config(format!("unusable RSASSA-PSS private key: {why}"));
    let schemes = match rsa_pss_key_params(alg).map_err(|e| unusable(format!("parameters: {e}")))? {
        None => RSA_PSS,
        Some(Hash::Sha256) => RSA_PSS_SHA256,
        Some(Hash::Sha384) => RSA_PSS_SHA384,
        Some(Hash::Sha512) => RSA_PSS_SHA512,
    };
    let private = private.ok_or_else(|| unusable("no privateKey".into()))?;
    let key = RsaKeyPair::from_der(private).map_err(|e| unusable(e.to_string()))?;
    Ok(Inner::RsaPss { key, schemes })
}

impl SigningKey {
    /// Accepts PKCS#8 (ECDSA, Ed25519, RSA, RSASSA-PSS), SEC1 EC ("EC PRIVATE KEY", which
    /// must carry its public key) and PKCS#1 RSA.
    pub fn from_der(key: &PrivateKeyDer<'_>) -> Result<Self, Error> {
        let inner = match key {
            PrivateKeyDer::Pkcs8(k) => {
                let der = k.secret_pkcs8_der();
                if let Some(pss) = rsa_pss_from_pkcs8(der) {
                    pss?
                } else if let Some(ec) = ecdsa_from_pkcs8(der) {
                    ec
                } else if let Ok(ed) = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der) {
                    Inner::Ed25519(ed)
                } else {
                    Inner::Rsa(
                        RsaKeyPair::from_pkcs8(der)
                            .map_err(|e| Error::Config(format!("unusable PKCS#8 private key: {e}")))?,
                    )
                }
            }
            PrivateKeyDer::Sec1(k) => {
                let der = k.secret_sec1_der();
                ecdsa_from_pkcs8(&sec1_to_pkcs8(der, OID_P256))
                    .or_else(|| ecdsa_from_pkcs8(&sec1_to_pkcs8(der, OID_P384)))
                    .ok_or_else(|| Error::Config("unusable SEC1 EC private key".into()))?
            }
            PrivateKeyDer::Pkcs1(k) => Inner::Rsa(
                RsaKeyPair::from_der(k.secret_pkcs1_der())
                    .map_err(|e| Error::Config(format!("unusable PKCS#1 RSA private key: {e}")))?,
            ),
            _ => return Err(Error::Config("unsupported private key format".into())),
        };
        Ok(SigningKey { inner })
    }

    /// Reads the first private key (PKCS#8, SEC1 or PKCS#1) from a PEM file.
    pub fn from_pem_file(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let der = PrivateKeyDer::from_pem_file(path)
            .map_err(|e| Error::Config(format!("{}: no private key read: {e}", path.display())))?;
        Self::from_der(&der)
    }

    /// Reads the first private key from PEM text.
    pub fn from_pem(pem: &[u8]) -> Result<Self, Error> {
        let der = PrivateKeyDer::from_pem_slice(pem)
            .map_err(|e| Error::Config(format!("no private key read: {e}")))?;
        Self::from_der(&der)
    }

    /// Schemes usable in TLS 1.3 with this key (RFC 8446 4.2.3): ECDSA with the hash of its
    /// curve, ed25519, rsa_pss_rsae_* (rsa_pss_pss_* for an RSASSA-PSS key). Our preference
    /// order.
    pub fn tls13_schemes(&self) -> &'static [SignatureScheme] {
        match &self.inner {
            Inner::Ecdsa {
                curve: Curve::P256, ..
            } => P256,
            Inner::Ecdsa {
                curve: Curve::P384, ..
            } => P384,
            Inner::Ed25519(_) => ED25519,
            Inner::Rsa(_) => RSA_13,
            Inner::RsaPss { schemes, .. } => schemes,
        }
    }

    /// Schemes usable in TLS 1.2 (RFC 5246 7.4.1.4.1): adds rsa_pkcs1_*. ECDSA keeps the
    /// curve's own hash: ring cannot sign P-256 with SHA-384 or P-384 with SHA-256 (it can
    /// verify those, see [`verify_signature`]).
    pub fn tls12_schemes(&self) -> &'static [SignatureScheme] {
        match &self.inner {
            Inner::Ecdsa {
                curve: Curve::P256, ..
            } => P256,
            Inner::Ecdsa {
                curve: Curve::P384, ..
            } => P384,
            Inner::Ed25519(_) => ED25519,
            Inner::Rsa(_) => RSA_12,
            // RFC 8446 1.3, 4.2.3: rsa_pss_pss_* apply to TLS 1.2 too; never PKCS#1 v1.5.
            Inner::RsaPss { schemes, .. } => schemes,
        }
    }

    /// The named group of an ECDSA key's curve (`None` for Ed25519 and RSA keys): in TLS
    /// 1.2 it must be one the client lists in supported_groups (RFC 8422 5.1).
    pub fn ecdsa_group(&self) -> Option<NamedGroup> {
        match &self.inner {
            Inner::Ecdsa {
                curve: Curve::P256, ..
            } => Some(NamedGroup::secp256r1),
            Inner::Ecdsa {
                curve: Curve::P384, ..
            } => Some(NamedGroup::secp384r1),
            _ => None,
        }
    }

    /// The first of our schemes the peer offered (our preference order).
    pub fn choose_scheme(&self, offered: &[SignatureScheme], tls13: bool) -> Option<SignatureScheme> {
        let ours = if tls13 {
            self.tls13_schemes()
        } else {
            self.tls12_schemes()
        };
        ours.iter().copied().find(|s| offered.contains(s))
    }

    /// Signs `message` with `scheme`, which must be one of [`tls12_schemes`](Self::tls12_schemes).
    /// ECDSA nonces and PSS salts come from ring's `SystemRandom`.
    pub fn sign(&self, scheme: SignatureScheme, message: &[u8]) -> Result<Vec<u8>, Error> {
        self.sign_with(scheme, message, &SystemRandomSource)
    }

    /// [`sign`](Self::sign) with the RSA-PSS salt (RFC 8017 9.1.1: hash-length bytes) drawn
    /// from `salt_rng`, the connection's random source, so that an injected random replays a
    /// recorded CertificateVerify byte for byte. ECDSA nonces stay with ring's
    /// `SystemRandom` (ring hedges them with the key and message; a fixed nonce source would
    /// buy nothing but risk).
    pub fn sign_with(
        &self,
        scheme: SignatureScheme,
        message: &[u8],
        salt_rng: &dyn RandomSource,
    ) -> Result<Vec<u8>, Error> {
        let rng = SystemRandom::new();
        let failed = |_| Error::Crypto("signing failed");
        match &self.inner {
            Inner::Ecdsa { key, .. } if self.tls13_schemes().contains(&scheme) => {
                Ok(key.sign(&rng, message).map_err(failed)?.as_ref().to_vec())
            }
            Inner::Ed25519(key) if scheme == S::ed25519 => Ok(key.sign(message).as_ref().to_vec()),
            // RFC 8446 4.2.3: rsa_pss_rsae_* for an rsaEncryption key, rsa_pss_pss_* for an
            // RSASSA-PSS one.
            Inner::Rsa(key) if RSA_12.contains(&scheme) => rsa_sign(key, scheme, message, salt_rng),
            Inner::RsaPss { key, schemes } if schemes.contains(&scheme) => {
                rsa_sign(key, scheme, message, salt_rng)
            }
            Inner::Ecdsa { .. } | Inner::Ed25519(_) | Inner::Rsa(_) | Inner::RsaPss { .. } => {
                Err(Error::Crypto("signature scheme does not fit the key"))
            }
        }
    }

    /// Our raw public key, in the form ring uses (EC point, Ed25519 key, RSAPublicKey DER).
    pub fn public_key_raw(&self) -> &[u8] {
        match &self.inner {
            Inner::Ecdsa { key, .. } => key.public_key().as_ref(),
            Inner::Ed25519(k) => k.public_key().as_ref(),
            Inner::Rsa(k) | Inner::RsaPss { key: k, .. } => k.public().as_ref(),
        }
    }
}

/// RSA signing (RSASSA-PSS or PKCS#1 v1.5, by `scheme`); a PSS salt of the hash length
/// (RFC 8017 9.1.1, RFC 8446 4.2.3) drawn from `salt_rng`.
fn rsa_sign(
    key: &RsaKeyPair,
    scheme: SignatureScheme,
    message: &[u8],
    salt_rng: &dyn RandomSource,
) -> Result<Vec<u8>, Error> {
    let failed = |_| Error::Crypto("signing failed");
    let (padding, salt_len): (&'static dyn signature::RsaEncoding, usize) = match scheme {
        S::rsa_pss_rsae_sha256 | S::rsa_pss_pss_sha256 => (&signature::RSA_PSS_SHA256, 32),
        S::rsa_pss_rsae_sha384 | S::rsa_pss_pss_sha384 => (&signature::RSA_PSS_SHA384, 48),
        S::rsa_pss_rsae_sha512 | S::rsa_pss_pss_sha512 => (&signature::RSA_PSS_SHA512, 64),
        S::rsa_pkcs1_sha256 => (&signature::RSA_PKCS1_SHA256, 0),
        S::rsa_pkcs1_sha384 => (&signature::RSA_PKCS1_SHA384, 0),
        S::rsa_pkcs1_sha512 => (&signature::RSA_PKCS1_SHA512, 0),
        _ => return Err(Error::Crypto("signature scheme does not fit the key")),
    };
    let mut sig = vec![0u8; key.public().modulus_len()];
    if salt_len == 0 {
        key.sign(padding, &SystemRandom::new(), message, &mut sig)
            .map_err(failed)?;
    } else {
        // ring's SecureRandom is sealed; FixedSliceRandom is its public (deprecated) way to
        // feed chosen bytes. ring draws exactly one salt of the hash length.
        let mut salt = Zeroizing::new([0u8; 64]);
        let salt = &mut salt[..salt_len];
        salt_rng.fill(salt)?;
        #[allow(deprecated)]
        let fixed = ring::test::rand::FixedSliceRandom { bytes: salt };
        key.sign(padding, &fixed, message, &mut sig).map_err(failed)?;
    }
    Ok(sig)
}

/// Picks ring's verification algorithm for a key type and scheme, or `None` when the scheme
/// does not fit the key (RFC 8446 4.2.3 for TLS 1.3; RFC 5246 / RFC 8422 for TLS 1.2).
fn verify_alg(
    key_oid: &[u8],
    curve_oid: Option<&[u8]>,
    scheme: SignatureScheme,
    tls13: bool,
) -> Option<&'static dyn signature::VerificationAlgorithm> {
    Some(match (key_oid, scheme) {
        (OID_RSA_ENCRYPTION, S::rsa_pss_rsae_sha256) => &signature::RSA_PSS_2048_8192_SHA256,
        (OID_RSA_ENCRYPTION, S::rsa_pss_rsae_sha384) => &signature::RSA_PSS_2048_8192_SHA384,
        (OID_RSA_ENCRYPTION, S::rsa_pss_rsae_sha512) => &signature::RSA_PSS_2048_8192_SHA512,
        (OID_RSASSA_PSS, S::rsa_pss_pss_sha256) => &signature::RSA_PSS_2048_8192_SHA256,
        (OID_RSASSA_PSS, S::rsa_pss_pss_sha384) => &signature::RSA_PSS_2048_8192_SHA384,
        (OID_RSASSA_PSS, S::rsa_pss_pss_sha512) => &signature::RSA_PSS_2048_8192_SHA512,
        // RFC 8446 4.2.3: RSASSA-PKCS1-v1_5 and SHA-1 are not for TLS 1.3 CertificateVerify.
        (OID_RSA_ENCRYPTION, _) if tls13 => return None,
        (OID_RSA_ENCRYPTION, S::rsa_pkcs1_sha256) => &signature::RSA_PKCS1_2048_8192_SHA256,
        (OID_RSA_ENCRYPTION, S::rsa_pkcs1_sha384) => &signature::RSA_PKCS1_2048_8192_SHA384,
        (OID_RSA_ENCRYPTION, S::rsa_pkcs1_sha512) => &signature::RSA_PKCS1_2048_8192_SHA512,
        (OID_RSA_ENCRYPTION, S::rsa_pkcs1_sha1) => &signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
        (OID_ED25519, S::ed25519) => &signature::ED25519,
        (OID_EC_PUBLIC_KEY, _) => match (curve_oid?, scheme) {
            (OID_P256, S::ecdsa_secp256r1_sha256) => &signature::ECDSA_P256_SHA256_ASN1,
            (OID_P384, S::ecdsa_secp384r1_sha384) => &signature::ECDSA_P384_SHA384_ASN1,
            // RFC 8446 4.2.3: in TLS 1.3 the curve must match the scheme.
            _ if tls13 => return None,
            (OID_P256, S::ecdsa_secp384r1_sha384) => &signature::ECDSA_P256_SHA384_ASN1,
            (OID_P384, S::ecdsa_secp256r1_sha256) => &signature::ECDSA_P384_SHA256_ASN1,
            _ => return None,
        },
        _ => return None,
    })
}

/// The named group of an ECDSA public key (`None` for other keys): TLS 1.2 ties ECDSA
/// certificates to the supported_groups list (RFC 8422 5.1). A curve we do not know is
/// reported as an unknown group, which no list contains.
pub fn spki_ecdsa_group(spki_der: &[u8]) -> Result<Option<NamedGroup>, Error> {
    use x509_parser::prelude::FromDer;
    use x509_parser::x509::SubjectPublicKeyInfo;

    let (_, spki) = SubjectPublicKeyInfo::from_der(spki_der)
        .map_err(|_| Error::InvalidCertificate(CertError::BadEncoding))?;
    if spki.algorithm.algorithm.as_bytes() != OID_EC_PUBLIC_KEY {
        return Ok(None);
    }
    let curve = spki.algorithm.parameters.as_ref().and_then(|p| p.as_oid().ok());
    Ok(Some(match curve.as_ref().map(|o| o.as_bytes()) {
        Some(OID_P256) => NamedGroup::secp256r1,
        Some(OID_P384) => NamedGroup::secp384r1,
        _ => NamedGroup::from(0u16),
    }))
}

/// Whether the key in `spki_der` signs for a TLS 1.2 suite's authentication (RFC 5246
/// 7.4.2: the server's certificate key "MUST be appropriate for the negotiated cipher
/// suite"): an RSA key (rsaEncryption or RSASSA-PSS) for ECDHE_RSA, an ECDSA or Ed25519 key
/// (RFC 8422 2) for ECDHE_ECDSA. The PSK suites take no certificate.
pub fn spki_fits_auth(spki_der: &[u8], auth: SuiteAuth) -> Result<bool, Error> {
    use x509_parser::prelude::FromDer;
    use x509_parser::x509::SubjectPublicKeyInfo;

    let (_, spki) = SubjectPublicKeyInfo::from_der(spki_der)
        .map_err(|_| Error::InvalidCertificate(CertError::BadEncoding))?;
    let oid = spki.algorithm.algorithm.as_bytes();
    Ok(match auth {
        SuiteAuth::Rsa => oid == OID_RSA_ENCRYPTION || oid == OID_RSASSA_PSS,
        SuiteAuth::Ecdsa => oid == OID_EC_PUBLIC_KEY || oid == OID_ED25519,
        SuiteAuth::Psk | SuiteAuth::EcdhePsk => false,
    })
}

/// Verifies `signature` over `message` with the public key in `spki_der` (a certificate's
/// SubjectPublicKeyInfo, full DER SEQUENCE). `tls13` refuses rsa_pkcs1_* and SHA-1 and
/// requires the ECDSA curve to match the scheme (RFC 8446 4.2.3).
///
/// Errors: a bad signature is [`Error::BadSignature`]; a scheme not usable with the key is
/// `PeerMisbehaved::UnsupportedSignatureScheme`; an unparsable SPKI is
/// `InvalidCertificate(BadEncoding)`.
pub fn verify_signature(
    spki_der: &[u8],
    scheme: SignatureScheme,
    message: &[u8],
    signature: &[u8],
    tls13: bool,
) -> Result<(), Error> {
    use x509_parser::prelude::FromDer;
    use x509_parser::x509::SubjectPublicKeyInfo;

    let (rest, spki) = SubjectPublicKeyInfo::from_der(spki_der)
        .map_err(|_| Error::InvalidCertificate(CertError::BadEncoding))?;
    if !rest.is_empty() {
        return Err(Error::InvalidCertificate(CertError::BadEncoding));
    }
    let key_oid = spki.algorithm.algorithm.as_bytes();
    let curve_oid = spki.algorithm.parameters.as_ref().and_then(|p| p.as_oid().ok());
    let curve_oid = curve_oid.as_ref().map(|o| o.as_bytes());
    let unsupported = Error::PeerMisbehaved(PeerMisbehaved::UnsupportedSignatureScheme);
    let alg = verify_alg(key_oid, curve_oid, scheme, tls13).ok_or(unsupported.clone())?;
    // RFC 4055 1.2: an RSASSA-PSS key whose parameters name a hash signs with that one only.
    if key_oid == OID_RSASSA_PSS {
        use crate::pki::sig::{parse_spki, Hash, KeyKind};
        let only = match parse_spki(spki_der).map_err(Error::InvalidCertificate)?.kind {
            KeyKind::RsaPss(only) => only,
            _ => None,
        };
        let hash = match scheme {
            S::rsa_pss_pss_sha256 => Hash::Sha256,
            S::rsa_pss_pss_sha384 => Hash::Sha384,
            _ => Hash::Sha512,
        };
        if only.is_some_and(|h| h != hash) {
            return Err(unsupported);
        }
    }
    signature::UnparsedPublicKey::new(alg, &spki.subject_public_key.data)
        .verify(message, signature)
        .map_err(|_| Error::BadSignature)
}

/// The content a TLS 1.3 CertificateVerify signs (RFC 8446 4.4.3): 64 spaces, the context
/// string, a zero byte, then the transcript hash.
pub fn tls13_signed_message(server: bool, transcript_hash: &[u8]) -> Vec<u8> {
    let context: &[u8] = if server {
        b"TLS 1.3, server CertificateVerify"
    } else {
        b"TLS 1.3, client CertificateVerify"
    };
    let mut m = Vec::with_capacity(64 + context.len() + 1 + transcript_hash.len());
    m.extend_from_slice(&[0x20; 64]);
    m.extend_from_slice(context);
    m.push(0);
    m.extend_from_slice(transcript_hash);
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::PublicKeyData;
    use rustls_pki_types::PrivatePkcs8KeyDer;

    const RSA2048_PKCS1: &[u8] = include_bytes!("../../vectors/keys/rsa2048.pkcs1.pem");
    const RSA2048_PKCS8: &[u8] = include_bytes!("../../vectors/keys/rsa2048.pkcs8.pem");
    const RSA2048_SPKI: &[u8] = include_bytes!("../../vectors/keys/rsa2048.spki.der");
    const RSA3072_PKCS8: &[u8] = include_bytes!("../../vectors/keys/rsa3072.pkcs8.pem");
    const RSA3072_SPKI: &[u8] = include_bytes!("../../vectors/keys/rsa3072.spki.der");
    const RSA1024_PKCS8: &[u8] = include_bytes!("../../vectors/keys/rsa1024.pkcs8.pem");
    const P256_SEC1: &[u8] = include_bytes!("../../vectors/keys/p256.sec1.pem");
    const P256_SPKI: &[u8] = include_bytes!("../../vectors/keys/p256.spki.der");
    const P384_SEC1: &[u8] = include_bytes!("../../vectors/keys/p384.sec1.pem");
    const P384_PKCS8: &[u8] = include_bytes!("../../vectors/keys/p384.pkcs8.pem");
    const P384_SPKI: &[u8] = include_bytes!("../../vectors/keys/p384.spki.der");
    const ED25519_PKCS8: &[u8] = include_bytes!("../../vectors/keys/ed25519.pkcs8.pem");
    const ED25519_SPKI: &[u8] = include_bytes!("../../vectors/keys/ed25519.spki.der");
    const RSA_PSS_PKCS8: &[u8] = include_bytes!("../../vectors/keys/rsa-pss.pkcs8.pem");
    const RSA_PSS_SPKI: &[u8] = include_bytes!("../../vectors/keys/rsa-pss.spki.der");
    const RSA_PSS_SHA256_PKCS8: &[u8] = include_bytes!("../../vectors/keys/rsa-pss-sha256.pkcs8.pem");
    const RSA_PSS_SHA256_SPKI: &[u8] = include_bytes!("../../vectors/keys/rsa-pss-sha256.spki.der");

    /// A key generated now with rcgen (on ring): (signing key, SPKI DER).
    fn generated(alg: &'static rcgen::SignatureAlgorithm) -> (SigningKey, Vec<u8>) {
        let kp = rcgen::KeyPair::generate_for(alg).unwrap();
        let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(kp.serialize_der()));
        (SigningKey::from_der(&der).unwrap(), kp.subject_public_key_info())
    }

    fn all_keys() -> Vec<(&'static str, SigningKey, Vec<u8>)> {
        let pem = |p: &[u8]| SigningKey::from_pem(p).unwrap();
        let (p256, p256_spki) = generated(&rcgen::PKCS_ECDSA_P256_SHA256);
        let (p384, p384_spki) = generated(&rcgen::PKCS_ECDSA_P384_SHA384);
        let (ed, ed_spki) = generated(&rcgen::PKCS_ED25519);
        vec![
            ("p256 generated", p256, p256_spki),
            ("p384 generated", p384, p384_spki),
            ("ed25519 generated", ed, ed_spki),
            ("p256 sec1", pem(P256_SEC1), P256_SPKI.to_vec()),
            ("p384 sec1", pem(P384_SEC1), P384_SPKI.to_vec()),
            ("p384 pkcs8", pem(P384_PKCS8), P384_SPKI.to_vec()),
            ("ed25519 pkcs8", pem(ED25519_PKCS8), ED25519_SPKI.to_vec()),
            ("rsa2048 pkcs1", pem(RSA2048_PKCS1), RSA2048_SPKI.to_vec()),
            ("rsa2048 pkcs8", pem(RSA2048_PKCS8), RSA2048_SPKI.to_vec()),
            ("rsa3072 pkcs8", pem(RSA3072_PKCS8), RSA3072_SPKI.to_vec()),
            ("rsa-pss pkcs8", pem(RSA_PSS_PKCS8), RSA_PSS_SPKI.to_vec()),
            (
                "rsa-pss-sha256 pkcs8",
                pem(RSA_PSS_SHA256_PKCS8),
                RSA_PSS_SHA256_SPKI.to_vec(),
            ),
        ]
    }

    #[test]
    fn sign_verify_round_trip_every_key_and_scheme() {
        let msg = tls13_signed_message(true, &[0xaa; 32]);
        for (name, key, spki) in all_keys() {
            for &scheme in key.tls12_schemes() {
                let sig = key.sign(scheme, &msg).unwrap();
                let tls13 = key.tls13_schemes().contains(&scheme);
                verify_signature(&spki, scheme, &msg, &sig, tls13)
                    .unwrap_or_else(|e| panic!("{name} {scheme}: {e}"));
                verify_signature(&spki, scheme, &msg, &sig, false).unwrap();
                // Another message or a flipped bit fails with BadSignature.
                assert_eq!(
                    verify_signature(&spki, scheme, b"other", &sig, false),
                    Err(Error::BadSignature)
                );
                let mut bad = sig.clone();
                if let Some(b) = bad.last_mut() {
                    *b ^= 1;
                }
                assert_eq!(
                    verify_signature(&spki, scheme, &msg, &bad, false),
                    Err(Error::BadSignature),
                    "{name}"
                );
            }
        }
    }

    #[test]
    fn scheme_lists_and_choice() {
        let keys = all_keys();
        let schemes: Vec<_> = keys.iter().map(|(_, k, _)| k.tls13_schemes()).collect();
        assert_eq!(schemes[0], &[S::ecdsa_secp256r1_sha256]);
        assert_eq!(schemes[1], &[S::ecdsa_secp384r1_sha384]);
        assert_eq!(schemes[2], &[S::ed25519]);
        let rsa = &keys[7].1;
        assert!(rsa
            .tls13_schemes()
            .iter()
            .all(|s| s.name().is_some_and(|n| n.starts_with("rsa_pss_rsae"))));
        let offered = [
            S::rsa_pkcs1_sha256,
            S::ecdsa_secp256r1_sha256,
            S::rsa_pss_rsae_sha384,
        ];
        assert_eq!(rsa.choose_scheme(&offered, true), Some(S::rsa_pss_rsae_sha384));
        assert_eq!(rsa.choose_scheme(&[S::rsa_pkcs1_sha256], true), None);
        assert_eq!(
            rsa.choose_scheme(&[S::rsa_pkcs1_sha256], false),
            Some(S::rsa_pkcs1_sha256)
        );
        assert_eq!(
            keys[0].1.choose_scheme(&offered, true),
            Some(S::ecdsa_secp256r1_sha256)
        );
        assert_eq!(keys[1].1.choose_scheme(&offered, true), None);
        // Signing with a scheme that does not fit the key is a local error.
        assert!(matches!(
            keys[0].1.sign(S::ecdsa_secp384r1_sha384, b"m"),
            Err(Error::Crypto(_))
        ));
        assert!(matches!(
            keys[2].1.sign(S::rsa_pss_rsae_sha256, b"m"),
            Err(Error::Crypto(_))
        ));
        assert!(matches!(rsa.sign(S::ed25519, b"m"), Err(Error::Crypto(_))));
        assert_eq!(
            format!("{:?}", keys[0].1),
            "SigningKey { kind: \"ECDSA P-256\", .. }"
        );
    }

    const UNSUPPORTED: Error = Error::PeerMisbehaved(PeerMisbehaved::UnsupportedSignatureScheme);

    #[test]
    fn tls13_refuses_curve_mismatch_pkcs1_and_sha1() {
        let (p256, spki) = generated(&rcgen::PKCS_ECDSA_P256_SHA256);
        let sig = p256.sign(S::ecdsa_secp256r1_sha256, b"m").unwrap();
        assert_eq!(
            verify_signature(&spki, S::ecdsa_secp384r1_sha384, b"m", &sig, true),
            Err(UNSUPPORTED)
        );
        // TLS 1.2 allows the other hash with the curve; the signature is still over SHA-256.
        assert_eq!(
            verify_signature(&spki, S::ecdsa_secp384r1_sha384, b"m", &sig, false),
            Err(Error::BadSignature)
        );
        assert_eq!(
            verify_signature(&spki, S::ecdsa_sha1, b"m", &sig, false),
            Err(UNSUPPORTED)
        );
        assert_eq!(
            verify_signature(&spki, S::ed25519, b"m", &sig, false),
            Err(UNSUPPORTED)
        );
        assert_eq!(
            verify_signature(&spki, S::rsa_pss_rsae_sha256, b"m", &sig, false),
            Err(UNSUPPORTED)
        );

        let rsa = SigningKey::from_pem(RSA2048_PKCS8).unwrap();
        let sig = rsa.sign(S::rsa_pkcs1_sha256, b"m").unwrap();
        assert_eq!(
            verify_signature(RSA2048_SPKI, S::rsa_pkcs1_sha256, b"m", &sig, true),
            Err(UNSUPPORTED)
        );
        assert_eq!(
            verify_signature(RSA2048_SPKI, S::rsa_pkcs1_sha256, b"m", &sig, false),
            Ok(())
        );
        assert_eq!(
            verify_signature(RSA2048_SPKI, S::rsa_pkcs1_sha1, b"m", &sig, true),
            Err(UNSUPPORTED)
        );
        // rsa_pss_pss_* needs an RSASSA-PSS key, not rsaEncryption (RFC 8446 4.2.3).
        let sig = rsa.sign(S::rsa_pss_rsae_sha256, b"m").unwrap();
        assert_eq!(
            verify_signature(RSA2048_SPKI, S::rsa_pss_pss_sha256, b"m", &sig, true),
            Err(UNSUPPORTED)
        );
        assert_eq!(
            verify_signature(RSA2048_SPKI, S::Unknown(0x1234), b"m", &sig, false),
            Err(UNSUPPORTED)
        );
    }

    #[test]
    fn rsassa_pss_keys_load_and_sign_rsa_pss_pss_only() {
        // An id-RSASSA-PSS PKCS#8 key (RFC 4055 1.2), which ring's PKCS#8 parser refuses.
        let pss = SigningKey::from_pem(RSA_PSS_PKCS8).unwrap();
        let all = [
            S::rsa_pss_pss_sha256,
            S::rsa_pss_pss_sha384,
            S::rsa_pss_pss_sha512,
        ];
        assert_eq!(pss.tls13_schemes(), all);
        assert_eq!(pss.tls12_schemes(), all, "no PKCS#1 v1.5, no rsae");
        assert_eq!(format!("{pss:?}"), "SigningKey { kind: \"RSASSA-PSS\", .. }");
        let offered = [S::rsa_pss_rsae_sha256, S::rsa_pkcs1_sha256, S::rsa_pss_pss_sha384];
        assert_eq!(pss.choose_scheme(&offered, false), Some(S::rsa_pss_pss_sha384));
        assert_eq!(pss.choose_scheme(&offered[..2], true), None);
        for scheme in [
            S::rsa_pss_rsae_sha256,
            S::rsa_pkcs1_sha256,
            S::ecdsa_secp256r1_sha256,
        ] {
            assert!(
                matches!(pss.sign(scheme, b"m"), Err(Error::Crypto(_))),
                "{scheme}"
            );
        }
        // Its signature checks out under the PSS SubjectPublicKeyInfo, in TLS 1.3 and 1.2,
        // and is not taken as rsa_pss_rsae_* (RFC 8446 4.2.3).
        let sig = pss.sign(S::rsa_pss_pss_sha256, b"m").unwrap();
        verify_signature(RSA_PSS_SPKI, S::rsa_pss_pss_sha256, b"m", &sig, true).unwrap();
        verify_signature(RSA_PSS_SPKI, S::rsa_pss_pss_sha256, b"m", &sig, false).unwrap();
        assert_eq!(
            verify_signature(RSA_PSS_SPKI, S::rsa_pss_rsae_sha256, b"m", &sig, true),
            Err(UNSUPPORTED)
        );
        assert_eq!(
            verify_signature(RSA_PSS_SPKI, S::rsa_pkcs1_sha256, b"m", &sig, false),
            Err(UNSUPPORTED)
        );
        // An rsaEncryption key does not sign rsa_pss_pss_*.
        let rsae = SigningKey::from_pem(RSA2048_PKCS8).unwrap();
        assert!(matches!(
            rsae.sign(S::rsa_pss_pss_sha256, b"m"),
            Err(Error::Crypto(_))
        ));

        // Parameters naming SHA-256 restrict the key to it, both ways.
        let only256 = SigningKey::from_pem(RSA_PSS_SHA256_PKCS8).unwrap();
        assert_eq!(only256.tls13_schemes(), [S::rsa_pss_pss_sha256]);
        assert!(matches!(
            only256.sign(S::rsa_pss_pss_sha384, b"m"),
            Err(Error::Crypto(_))
        ));
        let sig = pss.sign(S::rsa_pss_pss_sha384, b"m").unwrap();
        assert_eq!(
            verify_signature(RSA_PSS_SHA256_SPKI, S::rsa_pss_pss_sha384, b"m", &sig, true),
            Err(UNSUPPORTED)
        );

        // A PSS key whose privateKey is not an RSAPrivateKey is a configuration error.
        let der = rustls_pki_types::pem::PemObject::from_pem_slice(RSA_PSS_PKCS8).unwrap();
        let PrivateKeyDer::Pkcs8(k) = der else { panic!() };
        let mut bad = k.secret_pkcs8_der().to_vec();
        bad[60] ^= 0xff; // inside the modulus: p * q no longer gives n
        let bad = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(bad));
        assert!(
            matches!(SigningKey::from_der(&bad), Err(Error::Config(m)) if m.contains("RSASSA-PSS")),
            "{:?}",
            SigningKey::from_der(&bad)
        );
    }

    #[test]
    fn pss_salt_comes_from_the_given_random_source() {
        use crate::crypto::FixedRandom;
        let (rsa, spki) = (SigningKey::from_pem(RSA2048_PKCS1).unwrap(), RSA2048_SPKI);
        let msg = tls13_signed_message(true, &[0xaa; 32]);
        for (scheme, len) in [
            (S::rsa_pss_rsae_sha256, 32),
            (S::rsa_pss_rsae_sha384, 48),
            (S::rsa_pss_rsae_sha512, 64),
        ] {
            let fixed = |b: u8| FixedRandom::new(vec![vec![b; len]]);
            let rng = fixed(0x12);
            let a = rsa.sign_with(scheme, &msg, &rng).unwrap();
            assert_eq!(rng.remaining(), 0, "{scheme}: one hash-length salt drawn");
            assert_eq!(a, rsa.sign_with(scheme, &msg, &fixed(0x12)).unwrap());
            assert_ne!(a, rsa.sign_with(scheme, &msg, &fixed(0x13)).unwrap());
            verify_signature(spki, scheme, &msg, &a, true).unwrap();
            // An exhausted source is an error, not a weaker signature.
            let short = FixedRandom::new(vec![vec![0; len - 1]]);
            assert!(matches!(
                rsa.sign_with(scheme, &msg, &short),
                Err(Error::Crypto(_))
            ));
        }
        // PKCS#1 v1.5 draws nothing.
        let empty = FixedRandom::new(vec![]);
        rsa.sign_with(S::rsa_pkcs1_sha256, b"m", &empty).unwrap();
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        let bad_spki = Error::InvalidCertificate(CertError::BadEncoding);
        assert_eq!(
            verify_signature(&[], S::ed25519, b"m", &[0; 64], true),
            Err(bad_spki.clone())
        );
        assert_eq!(
            verify_signature(&[0x30, 0x03, 1, 2], S::ed25519, b"m", &[0; 64], true),
            Err(bad_spki.clone())
        );
        let mut trailing = ED25519_SPKI.to_vec();
        trailing.push(0);
        assert_eq!(
            verify_signature(&trailing, S::ed25519, b"m", &[0; 64], true),
            Err(bad_spki)
        );
        assert_eq!(
            verify_signature(ED25519_SPKI, S::ed25519, b"m", &[], true),
            Err(Error::BadSignature)
        );
        assert_eq!(
            verify_signature(P256_SPKI, S::ecdsa_secp256r1_sha256, b"m", &[0x30], true),
            Err(Error::BadSignature)
        );
        assert_eq!(
            verify_signature(RSA2048_SPKI, S::rsa_pss_rsae_sha256, b"m", &[0; 3], true),
            Err(Error::BadSignature)
        );
    }

    #[test]
    fn key_loading_refuses_bad_keys() {
        assert!(matches!(
            SigningKey::from_pem(RSA1024_PKCS8),
            Err(Error::Config(_))
        ));
        assert!(matches!(SigningKey::from_pem(b"not pem"), Err(Error::Config(_))));
        let garbage = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(vec![0x30, 0x00]));
        assert!(matches!(SigningKey::from_der(&garbage), Err(Error::Config(_))));
        let garbage = PrivateKeyDer::Sec1(vec![0x30, 0x00].into());
        assert!(matches!(SigningKey::from_der(&garbage), Err(Error::Config(_))));
        assert!(SigningKey::from_pem_file(Path::new("/nonexistent/key.pem")).is_err());
    }

    #[test]
    fn der_lengths() {
        assert_eq!(der_tlv(4, &[9; 3]), vec![4, 3, 9, 9, 9]);
        assert_eq!(&der_tlv(4, &[0; 200])[..3], &[4, 0x81, 200]);
        assert_eq!(&der_tlv(4, &[0; 300])[..4], &[4, 0x82, 1, 44]);
    }

    #[test]
    fn tls13_signed_message_layout() {
        let m = tls13_signed_message(false, &[1, 2]);
        assert_eq!(&m[..64], &[0x20; 64]);
        assert_eq!(&m[64..], b"TLS 1.3, client CertificateVerify\x00\x01\x02");
        assert!(tls13_signed_message(true, &[]).ends_with(b"server CertificateVerify\x00"));
    }
}
