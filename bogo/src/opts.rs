//! The runner's command line (BoringSSL `test_config.cc`): the flags this shim honours, and
//! the `-on-initial-` / `-on-resume-` / `-on-retry-` prefixes that give each connection of a
//! test its own settings. Any other flag means a feature we do not provide: exit 89.

/// One `-new-x509-credential` and the `-cert-file`/`-key-file`/`-signing-prefs` after it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Credential {
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
    pub signing_prefs: Vec<u16>,
}

/// Settings of one connection of a test (initial, resumed, or the 1-RTT retry after 0-RTT
/// was refused).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Opts {
    pub port: u16,
    pub ipv6: bool,
    pub shim_id: u64,
    pub server: bool,
    pub dtls: bool,
    pub quic: bool,
    pub resume_count: u32,
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
    pub trust_cert: Option<String>,
    pub min_version: Option<u16>,
    pub max_version: Option<u16>,
    pub no_tls13: bool,
    pub no_tls12: bool,
    pub expect_version: Option<u16>,
    pub cipher: Option<String>,
    pub curves: Vec<u16>,
    pub key_shares: Option<Vec<u16>>,
    pub verify_prefs: Vec<u16>,
    pub signing_prefs: Vec<u16>,
    pub host_name: Option<String>,
    pub expect_server_name: Option<String>,
    pub expect_no_server_name: bool,
    pub advertise_alpn: Option<Vec<u8>>,
    pub expect_alpn: Option<String>,
    pub select_alpn: Option<String>,
    pub decline_alpn: bool,
    pub reject_alpn: bool,
    pub shim_writes_first: bool,
    pub shim_shuts_down: bool,
    pub check_close_notify: bool,
    pub key_update: bool,
    pub key_update_before_read: bool,
    pub export_keying_material: usize,
    pub export_label: String,
    pub export_context: String,
    pub use_export_context: bool,
    pub read_size: usize,
    pub write_different_record_sizes: bool,
    pub expect_session_miss: bool,
    pub no_ticket: bool,
    pub no_server_name_ack: bool,
    pub expect_no_session: bool,
    pub expect_ticket_renewal: bool,
    pub enable_early_data: bool,
    pub expect_accept_early_data: bool,
    pub expect_reject_early_data: bool,
    pub expect_ticket_supports_early_data: bool,
    pub expect_no_offer_early_data: bool,
    pub expect_hrr: bool,
    pub expect_no_hrr: bool,
    pub expect_extended_master_secret: bool,
    pub expect_secure_renegotiation: bool,
    pub expect_no_secure_renegotiation: bool,
    pub expect_peer_signature_algorithm: Option<u16>,
    pub expect_curve_id: Option<u16>,
    pub expect_cipher: Option<u16>,
    pub expect_cipher_aes: Option<u16>,
    pub expect_cipher_no_aes: Option<u16>,
    pub expect_peer_cert_file: Option<String>,
    pub expect_no_peer_cert: bool,
    pub verify_peer: bool,
    pub verify_fail: bool,
    pub reverify_on_resume: bool,
    pub require_any_client_certificate: bool,
    pub resumption_delay: u64,
    pub mtu: Option<usize>,
    pub initial_timeout_ms: Option<u64>,
    pub quic_transport_params: Option<Vec<u8>>,
    pub expect_quic_transport_params: Option<Vec<u8>>,
    pub peek_then_read: bool,
    pub credentials: Vec<Credential>,
    pub expect_selected_credential: Option<i32>,
    pub expect_early_data_reason: Option<String>,
    pub expect_verify_result: bool,
    pub quic_legacy_codepoint: bool,
    /// A BoringSSL compliance policy flag (`-fips-202205`, `-wpa-202304`, ...), without the dash.
    pub compliance_policy: Option<String>,
}

/// Why the shim cannot run a test: the flag it does not implement.
#[derive(Debug)]
pub struct Unimplemented(pub String);

/// Flags that change nothing for a sans-I/O engine driven by a blocking loop: BoringSSL's
/// asynchronous callbacks and BIOs, its handshake entry points, its debugging aids.
const NO_OP_FLAGS: &[&str] = &[
    "-async",
    "-implicit-handshake",
    "-handshake-twice",
    "-no-op-extra-handshake",
    "-forbid-renegotiation-after-handshake",
    "-use-custom-verify-callback",
    "-use-old-client-cert-callback",
    "-install-ddos-callback",
    "-wait-for-debugger",
    "-no-tls11",
    "-no-tls1",
    "-use-early-callback",
];

/// Flags with a parameter that we accept without acting on them. (Not
/// `-private-key-delay-ms`: a signature that takes time, during which BoringSSL's ACK timer
/// runs; sanstls signs synchronously inside the step, so the flag is unimplemented.)
const NO_OP_PARAM_FLAGS: &[&str] = &["-write-settings"];

fn takes_param(name: &str) -> Option<bool> {
    const BOOL: &[&str] = &[
        "-ipv6",
        "-server",
        "-dtls",
        "-quic",
        "-no-tls13",
        "-no-tls12",
        "-no-key-shares",
        "-decline-alpn",
        "-reject-alpn",
        "-shim-writes-first",
        "-shim-shuts-down",
        "-check-close-notify",
        "-key-update",
        "-key-update-before-read",
        "-use-export-context",
        "-write-different-record-sizes",
        "-expect-session-miss",
        "-no-ticket",
        "-no-server-name-ack",
        "-expect-no-session",
        "-expect-ticket-renewal",
        "-enable-early-data",
        "-expect-accept-early-data",
        "-expect-reject-early-data",
        "-expect-ticket-supports-early-data",
        "-expect-no-offer-early-data",
        "-expect-hrr",
        "-expect-no-hrr",
        "-expect-extended-master-secret",
        "-expect-secure-renegotiation",
        "-expect-no-secure-renegotiation",
        "-expect-no-peer-cert",
        "-expect-no-server-name",
        "-verify-peer",
        "-verify-fail",
        "-reverify-on-resume",
        "-require-any-client-certificate",
        "-is-handshaker-supported",
        "-peek-then-read",
        "-new-x509-credential",
        "-expect-verify-result",
        "-fips-202205",
        "-wpa-202304",
        "-cnsa1-202603",
        "-cnsa2-202603",
        "-cnsa-202407",
    ];
    const PARAM: &[&str] = &[
        "-port",
        "-shim-id",
        "-resume-count",
        "-cert-file",
        "-key-file",
        "-trust-cert",
        "-min-version",
        "-max-version",
        "-expect-version",
        "-cipher",
        "-curves",
        "-key-shares",
        "-verify-prefs",
        "-signing-prefs",
        "-host-name",
        "-expect-server-name",
        "-advertise-alpn",
        "-expect-alpn",
        "-select-alpn",
        "-export-keying-material",
        "-export-label",
        "-export-context",
        "-read-size",
        "-expect-peer-signature-algorithm",
        "-expect-curve-id",
        "-expect-cipher",
        "-expect-cipher-aes",
        "-expect-cipher-no-aes",
        "-expect-peer-cert-file",
        "-expect-early-data-reason",
        "-resumption-delay",
        "-mtu",
        "-initial-timeout-duration-ms",
        "-quic-transport-params",
        "-expect-quic-transport-params",
        "-expect-total-renegotiations",
        "-expect-selected-credential",
        "-quic-use-legacy-codepoint",
    ];
    if BOOL.contains(&name) || NO_OP_FLAGS.contains(&name) {
        Some(false)
    } else if PARAM.contains(&name) || NO_OP_PARAM_FLAGS.contains(&name) {
        Some(true)
    } else {
        None
    }
}

fn int<T: std::str::FromStr>(name: &str, v: &str) -> Result<T, Unimplemented> {
    v.parse()
        .map_err(|_| Unimplemented(format!("bad value {v:?} for {name}")))
}

impl Opts {
    fn set(&mut self, name: &str, v: Option<&str>) -> Result<(), Unimplemented> {
        let s = || v.unwrap_or_default().to_string();
        let p = v.unwrap_or_default();
        match name {
            "-port" => self.port = int(name, p)?,
            "-ipv6" => self.ipv6 = true,
            "-shim-id" => self.shim_id = int(name, p)?,
            "-server" => self.server = true,
            "-dtls" => self.dtls = true,
            "-quic" => self.quic = true,
            "-resume-count" => self.resume_count = int(name, p)?,
            "-new-x509-credential" => self.credentials.push(Credential::default()),
            // After -new-x509-credential these describe that credential (test_config.cc
            // CredentialFlagWithDefault).
            "-cert-file" => match self.credentials.last_mut() {
                Some(c) => c.cert_file = Some(s()),
                None => self.cert_file = Some(s()),
            },
            "-key-file" => match self.credentials.last_mut() {
                Some(c) => c.key_file = Some(s()),
                None => self.key_file = Some(s()),
            },
            "-expect-selected-credential" => self.expect_selected_credential = Some(int(name, p)?),
            "-expect-early-data-reason" => self.expect_early_data_reason = Some(s()),
            "-expect-verify-result" => self.expect_verify_result = true,
            "-trust-cert" => self.trust_cert = Some(s()),
            "-min-version" => self.min_version = Some(int(name, p)?),
            "-max-version" => self.max_version = Some(int(name, p)?),
            "-no-tls13" => self.no_tls13 = true,
            "-no-tls12" => self.no_tls12 = true,
            "-expect-version" => self.expect_version = Some(int(name, p)?),
            "-cipher" => self.cipher = Some(s()),
            "-curves" => self.curves.push(int(name, p)?),
            "-key-shares" => self.key_shares.get_or_insert_with(Vec::new).push(int(name, p)?),
            "-no-key-shares" => self.key_shares = Some(Vec::new()),
            "-verify-prefs" => self.verify_prefs.push(int(name, p)?),
            "-signing-prefs" => {
                let v = int(name, p)?;
                match self.credentials.last_mut() {
                    Some(c) => c.signing_prefs.push(v),
                    None => self.signing_prefs.push(v),
                }
            }
            "-host-name" => self.host_name = Some(s()),
            "-expect-server-name" => self.expect_server_name = Some(s()),
            "-expect-no-server-name" => self.expect_no_server_name = true,
            "-advertise-alpn" => self.advertise_alpn = Some(p.as_bytes().to_vec()),
            "-expect-alpn" => self.expect_alpn = Some(s()),
            "-select-alpn" => self.select_alpn = Some(s()),
            "-decline-alpn" => self.decline_alpn = true,
            "-reject-alpn" => self.reject_alpn = true,
            "-shim-writes-first" => self.shim_writes_first = true,
            "-shim-shuts-down" => self.shim_shuts_down = true,
            "-check-close-notify" => self.check_close_notify = true,
            "-key-update" => self.key_update = true,
            "-key-update-before-read" => self.key_update_before_read = true,
            "-export-keying-material" => self.export_keying_material = int(name, p)?,
            "-export-label" => self.export_label = s(),
            "-export-context" => self.export_context = s(),
            "-use-export-context" => self.use_export_context = true,
            "-read-size" => self.read_size = int(name, p)?,
            "-write-different-record-sizes" => self.write_different_record_sizes = true,
            "-expect-session-miss" => self.expect_session_miss = true,
            "-no-ticket" => self.no_ticket = true,
            "-no-server-name-ack" => self.no_server_name_ack = true,
            "-expect-no-session" => self.expect_no_session = true,
            "-expect-ticket-renewal" => self.expect_ticket_renewal = true,
            "-enable-early-data" => self.enable_early_data = true,
            "-expect-accept-early-data" => self.expect_accept_early_data = true,
            "-expect-reject-early-data" => self.expect_reject_early_data = true,
            "-expect-ticket-supports-early-data" => self.expect_ticket_supports_early_data = true,
            "-expect-no-offer-early-data" => self.expect_no_offer_early_data = true,
            "-expect-hrr" => self.expect_hrr = true,
            "-expect-no-hrr" => self.expect_no_hrr = true,
            "-expect-extended-master-secret" => self.expect_extended_master_secret = true,
            "-expect-secure-renegotiation" => self.expect_secure_renegotiation = true,
            "-expect-no-secure-renegotiation" => self.expect_no_secure_renegotiation = true,
            "-expect-peer-signature-algorithm" => self.expect_peer_signature_algorithm = Some(int(name, p)?),
            "-expect-curve-id" => self.expect_curve_id = Some(int(name, p)?),
            "-expect-cipher" => self.expect_cipher = Some(int(name, p)?),
            "-expect-cipher-aes" => self.expect_cipher_aes = Some(int(name, p)?),
            "-expect-cipher-no-aes" => self.expect_cipher_no_aes = Some(int(name, p)?),
            "-expect-peer-cert-file" => self.expect_peer_cert_file = Some(s()),
            "-expect-no-peer-cert" => self.expect_no_peer_cert = true,
            "-verify-peer" => self.verify_peer = true,
            "-verify-fail" => self.verify_fail = true,
            "-reverify-on-resume" => self.reverify_on_resume = true,
            "-require-any-client-certificate" => self.require_any_client_certificate = true,
            "-resumption-delay" => self.resumption_delay = int(name, p)?,
            "-mtu" => self.mtu = Some(int(name, p)?),
            "-initial-timeout-duration-ms" => self.initial_timeout_ms = Some(int(name, p)?),
            "-quic-transport-params" => self.quic_transport_params = Some(base64(name, p)?),
            "-expect-quic-transport-params" => self.expect_quic_transport_params = Some(base64(name, p)?),
            "-peek-then-read" => self.peek_then_read = true,
            "-fips-202205" | "-wpa-202304" | "-cnsa1-202603" | "-cnsa2-202603" | "-cnsa-202407" => {
                self.compliance_policy = Some(name[1..].to_string())
            }
            "-quic-use-legacy-codepoint" => self.quic_legacy_codepoint = p != "0",
            // We never renegotiate, so zero is the only count we can meet.
            "-expect-total-renegotiations" if p == "0" => {}
            "-expect-total-renegotiations" => return Err(Unimplemented(name.into())),
            _ if NO_OP_FLAGS.contains(&name) || NO_OP_PARAM_FLAGS.contains(&name) => {}
            _ => return Err(Unimplemented(name.into())),
        }
        Ok(())
    }
}

/// Every flag of `args` this shim does not know (a flag's value is taken to be the next
/// argument when it does not start with `-`), for the unimplemented log: which flags, once
/// implemented, would let the most tests run.
pub fn unknown_flags(args: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let mut name = args[i].as_str();
        for prefix in [
            "-on-shim-",
            "-on-handshaker-",
            "-on-initial-",
            "-on-resume-",
            "-on-retry-",
        ] {
            if let Some(rest) = name.strip_prefix(prefix) {
                name = &name[name.len() - rest.len() - 1..];
            }
        }
        match takes_param(name) {
            Some(true) => i += 1,
            Some(false) => {}
            None => {
                if !out.iter().any(|f| f == name) {
                    out.push(name.to_string());
                }
                if args.get(i + 1).is_some_and(|v| !v.starts_with('-')) {
                    i += 1;
                }
            }
        }
        i += 1;
    }
    out
}

/// The parsed command line.
pub enum Command {
    /// `-is-handshaker-supported`: split handshakes are BoringSSL's; answer "No".
    HandshakerSupported,
    /// Run a test: the initial, resumption and retry settings.
    Run(Box<[Opts; 3]>),
}

pub fn parse(args: &[String]) -> Result<Command, Unimplemented> {
    let mut out: [Opts; 3] = Default::default();
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_str();
        let mut name = arg;
        let mut skip = false;
        if let Some(rest) = name.strip_prefix("-on-shim-") {
            name = &arg[arg.len() - rest.len() - 1..];
        } else if let Some(rest) = name.strip_prefix("-on-handshaker-") {
            name = &arg[arg.len() - rest.len() - 1..];
            skip = true;
        }
        let mut target: Option<usize> = None;
        for (idx, prefix) in ["-on-initial-", "-on-resume-", "-on-retry-"].iter().enumerate() {
            if let Some(rest) = name.strip_prefix(prefix) {
                name = &name[name.len() - rest.len() - 1..];
                target = Some(idx);
            }
        }
        // Our verifier is the connection's for its whole life: it does not change when the
        // handshake goes on after a 0-RTT rejection, as BoringSSL's retry does.
        if target == Some(2) && name == "-verify-fail" {
            return Err(Unimplemented("-on-retry-verify-fail".into()));
        }
        if name == "-is-handshaker-supported" {
            return Ok(Command::HandshakerSupported);
        }
        let Some(has_param) = takes_param(name) else {
            return Err(Unimplemented(name.to_string()));
        };
        let param = if has_param {
            i += 1;
            Some(
                args.get(i)
                    .ok_or_else(|| Unimplemented(format!("missing parameter for {name}")))?
                    .as_str(),
            )
        } else {
            None
        };
        if !skip {
            match target {
                Some(t) => out[t].set(name, param)?,
                None => {
                    for o in out.iter_mut() {
                        o.set(name, param)?;
                    }
                }
            }
        }
        i += 1;
    }
    Ok(Command::Run(Box::new(out)))
}

/// Standard base64 (RFC 4648 4), as the runner encodes binary flag values.
pub fn base64(name: &str, s: &str) -> Result<Vec<u8>, Unimplemented> {
    let bad = || Unimplemented(format!("bad base64 for {name}"));
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            _ => return Err(bad()),
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<[Opts; 3], Unimplemented> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        match parse(&args)? {
            Command::Run(o) => Ok(*o),
            Command::HandshakerSupported => panic!("not a run"),
        }
    }

    #[test]
    fn prefixes_pick_the_connection() {
        let [initial, resume, retry] = run(&[
            "-port",
            "1",
            "-on-resume-host-name",
            "r",
            "-on-initial-curves",
            "29",
            "-on-shim-server",
            "-on-handshaker-no-tls13",
            "-curves",
            "23",
        ])
        .unwrap();
        assert_eq!(initial.port, 1);
        assert_eq!(resume.host_name.as_deref(), Some("r"));
        assert_eq!(initial.host_name, None);
        assert_eq!(initial.curves, [29, 23]);
        assert_eq!(resume.curves, [23]);
        assert!(initial.server && resume.server && retry.server);
        assert!(!initial.no_tls13, "-on-handshaker- flags are not the shim's");
    }

    #[test]
    fn credentials_take_the_flags_after_them() {
        let [o, ..] = run(&[
            "-cert-file",
            "a",
            "-new-x509-credential",
            "-cert-file",
            "b",
            "-signing-prefs",
            "1027",
        ])
        .unwrap();
        assert_eq!(o.cert_file.as_deref(), Some("a"));
        assert_eq!(o.credentials[0].cert_file.as_deref(), Some("b"));
        assert_eq!(o.credentials[0].signing_prefs, [1027]);
        assert!(o.signing_prefs.is_empty());
    }

    #[test]
    fn unknown_flags_and_values_are_unimplemented() {
        assert!(run(&["-enable-channel-id"]).is_err());
        assert!(run(&["-expect-total-renegotiations", "1"]).is_err());
        assert!(run(&["-expect-total-renegotiations", "0"]).is_ok());
        assert!(run(&["-port"]).is_err());
        assert!(matches!(
            parse(&["-is-handshaker-supported".to_string()]),
            Ok(Command::HandshakerSupported)
        ));
    }

    #[test]
    fn base64_decodes_with_and_without_padding() {
        assert_eq!(base64("x", "aGVsbG8=").unwrap(), b"hello");
        assert_eq!(base64("x", "aGVsbG8").unwrap(), b"hello");
        assert!(base64("x", "a*").is_err());
    }
}
