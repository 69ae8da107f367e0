//! Secrets: zeroized on drop, never in `Debug` output.
//!
//! Every secret byte string sanstls owns (traffic, handshake, master, exporter and resumption
//! secrets, PSKs, binder keys, ECDHE shared secrets and TLS 1.2 premaster secrets, which are
//! all [`Secret`]s; record IVs, ticket plaintexts, fixed-randomness chunks, which are
//! `Zeroizing`) is wiped on drop: checked here at compile time through `ZeroizeOnDrop`. Key
//! schedules that live inside ring's types (AEAD keys in `RecordKey` and `TicketKey`, HMAC
//! states in `Prk`, `EphemeralPrivateKey` in `KeyExchange`, the key pairs in `SigningKey`,
//! DTLS `SequenceNumberKey`) are ring's to wipe, and ring 0.17 does not: that gap is
//! documented in README.md rather than papered over.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::*;
use rustls_pki_types::pem::PemObject;
use sanstls::codec::ProtocolVersion;
use sanstls::conn::ClientSessionStore;
use sanstls::crypto::Secret;
use sanstls::KeyLog;
use zeroize::{ZeroizeOnDrop, Zeroizing};

fn zeroized_on_drop<T: ZeroizeOnDrop>() {}

#[test]
fn owned_secret_types_are_zeroized_on_drop() {
    zeroized_on_drop::<Secret>();
    zeroized_on_drop::<Zeroizing<Vec<u8>>>();
    zeroized_on_drop::<Zeroizing<[u8; 12]>>();
}

/// Every secret either side logged.
#[derive(Debug, Default)]
struct AllSecrets(Mutex<Vec<Vec<u8>>>);

impl KeyLog for AllSecrets {
    fn log(&self, _label: &str, _client_random: &[u8], secret: &[u8]) {
        self.0.lock().unwrap().push(secret.to_vec());
    }
}

/// The ways `Debug` could print `bytes`: as a list of decimal numbers, in hex.
fn renderings(bytes: &[u8]) -> Vec<String> {
    let head = &bytes[..bytes.len().min(8)];
    let decimal = head.iter().map(|b| b.to_string()).collect::<Vec<_>>().join(", ");
    let hex: String = head.iter().map(|b| format!("{b:02x}")).collect();
    vec![decimal, hex.clone(), hex.to_uppercase()]
}

fn assert_no_secret(what: &str, debug: &str, secrets: &[Vec<u8>]) {
    for s in secrets {
        for r in renderings(s) {
            assert!(
                !debug.contains(&r),
                "{what} Debug shows secret bytes ({r}): {debug}"
            );
        }
    }
}

#[test]
fn debug_output_shows_no_secret() {
    let dir = vectors();
    let key_der =
        <rustls_pki_types::PrivateKeyDer as PemObject>::from_pem_file(dir.join("localhost-ecdsa-p256.key"))
            .unwrap()
            .secret_der()
            .to_vec();
    for version in [ProtocolVersion::TLSv1_3, ProtocolVersion::TLSv1_2] {
        let log = Arc::new(AllSecrets::default());
        let store = Arc::new(ClientSessionStore::new(4, 4));
        let client = client_builder()
            .versions(&[version])
            .key_log(log.clone())
            .session_store(store.clone())
            .build()
            .unwrap();
        let server = server_builder("ecdsa-p256").key_log(log.clone()).build().unwrap();
        let mut debugs = Vec::new();
        // Twice: the second handshake resumes, so PSKs and tickets exist too.
        for _ in 0..2 {
            let (mut c, mut s) = pair(client.clone(), server.clone());
            handshake(&mut c, &mut s).unwrap();
            c.writer().write_all(b"ping").unwrap();
            transfer(&mut c, &mut s).unwrap();
            let mut ekm = [0u8; 32];
            c.export_keying_material(&mut ekm, b"EXPORTER-test", None)
                .unwrap();
            log.0.lock().unwrap().push(ekm.to_vec());
            debugs.push(("client connection", format!("{c:?}")));
            debugs.push(("server connection", format!("{s:?}")));
        }
        debugs.push(("client config", format!("{client:?}")));
        debugs.push(("server config", format!("{server:?}")));
        debugs.push(("session store", format!("{store:?}")));
        debugs.push((
            "signing key",
            format!(
                "{:?}",
                sanstls::crypto::SigningKey::from_pem(&read(&dir.join("localhost-ecdsa-p256.key"))).unwrap()
            ),
        ));
        let mut secrets = log.0.lock().unwrap().clone();
        assert!(
            secrets.len() >= 4,
            "{version:?}: the key log saw {} secrets",
            secrets.len()
        );
        secrets.push(key_der.clone());
        for (what, debug) in &debugs {
            assert_no_secret(what, debug, &secrets);
        }
        let secret = Secret::new(secrets[0].clone());
        assert_eq!(format!("{secret:?}"), "Secret(..)");
    }
}
