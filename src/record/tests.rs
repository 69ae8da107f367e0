//! Record protection rules (RFC 8446 5.2-5.4) checked on hand-built records.

use super::*;
use crate::codec::ContentType;
use crate::crypto::aead::RecordKey;
use crate::crypto::hash::HashAlg;
use crate::crypto::suites::AeadAlg;
use crate::error::{Error, PeerMisbehaved};

const SECRET: [u8; 32] = [7; 32];

fn key() -> RecordKey {
    RecordKey::tls13(AeadAlg::Aes128Gcm, HashAlg::Sha256, &SECRET)
}

/// Seals `inner` (TLSInnerPlaintext as given, padding included) as record `seq`.
fn sealed(inner: &[u8], seq: u64) -> Vec<u8> {
    let len = (inner.len() + TAG_LEN) as u16;
    let header = [23, 3, 3, (len >> 8) as u8, len as u8];
    let mut payload = inner.to_vec();
    key().seal_in_place(seq, &header, &mut payload).unwrap();
    let mut record = header.to_vec();
    record.extend_from_slice(&payload);
    record
}

/// Opens one whole record with `read`: (type, plaintext, protected).
fn open(read: &mut ReadState, record: &[u8]) -> Result<(ContentType, Vec<u8>, bool), Error> {
    let header = RecordHeader::parse(record)?.expect("whole header");
    let mut payload = record[HEADER_LEN..].to_vec();
    let opened = read.open_in_place(&header, &mut payload)?;
    Ok((opened.typ, payload[opened.range].to_vec(), opened.protected))
}

#[test]
fn padding_is_stripped_and_the_type_found() {
    let mut read = ReadState::protected(key(), RecordVersion::Tls13);
    let mut inner = b"hello".to_vec();
    inner.push(ContentType::Handshake.get());
    inner.extend_from_slice(&[0; 100]);
    let (typ, data, protected) = open(&mut read, &sealed(&inner, 0)).unwrap();
    assert_eq!(typ, ContentType::Handshake);
    assert_eq!(data, b"hello");
    assert!(protected);
}

#[test]
fn all_zero_inner_plaintext_has_no_content_type() {
    let mut read = ReadState::protected(key(), RecordVersion::Tls13);
    let err = open(&mut read, &sealed(&[0; 20], 0)).unwrap_err();
    assert_eq!(err, Error::PeerMisbehaved(PeerMisbehaved::NoContentType));
    assert_eq!(
        err.alert(),
        Some(crate::codec::AlertDescription::UnexpectedMessage)
    );
}

#[test]
fn padding_may_reach_the_limit_but_content_may_not_pass_it() {
    let mut read = ReadState::protected(key(), RecordVersion::Tls13);
    // 2^14 content + type: the largest legal TLSInnerPlaintext without padding.
    let mut inner = vec![1u8; MAX_PLAINTEXT];
    inner.push(23);
    assert_eq!(
        open(&mut read, &sealed(&inner, 0)).unwrap().1.len(),
        MAX_PLAINTEXT
    );
    // One more byte of content (2^14 + 2 inner bytes) overflows.
    let mut inner = vec![1u8; MAX_PLAINTEXT + 1];
    inner.push(23);
    assert_eq!(
        open(&mut read, &sealed(&inner, 1)).unwrap_err(),
        Error::RecordOverflow
    );
}

#[test]
fn records_must_arrive_in_sequence() {
    let mut read = ReadState::protected(key(), RecordVersion::Tls13);
    let inner = [b'x', 23];
    assert_eq!(
        open(&mut read, &sealed(&inner, 1)).unwrap_err(),
        Error::DecryptFailed
    );
}

#[test]
fn write_and_read_states_agree_on_the_nonce_sequence() {
    let mut write = WriteState::protected(key(), RecordVersion::Tls13, MAX_PLAINTEXT);
    let mut read = ReadState::protected(key(), RecordVersion::Tls13);
    let mut wire = Vec::new();
    for i in 0..3u8 {
        write
            .write_record(ContentType::ApplicationData, &[i; 10], &mut wire)
            .unwrap();
    }
    let mut d = Deframer::default();
    d.push(&wire);
    for i in 0..3u8 {
        let (header, payload) = d.pop().unwrap().unwrap();
        let opened = read.open_in_place(&header, payload).unwrap();
        assert_eq!(payload[opened.range], [i; 10]);
    }
}
