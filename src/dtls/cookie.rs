//! Stateless cookies: the DTLS 1.2 HelloVerifyRequest cookie (RFC 6347 4.2.1) and the
//! DTLS 1.3 HelloRetryRequest cookie (RFC 9147 5.1, RFC 8446 4.2.2).
//!
//! A cookie is `payload || HMAC-SHA256(secret, context)` where the context binds the
//! client's transport address (bytes the caller passes in, e.g. IP and port) and the
//! ClientHello parameters that must not change between the two hellos. The server keeps
//! no per-client state: it recomputes the MAC when the cookie comes back. The secret
//! rotates with time (passed in); cookies under the current and the previous secret are
//! accepted, so a cookie lives between one and two rotation periods. Checks are
//! constant-time. The DTLS 1.3 server puts the ClientHello1 transcript hash in `payload`.

use std::time::{Duration, Instant};

use subtle::{Choice, ConstantTimeEq};

use crate::codec::{put_u16, put_vec_bytes, DecodeError, LenPrefix, ProtocolVersion, Reader};
use crate::crypto::dtls::{cookie_mac, COOKIE_MAC_LEN};
use crate::crypto::{RandomSource, Secret};
use crate::Error;

/// Length of a cookie secret.
pub const COOKIE_SECRET_LEN: usize = 32;
/// Largest DTLS 1.2 cookie (RFC 6347 4.2.1: `opaque cookie<0..2^8-1>`).
pub const MAX_DTLS12_COOKIE_LEN: usize = 255;
/// Domain separation for the MAC input.
const MAC_LABEL: &[u8] = b"sanstls dtls cookie v1";

/// The rotating cookie secrets of a server.
#[derive(Debug)]
pub struct CookieKeys {
    current: Secret,
    previous: Option<Secret>,
    rotated_at: Instant,
    period: Duration,
}

impl CookieKeys {
    /// Starts with a fresh secret from `rng`, rotating every `period`.
    pub fn new(rng: &dyn RandomSource, now: Instant, period: Duration) -> Result<Self, Error> {
        Ok(CookieKeys {
            current: fresh(rng)?,
            previous: None,
            rotated_at: now,
            period,
        })
    }

    /// Starts from a given secret (tests, or several servers sharing one secret).
    pub fn with_secret(secret: Secret, now: Instant, period: Duration) -> Self {
        CookieKeys {
            current: secret,
            previous: None,
            rotated_at: now,
            period,
        }
    }

    /// Rotates if a period passed since the last rotation: the current secret becomes the
    /// previous one (still accepted), a fresh one becomes current. Returns true if rotated.
    pub fn rotate_if_due(&mut self, now: Instant, rng: &dyn RandomSource) -> Result<bool, Error> {
        if now.saturating_duration_since(self.rotated_at) < self.period {
            return Ok(false);
        }
        let next = fresh(rng)?;
        // Two periods without traffic: the old current secret is stale as well.
        let stale = now.saturating_duration_since(self.rotated_at) >= self.period.saturating_mul(2);
        self.rotate_to(next, now);
        if stale {
            self.previous = None;
        }
        Ok(true)
    }

    /// Makes `secret` current, keeping the old current one as previous.
    pub fn rotate_to(&mut self, secret: Secret, now: Instant) {
        self.previous = Some(core::mem::replace(&mut self.current, secret));
        self.rotated_at = now;
    }

    /// A cookie carrying `payload`, bound to `client_addr` and `bound` (the ClientHello
    /// parameters). It is `payload.len() + 32` bytes long.
    pub fn make(&self, client_addr: &[u8], bound: &[u8], payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(payload.len() + COOKIE_MAC_LEN);
        out.extend_from_slice(payload);
        out.extend_from_slice(&mac(&self.current, client_addr, bound, payload));
        out
    }

    /// Checks `cookie` against the current and previous secrets in constant time and
    /// returns its payload if it is valid for this address and these parameters.
    pub fn check<'c>(&self, cookie: &'c [u8], client_addr: &[u8], bound: &[u8]) -> Option<&'c [u8]> {
        let split = cookie.len().checked_sub(COOKIE_MAC_LEN)?;
        let (payload, tag) = cookie.split_at(split);
        let mut ok: Choice = mac(&self.current, client_addr, bound, payload).ct_eq(tag);
        if let Some(prev) = &self.previous {
            ok |= mac(prev, client_addr, bound, payload).ct_eq(tag);
        }
        bool::from(ok).then_some(payload)
    }
}

fn fresh(rng: &dyn RandomSource) -> Result<Secret, Error> {
    let mut s = vec![0u8; COOKIE_SECRET_LEN];
    rng.fill(&mut s)?;
    Ok(Secret::new(s))
}

fn mac(secret: &Secret, client_addr: &[u8], bound: &[u8], payload: &[u8]) -> [u8; COOKIE_MAC_LEN] {
    // Each variable-length part but the last carries its length: no two contexts collide.
    let addr_len = (client_addr.len() as u64).to_be_bytes();
    let bound_len = (bound.len() as u64).to_be_bytes();
    cookie_mac(
        secret.as_bytes(),
        &[MAC_LABEL, &addr_len, client_addr, &bound_len, bound, payload],
    )
}

/// The parts of a DTLS 1.2 ClientHello a HelloVerifyRequest cookie binds, and the cookie
/// it carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dtls12HelloBinding<'a> {
    /// `client_version || random || session_id || cipher_suites || compression_methods`
    /// as encoded (RFC 6347 4.2.1: these MUST be the same in both hellos).
    pub bound: Vec<u8>,
    /// The cookie field (empty in the first ClientHello).
    pub cookie: &'a [u8],
}

/// Reads what the cookie binds from a DTLS 1.2 ClientHello body (RFC 6347 4.2.1:
/// `client_version, random, session_id<0..32>, cookie<0..2^8-1>, cipher_suites<2..2^16-2>,
/// compression_methods<1..2^8-1>, extensions`). The extensions are not bound.
pub fn dtls12_hello_binding(client_hello_body: &[u8]) -> Result<Dtls12HelloBinding<'_>, DecodeError> {
    let mut r = Reader::new(client_hello_body);
    let mut bound = Vec::new();
    bound.extend_from_slice(r.take(2 + 32, "ClientHello version and random")?);
    let sid = r.vec_bytes(LenPrefix::U8, "ClientHello session_id")?;
    if sid.len() > 32 {
        return Err(DecodeError::IllegalValue("ClientHello session_id"));
    }
    put_vec_bytes(&mut bound, LenPrefix::U8, sid);
    let cookie = r.vec_bytes(LenPrefix::U8, "ClientHello cookie")?;
    let suites = r.vec_bytes(LenPrefix::U16, "ClientHello cipher_suites")?;
    if suites.len() < 2 || suites.len() % 2 != 0 {
        return Err(DecodeError::IllegalValue("ClientHello cipher_suites"));
    }
    put_vec_bytes(&mut bound, LenPrefix::U16, suites);
    let comp = r.vec_bytes(LenPrefix::U8, "ClientHello compression_methods")?;
    if comp.is_empty() {
        return Err(DecodeError::IllegalValue("ClientHello compression_methods"));
    }
    put_vec_bytes(&mut bound, LenPrefix::U8, comp);
    Ok(Dtls12HelloBinding { bound, cookie })
}

/// The HelloVerifyRequest body: `server_version, cookie<0..2^8-1>`. RFC 6347 4.2.1: the
/// server_version is DTLS 1.0 whatever version will be negotiated.
pub fn hello_verify_request_body(cookie: &[u8]) -> Result<Vec<u8>, Error> {
    if cookie.len() > MAX_DTLS12_COOKIE_LEN {
        return Err(Error::Internal("DTLS 1.2 cookie over 255 bytes"));
    }
    let mut out = Vec::with_capacity(3 + cookie.len());
    put_u16(&mut out, ProtocolVersion::DTLSv1_0.get());
    put_vec_bytes(&mut out, LenPrefix::U8, cookie);
    Ok(out)
}

/// Parses a HelloVerifyRequest body into its version and cookie.
pub fn parse_hello_verify_request(body: &[u8]) -> Result<(ProtocolVersion, &[u8]), DecodeError> {
    let mut r = Reader::new(body);
    let version = ProtocolVersion::from(r.u16("HelloVerifyRequest version")?);
    let cookie = r.vec_bytes(LenPrefix::U8, "HelloVerifyRequest cookie")?;
    r.expect_empty("HelloVerifyRequest")?;
    Ok((version, cookie))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::FixedRandom;

    const ADDR: &[u8] = b"127.0.0.1:5000";
    const HOUR: Duration = Duration::from_secs(3600);

    fn keys(now: Instant) -> CookieKeys {
        CookieKeys::with_secret(Secret::new(vec![1; 32]), now, HOUR)
    }

    #[test]
    fn cookie_is_bound_to_address_parameters_and_payload() {
        let k = keys(Instant::now());
        let c = k.make(ADDR, b"hello params", b"");
        assert_eq!(c.len(), 32);
        assert_eq!(k.check(&c, ADDR, b"hello params"), Some(&b""[..]));
        assert_eq!(k.check(&c, b"127.0.0.1:5001", b"hello params"), None);
        assert_eq!(k.check(&c, ADDR, b"hello paramz"), None);
        // Moving bytes between the address and the parameters changes the MAC.
        assert_eq!(k.check(&c, b"127.0.0.1:500", b"0hello params"), None);
        let mut bad = c.clone();
        bad[31] ^= 1;
        assert_eq!(k.check(&bad, ADDR, b"hello params"), None);
        assert_eq!(k.check(&c[..31], ADDR, b"hello params"), None);
        assert_eq!(k.check(&[], ADDR, b""), None);
        let p = k.make(ADDR, b"", b"transcript hash");
        assert_eq!(k.check(&p, ADDR, b""), Some(&b"transcript hash"[..]));
        let mut bad = p.clone();
        bad[0] ^= 1;
        assert_eq!(k.check(&bad, ADDR, b""), None);
    }

    #[test]
    fn previous_secret_accepted_for_one_period() {
        let t0 = Instant::now();
        let rng = FixedRandom::new(vec![vec![2; 32], vec![3; 32], vec![4; 32]]);
        let mut k = keys(t0);
        let c0 = k.make(ADDR, b"p", b"");
        assert!(!k.rotate_if_due(t0 + HOUR - Duration::from_secs(1), &rng).unwrap());
        assert!(k.rotate_if_due(t0 + HOUR, &rng).unwrap());
        let c1 = k.make(ADDR, b"p", b"");
        assert_ne!(c0, c1);
        assert!(k.check(&c0, ADDR, b"p").is_some());
        assert!(k.rotate_if_due(t0 + 2 * HOUR, &rng).unwrap());
        assert!(k.check(&c0, ADDR, b"p").is_none());
        assert!(k.check(&c1, ADDR, b"p").is_some());
        // A long idle gap drops both old secrets.
        assert!(k.rotate_if_due(t0 + 10 * HOUR, &rng).unwrap());
        assert!(k.check(&c1, ADDR, b"p").is_none());
        assert_eq!(rng.remaining(), 0);
    }

    #[test]
    fn fresh_keys_use_the_random_source() {
        let t0 = Instant::now();
        let a = CookieKeys::new(&FixedRandom::new(vec![vec![7; 32]]), t0, HOUR).unwrap();
        let b = CookieKeys::with_secret(Secret::new(vec![7; 32]), t0, HOUR);
        assert_eq!(a.make(ADDR, b"", b""), b.make(ADDR, b"", b""));
        assert!(CookieKeys::new(&FixedRandom::new(vec![vec![7; 31]]), t0, HOUR).is_err());
        assert!(!format!("{a:?}").contains("7, 7"));
    }

    fn client_hello(cookie: &[u8], random_byte: u8, extensions: &[u8]) -> Vec<u8> {
        let mut b = vec![0xfe, 0xfd];
        b.extend_from_slice(&[random_byte; 32]);
        put_vec_bytes(&mut b, LenPrefix::U8, &[9; 4]);
        put_vec_bytes(&mut b, LenPrefix::U8, cookie);
        put_vec_bytes(&mut b, LenPrefix::U16, &[0xc0, 0x2b, 0xc0, 0x2f]);
        put_vec_bytes(&mut b, LenPrefix::U8, &[0]);
        put_vec_bytes(&mut b, LenPrefix::U16, extensions);
        b
    }

    #[test]
    fn hello_verify_request_exchange() {
        let k = keys(Instant::now());
        let ch1 = client_hello(&[], 0x11, &[]);
        let b1 = dtls12_hello_binding(&ch1).unwrap();
        assert!(b1.cookie.is_empty());
        let cookie = k.make(ADDR, &b1.bound, b"");
        let hvr = hello_verify_request_body(&cookie).unwrap();
        let (v, got) = parse_hello_verify_request(&hvr).unwrap();
        assert_eq!((v, got), (ProtocolVersion::DTLSv1_0, &cookie[..]));
        // The second hello echoes the cookie; extensions may differ, parameters may not.
        let ch2 = client_hello(&cookie, 0x11, &[0, 23, 0, 0]);
        let b2 = dtls12_hello_binding(&ch2).unwrap();
        assert_eq!(b2.bound, b1.bound);
        assert!(k.check(b2.cookie, ADDR, &b2.bound).is_some());
        let ch_other = client_hello(&cookie, 0x12, &[]);
        let b3 = dtls12_hello_binding(&ch_other).unwrap();
        assert!(k.check(b3.cookie, ADDR, &b3.bound).is_none());
        assert!(hello_verify_request_body(&[0; 256]).is_err());
        assert!(parse_hello_verify_request(&[0xfe, 0xff, 1]).is_err());
        assert!(parse_hello_verify_request(&[0xfe, 0xff, 0, 0]).is_err());
    }

    #[test]
    fn malformed_client_hello_is_a_decode_error() {
        let ch = client_hello(&[], 0, &[]);
        for n in 0..ch.len() - 2 {
            // Cutting before the extensions is always an error (the extensions are not read).
            if n < ch.len() - 4 {
                assert!(dtls12_hello_binding(&ch[..n]).is_err(), "cut at {n}");
            }
        }
        let mut odd = ch.clone();
        odd[2 + 32 + 5 + 1 + 1] = 3; // cipher_suites length 3
        assert!(dtls12_hello_binding(&odd).is_err());
    }
}
