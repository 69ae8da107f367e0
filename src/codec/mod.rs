//! Wire codec: a bounds-checked [`Reader`], length-prefixed writers, and the IANA enums.
//!
//! Decoding never panics: every short read or trailing byte is a [`DecodeError`] value.

mod enums;

pub use enums::*;

use core::fmt;

/// Why a byte string failed to decode. Maps to the `decode_error` alert unless the caller
/// knows better (RFC 8446 6.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// Fewer bytes remained than the field needs.
    Truncated(&'static str),
    /// Bytes were left over after the structure ended.
    TrailingData(&'static str),
    /// A length or value lies outside the range the RFC allows.
    IllegalValue(&'static str),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated(what) => write!(f, "truncated {what}"),
            DecodeError::TrailingData(what) => write!(f, "trailing data after {what}"),
            DecodeError::IllegalValue(what) => write!(f, "illegal value in {what}"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// A cursor over a byte slice that refuses to read past its end.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader positioned at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Bytes not yet consumed.
    pub fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    /// How many bytes are not yet consumed.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// True once every byte has been consumed.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// Bytes consumed so far.
    pub fn used(&self) -> usize {
        self.pos
    }

    /// Fails with `TrailingData` unless everything was consumed.
    pub fn expect_empty(&self, what: &'static str) -> Result<(), DecodeError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::TrailingData(what))
        }
    }

    /// Consumes and returns the next `n` bytes; `Truncated(what)` if fewer remain (nothing
    /// is consumed then).
    pub fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.remaining() < n {
            return Err(DecodeError::Truncated(what));
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// Consumes and returns everything left.
    pub fn take_rest(&mut self) -> &'a [u8] {
        let out = self.rest();
        self.pos = self.buf.len();
        out
    }

    /// Reads one byte; `Truncated(what)` at the end.
    pub fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.take(1, what)?[0])
    }

    /// Reads a big-endian (network order, RFC 8446 3.3) 16-bit integer from 2 bytes.
    pub fn u16(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    /// Reads a big-endian (network order, RFC 8446 3.3) 24-bit integer from 3 bytes.
    pub fn u24(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        let b = self.take(3, what)?;
        Ok(u32::from_be_bytes([0, b[0], b[1], b[2]]))
    }

    /// Reads a big-endian (network order, RFC 8446 3.3) 32-bit integer from 4 bytes.
    pub fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Reads a big-endian (network order, RFC 8446 3.3) 48-bit integer from 6 bytes.
    pub fn u48(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        let b = self.take(6, what)?;
        Ok(u64::from_be_bytes([0, 0, b[0], b[1], b[2], b[3], b[4], b[5]]))
    }

    /// Reads a big-endian (network order, RFC 8446 3.3) 64-bit integer from 8 bytes.
    pub fn u64(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        let b = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }

    /// Reads a length prefix of `prefix` bytes and returns the body it covers.
    pub fn vec_bytes(&mut self, prefix: LenPrefix, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let len = match prefix {
            LenPrefix::U8 => self.u8(what)? as usize,
            LenPrefix::U16 => self.u16(what)? as usize,
            LenPrefix::U24 => self.u24(what)? as usize,
        };
        self.take(len, what)
    }

    /// Like [`Reader::vec_bytes`] but returns a sub-reader over the body.
    pub fn sub(&mut self, prefix: LenPrefix, what: &'static str) -> Result<Reader<'a>, DecodeError> {
        Ok(Reader::new(self.vec_bytes(prefix, what)?))
    }

    /// Reads a length-prefixed vector of `T` items, the whole body consumed.
    pub fn vec_of<T: Codec>(&mut self, prefix: LenPrefix, what: &'static str) -> Result<Vec<T>, DecodeError> {
        let mut sub = self.sub(prefix, what)?;
        let mut out = Vec::new();
        while !sub.is_empty() {
            out.push(T::decode(&mut sub)?);
        }
        Ok(out)
    }
}

/// Width of a vector's length prefix (RFC 8446 3.4: `<floor..ceiling>` vectors).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LenPrefix {
    /// One length byte: `<0..2^8-1>`.
    U8,
    /// Two length bytes: `<0..2^16-1>`.
    U16,
    /// Three length bytes: `<0..2^24-1>` (certificate lists, handshake bodies).
    U24,
}

impl LenPrefix {
    /// The longest body the prefix can describe.
    pub const fn max(self) -> usize {
        match self {
            LenPrefix::U8 => 0xff,
            LenPrefix::U16 => 0xffff,
            LenPrefix::U24 => 0xff_ffff,
        }
    }

    /// The prefix's own size in bytes.
    pub const fn width(self) -> usize {
        match self {
            LenPrefix::U8 => 1,
            LenPrefix::U16 => 2,
            LenPrefix::U24 => 3,
        }
    }
}

/// Appends one byte.
pub fn put_u8(out: &mut Vec<u8>, v: u8) {
    out.push(v);
}

/// Appends `v` big-endian in 2 bytes.
pub fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Appends `v` big-endian in 3 bytes (the low 24 bits of `v`; handshake lengths, RFC 8446 4).
pub fn put_u24(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes()[1..]);
}

/// Appends `v` big-endian in 4 bytes.
pub fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Appends `v` big-endian in 6 bytes (the low 48 bits of `v`; DTLS 1.2 record sequence
/// numbers, RFC 6347 4.1).
pub fn put_u48(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_be_bytes()[2..]);
}

/// Appends `v` big-endian in 8 bytes.
pub fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Writes a length prefix, runs `body`, then patches the prefix with the body's length.
///
/// Panics only if our own encoder produces a body longer than the prefix can hold, which is a
/// programming error (every caller bounds its input first).
pub fn put_len_prefixed(out: &mut Vec<u8>, prefix: LenPrefix, body: impl FnOnce(&mut Vec<u8>)) {
    let at = out.len();
    out.extend_from_slice(&[0u8; 3][..prefix.width()]);
    body(out);
    let len = out.len() - at - prefix.width();
    assert!(len <= prefix.max(), "encoded vector exceeds its length prefix");
    let be = (len as u32).to_be_bytes();
    out[at..at + prefix.width()].copy_from_slice(&be[4 - prefix.width()..]);
}

/// Writes `bytes` behind a length prefix.
pub fn put_vec_bytes(out: &mut Vec<u8>, prefix: LenPrefix, bytes: &[u8]) {
    put_len_prefixed(out, prefix, |o| o.extend_from_slice(bytes));
}

/// Writes a length-prefixed vector of items.
pub fn put_vec_of<T: Codec>(out: &mut Vec<u8>, prefix: LenPrefix, items: &[T]) {
    put_len_prefixed(out, prefix, |o| {
        for item in items {
            item.encode(o);
        }
    });
}

/// The one encode/decode pair every wire type implements.
pub trait Codec: Sized {
    /// Appends the wire form to `out`.
    fn encode(&self, out: &mut Vec<u8>);
    /// Reads one value from `r`, leaving whatever follows it unread.
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError>;

    /// The wire form as a fresh vector.
    fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.encode(&mut v);
        v
    }

    /// Decodes a whole byte string, refusing trailing bytes.
    fn read_exact(bytes: &[u8], what: &'static str) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let v = Self::decode(&mut r)?;
        r.expect_empty(what)?;
        Ok(v)
    }
}

impl Codec for u8 {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(*self)
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.u8("u8")
    }
}

impl Codec for u16 {
    fn encode(&self, out: &mut Vec<u8>) {
        put_u16(out, *self)
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.u16("u16")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_refuses_to_read_past_end() {
        let mut r = Reader::new(&[1, 2, 3]);
        assert_eq!(r.u16("x"), Ok(0x0102));
        assert_eq!(r.u16("y"), Err(DecodeError::Truncated("y")));
        assert_eq!(r.u8("z"), Ok(3));
        assert!(r.is_empty());
    }

    #[test]
    fn length_prefixed_round_trip() {
        let mut out = Vec::new();
        put_vec_of(&mut out, LenPrefix::U16, &[1u16, 2, 3]);
        assert_eq!(out, [0, 6, 0, 1, 0, 2, 0, 3]);
        let mut r = Reader::new(&out);
        assert_eq!(r.vec_of::<u16>(LenPrefix::U16, "v").unwrap(), vec![1, 2, 3]);
    }

    #[test]
    fn vector_length_past_end_is_truncated() {
        let mut r = Reader::new(&[0, 5, 1, 2]);
        assert!(matches!(
            r.vec_bytes(LenPrefix::U16, "v"),
            Err(DecodeError::Truncated(_))
        ));
    }

    #[test]
    fn u24_and_u48() {
        let mut out = Vec::new();
        put_u24(&mut out, 0x010203);
        put_u48(&mut out, 0x0102_0304_0506);
        let mut r = Reader::new(&out);
        assert_eq!(r.u24("a").unwrap(), 0x010203);
        assert_eq!(r.u48("b").unwrap(), 0x0102_0304_0506);
    }
}
