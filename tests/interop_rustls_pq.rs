//! Post-quantum hybrid key exchange (draft-ietf-tls-ecdhe-mlkem) against rustls 0.23 with its
//! aws-lc-rs provider, in-process, both ways: full handshakes, HelloRetryRequest and
//! resumption. rustls 0.23 has X25519MLKEM768 and SecP256r1MLKEM768 but no
//! SecP384r1MLKEM1024, so that group is checked ours-against-ours in `tests/pq.rs` only.

mod common;

use std::io::{Read, Write};
use std::sync::Arc;

use common::rustls_pipe::*;
use common::*;
use rustls::crypto::aws_lc_rs as provider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use sanstls::codec::NamedGroup;
use sanstls::conn::{ClientSessionStore, HandshakeKind};
use sanstls::Connection;

const HYBRIDS: [NamedGroup; 2] = [NamedGroup::X25519MLKEM768, NamedGroup::SecP256r1MLKEM768];

/// rustls's aws-lc-rs groups, in the order of `groups`.
fn kx_groups(groups: &[NamedGroup]) -> Vec<&'static dyn rustls::crypto::SupportedKxGroup> {
    use provider::kx_group as k;
    let all = [
        k::X25519MLKEM768,
        k::SECP256R1MLKEM768,
        k::X25519,
        k::SECP256R1,
        k::SECP384R1,
    ];
    groups
        .iter()
        .map(|g| {
            *all.iter()
                .find(|k| u16::from(k.name()) == g.get())
                .unwrap_or_else(|| panic!("rustls has no {g}"))
        })
        .collect()
}

fn rustls_client_config(groups: &[NamedGroup]) -> Arc<rustls::ClientConfig> {
    let mut p = provider::default_provider();
    p.kx_groups = kx_groups(groups);
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(vectors().join("ca.pem")).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(p))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

fn rustls_client(config: &Arc<rustls::ClientConfig>) -> rustls::ClientConnection {
    rustls::ClientConnection::new(config.clone(), ServerName::try_from("localhost").unwrap()).unwrap()
}

fn rustls_server_config(groups: &[NamedGroup]) -> Arc<rustls::ServerConfig> {
    let v = vectors();
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(v.join("localhost-ecdsa-p256.pem"))
            .unwrap()
            .map(|c| c.unwrap())
            .collect();
    let key = PrivateKeyDer::from_pem_file(v.join("localhost-ecdsa-p256.key")).unwrap();
    let mut p = provider::default_provider();
    p.kx_groups = kx_groups(groups);
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(p))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    config.send_tls13_tickets = 2;
    Arc::new(config)
}

/// Application data both ways after the handshake: the hybrid secret keyed both sides alike.
fn exchange_data<D>(theirs: &mut rustls::ConnectionCommon<D>, ours: &mut Connection)
where
    rustls::ConnectionCommon<D>: std::ops::DerefMut,
{
    ours.writer().write_all(b"from sanstls").unwrap();
    theirs.writer().write_all(b"from rustls").unwrap();
    pump(theirs, ours);
    let mut got = [0u8; 12];
    theirs.reader().read_exact(&mut got).unwrap();
    assert_eq!(&got, b"from sanstls");
    assert_eq!(read_all(ours), b"from rustls");
}

#[test]
fn rustls_client_against_our_server_every_hybrid() {
    for group in HYBRIDS {
        let config = rustls_client_config(&[group]);
        let mut client = rustls_client(&config);
        let server_config = server_builder("ecdsa-p256").groups(&[group]).build().unwrap();
        let mut server = Connection::server(server_config).unwrap();
        pump(&mut *client, &mut server);
        assert!(!client.is_handshaking() && !server.is_handshaking(), "{group}");
        assert_eq!(server.key_exchange_group(), Some(group));
        assert_eq!(
            client
                .negotiated_key_exchange_group()
                .map(|g| u16::from(g.name())),
            Some(group.get())
        );
        assert!(!server.had_hello_retry());
        exchange_data(&mut client, &mut server);
    }
}

#[test]
fn our_client_against_rustls_server_every_hybrid() {
    for group in HYBRIDS {
        let config = client_builder().groups(&[group]).build().unwrap();
        let mut client = Connection::client(config, "localhost").unwrap();
        let mut server = rustls::ServerConnection::new(rustls_server_config(&[group])).unwrap();
        pump(&mut *server, &mut client);
        assert!(!client.is_handshaking() && !server.is_handshaking(), "{group}");
        assert_eq!(client.key_exchange_group(), Some(group));
        assert_eq!(
            server
                .negotiated_key_exchange_group()
                .map(|g| u16::from(g.name())),
            Some(group.get())
        );
        assert!(!client.had_hello_retry());
        exchange_data(&mut server, &mut client);
    }
}

/// The client leads with a classical share; a server that takes only the hybrid asks for it.
#[test]
fn hello_retry_request_to_a_hybrid_both_ways() {
    for group in HYBRIDS {
        // Our client: an x25519 share only (by default the hybrid would get one too), the
        // hybrid listed second; rustls takes only the hybrid.
        let config = client_builder()
            .groups(&[NamedGroup::x25519, group])
            .key_share_groups(1)
            .build()
            .unwrap();
        let mut client = Connection::client(config, "localhost").unwrap();
        let mut server = rustls::ServerConnection::new(rustls_server_config(&[group])).unwrap();
        pump(&mut *server, &mut client);
        assert!(!client.is_handshaking(), "{group}");
        assert!(client.had_hello_retry(), "{group}");
        assert_eq!(client.key_exchange_group(), Some(group));
        exchange_data(&mut server, &mut client);

        // rustls's client: a secp384r1 share first; our server takes only the hybrid.
        let config = rustls_client_config(&[NamedGroup::secp384r1, group]);
        let mut rclient = rustls_client(&config);
        let server_config = server_builder("ecdsa-p256").groups(&[group]).build().unwrap();
        let mut server = Connection::server(server_config).unwrap();
        pump(&mut *rclient, &mut server);
        assert!(!server.is_handshaking(), "{group}");
        assert!(server.had_hello_retry(), "{group}");
        assert_eq!(server.key_exchange_group(), Some(group));
        exchange_data(&mut rclient, &mut server);
    }
}

/// A hybrid share the server does not take: HelloRetryRequest for a classical group, both ways.
/// (secp384r1: rustls sends a separate share for a hybrid's own ECDH group beside it.)
#[test]
fn hello_retry_request_from_a_hybrid_to_classical_both_ways() {
    for group in HYBRIDS {
        let config = client_builder()
            .groups(&[group, NamedGroup::secp384r1])
            .key_share_groups(1)
            .build()
            .unwrap();
        let mut client = Connection::client(config, "localhost").unwrap();
        let mut server =
            rustls::ServerConnection::new(rustls_server_config(&[NamedGroup::secp384r1])).unwrap();
        pump(&mut *server, &mut client);
        assert!(client.had_hello_retry(), "{group}");
        assert_eq!(client.key_exchange_group(), Some(NamedGroup::secp384r1));
        exchange_data(&mut server, &mut client);

        let config = rustls_client_config(&[group, NamedGroup::secp384r1]);
        let mut rclient = rustls_client(&config);
        let server_config = server_builder("ecdsa-p256")
            .groups(&[NamedGroup::secp384r1])
            .build()
            .unwrap();
        let mut server = Connection::server(server_config).unwrap();
        pump(&mut *rclient, &mut server);
        assert!(server.had_hello_retry(), "{group}");
        assert_eq!(server.key_exchange_group(), Some(NamedGroup::secp384r1));
        exchange_data(&mut rclient, &mut server);
    }
}

/// Resumption (psk_dhe_ke) with a hybrid: the resumed handshake runs the hybrid again.
#[test]
fn resumption_with_a_hybrid_both_ways() {
    for group in HYBRIDS {
        // Our client resumes with rustls's server.
        let store = Arc::new(ClientSessionStore::default());
        let config = client_builder()
            .groups(&[group])
            .session_store(store.clone())
            .build()
            .unwrap();
        let server_config = rustls_server_config(&[group]);
        let mut client = Connection::client(config.clone(), "localhost").unwrap();
        let mut server = rustls::ServerConnection::new(server_config.clone()).unwrap();
        pump(&mut *server, &mut client);
        exchange_data(&mut server, &mut client);
        assert!(store.tickets_for("localhost") > 0, "{group}");
        let mut client = Connection::client(config, "localhost").unwrap();
        let mut server = rustls::ServerConnection::new(server_config).unwrap();
        pump(&mut *server, &mut client);
        assert!(client.is_resumed(), "{group}");
        assert_eq!(client.key_exchange_group(), Some(group));
        exchange_data(&mut server, &mut client);

        // rustls's client resumes with our server.
        let rconfig = rustls_client_config(&[group]);
        let server_config = server_builder("ecdsa-p256").groups(&[group]).build().unwrap();
        let mut rclient = rustls_client(&rconfig);
        let mut server = Connection::server(server_config.clone()).unwrap();
        pump(&mut *rclient, &mut server);
        exchange_data(&mut rclient, &mut server);
        let mut rclient = rustls_client(&rconfig);
        let mut server = Connection::server(server_config).unwrap();
        pump(&mut *rclient, &mut server);
        assert!(!server.is_handshaking(), "{group}");
        assert_eq!(server.handshake_kind(), Some(HandshakeKind::Resumed), "{group}");
        assert_eq!(server.key_exchange_group(), Some(group));
        assert_eq!(rclient.handshake_kind(), Some(rustls::HandshakeKind::Resumed));
        exchange_data(&mut rclient, &mut server);
    }
}
