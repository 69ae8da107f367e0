//! Wall-clock time, injected: the engine never reads a clock of its own, so tests and
//! replays are deterministic.

use std::fmt;

/// Where the engine gets wall-clock time (certificate validity, ticket ages). Injected so
/// tests and replays are deterministic.
pub trait TimeProvider: Send + Sync + fmt::Debug {
    /// Seconds since the Unix epoch.
    fn now_unix(&self) -> u64;

    /// Milliseconds since the Unix epoch (ticket ages, RFC 8446 4.2.11.1). Defaults to
    /// `now_unix` in whole seconds.
    fn now_millis(&self) -> u64 {
        self.now_unix().saturating_mul(1000)
    }
}

/// The system clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl TimeProvider for SystemClock {
    fn now_unix(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }

    fn now_millis(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }
}

/// A clock stuck at one instant, for tests and replays.
#[derive(Debug)]
pub struct FixedClock(pub u64);

impl TimeProvider for FixedClock {
    fn now_unix(&self) -> u64 {
        self.0
    }
}
