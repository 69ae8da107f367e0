//! An optional window on the record layer for debugging (`sanstls serve --log-records`):
//! every record and every handshake message, in both directions, with its key epoch.

use crate::codec::{ContentType, HandshakeType};

/// Which way a record or message travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Read from the peer.
    Received,
    /// Written to the peer.
    Sent,
}

/// Called by the connection as records and handshake messages pass. `epoch` counts the key
/// changes in that direction: 0 is plaintext, 1 the handshake keys, 2 the first application
/// keys, and each KeyUpdate adds one. Lengths are plaintext lengths (record: the content
/// without padding; handshake message: the body without its 4-byte header). Sent records are
/// reported when `write_tls` encrypts them, sent handshake messages when they are queued.
///
/// Observers see types and lengths only, never contents or secrets.
pub trait RecordObserver: Send + Sync {
    /// Called for each record: its content type, length and key epoch.
    fn record(&self, _dir: Direction, _typ: ContentType, _len: usize, _epoch: u16) {}
    /// Called for each handshake message: its type, length and key epoch.
    fn handshake(&self, _dir: Direction, _typ: HandshakeType, _len: usize, _epoch: u16) {}
}
