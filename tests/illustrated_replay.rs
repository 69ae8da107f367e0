//! Replays `vectors/illustrated/tls13` through whole connections: with the capture's
//! randoms and ephemeral keys injected, our client writes that ClientHello byte for byte,
//! derives every keylog secret from the server's captured flight, and writes the captured
//! CCS, Finished and application record byte for byte; our server writes the captured
//! ServerHello, CCS, EncryptedExtensions, Certificate, CertificateVerify (RSA-PSS: the
//! capture's salt, 32 bytes of 0x12, comes from the injected random) and Finished.

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivatePkcs8KeyDer};
use sanstls::codec::{
    CipherSuite, EcPointFormat, ExtensionType, NamedGroup, ProtocolVersion, SignatureScheme,
};
use sanstls::crypto::FixedRandom;
use sanstls::msgs::ClientExtension;
use sanstls::pki::PinnedCertVerifier;
use sanstls::{CertifiedKey, ClientConfig, Connection, Event, FixedClock, KeyLog, ServerConfig};

/// 2019-01-01: inside the capture certificate's validity.
const THEN: u64 = 1_546_300_800;

fn dir() -> PathBuf {
    common::vector("illustrated/tls13/keylog.txt");
    common::vector("illustrated/tls13")
}

fn cap(dir: &std::path::Path, name: &str) -> Vec<u8> {
    common::read(&dir.join("caps").join(name))
}

fn x25519_private(dir: &std::path::Path, name: &str) -> Vec<u8> {
    let der = PrivatePkcs8KeyDer::from_pem_file(dir.join(name)).unwrap();
    der.secret_pkcs8_der()[der.secret_pkcs8_der().len() - 32..].to_vec()
}

#[derive(Debug, Default)]
struct Collect(Mutex<BTreeMap<String, Vec<u8>>>);

impl KeyLog for Collect {
    fn log(&self, label: &str, _random: &[u8], secret: &[u8]) {
        self.0.lock().unwrap().insert(label.to_string(), secret.to_vec());
    }
}

fn expected_keylog(dir: &std::path::Path) -> BTreeMap<String, Vec<u8>> {
    String::from_utf8(common::read(&dir.join("keylog.txt")))
        .unwrap()
        .lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w.len() == 3).then(|| (w[0].to_string(), hex::decode(w[2]).unwrap()))
        })
        .collect()
}

/// Reshapes our ClientHello into the capture's (an OpenSSL-style TLS 1.2+1.3 hello).
fn capture_shape(hello: &mut sanstls::msgs::ClientHello) {
    hello.cipher_suites = vec![
        CipherSuite::TLS_AES_256_GCM_SHA384,
        CipherSuite::TLS_CHACHA20_POLY1305_SHA256,
        CipherSuite::TLS_AES_128_GCM_SHA256,
        CipherSuite::TLS_EMPTY_RENEGOTIATION_INFO_SCSV,
    ];
    let take = |typ: ExtensionType, hello: &sanstls::msgs::ClientHello| {
        hello.extensions.iter().find(|e| e.typ() == typ).cloned().unwrap()
    };
    let groups = [
        0x001d, 0x0017, 0x001e, 0x0019, 0x0018, 0x0100, 0x0101, 0x0102, 0x0103, 0x0104,
    ];
    let schemes = [
        0x0403, 0x0503, 0x0603, 0x0807, 0x0808, 0x0809, 0x080a, 0x080b, 0x0804, 0x0805, 0x0806, 0x0401,
        0x0501, 0x0601,
    ];
    hello.extensions = vec![
        take(ExtensionType::ServerName, hello),
        ClientExtension::EcPointFormats(vec![EcPointFormat::Uncompressed, 1.into(), 2.into()]),
        ClientExtension::SupportedGroups(groups.iter().map(|&g| NamedGroup::from(g)).collect()),
        ClientExtension::SessionTicket(Vec::new()),
        ClientExtension::Unknown {
            typ: ExtensionType::EncryptThenMac,
            data: Vec::new(),
        },
        ClientExtension::ExtendedMasterSecret,
        ClientExtension::SignatureAlgorithms(schemes.iter().map(|&s| SignatureScheme::from(s)).collect()),
        take(ExtensionType::SupportedVersions, hello),
        take(ExtensionType::PskKeyExchangeModes, hello),
        take(ExtensionType::KeyShare, hello),
    ];
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

#[test]
fn client_replays_the_capture_byte_for_byte() {
    let dir = dir();
    let mut random: Vec<u8> = (0u8..32).collect();
    random.extend(0xe0u8..=0xff);
    random.extend(x25519_private(&dir, "client-ephemeral-private.key"));
    let server_cert = CertificateDer::from_pem_file(dir.join("server.crt")).unwrap();
    let log = Arc::new(Collect::default());
    let config = ClientConfig::builder(Arc::new(PinnedCertVerifier::new(server_cert.to_vec())))
        .random(Arc::new(FixedRandom::new(vec![random])))
        .time(Arc::new(FixedClock(THEN)))
        .key_log(log.clone())
        // The capture offers TLS 1.3 only in supported_versions, and one x25519 share
        // (`capture_shape` puts its supported_groups list in).
        .versions(&[ProtocolVersion::TLSv1_3])
        .groups(&[NamedGroup::x25519])
        .customize_client_hello(capture_shape)
        .build()
        .unwrap();
    let mut client = Connection::client(config, "example.ulfheim.net").unwrap();

    assert_eq!(drain(&mut client), cap(&dir, "clienthello"), "ClientHello");

    let mut server_flight = Vec::new();
    for name in [
        "serverhello",
        "serverccs",
        "serverencextensions",
        "serverenccert",
        "serverenccertverify",
        "serverencfinished",
    ] {
        server_flight.extend(cap(&dir, name));
    }
    feed(&mut client, &server_flight);
    assert_eq!(client.next_event(), Some(Event::HandshakeComplete));
    assert_eq!(client.cipher_suite(), Some(CipherSuite::TLS_AES_256_GCM_SHA384));
    assert_eq!(
        client.signature_scheme(),
        Some(SignatureScheme::rsa_pss_rsae_sha256)
    );
    assert_eq!(
        *log.0.lock().unwrap(),
        expected_keylog(&dir),
        "every keylog secret derived"
    );

    let mut second_flight = cap(&dir, "clientccs");
    second_flight.extend(cap(&dir, "clientencfinished"));
    assert_eq!(drain(&mut client), second_flight, "CCS and Finished");

    client.writer().write_all(b"ping").unwrap();
    assert_eq!(
        drain(&mut client),
        cap(&dir, "clientencdata"),
        "application data record"
    );

    let mut rest = cap(&dir, "serverencticket1");
    rest.extend(cap(&dir, "serverencticket2"));
    rest.extend(cap(&dir, "serverencdata"));
    feed(&mut client, &rest);
    let events: Vec<Event> = std::iter::from_fn(|| client.next_event()).collect();
    assert_eq!(events.iter().filter(|e| **e == Event::SessionTicket).count(), 2);
    let mut pong = [0u8; 4];
    client.reader().read_exact(&mut pong).unwrap();
    assert_eq!(&pong, b"pong");
}

/// Splits protected records off a flight and opens them with the server handshake key.
fn records(mut bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while bytes.len() >= 5 {
        let len = 5 + usize::from(u16::from_be_bytes([bytes[3], bytes[4]]));
        out.push(bytes[..len].to_vec());
        bytes = &bytes[len..];
    }
    out
}

#[test]
fn server_replays_the_deterministic_part_of_the_capture() {
    let dir = dir();
    let mut random: Vec<u8> = x25519_private(&dir, "server-ephemeral-private.key");
    random.extend(0x70u8..=0x8f);
    // The RSA-PSS salt of the captured CertificateVerify.
    random.extend([0x12; 32]);
    let key = std::fs::read(dir.join("server.key")).unwrap();
    let cert = std::fs::read(dir.join("server.crt")).unwrap();
    let log = Arc::new(Collect::default());
    let config = ServerConfig::builder(CertifiedKey::from_pem(&cert, &key).unwrap())
        .cipher_suites(&[CipherSuite::TLS_AES_256_GCM_SHA384])
        .random(Arc::new(FixedRandom::new(vec![random])))
        .time(Arc::new(FixedClock(THEN)))
        .key_log(log.clone())
        .build()
        .unwrap();
    let mut server = Connection::server(config).unwrap();
    feed(&mut server, &cap(&dir, "clienthello"));
    let flight = drain(&mut server);
    let recs = records(&flight);
    assert_eq!(recs[0], cap(&dir, "serverhello"), "ServerHello");
    assert_eq!(recs[1], cap(&dir, "serverccs"), "compatibility CCS");
    let expected = expected_keylog(&dir);
    let got = log.0.lock().unwrap().clone();
    for label in [
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
        "SERVER_HANDSHAKE_TRAFFIC_SECRET",
    ] {
        assert_eq!(got[label], expected[label], "{label}");
    }
    // Open our encrypted flight with the (matching) server handshake key and compare the
    // deterministic messages.
    let suite = sanstls::crypto::tls13_suite(CipherSuite::TLS_AES_256_GCM_SHA384).unwrap();
    let key =
        sanstls::crypto::RecordKey::tls13(suite.aead, suite.hash, &got["SERVER_HANDSHAKE_TRAFFIC_SECRET"]);
    let mut rec = recs[2].clone();
    let (header, body) = rec.split_at_mut(5);
    let plain = key.open_in_place(0, header, body).unwrap().to_vec();
    let plain = &plain[..plain.len() - 1]; // content type
                                           // The capture's plaintext files are TLSInnerPlaintext: message || content type.
    let strip = |mut v: Vec<u8>| {
        assert_eq!(v.pop(), Some(22));
        v
    };
    let ee = strip(cap(&dir, "serverextensions"));
    let certificate = strip(cap(&dir, "servercert"));
    assert_eq!(&plain[..ee.len()], &ee[..], "EncryptedExtensions");
    assert_eq!(
        &plain[ee.len()..ee.len() + certificate.len()],
        &certificate[..],
        "Certificate"
    );
    let cv = strip(cap(&dir, "servercertverify"));
    let fin = strip(cap(&dir, "serverfinished"));
    assert_eq!(
        &plain[ee.len() + certificate.len()..],
        &[cv, fin].concat()[..],
        "CertificateVerify and Finished"
    );
}

/// The ServerHello and EncryptedExtensions hooks (used to replay captures whose server orders
/// or picks extensions differently) reshape what is sent and hashed: both sides agree on the
/// reordered hello and the added supported_groups.
#[test]
fn server_hello_hooks_reshape_the_flight_and_the_handshake_completes() {
    let server = common::server_builder("ecdsa-p256")
        .customize_server_hello(|sh| sh.extensions.reverse())
        .customize_encrypted_extensions(|ee| {
            ee.push(sanstls::msgs::EncryptedExtension::SupportedGroups(vec![
                NamedGroup::secp256r1,
            ]))
        })
        .build()
        .unwrap();
    let client = common::client_builder().build().unwrap();
    let (mut client, mut server) = common::pair(client, server);
    feed(&mut server, &drain(&mut client));
    let flight = drain(&mut server);
    let sh = &records(&flight)[0];
    // record(5) type(1) len(3) version(2) random(32) session_id(1+32) suite(2) comp(1) exts(2)
    let first_ext = 5 + 4 + 2 + 32 + 1 + usize::from(sh[5 + 4 + 2 + 32]) + 2 + 1 + 2;
    assert_eq!(
        sh[first_ext..first_ext + 2],
        [0x00, 0x33],
        "key_share first, then supported_versions"
    );
    feed(&mut client, &flight);
    assert_eq!(client.next_event(), Some(Event::HandshakeComplete));
    common::handshake(&mut client, &mut server).unwrap();
    assert_eq!(common::send(&mut client, &mut server, b"hi"), b"hi");
}
