//! Which record engine a [`DtlsConnection`] runs: DTLS 1.2's (`v12`) or DTLS 1.3's
//! (`v13`). Each owns its epochs, keys, replay windows and early records (DTLS 1.3 also its
//! ACK and KeyUpdate state); what both share (epoch 0, flights, the handshake transport)
//! stays in the connection.
//!
//! The engine follows the version: a client starts with the engine of the highest version
//! it offers (its first hello already follows that version's rules, RFC 9147 5.8 for a
//! DTLS 1.3 one); a server starts with DTLS 1.2's, which reads the DTLSPlaintext records a
//! ClientHello of either version comes in. [`DtlsConnection::choose_engine`] replaces it
//! once the peer's hello fixes the version, and is the only place the transcript rule
//! changes with it.

use super::v12::Epochs12;
use super::v13::Epochs13;
use super::DtlsConnection;

/// The record engine of the version in force.
///
/// Inline, unboxed: DTLS 1.2's read key makes its variant the larger, but one engine per
/// connection inside the connection costs no allocation (boxing it would add one to every
/// idle connection's heap).
#[allow(clippy::large_enum_variant)]
pub(super) enum Engine {
    V12(Epochs12),
    V13(Epochs13),
}

impl Engine {
    pub(super) fn new(dtls13: bool) -> Self {
        if dtls13 {
            Engine::V13(Epochs13::new())
        } else {
            Engine::V12(Epochs12::new())
        }
    }

    pub(super) fn v12(&self) -> Option<&Epochs12> {
        match self {
            Engine::V12(e) => Some(e),
            Engine::V13(_) => None,
        }
    }

    pub(super) fn v12_mut(&mut self) -> Option<&mut Epochs12> {
        match self {
            Engine::V12(e) => Some(e),
            Engine::V13(_) => None,
        }
    }

    pub(super) fn v13(&self) -> Option<&Epochs13> {
        match self {
            Engine::V13(e) => Some(e),
            Engine::V12(_) => None,
        }
    }

    pub(super) fn v13_mut(&mut self) -> Option<&mut Epochs13> {
        match self {
            Engine::V13(e) => Some(e),
            Engine::V12(_) => None,
        }
    }

    /// The read epoch in force.
    pub(super) fn read_epoch(&self) -> u64 {
        match self {
            Engine::V12(e) => u64::from(e.read_epoch()),
            Engine::V13(e) => e.read_epoch(),
        }
    }

    /// The epoch our records go out under.
    pub(super) fn write_epoch(&self) -> u64 {
        match self {
            Engine::V12(e) => u64::from(e.write_epoch()),
            Engine::V13(e) => e.write_epoch(),
        }
    }
}

impl DtlsConnection {
    /// The peer's hello fixed the version (server: the ClientHello; client: a ServerHello
    /// picking DTLS 1.2 after it offered 1.3): its engine takes over, with its transcript
    /// rule (RFC 9147 5.2: DTLS 1.3 hashes the TLS form of the messages, RFC 6347 4.2.6:
    /// DTLS 1.2 the DTLS form). Nothing but epoch 0 was in use, and epoch 0 is the
    /// connection's.
    pub(super) fn choose_engine(&mut self, dtls13: bool) {
        let running13 = matches!(self.engine, Engine::V13(_));
        if running13 != dtls13 {
            self.engine = Engine::new(dtls13);
        }
        self.common.wire.set_transcript13(dtls13);
    }
}
