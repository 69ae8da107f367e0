//! What the three connection types share, with no knowledge of any of them: [`Common`],
//! the state between the handshake and the connection (record states, outgoing queue,
//! events, what the handshake negotiated), and the receive-side policy ([`Inbound`],
//! [`Blinding`]) and plaintext rules (`plaintext`) they all apply.
//!
//! [`Common`] is the handshake's [`Output`](crate::handshake::output::Output) for every
//! transport: it frames handshake messages (TLS, DTLS 1.2, DTLS 1.3, QUIC) and turns traffic
//! secrets into record states.

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

pub(crate) struct Common {
    pub side: Side,
    pub queue: OutQueue,
    pub read: ReadState,
    /// Set when the handshake replaced the read state; the connection then checks that no
    /// partial handshake message straddles the change (RFC 8446 5.1).
    pub read_changed: bool,
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
    /// QUIC (RFC 9001, `crate::quic`): handshake messages and secrets go here instead of the
    /// record layer. `None` on TLS connections.
    pub quic: Option<Box<crate::quic::QuicSink>>,
    /// DTLS 1.2 (`crate::dtls::conn`): the message_seq of our next handshake message (RFC
    /// 6347 4.2.2). `Some` switches [`frame_handshake`](Self::frame_handshake) to the 12-byte
    /// DTLS header, which the transcript then hashes (RFC 6347 4.2.6); `None` for TLS.
    pub dtls_send_seq: Option<u16>,
    /// DTLS 1.3 transcript rule (RFC 9147 5.2): handshake messages go on the wire with the
    /// 12-byte DTLS header but into the transcript in their TLS 1.3 form (4-byte header).
    /// Set while the TLS 1.3 state machines run over DTLS.
    pub dtls13: bool,
    /// DTLS 1.3 epochs of the last keys installed for writing and reading (RFC 9147 6.1).
    pub dtls13_write_epoch: u64,
    pub dtls13_read_epoch: u64,
}

impl Common {
    pub fn new(side: Side, key_log: Arc<dyn KeyLog>, first_wire_version: u16) -> Self {
        let mut queue = OutQueue::default();
        queue.push_key_change(WriteState::plaintext(first_wire_version));
        Common {
            side,
            queue,
            read: ReadState::plaintext(),
            read_changed: false,
            pending_read: None,
            events: VecDeque::new(),
            neg: Negotiated::default(),
            key_log,
            max_fragment: crate::record::MAX_PLAINTEXT,
            observer: None,
            read_epoch: 0,
            queued_write_epoch: 0,
            early: EarlyData::default(),
            quic: None,
            dtls_send_seq: None,
            dtls13: false,
            dtls13_write_epoch: 0,
            dtls13_read_epoch: 0,
        }
    }

    /// True on a DTLS connection (either version).
    pub fn is_dtls(&self) -> bool {
        self.dtls_send_seq.is_some()
    }

    /// True on a QUIC connection (RFC 9001).
    pub fn is_quic(&self) -> bool {
        self.quic.is_some()
    }

    /// Which DTLS 1.3 epoch a key of `level` opens (RFC 9147 6.1), after `last`.
    fn epoch13(last: u64, level: KeyLevel) -> u64 {
        match level {
            KeyLevel::Early => 1,
            KeyLevel::Handshake => 2,
            KeyLevel::Application => 3,
            KeyLevel::Update => last + 1,
        }
    }

    /// A TLS-encoded handshake message (4-byte header) as it goes on the wire and into the
    /// transcript: unchanged for TLS; for DTLS with the header of an unfragmented message,
    /// `message_seq` taken from our counter (RFC 6347 4.2.2, 4.2.6).
    fn frame_handshake(&mut self, tls: Vec<u8>) -> Vec<u8> {
        match self.dtls_send_seq.as_mut() {
            None => tls,
            Some(seq) => {
                let framed = crate::dtls::fragment::dtls_framing(&tls, *seq);
                *seq = seq.wrapping_add(1);
                framed
            }
        }
    }

    /// Frames a TLS-encoded handshake message for the wire and returns (wire bytes,
    /// transcript bytes): the same for TLS and DTLS 1.2; on DTLS 1.3 the transcript takes
    /// the TLS form (RFC 9147 5.2).
    fn frame_for_transcript(&mut self, tls: Vec<u8>) -> (Vec<u8>, Vec<u8>) {
        if self.dtls13 {
            let wire = self.frame_handshake(tls.clone());
            (wire, tls)
        } else {
            let wire = self.frame_handshake(tls);
            (wire.clone(), wire)
        }
    }

    /// Queues framed handshake bytes: as records, or at QUIC's current level (RFC 9001 4.1).
    fn push_handshake_wire(&mut self, wire: Vec<u8>) {
        match &mut self.quic {
            Some(q) => q.push_handshake(wire),
            None => self.queue.push_handshake(wire),
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
        let (wire, bytes) = self.frame_for_transcript(tls);
        if let Some(t) = transcript {
            t.update(&bytes);
        }
        self.observe_sent(typ, &wire);
        self.push_handshake_wire(wire);
        bytes
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

impl Output for Common {
    fn transport(&self) -> Transport {
        if self.is_quic() {
            Transport::Quic
        } else if self.is_dtls() {
            Transport::Dtls
        } else {
            Transport::Tls
        }
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
        let wire = self.frame_handshake(tls);
        log.add(&wire)?;
        self.observe_sent(typ, &wire);
        self.queue.push_handshake(wire);
        Ok(())
    }

    fn last_sent_for_log12(&self, tls: Vec<u8>) -> Vec<u8> {
        match self.dtls_send_seq {
            Some(next) => crate::dtls::fragment::dtls_framing(&tls, next.wrapping_sub(1)),
            None => tls,
        }
    }

    fn send_ccs(&mut self) {
        self.queue.push_ccs();
    }

    fn install_write13(&mut self, suite: &'static Tls13Suite, secret: &Prk, level: KeyLevel) {
        let state = if self.is_dtls() {
            let e = Self::epoch13(self.dtls13_write_epoch, level);
            self.dtls13_write_epoch = e;
            WriteState::dtls13(crate::dtls::Dtls13Keys::from_prk(e, suite.aead, secret))
        } else {
            WriteState::protected(
                RecordKey::tls13_prk(suite.aead, secret),
                RecordVersion::Tls13,
                self.max_fragment,
            )
        };
        self.install_write(state);
    }

    fn install_read13(&mut self, suite: &'static Tls13Suite, secret: &Prk, level: KeyLevel) {
        let state = if self.is_dtls() {
            let e = Self::epoch13(self.dtls13_read_epoch, level);
            self.dtls13_read_epoch = e;
            ReadState::dtls13(crate::dtls::Dtls13Keys::from_prk(e, suite.aead, secret))
        } else {
            ReadState::protected(RecordKey::tls13_prk(suite.aead, secret), RecordVersion::Tls13)
        };
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
        self.quic.as_ref().map(|q| q.our_params())
    }

    fn take_peer_transport_parameters(&mut self, params: &[u8]) -> bool {
        match self.quic.as_mut() {
            Some(q) => {
                q.set_peer_params(params);
                true
            }
            None => false,
        }
    }

    fn has_peer_transport_parameters(&self) -> bool {
        self.quic.as_ref().is_some_and(|q| q.has_peer_params())
    }

    fn traffic_secrets(
        &mut self,
        level: KeyLevel,
        suite: &'static Tls13Suite,
        client: &Secret,
        server: &Secret,
    ) {
        if let Some(q) = self.quic.as_mut() {
            match level {
                KeyLevel::Handshake => q.handshake_keys(suite, client, server),
                KeyLevel::Application => q.one_rtt_keys(suite, client, server),
                KeyLevel::Early | KeyLevel::Update => {}
            }
        }
    }

    fn early_secret(&mut self, suite: &'static Tls13Suite, secret: &Secret) {
        if let Some(q) = self.quic.as_mut() {
            q.early_keys(suite, secret);
        }
    }

    fn discard_early_keys(&mut self) {
        if let Some(q) = self.quic.as_mut() {
            q.drop_early_keys();
        }
    }
}
