//! Replays `vectors/illustrated/tls12` (tls12.xargs.org) with its randoms and
//! ephemeral keys injected. The capture negotiated TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, a CBC
//! suite we do not implement (README: not supported), so the ServerHello we feed our client
//! names its AEAD twin TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 (the same PRF, key exchange and
//! signature; the ServerKeyExchange signature does not cover the suite). What is checked:
//! - client: our ClientHello is the capture's byte for byte; our ClientKeyExchange and CCS are
//!   too; the master secret equals keylog.txt's CLIENT_RANDOM line;
//! - server: our Certificate, ServerKeyExchange (rsa_pkcs1_sha256 is deterministic) and
//!   ServerHelloDone are the capture's byte for byte; from the captured ClientKeyExchange we
//!   derive keylog.txt's master secret;
//! - every protected record of the capture: its Finished verify_data is recomputed over the
//!   captured transcript, and each record's HMAC-SHA1 (in the capture's decrypted forms) is
//!   recomputed from our key block. The AES-CBC layer itself is not undone: ring has no raw
//!   AES decryption, and CBC is out of scope by design.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivatePkcs8KeyDer};
use sanstls::codec::{
    CipherSuite, EcPointFormat, ExtensionType, NamedGroup, ProtocolVersion, SignatureScheme,
};
use sanstls::crypto::{prf, HashAlg};
use sanstls::msgs::ClientExtension;
use sanstls::pki::PinnedCertVerifier;
use sanstls::{CertifiedKey, ClientConfig, Connection, FixedClock, KeyLog, ServerConfig};

/// 2019-01-01: inside the capture certificate's validity (2018-10-05 .. 2019-10-05).
const THEN: u64 = 1_546_300_800;

fn dir() -> PathBuf {
    common::vector("illustrated/tls12/keylog.txt");
    common::vector("illustrated/tls12")
}

fn cap(dir: &Path, name: &str) -> Vec<u8> {
    common::read(&dir.join("caps").join(name))
}

/// The handshake message(s) inside a captured plaintext record.
fn body(dir: &Path, name: &str) -> Vec<u8> {
    cap(dir, name)[5..].to_vec()
}

fn x25519_private(dir: &Path, name: &str) -> Vec<u8> {
    let der = PrivatePkcs8KeyDer::from_pem_file(dir.join(name)).unwrap();
    der.secret_pkcs8_der()[der.secret_pkcs8_der().len() - 32..].to_vec()
}

fn keylog_master(dir: &Path) -> Vec<u8> {
    let text = String::from_utf8(common::read(&dir.join("keylog.txt"))).unwrap();
    let line = text.lines().find(|l| l.starts_with("CLIENT_RANDOM")).unwrap();
    hex::decode(line.split_whitespace().nth(2).unwrap()).unwrap()
}

#[derive(Debug, Default)]
struct Collect(Mutex<BTreeMap<String, Vec<u8>>>);

impl KeyLog for Collect {
    fn log(&self, label: &str, _random: &[u8], secret: &[u8]) {
        self.0.lock().unwrap().insert(label.to_string(), secret.to_vec());
    }
}

fn feed(conn: &mut Connection, bytes: &[u8]) {
    let mut rd = bytes;
    while !rd.is_empty() {
        conn.read_tls(&mut rd).unwrap();
        conn.process_new_packets().unwrap();
    }
}

fn drain(conn: &mut Connection) -> Vec<u8> {
    let mut out = Vec::new();
    while conn.write_tls(&mut out).unwrap() > 0 {}
    out
}

fn records(mut bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while bytes.len() >= 5 {
        let len = 5 + usize::from(u16::from_be_bytes([bytes[3], bytes[4]]));
        out.push(bytes[..len].to_vec());
        bytes = &bytes[len..];
    }
    out
}

/// Reshapes our ClientHello into the capture's (a curl/OpenSSL-style TLS 1.2 hello).
fn capture_shape(hello: &mut sanstls::msgs::ClientHello) {
    hello.cipher_suites = [
        0xcca8u16, 0xcca9, 0xc02f, 0xc030, 0xc02b, 0xc02c, 0xc013, 0xc009, 0xc014, 0xc00a, 0x009c, 0x009d,
        0x002f, 0x0035, 0xc012, 0x000a,
    ]
    .iter()
    .map(|&s| CipherSuite::from(s))
    .collect();
    let sni = hello
        .extensions
        .iter()
        .find(|e| e.typ() == ExtensionType::ServerName)
        .cloned()
        .unwrap();
    let schemes = [0x0401u16, 0x0403, 0x0501, 0x0503, 0x0601, 0x0603, 0x0201, 0x0203];
    hello.extensions = vec![
        sni,
        ClientExtension::Unknown {
            typ: ExtensionType::StatusRequest,
            data: vec![1, 0, 0, 0, 0],
        },
        ClientExtension::SupportedGroups(vec![
            NamedGroup::x25519,
            NamedGroup::secp256r1,
            NamedGroup::secp384r1,
            NamedGroup::from(0x0019),
        ]),
        ClientExtension::EcPointFormats(vec![EcPointFormat::Uncompressed]),
        ClientExtension::SignatureAlgorithms(schemes.iter().map(|&s| SignatureScheme::from(s)).collect()),
        ClientExtension::RenegotiationInfo(Vec::new()),
        ClientExtension::Unknown {
            typ: ExtensionType::from(0x0012),
            data: Vec::new(),
        },
    ];
}

#[test]
fn client_replays_the_capture() {
    let dir = dir();
    let mut random: Vec<u8> = (0u8..32).collect();
    random.extend(x25519_private(&dir, "client-ephemeral-private.key"));
    let server_cert = CertificateDer::from_pem_file(dir.join("server.crt")).unwrap();
    let log = Arc::new(Collect::default());
    let config = ClientConfig::builder(Arc::new(PinnedCertVerifier::new(server_cert.to_vec())))
        .versions(&[ProtocolVersion::TLSv1_2])
        .random(Arc::new(sanstls::crypto::FixedRandom::new(vec![random])))
        .time(Arc::new(FixedClock(THEN)))
        .key_log(log.clone())
        .customize_client_hello(capture_shape)
        .build()
        .unwrap();
    let mut client = Connection::client(config, "example.ulfheim.net").unwrap();
    assert_eq!(drain(&mut client), cap(&dir, "clienthello"), "ClientHello");

    // The ServerHello with the CBC suite swapped for its GCM twin (suite at byte 44).
    let mut sh = cap(&dir, "serverhello");
    assert_eq!(&sh[44..46], &[0xc0, 0x13]);
    sh[44..46].copy_from_slice(&[0xc0, 0x2f]);
    let mut flight = sh;
    for name in ["servercert", "serverkeyexchange", "serverhellodone"] {
        flight.extend(cap(&dir, name));
    }
    feed(&mut client, &flight);
    assert_eq!(client.signature_scheme(), Some(SignatureScheme::rsa_pkcs1_sha256));
    assert_eq!(client.key_exchange_group(), Some(NamedGroup::x25519));
    assert_eq!(client.extended_master_secret(), Some(false));

    let ours = records(&drain(&mut client));
    assert_eq!(ours[0], cap(&dir, "clientkeyexchange"), "ClientKeyExchange");
    assert_eq!(ours[1], cap(&dir, "clientccs"), "ChangeCipherSpec");
    assert_eq!(ours[2][..5], [22, 3, 3, 0, 40], "GCM Finished: 8 + 16 + 16 bytes");
    assert_eq!(
        log.0.lock().unwrap()["CLIENT_RANDOM"],
        keylog_master(&dir),
        "master secret"
    );
}

#[test]
fn server_replays_the_deterministic_part_of_the_capture() {
    let dir = dir();
    let mut random: Vec<u8> = (0x70u8..=0x8f).collect();
    random.extend(x25519_private(&dir, "server-ephemeral-private.key"));
    let key = std::fs::read(dir.join("server.key")).unwrap();
    let cert = std::fs::read(dir.join("server.crt")).unwrap();
    let log = Arc::new(Collect::default());
    let config = ServerConfig::builder(CertifiedKey::from_pem(&cert, &key).unwrap())
        .versions(&[ProtocolVersion::TLSv1_2])
        .cipher_suites(&[CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256])
        .session_cache12(0)
        .random(Arc::new(sanstls::crypto::FixedRandom::new(vec![random])))
        .time(Arc::new(FixedClock(THEN)))
        .key_log(log.clone())
        .build()
        .unwrap();
    let mut server = Connection::server(config).unwrap();
    feed(&mut server, &cap(&dir, "clienthello"));
    let flight = drain(&mut server);
    let recs = records(&flight);
    let msgs: Vec<u8> = recs.iter().flat_map(|r| r[5..].to_vec()).collect();
    // ServerHello: same version, random and session ID; our suite and extensions differ
    // (we also answer ec_point_formats).
    let sh_len = 4 + usize::from(msgs[3]);
    let captured_sh = body(&dir, "serverhello");
    assert_eq!(
        msgs[4..39],
        captured_sh[4..39],
        "ServerHello up to the session ID"
    );
    assert_eq!(msgs[39..41], [0xc0, 0x2f]);
    let mut rest = Vec::new();
    for name in ["servercert", "serverkeyexchange", "serverhellodone"] {
        rest.extend(body(&dir, name));
    }
    assert_eq!(
        msgs[sh_len..],
        rest[..],
        "Certificate, ServerKeyExchange, ServerHelloDone"
    );

    feed(&mut server, &cap(&dir, "clientkeyexchange"));
    assert_eq!(
        log.0.lock().unwrap()["CLIENT_RANDOM"],
        keylog_master(&dir),
        "master secret"
    );
}

/// HMAC-SHA1 record MAC (RFC 5246 6.2.3.1): seq || type || version || length || content.
fn record_mac(key: &[u8], seq: u64, typ: u8, content: &[u8]) -> Vec<u8> {
    let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key);
    let mut m = seq.to_be_bytes().to_vec();
    m.extend_from_slice(&[typ, 3, 3]);
    m.extend_from_slice(&(content.len() as u16).to_be_bytes());
    m.extend_from_slice(content);
    ring::hmac::sign(&k, &m).as_ref().to_vec()
}

#[test]
fn every_protected_record_of_the_capture_checks_out() {
    let dir = dir();
    let master = keylog_master(&dir);
    let client_random: Vec<u8> = (0u8..32).collect();
    let server_random: Vec<u8> = (0x70u8..=0x8f).collect();
    // The transcript as captured (CBC suite and all).
    let mut transcript = Vec::new();
    for name in [
        "clienthello",
        "serverhello",
        "servercert",
        "serverkeyexchange",
        "serverhellodone",
        "clientkeyexchange",
    ] {
        transcript.extend(body(&dir, name));
    }
    let client_fin = cap(&dir, "clientfinishedplain");
    let expected =
        prf::finished_verify_data_tls12(HashAlg::Sha256, &master, true, &HashAlg::Sha256.hash(&transcript));
    assert_eq!(client_fin[..4], [20, 0, 0, 12]);
    assert_eq!(client_fin[4..16], expected[..], "client Finished");
    transcript.extend_from_slice(&client_fin[..16]);
    let server_fin = cap(&dir, "serverfinishedplain");
    let expected = prf::finished_verify_data_tls12(
        HashAlg::Sha256,
        &master,
        false,
        &HashAlg::Sha256.hash(&transcript),
    );
    assert_eq!(server_fin[4..16], expected[..], "server Finished");

    // TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA key block: MAC keys (20), keys (16), IVs (16).
    let kb = prf::key_block(HashAlg::Sha256, &master, &server_random, &client_random, 104);
    let kb = kb.as_bytes();
    let (client_mac, server_mac) = (&kb[..20], &kb[20..40]);
    // Decrypted forms: content || MAC || one byte of the CBC padding.
    for (name, key, seq, typ, content_len) in [
        ("serverfinishedplain", server_mac, 0, 22, 16),
        ("clientdataplain", client_mac, 1, 23, 4),
        ("serverdataplain", server_mac, 1, 23, 4),
        ("clientalertplain", client_mac, 2, 21, 2),
    ] {
        let plain = cap(&dir, name);
        assert_eq!(plain.len(), content_len + 20 + 1, "{name}");
        let (content, mac) = plain.split_at(content_len);
        assert_eq!(mac[..20], record_mac(key, seq, typ, content)[..], "{name} MAC");
    }
    assert_eq!(&cap(&dir, "clientdataplain")[..4], b"ping");
    assert_eq!(&cap(&dir, "serverdataplain")[..4], b"pong");
}
