//! Extensions, one enum per message that carries them (RFC 8446 4.2 table).

use crate::error::Parameter;
use std::collections::HashSet;

use crate::codec::{
    put_u16, put_u32, put_u8, put_vec_bytes, put_vec_of, Codec, DecodeError, EcPointFormat, ExtensionType,
    LenPrefix, NamedGroup, ProtocolVersion, PskKeyExchangeMode, Reader, SignatureScheme,
    SrtpProtectionProfile,
};
use crate::Error;

use super::wire::{illegal, illegal_param, nonempty_bytes, nonempty_list, put_extension};

/// One `KeyShareEntry` (RFC 8446 4.2.8).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyShareEntry {
    /// The group of the share.
    pub group: NamedGroup,
    /// `key_exchange`: the public value in the group's format (RFC 8446 4.2.8.2 for ECDHE;
    /// the hybrid groups concatenate an ML-KEM key or ciphertext and an ECDHE share), never
    /// empty.
    pub payload: Vec<u8>,
}

/// One offered PSK identity (RFC 8446 4.2.11).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PskIdentity {
    /// The ticket (or external PSK label), never empty.
    pub identity: Vec<u8>,
    /// The ticket's age in milliseconds plus its `ticket_age_add`, mod 2^32 (0 for
    /// external PSKs).
    pub obfuscated_ticket_age: u32,
}

/// The client's `pre_shared_key` extension: identities and their binders.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OfferedPsks {
    /// The offered identities, in the client's order.
    pub identities: Vec<PskIdentity>,
    /// One HMAC binder per identity, in the same order (RFC 8446 4.2.11.2).
    pub binders: Vec<Vec<u8>>,
}

/// The `use_srtp` extension's data (RFC 5764 4.1.1): the client's protection profiles in
/// its preference order, or the one the server selected, and the MKI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UseSrtp {
    /// `SRTPProtectionProfiles<2..2^16-1>`: never empty on the wire.
    pub profiles: Vec<SrtpProtectionProfile>,
    /// `opaque srtp_mki<0..255>`: the SRTP Master Key Identifier, empty when none.
    pub mki: Vec<u8>,
}

/// Extensions a ClientHello may carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientExtension {
    /// server_name with one host_name entry (RFC 6066 3). Bytes as sent (ASCII DNS name).
    ServerName(Vec<u8>),
    /// The groups the client supports for key exchange, in preference order (RFC 8446
    /// 4.2.7; the curves of the TLS 1.2 ECDHE suites, RFC 8422 5.1.1).
    SupportedGroups(Vec<NamedGroup>),
    /// The schemes the client accepts in CertificateVerify (and, without
    /// `signature_algorithms_cert`, in certificates), RFC 8446 4.2.3.
    SignatureAlgorithms(Vec<SignatureScheme>),
    /// The schemes the client accepts in certificate signatures (RFC 8446 4.2.3).
    SignatureAlgorithmsCert(Vec<SignatureScheme>),
    /// The client's key shares, at most one per group (RFC 8446 4.2.8).
    KeyShare(Vec<KeyShareEntry>),
    /// The versions the client supports, in preference order (RFC 8446 4.2.1).
    SupportedVersions(Vec<ProtocolVersion>),
    /// The PSK modes the client supports (RFC 8446 4.2.9).
    PskKeyExchangeModes(Vec<PskKeyExchangeMode>),
    /// Must be the last extension (RFC 8446 4.2.11).
    PreSharedKey(OfferedPsks),
    /// The client sends 0-RTT data after the ClientHello (RFC 8446 4.2.10).
    EarlyData,
    /// The cookie of a HelloRetryRequest, echoed (RFC 8446 4.2.2).
    Cookie(Vec<u8>),
    /// ALPN protocol names (RFC 7301 3.1), each 1..=255 bytes, list non-empty.
    Alpn(Vec<Vec<u8>>),
    /// The largest record plaintext the client accepts, at least 64 (RFC 8449 4).
    RecordSizeLimit(u16),
    /// TLS 1.2 extended master secret (RFC 7627 5.1); empty.
    ExtendedMasterSecret,
    /// Secure renegotiation (RFC 5746 3.2): empty on an initial handshake.
    RenegotiationInfo(Vec<u8>),
    /// TLS 1.2 EC point formats (RFC 8422 5.1.2).
    EcPointFormats(Vec<EcPointFormat>),
    /// RFC 5077 session ticket (empty to ask for one).
    SessionTicket(Vec<u8>),
    /// The client accepts a post-handshake CertificateRequest (RFC 8446 4.2.6); empty.
    PostHandshakeAuth,
    /// QUIC transport parameters (RFC 9001 8.2), opaque to TLS.
    QuicTransportParameters(Vec<u8>),
    /// DTLS: the connection id the client wants in the records it receives, possibly empty
    /// (RFC 9146 3, RFC 9147 9).
    ConnectionId(Vec<u8>),
    /// Any extension we do not interpret, kept for transcript fidelity.
    Unknown {
        /// The extension's type.
        typ: ExtensionType,
        /// The extension's data as received, without the type and length.
        data: Vec<u8>,
    },
    /// DTLS-SRTP: the profiles the client offers and its MKI (RFC 5764 4.1.1).
    UseSrtp(UseSrtp),
}

/// Extensions a ServerHello (TLS 1.3 or 1.2) may carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerHelloExtension {
    /// The server's share, in a group the client offered (RFC 8446 4.2.8).
    KeyShare(KeyShareEntry),
    /// The selected version, TLS 1.3 or DTLS 1.3 (RFC 8446 4.2.1).
    SupportedVersions(ProtocolVersion),
    /// Selected PSK identity index.
    PreSharedKey(u16),
    /// TLS 1.2: the extended master secret is in use (RFC 7627 5.1); empty.
    ExtendedMasterSecret,
    /// TLS 1.2: secure renegotiation (RFC 5746 3.2): empty on an initial handshake.
    RenegotiationInfo(Vec<u8>),
    /// TLS 1.2: the server's EC point formats (RFC 8422 5.2).
    EcPointFormats(Vec<EcPointFormat>),
    /// TLS 1.2: the one selected ALPN protocol (RFC 7301 3.1).
    Alpn(Vec<u8>),
    /// Empty server_name acknowledgement.
    ServerNameAck,
    /// TLS 1.2: the server will send a NewSessionTicket (RFC 5077 3.2); empty.
    SessionTicketAck,
    /// RFC 8449: the server's record size limit (TLS 1.2; TLS 1.3 sends it in
    /// EncryptedExtensions).
    RecordSizeLimit(u16),
    /// DTLS: the connection id the server wants in the records it receives, possibly empty
    /// (RFC 9146 3; DTLS 1.3 carries it in the ServerHello too, RFC 9147 9).
    ConnectionId(Vec<u8>),
    /// Any extension we do not interpret, kept as received.
    Unknown {
        /// The extension's type.
        typ: ExtensionType,
        /// The extension's data as received, without the type and length.
        data: Vec<u8>,
    },
    /// DTLS 1.2: the SRTP profile the server selected and its MKI (RFC 5764 4.1.1).
    UseSrtp(UseSrtp),
}

/// Extensions a HelloRetryRequest may carry (RFC 8446 4.1.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HelloRetryExtension {
    /// The group the server wants a share for.
    KeyShare(NamedGroup),
    /// A cookie the client must echo in its second ClientHello (RFC 8446 4.2.2).
    Cookie(Vec<u8>),
    /// The version the server selected (RFC 8446 4.2.1).
    SupportedVersions(ProtocolVersion),
    /// Any extension we do not interpret, kept as received.
    Unknown {
        /// The extension's type.
        typ: ExtensionType,
        /// The extension's data as received, without the type and length.
        data: Vec<u8>,
    },
}

/// Extensions EncryptedExtensions may carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EncryptedExtension {
    /// Empty server_name acknowledgement.
    ServerNameAck,
    /// The server's groups, in its preference order, for the client's next handshakes
    /// (RFC 8446 4.2.7).
    SupportedGroups(Vec<NamedGroup>),
    /// The one selected ALPN protocol.
    Alpn(Vec<u8>),
    /// The server accepted the client's 0-RTT data (RFC 8446 4.2.10); empty.
    EarlyData,
    /// The largest record plaintext the server accepts, at least 64 (RFC 8449 4).
    RecordSizeLimit(u16),
    /// QUIC transport parameters (RFC 9001 8.2), opaque to TLS.
    QuicTransportParameters(Vec<u8>),
    /// Any extension we do not interpret, kept as received.
    Unknown {
        /// The extension's type.
        typ: ExtensionType,
        /// The extension's data as received, without the type and length.
        data: Vec<u8>,
    },
    /// DTLS 1.3: the SRTP profile the server selected and its MKI (RFC 5764 4.1.1; RFC 8446
    /// 4.2 puts use_srtp in EncryptedExtensions).
    UseSrtp(UseSrtp),
}

/// Extensions a TLS 1.3 CertificateRequest may carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CertReqExtension {
    /// The schemes the server accepts in the client's CertificateVerify (RFC 8446 4.3.2:
    /// required).
    SignatureAlgorithms(Vec<SignatureScheme>),
    /// The schemes the server accepts in the client's certificate signatures (RFC 8446 4.2.3).
    SignatureAlgorithmsCert(Vec<SignatureScheme>),
    /// DER-encoded distinguished names.
    CertificateAuthorities(Vec<Vec<u8>>),
    /// Any extension we do not interpret, kept as received.
    Unknown {
        /// The extension's type.
        typ: ExtensionType,
        /// The extension's data as received, without the type and length.
        data: Vec<u8>,
    },
}

/// Extensions a NewSessionTicket may carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TicketExtension {
    /// max_early_data_size.
    EarlyData(u32),
    /// Any extension we do not interpret, kept as received.
    Unknown {
        /// The extension's type.
        typ: ExtensionType,
        /// The extension's data as received, without the type and length.
        data: Vec<u8>,
    },
}

// ---------------------------------------------------------------------------------------------
// Shared pieces.

impl Codec for KeyShareEntry {
    fn encode(&self, out: &mut Vec<u8>) {
        self.group.encode(out);
        put_vec_bytes(out, LenPrefix::U16, &self.payload);
    }

    /// RFC 8446 4.2.8: `opaque key_exchange<1..2^16-1>`.
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let group = NamedGroup::decode(r)?;
        let payload = r.vec_bytes(LenPrefix::U16, "key_exchange")?;
        if payload.is_empty() {
            return Err(DecodeError::IllegalValue("empty key_exchange"));
        }
        Ok(KeyShareEntry {
            group,
            payload: payload.to_vec(),
        })
    }
}

impl Codec for PskIdentity {
    fn encode(&self, out: &mut Vec<u8>) {
        put_vec_bytes(out, LenPrefix::U16, &self.identity);
        put_u32(out, self.obfuscated_ticket_age);
    }

    /// RFC 8446 4.2.11: `opaque identity<1..2^16-1>`.
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let identity = r.vec_bytes(LenPrefix::U16, "psk identity")?;
        if identity.is_empty() {
            return Err(DecodeError::IllegalValue("empty psk identity"));
        }
        Ok(PskIdentity {
            identity: identity.to_vec(),
            obfuscated_ticket_age: r.u32("obfuscated_ticket_age")?,
        })
    }
}

impl OfferedPsks {
    /// Encoded `PskBinderEntry binders<33..2^16-1>`, including its u16 prefix.
    pub fn encode_binders(&self, out: &mut Vec<u8>) {
        crate::codec::put_len_prefixed(out, LenPrefix::U16, |o| {
            for b in &self.binders {
                put_vec_bytes(o, LenPrefix::U8, b);
            }
        });
    }

    /// Length of [`OfferedPsks::encode_binders`]'s output.
    pub fn binders_encoded_len(&self) -> usize {
        2 + self.binders.iter().map(|b| 1 + b.len()).sum::<usize>()
    }

    fn encode(&self, out: &mut Vec<u8>) {
        put_vec_of(out, LenPrefix::U16, &self.identities);
        self.encode_binders(out);
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, Error> {
        let identities = nonempty_list::<PskIdentity>(r, LenPrefix::U16, "psk identities")?;
        let mut list = r.sub(LenPrefix::U16, "psk binders")?;
        let mut binders = Vec::new();
        while !list.is_empty() {
            // RFC 8446 4.2.11: `opaque PskBinderEntry<32..255>`. A shorter one is not refused
            // here: it cannot equal the HMAC it is compared with, which makes it a binder that
            // does not validate (decrypt_error, 4.2.11.2) when its identity is chosen, and
            // nothing when it is not (or when TLS 1.2 is negotiated and the extension means
            // nothing), as with BoringSSL.
            let b = list.vec_bytes(LenPrefix::U8, "psk binder")?;
            binders.push(b.to_vec());
        }
        if binders.is_empty() {
            return Err(illegal("empty psk binders"));
        }
        // RFC 8446 4.2.11.2: one binder per offered identity.
        if binders.len() != identities.len() {
            return Err(illegal_param(Parameter::PskBinderCount));
        }
        Ok(OfferedPsks { identities, binders })
    }
}

impl UseSrtp {
    fn encode(&self, out: &mut Vec<u8>) {
        put_vec_of(out, LenPrefix::U16, &self.profiles);
        put_vec_bytes(out, LenPrefix::U8, &self.mki);
    }

    /// RFC 5764 4.1.1: `SRTPProtectionProfile SRTPProtectionProfiles<2..2^16-1>` then
    /// `opaque srtp_mki<0..255>`.
    fn decode(r: &mut Reader<'_>) -> Result<Self, Error> {
        let profiles = nonempty_list(r, LenPrefix::U16, "srtp protection profiles")?;
        let mki = r.vec_bytes(LenPrefix::U8, "srtp_mki")?.to_vec();
        Ok(UseSrtp { profiles, mki })
    }
}

/// RFC 6066 3: `ServerName server_name_list<1..2^16-1>`, one `host_name` (type 0) entry.
fn read_server_name(r: &mut Reader<'_>) -> Result<Vec<u8>, Error> {
    let mut list = r.sub(LenPrefix::U16, "server_name list")?;
    if list.is_empty() {
        return Err(illegal("empty server_name list"));
    }
    let mut host = None;
    while !list.is_empty() {
        if list.u8("server_name type")? != 0 {
            return Err(illegal("server_name type other than host_name"));
        }
        let name = nonempty_bytes(&mut list, LenPrefix::U16, "host_name")?;
        // RFC 6066 3: "The ServerNameList MUST NOT contain more than one name of the same
        // name_type."
        if host.replace(name.to_vec()).is_some() {
            return Err(illegal_param(Parameter::ServerNameCount));
        }
    }
    Ok(host.unwrap_or_default())
}

fn put_server_name(out: &mut Vec<u8>, host: &[u8]) {
    crate::codec::put_len_prefixed(out, LenPrefix::U16, |o| {
        put_u8(o, 0);
        put_vec_bytes(o, LenPrefix::U16, host);
    });
}

/// RFC 7301 3.1: `ProtocolName protocol_name_list<2..2^16-1>`, names `<1..2^8-1>`.
fn read_alpn_list(r: &mut Reader<'_>) -> Result<Vec<Vec<u8>>, Error> {
    let mut list = r.sub(LenPrefix::U16, "alpn list")?;
    let mut out = Vec::new();
    while !list.is_empty() {
        out.push(nonempty_bytes(&mut list, LenPrefix::U8, "alpn protocol name")?.to_vec());
    }
    if out.is_empty() {
        return Err(illegal("empty alpn list"));
    }
    Ok(out)
}

fn put_alpn_list<B: AsRef<[u8]>>(out: &mut Vec<u8>, names: &[B]) {
    crate::codec::put_len_prefixed(out, LenPrefix::U16, |o| {
        for n in names {
            put_vec_bytes(o, LenPrefix::U8, n.as_ref());
        }
    });
}

/// RFC 7301 3.1: the server's list "MUST contain exactly one ProtocolName".
fn read_alpn_selected(r: &mut Reader<'_>) -> Result<Vec<u8>, Error> {
    let mut names = read_alpn_list(r)?;
    match (names.pop(), names.is_empty()) {
        (Some(name), true) => Ok(name),
        _ => Err(illegal_param(Parameter::ServerAlpnCount)),
    }
}

/// RFC 8449 4: a value below 64 is illegal_parameter.
fn read_record_size_limit(r: &mut Reader<'_>) -> Result<u16, Error> {
    let v = r.u16("record_size_limit")?;
    if v < 64 {
        return Err(illegal_param(Parameter::RecordSizeLimit));
    }
    Ok(v)
}

/// RFC 8446 4.2.8: "Clients MUST NOT offer multiple KeyShareEntry values for the same group"
/// (servers MAY abort with illegal_parameter; we do).
fn read_client_shares(r: &mut Reader<'_>) -> Result<Vec<KeyShareEntry>, Error> {
    let shares = r.vec_of::<KeyShareEntry>(LenPrefix::U16, "client_shares")?;
    let mut seen = HashSet::new();
    if !shares.iter().all(|s| seen.insert(s.group.get())) {
        return Err(illegal_param(Parameter::DuplicateKeyShare));
    }
    Ok(shares)
}

/// RFC 9146 3, RFC 9147 9: `opaque cid<0..2^8-1>`; a zero-length id is legal (the sender
/// wants none in what it receives). An id that runs past the extension, or bytes after it,
/// are decode_error.
fn read_connection_id(r: &mut Reader<'_>) -> Result<Vec<u8>, Error> {
    Ok(r.vec_bytes(LenPrefix::U8, "connection_id")?.to_vec())
}

fn finish<T>(r: &Reader<'_>, v: T) -> Result<T, Error> {
    r.expect_empty("extension data")?;
    Ok(v)
}

// ---------------------------------------------------------------------------------------------
// ClientHello.

impl ClientExtension {
    /// The extension's type code point.
    pub fn typ(&self) -> ExtensionType {
        use ClientExtension as E;
        match self {
            E::ServerName(_) => ExtensionType::ServerName,
            E::SupportedGroups(_) => ExtensionType::SupportedGroups,
            E::SignatureAlgorithms(_) => ExtensionType::SignatureAlgorithms,
            E::SignatureAlgorithmsCert(_) => ExtensionType::SignatureAlgorithmsCert,
            E::KeyShare(_) => ExtensionType::KeyShare,
            E::SupportedVersions(_) => ExtensionType::SupportedVersions,
            E::PskKeyExchangeModes(_) => ExtensionType::PskKeyExchangeModes,
            E::PreSharedKey(_) => ExtensionType::PreSharedKey,
            E::EarlyData => ExtensionType::EarlyData,
            E::Cookie(_) => ExtensionType::Cookie,
            E::Alpn(_) => ExtensionType::Alpn,
            E::RecordSizeLimit(_) => ExtensionType::RecordSizeLimit,
            E::ExtendedMasterSecret => ExtensionType::ExtendedMasterSecret,
            E::RenegotiationInfo(_) => ExtensionType::RenegotiationInfo,
            E::EcPointFormats(_) => ExtensionType::EcPointFormats,
            E::SessionTicket(_) => ExtensionType::SessionTicket,
            E::PostHandshakeAuth => ExtensionType::PostHandshakeAuth,
            E::QuicTransportParameters(_) => ExtensionType::QuicTransportParameters,
            E::ConnectionId(_) => ExtensionType::ConnectionId,
            E::Unknown { typ, .. } => *typ,
            E::UseSrtp(_) => ExtensionType::UseSrtp,
        }
    }

    /// Writes `type || length || data`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        use ClientExtension as E;
        put_extension(out, self.typ(), |o| match self {
            E::ServerName(host) => put_server_name(o, host),
            E::SupportedGroups(v) => put_vec_of(o, LenPrefix::U16, v),
            E::SignatureAlgorithms(v) | E::SignatureAlgorithmsCert(v) => put_vec_of(o, LenPrefix::U16, v),
            E::KeyShare(v) => put_vec_of(o, LenPrefix::U16, v),
            E::SupportedVersions(v) => put_vec_of(o, LenPrefix::U8, v),
            E::PskKeyExchangeModes(v) => put_vec_of(o, LenPrefix::U8, v),
            E::PreSharedKey(p) => p.encode(o),
            E::EarlyData | E::ExtendedMasterSecret | E::PostHandshakeAuth => {}
            E::Cookie(c) => put_vec_bytes(o, LenPrefix::U16, c),
            E::Alpn(names) => put_alpn_list(o, names),
            E::RecordSizeLimit(v) => put_u16(o, *v),
            E::RenegotiationInfo(v) => put_vec_bytes(o, LenPrefix::U8, v),
            E::EcPointFormats(v) => put_vec_of(o, LenPrefix::U8, v),
            E::SessionTicket(t) | E::QuicTransportParameters(t) => o.extend_from_slice(t),
            E::ConnectionId(cid) => put_vec_bytes(o, LenPrefix::U8, cid),
            E::Unknown { data, .. } => o.extend_from_slice(data),
            E::UseSrtp(v) => v.encode(o),
        });
    }

    /// Decodes one extension's data. Types we do not interpret become `Unknown`.
    pub(crate) fn decode(typ: ExtensionType, data: &[u8]) -> Result<Self, Error> {
        use ClientExtension as E;
        let mut r = Reader::new(data);
        let r = &mut r;
        let ext = match typ {
            ExtensionType::ServerName => E::ServerName(read_server_name(r)?),
            // RFC 8446 4.2.7: `NamedGroup named_group_list<2..2^16-1>`.
            ExtensionType::SupportedGroups => {
                E::SupportedGroups(nonempty_list(r, LenPrefix::U16, "supported_groups")?)
            }
            // RFC 8446 4.2.3: `SignatureScheme supported_signature_algorithms<2..2^16-2>`.
            ExtensionType::SignatureAlgorithms => {
                E::SignatureAlgorithms(nonempty_list(r, LenPrefix::U16, "signature_algorithms")?)
            }
            ExtensionType::SignatureAlgorithmsCert => {
                E::SignatureAlgorithmsCert(nonempty_list(r, LenPrefix::U16, "signature_algorithms_cert")?)
            }
            ExtensionType::KeyShare => E::KeyShare(read_client_shares(r)?),
            // RFC 8446 4.2.1: `ProtocolVersion versions<2..254>`.
            ExtensionType::SupportedVersions => {
                E::SupportedVersions(nonempty_list(r, LenPrefix::U8, "supported_versions")?)
            }
            // RFC 8446 4.2.9: `PskKeyExchangeMode ke_modes<1..255>`.
            ExtensionType::PskKeyExchangeModes => {
                E::PskKeyExchangeModes(nonempty_list(r, LenPrefix::U8, "psk_key_exchange_modes")?)
            }
            ExtensionType::PreSharedKey => E::PreSharedKey(OfferedPsks::decode(r)?),
            ExtensionType::EarlyData => E::EarlyData,
            // RFC 8446 4.2.2: `opaque cookie<1..2^16-1>`.
            ExtensionType::Cookie => E::Cookie(nonempty_bytes(r, LenPrefix::U16, "cookie")?.to_vec()),
            ExtensionType::Alpn => E::Alpn(read_alpn_list(r)?),
            ExtensionType::RecordSizeLimit => E::RecordSizeLimit(read_record_size_limit(r)?),
            ExtensionType::ExtendedMasterSecret => E::ExtendedMasterSecret,
            // RFC 5746 3.2: `opaque renegotiated_connection<0..255>`.
            ExtensionType::RenegotiationInfo => {
                E::RenegotiationInfo(r.vec_bytes(LenPrefix::U8, "renegotiation_info")?.to_vec())
            }
            // RFC 8422 5.1.2: `ECPointFormat ec_point_format_list<1..2^8-1>`.
            ExtensionType::EcPointFormats => {
                E::EcPointFormats(nonempty_list(r, LenPrefix::U8, "ec_point_formats")?)
            }
            ExtensionType::SessionTicket => E::SessionTicket(r.take_rest().to_vec()),
            ExtensionType::PostHandshakeAuth => E::PostHandshakeAuth,
            // RFC 9001 8.2: the body is the transport parameters, opaque to TLS.
            ExtensionType::QuicTransportParameters => E::QuicTransportParameters(r.take_rest().to_vec()),
            ExtensionType::ConnectionId => E::ConnectionId(read_connection_id(r)?),
            ExtensionType::UseSrtp => E::UseSrtp(UseSrtp::decode(r)?),
            _ => {
                return Ok(E::Unknown {
                    typ,
                    data: data.to_vec(),
                })
            }
        };
        finish(r, ext)
    }
}

// ---------------------------------------------------------------------------------------------
// ServerHello.

impl ServerHelloExtension {
    /// The extension's type code point.
    pub fn typ(&self) -> ExtensionType {
        use ServerHelloExtension as E;
        match self {
            E::KeyShare(_) => ExtensionType::KeyShare,
            E::SupportedVersions(_) => ExtensionType::SupportedVersions,
            E::PreSharedKey(_) => ExtensionType::PreSharedKey,
            E::ExtendedMasterSecret => ExtensionType::ExtendedMasterSecret,
            E::RenegotiationInfo(_) => ExtensionType::RenegotiationInfo,
            E::EcPointFormats(_) => ExtensionType::EcPointFormats,
            E::Alpn(_) => ExtensionType::Alpn,
            E::ServerNameAck => ExtensionType::ServerName,
            E::SessionTicketAck => ExtensionType::SessionTicket,
            E::RecordSizeLimit(_) => ExtensionType::RecordSizeLimit,
            E::ConnectionId(_) => ExtensionType::ConnectionId,
            E::Unknown { typ, .. } => *typ,
            E::UseSrtp(_) => ExtensionType::UseSrtp,
        }
    }

    /// Writes `type || length || data`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        use ServerHelloExtension as E;
        put_extension(out, self.typ(), |o| match self {
            E::KeyShare(k) => k.encode(o),
            E::SupportedVersions(v) => v.encode(o),
            E::PreSharedKey(i) => put_u16(o, *i),
            E::ExtendedMasterSecret | E::ServerNameAck | E::SessionTicketAck => {}
            E::RenegotiationInfo(v) => put_vec_bytes(o, LenPrefix::U8, v),
            E::EcPointFormats(v) => put_vec_of(o, LenPrefix::U8, v),
            E::Alpn(name) => put_alpn_list(o, &[name]),
            E::RecordSizeLimit(v) => put_u16(o, *v),
            E::ConnectionId(cid) => put_vec_bytes(o, LenPrefix::U8, cid),
            E::Unknown { data, .. } => o.extend_from_slice(data),
            E::UseSrtp(v) => v.encode(o),
        });
    }

    pub(crate) fn decode(typ: ExtensionType, data: &[u8]) -> Result<Self, Error> {
        use ServerHelloExtension as E;
        let mut r = Reader::new(data);
        let r = &mut r;
        let ext = match typ {
            // RFC 8446 4.2.8: `KeyShareEntry server_share`.
            ExtensionType::KeyShare => E::KeyShare(KeyShareEntry::decode(r)?),
            // RFC 8446 4.2.1: `ProtocolVersion selected_version`.
            ExtensionType::SupportedVersions => E::SupportedVersions(ProtocolVersion::decode(r)?),
            // RFC 8446 4.2.11: `uint16 selected_identity`.
            ExtensionType::PreSharedKey => E::PreSharedKey(r.u16("selected_identity")?),
            ExtensionType::ExtendedMasterSecret => E::ExtendedMasterSecret,
            ExtensionType::RenegotiationInfo => {
                E::RenegotiationInfo(r.vec_bytes(LenPrefix::U8, "renegotiation_info")?.to_vec())
            }
            ExtensionType::EcPointFormats => {
                E::EcPointFormats(nonempty_list(r, LenPrefix::U8, "ec_point_formats")?)
            }
            ExtensionType::Alpn => E::Alpn(read_alpn_selected(r)?),
            // RFC 6066 3: the server's server_name is empty.
            ExtensionType::ServerName => E::ServerNameAck,
            // RFC 5077 3.2: the server's SessionTicket extension is empty.
            ExtensionType::SessionTicket => E::SessionTicketAck,
            ExtensionType::RecordSizeLimit => E::RecordSizeLimit(read_record_size_limit(r)?),
            ExtensionType::ConnectionId => E::ConnectionId(read_connection_id(r)?),
            ExtensionType::UseSrtp => E::UseSrtp(UseSrtp::decode(r)?),
            _ => {
                return Ok(E::Unknown {
                    typ,
                    data: data.to_vec(),
                })
            }
        };
        finish(r, ext)
    }
}

// ---------------------------------------------------------------------------------------------
// HelloRetryRequest.

impl HelloRetryExtension {
    /// The extension's type code point.
    pub fn typ(&self) -> ExtensionType {
        match self {
            HelloRetryExtension::KeyShare(_) => ExtensionType::KeyShare,
            HelloRetryExtension::Cookie(_) => ExtensionType::Cookie,
            HelloRetryExtension::SupportedVersions(_) => ExtensionType::SupportedVersions,
            HelloRetryExtension::Unknown { typ, .. } => *typ,
        }
    }

    /// Writes `type || length || data`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_extension(out, self.typ(), |o| match self {
            HelloRetryExtension::KeyShare(g) => g.encode(o),
            HelloRetryExtension::Cookie(c) => put_vec_bytes(o, LenPrefix::U16, c),
            HelloRetryExtension::SupportedVersions(v) => v.encode(o),
            HelloRetryExtension::Unknown { data, .. } => o.extend_from_slice(data),
        });
    }

    pub(crate) fn decode(typ: ExtensionType, data: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(data);
        let r = &mut r;
        let ext = match typ {
            // RFC 8446 4.2.8: `NamedGroup selected_group`.
            ExtensionType::KeyShare => HelloRetryExtension::KeyShare(NamedGroup::decode(r)?),
            ExtensionType::Cookie => {
                HelloRetryExtension::Cookie(nonempty_bytes(r, LenPrefix::U16, "cookie")?.to_vec())
            }
            ExtensionType::SupportedVersions => {
                HelloRetryExtension::SupportedVersions(ProtocolVersion::decode(r)?)
            }
            _ => {
                return Ok(HelloRetryExtension::Unknown {
                    typ,
                    data: data.to_vec(),
                })
            }
        };
        finish(r, ext)
    }
}

// ---------------------------------------------------------------------------------------------
// EncryptedExtensions.

impl EncryptedExtension {
    /// The extension's type code point.
    pub fn typ(&self) -> ExtensionType {
        use EncryptedExtension as E;
        match self {
            E::ServerNameAck => ExtensionType::ServerName,
            E::SupportedGroups(_) => ExtensionType::SupportedGroups,
            E::Alpn(_) => ExtensionType::Alpn,
            E::EarlyData => ExtensionType::EarlyData,
            E::RecordSizeLimit(_) => ExtensionType::RecordSizeLimit,
            E::QuicTransportParameters(_) => ExtensionType::QuicTransportParameters,
            E::Unknown { typ, .. } => *typ,
            E::UseSrtp(_) => ExtensionType::UseSrtp,
        }
    }

    /// Writes `type || length || data`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        use EncryptedExtension as E;
        put_extension(out, self.typ(), |o| match self {
            E::ServerNameAck | E::EarlyData => {}
            E::SupportedGroups(v) => put_vec_of(o, LenPrefix::U16, v),
            E::Alpn(name) => put_alpn_list(o, &[name]),
            E::RecordSizeLimit(v) => put_u16(o, *v),
            E::QuicTransportParameters(v) => o.extend_from_slice(v),
            E::Unknown { data, .. } => o.extend_from_slice(data),
            E::UseSrtp(v) => v.encode(o),
        });
    }

    pub(crate) fn decode(typ: ExtensionType, data: &[u8]) -> Result<Self, Error> {
        use EncryptedExtension as E;
        let mut r = Reader::new(data);
        let r = &mut r;
        let ext = match typ {
            ExtensionType::ServerName => E::ServerNameAck,
            ExtensionType::SupportedGroups => {
                E::SupportedGroups(nonempty_list(r, LenPrefix::U16, "supported_groups")?)
            }
            ExtensionType::Alpn => E::Alpn(read_alpn_selected(r)?),
            ExtensionType::EarlyData => E::EarlyData,
            ExtensionType::RecordSizeLimit => E::RecordSizeLimit(read_record_size_limit(r)?),
            // RFC 9001 8.2: the body is the transport parameters, opaque to TLS.
            ExtensionType::QuicTransportParameters => E::QuicTransportParameters(r.take_rest().to_vec()),
            ExtensionType::UseSrtp => E::UseSrtp(UseSrtp::decode(r)?),
            _ => {
                return Ok(E::Unknown {
                    typ,
                    data: data.to_vec(),
                })
            }
        };
        finish(r, ext)
    }
}

// ---------------------------------------------------------------------------------------------
// CertificateRequest (TLS 1.3).

impl CertReqExtension {
    /// The extension's type code point.
    pub fn typ(&self) -> ExtensionType {
        match self {
            CertReqExtension::SignatureAlgorithms(_) => ExtensionType::SignatureAlgorithms,
            CertReqExtension::SignatureAlgorithmsCert(_) => ExtensionType::SignatureAlgorithmsCert,
            CertReqExtension::CertificateAuthorities(_) => ExtensionType::CertificateAuthorities,
            CertReqExtension::Unknown { typ, .. } => *typ,
        }
    }

    /// Writes `type || length || data`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_extension(out, self.typ(), |o| match self {
            CertReqExtension::SignatureAlgorithms(v) | CertReqExtension::SignatureAlgorithmsCert(v) => {
                put_vec_of(o, LenPrefix::U16, v)
            }
            CertReqExtension::CertificateAuthorities(names) => put_distinguished_names(o, names),
            CertReqExtension::Unknown { data, .. } => o.extend_from_slice(data),
        });
    }

    pub(crate) fn decode(typ: ExtensionType, data: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(data);
        let r = &mut r;
        let ext = match typ {
            ExtensionType::SignatureAlgorithms => CertReqExtension::SignatureAlgorithms(nonempty_list(
                r,
                LenPrefix::U16,
                "signature_algorithms",
            )?),
            ExtensionType::SignatureAlgorithmsCert => CertReqExtension::SignatureAlgorithmsCert(
                nonempty_list(r, LenPrefix::U16, "signature_algorithms_cert")?,
            ),
            // RFC 8446 4.2.4: `DistinguishedName authorities<3..2^16-1>`.
            ExtensionType::CertificateAuthorities => {
                let names = read_distinguished_names(r)?;
                if names.is_empty() {
                    return Err(illegal("empty certificate_authorities"));
                }
                CertReqExtension::CertificateAuthorities(names)
            }
            _ => {
                return Ok(CertReqExtension::Unknown {
                    typ,
                    data: data.to_vec(),
                })
            }
        };
        finish(r, ext)
    }
}

/// `DistinguishedName names<0..2^16-1>` with `opaque DistinguishedName<1..2^16-1>`
/// (RFC 8446 4.2.4, RFC 5246 7.4.4).
pub(crate) fn read_distinguished_names(r: &mut Reader<'_>) -> Result<Vec<Vec<u8>>, Error> {
    let mut list = r.sub(LenPrefix::U16, "distinguished names")?;
    let mut out = Vec::new();
    while !list.is_empty() {
        out.push(nonempty_bytes(&mut list, LenPrefix::U16, "distinguished name")?.to_vec());
    }
    Ok(out)
}

pub(crate) fn put_distinguished_names(out: &mut Vec<u8>, names: &[Vec<u8>]) {
    crate::codec::put_len_prefixed(out, LenPrefix::U16, |o| {
        for n in names {
            put_vec_bytes(o, LenPrefix::U16, n);
        }
    });
}

// ---------------------------------------------------------------------------------------------
// NewSessionTicket (TLS 1.3).

impl TicketExtension {
    /// The extension's type code point.
    pub fn typ(&self) -> ExtensionType {
        match self {
            TicketExtension::EarlyData(_) => ExtensionType::EarlyData,
            TicketExtension::Unknown { typ, .. } => *typ,
        }
    }

    /// Writes `type || length || data`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_extension(out, self.typ(), |o| match self {
            TicketExtension::EarlyData(max) => put_u32(o, *max),
            TicketExtension::Unknown { data, .. } => o.extend_from_slice(data),
        });
    }

    pub(crate) fn decode(typ: ExtensionType, data: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(data);
        let ext = match typ {
            // RFC 8446 4.2.10: `uint32 max_early_data_size`.
            ExtensionType::EarlyData => TicketExtension::EarlyData(r.u32("max_early_data_size")?),
            _ => {
                return Ok(TicketExtension::Unknown {
                    typ,
                    data: data.to_vec(),
                })
            }
        };
        finish(&r, ext)
    }
}
