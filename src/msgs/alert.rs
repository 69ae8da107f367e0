//! Alert messages (RFC 8446 6).

use crate::codec::{AlertDescription, AlertLevel, Codec, DecodeError, Reader};

/// An alert record's body: level and description (RFC 8446 6, RFC 5246 7.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AlertMessage {
    /// `warning` or `fatal`. TLS 1.3 receivers may ignore it: there every alert but
    /// close_notify and user_canceled is fatal (RFC 8446 6).
    pub level: AlertLevel,
    /// What the alert reports.
    pub description: AlertDescription,
}

impl Codec for AlertMessage {
    fn encode(&self, out: &mut Vec<u8>) {
        self.level.encode(out);
        self.description.encode(out);
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(AlertMessage {
            level: AlertLevel::decode(r)?,
            description: AlertDescription::decode(r)?,
        })
    }
}
