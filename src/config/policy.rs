//! Named, dated security policies: one call sets versions, suites, groups, signature
//! schemes and the TLS 1.2 extended master secret requirement on either builder
//! (`.policy(&SecurityPolicy::MODERN_2026_12)`).
//!
//! A preset never changes meaning once published: its date is part of its name, and a later
//! revision gets a new constant (the 2026-12 presets add the post-quantum hybrid groups; the
//! 2026-11 ones stay as they were, so a config naming one does not change under its user).
//! The lists stay settable one by one after `.policy(...)`.

use crate::codec::{CipherSuite, NamedGroup, ProtocolVersion, SignatureScheme};

/// Versions, cipher suites, key-exchange groups and signature schemes, each in preference
/// order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SecurityPolicy {
    /// The preset's name, dated (e.g. `"modern-2026-11"`).
    pub name: &'static str,
    /// Protocol versions the preset enables.
    pub versions: &'static [ProtocolVersion],
    /// Cipher suites, in preference order.
    pub suites: &'static [CipherSuite],
    /// Key exchange groups, in preference order.
    pub groups: &'static [NamedGroup],
    /// Signature schemes accepted from the peer in CertificateVerify/ServerKeyExchange and
    /// used for our own signatures.
    pub signature_schemes: &'static [SignatureScheme],
    /// TLS 1.2: refuse a peer without the extended master secret (RFC 7627 5.2, 5.3;
    /// NIST SP 800-52r2 requires it of TLS 1.2).
    pub require_ems: bool,
}

use CipherSuite as C;
use NamedGroup as G;
use ProtocolVersion as V;
use SignatureScheme as S;

const TLS13_SUITES: &[CipherSuite] = &[
    C::TLS_AES_128_GCM_SHA256,
    C::TLS_AES_256_GCM_SHA384,
    C::TLS_CHACHA20_POLY1305_SHA256,
];

const ALL_SUITES: &[CipherSuite] = &[
    C::TLS_AES_128_GCM_SHA256,
    C::TLS_AES_256_GCM_SHA384,
    C::TLS_CHACHA20_POLY1305_SHA256,
    C::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    C::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    C::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    C::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    C::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    C::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
];

/// NIST SP 800-52r2 3.3.1: AES-GCM suites only (no ChaCha20-Poly1305).
const FIPS_SUITES: &[CipherSuite] = &[
    C::TLS_AES_128_GCM_SHA256,
    C::TLS_AES_256_GCM_SHA384,
    C::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    C::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    C::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    C::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
];

const ALL_GROUPS: &[NamedGroup] = &[G::x25519, G::secp256r1, G::secp384r1];

/// NIST curves only (SP 800-186): no X25519.
const FIPS_GROUPS: &[NamedGroup] = &[G::secp256r1, G::secp384r1];

/// The builders' default groups as of 2026-12: X25519MLKEM768 first, as the browsers offer it
/// (draft-ietf-tls-ecdhe-mlkem), then the classical groups.
const DEFAULT_2026_12_GROUPS: &[NamedGroup] = &[G::X25519MLKEM768, G::x25519, G::secp256r1, G::secp384r1];

/// Every hybrid ahead of every classical group: a server takes a hybrid whenever the client
/// sent a share for one; a client sends X25519MLKEM768 and x25519 shares.
const MODERN_2026_12_GROUPS: &[NamedGroup] = &[
    G::X25519MLKEM768,
    G::SecP256r1MLKEM768,
    G::SecP384r1MLKEM1024,
    G::x25519,
    G::secp256r1,
    G::secp384r1,
];

/// The hybrids whose shared secret is approved (SP 800-56C r2 2: an approved secret, here
/// ML-KEM's (FIPS 203) for X25519MLKEM768, may be followed by another in the concatenation;
/// both parts of SecP256r1MLKEM768 and SecP384r1MLKEM1024 are approved), then P-256 and P-384.
/// X25519 appears only inside X25519MLKEM768, never alone. X25519MLKEM768 comes first: it is
/// the hybrid nearly every server that has one accepts, so a client offering it gets a
/// post-quantum handshake without a HelloRetryRequest; its classical share is P-256.
const FIPS_2026_12_GROUPS: &[NamedGroup] = &[
    G::X25519MLKEM768,
    G::SecP256r1MLKEM768,
    G::SecP384r1MLKEM1024,
    G::secp256r1,
    G::secp384r1,
];

/// RFC 8446 4.2.3: RSASSA-PKCS1-v1_5 is for certificates only in TLS 1.3, so the TLS 1.3-only
/// preset leaves it out of the handshake signatures.
const MODERN_SCHEMES: &[SignatureScheme] = &[
    S::ecdsa_secp256r1_sha256,
    S::ecdsa_secp384r1_sha384,
    S::ed25519,
    S::rsa_pss_rsae_sha256,
    S::rsa_pss_rsae_sha384,
    S::rsa_pss_rsae_sha512,
];

/// The builders' default schemes as of 2026-11 (before RSASSA-PSS keys were supported).
const DEFAULT_2026_11_SCHEMES: &[SignatureScheme] = &[
    S::ecdsa_secp256r1_sha256,
    S::ecdsa_secp384r1_sha384,
    S::ed25519,
    S::rsa_pss_rsae_sha256,
    S::rsa_pss_rsae_sha384,
    S::rsa_pss_rsae_sha512,
    S::rsa_pkcs1_sha256,
    S::rsa_pkcs1_sha384,
    S::rsa_pkcs1_sha512,
];

/// `MODERN_SCHEMES` and RSASSA-PSS keys (RFC 8446 4.2.3, id-RSASSA-PSS), supported since.
const MODERN_2026_12_SCHEMES: &[SignatureScheme] = &[
    S::ecdsa_secp256r1_sha256,
    S::ecdsa_secp384r1_sha384,
    S::ed25519,
    S::rsa_pss_rsae_sha256,
    S::rsa_pss_rsae_sha384,
    S::rsa_pss_rsae_sha512,
    S::rsa_pss_pss_sha256,
    S::rsa_pss_pss_sha384,
    S::rsa_pss_pss_sha512,
];

/// The builders' default schemes as of 2026-12 (RSASSA-PSS keys included).
const DEFAULT_2026_12_SCHEMES: &[SignatureScheme] = &[
    S::ecdsa_secp256r1_sha256,
    S::ecdsa_secp384r1_sha384,
    S::ed25519,
    S::rsa_pss_rsae_sha256,
    S::rsa_pss_rsae_sha384,
    S::rsa_pss_rsae_sha512,
    S::rsa_pss_pss_sha256,
    S::rsa_pss_pss_sha384,
    S::rsa_pss_pss_sha512,
    S::rsa_pkcs1_sha256,
    S::rsa_pkcs1_sha384,
    S::rsa_pkcs1_sha512,
];

/// `FIPS_SCHEMES` and RSASSA-PSS keys (FIPS 186-5 5.4).
const FIPS_2026_12_SCHEMES: &[SignatureScheme] = &[
    S::ecdsa_secp256r1_sha256,
    S::ecdsa_secp384r1_sha384,
    S::rsa_pss_rsae_sha256,
    S::rsa_pss_rsae_sha384,
    S::rsa_pss_rsae_sha512,
    S::rsa_pss_pss_sha256,
    S::rsa_pss_pss_sha384,
    S::rsa_pss_pss_sha512,
    S::rsa_pkcs1_sha256,
    S::rsa_pkcs1_sha384,
    S::rsa_pkcs1_sha512,
];

/// FIPS 186-5: ECDSA on P-256/P-384, RSA-PSS and PKCS#1 v1.5 with SHA-2; no Ed25519 (not in
/// the SP 800-52r2 list).
const FIPS_SCHEMES: &[SignatureScheme] = &[
    S::ecdsa_secp256r1_sha256,
    S::ecdsa_secp384r1_sha384,
    S::rsa_pss_rsae_sha256,
    S::rsa_pss_rsae_sha384,
    S::rsa_pss_rsae_sha512,
    S::rsa_pkcs1_sha256,
    S::rsa_pkcs1_sha384,
    S::rsa_pkcs1_sha512,
];

impl SecurityPolicy {
    /// TLS 1.3 only; every TLS 1.3 suite, X25519/P-256/P-384, no PKCS#1 v1.5 signatures
    /// (no post-quantum hybrid: see [`MODERN_2026_12`](Self::MODERN_2026_12)).
    pub const MODERN_2026_11: SecurityPolicy = SecurityPolicy {
        name: "modern-2026-11",
        versions: &[V::TLSv1_3],
        suites: TLS13_SUITES,
        groups: ALL_GROUPS,
        signature_schemes: MODERN_SCHEMES,
        require_ems: true,
    };

    /// TLS 1.3 and TLS 1.2 (ECDHE AEAD suites only), every group and scheme we implement:
    /// the builders' defaults as of 2026-11, frozen.
    pub const DEFAULT_2026_11: SecurityPolicy = SecurityPolicy {
        name: "default-2026-11",
        versions: &[V::TLSv1_3, V::TLSv1_2],
        suites: ALL_SUITES,
        groups: ALL_GROUPS,
        signature_schemes: DEFAULT_2026_11_SCHEMES,
        require_ems: false,
    };

    /// The FIPS-approved subset (NIST SP 800-52r2): TLS 1.3 and 1.2, AES-GCM only, P-256
    /// and P-384, ECDSA / RSA-PSS / RSA PKCS#1 with SHA-2. This restricts the algorithms;
    /// it does not make ring a validated module. No post-quantum hybrid: see
    /// [`FIPS_2026_12`](Self::FIPS_2026_12).
    pub const FIPS_2026_11: SecurityPolicy = SecurityPolicy {
        name: "fips-2026-11",
        versions: &[V::TLSv1_3, V::TLSv1_2],
        suites: FIPS_SUITES,
        groups: FIPS_GROUPS,
        signature_schemes: FIPS_SCHEMES,
        require_ems: true,
    };

    /// TLS 1.3 only; every TLS 1.3 suite; the three post-quantum hybrids ahead of
    /// X25519/P-256/P-384; no PKCS#1 v1.5 signatures.
    pub const MODERN_2026_12: SecurityPolicy = SecurityPolicy {
        name: "modern-2026-12",
        versions: &[V::TLSv1_3],
        suites: TLS13_SUITES,
        groups: MODERN_2026_12_GROUPS,
        signature_schemes: MODERN_2026_12_SCHEMES,
        require_ems: true,
    };

    /// The builders' defaults as of 2026-12, frozen: TLS 1.3 and TLS 1.2 (ECDHE AEAD suites
    /// only), groups X25519MLKEM768, x25519, P-256, P-384, every signature scheme.
    pub const DEFAULT_2026_12: SecurityPolicy = SecurityPolicy {
        name: "default-2026-12",
        versions: &[V::TLSv1_3, V::TLSv1_2],
        suites: ALL_SUITES,
        groups: DEFAULT_2026_12_GROUPS,
        signature_schemes: DEFAULT_2026_12_SCHEMES,
        require_ems: false,
    };

    /// The FIPS-approved subset (NIST SP 800-52r2) with the approved post-quantum hybrids:
    /// TLS 1.3 and 1.2, AES-GCM only; X25519MLKEM768, SecP256r1MLKEM768, SecP384r1MLKEM1024,
    /// P-256 and P-384 (never X25519 alone); ECDSA / RSA-PSS / RSA PKCS#1 with SHA-2. This
    /// restricts the algorithms; it does not make ring or libcrux a validated module.
    pub const FIPS_2026_12: SecurityPolicy = SecurityPolicy {
        name: "fips-2026-12",
        versions: &[V::TLSv1_3, V::TLSv1_2],
        suites: FIPS_SUITES,
        groups: FIPS_2026_12_GROUPS,
        signature_schemes: FIPS_2026_12_SCHEMES,
        require_ems: true,
    };

    /// Every preset, oldest first.
    pub const ALL: &'static [SecurityPolicy] = &[
        SecurityPolicy::MODERN_2026_11,
        SecurityPolicy::DEFAULT_2026_11,
        SecurityPolicy::FIPS_2026_11,
        SecurityPolicy::MODERN_2026_12,
        SecurityPolicy::DEFAULT_2026_12,
        SecurityPolicy::FIPS_2026_12,
    ];

    /// A preset by its name (`"fips-2026-11"`).
    pub fn by_name(name: &str) -> Option<&'static SecurityPolicy> {
        Self::ALL.iter().find(|p| p.name.eq_ignore_ascii_case(name))
    }
}
