//! Path building: from the end entity through the presented intermediates (any order,
//! extras and duplicates allowed) to a trust anchor, depth-first with backtracking, every
//! rule checked as each issuer joins the path so dead ends are dropped early.

use super::cert::Cert;
use super::crl::Crl;
use super::names::{self, ServerName, SubjectName};
use super::{CertError, TrustAnchors};

/// Most intermediates between the end entity and the anchor (CA/B-issued chains use 1-2).
pub const MAX_INTERMEDIATES: usize = 6;
/// Most signature verifications (certificates and CRLs) one path search may spend.
pub const MAX_SIGNATURE_CHECKS: usize = 100;
/// Most issuer candidates one path search may consider, whether or not a signature is checked.
pub const MAX_CANDIDATES: usize = 1_000;
/// Most (name, subtree) comparisons name constraints may cost one path search.
pub const MAX_NAME_CONSTRAINT_CHECKS: usize = 250_000;

/// What the end-entity certificate must be good for (RFC 5280 4.2.1.12).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyPurpose {
    /// id-kp-serverAuth: a TLS server.
    ServerAuth,
    /// id-kp-clientAuth: a TLS client.
    ClientAuth,
}

/// Tuning for one `verify_chain` call beyond the fixed caps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VerifyOptions {
    /// A tighter cap than [`MAX_INTERMEDIATES`] on the intermediates in the path.
    pub max_intermediates: Option<usize>,
    /// Require keyUsage, if present, to allow digitalSignature (RFC 8446 4.4.2.2: the
    /// end-entity key signs CertificateVerify).
    pub require_digital_signature: bool,
}

/// A validated path, end entity first, trust anchor last.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedPath {
    /// The path's certificates (DER): the end entity, the intermediates used, the anchor.
    pub certs: Vec<Vec<u8>>,
}

impl VerifiedPath {
    /// The end-entity certificate (DER).
    pub fn end_entity(&self) -> &[u8] {
        self.certs.first().map_or(&[], |c| c.as_slice())
    }

    /// The trust anchor the path ends at (DER).
    pub fn anchor(&self) -> &[u8] {
        self.certs.last().map_or(&[], |c| c.as_slice())
    }
}

struct Search<'a, 'p> {
    intermediates: Vec<Cert<'a>>,
    anchors: Vec<Cert<'a>>,
    purpose: KeyPurpose,
    now: i64,
    crls: &'p [Crl],
    max_intermediates: usize,
}

/// Verifies `end_entity` for `purpose` (and `name`, if given) at `now` (seconds since the
/// Unix epoch) by building a path to one of `anchors`. The core of both verifiers.
#[allow(clippy::too_many_arguments)]
pub fn verify_chain(
    end_entity: &[u8],
    intermediates: &[&[u8]],
    anchors: &TrustAnchors,
    purpose: KeyPurpose,
    name: Option<&ServerName>,
    now: u64,
    crls: &[Crl],
    options: &VerifyOptions,
) -> Result<VerifiedPath, CertError> {
    let ee = Cert::parse(end_entity)?;
    let now = i64::try_from(now).unwrap_or(i64::MAX);
    check_end_entity(&ee, purpose, now)?;
    if options.require_digital_signature && ee.key_usage.is_some_and(|ku| !ku.digital_signature) {
        return Err(CertError::ConstraintViolated("keyUsage lacks digitalSignature"));
    }
    if let Some(name) = name {
        if !names::san_matches(ee.san.as_deref(), name) {
            return Err(CertError::NameMismatch {
                expected: name.to_string(),
                presented: names::san_names(ee.san.as_deref()),
            });
        }
    }
    if purpose == KeyPurpose::ServerAuth {
        names::check_common_names(&ee.common_names, ee.san.as_deref())?;
    }
    // Unparsable extras cannot be on any path: drop them rather than fail the chain.
    let intermediates: Vec<Cert<'_>> = intermediates
        .iter()
        .filter_map(|der| Cert::parse(der).ok())
        .collect();
    let mut wanted: Vec<&[u8]> = vec![ee.issuer];
    wanted.extend(intermediates.iter().map(|c| c.issuer));
    let anchors = anchors.parse_for(&wanted);
    let search = Search {
        intermediates,
        anchors,
        purpose,
        now,
        crls,
        max_intermediates: options
            .max_intermediates
            .map_or(MAX_INTERMEDIATES, |m| m.min(MAX_INTERMEDIATES)),
    };
    let mut counters = Counters::default();
    let mut path = vec![&ee];
    let mut found = None;
    let best = search.extend(&mut path, &mut found, &mut counters)?;
    match found {
        Some(certs) => Ok(VerifiedPath { certs }),
        None => Err(best.unwrap_or(CertError::UnknownIssuer)),
    }
}

/// Rules for the certificate in the end-entity position.
fn check_end_entity(ee: &Cert<'_>, purpose: KeyPurpose, now: i64) -> Result<(), CertError> {
    check_validity(ee, now)?;
    // CA/B BR 7.1.2.7.8: a subscriber certificate's cA MUST be false.
    if ee.is_ca() {
        return Err(CertError::ConstraintViolated("CA certificate used as end entity"));
    }
    // RFC 5280 4.2.1.10: name constraints only in CA certificates.
    if ee.name_constraints.is_some() {
        return Err(CertError::ConstraintViolated(
            "nameConstraints in end-entity certificate",
        ));
    }
    // RFC 5280 4.2.1.1: every certificate but a self-signed one names its issuer's key.
    if ee.aki.is_none() && !ee.self_issued() {
        return Err(CertError::Profile("missing authorityKeyIdentifier"));
    }
    // RFC 5280 4.2.1.12: no EKU means any use; CA/B BR 7.1.2.7.10 forbids a lone
    // anyExtendedKeyUsage in subscriber certificates, so we require the purpose itself.
    if let Some(eku) = ee.eku {
        if eku.any {
            return Err(CertError::ConstraintViolated(
                "anyExtendedKeyUsage in end-entity certificate",
            ));
        }
        // CA/B BR 7.1.2.7.10: a subscriber's extKeyUsage MUST NOT be critical.
        if eku.critical {
            return Err(CertError::Profile(
                "critical extendedKeyUsage in end-entity certificate",
            ));
        }
        let ok = match purpose {
            KeyPurpose::ServerAuth => eku.server_auth,
            KeyPurpose::ClientAuth => eku.client_auth,
        };
        if !ok {
            return Err(CertError::ConstraintViolated(
                "extendedKeyUsage lacks the required purpose",
            ));
        }
    }
    Ok(())
}

/// RFC 5280 4.1.2.5: valid from notBefore through notAfter inclusive.
fn check_validity(cert: &Cert<'_>, now: i64) -> Result<(), CertError> {
    if now < cert.not_before {
        return Err(CertError::NotYetValid);
    }
    if now > cert.not_after {
        return Err(CertError::Expired);
    }
    Ok(())
}

/// Keeps the more informative of two failures: a real reason beats "no issuer found".
fn keep(best: &mut Option<CertError>, e: CertError) {
    if best.is_none() || best == &Some(CertError::UnknownIssuer) {
        *best = Some(e);
    }
}

impl<'a> Search<'a, '_> {
    /// Tries every issuer of the last certificate in `path`, anchors first, recursing
    /// through intermediates. On success the validated path lands in `found`; otherwise
    /// returns the most informative reason. `Err` is a hard stop (work budget spent).
    fn extend<'s>(
        &'s self,
        path: &mut Vec<&'s Cert<'a>>,
        found: &mut Option<Vec<Vec<u8>>>,
        counters: &mut Counters,
    ) -> Result<Option<CertError>, CertError> {
        let Some(&child) = path.last() else {
            return Ok(Some(CertError::UnknownIssuer));
        };
        let mut best = None;
        let candidates = self
            .anchors
            .iter()
            .map(|c| (c, true))
            .chain(self.intermediates.iter().map(|c| (c, false)));
        for (cand, is_anchor) in candidates {
            if cand.subject != child.issuer {
                continue;
            }
            // RFC 5280 4.2.1.1: the AKI names the issuer's key; a differing SKI is not it.
            if let (Some(aki), Some(ski)) = (child.aki, cand.ski) {
                if aki != ski {
                    continue;
                }
            }
            // A CA already on the path (same name and key) would only loop.
            if path
                .iter()
                .any(|c| c.subject == cand.subject && c.spki == cand.spki)
            {
                continue;
            }
            // The hard cap counts every intermediate; the caller's depth counts logical CAs
            // (self-issued ones are the same CA, as for pathLenConstraint).
            let intermediates_after = path.len() - 1 + usize::from(!is_anchor);
            let logical_after = path.iter().skip(1).filter(|c| !c.self_issued()).count()
                + usize::from(!is_anchor && !cand.self_issued());
            if intermediates_after > MAX_INTERMEDIATES || logical_after > self.max_intermediates {
                keep(&mut best, CertError::ConstraintViolated("path too long"));
                continue;
            }
            counters.candidates += 1;
            if counters.candidates > MAX_CANDIDATES {
                return Err(CertError::PathBuildingBudgetExceeded);
            }
            if let Err(e) = self.check_issuer(cand, is_anchor, path, counters) {
                if e == CertError::PathBuildingBudgetExceeded {
                    return Err(e);
                }
                keep(&mut best, e);
                continue;
            }
            path.push(cand);
            let outcome = if is_anchor {
                self.check_revocation(path, counters).map(|()| {
                    *found = Some(path.iter().map(|c| c.der.to_vec()).collect());
                    None
                })
            } else {
                self.extend(path, found, counters)
            };
            path.pop();
            match outcome {
                Ok(None) if found.is_some() => return Ok(None),
                Ok(None) => {}
                Ok(Some(e)) => keep(&mut best, e),
                Err(CertError::PathBuildingBudgetExceeded) => {
                    return Err(CertError::PathBuildingBudgetExceeded)
                }
                Err(e) => keep(&mut best, e),
            }
        }
        Ok(Some(best.unwrap_or(CertError::UnknownIssuer)))
    }

    /// Everything `issuer` must satisfy to sign the last certificate of `path` and to
    /// constrain the certificates below it.
    fn check_issuer(
        &self,
        issuer: &Cert<'a>,
        is_anchor: bool,
        path: &[&Cert<'a>],
        counters: &mut Counters,
    ) -> Result<(), CertError> {
        let Some(&child) = path.last() else {
            return Err(CertError::UnknownIssuer);
        };
        counters.sig_checks += 1;
        if counters.sig_checks > MAX_SIGNATURE_CHECKS {
            return Err(CertError::PathBuildingBudgetExceeded);
        }
        super::sig::verify(&issuer.key, child.sig_alg, child.tbs, child.signature)?;
        check_validity(issuer, self.now)?;
        // RFC 5280 4.2.1.9: a CA certificate asserts cA in a critical basicConstraints.
        match issuer.basic {
            Some((true, true, _)) => {}
            Some((false, true, _)) => return Err(CertError::Profile("non-critical basicConstraints in CA")),
            _ => return Err(CertError::ConstraintViolated("issuer is not a CA")),
        }
        // RFC 5280 4.2.1.3: with keyUsage present, keyCertSign must be set to sign certs.
        if issuer.key_usage.is_some_and(|ku| !ku.key_cert_sign) {
            return Err(CertError::ConstraintViolated("issuer keyUsage lacks keyCertSign"));
        }
        // RFC 5280 4.1.2.6: a CA's subject MUST be non-empty.
        if issuer.subject_empty {
            return Err(CertError::Profile("CA with empty subject"));
        }
        // RFC 5280 4.2.1.2: SKI MUST appear in all conforming CA certificates.
        if issuer.ski.is_none() {
            return Err(CertError::Profile("CA without subjectKeyIdentifier"));
        }
        if is_anchor {
            // A self-signed root's AKI, if any, names its own key.
            if let (true, Some(aki), Some(ski)) = (issuer.self_issued(), issuer.aki, issuer.ski) {
                if aki != ski {
                    return Err(CertError::Profile(
                        "self-signed authorityKeyIdentifier differs from subjectKeyIdentifier",
                    ));
                }
            }
        } else if issuer.aki.is_none() && !issuer.self_issued() {
            return Err(CertError::Profile("missing authorityKeyIdentifier"));
        }
        // EKU in a CA restricts what it may issue for (CA/B BR 7.1.2.2.6, as browsers apply it).
        if let Some(eku) = issuer.eku {
            let ok = eku.any
                || match self.purpose {
                    KeyPurpose::ServerAuth => eku.server_auth,
                    KeyPurpose::ClientAuth => eku.client_auth,
                };
            if !ok {
                return Err(CertError::ConstraintViolated(
                    "issuer extendedKeyUsage excludes the purpose",
                ));
            }
        }
        // RFC 5280 4.2.1.9 / 6.1.4 (l),(m): pathLenConstraint counts the non-self-issued
        // intermediates that follow this CA, the end entity not included.
        if let Some((_, _, Some(max))) = issuer.basic {
            let below = path.iter().skip(1).filter(|c| !c.self_issued()).count();
            if below > usize::try_from(max).unwrap_or(usize::MAX) {
                return Err(CertError::ConstraintViolated("pathLenConstraint exceeded"));
            }
        }
        // RFC 5280 4.2.1.10 / 6.1.3 (b),(c): constraints apply to every following
        // certificate except self-issued intermediates; the end entity always.
        if let Some(nc) = &issuer.name_constraints {
            names::validate_constraints(nc)?;
            for (i, cert) in path.iter().enumerate() {
                if i > 0 && cert.self_issued() {
                    continue;
                }
                if !cert.subject_empty {
                    names::check_name(
                        nc,
                        &SubjectName::Dn(cert.subject),
                        &mut counters.nc_checks,
                        MAX_NAME_CONSTRAINT_CHECKS,
                    )?;
                }
                for gn in cert.san.iter().flatten() {
                    names::check_name(
                        nc,
                        &SubjectName::San(gn),
                        &mut counters.nc_checks,
                        MAX_NAME_CONSTRAINT_CHECKS,
                    )?;
                }
            }
        }
        Ok(())
    }

    /// RFC 5280 6.3: each certificate below the anchor against the CRLs of its issuer.
    fn check_revocation(&self, path: &[&Cert<'a>], counters: &mut Counters) -> Result<(), CertError> {
        if self.crls.is_empty() {
            return Ok(());
        }
        for pair in path.windows(2) {
            let [cert, issuer] = pair else { continue };
            for crl in self.crls.iter().filter(|c| c.covers(cert.issuer)) {
                crl.check(cert, issuer, &mut counters.sig_checks)?;
            }
        }
        Ok(())
    }
}

/// Work spent so far by one search, checked against the caps above.
#[derive(Default)]
struct Counters {
    sig_checks: usize,
    candidates: usize,
    nc_checks: usize,
}
