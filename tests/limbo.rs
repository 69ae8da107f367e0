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
    // A CN unrelated to every SAN entry: 389 BetterTLS cases expect exactly this accepted.
    "webpki::cn::not-in-san",
    "webpki::cn::punycode-not-in-san",
    "webpki::cn::utf8-vs-punycode-mismatch",
];

fn limbo_json() -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    [
        "../shared/vectors/x509-limbo/limbo.json",
        "../../shared/vectors/x509-limbo/limbo.json",
    ]
    .iter()
    .map(|rel| root.join(rel))
    .find(|p| p.is_file())
}

#[test]
fn limbo_suite_holds_the_recorded_line() {
    let Some(path) = limbo_json() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI: x509-limbo/limbo.json is missing from ../shared/vectors"
        );
        eprintln!("limbo.json not found beside the crate; skipping outside CI");
        return;
    };
    let json = std::fs::read_to_string(&path).expect("read limbo.json");
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
