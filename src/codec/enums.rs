//! IANA registry enums. Unknown values are kept (`Unknown(n)`) so decoding never fails on a
//! value we merely do not support (RFC 8446 4.1.2: unknown suites, groups, schemes are ignored).

use super::{Codec, DecodeError, Reader};

macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident: $int:ty, $read:ident, $what:literal {
        $($variant:ident = $value:literal => $text:literal,)*
    }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $($variant,)*
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
        Ack = 26 => "ack",
    }
}

wire_enum! {
    /// Handshake message type (RFC 8446 4, RFC 5246 7.4, RFC 6347 4.2.1).
    HandshakeType: u8, u8, "handshake type" {
        HelloRequest = 0 => "hello_request",
        ClientHello = 1 => "client_hello",
        ServerHello = 2 => "server_hello",
        HelloVerifyRequest = 3 => "hello_verify_request",
        NewSessionTicket = 4 => "new_session_ticket",
        EndOfEarlyData = 5 => "end_of_early_data",
        HelloRetryRequest = 6 => "hello_retry_request",
        EncryptedExtensions = 8 => "encrypted_extensions",
        Certificate = 11 => "certificate",
        ServerKeyExchange = 12 => "server_key_exchange",
        CertificateRequest = 13 => "certificate_request",
        ServerHelloDone = 14 => "server_hello_done",
        CertificateVerify = 15 => "certificate_verify",
        ClientKeyExchange = 16 => "client_key_exchange",
        Finished = 20 => "finished",
        CertificateStatus = 22 => "certificate_status",
        KeyUpdate = 24 => "key_update",
        MessageHash = 254 => "message_hash",
    }
}

wire_enum! {
    /// Extension type (IANA TLS ExtensionType Values).
    ExtensionType: u16, u16, "extension type" {
        ServerName = 0 => "server_name",
        MaxFragmentLength = 1 => "max_fragment_length",
        StatusRequest = 5 => "status_request",
        SupportedGroups = 10 => "supported_groups",
        EcPointFormats = 11 => "ec_point_formats",
        SignatureAlgorithms = 13 => "signature_algorithms",
        UseSrtp = 14 => "use_srtp",
        Heartbeat = 15 => "heartbeat",
        Alpn = 16 => "application_layer_protocol_negotiation",
        SignedCertificateTimestamp = 18 => "signed_certificate_timestamp",
        Padding = 21 => "padding",
        EncryptThenMac = 22 => "encrypt_then_mac",
        ExtendedMasterSecret = 23 => "extended_master_secret",
        CompressCertificate = 27 => "compress_certificate",
        RecordSizeLimit = 28 => "record_size_limit",
        SessionTicket = 35 => "session_ticket",
        PreSharedKey = 41 => "pre_shared_key",
        EarlyData = 42 => "early_data",
        SupportedVersions = 43 => "supported_versions",
        Cookie = 44 => "cookie",
        PskKeyExchangeModes = 45 => "psk_key_exchange_modes",
        CertificateAuthorities = 47 => "certificate_authorities",
        OidFilters = 48 => "oid_filters",
        PostHandshakeAuth = 49 => "post_handshake_auth",
        SignatureAlgorithmsCert = 50 => "signature_algorithms_cert",
        KeyShare = 51 => "key_share",
        ConnectionId = 54 => "connection_id",
        // RFC 9001 8.2 (QUIC).
        QuicTransportParameters = 57 => "quic_transport_parameters",
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
        TLS_EMPTY_RENEGOTIATION_INFO_SCSV = 0x00ff => "TLS_EMPTY_RENEGOTIATION_INFO_SCSV",
        TLS_FALLBACK_SCSV = 0x5600 => "TLS_FALLBACK_SCSV",
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
        // draft-ietf-tls-ecdhe-mlkem: ECDHE + ML-KEM hybrids (FIPS 203), TLS 1.3 only.
        SecP256r1MLKEM768 = 0x11eb => "SecP256r1MLKEM768",
        X25519MLKEM768 = 0x11ec => "X25519MLKEM768",
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
