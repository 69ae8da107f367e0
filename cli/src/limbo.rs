//! The x509-limbo harness: runs every testcase of a limbo.json through
//! `sanstls::pki::verify_chain` and reports the outcomes in limbo's result format.
//! Shared with the library's `tests/limbo.rs` (included there by path).

use std::collections::BTreeMap;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer};
use sanstls::pki::{self, Crl, KeyPurpose, ServerName, TrustAnchors, VerifyOptions};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
struct Limbo {
    testcases: Vec<Testcase>,
}

#[derive(Deserialize)]
struct Testcase {
    id: String,
    #[serde(default)]
    features: Vec<String>,
    validation_kind: String,
    trusted_certs: Vec<String>,
    untrusted_intermediates: Vec<String>,
    peer_certificate: String,
    validation_time: Option<String>,
    #[serde(default)]
    signature_algorithms: Vec<String>,
    #[serde(default)]
    key_usage: Vec<String>,
    #[serde(default)]
    extended_key_usage: Vec<String>,
    expected_result: String,
    expected_peer_name: Option<PeerName>,
    max_chain_depth: Option<usize>,
    #[serde(default)]
    crls: Vec<String>,
}

#[derive(Deserialize)]
struct PeerName {
    kind: String,
    value: String,
}

/// One testcase's outcome, in limbo's result schema.
#[derive(Clone, Debug, Serialize)]
pub struct LimboResult {
    pub id: String,
    pub actual_result: &'static str,
    pub context: String,
}

/// Outcomes of a whole suite plus the comparison with the expectations.
#[derive(Debug, Default)]
pub struct LimboReport {
    pub results: Vec<LimboResult>,
    pub matches: usize,
    pub mismatches: usize,
    pub skips: usize,
    /// Testcases expected to FAIL that we accepted: (id, features).
    pub unexpected_acceptances: Vec<(String, Vec<String>)>,
    /// Testcases expected to SUCCEED that we refused: (id, reason).
    pub unexpected_rejections: Vec<(String, String)>,
    /// Per id prefix: (matches, mismatches, skips).
    pub by_prefix: BTreeMap<String, (usize, usize, usize)>,
}

impl LimboReport {
    /// The result document limbo's tooling reads.
    pub fn to_json(&self) -> String {
        serde_json::json!({ "version": 1, "harness": "sanstls", "results": self.results }).to_string()
    }

    /// A per-prefix summary for humans.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        for (prefix, (m, mm, sk)) in &self.by_prefix {
            s.push_str(&format!(
                "{prefix:<28} match {m:>5}  mismatch {mm:>3}  skip {sk:>3}\n"
            ));
        }
        s.push_str(&format!(
            "total: {} matches, {} mismatches, {} skipped; {} unexpected acceptances\n",
            self.matches,
            self.mismatches,
            self.skips,
            self.unexpected_acceptances.len()
        ));
        s
    }
}

enum Outcome {
    Success,
    Failure(String),
    Skipped(String),
}

/// Features we deliberately do not implement; their testcases are skipped.
const SKIPPED_FEATURES: &[(&str, &str)] = &[(
    "rfc5280-incompatible-with-webpki",
    "strict RFC 5280 where it contradicts the Web PKI profile we implement",
)];

/// Runs every testcase. `now` stands in for testcases without a validation time.
pub fn run_limbo(json: &str, now: u64) -> Result<LimboReport, String> {
    let limbo: Limbo = serde_json::from_str(json).map_err(|e| format!("limbo.json: {e}"))?;
    let mut report = LimboReport::default();
    for tc in &limbo.testcases {
        let outcome = evaluate(tc, now);
        let prefix = tc.id.split("::").next().unwrap_or("").to_string();
        let entry = report.by_prefix.entry(prefix).or_default();
        let (actual, context) = match &outcome {
            Outcome::Success => ("SUCCESS", String::new()),
            Outcome::Failure(why) => ("FAILURE", why.clone()),
            Outcome::Skipped(why) => ("SKIPPED", why.clone()),
        };
        if matches!(outcome, Outcome::Skipped(_)) {
            report.skips += 1;
            entry.2 += 1;
        } else if actual == tc.expected_result {
            report.matches += 1;
            entry.0 += 1;
        } else {
            report.mismatches += 1;
            entry.1 += 1;
            if actual == "SUCCESS" {
                report
                    .unexpected_acceptances
                    .push((tc.id.clone(), tc.features.clone()));
            } else {
                report
                    .unexpected_rejections
                    .push((tc.id.clone(), context.clone()));
            }
        }
        report.results.push(LimboResult {
            id: tc.id.clone(),
            actual_result: actual,
            context,
        });
    }
    Ok(report)
}

fn pem_certs(pem: &str) -> Result<Vec<Vec<u8>>, String> {
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .map(|c| c.map(|c| c.as_ref().to_vec()).map_err(|e| format!("PEM: {e}")))
        .collect()
}

fn evaluate(tc: &Testcase, default_now: u64) -> Outcome {
    for (feature, why) in SKIPPED_FEATURES {
        if tc.features.iter().any(|f| f == feature) {
            return Outcome::Skipped(format!("{feature}: {why}"));
        }
    }
    if !tc.signature_algorithms.is_empty() {
        return Outcome::Skipped("signature_algorithms constraints are not supported".into());
    }
    let purpose = match tc.validation_kind.as_str() {
        "SERVER" => KeyPurpose::ServerAuth,
        "CLIENT" => KeyPurpose::ClientAuth,
        other => return Outcome::Skipped(format!("validation kind {other}")),
    };
    for eku in &tc.extended_key_usage {
        match (eku.as_str(), purpose) {
            ("serverAuth", KeyPurpose::ServerAuth) | ("clientAuth", KeyPurpose::ClientAuth) => {}
            _ => return Outcome::Skipped(format!("extended key usage {eku} for this validation kind")),
        }
    }
    match run(tc, purpose, default_now) {
        Ok(()) => Outcome::Success,
        Err(e) => Outcome::Failure(e),
    }
}

fn run(tc: &Testcase, purpose: KeyPurpose, default_now: u64) -> Result<(), String> {
    let mut anchors = TrustAnchors::new();
    for pem in &tc.trusted_certs {
        for der in pem_certs(pem)? {
            anchors.add_der(&der).map_err(|e| format!("trust anchor: {e}"))?;
        }
    }
    let mut intermediates = Vec::new();
    for pem in &tc.untrusted_intermediates {
        intermediates.extend(pem_certs(pem)?);
    }
    let peer = pem_certs(&tc.peer_certificate)?
        .into_iter()
        .next()
        .ok_or("no peer certificate")?;
    let mut crls = Vec::new();
    for pem in &tc.crls {
        for der in CertificateRevocationListDer::pem_slice_iter(pem.as_bytes()) {
            let der = der.map_err(|e| format!("CRL PEM: {e}"))?;
            crls.push(Crl::from_der(der.as_ref()).map_err(|e| format!("CRL: {e}"))?);
        }
    }
    let now = match &tc.validation_time {
        Some(t) => parse_rfc3339(t).ok_or_else(|| format!("bad validation_time {t}"))?,
        None => default_now,
    };
    let name = match (&tc.expected_peer_name, purpose) {
        (Some(p), KeyPurpose::ServerAuth) => match p.kind.as_str() {
            "DNS" | "IP" => Some(ServerName::parse(&p.value).map_err(|e| format!("peer name: {e}"))?),
            other => return Err(format!("peer name kind {other} for a server")),
        },
        _ => None,
    };
    let inter_refs: Vec<&[u8]> = intermediates.iter().map(|c| c.as_slice()).collect();
    let mut options = VerifyOptions {
        max_intermediates: tc.max_chain_depth,
        ..VerifyOptions::default()
    };
    for ku in &tc.key_usage {
        match ku.as_str() {
            "digitalSignature" => options.require_digital_signature = true,
            other => return Err(format!("key usage {other} is not supported")),
        }
    }
    pki::verify_chain(
        &peer,
        &inter_refs,
        &anchors,
        purpose,
        name.as_ref(),
        now,
        &crls,
        &options,
    )
    .map(|_| ())
    .map_err(|e| e.to_string())
}

/// `YYYY-MM-DDTHH:MM:SS[.frac](Z|+00:00)` to Unix seconds (limbo writes UTC times).
fn parse_rfc3339(t: &str) -> Option<u64> {
    let b = t.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> { t.get(r)?.parse().ok() };
    if b.get(4) != Some(&b'-') || b.get(10) != Some(&b'T') {
        return None;
    }
    let (y, mo, d, h, mi, s) = (
        num(0..4)?,
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    );
    let tail = t.get(19..)?;
    let tail = tail
        .strip_prefix('.')
        .map_or(tail, |f| f.trim_start_matches(|c: char| c.is_ascii_digit()));
    if tail != "Z" && tail != "+00:00" {
        return None;
    }
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((mo + 9) % 12) + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    u64::try_from(days * 86_400 + h * 3_600 + mi * 60 + s).ok()
}

/// `sanstls limbo FILE`.
#[allow(dead_code)]
/// Reads a limbo.json, or a zstd-compressed one when the name ends in `.zst` (the
/// repository keeps `vectors/x509-limbo/limbo.json.zst`).
pub fn read_limbo(file: &std::path::Path) -> std::io::Result<String> {
    use std::io::Read;
    let f = std::fs::File::open(file)?;
    let mut json = String::new();
    if file.extension().is_some_and(|e| e == "zst") {
        ruzstd::decoding::StreamingDecoder::new(std::io::BufReader::new(f))
            .map_err(std::io::Error::other)?
            .read_to_string(&mut json)?;
    } else {
        std::io::BufReader::new(f).read_to_string(&mut json)?;
    }
    Ok(json)
}

pub fn main(file: &std::path::Path) -> std::process::ExitCode {
    let json = match read_limbo(file) {
        Ok(j) => j,
        Err(e) => {
            eprintln!("{}: {e}", file.display());
            return std::process::ExitCode::FAILURE;
        }
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    match run_limbo(&json, now) {
        Ok(report) => {
            println!("{}", report.to_json());
            eprint!("{}", report.summary());
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::ExitCode::FAILURE
        }
    }
}
