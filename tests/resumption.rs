//! TLS 1.3 resumption, 0-RTT and client authentication between our own client and server
//! (RFC 8446 2.2, 2.3, 4.2.10, 4.2.11, 4.3.2, 4.6.1).

mod common;

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

use common::*;
use sanstls::codec::{AlertDescription, NamedGroup};
use sanstls::conn::{ClientSessionStore, EarlyDataReason, SessionCache, SessionStorage, TicketKeys};
use sanstls::pki::{TrustAnchors, WebPkiClientVerifier};
use sanstls::{ClientConfig, Connection, Error, Event, KeyLog, PeerMisbehaved, ServerConfig};

fn first_handshake(client: &Arc<ClientConfig>, server: &Arc<ServerConfig>) {
    let (mut c, mut s) = pair(client.clone(), server.clone());
    handshake(&mut c, &mut s).unwrap();
    transfer(&mut s, &mut c).unwrap();
    assert!(!c.is_resumed() && !s.is_resumed());
    assert!(events(&mut c).contains(&Event::SessionTicket));
}

fn early_server(max: u32) -> Arc<ServerConfig> {
    server_builder("ecdsa-p256").max_early_data(max).build().unwrap()
}

fn early_client() -> Arc<ClientConfig> {
    client_builder().enable_early_data(true).build().unwrap()
}

fn early_payload(conn: &mut Connection) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 1024];
    while let Ok(n) = conn.early_data_reader().read(&mut buf) {
        out.extend_from_slice(&buf[..n]);
    }
    out
}

#[test]
fn second_connection_resumes_with_a_ticket() {
    let client = client_builder().build().unwrap();
    let server = server_builder("ecdsa-p256").tickets(3).build().unwrap();
    first_handshake(&client, &server);
    let (mut c, mut s) = pair(client.clone(), server.clone());
    handshake(&mut c, &mut s).unwrap();
    assert!(c.is_resumed() && s.is_resumed());
    assert_eq!(c.signature_scheme(), None, "no CertificateVerify on resumption");
    assert!(
        !c.peer_certificates().is_empty(),
        "chain remembered from the first handshake"
    );
    assert_eq!(send(&mut c, &mut s, b"ping"), b"ping");
    assert_eq!(send(&mut s, &mut c, b"pong"), b"pong");
    let mut a = [0u8; 32];
    let mut b = [0u8; 32];
    c.export_keying_material(&mut a, b"EXPORTER-x", None).unwrap();
    s.export_keying_material(&mut b, b"EXPORTER-x", None).unwrap();
    assert_eq!(a, b);
}

#[test]
fn tickets_are_single_use_by_default() {
    let store = Arc::new(ClientSessionStore::new(16, 8));
    let client = client_builder().session_store(store.clone()).build().unwrap();
    let server = server_builder("ecdsa-p256").tickets(1).build().unwrap();
    first_handshake(&client, &server);
    assert_eq!(store.tickets_for("localhost"), 1);
    let (mut c, mut s) = pair(client.clone(), server.clone());
    assert_eq!(store.tickets_for("localhost"), 0, "taken when offered");
    handshake(&mut c, &mut s).unwrap();
    assert!(c.is_resumed());
    // The resumed connection got a fresh ticket; a third connection resumes with it.
    transfer(&mut s, &mut c).unwrap();
    assert_eq!(store.tickets_for("localhost"), 1);
}

#[test]
fn stateful_cache_resumes_once_per_ticket() {
    let cache = Arc::new(SessionCache::new(64));
    let client = client_builder().build().unwrap();
    let server = server_builder("ecdsa-p256")
        .session_storage(SessionStorage::Cache(cache.clone()))
        .tickets(1)
        .build()
        .unwrap();
    first_handshake(&client, &server);
    assert_eq!(cache.len(), 1);
    let mut c = Connection::client(client, "localhost").unwrap();
    let mut flight = Vec::new();
    while c.write_tls(&mut flight).unwrap() > 0 {}
    let mut s = Connection::server(server.clone()).unwrap();
    s.read_tls(&mut &flight[..]).unwrap();
    s.process_new_packets().unwrap();
    assert!(s.is_resumed());
    assert!(cache.is_empty(), "taken on use");
    // The same ClientHello again: the cache already spent the ticket.
    let mut again = Connection::server(server).unwrap();
    again.read_tls(&mut &flight[..]).unwrap();
    again.process_new_packets().unwrap();
    assert!(!again.is_resumed());
}

#[test]
fn ticket_from_another_server_key_falls_back_to_a_full_handshake() {
    let client = client_builder().build().unwrap();
    let a = server_builder("ecdsa-p256").build().unwrap();
    let b = server_builder("ecdsa-p256")
        .session_storage(SessionStorage::Tickets(Arc::new(TicketKeys::new(3600))))
        .build()
        .unwrap();
    first_handshake(&client, &a);
    let (mut c, mut s) = pair(client, b);
    handshake(&mut c, &mut s).unwrap();
    assert!(!c.is_resumed() && !s.is_resumed());
    assert!(c.signature_scheme().is_some());
}

#[test]
fn ticket_is_bound_to_alpn() {
    let client = client_builder()
        .alpn_protocols(&["h2", "http/1.1"])
        .build()
        .unwrap();
    let h2 = server_builder("ecdsa-p256")
        .alpn_protocols(&["h2"])
        .build()
        .unwrap();
    first_handshake(&client, &h2);
    // Same ticket keys, other ALPN choice: no resumption.
    let keys = SessionStorage::Tickets(Arc::new(TicketKeys::new(3600)));
    let h2 = server_builder("ecdsa-p256")
        .alpn_protocols(&["h2"])
        .session_storage(keys.clone())
        .build()
        .unwrap();
    let h1 = server_builder("ecdsa-p256")
        .alpn_protocols(&["http/1.1"])
        .session_storage(keys)
        .build()
        .unwrap();
    first_handshake(&client, &h2);
    let (mut c, mut s) = pair(client, h1);
    handshake(&mut c, &mut s).unwrap();
    assert!(!s.is_resumed());
}

#[test]
fn session_resumes_only_at_the_suite_a_full_handshake_would_take() {
    use sanstls::codec::CipherSuite as Cs;
    let store = Arc::new(ClientSessionStore::new(16, 8));
    let aes_only = client_builder()
        .cipher_suites(&[Cs::TLS_AES_256_GCM_SHA384])
        .session_store(store.clone())
        .build()
        .unwrap();
    let server = server_builder("ecdsa-p256").tickets(1).build().unwrap();
    first_handshake(&aes_only, &server);
    // The client now lists ChaCha20 first (no AES hardware, RFC 8446 4.1.1): a full
    // handshake would take ChaCha20, so the AES-256 ticket is declined, though offered.
    let chacha_first = client_builder()
        .cipher_suites(&[Cs::TLS_CHACHA20_POLY1305_SHA256, Cs::TLS_AES_256_GCM_SHA384])
        .session_store(store.clone())
        .build()
        .unwrap();
    let (mut c, mut s) = pair(chacha_first, server.clone());
    handshake(&mut c, &mut s).unwrap();
    assert!(!s.is_resumed() && !c.is_resumed());
    assert_eq!(s.cipher_suite(), Some(Cs::TLS_CHACHA20_POLY1305_SHA256));
    // Where a full handshake takes the ticket's suite, it resumes.
    first_handshake(&aes_only, &server);
    let (mut c, mut s) = pair(aes_only, server);
    handshake(&mut c, &mut s).unwrap();
    assert!(s.is_resumed() && c.is_resumed());
    assert_eq!(s.cipher_suite(), Some(Cs::TLS_AES_256_GCM_SHA384));
}

#[test]
fn wrong_binder_is_decrypt_error() {
    let client = client_builder().build().unwrap();
    let server = server_builder("ecdsa-p256").build().unwrap();
    first_handshake(&client, &server);
    let mut c = Connection::client(client, "localhost").unwrap();
    let mut flight = Vec::new();
    while c.write_tls(&mut flight).unwrap() > 0 {}
    // The ClientHello record comes first; its binder is the last bytes of the record.
    let ch_len = 5 + u16::from_be_bytes([flight[3], flight[4]]) as usize;
    flight[ch_len - 1] ^= 1;
    let mut s = Connection::server(server).unwrap();
    s.read_tls(&mut &flight[..]).unwrap();
    let err = s.process_new_packets().unwrap_err();
    assert_eq!(err, Error::PeerMisbehaved(PeerMisbehaved::BadPskBinder));
    assert_eq!(err.alert(), Some(AlertDescription::DecryptError));
    let mut out = Vec::new();
    while s.write_tls(&mut out).unwrap() > 0 {}
    assert_eq!(out, [21, 3, 3, 0, 2, 2, AlertDescription::DecryptError.get()]);
}

#[test]
fn short_binder_is_decrypt_error() {
    // RFC 8446 4.2.11 makes a binder 32..255 bytes; a 31-byte one for our ticket is a binder
    // that does not validate (decrypt_error, 4.2.11.2), not a parse failure (decode_error).
    let client = client_builder().build().unwrap();
    let server = server_builder("ecdsa-p256").build().unwrap();
    first_handshake(&client, &server);
    let mut c = Connection::client(client, "localhost").unwrap();
    let mut flight = Vec::new();
    while c.write_tls(&mut flight).unwrap() > 0 {}
    let ch_len = 5 + u16::from_be_bytes([flight[3], flight[4]]) as usize;
    let mut ch = flight[..ch_len].to_vec();
    // pre_shared_key is last, and its one binder ends the record: drop the binder's last byte
    // and shrink every length around it.
    let (ext_block, psk) = last_extension(&ch);
    assert_eq!(&ch[psk..psk + 2], &[0, 41]);
    assert_eq!(ch[ch.len() - 33], 32);
    ch.pop();
    let binder_len = ch.len() - 32;
    shrink(
        &mut ch,
        &[
            (3, 2),
            (6, 3),
            (ext_block, 2),
            (psk + 2, 2),
            (binder_len - 2, 2),
            (binder_len, 1),
        ],
        1,
    );
    let mut s = Connection::server(server).unwrap();
    s.read_tls(&mut &ch[..]).unwrap();
    let err = s.process_new_packets().unwrap_err();
    assert_eq!(err, Error::PeerMisbehaved(PeerMisbehaved::BadPskBinder));
    let mut out = Vec::new();
    while s.write_tls(&mut out).unwrap() > 0 {}
    assert_eq!(out, [21, 3, 3, 0, 2, 2, AlertDescription::DecryptError.get()]);
}

#[test]
fn early_data_is_accepted_and_delivered_as_its_own_event() {
    let client = early_client();
    let server = early_server(1024);
    first_handshake(&client, &server);
    let mut c = Connection::client(client, "localhost").unwrap();
    let mut s = Connection::server(server).unwrap();
    {
        let mut w = c.early_data().expect("0-RTT possible");
        assert_eq!(w.remaining(), 1024);
        w.write_all(b"GET / early").unwrap();
    }
    transfer(&mut c, &mut s).unwrap();
    assert!(s.early_data_accepted());
    assert_eq!(events(&mut s), [Event::EarlyData { len: 11 }]);
    assert_eq!(early_payload(&mut s), b"GET / early");
    handshake(&mut c, &mut s).unwrap();
    assert!(c.early_data_accepted() && c.is_resumed() && s.is_resumed());
    assert!(c.early_data().is_none(), "closed by EndOfEarlyData");
    let mut a = [0u8; 16];
    let mut b = [0u8; 16];
    c.export_keying_material_early(&mut a, b"EXPORTER-early", Some(b"ctx"))
        .unwrap();
    s.export_keying_material_early(&mut b, b"EXPORTER-early", Some(b"ctx"))
        .unwrap();
    assert_eq!(a, b);
    c.export_keying_material(&mut b, b"EXPORTER-early", Some(b"ctx"))
        .unwrap();
    assert_ne!(a, b, "the early exporter is its own secret");
    assert_eq!(send(&mut c, &mut s, b"after"), b"after");
}

#[test]
fn exporter_fails_while_zero_rtt_is_in_flight() {
    // RFC 8446 7.5: the exporter master secret comes with the server's Finished; while the
    // client's 0-RTT is in flight only the early exporter exists.
    let client = early_client();
    let server = early_server(1024);
    first_handshake(&client, &server);
    let (mut c, mut s) = pair(client, server);
    c.early_data().unwrap().write_all(b"early").unwrap();
    assert!(c.is_handshaking() && c.early_data().is_some(), "0-RTT in flight");
    let mut out = [0u8; 32];
    assert_eq!(
        c.export_keying_material(&mut out, b"label", None),
        Err(Error::Misuse(sanstls::Misuse::HandshakeIncomplete))
    );
    c.export_keying_material_early(&mut out, b"label", None).unwrap();
    handshake(&mut c, &mut s).unwrap();
    c.export_keying_material(&mut out, b"label", None).unwrap();
}

#[test]
fn early_data_is_capped_by_max_early_data_size() {
    let client = early_client();
    let server = early_server(8);
    first_handshake(&client, &server);
    let mut c = Connection::client(client, "localhost").unwrap();
    let mut w = c.early_data().unwrap();
    assert_eq!(w.write(b"0123456789").unwrap(), 8);
    assert_eq!(w.write(b"x").unwrap(), 0);
}

#[test]
fn replayed_zero_rtt_client_hello_is_not_accepted_twice() {
    let client = early_client();
    let server = early_server(1024);
    first_handshake(&client, &server);
    let mut c = Connection::client(client, "localhost").unwrap();
    c.early_data().unwrap().write_all(b"transfer $100").unwrap();
    let mut flight = Vec::new();
    while c.write_tls(&mut flight).unwrap() > 0 {}
    let mut first = Connection::server(server.clone()).unwrap();
    first.read_tls(&mut &flight[..]).unwrap();
    first.process_new_packets().unwrap();
    assert!(first.early_data_accepted());
    assert_eq!(early_payload(&mut first), b"transfer $100");
    // The same bytes again (an attacker's replay): resumed perhaps, 0-RTT refused and
    // skipped, nothing delivered.
    let mut replay = Connection::server(server).unwrap();
    replay.read_tls(&mut &flight[..]).unwrap();
    replay.process_new_packets().unwrap();
    assert!(!replay.early_data_accepted());
    assert!(!events(&mut replay)
        .iter()
        .any(|e| matches!(e, Event::EarlyData { .. })));
    assert!(early_payload(&mut replay).is_empty());
}

#[test]
fn rejected_early_data_is_skipped_and_the_client_told() {
    let keys = SessionStorage::Tickets(Arc::new(TicketKeys::new(3600)));
    let issuing = server_builder("ecdsa-p256")
        .session_storage(keys.clone())
        .max_early_data(1024)
        .build()
        .unwrap();
    let refusing = server_builder("ecdsa-p256")
        .session_storage(keys)
        .build()
        .unwrap();
    let client = early_client();
    first_handshake(&client, &issuing);
    let (mut c, mut s) = pair(client, refusing);
    c.early_data().unwrap().write_all(&[7u8; 600]).unwrap();
    handshake(&mut c, &mut s).unwrap();
    assert!(c.is_resumed() && s.is_resumed());
    assert!(!c.early_data_accepted() && !s.early_data_accepted());
    assert_eq!(c.early_data_status(), Some(false));
    assert_eq!(c.early_data_reason(), Some(EarlyDataReason::PeerDeclined));
    assert_eq!(s.early_data_reason(), Some(EarlyDataReason::Disabled));
    assert!(events(&mut c).contains(&Event::EarlyDataRejected));
    // The application resends over 1-RTT.
    assert_eq!(send(&mut c, &mut s, &[7u8; 600]), vec![7u8; 600]);
}

#[test]
fn hello_retry_request_disables_early_data() {
    let client = client_builder()
        .enable_early_data(true)
        .groups(&[NamedGroup::x25519, NamedGroup::secp256r1])
        .build()
        .unwrap();
    let keys = SessionStorage::Tickets(Arc::new(TicketKeys::new(3600)));
    let first = server_builder("ecdsa-p256")
        .session_storage(keys.clone())
        .max_early_data(1024)
        .build()
        .unwrap();
    let p256_only = server_builder("ecdsa-p256")
        .session_storage(keys)
        .max_early_data(1024)
        .groups(&[NamedGroup::secp256r1])
        .build()
        .unwrap();
    first_handshake(&client, &first);
    let (mut c, mut s) = pair(client, p256_only);
    c.early_data().unwrap().write_all(b"early").unwrap();
    handshake(&mut c, &mut s).unwrap();
    assert!(c.had_hello_retry());
    assert!(
        c.is_resumed() && s.is_resumed(),
        "the PSK survives HRR with new binders"
    );
    assert!(!c.early_data_accepted() && !s.early_data_accepted());
    assert_eq!(c.early_data_reason(), Some(EarlyDataReason::HelloRetryRequest));
    assert_eq!(s.early_data_reason(), Some(EarlyDataReason::HelloRetryRequest));
    assert!(events(&mut c).contains(&Event::EarlyDataRejected));
}

#[test]
fn hello_retry_request_with_a_session_that_does_not_resume_reports_the_session() {
    // Both the HelloRetryRequest and the unknown ticket reject 0-RTT; the server reports the
    // ticket, which would have cost 0-RTT without the retry too.
    let client = client_builder()
        .enable_early_data(true)
        .groups(&[NamedGroup::x25519, NamedGroup::secp256r1])
        .build()
        .unwrap();
    first_handshake(&client, &early_server(1024));
    let other_keys = server_builder("ecdsa-p256")
        .max_early_data(1024)
        .groups(&[NamedGroup::secp256r1])
        .build()
        .unwrap();
    let (mut c, mut s) = pair(client, other_keys);
    c.early_data().unwrap().write_all(b"early").unwrap();
    handshake(&mut c, &mut s).unwrap();
    assert!(c.had_hello_retry() && s.had_hello_retry());
    assert!(!c.is_resumed() && !s.is_resumed());
    assert!(!s.early_data_accepted());
    assert_eq!(s.early_data_reason(), Some(EarlyDataReason::SessionNotResumed));
}

/// Each side says why 0-RTT was used or not, the first reason that applies.
#[test]
fn early_data_reason_on_both_sides() {
    use sanstls::codec::ProtocolVersion;
    let reasons = |c: &Connection, s: &Connection| (c.early_data_reason(), s.early_data_reason());
    // No ticket yet: nothing to offer 0-RTT with.
    let client = early_client();
    let server = early_server(1024);
    let (mut c, mut s) = pair(client.clone(), server.clone());
    assert_eq!(c.early_data_reason(), Some(EarlyDataReason::NoSessionOffered));
    handshake(&mut c, &mut s).unwrap();
    transfer(&mut s, &mut c).unwrap();
    use EarlyDataReason::*;
    assert_eq!(reasons(&c, &s), (Some(NoSessionOffered), Some(NoSessionOffered)));
    // Resumed with 0-RTT.
    let (mut c, mut s) = pair(client.clone(), server.clone());
    c.early_data().unwrap().write_all(b"early").unwrap();
    handshake(&mut c, &mut s).unwrap();
    assert_eq!(reasons(&c, &s), (Some(Accepted), Some(Accepted)));
    // A client that does not enable it; the server sees no offer.
    let plain = client_builder().build().unwrap();
    let (mut c, mut s) = pair(plain.clone(), server.clone());
    handshake(&mut c, &mut s).unwrap();
    transfer(&mut s, &mut c).unwrap();
    let (mut c, mut s) = pair(plain, server.clone());
    handshake(&mut c, &mut s).unwrap();
    assert_eq!(reasons(&c, &s), (Some(Disabled), Some(PeerDeclined)));
    // A ticket from a server without 0-RTT does not allow it.
    let no_early = server_builder("ecdsa-p256").build().unwrap();
    let client = early_client();
    first_handshake(&client, &no_early);
    let (mut c, mut s) = pair(client, no_early);
    handshake(&mut c, &mut s).unwrap();
    assert_eq!(reasons(&c, &s), (Some(UnsupportedForSession), Some(Disabled)));
    // TLS 1.2 only.
    let tls12 = client_builder()
        .enable_early_data(true)
        .versions(&[ProtocolVersion::TLSv1_2])
        .build()
        .unwrap();
    let (mut c, mut s) = pair(tls12, server);
    handshake(&mut c, &mut s).unwrap();
    let tls12_chosen = Some(EarlyDataReason::ProtocolVersion);
    assert_eq!(reasons(&c, &s), (tls12_chosen, tls12_chosen));
}

#[test]
fn psk_ke_only_on_opt_in() {
    let client = client_builder().allow_psk_ke(true).build().unwrap();
    let server = server_builder("ecdsa-p256").allow_psk_ke(true).build().unwrap();
    first_handshake(&client, &server);
    // The client offers both modes: the server prefers psk_dhe_ke.
    let (mut c, mut s) = pair(client.clone(), server.clone());
    handshake(&mut c, &mut s).unwrap();
    assert!(c.is_resumed() && c.key_exchange_group().is_some());
    // A server without the opt-in never resumes a psk_ke-only offer: tested through the
    // client default, which never offers psk_ke at all.
    let plain = client_builder().build().unwrap();
    let (mut c, _) = pair(plain, server);
    let mut out = Vec::new();
    while c.write_tls(&mut out).unwrap() > 0 {}
    // psk_key_exchange_modes (45) = [psk_dhe_ke (1)]
    assert!(out.windows(6).any(|w| w == [0, 45, 0, 2, 1, 1]));
}

fn ca_verifier() -> WebPkiClientVerifier {
    WebPkiClientVerifier::new(TrustAnchors::from_pem_file(vectors().join("ca.pem")).unwrap())
}

#[test]
fn client_certificate_is_verified_and_exposed() {
    for kind in KEY_TYPES {
        let client = client_builder()
            .client_auth_cert(certified_key(kind))
            .build()
            .unwrap();
        let server = server_builder("ecdsa-p256")
            .client_verifier(Arc::new(ca_verifier()))
            .build()
            .unwrap();
        let (mut c, mut s) = pair(client.clone(), server.clone());
        handshake(&mut c, &mut s).unwrap();
        assert_eq!(s.peer_certificates().len(), 1, "{kind}");
        transfer(&mut s, &mut c).unwrap();
        // Resumption keeps the client's identity.
        let (mut c, mut s) = pair(client, server);
        handshake(&mut c, &mut s).unwrap();
        assert!(s.is_resumed());
        assert_eq!(s.peer_certificates().len(), 1, "{kind}");
    }
}

#[test]
fn required_client_certificate_missing_is_certificate_required() {
    let client = client_builder().build().unwrap();
    let server = server_builder("ecdsa-p256")
        .client_verifier(Arc::new(ca_verifier()))
        .build()
        .unwrap();
    let (mut c, mut s) = pair(client, server);
    let err = handshake(&mut c, &mut s).unwrap_err();
    assert_eq!(err, Error::CertificateRequired);
    assert_eq!(err.alert(), Some(AlertDescription::CertificateRequired));
}

#[test]
fn optional_client_certificate_may_be_absent() {
    let client = client_builder().build().unwrap();
    let server = server_builder("ecdsa-p256")
        .client_verifier(Arc::new(ca_verifier().optional()))
        .build()
        .unwrap();
    let (mut c, mut s) = pair(client, server);
    handshake(&mut c, &mut s).unwrap();
    assert!(s.peer_certificates().is_empty());
}

#[derive(Debug, Default)]
struct Labels(Mutex<Vec<String>>);

impl KeyLog for Labels {
    fn log(&self, label: &str, _: &[u8], _: &[u8]) {
        self.0.lock().unwrap().push(label.to_string());
    }
}

#[test]
fn key_log_includes_early_secrets() {
    let log = Arc::new(Labels::default());
    let client = client_builder()
        .enable_early_data(true)
        .key_log(log.clone())
        .build()
        .unwrap();
    let server = early_server(64);
    first_handshake(&client, &server);
    log.0.lock().unwrap().clear();
    let (mut c, mut s) = pair(client, server);
    c.early_data().unwrap().write_all(b"x").unwrap();
    handshake(&mut c, &mut s).unwrap();
    let mut labels = log.0.lock().unwrap().clone();
    labels.sort();
    assert_eq!(
        labels,
        [
            "CLIENT_EARLY_TRAFFIC_SECRET",
            "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
            "CLIENT_TRAFFIC_SECRET_0",
            "EARLY_EXPORTER_SECRET",
            "EXPORTER_SECRET",
            "SERVER_HANDSHAKE_TRAFFIC_SECRET",
            "SERVER_TRAFFIC_SECRET_0",
        ]
    );
}

#[test]
fn no_tickets_for_a_client_that_cannot_resume() {
    // RFC 8446 4.2.9: without a session store the client offers no psk_key_exchange_modes,
    // and the server sends no NewSessionTicket it could not use.
    let client = client_builder().no_resumption().build().unwrap();
    let server = server_builder("ecdsa-p256").tickets(2).build().unwrap();
    let (mut c, mut s) = pair(client, server.clone());
    handshake(&mut c, &mut s).unwrap();
    assert_eq!(
        transfer(&mut s, &mut c).unwrap(),
        0,
        "nothing after the handshake"
    );
    assert!(!events(&mut c).contains(&Event::SessionTicket));
    // The same server still issues tickets to a client that can resume.
    first_handshake(&client_builder().build().unwrap(), &server);
}

/// A verifier that counts its calls and refuses once told to (trust withdrawn).
#[derive(Debug, Default)]
struct Withdrawable {
    calls: std::sync::atomic::AtomicUsize,
    refuse: std::sync::atomic::AtomicBool,
}

impl sanstls::pki::ServerCertVerifier for Withdrawable {
    fn verify_server_cert(
        &self,
        _: &[u8],
        _: &[&[u8]],
        _: &sanstls::pki::ServerName,
        _: u64,
    ) -> Result<(), sanstls::pki::CertError> {
        use std::sync::atomic::Ordering::SeqCst;
        self.calls.fetch_add(1, SeqCst);
        if self.refuse.load(SeqCst) {
            return Err(sanstls::pki::CertError::Rejected("trust withdrawn"));
        }
        Ok(())
    }
}

/// With `reverify_on_resume`, a resumed session's chain goes through the verifier again
/// (once), and a refusal ends the handshake with the verifier's alert, in TLS 1.3 (under the
/// handshake keys, after EncryptedExtensions) and TLS 1.2 (at the ServerHello). Without
/// it, resumption trusts what the full handshake verified.
#[test]
fn reverify_on_resume_runs_the_verifier_on_the_stored_chain() {
    use sanstls::codec::ProtocolVersion;
    use std::sync::atomic::Ordering::SeqCst;
    for version in [ProtocolVersion::TLSv1_3, ProtocolVersion::TLSv1_2] {
        for reverify in [false, true] {
            let verifier = Arc::new(Withdrawable::default());
            let client = ClientConfig::builder(verifier.clone())
                .versions(&[version])
                .reverify_on_resume(reverify)
                .build()
                .unwrap();
            let server = server_builder("ecdsa-p256").tickets(3).build().unwrap();
            let (mut c, mut s) = pair(client.clone(), server.clone());
            handshake(&mut c, &mut s).unwrap();
            transfer(&mut s, &mut c).unwrap();
            assert_eq!(verifier.calls.load(SeqCst), 1);

            // Still trusted: resumed, and verified again only when asked.
            let (mut c, mut s) = pair(client.clone(), server.clone());
            handshake(&mut c, &mut s).unwrap();
            transfer(&mut s, &mut c).unwrap();
            assert!(c.is_resumed(), "{version:?}");
            assert!(!c.peer_certificates().is_empty(), "{version:?}: chain kept");
            assert_eq!(verifier.calls.load(SeqCst), 1 + usize::from(reverify));

            // Trust withdrawn.
            verifier.refuse.store(true, SeqCst);
            let (mut c, mut s) = pair(client.clone(), server.clone());
            let result = handshake(&mut c, &mut s);
            if reverify {
                let e = result.unwrap_err();
                assert_eq!(
                    e.alert(),
                    Some(AlertDescription::CertificateUnknown),
                    "{version:?}"
                );
                // The server reads the alert.
                assert_eq!(
                    transfer(&mut c, &mut s),
                    Err(Error::AlertReceived(AlertDescription::CertificateUnknown)),
                    "{version:?}"
                );
            } else {
                result.unwrap();
                assert!(c.is_resumed());
            }
        }
    }
}

/// With 0-RTT the chain is verified again before the ClientHello and its early data: a
/// refusal fails the connection before a byte is written, and a trusted chain is not
/// verified a second time when the server accepts.
#[test]
fn reverify_on_resume_with_early_data_checks_before_the_client_hello() {
    use std::sync::atomic::Ordering::SeqCst;
    let verifier = Arc::new(Withdrawable::default());
    let client = ClientConfig::builder(verifier.clone())
        .enable_early_data(true)
        .reverify_on_resume(true)
        .build()
        .unwrap();
    let server = early_server(1024);
    first_handshake(&client, &server);
    let (mut c, mut s) = pair(client.clone(), server.clone());
    c.early_data().unwrap().write_all(b"early").unwrap();
    handshake(&mut c, &mut s).unwrap();
    assert!(c.is_resumed() && c.early_data_accepted());
    assert_eq!(early_payload(&mut s), b"early");
    assert_eq!(verifier.calls.load(SeqCst), 2, "once per connection");
    transfer(&mut s, &mut c).unwrap();

    verifier.refuse.store(true, SeqCst);
    let e = Connection::client(client, "localhost").unwrap_err();
    assert_eq!(
        e,
        Error::InvalidCertificate(sanstls::pki::CertError::Rejected("trust withdrawn"))
    );
}

#[test]
fn second_client_hello_without_the_psk_is_missing_extension() {
    // RFC 8446 4.1.2: after HelloRetryRequest, pre_shared_key is updated "if present"; the
    // second ClientHello may not drop it altogether.
    let client = client_builder()
        .groups(&[NamedGroup::x25519, NamedGroup::secp256r1])
        .build()
        .unwrap();
    let keys = SessionStorage::Tickets(Arc::new(TicketKeys::new(3600)));
    let first = server_builder("ecdsa-p256")
        .session_storage(keys.clone())
        .build()
        .unwrap();
    let p256_only = server_builder("ecdsa-p256")
        .session_storage(keys)
        .groups(&[NamedGroup::secp256r1])
        .build()
        .unwrap();
    first_handshake(&client, &first);
    let (mut c, mut s) = pair(client, p256_only);
    transfer(&mut c, &mut s).unwrap();
    transfer(&mut s, &mut c).unwrap();
    assert!(c.had_hello_retry());
    let mut flight = Vec::new();
    while c.write_tls(&mut flight).unwrap() > 0 {}
    // The compatibility CCS, then the second ClientHello: cut its last extension,
    // pre_shared_key, and shrink the lengths around it.
    assert_eq!(&flight[..6], &[20, 3, 3, 0, 1, 1]);
    let mut ch = flight[6..].to_vec();
    let (ext_block, psk) = last_extension(&ch);
    assert_eq!(&ch[psk..psk + 2], &[0, 41]);
    let cut = ch.len() - psk;
    ch.truncate(psk);
    shrink(&mut ch, &[(3, 2), (6, 3), (ext_block, 2)], cut);
    let err = feed_err(&mut s, &ch);
    assert_eq!(
        err,
        Error::PeerMisbehaved(PeerMisbehaved::MissingExtension("pre_shared_key"))
    );
    assert_eq!(err.alert(), Some(AlertDescription::MissingExtension));
}

/// The offsets of a ClientHello record's extensions block and of its last extension.
fn last_extension(ch: &[u8]) -> (usize, usize) {
    // Record and handshake headers, version, random, session_id, cipher_suites,
    // compression_methods.
    let mut at = 5 + 4 + 2 + 32;
    at += 1 + ch[at] as usize;
    at += 2 + u16::from_be_bytes([ch[at], ch[at + 1]]) as usize;
    at += 1 + ch[at] as usize;
    let ext_block = at;
    let (mut ext, mut last) = (ext_block + 2, 0);
    while ext < ch.len() {
        last = ext;
        ext += 4 + u16::from_be_bytes([ch[ext + 2], ch[ext + 3]]) as usize;
    }
    (ext_block, last)
}

/// Takes `by` off each big-endian length field at (offset, width).
fn shrink(bytes: &mut [u8], fields: &[(usize, usize)], by: usize) {
    for &(at, width) in fields {
        let mut n = bytes[at..at + width]
            .iter()
            .fold(0usize, |n, b| n << 8 | *b as usize)
            - by;
        for i in (0..width).rev() {
            bytes[at + i] = n as u8;
            n >>= 8;
        }
    }
}

fn feed_err(s: &mut Connection, bytes: &[u8]) -> Error {
    s.read_tls(&mut &bytes[..]).unwrap();
    s.process_new_packets().unwrap_err()
}

#[test]
fn server_name_is_acknowledged_on_request_and_never_on_resumption() {
    // RFC 6066 3: a server that uses the name acknowledges it ("SHALL"), except when
    // resuming ("MUST NOT"); without the setting a one-certificate server does not.
    use sanstls::msgs::EncryptedExtension;
    for ack in [true, false] {
        let acks = Arc::new(Mutex::new(Vec::new()));
        let seen = acks.clone();
        let server = server_builder("ecdsa-p256")
            .acknowledge_server_name(ack)
            .customize_encrypted_extensions(move |exts| {
                seen.lock()
                    .unwrap()
                    .push(exts.contains(&EncryptedExtension::ServerNameAck));
            })
            .build()
            .unwrap();
        let client = client_builder().build().unwrap();
        first_handshake(&client, &server);
        let (mut c, mut s) = pair(client, server);
        handshake(&mut c, &mut s).unwrap();
        assert!(s.is_resumed());
        assert_eq!(*acks.lock().unwrap(), [ack, false]);
    }
}
