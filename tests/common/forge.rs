//! Records forged with keys taken from the key log: lets a test play a hostile peer that holds
//! the traffic keys (floods of KeyUpdate, NewSessionTicket, empty records, ...), which our own
//! well-behaved connections would never send.

use std::sync::{Arc, Mutex};

use sanstls::codec::CipherSuite;
use sanstls::crypto::key_schedule::next_traffic_secret;
use sanstls::crypto::suites::AeadAlg;
use sanstls::crypto::{HashAlg, RecordKey};
use sanstls::{Connection, KeyLog};

use super::{client_builder, handshake, pair, server_builder};

/// Every secret logged, by label.
#[derive(Debug, Default)]
pub struct Secrets(Mutex<Vec<(String, Vec<u8>)>>);

impl KeyLog for Secrets {
    fn log(&self, label: &str, _client_random: &[u8], secret: &[u8]) {
        self.0.lock().unwrap().push((label.to_string(), secret.to_vec()));
    }
}

impl Secrets {
    /// The last secret logged under `label`.
    pub fn get(&self, label: &str) -> Vec<u8> {
        let all = self.0.lock().unwrap();
        let found = all.iter().rev().find(|(l, _)| l == label);
        found.unwrap_or_else(|| panic!("{label} not logged")).1.clone()
    }
}

/// TLS 1.3 record protection (TLS_AES_128_GCM_SHA256) under one traffic secret, from the
/// first sequence number on.
pub struct Forge13 {
    secret: Vec<u8>,
    key: RecordKey,
    seq: u64,
}

impl Forge13 {
    pub fn new(secret: &[u8]) -> Self {
        Forge13 {
            secret: secret.to_vec(),
            key: RecordKey::tls13(AeadAlg::Aes128Gcm, HashAlg::Sha256, secret),
            seq: 0,
        }
    }

    /// A protected record: `content || typ`, sealed with the outer header as AAD.
    pub fn record(&mut self, typ: u8, content: &[u8]) -> Vec<u8> {
        let mut inner = content.to_vec();
        inner.push(typ);
        let len = inner.len() + 16;
        let header = [23, 3, 3, (len >> 8) as u8, len as u8];
        self.key.seal_in_place(self.seq, &header, &mut inner).unwrap();
        self.seq += 1;
        let mut out = header.to_vec();
        out.extend_from_slice(&inner);
        out
    }

    /// Opens the next protected record sent under this secret: (content type, content).
    pub fn open(&mut self, record: &[u8]) -> (u8, Vec<u8>) {
        assert_eq!(record[0], 23, "a protected record");
        let mut body = record[5..].to_vec();
        let plain = self.key.open_in_place(self.seq, &record[..5], &mut body).unwrap();
        self.seq += 1;
        // RFC 8446 5.2: the content type is the last non-zero byte.
        let end = plain.iter().rposition(|&b| b != 0).expect("content type");
        (plain[end], plain[..end].to_vec())
    }

    /// Moves to the next traffic secret, as after a KeyUpdate (RFC 8446 7.2).
    pub fn update(&mut self) {
        let next = next_traffic_secret(HashAlg::Sha256, &self.secret);
        *self = Forge13::new(next.as_bytes());
    }
}

/// An established TLS 1.3 pair (TLS_AES_128_GCM_SHA256, no tickets) and the client's key
/// log: `Forge13::new(&log.get("SERVER_TRAFFIC_SECRET_0"))` writes as the server would next.
pub fn established13() -> (Connection, Connection, Arc<Secrets>) {
    let log = Arc::new(Secrets::default());
    let client = client_builder()
        .cipher_suites(&[CipherSuite::TLS_AES_128_GCM_SHA256])
        .key_log(log.clone())
        .build()
        .unwrap();
    let server = server_builder("ecdsa-p256").tickets(0).build().unwrap();
    let (mut c, mut s) = pair(client, server);
    handshake(&mut c, &mut s).unwrap();
    while c.next_event().is_some() {}
    while s.next_event().is_some() {}
    (c, s, log)
}
