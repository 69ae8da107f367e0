//! IANA registry enums. Unknown values are kept (`Unknown(n)`) so decoding never fails on a
//! value we merely do not support (RFC 8446 4.1.2: unknown suites, groups, schemes are ignored).

use super::{Codec, DecodeError, Reader};

/// Defines a registry enum. Each variant is documented with its registry name and wire value,
/// followed by whatever doc lines the invocation gives it (where the value is defined).
macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident: $int:ty, $read:ident, $what:literal {
        $($(#[$vmeta:meta])* $variant:ident = $value:literal => $text:literal,)*
    }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $(
                #[doc = concat!("`", $text, "` (", stringify!($value), ").")]
                $(#[$vmeta])*
                $variant,
            )*
            /// A value outside the ones we name.
            Unknown($int),
        }

        impl $name {
            /// Every named value, in registry order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The registry's name for the value (`None` when unknown).
            pub fn name(self) -> Option<&'static str> {
                match self {
                    $($name::$variant => Some($text),)*
                    $name::Unknown(_) => None,
                }
            }

            /// Looks a value up by its registry name, ASCII case-insensitively.
            pub fn from_name(text: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.name().is_some_and(|n| n.eq_ignore_ascii_case(text)))
            }

            /// The value on the wire (the `Unknown` value as received).
            pub fn get(self) -> $int {
                match self {
                    $($name::$variant => $value,)*
                    $name::Unknown(v) => v,
                }
            }
        }

        impl From<$int> for $name {
            fn from(v: $int) -> Self {
                match v {
                    $($value => $name::$variant,)*
                    other => $name::Unknown(other),
                }
            }
        }

        impl From<$name> for $int {
            fn from(v: $name) -> $int {
                v.get()
            }
        }

        impl core::fmt::Display for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                match self.name() {
                    Some(n) => f.write_str(n),
                    None => write!(f, "unknown({:#x})", self.get()),
                }
            }
        }

        impl Codec for $name {
            fn encode(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.get().to_be_bytes());
            }
            fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                Ok(Self::from(r.$read($what)?))
            }
        }
    };
}

wire_enum! {
    /// TLS record content type (RFC 8446 5.1, RFC 9147 for ack).
    ContentType: u8, u8, "content type" {
        ChangeCipherSpec = 20 => "change_cipher_spec",
        Alert = 21 => "alert",
        Handshake = 22 => "handshake",
        ApplicationData = 23 => "application_data",
        Heartbeat = 24 => "heartbeat",
        /// RFC 9146 4: a DTLS 1.2 record carrying a connection id; the real type is inside.
        Tls12Cid = 25 => "tls12_cid",
        Ack = 26 => "ack",
    }
}

wire_enum! {
    /// Handshake message type (RFC 8446 4, RFC 5246 7.4, RFC 6347 4.2.1).
    HandshakeType: u8, u8, "handshake type" {
        /// RFC 5246 7.4.1.1 (TLS 1.2 only).
        HelloRequest = 0 => "hello_request",
        /// RFC 8446 4.1.2.
        ClientHello = 1 => "client_hello",
        /// RFC 8446 4.1.3.
        ServerHello = 2 => "server_hello",
        /// RFC 6347 4.2.1 (DTLS 1.2 cookie exchange).
        HelloVerifyRequest = 3 => "hello_verify_request",
        /// RFC 8446 4.6.1 (RFC 5077 3.3 in TLS 1.2).
        NewSessionTicket = 4 => "new_session_ticket",
        /// RFC 8446 4.5.
        EndOfEarlyData = 5 => "end_of_early_data",
        /// Reserved by RFC 8446 (B.3): only TLS 1.3 drafts sent it; the RFC's HelloRetryRequest is
        /// a ServerHello with a fixed random (4.1.3).
        HelloRetryRequest = 6 => "hello_retry_request",
        /// RFC 8446 4.3.1.
        EncryptedExtensions = 8 => "encrypted_extensions",
        /// RFC 8446 4.4.2 (RFC 5246 7.4.2).
        Certificate = 11 => "certificate",
        /// RFC 5246 7.4.3 (TLS 1.2 only).
        ServerKeyExchange = 12 => "server_key_exchange",
        /// RFC 8446 4.3.2 (RFC 5246 7.4.4).
        CertificateRequest = 13 => "certificate_request",
        /// RFC 5246 7.4.5 (TLS 1.2 only).
        ServerHelloDone = 14 => "server_hello_done",
        /// RFC 8446 4.4.3 (RFC 5246 7.4.8).
        CertificateVerify = 15 => "certificate_verify",
        /// RFC 5246 7.4.7 (TLS 1.2 only).
        ClientKeyExchange = 16 => "client_key_exchange",
        /// RFC 8446 4.4.4 (RFC 5246 7.4.9).
        Finished = 20 => "finished",
        /// RFC 6066 8: a stapled OCSP response (TLS 1.2).
        CertificateStatus = 22 => "certificate_status",
        /// RFC 8446 4.6.3.
        KeyUpdate = 24 => "key_update",
        /// RFC 8446 4.4.1: stands in for ClientHello1 in the transcript after a HelloRetryRequest.
        MessageHash = 254 => "message_hash",
    }
}

wire_enum! {
    /// Extension type (IANA TLS ExtensionType Values).
    ExtensionType: u16, u16, "extension type" {
        /// RFC 6066 3: the host name the client wants.
        ServerName = 0 => "server_name",
        /// RFC 6066 4: a smaller maximum plaintext record size.
        MaxFragmentLength = 1 => "max_fragment_length",
        /// RFC 6066 8: OCSP stapling request.
        StatusRequest = 5 => "status_request",
        /// RFC 8446 4.2.7 (RFC 8422 5.1.1 for TLS 1.2): groups the client can use for key exchange.
        SupportedGroups = 10 => "supported_groups",
        /// RFC 8422 5.1.2: TLS 1.2 EC point formats.
        EcPointFormats = 11 => "ec_point_formats",
        /// RFC 8446 4.2.3: signature schemes accepted in CertificateVerify.
        SignatureAlgorithms = 13 => "signature_algorithms",
        /// RFC 5764 4.1.1: DTLS-SRTP protection profiles.
        UseSrtp = 14 => "use_srtp",
        /// RFC 6520 2.
        Heartbeat = 15 => "heartbeat",
        /// RFC 7301 3.1: application-layer protocol negotiation.
        Alpn = 16 => "application_layer_protocol_negotiation",
        /// RFC 6962 3.3.1: Certificate Transparency SCTs.
        SignedCertificateTimestamp = 18 => "signed_certificate_timestamp",
        /// RFC 7685: ClientHello padding.
        Padding = 21 => "padding",
        /// RFC 7366: encrypt-then-MAC for TLS 1.2 CBC suites.
        EncryptThenMac = 22 => "encrypt_then_mac",
        /// RFC 7627 5.1: TLS 1.2 master secret bound to the handshake hash.
        ExtendedMasterSecret = 23 => "extended_master_secret",
        /// RFC 8879 3: certificate compression algorithms.
        CompressCertificate = 27 => "compress_certificate",
        /// RFC 8449 4: the largest record the sender will accept.
        RecordSizeLimit = 28 => "record_size_limit",
        /// RFC 5077 3.2: TLS 1.2 stateless session tickets.
        SessionTicket = 35 => "session_ticket",
        /// RFC 8446 4.2.11: PSK identities and binders.
        PreSharedKey = 41 => "pre_shared_key",
        /// RFC 8446 4.2.10: 0-RTT data.
        EarlyData = 42 => "early_data",
        /// RFC 8446 4.2.1: the versions offered or selected.
        SupportedVersions = 43 => "supported_versions",
        /// RFC 8446 4.2.2: a HelloRetryRequest cookie to echo.
        Cookie = 44 => "cookie",
        /// RFC 8446 4.2.9: the PSK modes the client supports.
        PskKeyExchangeModes = 45 => "psk_key_exchange_modes",
        /// RFC 8446 4.2.4: distinguished names of acceptable CAs.
        CertificateAuthorities = 47 => "certificate_authorities",
        /// RFC 8446 4.2.5: certificate extension filters in a CertificateRequest.
        OidFilters = 48 => "oid_filters",
        /// RFC 8446 4.2.6: the client accepts post-handshake authentication.
        PostHandshakeAuth = 49 => "post_handshake_auth",
        /// RFC 8446 4.2.3: signature schemes accepted in certificates.
        SignatureAlgorithmsCert = 50 => "signature_algorithms_cert",
        /// RFC 8446 4.2.8: key exchange shares.
        KeyShare = 51 => "key_share",
        /// RFC 9146 3: DTLS connection identifiers (RFC 9147 9 for DTLS 1.3).
        ConnectionId = 54 => "connection_id",
        /// RFC 9001 8.2: QUIC transport parameters.
        QuicTransportParameters = 57 => "quic_transport_parameters",
        /// RFC 5746 3.2: secure renegotiation indication.
        RenegotiationInfo = 0xff01 => "renegotiation_info",
    }
}

wire_enum! {
    /// Cipher suite (IANA TLS Cipher Suites).
    CipherSuite: u16, u16, "cipher suite" {
        TLS_AES_128_GCM_SHA256 = 0x1301 => "TLS_AES_128_GCM_SHA256",
        TLS_AES_256_GCM_SHA384 = 0x1302 => "TLS_AES_256_GCM_SHA384",
        TLS_CHACHA20_POLY1305_SHA256 = 0x1303 => "TLS_CHACHA20_POLY1305_SHA256",
        TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 = 0xc02b => "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 = 0xc02c => "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 = 0xc02f => "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 = 0xc030 => "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 = 0xcca8 => "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 = 0xcca9 => "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        /// RFC 5746 3.3: signals secure renegotiation support in place of an empty extension.
        TLS_EMPTY_RENEGOTIATION_INFO_SCSV = 0x00ff => "TLS_EMPTY_RENEGOTIATION_INFO_SCSV",
        /// RFC 7507: the client is retrying with a lower version than it supports.
        TLS_FALLBACK_SCSV = 0x5600 => "TLS_FALLBACK_SCSV",
        /// RFC 8446 B.4.
        TLS_AES_128_CCM_SHA256 = 0x1304 => "TLS_AES_128_CCM_SHA256",
        /// RFC 8446 B.4 (constrained devices; not offered unless configured).
        TLS_AES_128_CCM_8_SHA256 = 0x1305 => "TLS_AES_128_CCM_8_SHA256",
        /// RFC 7251 2.
        TLS_ECDHE_ECDSA_WITH_AES_128_CCM = 0xc0ac => "TLS_ECDHE_ECDSA_WITH_AES_128_CCM",
        /// RFC 7251 2.
        TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8 = 0xc0ae => "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8",
        /// RFC 6655 4 (PSK key exchange, RFC 4279 2).
        TLS_PSK_WITH_AES_128_CCM_8 = 0xc0a8 => "TLS_PSK_WITH_AES_128_CCM_8",
        /// RFC 5487 3.1.
        TLS_PSK_WITH_AES_128_GCM_SHA256 = 0x00a8 => "TLS_PSK_WITH_AES_128_GCM_SHA256",
        /// RFC 7905 2 (ECDHE_PSK key exchange, RFC 5489 2).
        TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256 = 0xccac => "TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256",
    }
}

wire_enum! {
    /// Named group for key exchange (RFC 8446 4.2.7).
    NamedGroup: u16, u16, "named group" {
        secp256r1 = 0x0017 => "secp256r1",
        secp384r1 = 0x0018 => "secp384r1",
        secp521r1 = 0x0019 => "secp521r1",
        x25519 = 0x001d => "x25519",
        x448 = 0x001e => "x448",
        /// draft-ietf-tls-ecdhe-mlkem: P-256 ECDHE + ML-KEM-768 (FIPS 203), TLS 1.3 only.
        SecP256r1MLKEM768 = 0x11eb => "SecP256r1MLKEM768",
        /// draft-ietf-tls-ecdhe-mlkem: X25519 + ML-KEM-768, TLS 1.3 only.
        X25519MLKEM768 = 0x11ec => "X25519MLKEM768",
        /// draft-ietf-tls-ecdhe-mlkem: P-384 ECDHE + ML-KEM-1024, TLS 1.3 only.
        SecP384r1MLKEM1024 = 0x11ed => "SecP384r1MLKEM1024",
    }
}

wire_enum! {
    /// Signature scheme (RFC 8446 4.2.3).
    SignatureScheme: u16, u16, "signature scheme" {
        rsa_pkcs1_sha1 = 0x0201 => "rsa_pkcs1_sha1",
        ecdsa_sha1 = 0x0203 => "ecdsa_sha1",
        rsa_pkcs1_sha256 = 0x0401 => "rsa_pkcs1_sha256",
        rsa_pkcs1_sha384 = 0x0501 => "rsa_pkcs1_sha384",
        rsa_pkcs1_sha512 = 0x0601 => "rsa_pkcs1_sha512",
        ecdsa_secp256r1_sha256 = 0x0403 => "ecdsa_secp256r1_sha256",
        ecdsa_secp384r1_sha384 = 0x0503 => "ecdsa_secp384r1_sha384",
        ecdsa_secp521r1_sha512 = 0x0603 => "ecdsa_secp521r1_sha512",
        rsa_pss_rsae_sha256 = 0x0804 => "rsa_pss_rsae_sha256",
        rsa_pss_rsae_sha384 = 0x0805 => "rsa_pss_rsae_sha384",
        rsa_pss_rsae_sha512 = 0x0806 => "rsa_pss_rsae_sha512",
        ed25519 = 0x0807 => "ed25519",
        ed448 = 0x0808 => "ed448",
        rsa_pss_pss_sha256 = 0x0809 => "rsa_pss_pss_sha256",
        rsa_pss_pss_sha384 = 0x080a => "rsa_pss_pss_sha384",
        rsa_pss_pss_sha512 = 0x080b => "rsa_pss_pss_sha512",
    }
}

wire_enum! {
    /// Protocol version on the wire (RFC 8446 4.2.1, RFC 9147 5.3).
    ProtocolVersion: u16, u16, "protocol version" {
        SSLv3 = 0x0300 => "SSLv3",
        TLSv1_0 = 0x0301 => "TLSv1.0",
        TLSv1_1 = 0x0302 => "TLSv1.1",
        TLSv1_2 = 0x0303 => "TLSv1.2",
        TLSv1_3 = 0x0304 => "TLSv1.3",
        DTLSv1_0 = 0xfeff => "DTLSv1.0",
        DTLSv1_2 = 0xfefd => "DTLSv1.2",
        DTLSv1_3 = 0xfefc => "DTLSv1.3",
    }
}

wire_enum! {
    /// Alert level (RFC 8446 6).
    AlertLevel: u8, u8, "alert level" {
        Warning = 1 => "warning",
        Fatal = 2 => "fatal",
    }
}

wire_enum! {
    /// Alert description (RFC 8446 6).
    AlertDescription: u8, u8, "alert description" {
        CloseNotify = 0 => "close_notify",
        UnexpectedMessage = 10 => "unexpected_message",
        BadRecordMac = 20 => "bad_record_mac",
        RecordOverflow = 22 => "record_overflow",
        HandshakeFailure = 40 => "handshake_failure",
        BadCertificate = 42 => "bad_certificate",
        UnsupportedCertificate = 43 => "unsupported_certificate",
        CertificateRevoked = 44 => "certificate_revoked",
        CertificateExpired = 45 => "certificate_expired",
        CertificateUnknown = 46 => "certificate_unknown",
        IllegalParameter = 47 => "illegal_parameter",
        UnknownCa = 48 => "unknown_ca",
        AccessDenied = 49 => "access_denied",
        DecodeError = 50 => "decode_error",
        DecryptError = 51 => "decrypt_error",
        ProtocolVersion = 70 => "protocol_version",
        InsufficientSecurity = 71 => "insufficient_security",
        InternalError = 80 => "internal_error",
        InappropriateFallback = 86 => "inappropriate_fallback",
        UserCanceled = 90 => "user_canceled",
        NoRenegotiation = 100 => "no_renegotiation",
        MissingExtension = 109 => "missing_extension",
        UnsupportedExtension = 110 => "unsupported_extension",
        UnrecognizedName = 112 => "unrecognized_name",
        BadCertificateStatusResponse = 113 => "bad_certificate_status_response",
        UnknownPskIdentity = 115 => "unknown_psk_identity",
        CertificateRequired = 116 => "certificate_required",
        NoApplicationProtocol = 120 => "no_application_protocol",
    }
}

wire_enum! {
    /// PSK key exchange mode (RFC 8446 4.2.9).
    PskKeyExchangeMode: u8, u8, "psk key exchange mode" {
        PskKe = 0 => "psk_ke",
        PskDheKe = 1 => "psk_dhe_ke",
    }
}

wire_enum! {
    /// KeyUpdate request flag (RFC 8446 4.6.3).
    KeyUpdateRequest: u8, u8, "key update request" {
        UpdateNotRequested = 0 => "update_not_requested",
        UpdateRequested = 1 => "update_requested",
    }
}

wire_enum! {
    /// TLS 1.2 EC point format (RFC 8422 5.1.2).
    EcPointFormat: u8, u8, "ec point format" {
        Uncompressed = 0 => "uncompressed",
    }
}

impl ProtocolVersion {
    /// True for the DTLS wire versions.
    pub fn is_dtls(self) -> bool {
        matches!(
            self,
            ProtocolVersion::DTLSv1_0 | ProtocolVersion::DTLSv1_2 | ProtocolVersion::DTLSv1_3
        )
    }
}

wire_enum! {
    /// DTLS-SRTP protection profile (IANA DTLS-SRTP Protection Profiles; RFC 5764 4.1.2,
    /// RFC 7714 14.2).
    SrtpProtectionProfile: u16, u16, "srtp protection profile" {
        /// RFC 5764 4.1.2: AES-128 counter mode, 80-bit HMAC-SHA1 tag.
        SRTP_AES128_CM_HMAC_SHA1_80 = 0x0001 => "SRTP_AES128_CM_HMAC_SHA1_80",
        /// RFC 5764 4.1.2: AES-128 counter mode, 32-bit HMAC-SHA1 tag.
        SRTP_AES128_CM_HMAC_SHA1_32 = 0x0002 => "SRTP_AES128_CM_HMAC_SHA1_32",
        /// RFC 7714 14.2: AES-128-GCM.
        SRTP_AEAD_AES_128_GCM = 0x0007 => "SRTP_AEAD_AES_128_GCM",
        /// RFC 7714 14.2: AES-256-GCM.
        SRTP_AEAD_AES_256_GCM = 0x0008 => "SRTP_AEAD_AES_256_GCM",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_values_survive_a_round_trip() {
        let g = NamedGroup::from(0x4242);
        assert_eq!(g, NamedGroup::Unknown(0x4242));
        assert_eq!(g.to_vec(), [0x42, 0x42]);
        assert_eq!(
            NamedGroup::read_exact(&[0x00, 0x1d], "g").unwrap(),
            NamedGroup::x25519
        );
    }

    #[test]
    fn names_look_up_both_ways() {
        assert_eq!(
            CipherSuite::from_name("tls_aes_128_gcm_sha256"),
            Some(CipherSuite::TLS_AES_128_GCM_SHA256)
        );
        assert_eq!(
            SignatureScheme::rsa_pss_rsae_sha256.name(),
            Some("rsa_pss_rsae_sha256")
        );
        assert_eq!(AlertDescription::from(120).to_string(), "no_application_protocol");
    }
}
