//! Reference names (what the client wants to reach), presented names (subjectAltName),
//! and name constraints (RFC 5280 4.2.1.10).

use std::net::IpAddr;

use x509_parser::extensions::{GeneralName, NameConstraints};

use super::der::{self, Der};
use super::CertError;

/// The identity a server certificate must carry in its subjectAltName.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ServerName {
    /// A DNS name in ASCII (IDNs as A-labels), lower-cased, no trailing dot.
    Dns(String),
    /// An IPv4 or IPv6 address, matched against iPAddress SAN entries.
    Ip(IpAddr),
}

impl ServerName {
    /// Parses an IP address literal or a DNS name in preferred name syntax (RFC 1034 3.5,
    /// RFC 5280 4.2.1.6). A single trailing dot is dropped; IDNs must already be A-labels.
    pub fn parse(s: &str) -> Result<Self, CertError> {
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Ok(ServerName::Ip(ip));
        }
        let name = s.strip_suffix('.').unwrap_or(s);
        // An all-numeric last label would be confused with an address.
        let last_numeric = name
            .rsplit('.')
            .next()
            .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()));
        if !valid_dns_name(name, false) || last_numeric {
            return Err(CertError::InvalidServerName);
        }
        Ok(ServerName::Dns(name.to_ascii_lowercase()))
    }
}

/// `"example.com".try_into()`, as with rustls's `ServerName`.
impl TryFrom<&str> for ServerName {
    type Error = CertError;

    fn try_from(s: &str) -> Result<Self, CertError> {
        ServerName::parse(s)
    }
}

impl TryFrom<String> for ServerName {
    type Error = CertError;

    fn try_from(s: String) -> Result<Self, CertError> {
        ServerName::parse(&s)
    }
}

impl core::fmt::Display for ServerName {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ServerName::Dns(d) => f.write_str(d),
            ServerName::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

const MAX_DNS_NAME: usize = 253;

/// Preferred name syntax: labels of 1..=63 letters, digits and hyphens, no hyphen at
/// either end. With `wildcard`, the left-most label may be exactly `*` (RFC 6125 6.4.3 as
/// CA/B BR 7.1.4.2.1 restricts it) provided at least two labels follow.
pub(crate) fn valid_dns_name(name: &str, wildcard: bool) -> bool {
    if name.is_empty() || name.len() > MAX_DNS_NAME {
        return false;
    }
    let mut labels = name.split('.');
    let mut rest_labels = 0usize;
    if wildcard && name.starts_with("*.") {
        labels.next();
        rest_labels = 2;
    }
    let mut count = 0usize;
    for label in labels {
        if !valid_label(label) {
            return false;
        }
        count += 1;
    }
    count >= rest_labels.max(1)
}

fn valid_label(label: &str) -> bool {
    let b = label.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        && b.first() != Some(&b'-')
        && b.last() != Some(&b'-')
}

/// Does a presented SAN dNSName match the reference name? ASCII case-insensitive; a
/// wildcard stands for exactly one whole left-most label (RFC 6125 6.4.3).
pub(crate) fn dns_matches(presented: &str, reference: &str) -> bool {
    if !valid_dns_name(presented, true) {
        return false;
    }
    match presented.strip_prefix("*.") {
        Some(rest) => match reference.split_once('.') {
            Some((first, ref_rest)) => !first.is_empty() && ref_rest.eq_ignore_ascii_case(rest),
            None => false,
        },
        None => presented.eq_ignore_ascii_case(reference),
    }
}

/// Does the certificate's SAN carry the reference name? No CN fallback (RFC 6125 6.4.4,
/// CA/B BR 7.1.4.3: the CN, if any, repeats a SAN entry).
pub(crate) fn san_matches(san: Option<&[GeneralName<'_>]>, name: &ServerName) -> bool {
    let Some(san) = san else { return false };
    san.iter().any(|gn| match (gn, name) {
        (GeneralName::DNSName(p), ServerName::Dns(r)) => dns_matches(p, r),
        (GeneralName::IPAddress(p), ServerName::Ip(IpAddr::V4(r))) => *p == r.octets(),
        (GeneralName::IPAddress(p), ServerName::Ip(IpAddr::V6(r))) => *p == r.octets(),
        _ => false,
    })
}

/// The DNS names and addresses of a subjectAltName, as text, for an error message.
pub(crate) fn san_names(san: Option<&[GeneralName<'_>]>) -> Vec<String> {
    san.unwrap_or(&[])
        .iter()
        .filter_map(|gn| match gn {
            GeneralName::DNSName(d) => Some(d.to_string()),
            GeneralName::IPAddress(ip) => ip_text(ip),
            _ => None,
        })
        .collect()
}

/// CA/B BR 7.1.4.3: a subscriber's commonName that names the same host or address as a
/// SAN entry must be a character-for-character copy of it (an IPv6 address in RFC 5952
/// form). A CN that spells a SAN identity differently (case, hex or zero-padded IPv4,
/// uncompressed IPv6, a U-label for an A-label) is refused: software that reads the CN
/// would see another name than the one validated. A CN unrelated to every SAN entry is
/// left alone (BetterTLS expects such chains to be accepted).
pub(crate) fn check_common_names(
    cns: &[Option<&str>],
    san: Option<&[GeneralName<'_>]>,
) -> Result<(), CertError> {
    let san = san.unwrap_or(&[]);
    let bad = CertError::Profile("commonName spells a subjectAltName entry differently");
    for cn in cns.iter().flatten() {
        let cn_ip = lenient_ip(cn);
        let cn_ascii = to_ascii_lower(cn);
        for gn in san {
            match gn {
                GeneralName::DNSName(d) => {
                    let same = cn_ascii.as_deref().is_some_and(|a| a.eq_ignore_ascii_case(d));
                    if same && d != cn {
                        return Err(bad);
                    }
                }
                GeneralName::IPAddress(ip) => {
                    if let (Some(cn_ip), Some(text)) = (cn_ip.as_deref(), ip_text(ip)) {
                        if cn_ip == *ip && text != *cn {
                            return Err(bad);
                        }
                    }
                }
                _ => {}
            }
        }
    }
    Ok(())
}

fn ip_text(ip: &[u8]) -> Option<String> {
    if let Ok(v4) = <[u8; 4]>::try_from(ip) {
        return Some(std::net::Ipv4Addr::from(v4).to_string());
    }
    // std formats IPv6 per RFC 5952 (lower case, longest zero run compressed).
    <[u8; 16]>::try_from(ip)
        .ok()
        .map(|v6| std::net::Ipv6Addr::from(v6).to_string())
}

/// An address in any spelling resolvers accept: IPv6 in any case or compression, IPv4
/// as inet_aton reads it (1-4 parts, decimal, 0x hex or 0 octal).
fn lenient_ip(s: &str) -> Option<Vec<u8>> {
    if let Ok(v6) = s.parse::<std::net::Ipv6Addr>() {
        return Some(v6.octets().to_vec());
    }
    let parts: Vec<u64> = s.split('.').map(parse_c_number).collect::<Option<_>>()?;
    let (last, init) = parts.split_last()?;
    if init.len() > 3 || init.iter().any(|&p| p > 255) {
        return None;
    }
    let last_bits = 8 * (4 - init.len() as u32);
    if *last >= 1u64 << last_bits {
        return None;
    }
    let mut v: u64 = 0;
    for &p in init {
        v = (v << 8) | p;
    }
    v = (v << last_bits) | last;
    Some(u32::try_from(v).ok()?.to_be_bytes().to_vec())
}

fn parse_c_number(p: &str) -> Option<u64> {
    if let Some(hex) = p.strip_prefix("0x").or_else(|| p.strip_prefix("0X")) {
        return u64::from_str_radix(hex, 16).ok().filter(|_| hex.len() <= 8);
    }
    if p.len() > 1 && p.starts_with('0') {
        return u64::from_str_radix(p.get(1..)?, 8).ok().filter(|_| p.len() <= 12);
    }
    if p.is_empty() || p.len() > 10 || !p.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    p.parse().ok()
}

/// Lower-cases a host name and turns non-ASCII labels into A-labels (RFC 3492 Punycode;
/// only lower-casing as mapping, enough to recognise the same name).
fn to_ascii_lower(name: &str) -> Option<String> {
    let mut out = String::with_capacity(name.len());
    for (i, label) in name.split('.').enumerate() {
        if i > 0 {
            out.push('.');
        }
        let label = label.to_lowercase();
        if label.is_ascii() {
            out.push_str(&label);
        } else {
            out.push_str("xn--");
            out.push_str(&punycode(&label)?);
        }
    }
    Some(out)
}

/// RFC 3492 6.3 encoding.
fn punycode(input: &str) -> Option<String> {
    const BASE: u32 = 36;
    const T_MIN: u32 = 1;
    const T_MAX: u32 = 26;
    let chars: Vec<u32> = input.chars().map(u32::from).collect();
    let mut out: String = input.chars().filter(char::is_ascii).collect();
    let basic = u32::try_from(out.len()).ok()?;
    if basic > 0 {
        out.push('-');
    }
    let digit = |d: u32| -> Option<char> { char::from_u32(if d < 26 { d + 97 } else { d + 22 }) };
    let adapt = |delta: u32, points: u32, first: bool| -> u32 {
        let mut delta = if first { delta / 700 } else { delta / 2 };
        delta += delta / points;
        let mut k = 0;
        while delta > ((BASE - T_MIN) * T_MAX) / 2 {
            delta /= BASE - T_MIN;
            k += BASE;
        }
        k + (BASE - T_MIN + 1) * delta / (delta + 38)
    };
    let (mut n, mut delta, mut bias, mut h) = (128u32, 0u32, 72u32, basic);
    let total = u32::try_from(chars.len()).ok()?;
    while h < total {
        let m = chars.iter().copied().filter(|&c| c >= n).min()?;
        delta = delta.checked_add((m - n).checked_mul(h + 1)?)?;
        n = m;
        for &c in &chars {
            if c < n {
                delta = delta.checked_add(1)?;
            }
            if c == n {
                let mut q = delta;
                let mut k = BASE;
                loop {
                    let t = if k <= bias {
                        T_MIN
                    } else if k >= bias + T_MAX {
                        T_MAX
                    } else {
                        k - bias
                    };
                    if q < t {
                        break;
                    }
                    out.push(digit(t + (q - t) % (BASE - t))?);
                    q = (q - t) / (BASE - t);
                    k += BASE;
                }
                out.push(digit(q)?);
                bias = adapt(delta, h + 1, h == basic);
                delta = 0;
                h += 1;
            }
        }
        delta = delta.checked_add(1)?;
        n = n.checked_add(1)?;
    }
    Some(out)
}

/// Checks the constraints themselves when their CA joins a path (RFC 5280 4.2.1.10).
pub(crate) fn validate_constraints(nc: &NameConstraints<'_>) -> Result<(), CertError> {
    let bad = CertError::Profile("malformed name constraint");
    let permitted = nc.permitted_subtrees.as_deref().unwrap_or(&[]);
    let excluded = nc.excluded_subtrees.as_deref().unwrap_or(&[]);
    // "Conforming CAs MUST NOT issue certificates where name constraints is an empty sequence."
    if permitted.is_empty() && excluded.is_empty() {
        return Err(bad);
    }
    for subtree in permitted.iter().chain(excluded) {
        let ok = match &subtree.base {
            GeneralName::DNSName(c) => c.is_empty() || valid_dns_name(c, false),
            GeneralName::IPAddress(c) => ip_constraint(c).is_some(),
            GeneralName::RFC822Name(c) => valid_email_constraint(c),
            GeneralName::URI(c) => {
                let host = c.strip_prefix('.').unwrap_or(c);
                valid_dns_name(host, false)
            }
            GeneralName::DirectoryName(n) => rdns(n.as_raw()).is_some(),
            GeneralName::OtherName(..) => true,
            GeneralName::Invalid(..) => false,
            // Types we cannot evaluate are refused if a name of that type ever meets them.
            _ => true,
        };
        if !ok {
            return Err(bad);
        }
    }
    Ok(())
}

/// A name of a subsequent certificate, as name constraints see it.
pub(crate) enum SubjectName<'a, 'b> {
    San(&'b GeneralName<'a>),
    /// The subject DN (raw DER), checked against directoryName constraints.
    Dn(&'a [u8]),
}

/// Applies one CA's constraints to one name; `comparisons` counts the work done.
pub(crate) fn check_name(
    nc: &NameConstraints<'_>,
    name: &SubjectName<'_, '_>,
    comparisons: &mut usize,
    max: usize,
) -> Result<(), CertError> {
    for subtree in nc.excluded_subtrees.as_deref().unwrap_or(&[]) {
        tick(comparisons, max)?;
        if within(name, &subtree.base, true)? == Some(true) {
            return Err(CertError::ConstraintViolated("name in excluded subtree"));
        }
    }
    let mut same_type = false;
    for subtree in nc.permitted_subtrees.as_deref().unwrap_or(&[]) {
        tick(comparisons, max)?;
        match within(name, &subtree.base, false)? {
            Some(true) => return Ok(()),
            Some(false) => same_type = true,
            None => {}
        }
    }
    if same_type {
        return Err(CertError::ConstraintViolated("name not in permitted subtrees"));
    }
    Ok(())
}

fn tick(n: &mut usize, max: usize) -> Result<(), CertError> {
    *n += 1;
    if *n > max {
        return Err(CertError::PathBuildingBudgetExceeded);
    }
    Ok(())
}

/// `None` if the name and the constraint are of different types; otherwise whether the
/// name falls within the subtree. `excluded` makes wildcard names match conservatively.
fn within(
    name: &SubjectName<'_, '_>,
    base: &GeneralName<'_>,
    excluded: bool,
) -> Result<Option<bool>, CertError> {
    let gn = match name {
        SubjectName::Dn(dn) => {
            return Ok(match base {
                GeneralName::DirectoryName(c) => Some(dn_within(dn, c.as_raw())?),
                _ => None,
            })
        }
        SubjectName::San(gn) => gn,
    };
    let bad_name = CertError::Profile("malformed subjectAltName entry");
    Ok(Some(match (gn, base) {
        (GeneralName::DNSName(n), GeneralName::DNSName(c)) => {
            if !valid_dns_name(n, true) {
                return Err(bad_name);
            }
            dns_within(n, c, excluded)
        }
        (GeneralName::IPAddress(n), GeneralName::IPAddress(c)) => {
            let (addr, mask) = ip_constraint(c).ok_or(CertError::Profile("malformed name constraint"))?;
            if n.len() != 4 && n.len() != 16 {
                return Err(bad_name);
            }
            n.len() == addr.len() && n.iter().zip(addr).zip(mask).all(|((n, a), m)| n & m == a & m)
        }
        (GeneralName::RFC822Name(n), GeneralName::RFC822Name(c)) => {
            let (local, host) = split_mailbox(n).ok_or(bad_name)?;
            email_within(local, host, c)
        }
        (GeneralName::URI(n), GeneralName::URI(c)) => {
            let host = uri_host(n).ok_or(bad_name)?;
            match c.strip_prefix('.') {
                Some(dom) => host.len() > dom.len() && ends_with_label(host, dom),
                None => host.eq_ignore_ascii_case(c),
            }
        }
        (GeneralName::DirectoryName(n), GeneralName::DirectoryName(c)) => dn_within(n.as_raw(), c.as_raw())?,
        (GeneralName::OtherName(o1, v1), GeneralName::OtherName(o2, v2)) => {
            if o1 != o2 {
                return Ok(None);
            }
            // Without knowing the form's semantics, an excluded form of the same type is a
            // match; a permitted one must be identical.
            excluded || v1 == v2
        }
        (GeneralName::X400Address(_), GeneralName::X400Address(_))
        | (GeneralName::EDIPartyName(_), GeneralName::EDIPartyName(_))
        | (GeneralName::RegisteredID(_), GeneralName::RegisteredID(_)) => {
            return Err(CertError::UnsupportedNameConstraint)
        }
        (GeneralName::Invalid(..), _) => return Err(bad_name),
        _ => return Ok(None),
    }))
}

/// `name` ends with `.suffix` or equals it, ASCII case-insensitively.
fn ends_with_label(name: &str, suffix: &str) -> bool {
    if suffix.is_empty() {
        return true;
    }
    let (n, s) = (name.as_bytes(), suffix.as_bytes());
    if n.len() == s.len() {
        return n.eq_ignore_ascii_case(s);
    }
    n.len() > s.len()
        && n.get(n.len() - s.len()..)
            .is_some_and(|tail| tail.eq_ignore_ascii_case(s))
        && n.get(n.len() - s.len() - 1) == Some(&b'.')
}

/// RFC 5280 4.2.1.10: a dNSName constraint is satisfied by the name itself and any name
/// formed by adding labels on the left. A wildcard name stands for every name it could
/// match, so for an excluded subtree it also hits when the subtree lies under its scope.
fn dns_within(name: &str, constraint: &str, excluded: bool) -> bool {
    if ends_with_label(name, constraint) {
        return true;
    }
    if let (true, Some(rest)) = (excluded, name.strip_prefix("*.")) {
        // `*.example.com` covers `bar.example.com` (one label more than its base).
        if let Some((first, c_rest)) = constraint.split_once('.') {
            return !first.is_empty() && c_rest.eq_ignore_ascii_case(rest);
        }
    }
    false
}

/// An iPAddress constraint: address and mask of the same family with a prefix mask.
fn ip_constraint(c: &[u8]) -> Option<(&[u8], &[u8])> {
    if c.len() != 8 && c.len() != 32 {
        return None;
    }
    let (addr, mask) = c.split_at(c.len() / 2);
    // The mask must be contiguous ones then zeros (a CIDR prefix, RFC 4632).
    let mut seen_zero = false;
    for &byte in mask {
        for bit in (0..8).rev() {
            let one = byte & (1 << bit) != 0;
            if one && seen_zero {
                return None;
            }
            seen_zero |= !one;
        }
    }
    Some((addr, mask))
}

/// A mailbox `local@host` (RFC 5280 4.2.1.6 uses RFC 5321 Mailbox).
fn split_mailbox(m: &str) -> Option<(&str, &str)> {
    let (local, host) = m.rsplit_once('@')?;
    let local_ok = !local.is_empty()
        && local
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'@' && b != b'"' && b != b'\\');
    (local_ok && valid_dns_name(host, false)).then_some((local, host))
}

/// An rfc822Name constraint: a mailbox, a host, or `.domain` for any host below it.
fn valid_email_constraint(c: &str) -> bool {
    if c.contains('@') {
        return split_mailbox(c).is_some();
    }
    valid_dns_name(c.strip_prefix('.').unwrap_or(c), false)
}

/// RFC 5280 4.2.1.10: a mailbox constraint matches that mailbox; a host matches all
/// mailboxes at it; `.domain` matches mailboxes at any host under it. Local parts are
/// compared exactly (so a literal `*` only matches itself); hosts case-insensitively.
fn email_within(local: &str, host: &str, c: &str) -> bool {
    if let Some((c_local, c_host)) = c.rsplit_once('@') {
        return local == c_local && host.eq_ignore_ascii_case(c_host);
    }
    match c.strip_prefix('.') {
        Some(dom) => host.len() > dom.len() && ends_with_label(host, dom),
        None => host.eq_ignore_ascii_case(c),
    }
}

/// The host of a URI with an authority part (RFC 3986 3.2.2); IP literals are refused.
fn uri_host(uri: &str) -> Option<&str> {
    let (_, rest) = uri.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = host_port.split(':').next()?;
    valid_dns_name(host, false).then_some(host)
}

/// The RDNs of a DER Name, each as raw bytes.
fn rdns(name: &[u8]) -> Option<Vec<&[u8]>> {
    let seq = der::single(name, der::SEQUENCE)?;
    let mut d = Der::new(seq.value);
    let mut out = Vec::new();
    while !d.is_empty() {
        out.push(d.expect(0x31)?.raw);
    }
    Some(out)
}

/// A DN is within a directoryName subtree when the subtree's RDNs are its leading RDNs
/// (RFC 5280 4.2.1.10, compared as encoded, like RFC 5280 7.1 binary comparison).
fn dn_within(dn: &[u8], constraint: &[u8]) -> Result<bool, CertError> {
    let bad = CertError::BadEncoding;
    let n = rdns(dn).ok_or(bad.clone())?;
    let c = rdns(constraint).ok_or(bad)?;
    Ok(c.len() <= n.len() && n.iter().zip(&c).all(|(a, b)| a == b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_name_parse() {
        assert_eq!(
            ServerName::parse("Example.COM.").unwrap(),
            ServerName::Dns("example.com".into())
        );
        assert!(matches!(ServerName::parse("::1").unwrap(), ServerName::Ip(_)));
        assert!(ServerName::parse("foo_bar.example.com").is_err());
        assert!(ServerName::parse("1.2.3").is_err());
        assert!(ServerName::parse("010.1.1.1").is_err());
        assert!(ServerName::parse("").is_err());
        assert!(ServerName::parse("*.example.com").is_err());
    }

    #[test]
    fn wildcard_only_whole_leftmost_label() {
        assert!(dns_matches("*.example.com", "foo.example.com"));
        assert!(dns_matches("*.EXAMPLE.com", "foo.example.com"));
        assert!(!dns_matches("*.example.com", "example.com"));
        assert!(!dns_matches("*.example.com", "a.b.example.com"));
        assert!(!dns_matches("f*.example.com", "foo.example.com"));
        assert!(!dns_matches("foo.*.com", "foo.example.com"));
        assert!(!dns_matches("*.com", "example.com"));
        assert!(!dns_matches("*", "example"));
    }

    #[test]
    fn dns_subtrees() {
        assert!(dns_within("foo.example.com", "example.com", false));
        assert!(dns_within("example.com", "example.com", false));
        assert!(!dns_within("fooexample.com", "example.com", false));
        assert!(dns_within("*.example.com", "bar.example.com", true));
        assert!(!dns_within("*.example.com", "bar.example.com", false));
        assert!(!dns_within("*.example.com", "a.bar.example.com", true));
    }

    #[test]
    fn ip_masks_must_be_prefixes() {
        assert!(ip_constraint(&[192, 0, 2, 0, 255, 255, 255, 0]).is_some());
        assert!(ip_constraint(&[192, 0, 2, 0, 255, 0, 255, 0]).is_none());
        assert!(ip_constraint(&[192, 0, 2, 0]).is_none());
    }

    #[test]
    fn punycode_encodes_rfc3492_samples() {
        assert_eq!(punycode("bücher").as_deref(), Some("bcher-kva"));
        assert_eq!(
            to_ascii_lower("Test-測試.com").as_deref(),
            Some("xn--test--gs1lv54n.com")
        );
        assert_eq!(punycode("☃").as_deref(), Some("n3h"));
    }

    #[test]
    fn lenient_ipv4_forms() {
        assert_eq!(lenient_ip("0xC0A80101"), Some(vec![192, 168, 1, 1]));
        assert_eq!(lenient_ip("192.168.001.001"), Some(vec![192, 168, 1, 1]));
        assert_eq!(lenient_ip("example.com"), None);
    }

    #[test]
    fn email_subtrees() {
        assert!(email_within("a", "example.com", "example.com"));
        assert!(!email_within("a", "mail.example.com", "example.com"));
        assert!(email_within("a", "mail.example.com", ".example.com"));
        assert!(email_within("*", "example.com", "*@example.com"));
        assert!(!email_within("a", "example.com", "*@example.com"));
        assert!(!valid_email_constraint("invalid@invalid@example.com"));
    }
}
