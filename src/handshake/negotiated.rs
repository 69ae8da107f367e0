//! What a handshake settled on, written once for every transport: the connection types'
//! queries (version, suite, group, ALPN, peer chain, exporters, handshake kind) read it.

use std::sync::Arc;

use rustls_pki_types::CertificateDer;

use crate::codec::{CipherSuite, NamedGroup, ProtocolVersion, SignatureScheme};
use crate::conn::CertifiedKey;
use crate::crypto::hash::HashAlg;
use crate::crypto::key_schedule::{export_keying_material_prefixed, max_export_len};
use crate::crypto::prf::export_keying_material_tls12;
use crate::crypto::secret::Secret;
use crate::error::Error;

/// What the handshake settled on; the connection's queries read from here.
#[derive(Default)]
pub(crate) struct Negotiated {
    pub version: Option<ProtocolVersion>,
    pub suite: Option<CipherSuite>,
    pub group: Option<NamedGroup>,
    pub sig_scheme: Option<SignatureScheme>,
    /// The scheme of the client's CertificateVerify (client authentication).
    pub client_sig_scheme: Option<SignatureScheme>,
    pub alpn: Option<Vec<u8>>,
    pub sni: Option<String>,
    pub peer_chain: Vec<CertificateDer<'static>>,
    pub client_random: [u8; 32],
    pub server_random: [u8; 32],
    pub resumed: bool,
    pub hrr: bool,
    /// RFC 8446 7.5 exporter master secret and its hash.
    pub exporter: Option<(HashAlg, Secret)>,
    /// RFC 8446 7.5 early exporter master secret (when 0-RTT was offered with a PSK).
    pub early_exporter: Option<(HashAlg, Secret)>,
    /// 0-RTT outcome: `None` when not offered, else whether the server accepted it.
    pub early_data: Option<bool>,
    /// TLS 1.2: the RFC 5705 exporter's PRF hash and master secret.
    pub exporter12: Option<(HashAlg, Secret)>,
    /// TLS 1.2: the extended master secret (RFC 7627) is in use.
    pub ems: bool,
    /// RFC 8449: the record_size_limit we advertised and the peer acknowledged; received
    /// protected records larger than it are record_overflow.
    pub own_record_limit: Option<u16>,
    /// The certificate we sent (server: ours; client: for client authentication), if any.
    pub own_cert: Option<Arc<CertifiedKey>>,
}

impl Negotiated {
    /// How a completed handshake went (the caller checks it completed): the first that
    /// applies of 0-RTT accepted, 0-RTT rejected, HelloRetryRequest, resumed, full.
    pub fn handshake_kind(&self) -> HandshakeKind {
        match self.early_data {
            Some(true) => HandshakeKind::EarlyDataAccepted,
            Some(false) => HandshakeKind::EarlyDataRejected,
            None if self.hrr => HandshakeKind::HelloRetry,
            None if self.resumed => HandshakeKind::Resumed,
            None => HandshakeKind::Full,
        }
    }

    /// The certificate chain we sent; empty if none (a resumed handshake sends none).
    pub fn sent_certificates(&self) -> &[CertificateDer<'static>] {
        self.own_cert.as_ref().map_or(&[], |c| c.chain.as_slice())
    }

    /// The RFC 5705 / RFC 8446 7.5 exporter of every connection kind: TLS 1.2's PRF over
    /// the randoms, or TLS 1.3's under `prefix` (`"dtls13"` on DTLS 1.3, RFC 9147 5.9).
    pub fn export_keying_material(
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
                return Err(Error::InvalidState(
                    "no exporter without the extended master secret",
                ));
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
            return Err(Error::InvalidState("exporter before the handshake completed"));
        };
        // HKDF-Expand-Label limits: output at most 255 hash lengths, label at most 249 bytes.
        if out.len() > max_export_len(*hash) || label.len() > 249 {
            return Err(Error::Config("exporter output or label too long".into()));
        }
        export_keying_material_prefixed(*hash, prefix, secret.as_bytes(), label, context, out);
        Ok(())
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

/// How the handshake went (see [`Connection::handshake_kind`](crate::Connection::handshake_kind)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandshakeKind {
    /// A full handshake: certificate, fresh key exchange, no HelloRetryRequest.
    Full,
    /// The server asked for another key share (RFC 8446 4.1.4), then finished (full or
    /// resumed: see [`Connection::is_resumed`](crate::Connection::is_resumed)).
    HelloRetry,
    /// Resumed from a ticket or session ID, no 0-RTT offered.
    Resumed,
    /// Resumed with 0-RTT data the server accepted (RFC 8446 4.2.10).
    EarlyDataAccepted,
    /// 0-RTT was offered and refused; the handshake went on (full or resumed).
    EarlyDataRejected,
}
