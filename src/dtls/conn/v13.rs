//! The DTLS 1.3 side of [`DtlsConnection`] (RFC 9147): epochs with their own keys and replay
//! windows, the unified header with encrypted sequence numbers (4, 4.2.3), ACKs (7) with
//! selective retransmission (7.1), and KeyUpdate acknowledged before the new write keys are
//! used (8). The TLS 1.3 state machines run unchanged behind it; the transport gives them the
//! `"dtls13"` labels, and `wire::DtlsWire` turns each traffic secret into the keys of an
//! epoch, which it holds until this side takes them (read keys after each message, write
//! keys when the queue reaches the key change to their epoch).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use std::ops::Range;

use super::seal::Sealer;
use super::{Content, DtlsConnection, MAX_FUTURE_RECORDS};
use crate::codec::DecodeError;
use crate::codec::{ContentType, HandshakeType, Reader};
use crate::common::Side;
use crate::config::Direction;
use crate::dtls::ack::{Ack, FragmentRange, ReceivedRecords, RecordNumber, SentRecords};
use crate::dtls::fragment::{HandshakeHeader, HANDSHAKE_HEADER_LEN, MAX_U24};
use crate::dtls::record::{
    append_with, records, DatagramRecord, Dtls13Keys, HeaderFormat, HeaderLayout, PlaintextHeader,
    MAX_CIPHERTEXT_LEN_13,
};
use crate::dtls::replay::ReplayWindow;
use crate::error::{Error, PeerMisbehaved};
use crate::handshake::Handshake;

/// Read epochs kept at once: the newest and up to three older ones whose records may still
/// arrive late (handshake retransmissions, data reordered around a KeyUpdate). Four
/// consecutive epochs have distinct low bits, so the two epoch bits of the unified header
/// (RFC 9147 4.2.2) always name one of them.
const MAX_READ_EPOCHS: usize = 4;
/// Write epochs kept: handshake messages are retransmitted under the epoch they were first
/// sent in (RFC 9147 4.2.1), so the handshake epoch outlives the move to epoch 3.
const MAX_WRITE_EPOCHS: usize = 3;
/// Our records awaiting an ACK.
const MAX_TRACKED_RECORDS: usize = 256;
/// Handshake records we remember to acknowledge: the newest 32, as BoringSSL keeps (an ACK
/// is advisory, RFC 9147 7: the peer resends what we did not list, and a flight that fills
/// more records than this is acknowledged by our next flight anyway).
const MAX_ACK_RECORDS: usize = 32;
/// How long a read epoch still opens records once a newer one is in: late records (data
/// reordered around a KeyUpdate, a repeated KeyUpdate whose ACK was lost) come within a
/// few round trips; 4 minutes (twice TCP's maximum segment lifetime, as BoringSSL keeps
/// them) is ample, and past it an old epoch's keys open nothing more.
const OLD_READ_EPOCH_LIFETIME: Duration = Duration::from_secs(240);

/// One readable epoch: its keys and replay window (RFC 9147 4.5.1: one window per epoch).
pub(super) struct ReadEpoch {
    keys: Box<Dtls13Keys>,
    window: ReplayWindow,
    /// When a newer epoch took over reading new messages.
    superseded: Option<Instant>,
}

/// A protected record that passed [`DtlsConnection::locate13`]: which read epoch opens it
/// (`idx` into the read epochs, `epoch` its number), its full sequence number, whether
/// that epoch is the newest, and the read epoch in force.
pub(super) struct Found13 {
    idx: usize,
    epoch: u64,
    seq: u64,
    newest: bool,
    read_epoch: u64,
}

/// One writable epoch and its next sequence number.
pub(super) struct WriteEpoch {
    keys: Box<Dtls13Keys>,
    next_seq: u64,
}

/// The DTLS 1.3 record engine: epochs, early records, ACK and KeyUpdate state.
pub(super) struct Epochs13 {
    read: Vec<ReadEpoch>,
    write: Vec<WriteEpoch>,
    /// Our next write keys, held until the peer acknowledges our KeyUpdate (RFC 9147 8),
    /// with the KeyUpdate's message_seq.
    held_write: Option<(Box<Dtls13Keys>, u16)>,
    /// A KeyUpdate the application asked for while our handshake's last flight (the
    /// Finished) still awaited its ACK (whether to ask the peer to update too): sent once
    /// that flight is acknowledged, so that it does not replace the Finished in
    /// retransmission (RFC 9147 5.8.4: the Finished is retransmitted until acknowledged).
    pub(super) deferred_key_update: Option<bool>,
    /// Protected records no read epoch we hold can take yet (a flight reordered ahead of
    /// the message that installs its keys).
    future: VecDeque<Vec<u8>>,
    /// Records carrying the peer's handshake messages that we owe an ACK for.
    pub(super) received: ReceivedRecords,
    /// Our records carrying handshake data that await an ACK.
    pub(super) sent: SentRecords,
    /// Send an ACK at the end of this step.
    pub(super) ack_due: bool,
    /// When to acknowledge the post-handshake messages received (RFC 9147 7.1): a short
    /// while after the first, so that one ACK covers what came with it (two tickets in a
    /// row, a KeyUpdate after data).
    pub(super) ack_at: Option<Instant>,
}

impl Epochs13 {
    pub(super) fn new() -> Self {
        Epochs13 {
            read: Vec::new(),
            write: Vec::new(),
            held_write: None,
            deferred_key_update: None,
            future: VecDeque::new(),
            received: ReceivedRecords::new(MAX_ACK_RECORDS),
            sent: SentRecords::new(MAX_TRACKED_RECORDS),
            ack_due: false,
            ack_at: None,
        }
    }

    /// The epoch we read new messages under (0 until the handshake keys are in).
    pub(super) fn read_epoch(&self) -> u64 {
        self.read.last().map_or(0, |e| e.keys.epoch())
    }

    /// The epoch we write under (0 until the handshake keys are in).
    pub(super) fn write_epoch(&self) -> u64 {
        self.write.last().map_or(0, |e| e.keys.epoch())
    }

    /// The overhead of a record under write epoch `epoch`, with the peer's connection id
    /// `cid` in its header (RFC 9147 9).
    pub(super) fn overhead(&self, epoch: u64, cid: Option<&[u8]>) -> usize {
        match self.write.iter().find(|w| w.keys.epoch() == epoch) {
            Some(w) => w.keys.overhead(
                &HeaderFormat {
                    cid,
                    ..HeaderFormat::default()
                },
                0,
            ),
            None => crate::dtls::record::PLAINTEXT_HEADER_LEN,
        }
    }

    /// Records sent so far under the current write epoch.
    pub(super) fn write_seq(&self) -> u64 {
        self.write.last().map_or(0, |e| e.next_seq)
    }

    pub(super) fn key_update_pending(&self) -> bool {
        self.held_write.is_some()
    }

    fn add_read(&mut self, keys: Box<Dtls13Keys>, now: Instant) {
        let bits = keys.epoch() & 3;
        self.read.retain(|e| e.keys.epoch() & 3 != bits);
        for e in &mut self.read {
            e.superseded.get_or_insert(now);
        }
        self.read.push(ReadEpoch {
            keys,
            window: ReplayWindow::new(),
            superseded: None,
        });
        while self.read.len() > MAX_READ_EPOCHS {
            self.read.remove(0);
        }
    }

    /// Opens record `found` with its epoch's keys by `open` (into the received plaintext or
    /// in place) and marks it in the epoch's replay window once it deprotected (RFC 9147
    /// 4.5.1). `Ok(Some(..))`: what `open` returned.
    #[inline(always)]
    fn open_found<T>(
        &mut self,
        found: &Found13,
        open: impl FnOnce(&Dtls13Keys) -> Result<T, Error>,
    ) -> Result<Option<T>, Error> {
        let Some(e) = self.read.get_mut(found.idx) else {
            return Ok(None);
        };
        let opened = open(&e.keys)?;
        e.window.mark(found.seq);
        Ok(Some(opened))
    }

    #[cfg(test)]
    pub(super) fn read_epochs(&self) -> Vec<u64> {
        self.read.iter().map(|e| e.keys.epoch()).collect()
    }

    #[cfg(test)]
    pub(super) fn write_epochs(&self) -> Vec<u64> {
        self.write.iter().map(|w| w.keys.epoch()).collect()
    }

    /// Drops the handshake epoch's (2) write keys, and on a client its read keys; see
    /// `DtlsConnection::forget_handshake_keys13`.
    pub(super) fn forget_handshake_epochs(&mut self, side: Side) {
        self.write.retain(|w| w.keys.epoch() >= 3);
        if side == Side::Client {
            self.read.retain(|e| e.keys.epoch() >= 3);
        }
    }

    /// Whether [`forget_handshake_epochs`](Self::forget_handshake_epochs) would drop any
    /// keys.
    pub(super) fn holds_handshake_epochs(&self, side: Side) -> bool {
        self.write.iter().any(|w| w.keys.epoch() < 3)
            || (side == Side::Client && self.read.iter().any(|e| e.keys.epoch() < 3))
    }

    fn add_write(&mut self, keys: Box<Dtls13Keys>) {
        self.write.push(WriteEpoch { keys, next_seq: 0 });
        while self.write.len() > MAX_WRITE_EPOCHS {
            self.write.remove(0);
        }
    }
}

impl DtlsConnection {
    /// A DTLSPlaintext record (epoch 0) under DTLS 1.3: ClientHello, ServerHello,
    /// HelloRetryRequest, alerts and ACKs before the handshake keys (RFC 9147 4).
    pub(super) fn recv_plaintext13(
        &mut self,
        h: PlaintextHeader,
        payload: &[u8],
        now: Instant,
    ) -> Result<(), Error> {
        if h.epoch != 0 || !h.version.is_dtls() {
            return Ok(());
        }
        if !self.window0.check(h.seq) {
            return Ok(());
        }
        self.window0.mark(h.seq);
        if payload.len() > crate::record::MAX_PLAINTEXT {
            return Err(Error::RecordOverflow);
        }
        if let Some(obs) = &self.common.observer {
            obs.record(Direction::Received, h.content_type, payload.len(), 0);
        }
        // Plaintext is taken as new only before the peer's handshake keys are in: afterwards
        // anyone could have sent it (RFC 9147 4: epoch 0 carries only the hellos).
        let current = self.engine.read_epoch() == 0;
        match h.content_type {
            ContentType::Handshake => {
                self.recv_handshake(payload, current, now, Some(RecordNumber::new(0, h.seq)))
            }
            ContentType::Alert => self.recv_alert(payload, current),
            // A client that has not heard from the server does not know the version yet:
            // an ACK of its ClientHello is ignored, the hello still resent on the timer
            // (the ServerHello or HelloRetryRequest acknowledges it, RFC 9147 7.1).
            // Once we read epoch 2 a plaintext ACK is anyone's, ignored: acknowledging our
            // ServerHello it would stop its retransmission (RFC 9147 4, 7; BoringSSL takes it).
            ContentType::Ack if current && !self.awaits_first_server_message() => self.recv_ack(payload, 0),
            // RFC 9147 5: no ChangeCipherSpec in DTLS 1.3; application data never in clear.
            _ => Ok(()),
        }
    }

    /// A DTLSCiphertext record (unified header): find its epoch's keys, decrypt and
    /// reconstruct the sequence number, check the replay window, deprotect (RFC 9147 4.2).
    pub(super) fn recv_ciphertext13(&mut self, raw: &[u8], now: Instant) -> Result<(), Error> {
        let Some(Ok(DatagramRecord::Ciphertext(rec))) = records(raw, self.recv_cid_len()).next() else {
            return Ok(());
        };
        self.recv_protected13(&rec, raw, now)
    }

    /// [`recv_ciphertext13`](Self::recv_ciphertext13) of a record already parsed from
    /// `raw`, its bytes. Opened straight into the received plaintext (one copy of the
    /// ciphertext, then in place): application data stays there for the reader, anything
    /// else is taken off.
    pub(super) fn recv_protected13(
        &mut self,
        rec: &crate::dtls::ProtectedRecord<'_>,
        raw: &[u8],
        now: Instant,
    ) -> Result<(), Error> {
        let Some(found) = self.locate13(rec, raw, now)? else {
            return Ok(());
        };
        let start = super::received_end(&mut self.received, &mut self.received_start);
        let Some(v13) = self.engine.v13_mut() else {
            return Ok(());
        };
        let received = &mut self.received;
        let opened = v13.open_found(&found, |keys| keys.open_into(rec, found.seq, received));
        let Some(typ) = self.opened_or_dropped(opened)? else {
            return Ok(());
        };
        self.took13(found, typ, Content::Received { start }, now)
            .map(|_| ())
    }

    /// The in-place half of [`recv_protected13`](Self::recv_protected13): `record` (its
    /// bytes, `at` bytes into the caller's datagram), which [`locate13`](Self::locate13)
    /// `found`, opened where it lies (the sequence number is decrypted in its header, which
    /// is the AAD, RFC 9147 4). Returns where its application data lies in the datagram, if
    /// it carried some for the caller.
    pub(super) fn open13_in_place(
        &mut self,
        found: Found13,
        layout: HeaderLayout,
        record: &mut [u8],
        at: usize,
        now: Instant,
    ) -> Result<Option<Range<usize>>, Error> {
        let Some(v13) = self.engine.v13_mut() else {
            return Ok(None);
        };
        let opened = v13.open_found(&found, |keys| keys.open_in_place(record, layout, found.seq));
        let Some((typ, len)) = self.opened_or_dropped(opened)? else {
            return Ok(None);
        };
        let start = layout.header_len();
        let content = Content::InPlace {
            bytes: record.get(start..start + len).unwrap_or_default(),
            at: at + start,
        };
        self.took13(found, typ, content, now)
    }

    /// What the two receive paths check of a protected record before opening it: its
    /// connection id, its length, the epoch's keys (a record of an epoch not yet readable
    /// is kept, a copy of `raw`), its sequence number and the replay window (RFC 9147 4.2,
    /// 4.5.1). `None`: dropped (counted when it could not be deprotected).
    #[inline(always)]
    pub(super) fn locate13(
        &mut self,
        rec: &crate::dtls::ProtectedRecord<'_>,
        raw: &[u8],
        now: Instant,
    ) -> Result<Option<Found13>, Error> {
        // RFC 9147 9: an id in the header must be the one we handed out; without one
        // negotiated a `C` bit is a record we cannot have asked for.
        if let Some(cid) = rec.cid() {
            if self.common.neg.own_cid.as_deref() != Some(cid) || cid.is_empty() {
                return Ok(None);
            }
        }
        // RFC 9147 4.5.2: a record invalid before it is authenticated is dropped, not fatal
        // (anyone could have sent it); here one longer than any record may be (2^14 + 256,
        // RFC 8446 5.2). Counted as a record that failed to deprotect.
        if rec.ciphertext().len() > MAX_CIPHERTEXT_LEN_13 {
            return self.bad_record().map(|()| None);
        }
        let bits = u64::from(rec.epoch_bits());
        let established = self.handshake.as_ref().is_some_and(Handshake::is_established);
        let Some(v13) = self.engine.v13_mut() else {
            return Ok(None);
        };
        let Some(idx) = v13.read.iter().position(|e| e.keys.epoch() & 3 == bits) else {
            // An epoch we have no keys for yet: kept until the message installing them.
            // Once established only the next epoch can be that (a KeyUpdate we hold unread
            // behind a lost message, whose record we ACKed, RFC 9147 8); anything else is a
            // late copy from a forgotten epoch, dropped.
            let next_bits = (v13.read_epoch() + 1) & 3;
            if (!established || bits == next_bits) && v13.future.len() < MAX_FUTURE_RECORDS {
                v13.future.push_back(raw.to_vec());
            }
            return Ok(None);
        };
        let newest = idx + 1 == v13.read.len();
        if v13.read[idx]
            .superseded
            .is_some_and(|at| now.saturating_duration_since(at) >= OLD_READ_EPOCH_LIFETIME)
        {
            // An epoch superseded long ago: a copy from a peer that moved on, dropped
            // unopened (no ACK, no data).
            return Ok(None);
        }
        let read_epoch = v13.read_epoch();
        let e = &v13.read[idx];
        let seq = match e.keys.unmask_seq(rec, e.window.next_expected()) {
            Ok(s) => s,
            Err(_) => return self.bad_record().map(|()| None),
        };
        if !e.window.check(seq) {
            return Ok(None);
        }
        Ok(Some(Found13 {
            idx,
            epoch: e.keys.epoch(),
            seq,
            newest,
            read_epoch,
        }))
    }

    /// A record `found` deprotected (its window marked), its content of type `typ` at
    /// `content`: the datagram's authentication, the observer, then the content by its type.
    #[inline(always)]
    fn took13(
        &mut self,
        found: Found13,
        typ: ContentType,
        content: Content<'_>,
        now: Instant,
    ) -> Result<Option<Range<usize>>, Error> {
        self.authenticated(found.epoch, found.seq);
        if let Some(obs) = &self.common.observer {
            obs.record(
                Direction::Received,
                typ,
                content.len(&self.received),
                found.epoch as u16,
            );
        }
        // RFC 9147 6.1: application data only under the application epochs.
        let app_data = typ == ContentType::ApplicationData && found.epoch >= 3;
        self.deliver(content, app_data, |conn, data| {
            conn.recv_content13(typ, data, &found, now)
        })
    }

    /// The content of a deprotected record other than application data under an
    /// application epoch.
    fn recv_content13(
        &mut self,
        typ: ContentType,
        data: &[u8],
        found: &Found13,
        now: Instant,
    ) -> Result<(), Error> {
        let rn = RecordNumber::new(found.epoch, found.seq);
        match typ {
            // New handshake messages come under the newest epoch, or any application epoch
            // after the handshake (post-handshake messages around a KeyUpdate).
            ContentType::Handshake => {
                let current = found.newest || (found.epoch >= 3 && found.read_epoch >= 3);
                self.recv_handshake(data, current, now, Some(rn))
            }
            ContentType::Alert => self.recv_alert(data, true),
            ContentType::Ack => self.recv_ack(data, found.epoch),
            ContentType::ApplicationData => Err(Error::UnexpectedMessage {
                state: "DTLS 1.3 handshake epoch",
                got: "application data",
            }),
            _ => Err(PeerMisbehaved::UnknownContentType.into()),
        }
    }

    /// After each handshake message: the peer's final flight is acknowledged at once, as the
    /// peer waits for it to end its handshake; post-handshake messages, KeyUpdate included,
    /// on the delayed ACK armed in `recv_handshake` (RFC 9147 7.1: a quarter of the
    /// retransmission timeout), which the peer's KeyUpdate waits on before it uses its new
    /// keys (8), and which covers a run of KeyUpdates with one ACK. Then the read keys the
    /// message installed, if any.
    pub(super) fn handled13(&mut self, was_established: bool, now: Instant) -> Result<(), Error> {
        let now_established = self.handshake.as_ref().is_some_and(Handshake::is_established);
        if let Some(v13) = self.engine.v13_mut() {
            if now_established && !was_established {
                v13.ack_due = true;
            }
        }
        self.take_read_keys13(now)
    }

    /// Moves read keys the handshake just installed into an epoch, then retries records
    /// that waited for them.
    pub(super) fn take_read_keys13(&mut self, now: Instant) -> Result<(), Error> {
        if !self.common.read_changed {
            return Ok(());
        }
        self.common.read_changed = false;
        // RFC 8446 5.1 (RFC 9147 6.1: DTLS 1.3 follows it): a message after the one that
        // changes the read keys must come under the new keys; one already held (received
        // under the old keys, in the Finished's or KeyUpdate's flight) is unexpected_message.
        if self.reassembler.holds_any() {
            return Err(PeerMisbehaved::MessageSpansKeyChange.into());
        }
        let (Some(keys), Some(v13)) = (self.common.wire.take_read_keys13(), self.engine.v13_mut()) else {
            return Ok(());
        };
        v13.add_read(keys, now);
        let waiting: Vec<_> = v13.future.drain(..).collect();
        for raw in waiting {
            if self.error.is_some() || self.peer_closed {
                break;
            }
            self.recv_ciphertext13(&raw, now)?;
        }
        Ok(())
    }

    /// An ACK (RFC 9147 7), carried by a record of `epoch`: forget what it covers; our
    /// KeyUpdate acknowledged makes the next write epoch current (8); a flight fully
    /// acknowledged needs no more retransmission.
    ///
    /// RFC 9147 7.1 lets the sender resend the unacknowledged rest of a flight at once on a
    /// partial ACK or wait for its timer; we wait (as BoringSSL does), so a peer that
    /// acknowledges records one at a time does not make us resend the flight once per ACK.
    pub(super) fn recv_ack(&mut self, data: &[u8], epoch: u64) -> Result<(), Error> {
        let mut ack = Ack::decode(data)?;
        // RFC 9147 7: "ACK records MUST be sent with an epoch that is equal to or higher than
        // the record which is being acknowledged". Epochs are the same both ways only up to
        // the handshake's (2); after it each side's KeyUpdates move its own. An
        // authenticated peer that breaks it is fatal; in a plaintext ACK, which anyone on
        // the path could have sent, such entries are dropped instead, so that an injected
        // datagram cannot end the handshake.
        let bad = |rn: &RecordNumber| rn.epoch > epoch && (rn.epoch <= 2 || epoch == 0);
        if ack.record_numbers.iter().any(bad) {
            if epoch > 0 {
                return Err(DecodeError::IllegalValue("ACK of a record of a later epoch").into());
            }
            ack.record_numbers.retain(|rn| !bad(rn));
        }
        let Some(v13) = self.engine.v13_mut() else {
            return Ok(());
        };
        v13.sent.on_ack(&ack);
        if let Some((_, ku_seq)) = &v13.held_write {
            if v13.sent.message_acked(*ku_seq, 1) {
                if let Some((keys, _)) = v13.held_write.take() {
                    v13.add_write(keys);
                }
                self.common.wire.key_update_in_flight = false;
            }
        }
        let established = self.handshake.as_ref().is_some_and(Handshake::is_established);
        if self.flight.is_empty() {
            return Ok(());
        }
        if v13.sent.all_acked() {
            // RFC 9147 7.2: an acknowledged flight needs no retransmission. During the
            // handshake the peer's next flight is what we wait for now: the peer is alive and
            // has everything, so no timer runs (as after the handshake, how long to wait is
            // the application's idle timeout).
            self.timer.finish();
            if established {
                self.flight.clear();
                self.flight_trigger = None;
                v13.sent.clear();
            }
        }
        Ok(())
    }

    /// A write key change from the queue: the handshake's epochs take effect at once; a
    /// KeyUpdate's waits for the peer's ACK of the KeyUpdate (RFC 9147 8).
    pub(super) fn add_write_keys13(&mut self, keys: Box<Dtls13Keys>) {
        let established = self.handshake.as_ref().is_some_and(Handshake::is_established);
        let key_update = self.flight.iter().rev().find_map(|item| {
            let h = HandshakeHeader::decode(&mut Reader::new(&item.bytes)).ok()?;
            (h.msg_type == HandshakeType::KeyUpdate).then_some(h.message_seq)
        });
        let Some(v13) = self.engine.v13_mut() else {
            return;
        };
        match key_update {
            Some(seq) if established && keys.epoch() >= 4 => {
                v13.held_write = Some((keys, seq));
                self.common.wire.key_update_in_flight = true;
            }
            _ => v13.add_write(keys),
        }
    }

    /// The last time our flight went out it was answered in part: resend only the message
    /// bytes no ACK covered (RFC 9147 7.1); `full` sends every message whole.
    pub(super) fn send_flight13(&mut self, full: bool) -> Result<(), Error> {
        let pending: Vec<FragmentRange> = match self.engine.v13() {
            Some(v13) if !full => v13.sent.unacked(),
            _ => Vec::new(),
        };
        let items = std::mem::take(&mut self.flight);
        let mut packer = FlightPacker::default();
        let mut res = Ok(());
        for item in &items {
            let Ok(h) = HandshakeHeader::decode(&mut Reader::new(&item.bytes)) else {
                continue;
            };
            let body = item.bytes.get(12..).unwrap_or(&[]);
            if body.len() > MAX_U24 as usize {
                res = Err(Error::Internal("handshake message over 2^24 - 1 bytes"));
                continue;
            }
            let ranges: Vec<std::ops::Range<usize>> = if full {
                std::iter::once(0..body.len()).collect()
            } else {
                pending
                    .iter()
                    .filter(|r| r.message_seq == h.message_seq)
                    .map(|r| r.offset as usize..(r.offset as usize + r.len as usize).min(body.len()))
                    .collect()
            };
            for range in ranges {
                if let Err(e) = self.pack_fragments(&mut packer, item.epoch, &h, body, range) {
                    res = Err(e);
                }
            }
        }
        if let Err(e) = self.seal_packed(&mut packer) {
            res = Err(e);
        }
        if !packer.datagram.is_empty() {
            self.out.push_back(packer.datagram);
        }
        self.flight = items;
        res
    }

    /// Adds the bytes `range` of handshake message `h` (body `body`, epoch `epoch`) to the
    /// flight being packed: as few records and datagrams as the MTU allows. A record is
    /// filled with fragments of consecutive messages of one epoch before the next is
    /// started, and a datagram with records before the next (RFC 9147 4.4, 5.5: messages may
    /// share a record; fewer records, less overhead and fewer datagrams to lose). An empty
    /// range gives one empty fragment at its start.
    fn pack_fragments(
        &mut self,
        p: &mut FlightPacker,
        epoch: u64,
        h: &HandshakeHeader,
        body: &[u8],
        range: std::ops::Range<usize>,
    ) -> Result<(), Error> {
        let (mtu, overhead) = (self.cfg.mtu, self.record_overhead(epoch));
        let mut offset = range.start.min(range.end);
        loop {
            if !p.record.is_empty() && p.epoch != epoch {
                self.seal_packed(p)?;
            }
            // A datagram carries the pieces of one message in order, each starting where
            // the one before it ended. RFC 9147 5.5 allows any pieces anywhere (a resent
            // flight's gaps are not contiguous), but a receiver that reassembles in the
            // order of each datagram's first fragment (dimpl 0.9 does) then never completes
            // the message although it acknowledged every record; the next datagram costs
            // only its headers.
            let last_piece = p
                .pieces
                .iter()
                .chain(&p.ranges)
                .rfind(|r| r.message_seq == h.message_seq);
            if last_piece.is_some_and(|r| u64::from(r.offset) + u64::from(r.len) != offset as u64) {
                self.seal_packed(p)?;
                self.out.push_back(std::mem::take(&mut p.datagram));
                p.pieces.clear();
            }
            // Room for fragment data in the record being filled, within the datagram.
            let room = |p: &FlightPacker| {
                mtu.saturating_sub(p.datagram.len() + overhead + p.record.len() + HANDSHAKE_HEADER_LEN)
            };
            if room(p) == 0 {
                self.seal_packed(p)?;
                if room(p) == 0 && !p.datagram.is_empty() {
                    self.out.push_back(std::mem::take(&mut p.datagram));
                    p.pieces.clear();
                }
                if room(p) == 0 {
                    return Err(Error::Config(
                        "the MTU leaves no room for a handshake fragment".into(),
                    ));
                }
            }
            let want = range.end - offset;
            let n = want.min(room(p));
            p.epoch = epoch;
            HandshakeHeader {
                msg_type: h.msg_type,
                length: body.len() as u32,
                message_seq: h.message_seq,
                fragment_offset: offset as u32,
                fragment_length: n as u32,
            }
            .encode(&mut p.record);
            p.record.extend_from_slice(&body[offset..offset + n]);
            p.ranges.push(FragmentRange {
                message_seq: h.message_seq,
                offset: offset as u32,
                len: n as u32,
            });
            offset += n;
            if offset >= range.end {
                return Ok(());
            }
        }
    }

    /// Seals the record being packed into the datagram being filled.
    fn seal_packed(&mut self, p: &mut FlightPacker) -> Result<(), Error> {
        if p.record.is_empty() {
            return Ok(());
        }
        let record = std::mem::take(&mut p.record);
        let ranges = std::mem::take(&mut p.ranges);
        p.pieces.extend_from_slice(&ranges);
        let rn = self
            .sealer()
            .seal13_into(p.epoch, ContentType::Handshake, &record, &mut p.datagram)?;
        if let Some(v13) = self.engine.v13_mut() {
            v13.sent.on_sent(rn, ranges);
        }
        Ok(())
    }

    /// The end of a step that made an ACK due. During the handshake a new flight
    /// acknowledges the peer's (RFC 9147 7). Else the ACK goes first: the peer waits for it
    /// (the server's ACK of the client Finished ends the client's handshake) before our
    /// NewSessionTickets or data.
    pub(super) fn send_due_ack13(&mut self, new_flight: bool) -> Result<(), Error> {
        if !self.engine.v13().is_some_and(|v13| v13.ack_due) {
            return Ok(());
        }
        if !new_flight || self.post_handshake_flight() {
            self.send_ack13()?;
        }
        if let Some(v13) = self.engine.v13_mut() {
            v13.ack_due = false;
        }
        Ok(())
    }

    /// Sends an ACK of the peer's handshake records we hold (RFC 9147 7), in the current
    /// write epoch (7: never lower than the records it acknowledges, which ours is).
    pub(super) fn send_ack13(&mut self) -> Result<(), Error> {
        let Some(v13) = self.engine.v13_mut() else {
            return Ok(());
        };
        v13.ack_due = false;
        v13.ack_at = None;
        if v13.received.is_empty() {
            return Ok(());
        }
        let epoch = v13.write_epoch();
        let room = self.cfg.mtu.saturating_sub(self.record_overhead(epoch) + 2);
        let Some(v13) = self.engine.v13() else {
            return Ok(());
        };
        let ack = v13.received.ack(room / crate::dtls::ack::RECORD_NUMBER_LEN);
        let (rec, _) = self.sealer().seal13(epoch, ContentType::Ack, &ack.to_bytes())?;
        self.pack(vec![rec]);
        Ok(())
    }
}

/// DTLS 1.3's protected records.
impl Sealer<'_> {
    /// One DTLS 1.3 record under write epoch `epoch`: DTLSPlaintext for epoch 0, else the
    /// unified header with a 16-bit encrypted sequence number and a length (RFC 9147 4).
    pub(super) fn seal13(
        &mut self,
        epoch: u64,
        typ: ContentType,
        data: &[u8],
    ) -> Result<(Vec<u8>, RecordNumber), Error> {
        // `seal13_into` sizes it to the record.
        let mut out = Vec::new();
        let rn = self.seal13_into(epoch, typ, data, &mut out)?;
        Ok((out, rn))
    }

    /// Appends one DTLS 1.3 record to `out` (a datagram being filled); its record number.
    /// On failure `out` is as it was.
    pub(super) fn seal13_into(
        &mut self,
        epoch: u64,
        typ: ContentType,
        data: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<RecordNumber, Error> {
        // The overhead bounds the record (its short-record padding included).
        let room = self.overhead(epoch) + data.len();
        append_with(out, room, |buf| self.seal13_to(epoch, typ, data, buf))
    }

    /// Writes one DTLS 1.3 record at the start of `out` (the caller's datagram buffer),
    /// sealed where it lands; its length and record number. An `out` too short for it is
    /// an error, with no sequence number spent.
    pub(super) fn seal13_to(
        &mut self,
        epoch: u64,
        typ: ContentType,
        data: &[u8],
        out: &mut [u8],
    ) -> Result<(usize, RecordNumber), Error> {
        if epoch == 0 {
            // Epoch 0 is DTLSPlaintext with legacy_record_version {254, 253} (RFC 9147 5),
            // the same record DTLS 1.2 writes.
            let seq = self.write0_seq();
            let n = self.seal_plaintext_to(typ, data, out)?;
            return Ok((n, RecordNumber::new(0, seq)));
        }
        // RFC 9147 9: the peer's id in every protected record once we know it.
        let format = HeaderFormat {
            cid: self.cid,
            ..HeaderFormat::default()
        };
        let Some(w) = self
            .engine
            .v13_mut()
            .and_then(|v13| v13.write.iter_mut().find(|w| w.keys.epoch() == epoch))
        else {
            return Err(Error::Internal("no such write epoch"));
        };
        let seq = w.next_seq;
        if seq > crate::dtls::record::MAX_SEQ_48 {
            return Err(Error::SequenceExhausted);
        }
        let n = w.keys.seal_to(out, &format, seq, typ, data, 0)?;
        w.next_seq += 1;
        self.note_sealed(typ, data, epoch);
        Ok((n, RecordNumber::new(epoch, seq)))
    }
}

/// A flight being packed ([`DtlsConnection::send_flight13`]): the datagram being filled,
/// and the handshake record being filled (its epoch, its plaintext, the fragments in it).
#[derive(Default)]
struct FlightPacker {
    datagram: Vec<u8>,
    epoch: u64,
    record: Vec<u8>,
    ranges: Vec<FragmentRange>,
    /// The fragments of the records already sealed into `datagram`.
    pieces: Vec<FragmentRange>,
}
