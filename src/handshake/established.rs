//! After the handshake: KeyUpdate both ways (RFC 8446 4.6.3) and NewSessionTicket receipt.

use super::{read_state13, unexpected, write_state13, Msg};
use crate::codec::KeyUpdateRequest;
use crate::conn::common::{Common, Side};
use crate::conn::Event;
use crate::crypto::key_schedule::next_traffic_secret;
use crate::crypto::secret::Secret;
use crate::crypto::suites::Tls13Suite;
use crate::error::{Error, Limit};
use crate::msgs::HandshakePayload;

/// KeyUpdates the peer may send without application data in between before we call it a flood.
pub const MAX_KEY_UPDATES_IN_A_ROW: u32 = 32;
/// NewSessionTickets accepted per connection (RFC 8446 4.6.1 puts no bound; we do).
pub const MAX_TICKETS: u32 = 64;

pub(crate) struct Established13 {
    pub suite: &'static Tls13Suite,
    pub side: Side,
    /// Our current application traffic secret (write direction).
    pub ours: Secret,
    /// The peer's current application traffic secret (read direction).
    pub theirs: Secret,
    pub key_updates_in_a_row: u32,
    pub tickets: u32,
}

impl Established13 {
    pub fn handle(mut self, cx: &mut Common, msg: Msg) -> Result<Self, Error> {
        match msg.payload {
            HandshakePayload::KeyUpdate(request) => {
                self.key_updates_in_a_row += 1;
                if self.key_updates_in_a_row > MAX_KEY_UPDATES_IN_A_ROW {
                    return Err(Error::LimitExceeded(Limit::KeyUpdates));
                }
                self.theirs = next_traffic_secret(self.suite.hash, self.theirs.as_bytes());
                cx.install_read(read_state13(self.suite, &self.theirs));
                cx.events.push_back(Event::KeyUpdated { ours: false });
                // RFC 8446 4.6.3: answer update_requested with our own update_not_requested.
                if request == KeyUpdateRequest::UpdateRequested {
                    self.update_ours(cx, false);
                }
                Ok(self)
            }
            HandshakePayload::NewSessionTicket13(_) if self.side == Side::Client => {
                self.tickets += 1;
                if self.tickets > MAX_TICKETS {
                    return Err(Error::LimitExceeded(Limit::NewSessionTickets));
                }
                cx.events.push_back(Event::SessionTicket);
                Ok(self)
            }
            _ => Err(unexpected("established", &msg)),
        }
    }

    /// Sends KeyUpdate and switches our write keys behind it (RFC 8446 4.6.3).
    pub fn update_ours(&mut self, cx: &mut Common, request_peer: bool) {
        let request = if request_peer {
            KeyUpdateRequest::UpdateRequested
        } else {
            KeyUpdateRequest::UpdateNotRequested
        };
        cx.send_handshake(&HandshakePayload::KeyUpdate(request), None);
        self.ours = next_traffic_secret(self.suite.hash, self.ours.as_bytes());
        cx.install_write(write_state13(self.suite, &self.ours, cx.max_fragment));
        cx.events.push_back(Event::KeyUpdated { ours: true });
    }

    /// Application data arrived: the KeyUpdate flood counter starts again.
    pub fn data_received(&mut self) {
        self.key_updates_in_a_row = 0;
    }
}
