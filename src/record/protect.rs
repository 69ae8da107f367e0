//! Record protection: the read and write states (cipher, key, IV, sequence number) and the
//! TLS 1.3 / TLS 1.2 record formats (RFC 8446 5.2-5.4, RFC 5246 6.2.3.3).

use core::ops::Range;

use super::{RecordHeader, HEADER_LEN, MAX_PLAINTEXT};
use crate::codec::ContentType;
use crate::crypto::aead::RecordKey;
use crate::error::{Error, Misuse, PeerMisbehaved};

/// Which record format a protected state speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RecordVersion {
    /// TLSInnerPlaintext with the real type inside, outer type application_data.
    Tls13,
    /// TLS 1.2 AEAD records: type outside, AAD carries seq/type/version/length.
    Tls12,
}

/// Where a deprotected record's content lies inside the payload it was opened in.
#[derive(Debug)]
pub(crate) struct Opened {
    pub typ: ContentType,
    /// The content, as a range of the payload slice.
    pub range: Range<usize>,
    /// False for records that arrived without protection.
    pub protected: bool,
}

/// A deprotected record's content, borrowed from the buffer it was opened in.
#[derive(Debug)]
pub(crate) struct Plaintext<'a> {
    pub typ: ContentType,
    pub data: &'a [u8],
    /// False for records that arrived without protection.
    pub protected: bool,
}

/// One direction's write state. Unprotected until keys are installed.
#[derive(Debug)]
pub(crate) struct WriteState {
    key: Option<RecordKey>,
    version: RecordVersion,
    seq: u64,
    /// legacy_record_version on the wire (0x0301 allowed for an initial ClientHello).
    wire_version: u16,
    /// Largest plaintext fragment per record (RFC 8449 record_size_limit aware).
    pub max_fragment: usize,
    /// Set on a key change whose keys the transport keeps in its own table (a record layer
    /// that frames and protects its own records): the epoch it switches to.
    transport_epoch: Option<u64>,
}

impl WriteState {
    pub fn plaintext(wire_version: u16) -> Self {
        WriteState {
            key: None,
            version: RecordVersion::Tls13,
            seq: 0,
            wire_version,
            max_fragment: MAX_PLAINTEXT,
            transport_epoch: None,
        }
    }

    /// A key change to the transport's own `epoch`, whose keys the transport holds: the
    /// queue orders it like any key change, and this state protects nothing itself.
    pub fn transport_epoch(epoch: u64) -> Self {
        WriteState {
            transport_epoch: Some(epoch),
            ..WriteState::plaintext(0)
        }
    }

    /// The transport's epoch this key change switches to (see
    /// [`transport_epoch`](Self::transport_epoch)).
    pub fn epoch_of_transport(&self) -> Option<u64> {
        self.transport_epoch
    }

    pub fn protected(key: RecordKey, version: RecordVersion, max_fragment: usize) -> Self {
        WriteState {
            key: Some(key),
            version,
            seq: 0,
            wire_version: 0x0303,
            max_fragment,
            transport_epoch: None,
        }
    }

    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The same keys continuing at record `seq` (a connection rebuilt from a serialised one).
    pub fn with_seq(mut self, seq: u64) -> Self {
        self.seq = seq;
        self
    }

    /// True once keys are in (RFC 8449: the peer's record_size_limit binds only these).
    pub fn is_protected(&self) -> bool {
        self.key.is_some()
    }

    /// The record key, for a record layer that frames records itself (DTLS, `crate::dtls`).
    pub fn into_key(self) -> Option<RecordKey> {
        self.key
    }

    /// Bytes a record adds around its content: header, and for protected states the inner
    /// type byte (TLS 1.3) or explicit nonce (TLS 1.2 GCM) and the tag.
    pub fn overhead(&self) -> usize {
        match (&self.key, self.version) {
            (None, _) => HEADER_LEN,
            (Some(key), RecordVersion::Tls13) => HEADER_LEN + 1 + key.tag_len(),
            (Some(key), RecordVersion::Tls12) => HEADER_LEN + key.explicit_nonce_len() + key.tag_len(),
        }
    }

    /// Where a record's content starts: after the header (and the TLS 1.2 explicit nonce).
    pub fn content_offset(&self) -> usize {
        match (&self.key, self.version) {
            (Some(key), RecordVersion::Tls12) => HEADER_LEN + key.explicit_nonce_len(),
            _ => HEADER_LEN,
        }
    }

    /// Appends one record carrying `data` (at most `max_fragment` bytes) as `typ`: the one
    /// copy of the buffered path, then the AEAD pass in place.
    pub fn write_record(&mut self, typ: ContentType, data: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        let start = out.len();
        let offset = self.content_offset();
        // One reservation for header, content and trailer, not one growth per part.
        out.reserve(data.len() + self.overhead());
        out.resize(start + offset, 0);
        out.extend_from_slice(data);
        out.resize(start + data.len() + self.overhead(), 0);
        match self.seal_in_place(typ, &mut out[start..], data.len()) {
            Ok(_) => Ok(()),
            Err(e) => {
                out.truncate(start);
                Err(e)
            }
        }
    }

    /// Seals one record in place. `buf[content_offset()..][..len]` holds the content; the
    /// header goes before it and the type byte, tag (and explicit nonce) around it, so `buf`
    /// needs `len + overhead()` bytes. Returns the record's length.
    pub fn seal_in_place(&mut self, typ: ContentType, buf: &mut [u8], len: usize) -> Result<usize, Error> {
        let total = len + self.overhead();
        let Some(buf) = buf.get_mut(..total) else {
            return Err(Error::Misuse(Misuse::BufferTooSmall));
        };
        let Some(key) = &self.key else {
            buf[0] = typ.get();
            buf[1..3].copy_from_slice(&self.wire_version.to_be_bytes());
            buf[3..5].copy_from_slice(&(len as u16).to_be_bytes());
            return Ok(total);
        };
        // RFC 8446 5.3: the sequence number must not wrap; a KeyUpdate comes long before.
        if self.seq == u64::MAX {
            return Err(Error::SequenceExhausted);
        }
        let (header, body) = buf.split_at_mut(HEADER_LEN);
        match self.version {
            RecordVersion::Tls13 => {
                let outer_len = (total - HEADER_LEN) as u16;
                header.copy_from_slice(&[
                    ContentType::ApplicationData.get(),
                    3,
                    3,
                    (outer_len >> 8) as u8,
                    outer_len as u8,
                ]);
                // RFC 8446 5.2: TLSInnerPlaintext = content || type (no padding).
                body[len] = typ.get();
                key.seal_in_place_slice(self.seq, header, body, len + 1)?;
            }
            RecordVersion::Tls12 => {
                let explicit = key.explicit_nonce_len();
                let outer_len = (total - HEADER_LEN) as u16;
                header[0] = typ.get();
                header[1..3].copy_from_slice(&self.wire_version.to_be_bytes());
                header[3..5].copy_from_slice(&outer_len.to_be_bytes());
                let (nonce, content) = body.split_at_mut(explicit);
                nonce.copy_from_slice(&key.explicit_nonce(self.seq)[..explicit]);
                let aad = tls12_aad(self.seq, typ, self.wire_version, len);
                key.seal_in_place_slice(self.seq, &aad, content, len)?;
            }
        }
        self.seq += 1;
        Ok(total)
    }
}

/// RFC 5246 6.2.3.3: additional_data = seq_num + type + version + length.
fn tls12_aad(seq: u64, typ: ContentType, version: u16, len: usize) -> [u8; 13] {
    let mut aad = [0u8; 13];
    aad[..8].copy_from_slice(&seq.to_be_bytes());
    aad[8] = typ.get();
    aad[9..11].copy_from_slice(&version.to_be_bytes());
    aad[11..].copy_from_slice(&(len as u16).to_be_bytes());
    aad
}

/// One direction's read state.
#[derive(Debug)]
pub(crate) struct ReadState {
    key: Option<RecordKey>,
    version: RecordVersion,
    seq: u64,
}

impl ReadState {
    pub fn plaintext() -> Self {
        ReadState {
            key: None,
            version: RecordVersion::Tls13,
            seq: 0,
        }
    }

    pub fn protected(key: RecordKey, version: RecordVersion) -> Self {
        ReadState {
            key: Some(key),
            version,
            seq: 0,
        }
    }

    pub fn is_protected(&self) -> bool {
        self.key.is_some()
    }

    /// The record key, for a record layer that frames records itself (DTLS, `crate::dtls`).
    pub fn into_key(self) -> Option<RecordKey> {
        self.key
    }

    /// The next record's sequence number.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The same keys continuing at record `seq` (a connection rebuilt from a serialised one).
    pub fn with_seq(mut self, seq: u64) -> Self {
        self.seq = seq;
        self
    }

    /// Deprotects a record's payload in place. Unprotected records pass through with
    /// `protected == false`; the caller decides which of those the current state accepts.
    pub fn open_in_place(&mut self, header: &RecordHeader, payload: &mut [u8]) -> Result<Opened, Error> {
        let typ = header.typ;
        let unprotected = |payload: &[u8]| {
            // RFC 8446 5.1: TLSPlaintext.length MUST NOT exceed 2^14.
            if payload.len() > MAX_PLAINTEXT {
                return Err(Error::RecordOverflow);
            }
            Ok(Opened {
                typ,
                range: 0..payload.len(),
                protected: false,
            })
        };
        let Some(key) = &self.key else {
            return unprotected(payload);
        };
        match self.version {
            RecordVersion::Tls13 => {
                // RFC 8446 5: CCS (and alerts from a peer that failed before reading our keys)
                // may arrive unprotected; everything else protected is application_data.
                if typ != ContentType::ApplicationData {
                    return unprotected(payload);
                }
                if payload.len() < key.tag_len() + 1 {
                    return Err(Error::DecryptFailed);
                }
                // The sequence number advances only for a record that deprotects, so a
                // skipped 0-RTT record (RFC 8446 4.2.10) leaves the next one readable.
                let seq = self.seq;
                let plain = key.open_in_place(seq, &header.bytes, payload)?;
                let plain_len = plain.len();
                next_seq(&mut self.seq)?;
                // RFC 8446 5.4: strip zero padding; the last non-zero byte is the type.
                let Some(type_at) = plain.iter().rposition(|&b| b != 0) else {
                    return Err(PeerMisbehaved::NoContentType.into());
                };
                // RFC 8446 5.2: TLSInnerPlaintext (content + type) MUST NOT exceed 2^14 + 1.
                if plain_len > MAX_PLAINTEXT + 1 || type_at > MAX_PLAINTEXT {
                    return Err(Error::RecordOverflow);
                }
                Ok(Opened {
                    typ: ContentType::from(plain[type_at]),
                    range: 0..type_at,
                    protected: true,
                })
            }
            RecordVersion::Tls12 => {
                if typ == ContentType::ChangeCipherSpec {
                    return Ok(Opened {
                        typ,
                        range: 0..payload.len(),
                        protected: false,
                    });
                }
                let explicit = key.explicit_nonce_len();
                let Some(plain_len) = payload.len().checked_sub(explicit + key.tag_len()) else {
                    return Err(Error::DecryptFailed);
                };
                // As for TLS 1.3: the sequence number advances only once the record deprotects.
                let seq = self.seq;
                let aad = tls12_aad(seq, typ, header.version, plain_len);
                // ring moves the plaintext to the front, over the explicit nonce (RFC 5288 3),
                // so the plaintext is `0..n`, not `explicit..`.
                let n = key.open_in_place(seq, &aad, payload)?.len();
                next_seq(&mut self.seq)?;
                if n > MAX_PLAINTEXT {
                    return Err(Error::RecordOverflow);
                }
                Ok(Opened {
                    typ,
                    range: 0..n,
                    protected: true,
                })
            }
        }
    }
}

/// Takes the next read sequence number; RFC 8446 5.3 forbids wrapping.
fn next_seq(seq: &mut u64) -> Result<u64, Error> {
    let this = *seq;
    *seq = this.checked_add(1).ok_or(Error::SequenceExhausted)?;
    Ok(this)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::suites::AeadAlg;
    use crate::crypto::HashAlg;

    /// Opens one whole record the way the deframer lends it: header parsed, payload in place.
    fn open(r: &mut ReadState, record: &[u8]) -> Result<(ContentType, Vec<u8>, bool), Error> {
        let header = RecordHeader::parse(record)?.unwrap();
        let mut payload = record[HEADER_LEN..].to_vec();
        let opened = r.open_in_place(&header, &mut payload)?;
        Ok((opened.typ, payload[opened.range].to_vec(), opened.protected))
    }

    /// RFC 5288 3 (explicit nonce) and RFC 7905 2 (implicit nonce): what one side seals the
    /// other opens, record after record, and a flipped bit is bad_record_mac.
    #[test]
    fn tls12_records_round_trip() {
        for (aead, iv_len, explicit) in [
            (AeadAlg::Aes128Gcm, 4, 8),
            (AeadAlg::Aes256Gcm, 4, 8),
            (AeadAlg::ChaCha20Poly1305, 12, 0),
            (AeadAlg::Aes128Ccm, 4, 8),
            (AeadAlg::Aes128Ccm8, 4, 8),
        ] {
            let key = vec![7u8; aead.key_len()];
            let iv = vec![9u8; iv_len];
            let mut w = WriteState::protected(
                RecordKey::tls12(aead, &key, &iv).unwrap(),
                RecordVersion::Tls12,
                MAX_PLAINTEXT,
            );
            let mut r =
                ReadState::protected(RecordKey::tls12(aead, &key, &iv).unwrap(), RecordVersion::Tls12);
            for (i, msg) in [&b"first"[..], b"", b"third record"].into_iter().enumerate() {
                let mut out = Vec::new();
                w.write_record(ContentType::ApplicationData, msg, &mut out)
                    .unwrap();
                assert_eq!(
                    out.len(),
                    HEADER_LEN + explicit + msg.len() + aead.tag_len(),
                    "{aead:?}"
                );
                if explicit > 0 {
                    assert_eq!(&out[HEADER_LEN..HEADER_LEN + 8], &(i as u64).to_be_bytes());
                }
                let (typ, plain, protected) = open(&mut r, &out).unwrap();
                assert_eq!(typ, ContentType::ApplicationData);
                assert_eq!(plain, msg, "{aead:?} record {i}");
                assert!(protected);
            }
            let mut out = Vec::new();
            w.write_record(ContentType::Handshake, b"x", &mut out).unwrap();
            let last = out.len() - 1;
            out[last] ^= 1;
            assert_eq!(open(&mut r, &out).unwrap_err(), Error::DecryptFailed);
            // A record that fails to deprotect does not consume a sequence number: the
            // untampered copy still opens.
            out[last] ^= 1;
            let (typ, plain, _) = open(&mut r, &out).unwrap();
            assert_eq!((typ, &plain[..]), (ContentType::Handshake, &b"x"[..]));
        }
    }

    /// RFC 8446 5.3: a sequence number never wraps. The writer refuses the last one with
    /// `SequenceExhausted` and the refused write leaves nothing behind.
    #[test]
    fn sequence_numbers_do_not_wrap() {
        let aead = AeadAlg::Aes128Gcm;
        let secret = [5u8; 32];
        let key = || RecordKey::tls13(aead, HashAlg::Sha256, &secret);
        let mut w = WriteState::protected(key(), RecordVersion::Tls13, MAX_PLAINTEXT).with_seq(u64::MAX - 1);
        let mut r = ReadState::protected(key(), RecordVersion::Tls13).with_seq(u64::MAX - 1);
        let mut out = Vec::new();
        w.write_record(ContentType::ApplicationData, b"last", &mut out)
            .unwrap();
        assert_eq!(open(&mut r, &out).unwrap().1, b"last");
        let mut more = Vec::new();
        assert_eq!(
            w.write_record(ContentType::ApplicationData, b"one more", &mut more),
            Err(Error::SequenceExhausted)
        );
        assert!(more.is_empty());
    }

    /// Record-level known answers for AES-CCM: the first application_data record under a
    /// raw key, as RFC 6655 3 / RFC 5246 6.2.3.3 (TLS 1.2: salt || explicit nonce, the AAD
    /// of seq, type, version, length) and RFC 8446 5.2 (TLS 1.3: iv XOR seq, the header as
    /// AAD) build it. Expected bytes computed with OpenSSL's AES-CCM (via pyca/cryptography).
    #[test]
    fn ccm_records_known_answers() {
        let h = |s: &str| hex::decode(s).unwrap();
        let key: Vec<u8> = (0u8..16).collect();
        let msg = b"hello, constrained world";
        let mut w = WriteState::protected(
            RecordKey::tls12(AeadAlg::Aes128Ccm8, &key, &h("a0a1a2a3")).unwrap(),
            RecordVersion::Tls12,
            MAX_PLAINTEXT,
        );
        let mut out = Vec::new();
        w.write_record(ContentType::ApplicationData, msg, &mut out)
            .unwrap();
        assert_eq!(
            out,
            h("17030300280000000000000000387dc2d7b5bea67f94173b648e6ca6d168aa091486b5f40560907064364114a9")
        );
        let iv = h("000102030405060708090a0b");
        for (aead, want) in [
            (
                AeadAlg::Aes128Ccm,
                "17030300295b709f0bb3ace4d21e7dba94708becee09323945a476db5c5976097093bb64336e5aa1a0a255e0cd15",
            ),
            (
                AeadAlg::Aes128Ccm8,
                "17030300215b709f0bb3ace4d21e7dba94708becee09323945a476db5c596611776624617c41",
            ),
        ] {
            let mut w = WriteState::protected(
                RecordKey::xor_iv(aead, &key, &iv).unwrap(),
                RecordVersion::Tls13,
                MAX_PLAINTEXT,
            );
            let mut out = Vec::new();
            w.write_record(ContentType::ApplicationData, msg, &mut out).unwrap();
            assert_eq!(out, h(want), "{aead:?}");
            let mut r = ReadState::protected(RecordKey::xor_iv(aead, &key, &iv).unwrap(), RecordVersion::Tls13);
            let (typ, plain, _) = open(&mut r, &out).unwrap();
            assert_eq!((typ, plain.as_slice()), (ContentType::ApplicationData, &msg[..]));
        }
    }
}
