//! Record protection: the read and write states (cipher, key, IV, sequence number) and the
//! TLS 1.3 / TLS 1.2 record formats (RFC 8446 5.2-5.4, RFC 5246 6.2.3.3).

use super::{RawRecord, HEADER_LEN, MAX_PLAINTEXT, TAG_LEN};
use crate::codec::ContentType;
use crate::crypto::aead::RecordKey;
use crate::error::{Error, PeerMisbehaved};

/// Which record format a protected state speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RecordVersion {
    /// TLSInnerPlaintext with the real type inside, outer type application_data.
    Tls13,
    /// TLS 1.2 AEAD records: type outside, AAD carries seq/type/version/length.
    Tls12,
}

/// A deprotected record.
#[derive(Debug)]
pub(crate) struct Plaintext {
    pub typ: ContentType,
    pub data: Vec<u8>,
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
}

impl WriteState {
    pub fn plaintext(wire_version: u16) -> Self {
        WriteState {
            key: None,
            version: RecordVersion::Tls13,
            seq: 0,
            wire_version,
            max_fragment: MAX_PLAINTEXT,
        }
    }

    pub fn protected(key: RecordKey, version: RecordVersion, max_fragment: usize) -> Self {
        WriteState {
            key: Some(key),
            version,
            seq: 0,
            wire_version: 0x0303,
            max_fragment,
        }
    }

    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Appends one record carrying `data` (at most `max_fragment` bytes) as `typ`.
    pub fn write_record(&mut self, typ: ContentType, data: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        let Some(key) = &self.key else {
            out.push(typ.get());
            out.extend_from_slice(&self.wire_version.to_be_bytes());
            out.extend_from_slice(&(data.len() as u16).to_be_bytes());
            out.extend_from_slice(data);
            return Ok(());
        };
        // RFC 8446 5.3: the sequence number must not wrap; a KeyUpdate comes long before.
        if self.seq == u64::MAX {
            return Err(Error::InvalidState("write sequence number exhausted"));
        }
        let start = out.len();
        match self.version {
            RecordVersion::Tls13 => {
                let inner_len = data.len() + 1;
                let outer_len = (inner_len + TAG_LEN) as u16;
                let header = [
                    ContentType::ApplicationData.get(),
                    3,
                    3,
                    (outer_len >> 8) as u8,
                    outer_len as u8,
                ];
                out.extend_from_slice(&header);
                out.extend_from_slice(data);
                out.push(typ.get());
                out.resize(out.len() + TAG_LEN, 0);
                key.seal_in_place_slice(self.seq, &header, &mut out[start + HEADER_LEN..], inner_len)?;
            }
            RecordVersion::Tls12 => {
                let explicit = key.explicit_nonce_len();
                let outer_len = (explicit + data.len() + TAG_LEN) as u16;
                out.push(typ.get());
                out.extend_from_slice(&self.wire_version.to_be_bytes());
                out.extend_from_slice(&outer_len.to_be_bytes());
                if explicit > 0 {
                    out.extend_from_slice(&key.explicit_nonce(self.seq));
                }
                let body = out.len();
                out.extend_from_slice(data);
                out.resize(out.len() + TAG_LEN, 0);
                let aad = tls12_aad(self.seq, typ, self.wire_version, data.len());
                key.seal_in_place_slice(self.seq, &aad, &mut out[body..], data.len())?;
            }
        }
        self.seq += 1;
        Ok(())
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

    /// Deprotects a record. Unprotected records pass through with `protected == false`; the
    /// caller decides which of those the current state accepts.
    pub fn read_record(&mut self, rec: RawRecord) -> Result<Plaintext, Error> {
        let RawRecord {
            typ,
            version,
            header,
            mut payload,
        } = rec;
        let Some(key) = &self.key else {
            // RFC 8446 5.1: TLSPlaintext.length MUST NOT exceed 2^14.
            if payload.len() > MAX_PLAINTEXT {
                return Err(Error::RecordOverflow);
            }
            return Ok(Plaintext {
                typ,
                data: payload,
                protected: false,
            });
        };
        match self.version {
            RecordVersion::Tls13 => {
                // RFC 8446 5: CCS (and alerts from a peer that failed before reading our keys)
                // may arrive unprotected; everything else protected is application_data.
                if typ != ContentType::ApplicationData {
                    if payload.len() > MAX_PLAINTEXT {
                        return Err(Error::RecordOverflow);
                    }
                    return Ok(Plaintext {
                        typ,
                        data: payload,
                        protected: false,
                    });
                }
                if payload.len() < TAG_LEN + 1 {
                    return Err(Error::DecryptFailed);
                }
                let seq = next_seq(&mut self.seq)?;
                let plain_len = key.open_in_place(seq, &header, &mut payload)?.len();
                payload.truncate(plain_len);
                // RFC 8446 5.4: strip zero padding; the last non-zero byte is the type.
                let Some(type_at) = payload.iter().rposition(|&b| b != 0) else {
                    return Err(PeerMisbehaved::NoContentType.into());
                };
                // RFC 8446 5.2: TLSInnerPlaintext (content + type) MUST NOT exceed 2^14 + 1.
                if plain_len > MAX_PLAINTEXT + 1 {
                    return Err(Error::RecordOverflow);
                }
                let inner_type = ContentType::from(payload[type_at]);
                payload.truncate(type_at);
                if type_at > MAX_PLAINTEXT {
                    return Err(Error::RecordOverflow);
                }
                Ok(Plaintext {
                    typ: inner_type,
                    data: payload,
                    protected: true,
                })
            }
            RecordVersion::Tls12 => {
                if typ == ContentType::ChangeCipherSpec {
                    return Ok(Plaintext {
                        typ,
                        data: payload,
                        protected: false,
                    });
                }
                let explicit = key.explicit_nonce_len();
                let Some(plain_len) = payload.len().checked_sub(explicit + TAG_LEN) else {
                    return Err(Error::DecryptFailed);
                };
                let seq = next_seq(&mut self.seq)?;
                let aad = tls12_aad(seq, typ, version, plain_len);
                let n = key.open_in_place(seq, &aad, &mut payload)?.len();
                // open_in_place moves the plaintext to the front (over the explicit nonce).
                payload.truncate(n);
                if n > MAX_PLAINTEXT {
                    return Err(Error::RecordOverflow);
                }
                Ok(Plaintext {
                    typ,
                    data: payload,
                    protected: true,
                })
            }
        }
    }
}

/// Takes the next read sequence number; RFC 8446 5.3 forbids wrapping.
fn next_seq(seq: &mut u64) -> Result<u64, Error> {
    let this = *seq;
    *seq = this
        .checked_add(1)
        .ok_or(Error::InvalidState("read sequence number exhausted"))?;
    Ok(this)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::suites::AeadAlg;

    fn raw(bytes: &[u8]) -> RawRecord {
        let mut header = [0u8; HEADER_LEN];
        header.copy_from_slice(&bytes[..HEADER_LEN]);
        RawRecord {
            typ: ContentType::from(bytes[0]),
            version: u16::from_be_bytes([bytes[1], bytes[2]]),
            header,
            payload: bytes[HEADER_LEN..].to_vec(),
        }
    }

    /// RFC 5288 3 (explicit nonce) and RFC 7905 2 (implicit nonce): what one side seals the
    /// other opens, record after record, and a flipped bit is bad_record_mac.
    #[test]
    fn tls12_records_round_trip() {
        for (aead, iv_len, explicit) in [
            (AeadAlg::Aes128Gcm, 4, 8),
            (AeadAlg::Aes256Gcm, 4, 8),
            (AeadAlg::ChaCha20Poly1305, 12, 0),
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
                assert_eq!(out.len(), HEADER_LEN + explicit + msg.len() + TAG_LEN, "{aead:?}");
                if explicit > 0 {
                    assert_eq!(&out[HEADER_LEN..HEADER_LEN + 8], &(i as u64).to_be_bytes());
                }
                let plain = r.read_record(raw(&out)).unwrap();
                assert_eq!(plain.data, msg, "{aead:?} record {i}");
                assert!(plain.protected);
            }
            let mut out = Vec::new();
            w.write_record(ContentType::Handshake, b"x", &mut out).unwrap();
            let last = out.len() - 1;
            out[last] ^= 1;
            assert_eq!(r.read_record(raw(&out)).unwrap_err(), Error::DecryptFailed);
        }
    }
}
