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
    /// AES-128-CCM with a 16-byte tag (RFC 5116 5.3, NIST SP 800-38C): 16-byte key.
    Aes128Ccm,
    /// AES-128-CCM_8: CCM with an 8-byte tag (RFC 6655 3, RFC 8446 B.4): 16-byte key.
    Aes128Ccm8,
}

impl AeadAlg {
    /// The longest authentication tag (16 bytes: GCM, ChaCha20-Poly1305, CCM; RFC 5116,
    /// RFC 8439); CCM_8's is 8 ([`tag_len`](Self::tag_len)).
    pub const TAG_LEN: usize = 16;
    /// Nonce length; the same for all of them (RFC 8446 5.3, RFC 6655 3).
    pub const NONCE_LEN: usize = 12;

    /// Key length in bytes (16 or 32).
    pub fn key_len(self) -> usize {
        match self {
            AeadAlg::Aes128Gcm | AeadAlg::Aes128Ccm | AeadAlg::Aes128Ccm8 => 16,
            AeadAlg::Aes256Gcm | AeadAlg::ChaCha20Poly1305 => 32,
        }
    }

    /// Authentication tag length: 8 for CCM_8, else 16.
    pub fn tag_len(self) -> usize {
        match self {
            AeadAlg::Aes128Ccm8 => 8,
            _ => Self::TAG_LEN,
        }
    }

    /// ring's algorithm; `None` for CCM, which ring lacks (`crypto::aead` uses `ccm`).
    pub(crate) fn ring_alg(self) -> Option<&'static ring::aead::Algorithm> {
        match self {
            AeadAlg::Aes128Gcm => Some(&ring::aead::AES_128_GCM),
            AeadAlg::Aes256Gcm => Some(&ring::aead::AES_256_GCM),
            AeadAlg::ChaCha20Poly1305 => Some(&ring::aead::CHACHA20_POLY1305),
            AeadAlg::Aes128Ccm | AeadAlg::Aes128Ccm8 => None,
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
    /// Offered and accepted only when configured (not in the default list).
    pub opt_in: bool,
}

/// The TLS 1.3 suites we implement, in default preference order; the `opt_in` ones last.
pub static TLS13_SUITES: &[Tls13Suite] = &[
    Tls13Suite {
        suite: CipherSuite::TLS_AES_128_GCM_SHA256,
        hash: HashAlg::Sha256,
        aead: AeadAlg::Aes128Gcm,
        opt_in: false,
    },
    Tls13Suite {
        suite: CipherSuite::TLS_AES_256_GCM_SHA384,
        hash: HashAlg::Sha384,
        aead: AeadAlg::Aes256Gcm,
        opt_in: false,
    },
    Tls13Suite {
        suite: CipherSuite::TLS_CHACHA20_POLY1305_SHA256,
        hash: HashAlg::Sha256,
        aead: AeadAlg::ChaCha20Poly1305,
        opt_in: false,
    },
    Tls13Suite {
        suite: CipherSuite::TLS_AES_128_CCM_SHA256,
        hash: HashAlg::Sha256,
        aead: AeadAlg::Aes128Ccm,
        opt_in: true,
    },
    // RFC 8446 B.4, RFC 9001 5.3: CCM_8 only where a profile asks for it (never QUIC).
    Tls13Suite {
        suite: CipherSuite::TLS_AES_128_CCM_8_SHA256,
        hash: HashAlg::Sha256,
        aead: AeadAlg::Aes128Ccm8,
        opt_in: true,
    },
];

/// Looks up a TLS 1.3 suite by its code point.
pub fn tls13_suite(s: CipherSuite) -> Option<&'static Tls13Suite> {
    TLS13_SUITES.iter().find(|t| t.suite == s)
}

/// How a TLS 1.2 suite authenticates: the certificate key of an ECDHE suite (RFC 8422 2,
/// RFC 5246), or a pre-shared key (RFC 4279, RFC 5489).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SuiteAuth {
    /// ECDHE_ECDSA: an ECDSA key, or Ed25519 (RFC 8422 2).
    Ecdsa,
    /// ECDHE_RSA: an RSA key, signing with PKCS#1 v1.5 or PSS.
    Rsa,
    /// PSK (RFC 4279 2): no certificate, no key exchange; the premaster comes from the PSK.
    Psk,
    /// ECDHE_PSK (RFC 5489 2): an unsigned ECDHE exchange mixed with the PSK.
    EcdhePsk,
}

impl SuiteAuth {
    /// True for the PSK key exchanges (no certificate on either side).
    pub fn is_psk(self) -> bool {
        matches!(self, SuiteAuth::Psk | SuiteAuth::EcdhePsk)
    }
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
    /// The kind of certificate key the server signs its ServerKeyExchange with, or PSK.
    pub auth: SuiteAuth,
    /// Offered and accepted only when configured (not in the default list).
    pub opt_in: bool,
}

impl Tls12Suite {
    /// Fixed IV bytes from the key block: 4 for GCM and CCM (RFC 5288 3, RFC 6655 3), 12 for
    /// ChaCha20 (RFC 7905 2).
    pub fn fixed_iv_len(&self) -> usize {
        match self.aead {
            AeadAlg::Aes128Gcm | AeadAlg::Aes256Gcm | AeadAlg::Aes128Ccm | AeadAlg::Aes128Ccm8 => 4,
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
        opt_in: false,
    },
    Tls12Suite {
        suite: CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        hash: HashAlg::Sha256,
        aead: AeadAlg::Aes128Gcm,
        auth: SuiteAuth::Rsa,
        opt_in: false,
    },
    Tls12Suite {
        suite: CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        hash: HashAlg::Sha384,
        aead: AeadAlg::Aes256Gcm,
        auth: SuiteAuth::Ecdsa,
        opt_in: false,
    },
    Tls12Suite {
        suite: CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        hash: HashAlg::Sha384,
        aead: AeadAlg::Aes256Gcm,
        auth: SuiteAuth::Rsa,
        opt_in: false,
    },
    Tls12Suite {
        suite: CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        hash: HashAlg::Sha256,
        aead: AeadAlg::ChaCha20Poly1305,
        auth: SuiteAuth::Ecdsa,
        opt_in: false,
    },
    Tls12Suite {
        suite: CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        hash: HashAlg::Sha256,
        aead: AeadAlg::ChaCha20Poly1305,
        auth: SuiteAuth::Rsa,
        opt_in: false,
    },
    // RFC 7251 2: AES-CCM with ECDHE_ECDSA, the explicit nonce as for GCM (RFC 6655 3).
    Tls12Suite {
        suite: CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_CCM,
        hash: HashAlg::Sha256,
        aead: AeadAlg::Aes128Ccm,
        auth: SuiteAuth::Ecdsa,
        opt_in: true,
    },
    Tls12Suite {
        suite: CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8,
        hash: HashAlg::Sha256,
        aead: AeadAlg::Aes128Ccm8,
        auth: SuiteAuth::Ecdsa,
        opt_in: true,
    },
    // The PSK suites: offered only by a client with a PSK, chosen only by a server with
    // a PSK lookup (RFC 4279, RFC 5487, RFC 6655, RFC 7905).
    Tls12Suite {
        suite: CipherSuite::TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256,
        hash: HashAlg::Sha256,
        aead: AeadAlg::ChaCha20Poly1305,
        auth: SuiteAuth::EcdhePsk,
        opt_in: true,
    },
    Tls12Suite {
        suite: CipherSuite::TLS_PSK_WITH_AES_128_GCM_SHA256,
        hash: HashAlg::Sha256,
        aead: AeadAlg::Aes128Gcm,
        auth: SuiteAuth::Psk,
        opt_in: true,
    },
    Tls12Suite {
        suite: CipherSuite::TLS_PSK_WITH_AES_128_CCM_8,
        hash: HashAlg::Sha256,
        aead: AeadAlg::Aes128Ccm8,
        auth: SuiteAuth::Psk,
        opt_in: true,
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
