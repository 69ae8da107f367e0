//! Handshake messages (RFC 8446 4, RFC 5246 7.4).

use crate::codec::{CipherSuite, HandshakeType, KeyUpdateRequest, ProtocolVersion, SignatureScheme};

use super::extensions::*;

/// The special ServerHello.random that marks a HelloRetryRequest (RFC 8446 4.1.3).
pub const HRR_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91, 0xc2,
    0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// Maximum size of a handshake message body we accept (bounded memory). Certificates chains
/// dominate; 64 KiB covers real chains with room to spare.
pub const MAX_HANDSHAKE_MESSAGE: usize = 0x1_0000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientHello {
    pub legacy_version: ProtocolVersion,
    pub random: [u8; 32],
    /// 0..=32 bytes.
    pub session_id: Vec<u8>,
    /// DTLS only (RFC 6347 4.2.1): `None` for TLS.
    pub cookie: Option<Vec<u8>>,
    pub cipher_suites: Vec<CipherSuite>,
    pub compression_methods: Vec<u8>,
    pub extensions: Vec<ClientExtension>,
}

/// ServerHello, TLS 1.3 or 1.2 (not HRR: see [`HelloRetryRequest`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerHello {
    pub legacy_version: ProtocolVersion,
    pub random: [u8; 32],
    pub session_id: Vec<u8>,
    pub cipher_suite: CipherSuite,
    pub compression_method: u8,
    pub extensions: Vec<ServerHelloExtension>,
}

/// A ServerHello whose random is [`HRR_RANDOM`] (RFC 8446 4.1.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HelloRetryRequest {
    pub legacy_version: ProtocolVersion,
    pub session_id: Vec<u8>,
    pub cipher_suite: CipherSuite,
    pub extensions: Vec<HelloRetryExtension>,
}

/// One CertificateEntry (RFC 8446 4.4.2); TLS 1.2 entries have no extensions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateEntry {
    pub cert: Vec<u8>,
    /// Raw extension block (status_request, SCT); kept opaque.
    pub extensions: Vec<u8>,
}

/// TLS 1.3 Certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Certificate13 {
    pub context: Vec<u8>,
    pub entries: Vec<CertificateEntry>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateRequest13 {
    pub context: Vec<u8>,
    pub extensions: Vec<CertReqExtension>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateVerify {
    pub scheme: SignatureScheme,
    pub signature: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewSessionTicket13 {
    pub lifetime: u32,
    pub age_add: u32,
    pub nonce: Vec<u8>,
    pub ticket: Vec<u8>,
    pub extensions: Vec<TicketExtension>,
}

/// A decoded handshake message body, by type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HandshakePayload {
    ClientHello(ClientHello),
    ServerHello(ServerHello),
    HelloRetryRequest(HelloRetryRequest),
    EncryptedExtensions(Vec<EncryptedExtension>),
    Certificate13(Certificate13),
    CertificateRequest13(CertificateRequest13),
    CertificateVerify(CertificateVerify),
    /// verify_data.
    Finished(Vec<u8>),
    NewSessionTicket13(NewSessionTicket13),
    KeyUpdate(KeyUpdateRequest),
    EndOfEarlyData,
    /// Any other type, body kept raw (TLS 1.2 messages are decoded by their own module).
    Unknown {
        typ: HandshakeType,
        body: Vec<u8>,
    },
}

/// Which protocol family a message is decoded for: the same type number means different
/// bodies in TLS 1.3 and 1.2 (Certificate, CertificateRequest, NewSessionTicket).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Tls13,
    Tls12,
}

impl HandshakePayload {
    pub fn typ(&self) -> HandshakeType {
        match self {
            HandshakePayload::ClientHello(_) => HandshakeType::ClientHello,
            HandshakePayload::ServerHello(_) | HandshakePayload::HelloRetryRequest(_) => {
                HandshakeType::ServerHello
            }
            HandshakePayload::EncryptedExtensions(_) => HandshakeType::EncryptedExtensions,
            HandshakePayload::Certificate13(_) => HandshakeType::Certificate,
            HandshakePayload::CertificateRequest13(_) => HandshakeType::CertificateRequest,
            HandshakePayload::CertificateVerify(_) => HandshakeType::CertificateVerify,
            HandshakePayload::Finished(_) => HandshakeType::Finished,
            HandshakePayload::NewSessionTicket13(_) => HandshakeType::NewSessionTicket,
            HandshakePayload::KeyUpdate(_) => HandshakeType::KeyUpdate,
            HandshakePayload::EndOfEarlyData => HandshakeType::EndOfEarlyData,
            HandshakePayload::Unknown { typ, .. } => *typ,
        }
    }
}
