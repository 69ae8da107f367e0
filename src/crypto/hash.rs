//! Hash functions, HMAC and the running handshake transcript hash (RFC 8446 4.4.1).

use ring::{digest, hmac};

/// The hash of a cipher suite (TLS 1.3 suites and TLS 1.2 AEAD suites use only these two).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashAlg {
    /// SHA-256 (FIPS 180-4): the `_SHA256` suites.
    Sha256,
    /// SHA-384 (FIPS 180-4): the `_SHA384` suites.
    Sha384,
}

impl HashAlg {
    /// Digest length in bytes (`Hash.length`).
    pub fn output_len(self) -> usize {
        match self {
            HashAlg::Sha256 => 32,
            HashAlg::Sha384 => 48,
        }
    }

    pub(crate) fn digest_alg(self) -> &'static digest::Algorithm {
        match self {
            HashAlg::Sha256 => &digest::SHA256,
            HashAlg::Sha384 => &digest::SHA384,
        }
    }

    pub(crate) fn hmac_alg(self) -> hmac::Algorithm {
        match self {
            HashAlg::Sha256 => hmac::HMAC_SHA256,
            HashAlg::Sha384 => hmac::HMAC_SHA384,
        }
    }

    /// `Hash(data)`.
    pub fn hash(self, data: &[u8]) -> Vec<u8> {
        digest::digest(self.digest_alg(), data).as_ref().to_vec()
    }

    /// `Hash("")`, a constant the key schedule asks for at every stage (RFC 8446 7.1).
    pub fn empty_hash(self) -> &'static [u8] {
        match self {
            HashAlg::Sha256 => &EMPTY_SHA256,
            HashAlg::Sha384 => &EMPTY_SHA384,
        }
    }

    /// `HMAC-Hash(key, data)` (RFC 2104).
    pub fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        hmac::sign(&hmac::Key::new(self.hmac_alg(), key), data)
            .as_ref()
            .to_vec()
    }

    /// An HMAC key with its pads hashed once, for several HMACs under one secret.
    pub(crate) fn hmac_key(self, key: &[u8]) -> hmac::Key {
        hmac::Key::new(self.hmac_alg(), key)
    }

    /// HMAC over several pieces, without concatenating them first.
    pub(crate) fn hmac_parts(key: &hmac::Key, parts: &[&[u8]]) -> hmac::Tag {
        let mut ctx = hmac::Context::with_key(key);
        for p in parts {
            ctx.update(p);
        }
        ctx.sign()
    }
}

const EMPTY_SHA256: [u8; 32] = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24, 0x27,
    0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];
const EMPTY_SHA384: [u8; 48] = [
    0x38, 0xb0, 0x60, 0xa7, 0x51, 0xac, 0x96, 0x38, 0x4c, 0xd9, 0x32, 0x7e, 0xb1, 0xb1, 0xe3, 0x6a, 0x21,
    0xfd, 0xb7, 0x11, 0x14, 0xbe, 0x07, 0x43, 0x4c, 0x0c, 0xc7, 0xbf, 0x63, 0xf6, 0xe1, 0xda, 0x27, 0x4e,
    0xde, 0xbf, 0xe7, 0x6f, 0x65, 0xfb, 0xd5, 0x1a, 0xd2, 0xf1, 0x48, 0x98, 0xb9, 0x5b,
];

/// The running transcript hash over handshake messages (RFC 8446 4.4.1), each message
/// including its 4-byte handshake header.
#[derive(Clone)]
pub struct Transcript {
    alg: HashAlg,
    ctx: digest::Context,
}

impl core::fmt::Debug for Transcript {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Transcript")
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// A transcript hash, held inline (no heap allocation per snapshot); derefs to its bytes.
pub struct TranscriptHash(digest::Digest);

impl core::ops::Deref for TranscriptHash {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.0.as_ref()
    }
}

/// `HandshakeType.message_hash` (RFC 8446 4.4.1).
const MESSAGE_HASH: u8 = 254;

impl Transcript {
    /// An empty transcript hashed with `alg`, the negotiated suite's hash.
    pub fn new(alg: HashAlg) -> Self {
        Transcript {
            alg,
            ctx: digest::Context::new(alg.digest_alg()),
        }
    }

    /// The hash this transcript runs.
    pub fn alg(&self) -> HashAlg {
        self.alg
    }

    /// Adds one handshake message (header included).
    pub fn update(&mut self, handshake_msg: &[u8]) {
        self.ctx.update(handshake_msg);
    }

    /// `Transcript-Hash` of everything added so far.
    pub fn current_hash(&self) -> TranscriptHash {
        TranscriptHash(self.ctx.clone().finish())
    }

    /// Starts from `message_hash(ClientHello1)` given Hash(ClientHello1) (a stateless
    /// server's cookie carries the hash, RFC 8446 4.4.1); the transcript must be empty.
    pub fn update_message_hash(&mut self, ch1_hash: &[u8]) {
        self.ctx.update(&[MESSAGE_HASH, 0, 0, ch1_hash.len() as u8]);
        self.ctx.update(ch1_hash);
    }

    /// RFC 8446 4.4.1: replace ClientHello1 with message_hash (254) || 00 00 Hash.length ||
    /// Hash(ClientHello1). Call it when the transcript holds exactly ClientHello1, before
    /// adding the HelloRetryRequest.
    pub fn replace_with_message_hash(&mut self) {
        let ch1_hash = self.current_hash();
        let mut ctx = digest::Context::new(self.alg.digest_alg());
        // Hash lengths (32, 48) fit in the one-byte low half of the u24 length.
        ctx.update(&[MESSAGE_HASH, 0, 0, ch1_hash.len() as u8]);
        ctx.update(&ch1_hash);
        self.ctx = ctx;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answers() {
        assert_eq!(
            hex::encode(HashAlg::Sha256.hash(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(HashAlg::Sha384.hash(b"").len(), 48);
        for alg in [HashAlg::Sha256, HashAlg::Sha384] {
            assert_eq!(alg.empty_hash(), alg.hash(b""));
        }
        // RFC 4231 test case 2.
        assert_eq!(
            hex::encode(HashAlg::Sha256.hmac(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            HashAlg::Sha384.hmac(b"k", b"ab"),
            HashAlg::hmac_parts(&HashAlg::Sha384.hmac_key(b"k"), &[b"a", b"b"]).as_ref()
        );
    }

    #[test]
    fn transcript_is_incremental_and_clonable() {
        let mut t = Transcript::new(HashAlg::Sha256);
        assert_eq!(*t.current_hash(), *HashAlg::Sha256.hash(b""));
        t.update(b"hello ");
        let snapshot = t.clone();
        t.update(b"world");
        assert_eq!(*t.current_hash(), *HashAlg::Sha256.hash(b"hello world"));
        assert_eq!(*snapshot.current_hash(), *HashAlg::Sha256.hash(b"hello "));
    }

    #[test]
    fn message_hash_replaces_client_hello1() {
        let ch1 = b"\x01\x00\x00\x02ab";
        let mut t = Transcript::new(HashAlg::Sha384);
        t.update(ch1);
        t.replace_with_message_hash();
        t.update(b"hrr");
        let mut expect = vec![254, 0, 0, 48];
        expect.extend(HashAlg::Sha384.hash(ch1));
        expect.extend_from_slice(b"hrr");
        assert_eq!(*t.current_hash(), *HashAlg::Sha384.hash(&expect));
    }
}
