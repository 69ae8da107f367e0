//! DTLS's part of the handshake output ([`Wire`]): handshake messages in the 12-byte DTLS
//! header with our `message_seq` (RFC 6347 4.2.2), the transcript rule of each version, and
//! TLS 1.3 traffic secrets as DTLS 1.3 epochs (RFC 9147 6.1).

use crate::common::{KeyLevel, Transport, Wire};
use crate::crypto::suites::Tls13Suite;
use crate::crypto::Prk;
use crate::dtls::fragment::dtls_framing;
use crate::dtls::Dtls13Keys;
use crate::record::{ReadState, WriteState};

pub(crate) struct DtlsWire {
    /// The message_seq of our next handshake message (RFC 6347 4.2.2).
    pub send_seq: u16,
    /// DTLS 1.3 transcript rule (RFC 9147 5.2): handshake messages go on the wire with the
    /// 12-byte DTLS header but into the transcript in their TLS 1.3 form (4-byte header).
    /// Set while the TLS 1.3 state machines run over DTLS; DTLS 1.2 hashes the DTLS form
    /// (RFC 6347 4.2.6).
    pub v13: bool,
    /// DTLS 1.3 epochs of the last keys installed for writing and reading (RFC 9147 6.1).
    write_epoch13: u64,
    read_epoch13: u64,
}

impl DtlsWire {
    pub fn new() -> Self {
        DtlsWire {
            send_seq: 0,
            v13: false,
            write_epoch13: 0,
            read_epoch13: 0,
        }
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

    fn frame(&mut self, tls: Vec<u8>) -> (Vec<u8>, Vec<u8>) {
        if self.v13 {
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
        let framed = dtls_framing(&tls, self.send_seq);
        self.send_seq = self.send_seq.wrapping_add(1);
        framed
    }

    fn reframe_last12(&self, tls: Vec<u8>) -> Vec<u8> {
        dtls_framing(&tls, self.send_seq.wrapping_sub(1))
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
        WriteState::dtls13(Dtls13Keys::from_prk(e, suite.aead, secret))
    }

    fn read_state13(&mut self, suite: &'static Tls13Suite, secret: &Prk, level: KeyLevel) -> ReadState {
        let e = Self::epoch13(self.read_epoch13, level);
        self.read_epoch13 = e;
        ReadState::dtls13(Dtls13Keys::from_prk(e, suite.aead, secret))
    }
}
