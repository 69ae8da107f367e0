//! The plaintext phase of a STARTTLS protocol (SMTP RFC 3207, IMAP, POP3, XMPP, LDAP, ...)
//! and the guard against plaintext injection across the upgrade.
//!
//! A man in the middle can append commands or responses after the "go ahead" reply in the
//! same packet; a client (or server) that reads ahead into a buffer and keeps those bytes
//! after the TLS handshake acts on unauthenticated data as if it came through TLS
//! (CVE-2011-0411 on servers, CVE-2021-23222 and the NO STARTTLS findings on clients).
//! RFC 3207 4.2 and RFC 2595 3.1 require discarding what was learned before TLS. The guard
//! here is stricter: bytes already buffered when the upgrade starts refuse the upgrade.

use std::fmt;

/// Buffers the plaintext bytes of the pre-TLS conversation and hands them out line by line.
///
/// [`finish`](Self::finish) refuses the upgrade when bytes followed the reply that starts TLS:
/// a man in the middle can append commands after the "go ahead" reply, and bytes read ahead
/// before the handshake must not be taken as protected (RFC 3207 4.2, RFC 2595 3.1).
///
/// ```
/// use sanstls::conn::PlaintextPhase;
/// let mut phase = PlaintextPhase::new(8192);
/// phase.push(b"220 Ready to start TLS\r\n").unwrap();
/// assert_eq!(phase.next_line().as_deref(), Some(&b"220 Ready to start TLS"[..]));
/// assert!(phase.finish().is_ok()); // nothing after the reply: start TLS
///
/// let mut phase = PlaintextPhase::new(8192);
/// phase.push(b"220 Ready to start TLS\r\n250 injected\r\n").unwrap();
/// phase.next_line();
/// assert_eq!(phase.finish().unwrap_err().buffered, 14); // refuse the upgrade
/// ```
#[derive(Debug)]
pub struct PlaintextPhase {
    buf: Vec<u8>,
    cap: usize,
}

/// Bytes arrived after the reply that starts TLS: the upgrade must not go ahead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlaintextAfterUpgrade {
    /// How many bytes were buffered after the reply.
    pub buffered: usize,
}

impl fmt::Display for PlaintextAfterUpgrade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} plaintext bytes followed the STARTTLS reply (possible injection); refusing to upgrade",
            self.buffered
        )
    }
}

impl std::error::Error for PlaintextAfterUpgrade {}

/// The plaintext buffer went over its cap before a line ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlaintextTooLong;

impl fmt::Display for PlaintextTooLong {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("plaintext line longer than the buffer cap")
    }
}

impl std::error::Error for PlaintextTooLong {}

impl PlaintextPhase {
    /// `cap`: the most bytes held at once (a line longer than that is an error).
    pub fn new(cap: usize) -> Self {
        PlaintextPhase { buf: Vec::new(), cap }
    }

    /// Adds bytes read from the peer.
    pub fn push(&mut self, data: &[u8]) -> Result<(), PlaintextTooLong> {
        if self.buf.len().saturating_add(data.len()) > self.cap {
            return Err(PlaintextTooLong);
        }
        self.buf.extend_from_slice(data);
        Ok(())
    }

    /// The next complete line without its line ending (CRLF or LF), if one is buffered.
    pub fn next_line(&mut self) -> Option<Vec<u8>> {
        let end = self.buf.iter().position(|b| *b == b'\n')?;
        let mut line: Vec<u8> = self.buf.drain(..=end).collect();
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        Some(line)
    }

    /// Bytes held that no `next_line` returned yet.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Call after reading the reply that starts TLS: anything still buffered came after it.
    pub fn finish(self) -> Result<(), PlaintextAfterUpgrade> {
        match self.buf.len() {
            0 => Ok(()),
            buffered => Err(PlaintextAfterUpgrade { buffered }),
        }
    }
}
