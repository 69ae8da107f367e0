//! The one error enum. Every error caused by the peer maps to exactly one alert
//! ([`Error::alert`]); local errors (configuration, misuse) map to none.

use core::fmt;

use crate::codec::{AlertDescription, DecodeError};
use crate::pki::CertError;

/// What went wrong. Public and `#[non_exhaustive]`: match on the variants you care about.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A message or record failed to decode (`decode_error`).
    Decode(DecodeError),
    /// The peer broke a protocol rule; the variant says which.
    PeerMisbehaved(PeerMisbehaved),
    /// A message arrived that the current state does not accept (`unexpected_message`).
    UnexpectedMessage {
        /// The state the connection was in.
        state: &'static str,
        /// The message that arrived.
        got: &'static str,
    },
    /// A record was larger than RFC 8446 5.1/5.2 allows (`record_overflow`).
    RecordOverflow,
    /// A record failed to deprotect (`bad_record_mac`).
    DecryptFailed,
    /// No common parameters, or a failed negotiation (`handshake_failure`); the variant
    /// says which.
    HandshakeFailure(Failure),
    /// The peer offered no version we enable (`protocol_version`).
    NoCommonVersion,
    /// ALPN: the client offered protocols and none matched (`no_application_protocol`).
    NoApplicationProtocol,
    /// The peer's certificate was refused by the verifier.
    InvalidCertificate(CertError),
    /// The peer's CertificateVerify or Finished did not verify (`decrypt_error`).
    BadSignature,
    /// The peer's Finished did not match (`decrypt_error`).
    BadFinished,
    /// We require a client certificate and the client sent none (`certificate_required`).
    CertificateRequired,
    /// The peer sent a fatal alert; no alert is sent back.
    AlertReceived(AlertDescription),
    /// A limit on a buffer, queue or count was exceeded by the peer.
    LimitExceeded(Limit),
    /// A cryptographic operation failed locally (`internal_error`).
    Crypto(&'static str),
    /// The configuration is unusable (local; no alert).
    Config(String),
    /// A private key and its certificate do not belong together (local; no alert).
    InconsistentKeys(InconsistentKeys),
    /// The application called at the wrong time, e.g. wrote after close (local; no alert).
    /// The variant says which rule the call broke.
    Misuse(Misuse),
    /// A record sequence number would wrap (RFC 8446 5.3, RFC 6347 4.1): nothing more can
    /// be sent or received under these keys (local; no alert).
    SequenceExhausted,
    /// An invariant of sanstls itself broke: a bug, never the peer's doing
    /// (`internal_error`).
    Internal(&'static str),
    /// The plaintext buffer is full; drain with `write_tls` first (local).
    BufferFull,
    /// The application refused the peer (e.g. after reading its ClientHello) with this alert.
    Refused(AlertDescription),
    /// DTLS: the peer did not answer a flight of ours within the give-up timeout
    /// ([`crate::dtls::TimerConfig::total`], RFC 6347 4.2.4); no alert is sent, the peer is
    /// presumed gone.
    HandshakeTimeout,
    /// The client named a PSK identity the server does not know (`unknown_psk_identity`,
    /// RFC 4279 2).
    UnknownPskIdentity,
}

/// How a call did not fit the connection's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Misuse {
    /// The connection is closed: close_notify was sent, or a fatal error ended it.
    Closed,
    /// The call needs a completed handshake (application keys, exporter, secrets).
    HandshakeIncomplete,
    /// A KeyUpdate needs an established TLS 1.3 or DTLS 1.3 connection.
    KeyUpdateUnavailable,
    /// DTLS 1.3: the previous KeyUpdate is still waiting for its ACK (RFC 9147 8).
    KeyUpdatePending,
    /// The early exporter needs 0-RTT to have been offered (RFC 8446 7.5).
    NoEarlyExporter,
    /// RFC 7627 5.4: no exporter from a TLS 1.2 session without the extended master secret.
    NoExporterWithoutEms,
    /// Secret extraction is off (`enable_secret_extraction` on the config).
    SecretExtractionOff,
    /// Records are still queued to send: call `write_tls` first.
    RecordsToSend,
    /// Received bytes or plaintext are still buffered: process and read them first.
    InputBuffered,
    /// The output buffer is smaller than the record.
    BufferTooSmall,
    /// The content is larger than one record carries.
    ContentTooLarge,
    /// `accept_with` without a ClientHello waiting for a config.
    NoClientHelloWaiting,
    /// DTLS: no time seen yet (`recv_datagram`, `poll_datagram` or `handle_timeout` first).
    NoTimeSeen,
    /// DTLS-SRTP keying material asked for where use_srtp was not negotiated (RFC 5764).
    SrtpNotNegotiated,
}

impl fmt::Display for Misuse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Misuse::Closed => "connection closed",
            Misuse::HandshakeIncomplete => "the handshake has not completed",
            Misuse::KeyUpdateUnavailable => "KeyUpdate needs an established (D)TLS 1.3 connection",
            Misuse::KeyUpdatePending => "a KeyUpdate is still waiting for its ACK",
            Misuse::NoEarlyExporter => "no early exporter: 0-RTT was not offered",
            Misuse::NoExporterWithoutEms => "no exporter without the extended master secret",
            Misuse::SecretExtractionOff => {
                "secret extraction is off (enable_secret_extraction on the config)"
            }
            Misuse::RecordsToSend => "records still to send: write_tls first",
            Misuse::InputBuffered => "received data still buffered: process and read it first",
            Misuse::BufferTooSmall => "output buffer too small for the record",
            Misuse::ContentTooLarge => "content larger than one record",
            Misuse::NoClientHelloWaiting => "no ClientHello is waiting for a config",
            Misuse::NoTimeSeen => "no time seen yet",
            Misuse::SrtpNotNegotiated => "use_srtp was not negotiated",
        })
    }
}

/// Why a private key and its certificate are refused together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InconsistentKeys {
    /// The end-entity certificate holds a public key other than the private key's: every
    /// handshake would fail on the peer's signature check.
    KeyMismatch,
    /// The end-entity certificate's SubjectPublicKeyInfo does not parse, so the key cannot
    /// be checked against it.
    Unknown,
}

/// Why a negotiation failed (`handshake_failure`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Failure {
    /// No cipher suite both sides enable.
    NoCommonSuite,
    /// No key exchange group both sides enable.
    NoCommonGroup,
    /// No signature scheme both sides enable, for the certificate we hold.
    NoCommonSignatureScheme,
    /// A TLS 1.2 ClientHello without signature_algorithms where we need one.
    NoSignatureAlgorithms,
    /// TLS 1.2: we require a client certificate and the client sent none.
    ClientCertificateRequired,
    /// RFC 5746 3.4: a renegotiation_info that is not empty on a first handshake.
    RenegotiationInfo,
    /// RFC 7627 5.3: we require the extended master secret and the peer does not offer it.
    ExtendedMasterSecretRequired,
    /// RFC 7627 5.3: a resumption whose extended master secret status differs from the session's.
    ExtendedMasterSecretChanged,
    /// RFC 8446 4.1.4: the cipher suite changed after HelloRetryRequest.
    SuiteChangedAfterRetry,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Failure::NoCommonSuite => "no cipher suite in common",
            Failure::NoCommonGroup => "no key exchange group in common",
            Failure::NoCommonSignatureScheme => "no signature scheme in common",
            Failure::NoSignatureAlgorithms => "no signature_algorithms",
            Failure::ClientCertificateRequired => "client certificate required",
            Failure::RenegotiationInfo => "renegotiation_info not empty",
            Failure::ExtendedMasterSecretRequired => "peer does not support extended master secret",
            Failure::ExtendedMasterSecretChanged => "resumption changed extended master secret",
            Failure::SuiteChangedAfterRetry => "cipher suite changed after HelloRetryRequest",
        })
    }
}

/// Which field held a value the rules forbid (`illegal_parameter`), with the rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Parameter {
    /// RFC 8446 4.2.10: the ALPN of accepted 0-RTT differs from the ticket's.
    EarlyDataAlpn,
    /// RFC 8446 4.2.10: the cipher suite of accepted 0-RTT differs from the ticket's.
    EarlyDataSuite,
    /// RFC 8446 4.2.8: a HelloRetryRequest group we did not offer, or already sent a share of.
    RetryGroup,
    /// RFC 8446 4.1.4: a HelloRetryRequest selecting a version we did not offer.
    RetryVersion,
    /// RFC 8446 4.6.3: a KeyUpdate request_update other than 0 or 1.
    KeyUpdateRequest,
    /// A TLS 1.2 ServerHello resuming a session we did not offer (RFC 5246 7.4.1.3).
    ResumptionNotOffered,
    /// RFC 8446 4.1.4: the ServerHello's suite differs from the HelloRetryRequest's.
    SuiteDiffersFromRetry,
    /// RFC 8446 4.2.1: a selected_version we did not offer.
    SelectedVersion,
    /// RFC 8422 5.4: a ServerKeyExchange group we did not offer.
    ServerKeyExchangeGroup,
    /// RFC 8422 5.1: a TLS 1.2 server's ECDSA certificate on a curve we did not list.
    CertificateCurve,
    /// RFC 5246 7.4.2: a TLS 1.2 server's certificate key that cannot sign for the suite's
    /// authentication (an RSA key for ECDHE_ECDSA, say).
    CertificateKeyType,
    /// RFC 8446 D.3: a TLS 1.2 ServerHello after we sent 0-RTT data.
    Tls12AfterEarlyData,
    /// RFC 8446 4.4.2: a certificate_request_context other than the one required.
    CertificateRequestContext,
    /// RFC 8446 4.2.2, RFC 6347 4.2.1: a cookie that does not verify or is malformed.
    Cookie,
    /// RFC 8446 4.2.10: early_data in the second ClientHello.
    EarlyDataAfterRetry,
    /// RFC 8422 5.1.2: ec_point_formats without the uncompressed format.
    EcPointFormatsWithoutUncompressed,
    /// RFC 8422 5.1.2: a malformed ec_point_formats.
    EcPointFormats,
    /// RFC 6347 4.2.1: a HelloVerifyRequest with an empty cookie.
    EmptyHelloVerifyCookie,
    /// RFC 9147 5.3: a DTLS 1.3 ServerHello to a ClientHello that carried a
    /// HelloVerifyRequest's cookie, which a DTLS 1.3 server must refuse.
    Dtls13AfterHelloVerifyRequest,
    /// RFC 8446 4.1.2: the second ClientHello's key_share is not the one share asked for.
    KeyShareAfterRetry,
    /// RFC 8446 4.2.8: a key_share that breaks the extension's rules.
    KeyShare,
    /// RFC 9001 8.4: a legacy_session_id on QUIC.
    QuicSessionId,
    /// RFC 9001 4.6.1: a QUIC ticket's max_early_data_size other than 0xffffffff.
    QuicMaxEarlyData,
    /// RFC 6066 3: more than one host_name.
    ServerNameCount,
    /// RFC 8446 4.2.11: PSK binders that do not match the identities.
    PskBinders,
    /// RFC 8446 4.2.11: PSK identity and binder counts differ.
    PskBinderCount,
    /// RFC 8449 4: a record_size_limit below 64.
    RecordSizeLimit,
    /// RFC 5246 7.4.1.3: a resumed session with another cipher suite.
    ResumedSuite,
    /// RFC 8446 4.1.4: the second ClientHello would need another HelloRetryRequest.
    SecondRetryNeeded,
    /// RFC 7301 3.1: a server ALPN naming other than exactly one protocol.
    ServerAlpnCount,
    /// RFC 8446 4.2.11: the suite's hash differs from the PSK's.
    PskSuiteHash,
    /// RFC 8446 4.2.8: two key shares for one group.
    DuplicateKeyShare,
    /// RFC 8422 5.4: an ECCurveType other than named_curve.
    CurveType,
    /// RFC 6347 4.2.3: handshake fragments that disagree on message type or length.
    FragmentMismatch,
    /// RFC 9147 5.3: a legacy_cookie in a DTLS 1.3 ClientHello.
    LegacyCookie,
    /// FIPS 203 7.3: an ML-KEM ciphertext of the wrong length.
    MlKemCiphertextLength,
    /// FIPS 203 7.2: an ML-KEM encapsulation key that fails the modulus check.
    MlKemModulus,
    /// FIPS 203 7.2: an ML-KEM encapsulation key of the wrong length.
    MlKemKeyLength,
    /// draft-ietf-tls-ecdhe-mlkem: a hybrid key share of the wrong length.
    HybridShareLength,
    /// RFC 8446 4.2.8.2: a key share of the wrong length.
    KeyShareLength,
    /// RFC 8446 4.2.8.2: a key share that is not a valid point.
    InvalidPoint,
    /// RFC 4279 5.3: a PSK identity longer than we look up
    /// ([`crate::conn::MAX_PSK_IDENTITY_LEN`]).
    PskIdentityTooLong,
    /// RFC 4279 2: a ServerKeyExchange identity hint other than the one configured.
    PskIdentityHint,
    /// RFC 5764 4.1.1: a server use_srtp naming other than exactly one profile.
    SrtpProfileCount,
    /// RFC 5764 4.1.1: a server use_srtp selecting a profile the client did not offer.
    SrtpProfileNotOffered,
    /// RFC 5764 4.1.1: a server srtp_mki that is neither empty nor the client's.
    SrtpMki,
}

/// Protocol rules the peer broke, one variant per rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PeerMisbehaved {
    /// An extension type appeared twice in one message (RFC 8446 4.2; in a ClientHello,
    /// ServerHello or EncryptedExtensions it is a decode error instead).
    DuplicateExtension,
    /// An extension in a message that may not carry it.
    ExtensionNotAllowedHere,
    /// A recognised extension in a message the RFC 8446 4.2 table does not list it for
    /// (illegal_parameter, RFC 8446 4.2).
    ExtensionForbiddenInMessage,
    /// A response carried an extension we did not offer (RFC 8446 4.2).
    UnsolicitedExtension,
    /// A mandatory extension (named) was absent (`missing_extension`).
    MissingExtension(&'static str),
    /// A field held a value the rules forbid (`illegal_parameter`); the variant names it.
    IllegalParameter(Parameter),
    /// The server's key share is for a group we did not offer (RFC 8446 4.2.8).
    KeyShareForUnofferedGroup,
    /// The server chose a cipher suite we did not offer.
    SuiteNotOffered,
    /// A legacy_version field was not the value the RFC fixes.
    WrongLegacyVersion,
    /// RFC 8446 D.5: a hello's legacy_version is 0x0300 or below (protocol_version).
    ObsoleteLegacyVersion,
    /// The ServerHello random carried a downgrade sentinel (RFC 8446 4.1.3).
    DowngradeDetected,
    /// The server did not echo our legacy_session_id (RFC 8446 4.1.3).
    SessionIdMismatch,
    /// A compression method other than null (RFC 8446 4.1.2).
    CompressionNotNull,
    /// A second HelloRetryRequest in one handshake (RFC 8446 4.1.4).
    SecondHelloRetryRequest,
    /// A HelloRetryRequest that would not change the ClientHello (RFC 8446 4.1.4).
    HelloRetryRequestChangedNothing,
    /// The second ClientHello changed more than the HelloRetryRequest allows (RFC 8446 4.1.2).
    SecondClientHelloMismatch,
    /// More TLS 1.3 ChangeCipherSpec records than we drop ([`crate::conn::MAX_IGNORED_CCS`],
    /// RFC 8446 5).
    TooManyChangeCipherSpecs,
    /// A ChangeCipherSpec where none may be, or with a payload other than 0x01 (RFC 8446 5).
    IllegalChangeCipherSpec,
    /// A handshake message straddled a key change (RFC 8446 5.1).
    MessageSpansKeyChange,
    /// Handshake bytes followed, in the same record, the message that ended the peer's
    /// flight: the peer cannot have known them before our answer.
    MessagePastEndOfFlight,
    /// A zero-length handshake or alert record (RFC 8446 5.1).
    EmptyRecord,
    /// A TLS 1.3 inner plaintext with no non-zero content type (RFC 8446 5.4).
    NoContentType,
    /// Record padding the RFC does not allow.
    InvalidPadding,
    /// A handshake message longer than we accept.
    HandshakeMessageTooLarge,
    /// A record of a content type we do not know (RFC 8446 5).
    UnknownContentType,
    /// TLS_FALLBACK_SCSV from a client whose highest version is below ours: a downgraded
    /// retry (RFC 7507 3, inappropriate_fallback).
    InappropriateFallback,
    /// The server chose an ALPN protocol we did not offer (RFC 7301 3.2; illegal_parameter:
    /// the extension was ours to expect, its value is wrong).
    AlpnNotOffered,
    /// pre_shared_key was not the last ClientHello extension (RFC 8446 4.2.11).
    PreSharedKeyNotLast,
    /// A server Certificate message with no certificate (RFC 8446 4.4.2.4).
    EmptyCertificate,
    /// A signature under a scheme we did not offer (RFC 8446 4.4.3).
    UnsupportedSignatureScheme,
    /// Records after the peer's close_notify (RFC 8446 6.1).
    DataAfterCloseNotify,
    /// A HelloRequest or second ClientHello: renegotiation is refused (`no_renegotiation`).
    RenegotiationAttempted,
    /// RFC 8446 4.2.11.2: the PSK binder did not verify (decrypt_error).
    BadPskBinder,
    /// RFC 8446 4.2.10: more 0-RTT data than max_early_data_size (unexpected_message).
    TooMuchEarlyData,
    /// RFC 8446 4.2.11: the server selected a PSK identity we did not offer.
    PskNotOffered,
}

impl PeerMisbehaved {
    /// The alert this violation sends the peer.
    pub fn alert(self) -> AlertDescription {
        use PeerMisbehaved::*;
        match self {
            DuplicateExtension
            | ExtensionForbiddenInMessage
            | IllegalParameter(_)
            | KeyShareForUnofferedGroup
            | SuiteNotOffered
            | WrongLegacyVersion
            | DowngradeDetected
            | SessionIdMismatch
            | CompressionNotNull
            | HelloRetryRequestChangedNothing
            | SecondClientHelloMismatch
            | PreSharedKeyNotLast
            | PskNotOffered
            | UnsupportedSignatureScheme
            | AlpnNotOffered
            | InvalidPadding => AlertDescription::IllegalParameter,
            ExtensionNotAllowedHere | UnsolicitedExtension => AlertDescription::UnsupportedExtension,
            MissingExtension(_) => AlertDescription::MissingExtension,
            SecondHelloRetryRequest
            | TooManyChangeCipherSpecs
            | IllegalChangeCipherSpec
            | MessageSpansKeyChange
            | MessagePastEndOfFlight
            | EmptyRecord
            | NoContentType
            | UnknownContentType
            | DataAfterCloseNotify
            | TooMuchEarlyData => AlertDescription::UnexpectedMessage,
            BadPskBinder => AlertDescription::DecryptError,
            ObsoleteLegacyVersion => AlertDescription::ProtocolVersion,
            // RFC 8446 6.2: record_overflow is for records; a message longer than we take is
            // a message of incorrect length.
            HandshakeMessageTooLarge => AlertDescription::DecodeError,
            EmptyCertificate => AlertDescription::DecodeError,
            RenegotiationAttempted => AlertDescription::NoRenegotiation,
            InappropriateFallback => AlertDescription::InappropriateFallback,
        }
    }
}

/// Resource limits a hostile peer can run into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Limit {
    /// A handshake message longer than we buffer: [`crate::msgs::MAX_HANDSHAKE_MESSAGE`], or
    /// for a ClientHello the largest its syntax allows, [`crate::msgs::MAX_CLIENT_HELLO`]
    /// (`decode_error`).
    HandshakeMessageSize,
    /// More certificates in a chain than [`crate::conn::MAX_CERTIFICATE_CHAIN_LEN`] (`bad_certificate`).
    CertificateChainLength,
    /// More empty records in a row than [`crate::conn::MAX_EMPTY_RECORDS_IN_A_ROW`]
    /// (`unexpected_message`).
    ConsecutiveEmptyRecords,
    /// More warning alerts in a row than [`crate::conn::MAX_WARNING_ALERTS_IN_A_ROW`]
    /// (`unexpected_message`).
    WarningAlerts,
    /// More KeyUpdates in a row than [`crate::conn::MAX_KEY_UPDATES_IN_A_ROW`] (`unexpected_message`).
    KeyUpdates,
    /// More NewSessionTickets than [`crate::conn::MAX_TICKETS`] (`unexpected_message`).
    NewSessionTickets,
    /// Not raised: plaintext the application has not read is back-pressure, not a fault of
    /// the peer's (kept so matches on `Limit` keep compiling).
    BufferedPlaintext,
    /// DTLS: more handshake fragments held for reassembly than we buffer (`unexpected_message`).
    ReassemblyQueue,
    /// DTLS: records that failed to deprotect (each dropped silently, RFC 6347 4.1.2.7).
    BadRecords,
    /// DTLS: our handshake message_seq reached 0xffff, which the 16-bit field does not wrap
    /// past (RFC 9147 5.2): no further KeyUpdate can be sent.
    HandshakeMessageSeq,
}

impl Error {
    /// The alert this error sends to the peer, if any (RFC 8446 6.2).
    pub fn alert(&self) -> Option<AlertDescription> {
        Some(match self {
            Error::Decode(_) => AlertDescription::DecodeError,
            Error::PeerMisbehaved(p) => p.alert(),
            Error::UnexpectedMessage { .. } => AlertDescription::UnexpectedMessage,
            Error::RecordOverflow => AlertDescription::RecordOverflow,
            Error::DecryptFailed => AlertDescription::BadRecordMac,
            Error::HandshakeFailure(_) => AlertDescription::HandshakeFailure,
            Error::NoCommonVersion => AlertDescription::ProtocolVersion,
            Error::NoApplicationProtocol => AlertDescription::NoApplicationProtocol,
            Error::InvalidCertificate(c) => c.alert(),
            Error::BadSignature | Error::BadFinished => AlertDescription::DecryptError,
            Error::CertificateRequired => AlertDescription::CertificateRequired,
            // RFC 8446 6.2: record_overflow is for records; a handshake message longer than its
            // syntax or our cap allows is a message of incorrect length.
            Error::LimitExceeded(Limit::HandshakeMessageSize) => AlertDescription::DecodeError,
            Error::LimitExceeded(Limit::BadRecords) => AlertDescription::BadRecordMac,
            Error::LimitExceeded(Limit::CertificateChainLength) => AlertDescription::BadCertificate,
            // Our own counter ran out, not the peer's fault (RFC 8446 6.2).
            Error::LimitExceeded(Limit::HandshakeMessageSeq) => AlertDescription::InternalError,
            Error::LimitExceeded(_) => AlertDescription::UnexpectedMessage,
            Error::Crypto(_) | Error::Internal(_) => AlertDescription::InternalError,
            Error::Refused(a) => *a,
            Error::UnknownPskIdentity => AlertDescription::UnknownPskIdentity,
            Error::AlertReceived(_)
            | Error::Config(_)
            | Error::InconsistentKeys(_)
            | Error::Misuse(_)
            | Error::SequenceExhausted
            | Error::BufferFull
            | Error::HandshakeTimeout => return None,
        })
    }
}

impl From<DecodeError> for Error {
    fn from(e: DecodeError) -> Self {
        Error::Decode(e)
    }
}

impl From<PeerMisbehaved> for Error {
    fn from(e: PeerMisbehaved) -> Self {
        Error::PeerMisbehaved(e)
    }
}

impl From<Misuse> for Error {
    fn from(e: Misuse) -> Self {
        Error::Misuse(e)
    }
}

impl From<CertError> for Error {
    fn from(e: CertError) -> Self {
        Error::InvalidCertificate(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Decode(e) => write!(f, "decode error: {e}"),
            Error::PeerMisbehaved(p) => write!(f, "peer misbehaved: {p:?}"),
            Error::UnexpectedMessage { state, got } => write!(f, "unexpected {got} in state {state}"),
            Error::RecordOverflow => f.write_str("record overflow"),
            Error::DecryptFailed => f.write_str("record failed to decrypt"),
            Error::HandshakeFailure(why) => write!(f, "handshake failure: {why}"),
            Error::NoCommonVersion => f.write_str("no protocol version in common"),
            Error::NoApplicationProtocol => f.write_str("no application protocol in common"),
            Error::InvalidCertificate(c) => write!(f, "invalid peer certificate: {c}"),
            Error::BadSignature => f.write_str("peer signature did not verify"),
            Error::BadFinished => f.write_str("peer Finished did not verify"),
            Error::CertificateRequired => f.write_str("client certificate required"),
            Error::AlertReceived(a) => write!(f, "received fatal alert: {a}"),
            Error::LimitExceeded(l) => write!(f, "limit exceeded: {l:?}"),
            Error::Crypto(why) => write!(f, "crypto failure: {why}"),
            Error::Config(why) => write!(f, "configuration error: {why}"),
            Error::InconsistentKeys(InconsistentKeys::KeyMismatch) => {
                f.write_str("the private key does not match the certificate's public key")
            }
            Error::InconsistentKeys(InconsistentKeys::Unknown) => {
                f.write_str("the certificate's public key could not be read to check the private key")
            }
            Error::Misuse(m) => write!(f, "misuse: {m}"),
            Error::SequenceExhausted => f.write_str("sequence numbers exhausted"),
            Error::Internal(why) => write!(f, "internal error (a bug in sanstls): {why}"),
            Error::BufferFull => f.write_str("plaintext buffer full"),
            Error::Refused(a) => write!(f, "refused by the application with {a}"),
            Error::HandshakeTimeout => f.write_str("DTLS handshake timed out"),
            Error::UnknownPskIdentity => f.write_str("unknown PSK identity"),
        }
    }
}

impl std::error::Error for Error {}

impl From<Error> for std::io::Error {
    fn from(e: Error) -> Self {
        std::io::Error::other(e)
    }
}
