//! Cryptography: the only module that touches `ring`.
//!
//! Record protection keys ([`RecordKey`]), the TLS 1.3 key schedule ([`KeySchedule13`],
//! RFC 8446 7.1), the TLS 1.2 PRF ([`prf`](mod@prf), RFC 5246 5), key exchange ([`KeyExchange`]),
//! signing and verifying ([`SigningKey`], [`verify_signature`]) and the transcript hash
//! ([`Transcript`]). Every secret lives in [`Secret`] (zeroized on drop, redacted Debug).

pub mod aead;
pub mod dtls;
pub mod hash;
pub mod hkdf;
pub mod key_schedule;
pub mod kx;
pub mod prf;
pub mod quic;
pub mod rand;
pub mod secret;
pub mod sign;
pub mod suites;
pub mod ticket;

pub use aead::RecordKey;
pub use hash::{HashAlg, Transcript, TranscriptHash};
pub use hkdf::{derive_secret, hkdf_expand_label, hkdf_extract, Prk};
pub use key_schedule::{
    export_keying_material, finished_verify_data, finished_verify_data_prk, next_traffic_secret,
    resumption_psk, KeySchedule13,
};
pub use kx::{default_groups, supported_groups, KeyExchange};
pub use prf::prf;
pub use rand::{FixedRandom, RandomSource, SystemRandomSource};
pub use secret::Secret;
pub use sign::{tls13_signed_message, verify_signature, SigningKey};
pub use suites::{
    tls12_suite, tls13_suite, AeadAlg, SuiteAuth, Tls12Suite, Tls13Suite, TLS12_SUITES, TLS13_SUITES,
};
