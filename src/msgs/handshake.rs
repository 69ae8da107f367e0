//! Handshake messages (RFC 8446 4, RFC 5246 7.4).

use crate::codec::{
    put_len_prefixed, put_u24, put_u32, put_u8, put_vec_bytes, put_vec_of, CipherSuite, Codec, ExtensionType,
    HandshakeType, KeyUpdateRequest, LenPrefix, NamedGroup, ProtocolVersion, PskKeyExchangeMode, Reader,
    SignatureScheme,
};
use crate::error::Parameter;
use crate::{Error, PeerMisbehaved};

use super::extensions::*;
use super::wire::{
    check_allowed, illegal, illegal_param, nonempty_bytes, nonempty_list, put_extensions, read_extensions,
    read_negotiation_extensions, read_random, read_session_id,
};

/// The special ServerHello.random that marks a HelloRetryRequest (RFC 8446 4.1.3).
pub const HRR_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91, 0xc2,
    0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// Maximum size of a handshake message body we accept (bounded memory), the ClientHello
/// excepted ([`MAX_CLIENT_HELLO`]). Certificates chains dominate; 64 KiB covers real chains
/// with room to spare.
pub const MAX_HANDSHAKE_MESSAGE: usize = 0x1_0000;

/// The largest ClientHello body the syntax allows (RFC 8446 4.1.2, RFC 5246 7.4.1.2):
/// legacy_version, random, a 32-byte legacy_session_id, 2^16-2 bytes of cipher suites, 255
/// compression methods and 2^16-1 bytes of extensions, plus DTLS's cookie of up to 255 bytes
/// (RFC 6347 4.2.1). Hybrid key shares and padding make large ClientHellos ordinary, and one
/// within the syntax must not be refused for its size; this is what a server buffers for it.
pub const MAX_CLIENT_HELLO: usize = 2 + 32 + (1 + 32) + (1 + 0xff) + (2 + 0xfffe) + (1 + 0xff) + (2 + 0xffff);

/// ClientHello (RFC 8446 4.1.2, RFC 5246 7.4.1.2; DTLS adds the cookie, RFC 6347 4.2.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientHello {
    /// `TLSv1_2` (or `DTLSv1_2`) when offering TLS 1.3, which moved version negotiation to
    /// supported_versions (RFC 8446 4.1.2); otherwise the highest version offered.
    pub legacy_version: ProtocolVersion,
    /// 32 bytes from the client's random source.
    pub random: [u8; 32],
    /// 0..=32 bytes.
    pub session_id: Vec<u8>,
    /// DTLS only (RFC 6347 4.2.1): `None` for TLS.
    pub cookie: Option<Vec<u8>>,
    /// The offered suites in preference order, SCSVs included.
    pub cipher_suites: Vec<CipherSuite>,
    /// Compression methods; exactly `[0]` (null) whenever TLS 1.3 is offered (RFC 8446 4.1.2).
    pub compression_methods: Vec<u8>,
    /// The extensions, in wire order (pre_shared_key last).
    pub extensions: Vec<ClientExtension>,
}

/// ServerHello, TLS 1.3 or 1.2 (not HRR: see [`HelloRetryRequest`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerHello {
    /// `TLSv1_2` (`DTLSv1_2`) in TLS 1.3, whose version is in supported_versions (RFC
    /// 8446 4.1.3); otherwise the negotiated version.
    pub legacy_version: ProtocolVersion,
    /// 32 bytes from the server's random source (the TLS 1.3 downgrade sentinels of RFC
    /// 8446 4.1.3 in the last 8 when a TLS 1.3 server negotiates TLS 1.2).
    pub random: [u8; 32],
    /// TLS 1.3: the client's legacy_session_id echoed (RFC 8446 4.1.3; empty in DTLS 1.3,
    /// RFC 9147 5); TLS 1.2: the id to resume the session with, or empty (RFC 5246 7.4.1.3).
    pub session_id: Vec<u8>,
    /// The suite the server selected from the client's list.
    pub cipher_suite: CipherSuite,
    /// Always 0 (null) in TLS 1.3 (RFC 8446 4.1.3).
    pub compression_method: u8,
    /// The extensions, in wire order.
    pub extensions: Vec<ServerHelloExtension>,
}

/// A ServerHello whose random is [`HRR_RANDOM`] (RFC 8446 4.1.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HelloRetryRequest {
    /// `TLSv1_2` (`DTLSv1_2` in DTLS 1.3), as in a TLS 1.3 ServerHello.
    pub legacy_version: ProtocolVersion,
    /// The client's legacy_session_id echoed (empty in DTLS 1.3, RFC 9147 5).
    pub session_id: Vec<u8>,
    /// The suite the server selected; the second ServerHello must repeat it (RFC 8446 4.1.4).
    pub cipher_suite: CipherSuite,
    /// The extensions, in wire order.
    pub extensions: Vec<HelloRetryExtension>,
}

/// One CertificateEntry (RFC 8446 4.4.2); TLS 1.2 entries have no extensions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateEntry {
    /// The certificate (X.509 DER), never empty.
    pub cert: Vec<u8>,
    /// Raw extension block (status_request, SCT); kept opaque.
    pub extensions: Vec<u8>,
}

/// TLS 1.3 Certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Certificate13 {
    /// certificate_request_context: empty in the handshake, the CertificateRequest's
    /// context in answer to a post-handshake request (RFC 8446 4.4.2).
    pub context: Vec<u8>,
    /// The chain, end entity first (RFC 8446 4.4.2); empty when a client has no certificate.
    pub entries: Vec<CertificateEntry>,
}

/// TLS 1.3 CertificateRequest (RFC 8446 4.3.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateRequest13 {
    /// certificate_request_context: empty in the handshake; unique per post-handshake
    /// request, and echoed in the Certificate that answers it.
    pub context: Vec<u8>,
    /// The extensions (signature_algorithms always among them once decoded).
    pub extensions: Vec<CertReqExtension>,
}

/// CertificateVerify (RFC 8446 4.4.3): the signature that proves possession of the
/// certificate's key. The TLS 1.2 message (RFC 5246 7.4.8) has the same layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateVerify {
    /// The scheme the signature was made with.
    pub scheme: SignatureScheme,
    /// The signature bytes.
    pub signature: Vec<u8>,
}

/// TLS 1.3 NewSessionTicket (RFC 8446 4.6.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewSessionTicket13 {
    /// ticket_lifetime: seconds the ticket may be used for, at most 7 days (604800).
    pub lifetime: u32,
    /// ticket_age_add: added to the ticket age, mod 2^32, to obscure it on the wire.
    pub age_add: u32,
    /// ticket_nonce: distinguishes the PSKs derived from one resumption_master_secret.
    pub nonce: Vec<u8>,
    /// The ticket, opaque to the client and sent back as a PSK identity; never empty.
    pub ticket: Vec<u8>,
    /// The ticket's extensions (early_data's max_early_data_size).
    pub extensions: Vec<TicketExtension>,
}

/// A decoded handshake message body, by type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HandshakePayload {
    /// ClientHello (RFC 8446 4.1.2).
    ClientHello(ClientHello),
    /// ServerHello (RFC 8446 4.1.3).
    ServerHello(ServerHello),
    /// A ServerHello carrying [`HRR_RANDOM`] (RFC 8446 4.1.4).
    HelloRetryRequest(HelloRetryRequest),
    /// EncryptedExtensions (RFC 8446 4.3.1).
    EncryptedExtensions(Vec<EncryptedExtension>),
    /// TLS 1.3 Certificate (RFC 8446 4.4.2).
    Certificate13(Certificate13),
    /// TLS 1.3 CertificateRequest (RFC 8446 4.3.2).
    CertificateRequest13(CertificateRequest13),
    /// CertificateVerify (RFC 8446 4.4.3).
    CertificateVerify(CertificateVerify),
    /// verify_data.
    Finished(Vec<u8>),
    /// TLS 1.3 NewSessionTicket (RFC 8446 4.6.1).
    NewSessionTicket13(NewSessionTicket13),
    /// KeyUpdate with its request_update flag (RFC 8446 4.6.3).
    KeyUpdate(KeyUpdateRequest),
    /// EndOfEarlyData (RFC 8446 4.5); empty.
    EndOfEarlyData,
    /// Any other type, body kept raw (TLS 1.2 messages are decoded by their own module).
    Unknown {
        /// The message's handshake type.
        typ: HandshakeType,
        /// The body as received.
        body: Vec<u8>,
    },
}

/// Which protocol family a message is decoded for: the same type number means different
/// bodies in TLS 1.3 and 1.2 (Certificate, CertificateRequest, NewSessionTicket).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// TLS 1.3 and DTLS 1.3 bodies.
    Tls13,
    /// TLS 1.2 and DTLS 1.2 bodies (the messages that differ stay `Unknown`).
    Tls12,
}

impl HandshakePayload {
    /// The handshake type on the wire (ServerHello for a HelloRetryRequest).
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

// ---------------------------------------------------------------------------------------------
// Where each recognised extension may appear (RFC 8446 4.2 table; RFC 8449 for
// record_size_limit, RFC 8879 for compress_certificate, RFC 9146 for connection_id).

/// Everything we name except oid_filters (CR only) may appear in a ClientHello.
const CH_FORBIDDEN: &[ExtensionType] = &[ExtensionType::OidFilters];

const SH13_ALLOWED: &[ExtensionType] = &[
    ExtensionType::KeyShare,
    ExtensionType::PreSharedKey,
    ExtensionType::SupportedVersions,
    ExtensionType::ConnectionId,
];

/// TLS 1.2 ServerHello: refuse only what exists for TLS 1.3 alone (or for ClientHello alone).
const SH12_FORBIDDEN: &[ExtensionType] = &[
    ExtensionType::KeyShare,
    ExtensionType::PreSharedKey,
    ExtensionType::EarlyData,
    ExtensionType::Cookie,
    ExtensionType::PskKeyExchangeModes,
    ExtensionType::CertificateAuthorities,
    ExtensionType::OidFilters,
    ExtensionType::PostHandshakeAuth,
    ExtensionType::SignatureAlgorithmsCert,
    ExtensionType::Padding,
    ExtensionType::QuicTransportParameters,
];

const HRR_ALLOWED: &[ExtensionType] = &[
    ExtensionType::KeyShare,
    ExtensionType::Cookie,
    ExtensionType::SupportedVersions,
];

const EE_ALLOWED: &[ExtensionType] = &[
    ExtensionType::ServerName,
    ExtensionType::MaxFragmentLength,
    ExtensionType::SupportedGroups,
    ExtensionType::UseSrtp,
    ExtensionType::Heartbeat,
    ExtensionType::Alpn,
    ExtensionType::EarlyData,
    ExtensionType::RecordSizeLimit,
    // RFC 9001 8.2.
    ExtensionType::QuicTransportParameters,
];

const CT_ALLOWED: &[ExtensionType] = &[
    ExtensionType::StatusRequest,
    ExtensionType::SignedCertificateTimestamp,
];

const CR_ALLOWED: &[ExtensionType] = &[
    ExtensionType::StatusRequest,
    ExtensionType::SignatureAlgorithms,
    ExtensionType::SignedCertificateTimestamp,
    ExtensionType::CertificateAuthorities,
    ExtensionType::OidFilters,
    ExtensionType::SignatureAlgorithmsCert,
    ExtensionType::CompressCertificate,
];

const NST_ALLOWED: &[ExtensionType] = &[ExtensionType::EarlyData];

// ---------------------------------------------------------------------------------------------
// ClientHello.

impl ClientHello {
    /// Writes the body (no handshake header). An empty extension list is omitted, as RFC 5246
    /// 7.4.1.2 allows.
    pub fn encode(&self, out: &mut Vec<u8>) {
        self.legacy_version.encode(out);
        out.extend_from_slice(&self.random);
        put_vec_bytes(out, LenPrefix::U8, &self.session_id);
        if let Some(cookie) = &self.cookie {
            put_vec_bytes(out, LenPrefix::U8, cookie);
        }
        put_vec_of(out, LenPrefix::U16, &self.cipher_suites);
        put_vec_bytes(out, LenPrefix::U8, &self.compression_methods);
        if !self.extensions.is_empty() {
            put_extensions(out, &self.extensions, ClientExtension::encode);
        }
    }

    /// Decodes a body; `dtls` adds the cookie field (RFC 6347 4.2.1, RFC 9147 5.3). The reader
    /// is left after the extensions; trailing bytes are the caller's to refuse.
    pub fn decode(r: &mut Reader<'_>, dtls: bool) -> Result<Self, Error> {
        let legacy_version = ProtocolVersion::decode(r)?;
        let random = read_random(r)?;
        let session_id = read_session_id(r)?;
        let cookie = match dtls {
            true => Some(r.vec_bytes(LenPrefix::U8, "dtls cookie")?.to_vec()),
            false => None,
        };
        // RFC 8446 4.1.2: `CipherSuite cipher_suites<2..2^16-2>` (an odd length is truncated).
        let cipher_suites = nonempty_list(r, LenPrefix::U16, "cipher_suites")?;
        // RFC 8446 4.1.2: `opaque legacy_compression_methods<1..2^8-1>`.
        let compression_methods = nonempty_bytes(r, LenPrefix::U8, "compression_methods")?.to_vec();
        let mut extensions = Vec::new();
        // RFC 5246 7.4.1.2: the extension block may be absent.
        if !r.is_empty() {
            let raw = read_negotiation_extensions(r)?;
            let last = raw.len().saturating_sub(1);
            for (i, e) in raw.iter().enumerate() {
                // RFC 8446 4.2.11: pre_shared_key MUST be last (illegal_parameter).
                if e.typ == ExtensionType::PreSharedKey && i != last {
                    return Err(PeerMisbehaved::PreSharedKeyNotLast.into());
                }
                if CH_FORBIDDEN.contains(&e.typ) {
                    return Err(PeerMisbehaved::ExtensionForbiddenInMessage.into());
                }
                extensions.push(ClientExtension::decode(e.typ, e.data)?);
            }
        }
        let ch = ClientHello {
            legacy_version,
            random,
            session_id,
            cookie,
            cipher_suites,
            compression_methods,
            extensions,
        };
        // RFC 8446 4.1.2: "For every TLS 1.3 ClientHello, this vector MUST contain exactly one
        // byte, set to zero" (illegal_parameter).
        let offers_13 = ch.supported_versions().is_some_and(|v| {
            v.iter()
                .any(|v| matches!(v, ProtocolVersion::TLSv1_3 | ProtocolVersion::DTLSv1_3))
        });
        if offers_13 && ch.compression_methods != [0] {
            return Err(PeerMisbehaved::CompressionNotNull.into());
        }
        Ok(ch)
    }

    /// The first extension of the given type.
    pub fn find(&self, typ: ExtensionType) -> Option<&ClientExtension> {
        self.extensions.iter().find(|e| e.typ() == typ)
    }

    /// The host_name from server_name (RFC 6066 3).
    pub fn server_name(&self) -> Option<&[u8]> {
        self.extensions.iter().find_map(|e| match e {
            ClientExtension::ServerName(h) => Some(h.as_slice()),
            _ => None,
        })
    }

    /// The supported_versions list (RFC 8446 4.2.1); `None` from a pre-TLS 1.3 client.
    pub fn supported_versions(&self) -> Option<&[ProtocolVersion]> {
        self.extensions.iter().find_map(|e| match e {
            ClientExtension::SupportedVersions(v) => Some(v.as_slice()),
            _ => None,
        })
    }

    /// The key_share entries (RFC 8446 4.2.8).
    pub fn key_shares(&self) -> Option<&[KeyShareEntry]> {
        self.extensions.iter().find_map(|e| match e {
            ClientExtension::KeyShare(v) => Some(v.as_slice()),
            _ => None,
        })
    }

    /// The supported_groups list (RFC 8446 4.2.7).
    pub fn supported_groups(&self) -> Option<&[NamedGroup]> {
        self.extensions.iter().find_map(|e| match e {
            ClientExtension::SupportedGroups(v) => Some(v.as_slice()),
            _ => None,
        })
    }

    /// The signature_algorithms list (RFC 8446 4.2.3).
    pub fn signature_algorithms(&self) -> Option<&[SignatureScheme]> {
        self.extensions.iter().find_map(|e| match e {
            ClientExtension::SignatureAlgorithms(v) => Some(v.as_slice()),
            _ => None,
        })
    }

    /// The signature_algorithms_cert list (RFC 8446 4.2.3).
    pub fn signature_algorithms_cert(&self) -> Option<&[SignatureScheme]> {
        self.extensions.iter().find_map(|e| match e {
            ClientExtension::SignatureAlgorithmsCert(v) => Some(v.as_slice()),
            _ => None,
        })
    }

    /// The offered ALPN protocol names (RFC 7301 3.1).
    pub fn alpn(&self) -> Option<&[Vec<u8>]> {
        self.extensions.iter().find_map(|e| match e {
            ClientExtension::Alpn(v) => Some(v.as_slice()),
            _ => None,
        })
    }

    /// DTLS-SRTP: the client's profiles and MKI (RFC 5764 4.1.1).
    pub fn use_srtp(&self) -> Option<&UseSrtp> {
        self.extensions.iter().find_map(|e| match e {
            ClientExtension::UseSrtp(v) => Some(v),
            _ => None,
        })
    }

    /// RFC 9001 8.2: the client's QUIC transport parameters, opaque.
    pub fn quic_transport_parameters(&self) -> Option<&[u8]> {
        self.extensions.iter().find_map(|e| match e {
            ClientExtension::QuicTransportParameters(v) => Some(v.as_slice()),
            _ => None,
        })
    }

    /// The TLS 1.3 cookie extension (not the DTLS cookie field).
    pub fn cookie(&self) -> Option<&[u8]> {
        self.extensions.iter().find_map(|e| match e {
            ClientExtension::Cookie(v) => Some(v.as_slice()),
            _ => None,
        })
    }

    /// The psk_key_exchange_modes list (RFC 8446 4.2.9).
    pub fn psk_modes(&self) -> Option<&[PskKeyExchangeMode]> {
        self.extensions.iter().find_map(|e| match e {
            ClientExtension::PskKeyExchangeModes(v) => Some(v.as_slice()),
            _ => None,
        })
    }

    /// The offered PSKs and binders (RFC 8446 4.2.11).
    pub fn psk(&self) -> Option<&OfferedPsks> {
        self.extensions.iter().find_map(|e| match e {
            ClientExtension::PreSharedKey(p) => Some(p),
            _ => None,
        })
    }

    /// The client's record_size_limit (RFC 8449 4).
    pub fn record_size_limit(&self) -> Option<u16> {
        self.extensions.iter().find_map(|e| match e {
            ClientExtension::RecordSizeLimit(v) => Some(*v),
            _ => None,
        })
    }

    /// DTLS: the connection id the client wants to receive (RFC 9146 3, RFC 9147 9).
    pub fn connection_id(&self) -> Option<&[u8]> {
        self.extensions.iter().find_map(|e| match e {
            ClientExtension::ConnectionId(v) => Some(v.as_slice()),
            _ => None,
        })
    }

    /// The renegotiation_info data (RFC 5746 3.2): empty on an initial handshake.
    pub fn renegotiation_info(&self) -> Option<&[u8]> {
        self.extensions.iter().find_map(|e| match e {
            ClientExtension::RenegotiationInfo(v) => Some(v.as_slice()),
            _ => None,
        })
    }

    /// The TLS 1.2 SessionTicket extension (RFC 5077 3.2): a ticket to resume with, or
    /// empty to ask for a new one.
    pub fn session_ticket(&self) -> Option<&[u8]> {
        self.extensions.iter().find_map(|e| match e {
            ClientExtension::SessionTicket(v) => Some(v.as_slice()),
            _ => None,
        })
    }

    /// The TLS 1.2 ec_point_formats list (RFC 8422 5.1.2).
    pub fn ec_point_formats(&self) -> Option<&[crate::codec::EcPointFormat]> {
        self.extensions.iter().find_map(|e| match e {
            ClientExtension::EcPointFormats(v) => Some(v.as_slice()),
            _ => None,
        })
    }

    /// True if an extension of type `typ` is present.
    pub fn has(&self, typ: ExtensionType) -> bool {
        self.find(typ).is_some()
    }

    /// Length in bytes of the encoded binders list (incl. its u16 prefix), for PSK binder
    /// computation over the truncated ClientHello (RFC 8446 4.2.11.2). 0 without a PSK.
    pub fn binders_encoded_len(&self) -> usize {
        self.psk().map_or(0, OfferedPsks::binders_encoded_len)
    }
}

// ---------------------------------------------------------------------------------------------
// ServerHello.

impl ServerHello {
    /// Writes the body (no handshake header); an empty extension list is omitted.
    pub fn encode(&self, out: &mut Vec<u8>) {
        self.legacy_version.encode(out);
        out.extend_from_slice(&self.random);
        put_vec_bytes(out, LenPrefix::U8, &self.session_id);
        self.cipher_suite.encode(out);
        put_u8(out, self.compression_method);
        if !self.extensions.is_empty() {
            put_extensions(out, &self.extensions, ServerHelloExtension::encode);
        }
    }

    /// Decodes a ServerHello body (TLS or DTLS; callers dispatch [`HRR_RANDOM`] to
    /// [`HelloRetryRequest::decode`]). With supported_versions present the TLS 1.3 extension
    /// table applies, otherwise the TLS 1.2 one.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, Error> {
        let legacy_version = ProtocolVersion::decode(r)?;
        let random = read_random(r)?;
        let session_id = read_session_id(r)?;
        let cipher_suite = CipherSuite::decode(r)?;
        let compression_method = r.u8("compression_method")?;
        let raw = if r.is_empty() {
            Vec::new()
        } else {
            read_negotiation_extensions(r)?
        };
        let tls13 = raw.iter().any(|e| e.typ == ExtensionType::SupportedVersions);
        let mut extensions = Vec::with_capacity(raw.len());
        for e in &raw {
            if tls13 {
                check_allowed(e.typ, SH13_ALLOWED)?;
            } else if SH12_FORBIDDEN.contains(&e.typ) {
                return Err(PeerMisbehaved::ExtensionForbiddenInMessage.into());
            }
            extensions.push(ServerHelloExtension::decode(e.typ, e.data)?);
        }
        // RFC 8446 4.1.3: legacy_compression_method "MUST have the value 0".
        if tls13 && compression_method != 0 {
            return Err(PeerMisbehaved::CompressionNotNull.into());
        }
        Ok(ServerHello {
            legacy_version,
            random,
            session_id,
            cipher_suite,
            compression_method,
            extensions,
        })
    }

    /// The first extension of the given type.
    pub fn find(&self, typ: ExtensionType) -> Option<&ServerHelloExtension> {
        self.extensions.iter().find(|e| e.typ() == typ)
    }

    /// The server's key share (TLS 1.3, RFC 8446 4.2.8).
    pub fn key_share(&self) -> Option<&KeyShareEntry> {
        self.extensions.iter().find_map(|e| match e {
            ServerHelloExtension::KeyShare(k) => Some(k),
            _ => None,
        })
    }

    /// The supported_versions selection (TLS 1.3 only).
    pub fn supported_version(&self) -> Option<ProtocolVersion> {
        self.extensions.iter().find_map(|e| match e {
            ServerHelloExtension::SupportedVersions(v) => Some(*v),
            _ => None,
        })
    }

    /// The selected PSK identity index.
    pub fn psk_index(&self) -> Option<u16> {
        self.extensions.iter().find_map(|e| match e {
            ServerHelloExtension::PreSharedKey(i) => Some(*i),
            _ => None,
        })
    }

    /// The selected ALPN protocol (TLS 1.2).
    pub fn alpn(&self) -> Option<&[u8]> {
        self.extensions.iter().find_map(|e| match e {
            ServerHelloExtension::Alpn(p) => Some(p.as_slice()),
            _ => None,
        })
    }

    /// True if the server agreed to the extended master secret (TLS 1.2, RFC 7627).
    pub fn extended_master_secret(&self) -> bool {
        self.extensions
            .iter()
            .any(|e| matches!(e, ServerHelloExtension::ExtendedMasterSecret))
    }

    /// The renegotiation_info data (TLS 1.2, RFC 5746 3.2).
    pub fn renegotiation_info(&self) -> Option<&[u8]> {
        self.extensions.iter().find_map(|e| match e {
            ServerHelloExtension::RenegotiationInfo(v) => Some(v.as_slice()),
            _ => None,
        })
    }

    /// The server's ec_point_formats list (TLS 1.2, RFC 8422 5.2).
    pub fn ec_point_formats(&self) -> Option<&[crate::codec::EcPointFormat]> {
        self.extensions.iter().find_map(|e| match e {
            ServerHelloExtension::EcPointFormats(v) => Some(v.as_slice()),
            _ => None,
        })
    }

    /// True if an extension of type `typ` is present.
    pub fn has(&self, typ: ExtensionType) -> bool {
        self.find(typ).is_some()
    }
}

// ---------------------------------------------------------------------------------------------
// HelloRetryRequest.

impl HelloRetryRequest {
    /// Writes the body as a ServerHello with [`HRR_RANDOM`] (RFC 8446 4.1.3).
    pub fn encode(&self, out: &mut Vec<u8>) {
        self.legacy_version.encode(out);
        out.extend_from_slice(&HRR_RANDOM);
        put_vec_bytes(out, LenPrefix::U8, &self.session_id);
        self.cipher_suite.encode(out);
        put_u8(out, 0);
        put_extensions(out, &self.extensions, HelloRetryExtension::encode);
    }

    /// Decodes a ServerHello body whose random is [`HRR_RANDOM`].
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, Error> {
        let legacy_version = ProtocolVersion::decode(r)?;
        if read_random(r)? != HRR_RANDOM {
            return Err(illegal("HelloRetryRequest random"));
        }
        let session_id = read_session_id(r)?;
        let cipher_suite = CipherSuite::decode(r)?;
        let compression_method = r.u8("compression_method")?;
        let raw = read_extensions(r)?;
        let mut extensions = Vec::with_capacity(raw.len());
        for e in &raw {
            check_allowed(e.typ, HRR_ALLOWED)?;
            extensions.push(HelloRetryExtension::decode(e.typ, e.data)?);
        }
        // RFC 8446 4.1.3: legacy_compression_method "MUST have the value 0". No alert is
        // named; a HelloRetryRequest is only ever TLS 1.3, so another value is a field out of
        // its range, decode_error (6.2), as BoringSSL says.
        if compression_method != 0 {
            return Err(illegal("HelloRetryRequest legacy_compression_method"));
        }
        Ok(HelloRetryRequest {
            legacy_version,
            session_id,
            cipher_suite,
            extensions,
        })
    }

    /// The first extension of the given type.
    pub fn find(&self, typ: ExtensionType) -> Option<&HelloRetryExtension> {
        self.extensions.iter().find(|e| e.typ() == typ)
    }

    /// The group the server wants a key share for (RFC 8446 4.2.8).
    pub fn selected_group(&self) -> Option<NamedGroup> {
        self.extensions.iter().find_map(|e| match e {
            HelloRetryExtension::KeyShare(g) => Some(*g),
            _ => None,
        })
    }

    /// The cookie the client must echo (RFC 8446 4.2.2).
    pub fn cookie(&self) -> Option<&[u8]> {
        self.extensions.iter().find_map(|e| match e {
            HelloRetryExtension::Cookie(c) => Some(c.as_slice()),
            _ => None,
        })
    }

    /// The version the server selected (RFC 8446 4.2.1).
    pub fn supported_version(&self) -> Option<ProtocolVersion> {
        self.extensions.iter().find_map(|e| match e {
            HelloRetryExtension::SupportedVersions(v) => Some(*v),
            _ => None,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// EncryptedExtensions.

/// Writes an EncryptedExtensions body (RFC 8446 4.3.1).
pub fn encode_encrypted_extensions(exts: &[EncryptedExtension], out: &mut Vec<u8>) {
    put_extensions(out, exts, EncryptedExtension::encode);
}

/// Decodes an EncryptedExtensions body (RFC 8446 4.3.1).
pub fn decode_encrypted_extensions(r: &mut Reader<'_>) -> Result<Vec<EncryptedExtension>, Error> {
    let raw = read_negotiation_extensions(r)?;
    let mut out = Vec::with_capacity(raw.len());
    for e in &raw {
        check_allowed(e.typ, EE_ALLOWED)?;
        out.push(EncryptedExtension::decode(e.typ, e.data)?);
    }
    Ok(out)
}

/// The ALPN protocol selected in EncryptedExtensions.
pub fn ee_alpn(exts: &[EncryptedExtension]) -> Option<&[u8]> {
    exts.iter().find_map(|e| match e {
        EncryptedExtension::Alpn(p) => Some(p.as_slice()),
        _ => None,
    })
}

// ---------------------------------------------------------------------------------------------
// Certificate (TLS 1.3).

impl CertificateEntry {
    /// Writes one TLS 1.3 CertificateEntry (RFC 8446 4.4.2).
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_vec_bytes(out, LenPrefix::U24, &self.cert);
        put_vec_bytes(out, LenPrefix::U16, &self.extensions);
    }

    /// Reads one TLS 1.3 CertificateEntry. The extension block is kept raw but checked:
    /// well-formed, no duplicates, only CT-allowed types (RFC 8446 4.2, 4.4.2).
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, Error> {
        // RFC 8446 4.4.2: `opaque cert_data<1..2^24-1>`.
        let cert = nonempty_bytes(r, LenPrefix::U24, "cert_data")?.to_vec();
        let mut probe = r.clone();
        for e in read_extensions(&mut probe)? {
            check_allowed(e.typ, CT_ALLOWED)?;
        }
        let extensions = r
            .vec_bytes(LenPrefix::U16, "certificate entry extensions")?
            .to_vec();
        Ok(CertificateEntry { cert, extensions })
    }
}

impl Certificate13 {
    /// Writes the body (no handshake header).
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_vec_bytes(out, LenPrefix::U8, &self.context);
        put_len_prefixed(out, LenPrefix::U24, |o| {
            for e in &self.entries {
                e.encode(o);
            }
        });
    }

    /// Reads a body (RFC 8446 4.4.2), checking each entry's extensions; the reader is left
    /// after the certificate list.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, Error> {
        let context = r
            .vec_bytes(LenPrefix::U8, "certificate_request_context")?
            .to_vec();
        let mut list = r.sub(LenPrefix::U24, "certificate_list")?;
        let mut entries = Vec::new();
        while !list.is_empty() {
            entries.push(CertificateEntry::decode(&mut list)?);
        }
        Ok(Certificate13 { context, entries })
    }
}

// ---------------------------------------------------------------------------------------------
// CertificateRequest (TLS 1.3).

impl CertificateRequest13 {
    /// Writes the body (no handshake header).
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_vec_bytes(out, LenPrefix::U8, &self.context);
        put_extensions(out, &self.extensions, CertReqExtension::encode);
    }

    /// RFC 8446 4.3.2: signature_algorithms "MUST be specified" (missing_extension).
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, Error> {
        let context = r
            .vec_bytes(LenPrefix::U8, "certificate_request_context")?
            .to_vec();
        let raw = read_extensions(r)?;
        let mut extensions = Vec::with_capacity(raw.len());
        for e in &raw {
            check_allowed(e.typ, CR_ALLOWED)?;
            extensions.push(CertReqExtension::decode(e.typ, e.data)?);
        }
        let cr = CertificateRequest13 { context, extensions };
        if cr.signature_algorithms().is_none() {
            return Err(PeerMisbehaved::MissingExtension("signature_algorithms").into());
        }
        Ok(cr)
    }

    /// The schemes accepted in the client's CertificateVerify (RFC 8446 4.3.2).
    pub fn signature_algorithms(&self) -> Option<&[SignatureScheme]> {
        self.extensions.iter().find_map(|e| match e {
            CertReqExtension::SignatureAlgorithms(v) => Some(v.as_slice()),
            _ => None,
        })
    }

    /// The schemes accepted in the client's certificate signatures (RFC 8446 4.2.3).
    pub fn signature_algorithms_cert(&self) -> Option<&[SignatureScheme]> {
        self.extensions.iter().find_map(|e| match e {
            CertReqExtension::SignatureAlgorithmsCert(v) => Some(v.as_slice()),
            _ => None,
        })
    }

    /// The DER distinguished names of the CAs the server accepts (RFC 8446 4.2.4).
    pub fn certificate_authorities(&self) -> Option<&[Vec<u8>]> {
        self.extensions.iter().find_map(|e| match e {
            CertReqExtension::CertificateAuthorities(v) => Some(v.as_slice()),
            _ => None,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// CertificateVerify, NewSessionTicket, KeyUpdate.

impl CertificateVerify {
    /// Writes the body (no handshake header).
    pub fn encode(&self, out: &mut Vec<u8>) {
        self.scheme.encode(out);
        put_vec_bytes(out, LenPrefix::U16, &self.signature);
    }

    /// RFC 8446 4.4.3 (same layout as a TLS 1.2 `digitally-signed` struct, RFC 5246 4.7).
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, Error> {
        Ok(CertificateVerify {
            scheme: SignatureScheme::decode(r)?,
            signature: r.vec_bytes(LenPrefix::U16, "signature")?.to_vec(),
        })
    }
}

impl NewSessionTicket13 {
    /// Writes the body (no handshake header).
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_u32(out, self.lifetime);
        put_u32(out, self.age_add);
        put_vec_bytes(out, LenPrefix::U8, &self.nonce);
        put_vec_bytes(out, LenPrefix::U16, &self.ticket);
        put_extensions(out, &self.extensions, TicketExtension::encode);
    }

    /// RFC 8446 4.6.1.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, Error> {
        let lifetime = r.u32("ticket_lifetime")?;
        let age_add = r.u32("ticket_age_add")?;
        let nonce = r.vec_bytes(LenPrefix::U8, "ticket_nonce")?.to_vec();
        // `opaque ticket<1..2^16-1>`.
        let ticket = nonempty_bytes(r, LenPrefix::U16, "ticket")?.to_vec();
        let raw = read_extensions(r)?;
        let mut extensions = Vec::with_capacity(raw.len());
        for e in &raw {
            check_allowed(e.typ, NST_ALLOWED)?;
            extensions.push(TicketExtension::decode(e.typ, e.data)?);
        }
        Ok(NewSessionTicket13 {
            lifetime,
            age_add,
            nonce,
            ticket,
            extensions,
        })
    }

    /// The most 0-RTT bytes the server accepts with this ticket; `None` when the ticket
    /// allows no early data (RFC 8446 4.2.10).
    pub fn max_early_data_size(&self) -> Option<u32> {
        self.extensions.iter().find_map(|e| match e {
            TicketExtension::EarlyData(v) => Some(*v),
            _ => None,
        })
    }
}

/// RFC 8446 4.6.3: a request_update other than 0 or 1 is illegal_parameter.
fn decode_key_update(r: &mut Reader<'_>) -> Result<KeyUpdateRequest, Error> {
    match KeyUpdateRequest::decode(r)? {
        KeyUpdateRequest::Unknown(_) => Err(illegal_param(Parameter::KeyUpdateRequest)),
        v => Ok(v),
    }
}

// ---------------------------------------------------------------------------------------------
// HandshakePayload.

impl HandshakePayload {
    /// Body only (no 4-byte header).
    pub fn encode_body(&self, out: &mut Vec<u8>) {
        match self {
            HandshakePayload::ClientHello(m) => m.encode(out),
            HandshakePayload::ServerHello(m) => m.encode(out),
            HandshakePayload::HelloRetryRequest(m) => m.encode(out),
            HandshakePayload::EncryptedExtensions(e) => encode_encrypted_extensions(e, out),
            HandshakePayload::Certificate13(m) => m.encode(out),
            HandshakePayload::CertificateRequest13(m) => m.encode(out),
            HandshakePayload::CertificateVerify(m) => m.encode(out),
            HandshakePayload::Finished(v) => out.extend_from_slice(v),
            HandshakePayload::NewSessionTicket13(m) => m.encode(out),
            HandshakePayload::KeyUpdate(k) => k.encode(out),
            HandshakePayload::EndOfEarlyData => {}
            HandshakePayload::Unknown { body, .. } => out.extend_from_slice(body),
        }
    }

    /// Room to reserve for the body before encoding it, so that the buffer is not grown in
    /// small steps: the size of the bulky parts (certificates, signatures, key shares) plus
    /// a bound on the rest of a typical message. Only a hint: the buffer still grows if needed.
    fn body_capacity(&self) -> usize {
        const REST: usize = 256;
        match self {
            // RFC 8446 4.4.2: per entry a u24 length, the certificate, a u16 length and its
            // extensions.
            HandshakePayload::Certificate13(m) => {
                REST + m.context.len()
                    + m.entries
                        .iter()
                        .map(|e| 5 + e.cert.len() + e.extensions.len())
                        .sum::<usize>()
            }
            HandshakePayload::CertificateVerify(m) => 4 + m.signature.len(),
            HandshakePayload::Finished(v) => v.len(),
            HandshakePayload::ClientHello(m) => {
                let shares = m.key_shares().unwrap_or_default();
                2 * REST + shares.iter().map(|k| 4 + k.payload.len()).sum::<usize>()
            }
            HandshakePayload::Unknown { body, .. } => body.len(),
            _ => 2 * REST,
        }
    }

    /// Full message: type(1) || length(u24) || body.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + self.body_capacity());
        self.typ().encode(&mut out);
        put_u24(&mut out, 0);
        self.encode_body(&mut out);
        let len = (out.len() - 4) as u32;
        // A body over 2^24-1 bytes is our own bug (MAX_HANDSHAKE_MESSAGE is far below).
        assert!(len <= 0xff_ffff, "handshake body exceeds u24");
        out[1..4].copy_from_slice(&len.to_be_bytes()[1..]);
        out
    }

    /// Decode a body of the given type received over TLS or QUIC. Dialect picks TLS 1.3 vs
    /// 1.2 bodies for Certificate / CertificateRequest / NewSessionTicket (TLS 1.2 ones stay
    /// `Unknown`; see `msgs::tls12`); ServerHello with [`HRR_RANDOM`] decodes as
    /// HelloRetryRequest. Trailing bytes are decode_error.
    pub fn decode(typ: HandshakeType, body: &[u8], dialect: Dialect) -> Result<Self, Error> {
        Self::decode_for(typ, body, dialect, false)
    }

    /// [`decode`](Self::decode) for a message received over DTLS: a ClientHello has the
    /// cookie field (RFC 6347 4.2.1, RFC 9147 5.3), whatever its legacy_version says (a
    /// future DTLS version's hello must still parse, RFC 6347 4.1).
    pub fn decode_dtls(typ: HandshakeType, body: &[u8], dialect: Dialect) -> Result<Self, Error> {
        Self::decode_for(typ, body, dialect, true)
    }

    fn decode_for(typ: HandshakeType, body: &[u8], dialect: Dialect, dtls: bool) -> Result<Self, Error> {
        let mut r = Reader::new(body);
        let r = &mut r;
        let tls13 = dialect == Dialect::Tls13;
        let payload = match typ {
            HandshakeType::ClientHello => HandshakePayload::ClientHello(ClientHello::decode(r, dtls)?),
            HandshakeType::ServerHello if body.get(2..34) == Some(&HRR_RANDOM[..]) => {
                HandshakePayload::HelloRetryRequest(HelloRetryRequest::decode(r)?)
            }
            HandshakeType::ServerHello => HandshakePayload::ServerHello(ServerHello::decode(r)?),
            HandshakeType::EncryptedExtensions => {
                HandshakePayload::EncryptedExtensions(decode_encrypted_extensions(r)?)
            }
            HandshakeType::Certificate if tls13 => HandshakePayload::Certificate13(Certificate13::decode(r)?),
            HandshakeType::CertificateRequest if tls13 => {
                HandshakePayload::CertificateRequest13(CertificateRequest13::decode(r)?)
            }
            HandshakeType::CertificateVerify => {
                HandshakePayload::CertificateVerify(CertificateVerify::decode(r)?)
            }
            HandshakeType::Finished => HandshakePayload::Finished(r.take_rest().to_vec()),
            HandshakeType::NewSessionTicket if tls13 => {
                HandshakePayload::NewSessionTicket13(NewSessionTicket13::decode(r)?)
            }
            HandshakeType::KeyUpdate => HandshakePayload::KeyUpdate(decode_key_update(r)?),
            HandshakeType::EndOfEarlyData => HandshakePayload::EndOfEarlyData,
            _ => HandshakePayload::Unknown {
                typ,
                body: r.take_rest().to_vec(),
            },
        };
        r.expect_empty("handshake message")?;
        Ok(payload)
    }
}
