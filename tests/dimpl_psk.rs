//! In-process interop with dimpl's DTLS 1.2 PSK mode, the CoAP suite
//! `TLS_PSK_WITH_AES_128_CCM_8` (RFC 6655, RFC 7252 9.1.3.1): our client against its server
//! and its client against our server (behind our stateless acceptor), with an identity hint,
//! application data both ways, and a wrong key that fails the handshake on both stacks.
//!
//! Time is simulated and every loop has an iteration cap.

mod common;

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sanstls::codec::{CipherSuite, ProtocolVersion};
use sanstls::dtls::{Accepted, DtlsAcceptor, DtlsConfig, DtlsConnection};
use sanstls::{Event, ExternalPsk, PskStore, ServerConfig};

const IDENTITY: &[u8] = b"coap-device-17";
const KEY: [u8; 16] = *b"0123456789abcdef";
const SUITE: CipherSuite = CipherSuite::TLS_PSK_WITH_AES_128_CCM_8;
const MAX_STEPS: usize = 500;

/// dimpl's key lookup: one identity, one key.
struct OneKey(Vec<u8>);

impl dimpl::PskResolver for OneKey {
    fn resolve(&self, identity: &[u8]) -> Option<Vec<u8>> {
        (identity == IDENTITY).then(|| self.0.clone())
    }
}

struct Dimpl {
    dtls: dimpl::Dtls,
    connected: bool,
    data: Vec<u8>,
    timeout: Option<Instant>,
}

impl Dimpl {
    fn new(client: bool, key: &[u8], now: Instant) -> Self {
        let resolver = Arc::new(OneKey(key.to_vec()));
        let builder = dimpl::Config::builder();
        let builder = if client {
            builder.with_psk_client(IDENTITY.to_vec(), resolver)
        } else {
            builder.with_psk_server(Some(b"coap-hint".to_vec()), resolver)
        };
        let mut dtls = dimpl::Dtls::new_12_psk(Arc::new(builder.build().unwrap()), now);
        dtls.set_active(client);
        Dimpl {
            dtls,
            connected: false,
            data: Vec::new(),
            timeout: None,
        }
    }

    fn drain(&mut self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 2048];
        for _ in 0..1000 {
            match self.dtls.poll_output(&mut buf) {
                dimpl::Output::Packet(p) => out.push(p.to_vec()),
                dimpl::Output::BufferTooSmall { needed } => buf.resize(needed, 0),
                dimpl::Output::Timeout(t) => {
                    self.timeout = Some(t);
                    return out;
                }
                dimpl::Output::Connected => self.connected = true,
                dimpl::Output::ApplicationData(d) => self.data.extend_from_slice(d),
                _ => {}
            }
        }
        panic!("dimpl never reached Timeout");
    }
}

/// Our side: a client connection, or a server behind the stateless acceptor.
struct Ours {
    conn: Option<DtlsConnection>,
    acceptor: Option<DtlsAcceptor>,
    pending: Vec<Vec<u8>>,
    events: Vec<Event>,
    data: Vec<u8>,
}

impl Ours {
    fn client(key: &[u8], now: Instant) -> Self {
        let config = common::client_builder()
            .versions(&[ProtocolVersion::TLSv1_2])
            .cipher_suites(&[SUITE])
            .psk(ExternalPsk::new(IDENTITY, key.to_vec()).unwrap())
            .build()
            .unwrap();
        let conn = DtlsConnection::client(config, "localhost", DtlsConfig::default(), now).unwrap();
        Ours {
            conn: Some(conn),
            acceptor: None,
            pending: Vec::new(),
            events: Vec::new(),
            data: Vec::new(),
        }
    }

    fn server(key: &[u8], now: Instant) -> Self {
        let mut keys = PskStore::new();
        keys.insert(IDENTITY, key.to_vec()).unwrap();
        let config: Arc<ServerConfig> = common::server_builder("ecdsa-p256")
            .versions(&[ProtocolVersion::TLSv1_2])
            .cipher_suites(&[SUITE])
            .psk_lookup(Arc::new(keys))
            .psk_identity_hint("sanstls-hint")
            .build()
            .unwrap();
        Ours {
            conn: None,
            acceptor: Some(DtlsAcceptor::new(config, DtlsConfig::default(), now).unwrap()),
            pending: Vec::new(),
            events: Vec::new(),
            data: Vec::new(),
        }
    }

    fn recv(&mut self, d: &[u8], now: Instant) -> Result<(), sanstls::Error> {
        if let Some(conn) = self.conn.as_mut() {
            return conn.recv_datagram(d, now);
        }
        let acceptor = self.acceptor.as_mut().expect("a server has an acceptor");
        match acceptor.accept(d, b"192.0.2.1:5684", now) {
            Accepted::HelloVerifyRequest(a) | Accepted::HelloRetryRequest(a) => self.pending.push(a),
            Accepted::Connection(c) => self.conn = Some(*c),
            Accepted::Dropped => {}
        }
        Ok(())
    }

    fn drain(&mut self) -> Vec<Vec<u8>> {
        let mut out = std::mem::take(&mut self.pending);
        if let Some(conn) = self.conn.as_mut() {
            let mut buf = vec![0u8; 65_536];
            while let Some(n) = conn.poll_datagram(&mut buf) {
                out.push(buf[..n].to_vec());
            }
            while let Some(e) = conn.next_event() {
                self.events.push(e);
            }
            self.data.extend(common::dtls::read_all(conn));
        }
        out
    }

    fn complete(&self) -> bool {
        self.events.contains(&Event::HandshakeComplete)
    }
}

/// Moves datagrams both ways until nothing moves and no timer is due within a second;
/// returns our side's first error, if any.
fn run(ours: &mut Ours, dimpl: &mut Dimpl, now: &mut Instant) -> Result<(), sanstls::Error> {
    for _ in 0..MAX_STEPS {
        dimpl.dtls.handle_timeout(*now).unwrap();
        let to_dimpl = ours.drain();
        for d in &to_dimpl {
            // dimpl reports what it refuses as an error: the handshake is over for it.
            if dimpl.dtls.handle_packet(d).is_err() {
                return Ok(());
            }
        }
        let to_us = dimpl.drain();
        for d in &to_us {
            ours.recv(d, *now)?;
        }
        if !to_dimpl.is_empty() || !to_us.is_empty() {
            *now += Duration::from_millis(5);
            continue;
        }
        let our_timer = ours.conn.as_ref().and_then(DtlsConnection::poll_timeout);
        let next = [our_timer, dimpl.timeout].into_iter().flatten().min();
        match next {
            Some(t) if t <= *now + Duration::from_secs(1) => {
                *now = (*now).max(t);
                if let Some(conn) = ours.conn.as_mut() {
                    conn.handle_timeout(*now)?;
                }
            }
            _ => return Ok(()),
        }
    }
    panic!("the link did not settle in {MAX_STEPS} steps");
}

fn connected_pair(we_are_client: bool) -> (Ours, Dimpl, Instant) {
    let mut now = Instant::now();
    let mut ours = if we_are_client {
        Ours::client(&KEY, now)
    } else {
        Ours::server(&KEY, now)
    };
    let mut dimpl = Dimpl::new(!we_are_client, &KEY, now);
    run(&mut ours, &mut dimpl, &mut now).unwrap();
    assert!(
        ours.complete(),
        "our side did not complete (we are client: {we_are_client})"
    );
    assert!(
        dimpl.connected,
        "dimpl did not connect (we are client: {we_are_client})"
    );
    (ours, dimpl, now)
}

#[test]
fn psk_aes_128_ccm_8_with_dimpl_both_ways() {
    for we_are_client in [true, false] {
        let (mut ours, mut dimpl, mut now) = connected_pair(we_are_client);
        let conn = ours.conn.as_mut().unwrap();
        assert_eq!(conn.protocol_version(), Some(ProtocolVersion::DTLSv1_2));
        assert_eq!(conn.cipher_suite(), Some(SUITE));
        assert_eq!(conn.psk_identity(), Some(IDENTITY));
        assert!(conn.peer_certificates().is_empty(), "no certificate in PSK mode");

        // Application data both ways, under the 8-byte CCM tag.
        conn.writer().write_all(b"GET /temperature").unwrap();
        dimpl.dtls.send_application_data(b"2.05 Content 21.5C").unwrap();
        run(&mut ours, &mut dimpl, &mut now).unwrap();
        assert_eq!(dimpl.data, b"GET /temperature", "we are client: {we_are_client}");
        assert_eq!(ours.data, b"2.05 Content 21.5C", "we are client: {we_are_client}");
    }
}

/// A key that differs on the two sides fails the handshake: neither side completes (over
/// DTLS a record that does not open is dropped, RFC 6347 4.1.2.7, so the side waiting for a
/// Finished gives up on its timer).
#[test]
fn wrong_key_with_dimpl_completes_on_neither_side() {
    for we_are_client in [true, false] {
        let mut now = Instant::now();
        let mut ours = if we_are_client {
            Ours::client(&KEY, now)
        } else {
            Ours::server(&KEY, now)
        };
        let mut dimpl = Dimpl::new(!we_are_client, b"another key 1234", now);
        let _ = run(&mut ours, &mut dimpl, &mut now);
        assert!(!ours.complete(), "we are client: {we_are_client}");
        assert!(!dimpl.connected, "we are client: {we_are_client}");
    }
}
