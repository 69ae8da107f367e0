//! State shared by the handshake and the connection: the record states, the outgoing queue,
//! the events, and what the handshake negotiated. The handshake writes its outputs here.

use std::collections::VecDeque;
use std::sync::Arc;

use rustls_pki_types::CertificateDer;

use super::{Direction, Event, HandshakeKind, KeyLog, RecordObserver};
use crate::codec::{CipherSuite, HandshakeType, NamedGroup, ProtocolVersion, SignatureScheme};
use crate::crypto::hash::{HashAlg, Transcript};
use crate::crypto::key_schedule::{export_keying_material_prefixed, max_export_len};
use crate::crypto::prf::export_keying_material_tls12;
use crate::crypto::secret::Secret;
use crate::crypto::suites::Tls13Suite;
use crate::error::Error;
use crate::msgs::HandshakePayload;
use crate::record::{OutQueue, ReadState, WriteState};

/// Which end of the connection we are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The end that sends the ClientHello.
    Client,
    /// The end that answers it.
    Server,
}

/// The transport a connection runs over. Sessions (TLS 1.3 tickets, TLS 1.2 sessions) are
/// bound to the transport that made them: DTLS 1.3 derives its PSKs under the "dtls13" labels
/// (RFC 9147 5.9), QUIC tickets follow RFC 9001 4.6.1, so one transport's session never
/// resumes a connection of another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Transport {
    Tls,
    Dtls,
    Quic,
}

impl Transport {
    /// The byte a sealed session records.
    pub fn code(self) -> u8 {
        match self {
            Transport::Tls => 0,
            Transport::Dtls => 1,
            Transport::Quic => 2,
        }
    }

    pub fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(Transport::Tls),
            1 => Some(Transport::Dtls),
            2 => Some(Transport::Quic),
            _ => None,
        }
    }
}

/// What the handshake settled on; the connection's queries read from here.
#[derive(Default)]
pub(crate) struct Negotiated {
    pub version: Option<ProtocolVersion>,
    pub suite: Option<CipherSuite>,
    pub group: Option<NamedGroup>,
    pub sig_scheme: Option<SignatureScheme>,
    /// The scheme of the client's CertificateVerify (client authentication).
    pub client_sig_scheme: Option<SignatureScheme>,
    pub alpn: Option<Vec<u8>>,
    pub sni: Option<String>,
    pub peer_chain: Vec<CertificateDer<'static>>,
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

impl Negotiated {
    /// How a completed handshake went (the caller checks it completed): the first that
    /// applies of 0-RTT accepted, 0-RTT rejected, HelloRetryRequest, resumed, full.
    pub fn handshake_kind(&self) -> HandshakeKind {
        match self.early_data {
            Some(true) => HandshakeKind::EarlyDataAccepted,
            Some(false) => HandshakeKind::EarlyDataRejected,
            None if self.hrr => HandshakeKind::HelloRetry,
            None if self.resumed => HandshakeKind::Resumed,
            None => HandshakeKind::Full,
        }
    }

    /// The certificate chain we sent; empty if none (a resumed handshake sends none).
    pub fn sent_certificates(&self) -> &[CertificateDer<'static>] {
        self.own_cert.as_ref().map_or(&[], |c| c.chain.as_slice())
    }

    /// The RFC 5705 / RFC 8446 7.5 exporter of every connection kind: TLS 1.2's PRF over
    /// the randoms, or TLS 1.3's under `prefix` (`"dtls13"` on DTLS 1.3, RFC 9147 5.9).
    pub fn export_keying_material(
        &self,
        prefix: &'static [u8],
        out: &mut [u8],
        label: &[u8],
        context: Option<&[u8]>,
    ) -> Result<(), Error> {
        if let Some((hash, master)) = &self.exporter12 {
            // RFC 7627 5.4: without the extended master secret the master secret may be
            // shared with a man in the middle, so nothing is exported from it.
            if !self.ems {
                return Err(Error::InvalidState(
                    "no exporter without the extended master secret",
                ));
            }
            // RFC 5705 4: the PRF over the randoms (and the context, if any).
            return export_keying_material_tls12(
                *hash,
                master.as_bytes(),
                label,
                &self.client_random,
                &self.server_random,
                context,
                out,
            )
            .ok_or(Error::Config("exporter context too long".into()));
        }
        let Some((hash, secret)) = &self.exporter else {
            return Err(Error::InvalidState("exporter before the handshake completed"));
        };
        // HKDF-Expand-Label limits: output at most 255 hash lengths, label at most 249 bytes.
        if out.len() > max_export_len(*hash) || label.len() > 249 {
            return Err(Error::Config("exporter output or label too long".into()));
        }
        export_keying_material_prefixed(*hash, prefix, secret.as_bytes(), label, context, out);
        Ok(())
    }
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
    /// DTLS 1.3 transcript rule (RFC 9147 5.2): handshake messages go on the wire with the
    /// 12-byte DTLS header but into the transcript in their TLS 1.3 form (4-byte header).
    /// Set while the TLS 1.3 state machines run over DTLS.
    pub dtls13: bool,
    /// DTLS 1.3 epochs of the last keys installed for writing and reading (RFC 9147 6.1).
    pub dtls13_write_epoch: u64,
    pub dtls13_read_epoch: u64,
}

/// Which DTLS 1.3 epoch a TLS 1.3 traffic secret opens (RFC 9147 6.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Epoch13 {
    /// client_early_traffic_secret: epoch 1.
    Early,
    /// \[sender\]_handshake_traffic_secret: epoch 2.
    Handshake,
    /// \[sender\]_application_traffic_secret_0: epoch 3.
    Application,
    /// A KeyUpdate's next secret: the previous epoch plus one.
    Update,
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

    /// The transport this connection runs over (sessions are bound to it).
    pub fn transport(&self) -> Transport {
        if self.is_quic() {
            Transport::Quic
        } else if self.is_dtls() {
            Transport::Dtls
        } else {
            Transport::Tls
        }
    }

    /// TLS 1.3 as this transport spells it (DTLS 1.3 is 0xFEFC, RFC 9147 5.3).
    pub fn v13(&self) -> ProtocolVersion {
        if self.is_dtls() {
            ProtocolVersion::DTLSv1_3
        } else {
            ProtocolVersion::TLSv1_3
        }
    }

    /// TLS 1.2 as this transport spells it: also the legacy_version of TLS 1.3 hellos.
    pub fn v12(&self) -> ProtocolVersion {
        if self.is_dtls() {
            ProtocolVersion::DTLSv1_2
        } else {
            ProtocolVersion::TLSv1_2
        }
    }

    /// The `HKDF-Expand-Label` prefix of this transport's TLS 1.3 key schedule (RFC 9147 5.9:
    /// `"dtls13"`; every TLS 1.3 secret of a DTLS connection is a DTLS 1.3 one).
    pub fn label_prefix(&self) -> &'static [u8] {
        if self.is_dtls() {
            crate::crypto::hkdf::DTLS13_LABEL_PREFIX
        } else {
            crate::crypto::hkdf::TLS13_LABEL_PREFIX
        }
    }

    /// A TLS 1.3 key schedule with this transport's labels.
    pub fn key_schedule13(&self, alg: HashAlg, psk: Option<&[u8]>) -> crate::crypto::KeySchedule13 {
        crate::crypto::KeySchedule13::with_prefix(alg, self.label_prefix(), psk)
    }

    /// The [`Prk`](crate::crypto::Prk) of a TLS 1.3 secret with this transport's labels.
    pub fn prk13(&self, alg: HashAlg, secret: &Secret) -> crate::crypto::Prk {
        crate::crypto::Prk::with_prefix(alg, self.label_prefix(), secret.as_bytes())
    }

    fn epoch13(last: u64, epoch: Epoch13) -> u64 {
        match epoch {
            Epoch13::Early => 1,
            Epoch13::Handshake => 2,
            Epoch13::Application => 3,
            Epoch13::Update => last + 1,
        }
    }

    /// Installs TLS 1.3 write keys from a traffic secret's Prk: a TLS record state, or on
    /// DTLS the keys of `epoch` for the datagram record layer.
    pub fn install_write13(&mut self, suite: &Tls13Suite, secret: &crate::crypto::Prk, epoch: Epoch13) {
        let state = if self.is_dtls() {
            let e = Self::epoch13(self.dtls13_write_epoch, epoch);
            self.dtls13_write_epoch = e;
            WriteState::dtls13(crate::dtls::Dtls13Keys::from_prk(e, suite.aead, secret))
        } else {
            WriteState::protected(
                crate::crypto::aead::RecordKey::tls13_prk(suite.aead, secret),
                crate::record::RecordVersion::Tls13,
                self.max_fragment,
            )
        };
        self.install_write(state);
    }

    /// The read side of [`install_write13`](Self::install_write13).
    pub fn install_read13(&mut self, suite: &Tls13Suite, secret: &crate::crypto::Prk, epoch: Epoch13) {
        let state = if self.is_dtls() {
            let e = Self::epoch13(self.dtls13_read_epoch, epoch);
            self.dtls13_read_epoch = e;
            ReadState::dtls13(crate::dtls::Dtls13Keys::from_prk(e, suite.aead, secret))
        } else {
            ReadState::protected(
                crate::crypto::aead::RecordKey::tls13_prk(suite.aead, secret),
                crate::record::RecordVersion::Tls13,
            )
        };
        self.install_read(state);
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

    /// Encodes a handshake message, adds it to the transcript and queues it; returns the
    /// bytes the transcript hashed.
    pub fn send_handshake(&mut self, msg: &HandshakePayload, transcript: Option<&mut Transcript>) -> Vec<u8> {
        let (wire, bytes) = self.frame_for_transcript(msg.encode());
        if let Some(t) = transcript {
            t.update(&bytes);
        }
        if let Some(obs) = &self.observer {
            let body = bytes.len().saturating_sub(4);
            obs.handshake(Direction::Sent, msg.typ(), body, self.queued_write_epoch);
        }
        // QUIC: no records; the bytes go out at the current encryption level (RFC 9001 4.1).
        match &mut self.quic {
            Some(q) => q.push_handshake(wire),
            None => self.queue.push_handshake(wire),
        }
        bytes
    }

    /// Queues a handshake message already framed for the wire (TLS 1.2 keeps its own
    /// transcript, the handshake log), telling the record observer like
    /// [`send_handshake`](Self::send_handshake) does.
    pub fn push_handshake_framed(&mut self, wire: Vec<u8>) {
        if let (Some(obs), [typ, a, b, c, ..]) = (&self.observer, wire.as_slice()) {
            // Both the TLS and the DTLS header start with type and 24-bit body length.
            let body = u32::from_be_bytes([0, *a, *b, *c]) as usize;
            obs.handshake(
                Direction::Sent,
                HandshakeType::from(*typ),
                body,
                self.queued_write_epoch,
            );
        }
        self.queue.push_handshake(wire);
    }

    /// [`send_handshake`](Self::send_handshake) for a message encoded ahead of time (a
    /// config's Certificate), header included.
    pub fn send_handshake_encoded(
        &mut self,
        typ: HandshakeType,
        bytes: &[u8],
        transcript: Option<&mut Transcript>,
    ) {
        let (wire, bytes) = self.frame_for_transcript(bytes.to_vec());
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
            Some(q) => q.push_handshake(wire),
            None => self.queue.push_handshake(wire),
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
