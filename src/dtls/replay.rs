//! The anti-replay window of one epoch (RFC 6347 4.1.2.6, RFC 9147 4.5.1).
//!
//! The window holds the highest sequence number that deprotected so far and a 256-bit bitmap
//! of the 256 numbers ending at it. The receiver asks [`ReplayWindow::check`] before it
//! deprotects a record and calls [`ReplayWindow::mark`] only after the record deprotected:
//! a forged record must not move the window (RFC 6347 4.1.2.6: "the receive window is
//! updated only if the MAC verification succeeds"). Refused records are dropped silently.

/// Words of the bitmap.
const WORDS: usize = 4;

/// Replay window over the last [`ReplayWindow::SIZE`] sequence numbers of one epoch.
///
/// The bitmap is a ring indexed by the sequence number itself (RFC 6479's layout): moving
/// the window forward clears only the bits of the numbers it passes, one for the usual
/// next record, instead of shifting the whole bitmap.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplayWindow {
    /// Highest sequence number marked, if any.
    highest: Option<u64>,
    /// Bit `seq % SIZE` (word `seq % SIZE / 64`, bit `seq % 64`) set: `seq`, at most
    /// `SIZE - 1` below `highest`, was marked. Bits of numbers outside the window are clear.
    bitmap: [u64; WORDS],
}

impl ReplayWindow {
    /// Records covered by the window. RFC 6347 4.1.2.6 asks for at least 32 and prefers 64;
    /// 256, as BoringSSL keeps, takes a peer whose records arrive up to 255 behind the newest
    /// (a sender that reorders in bursts, or a path that does).
    pub const SIZE: u64 = 64 * WORDS as u64;

    /// An empty window: every sequence number is acceptable until one is marked.
    pub fn new() -> Self {
        Self::default()
    }

    /// The highest sequence number that deprotected in this epoch.
    pub fn highest(&self) -> Option<u64> {
        self.highest
    }

    /// The sequence number the next record most likely carries: one past the highest
    /// deprotected (0 before any), the reference for RFC 9147 4.2.2 reconstruction.
    pub fn next_expected(&self) -> u64 {
        self.highest.map_or(0, |h| h.saturating_add(1))
    }

    /// The word of `seq`'s bit and the bit within it.
    fn slot(seq: u64) -> (usize, u64) {
        (((seq % Self::SIZE) / 64) as usize, 1u64 << (seq % 64))
    }

    fn bit(&self, seq: u64) -> bool {
        let (word, bit) = Self::slot(seq);
        self.bitmap[word] & bit != 0
    }

    fn set(&mut self, seq: u64) {
        let (word, bit) = Self::slot(seq);
        self.bitmap[word] |= bit;
    }

    fn clear(&mut self, seq: u64) {
        let (word, bit) = Self::slot(seq);
        self.bitmap[word] &= !bit;
    }

    /// True if a record with `seq` may be deprotected: newer than the highest, or inside the
    /// window and not seen. Stale (left of the window) and duplicate records are refused.
    pub fn check(&self, seq: u64) -> bool {
        let Some(highest) = self.highest else {
            return true;
        };
        if seq > highest {
            return true;
        }
        highest - seq < Self::SIZE && !self.bit(seq)
    }

    /// Records that `seq` deprotected. Call only after a successful deprotection and a
    /// successful [`check`](Self::check); marking a stale number is a no-op.
    pub fn mark(&mut self, seq: u64) {
        match self.highest {
            Some(highest) if seq <= highest => {
                if highest - seq < Self::SIZE {
                    self.set(seq);
                }
            }
            Some(highest) if seq - highest < Self::SIZE => {
                // The numbers the window moves over take the ring slots of numbers that
                // fall out of it: not seen yet.
                for passed in highest + 1..seq {
                    self.clear(passed);
                }
                self.set(seq);
                self.highest = Some(seq);
            }
            _ => {
                self.bitmap = [0; WORDS];
                self.set(seq);
                self.highest = Some(seq);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    /// The reference: every number ever marked, and the highest.
    #[derive(Default)]
    struct Model {
        seen: HashSet<u64>,
        highest: Option<u64>,
    }

    impl Model {
        fn check(&self, seq: u64) -> bool {
            let fresh = !self.seen.contains(&seq);
            match self.highest {
                None => fresh,
                Some(h) => fresh && (seq > h || h - seq < ReplayWindow::SIZE),
            }
        }
        fn mark(&mut self, seq: u64) {
            self.seen.insert(seq);
            self.highest = Some(self.highest.map_or(seq, |h| h.max(seq)));
        }
    }

    #[test]
    fn fresh_window_accepts_anything() {
        let w = ReplayWindow::new();
        assert!(w.check(0) && w.check(u64::MAX));
        assert_eq!(w.next_expected(), 0);
    }

    #[test]
    fn duplicate_is_refused() {
        let mut w = ReplayWindow::new();
        w.mark(5);
        assert!(!w.check(5));
        assert!(w.check(4) && w.check(6));
        assert_eq!(w.next_expected(), 6);
    }

    #[test]
    fn stale_record_left_of_window_is_refused() {
        let mut w = ReplayWindow::new();
        w.mark(300);
        assert!(w.check(45)); // age 255: inside
        assert!(!w.check(44)); // age 256: stale
        w.mark(45);
        assert!(!w.check(45));
        // Marks survive shifts across the bitmap's words.
        w.mark(301);
        w.mark(370);
        assert!(!w.check(300) && !w.check(301) && w.check(299));
    }

    #[test]
    fn big_jump_clears_the_bitmap() {
        let mut w = ReplayWindow::new();
        w.mark(1);
        w.mark(1000);
        assert!(w.check(999) && !w.check(1) && !w.check(1000));
    }

    #[test]
    fn check_alone_does_not_move_the_window() {
        // RFC 6347 4.1.2.6: only records that deprotect update the window.
        let mut w = ReplayWindow::new();
        w.mark(10);
        assert!(w.check(500));
        assert!(w.check(9));
        assert_eq!(w.highest(), Some(10));
    }

    #[test]
    fn top_of_48_and_64_bit_space() {
        let mut w = ReplayWindow::new();
        w.mark((1 << 48) - 1);
        assert!(!w.check((1 << 48) - 1));
        w.mark(u64::MAX);
        assert_eq!(w.next_expected(), u64::MAX);
        assert!(!w.check(u64::MAX) && w.check(u64::MAX - 1));
    }

    proptest! {
        #[test]
        fn window_matches_model(ops in proptest::collection::vec((0u64..300, any::<bool>()), 1..400),
                                base in prop_oneof![Just(0u64), Just(u64::MAX - 400), any::<u64>().prop_map(|b| b >> 1)]) {
            let mut w = ReplayWindow::new();
            let mut m = Model::default();
            for (off, deprotects) in ops {
                let seq = base.wrapping_add(off);
                let ok = w.check(seq);
                prop_assert_eq!(ok, m.check(seq), "seq {}", seq);
                if ok && deprotects {
                    w.mark(seq);
                    m.mark(seq);
                }
                prop_assert_eq!(w.highest(), m.highest);
            }
        }
    }
}
