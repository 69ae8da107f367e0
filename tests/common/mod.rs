//! Helpers for tests: configs from the test PKI in `vectors/`, and an in-memory pipe that
//! moves records between a client and a server.
#![allow(dead_code)]

pub mod dtls;
pub mod forge;
pub mod interop;
pub mod rustls_pipe;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::Arc;

use sanstls::codec::{CipherSuite, NamedGroup};
use sanstls::conn::{ClientConfigBuilder, ServerConfigBuilder};
use sanstls::crypto::{prf, tls12_suite, RecordKey};
use sanstls::pki::{TrustAnchors, WebPkiServerVerifier};
use sanstls::{CertifiedKey, ClientConfig, Connection, Error, Event, ServerConfig};

pub const KEY_TYPES: &[&str] = &["ecdsa-p256", "ecdsa-p384", "ed25519", "rsa2048"];

pub fn vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("vectors")
}

/// `vectors/<rel>` in this repository. A missing vector fails the test: a vector test that
/// skipped would pass without checking anything.
pub fn vector(rel: &str) -> PathBuf {
    let p = vectors().join(rel);
    assert!(p.exists(), "test vector {} is missing", p.display());
    p
}

pub fn read(p: &std::path::Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

pub fn certified_key(kind: &str) -> CertifiedKey {
    let dir = vectors();
    CertifiedKey::from_pem_files(
        dir.join(format!("localhost-{kind}.pem")),
        dir.join(format!("localhost-{kind}.key")),
    )
    .unwrap()
}

/// `group`, plus the curve of an ECDSA certificate of `kind`: a TLS 1.2 server serves an
/// ECDSA certificate only on a curve the client lists in supported_groups (RFC 8422 5.1). A
/// server that prefers `group` (by holding to it) still negotiates it.
pub fn groups_with_cert_curve(group: NamedGroup, kind: &str) -> Vec<NamedGroup> {
    let cert_curve = match kind {
        "ecdsa-p256" => Some(NamedGroup::secp256r1),
        "ecdsa-p384" => Some(NamedGroup::secp384r1),
        _ => None,
    };
    let mut groups = vec![group];
    groups.extend(cert_curve.filter(|c| *c != group));
    groups
}

pub fn server_builder(kind: &str) -> ServerConfigBuilder {
    ServerConfig::builder(certified_key(kind))
}

pub fn client_builder() -> ClientConfigBuilder {
    let anchors = TrustAnchors::from_pem_file(vectors().join("ca.pem")).unwrap();
    ClientConfig::builder(Arc::new(WebPkiServerVerifier::new(anchors)))
}

/// Moves every pending record from `from` to `to` and processes them.
pub fn transfer(from: &mut Connection, to: &mut Connection) -> Result<usize, Error> {
    let mut buf = Vec::new();
    while from.write_tls(&mut buf).unwrap() > 0 {}
    let mut offset = 0;
    while offset < buf.len() {
        let mut rd = &buf[offset..];
        let n = to.read_tls(&mut rd).unwrap();
        offset += n;
        to.process_new_packets()?;
        if n == 0 {
            break;
        }
    }
    Ok(buf.len())
}

/// Runs the handshake to completion; returns the first error from either side.
pub fn handshake(client: &mut Connection, server: &mut Connection) -> Result<(), Error> {
    for _ in 0..10 {
        transfer(client, server)?;
        transfer(server, client)?;
        if !client.is_handshaking() && !server.is_handshaking() && !client.wants_write() {
            return Ok(());
        }
    }
    panic!("handshake did not finish in 10 round trips");
}

pub fn pair(client: Arc<ClientConfig>, server: Arc<ServerConfig>) -> (Connection, Connection) {
    (
        Connection::client(client, "localhost").unwrap(),
        Connection::server(server).unwrap(),
    )
}

pub fn events(conn: &mut Connection) -> Vec<Event> {
    std::iter::from_fn(|| conn.next_event()).collect()
}

pub fn send(from: &mut Connection, to: &mut Connection, data: &[u8]) -> Vec<u8> {
    from.writer().write_all(data).unwrap();
    transfer(from, to).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = to.reader().read(&mut buf) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    out
}

/// Splits a byte stream into TLS records (header included).
pub fn records(mut bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while bytes.len() >= 5 {
        let len = 5 + usize::from(u16::from_be_bytes([bytes[3], bytes[4]]));
        out.push(bytes[..len].to_vec());
        bytes = &bytes[len..];
    }
    out
}

/// Everything `conn` has to send, without handing it to a peer.
pub fn drain(conn: &mut Connection) -> Vec<u8> {
    let mut out = Vec::new();
    while conn.write_tls(&mut out).unwrap() > 0 {}
    out
}

/// Feeds `bytes` to `conn` and processes them; the first error.
pub fn feed(conn: &mut Connection, bytes: &[u8]) -> Result<(), Error> {
    let mut rd = bytes;
    while !rd.is_empty() {
        conn.read_tls(&mut rd).unwrap();
        conn.process_new_packets()?;
    }
    Ok(())
}

/// One side's TLS 1.2 (or DTLS 1.2) record key, from the logged master secret and the
/// randoms (RFC 5246 6.3).
pub fn tls12_record_key(
    suite: CipherSuite,
    master: &[u8],
    client_random: &[u8],
    server_random: &[u8],
    from_client: bool,
) -> RecordKey {
    let suite = tls12_suite(suite).unwrap();
    let (k, iv) = (suite.aead.key_len(), suite.fixed_iv_len());
    let kb = prf::key_block(
        suite.hash,
        master,
        server_random,
        client_random,
        suite.key_block_len(),
    );
    let kb = kb.as_bytes();
    if from_client {
        RecordKey::tls12(suite.aead, &kb[..k], &kb[2 * k..2 * k + iv]).unwrap()
    } else {
        RecordKey::tls12(suite.aead, &kb[k..2 * k], &kb[2 * k + iv..2 * k + 2 * iv]).unwrap()
    }
}
