//! TLS 1.3 cipher suites (RFC 8446 B.4), the TLS 1.2 ECDHE AEAD suites (RFC 5289, RFC 7905)
//! and their AEAD algorithms.

use crate::codec::CipherSuite;

use super::hash::HashAlg;

/// Record protection algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AeadAlg {
    /// AES-128-GCM (RFC 5116 5.1): 16-byte key.
    Aes128Gcm,
    /// AES-256-GCM (RFC 5116 5.2): 32-byte key.
    Aes256Gcm,
    /// ChaCha20-Poly1305 (RFC 8439 2.8): 32-byte key.
    ChaCha20Poly1305,
}

impl AeadAlg {
    /// Authentication tag length; the same for all three (RFC 5116, RFC 8439).
    pub const TAG_LEN: usize = 16;
    /// Nonce length; the same for all three (RFC 8446 5.3).
    pub const NONCE_LEN: usize = 12;

    /// Key length in bytes (16 or 32).
    pub fn key_len(self) -> usize {
        match self {
            AeadAlg::Aes128Gcm => 16,
            AeadAlg::Aes256Gcm | AeadAlg::ChaCha20Poly1305 => 32,
        }
    }

    pub(crate) fn ring_alg(self) -> &'static ring::aead::Algorithm {
        match self {
            AeadAlg::Aes128Gcm => &ring::aead::AES_128_GCM,
            AeadAlg::Aes256Gcm => &ring::aead::AES_256_GCM,
            AeadAlg::ChaCha20Poly1305 => &ring::aead::CHACHA20_POLY1305,
        }
    }
}

/// A TLS 1.3 cipher suite: an AEAD and the hash for HKDF and the transcript.
#[derive(Debug)]
pub struct Tls13Suite {
    /// The suite's code point.
    pub suite: CipherSuite,
    /// The HKDF and transcript hash (RFC 8446 7.1).
    pub hash: HashAlg,
    /// The record protection algorithm (RFC 8446 5.2).
    pub aead: AeadAlg,
}

/// The TLS 1.3 suites we implement, in default preference order.
pub static TLS13_SUITES: &[Tls13Suite] = &[
    Tls13Suite {
        suite: CipherSuite::TLS_AES_128_GCM_SHA256,
        hash: HashAlg::Sha256,
        aead: AeadAlg::Aes128Gcm,
    },
    Tls13Suite {
        suite: CipherSuite::TLS_AES_256_GCM_SHA384,
        hash: HashAlg::Sha384,
        aead: AeadAlg::Aes256Gcm,
    },
    Tls13Suite {
        suite: CipherSuite::TLS_CHACHA20_POLY1305_SHA256,
        hash: HashAlg::Sha256,
        aead: AeadAlg::ChaCha20Poly1305,
    },
];

/// Looks up a TLS 1.3 suite by its code point.
pub fn tls13_suite(s: CipherSuite) -> Option<&'static Tls13Suite> {
    TLS13_SUITES.iter().find(|t| t.suite == s)
}

/// The certificate key a TLS 1.2 ECDHE suite authenticates with (RFC 8422 2, RFC 5246).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SuiteAuth {
    /// ECDHE_ECDSA: an ECDSA key, or Ed25519 (RFC 8422 2).
    Ecdsa,
    /// ECDHE_RSA: an RSA key, signing with PKCS#1 v1.5 or PSS.
    Rsa,
}

/// A TLS 1.2 ECDHE AEAD cipher suite: the AEAD, the PRF hash and the authentication.
#[derive(Debug)]
pub struct Tls12Suite {
    /// The suite's code point.
    pub suite: CipherSuite,
    /// The PRF and Finished hash (RFC 5246 5; RFC 5288 3 for SHA-384).
    pub hash: HashAlg,
    /// The record protection algorithm.
    pub aead: AeadAlg,
    /// The kind of certificate key the server signs its ServerKeyExchange with.
    pub auth: SuiteAuth,
}

impl Tls12Suite {
    /// Fixed IV bytes from the key block: 4 for GCM (RFC 5288 3), 12 for ChaCha20 (RFC 7905 2).
    pub fn fixed_iv_len(&self) -> usize {
        match self.aead {
            AeadAlg::Aes128Gcm | AeadAlg::Aes256Gcm => 4,
            AeadAlg::ChaCha20Poly1305 => 12,
        }
    }

    /// key_block length: two keys and two IVs, no MAC keys for AEAD (RFC 5246 6.3).
    pub fn key_block_len(&self) -> usize {
        2 * (self.aead.key_len() + self.fixed_iv_len())
    }
}

/// The TLS 1.2 suites we implement, in default preference order.
pub static TLS12_SUITES: &[Tls12Suite] = &[
    Tls12Suite {
        suite: CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        hash: HashAlg::Sha256,
        aead: AeadAlg::Aes128Gcm,
        auth: SuiteAuth::Ecdsa,
    },
    Tls12Suite {
        suite: CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        hash: HashAlg::Sha256,
        aead: AeadAlg::Aes128Gcm,
        auth: SuiteAuth::Rsa,
    },
    Tls12Suite {
        suite: CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        hash: HashAlg::Sha384,
        aead: AeadAlg::Aes256Gcm,
        auth: SuiteAuth::Ecdsa,
    },
    Tls12Suite {
        suite: CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        hash: HashAlg::Sha384,
        aead: AeadAlg::Aes256Gcm,
        auth: SuiteAuth::Rsa,
    },
    Tls12Suite {
        suite: CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        hash: HashAlg::Sha256,
        aead: AeadAlg::ChaCha20Poly1305,
        auth: SuiteAuth::Ecdsa,
    },
    Tls12Suite {
        suite: CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        hash: HashAlg::Sha256,
        aead: AeadAlg::ChaCha20Poly1305,
        auth: SuiteAuth::Rsa,
    },
];

/// Looks up a TLS 1.2 suite by its code point.
pub fn tls12_suite(s: CipherSuite) -> Option<&'static Tls12Suite> {
    TLS12_SUITES.iter().find(|t| t.suite == s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup() {
        assert_eq!(
            tls13_suite(CipherSuite::TLS_AES_256_GCM_SHA384).map(|s| s.hash),
            Some(HashAlg::Sha384)
        );
        assert_eq!(
            tls13_suite(CipherSuite::TLS_CHACHA20_POLY1305_SHA256).map(|s| s.aead.key_len()),
            Some(32)
        );
        assert!(tls13_suite(CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256).is_none());
        assert!(tls13_suite(CipherSuite::Unknown(0x1304)).is_none());
        assert_eq!(TLS13_SUITES[0].suite, CipherSuite::TLS_AES_128_GCM_SHA256);
    }

    #[test]
    fn tls12_lookup_and_key_block() {
        let s = tls12_suite(CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384).unwrap();
        assert_eq!((s.hash, s.auth), (HashAlg::Sha384, SuiteAuth::Rsa));
        assert_eq!(s.key_block_len(), 2 * (32 + 4));
        let c = tls12_suite(CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256).unwrap();
        assert_eq!(c.key_block_len(), 2 * (32 + 12));
        assert!(tls12_suite(CipherSuite::TLS_AES_128_GCM_SHA256).is_none());
    }
}
