//! The connection controls applications reach for once the handshake works (issue 8):
//! queries (readable plaintext, alerts, handshake kind, our certificate), a typed application
//! context, and the per-connection state the other controls keep. Kept apart from `mod.rs`
//! so the record and handshake plumbing stays readable.

use std::any::Any;
use std::sync::Arc;

use rustls_pki_types::CertificateDer;

use super::{Connection, TimeProvider};
use crate::codec::{AlertDescription, AlertLevel};

/// How the handshake went (see [`Connection::handshake_kind`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandshakeKind {
    /// A full handshake: certificate, fresh key exchange, no HelloRetryRequest.
    Full,
    /// The server asked for another key share (RFC 8446 4.1.4), then finished (full or
    /// resumed: see [`Connection::is_resumed`]).
    HelloRetry,
    /// Resumed from a ticket or session ID, no 0-RTT offered.
    Resumed,
    /// Resumed with 0-RTT data the server accepted (RFC 8446 4.2.10).
    EarlyDataAccepted,
    /// 0-RTT was offered and refused; the handshake went on (full or resumed).
    EarlyDataRejected,
}

/// An alert with its level, as sent or received.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AlertRecord {
    pub level: AlertLevel,
    pub description: AlertDescription,
}

/// Bytes on the wire (header, content, tag) of a record sent with
/// [`prefer_low_latency`](super::ClientConfigBuilder::prefer_low_latency): one TCP segment
/// on an Ethernet path (1500-byte MTU less IPv6 and TCP headers with options) carries it.
pub const LOW_LATENCY_RECORD_LEN: usize = 1400;

/// How large the records we send are.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RecordSizing {
    /// Full records (16 KiB of plaintext): fewest records and AEAD calls.
    #[default]
    Throughput,
    /// Records of at most [`LOW_LATENCY_RECORD_LEN`] bytes on the wire.
    LowLatency,
    /// Low-latency records for the first `small_bytes` of application data and after
    /// `idle_ms` without sending; full records otherwise.
    Dynamic { small_bytes: usize, idle_ms: u64 },
}

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
}

impl Controls {
    pub fn new(sizing: RecordSizing, time: Arc<dyn TimeProvider>) -> Self {
        Controls {
            last_alert_sent: None,
            last_alert_received: None,
            app_context: None,
            sizing,
            time,
            small_sent: 0,
            last_send_ms: None,
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

    /// Sends a KeyUpdate (RFC 8446 4.6.3); with `request_peer` the peer must answer with its
    /// own. Same as [`refresh_traffic_keys`](Self::refresh_traffic_keys). TLS 1.3 only.
    pub fn request_key_update(&mut self, request_peer: bool) -> Result<(), crate::Error> {
        self.refresh_traffic_keys(request_peer)
    }

    /// Closes our sending direction only: close_notify goes out after the data already
    /// written, and we keep reading until the peer closes (RFC 8446 6.1 half-close).
    pub fn close_write(&mut self) {
        self.send_close_notify();
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
        let neg = &self.common.neg;
        Some(match neg.early_data {
            Some(true) => HandshakeKind::EarlyDataAccepted,
            Some(false) => HandshakeKind::EarlyDataRejected,
            None if neg.hrr => HandshakeKind::HelloRetry,
            None if neg.resumed => HandshakeKind::Resumed,
            None => HandshakeKind::Full,
        })
    }

    /// The certificate chain we sent (server: the one chosen for this client; client: the
    /// one sent for client authentication). Empty if we sent none (a resumed handshake sends
    /// none).
    pub fn sent_certificates(&self) -> &[CertificateDer<'static>] {
        self.common
            .neg
            .own_cert
            .as_ref()
            .map_or(&[], |c| c.chain.as_slice())
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
