//! Randomness is an argument: [`RandomSource`] with the system default and a fixed one for
//! tests and trace replay.

use std::collections::VecDeque;
use std::sync::Mutex;

use zeroize::Zeroizing;

use crate::Error;

/// A source of random bytes. Private keys, randoms and nonces all come from here.
pub trait RandomSource: Send + Sync + std::fmt::Debug {
    /// Fills all of `buf` with random bytes, or fails (both sources here return
    /// `Error::Crypto`); the error aborts whatever needed the bytes.
    fn fill(&self, buf: &mut [u8]) -> Result<(), Error>;
}

/// The operating system's CSPRNG through `ring::rand::SystemRandom`.
#[derive(Debug, Default)]
pub struct SystemRandomSource;

impl RandomSource for SystemRandomSource {
    fn fill(&self, buf: &mut [u8]) -> Result<(), Error> {
        use ring::rand::SecureRandom;
        ring::rand::SystemRandom::new()
            .fill(buf)
            .map_err(|_| Error::Crypto("system random source failed"))
    }
}

/// Test/replay helper: hands out bytes from a queue in order, errors when exhausted.
///
/// The chunks form one byte stream: a `fill` takes exactly the bytes it needs from the
/// front, across chunk boundaries. Chunks are zeroized when consumed or dropped (they are
/// often private keys).
pub struct FixedRandom {
    queue: Mutex<VecDeque<Zeroizing<Vec<u8>>>>,
}

impl FixedRandom {
    /// A source that hands out `chunks` in order, as one byte stream.
    pub fn new(chunks: Vec<Vec<u8>>) -> Self {
        FixedRandom {
            queue: Mutex::new(chunks.into_iter().map(Zeroizing::new).collect()),
        }
    }

    /// Bytes not yet handed out.
    pub fn remaining(&self) -> usize {
        self.queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|c| c.len())
            .sum()
    }
}

impl std::fmt::Debug for FixedRandom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FixedRandom")
            .field("remaining", &self.remaining())
            .finish()
    }
}

impl RandomSource for FixedRandom {
    fn fill(&self, buf: &mut [u8]) -> Result<(), Error> {
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        if q.iter().map(|c| c.len()).sum::<usize>() < buf.len() {
            return Err(Error::Crypto("fixed random source exhausted"));
        }
        let mut filled = 0;
        while filled < buf.len() {
            let Some(front) = q.front_mut() else {
                return Err(Error::Crypto("fixed random source exhausted"));
            };
            let take = front.len().min(buf.len() - filled);
            buf[filled..filled + take].copy_from_slice(&front[..take]);
            filled += take;
            if take == front.len() {
                q.pop_front();
            } else {
                front.drain(..take);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_random_hands_out_in_order_then_errors() {
        let r = FixedRandom::new(vec![vec![1, 2, 3], vec![], vec![4, 5]]);
        let mut a = [0u8; 2];
        r.fill(&mut a).unwrap();
        assert_eq!(a, [1, 2]);
        let mut b = [0u8; 3];
        r.fill(&mut b).unwrap();
        assert_eq!(b, [3, 4, 5]);
        assert_eq!(
            r.fill(&mut [0u8; 1]),
            Err(Error::Crypto("fixed random source exhausted"))
        );
        r.fill(&mut []).unwrap();
        assert_eq!(format!("{r:?}"), "FixedRandom { remaining: 0 }");
    }

    #[test]
    fn system_random_fills() {
        let mut a = [0u8; 32];
        SystemRandomSource.fill(&mut a).unwrap();
        assert_ne!(a, [0u8; 32]);
    }
}
