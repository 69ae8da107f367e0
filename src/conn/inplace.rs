//! The zero-copy record path beside `read_tls`/`write_tls`: records are opened in
//! place in the caller's buffer and sealed straight into one, so a record costs the AEAD pass
//! and nothing else: no copy into our buffers, no allocation in steady state.
//!
//! Both paths share the one record layer: the same read/write states, the same record rules,
//! the same priority queue. Handshake, alert and CCS records met on the zero-copy read path go
//! through the normal state machine (a KeyUpdate installs the new read keys before the next
//! record is opened); handshake messages we send always go through the queue and `write_tls`.

use core::ops::Range;

use super::Connection;
use crate::codec::ContentType;
use crate::error::{Error, Misuse};
use crate::record::{RecordHeader, HEADER_LEN};

/// What [`Connection::read_in_place`] did with the caller's buffer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InPlace {
    /// Bytes of the buffer used up (whole records); the caller drops them before the next call.
    pub consumed: usize,
    /// Where the application data of the last record consumed lies in the buffer, decrypted
    /// in place. `None` when the records consumed carried none (handshake, alerts, empty
    /// records) or no whole record was there.
    pub plaintext: Option<Range<usize>>,
}

impl InPlace {
    /// The plaintext as a slice of the buffer passed to `read_in_place`.
    pub fn data<'b>(&self, buf: &'b [u8]) -> &'b [u8] {
        self.plaintext
            .clone()
            .and_then(|r| buf.get(r))
            .unwrap_or_default()
    }
}

/// What [`Connection::encrypt_into`] wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sealed {
    /// Plaintext bytes taken (less than offered only when a KeyUpdate became due: send the
    /// output, then `write_tls`, then offer the rest again).
    pub consumed: usize,
    /// Bytes of protected records written to the output buffer.
    pub written: usize,
}

impl Connection {
    /// Opens the records at the front of `buf` in place, up to and including the first that
    /// carries application data, and says where that plaintext now lies in `buf`.
    ///
    /// Every record rule of the buffered path applies (limits, content types, alerts). Handshake
    /// records (post-handshake messages, or a whole handshake driven this way) feed the state
    /// machine; read its events with `next_event`. Application data arriving here is not
    /// buffered and raises no `Event::Data`. A fatal error queues its alert for `write_tls`.
    ///
    /// Refused (`Misuse::InputBuffered`) while bytes given to `read_tls` or plaintext for `reader()` are
    /// still waiting, since they come first.
    pub fn read_in_place(&mut self, buf: &mut [u8]) -> Result<InPlace, Error> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        if self.deframer.buffered() > 0 || self.buffered_plaintext() > 0 {
            return Err(Error::Misuse(Misuse::InputBuffered));
        }
        let mut consumed = 0;
        loop {
            if self.peer_closed {
                return Ok(InPlace {
                    consumed,
                    plaintext: None,
                });
            }
            let rest = buf.get_mut(consumed..).unwrap_or_default();
            let header = match RecordHeader::parse(rest) {
                Ok(Some(h)) => h,
                Ok(None) => {
                    return Ok(InPlace {
                        consumed,
                        plaintext: None,
                    })
                }
                Err(e) => return Err(self.fail(e)),
            };
            let Some(payload) = rest.get_mut(HEADER_LEN..header.total_len()) else {
                return Ok(InPlace {
                    consumed,
                    plaintext: None,
                });
            };
            let at = consumed + HEADER_LEN;
            consumed += header.total_len();
            match self.process_record(&header, payload) {
                Ok(Some(r)) => {
                    return Ok(InPlace {
                        consumed,
                        plaintext: Some(at + r.start..at + r.end),
                    })
                }
                Ok(None) => {}
                Err(e) => return Err(self.fail(e)),
            }
        }
    }

    /// Checks that application data may be sealed straight into a caller buffer now: the
    /// application keys are active and nothing from the queue is waiting to go first
    /// (the queue's rules 3 and 4, `record::queue`). Queued key changes are applied; queued records are
    /// encrypted for `write_tls`, and then this refuses with `BufferFull` until they are sent.
    fn zero_copy_writable(&mut self) -> Result<(), Error> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        if self.sent_close {
            return Err(Error::Misuse(Misuse::Closed));
        }
        if !self.common.queue.is_app_open() {
            return Err(Error::Misuse(Misuse::HandshakeIncomplete));
        }
        if !self.common.queue.is_empty() {
            if let Err(e) = self.encrypt_pending() {
                return Err(self.fail(e));
            }
        }
        if !self.sendbuf.is_empty() || !self.common.queue.is_empty() {
            return Err(Error::BufferFull);
        }
        Ok(())
    }

    /// Bytes [`encrypt_into`](Self::encrypt_into) writes for `len` bytes of plaintext under
    /// the current write keys.
    pub fn encrypted_len(&self, len: usize) -> usize {
        let max = self.max_app_fragment();
        let records = len.div_ceil(max).max(1);
        len + records * self.write.overhead()
    }

    fn max_app_fragment(&self) -> usize {
        // Low-latency sizing applies here too; dynamic sizing is for `write_tls` (this path
        // must give `encrypted_len` and `encrypt_into` the same answer).
        let cap = match self.controls.sizing {
            super::RecordSizing::LowLatency => {
                super::LOW_LATENCY_RECORD_LEN.saturating_sub(self.write.overhead())
            }
            _ => usize::MAX,
        };
        self.write
            .max_fragment
            .min(self.common.max_fragment)
            .min(cap)
            .max(1)
    }

    /// Seals `plaintext` as application-data records straight into `out`, which needs
    /// [`encrypted_len`](Self::encrypted_len) bytes. The only copy is the one into `out`;
    /// the AEAD pass then runs in place. No allocation.
    ///
    /// Refused before the handshake opened the application keys and after close_notify
    /// (`Misuse`), and while handshake messages or alerts are queued (`BufferFull`:
    /// send them with `write_tls` first).
    pub fn encrypt_into(&mut self, plaintext: &[u8], out: &mut [u8]) -> Result<Sealed, Error> {
        self.zero_copy_writable()?;
        if out.len() < self.encrypted_len(plaintext.len()) {
            return Err(Error::Misuse(Misuse::BufferTooSmall));
        }
        let max = self.max_app_fragment();
        let offset = self.write.content_offset();
        let mut done = Sealed::default();
        for chunk in plaintext.chunks(max) {
            let Some(rec) = out.get_mut(done.written..) else {
                break;
            };
            let Some(content) = rec.get_mut(offset..offset + chunk.len()) else {
                break;
            };
            content.copy_from_slice(chunk);
            done.written += self.seal_one(rec, chunk.len())?;
            done.consumed += chunk.len();
            if !self.common.queue.is_empty() {
                // A KeyUpdate became due: it must go out before anything under the new keys.
                break;
            }
        }
        Ok(done)
    }

    /// Where record content goes in a buffer lent to [`seal_in_place`](Self::seal_in_place):
    /// after the header (5 bytes).
    pub fn record_content_offset(&self) -> usize {
        self.write.content_offset()
    }

    /// Bytes a record adds to its content (header, inner type, tag).
    pub fn record_overhead(&self) -> usize {
        self.write.overhead()
    }

    /// Seals one application-data record with no copy at all: the caller has written `len`
    /// bytes of content at `buf[record_content_offset()..]` and lends `buf` with
    /// `len + record_overhead()` bytes; the header and tag are written around the content.
    /// Returns the record's length. Same refusals as `encrypt_into`; `len` must fit one
    /// record.
    pub fn seal_in_place(&mut self, buf: &mut [u8], len: usize) -> Result<usize, Error> {
        self.zero_copy_writable()?;
        if len > self.max_app_fragment() {
            return Err(Error::Misuse(Misuse::ContentTooLarge));
        }
        self.seal_one(buf, len)
    }

    fn seal_one(&mut self, buf: &mut [u8], len: usize) -> Result<usize, Error> {
        let n = self.write.seal_in_place(ContentType::ApplicationData, buf, len)?;
        self.common.app_data_written();
        self.maybe_update_keys();
        Ok(n)
    }

    /// Frees the buffers that hold nothing (inbound records, outbound records, received
    /// plaintext, the queue's spare buffers). They grow again when needed.
    pub fn release_buffers(&mut self) {
        self.deframer.release();
        self.sendbuf.release();
        if self.received_start == self.received.len() {
            self.received = Vec::new();
            self.received_start = 0;
        }
        self.joiner.release();
        self.common.queue.release();
        if self.common.events.is_empty() {
            self.common.events = Default::default();
        }
    }
}
