//! DTLS 1.2 interop on 127.0.0.1: our client against `openssl s_server -dtls1_2
//! -listen` (cookie exchange) and `gnutls-serv --udp`, our server (behind the stateless
//! acceptor) against `openssl s_client -dtls1_2` and `gnutls-cli --udp`. MTU 1200 and a
//! certificate chain generated here, large enough that its Certificate message is sent in
//! several fragments. Data is echoed and checked both ways; every exchange is bounded.

mod common;

use std::io::{Read, Write};
use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::interop::{have, DEADLINE};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, SanType};
use sanstls::codec::{HandshakeType, ProtocolVersion};
use sanstls::dtls::{Accepted, DtlsAcceptor, DtlsConfig, DtlsConnection, TimerConfig};
use sanstls::pki::{TrustAnchors, WebPkiServerVerifier};
use sanstls::{CertifiedKey, ClientConfig, Direction, RecordObserver, ServerConfig};

const MTU: usize = 1200;

/// A root, an intermediate and a leaf for localhost / 127.0.0.1 with enough names that the
/// Certificate message (leaf + intermediate) is well over one 1200-byte datagram.
struct Pki {
    dir: PathBuf,
    chain_pem: String,
    key_pem: String,
    ca_pem: String,
}

impl Pki {
    fn new(tag: &str) -> Pki {
        let root_key = KeyPair::generate().unwrap();
        let mut root = CertificateParams::new(Vec::<String>::new()).unwrap();
        root.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        root.distinguished_name
            .push(rcgen::DnType::CommonName, "sanstls dtls interop root");
        let root_cert = root.self_signed(&root_key).unwrap();
        let ica_key = KeyPair::generate().unwrap();
        let mut ica = CertificateParams::new(Vec::<String>::new()).unwrap();
        ica.use_authority_key_identifier_extension = true;
        ica.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ica.distinguished_name
            .push(rcgen::DnType::CommonName, "sanstls dtls interop intermediate");
        let ica_cert = ica
            .signed_by(&ica_key, &Issuer::from_params(&root, &root_key))
            .unwrap();
        let leaf_key = KeyPair::generate().unwrap();
        let mut names = vec!["localhost".to_string()];
        names.extend((0..40).map(|i| format!("padding-name-{i:02}.dtls.sanstls.example")));
        let mut leaf = CertificateParams::new(names).unwrap();
        leaf.use_authority_key_identifier_extension = true;
        leaf.subject_alt_names
            .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
        let leaf_cert = leaf
            .signed_by(&leaf_key, &Issuer::from_params(&ica, &ica_key))
            .unwrap();
        assert!(leaf_cert.der().len() + ica_cert.der().len() > 2 * MTU - 400);
        let dir = std::env::temp_dir().join(format!("sanstls-dtls-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pki = Pki {
            dir,
            chain_pem: format!("{}{}", leaf_cert.pem(), ica_cert.pem()),
            key_pem: leaf_key.serialize_pem(),
            ca_pem: root_cert.pem(),
        };
        std::fs::write(pki.path("chain.pem"), &pki.chain_pem).unwrap();
        std::fs::write(pki.path("leaf.pem"), leaf_cert.pem()).unwrap();
        std::fs::write(pki.path("ica.pem"), ica_cert.pem()).unwrap();
        std::fs::write(pki.path("key.pem"), &pki.key_pem).unwrap();
        std::fs::write(pki.path("ca.pem"), &pki.ca_pem).unwrap();
        pki
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).to_string_lossy().into_owned()
    }

    fn client_config(&self, observer: Arc<dyn RecordObserver>) -> Arc<ClientConfig> {
        let anchors = TrustAnchors::from_pem(self.ca_pem.as_bytes()).unwrap();
        ClientConfig::builder(Arc::new(WebPkiServerVerifier::new(anchors)))
            .record_observer(observer)
            .build()
            .unwrap()
    }

    fn server_config(&self) -> Arc<ServerConfig> {
        let key = CertifiedKey::from_pem(self.chain_pem.as_bytes(), self.key_pem.as_bytes()).unwrap();
        ServerConfig::builder(key).build().unwrap()
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn dtls_config() -> DtlsConfig {
    DtlsConfig {
        mtu: MTU,
        // Short first timeout: a peer still starting up costs little.
        timer: TimerConfig {
            initial: Duration::from_millis(200),
            ..TimerConfig::default()
        },
        ..DtlsConfig::default()
    }
}

/// Counts what we received: HelloVerifyRequests and Certificate messages.
#[derive(Debug, Default)]
struct Seen {
    hvr: Mutex<usize>,
    certificate: Mutex<usize>,
}

impl RecordObserver for Seen {
    fn handshake(&self, dir: Direction, typ: HandshakeType, _len: usize, _epoch: u16) {
        if dir == Direction::Received && typ == HandshakeType::HelloVerifyRequest {
            *self.hvr.lock().unwrap() += 1;
        }
        if dir == Direction::Received && typ == HandshakeType::Certificate {
            *self.certificate.lock().unwrap() += 1;
        }
    }
}

/// A peer process whose stdout and stderr are collected as they come.
struct Proc {
    child: Child,
    out: Arc<Mutex<Vec<u8>>>,
}

impl Proc {
    fn spawn(cmd: &str, args: &[String]) -> Proc {
        let mut child = Command::new(cmd)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {cmd}: {e}"));
        let out = Arc::new(Mutex::new(Vec::new()));
        for mut pipe in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let out = out.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    out.lock().unwrap().extend_from_slice(&buf[..n]);
                }
            });
        }
        Proc { child, out }
    }

    fn output(&self) -> String {
        String::from_utf8_lossy(&self.out.lock().unwrap()).into_owned()
    }

    fn wait_for(&self, text: &str) {
        let start = Instant::now();
        while !self.output().contains(text) {
            assert!(
                start.elapsed() < DEADLINE,
                "peer never printed {text:?}; output: {}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn send(&mut self, data: &[u8]) {
        let stdin = self.child.stdin.as_mut().unwrap();
        stdin.write_all(data).unwrap();
        stdin.flush().unwrap();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn read_all(conn: &mut DtlsConnection) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = conn.reader().read(&mut buf) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    out
}

/// Takes in one datagram: with `recv_datagram`, or (`zero_copy`) opened in place with
/// `recv_datagram_in_place`, its application data appended to `got`.
fn take_in(
    conn: &mut DtlsConnection,
    datagram: &mut [u8],
    zero_copy: bool,
    got: &mut Vec<u8>,
) -> Result<(), sanstls::Error> {
    if !zero_copy {
        return conn.recv_datagram(datagram, Instant::now());
    }
    let mut at = 0;
    while at < datagram.len() {
        let r = conn.recv_datagram_in_place(&mut datagram[at..], Instant::now())?;
        got.extend_from_slice(r.data(&datagram[at..]));
        at += r.consumed;
    }
    Ok(())
}

/// Drives our client over a connected UDP socket until `done` (bounded by DEADLINE).
/// `step` runs every round: it may write, and says when the exchange is over.
/// `zero_copy`: datagrams are opened in place (`recv_datagram_in_place`).
fn run_client(
    conn: &mut DtlsConnection,
    sock: &UdpSocket,
    zero_copy: bool,
    mut step: impl FnMut(&mut DtlsConnection, &[u8]) -> bool,
) -> Vec<u8> {
    sock.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
    let start = Instant::now();
    let mut received = Vec::new();
    let mut in_place_total = 0;
    let mut buf = vec![0u8; 65536];
    loop {
        assert!(
            start.elapsed() < DEADLINE,
            "exchange timed out: {conn:?}, got {:?}",
            String::from_utf8_lossy(&received)
        );
        while let Some(n) = conn.poll_datagram(&mut buf) {
            assert!(n <= MTU);
            let _ = sock.send(&buf[..n]);
        }
        if step(conn, &received) {
            assert_eq!(zero_copy, in_place_total > 0, "data opened in place");
            return received;
        }
        // A refused datagram (peer not listening yet) shows up here as an error: the
        // retransmission timer sends the flight again.
        if let Ok(n) = sock.recv(&mut buf) {
            let before = received.len();
            let res = take_in(conn, &mut buf[..n], zero_copy, &mut received);
            in_place_total += received.len() - before;
            if let Err(e) = res {
                while let Some(n) = conn.poll_datagram(&mut buf) {
                    let _ = sock.send(&buf[..n]);
                }
                panic!("client failed: {e:?}");
            }
        }
        let now = Instant::now();
        if conn.poll_timeout().is_some_and(|t| t <= now) {
            conn.handle_timeout(now).unwrap();
        }
        received.extend(read_all(conn));
    }
}

/// Our client against `cmd`: it sends a line, the peer sends one back (or echoes ours);
/// `zero_copy`: our line is sealed with `seal_datagram` straight into the datagram sent, and
/// datagrams are opened in place.
fn client_against(
    cmd: &str,
    args: Vec<String>,
    ready: &str,
    pki: &Pki,
    port: u16,
    echo: bool,
    zero_copy: bool,
) {
    let mut peer = Proc::spawn(cmd, &args);
    peer.wait_for(ready);
    let seen = Arc::new(Seen::default());
    let config = pki.client_config(seen.clone());
    let mut conn = DtlsConnection::client(config, "localhost", dtls_config(), Instant::now()).unwrap();
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.connect(("127.0.0.1", port)).unwrap();
    let ours = b"hello from sanstls over DTLS\n";
    let theirs = b"hello from the peer over DTLS\n";
    let mut wrote = false;
    let mut told_peer = false;
    let got = run_client(&mut conn, &sock, zero_copy, |conn, received| {
        if conn.is_handshaking() {
            return false;
        }
        if !wrote {
            if zero_copy {
                let mut out = [0u8; MTU];
                let n = conn.seal_datagram(ours, &mut out).unwrap();
                sock.send(&out[..n]).unwrap();
            } else {
                conn.writer().write_all(ours).unwrap();
            }
            wrote = true;
        }
        if echo {
            return received.windows(ours.len()).any(|w| w == ours);
        }
        if !told_peer && peer.output().contains("hello from sanstls") {
            peer.send(theirs);
            told_peer = true;
        }
        received.windows(theirs.len()).any(|w| w == theirs)
    });
    assert!(!got.is_empty());
    assert_eq!(conn.protocol_version(), Some(ProtocolVersion::DTLSv1_2));
    assert_eq!(conn.extended_master_secret(), Some(true));
    assert_eq!(conn.peer_certificates().len(), 2);
    assert_eq!(*seen.certificate.lock().unwrap(), 1);
    assert!(*seen.hvr.lock().unwrap() >= 1, "no cookie exchange");
    conn.send_close_notify();
    let mut buf = [0u8; MTU];
    while let Some(n) = conn.poll_datagram(&mut buf) {
        let _ = sock.send(&buf[..n]);
    }
}

/// `openssl s_server -dtls1_2 -listen` on `port` with the test PKI's chain.
fn openssl_s_server_args(port: u16, pki: &Pki) -> Vec<String> {
    [
        "s_server",
        "-dtls1_2",
        "-listen",
        "-accept",
        &port.to_string(),
        "-cert",
        &pki.path("leaf.pem"),
        "-cert_chain",
        &pki.path("ica.pem"),
        "-key",
        &pki.path("key.pem"),
        "-mtu",
        "1200",
        "-naccept",
        "1",
    ]
    .map(String::from)
    .to_vec()
}

/// Our client against `openssl s_server -dtls1_2 -listen` (`tag` names its PKI).
fn client_against_openssl(tag: &str, zero_copy: bool) {
    let pki = Pki::new(tag);
    let port = udp_port();
    let args = openssl_s_server_args(port, &pki);
    client_against("openssl", args, "ACCEPT", &pki, port, false, zero_copy);
}

#[test]
fn client_against_openssl_s_server_listen() {
    if !have("openssl") {
        return;
    }
    client_against_openssl("ossl-srv", false);
}

/// The same exchange on the zero-copy path (`seal_datagram`, `recv_datagram_in_place`).
#[test]
fn zero_copy_client_against_openssl_s_server_listen() {
    if !have("openssl") {
        return;
    }
    client_against_openssl("ossl-srv-zc", true);
}

#[test]
fn client_against_gnutls_serv_udp() {
    if !have("gnutls-serv") {
        return;
    }
    let pki = Pki::new("gnutls-srv");
    let port = udp_port();
    let args = [
        "--udp",
        "--echo",
        "-p",
        &port.to_string(),
        "--x509certfile",
        &pki.path("chain.pem"),
        "--x509keyfile",
        &pki.path("key.pem"),
        "--mtu",
        "1200",
    ]
    .map(String::from)
    .to_vec();
    client_against("gnutls-serv", args, "listening", &pki, port, true, false);
}

/// Runs our server on `sock` behind the acceptor: echoes what it receives with a prefix,
/// then closes. Returns the server connection once the peer process exited.
/// Our server behind the acceptor, echoing what the peer sends; `zero_copy`: datagrams are
/// opened in place and the echo is sealed with `seal_datagram` straight into the datagram
/// sent, not written and polled.
fn serve_echo(sock: &UdpSocket, pki: &Pki, peer: &mut Proc, zero_copy: bool) -> DtlsConnection {
    sock.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
    let config = pki.server_config();
    let mut acceptor = DtlsAcceptor::new(config, dtls_config(), Instant::now()).unwrap();
    let mut conn: Option<(DtlsConnection, std::net::SocketAddr)> = None;
    let mut hvrs = 0;
    let mut buf = vec![0u8; 65536];
    let start = Instant::now();
    let mut echoed = false;
    // Application data opened in place, not yet echoed.
    let mut opened_in_place = Vec::new();
    let mut in_place_total = 0;
    loop {
        assert!(
            start.elapsed() < DEADLINE,
            "server exchange timed out: {conn:?}; peer said: {}",
            peer.output()
        );
        if let Some((c, addr)) = conn.as_mut() {
            let mut data = std::mem::take(&mut opened_in_place);
            data.extend(read_all(c));
            if !data.is_empty() {
                let mut reply = b"sanstls echo: ".to_vec();
                reply.extend_from_slice(&data);
                if zero_copy {
                    let mut out = [0u8; MTU];
                    let n = c.seal_datagram(&reply, &mut out).unwrap();
                    let _ = sock.send_to(&out[..n], *addr);
                } else {
                    c.writer().write_all(&reply).unwrap();
                }
                echoed = true;
            }
            if echoed && !c.is_handshaking() && c.poll_timeout().is_none() {
                c.send_close_notify();
            }
            while let Some(n) = c.poll_datagram(&mut buf) {
                assert!(n <= MTU);
                let _ = sock.send_to(&buf[..n], *addr);
            }
        }
        // Done when the peer printed our echo (gnutls-cli waits for its stdin to close) or
        // exited (s_client -ign_eof leaves on our close_notify).
        if peer.child.try_wait().unwrap().is_some() || peer.output().contains("sanstls echo: hello") {
            let (c, _) = conn.expect("peer exited before connecting");
            assert!(hvrs >= 1, "no cookie exchange");
            assert_eq!(zero_copy, in_place_total > 0, "data opened in place");
            return c;
        }
        if let Ok((n, from)) = sock.recv_from(&mut buf) {
            let mut d = buf[..n].to_vec();
            match conn.as_mut() {
                Some((c, addr)) if *addr == from => {
                    let before = opened_in_place.len();
                    let _ = take_in(c, &mut d, zero_copy, &mut opened_in_place);
                    in_place_total += opened_in_place.len() - before;
                }
                Some(_) => {}
                None => match acceptor.accept(&d, from.to_string().as_bytes(), Instant::now()) {
                    Accepted::HelloVerifyRequest(hvr) | Accepted::HelloRetryRequest(hvr) => {
                        hvrs += 1;
                        let _ = sock.send_to(&hvr, from);
                    }
                    Accepted::Connection(c) => conn = Some((*c, from)),
                    Accepted::Dropped => {}
                },
            }
        }
        if let Some((c, _)) = conn.as_mut() {
            let now = Instant::now();
            if c.poll_timeout().is_some_and(|t| t <= now) {
                let _ = c.handle_timeout(now);
            }
        }
    }
}

fn server_against(cmd: &str, args: impl FnOnce(u16, &Pki) -> Vec<String>, tag: &str, zero_copy: bool) {
    let pki = Pki::new(tag);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = sock.local_addr().unwrap().port();
    let mut peer = Proc::spawn(cmd, &args(port, &pki));
    peer.send(b"hello from the peer over DTLS\n");
    let conn = serve_echo(&sock, &pki, &mut peer, zero_copy);
    assert_eq!(conn.error(), None, "peer said: {}", peer.output());
    assert_eq!(conn.protocol_version(), Some(ProtocolVersion::DTLSv1_2));
    assert!(
        peer.output()
            .contains("sanstls echo: hello from the peer over DTLS"),
        "peer said: {}",
        peer.output()
    );
}

fn openssl_s_client_args(port: u16, pki: &Pki) -> Vec<String> {
    [
        "s_client",
        "-dtls1_2",
        "-connect",
        &format!("127.0.0.1:{port}"),
        "-servername",
        "localhost",
        "-CAfile",
        &pki.path("ca.pem"),
        "-verify_return_error",
        "-verify_hostname",
        "localhost",
        "-mtu",
        "1200",
        "-ign_eof",
    ]
    .map(String::from)
    .to_vec()
}

#[test]
fn server_against_openssl_s_client() {
    if !have("openssl") {
        return;
    }
    server_against("openssl", openssl_s_client_args, "ossl-cli", false);
}

/// The same exchange on the zero-copy path (`recv_datagram_in_place`, `seal_datagram`).
#[test]
fn zero_copy_server_against_openssl_s_client() {
    if !have("openssl") {
        return;
    }
    server_against("openssl", openssl_s_client_args, "ossl-cli-zc", true);
}

#[test]
fn server_against_gnutls_cli_udp() {
    if !have("gnutls-cli") {
        return;
    }
    server_against(
        "gnutls-cli",
        |port, pki| {
            [
                "--udp",
                "-p",
                &port.to_string(),
                "--x509cafile",
                &pki.path("ca.pem"),
                "--mtu",
                "1200",
                "127.0.0.1",
            ]
            .map(String::from)
            .to_vec()
        },
        "gnutls-cli",
        false,
    );
}
