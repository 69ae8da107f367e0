//! The DTLS `connection_id` extension (RFC 9146 3, RFC 9147 9): each side names the
//! connection id it wants in the records it *receives*; a zero-length id means "I need none,
//! but will send yours". The transport puts the id it wants in `Negotiated::own_cid` before
//! the handshake starts (only DTLS does); the handshake offers it, answers it and records
//! the peer's in `Negotiated::peer_cid`. Both set means negotiated; the record layers of
//! `dtls` read them from there.

use super::output::Output;
use crate::error::{Error, PeerMisbehaved};
use crate::msgs::{ClientExtension, ClientHello, ServerHelloExtension};

/// Client: the extension to offer, if the transport wants connection ids.
pub(crate) fn offer(cx: &mut dyn Output) -> Option<ClientExtension> {
    cx.negotiated().own_cid.clone().map(ClientExtension::ConnectionId)
}

/// Server: with the client's id recorded, our own id to answer with (ServerHello in both
/// DTLS versions). A client that offered none gets none (RFC 9146 3: the server only
/// answers the extension); then no id is used either way.
pub(crate) fn server_reply(cx: &mut dyn Output, hello: &ClientHello) -> Option<ServerHelloExtension> {
    let neg = cx.negotiated();
    match (neg.own_cid.clone(), hello.connection_id()) {
        (Some(own), Some(peer)) => {
            neg.peer_cid = Some(peer.to_vec());
            Some(ServerHelloExtension::ConnectionId(own))
        }
        _ => {
            neg.own_cid = None;
            None
        }
    }
}

/// Client: the server's id from its ServerHello; unsolicited (unsupported_extension, RFC
/// 8446 4.2 via RFC 9146 3) when we offered none.
pub(crate) fn client_accept(cx: &mut dyn Output, peer: &[u8]) -> Result<(), Error> {
    let neg = cx.negotiated();
    if neg.own_cid.is_none() {
        return Err(PeerMisbehaved::UnsolicitedExtension.into());
    }
    neg.peer_cid = Some(peer.to_vec());
    Ok(())
}

/// Client, after the ServerHello's extensions: a server that did not answer uses no ids.
pub(crate) fn client_done(cx: &mut dyn Output) {
    let neg = cx.negotiated();
    if neg.peer_cid.is_none() {
        neg.own_cid = None;
    }
}
