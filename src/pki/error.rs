use core::fmt;

use crate::codec::AlertDescription;

/// Why a certificate or chain was refused. Each maps to one TLS alert.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CertError {
    /// The DER did not parse, or a field is malformed (`decode_error`).
    BadEncoding,
    /// The certificate's notAfter is in the past (`certificate_expired`).
    Expired,
    /// The certificate's notBefore is in the future (`certificate_expired`).
    NotYetValid,
    /// No path to a trust anchor was found.
    UnknownIssuer,
    /// A signature in the chain did not verify.
    BadSignature,
    /// The end-entity certificate does not match the expected name: `expected` is the name
    /// asked for, `presented` the DNS names and addresses of its subjectAltName.
    NameMismatch {
        /// The name the verifier was asked for.
        expected: String,
        /// The certificate's subjectAltName DNS names and addresses.
        presented: Vec<String>,
    },
    /// A basicConstraints, keyUsage, EKU, path length or name constraint was violated.
    ConstraintViolated(&'static str),
    /// The certificate breaks a rule of the RFC 5280 / CA/B Forum profile.
    Profile(&'static str),
    /// A supplied CRL lists the certificate (`certificate_revoked`).
    Revoked,
    /// A supplied CRL that covers this certificate could not be used.
    InvalidCrl(&'static str),
    /// A signature or key algorithm we do not accept (SHA-1, DSA, small curves, ...).
    UnsupportedAlgorithm,
    /// An RSA key outside 2048..=8192 bits or not a multiple of 8, or a malformed key.
    WeakOrInvalidKey,
    /// A critical extension we do not process (RFC 5280 4.2).
    UnknownCriticalExtension,
    /// A name constraint of a type we cannot evaluate met a name of that type.
    UnsupportedNameConstraint,
    /// The presented certificate is not the pinned one.
    NotPinned,
    /// Path building exceeded its work budget.
    PathBuildingBudgetExceeded,
    /// The reference name given to the verifier is not a DNS name or IP address (local).
    InvalidServerName,
    /// An application's own verifier refused the certificate for a reason of its own (a
    /// policy, a lookup that said no): `certificate_unknown`, RFC 8446 6.2's alert for "some
    /// other issue" that makes a certificate unacceptable.
    Rejected(&'static str),
    /// The end-entity certificate matches none of the fingerprints given (RFC 8122 5).
    FingerprintMismatch,
}

impl CertError {
    /// The alert this refusal sends the peer.
    pub fn alert(&self) -> AlertDescription {
        match self {
            CertError::Expired | CertError::NotYetValid => AlertDescription::CertificateExpired,
            CertError::UnknownIssuer | CertError::PathBuildingBudgetExceeded => AlertDescription::UnknownCa,
            CertError::Revoked => AlertDescription::CertificateRevoked,
            CertError::UnsupportedAlgorithm
            | CertError::UnknownCriticalExtension
            | CertError::WeakOrInvalidKey
            | CertError::UnsupportedNameConstraint => AlertDescription::UnsupportedCertificate,
            CertError::InvalidCrl(_) | CertError::Rejected(_) => AlertDescription::CertificateUnknown,
            CertError::InvalidServerName => AlertDescription::InternalError,
            // RFC 8446 6.2: decode_error is for "a message [that] could not be decoded"; a
            // certificate whose DER does not parse is such a field, as BoringSSL answers it
            // (OpenSSL says bad_certificate, "corrupt", which 6.2 allows too).
            // bad_certificate stays for certificates that parse.
            CertError::BadEncoding => AlertDescription::DecodeError,
            CertError::BadSignature
            | CertError::NameMismatch { .. }
            | CertError::ConstraintViolated(_)
            | CertError::Profile(_)
            | CertError::NotPinned
            | CertError::FingerprintMismatch => AlertDescription::BadCertificate,
        }
    }
}

impl fmt::Display for CertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CertError::ConstraintViolated(why) => write!(f, "constraint violated: {why}"),
            CertError::Profile(why) => write!(f, "certificate profile violated: {why}"),
            CertError::InvalidCrl(why) => write!(f, "unusable CRL: {why}"),
            CertError::Rejected(why) => write!(f, "certificate rejected: {why}"),
            CertError::NameMismatch { expected, presented } if presented.is_empty() => {
                write!(
                    f,
                    "certificate is not valid for {expected}: it names no host or address"
                )
            }
            CertError::NameMismatch { expected, presented } => write!(
                f,
                "certificate is not valid for {expected}: it names {}",
                presented.join(", ")
            ),
            other => write!(f, "{other:?}"),
        }
    }
}

impl std::error::Error for CertError {}
