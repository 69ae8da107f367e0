//! The outgoing bytes of the buffered path: protected records waiting for `write_tls`, and
//! application data framed straight into record layout.
//!
//! When nothing is queued ahead of it, `writer()` copies application data into this buffer
//! where its records will lie (header room before each record's content, type byte and tag
//! room after), so `write_tls` seals each record where it is: one copy from the caller's bytes
//! to the wire format, none through the queue. Records are cut at the same places the queue
//! would cut them (full records, the last one partial, consecutive writes coalesced), and they
//! are sealed at `write_tls` time, in order, like queued data: a few at a time
//! ([`SEAL_AHEAD`]), so each is copied out while the AEAD pass has it in cache. Whatever is
//! queued later (a handshake message, an alert, a key change) may have to go first: the
//! connection then moves the framed plaintext not sealed yet back into the queue
//! ([`SendBuf::unframe`]) and the queue's rules decide.
//!
//! `write_tls` hands out the sealed bytes from `sent` on; a partial write only advances `sent`
//! (no bytes move until the buffer is reused).

/// Sealed bytes `write_tls` keeps ready before it seals more framed records.
pub(crate) const SEAL_AHEAD: usize = 64 * 1024;

/// Application data framed in place: records from `at` on, each with `max` bytes of content
/// except the last (`last_len`); the first `sealed` of them are sealed.
#[derive(Debug, Clone, Copy)]
struct Framed {
    at: usize,
    /// Content bytes per full record.
    max: usize,
    /// Bytes before a record's content (header, explicit nonce).
    offset: usize,
    /// Bytes a record adds to its content in all.
    overhead: usize,
    /// Records framed, the last one counted even when it is partial.
    records: usize,
    /// Content bytes of the last record.
    last_len: usize,
    sealed: usize,
}

impl Framed {
    fn stride(&self) -> usize {
        self.max + self.overhead
    }

    fn content_len(&self, i: usize) -> usize {
        if i + 1 == self.records {
            self.last_len
        } else {
            self.max
        }
    }

    /// Where record `i` starts.
    fn start(&self, i: usize) -> usize {
        self.at + i * self.stride()
    }

    /// Content bytes not sealed yet.
    fn unsealed_bytes(&self) -> usize {
        match self.records - self.sealed {
            0 => 0,
            n => (n - 1) * self.max + self.last_len,
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct SendBuf {
    buf: Vec<u8>,
    /// Bytes of `buf` already handed to the transport.
    sent: usize,
    framed: Option<Framed>,
}

impl SendBuf {
    /// True when nothing waits to be sent (sealed or framed).
    pub fn is_empty(&self) -> bool {
        self.sent == self.buf.len()
    }

    /// Application bytes framed but not sealed yet (they count against the plaintext cap,
    /// as queued ones do).
    pub fn framed_bytes(&self) -> usize {
        self.framed.map_or(0, |f| f.unsealed_bytes())
    }

    /// True when application data framed with these parameters can be appended.
    pub fn can_frame(&self, max: usize, offset: usize, overhead: usize) -> bool {
        self.framed
            .is_none_or(|f| f.max == max && f.offset == offset && f.overhead == overhead)
    }

    /// Sealed records go at the end: only once the framed data has been sealed or moved out.
    pub fn records(&mut self) -> &mut Vec<u8> {
        debug_assert!(self.framed.is_none());
        self.compact();
        &mut self.buf
    }

    /// Copies `data` into record layout after what is already framed: it fills the last
    /// record up to `max` bytes of content, then starts new ones.
    pub fn frame(&mut self, data: &[u8], max: usize, offset: usize, overhead: usize) {
        if data.is_empty() {
            return;
        }
        if self.sent > self.buf.len() / 2 {
            self.compact();
        }
        let at = self.buf.len();
        let f = self.framed.get_or_insert(Framed {
            at,
            max,
            offset,
            overhead,
            records: 0,
            last_len: max,
            sealed: 0,
        });
        let mut rest = data;
        while !rest.is_empty() {
            if f.last_len == f.max {
                // A new record: header room, then its content.
                f.records += 1;
                f.last_len = 0;
                let start = self.buf.len();
                self.buf.resize(start + f.offset, 0);
            }
            let n = (f.max - f.last_len).min(rest.len());
            self.buf.extend_from_slice(&rest[..n]);
            f.last_len += n;
            rest = &rest[n..];
            if f.last_len == f.max {
                // Room for the type byte and tag of the record just filled.
                let end = self.buf.len() + f.overhead - f.offset;
                self.buf.resize(end, 0);
            }
        }
    }

    /// Sealed bytes waiting for the transport.
    pub fn sealed_len(&self) -> usize {
        self.sealed_end() - self.sent
    }

    fn sealed_end(&self) -> usize {
        self.framed.map_or(self.buf.len(), |f| f.start(f.sealed))
    }

    /// The next framed record to seal: its bytes, to seal in place, and its content length.
    /// Sealing the last one ends the framing (its trailer room is added then).
    pub fn next_to_seal(&mut self) -> Option<(&mut [u8], usize)> {
        let f = self.framed.as_mut()?;
        let i = f.sealed;
        let len = f.content_len(i);
        let start = f.start(i);
        let end = start + len + f.overhead;
        f.sealed += 1;
        if f.sealed == f.records {
            self.framed = None;
            self.buf.resize(end, 0);
        }
        Some((&mut self.buf[start..end], len))
    }

    /// Moves the framed plaintext not sealed yet out of the buffer (into `into`): it goes
    /// back through the queue. Ends the framing.
    pub fn unframe(&mut self, into: &mut Vec<u8>) {
        let Some(f) = self.framed.take() else {
            return;
        };
        for i in f.sealed..f.records {
            let content = f.start(i) + f.offset;
            into.extend_from_slice(&self.buf[content..content + f.content_len(i)]);
        }
        self.buf.truncate(f.start(f.sealed));
    }

    /// What `write_tls` sends next: the sealed bytes.
    pub fn pending(&self) -> &[u8] {
        &self.buf[self.sent..self.sealed_end()]
    }

    /// `n` bytes of [`pending`](Self::pending) went to the transport.
    pub fn consume(&mut self, n: usize) {
        self.sent = (self.sent + n).min(self.sealed_end());
        if self.sent == self.buf.len() {
            self.buf.clear();
            self.sent = 0;
        }
    }

    /// Drops the bytes already sent, so new ones go to the front of the buffer.
    fn compact(&mut self) {
        if self.sent > 0 {
            self.buf.drain(..self.sent);
            if let Some(f) = self.framed.as_mut() {
                f.at -= self.sent;
            }
            self.sent = 0;
        }
    }

    /// Frees the buffer if nothing waits in it.
    pub fn release(&mut self) {
        if self.is_empty() {
            *self = SendBuf::default();
        }
    }

    /// A reset connection's buffer: keeps this allocation, takes `fresh`'s bytes.
    pub fn reuse_for(mut self, fresh: &SendBuf) -> SendBuf {
        self.buf.clear();
        self.buf.extend_from_slice(fresh.pending());
        self.sent = 0;
        self.framed = None;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seal_next(b: &mut SendBuf) -> Option<(usize, Vec<u8>)> {
        let (rec, len) = b.next_to_seal()?;
        Some((rec.len(), rec[2..2 + len].to_vec()))
    }

    #[test]
    fn framing_cuts_records_across_writes() {
        let mut b = SendBuf::default();
        b.frame(b"abcde", 4, 2, 3);
        b.frame(b"fg", 4, 2, 3);
        assert_eq!(b.framed_bytes(), 7);
        assert!(b.pending().is_empty(), "nothing sealed yet");
        assert_eq!(seal_next(&mut b), Some((7, b"abcd".to_vec())));
        assert_eq!(b.pending().len(), 7);
        assert_eq!(b.framed_bytes(), 3);
        assert_eq!(seal_next(&mut b), Some((6, b"efg".to_vec())));
        assert!(seal_next(&mut b).is_none());
        assert_eq!(b.pending().len(), 13);
        b.consume(13);
        assert!(b.is_empty());
    }

    #[test]
    fn unframing_gives_back_what_is_not_sealed_in_order() {
        let mut b = SendBuf::default();
        b.frame(b"abcdefghij", 4, 2, 3);
        seal_next(&mut b);
        let mut out = Vec::new();
        b.unframe(&mut out);
        assert_eq!(out, b"efghij");
        assert_eq!(b.pending().len(), 7, "the sealed record stays");
        assert_eq!(b.framed_bytes(), 0);
    }

    #[test]
    fn partial_sends_move_no_bytes() {
        let mut b = SendBuf::default();
        b.records().extend_from_slice(b"0123456789");
        b.consume(4);
        assert_eq!(b.pending(), b"456789");
        b.consume(6);
        assert!(b.is_empty());
        assert!(b.pending().is_empty());
    }
}
