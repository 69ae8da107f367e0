//! TLS 1.3 for QUIC (RFC 9001) between our own client and server: handshake bytes per
//! encryption level, secrets per level, transport parameters, ALPN, 0-RTT, key update, the
//! QUIC-specific refusals, and the RFC 9001 Appendix A packet protection values.

mod common;

use std::sync::{Arc, Mutex};

use common::*;
use sanstls::codec::{AlertDescription, NamedGroup};
use sanstls::crypto::suites::tls13_suite;
use sanstls::quic::{
    crypto_error_code, initial_secret, initial_secrets, next_secret, packet_key_material,
    retry_integrity_tag, verify_retry_integrity, HeaderProtectionKey, KeyChange, Keys, Level, PacketKey,
    QuicConnection, Secrets,
};
use sanstls::{ClientConfig, Connection, Error, Event, KeyLog, PeerMisbehaved, ServerConfig, Side};

const CLIENT_PARAMS: &[u8] = b"\x01\x04\x80\x00\x75\x30client-params";
const SERVER_PARAMS: &[u8] = b"\x01\x04\x80\x00\xea\x60server-params";

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace([' ', '\n'], "")).unwrap()
}

/// Key log lines by label, to compare the secrets handed to QUIC with the TLS key log.
#[derive(Debug, Default)]
struct LoggedSecrets {
    lines: Mutex<Vec<(String, Vec<u8>)>>,
}

impl KeyLog for LoggedSecrets {
    fn log(&self, label: &str, _client_random: &[u8], secret: &[u8]) {
        self.lines
            .lock()
            .unwrap()
            .push((label.to_string(), secret.to_vec()));
    }
}

impl LoggedSecrets {
    fn get(&self, label: &str) -> Vec<u8> {
        let lines = self.lines.lock().unwrap();
        lines
            .iter()
            .find(|(l, _)| l == label)
            .map(|(_, s)| s.clone())
            .unwrap()
    }
}

fn quic_client_builder() -> sanstls::conn::ClientConfigBuilder {
    client_builder().alpn_protocols(&["h3"])
}

fn quic_server_builder() -> sanstls::conn::ServerConfigBuilder {
    server_builder("ecdsa-p256").alpn_protocols(&["h3"])
}

/// One endpoint: the connection and every key change it handed out, in order.
struct Endpoint {
    conn: QuicConnection,
    changes: Vec<KeyChange>,
    /// Handshake bytes written, with their level (for inspecting the wire).
    sent: Vec<(Level, Vec<u8>)>,
}

impl Endpoint {
    fn new(conn: QuicConnection) -> Self {
        Endpoint {
            conn,
            changes: Vec::new(),
            sent: Vec::new(),
        }
    }

    /// Everything the handshake has to send now, level by level.
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
                Some(c) => self.changes.push(c),
                None => break,
            }
        }
        self.sent.extend(out.iter().cloned());
        out
    }

    fn secrets(&self, level: Level) -> &Secrets {
        self.changes
            .iter()
            .find(|c| c.level() == level)
            .unwrap()
            .secrets()
    }
}

fn client(config: Arc<ClientConfig>) -> Endpoint {
    Endpoint::new(QuicConnection::client(config, "localhost", CLIENT_PARAMS.to_vec()).unwrap())
}

fn server(config: Arc<ServerConfig>) -> Endpoint {
    Endpoint::new(QuicConnection::server(config, SERVER_PARAMS.to_vec()).unwrap())
}

/// Moves `from`'s pending handshake bytes into `to`; returns the bytes moved.
fn transfer(from: &mut Endpoint, to: &mut Endpoint) -> Result<usize, Error> {
    let mut n = 0;
    for (level, bytes) in from.drain() {
        n += bytes.len();
        to.conn.read_handshake(level, &bytes)?;
    }
    Ok(n)
}

fn run(c: &mut Endpoint, s: &mut Endpoint) -> Result<(), Error> {
    for _ in 0..6 {
        let moved = transfer(c, s)? + transfer(s, c)?;
        if moved == 0 && !c.conn.is_handshaking() && !s.conn.is_handshaking() {
            return Ok(());
        }
    }
    panic!("QUIC handshake did not settle");
}

fn events(conn: &mut QuicConnection) -> Vec<Event> {
    std::iter::from_fn(|| conn.next_event()).collect()
}

/// Seals a packet with `tx`'s keys and opens it with `rx`'s (header protection too).
fn packet_crosses(tx: &Keys, rx: &Keys, pn: u64) -> bool {
    let header = [0x41u8, 0xaa, 0xbb, (pn >> 8) as u8, pn as u8];
    let mut payload = b"a QUIC payload of twenty-odd bytes".to_vec();
    tx.local
        .packet
        .encrypt_in_place(pn, &header, &mut payload)
        .unwrap();
    let sample: [u8; 16] = payload[2..18].try_into().unwrap();
    let (mut first, mut pn_bytes) = (header[0], [header[3], header[4]]);
    tx.local
        .header
        .encrypt_in_place(&sample, &mut first, &mut pn_bytes)
        .unwrap();
    assert_ne!(
        (first, pn_bytes),
        (header[0], [header[3], header[4]]),
        "header masked"
    );
    let mut pn4 = [pn_bytes[0], pn_bytes[1], 0, 0];
    let len = rx
        .remote
        .header
        .decrypt_in_place(&sample, &mut first, &mut pn4)
        .unwrap();
    assert_eq!((first, len, &pn4[..2]), (header[0], 2, &header[3..5]));
    rx.remote
        .packet
        .decrypt_in_place(pn, &header, &mut payload)
        .is_ok()
}

#[test]
fn handshake_gives_both_sides_the_same_secrets_at_each_level() {
    let (ckl, skl) = (
        Arc::new(LoggedSecrets::default()),
        Arc::new(LoggedSecrets::default()),
    );
    let mut c = client(quic_client_builder().key_log(ckl.clone()).build().unwrap());
    let mut s = server(quic_server_builder().key_log(skl.clone()).build().unwrap());
    assert_eq!(
        (c.conn.read_level(), c.conn.write_level()),
        (Level::Initial, Level::Initial)
    );
    run(&mut c, &mut s).unwrap();

    // Handshake then 1-RTT, in that order, on both sides.
    let levels = |e: &Endpoint| e.changes.iter().map(KeyChange::level).collect::<Vec<_>>();
    assert_eq!(levels(&c), [Level::Handshake, Level::OneRtt]);
    assert_eq!(levels(&s), [Level::Handshake, Level::OneRtt]);
    for level in [Level::Handshake, Level::OneRtt] {
        let (cs, ss) = (c.secrets(level), s.secrets(level));
        assert_eq!(cs.client().as_bytes(), ss.client().as_bytes(), "{level:?}");
        assert_eq!(cs.server().as_bytes(), ss.server().as_bytes(), "{level:?}");
        assert_ne!(cs.client().as_bytes(), cs.server().as_bytes());
        let (ck, sk) = (cs.keys(), ss.keys());
        assert!(packet_crosses(&ck, &sk, 7), "client to server at {level:?}");
        assert!(packet_crosses(&sk, &ck, 9), "server to client at {level:?}");
    }
    // The secrets are the TLS 1.3 ones (the key log has them under their NSS labels).
    let hs = c.secrets(Level::Handshake);
    assert_eq!(hs.client().as_bytes(), ckl.get("CLIENT_HANDSHAKE_TRAFFIC_SECRET"));
    assert_eq!(hs.server().as_bytes(), skl.get("SERVER_HANDSHAKE_TRAFFIC_SECRET"));
    let ap = s.secrets(Level::OneRtt);
    assert_eq!(ap.client().as_bytes(), skl.get("CLIENT_TRAFFIC_SECRET_0"));
    assert_eq!(ap.server().as_bytes(), ckl.get("SERVER_TRAFFIC_SECRET_0"));

    // Transport parameters both ways, ALPN, the levels at the end.
    assert_eq!(s.conn.transport_parameters(), Some(CLIENT_PARAMS));
    assert_eq!(c.conn.transport_parameters(), Some(SERVER_PARAMS));
    assert_eq!(c.conn.alpn_protocol(), Some(&b"h3"[..]));
    assert_eq!(s.conn.alpn_protocol(), Some(&b"h3"[..]));
    assert_eq!(c.conn.read_level(), Level::OneRtt);
    assert_eq!(s.conn.read_level(), Level::OneRtt);
    assert!(events(&mut c.conn).contains(&Event::HandshakeComplete));
    assert!(events(&mut s.conn).contains(&Event::HandshakeComplete));
    let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
    c.conn
        .export_keying_material(&mut a, b"EXPORTER-quic", None)
        .unwrap();
    s.conn
        .export_keying_material(&mut b, b"EXPORTER-quic", None)
        .unwrap();
    assert_eq!(a, b);
}

#[test]
fn handshake_bytes_go_at_the_rfc9001_levels_without_records() {
    let mut c = client(quic_client_builder().no_resumption().build().unwrap());
    let mut s = server(quic_server_builder().build().unwrap());
    run(&mut c, &mut s).unwrap();
    // Client: ClientHello at Initial, Finished at Handshake. No record headers, no CCS,
    // no EndOfEarlyData.
    let types = |sent: &[(Level, Vec<u8>)]| sent.iter().map(|(l, b)| (*l, b[0])).collect::<Vec<_>>();
    assert_eq!(types(&c.sent), [(Level::Initial, 1), (Level::Handshake, 20)]);
    assert_eq!(c.sent[1].1.len(), 4 + 32, "only the Finished at Handshake");
    // Server: ServerHello at Initial; EE, Certificate, CertificateVerify, Finished at Handshake.
    assert_eq!(types(&s.sent), [(Level::Initial, 2), (Level::Handshake, 8)]);
    // RFC 9001 8.4: legacy_session_id empty (byte 4+2+32 of the ClientHello is its length).
    let ch = &c.sent[0].1;
    assert_eq!(ch[4 + 2 + 32], 0);
    // quic_transport_parameters (0x0039) carries our bytes opaque.
    let mut ext = vec![0x00, 0x39, 0x00, CLIENT_PARAMS.len() as u8];
    ext.extend_from_slice(CLIENT_PARAMS);
    assert!(ch.windows(ext.len()).any(|w| w == ext.as_slice()));
    // RFC 9001 4.2: supported_versions offers TLS 1.3 alone: 0x002b, len 3, list len 2, 0x0304.
    assert!(ch
        .windows(7)
        .any(|w| w == [0x00, 0x2b, 0x00, 0x03, 0x02, 0x03, 0x04]));
}

#[test]
fn one_rtt_key_update_uses_quic_ku_and_keeps_header_keys() {
    let mut c = client(quic_client_builder().build().unwrap());
    let mut s = server(quic_server_builder().build().unwrap());
    run(&mut c, &mut s).unwrap();
    let mut cs = c.changes.pop().unwrap();
    let mut ss = s.changes.pop().unwrap();
    let old = cs.keys();
    let (KeyChange::OneRtt { secrets: csec }, KeyChange::OneRtt { secrets: ssec }) = (&mut cs, &mut ss)
    else {
        panic!("last change is 1-RTT");
    };
    let before = csec.client().as_bytes().to_vec();
    let suite = csec.suite();
    let cnext = csec.next_packet_keys();
    let snext = ssec.next_packet_keys();
    assert_eq!(
        csec.client().as_bytes(),
        next_secret(suite, &before).as_bytes(),
        "RFC 9001 6.1: HKDF-Expand-Label(secret, \"quic ku\", \"\", Hash.length)"
    );
    assert_eq!(csec.server().as_bytes(), ssec.server().as_bytes());
    // New generation: client seals, server opens; the old key cannot open it.
    let header = [0x45u8, 1, 2, 3];
    let mut p = b"after the key update".to_vec();
    cnext.local.encrypt_in_place(3, &header, &mut p).unwrap();
    let mut copy = p.clone();
    assert!(old.remote.packet.decrypt_in_place(3, &header, &mut copy).is_err());
    assert!(old.local.packet.decrypt_in_place(3, &header, &mut copy).is_err());
    assert_eq!(
        snext.remote.decrypt_in_place(3, &header, &mut p).unwrap(),
        b"after the key update"
    );
    // Header protection keys are those of the first 1-RTT secret (RFC 9001 6.1).
    let sample = [0x5au8; 16];
    let new_keys = ss.keys();
    assert_ne!(
        new_keys.local.header.new_mask(&sample).unwrap(),
        old.remote.header.new_mask(&sample).unwrap(),
        "keys() follows the updated secrets; keep the first header keys"
    );
}

#[test]
fn resumption_with_0rtt_accepted() {
    let client_cfg = quic_client_builder().enable_early_data(true).build().unwrap();
    let server_cfg = quic_server_builder()
        .max_early_data(16384)
        .tickets(1)
        .build()
        .unwrap();
    let mut c = client(client_cfg.clone());
    let mut s = server(server_cfg.clone());
    run(&mut c, &mut s).unwrap();
    assert!(events(&mut c.conn).contains(&Event::SessionTicket));
    // RFC 9001 4.6.1: the ticket's early_data extension says 0xffffffff.
    let (level, nst) = s.sent.last().unwrap();
    assert_eq!((*level, nst[0]), (Level::OneRtt, 4));
    assert!(nst.ends_with(&[0x00, 0x2a, 0x00, 0x04, 0xff, 0xff, 0xff, 0xff]));
    assert_eq!(
        c.conn.zero_rtt_secret().map(|_| ()),
        None,
        "no 0-RTT on a full handshake"
    );

    let mut c = client(client_cfg);
    let mut s = server(server_cfg);
    // The client has 0-RTT keys before anything was sent.
    let early = c.conn.zero_rtt_keys().expect("0-RTT offered");
    let early_secret = c.conn.zero_rtt_secret().unwrap().as_bytes().to_vec();
    transfer(&mut c, &mut s).unwrap();
    assert_eq!(s.conn.zero_rtt_secret().unwrap().as_bytes(), early_secret);
    let server_early = s.conn.zero_rtt_keys().unwrap();
    let header = [0xd1u8, 0, 0, 0, 1];
    let mut p = b"GET /index.html".to_vec();
    early.packet.encrypt_in_place(0, &header, &mut p).unwrap();
    assert_eq!(
        server_early.packet.decrypt_in_place(0, &header, &mut p).unwrap(),
        b"GET /index.html"
    );
    run(&mut c, &mut s).unwrap();
    assert!(c.conn.is_resumed() && s.conn.is_resumed());
    assert_eq!(c.conn.early_data_status(), Some(true));
    assert_eq!(s.conn.early_data_status(), Some(true));
    // RFC 9001 8.3: no EndOfEarlyData; the client's Handshake flight is its Finished alone.
    let hs: Vec<_> = c.sent.iter().filter(|(l, _)| *l == Level::Handshake).collect();
    assert_eq!((hs.len(), hs[0].1[0], hs[0].1.len()), (1, 20, 4 + 32));
    assert_eq!(s.conn.transport_parameters(), Some(CLIENT_PARAMS));
    assert_eq!(c.conn.transport_parameters(), Some(SERVER_PARAMS));
    assert_eq!(
        c.secrets(Level::OneRtt).client().as_bytes(),
        s.secrets(Level::OneRtt).client().as_bytes()
    );
}

#[test]
fn hello_retry_rejects_0rtt_and_drops_the_early_keys() {
    // The client shares x25519 only; the server takes P-256 alone: HelloRetryRequest.
    let client_cfg = quic_client_builder()
        .groups(&[NamedGroup::x25519, NamedGroup::secp256r1])
        .enable_early_data(true)
        .build()
        .unwrap();
    let server_cfg = quic_server_builder()
        .groups(&[NamedGroup::secp256r1])
        .max_early_data(1024)
        .build()
        .unwrap();
    let (mut c, mut s) = (client(client_cfg.clone()), server(server_cfg.clone()));
    run(&mut c, &mut s).unwrap();
    assert!(c.conn.had_hello_retry());
    let (mut c, mut s) = (client(client_cfg), server(server_cfg));
    assert!(c.conn.zero_rtt_keys().is_some());
    run(&mut c, &mut s).unwrap();
    assert!(c.conn.had_hello_retry() && c.conn.is_resumed());
    assert_eq!(c.conn.early_data_status(), Some(false));
    assert_eq!(s.conn.early_data_status(), Some(false));
    assert!(events(&mut c.conn).contains(&Event::EarlyDataRejected));
    assert!(c.conn.zero_rtt_keys().is_none() && s.conn.zero_rtt_secret().is_none());
    // Both ClientHellos at Initial.
    let initial = c
        .sent
        .iter()
        .filter(|(l, b)| *l == Level::Initial && b[0] == 1)
        .count();
    assert_eq!(initial, 2);
}

#[test]
fn replayed_client_hello_gets_no_0rtt() {
    let client_cfg = quic_client_builder().enable_early_data(true).build().unwrap();
    let server_cfg = quic_server_builder().max_early_data(1024).build().unwrap();
    let (mut c, mut s) = (client(client_cfg.clone()), server(server_cfg.clone()));
    run(&mut c, &mut s).unwrap();
    let mut c = client(client_cfg);
    let flight = c.drain();
    let (level, ch) = &flight[0];
    let mut first = server(server_cfg.clone());
    first.conn.read_handshake(*level, ch).unwrap();
    assert!(first.conn.zero_rtt_secret().is_some());
    let mut replay = server(server_cfg);
    replay.conn.read_handshake(*level, ch).unwrap();
    assert_eq!(replay.conn.early_data_status(), Some(false));
    assert!(replay.conn.zero_rtt_secret().is_none());
}

fn alert_of(e: &Error) -> AlertDescription {
    e.alert().unwrap()
}

#[test]
fn client_hello_without_transport_parameters_is_missing_extension() {
    // A TLS client (no quic_transport_parameters, compatibility mode off) speaking to a QUIC
    // server: its ClientHello is the payload of its first record.
    let tls = quic_client_builder().middlebox_compat(false).build().unwrap();
    let mut t = Connection::client(tls, "localhost").unwrap();
    let mut rec = Vec::new();
    t.write_tls(&mut rec).unwrap();
    let mut s = server(quic_server_builder().build().unwrap());
    let e = s.conn.read_handshake(Level::Initial, &rec[5..]).unwrap_err();
    assert_eq!(
        e,
        Error::PeerMisbehaved(PeerMisbehaved::MissingExtension("quic_transport_parameters"))
    );
    assert_eq!(alert_of(&e), AlertDescription::MissingExtension);
    assert_eq!(crypto_error_code(alert_of(&e)), 0x16d);
    assert_eq!(s.conn.alert(), Some(AlertDescription::MissingExtension));
    // The connection stays failed.
    assert!(s.conn.read_handshake(Level::Initial, &[]).is_err());
}

#[test]
fn compatibility_mode_client_hello_is_refused() {
    // RFC 9001 8.4: a non-empty legacy_session_id on QUIC.
    let tls = quic_client_builder().build().unwrap();
    let mut t = Connection::client(tls, "localhost").unwrap();
    let mut rec = Vec::new();
    t.write_tls(&mut rec).unwrap();
    let mut s = server(quic_server_builder().build().unwrap());
    let e = s.conn.read_handshake(Level::Initial, &rec[5..]).unwrap_err();
    assert_eq!(alert_of(&e), AlertDescription::IllegalParameter);
}

#[test]
fn quic_transport_parameters_on_tls_is_unsupported_extension() {
    // RFC 9001 8.2: a TLS server that knows the extension refuses it outside QUIC.
    let mut c = client(quic_client_builder().build().unwrap());
    let (_, ch) = c.drain().remove(0);
    let mut rec = vec![22, 3, 1, (ch.len() >> 8) as u8, ch.len() as u8];
    rec.extend_from_slice(&ch);
    let mut tls = Connection::server(quic_server_builder().build().unwrap()).unwrap();
    tls.read_tls(&mut rec.as_slice()).unwrap();
    let e = tls.process_new_packets().unwrap_err();
    assert_eq!(alert_of(&e), AlertDescription::UnsupportedExtension);
}

#[test]
fn alpn_is_required() {
    // RFC 9001 8.1: no common protocol is no_application_protocol (CRYPTO_ERROR 0x178).
    let mut c = client(quic_client_builder().build().unwrap());
    let mut s = server(
        server_builder("ecdsa-p256")
            .alpn_protocols(&["hq-interop"])
            .build()
            .unwrap(),
    );
    let e = transfer(&mut c, &mut s).unwrap_err();
    assert_eq!(e, Error::NoApplicationProtocol);
    assert_eq!(crypto_error_code(alert_of(&e)), 0x178);
    // A client without ALPN protocols fails before sending anything.
    let e = QuicConnection::client(client_builder().build().unwrap(), "localhost", vec![]).unwrap_err();
    assert_eq!(e, Error::NoApplicationProtocol);
    // A server without them is built, and refuses each handshake with the alert.
    let mut c = client(quic_client_builder().build().unwrap());
    let mut s = server(server_builder("ecdsa-p256").build().unwrap());
    let e = transfer(&mut c, &mut s).unwrap_err();
    assert_eq!(e, Error::NoApplicationProtocol);
    assert_eq!(crypto_error_code(alert_of(&e)), 0x178);
}

#[test]
fn key_update_message_is_unexpected_on_quic() {
    let mut c = client(quic_client_builder().build().unwrap());
    let mut s = server(quic_server_builder().build().unwrap());
    run(&mut c, &mut s).unwrap();
    // RFC 9001 6: KeyUpdate(update_not_requested) at 1-RTT is unexpected_message (0x10a).
    let e = c
        .conn
        .read_handshake(Level::OneRtt, &[24, 0, 0, 1, 0])
        .unwrap_err();
    assert_eq!(crypto_error_code(alert_of(&e)), 0x10a);
}

#[test]
fn handshake_bytes_at_the_wrong_level_are_refused() {
    let mut c = client(quic_client_builder().build().unwrap());
    let (_, ch) = c.drain().remove(0);
    let mut s = server(quic_server_builder().build().unwrap());
    let e = s.conn.read_handshake(Level::Handshake, &ch).unwrap_err();
    assert_eq!(alert_of(&e), AlertDescription::UnexpectedMessage);
    // A message split across calls at one level is fine.
    let mut s = server(quic_server_builder().build().unwrap());
    s.conn.read_handshake(Level::Initial, &ch[..10]).unwrap();
    s.conn.read_handshake(Level::Initial, &ch[10..]).unwrap();
    assert_eq!(s.conn.read_level(), Level::Handshake);
    // ServerHello and EncryptedExtensions in one Initial buffer: EE spans the key change.
    let mut flight = Vec::new();
    for (_, b) in s.drain() {
        flight.extend_from_slice(&b);
    }
    let e = c.conn.read_handshake(Level::Initial, &flight).unwrap_err();
    assert_eq!(e, Error::PeerMisbehaved(PeerMisbehaved::MessageSpansKeyChange));
}

// ---------------------------------------------------------------------------------------------
// RFC 9001 Appendix A.

const DCID: &str = "8394c8f03e515708";

#[test]
fn rfc9001_a1_initial_keys() {
    let dcid = h(DCID);
    assert_eq!(
        initial_secret(&dcid).as_bytes(),
        h("7db5df06e7a69e432496adedb00851923595221596ae2ae9fb8115c1e9ed0a44")
    );
    let (client, server) = initial_secrets(&dcid);
    assert_eq!(
        client.as_bytes(),
        h("c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea")
    );
    assert_eq!(
        server.as_bytes(),
        h("3c199828fd139efd216c155ad844cc81fb82fa8d7446fa7d78be803acdda951b")
    );
    let suite = tls13_suite(sanstls::codec::CipherSuite::TLS_AES_128_GCM_SHA256).unwrap();
    let (key, iv, hp) = packet_key_material(suite, client.as_bytes());
    assert_eq!(key.as_bytes(), h("1f369613dd76d5467730efcbe3b1a22d"));
    assert_eq!(iv.as_bytes(), h("fa044b2f42a3fd3b46fb255c"));
    assert_eq!(hp.as_bytes(), h("9f50449e04a0e810283a1e9933adedd2"));
    let (key, iv, hp) = packet_key_material(suite, server.as_bytes());
    assert_eq!(key.as_bytes(), h("cf3a5331653c364c88f0f379b6067e37"));
    assert_eq!(iv.as_bytes(), h("0ac1493ca1905853b0bba03e"));
    assert_eq!(hp.as_bytes(), h("c206b8d9b9f0f37644430b490eeaa314"));
}

#[test]
fn rfc9001_a2_a3_initial_header_protection() {
    let dcid = h(DCID);
    let client_keys = Keys::initial(&dcid, Side::Client);
    let server_keys = Keys::initial(&dcid, Side::Server);
    // A.2: the client Initial; sample and mask, then the protected header bytes.
    let sample = h("d1b1c98dd7689fb8ec11d242b123dc9b");
    assert_eq!(
        client_keys.local.header.new_mask(&sample).unwrap().to_vec(),
        h("437b9aec36")
    );
    let mut header = h("c300000001088394c8f03e5157080000449e00000002");
    let (first, rest) = header.split_first_mut().unwrap();
    let pn_offset = rest.len() - 4;
    client_keys
        .local
        .header
        .encrypt_in_place(&sample, first, &mut rest[pn_offset..])
        .unwrap();
    assert_eq!(header, h("c000000001088394c8f03e5157080000449e7b9aec34"));
    // The server opens it with its remote (client) keys.
    let (first, rest) = header.split_first_mut().unwrap();
    let n = server_keys
        .remote
        .header
        .decrypt_in_place(&sample, first, &mut rest[pn_offset..])
        .unwrap();
    assert_eq!(
        (n, header),
        (4, h("c300000001088394c8f03e5157080000449e00000002"))
    );

    // A.3: the server Initial.
    let sample = h("2cd0991cd25b0aac406a5816b6394100");
    assert_eq!(
        server_keys.local.header.new_mask(&sample).unwrap().to_vec(),
        h("2ec0d8356a")
    );
    let mut header = h("c1000000010008f067a5502a4262b50040750001");
    let (first, rest) = header.split_first_mut().unwrap();
    let pn_offset = rest.len() - 2;
    server_keys
        .local
        .header
        .encrypt_in_place(&sample, first, &mut rest[pn_offset..])
        .unwrap();
    assert_eq!(header, h("cf000000010008f067a5502a4262b5004075c0d9"));
}

#[test]
fn rfc9001_a5_chacha20_short_header_packet() {
    let suite = tls13_suite(sanstls::codec::CipherSuite::TLS_CHACHA20_POLY1305_SHA256).unwrap();
    let secret = h("9ac312a7f877468ebe69422748ad00a15443f18203a07d6060f688f30f21632b");
    let (key, iv, hp) = packet_key_material(suite, &secret);
    assert_eq!(
        key.as_bytes(),
        h("c6d98ff3441c3fe1b2182094f69caa2ed4b716b65488960a7a984979fb23e1c8")
    );
    assert_eq!(iv.as_bytes(), h("e0459b3474bdd0e44a41c144"));
    assert_eq!(
        hp.as_bytes(),
        h("25a282b9e82f06f21f488917a4fc8f1b73573685608597d0efcb076b0ab7a7a4")
    );
    assert_eq!(
        next_secret(suite, &secret).as_bytes(),
        h("1223504755036d556342ee9361d253421a826c9ecdf3c7148684b36b714881f9")
    );

    // Packet number 654360564, 3-byte encoding, payload a single PING frame.
    let pn = 654_360_564u64;
    let header = h("4200bff4");
    let packet_key = PacketKey::new(suite, &secret);
    let mut payload = vec![0x01];
    packet_key.encrypt_in_place(pn, &header, &mut payload).unwrap();
    assert_eq!(payload, h("655e5cd55c41f69080575d7999c25a5bfb"));
    // The sample starts 4 bytes after the packet number's first byte (offset 1).
    let sample = &payload[1..17];
    assert_eq!(sample, h("5e5cd55c41f69080575d7999c25a5bfb").as_slice());
    let hp_key = HeaderProtectionKey::new(suite, &secret);
    assert_eq!(hp_key.new_mask(sample).unwrap().to_vec(), h("aefefe7d03"));
    let mut protected = header.clone();
    let (first, pn_bytes) = protected.split_first_mut().unwrap();
    hp_key.encrypt_in_place(sample, first, pn_bytes).unwrap();
    assert_eq!(protected, h("4cfe4189"));
    protected.extend_from_slice(&payload);
    assert_eq!(protected, h("4cfe4189655e5cd55c41f69080575d7999c25a5bfb"));

    // And back: unmask, then open.
    let (first, rest) = protected.split_first_mut().unwrap();
    let sample: [u8; 16] = rest[4..20].try_into().unwrap();
    let n = hp_key.decrypt_in_place(&sample, first, &mut rest[..4]).unwrap();
    assert_eq!((n, &protected[..4]), (3, &header[..]));
    let mut body = protected[4..].to_vec();
    assert_eq!(
        packet_key.decrypt_in_place(pn, &header, &mut body).unwrap(),
        [0x01]
    );
}

#[test]
fn ticket_with_another_max_early_data_size_is_refused() {
    let mut c = client(quic_client_builder().build().unwrap());
    let mut s = server(quic_server_builder().tickets(0).build().unwrap());
    run(&mut c, &mut s).unwrap();
    // NewSessionTicket: lifetime 60, age_add 0, nonce [0], ticket "t", early_data 1024.
    let body = [
        &[0, 0, 0, 60, 0, 0, 0, 0, 1, 0, 0, 1, b't', 0, 8][..],
        &[0x00, 0x2a, 0x00, 0x04, 0x00, 0x00, 0x04, 0x00],
    ]
    .concat();
    let mut nst = vec![4, 0, 0, body.len() as u8];
    nst.extend_from_slice(&body);
    // RFC 9001 4.6.1: PROTOCOL_VIOLATION in QUIC terms; reported as illegal_parameter.
    let e = c.conn.read_handshake(Level::OneRtt, &nst).unwrap_err();
    assert_eq!(alert_of(&e), AlertDescription::IllegalParameter);
}

#[test]
fn rfc9001_a4_retry_integrity_tag() {
    // The Retry of A.4 answers the client Initial of A.2 (ODCID 0x8394c8f03e515708).
    let retry = h("ff000000010008f067a5502a4262b5746f6b656e04a265ba2eff4d829058fb3f0f2496ba");
    let (body, tag) = retry.split_at(retry.len() - 16);
    assert_eq!(retry_integrity_tag(&h(DCID), body).unwrap().to_vec(), tag);
    assert!(verify_retry_integrity(&h(DCID), &retry));
    let mut forged = retry.clone();
    forged[10] ^= 1;
    assert!(!verify_retry_integrity(&h(DCID), &forged));
    assert!(!verify_retry_integrity(&h("8394c8f03e515709"), &retry));
    assert!(!verify_retry_integrity(&h(DCID), &retry[..10]));
}

/// RFC 9001 5.3: TLS_AES_128_CCM_8_SHA256 is never negotiated over QUIC. Our client leaves it
/// out of the ClientHello even when the config lists it, and our server passes over it when
/// a client offers it anyway.
#[test]
fn ccm_8_is_never_negotiated_over_quic() {
    use sanstls::codec::CipherSuite as S;
    let suites = [S::TLS_AES_128_CCM_8_SHA256, S::TLS_AES_128_GCM_SHA256];
    let server_config = || quic_server_builder().cipher_suites(&suites).build().unwrap();
    let mut c = client(quic_client_builder().cipher_suites(&suites).build().unwrap());
    let (_, hello) = c.drain().remove(0);
    let ccm8 = S::TLS_AES_128_CCM_8_SHA256.get().to_be_bytes();
    assert!(!hello.windows(2).any(|w| w == ccm8), "CCM_8 offered over QUIC");
    let mut c = client(quic_client_builder().cipher_suites(&suites).build().unwrap());
    let mut s = server(server_config());
    run(&mut c, &mut s).unwrap();
    assert_eq!(s.conn.cipher_suite(), Some(S::TLS_AES_128_GCM_SHA256));
    // A client that offers it first (rewritten hello): the server takes the next suite.
    let pushy = quic_client_builder()
        .cipher_suites(&[S::TLS_AES_128_GCM_SHA256])
        .customize_client_hello(|h| h.cipher_suites.insert(0, S::TLS_AES_128_CCM_8_SHA256))
        .build()
        .unwrap();
    let mut c = client(pushy);
    let mut s = server(server_config());
    run(&mut c, &mut s).unwrap();
    assert_eq!(s.conn.cipher_suite(), Some(S::TLS_AES_128_GCM_SHA256));
}
