//! Drivers for the cargo-fuzz targets (feature `fuzzing`): deterministic randomness, a fixed
//! clock and the test PKI, so every crash replays exactly.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::codec::{Codec, HandshakeType, NamedGroup, ProtocolVersion, Reader};
use crate::conn::{ClientConfigBuilder, ServerConfigBuilder};
use crate::crypto::rand::RandomSource;
use crate::dtls::{
    Accepted, Ack, DtlsAcceptor, DtlsConnection, HandshakeHeader, PlaintextHeader, ReplayWindow,
};
use crate::msgs::{AlertMessage, Dialect, HandshakePayload, Tls12Payload};
use crate::pki::{verify_chain, Crl, KeyPurpose, ServerName, VerifyOptions};
use crate::pki::{TrustAnchors, WebPkiServerVerifier};
use crate::{CertifiedKey, ClientConfig, Connection, Error, FixedClock, ServerConfig};

/// A deterministic byte stream (SplitMix64): not random, only repeatable.
#[derive(Debug, Default)]
pub struct CountingRandom(AtomicU64);

impl CountingRandom {
    /// A stream starting at `seed`: the fuzz client and server use different seeds, or their
    /// session IDs, randoms and key shares would coincide when they talk to each other.
    pub fn starting_at(seed: u64) -> Self {
        CountingRandom(AtomicU64::new(seed))
    }
}

impl RandomSource for CountingRandom {
    fn fill(&self, buf: &mut [u8]) -> Result<(), Error> {
        for chunk in buf.chunks_mut(8) {
            let mut z = self.0.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
        }
        Ok(())
    }
}

/// 2030-01-01, inside the test certificates' validity.
pub const NOW: u64 = 1_893_456_000;

/// 2024-01-01, the validation time of most x509-limbo cases (seeds for the `x509` target).
pub const LIMBO_TIME: u64 = 1_704_067_200;

/// The test CA of `vectors/ca.pem`.
pub fn anchors() -> TrustAnchors {
    TrustAnchors::from_pem(include_bytes!("../vectors/ca.pem")).expect("embedded CA parses")
}

/// The fuzz client's builder: counting randomness from zero and the fixed clock. The corpus
/// generator uses it too, so that recorded server flights answer exactly this client's
/// ClientHello and replay past the key exchange.
pub fn client_builder() -> ClientConfigBuilder {
    ClientConfig::builder(Arc::new(WebPkiServerVerifier::new(anchors())))
        .random(Arc::new(CountingRandom::default()))
        .time(Arc::new(FixedClock(NOW)))
}

/// Where the fuzz server's randomness starts (the client's starts at zero).
pub const SERVER_SEED: u64 = 0x5e4e_5e4e_0000_0000;

/// The fuzz server's builder, like [`client_builder`]. Its key is Ed25519, whose signatures
/// are deterministic (ECDSA and RSA-PSS draw random numbers inside ring), so a recorded client
/// flight replays through the Finished. It takes the post-quantum hybrids after the
/// classical groups: the default client's seeds (X25519MLKEM768 and x25519 shares) settle on
/// x25519, while a hybrid-only ClientHello seed reaches the ML-KEM encapsulation-key checks.
pub fn server_builder() -> ServerConfigBuilder {
    let key = CertifiedKey::from_pem(
        include_bytes!("../vectors/localhost-ed25519.pem"),
        include_bytes!("../vectors/localhost-ed25519.key"),
    )
    .expect("embedded test key parses");
    ServerConfig::builder(key)
        .groups(&[
            NamedGroup::x25519,
            NamedGroup::secp256r1,
            NamedGroup::secp384r1,
            NamedGroup::X25519MLKEM768,
            NamedGroup::SecP256r1MLKEM768,
            NamedGroup::SecP384r1MLKEM1024,
        ])
        .random(Arc::new(CountingRandom::starting_at(SERVER_SEED)))
        .time(Arc::new(FixedClock(NOW)))
}

pub fn client_config() -> Arc<ClientConfig> {
    client_builder().build().expect("default client config is valid")
}

pub fn server_config() -> Arc<ServerConfig> {
    server_builder().build().expect("default server config is valid")
}

fn drive(mut conn: Connection, data: &[u8]) {
    let mut out = Vec::new();
    let _ = conn.write_tls(&mut out);
    for chunk in data.chunks(1 + data.first().copied().unwrap_or(0) as usize * 16) {
        let mut rd = chunk;
        while !rd.is_empty() {
            if !matches!(conn.read_tls(&mut rd), Ok(n) if n > 0) {
                break;
            }
            let failed = conn.process_new_packets().is_err();
            out.clear();
            while matches!(conn.write_tls(&mut out), Ok(n) if n > 0) {}
            if failed {
                return;
            }
        }
    }
}

/// A client fed `data` as the server's bytes.
pub fn drive_client(data: &[u8]) {
    if let Ok(conn) = Connection::client(client_config(), "localhost") {
        drive(conn, data);
    }
}

/// A server fed `data` as the client's bytes.
pub fn drive_server(data: &[u8]) {
    if let Ok(conn) = Connection::server(server_config()) {
        drive(conn, data);
    }
}

/// Deframes `data` and decodes every handshake message found in plaintext records.
pub fn decode_records(data: &[u8]) {
    let mut deframer = crate::record::Deframer::default();
    deframer.push(data);
    let mut joiner = crate::record::HandshakeJoiner::default();
    while let Ok(Some((header, payload))) = deframer.pop() {
        if header.typ == crate::codec::ContentType::Handshake {
            joiner.push(payload);
            while let Ok(Some(msg)) = joiner.pop(crate::handshake::check_message_len) {
                let _ =
                    crate::msgs::HandshakePayload::decode(msg.typ, msg.body(), crate::msgs::Dialect::Tls13);
            }
        }
    }
}

/// Which decoder [`message_round_trip`] feeds: the low two bits of the first input byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageFamily {
    /// A handshake body in the TLS 1.3 dialect.
    Tls13 = 0,
    /// A handshake body in the TLS 1.2 dialect (both `HandshakePayload` and `Tls12Payload`).
    Tls12 = 1,
    /// A DTLS handshake header and record header, then an ACK body.
    Dtls = 2,
    /// An alert.
    Alert = 3,
}

/// The `message` target's input for a handshake body: family, type, body.
pub fn message_input(family: MessageFamily, typ: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![family as u8, typ];
    out.extend_from_slice(body);
    out
}

/// Decode, encode, decode: every decoder that accepts `data` must accept its own encoding of
/// the result, give the same value back, and encode that value to the same bytes. Panics
/// (the fuzzer's crash) when one does not.
pub fn message_round_trip(data: &[u8]) {
    let [sel, typ, body @ ..] = data else {
        return;
    };
    let typ = HandshakeType::from(*typ);
    match sel & 3 {
        0 => handshake_round_trip(typ, body, Dialect::Tls13),
        1 => {
            handshake_round_trip(typ, body, Dialect::Tls12);
            if let Ok(Some(m)) = Tls12Payload::decode(typ, body) {
                let mut enc = Vec::new();
                m.encode_body(&mut enc);
                let again = Tls12Payload::decode(m.typ(), &enc);
                assert_eq!(
                    again,
                    Ok(Some(m.clone())),
                    "TLS 1.2 {typ:?} re-decodes differently"
                );
                assert_eq!(
                    m.encode()[4..],
                    enc[..],
                    "TLS 1.2 {typ:?} encode_body/encode disagree"
                );
            }
        }
        2 => {
            let mut r = Reader::new(body);
            if let Ok(h) = HandshakeHeader::decode(&mut r) {
                let mut enc = Vec::new();
                h.encode(&mut enc);
                assert_eq!(HandshakeHeader::decode(&mut Reader::new(&enc)), Ok(h));
            }
            let mut r = Reader::new(body);
            if let Ok(h) = PlaintextHeader::decode(&mut r) {
                let mut enc = Vec::new();
                h.encode(&mut enc);
                assert_eq!(PlaintextHeader::decode(&mut Reader::new(&enc)), Ok(h));
            }
            if let Ok(ack) = Ack::decode(body) {
                assert_eq!(Ack::decode(&ack.to_bytes()), Ok(ack));
            }
        }
        _ => {
            if let Ok(a) = AlertMessage::read_exact(body, "alert") {
                assert_eq!(AlertMessage::read_exact(&a.to_vec(), "alert"), Ok(a));
            }
        }
    }
}

fn handshake_round_trip(typ: HandshakeType, body: &[u8], dialect: Dialect) {
    let Ok(first) = HandshakePayload::decode(typ, body, dialect) else {
        return;
    };
    let mut enc = Vec::new();
    first.encode_body(&mut enc);
    let second = HandshakePayload::decode(first.typ(), &enc, dialect);
    assert_eq!(
        second.as_ref(),
        Ok(&first),
        "{typ:?} ({dialect:?}) re-decodes differently"
    );
    let mut again = Vec::new();
    first.encode_body(&mut again);
    assert_eq!(again, enc, "{typ:?} encoding is not stable");
}

/// The `x509` target's input: a flags byte, then certificates each behind a u16 length.
/// Flags: bit 0 client (else server) purpose, bit 1 check the name `localhost`, bit 2 add the
/// last certificate as an extra anchor, bit 3 read the last one as a CRL instead, bit 4
/// require digitalSignature, bit 5 verify at [`LIMBO_TIME`] (x509-limbo's usual validation
/// time) instead of [`NOW`].
pub fn x509_input(flags: u8, certs: &[&[u8]]) -> Vec<u8> {
    let mut out = vec![flags];
    for c in certs {
        let len = u16::try_from(c.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&c[..usize::from(len)]);
    }
    out
}

/// Path building and validation on an arbitrary chain against the test CA (and, with a flag,
/// one arbitrary extra anchor or CRL), plus the raw certificate parsers on each certificate.
pub fn verify_arbitrary_chain(data: &[u8]) {
    let [flags, rest @ ..] = data else {
        return;
    };
    let mut certs: Vec<&[u8]> = Vec::new();
    let mut r = Reader::new(rest);
    while let Ok(len) = r.u16("cert length") {
        let Ok(der) = r.take(usize::from(len), "cert") else {
            break;
        };
        certs.push(der);
    }
    let Some((&ee, mut intermediates)) = certs.split_first() else {
        return;
    };
    let mut anchors = anchors();
    let mut crls = Vec::new();
    if let Some((&last, head)) = intermediates.split_last() {
        if flags & 8 != 0 {
            if let Ok(crl) = Crl::from_der(last) {
                crls.push(crl);
            }
            intermediates = head;
        } else if flags & 4 != 0 {
            let _ = anchors.add_der(last);
            intermediates = head;
        }
    }
    for der in &certs {
        let _ = crate::pki::end_entity_spki(der);
    }
    let purpose = if flags & 1 != 0 {
        KeyPurpose::ClientAuth
    } else {
        KeyPurpose::ServerAuth
    };
    let name = ServerName::parse("localhost").ok();
    let name = if flags & 2 != 0 { name.as_ref() } else { None };
    if let Some(name) = name {
        let _ = crate::pki::cert_names(ee, name);
    }
    let options = VerifyOptions {
        max_intermediates: None,
        require_digital_signature: flags & 16 != 0,
    };
    let now = if flags & 32 != 0 { LIMBO_TIME } else { NOW };
    let _ = verify_chain(ee, intermediates, &anchors, purpose, name, now, &crls, &options);
}

/// The replay window against a model that remembers every number marked. Each 3-byte step:
/// an op byte (bit 0: mark after check, bits 1-2: how to pick the number) and a u16 offset.
pub fn replay_window_against_model(data: &[u8]) {
    let mut window = ReplayWindow::new();
    let mut seen = std::collections::HashSet::new();
    let mut highest: Option<u64> = None;
    for step in data.chunks_exact(3) {
        let off = u64::from(u16::from_be_bytes([step[1], step[2]]));
        let base = highest.unwrap_or(0);
        let seq = match (step[0] >> 1) & 3 {
            0 => base.saturating_sub(off & 0x7f),
            1 => base.saturating_add(off & 0xff),
            2 => base.saturating_sub(off),
            _ => u64::MAX - off,
        };
        let model = !seen.contains(&seq) && highest.is_none_or(|h| seq > h || h - seq < ReplayWindow::SIZE);
        assert_eq!(window.check(seq), model, "check({seq}) after highest {highest:?}");
        if step[0] & 1 != 0 && model {
            window.mark(seq);
            seen.insert(seq);
            highest = Some(highest.map_or(seq, |h| h.max(seq)));
        }
        assert_eq!(window.highest(), highest);
        assert_eq!(window.next_expected(), highest.map_or(0, |h| h.saturating_add(1)));
    }
}

/// One step of a `dtls_client` / `dtls_server` input (see [`dtls_step`] for the bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DtlsStep<'a> {
    /// A datagram from the peer (`recv_datagram`, or the acceptor's `accept` until it opens
    /// the connection).
    Datagram(&'a [u8]),
    /// Advance the clock by this many quarter seconds (1..=63), or with 0 to the connection's
    /// `poll_timeout`, then call `handle_timeout`.
    Timeout(u8),
    /// Drain `poll_datagram`, the events and the plaintext.
    Poll,
    /// `request_key_update(ask_peer)` (DTLS 1.3; refused by a DTLS 1.2 connection).
    KeyUpdate(bool),
    /// Write this many bytes (1..=63) of application data.
    Write(u8),
    /// `send_close_notify`.
    Close,
}

/// Flags byte of a DTLS input: bit 0 (server only) bypasses the [`DtlsAcceptor`]'s cookie
/// exchange, bit 1 uses the smallest MTU, so that every flight fragments, bits 2-3 pick the
/// versions the config enables (see [`dtls_versions`]).
pub const DTLS_NO_COOKIE: u8 = 1;
/// See [`DTLS_NO_COOKIE`].
pub const DTLS_SMALL_MTU: u8 = 2;
/// Flags bits 2-3 = 1: TLS 1.3 only, so DTLS 1.3 only.
pub const DTLS_V13: u8 = 1 << 2;
/// Flags bits 2-3 = 2 (or 3): TLS 1.3 and 1.2, so DTLS 1.3 and 1.2 offered (or accepted).
/// With bits 2-3 = 0 the config enables TLS 1.2 only: DTLS 1.2, as the first seeds were.
pub const DTLS_V13_V12: u8 = 2 << 2;
/// Flags bit 4: offer (client) or answer (server) 4-byte connection ids (RFC 9146, RFC 9147
/// 9), so `tls12_cid` records and C-bit headers are parsed.
pub const DTLS_CID: u8 = 1 << 4;

/// Flags bit 5: datagrams go through `recv_datagram_in_place` (the zero-copy receive path),
/// each a call after call until it is all taken, instead of `recv_datagram`.
pub const DTLS_IN_PLACE: u8 = 1 << 5;

/// The versions a DTLS input's flags enable (DTLS 1.3 runs on the TLS 1.3 settings).
pub fn dtls_versions(flags: u8) -> &'static [ProtocolVersion] {
    match (flags >> 2) & 3 {
        0 => &[ProtocolVersion::TLSv1_2],
        1 => &[ProtocolVersion::TLSv1_3],
        _ => &[ProtocolVersion::TLSv1_3, ProtocolVersion::TLSv1_2],
    }
}

/// The `dtls_client` target's config: the `client` target's, with the flags' versions.
pub fn dtls_client_config(flags: u8) -> Arc<ClientConfig> {
    client_builder()
        .versions(dtls_versions(flags))
        .build()
        .expect("fuzz client config is valid")
}

/// The `dtls_server` target's config: the `server` target's, with the flags' versions.
pub fn dtls_server_config(flags: u8) -> Arc<ServerConfig> {
    server_builder()
        .versions(dtls_versions(flags))
        .build()
        .expect("fuzz server config is valid")
}

/// Appends `step`'s bytes to a DTLS input. The low two bits of the op byte pick the kind: 0 a
/// datagram (u16 length, then the bytes), 1 a timeout (upper six bits: quarter seconds), 2 a
/// poll or, with upper bits 1 or 2, a KeyUpdate (2: asking the peer to update too), 3 a write
/// (upper six bits: length) or, with length 0, close_notify.
pub fn dtls_step(out: &mut Vec<u8>, step: DtlsStep<'_>) {
    match step {
        DtlsStep::Datagram(d) => {
            let len = u16::try_from(d.len()).unwrap_or(u16::MAX);
            out.push(0);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(&d[..usize::from(len)]);
        }
        DtlsStep::Timeout(q) => out.push(1 | (q & 63) << 2),
        DtlsStep::Poll => out.push(2),
        DtlsStep::KeyUpdate(ask) => out.push(2 | if ask { 2 << 2 } else { 1 << 2 }),
        DtlsStep::Write(n) => out.push(3 | (n & 63) << 2),
        DtlsStep::Close => out.push(3),
    }
}

/// The client address the fuzz server's acceptor binds its cookies to.
pub const DTLS_CLIENT_ADDR: &[u8] = b"192.0.2.1:4433";

/// The `DtlsConfig` a flags byte selects.
pub fn dtls_config(flags: u8) -> crate::dtls::DtlsConfig {
    crate::dtls::DtlsConfig {
        mtu: if flags & DTLS_SMALL_MTU != 0 {
            crate::dtls::conn::MIN_MTU
        } else {
            crate::dtls::conn::DEFAULT_MTU
        },
        connection_id: (flags & DTLS_CID != 0).then_some(4),
        ..crate::dtls::DtlsConfig::default()
    }
}

/// The fuzz clock: `now` only moves forward, by what the input says.
pub fn dtls_advance(now: Instant, conn: Option<&DtlsConnection>, quarters: u8) -> Instant {
    if quarters == 0 {
        conn.and_then(DtlsConnection::poll_timeout)
            .map_or(now, |t| t.max(now))
    } else {
        now + Duration::from_millis(250 * u64::from(quarters))
    }
}

/// Splits a DTLS input into its steps (a datagram cut short by the end of the input keeps
/// what is there).
pub fn dtls_steps(mut data: &[u8]) -> impl Iterator<Item = DtlsStep<'_>> {
    std::iter::from_fn(move || {
        let (&op, rest) = data.split_first()?;
        data = rest;
        Some(match op & 3 {
            0 => {
                let len = match data {
                    [hi, lo, ..] => usize::from(u16::from_be_bytes([*hi, *lo])),
                    _ => 0,
                };
                let rest = data.get(2..).unwrap_or(&[]);
                let (d, tail) = rest.split_at(len.min(rest.len()));
                data = tail;
                DtlsStep::Datagram(d)
            }
            1 => DtlsStep::Timeout(op >> 2),
            2 => match op >> 2 {
                1 => DtlsStep::KeyUpdate(false),
                2 => DtlsStep::KeyUpdate(true),
                _ => DtlsStep::Poll,
            },
            _ if op >> 2 == 0 => DtlsStep::Close,
            _ => DtlsStep::Write(op >> 2),
        })
    })
}

/// Drains a connection's output, events and plaintext; every datagram must fit the MTU.
/// Returns the plaintext bytes read.
fn dtls_drain(conn: &mut DtlsConnection, mtu: usize) -> usize {
    let mut buf = vec![0u8; mtu];
    while let Some(n) = conn.poll_datagram(&mut buf) {
        assert!(n <= mtu, "datagram of {n} bytes over the MTU {mtu}");
    }
    while conn.next_event().is_some() {}
    let mut sink = Vec::new();
    let _ = std::io::Read::read_to_end(&mut conn.reader(), &mut sink);
    sink.len()
}

/// Takes in datagram `d` with `recv_datagram_in_place`, in a copy, call after call until it
/// is all taken, after reading what waits for `reader()` (which the in-place path leaves
/// first). Every answer must lie inside what was given and move on. Returns the plaintext
/// bytes delivered.
fn dtls_recv_in_place(conn: &mut DtlsConnection, d: &[u8], now: Instant) -> usize {
    let mut sink = Vec::new();
    let _ = std::io::Read::read_to_end(&mut conn.reader(), &mut sink);
    let mut got = sink.len();
    let mut buf = d.to_vec();
    let mut at = 0;
    while at < buf.len() {
        let rest = &mut buf[at..];
        let len = rest.len();
        let Ok(r) = conn.recv_datagram_in_place(rest, now) else {
            break;
        };
        assert!(
            0 < r.consumed && r.consumed <= len,
            "consumed {} of {len}",
            r.consumed
        );
        if let Some(p) = &r.plaintext {
            assert!(
                p.start <= p.end && p.end <= r.consumed,
                "plaintext {p:?} past {}",
                r.consumed
            );
        }
        got += r.data(rest).len();
        at += r.consumed;
    }
    got
}

/// Where a DTLS input left its connection (for the seed checks and the corpus generator).
#[derive(Debug)]
pub struct DtlsReplay {
    pub conn: DtlsConnection,
    /// Application bytes the connection delivered.
    pub plaintext: usize,
}

fn dtls_run<'a>(
    mut conn: DtlsConnection,
    flags: u8,
    mut now: Instant,
    steps: impl Iterator<Item = DtlsStep<'a>>,
) -> DtlsReplay {
    let mtu = dtls_config(flags).mtu;
    let mut plaintext = 0;
    for step in steps {
        match step {
            DtlsStep::Datagram(d) if flags & DTLS_IN_PLACE != 0 => {
                plaintext += dtls_recv_in_place(&mut conn, d, now);
            }
            DtlsStep::Datagram(d) => {
                let _ = conn.recv_datagram(d, now);
            }
            DtlsStep::Timeout(q) => {
                now = dtls_advance(now, Some(&conn), q);
                let _ = conn.handle_timeout(now);
            }
            DtlsStep::Poll => plaintext += dtls_drain(&mut conn, mtu),
            DtlsStep::KeyUpdate(ask) => {
                let _ = conn.request_key_update(ask);
            }
            DtlsStep::Write(n) => {
                let _ = std::io::Write::write_all(&mut conn.writer(), &vec![b'a'; usize::from(n)]);
            }
            DtlsStep::Close => conn.send_close_notify(),
        }
    }
    plaintext += dtls_drain(&mut conn, mtu);
    DtlsReplay { conn, plaintext }
}

/// A DTLS client (1.2, 1.3 or both offered, as the flags say) fed `data`: a flags byte,
/// then [`DtlsStep`]s. `None` when the input is empty.
pub fn replay_dtls_client(data: &[u8]) -> Option<DtlsReplay> {
    let (&flags, rest) = data.split_first()?;
    let now = Instant::now();
    let conn =
        DtlsConnection::client(dtls_client_config(flags), "localhost", dtls_config(flags), now).ok()?;
    Some(dtls_run(conn, flags, now, dtls_steps(rest)))
}

/// A DTLS server (1.2, 1.3 or both, as the flags say) fed `data`: a flags byte, then
/// [`DtlsStep`]s. Unless the flags bypass it, datagrams go to a [`DtlsAcceptor`] (its
/// HelloVerifyRequest / HelloRetryRequest answers dropped) until one carries a valid cookie
/// and opens the connection; `None` if none does.
pub fn replay_dtls_server(data: &[u8]) -> Option<DtlsReplay> {
    let (&flags, rest) = data.split_first()?;
    let cfg = dtls_config(flags);
    let mut now = Instant::now();
    let mut steps = dtls_steps(rest);
    let conn = if flags & DTLS_NO_COOKIE != 0 {
        DtlsConnection::server(dtls_server_config(flags), cfg).ok()?
    } else {
        let mut acceptor = DtlsAcceptor::new(dtls_server_config(flags), cfg, now).ok()?;
        loop {
            match steps.next()? {
                DtlsStep::Datagram(d) => {
                    if let Accepted::Connection(c) = acceptor.accept(d, DTLS_CLIENT_ADDR, now) {
                        break *c;
                    }
                }
                DtlsStep::Timeout(q) => now = dtls_advance(now, None, q),
                _ => {}
            }
        }
    };
    Some(dtls_run(conn, flags, now, steps))
}

/// The `dtls_client` target: [`replay_dtls_client`].
pub fn drive_dtls_client(data: &[u8]) {
    let _ = replay_dtls_client(data);
}

/// The `dtls_server` target: [`replay_dtls_server`].
pub fn drive_dtls_server(data: &[u8]) {
    let _ = replay_dtls_server(data);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtls_steps_round_trip() {
        let steps = [
            DtlsStep::Datagram(&[22, 0xfe, 0xfd]),
            DtlsStep::Timeout(0),
            DtlsStep::Timeout(63),
            DtlsStep::Poll,
            DtlsStep::KeyUpdate(false),
            DtlsStep::KeyUpdate(true),
            DtlsStep::Write(20),
            DtlsStep::Close,
            DtlsStep::Datagram(&[]),
        ];
        let mut input = Vec::new();
        for s in steps {
            dtls_step(&mut input, s);
        }
        assert_eq!(dtls_steps(&input).collect::<Vec<_>>(), steps);
        // A datagram cut short by the end of the input keeps what is there.
        assert_eq!(
            dtls_steps(&[0, 0, 9, 1, 2]).collect::<Vec<_>>(),
            [DtlsStep::Datagram(&[1, 2])]
        );
    }

    /// The committed DTLS seeds (and every prefix of one, cutting a datagram anywhere) run
    /// through the fuzz drivers, as a plain test.
    #[test]
    fn dtls_seeds_replay_through_the_drivers() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
        let mut n = 0;
        for (target, drive) in [
            ("dtls_client", drive_dtls_client as fn(&[u8])),
            ("dtls_server", drive_dtls_server),
        ] {
            for e in std::fs::read_dir(root.join(target)).unwrap().flatten() {
                n += 1;
                let data = std::fs::read(e.path()).unwrap();
                for cut in (0..=data.len()).step_by(97) {
                    drive(&data[..cut]);
                }
                drive(&data);
            }
        }
        assert!(n >= 10, "{n} DTLS seeds");
    }

    /// Every committed DTLS seed (recorded by `examples/fuzz_corpus.rs`) replays through the
    /// fuzz driver to a completed handshake at the version its flags and peer gave, with the
    /// peer's data (client 40 bytes, server 20) and its close_notify; the KeyUpdate seeds end
    /// with both directions one epoch past application_traffic_secret_0. Each does so twice:
    /// with `recv_datagram`, and with its datagrams opened in place.
    #[test]
    fn dtls_seeds_replay_to_completed_handshakes() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
        let mut dtls13 = 0;
        for (target, replay, data_len) in [
            (
                "dtls_client",
                replay_dtls_client as fn(&[u8]) -> Option<DtlsReplay>,
                40,
            ),
            ("dtls_server", replay_dtls_server, 20),
        ] {
            for (e, in_place) in std::fs::read_dir(root.join(target))
                .unwrap()
                .flatten()
                .flat_map(|e| [(e.path(), false), (e.path(), true)])
            {
                let name = format!(
                    "{}{}",
                    e.file_name().unwrap_or_default().to_string_lossy(),
                    if in_place { " (in place)" } else { "" }
                );
                let mut data = std::fs::read(&e).unwrap();
                if in_place {
                    // The same datagrams through `recv_datagram_in_place`.
                    data[0] |= DTLS_IN_PLACE;
                }
                let r = replay(&data).unwrap_or_else(|| panic!("{target}/{name}: never accepted"));
                let c = &r.conn;
                assert!(
                    c.error().is_none() && !c.is_handshaking() && c.peer_has_closed(),
                    "{target}/{name}: {:?} handshaking={} closed={}",
                    c.error(),
                    c.is_handshaking(),
                    c.peer_has_closed()
                );
                assert_eq!(r.plaintext, data_len, "{target}/{name}");
                let want = if name.starts_with("dtls13") {
                    dtls13 += 1;
                    ProtocolVersion::DTLSv1_3
                } else {
                    ProtocolVersion::DTLSv1_2
                };
                assert_eq!(c.protocol_version(), Some(want), "{target}/{name}");
                if name.contains("key-update") {
                    assert_eq!(c.write_epoch(), 4, "{target}/{name}");
                    assert_eq!(c.read_epoch(), 4, "{target}/{name}");
                }
            }
        }
        assert!(dtls13 >= 10, "{dtls13} DTLS 1.3 seeds");
    }
}
