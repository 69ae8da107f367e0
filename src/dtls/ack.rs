//! DTLS 1.3 ACKs (RFC 9147 7): the message, the record numbers we received and owe an ACK
//! for, and the records we sent that await one (selective retransmission, RFC 9147 7.1-7.2).
//!
//! ```text
//! struct { uint64 epoch; uint64 sequence_number; } RecordNumber;
//! struct { RecordNumber record_numbers<0..2^16-1>; } ACK;
//! ```

use std::collections::{BTreeMap, BTreeSet};

use crate::codec::{put_u64, put_vec_of, Codec, DecodeError, LenPrefix, Reader};

/// A record's identity: its epoch and 64-bit sequence number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordNumber {
    /// The record's full 64-bit epoch (a record header carries only its low two bits, RFC
    /// 9147 4; an ACK carries all 64).
    pub epoch: u64,
    /// The record's full sequence number within the epoch.
    pub seq: u64,
}

impl RecordNumber {
    /// The record number of record `seq` of `epoch`.
    pub fn new(epoch: u64, seq: u64) -> Self {
        RecordNumber { epoch, seq }
    }
}

impl Codec for RecordNumber {
    fn encode(&self, out: &mut Vec<u8>) {
        put_u64(out, self.epoch);
        put_u64(out, self.seq);
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(RecordNumber {
            epoch: r.u64("ACK epoch")?,
            seq: r.u64("ACK sequence_number")?,
        })
    }
}

/// Bytes one record number takes in an ACK.
pub const RECORD_NUMBER_LEN: usize = 16;

/// The ACK message (the body of a record of content type `ack`, RFC 9147 7).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ack {
    /// The acknowledged records; RFC 9147 7 asks for increasing order.
    pub record_numbers: Vec<RecordNumber>,
}

impl Ack {
    /// Most record numbers one ACK can carry (the u16 length prefix).
    pub const MAX_RECORD_NUMBERS: usize = 0xffff / RECORD_NUMBER_LEN;

    /// Appends the encoded ACK. Record numbers beyond [`MAX_RECORD_NUMBERS`](Self::MAX_RECORD_NUMBERS)
    /// are left out (the lowest are kept).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let n = self.record_numbers.len().min(Self::MAX_RECORD_NUMBERS);
        put_vec_of(out, LenPrefix::U16, &self.record_numbers[..n]);
    }

    /// The encoded ACK (see [`encode`](Self::encode)) in a new vector.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(2 + RECORD_NUMBER_LEN * self.record_numbers.len());
        self.encode(&mut out);
        out
    }

    /// Decodes a whole ACK body; a partial record number or bytes after the list are a
    /// `decode_error`.
    pub fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let record_numbers = r.vec_of(LenPrefix::U16, "ACK record_numbers")?;
        r.expect_empty("ACK")?;
        Ok(Ack { record_numbers })
    }
}

/// The records carrying handshake messages we received and have to acknowledge.
#[derive(Clone, Debug)]
pub struct ReceivedRecords {
    set: BTreeSet<RecordNumber>,
    cap: usize,
}

impl ReceivedRecords {
    /// Keeps at most `cap` record numbers; beyond it the lowest are forgotten (an ACK is
    /// advisory: the peer retransmits what we did not acknowledge).
    pub fn new(cap: usize) -> Self {
        ReceivedRecords {
            set: BTreeSet::new(),
            cap: cap.max(1),
        }
    }

    /// Notes a record that carried handshake data we processed or buffered.
    pub fn record(&mut self, rn: RecordNumber) {
        self.set.insert(rn);
        while self.set.len() > self.cap {
            self.set.pop_first();
        }
    }

    /// True when no record awaits our ACK.
    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    /// How many records await our ACK.
    pub fn len(&self) -> usize {
        self.set.len()
    }

    /// The ACK listing the received records in increasing order (RFC 9147 7), at most
    /// `max` of them (the highest, most recent ones): size it to the MTU.
    pub fn ack(&self, max: usize) -> Ack {
        let skip = self.set.len().saturating_sub(max.min(Ack::MAX_RECORD_NUMBERS));
        Ack {
            record_numbers: self.set.iter().skip(skip).copied().collect(),
        }
    }

    /// Forgets everything (the flight was answered, or the handshake is over).
    pub fn clear(&mut self) {
        self.set.clear();
    }
}

/// A contiguous piece of one of our handshake messages that a record carried.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct FragmentRange {
    /// The message's `message_seq` (RFC 9147 5.2).
    pub message_seq: u16,
    /// Where the piece starts in the message body (`fragment_offset`).
    pub offset: u32,
    /// The piece's length in bytes (`fragment_length`).
    pub len: u32,
}

impl FragmentRange {
    fn end(&self) -> u64 {
        u64::from(self.offset) + u64::from(self.len)
    }
}

/// Our sent records carrying handshake data, awaiting ACK. Retransmission sends only the
/// message bytes no acknowledged record carried (RFC 9147 7.1: "implementations SHOULD
/// retransmit only the unacknowledged portion of the flight").
#[derive(Clone, Debug)]
pub struct SentRecords {
    in_flight: BTreeMap<RecordNumber, Vec<FragmentRange>>,
    /// Acknowledged byte intervals per message_seq, merged and sorted.
    acked: BTreeMap<u16, Vec<(u64, u64)>>,
    cap: usize,
}

impl SentRecords {
    /// Tracks at most `cap` records; the oldest are forgotten beyond it. Each retransmission
    /// resends every unacknowledged byte under new record numbers, so the newest `cap`
    /// records cover them as long as one transmission of a flight fits in `cap` records.
    pub fn new(cap: usize) -> Self {
        SentRecords {
            in_flight: BTreeMap::new(),
            acked: BTreeMap::new(),
            cap: cap.max(1),
        }
    }

    /// Record `rn` carried these fragments.
    pub fn on_sent(&mut self, rn: RecordNumber, ranges: Vec<FragmentRange>) {
        self.in_flight.insert(rn, ranges);
        while self.in_flight.len() > self.cap {
            self.in_flight.pop_first();
        }
    }

    /// The records awaiting an ACK, in order.
    #[cfg(test)]
    pub fn in_flight_records(&self) -> Vec<RecordNumber> {
        self.in_flight.keys().copied().collect()
    }

    /// Applies an ACK; returns how many of our records it newly acknowledged. Record
    /// numbers we never sent (or already forgot) are ignored.
    pub fn on_ack(&mut self, ack: &Ack) -> usize {
        let mut n = 0;
        for rn in &ack.record_numbers {
            if let Some(ranges) = self.in_flight.remove(rn) {
                n += 1;
                for r in ranges {
                    add_interval(
                        self.acked.entry(r.message_seq).or_default(),
                        (u64::from(r.offset), r.end()),
                    );
                }
            }
        }
        n
    }

    /// The pieces of messages that no acknowledged record carried, in message order, merged
    /// (zero-length pieces are not reported).
    pub fn unacked(&self) -> Vec<FragmentRange> {
        let mut pending: BTreeMap<u16, Vec<(u64, u64)>> = BTreeMap::new();
        for r in self.in_flight.values().flatten() {
            add_interval(
                pending.entry(r.message_seq).or_default(),
                (u64::from(r.offset), r.end()),
            );
        }
        let mut out = vec![];
        for (seq, ivs) in pending {
            let acked = self.acked.get(&seq).map_or(&[][..], Vec::as_slice);
            for (a, b) in ivs {
                for (x, y) in subtract((a, b), acked) {
                    out.push(FragmentRange {
                        message_seq: seq,
                        offset: x as u32,
                        len: (y - x) as u32,
                    });
                }
            }
        }
        out
    }

    /// True if the bytes `[0, len)` of message `message_seq` were all acknowledged (e.g. a
    /// KeyUpdate, which must be acknowledged before the new keys are used, RFC 9147 8).
    pub fn message_acked(&self, message_seq: u16, len: u32) -> bool {
        let acked = self.acked.get(&message_seq).map_or(&[][..], Vec::as_slice);
        if len == 0 {
            // An empty message is carried by a zero-length range: acknowledged if any
            // record carrying it was.
            return acked.iter().any(|(a, _)| *a == 0);
        }
        subtract((0, u64::from(len)), acked).is_empty()
    }

    /// True when nothing awaits an ACK.
    pub fn all_acked(&self) -> bool {
        self.unacked().is_empty()
    }

    /// Forgets every sent record and what was acknowledged: a new flight replaced the old
    /// one, or the handshake completed.
    pub fn clear(&mut self) {
        self.in_flight.clear();
        self.acked.clear();
    }
}

/// Inserts `[a, b)` into a sorted list of disjoint intervals, merging overlapping and
/// touching ones.
fn add_interval(list: &mut Vec<(u64, u64)>, (mut a, mut b): (u64, u64)) {
    let mut out = Vec::with_capacity(list.len() + 1);
    for &(x, y) in list.iter() {
        if y < a || b < x {
            out.push((x, y));
        } else {
            a = a.min(x);
            b = b.max(y);
        }
    }
    out.push((a, b));
    out.sort_unstable();
    *list = out;
}

/// `[a, b)` minus the sorted disjoint intervals `cover`.
fn subtract((a, b): (u64, u64), cover: &[(u64, u64)]) -> Vec<(u64, u64)> {
    let mut out = vec![];
    let mut at = a;
    for &(x, y) in cover {
        if y <= at || x >= b {
            continue;
        }
        if x > at {
            out.push((at, x));
        }
        at = at.max(y);
        if at >= b {
            break;
        }
    }
    if at < b {
        out.push((at, b));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ack_wire_format() {
        // From the illustrated DTLS capture: the server acknowledges epoch 2, record 0.
        let ack = Ack {
            record_numbers: vec![RecordNumber::new(2, 0)],
        };
        let bytes = ack.to_bytes();
        assert_eq!(
            bytes,
            hex::decode("001000000000000000020000000000000000").unwrap()
        );
        assert_eq!(Ack::decode(&bytes), Ok(ack));
        assert_eq!(Ack::decode(&[0, 0]), Ok(Ack::default()));
    }

    #[test]
    fn malformed_acks() {
        assert!(Ack::decode(&[]).is_err());
        assert!(Ack::decode(&[0, 8, 0, 0, 0, 0, 0, 0, 0, 0]).is_err()); // half a record number
        assert!(Ack::decode(&[0, 0, 0]).is_err()); // trailing byte
        assert!(Ack::decode(&[0, 16, 0]).is_err()); // truncated
    }

    proptest! {
        #[test]
        fn ack_round_trip(rns in proptest::collection::vec((any::<u64>(), any::<u64>()), 0..50)) {
            let ack = Ack { record_numbers: rns.into_iter().map(|(e, s)| RecordNumber::new(e, s)).collect() };
            prop_assert_eq!(Ack::decode(&ack.to_bytes()), Ok(ack));
        }

        /// The unacknowledged bytes are exactly the sent bytes no acknowledged record held.
        #[test]
        fn unacked_matches_model(sent in proptest::collection::vec((0u16..3, 0u32..100, 0u32..40), 1..30),
                                 acked in proptest::collection::vec(any::<prop::sample::Index>(), 0..30)) {
            let mut s = SentRecords::new(1000);
            for (i, (m, off, len)) in sent.iter().enumerate() {
                s.on_sent(RecordNumber::new(2, i as u64), vec![FragmentRange { message_seq: *m, offset: *off, len: *len }]);
            }
            let acked_idx: BTreeSet<usize> = acked.iter().map(|ix| ix.index(sent.len())).collect();
            let ack = Ack { record_numbers: acked_idx.iter().map(|i| RecordNumber::new(2, *i as u64)).collect() };
            prop_assert_eq!(s.on_ack(&ack), acked_idx.len());
            prop_assert_eq!(s.on_ack(&ack), 0);
            // Model: byte sets.
            let mut want = BTreeSet::new();
            let mut covered = BTreeSet::new();
            for (i, (m, off, len)) in sent.iter().enumerate() {
                for b in *off..off + len {
                    if acked_idx.contains(&i) { covered.insert((*m, b)); } else { want.insert((*m, b)); }
                }
            }
            let want: BTreeSet<_> = want.difference(&covered).copied().collect();
            let mut got = BTreeSet::new();
            let un = s.unacked();
            for r in &un {
                prop_assert!(r.len > 0);
                for b in r.offset..r.offset + r.len {
                    prop_assert!(got.insert((r.message_seq, b)), "overlap in unacked output");
                }
            }
            prop_assert_eq!(got, want);
            for m in 0..3u16 {
                let full = (0..100).all(|b| covered.contains(&(m, b)));
                prop_assert_eq!(s.message_acked(m, 100), full);
            }
        }
    }

    #[test]
    fn selective_retransmission() {
        let mut s = SentRecords::new(16);
        let r = |m, o, l| FragmentRange {
            message_seq: m,
            offset: o,
            len: l,
        };
        s.on_sent(RecordNumber::new(2, 0), vec![r(1, 0, 100)]);
        s.on_sent(RecordNumber::new(2, 1), vec![r(1, 100, 100), r(2, 0, 0)]);
        s.on_sent(RecordNumber::new(2, 2), vec![r(3, 0, 50)]);
        let ack = Ack {
            record_numbers: vec![RecordNumber::new(2, 1), RecordNumber::new(9, 9)],
        };
        assert_eq!(s.on_ack(&ack), 1);
        assert_eq!(s.unacked(), vec![r(1, 0, 100), r(3, 0, 50)]);
        assert!(s.message_acked(2, 0));
        assert!(!s.message_acked(1, 200));
        // Retransmit the rest under new numbers; the peer acks those.
        s.on_sent(RecordNumber::new(2, 3), vec![r(1, 0, 100), r(3, 0, 50)]);
        s.on_ack(&Ack {
            record_numbers: vec![RecordNumber::new(2, 3)],
        });
        assert!(s.all_acked());
        assert!(s.message_acked(1, 200) && s.message_acked(3, 50));
        s.clear();
        assert!(!s.message_acked(1, 1));
    }

    #[test]
    fn sent_cap_forgets_oldest() {
        let mut s = SentRecords::new(2);
        for i in 0..3 {
            s.on_sent(
                RecordNumber::new(2, i),
                vec![FragmentRange {
                    message_seq: i as u16,
                    offset: 0,
                    len: 1,
                }],
            );
        }
        assert_eq!(s.unacked().len(), 2);
        assert_eq!(s.unacked()[0].message_seq, 1);
    }

    #[test]
    fn received_records_ack_in_order_and_capped() {
        let mut r = ReceivedRecords::new(3);
        assert!(r.is_empty());
        for (e, s) in [(2, 5), (2, 1), (3, 0), (2, 1), (2, 3)] {
            r.record(RecordNumber::new(e, s));
        }
        assert_eq!(r.len(), 3);
        assert_eq!(
            r.ack(10).record_numbers,
            vec![
                RecordNumber::new(2, 3),
                RecordNumber::new(2, 5),
                RecordNumber::new(3, 0)
            ]
        );
        assert_eq!(r.ack(1).record_numbers, vec![RecordNumber::new(3, 0)]);
        r.clear();
        assert_eq!(r.ack(10), Ack::default());
    }
}
