//! sanstls beside rustls 0.23 (ring provider) and beside ring itself, in one process, with
//! the same certificates (`vectors/`), the same sizes, in memory (no sockets).
//!
//! `cargo bench --bench compare` (about 2 minutes) or `cargo bench --bench compare -- --quick`
//! (well under a minute). Every figure prints one line:
//! `<figure>: sanstls <v> <unit>, rustls <v> <unit>, ratio <sanstls/rustls>[, ceiling <v>, of-ceiling <f>]`.
//! The bulk figures compare our zero-copy path with rustls's unbuffered API
//! (`UnbufferedClientConnection`/`UnbufferedServerConnection`) as well as with its buffered one.
//! `--only WORD` runs the figures whose group contains WORD (`handshake-ecdsa`, `handshake-pq`,
//! `handshake-resumed`, `handshake-tls12` (`-full`, `-resumed`), `handshake-dtls`, `dtls-data`, `kx-pq`, ...); `--iters N` runs each figure exactly N times instead of for a
//! time budget, for instruction counts under `valgrind --tool=callgrind`; with `--only
//! dtls-data`, `--figure K` runs one of its six figures alone (see `Bench::figure`). Full handshakes run
//! without resumption on either side; resumed ones share one client session store per config.
//! A figure whose feature is not there yet in sanstls (detected at run time from what the
//! connection negotiated) prints `n/a` for sanstls.

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

#[global_allocator]
static ALLOC: counting_alloc::Counting = counting_alloc::Counting;

use std::hint::black_box;
use std::io::{BufRead, Read, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::rand::SystemRandom;
use rustls::crypto::ring as rprovider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use sanstls::codec::{CipherSuite, NamedGroup, ProtocolVersion};
use sanstls::conn::ClientSessionStore;
use sanstls::dtls::{Accepted, DtlsAcceptor, DtlsConfig, DtlsConnection};
use sanstls::pki::{TrustAnchors, WebPkiServerVerifier};
use sanstls::{CertifiedKey, ClientConfig, Connection, ServerConfig};

const MIB: usize = 1 << 20;
const RECORD: usize = 16 * 1024;
const PING: usize = 100;

fn vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("vectors")
}

/// How long each figure runs: about `budget`, or exactly `iters` calls (`--iters N`, for
/// instruction counts under callgrind, where a time budget would vary the call count).
#[derive(Clone, Copy)]
struct Run {
    budget: Duration,
    iters: Option<u64>,
}

/// Runs `f` repeatedly (see [`Run`]); returns operations per second (`f` returns how many
/// operations it did).
fn rate(run: Run, mut f: impl FnMut() -> u64) -> f64 {
    let _ = f(); // warm up
    let start = Instant::now();
    let mut ops = 0u64;
    let mut calls = 0u64;
    loop {
        match run.iters {
            Some(n) if calls >= n => break,
            None if start.elapsed() >= run.budget => break,
            _ => {}
        }
        ops += f();
        calls += 1;
    }
    ops as f64 / start.elapsed().as_secs_f64()
}

/// [`rate`] for several figures at once, taken in turns (batches of 16 calls each, round
/// robin) so that a change in the machine's load falls on all of them alike: their ratios
/// hold even when the absolute rates swing. Each figure gets about `run.budget` in all (or
/// exactly `run.iters` calls). Returns each figure's rate over all its batches, and its rate
/// in its fastest batch (the one the machine's other load disturbed least).
fn rates_interleaved(run: Run, fs: &mut [&mut dyn FnMut() -> u64]) -> (Vec<f64>, Vec<f64>) {
    const BATCH: u64 = 16;
    let mut spent = vec![Duration::ZERO; fs.len()];
    let mut ops = vec![0u64; fs.len()];
    let mut calls = vec![0u64; fs.len()];
    let mut best = vec![0f64; fs.len()];
    for f in fs.iter_mut() {
        let _ = f(); // warm up
    }
    loop {
        let done = match run.iters {
            Some(n) => calls.iter().all(|&c| c >= n),
            None => spent.iter().all(|&t| t >= run.budget),
        };
        if done {
            break;
        }
        for (i, f) in fs.iter_mut().enumerate() {
            let batch = run.iters.map_or(BATCH, |n| BATCH.min(n.saturating_sub(calls[i])));
            let start = Instant::now();
            let mut done = 0;
            for _ in 0..batch {
                done += f();
            }
            let took = start.elapsed();
            spent[i] += took;
            ops[i] += done;
            calls[i] += batch;
            if done > 0 {
                best[i] = best[i].max(done as f64 / took.as_secs_f64().max(1e-9));
            }
        }
    }
    let mean = ops
        .iter()
        .zip(&spent)
        .map(|(&o, t)| o as f64 / t.as_secs_f64().max(1e-9))
        .collect();
    (mean, best)
}

/// Microseconds per call of each of `fs`, from its fastest batch of 8 calls; the figures
/// are taken in turns (one batch each, round robin) for about `run.budget` each (or
/// exactly `run.iters` calls). The fastest batch is the one the machine's other load
/// disturbed least, so these hold for small operations on a shared machine.
fn best_times_interleaved(run: Run, fs: &mut [&mut dyn FnMut()]) -> Vec<f64> {
    const BATCH: u64 = 8;
    let mut spent = vec![Duration::ZERO; fs.len()];
    let mut best = vec![f64::MAX; fs.len()];
    let mut calls = vec![0u64; fs.len()];
    for f in fs.iter_mut() {
        f(); // warm up
    }
    loop {
        let done = match run.iters {
            Some(n) => calls.iter().all(|&c| c >= n),
            None => spent.iter().all(|&t| t >= run.budget),
        };
        if done {
            break;
        }
        for (i, f) in fs.iter_mut().enumerate() {
            let start = Instant::now();
            for _ in 0..BATCH {
                f();
            }
            let took = start.elapsed();
            spent[i] += took;
            calls[i] += BATCH;
            best[i] = best[i].min(took.as_secs_f64() * 1e6 / BATCH as f64);
        }
    }
    best
}

fn fmt_num(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// One figure's line. `None` prints `n/a`.
fn line(figure: &str, unit: &str, ours: Option<f64>, theirs: Option<f64>, ceiling: Option<f64>) {
    let show = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{} {unit}", fmt_num(v)));
    let mut s = format!("{figure}: sanstls {}, rustls {}", show(ours), show(theirs));
    match (ours, theirs) {
        (Some(a), Some(b)) if b > 0.0 => s += &format!(", ratio {:.2}", a / b),
        // Both zero (allocation counts): equal.
        (Some(0.0), Some(_)) => s += ", ratio 1.00",
        _ => s += ", ratio n/a",
    }
    if let Some(c) = ceiling {
        s += &format!(", ceiling {} {unit}", fmt_num(c));
        match ours {
            Some(a) => s += &format!(", of-ceiling {:.2}", a / c),
            None => s += ", of-ceiling n/a",
        }
    }
    println!("{s}");
}

// ---------------------------------------------------------------------------------------
// sanstls side

struct Ours {
    client: Arc<ClientConfig>,
    server: Arc<ServerConfig>,
}

/// A sanstls client and server; `store`: the client keeps tickets there and resumes (`None`:
/// no resumption, every handshake is full).
fn ours(
    kind: &str,
    suite: CipherSuite,
    versions: &[ProtocolVersion],
    store: Option<Arc<ClientSessionStore>>,
) -> Option<Ours> {
    ours_with_group(kind, suite, versions, store, Some(NamedGroup::x25519))
}

/// [`ours`] with another key-exchange group on both sides (`None`: the builders' default
/// groups, X25519MLKEM768 and x25519 shares from the client).
fn ours_with_group(
    kind: &str,
    suite: CipherSuite,
    versions: &[ProtocolVersion],
    store: Option<Arc<ClientSessionStore>>,
    group: Option<NamedGroup>,
) -> Option<Ours> {
    let anchors = TrustAnchors::from_pem_file(vectors().join("ca.pem")).ok()?;
    let v = vectors();
    let key = CertifiedKey::from_pem_files(
        v.join(format!("localhost-{kind}.pem")),
        v.join(format!("localhost-{kind}.key")),
    )
    .ok()?;
    let mut suites = vec![suite];
    if versions.contains(&ProtocolVersion::TLSv1_2) {
        suites.extend([
            CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        ]);
    }
    let client = ClientConfig::builder(Arc::new(WebPkiServerVerifier::new(anchors)));
    let client = match store {
        Some(store) => client.session_store(store),
        None => client.no_resumption(),
    };
    let mut client = client
        .cipher_suites(&suites)
        .versions(versions)
        .max_buffered_plaintext(2 * MIB);
    let mut server = ServerConfig::builder(key)
        .cipher_suites(&suites)
        .versions(versions)
        .max_buffered_plaintext(2 * MIB);
    if let Some(group) = group {
        // RFC 8422 5.1: a TLS 1.2 server uses its ECDSA P-256 certificate only when the client
        // lists the curve; the key exchange still takes `group`, listed first.
        let mut groups = vec![group];
        if versions.contains(&ProtocolVersion::TLSv1_2) && group != NamedGroup::secp256r1 {
            groups.push(NamedGroup::secp256r1);
        }
        client = client.groups(&groups);
        server = server.groups(&groups);
    }
    let client = client.build().ok()?;
    let server = server.build().ok()?;
    Some(Ours { client, server })
}

/// Moves everything `from` has to send into `to`, draining `to`'s plaintext into `sink`.
/// Returns plaintext bytes drained.
fn s_pump(from: &mut Connection, to: &mut Connection, wire: &mut Vec<u8>, sink: &mut [u8]) -> usize {
    s_pump_with(from, to, wire, |to| drain(&mut to.reader(), sink))
}

/// [`s_pump`] whose receiver takes its plaintext where it lies ([`lend`]).
fn s_pump_lent(from: &mut Connection, to: &mut Connection, wire: &mut Vec<u8>) -> usize {
    s_pump_with(from, to, wire, |to| lend(&mut to.reader()))
}

fn s_pump_with(
    from: &mut Connection,
    to: &mut Connection,
    wire: &mut Vec<u8>,
    mut take: impl FnMut(&mut Connection) -> usize,
) -> usize {
    wire.clear();
    while from.write_tls(wire).expect("write_tls") > 0 {}
    let mut rd = &wire[..];
    let mut got = 0;
    while !rd.is_empty() {
        to.read_tls(&mut rd).expect("read_tls");
        to.process_new_packets().expect("process");
        got += take(to);
    }
    got
}

/// Reads what `reader` has into `sink` (`io::Read`, a copy); the bytes read.
fn drain(reader: &mut impl Read, sink: &mut [u8]) -> usize {
    let mut got = 0;
    while let Ok(n) = reader.read(sink) {
        if n == 0 {
            break;
        }
        got += n;
    }
    got
}

/// Takes what `reader` has where it lies (`io::BufRead::fill_buf` and `consume`, no copy);
/// the bytes taken.
fn lend(reader: &mut impl BufRead) -> usize {
    let mut got = 0;
    loop {
        let n = match reader.fill_buf() {
            Ok(front) if !front.is_empty() => black_box(front).len(),
            _ => break,
        };
        reader.consume(n);
        got += n;
    }
    got
}

/// A finished handshake (tickets delivered), or `None` if it failed. Not inlined, so that
/// callgrind shows its inclusive cost per call.
#[inline(never)]
fn s_handshake(o: &Ours, wire: &mut Vec<u8>) -> Option<(Connection, Connection)> {
    s_handshake_why(o, wire).ok()
}

/// [`s_handshake`], saying where a failed handshake stopped.
fn s_handshake_why(o: &Ours, wire: &mut Vec<u8>) -> Result<(Connection, Connection), String> {
    let mut c = Connection::client(o.client.clone(), "localhost").map_err(|e| format!("client: {e}"))?;
    let mut s = Connection::server(o.server.clone()).map_err(|e| format!("server: {e}"))?;
    let mut sink = [0u8; 256];
    let flight = |from: &mut Connection, to: &mut Connection, wire: &mut Vec<u8>| {
        wire.clear();
        while from.write_tls(wire).map_err(|e| format!("write_tls: {e}"))? > 0 {}
        let mut rd = &wire[..];
        while !rd.is_empty() {
            to.read_tls(&mut rd).map_err(|e| format!("read_tls: {e}"))?;
            to.process_new_packets()
                .map_err(|e| format!("process_new_packets: {e}"))?;
        }
        Ok::<(), String>(())
    };
    for _ in 0..8 {
        flight(&mut c, &mut s, wire).map_err(|e| format!("to the server: {e}"))?;
        flight(&mut s, &mut c, wire).map_err(|e| format!("to the client: {e}"))?;
        if !c.is_handshaking() && !s.is_handshaking() && !c.wants_write() && !s.wants_write() {
            while c.next_event().is_some() {}
            while s.next_event().is_some() {}
            let _ = c.reader().read(&mut sink);
            return Ok((c, s));
        }
    }
    Err("no end after 8 round trips".into())
}

// ---------------------------------------------------------------------------------------
// rustls side

struct Theirs {
    client: Arc<rustls::ClientConfig>,
    server: Arc<rustls::ServerConfig>,
}

fn theirs(kind: &str, suite: CipherSuite, tls12: bool) -> Theirs {
    theirs_with(
        rprovider::default_provider(),
        kind,
        suite,
        tls12,
        Some(NamedGroup::x25519),
    )
}

/// [`theirs`] on another rustls provider and group (`None`: the provider's default groups
/// with X25519MLKEM768 moved first, as rustls's `prefer-post-quantum` feature orders them:
/// its client then sends X25519MLKEM768 and x25519 shares, like ours by default).
fn theirs_with(
    mut p: rustls::crypto::CryptoProvider,
    kind: &str,
    suite: CipherSuite,
    tls12: bool,
    group: Option<NamedGroup>,
) -> Theirs {
    match group {
        Some(group) => {
            // TLS 1.2: P-256 listed second, as on our side (see `ours_with_group`).
            p.kx_groups.retain(|g| u16::from(g.name()) == group.get());
            assert_eq!(p.kx_groups.len(), 1, "rustls provider has {group}");
            if tls12 && group != NamedGroup::secp256r1 {
                p.kx_groups.push(rprovider::kx_group::SECP256R1);
            }
        }
        None => p
            .kx_groups
            .sort_by_key(|g| u16::from(g.name()) != NamedGroup::X25519MLKEM768.get()),
    }
    if tls12 {
        p.cipher_suites.retain(|s| {
            let v = u16::from(s.suite());
            v == 0xc02b || v == 0xc02f
        });
    } else {
        p.cipher_suites.retain(|s| u16::from(s.suite()) == suite.get());
    }
    let p = Arc::new(p);
    let versions: &[&rustls::SupportedProtocolVersion] = if tls12 {
        &[&rustls::version::TLS12]
    } else {
        &[&rustls::version::TLS13]
    };
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(vectors().join("ca.pem")).expect("ca.pem") {
        roots.add(cert.expect("ca cert")).expect("root");
    }
    let client = rustls::ClientConfig::builder_with_provider(p.clone())
        .with_protocol_versions(versions)
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let v = vectors();
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(v.join(format!("localhost-{kind}.pem")))
            .expect("chain")
            .map(|c| c.expect("cert"))
            .collect();
    let key = PrivateKeyDer::from_pem_file(v.join(format!("localhost-{kind}.key"))).expect("key");
    let server = rustls::ServerConfig::builder_with_provider(p)
        .with_protocol_versions(versions)
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("server config");
    Theirs {
        client: Arc::new(client),
        server: Arc::new(server),
    }
}

fn r_pump(
    from: &mut rustls::Connection,
    to: &mut rustls::Connection,
    wire: &mut Vec<u8>,
    sink: &mut [u8],
) -> usize {
    r_pump_with(from, to, wire, |to| drain(&mut to.reader(), sink))
}

/// [`r_pump`] whose receiver takes its plaintext through rustls's `BufRead` ([`lend`]).
fn r_pump_lent(from: &mut rustls::Connection, to: &mut rustls::Connection, wire: &mut Vec<u8>) -> usize {
    r_pump_with(from, to, wire, |to| lend(&mut to.reader()))
}

fn r_pump_with(
    from: &mut rustls::Connection,
    to: &mut rustls::Connection,
    wire: &mut Vec<u8>,
    mut take: impl FnMut(&mut rustls::Connection) -> usize,
) -> usize {
    wire.clear();
    while from.wants_write() {
        from.write_tls(wire).expect("write_tls");
    }
    let mut rd = &wire[..];
    let mut got = 0;
    while !rd.is_empty() {
        to.read_tls(&mut rd).expect("read_tls");
        to.process_new_packets().expect("process");
        got += take(to);
    }
    got
}

#[inline(never)]
fn r_handshake(t: &Theirs, wire: &mut Vec<u8>) -> (rustls::Connection, rustls::Connection) {
    let name = ServerName::try_from("localhost").expect("name");
    let mut c: rustls::Connection = rustls::ClientConnection::new(t.client.clone(), name)
        .expect("client")
        .into();
    let mut s: rustls::Connection = rustls::ServerConnection::new(t.server.clone())
        .expect("server")
        .into();
    for conn in [&mut c, &mut s] {
        conn.set_buffer_limit(Some(2 * MIB));
    }
    let mut sink = [0u8; 256];
    for _ in 0..8 {
        r_pump(&mut c, &mut s, wire, &mut sink);
        r_pump(&mut s, &mut c, wire, &mut sink);
        if !c.is_handshaking() && !s.is_handshaking() && !c.wants_write() && !s.wants_write() {
            return (c, s);
        }
    }
    panic!("rustls handshake did not finish");
}

fn r_resumed(c: &rustls::Connection) -> bool {
    c.handshake_kind() == Some(rustls::HandshakeKind::Resumed)
}

/// The ring operations a full TLS 1.3 handshake (client + server) needs: the crypto floor
/// a handshake's rate is measured against.
struct CryptoFloor {
    rng: SystemRandom,
    pair: ring::signature::EcdsaKeyPair,
    verifier: ring::signature::UnparsedPublicKey<Vec<u8>>,
    transcript: [u8; 2048],
    hmac_key: ring::hmac::Key,
}

impl CryptoFloor {
    fn new() -> Self {
        let rng = SystemRandom::new();
        let key = PrivateKeyDer::from_pem_file(vectors().join("localhost-ecdsa-p256.key")).expect("key");
        let pair = ring::signature::EcdsaKeyPair::from_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            key.secret_der(),
            &rng,
        )
        .expect("p256 key");
        use ring::signature::KeyPair;
        let public = pair.public_key().as_ref().to_vec();
        let verifier =
            ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_ASN1, public);
        CryptoFloor {
            rng,
            pair,
            verifier,
            transcript: [0x42u8; 2048],
            hmac_key: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &[7u8; 32]),
        }
    }

    /// One handshake's worth, both sides. Not inlined, so that callgrind shows its inclusive
    /// cost per call.
    #[inline(never)]
    fn floor_once(&self) {
        let rng = &self.rng;
        for _ in 0..2 {
            let eph = ring::agreement::EphemeralPrivateKey::generate(&ring::agreement::X25519, rng)
                .expect("x25519");
            let peer = ring::agreement::EphemeralPrivateKey::generate(&ring::agreement::X25519, rng)
                .expect("x25519")
                .compute_public_key()
                .expect("pub");
            let pk = ring::agreement::UnparsedPublicKey::new(&ring::agreement::X25519, peer);
            ring::agreement::agree_ephemeral(eph, &pk, |s| black_box(s[0])).expect("agree");
        }
        let sig = self.pair.sign(rng, &self.transcript[..130]).expect("sign");
        for _ in 0..2 {
            self.verifier
                .verify(&self.transcript[..130], sig.as_ref())
                .expect("verify");
        }
        // Per side: ~18 HKDF steps (HMACs) and ~6 transcript-hash snapshots.
        for _ in 0..36 {
            black_box(ring::hmac::sign(&self.hmac_key, &self.transcript[..64]));
        }
        for _ in 0..2 {
            black_box(ring::digest::digest(&ring::digest::SHA256, &self.transcript));
        }
    }
}

// ---------------------------------------------------------------------------------------
// rustls unbuffered side (`UnbufferedClientConnection` / `UnbufferedServerConnection`): the
// caller owns every buffer, as with our zero-copy path.

/// A byte buffer the caller owns: `buf[..len]` is filled.
struct UBuf {
    buf: Vec<u8>,
    len: usize,
}

impl UBuf {
    fn new(cap: usize) -> Self {
        UBuf {
            buf: vec![0; cap],
            len: 0,
        }
    }

    fn discard(&mut self, n: usize) {
        self.buf.copy_within(n..self.len, 0);
        self.len -= n;
    }

    fn append(&mut self, from: &mut UBuf) {
        self.buf[self.len..self.len + from.len].copy_from_slice(&from.buf[..from.len]);
        self.len += from.len;
        from.len = 0;
    }
}

/// What one `process_tls_records` call asked for.
#[derive(PartialEq, Eq, Debug)]
enum UStep {
    /// A record was encoded into the outgoing buffer.
    Encoded,
    /// The outgoing buffer is to be sent now.
    Transmit,
    /// More bytes from the peer are needed.
    Blocked,
    /// Handshake done: application data may be written.
    Traffic,
}

/// One `process_tls_records` call on `$conn` over `$inc`, encoding into `$out`.
macro_rules! u_process {
    ($conn:expr, $inc:expr, $out:expr) => {{
        let st = $conn.process_tls_records(&mut $inc.buf[..$inc.len]);
        let discard = st.discard;
        let step = match st.state.expect("rustls unbuffered") {
            rustls::unbuffered::ConnectionState::EncodeTlsData(mut e) => {
                $out.len += e.encode(&mut $out.buf[$out.len..]).expect("encode");
                UStep::Encoded
            }
            rustls::unbuffered::ConnectionState::TransmitTlsData(t) => {
                t.done();
                UStep::Transmit
            }
            rustls::unbuffered::ConnectionState::BlockedHandshake => UStep::Blocked,
            rustls::unbuffered::ConnectionState::WriteTraffic(_) => UStep::Traffic,
            rustls::unbuffered::ConnectionState::ReadTraffic(mut r) => {
                while let Some(rec) = r.next_record() {
                    rec.expect("record");
                }
                UStep::Encoded
            }
            other => panic!("rustls unbuffered handshake: {other:?}"),
        };
        $inc.discard(discard);
        step
    }};
}

/// An established rustls unbuffered pair (TLS 1.3, no resumption), handshake driven in
/// memory with caller-owned buffers.
fn u_handshake(
    t: &Theirs,
) -> (
    rustls::client::UnbufferedClientConnection,
    rustls::server::UnbufferedServerConnection,
) {
    let name = ServerName::try_from("localhost").expect("name");
    let mut c = rustls::client::UnbufferedClientConnection::new(t.client.clone(), name).expect("client");
    let mut s = rustls::server::UnbufferedServerConnection::new(t.server.clone()).expect("server");
    // Incoming bytes of each side, and each side's outgoing bytes not yet transmitted.
    let (mut c_in, mut s_in) = (UBuf::new(64 * 1024), UBuf::new(64 * 1024));
    let (mut c_out, mut s_out) = (UBuf::new(64 * 1024), UBuf::new(64 * 1024));
    let (mut c_done, mut s_done) = (false, false);
    for _ in 0..200 {
        // Established sides still read what arrives (the server's tickets).
        if !c_done || c_in.len > 0 {
            match u_process!(c, c_in, c_out) {
                UStep::Transmit => s_in.append(&mut c_out),
                UStep::Traffic => {
                    s_in.append(&mut c_out);
                    c_done = true;
                }
                _ => {}
            }
        }
        if !s_done || s_in.len > 0 {
            match u_process!(s, s_in, s_out) {
                UStep::Transmit => c_in.append(&mut s_out),
                UStep::Traffic => {
                    c_in.append(&mut s_out);
                    s_done = true;
                }
                _ => {}
            }
        }
        if c_done && s_done && c_in.len == 0 && s_in.len == 0 && c_out.len == 0 && s_out.len == 0 {
            return (c, s);
        }
    }
    panic!("rustls unbuffered handshake did not finish");
}

/// Seals `data` as records into `out` on the established rustls unbuffered client `uc`;
/// the bytes written.
fn u_write(uc: &mut rustls::client::UnbufferedClientConnection, data: &[u8], out: &mut [u8]) -> usize {
    match uc.process_tls_records(&mut []).state.expect("state") {
        rustls::unbuffered::ConnectionState::WriteTraffic(mut w) => w.encrypt(data, out).expect("encrypt"),
        other => panic!("rustls unbuffered client: {other:?}"),
    }
}

/// Opens the records in `wire` in place on the rustls unbuffered server `us`; the
/// application bytes they carried.
fn u_read(us: &mut rustls::server::UnbufferedServerConnection, wire: &mut [u8]) -> usize {
    let (mut at, mut got) = (0, 0);
    while at < wire.len() {
        let st = us.process_tls_records(&mut wire[at..]);
        let discard = st.discard;
        match st.state.expect("state") {
            rustls::unbuffered::ConnectionState::ReadTraffic(mut r) => {
                while let Some(rec) = r.next_record() {
                    got += rec.expect("record").payload.len();
                }
            }
            rustls::unbuffered::ConnectionState::WriteTraffic(_) => {}
            other => panic!("rustls unbuffered server: {other:?}"),
        }
        assert!(discard > 0, "rustls unbuffered made no progress");
        at += discard;
    }
    got
}

// ---------------------------------------------------------------------------------------
// sanstls DTLS (no rustls counterpart: rustls has no DTLS)

/// What one DTLS handshake through the stateless acceptor put on the wire.
struct DtlsWire {
    datagrams: usize,
    bytes: usize,
    version: Option<ProtocolVersion>,
}

/// One DTLS handshake in memory (see [`d_pair`]): what it put on the wire.
fn d_handshake(o: &Ours, buf: &mut [u8]) -> Option<DtlsWire> {
    d_pair(o, buf).map(|(_, _, wire)| wire)
}

/// One DTLS handshake in memory: client, `DtlsAcceptor` (HelloVerifyRequest for 1.2, the
/// stateless HelloRetryRequest for 1.3), then the server connection, no loss. The settled
/// pair and what went on the wire.
fn d_pair(o: &Ours, buf: &mut [u8]) -> Option<(DtlsConnection, DtlsConnection, DtlsWire)> {
    let now = Instant::now();
    let dtls = DtlsConfig::default();
    let mut acceptor = DtlsAcceptor::new(o.server.clone(), dtls.clone(), now).ok()?;
    let mut client = DtlsConnection::client(o.client.clone(), "localhost", dtls, now).ok()?;
    let mut server: Option<DtlsConnection> = None;
    let mut wire = DtlsWire {
        datagrams: 0,
        bytes: 0,
        version: None,
    };
    for _ in 0..20 {
        let mut moved = false;
        while let Some(n) = client.poll_datagram(buf) {
            moved = true;
            wire.datagrams += 1;
            wire.bytes += n;
            match server.as_mut() {
                Some(s) => s.recv_datagram(&buf[..n], now).ok()?,
                None => match acceptor.accept(&buf[..n], b"127.0.0.1:9", now) {
                    Accepted::HelloVerifyRequest(d) | Accepted::HelloRetryRequest(d) => {
                        wire.datagrams += 1;
                        wire.bytes += d.len();
                        client.recv_datagram(&d, now).ok()?;
                    }
                    Accepted::Connection(c) => server = Some(*c),
                    Accepted::Dropped => return None,
                },
            }
        }
        if let Some(s) = server.as_mut() {
            while let Some(n) = s.poll_datagram(buf) {
                moved = true;
                wire.datagrams += 1;
                wire.bytes += n;
                client.recv_datagram(&buf[..n], now).ok()?;
            }
        }
        if !moved {
            break;
        }
    }
    let server = server.filter(|s| !s.is_handshaking() && !client.is_handshaking())?;
    wire.version = client.protocol_version();
    Some((client, server, wire))
}

/// Moves every datagram `from` has to `to` and reads what arrives: application bytes.
fn d_pump(from: &mut DtlsConnection, to: &mut DtlsConnection, buf: &mut [u8], sink: &mut [u8]) -> usize {
    let now = Instant::now();
    let mut got = 0;
    while let Some(n) = from.poll_datagram(buf) {
        to.recv_datagram(&buf[..n], now).expect("recv_datagram");
        while let Ok(k) = to.reader().read(sink) {
            if k == 0 {
                break;
            }
            got += k;
        }
    }
    got
}

/// rustls configs whose records are at most `size` bytes on the wire (header and tag
/// included): the TLS counterpart of DTLS records cut to a datagram.
fn theirs_fragmented(kind: &str, suite: CipherSuite, size: usize) -> Theirs {
    let t = theirs(kind, suite, false);
    let mut client = (*t.client).clone();
    client.max_fragment_size = Some(size);
    let mut server = (*t.server).clone();
    server.max_fragment_size = Some(size);
    Theirs {
        client: Arc::new(client),
        server: Arc::new(server),
    }
}

// ---------------------------------------------------------------------------------------
// figures

struct Bench {
    run: Run,
    /// `--only WORD`: run only the figures whose group name contains WORD (for profiling).
    only: Option<String>,
    /// `--figure K`: of the DTLS data figures, run only the K-th (0 rustls buffered, 1 and 2
    /// DTLS 1.3 and 1.2 buffered, 3 rustls unbuffered, 4 and 5 DTLS 1.3 and 1.2 zero-copy),
    /// printing nothing: callgrind then counts that figure's instructions alone.
    figure: Option<usize>,
}

impl Bench {
    fn wants(&self, group: &str) -> bool {
        self.only.as_ref().is_none_or(|w| group.contains(w.as_str()))
    }

    fn handshakes(&self, label: &str, kind: &str, tls12: bool, resumed: bool, with_floor: bool) {
        let suite = CipherSuite::TLS_AES_128_GCM_SHA256;
        let versions: &[ProtocolVersion] = if tls12 {
            &[ProtocolVersion::TLSv1_2]
        } else {
            &[ProtocolVersion::TLSv1_3]
        };
        let want_version = versions[0];
        let mut wire = Vec::with_capacity(64 * 1024);
        // sanstls: the figure exists only when the handshake negotiates what it claims to.
        // Resumed: one client session store shared by every connection of the config.
        let store = resumed.then(|| Arc::new(ClientSessionStore::default()));
        let ok = ours(kind, suite, versions, store).filter(|o| {
            let first = s_handshake(o, &mut wire);
            let again = s_handshake(o, &mut wire);
            let ok = match (&first, &again) {
                (Some((c, _)), Some((c2, _))) => {
                    c.protocol_version() == Some(want_version) && c2.is_resumed() == resumed
                }
                _ => false,
            };
            if !ok {
                // Say why the figure is n/a: a failed handshake is not a missing feature.
                let why = |h: &Option<(Connection, Connection)>| {
                    h.as_ref().map(|(c, s)| {
                        (
                            c.protocol_version(),
                            c.is_resumed(),
                            c.error().cloned(),
                            s.error().cloned(),
                        )
                    })
                };
                eprintln!(
                    "{label}: sanstls check failed: first {:?}, second {:?} ({:?})",
                    why(&first),
                    why(&again),
                    s_handshake_why(o, &mut Vec::new()).err()
                );
            }
            ok
        });
        let t = theirs(kind, suite, tls12);
        // Full handshakes: no session cache on the rustls client. Resumed: one handshake
        // first, so that every measured one resumes.
        let t = if resumed {
            let _ = r_handshake(&t, &mut wire);
            t
        } else {
            let mut cfg = (*t.client).clone();
            cfg.resumption = rustls::client::Resumption::disabled();
            Theirs {
                client: Arc::new(cfg),
                server: t.server.clone(),
            }
        };
        // sanstls, rustls and (when given) the crypto floor are taken in turns
        // ([`rates_interleaved`]), so their ratios hold while the machine's load moves the
        // absolute rates; each has its own wire buffer.
        let mut s_wire = Vec::with_capacity(64 * 1024);
        let mut r_wire = Vec::with_capacity(64 * 1024);
        let mut s_fig = ok.as_ref().map(|o| {
            move || {
                let (c, _) = s_handshake(o, &mut s_wire).expect("handshake");
                assert_eq!(c.is_resumed(), resumed, "sanstls resumed");
                1
            }
        });
        let mut r_fig = || {
            let (c, _) = r_handshake(&t, &mut r_wire);
            assert_eq!(r_resumed(&c), resumed, "rustls resumed");
            1
        };
        let mut figures: Vec<&mut dyn FnMut() -> u64> = Vec::new();
        if let Some(f) = s_fig.as_mut() {
            figures.push(f);
        }
        figures.push(&mut r_fig);
        let floor = with_floor.then(CryptoFloor::new);
        let mut floor_fig = floor.as_ref().map(|f| {
            move || {
                f.floor_once();
                1
            }
        });
        if let Some(f) = floor_fig.as_mut() {
            figures.push(f);
        }
        let (mean, best) = rates_interleaved(self.run, &mut figures);
        let s_at = usize::from(ok.is_some());
        let pick = |v: &[f64]| {
            let s = ok.is_some().then(|| v[0]);
            let floor = with_floor.then(|| v[s_at + 1]);
            (s, v[s_at], floor)
        };
        let (s, r, c) = pick(&mean);
        line(label, "hs/s", s, Some(r), c);
        if let (Some(s), r, c) = pick(&best) {
            let mut fastest = format!("  fastest batches: over rustls {:.2}", s / r);
            if let Some(c) = c {
                fastest += &format!(", of the crypto floor {:.2}", s / c);
            }
            println!("{fastest}");
        }
    }

    /// Full TLS 1.3 handshakes (ECDSA P-256, no resumption) with X25519MLKEM768 beside
    /// X25519 in the same run, ours and rustls with its aws-lc-rs provider (the ring provider
    /// has no ML-KEM), each side configured with that one group; then both with their
    /// default groups (rustls's with X25519MLKEM768 first, see [`theirs_with`]):
    /// X25519MLKEM768 negotiated, each client also sending an x25519 share made from the
    /// hybrid's X25519 key. Prints each rate and the hybrid rate as a fraction of
    /// the X25519 one. The six figures are taken in turns ([`rates_interleaved`]), so the
    /// fractions hold on a loaded machine; the same fractions from each figure's fastest
    /// batch follow, steadier still.
    fn pq_handshakes(&self) {
        let suite = CipherSuite::TLS_AES_128_GCM_SHA256;
        let v13 = [ProtocolVersion::TLSv1_3];
        let groups = [Some(NamedGroup::x25519), Some(NamedGroup::X25519MLKEM768), None];
        // Ours: checked once (group, both sides, no retry), `None` if not there yet.
        let ours: Vec<Option<Ours>> = groups
            .iter()
            .map(|&group| {
                let o = ours_with_group("ecdsa-p256", suite, &v13, None, group)?;
                let want = group.unwrap_or(NamedGroup::X25519MLKEM768);
                let (c, s) = s_handshake(&o, &mut Vec::new())?;
                let ok = c.key_exchange_group() == Some(want)
                    && s.key_exchange_group() == Some(want)
                    && !c.had_hello_retry();
                ok.then_some(o)
            })
            .collect();
        let theirs: Vec<(Theirs, NamedGroup)> = groups
            .iter()
            .map(|&group| {
                let t = theirs_with(
                    rustls::crypto::aws_lc_rs::default_provider(),
                    "ecdsa-p256",
                    suite,
                    false,
                    group,
                );
                let mut cfg = (*t.client).clone();
                cfg.resumption = rustls::client::Resumption::disabled();
                let t = Theirs {
                    client: Arc::new(cfg),
                    server: t.server,
                };
                (t, group.unwrap_or(NamedGroup::X25519MLKEM768))
            })
            .collect();
        let mut ours_fns: Vec<Box<dyn FnMut() -> u64 + '_>> = ours
            .iter()
            .flatten()
            .map(|o| {
                let mut wire = Vec::with_capacity(64 * 1024);
                Box::new(move || -> u64 {
                    let (c, _) = s_handshake(o, &mut wire).expect("handshake");
                    black_box(c);
                    1
                }) as Box<dyn FnMut() -> u64>
            })
            .collect();
        let theirs_fns = theirs.iter().map(|(t, want)| {
            let mut wire = Vec::with_capacity(64 * 1024);
            Box::new(move || -> u64 {
                let (c, _) = r_handshake(t, &mut wire);
                assert_eq!(
                    c.negotiated_key_exchange_group().map(|g| u16::from(g.name())),
                    Some(want.get())
                );
                1
            }) as Box<dyn FnMut() -> u64>
        });
        ours_fns.extend(theirs_fns);
        let mut refs: Vec<&mut dyn FnMut() -> u64> = ours_fns.iter_mut().map(|f| &mut **f as _).collect();
        let (mean, best) = rates_interleaved(self.run, &mut refs);
        let split = |rates: Vec<f64>| {
            let mut rates = rates.into_iter();
            let s_rates: Vec<Option<f64>> = ours
                .iter()
                .map(|o| o.as_ref().and_then(|_| rates.next()))
                .collect();
            (s_rates, rates.collect::<Vec<f64>>())
        };
        let (s_rates, r_rates) = split(mean);
        let labels = [
            "full TLS 1.3 handshake X25519 ECDSA-P256 (rustls aws-lc-rs)",
            "full TLS 1.3 handshake X25519MLKEM768 ECDSA-P256 (rustls aws-lc-rs)",
            "full TLS 1.3 handshake default groups (X25519MLKEM768 + x25519 shares) ECDSA-P256 (rustls aws-lc-rs)",
        ];
        for ((label, s), r) in labels.iter().zip(&s_rates).zip(&r_rates) {
            line(label, "hs/s", *s, Some(*r), None);
        }
        let frac = |pq: Option<f64>, x: Option<f64>| match (pq, x) {
            (Some(pq), Some(x)) if x > 0.0 => format!("{:.2}", pq / x),
            _ => "n/a".to_string(),
        };
        println!(
            "X25519MLKEM768 rate as a fraction of X25519: sanstls {}, rustls aws-lc-rs {}; default groups: sanstls {}, rustls aws-lc-rs {}",
            frac(s_rates[1], s_rates[0]),
            frac(Some(r_rates[1]), Some(r_rates[0])),
            frac(s_rates[2], s_rates[0]),
            frac(Some(r_rates[2]), Some(r_rates[0]))
        );
        let (s_best, r_best) = split(best);
        let us = |r: Option<f64>| r.map_or("n/a".to_string(), |r| format!("{:.0}", 1e6 / r));
        println!(
            "fastest batch of each: X25519MLKEM768 as a fraction of X25519: sanstls {}, rustls aws-lc-rs {}; sanstls X25519MLKEM768 over rustls's: {}; us per handshake, X25519 and X25519MLKEM768: sanstls {} and {}, rustls aws-lc-rs {} and {}",
            frac(s_best[1], s_best[0]),
            frac(Some(r_best[1]), Some(r_best[0])),
            frac(s_best[1], Some(r_best[1])),
            us(s_best[0]),
            us(s_best[1]),
            us(Some(r_best[0])),
            us(Some(r_best[1]))
        );
    }

    /// The key exchange alone, no handshake around it, for X25519 and X25519MLKEM768, ours
    /// (`KeyExchange::{start, accept, complete}`) and rustls aws-lc-rs's (`start`,
    /// `start_and_complete`, `complete`): the client's share, the server's share and secret,
    /// and the whole exchange (client share, server, client secret). Microseconds per call
    /// from the fastest batch ([`best_times_interleaved`]), so the figures hold on a loaded
    /// machine; the hybrid minus X25519 is what ML-KEM adds to each side of a handshake.
    fn pq_key_exchange(&self) {
        use sanstls::crypto::kx::KeyExchange;
        use sanstls::crypto::rand::SystemRandomSource as Rng;
        let groups = [NamedGroup::x25519, NamedGroup::X25519MLKEM768];
        let provider = rustls::crypto::aws_lc_rs::default_provider();
        let mut fns: Vec<Box<dyn FnMut()>> = Vec::new();
        for group in groups {
            let client = KeyExchange::start(group, &Rng).expect("start");
            let share = client.public_key().to_vec();
            fns.push(Box::new(move || {
                black_box(KeyExchange::start(group, &Rng).expect("start"));
            }));
            fns.push(Box::new(move || {
                black_box(KeyExchange::accept(group, &share, &Rng).expect("accept"));
            }));
            fns.push(Box::new(move || {
                let client = KeyExchange::start(group, &Rng).expect("start");
                let (share, server) = KeyExchange::accept(group, client.public_key(), &Rng).expect("accept");
                let secret = client.complete(&share).expect("complete");
                assert!(secret.ct_eq(server.as_bytes()));
            }));
        }
        for group in groups {
            let kx = *provider
                .kx_groups
                .iter()
                .find(|g| u16::from(g.name()) == group.get())
                .expect("rustls aws-lc-rs group");
            let share = kx.start().expect("start").pub_key().to_vec();
            fns.push(Box::new(move || {
                black_box(kx.start().expect("start"));
            }));
            fns.push(Box::new(move || {
                black_box(kx.start_and_complete(&share).expect("accept"));
            }));
            fns.push(Box::new(move || {
                let client = kx.start().expect("start");
                let server = kx.start_and_complete(client.pub_key()).expect("accept");
                let secret = client.complete(&server.pub_key).expect("complete");
                assert_eq!(secret.secret_bytes(), server.secret.secret_bytes());
            }));
        }
        let mut refs: Vec<&mut dyn FnMut()> = fns.iter_mut().map(|f| &mut **f as _).collect();
        let us = best_times_interleaved(self.run, &mut refs);
        let (ours, theirs) = us.split_at(6);
        let parts = ["client share", "server share and secret", "whole exchange"];
        for (g, group) in groups.iter().enumerate() {
            for (p, part) in parts.iter().enumerate() {
                let i = 3 * g + p;
                line(
                    &format!("key exchange alone {group}, {part} (rustls aws-lc-rs)"),
                    "us",
                    Some(ours[i]),
                    Some(theirs[i]),
                    None,
                );
            }
        }
        println!(
            "X25519MLKEM768 over X25519, whole exchange: sanstls +{:.1} us, rustls aws-lc-rs +{:.1} us",
            ours[5] - ours[2],
            theirs[5] - theirs[2]
        );
    }

    /// Full DTLS 1.3 and DTLS 1.2 handshakes through the stateless acceptor (one cookie round
    /// trip each), beside our own TLS 1.3 full handshake: rustls has no DTLS, so the ratio
    /// column is n/a and the comparison is with TLS in the same run.
    fn dtls(&self) {
        let suite = CipherSuite::TLS_AES_128_GCM_SHA256;
        let mut buf = vec![0u8; 2048];
        let mut wire = Vec::with_capacity(64 * 1024);
        let tls13 = ours("ecdsa-p256", suite, &[ProtocolVersion::TLSv1_3], None)
            .map(|o| rate(self.run, || s_handshake(&o, &mut wire).map_or(0, |_| 1)));
        line(
            "full TLS 1.3 handshake (reference for DTLS)",
            "hs/s",
            tls13,
            None,
            None,
        );
        for (label, versions, want) in [
            (
                "full DTLS 1.3 handshake with stateless HRR cookie",
                &[ProtocolVersion::TLSv1_3][..],
                ProtocolVersion::DTLSv1_3,
            ),
            (
                "full DTLS 1.2 handshake with HelloVerifyRequest",
                &[ProtocolVersion::TLSv1_2][..],
                ProtocolVersion::DTLSv1_2,
            ),
        ] {
            let Some(o) = ours("ecdsa-p256", suite, versions, None) else {
                line(label, "hs/s", None, None, None);
                continue;
            };
            let first = d_handshake(&o, &mut buf).filter(|w| w.version == Some(want));
            let r = first
                .as_ref()
                .map(|_| rate(self.run, || d_handshake(&o, &mut buf).map_or(0, |_| 1)));
            line(label, "hs/s", r, None, None);
            if let (Some(w), Some(r), Some(t)) = (first, r, tls13) {
                println!(
                    "  {label}: {} datagrams, {} bytes on the wire, {:.2} of the TLS 1.3 rate",
                    w.datagrams,
                    w.bytes,
                    r / t
                );
            }
        }
    }

    /// DTLS application data: 64 KiB writes cut into one record per 1200-byte datagram,
    /// against rustls TLS 1.3 with its records capped at the same 1200 bytes on the wire,
    /// the three taken in turns ([`rates_interleaved`]) so their ratios hold on a loaded
    /// machine; then the heap an idle established DTLS connection holds.
    fn dtls_data(&self) {
        const MTU: usize = 1200;
        const CHUNK: usize = 64 * 1024;
        let suite = CipherSuite::TLS_AES_128_GCM_SHA256;
        let data = vec![0x22u8; CHUNK];
        let mut sink = vec![0u8; CHUNK];
        let mut wire = Vec::with_capacity(4 * CHUNK);

        let t = theirs_fragmented("ecdsa-p256", suite, MTU);
        let (mut rc, mut rs) = r_handshake(&t, &mut wire);
        let mut r_data = || {
            rc.writer().write_all(&data).expect("write");
            let got = r_pump(&mut rc, &mut rs, &mut wire, &mut sink);
            assert_eq!(got, CHUNK);
            CHUNK as u64
        };
        // Heap per idle connection: what dropping the settled pair gives back, halved (as in
        // `memory`; state kept in the configs, such as stored tickets, is not counted).
        let r_idle = {
            let pair = r_handshake(&t, &mut Vec::new());
            let held = counting_alloc::live_bytes();
            drop(pair);
            (held - counting_alloc::live_bytes()) as f64 / 2.0
        };
        let versions = [
            ("DTLS 1.3", ProtocolVersion::TLSv1_3, ProtocolVersion::DTLSv1_3),
            ("DTLS 1.2", ProtocolVersion::TLSv1_2, ProtocolVersion::DTLSv1_2),
        ];
        let mut pairs = versions.map(|(_, offered, want)| {
            let mut buf = vec![0u8; MTU];
            ours("ecdsa-p256", suite, &[offered], None)
                .and_then(|o| d_pair(&o, &mut buf))
                .filter(|(_, _, w)| w.version == Some(want))
                .map(|(c, s, _)| (c, s, buf, vec![0u8; CHUNK]))
        });
        let figure = |label: &str| {
            format!("{label} AES-128-GCM data in 1200-byte datagrams vs rustls TLS 1.3 in 1200-byte records")
        };
        let [p13, p12] = &mut pairs;
        let (Some(p13), Some(p12)) = (p13.as_mut(), p12.as_mut()) else {
            for (label, ..) in versions {
                line(&figure(label), "MB/s", None, None, None);
            }
            return;
        };
        let d_data = |(c, s, buf, sink): &mut (DtlsConnection, DtlsConnection, Vec<u8>, Vec<u8>)| {
            c.writer().write_all(&data).expect("write");
            let got = d_pump(c, s, buf, sink);
            assert_eq!(got, CHUNK);
            CHUNK as u64
        };
        let mut d13 = || d_data(p13);
        let mut d12 = || d_data(p12);

        // Zero-copy: `seal_datagram` seals each datagram's data straight from `data` into the
        // datagram buffer, `recv_datagram_in_place` opens it where it lies; against rustls's
        // unbuffered API on the same 1,200-byte records (`WriteTraffic::encrypt` into a
        // caller buffer, `process_tls_records` opening them in place).
        let (mut uc, mut us) = u_handshake(&t);
        let mut uwire = vec![0u8; 2 * CHUNK];
        let mut r_unbuf = || {
            let written = u_write(&mut uc, &data, &mut uwire);
            let got = u_read(&mut us, &mut uwire[..written]);
            assert_eq!(got, CHUNK);
            CHUNK as u64
        };
        let mut zc_pairs = versions.map(|(_, offered, _)| {
            let mut buf = vec![0u8; MTU];
            ours("ecdsa-p256", suite, &[offered], None)
                .and_then(|o| d_pair(&o, &mut buf))
                .map(|(c, s, _)| (c, s, buf))
        });
        let [Some(z13), Some(z12)] = &mut zc_pairs else {
            panic!("DTLS handshake for the zero-copy figures");
        };
        let d_zero_copy = |(c, s, buf): &mut (DtlsConnection, DtlsConnection, Vec<u8>)| {
            let now = Instant::now();
            let mut got = 0;
            for chunk in data.chunks(c.max_datagram_data()) {
                let n = c.seal_datagram(chunk, buf).expect("seal_datagram");
                let mut at = 0;
                while at < n {
                    let r = s
                        .recv_datagram_in_place(&mut buf[at..n], now)
                        .expect("recv_datagram_in_place");
                    got += r.data(&buf[at..n]).len();
                    at += r.consumed;
                }
            }
            assert_eq!(got, CHUNK);
            CHUNK as u64
        };
        let mut z13 = || d_zero_copy(z13);
        let mut z12 = || d_zero_copy(z12);
        let mut figures: [&mut dyn FnMut() -> u64; 6] =
            [&mut r_data, &mut d13, &mut d12, &mut r_unbuf, &mut z13, &mut z12];
        if let Some(f) = self.figure.and_then(|k| figures.get_mut(k)) {
            // `--figure K`: this one alone, for its instruction count; nothing printed.
            rates_interleaved(self.run, &mut [&mut **f]);
            return;
        }
        let (mean, best) = rates_interleaved(self.run, &mut figures);
        for (i, (label, offered, _)) in versions.into_iter().enumerate() {
            line(
                &figure(label),
                "MB/s",
                Some(mean[i + 1] / 1e6),
                Some(mean[0] / 1e6),
                None,
            );
            let o = ours("ecdsa-p256", suite, &[offered], None).expect("config");
            let pair = d_pair(&o, &mut vec![0u8; MTU]).expect("handshake");
            let held = counting_alloc::live_bytes();
            drop(pair);
            line(
                &format!("heap per idle established {label} connection vs rustls TLS 1.3"),
                "B",
                Some((held - counting_alloc::live_bytes()) as f64 / 2.0),
                Some(r_idle),
                None,
            );
        }
        for (i, (label, ..)) in versions.into_iter().enumerate() {
            line(
                &format!("{label} AES-128-GCM data zero-copy (seal_datagram, recv_datagram_in_place) vs rustls TLS 1.3 unbuffered, 1200-byte records"),
                "MB/s",
                Some(mean[i + 4] / 1e6),
                Some(mean[3] / 1e6),
                None,
            );
        }
        println!(
            "  fastest batches, DTLS data over rustls TLS 1.3: DTLS 1.3 {:.2}, DTLS 1.2 {:.2}; zero-copy over rustls unbuffered: DTLS 1.3 {:.2}, DTLS 1.2 {:.2}",
            best[1] / best[0],
            best[2] / best[0],
            best[4] / best[3],
            best[5] / best[3],
        );
    }

    /// The ring operations of one full TLS 1.3 handshake (X25519, ECDSA P-256 server key and
    /// CA): two X25519 key pairs and agreements, one ECDSA P-256 signature, two verifications
    /// (CertificateVerify, and the CA's signature on the leaf), and the key schedule's HMACs
    /// and transcript hashes. Handshakes per second.
    /// 1 MiB transfers: our buffered (read with `read` and with `BufRead`), zero-copy and
    /// in-place paths beside rustls's buffered (the same two ways) and unbuffered APIs and
    /// ring alone. The eight are taken in turns ([`rates_interleaved`]),
    /// so their ratios hold on a loaded machine; a last line gives each fraction of the
    /// ceiling from the fastest batches too.
    fn bulk(&self, suite: CipherSuite, ring_alg: &'static aead::Algorithm, name: &str) {
        let data = vec![0xa5u8; MIB];
        let o = ours("ecdsa-p256", suite, &[ProtocolVersion::TLSv1_3], None).expect("sanstls config");
        let (mut c, mut s) = s_handshake(&o, &mut Vec::new()).expect("sanstls handshake");
        let (mut zc_c, mut zc_s) = s_handshake(&o, &mut Vec::new()).expect("sanstls handshake");
        let mb = |bytes_per_s: f64| bytes_per_s / 1e6;

        // Buffered: writer() -> write_tls -> read_tls -> process_new_packets -> reader().
        let (mut s_wire, mut s_sink) = (Vec::with_capacity(2 * MIB), vec![0u8; MIB]);
        let mut s_buf = || {
            c.writer().write_all(&data).expect("write");
            let got = s_pump(&mut c, &mut s, &mut s_wire, &mut s_sink);
            assert_eq!(got, MIB);
            MIB as u64
        };
        // Zero-copy: encrypt_into -> read_in_place.
        let mut zc = vec![0u8; zc_c.encrypted_len(MIB)];
        let mut s_zc = || {
            let sealed = zc_c.encrypt_into(&data, &mut zc).expect("encrypt_into");
            if sealed.consumed < MIB {
                // A KeyUpdate became due: not within a benchmark's record counts.
                panic!("unexpected key update");
            }
            let mut at = 0;
            let mut got = 0;
            while at < sealed.written {
                let r = zc_s
                    .read_in_place(&mut zc[at..sealed.written])
                    .expect("read_in_place");
                got += r.data(&zc[at..]).len();
                at += r.consumed;
            }
            assert_eq!(got, MIB);
            MIB as u64
        };

        // In place, no copy at all: each record's content sits at its place in one 1 MiB
        // buffer (`record_content_offset`), `seal_in_place` writes header and tag around it
        // and `read_in_place` opens it where it lies, leaving the plaintext there for the next
        // round (what an io_uring server with registered buffers does).
        let (mut ip_c, mut ip_s) = s_handshake(&o, &mut Vec::new()).expect("sanstls handshake");
        let (content_at, slot) = (ip_c.record_content_offset(), RECORD + ip_c.record_overhead());
        let mut ip = vec![0u8; slot * (MIB / RECORD)];
        for rec in ip.chunks_mut(slot) {
            rec[content_at..content_at + RECORD].fill(0xa5);
        }
        let mut s_ip = || {
            let mut got = 0;
            for rec in ip.chunks_mut(slot) {
                let n = ip_c.seal_in_place(rec, RECORD).expect("seal_in_place");
                let r = ip_s.read_in_place(&mut rec[..n]).expect("read_in_place");
                assert_eq!(r.consumed, n);
                got += r.data(rec).len();
            }
            assert_eq!(got, MIB);
            MIB as u64
        };

        let t = theirs("ecdsa-p256", suite, false);
        let (mut rc, mut rs) = r_handshake(&t, &mut Vec::new());
        let (mut r_wire, mut r_sink) = (Vec::with_capacity(2 * MIB), vec![0u8; MIB]);
        let mut r_buf = || {
            rc.writer().write_all(&data).expect("write");
            let got = r_pump(&mut rc, &mut rs, &mut r_wire, &mut r_sink);
            assert_eq!(got, MIB);
            MIB as u64
        };

        // rustls unbuffered, the counterpart of our zero-copy path: `WriteTraffic::encrypt`
        // seals the 1 MiB into a caller buffer, `process_tls_records` + `ReadTraffic` open it.
        let (mut uc, mut us) = u_handshake(&t);
        let mut uwire = vec![0u8; 2 * MIB];
        let mut r_unbuf = || {
            let written = u_write(&mut uc, &data, &mut uwire);
            let got = u_read(&mut us, &mut uwire[..written]);
            assert_eq!(got, MIB);
            MIB as u64
        };

        // Buffered, the receiver taking its plaintext where it lies (`BufRead::fill_buf`
        // and `consume`), both libraries: one copy fewer than `read` on each side.
        let (mut lc, mut ls) = s_handshake(&o, &mut Vec::new()).expect("sanstls handshake");
        let mut l_wire = Vec::with_capacity(2 * MIB);
        let mut s_lent = || {
            lc.writer().write_all(&data).expect("write");
            assert_eq!(s_pump_lent(&mut lc, &mut ls, &mut l_wire), MIB);
            MIB as u64
        };
        let (mut rlc, mut rls) = r_handshake(&t, &mut Vec::new());
        let mut rl_wire = Vec::with_capacity(2 * MIB);
        let mut r_lent = || {
            rlc.writer().write_all(&data).expect("write");
            assert_eq!(r_pump_lent(&mut rlc, &mut rls, &mut rl_wire), MIB);
            MIB as u64
        };

        // Ceiling: ring alone sealing and opening the same 16 KiB records in place.
        let key = LessSafeKey::new(UnboundKey::new(ring_alg, &vec![9u8; ring_alg.key_len()]).expect("key"));
        let mut rec = vec![0u8; RECORD + 1 + 16];
        let mut seq = 0u64;
        let mut ceiling = || {
            for _ in 0..MIB / RECORD {
                let mut n = [0u8; 12];
                n[4..].copy_from_slice(&seq.to_be_bytes());
                seq += 1;
                let hdr = [23u8, 3, 3, 0x40, 0x11];
                let (body, tag_room) = rec.split_at_mut(RECORD + 1);
                let tag = key
                    .seal_in_place_separate_tag(Nonce::assume_unique_for_key(n), Aad::from(hdr), body)
                    .expect("seal");
                tag_room.copy_from_slice(tag.as_ref());
                let plain = key
                    .open_in_place(Nonce::assume_unique_for_key(n), Aad::from(hdr), &mut rec)
                    .expect("open");
                black_box(plain.len());
            }
            MIB as u64
        };
        let (mean, best) = rates_interleaved(
            self.run,
            &mut [
                &mut s_buf,
                &mut s_zc,
                &mut r_buf,
                &mut r_unbuf,
                &mut ceiling,
                &mut s_ip,
                &mut s_lent,
                &mut r_lent,
            ],
        );
        let [s_buf, s_zc, r_buf, r_unbuf, ceiling, s_ip, s_lent, r_lent] = [
            mean[0], mean[1], mean[2], mean[3], mean[4], mean[5], mean[6], mean[7],
        ]
        .map(mb);
        line(
            &format!("bulk {name} buffered (1 MiB writes, 16 KiB records)"),
            "MB/s",
            Some(s_buf),
            Some(r_buf),
            Some(ceiling),
        );
        line(
            &format!("bulk {name} buffered, read with BufRead (fill_buf, consume)"),
            "MB/s",
            Some(s_lent),
            Some(r_lent),
            Some(ceiling),
        );
        line(
            &format!("bulk {name} zero-copy vs rustls buffered"),
            "MB/s",
            Some(s_zc),
            Some(r_buf),
            Some(ceiling),
        );
        line(
            &format!("bulk {name} zero-copy vs rustls unbuffered"),
            "MB/s",
            Some(s_zc),
            Some(r_unbuf),
            Some(ceiling),
        );
        line(
            &format!("bulk {name} in place (seal_in_place, read_in_place) vs rustls unbuffered"),
            "MB/s",
            Some(s_ip),
            Some(r_unbuf),
            Some(ceiling),
        );
        println!(
            "  fastest batches, {name}: of-ceiling buffered {:.2}, BufRead {:.2}, zero-copy {:.2}, in place {:.2}, rustls buffered {:.2}, rustls BufRead {:.2}, rustls unbuffered {:.2}; buffered over rustls buffered {:.2}, BufRead over rustls BufRead {:.2}, zero-copy over rustls unbuffered {:.2}, in place over rustls unbuffered {:.2}",
            best[0] / best[4],
            best[6] / best[4],
            best[1] / best[4],
            best[5] / best[4],
            best[2] / best[4],
            best[7] / best[4],
            best[3] / best[4],
            best[0] / best[2],
            best[6] / best[7],
            best[1] / best[3],
            best[5] / best[3],
        );
    }

    fn ping_pong(&self) {
        let suite = CipherSuite::TLS_AES_128_GCM_SHA256;
        let msg = [0x33u8; PING];
        let mut sink = [0u8; 4096];
        let mut wire = Vec::with_capacity(4096);
        let o = ours("ecdsa-p256", suite, &[ProtocolVersion::TLSv1_3], None).expect("sanstls config");
        let (mut c, mut s) = s_handshake(&o, &mut wire).expect("handshake");
        let s_rate = rate(self.run, || {
            for _ in 0..100 {
                c.writer().write_all(&msg).expect("write");
                assert_eq!(s_pump(&mut c, &mut s, &mut wire, &mut sink), PING);
                s.writer().write_all(&msg).expect("write");
                assert_eq!(s_pump(&mut s, &mut c, &mut wire, &mut sink), PING);
            }
            200
        });
        let mut zc = [0u8; 256];
        let s_zc = rate(self.run, || {
            let mut hop = |a: &mut Connection, b: &mut Connection| {
                let sealed = a.encrypt_into(&msg, &mut zc).expect("encrypt_into");
                let r = b.read_in_place(&mut zc[..sealed.written]).expect("read");
                assert_eq!(r.data(&zc).len(), PING);
            };
            for _ in 0..100 {
                hop(&mut c, &mut s);
                hop(&mut s, &mut c);
            }
            200
        });
        let t = theirs("ecdsa-p256", suite, false);
        let (mut rc, mut rs) = r_handshake(&t, &mut wire);
        let r_rate = rate(self.run, || {
            for _ in 0..100 {
                rc.writer().write_all(&msg).expect("write");
                assert_eq!(r_pump(&mut rc, &mut rs, &mut wire, &mut sink), PING);
                rs.writer().write_all(&msg).expect("write");
                assert_eq!(r_pump(&mut rs, &mut rc, &mut wire, &mut sink), PING);
            }
            200
        });
        line(
            "ping-pong 100 B buffered",
            "records/s",
            Some(s_rate),
            Some(r_rate),
            None,
        );
        line(
            "ping-pong 100 B zero-copy vs rustls buffered",
            "records/s",
            Some(s_zc),
            Some(r_rate),
            None,
        );
    }

    fn memory(&self) {
        let suite = CipherSuite::TLS_AES_128_GCM_SHA256;
        let mut wire = Vec::with_capacity(4 * MIB);
        let mut sink = vec![0u8; MIB];
        let data = vec![0x11u8; MIB];
        let o = ours("ecdsa-p256", suite, &[ProtocolVersion::TLSv1_3], None).expect("config");
        let t = theirs("ecdsa-p256", suite, false);

        // Heap per idle established connection: what dropping the pair gives back, halved.
        let idle = |make: &mut dyn FnMut() -> Box<dyn FnMut()>| {
            let mut release = make();
            let held = counting_alloc::live_bytes();
            release();
            let after_release = counting_alloc::live_bytes();
            drop(release);
            let gone = counting_alloc::live_bytes();
            ((held - gone) as f64 / 2.0, (after_release - gone) as f64 / 2.0)
        };
        let (s_idle, s_released) = idle(&mut || {
            let (mut c, mut s) = s_handshake(&o, &mut Vec::new()).expect("handshake");
            Box::new(move || {
                c.release_buffers();
                s.release_buffers();
            })
        });
        let (r_idle, _) = idle(&mut || {
            let pair = r_handshake(&t, &mut Vec::new());
            let mut pair = Some(pair);
            Box::new(move || {
                // rustls has no call that frees idle buffers; keep the pair as it is.
                black_box(&mut pair);
            })
        });
        line(
            "heap per idle established connection",
            "B",
            Some(s_idle),
            Some(r_idle),
            None,
        );
        line(
            "heap per idle connection after release_buffers (rustls: no such call)",
            "B",
            Some(s_released),
            Some(r_idle),
            None,
        );

        // Allocations per 16 KiB record in steady state (4 MiB after a 1 MiB warm-up).
        let records = (4 * MIB / RECORD) as f64;
        let (mut c, mut s) = s_handshake(&o, &mut wire).expect("handshake");
        let mut buffered = || {
            c.writer().write_all(&data).expect("write");
            s_pump(&mut c, &mut s, &mut wire, &mut sink);
        };
        buffered();
        let before = counting_alloc::allocations();
        for _ in 0..4 {
            buffered();
        }
        let s_buf = (counting_alloc::allocations() - before) as f64 / records;
        let (mut c, mut s) = s_handshake(&o, &mut wire).expect("handshake");
        let mut zc = vec![0u8; c.encrypted_len(MIB)];
        let mut zero_copy = || {
            let sealed = c.encrypt_into(&data, &mut zc).expect("encrypt_into");
            let mut at = 0;
            while at < sealed.written {
                at += s
                    .read_in_place(&mut zc[at..sealed.written])
                    .expect("read")
                    .consumed;
            }
        };
        zero_copy();
        let before = counting_alloc::allocations();
        for _ in 0..4 {
            zero_copy();
        }
        let s_zc = (counting_alloc::allocations() - before) as f64 / records;
        let (mut rc, mut rs) = r_handshake(&t, &mut wire);
        let mut theirs_round = || {
            rc.writer().write_all(&data).expect("write");
            r_pump(&mut rc, &mut rs, &mut wire, &mut sink);
        };
        theirs_round();
        let before = counting_alloc::allocations();
        for _ in 0..4 {
            theirs_round();
        }
        let r_buf = (counting_alloc::allocations() - before) as f64 / records;
        line(
            "allocations per record, buffered",
            "allocs",
            Some(s_buf),
            Some(r_buf),
            None,
        );
        line(
            "allocations per record, zero-copy vs rustls buffered",
            "allocs",
            Some(s_zc),
            Some(r_buf),
            None,
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1).cloned());
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this binary without it,
    // and then one short pass checks that every figure still runs.
    let smoke = !args.iter().any(|a| a == "--bench");
    let (budget, mode) = match (smoke, quick) {
        (true, _) => (5, "smoke (cargo test)"),
        (false, true) => (300, "quick"),
        (false, false) => (2000, "full"),
    };
    let iters = args
        .iter()
        .position(|a| a == "--iters")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok());
    let figure = args
        .iter()
        .position(|a| a == "--figure")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok());
    let b = Bench {
        run: Run {
            budget: Duration::from_millis(budget),
            iters,
        },
        only,
        figure,
    };
    println!("# sanstls vs rustls 0.23 (ring), {mode} mode");
    if b.wants("handshake-ecdsa") {
        b.handshakes(
            "full TLS 1.3 handshake X25519 ECDSA-P256 (vs crypto floor)",
            "ecdsa-p256",
            false,
            false,
            true,
        );
    }
    if b.wants("handshake-pq") {
        b.pq_handshakes();
    }
    if b.wants("kx-pq") {
        b.pq_key_exchange();
    }
    if b.wants("handshake-rsa") {
        b.handshakes(
            "full TLS 1.3 handshake X25519 RSA-2048",
            "rsa2048",
            false,
            false,
            false,
        );
    }
    if b.wants("handshake-resumed") {
        b.handshakes("resumed TLS 1.3 handshake", "ecdsa-p256", false, true, false);
    }
    if b.wants("handshake-tls12-full") {
        b.handshakes(
            "full TLS 1.2 handshake X25519 ECDSA-P256",
            "ecdsa-p256",
            true,
            false,
            false,
        );
    }
    if b.wants("handshake-tls12-resumed") {
        b.handshakes("resumed TLS 1.2 handshake", "ecdsa-p256", true, true, false);
    }
    if b.wants("handshake-dtls") {
        b.dtls();
    }
    if b.wants("dtls-data") {
        b.dtls_data();
    }
    if b.wants("bulk-aes128") {
        b.bulk(
            CipherSuite::TLS_AES_128_GCM_SHA256,
            &aead::AES_128_GCM,
            "AES-128-GCM",
        );
    }
    if b.wants("bulk-aes256") {
        b.bulk(
            CipherSuite::TLS_AES_256_GCM_SHA384,
            &aead::AES_256_GCM,
            "AES-256-GCM",
        );
    }
    if b.wants("bulk-chacha") {
        b.bulk(
            CipherSuite::TLS_CHACHA20_POLY1305_SHA256,
            &aead::CHACHA20_POLY1305,
            "CHACHA20-POLY1305",
        );
    }
    if b.wants("ping-pong") {
        b.ping_pong();
    }
    if b.wants("memory") {
        b.memory();
    }
}
