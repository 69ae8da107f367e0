//! Ready-made trust anchor sets behind cargo features: the platform's store
//! (`native-roots`, through `rustls-native-certs`) and Mozilla's (`webpki-roots`, through
//! `webpki-root-certs`).

#[cfg(any(feature = "native-roots", feature = "webpki-roots"))]
use super::TrustAnchors;

#[cfg(feature = "native-roots")]
impl TrustAnchors {
    /// The platform's trusted roots (feature `native-roots`): on Linux the distribution's
    /// bundle, or what `SSL_CERT_FILE` / `SSL_CERT_DIR` name; on macOS and Windows the system
    /// store. Certificates that do not parse as anchors are skipped, as a system store holds
    /// some; an empty result is an error naming what failed to load.
    pub fn native() -> Result<Self, crate::Error> {
        let found = rustls_native_certs::load_native_certs();
        let mut out = Self::new();
        for c in &found.certs {
            let _ = out.add_der(c.as_ref());
        }
        if out.is_empty() {
            let why: Vec<String> = found.errors.iter().map(|e| e.to_string()).collect();
            return Err(crate::Error::Config(format!(
                "no trust anchors in the platform's certificate store{}{}",
                if why.is_empty() { "" } else { ": " },
                why.join("; ")
            )));
        }
        Ok(out)
    }
}

#[cfg(feature = "webpki-roots")]
impl TrustAnchors {
    /// Mozilla's root program, as shipped by the `webpki-root-certs` crate (feature
    /// `webpki-roots`): the same set on every platform, updated with the crate.
    pub fn mozilla() -> Self {
        let mut out = Self::new();
        for c in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
            let _ = out.add_der(c.as_ref());
        }
        out
    }
}

#[cfg(all(test, feature = "webpki-roots"))]
mod tests {
    use super::TrustAnchors;

    #[test]
    fn mozilla_roots_all_load() {
        let anchors = TrustAnchors::mozilla();
        assert_eq!(anchors.len(), webpki_root_certs::TLS_SERVER_ROOT_CERTS.len());
        assert!(anchors.len() > 100, "{}", anchors.len());
    }
}
