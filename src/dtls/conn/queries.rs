//! How a [`DtlsConnection`] stands: alerts, handshake kind, the DTLS epochs and the
//! bad-record count. What it negotiated (version, suite, group, schemes, ALPN, SNI, chains,
//! randoms, exporter, resumption) is [`Negotiated`], which it dereferences to, as a TLS
//! [`Connection`](crate::Connection) does.

use super::DtlsConnection;
use crate::event::AlertRecord;
use crate::handshake::negotiated::HandshakeKind;
use crate::Negotiated;

impl core::ops::Deref for DtlsConnection {
    type Target = Negotiated;

    fn deref(&self) -> &Negotiated {
        &self.common.neg
    }
}

impl DtlsConnection {
    /// After a failure the peer caused, with blinding on: how long to wait before closing
    /// (or answering anything else), drawn from the configured range, as over TLS. `None`
    /// when blinding is off or nothing the peer did failed the connection.
    pub fn blinding_delay(&self) -> Option<std::time::Duration> {
        self.blinding.delay()
    }

    /// The read epoch in force: DTLS 1.2, 0 until the peer's ChangeCipherSpec; DTLS 1.3,
    /// 0 (plaintext), 2 (handshake), 3 (application), 4+ after the peer's KeyUpdates.
    pub fn read_epoch(&self) -> u64 {
        self.engine.read_epoch()
    }

    /// The epoch our records go out under (DTLS 1.3: moves past a KeyUpdate only once the
    /// peer acknowledged it, RFC 9147 8).
    pub fn write_epoch(&self) -> u64 {
        self.engine.write_epoch()
    }

    /// Records that failed to deprotect so far (each dropped silently).
    pub fn bad_records(&self) -> u32 {
        self.bad_records
    }

    /// Bytes of received plaintext waiting in [`reader`](Self::reader) (a peek: nothing is
    /// consumed).
    pub fn plaintext_available(&self) -> usize {
        self.buffered_plaintext()
    }

    /// The last alert we sealed into a record.
    pub fn last_alert_sent(&self) -> Option<AlertRecord> {
        self.last_alert_sent
    }

    /// The last alert the peer sent us under the keys in force (an unprotected alert of an
    /// old epoch is ignored, and not recorded).
    pub fn last_alert_received(&self) -> Option<AlertRecord> {
        self.last_alert_received
    }

    /// How the handshake went, as [`Connection::handshake_kind`](crate::Connection::handshake_kind);
    /// `None` while it is still running or after it failed. No 0-RTT over DTLS here, so
    /// never an early-data kind.
    pub fn handshake_kind(&self) -> Option<HandshakeKind> {
        if self.is_handshaking() || self.error.is_some() {
            return None;
        }
        Some(self.common.neg.kind())
    }
}
