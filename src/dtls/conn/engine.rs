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

use std::time::Instant;

use super::v12::Epochs12;
use super::v13::Epochs13;
use super::DtlsConnection;
use crate::dtls::record::PLAINTEXT_HEADER_LEN;

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

    /// The overhead of a record under our write epoch `epoch`, with the peer's connection id
    /// `cid` in it (an epoch without keys: DTLSPlaintext's header).
    pub(super) fn record_overhead(&self, epoch: u64, cid: Option<&[u8]>) -> usize {
        match self {
            Engine::V12(e) => {
                u16::try_from(epoch).map_or(PLAINTEXT_HEADER_LEN, |epoch| e.overhead(epoch, cid))
            }
            Engine::V13(e) => e.overhead(epoch, cid),
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

    // ACKs and KeyUpdate are DTLS 1.3's (RFC 9147 7, 8): under DTLS 1.2 there is nothing
    // to acknowledge, no ACK timer and no KeyUpdate.

    /// When the delayed ACK is due.
    pub(super) fn ack_at(&self) -> Option<Instant> {
        self.v13().and_then(|e| e.ack_at)
    }

    /// Schedules the delayed ACK for `at`, unless one is already scheduled.
    pub(super) fn arm_ack(&mut self, at: Option<Instant>) {
        if let Some(e) = self.v13_mut() {
            e.ack_at = e.ack_at.or(at);
        }
    }

    /// A handshake record of the peer, `rn`, to acknowledge.
    pub(super) fn owe_ack(&mut self, rn: crate::dtls::RecordNumber) {
        if let Some(e) = self.v13_mut() {
            e.received.record(rn);
        }
    }

    /// No ACK goes out for what was received so far (a failure; or our handshake flight,
    /// which acknowledges it implicitly, `forget_received`).
    pub(super) fn cancel_ack(&mut self) {
        if let Some(e) = self.v13_mut() {
            e.ack_due = false;
            e.ack_at = None;
        }
    }

    /// Our new handshake flight acknowledges what we received (RFC 9147 7).
    pub(super) fn forget_received(&mut self) {
        if let Some(e) = self.v13_mut() {
            e.received.clear();
            e.ack_at = None;
        }
    }

    /// Our flight was answered: none of its records awaits an ACK any more.
    pub(super) fn forget_sent(&mut self) {
        if let Some(e) = self.v13_mut() {
            e.sent.clear();
        }
    }

    /// Our KeyUpdate awaits its ACK (RFC 9147 8).
    pub(super) fn key_update_pending(&self) -> bool {
        self.v13().is_some_and(Epochs13::key_update_pending)
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
