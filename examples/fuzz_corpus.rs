//! Writes the seed corpora of the cargo-fuzz targets in `fuzz/` (feature `fuzzing`):
//!
//! ```sh
//! cargo run --features fuzzing --example fuzz_corpus -- fuzz/seeds [vectors/illustrated]
//! ```
//!
//! Seeds come from two places. The illustrated TLS 1.3 and TLS 1.2 captures: every record
//! file goes to `deframer` and to `client`/`server` by its sender, every plaintext handshake
//! message to `message`, and the server certificates to `x509`. And handshakes recorded in
//! process: the fuzz targets' own client and server (`sanstls::fuzzing`'s configs, counting
//! randomness from zero) against each other and against rustls, in TLS 1.3 (plain, HRR, ALPN)
//! and TLS 1.2. Because the fuzz client's randomness restarts at zero for every input, a
//! recorded server flight answers exactly the ClientHello the fuzz client sends, so a seed
//! replays through the key exchange, the encrypted flight and application data.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use rustls::crypto::ring as provider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use sanstls::codec::{CipherSuite, HandshakeType, NamedGroup, ProtocolVersion};
use sanstls::dtls::{Accepted, DtlsAcceptor, DtlsConnection};
use sanstls::fuzzing::{self, MessageFamily};
use sanstls::Connection;

/// One end of an in-memory connection: ours or rustls.
trait End {
    fn output(&mut self) -> Vec<u8>;
    fn input(&mut self, data: &[u8]);
    fn send_app(&mut self, data: &[u8]);
    /// Ours only: a KeyUpdate asking the peer to update too, then (later) close_notify.
    fn key_update(&mut self) {}
    fn close(&mut self) {}
    fn status(&self) -> String {
        String::new()
    }
}

impl End for Connection {
    fn output(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        while self.write_tls(&mut out).unwrap_or(0) > 0 {}
        out
    }
    fn input(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            match self.read_tls(&mut data) {
                Ok(n) if n > 0 => {
                    if self.process_new_packets().is_err() {
                        return;
                    }
                }
                _ => return,
            }
        }
        while self.next_event().is_some() {}
        let mut sink = Vec::new();
        let _ = std::io::Read::read_to_end(&mut self.reader(), &mut sink);
    }
    fn send_app(&mut self, data: &[u8]) {
        let _ = self.writer().write_all(data);
    }
    fn key_update(&mut self) {
        let _ = self.request_key_update(true);
    }
    fn close(&mut self) {
        self.send_close_notify();
    }
    fn status(&self) -> String {
        format!("{:?} hs={}", self.error(), self.is_handshaking())
    }
}

impl<D> End for rustls::ConnectionCommon<D> {
    fn output(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        while self.wants_write() {
            if self.write_tls(&mut out).is_err() {
                break;
            }
        }
        out
    }
    fn input(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            match self.read_tls(&mut data) {
                Ok(n) if n > 0 => {
                    if self.process_new_packets().is_err() {
                        return;
                    }
                }
                _ => return,
            }
        }
        let mut sink = Vec::new();
        let _ = std::io::Read::read_to_end(&mut self.reader(), &mut sink);
    }
    fn send_app(&mut self, data: &[u8]) {
        let _ = self.writer().write_all(data);
    }
}

/// Runs a handshake, a little data each way, a KeyUpdate and close_notify from our side(s),
/// returning everything each side sent.
fn record(client: &mut dyn End, server: &mut dyn End) -> (Vec<u8>, Vec<u8>) {
    let (mut c_sent, mut s_sent) = (Vec::new(), Vec::new());
    let mut exchange = |client: &mut dyn End, server: &mut dyn End, rounds: usize| {
        for _ in 0..rounds {
            let c = client.output();
            server.input(&c);
            let s = server.output();
            client.input(&s);
            c_sent.extend_from_slice(&c);
            s_sent.extend_from_slice(&s);
            if std::env::var_os("DBG").is_some() {
                eprintln!(
                    "round: c {} bytes, s {} bytes; {} / {}",
                    c.len(),
                    s.len(),
                    client.status(),
                    server.status()
                );
            }
        }
    };
    exchange(client, server, 8);
    client.send_app(b"GET / HTTP/1.0\r\n\r\n");
    server.send_app(b"HTTP/1.0 200 OK\r\n\r\nhello");
    server.key_update();
    exchange(client, server, 3);
    server.close();
    client.close();
    exchange(client, server, 2);
    (c_sent, s_sent)
}

struct Seeds {
    root: PathBuf,
    n: usize,
}

impl Seeds {
    /// A connection seed: reports how far a fresh fuzz-target connection gets on it.
    fn conn(&mut self, target: &str, name: &str, data: &[u8]) {
        let mut conn = if target == "client" {
            Connection::client(fuzzing::client_config(), "localhost").unwrap()
        } else {
            Connection::server(fuzzing::server_config()).unwrap()
        };
        let _ = conn.output();
        conn.input(data);
        let how = match (conn.is_handshaking(), conn.error()) {
            (_, Some(e)) => format!("error: {e}"),
            (true, None) => "handshaking".into(),
            (false, None) => "handshake complete".into(),
        };
        println!("{target}/{name}: {how}");
        self.put(target, name, data);
    }

    fn put(&mut self, target: &str, name: &str, data: &[u8]) {
        let dir = self.root.join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), data).unwrap();
        self.n += 1;
    }

    /// Records to `deframer`, every plaintext handshake message in them to `message`.
    fn records(&mut self, name: &str, data: &[u8], family: MessageFamily) {
        self.put("deframer", name, data);
        let mut rest = data;
        let mut i = 0;
        while let [typ, _, _, hi, lo, tail @ ..] = rest {
            let len = usize::from(u16::from_be_bytes([*hi, *lo]));
            let Some(payload) = tail.get(..len) else { break };
            if *typ == 22 {
                self.handshake_messages(&format!("{name}-{i}"), payload, family);
            }
            rest = &tail[len..];
            i += 1;
        }
    }

    fn handshake_messages(&mut self, name: &str, mut data: &[u8], family: MessageFamily) {
        let mut i = 0;
        while let [typ, a, b, c, tail @ ..] = data {
            let len = usize::from(*a) << 16 | usize::from(*b) << 8 | usize::from(*c);
            let Some(body) = tail.get(..len) else { break };
            self.put(
                "message",
                &format!("{name}-m{i}"),
                &fuzzing::message_input(family, *typ, body),
            );
            data = &tail[len..];
            i += 1;
        }
    }
}

fn vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("vectors")
}

fn pem_chain(path: &Path) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_file_iter(path)
        .unwrap()
        .map(|c| c.unwrap())
        .collect()
}

fn rustls_client(tls12: bool) -> rustls::ClientConnection {
    let mut roots = rustls::RootCertStore::empty();
    for cert in pem_chain(&vectors().join("ca.pem")) {
        roots.add(cert).unwrap();
    }
    let version = if tls12 {
        &rustls::version::TLS12
    } else {
        &rustls::version::TLS13
    };
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(provider::default_provider()))
        .with_protocol_versions(&[version])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    rustls::ClientConnection::new(Arc::new(config), ServerName::try_from("localhost").unwrap()).unwrap()
}

fn rustls_server(tls12: bool, kind: &str) -> rustls::ServerConnection {
    let v = vectors();
    let chain = pem_chain(&v.join(format!("localhost-{kind}.pem")));
    let key = PrivateKeyDer::from_pem_file(v.join(format!("localhost-{kind}.key"))).unwrap();
    let version = if tls12 {
        &rustls::version::TLS12
    } else {
        &rustls::version::TLS13
    };
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(provider::default_provider()))
        .with_protocol_versions(&[version])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    rustls::ServerConnection::new(Arc::new(config)).unwrap()
}

/// A zstd-compressed text file (the repository keeps limbo.json that way).
fn read_zst(path: &std::path::Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut text = String::new();
    ruzstd::decoding::StreamingDecoder::new(std::io::BufReader::new(std::fs::File::open(path)?))
        .map_err(std::io::Error::other)?
        .read_to_string(&mut text)?;
    Ok(text)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let root = PathBuf::from(args.next().unwrap_or_else(|| "fuzz/seeds".into()));
    let illustrated = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("vectors/illustrated"));
    let mut seeds = Seeds { root, n: 0 };

    // The illustrated captures: whole records are named client*/server*; the plaintext
    // handshake messages of TLS 1.3 (serverextensions, servercert, ...) end in the inner
    // content type byte.
    for (dir, family) in [("tls13", MessageFamily::Tls13), ("tls12", MessageFamily::Tls12)] {
        let caps = illustrated.join(dir).join("caps");
        let Ok(entries) = std::fs::read_dir(&caps) else {
            eprintln!("no captures at {}", caps.display());
            continue;
        };
        let mut client = Vec::new();
        let mut server = Vec::new();
        let mut names: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
        names.sort();
        for p in names {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let data = std::fs::read(&p).unwrap();
            let is_record = matches!(data.as_slice(), [20..=23, 3, 1..=4, ..]);
            if is_record {
                seeds.records(&format!("illustrated-{dir}-{name}"), &data, family);
                if name.ends_with("plain") {
                    continue;
                }
                let side = if name.starts_with("client") {
                    &mut client
                } else {
                    &mut server
                };
                side.push((name, data));
            } else if let [msg @ .., 22] = data.as_slice() {
                seeds.handshake_messages(&format!("illustrated-{dir}-{name}"), msg, family);
            }
        }
        // Flights in protocol order (hello, then the rest by name is close enough for a seed).
        for (target, mut recs) in [("client", server), ("server", client)] {
            recs.sort_by_key(|(n, _)| !n.contains("hello"));
            let all: Vec<u8> = recs.iter().flat_map(|(_, d)| d.iter().copied()).collect();
            seeds.conn(target, &format!("illustrated-{dir}"), &all);
        }
        if let Ok(crt) = std::fs::read(illustrated.join(dir).join("server.crt")) {
            let ders: Vec<Vec<u8>> = match CertificateDer::pem_slice_iter(&crt).collect::<Result<Vec<_>, _>>()
            {
                Ok(v) if !v.is_empty() => v.into_iter().map(|c| c.to_vec()).collect(),
                _ => vec![crt],
            };
            let refs: Vec<&[u8]> = ders.iter().map(|d| d.as_slice()).collect();
            seeds.put(
                "x509",
                &format!("illustrated-{dir}"),
                &fuzzing::x509_input(0, &refs),
            );
        }
    }

    // The test PKI: each key type's chain alone, named, with the CA as an extra anchor, and
    // for client auth.
    let ca = pem_chain(&vectors().join("ca.pem"));
    for kind in ["ecdsa-p256", "ecdsa-p384", "ed25519", "rsa2048"] {
        let chain = pem_chain(&vectors().join(format!("localhost-{kind}.pem")));
        let mut refs: Vec<&[u8]> = chain.iter().map(|c| c.as_ref()).collect();
        seeds.put(
            "x509",
            &format!("{kind}-named"),
            &fuzzing::x509_input(2 | 16, &refs),
        );
        seeds.put("x509", &format!("{kind}-client"), &fuzzing::x509_input(1, &refs));
        refs.push(ca[0].as_ref());
        seeds.put(
            "x509",
            &format!("{kind}-anchor"),
            &fuzzing::x509_input(2 | 4, &refs),
        );
    }

    // Every 40th x509-limbo case: its chain with its first trusted certificate as the extra
    // anchor (or its CRL instead), verified at 2024-01-01.
    let limbo = illustrated.join("../x509-limbo/limbo.json.zst");
    if let Ok(text) = read_zst(&limbo) {
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        let cases = doc["testcases"].as_array().cloned().unwrap_or_default();
        let ders = |v: &serde_json::Value| -> Vec<Vec<u8>> {
            let pems: Vec<String> = match v {
                serde_json::Value::String(s) => vec![s.clone()],
                serde_json::Value::Array(a) => {
                    a.iter().filter_map(|x| x.as_str().map(String::from)).collect()
                }
                _ => Vec::new(),
            };
            pems.iter()
                .flat_map(|p| CertificateDer::pem_slice_iter(p.as_bytes()).filter_map(Result::ok))
                .map(|c| c.to_vec())
                .collect()
        };
        for case in cases.iter().step_by(40) {
            let mut chain = ders(&case["peer_certificate"]);
            chain.extend(ders(&case["untrusted_intermediates"]));
            let mut flags = 32 | 4;
            if case["validation_kind"] == "CLIENT" {
                flags |= 1;
            }
            let crls: Vec<Vec<u8>> = case["crls"]
                .as_array()
                .map(|a| a.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>())
                .unwrap_or_default()
                .iter()
                .flat_map(|p| rustls_pki_types::CertificateRevocationListDer::pem_slice_iter(p.as_bytes()))
                .filter_map(Result::ok)
                .map(|c| c.to_vec())
                .collect();
            if let Some(crl) = crls.first() {
                flags = (flags & !4) | 8;
                chain.push(crl.clone());
            } else if let Some(anchor) = ders(&case["trusted_certs"]).first() {
                chain.push(anchor.clone());
            }
            let refs: Vec<&[u8]> = chain.iter().map(|c| c.as_slice()).collect();
            let id = case["id"].as_str().unwrap_or("case").replace("::", "-");
            seeds.put("x509", &format!("limbo-{id}"), &fuzzing::x509_input(flags, &refs));
        }
    } else {
        eprintln!("no x509-limbo at {}", limbo.display());
    }

    // Our client against our server, both with the fuzz targets' configs.
    // Each case says which side runs the fuzz target's own (default) config: only that
    // side's seed replays past the key exchange, the other still seeds the message shapes.
    let alpn_client = fuzzing::client_builder()
        .alpn_protocols(&["h2", "http/1.1"])
        .build()
        .unwrap();
    let alpn_chacha_server = fuzzing::server_builder()
        .alpn_protocols(&["http/1.1"])
        .cipher_suites(&[CipherSuite::TLS_CHACHA20_POLY1305_SHA256])
        .build()
        .unwrap();
    let hrr_server = fuzzing::server_builder()
        .groups(&[NamedGroup::secp384r1])
        .build()
        .unwrap();
    let server12 = fuzzing::server_builder()
        .versions(&[ProtocolVersion::TLSv1_2])
        .build()
        .unwrap();
    let client12 = fuzzing::client_builder()
        .versions(&[ProtocolVersion::TLSv1_2])
        .build()
        .unwrap();
    let hybrid_client = |g| fuzzing::client_builder().groups(&[g]).build().unwrap();
    let cases = [
        ("tls13", fuzzing::client_config(), fuzzing::server_config()),
        // The fuzz server takes the hybrids: these replay past the key exchange server-side.
        (
            "tls13-x25519mlkem768",
            hybrid_client(NamedGroup::X25519MLKEM768),
            fuzzing::server_config(),
        ),
        (
            "tls13-secp384r1mlkem1024",
            hybrid_client(NamedGroup::SecP384r1MLKEM1024),
            fuzzing::server_config(),
        ),
        ("tls13-hrr", fuzzing::client_config(), hrr_server),
        ("tls13-alpn-chacha", alpn_client, alpn_chacha_server),
        ("tls12", fuzzing::client_config(), server12),
        ("tls12-client", client12, fuzzing::server_config()),
    ];
    for (name, client, server) in cases {
        let (mut c, mut s) = pair(client, server);
        let (c_sent, s_sent) = record(&mut c, &mut s);
        eprintln!("recorded {name}: client {:?} server {:?}", c.error(), s.error());
        seeds.conn("client", &format!("sanstls-{name}"), &s_sent);
        seeds.conn("server", &format!("sanstls-{name}"), &c_sent);
        seeds.records(&format!("sanstls-{name}-c"), &c_sent, family_of(name));
        seeds.records(&format!("sanstls-{name}-s"), &s_sent, family_of(name));
    }

    // rustls on the other side, both ways and both versions.
    for tls12 in [false, true] {
        let v = if tls12 { "tls12" } else { "tls13" };
        let mut ours = Connection::server(fuzzing::server_config()).unwrap();
        let mut theirs = rustls_client(tls12);
        let (c_sent, s_sent) = record(&mut *theirs, &mut ours);
        seeds.conn("server", &format!("rustls-client-{v}"), &c_sent);
        seeds.records(&format!("rustls-client-{v}"), &c_sent, family_of(v));
        seeds.records(&format!("rustls-client-{v}-ours"), &s_sent, family_of(v));

        let mut ours = Connection::client(fuzzing::client_config(), "localhost").unwrap();
        let mut theirs = rustls_server(tls12, "ecdsa-p256");
        let (_, s_sent) = record(&mut ours, &mut *theirs);
        seeds.conn("client", &format!("rustls-server-{v}"), &s_sent);
        seeds.records(&format!("rustls-server-{v}"), &s_sent, family_of(v));
    }

    // The replay window: in-order, reordered inside the window, duplicates and a jump.
    let mut steps = Vec::new();
    for (op, off) in [
        (3u8, 1u16),
        (3, 1),
        (1, 3),
        (1, 1),
        (2, 0),
        (3, 200),
        (1, 63),
        (1, 64),
        (5, 40000),
        (7, 0),
    ] {
        steps.push(op);
        steps.extend_from_slice(&off.to_be_bytes());
    }
    seeds.put("replay_window", "mixed", &steps);

    // Handshake types the captures do not show, as empty and minimal bodies.
    for (typ, body) in [
        (HandshakeType::KeyUpdate, &[0u8][..]),
        (HandshakeType::EndOfEarlyData, &[][..]),
        (HandshakeType::HelloRequest, &[][..]),
    ] {
        seeds.put(
            "message",
            &format!("min-{}", typ.get()),
            &fuzzing::message_input(MessageFamily::Tls13, typ.get(), body),
        );
    }
    let mut dtls = vec![22u8, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 5, 0, 12];
    dtls.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7]);
    seeds.put(
        "message",
        "dtls-headers",
        &fuzzing::message_input(MessageFamily::Dtls, 0, &dtls),
    );
    seeds.put(
        "message",
        "alert",
        &fuzzing::message_input(MessageFamily::Alert, 0, &[2, 40]),
    );

    dtls_seeds(&mut seeds);

    println!("{} seeds under {}", seeds.n, seeds.root.display());
}

/// The server side of a recorded DTLS handshake: the acceptor until the cookie checks out.
enum DtlsServer {
    Acceptor(Box<DtlsAcceptor>),
    Conn(Box<DtlsConnection>),
}

/// One recorded DTLS handshake between the fuzz client and server.
struct DtlsCase {
    name: &'static str,
    /// The client's and the server's flags bytes (versions, MTU; the server's cookie bit).
    client: u8,
    server: u8,
    /// Client datagrams (by index) lost on the way; the client's timer resends them.
    lose: &'static [usize],
    /// After the data: the client sends a KeyUpdate asking the server to update too.
    key_update: bool,
}

/// A DTLS handshake between the fuzz client and server, recorded as each side's input
/// (`fuzzing::DtlsStep`s): the datagrams it received, its polls, its timeouts and its own
/// actions (a write each way, the KeyUpdate, close_notify). The clock moves as the fuzz
/// drivers move it, so the recording replays exactly.
fn record_dtls(case: &DtlsCase) -> (Vec<u8>, Vec<u8>) {
    use fuzzing::DtlsStep;
    let c_cfg = fuzzing::dtls_config(case.client);
    let s_cfg = fuzzing::dtls_config(case.server);
    let mtu = c_cfg.mtu.max(s_cfg.mtu);
    let start = Instant::now();
    let (mut c_now, s_now) = (start, start);
    let mut client = DtlsConnection::client(
        fuzzing::dtls_client_config(case.client),
        "localhost",
        c_cfg,
        c_now,
    )
    .unwrap();
    let s_config = fuzzing::dtls_server_config(case.server);
    let mut server = if case.server & fuzzing::DTLS_NO_COOKIE != 0 {
        DtlsServer::Conn(Box::new(DtlsConnection::server(s_config, s_cfg).unwrap()))
    } else {
        DtlsServer::Acceptor(Box::new(DtlsAcceptor::new(s_config, s_cfg, s_now).unwrap()))
    };
    let (mut c_in, mut s_in) = (vec![case.client], vec![case.server]);
    let mut sent = 0;
    let mut buf = vec![0u8; mtu];
    let mut drain = |conn: &mut DtlsConnection, steps: &mut Vec<u8>| {
        fuzzing::dtls_step(steps, DtlsStep::Poll);
        let mut out = Vec::new();
        while let Some(n) = conn.poll_datagram(&mut buf) {
            out.push(buf[..n].to_vec());
        }
        while conn.next_event().is_some() {}
        let mut sink = Vec::new();
        let _ = std::io::Read::read_to_end(&mut conn.reader(), &mut sink);
        out
    };
    for round in 0..14 {
        match round {
            6 => {
                let _ = client.writer().write_all(&[b'a'; 20]);
                fuzzing::dtls_step(&mut c_in, DtlsStep::Write(20));
                if let DtlsServer::Conn(conn) = &mut server {
                    let _ = conn.writer().write_all(&[b'a'; 40]);
                    fuzzing::dtls_step(&mut s_in, DtlsStep::Write(40));
                }
            }
            8 if case.key_update => {
                client.request_key_update(true).unwrap();
                fuzzing::dtls_step(&mut c_in, DtlsStep::KeyUpdate(true));
            }
            11 => {
                client.send_close_notify();
                fuzzing::dtls_step(&mut c_in, DtlsStep::Close);
                if let DtlsServer::Conn(conn) = &mut server {
                    conn.send_close_notify();
                    fuzzing::dtls_step(&mut s_in, DtlsStep::Close);
                }
            }
            _ => {}
        }
        let mut to_server = drain(&mut client, &mut c_in);
        if to_server.is_empty() && client.poll_timeout().is_some() {
            // Nothing to say: the client's timer fires (after a loss, that resends).
            fuzzing::dtls_step(&mut c_in, DtlsStep::Timeout(0));
            c_now = fuzzing::dtls_advance(c_now, Some(&client), 0);
            let _ = client.handle_timeout(c_now);
            to_server = drain(&mut client, &mut c_in);
        }
        let mut to_client = Vec::new();
        for d in to_server {
            sent += 1;
            if case.lose.contains(&(sent - 1)) {
                continue;
            }
            fuzzing::dtls_step(&mut s_in, DtlsStep::Datagram(&d));
            match &mut server {
                DtlsServer::Acceptor(a) => match a.accept(&d, fuzzing::DTLS_CLIENT_ADDR, s_now) {
                    Accepted::HelloVerifyRequest(reply) | Accepted::HelloRetryRequest(reply) => {
                        to_client.push(reply)
                    }
                    Accepted::Connection(conn) => server = DtlsServer::Conn(conn),
                    Accepted::Dropped => {}
                },
                DtlsServer::Conn(conn) => {
                    let _ = conn.recv_datagram(&d, s_now);
                }
            }
        }
        if let DtlsServer::Conn(conn) = &mut server {
            to_client.extend(drain(conn, &mut s_in));
        }
        for d in to_client {
            fuzzing::dtls_step(&mut c_in, DtlsStep::Datagram(&d));
            let _ = client.recv_datagram(&d, c_now);
        }
    }
    let server_status = match &server {
        DtlsServer::Conn(conn) => format!("{:?} hs={}", conn.error(), conn.is_handshaking()),
        DtlsServer::Acceptor(_) => "never accepted".into(),
    };
    eprintln!(
        "recorded {}: client {:?} hs={}, server {server_status}",
        case.name,
        client.error(),
        client.is_handshaking()
    );
    (c_in, s_in)
}

/// Replays a DTLS seed through the fuzz target's driver and reports how far it gets.
fn dtls_status(target: &str, data: &[u8]) -> String {
    let replay = if target == "dtls_client" {
        fuzzing::replay_dtls_client(data)
    } else {
        fuzzing::replay_dtls_server(data)
    };
    let Some(r) = replay else {
        return "never accepted".into();
    };
    let c = &r.conn;
    match (c.is_handshaking(), c.error()) {
        (_, Some(e)) => format!("error: {e}"),
        (true, None) => "handshaking".into(),
        (false, None) => format!(
            "{:?} handshake complete, {} plaintext bytes, epochs read {} write {}, peer closed: {}",
            c.protocol_version(),
            r.plaintext,
            c.read_epoch(),
            c.write_epoch(),
            c.peer_has_closed()
        ),
    }
}

/// DTLS handshakes between the fuzz client and server. DTLS 1.2 (flags versions 0): through
/// the cookie exchange and without it, at the default and the smallest MTU (fragmented
/// flights), and with a lost ClientHello and a lost client Finished flight resent on the
/// client's timer; and a client offering both against a DTLS 1.2 server. DTLS 1.3: plain (no
/// acceptor), through the acceptor's stateless HelloRetryRequest, both versions offered at the
/// smallest MTU (with the acceptor and without), a lost ClientHello, a lost client Finished, and a
/// KeyUpdate each way.
fn dtls_seeds(seeds: &mut Seeds) {
    use fuzzing::{
        DTLS_NO_COOKIE as NO_COOKIE, DTLS_SMALL_MTU as SMALL, DTLS_V13 as V13, DTLS_V13_V12 as BOTH,
    };
    let case = |name, client, server, lose| DtlsCase {
        name,
        client,
        server,
        lose,
        key_update: false,
    };
    let cases = [
        case("cookie", 0, 0, &[]),
        case("no-cookie", 0, NO_COOKIE, &[]),
        case("cookie-small-mtu", SMALL, SMALL, &[]),
        case("cookie-lost-hello", 0, 0, &[0]),
        case("no-cookie-lost-finished", 0, NO_COOKIE, &[1]),
        case("both-offered-dtls12-server", BOTH, 0, &[]),
        case("dtls13-plain", V13, V13 | NO_COOKIE, &[]),
        case("dtls13-hrr-cookie", V13, V13, &[]),
        case(
            "dtls13-both-small-mtu",
            BOTH | SMALL,
            BOTH | SMALL | NO_COOKIE,
            &[],
        ),
        // Through the acceptor: the hello retried with the HelloRetryRequest cookie no longer
        // fits one datagram; the acceptor reads the cookie from its first fragment.
        case(
            "dtls13-both-hrr-cookie-small-mtu",
            BOTH | SMALL,
            BOTH | SMALL,
            &[],
        ),
        case("dtls13-hrr-cookie-lost-hello", V13, V13, &[0]),
        case("dtls13-lost-finished", V13, V13 | NO_COOKIE, &[1]),
        DtlsCase {
            key_update: true,
            ..case("dtls13-key-update", V13, V13 | NO_COOKIE, &[])
        },
    ];
    for case in &cases {
        let (c_in, s_in) = record_dtls(case);
        for (target, data) in [("dtls_client", &c_in), ("dtls_server", &s_in)] {
            println!("{target}/{}: {}", case.name, dtls_status(target, data));
            seeds.put(target, case.name, data);
        }
    }
}

fn family_of(name: &str) -> MessageFamily {
    if name.contains("tls12") {
        MessageFamily::Tls12
    } else {
        MessageFamily::Tls13
    }
}

fn pair(c: Arc<sanstls::ClientConfig>, s: Arc<sanstls::ServerConfig>) -> (Connection, Connection) {
    (
        Connection::client(c, "localhost").unwrap(),
        Connection::server(s).unwrap(),
    )
}
