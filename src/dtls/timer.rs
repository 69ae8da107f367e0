//! The handshake retransmission timer (RFC 6347 4.2.4, RFC 9147 5.8), pure over the
//! `Instant`s the caller passes in.
//!
//! After sending a flight the sender arms the timer. When it fires with no answer the flight
//! is sent again and the timeout doubles (RFC 6347 4.2.4.1: 1 s initial, doubling, at most
//! 60 s). Progress from the peer (its next flight, or an ACK of ours) resets the timeout to
//! its initial value. A give-up timeout per flight ([`TimerConfig::total`]) ends a handshake
//! whose peer stopped answering.

use std::time::{Duration, Instant};

/// How early a retransmission may be taken as due: an event loop whose timer wakes it a few
/// milliseconds before the deadline (coarse OS timers) retransmits then, instead of going
/// back to sleep for the rest (BoringSSL allows the same 15 ms).
pub const EARLY_WAKE_TOLERANCE: Duration = Duration::from_millis(15);

/// Timer settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerConfig {
    /// First retransmission timeout (RFC 6347 4.2.4.1 recommends 1 s; RFC 9147 5.8.2 allows
    /// less).
    pub initial: Duration,
    /// Cap on the doubled timeout (RFC 6347 4.2.4.1: 60 s).
    pub max: Duration,
    /// Give up once this much time passed since our current flight was first sent without
    /// the peer making progress (its next flight). Counted per flight, as BoringSSL and
    /// OpenSSL count timeouts per flight: a slow handshake on a lossy link that still
    /// advances is not cut short, a silent peer is given up on after this long.
    pub total: Duration,
}

impl Default for TimerConfig {
    fn default() -> Self {
        TimerConfig {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
            total: Duration::from_secs(120),
        }
    }
}

/// What a timeout asks of the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimerAction {
    /// Nothing is due at this time.
    Nothing,
    /// Send the last flight again; the timer is re-armed with the doubled timeout.
    Retransmit,
    /// The give-up timeout passed without progress: fail the handshake. The timer is
    /// disarmed.
    GiveUp,
}

/// The retransmission timer of one handshake.
#[derive(Clone, Debug)]
pub struct RetransmitTimer {
    config: TimerConfig,
    current: Duration,
    /// When the flight in flight is retransmitted, if armed.
    deadline: Option<Instant>,
    /// When the handshake gives up; set when the current flight is first armed.
    give_up_at: Option<Instant>,
}

impl RetransmitTimer {
    /// A disarmed timer whose first timeout is `config.initial`.
    pub fn new(config: TimerConfig) -> Self {
        RetransmitTimer {
            config,
            current: config.initial,
            deadline: None,
            give_up_at: None,
        }
    }

    /// The timeout the next [`arm`](Self::arm) uses.
    pub fn current_timeout(&self) -> Duration {
        self.current
    }

    /// A flight was just sent at `now`: retransmit it after the current timeout unless
    /// disarmed first. The first call for a flight also starts its give-up timeout.
    pub fn arm(&mut self, now: Instant) {
        // A deadline past what `Instant` can hold never fires.
        self.deadline = now.checked_add(self.current);
        if self.give_up_at.is_none() {
            self.give_up_at = now.checked_add(self.config.total);
        }
    }

    /// Our flight needs no more retransmission (acknowledged). Its give-up timeout keeps
    /// running until the peer's next flight ([`on_progress`](Self::on_progress)) or
    /// [`finish`](Self::finish).
    pub fn disarm(&mut self) {
        self.deadline = None;
    }

    /// The peer made progress: the next flight starts again from the initial timeout
    /// (RFC 6347 4.2.4.1, RFC 9147 5.8.2), and the give-up timeout restarts with it.
    /// Disarms the running retransmission.
    pub fn on_progress(&mut self) {
        self.current = self.config.initial;
        self.deadline = None;
        self.give_up_at = None;
    }

    /// The handshake completed (or the last flight needs no timer): stop everything.
    pub fn finish(&mut self) {
        self.deadline = None;
        self.give_up_at = None;
        self.current = self.config.initial;
    }

    /// True while a retransmission is scheduled (the give-up timeout may run without it).
    pub fn is_armed(&self) -> bool {
        self.deadline.is_some()
    }

    /// When the caller should call [`on_timeout`](Self::on_timeout) next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.deadline, self.give_up_at) {
            (Some(d), Some(g)) => Some(d.min(g)),
            (d, None) => d,
            (None, g) => g,
        }
    }

    /// Called at `now` (normally at or after [`poll_timeout`](Self::poll_timeout)).
    pub fn on_timeout(&mut self, now: Instant) -> TimerAction {
        if self.give_up_at.is_some_and(|g| now >= g) {
            self.finish();
            return TimerAction::GiveUp;
        }
        match self.deadline {
            Some(d) if now.checked_add(EARLY_WAKE_TOLERANCE).is_none_or(|n| n >= d) => {
                // RFC 6347 4.2.4.1: double the timeout, up to the cap.
                self.current = self.current.saturating_mul(2).min(self.config.max);
                self.deadline = now.checked_add(self.current);
                TimerAction::Retransmit
            }
            _ => TimerAction::Nothing,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn idle_timer_has_no_deadline() {
        let mut t = RetransmitTimer::new(TimerConfig::default());
        let now = Instant::now();
        assert_eq!(t.poll_timeout(), None);
        assert_eq!(t.on_timeout(now + secs(1000)), TimerAction::Nothing);
    }

    #[test]
    fn doubles_from_one_second_up_to_sixty() {
        let t0 = Instant::now();
        let mut t = RetransmitTimer::new(TimerConfig {
            total: secs(10_000),
            ..TimerConfig::default()
        });
        t.arm(t0);
        let mut now = t0;
        let mut gaps = vec![];
        for _ in 0..9 {
            let next = t.poll_timeout().unwrap();
            gaps.push((next - now).as_secs());
            // Well before the deadline nothing happens; within the early-wake tolerance
            // the deadline counts as reached.
            assert_eq!(
                t.on_timeout(next - EARLY_WAKE_TOLERANCE - Duration::from_millis(1)),
                TimerAction::Nothing
            );
            assert_eq!(t.on_timeout(next), TimerAction::Retransmit);
            now = next;
        }
        assert_eq!(gaps, vec![1, 2, 4, 8, 16, 32, 60, 60, 60]);
    }

    #[test]
    fn progress_resets_to_initial() {
        let t0 = Instant::now();
        let mut t = RetransmitTimer::new(TimerConfig::default());
        t.arm(t0);
        assert_eq!(t.on_timeout(t0 + secs(1)), TimerAction::Retransmit);
        assert_eq!(t.current_timeout(), secs(2));
        t.on_progress();
        assert!(!t.is_armed());
        assert_eq!(t.current_timeout(), secs(1));
        t.arm(t0 + secs(2));
        assert_eq!(t.poll_timeout(), Some(t0 + secs(3)));
        t.disarm();
        // Only the give-up timeout remains, counted from the new flight's first send.
        assert_eq!(t.poll_timeout(), Some(t0 + secs(122)));
    }

    /// A handshake that keeps advancing is not given up on, however long it takes in all;
    /// one flight left unanswered for `total` is.
    #[test]
    fn give_up_counts_per_flight() {
        let t0 = Instant::now();
        let mut t = RetransmitTimer::new(TimerConfig {
            total: secs(10),
            ..TimerConfig::default()
        });
        t.arm(t0);
        assert_eq!(t.on_timeout(t0 + secs(1)), TimerAction::Retransmit);
        assert_eq!(t.on_timeout(t0 + secs(3)), TimerAction::Retransmit);
        // The peer's flight at 8 s, ours at once: 10 s more from there.
        t.on_progress();
        t.arm(t0 + secs(8));
        let mut actions = vec![];
        while let Some(at) = t.poll_timeout() {
            actions.push(((at - t0).as_secs(), t.on_timeout(at)));
        }
        assert_eq!(
            actions,
            vec![
                (9, TimerAction::Retransmit),
                (11, TimerAction::Retransmit),
                (15, TimerAction::Retransmit),
                (18, TimerAction::GiveUp)
            ]
        );
    }

    #[test]
    fn gives_up_after_the_total_timeout() {
        let t0 = Instant::now();
        let mut t = RetransmitTimer::new(TimerConfig {
            total: secs(10),
            ..TimerConfig::default()
        });
        t.arm(t0);
        let mut actions = vec![];
        while let Some(at) = t.poll_timeout() {
            actions.push(((at - t0).as_secs(), t.on_timeout(at)));
        }
        assert_eq!(
            actions,
            vec![
                (1, TimerAction::Retransmit),
                (3, TimerAction::Retransmit),
                (7, TimerAction::Retransmit),
                (10, TimerAction::GiveUp)
            ]
        );
        assert!(!t.is_armed());
    }

    #[test]
    fn huge_durations_do_not_overflow() {
        let t0 = Instant::now();
        let mut t = RetransmitTimer::new(TimerConfig {
            initial: Duration::MAX,
            max: Duration::MAX,
            total: Duration::MAX,
        });
        t.arm(t0);
        assert_eq!(t.poll_timeout(), None);
        assert_eq!(t.on_timeout(t0 + secs(1)), TimerAction::Nothing);
    }

    #[test]
    fn finish_stops_everything() {
        let t0 = Instant::now();
        let mut t = RetransmitTimer::new(TimerConfig::default());
        t.arm(t0);
        t.finish();
        assert_eq!(t.poll_timeout(), None);
        assert_eq!(t.on_timeout(t0 + secs(500)), TimerAction::Nothing);
    }
}
