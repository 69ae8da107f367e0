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
fn sealed(inner: &[u8], seq: u64) -> RawRecord {
    let len = (inner.len() + TAG_LEN) as u16;
    let header = [23, 3, 3, (len >> 8) as u8, len as u8];
    let mut payload = inner.to_vec();
    key().seal_in_place(seq, &header, &mut payload).unwrap();
    RawRecord {
        typ: ContentType::ApplicationData,
        version: 0x0303,
        header,
        payload,
    }
}

#[test]
fn padding_is_stripped_and_the_type_found() {
    let mut read = ReadState::protected(key(), RecordVersion::Tls13);
    let mut inner = b"hello".to_vec();
    inner.push(ContentType::Handshake.get());
    inner.extend_from_slice(&[0; 100]);
    let plain = read.read_record(sealed(&inner, 0)).unwrap();
    assert_eq!(plain.typ, ContentType::Handshake);
    assert_eq!(plain.data, b"hello");
    assert!(plain.protected);
}

#[test]
fn all_zero_inner_plaintext_has_no_content_type() {
    let mut read = ReadState::protected(key(), RecordVersion::Tls13);
    let err = read.read_record(sealed(&[0; 20], 0)).unwrap_err();
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
        read.read_record(sealed(&inner, 0)).unwrap().data.len(),
        MAX_PLAINTEXT
    );
    // One more byte of content (2^14 + 2 inner bytes) overflows.
    let mut inner = vec![1u8; MAX_PLAINTEXT + 1];
    inner.push(23);
    assert_eq!(
        read.read_record(sealed(&inner, 1)).unwrap_err(),
        Error::RecordOverflow
    );
}

#[test]
fn records_must_arrive_in_sequence() {
    let mut read = ReadState::protected(key(), RecordVersion::Tls13);
    let inner = [b'x', 23];
    assert_eq!(
        read.read_record(sealed(&inner, 1)).unwrap_err(),
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
        let plain = read.read_record(d.pop().unwrap().unwrap()).unwrap();
        assert_eq!(plain.data, [i; 10]);
    }
}
