//! Rules on what the peer sends that [`Connection`](crate::Connection) and
//! [`DtlsConnection`](crate::dtls::DtlsConnection) share: back-pressure on plaintext the
//! application has not read, and the caps on records that carry nothing.

use crate::error::{Error, Limit};

/// Empty application-data records in a row we tolerate (a peer could spin us with them).
pub const MAX_EMPTY_RECORDS_IN_A_ROW: u32 = 32;
/// Non-fatal alerts (user_canceled) tolerated in a row.
pub const MAX_WARNING_ALERTS_IN_A_ROW: u32 = 4;

#[derive(Debug)]
pub(crate) struct Inbound {
    /// The cap on received plaintext waiting for the application (`max_buffered_plaintext`).
    pub max_buffered: usize,
    empty_in_a_row: u32,
    warnings_in_a_row: u32,
}

impl Inbound {
    pub fn new(max_buffered: usize) -> Self {
        Inbound {
            max_buffered,
            empty_in_a_row: 0,
            warnings_in_a_row: 0,
        }
    }

    /// Back-pressure: false once `buffered` unread bytes reach the cap, and no further
    /// record is taken until the application reads (TLS leaves it in the input buffer,
    /// DTLS drops it, as a datagram transport may). A slow reader is our condition, not
    /// the peer's doing: it is never an error and sends no alert. One record may go past
    /// the cap, so a record larger than it still gets through.
    pub fn has_room(&self, buffered: usize) -> bool {
        buffered < self.max_buffered
    }

    /// A user_canceled warning (RFC 8446 6.1: a closure alert, not an error): tolerated a
    /// few in a row, or a peer could keep us busy with them.
    pub fn warning_alert(&mut self) -> Result<(), Error> {
        self.warnings_in_a_row += 1;
        if self.warnings_in_a_row > MAX_WARNING_ALERTS_IN_A_ROW {
            return Err(Error::LimitExceeded(Limit::WarningAlerts));
        }
        Ok(())
    }

    /// An authenticated application-data record of `len` bytes: true when it carries bytes
    /// to deliver. Empty ones are legal (RFC 8446 5.1) but tolerated only a few in a row.
    pub fn data_record(&mut self, len: usize) -> Result<bool, Error> {
        self.warnings_in_a_row = 0;
        if len == 0 {
            self.empty_in_a_row += 1;
            if self.empty_in_a_row > MAX_EMPTY_RECORDS_IN_A_ROW {
                return Err(Error::LimitExceeded(Limit::ConsecutiveEmptyRecords));
            }
            return Ok(false);
        }
        self.empty_in_a_row = 0;
        Ok(true)
    }
}
