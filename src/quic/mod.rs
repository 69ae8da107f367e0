//! TLS 1.3 for QUIC (RFC 9001): the same client and server handshake state machines as
//! [`Connection`](crate::Connection), without the record layer.
//!
//! The QUIC stack carries handshake bytes in CRYPTO frames at one of four encryption levels
//! ([`Level`]) and protects packets itself with keys derived from the TLS secrets
//! ([`KeyChange`], [`Keys`], [`Secrets`]). On a [`QuicConnection`]:
//! - there are no TLS records, no ChangeCipherSpec and no compatibility mode (RFC 9001 4.1,
//!   8.4): the ClientHello carries an empty legacy_session_id and only TLS 1.3 is offered;
//! - no EndOfEarlyData (RFC 9001 8.3) and no KeyUpdate messages: a KeyUpdate from the peer is
//!   unexpected_message (RFC 9001 6); QUIC updates 1-RTT keys itself with "quic ku" (6.1);
//! - the quic_transport_parameters extension (RFC 9001 8.2) carries both sides' transport
//!   parameters opaquely and is required (missing_extension otherwise); ALPN is required
//!   (RFC 9001 8.1: no_application_protocol otherwise);
//! - tickets allowing 0-RTT carry max_early_data_size 0xffffffff (RFC 9001 4.6.1);
//! - a failure is an [`Error`] whose [`Error::alert`] the QUIC stack sends as
//!   CRYPTO_ERROR `0x100 + alert` ([`crypto_error_code`], RFC 9001 4.8); no alert record is
//!   written.

mod keys;

use std::collections::VecDeque;
use std::sync::Arc;

pub use keys::{DirectionalKeys, KeyChange, Keys, Level, PacketKeySet, Secrets};

pub use crate::crypto::quic::{
    initial_secret, initial_secrets, next_secret, packet_key_material, retry_integrity_tag,
    verify_retry_integrity, HeaderProtectionKey, PacketKey, INITIAL_SALT_V1, SAMPLE_LEN,
};

use crate::codec::AlertDescription;
use crate::common::{Common, KeyLevel, Side, Transport, Wire};
use crate::config::{ClientConfig, ServerConfig};
use crate::crypto::secret::Secret;
use crate::crypto::suites::{tls13_suite, Tls13Suite};
use crate::crypto::Prk;
use crate::error::{Error, PeerMisbehaved};
use crate::event::Event;
use crate::handshake::{check_message_len, client13, server13, Handshake, Msg};
use crate::msgs::{Dialect, HandshakePayload};
use crate::pki::ServerName;
use crate::record::HandshakeJoiner;
use crate::record::{OutQueue, ReadState, WriteState};

pub use crate::handshake::established::QUIC_MAX_EARLY_DATA;

/// RFC 9001 4.8: the QUIC CRYPTO_ERROR code for a TLS alert, `0x100 + alert`.
pub fn crypto_error_code(alert: AlertDescription) -> u64 {
    0x100 + u64::from(alert.get())
}

/// One thing the handshake produced, in order.
enum Out {
    /// Handshake message bytes for the current write level.
    Bytes(Vec<u8>),
    /// Keys for the next level; bytes after it go at that level.
    Keys(KeyChange),
}

/// Where the handshake state machines put their output on a QUIC connection (the record
/// layer's queue on TLS): messages and secrets in order, the transport parameters both ways.
pub(crate) struct QuicSink {
    side: Side,
    params_ours: Vec<u8>,
    params_peer: Option<Vec<u8>>,
    out: VecDeque<Out>,
    /// client_early_traffic_secret, when 0-RTT is offered (client) or accepted (server).
    early: Option<(&'static Tls13Suite, Secret)>,
    /// Handshake keys were produced: the peer's handshake bytes now come at that level.
    have_handshake_keys: bool,
}

impl QuicSink {
    fn new(side: Side, params: Vec<u8>) -> Self {
        QuicSink {
            side,
            params_ours: params,
            params_peer: None,
            out: VecDeque::new(),
            early: None,
            have_handshake_keys: false,
        }
    }

    pub(crate) fn push_handshake(&mut self, bytes: Vec<u8>) {
        // Consecutive messages of one level share a buffer.
        match self.out.back_mut() {
            Some(Out::Bytes(b)) => b.extend_from_slice(&bytes),
            _ => self.out.push_back(Out::Bytes(bytes)),
        }
    }

    /// Our transport parameters, for the ClientHello or EncryptedExtensions.
    pub(crate) fn our_params(&self) -> Vec<u8> {
        self.params_ours.clone()
    }

    /// The peer's transport parameters from its ClientHello or EncryptedExtensions.
    pub(crate) fn set_peer_params(&mut self, params: &[u8]) {
        self.params_peer = Some(params.to_vec());
    }

    pub(crate) fn has_peer_params(&self) -> bool {
        self.params_peer.is_some()
    }

    /// The handshake traffic secrets, right after the ServerHello (RFC 9001 4.1.4).
    pub(crate) fn handshake_keys(&mut self, suite: &'static Tls13Suite, client: &Secret, server: &Secret) {
        self.have_handshake_keys = true;
        let secrets = Secrets::new(suite, self.side, client.clone(), server.clone());
        self.out.push_back(Out::Keys(KeyChange::Handshake { secrets }));
    }

    /// The application traffic secrets, after our Finished (RFC 9001 4.1.4).
    pub(crate) fn one_rtt_keys(&mut self, suite: &'static Tls13Suite, client: &Secret, server: &Secret) {
        let secrets = Secrets::new(suite, self.side, client.clone(), server.clone());
        self.out.push_back(Out::Keys(KeyChange::OneRtt { secrets }));
    }

    /// client_early_traffic_secret (RFC 9001 4.6.1, 5.1).
    pub(crate) fn early_keys(&mut self, suite: &'static Tls13Suite, secret: &Secret) {
        self.early = Some((suite, secret.clone()));
    }

    /// The server refused 0-RTT: the early keys are of no further use.
    pub(crate) fn drop_early_keys(&mut self) {
        self.early = None;
    }
}

/// QUIC's part of the handshake output: handshake bytes go into CRYPTO frames at the current
/// level instead of records, and the traffic secrets to the application, which protects its
/// own packets (RFC 9001 4, 5).
impl Wire for QuicSink {
    fn transport(&self) -> Transport {
        Transport::Quic
    }

    fn push_handshake(&mut self, _: &mut OutQueue, wire: Vec<u8>) {
        QuicSink::push_handshake(self, wire);
    }

    fn local_transport_parameters(&self) -> Option<Vec<u8>> {
        Some(self.our_params())
    }

    fn take_peer_transport_parameters(&mut self, params: &[u8]) -> bool {
        self.set_peer_params(params);
        true
    }

    fn has_peer_transport_parameters(&self) -> bool {
        self.has_peer_params()
    }

    /// No TLS record key: QUIC protects its packets itself, with the secrets
    /// [`traffic_secrets`](Wire::traffic_secrets) hands it (RFC 9001 5), so the key change
    /// only keeps the queue's order.
    fn write_state13(&mut self, _: &'static Tls13Suite, _: &Prk, _: KeyLevel, _: usize) -> WriteState {
        WriteState::plaintext(0x0303)
    }

    /// No TLS record key either way (see `write_state13`).
    fn read_state13(&mut self, _: &'static Tls13Suite, _: &Prk, _: KeyLevel) -> ReadState {
        ReadState::plaintext()
    }

    fn traffic_secrets(
        &mut self,
        level: KeyLevel,
        suite: &'static Tls13Suite,
        client: &Secret,
        server: &Secret,
    ) {
        match level {
            KeyLevel::Handshake => self.handshake_keys(suite, client, server),
            KeyLevel::Application => self.one_rtt_keys(suite, client, server),
            KeyLevel::Early | KeyLevel::Update => {}
        }
    }

    fn early_secret(&mut self, suite: &'static Tls13Suite, secret: &Secret) {
        self.early_keys(suite, secret);
    }

    fn discard_early_keys(&mut self) {
        self.drop_early_keys();
    }
}

/// A TLS 1.3 handshake for a QUIC connection, client or server (RFC 9001).
///
/// Feed the peer's CRYPTO frame bytes with [`read_handshake`](Self::read_handshake) at the
/// level their packet came at, drain ours with [`write_handshake`](Self::write_handshake)
/// (sent at [`write_level`](Self::write_level)) and install each [`KeyChange`] it returns.
pub struct QuicConnection {
    common: Common<QuicSink>,
    /// `None` only after a fatal error consumed the state.
    handshake: Option<Handshake>,
    joiner: HandshakeJoiner,
    write_level: Level,
    error: Option<Error>,
}

impl core::fmt::Debug for QuicConnection {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("QuicConnection")
            .field("side", &self.common.side)
            .field("read_level", &self.read_level())
            .field("write_level", &self.write_level)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

/// RFC 9001 4.2: TLS 1.3 only.
fn check_config(tls13: bool) -> Result<(), Error> {
    if !tls13 {
        return Err(Error::Config("QUIC needs TLS 1.3 enabled (RFC 9001 4.2)".into()));
    }
    Ok(())
}

/// What the handshake negotiated (suite, group, ALPN, SNI, chains, resumption,
/// exporters): the same queries as on a TLS `Connection`.
impl core::ops::Deref for QuicConnection {
    type Target = crate::Negotiated;

    fn deref(&self) -> &crate::Negotiated {
        &self.common.neg
    }
}

impl QuicConnection {
    /// A client for `server_name` sending our encoded transport parameters (RFC 9000 18).
    /// The ClientHello is ready at once ([`write_handshake`](Self::write_handshake)); with a
    /// ticket that allows it, so are the 0-RTT keys ([`zero_rtt_keys`](Self::zero_rtt_keys)).
    pub fn client(
        config: Arc<ClientConfig>,
        server_name: &str,
        transport_parameters: Vec<u8>,
    ) -> Result<Self, Error> {
        check_config(config.shared.tls13())?;
        // RFC 9001 8.1: a client that offers no application protocol could only end in
        // no_application_protocol; it fails here, before anything is sent.
        if config.shared.alpn.is_empty() {
            return Err(Error::NoApplicationProtocol);
        }
        let name = ServerName::parse(server_name)
            .map_err(|_| Error::Config(format!("invalid server name {server_name:?}")))?;
        let mut conn = Self::new(Side::Client, &config, transport_parameters);
        conn.handshake = Some(client13::start(config, Some(name), &mut conn.common)?);
        Ok(conn)
    }

    /// A server sending our encoded transport parameters; it waits for the ClientHello.
    pub fn server(config: Arc<ServerConfig>, transport_parameters: Vec<u8>) -> Result<Self, Error> {
        // A server without ALPN protocols is allowed: each handshake then fails with
        // no_application_protocol (RFC 9001 8.1), as one whose protocols match none offered.
        check_config(config.shared.tls13())?;
        let mut conn = Self::new_server(&config, transport_parameters);
        conn.handshake = Some(server13::start(config));
        Ok(conn)
    }

    fn new(side: Side, config: &ClientConfig, params: Vec<u8>) -> Self {
        let shared = &config.shared;
        Self::with(
            side,
            shared.key_log.clone(),
            shared.record_observer.clone(),
            params,
        )
    }

    fn new_server(config: &ServerConfig, params: Vec<u8>) -> Self {
        let shared = &config.shared;
        Self::with(
            Side::Server,
            shared.key_log.clone(),
            shared.record_observer.clone(),
            params,
        )
    }

    fn with(
        side: Side,
        key_log: Arc<dyn crate::config::KeyLog>,
        observer: Option<Arc<dyn crate::config::RecordObserver>>,
        params: Vec<u8>,
    ) -> Self {
        let mut common = Common::new(side, key_log, 0x0303, QuicSink::new(side, params));
        common.observer = observer;
        QuicConnection {
            common,
            handshake: None,
            joiner: HandshakeJoiner::default(),
            write_level: Level::Initial,
            error: None,
        }
    }

    /// Whether this is the client or the server end.
    pub fn side(&self) -> Side {
        self.common.side
    }

    fn sink(&self) -> &QuicSink {
        &self.common.wire
    }

    /// The level the peer's next handshake bytes must come at: Initial until the handshake
    /// keys exist, Handshake until the handshake completes, then 1-RTT (NewSessionTicket).
    pub fn read_level(&self) -> Level {
        if self.handshake.as_ref().is_some_and(Handshake::is_established) {
            Level::OneRtt
        } else if self.sink().have_handshake_keys {
            Level::Handshake
        } else {
            Level::Initial
        }
    }

    /// The level the bytes of the next [`write_handshake`](Self::write_handshake) go at.
    pub fn write_level(&self) -> Level {
        self.write_level
    }

    /// Handshake bytes from the peer's CRYPTO frames at `level`, in order (the QUIC stack
    /// reassembles the stream). Messages are processed as they complete.
    ///
    /// Errors are fatal: the QUIC stack closes the connection with
    /// [`crypto_error_code`]`(e.alert())` (a local error has no alert: INTERNAL_ERROR).
    pub fn read_handshake(&mut self, level: Level, data: &[u8]) -> Result<(), Error> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        let result = self.read_inner(level, data);
        if let Err(e) = &result {
            self.error = Some(e.clone());
            self.handshake = None;
        }
        result
    }

    fn read_inner(&mut self, level: Level, data: &[u8]) -> Result<(), Error> {
        // RFC 9001 4.1.3/4.1.4: handshake data only at the level the handshake expects.
        if level != self.read_level() {
            return Err(Error::UnexpectedMessage {
                state: "QUIC handshake",
                got: "handshake data at an unexpected encryption level",
            });
        }
        self.joiner.push(data);
        // Type and length are checked against the state at the header, before buffering.
        while let Some(raw) = self.joiner.pop(|typ, len| match &self.handshake {
            Some(hs) => hs.check_header(&self.common, typ, len),
            None => check_message_len(typ, len),
        })? {
            let payload = HandshakePayload::decode(raw.typ, raw.body(), Dialect::Tls13)?;
            let hs = self
                .handshake
                .take()
                .ok_or(Error::Internal("handshake state lost"))?;
            let next = hs.handle(
                &mut self.common,
                Msg {
                    payload,
                    raw: raw.bytes,
                },
            )?;
            self.handshake = Some(next);
            // RFC 9001 4.1.3: a message must not span a change of encryption level.
            if self.read_level() != level && !self.joiner.is_empty() {
                return Err(PeerMisbehaved::MessageSpansKeyChange.into());
            }
        }
        Ok(())
    }

    /// Appends the handshake bytes to send at [`write_level`](Self::write_level), up to the
    /// next key change, and returns that change (`None`: nothing more for now). After a
    /// change, send what was appended at the old level, install the keys, and call again:
    /// later bytes belong to the new level.
    pub fn write_handshake(&mut self, buf: &mut Vec<u8>) -> Option<KeyChange> {
        let q = &mut self.common.wire;
        while let Some(item) = q.out.pop_front() {
            match item {
                Out::Bytes(b) => buf.extend_from_slice(&b),
                Out::Keys(change) => {
                    self.write_level = change.level();
                    return Some(change);
                }
            }
        }
        None
    }

    /// client_early_traffic_secret: on the client while its 0-RTT offer stands, on the server
    /// once it accepted 0-RTT (RFC 9001 4.6.1).
    pub fn zero_rtt_secret(&self) -> Option<&Secret> {
        self.sink().early.as_ref().map(|(_, s)| s)
    }

    /// 0-RTT packet keys (see [`zero_rtt_secret`](Self::zero_rtt_secret)): the client seals
    /// with them, the server opens.
    pub fn zero_rtt_keys(&self) -> Option<DirectionalKeys> {
        let (suite, secret) = self.sink().early.as_ref()?;
        Some(DirectionalKeys::new(suite, secret.as_bytes()))
    }

    /// The peer's transport parameters (RFC 9001 8.2), once its ClientHello or
    /// EncryptedExtensions arrived.
    pub fn transport_parameters(&self) -> Option<&[u8]> {
        self.sink().params_peer.as_deref()
    }

    /// True until the handshake completes.
    pub fn is_handshaking(&self) -> bool {
        !self.handshake.as_ref().is_some_and(Handshake::is_established)
    }

    /// How the handshake went; `None` while it is still running (or failed). As on
    /// [`Connection::handshake_kind`](crate::Connection::handshake_kind).
    pub fn handshake_kind(&self) -> Option<crate::handshake::negotiated::HandshakeKind> {
        if self.is_handshaking() || self.error.is_some() {
            return None;
        }
        Some(self.common.neg.kind())
    }

    /// Events: `HandshakeComplete`, `SessionTicket`, `EarlyDataRejected`.
    pub fn next_event(&mut self) -> Option<Event> {
        self.common.events.pop_front()
    }

    /// The fatal error, once one happened.
    pub fn error(&self) -> Option<&Error> {
        self.error.as_ref()
    }

    /// RFC 9001 4.8: the alert to report as CRYPTO_ERROR after a fatal error.
    pub fn alert(&self) -> Option<AlertDescription> {
        self.error.as_ref().and_then(Error::alert)
    }

    /// The negotiated suite's AEAD and hash (what 0-RTT, Handshake and 1-RTT keys use).
    pub fn tls13_suite(&self) -> Option<&'static Tls13Suite> {
        self.common.neg.suite.and_then(tls13_suite)
    }
}
