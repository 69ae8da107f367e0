//! The TLS 1.2 PRF (RFC 5246 5) and what TLS 1.2 derives with it: the master secret (8.1),
//! the extended master secret (RFC 7627 4), the key block (6.3), Finished (7.4.9) and the
//! exporter (RFC 5705 4).

use zeroize::Zeroizing;

use super::hash::HashAlg;
use super::secret::Secret;

/// `PRF(secret, label, seed)` = P_hash(secret, label || seed), filling `out` (RFC 5246 5).
/// The HMAC key is prepared once for every HMAC of the expansion (its inner and outer pads
/// are hashed once), and A(i) is computed only while more output is needed.
pub fn prf(alg: HashAlg, secret: &[u8], label: &[u8], seed: &[u8], out: &mut [u8]) {
    let key = alg.hmac_key(secret);
    let hmac = |parts: &[&[u8]]| HashAlg::hmac_parts(&key, parts);
    // A(0) = label || seed; A(i) = HMAC(secret, A(i-1)).
    let mut a: Zeroizing<Vec<u8>> = Zeroizing::new(hmac(&[label, seed]).as_ref().to_vec());
    let mut filled = 0;
    loop {
        let block = hmac(&[&a, label, seed]);
        let take = (out.len() - filled).min(block.as_ref().len());
        out[filled..filled + take].copy_from_slice(&block.as_ref()[..take]);
        filled += take;
        if filled == out.len() {
            return;
        }
        a = Zeroizing::new(hmac(&[&a]).as_ref().to_vec());
    }
}

/// The 48-byte master secret length (RFC 5246 8.1).
pub const MASTER_SECRET_LEN: usize = 48;

fn prf_secret(alg: HashAlg, secret: &[u8], label: &[u8], seed: &[&[u8]], len: usize) -> Secret {
    let seed = seed.concat();
    let mut out = vec![0u8; len];
    prf(alg, secret, label, &seed, &mut out);
    Secret::new(out)
}

/// The PSK premaster secret (RFC 4279 2, RFC 5489 2): `uint16 len, other_secret, uint16
/// len, psk`, where other_secret is N zero bytes (N the PSK's length) for plain PSK and the
/// ECDH shared secret for ECDHE_PSK.
pub fn psk_premaster(ecdh_shared: Option<&[u8]>, psk: &[u8]) -> Secret {
    let zeros;
    let other = match ecdh_shared {
        Some(z) => z,
        None => {
            zeros = vec![0u8; psk.len()];
            &zeros
        }
    };
    let mut out = Vec::with_capacity(4 + other.len() + psk.len());
    // Both lengths are bounded by the config (a PSK of at most 512 bytes) and the groups.
    out.extend_from_slice(&(other.len() as u16).to_be_bytes());
    out.extend_from_slice(other);
    out.extend_from_slice(&(psk.len() as u16).to_be_bytes());
    out.extend_from_slice(psk);
    Secret::new(out)
}

/// master_secret = PRF(pre_master_secret, "master secret", client_random || server_random)
/// (RFC 5246 8.1).
pub fn master_secret(alg: HashAlg, pre_master: &[u8], client_random: &[u8], server_random: &[u8]) -> Secret {
    prf_secret(
        alg,
        pre_master,
        b"master secret",
        &[client_random, server_random],
        MASTER_SECRET_LEN,
    )
}

/// master_secret = PRF(pre_master_secret, "extended master secret", session_hash)
/// (RFC 7627 4), `session_hash` being the transcript hash through ClientKeyExchange.
pub fn extended_master_secret(alg: HashAlg, pre_master: &[u8], session_hash: &[u8]) -> Secret {
    prf_secret(
        alg,
        pre_master,
        b"extended master secret",
        &[session_hash],
        MASTER_SECRET_LEN,
    )
}

/// key_block = PRF(master, "key expansion", server_random || client_random) (RFC 5246 6.3);
/// split it as client key, server key, client IV, server IV (no MAC keys for AEAD suites).
pub fn key_block(
    alg: HashAlg,
    master: &[u8],
    server_random: &[u8],
    client_random: &[u8],
    len: usize,
) -> Secret {
    prf_secret(
        alg,
        master,
        b"key expansion",
        &[server_random, client_random],
        len,
    )
}

/// Finished verify_data = PRF(master, "client finished" | "server finished",
/// Hash(handshake_messages))[..12] (RFC 5246 7.4.9).
pub fn finished_verify_data_tls12(
    alg: HashAlg,
    master: &[u8],
    client: bool,
    handshake_hash: &[u8],
) -> Vec<u8> {
    let label: &[u8] = if client {
        b"client finished"
    } else {
        b"server finished"
    };
    let mut out = vec![0u8; 12];
    prf(alg, master, label, handshake_hash, &mut out);
    out
}

/// RFC 5705 4: PRF(master, label, client_random || server_random [|| u16 len || context]).
/// `None` if the context is longer than 65535 bytes.
pub fn export_keying_material_tls12(
    alg: HashAlg,
    master: &[u8],
    label: &[u8],
    client_random: &[u8],
    server_random: &[u8],
    context: Option<&[u8]>,
    out: &mut [u8],
) -> Option<()> {
    let mut seed = [client_random, server_random].concat();
    if let Some(ctx) = context {
        seed.extend_from_slice(&u16::try_from(ctx.len()).ok()?.to_be_bytes());
        seed.extend_from_slice(ctx);
    }
    prf(alg, master, label, &seed, out);
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    // Widely used TLS 1.2 PRF vectors (cross-checked with Python's hmac module).
    #[test]
    fn prf_sha256_known_answer() {
        let mut out = [0u8; 100];
        prf(
            HashAlg::Sha256,
            &h("9bbe436ba940f017b17652849a71db35"),
            b"test label",
            &h("a0ba9f936cda311827a6f796ffd5198c"),
            &mut out,
        );
        assert_eq!(
            hex::encode(out),
            "e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9c9a46b4e14ba\
             f9af0fa022f7077def17abfd3797c0564bab4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a51\
             10fff70187347b66"
        );
    }

    #[test]
    fn prf_sha384_known_answer() {
        let mut out = [0u8; 148];
        prf(
            HashAlg::Sha384,
            &h("b80b733d6ceefcdc71566ea48e5567df"),
            b"test label",
            &h("cd665cf6a8447dd6ff8b27555edb7465"),
            &mut out,
        );
        assert_eq!(
            hex::encode(out),
            "7b0c18e9ced410ed1804f2cfa34a336a1c14dffb4900bb5fd7942107e81c83cde9ca0faa60be9fe34f82b1233c91\
             46a0e534cb400fed2700884f9dc236f80edd8bfa961144c9e8d792eca722a7b32fc3d416d473ebc2c5fd4abfdad0\
             5d9184259b5bf8cd4d90fa0d31e2dec479e4f1a26066f2eea9a69236a3e52655c9e9aee691c8f3a26854308d5eaa\
             3be85e0990703d73e56f"
        );
    }

    #[test]
    fn prefixes_agree_and_helpers_use_the_right_labels() {
        let mut long = [0u8; 77];
        let mut short = [0u8; 5];
        prf(HashAlg::Sha256, b"k", b"l", b"s", &mut long);
        prf(HashAlg::Sha256, b"k", b"l", b"s", &mut short);
        assert_eq!(&long[..5], &short);
        prf(HashAlg::Sha256, b"k", b"l", b"s", &mut []);

        let mut expect = [0u8; 48];
        prf(HashAlg::Sha256, b"pms", b"master secret", b"crsr", &mut expect);
        assert!(master_secret(HashAlg::Sha256, b"pms", b"cr", b"sr").ct_eq(&expect));
        prf(
            HashAlg::Sha384,
            b"pms",
            b"extended master secret",
            b"hash",
            &mut expect,
        );
        assert!(extended_master_secret(HashAlg::Sha384, b"pms", b"hash").ct_eq(&expect));
        let kb = key_block(HashAlg::Sha256, b"ms", b"sr", b"cr", 40);
        let mut e40 = [0u8; 40];
        prf(HashAlg::Sha256, b"ms", b"key expansion", b"srcr", &mut e40);
        assert!(kb.ct_eq(&e40));
        let fin = finished_verify_data_tls12(HashAlg::Sha256, b"ms", true, b"hh");
        let mut e12 = [0u8; 12];
        prf(HashAlg::Sha256, b"ms", b"client finished", b"hh", &mut e12);
        assert_eq!(fin, e12);

        let (mut a, mut b) = ([0u8; 20], [0u8; 20]);
        export_keying_material_tls12(HashAlg::Sha256, b"ms", b"EXPORTER", b"c", b"s", None, &mut a).unwrap();
        prf(HashAlg::Sha256, b"ms", b"EXPORTER", b"cs", &mut b);
        assert_eq!(a, b);
        export_keying_material_tls12(HashAlg::Sha256, b"ms", b"EXPORTER", b"c", b"s", Some(b""), &mut a)
            .unwrap();
        prf(HashAlg::Sha256, b"ms", b"EXPORTER", b"cs\x00\x00", &mut b);
        assert_eq!(a, b, "an empty context differs from none in RFC 5705");
    }

    #[test]
    fn psk_premaster_is_lengths_zeros_and_key() {
        // RFC 4279 2: uint16 N, N zero bytes, uint16 N, the PSK.
        let pms = psk_premaster(None, &[1, 2, 3, 4]);
        assert_eq!(pms.as_bytes(), &[0, 4, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4]);
        // RFC 5489 2: the ECDH shared secret in place of the zeros.
        let pms = psk_premaster(Some(&[9; 3]), &[0xaa; 2]);
        assert_eq!(pms.as_bytes(), &[0, 3, 9, 9, 9, 0, 2, 0xaa, 0xaa]);
    }
}
