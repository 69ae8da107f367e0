//! RFC 8449 record_size_limit: what each side advertises and how the peer's value caps the
//! records we send. The connection enforces our own advertised limit on what it receives
//! (`Negotiated::own_record_limit`).

use super::output::Output;
use crate::config::Shared;
use crate::error::{Error, PeerMisbehaved};
use crate::msgs::MAX_PLAINTEXT;

/// RFC 8449 4: the largest value that means "no limit below the protocol's" (TLS 1.3 counts
/// the inner content type byte; TLS 1.2 does not).
pub(crate) fn protocol_max(tls13: bool) -> u16 {
    MAX_PLAINTEXT as u16 + u16::from(tls13)
}

/// The peer's limit applied to what we send: RFC 8449 4, in TLS 1.3 the value covers the
/// content plus its type byte (we send no padding), in TLS 1.2 the content alone.
pub(crate) fn honour_peer_limit(cx: &mut dyn Output, peer: u16, tls13: bool) {
    let content = usize::from(peer) - usize::from(tls13);
    cx.limit_fragment(content.min(MAX_PLAINTEXT));
}

/// Server: when the client sent record_size_limit, honour it and return our own value to
/// send back (the configured one, else the protocol maximum), which the client must honour
/// from then on. `None` when the client did not send it (RFC 8449 4: no reply then).
pub(crate) fn server_reply(
    cx: &mut dyn Output,
    cfg: &Shared,
    client_limit: Option<u16>,
    tls13: bool,
) -> Option<u16> {
    let peer = client_limit?;
    honour_peer_limit(cx, peer, tls13);
    let ours = cfg.record_size_limit.unwrap_or(u16::MAX).min(protocol_max(tls13));
    cx.negotiated().own_record_limit = Some(ours);
    Some(ours)
}

/// Client: the server's record_size_limit, valid only if we sent ours (RFC 8449 4).
pub(crate) fn client_accept(
    cx: &mut dyn Output,
    cfg: &Shared,
    server_limit: u16,
    tls13: bool,
) -> Result<(), Error> {
    let Some(ours) = cfg.record_size_limit else {
        return Err(PeerMisbehaved::UnsolicitedExtension.into());
    };
    honour_peer_limit(cx, server_limit, tls13);
    cx.negotiated().own_record_limit = Some(ours.min(protocol_max(tls13)));
    Ok(())
}
