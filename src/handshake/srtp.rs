//! The `use_srtp` extension's negotiation (RFC 5764 4.1.1), the same for DTLS 1.2 (ServerHello)
//! and DTLS 1.3 (EncryptedExtensions, RFC 8446 4.2). Over TLS and QUIC it is never offered
//! nor answered: RFC 5764 defines it for DTLS alone.

use crate::error::{Error, Failure, Parameter, PeerMisbehaved};
use crate::msgs::UseSrtp;
use crate::srtp::SrtpSettings;

use super::output::Transport;

/// Client: what to offer in the ClientHello, if anything.
pub(crate) fn offer(transport: Transport, ours: &SrtpSettings) -> Option<UseSrtp> {
    (transport.is_dtls() && !ours.profiles.is_empty()).then(|| UseSrtp {
        profiles: ours.profiles.clone(),
        mki: ours.mki.clone(),
    })
}

/// Server: the answer to the client's offer. The first of our profiles the client offered
/// (our preference); none in common, or not DTLS, or (TLS 1.2) no extended master secret to
/// export keys from: no answer (RFC 5764 4.1.1: the server then omits the extension). The
/// MKI is the client's when we accept MKIs, else empty.
pub(crate) fn select(
    transport: Transport,
    ours: &SrtpSettings,
    offered: Option<&UseSrtp>,
    can_export: bool,
) -> Option<UseSrtp> {
    let offered = offered?;
    if !transport.is_dtls() || !can_export {
        return None;
    }
    let profile = ours.profiles.iter().find(|p| offered.profiles.contains(p))?;
    Some(UseSrtp {
        profiles: vec![*profile],
        mki: match ours.accept_mki {
            true => offered.mki.clone(),
            false => Vec::new(),
        },
    })
}

/// Client: checks the server's answer against our offer (RFC 5764 4.1.1) and records the
/// profile and MKI in use. `can_export`: TLS 1.3, or TLS 1.2 with the extended master secret
/// (without it we export nothing, RFC 7627 5.4, so SRTP would have no keys).
pub(crate) fn accept(
    transport: Transport,
    ours: &SrtpSettings,
    answer: &UseSrtp,
    can_export: bool,
) -> Result<(crate::srtp::SrtpProtectionProfile, Vec<u8>), Error> {
    let Some(offered) = offer(transport, ours) else {
        return Err(PeerMisbehaved::UnsolicitedExtension.into());
    };
    // "the server ... MUST include exactly one profile".
    let [profile] = answer.profiles.as_slice() else {
        return Err(PeerMisbehaved::IllegalParameter(Parameter::SrtpProfileCount).into());
    };
    // "If the client receives a profile it did not offer, it MUST abort with illegal_parameter".
    if !offered.profiles.contains(profile) {
        return Err(PeerMisbehaved::IllegalParameter(Parameter::SrtpProfileNotOffered).into());
    }
    // "If the client detects a nonzero-length MKI in the server's response that is different
    // than the one the client offered, then the client MUST abort the handshake".
    if !answer.mki.is_empty() && answer.mki != offered.mki {
        return Err(PeerMisbehaved::IllegalParameter(Parameter::SrtpMki).into());
    }
    if !can_export {
        return Err(Error::HandshakeFailure(Failure::ExtendedMasterSecretRequired));
    }
    Ok((*profile, answer.mki.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::srtp::SrtpProtectionProfile as P;

    fn settings(profiles: &[P], mki: &[u8], accept_mki: bool) -> SrtpSettings {
        SrtpSettings {
            profiles: profiles.to_vec(),
            mki: mki.to_vec(),
            accept_mki,
        }
    }

    #[test]
    fn server_picks_its_own_preference_among_the_offered_profiles() {
        let server = settings(
            &[P::SRTP_AEAD_AES_256_GCM, P::SRTP_AES128_CM_HMAC_SHA1_80],
            &[],
            false,
        );
        let client = offer(
            Transport::Dtls,
            &settings(
                &[P::SRTP_AES128_CM_HMAC_SHA1_80, P::SRTP_AEAD_AES_256_GCM],
                &[1, 2],
                false,
            ),
        )
        .unwrap();
        let answer = select(Transport::Dtls, &server, Some(&client), true).unwrap();
        assert_eq!(answer.profiles, [P::SRTP_AEAD_AES_256_GCM]);
        assert!(answer.mki.is_empty(), "MKI not accepted: empty answer");
        let echo = select(
            Transport::Dtls,
            &settings(&server.profiles, &[], true),
            Some(&client),
            true,
        )
        .unwrap();
        assert_eq!(echo.mki, [1, 2]);
    }

    #[test]
    fn no_common_profile_tls_or_no_ems_means_no_answer() {
        let server = settings(&[P::SRTP_AEAD_AES_128_GCM], &[], false);
        let client = UseSrtp {
            profiles: vec![P::SRTP_AES128_CM_HMAC_SHA1_32],
            mki: vec![],
        };
        assert!(select(Transport::Dtls, &server, Some(&client), true).is_none());
        let both = settings(&[P::SRTP_AES128_CM_HMAC_SHA1_32], &[], false);
        assert!(select(Transport::Tls, &both, Some(&client), true).is_none());
        assert!(select(Transport::Quic, &both, Some(&client), true).is_none());
        assert!(select(Transport::Dtls, &both, Some(&client), false).is_none());
        assert!(offer(Transport::Tls, &both).is_none() && offer(Transport::Quic, &both).is_none());
    }

    #[test]
    fn client_refuses_answers_against_rfc_5764_4_1_1() {
        let ours = settings(
            &[P::SRTP_AES128_CM_HMAC_SHA1_80, P::SRTP_AEAD_AES_128_GCM],
            &[9],
            false,
        );
        let answer = |profiles: &[P], mki: &[u8]| UseSrtp {
            profiles: profiles.to_vec(),
            mki: mki.to_vec(),
        };
        let ok = accept(
            Transport::Dtls,
            &ours,
            &answer(&[P::SRTP_AEAD_AES_128_GCM], &[]),
            true,
        )
        .unwrap();
        assert_eq!(ok, (P::SRTP_AEAD_AES_128_GCM, vec![]));
        let echoed = accept(
            Transport::Dtls,
            &ours,
            &answer(&[P::SRTP_AEAD_AES_128_GCM], &[9]),
            true,
        )
        .unwrap();
        assert_eq!(echoed.1, [9]);
        let err = |a: UseSrtp, t: Transport, ems: bool| accept(t, &ours, &a, ems).unwrap_err();
        assert_eq!(
            err(answer(&[P::SRTP_AEAD_AES_256_GCM], &[]), Transport::Dtls, true),
            PeerMisbehaved::IllegalParameter(Parameter::SrtpProfileNotOffered).into()
        );
        assert_eq!(
            err(
                answer(&[P::SRTP_AES128_CM_HMAC_SHA1_80, P::SRTP_AEAD_AES_128_GCM], &[]),
                Transport::Dtls,
                true
            ),
            PeerMisbehaved::IllegalParameter(Parameter::SrtpProfileCount).into()
        );
        assert_eq!(
            err(
                answer(&[P::SRTP_AES128_CM_HMAC_SHA1_80], &[8]),
                Transport::Dtls,
                true
            ),
            PeerMisbehaved::IllegalParameter(Parameter::SrtpMki).into()
        );
        assert_eq!(
            err(
                answer(&[P::SRTP_AES128_CM_HMAC_SHA1_80], &[]),
                Transport::Tls,
                true
            ),
            PeerMisbehaved::UnsolicitedExtension.into()
        );
        assert_eq!(
            err(
                answer(&[P::SRTP_AES128_CM_HMAC_SHA1_80], &[]),
                Transport::Dtls,
                false
            ),
            Error::HandshakeFailure(Failure::ExtendedMasterSecretRequired)
        );
    }
}
