//! The zero-copy receive path beside `recv_datagram`: a datagram's application data is
//! deprotected where it lies in the caller's buffer, with no copy into the connection.
//!
//! Both paths share the record engines: the same routing of each record (`route`), the
//! same checks before opening (`locate13`, `route12`), the same steps after it (`took13`,
//! `took12`) and the same dispatch by content type; they differ only in where a protected
//! record is opened ([`Content`](super::Content)). Handshake, alert and ACK records met on
//! this path go through the state machine as on the other.
//!
//! The shared steps on the per-record path are `#[inline(always)]`: called from both paths,
//! they were otherwise kept out of line, and the buffered path paid about 150 instructions a
//! record more than before they were shared (callgrind, `compare --only dtls-data`).

use std::time::Instant;

use super::{DtlsConnection, Route};
use crate::conn::InPlace;
use crate::dtls::record::records;
use crate::error::{Error, Misuse};

impl DtlsConnection {
    /// Takes in the records at the front of `datagram` (one received datagram, or what is
    /// left of it) at `now`, up to and including the first that carries application data
    /// under an application epoch, which is deprotected in place: `plaintext` says where
    /// its content now lies in `datagram`. `consumed` is how far it got: either `plaintext`
    /// is set, or the whole datagram was taken (`consumed == datagram.len()`). Call again
    /// with `&mut datagram[consumed..]` while bytes remain:
    ///
    /// ```no_run
    /// # fn f(conn: &mut sanstls::dtls::DtlsConnection, datagram: &mut [u8], now: std::time::Instant)
    /// # -> Result<(), sanstls::Error> {
    /// let mut at = 0;
    /// while at < datagram.len() {
    ///     let got = conn.recv_datagram_in_place(&mut datagram[at..], now)?;
    ///     let rest = &datagram[at..];
    ///     if !got.data(rest).is_empty() {
    ///         // One record's data: a message of the application.
    ///         println!("{:?}", got.data(rest));
    ///     }
    ///     at += got.consumed;
    /// }
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Every other record takes the path [`recv_datagram`](Self::recv_datagram) gives it:
    /// the same rules, events, errors and alerts, replay windows and dropped-record
    /// counting, and each call ends the same way (output, ACKs and timers for
    /// `poll_datagram` and `poll_timeout`). Application data opened here is not buffered
    /// and raises no `Event::Data`; data that arrives ahead of the handshake's end is held
    /// and later goes to [`reader`](Self::reader), as over `recv_datagram`. The record
    /// headers in `datagram` are left with their sequence numbers decrypted.
    /// [`last_datagram_authenticated`](Self::last_datagram_authenticated) speaks of the
    /// records the last call took.
    ///
    /// Refused (`Misuse::InputBuffered`) while plaintext for `reader()` is waiting, since it
    /// comes first. After a fatal error, that error again.
    pub fn recv_datagram_in_place(&mut self, datagram: &mut [u8], now: Instant) -> Result<InPlace, Error> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        if self.buffered_plaintext() > 0 {
            return Err(Error::Misuse(Misuse::InputBuffered));
        }
        self.start_datagram(now);
        let mut taken = InPlace::default();
        let res = self.recv_records_in_place(datagram, &mut taken, now);
        if res.is_err() || taken.plaintext.is_none() {
            taken.consumed = datagram.len();
        }
        self.finish_step(res, now).map(|()| taken)
    }

    /// [`recv_records`](Self::recv_records) in place, stopping after the record whose
    /// application data it hands back in `taken`.
    fn recv_records_in_place(
        &mut self,
        datagram: &mut [u8],
        taken: &mut InPlace,
        now: Instant,
    ) -> Result<(), Error> {
        let cid_len = self.recv_cid_len();
        while taken.plaintext.is_none() && !self.peer_closed && self.error.is_none() {
            let at = taken.consumed;
            let Some(rest) = datagram.get_mut(at..) else {
                return Ok(());
            };
            let Some(rec) = records(rest, cid_len).next() else {
                return Ok(());
            };
            let len = rec.as_ref().map_or(0, |r| r.wire_len());
            taken.consumed += len;
            match self.route(rec) {
                Route::Record12(header, fragment) => {
                    // The fragment ends the record.
                    let from = len - fragment.len();
                    let Some(fragment) = rest.get_mut(from..len) else {
                        return Ok(());
                    };
                    taken.plaintext = self.recv_record12_in_place(header, fragment, at + from, now)?;
                }
                Route::Plaintext13(header, fragment) => self.recv_plaintext13(header, fragment, now)?,
                Route::Protected13(rec) => {
                    // Checked while the record is borrowed as parsed, then opened in place.
                    let found = self.locate13(&rec, rest.get(..len).unwrap_or_default(), now)?;
                    let layout = rec.layout();
                    let (Some(found), Some(record)) = (found, rest.get_mut(..len)) else {
                        continue;
                    };
                    taken.plaintext = self.open13_in_place(found, layout, record, at, now)?;
                }
                Route::Skip => {}
                Route::Stop => return Ok(()),
            }
        }
        Ok(())
    }
}
