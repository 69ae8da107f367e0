//! Sealing one record under one of our write epochs. [`Sealer`] borrows only what sealing
//! touches, apart from the outgoing queue, so a record is sealed straight from the plaintext
//! the queue lends. Epoch 0's DTLSPlaintext, the same record in both versions, is here; each
//! engine's module seals its protected records (`v12`: RFC 6347 4.1 with RFC 9146's
//! `tls12_cid`; `v13`: RFC 9147 4's unified header).

use std::sync::Arc;

use super::engine::Engine;
use super::DtlsConnection;
use crate::codec::{AlertDescription, AlertLevel, ContentType, ProtocolVersion};
use crate::config::{Direction, RecordObserver};
use crate::dtls::record::{PlaintextHeader, MAX_SEQ_48, PLAINTEXT_HEADER_LEN};
use crate::error::Error;
use crate::event::AlertRecord;
use crate::record::OutQueue;

/// The parts of a [`DtlsConnection`] that sealing a record reads or moves on.
pub(super) struct Sealer<'a> {
    pub(super) engine: &'a mut Engine,
    /// The peer's connection id, carried by every protected record once known (RFC 9146 3,
    /// RFC 9147 9).
    pub(super) cid: Option<&'a [u8]>,
    write0_seq: &'a mut u64,
    /// The legacy_record_version of epoch 0's records.
    plaintext_version: ProtocolVersion,
    last_alert_sent: &'a mut Option<AlertRecord>,
    observer: Option<&'a Arc<dyn RecordObserver>>,
}

impl DtlsConnection {
    /// What seals our records, borrowed for as long as it is used.
    pub(super) fn sealer(&mut self) -> Sealer<'_> {
        self.queue_and_sealer().1
    }

    /// The outgoing queue and, apart from it, what seals the records it lends.
    pub(super) fn queue_and_sealer(&mut self) -> (&mut OutQueue, Sealer<'_>) {
        let plaintext_version = if self.before_first_server_message() {
            // RFC 9147 5 (and RFC 6347 4.1 for DTLS 1.2's ClientHello, as in TLS, RFC 5246
            // E.1): the initial ClientHello's legacy_record_version "may also be {254, 255}
            // for compatibility purposes"; BoringSSL and OpenSSL send DTLS 1.0 there, until
            // the server's answer fixes the version (a ClientHello after a HelloRetryRequest
            // is {254, 253}).
            ProtocolVersion::DTLSv1_0
        } else {
            ProtocolVersion::DTLSv1_2
        };
        let sealer = Sealer {
            engine: &mut self.engine,
            cid: self.common.neg.send_cid(),
            write0_seq: &mut self.write0_seq,
            plaintext_version,
            last_alert_sent: &mut self.last_alert_sent,
            observer: self.common.observer.as_ref(),
        };
        (&mut self.common.queue, sealer)
    }
}

impl Sealer<'_> {
    /// The overhead of a record under our write epoch `epoch`.
    pub(super) fn overhead(&self, epoch: u64) -> usize {
        self.engine.record_overhead(epoch, self.cid)
    }

    /// The overhead of a record under the current write epoch.
    pub(super) fn current_overhead(&self) -> usize {
        self.overhead(self.engine.write_epoch())
    }

    /// Writes one record of `typ` under the current write epoch at the start of `out`;
    /// its length.
    pub(super) fn seal_to(&mut self, typ: ContentType, data: &[u8], out: &mut [u8]) -> Result<usize, Error> {
        match &*self.engine {
            Engine::V12(e) => self.seal12_to(e.write_epoch(), typ, data, out),
            Engine::V13(v13) => self.seal13_to(v13.write_epoch(), typ, data, out).map(|(n, _)| n),
        }
    }

    /// Appends one record of `typ` under the current write epoch to `out`.
    pub(super) fn seal_into(
        &mut self,
        typ: ContentType,
        data: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        match &*self.engine {
            Engine::V12(e) => self.seal12_into(e.write_epoch(), typ, data, out),
            Engine::V13(v13) => self.seal13_into(v13.write_epoch(), typ, data, out).map(|_| ()),
        }
    }

    /// The sequence number of our next epoch 0 record.
    pub(super) fn write0_seq(&self) -> u64 {
        *self.write0_seq
    }

    /// Writes one DTLSPlaintext record (epoch 0, RFC 6347 4.1, RFC 9147 5: the same record
    /// in both versions) at the start of `out`; returns its length.
    pub(super) fn seal_plaintext_to(
        &mut self,
        typ: ContentType,
        data: &[u8],
        out: &mut [u8],
    ) -> Result<usize, Error> {
        let seq = *self.write0_seq;
        // RFC 6347 4.1: the sequence number MUST NOT wrap.
        if seq > MAX_SEQ_48 {
            return Err(Error::SequenceExhausted);
        }
        let Some(out) = out.get_mut(..PLAINTEXT_HEADER_LEN + data.len()) else {
            return Err(Error::Internal("DTLS record larger than its buffer"));
        };
        *self.write0_seq += 1;
        let (head, body) = out.split_at_mut(PLAINTEXT_HEADER_LEN);
        PlaintextHeader {
            content_type: typ,
            version: self.plaintext_version,
            epoch: 0,
            seq,
            length: data.len() as u16,
        }
        .write_to(&[], head);
        body.copy_from_slice(data);
        self.note_sealed(typ, data, 0);
        Ok(out.len())
    }

    /// A record of `typ` carrying `data` was sealed: the record observer sees it, and an
    /// alert becomes [`last_alert_sent`](DtlsConnection::last_alert_sent).
    pub(super) fn note_sealed(&mut self, typ: ContentType, data: &[u8], epoch: u64) {
        if let (ContentType::Alert, [level, description]) = (typ, data) {
            *self.last_alert_sent = Some(AlertRecord {
                level: AlertLevel::from(*level),
                description: AlertDescription::from(*description),
            });
        }
        if let Some(obs) = self.observer {
            // The observer numbers epochs in 16 bits (DTLS 1.2's field).
            obs.record(Direction::Sent, typ, data.len(), epoch as u16);
        }
    }
}
