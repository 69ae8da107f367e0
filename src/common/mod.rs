//! What the three connection types share, with no knowledge of any of them: [`Common`],
//! the state between the handshake and the connection (record states, outgoing queue,
//! events, what the handshake negotiated), and the receive-side policy ([`Inbound`],
//! [`Blinding`]) and plaintext rules (`plaintext`) they all apply.
//!
//! [`Common`] is the handshake's [`Output`](crate::handshake::output::Output) for every
//! transport. What differs between transports (how a handshake message is framed and which
//! bytes the transcript hashes, where the framed bytes go, what a TLS 1.3 traffic secret
//! becomes, QUIC's transport parameters and secrets) is its [`Wire`] part, which each
//! connection type provides: `Connection` the TLS one (the trait's defaults),
//! `DtlsConnection` and `QuicConnection` their own. This module names none of them.

use std::collections::VecDeque;
use std::sync::Arc;

mod blinding;
mod inbound;
pub(crate) mod plaintext;

pub(crate) use blinding::Blinding;
pub(crate) use inbound::Inbound;
pub use inbound::{MAX_EMPTY_RECORDS_IN_A_ROW, MAX_WARNING_ALERTS_IN_A_ROW};

use crate::codec::HandshakeType;
use crate::config::{Direction, KeyLog, RecordObserver};
use crate::crypto::aead::RecordKey;
use crate::crypto::hash::Transcript;
use crate::crypto::secret::Secret;
use crate::crypto::suites::Tls13Suite;
use crate::crypto::Prk;
use crate::error::Error;
use crate::event::Event;
use crate::handshake::output::Output;
pub(crate) use crate::handshake::output::{EarlyData, KeyLevel, Negotiated, Side, Transport};
use crate::handshake::HandshakeLog;
use crate::msgs::HandshakePayload;
use crate::record::{OutQueue, ReadState, RecordVersion, WriteState};

pub(crate) struct Common<W> {
    pub side: Side,
    pub queue: OutQueue,
    pub read: ReadState,
    /// Set when the handshake replaced the read state; the connection then checks that no
    /// partial handshake message straddles the change (RFC 8446 5.1).
    pub read_changed: bool,
    /// Set when the handshake queued a message of its own: the peer's flight is over and our
    /// answer is on its way, so the connection checks that no more of the peer's handshake
    /// bytes were in the record.
    pub answered: bool,
    /// TLS 1.2 pending read state (RFC 5246 6.1): keys derived, waiting for the peer's
    /// ChangeCipherSpec to become current. (The pending *write* state is the key change
    /// queued right behind our own CCS in `queue`.)
    pub pending_read: Option<ReadState>,
    pub events: VecDeque<Event>,
    pub neg: Negotiated,
    pub key_log: Arc<dyn KeyLog>,
    /// Largest plaintext per record we send (peer's record_size_limit aware).
    pub max_fragment: usize,
    /// Debugging window on records and handshake messages (`RecordObserver`).
    pub observer: Option<Arc<dyn RecordObserver>>,
    /// Read keys installed so far (0: plaintext), for the observer.
    pub read_epoch: u16,
    /// Write key changes queued so far (0: plaintext), for the observer.
    pub queued_write_epoch: u16,
    pub early: EarlyData,
    /// Application writes so far (wrapping), for the handshake's KeyUpdate answers: see
    /// [`Output::app_writes`].
    pub app_writes: u64,
    /// The transport's part: framing, where handshake bytes go, what keys become.
    pub wire: W,
}

impl<W: Wire> Common<W> {
    /// Announces `len` bytes of plaintext waiting in the reader of a TLS stream.
    /// Announcements with no other event between them merge into one [`Event::Data`], so an
    /// application that reads through `reader()` and never drains events holds one event,
    /// not one per record: the queue stays bounded however long the connection lives. (DTLS
    /// announces each record on its own: its boundary matters there.)
    pub fn data_arrived(&mut self, len: usize) {
        self.announce_merged(Event::Data { len });
    }

    /// [`data_arrived`](Self::data_arrived) for 0-RTT data waiting in the early-data reader
    /// ([`Event::EarlyData`]).
    pub fn early_data_arrived(&mut self, len: usize) {
        self.announce_merged(Event::EarlyData { len });
    }

    /// Queues `event` (`Data` or `EarlyData`), added into the last queued event when that
    /// is of the same kind.
    fn announce_merged(&mut self, event: Event) {
        match (self.events.back_mut(), &event) {
            (Some(Event::Data { len: queued }), Event::Data { len })
            | (Some(Event::EarlyData { len: queued }), Event::EarlyData { len }) => *queued += len,
            _ => self.events.push_back(event),
        }
    }

    pub fn new(side: Side, key_log: Arc<dyn KeyLog>, first_wire_version: u16, wire: W) -> Self {
        let mut queue = OutQueue::default();
        queue.push_key_change(WriteState::plaintext(first_wire_version));
        Common {
            side,
            queue,
            read: ReadState::plaintext(),
            read_changed: false,
            answered: false,
            pending_read: None,
            events: VecDeque::new(),
            neg: Negotiated::default(),
            key_log,
            max_fragment: crate::record::MAX_PLAINTEXT,
            observer: None,
            read_epoch: 0,
            queued_write_epoch: 0,
            early: EarlyData::default(),
            app_writes: 0,
            wire,
        }
    }

    /// Tells the record observer about a handshake message we queued, from its wire header:
    /// the TLS and the DTLS header both start with the type and the 24-bit body length.
    fn observe_sent(&self, typ: HandshakeType, wire: &[u8]) {
        if let (Some(obs), [_, a, b, c, ..]) = (&self.observer, wire) {
            let body = u32::from_be_bytes([0, *a, *b, *c]) as usize;
            obs.handshake(Direction::Sent, typ, body, self.queued_write_epoch);
        }
    }

    /// Frames a TLS-encoded message, adds it to `transcript` in the transport's transcript
    /// form, tells the observer and queues it; returns the bytes the transcript hashed.
    fn send_tls(&mut self, typ: HandshakeType, tls: Vec<u8>, transcript: Option<&mut Transcript>) -> Vec<u8> {
        let (wire, bytes) = self.wire.frame(tls);
        if let Some(t) = transcript {
            t.update(&bytes);
        }
        self.observe_sent(typ, &wire);
        self.wire.push_handshake(&mut self.queue, wire);
        self.answered = true;
        bytes
    }

    /// The application wrote data to send (queued, framed or sealed at once): from here on
    /// a KeyUpdate request needs an answer of its own.
    pub fn app_data_written(&mut self) {
        self.app_writes = self.app_writes.wrapping_add(1);
    }

    pub fn install_read(&mut self, state: ReadState) {
        self.read = state;
        self.read_changed = true;
        self.read_epoch = self.read_epoch.wrapping_add(1);
    }

    pub fn install_write(&mut self, state: WriteState) {
        self.queue.push_key_change(state);
        self.queued_write_epoch = self.queued_write_epoch.wrapping_add(1);
    }
}

impl<W: Wire> Output for Common<W> {
    fn transport(&self) -> Transport {
        self.wire.transport()
    }

    fn send_handshake(&mut self, msg: &HandshakePayload, transcript: Option<&mut Transcript>) -> Vec<u8> {
        self.send_tls(msg.typ(), msg.encode(), transcript)
    }

    fn send_handshake_encoded(
        &mut self,
        typ: HandshakeType,
        bytes: &[u8],
        transcript: Option<&mut Transcript>,
    ) {
        self.send_tls(typ, bytes.to_vec(), transcript);
    }

    fn send_handshake12(&mut self, tls: Vec<u8>, log: &mut HandshakeLog) -> Result<(), Error> {
        let typ = HandshakeType::from(tls.first().copied().unwrap_or(0));
        let wire = self.wire.frame12(tls);
        log.add(&wire)?;
        self.observe_sent(typ, &wire);
        self.queue.push_handshake(wire);
        self.answered = true;
        Ok(())
    }

    fn last_sent_for_log12(&self, tls: Vec<u8>) -> Vec<u8> {
        self.wire.reframe_last12(tls)
    }

    fn send_ccs(&mut self) {
        self.queue.push_ccs();
    }

    fn app_writes(&self) -> u64 {
        self.app_writes
    }

    fn key_update_unsent(&self) -> bool {
        self.queue.holds_handshake(HandshakeType::KeyUpdate) || self.wire.key_update_in_flight()
    }

    fn install_write13(&mut self, suite: &'static Tls13Suite, secret: &Prk, level: KeyLevel) {
        let state = self.wire.write_state13(suite, secret, level, self.max_fragment);
        self.install_write(state);
    }

    fn install_read13(&mut self, suite: &'static Tls13Suite, secret: &Prk, level: KeyLevel) {
        let state = self.wire.read_state13(suite, secret, level);
        self.install_read(state);
    }

    fn end_initial_record_version(&mut self) {
        self.install_write(WriteState::plaintext(0x0303));
    }

    fn install_write12(&mut self, key: RecordKey) {
        let state = WriteState::protected(key, RecordVersion::Tls12, self.max_fragment);
        self.install_write(state);
    }

    fn set_pending_read12(&mut self, key: RecordKey) {
        self.pending_read = Some(ReadState::protected(key, RecordVersion::Tls12));
    }

    fn activate_pending_read12(&mut self) -> Result<(), Error> {
        let pending = self
            .pending_read
            .take()
            .ok_or(Error::Internal("ChangeCipherSpec without pending keys"))?;
        self.install_read(pending);
        Ok(())
    }

    fn open_application_data(&mut self) {
        self.queue.open_app();
    }

    fn emit(&mut self, event: Event) {
        let complete = event == Event::HandshakeComplete;
        self.events.push_back(event);
        // RFC 5764 4.2: the SRTP keys exist once the handshake is complete.
        if complete && self.neg.srtp.is_some() {
            if let Ok(keys) = self.neg.srtp_keying_material() {
                self.events.push_back(Event::SrtpKeyingMaterial(Box::new(keys)));
            }
        }
    }

    fn negotiated(&mut self) -> &mut Negotiated {
        &mut self.neg
    }

    fn early_data(&mut self) -> &mut EarlyData {
        &mut self.early
    }

    fn limit_fragment(&mut self, max: usize) {
        self.max_fragment = max;
    }

    fn log_secret(&self, label: &str, secret: &Secret) {
        if self.key_log.will_log(label) {
            self.key_log
                .log(label, &self.neg.client_random, secret.as_bytes());
        }
    }

    fn local_transport_parameters(&self) -> Option<Vec<u8>> {
        self.wire.local_transport_parameters()
    }

    fn take_peer_transport_parameters(&mut self, params: &[u8]) -> bool {
        self.wire.take_peer_transport_parameters(params)
    }

    fn has_peer_transport_parameters(&self) -> bool {
        self.wire.has_peer_transport_parameters()
    }

    fn traffic_secrets(
        &mut self,
        level: KeyLevel,
        suite: &'static Tls13Suite,
        client: &Secret,
        server: &Secret,
    ) {
        self.wire.traffic_secrets(level, suite, client, server);
    }

    fn early_secret(&mut self, suite: &'static Tls13Suite, secret: &Secret) {
        self.wire.early_secret(suite, secret);
    }

    fn discard_early_keys(&mut self) {
        self.wire.discard_early_keys();
    }
}

/// The transport's part of [`Common`]. The defaults are TLS's (RFC 8446 5: handshake
/// messages in records, their TLS encoding hashed as sent, TLS 1.3 record protection); each
/// connection type implements it, overriding what its transport does differently.
pub(crate) trait Wire {
    /// Which transport this is.
    fn transport(&self) -> Transport;

    /// Frames a TLS-encoded handshake message (4-byte header) for the wire; returns (wire
    /// bytes, the bytes the transcript hashes).
    fn frame(&mut self, tls: Vec<u8>) -> (Vec<u8>, Vec<u8>) {
        (tls.clone(), tls)
    }

    /// Frames a TLS 1.2 handshake message: what goes on the wire is what the transcript
    /// hashes.
    fn frame12(&mut self, tls: Vec<u8>) -> Vec<u8> {
        tls
    }

    /// The last message [`frame12`](Self::frame12) framed, framed again the same way (for a
    /// handshake log that records it after the fact).
    fn reframe_last12(&self, tls: Vec<u8>) -> Vec<u8> {
        tls
    }

    /// Queues framed handshake bytes (records by default).
    fn push_handshake(&mut self, queue: &mut OutQueue, wire: Vec<u8>) {
        queue.push_handshake(wire);
    }

    /// The write state a TLS 1.3 traffic secret becomes (RFC 8446 7.3).
    fn write_state13(
        &mut self,
        suite: &'static Tls13Suite,
        secret: &Prk,
        _level: KeyLevel,
        max_fragment: usize,
    ) -> WriteState {
        WriteState::protected(
            RecordKey::tls13_prk(suite.aead, secret),
            RecordVersion::Tls13,
            max_fragment,
        )
    }

    /// The read state a TLS 1.3 traffic secret becomes (RFC 8446 7.3).
    fn read_state13(&mut self, suite: &'static Tls13Suite, secret: &Prk, _level: KeyLevel) -> ReadState {
        ReadState::protected(RecordKey::tls13_prk(suite.aead, secret), RecordVersion::Tls13)
    }

    /// True while a KeyUpdate of ours is out but its keys are not in use yet (DTLS 1.3: it
    /// awaits its ACK, RFC 9147 8): like one still queued, it answers a request that
    /// arrives meanwhile (RFC 8446 4.6.3).
    fn key_update_in_flight(&self) -> bool {
        false
    }

    /// QUIC's transport parameters for our hello (RFC 9001 8.2); `None` elsewhere.
    fn local_transport_parameters(&self) -> Option<Vec<u8>> {
        None
    }

    /// Takes the peer's transport parameters; false when the transport has none.
    fn take_peer_transport_parameters(&mut self, _params: &[u8]) -> bool {
        false
    }

    /// True once the peer's transport parameters arrived.
    fn has_peer_transport_parameters(&self) -> bool {
        false
    }

    /// Both traffic secrets of a level, for a transport that protects its own packets.
    fn traffic_secrets(
        &mut self,
        _level: KeyLevel,
        _suite: &'static Tls13Suite,
        _client: &Secret,
        _server: &Secret,
    ) {
    }

    /// client_early_traffic_secret, for a transport that protects its own packets.
    fn early_secret(&mut self, _suite: &'static Tls13Suite, _secret: &Secret) {}

    /// 0-RTT refused: the early keys are of no further use.
    fn discard_early_keys(&mut self) {}
}
