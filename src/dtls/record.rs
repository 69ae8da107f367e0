//! DTLS record headers and DTLS 1.3 record protection.
//!
//! - The 13-byte header of DTLS 1.2 records and DTLS 1.3 `DTLSPlaintext` (RFC 6347 4.1,
//!   RFC 9147 4): type, version, 16-bit epoch, 48-bit sequence number, length.
//! - The DTLS 1.3 unified header of `DTLSCiphertext` (RFC 9147 4): `001CSLEE`, an optional
//!   connection id, an 8- or 16-bit sequence number and an optional length.
//! - Record-number encryption (RFC 9147 4.2.3) and reconstruction of the full epoch and
//!   sequence number from their low bits (RFC 9147 4.2.2).
//! - Splitting a datagram into its records (RFC 9147 4.1 demultiplexing; several records
//!   may share a datagram, RFC 6347 4.1.1).

use crate::codec::{put_u16, put_u48, put_u8, ContentType, DecodeError, ProtocolVersion, Reader};
use crate::crypto::dtls::{dtls13_record_key, SequenceNumberKey, SN_SAMPLE_LEN};
use crate::crypto::{AeadAlg, HashAlg, RecordKey};
use crate::{Error, PeerMisbehaved};

/// Length of the DTLS 1.2 / `DTLSPlaintext` record header.
pub const PLAINTEXT_HEADER_LEN: usize = 13;
/// Largest 48-bit sequence number of the DTLS 1.2 / `DTLSPlaintext` header.
pub const MAX_SEQ_48: u64 = (1 << 48) - 1;
/// Largest connection id (RFC 9146 3: `opaque cid<0..2^8-1>`).
pub const MAX_CID_LEN: usize = 255;
/// Largest unified header: first byte, connection id, 16-bit sequence number, length.
pub const MAX_UNIFIED_HEADER_LEN: usize = 1 + MAX_CID_LEN + 2 + 2;
/// Largest DTLSInnerPlaintext content (RFC 9147 4 refers to RFC 8446 5.1: 2^14).
pub const MAX_PLAINTEXT_LEN: usize = 1 << 14;
/// Largest DTLS 1.3 record ciphertext (RFC 8446 5.2: 2^14 + 256).
pub const MAX_CIPHERTEXT_LEN_13: usize = (1 << 14) + 256;

/// The header of a DTLS 1.2 record, or of a DTLS 1.3 `DTLSPlaintext` (RFC 6347 4.1,
/// RFC 9147 4): `type, version, epoch u16, sequence_number u48, length u16`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlaintextHeader {
    /// The record's content type (in the clear: DTLS 1.2 has no inner content type).
    pub content_type: ContentType,
    /// The record's version field (`legacy_record_version` in DTLS 1.3, RFC 9147 4).
    pub version: ProtocolVersion,
    /// The epoch: in DTLS 1.2, 0 until the first ChangeCipherSpec and one more per cipher
    /// state change (RFC 6347 4.1); always 0 in a DTLS 1.3 `DTLSPlaintext`.
    pub epoch: u16,
    /// 48-bit sequence number; must stay at most [`MAX_SEQ_48`].
    pub seq: u64,
    /// Length of the fragment that follows the header.
    pub length: u16,
}

impl PlaintextHeader {
    /// Appends the 13 header bytes. Only the low 48 bits of `seq` are written: the caller
    /// stops before [`MAX_SEQ_48`] (RFC 6347 4.1: sequence numbers MUST NOT wrap).
    pub fn encode(&self, out: &mut Vec<u8>) {
        self.encode_with_cid(&[], out);
    }

    /// Writes the header at the start of `out` (`cid` between the sequence number and the
    /// length: the `tls12_cid` form of RFC 9146 4 when not empty) and returns its length;
    /// `None`, with nothing written, when `out` is shorter than that. Only the low 48 bits
    /// of `seq` are written, as in [`encode`](Self::encode).
    pub fn write_to(&self, cid: &[u8], out: &mut [u8]) -> Option<usize> {
        let len = PLAINTEXT_HEADER_LEN + cid.len();
        let out = out.get_mut(..len)?;
        out[0] = self.content_type.get();
        out[1..3].copy_from_slice(&self.version.get().to_be_bytes());
        out[3..5].copy_from_slice(&self.epoch.to_be_bytes());
        out[5..11].copy_from_slice(&(self.seq & MAX_SEQ_48).to_be_bytes()[2..]);
        out[11..11 + cid.len()].copy_from_slice(cid);
        out[11 + cid.len()..].copy_from_slice(&self.length.to_be_bytes());
        Some(len)
    }

    /// Reads the 13 header bytes (the fragment follows, `length` bytes).
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(PlaintextHeader {
            content_type: ContentType::from(r.u8("DTLS record type")?),
            version: ProtocolVersion::from(r.u16("DTLS record version")?),
            epoch: r.u16("DTLS record epoch")?,
            seq: r.u48("DTLS record sequence number")?,
            length: r.u16("DTLS record length")?,
        })
    }

    /// `epoch || sequence_number` as one 64-bit number: the DTLS 1.2 `seq_num` of the AEAD
    /// nonce and additional data (RFC 6347 4.1.2.1). With `RecordKey::tls12` it is the
    /// explicit nonce of the GCM suites and the XOR input of ChaCha20-Poly1305.
    pub fn record_seq(&self) -> u64 {
        (u64::from(self.epoch) << 48) | (self.seq & MAX_SEQ_48)
    }

    /// DTLS 1.2 AEAD additional data (RFC 5246 6.2.3.3 with RFC 6347 4.1.2.1's seq_num):
    /// `epoch || seq || type || version || plaintext length`.
    pub fn dtls12_aad(&self, plaintext_len: u16) -> [u8; 13] {
        let mut aad = [0u8; 13];
        aad[..8].copy_from_slice(&self.record_seq().to_be_bytes());
        aad[8] = self.content_type.get();
        aad[9..11].copy_from_slice(&self.version.get().to_be_bytes());
        aad[11..].copy_from_slice(&plaintext_len.to_be_bytes());
        aad
    }
}

impl PlaintextHeader {
    /// Appends the header of a DTLS 1.2 `tls12_cid` record (RFC 9146 4): type, version,
    /// epoch, sequence number, then the connection id, then the length.
    pub fn encode_with_cid(&self, cid: &[u8], out: &mut Vec<u8>) {
        let start = out.len();
        out.resize(start + PLAINTEXT_HEADER_LEN + cid.len(), 0);
        // The room was just made, so `write_to` cannot come up short.
        let _ = self.write_to(cid, &mut out[start..]);
    }

    /// The MAC / AEAD additional data of a DTLS 1.2 `tls12_cid` record (RFC 9146 5):
    /// `seq_num_placeholder (8 x 0xff) || tls12_cid || cid_length || tls12_cid || version
    /// || epoch || sequence_number || cid || length_of_DTLSInnerPlaintext`. The placeholder
    /// and the leading type keep it from ever equalling RFC 6347's additional data.
    pub fn cid12_aad(&self, cid: &[u8], inner_len: u16) -> Vec<u8> {
        let mut aad = Vec::with_capacity(8 + 3 + 2 + 2 + 6 + cid.len() + 2);
        aad.extend_from_slice(&[0xff; 8]);
        put_u8(&mut aad, ContentType::Tls12Cid.get());
        // `cid` comes from a one-byte length (RFC 9146 3), so it fits.
        put_u8(&mut aad, cid.len() as u8);
        put_u8(&mut aad, ContentType::Tls12Cid.get());
        put_u16(&mut aad, self.version.get());
        put_u16(&mut aad, self.epoch);
        put_u48(&mut aad, self.seq);
        aad.extend_from_slice(cid);
        put_u16(&mut aad, inner_len);
        aad
    }
}

/// The connection id of a datagram's first record, for routing it to its connection before
/// any state is looked up: a DTLS 1.2 `tls12_cid` record (RFC 9146 4) or a DTLS 1.3 unified
/// header with the `C` bit (RFC 9147 9). `cid_len` is the length of the ids we hand out (the
/// receiver alone knows it, RFC 9146 3). `None` for any other record, or one too short to
/// hold an id. Unauthenticated: a match only says which connection should try to open it.
pub fn connection_id(datagram: &[u8], cid_len: usize) -> Option<&[u8]> {
    if cid_len == 0 {
        return None;
    }
    let first = *datagram.first()?;
    if first == ContentType::Tls12Cid.get() {
        // type, version, epoch, 48-bit sequence number, then the id and a length.
        return datagram
            .get(11..11 + cid_len)
            .filter(|_| datagram.len() >= 13 + cid_len);
    }
    if first & UNIFIED_FIXED_MASK == UNIFIED_FIXED && first & C_BIT != 0 {
        return datagram.get(1..1 + cid_len);
    }
    None
}

/// Width of the sequence number in the unified header (the `S` bit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeqLen {
    /// The low 8 bits of the sequence number (`S` clear).
    Bits8,
    /// The low 16 bits (`S` set).
    Bits16,
}

impl SeqLen {
    /// Bytes the sequence number takes in the header.
    pub fn bytes(self) -> usize {
        match self {
            SeqLen::Bits8 => 1,
            SeqLen::Bits16 => 2,
        }
    }

    /// Bits of the sequence number the header carries.
    pub fn bits(self) -> u32 {
        8 * self.bytes() as u32
    }
}

const UNIFIED_FIXED: u8 = 0b0010_0000;
const UNIFIED_FIXED_MASK: u8 = 0b1110_0000;
const C_BIT: u8 = 0b0001_0000;
const S_BIT: u8 = 0b0000_1000;
const L_BIT: u8 = 0b0000_0100;
const EPOCH_BITS: u8 = 0b0000_0011;

/// How we format the unified headers we send (RFC 9147 4): the connection id (if one was
/// negotiated), the sequence number width, and whether a length is present (it must be for
/// every record but the last of a datagram).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeaderFormat<'a> {
    /// The connection id the peer asked us to send (`C` bit set when present, RFC 9147 9).
    pub cid: Option<&'a [u8]>,
    /// Width of the sequence number (`S` bit); the default is 16 bits.
    pub seq_len: SeqLen,
    /// Whether the header carries a 16-bit length (`L` bit).
    pub with_length: bool,
}

impl Default for HeaderFormat<'_> {
    fn default() -> Self {
        HeaderFormat {
            cid: None,
            seq_len: SeqLen::Bits16,
            with_length: true,
        }
    }
}

impl HeaderFormat<'_> {
    /// Writes the header of record `seq` of `epoch`, with a plaintext sequence number, at
    /// the start of `out`, straight where the record goes (no intermediate buffer); its
    /// length, [`header_len`](Self::header_len).
    fn write_header(&self, out: &mut [u8], epoch: u64, seq: u64, length: u16) -> Result<usize, Error> {
        let cid = self.cid.unwrap_or_default();
        if cid.len() > MAX_CID_LEN {
            return Err(Error::Internal("connection id longer than 255 bytes"));
        }
        let Some(out) = out.get_mut(..self.header_len()) else {
            return Err(Error::Internal("DTLS 1.3 header larger than its buffer"));
        };
        let mut first = UNIFIED_FIXED | (epoch as u8 & EPOCH_BITS);
        if self.cid.is_some() {
            first |= C_BIT;
        }
        out[1..1 + cid.len()].copy_from_slice(cid);
        let mut at = 1 + cid.len();
        match self.seq_len {
            SeqLen::Bits8 => {
                out[at] = seq as u8;
                at += 1;
            }
            SeqLen::Bits16 => {
                first |= S_BIT;
                out[at..at + 2].copy_from_slice(&(seq as u16).to_be_bytes());
                at += 2;
            }
        }
        if self.with_length {
            first |= L_BIT;
            out[at..at + 2].copy_from_slice(&length.to_be_bytes());
        }
        out[0] = first;
        Ok(out.len())
    }

    /// Bytes the header takes on the wire.
    pub fn header_len(&self) -> usize {
        1 + self.cid.map_or(0, <[u8]>::len) + self.seq_len.bytes() + if self.with_length { 2 } else { 0 }
    }
}

/// A `DTLSCiphertext` record as received: the header bytes exactly as sent (sequence number
/// still encrypted) and the encrypted record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProtectedRecord<'a> {
    header: &'a [u8],
    cid: Option<&'a [u8]>,
    seq_len: SeqLen,
    ciphertext: &'a [u8],
}

impl<'a> ProtectedRecord<'a> {
    /// The two low bits of the epoch (RFC 9147 4).
    pub fn epoch_bits(&self) -> u8 {
        self.header[0] & EPOCH_BITS
    }

    /// The connection id from the header, if the `C` bit was set.
    pub fn cid(&self) -> Option<&'a [u8]> {
        self.cid
    }

    /// Width of the record's sequence number (the `S` bit).
    pub fn seq_len(&self) -> SeqLen {
        self.seq_len
    }

    /// True if the header carried a length (`L` bit); without one the record ran to the
    /// end of the datagram.
    pub fn has_length(&self) -> bool {
        self.header[0] & L_BIT != 0
    }

    /// The header as it was on the wire.
    pub fn header_bytes(&self) -> &'a [u8] {
        self.header
    }

    /// The encrypted record: the sealed DTLSInnerPlaintext and the tag.
    pub fn ciphertext(&self) -> &'a [u8] {
        self.ciphertext
    }

    fn seq_offset(&self) -> usize {
        1 + self.cid.map_or(0, <[u8]>::len)
    }

    /// Where its header ends and its sequence number lies: all a receiver that opens the
    /// record where it lies (and so can keep no borrow of it) needs of this view.
    #[inline]
    pub(crate) fn layout(&self) -> HeaderLayout {
        HeaderLayout {
            header_len: self.header.len(),
            seq_offset: self.seq_offset(),
            seq_len: self.seq_len,
        }
    }

    /// The sequence number bits as they are on the wire (encrypted).
    pub fn masked_seq(&self) -> u16 {
        let o = self.seq_offset();
        match self.seq_len {
            SeqLen::Bits8 => u16::from(self.header[o]),
            SeqLen::Bits16 => u16::from_be_bytes([self.header[o], self.header[o + 1]]),
        }
    }
}

/// The shape of a `DTLSCiphertext` header, from [`ProtectedRecord::layout`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct HeaderLayout {
    header_len: usize,
    seq_offset: usize,
    seq_len: SeqLen,
}

impl HeaderLayout {
    /// Bytes of the header: the record's content starts there once opened in place.
    pub(crate) fn header_len(&self) -> usize {
        self.header_len
    }

    /// Writes the decrypted sequence number `seq` over the encrypted one in `header` (the
    /// record's header bytes): RFC 9147 4 authenticates the header in that form.
    #[inline]
    fn write_seq(&self, header: &mut [u8], seq: u64) -> Result<(), Error> {
        let o = self.seq_offset;
        let Some(field) = header.get_mut(o..o + self.seq_len.bytes()) else {
            return Err(Error::DecryptFailed);
        };
        match self.seq_len {
            SeqLen::Bits8 => field[0] = seq as u8,
            SeqLen::Bits16 => field.copy_from_slice(&(seq as u16).to_be_bytes()),
        }
        Ok(())
    }
}

/// Headers up to this long (a connection id of up to 27 bytes) are copied into a stack
/// buffer of this size to serve as AAD; only longer ones take a [`MAX_UNIFIED_HEADER_LEN`]
/// buffer, whose zeroing would otherwise cost every record.
const SHORT_HEADER_LEN: usize = 32;

/// One record of a datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DatagramRecord<'a> {
    /// A DTLS 1.2 record or a DTLS 1.3 `DTLSPlaintext`: header and fragment.
    Plaintext {
        /// The 13-byte header.
        header: PlaintextHeader,
        /// The `length` bytes after it (protected when a DTLS 1.2 epoch is above 0).
        fragment: &'a [u8],
    },
    /// A DTLS 1.3 `DTLSCiphertext` (unified header).
    Ciphertext(ProtectedRecord<'a>),
    /// A DTLS 1.2 `tls12_cid` record (RFC 9146 4), read only when we hand out connection ids.
    Cid12 {
        /// The header, `content_type` [`ContentType::Tls12Cid`], `length` that of the
        /// fragment.
        header: PlaintextHeader,
        /// The connection id (the length we hand out).
        cid: &'a [u8],
        /// The protected fragment: explicit nonce, sealed DTLSInnerPlaintext, tag.
        fragment: &'a [u8],
    },
}

impl DatagramRecord<'_> {
    /// Bytes the record takes in its datagram, header included.
    pub fn wire_len(&self) -> usize {
        match self {
            DatagramRecord::Plaintext { fragment, .. } => PLAINTEXT_HEADER_LEN + fragment.len(),
            DatagramRecord::Ciphertext(rec) => rec.header.len() + rec.ciphertext.len(),
            DatagramRecord::Cid12 { cid, fragment, .. } => PLAINTEXT_HEADER_LEN + cid.len() + fragment.len(),
        }
    }
}

/// Iterator over the records of one datagram; see [`records`].
#[derive(Clone, Debug)]
pub struct DatagramRecords<'a> {
    rest: &'a [u8],
    cid_len: usize,
}

/// Splits a datagram into records (RFC 6347 4.1.1: several records per datagram, none
/// spanning two). `cid_len` is the length of the connection id we asked the peer to use
/// (0 if none). A first byte `001xxxxx` starts a unified header; anything else is read as a
/// 13-byte `DTLSPlaintext` header (RFC 9147 4.1); with a `cid_len`, a first byte
/// `tls12_cid` starts a DTLS 1.2 record carrying a connection id (RFC 9146 4). A record that does not parse ends the
/// iteration with an error: the caller drops the rest of the datagram silently (RFC 9147
/// 4.5.2, RFC 6347 4.1.2.7).
pub fn records(datagram: &[u8], cid_len: usize) -> DatagramRecords<'_> {
    DatagramRecords {
        rest: datagram,
        cid_len,
    }
}

impl<'a> DatagramRecords<'a> {
    fn next_record(&mut self) -> Result<DatagramRecord<'a>, DecodeError> {
        let all = self.rest;
        let mut r = Reader::new(all);
        let first = r.u8("DTLS record first byte")?;
        if first == ContentType::Tls12Cid.get() && self.cid_len > 0 {
            let mut r = Reader::new(all);
            let content_type = ContentType::from(r.u8("DTLS record type")?);
            let version = ProtocolVersion::from(r.u16("DTLS record version")?);
            let epoch = r.u16("DTLS record epoch")?;
            let seq = r.u48("DTLS record sequence number")?;
            let cid = r.take(self.cid_len, "DTLS connection id")?;
            let length = r.u16("DTLS record length")?;
            let fragment = r.take(usize::from(length), "DTLS record fragment")?;
            self.rest = r.rest();
            let header = PlaintextHeader {
                content_type,
                version,
                epoch,
                seq,
                length,
            };
            return Ok(DatagramRecord::Cid12 {
                header,
                cid,
                fragment,
            });
        }
        if first & UNIFIED_FIXED_MASK != UNIFIED_FIXED {
            let mut r = Reader::new(all);
            let header = PlaintextHeader::decode(&mut r)?;
            let fragment = r.take(usize::from(header.length), "DTLS record fragment")?;
            self.rest = r.rest();
            return Ok(DatagramRecord::Plaintext { header, fragment });
        }
        let cid = if first & C_BIT != 0 {
            Some(r.take(self.cid_len, "DTLS connection id")?)
        } else {
            None
        };
        let seq_len = if first & S_BIT != 0 {
            SeqLen::Bits16
        } else {
            SeqLen::Bits8
        };
        r.take(seq_len.bytes(), "DTLS sequence number")?;
        let ciphertext = if first & L_BIT != 0 {
            let len = r.u16("DTLS record length")?;
            let header_len = r.used();
            let body = r.take(usize::from(len), "DTLS record body")?;
            self.rest = r.rest();
            return Ok(DatagramRecord::Ciphertext(ProtectedRecord {
                header: &all[..header_len],
                cid,
                seq_len,
                ciphertext: body,
            }));
        } else {
            // RFC 9147 4: without a length the record runs to the end of the datagram.
            r.take_rest()
        };
        let header_len = all.len() - ciphertext.len();
        self.rest = &[];
        Ok(DatagramRecord::Ciphertext(ProtectedRecord {
            header: &all[..header_len],
            cid,
            seq_len,
            ciphertext,
        }))
    }
}

impl<'a> Iterator for DatagramRecords<'a> {
    type Item = Result<DatagramRecord<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let out = self.next_record();
        if out.is_err() {
            self.rest = &[];
        }
        Some(out)
    }
}

/// The value congruent to `low` modulo `2^bits` that is closest to `expected`: the
/// reconstruction of RFC 9147 4.2.2 ("the full sequence number which is numerically closest
/// to one plus the sequence number of the highest successfully deprotected record"). A
/// number in `(expected - 2^(bits-1), expected + 2^(bits-1)]` is recovered exactly.
pub fn reconstruct(expected: u64, low: u64, bits: u32) -> u64 {
    let win = 1u128 << bits;
    let half = win / 2;
    let mask = win - 1;
    let expected = u128::from(expected);
    let candidate = (expected & !mask) | (u128::from(low) & mask);
    let out = if candidate + half <= expected && candidate + win <= u128::from(u64::MAX) {
        candidate + win
    } else if candidate > expected + half && candidate >= win {
        candidate - win
    } else {
        candidate
    };
    // `out` stays within u64: it is `candidate` (<= u64::MAX as expected is) or moved by one
    // window inside the bounds checked above.
    u64::try_from(out).unwrap_or(u64::MAX)
}

/// The epoch closest to `current` with the low two bits `bits` (RFC 9147 4.2.2).
pub fn reconstruct_epoch(current: u64, bits: u8) -> u64 {
    reconstruct(current, u64::from(bits & EPOCH_BITS), 2)
}

/// A deprotected DTLS 1.3 record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opened {
    /// Full 64-bit sequence number (mark it in the epoch's replay window).
    pub seq: u64,
    /// The real content type from DTLSInnerPlaintext.
    pub content_type: ContentType,
    /// The record's content, padding removed.
    pub plaintext: Vec<u8>,
}

/// The keys of one DTLS 1.3 epoch in one direction: the AEAD record key and the
/// record-number encryption key, both from the epoch's traffic secret (RFC 9147 4.2.3, 5.9,
/// 6.1: epoch 2 = handshake, 3 = application_traffic_secret_0, 4+ = updates).
#[derive(Debug)]
pub struct Dtls13Keys {
    epoch: u64,
    record: RecordKey,
    sn: SequenceNumberKey,
}

impl Dtls13Keys {
    /// The keys of `epoch` from its traffic secret: key and IV by HKDF-Expand-Label with the
    /// `"dtls13"` prefix (RFC 9147 5.9), and the sequence number key (RFC 9147 4.2.3).
    pub fn new(epoch: u64, aead: AeadAlg, hash: HashAlg, traffic_secret: &[u8]) -> Self {
        Dtls13Keys {
            epoch,
            record: dtls13_record_key(aead, hash, traffic_secret),
            sn: SequenceNumberKey::new(aead, hash, traffic_secret),
        }
    }

    /// The keys from a traffic secret's [`Prk`](crate::crypto::hkdf::Prk) (built with the `"dtls13"` prefix): record
    /// key and IV as in [`new`](Self::new), sn_key = HKDF-Expand-Label(secret, "sn", "",
    /// key_length) (RFC 9147 4.2.3).
    pub fn from_prk(epoch: u64, aead: AeadAlg, traffic_secret: &crate::crypto::hkdf::Prk) -> Self {
        let sn = traffic_secret.expand_label(b"sn", &[], aead.key_len());
        Dtls13Keys {
            epoch,
            record: RecordKey::tls13_prk(aead, traffic_secret),
            sn: match SequenceNumberKey::from_key(aead, sn.as_bytes()) {
                Ok(k) => k,
                Err(_) => unreachable!("sn_key length matches the algorithm"),
            },
        }
    }

    /// The epoch these keys belong to (its low two bits go in the unified header).
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Bytes a record adds to its content, at most: header, content type byte, `pad` zeros,
    /// tag; and at least the 16-byte ciphertext the record-number mask samples (a CCM_8
    /// record of under 8 content bytes is padded to it, see [`seal`](Self::seal)).
    pub fn overhead(&self, format: &HeaderFormat<'_>, pad: usize) -> usize {
        format.header_len() + (1 + pad + self.record.tag_len()).max(SN_SAMPLE_LEN)
    }

    /// Appends record `seq` carrying `content` of `content_type` (DTLSInnerPlaintext with
    /// `pad` zero bytes of padding) to `out`; see [`seal_to`](Self::seal_to). On failure
    /// `out` is as it was.
    pub fn seal(
        &self,
        out: &mut Vec<u8>,
        format: &HeaderFormat<'_>,
        seq: u64,
        content_type: ContentType,
        content: &[u8],
        pad: usize,
    ) -> Result<(), Error> {
        let room = format.header_len() + self.ciphertext_len(content.len(), pad);
        append_with(out, room, |buf| {
            let n = self.seal_to(buf, format, seq, content_type, content, pad)?;
            Ok((n, ()))
        })
    }

    /// Writes record `seq` carrying `content` of `content_type` (DTLSInnerPlaintext with
    /// `pad` zero bytes of padding) at the start of `out`, sealed where it lands (no
    /// intermediate buffer: a datagram is filled in the caller's buffer). Returns the
    /// record's length; an `out` too short for it is an error and left unspecified. RFC 9147
    /// 4: the AAD is the header with the plaintext sequence number; 4.2.3: the sequence
    /// number is then encrypted with the mask over the first 16 ciphertext bytes.
    pub fn seal_to(
        &self,
        out: &mut [u8],
        format: &HeaderFormat<'_>,
        seq: u64,
        content_type: ContentType,
        content: &[u8],
        pad: usize,
    ) -> Result<usize, Error> {
        if content.len() > MAX_PLAINTEXT_LEN {
            return Err(Error::Internal("DTLS 1.3 record content over 2^14 bytes"));
        }
        let ct_len = self.ciphertext_len(content.len(), pad);
        let inner_len = ct_len - self.record.tag_len();
        let length = u16::try_from(ct_len).map_err(|_| Error::Internal("DTLS 1.3 record over 2^16 bytes"))?;
        // `let else`, not `ok_or`: no error value is built and dropped per record.
        let Some(out) = out.get_mut(..format.header_len() + ct_len) else {
            return Err(Error::Internal("DTLS 1.3 record larger than its buffer"));
        };
        let (head, body) = out.split_at_mut(format.header_len());
        format.write_header(head, self.epoch, seq, length)?;
        body[..content.len()].copy_from_slice(content);
        body[content.len()] = content_type.get();
        if let Some(padding) = body
            .get_mut(content.len() + 1..inner_len)
            .filter(|p| !p.is_empty())
        {
            padding.fill(0);
        }
        self.record.seal_in_place_slice(seq, head, body, inner_len)?;
        let Some(sample) = sample_of(body) else {
            return Err(Error::Crypto("DTLS 1.3 ciphertext under 16 bytes"));
        };
        let mask = self.sn.mask(sample);
        let o = 1 + format.cid.map_or(0, <[u8]>::len);
        for (i, m) in mask.iter().take(format.seq_len.bytes()).enumerate() {
            head[o + i] ^= m;
        }
        Ok(out.len())
    }

    /// The ciphertext length of a record of `content_len` bytes and `pad` bytes of padding:
    /// DTLSInnerPlaintext (content, type, zeros) and the tag. RFC 9147 4.2.3: senders pad
    /// short records to the 16 ciphertext bytes the mask samples (only an 8-byte tag,
    /// CCM_8, leaves a record shorter).
    fn ciphertext_len(&self, content_len: usize, pad: usize) -> usize {
        let tag = self.record.tag_len();
        let pad = pad.max(SN_SAMPLE_LEN.saturating_sub(content_len + 1 + tag));
        content_len + 1 + pad + tag
    }

    /// Decrypts the record number and reconstructs the full sequence number closest to
    /// `next_expected` (the epoch's [`ReplayWindow::next_expected`](super::ReplayWindow::next_expected)).
    /// A ciphertext shorter than 16 bytes fails as a deprotection failure (RFC 9147 4.2.3).
    pub fn unmask_seq(&self, rec: &ProtectedRecord<'_>, next_expected: u64) -> Result<u64, Error> {
        let low = self.low_seq(rec)?;
        Ok(reconstruct(next_expected, u64::from(low), rec.seq_len.bits()))
    }

    fn low_seq(&self, rec: &ProtectedRecord<'_>) -> Result<u16, Error> {
        let Some(sample) = sample_of(rec.ciphertext) else {
            return Err(Error::DecryptFailed);
        };
        let mask = self.sn.mask(sample);
        let masked = rec.masked_seq();
        Ok(match rec.seq_len {
            SeqLen::Bits8 => masked ^ u16::from(mask[0]),
            SeqLen::Bits16 => masked ^ u16::from_be_bytes(mask),
        })
    }

    /// Deprotects record `seq` (from [`unmask_seq`](Self::unmask_seq)) and strips the
    /// DTLSInnerPlaintext padding. Any failure is [`Error::DecryptFailed`] (drop the record
    /// silently, RFC 9147 4.5.2) except an inner plaintext without content type or over 2^14
    /// bytes, which are fatal as in TLS 1.3 (RFC 8446 5.2, 5.4).
    pub fn open(&self, rec: &ProtectedRecord<'_>, seq: u64) -> Result<Opened, Error> {
        let mut plaintext = Vec::with_capacity(rec.ciphertext.len());
        let content_type = self.open_into(rec, seq, &mut plaintext)?;
        Ok(Opened {
            seq,
            content_type,
            plaintext,
        })
    }

    /// [`open`](Self::open) appending the record's content to `out` instead: the ciphertext
    /// is copied there once and deprotected in place, so a receiver opens records straight
    /// into the buffer it delivers from. Returns the content type; on failure `out` is as
    /// it was.
    pub fn open_into(
        &self,
        rec: &ProtectedRecord<'_>,
        seq: u64,
        out: &mut Vec<u8>,
    ) -> Result<ContentType, Error> {
        // AAD: the header as sent but with the sequence number decrypted (RFC 9147 4), in a
        // short buffer unless a long connection id needs the large one.
        let len = rec.header.len();
        let mut short = [0u8; SHORT_HEADER_LEN];
        let mut long;
        let aad = match short.get_mut(..len) {
            Some(aad) => aad,
            None => {
                long = [0u8; MAX_UNIFIED_HEADER_LEN];
                let Some(aad) = long.get_mut(..len) else {
                    return Err(Error::DecryptFailed);
                };
                aad
            }
        };
        aad.copy_from_slice(rec.header);
        rec.layout().write_seq(aad, seq)?;
        let start = out.len();
        out.extend_from_slice(rec.ciphertext);
        let opened = self.open_body(seq, aad, &mut out[start..]);
        keep_or_roll_back(out, start, opened.map(|(content_type, len)| (len, content_type)))
    }

    /// [`open_into`](Self::open_into) where the record lies: `record` holds its header and
    /// ciphertext (as laid out by `layout`). The decrypted sequence number is written into
    /// the header, which then serves as the AAD (RFC 9147 4), and the content is deprotected
    /// in place: it starts at `layout.header_len()`. Returns its type and length; the
    /// errors are `open_into`'s, and on failure the record's bytes are unspecified.
    pub(crate) fn open_in_place(
        &self,
        record: &mut [u8],
        layout: HeaderLayout,
        seq: u64,
    ) -> Result<(ContentType, usize), Error> {
        let Some((header, body)) = record.split_at_mut_checked(layout.header_len) else {
            return Err(Error::DecryptFailed);
        };
        layout.write_seq(header, seq)?;
        self.open_body(seq, header, body)
    }

    /// Deprotects `body` (ciphertext || tag) in place under `aad` and strips the
    /// DTLSInnerPlaintext padding: the content type and the content's length (it stays at
    /// the start of `body`). The rules of [`open`](Self::open).
    #[inline]
    fn open_body(&self, seq: u64, aad: &[u8], body: &mut [u8]) -> Result<(ContentType, usize), Error> {
        if body.len() > MAX_CIPHERTEXT_LEN_13 {
            return Err(Error::RecordOverflow);
        }
        let inner_len = self.record.open_in_place(seq, aad, body)?.len();
        let (content_type, len) = inner_content_type(&body[..inner_len])?;
        if len > MAX_PLAINTEXT_LEN {
            return Err(Error::RecordOverflow);
        }
        Ok((content_type, len))
    }
}

/// Appends to `out` the record `write` puts at the start of `room` zeroed bytes: `write`
/// returns how many it used and its result. On failure `out` is as it was. (How the
/// sealers that write into a caller's datagram buffer also fill a `Vec`.)
pub(crate) fn append_with<T>(
    out: &mut Vec<u8>,
    room: usize,
    write: impl FnOnce(&mut [u8]) -> Result<(usize, T), Error>,
) -> Result<T, Error> {
    let start = out.len();
    out.resize(start + room, 0);
    let written = write(&mut out[start..]);
    keep_or_roll_back(out, start, written)
}

/// After writing at `out[start..]`: keeps the `n` bytes written on success, returning the
/// value; on failure cuts `out` back to `start`.
fn keep_or_roll_back<T>(
    out: &mut Vec<u8>,
    start: usize,
    written: Result<(usize, T), Error>,
) -> Result<T, Error> {
    match written {
        Ok((n, value)) => {
            out.truncate(start + n);
            Ok(value)
        }
        Err(e) => {
            out.truncate(start);
            Err(e)
        }
    }
}

fn sample_of(ciphertext: &[u8]) -> Option<&[u8; SN_SAMPLE_LEN]> {
    ciphertext.get(..SN_SAMPLE_LEN).and_then(|s| s.try_into().ok())
}

/// DTLSInnerPlaintext: `content || type || zeros`; the type is the last non-zero byte
/// (RFC 8446 5.2 via RFC 9147 4; the same form in a DTLS 1.2 `tls12_cid` record, RFC 9146
/// 4). Returns the type and the content length.
pub(crate) fn inner_content_type(inner: &[u8]) -> Result<(ContentType, usize), Error> {
    match inner.iter().rposition(|b| *b != 0) {
        Some(i) => Ok((ContentType::from(inner[i]), i)),
        None => Err(PeerMisbehaved::NoContentType.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn keys(epoch: u64, aead: AeadAlg) -> Dtls13Keys {
        Dtls13Keys::new(epoch, aead, HashAlg::Sha256, &[epoch as u8; 32])
    }

    #[test]
    fn plaintext_header_round_trip_and_aad() {
        let h = PlaintextHeader {
            content_type: ContentType::Handshake,
            version: ProtocolVersion::DTLSv1_2,
            epoch: 1,
            seq: 0x0102_0304_0506,
            length: 0x0708,
        };
        let mut out = vec![];
        h.encode(&mut out);
        assert_eq!(out, hex::decode("16fefd00010102030405060708").unwrap());
        let mut r = Reader::new(&out);
        assert_eq!(PlaintextHeader::decode(&mut r), Ok(h));
        assert!(r.is_empty());
        assert_eq!(h.record_seq(), 0x0001_0102_0304_0506);
        assert_eq!(
            h.dtls12_aad(5).to_vec(),
            hex::decode("0001010203040506" /* epoch||seq */)
                .unwrap()
                .into_iter()
                .chain([22, 0xfe, 0xfd, 0, 5])
                .collect::<Vec<_>>()
        );
        assert!(PlaintextHeader::decode(&mut Reader::new(&out[..12])).is_err());
    }

    #[test]
    fn cid12_header_aad_and_routing() {
        let h = PlaintextHeader {
            content_type: ContentType::Tls12Cid,
            version: ProtocolVersion::DTLSv1_2,
            epoch: 1,
            seq: 0x0102_0304_0506,
            length: 3,
        };
        let mut rec = vec![];
        h.encode_with_cid(&[0xaa, 0xbb], &mut rec);
        rec.extend_from_slice(b"xyz");
        assert_eq!(rec, hex::decode("19fefd0001010203040506aabb000378797a").unwrap());
        // RFC 9146 5: 8 x ff, tls12_cid, cid_length, tls12_cid, version, epoch, seq, cid,
        // length_of_DTLSInnerPlaintext.
        assert_eq!(
            h.cid12_aad(&[0xaa, 0xbb], 0x0010),
            hex::decode("ffffffffffffffff" /* placeholder */)
                .unwrap()
                .into_iter()
                .chain(hex::decode("190219fefd0001010203040506aabb0010").unwrap())
                .collect::<Vec<_>>()
        );
        let Some(Ok(DatagramRecord::Cid12 {
            header,
            cid,
            fragment,
        })) = records(&rec, 2).next()
        else {
            panic!("a tls12_cid record");
        };
        assert_eq!((header, cid, fragment), (h, &[0xaa, 0xbb][..], &b"xyz"[..]));
        // Without a connection id length it is read as a 13-byte header (here: a length
        // running past the datagram), never as a tls12_cid record.
        assert!(!matches!(
            records(&rec, 0).next(),
            Some(Ok(DatagramRecord::Cid12 { .. }))
        ));
        assert_eq!(connection_id(&rec, 2), Some(&[0xaa, 0xbb][..]));
        assert_eq!(connection_id(&rec[..14], 2), None);
        assert_eq!(connection_id(&rec, 0), None);
        // DTLS 1.3: the C bit names the id; without it there is none.
        assert_eq!(connection_id(&[0x3c, 7, 8, 9, 0], 2), Some(&[7, 8][..]));
        assert_eq!(connection_id(&[0x2c, 7, 8, 9, 0], 2), None);
        assert_eq!(connection_id(&[0x16, 0xfe, 0xfd], 2), None);
    }

    #[test]
    fn unified_header_bits() {
        let f = HeaderFormat {
            cid: Some(&[0xaa, 0xbb]),
            seq_len: SeqLen::Bits8,
            with_length: false,
        };
        let mut h = [0xffu8; 8];
        assert_eq!(f.write_header(&mut h, 6, 0x1234, 99).unwrap(), 4);
        // 001 C=1 S=0 L=0 EE=10; nothing written past the header.
        assert_eq!(h, [0b0011_0010, 0xaa, 0xbb, 0x34, 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(f.header_len(), 4);
        let f = HeaderFormat::default();
        assert_eq!(f.write_header(&mut h, 3, 0x1234, 0x0102).unwrap(), 5);
        assert_eq!(h[..5], [0b0010_1111, 0x12, 0x34, 0x01, 0x02]);
        assert_eq!(f.header_len(), 5);
        // A buffer too short for the header, an id too long for one.
        assert!(f.write_header(&mut h[..4], 3, 0, 0).is_err());
        let long = [0u8; 256];
        let f = HeaderFormat {
            cid: Some(&long),
            ..HeaderFormat::default()
        };
        assert!(f.write_header(&mut [0u8; 300], 3, 0, 0).is_err());
    }

    #[test]
    fn reconstruct_examples() {
        // RFC 9147 4.2.2 asks for the closest value; the classic examples:
        assert_eq!(reconstruct(0, 0, 8), 0);
        assert_eq!(reconstruct(0x100, 0xff, 8), 0xff);
        assert_eq!(reconstruct(0x1ff, 0x01, 8), 0x201);
        assert_eq!(reconstruct(0xa82f30ea, 0x9b32, 16), 0xa82f9b32);
        assert_eq!(reconstruct(5, 0xfe, 8), 0xfe); // nothing below zero
        assert_eq!(reconstruct(u64::MAX, 0, 8), u64::MAX - 0xff); // nothing above u64::MAX
        assert_eq!(reconstruct_epoch(3, 3), 3);
        assert_eq!(reconstruct_epoch(3, 0), 4);
        assert_eq!(reconstruct_epoch(4, 3), 3);
        assert_eq!(reconstruct_epoch(2, 2), 2);
    }

    proptest! {
        #[test]
        fn reconstruct_recovers_numbers_within_half_a_window(expected in any::<u64>(), delta in -127i64..=128, wide in any::<bool>(), d16 in -32767i64..=32768) {
            let (bits, delta) = if wide { (16, d16) } else { (8, delta) };
            let actual = i128::from(expected) + i128::from(delta);
            prop_assume!(actual >= 0 && actual <= i128::from(u64::MAX));
            let actual = actual as u64;
            let low = actual & ((1 << bits) - 1);
            prop_assert_eq!(reconstruct(expected, low, bits), actual);
        }

        #[test]
        fn seal_then_open_any_format(content in proptest::collection::vec(any::<u8>(), 0..200),
                                     seq in 0u64..1_000_000, lag in 0u64..100, pad in 0usize..20,
                                     s16 in any::<bool>(), with_length in any::<bool>(), cid in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..=MAX_CID_LEN)),
                                     alg in prop_oneof![Just(AeadAlg::Aes128Gcm), Just(AeadAlg::Aes256Gcm), Just(AeadAlg::ChaCha20Poly1305)]) {
            let k = keys(3, alg);
            let format = HeaderFormat { cid: cid.as_deref(), seq_len: if s16 { SeqLen::Bits16 } else { SeqLen::Bits8 }, with_length };
            let mut dg = vec![];
            k.seal(&mut dg, &format, seq, ContentType::ApplicationData, &content, pad).unwrap();
            prop_assert_eq!(dg.len(), k.overhead(&format, pad) + content.len());
            let mut it = records(&dg, cid.as_ref().map_or(0, Vec::len));
            let Some(Ok(DatagramRecord::Ciphertext(rec))) = it.next() else { panic!("one ciphertext record") };
            prop_assert!(it.next().is_none());
            prop_assert_eq!(rec.epoch_bits(), 3);
            prop_assert_eq!(rec.cid(), cid.as_deref());
            // The receiver expects a number at most `lag` behind or ahead of the real one.
            let expected = seq.saturating_sub(lag);
            let window = if s16 { 1u64 << 15 } else { 1 << 7 };
            let got = k.unmask_seq(&rec, expected).unwrap();
            if seq - expected < window {
                prop_assert_eq!(got, seq);
                let opened = k.open(&rec, got).unwrap();
                prop_assert_eq!(opened.content_type, ContentType::ApplicationData);
                prop_assert_eq!(&opened.plaintext, &content);
                // Opened where it lies: the same content after the header, which now
                // carries the decrypted sequence number (the AAD).
                let layout = rec.layout();
                let mut in_place = dg.clone();
                let (typ, len) = k.open_in_place(&mut in_place, layout, got).unwrap();
                prop_assert_eq!(typ, ContentType::ApplicationData);
                let start = layout.header_len();
                prop_assert_eq!(&in_place[start..start + len], &content[..]);
                let o = 1 + cid.as_ref().map_or(0, Vec::len);
                let low = if s16 { (seq as u16).to_be_bytes().to_vec() } else { vec![seq as u8] };
                prop_assert_eq!(&in_place[o..o + low.len()], &low[..]);
            }
        }
    }

    #[test]
    fn seal_to_writes_the_record_seal_appends_and_open_into_appends_its_content() {
        let k = keys(3, AeadAlg::Aes128Gcm);
        let format = HeaderFormat {
            cid: Some(&[7, 7]),
            ..HeaderFormat::default()
        };
        let mut appended = b"earlier".to_vec();
        k.seal(
            &mut appended,
            &format,
            9,
            ContentType::ApplicationData,
            b"hello",
            3,
        )
        .unwrap();
        // The same bytes written into a larger buffer, its tail untouched.
        let mut buf = [0xeeu8; 64];
        let n = k
            .seal_to(&mut buf, &format, 9, ContentType::ApplicationData, b"hello", 3)
            .unwrap();
        assert_eq!(&buf[..n], &appended[7..]);
        assert!(buf[n..].iter().all(|b| *b == 0xee));
        // A buffer one byte short is an error, not a partial record.
        assert!(k
            .seal_to(
                &mut buf[..n - 1],
                &format,
                9,
                ContentType::ApplicationData,
                b"hello",
                3
            )
            .is_err());

        let Some(Ok(DatagramRecord::Ciphertext(rec))) = records(&buf[..n], 2).next() else {
            panic!("one ciphertext record");
        };
        let seq = k.unmask_seq(&rec, 9).unwrap();
        let mut out = b"unread".to_vec();
        assert_eq!(k.open_into(&rec, seq, &mut out), Ok(ContentType::ApplicationData));
        assert_eq!(out, b"unreadhello");
        // A wrong sequence number fails and leaves what was there as it was.
        assert_eq!(k.open_into(&rec, seq + 1, &mut out), Err(Error::DecryptFailed));
        assert_eq!(out, b"unreadhello");
    }

    #[test]
    fn plaintext_header_write_to_matches_encode() {
        let h = PlaintextHeader {
            content_type: ContentType::Tls12Cid,
            version: ProtocolVersion::DTLSv1_2,
            epoch: 1,
            seq: 0x0102_0304_0506,
            length: 0x0708,
        };
        for cid in [&[][..], &[0xaa, 0xbb][..]] {
            let mut want = vec![];
            h.encode_with_cid(cid, &mut want);
            let mut buf = [0u8; 20];
            assert_eq!(h.write_to(cid, &mut buf), Some(want.len()));
            assert_eq!(&buf[..want.len()], &want[..]);
            assert_eq!(h.write_to(cid, &mut buf[..want.len() - 1]), None);
        }
    }

    #[test]
    fn several_records_per_datagram() {
        let k = keys(2, AeadAlg::Aes128Gcm);
        let mut dg = vec![];
        // A DTLSPlaintext first, then two ciphertexts, the last without a length.
        PlaintextHeader {
            content_type: ContentType::Handshake,
            version: ProtocolVersion::DTLSv1_2,
            epoch: 0,
            seq: 1,
            length: 3,
        }
        .encode(&mut dg);
        dg.extend_from_slice(b"abc");
        k.seal(
            &mut dg,
            &HeaderFormat::default(),
            0,
            ContentType::Handshake,
            b"one",
            0,
        )
        .unwrap();
        let last = HeaderFormat {
            with_length: false,
            seq_len: SeqLen::Bits8,
            ..HeaderFormat::default()
        };
        k.seal(&mut dg, &last, 1, ContentType::Ack, b"two", 4).unwrap();
        let recs: Vec<_> = records(&dg, 0).collect::<Result<_, _>>().unwrap();
        assert_eq!(recs.len(), 3);
        let DatagramRecord::Plaintext { header, fragment } = recs[0] else {
            panic!()
        };
        assert_eq!((header.seq, fragment), (1, &b"abc"[..]));
        let wants = [(ContentType::Handshake, b"one"), (ContentType::Ack, b"two")];
        for (next, (rec, (want_type, want))) in (0u64..).zip(recs[1..].iter().zip(wants)) {
            let DatagramRecord::Ciphertext(rec) = rec else {
                panic!()
            };
            let seq = k.unmask_seq(rec, next).unwrap();
            let o = k.open(rec, seq).unwrap();
            assert_eq!(
                (o.seq, o.content_type, &o.plaintext[..]),
                (next, want_type, &want[..])
            );
        }
    }

    #[test]
    fn truncated_datagram_yields_one_error_then_stops() {
        let k = keys(2, AeadAlg::Aes128Gcm);
        let mut dg = vec![];
        k.seal(
            &mut dg,
            &HeaderFormat::default(),
            0,
            ContentType::Handshake,
            b"x",
            0,
        )
        .unwrap();
        let good = dg.len();
        k.seal(
            &mut dg,
            &HeaderFormat::default(),
            1,
            ContentType::Handshake,
            b"y",
            0,
        )
        .unwrap();
        dg.truncate(dg.len() - 1);
        let mut it = records(&dg, 0);
        assert!(matches!(it.next(), Some(Ok(_))));
        assert!(matches!(it.next(), Some(Err(DecodeError::Truncated(_)))));
        assert!(it.next().is_none());
        // A C bit with a connection id longer than the datagram.
        assert!(matches!(records(&[0x3c, 1], 4).next(), Some(Err(_))));
        assert!(records(&[], 0).next().is_none());
        assert!(good < dg.len());
    }

    #[test]
    fn tampered_header_or_seq_fails_to_open() {
        let k = keys(3, AeadAlg::ChaCha20Poly1305);
        let mut dg = vec![];
        k.seal(
            &mut dg,
            &HeaderFormat::default(),
            77,
            ContentType::ApplicationData,
            b"data",
            0,
        )
        .unwrap();
        for i in 0..dg.len() {
            let mut bad = dg.clone();
            bad[i] ^= 0x01;
            let Some(Ok(DatagramRecord::Ciphertext(rec))) = records(&bad, 0).next() else {
                continue;
            };
            let opened = k.unmask_seq(&rec, 77).and_then(|s| k.open(&rec, s));
            assert_eq!(opened, Err(Error::DecryptFailed), "byte {i}");
        }
        // The wrong epoch's keys fail too.
        let Some(Ok(DatagramRecord::Ciphertext(rec))) = records(&dg, 0).next() else {
            panic!()
        };
        let other = keys(4, AeadAlg::ChaCha20Poly1305);
        assert!(other
            .unmask_seq(&rec, 77)
            .and_then(|s| other.open(&rec, s))
            .is_err());
    }

    #[test]
    fn short_ciphertext_fails_like_deprotection() {
        // RFC 9147 4.2.3: fewer than 16 ciphertext bytes are rejected as failing deprotection.
        let dg = [0b0010_1110, 0, 0, 0, 15]
            .iter()
            .copied()
            .chain([0u8; 15])
            .collect::<Vec<_>>();
        let Some(Ok(DatagramRecord::Ciphertext(rec))) = records(&dg, 0).next() else {
            panic!()
        };
        assert_eq!(
            keys(2, AeadAlg::Aes128Gcm).unmask_seq(&rec, 0),
            Err(Error::DecryptFailed)
        );
    }

    #[test]
    fn all_zero_inner_plaintext_has_no_content_type() {
        assert_eq!(
            inner_content_type(&[0, 0]),
            Err(PeerMisbehaved::NoContentType.into())
        );
        assert_eq!(
            inner_content_type(&[1, 2, 23, 0, 0]),
            Ok((ContentType::ApplicationData, 2))
        );
    }
}
