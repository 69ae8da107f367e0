//! One parsed certificate and the checks that depend on it alone (the RFC 5280 profile
//! as the CA/B Forum Baseline Requirements apply it). Role checks live in `path`.

use core::ops::Range;

use x509_parser::extensions::{GeneralName, NameConstraints, ParsedExtension};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::der::{self, Der};
use super::sig::{self, PublicKey};
use super::CertError;

/// The fields of a certificate that path validation uses, borrowed from its DER.
#[derive(Debug)]
pub(crate) struct Cert<'a> {
    pub der: &'a [u8],
    pub tbs: &'a [u8],
    /// Content of the outer signatureAlgorithm.
    pub sig_alg: &'a [u8],
    pub signature: &'a [u8],
    pub serial: &'a [u8],
    pub issuer: &'a [u8],
    pub subject: &'a [u8],
    pub subject_empty: bool,
    pub spki: &'a [u8],
    pub key: PublicKey<'a>,
    pub not_before: i64,
    pub not_after: i64,
    /// basicConstraints: (critical, cA, pathLenConstraint).
    pub basic: Option<(bool, bool, Option<u32>)>,
    pub key_usage: Option<KeyUsageBits>,
    pub eku: Option<Eku>,
    pub san: Option<Vec<GeneralName<'a>>>,
    pub name_constraints: Option<NameConstraints<'a>>,
    pub ski: Option<&'a [u8]>,
    pub aki: Option<&'a [u8]>,
    /// Subject commonName values; `None` for one that is not a string.
    pub common_names: Vec<Option<&'a str>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct KeyUsageBits {
    pub digital_signature: bool,
    pub key_cert_sign: bool,
    pub crl_sign: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Eku {
    pub critical: bool,
    pub any: bool,
    pub server_auth: bool,
    pub client_auth: bool,
}

/// What [`Cert::parse`] found in a certificate's validity, extensions and subject, kept as
/// values and as offsets into its DER, so that a trust anchor parsed once (when it is added)
/// becomes a [`Cert`] again per verification with a plain DER walk ([`Cert::from_index`])
/// instead of a full X.509 parse. Only for certificates without subjectAltName and
/// nameConstraints, whose parsed forms borrow x509-parser values ([`Cert::index`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CertIndex {
    not_before: i64,
    not_after: i64,
    basic: Option<(bool, bool, Option<u32>)>,
    key_usage: Option<KeyUsageBits>,
    eku: Option<Eku>,
    ski: Option<Range<usize>>,
    aki: Option<Range<usize>>,
    common_names: Vec<Option<Range<usize>>>,
}

/// The raw fields of a TBSCertificate, walked without interpretation.
pub(crate) struct RawTbs<'a> {
    pub tbs: &'a [u8],
    pub outer_alg: &'a [u8],
    pub signature: &'a [u8],
    pub version_v3: bool,
    pub serial: &'a [u8],
    pub inner_alg: &'a [u8],
    pub issuer: der::Tlv<'a>,
    pub validity: &'a [u8],
    pub subject: der::Tlv<'a>,
    pub spki: &'a [u8],
    /// The TBSCertificate's fields after the SubjectPublicKeyInfo (unique IDs, extensions),
    /// not yet walked.
    pub after_spki: &'a [u8],
}

/// Splits a Certificate (RFC 5280 4.1) into its raw parts; any DER violation is refused.
pub(crate) fn split(cert: &[u8]) -> Result<RawTbs<'_>, CertError> {
    let bad = CertError::BadEncoding;
    let outer = der::single(cert, der::SEQUENCE).ok_or(bad.clone())?;
    let mut d = Der::new(outer.value);
    let tbs = d.expect(der::SEQUENCE).ok_or(bad.clone())?;
    let outer_alg = d.expect(der::SEQUENCE).ok_or(bad.clone())?;
    let sig = d.expect(der::BIT_STRING).ok_or(bad.clone())?;
    if !d.is_empty() {
        return Err(bad);
    }
    let signature = der::bit_string_bytes(&sig).ok_or(bad.clone())?;
    let mut t = Der::new(tbs.value);
    let version_v3 = match t.optional(0xa0) {
        Some(v) => v.value == [der::INTEGER, 1, 2],
        None => false,
    };
    let serial = t.expect(der::INTEGER).ok_or(bad.clone())?;
    let inner_alg = t.expect(der::SEQUENCE).ok_or(bad.clone())?;
    let issuer = t.expect(der::SEQUENCE).ok_or(bad.clone())?;
    let validity = t.expect(der::SEQUENCE).ok_or(bad.clone())?;
    let subject = t.expect(der::SEQUENCE).ok_or(bad.clone())?;
    let spki = t.expect(der::SEQUENCE).ok_or(bad)?;
    Ok(RawTbs {
        tbs: tbs.raw,
        outer_alg: outer_alg.value,
        signature,
        version_v3,
        serial: serial.value,
        inner_alg: inner_alg.value,
        issuer,
        validity: validity.value,
        subject,
        spki: spki.raw,
        after_spki: t.rest(),
    })
}

/// The keyUsage extension's digitalSignature bit (RFC 5280 4.2.1.3), or `None` when the
/// certificate has no keyUsage: a walk of the raw extensions for the end entity's signing
/// key, which the application's verifier has already parsed in full (a second X.509 parse
/// per handshake cost about 0.7 % of a full TLS 1.3 handshake).
pub(crate) fn key_usage_digital_signature(raw: &RawTbs<'_>) -> Result<Option<bool>, CertError> {
    let bad = CertError::BadEncoding;
    let mut t = Der::new(raw.after_spki);
    // issuerUniqueID [1] and subjectUniqueID [2] (IMPLICIT), then extensions [3] EXPLICIT.
    let _ = t.optional(0x81);
    let _ = t.optional(0x82);
    let extensions = t.optional(0xa3);
    if !t.is_empty() {
        return Err(bad);
    }
    let Some(extensions) = extensions else {
        return Ok(None);
    };
    let list = der::single(extensions.value, der::SEQUENCE).ok_or(bad.clone())?;
    let mut list = Der::new(list.value);
    let mut digital_signature = None;
    while !list.is_empty() {
        // Extension ::= SEQUENCE { extnID OID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }
        let ext = list.expect(der::SEQUENCE).ok_or(bad.clone())?;
        let mut e = Der::new(ext.value);
        let id = e.expect(der::OID).ok_or(bad.clone())?;
        let _ = e.optional(der::BOOLEAN);
        let value = e.expect(der::OCTET_STRING).ok_or(bad.clone())?;
        if !e.is_empty() {
            return Err(bad);
        }
        // id-ce-keyUsage, 2.5.29.15.
        if id.value != [0x55, 0x1d, 0x0f] {
            continue;
        }
        // RFC 5280 4.2: at most one instance of an extension.
        if digital_signature.is_some() {
            return Err(bad);
        }
        let bits = der::single(value.value, der::BIT_STRING).ok_or(bad.clone())?;
        // The first content byte counts the unused bits; digitalSignature is bit 0, the
        // top bit of the first byte that follows.
        digital_signature = Some(match bits.value {
            [0] => false,
            [unused, first, ..] if *unused < 8 => first & 0x80 != 0,
            _ => return Err(bad),
        });
    }
    Ok(digital_signature)
}

impl<'a> Cert<'a> {
    pub fn parse(der: &'a [u8]) -> Result<Self, CertError> {
        let raw = split(der)?;
        let (rest, x) = X509Certificate::from_der(der).map_err(|_| CertError::BadEncoding)?;
        if !rest.is_empty() {
            return Err(CertError::BadEncoding);
        }
        // RFC 5280 4.1.1.2: the two signature fields MUST match.
        if raw.inner_alg != raw.outer_alg {
            return Err(CertError::Profile("signature algorithm fields differ"));
        }
        // Extensions need v3 (4.1.2.1); the Web PKI issues nothing else.
        if !raw.version_v3 {
            return Err(CertError::Profile("not a version 3 certificate"));
        }
        // RFC 5280 4.1.2.4: the issuer MUST be a non-empty DN.
        if raw.issuer.value.is_empty() {
            return Err(CertError::Profile("empty issuer name"));
        }
        let mut v = Der::new(raw.validity);
        let not_before = v
            .read()
            .and_then(|t| der::time(&t))
            .ok_or(CertError::BadEncoding)?;
        let not_after = v
            .read()
            .and_then(|t| der::time(&t))
            .ok_or(CertError::BadEncoding)?;
        if !v.is_empty() {
            return Err(CertError::BadEncoding);
        }
        let key = sig::parse_spki(raw.spki)?;
        let subject_empty = raw.subject.value.is_empty();

        let mut cert = Cert {
            der,
            tbs: raw.tbs,
            sig_alg: raw.outer_alg,
            signature: raw.signature,
            serial: raw.serial,
            issuer: raw.issuer.raw,
            subject: raw.subject.raw,
            subject_empty,
            spki: raw.spki,
            key,
            not_before,
            not_after,
            basic: None,
            key_usage: None,
            eku: None,
            san: None,
            name_constraints: None,
            ski: None,
            aki: None,
            common_names: Vec::new(),
        };
        for rdn in x.tbs_certificate.subject.iter() {
            for attr in rdn.iter() {
                if *attr.attr_type() == x509_parser::oid_registry::OID_X509_COMMON_NAME {
                    let value: Option<&'a str> = attr.as_str().ok();
                    cert.common_names.push(value);
                }
            }
        }
        let mut san_critical = false;
        let exts = x.tbs_certificate.extensions();
        for (i, ext) in exts.iter().enumerate() {
            // RFC 5280 4.2: a certificate MUST NOT include more than one instance of an extension.
            if exts.iter().take(i).any(|e| e.oid == ext.oid) {
                return Err(CertError::Profile("duplicate extension"));
            }
            let critical = ext.critical;
            match ext.parsed_extension() {
                ParsedExtension::ParseError { .. } => return Err(CertError::BadEncoding),
                ParsedExtension::AuthorityKeyIdentifier(aki) => {
                    // RFC 5280 4.2.1.1: MUST be non-critical. CA/B BR 7.1.2.x: keyIdentifier
                    // present, the issuer-and-serial form absent.
                    if critical {
                        return Err(CertError::Profile("critical authorityKeyIdentifier"));
                    }
                    if aki.authority_cert_issuer.is_some() || aki.authority_cert_serial.is_some() {
                        return Err(CertError::Profile(
                            "authorityKeyIdentifier with issuer and serial",
                        ));
                    }
                    let id = aki
                        .key_identifier
                        .as_ref()
                        .ok_or(CertError::Profile("authorityKeyIdentifier without keyIdentifier"))?;
                    cert.aki = Some(id.0);
                }
                ParsedExtension::SubjectKeyIdentifier(ski) => {
                    // RFC 5280 4.2.1.2: MUST be non-critical.
                    if critical {
                        return Err(CertError::Profile("critical subjectKeyIdentifier"));
                    }
                    cert.ski = Some(ski.0);
                }
                ParsedExtension::KeyUsage(ku) => {
                    cert.key_usage = Some(KeyUsageBits {
                        digital_signature: ku.digital_signature(),
                        key_cert_sign: ku.key_cert_sign(),
                        crl_sign: ku.crl_sign(),
                    });
                }
                ParsedExtension::BasicConstraints(bc) => {
                    cert.basic = Some((critical, bc.ca, bc.path_len_constraint));
                }
                ParsedExtension::ExtendedKeyUsage(eku) => {
                    cert.eku = Some(Eku {
                        critical,
                        any: eku.any,
                        server_auth: eku.server_auth,
                        client_auth: eku.client_auth,
                    });
                }
                ParsedExtension::SubjectAlternativeName(san) => {
                    if san.general_names.is_empty()
                        || san
                            .general_names
                            .iter()
                            .any(|g| matches!(g, GeneralName::Invalid(..)))
                    {
                        return Err(CertError::BadEncoding);
                    }
                    san_critical = critical;
                    cert.san = Some(san.general_names.clone());
                }
                ParsedExtension::NameConstraints(nc) => {
                    cert.name_constraints = Some(nc.clone());
                }
                // RFC 5280 4.2.1.11: conforming CAs MUST mark it critical.
                ParsedExtension::PolicyConstraints(_) if !critical => {
                    return Err(CertError::Profile("non-critical policyConstraints"));
                }
                // RFC 5280 4.2.2.1: MUST be non-critical.
                ParsedExtension::AuthorityInfoAccess(_) if critical => {
                    return Err(CertError::Profile("critical authorityInfoAccess"));
                }
                ParsedExtension::PolicyConstraints(_) | ParsedExtension::AuthorityInfoAccess(_) => {}
                // Recognised and harmless to us; policies are not processed (the Web PKI
                // relies on the root program, not on policy OIDs).
                ParsedExtension::CertificatePolicies(_)
                | ParsedExtension::PolicyMappings(_)
                | ParsedExtension::InhibitAnyPolicy(_)
                | ParsedExtension::CRLDistributionPoints(_)
                | ParsedExtension::SubjectInfoAccess(_)
                | ParsedExtension::IssuerAlternativeName(_)
                | ParsedExtension::SCT(_)
                | ParsedExtension::NSCertType(_)
                | ParsedExtension::NsCertComment(_) => {}
                // RFC 5280 4.2: a critical extension we do not process MUST be refused.
                _ if critical => return Err(CertError::UnknownCriticalExtension),
                _ => {}
            }
        }
        // RFC 5280 4.2.1.6: with an empty subject the identity is in a critical SAN.
        if subject_empty && (cert.san.is_none() || !san_critical) {
            return Err(CertError::Profile(
                "empty subject without a critical subjectAltName",
            ));
        }
        // CA/B BR 7.1.2.7.12: the SAN is critical only when the subject is empty.
        if !subject_empty && san_critical {
            return Err(CertError::Profile(
                "critical subjectAltName with a non-empty subject",
            ));
        }
        // RFC 5280 4.2.1.3 and 4.2.1.9: keyCertSign only together with cA.
        let is_ca = matches!(cert.basic, Some((_, true, _)));
        if cert.key_usage.is_some_and(|ku| ku.key_cert_sign) && !is_ca {
            return Err(CertError::ConstraintViolated(
                "keyCertSign without basicConstraints cA",
            ));
        }
        // RFC 5280 4.2.1.9: pathLenConstraint only when cA is set.
        if matches!(cert.basic, Some((_, false, Some(_)))) {
            return Err(CertError::Profile("pathLenConstraint without cA"));
        }
        Ok(cert)
    }

    /// This certificate's [`CertIndex`]; `None` with a subjectAltName or nameConstraints.
    pub fn index(&self) -> Option<CertIndex> {
        if self.san.is_some() || self.name_constraints.is_some() {
            return None;
        }
        let base = self.der.as_ptr() as usize;
        let range = |s: &[u8]| -> Option<Range<usize>> {
            let start = (s.as_ptr() as usize).checked_sub(base)?;
            let end = start.checked_add(s.len())?;
            (end <= self.der.len()).then_some(start..end)
        };
        let opt = |s: Option<&[u8]>| -> Option<Option<Range<usize>>> {
            match s {
                Some(s) => range(s).map(Some),
                None => Some(None),
            }
        };
        let mut common_names = Vec::with_capacity(self.common_names.len());
        for cn in &self.common_names {
            common_names.push(opt(cn.map(str::as_bytes))?);
        }
        Some(CertIndex {
            not_before: self.not_before,
            not_after: self.not_after,
            basic: self.basic,
            key_usage: self.key_usage,
            eku: self.eku,
            ski: opt(self.ski)?,
            aki: opt(self.aki)?,
            common_names,
        })
    }

    /// The `Cert` that [`parse`](Self::parse) gave for `der` when `index` was taken from it.
    pub fn from_index(der: &'a [u8], index: &CertIndex) -> Result<Self, CertError> {
        let raw = split(der)?;
        let key = sig::parse_spki(raw.spki)?;
        let slice = |r: &Option<Range<usize>>| -> Result<Option<&'a [u8]>, CertError> {
            r.clone()
                .map(|r| der.get(r).ok_or(CertError::BadEncoding))
                .transpose()
        };
        let mut common_names = Vec::with_capacity(index.common_names.len());
        for cn in &index.common_names {
            common_names.push(match slice(cn)? {
                Some(b) => Some(core::str::from_utf8(b).map_err(|_| CertError::BadEncoding)?),
                None => None,
            });
        }
        Ok(Cert {
            der,
            tbs: raw.tbs,
            sig_alg: raw.outer_alg,
            signature: raw.signature,
            serial: raw.serial,
            issuer: raw.issuer.raw,
            subject: raw.subject.raw,
            subject_empty: raw.subject.value.is_empty(),
            spki: raw.spki,
            key,
            not_before: index.not_before,
            not_after: index.not_after,
            basic: index.basic,
            key_usage: index.key_usage,
            eku: index.eku,
            san: None,
            name_constraints: None,
            ski: slice(&index.ski)?,
            aki: slice(&index.aki)?,
            common_names,
        })
    }

    /// Subject and issuer are the same name (RFC 5280 3.3, compared as encoded).
    pub fn self_issued(&self) -> bool {
        self.subject == self.issuer
    }

    pub fn is_ca(&self) -> bool {
        matches!(self.basic, Some((_, true, _)))
    }
}

/// The raw subject (DER Name) of a certificate, without checking the rest.
pub(crate) fn raw_subject(cert: &[u8]) -> Result<&[u8], CertError> {
    Ok(split(cert)?.subject.raw)
}
