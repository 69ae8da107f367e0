//! What a [`DtlsConnection`] negotiated and how it stands: the same queries as a TLS
//! [`Connection`](crate::Connection) (version, suite, group, scheme, ALPN, SNI, chains,
//! randoms, exporter, resumption, alerts), plus the DTLS epochs and the bad-record count.

use rustls_pki_types::CertificateDer;

use super::DtlsConnection;
use crate::codec::{CipherSuite, NamedGroup, ProtocolVersion, SignatureScheme};
use crate::conn::{AlertRecord, HandshakeKind};
use crate::error::Error;

impl DtlsConnection {
    /// After a failure the peer caused, with blinding on: how long to wait before closing
    /// (or answering anything else), drawn from the configured range, as over TLS. `None`
    /// when blinding is off or nothing the peer did failed the connection.
    pub fn blinding_delay(&self) -> Option<std::time::Duration> {
        self.blinding.delay()
    }

    /// RFC 5705 exporter: DTLS 1.2 uses the TLS 1.2 PRF form, DTLS 1.3 the TLS 1.3 one with
    /// the `"dtls13"` labels (RFC 9147 5.9, RFC 8446 7.5).
    pub fn export_keying_material(
        &self,
        out: &mut [u8],
        label: &[u8],
        context: Option<&[u8]>,
    ) -> Result<(), Error> {
        let prefix = self.common.label_prefix();
        self.common
            .neg
            .export_keying_material(prefix, out, label, context)
    }

    /// `DTLSv1_3` or `DTLSv1_2` once negotiated.
    pub fn protocol_version(&self) -> Option<ProtocolVersion> {
        self.common.neg.version
    }

    /// The negotiated cipher suite, once chosen.
    pub fn cipher_suite(&self) -> Option<CipherSuite> {
        self.common.neg.suite
    }

    /// The key exchange group of the handshake, once chosen (none for a psk_ke resumption
    /// or a resumed DTLS 1.2 session).
    pub fn key_exchange_group(&self) -> Option<NamedGroup> {
        self.common.neg.group
    }

    /// The scheme the server signed with (its ServerKeyExchange in DTLS 1.2, its
    /// CertificateVerify in DTLS 1.3); `None` on a resumed handshake.
    pub fn signature_scheme(&self) -> Option<SignatureScheme> {
        self.common.neg.sig_scheme
    }

    /// The scheme the client signed its CertificateVerify with, on either side; `None`
    /// without client authentication (or on a resumed handshake).
    pub fn client_signature_scheme(&self) -> Option<SignatureScheme> {
        self.common.neg.client_sig_scheme
    }

    /// The ALPN protocol both sides agreed on (RFC 7301), if any.
    pub fn alpn_protocol(&self) -> Option<&[u8]> {
        self.common.neg.alpn.as_deref()
    }

    /// SNI: the name the client sent (server side) or that the server acknowledged (client).
    pub fn server_name(&self) -> Option<&str> {
        self.common.neg.sni.as_deref()
    }

    /// The peer's certificate chain (DER, end-entity first), once received.
    pub fn peer_certificates(&self) -> &[CertificateDer<'static>] {
        &self.common.neg.peer_chain
    }

    /// The ClientHello random (for key logs and channel binding).
    pub fn client_random(&self) -> [u8; 32] {
        self.common.neg.client_random
    }

    /// The ServerHello random.
    pub fn server_random(&self) -> [u8; 32] {
        self.common.neg.server_random
    }

    /// True when the handshake resumed a session (PSK or DTLS 1.2 session).
    pub fn is_resumed(&self) -> bool {
        self.common.neg.resumed
    }

    /// Whether the extended master secret (RFC 7627) is in use, once negotiated.
    pub fn extended_master_secret(&self) -> Option<bool> {
        // RFC 7627 is a TLS 1.2 mechanism; DTLS 1.3's key schedule needs none.
        match self.common.neg.version {
            Some(ProtocolVersion::DTLSv1_2) => Some(self.common.neg.ems),
            _ => None,
        }
    }

    /// The read epoch in force: DTLS 1.2, 0 until the peer's ChangeCipherSpec; DTLS 1.3,
    /// 0 (plaintext), 2 (handshake), 3 (application), 4+ after the peer's KeyUpdates.
    pub fn read_epoch(&self) -> u64 {
        if self.is13() {
            self.v13.read_epoch()
        } else {
            u64::from(self.read_epoch)
        }
    }

    /// The epoch our records go out under (DTLS 1.3: moves past a KeyUpdate only once the
    /// peer acknowledged it, RFC 9147 8).
    pub fn write_epoch(&self) -> u64 {
        if self.is13() {
            self.v13.write_epoch()
        } else {
            u64::from(self.current_write_epoch())
        }
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

    /// True if the handshake went through a HelloRetryRequest: on DTLS 1.3 the stateless
    /// cookie of [`DtlsAcceptor`](crate::dtls::DtlsAcceptor) is one. A DTLS 1.2
    /// HelloVerifyRequest is not.
    pub fn had_hello_retry(&self) -> bool {
        self.common.neg.hrr
    }

    /// How the handshake went, as [`Connection::handshake_kind`](crate::Connection::handshake_kind);
    /// `None` while it is still running or after it failed. No 0-RTT over DTLS here, so
    /// never an early-data kind.
    pub fn handshake_kind(&self) -> Option<HandshakeKind> {
        if self.is_handshaking() || self.error.is_some() {
            return None;
        }
        Some(self.common.neg.handshake_kind())
    }

    /// The certificate chain we sent (server: the one chosen for this client; client: the
    /// one sent for client authentication). Empty if we sent none.
    pub fn sent_certificates(&self) -> &[CertificateDer<'static>] {
        self.common.neg.sent_certificates()
    }
}
