//! The DTLS 1.2 datagram connection (RFC 6347): the TLS 1.2 handshake state machines
//! (`handshake::client12` / `server12`) behind a datagram transport.
//!
//! The state machines run unchanged except that the connection's transport part (`DtlsWire`,
//! its `common::Wire`) gives their messages the 12-byte DTLS handshake header, so the
//! transcript hashes what RFC 6347 4.2.6 asks (every message as if unfragmented, without the
//! first ClientHello and the HelloVerifyRequest). What this module adds around them:
//!
//! - records: epoch and 48-bit sequence number, the AEAD nonce and additional data of RFC
//!   6347 4.1.2.1 (`epoch || seq` is the 64-bit sequence number of RFC 5288 / RFC 7905), a
//!   [`ReplayWindow`] per epoch updated only after a record deprotects, records that fail to
//!   deprotect dropped silently up to [`DtlsConfig::max_bad_records`];
//! - handshake transport: messages cut into fragments that fit the MTU, reassembly in any
//!   order, flights kept for retransmission, the [`RetransmitTimer`], and our last flight
//!   sent again when the peer repeats its previous one (RFC 6347 4.2.4);
//! - the client side of the cookie exchange (RFC 6347 4.2.1); the server side, stateless, is
//!   [`DtlsAcceptor`](super::DtlsAcceptor).
//!
//! DTLS 1.3 (RFC 9147) runs the TLS 1.3 state machines behind the same transport. One
//! config offers both versions; the peer's hello decides. Each version's record layer is
//! its own engine (`engine`: DTLS 1.2's in `v12`, DTLS 1.3's with its ACKs in `v13`),
//! chosen when the version is known. This file is the receiving side and the API; `send`
//! turns what the handshake and the application queue into flights, records and
//! datagrams. Beside `writer()`/`poll_datagram` and `recv_datagram`/`reader()`, the
//! zero-copy pair moves application data without the connection's buffers:
//! `seal_datagram` (in `send`) seals one record into the caller's datagram, and
//! `recv_datagram_in_place` (`recv_in_place`) opens records where they lie in it, through
//! the same receive code as `recv_datagram`.
//!
//! No clock is read: every `Instant` is an argument.

mod engine;
mod queries;
mod recv_in_place;
mod seal;
mod send;
mod v12;
mod v13;
mod wire;

use crate::error::Parameter;
use std::collections::VecDeque;
use std::io;
use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::fragment::{
    parse_fragments, HandshakeHeader, HandshakeMessage, Pushed, Reassembler, ReassemblyLimits,
};
use super::record::{records, DatagramRecord, PlaintextHeader, ProtectedRecord};
use super::replay::ReplayWindow;
use super::timer::{RetransmitTimer, TimerAction, TimerConfig};
use crate::codec::{
    AlertDescription, AlertLevel, Codec, ContentType, DecodeError, HandshakeType, ProtocolVersion, Reader,
};
use crate::common::plaintext::{plaintext_room, read_plaintext};
use crate::common::{Blinding, Common, Inbound, Side};
use crate::config::{ClientConfig, Direction, ServerConfig};
use crate::error::{Error, Limit, Misuse, PeerMisbehaved};
use crate::event::{AlertRecord, Event};
use crate::handshake::server13::StatelessRetry;
use crate::handshake::{client13, server12, server13, Handshake, Msg};
use crate::msgs::{AlertMessage, Dialect, HandshakePayload, Tls12Payload};
use crate::pki::ServerName;
use engine::Engine;
use wire::DtlsWire;

/// Default path MTU: what IPv6 guarantees (1280) less the IPv6 and UDP headers, rounded down.
pub const DEFAULT_MTU: usize = 1200;
/// Smallest MTU we accept: room for a record header, nonce, tag and a handshake header.
pub const MIN_MTU: usize = 256;
/// Default cap on records that fail to deprotect before the connection gives up.
pub const DEFAULT_MAX_BAD_RECORDS: u32 = 1024;
/// Records of the next epoch held until its keys are in (a reordered Finished), and
/// application records held until the Finished completes the handshake.
const MAX_FUTURE_RECORDS: usize = 16;

/// Datagram settings of a DTLS connection.
#[derive(Clone, Debug)]
pub struct DtlsConfig {
    /// Largest datagram we send (every datagram from `poll_datagram` fits).
    pub mtu: usize,
    /// Retransmission timer: initial timeout, cap, give-up timeout (RFC 6347 4.2.4.1).
    pub timer: TimerConfig,
    /// Records that fail to deprotect are dropped silently (RFC 6347 4.1.2.7); after this
    /// many the connection fails with `LimitExceeded(BadRecords)`.
    pub max_bad_records: u32,
    /// Caps on handshake reassembly memory.
    pub reassembly: ReassemblyLimits,
    /// How often the acceptor rotates its cookie secret (a cookie lives one to two periods).
    pub cookie_period: Duration,
    /// Connection ids (RFC 9146, RFC 9147 9): `Some(n)` offers the `connection_id`
    /// extension asking the peer to put an `n`-byte id (drawn from the config's random
    /// source) in every protected record it sends us, so a datagram finds its connection
    /// when the peer's address changes. `Some(0)`: we need no id but send the peer's.
    /// At most 255 ([`MAX_CID_LEN`](super::record::MAX_CID_LEN)). `None`: no extension.
    pub connection_id: Option<usize>,
}

impl Default for DtlsConfig {
    fn default() -> Self {
        DtlsConfig {
            mtu: DEFAULT_MTU,
            timer: TimerConfig::default(),
            max_bad_records: DEFAULT_MAX_BAD_RECORDS,
            reassembly: ReassemblyLimits::default(),
            cookie_period: Duration::from_secs(300),
            connection_id: None,
        }
    }
}

impl DtlsConfig {
    pub(super) fn validate(&self) -> Result<(), Error> {
        check_mtu(self.mtu)?;
        // RFC 9146 3: `opaque cid<0..2^8-1>`.
        if self.connection_id.is_some_and(|n| n > super::record::MAX_CID_LEN) {
            return Err(Error::Config("DTLS connection id longer than 255 bytes".into()));
        }
        Ok(())
    }

    /// A fresh connection id of the configured length, or `None` without one.
    fn draw_connection_id(&self, shared: &crate::config::Shared) -> Result<Option<Vec<u8>>, Error> {
        let Some(len) = self.connection_id else {
            return Ok(None);
        };
        let mut cid = vec![0u8; len];
        shared.rng.fill(&mut cid)?;
        Ok(Some(cid))
    }
}

/// A datagram size we can work with: room for a record and a handshake fragment, at most a
/// UDP payload over IPv4 (65,507 bytes).
fn check_mtu(mtu: usize) -> Result<(), Error> {
    if !(MIN_MTU..=65_507).contains(&mtu) {
        return Err(Error::Config(format!("DTLS MTU must be {MIN_MTU}..=65507")));
    }
    Ok(())
}

/// One message (or ChangeCipherSpec) of a flight, kept for retransmission.
#[derive(Debug)]
struct FlightItem {
    /// The write epoch it goes out under (DTLS 1.3 epochs are 64-bit, RFC 9147 4).
    epoch: u64,
    typ: ContentType,
    /// A DTLS-framed handshake message (12-byte header), or the CCS byte.
    bytes: Vec<u8>,
}

/// Where the handshake stands before a state machine takes over.
enum Start {
    /// A server waiting for the ClientHello; with what its stateless HelloRetryRequest
    /// cookie carried back, if the acceptor sent one (RFC 9147 5.1).
    Server(Arc<ServerConfig>, Option<Box<StatelessRetry>>),
    Running,
}

/// A DTLS 1.3 or 1.2 connection, client or server, as a pure state machine over datagrams.
pub struct DtlsConnection {
    common: Common<DtlsWire>,
    start: Start,
    handshake: Option<Handshake>,
    cfg: DtlsConfig,
    reassembler: Reassembler,
    /// The record layer of the version in force: epochs, keys, replay windows.
    engine: Engine,
    /// Epoch 0 (DTLSPlaintext, the same record in both versions): the sequence number of
    /// our next plaintext record, and the replay window of the peer's (DTLS 1.2 reads epoch
    /// 0 under its engine's window until the first CCS).
    write0_seq: u64,
    window0: ReplayWindow,
    /// Application data that deprotected before the peer's Finished completed the handshake.
    held_data: VecDeque<Vec<u8>>,
    /// Handshake bytes popped from the queue, not yet a whole message.
    hs_pending: Vec<u8>,
    /// Our last flight.
    flight: Vec<FlightItem>,
    /// The peer's message after which we sent `flight`: seeing it again means our flight
    /// was lost (RFC 6347 4.2.4).
    flight_trigger: Option<u16>,
    /// A peer message arrived since our last flight: the next output starts a new flight.
    peer_progress: bool,
    /// Our last flight has been answered or needs no answer (then it is only repeated when
    /// the peer repeats its own).
    timer: RetransmitTimer,
    /// Datagrams ready for `poll_datagram`.
    out: VecDeque<Vec<u8>>,
    received: Vec<u8>,
    received_start: usize,
    error: Option<Error>,
    peer_closed: bool,
    sent_close: bool,
    bad_records: u32,
    /// Back-pressure and the caps on empty records and warnings, as over TLS.
    inbound: Inbound,
    /// The blinding delay, armed by a failure the peer caused, as over TLS.
    blinding: Blinding,
    retransmitted_this_datagram: bool,
    /// The time of the last call that passed one: arms the timer for output started
    /// between calls (a KeyUpdate the application asked for).
    last_now: Option<Instant>,
    /// DTLS 1.3: records per write epoch before we update our keys (RFC 9147 4.5.3 AEAD
    /// limits; the config's `records_per_key`).
    records_per_key: u64,
    /// The last alert we sealed and the last authenticated one the peer sent.
    last_alert_sent: Option<AlertRecord>,
    last_alert_received: Option<AlertRecord>,
    /// The newest record number (epoch, sequence number) that deprotected, and whether the
    /// datagram being (or last) taken in carried a newer one: RFC 9146 6 lets a peer's
    /// address change only on such a datagram.
    newest_authenticated: Option<(u64, u64)>,
    datagram_authenticated: bool,
}

impl DtlsConnection {
    /// A DTLS 1.2 client for `server_name`; its ClientHello is ready for `poll_datagram` and
    /// the retransmission timer runs from `now`.
    pub fn client(
        config: Arc<ClientConfig>,
        server_name: &str,
        dtls: DtlsConfig,
        now: Instant,
    ) -> Result<Self, Error> {
        dtls.validate()?;
        let name = ServerName::parse(server_name)
            .map_err(|_| Error::Config(format!("invalid server name {server_name:?}")))?;
        if !config.shared.tls12() && !config.shared.tls13() {
            return Err(Error::Config(
                "DTLS needs TLS 1.3 or TLS 1.2 enabled with one of its suites".into(),
            ));
        }
        // One way to start, whatever the versions: the client machine builds the hello (a
        // DTLS 1.3 one, or RFC 6347 4.2.1's DTLS 1.2 one) and answers a HelloVerifyRequest.
        // The engine is the one of the highest version offered; the hello stays in its TLS
        // form until a ServerHello fixes the version and with it the transcript rule (RFC 9147
        // 5.2, RFC 6347 4.2.6: `client12` reframes it then).
        let offers13 = config.shared.tls13();
        let mut conn = DtlsConnection::new(Side::Client, &config.shared, dtls, offers13);
        conn.common.neg.own_cid = conn.cfg.draw_connection_id(&config.shared)?;
        conn.common.wire.set_transcript13(true);
        conn.last_now = Some(now);
        conn.handshake = Some(client13::start(config, Some(name), &mut conn.common)?);
        conn.flush(now)?;
        Ok(conn)
    }

    /// A DTLS 1.2 server. It answers any ClientHello: put a [`DtlsAcceptor`](crate::dtls::DtlsAcceptor) in front of it
    /// for the stateless cookie exchange (RFC 6347 4.2.1).
    pub fn server(config: Arc<ServerConfig>, dtls: DtlsConfig) -> Result<Self, Error> {
        Self::server_with_retry(config, dtls, None)
    }

    pub(super) fn server_with_retry(
        config: Arc<ServerConfig>,
        dtls: DtlsConfig,
        retry: Option<Box<StatelessRetry>>,
    ) -> Result<Self, Error> {
        dtls.validate()?;
        if !config.shared.tls12() && !config.shared.tls13() {
            return Err(Error::Config(
                "DTLS needs TLS 1.3 or TLS 1.2 enabled with one of its suites".into(),
            ));
        }
        // DTLS 1.2's engine reads the ClientHello of either version (DTLSPlaintext).
        let mut conn = DtlsConnection::new(Side::Server, &config.shared, dtls, false);
        conn.common.neg.own_cid = conn.cfg.draw_connection_id(&config.shared)?;
        conn.start = Start::Server(config, retry);
        Ok(conn)
    }

    fn new(side: Side, shared: &crate::config::Shared, cfg: DtlsConfig, dtls13: bool) -> Self {
        let mut common = Common::new(
            side,
            shared.key_log.clone(),
            ProtocolVersion::DTLSv1_2.get(),
            DtlsWire::new(dtls13),
        );
        common.observer = shared.record_observer.clone();
        common.neg.dtls = true;
        // Handshake messages are cut to the MTU here, not by the queue.
        common.max_fragment = crate::record::MAX_PLAINTEXT;
        DtlsConnection {
            common,
            start: Start::Running,
            handshake: None,
            reassembler: Reassembler::new(cfg.reassembly),
            timer: RetransmitTimer::new(cfg.timer),
            cfg,
            engine: Engine::new(dtls13),
            write0_seq: 0,
            window0: ReplayWindow::new(),
            held_data: VecDeque::new(),
            hs_pending: Vec::new(),
            flight: Vec::new(),
            flight_trigger: None,
            peer_progress: false,
            out: VecDeque::new(),
            received: Vec::new(),
            received_start: 0,
            error: None,
            peer_closed: false,
            sent_close: false,
            bad_records: 0,
            inbound: Inbound::new(shared.max_buffered_plaintext),
            blinding: Blinding::new(shared),
            retransmitted_this_datagram: false,
            last_now: None,
            records_per_key: shared.records_per_key,
            last_alert_sent: None,
            last_alert_received: None,
            newest_authenticated: None,
            datagram_authenticated: false,
        }
    }

    /// Whether this is the client or the server end.
    pub fn side(&self) -> Side {
        self.common.side
    }

    /// Takes in one received datagram at `now`. Records that do not parse, fail to deprotect,
    /// are replays, or belong to no epoch we read are dropped silently; a protocol violation
    /// is returned (and its alert queued for `poll_datagram`), and returned again by every
    /// later call.
    pub fn recv_datagram(&mut self, datagram: &[u8], now: Instant) -> Result<(), Error> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        self.start_datagram(now);
        let res = self.recv_records(datagram, now);
        self.finish_step(res, now)
    }

    /// The start of a step that takes in received records.
    fn start_datagram(&mut self, now: Instant) {
        self.retransmitted_this_datagram = false;
        self.datagram_authenticated = false;
        self.last_now = Some(now);
    }

    fn finish_step(&mut self, res: Result<(), Error>, now: Instant) -> Result<(), Error> {
        let res = res.and_then(|()| self.flush(now));
        match res {
            Ok(()) => Ok(()),
            Err(e) => {
                let e = self.fail(e);
                // The alert goes out now (best effort, under the current write epoch).
                let _ = self.flush(now);
                Err(e)
            }
        }
    }

    fn fail(&mut self, e: Error) -> Error {
        if self.error.is_none() {
            self.blinding.failed(&e);
            match e.alert() {
                Some(alert) => self.common.queue.push_alert(AlertLevel::Fatal, alert),
                // RFC 8446 6.2, RFC 9147 4: on receipt of a fatal alert, close immediately:
                // what records processed before it queued (tickets, an ACK) stays unsent.
                None => self.common.queue.abandon(),
            }
            self.error = Some(e.clone());
            self.timer.finish();
            self.flight.clear();
            // Nothing queued before the failure goes out after it: only the alert (no ACK
            // of the records that ended the connection either).
            self.out.clear();
            self.engine.cancel_ack();
        }
        e
    }

    /// The length of the connection id the records we receive carry (0 without one): the
    /// one we offered, until the peer's hello says it takes no part.
    pub(super) fn recv_cid_len(&self) -> usize {
        self.common.neg.own_cid.as_ref().map_or(0, Vec::len)
    }

    /// A record numbered `(epoch, seq)` deprotected: if it is the newest yet, this datagram
    /// may move the peer (RFC 9146 6).
    pub(super) fn authenticated(&mut self, epoch: u64, seq: u64) {
        if self.newest_authenticated.is_none_or(|n| (epoch, seq) > n) {
            self.newest_authenticated = Some((epoch, seq));
            self.datagram_authenticated = true;
        }
    }

    fn recv_records(&mut self, datagram: &[u8], now: Instant) -> Result<(), Error> {
        let mut at = 0;
        for rec in records(datagram, self.recv_cid_len()) {
            if self.peer_closed || self.error.is_some() {
                return Ok(());
            }
            let len = rec.as_ref().map_or(0, DatagramRecord::wire_len);
            let raw = datagram.get(at..at + len).unwrap_or(&[]);
            at += len;
            match self.route(rec) {
                Route::Record12(header, fragment) => self.recv_record12(header, fragment, now)?,
                Route::Plaintext13(header, fragment) => self.recv_plaintext13(header, fragment, now)?,
                Route::Protected13(rec) => self.recv_protected13(&rec, raw, now)?,
                Route::Skip => {}
                Route::Stop => return Ok(()),
            }
        }
        Ok(())
    }

    /// Which record engine takes a record of a datagram, by its form and the version in
    /// force: the one decision `recv_datagram` and `recv_datagram_in_place` share.
    #[inline(always)]
    fn route<'a>(&self, rec: Result<DatagramRecord<'a>, DecodeError>) -> Route<'a> {
        match rec {
            Ok(DatagramRecord::Cid12 {
                header,
                cid,
                fragment,
            }) => {
                // RFC 9146 4: only with the id we handed out, only on DTLS 1.2.
                match (&self.engine, self.common.neg.own_cid.as_deref() == Some(cid)) {
                    (Engine::V12(_), true) => Route::Record12(header, fragment),
                    _ => Route::Skip,
                }
            }
            // A tls12_cid record when we hand out no id: nothing we can parse (the id's
            // length is ours to know, RFC 9146 3); dropped with the rest of the datagram.
            Ok(DatagramRecord::Plaintext { header, .. }) if header.content_type == ContentType::Tls12Cid => {
                Route::Stop
            }
            Ok(DatagramRecord::Plaintext { header, fragment }) => match self.engine {
                Engine::V13(_) => Route::Plaintext13(header, fragment),
                Engine::V12(_) => Route::Record12(header, fragment),
            },
            Ok(DatagramRecord::Ciphertext(rec)) => match self.engine {
                Engine::V13(_) => Route::Protected13(rec),
                Engine::V12(_) => Route::Skip,
            },
            // RFC 6347 4.1.2.7, RFC 9147 4.5.2: a record that does not parse ends the
            // datagram, silently.
            Err(_) => Route::Stop,
        }
    }

    /// A record's deprotection outcome by RFC 6347 4.1.2.7 and RFC 9147 4.5.2: one that
    /// fails to deprotect is dropped and counted (`Ok(None)`), as is one the opener
    /// dropped unopened; anything else that failed (no content type, too long) is fatal.
    #[inline(always)]
    pub(super) fn opened_or_dropped<T>(
        &mut self,
        opened: Result<Option<T>, Error>,
    ) -> Result<Option<T>, Error> {
        match opened {
            Ok(t) => Ok(t),
            Err(Error::DecryptFailed) => self.bad_record().map(|()| None),
            Err(other) => Err(other),
        }
    }

    /// Hands a record's content on: application data (`app_data`) to the reader's buffer
    /// or, opened in place, back to the caller as its place in the datagram; anything else
    /// to `handle`.
    #[inline(always)]
    pub(super) fn deliver(
        &mut self,
        content: Content<'_>,
        app_data: bool,
        handle: impl FnOnce(&mut Self, &[u8]) -> Result<(), Error>,
    ) -> Result<Option<Range<usize>>, Error> {
        match content {
            Content::Received { start } if app_data => self.recv_data_at(start).map(|()| None),
            Content::Received { start } => {
                let data = self.take_received_from(start);
                handle(self, &data).map(|()| None)
            }
            Content::InPlace { bytes, at } if app_data => {
                let delivered = match self.admit_data(bytes.len())? {
                    Admit::Deliver => true,
                    Admit::Hold => {
                        self.held_data.push_back(bytes.to_vec());
                        false
                    }
                    Admit::Drop => false,
                };
                Ok(delivered.then(|| at..at + bytes.len()))
            }
            Content::InPlace { bytes, .. } | Content::Clear(bytes) => handle(self, bytes).map(|()| None),
        }
    }

    /// A client that has not heard from the server yet (no ServerHello, HelloRetryRequest
    /// or, for DTLS 1.2, only a HelloVerifyRequest): the version is still open.
    pub(super) fn before_first_server_message(&self) -> bool {
        self.common.side == Side::Client && self.awaits_first_server_message()
    }

    fn awaits_first_server_message(&self) -> bool {
        self.handshake
            .as_ref()
            .is_some_and(Handshake::awaits_first_server_message)
    }

    fn bad_record(&mut self) -> Result<(), Error> {
        self.bad_records = self.bad_records.saturating_add(1);
        if self.bad_records > self.cfg.max_bad_records {
            return Err(Error::LimitExceeded(Limit::BadRecords));
        }
        Ok(())
    }

    /// Handshake fragments of one record; `rn` (DTLS 1.3) is the record's number, noted
    /// for our ACK.
    ///
    /// DTLS 1.3 ACK policy (RFC 9147 7.1 leaves the timing to the implementation; this is
    /// BoringSSL's): the peer's final flight is acknowledged at once; other handshake
    /// records, in order or not, new or repeated, on a timer that our next flight cancels
    /// (it acknowledges them implicitly). A fragment of the peer's next flight implicitly
    /// acknowledges ours (RFC 9147 7.2: its retransmission stops).
    fn recv_handshake(
        &mut self,
        data: &[u8],
        current: bool,
        now: Instant,
        rn: Option<crate::dtls::RecordNumber>,
    ) -> Result<(), Error> {
        let established = self.handshake.as_ref().is_some_and(Handshake::is_established);
        // The version is known (a client has heard from the server): only then are ACKs
        // and implicit acknowledgements meaningful (RFC 9147 7.1).
        let version_known = rn.is_some() && !self.awaits_first_server_message();
        // A record whose fragments we dropped (too far ahead to buffer) is not acknowledged:
        // the peer must resend them.
        let mut discarded = false;
        let mut next_flight = false;
        let mut old = false;
        // DTLS 1.3: a record of an encrypted epoch older than the one the peer's last
        // Finished or KeyUpdate moved us to may repeat old messages, never carry a new one
        // (RFC 8446 5.1: messages must not span a key change). Plaintext records are left
        // out: anyone could have sent those, they are dropped (below).
        let stale_epoch = rn.is_some_and(|rn| rn.epoch >= 2 && rn.epoch < self.engine.read_epoch());
        for frag in parse_fragments(data) {
            let (h, body) = frag?;
            if u32::from(h.message_seq) < self.reassembler.next_seq() {
                old = true;
                self.peer_retransmitted(&h, now)?;
                continue;
            }
            if stale_epoch {
                return Err(PeerMisbehaved::MessageSpansKeyChange.into());
            }
            // RFC 6347 4.1: a new message must come under the epoch now in force; an older
            // epoch only repeats what we already have.
            if !current {
                continue;
            }
            if let Start::Server(..) = self.start {
                // The first ClientHello we take sets the message_seq both sides continue from
                // (after a stateless HelloVerifyRequest it is 1, RFC 6347 4.2.2).
                if h.msg_type == HandshakeType::ClientHello
                    && self.reassembler.buffered() == 0
                    && u32::from(h.message_seq) > self.reassembler.next_seq()
                    && h.message_seq < 8
                {
                    self.reassembler.reset_to(u32::from(h.message_seq));
                }
            }
            match self.reassembler.push(&h, body)? {
                Pushed::Old => {
                    old = true;
                    self.peer_retransmitted(&h, now)?;
                }
                Pushed::TooFarAhead => discarded = true,
                _ => next_flight = true,
            }
        }
        if let (Some(rn), false) = (rn, discarded) {
            self.engine.owe_ack(rn);
        }
        if version_known && !discarded && (next_flight || old) {
            // RFC 9147 7.2: part of the peer's next flight means ours arrived: its
            // retransmission stops (during the handshake; after it, post-handshake messages
            // and data do not acknowledge our last flight, only an ACK does).
            if next_flight && current && !established && !self.post_handshake_flight() {
                self.timer.finish();
            }
            // The ACK goes out a quarter of the retransmission timeout later unless our
            // next flight (an implicit ACK) or the end of the handshake comes first, so one
            // ACK covers what arrives together; a repeat of a message we have means the peer
            // lacks our ACK or flight (RFC 9147 7.1), answered the same way.
            let delay = self.timer.current_timeout() / 4;
            self.engine.arm_ack(now.checked_add(delay));
        }
        while let Some(m) = self.reassembler.pop() {
            self.peer_progress = true;
            if let Some(obs) = &self.common.observer {
                // The observer numbers epochs in 16 bits (DTLS 1.2's field).
                obs.handshake(
                    Direction::Received,
                    m.msg_type,
                    m.body.len(),
                    self.engine.read_epoch() as u16,
                );
            }
            let was_established = self.handshake.as_ref().is_some_and(Handshake::is_established);
            self.handle_message(m.msg_type, m.message_seq, &m.body, &m)?;
            if self.error.is_some() {
                break;
            }
            if let Engine::V13(_) = self.engine {
                self.handled13(was_established, now)?;
            }
        }
        Ok(())
    }

    /// The peer sent a message we already processed again: its flight is being
    /// retransmitted, so ours was lost. DTLS 1.2 answers with our flight at once (RFC 6347
    /// 4.2.4); DTLS 1.3 with an ACK, on its timer (see `recv_handshake`): our flight goes
    /// out again on our own retransmission timer (RFC 9147 7.1, 5.8).
    fn peer_retransmitted(&mut self, h: &HandshakeHeader, now: Instant) -> Result<(), Error> {
        match self.engine {
            Engine::V12(_) => self.peer_retransmitted12(h, now),
            Engine::V13(_) => Ok(()),
        }
    }

    fn handle_message(
        &mut self,
        typ: HandshakeType,
        seq: u16,
        body: &[u8],
        m: &HandshakeMessage,
    ) -> Result<(), Error> {
        match std::mem::replace(&mut self.start, Start::Running) {
            Start::Server(config, retry) => {
                if typ != HandshakeType::ClientHello {
                    return Err(Error::UnexpectedMessage {
                        state: "expect ClientHello",
                        got: typ.name().unwrap_or("unknown handshake message"),
                    });
                }
                let payload = HandshakePayload::decode_dtls(typ, body, Dialect::Tls12)?;
                let HandshakePayload::ClientHello(hello) = &payload else {
                    return Err(Error::Internal("ClientHello decoded as another message"));
                };
                // We answer with the same message_seq (RFC 6347 4.2.2, RFC 9147 5.2).
                self.common.wire.send_seq = u32::from(seq);
                let offers13 = hello
                    .supported_versions()
                    .is_some_and(|v| v.contains(&ProtocolVersion::DTLSv1_3));
                if config.shared.tls13() && offers13 {
                    // RFC 9147 5.3: a DTLS 1.3 hello's legacy_cookie is empty.
                    if hello.cookie.as_ref().is_some_and(|c| !c.is_empty()) {
                        return Err(PeerMisbehaved::IllegalParameter(Parameter::LegacyCookie).into());
                    }
                    self.choose_engine(true);
                    let hs = match retry {
                        Some(r) => server13::start_after_retry(config, &mut self.common, *r),
                        None => server13::start(config),
                    };
                    let msg = Msg {
                        payload,
                        raw: m.tls_encoding(),
                    };
                    self.handshake = Some(hs.handle(&mut self.common, msg)?);
                    return Ok(());
                }
                if retry.is_some() {
                    // Our HelloRetryRequest named DTLS 1.3; the second hello must too.
                    return Err(PeerMisbehaved::SecondClientHelloMismatch.into());
                }
                self.choose_engine(false);
                let msg = Msg {
                    payload: payload.clone(),
                    raw: m.dtls_encoding(),
                };
                let hs = server12::handle_client_hello(config, &mut self.common, &msg, hello)?;
                self.handshake = Some(hs);
                return Ok(());
            }
            Start::Running => {}
        }
        let hs = self
            .handshake
            .take()
            .ok_or(Error::Internal("handshake state lost"))?;
        if hs.awaits_server_hello() && typ == HandshakeType::HelloVerifyRequest {
            // A DTLS 1.2 server's cookie exchange (RFC 6347 4.2.1), from a stateless server
            // that reused our record sequence number: the handshake proper starts afresh.
            let Some(Tls12Payload::HelloVerifyRequest(hvr)) = Tls12Payload::decode(typ, body)? else {
                return Err(Error::Internal("HelloVerifyRequest decoded as another message"));
            };
            self.window0 = ReplayWindow::new();
            if let Some(e) = self.engine.v12_mut() {
                // A DTLS 1.2-only client reads epoch 0 through its engine's window.
                e.restart_window();
            }
            self.handshake = Some(hs.dtls_hello_verify(&mut self.common, hvr.cookie)?);
            return Ok(());
        }
        // The type is checked against the state before the body is decoded (the reassembler
        // already capped its length).
        hs.check_type(&self.common, typ)?;
        let payload = HandshakePayload::decode_dtls(typ, body, hs.dialect())?;
        if hs.awaits_server_hello() {
            if let HandshakePayload::ServerHello(sh) = &payload {
                // The version is fixed: its engine and transcript rule.
                self.choose_engine(sh.supported_version() == Some(ProtocolVersion::DTLSv1_3));
            }
        }
        let raw = if self.common.wire.transcript13() {
            m.tls_encoding()
        } else {
            m.dtls_encoding()
        };
        let next = hs.handle(&mut self.common, Msg { payload, raw })?;
        self.handshake = Some(next);
        if self.handshake.as_ref().is_some_and(Handshake::is_established) {
            let held: Vec<_> = self.held_data.drain(..).collect();
            for data in held {
                self.recv_data(&data, true)?;
            }
        }
        Ok(())
    }

    fn recv_alert(&mut self, data: &[u8], current: bool) -> Result<(), Error> {
        // An unprotected alert of an old epoch can be anyone's: ignore it (RFC 6347 4.1.2.7
        // lets alerts that are not authenticated be dropped).
        if !current {
            return Ok(());
        }
        let alert = AlertMessage::read_exact(data, "alert")?;
        self.last_alert_received = Some(AlertRecord {
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
            // RFC 8446 6.1: user_canceled is a closure alert, not an error; a few in a row.
            AlertDescription::UserCanceled if alert.level == AlertLevel::Warning => {
                self.inbound.warning_alert()
            }
            // RFC 6347 4.1 (RFC 5246 7.2): below DTLS 1.3 a warning leaves the connection up.
            _ if alert.level == AlertLevel::Warning
                && self.common.neg.version != Some(ProtocolVersion::DTLSv1_3) =>
            {
                self.inbound.warning_alert()
            }
            other => Err(Error::AlertReceived(other)),
        }
    }

    fn recv_data(&mut self, data: &[u8], protected: bool) -> Result<(), Error> {
        // RFC 6347 4.1: application data is only taken under the keys the handshake
        // established; an unprotected or early record is dropped.
        if !protected {
            return Ok(());
        }
        let start = self.received_end();
        self.received.extend_from_slice(data);
        self.recv_data_at(start)
    }

    /// Where the next record opens into `received` (see [`recv_data_at`](Self::recv_data_at)):
    /// its end, after dropping what was all read.
    pub(super) fn received_end(&mut self) -> usize {
        received_end(&mut self.received, &mut self.received_start)
    }

    /// Takes off `received[start..]`, a record that is not application data opened there.
    /// Without plaintext before it the buffer goes with it: no capacity stays behind.
    pub(super) fn take_received_from(&mut self, start: usize) -> Vec<u8> {
        if start == 0 {
            std::mem::take(&mut self.received)
        } else {
            self.received.split_off(start)
        }
    }

    /// The content of a protected application data record, deprotected in place at the end
    /// of `received` from `start` (from [`received_end`](Self::received_end)): kept there
    /// for the reader, or taken off again (held, dropped) by the rules of `recv_data`.
    pub(super) fn recv_data_at(&mut self, start: usize) -> Result<(), Error> {
        let len = self.received.len() - start;
        let kept = self.keep_data(start, len);
        if !matches!(kept, Ok(true)) {
            self.received.truncate(start);
        }
        kept.map(|_| ())
    }

    /// Whether the record of `len` bytes at `received[start..]` stays there for the reader.
    fn keep_data(&mut self, start: usize, len: usize) -> Result<bool, Error> {
        match self.admit_data(len)? {
            Admit::Deliver => {}
            Admit::Hold => {
                self.held_data.push_back(self.received[start..].to_vec());
                return Ok(false);
            }
            Admit::Drop => return Ok(false),
        }
        // Back-pressure: while the application leaves the cap unread the record is dropped,
        // as the network could have dropped it (RFC 6347 4.1: application data is not
        // retransmitted by DTLS; the application's protocol recovers it if it must).
        if !self.inbound.has_room(start - self.received_start) {
            return Ok(false);
        }
        // One event per record: over DTLS a record is the application's message, and its
        // `Data` event is where its boundary shows (consecutive records do not merge).
        self.common.events.push_back(Event::Data { len });
        Ok(true)
    }

    /// The rules for a protected application data record of `len` bytes, wherever it was
    /// opened (the reader's buffer or the caller's datagram).
    #[inline]
    fn admit_data(&mut self, len: usize) -> Result<Admit, Error> {
        if !self.handshake.as_ref().is_some_and(Handshake::is_established) {
            // Under the new keys but ahead of the Finished that completes the handshake (a
            // reordered datagram): held, a few records, until the Finished is in.
            if self.held_data.len() < MAX_FUTURE_RECORDS {
                return Ok(Admit::Hold);
            }
            return Ok(Admit::Drop);
        }
        // Data from the peer proves it has our last flight.
        if self.flight_trigger.is_some() && self.timer.poll_timeout().is_none() {
            self.flight.clear();
            self.flight_trigger = None;
        }
        if !self.inbound.data_record(len)? {
            return Ok(Admit::Drop);
        }
        // Data between the peer's KeyUpdates: they are not a flood (an empty record does
        // not count, or one datagram of each would make any number of KeyUpdates pass).
        if let Some(Handshake::Established(est)) = self.handshake.as_mut() {
            est.data_received();
        }
        Ok(Admit::Deliver)
    }

    /// Changes the largest datagram we send, e.g. after path-MTU discovery (RFC 9147 4.4):
    /// what is sent from now on, retransmissions included, fits it; datagrams already
    /// queued go out as they are. The same bounds as [`DtlsConfig::mtu`].
    pub fn set_mtu(&mut self, mtu: usize) -> Result<(), Error> {
        check_mtu(mtu)?;
        self.cfg.mtu = mtu;
        Ok(())
    }

    /// When [`handle_timeout`](Self::handle_timeout) is next due, if a timer runs.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.error.is_some() {
            return None;
        }
        match (self.timer.poll_timeout(), self.engine.ack_at()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Runs the timers at `now`: retransmits our flight when its timeout passed (doubling
    /// the next one, RFC 6347 4.2.4.1), and fails the handshake with
    /// [`Error::HandshakeTimeout`] when a flight went unanswered for the give-up timeout
    /// ([`TimerConfig::total`](crate::dtls::TimerConfig::total)). DTLS 1.3: sends the
    /// ACK of post-handshake messages when its delay passed.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), Error> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        self.last_now = Some(now);
        let mut res = Ok(());
        if self.engine.ack_at().is_some_and(|at| at <= now) {
            // The delayed ACK (RFC 9147 7.1), before a retransmission due at the same time:
            // the ACK is what the peer's own retransmission waits on.
            res = self.send_ack13();
        }
        let res = res.and_then(|()| match self.timer.on_timeout(now) {
            TimerAction::Nothing => Ok(()),
            TimerAction::Retransmit => self.send_flight(false),
            TimerAction::GiveUp => Err(Error::HandshakeTimeout),
        });
        self.finish_step(res, now)
    }

    /// The next event, if any. Events wait until drained; over DTLS each record's data is
    /// announced by an `Event::Data` of its own (its length is the record's boundary), so
    /// an application should drain events as it reads.
    pub fn next_event(&mut self) -> Option<Event> {
        self.common.events.pop_front()
    }

    /// Plaintext received from the peer.
    pub fn reader(&mut self) -> DtlsReader<'_> {
        DtlsReader { conn: self }
    }

    /// Plaintext to send: each write is a message and becomes records of its own (at most
    /// one MTU each; records of several writes may share a datagram) on the next
    /// `poll_datagram`. Datagram semantics: a record may be lost; nothing is retransmitted.
    pub fn writer(&mut self) -> DtlsWriter<'_> {
        DtlsWriter { conn: self }
    }

    /// True until the handshake completes (and false after a fatal error).
    pub fn is_handshaking(&self) -> bool {
        self.error.is_none() && !self.handshake.as_ref().is_some_and(Handshake::is_established)
    }

    /// True when `poll_datagram` has something to send.
    pub fn wants_write(&self) -> bool {
        !self.out.is_empty()
            || (!self.common.queue.is_empty() && !self.held_for_key_update_ack(&self.common.queue))
    }

    /// Whether the last datagram given to [`recv_datagram`](Self::recv_datagram) carried
    /// a record that deprotected under the keys in force and is newer (epoch, then sequence
    /// number) than any before it. Only then may the peer's address be updated to the one
    /// the datagram came from (RFC 9146 6): a replayed, reordered or forged datagram from a
    /// new address leaves the connection where it was. The connection does no I/O: the
    /// event loop that routed the datagram (by connection id, see
    /// [`DtlsAcceptor::connection_id`](super::DtlsAcceptor::connection_id)) moves the peer.
    pub fn last_datagram_authenticated(&self) -> bool {
        self.datagram_authenticated
    }

    /// The error that closed the connection, if one did.
    pub fn error(&self) -> Option<&Error> {
        self.error.as_ref()
    }

    /// Sends close_notify after the data already written.
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

    fn buffered_plaintext(&self) -> usize {
        self.received.len() - self.received_start
    }

    /// DTLS 1.3: sends a KeyUpdate (asking the peer to update too if `ask_peer`); our new
    /// write keys take over once the peer acknowledges it (RFC 9147 8). One at a time.
    pub fn request_key_update(&mut self, ask_peer: bool) -> Result<(), Error> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        if self.sent_close {
            return Err(Error::Misuse(Misuse::Closed));
        }
        let finished_in_flight = !self.flight.is_empty() && !self.post_handshake_flight();
        let (Some(v13), Some(Handshake::Established(est))) = (self.engine.v13_mut(), self.handshake.as_mut())
        else {
            return Err(Error::Misuse(Misuse::KeyUpdateUnavailable));
        };
        if v13.key_update_pending() || v13.deferred_key_update.is_some() {
            return Err(Error::Misuse(Misuse::KeyUpdatePending));
        }
        // RFC 9147 5.2: message_seq is 16 bits and does not wrap; once message 0xffff went
        // out no KeyUpdate can follow (the connection goes on under the current keys).
        if self.common.wire.seq_spent() {
            return Err(Error::LimitExceeded(Limit::HandshakeMessageSeq));
        }
        if finished_in_flight {
            // Our handshake's last flight (the Finished) awaits its ACK: the KeyUpdate follows
            // once it is acknowledged (see `Epochs13::deferred_key_update`). Post-handshake
            // messages awaiting theirs stay in the flight beside it.
            v13.deferred_key_update = Some(ask_peer);
            return Ok(());
        }
        est.update_ours(&mut self.common, ask_peer);
        let now = self.last_now.ok_or(Error::Misuse(Misuse::NoTimeSeen))?;
        self.finish_step(Ok(()), now)
    }
}

impl std::fmt::Debug for DtlsConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DtlsConnection")
            .field("side", &self.common.side)
            .field("version", &self.common.neg.version)
            .field("suite", &self.common.neg.suite)
            .field("handshaking", &self.is_handshaking())
            .field("read_epoch", &self.engine.read_epoch())
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

/// Which engine takes a record of a datagram (see `DtlsConnection::route`).
enum Route<'a> {
    /// A DTLS 1.2 record (with a 13-byte header, or `tls12_cid` with our id): header and
    /// fragment, the fragment ending the record.
    Record12(PlaintextHeader, &'a [u8]),
    /// A DTLS 1.3 `DTLSPlaintext`: header and fragment, the fragment ending the record.
    Plaintext13(PlaintextHeader, &'a [u8]),
    /// A DTLS 1.3 `DTLSCiphertext`.
    Protected13(ProtectedRecord<'a>),
    /// Not for this connection (another id, another version's form): the next record.
    Skip,
    /// The rest of the datagram is dropped.
    Stop,
}

/// Where a received record's content lies once deprotected: where `recv_datagram` and
/// `recv_datagram_in_place` differ.
pub(super) enum Content<'d> {
    /// An unprotected record's fragment, where it arrived.
    Clear(&'d [u8]),
    /// Opened at `received[start..]`, after the plaintext waiting for the reader.
    Received { start: usize },
    /// Opened where it lies in the caller's datagram: `bytes`, `at` bytes into it.
    InPlace { bytes: &'d [u8], at: usize },
}

impl Content<'_> {
    /// The content's length; `received` is the connection's received plaintext.
    #[inline(always)]
    pub(super) fn len(&self, received: &[u8]) -> usize {
        match self {
            Content::Clear(bytes) | Content::InPlace { bytes, .. } => bytes.len(),
            Content::Received { start } => received.len().saturating_sub(*start),
        }
    }
}

/// What becomes of a protected application data record (see `DtlsConnection::admit_data`).
enum Admit {
    /// Delivered: kept for the reader, or handed back in place.
    Deliver,
    /// Ahead of the Finished: a copy is held until the handshake completes.
    Hold,
    /// Dropped (empty, or too many held).
    Drop,
}

/// Takes one whole DTLS-framed handshake message off the front of `buf`.
fn take_message(buf: &mut Vec<u8>) -> Option<Vec<u8>> {
    let h = HandshakeHeader::decode(&mut Reader::new(buf)).ok()?;
    let total = 12 + h.length as usize;
    if buf.len() < total {
        return None;
    }
    let rest = buf.split_off(total);
    Some(std::mem::replace(buf, rest))
}

/// `io::Read` over received plaintext: `WouldBlock` when empty, `Ok(0)` after close_notify.
pub struct DtlsReader<'a> {
    conn: &'a mut DtlsConnection,
}

impl io::Read for DtlsReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let c = &mut *self.conn;
        read_plaintext(
            &c.received,
            &mut c.received_start,
            c.peer_closed,
            c.error.as_ref(),
            buf,
        )
    }
}

/// `io::Write` into the outgoing queue (held until the handshake completes). Each write is
/// a message: its records carry nothing of another write, and it is taken whole or not at
/// all (`WouldBlock` while earlier writes fill the plaintext cap; one write alone may exceed
/// it), so a message is never cut in two by a partial write.
pub struct DtlsWriter<'a> {
    conn: &'a mut DtlsConnection,
}

impl io::Write for DtlsWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let c = &mut *self.conn;
        let waiting = c.common.queue.app_bytes();
        let room = plaintext_room(
            waiting,
            c.inbound.max_buffered,
            c.sent_close,
            c.error.as_ref(),
            buf.len(),
        )?;
        if room < buf.len() && waiting > 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        c.common.queue.push_app_message(buf);
        if !buf.is_empty() {
            c.common.app_data_written();
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// [`DtlsConnection::received_end`] on the two fields alone, for a caller that holds a
/// borrow of another part of the connection (the read epoch a record opens under).
pub(super) fn received_end(received: &mut Vec<u8>, received_start: &mut usize) -> usize {
    if *received_start == received.len() {
        received.clear();
        *received_start = 0;
    }
    received.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_message_splits_concatenated_messages() {
        let mut buf = crate::dtls::fragment::dtls_framing(&[14, 0, 0, 0], 3);
        buf.extend(crate::dtls::fragment::dtls_framing(&[20, 0, 0, 2, 9, 9], 4));
        buf.extend_from_slice(&[1, 0]);
        assert_eq!(take_message(&mut buf).unwrap().len(), 12);
        assert_eq!(take_message(&mut buf).unwrap()[12..], [9, 9]);
        assert_eq!(take_message(&mut buf), None);
        assert_eq!(buf, [1, 0]);
    }

    use std::io::{Read, Write};

    fn pair13() -> (DtlsConnection, DtlsConnection, Instant) {
        use crate::pki::{TrustAnchors, WebPkiServerVerifier};
        let anchors = TrustAnchors::from_pem(include_bytes!("../../vectors/ca.pem")).unwrap();
        let client = ClientConfig::builder(Arc::new(WebPkiServerVerifier::new(anchors)))
            .build()
            .unwrap();
        let key = crate::CertifiedKey::from_pem(
            include_bytes!("../../vectors/localhost-ed25519.pem"),
            include_bytes!("../../vectors/localhost-ed25519.key"),
        )
        .unwrap();
        let server = ServerConfig::builder(key).build().unwrap();
        let now = Instant::now();
        let c = DtlsConnection::client(client, "localhost", DtlsConfig::default(), now).unwrap();
        let s = DtlsConnection::server(server, DtlsConfig::default()).unwrap();
        (c, s, now)
    }

    /// Moves datagrams both ways until neither side has any.
    fn settle(c: &mut DtlsConnection, s: &mut DtlsConnection, now: Instant) {
        let mut buf = [0u8; 1500];
        loop {
            let mut moved = false;
            while let Some(n) = c.poll_datagram(&mut buf) {
                s.recv_datagram(&buf[..n], now).unwrap();
                moved = true;
            }
            while let Some(n) = s.poll_datagram(&mut buf) {
                c.recv_datagram(&buf[..n], now).unwrap();
                moved = true;
            }
            if !moved {
                return;
            }
        }
    }

    fn epochs(conn: &DtlsConnection) -> (Vec<u64>, Vec<u64>) {
        let v13 = conn.engine.v13().unwrap();
        (v13.read_epochs(), v13.write_epochs())
    }

    #[test]
    fn handshake_epoch_keys_go_once_nothing_needs_them() {
        let (mut c, mut s, now) = pair13();
        let mut buf = [0u8; 1500];
        // ClientHello, then the server's flight: both sides hold epoch 2 both ways while
        // the client's Finished is unacknowledged.
        let n = c.poll_datagram(&mut buf).unwrap();
        s.recv_datagram(&buf[..n], now).unwrap();
        while let Some(n) = s.poll_datagram(&mut buf) {
            c.recv_datagram(&buf[..n], now).unwrap();
        }
        assert_eq!(c.protocol_version(), Some(ProtocolVersion::DTLSv1_3));
        assert_eq!(epochs(&c), (vec![2, 3], vec![2, 3]), "client, Finished in flight");
        // The Finished reaches the server: its own handshake flight is answered, so its
        // epoch 2 write keys go; it keeps epoch 2 read keys for a repeated Finished.
        while let Some(n) = c.poll_datagram(&mut buf) {
            s.recv_datagram(&buf[..n], now).unwrap();
        }
        assert_eq!(epochs(&s), (vec![2, 3], vec![3]), "server");
        // The server's ACK and tickets reach the client: it forgets epoch 2 both ways.
        settle(&mut c, &mut s, now);
        assert_eq!(epochs(&c), (vec![3], vec![3]), "client, Finished acknowledged");
        assert_eq!(epochs(&s), (vec![2, 3], vec![3]), "server");
        // Data still flows both ways.
        c.writer().write_all(b"ping").unwrap();
        settle(&mut c, &mut s, now);
        let mut got = [0u8; 4];
        s.reader().read_exact(&mut got).unwrap();
        assert_eq!(&got, b"ping");
    }

    use crate::dtls::RecordNumber;

    /// Moves the client's hello and the server's flight: the client is established, its
    /// Finished awaits the server's ACK.
    fn to_client_finished(c: &mut DtlsConnection, s: &mut DtlsConnection, now: Instant) {
        let mut buf = [0u8; 1500];
        let n = c.poll_datagram(&mut buf).unwrap();
        s.recv_datagram(&buf[..n], now).unwrap();
        while let Some(n) = s.poll_datagram(&mut buf) {
            c.recv_datagram(&buf[..n], now).unwrap();
        }
        assert!(!c.is_handshaking());
    }

    fn flight_types(conn: &DtlsConnection) -> Vec<HandshakeType> {
        conn.flight
            .iter()
            .filter_map(|i| HandshakeHeader::decode(&mut Reader::new(&i.bytes)).ok())
            .map(|h| h.msg_type)
            .collect()
    }

    /// RFC 9147 5 / 6347 4.1: the first ClientHello goes out with record version DTLS 1.0
    /// ({254, 255}), as BoringSSL and OpenSSL send it; every other record is {254, 253}.
    #[test]
    fn initial_client_hello_record_is_dtls10() {
        let (mut c, mut s, now) = pair13();
        let mut buf = [0u8; 1500];
        c.poll_datagram(&mut buf).unwrap();
        assert_eq!((buf[0], &buf[1..3]), (22, &[0xfe, 0xff][..]));
        // Its retransmission too, while the version is open.
        c.handle_timeout(now + Duration::from_secs(1)).unwrap();
        let m = c.poll_datagram(&mut buf).unwrap();
        assert_eq!(&buf[1..3], [0xfe, 0xff]);
        // The server's answer fixes it: {254, 253} from then on.
        s.recv_datagram(&buf[..m], now).unwrap();
        let n2 = s.poll_datagram(&mut buf).unwrap();
        assert_eq!(&buf[1..3], [0xfe, 0xfd], "ServerHello record");
        c.recv_datagram(&buf[..n2], now).unwrap();
        assert!(!c.before_first_server_message());
    }

    /// RFC 9147 5.2: our message_seq does not wrap. The KeyUpdate numbered 0xffff goes out;
    /// the next one is refused with `LimitExceeded(HandshakeMessageSeq)`, and the connection
    /// goes on under the keys it has.
    #[test]
    fn key_update_past_message_seq_0xffff_is_refused() {
        let (mut c, mut s, now) = pair13();
        settle(&mut c, &mut s, now);
        let later = now + Duration::from_secs(1);
        c.handle_timeout(later).unwrap();
        settle(&mut c, &mut s, later);
        // Both sides jump to the last number (as 0xfff8 KeyUpdates in a row would).
        s.common.wire.send_seq = 0xffff;
        c.reassembler.reset_to(0xffff);
        s.request_key_update(false).unwrap();
        let mut buf = [0u8; 1500];
        let n = s.poll_datagram(&mut buf).unwrap();
        c.recv_datagram(&buf[..n], later).unwrap();
        assert_eq!(c.reassembler.next_seq(), 0x10000, "KeyUpdate 0xffff taken");
        let acked = later + Duration::from_secs(1);
        c.handle_timeout(acked).unwrap();
        settle(&mut c, &mut s, acked);
        assert!(!s.engine.key_update_pending());
        assert_eq!(s.write_epoch(), 4);
        assert_eq!(
            s.request_key_update(false),
            Err(Error::LimitExceeded(Limit::HandshakeMessageSeq))
        );
        assert_eq!(s.error(), None);
        assert_eq!(s.poll_datagram(&mut buf), None, "nothing sent");
        s.writer().write_all(b"still up").unwrap();
        settle(&mut c, &mut s, acked);
        let mut got = [0u8; 8];
        c.reader().read_exact(&mut got).unwrap();
        assert_eq!(&got, b"still up");
    }

    /// A KeyUpdate asked for while our Finished awaits its ACK used to replace the Finished
    /// in retransmission; it now waits for the ACK (RFC 9147 8: one flight at a time).
    #[test]
    fn key_update_waits_for_the_finished_ack() {
        let (mut c, mut s, now) = pair13();
        to_client_finished(&mut c, &mut s, now);
        assert_eq!(flight_types(&c), [HandshakeType::Finished]);
        c.request_key_update(false).unwrap();
        assert_eq!(
            c.request_key_update(false),
            Err(Error::Misuse(Misuse::KeyUpdatePending))
        );
        assert_eq!(
            flight_types(&c),
            [HandshakeType::Finished],
            "Finished still retransmitted"
        );
        // The server's ACK of the Finished (and its tickets, acknowledged on the ACK timer)
        // clears the flight; the KeyUpdate follows.
        settle(&mut c, &mut s, now);
        let later = now + Duration::from_secs(1);
        c.handle_timeout(later).unwrap();
        s.handle_timeout(later).unwrap();
        settle(&mut c, &mut s, later);
        assert_eq!(c.engine.v13().unwrap().deferred_key_update, None);
        assert_eq!(
            epochs(&c).1,
            vec![3, 4],
            "the KeyUpdate went out and was acknowledged"
        );
    }

    /// RFC 9147 7.1 allows resending the rest of a flight at once on a partial ACK or on the
    /// timer; we wait for the timer, so a peer acknowledging record by record does not make
    /// us resend per ACK. A fully acknowledged flight leaves no timer at all.
    #[test]
    fn partial_ack_waits_for_the_timer() {
        let (mut c, mut s, now) = pair13();
        let mut buf = [0u8; 1500];
        let n = c.poll_datagram(&mut buf).unwrap();
        s.recv_datagram(&buf[..n], now).unwrap();
        while s.poll_datagram(&mut buf).is_some() {}
        fn v13(s: &DtlsConnection) -> &v13::Epochs13 {
            s.engine.v13().unwrap()
        }
        assert!(v13(&s).sent.unacked().len() > 1);
        let sent: Vec<RecordNumber> = v13(&s).sent.in_flight_records();
        let ack = |rns: &[RecordNumber]| {
            crate::dtls::ack::Ack {
                record_numbers: rns.to_vec(),
            }
            .to_bytes()
        };
        // One record acknowledged (the ServerHello, epoch 0): nothing is resent now.
        s.recv_ack(&ack(&sent[..1]), 0).unwrap();
        assert!(s.out.is_empty(), "no resend on a partial ACK");
        assert!(s.poll_timeout().is_some());
        // A plaintext ACK naming an encrypted record is dropped, not fatal.
        s.recv_ack(&ack(&sent[1..2]), 0).unwrap();
        assert!(!v13(&s).sent.all_acked());
        // An authenticated ACK in a lower epoch than a handshake record it names is.
        assert!(matches!(s.recv_ack(&ack(&sent[1..2]), 1), Err(Error::Decode(_))));
    }

    /// A datagram of application data on an established connection, with nothing queued,
    /// no flight and no ACK due, is taken in without any output or timer; a KeyUpdate
    /// after it is still acknowledged on the ACK timer, and data still flows under the new
    /// keys.
    #[test]
    fn data_alone_sends_nothing_and_key_update_still_acknowledged() {
        let (mut c, mut s, now) = pair13();
        settle(&mut c, &mut s, now);
        let later = now + Duration::from_secs(1);
        c.handle_timeout(later).unwrap();
        s.handle_timeout(later).unwrap();
        settle(&mut c, &mut s, later);
        while s.next_event().is_some() {}
        assert!(s.flight.is_empty() && s.poll_timeout().is_none() && !s.wants_write());

        let mut buf = [0u8; 1500];
        for round in 0..3u8 {
            c.writer().write_all(&[round; 700]).unwrap();
            let n = c.poll_datagram(&mut buf).unwrap();
            s.recv_datagram(&buf[..n], later).unwrap();
            assert_eq!(s.next_event(), Some(Event::Data { len: 700 }));
            assert_eq!(s.next_event(), None);
            assert_eq!(s.poll_datagram(&mut buf), None, "nothing to answer data with");
            assert_eq!(s.poll_timeout(), None);
            let mut got = [0u8; 700];
            s.reader().read_exact(&mut got).unwrap();
            assert_eq!(got, [round; 700]);
        }

        // The client's KeyUpdate: acknowledged by the server on its ACK timer, not at once.
        c.request_key_update(false).unwrap();
        let n = c.poll_datagram(&mut buf).unwrap();
        s.recv_datagram(&buf[..n], later).unwrap();
        assert_eq!(s.poll_datagram(&mut buf), None, "the ACK waits for its timer");
        let ack_at = s.poll_timeout().expect("ACK timer");
        s.handle_timeout(ack_at).unwrap();
        let n = s.poll_datagram(&mut buf).expect("the ACK");
        c.recv_datagram(&buf[..n], ack_at).unwrap();
        assert!(!c.engine.key_update_pending());
        assert_eq!(c.write_epoch(), 4);
        c.writer().write_all(b"new keys").unwrap();
        let n = c.poll_datagram(&mut buf).unwrap();
        s.recv_datagram(&buf[..n], ack_at).unwrap();
        assert_eq!(s.poll_datagram(&mut buf), None);
        let mut got = [0u8; 8];
        s.reader().read_exact(&mut got).unwrap();
        assert_eq!(&got, b"new keys");
    }

    /// A message after the KeyUpdate (or Finished) that changed the peer's keys, in a record
    /// of the old epoch, spans the key change (RFC 8446 5.1): unexpected_message.
    #[test]
    fn new_message_in_a_stale_epoch_is_refused() {
        let (mut c, mut s, now) = pair13();
        to_client_finished(&mut c, &mut s, now);
        settle(&mut c, &mut s, now);
        assert_eq!(c.read_epoch(), 3);
        let next = u16::try_from(c.reassembler.next_seq()).unwrap();
        let frag = crate::dtls::fragment::dtls_framing(&[4, 0, 0, 1, 0], next);
        let res = c.recv_handshake(&frag, true, now, Some(RecordNumber::new(2, 50)));
        assert_eq!(res, Err(PeerMisbehaved::MessageSpansKeyChange.into()));
    }
}
