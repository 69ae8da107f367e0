//! DTLS's part of the handshake output ([`Wire`]): handshake messages in the 12-byte DTLS
//! header with our `message_seq` (RFC 6347 4.2.2), the transcript rule of each version, and
//! TLS 1.3 traffic secrets as DTLS 1.3 epochs (RFC 9147 6.1), whose keys it keeps here until
//! the connection takes them: the record layer only sees which epoch a key change opens.

use crate::common::{KeyLevel, Transport, Wire};
use crate::crypto::suites::Tls13Suite;
use crate::crypto::Prk;
use crate::dtls::fragment::dtls_framing;
use crate::dtls::Dtls13Keys;
use crate::record::{ReadState, WriteState};

pub(crate) struct DtlsWire {
    /// The message_seq of our next handshake message (RFC 6347 4.2.2); past 0xffff once
    /// message 0xffff is framed, when no further message can go out (the 16-bit field does
    /// not wrap: the peer would take message 0 as old, RFC 9147 5.2).
    pub send_seq: u32,
    /// DTLS 1.3 transcript rule (RFC 9147 5.2): handshake messages go on the wire with the
    /// 12-byte DTLS header but into the transcript in their TLS 1.3 form (4-byte header).
    /// Set with the DTLS 1.3 record engine (`DtlsConnection::choose_engine`); DTLS 1.2
    /// hashes the DTLS form (RFC 6347 4.2.6).
    transcript13: bool,
    /// DTLS 1.3 epochs of the last keys installed for writing and reading (RFC 9147 6.1).
    write_epoch13: u64,
    read_epoch13: u64,
    /// Write keys installed whose key change is still in the queue, by epoch.
    write_keys13: Vec<Dtls13Keys>,
    /// The newest read keys installed, not yet taken into the connection's read epochs.
    read_keys13: Option<Box<Dtls13Keys>>,
    /// Our KeyUpdate awaits its ACK (kept by the connection's DTLS 1.3 engine).
    pub key_update_in_flight: bool,
}

impl DtlsWire {
    pub fn new(transcript13: bool) -> Self {
        DtlsWire {
            send_seq: 0,
            transcript13,
            write_epoch13: 0,
            read_epoch13: 0,
            write_keys13: Vec::new(),
            read_keys13: None,
            key_update_in_flight: false,
        }
    }

    /// The version's transcript rule: DTLS 1.3's (`true`) or DTLS 1.2's.
    pub fn set_transcript13(&mut self, transcript13: bool) {
        self.transcript13 = transcript13;
    }

    /// Whether a message was framed past message_seq 0xffff, the last the field can carry.
    pub fn seq_exhausted(&self) -> bool {
        self.send_seq > u32::from(u16::MAX) + 1
    }

    /// Whether message 0xffff went out: no further handshake message can.
    pub fn seq_spent(&self) -> bool {
        self.send_seq > u32::from(u16::MAX)
    }

    fn wire_seq(seq: u32) -> u16 {
        u16::try_from(seq).unwrap_or(u16::MAX)
    }

    /// Whether the transcript hashes the TLS form of the messages (DTLS 1.3).
    pub fn transcript13(&self) -> bool {
        self.transcript13
    }

    /// The write keys of `epoch`, once the queue reached its key change.
    pub fn take_write_keys13(&mut self, epoch: u64) -> Option<Box<Dtls13Keys>> {
        let i = self.write_keys13.iter().position(|k| k.epoch() == epoch)?;
        let keys = Box::new(self.write_keys13.remove(i));
        if self.write_keys13.is_empty() {
            // An established connection holds no spare room here (each entry is a whole key
            // schedule): the idle connection's heap stays what it was before keys passed by.
            self.write_keys13 = Vec::new();
        }
        Some(keys)
    }

    /// The read keys the handshake installed last, if not yet taken.
    pub fn take_read_keys13(&mut self) -> Option<Box<Dtls13Keys>> {
        self.read_keys13.take()
    }

    /// Which DTLS 1.3 epoch a key of `level` opens (RFC 9147 6.1), after `last`.
    fn epoch13(last: u64, level: KeyLevel) -> u64 {
        match level {
            KeyLevel::Early => 1,
            KeyLevel::Handshake => 2,
            KeyLevel::Application => 3,
            KeyLevel::Update => last + 1,
        }
    }
}

impl Wire for DtlsWire {
    fn transport(&self) -> Transport {
        Transport::Dtls
    }

    fn key_update_in_flight(&self) -> bool {
        self.key_update_in_flight
    }

    fn frame(&mut self, tls: Vec<u8>) -> (Vec<u8>, Vec<u8>) {
        if self.transcript13 {
            let wire = self.frame12(tls.clone());
            (wire, tls)
        } else {
            let wire = self.frame12(tls);
            (wire.clone(), wire)
        }
    }

    /// The header of an unfragmented message, `message_seq` from our counter (RFC 6347
    /// 4.2.2, 4.2.6).
    fn frame12(&mut self, tls: Vec<u8>) -> Vec<u8> {
        // Past 0xffff the message is framed with 0xffff, never sent: the connection fails
        // on `seq_exhausted` before its flight goes out.
        let framed = dtls_framing(&tls, Self::wire_seq(self.send_seq));
        self.send_seq = self.send_seq.saturating_add(1);
        framed
    }

    fn reframe_last12(&self, tls: Vec<u8>) -> Vec<u8> {
        dtls_framing(&tls, Self::wire_seq(self.send_seq.saturating_sub(1)))
    }

    fn write_state13(
        &mut self,
        suite: &'static Tls13Suite,
        secret: &Prk,
        level: KeyLevel,
        _: usize,
    ) -> WriteState {
        let e = Self::epoch13(self.write_epoch13, level);
        self.write_epoch13 = e;
        self.write_keys13.retain(|k| k.epoch() != e);
        self.write_keys13
            .push(Dtls13Keys::from_prk(e, suite.aead, secret));
        WriteState::transport_epoch(e)
    }

    fn read_state13(&mut self, suite: &'static Tls13Suite, secret: &Prk, level: KeyLevel) -> ReadState {
        let e = Self::epoch13(self.read_epoch13, level);
        self.read_epoch13 = e;
        self.read_keys13 = Some(Box::new(Dtls13Keys::from_prk(e, suite.aead, secret)));
        // Records of this epoch are opened with the keys above, never by the TLS read state.
        ReadState::plaintext()
    }
}
