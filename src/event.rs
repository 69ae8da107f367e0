//! What the connection reports to the application.

use crate::codec::{AlertDescription, AlertLevel};

/// Events, drained with `Connection::next_event`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The handshake finished and the peer is authenticated.
    HandshakeComplete,
    /// `len` plaintext bytes arrived and wait in `Connection::reader`. Over TLS, records
    /// that arrive with no other event between them are announced by one `Data` event, so
    /// the event queue of an application that only reads stays bounded; over DTLS each
    /// record has its own, since a record is the application's message.
    Data {
        /// Bytes added since the previous event (DTLS: the record's length).
        len: usize,
    },
    /// The traffic keys changed (RFC 8446 4.6.3); `ours` is true for our sending direction.
    KeyUpdated {
        /// True for our sending keys, false for the peer's.
        ours: bool,
    },
    /// The peer sent close_notify: it will send nothing more (we may still write).
    PeerClosed,
    /// The peer sent an alert (close_notify is also reported as `PeerClosed`).
    Alert {
        /// Warning or fatal.
        level: AlertLevel,
        /// Which alert (RFC 8446 6).
        description: AlertDescription,
    },
    /// A NewSessionTicket arrived (TLS 1.3 4.6.1).
    SessionTicket,
    /// Server: `len` bytes of 0-RTT data arrived and wait in `Connection::early_data_reader`
    /// (RFC 8446 4.2.10: replayable, handle with care).
    EarlyData {
        /// Bytes added since the previous event (consecutive records merge, as for `Data`).
        len: usize,
    },
    /// Client: the server refused our 0-RTT data; it was not delivered. Resend it with
    /// `Connection::writer` if it still matters.
    EarlyDataRejected,
    /// Server created with [`Connection::server_deferred`](crate::Connection::server_deferred):
    /// the ClientHello arrived and the handshake waits for
    /// [`accept_with`](crate::Connection::accept_with) or [`reject`](crate::Connection::reject).
    /// Inspect it with [`client_hello`](crate::Connection::client_hello).
    ClientHello,
    /// DTLS-SRTP: the handshake completed with use_srtp negotiated (RFC 5764); the profile
    /// and the SRTP master keys and salts, right after `HandshakeComplete`. The same as
    /// [`Negotiated::srtp_keying_material`](crate::Negotiated::srtp_keying_material).
    SrtpKeyingMaterial(Box<crate::srtp::SrtpKeyingMaterial>),
}

/// An alert with its level, as sent or received.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AlertRecord {
    /// Warning or fatal.
    pub level: AlertLevel,
    /// Which alert (RFC 8446 6).
    pub description: AlertDescription,
}
