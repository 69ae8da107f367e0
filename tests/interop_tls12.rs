//! TLS 1.2 interop with real peers on 127.0.0.1: OpenSSL (`s_server -tls1_2`, `s_client
//! -tls1_2`) and GnuTLS (`gnutls-serv`, `gnutls-cli` limited to TLS 1.2), every suite x group x
//! key type; resumption by session ID and by ticket both ways; client authentication both
//! ways. Our client keeps its default versions (1.3 and 1.2), so each test is also a 1.3-capable
//! client meeting a 1.2-only server.

mod common;

use sanstls::Failure;
use std::io::{self, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::interop::*;
use common::*;
use sanstls::codec::{CipherSuite, NamedGroup, ProtocolVersion, SignatureScheme};
use sanstls::pki::{TrustAnchors, WebPkiClientVerifier};
use sanstls::{ClientConfig, Connection, Error, Event, PeerMisbehaved, ServerConfig};

const GROUPS: [NamedGroup; 3] = [NamedGroup::x25519, NamedGroup::secp256r1, NamedGroup::secp384r1];
const V12: &[ProtocolVersion] = &[ProtocolVersion::TLSv1_2];

/// (suite, OpenSSL name, GnuTLS cipher priority name)
const ECDSA_SUITES: [(CipherSuite, &str, &str); 3] = [
    (
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "AES-128-GCM",
    ),
    (
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "AES-256-GCM",
    ),
    (
        CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "CHACHA20-POLY1305",
    ),
];
const RSA_SUITES: [(CipherSuite, &str, &str); 3] = [
    (
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        "ECDHE-RSA-AES128-GCM-SHA256",
        "AES-128-GCM",
    ),
    (
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        "ECDHE-RSA-AES256-GCM-SHA384",
        "AES-256-GCM",
    ),
    (
        CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        "ECDHE-RSA-CHACHA20-POLY1305",
        "CHACHA20-POLY1305",
    ),
];

fn suites_for(kind: &str) -> [(CipherSuite, &'static str, &'static str); 3] {
    if kind == "rsa2048" {
        RSA_SUITES
    } else {
        ECDSA_SUITES
    }
}

fn openssl_group(g: NamedGroup) -> &'static str {
    match g {
        NamedGroup::x25519 => "X25519",
        NamedGroup::secp256r1 => "P-256",
        _ => "P-384",
    }
}

fn gnutls_group(g: NamedGroup) -> &'static str {
    match g {
        NamedGroup::x25519 => "GROUP-X25519",
        NamedGroup::secp256r1 => "GROUP-SECP256R1",
        _ => "GROUP-SECP384R1",
    }
}

fn path(name: &str) -> String {
    vectors().join(name).display().to_string()
}

fn client_verifier() -> Arc<WebPkiClientVerifier> {
    Arc::new(WebPkiClientVerifier::new(
        TrustAnchors::from_pem_file(vectors().join("ca.pem")).unwrap(),
    ))
}

/// Connects our client and sends an HTTP request; returns the connection and the answer.
fn get(config: Arc<ClientConfig>, port: u16, until: &'static str) -> (Connection, String) {
    let mut conn = Connection::client(config, "localhost").unwrap();
    let mut sock = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let body = drive(
        &mut conn,
        &mut sock,
        b"GET / HTTP/1.0\r\n\r\n".to_vec(),
        move |_, got| !until.is_empty() && String::from_utf8_lossy(got).contains(until),
    )
    .unwrap_or_else(|e| panic!("client failed: {e}"));
    (conn, String::from_utf8_lossy(&body).into_owned())
}

fn s_server(kind: &str, port: u16, extra: &[&str]) -> Peer {
    let mut args: Vec<String> = vec![
        "s_server".into(),
        "-tls1_2".into(),
        "-accept".into(),
        port.to_string(),
        "-cert".into(),
        path(&format!("localhost-{kind}.pem")),
        "-key".into(),
        path(&format!("localhost-{kind}.key")),
        "-www".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    spawn_server("openssl", &args, port)
}

fn s_client(port: u16, extra: &[&str]) -> String {
    s_client_env(port, extra, &[])
}

fn s_client_env(port: u16, extra: &[&str], env: &[(&str, &std::path::Path)]) -> String {
    let mut args: Vec<String> = vec![
        "s_client".into(),
        "-tls1_2".into(),
        "-connect".into(),
        format!("127.0.0.1:{port}"),
        "-servername".into(),
        "localhost".into(),
        "-CAfile".into(),
        path("ca.pem"),
        "-verify_return_error".into(),
        "-verify_hostname".into(),
        "localhost".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    run_client_env("openssl", &args, env, b"ping from openssl\n")
}

/// Our server for `n` connections in a row on one port, each echoing until the client
/// closes (for clients that reconnect to resume).
fn serve_n(config: Arc<ServerConfig>, n: usize) -> (u16, std::thread::JoinHandle<Vec<ServedOne>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        listener.set_nonblocking(true).unwrap();
        let start = Instant::now();
        let mut out = Vec::new();
        while out.len() < n && start.elapsed() < DEADLINE {
            match listener.accept() {
                Ok((mut sock, _)) => {
                    sock.set_nonblocking(false).unwrap();
                    out.push(echo(&mut sock, Connection::server(config.clone()).unwrap()));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
        out
    });
    (port, handle)
}

fn echo(sock: &mut TcpStream, mut conn: Connection) -> ServedOne {
    use std::io::Read;
    sock.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
    let start = Instant::now();
    let mut all = Vec::new();
    let result = loop {
        if start.elapsed() > DEADLINE {
            break Ok(all);
        }
        while conn.wants_write() {
            if conn.write_tls(sock).unwrap_or(0) == 0 {
                break;
            }
        }
        if let Some(e) = conn.error() {
            break Err(e.clone());
        }
        match conn.read_tls(sock) {
            Ok(0) => break Ok(all),
            Ok(_) => {}
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => continue,
            Err(_) => break Ok(all),
        }
        if let Err(e) = conn.process_new_packets() {
            let _ = conn.write_tls(sock);
            break Err(e);
        }
        let mut closed = false;
        while let Some(ev) = conn.next_event() {
            closed |= ev == Event::PeerClosed;
        }
        let mut buf = [0u8; 16384];
        let before = all.len();
        while let Ok(n) = conn.reader().read(&mut buf) {
            if n == 0 {
                break;
            }
            all.extend_from_slice(&buf[..n]);
        }
        if all.len() > before {
            let again = all[before..].to_vec();
            let _ = conn.writer().write_all(&again);
        }
        if closed {
            conn.send_close_notify();
            while conn.write_tls(sock).unwrap_or(0) > 0 {}
            break Ok(all);
        }
    };
    (conn, result)
}

// ---------------------------------------------------------------------------------------------
// OpenSSL

#[test]
fn our_client_against_openssl_tls12_server_every_suite_group_and_key_type() {
    if !have("openssl") {
        return;
    }
    for kind in KEY_TYPES {
        let port = free_port();
        let _server = s_server(kind, port, &["-groups", "X25519:P-256:P-384"]);
        for (suite, name, _) in suites_for(kind) {
            for group in GROUPS {
                let config = client_builder()
                    .cipher_suites(&[CipherSuite::TLS_AES_128_GCM_SHA256, suite])
                    .groups(&groups_with_cert_curve(group, kind))
                    .session_cache12(0)
                    .build()
                    .unwrap();
                let mut conn = Connection::client(config, "localhost").unwrap();
                let mut sock = TcpStream::connect(("127.0.0.1", port)).unwrap();
                let body = drive(
                    &mut conn,
                    &mut sock,
                    b"GET / HTTP/1.0\r\n\r\n".to_vec(),
                    |_, _| false,
                )
                .unwrap_or_else(|e| panic!("{kind} {suite} {group}: {e}"));
                let page = String::from_utf8_lossy(&body);
                assert!(
                    page.starts_with("HTTP/1.0 200 ok"),
                    "{kind} {suite} {group}: {page}"
                );
                assert_eq!(conn.protocol_version(), Some(ProtocolVersion::TLSv1_2));
                assert_eq!(conn.cipher_suite(), Some(suite), "{kind}");
                assert_eq!(conn.key_exchange_group(), Some(group), "{kind}");
                assert_eq!(conn.extended_master_secret(), Some(true));
                assert!(page.contains(&format!("TLSv1.2, Cipher is {name}")), "{page}");
            }
        }
    }
}

#[test]
fn openssl_tls12_client_against_our_server_every_suite_group_and_key_type() {
    if !have("openssl") {
        return;
    }
    for kind in KEY_TYPES {
        for (suite, name, _) in suites_for(kind) {
            for group in GROUPS {
                // Our server holds to `group`; the client also lists the certificate's curve.
                let config = server_builder(kind).groups(&[group]).build().unwrap();
                let (port, server) = serve_n(config, 1);
                let groups: Vec<&str> = groups_with_cert_curve(group, kind)
                    .into_iter()
                    .map(openssl_group)
                    .collect();
                let out = s_client(port, &["-cipher", name, "-groups", &groups.join(":")]);
                let (conn, received) = server.join().unwrap().pop().unwrap();
                let received = received.unwrap_or_else(|e| panic!("{kind} {suite} {group}: {e}\n{out}"));
                assert_eq!(received, b"ping from openssl\n", "{out}");
                assert!(out.contains("Verify return code: 0 (ok)"), "{out}");
                assert!(out.contains(&format!("New, TLSv1.2, Cipher is {name}")), "{out}");
                assert!(out.contains("Extended master secret: yes"), "{out}");
                assert_eq!(conn.protocol_version(), Some(ProtocolVersion::TLSv1_2));
                assert_eq!(conn.cipher_suite(), Some(suite));
                assert_eq!(conn.key_exchange_group(), Some(group));
                assert_eq!(conn.server_name(), Some("localhost"));
            }
        }
    }
}

#[test]
fn openssl_listing_only_x25519_gets_no_p256_signature() {
    if !have("openssl") {
        return;
    }
    // RFC 8422 5.1: OpenSSL aborts on an ECDSA key outside its supported_groups ("wrong
    // curve"); we pick a certificate that fits, or refuse with handshake_failure.
    let config = server_builder("ecdsa-p256").build().unwrap();
    let (port, server) = serve_n(config, 1);
    let out = s_client(port, &["-groups", "X25519"]);
    let (_, result) = server.join().unwrap().pop().unwrap();
    assert_eq!(
        result.unwrap_err(),
        Error::HandshakeFailure(Failure::NoCommonSignatureScheme)
    );
    assert!(out.contains("alert handshake failure"), "{out}");
    assert!(!out.contains("wrong curve"), "{out}");

    for (other, name) in [
        ("rsa2048", "ECDHE-RSA-AES256-GCM-SHA384"),
        ("ed25519", "ECDHE-ECDSA-AES256-GCM-SHA384"),
    ] {
        let config = server_builder("ecdsa-p256")
            .add_cert(certified_key(other))
            .build()
            .unwrap();
        let (port, server) = serve_n(config, 1);
        let out = s_client(port, &["-groups", "X25519", "-cipher", name]);
        let (conn, result) = server.join().unwrap().pop().unwrap();
        assert_eq!(result.unwrap(), b"ping from openssl\n", "{other}: {out}");
        assert!(out.contains(&format!("New, TLSv1.2, Cipher is {name}")), "{out}");
        assert_eq!(conn.sent_certificates()[0], certified_key(other).chain[0]);
    }
}

#[test]
fn openssl_resumes_with_our_server_by_ticket_and_by_session_id() {
    if !have("openssl") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("sanstls-tls12-sess-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for tickets in [true, false] {
        let sess = dir.join(format!("s{tickets}.pem")).display().to_string();
        let config = server_builder("ecdsa-p256").tickets12(tickets).build().unwrap();
        let (port, server) = serve_n(config, 2);
        let first = s_client(port, &["-sess_out", &sess]);
        assert!(first.contains("New, TLSv1.2"), "{first}");
        let second = s_client(port, &["-sess_in", &sess]);
        assert!(second.contains("Reused, TLSv1.2"), "tickets={tickets}: {second}");
        let served = server.join().unwrap();
        assert!(!served[0].0.is_resumed());
        assert!(served[1].0.is_resumed());
        assert_eq!(served[1].1.as_deref().unwrap(), b"ping from openssl\n");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// An OpenSSL configuration that turns the extended master secret off: OpenSSL 3.0's
/// s_client has no flag for it, but `Options = -ExtendedMasterSecret` does it.
fn openssl_conf_without_ems(dir: &std::path::Path) -> std::path::PathBuf {
    let conf = dir.join("no-ems.cnf");
    std::fs::write(
        &conf,
        "openssl_conf = openssl_init\n[openssl_init]\nssl_conf = ssl_sect\n[ssl_sect]\n\
         system_default = system_default_sect\n[system_default_sect]\nOptions = -ExtendedMasterSecret\n",
    )
    .unwrap();
    conf
}

#[test]
fn openssl_without_ems_is_served_by_default_and_never_resumed() {
    if !have("openssl") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("sanstls-tls12-noems-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = openssl_conf_without_ems(&dir);
    let env = [("OPENSSL_CONF", conf.as_path())];
    for tickets in [true, false] {
        let sess = dir.join(format!("s{tickets}.pem")).display().to_string();
        let config = server_builder("ecdsa-p256").tickets12(tickets).build().unwrap();
        let (port, server) = serve_n(config, 2);
        let first = s_client_env(port, &["-sess_out", &sess], &env);
        assert!(first.contains("New, TLSv1.2"), "{first}");
        assert!(first.contains("Extended master secret: no"), "{first}");
        // RFC 7627 5.3: no session ID and no ticket for a session that is never resumed, so
        // OpenSSL has nothing resumable to save, and the next connection is a full handshake.
        assert!(
            !std::path::Path::new(&sess).exists(),
            "tickets={tickets}: OpenSSL saved a resumable session"
        );
        let second = s_client_env(port, &["-sess_out", &sess], &env);
        assert!(second.contains("New, TLSv1.2"), "tickets={tickets}: {second}");
        let served = server.join().unwrap();
        assert_eq!(served.len(), 2);
        for (conn, received) in &served {
            assert_eq!(received.as_deref().unwrap(), b"ping from openssl\n");
            assert_eq!(conn.extended_master_secret(), Some(false));
            assert!(!conn.is_resumed());
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn our_client_resumes_with_openssl_by_ticket_and_by_session_id() {
    if !have("openssl") {
        return;
    }
    for no_ticket in [false, true] {
        let port = free_port();
        let extra: &[&str] = if no_ticket { &["-no_ticket"] } else { &[] };
        let _server = s_server("rsa2048", port, extra);
        let config = client_builder().versions(V12).build().unwrap();
        let (first, page) = get(config.clone(), port, "");
        assert!(!first.is_resumed());
        assert!(page.contains("New, TLSv1.2"), "{page}");
        let (second, page) = get(config, port, "");
        assert!(second.is_resumed(), "no_ticket={no_ticket}: {page}");
        assert!(page.contains("Reused, TLSv1.2"), "{page}");
    }
}

#[test]
fn client_authentication_with_openssl_both_ways() {
    if !have("openssl") {
        return;
    }
    // Our client authenticates to s_server -Verify.
    for kind in ["ecdsa-p256", "rsa2048"] {
        let port = free_port();
        let ca = path("ca.pem");
        let _server = s_server("ecdsa-p256", port, &["-Verify", "1", "-CAfile", &ca]);
        let config = client_builder()
            .versions(V12)
            .client_auth_cert(certified_key(kind))
            .build()
            .unwrap();
        let (_, page) = get(config, port, "");
        assert!(page.starts_with("HTTP/1.0 200 ok"), "{kind}: {page}");
        assert!(page.contains("Client certificate"), "{kind}: {page}");
    }
    // s_client authenticates to our server.
    for kind in ["ecdsa-p384", "rsa2048"] {
        let config = server_builder("rsa2048")
            .client_verifier(client_verifier())
            .build()
            .unwrap();
        let (port, server) = serve_n(config, 1);
        let (cert, key) = (
            path(&format!("localhost-{kind}.pem")),
            path(&format!("localhost-{kind}.key")),
        );
        let out = s_client(port, &["-cert", &cert, "-key", &key]);
        let (conn, received) = server.join().unwrap().pop().unwrap();
        assert_eq!(received.unwrap(), b"ping from openssl\n", "{out}");
        // s_client completes the chain from -CAfile: leaf first.
        assert!(!conn.peer_certificates().is_empty());
    }
    // Required and missing: handshake_failure.
    let config = server_builder("ecdsa-p256")
        .client_verifier(client_verifier())
        .build()
        .unwrap();
    let (port, server) = serve_n(config, 1);
    let out = s_client(port, &[]);
    let (_, result) = server.join().unwrap().pop().unwrap();
    assert_eq!(
        result.unwrap_err(),
        Error::HandshakeFailure(Failure::ClientCertificateRequired)
    );
    assert!(out.contains("handshake failure"), "{out}");
}

#[test]
fn rsassa_pss_certificates_with_openssl_tls12_both_ways() {
    if !have("openssl") {
        return;
    }
    let (ca, pss_ca) = (path("ca.pem"), path("rsa-pss-ca.pem"));
    let (cert, key) = (path("localhost-rsa-pss.pem"), path("localhost-rsa-pss.key"));
    // Our client against s_server serving an RSA-PSS chain, with its RSA-PSS client
    // certificate.
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
        .versions(V12)
        .client_auth_cert(certified_key("rsa-pss"))
        .build()
        .unwrap();
    let (conn, page) = get(config, port, "");
    assert!(page.starts_with("HTTP/1.0 200 ok"), "{page}");
    assert!(page.contains("Client certificate"), "{page}");
    assert_eq!(conn.signature_scheme(), Some(SignatureScheme::rsa_pss_pss_sha256));
    assert_eq!(conn.peer_certificates().len(), 2);
    // s_client against our server with the RSA-PSS chain, authenticating with one too.
    let config = server_builder("rsa-pss")
        .client_verifier(client_verifier())
        .build()
        .unwrap();
    let (port, server) = serve_n(config, 1);
    let out = s_client(port, &["-cert", &cert, "-key", &key, "-cert_chain", &pss_ca]);
    let (conn, received) = server.join().unwrap().pop().unwrap();
    assert_eq!(received.unwrap(), b"ping from openssl\n", "{out}");
    assert!(out.contains("Verify return code: 0 (ok)"), "{out}");
    assert!(out.contains("Peer signature type: RSA-PSS"), "{out}");
    assert!(out.contains("New, TLSv1.2, Cipher is ECDHE-RSA"), "{out}");
    assert_eq!(conn.signature_scheme(), Some(SignatureScheme::rsa_pss_pss_sha256));
    assert_eq!(conn.peer_certificates().len(), 2);
}

// ---------------------------------------------------------------------------------------------
// GnuTLS

const GNUTLS12: &str = "NORMAL:-VERS-ALL:+VERS-TLS1.2:+GROUP-ALL:+CHACHA20-POLY1305";

fn gnutls_serv(kind: &str, port: u16, priority: &str, extra: &[&str]) -> Peer {
    let mut args: Vec<String> = vec![
        "--port".into(),
        port.to_string(),
        "--x509certfile".into(),
        path(&format!("localhost-{kind}.pem")),
        "--x509keyfile".into(),
        path(&format!("localhost-{kind}.key")),
        "--priority".into(),
        priority.into(),
        "--http".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    spawn_server("gnutls-serv", &args, port)
}

fn gnutls_cli(port: u16, priority: &str, extra: &[&str]) -> String {
    let mut args: Vec<String> = vec![
        "--port".into(),
        port.to_string(),
        "--x509cafile".into(),
        path("ca.pem"),
        "--priority".into(),
        priority.into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.push("localhost".into());
    run_client("gnutls-cli", &args, b"ping from gnutls\n")
}

fn html_end(got: &str) -> bool {
    got.contains("</HTML>") || got.contains("</html>")
}

#[test]
fn our_client_against_gnutls_tls12_server_every_suite_group_and_key_type() {
    if !have("gnutls-serv") {
        return;
    }
    for kind in KEY_TYPES {
        let port = free_port();
        let _server = gnutls_serv(kind, port, GNUTLS12, &[]);
        for (suite, _, _) in suites_for(kind) {
            for group in GROUPS {
                let config = client_builder()
                    .cipher_suites(&[CipherSuite::TLS_AES_128_GCM_SHA256, suite])
                    .groups(&groups_with_cert_curve(group, kind))
                    .session_cache12(0)
                    .build()
                    .unwrap();
                let mut conn = Connection::client(config, "localhost").unwrap();
                let mut sock = TcpStream::connect(("127.0.0.1", port)).unwrap();
                let body = drive(
                    &mut conn,
                    &mut sock,
                    b"GET / HTTP/1.0\r\n\r\n".to_vec(),
                    |_, got| html_end(&String::from_utf8_lossy(got)),
                )
                .unwrap_or_else(|e| panic!("{kind} {suite} {group}: {e}"));
                let page = String::from_utf8_lossy(&body);
                assert!(page.contains("TLS1.2"), "{page}");
                assert_eq!(conn.protocol_version(), Some(ProtocolVersion::TLSv1_2));
                assert_eq!(conn.cipher_suite(), Some(suite), "{kind}");
                assert_eq!(conn.key_exchange_group(), Some(group), "{kind}");
                assert_eq!(conn.extended_master_secret(), Some(true));
            }
        }
    }
}

#[test]
fn gnutls_tls12_client_against_our_server_every_suite_group_and_key_type() {
    if !have("gnutls-cli") {
        return;
    }
    for kind in KEY_TYPES {
        for (suite, _, cipher) in suites_for(kind) {
            for group in GROUPS {
                let groups: Vec<String> = groups_with_cert_curve(group, kind)
                    .into_iter()
                    .map(|g| format!("+{}", gnutls_group(g)))
                    .collect();
                let priority = format!(
                    "NORMAL:-VERS-ALL:+VERS-TLS1.2:-CIPHER-ALL:+{cipher}:-GROUP-ALL:{}",
                    groups.join(":")
                );
                let config = server_builder(kind).groups(&[group]).build().unwrap();
                let (port, server) = serve_n(config, 1);
                let out = gnutls_cli(port, &priority, &[]);
                let (conn, received) = server.join().unwrap().pop().unwrap();
                let received = received.unwrap_or_else(|e| panic!("{kind} {suite} {group}: {e}\n{out}"));
                assert_eq!(received, b"ping from gnutls\n", "{out}");
                assert!(out.contains("(TLS1.2-"), "{out}");
                assert_eq!(conn.protocol_version(), Some(ProtocolVersion::TLSv1_2));
                assert_eq!(conn.cipher_suite(), Some(suite));
                assert_eq!(conn.key_exchange_group(), Some(group));
            }
        }
    }
}

#[test]
fn gnutls_resumes_with_our_server_and_we_resume_with_gnutls() {
    if !have("gnutls-cli") {
        return;
    }
    for tickets in [true, false] {
        let config = server_builder("ecdsa-p256").tickets12(tickets).build().unwrap();
        let (port, server) = serve_n(config, 2);
        let out = gnutls_cli(port, GNUTLS12, &["--resume"]);
        let served = server.join().unwrap();
        assert!(served[1].0.is_resumed(), "tickets={tickets}: {out}");
        assert!(out.contains("This is a resumed session"), "{out}");
    }
    for no_ticket in [false, true] {
        let port = free_port();
        let extra: &[&str] = if no_ticket { &["--noticket"] } else { &[] };
        let _server = gnutls_serv("ecdsa-p256", port, GNUTLS12, extra);
        let config = client_builder().versions(V12).build().unwrap();
        for round in 0..2 {
            let mut conn = Connection::client(config.clone(), "localhost").unwrap();
            let mut sock = TcpStream::connect(("127.0.0.1", port)).unwrap();
            drive(
                &mut conn,
                &mut sock,
                b"GET / HTTP/1.0\r\n\r\n".to_vec(),
                |_, got| html_end(&String::from_utf8_lossy(got)),
            )
            .unwrap();
            assert_eq!(
                conn.is_resumed(),
                round == 1,
                "no_ticket={no_ticket} round {round}"
            );
        }
    }
}

#[test]
fn client_authentication_with_gnutls_both_ways() {
    if !have("gnutls-cli") {
        return;
    }
    let config = server_builder("ecdsa-p256")
        .client_verifier(client_verifier())
        .build()
        .unwrap();
    let (port, server) = serve_n(config, 1);
    let (cert, key) = (path("localhost-ed25519.pem"), path("localhost-ed25519.key"));
    let out = gnutls_cli(port, GNUTLS12, &["--x509certfile", &cert, "--x509keyfile", &key]);
    let (conn, received) = server.join().unwrap().pop().unwrap();
    assert_eq!(received.unwrap(), b"ping from gnutls\n", "{out}");
    assert_eq!(conn.peer_certificates().len(), 1);

    let port = free_port();
    let ca = path("ca.pem");
    let _server = gnutls_serv(
        "rsa2048",
        port,
        GNUTLS12,
        &[
            "--require-client-cert",
            "--verify-client-cert",
            "--x509cafile",
            &ca,
        ],
    );
    let config = client_builder()
        .versions(V12)
        .client_auth_cert(certified_key("ecdsa-p256"))
        .build()
        .unwrap();
    let mut conn = Connection::client(config, "localhost").unwrap();
    let mut sock = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let body = drive(
        &mut conn,
        &mut sock,
        b"GET / HTTP/1.0\r\n\r\n".to_vec(),
        |_, got| html_end(&String::from_utf8_lossy(got)),
    )
    .unwrap();
    assert!(String::from_utf8_lossy(&body).contains("TLS1.2"));
}

#[test]
fn gnutls_without_ems_is_served_unless_ems_is_required() {
    // OpenSSL 3.0's s_client cannot turn EMS off; GnuTLS can (%NO_SESSION_HASH).
    if !have("gnutls-cli") {
        return;
    }
    let no_ems = "NORMAL:-VERS-ALL:+VERS-TLS1.2:%NO_SESSION_HASH";
    let config = server_builder("ecdsa-p256").require_ems(true).build().unwrap();
    let (port, server) = serve_n(config, 1);
    let out = gnutls_cli(port, no_ems, &[]);
    let (_, result) = server.join().unwrap().pop().unwrap();
    assert_eq!(
        result.unwrap_err(),
        Error::HandshakeFailure(Failure::ExtendedMasterSecretRequired)
    );
    assert!(out.contains("Handshake failed"), "{out}");

    // The default serves it.
    let config = server_builder("ecdsa-p256").build().unwrap();
    let (port, server) = serve_n(config, 1);
    let out = gnutls_cli(port, no_ems, &[]);
    let (conn, result) = server.join().unwrap().pop().unwrap();
    assert_eq!(result.unwrap(), b"ping from gnutls\n", "{out}");
    assert_eq!(conn.extended_master_secret(), Some(false));

    // Our client, told to require EMS, refuses a server that will not do it.
    let port = free_port();
    let _server = gnutls_serv("ecdsa-p256", port, no_ems, &[]);
    let client = client_builder().require_ems(true).build().unwrap();
    let mut conn = Connection::client(client, "localhost").unwrap();
    let mut sock = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let err = drive(
        &mut conn,
        &mut sock,
        b"GET / HTTP/1.0\r\n\r\n".to_vec(),
        |_, _| false,
    )
    .unwrap_err();
    assert_eq!(
        err,
        Error::HandshakeFailure(Failure::ExtendedMasterSecretRequired)
    );
}

#[test]
fn openssl_fallback_scsv_gets_inappropriate_fallback_from_our_tls13_server() {
    if !have("openssl") {
        return;
    }
    // RFC 7507: `s_client -fallback_scsv` is a client retrying at TLS 1.2 after a failed
    // attempt; our server speaks TLS 1.3, so the retry is refused.
    let config = server_builder("ecdsa-p256").build().unwrap();
    let (port, server) = serve_n(config, 1);
    let out = s_client(port, &["-fallback_scsv"]);
    let (conn, received) = server.join().unwrap().pop().unwrap();
    assert!(received.is_err(), "{out}");
    assert_eq!(
        conn.error(),
        Some(&Error::PeerMisbehaved(PeerMisbehaved::InappropriateFallback))
    );
    assert!(out.contains("inappropriate fallback"), "{out}");

    // A TLS 1.2-only server has nothing higher to offer: served.
    let config = server_builder("ecdsa-p256")
        .versions(&[ProtocolVersion::TLSv1_2])
        .build()
        .unwrap();
    let (port, server) = serve_n(config, 1);
    let out = s_client(port, &["-fallback_scsv"]);
    let (_, received) = server.join().unwrap().pop().unwrap();
    assert_eq!(received.unwrap(), b"ping from openssl\n", "{out}");
}
