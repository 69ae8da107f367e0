//! Extensions, one enum per message that carries them (RFC 8446 4.2 table).

use crate::codec::{
    EcPointFormat, ExtensionType, NamedGroup, ProtocolVersion, PskKeyExchangeMode, SignatureScheme,
};

/// One `KeyShareEntry` (RFC 8446 4.2.8).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyShareEntry {
    pub group: NamedGroup,
    pub payload: Vec<u8>,
}

/// One offered PSK identity (RFC 8446 4.2.11).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PskIdentity {
    pub identity: Vec<u8>,
    pub obfuscated_ticket_age: u32,
}

/// The client's `pre_shared_key` extension: identities and their binders.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OfferedPsks {
    pub identities: Vec<PskIdentity>,
    pub binders: Vec<Vec<u8>>,
}

/// Extensions a ClientHello may carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientExtension {
    /// server_name with one host_name entry (RFC 6066 3). Bytes as sent (ASCII DNS name).
    ServerName(Vec<u8>),
    SupportedGroups(Vec<NamedGroup>),
    SignatureAlgorithms(Vec<SignatureScheme>),
    SignatureAlgorithmsCert(Vec<SignatureScheme>),
    KeyShare(Vec<KeyShareEntry>),
    SupportedVersions(Vec<ProtocolVersion>),
    PskKeyExchangeModes(Vec<PskKeyExchangeMode>),
    /// Must be the last extension (RFC 8446 4.2.11).
    PreSharedKey(OfferedPsks),
    EarlyData,
    Cookie(Vec<u8>),
    /// ALPN protocol names (RFC 7301 3.1), each 1..=255 bytes, list non-empty.
    Alpn(Vec<Vec<u8>>),
    RecordSizeLimit(u16),
    ExtendedMasterSecret,
    RenegotiationInfo(Vec<u8>),
    EcPointFormats(Vec<EcPointFormat>),
    /// RFC 5077 session ticket (empty to ask for one).
    SessionTicket(Vec<u8>),
    PostHandshakeAuth,
    /// Any extension we do not interpret, kept for transcript fidelity.
    Unknown {
        typ: ExtensionType,
        data: Vec<u8>,
    },
}

/// Extensions a ServerHello (TLS 1.3 or 1.2) may carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerHelloExtension {
    KeyShare(KeyShareEntry),
    SupportedVersions(ProtocolVersion),
    /// Selected PSK identity index.
    PreSharedKey(u16),
    // TLS 1.2 ServerHello extensions:
    ExtendedMasterSecret,
    RenegotiationInfo(Vec<u8>),
    EcPointFormats(Vec<EcPointFormat>),
    Alpn(Vec<u8>),
    /// Empty server_name acknowledgement.
    ServerNameAck,
    SessionTicketAck,
    Unknown {
        typ: ExtensionType,
        data: Vec<u8>,
    },
}

/// Extensions a HelloRetryRequest may carry (RFC 8446 4.1.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HelloRetryExtension {
    /// The group the server wants a share for.
    KeyShare(NamedGroup),
    Cookie(Vec<u8>),
    SupportedVersions(ProtocolVersion),
    Unknown {
        typ: ExtensionType,
        data: Vec<u8>,
    },
}

/// Extensions EncryptedExtensions may carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EncryptedExtension {
    /// Empty server_name acknowledgement.
    ServerNameAck,
    SupportedGroups(Vec<NamedGroup>),
    /// The one selected ALPN protocol.
    Alpn(Vec<u8>),
    EarlyData,
    RecordSizeLimit(u16),
    Unknown {
        typ: ExtensionType,
        data: Vec<u8>,
    },
}

/// Extensions a TLS 1.3 CertificateRequest may carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CertReqExtension {
    SignatureAlgorithms(Vec<SignatureScheme>),
    SignatureAlgorithmsCert(Vec<SignatureScheme>),
    /// DER-encoded distinguished names.
    CertificateAuthorities(Vec<Vec<u8>>),
    Unknown {
        typ: ExtensionType,
        data: Vec<u8>,
    },
}

/// Extensions a NewSessionTicket may carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TicketExtension {
    /// max_early_data_size.
    EarlyData(u32),
    Unknown {
        typ: ExtensionType,
        data: Vec<u8>,
    },
}
