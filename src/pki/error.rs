use core::fmt;

use crate::codec::AlertDescription;

/// Why a certificate or chain was refused. Each maps to one TLS alert.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CertError {
    /// The DER did not parse, or a field is malformed.
    BadEncoding,
    Expired,
    NotYetValid,
    UnknownIssuer,
    BadSignature,
    /// The end-entity certificate does not match the expected name.
    NameMismatch,
    /// A basicConstraints, keyUsage, EKU, path length or name constraint was violated.
    ConstraintViolated(&'static str),
    Revoked,
    UnsupportedAlgorithm,
    UnknownCriticalExtension,
    /// The presented certificate is not the pinned one.
    NotPinned,
    /// Path building exceeded its work budget.
    PathBuildingBudgetExceeded,
}

impl CertError {
    pub fn alert(&self) -> AlertDescription {
        match self {
            CertError::Expired | CertError::NotYetValid => AlertDescription::CertificateExpired,
            CertError::UnknownIssuer | CertError::PathBuildingBudgetExceeded => AlertDescription::UnknownCa,
            CertError::Revoked => AlertDescription::CertificateRevoked,
            CertError::UnsupportedAlgorithm | CertError::UnknownCriticalExtension => {
                AlertDescription::UnsupportedCertificate
            }
            CertError::BadEncoding
            | CertError::BadSignature
            | CertError::NameMismatch
            | CertError::ConstraintViolated(_)
            | CertError::NotPinned => AlertDescription::BadCertificate,
        }
    }
}

impl fmt::Display for CertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}")
    }
}

impl std::error::Error for CertError {}
