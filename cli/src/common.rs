//! Pieces `connect` and `serve` share: name parsing and the handshake summary line.

use sanstls::codec::{CipherSuite, ContentType, HandshakeType, NamedGroup, ProtocolVersion, SignatureScheme};
use sanstls::{Connection, Direction, RecordObserver};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The address `--listen` names, resolved; an error names the value and says what is wrong.
pub fn listen_addr(listen: &str) -> Result<std::net::SocketAddr, BoxError> {
    let mut addrs = std::net::ToSocketAddrs::to_socket_addrs(listen)
        .map_err(|e| format!("--listen {listen}: {e} (expected HOST:PORT, e.g. 127.0.0.1:8443)"))?;
    addrs
        .next()
        .ok_or_else(|| format!("--listen {listen}: resolves to no address").into())
}

/// Wraps a bind failure (an address in use, a port we may not take) with the address.
pub fn bind_error(addr: std::net::SocketAddr, e: std::io::Error) -> BoxError {
    format!("cannot listen on {addr}: {e}").into()
}

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

fn parse_version(v: &str) -> Result<u8, BoxError> {
    match v.trim_start_matches("TLSv").trim_start_matches("tls") {
        "1.2" | "12" => Ok(2),
        "1.3" | "13" => Ok(3),
        other => Err(format!("unsupported TLS version {other} (1.2 or 1.3)").into()),
    }
}

impl TlsArgs {
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

/// The DTLS versions the flags leave, for the server's `listening on` line: `1.3/1.2`, `1.3`
/// or `1.2` (DTLS 1.3 runs on the TLS 1.3 settings, DTLS 1.2 on the TLS 1.2 ones).
pub fn dtls_versions_label(args: &TlsArgs) -> Result<String, BoxError> {
    let versions = args
        .versions()?
        .unwrap_or_else(|| vec![ProtocolVersion::TLSv1_3, ProtocolVersion::TLSv1_2]);
    Ok(versions
        .iter()
        .map(|v| {
            if *v == ProtocolVersion::TLSv1_3 {
                "1.3"
            } else {
                "1.2"
            }
        })
        .collect::<Vec<_>>()
        .join("/"))
}

fn or_dash<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "-".into())
}

/// ` psk=IDENTITY` when the handshake used an external PSK, else nothing.
pub fn psk_word(identity: Option<&[u8]>) -> String {
    identity
        .map(|id| format!(" psk={}", String::from_utf8_lossy(id)))
        .unwrap_or_default()
}

/// The suites a PSK client offers by default (`connect --psk` without `--suite`): the
/// TLS 1.2 PSK suites, ECDHE_PSK first (forward secrecy).
pub const PSK_SUITES: &[CipherSuite] = &[
    CipherSuite::TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256,
    CipherSuite::TLS_PSK_WITH_AES_128_GCM_SHA256,
    CipherSuite::TLS_PSK_WITH_AES_128_CCM_8,
];

/// A server's default suites with a PSK file: the library's defaults, then [`PSK_SUITES`]
/// (a client with a certificate in mind never offers a PSK suite, a PSK client only those).
pub fn server_suites_with_psk() -> Vec<CipherSuite> {
    let tls13 = sanstls::crypto::TLS13_SUITES
        .iter()
        .filter(|s| !s.opt_in)
        .map(|s| s.suite);
    let tls12 = sanstls::crypto::TLS12_SUITES
        .iter()
        .filter(|s| !s.opt_in)
        .map(|s| s.suite);
    tls13.chain(tls12).chain(PSK_SUITES.iter().copied()).collect()
}

/// `version=TLSv1.3 suite=... group=... sigscheme=... alpn=... resumed=no`; TLS 1.2 lines end
/// with ` ems=yes|no`, then ` psk=IDENTITY` after a PSK handshake.
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
        "version={} suite={} group={} sigscheme={} alpn={} resumed={}{}{}",
        or_dash(conn.protocol_version()),
        or_dash(conn.cipher_suite()),
        or_dash(conn.key_exchange_group()),
        or_dash(conn.signature_scheme()),
        or_dash(alpn),
        if conn.is_resumed() { "yes" } else { "no" },
        ems,
        psk_word(conn.psk_identity()),
    )
}

pub fn parse_schemes(names: &[String]) -> Result<Vec<SignatureScheme>, BoxError> {
    names
        .iter()
        .map(|n| SignatureScheme::from_name(n).ok_or_else(|| format!("unknown signature scheme {n}").into()))
        .collect()
}

/// The TLS settings `connect` and `serve` share. A new shared flag is a field here plus a
/// line in `apply_tls_args!`.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct TlsArgs {
    /// ALPN protocol (repeat for several, in preference order).
    #[arg(long = "alpn")]
    pub alpn: Vec<String>,
    /// Cipher suite by IANA name (repeatable, preference order).
    #[arg(long = "suite")]
    pub suites: Vec<String>,
    /// Key-exchange group: x25519, secp256r1, secp384r1, or a post-quantum hybrid
    /// X25519MLKEM768, SecP256r1MLKEM768, SecP384r1MLKEM1024 (repeatable, preference order;
    /// default X25519MLKEM768, x25519, secp256r1, secp384r1).
    #[arg(long = "group")]
    pub groups: Vec<String>,
    /// Signature scheme to accept from the peer, by IANA name (repeatable, preference order).
    #[arg(long = "sigscheme")]
    pub schemes: Vec<String>,
    /// Append NSS key log lines to FILE.
    #[arg(long)]
    pub keylog: Option<std::path::PathBuf>,
    /// Trace every record and handshake message (type, length, epoch) through the log.
    #[arg(long)]
    pub log_records: bool,
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

/// Applies [`TlsArgs`] to a client or server config builder (they share these setters).
#[macro_export]
macro_rules! apply_tls_args {
    ($builder:expr, $args:expr) => {{
        let args: &$crate::common::TlsArgs = $args;
        let mut b = $builder;
        if !args.suites.is_empty() {
            b = b.cipher_suites(&$crate::common::parse_suites(&args.suites)?);
        }
        if !args.groups.is_empty() {
            b = b.groups(&$crate::common::parse_groups(&args.groups)?);
        }
        if !args.schemes.is_empty() {
            b = b.signature_schemes(&$crate::common::parse_schemes(&args.schemes)?);
        }
        if !args.alpn.is_empty() {
            b = b.alpn_protocols(&args.alpn);
        }
        if let Some(path) = &args.keylog {
            b = b.key_log(std::sync::Arc::new(sanstls::KeyLogFile::create(path)?));
        }
        if args.log_records {
            b = b.record_observer(std::sync::Arc::new($crate::common::TraceRecords));
        }
        if let Some(versions) = args.versions()? {
            b = b.versions(&versions);
        }
        b
    }};
}

/// `--log-records`: each record and handshake message as a tracing event (inside the
/// connection's span, so the lines name the connection).
pub struct TraceRecords;

impl RecordObserver for TraceRecords {
    fn record(&self, dir: Direction, typ: ContentType, len: usize, epoch: u16) {
        tracing::info!(target: "sanstls::records", "record {} {typ} len={len} epoch={epoch}", arrow(dir));
    }
    fn handshake(&self, dir: Direction, typ: HandshakeType, len: usize, epoch: u16) {
        tracing::info!(target: "sanstls::records", "handshake {} {typ} len={len} epoch={epoch}", arrow(dir));
    }
}

fn arrow(dir: Direction) -> &'static str {
    match dir {
        Direction::Received => "<-",
        Direction::Sent => "->",
    }
}

/// Logs to stderr at `level` (error, warn, info, debug, trace).
pub fn init_log(level: &str) -> Result<(), BoxError> {
    let level: tracing::Level = level.parse().map_err(|_| format!("unknown log level {level}"))?;
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(false)
        .try_init()
        .map_err(|e| format!("log: {e}"))?;
    Ok(())
}

/// The 0-RTT outcome for the `handshake:` line: `accepted`, `rejected` or `-` (not offered).
pub fn early_data_word(conn: &Connection) -> &'static str {
    match conn.early_data_status() {
        Some(true) => "accepted",
        Some(false) => "rejected",
        None => "-",
    }
}

/// `--srtp PROFILE[,PROFILE]`: DTLS-SRTP profiles by IANA name (SRTP_AES128_CM_HMAC_SHA1_80,
/// SRTP_AES128_CM_HMAC_SHA1_32, SRTP_AEAD_AES_128_GCM, SRTP_AEAD_AES_256_GCM) or by
/// OpenSSL's shorter names (SRTP_AES128_CM_SHA1_80, SRTP_AES128_CM_SHA1_32).
pub fn parse_srtp_profiles(list: &str) -> Result<Vec<sanstls::srtp::SrtpProtectionProfile>, BoxError> {
    use sanstls::srtp::SrtpProtectionProfile as P;
    list.split([',', ':'])
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|n| {
            P::from_name(n)
                .or_else(|| P::from_name(&n.replace("_CM_SHA1_", "_CM_HMAC_SHA1_")))
                .ok_or_else(|| format!("unknown SRTP profile {n}").into())
        })
        .collect()
}

/// `--fingerprint`: certificate fingerprints in SDP form (`sha-256 AB:CD:..`, or
/// `sha-256:AB:CD:..`), any of which authenticates the peer in place of a CA.
pub fn fingerprint_verifier(texts: &[String]) -> Result<sanstls::pki::FingerprintVerifier, BoxError> {
    let fingerprints = texts
        .iter()
        .map(|t| sanstls::pki::Fingerprint::parse(t))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(sanstls::pki::FingerprintVerifier::new(fingerprints)?)
}

/// ` srtp=PROFILE srtp_keys=HEX` for a handshake line when use_srtp was negotiated: the
/// exporter's 2 * (key + salt) bytes (RFC 5764 4.2), as `openssl -keymatexport` prints them.
pub fn srtp_summary(neg: &sanstls::Negotiated) -> String {
    match (neg.srtp_profile(), neg.srtp_keying_material()) {
        (Some(profile), Ok(keys)) => {
            let hex: String = keys.to_exported().iter().map(|b| format!("{b:02X}")).collect();
            format!(" srtp={profile} srtp_keys={hex}")
        }
        (Some(profile), Err(e)) => format!(" srtp={profile} srtp_keys=({e})"),
        (None, _) => String::new(),
    }
}
