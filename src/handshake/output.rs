//! The one interface between the handshake state machines and the transport that carries
//! them. A state machine decides *what* to send, which keys come next and what was
//! negotiated; the transport (TLS records, DTLS datagrams, QUIC CRYPTO frames) decides *how*:
//! it frames handshake messages, says which bytes the transcript hashes, turns traffic
//! secrets into its own record or packet protection and queues events for the application.
//!
//! `Connection`, `DtlsConnection` and `QuicConnection` reach the state machines through
//! `common::Common<W>`, which implements [`Output`] once; its `W: common::Wire` part is each
//! transport's own (framing, where the bytes go, what a traffic secret becomes). The unit
//! tests of the state machines use a recording implementation.

use crate::codec::HandshakeType;
use crate::crypto::aead::RecordKey;
use crate::crypto::hash::Transcript;
use crate::crypto::secret::Secret;
use crate::crypto::suites::Tls13Suite;
use crate::crypto::Prk;
use crate::error::Error;
use crate::event::Event;
use crate::msgs::HandshakePayload;

pub(crate) use super::negotiated::{EarlyData, Negotiated};
use super::HandshakeLog;
pub(crate) use crate::transport::Transport;

/// Which end of the connection we are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The end that sends the ClientHello.
    Client,
    /// The end that answers it.
    Server,
}

/// Which TLS 1.3 traffic secret a key comes from: QUIC's encryption levels (RFC 9001 4), DTLS
/// 1.3's epochs (RFC 9147 6.1: 1, 2, 3, then one more per KeyUpdate).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyLevel {
    /// client_early_traffic_secret (0-RTT).
    Early,
    /// \[sender\]_handshake_traffic_secret.
    Handshake,
    /// \[sender\]_application_traffic_secret_0.
    Application,
    /// A KeyUpdate's next application traffic secret.
    Update,
}

/// What a handshake state machine asks of its transport. Every output of the handshake goes
/// through here: messages, key changes, events, negotiated values.
pub(crate) trait Output {
    /// The transport under this handshake: its version numbers, labels and capabilities.
    fn transport(&self) -> Transport;

    /// Encodes a handshake message, adds it to `transcript` in the form the transport's
    /// transcript takes (RFC 9147 5.2: DTLS 1.3 hashes the TLS form) and queues it; returns
    /// the bytes the transcript hashed.
    fn send_handshake(&mut self, msg: &HandshakePayload, transcript: Option<&mut Transcript>) -> Vec<u8>;

    /// [`send_handshake`](Self::send_handshake) for a message encoded ahead of time (a
    /// config's Certificate), header included.
    fn send_handshake_encoded(
        &mut self,
        typ: HandshakeType,
        bytes: &[u8],
        transcript: Option<&mut Transcript>,
    );

    /// TLS 1.2, which keeps its own handshake log: adds a TLS-encoded message to `log` as
    /// the log hashes it (RFC 6347 4.2.6: with its DTLS header over datagrams), then queues it.
    fn send_handshake12(&mut self, tls: Vec<u8>, log: &mut HandshakeLog) -> Result<(), Error>;

    /// TLS 1.2 over DTLS hashes our last message, a ClientHello sent by the TLS 1.3 machine,
    /// with the DTLS header it went out with (RFC 6347 4.2.6); TLS hashes it as it is.
    fn last_sent_for_log12(&self, tls: Vec<u8>) -> Vec<u8>;

    /// Queues a ChangeCipherSpec: TLS 1.2's (RFC 5246 7.1), or TLS 1.3's compatibility one
    /// where [`Transport::has_compat_ccs`].
    fn send_ccs(&mut self);

    /// How many times the application has written data to send (wrapping): unchanged
    /// between two update_requested KeyUpdates means we were silent in between, and one
    /// answer covers both (RFC 8446 4.6.3).
    fn app_writes(&self) -> u64 {
        0
    }

    /// True while a KeyUpdate of ours is queued, or out but not yet in use (DTLS 1.3: it
    /// awaits its ACK, RFC 9147 8): it follows any request that arrives meanwhile, so that
    /// request needs no answer of its own (RFC 8446 4.6.3).
    fn key_update_unsent(&self) -> bool {
        false
    }

    /// Installs the keys of a TLS 1.3 traffic secret for sending: the transport derives its
    /// record protection from it (TLS records, DTLS 1.3 epoch keys with the record-number
    /// key, RFC 9147 4.2.3).
    fn install_write13(&mut self, suite: &'static Tls13Suite, secret: &Prk, level: KeyLevel);

    /// The read side of [`install_write13`](Self::install_write13).
    fn install_read13(&mut self, suite: &'static Tls13Suite, secret: &Prk, level: KeyLevel);

    /// RFC 8446 5.1: only the initial ClientHello may go out with legacy_record_version
    /// 0x0301; records after it say 0x0303 (still in plaintext).
    fn end_initial_record_version(&mut self);

    /// TLS 1.2: our write key, current from the ChangeCipherSpec queued just before.
    fn install_write12(&mut self, key: RecordKey);

    /// TLS 1.2: the peer's key, pending until its ChangeCipherSpec (RFC 5246 6.1).
    fn set_pending_read12(&mut self, key: RecordKey);

    /// RFC 5246 7.1: the peer's ChangeCipherSpec makes the pending read key current.
    fn activate_pending_read12(&mut self) -> Result<(), Error>;

    /// The handshake is done on our side: queued application data may go out.
    fn open_application_data(&mut self);

    /// Tells the application something happened.
    fn emit(&mut self, event: Event);

    /// What the handshake settled on.
    fn negotiated(&mut self) -> &mut Negotiated;

    /// 0-RTT budgets the connection enforces outside the handshake.
    fn early_data(&mut self) -> &mut EarlyData;

    /// RFC 8449: the peer's record_size_limit caps what we send.
    fn limit_fragment(&mut self, max: usize);

    /// Writes one NSS key log line (if the application asked for them).
    fn log_secret(&self, label: &str, secret: &Secret);

    /// QUIC (RFC 9001 8.2): our transport parameters; `None` on other transports.
    fn local_transport_parameters(&self) -> Option<Vec<u8>>;

    /// QUIC: the peer's transport parameters. `false` on a transport that has none (the
    /// extension is then unsolicited).
    fn take_peer_transport_parameters(&mut self, params: &[u8]) -> bool;

    /// QUIC: whether the peer's transport parameters arrived (RFC 9001 8.2: mandatory).
    fn has_peer_transport_parameters(&self) -> bool;

    /// A pair of traffic secrets for a transport that protects its own packets (QUIC, RFC
    /// 9001 4.1.4); other transports ignore it and use the `install_*` calls.
    fn traffic_secrets(
        &mut self,
        level: KeyLevel,
        suite: &'static Tls13Suite,
        client: &Secret,
        server: &Secret,
    );

    /// The client_early_traffic_secret for such a transport (RFC 9001 4.6.1).
    fn early_secret(&mut self, suite: &'static Tls13Suite, secret: &Secret);

    /// 0-RTT is over unaccepted: such a transport drops its 0-RTT keys.
    fn discard_early_keys(&mut self);
}
