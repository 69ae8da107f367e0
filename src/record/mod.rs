//! The record layer: deframing, handshake reassembly, record protection with the current and
//! pending read/write states, and the priority outgoing queue.

mod deframer;
mod joiner;
mod protect;
mod queue;

pub(crate) use deframer::{Deframer, RecordHeader};
pub(crate) use joiner::HandshakeJoiner;
pub(crate) use protect::{Plaintext, ReadState, RecordVersion, WriteState};
pub(crate) use queue::{OutItem, OutQueue};

pub use crate::msgs::MAX_PLAINTEXT;
/// RFC 8446 5.2: TLSCiphertext.length MUST NOT exceed 2^14 + 256.
pub const MAX_CIPHERTEXT: usize = MAX_PLAINTEXT + 256;
/// TLS record header: type(1) version(2) length(2).
pub const HEADER_LEN: usize = 5;
/// The tag of the tests' (GCM) keys; a record key says its own (`RecordKey::tag_len`:
/// 16, or 8 for CCM_8).
#[cfg(test)]
pub const TAG_LEN: usize = 16;

#[cfg(test)]
mod tests;
