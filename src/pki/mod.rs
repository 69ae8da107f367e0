//! X.509 path building and validation (RFC 5280 as the Web PKI applies it).
//!
//! [`verify_chain`] is the core; [`WebPkiServerVerifier`] and [`WebPkiClientVerifier`]
//! wrap it for the handshake. Time is always an argument: nothing here reads a clock.

mod cert;
mod crl;
pub(crate) mod der;
mod error;
mod fingerprint;
mod names;
mod path;
mod roots;
pub(crate) mod sig;

use core::fmt;
use std::path::Path;

pub use crl::Crl;
pub use error::CertError;
pub use fingerprint::{Fingerprint, FingerprintAlg, FingerprintVerifier};
pub use names::ServerName;
pub use path::{
    verify_chain, KeyPurpose, VerifiedPath, VerifyOptions, MAX_CANDIDATES, MAX_INTERMEDIATES,
    MAX_NAME_CONSTRAINT_CHECKS, MAX_SIGNATURE_CHECKS,
};
pub use sig::{MAX_RSA_BITS, MIN_RSA_BITS};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

/// The certificates a path may end at. Only each anchor's subject is read when it is
/// added; the rest is checked when a path actually reaches it, so an unusable root that no
/// path uses does no harm.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TrustAnchors {
    anchors: Vec<Anchor>,
}

#[derive(Clone, PartialEq, Eq)]
struct Anchor {
    der: Vec<u8>,
    subject: Vec<u8>,
    /// What parsing found, when the anchor parsed and its parsed form can be rebuilt from
    /// offsets (`None`: parsed again per verification).
    index: Option<cert::CertIndex>,
}

impl TrustAnchors {
    /// An empty set of anchors.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a set from DER certificates.
    pub fn from_der<I, C>(certs: I) -> Result<Self, CertError>
    where
        I: IntoIterator<Item = C>,
        C: AsRef<[u8]>,
    {
        let mut out = Self::new();
        for c in certs {
            out.add_der(c.as_ref())?;
        }
        Ok(out)
    }

    /// Builds a set from every CERTIFICATE block of a PEM bundle. A bundle without one is
    /// an error: an empty set would refuse every peer, far from the cause.
    pub fn from_pem(pem: &[u8]) -> Result<Self, crate::Error> {
        Self::from_pem_blocks(CertificateDer::pem_slice_iter(pem), "PEM bundle")
    }

    /// Reads a PEM bundle from a file (configuration time, not in the handshake); errors
    /// name the file.
    pub fn from_pem_file(path: impl AsRef<Path>) -> Result<Self, crate::Error> {
        let path = path.as_ref();
        let iter = CertificateDer::pem_file_iter(path)
            .map_err(|e| crate::Error::Config(format!("{}: {e}", path.display())))?;
        Self::from_pem_blocks(iter, &path.display().to_string())
    }

    fn from_pem_blocks(
        blocks: impl Iterator<Item = Result<CertificateDer<'static>, rustls_pki_types::pem::Error>>,
        source: &str,
    ) -> Result<Self, crate::Error> {
        let mut out = Self::new();
        for c in blocks {
            let c = c.map_err(|e| crate::Error::Config(format!("{source}: {e}")))?;
            out.add_der(c.as_ref())
                .map_err(|e| crate::Error::Config(format!("{source}: certificate {}: {e}", out.len() + 1)))?;
        }
        if out.is_empty() {
            return Err(crate::Error::Config(format!("{source}: no CERTIFICATE block")));
        }
        Ok(out)
    }

    /// Adds one DER certificate as an anchor.
    pub fn add_der(&mut self, der: &[u8]) -> Result<(), CertError> {
        let subject = cert::raw_subject(der)?.to_vec();
        // Parsed once here, not on every handshake (see `parse_for`).
        let index = cert::Cert::parse(der).ok().and_then(|c| c.index());
        self.anchors.push(Anchor {
            der: der.to_vec(),
            subject,
            index,
        });
        Ok(())
    }

    /// How many anchors the set holds.
    pub fn len(&self) -> usize {
        self.anchors.len()
    }

    /// True when the set holds no anchor.
    pub fn is_empty(&self) -> bool {
        self.anchors.is_empty()
    }

    /// The anchors' subjects (DER Names), for CertificateRequest certificate_authorities.
    pub fn subjects(&self) -> Vec<Vec<u8>> {
        self.anchors.iter().map(|a| a.subject.clone()).collect()
    }

    /// Parses the anchors whose subject is one of `names`; unparsable ones are skipped.
    fn parse_for(&self, names: &[&[u8]]) -> Vec<cert::Cert<'_>> {
        self.anchors
            .iter()
            .filter(|a| names.contains(&a.subject.as_slice()))
            .filter_map(|a| match &a.index {
                Some(index) => cert::Cert::from_index(&a.der, index).ok(),
                None => cert::Cert::parse(&a.der).ok(),
            })
            .collect()
    }
}

impl fmt::Debug for TrustAnchors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TrustAnchors({} certificates)", self.anchors.len())
    }
}

/// True when the certificate's subjectAltName carries `name` (how a server picks a
/// certificate by SNI). A certificate that does not parse names nothing.
pub fn cert_names(cert_der: &[u8], name: &ServerName) -> bool {
    cert::Cert::parse(cert_der).is_ok_and(|c| names::san_matches(c.san.as_deref(), name))
}

/// The SubjectPublicKeyInfo (DER) of a certificate, for checking CertificateVerify.
/// Refuses keys we could not verify with (see [`MIN_RSA_BITS`]).
/// The key signs the handshake, so a keyUsage extension must allow digitalSignature (RFC
/// 8446 4.4.2.2, RFC 5280 4.2.1.3), whatever the application's verifier accepted.
pub fn end_entity_spki(cert_der: &[u8]) -> Result<Vec<u8>, CertError> {
    let raw = cert::split(cert_der)?;
    sig::parse_spki(raw.spki)?;
    if cert::key_usage_digital_signature(&raw)? == Some(false) {
        return Err(CertError::ConstraintViolated("keyUsage lacks digitalSignature"));
    }
    Ok(raw.spki.to_vec())
}

/// The public key a certificate holds: the content of its SubjectPublicKeyInfo's BIT STRING
/// (an EC point, an Ed25519 key, or an RSAPublicKey), whatever its algorithm or size.
pub(crate) fn cert_public_key(cert_der: &[u8]) -> Result<&[u8], CertError> {
    let raw = cert::split(cert_der)?;
    let outer = der::single(raw.spki, der::SEQUENCE).ok_or(CertError::BadEncoding)?;
    let mut d = der::Der::new(outer.value);
    d.expect(der::SEQUENCE).ok_or(CertError::BadEncoding)?;
    let bits = d.expect(der::BIT_STRING).ok_or(CertError::BadEncoding)?;
    der::bit_string_bytes(&bits).ok_or(CertError::BadEncoding)
}

/// Decides whether a server's certificate chain is acceptable (used by clients).
pub trait ServerCertVerifier: Send + Sync + fmt::Debug {
    /// `end_entity` and `intermediates` are DER; `now` is seconds since the Unix epoch.
    fn verify_server_cert(
        &self,
        end_entity: &[u8],
        intermediates: &[&[u8]],
        name: &ServerName,
        now: u64,
    ) -> Result<(), CertError>;
}

/// Decides whether a client's certificate chain is acceptable (used by servers).
pub trait ClientCertVerifier: Send + Sync + fmt::Debug {
    /// Checks the client's chain at `now` (seconds since the Unix epoch).
    fn verify_client_cert(
        &self,
        end_entity: &[u8],
        intermediates: &[&[u8]],
        now: u64,
    ) -> Result<(), CertError>;
    /// Whether a client without a certificate is refused.
    fn client_auth_mandatory(&self) -> bool;
    /// DER subjects to send in certificate_authorities (RFC 8446 4.2.4).
    fn root_subjects(&self) -> Vec<Vec<u8>>;
}

/// Web PKI verification of server certificates: path to an anchor, serverAuth, the name
/// in the subjectAltName, and the caller's CRLs when given.
#[derive(Clone, Debug)]
pub struct WebPkiServerVerifier {
    anchors: TrustAnchors,
    crls: Vec<Crl>,
}

impl WebPkiServerVerifier {
    /// A verifier trusting `anchors`.
    pub fn new(anchors: TrustAnchors) -> Self {
        WebPkiServerVerifier {
            anchors,
            crls: Vec::new(),
        }
    }

    /// Also checks revocation against these CRLs.
    pub fn with_crls(mut self, crls: Vec<Crl>) -> Self {
        self.crls = crls;
        self
    }
}

impl ServerCertVerifier for WebPkiServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &[u8],
        intermediates: &[&[u8]],
        name: &ServerName,
        now: u64,
    ) -> Result<(), CertError> {
        verify_chain(
            end_entity,
            intermediates,
            &self.anchors,
            KeyPurpose::ServerAuth,
            Some(name),
            now,
            &self.crls,
            &VerifyOptions {
                max_intermediates: None,
                require_digital_signature: true,
            },
        )
        .map(|_| ())
    }
}

/// Web PKI verification of client certificates: path to an anchor and clientAuth.
#[derive(Clone, Debug)]
pub struct WebPkiClientVerifier {
    anchors: TrustAnchors,
    crls: Vec<Crl>,
    mandatory: bool,
}

impl WebPkiClientVerifier {
    /// A verifier that requires a client certificate.
    pub fn new(anchors: TrustAnchors) -> Self {
        WebPkiClientVerifier {
            anchors,
            crls: Vec::new(),
            mandatory: true,
        }
    }

    /// Lets clients without a certificate through (their certificate, if sent, is verified).
    pub fn optional(mut self) -> Self {
        self.mandatory = false;
        self
    }

    /// Also checks revocation against these CRLs: each certificate below the anchor against
    /// the CRLs of its issuer (RFC 5280 6.3).
    pub fn with_crls(mut self, crls: Vec<Crl>) -> Self {
        self.crls = crls;
        self
    }
}

impl ClientCertVerifier for WebPkiClientVerifier {
    fn verify_client_cert(
        &self,
        end_entity: &[u8],
        intermediates: &[&[u8]],
        now: u64,
    ) -> Result<(), CertError> {
        verify_chain(
            end_entity,
            intermediates,
            &self.anchors,
            KeyPurpose::ClientAuth,
            None,
            now,
            &self.crls,
            &VerifyOptions {
                max_intermediates: None,
                require_digital_signature: true,
            },
        )
        .map(|_| ())
    }

    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_subjects(&self) -> Vec<Vec<u8>> {
        self.anchors.subjects()
    }
}

/// Accepts exactly one end-entity certificate, byte for byte (compared in constant
/// time). For self-signed peers known in advance; neither name nor validity is checked.
#[derive(Clone, Debug)]
pub struct PinnedCertVerifier {
    der: Vec<u8>,
}

impl PinnedCertVerifier {
    /// Pins the DER certificate `der`.
    pub fn new(der: Vec<u8>) -> Self {
        PinnedCertVerifier { der }
    }

    fn check(&self, end_entity: &[u8]) -> Result<(), CertError> {
        use subtle::ConstantTimeEq;
        if bool::from(self.der.as_slice().ct_eq(end_entity)) {
            Ok(())
        } else {
            Err(CertError::NotPinned)
        }
    }
}

impl ServerCertVerifier for PinnedCertVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &[u8],
        _: &[&[u8]],
        _: &ServerName,
        _: u64,
    ) -> Result<(), CertError> {
        self.check(end_entity)
    }
}

impl ClientCertVerifier for PinnedCertVerifier {
    fn verify_client_cert(&self, end_entity: &[u8], _: &[&[u8]], _: u64) -> Result<(), CertError> {
        self.check(end_entity)
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_subjects(&self) -> Vec<Vec<u8>> {
        Vec::new()
    }
}

/// Verifiers that turn authentication off. Never a default; opt in by name.
pub mod danger {
    use super::{CertError, ServerCertVerifier, ServerName};

    /// Accepts every server certificate: the connection is then open to any
    /// man-in-the-middle. For tests and debugging only.
    #[derive(Clone, Copy, Debug, Default)]
    pub struct AcceptAnyServerCert;

    impl ServerCertVerifier for AcceptAnyServerCert {
        fn verify_server_cert(&self, _: &[u8], _: &[&[u8]], _: &ServerName, _: u64) -> Result<(), CertError> {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests;
