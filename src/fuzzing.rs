//! Drivers for the cargo-fuzz targets (feature `fuzzing`): deterministic randomness, a fixed
//! clock and the test PKI, so every crash replays exactly.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::codec::{Codec, HandshakeType, Reader};
use crate::conn::{ClientConfigBuilder, ServerConfigBuilder};
use crate::crypto::rand::RandomSource;
use crate::dtls::{Ack, HandshakeHeader, PlaintextHeader, ReplayWindow};
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
/// flight replays through the Finished.
pub fn server_builder() -> ServerConfigBuilder {
    let key = CertifiedKey::from_pem(
        include_bytes!("../vectors/localhost-ed25519.pem"),
        include_bytes!("../vectors/localhost-ed25519.key"),
    )
    .expect("embedded test key parses");
    ServerConfig::builder(key)
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
            while let Ok(Some(msg)) = joiner.pop(crate::msgs::MAX_HANDSHAKE_MESSAGE) {
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
