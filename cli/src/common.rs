//! Pieces `connect` and `serve` share: name parsing and the handshake summary line.

use sanstls::codec::{CipherSuite, NamedGroup, ProtocolVersion};
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

/// Protocol version selection shared by `connect` and `serve`.
#[derive(clap::Args, Debug, Default)]
pub struct VersionArgs {
    /// Speak only TLS 1.2.
    #[arg(long, conflicts_with_all = ["tls13", "min_version", "max_version"])]
    pub tls12: bool,
    /// Speak only TLS 1.3.
    #[arg(long, conflicts_with_all = ["min_version", "max_version"])]
    pub tls13: bool,
    /// Lowest version to enable: 1.2 or 1.3 (also TLSv1.2, TLSv1.3).
    #[arg(long, value_name = "VERSION")]
    pub min_version: Option<String>,
    /// Highest version to enable: 1.2 or 1.3.
    #[arg(long, value_name = "VERSION")]
    pub max_version: Option<String>,
}

fn parse_version(v: &str) -> Result<u8, BoxError> {
    match v.trim_start_matches("TLSv").trim_start_matches("tls") {
        "1.2" | "12" => Ok(2),
        "1.3" | "13" => Ok(3),
        other => Err(format!("unsupported TLS version {other} (1.2 or 1.3)").into()),
    }
}

impl VersionArgs {
    /// The enabled versions, highest first; `None` leaves the default (1.3 and 1.2).
    pub fn versions(&self) -> Result<Option<Vec<ProtocolVersion>>, BoxError> {
        let (lo, hi) = if self.tls12 {
            (2, 2)
        } else if self.tls13 {
            (3, 3)
        } else if self.min_version.is_none() && self.max_version.is_none() {
            return Ok(None);
        } else {
            let lo = self
                .min_version
                .as_deref()
                .map(parse_version)
                .transpose()?
                .unwrap_or(2);
            let hi = self
                .max_version
                .as_deref()
                .map(parse_version)
                .transpose()?
                .unwrap_or(3);
            (lo, hi)
        };
        if lo > hi {
            return Err("--min-version is above --max-version".into());
        }
        Ok(Some(
            [(3, ProtocolVersion::TLSv1_3), (2, ProtocolVersion::TLSv1_2)]
                .into_iter()
                .filter(|(n, _)| (lo..=hi).contains(n))
                .map(|(_, v)| v)
                .collect(),
        ))
    }
}

fn or_dash<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "-".into())
}

/// `version=TLSv1.3 suite=... group=... sigscheme=... alpn=... resumed=no`; TLS 1.2 lines end
/// with ` ems=yes|no`.
pub fn handshake_summary(conn: &Connection) -> String {
    let alpn = conn
        .alpn_protocol()
        .map(|p| String::from_utf8_lossy(p).into_owned());
    let ems = match conn.extended_master_secret() {
        Some(true) => " ems=yes",
        Some(false) => " ems=no",
        None => "",
    };
    format!(
        "version={} suite={} group={} sigscheme={} alpn={} resumed={}{}",
        or_dash(conn.protocol_version()),
        or_dash(conn.cipher_suite()),
        or_dash(conn.key_exchange_group()),
        or_dash(conn.signature_scheme()),
        or_dash(alpn),
        if conn.is_resumed() { "yes" } else { "no" },
        ems,
    )
}
