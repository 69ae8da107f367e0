//! After the handshake: KeyUpdate both ways (RFC 8446 4.6.3) and NewSessionTicket receipt.

use crate::error::Parameter;
use std::sync::Arc;

use super::output::{KeyLevel, Output, Side};
use super::{unexpected, Msg};
use crate::codec::{HandshakeType, KeyUpdateRequest};
use crate::crypto::key_schedule::{next_traffic_secret_prefixed, resumption_psk_prefixed};
use crate::crypto::secret::Secret;
use crate::crypto::suites::Tls13Suite;
use crate::error::{Error, Limit, PeerMisbehaved};
use crate::event::Event;
use crate::msgs::HandshakePayload;
use crate::session::tickets::{ClientSessionStore, ClientTicket, MAX_TICKET_LIFETIME};
use crate::time::TimeProvider;

/// KeyUpdates the peer may send without application data in between before we call it a flood.
pub const MAX_KEY_UPDATES_IN_A_ROW: u32 = 32;
/// NewSessionTickets accepted per connection (RFC 8446 4.6.1 puts no bound; we do).
pub const MAX_TICKETS: u32 = 64;

/// RFC 9001 4.6.1: the max_early_data_size a QUIC ticket allowing 0-RTT must carry.
pub const QUIC_MAX_EARLY_DATA: u32 = 0xffff_ffff;

pub(crate) struct Established13 {
    pub suite: &'static Tls13Suite,
    pub side: Side,
    /// Our current application traffic secret (write direction).
    pub ours: Secret,
    /// The peer's current application traffic secret (read direction).
    pub theirs: Secret,
    pub key_updates_in_a_row: u32,
    /// The connection's application write count when we last answered an update_requested:
    /// while it has not moved, we have been silent since (RFC 8446 4.6.3).
    pub answered_at_write: Option<u64>,
    pub tickets: u32,
    /// Client: where NewSessionTickets go, with the secret their PSKs derive from.
    pub resumption: Option<ClientResumption>,
}

/// QUIC's post-handshake rules: RFC 9001 6 forbids KeyUpdate messages (unexpected_message),
/// and RFC 9001 4.6.1 wants max_early_data_size 0xffffffff in a ticket that has it (QUIC's
/// PROTOCOL_VIOLATION; our nearest alert is illegal_parameter).
fn check_quic(msg: &Msg) -> Result<(), Error> {
    match &msg.payload {
        HandshakePayload::KeyUpdate(_) => Err(unexpected("established (QUIC: no KeyUpdate)", msg)),
        HandshakePayload::NewSessionTicket13(nst)
            if nst
                .max_early_data_size()
                .is_some_and(|n| n != super::established::QUIC_MAX_EARLY_DATA) =>
        {
            Err(PeerMisbehaved::IllegalParameter(Parameter::QuicMaxEarlyData).into())
        }
        _ => Ok(()),
    }
}

/// Client side of RFC 8446 4.6.1: turns each NewSessionTicket into a stored ticket.
pub(crate) struct ClientResumption {
    pub res_master: Secret,
    pub store: Arc<ClientSessionStore>,
    pub name: String,
    pub time: Arc<dyn TimeProvider>,
}

impl Established13 {
    /// After the handshake a peer may send KeyUpdate (not on QUIC, RFC 9001 6) and, to a
    /// client, NewSessionTicket (RFC 8446 4.6).
    pub fn expects(&self, cx: &dyn Output, typ: HandshakeType) -> Result<(), &'static str> {
        match typ {
            HandshakeType::KeyUpdate if cx.transport().is_quic() => Err("established (QUIC: no KeyUpdate)"),
            HandshakeType::KeyUpdate => Ok(()),
            HandshakeType::NewSessionTicket if self.side == Side::Client => Ok(()),
            _ => Err("established"),
        }
    }

    pub fn handle(mut self, cx: &mut dyn Output, msg: Msg) -> Result<Self, Error> {
        if cx.transport().is_quic() {
            check_quic(&msg)?;
        }
        match msg.payload {
            HandshakePayload::KeyUpdate(request) => {
                self.key_updates_in_a_row += 1;
                if self.key_updates_in_a_row > MAX_KEY_UPDATES_IN_A_ROW {
                    return Err(Error::LimitExceeded(Limit::KeyUpdates));
                }
                self.theirs = next_traffic_secret_prefixed(
                    self.suite.hash,
                    cx.transport().label_prefix(),
                    self.theirs.as_bytes(),
                );
                let theirs = cx.transport().prk13(self.suite.hash, &self.theirs);
                cx.install_read13(self.suite, &theirs, KeyLevel::Update);
                cx.emit(Event::KeyUpdated { ours: false });
                // RFC 8446 4.6.3: answer update_requested with our own update_not_requested
                // before our next application data; several received while we have written
                // no application data since our last answer get that one answer, and one of
                // ours that has not taken effect yet answers it too.
                let writes = cx.app_writes();
                if request == KeyUpdateRequest::UpdateRequested
                    && self.answered_at_write != Some(writes)
                    && !cx.key_update_unsent()
                {
                    self.update_ours(cx, false);
                    self.answered_at_write = Some(writes);
                }
                Ok(self)
            }
            HandshakePayload::NewSessionTicket13(nst) if self.side == Side::Client => {
                self.tickets += 1;
                if self.tickets > MAX_TICKETS {
                    return Err(Error::LimitExceeded(Limit::NewSessionTickets));
                }
                // RFC 8446 4.6.1: a lifetime of zero means "do not use"; longer than seven
                // days is clamped.
                if let Some(r) = self.resumption.as_ref().filter(|_| nst.lifetime > 0) {
                    r.store.insert(
                        &r.name,
                        ClientTicket {
                            transport: cx.transport(),
                            suite: self.suite.suite,
                            psk: resumption_psk_prefixed(
                                self.suite.hash,
                                cx.transport().label_prefix(),
                                r.res_master.as_bytes(),
                                &nst.nonce,
                            ),
                            age_add: nst.age_add,
                            lifetime: nst.lifetime.min(MAX_TICKET_LIFETIME),
                            received_ms: r.time.now_millis(),
                            max_early_data: nst.max_early_data_size().unwrap_or(0),
                            alpn: cx.negotiated().alpn.clone(),
                            peer_chain: cx.negotiated().peer_chain.iter().map(|c| c.to_vec()).collect(),
                            ticket: nst.ticket,
                            external: false,
                        },
                    );
                }
                cx.emit(Event::SessionTicket);
                Ok(self)
            }
            _ => Err(unexpected("established", &msg)),
        }
    }

    /// Sends KeyUpdate and switches our write keys behind it (RFC 8446 4.6.3).
    pub fn update_ours(&mut self, cx: &mut dyn Output, request_peer: bool) {
        let request = if request_peer {
            KeyUpdateRequest::UpdateRequested
        } else {
            KeyUpdateRequest::UpdateNotRequested
        };
        cx.send_handshake(&HandshakePayload::KeyUpdate(request), None);
        self.ours = next_traffic_secret_prefixed(
            self.suite.hash,
            cx.transport().label_prefix(),
            self.ours.as_bytes(),
        );
        let ours = cx.transport().prk13(self.suite.hash, &self.ours);
        cx.install_write13(self.suite, &ours, KeyLevel::Update);
        cx.emit(Event::KeyUpdated { ours: true });
    }

    /// Application data arrived: the KeyUpdate flood counter starts again.
    pub fn data_received(&mut self) {
        self.key_updates_in_a_row = 0;
    }
}
