//! The connection controls applications reach for once the handshake works:
//! queries (readable plaintext, alerts, handshake kind, our certificate), a typed application
//! context, and the per-connection state the other controls keep. Kept apart from `mod.rs`
//! so the record and handshake plumbing stays readable.

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use super::{
    AlertRecord, Connection, Event, HandshakeKind, RecordSizing, ServerConfig, TimeProvider,
    LOW_LATENCY_RECORD_LEN,
};
use crate::codec::{AlertDescription, AlertLevel, CipherSuite, NamedGroup, ProtocolVersion, SignatureScheme};
use crate::common::Blinding;
use crate::config::Shared;
use crate::error::{Error, Misuse, PeerMisbehaved};
use crate::handshake::{server13, Msg};
use crate::msgs::{ClientHello, HandshakePayload};

/// State behind the controls, one per connection.
pub(crate) struct Controls {
    pub last_alert_sent: Option<AlertRecord>,
    pub last_alert_received: Option<AlertRecord>,
    pub app_context: Option<Box<dyn Any + Send + Sync>>,
    pub sizing: RecordSizing,
    pub time: Arc<dyn TimeProvider>,
    /// Dynamic sizing: application bytes sent since the last reset (start or idle period).
    pub small_sent: usize,
    /// Dynamic sizing: when application data was last sent (ms, config clock).
    pub last_send_ms: Option<u64>,
    /// Server: choosing the config after the ClientHello.
    pub deferred: Deferred,
    pub blinding: Blinding,
    /// The config allows key extraction and serialisation.
    pub secret_extraction: bool,
}

/// Where a deferred server is ([`Connection::server_deferred`]).
#[derive(Default)]
pub(crate) enum Deferred {
    /// An ordinary connection: its config was given up front (or has been since).
    #[default]
    No,
    /// Waiting for the ClientHello.
    WaitingForHello,
    /// The ClientHello is here; the application chooses.
    Paused { msg: Msg, info: Box<ClientHelloInfo> },
}

impl Controls {
    pub fn new(shared: &Shared) -> Self {
        Controls {
            last_alert_sent: None,
            last_alert_received: None,
            app_context: None,
            sizing: shared.record_sizing,
            time: shared.time.clone(),
            small_sent: 0,
            last_send_ms: None,
            deferred: Deferred::No,
            blinding: Blinding::new(shared),
            secret_extraction: shared.secret_extraction,
        }
    }

    /// The plaintext cap the sizing policy puts on the next record, given the bytes a
    /// record under the current write state adds (`overhead`). Dynamic sizing reads the
    /// config's clock here, once per `write_tls`, to notice an idle period.
    pub fn sizing_cap(&mut self, overhead: usize) -> usize {
        let small = LOW_LATENCY_RECORD_LEN.saturating_sub(overhead).max(1);
        match self.sizing {
            RecordSizing::Throughput => usize::MAX,
            RecordSizing::LowLatency => small,
            RecordSizing::Dynamic { small_bytes, idle_ms } => {
                let now = self.time.now_millis();
                if self
                    .last_send_ms
                    .is_some_and(|t| now.saturating_sub(t) >= idle_ms)
                {
                    self.small_sent = 0;
                    self.last_send_ms = None;
                }
                if self.small_sent < small_bytes {
                    small
                } else {
                    usize::MAX
                }
            }
        }
    }

    /// Notes application data sent (dynamic sizing).
    pub fn app_sent(&mut self, len: usize) {
        if let RecordSizing::Dynamic { .. } = self.sizing {
            self.small_sent = self.small_sent.saturating_add(len);
            self.last_send_ms = Some(self.time.now_millis());
        }
    }
    /// Notes an alert record we encrypt (`data` is its two plaintext bytes).
    pub fn alert_sent(&mut self, data: &[u8]) {
        if let [level, description] = *data {
            self.last_alert_sent = Some(AlertRecord {
                level: AlertLevel::from(level),
                description: AlertDescription::from(description),
            });
        }
    }
}

impl Connection {
    /// Bytes of received plaintext waiting in [`reader`](Self::reader) (a peek: nothing is
    /// consumed).
    pub fn plaintext_available(&self) -> usize {
        self.buffered_plaintext()
    }

    /// The last alert we put on the wire (set when `write_tls` encrypts it).
    pub fn last_alert_sent(&self) -> Option<AlertRecord> {
        self.controls.last_alert_sent
    }

    /// The last alert the peer sent us.
    pub fn last_alert_received(&self) -> Option<AlertRecord> {
        self.controls.last_alert_received
    }

    /// How the handshake went; `None` while it is still running (or failed).
    ///
    /// One value per handshake, the first that applies: 0-RTT accepted, 0-RTT rejected,
    /// HelloRetryRequest, resumed, full.
    pub fn handshake_kind(&self) -> Option<HandshakeKind> {
        if self.is_handshaking() || self.error.is_some() {
            return None;
        }
        Some(self.common.neg.kind())
    }

    /// Attaches a value of the application's own type to this connection, replacing any
    /// earlier one (e.g. a request id, a tenant, a per-connection metrics handle).
    pub fn set_app_context<T: Any + Send + Sync>(&mut self, value: T) {
        self.controls.app_context = Some(Box::new(value));
    }

    /// The attached application value, if there is one of type `T`.
    pub fn app_context<T: Any + Send + Sync>(&self) -> Option<&T> {
        self.controls.app_context.as_ref()?.downcast_ref()
    }

    /// The attached application value, mutably, if there is one of type `T`.
    pub fn app_context_mut<T: Any + Send + Sync>(&mut self) -> Option<&mut T> {
        self.controls.app_context.as_mut()?.downcast_mut()
    }

    /// Detaches and returns the application value if it is of type `T`.
    pub fn take_app_context<T: Any + Send + Sync>(&mut self) -> Option<T> {
        let boxed = self.controls.app_context.take()?;
        match boxed.downcast::<T>() {
            Ok(v) => Some(*v),
            Err(other) => {
                self.controls.app_context = Some(other);
                None
            }
        }
    }
}

impl Connection {
    /// RFC 8449 4: a protected record larger than the record_size_limit we advertised (and
    /// the peer acknowledged) is record_overflow. TLS 1.3 counts the inner plaintext (content,
    /// type, padding: the payload less the 16-byte tag), TLS 1.2 the content. 0-RTT records
    /// are exempt: the client sent them before it learnt our limit.
    pub(crate) fn check_record_limit(
        &self,
        payload_len: usize,
        content_len: usize,
    ) -> Result<(), crate::Error> {
        let Some(limit) = self.common.neg.own_record_limit else {
            return Ok(());
        };
        if self.handshake.as_ref().is_some_and(|h| h.accepts_early_data()) {
            return Ok(());
        }
        let size = if self.common.neg.version == Some(crate::codec::ProtocolVersion::TLSv1_2) {
            content_len
        } else {
            payload_len.saturating_sub(16)
        };
        if size > usize::from(limit) {
            return Err(crate::Error::RecordOverflow);
        }
        Ok(())
    }
}

/// What a server may look at in a ClientHello before choosing its config
/// ([`Connection::server_deferred`]). Lists are in the client's order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientHelloInfo {
    /// server_name (RFC 6066), if sent and valid UTF-8.
    pub server_name: Option<String>,
    /// ALPN protocols offered (RFC 7301).
    pub alpn: Vec<Vec<u8>>,
    /// cipher_suites, in the client's order.
    pub cipher_suites: Vec<CipherSuite>,
    /// supported_groups.
    pub groups: Vec<NamedGroup>,
    /// signature_algorithms.
    pub signature_schemes: Vec<SignatureScheme>,
    /// supported_versions, or the legacy version alone when the extension is absent.
    pub versions: Vec<ProtocolVersion>,
    /// Groups the client sent a key share for (TLS 1.3).
    pub key_share_groups: Vec<NamedGroup>,
    /// A pre_shared_key (resumption) is offered.
    pub offers_psk: bool,
    /// legacy_session_id: a TLS 1.2 session to resume (RFC 5246 7.4.1.2), or TLS 1.3's
    /// compatibility-mode filler. The key a [`SessionStore`](crate::conn::SessionStore) for
    /// TLS 1.2 session IDs is asked about.
    pub session_id: Vec<u8>,
    /// The TLS 1.2 session_ticket extension's ticket (RFC 5077 3.2), if sent.
    pub session_ticket: Option<Vec<u8>>,
    /// The pre_shared_key identities (TLS 1.3 tickets), in the client's order: the keys a
    /// [`SessionStorage::Store`](crate::conn::SessionStorage::Store) is asked about.
    pub psk_identities: Vec<Vec<u8>>,
    /// The client asks for 0-RTT (early_data, RFC 8446 4.2.10).
    pub early_data: bool,
    /// The binder of the first PSK identity: the key an
    /// [`AntiReplayCheck`](crate::conn::AntiReplayCheck) is asked about when 0-RTT is offered.
    pub first_psk_binder: Option<Vec<u8>>,
}

impl ClientHelloInfo {
    fn new(ch: &ClientHello) -> Self {
        ClientHelloInfo {
            server_name: ch
                .server_name()
                .and_then(|n| std::str::from_utf8(n).ok())
                .map(str::to_owned),
            alpn: ch.alpn().map(<[Vec<u8>]>::to_vec).unwrap_or_default(),
            cipher_suites: ch.cipher_suites.clone(),
            groups: ch
                .supported_groups()
                .map(<[NamedGroup]>::to_vec)
                .unwrap_or_default(),
            signature_schemes: ch
                .signature_algorithms()
                .map(<[SignatureScheme]>::to_vec)
                .unwrap_or_default(),
            versions: ch
                .supported_versions()
                .map_or_else(|| vec![ch.legacy_version], <[ProtocolVersion]>::to_vec),
            key_share_groups: ch
                .key_shares()
                .map(|k| k.iter().map(|s| s.group).collect())
                .unwrap_or_default(),
            offers_psk: ch.psk().is_some(),
            session_id: ch.session_id.clone(),
            session_ticket: ch.session_ticket().map(<[u8]>::to_vec),
            psk_identities: ch
                .psk()
                .map(|p| p.identities.iter().map(|i| i.identity.clone()).collect())
                .unwrap_or_default(),
            early_data: ch.has(crate::codec::ExtensionType::EarlyData),
            first_psk_binder: ch.psk().and_then(|p| p.binders.first().cloned()),
        }
    }
}

impl Connection {
    /// A server that chooses its [`ServerConfig`] after reading the ClientHello: it raises
    /// [`Event::ClientHello`] and waits (buffering what else arrives) until the application
    /// calls [`accept_with`](Self::accept_with) with the config of its choice (certificate,
    /// versions, policy...) or [`reject`](Self::reject). The choice may take as long as the
    /// application likes (a lookup in another task, say): the connection simply waits.
    pub fn server_deferred() -> Self {
        let mut conn = Connection::new(super::Side::Server, &Shared::default(), 0x0303);
        conn.controls.deferred = Deferred::WaitingForHello;
        conn
    }

    /// The ClientHello a deferred server is waiting on (`None` before it arrives and after
    /// the choice).
    pub fn client_hello(&self) -> Option<&ClientHelloInfo> {
        match &self.controls.deferred {
            Deferred::Paused { info, .. } => Some(info),
            _ => None,
        }
    }

    /// Deferred server: goes on with `config`, which answers the waiting ClientHello, and
    /// processes what was buffered meanwhile. Errors are the handshake's (and queue their
    /// alert), or `Misuse::NoClientHelloWaiting` if no ClientHello is waiting.
    pub fn accept_with(&mut self, config: Arc<ServerConfig>) -> Result<(), Error> {
        let Deferred::Paused { msg, .. } = std::mem::take(&mut self.controls.deferred) else {
            return Err(Error::Misuse(Misuse::NoClientHelloWaiting));
        };
        // The connection-wide settings come from the chosen config too.
        let shared = &config.shared;
        self.common.key_log = shared.key_log.clone();
        self.common.observer = shared.record_observer.clone();
        self.inbound.max_buffered = shared.max_buffered_plaintext;
        self.records_per_key = shared.records_per_key;
        let app_context = self.controls.app_context.take();
        self.controls = Controls::new(shared);
        self.controls.app_context = app_context;
        let hs = server13::start(config);
        match hs.handle(&mut self.common, msg) {
            Ok(next) => self.handshake = Some(next),
            Err(e) => return Err(self.fail(e)),
        }
        self.process_new_packets()
    }

    /// Deferred server: refuses the client with `alert` (e.g. `unrecognized_name`,
    /// `handshake_failure`, `access_denied`); send it with `write_tls`.
    pub fn reject(&mut self, alert: AlertDescription) -> Error {
        self.controls.deferred = Deferred::No;
        self.fail(Error::Refused(alert))
    }

    /// Deferred server, from `process_handshake`: the first handshake message must be a
    /// ClientHello, which the connection keeps while it waits for the application.
    pub(crate) fn defer_hello(&mut self, msg: Msg, more_buffered: bool) -> Result<(), Error> {
        let HandshakePayload::ClientHello(ch) = &msg.payload else {
            return Err(crate::handshake::unexpected("expect ClientHello", &msg));
        };
        // RFC 8446 5.1 / RFC 5246 7.4: nothing follows the ClientHello before our answer,
        // the same rule as for a flight the handshake answered at once.
        if more_buffered {
            return Err(PeerMisbehaved::MessagePastEndOfFlight.into());
        }
        let info = Box::new(ClientHelloInfo::new(ch));
        self.controls.deferred = Deferred::Paused { msg, info };
        self.common.events.push_back(Event::ClientHello);
        Ok(())
    }

    /// After a peer-caused failure with blinding on: how long to wait before closing the
    /// socket (and before sending the alert, for the strictest form), drawn once per
    /// connection from the configured range. `None` when blinding is off or nothing failed.
    pub fn blinding_delay(&self) -> Option<Duration> {
        self.controls.blinding.delay()
    }
}
