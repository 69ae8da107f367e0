//! State shared by the handshake and the connection: the record states, the outgoing queue,
//! the events, and what the handshake negotiated. The handshake writes its outputs here.

use std::collections::VecDeque;
use std::sync::Arc;

use super::{Direction, Event, KeyLog, RecordObserver};
use crate::codec::{CipherSuite, HandshakeType, NamedGroup, ProtocolVersion, SignatureScheme};
use crate::crypto::hash::{HashAlg, Transcript};
use crate::crypto::secret::Secret;
use crate::msgs::HandshakePayload;
use crate::record::{OutQueue, ReadState, WriteState};

/// Which end of the connection we are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

/// What the handshake settled on; the connection's queries read from here.
#[derive(Default)]
pub(crate) struct Negotiated {
    pub version: Option<ProtocolVersion>,
    pub suite: Option<CipherSuite>,
    pub group: Option<NamedGroup>,
    pub sig_scheme: Option<SignatureScheme>,
    pub alpn: Option<Vec<u8>>,
    pub sni: Option<String>,
    pub peer_chain: Vec<Vec<u8>>,
    pub client_random: [u8; 32],
    pub server_random: [u8; 32],
    pub resumed: bool,
    pub hrr: bool,
    /// RFC 8446 7.5 exporter master secret and its hash.
    pub exporter: Option<(HashAlg, Secret)>,
    /// RFC 8446 7.5 early exporter master secret (when 0-RTT was offered with a PSK).
    pub early_exporter: Option<(HashAlg, Secret)>,
    /// 0-RTT outcome: `None` when not offered, else whether the server accepted it.
    pub early_data: Option<bool>,
    /// TLS 1.2: the RFC 5705 exporter's PRF hash and master secret.
    pub exporter12: Option<(HashAlg, Secret)>,
    /// TLS 1.2: the extended master secret (RFC 7627) is in use.
    pub ems: bool,
    /// RFC 8449: the record_size_limit we advertised and the peer acknowledged; received
    /// protected records larger than it are record_overflow.
    pub own_record_limit: Option<u16>,
    /// The certificate we sent (server: ours; client: for client authentication), if any.
    pub own_cert: Option<Arc<super::CertifiedKey>>,
}

/// 0-RTT bookkeeping the connection needs outside the handshake states.
#[derive(Default)]
pub(crate) struct EarlyData {
    /// Client: bytes of early data we may still queue (`Some` while 0-RTT may be written).
    pub send_budget: Option<usize>,
    /// Server: early data bytes still acceptable (RFC 8446 4.2.10 max_early_data_size).
    pub receive_budget: usize,
    /// Server: bytes of 0-RTT records we still skip after rejecting early data (RFC 8446
    /// 4.2.10); cleared by the first record that deprotects.
    pub skip_budget: usize,
}

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
        }
    }

    /// A TLS-encoded handshake message (4-byte header) as it goes on the wire and into the
    /// transcript: unchanged for TLS; for DTLS with the header of an unfragmented message,
    /// `message_seq` taken from our counter (RFC 6347 4.2.2, 4.2.6).
    pub fn frame_handshake(&mut self, tls: Vec<u8>) -> Vec<u8> {
        match self.dtls_send_seq.as_mut() {
            None => tls,
            Some(seq) => {
                let framed = crate::dtls::fragment::dtls_framing(&tls, *seq);
                *seq = seq.wrapping_add(1);
                framed
            }
        }
    }

    /// Encodes a handshake message, adds it to the transcript and queues it.
    pub fn send_handshake(&mut self, msg: &HandshakePayload, transcript: Option<&mut Transcript>) -> Vec<u8> {
        let bytes = self.frame_handshake(msg.encode());
        if let Some(t) = transcript {
            t.update(&bytes);
        }
        if let Some(obs) = &self.observer {
            let body = bytes.len().saturating_sub(4);
            obs.handshake(Direction::Sent, msg.typ(), body, self.queued_write_epoch);
        }
        // QUIC: no records; the bytes go out at the current encryption level (RFC 9001 4.1).
        match &mut self.quic {
            Some(q) => q.push_handshake(bytes.clone()),
            None => self.queue.push_handshake(bytes.clone()),
        }
        bytes
    }

    /// [`send_handshake`](Self::send_handshake) for a message encoded ahead of time (a
    /// config's Certificate), header included.
    pub fn send_handshake_encoded(
        &mut self,
        typ: HandshakeType,
        bytes: &[u8],
        transcript: Option<&mut Transcript>,
    ) {
        let bytes = self.frame_handshake(bytes.to_vec());
        if let Some(t) = transcript {
            t.update(&bytes);
        }
        if let Some(obs) = &self.observer {
            obs.handshake(
                Direction::Sent,
                typ,
                bytes.len().saturating_sub(4),
                self.queued_write_epoch,
            );
        }
        match &mut self.quic {
            Some(q) => q.push_handshake(bytes),
            None => self.queue.push_handshake(bytes),
        }
    }

    /// True on a QUIC connection (RFC 9001): no records, no compatibility mode, no
    /// EndOfEarlyData, no KeyUpdate messages.
    pub fn is_quic(&self) -> bool {
        self.quic.is_some()
    }

    pub fn install_read(&mut self, state: ReadState) {
        self.read = state;
        self.read_changed = true;
        self.read_epoch = self.read_epoch.wrapping_add(1);
    }

    /// RFC 5246 7.1: the peer's ChangeCipherSpec makes the pending read state current.
    pub fn activate_pending_read(&mut self) -> Result<(), crate::error::Error> {
        let pending = self.pending_read.take().ok_or(crate::error::Error::InvalidState(
            "ChangeCipherSpec without pending keys",
        ))?;
        self.install_read(pending);
        Ok(())
    }

    pub fn install_write(&mut self, state: WriteState) {
        self.queue.push_key_change(state);
        self.queued_write_epoch = self.queued_write_epoch.wrapping_add(1);
    }

    /// Writes one NSS key log line (if the application asked for them).
    pub fn log_secret(&self, label: &str, secret: &Secret) {
        if self.key_log.will_log(label) {
            self.key_log
                .log(label, &self.neg.client_random, secret.as_bytes());
        }
    }
}
