//! Handshake state machines, one file per protocol version and side. States are enums of
//! structs; each transition consumes the state, so a used secret cannot be touched again.
//! Outputs (messages, key changes, events) go to the [`Output`](output::Output) passed in.

pub(crate) mod client12;
pub(crate) mod client13;
mod common12;
pub(crate) mod connection_id;
pub(crate) mod established;
pub(crate) mod keys13;
pub(crate) mod negotiated;
pub(crate) mod output;
pub(crate) mod record_limit;
pub(crate) mod server12;
pub(crate) mod server13;
pub(crate) mod srtp;

pub(crate) use common12::{Established12, HandshakeLog};
pub(crate) use established::Established13;

use crate::codec::{HandshakeType, ProtocolVersion};
use crate::crypto::secret::Secret;
use crate::error::{Error, PeerMisbehaved};
use crate::msgs::{Dialect, HandshakePayload, MAX_CLIENT_HELLO, MAX_HANDSHAKE_MESSAGE};
use output::Output;

/// One decoded handshake message with its encoding (the transcript hashes the encoding).
#[derive(Debug)]
pub(crate) struct Msg {
    pub payload: HandshakePayload,
    pub raw: Vec<u8>,
}

/// The handshake of one connection, from first flight to established.
pub(crate) enum Handshake {
    Client(client13::ClientState),
    Server(server13::ServerState),
    Established(Established13),
    Client12(client12::Client12),
    Server12(server12::Server12),
    Established12(Established12),
}

impl Handshake {
    pub fn handle(self, cx: &mut dyn Output, msg: Msg) -> Result<Handshake, Error> {
        match self {
            Handshake::Client(s) => s.handle(cx, msg),
            Handshake::Server(s) => s.handle(cx, msg),
            Handshake::Established(s) => s.handle(cx, msg).map(Handshake::Established),
            Handshake::Client12(s) => s.handle(cx, msg),
            Handshake::Server12(s) => s.handle(cx, msg),
            Handshake::Established12(s) => s.handle(cx, msg).map(Handshake::Established12),
        }
    }

    pub fn is_established(&self) -> bool {
        matches!(self, Handshake::Established(_) | Handshake::Established12(_))
    }

    /// TLS 1.2 once the ServerHello chose it: its message bodies and its ChangeCipherSpec.
    pub fn is_tls12(&self) -> bool {
        matches!(
            self,
            Handshake::Client12(_) | Handshake::Server12(_) | Handshake::Established12(_)
        )
    }

    /// How the next handshake message's body is decoded.
    pub fn dialect(&self) -> Dialect {
        if self.is_tls12() {
            Dialect::Tls12
        } else {
            Dialect::Tls13
        }
    }

    /// DTLS: a HelloVerifyRequest's cookie for a client still waiting for its ServerHello.
    pub fn dtls_hello_verify(self, cx: &mut dyn Output, cookie: Vec<u8>) -> Result<Handshake, Error> {
        match self {
            Handshake::Client(client13::ClientState::ServerHello(s)) => s.dtls_hello_verify(cx, cookie),
            _ => Err(Error::UnexpectedMessage {
                state: "handshake in progress",
                got: "HelloVerifyRequest",
            }),
        }
    }

    /// True for a client that has sent its ClientHello and waits for the ServerHello.
    pub fn awaits_server_hello(&self) -> bool {
        matches!(self, Handshake::Client(client13::ClientState::ServerHello(_)))
    }

    /// True on a client that has not heard from the server yet (no ServerHello, no
    /// HelloRetryRequest): the version is still open, so a DTLS ACK means nothing yet.
    pub fn awaits_first_server_message(&self) -> bool {
        match self {
            Handshake::Client(client13::ClientState::ServerHello(s)) => !s.after_retry(),
            _ => false,
        }
    }

    /// TLS 1.2 ChangeCipherSpec (RFC 5246 7.1): the state that expects one activates the
    /// pending read state; anywhere else it is unexpected_message.
    pub fn handle_ccs12(self, cx: &mut dyn Output) -> Result<Handshake, Error> {
        match self {
            Handshake::Client12(s) => s.handle_ccs(cx),
            Handshake::Server12(s) => s.handle_ccs(cx),
            _ => Err(PeerMisbehaved::IllegalChangeCipherSpec.into()),
        }
    }

    /// True when the TLS 1.2 state is waiting for the peer's ChangeCipherSpec (DTLS drops
    /// one that arrives anywhere else: it may have been reordered, RFC 6347 4.1).
    pub fn expects_ccs12(&self) -> bool {
        match self {
            Handshake::Client12(s) => s.expects_ccs(),
            Handshake::Server12(s) => matches!(s, server12::Server12::Ccs(_)),
            _ => false,
        }
    }

    /// True while the peer may still send a middlebox-compatibility CCS (RFC 8446 D.4).
    pub fn accepts_ccs(&self) -> bool {
        match self {
            Handshake::Client(s) => s.accepts_ccs(),
            Handshake::Server(s) => s.accepts_ccs(),
            Handshake::Established(_) => false,
            Handshake::Client12(_) | Handshake::Server12(_) | Handshake::Established12(_) => false,
        }
    }

    /// True while the server reads accepted 0-RTT data (RFC 8446 4.2.10).
    pub fn accepts_early_data(&self) -> bool {
        match self {
            Handshake::Server(s) => s.accepts_early_data(),
            _ => false,
        }
    }

    /// Checks a handshake message header against the state before its body is buffered or
    /// decoded: [`check_type`](Self::check_type), then the body length cap
    /// ([`max_message_len`]).
    pub fn check_header(&self, cx: &dyn Output, typ: HandshakeType, len: usize) -> Result<(), Error> {
        self.check_type(cx, typ)?;
        check_message_len(typ, len)
    }

    /// A message type this state never takes is `unexpected_message` (RFC 8446 6.2) whatever
    /// its body: checked before the body is decoded, so a malformed body cannot make it a
    /// `decode_error`.
    pub fn check_type(&self, cx: &dyn Output, typ: HandshakeType) -> Result<(), Error> {
        let expected = match self {
            Handshake::Client(s) => s.expects(typ),
            Handshake::Server(s) => s.expects(typ),
            Handshake::Established(s) => s.expects(cx, typ),
            Handshake::Client12(s) => s.expects(typ),
            Handshake::Server12(s) => s.expects(typ),
            Handshake::Established12(s) => s.expects(typ),
        };
        expected.map_err(|state| Error::UnexpectedMessage {
            state,
            got: handshake_name(typ),
        })
    }
}

/// The largest body we buffer for a handshake message of type `typ`: a ClientHello may be as
/// large as its syntax allows ([`MAX_CLIENT_HELLO`]), every other message
/// [`MAX_HANDSHAKE_MESSAGE`].
pub(crate) fn max_message_len(typ: HandshakeType) -> usize {
    match typ {
        HandshakeType::ClientHello => MAX_CLIENT_HELLO,
        _ => MAX_HANDSHAKE_MESSAGE,
    }
}

/// Refuses a message declaring more body bytes than [`max_message_len`], at its header.
pub(crate) fn check_message_len(typ: HandshakeType, len: usize) -> Result<(), Error> {
    if len > max_message_len(typ) {
        return Err(Error::LimitExceeded(crate::error::Limit::HandshakeMessageSize));
    }
    Ok(())
}

/// RFC 8446 D.5: a ClientHello (or ServerHello) with legacy_version 0x0300 (SSL 3.0) or
/// below is refused with `protocol_version`, whatever supported_versions offers.
pub(crate) fn check_legacy_version(version: ProtocolVersion) -> Result<(), Error> {
    if u16::from(version) <= 0x0300 {
        return Err(PeerMisbehaved::ObsoleteLegacyVersion.into());
    }
    Ok(())
}

/// Checks a peer's Finished (RFC 8446 4.4.4, RFC 5246 7.4.9): verify_data has exactly the
/// length of `expected` (Hash.length; 12 bytes in TLS 1.2) and the same bytes, compared in
/// constant time. Either failure is a Finished that does not validate, `decrypt_error`
/// (RFC 8446 6.2 names it for that; a wrong length could also be read as a message of
/// incorrect length, decode_error, but BoringSSL says decrypt_error, and so do we).
pub(crate) fn check_verify_data(expected: Vec<u8>, got: &[u8]) -> Result<(), Error> {
    let expected = Secret::new(expected);
    if !expected.ct_eq(got) {
        return Err(Error::BadFinished);
    }
    Ok(())
}

/// Most certificates a peer's Certificate message may carry. Path building uses at most
/// [`crate::pki::MAX_INTERMEDIATES`] intermediates between the end entity and an anchor (which
/// the peer may include), so a longer chain only costs parsing, and the total size is bounded
/// by [`crate::msgs::MAX_HANDSHAKE_MESSAGE`]. The count is OpenSSL's default verify depth:
/// servers that send their whole CA bundle still connect (BoringSSL, rustls and Go cap only
/// the size).
pub const MAX_CERTIFICATE_CHAIN_LEN: usize = 100;

/// Refuses a peer chain longer than [`MAX_CERTIFICATE_CHAIN_LEN`] before any certificate
/// in it is parsed.
pub(crate) fn check_chain_len(len: usize) -> Result<(), Error> {
    if len > MAX_CERTIFICATE_CHAIN_LEN {
        return Err(Error::LimitExceeded(crate::error::Limit::CertificateChainLength));
    }
    Ok(())
}

/// Verifies a resumed session's server chain again with the config's verifier and clock
/// ([`crate::conn::ClientConfigBuilder::reverify_on_resume`]). A session without a chain
/// has nothing to trust it by: refused as a missing certificate.
pub(crate) fn reverify_server_chain(
    config: &crate::config::ClientConfig,
    name: Option<&crate::pki::ServerName>,
    chain: &[impl AsRef<[u8]>],
) -> Result<(), Error> {
    let Some((end_entity, rest)) = chain.split_first() else {
        return Err(Error::InvalidCertificate(crate::pki::CertError::Rejected(
            "a resumed session without the server's chain",
        )));
    };
    let intermediates: Vec<&[u8]> = rest.iter().map(|c| c.as_ref()).collect();
    let name = name.ok_or(Error::Config("no server name to verify".into()))?;
    let now = config.shared.time.now_unix();
    config
        .verifier
        .verify_server_cert(end_entity.as_ref(), &intermediates, name, now)?;
    Ok(())
}

/// RFC 8446 4.4.2: a CertificateEntry's extensions answer extensions of the ClientHello
/// (server certificates) or the CertificateRequest (client certificates), such as
/// status_request; we send none of those, so any is unsolicited: unsupported_extension (4.2).
pub(crate) fn check_no_entry_extensions(entries: &[crate::msgs::CertificateEntry]) -> Result<(), Error> {
    if entries.iter().any(|e| !e.extensions.is_empty()) {
        return Err(PeerMisbehaved::UnsolicitedExtension.into());
    }
    Ok(())
}

/// The error for a message the current state does not take.
pub(crate) fn unexpected(state: &'static str, msg: &Msg) -> Error {
    Error::UnexpectedMessage {
        state,
        got: handshake_name(msg.payload.typ()),
    }
}

fn handshake_name(typ: HandshakeType) -> &'static str {
    typ.name().unwrap_or("unknown handshake message")
}

#[cfg(test)]
mod tests;
