//! The sending side of [`DtlsConnection`]: what the handshake and the application queued
//! becomes flights (kept for retransmission) and records, packed into datagrams that fit
//! the MTU (RFC 6347 4.1.1, 4.2.4; RFC 9147 4.4, 5.8).

use std::time::Instant;

use super::engine::Engine;
use super::{take_message, DtlsConnection, FlightItem};
use crate::codec::ContentType;
use crate::error::{Error, Misuse};
use crate::handshake::Handshake;
use crate::record::{OutItem, OutQueue};

impl DtlsConnection {
    /// Moves what the handshake and the application queued into datagrams, and settles
    /// what the step changed: the ACK it made due, a flight the peer answered, handshake
    /// keys nothing needs any more.
    pub(super) fn flush(&mut self, now: Instant) -> Result<(), Error> {
        if self.common.queue.is_empty() && self.nothing_to_settle() {
            // The common step of an established connection: a datagram of application data
            // came in, nothing went into the queue, nothing is due.
            return Ok(());
        }
        let (new_flight, records) = self.take_queued()?;
        let established = self.handshake.as_ref().is_some_and(Handshake::is_established);
        let retransmit_last_flight = match self.engine {
            Engine::V13(_) => {
                self.send_due_ack13(new_flight)?;
                // DTLS 1.3: every flight, the last one and post-handshake messages included,
                // is retransmitted until answered or acknowledged (RFC 9147 5.8, 7); on a
                // client what the server sends after the handshake does not acknowledge our
                // Finished, only an ACK does (RFC 9147 7.1, 5.8.4).
                true
            }
            // Our last flight: repeated only when the peer repeats its own (RFC 6347 4.2.4).
            Engine::V12(_) => false,
        };
        if new_flight {
            self.send_flight(true)?;
            if established && !retransmit_last_flight {
                self.timer.finish();
            } else {
                self.timer.on_progress();
                self.timer.arm(now);
            }
        } else if self.peer_answered_flight() {
            // The peer's last flight completed the handshake: ours was received. Taken into
            // account once: until the peer's next message this would change nothing more.
            self.peer_progress = false;
            self.timer.finish();
            self.flight.clear();
            self.flight_trigger = None;
            self.engine.forget_sent();
        }
        if !records.is_empty() {
            self.pack(records);
        }
        self.forget_handshake_keys13();
        Ok(())
    }

    /// Takes what the handshake and the application queued: handshake messages and CCS into
    /// `flight` (true if a new flight started), other records sealed, in order.
    fn take_queued(&mut self) -> Result<(bool, Vec<Vec<u8>>), Error> {
        let mut new_flight = false;
        let mut records: Vec<Vec<u8>> = Vec::new();
        let mut max_app = self.max_app_data();
        let mut new_flight_items = 0usize;
        loop {
            let Some(item) = self.next_queued(max_app) else {
                break;
            };
            let (typ, data) = match item {
                OutItem::KeyChange(state) => {
                    self.switch_write_keys(*state);
                    // What follows is sealed under the new epoch, with its overhead.
                    max_app = self.max_app_data();
                    continue;
                }
                OutItem::Record { typ, data } => (typ, data.to_vec()),
            };
            match typ {
                ContentType::Handshake | ContentType::ChangeCipherSpec => {
                    if typ == ContentType::Handshake {
                        self.hs_pending.extend_from_slice(&data);
                    }
                    let mut msgs = Vec::new();
                    if typ == ContentType::ChangeCipherSpec {
                        msgs.push(data);
                    } else {
                        while let Some(msg) = take_message(&mut self.hs_pending) {
                            msgs.push(msg);
                        }
                    }
                    // A message the 16-bit message_seq cannot number (an answer to the
                    // peer's update_requested after our message 0xffff): the connection
                    // cannot go on (RFC 9147 5.2).
                    if self.common.wire.seq_exhausted() {
                        return Err(Error::LimitExceeded(crate::error::Limit::HandshakeMessageSeq));
                    }
                    for bytes in msgs {
                        if !new_flight {
                            new_flight = true;
                            self.start_flight();
                        }
                        // The write epoch the item is (re)sent under.
                        let epoch = self.engine.write_epoch();
                        if new_flight_items == 0 && epoch < 3 {
                            // A handshake flight answers (implicitly acknowledges) what we
                            // received (RFC 9147 7), no ACK of it is due any more; a
                            // post-handshake one does not.
                            self.engine.forget_received();
                        }
                        new_flight_items += 1;
                        self.flight.push(FlightItem { epoch, typ, bytes });
                    }
                }
                _ => {
                    let mut rec = Vec::new();
                    self.sealer().seal_into(typ, &data, &mut rec)?;
                    records.push(rec);
                }
            }
        }
        Ok((new_flight, records))
    }

    /// Whether a step that queued nothing leaves nothing for [`flush`](Self::flush) to do:
    /// no ACK due, no answered flight to forget, no handshake keys to drop.
    fn nothing_to_settle(&self) -> bool {
        !self.engine.v13().is_some_and(|v13| v13.ack_due)
            && !self.peer_answered_flight()
            && !self.handshake_keys_forgettable13()
    }

    /// A peer message completed the handshake since our last flight, which it thereby
    /// answered: no retransmission, no ACK awaited. DTLS 1.2's last flight and DTLS 1.3's
    /// server Finished are answered so; a DTLS 1.3 client's Finished and any post-handshake
    /// flight only by an ACK (RFC 6347 4.2.4; RFC 9147 5.8.4, 7.1).
    fn peer_answered_flight(&self) -> bool {
        let answered_by_a_message = match self.engine {
            Engine::V12(_) => true,
            Engine::V13(_) => self.common.side == crate::common::Side::Server,
        };
        self.peer_progress
            && self.handshake.as_ref().is_some_and(Handshake::is_established)
            && !self.post_handshake_flight()
            && answered_by_a_message
    }

    /// A key change from the queue: DTLS 1.2's is the key behind our CCS (the next epoch);
    /// DTLS 1.3's names the epoch whose keys `DtlsWire` holds.
    fn switch_write_keys(&mut self, state: crate::record::WriteState) {
        match &mut self.engine {
            Engine::V12(e) => {
                if let Some(key) = state.into_key() {
                    e.add_write_key(key);
                }
            }
            Engine::V13(_) => {
                if let Some(keys) = state
                    .epoch_of_transport()
                    .and_then(|e| self.common.wire.take_write_keys13(e))
                {
                    self.add_write_keys13(keys);
                }
            }
        }
    }

    /// DTLS 1.3: once established and nothing of our handshake flight is left to resend,
    /// the handshake epoch's write keys are dead weight (ACKs go out in the current epoch,
    /// RFC 9147 7). A client whose Finished was acknowledged, or answered by a
    /// post-handshake message, will not see the server's flight again either: its epoch 2
    /// read keys go too. A server keeps them to answer a repeated client Finished whose
    /// ACK was lost.
    fn forget_handshake_keys13(&mut self) {
        if !self.handshake_keys_forgettable13() {
            return;
        }
        if let Some(v13) = self.engine.v13_mut() {
            v13.forget_handshake_epochs(self.common.side);
        }
    }

    /// Whether [`forget_handshake_keys13`](Self::forget_handshake_keys13) has keys to drop.
    fn handshake_keys_forgettable13(&self) -> bool {
        self.engine
            .v13()
            .is_some_and(|v13| v13.holds_handshake_epochs(self.common.side))
            && self.handshake.as_ref().is_some_and(Handshake::is_established)
            && self.flight.iter().all(|item| item.epoch >= 3)
    }

    /// The next item the handshake or the application queued, at most `max_app` bytes of
    /// it. RFC 9147 8: while our KeyUpdate awaits its ACK the new keys are not used, so
    /// application data written meanwhile goes out under the current ones, as BoringSSL
    /// sends it (the peer may be waiting for it before it acknowledges); a handshake
    /// message or key change queued behind the KeyUpdate waits for the ACK (a fatal alert
    /// does not wait).
    fn next_queued(&mut self, max_app: usize) -> Option<OutItem<'_>> {
        if self.held_for_key_update_ack(&self.common.queue) {
            return None;
        }
        self.common.queue.pop(max_app)
    }

    /// Whether `queue`'s next item waits for the ACK of our KeyUpdate (see
    /// [`next_queued`](Self::next_queued)).
    pub(super) fn held_for_key_update_ack(&self, queue: &OutQueue) -> bool {
        held_behind_key_update(self.awaiting_key_update_ack(), queue)
    }

    /// Our KeyUpdate awaits its ACK, on a connection still up.
    fn awaiting_key_update_ack(&self) -> bool {
        self.engine.key_update_pending() && self.error.is_none()
    }

    /// Our current flight went out after the handshake, under the application epochs 3
    /// and up (KeyUpdate, NewSessionTicket): only an ACK answers it (RFC 9147 7).
    pub(super) fn post_handshake_flight(&self) -> bool {
        matches!(self.engine, Engine::V13(_)) && self.flight.first().is_some_and(|item| item.epoch >= 3)
    }

    /// A new flight replaces the previous one (RFC 6347 4.2.4: its messages were answered).
    /// DTLS 1.3 post-handshake messages still awaiting an ACK stay in it (RFC 9147 7).
    fn start_flight(&mut self) {
        let keep = self.post_handshake_flight();
        if !keep {
            self.flight.clear();
            self.engine.forget_sent();
        }

        self.peer_progress = false;
        self.flight_trigger = self
            .reassembler
            .next_seq()
            .checked_sub(1)
            .and_then(|seq| u16::try_from(seq).ok());
    }

    /// Sends (or resends) our flight. DTLS 1.2 sends it whole; DTLS 1.3 resends (`full`
    /// false) only what no ACK covered.
    pub(super) fn send_flight(&mut self, full: bool) -> Result<(), Error> {
        match self.engine {
            Engine::V12(_) => self.send_flight12(),
            Engine::V13(_) => self.send_flight13(full),
        }
    }

    /// The most application data one record under the current write epoch carries within
    /// the MTU: its exact overhead, so a DTLS 1.3 datagram carries as much as a TLS record
    /// of the same size (RFC 9147 4: a 5-byte unified header, not DTLS 1.2's 13 and its
    /// 8-byte explicit nonce).
    fn max_app_data(&self) -> usize {
        max_app_data(self.cfg.mtu, self.record_overhead(self.engine.write_epoch()))
    }

    /// The overhead of a record under our write epoch `epoch`.
    pub(super) fn record_overhead(&self, epoch: u64) -> usize {
        self.engine.record_overhead(epoch, self.common.neg.send_cid())
    }

    /// Packs records into datagrams of at most the MTU, in order.
    pub(super) fn pack(&mut self, records: Vec<Vec<u8>>) {
        let mut cur: Vec<u8> = Vec::new();
        for r in records {
            if !cur.is_empty() && cur.len() + r.len() > self.cfg.mtu {
                self.out.push_back(std::mem::take(&mut cur));
            }
            if cur.is_empty() {
                cur = r;
            } else {
                cur.extend_from_slice(&r);
            }
        }
        if !cur.is_empty() {
            self.out.push_back(cur);
        }
    }

    /// The next datagram to send, written to `buf` (which must hold [`DtlsConfig::mtu`](super::DtlsConfig::mtu)
    /// bytes; a smaller buffer gets `None` and the datagram stays queued).
    pub fn poll_datagram(&mut self, buf: &mut [u8]) -> Option<usize> {
        if self.out.is_empty() && self.error.is_none() {
            if self.maybe_update_keys13() {
                // The KeyUpdate is handshake output: a step of its own (armed at the last
                // time we were given).
                if let Some(now) = self.last_now {
                    let _ = self.finish_step(Ok(()), now);
                }
            }
            // Application data written since the last call, sealed straight into `buf`.
            match self.flush_app(buf) {
                Ok(0) => {}
                Ok(n) => return Some(n),
                Err(e) => {
                    self.fail(e);
                    let _ = self.flush_app(&mut []);
                }
            }
        }
        let d = self.out.front()?;
        if d.len() > buf.len() {
            return None;
        }
        let n = d.len();
        buf[..n].copy_from_slice(d);
        self.out.pop_front();
        Some(n)
    }

    /// The most application data one [`seal_datagram`](Self::seal_datagram) call carries:
    /// the MTU less the current write epoch's record overhead.
    pub fn max_datagram_data(&self) -> usize {
        self.max_app_data()
    }

    /// Seals `data` as one application-data record straight into `out`, which then holds
    /// a whole datagram to send as it is. The only copy is the one into `out` and the AEAD
    /// pass runs there: nothing is queued or allocated. The DTLS counterpart of
    /// [`Connection::encrypt_into`](crate::Connection::encrypt_into); one call is one
    /// record, so the peer reads `data` as one message, as it reads one `writer()` write.
    ///
    /// `data` is at most [`max_datagram_data`](Self::max_datagram_data) bytes (else
    /// `Misuse::ContentTooLarge`) and `out` holds its record (an MTU always does; else
    /// `Misuse::BufferTooSmall`). Records carry their length, so several calls may fill one
    /// datagram, each at the end of the last (`&mut buf[used..mtu]`), the peer reading one
    /// message per call. Refused before the handshake completed
    /// (`Misuse::HandshakeIncomplete`), after close_notify (`Misuse::Closed`), after a fatal
    /// error (that error), and while datagrams or data written with `writer()` wait to go
    /// first (`Error::BufferFull`: send what [`poll_datagram`](Self::poll_datagram) gives,
    /// then call again). A DTLS 1.3 KeyUpdate this record makes due is queued for
    /// `poll_datagram` ([`wants_write`](Self::wants_write) says so); until its ACK, records
    /// go on under the current keys (RFC 9147 8).
    pub fn seal_datagram(&mut self, data: &[u8], out: &mut [u8]) -> Result<usize, Error> {
        self.datagram_writable()?;
        let overhead = self.record_overhead(self.engine.write_epoch());
        if data.len() > max_app_data(self.cfg.mtu, overhead) {
            return Err(Error::Misuse(Misuse::ContentTooLarge));
        }
        if out.len() < data.len() + overhead {
            return Err(Error::Misuse(Misuse::BufferTooSmall));
        }
        let n = match self.sealer().seal_to(ContentType::ApplicationData, data, out) {
            Ok(n) => n,
            Err(e) => {
                let e = self.fail(e);
                let _ = self.flush_app(&mut []);
                return Err(e);
            }
        };
        if !data.is_empty() {
            self.common.app_data_written();
        }
        if self.maybe_update_keys13() {
            if let Some(now) = self.last_now {
                let _ = self.finish_step(Ok(()), now);
            }
        }
        Ok(n)
    }

    /// Whether application data may be sealed straight into a caller's datagram now: the
    /// handshake is done and nothing queued goes before it (what waits for our KeyUpdate's
    /// ACK does not, RFC 9147 8, unless it is data written earlier).
    fn datagram_writable(&self) -> Result<(), Error> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        if self.sent_close {
            return Err(Error::Misuse(Misuse::Closed));
        }
        if !self.handshake.as_ref().is_some_and(Handshake::is_established) {
            return Err(Error::Misuse(Misuse::HandshakeIncomplete));
        }
        if self.wants_write() || self.common.queue.app_bytes() > 0 {
            return Err(Error::BufferFull);
        }
        Ok(())
    }

    /// Seals queued application data and alerts (no flight can be pending outside a step).
    /// While nothing else waits in `out` and `direct` holds an MTU, the next datagram is
    /// filled in `direct`, sealed where it lands, and its length returned: what does not
    /// fit waits in the queue for the next call. Otherwise (or from a record that did not
    /// fit after all) records are packed into datagrams queued in `out`, and 0 returned.
    fn flush_app(&mut self, direct: &mut [u8]) -> Result<usize, Error> {
        let mtu = self.cfg.mtu;
        let mut direct = match direct.get_mut(..mtu) {
            Some(d) if self.out.is_empty() => Some(d),
            _ => None,
        };
        let awaiting_ack = self.awaiting_key_update_ack();
        let mut used = 0;
        let mut datagram: Vec<u8> = Vec::new();
        let mut full: Vec<Vec<u8>> = Vec::new();
        // The queue lends each record's plaintext while the sealer, borrowed apart from it,
        // seals it.
        let (queue, mut sealer) = self.queue_and_sealer();
        // No key change happens here (see below): one write epoch, one overhead.
        let overhead = sealer.current_overhead();
        let max_app = max_app_data(mtu, overhead);
        let res = loop {
            if direct.is_some() && used > 0 && used + overhead >= mtu {
                // Not even one byte more fits: the next call starts the next datagram.
                break Ok(used);
            }
            // RFC 9147 8: while our KeyUpdate awaits its ACK, only data under the current
            // keys goes out (a fatal alert does not wait), as in `next_queued`.
            if held_behind_key_update(awaiting_ack, queue) {
                break Ok(used);
            }
            let Some(item) = queue.pop(max_app) else {
                break Ok(used);
            };
            match item {
                OutItem::Record { typ, data }
                    if typ == ContentType::ApplicationData || typ == ContentType::Alert =>
                {
                    if let Some(d) = direct.as_deref_mut() {
                        if used == 0 || used + overhead + data.len() <= mtu {
                            match sealer.seal_to(typ, data, &mut d[used..]) {
                                Ok(n) => used += n,
                                Err(e) => break Err(e),
                            }
                            continue;
                        }
                        // It does not fit this datagram and is out of the queue: it and
                        // what follows are packed into queued datagrams after this one.
                        direct = None;
                    }
                    if !datagram.is_empty() && datagram.len() + overhead + data.len() > mtu {
                        full.push(std::mem::take(&mut datagram));
                    }
                    if datagram.is_empty() {
                        datagram.reserve(mtu);
                    }
                    if let Err(e) = sealer.seal_into(typ, data, &mut datagram) {
                        break Err(e);
                    }
                }
                // The plaintext write state every queue starts with, still there when a
                // server is polled before its first datagram: nothing to switch.
                OutItem::KeyChange(state) if !state.is_protected() => {
                    if state.epoch_of_transport().is_some() {
                        break Err(Error::Internal("key change outside a step"));
                    }
                }
                _ => break Err(Error::Internal("handshake output outside a step")),
            }
        };
        if !full.is_empty() {
            self.out.extend(full);
        }
        if !datagram.is_empty() {
            self.out.push_back(datagram);
        }
        res
    }

    /// DTLS 1.3: a KeyUpdate the application asked for while our last flight awaited its
    /// ACK, once nothing does; or once our write epoch has carried `records_per_key`
    /// records (its keys take over when acknowledged, RFC 9147 8). True if one was queued.
    fn maybe_update_keys13(&mut self) -> bool {
        let flight_done = self.flight.is_empty() || self.post_handshake_flight();
        let Some(v13) = self.engine.v13_mut() else {
            return false;
        };
        if self.sent_close || v13.key_update_pending() {
            return false;
        }
        let ask_peer = match v13.deferred_key_update {
            Some(ask) if flight_done => ask,
            Some(_) => return false,
            None if v13.write_seq() >= self.records_per_key => false,
            None => return false,
        };
        match self.handshake.as_mut() {
            Some(Handshake::Established(est)) => {
                v13.deferred_key_update = None;
                est.update_ours(&mut self.common, ask_peer);
                true
            }
            _ => false,
        }
    }
}

/// While our KeyUpdate awaits its ACK (`awaiting_ack`), everything but application data and
/// close_notify waits for it (RFC 9147 8, see [`DtlsConnection::next_queued`]).
fn held_behind_key_update(awaiting_ack: bool, queue: &OutQueue) -> bool {
    awaiting_ack && !queue.next_is_app()
}

/// The most application data a record with `overhead` carries within `mtu` (at least one
/// byte, so data always moves).
fn max_app_data(mtu: usize, overhead: usize) -> usize {
    mtu.saturating_sub(overhead).max(1)
}
