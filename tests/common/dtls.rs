//! An in-memory DTLS link (1.2 and 1.3): a client, an acceptor and the server it creates, a
//! virtual clock, and a hook that decides the fate of every datagram (lossy-link tests); and
//! for DTLS 1.3 a wire decoder that opens every record with the secrets of the key log.

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use std::sync::Mutex;

use sanstls::codec::{CipherSuite, ContentType, HandshakeType};
use sanstls::crypto::dtls::dtls13_expand_label;
use sanstls::crypto::{tls13_suite, RandomSource};
use sanstls::dtls::fragment::parse_fragments;
use sanstls::dtls::record::{records, DatagramRecord};
use sanstls::dtls::{Accepted, Ack, Dtls13Keys, DtlsAcceptor, DtlsConfig, DtlsConnection, HeaderFormat};
use sanstls::{ClientConfig, Error, Event, KeyLog, ServerConfig};

pub const CLIENT_ADDR: &[u8] = b"192.0.2.1:4433";

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
            *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = *state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            chunk.copy_from_slice(&z.to_be_bytes()[..chunk.len()]);
        }
        Ok(())
    }
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
