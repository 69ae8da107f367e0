//! TLS 1.2 interop with rustls 0.23 (ring provider) in-process, both ways: every suite x
//! group x key type, and resumption with rustls' default session stores.

mod common;

use std::io::{Read, Write};
use std::sync::Arc;

use common::rustls_pipe::*;
use common::*;
use rustls::crypto::ring as provider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use sanstls::codec::{CipherSuite, NamedGroup, ProtocolVersion};
use sanstls::Connection;

const GROUPS: [NamedGroup; 3] = [NamedGroup::x25519, NamedGroup::secp256r1, NamedGroup::secp384r1];

fn suites_for(kind: &str) -> [CipherSuite; 3] {
    if kind == "rsa2048" {
        [
            CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
            CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        ]
    } else {
        [
            CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        ]
    }
}

fn rustls_provider(suite: Option<CipherSuite>, groups: &[NamedGroup]) -> Arc<rustls::crypto::CryptoProvider> {
    let mut p = provider::default_provider();
    if let Some(suite) = suite {
        p.cipher_suites.retain(|s| u16::from(s.suite()) == suite.get());
    }
    p.kx_groups
        .retain(|g| groups.iter().any(|ours| u16::from(g.name()) == ours.get()));
    Arc::new(p)
}

fn rustls_client_config(suite: Option<CipherSuite>, groups: &[NamedGroup]) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(vectors().join("ca.pem")).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    Arc::new(
        rustls::ClientConfig::builder_with_provider(rustls_provider(suite, groups))
            .with_protocol_versions(&[&rustls::version::TLS12])
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

fn rustls_server_config(kind: &str) -> Arc<rustls::ServerConfig> {
    rustls_server_config_with(kind, provider::default_provider())
}

fn rustls_server_config_with(kind: &str, p: rustls::crypto::CryptoProvider) -> Arc<rustls::ServerConfig> {
    let v = vectors();
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(v.join(format!("localhost-{kind}.pem")))
            .unwrap()
            .map(|c| c.unwrap())
            .collect();
    let key = PrivateKeyDer::from_pem_file(v.join(format!("localhost-{kind}.key"))).unwrap();
    Arc::new(
        rustls::ServerConfig::builder_with_provider(Arc::new(p))
            .with_protocol_versions(&[&rustls::version::TLS12])
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap(),
    )
}

#[test]
fn rustls_tls12_client_against_our_server() {
    for kind in KEY_TYPES {
        for suite in suites_for(kind) {
            for group in GROUPS {
                // The client also lists the certificate's curve; our server holds to `group`.
                let mut client = rustls::ClientConnection::new(
                    rustls_client_config(Some(suite), &groups_with_cert_curve(group, kind)),
                    ServerName::try_from("localhost").unwrap(),
                )
                .unwrap();
                let config = server_builder(kind).groups(&[group]).build().unwrap();
                let mut server = Connection::server(config).unwrap();
                pump(&mut *client, &mut server);
                assert!(
                    !client.is_handshaking() && !server.is_handshaking(),
                    "{kind} {suite} {group}"
                );
                assert_eq!(server.protocol_version(), Some(ProtocolVersion::TLSv1_2));
                assert_eq!(server.cipher_suite(), Some(suite));
                assert_eq!(server.key_exchange_group(), Some(group));
                assert_eq!(server.extended_master_secret(), Some(true));
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
fn our_tls12_client_against_rustls_server() {
    for kind in KEY_TYPES {
        for suite in suites_for(kind) {
            for group in GROUPS {
                // The server may pick only `group`; our client also lists an ECDSA
                // certificate's curve, which binds the certificate in TLS 1.2 (RFC 8422 5.1).
                let only = (*rustls_provider(None, &[group])).clone();
                let mut server =
                    rustls::ServerConnection::new(rustls_server_config_with(kind, only)).unwrap();
                let config = client_builder()
                    .cipher_suites(&[CipherSuite::TLS_AES_128_GCM_SHA256, suite])
                    .groups(&groups_with_cert_curve(group, kind))
                    .build()
                    .unwrap();
                let mut client = Connection::client(config, "localhost").unwrap();
                pump(&mut *server, &mut client);
                assert!(!client.is_handshaking(), "{kind} {suite} {group}");
                assert_eq!(client.protocol_version(), Some(ProtocolVersion::TLSv1_2));
                assert_eq!(client.cipher_suite(), Some(suite));
                assert_eq!(client.key_exchange_group(), Some(group));
                assert_eq!(client.extended_master_secret(), Some(true));
                client.writer().write_all(b"from sanstls").unwrap();
                pump(&mut *server, &mut client);
                let mut got = [0u8; 12];
                server.reader().read_exact(&mut got).unwrap();
                assert_eq!(&got, b"from sanstls");
            }
        }
    }
}

#[test]
fn resumption_with_rustls_both_ways() {
    // rustls client (its default in-memory session store) resumes with our server.
    let rconfig = rustls_client_config(None, &[NamedGroup::x25519, NamedGroup::secp256r1]);
    let sconfig = server_builder("ecdsa-p256").build().unwrap();
    for round in 0..2 {
        let mut client =
            rustls::ClientConnection::new(rconfig.clone(), ServerName::try_from("localhost").unwrap())
                .unwrap();
        let mut server = Connection::server(sconfig.clone()).unwrap();
        pump(&mut *client, &mut server);
        assert!(!server.is_handshaking());
        assert_eq!(server.is_resumed(), round == 1, "round {round}");
        assert_eq!(
            client.handshake_kind(),
            Some(if round == 1 {
                rustls::HandshakeKind::Resumed
            } else {
                rustls::HandshakeKind::Full
            })
        );
    }
    // Our client resumes with a rustls server (tickets off there: session IDs; on: tickets).
    for tickets in [false, true] {
        let mut sc = (*rustls_server_config("rsa2048")).clone();
        if tickets {
            sc.ticketer = provider::Ticketer::new().unwrap();
        }
        let sc = Arc::new(sc);
        let config = client_builder()
            .versions(&[ProtocolVersion::TLSv1_2])
            .build()
            .unwrap();
        for round in 0..2 {
            let mut server = rustls::ServerConnection::new(sc.clone()).unwrap();
            let mut client = Connection::client(config.clone(), "localhost").unwrap();
            pump(&mut *server, &mut client);
            assert!(!client.is_handshaking());
            assert_eq!(client.is_resumed(), round == 1, "tickets={tickets} round {round}");
        }
    }
}

/// RFC 8422 5.1: in TLS 1.2 the curves a client lists bind the server's ECDSA certificate
/// too. rustls serves its P-256 certificate anyway; our client, which listed only x25519 and
/// P-384, refuses it with illegal_parameter before the key exchange.
#[test]
fn our_tls12_client_refuses_an_ecdsa_certificate_on_a_curve_it_did_not_list() {
    let mut server = rustls::ServerConnection::new(rustls_server_config("ecdsa-p256")).unwrap();
    let config = client_builder()
        .versions(&[ProtocolVersion::TLSv1_2])
        .groups(&[NamedGroup::x25519, NamedGroup::secp384r1])
        .build()
        .unwrap();
    let mut client = Connection::client(config, "localhost").unwrap();
    let mut wire = Vec::new();
    client.write_tls(&mut wire).unwrap();
    server.read_tls(&mut &wire[..]).unwrap();
    server.process_new_packets().unwrap();
    wire.clear();
    server.write_tls(&mut wire).unwrap();
    client.read_tls(&mut &wire[..]).unwrap();
    let err = client.process_new_packets().unwrap_err();
    assert_eq!(
        err.alert(),
        Some(sanstls::codec::AlertDescription::IllegalParameter),
        "{err:?}"
    );
    wire.clear();
    client.write_tls(&mut wire).unwrap();
    assert_eq!(&wire[..1], &[21], "an alert record goes out");
}
