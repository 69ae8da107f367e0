//! One test per rule, on chains generated here with rcgen.

use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, CertificateRevocationListParams, CidrSubnet,
    CustomExtension, DnType, ExtendedKeyUsagePurpose, GeneralSubtree, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    NameConstraints, RevokedCertParams, SerialNumber,
};

use super::*;
use crate::codec::AlertDescription;

/// 2024-01-01T00:00:00Z.
const NOW: u64 = 1_704_067_200;

struct Ca {
    params: CertificateParams,
    key: KeyPair,
    der: Vec<u8>,
}

fn ca_params(name: &str) -> CertificateParams {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name.push(DnType::CommonName, name);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p.use_authority_key_identifier_extension = true;
    p.not_before = date_time_ymd(2020, 1, 1);
    p.not_after = date_time_ymd(2030, 1, 1);
    p
}

fn root_from(params: CertificateParams) -> Ca {
    let key = KeyPair::generate().unwrap();
    let der = params.self_signed(&key).unwrap().der().to_vec();
    Ca { params, key, der }
}

fn root(name: &str) -> Ca {
    root_from(ca_params(name))
}

fn sub_ca_from(params: CertificateParams, issuer: &Ca) -> Ca {
    let key = KeyPair::generate().unwrap();
    let der = params
        .signed_by(&key, &Issuer::from_params(&issuer.params, &issuer.key))
        .unwrap()
        .der()
        .to_vec();
    Ca { params, key, der }
}

fn sub_ca(name: &str, issuer: &Ca) -> Ca {
    sub_ca_from(ca_params(name), issuer)
}

fn ee_params(names: &[&str]) -> CertificateParams {
    let mut p = CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name
        .push(DnType::OrganizationName, "sanstls test");
    p.use_authority_key_identifier_extension = true;
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.not_before = date_time_ymd(2023, 1, 1);
    p.not_after = date_time_ymd(2025, 1, 1);
    p
}

fn issue(params: &CertificateParams, issuer: &Ca) -> Vec<u8> {
    let key = KeyPair::generate().unwrap();
    params
        .signed_by(&key, &Issuer::from_params(&issuer.params, &issuer.key))
        .unwrap()
        .der()
        .to_vec()
}

fn anchors(roots: &[&Ca]) -> TrustAnchors {
    TrustAnchors::from_der(roots.iter().map(|r| &r.der)).unwrap()
}

fn dns(name: &str) -> ServerName {
    ServerName::parse(name).unwrap()
}

fn server(ee: &[u8], inter: &[&[u8]], ta: &TrustAnchors, name: &str) -> Result<VerifiedPath, CertError> {
    verify_chain(
        ee,
        inter,
        ta,
        KeyPurpose::ServerAuth,
        Some(&dns(name)),
        NOW,
        &[],
        &VerifyOptions::default(),
    )
}

#[test]
fn chain_through_intermediate_verifies() {
    let root = root("root");
    let ica = sub_ca("ica", &root);
    let ee = issue(&ee_params(&["example.com"]), &ica);
    let path = server(&ee, &[&ica.der], &anchors(&[&root]), "example.com").unwrap();
    assert_eq!(path.certs, vec![ee.clone(), ica.der.clone(), root.der.clone()]);
    assert_eq!(path.anchor(), root.der.as_slice());
}

#[test]
fn intermediates_in_any_order_with_extras_and_duplicates() {
    let root = root("root");
    let ica1 = sub_ca("ica1", &root);
    let ica2 = sub_ca("ica2", &ica1);
    let unrelated = sub_ca("other", &root);
    let ee = issue(&ee_params(&["example.com"]), &ica2);
    let inter: Vec<&[u8]> = vec![
        &unrelated.der,
        &ica1.der,
        b"not a certificate",
        &ica2.der,
        &ica1.der,
    ];
    let path = server(&ee, &inter, &anchors(&[&root]), "example.com").unwrap();
    assert_eq!(path.certs.len(), 4);
}

#[test]
fn backtracks_from_a_dead_end_issuer() {
    // Two intermediates share a name and key; the first one tried is expired.
    let root = root("root");
    let key = KeyPair::generate().unwrap();
    let mut expired = ca_params("ica");
    expired.not_after = date_time_ymd(2021, 1, 1);
    let issuer = Issuer::from_params(&root.params, &root.key);
    let expired_der = expired.signed_by(&key, &issuer).unwrap().der().to_vec();
    let valid = ca_params("ica");
    let valid_der = valid.signed_by(&key, &issuer).unwrap().der().to_vec();
    let ica = Ca {
        params: valid,
        key,
        der: valid_der.clone(),
    };
    let ee = issue(&ee_params(&["example.com"]), &ica);
    let path = server(
        &ee,
        &[&expired_der, &valid_der],
        &anchors(&[&root]),
        "example.com",
    )
    .unwrap();
    assert_eq!(path.certs.get(1), Some(&valid_der));
}

#[test]
fn unknown_issuer_without_anchor() {
    let root = root("root");
    let other = root_from(ca_params("other"));
    let ee = issue(&ee_params(&["example.com"]), &root);
    let err = server(&ee, &[], &anchors(&[&other]), "example.com").unwrap_err();
    assert_eq!(err, CertError::UnknownIssuer);
    assert_eq!(err.alert(), AlertDescription::UnknownCa);
}

#[test]
fn validity_is_checked_at_the_injected_time() {
    let root = root("root");
    let ee = issue(&ee_params(&["example.com"]), &root);
    let ta = anchors(&[&root]);
    let at = |now| {
        verify_chain(
            &ee,
            &[],
            &ta,
            KeyPurpose::ServerAuth,
            Some(&dns("example.com")),
            now,
            &[],
            &VerifyOptions::default(),
        )
    };
    assert!(at(NOW).is_ok());
    assert_eq!(at(1_600_000_000).unwrap_err(), CertError::NotYetValid);
    assert_eq!(at(1_800_000_000).unwrap_err(), CertError::Expired);
}

#[test]
fn expired_anchor_is_refused() {
    let mut p = ca_params("root");
    p.not_after = date_time_ymd(2021, 1, 1);
    let root = root_from(p);
    let ee = issue(&ee_params(&["example.com"]), &root);
    assert_eq!(
        server(&ee, &[], &anchors(&[&root]), "example.com").unwrap_err(),
        CertError::Expired
    );
}

#[test]
fn tampered_signature_is_refused() {
    let root = root("root");
    let mut ee = issue(&ee_params(&["example.com"]), &root);
    let last = ee.len() - 1;
    ee[last] ^= 1;
    assert_eq!(
        server(&ee, &[], &anchors(&[&root]), "example.com").unwrap_err(),
        CertError::BadSignature
    );
}

#[test]
fn malformed_der_is_refused() {
    let root = root("root");
    let ee = issue(&ee_params(&["example.com"]), &root);
    let truncated = &ee[..ee.len() - 3];
    assert_eq!(
        server(truncated, &[], &anchors(&[&root]), "example.com").unwrap_err(),
        CertError::BadEncoding
    );
}

#[test]
fn names_match_san_only_with_leftmost_wildcards() {
    let root = root("root");
    let ta = anchors(&[&root]);
    let ee = issue(&ee_params(&["*.example.com", "Exact.Example.net"]), &root);
    assert!(server(&ee, &[], &ta, "foo.example.com").is_ok());
    assert!(server(&ee, &[], &ta, "EXACT.example.NET").is_ok());
    assert_eq!(
        server(&ee, &[], &ta, "example.com").unwrap_err(),
        CertError::NameMismatch {
            expected: "example.com".into(),
            presented: vec!["*.example.com".into(), "Exact.Example.net".into()],
        }
    );
    assert_eq!(
        server(&ee, &[], &ta, "a.b.example.com").unwrap_err(),
        CertError::NameMismatch {
            expected: "a.b.example.com".into(),
            presented: vec!["*.example.com".into(), "Exact.Example.net".into()],
        }
    );
}

#[test]
fn common_name_is_never_used_as_identity() {
    let root = root("root");
    let mut p = ee_params(&["other.example"]);
    p.distinguished_name.push(DnType::CommonName, "example.com");
    let ee = issue(&p, &root);
    assert_eq!(
        server(&ee, &[], &anchors(&[&root]), "example.com").unwrap_err(),
        CertError::NameMismatch {
            expected: "example.com".into(),
            presented: vec!["other.example".into()],
        }
    );
}

#[test]
fn ip_addresses_compare_as_addresses() {
    let root = root("root");
    let ee = issue(&ee_params(&["192.0.2.1", "2001:db8::1"]), &root);
    let ta = anchors(&[&root]);
    assert!(server(&ee, &[], &ta, "192.0.2.1").is_ok());
    assert!(server(&ee, &[], &ta, "2001:DB8:0:0::1").is_ok());
    assert_eq!(
        server(&ee, &[], &ta, "192.0.2.2").unwrap_err(),
        CertError::NameMismatch {
            expected: "192.0.2.2".into(),
            presented: vec!["192.0.2.1".into(), "2001:db8::1".into()],
        }
    );
}

#[test]
fn eku_must_allow_the_purpose() {
    let root = root("root");
    let ta = anchors(&[&root]);
    let mut p = ee_params(&["example.com"]);
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_only = issue(&p, &root);
    assert!(matches!(
        server(&client_only, &[], &ta, "example.com"),
        Err(CertError::ConstraintViolated(_))
    ));
    let verifier = WebPkiClientVerifier::new(ta.clone());
    assert!(verifier.verify_client_cert(&client_only, &[], NOW).is_ok());
    let server_only = issue(&ee_params(&["example.com"]), &root);
    assert!(verifier.verify_client_cert(&server_only, &[], NOW).is_err());
}

#[test]
fn issuer_must_be_a_ca() {
    let root = root("root");
    let mut p = ca_params("not-a-ca");
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_usages = vec![];
    let fake = sub_ca_from(p, &root);
    let ee = issue(&ee_params(&["example.com"]), &fake);
    let err = server(&ee, &[&fake.der], &anchors(&[&root]), "example.com").unwrap_err();
    assert_eq!(err, CertError::ConstraintViolated("issuer is not a CA"));
}

#[test]
fn issuer_key_usage_must_allow_cert_signing() {
    let root = root("root");
    let mut p = ca_params("ica");
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let ica = sub_ca_from(p, &root);
    let ee = issue(&ee_params(&["example.com"]), &ica);
    let err = server(&ee, &[&ica.der], &anchors(&[&root]), "example.com").unwrap_err();
    assert_eq!(
        err,
        CertError::ConstraintViolated("issuer keyUsage lacks keyCertSign")
    );
}

#[test]
fn path_len_constraint_counts_intermediates_below() {
    let mut p = ca_params("root");
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    let root = root_from(p);
    let ica = sub_ca("ica", &root);
    let ee = issue(&ee_params(&["example.com"]), &ica);
    let ta = anchors(&[&root]);
    let err = server(&ee, &[&ica.der], &ta, "example.com").unwrap_err();
    assert_eq!(err, CertError::ConstraintViolated("pathLenConstraint exceeded"));
    // The end entity itself does not count.
    let direct = issue(&ee_params(&["example.com"]), &root);
    assert!(server(&direct, &[], &ta, "example.com").is_ok());
}

#[test]
fn end_entity_must_not_be_a_ca() {
    let root = root("root");
    let mut p = ee_params(&["example.com"]);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ee = issue(&p, &root);
    assert!(matches!(
        server(&ee, &[], &anchors(&[&root]), "example.com"),
        Err(CertError::ConstraintViolated(_))
    ));
}

#[test]
fn unknown_critical_extension_is_refused() {
    let root = root("root");
    let mut p = ee_params(&["example.com"]);
    let mut ext = CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 55555, 1], vec![0x05, 0x00]);
    ext.set_criticality(true);
    p.custom_extensions = vec![ext];
    let ee = issue(&p, &root);
    assert_eq!(
        server(&ee, &[], &anchors(&[&root]), "example.com").unwrap_err(),
        CertError::UnknownCriticalExtension
    );
}

fn constrained_root(nc: NameConstraints) -> Ca {
    let mut p = ca_params("constrained");
    p.name_constraints = Some(nc);
    root_from(p)
}

#[test]
fn name_constraints_permitted_dns() {
    let root = constrained_root(NameConstraints {
        permitted_subtrees: vec![GeneralSubtree::DnsName("example.com".into())],
        excluded_subtrees: vec![],
    });
    let ta = anchors(&[&root]);
    let inside = issue(&ee_params(&["www.example.com"]), &root);
    assert!(server(&inside, &[], &ta, "www.example.com").is_ok());
    let outside = issue(&ee_params(&["www.example.org"]), &root);
    assert_eq!(
        server(&outside, &[], &ta, "www.example.org").unwrap_err(),
        CertError::ConstraintViolated("name not in permitted subtrees")
    );
    // Label boundaries matter: "badexample.com" is not under "example.com".
    let lookalike = issue(&ee_params(&["badexample.com"]), &root);
    assert!(server(&lookalike, &[], &ta, "badexample.com").is_err());
}

#[test]
fn name_constraints_excluded_dns_applies_through_intermediates() {
    let root = constrained_root(NameConstraints {
        permitted_subtrees: vec![],
        excluded_subtrees: vec![GeneralSubtree::DnsName("bad.example".into())],
    });
    let ica = sub_ca("ica", &root);
    let ta = anchors(&[&root]);
    let ee = issue(&ee_params(&["x.bad.example"]), &ica);
    assert_eq!(
        server(&ee, &[&ica.der], &ta, "x.bad.example").unwrap_err(),
        CertError::ConstraintViolated("name in excluded subtree")
    );
    // A wildcard that could cover an excluded name is refused too.
    let wild = issue(&ee_params(&["*.example"]), &ica);
    assert!(server(&wild, &[&ica.der], &ta, "good.example").is_err());
    let fine = issue(&ee_params(&["good.example"]), &ica);
    assert!(server(&fine, &[&ica.der], &ta, "good.example").is_ok());
}

#[test]
fn name_constraints_ip_subtrees() {
    let root = constrained_root(NameConstraints {
        permitted_subtrees: vec![GeneralSubtree::IpAddress(CidrSubnet::V4(
            [192, 0, 2, 0],
            [255, 255, 255, 0],
        ))],
        excluded_subtrees: vec![],
    });
    let ta = anchors(&[&root]);
    let inside = issue(&ee_params(&["192.0.2.7"]), &root);
    assert!(server(&inside, &[], &ta, "192.0.2.7").is_ok());
    let outside = issue(&ee_params(&["198.51.100.7"]), &root);
    assert!(server(&outside, &[], &ta, "198.51.100.7").is_err());
}

#[test]
fn name_constraints_email_subtrees() {
    let root = constrained_root(NameConstraints {
        permitted_subtrees: vec![GeneralSubtree::Rfc822Name("example.com".into())],
        excluded_subtrees: vec![],
    });
    let ta = anchors(&[&root]);
    let client = |email: &str| {
        let mut p = ee_params(&[]);
        p.subject_alt_names = vec![rcgen::SanType::Rfc822Name(email.try_into().unwrap())];
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let ee = issue(&p, &root);
        WebPkiClientVerifier::new(ta.clone()).verify_client_cert(&ee, &[], NOW)
    };
    assert!(client("alice@example.com").is_ok());
    assert!(client("alice@mail.example.com").is_err());
    assert!(client("alice@example.org").is_err());
}

#[test]
fn intermediate_depth_is_capped() {
    let root = root("root");
    let mut chain = vec![sub_ca("ica0", &root)];
    for i in 1..=MAX_INTERMEDIATES {
        let next = sub_ca(&format!("ica{i}"), chain.last().unwrap());
        chain.push(next);
    }
    let ee = issue(&ee_params(&["example.com"]), chain.last().unwrap());
    let inter: Vec<&[u8]> = chain.iter().map(|c| c.der.as_slice()).collect();
    let err = server(&ee, &inter, &anchors(&[&root]), "example.com").unwrap_err();
    assert_eq!(err, CertError::ConstraintViolated("path too long"));
    // The caller may cap it lower.
    let ee2 = issue(&ee_params(&["example.com"]), &chain[1]);
    let opts = VerifyOptions {
        max_intermediates: Some(1),
        ..VerifyOptions::default()
    };
    let name = dns("example.com");
    let r = verify_chain(
        &ee2,
        &inter,
        &anchors(&[&root]),
        KeyPurpose::ServerAuth,
        Some(&name),
        NOW,
        &[],
        &opts,
    );
    assert!(r.is_err());
}

#[test]
fn path_search_work_is_bounded() {
    // Layers of CAs sharing a name and key but differing in serial: every combination
    // verifies, none reaches an anchor, so the search must stop on its budget.
    let top_key = KeyPair::generate().unwrap();
    let top = Ca {
        params: ca_params("top"),
        key: top_key,
        der: Vec::new(),
    };
    let mut layers: Vec<Ca> = vec![top];
    let mut inter = Vec::new();
    for depth in 0..5 {
        let key = KeyPair::generate().unwrap();
        let issuer = layers.last().unwrap();
        let mut made = None;
        for serial in 0..6u8 {
            let mut p = ca_params(&format!("layer{depth}"));
            p.serial_number = Some(SerialNumber::from_slice(&[serial + 1]));
            let der = p
                .signed_by(&key, &Issuer::from_params(&issuer.params, &issuer.key))
                .unwrap();
            inter.push(der.der().to_vec());
            made = Some(p);
        }
        layers.push(Ca {
            params: made.unwrap(),
            key,
            der: Vec::new(),
        });
    }
    let ee = issue(&ee_params(&["example.com"]), layers.last().unwrap());
    let unrelated = root("top");
    let refs: Vec<&[u8]> = inter.iter().map(|c| c.as_slice()).collect();
    let err = server(&ee, &refs, &anchors(&[&unrelated]), "example.com").unwrap_err();
    assert_eq!(err, CertError::PathBuildingBudgetExceeded);
}

fn crl_for(ca: &Ca, revoked: &[&[u8]]) -> Crl {
    let params = CertificateRevocationListParams {
        this_update: date_time_ymd(2023, 1, 1),
        next_update: date_time_ymd(2030, 1, 1),
        crl_number: SerialNumber::from_slice(&[1]),
        issuing_distribution_point: None,
        revoked_certs: revoked
            .iter()
            .map(|serial| RevokedCertParams {
                serial_number: SerialNumber::from_slice(serial),
                revocation_time: date_time_ymd(2023, 6, 1),
                reason_code: None,
                invalidity_date: None,
            })
            .collect(),
        key_identifier_method: rcgen::KeyIdMethod::Sha256,
    };
    let der = params
        .signed_by(&Issuer::from_params(&ca.params, &ca.key))
        .unwrap();
    Crl::from_der(der.der()).unwrap()
}

#[test]
fn revoked_certificate_is_refused_when_crls_are_given() {
    let other = root("other");
    let root = root("root");
    let mut p = ee_params(&["example.com"]);
    p.serial_number = Some(SerialNumber::from_slice(&[0x42]));
    let ee = issue(&p, &root);
    let ta = anchors(&[&root]);
    let name = dns("example.com");
    let run = |crls: &[Crl]| {
        verify_chain(
            &ee,
            &[],
            &ta,
            KeyPurpose::ServerAuth,
            Some(&name),
            NOW,
            crls,
            &VerifyOptions::default(),
        )
    };
    assert!(run(&[]).is_ok());
    assert!(run(&[crl_for(&root, &[&[0x07]])]).is_ok());
    let err = run(&[crl_for(&root, &[&[0x42]])]).unwrap_err();
    assert_eq!(err, CertError::Revoked);
    assert_eq!(err.alert(), AlertDescription::CertificateRevoked);
    // A CRL from another CA with the same serial does not apply.
    assert!(run(&[crl_for(&other, &[&[0x42]])]).is_ok());
}

#[test]
fn verifiers_and_helpers() {
    let root = root("root");
    let ee = issue(&ee_params(&["example.com"]), &root);
    let ta = anchors(&[&root]);
    let v = WebPkiServerVerifier::new(ta.clone());
    assert!(v.verify_server_cert(&ee, &[], &dns("example.com"), NOW).is_ok());
    assert_eq!(
        v.verify_server_cert(&ee, &[], &dns("example.org"), NOW),
        Err(CertError::NameMismatch {
            expected: "example.org".into(),
            presented: vec!["example.com".into()],
        })
    );

    let pinned = PinnedCertVerifier::new(ee.clone());
    assert!(pinned
        .verify_server_cert(&ee, &[], &dns("anything.test"), 0)
        .is_ok());
    assert_eq!(
        pinned.verify_server_cert(&root.der, &[], &dns("a.test"), 0),
        Err(CertError::NotPinned)
    );
    assert!(danger::AcceptAnyServerCert
        .verify_server_cert(b"junk", &[], &dns("a.test"), 0)
        .is_ok());

    let spki = end_entity_spki(&ee).unwrap();
    assert_eq!(spki.first(), Some(&0x30));
    assert_eq!(end_entity_spki(b"junk"), Err(CertError::BadEncoding));

    let client = WebPkiClientVerifier::new(ta.clone()).optional();
    assert!(!client.client_auth_mandatory());
    assert_eq!(client.root_subjects(), ta.subjects());

    let pem = rustls_pki_types::pem::PemObject::pem_slice_iter(
        format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            base64_encode(&root.der)
        )
        .as_bytes(),
    )
    .collect::<Result<Vec<rustls_pki_types::CertificateDer<'static>>, _>>()
    .unwrap();
    assert_eq!(pem.len(), 1);
    let from_pem = TrustAnchors::from_pem(
        format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            base64_encode(&root.der)
        )
        .as_bytes(),
    )
    .unwrap();
    assert_eq!(from_pem, ta);
}

#[test]
fn ed25519_and_p384_chains_verify() {
    let mut p = ca_params("ed-root");
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    let key = KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let der = p.self_signed(&key).unwrap().der().to_vec();
    let ed_root = Ca { params: p, key, der };
    let ica_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
    let ica_params = ca_params("p384-ica");
    let ica_der = ica_params
        .signed_by(&ica_key, &Issuer::from_params(&ed_root.params, &ed_root.key))
        .unwrap()
        .der()
        .to_vec();
    let ica = Ca {
        params: ica_params,
        key: ica_key,
        der: ica_der,
    };
    let ee = issue(&ee_params(&["example.com"]), &ica);
    assert!(server(&ee, &[&ica.der], &anchors(&[&ed_root]), "example.com").is_ok());
}

#[test]
fn every_error_maps_to_an_alert() {
    assert_eq!(CertError::Expired.alert(), AlertDescription::CertificateExpired);
    assert_eq!(
        CertError::UnsupportedAlgorithm.alert(),
        AlertDescription::UnsupportedCertificate
    );
    assert_eq!(CertError::Profile("x").alert(), AlertDescription::BadCertificate);
    assert_eq!(
        CertError::PathBuildingBudgetExceeded.alert(),
        AlertDescription::UnknownCa
    );
}

fn base64_encode(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;
    use std::sync::OnceLock;

    fn fixture() -> &'static (Vec<u8>, Vec<u8>, TrustAnchors) {
        static F: OnceLock<(Vec<u8>, Vec<u8>, TrustAnchors)> = OnceLock::new();
        F.get_or_init(|| {
            let root = root("root");
            let ica = sub_ca("ica", &root);
            let ee = issue(&ee_params(&["example.com"]), &ica);
            (ee, ica.der.clone(), anchors(&[&root]))
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        /// Input from the peer is never a panic, whatever bytes are flipped or cut.
        #[test]
        fn mutated_chains_never_panic(pos in any::<prop::sample::Index>(), byte in any::<u8>(),
                                      cut in any::<prop::sample::Index>(), which in 0..2usize) {
            let (ee, ica, ta) = fixture();
            let (mut ee, mut ica) = (ee.clone(), ica.clone());
            let target = if which == 0 { &mut ee } else { &mut ica };
            let i = pos.index(target.len());
            target[i] = byte;
            let keep = cut.index(target.len() + 1);
            if keep > target.len() / 2 {
                target.truncate(keep);
            }
            let _ = server(&ee, &[&ica], ta, "example.com");
            let _ = end_entity_spki(&ee);
        }
    }
}

#[test]
fn anchors_are_parsed_once_and_rebuild_the_same_cert() {
    // A root with EKU and common names, one with name constraints (not indexable: parsed
    // per verification), and the test PKI's CA from vectors/.
    let mut p = ca_params("indexed root");
    p.distinguished_name.push(DnType::OrganizationName, "org");
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let plain = root_from(p);
    let mut p = ca_params("constrained root");
    p.name_constraints = Some(NameConstraints {
        permitted_subtrees: vec![GeneralSubtree::DnsName("example.com".into())],
        excluded_subtrees: vec![],
    });
    let constrained = root_from(p);
    let vectors_ca = TrustAnchors::from_pem_file(
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("vectors/ca.pem"),
    )
    .unwrap();
    let ta = anchors(&[&plain, &constrained]);
    for a in ta.anchors.iter().chain(&vectors_ca.anchors) {
        let parsed = cert::Cert::parse(&a.der).unwrap();
        match &a.index {
            Some(index) => {
                let rebuilt = cert::Cert::from_index(&a.der, index).unwrap();
                assert_eq!(format!("{rebuilt:?}"), format!("{parsed:?}"));
            }
            None => assert!(parsed.name_constraints.is_some() || parsed.san.is_some()),
        }
    }
    assert!(ta.anchors[0].index.is_some() && ta.anchors[1].index.is_none());
    assert!(vectors_ca.anchors[0].index.is_some());
    // Verification through an indexed anchor and a re-parsed one both still work.
    let ee = issue(&ee_params(&["www.example.com"]), &plain);
    server(&ee, &[], &ta, "www.example.com").unwrap();
    let ee = issue(&ee_params(&["www.example.com"]), &constrained);
    server(&ee, &[], &ta, "www.example.com").unwrap();
    let ee = issue(&ee_params(&["www.other.org"]), &constrained);
    assert!(server(&ee, &[], &ta, "www.other.org").is_err());
}

#[test]
fn rsassa_pss_keys_and_signatures_verify() {
    // vectors/localhost-rsa-pss.pem: an id-RSASSA-PSS end entity signed with RSA-PSS by an
    // id-RSASSA-PSS intermediate under the ECDSA test CA (vectors/gen-certs.sh).
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("vectors");
    let chain: Vec<Vec<u8>> =
        rustls_pki_types::CertificateDer::pem_file_iter(dir.join("localhost-rsa-pss.pem"))
            .unwrap()
            .map(|c| c.unwrap().to_vec())
            .collect();
    let ta = TrustAnchors::from_pem_file(dir.join("ca.pem")).unwrap();
    // 2030-01-01, inside the vectors' validity.
    let now = 1_893_456_000;
    let path = verify_chain(
        &chain[0],
        &[&chain[1]],
        &ta,
        KeyPurpose::ServerAuth,
        Some(&dns("localhost")),
        now,
        &[],
        &VerifyOptions::default(),
    )
    .unwrap();
    assert_eq!(path.certs.len(), 3);
    let spki = end_entity_spki(&chain[0]).unwrap();
    assert_eq!(sig::parse_spki(&spki).unwrap().kind, sig::KeyKind::RsaPss(None));
    // Parameters naming a hash restrict the key to it (RFC 4055 1.2).
    let restricted = include_bytes!("../../vectors/keys/rsa-pss-sha256.spki.der");
    let key = sig::parse_spki(restricted).unwrap();
    assert_eq!(key.kind, sig::KeyKind::RsaPss(Some(sig::Hash::Sha256)));
    // A PSS key does not verify PKCS#1 v1.5 (the algorithm cannot have been used with it).
    let pkcs1_sha256 = [
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00,
    ];
    assert_eq!(
        sig::verify(&key, &pkcs1_sha256, b"m", &[0; 256]),
        Err(CertError::BadSignature)
    );
    // A tampered PSS signature on the end entity is refused.
    let mut bad = chain[0].clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert!(verify_chain(
        &bad,
        &[&chain[1]],
        &ta,
        KeyPurpose::ServerAuth,
        Some(&dns("localhost")),
        now,
        &[],
        &VerifyOptions::default(),
    )
    .is_err());
}

/// [`end_entity_spki`] reads keyUsage with a walk of the raw extensions
/// ([`cert::key_usage_digital_signature`]): the verifier has parsed the certificate in full
/// already. Over every distinct certificate in x509-limbo (leaves, intermediates, roots) the
/// walk must read digitalSignature as x509-parser does, and never accept a keyUsage that
/// x509-parser cannot read (a second instance, a malformed BIT STRING).
#[test]
fn key_usage_walk_agrees_with_x509_parser_over_limbo() {
    use std::io::Read;
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("vectors/x509-limbo/limbo.json.zst");
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut json = String::new();
    ruzstd::decoding::StreamingDecoder::new(std::io::BufReader::new(file))
        .unwrap()
        .read_to_string(&mut json)
        .unwrap();
    let suite: serde_json::Value = serde_json::from_str(&json).unwrap();
    let mut seen = std::collections::HashSet::new();
    let (mut compared, mut without_bit, mut unreadable) = (0, 0, 0);
    for tc in suite["testcases"].as_array().unwrap() {
        for key in ["peer_certificate", "untrusted_intermediates", "trusted_certs"] {
            let pems: Vec<&str> = match &tc[key] {
                serde_json::Value::String(s) => vec![s.as_str()],
                serde_json::Value::Array(a) => a.iter().filter_map(|v| v.as_str()).collect(),
                _ => vec![],
            };
            for pem in pems {
                if !seen.insert(pem.to_owned()) {
                    continue;
                }
                let Ok((_, pem)) = x509_parser::pem::parse_x509_pem(pem.as_bytes()) else {
                    continue;
                };
                let (Ok(x), Ok(raw)) = (pem.parse_x509(), cert::split(&pem.contents)) else {
                    continue;
                };
                let ours = cert::key_usage_digital_signature(&raw);
                compared += 1;
                match x.key_usage() {
                    Ok(ku) => {
                        let theirs = ku.map(|ku| ku.value.digital_signature());
                        without_bit += usize::from(theirs == Some(false));
                        assert_eq!(ours, Ok(theirs), "{}", tc["id"]);
                    }
                    Err(_) => {
                        unreadable += 1;
                        assert!(ours.is_err(), "{}: {ours:?}", tc["id"]);
                    }
                }
            }
        }
    }
    eprintln!(
        "keyUsage: {compared} certificates, {without_bit} without digitalSignature, {unreadable} unreadable"
    );
    assert!(
        compared > 1000 && without_bit > 100,
        "{compared} compared, {without_bit} without the bit"
    );
}

#[test]
fn end_entity_key_usage_is_read_from_the_raw_extensions() {
    let root = root("root");
    let spki_of = |p: &CertificateParams| end_entity_spki(&issue(p, &root));
    // With the bit, without keyUsage at all, and without the bit.
    assert!(spki_of(&ee_params(&["a.test"])).is_ok());
    let mut p = ee_params(&["a.test"]);
    p.key_usages = vec![];
    assert!(spki_of(&p).is_ok());
    p.key_usages = vec![KeyUsagePurpose::KeyEncipherment];
    assert_eq!(
        spki_of(&p),
        Err(CertError::ConstraintViolated("keyUsage lacks digitalSignature"))
    );
    // A second keyUsage (RFC 5280 4.2: one instance), or one whose value is not a BIT
    // STRING, is a malformed certificate.
    let ku = |content: Vec<u8>| CustomExtension::from_oid_content(&[2, 5, 29, 15], content);
    let mut p = ee_params(&["a.test"]);
    p.custom_extensions = vec![ku(vec![0x03, 0x02, 0x07, 0x80])];
    assert_eq!(spki_of(&p), Err(CertError::BadEncoding));
    p.key_usages = vec![];
    assert!(spki_of(&p).is_ok());
    p.custom_extensions = vec![ku(vec![0x04, 0x01, 0x80])];
    assert_eq!(spki_of(&p), Err(CertError::BadEncoding));
    p.custom_extensions = vec![ku(vec![0x03, 0x02, 0x08, 0x80])];
    assert_eq!(spki_of(&p), Err(CertError::BadEncoding));
}
