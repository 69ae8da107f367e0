//! Ephemeral (EC)DH key exchange: X25519 (RFC 7748), P-256 and P-384 (RFC 8446 4.2.8.2).

use ring::agreement;
use zeroize::Zeroizing;

use super::rand::RandomSource;
use super::secret::Secret;
use crate::codec::NamedGroup;
use crate::{Error, PeerMisbehaved};

/// Candidates drawn before giving up on the random source (ring's own bound). With a working
/// source a second draw is already needed only about once in 2^32 key exchanges.
const MAX_KEY_DRAWS: usize = 100;

static GROUPS: &[NamedGroup] = &[NamedGroup::x25519, NamedGroup::secp256r1, NamedGroup::secp384r1];

/// The groups we implement, in default preference order.
pub fn supported_groups() -> &'static [NamedGroup] {
    GROUPS
}

/// ring's algorithm, private-key length and public-key length for a group.
fn params(group: NamedGroup) -> Option<(&'static agreement::Algorithm, usize, usize)> {
    Some(match group {
        NamedGroup::x25519 => (&agreement::X25519, 32, 32),
        // Uncompressed points only: 0x04 || X || Y (RFC 8446 4.2.8.2).
        NamedGroup::secp256r1 => (&agreement::ECDH_P256, 32, 65),
        NamedGroup::secp384r1 => (&agreement::ECDH_P384, 48, 97),
        _ => return None,
    })
}

/// One side of an ephemeral key exchange: our private key and public share.
pub struct KeyExchange {
    group: NamedGroup,
    alg: &'static agreement::Algorithm,
    private: agreement::EphemeralPrivateKey,
    public: Vec<u8>,
}

impl core::fmt::Debug for KeyExchange {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("KeyExchange")
            .field("group", &self.group)
            .finish_non_exhaustive()
    }
}

impl KeyExchange {
    /// Draws the private key bytes from `rng` (32 bytes for X25519 and P-256, 48 for P-384)
    /// and hands them to ring as its randomness, so an injected random *is* the private key
    /// and recorded traces replay byte for byte. A P-256/P-384 candidate that is not a valid
    /// scalar (zero or at least the group order, about 1 in 2^32 for P-256) is discarded and
    /// fresh bytes are drawn, as the NIST SP 800-56A "testing candidates" method does; only a
    /// source that keeps giving invalid candidates fails.
    pub fn start(group: NamedGroup, rng: &dyn RandomSource) -> Result<Self, Error> {
        let (alg, priv_len, _) = params(group).ok_or(Error::Crypto("key exchange group not supported"))?;
        let mut seed = Zeroizing::new([0u8; 48]);
        let seed = &mut seed[..priv_len];
        for _ in 0..MAX_KEY_DRAWS {
            rng.fill(seed)?;
            // ring's SecureRandom is sealed; FixedSliceRandom is its public (deprecated) way
            // to feed chosen bytes. ring asks for exactly `priv_len` bytes for these groups
            // and, on an out-of-range scalar, asks again and gets the same bytes, so it fails:
            // the fresh draw has to happen here.
            #[allow(deprecated)]
            let fixed = ring::test::rand::FixedSliceRandom { bytes: seed };
            let Ok(private) = agreement::EphemeralPrivateKey::generate(alg, &fixed) else {
                continue;
            };
            let public = private
                .compute_public_key()
                .map_err(|_| Error::Crypto("key exchange: public key computation failed"))?
                .as_ref()
                .to_vec();
            return Ok(KeyExchange {
                group,
                alg,
                private,
                public,
            });
        }
        Err(Error::Crypto(
            "key exchange: random source gave no valid private key",
        ))
    }

    pub fn group(&self) -> NamedGroup {
        self.group
    }

    /// Our public share, as sent in the key_share extension.
    pub fn public_key(&self) -> &[u8] {
        &self.public
    }

    /// Computes the shared secret with the peer's share. A share of the wrong length, not on
    /// the curve, or giving the all-zero X25519 output (RFC 8446 7.4.2, RFC 7748 6.1) is
    /// `illegal_parameter`.
    pub fn complete(self, peer_public: &[u8]) -> Result<Secret, Error> {
        let bad = |why| Error::PeerMisbehaved(PeerMisbehaved::IllegalParameter(why));
        let expected_len = params(self.group).map(|p| p.2).unwrap_or(0);
        if peer_public.len() != expected_len {
            return Err(bad("key share has the wrong length"));
        }
        let peer = agreement::UnparsedPublicKey::new(self.alg, peer_public);
        agreement::agree_ephemeral(self.private, &peer, |shared| Secret::new(shared.to_vec()))
            .map_err(|_| bad("key share is not a valid point"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::rand::{FixedRandom, SystemRandomSource};

    #[test]
    fn both_sides_agree_for_each_group() {
        for &g in supported_groups() {
            let a = KeyExchange::start(g, &SystemRandomSource).unwrap();
            let b = KeyExchange::start(g, &SystemRandomSource).unwrap();
            assert_eq!(a.group(), g);
            let (pa, pb) = (a.public_key().to_vec(), b.public_key().to_vec());
            let sa = a.complete(&pb).unwrap();
            let sb = b.complete(&pa).unwrap();
            assert!(sa.ct_eq(sb.as_bytes()), "{g}");
        }
    }

    #[test]
    fn injected_random_is_the_private_key() {
        // RFC 7748 6.1: Alice's private key and public key.
        let sk = hex::decode("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a").unwrap();
        let kx = KeyExchange::start(NamedGroup::x25519, &FixedRandom::new(vec![sk.clone()])).unwrap();
        assert_eq!(
            hex::encode(kx.public_key()),
            "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
        );
        let bob_pub =
            hex::decode("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f").unwrap();
        let shared = kx.complete(&bob_pub).unwrap();
        assert_eq!(
            hex::encode(shared.as_bytes()),
            "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"
        );
        // Same bytes, same key: traces replay.
        let again = KeyExchange::start(NamedGroup::x25519, &FixedRandom::new(vec![sk])).unwrap();
        assert_eq!(
            hex::encode(again.public_key()),
            "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
        );
    }

    #[test]
    fn p384_draws_48_bytes() {
        let rng = FixedRandom::new(vec![vec![0x11; 48], vec![0x22; 5]]);
        let kx = KeyExchange::start(NamedGroup::secp384r1, &rng).unwrap();
        assert_eq!(kx.public_key().len(), 97);
        assert_eq!(rng.remaining(), 5);
        // A source that runs dry after an out-of-range scalar is an error, not a panic.
        let rng = FixedRandom::new(vec![vec![0xff; 32]]);
        assert!(matches!(
            KeyExchange::start(NamedGroup::secp256r1, &rng),
            Err(Error::Crypto(_))
        ));
        assert!(KeyExchange::start(NamedGroup::x25519, &FixedRandom::new(vec![vec![1; 31]])).is_err());
        assert!(KeyExchange::start(NamedGroup::x448, &SystemRandomSource).is_err());
    }

    #[test]
    fn out_of_range_scalar_draws_fresh_bytes() {
        // All 0xff is at least the group order of P-256 and of P-384 (and zero is never a
        // scalar): the candidate is discarded and the next bytes from the source are the key.
        for (group, len) in [(NamedGroup::secp256r1, 32), (NamedGroup::secp384r1, 48)] {
            let rng = FixedRandom::new(vec![vec![0xff; len], vec![0; len], vec![0x11; len], vec![7; 3]]);
            let kx = KeyExchange::start(group, &rng).unwrap();
            assert_eq!(rng.remaining(), 3, "{group}");
            let direct = KeyExchange::start(group, &FixedRandom::new(vec![vec![0x11; len]])).unwrap();
            assert_eq!(kx.public_key(), direct.public_key(), "{group}");
            // The key works.
            let peer = KeyExchange::start(group, &SystemRandomSource).unwrap();
            let peer_public = peer.public_key().to_vec();
            let ours = kx.public_key().to_vec();
            assert!(kx
                .complete(&peer_public)
                .unwrap()
                .ct_eq(peer.complete(&ours).unwrap().as_bytes()));
        }
        // A source that only ever gives invalid candidates fails after a bounded number of draws.
        let rng = FixedRandom::new(vec![vec![0xff; 32 * MAX_KEY_DRAWS + 5]]);
        assert!(matches!(
            KeyExchange::start(NamedGroup::secp256r1, &rng),
            Err(Error::Crypto(_))
        ));
        assert_eq!(rng.remaining(), 5);
    }

    fn illegal(r: Result<Secret, Error>) -> bool {
        matches!(r, Err(Error::PeerMisbehaved(PeerMisbehaved::IllegalParameter(_))))
    }

    #[test]
    fn bad_peer_share_is_illegal_parameter() {
        let start = |g| KeyExchange::start(g, &SystemRandomSource).unwrap();
        // Wrong lengths.
        assert!(illegal(start(NamedGroup::x25519).complete(&[9; 31])));
        assert!(illegal(start(NamedGroup::secp256r1).complete(&[4; 97])));
        assert!(illegal(start(NamedGroup::secp384r1).complete(&[])));
        // X25519 small-order point: the shared secret would be all zeros.
        assert!(illegal(start(NamedGroup::x25519).complete(&[0; 32])));
        let mut one = [0u8; 32];
        one[0] = 1;
        assert!(illegal(start(NamedGroup::x25519).complete(&one)));
        // P-256: not on the curve, compressed form, the point at infinity.
        let mut p = start(NamedGroup::secp256r1).public_key().to_vec();
        p[64] ^= 1;
        assert!(illegal(start(NamedGroup::secp256r1).complete(&p)));
        p[0] = 2;
        assert!(illegal(start(NamedGroup::secp256r1).complete(&p[..65])));
        let mut p = vec![0u8; 97];
        p[0] = 4;
        assert!(illegal(start(NamedGroup::secp384r1).complete(&p)));
    }
}
