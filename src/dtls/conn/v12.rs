//! The DTLS 1.2 record engine of [`DtlsConnection`] (RFC 6347): a 16-bit epoch that each
//! ChangeCipherSpec moves, one read key and replay window for it, records of the next epoch
//! held until the CCS that installs its key, write epochs by number, flights retransmitted
//! whole when the peer repeats its own (4.2.4) and the record of RFC 6347 4.1 (with the
//! `tls12_cid` form of RFC 9146 when a connection id was negotiated).

use std::collections::VecDeque;
use std::time::Instant;

use std::ops::Range;

use super::seal::Sealer;
use super::{Content, DtlsConnection, Start, MAX_FUTURE_RECORDS};
use crate::codec::{ContentType, ProtocolVersion, Reader};
use crate::config::Direction;
use crate::crypto::aead::RecordKey;
use crate::dtls::fragment::{fragments, HandshakeHeader};
use crate::dtls::record::{
    append_with, inner_content_type, PlaintextHeader, MAX_SEQ_48, PLAINTEXT_HEADER_LEN,
};
use crate::dtls::replay::ReplayWindow;
use crate::error::{Error, PeerMisbehaved};
use crate::handshake::Handshake;

/// One protected write epoch (1 and up) and its next sequence number.
struct WriteEpoch {
    /// Boxed: a key is large, and a `Vec` of inline ones rounds up to four of them.
    key: Box<RecordKey>,
    next_seq: u64,
}

/// What [`DtlsConnection::route12`] let through: whether the record is of the read epoch
/// in force (or else of epoch 0), and, when the read key protects it, the length of its
/// explicit nonce.
#[derive(Clone, Copy)]
struct Route12 {
    current: bool,
    explicit_nonce: Option<usize>,
}

/// DTLS 1.2 epochs: the read epoch in force with its key and window, records of the next
/// one, and our write epochs after epoch 0.
pub(super) struct Epochs12 {
    read_epoch: u16,
    /// `None` for epoch 0.
    read_key: Option<RecordKey>,
    /// The replay window of `read_epoch` (epoch 0 too, until the first CCS).
    window: ReplayWindow,
    /// Records of `read_epoch + 1` that arrived before the CCS that installs its keys.
    future: VecDeque<(PlaintextHeader, Vec<u8>)>,
    /// A CCS of the current epoch that arrived during the handshake before the state expected
    /// it (RFC 6347 4.1: records may be reordered, here ahead of the messages before it in
    /// its flight): taken once the handshake state expects it.
    early_ccs: bool,
    /// Write epochs 1, 2, ... (DTLS 1.2 without renegotiation: only 1).
    write: Vec<WriteEpoch>,
}

impl Epochs12 {
    pub(super) fn new() -> Self {
        Epochs12 {
            read_epoch: 0,
            read_key: None,
            window: ReplayWindow::new(),
            future: VecDeque::new(),
            early_ccs: false,
            write: Vec::new(),
        }
    }

    pub(super) fn read_epoch(&self) -> u16 {
        self.read_epoch
    }

    /// The epoch our next record goes out under.
    pub(super) fn write_epoch(&self) -> u16 {
        self.write.len() as u16
    }

    /// Our key change from the queue (the one behind our CCS): the next write epoch.
    pub(super) fn add_write_key(&mut self, key: RecordKey) {
        self.write.push(WriteEpoch {
            key: Box::new(key),
            next_seq: 0,
        });
    }

    /// A HelloVerifyRequest came from a server that keeps no state (and reuses our record
    /// sequence number): the handshake proper starts a fresh window (RFC 6347 4.2.1).
    pub(super) fn restart_window(&mut self) {
        self.window = ReplayWindow::new();
    }

    /// The overhead of a record under write epoch `epoch`: header, explicit nonce, tag, and
    /// with the peer's connection id `cid` the id and the inner content type (RFC 9146 4).
    pub(super) fn overhead(&self, epoch: u16, cid: Option<&[u8]>) -> usize {
        match self.write_key(epoch) {
            Some(k) => {
                let cid = cid.map_or(0, |cid| cid.len() + 1);
                PLAINTEXT_HEADER_LEN + k.explicit_nonce_len() + k.tag_len() + cid
            }
            None => PLAINTEXT_HEADER_LEN,
        }
    }

    /// Deprotects the body (ciphertext || tag) of a record of the read epoch with header `h`
    /// in place, `explicit_nonce` being the bytes before it (RFC 6347 4.1.2.1; for a
    /// `tls12_cid` record the AAD of RFC 9146 5 with our id `own_cid`, and the real type
    /// from the DTLSInnerPlaintext, 4). Returns the content type and length, the content
    /// staying at the start of `body`. `Ok(None)`: a `tls12_cid` record without an id of
    /// ours, dropped. [`Error::DecryptFailed`]: it does not deprotect.
    #[inline(always)]
    fn open(
        &self,
        own_cid: Option<&[u8]>,
        h: &PlaintextHeader,
        explicit_nonce: &[u8],
        body: &mut [u8],
    ) -> Result<Option<(ContentType, usize)>, Error> {
        let Some(key) = &self.read_key else {
            return Err(Error::Internal("DTLS 1.2 record opened without a read key"));
        };
        let Some(plain_len) = body.len().checked_sub(key.tag_len()) else {
            return Err(Error::DecryptFailed);
        };
        let Ok(plain_len16) = u16::try_from(plain_len) else {
            return Err(Error::DecryptFailed);
        };
        let aad12;
        let aad_cid;
        let cid_record = h.content_type == ContentType::Tls12Cid;
        let aad: &[u8] = match (cid_record, own_cid) {
            (true, Some(cid)) => {
                aad_cid = h.cid12_aad(cid, plain_len16);
                &aad_cid
            }
            (true, None) => return Ok(None),
            (false, _) => {
                aad12 = h.dtls12_aad(plain_len16);
                &aad12
            }
        };
        let len = key.open_detached(h.record_seq(), aad, explicit_nonce, body)?;
        if cid_record {
            return inner_content_type(&body[..len]).map(Some);
        }
        Ok(Some((h.content_type, len)))
    }

    fn write_key(&self, epoch: u16) -> Option<&RecordKey> {
        let i = usize::from(epoch).checked_sub(1)?;
        self.write.get(i).map(|w| &*w.key)
    }
}

impl DtlsConnection {
    /// One DTLS 1.2 record (RFC 6347 4.1), plaintext or under the read epoch's key. A
    /// protected record's ciphertext is copied once, to the end of the received plaintext,
    /// and opened in place there: application data stays for the reader, anything else is
    /// taken off.
    pub(super) fn recv_record12(
        &mut self,
        h: PlaintextHeader,
        payload: &[u8],
        now: Instant,
    ) -> Result<(), Error> {
        let Some(route) = self.route12(h, payload) else {
            return Ok(());
        };
        let Some(explicit) = route.explicit_nonce else {
            return self
                .took12(h, route, h.content_type, Content::Clear(payload), now)
                .map(|_| ());
        };
        let Some((nonce, body)) = payload.split_at_checked(explicit) else {
            return self.bad_record();
        };
        let start = self.received_end();
        self.received.extend_from_slice(body);
        let own_cid = self.common.neg.own_cid.as_deref();
        let opened = match self.engine.v12() {
            Some(e) => e.open(own_cid, &h, nonce, &mut self.received[start..]),
            None => Ok(None),
        };
        let opened = self.opened_or_dropped(opened);
        let Ok(Some((typ, len))) = opened else {
            self.received.truncate(start);
            return opened.map(|_| ());
        };
        self.received.truncate(start + len);
        self.took12(h, route, typ, Content::Received { start }, now)
            .map(|_| ())
    }

    /// [`recv_record12`](Self::recv_record12) of a record whose fragment `payload` lies `at`
    /// bytes into the caller's datagram: a protected one is opened where it lies, after its
    /// explicit nonce. Returns where its application data lies in the datagram, if it
    /// carried some for the caller.
    pub(super) fn recv_record12_in_place(
        &mut self,
        h: PlaintextHeader,
        payload: &mut [u8],
        at: usize,
        now: Instant,
    ) -> Result<Option<Range<usize>>, Error> {
        let Some(route) = self.route12(h, payload) else {
            return Ok(None);
        };
        let Some(explicit) = route.explicit_nonce else {
            return self.took12(h, route, h.content_type, Content::Clear(payload), now);
        };
        let Some((nonce, body)) = payload.split_at_mut_checked(explicit) else {
            return self.bad_record().map(|()| None);
        };
        let own_cid = self.common.neg.own_cid.as_deref();
        let opened = match self.engine.v12() {
            Some(e) => e.open(own_cid, &h, nonce, body),
            None => Ok(None),
        };
        let Some((typ, len)) = self.opened_or_dropped(opened)? else {
            return Ok(None);
        };
        let content = Content::InPlace {
            bytes: body.get(..len).unwrap_or_default(),
            at: at + explicit,
        };
        self.took12(h, route, typ, content, now)
    }

    /// What the two receive paths decide of a record before opening it: its version, its
    /// epoch (a record of the next one is kept, a copy of `payload`, RFC 6347 4.1), the
    /// replay window (4.1.2.6), and whether the read key protects it. `None`: dropped.
    #[inline(always)]
    fn route12(&mut self, h: PlaintextHeader, payload: &[u8]) -> Option<Route12> {
        // RFC 6347 4.1: DTLS record versions only (0xFEFF may carry a first ClientHello).
        if !h.version.is_dtls() {
            return None;
        }
        let e = self.engine.v12_mut()?;
        if h.epoch == e.read_epoch.wrapping_add(1) && e.read_epoch < u16::MAX {
            // RFC 6347 4.1: a record of the next epoch may arrive before the CCS; keep a few.
            if e.future.len() < MAX_FUTURE_RECORDS {
                e.future.push_back((h, payload.to_vec()));
            }
            return None;
        }
        let current = h.epoch == e.read_epoch;
        if !current && h.epoch != 0 {
            return None;
        }
        let window = if current { &e.window } else { &self.window0 };
        // RFC 6347 4.1.2.6: duplicates and records left of the window are dropped.
        if !window.check(h.seq) {
            return None;
        }
        let explicit_nonce = match (&e.read_key, current) {
            (Some(key), true) => Some(key.explicit_nonce_len()),
            // RFC 9146 4: tls12_cid only once encryption is on; this one cannot be opened.
            _ if h.content_type == ContentType::Tls12Cid => return None,
            _ => None,
        };
        Some(Route12 {
            current,
            explicit_nonce,
        })
    }

    /// A record `route` let through, of type `typ` (the inner one of a `tls12_cid`
    /// record), its content at `content`: the replay window, the datagram's
    /// authentication, the length cap, the observer, then the content by its type.
    #[inline(always)]
    fn took12(
        &mut self,
        h: PlaintextHeader,
        route: Route12,
        typ: ContentType,
        content: Content<'_>,
        now: Instant,
    ) -> Result<Option<Range<usize>>, Error> {
        let (current, protected) = (route.current, route.explicit_nonce.is_some());
        match self.engine.v12_mut() {
            Some(e) if current => e.window.mark(h.seq),
            _ => self.window0.mark(h.seq),
        }
        if protected {
            self.authenticated(u64::from(h.epoch), h.seq);
        }
        if let Start::Server(..) = self.start {
            // RFC 6347 4.2.1: a stateless server answered this client's first hello with the
            // hello's record sequence number; ours continue from the hello that got through.
            self.write0_seq = self.write0_seq.max(h.seq);
        }
        let len = content.len(&self.received);
        if len > crate::record::MAX_PLAINTEXT {
            if let Content::Received { start } = content {
                self.received.truncate(start);
            }
            return Err(Error::RecordOverflow);
        }
        if let Some(obs) = &self.common.observer {
            obs.record(Direction::Received, typ, len, h.epoch);
        }
        let app_data = protected && typ == ContentType::ApplicationData;
        self.deliver(content, app_data, |conn, data| {
            conn.recv_content12(typ, data, current, protected, now)
        })
    }

    /// The content of a record other than protected application data.
    fn recv_content12(
        &mut self,
        typ: ContentType,
        data: &[u8],
        current: bool,
        protected: bool,
        now: Instant,
    ) -> Result<(), Error> {
        match typ {
            ContentType::Handshake => {
                self.recv_handshake(data, current, now, None)?;
                self.take_early_ccs12(now)
            }
            ContentType::ChangeCipherSpec => self.recv_ccs(data, current, now),
            ContentType::Alert => self.recv_alert(data, current),
            ContentType::ApplicationData => self.recv_data(data, protected),
            // An unknown type under keys came from the peer; unprotected it may be anyone's.
            _ if protected => Err(PeerMisbehaved::UnknownContentType.into()),
            _ => Ok(()),
        }
    }

    fn recv_ccs(&mut self, data: &[u8], current: bool, now: Instant) -> Result<(), Error> {
        if data != [1] {
            return Err(PeerMisbehaved::IllegalChangeCipherSpec.into());
        }
        // RFC 6347 4.1: a CCS may be reordered or repeated; one the state does not wait for
        // (or of an old epoch) is dropped, not fatal; except one of the current epoch during
        // the handshake, which may have overtaken the messages before it in its flight: held
        // until the state expects it.
        if !current || !self.handshake.as_ref().is_some_and(Handshake::expects_ccs12) {
            let handshaking = self.handshake.as_ref().is_some_and(|h| !h.is_established());
            if let (true, true, Some(e)) = (current, handshaking, self.engine.v12_mut()) {
                e.early_ccs = true;
            }
            return Ok(());
        }
        let hs = self
            .handshake
            .take()
            .ok_or(Error::Internal("handshake state lost"))?;
        self.handshake = Some(hs.handle_ccs12(&mut self.common)?);
        self.peer_progress = true;
        // The pending read state became current: it is the next epoch's key.
        let state = std::mem::replace(&mut self.common.read, crate::record::ReadState::plaintext());
        let Some(e) = self.engine.v12_mut() else {
            return Err(Error::Internal("DTLS 1.2 CCS without the DTLS 1.2 engine"));
        };
        e.read_key = state.into_key();
        e.read_epoch = e.read_epoch.wrapping_add(1);
        e.window = ReplayWindow::new();
        let future: Vec<_> = e.future.drain(..).collect();
        // Fragments buffered under the old epoch must not complete messages of the new one.
        let next = self.reassembler.next_seq();
        self.reassembler.reset_to(next);
        for (h, payload) in future {
            if self.error.is_some() || self.peer_closed {
                break;
            }
            self.recv_record12(h, &payload, now)?;
        }
        Ok(())
    }

    /// A CCS held by `recv_ccs` is taken once the messages before it are in.
    fn take_early_ccs12(&mut self, now: Instant) -> Result<(), Error> {
        let expects = self.handshake.as_ref().is_some_and(Handshake::expects_ccs12);
        match self.engine.v12_mut() {
            Some(e) if e.early_ccs && expects => {
                e.early_ccs = false;
                self.recv_ccs(&[1], true, now)
            }
            _ => Ok(()),
        }
    }

    /// The peer sent a message we already processed again: its flight is being
    /// retransmitted, so ours was lost (RFC 6347 4.2.4), and we send ours again. Not for a
    /// copy that is a duplicate rather than a retransmission: one that arrives within a
    /// quarter of our retransmission timeout of our flight (a duplicated datagram, or a
    /// peer that sends each record twice; the peer's own timer is at least that long),
    /// while our timer runs (our last flight has none: a repeat of the message it answered
    /// is always answered, 4.2.4). We answer once per retransmitted flight: at the first
    /// fragment (offset 0) of the message our flight answered, however many records and
    /// datagrams the peer cut its flight into, at most once per datagram, and only while
    /// nothing of the peer's next flight has come: once it has, the peer had our flight,
    /// and the old message is a stale copy (a duplicate or a replay) that calls for nothing.
    pub(super) fn peer_retransmitted12(&mut self, h: &HandshakeHeader, now: Instant) -> Result<(), Error> {
        let seq = h.message_seq;
        let peer_moved_on = self.reassembler.next_seq() != u32::from(seq) + 1;
        let timeout = self.timer.current_timeout();
        let duplicate = self
            .timer
            .poll_timeout()
            .and_then(|deadline| deadline.checked_sub(timeout))
            .is_some_and(|sent| now.saturating_duration_since(sent) < timeout / 4);
        if self.flight_trigger == Some(seq)
            && !duplicate
            && h.fragment_offset == 0
            && !peer_moved_on
            && !self.retransmitted_this_datagram
            && !self.flight.is_empty()
        {
            self.retransmitted_this_datagram = true;
            self.send_flight12()?;
        }
        Ok(())
    }

    /// Sends our flight again, whole: each handshake message cut into fragments that fit a
    /// record under the MTU, records packed into datagrams.
    pub(super) fn send_flight12(&mut self) -> Result<(), Error> {
        let mut recs = Vec::new();
        let items = std::mem::take(&mut self.flight);
        let mut res = Ok(());
        for item in &items {
            // DTLS 1.2 items were made from a u16 epoch.
            let epoch = item.epoch as u16;
            if item.typ != ContentType::Handshake {
                match self.sealer().seal12(epoch, item.typ, &item.bytes) {
                    Ok(r) => recs.push(r),
                    Err(e) => res = Err(e),
                }
                continue;
            }
            let room = self
                .cfg
                .mtu
                .saturating_sub(self.record_overhead(u64::from(epoch)));
            let Ok(h) = HandshakeHeader::decode(&mut Reader::new(&item.bytes)) else {
                continue;
            };
            let body = item.bytes.get(12..).unwrap_or(&[]);
            let mut frag = Vec::new();
            for (fh, data) in fragments(h.msg_type, h.message_seq, body, room)? {
                frag.clear();
                fh.encode(&mut frag);
                frag.extend_from_slice(data);
                match self.sealer().seal12(epoch, ContentType::Handshake, &frag) {
                    Ok(r) => recs.push(r),
                    Err(e) => res = Err(e),
                }
            }
        }
        self.flight = items;
        res?;
        self.pack(recs);
        Ok(())
    }
}

/// DTLS 1.2's protected records.
impl Sealer<'_> {
    /// One DTLS 1.2 record of `typ` under write epoch `epoch` (RFC 6347 4.1, 4.1.2.1).
    pub(super) fn seal12(&mut self, epoch: u16, typ: ContentType, data: &[u8]) -> Result<Vec<u8>, Error> {
        // `seal12_into` sizes it to the record.
        let mut out = Vec::new();
        self.seal12_into(epoch, typ, data, &mut out)?;
        Ok(out)
    }

    /// Appends one DTLS 1.2 record to `out` (a datagram being filled), sealed in place.
    /// On failure `out` is as it was.
    pub(super) fn seal12_into(
        &mut self,
        epoch: u16,
        typ: ContentType,
        data: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        let room = self.overhead(u64::from(epoch)) + data.len();
        append_with(out, room, |buf| Ok((self.seal12_to(epoch, typ, data, buf)?, ())))
    }

    /// Writes one DTLS 1.2 record at the start of `out` (the caller's datagram buffer),
    /// sealed where it lands (RFC 6347 4.1, 4.1.2.1; the `tls12_cid` form of RFC 9146 4
    /// when the peer gave us a connection id). Returns its length, at most
    /// [`overhead`](Self::overhead) more than `data`; an `out` too short
    /// for it is an error, with no sequence number spent.
    pub(super) fn seal12_to(
        &mut self,
        epoch: u16,
        typ: ContentType,
        data: &[u8],
        out: &mut [u8],
    ) -> Result<usize, Error> {
        if epoch == 0 {
            return self.seal_plaintext_to(typ, data, out);
        }
        let cid = self.cid;
        let Some(w) = self
            .engine
            .v12_mut()
            .and_then(|e| e.write.get_mut(usize::from(epoch) - 1))
        else {
            return Err(Error::Internal("no such write epoch"));
        };
        let seq = w.next_seq;
        // RFC 6347 4.1: the sequence number MUST NOT wrap.
        if seq > MAX_SEQ_48 {
            return Err(Error::SequenceExhausted);
        }
        let key = &w.key;
        let explicit = key.explicit_nonce_len();
        // RFC 9146 4, 5: tls12_cid with the peer's id; the sealed DTLSInnerPlaintext is the
        // content and its real type (no padding).
        let inner_len = data.len() + usize::from(cid.is_some());
        let header_len = PLAINTEXT_HEADER_LEN + cid.map_or(0, <[u8]>::len);
        let body_len = explicit + inner_len + key.tag_len();
        let Some(out) = out.get_mut(..header_len + body_len) else {
            return Err(Error::Internal("DTLS 1.2 record larger than its buffer"));
        };
        w.next_seq += 1;
        let h = PlaintextHeader {
            content_type: if cid.is_some() { ContentType::Tls12Cid } else { typ },
            version: ProtocolVersion::DTLSv1_2,
            epoch,
            seq,
            length: body_len as u16,
        };
        h.write_to(cid.unwrap_or(&[]), out);
        let (_, body) = out.split_at_mut(header_len);
        if explicit > 0 {
            body[..explicit].copy_from_slice(&key.explicit_nonce(h.record_seq()));
        }
        let sealed = &mut body[explicit..];
        sealed[..data.len()].copy_from_slice(data);
        match cid {
            Some(cid) => {
                sealed[data.len()] = typ.get();
                let aad = h.cid12_aad(cid, inner_len as u16);
                key.seal_in_place_slice(h.record_seq(), &aad, sealed, inner_len)?;
            }
            None => {
                let aad = PlaintextHeader {
                    content_type: typ,
                    ..h
                }
                .dtls12_aad(data.len() as u16);
                key.seal_in_place_slice(h.record_seq(), &aad, sealed, inner_len)?;
            }
        }
        self.note_sealed(typ, data, u64::from(epoch));
        Ok(header_len + body_len)
    }
}
