//! Runs the whole x509-limbo suite through `pki::verify_chain` (via the CLI's harness)
//! and holds the line on the recorded figures.

#[allow(dead_code)]
#[path = "../cli/src/limbo.rs"]
mod limbo;

use std::path::PathBuf;

/// Matches recorded when the harness last changed; the suite must not fall below it.
const RECORDED_MATCHES: usize = 9767;

/// Testcases limbo expects to fail that we accept on purpose; each is explained in
/// PKI_README_SECTION.md. Any other acceptance of an expected failure fails this test.
const EXPLAINED_ACCEPTANCES: &[&str] = &[
    // pedantic-rfc5280: a trust anchor's own AKI is not required (it is trusted as configured).
    "rfc5280::aki::cross-signed-root-missing-aki",
    // pedantic-serial-number: RFC 5280 4.1.2.2 asks users to handle such serials gracefully.
    "rfc5280::serial::too-long",
    "rfc5280::serial::zero",
    // pedantic-webpki-eku: RFC 5280 4.2.1.12 allows an EE without EKU; roots' EKU is not judged.
    "webpki::eku::ee-without-eku",
    "webpki::eku::root-has-eku",
    // pedantic-public-suffix-wildcard: no public suffix list in the core.
    "webpki::san::public-suffix-multi-label-wildcard-san",
    "webpki::san::public-suffix-private-namespace-wildcard-san",
    // A CN unrelated to every SAN entry: 39 cases of the same shape (36 BetterTLS, and
    // webpki::san::leftmost-wildcard-san) expect it accepted; `cn_not_in_san_cannot_be_refused`.
    "webpki::cn::not-in-san",
    "webpki::cn::punycode-not-in-san",
    "webpki::cn::utf8-vs-punycode-mismatch",
];

/// The suite, shipped zstd-compressed in the repository; a missing file fails the test.
fn limbo_json() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("vectors/x509-limbo/limbo.json.zst");
    limbo::read_limbo(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn limbo_suite_holds_the_recorded_line() {
    let json = limbo_json();
    // Testcases without a validation time use the current time, as a TLS client would.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    let report = limbo::run_limbo(&json, now).expect("limbo.json parses");
    eprint!("{}", report.summary());
    let unexplained: Vec<_> = report
        .unexpected_acceptances
        .iter()
        .filter(|(id, _)| !EXPLAINED_ACCEPTANCES.contains(&id.as_str()))
        .collect();
    assert!(
        unexplained.is_empty(),
        "unexplained acceptances of expected failures: {unexplained:?}"
    );
    assert!(
        report.matches >= RECORDED_MATCHES,
        "limbo matches fell to {} (recorded {RECORDED_MATCHES}); rejections: {:?}",
        report.matches,
        report.unexpected_rejections
    );
}

/// The leaf's commonNames and its SAN entries as text (dNSName as is, iPAddress in canonical
/// form), and whether every SAN entry is a dNSName. `None` if the leaf or its SAN is unparsable.
fn leaf_cn_san(pem: &str) -> Option<(Vec<String>, Vec<String>, bool)> {
    use x509_parser::extensions::GeneralName;
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).ok()?;
    let cert = pem.parse_x509().ok()?;
    let cns = cert
        .subject()
        .iter_common_name()
        .map(|a| a.as_str().map(str::to_owned))
        .collect::<Result<Vec<_>, _>>()
        .ok()?;
    let san = cert.subject_alternative_name().ok()??;
    let mut all_dns = true;
    let mut texts = Vec::new();
    for gn in &san.value.general_names {
        match gn {
            GeneralName::DNSName(d) => texts.push((*d).to_owned()),
            GeneralName::IPAddress(ip) => {
                all_dns = false;
                if let Ok(v4) = <[u8; 4]>::try_from(*ip) {
                    texts.push(std::net::Ipv4Addr::from(v4).to_string());
                } else if let Ok(v6) = <[u8; 16]>::try_from(*ip) {
                    texts.push(std::net::Ipv6Addr::from(v6).to_string());
                }
            }
            _ => all_dns = false,
        }
    }
    Some((cns, texts, all_dns))
}

/// Evidence for the three `webpki::cn` acceptances (README, x509-limbo section): CA/B BR
/// 7.1.4.3 read as a validation rule (a commonName MUST be a character-for-character copy of
/// a SAN entry) refuses 403 chains limbo expects to succeed (389 BetterTLS). Narrowed to the
/// exact shape of the `webpki::cn` cases (server validation, DNS peer name, a dotted host-name
/// CN, a SAN of dNSNames only, none equal to the CN) 39 expected successes remain, among them
/// `webpki::san::leftmost-wildcard-san` (CN `example.com`, SAN `*.example.com`), built by the
/// same generator with the same extensions, subject layout and chain as `webpki::cn::not-in-san`.
#[test]
fn cn_not_in_san_cannot_be_refused() {
    let json = limbo_json();
    let suite: serde_json::Value = serde_json::from_str(&json).expect("limbo.json parses");
    let cases = suite["testcases"].as_array().expect("testcases");
    let (mut strict, mut same_shape, mut targets) = (Vec::new(), Vec::new(), Vec::new());
    for tc in cases {
        let id = tc["id"].as_str().unwrap_or_default();
        let Some((cns, san, all_dns)) = tc["peer_certificate"].as_str().and_then(leaf_cn_san) else {
            continue;
        };
        if cns.is_empty() || cns.iter().all(|cn| san.contains(cn)) {
            continue;
        }
        let shape = tc["validation_kind"] == "SERVER"
            && tc["expected_peer_name"]["kind"] == "DNS"
            && all_dns
            && cns
                .iter()
                .all(|cn| cn.contains('.') && cn.parse::<std::net::IpAddr>().is_err());
        match tc["expected_result"].as_str() {
            Some("SUCCESS") => {
                strict.push(id.to_owned());
                if shape {
                    same_shape.push(id.to_owned());
                }
            }
            _ if id.starts_with("webpki::cn::") && shape => targets.push(id.to_owned()),
            _ => {}
        }
    }
    eprintln!(
        "CN not in SAN: {} expected successes, {} of the webpki::cn shape; webpki::cn of that shape: {targets:?}",
        strict.len(),
        same_shape.len()
    );
    let bettertls = |v: &[String]| v.iter().filter(|id| id.starts_with("bettertls::")).count();
    assert_eq!((strict.len(), bettertls(&strict)), (403, 389));
    assert_eq!((same_shape.len(), bettertls(&same_shape)), (39, 36));
    assert!(same_shape.contains(&"webpki::san::leftmost-wildcard-san".to_owned()));
    targets.sort();
    // case-mismatch is refused anyway: its CN spells the SAN entry differently.
    assert_eq!(
        targets,
        [
            "webpki::cn::case-mismatch",
            "webpki::cn::not-in-san",
            "webpki::cn::punycode-not-in-san",
            "webpki::cn::utf8-vs-punycode-mismatch"
        ]
    );
}
