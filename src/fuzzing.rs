//! Drivers for the cargo-fuzz targets (feature `fuzzing`): deterministic randomness, a fixed
//! clock and the test PKI, so every crash replays exactly.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::crypto::rand::RandomSource;
use crate::pki::{TrustAnchors, WebPkiServerVerifier};
use crate::{CertifiedKey, ClientConfig, Connection, Error, FixedClock, ServerConfig};

/// A deterministic byte stream (SplitMix64): not random, only repeatable.
#[derive(Debug, Default)]
pub struct CountingRandom(AtomicU64);

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
const NOW: u64 = 1_893_456_000;

pub fn client_config() -> Arc<ClientConfig> {
    let anchors = TrustAnchors::from_pem(include_bytes!("../vectors/ca.pem")).expect("embedded CA parses");
    ClientConfig::builder(Arc::new(WebPkiServerVerifier::new(anchors)))
        .random(Arc::new(CountingRandom::default()))
        .time(Arc::new(FixedClock(NOW)))
        .build()
        .expect("default client config is valid")
}

pub fn server_config() -> Arc<ServerConfig> {
    let key = CertifiedKey::from_pem(
        include_bytes!("../vectors/localhost-ecdsa-p256.pem"),
        include_bytes!("../vectors/localhost-ecdsa-p256.key"),
    )
    .expect("embedded test key parses");
    ServerConfig::builder(key)
        .random(Arc::new(CountingRandom::default()))
        .time(Arc::new(FixedClock(NOW)))
        .build()
        .expect("default server config is valid")
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
