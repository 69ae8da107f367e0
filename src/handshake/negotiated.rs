//! What a handshake settled on, written once for every transport. [`Connection`],
//! [`DtlsConnection`] and [`QuicConnection`] dereference to [`Negotiated`], so its queries
//! (version, suite, group, schemes, ALPN, SNI, chains, randoms, resumption, exporters) are
//! the same on all three.
//!
//! [`Connection`]: crate::Connection
//! [`DtlsConnection`]: crate::dtls::DtlsConnection
//! [`QuicConnection`]: crate::quic::QuicConnection

use std::sync::Arc;

use rustls_pki_types::CertificateDer;

use crate::codec::{CipherSuite, NamedGroup, ProtocolVersion, SignatureScheme};
use crate::config::CertifiedKey;
use crate::crypto::hash::HashAlg;
use crate::crypto::hkdf::{DTLS13_LABEL_PREFIX, TLS13_LABEL_PREFIX};
use crate::crypto::key_schedule::{export_keying_material, export_keying_material_prefixed, max_export_len};
use crate::crypto::prf::export_keying_material_tls12;
use crate::crypto::secret::Secret;
use crate::error::{Error, Misuse};
use crate::srtp::{SrtpKeyingMaterial, SrtpProtectionProfile};

/// What the handshake negotiated, as far as it got: every connection type dereferences to
/// it. Values are `None` (or empty) until the handshake settles them.
#[derive(Default)]
pub struct Negotiated {
    pub(crate) version: Option<ProtocolVersion>,
    pub(crate) suite: Option<CipherSuite>,
    pub(crate) group: Option<NamedGroup>,
    pub(crate) sig_scheme: Option<SignatureScheme>,
    /// The scheme of the client's CertificateVerify (client authentication).
    pub(crate) client_sig_scheme: Option<SignatureScheme>,
    pub(crate) alpn: Option<Vec<u8>>,
    pub(crate) sni: Option<String>,
    pub(crate) peer_chain: Vec<CertificateDer<'static>>,
    pub(crate) client_random: [u8; 32],
    pub(crate) server_random: [u8; 32],
    pub(crate) resumed: bool,
    pub(crate) hrr: bool,
    /// RFC 8446 7.5 exporter master secret and its hash.
    pub(crate) exporter: Option<(HashAlg, Secret)>,
    /// RFC 8446 7.5 early exporter master secret (when 0-RTT was offered with a PSK).
    pub(crate) early_exporter: Option<(HashAlg, Secret)>,
    /// 0-RTT outcome: `None` when not offered, else whether the server accepted it.
    pub(crate) early_data: Option<bool>,
    /// Why 0-RTT was or was not used, once the handshake decided (TLS 1.3 and 1.2).
    pub(crate) early_data_reason: Option<EarlyDataReason>,
    /// TLS 1.2: the RFC 5705 exporter's PRF hash and master secret.
    pub(crate) exporter12: Option<(HashAlg, Secret)>,
    /// TLS 1.2: the extended master secret (RFC 7627) is in use.
    pub(crate) ems: bool,
    /// RFC 8449: the record_size_limit we advertised and the peer acknowledged; received
    /// protected records larger than it are record_overflow.
    pub(crate) own_record_limit: Option<u16>,
    /// The certificate we sent (server: ours; client: for client authentication), if any.
    pub(crate) own_cert: Option<Arc<CertifiedKey>>,
    /// Over DTLS the TLS 1.3 exporter takes the "dtls13" label prefix (RFC 9147 5.9).
    pub(crate) dtls: bool,
    /// DTLS: the connection id we want in the records we receive (RFC 9146 3), set by the
    /// transport before the handshake; cleared when the peer does not take part.
    pub(crate) own_cid: Option<Vec<u8>>,
    /// DTLS: the connection id the peer wants in the records we send, from its hello.
    pub(crate) peer_cid: Option<Vec<u8>>,
    /// The external PSK identity the handshake authenticated with, if any.
    pub(crate) psk_identity: Option<Vec<u8>>,
    /// DTLS-SRTP (RFC 5764 4.1.1): the selected protection profile and the MKI in use.
    pub(crate) srtp: Option<(SrtpProtectionProfile, Vec<u8>)>,
}

impl core::fmt::Debug for Negotiated {
    /// The negotiated values; no secret (the exporter secrets are not shown).
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Negotiated")
            .field("version", &self.version)
            .field("suite", &self.suite)
            .field("group", &self.group)
            .field("sig_scheme", &self.sig_scheme)
            .field("client_sig_scheme", &self.client_sig_scheme)
            .field("alpn", &self.alpn)
            .field("sni", &self.sni)
            .field("peer_chain_len", &self.peer_chain.len())
            .field("resumed", &self.resumed)
            .field("hrr", &self.hrr)
            .field("early_data", &self.early_data)
            .field("srtp", &self.srtp.as_ref().map(|(p, _)| p))
            .finish_non_exhaustive()
    }
}

impl Negotiated {
    /// How a completed handshake went (the caller checks it completed): the first that
    /// applies of 0-RTT accepted, 0-RTT rejected, HelloRetryRequest, resumed, full.
    pub(crate) fn kind(&self) -> HandshakeKind {
        match self.early_data {
            Some(true) => HandshakeKind::EarlyDataAccepted,
            Some(false) => HandshakeKind::EarlyDataRejected,
            None if self.hrr => HandshakeKind::HelloRetry,
            None if self.resumed => HandshakeKind::Resumed,
            None => HandshakeKind::Full,
        }
    }

    /// The negotiated version, once the ServerHello settled it.
    pub fn protocol_version(&self) -> Option<ProtocolVersion> {
        self.version
    }

    /// The negotiated cipher suite, once chosen.
    pub fn cipher_suite(&self) -> Option<CipherSuite> {
        self.suite
    }

    /// The key exchange group of the handshake, once chosen (a hybrid one included; none
    /// for a psk_ke resumption or a resumed TLS 1.2 session).
    pub fn key_exchange_group(&self) -> Option<NamedGroup> {
        self.group
    }

    /// The scheme the server signed its CertificateVerify (or TLS 1.2 ServerKeyExchange)
    /// with.
    pub fn signature_scheme(&self) -> Option<SignatureScheme> {
        self.sig_scheme
    }

    /// The scheme the client signed its CertificateVerify with, on either side; `None`
    /// without client authentication (or on a resumed handshake, where nothing is signed).
    pub fn client_signature_scheme(&self) -> Option<SignatureScheme> {
        self.client_sig_scheme
    }

    /// The ALPN protocol both sides agreed on (RFC 7301), if any.
    pub fn alpn_protocol(&self) -> Option<&[u8]> {
        self.alpn.as_deref()
    }

    /// The external PSK identity the handshake used (RFC 4279, RFC 8446 4.2.11): the one
    /// we sent (client) or the one the client named and we knew (server).
    pub fn psk_identity(&self) -> Option<&[u8]> {
        self.psk_identity.as_deref()
    }

    /// SNI: the name the client sent (server side) or that the server acknowledged (client).
    pub fn server_name(&self) -> Option<&str> {
        self.sni.as_deref()
    }

    /// The peer's certificate chain (DER, end-entity first), once received; empty if it
    /// sent none.
    pub fn peer_certificates(&self) -> &[CertificateDer<'static>] {
        &self.peer_chain
    }

    /// The certificate chain we sent (server: the one chosen for this client; client: the
    /// one sent for client authentication). Empty if we sent none (a resumed handshake
    /// sends none).
    pub fn sent_certificates(&self) -> &[CertificateDer<'static>] {
        self.own_cert.as_ref().map_or(&[], |c| c.chain.as_slice())
    }

    /// The ClientHello random (for key logs and channel binding).
    pub fn client_random(&self) -> [u8; 32] {
        self.client_random
    }

    /// The ServerHello random.
    pub fn server_random(&self) -> [u8; 32] {
        self.server_random
    }

    /// Why 0-RTT was used or not, on either side, once the handshake decided it; `None`
    /// before. For operations: a fleet whose 0-RTT rate drops can tell a clock skew from
    /// a ticket that no longer resumes.
    pub fn early_data_reason(&self) -> Option<EarlyDataReason> {
        self.early_data_reason
    }

    /// The first reason the handshake meets is the one kept.
    pub(crate) fn early_data_decided(&mut self, reason: EarlyDataReason) {
        self.early_data_reason.get_or_insert(reason);
    }

    /// Replaces the reason kept when it is `was` (a later finding that explains more).
    pub(crate) fn early_data_redecided(&mut self, was: EarlyDataReason, now: EarlyDataReason) {
        if self.early_data_reason == Some(was) {
            self.early_data_reason = Some(now);
        }
    }

    /// True when the handshake resumed a session (PSK or TLS 1.2 session).
    pub fn is_resumed(&self) -> bool {
        self.resumed
    }

    /// True if the server asked for another key share (HelloRetryRequest). A resumed
    /// handshake that went through one reports both this and [`is_resumed`](Self::is_resumed).
    pub fn had_hello_retry(&self) -> bool {
        self.hrr
    }

    /// 0-RTT outcome: `None` if not offered, `Some(accepted)` once known.
    pub fn early_data_status(&self) -> Option<bool> {
        self.early_data
    }

    /// TLS 1.2 and DTLS 1.2: whether the extended master secret (RFC 7627) is in use; `None`
    /// for other versions (TLS 1.3 always binds its secrets to the transcript).
    pub fn extended_master_secret(&self) -> Option<bool> {
        matches!(
            self.version,
            Some(ProtocolVersion::TLSv1_2 | ProtocolVersion::DTLSv1_2)
        )
        .then_some(self.ems)
    }

    /// DTLS: the connection id the peer puts in the records it sends us, once both sides
    /// agreed to use connection ids (RFC 9146 3, RFC 9147 9); may be empty (we asked for
    /// none). `None` before the ServerHello, or when either side did not take part.
    pub fn own_connection_id(&self) -> Option<&[u8]> {
        self.peer_cid.as_ref().and(self.own_cid.as_deref())
    }

    /// DTLS: the connection id the peer asked for, which our records carry (none in the
    /// records when it is empty); `None` as for [`own_connection_id`](Self::own_connection_id).
    pub fn peer_connection_id(&self) -> Option<&[u8]> {
        self.own_cid.as_ref().and(self.peer_cid.as_deref())
    }

    /// The connection id our protected records carry: the peer's, when negotiated and not
    /// empty (RFC 9146 3: an empty one means the classic record format).
    pub(crate) fn send_cid(&self) -> Option<&[u8]> {
        self.peer_connection_id().filter(|c| !c.is_empty())
    }

    /// The RFC 5705 / RFC 8446 7.5 exporter: fills `out`. TLS 1.2 uses the PRF over the
    /// randoms (only with the extended master secret); TLS 1.3 the exporter master secret,
    /// under the "dtls13" labels on DTLS 1.3 (RFC 9147 5.9).
    pub fn export_keying_material(
        &self,
        out: &mut [u8],
        label: &[u8],
        context: Option<&[u8]>,
    ) -> Result<(), Error> {
        let prefix = if self.dtls {
            DTLS13_LABEL_PREFIX
        } else {
            TLS13_LABEL_PREFIX
        };
        self.export_prefixed(prefix, out, label, context)
    }

    /// RFC 8446 7.5 early exporter, from the early_exporter_master_secret (available once
    /// 0-RTT was offered, client, or accepted, server). Replayable like 0-RTT itself.
    pub fn export_keying_material_early(
        &self,
        out: &mut [u8],
        label: &[u8],
        context: Option<&[u8]>,
    ) -> Result<(), Error> {
        let Some((hash, secret)) = &self.early_exporter else {
            return Err(Error::Misuse(Misuse::NoEarlyExporter));
        };
        if out.len() > max_export_len(*hash) || label.len() > 249 {
            return Err(Error::Config("exporter output or label too long".into()));
        }
        export_keying_material(*hash, secret.as_bytes(), label, context, out);
        Ok(())
    }

    /// The exporter under `prefix`: TLS 1.2's PRF over the randoms, or TLS 1.3's.
    fn export_prefixed(
        &self,
        prefix: &'static [u8],
        out: &mut [u8],
        label: &[u8],
        context: Option<&[u8]>,
    ) -> Result<(), Error> {
        if let Some((hash, master)) = &self.exporter12 {
            // RFC 7627 5.4: without the extended master secret the master secret may be
            // shared with a man in the middle, so nothing is exported from it.
            if !self.ems {
                return Err(Error::Misuse(Misuse::NoExporterWithoutEms));
            }
            // RFC 5705 4: the PRF over the randoms (and the context, if any).
            return export_keying_material_tls12(
                *hash,
                master.as_bytes(),
                label,
                &self.client_random,
                &self.server_random,
                context,
                out,
            )
            .ok_or(Error::Config("exporter context too long".into()));
        }
        let Some((hash, secret)) = &self.exporter else {
            return Err(Error::Misuse(Misuse::HandshakeIncomplete));
        };
        // HKDF-Expand-Label limits: output at most 255 hash lengths, label at most 249 bytes.
        if out.len() > max_export_len(*hash) || label.len() > 249 {
            return Err(Error::Config("exporter output or label too long".into()));
        }
        export_keying_material_prefixed(*hash, prefix, secret.as_bytes(), label, context, out);
        Ok(())
    }
}

impl Negotiated {
    /// DTLS-SRTP: the protection profile the handshake selected (RFC 5764 4.1.1); `None`
    /// when use_srtp was not negotiated (never over TLS or QUIC).
    pub fn srtp_profile(&self) -> Option<SrtpProtectionProfile> {
        self.srtp.as_ref().map(|(p, _)| *p)
    }

    /// DTLS-SRTP keying material (RFC 5764 4.2): the exporter with label
    /// `EXTRACTOR-dtls_srtp`, no context, `2 * (key + salt)` bytes of the selected profile,
    /// split into the client's and the server's master keys and salts. Available once the
    /// handshake completed with use_srtp negotiated.
    pub fn srtp_keying_material(&self) -> Result<SrtpKeyingMaterial, Error> {
        let Some((profile, mki)) = &self.srtp else {
            return Err(Error::Misuse(Misuse::SrtpNotNegotiated));
        };
        let (key, salt) = crate::srtp::key_and_salt_len(*profile)
            .ok_or(Error::Internal("no key sizes for the selected SRTP profile"))?;
        let mut out = zeroize::Zeroizing::new(vec![0u8; 2 * (key + salt)]);
        self.export_keying_material(&mut out, crate::srtp::EXPORTER_LABEL, None)?;
        SrtpKeyingMaterial::from_exported(*profile, mki, &out)
            .ok_or(Error::Internal("SRTP keying material of the wrong length"))
    }
}

/// 0-RTT bookkeeping the connection needs outside the handshake states.
#[derive(Default)]
pub(crate) struct EarlyData {
    /// Client: bytes of early data we may still queue (`Some` while 0-RTT may be written).
    pub send_budget: Option<usize>,
    /// Server: early data bytes still acceptable (RFC 8446 4.2.10 max_early_data_size).
    pub receive_budget: usize,
    /// Server: bytes of 0-RTT records we still skip after rejecting early data (RFC 8446
    /// 4.2.10); cleared by the first record that deprotects.
    pub skip_budget: usize,
}

/// Why 0-RTT was used or not ([`Negotiated::early_data_reason`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EarlyDataReason {
    /// The server accepted the client's 0-RTT data.
    Accepted,
    /// Not enabled on our side (client: `enable_early_data`; server: `max_early_data` 0),
    /// or not over this transport (DTLS).
    Disabled,
    /// Client: no ticket for this server. Server: the client offered no PSK.
    NoSessionOffered,
    /// The ticket does not allow 0-RTT (its max_early_data_size is 0).
    UnsupportedForSession,
    /// Client: the ticket's ALPN protocol is not one we offer (RFC 8446 4.2.10).
    AlpnMismatch,
    /// The peer did not take part: the server declined, or the client did not offer it.
    PeerDeclined,
    /// The ticket did not resume (unknown, expired, bound to another name, suite or ALPN).
    SessionNotResumed,
    /// A HelloRetryRequest rules 0-RTT out (RFC 8446 4.1.4).
    HelloRetryRequest,
    /// TLS 1.2 was negotiated.
    ProtocolVersion,
    /// Server: the client's ticket age is outside the freshness window (RFC 8446 8.3).
    TicketAgeSkew,
    /// Server: the ClientHello was seen before, or the ticket is not the first identity
    /// (RFC 8446 8, 4.2.10).
    Replay,
}

/// How the handshake went (see [`Connection::handshake_kind`](crate::Connection::handshake_kind)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandshakeKind {
    /// A full handshake: certificate, fresh key exchange, no HelloRetryRequest.
    Full,
    /// The server asked for another key share (RFC 8446 4.1.4), then finished (full or
    /// resumed: see [`Negotiated::is_resumed`]).
    HelloRetry,
    /// Resumed from a ticket or session ID, no 0-RTT offered.
    Resumed,
    /// Resumed with 0-RTT data the server accepted (RFC 8446 4.2.10).
    EarlyDataAccepted,
    /// 0-RTT was offered and refused; the handshake went on (full or resumed).
    EarlyDataRejected,
}
