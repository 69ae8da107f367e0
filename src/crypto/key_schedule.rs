//! The TLS 1.3 key schedule (RFC 8446 7.1) and the secrets derived from it: Finished keys
//! (4.4.4), key updates (7.2), resumption PSKs (4.6.1) and exporters (7.5).

use std::sync::OnceLock;

use ring::hmac;

use super::hash::HashAlg;
use super::hkdf::{Prk, TLS13_LABEL_PREFIX};
use super::secret::Secret;
use zeroize::Zeroizing;

/// Where the schedule stands (RFC 8446 7.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Early,
    Handshake,
    Master,
}

/// The TLS 1.3 key schedule: holds the current stage secret (early, handshake, then master),
/// and derives the traffic secrets of that stage. The stage secret is kept as a [`Prk`], so
/// its HMAC key is set up once per stage however many secrets derive from it. Move it forward with
/// [`input_shared_secret`](Self::input_shared_secret) and [`input_empty`](Self::input_empty).
pub struct KeySchedule13 {
    alg: HashAlg,
    /// `"tls13 "`, or `"dtls13"` on DTLS 1.3 (RFC 9147 5.9).
    prefix: &'static [u8],
    stage: Stage,
    current: Current,
}

/// The stage secret.
enum Current {
    /// The Early Secret without a PSK, HKDF-Extract(0, 0): a constant, as is its "derived"
    /// secret, so a full handshake skips both HMACs (and their key setups).
    EarlyNoPsk,
    Prk(Prk),
}

/// Derive-Secret(HKDF-Extract(0, 0), "derived", "") for SHA-256 (RFC 8448 3 shows it).
const DERIVED_NO_PSK_SHA256: [u8; 32] = [
    0x6f, 0x26, 0x15, 0xa1, 0x08, 0xc7, 0x02, 0xc5, 0x67, 0x8f, 0x54, 0xfc, 0x9d, 0xba, 0xb6, 0x97, 0x16,
    0xc0, 0x76, 0x18, 0x9c, 0x48, 0x25, 0x0c, 0xeb, 0xea, 0xc3, 0x57, 0x6c, 0x36, 0x11, 0xba,
];
/// The same for SHA-384.
const DERIVED_NO_PSK_SHA384: [u8; 48] = [
    0x15, 0x91, 0xda, 0xc5, 0xcb, 0xbf, 0x03, 0x30, 0xa4, 0xa8, 0x4d, 0xe9, 0xc7, 0x53, 0x33, 0x0e, 0x92,
    0xd0, 0x1f, 0x0a, 0x88, 0x21, 0x4b, 0x44, 0x64, 0x97, 0x2f, 0xd6, 0x68, 0x04, 0x9e, 0x93, 0xe5, 0x2f,
    0x2b, 0x16, 0xfa, 0xd9, 0x22, 0xfd, 0xc0, 0x58, 0x44, 0x78, 0x42, 0x8f, 0x28, 0x2b,
];

fn derived_no_psk(alg: HashAlg) -> &'static [u8] {
    match alg {
        HashAlg::Sha256 => &DERIVED_NO_PSK_SHA256,
        HashAlg::Sha384 => &DERIVED_NO_PSK_SHA384,
    }
}

/// The HMAC key of [`derived_no_psk`]: the salt of every full handshake's Handshake Secret
/// (RFC 8446 7.1), its two padded-key compressions run once per process instead of once per
/// handshake. It is built from a public constant: nothing secret is kept.
fn derived_no_psk_key(alg: HashAlg) -> &'static hmac::Key {
    static SHA256: OnceLock<hmac::Key> = OnceLock::new();
    static SHA384: OnceLock<hmac::Key> = OnceLock::new();
    let cell = match alg {
        HashAlg::Sha256 => &SHA256,
        HashAlg::Sha384 => &SHA384,
    };
    cell.get_or_init(|| alg.hmac_key(derived_no_psk(alg)))
}

const ZEROS: [u8; 48] = [0; 48];

impl core::fmt::Debug for KeySchedule13 {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("KeySchedule13")
            .field("alg", &self.alg)
            .field("stage", &self.stage)
            .finish_non_exhaustive()
    }
}

impl KeySchedule13 {
    /// Early Secret = HKDF-Extract(0, PSK), with PSK = `Hash.length` zeros when there is none.
    pub fn new(alg: HashAlg, psk: Option<&[u8]>) -> Self {
        Self::with_prefix(alg, TLS13_LABEL_PREFIX, psk)
    }

    /// The schedule with every label under `prefix` (`"dtls13"` for DTLS 1.3, RFC 9147 5.9).
    pub fn with_prefix(alg: HashAlg, prefix: &'static [u8], psk: Option<&[u8]>) -> Self {
        let zeros = &ZEROS[..alg.output_len()];
        let current = match psk {
            Some(psk) => Current::Prk(Prk::extract_with_prefix(alg, prefix, zeros, psk)),
            // The precomputed "derived" constants are the TLS 1.3 labels'.
            None if prefix == TLS13_LABEL_PREFIX => Current::EarlyNoPsk,
            None => Current::Prk(Prk::extract_with_prefix(alg, prefix, zeros, zeros)),
        };
        KeySchedule13 {
            alg,
            prefix,
            stage: Stage::Early,
            current,
        }
    }

    /// The suite's hash, which every secret of this schedule is derived with.
    pub fn alg(&self) -> HashAlg {
        self.alg
    }

    /// The label prefix (`"tls13 "` or `"dtls13"`).
    pub fn prefix(&self) -> &'static [u8] {
        self.prefix
    }

    /// A [`Prk`] of a secret this schedule derived (same hash, same label prefix).
    pub fn prk(&self, secret: &Secret) -> Prk {
        Prk::with_prefix(self.alg, self.prefix, secret.as_bytes())
    }

    fn derive(&self, stage: Stage, label: &[u8], hash: &[u8]) -> Secret {
        debug_assert_eq!(self.stage, stage, "key schedule used out of order");
        match &self.current {
            Current::Prk(prk) => prk.derive_secret(label, hash),
            // Early secrets without a PSK: nothing in a handshake asks for them.
            Current::EarlyNoPsk => {
                let zeros = &ZEROS[..self.alg.output_len()];
                Prk::extract(self.alg, zeros, zeros).derive_secret(label, hash)
            }
        }
    }

    /// Moves to the next stage: HKDF-Extract(Derive-Secret(current, "derived", ""), ikm).
    fn advance(&mut self, ikm: &[u8]) {
        self.current = Current::Prk(match &self.current {
            Current::Prk(prk) => {
                let salt = prk.derive_secret(b"derived", self.alg.empty_hash());
                Prk::extract_with_prefix(self.alg, self.prefix, salt.as_bytes(), ikm)
            }
            Current::EarlyNoPsk => {
                Prk::extract_with_salt_key(self.alg, self.prefix, derived_no_psk_key(self.alg), ikm)
            }
        });
    }

    /// binder_key = Derive-Secret(Early Secret, "res binder" | "ext binder", "").
    pub fn binder_key(&self, resumption: bool) -> Secret {
        let label: &[u8] = if resumption { b"res binder" } else { b"ext binder" };
        self.derive(Stage::Early, label, self.alg.empty_hash())
    }

    /// client_early_traffic_secret = Derive-Secret(Early Secret, "c e traffic", ClientHello).
    pub fn client_early_traffic_secret(&self, hello_hash: &[u8]) -> Secret {
        self.derive(Stage::Early, b"c e traffic", hello_hash)
    }

    /// early_exporter_master_secret = Derive-Secret(Early Secret, "e exp master", ClientHello).
    pub fn early_exporter_master_secret(&self, hello_hash: &[u8]) -> Secret {
        self.derive(Stage::Early, b"e exp master", hello_hash)
    }

    /// Handshake Secret = HKDF-Extract(Derive-Secret(Early, "derived", ""), (EC)DHE); pass
    /// `Hash.length` zeros for psk_ke.
    pub fn input_shared_secret(&mut self, ecdhe: &[u8]) {
        debug_assert_eq!(self.stage, Stage::Early);
        self.advance(ecdhe);
        self.stage = Stage::Handshake;
    }

    /// "c hs traffic" over ClientHello..ServerHello.
    pub fn client_handshake_traffic_secret(&self, hash: &[u8]) -> Secret {
        self.derive(Stage::Handshake, b"c hs traffic", hash)
    }

    /// "s hs traffic" over ClientHello..ServerHello.
    pub fn server_handshake_traffic_secret(&self, hash: &[u8]) -> Secret {
        self.derive(Stage::Handshake, b"s hs traffic", hash)
    }

    /// Master Secret = HKDF-Extract(Derive-Secret(Handshake, "derived", ""), 0).
    pub fn input_empty(&mut self) {
        debug_assert_eq!(self.stage, Stage::Handshake);
        self.advance(&ZEROS[..self.alg.output_len()]);
        self.stage = Stage::Master;
    }

    /// "c ap traffic" over ClientHello..server Finished.
    pub fn client_application_traffic_secret_0(&self, hash: &[u8]) -> Secret {
        self.derive(Stage::Master, b"c ap traffic", hash)
    }

    /// "s ap traffic" over ClientHello..server Finished.
    pub fn server_application_traffic_secret_0(&self, hash: &[u8]) -> Secret {
        self.derive(Stage::Master, b"s ap traffic", hash)
    }

    /// "exp master" over ClientHello..server Finished.
    pub fn exporter_master_secret(&self, hash: &[u8]) -> Secret {
        self.derive(Stage::Master, b"exp master", hash)
    }

    /// "res master" over ClientHello..client Finished.
    pub fn resumption_master_secret(&self, hash: &[u8]) -> Secret {
        self.derive(Stage::Master, b"res master", hash)
    }
}

/// Finished verify_data = HMAC(finished_key, transcript_hash), finished_key =
/// HKDF-Expand-Label(BaseKey, "finished", "", Hash.length) (RFC 8446 4.4.4).
pub fn finished_verify_data(alg: HashAlg, base_key: &[u8], transcript_hash: &[u8]) -> Vec<u8> {
    finished_verify_data_prk(&Prk::new(alg, base_key), transcript_hash)
}

/// [`finished_verify_data`] from the base key's [`Prk`], when the caller already holds one
/// (its label prefix is used: DTLS 1.3 finished keys take `"dtls13"`).
pub fn finished_verify_data_prk(base_key: &Prk, transcript_hash: &[u8]) -> Vec<u8> {
    let alg = base_key.alg();
    let mut finished_key = Zeroizing::new([0u8; 64]);
    let finished_key = &mut finished_key[..alg.output_len()];
    base_key.expand_label_into(b"finished", &[], finished_key);
    alg.hmac(finished_key, transcript_hash)
}

/// application_traffic_secret_N+1 = HKDF-Expand-Label(secret_N, "traffic upd", "",
/// Hash.length) (RFC 8446 7.2).
pub fn next_traffic_secret(alg: HashAlg, secret: &[u8]) -> Secret {
    next_traffic_secret_prefixed(alg, TLS13_LABEL_PREFIX, secret)
}

/// [`next_traffic_secret`] under another label prefix (DTLS 1.3: `"dtls13"`).
pub fn next_traffic_secret_prefixed(alg: HashAlg, prefix: &'static [u8], secret: &[u8]) -> Secret {
    Prk::with_prefix(alg, prefix, secret).expand_label(b"traffic upd", &[], alg.output_len())
}

/// The PSK of a ticket: HKDF-Expand-Label(resumption_master_secret, "resumption",
/// ticket_nonce, Hash.length) (RFC 8446 4.6.1).
pub fn resumption_psk(alg: HashAlg, resumption_master: &[u8], nonce: &[u8]) -> Secret {
    resumption_psk_prefixed(alg, TLS13_LABEL_PREFIX, resumption_master, nonce)
}

/// [`resumption_psk`] under another label prefix (DTLS 1.3: `"dtls13"`).
pub fn resumption_psk_prefixed(
    alg: HashAlg,
    prefix: &'static [u8],
    resumption_master: &[u8],
    nonce: &[u8],
) -> Secret {
    Prk::with_prefix(alg, prefix, resumption_master).expand_label(b"resumption", nonce, alg.output_len())
}

/// Longest exporter output (HKDF-Expand limit, RFC 5869 2.3).
pub fn max_export_len(alg: HashAlg) -> usize {
    255 * alg.output_len()
}

/// TLS-Exporter(label, context, len) = HKDF-Expand-Label(Derive-Secret(Secret, label, ""),
/// "exporter", Hash(context), len) (RFC 8446 7.5). No context and an empty one are the same.
///
/// # Panics
/// If `out.len() > max_export_len(alg)` or `label` is longer than 249 bytes; the connection
/// layer checks both before calling.
pub fn export_keying_material(
    alg: HashAlg,
    exporter_master: &[u8],
    label: &[u8],
    context: Option<&[u8]>,
    out: &mut [u8],
) {
    export_keying_material_prefixed(alg, TLS13_LABEL_PREFIX, exporter_master, label, context, out)
}

/// [`export_keying_material`] under another label prefix (DTLS 1.3: `"dtls13"`).
pub fn export_keying_material_prefixed(
    alg: HashAlg,
    prefix: &'static [u8],
    exporter_master: &[u8],
    label: &[u8],
    context: Option<&[u8]>,
    out: &mut [u8],
) {
    let derived = Prk::with_prefix(alg, prefix, exporter_master).derive_secret(label, alg.empty_hash());
    let ctx_hash = alg.hash(context.unwrap_or(&[]));
    let okm =
        Prk::with_prefix(alg, prefix, derived.as_bytes()).expand_label(b"exporter", &ctx_hash, out.len());
    out.copy_from_slice(okm.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::hkdf::{derive_secret, hkdf_extract};

    #[test]
    fn stages_chain_through_derived() {
        let alg = HashAlg::Sha256;
        let mut ks = KeySchedule13::new(alg, None);
        let early = hkdf_extract(alg, &[0; 32], &[0; 32]);
        let derived = derive_secret(alg, early.as_bytes(), b"derived", &alg.hash(b""));
        ks.input_shared_secret(b"shared");
        let hs = hkdf_extract(alg, derived.as_bytes(), b"shared");
        let h = alg.hash(b"transcript");
        assert!(ks
            .server_handshake_traffic_secret(&h)
            .ct_eq(derive_secret(alg, hs.as_bytes(), b"s hs traffic", &h).as_bytes()));
        assert!(!ks
            .client_handshake_traffic_secret(&h)
            .ct_eq(ks.server_handshake_traffic_secret(&h).as_bytes()));
    }

    #[test]
    fn derived_without_psk_is_the_constant() {
        for alg in [HashAlg::Sha256, HashAlg::Sha384] {
            let zeros = vec![0; alg.output_len()];
            let early = hkdf_extract(alg, &zeros, &zeros);
            let derived = derive_secret(alg, early.as_bytes(), b"derived", &alg.hash(b""));
            assert!(derived.ct_eq(derived_no_psk(alg)), "{alg:?}");
            // The no-PSK schedule and one given an all-zero PSK agree at every stage.
            let (mut a, mut b) = (
                KeySchedule13::new(alg, None),
                KeySchedule13::new(alg, Some(&zeros)),
            );
            assert!(a.binder_key(false).ct_eq(b.binder_key(false).as_bytes()));
            assert!(a
                .client_early_traffic_secret(b"h")
                .ct_eq(b.client_early_traffic_secret(b"h").as_bytes()));
            a.input_shared_secret(b"dhe");
            b.input_shared_secret(b"dhe");
            assert!(a
                .client_handshake_traffic_secret(b"h")
                .ct_eq(b.client_handshake_traffic_secret(b"h").as_bytes()));
            a.input_empty();
            b.input_empty();
            assert!(a
                .resumption_master_secret(b"h")
                .ct_eq(b.resumption_master_secret(b"h").as_bytes()));
        }
    }

    #[test]
    fn exporter_context_none_equals_empty() {
        let (mut a, mut b) = ([0u8; 40], [0u8; 40]);
        export_keying_material(HashAlg::Sha384, &[1; 48], b"EXPORTER-test", None, &mut a);
        export_keying_material(HashAlg::Sha384, &[1; 48], b"EXPORTER-test", Some(b""), &mut b);
        assert_eq!(a, b);
        export_keying_material(HashAlg::Sha384, &[1; 48], b"EXPORTER-test", Some(b"x"), &mut b);
        assert_ne!(a, b);
    }
}
