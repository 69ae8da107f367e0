//! Splits the inbound byte stream into records (RFC 8446 5.1) with bounded buffering.

use std::io;

use super::{HEADER_LEN, MAX_CIPHERTEXT};
use crate::codec::ContentType;
use crate::error::Error;

/// One record cut from the stream: header fields and the payload, still protected if it was.
#[derive(Debug)]
pub(crate) struct RawRecord {
    pub typ: ContentType,
    pub version: u16,
    /// The 5-byte header as received (the TLS 1.3 AEAD additional data).
    pub header: [u8; HEADER_LEN],
    pub payload: Vec<u8>,
}

/// Inbound byte buffer. Holds at most a few whole records, so a peer that sends faster than we
/// process is back-pressured at `read_tls` instead of growing our memory.
#[derive(Debug, Default)]
pub(crate) struct Deframer {
    buf: Vec<u8>,
    /// Bytes of `buf` already consumed as records (compacted lazily).
    start: usize,
}

/// Buffer room `read_tls` fills: enough for a full record plus the next header.
const BUFFER_CAP: usize = 2 * (HEADER_LEN + MAX_CIPHERTEXT);

/// Capacity an empty buffer may keep between reads.
const IDLE_CAPACITY: usize = 4096;

impl Deframer {
    /// Bytes waiting to be cut into records.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    pub fn has_room(&self) -> bool {
        self.buffered() < BUFFER_CAP
    }

    /// Reads once from `rd` into free room; `Ok(0)` means EOF from the reader.
    pub fn read_from(&mut self, rd: &mut dyn io::Read) -> io::Result<usize> {
        self.compact();
        let free = BUFFER_CAP.saturating_sub(self.buf.len());
        if free == 0 {
            return Err(io::Error::other(
                "inbound buffer full: call process_new_packets first",
            ));
        }
        let at = self.buf.len();
        self.buf.resize(at + free, 0);
        let res = rd.read(&mut self.buf[at..]);
        let n = *res.as_ref().unwrap_or(&0);
        self.buf.truncate(at + n);
        if self.buf.is_empty() {
            // Nothing came (WouldBlock on a non-blocking socket): keep no room while idle.
            self.buf = Vec::new();
        }
        res
    }

    /// Appends bytes directly (used by tests and the fuzzers); refuses past the cap.
    #[cfg_attr(not(feature = "fuzzing"), allow(dead_code))]
    pub fn push(&mut self, data: &[u8]) -> usize {
        self.compact();
        let n = data.len().min(BUFFER_CAP.saturating_sub(self.buf.len()));
        self.buf.extend_from_slice(&data[..n]);
        n
    }

    fn compact(&mut self) {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
    }

    /// Cuts the next whole record, or `None` until more bytes arrive.
    ///
    /// RFC 8446 5.2: a TLSCiphertext longer than 2^14 + 256 is a record_overflow. The legacy
    /// record version is checked loosely: the major byte must be 3 (RFC 8446 5.1 says it MUST be
    /// ignored otherwise, but anything else is not TLS and gets a decode error fast).
    pub fn pop(&mut self) -> Result<Option<RawRecord>, Error> {
        let avail = &self.buf[self.start..];
        if avail.is_empty() && self.buf.capacity() > IDLE_CAPACITY {
            // Everything was consumed: give the room back, so that an idle connection costs
            // little (servers hold many of them).
            self.buf = Vec::new();
            self.start = 0;
            return Ok(None);
        }
        if avail.len() < HEADER_LEN {
            return Ok(None);
        }
        let mut header = [0u8; HEADER_LEN];
        header.copy_from_slice(&avail[..HEADER_LEN]);
        let typ = ContentType::from(header[0]);
        let version = u16::from_be_bytes([header[1], header[2]]);
        let len = u16::from_be_bytes([header[3], header[4]]) as usize;
        if matches!(typ, ContentType::Unknown(_)) {
            return Err(crate::error::PeerMisbehaved::UnknownContentType.into());
        }
        if header[1] != 3 {
            return Err(Error::Decode(crate::codec::DecodeError::IllegalValue(
                "record version",
            )));
        }
        if len > MAX_CIPHERTEXT {
            return Err(Error::RecordOverflow);
        }
        if avail.len() < HEADER_LEN + len {
            return Ok(None);
        }
        let payload = avail[HEADER_LEN..HEADER_LEN + len].to_vec();
        self.start += HEADER_LEN + len;
        Ok(Some(RawRecord {
            typ,
            version,
            header,
            payload,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_split_across_pushes_are_joined() {
        let mut d = Deframer::default();
        d.push(&[22, 3, 3, 0, 3, 1]);
        assert!(d.pop().unwrap().is_none());
        d.push(&[2, 3, 23, 3, 3, 0, 0]);
        let r = d.pop().unwrap().unwrap();
        assert_eq!(r.typ, ContentType::Handshake);
        assert_eq!(r.payload, [1, 2, 3]);
        let r = d.pop().unwrap().unwrap();
        assert_eq!(r.typ, ContentType::ApplicationData);
        assert!(r.payload.is_empty());
        assert!(d.pop().unwrap().is_none());
    }

    #[test]
    fn oversized_record_is_record_overflow() {
        let mut d = Deframer::default();
        let len = (MAX_CIPHERTEXT + 1) as u16;
        d.push(&[23, 3, 3, (len >> 8) as u8, len as u8]);
        assert_eq!(d.pop().unwrap_err(), Error::RecordOverflow);
    }

    #[test]
    fn unknown_content_type_is_unexpected_message() {
        let mut d = Deframer::default();
        d.push(&[99, 3, 3, 0, 0]);
        let e = d.pop().unwrap_err();
        assert_eq!(e.alert(), Some(crate::codec::AlertDescription::UnexpectedMessage));
    }

    #[test]
    fn buffer_is_capped() {
        let mut d = Deframer::default();
        let big = vec![0u8; BUFFER_CAP * 2];
        assert_eq!(d.push(&big), BUFFER_CAP);
        assert!(!d.has_room());
        let mut src: &[u8] = &big;
        assert!(d.read_from(&mut src).is_err());
    }
}
