//! The blinding delay every connection type arms the same way.

use std::sync::Arc;
use std::time::Duration;

use crate::config::Shared;
use crate::crypto::rand::RandomSource;
use crate::error::Error;

/// The blinding delay ([`Connection::blinding_delay`](crate::Connection::blinding_delay)), shared with DTLS: armed by the first
/// failure the peer caused.
pub(crate) struct Blinding {
    range: (Duration, Duration),
    rng: Arc<dyn RandomSource>,
    delay: Option<Duration>,
}

impl Blinding {
    pub fn new(shared: &Shared) -> Self {
        Blinding {
            range: shared.blinding,
            rng: shared.rng.clone(),
            delay: None,
        }
    }

    /// The delay drawn when the connection failed; `None` when blinding is off or nothing
    /// the peer did failed it.
    pub fn delay(&self) -> Option<Duration> {
        self.delay
    }

    /// A delay drawn uniformly from the blinding range (`None` when blinding is off).
    fn draw(&self) -> Option<Duration> {
        let (min, max) = self.range;
        if max.is_zero() {
            return None;
        }
        let span = (max - min).as_nanos() as u64;
        let mut b = [0u8; 8];
        // Without randomness the longest delay is the safe answer.
        if self.rng.fill(&mut b).is_err() {
            return Some(max);
        }
        // Modulo bias is below 2^-30 for any span under 2^34 ns (17 s); a blinding range does
        // not need better.
        let off = u64::from_be_bytes(b) % span.saturating_add(1);
        Some(min + Duration::from_nanos(off))
    }

    /// Called on every fatal error: a peer-caused one (we send an alert for it, and it is
    /// not a local crypto failure) arms the blinding delay once.
    pub fn failed(&mut self, e: &Error) {
        let peer_caused = e.alert().is_some() && !matches!(e, Error::Crypto(_) | Error::Refused(_));
        if peer_caused && self.delay.is_none() {
            self.delay = self.draw();
        }
    }
}
