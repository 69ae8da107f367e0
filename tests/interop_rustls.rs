//! Interop with rustls 0.23 (ring provider) in-process, both ways, over an in-memory pipe.

mod common;

use std::io::{BufRead, ErrorKind, Read, Write};
use std::sync::Arc;

use common::rustls_pipe::*;
use common::*;
use rustls::crypto::ring as provider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use sanstls::codec::{CipherSuite, NamedGroup};
use sanstls::Connection;

const SUITES: [CipherSuite; 3] = [
    CipherSuite::TLS_AES_128_GCM_SHA256,
    CipherSuite::TLS_AES_256_GCM_SHA384,
    CipherSuite::TLS_CHACHA20_POLY1305_SHA256,
];
const GROUPS: [NamedGroup; 3] = [NamedGroup::x25519, NamedGroup::secp256r1, NamedGroup::secp384r1];

fn rustls_provider(suite: CipherSuite, group: NamedGroup) -> Arc<rustls::crypto::CryptoProvider> {
    let mut p = provider::default_provider();
    p.cipher_suites.retain(|s| u16::from(s.suite()) == suite.get());
    p.kx_groups.retain(|g| u16::from(g.name()) == group.get());
    Arc::new(p)
}

fn rustls_client(suite: CipherSuite, group: NamedGroup, alpn: &[&str]) -> rustls::ClientConnection {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(vectors().join("ca.pem")).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let mut config = rustls::ClientConfig::builder_with_provider(rustls_provider(suite, group))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    rustls::ClientConnection::new(Arc::new(config), ServerName::try_from("localhost").unwrap()).unwrap()
}

fn rustls_server(kind: &str, groups: &[NamedGroup], alpn: &[&str]) -> rustls::ServerConnection {
    let v = vectors();
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(v.join(format!("localhost-{kind}.pem")))
            .unwrap()
            .map(|c| c.unwrap())
            .collect();
    let key = PrivateKeyDer::from_pem_file(v.join(format!("localhost-{kind}.key"))).unwrap();
    let mut p = provider::default_provider();
    p.kx_groups
        .retain(|g| groups.iter().any(|ours| ours.get() == u16::from(g.name())));
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(p))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    rustls::ServerConnection::new(Arc::new(config)).unwrap()
}

#[test]
fn rustls_client_against_our_server() {
    for kind in KEY_TYPES {
        for suite in SUITES {
            for group in GROUPS {
                let mut client = rustls_client(suite, group, &[]);
                let mut server = Connection::server(server_builder(kind).build().unwrap()).unwrap();
                pump(&mut *client, &mut server);
                assert!(
                    !client.is_handshaking() && !server.is_handshaking(),
                    "{kind} {suite} {group}"
                );
                assert_eq!(server.cipher_suite(), Some(suite));
                assert_eq!(server.key_exchange_group(), Some(group));
                client.writer().write_all(b"from rustls").unwrap();
                pump(&mut *client, &mut server);
                assert_eq!(read_all(&mut server), b"from rustls");
                server.writer().write_all(b"from sanstls").unwrap();
                pump(&mut *client, &mut server);
                let mut got = [0u8; 12];
                client.reader().read_exact(&mut got).unwrap();
                assert_eq!(&got, b"from sanstls");
            }
        }
    }
}

#[test]
fn our_client_against_rustls_server() {
    for kind in KEY_TYPES {
        for suite in SUITES {
            for group in GROUPS {
                let config = client_builder()
                    .cipher_suites(&[suite])
                    .groups(&[group])
                    .build()
                    .unwrap();
                let mut client = Connection::client(config, "localhost").unwrap();
                let mut server = rustls_server(kind, &GROUPS, &[]);
                pump(&mut *server, &mut client);
                assert!(
                    !client.is_handshaking() && !server.is_handshaking(),
                    "{kind} {suite} {group}"
                );
                assert_eq!(
                    server.negotiated_cipher_suite().map(|s| u16::from(s.suite())),
                    Some(suite.get())
                );
                client.writer().write_all(b"from sanstls").unwrap();
                pump(&mut *server, &mut client);
                let mut got = [0u8; 12];
                server.reader().read_exact(&mut got).unwrap();
                assert_eq!(&got, b"from sanstls");
                server.writer().write_all(b"from rustls").unwrap();
                pump(&mut *server, &mut client);
                assert_eq!(read_all(&mut client), b"from rustls");
            }
        }
    }
}

#[test]
fn hello_retry_request_and_alpn_both_ways_with_rustls() {
    // rustls server wants secp384r1; our client leads with x25519.
    let config = client_builder()
        .groups(&[NamedGroup::x25519, NamedGroup::secp384r1])
        .alpn_protocols(&["h2"])
        .build()
        .unwrap();
    let mut client = Connection::client(config, "localhost").unwrap();
    let mut server = rustls_server("ecdsa-p256", &[NamedGroup::secp384r1], &["h2"]);
    pump(&mut *server, &mut client);
    assert!(client.had_hello_retry());
    assert_eq!(client.alpn_protocol(), Some(&b"h2"[..]));
    assert_eq!(server.alpn_protocol(), Some(&b"h2"[..]));

    // Our server wants secp384r1; the rustls client leads with x25519.
    let mut p = provider::default_provider();
    p.kx_groups
        .sort_by_key(|g| u16::from(g.name()) != NamedGroup::x25519.get());
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(vectors().join("ca.pem")).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let mut cc = rustls::ClientConfig::builder_with_provider(Arc::new(p))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    cc.alpn_protocols = vec![b"h2".to_vec()];
    let mut rclient =
        rustls::ClientConnection::new(Arc::new(cc), ServerName::try_from("localhost").unwrap()).unwrap();
    let config = server_builder("ecdsa-p256")
        .groups(&[NamedGroup::secp384r1])
        .alpn_protocols(&["h2"])
        .build();
    let mut server = Connection::server(config.unwrap()).unwrap();
    pump(&mut *rclient, &mut server);
    assert!(!server.is_handshaking());
    assert!(server.had_hello_retry());
    assert_eq!(server.key_exchange_group(), Some(NamedGroup::secp384r1));
    assert_eq!(rclient.alpn_protocol(), Some(&b"h2"[..]));
}

#[test]
fn key_update_and_close_with_rustls() {
    let config = client_builder().build().unwrap();
    let mut client = Connection::client(config, "localhost").unwrap();
    let mut server = rustls_server("ecdsa-p256", &GROUPS, &[]);
    pump(&mut *server, &mut client);
    // The ring provider has no ML-KEM: our default client's x25519 share, no retry.
    assert_eq!(client.key_exchange_group(), Some(NamedGroup::x25519));
    assert!(!client.had_hello_retry());
    client.request_key_update(true).unwrap();
    client.writer().write_all(b"after update").unwrap();
    pump(&mut *server, &mut client);
    let mut got = [0u8; 12];
    server.reader().read_exact(&mut got).unwrap();
    server.refresh_traffic_keys().unwrap();
    server.writer().write_all(b"rustls updated too").unwrap();
    pump(&mut *server, &mut client);
    assert_eq!(read_all(&mut client), b"rustls updated too");
    server.send_close_notify();
    pump(&mut *server, &mut client);
    assert!(client.peer_has_closed());
}

#[test]
fn rustls_server_reads_why_our_client_rejected_its_certificate() {
    // RFC 8446 6, A.1: after the ServerHello our alert is under the client handshake keys,
    // which rustls is reading with; in plaintext it would not learn why.
    for compat in [true, false] {
        let mut server = rustls_server("ecdsa-p256", &GROUPS, &[]);
        let config = client_builder().middlebox_compat(compat).build().unwrap();
        let mut client = Connection::client(config, "example.com").unwrap();
        let hello = drain(&mut client);
        server.read_tls(&mut &hello[..]).unwrap();
        server.process_new_packets().unwrap();
        let mut flight = Vec::new();
        while server.wants_write() {
            server.write_tls(&mut flight).unwrap();
        }
        let err = feed(&mut client, &flight).unwrap_err();
        assert_eq!(
            err.alert(),
            Some(sanstls::codec::AlertDescription::BadCertificate)
        );
        let out = drain(&mut client);
        let mut rd = &out[..];
        while !rd.is_empty() {
            server.read_tls(&mut rd).unwrap();
        }
        assert_eq!(
            server.process_new_packets().unwrap_err(),
            rustls::Error::AlertReceived(rustls::AlertDescription::BadCertificate),
            "compat={compat}"
        );
    }
}

#[test]
fn our_client_reads_rustls_lines_in_place() {
    let mut client = Connection::client(client_builder().build().unwrap(), "localhost").unwrap();
    let mut server = rustls_server("ecdsa-p256", &GROUPS, &[]);
    pump(&mut *server, &mut client);
    // rustls cuts the text into records of its own: short lines share one, the long line
    // spans three.
    let long = "x".repeat(40_000);
    let text = format!("first\nsecond\n{long}\nlast\n");
    server.writer().write_all(text.as_bytes()).unwrap();
    pump(&mut *server, &mut client);
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        match client.reader().read_line(&mut line) {
            Ok(0) => break,
            Ok(_) => lines.push(line),
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(lines, ["first\n", "second\n", &format!("{long}\n"), "last\n"]);
    // rustls's close_notify: fill_buf is empty from then on.
    server.send_close_notify();
    pump(&mut *server, &mut client);
    assert_eq!(client.reader().fill_buf().unwrap(), b"");
}
