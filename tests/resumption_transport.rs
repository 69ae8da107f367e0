//! Sessions are bound to the transport they were made on. One `ClientConfig` (its TLS 1.3
//! ticket store and TLS 1.2 session store) drives TLS, DTLS and QUIC connections, and one
//! `ServerConfig` serves all three; a ticket or session obtained over one transport must not
//! resume a connection over another (DTLS 1.3 derives its PSKs under the "dtls13" labels,
//! RFC 9147 5.9; QUIC tickets carry their own 0-RTT rules, RFC 9001 4.6.1). Each pair below
//! is a full handshake, same-transport resumption still works, and the other transport's
//! ticket stays in the store and still resumes on its own transport.

mod common;

use std::sync::Arc;

use common::dtls::Link;
use common::{client_builder, handshake, pair, server_builder, transfer};
use sanstls::codec::{NamedGroup, ProtocolVersion};
use sanstls::conn::{ClientSessionStore, HandshakeKind, SessionCache, SessionStorage};
use sanstls::dtls::DtlsConfig;
use sanstls::quic::{Level, QuicConnection};
use sanstls::{ClientConfig, ServerConfig};

/// pre_shared_key (RFC 8446 4.2.11).
const PRE_SHARED_KEY: u16 = 41;
/// session_ticket (RFC 5077 3.2).
const SESSION_TICKET: u16 = 35;

struct Configs {
    store: Arc<ClientSessionStore>,
    client: Arc<ClientConfig>,
    server: Arc<ServerConfig>,
}

/// TLS 1.3 on both sides (QUIC needs ALPN), one ticket per connection.
fn configs13(storage: Option<SessionStorage>) -> Configs {
    let store = Arc::new(ClientSessionStore::new(16, 8));
    let client = client_builder()
        .versions(&[ProtocolVersion::TLSv1_3])
        .alpn_protocols(&["h3"])
        .session_store(store.clone())
        .build()
        .unwrap();
    // x25519 rather than the default hybrid: the DTLS cookie retry then asks for no new
    // share, so each ClientHello stays one datagram, which is how `dtls` reads it.
    let mut server = server_builder("ecdsa-p256")
        .versions(&[ProtocolVersion::TLSv1_3])
        .groups(&[NamedGroup::x25519, NamedGroup::secp256r1])
        .alpn_protocols(&["h3"])
        .tickets(1);
    if let Some(s) = storage {
        server = server.session_storage(s);
    }
    Configs {
        store,
        client,
        server: server.build().unwrap(),
    }
}

/// TLS 1.2 only; `tickets` false resumes by session ID (the server's cache).
fn configs12(tickets: bool) -> Configs {
    let client = client_builder()
        .versions(&[ProtocolVersion::TLSv1_2])
        .tickets12(tickets)
        .build()
        .unwrap();
    let server = server_builder("ecdsa-p256")
        .versions(&[ProtocolVersion::TLSv1_2])
        .build()
        .unwrap();
    Configs {
        store: Arc::new(ClientSessionStore::new(1, 1)),
        client,
        server,
    }
}

/// The extensions of a TLS ClientHello starting at `body` (after the handshake header).
fn hello_extensions(body: &[u8], dtls: bool) -> Vec<(u16, Vec<u8>)> {
    let mut at = 2 + 32;
    at += 1 + usize::from(body[at]); // session_id
    if dtls {
        at += 1 + usize::from(body[at]); // cookie
    }
    at += 2 + usize::from(u16::from_be_bytes([body[at], body[at + 1]])); // cipher_suites
    at += 1 + usize::from(body[at]); // compression_methods
    let end = at + 2 + usize::from(u16::from_be_bytes([body[at], body[at + 1]]));
    at += 2;
    let mut out = Vec::new();
    while at < end {
        let typ = u16::from_be_bytes([body[at], body[at + 1]]);
        let len = usize::from(u16::from_be_bytes([body[at + 2], body[at + 3]]));
        out.push((typ, body[at + 4..at + 4 + len].to_vec()));
        at += 4 + len;
    }
    out
}

fn extension(exts: &[(u16, Vec<u8>)], typ: u16) -> Option<&[u8]> {
    exts.iter().find(|(t, _)| *t == typ).map(|(_, b)| b.as_slice())
}

/// One TLS connection (tickets delivered); returns whether it resumed (both sides agree) and
/// the extensions of its ClientHello.
fn tls(cfg: &Configs) -> (bool, Vec<(u16, Vec<u8>)>) {
    let (mut c, mut s) = pair(cfg.client.clone(), cfg.server.clone());
    let mut first = Vec::new();
    while c.write_tls(&mut first).unwrap() > 0 {}
    // One record: type(1) version(2) length(2), then the handshake header (4).
    assert_eq!((first[0], first[5]), (22, 1), "a ClientHello record");
    let exts = hello_extensions(&first[9..], false);
    let mut rd = &first[..];
    while !rd.is_empty() {
        s.read_tls(&mut rd).unwrap();
        s.process_new_packets().unwrap();
    }
    handshake(&mut c, &mut s).unwrap();
    transfer(&mut s, &mut c).unwrap();
    let resumed = c.is_resumed();
    assert_eq!(resumed, s.is_resumed());
    let kind = if resumed {
        HandshakeKind::Resumed
    } else {
        HandshakeKind::Full
    };
    assert_eq!((c.handshake_kind(), s.handshake_kind()), (Some(kind), Some(kind)));
    (resumed, exts)
}

/// One DTLS connection (HelloRetryRequest / HelloVerifyRequest cookies, tickets delivered);
/// returns whether it resumed and the extensions of the client's last ClientHello.
fn dtls(cfg: &Configs) -> (bool, Vec<(u16, Vec<u8>)>) {
    let mut link = Link::new(
        cfg.client.clone(),
        cfg.server.clone(),
        DtlsConfig {
            mtu: 1400,
            ..DtlsConfig::default()
        },
    );
    link.pump().unwrap();
    assert!(!link.client.is_handshaking(), "{:?}", link.client.error());
    assert!(!link.server().is_handshaking(), "{:?}", link.server().error());
    let resumed = link.client.is_resumed();
    assert_eq!(resumed, link.server().is_resumed());
    // The client's ClientHellos are its epoch-0 handshake datagrams with message type 1:
    // record header (13), handshake header (12).
    let hellos: Vec<&Vec<u8>> = link
        .wire
        .iter()
        .filter(|(d, b)| *d == common::dtls::Dir::ToServer && b[0] == 22 && b[13] == 1)
        .map(|(_, b)| b)
        .collect();
    let last = hellos.last().expect("a ClientHello");
    (resumed, hello_extensions(&last[25..], true))
}

/// Moves `from`'s handshake bytes to `to`, level by level; the bytes moved.
fn quic_transfer(
    from: &mut QuicConnection,
    to: &mut QuicConnection,
    sent: &mut Vec<(Level, Vec<u8>)>,
) -> usize {
    let mut n = 0;
    loop {
        let level = from.write_level();
        let mut buf = Vec::new();
        let change = from.write_handshake(&mut buf);
        if !buf.is_empty() {
            n += buf.len();
            to.read_handshake(level, &buf).unwrap();
            sent.push((level, buf));
        }
        if change.is_none() {
            return n;
        }
    }
}

/// One QUIC handshake; returns whether it resumed and the extensions of its ClientHello.
fn quic(cfg: &Configs) -> (bool, Vec<(u16, Vec<u8>)>) {
    let mut c =
        QuicConnection::client(cfg.client.clone(), "localhost", b"\x01\x02c-params".to_vec()).unwrap();
    let mut s = QuicConnection::server(cfg.server.clone(), b"\x01\x02s-params".to_vec()).unwrap();
    let (mut c_sent, mut s_sent) = (Vec::new(), Vec::new());
    for _ in 0..6 {
        let moved = quic_transfer(&mut c, &mut s, &mut c_sent) + quic_transfer(&mut s, &mut c, &mut s_sent);
        if moved == 0 && !c.is_handshaking() && !s.is_handshaking() {
            break;
        }
    }
    assert!(!c.is_handshaking() && !s.is_handshaking());
    assert_eq!(c.is_resumed(), s.is_resumed());
    // The first Initial bytes are the ClientHello with its 4-byte handshake header.
    let (level, hello) = &c_sent[0];
    assert_eq!((*level, hello[0]), (Level::Initial, 1));
    (c.is_resumed(), hello_extensions(&hello[4..], false))
}

type Run = fn(&Configs) -> (bool, Vec<(u16, Vec<u8>)>);

/// A ticket made on `a` is not offered (nor resumed) on `b`, stays in the store, and still
/// resumes on `a`; `b`'s own tickets resume on `b`.
fn bound_to_transport(cfg: &Configs, a: Run, b: Run) {
    let (resumed, _) = a(cfg);
    assert!(!resumed, "first connection is a full handshake");
    assert_eq!(cfg.store.tickets_for("localhost"), 1);
    let (resumed, exts) = b(cfg);
    assert!(!resumed, "another transport's ticket resumed");
    assert!(
        extension(&exts, PRE_SHARED_KEY).is_none(),
        "another transport's ticket offered"
    );
    assert_eq!(
        cfg.store.tickets_for("localhost"),
        2,
        "the other transport's ticket kept, this one's added"
    );
    let (resumed, exts) = a(cfg);
    assert!(resumed, "the first transport's ticket no longer resumes");
    assert!(extension(&exts, PRE_SHARED_KEY).is_some());
    let (resumed, _) = b(cfg);
    assert!(resumed, "the second transport's own ticket does not resume");
}

#[test]
fn dtls13_ticket_is_not_offered_over_tls13() {
    bound_to_transport(&configs13(None), dtls, tls);
}

#[test]
fn tls13_ticket_is_not_offered_over_dtls13() {
    bound_to_transport(&configs13(None), tls, dtls);
}

#[test]
fn quic_ticket_is_not_offered_over_tls13() {
    bound_to_transport(&configs13(None), quic, tls);
}

#[test]
fn tls13_ticket_is_not_offered_over_quic() {
    bound_to_transport(&configs13(None), tls, quic);
}

#[test]
fn quic_ticket_is_not_offered_over_dtls13() {
    bound_to_transport(&configs13(None), quic, dtls);
}

#[test]
fn dtls13_ticket_is_not_offered_over_quic() {
    bound_to_transport(&configs13(None), dtls, quic);
}

#[test]
fn stateful_cache_sessions_are_bound_too() {
    let cache = Arc::new(SessionCache::new(16));
    bound_to_transport(&configs13(Some(SessionStorage::Cache(cache))), dtls, tls);
}

#[test]
fn same_transport_resumption_still_works() {
    for run in [tls as Run, dtls, quic] {
        let cfg = configs13(None);
        assert!(!run(&cfg).0);
        assert!(run(&cfg).0);
    }
    for tickets in [true, false] {
        let cfg = configs12(tickets);
        assert!(!tls(&cfg).0 && tls(&cfg).0, "TLS 1.2, tickets {tickets}");
        let cfg = configs12(tickets);
        assert!(!dtls(&cfg).0 && dtls(&cfg).0, "DTLS 1.2, tickets {tickets}");
    }
}

/// TLS 1.2 (by ticket or by session ID): a session of `a` is neither offered nor resumed on
/// `b`, and both transports' sessions resume afterwards on their own.
fn bound12(tickets: bool, a: Run, b: Run) {
    let cfg = configs12(tickets);
    assert!(!a(&cfg).0);
    let (resumed, exts) = b(&cfg);
    assert!(!resumed, "another transport's TLS 1.2 session resumed");
    if tickets {
        assert_eq!(
            extension(&exts, SESSION_TICKET),
            Some(&[][..]),
            "another transport's ticket offered"
        );
    }
    assert!(a(&cfg).0, "the first transport's session was lost");
    assert!(b(&cfg).0, "the second transport's own session does not resume");
}

#[test]
fn dtls12_session_is_not_resumed_over_tls12() {
    bound12(true, dtls, tls);
    bound12(false, dtls, tls);
}

#[test]
fn tls12_session_is_not_resumed_over_dtls12() {
    bound12(true, tls, dtls);
    bound12(false, tls, dtls);
}
