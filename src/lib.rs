#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![allow(non_camel_case_types)]

pub mod codec;
pub mod conn;
pub mod crypto;
pub mod dtls;
mod error;
mod handshake;
pub mod msgs;
pub mod pki;
pub mod quic;
mod record;
#[cfg(feature = "tokio")]
pub mod tokio_io;

pub use conn::{
    CertifiedKey, ClientConfig, Connection, Direction, Event, FixedClock, KeyLog, KeyLogFile, NoKeyLog,
    RecordObserver, SecurityPolicy, ServerConfig, Side, Stream, SystemClock, TimeProvider,
};
pub use error::{Error, InconsistentKeys, Limit, PeerMisbehaved};
/// The certificate, key and name types of the public API (`CertificateDer` and friends), as
/// rustls re-exports them.
pub use rustls_pki_types as pki_types;

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
