//! TLS 1.2 / DTLS 1.2 handshake bodies that differ from TLS 1.3 (RFC 5246 7.4, RFC 8422 5,
//! RFC 5077 3.3, RFC 6347 4.2.1). Only ECDHE key exchange is modelled.
//!
//! [`HandshakePayload::decode`](super::HandshakePayload::decode) leaves these types as
//! `Unknown`; the TLS 1.2 state machines decode them with [`Tls12Payload::decode`].

use crate::codec::{
    put_len_prefixed, put_u24, put_u32, put_u8, put_vec_bytes, put_vec_of, Codec, HandshakeType, LenPrefix,
    NamedGroup, ProtocolVersion, Reader, SignatureScheme,
};
use crate::error::Parameter;
use crate::Error;

use super::extensions::{put_distinguished_names, read_distinguished_names};
use super::wire::{illegal_param, nonempty_bytes, nonempty_list};

/// RFC 8422 5.4: `ECCurveType` value for a named curve (the only one allowed).
pub const NAMED_CURVE: u8 = 3;

/// ECDHE ServerKeyExchange (RFC 8422 5.4): `ServerECDHParams` plus a `digitally-signed` struct.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerKeyExchange {
    /// The curve of the server's ephemeral key (`named_curve`).
    pub group: NamedGroup,
    /// `ECPoint public<1..2^8-1>`.
    pub public: Vec<u8>,
    /// The scheme of the signature (RFC 5246 4.7, 7.4.1.4.1).
    pub scheme: SignatureScheme,
    /// The server's signature over client_random, server_random and the params.
    pub signature: Vec<u8>,
}

/// ECDHE ClientKeyExchange (RFC 8422 5.7): `ECPoint ecdh_Yc<1..2^8-1>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientKeyExchange {
    /// The client's ephemeral public key on the server's curve, never empty.
    pub public: Vec<u8>,
}

/// TLS 1.2 Certificate (RFC 5246 7.4.2): DER certificates, leaf first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Certificate12 {
    /// The chain, each certificate non-empty; an empty list from a client without one.
    pub certs: Vec<Vec<u8>>,
}

/// TLS 1.2 CertificateRequest (RFC 5246 7.4.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateRequest12 {
    /// `ClientCertificateType certificate_types<1..2^8-1>`.
    pub cert_types: Vec<u8>,
    /// `supported_signature_algorithms<2..2^16-2>`.
    pub schemes: Vec<SignatureScheme>,
    /// DER-encoded distinguished names.
    pub authorities: Vec<Vec<u8>>,
}

/// TLS 1.2 NewSessionTicket (RFC 5077 3.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewSessionTicket12 {
    /// Seconds the client may keep the ticket; 0 leaves it unspecified.
    pub lifetime_hint: u32,
    /// `opaque ticket<0..2^16-1>`; empty means "no ticket after all".
    pub ticket: Vec<u8>,
}

/// DTLS HelloVerifyRequest (RFC 6347 4.2.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HelloVerifyRequest {
    /// Not the negotiated version: RFC 6347 4.2.1 says to send `DTLSv1_0` whatever is
    /// negotiated later.
    pub server_version: ProtocolVersion,
    /// `opaque cookie<0..2^8-1>`.
    pub cookie: Vec<u8>,
}

/// The TLS 1.2-only handshake bodies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tls12Payload {
    /// HelloRequest (RFC 5246 7.4.1.1): the server asks for renegotiation; empty.
    HelloRequest,
    /// DTLS HelloVerifyRequest (RFC 6347 4.2.1).
    HelloVerifyRequest(HelloVerifyRequest),
    /// TLS 1.2 Certificate (RFC 5246 7.4.2).
    Certificate(Certificate12),
    /// ECDHE ServerKeyExchange (RFC 8422 5.4).
    ServerKeyExchange(ServerKeyExchange),
    /// TLS 1.2 CertificateRequest (RFC 5246 7.4.4).
    CertificateRequest(CertificateRequest12),
    /// ServerHelloDone (RFC 5246 7.4.5); empty.
    ServerHelloDone,
    /// ECDHE ClientKeyExchange (RFC 8422 5.7).
    ClientKeyExchange(ClientKeyExchange),
    /// TLS 1.2 NewSessionTicket (RFC 5077 3.3).
    NewSessionTicket(NewSessionTicket12),
}

impl ServerKeyExchange {
    /// The encoded `ServerECDHParams`, which the signature covers together with both randoms
    /// (RFC 8422 5.4).
    pub fn params(&self) -> Vec<u8> {
        let mut out = Vec::new();
        put_u8(&mut out, NAMED_CURVE);
        self.group.encode(&mut out);
        put_vec_bytes(&mut out, LenPrefix::U8, &self.public);
        out
    }

    /// Writes the body (no handshake header).
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.params());
        self.scheme.encode(out);
        put_vec_bytes(out, LenPrefix::U16, &self.signature);
    }

    /// Reads a body, leaving the reader after it (trailing bytes are the caller's to
    /// refuse, as [`Tls12Payload::decode`] does).
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, Error> {
        // RFC 8422 5.4: explicit curves are deprecated; only named_curve is accepted.
        if r.u8("ECCurveType")? != NAMED_CURVE {
            return Err(illegal_param(Parameter::CurveType));
        }
        let group = NamedGroup::decode(r)?;
        let public = nonempty_bytes(r, LenPrefix::U8, "ECPoint")?.to_vec();
        let scheme = SignatureScheme::decode(r)?;
        let signature = r.vec_bytes(LenPrefix::U16, "signature")?.to_vec();
        Ok(ServerKeyExchange {
            group,
            public,
            scheme,
            signature,
        })
    }
}

impl ClientKeyExchange {
    /// Writes the body (no handshake header).
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_vec_bytes(out, LenPrefix::U8, &self.public);
    }

    /// Reads a body, leaving the reader after it (trailing bytes are the caller's to
    /// refuse, as [`Tls12Payload::decode`] does).
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, Error> {
        Ok(ClientKeyExchange {
            public: nonempty_bytes(r, LenPrefix::U8, "ecdh_Yc")?.to_vec(),
        })
    }
}

impl Certificate12 {
    /// Writes the body (no handshake header).
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_len_prefixed(out, LenPrefix::U24, |o| {
            for c in &self.certs {
                put_vec_bytes(o, LenPrefix::U24, c);
            }
        });
    }

    /// Reads a body, leaving the reader after it (trailing bytes are the caller's to
    /// refuse, as [`Tls12Payload::decode`] does).
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, Error> {
        let mut list = r.sub(LenPrefix::U24, "certificate_list")?;
        let mut certs = Vec::new();
        while !list.is_empty() {
            // `opaque ASN.1Cert<1..2^24-1>`.
            certs.push(nonempty_bytes(&mut list, LenPrefix::U24, "ASN.1Cert")?.to_vec());
        }
        Ok(Certificate12 { certs })
    }
}

impl CertificateRequest12 {
    /// Writes the body (no handshake header).
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_vec_bytes(out, LenPrefix::U8, &self.cert_types);
        put_vec_of(out, LenPrefix::U16, &self.schemes);
        put_distinguished_names(out, &self.authorities);
    }

    /// Reads a body, leaving the reader after it (trailing bytes are the caller's to
    /// refuse, as [`Tls12Payload::decode`] does).
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, Error> {
        let cert_types = nonempty_bytes(r, LenPrefix::U8, "certificate_types")?.to_vec();
        let schemes = nonempty_list(r, LenPrefix::U16, "supported_signature_algorithms")?;
        let authorities = read_distinguished_names(r)?;
        Ok(CertificateRequest12 {
            cert_types,
            schemes,
            authorities,
        })
    }
}

impl NewSessionTicket12 {
    /// Writes the body (no handshake header).
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_u32(out, self.lifetime_hint);
        put_vec_bytes(out, LenPrefix::U16, &self.ticket);
    }

    /// Reads a body, leaving the reader after it (trailing bytes are the caller's to
    /// refuse, as [`Tls12Payload::decode`] does).
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, Error> {
        Ok(NewSessionTicket12 {
            lifetime_hint: r.u32("ticket_lifetime_hint")?,
            ticket: r.vec_bytes(LenPrefix::U16, "ticket")?.to_vec(),
        })
    }
}

impl HelloVerifyRequest {
    /// Writes the body (no handshake header).
    pub fn encode(&self, out: &mut Vec<u8>) {
        self.server_version.encode(out);
        put_vec_bytes(out, LenPrefix::U8, &self.cookie);
    }

    /// Reads a body, leaving the reader after it (trailing bytes are the caller's to
    /// refuse, as [`Tls12Payload::decode`] does).
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, Error> {
        Ok(HelloVerifyRequest {
            server_version: ProtocolVersion::decode(r)?,
            cookie: r.vec_bytes(LenPrefix::U8, "cookie")?.to_vec(),
        })
    }
}

impl Tls12Payload {
    /// The handshake type on the wire.
    pub fn typ(&self) -> HandshakeType {
        match self {
            Tls12Payload::HelloRequest => HandshakeType::HelloRequest,
            Tls12Payload::HelloVerifyRequest(_) => HandshakeType::HelloVerifyRequest,
            Tls12Payload::Certificate(_) => HandshakeType::Certificate,
            Tls12Payload::ServerKeyExchange(_) => HandshakeType::ServerKeyExchange,
            Tls12Payload::CertificateRequest(_) => HandshakeType::CertificateRequest,
            Tls12Payload::ServerHelloDone => HandshakeType::ServerHelloDone,
            Tls12Payload::ClientKeyExchange(_) => HandshakeType::ClientKeyExchange,
            Tls12Payload::NewSessionTicket(_) => HandshakeType::NewSessionTicket,
        }
    }

    /// Body only (no 4-byte header).
    pub fn encode_body(&self, out: &mut Vec<u8>) {
        match self {
            Tls12Payload::HelloRequest | Tls12Payload::ServerHelloDone => {}
            Tls12Payload::HelloVerifyRequest(m) => m.encode(out),
            Tls12Payload::Certificate(m) => m.encode(out),
            Tls12Payload::ServerKeyExchange(m) => m.encode(out),
            Tls12Payload::CertificateRequest(m) => m.encode(out),
            Tls12Payload::ClientKeyExchange(m) => m.encode(out),
            Tls12Payload::NewSessionTicket(m) => m.encode(out),
        }
    }

    /// Full message: type(1) || length(u24) || body.
    pub fn encode(&self) -> Vec<u8> {
        let mut body = Vec::new();
        self.encode_body(&mut body);
        let mut out = Vec::with_capacity(4 + body.len());
        self.typ().encode(&mut out);
        // Our own bodies stay far below 2^24 (bounded certificate chains).
        assert!(body.len() <= 0xff_ffff, "handshake body exceeds u24");
        put_u24(&mut out, body.len() as u32);
        out.extend_from_slice(&body);
        out
    }

    /// Decodes a TLS 1.2-only body; `Ok(None)` for types that [`super::HandshakePayload`]
    /// covers (ClientHello, ServerHello, Finished, ...). Trailing bytes are decode_error.
    pub fn decode(typ: HandshakeType, body: &[u8]) -> Result<Option<Self>, Error> {
        let mut r = Reader::new(body);
        let r = &mut r;
        let p = match typ {
            HandshakeType::HelloRequest => Tls12Payload::HelloRequest,
            HandshakeType::HelloVerifyRequest => {
                Tls12Payload::HelloVerifyRequest(HelloVerifyRequest::decode(r)?)
            }
            HandshakeType::Certificate => Tls12Payload::Certificate(Certificate12::decode(r)?),
            HandshakeType::ServerKeyExchange => {
                Tls12Payload::ServerKeyExchange(ServerKeyExchange::decode(r)?)
            }
            HandshakeType::CertificateRequest => {
                Tls12Payload::CertificateRequest(CertificateRequest12::decode(r)?)
            }
            HandshakeType::ServerHelloDone => Tls12Payload::ServerHelloDone,
            HandshakeType::ClientKeyExchange => {
                Tls12Payload::ClientKeyExchange(ClientKeyExchange::decode(r)?)
            }
            HandshakeType::NewSessionTicket => Tls12Payload::NewSessionTicket(NewSessionTicket12::decode(r)?),
            _ => return Ok(None),
        };
        r.expect_empty("handshake message")?;
        Ok(Some(p))
    }
}

/// PSK and ECDHE_PSK ServerKeyExchange (RFC 4279 2, RFC 5489 2): the identity hint, then for
/// ECDHE_PSK the unsigned `ServerECDHParams`. Its form depends on the suite, so the PSK
/// states decode it from the raw body rather than through [`Tls12Payload::decode`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PskServerKeyExchange {
    /// `opaque psk_identity_hint<0..2^16-1>`.
    pub hint: Vec<u8>,
    /// ECDHE_PSK: the server's curve and ephemeral public key.
    pub ecdh: Option<(NamedGroup, Vec<u8>)>,
}

impl PskServerKeyExchange {
    /// Full message: type(1) || length(u24) || body.
    pub fn encode(&self) -> Vec<u8> {
        let mut body = Vec::new();
        put_vec_bytes(&mut body, LenPrefix::U16, &self.hint);
        if let Some((group, public)) = &self.ecdh {
            put_u8(&mut body, NAMED_CURVE);
            group.encode(&mut body);
            put_vec_bytes(&mut body, LenPrefix::U8, public);
        }
        with_header(HandshakeType::ServerKeyExchange, &body)
    }

    /// Reads a body; `ecdhe` for the ECDHE_PSK form. Trailing bytes are decode_error.
    pub fn decode(body: &[u8], ecdhe: bool) -> Result<Self, Error> {
        let mut r = Reader::new(body);
        let hint = r.vec_bytes(LenPrefix::U16, "psk_identity_hint")?.to_vec();
        let ecdh = if ecdhe {
            if r.u8("ECCurveType")? != NAMED_CURVE {
                return Err(illegal_param(Parameter::CurveType));
            }
            let group = NamedGroup::decode(&mut r)?;
            Some((group, nonempty_bytes(&mut r, LenPrefix::U8, "ECPoint")?.to_vec()))
        } else {
            None
        };
        r.expect_empty("ServerKeyExchange")?;
        Ok(PskServerKeyExchange { hint, ecdh })
    }
}

/// PSK and ECDHE_PSK ClientKeyExchange (RFC 4279 2, RFC 5489 2): the identity, then for
/// ECDHE_PSK the client's ephemeral public key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PskClientKeyExchange {
    /// `opaque psk_identity<0..2^16-1>`.
    pub identity: Vec<u8>,
    /// ECDHE_PSK: `ECPoint ecdh_Yc<1..2^8-1>`.
    pub public: Option<Vec<u8>>,
}

impl PskClientKeyExchange {
    /// Full message: type(1) || length(u24) || body.
    pub fn encode(&self) -> Vec<u8> {
        let mut body = Vec::new();
        put_vec_bytes(&mut body, LenPrefix::U16, &self.identity);
        if let Some(public) = &self.public {
            put_vec_bytes(&mut body, LenPrefix::U8, public);
        }
        with_header(HandshakeType::ClientKeyExchange, &body)
    }

    /// Reads a body; `ecdhe` for the ECDHE_PSK form. Trailing bytes are decode_error.
    pub fn decode(body: &[u8], ecdhe: bool) -> Result<Self, Error> {
        let mut r = Reader::new(body);
        let identity = r.vec_bytes(LenPrefix::U16, "psk_identity")?.to_vec();
        let public = match ecdhe {
            true => Some(nonempty_bytes(&mut r, LenPrefix::U8, "ecdh_Yc")?.to_vec()),
            false => None,
        };
        r.expect_empty("ClientKeyExchange")?;
        Ok(PskClientKeyExchange { identity, public })
    }
}

/// type(1) || length(u24) || body, for our own (bounded) bodies.
fn with_header(typ: HandshakeType, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + body.len());
    typ.encode(&mut out);
    put_u24(&mut out, body.len() as u32);
    out.extend_from_slice(body);
    out
}

#[cfg(test)]
mod psk_tests {
    use super::*;

    #[test]
    fn psk_key_exchange_bodies_round_trip() {
        let ske = PskServerKeyExchange {
            hint: b"hint".to_vec(),
            ecdh: Some((NamedGroup::x25519, vec![9; 32])),
        };
        let enc = ske.encode();
        assert_eq!(&enc[4..10], &[0, 4, b'h', b'i', b'n', b't']);
        assert_eq!(PskServerKeyExchange::decode(&enc[4..], true).unwrap(), ske);
        assert!(
            PskServerKeyExchange::decode(&enc[4..], false).is_err(),
            "trailing bytes"
        );
        let cke = PskClientKeyExchange {
            identity: b"client1".to_vec(),
            public: None,
        };
        let enc = cke.encode();
        assert_eq!(enc, [&[16, 0, 0, 9, 0, 7][..], b"client1"].concat());
        assert_eq!(PskClientKeyExchange::decode(&enc[4..], false).unwrap(), cke);
        // A length running past the body is decode_error, whatever it claims.
        assert!(PskClientKeyExchange::decode(&[0xff, 0xff, 1, 2], false).is_err());
    }
}
