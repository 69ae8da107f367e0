//! Secrets leaving the engine, on explicit opt-in only (`enable_secret_extraction`): the
//! record keys in the layout Linux kernel TLS wants, and a serialised connection another
//! process can rebuild (handoff, offload). Both are as secret as the traffic keys: whoever
//! holds them reads and forges the connection. Everything here is zeroized when dropped and
//! never printed by `Debug`.

use std::sync::Arc;

use zeroize::Zeroizing;

use super::{ClientConfig, Connection, ServerConfig};
use crate::codec::{
    put_u16, put_u64, put_u8, put_vec_bytes, CipherSuite, LenPrefix, NamedGroup, ProtocolVersion, Reader,
    SignatureScheme,
};
use crate::common::Side;
use crate::config::Shared;
use crate::crypto::aead::RecordKey;
use crate::crypto::hkdf::Prk;
use crate::crypto::prf;
use crate::crypto::secret::Secret;
use crate::crypto::suites::Tls13Suite;
use crate::crypto::suites::{tls12_suite, tls13_suite, AeadAlg};
use crate::error::{Error, Misuse};
use crate::handshake::{Established12, Established13, Handshake};
use crate::record::{ReadState, RecordVersion, WriteState};

/// `TLS_1_2_VERSION` of `<linux/tls.h>` (kTLS).
pub const KTLS_TLS_1_2_VERSION: u16 = 0x0303;
/// `TLS_1_3_VERSION`.
pub const KTLS_TLS_1_3_VERSION: u16 = 0x0304;
/// `TLS_CIPHER_AES_GCM_128` of `<linux/tls.h>`.
pub const KTLS_CIPHER_AES_GCM_128: u16 = 51;
/// `TLS_CIPHER_AES_GCM_256`.
pub const KTLS_CIPHER_AES_GCM_256: u16 = 52;
/// `TLS_CIPHER_CHACHA20_POLY1305`.
pub const KTLS_CIPHER_CHACHA20_POLY1305: u16 = 54;
/// `TLS_CIPHER_AES_CCM_128` (the kernel has no CCM_8).
pub const KTLS_CIPHER_AES_CCM_128: u16 = 53;

/// One direction's record protection as Linux kTLS takes it (`struct
/// tls12_crypto_info_aes_gcm_128`, `..._aes_gcm_256`, `..._chacha20_poly1305`, used for TLS 1.2
/// and TLS 1.3 alike): for AES-GCM `salt` is the 4-byte implicit part of the nonce and `iv`
/// the 8-byte rest (TLS 1.3: the last 8 bytes of the 12-byte IV; TLS 1.2: the explicit nonce
/// of the next record, which we make the sequence number); for ChaCha20-Poly1305 `iv` is the
/// whole 12-byte IV and `salt` is empty. `rec_seq` is the next record's sequence number,
/// big-endian.
pub struct KtlsCryptoInfo {
    /// `KTLS_TLS_1_2_VERSION` or `KTLS_TLS_1_3_VERSION`.
    pub version: u16,
    /// One of the `KTLS_CIPHER_*` values.
    pub cipher_type: u16,
    /// The IV (see above for its split with `salt`).
    pub iv: Zeroizing<Vec<u8>>,
    /// The traffic key.
    pub key: Zeroizing<Vec<u8>>,
    /// The implicit nonce part (TLS 1.2 GCM) or empty.
    pub salt: Zeroizing<Vec<u8>>,
    /// The next record's sequence number, big-endian.
    pub rec_seq: [u8; 8],
}

impl KtlsCryptoInfo {
    /// The struct's bytes as `setsockopt(SOL_TLS, TLS_TX/TLS_RX)` takes them: the
    /// `tls_crypto_info` header (version, cipher_type in native byte order), then iv, key,
    /// salt, rec_seq (the C structs have no padding).
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(4 + 56));
        out.extend_from_slice(&self.version.to_ne_bytes());
        out.extend_from_slice(&self.cipher_type.to_ne_bytes());
        out.extend_from_slice(&self.iv);
        out.extend_from_slice(&self.key);
        out.extend_from_slice(&self.salt);
        out.extend_from_slice(&self.rec_seq);
        out
    }
}

impl std::fmt::Debug for KtlsCryptoInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KtlsCryptoInfo")
            .field("version", &self.version)
            .field("cipher_type", &self.cipher_type)
            .finish_non_exhaustive()
    }
}

/// Both directions: `tx` for what we send (`TLS_TX`), `rx` for what we receive (`TLS_RX`).
#[derive(Debug)]
pub struct KtlsSecrets {
    /// Our sending direction.
    pub tx: KtlsCryptoInfo,
    /// Our receiving direction.
    pub rx: KtlsCryptoInfo,
}

/// Raw material of one direction.
struct DirectionKeys {
    aead: AeadAlg,
    key: Zeroizing<Vec<u8>>,
    /// 12-byte IV (TLS 1.3, ChaCha20) or 4-byte salt (TLS 1.2 AES-GCM).
    iv: Zeroizing<Vec<u8>>,
    seq: u64,
}

impl DirectionKeys {
    fn ktls(self, tls13: bool) -> KtlsCryptoInfo {
        let version = if tls13 {
            KTLS_TLS_1_3_VERSION
        } else {
            KTLS_TLS_1_2_VERSION
        };
        let seq = self.seq.to_be_bytes();
        let (cipher_type, iv, salt) = match self.aead {
            AeadAlg::ChaCha20Poly1305 => (KTLS_CIPHER_CHACHA20_POLY1305, self.iv.to_vec(), Vec::new()),
            aes => {
                // CCM keeps GCM's salt and IV layout (`struct tls12_crypto_info_aes_ccm_128`).
                let cipher = match aes {
                    AeadAlg::Aes128Gcm => KTLS_CIPHER_AES_GCM_128,
                    AeadAlg::Aes128Ccm | AeadAlg::Aes128Ccm8 => KTLS_CIPHER_AES_CCM_128,
                    _ => KTLS_CIPHER_AES_GCM_256,
                };
                if tls13 {
                    let (salt, iv) = self.iv.split_at(4.min(self.iv.len()));
                    (cipher, iv.to_vec(), salt.to_vec())
                } else {
                    (cipher, seq.to_vec(), self.iv.to_vec())
                }
            }
        };
        KtlsCryptoInfo {
            version,
            cipher_type,
            iv: Zeroizing::new(iv),
            key: self.key,
            salt: Zeroizing::new(salt),
            rec_seq: seq,
        }
    }
}

/// RFC 8446 7.3: key and IV of a TLS 1.3 traffic secret.
fn keys13(aead: AeadAlg, hash: crate::crypto::hash::HashAlg, secret: &Secret, seq: u64) -> DirectionKeys {
    let prk = Prk::new(hash, secret.as_bytes());
    DirectionKeys {
        aead,
        key: Zeroizing::new(prk.expand_label(b"key", &[], aead.key_len()).as_bytes().to_vec()),
        iv: Zeroizing::new(
            prk.expand_label(b"iv", &[], AeadAlg::NONCE_LEN)
                .as_bytes()
                .to_vec(),
        ),
        seq,
    }
}

impl Connection {
    /// Checks the connection may hand its keys out: opted in, established, nothing buffered
    /// either way (what is buffered belongs to the keys' current sequence numbers).
    fn secrets_ready(&mut self) -> Result<(), Error> {
        if !self.controls.secret_extraction {
            return Err(Error::Misuse(Misuse::SecretExtractionOff));
        }
        if self.error.is_some() || !self.handshake.as_ref().is_some_and(|h| h.is_established()) {
            return Err(Error::Misuse(Misuse::HandshakeIncomplete));
        }
        self.encrypt_pending()?;
        if !self.sendbuf.is_empty() || !self.common.queue.is_empty() {
            return Err(Error::Misuse(Misuse::RecordsToSend));
        }
        if self.deframer.buffered() > 0 || !self.joiner.is_empty() || self.buffered_plaintext() > 0 {
            return Err(Error::Misuse(Misuse::InputBuffered));
        }
        Ok(())
    }

    /// (write, read) key material with the next sequence numbers.
    fn direction_keys(&self) -> Result<(DirectionKeys, DirectionKeys), Error> {
        let (wseq, rseq) = (self.write.seq(), self.common.read.seq());
        match &self.handshake {
            Some(Handshake::Established(est)) => Ok((
                keys13(est.suite.aead, est.suite.hash, &est.ours, wseq),
                keys13(est.suite.aead, est.suite.hash, &est.theirs, rseq),
            )),
            Some(Handshake::Established12(_)) => {
                let neg = &self.common.neg;
                let suite = neg
                    .suite
                    .and_then(tls12_suite)
                    .ok_or(Error::Internal("TLS 1.2 suite unknown"))?;
                let (_, master) = neg
                    .exporter12
                    .as_ref()
                    .ok_or(Error::Internal("TLS 1.2 master secret unknown"))?;
                // RFC 5246 6.3: client key, server key, client IV, server IV.
                let kb = prf::key_block(
                    suite.hash,
                    master.as_bytes(),
                    &neg.server_random,
                    &neg.client_random,
                    suite.key_block_len(),
                );
                let (k, iv) = (suite.aead.key_len(), suite.fixed_iv_len());
                let b = kb.as_bytes();
                let part = |at: usize, len: usize| {
                    b.get(at..at + len)
                        .map(|s| Zeroizing::new(s.to_vec()))
                        .ok_or(Error::Crypto("key block too short"))
                };
                let client = (part(0, k)?, part(2 * k, iv)?);
                let server = (part(k, k)?, part(2 * k + iv, iv)?);
                let (ours, theirs) = match self.common.side {
                    Side::Client => (client, server),
                    Side::Server => (server, client),
                };
                let mk = |(key, iv): (Zeroizing<Vec<u8>>, Zeroizing<Vec<u8>>), seq| DirectionKeys {
                    aead: suite.aead,
                    key,
                    iv,
                    seq,
                };
                Ok((mk(ours, wseq), mk(theirs, rseq)))
            }
            _ => Err(Error::Misuse(Misuse::HandshakeIncomplete)),
        }
    }

    /// Hands the record keys over for Linux kernel TLS and ends this connection object (the
    /// kernel then encrypts and decrypts; continuing here would reuse nonces). Needs
    /// `enable_secret_extraction(true)` on the config, an established connection, and
    /// nothing buffered: call after `write_tls` drained everything and everything received
    /// was read. TLS 1.3 key updates after the handoff are the application's business.
    pub fn extract_ktls_secrets(mut self) -> Result<KtlsSecrets, Error> {
        self.secrets_ready()?;
        let tls13 = matches!(self.handshake, Some(Handshake::Established(_)));
        let (tx, rx) = self.direction_keys()?;
        if tx.aead == AeadAlg::Aes128Ccm8 {
            return Err(Error::Config("kernel TLS has no AES-CCM_8".into()));
        }
        Ok(KtlsSecrets {
            tx: tx.ktls(tls13),
            rx: rx.ktls(tls13),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Serialisation for handoff.

/// Magic and format version at the front of every blob; a different version is refused.
const BLOB_MAGIC: &[u8; 8] = b"sanstls\x01";

/// A serialised established connection ([`Connection::serialize`]). SECRET: it holds the
/// traffic secrets (TLS 1.3) or the master secret (TLS 1.2) and the sequence numbers; anyone
/// with it can read and forge the connection. Zeroized on drop; keep it off disks and logs.
pub struct ConnectionBlob(Zeroizing<Vec<u8>>);

impl ConnectionBlob {
    /// The serialized connection (SECRET: store and move it as key material).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Wraps bytes made by `as_bytes`, for `Connection::deserialize_client`/`deserialize_server`.
    pub fn from_bytes(bytes: &[u8]) -> Self {
        ConnectionBlob(Zeroizing::new(bytes.to_vec()))
    }
}

impl std::fmt::Debug for ConnectionBlob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ConnectionBlob({} secret bytes)", self.0.len())
    }
}

fn opt_u16(v: Option<u16>) -> u16 {
    v.unwrap_or(0)
}

fn bad(_: crate::codec::DecodeError) -> Error {
    Error::Config("connection blob is malformed".into())
}

impl Connection {
    /// Serialises an established TLS 1.3 or 1.2 connection (secrets, sequence numbers,
    /// negotiated parameters) for [`Connection::deserialize_client`] /
    /// [`deserialize_server`](Connection::deserialize_server) in this or another process,
    /// which then continues the same record streams. Same preconditions as
    /// [`extract_ktls_secrets`](Self::extract_ktls_secrets); this object must not be used
    /// afterwards (it is consumed). Not carried over: session tickets received later (the
    /// rebuilt client does not store them) and the 0-RTT state.
    pub fn serialize(mut self) -> Result<ConnectionBlob, Error> {
        self.secrets_ready()?;
        let neg = &self.common.neg;
        let mut out = Zeroizing::new(Vec::with_capacity(256));
        let o: &mut Vec<u8> = &mut out;
        o.extend_from_slice(BLOB_MAGIC);
        put_u8(o, u8::from(self.common.side == Side::Server));
        put_u16(o, opt_u16(neg.version.map(u16::from)));
        put_u16(o, opt_u16(neg.suite.map(u16::from)));
        put_u16(o, opt_u16(neg.group.map(u16::from)));
        put_u16(o, opt_u16(neg.sig_scheme.map(u16::from)));
        match &self.handshake {
            Some(Handshake::Established(est)) => {
                put_vec_bytes(o, LenPrefix::U8, est.ours.as_bytes());
                put_vec_bytes(o, LenPrefix::U8, est.theirs.as_bytes());
                let exporter = neg.exporter.as_ref().map_or(&[][..], |(_, s)| s.as_bytes());
                put_vec_bytes(o, LenPrefix::U8, exporter);
            }
            _ => {
                let master = neg.exporter12.as_ref().map_or(&[][..], |(_, s)| s.as_bytes());
                put_vec_bytes(o, LenPrefix::U8, master);
                put_u8(o, u8::from(neg.ems));
            }
        }
        o.extend_from_slice(&neg.client_random);
        o.extend_from_slice(&neg.server_random);
        put_u64(o, self.write.seq());
        put_u64(o, self.common.read.seq());
        put_u8(o, u8::from(neg.resumed));
        put_u8(o, u8::from(self.peer_closed));
        put_u8(o, u8::from(self.sent_close));
        // RFC 8449 limits in force: the peer's (what we send) and ours (what we accept).
        put_u16(o, self.common.max_fragment.min(usize::from(u16::MAX)) as u16);
        put_u16(o, neg.own_record_limit.unwrap_or(0));
        put_u8(o, u8::from(neg.alpn.is_some()));
        put_vec_bytes(o, LenPrefix::U8, neg.alpn.as_deref().unwrap_or_default());
        put_vec_bytes(
            o,
            LenPrefix::U16,
            neg.sni.as_deref().unwrap_or_default().as_bytes(),
        );
        put_u16(o, neg.peer_chain.len() as u16);
        for cert in &neg.peer_chain {
            put_vec_bytes(o, LenPrefix::U24, cert);
        }
        Ok(ConnectionBlob(out))
    }

    /// Rebuilds a client connection from [`serialize`](Self::serialize)'s blob; `config`
    /// supplies the local settings (buffers, key log, record sizing...).
    pub fn deserialize_client(config: Arc<ClientConfig>, blob: &ConnectionBlob) -> Result<Self, Error> {
        Self::deserialize(&config.shared, Side::Client, blob)
    }

    /// Rebuilds a server connection from [`serialize`](Self::serialize)'s blob.
    pub fn deserialize_server(config: Arc<ServerConfig>, blob: &ConnectionBlob) -> Result<Self, Error> {
        Self::deserialize(&config.shared, Side::Server, blob)
    }

    fn deserialize(shared: &Shared, side: Side, blob: &ConnectionBlob) -> Result<Self, Error> {
        let mut r = Reader::new(blob.as_bytes());
        if r.take(8, "magic").map_err(bad)? != BLOB_MAGIC {
            return Err(Error::Config(
                "not a sanstls connection blob of this version".into(),
            ));
        }
        let server = r.u8("side").map_err(bad)? == 1;
        if server != (side == Side::Server) {
            return Err(Error::Config("connection blob is for the other side".into()));
        }
        let version = ProtocolVersion::from(r.u16("version").map_err(bad)?);
        let suite = CipherSuite::from(r.u16("suite").map_err(bad)?);
        let group = r.u16("group").map_err(bad)?;
        let scheme = r.u16("scheme").map_err(bad)?;
        let mut conn = Connection::new(side, shared, 0x0303);
        let (write_key, read_key);
        match version {
            ProtocolVersion::TLSv1_3 => {
                let s = tls13_suite(suite).ok_or(Error::Config("unknown suite in blob".into()))?;
                let ours = Secret::new(r.vec_bytes(LenPrefix::U8, "ours").map_err(bad)?.to_vec());
                let theirs = Secret::new(r.vec_bytes(LenPrefix::U8, "theirs").map_err(bad)?.to_vec());
                let exporter = r.vec_bytes(LenPrefix::U8, "exporter").map_err(bad)?;
                if !exporter.is_empty() {
                    conn.common.neg.exporter = Some((s.hash, Secret::new(exporter.to_vec())));
                }
                let w = write_state13(s, &ours, conn.common.max_fragment);
                let rd = read_state13(s, &theirs);
                write_key = Some(w);
                read_key = Some(rd);
                conn.handshake = Some(Handshake::Established(Established13 {
                    suite: s,
                    side,
                    ours,
                    theirs,
                    key_updates_in_a_row: 0,
                    answered_at_write: None,
                    tickets: 0,
                    resumption: None,
                }));
            }
            ProtocolVersion::TLSv1_2 => {
                let s = tls12_suite(suite).ok_or(Error::Config("unknown suite in blob".into()))?;
                let master = Secret::new(r.vec_bytes(LenPrefix::U8, "master").map_err(bad)?.to_vec());
                conn.common.neg.ems = r.u8("ems").map_err(bad)? == 1;
                conn.common.neg.exporter12 = Some((s.hash, master));
                write_key = None;
                read_key = None;
                conn.handshake = Some(Handshake::Established12(Established12 { side }));
            }
            _ => return Err(Error::Config("blob version is neither TLS 1.3 nor 1.2".into())),
        }
        let neg = &mut conn.common.neg;
        neg.version = Some(version);
        neg.suite = Some(suite);
        neg.group = (group != 0).then(|| NamedGroup::from(group));
        neg.sig_scheme = (scheme != 0).then(|| SignatureScheme::from(scheme));
        neg.client_random
            .copy_from_slice(r.take(32, "client_random").map_err(bad)?);
        neg.server_random
            .copy_from_slice(r.take(32, "server_random").map_err(bad)?);
        let wseq = r.u64("write seq").map_err(bad)?;
        let rseq = r.u64("read seq").map_err(bad)?;
        neg.resumed = r.u8("resumed").map_err(bad)? == 1;
        conn.peer_closed = r.u8("peer_closed").map_err(bad)? == 1;
        conn.sent_close = r.u8("sent_close").map_err(bad)? == 1;
        let max_fragment = usize::from(r.u16("max_fragment").map_err(bad)?);
        if !(63..=crate::record::MAX_PLAINTEXT).contains(&max_fragment) {
            return Err(Error::Config("connection blob is malformed".into()));
        }
        conn.common.max_fragment = max_fragment;
        let own_limit = r.u16("own_record_limit").map_err(bad)?;
        conn.common.neg.own_record_limit = (own_limit != 0).then_some(own_limit);
        let neg = &mut conn.common.neg;
        let has_alpn = r.u8("alpn?").map_err(bad)? == 1;
        let alpn = r.vec_bytes(LenPrefix::U8, "alpn").map_err(bad)?;
        neg.alpn = has_alpn.then(|| alpn.to_vec());
        let sni = r.vec_bytes(LenPrefix::U16, "sni").map_err(bad)?;
        neg.sni = (!sni.is_empty())
            .then(|| String::from_utf8(sni.to_vec()))
            .transpose()
            .map_err(|_| Error::Config("connection blob is malformed".into()))?;
        let n = r.u16("chain length").map_err(bad)?;
        for _ in 0..n {
            neg.peer_chain.push(
                r.vec_bytes(LenPrefix::U24, "certificate")
                    .map_err(bad)?
                    .to_vec()
                    .into(),
            );
        }
        r.expect_empty("connection blob").map_err(bad)?;

        let (write, read) = match (write_key, read_key) {
            (Some(w), Some(rd)) => (w, rd),
            _ => conn.tls12_states()?,
        };
        conn.write = write.with_seq(wseq);
        conn.common.read = read.with_seq(rseq);
        // The queue starts with a plaintext key change; replace it with the live state.
        conn.common.queue = Default::default();
        conn.common.queue.open_app();
        conn.write_epoch = 2;
        conn.common.read_epoch = 2;
        conn.common.queued_write_epoch = 2;
        conn.trim_pending = false;
        Ok(conn)
    }

    /// TLS 1.2 record states from the negotiated master secret and randoms.
    fn tls12_states(&self) -> Result<(WriteState, ReadState), Error> {
        let (w, r) = self.direction_keys()?;
        let mk = |d: &DirectionKeys| RecordKey::tls12(d.aead, &d.key, &d.iv);
        Ok((
            WriteState::protected(mk(&w)?, RecordVersion::Tls12, self.common.max_fragment),
            ReadState::protected(mk(&r)?, RecordVersion::Tls12),
        ))
    }

    /// Makes this object a fresh client for a new peer, keeping the buffers it already
    /// allocated (a pool of connection objects avoids reallocating them).
    pub fn reset_client(&mut self, config: Arc<ClientConfig>, server_name: &str) -> Result<(), Error> {
        let fresh = Connection::client(config, server_name)?;
        self.reset_to(fresh);
        Ok(())
    }

    /// Makes this object a fresh server for a new peer, keeping its buffers.
    pub fn reset_server(&mut self, config: Arc<ServerConfig>) -> Result<(), Error> {
        let fresh = Connection::server(config)?;
        self.reset_to(fresh);
        Ok(())
    }

    fn reset_to(&mut self, mut fresh: Connection) {
        let mut received = std::mem::take(&mut self.received);
        received.clear();
        fresh.sendbuf = std::mem::take(&mut self.sendbuf).reuse_for(&fresh.sendbuf);
        fresh.received = received;
        *self = fresh;
    }
}

/// Record write state for a TLS 1.3 traffic secret (RFC 8446 7.3).
fn write_state13(suite: &Tls13Suite, secret: &Secret, max_fragment: usize) -> WriteState {
    WriteState::protected(
        RecordKey::tls13(suite.aead, suite.hash, secret.as_bytes()),
        RecordVersion::Tls13,
        max_fragment,
    )
}

/// Record read state for a TLS 1.3 traffic secret (RFC 8446 7.3).
fn read_state13(suite: &Tls13Suite, secret: &Secret) -> ReadState {
    ReadState::protected(
        RecordKey::tls13(suite.aead, suite.hash, secret.as_bytes()),
        RecordVersion::Tls13,
    )
}
