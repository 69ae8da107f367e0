//! Message codec tests: proptest round-trips, one test per decoding rule, captured vectors.

mod roundtrip;
mod rules;
mod tls12;
mod vectors;

use super::*;
use crate::codec::{AlertDescription, HandshakeType};
use crate::Error;

/// Decodes a full message (4-byte header) as the handshake layer would.
pub(super) fn decode_msg(msg: &[u8], dialect: Dialect) -> Result<HandshakePayload, Error> {
    let typ = HandshakeType::from(*msg.first().expect("test message has a header"));
    HandshakePayload::decode(typ, &msg[4..], dialect)
}

/// Asserts an error and the alert it sends.
#[track_caller]
pub(super) fn assert_err<T: core::fmt::Debug>(got: Result<T, Error>, want: Error, alert: AlertDescription) {
    let err = got.expect_err("decode should fail");
    assert_eq!(err, want);
    assert_eq!(err.alert(), Some(alert));
}

/// Asserts a decode_error of any kind.
#[track_caller]
pub(super) fn assert_decode_err<T: core::fmt::Debug>(got: Result<T, Error>) {
    let err = got.expect_err("decode should fail");
    assert!(
        matches!(err, Error::Decode(_)),
        "expected decode error, got {err:?}"
    );
    assert_eq!(err.alert(), Some(AlertDescription::DecodeError));
}
