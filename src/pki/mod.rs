//! X.509 path building and validation (RFC 5280 as the Web PKI applies it).

mod error;

pub use error::CertError;
