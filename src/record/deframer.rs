//! Splits the inbound byte stream into records (RFC 8446 5.1) with bounded buffering.
//!
//! Records are deprotected where they lie: [`Deframer::pop`] lends the payload of the next
//! whole record as a mutable slice of the inbound buffer, so the buffered path costs no copy
//! beyond the AEAD pass either. Application data opened there stays there until the
//! application reads it ([`Deframer::hold_in_last`], [`Deframer::read_held`]): the one copy is
//! into the caller's buffer. [`RecordHeader::parse`] holds the header rules for both the
//! buffered and the zero-copy path.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io;
use std::ops::Range;

use super::{HEADER_LEN, MAX_CIPHERTEXT};
use crate::codec::ContentType;
use crate::error::Error;

/// A checked record header.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RecordHeader {
    pub typ: ContentType,
    pub version: u16,
    /// The 5 bytes as received (the TLS 1.3 AEAD additional data).
    pub bytes: [u8; HEADER_LEN],
    /// Payload length.
    pub len: usize,
}

impl RecordHeader {
    /// Parses the header at the start of `buf`; `None` until 5 bytes are there.
    ///
    /// RFC 8446 5.2: a TLSCiphertext longer than 2^14 + 256 is a record_overflow. The legacy
    /// record version is checked loosely: the major byte must be 3 (RFC 8446 5.1 says it MUST be
    /// ignored otherwise, but anything else is not TLS and gets a decode error fast).
    pub fn parse(buf: &[u8]) -> Result<Option<RecordHeader>, Error> {
        let Some(head) = buf.get(..HEADER_LEN) else {
            return Ok(None);
        };
        let mut bytes = [0u8; HEADER_LEN];
        bytes.copy_from_slice(head);
        let typ = ContentType::from(bytes[0]);
        let len = u16::from_be_bytes([bytes[3], bytes[4]]) as usize;
        if matches!(typ, ContentType::Unknown(_)) {
            return Err(crate::error::PeerMisbehaved::UnknownContentType.into());
        }
        if bytes[1] != 3 {
            return Err(Error::Decode(crate::codec::DecodeError::IllegalValue(
                "record version",
            )));
        }
        if len > MAX_CIPHERTEXT {
            return Err(Error::RecordOverflow);
        }
        Ok(Some(RecordHeader {
            typ,
            version: u16::from_be_bytes([bytes[1], bytes[2]]),
            bytes,
            len,
        }))
    }

    /// Header plus payload.
    pub fn total_len(&self) -> usize {
        HEADER_LEN + self.len
    }
}

/// Inbound byte buffer. Holds at most a few whole records, so a peer that sends faster than we
/// process is back-pressured at `read_tls` instead of growing our memory. The buffer grows to
/// what the records need (at least [`READ_SIZE`]) and is reused; it is never zeroed again, and
/// while it is handshake-sized it is not zeroed at all (reads go through [`SCRATCH`]).
#[derive(Debug, Default)]
pub(crate) struct Deframer {
    buf: Vec<u8>,
    /// Bytes of `buf` already consumed as records (compacted lazily).
    start: usize,
    /// Bytes of `buf` filled by reads.
    end: usize,
    /// Where the payload of the record `pop` lent last starts in `buf`.
    last_at: usize,
    /// Application data opened in place and not read yet: ranges of `buf` before `start`, in
    /// order. The next read into the buffer would overwrite them, so the caller moves them
    /// out first ([`Deframer::spill_held`]).
    held: VecDeque<Range<usize>>,
    held_len: usize,
}

/// Largest buffer `read_tls` fills: enough for a full record plus the next header.
const BUFFER_CAP: usize = 2 * (HEADER_LEN + MAX_CIPHERTEXT);
/// Smallest read we offer the reader.
const READ_SIZE: usize = 4096;

thread_local! {
    /// Where reads land while the buffer is released or smaller than [`READ_SIZE`]: the bytes
    /// that came are appended to the buffer, so a released buffer stays released when nothing
    /// comes, and no connection zeroes fresh room for a handshake flight (safe code must hand
    /// `io::Read` initialized memory; this is initialized once per thread). It only ever holds
    /// bytes as they were on the wire.
    static SCRATCH: RefCell<[u8; READ_SIZE]> = const { RefCell::new([0; READ_SIZE]) };
}

/// Reads once from `rd`, at most `want` (<= [`READ_SIZE`]) bytes, appending them to `into`
/// through [`SCRATCH`] (a stack buffer if a reader reads another connection's input from
/// inside its own `read`). A released `into` gets [`READ_SIZE`] bytes of room, and only once
/// bytes came.
fn read_appending(rd: &mut dyn io::Read, want: usize, into: &mut Vec<u8>) -> io::Result<usize> {
    let mut read = |tmp: &mut [u8]| {
        let n = rd.read(&mut tmp[..want])?;
        let got = tmp
            .get(..n)
            .ok_or_else(|| io::Error::other("reader returned more bytes than it was given room for"))?;
        if n > 0 && into.capacity() == 0 {
            into.reserve_exact(READ_SIZE);
        }
        into.extend_from_slice(got);
        Ok(n)
    };
    match SCRATCH.try_with(|s| s.try_borrow_mut().ok().map(|mut s| read(&mut s[..]))) {
        Ok(Some(res)) => res,
        _ => read(&mut [0u8; READ_SIZE]),
    }
}

impl Deframer {
    /// Bytes waiting to be cut into records.
    pub fn buffered(&self) -> usize {
        self.end - self.start
    }

    pub fn has_room(&self) -> bool {
        self.buffered() < self.room()
    }

    /// How far the buffer may be filled now.
    fn room(&self) -> usize {
        self.buf.len().max(self.wanted()).min(BUFFER_CAP)
    }

    /// Frees the buffer if it holds nothing.
    pub fn release(&mut self) {
        if self.buffered() == 0 && self.held.is_empty() {
            *self = Deframer::default();
        }
    }

    /// Keeps `range` of the payload `pop` lent last (opened application data) in place for
    /// [`read_held`](Self::read_held).
    pub fn hold_in_last(&mut self, range: Range<usize>) {
        if range.is_empty() {
            return;
        }
        self.held_len += range.len();
        self.held
            .push_back(self.last_at + range.start..self.last_at + range.end);
    }

    /// Bytes of opened application data held in place.
    pub fn held_len(&self) -> usize {
        self.held_len
    }

    /// Copies held application data into `out`, oldest first; returns the bytes copied.
    pub fn read_held(&mut self, out: &mut [u8]) -> usize {
        let mut n = 0;
        while n < out.len() {
            let front = self.front_held();
            if front.is_empty() {
                break;
            }
            let take = front.len().min(out.len() - n);
            out[n..n + take].copy_from_slice(&front[..take]);
            n += take;
            self.consume_held(take);
        }
        n
    }

    /// The oldest held application data (one record's, or what is left of it), where it
    /// lies; empty when nothing is held.
    pub fn front_held(&self) -> &[u8] {
        self.held
            .front()
            .and_then(|r| self.buf.get(r.clone()))
            .unwrap_or_default()
    }

    /// Marks the first `n` bytes of held application data read (at most what is held).
    pub fn consume_held(&mut self, mut n: usize) {
        while n > 0 {
            let Some(r) = self.held.front_mut() else {
                break;
            };
            let take = r.len().min(n);
            r.start += take;
            self.held_len -= take;
            n -= take;
            if r.start == r.end {
                self.held.pop_front();
            }
        }
    }

    /// Moves the held application data to the end of `into` (before the buffer is refilled).
    pub fn spill_held(&mut self, into: &mut Vec<u8>) {
        for r in self.held.drain(..) {
            into.extend_from_slice(&self.buf[r]);
        }
        self.held_len = 0;
    }

    /// Buffer size that fits the record being received (and the next header).
    fn wanted(&self) -> usize {
        let avail = &self.buf[self.start..self.end];
        let need = match RecordHeader::parse(avail) {
            Ok(Some(h)) => h.total_len() + HEADER_LEN,
            _ => 0,
        };
        need.clamp(READ_SIZE, BUFFER_CAP)
    }

    /// Reads once from `rd` into free room; `Ok(0)` means EOF from the reader. Refused while
    /// opened application data is held (it would be overwritten: `spill_held` first).
    pub fn read_from(&mut self, rd: &mut dyn io::Read) -> io::Result<usize> {
        if !self.held.is_empty() {
            return Err(io::Error::other(
                "opened application data still held in the inbound buffer",
            ));
        }
        self.compact();
        let room = self.room();
        if self.end >= room {
            return Err(io::Error::other(
                "inbound buffer full: call process_new_packets first",
            ));
        }
        if self.buf.len() < room && room <= READ_SIZE {
            // Released or still small: only the bytes that come are kept (initialized), so a
            // read that brings nothing (EOF, WouldBlock) allocates nothing and a handshake
            // flight is never preceded by zeroing room for it.
            self.buf.truncate(self.end);
            let n = read_appending(rd, room - self.end, &mut self.buf)?;
            self.end += n;
            return Ok(n);
        }
        if self.buf.len() < room {
            self.buf.resize(room, 0);
        }
        let n = rd.read(&mut self.buf[self.end..room])?;
        self.end += n;
        Ok(n)
    }

    /// Appends bytes directly (used by tests and the fuzzers); refuses past the cap.
    #[cfg_attr(not(any(test, feature = "fuzzing")), allow(dead_code))]
    pub fn push(&mut self, data: &[u8]) -> usize {
        let mut done = 0;
        while done < data.len() {
            let mut rest = &data[done..];
            match self.read_from(&mut rest) {
                Ok(n) if n > 0 => done += n,
                _ => break,
            }
        }
        done
    }

    fn compact(&mut self) {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
    }

    /// Cuts the next whole record, or `None` until more bytes arrive. The payload is lent in
    /// place, still protected if it was.
    pub fn pop(&mut self) -> Result<Option<(RecordHeader, &mut [u8])>, Error> {
        let avail = &self.buf[self.start..self.end];
        let Some(header) = RecordHeader::parse(avail)? else {
            return Ok(None);
        };
        if avail.len() < header.total_len() {
            return Ok(None);
        }
        let at = self.start + HEADER_LEN;
        self.last_at = at;
        self.start += header.total_len();
        if self.start == self.end {
            // Everything consumed: the next read starts at the front, no compaction needed.
            self.start = 0;
            self.end = 0;
        }
        Ok(Some((header, &mut self.buf[at..at + header.len])))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pop_owned(d: &mut Deframer) -> Result<Option<(ContentType, Vec<u8>)>, Error> {
        Ok(d.pop()?.map(|(h, p)| (h.typ, p.to_vec())))
    }

    #[test]
    fn records_split_across_pushes_are_joined() {
        let mut d = Deframer::default();
        d.push(&[22, 3, 3, 0, 3, 1]);
        assert!(d.pop().unwrap().is_none());
        d.push(&[2, 3, 23, 3, 3, 0, 0]);
        let (typ, payload) = pop_owned(&mut d).unwrap().unwrap();
        assert_eq!(typ, ContentType::Handshake);
        assert_eq!(payload, [1, 2, 3]);
        let (typ, payload) = pop_owned(&mut d).unwrap().unwrap();
        assert_eq!(typ, ContentType::ApplicationData);
        assert!(payload.is_empty());
        assert!(d.pop().unwrap().is_none());
        assert_eq!(d.buffered(), 0);
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
        // A stream of maximal records: the buffer grows to two of them and no further.
        let mut big = Vec::new();
        for _ in 0..4 {
            let len = MAX_CIPHERTEXT as u16;
            big.extend_from_slice(&[23, 3, 3, (len >> 8) as u8, len as u8]);
            big.resize(big.len() + MAX_CIPHERTEXT, 0);
        }
        assert!(d.push(&big) <= BUFFER_CAP);
        assert!(!d.has_room());
        let mut src: &[u8] = &big;
        assert!(d.read_from(&mut src).is_err());
        assert!(d.buf.capacity() <= BUFFER_CAP);
    }

    #[test]
    fn empty_read_into_a_released_buffer_allocates_nothing() {
        let mut d = Deframer::default();
        assert_eq!(d.read_from(&mut &[][..]).unwrap(), 0);
        assert_eq!(d.buf.capacity(), 0);
    }

    #[test]
    fn held_plaintext_is_read_in_order_and_spilled_before_a_refill() {
        let mut d = Deframer::default();
        d.push(&[23, 3, 3, 0, 3, b'a', b'b', b'c', 23, 3, 3, 0, 2, b'd', b'e']);
        let (_, p) = d.pop().unwrap().unwrap();
        assert_eq!(p, b"abc");
        d.hold_in_last(1..3);
        let (_, p) = d.pop().unwrap().unwrap();
        assert_eq!(p, b"de");
        d.hold_in_last(0..2);
        assert_eq!(d.buffered(), 0);
        assert_eq!(d.held_len(), 4);
        let mut out = [0u8; 3];
        assert_eq!(d.read_held(&mut out), 3);
        assert_eq!(&out, b"bcd");
        // Refilling would overwrite what is held: refused until it is moved out.
        assert!(d.read_from(&mut &[23u8, 3, 3, 0, 0][..]).is_err());
        d.release();
        assert_eq!(d.held_len(), 1, "release keeps held data");
        let mut spilled = b"x".to_vec();
        d.spill_held(&mut spilled);
        assert_eq!(spilled, b"xe");
        assert_eq!(d.held_len(), 0);
        assert_eq!(d.read_from(&mut &[23u8, 3, 3, 0, 0][..]).unwrap(), 5);
    }

    /// A reader that feeds another connection's deframer from inside its own `read` (the
    /// thread's scratch buffer is busy then): both reads still deliver their bytes.
    #[test]
    fn a_read_nested_in_a_read_gets_its_bytes() {
        struct Nested<'a>(&'a mut Deframer);
        impl io::Read for Nested<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                assert_eq!(self.0.read_from(&mut &[22u8, 3, 3, 0, 1, 7][..])?, 6);
                (&[23u8, 3, 3, 0, 1, 9][..]).read(buf)
            }
        }
        let mut inner = Deframer::default();
        let mut outer = Deframer::default();
        assert_eq!(outer.read_from(&mut Nested(&mut inner)).unwrap(), 6);
        assert_eq!(
            pop_owned(&mut inner).unwrap(),
            Some((ContentType::Handshake, vec![7]))
        );
        assert_eq!(
            pop_owned(&mut outer).unwrap(),
            Some((ContentType::ApplicationData, vec![9]))
        );
    }

    /// Handshake-sized reads keep only the bytes that came, in order, whatever their sizes.
    #[test]
    fn small_reads_append_in_order() {
        let mut d = Deframer::default();
        let record = [22u8, 3, 3, 0, 4, 1, 2, 3, 4];
        for chunk in record.chunks(2) {
            assert_eq!(d.read_from(&mut &chunk[..]).unwrap(), chunk.len());
        }
        assert_eq!(d.buf.len(), record.len());
        assert!(d.buf.capacity() <= READ_SIZE);
        assert_eq!(
            pop_owned(&mut d).unwrap(),
            Some((ContentType::Handshake, vec![1, 2, 3, 4]))
        );
    }

    #[test]
    fn small_records_keep_the_buffer_small() {
        let mut d = Deframer::default();
        d.push(&[22, 3, 3, 0, 1, 9]);
        assert!(d.buf.capacity() <= READ_SIZE);
        assert!(pop_owned(&mut d).unwrap().is_some());
        d.release();
        assert_eq!(d.buf.capacity(), 0);
    }
}
