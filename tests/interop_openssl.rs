//! Interop with OpenSSL as real processes on 127.0.0.1: our client against
//! `openssl s_server -tls1_3`, our server against `openssl s_client -tls1_3`.

mod common;

use std::net::TcpStream;

use common::interop::*;
use common::*;
use sanstls::codec::{CipherSuite, NamedGroup, ProtocolVersion, SignatureScheme};
use sanstls::Connection;

const SUITES: [CipherSuite; 3] = [
    CipherSuite::TLS_AES_128_GCM_SHA256,
    CipherSuite::TLS_AES_256_GCM_SHA384,
    CipherSuite::TLS_CHACHA20_POLY1305_SHA256,
];
const GROUPS: [NamedGroup; 3] = [NamedGroup::x25519, NamedGroup::secp256r1, NamedGroup::secp384r1];

fn openssl_group(g: NamedGroup) -> &'static str {
    match g {
        NamedGroup::x25519 => "X25519",
        NamedGroup::secp256r1 => "P-256",
        _ => "P-384",
    }
}

fn s_server(kind: &str, port: u16, extra: &[&str]) -> Peer {
    let v = vectors();
    let mut args: Vec<String> = vec![
        "s_server".into(),
        "-tls1_3".into(),
        "-accept".into(),
        port.to_string(),
        "-cert".into(),
        v.join(format!("localhost-{kind}.pem")).display().to_string(),
        "-key".into(),
        v.join(format!("localhost-{kind}.key")).display().to_string(),
        "-www".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    spawn_server("openssl", &args, port)
}

/// Connects our client, sends an HTTP request, returns the connection and the response.
fn get(config: std::sync::Arc<sanstls::ClientConfig>, port: u16) -> (Connection, String) {
    let mut conn = Connection::client(config, "localhost").unwrap();
    let mut sock = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let body = drive(
        &mut conn,
        &mut sock,
        b"GET / HTTP/1.0\r\n\r\n".to_vec(),
        |_, _| false,
    )
    .unwrap_or_else(|e| panic!("client failed: {e}"));
    (conn, String::from_utf8_lossy(&body).into_owned())
}

#[test]
fn our_client_against_openssl_server_every_suite_group_and_key_type() {
    if !have("openssl") {
        return;
    }
    for kind in KEY_TYPES {
        let port = free_port();
        let _server = s_server(kind, port, &["-groups", "X25519:P-256:P-384"]);
        for suite in SUITES {
            for group in GROUPS {
                let config = client_builder()
                    .cipher_suites(&[suite])
                    .groups(&[group])
                    .build()
                    .unwrap();
                let (conn, page) = get(config, port);
                assert_eq!(conn.protocol_version(), Some(ProtocolVersion::TLSv1_3));
                assert_eq!(conn.cipher_suite(), Some(suite), "{kind}");
                assert_eq!(conn.key_exchange_group(), Some(group), "{kind}");
                assert!(
                    page.starts_with("HTTP/1.0 200 ok"),
                    "{kind} {suite} {group}: {page}"
                );
                assert!(page.contains(suite.name().unwrap()), "server reports the suite");
            }
        }
    }
}

#[test]
fn our_client_answers_openssl_hello_retry_request() {
    if !have("openssl") {
        return;
    }
    let port = free_port();
    let _server = s_server("ecdsa-p256", port, &["-groups", "P-384"]);
    let config = client_builder()
        .groups(&[NamedGroup::x25519, NamedGroup::secp384r1])
        .build()
        .unwrap();
    let (conn, page) = get(config, port);
    assert!(conn.had_hello_retry());
    assert_eq!(conn.key_exchange_group(), Some(NamedGroup::secp384r1));
    assert!(page.starts_with("HTTP/1.0 200 ok"));
}

/// OpenSSL 3.0 has no ML-KEM. Our default client offers X25519MLKEM768 and x25519 shares;
/// `s_server` with its own default groups ignores the hybrid and takes the x25519 share: no
/// HelloRetryRequest, and its page names the group.
#[test]
fn default_client_gets_x25519_from_openssl_without_retry() {
    if !have("openssl") {
        return;
    }
    let port = free_port();
    let _server = s_server("ecdsa-p256", port, &[]);
    let (conn, page) = get(client_builder().build().unwrap(), port);
    assert_eq!(conn.protocol_version(), Some(ProtocolVersion::TLSv1_3));
    assert_eq!(conn.key_exchange_group(), Some(NamedGroup::x25519));
    assert!(!conn.had_hello_retry());
    assert!(page.starts_with("HTTP/1.0 200 ok"), "{page}");
    // OpenSSL lists what both sides support: not the hybrid, x25519 first.
    assert!(page.contains("Shared groups: x25519:"), "{page}");
}

#[test]
fn our_client_negotiates_alpn_with_openssl() {
    if !have("openssl") {
        return;
    }
    let port = free_port();
    let _server = s_server("ecdsa-p256", port, &["-alpn", "h2,http/1.1"]);
    let config = client_builder().alpn_protocols(&["http/1.1"]).build().unwrap();
    let (conn, _) = get(config, port);
    assert_eq!(conn.alpn_protocol(), Some(&b"http/1.1"[..]));
}

fn s_client(port: u16, extra: &[&str]) -> String {
    let mut args: Vec<String> = vec![
        "s_client".into(),
        "-tls1_3".into(),
        "-connect".into(),
        format!("127.0.0.1:{port}"),
        "-servername".into(),
        "localhost".into(),
        "-CAfile".into(),
        vectors().join("ca.pem").display().to_string(),
        "-verify_return_error".into(),
        "-verify_hostname".into(),
        "localhost".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    run_client("openssl", &args, b"ping from openssl\n")
}

#[test]
fn openssl_client_against_our_server_every_suite_group_and_key_type() {
    if !have("openssl") {
        return;
    }
    for kind in KEY_TYPES {
        for suite in SUITES {
            for group in GROUPS {
                let config = server_builder(kind).build().unwrap();
                let (port, server) = serve_one(config);
                let out = s_client(
                    port,
                    &[
                        "-ciphersuites",
                        suite.name().unwrap(),
                        "-groups",
                        openssl_group(group),
                    ],
                );
                let (conn, received) = server.join().unwrap();
                let received = received.unwrap_or_else(|e| panic!("{kind} {suite} {group}: {e}\n{out}"));
                assert_eq!(received, b"ping from openssl\n", "{out}");
                assert!(out.contains("Verify return code: 0 (ok)"), "{out}");
                assert!(
                    out.contains(&format!("TLSv1.3, Cipher is {}", suite.name().unwrap())),
                    "{out}"
                );
                assert_eq!(conn.cipher_suite(), Some(suite));
                assert_eq!(conn.key_exchange_group(), Some(group));
                assert_eq!(conn.server_name(), Some("localhost"));
            }
        }
    }
}

#[test]
fn our_server_sends_hello_retry_request_to_openssl() {
    if !have("openssl") {
        return;
    }
    let config = server_builder("ecdsa-p256")
        .groups(&[NamedGroup::secp384r1])
        .build()
        .unwrap();
    let (port, server) = serve_one(config);
    let out = s_client(port, &["-groups", "X25519:P-384"]);
    let (conn, received) = server.join().unwrap();
    assert_eq!(received.unwrap(), b"ping from openssl\n", "{out}");
    assert!(conn.had_hello_retry());
    assert_eq!(conn.key_exchange_group(), Some(NamedGroup::secp384r1));
}

/// Our default server prefers X25519MLKEM768, which `s_client` 3.0 does not offer: it
/// takes the client's x25519 share at once, no HelloRetryRequest.
#[test]
fn openssl_client_gets_x25519_from_our_default_server_without_retry() {
    if !have("openssl") {
        return;
    }
    let (port, server) = serve_one(server_builder("ecdsa-p256").build().unwrap());
    let out = s_client(port, &[]);
    let (conn, received) = server.join().unwrap();
    assert_eq!(received.unwrap(), b"ping from openssl\n", "{out}");
    assert_eq!(conn.key_exchange_group(), Some(NamedGroup::x25519));
    assert!(!conn.had_hello_retry());
    assert!(out.contains("Server Temp Key: X25519"), "{out}");
}

#[test]
fn our_server_negotiates_alpn_with_openssl() {
    if !have("openssl") {
        return;
    }
    let config = server_builder("ecdsa-p256")
        .alpn_protocols(&["h2", "http/1.1"])
        .build()
        .unwrap();
    let (port, server) = serve_one(config);
    let out = s_client(port, &["-alpn", "http/1.1"]);
    let (conn, _) = server.join().unwrap();
    assert_eq!(conn.alpn_protocol(), Some(&b"http/1.1"[..]));
    assert!(out.contains("ALPN protocol: http/1.1"), "{out}");
}

#[test]
fn rsassa_pss_certificates_with_openssl_both_ways() {
    if !have("openssl") {
        return;
    }
    let v = vectors();
    let path = |name: &str| v.join(name).display().to_string();
    let (ca, pss_ca) = (path("ca.pem"), path("rsa-pss-ca.pem"));
    let (cert, key) = (path("localhost-rsa-pss.pem"), path("localhost-rsa-pss.key"));
    // Our client against s_server serving an RSA-PSS chain (rsa_pss_pss_sha256 in its
    // CertificateVerify), with its RSA-PSS client certificate.
    let port = free_port();
    let args = [
        "-cert_chain",
        &pss_ca,
        "-Verify",
        "1",
        "-CAfile",
        &ca,
        "-verify_return_error",
    ];
    let _server = s_server("rsa-pss", port, &args);
    let config = client_builder()
        .client_auth_cert(certified_key("rsa-pss"))
        .build()
        .unwrap();
    let (conn, page) = get(config, port);
    assert!(page.starts_with("HTTP/1.0 200 ok"), "{page}");
    assert!(page.contains("Client certificate"), "{page}");
    assert_eq!(conn.signature_scheme(), Some(SignatureScheme::rsa_pss_pss_sha256));
    assert_eq!(conn.peer_certificates().len(), 2);
    // s_client against our server with the RSA-PSS chain, authenticating with one too.
    let anchors = sanstls::pki::TrustAnchors::from_pem_file(v.join("ca.pem")).unwrap();
    let config = server_builder("rsa-pss")
        .client_verifier(std::sync::Arc::new(sanstls::pki::WebPkiClientVerifier::new(
            anchors,
        )))
        .build()
        .unwrap();
    let (port, server) = serve_one(config);
    let out = s_client(port, &["-cert", &cert, "-key", &key, "-cert_chain", &pss_ca]);
    let (conn, received) = server.join().unwrap();
    assert_eq!(received.unwrap(), b"ping from openssl\n", "{out}");
    assert!(out.contains("Verify return code: 0 (ok)"), "{out}");
    assert!(out.contains("Peer signature type: RSA-PSS"), "{out}");
    assert_eq!(conn.signature_scheme(), Some(SignatureScheme::rsa_pss_pss_sha256));
    assert_eq!(conn.peer_certificates().len(), 2);
}
