//! A sans-I/O TLS 1.3 / TLS 1.2, DTLS 1.3 / DTLS 1.2 and QUIC engine.
//!
//! sanstls never opens a socket, reads a clock or sleeps: you hand it the bytes you read from
//! the network and it hands back the bytes to write, plus events and plaintext. That lets one
//! engine run under any event loop (mio, io_uring, tokio, a game server's UDP transport, an
//! embedded device). Cryptography is `ring`, certificates are parsed with `x509-parser`, and
//! every secret is zeroized on drop and compared in constant time.
//!
//! # Layers
//!
//! - [`Connection`]: a TLS connection (client or server) as a state machine over byte
//!   buffers. This is the core API; everything below is built on it or beside it.
//! - [`ClientConfig`] / [`ServerConfig`] (and their builders): versions, suites, groups,
//!   certificates, ALPN, resumption, policies. One config is shared by many connections.
//! - [`pki`]: certificate verification ([`pki::WebPkiServerVerifier`],
//!   [`pki::WebPkiClientVerifier`]) and trust anchors.
//! - Adapters that do the I/O for you: [`Stream`] (blocking, over any `Read + Write`) and,
//!   with feature `tokio`, `tokio_io` (`TlsConnector`, `TlsAcceptor`, `TlsStream`).
//! - Other transports on the same handshake machines: [`dtls::DtlsConnection`] (datagrams,
//!   DTLS 1.3 and 1.2) and [`quic::QuicConnection`] (the TLS part of QUIC, RFC 9001).
//! - The protocol enums a config or a query names, at the root: [`ProtocolVersion`],
//!   [`CipherSuite`], [`NamedGroup`], [`SignatureScheme`], [`AlertDescription`],
//!   [`AlertLevel`]; [`crypto`] for suites, key exchange groups and randomness sources.
//!   The wire codecs (`codec`, `msgs`) are public only for the fuzz targets, the BoGo shim
//!   and tests, and are hidden from these docs: they may change in any release.
//!
//! # The event loop
//!
//! A [`Connection`] is driven by four calls, in this order, each time the transport is
//! readable (or has something to send):
//!
//! 1. [`Connection::read_tls`] moves bytes from the transport into the connection (one `read`
//!    call; `Ok(0)` means the transport hit EOF). Call it while [`Connection::wants_read`] is
//!    true and the transport has bytes.
//! 2. [`Connection::process_new_packets`] runs the state machine over those bytes: handshake
//!    messages, decryption, alerts.
//! 3. [`Connection::next_event`] (until `None`) and [`Connection::reader`] hand out what
//!    happened: [`Event::HandshakeComplete`], [`Event::Data`], [`Event::PeerClosed`], ... The
//!    reader is an `io::Read` that returns `WouldBlock` when no plaintext is buffered *right
//!    now*: that is not an error, only "wait for more bytes from the transport". It returns
//!    `Ok(0)` once the peer has sent close_notify.
//! 4. [`Connection::write_tls`] (while it returns more than 0, or while
//!    [`Connection::wants_write`]) moves protected records to the transport: handshake
//!    flights, the plaintext you queued with [`Connection::writer`], alerts.
//!
//! When to stop: after [`Event::PeerClosed`] (the peer sends nothing more; answer with
//! [`Connection::send_close_notify`] and flush with `write_tls`), or when
//! `process_new_packets` returns an error. A fatal error has already queued its alert: call
//! `write_tls` once more so the peer learns why, then close the transport. Every later
//! `process_new_packets` returns the same error ([`Connection::error`]).
//!
//! Here both sides run in one process and a `Vec<u8>` stands in for each direction of a
//! socket; the client sends "hello" and closes once the handshake is done, the server echoes
//! it and closes in turn:
//!
//! ```
//! use std::io::{self, Read, Write};
//! use std::sync::Arc;
//! use sanstls::pki::{TrustAnchors, WebPkiServerVerifier};
//! use sanstls::{CertifiedKey, ClientConfig, Connection, Event, ServerConfig};
//!
//! /// One turn of the loop: `inbox` holds bytes from the peer, `outbox` takes bytes for it.
//! /// Received plaintext is appended to `plaintext`. Returns false once the peer has closed.
//! fn turn(
//!     conn: &mut Connection,
//!     inbox: &mut Vec<u8>,
//!     outbox: &mut Vec<u8>,
//!     plaintext: &mut Vec<u8>,
//! ) -> Result<bool, Box<dyn std::error::Error>> {
//!     // 1. Bytes in (a socket would be read here).
//!     let mut input = &inbox[..];
//!     while !input.is_empty() && conn.wants_read() {
//!         conn.read_tls(&mut input)?;
//!     }
//!     let used = inbox.len() - input.len();
//!     inbox.drain(..used);
//!     // 2. Run the state machine. Keep the result: on error the alert is queued and must
//!     //    still be written below.
//!     let processed = conn.process_new_packets();
//!     // 3. Events, then plaintext.
//!     let mut open = true;
//!     while let Some(event) = conn.next_event() {
//!         match event {
//!             Event::HandshakeComplete => println!("{:?}: handshake done", conn.side()),
//!             Event::Data { len } => println!("{:?}: {len} bytes of plaintext", conn.side()),
//!             Event::PeerClosed => open = false,
//!             _ => {}
//!         }
//!     }
//!     let mut buf = [0u8; 4096];
//!     loop {
//!         match conn.reader().read(&mut buf) {
//!             Ok(0) => break, // the peer's close_notify: no more plaintext, ever
//!             Ok(n) => plaintext.extend_from_slice(&buf[..n]),
//!             Err(e) if e.kind() == io::ErrorKind::WouldBlock => break, // nothing more yet
//!             Err(e) => return Err(e.into()),
//!         }
//!     }
//!     // 4. Bytes out (a socket would be written here), including a fatal alert.
//!     while conn.write_tls(outbox)? > 0 {}
//!     processed?;
//!     Ok(open)
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let anchors = TrustAnchors::from_pem(include_bytes!("../vectors/ca.pem"))?;
//! let client_config = ClientConfig::builder(Arc::new(WebPkiServerVerifier::new(anchors))).build()?;
//! let server_config = ServerConfig::builder(CertifiedKey::from_pem(
//!     include_bytes!("../vectors/localhost-ecdsa-p256.pem"),
//!     include_bytes!("../vectors/localhost-ecdsa-p256.key"),
//! )?)
//! .build()?;
//! let mut client = Connection::client(client_config, "localhost")?;
//! let mut server = Connection::server(server_config)?;
//!
//! client.writer().write_all(b"hello")?; // queued until the handshake opens the write keys
//!
//! let (mut to_server, mut to_client) = (Vec::new(), Vec::new());
//! let (mut client_got, mut server_got) = (Vec::new(), Vec::new());
//! let mut client_open = true;
//! let mut echoed = false;
//! let mut client_closed = false;
//! while client_open {
//!     let server_open = turn(&mut server, &mut to_server, &mut to_client, &mut server_got)?;
//!     if !server_open && !echoed {
//!         // The client is done sending: echo what it sent, then close in turn.
//!         server.writer().write_all(&server_got)?;
//!         server.send_close_notify();
//!         while server.write_tls(&mut to_client)? > 0 {}
//!         echoed = true;
//!     }
//!     client_open = turn(&mut client, &mut to_client, &mut to_server, &mut client_got)?;
//!     if !client.is_handshaking() && !client_closed {
//!         // "hello" went out with the client's Finished; close our direction (the client
//!         // still reads: half-close). The next turn sends the close_notify.
//!         client.send_close_notify();
//!         client_closed = true;
//!     }
//! }
//! assert_eq!(client_got, b"hello");
//! # Ok(())
//! # }
//! ```
//!
//! # Adapters and other transports
//!
//! - [`Stream`]: a `Connection` and a blocking `Read + Write` transport (a `TcpStream`),
//!   itself `Read + Write`; it runs the loop above inside `read` and `write`.
//! - `tokio_io` (feature `tokio`): `TlsConnector` / `TlsAcceptor` hand back a `TlsStream`
//!   that is `AsyncRead + AsyncWrite`.
//! - [`dtls::DtlsConnection`]: DTLS over datagrams; `recv_datagram`, `poll_datagram` and a
//!   retransmission timer (`poll_timeout`, `handle_timeout`) instead of a byte stream.
//! - [`quic::QuicConnection`]: the TLS 1.3 handshake for a QUIC stack, handshake bytes per
//!   encryption level and the keys of each level.
//! - [`conn::PlaintextPhase`]: the plaintext part of a STARTTLS protocol, with the guard
//!   against bytes injected before the upgrade.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![allow(non_camel_case_types)]

#[doc(hidden)]
pub mod codec;
mod common;
mod config;
pub mod conn;
pub mod crypto;
pub mod dtls;
mod error;
mod event;
mod handshake;
#[doc(hidden)]
pub mod msgs;
pub mod pki;
pub mod quic;
mod record;
mod session;
pub mod srtp;
mod time;
#[cfg(feature = "tokio")]
pub mod tokio_io;
mod transport;

pub use codec::{AlertDescription, AlertLevel, CipherSuite, NamedGroup, ProtocolVersion, SignatureScheme};
pub use conn::{
    CertifiedKey, ClientConfig, Connection, Direction, Event, ExternalPsk, FixedClock, KeyLog, KeyLogFile,
    NoKeyLog, PskLookup, PskStore, RecordObserver, SecurityPolicy, ServerConfig, Side, Stream, SystemClock,
    TimeProvider,
};
pub use error::{Error, Failure, InconsistentKeys, Limit, Misuse, Parameter, PeerMisbehaved};
pub use handshake::negotiated::Negotiated;
/// The certificate, key and name types of the public API (`CertificateDer` and friends), as
/// rustls re-exports them.
pub use rustls_pki_types as pki_types;

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;

/// README.md's library example, compiled and run as a doc-test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
