//! Fresh self-signed certificates for peers that authenticate each other by fingerprint
//! (WebRTC, RFC 8827 6.5: each endpoint makes its own certificate and signals its
//! fingerprint in SDP). Generation is `rcgen`'s, behind the `self-signed` feature.

use super::CertifiedKey;
#[cfg(feature = "self-signed")]
use crate::error::Error;
use crate::pki::{Fingerprint, FingerprintAlg};

impl CertifiedKey {
    /// A new ECDSA P-256 key and a self-signed certificate for it (SHA-256 signature,
    /// subjectAltName and common name `name`), as browsers make for WebRTC. The key comes
    /// from the system's randomness. Share [`fingerprint`](Self::fingerprint) with the peer
    /// and check the peer's with a [`FingerprintVerifier`](crate::pki::FingerprintVerifier).
    #[cfg(feature = "self-signed")]
    pub fn self_signed_p256(name: &str) -> Result<Self, Error> {
        let fail = |e: rcgen::Error| Error::Config(format!("self-signed certificate: {e}"));
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(fail)?;
        let mut params = rcgen::CertificateParams::new(vec![name.to_string()]).map_err(fail)?;
        params.distinguished_name.push(rcgen::DnType::CommonName, name);
        let cert = params.self_signed(&key).map_err(fail)?;
        CertifiedKey::from_pem(cert.pem().as_bytes(), key.serialize_pem().as_bytes())
    }

    /// The fingerprint of our end-entity certificate (RFC 8122 5); its `Display` is the SDP
    /// form, `sha-256 AB:CD:...`.
    pub fn fingerprint(&self, alg: FingerprintAlg) -> Option<Fingerprint> {
        self.chain.first().map(|c| Fingerprint::of(alg, c))
    }
}

#[cfg(all(test, feature = "self-signed"))]
mod tests {
    use super::*;

    #[test]
    fn each_self_signed_certificate_is_new_and_its_fingerprint_parses_back() {
        let a = CertifiedKey::self_signed_p256("webrtc").unwrap();
        let b = CertifiedKey::self_signed_p256("webrtc").unwrap();
        a.keys_match().unwrap();
        let fa = a.fingerprint(FingerprintAlg::Sha256).unwrap();
        assert_ne!(fa, b.fingerprint(FingerprintAlg::Sha256).unwrap());
        assert_eq!(Fingerprint::parse(&fa.to_string()).unwrap(), fa);
        assert!(fa.matches(&a.chain[0]));
    }
}
