//! DTLS building blocks (RFC 6347 DTLS 1.2, RFC 9147 DTLS 1.3), each pure and tested on its
//! own: the per-epoch [`ReplayWindow`], record headers and DTLS 1.3 record protection
//! ([`record`]), handshake fragmentation and reassembly ([`fragment`]), the retransmission
//! timer ([`timer`]), stateless cookies ([`cookie`]) and DTLS 1.3 ACKs ([`ack`]), and the
//! DTLS 1.2 datagram connection built from them ([`conn`]: [`DtlsConnection`], [`DtlsAcceptor`]).
//!
//! No clock is read and no socket is touched here: every `Instant` is an argument.

pub mod acceptor;
pub mod ack;
pub mod conn;
pub mod cookie;
pub mod fragment;
pub mod record;
pub mod replay;
pub mod timer;

pub use acceptor::{Accepted, DtlsAcceptor};
pub use ack::{Ack, FragmentRange, ReceivedRecords, RecordNumber, SentRecords};
pub use conn::{DtlsConfig, DtlsConnection, DtlsReader, DtlsWriter};
pub use cookie::CookieKeys;
pub use fragment::{HandshakeHeader, HandshakeMessage, Pushed, Reassembler, ReassemblyLimits};
pub use record::{DatagramRecord, Dtls13Keys, HeaderFormat, PlaintextHeader, ProtectedRecord, SeqLen};
pub use replay::ReplayWindow;
pub use timer::{RetransmitTimer, TimerAction, TimerConfig};
