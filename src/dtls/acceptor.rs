//! The stateless front of a DTLS server: [`DtlsAcceptor`] answers a first ClientHello
//! without a valid cookie (DTLS 1.2: HelloVerifyRequest, RFC 6347 4.2.1; DTLS 1.3: a
//! HelloRetryRequest carrying a cookie extension, RFC 9147 5.1) and keeps nothing of it
//! (only the pieces of a first hello too large for one datagram, bounded, until it is
//! whole); a hello whose cookie checks out opens a [`DtlsConnection`].

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::conn::{DtlsConfig, DtlsConnection};
use super::cookie::{dtls12_hello_binding, hello_verify_request_body, CookieKeys};
use super::fragment::{parse_fragments, HandshakeHeader, Pushed, Reassembler, ReassemblyLimits};
use super::record::{records, DatagramRecord, PlaintextHeader};
use crate::codec::{
    CipherSuite, ContentType, ExtensionType, HandshakeType, LenPrefix, NamedGroup, ProtocolVersion, Reader,
};
use crate::config::ServerConfig;
use crate::crypto::kx;
use crate::handshake::server13::{self, StatelessRetry};
use crate::msgs::{Dialect, HandshakePayload};
use crate::Error;

/// What [`DtlsAcceptor::accept`] made of a datagram from an unknown address.
#[derive(Debug)]
pub enum Accepted {
    /// Send this HelloVerifyRequest datagram back (DTLS 1.2); nothing was kept.
    HelloVerifyRequest(Vec<u8>),
    /// Send this HelloRetryRequest datagram back (DTLS 1.3, RFC 9147 5.1); nothing was kept.
    HelloRetryRequest(Vec<u8>),
    /// The ClientHello carried a valid cookie: the connection has taken it in.
    Connection(Box<DtlsConnection>),
    /// Not a ClientHello we answer: dropped.
    Dropped,
}

/// The stateless front of a DTLS server. A DTLS 1.2 ClientHello without a valid cookie gets
/// a HelloVerifyRequest (RFC 6347 4.2.1); a DTLS 1.3 one a HelloRetryRequest whose cookie
/// extension carries the hash of the hello and the choices the retry made (RFC 9147 5.1,
/// RFC 8446 4.2.2). Either way nothing is kept once the hello is answered; a first hello
/// that came in pieces is held until it is whole (at most [`MAX_PENDING_HELLOS`] of them).
/// A ClientHello whose cookie checks out (HMAC under a rotating secret, bound to the client
/// address and the hello's parameters) starts a [`DtlsConnection`].
pub struct DtlsAcceptor {
    config: Arc<ServerConfig>,
    dtls: DtlsConfig,
    cookies: CookieKeys,
    /// First ClientHellos that came in pieces, oldest first, until they are whole.
    pending: VecDeque<PendingHello>,
}

/// First ClientHellos reassembled at once; a new one beyond this drops the oldest. Spoofed
/// pieces can push a real hello out, which then waits for the client's retransmission.
pub const MAX_PENDING_HELLOS: usize = 32;

/// Largest first ClientHello reassembled (one with a post-quantum hybrid share and a ticket
/// is about 2 KiB), so the pending hellos hold at most 32 × 8 KiB.
pub const MAX_PENDING_HELLO_LEN: usize = 8 * 1024;

/// How long the pieces of a first ClientHello wait for the rest.
const PENDING_HELLO_LIFETIME: Duration = Duration::from_secs(10);

/// A ClientHello, whole or its first piece, with what an answer needs of its datagram.
struct HelloIn<'a> {
    /// The datagram that brought it: the connection a valid cookie opens takes it in.
    datagram: &'a [u8],
    /// Its record's sequence number and its message_seq, which the answer echoes (RFC 6347
    /// 4.2.1, RFC 9147 5.2).
    record_seq: u64,
    message_seq: u16,
    /// The hello's body (or the first piece of it).
    body: &'a [u8],
}

/// A first ClientHello from one address, not whole yet.
struct PendingHello {
    addr: Vec<u8>,
    since: Instant,
    /// Created at the first piece, expecting that piece's message_seq.
    hello: Option<Reassembler>,
    /// The header of the last record that brought a piece: the answer echoes its sequence
    /// number (RFC 6347 4.2.1, RFC 9147 5.2).
    last_record: Option<PlaintextHeader>,
}

impl PendingHello {
    /// Takes in the ClientHello fragments of `datagram`'s plaintext handshake records;
    /// an error (fragments that disagree, a hello over the cap) drops the hello.
    fn take(&mut self, datagram: &[u8]) -> Result<(), Error> {
        for record in records(datagram, 0) {
            let Ok(DatagramRecord::Plaintext { header, fragment }) = record else {
                break;
            };
            if header.content_type != ContentType::Handshake || header.epoch != 0 {
                continue;
            }
            for piece in parse_fragments(fragment) {
                let (h, data) = piece?;
                if h.msg_type != HandshakeType::ClientHello {
                    continue;
                }
                let hello = self.hello.get_or_insert_with(|| {
                    let mut r = Reassembler::new(ReassemblyLimits {
                        max_message_len: MAX_PENDING_HELLO_LEN,
                        max_messages: 1,
                        max_buffered: MAX_PENDING_HELLO_LEN,
                    });
                    r.reset_to(u32::from(h.message_seq));
                    r
                });
                if hello.push(&h, data)? == Pushed::Buffered {
                    self.last_record = Some(header);
                }
            }
        }
        Ok(())
    }
}

impl DtlsAcceptor {
    /// An acceptor for `config`'s server with `dtls`'s datagram settings. Draws the first
    /// cookie secret from the config's random source at `now` (rotated every
    /// `dtls.cookie_period`); fails on an MTU outside `MIN_MTU..=65507` or a failing random
    /// source.
    pub fn new(config: Arc<ServerConfig>, dtls: DtlsConfig, now: Instant) -> Result<Self, Error> {
        dtls.validate()?;
        let cookies = CookieKeys::new(config.shared.rng.as_ref(), now, dtls.cookie_period)?;
        Ok(DtlsAcceptor {
            config,
            dtls,
            cookies,
            pending: VecDeque::new(),
        })
    }

    /// The connection id of `datagram`'s first record when it carries one of the length our
    /// connections hand out ([`DtlsConfig::connection_id`]): the key to look its connection
    /// up by, whatever address it came from (RFC 9146 6, RFC 9147 9). The connection's
    /// [`own_connection_id`](crate::Negotiated::own_connection_id) is the id to file it under.
    /// Unauthenticated: move the connection to the datagram's address only when
    /// [`DtlsConnection::last_datagram_authenticated`] says so after taking it in.
    pub fn connection_id<'a>(&self, datagram: &'a [u8]) -> Option<&'a [u8]> {
        super::record::connection_id(datagram, self.dtls.connection_id.unwrap_or(0))
    }

    /// Looks at a datagram from `client_addr` (any stable encoding of the transport
    /// address, e.g. `SocketAddr::to_string().as_bytes()`).
    pub fn accept(&mut self, datagram: &[u8], client_addr: &[u8], now: Instant) -> Accepted {
        if self
            .cookies
            .rotate_if_due(now, self.config.shared.rng.as_ref())
            .is_err()
        {
            return Accepted::Dropped;
        }
        let Some(Ok(DatagramRecord::Plaintext { header, fragment })) = records(datagram, 0).next() else {
            return Accepted::Dropped;
        };
        if header.content_type != ContentType::Handshake || header.epoch != 0 || !header.version.is_dtls() {
            return Accepted::Dropped;
        }
        let Some(Ok((h, body))) = parse_fragments(fragment).next() else {
            return Accepted::Dropped;
        };
        if h.msg_type != HandshakeType::ClientHello {
            return Accepted::Dropped;
        }
        let hello_in = HelloIn {
            datagram,
            record_seq: header.seq,
            message_seq: h.message_seq,
            body,
        };
        if h.fragment_offset != 0 || h.fragment_length != h.length {
            return self.accept_fragment(&hello_in, h.fragment_offset == 0, client_addr, now);
        }
        self.answer_hello(&hello_in, client_addr, now)
    }

    /// The answer to a whole ClientHello, `body`, that `datagram` carries whole.
    fn answer_hello(&mut self, hello_in: &HelloIn<'_>, client_addr: &[u8], now: Instant) -> Accepted {
        if let Some(answer) = self.accept13(hello_in, client_addr, now) {
            return answer;
        }
        self.accept12(hello_in, client_addr, now)
    }

    /// A piece of a ClientHello. What a cookie binds leads the hello (RFC 6347 4.2.1:
    /// version, random, session_id, cookie, suites, compression; ours puts the TLS 1.3
    /// cookie extension first), so a second hello's first fragment opens its connection,
    /// which reassembles the rest, and a DTLS 1.2-only server answers a first hello's first
    /// fragment at once. A first hello that may offer DTLS 1.3 is reassembled here (bounded,
    /// see [`MAX_PENDING_HELLOS`]): a stateless HelloRetryRequest hashes all of it, and a
    /// HelloVerifyRequest would put a legacy_cookie in the second hello, which a DTLS 1.3
    /// server must refuse (RFC 9147 5.3).
    fn accept_fragment(
        &mut self,
        hello_in: &HelloIn<'_>,
        first_piece: bool,
        client_addr: &[u8],
        now: Instant,
    ) -> Accepted {
        let tls13 = self.config.shared.tls13();
        if first_piece {
            if tls13 {
                if let Some(answer) = self.second_hello13(hello_in, client_addr, now) {
                    return answer;
                }
            }
            let legacy_cookie = dtls12_hello_binding(hello_in.body).is_ok_and(|b| !b.cookie.is_empty());
            if !tls13 || legacy_cookie {
                return self.accept12(hello_in, client_addr, now);
            }
        }
        if !tls13 {
            return Accepted::Dropped;
        }
        self.reassemble(hello_in.datagram, client_addr, now)
    }

    /// Takes the ClientHello fragments of `datagram` into the hello pending for
    /// `client_addr`; once it is whole, answers it as if it had come in one piece.
    fn reassemble(&mut self, datagram: &[u8], client_addr: &[u8], now: Instant) -> Accepted {
        self.pending
            .retain(|p| now.saturating_duration_since(p.since) < PENDING_HELLO_LIFETIME);
        let at = match self.pending.iter().position(|p| p.addr == client_addr) {
            Some(at) => at,
            None => {
                if self.pending.len() >= MAX_PENDING_HELLOS {
                    self.pending.pop_front();
                }
                self.pending.push_back(PendingHello {
                    addr: client_addr.to_vec(),
                    since: now,
                    hello: None,
                    last_record: None,
                });
                self.pending.len() - 1
            }
        };
        let Some(p) = self.pending.get_mut(at) else {
            return Accepted::Dropped;
        };
        if p.take(datagram).is_err() {
            self.pending.remove(at);
            return Accepted::Dropped;
        }
        let Some(whole) = p.hello.as_mut().and_then(Reassembler::pop) else {
            return Accepted::Dropped;
        };
        let Some(record) = p.last_record else {
            return Accepted::Dropped;
        };
        self.pending.remove(at);
        // The hello in one record, as the connection it may open takes it in.
        let msg = whole.dtls_encoding();
        if u16::try_from(msg.len()).is_err() {
            return Accepted::Dropped;
        }
        let datagram = handshake_record(record.version, record.seq, &msg);
        let hello_in = HelloIn {
            datagram: &datagram,
            record_seq: record.seq,
            message_seq: whole.message_seq,
            body: &whole.body,
        };
        self.answer_hello(&hello_in, client_addr, now)
    }

    /// The DTLS 1.2 answer (RFC 6347 4.2.1): a connection for a hello whose cookie checks
    /// out, else a HelloVerifyRequest.
    fn accept12(&mut self, hello_in: &HelloIn<'_>, client_addr: &[u8], now: Instant) -> Accepted {
        let Ok(binding) = dtls12_hello_binding(hello_in.body) else {
            return Accepted::Dropped;
        };
        if self
            .cookies
            .check(binding.cookie, client_addr, &binding.bound)
            .is_some()
        {
            let Ok(mut conn) = DtlsConnection::server(self.config.clone(), self.dtls.clone()) else {
                return Accepted::Dropped;
            };
            // Errors are kept in the connection (and its alert queued).
            let _ = conn.recv_datagram(hello_in.datagram, now);
            return Accepted::Connection(Box::new(conn));
        }
        let cookie = self.cookies.make(client_addr, &binding.bound, b"");
        let Ok(hvr) = hello_verify_request_body(&cookie) else {
            return Accepted::Dropped;
        };
        // RFC 6347 4.2.1/4.2.2: the HelloVerifyRequest carries the ClientHello's
        // message_seq and record sequence number, version DTLS 1.0.
        let mut msg = Vec::with_capacity(12 + hvr.len());
        HandshakeHeader::whole(
            HandshakeType::HelloVerifyRequest,
            hello_in.message_seq,
            hvr.len() as u32,
        )
        .encode(&mut msg);
        msg.extend_from_slice(&hvr);
        Accepted::HelloVerifyRequest(handshake_record(
            ProtocolVersion::DTLSv1_0,
            hello_in.record_seq,
            &msg,
        ))
    }
}

impl DtlsAcceptor {
    /// A second DTLS 1.3 hello the cookie grew past the MTU: its first fragment is enough
    /// when the cookie leads the extensions (as ours does), and the connection the cookie
    /// opens reassembles the rest. `None`: no cookie in the first fragment.
    fn second_hello13(
        &mut self,
        hello_in: &HelloIn<'_>,
        client_addr: &[u8],
        now: Instant,
    ) -> Option<Accepted> {
        let (random, session_id, cookie) = cookie_in_hello_prefix(hello_in.body)?;
        let retry = self
            .cookies
            .check(cookie, client_addr, random)
            .and_then(|payload| parse_retry_cookie(payload, cookie, session_id));
        let Some(retry) = retry else {
            return Some(Accepted::Dropped);
        };
        let Ok(mut conn) =
            DtlsConnection::server_with_retry(self.config.clone(), self.dtls.clone(), Some(Box::new(retry)))
        else {
            return Some(Accepted::Dropped);
        };
        let _ = conn.recv_datagram(hello_in.datagram, now);
        Some(Accepted::Connection(Box::new(conn)))
    }

    /// The DTLS 1.3 answer to a whole ClientHello that offers DTLS 1.3 (when the config
    /// enables it); `None` leaves the hello to the DTLS 1.2 path.
    fn accept13(&mut self, hello_in: &HelloIn<'_>, client_addr: &[u8], now: Instant) -> Option<Accepted> {
        let cfg = &self.config.shared;
        if !cfg.tls13() {
            return None;
        }
        let Ok(HandshakePayload::ClientHello(hello)) =
            HandshakePayload::decode_dtls(HandshakeType::ClientHello, hello_in.body, Dialect::Tls12)
        else {
            return None;
        };
        if !hello
            .supported_versions()
            .is_some_and(|v| v.contains(&ProtocolVersion::DTLSv1_3))
        {
            return None;
        }
        let open = |retry: Option<Box<StatelessRetry>>| {
            let Ok(mut conn) =
                DtlsConnection::server_with_retry(self.config.clone(), self.dtls.clone(), retry)
            else {
                return Accepted::Dropped;
            };
            // Errors are kept in the connection (and its alert queued).
            let _ = conn.recv_datagram(hello_in.datagram, now);
            Accepted::Connection(Box::new(conn))
        };
        // The cookie binds the client address and the hello's random (the second hello
        // repeats it, RFC 8446 4.1.2).
        // A cookie that does not check out (another address, tampered, expired) is dropped:
        // a second HelloRetryRequest would end the client's handshake (RFC 8446 4.1.4), and
        // the DTLS 1.2 path would answer a DTLS 1.3 retry with a HelloVerifyRequest.
        if let Some(cookie) = hello.cookie() {
            let Some(retry) = self
                .cookies
                .check(cookie, client_addr, &hello.random)
                .and_then(|payload| parse_retry_cookie(payload, cookie, &hello.session_id))
            else {
                return Some(Accepted::Dropped);
            };
            return Some(open(Some(Box::new(retry))));
        }
        // What the connection would choose: our first suite the client offers, and a share
        // to ask for unless the client sent one in a group we take (server13's rules).
        let Some(suite) = cfg
            .suites
            .iter()
            .find(|s| hello.cipher_suites.contains(s))
            .and_then(|s| crate::crypto::suites::tls13_suite(*s))
        else {
            // No suite in common: the connection sends the alert.
            return Some(open(None));
        };
        let shares = hello.key_shares().unwrap_or(&[]);
        let offered = hello.supported_groups().unwrap_or(&[]);
        let preferred = cfg.groups.iter().find(|g| offered.contains(g));
        let group = if let Some(g) =
            preferred.filter(|g| kx::is_hybrid(**g) && !shares.iter().any(|s| s.group == **g))
        {
            // Our first choice is a hybrid the client listed but left out of this hello
            // (ours always does in DTLS: the share does not fit one datagram): this retry is
            // sent anyway, so it asks for the hybrid at no extra round trip.
            Some(*g)
        } else if cfg.groups.iter().any(|g| shares.iter().any(|s| s.group == *g)) {
            None
        } else {
            match cfg.groups.iter().find(|g| offered.contains(g)) {
                Some(g) => Some(*g),
                None => return Some(open(None)),
            }
        };
        let body = hello_in.body;
        let mut tls = Vec::with_capacity(4 + body.len());
        tls.push(HandshakeType::ClientHello.get());
        tls.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        tls.extend_from_slice(body);
        let mut payload = Vec::with_capacity(4 + 48);
        payload.extend_from_slice(&suite.suite.get().to_be_bytes());
        payload.extend_from_slice(&group.map_or(0, |g| g.get()).to_be_bytes());
        payload.extend_from_slice(&suite.hash.hash(&tls));
        let cookie = self.cookies.make(client_addr, &hello.random, &payload);
        let hrr = server13::hello_retry_request(
            (ProtocolVersion::DTLSv1_3, ProtocolVersion::DTLSv1_2),
            &hello.session_id,
            suite,
            group,
            &cookie,
        );
        // RFC 9147 5.2: the HelloRetryRequest carries the hello's message_seq; like the
        // HelloVerifyRequest, its record reuses the hello's sequence number.
        let msg = crate::dtls::fragment::dtls_framing(
            &HandshakePayload::HelloRetryRequest(hrr).encode(),
            hello_in.message_seq,
        );
        Some(Accepted::HelloRetryRequest(handshake_record(
            ProtocolVersion::DTLSv1_2,
            hello_in.record_seq,
            &msg,
        )))
    }
}

/// The choices a stateless HelloRetryRequest cookie carries: suite (2 bytes), requested
/// group (2 bytes, 0 for none), Hash(ClientHello1).
fn parse_retry_cookie(payload: &[u8], cookie: &[u8], session_id: &[u8]) -> Option<StatelessRetry> {
    let suite = CipherSuite::from(u16::from_be_bytes([*payload.first()?, *payload.get(1)?]));
    let suite = crate::crypto::suites::tls13_suite(suite)?;
    let group = u16::from_be_bytes([*payload.get(2)?, *payload.get(3)?]);
    let ch1_hash = payload.get(4..)?;
    if ch1_hash.len() != suite.hash.output_len() {
        return None;
    }
    Some(StatelessRetry {
        suite,
        group: (group != 0).then(|| NamedGroup::from(group)),
        ch1_hash: ch1_hash.to_vec(),
        cookie: cookie.to_vec(),
        session_id: session_id.to_vec(),
    })
}

/// The random, legacy_session_id and TLS 1.3 cookie extension of a ClientHello of which
/// only a prefix (the first fragment) is at hand, if the extensions that prefix holds whole
/// include a cookie (RFC 8446 4.1.2 layout, with the DTLS legacy_cookie, RFC 9147 5.3).
fn cookie_in_hello_prefix(body: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let mut r = Reader::new(body);
    r.take(2, "legacy_version").ok()?;
    let random = r.take(32, "random").ok()?;
    let session_id = r.vec_bytes(LenPrefix::U8, "legacy_session_id").ok()?;
    r.vec_bytes(LenPrefix::U8, "legacy_cookie").ok()?;
    r.vec_bytes(LenPrefix::U16, "cipher_suites").ok()?;
    r.vec_bytes(LenPrefix::U8, "legacy_compression_methods").ok()?;
    r.take(2, "extensions length").ok()?; // the extensions' total length (the prefix holds only some of them)
    while let Ok(typ) = r.u16("extension_type") {
        let data = r.vec_bytes(LenPrefix::U16, "extension_data").ok()?;
        if typ == ExtensionType::Cookie.get() {
            let mut c = Reader::new(data);
            let cookie = c.vec_bytes(LenPrefix::U16, "cookie").ok()?;
            return (!cookie.is_empty() && c.expect_empty("cookie").is_ok())
                .then_some((random, session_id, cookie));
        }
    }
    None
}

/// An epoch-0 handshake record carrying `msg`, sent under record sequence number `seq`.
fn handshake_record(version: ProtocolVersion, seq: u64, msg: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(13 + msg.len());
    PlaintextHeader {
        content_type: ContentType::Handshake,
        version,
        epoch: 0,
        seq,
        length: msg.len() as u16,
    }
    .encode(&mut out);
    out.extend_from_slice(msg);
    out
}
