//! Interop with GnuTLS as real processes on 127.0.0.1: our client against `gnutls-serv`,
//! our server against `gnutls-cli`.

mod common;

use std::net::TcpStream;

use common::interop::*;
use common::*;
use sanstls::codec::{CipherSuite, NamedGroup, ProtocolVersion};
use sanstls::Connection;

const SUITES: [(CipherSuite, &str); 3] = [
    (CipherSuite::TLS_AES_128_GCM_SHA256, "AES-128-GCM"),
    (CipherSuite::TLS_AES_256_GCM_SHA384, "AES-256-GCM"),
    (CipherSuite::TLS_CHACHA20_POLY1305_SHA256, "CHACHA20-POLY1305"),
];
const GROUPS: [(NamedGroup, &str); 3] = [
    (NamedGroup::x25519, "GROUP-X25519"),
    (NamedGroup::secp256r1, "GROUP-SECP256R1"),
    (NamedGroup::secp384r1, "GROUP-SECP384R1"),
];

fn gnutls_serv(kind: &str, port: u16, priority: &str, extra: &[&str]) -> Peer {
    let v = vectors();
    let mut args: Vec<String> = vec![
        "--port".into(),
        port.to_string(),
        "--x509certfile".into(),
        v.join(format!("localhost-{kind}.pem")).display().to_string(),
        "--x509keyfile".into(),
        v.join(format!("localhost-{kind}.key")).display().to_string(),
        "--priority".into(),
        priority.into(),
        "--http".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    spawn_server("gnutls-serv", &args, port)
}

fn get(config: std::sync::Arc<sanstls::ClientConfig>, port: u16) -> (Connection, String) {
    let mut conn = Connection::client(config, "localhost").unwrap();
    let mut sock = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let body = drive(
        &mut conn,
        &mut sock,
        b"GET / HTTP/1.0\r\n\r\n".to_vec(),
        |_, got| {
            String::from_utf8_lossy(got).contains("</HTML>")
                || String::from_utf8_lossy(got).contains("</html>")
        },
    )
    .unwrap_or_else(|e| panic!("client failed: {e}"));
    (conn, String::from_utf8_lossy(&body).into_owned())
}

const TLS13_ONLY: &str = "NORMAL:-VERS-ALL:+VERS-TLS1.3:+GROUP-ALL:+CHACHA20-POLY1305";

#[test]
fn our_client_against_gnutls_server_every_suite_group_and_key_type() {
    if !have("gnutls-serv") {
        return;
    }
    for kind in KEY_TYPES {
        let port = free_port();
        // gnutls-serv asks for a client certificate by default: our client answers with an
        // empty Certificate.
        let _server = gnutls_serv(kind, port, TLS13_ONLY, &[]);
        for (suite, _) in SUITES {
            for (group, _) in GROUPS {
                let config = client_builder()
                    .cipher_suites(&[suite])
                    .groups(&[group])
                    .build()
                    .unwrap();
                let (conn, page) = get(config, port);
                assert_eq!(conn.protocol_version(), Some(ProtocolVersion::TLSv1_3));
                assert_eq!(conn.cipher_suite(), Some(suite));
                assert_eq!(conn.key_exchange_group(), Some(group));
                assert!(
                    page.starts_with("HTTP/1.0 200 OK"),
                    "{kind} {suite} {group}: {page}"
                );
            }
        }
    }
}

#[test]
fn our_client_answers_gnutls_hello_retry_request_and_alpn() {
    if !have("gnutls-serv") {
        return;
    }
    let port = free_port();
    let priority = "NORMAL:-VERS-ALL:+VERS-TLS1.3:-GROUP-ALL:+GROUP-SECP384R1";
    let _server = gnutls_serv(
        "ecdsa-p256",
        port,
        priority,
        &["--alpn", "h2", "--alpn", "http/1.1"],
    );
    let config = client_builder()
        .groups(&[NamedGroup::x25519, NamedGroup::secp384r1])
        .alpn_protocols(&["http/1.1"])
        .build()
        .unwrap();
    let (conn, page) = get(config, port);
    assert!(conn.had_hello_retry());
    assert_eq!(conn.key_exchange_group(), Some(NamedGroup::secp384r1));
    assert_eq!(conn.alpn_protocol(), Some(&b"http/1.1"[..]));
    assert!(page.starts_with("HTTP/1.0 200 OK"), "{page}");
}

/// GnuTLS 3.7 has no ML-KEM. Our default client (X25519MLKEM768 and x25519 shares) gets
/// x25519 from `gnutls-serv` with its own default priorities, no HelloRetryRequest.
#[test]
fn default_client_gets_x25519_from_gnutls_without_retry() {
    if !have("gnutls-serv") {
        return;
    }
    let port = free_port();
    let _server = gnutls_serv("ecdsa-p256", port, "NORMAL", &[]);
    let (conn, page) = get(client_builder().build().unwrap(), port);
    assert_eq!(conn.protocol_version(), Some(ProtocolVersion::TLSv1_3));
    assert_eq!(conn.key_exchange_group(), Some(NamedGroup::x25519));
    assert!(!conn.had_hello_retry());
    assert!(page.starts_with("HTTP/1.0 200 OK"), "{page}");
}

/// `gnutls-cli` with its default priorities against our default server, which prefers
/// X25519MLKEM768 but takes the x25519 share GnuTLS sent: no HelloRetryRequest.
#[test]
fn gnutls_client_gets_x25519_from_our_default_server_without_retry() {
    if !have("gnutls-cli") {
        return;
    }
    let (port, server) = serve_one(server_builder("ecdsa-p256").build().unwrap());
    let out = gnutls_cli(port, "NORMAL", &[]);
    let (conn, received) = server.join().unwrap();
    assert_eq!(received.unwrap(), b"ping from gnutls\n", "{out}");
    assert_eq!(conn.protocol_version(), Some(ProtocolVersion::TLSv1_3));
    assert_eq!(conn.key_exchange_group(), Some(NamedGroup::x25519));
    assert!(!conn.had_hello_retry());
}

fn gnutls_cli(port: u16, priority: &str, extra: &[&str]) -> String {
    let mut args: Vec<String> = vec![
        "127.0.0.1".into(),
        "--port".into(),
        port.to_string(),
        "--sni-hostname".into(),
        "localhost".into(),
        "--verify-hostname".into(),
        "localhost".into(),
        "--x509cafile".into(),
        vectors().join("ca.pem").display().to_string(),
        "--priority".into(),
        priority.into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    run_client("gnutls-cli", &args, b"ping from gnutls\n")
}

#[test]
fn gnutls_client_against_our_server_every_suite_group_and_key_type() {
    if !have("gnutls-cli") {
        return;
    }
    for kind in KEY_TYPES {
        for (suite, cipher) in SUITES {
            for (group, gname) in GROUPS {
                let config = server_builder(kind).build().unwrap();
                let (port, server) = serve_one(config);
                let priority =
                    format!("NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+{cipher}:-GROUP-ALL:+{gname}");
                let out = gnutls_cli(port, &priority, &[]);
                let (conn, received) = server.join().unwrap();
                let received = received.unwrap_or_else(|e| panic!("{kind} {suite} {group}: {e}\n{out}"));
                assert_eq!(received, b"ping from gnutls\n", "{out}");
                assert!(out.contains("Handshake was completed"), "{out}");
                assert!(out.contains(&format!("({cipher})")), "{out}");
                assert_eq!(conn.cipher_suite(), Some(suite));
                assert_eq!(conn.key_exchange_group(), Some(group));
            }
        }
    }
}

#[test]
fn our_server_sends_hello_retry_request_to_gnutls_and_negotiates_alpn() {
    if !have("gnutls-cli") {
        return;
    }
    let config = server_builder("ecdsa-p256")
        .groups(&[NamedGroup::secp384r1])
        .alpn_protocols(&["h2"])
        .build()
        .unwrap();
    let (port, server) = serve_one(config);
    let out = gnutls_cli(port, "NORMAL:-VERS-ALL:+VERS-TLS1.3", &["--alpn", "h2"]);
    let (conn, received) = server.join().unwrap();
    assert_eq!(received.unwrap(), b"ping from gnutls\n", "{out}");
    assert!(conn.had_hello_retry());
    assert_eq!(conn.alpn_protocol(), Some(&b"h2"[..]));
}
