//! Alert messages (RFC 8446 6).

use crate::codec::{AlertDescription, AlertLevel, Codec, DecodeError, Reader};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AlertMessage {
    pub level: AlertLevel,
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
