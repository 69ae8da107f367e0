//! Ephemeral key exchange: X25519 (RFC 7748), P-256 and P-384 (RFC 8446 4.2.8.2), and the
//! hybrids of one of them with ML-KEM (FIPS 203) from draft-ietf-tls-ecdhe-mlkem.

use crate::error::Parameter;
use libcrux_ml_kem::{mlkem1024, mlkem768, MlKemKeyPair};
use ring::agreement;
use zeroize::Zeroizing;

use super::rand::RandomSource;
use super::secret::Secret;
use crate::codec::NamedGroup;
use crate::{Error, PeerMisbehaved};

/// Candidates drawn before giving up on the random source (ring's own bound). With a working
/// source a second draw is already needed only about once in 2^32 key exchanges.
const MAX_KEY_DRAWS: usize = 100;

/// Every group we implement.
static GROUPS: &[NamedGroup] = &[
    NamedGroup::X25519MLKEM768,
    NamedGroup::SecP256r1MLKEM768,
    NamedGroup::SecP384r1MLKEM1024,
    NamedGroup::x25519,
    NamedGroup::secp256r1,
    NamedGroup::secp384r1,
];

/// The groups a config offers and accepts unless told otherwise, in preference order: the
/// browsers' list (Chrome, Firefox and Safari offer X25519MLKEM768 first, then x25519). A
/// client sends shares for X25519MLKEM768 and x25519 (see `ClientConfigBuilder::
/// key_share_groups`); a server takes the hybrid when the client sent its share and otherwise
/// the first classical share it sent, before any HelloRetryRequest. The hybrid is TLS 1.3
/// only (draft-ietf-tls-ecdhe-mlkem 3): TLS 1.2 hellos and DTLS first flights leave it out.
static DEFAULT_GROUPS: &[NamedGroup] = &[
    NamedGroup::X25519MLKEM768,
    NamedGroup::x25519,
    NamedGroup::secp256r1,
    NamedGroup::secp384r1,
];

/// The groups we implement (a config's groups must come from here).
pub fn supported_groups() -> &'static [NamedGroup] {
    GROUPS
}

/// The default groups, in default preference order.
pub fn default_groups() -> &'static [NamedGroup] {
    DEFAULT_GROUPS
}

/// Whether `group` is a post-quantum hybrid: TLS 1.3 only (draft-ietf-tls-ecdhe-mlkem 3),
/// never a TLS 1.2 ServerKeyExchange curve.
pub fn is_hybrid(group: NamedGroup) -> bool {
    hybrid(group).is_some()
}

/// ring's algorithm, private-key length and public-key length for an ECDH group.
fn params(group: NamedGroup) -> Option<(&'static agreement::Algorithm, usize, usize)> {
    Some(match group {
        NamedGroup::x25519 => (&agreement::X25519, 32, 32),
        // Uncompressed points only: 0x04 || X || Y (RFC 8446 4.2.8.2).
        NamedGroup::secp256r1 => (&agreement::ECDH_P256, 32, 65),
        NamedGroup::secp384r1 => (&agreement::ECDH_P384, 48, 97),
        _ => return None,
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kem {
    MlKem768,
    MlKem1024,
}

impl Kem {
    /// FIPS 203 8, table 3: encapsulation key and ciphertext sizes.
    fn ek_len(self) -> usize {
        match self {
            Kem::MlKem768 => 1184,
            Kem::MlKem1024 => 1568,
        }
    }

    fn ct_len(self) -> usize {
        match self {
            Kem::MlKem768 => 1088,
            Kem::MlKem1024 => 1568,
        }
    }
}

/// A hybrid group: its ECDH group, its ML-KEM parameter set, and whether the ML-KEM part
/// comes first in the shares and the shared secret.
#[derive(Clone, Copy, Debug)]
struct Hybrid {
    ecdh: NamedGroup,
    kem: Kem,
    kem_first: bool,
}

/// draft-ietf-tls-ecdhe-mlkem 3: X25519MLKEM768 puts ML-KEM first (for FIPS approval of the
/// concatenation in SP 800-56C order); the two NIST-curve hybrids put ECDH first.
fn hybrid(group: NamedGroup) -> Option<Hybrid> {
    let (ecdh, kem, kem_first) = match group {
        NamedGroup::X25519MLKEM768 => (NamedGroup::x25519, Kem::MlKem768, true),
        NamedGroup::SecP256r1MLKEM768 => (NamedGroup::secp256r1, Kem::MlKem768, false),
        NamedGroup::SecP384r1MLKEM1024 => (NamedGroup::secp384r1, Kem::MlKem1024, false),
        _ => return None,
    };
    Some(Hybrid { ecdh, kem, kem_first })
}

/// `a || b`, or `b || a` when `swap`, in one allocation of the exact size: it never grows,
/// so a secret put together here leaves no copy behind (the caller hands it to [`Secret`]).
fn concat(a: &[u8], b: &[u8], swap: bool) -> Vec<u8> {
    let (first, second) = if swap { (b, a) } else { (a, b) };
    let mut out = Vec::with_capacity(first.len() + second.len());
    out.extend_from_slice(first);
    out.extend_from_slice(second);
    out
}

fn illegal(why: Parameter) -> Error {
    Error::PeerMisbehaved(PeerMisbehaved::IllegalParameter(why))
}

/// An ML-KEM decapsulation key. libcrux's key types do not wipe themselves, so the key lives
/// in one heap place and is overwritten with zeros on drop.
struct KemKeyPair<const SK: usize, const PK: usize>(Box<MlKemKeyPair<SK, PK>>);

impl<const SK: usize, const PK: usize> KemKeyPair<SK, PK> {
    fn wipe(&mut self) {
        *self.0 = MlKemKeyPair::from(Default::default(), Default::default());
        // Keep the store: the key pair is not read again, so it would otherwise be dead.
        core::hint::black_box(&mut *self.0);
    }
}

impl<const SK: usize, const PK: usize> Drop for KemKeyPair<SK, PK> {
    fn drop(&mut self) {
        self.wipe();
    }
}

/// ML-KEM-768 on x86_64 with AVX2, kept in libcrux's unpacked form: the key pair holds the
/// matrix A and the secret vector in NTT form, so decapsulation skips re-deriving A from its
/// seed and unpacking the secret key (about half its cost). Same key, same results as the
/// packed API (checked by the known-answer tests below); wiped on drop like [`KemKeyPair`].
#[cfg(target_arch = "x86_64")]
struct Avx2KeyPair768(Box<mlkem768::avx2::unpacked::MlKem768KeyPairUnpacked>);

#[cfg(target_arch = "x86_64")]
impl Avx2KeyPair768 {
    /// libcrux's AVX2 instantiation assumes the CPU has AVX2 (it is what its own
    /// multiplexing checks before taking it); std caches the answer.
    fn available() -> bool {
        std::is_x86_feature_detected!("avx2")
    }

    fn wipe(&mut self) {
        *self.0 = mlkem768::avx2::unpacked::init_key_pair();
        core::hint::black_box(&mut *self.0);
    }
}

#[cfg(target_arch = "x86_64")]
impl Drop for Avx2KeyPair768 {
    fn drop(&mut self) {
        self.wipe();
    }
}

enum KemPrivate {
    #[cfg(target_arch = "x86_64")]
    MlKem768Avx2(Avx2KeyPair768),
    MlKem768(KemKeyPair<2400, 1184>),
    MlKem1024(KemKeyPair<3168, 1568>),
}

impl KemPrivate {
    /// FIPS 203 ML-KEM.KeyGen_internal(d, z) with `d || z` drawn from `rng`.
    fn generate(kem: Kem, rng: &dyn RandomSource) -> Result<(Self, Vec<u8>), Error> {
        let mut seed = Zeroizing::new([0u8; libcrux_ml_kem::KEY_GENERATION_SEED_SIZE]);
        rng.fill(&mut seed[..])?;
        Ok(match kem {
            #[cfg(target_arch = "x86_64")]
            Kem::MlKem768 if Avx2KeyPair768::available() => {
                use mlkem768::avx2::unpacked;
                let mut kp = Avx2KeyPair768(Box::new(unpacked::init_key_pair()));
                unpacked::generate_key_pair_mut(*seed, &mut kp.0);
                let mut ek = mlkem768::MlKem768PublicKey::default();
                unpacked::key_pair_serialized_public_key_mut(&kp.0, &mut ek);
                (KemPrivate::MlKem768Avx2(kp), ek.as_slice().to_vec())
            }
            Kem::MlKem768 => {
                let kp = KemKeyPair(Box::new(mlkem768::generate_key_pair(*seed)));
                let ek = kp.0.pk().to_vec();
                (KemPrivate::MlKem768(kp), ek)
            }
            Kem::MlKem1024 => {
                let kp = KemKeyPair(Box::new(mlkem1024::generate_key_pair(*seed)));
                let ek = kp.0.pk().to_vec();
                (KemPrivate::MlKem1024(kp), ek)
            }
        })
    }

    /// FIPS 203 ML-KEM.Decaps. The ciphertext length is the only check FIPS 203 7.3 asks for;
    /// a wrong ciphertext gives the implicit-rejection key, so the handshake fails later on
    /// the peer's Finished or first record.
    fn decapsulate(&self, ct: &[u8]) -> Result<Zeroizing<[u8; 32]>, Error> {
        let bad = || illegal(Parameter::MlKemCiphertextLength);
        Ok(Zeroizing::new(match self {
            #[cfg(target_arch = "x86_64")]
            KemPrivate::MlKem768Avx2(kp) => {
                let ct = mlkem768::MlKem768Ciphertext::try_from(ct).map_err(|_| bad())?;
                mlkem768::avx2::unpacked::decapsulate(&kp.0, &ct)
            }
            KemPrivate::MlKem768(kp) => {
                let ct = mlkem768::MlKem768Ciphertext::try_from(ct).map_err(|_| bad())?;
                mlkem768::decapsulate(kp.0.private_key(), &ct)
            }
            KemPrivate::MlKem1024(kp) => {
                let ct = mlkem1024::MlKem1024Ciphertext::try_from(ct).map_err(|_| bad())?;
                mlkem1024::decapsulate(kp.0.private_key(), &ct)
            }
        }))
    }
}

/// FIPS 203 7.2 input checks on a peer's encapsulation key: its length, and every
/// coefficient below q (the modulus check). Done once, before any randomness is drawn, so a
/// refused key costs the random source nothing.
fn check_kem_ek(kem: Kem, ek: &[u8]) -> Result<(), Error> {
    if ek.len() != kem.ek_len() {
        return Err(illegal(Parameter::MlKemKeyLength));
    }
    let valid = match kem {
        Kem::MlKem768 => {
            mlkem768::MlKem768PublicKey::try_from(ek).is_ok_and(|ek| mlkem768::validate_public_key(&ek))
        }
        Kem::MlKem1024 => {
            mlkem1024::MlKem1024PublicKey::try_from(ek).is_ok_and(|ek| mlkem1024::validate_public_key(&ek))
        }
    };
    if valid {
        Ok(())
    } else {
        Err(illegal(Parameter::MlKemModulus))
    }
}

/// FIPS 203 ML-KEM.Encaps to `ek`, which passed [`check_kem_ek`]; `m` from `rng`. Returns
/// the ciphertext and the shared key.
fn encapsulate(kem: Kem, ek: &[u8], rng: &dyn RandomSource) -> Result<(Vec<u8>, Zeroizing<[u8; 32]>), Error> {
    let bad_len = || illegal(Parameter::MlKemKeyLength);
    let mut m = Zeroizing::new([0u8; libcrux_ml_kem::SHARED_SECRET_SIZE]);
    rng.fill(&mut m[..])?;
    let (ct, ss) = match kem {
        Kem::MlKem768 => {
            let ek = mlkem768::MlKem768PublicKey::try_from(ek).map_err(|_| bad_len())?;
            let (ct, ss) = mlkem768::encapsulate(&ek, *m);
            (ct.as_ref().to_vec(), ss)
        }
        Kem::MlKem1024 => {
            let ek = mlkem1024::MlKem1024PublicKey::try_from(ek).map_err(|_| bad_len())?;
            let (ct, ss) = mlkem1024::encapsulate(&ek, *m);
            (ct.as_ref().to_vec(), ss)
        }
    };
    Ok((ct, Zeroizing::new(ss)))
}

/// One side of an ephemeral ECDH exchange.
struct Ecdh {
    alg: &'static agreement::Algorithm,
    pub_len: usize,
    private: agreement::EphemeralPrivateKey,
    public: Vec<u8>,
}

impl Ecdh {
    /// Draws the private key bytes from `rng` (32 bytes for X25519 and P-256, 48 for P-384)
    /// and hands them to ring as its randomness, so an injected random *is* the private key
    /// and recorded traces replay byte for byte. A P-256/P-384 candidate that is not a valid
    /// scalar (zero or at least the group order, about 1 in 2^32 for P-256) is discarded and
    /// fresh bytes are drawn, as the NIST SP 800-56A "testing candidates" method does; only a
    /// source that keeps giving invalid candidates fails.
    fn start(group: NamedGroup, rng: &dyn RandomSource) -> Result<Self, Error> {
        let (alg, priv_len, pub_len) =
            params(group).ok_or(Error::Crypto("key exchange group not supported"))?;
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
            return Ok(Ecdh {
                alg,
                pub_len,
                private,
                public,
            });
        }
        Err(Error::Crypto(
            "key exchange: random source gave no valid private key",
        ))
    }

    /// A share of the wrong length, not on the curve, or giving the all-zero X25519 output
    /// (RFC 8446 7.4.2, RFC 7748 6.1) is `illegal_parameter`.
    fn complete(self, peer_public: &[u8]) -> Result<Secret, Error> {
        if peer_public.len() != self.pub_len {
            return Err(illegal(Parameter::KeyShareLength));
        }
        let peer = agreement::UnparsedPublicKey::new(self.alg, peer_public);
        agreement::agree_ephemeral(self.private, &peer, |shared| Secret::new(shared.to_vec()))
            .map_err(|_| illegal(Parameter::InvalidPoint))
    }
}

/// One side of an ephemeral key exchange: our private key(s) and public share.
pub struct KeyExchange {
    group: NamedGroup,
    ecdh: Ecdh,
    /// The ML-KEM decapsulation key of a hybrid group (client side).
    kem: Option<(Hybrid, KemPrivate)>,
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
    /// Makes our share. ECDH private keys are drawn from `rng` (see `Ecdh::start`); a hybrid
    /// draws the ML-KEM seed `d || z` (64 bytes) from `rng` too, in share order (for
    /// X25519MLKEM768 the seed first, then the X25519 key; for the NIST hybrids the ECDH key
    /// first), so injected randomness reproduces a trace.
    pub fn start(group: NamedGroup, rng: &dyn RandomSource) -> Result<Self, Error> {
        let Some(h) = hybrid(group) else {
            let ecdh = Ecdh::start(group, rng)?;
            let public = ecdh.public.clone();
            return Ok(KeyExchange {
                group,
                ecdh,
                kem: None,
                public,
            });
        };
        let (ecdh, (kem, ek)) = if h.kem_first {
            let kem = KemPrivate::generate(h.kem, rng)?;
            (Ecdh::start(h.ecdh, rng)?, kem)
        } else {
            let ecdh = Ecdh::start(h.ecdh, rng)?;
            (ecdh, KemPrivate::generate(h.kem, rng)?)
        };
        // draft-ietf-tls-ecdhe-mlkem 3: the client's share is the two public parts concatenated.
        let public = concat(&ecdh.public, &ek, h.kem_first);
        Ok(KeyExchange {
            group,
            ecdh,
            kem: Some((h, kem)),
            public,
        })
    }

    /// The server's side in one step: checks the client's share, makes ours and the shared
    /// secret. For ECDH groups this is `start` then `complete`; for a hybrid the server
    /// encapsulates to the client's ML-KEM key (after the FIPS 203 7.2 checks) and answers
    /// with the ciphertext beside its ECDH share. A malformed client share is
    /// `illegal_parameter`, checked before any randomness is drawn where the length tells.
    pub fn accept(
        group: NamedGroup,
        peer_share: &[u8],
        rng: &dyn RandomSource,
    ) -> Result<(Vec<u8>, Secret), Error> {
        let Some(h) = hybrid(group) else {
            let kx = KeyExchange::start(group, rng)?;
            let public = kx.public.clone();
            return Ok((public, kx.complete(peer_share)?));
        };
        let ecdh_len = params(h.ecdh).map_or(0, |p| p.2);
        if peer_share.len() != ecdh_len + h.kem.ek_len() {
            return Err(illegal(Parameter::HybridShareLength));
        }
        let (peer_ecdh, peer_ek) = if h.kem_first {
            let (ek, ecdh) = peer_share.split_at(h.kem.ek_len());
            (ecdh, ek)
        } else {
            peer_share.split_at(ecdh_len)
        };
        check_kem_ek(h.kem, peer_ek)?;
        // Randomness in share order, as on the client.
        let (ecdh, (ct, kem_ss)) = if h.kem_first {
            let kem = encapsulate(h.kem, peer_ek, rng)?;
            (Ecdh::start(h.ecdh, rng)?, kem)
        } else {
            let ecdh = Ecdh::start(h.ecdh, rng)?;
            (ecdh, encapsulate(h.kem, peer_ek, rng)?)
        };
        let public = concat(&ecdh.public, &ct, h.kem_first);
        let ecdh_ss = ecdh.complete(peer_ecdh)?;
        let shared = concat(ecdh_ss.as_bytes(), &kem_ss[..], h.kem_first);
        Ok((public, Secret::new(shared)))
    }

    /// The group this share belongs to.
    pub fn group(&self) -> NamedGroup {
        self.group
    }

    /// Our public share, as sent in the key_share extension.
    pub fn public_key(&self) -> &[u8] {
        &self.public
    }

    /// A hybrid's ECDH group and public key: the part of this share a client may also send
    /// as that group's own share (draft-ietf-tls-hybrid-design 3.2 lets one ClientHello
    /// reuse a key_exchange value across its KeyShareEntry records), saving one ECDH key
    /// generation. `None` for an ECDH group.
    pub fn classical_part(&self) -> Option<(NamedGroup, &[u8])> {
        self.kem
            .as_ref()
            .map(|(h, _)| (h.ecdh, self.ecdh.public.as_slice()))
    }

    /// Completes only the ECDH part of this share with the peer's `peer_public` for that
    /// group (the server chose the classical group whose share was [`classical_part`]); the
    /// ML-KEM key is dropped unused (and wiped). For an ECDH group, the same as `complete`.
    ///
    /// [`classical_part`]: Self::classical_part
    pub fn complete_classical(self, peer_public: &[u8]) -> Result<Secret, Error> {
        let KeyExchange { ecdh, kem, .. } = self;
        drop(kem);
        ecdh.complete(peer_public)
    }

    /// Computes the shared secret with the peer's share. A share of the wrong length, not on
    /// the curve, or giving the all-zero X25519 output (RFC 8446 7.4.2, RFC 7748 6.1) is
    /// `illegal_parameter`; so is a hybrid server share of the wrong length.
    pub fn complete(self, peer_public: &[u8]) -> Result<Secret, Error> {
        let Some((h, kem)) = &self.kem else {
            return self.ecdh.complete(peer_public);
        };
        let ecdh_len = self.ecdh.pub_len;
        if peer_public.len() != ecdh_len + h.kem.ct_len() {
            return Err(illegal(Parameter::HybridShareLength));
        }
        let (peer_ecdh, ct) = if h.kem_first {
            let (ct, ecdh) = peer_public.split_at(h.kem.ct_len());
            (ecdh, ct)
        } else {
            peer_public.split_at(ecdh_len)
        };
        let kem_ss = kem.decapsulate(ct)?;
        let kem_first = h.kem_first;
        let KeyExchange { ecdh, .. } = self;
        let ecdh_ss = ecdh.complete(peer_ecdh)?;
        let shared = concat(ecdh_ss.as_bytes(), &kem_ss[..], kem_first);
        Ok(Secret::new(shared))
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
            if !is_hybrid(g) {
                let (pa, pb) = (a.public_key().to_vec(), b.public_key().to_vec());
                let sa = a.complete(&pb).unwrap();
                let sb = b.complete(&pa).unwrap();
                assert!(sa.ct_eq(sb.as_bytes()), "{g}");
            }
            // The server's one-step side, for every group.
            let client = KeyExchange::start(g, &SystemRandomSource).unwrap();
            let (server_share, ss) =
                KeyExchange::accept(g, client.public_key(), &SystemRandomSource).unwrap();
            let cs = client.complete(&server_share).unwrap();
            assert!(cs.ct_eq(ss.as_bytes()), "{g}");
        }
    }

    /// draft-ietf-tls-ecdhe-mlkem 3: share sizes and shared-secret sizes.
    #[test]
    fn hybrid_sizes() {
        for (g, client_len, server_len, secret_len) in [
            (NamedGroup::X25519MLKEM768, 1216, 1120, 64),
            (NamedGroup::SecP256r1MLKEM768, 1249, 1153, 64),
            (NamedGroup::SecP384r1MLKEM1024, 1665, 1665, 80),
        ] {
            assert!(is_hybrid(g));
            let client = KeyExchange::start(g, &SystemRandomSource).unwrap();
            assert_eq!(client.public_key().len(), client_len, "{g}");
            let (share, ss) = KeyExchange::accept(g, client.public_key(), &SystemRandomSource).unwrap();
            assert_eq!(share.len(), server_len, "{g}");
            assert_eq!(ss.len(), secret_len, "{g}");
        }
        assert!(!is_hybrid(NamedGroup::x25519));
    }

    // RFC 7748 6.1: Alice's and Bob's X25519 keys and their shared secret.
    const ALICE_SK: &str = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
    const ALICE_PK: &str = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
    const BOB_SK: &str = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb";
    const BOB_PK: &str = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";
    const X25519_SHARED: &str = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";

    /// X25519MLKEM768 (draft-ietf-tls-ecdhe-mlkem 3): the client share is ML-KEM-768 ek ||
    /// X25519 public key, the server share ciphertext || X25519 public key, the secret ML-KEM
    /// key || X25519 output; the randomness goes ML-KEM first, then X25519. The X25519 parts
    /// are the RFC 7748 vectors; the ML-KEM parts are FIPS 203 KeyGen_internal/Encaps_internal
    /// on the same seeds (checked against the accumulated FIPS 203 vectors below).
    #[test]
    fn x25519mlkem768_trace() {
        let d_z = [0x5au8; 64];
        let m = [0xa5u8; 32];
        let h = |s: &str| hex::decode(s).unwrap();
        let kp = mlkem768::generate_key_pair(d_z);
        let (ct, kem_ss) = mlkem768::encapsulate(kp.public_key(), m);

        let rng = FixedRandom::new(vec![d_z.to_vec(), h(ALICE_SK)]);
        let client = KeyExchange::start(NamedGroup::X25519MLKEM768, &rng).unwrap();
        assert_eq!(rng.remaining(), 0);
        assert_eq!(&client.public_key()[..1184], &kp.pk()[..]);
        assert_eq!(hex::encode(&client.public_key()[1184..]), ALICE_PK);

        let rng = FixedRandom::new(vec![m.to_vec(), h(BOB_SK)]);
        let (share, server_ss) =
            KeyExchange::accept(NamedGroup::X25519MLKEM768, client.public_key(), &rng).unwrap();
        assert_eq!(rng.remaining(), 0);
        assert_eq!(&share[..1088], ct.as_ref());
        assert_eq!(hex::encode(&share[1088..]), BOB_PK);
        let expected = [&kem_ss[..], &h(X25519_SHARED)].concat();
        assert_eq!(server_ss.as_bytes(), &expected[..]);
        assert_eq!(client.complete(&share).unwrap().as_bytes(), &expected[..]);
    }

    /// The NIST hybrids put ECDH first: in the shares, in the secret and in the randomness.
    #[test]
    fn nist_hybrids_put_ecdh_first() {
        for (g, ecdh, sk_len, pk_len, ct_len) in [
            (NamedGroup::SecP256r1MLKEM768, NamedGroup::secp256r1, 32, 65, 1088),
            (
                NamedGroup::SecP384r1MLKEM1024,
                NamedGroup::secp384r1,
                48,
                97,
                1568,
            ),
        ] {
            let d_z = [0x33u8; 64];
            let m = [0x44u8; 32];
            let (csk, ssk) = (vec![0x11u8; sk_len], vec![0x22u8; sk_len]);
            let client = KeyExchange::start(g, &FixedRandom::new(vec![csk.clone(), d_z.to_vec()])).unwrap();
            let client_ecdh = KeyExchange::start(ecdh, &FixedRandom::new(vec![csk])).unwrap();
            assert_eq!(&client.public_key()[..pk_len], client_ecdh.public_key(), "{g}");
            let ek = &client.public_key()[pk_len..];
            let (ct, kem_ss) = if g == NamedGroup::SecP256r1MLKEM768 {
                let kp = mlkem768::generate_key_pair(d_z);
                assert_eq!(ek, &kp.pk()[..]);
                let (ct, ss) = mlkem768::encapsulate(kp.public_key(), m);
                (ct.as_ref().to_vec(), ss)
            } else {
                let kp = mlkem1024::generate_key_pair(d_z);
                assert_eq!(ek, &kp.pk()[..]);
                let (ct, ss) = mlkem1024::encapsulate(kp.public_key(), m);
                (ct.as_ref().to_vec(), ss)
            };
            let rng = FixedRandom::new(vec![ssk.clone(), m.to_vec()]);
            let (share, server_ss) = KeyExchange::accept(g, client.public_key(), &rng).unwrap();
            assert_eq!(rng.remaining(), 0);
            let server_ecdh = KeyExchange::start(ecdh, &FixedRandom::new(vec![ssk])).unwrap();
            assert_eq!(&share[..pk_len], server_ecdh.public_key(), "{g}");
            assert_eq!(&share[pk_len..], &ct[..], "{g}");
            assert_eq!(share.len(), pk_len + ct_len);
            let ecdh_ss = server_ecdh.complete(&client.public_key()[..pk_len]).unwrap();
            let expected = [ecdh_ss.as_bytes(), &kem_ss[..]].concat();
            assert_eq!(server_ss.as_bytes(), &expected[..], "{g}");
            assert_eq!(client.complete(&share).unwrap().as_bytes(), &expected[..], "{g}");
        }
    }

    /// FIPS 203 known answers: the accumulated ML-KEM-768 vectors of the C2SP CCTV suite
    /// (100 rounds of KeyGen_internal(d, z), Encaps_internal(ek, m), Decaps of the real and
    /// of a random ciphertext, inputs from a SHAKE-128 stream, outputs hashed with SHAKE-128).
    #[test]
    fn mlkem768_accumulated_vectors() {
        use shake::{ExtendableOutput, Update, XofReader};
        let mut s = shake::Shake128::default().finalize_xof();
        let mut o = shake::Shake128::default();
        for _ in 0..100 {
            let mut d_z = [0u8; 64];
            s.read(&mut d_z);
            let kp = mlkem768::generate_key_pair(d_z);
            o.update(kp.pk());
            let mut m = [0u8; 32];
            s.read(&mut m);
            let (ct, k) = mlkem768::encapsulate(kp.public_key(), m);
            o.update(ct.as_ref());
            o.update(&k);
            assert_eq!(mlkem768::decapsulate(kp.private_key(), &ct), k);
            let mut ct1 = [0u8; 1088];
            s.read(&mut ct1);
            o.update(&mlkem768::decapsulate(kp.private_key(), &ct1.into()));
        }
        let mut sum = [0u8; 32];
        o.finalize_xof().read(&mut sum);
        assert_eq!(
            hex::encode(sum),
            "1114b1b6699ed191734fa339376afa7e285c9e6acf6ff0177d346696ce564415"
        );
    }

    /// The ML-KEM decapsulation key is overwritten in place (what `Drop` does).
    #[test]
    fn mlkem_secret_key_is_wiped() {
        let mut kp = KemKeyPair(Box::new(mlkem768::generate_key_pair([7; 64])));
        assert!(kp.0.sk().iter().any(|&b| b != 0));
        let at: *const MlKemKeyPair<2400, 1184> = &*kp.0;
        kp.wipe();
        assert!(core::ptr::eq(at, &*kp.0), "same heap place");
        assert!(kp.0.sk().iter().all(|&b| b == 0));
    }

    /// On x86_64 with AVX2 the ML-KEM-768 key is kept unpacked: the same encapsulation key
    /// as the packed API from the same seed, the same decapsulation (also the
    /// implicit-rejection key of a wrong ciphertext), and wiped in place.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_unpacked_key_matches_the_packed_one_and_is_wiped() {
        if !Avx2KeyPair768::available() {
            return;
        }
        let seed = [0x5a; 64];
        let packed = mlkem768::generate_key_pair(seed);
        let (kem, ek) = KemPrivate::generate(Kem::MlKem768, &FixedRandom::new(vec![seed.to_vec()])).unwrap();
        assert_eq!(ek, packed.pk());
        let (ct, ss) = mlkem768::encapsulate(packed.public_key(), [3; 32]);
        assert_eq!(*kem.decapsulate(ct.as_ref()).unwrap(), ss);
        let wrong = [7u8; 1088];
        assert_eq!(
            *kem.decapsulate(&wrong).unwrap(),
            mlkem768::decapsulate(packed.private_key(), &wrong.into())
        );
        let KemPrivate::MlKem768Avx2(mut kp) = kem else {
            panic!("AVX2 present, the unpacked key expected");
        };
        let sk = mlkem768::avx2::unpacked::key_pair_serialized_private_key(&kp.0);
        assert_eq!(sk.as_slice(), packed.sk());
        let at: *const _ = &*kp.0;
        kp.wipe();
        assert!(core::ptr::eq(at, &*kp.0), "same heap place");
        // FIPS 203 7.1: dk = dk_PKE || ek || H(ek) || z. Serializing recomputes H(ek) from
        // the (now zero) public part; everything the key pair holds is zero.
        let sk = mlkem768::avx2::unpacked::key_pair_serialized_private_key(&kp.0);
        let held = [&sk.as_slice()[..2336], &sk.as_slice()[2368..]];
        assert!(held.iter().all(|part| part.iter().all(|&b| b == 0)));
    }

    /// A hybrid's ECDH part, completed alone, is the plain ECDH exchange of its curve.
    #[test]
    fn classical_part_of_a_hybrid_completes_alone() {
        for (g, ecdh) in [
            (NamedGroup::X25519MLKEM768, NamedGroup::x25519),
            (NamedGroup::SecP256r1MLKEM768, NamedGroup::secp256r1),
        ] {
            let client = KeyExchange::start(g, &SystemRandomSource).unwrap();
            let (group, public) = client.classical_part().unwrap();
            assert_eq!(group, ecdh);
            let public = public.to_vec();
            let (server_share, server_ss) = KeyExchange::accept(ecdh, &public, &SystemRandomSource).unwrap();
            assert!(client
                .complete_classical(&server_share)
                .unwrap()
                .ct_eq(server_ss.as_bytes()));
        }
        assert!(KeyExchange::start(NamedGroup::x25519, &SystemRandomSource)
            .unwrap()
            .classical_part()
            .is_none());
    }

    /// FIPS 203 7.2 and 7.3 input checks and the ECDH part of a hybrid share: all
    /// `illegal_parameter`, and a refused encapsulation key draws no randomness.
    #[test]
    fn bad_hybrid_shares_are_illegal_parameter() {
        for g in [
            NamedGroup::X25519MLKEM768,
            NamedGroup::SecP256r1MLKEM768,
            NamedGroup::SecP384r1MLKEM1024,
        ] {
            let h = hybrid(g).unwrap();
            let ecdh_len = params(h.ecdh).unwrap().2;
            let client = KeyExchange::start(g, &SystemRandomSource).unwrap();
            let share = client.public_key().to_vec();
            let accept = |share: &[u8]| {
                let rng = FixedRandom::new(vec![vec![0x42; 200]]);
                let r = KeyExchange::accept(g, share, &rng).map(|(_, s)| s);
                (r, rng.remaining())
            };
            // Truncated and oversized.
            for bad in [
                &share[..share.len() - 1],
                &[share.as_slice(), &[0]].concat()[..],
                &[][..],
            ] {
                let (r, left) = accept(bad);
                assert!(illegal(r), "{g} len {}", bad.len());
                assert_eq!(left, 200);
            }
            // An out-of-range coefficient: the first 12-bit coefficient of the ek set to 4095 >= q.
            let ek_at = if h.kem_first { 0 } else { ecdh_len };
            let mut bad = share.clone();
            bad[ek_at] = 0xff;
            bad[ek_at + 1] |= 0x0f;
            let (r, left) = accept(&bad);
            assert!(illegal(r), "{g} modulus");
            assert_eq!(left, 200, "{g}");
            // A bad ECDH part.
            let ecdh_at = if h.kem_first { h.kem.ek_len() } else { 0 };
            let mut bad = share.clone();
            bad[ecdh_at..ecdh_at + ecdh_len].fill(0);
            assert!(illegal(accept(&bad).0), "{g} ecdh");

            // The client side: a server share of the wrong length.
            let (server_share, _) = KeyExchange::accept(g, &share, &SystemRandomSource).unwrap();
            for bad in [
                &server_share[..server_share.len() - 1],
                &[server_share.as_slice(), &[0]].concat()[..],
            ] {
                let c = KeyExchange::start(g, &SystemRandomSource).unwrap();
                assert!(illegal(c.complete(bad)), "{g}");
            }
            // A tampered ciphertext decapsulates to the implicit-rejection key: no error here,
            // a different secret (the handshake then fails on the peer's Finished).
            let client2 = KeyExchange::start(g, &SystemRandomSource).unwrap();
            let (mut s2, ss2) = KeyExchange::accept(g, client2.public_key(), &SystemRandomSource).unwrap();
            let ct_at = if h.kem_first { 0 } else { ecdh_len };
            s2[ct_at] ^= 1;
            assert!(!client2.complete(&s2).unwrap().ct_eq(ss2.as_bytes()), "{g}");
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
