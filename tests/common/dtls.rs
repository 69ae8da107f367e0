//! An in-memory DTLS 1.2 link: a client, an acceptor and the server it creates, a virtual
//! clock, and a hook that decides the fate of every datagram (lossy-link tests).

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sanstls::dtls::{Accepted, DtlsAcceptor, DtlsConfig, DtlsConnection};
use sanstls::{ClientConfig, Error, Event, ServerConfig};

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
    /// HelloVerifyRequests (DTLS 1.2) or stateless HelloRetryRequests (DTLS 1.3) the
    /// acceptor sent.
    pub hvrs: usize,
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
        }
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
                    Accepted::HelloVerifyRequest(hvr) | Accepted::HelloRetryRequest(hvr) => {
                        self.hvrs += 1;
                        self.wire.push((Dir::ToClient, hvr.clone()));
                        self.client.recv_datagram(&hvr, self.now)
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
