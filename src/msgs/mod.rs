//! Typed handshake messages and extensions (TLS 1.3 RFC 8446 4, TLS 1.2 RFC 5246 7.4, DTLS).
//!
//! Every message implements `encode` and a context-aware `decode` returning [`crate::Error`], so
//! that duplicate extensions (illegal_parameter, RFC 8446 4.2) and extensions forbidden in a
//! message (unsupported_extension / illegal_parameter) are reported with the right alert.

pub mod alert;
pub mod extensions;
pub mod handshake;
pub mod tls12;
mod wire;

pub use alert::AlertMessage;
pub use extensions::*;
pub use handshake::*;
pub use tls12::*;

/// RFC 8446 5.1: TLSPlaintext.length MUST NOT exceed 2^14.
pub const MAX_PLAINTEXT: usize = 1 << 14;

#[cfg(test)]
mod tests;
