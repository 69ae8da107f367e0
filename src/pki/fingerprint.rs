//! Certificate fingerprints as SDP carries them (RFC 8122 5, `a=fingerprint:sha-256 AB:CD:..`)
//! and the verifier WebRTC authenticates DTLS peers with (RFC 8827 6.5): the peer's
//! end-entity certificate, usually self-signed, is accepted when its fingerprint is one the
//! application received out of band. Nothing else about the certificate is checked (no
//! issuer, name or validity: RFC 8122 5 makes the fingerprint the identity); the handshake
//! still proves possession of its key, since the engine checks the CertificateVerify (or
//! ServerKeyExchange) signature with the key of the certificate that matched.

use core::fmt;
use core::str::FromStr;

use ring::digest;
use subtle::ConstantTimeEq;

use super::{CertError, ClientCertVerifier, ServerCertVerifier, ServerName};
use crate::error::Error;

/// A fingerprint's hash function, named as in SDP (RFC 8122 5, the IANA "Hash Function
/// Textual Names" registry).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FingerprintAlg {
    /// `sha-1`: allowed by RFC 8122 for older peers; prefer `sha-256`.
    Sha1,
    /// `sha-256`: what WebRTC endpoints use (RFC 8827 6.5).
    Sha256,
    /// `sha-384`.
    Sha384,
    /// `sha-512`.
    Sha512,
}

impl FingerprintAlg {
    /// Every supported function, strongest last.
    pub const ALL: &'static [FingerprintAlg] = &[Self::Sha1, Self::Sha256, Self::Sha384, Self::Sha512];

    /// The SDP name (`sha-256`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha1 => "sha-1",
            Self::Sha256 => "sha-256",
            Self::Sha384 => "sha-384",
            Self::Sha512 => "sha-512",
        }
    }

    /// Looks a name up, ASCII case-insensitively (RFC 8122 5: `hash-func` is a token).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|a| a.name().eq_ignore_ascii_case(name))
    }

    fn ring_alg(self) -> &'static digest::Algorithm {
        match self {
            Self::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
            Self::Sha256 => &digest::SHA256,
            Self::Sha384 => &digest::SHA384,
            Self::Sha512 => &digest::SHA512,
        }
    }

    /// Digest length in bytes.
    pub fn output_len(self) -> usize {
        self.ring_alg().output_len()
    }
}

/// The hash of a DER certificate under a named function: what SDP's `a=fingerprint` says.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Fingerprint {
    alg: FingerprintAlg,
    digest: Vec<u8>,
}

impl Fingerprint {
    /// The fingerprint of the DER certificate `der` (RFC 8122 5: the hash of the DER form).
    pub fn of(alg: FingerprintAlg, der: &[u8]) -> Self {
        Fingerprint {
            alg,
            digest: digest::digest(alg.ring_alg(), der).as_ref().to_vec(),
        }
    }

    /// Reads the SDP form `sha-256 AB:CD:...` (the value of `a=fingerprint:`), also with a
    /// colon instead of the space (`sha-256:AB:CD:...`, easier on a command line) or with
    /// the `a=fingerprint:` prefix. Hex digits in either case.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let bad = |why: &str| Error::Config(format!("fingerprint {text:?}: {why}"));
        let text_trim = text.trim();
        let body = text_trim.strip_prefix("a=fingerprint:").unwrap_or(text_trim);
        let (name, hex) = body
            .split_once([' ', ':'])
            .ok_or_else(|| bad("expected `sha-256 AB:CD:...`"))?;
        let alg = FingerprintAlg::from_name(name.trim()).ok_or_else(|| bad("unknown hash function"))?;
        let mut digest = Vec::with_capacity(alg.output_len());
        for pair in hex.trim().split(':') {
            let byte = (pair.len() == 2)
                .then(|| u8::from_str_radix(pair, 16).ok())
                .flatten()
                .ok_or_else(|| bad("expected colon-separated pairs of hex digits"))?;
            digest.push(byte);
        }
        if digest.len() != alg.output_len() {
            return Err(bad("wrong length for its hash function"));
        }
        Ok(Fingerprint { alg, digest })
    }

    /// The hash function.
    pub fn alg(&self) -> FingerprintAlg {
        self.alg
    }

    /// The digest bytes.
    pub fn digest(&self) -> &[u8] {
        &self.digest
    }

    /// Whether `der` hashes to this fingerprint (compared in constant time).
    pub fn matches(&self, der: &[u8]) -> bool {
        let theirs = digest::digest(self.alg.ring_alg(), der);
        bool::from(self.digest.as_slice().ct_eq(theirs.as_ref()))
    }
}

impl fmt::Display for Fingerprint {
    /// The SDP form: `sha-256 AB:CD:...`, upper-case hex (RFC 8122 5).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.alg.name())?;
        for (i, b) in self.digest.iter().enumerate() {
            write!(f, "{}{b:02X}", if i == 0 { ' ' } else { ':' })?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

impl FromStr for Fingerprint {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Fingerprint::parse(s)
    }
}

/// Accepts a peer whose end-entity certificate matches one of the given fingerprints (RFC
/// 8122 5: several `a=fingerprint` lines, any one matching). Works as a server verifier (on
/// the client) and as a client verifier (on the server, where it makes client certificates
/// mandatory, as WebRTC's mutual authentication needs, RFC 8827 6.5).
#[derive(Clone, Debug)]
pub struct FingerprintVerifier {
    fingerprints: Vec<Fingerprint>,
}

impl FingerprintVerifier {
    /// A verifier for these fingerprints (at least one).
    pub fn new(fingerprints: Vec<Fingerprint>) -> Result<Self, Error> {
        if fingerprints.is_empty() {
            return Err(Error::Config("a fingerprint verifier needs a fingerprint".into()));
        }
        Ok(FingerprintVerifier { fingerprints })
    }

    fn check(&self, end_entity: &[u8]) -> Result<(), CertError> {
        // Every fingerprint is tried, so the time taken does not tell which one matched.
        let matched = self
            .fingerprints
            .iter()
            .fold(false, |found, f| f.matches(end_entity) | found);
        match matched {
            true => Ok(()),
            false => Err(CertError::FingerprintMismatch),
        }
    }
}

impl ServerCertVerifier for FingerprintVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &[u8],
        _: &[&[u8]],
        _: &ServerName,
        _: u64,
    ) -> Result<(), CertError> {
        self.check(end_entity)
    }
}

impl ClientCertVerifier for FingerprintVerifier {
    fn verify_client_cert(&self, end_entity: &[u8], _: &[&[u8]], _: u64) -> Result<(), CertError> {
        self.check(end_entity)
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_subjects(&self) -> Vec<Vec<u8>> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sdp_form_round_trips_and_bad_forms_are_refused() {
        let f = Fingerprint::of(FingerprintAlg::Sha256, b"not really a certificate");
        let sdp = f.to_string();
        assert!(
            sdp.starts_with("sha-256 ") && sdp.len() == 8 + 32 * 3 - 1,
            "{sdp}"
        );
        assert_eq!(Fingerprint::parse(&sdp).unwrap(), f);
        assert_eq!(Fingerprint::parse(&sdp.to_lowercase()).unwrap(), f);
        assert_eq!(Fingerprint::parse(&sdp.replacen(' ', ":", 1)).unwrap(), f);
        assert_eq!(Fingerprint::parse(&format!("a=fingerprint:{sdp}")).unwrap(), f);
        assert!(f.matches(b"not really a certificate"));
        assert!(!f.matches(b"another certificate"));
        for bad in [
            "sha-256",
            "md5 AB:CD",
            "sha-256 AB:CD",
            "sha-1 ABC:DE",
            &sdp.replace(':', ""),
            &format!("{sdp}:00"),
        ] {
            assert!(Fingerprint::parse(bad).is_err(), "{bad}");
        }
        let one = Fingerprint::of(FingerprintAlg::Sha1, b"x");
        assert_eq!(one.digest().len(), 20);
        assert_eq!(
            Fingerprint::parse(&one.to_string()).unwrap().alg(),
            FingerprintAlg::Sha1
        );
        assert_eq!(
            Fingerprint::of(FingerprintAlg::Sha512, b"x").to_string().len(),
            8 + 64 * 3 - 1
        );
    }

    #[test]
    fn verifier_accepts_any_listed_fingerprint_only() {
        let v = FingerprintVerifier::new(vec![
            Fingerprint::of(FingerprintAlg::Sha384, b"cert a"),
            Fingerprint::of(FingerprintAlg::Sha256, b"cert b"),
        ])
        .unwrap();
        assert!(v.verify_client_cert(b"cert a", &[], 0).is_ok());
        assert!(v.verify_client_cert(b"cert b", &[], 0).is_ok());
        assert_eq!(
            v.verify_client_cert(b"cert c", &[], 0),
            Err(CertError::FingerprintMismatch)
        );
        assert!(v.client_auth_mandatory());
        assert!(FingerprintVerifier::new(Vec::new()).is_err());
    }
}
