//! sanstls beside rustls 0.23 (ring provider) over real loopback TCP sockets: the tokio
//! adapter (`sanstls::tokio_io`) against tokio-rustls, and the blocking `Stream` against
//! rustls's `StreamOwned`. Same certificate (`vectors/localhost-ecdsa-p256`), TLS 1.3,
//! TLS_AES_128_GCM_SHA256, X25519, both libraries' default buffer sizes, no resumption; each
//! side runs in its own thread (a current-thread tokio runtime each for the async figures).
//!
//! `cargo bench --bench sockets --features tokio` (about a minute) or with `-- --quick`
//! (about 20 seconds). The two libraries take turns (rounds alternate), so a change in the
//! machine's load falls on both alike; each figure prints
//! `<figure>: sanstls <v> <unit>, rustls <v> <unit>, ratio <sanstls/rustls>`.
//!
//! Figures: 1 MiB writes streamed one way (MB/s), 100-byte request/response (round trips
//! per second), full handshakes per second with N concurrent clients (each waits for one
//! byte the server sends once its handshake is done), and the blocking adapters' transfers.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::crypto::ring as rprovider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use sanstls::codec::{CipherSuite, NamedGroup, ProtocolVersion};
use sanstls::pki::{TrustAnchors, WebPkiServerVerifier};
use sanstls::{CertifiedKey, ClientConfig, Connection, ServerConfig, Stream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const MIB: usize = 1 << 20;
const SMALL: usize = 100;

fn vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("vectors")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Both libraries' configs for one run.
struct Configs {
    ours_client: Arc<ClientConfig>,
    ours_server: Arc<ServerConfig>,
    theirs_client: Arc<rustls::ClientConfig>,
    theirs_server: Arc<rustls::ServerConfig>,
}

fn configs() -> Configs {
    let v = vectors();
    let suite = CipherSuite::TLS_AES_128_GCM_SHA256;
    let anchors = TrustAnchors::from_pem_file(v.join("ca.pem")).expect("ca.pem");
    let ours_client = ClientConfig::builder(Arc::new(WebPkiServerVerifier::new(anchors)))
        .no_resumption()
        .cipher_suites(&[suite])
        .versions(&[ProtocolVersion::TLSv1_3])
        .groups(&[NamedGroup::x25519])
        .build()
        .expect("client config");
    let key = CertifiedKey::from_pem_files(
        v.join("localhost-ecdsa-p256.pem"),
        v.join("localhost-ecdsa-p256.key"),
    )
    .expect("key");
    let ours_server = ServerConfig::builder(key)
        .cipher_suites(&[suite])
        .versions(&[ProtocolVersion::TLSv1_3])
        .groups(&[NamedGroup::x25519])
        .build()
        .expect("server config");

    let mut p = rprovider::default_provider();
    p.kx_groups
        .retain(|g| u16::from(g.name()) == NamedGroup::x25519.get());
    p.cipher_suites.retain(|s| u16::from(s.suite()) == suite.get());
    let p = Arc::new(p);
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(v.join("ca.pem")).expect("ca.pem") {
        roots.add(cert.expect("ca cert")).expect("root");
    }
    let mut client = rustls::ClientConfig::builder_with_provider(p.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    client.resumption = rustls::client::Resumption::disabled();
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(v.join("localhost-ecdsa-p256.pem"))
            .expect("chain")
            .map(|c| c.expect("cert"))
            .collect();
    let key = PrivateKeyDer::from_pem_file(v.join("localhost-ecdsa-p256.key")).expect("key");
    let server = rustls::ServerConfig::builder_with_provider(p)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("server config");
    Configs {
        ours_client,
        ours_server,
        theirs_client: Arc::new(client),
        theirs_server: Arc::new(server),
    }
}

fn line(figure: &str, unit: &str, ours: f64, theirs: f64) {
    println!(
        "{figure}: sanstls {ours:.0} {unit}, rustls {theirs:.0} {unit}, ratio {:.2}",
        ours / theirs
    );
}

/// Runs `ours` and `theirs` in turns (`rounds` each); each returns (operations, seconds).
/// Returns both rates.
fn alternate(
    rounds: usize,
    mut ours: impl FnMut() -> (f64, f64),
    mut theirs: impl FnMut() -> (f64, f64),
) -> (f64, f64) {
    let (mut o, mut t) = ((0.0, 0.0), (0.0, 0.0));
    // One warm-up round each.
    ours();
    theirs();
    for _ in 0..rounds {
        let (n, s) = ours();
        o = (o.0 + n, o.1 + s);
        let (n, s) = theirs();
        t = (t.0 + n, t.1 + s);
    }
    (o.0 / o.1, t.0 / t.1)
}

/// What an async server connection does: `Sink` reads `MiB`s and answers one byte, round
/// after round; `Echo` answers each 100-byte request with 100 bytes; `Hello` sends one byte
/// once its handshake is done, then waits for the client to close.
#[derive(Clone, Copy)]
enum Job {
    Sink(usize),
    Echo,
    Hello,
}

async fn serve_job<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(mut tls: S, job: Job) {
    match job {
        Job::Sink(mibs) => {
            let mut buf = vec![0u8; MIB];
            loop {
                let mut left = mibs * MIB;
                while left > 0 {
                    match tls.read(&mut buf[..left.min(MIB)]).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => left -= n,
                    }
                }
                if tls.write_all(b"k").await.is_err() || tls.flush().await.is_err() {
                    return;
                }
            }
        }
        Job::Echo => {
            let mut buf = [0u8; SMALL];
            while tls.read_exact(&mut buf).await.is_ok() {
                if tls.write_all(&buf).await.is_err() || tls.flush().await.is_err() {
                    return;
                }
            }
        }
        Job::Hello => {
            if tls.write_all(b"k").await.is_ok() && tls.flush().await.is_ok() {
                let mut buf = [0u8; 64];
                while let Ok(1..) = tls.read(&mut buf).await {}
            }
        }
    }
}

/// An async server thread for one library: accepts connections and serves `job` on each.
fn spawn_async_server(c: &Configs, ours: bool, job: Job) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let ours_acceptor = sanstls::tokio_io::TlsAcceptor::new(c.ours_server.clone());
    let theirs_acceptor = tokio_rustls::TlsAcceptor::from(c.theirs_server.clone());
    std::thread::spawn(move || {
        runtime().block_on(async move {
            listener.set_nonblocking(true).expect("nonblocking");
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let _ = tcp.set_nodelay(true);
                let (oa, ta) = (ours_acceptor.clone(), theirs_acceptor.clone());
                tokio::spawn(async move {
                    if ours {
                        if let Ok(tls) = oa.accept(tcp).await {
                            serve_job(tls, job).await;
                        }
                    } else if let Ok(tls) = ta.accept(tcp).await {
                        serve_job(tls, job).await;
                    }
                });
            }
        })
    });
    addr
}

async fn tcp(addr: SocketAddr) -> tokio::net::TcpStream {
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    tcp.set_nodelay(true).expect("nodelay");
    tcp
}

/// One round of a persistent client connection: `mibs` MiB out and the one-byte answer
/// (bytes, seconds), or `n` round trips of 100 bytes (round trips, seconds).
async fn client_round<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    tls: &mut S,
    job: Job,
    n: usize,
    data: &[u8],
) -> (f64, f64) {
    let start = Instant::now();
    match job {
        Job::Sink(mibs) => {
            for _ in 0..mibs {
                tls.write_all(data).await.expect("write");
            }
            tls.flush().await.expect("flush");
            let mut k = [0u8; 1];
            tls.read_exact(&mut k).await.expect("answer");
            ((mibs * MIB) as f64, start.elapsed().as_secs_f64())
        }
        Job::Hello => unreachable!("handshake figure"),
        Job::Echo => {
            let mut buf = [0u8; SMALL];
            for _ in 0..n {
                tls.write_all(&data[..SMALL]).await.expect("write");
                tls.flush().await.expect("flush");
                tls.read_exact(&mut buf).await.expect("echo");
            }
            (n as f64, start.elapsed().as_secs_f64())
        }
    }
}

/// Transfers or round trips over one persistent connection per library, in turns.
fn async_stream_figure(c: &Configs, job: Job, rounds: usize, n: usize) -> (f64, f64) {
    let ours_addr = spawn_async_server(c, true, job);
    let theirs_addr = spawn_async_server(c, false, job);
    let rt = runtime();
    let data = vec![0x5au8; MIB];
    let connector = sanstls::tokio_io::TlsConnector::new(c.ours_client.clone());
    let mut ours = rt
        .block_on(async { connector.connect("localhost", tcp(ours_addr).await).await })
        .expect("sanstls handshake");
    let connector = tokio_rustls::TlsConnector::from(c.theirs_client.clone());
    let name = ServerName::try_from("localhost").expect("name");
    let mut theirs = rt
        .block_on(async { connector.connect(name, tcp(theirs_addr).await).await })
        .expect("rustls handshake");
    alternate(
        rounds,
        || rt.block_on(client_round(&mut ours, job, n, &data)),
        || rt.block_on(client_round(&mut theirs, job, n, &data)),
    )
}

/// Full handshakes per second with `clients` concurrent clients for `budget` per round.
fn async_handshake_figure(c: &Configs, clients: usize, rounds: usize, budget: Duration) -> (f64, f64) {
    let ours_addr = spawn_async_server(c, true, Job::Hello);
    let theirs_addr = spawn_async_server(c, false, Job::Hello);
    let rt = runtime();
    let ours = sanstls::tokio_io::TlsConnector::new(c.ours_client.clone());
    let theirs = tokio_rustls::TlsConnector::from(c.theirs_client.clone());
    let round = |use_ours: bool| {
        rt.block_on(async {
            let start = Instant::now();
            let until = start + budget;
            let mut tasks = Vec::new();
            for _ in 0..clients {
                let (ours, theirs) = (ours.clone(), theirs.clone());
                tasks.push(tokio::spawn(async move {
                    let mut done = 0u64;
                    let mut k = [0u8; 1];
                    while Instant::now() < until {
                        if use_ours {
                            let mut tls = ours
                                .connect("localhost", tcp(ours_addr).await)
                                .await
                                .expect("sanstls handshake");
                            tls.read_exact(&mut k).await.expect("server done");
                        } else {
                            let name = ServerName::try_from("localhost").expect("name");
                            let mut tls = theirs
                                .connect(name, tcp(theirs_addr).await)
                                .await
                                .expect("rustls handshake");
                            tls.read_exact(&mut k).await.expect("server done");
                        }
                        done += 1;
                    }
                    done
                }));
            }
            let mut done = 0;
            for t in tasks {
                done += t.await.expect("client task");
            }
            (done as f64, start.elapsed().as_secs_f64())
        })
    };
    alternate(rounds, || round(true), || round(false))
}

/// Reads `mibs` MiB and answers one byte, round after round, until the client goes.
fn blocking_sink(tls: &mut dyn ReadWrite, mibs: usize) {
    let mut buf = vec![0u8; MIB];
    loop {
        let mut left = mibs * MIB;
        while left > 0 {
            match tls.read(&mut buf[..left.min(MIB)]) {
                Ok(0) | Err(_) => return,
                Ok(n) => left -= n,
            }
        }
        if tls.write_all(b"k").and_then(|_| tls.flush()).is_err() {
            return;
        }
    }
}

/// The blocking adapters: `Stream` and `StreamOwned` over std `TcpStream`s, `mibs` MiB per
/// round and a one-byte answer; a server thread per library.
fn blocking_figure(c: &Configs, mibs: usize, rounds: usize) -> (f64, f64) {
    let ours_listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let ours_addr = ours_listener.local_addr().expect("addr");
    let server = c.ours_server.clone();
    std::thread::spawn(move || {
        let (tcp, _) = ours_listener.accept().expect("accept");
        let conn = Connection::server(server).expect("server");
        blocking_sink(&mut Stream::new(conn, tcp), mibs);
    });
    let theirs_listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let theirs_addr = theirs_listener.local_addr().expect("addr");
    let server = c.theirs_server.clone();
    std::thread::spawn(move || {
        let (tcp, _) = theirs_listener.accept().expect("accept");
        let conn = rustls::ServerConnection::new(server).expect("server");
        blocking_sink(&mut rustls::StreamOwned::new(conn, tcp), mibs);
    });
    let data = vec![0x5au8; MIB];
    let conn = Connection::client(c.ours_client.clone(), "localhost").expect("client");
    let mut ours = Stream::new(conn, TcpStream::connect(ours_addr).expect("connect"));
    ours.handshake().expect("sanstls handshake");
    let name = ServerName::try_from("localhost").expect("name");
    let conn = rustls::ClientConnection::new(c.theirs_client.clone(), name).expect("client");
    let mut theirs = rustls::StreamOwned::new(conn, TcpStream::connect(theirs_addr).expect("connect"));
    let round = |tls: &mut dyn ReadWrite| {
        let start = Instant::now();
        for _ in 0..mibs {
            tls.write_all(&data).expect("write");
        }
        tls.flush().expect("flush");
        let mut k = [0u8; 1];
        tls.read_exact(&mut k).expect("answer");
        ((mibs * MIB) as f64, start.elapsed().as_secs_f64())
    };
    alternate(rounds, || round(&mut ours), || round(&mut theirs))
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    // `cargo test --all-targets --features tokio` runs this binary without `--bench`: one
    // short pass then checks that every figure still runs.
    let smoke = !args.iter().any(|a| a == "--bench");
    let (mode, mibs, rounds, rtts, hs_budget) = match (smoke, quick) {
        (true, _) => ("smoke (cargo test)", 1, 1, 20, Duration::from_millis(20)),
        (false, true) => ("quick", 16, 8, 500, Duration::from_millis(150)),
        (false, false) => ("full", 32, 20, 2000, Duration::from_millis(400)),
    };
    let clients = 16;
    let c = configs();
    println!("# sanstls vs rustls 0.23 (ring) over loopback TCP, {mode} mode");
    let (o, t) = async_stream_figure(&c, Job::Sink(mibs), rounds, 0);
    line(
        "tokio: 1 MiB writes streamed (sanstls tokio_io vs tokio-rustls)",
        "MB/s",
        o / 1e6,
        t / 1e6,
    );
    let (o, t) = async_stream_figure(&c, Job::Echo, rounds, rtts);
    line("tokio: 100-byte request/response", "round trips/s", o, t);
    let (o, t) = async_handshake_figure(&c, clients, rounds, hs_budget);
    line(
        &format!("tokio: full TLS 1.3 handshakes, {clients} concurrent clients"),
        "hs/s",
        o,
        t,
    );
    let (o, t) = blocking_figure(&c, mibs, rounds);
    line(
        "blocking: 1 MiB writes streamed (sanstls Stream vs rustls StreamOwned)",
        "MB/s",
        o / 1e6,
        t / 1e6,
    );
}
