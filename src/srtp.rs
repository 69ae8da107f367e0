//! DTLS-SRTP (RFC 5764, RFC 7714): the protection profiles' key sizes and the SRTP keying
//! material a DTLS handshake exports for them.
//!
//! Negotiation (the `use_srtp` extension) is the handshake's (`handshake::srtp`); this module
//! holds what the application takes away: which profile, the MKI, and the four SRTP master
//! keys and salts, split as RFC 5764 4.2 lays them out.

use core::fmt;

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

pub use crate::codec::SrtpProtectionProfile;

/// The exporter label of DTLS-SRTP keying material (RFC 5764 4.2).
pub const EXPORTER_LABEL: &[u8] = b"EXTRACTOR-dtls_srtp";

/// Master key and master salt lengths in bytes of a profile we support: RFC 5764 4.1.2
/// (`cipher_key_length` 128 bits, `cipher_salt_length` 112 bits for the AES-CM profiles) and
/// RFC 7714 12 (AES-GCM: 128 or 256-bit keys, 96-bit salts). `None` for other profiles.
pub fn key_and_salt_len(profile: SrtpProtectionProfile) -> Option<(usize, usize)> {
    use SrtpProtectionProfile as P;
    match profile {
        P::SRTP_AES128_CM_HMAC_SHA1_80 | P::SRTP_AES128_CM_HMAC_SHA1_32 => Some((16, 14)),
        P::SRTP_AEAD_AES_128_GCM => Some((16, 12)),
        P::SRTP_AEAD_AES_256_GCM => Some((32, 12)),
        _ => None,
    }
}

/// Whether we can export keys for `profile` (and so offer or select it).
pub fn is_supported(profile: SrtpProtectionProfile) -> bool {
    key_and_salt_len(profile).is_some()
}

/// The DTLS-SRTP settings of a config (see the `srtp_*` builder methods).
#[derive(Clone, Debug, Default)]
pub(crate) struct SrtpSettings {
    /// Client: the profiles offered, in preference order. Server: the profiles accepted, in
    /// preference order. Empty: DTLS-SRTP off.
    pub profiles: Vec<SrtpProtectionProfile>,
    /// Client: the MKI offered (empty: none).
    pub mki: Vec<u8>,
    /// Server: echo the client's MKI (else answer an empty one).
    pub accept_mki: bool,
}

impl SrtpSettings {
    pub(crate) fn validate(&self) -> Result<(), crate::Error> {
        let config = |why: &str| Err(crate::Error::Config(why.into()));
        if !self.profiles.iter().all(|p| is_supported(*p)) {
            return config("SRTP profiles must be ones with known key sizes (RFC 5764, RFC 7714)");
        }
        if self
            .profiles
            .iter()
            .enumerate()
            .any(|(i, p)| self.profiles[..i].contains(p))
        {
            return config("an SRTP profile is listed twice");
        }
        if self.mki.len() > 255 {
            return config("the SRTP MKI is at most 255 bytes");
        }
        Ok(())
    }
}

/// The SRTP keying material of a DTLS-SRTP connection (RFC 5764 4.2): the exporter's
/// `2 * (key + salt)` bytes split into the client's and the server's master keys and salts.
/// Zeroized on drop; compared in constant time; `Debug` shows the profile only.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SrtpKeyingMaterial {
    #[zeroize(skip)]
    profile: SrtpProtectionProfile,
    mki: Vec<u8>,
    client_write_key: Vec<u8>,
    server_write_key: Vec<u8>,
    client_write_salt: Vec<u8>,
    server_write_salt: Vec<u8>,
}

impl SrtpKeyingMaterial {
    /// Splits the exporter's output for `profile` (RFC 5764 4.2: client key, server key,
    /// client salt, server salt). `None` if `material` is not `2 * (key + salt)` bytes of a
    /// supported profile.
    pub fn from_exported(profile: SrtpProtectionProfile, mki: &[u8], material: &[u8]) -> Option<Self> {
        let (key, salt) = key_and_salt_len(profile)?;
        if material.len() != 2 * (key + salt) {
            return None;
        }
        let (keys, salts) = material.split_at(2 * key);
        Some(SrtpKeyingMaterial {
            profile,
            mki: mki.to_vec(),
            client_write_key: keys[..key].to_vec(),
            server_write_key: keys[key..].to_vec(),
            client_write_salt: salts[..salt].to_vec(),
            server_write_salt: salts[salt..].to_vec(),
        })
    }

    /// The protection profile both sides agreed on.
    pub fn profile(&self) -> SrtpProtectionProfile {
        self.profile
    }

    /// The MKI in use (RFC 5764 4.1.1): the client's, when the server echoed it; empty when
    /// SRTP packets carry none.
    pub fn mki(&self) -> &[u8] {
        &self.mki
    }

    /// `client_write_SRTP_master_key`: protects what the DTLS client sends.
    pub fn client_write_key(&self) -> &[u8] {
        &self.client_write_key
    }

    /// `server_write_SRTP_master_key`: protects what the DTLS server sends.
    pub fn server_write_key(&self) -> &[u8] {
        &self.server_write_key
    }

    /// `client_write_SRTP_master_salt`.
    pub fn client_write_salt(&self) -> &[u8] {
        &self.client_write_salt
    }

    /// `server_write_SRTP_master_salt`.
    pub fn server_write_salt(&self) -> &[u8] {
        &self.server_write_salt
    }

    /// The exporter's output again, in its order (client key, server key, client salt,
    /// server salt): what `openssl s_client -keymatexport EXTRACTOR-dtls_srtp` prints.
    pub fn to_exported(&self) -> zeroize::Zeroizing<Vec<u8>> {
        let mut out = zeroize::Zeroizing::new(Vec::with_capacity(
            2 * (self.client_write_key.len() + self.client_write_salt.len()),
        ));
        out.extend_from_slice(&self.client_write_key);
        out.extend_from_slice(&self.server_write_key);
        out.extend_from_slice(&self.client_write_salt);
        out.extend_from_slice(&self.server_write_salt);
        out
    }
}

impl PartialEq for SrtpKeyingMaterial {
    /// Constant time in the secret bytes (the lengths follow from the public profile).
    fn eq(&self, other: &Self) -> bool {
        self.profile == other.profile
            && self.mki == other.mki
            && bool::from(
                self.to_exported()
                    .as_slice()
                    .ct_eq(other.to_exported().as_slice()),
            )
    }
}

impl Eq for SrtpKeyingMaterial {}

impl fmt::Debug for SrtpKeyingMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SrtpKeyingMaterial")
            .field("profile", &self.profile)
            .field("mki_len", &self.mki.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keying_material_splits_as_rfc_5764_4_2_lays_it_out() {
        let material: Vec<u8> = (0u8..60).collect();
        let k = SrtpKeyingMaterial::from_exported(
            SrtpProtectionProfile::SRTP_AES128_CM_HMAC_SHA1_80,
            &[],
            &material,
        )
        .unwrap();
        assert_eq!(k.client_write_key(), &material[0..16]);
        assert_eq!(k.server_write_key(), &material[16..32]);
        assert_eq!(k.client_write_salt(), &material[32..46]);
        assert_eq!(k.server_write_salt(), &material[46..60]);
        assert_eq!(k.to_exported().as_slice(), material.as_slice());
        let gcm: Vec<u8> = (0u8..88).collect();
        let g = SrtpKeyingMaterial::from_exported(SrtpProtectionProfile::SRTP_AEAD_AES_256_GCM, &[], &gcm)
            .unwrap();
        assert_eq!(g.server_write_key(), &gcm[32..64]);
        assert_eq!(g.server_write_salt(), &gcm[76..88]);
        assert!(
            SrtpKeyingMaterial::from_exported(SrtpProtectionProfile::SRTP_AEAD_AES_128_GCM, &[], &gcm)
                .is_none()
        );
        assert!(SrtpKeyingMaterial::from_exported(SrtpProtectionProfile::Unknown(5), &[], &gcm).is_none());
    }

    #[test]
    fn debug_shows_no_key() {
        let k = SrtpKeyingMaterial::from_exported(
            SrtpProtectionProfile::SRTP_AEAD_AES_128_GCM,
            &[7],
            &[0xAB; 56],
        )
        .unwrap();
        let shown = format!("{k:?}");
        assert!(shown.contains("SRTP_AEAD_AES_128_GCM") && !shown.contains("171") && !shown.contains("ab"));
    }
}
