//! Handshake message reassembly: messages split across records and several in one record
//! (RFC 8446 5.1), with a cap on message size.

use crate::codec::HandshakeType;
use crate::error::{Error, Limit};

/// Accumulates handshake record payloads and yields whole messages.
#[derive(Debug, Default)]
pub(crate) struct HandshakeJoiner {
    buf: Vec<u8>,
}

/// A whole handshake message: its type and the full encoding (header included, as the
/// transcript needs it).
#[derive(Debug)]
pub(crate) struct RawHandshake {
    pub typ: HandshakeType,
    pub bytes: Vec<u8>,
}

impl RawHandshake {
    pub fn body(&self) -> &[u8] {
        &self.bytes[4..]
    }
}

impl HandshakeJoiner {
    pub fn push(&mut self, payload: &[u8]) {
        self.buf.extend_from_slice(payload);
    }

    /// Frees the buffer if no partial message is in it.
    pub fn release(&mut self) {
        if self.buf.is_empty() {
            self.buf = Vec::new();
        }
    }

    /// True when no partial message is buffered: the point where keys may change.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Pops the next whole message; refuses one declaring more than `max_len` body bytes.
    pub fn pop(&mut self, max_len: usize) -> Result<Option<RawHandshake>, Error> {
        if self.buf.len() < 4 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([0, self.buf[1], self.buf[2], self.buf[3]]) as usize;
        if len > max_len {
            return Err(Error::LimitExceeded(Limit::HandshakeMessageSize));
        }
        if self.buf.len() < 4 + len {
            return Ok(None);
        }
        let rest = self.buf.split_off(4 + len);
        let bytes = std::mem::replace(&mut self.buf, rest);
        Ok(Some(RawHandshake {
            typ: HandshakeType::from(bytes[0]),
            bytes,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_split_across_records() {
        let mut j = HandshakeJoiner::default();
        j.push(&[20, 0, 0, 3, 9]);
        assert!(j.pop(100).unwrap().is_none());
        assert!(!j.is_empty());
        j.push(&[8, 7]);
        let m = j.pop(100).unwrap().unwrap();
        assert_eq!(m.typ, HandshakeType::Finished);
        assert_eq!(m.body(), [9, 8, 7]);
        assert!(j.is_empty());
    }

    #[test]
    fn several_messages_in_one_record() {
        let mut j = HandshakeJoiner::default();
        j.push(&[5, 0, 0, 0, 20, 0, 0, 1, 7]);
        assert_eq!(j.pop(100).unwrap().unwrap().typ, HandshakeType::EndOfEarlyData);
        assert_eq!(j.pop(100).unwrap().unwrap().body(), [7]);
        assert!(j.pop(100).unwrap().is_none());
    }

    #[test]
    fn oversized_message_is_refused_before_buffering() {
        let mut j = HandshakeJoiner::default();
        j.push(&[11, 0x01, 0, 0]);
        assert_eq!(
            j.pop(0xffff).unwrap_err(),
            Error::LimitExceeded(Limit::HandshakeMessageSize)
        );
    }
}
