//! QUIC-style handshakes (RFC 9001) between sanstls and rustls's QUIC interface, both ways,
//! in memory: handshake bytes per level, transport parameters, and packets sealed by one
//! implementation's keys opened by the other's at the Handshake, 0-RTT and 1-RTT levels and
//! after a 1-RTT key update (proof that both derive the same secrets and keys).

mod common;

use std::sync::Arc;

use common::*;
use rustls::crypto::ring as provider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::quic::{self as rq, Version};
use sanstls::codec::{AlertDescription, CipherSuite};
use sanstls::quic::{self as sq, Level, QuicConnection};

const SUITES: [CipherSuite; 3] = [
    CipherSuite::TLS_AES_128_GCM_SHA256,
    CipherSuite::TLS_AES_256_GCM_SHA384,
    CipherSuite::TLS_CHACHA20_POLY1305_SHA256,
];
const OUR_PARAMS: &[u8] = b"sanstls transport parameters";
const THEIR_PARAMS: &[u8] = b"rustls transport parameters";

fn provider_for(suite: CipherSuite) -> Arc<rustls::crypto::CryptoProvider> {
    let mut p = provider::default_provider();
    p.cipher_suites.retain(|s| u16::from(s.suite()) == suite.get());
    Arc::new(p)
}

fn rustls_client_config(suite: CipherSuite, early: bool) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(vectors().join("ca.pem")).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let mut config = rustls::ClientConfig::builder_with_provider(provider_for(suite))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h3".to_vec()];
    config.enable_early_data = early;
    Arc::new(config)
}

fn rustls_server_config(suite: CipherSuite, early: bool) -> Arc<rustls::ServerConfig> {
    let v = vectors();
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(v.join("localhost-ecdsa-p256.pem"))
            .unwrap()
            .map(|c| c.unwrap())
            .collect();
    let key = PrivateKeyDer::from_pem_file(v.join("localhost-ecdsa-p256.key")).unwrap();
    let mut config = rustls::ServerConfig::builder_with_provider(provider_for(suite))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    config.alpn_protocols = vec![b"h3".to_vec()];
    if early {
        // RFC 9001 4.6.1.
        config.max_early_data_size = u32::MAX;
    }
    Arc::new(config)
}

/// rustls's side: its connection, the level its output is at, its key changes.
struct Theirs {
    conn: rq::Connection,
    level: Level,
    handshake: Option<rq::Keys>,
    one_rtt: Option<(rq::Keys, rq::Secrets)>,
}

impl Theirs {
    fn new(conn: rq::Connection) -> Self {
        Theirs {
            conn,
            level: Level::Initial,
            handshake: None,
            one_rtt: None,
        }
    }

    fn drain(&mut self) -> Vec<(Level, Vec<u8>)> {
        let mut out = Vec::new();
        loop {
            let mut buf = Vec::new();
            let change = self.conn.write_hs(&mut buf);
            if !buf.is_empty() {
                out.push((self.level, buf));
            }
            match change {
                Some(rq::KeyChange::Handshake { keys }) => {
                    self.level = Level::Handshake;
                    self.handshake = Some(keys);
                }
                Some(rq::KeyChange::OneRtt { keys, next }) => {
                    self.level = Level::OneRtt;
                    self.one_rtt = Some((keys, next));
                }
                None => return out,
            }
        }
    }
}

/// Our side: the connection and its key changes.
struct Ours {
    conn: QuicConnection,
    handshake: Option<sq::Secrets>,
    one_rtt: Option<sq::Secrets>,
}

impl Ours {
    fn new(conn: QuicConnection) -> Self {
        Ours {
            conn,
            handshake: None,
            one_rtt: None,
        }
    }

    fn drain(&mut self) -> Vec<(Level, Vec<u8>)> {
        let mut out = Vec::new();
        loop {
            let level = self.conn.write_level();
            let mut buf = Vec::new();
            let change = self.conn.write_handshake(&mut buf);
            if !buf.is_empty() {
                out.push((level, buf));
            }
            match change {
                Some(sq::KeyChange::Handshake { secrets }) => self.handshake = Some(secrets),
                Some(sq::KeyChange::OneRtt { secrets }) => self.one_rtt = Some(secrets),
                None => return out,
            }
        }
    }
}

/// Runs the handshake; `ours_first` when our side speaks first. Each side's output is
/// collected right after each input, as a QUIC stack does (rustls wants one level per
/// `read_hs`, with `write_hs` in between).
fn run(ours: &mut Ours, theirs: &mut Theirs, ours_first: bool) {
    let (mut to_theirs, mut to_ours) = match ours_first {
        true => (ours.drain(), Vec::new()),
        false => (Vec::new(), theirs.drain()),
    };
    for _ in 0..8 {
        for (level, bytes) in std::mem::take(&mut to_ours) {
            ours.conn.read_handshake(level, &bytes).unwrap();
            to_theirs.extend(ours.drain());
        }
        for (_, bytes) in std::mem::take(&mut to_theirs) {
            theirs.conn.read_hs(&bytes).unwrap();
            to_ours.extend(theirs.drain());
        }
    }
    assert!(!ours.conn.is_handshaking());
    assert!(!theirs.conn.is_handshaking());
}

const HEADER: [u8; 5] = [0x41, 0x0a, 0x0b, 0x00, 0x07];

/// Our packet key seals, theirs opens.
fn ours_to_theirs(ours: &sq::PacketKey, theirs: &dyn rq::PacketKey, pn: u64) {
    let mut payload = b"from sanstls to rustls".to_vec();
    ours.encrypt_in_place(pn, &HEADER, &mut payload).unwrap();
    let plain = theirs.decrypt_in_place(pn, &HEADER, &mut payload).unwrap();
    assert_eq!(plain, b"from sanstls to rustls");
}

/// Their packet key seals, ours opens.
fn theirs_to_ours(theirs: &dyn rq::PacketKey, ours: &sq::PacketKey, pn: u64) {
    let mut payload = b"from rustls to sanstls".to_vec();
    let tag = theirs.encrypt_in_place(pn, &HEADER, &mut payload).unwrap();
    payload.extend_from_slice(tag.as_ref());
    let plain = ours.decrypt_in_place(pn, &HEADER, &mut payload).unwrap();
    assert_eq!(plain, b"from rustls to sanstls");
}

/// Both header protection keys give the same result on the same sample.
fn same_header_protection(ours: &sq::HeaderProtectionKey, theirs: &dyn rq::HeaderProtectionKey) {
    let sample = [0x3cu8; 16];
    let (mut a, mut b) = (0xc3u8, 0xc3u8);
    let (mut pa, mut pb) = ([1u8, 2, 3, 4], [1u8, 2, 3, 4]);
    ours.encrypt_in_place(&sample, &mut a, &mut pa).unwrap();
    theirs.encrypt_in_place(&sample, &mut b, &mut pb).unwrap();
    assert_eq!((a, pa), (b, pb));
}

fn cross(ours: &sq::Keys, theirs: &rq::Keys) {
    ours_to_theirs(&ours.local.packet, theirs.remote.packet.as_ref(), 1);
    theirs_to_ours(theirs.local.packet.as_ref(), &ours.remote.packet, 2);
    same_header_protection(&ours.local.header, theirs.remote.header.as_ref());
    same_header_protection(&ours.remote.header, theirs.local.header.as_ref());
}

/// Keys of every level agree, and after a key update on both sides too.
fn check_keys(ours: &mut Ours, theirs: &mut Theirs) {
    cross(
        &ours.handshake.as_ref().unwrap().keys(),
        theirs.handshake.as_ref().unwrap(),
    );
    let (their_keys, their_next) = theirs.one_rtt.as_mut().unwrap();
    let our_next = ours.one_rtt.as_mut().unwrap();
    cross(&our_next.keys(), their_keys);
    // RFC 9001 6: key update ("quic ku") on both sides.
    let (a, b) = (our_next.next_packet_keys(), their_next.next_packet_keys());
    ours_to_theirs(&a.local, b.remote.as_ref(), 10);
    theirs_to_ours(b.local.as_ref(), &a.remote, 11);
    assert_eq!(ours.conn.transport_parameters(), Some(THEIR_PARAMS));
    assert_eq!(theirs.conn.quic_transport_parameters(), Some(OUR_PARAMS));
}

fn our_client(suite: CipherSuite, early: bool) -> Arc<sanstls::ClientConfig> {
    client_builder()
        .cipher_suites(&[suite])
        .alpn_protocols(&["h3"])
        .enable_early_data(early)
        .build()
        .unwrap()
}

fn our_server(suite: CipherSuite, early: bool) -> Arc<sanstls::ServerConfig> {
    server_builder("ecdsa-p256")
        .cipher_suites(&[suite])
        .alpn_protocols(&["h3"])
        // Any non-zero value: QUIC tickets then say 0xffffffff (RFC 9001 4.6.1).
        .max_early_data(if early { 16384 } else { 0 })
        .build()
        .unwrap()
}

fn their_client(config: Arc<rustls::ClientConfig>) -> Theirs {
    let name = ServerName::try_from("localhost").unwrap();
    let conn = rq::ClientConnection::new(config, Version::V1, name, THEIR_PARAMS.to_vec()).unwrap();
    Theirs::new(rq::Connection::Client(conn))
}

fn their_server(config: Arc<rustls::ServerConfig>) -> Theirs {
    let conn = rq::ServerConnection::new(config, Version::V1, THEIR_PARAMS.to_vec()).unwrap();
    Theirs::new(rq::Connection::Server(conn))
}

#[test]
fn our_client_against_rustls_quic_server() {
    for suite in SUITES {
        let mut ours = Ours::new(
            QuicConnection::client(our_client(suite, false), "localhost", OUR_PARAMS.to_vec()).unwrap(),
        );
        let mut theirs = their_server(rustls_server_config(suite, false));
        run(&mut ours, &mut theirs, true);
        assert_eq!(ours.conn.cipher_suite(), Some(suite));
        check_keys(&mut ours, &mut theirs);
    }
}

#[test]
fn rustls_quic_client_against_our_server() {
    for suite in SUITES {
        let mut ours =
            Ours::new(QuicConnection::server(our_server(suite, false), OUR_PARAMS.to_vec()).unwrap());
        let mut theirs = their_client(rustls_client_config(suite, false));
        run(&mut ours, &mut theirs, false);
        assert_eq!(ours.conn.cipher_suite(), Some(suite));
        assert_eq!(ours.conn.alpn_protocol(), Some(&b"h3"[..]));
        check_keys(&mut ours, &mut theirs);
    }
}

#[test]
fn our_client_resumes_with_0rtt_against_rustls() {
    let suite = CipherSuite::TLS_AES_128_GCM_SHA256;
    let (client_cfg, server_cfg) = (our_client(suite, true), rustls_server_config(suite, true));
    let mut ours =
        Ours::new(QuicConnection::client(client_cfg.clone(), "localhost", OUR_PARAMS.to_vec()).unwrap());
    let mut theirs = their_server(server_cfg.clone());
    run(&mut ours, &mut theirs, true);
    // rustls's tickets carry max_early_data_size 0xffffffff, which we require on QUIC.
    let mut ours = Ours::new(QuicConnection::client(client_cfg, "localhost", OUR_PARAMS.to_vec()).unwrap());
    let early = ours.conn.zero_rtt_keys().expect("0-RTT offered");
    let mut theirs = their_server(server_cfg);
    for (_, bytes) in ours.drain() {
        theirs.conn.read_hs(&bytes).unwrap();
    }
    let their_early = theirs.conn.zero_rtt_keys().expect("rustls accepted 0-RTT");
    ours_to_theirs(&early.packet, their_early.packet.as_ref(), 0);
    same_header_protection(&early.header, their_early.header.as_ref());
    run(&mut ours, &mut theirs, false);
    assert!(ours.conn.is_resumed());
    assert_eq!(ours.conn.early_data_status(), Some(true));
    check_keys(&mut ours, &mut theirs);
}

#[test]
fn rustls_resumes_with_0rtt_against_our_server() {
    let suite = CipherSuite::TLS_CHACHA20_POLY1305_SHA256;
    let (client_cfg, server_cfg) = (rustls_client_config(suite, true), our_server(suite, true));
    let mut ours = Ours::new(QuicConnection::server(server_cfg.clone(), OUR_PARAMS.to_vec()).unwrap());
    let mut theirs = their_client(client_cfg.clone());
    run(&mut ours, &mut theirs, false);
    let mut theirs = their_client(client_cfg);
    let their_early = theirs
        .conn
        .zero_rtt_keys()
        .expect("rustls offers 0-RTT on our ticket");
    let mut ours = Ours::new(QuicConnection::server(server_cfg, OUR_PARAMS.to_vec()).unwrap());
    for (level, bytes) in theirs.drain() {
        ours.conn.read_handshake(level, &bytes).unwrap();
    }
    let early = ours.conn.zero_rtt_keys().expect("we accepted 0-RTT");
    theirs_to_ours(their_early.packet.as_ref(), &early.packet, 0);
    run(&mut ours, &mut theirs, true);
    assert!(ours.conn.is_resumed());
    assert_eq!(ours.conn.early_data_status(), Some(true));
    let rq::Connection::Client(c) = &theirs.conn else {
        unreachable!()
    };
    assert!(c.is_early_data_accepted());
    check_keys(&mut ours, &mut theirs);
}

#[test]
fn alpn_mismatch_with_rustls_is_no_application_protocol() {
    let suite = CipherSuite::TLS_AES_128_GCM_SHA256;
    let server = server_builder("ecdsa-p256")
        .alpn_protocols(&["hq-interop"])
        .build()
        .unwrap();
    let mut ours = Ours::new(QuicConnection::server(server, OUR_PARAMS.to_vec()).unwrap());
    let mut theirs = their_client(rustls_client_config(suite, false));
    let (level, ch) = theirs.drain().remove(0);
    let e = ours.conn.read_handshake(level, &ch).unwrap_err();
    assert_eq!(e.alert(), Some(AlertDescription::NoApplicationProtocol));
    assert_eq!(
        sq::crypto_error_code(AlertDescription::NoApplicationProtocol),
        0x178
    );
}
