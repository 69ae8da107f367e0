//! Handshake message reassembly: messages split across records and several in one record
//! (RFC 8446 5.1), with a cap on message size.

use crate::codec::HandshakeType;
use crate::error::Error;

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
        let needed = self.buf.len() + payload.len();
        if needed > self.buf.capacity() {
            // Doubling, but not past the size the message at the front declares: a message
            // just over a power of two would otherwise hold nearly twice its size.
            let declared = match self.buf[..] {
                [_, a, b, c, ..] => 4 + (u32::from_be_bytes([0, a, b, c]) as usize),
                _ => 0,
            };
            let target = needed.max(declared.min(self.buf.capacity() * 2));
            self.buf.reserve_exact(target - self.buf.len());
        }
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

    /// Pops the next whole message. `check` sees the type and declared body length of the
    /// message at the front as soon as its header is in, before the body is buffered (a
    /// message too large, or of a type the state refuses, costs no memory); its error is
    /// returned.
    pub fn pop(
        &mut self,
        check: impl FnOnce(HandshakeType, usize) -> Result<(), Error>,
    ) -> Result<Option<RawHandshake>, Error> {
        let [typ, a, b, c, ..] = self.buf[..] else {
            return Ok(None);
        };
        let typ = HandshakeType::from(typ);
        let len = u32::from_be_bytes([0, a, b, c]) as usize;
        check(typ, len)?;
        if self.buf.len() < 4 + len {
            return Ok(None);
        }
        let rest = self.buf.split_off(4 + len);
        let bytes = std::mem::replace(&mut self.buf, rest);
        Ok(Some(RawHandshake { typ, bytes }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Limit;

    fn cap(max: usize) -> impl FnOnce(HandshakeType, usize) -> Result<(), Error> {
        move |_, len| match len > max {
            true => Err(Error::LimitExceeded(Limit::HandshakeMessageSize)),
            false => Ok(()),
        }
    }

    #[test]
    fn message_split_across_records() {
        let mut j = HandshakeJoiner::default();
        j.push(&[20, 0, 0, 3, 9]);
        assert!(j.pop(cap(100)).unwrap().is_none());
        assert!(!j.is_empty());
        j.push(&[8, 7]);
        let m = j.pop(cap(100)).unwrap().unwrap();
        assert_eq!(m.typ, HandshakeType::Finished);
        assert_eq!(m.body(), [9, 8, 7]);
        assert!(j.is_empty());
    }

    #[test]
    fn several_messages_in_one_record() {
        let mut j = HandshakeJoiner::default();
        j.push(&[5, 0, 0, 0, 20, 0, 0, 1, 7]);
        assert_eq!(
            j.pop(cap(100)).unwrap().unwrap().typ,
            HandshakeType::EndOfEarlyData
        );
        assert_eq!(j.pop(cap(100)).unwrap().unwrap().body(), [7]);
        assert!(j.pop(cap(100)).unwrap().is_none());
    }

    #[test]
    fn oversized_message_is_refused_before_buffering() {
        let mut j = HandshakeJoiner::default();
        j.push(&[11, 0x01, 0, 0]);
        assert_eq!(
            j.pop(cap(0xffff)).unwrap_err(),
            Error::LimitExceeded(Limit::HandshakeMessageSize)
        );
    }

    #[test]
    fn check_sees_type_and_length_at_the_header() {
        let mut j = HandshakeJoiner::default();
        j.push(&[5, 0, 1]);
        assert!(j.pop(|_, _| panic!("no header yet")).unwrap().is_none());
        j.push(&[2]);
        let mut seen = None;
        assert!(j
            .pop(|typ, len| {
                seen = Some((typ, len));
                Ok(())
            })
            .unwrap()
            .is_none());
        assert_eq!(seen, Some((HandshakeType::EndOfEarlyData, 0x102)));
        let refused = Error::UnexpectedMessage {
            state: "test",
            got: "end_of_early_data",
        };
        assert_eq!(j.pop(|_, _| Err(refused.clone())).unwrap_err(), refused);
    }
}
