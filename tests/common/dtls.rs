//! An in-memory DTLS link (1.2 and 1.3): a client, an acceptor and the server it creates, a
//! virtual clock, and a hook that decides the fate of every datagram; the seeded lossy-link
//! harness both versions' tests run ([`lossy_link_runs`]); and for DTLS 1.3 a wire decoder
//! that opens every record with the secrets of the key log.

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use std::sync::Mutex;

use sanstls::codec::{CipherSuite, ContentType, HandshakeType, ProtocolVersion};
use sanstls::crypto::dtls::dtls13_expand_label;
use sanstls::crypto::{tls13_suite, RandomSource};
use sanstls::dtls::fragment::parse_fragments;
use sanstls::dtls::record::{records, DatagramRecord};
use sanstls::dtls::{Accepted, Ack, Dtls13Keys, DtlsAcceptor, DtlsConfig, DtlsConnection, HeaderFormat};
use sanstls::{ClientConfig, Error, Event, KeyLog, ServerConfig};

pub const CLIENT_ADDR: &[u8] = b"192.0.2.1:4433";

/// The DTLS 1.3 suites (RFC 9147 uses TLS 1.3's).
pub const SUITES13: [CipherSuite; 3] = [
    CipherSuite::TLS_AES_128_GCM_SHA256,
    CipherSuite::TLS_AES_256_GCM_SHA384,
    CipherSuite::TLS_CHACHA20_POLY1305_SHA256,
];

/// The DTLS 1.2 ECDHE-ECDSA AEAD suites (the test PKI's ECDSA certificates).
pub const SUITES12: [CipherSuite; 3] = [
    CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
];

/// Which way a datagram travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    ToServer,
    ToClient,
}

pub struct Link {
    pub client: DtlsConnection,
    pub server: Option<DtlsConnection>,
    pub acceptor: DtlsAcceptor,
    pub now: Instant,
    pub mtu: usize,
    /// Every datagram sent, in order, with its direction.
    pub wire: Vec<(Dir, Vec<u8>)>,
    /// HelloVerifyRequests the acceptor sent (DTLS 1.2).
    pub hvrs: usize,
    /// Stateless HelloRetryRequests the acceptor sent (DTLS 1.3).
    pub hrrs: usize,
}

impl Link {
    pub fn new(client: Arc<ClientConfig>, server: Arc<ServerConfig>, dtls: DtlsConfig) -> Link {
        let now = Instant::now();
        let mtu = dtls.mtu;
        let acceptor = DtlsAcceptor::new(server, dtls.clone(), now).unwrap();
        let client = DtlsConnection::client(client, "localhost", dtls, now).unwrap();
        Link {
            client,
            server: None,
            acceptor,
            now,
            mtu,
            wire: Vec::new(),
            hvrs: 0,
            hrrs: 0,
        }
    }

    /// A link whose server exists from the start ([`DtlsConnection::server`], no cookie
    /// exchange).
    pub fn direct(client: Arc<ClientConfig>, server: Arc<ServerConfig>, dtls: DtlsConfig) -> Link {
        let mut link = Link::new(client, server.clone(), dtls.clone());
        link.server = Some(DtlsConnection::server(server, dtls).unwrap());
        link
    }

    /// Datagrams `dir`'s sender has ready now.
    pub fn take(&mut self, dir: Dir) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; self.mtu];
        loop {
            let conn = match dir {
                Dir::ToServer => &mut self.client,
                Dir::ToClient => match self.server.as_mut() {
                    Some(s) => s,
                    None => break,
                },
            };
            let Some(n) = conn.poll_datagram(&mut buf) else {
                break;
            };
            assert!(n <= self.mtu, "datagram of {n} bytes over the MTU {}", self.mtu);
            self.wire.push((dir, buf[..n].to_vec()));
            out.push(buf[..n].to_vec());
        }
        out
    }

    /// Delivers one datagram; the server side goes through the acceptor until it exists.
    pub fn deliver(&mut self, dir: Dir, d: &[u8]) -> Result<(), Error> {
        match dir {
            Dir::ToClient => self.client.recv_datagram(d, self.now),
            Dir::ToServer => match self.server.as_mut() {
                Some(s) => s.recv_datagram(d, self.now),
                None => match self.acceptor.accept(d, CLIENT_ADDR, self.now) {
                    Accepted::HelloVerifyRequest(hvr) => {
                        self.hvrs += 1;
                        self.wire.push((Dir::ToClient, hvr.clone()));
                        self.client.recv_datagram(&hvr, self.now)
                    }
                    Accepted::HelloRetryRequest(hrr) => {
                        self.hrrs += 1;
                        self.wire.push((Dir::ToClient, hrr.clone()));
                        self.client.recv_datagram(&hrr, self.now)
                    }
                    Accepted::Connection(c) => {
                        let err = c.error().cloned();
                        self.server = Some(*c);
                        err.map_or(Ok(()), Err)
                    }
                    Accepted::Dropped => Ok(()),
                },
            },
        }
    }

    /// Moves datagrams both ways without loss until neither side has anything to send.
    pub fn pump(&mut self) -> Result<(), Error> {
        for _ in 0..100 {
            let to_s = self.take(Dir::ToServer);
            let to_c = self.take(Dir::ToClient);
            if to_s.is_empty() && to_c.is_empty() {
                return Ok(());
            }
            for d in to_s {
                self.deliver(Dir::ToServer, &d)?;
            }
            for d in to_c {
                self.deliver(Dir::ToClient, &d)?;
            }
        }
        panic!("link did not settle");
    }

    /// [`pump`](Self::pump), then, if the client's timer runs (after a DTLS 1.3 handshake:
    /// the short delay before it acknowledges the NewSessionTickets, RFC 9147 7.1), runs it
    /// and pumps again: nothing is left in flight.
    pub fn settle(&mut self) -> Result<(), Error> {
        self.pump()?;
        if let Some(at) = self.client.poll_timeout() {
            self.now = self.now.max(at);
            self.client.handle_timeout(self.now)?;
            self.pump()?;
        }
        Ok(())
    }

    /// [`pump`](Self::pump), then the timer due first on either side and pump again, until
    /// no timer runs (at most 8 rounds): the ACK of a DTLS 1.3 KeyUpdate or NewSessionTicket
    /// goes out a quarter of the retransmission timeout after it arrived (RFC 9147 7.1),
    /// before the sender's retransmission is due.
    pub fn pump_timers(&mut self) -> Result<(), Error> {
        self.pump()?;
        for _ in 0..8 {
            if self.advance().is_none() {
                return Ok(());
            }
            self.pump()?;
        }
        panic!("timers still run after 8 rounds: {:?}", self.client);
    }

    /// Fails the test unless both sides finished their handshake, naming each side's error.
    pub fn assert_established(&mut self) {
        assert!(!self.client.is_handshaking(), "client: {:?}", self.client.error());
        assert!(
            !self.server().is_handshaking(),
            "server: {:?}",
            self.server().error()
        );
    }

    pub fn server(&mut self) -> &mut DtlsConnection {
        self.server.as_mut().expect("server connection exists")
    }

    /// Advances the clock to the earliest timer and runs both sides' timers.
    pub fn advance(&mut self) -> Option<Duration> {
        let next = [
            self.client.poll_timeout(),
            self.server.as_ref().and_then(DtlsConnection::poll_timeout),
        ]
        .into_iter()
        .flatten()
        .min()?;
        let step = next.saturating_duration_since(self.now);
        self.now = self.now.max(next);
        let _ = self.client.handle_timeout(self.now);
        if let Some(s) = self.server.as_mut() {
            let _ = s.handle_timeout(self.now);
        }
        Some(step)
    }
}

pub fn events(conn: &mut DtlsConnection) -> Vec<Event> {
    std::iter::from_fn(|| conn.next_event()).collect()
}

pub fn read_all(conn: &mut DtlsConnection) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = conn.reader().read(&mut buf) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    out
}

pub fn write(conn: &mut DtlsConnection, data: &[u8]) {
    assert_eq!(conn.writer().write(data).unwrap(), data.len());
}

/// Writes `up` from the client and `down` from the server, moves the datagrams, and checks
/// that each side reads what the other wrote.
pub fn data_flows_both_ways(link: &mut Link, up: &[u8], down: &[u8]) {
    write(&mut link.client, up);
    write(link.server(), down);
    link.pump().unwrap();
    assert_eq!(read_all(link.server()), up);
    assert_eq!(read_all(&mut link.client), down);
}

/// One key log line: label, client_random, secret.
pub type LogLine = (String, Vec<u8>, Vec<u8>);

/// A key log that keeps every line.
#[derive(Debug, Default)]
pub struct Secrets(pub Mutex<Vec<LogLine>>);

impl KeyLog for Secrets {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        self.0
            .lock()
            .unwrap()
            .push((label.to_string(), client_random.to_vec(), secret.to_vec()));
    }
}

impl Secrets {
    pub fn labels(&self) -> Vec<String> {
        self.0.lock().unwrap().iter().map(|l| l.0.clone()).collect()
    }

    /// The last secret logged under `label`.
    pub fn get(&self, label: &str) -> Option<Vec<u8>> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|l| l.0 == label)
            .map(|l| l.2.clone())
    }
}

/// A deterministic random source (SplitMix64 from a seed): two configs built with the same
/// seed draw the same bytes (e.g. the same cookie secret for two acceptors).
#[derive(Debug)]
pub struct SeededRandom(Mutex<u64>);

impl SeededRandom {
    pub fn new(seed: u64) -> Arc<SeededRandom> {
        Arc::new(SeededRandom(Mutex::new(seed)))
    }
}

impl RandomSource for SeededRandom {
    fn fill(&self, buf: &mut [u8]) -> Result<(), Error> {
        let mut state = self.0.lock().unwrap();
        for chunk in buf.chunks_mut(8) {
            let z = splitmix64(&mut state);
            chunk.copy_from_slice(&z.to_be_bytes()[..chunk.len()]);
        }
        Ok(())
    }
}

/// One step of SplitMix64: small, seedable, and good enough to pick a datagram's fate.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// One record seen on the wire, opened (DTLS 1.3).
#[derive(Clone, Debug)]
pub struct WireRecord {
    pub dir: Dir,
    /// Index of its datagram in [`Link::wire`].
    pub datagram: usize,
    /// Bytes the record takes on the wire, header included.
    pub wire_len: usize,
    /// The record's first byte (content type of a DTLSPlaintext, or the unified header's
    /// fixed bits, flags and epoch bits).
    pub first: u8,
    /// (epoch, sequence number); the epoch of a ciphertext record is the one whose keys
    /// opened it.
    pub epoch: u64,
    pub seq: u64,
    /// The content type (the inner one for a ciphertext record); `None`: nothing we know
    /// opened it.
    pub typ: Option<ContentType>,
    pub content: Vec<u8>,
    /// The version field of a DTLSPlaintext header.
    pub version: Option<u16>,
}

/// A handshake fragment of a record: (type, message_seq, offset, length).
pub type Fragment = (HandshakeType, u16, u32, u32);

impl WireRecord {
    pub fn fragments(&self) -> Vec<Fragment> {
        if self.typ != Some(ContentType::Handshake) {
            return Vec::new();
        }
        parse_fragments(&self.content)
            .filter_map(Result::ok)
            .map(|(h, _)| (h.msg_type, h.message_seq, h.fragment_offset, h.fragment_length))
            .collect()
    }

    pub fn ack(&self) -> Option<Ack> {
        (self.typ == Some(ContentType::Ack)).then(|| Ack::decode(&self.content).unwrap())
    }

    pub fn is_handshake(&self, typ: HandshakeType) -> bool {
        self.fragments().iter().any(|f| f.0 == typ)
    }
}

/// The traffic secrets of one direction: epoch 2 (handshake), epoch 3
/// (application_traffic_secret_0), 4.. by "traffic upd" with the "dtls13" prefix
/// (RFC 8446 7.2, RFC 9147 5.9, 6.1).
pub fn epoch_keys(secrets: &Secrets, suite: CipherSuite, from_client: bool, upto: u64) -> Vec<Dtls13Keys> {
    let s = tls13_suite(suite).expect("TLS 1.3 suite");
    let (hs, app) = if from_client {
        ("CLIENT_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0")
    } else {
        ("SERVER_HANDSHAKE_TRAFFIC_SECRET", "SERVER_TRAFFIC_SECRET_0")
    };
    let mut keys = Vec::new();
    if let Some(hs) = secrets.get(hs) {
        keys.push(Dtls13Keys::new(2, s.aead, s.hash, &hs));
    }
    if let Some(mut app) = secrets.get(app) {
        for epoch in 3..=upto {
            keys.push(Dtls13Keys::new(epoch, s.aead, s.hash, &app));
            app = dtls13_expand_label(s.hash, &app, b"traffic upd", &[], s.hash.output_len())
                .as_bytes()
                .to_vec();
        }
    }
    keys
}

/// Every record of `wire` (from `from` on), opened with the key log's secrets.
pub fn decode_wire(
    wire: &[(Dir, Vec<u8>)],
    from: usize,
    secrets: &Secrets,
    suite: CipherSuite,
) -> Vec<WireRecord> {
    WireKeys::new(secrets, suite, 24).decode(wire, from)
}

/// The keys of both directions up to an epoch, built once to open many datagrams.
pub struct WireKeys([Vec<Dtls13Keys>; 2]);

impl WireKeys {
    pub fn new(secrets: &Secrets, suite: CipherSuite, upto: u64) -> WireKeys {
        WireKeys([
            epoch_keys(secrets, suite, true, upto),
            epoch_keys(secrets, suite, false, upto),
        ])
    }

    /// Every record of `wire` (from `from` on), opened.
    pub fn decode(&self, wire: &[(Dir, Vec<u8>)], from: usize) -> Vec<WireRecord> {
        let keys = &self.0;
        // Next expected sequence number per (direction, epoch), to rebuild the full number.
        let mut next = std::collections::HashMap::new();
        let mut out = Vec::new();
        for (i, (dir, d)) in wire.iter().enumerate().skip(from) {
            for rec in records(d, 0) {
                let Ok(rec) = rec else { break };
                match rec {
                    DatagramRecord::Plaintext { header, fragment } => out.push(WireRecord {
                        dir: *dir,
                        datagram: i,
                        wire_len: 13 + fragment.len(),
                        first: header.content_type.get(),
                        epoch: u64::from(header.epoch),
                        seq: header.seq,
                        typ: Some(header.content_type),
                        content: fragment.to_vec(),
                        version: Some(header.version.get()),
                    }),
                    // Only with a connection id length, which this decoder does not take.
                    DatagramRecord::Cid12 { .. } => break,
                    DatagramRecord::Ciphertext(p) => {
                        let side = usize::from(*dir == Dir::ToClient);
                        let mut w = WireRecord {
                            dir: *dir,
                            datagram: i,
                            wire_len: p.header_bytes().len() + p.ciphertext().len(),
                            first: p.header_bytes()[0],
                            epoch: u64::from(p.epoch_bits()),
                            seq: 0,
                            typ: None,
                            content: Vec::new(),
                            version: None,
                        };
                        for k in keys[side]
                            .iter()
                            .filter(|k| k.epoch() & 3 == u64::from(p.epoch_bits()))
                        {
                            let n = next.entry((side, k.epoch())).or_insert(0u64);
                            let Ok(seq) = k.unmask_seq(&p, *n) else { continue };
                            if let Ok(opened) = k.open(&p, seq) {
                                *n = (*n).max(seq + 1);
                                w.epoch = k.epoch();
                                w.seq = seq;
                                w.typ = Some(opened.content_type);
                                w.content = opened.plaintext;
                                break;
                            }
                        }
                        out.push(w);
                    }
                }
            }
        }
        out
    }
}

/// Seals `content` as record `seq` of `epoch` from the client (`from_client`) or the server
/// with the key log's secrets: a forged but well-protected DTLS 1.3 record.
pub fn seal13(
    secrets: &Secrets,
    suite: CipherSuite,
    from_client: bool,
    epoch: u64,
    seq: u64,
    typ: ContentType,
    content: &[u8],
) -> Vec<u8> {
    let keys = epoch_keys(secrets, suite, from_client, epoch.max(3));
    let k = keys
        .iter()
        .find(|k| k.epoch() == epoch)
        .expect("keys for the epoch");
    let mut out = Vec::new();
    k.seal(&mut out, &HeaderFormat::default(), seq, typ, content, 0)
        .unwrap();
    out
}

/// Seals `content` as DTLS 1.2 record `seq` of `epoch` from the client (`from_client`) or
/// the server, with keys from the master secret the key log gave (`CLIENT_RANDOM`): a
/// forged but well-protected record (RFC 6347 4.1.2.1: nonce and additional data over
/// `epoch || seq`).
pub fn seal12(
    conn: &DtlsConnection,
    master: &[u8],
    from_client: bool,
    epoch: u16,
    seq: u64,
    typ: u8,
    content: &[u8],
) -> Vec<u8> {
    let suite = conn.cipher_suite().expect("negotiated suite");
    let key = super::tls12_record_key(
        suite,
        master,
        &conn.client_random(),
        &conn.server_random(),
        from_client,
    );
    let record_seq = u64::from(epoch) << 48 | seq;
    let mut aad = record_seq.to_be_bytes().to_vec();
    aad.extend_from_slice(&[typ, 0xfe, 0xfd]);
    aad.extend_from_slice(&(content.len() as u16).to_be_bytes());
    let mut body = content.to_vec();
    key.seal_in_place(record_seq, &aad, &mut body).unwrap();
    let mut payload = key.explicit_nonce(record_seq)[..key.explicit_nonce_len()].to_vec();
    payload.extend_from_slice(&body);
    plain_record(typ, epoch, seq, &payload)
}

/// The records of one datagram, each with its header: DTLSPlaintext (13-byte header) or a
/// unified header with a 16-bit sequence number and a length (what we send).
pub fn split_records(d: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < d.len() {
        let (hdr, len) = if d[at] & 0xe0 == 0x20 {
            assert_eq!(d[at] & 0xfc, 0x2c, "unified header with a CID or short fields");
            (5, u16::from_be_bytes([d[at + 3], d[at + 4]]) as usize)
        } else {
            (13, u16::from_be_bytes([d[at + 11], d[at + 12]]) as usize)
        };
        out.push(d[at..at + hdr + len].to_vec());
        at += hdr + len;
    }
    out
}

/// A plaintext (epoch 0, version 0xFEFD) record.
pub fn plain_record(typ: u8, epoch: u16, record_seq: u64, payload: &[u8]) -> Vec<u8> {
    let mut r = vec![typ, 0xfe, 0xfd];
    r.extend_from_slice(&epoch.to_be_bytes());
    r.extend_from_slice(&record_seq.to_be_bytes()[2..]);
    r.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    r.extend_from_slice(payload);
    r
}

/// A DTLS handshake message (12-byte header, one whole fragment).
pub fn handshake_message(typ: u8, message_seq: u16, body: &[u8]) -> Vec<u8> {
    let mut msg = vec![typ];
    msg.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    msg.extend_from_slice(&message_seq.to_be_bytes());
    msg.extend_from_slice(&[0, 0, 0]);
    msg.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    msg.extend_from_slice(body);
    msg
}

/// A plaintext (epoch 0) handshake record carrying one whole message.
pub fn plain_handshake(record_seq: u64, typ: u8, message_seq: u16, body: &[u8]) -> Vec<u8> {
    plain_record(22, 0, record_seq, &handshake_message(typ, message_seq, body))
}

// ---- Lossy link: one seeded simulator for DTLS 1.2 and DTLS 1.3

/// The seeded generator that decides the fate of every datagram of a lossy run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        splitmix64(&mut self.0)
    }

    /// True with probability `pct` percent.
    fn chance(&mut self, pct: u64) -> bool {
        self.next() % 100 < pct
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// What differs between the lossy runs of the versions (see [`lossy_link_runs`]).
#[derive(Clone, Debug)]
pub struct Lossy {
    /// What both sides must have negotiated (`DTLSv1_2` or `DTLSv1_3`).
    pub version: ProtocolVersion,
    /// DTLS 1.3: the client sends a KeyUpdate after its record 3 and the server after its
    /// record 6, in the middle of the application records; the records written while one
    /// awaits its ACK go out at once in the old epoch, those after it in the new one.
    pub key_updates: bool,
    /// The epoch each side reads and writes at the end of a run: 1 for DTLS 1.2, 3 for
    /// DTLS 1.3, 4 once both KeyUpdates were acknowledged.
    pub final_epoch: u64,
    /// DTLS 1.3: the key log of the setups' clients. With it every datagram of the
    /// application phase is opened to learn which records it carries (needed with
    /// `key_updates`: a held record leaves in a later datagram), every record must open,
    /// and `DTLS_TRACE` names the records of each datagram. Cleared after each run.
    pub secrets: Option<Arc<Secrets>>,
}

/// What the lossy link did, over one run or summed over many.
#[derive(Clone, Copy, Debug, Default)]
pub struct LossStats {
    pub runs: usize,
    pub dropped: usize,
    pub duplicated: usize,
    /// Datagram copies delivered after a later datagram of the same direction.
    pub reordered: usize,
    /// Steps where a retransmission (or give-up) timer was due.
    pub timeouts: usize,
    pub key_updates: usize,
    /// Application records that left in a later datagram than the one their write sent
    /// (none: a KeyUpdate awaiting its ACK holds no data back, RFC 9147 8).
    pub held: usize,
    /// Simulated time: summed over the runs, and the longest handshake and run.
    pub simulated: Duration,
    pub longest_handshake: Duration,
    pub longest_run: Duration,
}

impl LossStats {
    fn add(&mut self, run: &LossStats) {
        self.runs += run.runs;
        self.dropped += run.dropped;
        self.duplicated += run.duplicated;
        self.reordered += run.reordered;
        self.timeouts += run.timeouts;
        self.key_updates += run.key_updates;
        self.held += run.held;
        self.simulated += run.simulated;
        self.longest_handshake = self.longest_handshake.max(run.longest_handshake);
        self.longest_run = self.longest_run.max(run.longest_run);
    }
}

/// A datagram copy on its way: arrival time, direction, its index among the datagrams sent
/// that way (to count reordering), the bytes, and the application records (indices into
/// the run's sent records) it carries.
struct InFlight {
    at: Instant,
    dir: Dir,
    index: usize,
    datagram: Vec<u8>,
    records: Vec<usize>,
}

/// The state of one lossy run.
struct LossyRun<'a> {
    seed: u64,
    opts: &'a Lossy,
    rng: Rng,
    drop_pct: u64,
    dup_pct: u64,
    link: Link,
    stats: LossStats,
    in_flight: Vec<InFlight>,
    /// Datagrams sent so far per direction (to-server, to-client).
    sent_datagrams: [usize; 2],
    /// The highest datagram index delivered so far per direction.
    delivered_max: [Option<usize>; 2],
    /// Application records written: direction and bytes.
    sent: Vec<(Dir, Vec<u8>)>,
    /// Copies of each application record's datagram the link delivered.
    delivered_copies: Vec<usize>,
    /// The application phase's record decoder (with `opts.secrets`).
    keys: Option<WireKeys>,
    trace: bool,
}

fn side(dir: Dir) -> usize {
    usize::from(dir == Dir::ToClient)
}

impl LossyRun<'_> {
    /// The sender of `dir`'s datagrams.
    fn sender(&mut self, dir: Dir) -> &mut DtlsConnection {
        match dir {
            Dir::ToServer => &mut self.link.client,
            Dir::ToClient => self.link.server(),
        }
    }

    /// Puts one datagram on the link: dropped, or one or two copies each delayed by up to
    /// 300 ms (so reordered against its neighbours).
    fn send(&mut self, dir: Dir, datagram: Vec<u8>, records: Vec<usize>) {
        let index = self.sent_datagrams[side(dir)];
        self.sent_datagrams[side(dir)] += 1;
        if self.rng.chance(self.drop_pct) {
            self.stats.dropped += 1;
            return;
        }
        let copies = if self.rng.chance(self.dup_pct) { 2 } else { 1 };
        self.stats.duplicated += copies - 1;
        for _ in 0..copies {
            let at = self.link.now + Duration::from_millis(self.rng.below(300));
            self.in_flight.push(InFlight {
                at,
                dir,
                index,
                datagram: datagram.clone(),
                records: records.clone(),
            });
        }
    }

    /// The application records (indices into `sent`) a datagram carries, read by opening
    /// it with the key log (every record must open).
    fn carried(&self, keys: &WireKeys, dir: Dir, d: &[u8]) -> Vec<usize> {
        let seed = self.seed;
        let recs = keys.decode(&[(dir, d.to_vec())], 0);
        assert!(
            recs.iter().all(|r| r.typ.is_some()),
            "seed {seed}: unreadable record"
        );
        let data: Vec<&WireRecord> = recs
            .iter()
            .filter(|r| r.typ == Some(ContentType::ApplicationData))
            .collect();
        (0..self.sent.len())
            .filter(|id| {
                let (d, msg) = &self.sent[*id];
                *d == dir
                    && data
                        .iter()
                        .any(|r| r.content.windows(msg.len()).any(|w| w == msg.as_slice()))
            })
            .collect()
    }

    /// Sends what `dir`'s sender has now. `written`: the record just written, which
    /// without a decoder must leave alone in one datagram right away (DTLS 1.2, or DTLS
    /// 1.3 without a KeyUpdate pending).
    fn send_pending(&mut self, dir: Dir, written: Option<usize>) {
        let ds = self.link.take(dir);
        if self.keys.is_none() {
            if let Some(id) = written {
                assert_eq!(ds.len(), 1, "seed {}: record {id} in one datagram", self.seed);
            }
        }
        for d in ds {
            let records = match (&self.keys, written) {
                (Some(keys), _) => self.carried(keys, dir, &d),
                (None, Some(id)) => vec![id],
                (None, None) => Vec::new(),
            };
            if written.is_none() {
                self.stats.held += records.len();
            }
            self.send(dir, d, records);
        }
    }

    /// The records of a datagram for `DTLS_TRACE`: (epoch, sequence number, content type)
    /// when the key log opens them.
    fn describe(&self, dir: Dir, d: &[u8]) -> String {
        let Some(secrets) = &self.opts.secrets else {
            return String::new();
        };
        // Before the client knows the suite no secret is logged: only plaintext opens.
        let suite = self
            .link
            .client
            .cipher_suite()
            .unwrap_or(CipherSuite::TLS_AES_128_GCM_SHA256);
        let keys = WireKeys::new(secrets, suite, self.opts.final_epoch.max(3) + 2);
        let recs: Vec<String> = keys
            .decode(&[(dir, d.to_vec())], 0)
            .iter()
            .map(|r| match r.typ {
                Some(t) => format!("{}/{} {t:?}", r.epoch, r.seq),
                None => format!("{}/? sealed", r.epoch),
            })
            .collect();
        format!(" [{}]", recs.join(", "))
    }

    /// The application phase: each side writes ten numbered records (and, with
    /// `key_updates`, a KeyUpdate each in the middle).
    fn write_records(&mut self) {
        let seed = self.seed;
        for i in 0..10 {
            for dir in [Dir::ToServer, Dir::ToClient] {
                let msg = format!("{dir:?} record {i} of seed {seed};").into_bytes();
                write(self.sender(dir), &msg);
                self.sent.push((dir, msg));
                self.delivered_copies.push(0);
                self.send_pending(dir, Some(self.sent.len() - 1));
                // A KeyUpdate from the client after record 3, from the server after 6:
                // the records after it go out in the old epoch until it is acknowledged.
                if self.opts.key_updates
                    && ((i == 3 && dir == Dir::ToServer) || (i == 6 && dir == Dir::ToClient))
                {
                    self.sender(dir)
                        .request_key_update(false)
                        .unwrap_or_else(|e| panic!("seed {seed}: key update: {e:?}"));
                    self.stats.key_updates += 1;
                    self.send_pending(dir, None);
                }
            }
        }
    }

    /// Delivers every copy due by now, in arrival order.
    fn deliver_due(&mut self, start: Instant) {
        let seed = self.seed;
        self.in_flight.sort_by_key(|f| f.at);
        while self.in_flight.first().is_some_and(|f| f.at <= self.link.now) {
            let f = self.in_flight.remove(0);
            for id in &f.records {
                self.delivered_copies[*id] += 1;
            }
            let max = &mut self.delivered_max[side(f.dir)];
            if max.is_some_and(|m| f.index < m) {
                self.stats.reordered += 1;
            }
            *max = Some(max.map_or(f.index, |m| m.max(f.index)));
            if self.trace {
                eprintln!(
                    "{:?} {:?} #{} {} bytes first {:02x?}{} | c {:?} s {:?}",
                    self.link.now - start,
                    f.dir,
                    f.index,
                    f.datagram.len(),
                    &f.datagram[..14.min(f.datagram.len())],
                    self.describe(f.dir, &f.datagram),
                    self.link.client,
                    self.link.server
                );
            }
            self.link
                .deliver(f.dir, &f.datagram)
                .unwrap_or_else(|e| panic!("seed {seed}: {:?} failed: {e:?}", f.dir));
        }
    }
}

/// One seeded run over a link that drops, duplicates and delays (so reorders) datagrams:
/// the MTU (300, 600 or 1200), the drop rate and the duplication rate (each 0..=15 %) and
/// every datagram's fate follow from `seed`.
///
/// The handshake (through the acceptor's cookie exchange) must complete, no timer may fail
/// either side, and the version must be `opts.version`. Then each side writes ten numbered records (one datagram each
/// unless a KeyUpdate holds them): every record the link delivers at least one copy of must
/// arrive exactly once, one whose every copy was dropped must not arrive (DTLS does not
/// retransmit data), nothing else may arrive. The run ends when nothing is in flight and no
/// timer runs (the link went quiet), with both sides reading and writing `opts.final_epoch`.
/// Handshake and whole run each take at most the total handshake timeout (120 s) of
/// simulated time.
fn lossy_run(seed: u64, client: &Arc<ClientConfig>, server: &Arc<ServerConfig>, opts: &Lossy) -> LossStats {
    let mut rng = Rng(seed);
    let mtu = [300, 600, 1200][rng.below(3) as usize];
    let drop_pct = rng.below(16);
    let dup_pct = rng.below(16);
    // The connections give up after BoringSSL's budget of 13 timeouts (about 400 s: 1 s
    // doubling to the 60 s cap) rather than the default 120 s: with up to 15 % of the
    // datagrams lost each way, the default's seven tries of one flight (a KeyUpdate and its
    // ACK) all fail about once in 7,000, which a thousand runs reach. Giving up is tested
    // on its own (`HandshakeTimeout`); here every run must get through.
    let mut dtls = DtlsConfig {
        mtu,
        ..DtlsConfig::default()
    };
    dtls.timer.total = Duration::from_secs(400);
    // The handshake, and the whole run (KeyUpdates included), within the connection's total
    // handshake timeout (RFC 6347 4.2.4.1 caps one retransmission timeout at 60 s).
    let within = dtls.timer.total;
    let trace = std::env::var("DTLS_TRACE").is_ok_and(|t| t == seed.to_string());
    if trace {
        eprintln!("seed {seed}: mtu {mtu} drop {drop_pct}% dup {dup_pct}%");
    }
    let mut run = LossyRun {
        seed,
        opts,
        rng,
        drop_pct,
        dup_pct,
        link: Link::new(client.clone(), server.clone(), dtls),
        stats: LossStats {
            runs: 1,
            ..LossStats::default()
        },
        in_flight: Vec::new(),
        sent_datagrams: [0; 2],
        delivered_max: [None; 2],
        sent: Vec::new(),
        delivered_copies: Vec::new(),
        keys: None,
        trace,
    };
    let mut received: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
    let mut app_phase = false;
    let start = run.link.now;
    for _step in 0..100_000 {
        for dir in [Dir::ToServer, Dir::ToClient] {
            run.send_pending(dir, None);
        }
        let link = &run.link;
        let done_handshake =
            link.server.as_ref().is_some_and(|s| !s.is_handshaking()) && !link.client.is_handshaking();
        if done_handshake && !app_phase {
            app_phase = true;
            let took = link.now - start;
            assert!(took <= within, "seed {seed}: handshake took {took:?}");
            run.stats.longest_handshake = took;
            if let Some(secrets) = &opts.secrets {
                let suite = link.client.cipher_suite().expect("negotiated suite");
                run.keys = Some(WireKeys::new(secrets, suite, opts.final_epoch.max(3) + 2));
            }
            run.write_records();
        }
        let link = &run.link;
        let next_timer = [
            link.client.poll_timeout(),
            link.server.as_ref().and_then(DtlsConnection::poll_timeout),
        ]
        .into_iter()
        .flatten()
        .min();
        if app_phase && run.in_flight.is_empty() && next_timer.is_none() {
            break;
        }
        let next_arrival = run.in_flight.iter().map(|f| f.at).min();
        let next = match (next_arrival, next_timer) {
            (Some(a), Some(t)) => a.min(t),
            (Some(a), None) => a,
            (None, Some(t)) => t,
            (None, None) => panic!("seed {seed}: link idle before the handshake completed"),
        };
        run.link.now = run.link.now.max(next);
        run.deliver_due(start);
        let link = &mut run.link;
        if next_timer.is_some_and(|t| t <= link.now) {
            run.stats.timeouts += 1;
            link.client
                .handle_timeout(link.now)
                .unwrap_or_else(|e| panic!("seed {seed}: client {e:?}"));
            if let Some(s) = link.server.as_mut() {
                s.handle_timeout(link.now)
                    .unwrap_or_else(|e| panic!("seed {seed}: server {e:?}"));
            }
        }
        if app_phase {
            received[0].extend(read_all(link.server()));
            received[1].extend(read_all(&mut link.client));
        }
    }
    assert!(app_phase, "seed {seed}: handshake did not complete");
    assert!(run.in_flight.is_empty(), "seed {seed}: the link never went quiet");
    let took = run.link.now - start;
    assert!(took <= within, "seed {seed}: the run took {took:?}");
    run.stats.simulated = took;
    run.stats.longest_run = took;
    let link = &mut run.link;
    for conn in [&mut link.client, link.server.as_mut().expect("server")] {
        assert!(!conn.is_handshaking(), "seed {seed}: {:?}", conn.error());
        assert_eq!(conn.protocol_version(), Some(opts.version), "seed {seed}");
        // After the KeyUpdates (DTLS 1.3): each side writes, and the peer reads, the next epoch.
        assert_eq!(conn.write_epoch(), opts.final_epoch, "seed {seed}: write epoch");
        assert_eq!(conn.read_epoch(), opts.final_epoch, "seed {seed}: read epoch");
    }
    // Every delivered record arrived exactly once, nothing else arrived.
    for dir in [Dir::ToServer, Dir::ToClient] {
        let mut got = received[side(dir)].clone();
        for (id, (d, msg)) in run.sent.iter().enumerate() {
            if *d != dir || run.delivered_copies[id] == 0 {
                continue;
            }
            let at = got
                .windows(msg.len())
                .position(|w| w == msg.as_slice())
                .unwrap_or_else(|| panic!("seed {seed}: {} lost", String::from_utf8_lossy(msg)));
            got.drain(at..at + msg.len());
        }
        assert!(
            got.is_empty(),
            "seed {seed}: extra bytes {:?}",
            String::from_utf8_lossy(&got)
        );
    }
    run.stats
}

/// Seeded runs of [`lossy_run`] over a lossy link, setup `seed % setups.len()` for each seed;
/// returns the summed statistics after printing them (`eprintln!`, shown with
/// `--nocapture`).
///
/// Without knobs: seeds 0..1000, and the link must really have been lossy (more datagrams
/// dropped, duplicated and reordered than runs; with `key_updates` two KeyUpdates a run
/// and no record held back).
///
/// - `DTLS_SEED=<n>`: run seed `n` alone (to replay a failure; no totals asserted).
/// - `DTLS_RUNS=<n>` (and `DTLS_FROM=<m>`): run seeds `m..n` instead of `0..1000`, for a
///   longer soak, or to replay a failure with the sessions earlier runs stored (a seed run
///   alone starts without tickets, so its handshakes and losses differ).
/// - `DTLS_TRACE=<n>`: the run of seed `n` prints its MTU and loss rates and every
///   datagram it delivers (time, direction, index, first bytes, with `opts.secrets` the
///   records opened, and both connections). Combine: `DTLS_SEED=7 DTLS_TRACE=7 cargo test
///   --test dtls13 lossy -- --nocapture`.
pub fn lossy_link_runs(
    name: &str,
    setups: &[(Arc<ClientConfig>, Arc<ServerConfig>)],
    opts: &Lossy,
) -> LossStats {
    assert!(
        opts.secrets.is_none() || opts.version == ProtocolVersion::DTLSv1_3,
        "the wire decoder opens DTLS 1.3 records"
    );
    assert!(
        !opts.key_updates || opts.secrets.is_some(),
        "records held behind a KeyUpdate are only found by opening datagrams: pass the key log"
    );
    let seeds = match std::env::var("DTLS_SEED") {
        Ok(s) => {
            let seed: u64 = s.parse().expect("DTLS_SEED=<u64>");
            seed..seed + 1
        }
        Err(_) => {
            std::env::var("DTLS_FROM").map_or(0, |n| n.parse().expect("DTLS_FROM=<u64>"))
                ..std::env::var("DTLS_RUNS").map_or(1000, |n| n.parse().expect("DTLS_RUNS=<u64>"))
        }
    };
    let single = seeds.end - seeds.start == 1;
    let mut total = LossStats::default();
    for seed in seeds {
        let (c, s) = &setups[(seed % setups.len() as u64) as usize];
        total.add(&lossy_run(seed, c, s, opts));
        if let Some(secrets) = &opts.secrets {
            secrets.0.lock().unwrap().clear();
        }
    }
    eprintln!(
        "{name} lossy link: {} runs, {} datagrams dropped, {} duplicated, {} reordered, \
         {} timeouts, {} KeyUpdates, {} records held; {:.1} s simulated (longest handshake \
         {:.1} s, longest run {:.1} s)",
        total.runs,
        total.dropped,
        total.duplicated,
        total.reordered,
        total.timeouts,
        total.key_updates,
        total.held,
        total.simulated.as_secs_f64(),
        total.longest_handshake.as_secs_f64(),
        total.longest_run.as_secs_f64(),
    );
    if !single {
        // The link really was lossy.
        let runs = total.runs;
        assert!(
            total.dropped > runs && total.duplicated > runs && total.reordered > runs,
            "{total:?}"
        );
        if opts.key_updates {
            assert_eq!(total.key_updates, 2 * runs, "{total:?}");
            assert_eq!(total.held, 0, "{total:?}");
        }
    }
    total
}
