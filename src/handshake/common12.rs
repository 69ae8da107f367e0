//! Pieces both TLS 1.2 sides use: the handshake log, key derivation from the master secret,
//! Finished, the downgrade sentinels, and the established state that refuses renegotiation.

use super::output::{Output, Side};
use super::{unexpected, Msg};
use crate::codec::{HandshakeType, SignatureScheme};
use crate::crypto::aead::RecordKey;
use crate::crypto::hash::{Transcript, TranscriptHash};
use crate::crypto::prf;
use crate::crypto::secret::Secret;
use crate::crypto::suites::{SuiteAuth, Tls12Suite};
use crate::error::{Error, Limit, PeerMisbehaved};
use crate::msgs::{HandshakePayload, Tls12Payload};

/// RFC 8446 4.1.3: the last 8 bytes of ServerHello.random from a TLS 1.3-capable server that
/// negotiated TLS 1.2 ...
pub(crate) const DOWNGRADE_TLS12: [u8; 8] = *b"DOWNGRD\x01";
/// ... or TLS 1.1 and below.
pub(crate) const DOWNGRADE_TLS11: [u8; 8] = *b"DOWNGRD\x00";

/// Cap on the bytes of one TLS 1.2 handshake (the log is kept whole for CertificateVerify).
pub(crate) const MAX_HANDSHAKE_LOG: usize = 512 * 1024;

/// The TLS 1.2 body of a message the TLS 1.2 dialect left undecoded (Certificate,
/// ServerKeyExchange, ...); `None` for the messages both versions share.
pub(crate) fn body12(msg: &Msg) -> Result<Option<Tls12Payload>, Error> {
    match &msg.payload {
        HandshakePayload::Unknown { typ, body } => Tls12Payload::decode(*typ, body),
        _ => Ok(None),
    }
}

/// The name of a TLS 1.2 message, for errors.
pub(crate) fn unexpected12(state: &'static str, msg: &Msg) -> Error {
    unexpected(state, msg)
}

/// Every handshake message so far, in order. TLS 1.2 CertificateVerify signs the messages
/// themselves (RFC 5246 7.4.8), and the client learns the transcript hash only from the
/// ServerHello, so the log is kept whole (bounded). The first hash taken starts a running
/// transcript in the suite's hash, which every later message updates, so the session hash
/// and each Finished fork it instead of hashing the log again from its start.
#[derive(Default)]
pub(crate) struct HandshakeLog {
    bytes: Vec<u8>,
    running: Option<Transcript>,
}

impl HandshakeLog {
    pub fn add(&mut self, raw: &[u8]) -> Result<(), Error> {
        if self.bytes.len() + raw.len() > MAX_HANDSHAKE_LOG {
            return Err(Error::LimitExceeded(Limit::HandshakeMessageSize));
        }
        self.bytes.extend_from_slice(raw);
        if let Some(running) = &mut self.running {
            running.update(raw);
        }
        Ok(())
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The hash of the log so far, in `suite`'s hash (RFC 5246 7.4.9, RFC 7627 3).
    pub fn hash(&mut self, suite: &Tls12Suite) -> TranscriptHash {
        match &self.running {
            Some(running) if running.alg() == suite.hash => running.current_hash(),
            _ => {
                let mut running = Transcript::new(suite.hash);
                running.update(&self.bytes);
                let hash = running.current_hash();
                self.running = Some(running);
                hash
            }
        }
    }
}

/// RFC 5246 8.1 / RFC 7627 4: the master secret, extended when `ems` (the session hash then
/// covers the log through ClientKeyExchange).
pub(crate) fn master_secret(
    suite: &Tls12Suite,
    pre_master: &Secret,
    ems: bool,
    log: &mut HandshakeLog,
    client_random: &[u8; 32],
    server_random: &[u8; 32],
) -> Secret {
    if ems {
        prf::extended_master_secret(suite.hash, pre_master.as_bytes(), &log.hash(suite))
    } else {
        prf::master_secret(suite.hash, pre_master.as_bytes(), client_random, server_random)
    }
}

/// `side`'s (write, read) record keys from the key block (RFC 5246 6.3: client key, server
/// key, client IV, server IV; AEAD suites have no MAC keys).
pub(crate) fn record_keys(
    suite: &Tls12Suite,
    master: &Secret,
    client_random: &[u8; 32],
    server_random: &[u8; 32],
    side: Side,
) -> Result<(RecordKey, RecordKey), Error> {
    let kb = prf::key_block(
        suite.hash,
        master.as_bytes(),
        server_random,
        client_random,
        suite.key_block_len(),
    );
    let (k, iv) = (suite.aead.key_len(), suite.fixed_iv_len());
    let b = kb.as_bytes();
    let part = |at: usize, len: usize| b.get(at..at + len).ok_or(Error::Crypto("key block too short"));
    let client = RecordKey::tls12(suite.aead, part(0, k)?, part(2 * k, iv)?)?;
    let server = RecordKey::tls12(suite.aead, part(k, k)?, part(2 * k + iv, iv)?)?;
    let (ours, theirs) = match side {
        Side::Client => (client, server),
        Side::Server => (server, client),
    };
    Ok((ours, theirs))
}

/// RFC 5246 7.4.9: verify_data over the log so far.
pub(crate) fn finished(suite: &Tls12Suite, master: &Secret, client: bool, log: &mut HandshakeLog) -> Vec<u8> {
    prf::finished_verify_data_tls12(suite.hash, master.as_bytes(), client, &log.hash(suite))
}

/// Checks the peer's Finished: 12 bytes (RFC 5246 7.4.9, else decode_error), compared in
/// constant time (a mismatch is decrypt_error).
pub(crate) fn check_finished(
    suite: &Tls12Suite,
    master: &Secret,
    from_client: bool,
    log: &mut HandshakeLog,
    msg: &Msg,
) -> Result<(), Error> {
    let HandshakePayload::Finished(got) = &msg.payload else {
        return Err(unexpected("expect Finished", msg));
    };
    super::check_verify_data(finished(suite, master, from_client, log), got)
}

/// Whether `scheme` can authenticate `suite` (RFC 8422 5.4, RFC 5246 7.4.3).
pub(crate) fn scheme_fits_suite(scheme: SignatureScheme, auth: SuiteAuth) -> bool {
    use SignatureScheme as S;
    match auth {
        SuiteAuth::Ecdsa => matches!(
            scheme,
            S::ecdsa_secp256r1_sha256 | S::ecdsa_secp384r1_sha384 | S::ecdsa_secp521r1_sha512 | S::ed25519
        ),
        SuiteAuth::Rsa => matches!(
            scheme,
            S::rsa_pkcs1_sha256
                | S::rsa_pkcs1_sha384
                | S::rsa_pkcs1_sha512
                | S::rsa_pss_rsae_sha256
                | S::rsa_pss_rsae_sha384
                | S::rsa_pss_rsae_sha512
                // RFC 8446 1.3: the RSASSA-PSS schemes apply to TLS 1.2 (an RSA-PSS key).
                | S::rsa_pss_pss_sha256
                | S::rsa_pss_pss_sha384
                | S::rsa_pss_pss_sha512
        ),
        // RFC 4279 2, RFC 5489 2: the PSK suites sign nothing.
        SuiteAuth::Psk | SuiteAuth::EcdhePsk => false,
    }
}

/// The content a ServerKeyExchange signs: client_random || server_random || params
/// (RFC 8422 5.4).
pub(crate) fn ske_signed(client_random: &[u8; 32], server_random: &[u8; 32], params: &[u8]) -> Vec<u8> {
    [client_random.as_slice(), server_random.as_slice(), params].concat()
}

/// A TLS 1.2 connection after its handshake: application data flows through the connection;
/// handshake messages are a renegotiation, which we refuse (RFC 5746 4.2, 4.4).
pub(crate) struct Established12 {
    pub side: Side,
}

impl Established12 {
    /// A renegotiation attempt (refused in [`handle`](Self::handle)) is the only handshake
    /// message an established TLS 1.2 connection takes.
    pub fn expects(&self, typ: HandshakeType) -> Result<(), &'static str> {
        match (self.side, typ) {
            (Side::Client, HandshakeType::HelloRequest) | (Side::Server, HandshakeType::ClientHello) => {
                Ok(())
            }
            _ => Err("established"),
        }
    }

    pub fn handle(self, _cx: &mut dyn Output, msg: Msg) -> Result<Self, Error> {
        let typ = msg.payload.typ();
        match (self.side, typ) {
            (Side::Client, HandshakeType::HelloRequest) | (Side::Server, HandshakeType::ClientHello) => {
                Err(PeerMisbehaved::RenegotiationAttempted.into())
            }
            _ => Err(unexpected("established", &msg)),
        }
    }
}
