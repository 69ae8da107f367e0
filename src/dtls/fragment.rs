//! DTLS handshake fragmentation and reassembly (RFC 6347 4.2.2-4.2.3, RFC 9147 5.2, 5.5).
//!
//! Every DTLS handshake message carries a 12-byte header: `msg_type, length u24,
//! message_seq u16, fragment_offset u24, fragment_length u24`. The sender cuts a message into
//! fragments that fit the path MTU; the receiver puts them back together whatever their
//! order, duplication or overlap, and hands out whole messages in `message_seq` order.
//! Memory is bounded: a cap on the message size, on the number of messages buffered ahead,
//! and on the bytes buffered in total.

use crate::error::Parameter;
use std::collections::BTreeMap;

use crate::codec::{put_u16, put_u24, put_u8, DecodeError, HandshakeType, Reader};
use crate::{Error, Limit, PeerMisbehaved};

/// Length of the DTLS handshake header.
pub const HANDSHAKE_HEADER_LEN: usize = 12;
/// Largest handshake message length the u24 field can carry.
pub const MAX_U24: u32 = 0xff_ffff;

/// The DTLS handshake header (RFC 6347 4.2.2, RFC 9147 5.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HandshakeHeader {
    /// The message's handshake type.
    pub msg_type: HandshakeType,
    /// Length of the whole message body.
    pub length: u32,
    /// The message's number in the handshake: 0 for each side's first message, then one
    /// more per message (retransmissions keep it), RFC 6347 4.2.2.
    pub message_seq: u16,
    /// Where this fragment's data starts in the message body.
    pub fragment_offset: u32,
    /// Bytes of body data this fragment carries.
    pub fragment_length: u32,
}

impl HandshakeHeader {
    /// Appends the 12 header bytes (only the low 24 bits of the u24 fields are written;
    /// [`fragments`] never produces larger values).
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_u8(out, self.msg_type.get());
        put_u24(out, self.length);
        put_u16(out, self.message_seq);
        put_u24(out, self.fragment_offset);
        put_u24(out, self.fragment_length);
    }

    /// Reads the 12 header bytes (the fragment data, `fragment_length` bytes, follows);
    /// fails only on too few bytes.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(HandshakeHeader {
            msg_type: HandshakeType::from(r.u8("DTLS handshake type")?),
            length: r.u24("DTLS handshake length")?,
            message_seq: r.u16("DTLS message_seq")?,
            fragment_offset: r.u24("DTLS fragment_offset")?,
            fragment_length: r.u24("DTLS fragment_length")?,
        })
    }

    /// The header of an unfragmented message: offset 0, fragment_length = length.
    pub fn whole(msg_type: HandshakeType, message_seq: u16, length: u32) -> Self {
        HandshakeHeader {
            msg_type,
            length,
            message_seq,
            fragment_offset: 0,
            fragment_length: length,
        }
    }
}

/// Iterator over the fragments of one message; see [`fragments`].
#[derive(Clone, Debug)]
pub struct Fragments<'a> {
    msg_type: HandshakeType,
    message_seq: u16,
    body: &'a [u8],
    offset: usize,
    /// Where the cut stops: the body's end, or the end of the range being resent.
    end: usize,
    room: usize,
    done: bool,
}

/// Cuts `body` into fragments of at most `max_len` bytes each, the 12-byte header included
/// (so `max_len` is what a record can carry under the MTU). An empty body gives one empty
/// fragment. Fails if `max_len` leaves no room for data or the body exceeds 2^24 - 1 bytes.
pub fn fragments(
    msg_type: HandshakeType,
    message_seq: u16,
    body: &[u8],
    max_len: usize,
) -> Result<Fragments<'_>, Error> {
    fragments_of(msg_type, message_seq, body, 0..body.len(), max_len)
}

/// Like [`fragments`], but covering only the bytes `range` of the body: what DTLS 1.3
/// resends of a message an ACK covered in part (RFC 9147 7.1). The fragment headers still
/// give the whole message's length. An empty range gives one empty fragment at its start.
pub fn fragments_of(
    msg_type: HandshakeType,
    message_seq: u16,
    body: &[u8],
    range: std::ops::Range<usize>,
    max_len: usize,
) -> Result<Fragments<'_>, Error> {
    if max_len <= HANDSHAKE_HEADER_LEN {
        return Err(Error::Config(
            "the MTU leaves no room for a handshake fragment".into(),
        ));
    }
    if body.len() > MAX_U24 as usize {
        return Err(Error::Internal("handshake message over 2^24 - 1 bytes"));
    }
    let end = range.end.min(body.len());
    Ok(Fragments {
        msg_type,
        message_seq,
        body,
        offset: range.start.min(end),
        end,
        room: max_len - HANDSHAKE_HEADER_LEN,
        done: false,
    })
}

impl<'a> Fragments<'a> {
    /// Encodes the next fragment (header and data) into `out`; false when none is left.
    pub fn encode_next(&mut self, out: &mut Vec<u8>) -> bool {
        match self.next() {
            Some((h, data)) => {
                h.encode(out);
                out.extend_from_slice(data);
                true
            }
            None => false,
        }
    }
}

impl<'a> Iterator for Fragments<'a> {
    type Item = (HandshakeHeader, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let end = self.end.min(self.offset + self.room);
        let data = &self.body[self.offset..end];
        // Lengths were checked against 2^24 - 1 in `fragments_of`.
        let header = HandshakeHeader {
            msg_type: self.msg_type,
            length: self.body.len() as u32,
            message_seq: self.message_seq,
            fragment_offset: self.offset as u32,
            fragment_length: data.len() as u32,
        };
        self.offset = end;
        self.done = end == self.end;
        Some((header, data))
    }
}

/// Iterator over the handshake fragments of one record's payload; see [`parse_fragments`].
#[derive(Clone, Debug)]
pub struct ParseFragments<'a> {
    r: Reader<'a>,
}

/// Reads the handshake fragments a record carries (a record may hold several, RFC 6347
/// 4.2.3). A fragment that does not parse ends the iteration with the error.
pub fn parse_fragments(payload: &[u8]) -> ParseFragments<'_> {
    ParseFragments {
        r: Reader::new(payload),
    }
}

impl<'a> Iterator for ParseFragments<'a> {
    type Item = Result<(HandshakeHeader, &'a [u8]), DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.r.is_empty() {
            return None;
        }
        let out = HandshakeHeader::decode(&mut self.r).and_then(|h| {
            Ok((
                h,
                self.r
                    .take(h.fragment_length as usize, "DTLS handshake fragment")?,
            ))
        });
        if out.is_err() {
            self.r.take_rest();
        }
        Some(out)
    }
}

/// A reassembled handshake message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandshakeMessage {
    /// The message's handshake type.
    pub msg_type: HandshakeType,
    /// The message's `message_seq`.
    pub message_seq: u16,
    /// The whole body, without any header.
    pub body: Vec<u8>,
}

impl HandshakeMessage {
    /// The message as the DTLS 1.3 transcript hashes it: the TLS 1.3 form `type || u24
    /// length || body`, without message_seq and fragment fields (RFC 9147 5.2).
    pub fn tls_encoding(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + self.body.len());
        put_u8(&mut out, self.msg_type.get());
        put_u24(&mut out, self.body.len() as u32);
        out.extend_from_slice(&self.body);
        out
    }

    /// The message as the DTLS 1.2 transcript hashes it: the 12-byte header of an
    /// unfragmented message, then the body (RFC 6347 4.2.6).
    pub fn dtls_encoding(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HANDSHAKE_HEADER_LEN + self.body.len());
        HandshakeHeader::whole(self.msg_type, self.message_seq, self.body.len() as u32).encode(&mut out);
        out.extend_from_slice(&self.body);
        out
    }
}

/// A TLS-encoded handshake message (`type || u24 length || body`) with the 12-byte DTLS
/// header of an unfragmented message instead (RFC 6347 4.2.2): what the DTLS 1.2 transcript
/// hashes (RFC 6347 4.2.6) and what the sender fragments. Input shorter than 4 bytes (never
/// produced by our encoders) is framed as an empty message of its first byte's type.
pub fn dtls_framing(tls: &[u8], message_seq: u16) -> Vec<u8> {
    let typ = tls.first().copied().unwrap_or(0);
    let body = tls.get(4..).unwrap_or(&[]);
    let mut out = Vec::with_capacity(HANDSHAKE_HEADER_LEN + body.len());
    HandshakeHeader::whole(HandshakeType::from(typ), message_seq, body.len() as u32).encode(&mut out);
    out.extend_from_slice(body);
    out
}

/// Caps on reassembly memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReassemblyLimits {
    /// Largest message body accepted (`length` field).
    pub max_message_len: usize,
    /// How many message_seq values, from the next expected one, may be buffered.
    pub max_messages: usize,
    /// Total bytes of message bodies buffered at once.
    pub max_buffered: usize,
}

impl Default for ReassemblyLimits {
    fn default() -> Self {
        ReassemblyLimits {
            max_message_len: 64 * 1024,
            max_messages: 8,
            max_buffered: 256 * 1024,
        }
    }
}

/// What [`Reassembler::push`] did with a fragment. None of these is an error: the
/// connection acts on `Old` (the peer retransmitted a flight we already processed, so ours
/// was probably lost: RFC 6347 4.2.4) and ignores the rest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pushed {
    /// New bytes were stored.
    Buffered,
    /// Every byte was already there.
    Duplicate,
    /// The message_seq was already handed out (a retransmission).
    Old,
    /// The message_seq is too far ahead of the next expected one; dropped.
    TooFarAhead,
}

#[derive(Debug)]
struct Partial {
    msg_type: HandshakeType,
    body: Vec<u8>,
    /// Bit `i` set: byte `i` of the body has arrived.
    have: Vec<u8>,
    received: usize,
}

impl Partial {
    fn complete(&self) -> bool {
        self.received == self.body.len()
    }
}

/// Reassembles handshake messages from fragments and releases them in message_seq order.
#[derive(Debug)]
pub struct Reassembler {
    limits: ReassemblyLimits,
    /// The message_seq expected next; past 0xffff once message 0xffff was taken, when every
    /// message_seq is an old one (RFC 9147 5.2: the 16-bit counter does not wrap).
    next_seq: u32,
    partial: BTreeMap<u16, Partial>,
    buffered: usize,
}

impl Reassembler {
    /// An empty reassembler expecting message_seq 0 first, bounded by `limits`.
    pub fn new(limits: ReassemblyLimits) -> Self {
        Reassembler {
            limits,
            next_seq: 0,
            partial: BTreeMap::new(),
            buffered: 0,
        }
    }

    /// The message_seq of the next message [`pop`](Self::pop) will return (0x10000 once
    /// message 0xffff was taken: no further message can come).
    pub fn next_seq(&self) -> u32 {
        self.next_seq
    }

    /// Starts expecting `seq` next, dropping anything buffered (e.g. a DTLS 1.2 server
    /// that answered ClientHello 0 statelessly with a HelloVerifyRequest expects the
    /// ClientHello with the cookie as message 1, RFC 6347 4.2.2).
    pub fn reset_to(&mut self, seq: u32) {
        self.next_seq = seq;
        self.partial.clear();
        self.buffered = 0;
    }

    /// Bytes of message bodies currently held.
    pub fn buffered(&self) -> usize {
        self.buffered
    }

    /// True if any fragment is held, of a message whole or not, empty or not.
    pub fn holds_any(&self) -> bool {
        !self.partial.is_empty()
    }

    /// True if [`pop`](Self::pop) would return a message.
    pub fn has_complete(&self) -> bool {
        u16::try_from(self.next_seq)
            .ok()
            .and_then(|seq| self.partial.get(&seq))
            .is_some_and(Partial::complete)
    }

    /// Takes in one fragment. Errors (fatal for the connection): a fragment whose data does
    /// not match its `fragment_length` or runs past `length` (`decode_error`), a `length`
    /// over the message cap (`decode_error`), fragments of one message_seq that disagree
    /// on type or length (`illegal_parameter`), or a new message that would exceed the total
    /// buffer cap.
    pub fn push(&mut self, h: &HandshakeHeader, data: &[u8]) -> Result<Pushed, Error> {
        if data.len() != h.fragment_length as usize {
            return Err(DecodeError::IllegalValue("DTLS fragment_length").into());
        }
        let length = h.length as usize;
        let offset = h.fragment_offset as usize;
        if offset + data.len() > length {
            return Err(DecodeError::IllegalValue("DTLS fragment past the message length").into());
        }
        if length > self.limits.max_message_len {
            return Err(Error::LimitExceeded(Limit::HandshakeMessageSize));
        }
        let seq = u32::from(h.message_seq);
        if seq < self.next_seq {
            return Ok(Pushed::Old);
        }
        if (seq - self.next_seq) as usize >= self.limits.max_messages {
            return Ok(Pushed::TooFarAhead);
        }
        let created = !self.partial.contains_key(&h.message_seq);
        if created {
            if self.buffered + length > self.limits.max_buffered {
                return Err(Error::LimitExceeded(Limit::ReassemblyQueue));
            }
            self.buffered += length;
        }
        let partial = self.partial.entry(h.message_seq).or_insert_with(|| Partial {
            msg_type: h.msg_type,
            body: vec![0; length],
            have: vec![0; length.div_ceil(8)],
            received: 0,
        });
        if partial.msg_type != h.msg_type || partial.body.len() != length {
            return Err(PeerMisbehaved::IllegalParameter(Parameter::FragmentMismatch).into());
        }
        let mut fresh = 0;
        for (i, b) in data.iter().enumerate() {
            let at = offset + i;
            let bit = 1u8 << (at % 8);
            let slot = &mut partial.have[at / 8];
            if *slot & bit == 0 {
                *slot |= bit;
                partial.body[at] = *b;
                fresh += 1;
            }
        }
        partial.received += fresh;
        Ok(if created || fresh > 0 {
            Pushed::Buffered
        } else {
            Pushed::Duplicate
        })
    }

    /// The next message in order, once all its bytes arrived.
    pub fn pop(&mut self) -> Option<HandshakeMessage> {
        if !self.has_complete() {
            return None;
        }
        let seq = u16::try_from(self.next_seq).ok()?;
        let p = self.partial.remove(&seq)?;
        self.buffered -= p.body.len();
        let msg = HandshakeMessage {
            msg_type: p.msg_type,
            message_seq: seq,
            body: p.body,
        };
        self.next_seq += 1;
        Some(msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn frag(seq: u16, len: u32, off: u32, data: &[u8]) -> HandshakeHeader {
        HandshakeHeader {
            msg_type: HandshakeType::Certificate,
            length: len,
            message_seq: seq,
            fragment_offset: off,
            fragment_length: data.len() as u32,
        }
    }

    #[test]
    fn header_round_trip() {
        let h = HandshakeHeader {
            msg_type: HandshakeType::Finished,
            length: 0x20,
            message_seq: 4,
            fragment_offset: 0,
            fragment_length: 0x20,
        };
        let mut out = vec![];
        h.encode(&mut out);
        // From the illustrated DTLS capture: the server Finished header.
        assert_eq!(out, hex::decode("140000200004000000000020").unwrap());
        assert_eq!(HandshakeHeader::decode(&mut Reader::new(&out)), Ok(h));
        assert!(HandshakeHeader::decode(&mut Reader::new(&out[..11])).is_err());
    }

    #[test]
    fn fragments_fit_and_cover() {
        let body: Vec<u8> = (0..100u8).collect();
        let fr: Vec<_> = fragments(HandshakeType::Certificate, 3, &body, 42)
            .unwrap()
            .collect();
        assert_eq!(fr.len(), 4); // 30 + 30 + 30 + 10
        assert_eq!(fr[3].0.fragment_offset, 90);
        assert!(fr
            .iter()
            .all(|(h, d)| h.length == 100 && h.message_seq == 3 && d.len() <= 30));
        let empty: Vec<_> = fragments(HandshakeType::ServerHelloDone, 0, &[], 13)
            .unwrap()
            .collect();
        assert_eq!(empty.len(), 1);
        assert_eq!(empty[0].0.fragment_length, 0);
        assert!(fragments(HandshakeType::Finished, 0, &body, 12).is_err());
        let mut out = vec![];
        let mut it = fragments(HandshakeType::Finished, 0, &body[..5], 100).unwrap();
        assert!(it.encode_next(&mut out) && !it.encode_next(&mut out));
        let parsed: Vec<_> = parse_fragments(&out).collect::<Result<_, _>>().unwrap();
        assert_eq!(
            parsed,
            vec![(HandshakeHeader::whole(HandshakeType::Finished, 0, 5), &body[..5])]
        );
    }

    #[test]
    fn fragments_of_a_range_cover_only_it() {
        let body: Vec<u8> = (0..100u8).collect();
        let fr: Vec<_> = fragments_of(HandshakeType::Certificate, 7, &body, 25..80, 42)
            .unwrap()
            .collect();
        // 30 + 25 bytes, offsets from the range's start, the whole message's length.
        let cut: Vec<_> = fr.iter().map(|(h, d)| (h.fragment_offset, d.len())).collect();
        assert_eq!(cut, vec![(25, 30), (55, 25)]);
        assert!(fr.iter().all(|(h, d)| h.length == 100
            && h.message_seq == 7
            && d == &&body[h.fragment_offset as usize..][..d.len()]));
        // An empty range is one empty fragment where it starts; a range past the end is clipped.
        let empty: Vec<_> = fragments_of(HandshakeType::Finished, 0, &body, 40..40, 42)
            .unwrap()
            .map(|(h, d)| (h.fragment_offset, d.len()))
            .collect();
        assert_eq!(empty, vec![(40, 0)]);
        let clipped: Vec<_> = fragments_of(HandshakeType::Finished, 0, &body, 90..500, 42)
            .unwrap()
            .map(|(h, d)| (h.fragment_offset, d.len()))
            .collect();
        assert_eq!(clipped, vec![(90, 10)]);
    }

    #[test]
    fn parse_fragments_stops_at_truncation() {
        let mut out = vec![];
        HandshakeHeader::whole(HandshakeType::Finished, 0, 4).encode(&mut out);
        out.extend_from_slice(&[1, 2, 3]);
        let mut it = parse_fragments(&out);
        assert!(matches!(it.next(), Some(Err(DecodeError::Truncated(_)))));
        assert!(it.next().is_none());
    }

    #[test]
    fn mismatched_length_or_type_is_fatal() {
        let mut r = Reassembler::new(ReassemblyLimits::default());
        assert_eq!(r.push(&frag(0, 10, 0, &[1; 4]), &[1; 4]), Ok(Pushed::Buffered));
        assert_eq!(
            r.push(&frag(0, 11, 4, &[1; 4]), &[1; 4]),
            Err(Error::PeerMisbehaved(PeerMisbehaved::IllegalParameter(
                Parameter::FragmentMismatch
            )))
        );
        let mut other = frag(0, 10, 4, &[1; 4]);
        other.msg_type = HandshakeType::Finished;
        assert!(matches!(r.push(&other, &[1; 4]), Err(Error::PeerMisbehaved(_))));
    }

    #[test]
    fn fragment_past_length_or_wrong_size_is_a_decode_error() {
        let mut r = Reassembler::new(ReassemblyLimits::default());
        assert!(matches!(
            r.push(&frag(0, 10, 8, &[1; 4]), &[1; 4]),
            Err(Error::Decode(_))
        ));
        assert!(matches!(
            r.push(&frag(0, 10, 0, &[1; 4]), &[1; 3]),
            Err(Error::Decode(_))
        ));
        assert_eq!(r.buffered(), 0);
    }

    #[test]
    fn caps_bound_memory() {
        let limits = ReassemblyLimits {
            max_message_len: 100,
            max_messages: 2,
            max_buffered: 150,
        };
        let mut r = Reassembler::new(limits);
        assert_eq!(
            r.push(&frag(0, 101, 0, &[]), &[]),
            Err(Error::LimitExceeded(Limit::HandshakeMessageSize))
        );
        assert_eq!(r.push(&frag(2, 10, 0, &[1]), &[1]), Ok(Pushed::TooFarAhead));
        assert_eq!(r.push(&frag(0, 100, 0, &[1]), &[1]), Ok(Pushed::Buffered));
        assert_eq!(
            r.push(&frag(1, 51, 0, &[1]), &[1]),
            Err(Error::LimitExceeded(Limit::ReassemblyQueue))
        );
        assert_eq!(r.push(&frag(1, 50, 0, &[1]), &[1]), Ok(Pushed::Buffered));
        assert_eq!(r.buffered(), 150);
    }

    #[test]
    fn fragment_floods_stay_within_the_default_caps() {
        let limits = ReassemblyLimits::default();
        let max = limits.max_message_len as u32;
        let mut r = Reassembler::new(limits);
        // One-byte fragments of maximal messages: each new message_seq reserves its whole
        // length, so the total cap refuses the fifth (4 x 64 KiB = 256 KiB).
        let mut refused = None;
        for seq in 0..10_000u16 {
            match r.push(&frag(seq % 8, max, 1, &[7]), &[7]) {
                Ok(_) => {}
                Err(e) => {
                    refused = Some((seq, e));
                    break;
                }
            }
            assert!(r.buffered() <= limits.max_buffered);
        }
        assert_eq!(refused, Some((4, Error::LimitExceeded(Limit::ReassemblyQueue))));
        // Far-ahead and duplicate fragments are not stored at all, however many come.
        let before = r.buffered();
        for i in 0..10_000u16 {
            let seq = 8 + i % 60_000;
            assert_eq!(r.push(&frag(seq, 10, 0, &[1]), &[1]), Ok(Pushed::TooFarAhead));
            assert_eq!(r.push(&frag(0, max, 1, &[7]), &[7]), Ok(Pushed::Duplicate));
        }
        assert_eq!(r.buffered(), before);
    }

    #[test]
    fn old_and_duplicate_fragments() {
        let mut r = Reassembler::new(ReassemblyLimits::default());
        assert_eq!(r.push(&frag(0, 3, 0, b"abc"), b"abc"), Ok(Pushed::Buffered));
        assert_eq!(r.push(&frag(0, 3, 1, b"bc"), b"bc"), Ok(Pushed::Duplicate));
        let m = r.pop().unwrap();
        assert_eq!((m.message_seq, &m.body[..]), (0, &b"abc"[..]));
        assert_eq!(m.tls_encoding(), [&[11, 0, 0, 3][..], b"abc"].concat());
        assert_eq!(
            m.dtls_encoding(),
            [&[11, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 3][..], b"abc"].concat()
        );
        assert_eq!(r.push(&frag(0, 3, 0, b"abc"), b"abc"), Ok(Pushed::Old));
        assert_eq!(r.pop(), None);
        assert_eq!(r.buffered(), 0);
        // An empty message completes at once; its repeat is a duplicate.
        assert_eq!(r.push(&frag(1, 0, 0, b""), b""), Ok(Pushed::Buffered));
        assert_eq!(r.push(&frag(1, 0, 0, b""), b""), Ok(Pushed::Duplicate));
        assert_eq!(r.pop().map(|m| m.body.len()), Some(0));
        r.reset_to(7);
        assert_eq!(r.next_seq(), 7);
        assert_eq!(r.push(&frag(6, 1, 0, b"x"), b"x"), Ok(Pushed::Old));
    }

    /// RFC 9147 5.2: message_seq is 16 bits and does not wrap: after message 0xffff every
    /// message_seq, 0 included, is an old one (acknowledged and dropped, never processed).
    #[test]
    fn message_seq_does_not_wrap_past_0xffff() {
        let mut r = Reassembler::new(ReassemblyLimits::default());
        r.reset_to(0xfffe);
        assert_eq!(r.push(&frag(0xffff, 1, 0, b"b"), b"b"), Ok(Pushed::Buffered));
        assert_eq!(r.push(&frag(0xfffe, 1, 0, b"a"), b"a"), Ok(Pushed::Buffered));
        assert_eq!(r.pop().map(|m| m.message_seq), Some(0xfffe));
        assert_eq!(r.pop().map(|m| m.message_seq), Some(0xffff));
        assert_eq!(r.next_seq(), 0x10000);
        for seq in [0, 1, 0xffff] {
            assert_eq!(r.push(&frag(seq, 1, 0, b"x"), b"x"), Ok(Pushed::Old), "{seq}");
        }
        assert_eq!(r.pop(), None);
        assert_eq!(r.buffered(), 0);
    }

    /// Messages, each with a set of fragments covering it (plus extra overlapping and
    /// duplicate ones), all shuffled together.
    /// (message bodies, fragments as (message_seq, start, end)).
    type Scenario = (Vec<Vec<u8>>, Vec<(u16, usize, usize)>);

    fn scenario() -> impl Strategy<Value = Scenario> {
        proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..600), 1..5).prop_flat_map(
            |msgs| {
                let per_msg: Vec<_> = msgs
                    .iter()
                    .enumerate()
                    .map(|(i, m)| {
                        let len = m.len();
                        let cuts = proptest::collection::vec(0..=len, 0..8);
                        let extra = proptest::collection::vec((0..=len, 0..=len), 0..6);
                        (cuts, extra).prop_map(move |(mut cuts, extra)| {
                            cuts.push(0);
                            cuts.push(len);
                            cuts.sort_unstable();
                            let mut out: Vec<(u16, usize, usize)> =
                                cuts.windows(2).map(|w| (i as u16, w[0], w[1])).collect();
                            out.extend(extra.into_iter().map(|(a, b)| (i as u16, a.min(b), a.max(b))));
                            out
                        })
                    })
                    .collect();
                (Just(msgs), per_msg).prop_flat_map(|(msgs, frs)| {
                    let all: Vec<_> = frs.into_iter().flatten().collect();
                    (Just(msgs), Just(all).prop_shuffle())
                })
            },
        )
    }

    proptest! {
        #[test]
        fn any_order_and_overlap_reassembles_exactly((msgs, frs) in scenario()) {
            let mut r = Reassembler::new(ReassemblyLimits::default());
            let mut out = vec![];
            for (seq, a, b) in frs {
                let m = &msgs[usize::from(seq)];
                let h = HandshakeHeader {
                    msg_type: HandshakeType::Certificate,
                    length: m.len() as u32,
                    message_seq: seq,
                    fragment_offset: a as u32,
                    fragment_length: (b - a) as u32,
                };
                let pushed = r.push(&h, &m[a..b]).unwrap();
                if usize::from(seq) < out.len() {
                    prop_assert_eq!(pushed, Pushed::Old);
                }
                while let Some(msg) = r.pop() {
                    out.push(msg);
                }
            }
            prop_assert_eq!(out.len(), msgs.len());
            for (i, (got, want)) in out.iter().zip(&msgs).enumerate() {
                prop_assert_eq!(got.message_seq, i as u16);
                prop_assert_eq!(&got.body, want);
            }
            prop_assert_eq!(r.buffered(), 0);
        }

        #[test]
        fn complete_exactly_when_covered(len in 1usize..200, ranges in proptest::collection::vec((0usize..200, 0usize..200), 0..20)) {
            let body: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let mut r = Reassembler::new(ReassemblyLimits::default());
            let mut covered = vec![false; len];
            for (a, b) in ranges {
                let (a, b) = (a.min(b).min(len), a.max(b).min(len));
                r.push(&frag(0, len as u32, a as u32, &body[a..b]), &body[a..b]).unwrap();
                covered[a..b].iter_mut().for_each(|c| *c = true);
                prop_assert_eq!(r.has_complete(), covered.iter().all(|c| *c));
            }
        }

        #[test]
        fn fragments_reassemble(body in proptest::collection::vec(any::<u8>(), 0..3000), mtu in 13usize..1500) {
            let mut r = Reassembler::new(ReassemblyLimits::default());
            for (h, d) in fragments(HandshakeType::Certificate, 0, &body, mtu).unwrap() {
                prop_assert!(HANDSHAKE_HEADER_LEN + d.len() <= mtu);
                r.push(&h, d).unwrap();
            }
            prop_assert_eq!(r.pop().map(|m| m.body), Some(body));
        }
    }
}
