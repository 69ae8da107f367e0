//! The public connection: bytes in (`read_tls`), records out (`write_tls`), events and
//! plaintext between. It never touches a socket; any `io::Read`/`io::Write` will do.

mod controls;
mod inplace;
mod outbound;
mod secrets;
mod starttls;
mod stream;

use std::io;
use std::sync::Arc;

pub use crate::config::{decode_hex, ExternalPsk, PskLookup, PskStore, MAX_PSK_IDENTITY_LEN, MAX_PSK_LEN};
pub use crate::config::{
    key_log_line, CertifiedKey, ClientConfig, ClientConfigBuilder, Direction, FixedClock, KeyLog, KeyLogFile,
    NoKeyLog, RecordObserver, RecordSizing, SecurityPolicy, ServerConfig, ServerConfigBuilder, SystemClock,
    TimeProvider, DEFAULT_MAX_BUFFERED_PLAINTEXT, DEFAULT_RECORDS_PER_KEY, DEFAULT_SIGNATURE_SCHEMES,
    DEFAULT_TICKETS, DEFAULT_TICKET_LIFETIME, LOW_LATENCY_RECORD_LEN, MAX_TICKETS_PER_HANDSHAKE,
};
pub use crate::event::Event;
pub use crate::handshake::established::{MAX_KEY_UPDATES_IN_A_ROW, MAX_TICKETS};
pub use crate::handshake::negotiated::{EarlyDataReason, HandshakeKind};
pub use crate::handshake::output::Side;
pub use crate::handshake::MAX_CERTIFICATE_CHAIN_LEN;
pub use crate::session::ticket12::{AeadTicketSealer, ClientSessions12, SessionCache12, TicketSealer};
pub use crate::session::tickets::{
    AntiReplay, AntiReplayCheck, ClientSessionStore, SessionCache, SessionStorage, SessionStore,
    TicketKeySource, TicketKeys, DEFAULT_FRESHNESS_WINDOW_MS, DEFAULT_TICKET_KEY_PERIOD, MAX_TICKET_LIFETIME,
};
pub use controls::ClientHelloInfo;
pub use inplace::{InPlace, Sealed};
pub use secrets::{
    ConnectionBlob, KtlsCryptoInfo, KtlsSecrets, KTLS_CIPHER_AES_CCM_128, KTLS_CIPHER_AES_GCM_128,
    KTLS_CIPHER_AES_GCM_256, KTLS_CIPHER_CHACHA20_POLY1305, KTLS_TLS_1_2_VERSION, KTLS_TLS_1_3_VERSION,
};
pub use starttls::{PlaintextAfterUpgrade, PlaintextPhase, PlaintextTooLong};
pub use stream::{Stream, LINGER_BYTES, LINGER_TIME};

use crate::codec::{AlertDescription, AlertLevel, Codec, ContentType, HandshakeType, ProtocolVersion};
use crate::common::plaintext::{nothing_buffered, plaintext_room, read_plaintext};
use crate::common::{Common, Inbound, Transport, Wire};
pub use crate::common::{MAX_EMPTY_RECORDS_IN_A_ROW, MAX_WARNING_ALERTS_IN_A_ROW};
use crate::error::{Error, Misuse, PeerMisbehaved};
pub use crate::event::AlertRecord;
use crate::handshake::{check_message_len, client13, server13, Handshake, Msg};
use crate::msgs::{AlertMessage, Dialect, HandshakePayload};
use crate::pki::ServerName;
use crate::record::{Deframer, HandshakeJoiner, OutItem, Plaintext, RecordHeader, WriteState};

/// TLS's part of the handshake output: the [`Wire`] defaults (handshake messages in records,
/// TLS 1.3 record protection, RFC 8446 5).
pub(crate) struct TlsWire;

impl Wire for TlsWire {
    fn transport(&self) -> Transport {
        Transport::Tls
    }
}

/// TLS 1.3 ChangeCipherSpec records dropped per handshake. RFC 8446 5 makes a receiver drop
/// each one (D.4 sends one; a client that offered 0-RTT and then got a HelloRetryRequest may
/// send two); the bound stops a flood, like the one on empty records.
pub const MAX_IGNORED_CCS: u32 = 32;

/// A TLS connection, client or server, as a pure state machine.
///
/// It owns no socket: the caller moves bytes in with [`read_tls`](Self::read_tls) and out
/// with [`write_tls`](Self::write_tls), and learns what happened from
/// [`next_event`](Self::next_event) and [`reader`](Self::reader). The
/// [crate documentation](crate#the-event-loop) has a runnable event loop.
///
/// # Lifecycle
///
/// 1. Create it with [`client`](Self::client) (or [`client_for`](Self::client_for)),
///    [`server`](Self::server), or [`server_deferred`](Self::server_deferred) to choose the server's config after the
///    ClientHello ([`Event::ClientHello`]). A client's first flight is queued at once: call
///    `write_tls` before waiting for the server.
/// 2. Handshake: repeat the loop below until [`Event::HandshakeComplete`]
///    ([`is_handshaking`](Self::is_handshaking) turns false). Plaintext written with
///    [`writer`](Self::writer) before then is queued and sent as soon as the keys allow.
/// 3. Traffic: the same loop. [`Event::Data`] announces plaintext for
///    [`reader`](Self::reader); [`Event::KeyUpdated`] and [`Event::SessionTicket`] are
///    informational.
/// 4. Close: [`send_close_notify`](Self::send_close_notify) ends our direction (we may still
///    read); [`Event::PeerClosed`] (and `Ok(0)` from the reader) ends theirs. Stop when both
///    are done and [`wants_write`](Self::wants_write) is false.
///
/// # The loop
///
/// Each time the transport is readable, or after queuing plaintext:
///
/// - [`read_tls`](Self::read_tls) while [`wants_read`](Self::wants_read) and the transport has
///   bytes (`Ok(0)` is EOF of the transport: without a close_notify, treat it as truncation);
/// - [`process_new_packets`](Self::process_new_packets) once;
/// - [`next_event`](Self::next_event) until `None`, and [`reader`](Self::reader) until it
///   returns `WouldBlock`, which only means "no plaintext buffered now";
/// - [`write_tls`](Self::write_tls) while [`wants_write`](Self::wants_write).
///
/// # Errors
///
/// When `process_new_packets` fails, the fatal alert for that error is already queued: flush
/// it with `write_tls`, then drop the connection. The error stays in
/// [`error`](Self::error) and every later call returns it again; the reader returns it too.
pub struct Connection {
    common: Common<TlsWire>,
    /// `None` only after a fatal error consumed the state.
    handshake: Option<Handshake>,
    deframer: Deframer,
    joiner: HandshakeJoiner,
    /// The write state in force for the next record we encrypt.
    write: WriteState,
    /// Protected records waiting for `write_tls`, and application data framed for them.
    sendbuf: outbound::SendBuf,
    /// Plaintext waiting for `reader()`.
    received: Vec<u8>,
    received_start: usize,
    /// Server: accepted 0-RTT plaintext waiting for `early_data_reader()` (capped by
    /// max_early_data_size).
    early_received: Vec<u8>,
    error: Option<Error>,
    peer_closed: bool,
    sent_close: bool,
    /// TLS 1.3 ChangeCipherSpec records dropped so far (bounded by [`MAX_IGNORED_CCS`]).
    ccs_ignored: u32,
    /// Back-pressure and the caps on empty records and warnings (shared with DTLS).
    inbound: Inbound,
    records_per_key: u64,
    key_update_queued: bool,
    /// Key changes applied to our sending direction (for the record observer); the first
    /// change installs the plaintext state, so it starts one below zero.
    write_epoch: u16,
    /// Set until the buffers sized for the handshake have been freed once it is over.
    trim_pending: bool,
    /// State of the connection controls (alerts seen, application context, ...).
    controls: controls::Controls,
}

impl Connection {
    /// A client connecting to `server_name` (a DNS name or an IP address literal).
    pub fn client(config: Arc<ClientConfig>, server_name: &str) -> Result<Self, Error> {
        let name = ServerName::parse(server_name)
            .map_err(|_| Error::Config(format!("invalid server name {server_name:?}")))?;
        Self::client_for(config, name)
    }

    /// A client connecting to a name parsed already.
    pub fn client_for(config: Arc<ClientConfig>, name: ServerName) -> Result<Self, Error> {
        let mut conn = Connection::new(Side::Client, &config.shared, 0x0301);
        let hs = client13::start(config, Some(name), &mut conn.common)?;
        conn.handshake = Some(hs);
        Ok(conn)
    }

    /// A server; it waits for the client's first flight.
    pub fn server(config: Arc<ServerConfig>) -> Result<Self, Error> {
        let mut conn = Connection::new(Side::Server, &config.shared, 0x0303);
        conn.handshake = Some(server13::start(config));
        Ok(conn)
    }

    fn new(side: Side, shared: &crate::config::Shared, first_version: u16) -> Self {
        let mut common = Common::new(side, shared.key_log.clone(), first_version, TlsWire);
        common.observer = shared.record_observer.clone();
        Connection {
            common,
            handshake: None,
            deframer: Deframer::default(),
            joiner: HandshakeJoiner::default(),
            write: WriteState::plaintext(first_version),
            sendbuf: outbound::SendBuf::default(),
            received: Vec::new(),
            received_start: 0,
            early_received: Vec::new(),
            error: None,
            peer_closed: false,
            sent_close: false,
            ccs_ignored: 0,
            inbound: Inbound::new(shared.max_buffered_plaintext),
            records_per_key: shared.records_per_key,
            key_update_queued: false,
            write_epoch: u16::MAX,
            trim_pending: true,
            controls: controls::Controls::new(shared),
        }
    }

    /// Whether this is the client or the server end.
    pub fn side(&self) -> Side {
        self.common.side
    }

    /// Reads TLS bytes from `rd` into the inbound buffer (one `read` call). Returns 0 at EOF.
    pub fn read_tls(&mut self, rd: &mut dyn io::Read) -> io::Result<usize> {
        if self.peer_closed {
            return Ok(0);
        }
        if self.deframer.held_len() > 0 {
            // Unread plaintext still lies where it was opened: move it out of the way.
            self.compact_received();
            self.deframer.spill_held(&mut self.received);
        }
        self.deframer.read_from(rd)
    }

    /// Drops the plaintext of `received` already read once it is all read.
    fn compact_received(&mut self) {
        if self.received_start == self.received.len() {
            self.received.clear();
            self.received_start = 0;
        }
    }

    /// Encrypts what is queued and writes protected records to `wr` (one `write` call).
    pub fn write_tls(&mut self, wr: &mut dyn io::Write) -> io::Result<usize> {
        self.encrypt_pending().map_err(io::Error::from)?;
        if self.sendbuf.is_empty() {
            return Ok(0);
        }
        let n = wr.write(self.sendbuf.pending())?;
        self.sendbuf.consume(n);
        self.trim_after_handshake();
        Ok(n)
    }

    /// Runs the state machine over the buffered bytes. A fatal error queues its alert (send
    /// it with `write_tls`) and is returned again by every later call.
    pub fn process_new_packets(&mut self) -> Result<(), Error> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        // The deframer lends each record's payload in place while the rest of the connection
        // processes it; taking it out (an empty Vec, no allocation) splits the borrow.
        let mut deframer = std::mem::take(&mut self.deframer);
        let res = self.process_deframed(&mut deframer);
        self.deframer = deframer;
        self.trim_after_handshake();
        res
    }

    /// Once the handshake is over and nothing is buffered, frees the buffers it grew (an idle
    /// connection then holds little more than its keys). Done once: steady-state traffic keeps
    /// its buffers.
    fn trim_after_handshake(&mut self) {
        if self.trim_pending
            && self.error.is_none()
            && self.handshake.as_ref().is_some_and(|h| h.is_established())
            && self.deframer.buffered() == 0
            && self.sendbuf.is_empty()
            && self.common.queue.is_empty()
        {
            self.trim_pending = false;
            self.release_buffers();
        }
    }

    fn process_deframed(&mut self, deframer: &mut Deframer) -> Result<(), Error> {
        loop {
            // The deframer is out of `self` here: count what it holds from the local.
            let buffered = self.received.len() - self.received_start + deframer.held_len();
            if self.peer_closed || !self.inbound.has_room(buffered) {
                return Ok(());
            }
            // A deferred server waits for its config with the rest of the input buffered.
            if matches!(self.controls.deferred, controls::Deferred::Paused { .. }) {
                return Ok(());
            }
            let (header, payload) = match deframer.pop() {
                Ok(Some(rec)) => rec,
                Ok(None) => return Ok(()),
                Err(e) => return Err(self.fail(e)),
            };
            match self.process_record(&header, payload) {
                Ok(Some(range)) => {
                    // Delivered from where it was opened: `reader()` copies it out, or
                    // lends it (`BufRead::fill_buf`).
                    self.common.data_arrived(range.len());
                    deframer.hold_in_last(range);
                }
                Ok(None) => {}
                Err(e) => return Err(self.fail(e)),
            }
        }
    }

    fn fail(&mut self, e: Error) -> Error {
        self.controls.blinding.failed(&e);
        match e.alert() {
            Some(alert) => self.common.queue.push_alert(AlertLevel::Fatal, alert),
            // RFC 8446 6.2: on receipt of a fatal alert, close immediately: a flight queued
            // by records processed before it must not go out after it.
            None => self.common.queue.abandon(),
        }
        self.error = Some(e.clone());
        e
    }

    /// Deprotects one record in place and applies every record rule. Returns where non-empty
    /// application data lies in `payload`; the caller delivers it.
    fn process_record(
        &mut self,
        header: &RecordHeader,
        payload: &mut [u8],
    ) -> Result<Option<core::ops::Range<usize>>, Error> {
        // RFC 5246 6.2.1 and E.1: the record version is the negotiated one once a TLS 1.2
        // ServerHello is out (only records before it may carry another); a peer that changes
        // it is broken, and OpenSSL and BoringSSL refuse it too. (TLS 1.3 ignores the field,
        // RFC 8446 5.1.)
        if self.common.neg.version == Some(ProtocolVersion::TLSv1_2) && header.version != 0x0303 {
            return Err(PeerMisbehaved::WrongLegacyVersion.into());
        }
        // RFC 8446 4.2.10: after refusing 0-RTT the server skips records it cannot
        // deprotect (or, after HelloRetryRequest, application data) up to a budget.
        let len = payload.len();
        let skipping = self.common.early.skip_budget > 0 && header.typ == ContentType::ApplicationData;
        if skipping && !self.common.read.is_protected() {
            self.skip_early(len)?;
            return Ok(None);
        }
        let opened = match self.common.read.open_in_place(header, payload) {
            Err(Error::DecryptFailed) if skipping => {
                self.skip_early(len)?;
                return Ok(None);
            }
            other => other?,
        };
        if opened.protected {
            self.common.early.skip_budget = 0;
            self.check_record_limit(len, opened.range.len())?;
        }
        let plain = Plaintext {
            typ: opened.typ,
            data: &payload[opened.range.clone()],
            protected: opened.protected,
        };
        if let Some(obs) = &self.common.observer {
            // An unprotected record (a compatibility CCS) is at epoch 0 whatever the keys.
            let epoch = if plain.protected {
                self.common.read_epoch
            } else {
                0
            };
            obs.record(Direction::Received, plain.typ, plain.data.len(), epoch);
        }
        // RFC 8446 5.1: handshake messages must not be interleaved with other record types.
        if plain.typ != ContentType::Handshake && !self.joiner.is_empty() {
            return Err(Error::UnexpectedMessage {
                state: "handshake message incomplete",
                got: "other record",
            });
        }
        match plain.typ {
            ContentType::ChangeCipherSpec => self.process_ccs(plain)?,
            ContentType::Alert => self.process_alert(plain)?,
            ContentType::Handshake => self.process_handshake(plain)?,
            ContentType::ApplicationData => {
                if self.process_data(plain)? {
                    return Ok(Some(opened.range));
                }
            }
            _ => return Err(PeerMisbehaved::UnknownContentType.into()),
        }
        Ok(None)
    }

    /// RFC 8446 5 and D.4: unprotected CCS records of value 1 during the handshake are dropped
    /// (up to [`MAX_IGNORED_CCS`]), no other.
    /// TLS 1.2 (RFC 5246 7.1): the one the state machine expects switches the read keys.
    fn process_ccs(&mut self, plain: Plaintext<'_>) -> Result<(), Error> {
        if self.handshake.as_ref().is_some_and(|h| h.is_tls12()) {
            if plain.protected || plain.data != [1] {
                return Err(PeerMisbehaved::IllegalChangeCipherSpec.into());
            }
            let hs = self
                .handshake
                .take()
                .ok_or(Error::Internal("handshake state lost"))?;
            self.handshake = Some(hs.handle_ccs12(&mut self.common)?);
            return Ok(());
        }
        if plain.protected || plain.data != [1] {
            return Err(PeerMisbehaved::IllegalChangeCipherSpec.into());
        }
        if self.ccs_ignored >= MAX_IGNORED_CCS {
            return Err(PeerMisbehaved::TooManyChangeCipherSpecs.into());
        }
        if !self.handshake.as_ref().is_some_and(|h| h.accepts_ccs()) {
            return Err(PeerMisbehaved::IllegalChangeCipherSpec.into());
        }
        self.ccs_ignored += 1;
        Ok(())
    }

    fn process_alert(&mut self, plain: Plaintext<'_>) -> Result<(), Error> {
        if plain.data.is_empty() {
            return Err(PeerMisbehaved::EmptyRecord.into());
        }
        let alert = AlertMessage::read_exact(plain.data, "alert")?;
        self.controls.last_alert_received = Some(AlertRecord {
            level: alert.level,
            description: alert.description,
        });
        self.common.events.push_back(Event::Alert {
            level: alert.level,
            description: alert.description,
        });
        match alert.description {
            AlertDescription::CloseNotify => {
                self.peer_closed = true;
                self.common.events.push_back(Event::PeerClosed);
                Ok(())
            }
            // RFC 8446 6.1: user_canceled is a closure alert, not an error.
            AlertDescription::UserCanceled if alert.level == AlertLevel::Warning => {
                self.inbound.warning_alert()
            }
            // RFC 5246 7.2: below TLS 1.3 the connection goes on after a warning (a few in a
            // row); before the version is known the peer may be speaking TLS 1.2.
            _ if alert.level == AlertLevel::Warning
                && self.common.neg.version != Some(ProtocolVersion::TLSv1_3) =>
            {
                self.inbound.warning_alert()
            }
            // RFC 8446 6: in TLS 1.3 every other alert is an error whatever its level.
            other => Err(Error::AlertReceived(other)),
        }
    }

    fn process_handshake(&mut self, plain: Plaintext<'_>) -> Result<(), Error> {
        // Once keys are in, handshake records must be protected (RFC 8446 5).
        if self.common.read.is_protected() && !plain.protected {
            return Err(Error::UnexpectedMessage {
                state: "encrypted handshake",
                got: "plaintext handshake",
            });
        }
        // RFC 8446 5.1: zero-length handshake fragments must not be sent.
        if plain.data.is_empty() {
            return Err(PeerMisbehaved::EmptyRecord.into());
        }
        self.joiner.push(plain.data);
        // Each message's type and length are checked against the state at its header, before
        // its body is buffered or decoded.
        let waiting_for_hello = matches!(self.controls.deferred, controls::Deferred::WaitingForHello);
        while let Some(raw) = self.joiner.pop(|typ, len| match &self.handshake {
            Some(hs) => hs.check_header(&self.common, typ, len),
            None if waiting_for_hello && typ != HandshakeType::ClientHello => Err(Error::UnexpectedMessage {
                state: "expect ClientHello",
                got: typ.name().unwrap_or("unknown handshake message"),
            }),
            None => check_message_len(typ, len),
        })? {
            if let Some(obs) = &self.common.observer {
                obs.handshake(
                    Direction::Received,
                    raw.typ,
                    raw.body().len(),
                    self.common.read_epoch,
                );
            }
            let dialect = self.handshake.as_ref().map_or(Dialect::Tls13, Handshake::dialect);
            let payload = HandshakePayload::decode(raw.typ, raw.body(), dialect)?;
            if self.handshake.is_none()
                && matches!(self.controls.deferred, controls::Deferred::WaitingForHello)
            {
                let more = !self.joiner.is_empty();
                return self.defer_hello(
                    Msg {
                        payload,
                        raw: raw.bytes,
                    },
                    more,
                );
            }
            let hs = self
                .handshake
                .take()
                .ok_or(Error::Internal("handshake state lost"))?;
            let was_established = hs.is_established();
            self.common.read_changed = false;
            self.common.answered = false;
            let next = hs.handle(
                &mut self.common,
                Msg {
                    payload,
                    raw: raw.bytes,
                },
            )?;
            if was_established && !next.is_established() {
                return Err(Error::Internal("handshake went backwards"));
            }
            self.handshake = Some(next);
            // RFC 8446 5.1: a message that ends where keys change must end its record too.
            if self.common.read_changed && !self.joiner.is_empty() {
                return Err(PeerMisbehaved::MessageSpansKeyChange.into());
            }
            // Nor may one follow the message that ended the peer's flight: what comes next
            // depends on our answer, so such bytes are a misbehaving peer's, and refusing them
            // keeps a flight's end independent of how records were cut (BoringSSL's rule).
            if self.common.answered && !self.joiner.is_empty() {
                return Err(PeerMisbehaved::MessagePastEndOfFlight.into());
            }
        }
        Ok(())
    }

    fn skip_early(&mut self, len: usize) -> Result<(), Error> {
        let budget = &mut self.common.early.skip_budget;
        *budget = budget.checked_sub(len).ok_or(PeerMisbehaved::TooMuchEarlyData)?;
        Ok(())
    }

    /// Server: accepted 0-RTT data, before EndOfEarlyData (RFC 8446 4.2.10).
    fn process_early_data(&mut self, plain: Plaintext<'_>) -> Result<(), Error> {
        if !plain.protected {
            return Err(Error::UnexpectedMessage {
                state: "early data",
                got: "unprotected data",
            });
        }
        let n = plain.data.len();
        let budget = &mut self.common.early.receive_budget;
        *budget = budget.checked_sub(n).ok_or(PeerMisbehaved::TooMuchEarlyData)?;
        if n > 0 {
            self.early_received.extend_from_slice(plain.data);
            self.common.early_data_arrived(n);
        }
        Ok(())
    }

    /// Checks an application-data record; true when it carries bytes to deliver.
    fn process_data(&mut self, plain: Plaintext<'_>) -> Result<bool, Error> {
        if self.handshake.as_ref().is_some_and(|h| h.accepts_early_data()) {
            self.process_early_data(plain)?;
            return Ok(false);
        }
        if !matches!(
            self.handshake,
            Some(Handshake::Established(_) | Handshake::Established12(_))
        ) {
            return Err(Error::UnexpectedMessage {
                state: "handshaking",
                got: "application data",
            });
        }
        if !plain.protected {
            return Err(Error::UnexpectedMessage {
                state: "established",
                got: "unprotected data",
            });
        }
        if let Some(Handshake::Established(est)) = self.handshake.as_mut() {
            est.data_received();
        }
        self.inbound.data_record(plain.data.len())
    }

    /// Moves queued items into protected records, applying key changes in order.
    fn encrypt_pending(&mut self) -> Result<(), Error> {
        self.seal_framed()?;
        // Record sizing is decided once per call (dynamic sizing reads the clock here).
        let mut cap = self.controls.sizing_cap(self.write.overhead());
        loop {
            // RFC 8449 4: the peer's record_size_limit binds protected records only.
            let peer = if self.write.is_protected() {
                self.common.max_fragment
            } else {
                crate::record::MAX_PLAINTEXT
            };
            let max = self.write.max_fragment.min(peer).min(cap);
            let Some(item) = self.common.queue.pop(max) else {
                return Ok(());
            };
            match item {
                OutItem::KeyChange(state) => {
                    self.write = *state;
                    self.write_epoch = self.write_epoch.wrapping_add(1);
                    cap = self.controls.sizing_cap(self.write.overhead());
                    self.key_update_queued = false;
                }
                OutItem::Record { typ, data } => {
                    if let Some(obs) = &self.common.observer {
                        obs.record(Direction::Sent, typ, data.len(), self.write_epoch);
                    }
                    match typ {
                        ContentType::Alert => self.controls.alert_sent(data),
                        ContentType::ApplicationData => {
                            self.controls.app_sent(data.len());
                            cap = self.controls.sizing_cap(self.write.overhead());
                        }
                        _ => {}
                    }
                    self.write.write_record(typ, data, self.sendbuf.records())?;
                    self.maybe_update_keys();
                }
            }
        }
    }

    /// Seals the application data `writer()` framed in the outgoing buffer, record by record
    /// in place, until [`outbound::SEAL_AHEAD`] bytes are ready to send. Whatever was queued
    /// since goes by the queue's rules: the data still framed moves back into the queue, ahead
    /// of data written after it (it was written first).
    fn seal_framed(&mut self) -> Result<(), Error> {
        while self.sendbuf.framed_bytes() > 0 {
            if !self.common.queue.is_app_open() {
                // The connection failed: nothing not yet encrypted goes out.
                self.sendbuf.unframe(&mut Vec::new());
                return Ok(());
            }
            if !self.common.queue.is_empty() {
                let mut rest = Vec::new();
                self.sendbuf.unframe(&mut rest);
                self.common.queue.push_app_front(rest);
                return Ok(());
            }
            if self.sendbuf.sealed_len() >= outbound::SEAL_AHEAD {
                return Ok(());
            }
            let write_epoch = self.write_epoch;
            let Some((record, len)) = self.sendbuf.next_to_seal() else {
                return Ok(());
            };
            if let Some(obs) = &self.common.observer {
                obs.record(Direction::Sent, ContentType::ApplicationData, len, write_epoch);
            }
            self.controls.app_sent(len);
            self.write
                .seal_in_place(ContentType::ApplicationData, record, len)?;
            self.maybe_update_keys();
        }
        Ok(())
    }

    /// Record layout for application data framed straight into the outgoing buffer: (content
    /// per record, content offset, overhead), when nothing queued must go before it and the
    /// record size does not depend on when it is sent (`RecordSizing::Throughput`).
    fn framing(&self) -> Option<(usize, usize, usize)> {
        if !matches!(self.controls.sizing, RecordSizing::Throughput)
            || !self.write.is_protected()
            || !self.common.queue.is_app_open()
            || !self.common.queue.is_empty()
        {
            return None;
        }
        let max = self.write.max_fragment.min(self.common.max_fragment).max(1);
        let (offset, overhead) = (self.write.content_offset(), self.write.overhead());
        self.sendbuf
            .can_frame(max, offset, overhead)
            .then_some((max, offset, overhead))
    }

    /// RFC 8446 5.5: change keys before the AEAD's record limit.
    fn maybe_update_keys(&mut self) {
        if self.key_update_queued || self.write.seq() < self.records_per_key || self.sent_close {
            return;
        }
        if let Some(Handshake::Established(est)) = self.handshake.as_mut() {
            est.update_ours(&mut self.common, false);
            self.key_update_queued = true;
        }
    }

    /// The next event, if any. Events wait until drained: consecutive `Data` announcements
    /// merge into one, so an application that only reads holds a single one, but each key
    /// change and ticket is an event of its own.
    pub fn next_event(&mut self) -> Option<Event> {
        self.common.events.pop_front()
    }

    /// Plaintext received from the peer, as an `io::Read`: `WouldBlock` when nothing is
    /// buffered yet (read more TLS bytes), `Ok(0)` after the peer's close_notify, and the
    /// connection's error after a failure. Also an `io::BufRead` whose `fill_buf` lends the
    /// plaintext where it lies, without the copy `read` makes.
    pub fn reader(&mut self) -> Reader<'_> {
        Reader { conn: self }
    }

    /// Plaintext to send; it becomes records on the next `write_tls`.
    pub fn writer(&mut self) -> Writer<'_> {
        Writer { conn: self }
    }

    /// True while the connection would take more inbound bytes.
    pub fn wants_read(&self) -> bool {
        self.error.is_none()
            && !self.peer_closed
            && self.deframer.has_room()
            && self.inbound.has_room(self.buffered_plaintext())
    }

    /// True when `write_tls` has bytes to send.
    pub fn wants_write(&self) -> bool {
        !self.sendbuf.is_empty() || !self.common.queue.is_empty()
    }

    /// True until the handshake completes (and false after a fatal error).
    pub fn is_handshaking(&self) -> bool {
        self.error.is_none() && !self.handshake.as_ref().is_some_and(|h| h.is_established())
    }

    /// The error that closed the connection, if one did.
    pub fn error(&self) -> Option<&Error> {
        self.error.as_ref()
    }

    /// Sends close_notify after the data already written: closes our sending direction
    /// only, and we keep reading until the peer closes (RFC 8446 6.1 half-close).
    pub fn send_close_notify(&mut self) {
        if !self.sent_close && self.error.is_none() {
            self.sent_close = true;
            self.common
                .queue
                .push_alert(AlertLevel::Warning, AlertDescription::CloseNotify);
        }
    }

    /// True once the peer sent close_notify.
    pub fn peer_has_closed(&self) -> bool {
        self.peer_closed
    }

    /// Sends a KeyUpdate (RFC 8446 4.6.3); with `request_peer` the peer must answer with its
    /// own. TLS 1.3 only.
    pub fn request_key_update(&mut self, request_peer: bool) -> Result<(), Error> {
        if self.error.is_some() || self.sent_close {
            return Err(Error::Misuse(Misuse::Closed));
        }
        match self.handshake.as_mut() {
            Some(Handshake::Established(est)) => {
                est.update_ours(&mut self.common, request_peer);
                Ok(())
            }
            _ => Err(Error::Misuse(Misuse::KeyUpdateUnavailable)),
        }
    }

    /// Client: a writer for 0-RTT data while the server may still take it (after
    /// `Connection::client` with a ticket that allows early data and `enable_early_data`,
    /// until the server answers). `None` otherwise.
    pub fn early_data(&mut self) -> Option<EarlyDataWriter<'_>> {
        self.common.early.send_budget?;
        Some(EarlyDataWriter { conn: self })
    }

    /// Server: accepted 0-RTT plaintext (see [`Event::EarlyData`]).
    pub fn early_data_reader(&mut self) -> EarlyDataReader<'_> {
        EarlyDataReader { conn: self }
    }

    /// True when 0-RTT was offered and accepted (client: known after EncryptedExtensions).
    pub fn early_data_accepted(&self) -> bool {
        self.common.neg.early_data == Some(true)
    }

    /// Received plaintext not read yet: moved out of the inbound buffer, or still in it.
    fn buffered_plaintext(&self) -> usize {
        self.received.len() - self.received_start + self.deframer.held_len()
    }

    /// The oldest received plaintext not read yet, where it lies: what was moved out of the
    /// inbound buffer comes before what is still held there. Empty when none waits.
    fn plaintext_front(&self) -> &[u8] {
        match self.received.get(self.received_start..) {
            Some(moved) if !moved.is_empty() => moved,
            _ => self.deframer.front_held(),
        }
    }

    /// What a reader of the byte stream gets next, lent where it lies: accepted 0-RTT data
    /// (server) before the rest (RFC 8446 4.2.10). Empty when none waits.
    #[cfg(feature = "tokio")]
    pub(crate) fn stream_front(&self) -> &[u8] {
        if self.early_received.is_empty() {
            self.plaintext_front()
        } else {
            &self.early_received
        }
    }

    /// Marks the first `n` bytes of [`stream_front`](Self::stream_front) read.
    #[cfg(feature = "tokio")]
    pub(crate) fn consume_stream(&mut self, n: usize) {
        if self.early_received.is_empty() {
            self.consume_plaintext(n);
        } else {
            self.early_received.drain(..n.min(self.early_received.len()));
        }
    }

    /// Whether accepted 0-RTT data waits to be read (server).
    #[cfg(feature = "tokio")]
    pub(crate) fn has_early_plaintext(&self) -> bool {
        !self.early_received.is_empty()
    }

    /// Marks the first `n` bytes of received plaintext read (at most what waits).
    fn consume_plaintext(&mut self, n: usize) {
        let moved = (self.received.len() - self.received_start).min(n);
        self.received_start += moved;
        self.deframer.consume_held(n - moved);
    }
}

/// What the connection negotiated (version, suite, group, schemes, ALPN, SNI, chains,
/// randoms, resumption, exporters): the same queries on every connection type.
impl std::ops::Deref for Connection {
    type Target = crate::Negotiated;

    fn deref(&self) -> &crate::Negotiated {
        &self.common.neg
    }
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("side", &self.common.side)
            .field("version", &self.common.neg.version)
            .field("suite", &self.common.neg.suite)
            .field("handshaking", &self.is_handshaking())
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

/// `io::Read` over received plaintext: `WouldBlock` when empty, `Ok(0)` after close_notify.
/// Also `io::BufRead`: `fill_buf` lends the plaintext where it was decrypted, with no copy.
pub struct Reader<'a> {
    conn: &'a mut Connection,
}

impl io::Read for Reader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let c = &mut *self.conn;
        if c.deframer.held_len() == 0 {
            return read_plaintext(
                &c.received,
                &mut c.received_start,
                c.peer_closed,
                c.error.as_ref(),
                buf,
            );
        }
        // Plaintext moved out of the inbound buffer is older than what is still held there.
        let avail = c.received.get(c.received_start..).unwrap_or_default();
        let n = avail.len().min(buf.len());
        buf[..n].copy_from_slice(&avail[..n]);
        c.received_start += n;
        Ok(n + c.deframer.read_held(&mut buf[n..]))
    }
}

impl io::BufRead for Reader<'_> {
    /// The oldest received plaintext, lent where it lies (mostly in the inbound buffer, where
    /// its record was opened): one record's data or what is left of it, so a caller that
    /// parses in place (`read_line`, `read_until`, a protocol parser) skips the copy `read`
    /// makes. The same outcomes as `read` when nothing waits: `Ok` and empty after
    /// close_notify, `WouldBlock`, or the connection's error.
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        let c = &*self.conn;
        if c.buffered_plaintext() == 0 {
            nothing_buffered(c.peer_closed, c.error.as_ref())?;
        }
        Ok(c.plaintext_front())
    }

    fn consume(&mut self, amt: usize) {
        self.conn.consume_plaintext(amt);
    }
}

/// `io::Write` into the outgoing queue; partial writes when the plaintext cap is reached.
pub struct Writer<'a> {
    conn: &'a mut Connection,
}

impl io::Write for Writer<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let c = &mut *self.conn;
        // Framed application data counts against the cap as queued data does.
        let waiting = c.common.queue.app_bytes() + c.sendbuf.framed_bytes();
        let n = plaintext_room(
            waiting,
            c.inbound.max_buffered,
            c.sent_close,
            c.error.as_ref(),
            buf.len(),
        )?;
        match c.framing() {
            Some((max, offset, overhead)) => c.sendbuf.frame(&buf[..n], max, offset, overhead),
            None => c.common.queue.push_app(&buf[..n]),
        }
        if n > 0 {
            c.common.app_data_written();
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Client 0-RTT writer (`Connection::early_data`): takes at most the ticket's
/// max_early_data_size in total; `Ok(0)` once that is used up.
pub struct EarlyDataWriter<'a> {
    conn: &'a mut Connection,
}

impl EarlyDataWriter<'_> {
    /// Bytes of 0-RTT data still allowed.
    pub fn remaining(&self) -> usize {
        self.conn.common.early.send_budget.unwrap_or(0)
    }
}

impl io::Write for EarlyDataWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let c = &mut *self.conn;
        let Some(budget) = c.common.early.send_budget.as_mut() else {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "0-RTT no longer possible",
            ));
        };
        let n = (*budget).min(buf.len());
        *budget -= n;
        c.common.queue.push_early(buf[..n].to_vec());
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Server: `io::Read` over accepted 0-RTT data; `WouldBlock` when empty.
pub struct EarlyDataReader<'a> {
    conn: &'a mut Connection,
}

impl io::Read for EarlyDataReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let early = &mut self.conn.early_received;
        if early.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = early.len().min(buf.len());
        buf[..n].copy_from_slice(&early[..n]);
        early.drain(..n);
        Ok(n)
    }
}
