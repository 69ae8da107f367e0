//! A proptest model of a hostile network between our client and our server: records are
//! delivered, dropped, reordered, duplicated, truncated, bit-flipped or forged, while both
//! applications write, update keys and close, in TLS 1.3 and TLS 1.2. After every step the
//! invariants hold:
//!
//! - nothing panics;
//! - a fatal error sends exactly one alert (or none, for a received fatal alert) and the
//!   connection then sends nothing more, and every later call returns the same error;
//! - nothing is accepted after close: no data after an error or after the peer's close_notify;
//! - no plaintext is released before the handshake authenticated the peer (no 0-RTT here);
//! - read keys change only where the protocol allows it: right after ClientHello (the server
//!   answers it and reads with handshake keys), ServerHello, Finished, KeyUpdate or
//!   EndOfEarlyData in TLS 1.3, right after ChangeCipherSpec in TLS 1.2 (seen through a
//!   `RecordObserver`), one epoch at a time;
//! - and with no interference at all, the handshake completes and data flows both ways.

mod common;

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

use common::*;
use proptest::prelude::*;
use sanstls::codec::{ContentType, HandshakeType, ProtocolVersion};
use sanstls::{Connection, Direction, Error, Event, RecordObserver};

/// What the observer saw arrive, in order.
#[derive(Clone, Copy, Debug)]
enum Seen {
    Record { typ: ContentType, epoch: u16 },
    Handshake { typ: HandshakeType, epoch: u16 },
}

#[derive(Debug, Default)]
struct Observer(Mutex<Vec<Seen>>);

impl RecordObserver for Observer {
    fn record(&self, dir: Direction, typ: ContentType, _len: usize, epoch: u16) {
        if dir == Direction::Received {
            self.0.lock().unwrap().push(Seen::Record { typ, epoch });
        }
    }
    fn handshake(&self, dir: Direction, typ: HandshakeType, _len: usize, epoch: u16) {
        if dir == Direction::Received {
            self.0.lock().unwrap().push(Seen::Handshake { typ, epoch });
        }
    }
}

/// One endpoint and everything the invariants need to remember about it.
struct End {
    conn: Connection,
    observer: Arc<Observer>,
    name: &'static str,
    /// The first error `process_new_packets` returned.
    error: Option<Error>,
    handshake_complete: bool,
    peer_closed: bool,
    received: Vec<u8>,
}

impl End {
    fn new(conn: Connection, observer: Arc<Observer>, name: &'static str) -> Self {
        End {
            conn,
            observer,
            name,
            error: None,
            handshake_complete: false,
            peer_closed: false,
            received: Vec::new(),
        }
    }

    /// Everything `write_tls` has, cut into records (a truncated tail stays one piece).
    fn drain(&mut self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while self.conn.write_tls(&mut out).unwrap() > 0 {}
        split_records(&out)
    }

    /// Feeds `bytes` and checks the invariants on what follows. Returns what the connection
    /// wrote in answer.
    fn receive(&mut self, bytes: &[u8]) -> Vec<Vec<u8>> {
        let before = self.error.clone();
        let mut rd = bytes;
        let result = loop {
            let n = match self.conn.read_tls(&mut rd) {
                Ok(n) => n,
                // A connection that has failed processes nothing more, so its inbound buffer
                // fills and then refuses bytes (three copies of the default 1.5 KB hybrid
                // ClientHello do it); before any error, reading never fails.
                Err(e) => {
                    assert!(before.is_some(), "{}: read_tls failed: {e}", self.name);
                    break self.conn.process_new_packets();
                }
            };
            let result = self.conn.process_new_packets();
            if result.is_err() || n == 0 || rd.is_empty() {
                break result;
            }
        };
        self.events();
        let sent = self.drain();
        match (&before, result) {
            (Some(first), res) => {
                // Nothing accepted after an error: the same error, nothing sent.
                assert_eq!(res.as_ref().err(), Some(first), "{}: error changed", self.name);
                assert!(
                    sent.is_empty(),
                    "{}: sent {:?} after its fatal alert",
                    self.name,
                    sent
                );
            }
            (None, Err(e)) => {
                // Exactly one alert, and nothing after it.
                match e.alert() {
                    Some(desc) => {
                        // The alert may follow the compatibility CCS queued with the switch to
                        // the handshake keys it goes out under (RFC 8446 6, D.4).
                        let sent = match &sent[..] {
                            [ccs, rest @ ..] if *ccs == [20, 3, 3, 0, 1, 1] => rest,
                            all => all,
                        };
                        assert_eq!(sent.len(), 1, "{}: {e}: sent {sent:?}", self.name);
                        let rec = &sent[0];
                        let plain_alert = rec.len() == 7 && rec[0] == 21 && rec[5..] == [2, desc.get()];
                        // TLS 1.3: an application_data record of 2 + 1 + 16 bytes; TLS 1.2: an
                        // alert record of 2 + 16 (ChaCha20) or 8 + 2 + 16 bytes (GCM).
                        let protected_alert = (rec.len() == 5 + 2 + 1 + 16 && rec[0] == 23)
                            || ((rec.len() == 5 + 2 + 16 || rec.len() == 5 + 8 + 2 + 16) && rec[0] == 21);
                        assert!(plain_alert || protected_alert, "{}: {e}: sent {rec:?}", self.name);
                    }
                    None => assert!(
                        sent.is_empty(),
                        "{}: {e}: no alert expected, sent {sent:?}",
                        self.name
                    ),
                }
                self.error = Some(e);
            }
            (None, Ok(())) => {}
        }
        self.check_key_changes();
        sent
    }

    fn events(&mut self) {
        while let Some(ev) = self.conn.next_event() {
            match ev {
                Event::HandshakeComplete => self.handshake_complete = true,
                Event::Data { .. } => {
                    assert!(
                        self.handshake_complete,
                        "{}: data before the handshake completed",
                        self.name
                    );
                    assert!(!self.peer_closed, "{}: data after close_notify", self.name);
                }
                Event::PeerClosed => self.peer_closed = true,
                Event::EarlyData { .. } => panic!("{}: 0-RTT data was never offered", self.name),
                _ => {}
            }
        }
        let mut buf = [0u8; 4096];
        while let Ok(n) = self.conn.reader().read(&mut buf) {
            if n == 0 {
                break;
            }
            assert!(
                self.handshake_complete,
                "{}: plaintext released before authentication",
                self.name
            );
            self.received.extend_from_slice(&buf[..n]);
        }
    }

    /// Read epochs move by one, and only right after a message (or, in TLS 1.2, a CCS)
    /// that changes keys, with nothing else received in between.
    fn check_key_changes(&self) {
        let tls12 = self.conn.protocol_version() == Some(ProtocolVersion::TLSv1_2);
        let seen = self.observer.0.lock().unwrap();
        let mut epoch = 0u16;
        let mut armed = false;
        for s in seen.iter() {
            let e = match *s {
                Seen::Record { epoch, .. } | Seen::Handshake { epoch, .. } => epoch,
            };
            if e > epoch {
                assert!(
                    armed && e == epoch + 1,
                    "{}: keys changed at {s:?} in {seen:?}",
                    self.name
                );
                epoch = e;
                armed = false;
            }
            match *s {
                Seen::Record {
                    typ: ContentType::ChangeCipherSpec,
                    ..
                } => armed |= tls12,
                Seen::Record { epoch: 0, .. } => {}
                Seen::Record { .. } => armed = false,
                Seen::Handshake { typ, .. } => {
                    armed = !tls12
                        && matches!(
                            typ,
                            HandshakeType::ClientHello
                                | HandshakeType::ServerHello
                                | HandshakeType::Finished
                                | HandshakeType::KeyUpdate
                                | HandshakeType::EndOfEarlyData
                        );
                }
            }
        }
    }
}

fn split_records(mut bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let len = match bytes {
            [_, _, _, hi, lo, ..] => 5 + usize::from(u16::from_be_bytes([*hi, *lo])),
            _ => bytes.len(),
        };
        let (rec, rest) = bytes.split_at(len.min(bytes.len()));
        out.push(rec.to_vec());
        bytes = rest;
    }
    out
}

/// What the network or an application does next.
#[derive(Clone, Debug)]
enum Step {
    /// Deliver the next record in flight towards the client (true) or the server.
    Deliver(bool),
    /// Deliver everything in flight that way, in one read.
    DeliverAll(bool),
    Drop(bool),
    /// Deliver the next record and keep it queued (it arrives again later).
    Duplicate(bool),
    /// Swap the next two records.
    Reorder(bool),
    /// Deliver only the first n bytes of the next record.
    Truncate(bool, usize),
    /// Flip one bit of the next record and deliver it.
    Flip(bool, usize, u8),
    /// Deliver a record of the given type and content that nobody sent.
    Forge(bool, u8, Vec<u8>),
    Write(bool, Vec<u8>),
    KeyUpdate(bool, bool),
    Close(bool),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => any::<bool>().prop_map(Step::Deliver),
        3 => any::<bool>().prop_map(Step::DeliverAll),
        1 => any::<bool>().prop_map(Step::Drop),
        1 => any::<bool>().prop_map(Step::Duplicate),
        1 => any::<bool>().prop_map(Step::Reorder),
        1 => (any::<bool>(), 0usize..64).prop_map(|(d, n)| Step::Truncate(d, n)),
        1 => (any::<bool>(), any::<usize>(), 0u8..8).prop_map(|(d, i, b)| Step::Flip(d, i, b)),
        1 => (any::<bool>(), prop_oneof![Just(20u8), Just(21), Just(22), Just(23), any::<u8>()],
              proptest::collection::vec(any::<u8>(), 0..40))
            .prop_map(|(d, t, c)| Step::Forge(d, t, c)),
        2 => (any::<bool>(), proptest::collection::vec(any::<u8>(), 1..100)).prop_map(|(s, d)| Step::Write(s, d)),
        1 => (any::<bool>(), any::<bool>()).prop_map(|(s, r)| Step::KeyUpdate(s, r)),
        1 => any::<bool>().prop_map(Step::Close),
    ]
}

struct World {
    client: End,
    server: End,
    /// Records in flight towards the client and towards the server.
    to_client: VecDeque<Vec<u8>>,
    to_server: VecDeque<Vec<u8>>,
}

impl World {
    fn new(tls12: bool) -> Self {
        let c_obs = Arc::new(Observer::default());
        let s_obs = Arc::new(Observer::default());
        let mut client = client_builder().record_observer(c_obs.clone());
        if tls12 {
            client = client.versions(&[ProtocolVersion::TLSv1_2]);
        }
        let server = server_builder("ecdsa-p256").record_observer(s_obs.clone());
        let client = Connection::client(client.build().unwrap(), "localhost").unwrap();
        let server = Connection::server(server.build().unwrap()).unwrap();
        let mut w = World {
            client: End::new(client, c_obs, "client"),
            server: End::new(server, s_obs, "server"),
            to_client: VecDeque::new(),
            to_server: VecDeque::new(),
        };
        let hello = w.client.drain();
        w.to_server.extend(hello);
        w
    }

    fn queue(&mut self, to_client: bool) -> &mut VecDeque<Vec<u8>> {
        if to_client {
            &mut self.to_client
        } else {
            &mut self.to_server
        }
    }

    /// Hands `bytes` to one side and puts its answer in flight.
    fn deliver(&mut self, to_client: bool, bytes: &[u8]) {
        let (receiver, back) = if to_client {
            (&mut self.client, &mut self.to_server)
        } else {
            (&mut self.server, &mut self.to_client)
        };
        let answer = receiver.receive(bytes);
        back.extend(answer);
    }

    fn app(&mut self, client: bool, f: impl FnOnce(&mut Connection)) {
        let (end, out) = if client {
            (&mut self.client, &mut self.to_server)
        } else {
            (&mut self.server, &mut self.to_client)
        };
        f(&mut end.conn);
        let sent = end.drain();
        if end.error.is_some() {
            assert!(sent.is_empty(), "{}: sent after its fatal alert", end.name);
        }
        out.extend(sent);
    }

    fn run(&mut self, step: Step) {
        match step {
            Step::Deliver(d) => {
                if let Some(r) = self.queue(d).pop_front() {
                    self.deliver(d, &r);
                }
            }
            Step::DeliverAll(d) => {
                let all: Vec<u8> = self.queue(d).drain(..).flatten().collect();
                if !all.is_empty() {
                    self.deliver(d, &all);
                }
            }
            Step::Drop(d) => {
                self.queue(d).pop_front();
            }
            Step::Duplicate(d) => {
                if let Some(r) = self.queue(d).front().cloned() {
                    self.deliver(d, &r);
                }
            }
            Step::Reorder(d) => {
                let q = self.queue(d);
                if q.len() >= 2 {
                    q.swap(0, 1);
                }
            }
            Step::Truncate(d, n) => {
                if let Some(mut r) = self.queue(d).pop_front() {
                    r.truncate(n.min(r.len().saturating_sub(1)));
                    self.deliver(d, &r);
                }
            }
            Step::Flip(d, i, bit) => {
                if let Some(mut r) = self.queue(d).pop_front() {
                    let at = i % r.len().max(1);
                    if let Some(b) = r.get_mut(at) {
                        *b ^= 1 << bit;
                    }
                    self.deliver(d, &r);
                }
            }
            Step::Forge(d, typ, content) => {
                let mut r = vec![typ, 3, 3, 0, content.len() as u8];
                r.extend_from_slice(&content);
                self.deliver(d, &r);
            }
            Step::Write(c, data) => self.app(c, |conn| {
                let _ = conn.writer().write(&data);
            }),
            Step::KeyUpdate(c, request) => self.app(c, |conn| {
                let _ = conn.request_key_update(request);
            }),
            Step::Close(c) => self.app(c, |conn| conn.send_close_notify()),
        }
    }

    /// Delivers everything both ways until quiet.
    fn settle(&mut self) {
        for _ in 0..20 {
            if self.to_client.is_empty() && self.to_server.is_empty() {
                return;
            }
            self.run(Step::DeliverAll(false));
            self.run(Step::DeliverAll(true));
        }
    }
}

fn run_model(tls12: bool, steps: Vec<Step>) {
    let mut w = World::new(tls12);
    for s in steps {
        w.run(s);
    }
    w.settle();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn tls13_invariants_hold_under_a_hostile_network(steps in proptest::collection::vec(step(), 0..60)) {
        run_model(false, steps);
    }

    #[test]
    fn tls12_invariants_hold_under_a_hostile_network(steps in proptest::collection::vec(step(), 0..60)) {
        run_model(true, steps);
    }

    /// Only the applications act and every record arrives, in order, once: the handshake
    /// completes and what was written before close arrives.
    #[test]
    fn an_honest_network_delivers(
        tls12 in any::<bool>(),
        writes in proptest::collection::vec((any::<bool>(), proptest::collection::vec(any::<u8>(), 1..100)), 0..8),
        updates in proptest::collection::vec((any::<bool>(), any::<bool>()), 0..4),
    ) {
        let mut w = World::new(tls12);
        w.settle();
        prop_assert!(w.client.handshake_complete && w.server.handshake_complete);
        let (mut to_server, mut to_client) = (Vec::new(), Vec::new());
        for (i, (from_client, data)) in writes.iter().enumerate() {
            w.run(Step::Write(*from_client, data.clone()));
            if let Some((c, r)) = updates.get(i) {
                if !tls12 {
                    w.run(Step::KeyUpdate(*c, *r));
                }
            }
            if *from_client { to_server.extend_from_slice(data) } else { to_client.extend_from_slice(data) }
            w.settle();
        }
        w.run(Step::Close(true));
        w.run(Step::Close(false));
        w.settle();
        prop_assert!(w.client.error.is_none() && w.server.error.is_none());
        prop_assert_eq!(&w.server.received, &to_server);
        prop_assert_eq!(&w.client.received, &to_client);
        prop_assert!(w.client.peer_closed && w.server.peer_closed);
    }
}

#[test]
fn a_forged_record_after_the_handshake_gets_one_alert_and_nothing_more() {
    let mut w = World::new(false);
    w.settle();
    w.run(Step::Forge(true, 23, vec![0; 30]));
    assert_eq!(w.client.error, Some(Error::DecryptFailed));
    // The alert is in flight to the server, which closes without answering.
    assert_eq!(w.to_server.len(), 1);
    w.settle();
    assert!(matches!(w.server.error, Some(Error::AlertReceived(_))));
    w.run(Step::Write(true, b"late".to_vec()));
    w.run(Step::Forge(true, 23, vec![0; 30]));
    assert!(w.to_server.is_empty(), "nothing is sent after the alert");
}

#[test]
fn a_fatal_alert_behind_the_client_hello_stops_the_server_flight() {
    // Found by this model: the server answered the ClientHello, then read a fatal alert in the
    // same buffer, and still sent its flight (RFC 8446 6.2: close immediately).
    for tls12 in [false, true] {
        let mut w = World::new(tls12);
        let mut bytes: Vec<u8> = w.to_server.drain(..).flatten().collect();
        bytes.extend_from_slice(&[21, 3, 3, 0, 2, 2, 10]);
        w.deliver(false, &bytes);
        assert!(matches!(w.server.error, Some(Error::AlertReceived(_))));
        assert!(w.to_client.is_empty(), "the server sent {:?}", w.to_client);
    }
}
