//! sanstls: a sans-I/O TLS and DTLS engine.
#![forbid(unsafe_code)]
#![allow(non_camel_case_types)]

pub mod codec;
pub mod crypto;
mod error;
pub mod pki;

pub use error::{Error, Limit, PeerMisbehaved};
pub mod msgs;
