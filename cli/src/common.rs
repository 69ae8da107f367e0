//! Pieces `connect` and `serve` share: name parsing and the handshake summary line.

use sanstls::codec::{CipherSuite, NamedGroup};
use sanstls::Connection;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

pub fn parse_suites(names: &[String]) -> Result<Vec<CipherSuite>, BoxError> {
    names
        .iter()
        .map(|n| CipherSuite::from_name(n).ok_or_else(|| format!("unknown cipher suite {n}").into()))
        .collect()
}

pub fn parse_groups(names: &[String]) -> Result<Vec<NamedGroup>, BoxError> {
    names
        .iter()
        .map(|n| NamedGroup::from_name(n).ok_or_else(|| format!("unknown group {n}").into()))
        .collect()
}

fn or_dash<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "-".into())
}

/// `version=TLSv1.3 suite=... group=... sigscheme=... alpn=... resumed=no`
pub fn handshake_summary(conn: &Connection) -> String {
    let alpn = conn
        .alpn_protocol()
        .map(|p| String::from_utf8_lossy(p).into_owned());
    format!(
        "version={} suite={} group={} sigscheme={} alpn={} resumed={}",
        or_dash(conn.protocol_version()),
        or_dash(conn.cipher_suite()),
        or_dash(conn.key_exchange_group()),
        or_dash(conn.signature_scheme()),
        or_dash(alpn),
        if conn.is_resumed() { "yes" } else { "no" },
    )
}
