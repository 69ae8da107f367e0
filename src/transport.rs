//! The transports a handshake runs over and what each changes: version numbers, the TLS 1.3
//! label prefix, the compatibility ChangeCipherSpec, and which sessions resume on it.

use crate::codec::ProtocolVersion;
use crate::crypto::hash::HashAlg;
use crate::crypto::secret::Secret;
use crate::crypto::Prk;

/// The transport a connection runs over: what the handshake may ask of it. Sessions (TLS 1.3
/// tickets, TLS 1.2 sessions) are bound to the transport that made them: DTLS 1.3 derives its
/// PSKs under the "dtls13" labels (RFC 9147 5.9), QUIC tickets follow RFC 9001 4.6.1, so one
/// transport's session never resumes a connection of another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Transport {
    Tls,
    Dtls,
    Quic,
}

impl Transport {
    /// The byte a sealed session records.
    pub fn code(self) -> u8 {
        match self {
            Transport::Tls => 0,
            Transport::Dtls => 1,
            Transport::Quic => 2,
        }
    }

    pub fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(Transport::Tls),
            1 => Some(Transport::Dtls),
            2 => Some(Transport::Quic),
            _ => None,
        }
    }

    /// True over datagrams (DTLS 1.2 or 1.3).
    pub fn is_dtls(self) -> bool {
        self == Transport::Dtls
    }

    /// True under QUIC (RFC 9001): no records, no compatibility mode, no EndOfEarlyData, no
    /// KeyUpdate messages.
    pub fn is_quic(self) -> bool {
        self == Transport::Quic
    }

    /// Whether the transport has a ChangeCipherSpec for TLS 1.3's middlebox compatibility
    /// mode: TLS only (RFC 8446 D.4; RFC 9147 5 drops it from DTLS 1.3, RFC 9001 8.4 from QUIC).
    pub fn has_compat_ccs(self) -> bool {
        self == Transport::Tls
    }

    /// TLS 1.3 as this transport spells it (DTLS 1.3 is 0xFEFC, RFC 9147 5.3).
    pub fn v13(self) -> ProtocolVersion {
        match self {
            Transport::Dtls => ProtocolVersion::DTLSv1_3,
            Transport::Tls | Transport::Quic => ProtocolVersion::TLSv1_3,
        }
    }

    /// TLS 1.2 as this transport spells it: also the legacy_version of TLS 1.3 hellos.
    pub fn v12(self) -> ProtocolVersion {
        match self {
            Transport::Dtls => ProtocolVersion::DTLSv1_2,
            Transport::Tls | Transport::Quic => ProtocolVersion::TLSv1_2,
        }
    }

    /// The `HKDF-Expand-Label` prefix of this transport's TLS 1.3 key schedule (RFC 9147 5.9:
    /// `"dtls13"`; every TLS 1.3 secret of a DTLS connection is a DTLS 1.3 one).
    pub fn label_prefix(self) -> &'static [u8] {
        match self {
            Transport::Dtls => crate::crypto::hkdf::DTLS13_LABEL_PREFIX,
            Transport::Tls | Transport::Quic => crate::crypto::hkdf::TLS13_LABEL_PREFIX,
        }
    }

    /// The [`Prk`] of a TLS 1.3 secret with this transport's labels.
    pub fn prk13(self, alg: HashAlg, secret: &Secret) -> Prk {
        Prk::with_prefix(alg, self.label_prefix(), secret.as_bytes())
    }
}
