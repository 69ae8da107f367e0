//! Certificate revocation lists supplied by the caller (RFC 5280 5 and 6.3). We never fetch
//! CRLs: a certificate is checked against the CRLs whose issuer is its issuer, and a
//! certificate with no such CRL is taken as not revoked.

use x509_parser::extensions::ParsedExtension;
use x509_parser::prelude::{CertificateRevocationList, FromDer};

use super::cert::Cert;
use super::der::{self, Der};
use super::{sig, CertError};

/// A DER CRL, checked for structure when built and against its issuer when used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Crl {
    der: Vec<u8>,
    issuer: Vec<u8>,
}

struct RawCrl<'a> {
    tbs: &'a [u8],
    alg: &'a [u8],
    signature: &'a [u8],
    issuer: &'a [u8],
}

fn split(crl: &[u8]) -> Result<RawCrl<'_>, CertError> {
    let bad = CertError::InvalidCrl("malformed CRL");
    let outer = der::single(crl, der::SEQUENCE).ok_or(bad.clone())?;
    let mut d = Der::new(outer.value);
    let tbs = d.expect(der::SEQUENCE).ok_or(bad.clone())?;
    let alg = d.expect(der::SEQUENCE).ok_or(bad.clone())?;
    let sig = d.expect(der::BIT_STRING).ok_or(bad.clone())?;
    if !d.is_empty() {
        return Err(bad);
    }
    let mut t = Der::new(tbs.value);
    t.optional(der::INTEGER);
    let inner_alg = t.expect(der::SEQUENCE).ok_or(bad.clone())?;
    let issuer = t.expect(der::SEQUENCE).ok_or(bad.clone())?;
    // RFC 5280 5.1.1.2: the two signature fields MUST match.
    if inner_alg.value != alg.value {
        return Err(CertError::InvalidCrl("signature algorithm fields differ"));
    }
    Ok(RawCrl {
        tbs: tbs.raw,
        alg: alg.value,
        signature: der::bit_string_bytes(&sig).ok_or(bad)?,
        issuer: issuer.raw,
    })
}

impl Crl {
    /// Parses a DER CRL and applies the profile checks that need no issuer.
    pub fn from_der(der: &[u8]) -> Result<Self, CertError> {
        let raw = split(der)?;
        let (rest, crl) =
            CertificateRevocationList::from_der(der).map_err(|_| CertError::InvalidCrl("malformed CRL"))?;
        if !rest.is_empty() {
            return Err(CertError::InvalidCrl("trailing data"));
        }
        let mut has_number = false;
        for ext in crl.extensions() {
            match ext.parsed_extension() {
                ParsedExtension::ParseError { .. } => {
                    return Err(CertError::InvalidCrl("malformed extension"))
                }
                // RFC 5280 5.2.3: conforming issuers MUST include it, marked non-critical.
                ParsedExtension::CRLNumber(_) => {
                    if ext.critical {
                        return Err(CertError::InvalidCrl("critical cRLNumber"));
                    }
                    has_number = true;
                }
                ParsedExtension::AuthorityKeyIdentifier(_) | ParsedExtension::IssuerAlternativeName(_) => {}
                // Delta CRLs and partitioned or indirect CRLs (5.2.4, 5.2.5) are not supported.
                _ if ext.critical => return Err(CertError::InvalidCrl("unsupported critical CRL extension")),
                _ => {}
            }
        }
        if !has_number {
            return Err(CertError::InvalidCrl("missing cRLNumber"));
        }
        for entry in crl.iter_revoked_certificates() {
            if entry
                .extensions()
                .iter()
                .any(|e| e.critical && e.parsed_extension().unsupported())
            {
                return Err(CertError::InvalidCrl("unsupported critical CRL entry extension"));
            }
        }
        Ok(Crl {
            der: der.to_vec(),
            issuer: raw.issuer.to_vec(),
        })
    }

    /// Whether this CRL speaks for certificates issued under `issuer_name`.
    pub(crate) fn covers(&self, issuer_name: &[u8]) -> bool {
        self.issuer == issuer_name
    }

    /// Checks the CRL against its issuer's certificate, then looks for `cert`'s serial.
    /// `sig_checks` counts toward the path's signature budget.
    pub(crate) fn check(
        &self,
        cert: &Cert<'_>,
        issuer: &Cert<'_>,
        sig_checks: &mut usize,
    ) -> Result<(), CertError> {
        let raw = split(&self.der)?;
        // RFC 5280 4.2.1.3: a CRL signer with keyUsage must assert cRLSign.
        if issuer.key_usage.is_some_and(|ku| !ku.crl_sign) {
            return Err(CertError::InvalidCrl("issuer lacks cRLSign"));
        }
        *sig_checks += 1;
        if *sig_checks > super::path::MAX_SIGNATURE_CHECKS {
            return Err(CertError::PathBuildingBudgetExceeded);
        }
        sig::verify(&issuer.key, raw.alg, raw.tbs, raw.signature)
            .map_err(|_| CertError::InvalidCrl("bad CRL signature"))?;
        let (_, crl) = CertificateRevocationList::from_der(&self.der)
            .map_err(|_| CertError::InvalidCrl("malformed CRL"))?;
        let serial = der::positive_integer(cert.serial).unwrap_or(cert.serial);
        for entry in crl.iter_revoked_certificates() {
            let listed = der::positive_integer(entry.raw_serial()).unwrap_or(entry.raw_serial());
            if listed == serial {
                return Err(CertError::Revoked);
            }
        }
        Ok(())
    }
}
