//! `--allow` / `--block` address lists (ADDR/PREFIX), checked on accept before any TLS work.

use std::net::IpAddr;
use std::str::FromStr;

/// One ADDR/PREFIX network (a bare address is a /32 or /128).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (a, p) = s.split_once('/').map_or((s, None), |(a, p)| (a, Some(p)));
        let addr: IpAddr = a.parse().map_err(|_| format!("bad address in {s}"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p.parse::<u8>().map_err(|_| format!("bad prefix in {s}"))?,
            None => max,
        };
        if prefix > max {
            return Err(format!("prefix longer than {max} in {s}"));
        }
        Ok(Cidr { addr, prefix })
    }
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        // An IPv4 client on a dual-stack socket shows as ::ffff:a.b.c.d.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        let (net, ip, bits) = match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(i)) => (u32::from(n) as u128, u32::from(i) as u128, 32),
            (IpAddr::V6(n), IpAddr::V6(i)) => (u128::from(n), u128::from(i), 128),
            _ => return false,
        };
        let shift = bits - u32::from(self.prefix);
        if shift >= 128 {
            return true;
        }
        (net >> shift) == (ip >> shift)
    }
}

/// The verdict for a peer: blocked if any `--block` matches; otherwise allowed if the allow
/// list is empty or any `--allow` matches.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub allow: Vec<Cidr>,
    pub block: Vec<Cidr>,
}

impl Filter {
    pub fn check(&self, ip: IpAddr) -> Result<(), &'static str> {
        if self.block.iter().any(|c| c.contains(ip)) {
            return Err("blocked by --block");
        }
        if !self.allow.is_empty() && !self.allow.iter().any(|c| c.contains(ip)) {
            return Err("not in --allow");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn prefixes_match() {
        let c: Cidr = "10.1.0.0/16".parse().unwrap();
        assert!(c.contains(ip("10.1.200.3")));
        assert!(!c.contains(ip("10.2.0.1")));
        assert!(c.contains(ip("::ffff:10.1.0.9")));
        assert!("0.0.0.0/0".parse::<Cidr>().unwrap().contains(ip("1.2.3.4")));
        assert!("::/0".parse::<Cidr>().unwrap().contains(ip("::1")));
        assert!(!"::/0".parse::<Cidr>().unwrap().contains(ip("1.2.3.4")));
        assert!("127.0.0.1".parse::<Cidr>().unwrap().contains(ip("127.0.0.1")));
        assert!("1.2.3.4/33".parse::<Cidr>().is_err());
    }

    #[test]
    fn block_wins_over_allow() {
        let f = Filter {
            allow: vec!["127.0.0.0/8".parse().unwrap()],
            block: vec!["127.0.0.2/32".parse().unwrap()],
        };
        assert!(f.check(ip("127.0.0.1")).is_ok());
        assert!(f.check(ip("127.0.0.2")).is_err());
        assert!(f.check(ip("192.0.2.1")).is_err());
    }
}
