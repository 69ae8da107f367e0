//! Keys leaving the engine: kernel-TLS secret extraction checked against the key
//! schedule and by sealing/opening real records with the extracted keys; connection
//! serialisation, in memory and across processes with rustls on the other end; reset.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::rustls_pipe::*;
use common::*;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sanstls::codec::{CipherSuite, ProtocolVersion};
use sanstls::conn::{
    ConnectionBlob, KtlsCryptoInfo, KTLS_CIPHER_AES_GCM_128, KTLS_CIPHER_AES_GCM_256,
    KTLS_CIPHER_CHACHA20_POLY1305, KTLS_TLS_1_2_VERSION, KTLS_TLS_1_3_VERSION,
};
use sanstls::{Connection, Error, KeyLog, Misuse};

/// Keeps every logged secret by label.
#[derive(Debug, Default)]
struct Secrets(Mutex<Vec<(String, Vec<u8>)>>);

impl KeyLog for Secrets {
    fn log(&self, label: &str, _client_random: &[u8], secret: &[u8]) {
        self.0.lock().unwrap().push((label.to_string(), secret.to_vec()));
    }
}

impl Secrets {
    fn get(&self, label: &str) -> Vec<u8> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .find(|(l, _)| l == label)
            .unwrap_or_else(|| panic!("{label} not logged"))
            .1
            .clone()
    }
}

/// RFC 8446 7.1 HKDF-Expand-Label with ring directly (independent of our key schedule).
fn expand_label(alg: ring::hkdf::Algorithm, secret: &[u8], label: &[u8], len: usize) -> Vec<u8> {
    struct Len(usize);
    impl ring::hkdf::KeyType for Len {
        fn len(&self) -> usize {
            self.0
        }
    }
    let mut full = b"tls13 ".to_vec();
    full.extend_from_slice(label);
    let info = [
        &(len as u16).to_be_bytes()[..],
        &[full.len() as u8],
        &full,
        &[0u8],
    ];
    let prk = ring::hkdf::Prk::new_less_safe(alg, secret);
    let mut out = vec![0u8; len];
    prk.expand(&info, Len(len)).unwrap().fill(&mut out).unwrap();
    out
}

fn aead_alg(info: &KtlsCryptoInfo) -> &'static ring::aead::Algorithm {
    match info.cipher_type {
        KTLS_CIPHER_AES_GCM_128 => &ring::aead::AES_128_GCM,
        KTLS_CIPHER_AES_GCM_256 => &ring::aead::AES_256_GCM,
        KTLS_CIPHER_CHACHA20_POLY1305 => &ring::aead::CHACHA20_POLY1305,
        other => panic!("cipher {other}"),
    }
}

/// The 12-byte nonce of record `seq` from a kTLS struct, as the kernel builds it.
fn nonce(info: &KtlsCryptoInfo, seq: u64) -> [u8; 12] {
    let mut n = [0u8; 12];
    if info.version == KTLS_TLS_1_2_VERSION && info.cipher_type != KTLS_CIPHER_CHACHA20_POLY1305 {
        // RFC 5288 3: salt || explicit nonce (the sequence number, as `iv` starts it).
        n[..4].copy_from_slice(&info.salt);
        n[4..].copy_from_slice(&seq.to_be_bytes());
        return n;
    }
    n[..info.salt.len()].copy_from_slice(&info.salt);
    n[info.salt.len()..].copy_from_slice(&info.iv);
    for (b, s) in n[4..].iter_mut().zip(seq.to_be_bytes()) {
        *b ^= s;
    }
    n
}

/// Seals one application-data record with the extracted `tx` keys, as kTLS would.
fn seal_record(info: &KtlsCryptoInfo, data: &[u8]) -> Vec<u8> {
    let seq = u64::from_be_bytes(info.rec_seq);
    let key = ring::aead::LessSafeKey::new(ring::aead::UnboundKey::new(aead_alg(info), &info.key).unwrap());
    let n = ring::aead::Nonce::assume_unique_for_key(nonce(info, seq));
    if info.version == KTLS_TLS_1_3_VERSION {
        let mut inner = data.to_vec();
        inner.push(23);
        let len = (inner.len() + 16) as u16;
        let header = [23, 3, 3, (len >> 8) as u8, len as u8];
        key.seal_in_place_append_tag(n, ring::aead::Aad::from(header), &mut inner)
            .unwrap();
        [&header[..], &inner].concat()
    } else {
        let explicit = if info.cipher_type == KTLS_CIPHER_CHACHA20_POLY1305 {
            Vec::new()
        } else {
            info.iv.to_vec()
        };
        let mut aad = seq.to_be_bytes().to_vec();
        aad.extend_from_slice(&[23, 3, 3]);
        aad.extend_from_slice(&(data.len() as u16).to_be_bytes());
        let mut body = data.to_vec();
        key.seal_in_place_append_tag(n, ring::aead::Aad::from(aad), &mut body)
            .unwrap();
        let len = (explicit.len() + body.len()) as u16;
        [&[23, 3, 3, (len >> 8) as u8, len as u8][..], &explicit, &body].concat()
    }
}

/// Opens one application-data record with the extracted `rx` keys.
fn open_record(info: &KtlsCryptoInfo, record: &[u8]) -> Vec<u8> {
    let seq = u64::from_be_bytes(info.rec_seq);
    let key = ring::aead::LessSafeKey::new(ring::aead::UnboundKey::new(aead_alg(info), &info.key).unwrap());
    let (header, body) = record.split_at(5);
    if info.version == KTLS_TLS_1_3_VERSION {
        let n = ring::aead::Nonce::assume_unique_for_key(nonce(info, seq));
        let mut body = body.to_vec();
        let plain = key
            .open_in_place(n, ring::aead::Aad::from(header), &mut body)
            .unwrap();
        assert_eq!(plain.last(), Some(&23));
        plain[..plain.len() - 1].to_vec()
    } else {
        let gcm = info.cipher_type != KTLS_CIPHER_CHACHA20_POLY1305;
        let (explicit, ct) = body.split_at(if gcm { 8 } else { 0 });
        let mut n = nonce(info, seq);
        if gcm {
            n[4..].copy_from_slice(explicit);
        }
        let mut aad = seq.to_be_bytes().to_vec();
        aad.extend_from_slice(&header[..3]);
        aad.extend_from_slice(&((ct.len() - 16) as u16).to_be_bytes());
        let mut ct = ct.to_vec();
        let n = ring::aead::Nonce::assume_unique_for_key(n);
        key.open_in_place(n, ring::aead::Aad::from(aad), &mut ct)
            .unwrap()
            .to_vec()
    }
}

fn extraction_pair(v: ProtocolVersion, suite: CipherSuite, log: Arc<Secrets>) -> (Connection, Connection) {
    let (mut c, mut s) = pair(
        client_builder()
            .versions(&[v])
            .cipher_suites(&[suite])
            .enable_secret_extraction(true)
            .key_log(log)
            .build()
            .unwrap(),
        server_builder(
            if v == ProtocolVersion::TLSv1_2 && suite.get() >= 0xc02f && suite.get() != 0xcca9 {
                "rsa2048"
            } else {
                "ecdsa-p256"
            },
        )
        .versions(&[v])
        .build()
        .unwrap(),
    );
    handshake(&mut c, &mut s).unwrap();
    transfer(&mut s, &mut c).unwrap();
    // Some records each way so the sequence numbers are not zero.
    for i in 0..3u8 {
        assert_eq!(send(&mut c, &mut s, &[i; 10]), [i; 10]);
    }
    assert_eq!(send(&mut s, &mut c, b"x"), b"x");
    (c, s)
}

#[test]
fn ktls_secrets_tls13_match_the_key_schedule_and_protect_records() {
    for (suite, cipher, alg, key_len) in [
        (
            CipherSuite::TLS_AES_128_GCM_SHA256,
            KTLS_CIPHER_AES_GCM_128,
            ring::hkdf::HKDF_SHA256,
            16,
        ),
        (
            CipherSuite::TLS_AES_256_GCM_SHA384,
            KTLS_CIPHER_AES_GCM_256,
            ring::hkdf::HKDF_SHA384,
            32,
        ),
        (
            CipherSuite::TLS_CHACHA20_POLY1305_SHA256,
            KTLS_CIPHER_CHACHA20_POLY1305,
            ring::hkdf::HKDF_SHA256,
            32,
        ),
    ] {
        let log = Arc::new(Secrets::default());
        let (c, mut s) = extraction_pair(ProtocolVersion::TLSv1_3, suite, log.clone());
        let k = c.extract_ktls_secrets().unwrap();
        assert_eq!((k.tx.version, k.tx.cipher_type), (KTLS_TLS_1_3_VERSION, cipher));
        let ours = log.get("CLIENT_TRAFFIC_SECRET_0");
        let theirs = log.get("SERVER_TRAFFIC_SECRET_0");
        assert_eq!(*k.tx.key, expand_label(alg, &ours, b"key", key_len));
        assert_eq!(*k.rx.key, expand_label(alg, &theirs, b"key", key_len));
        let iv = expand_label(alg, &ours, b"iv", 12);
        assert_eq!([&k.tx.salt[..], &k.tx.iv[..]].concat(), iv);
        assert_eq!(u64::from_be_bytes(k.tx.rec_seq), 3);
        assert_eq!(
            u64::from_be_bytes(k.rx.rec_seq),
            2,
            "the tickets' record and a data record"
        );
        let bytes = k.tx.to_bytes();
        let want_len = if cipher == KTLS_CIPHER_CHACHA20_POLY1305 {
            4 + 12 + 32 + 8
        } else {
            4 + 8 + key_len + 4 + 8
        };
        assert_eq!(bytes.len(), want_len, "sizeof the kernel struct");
        assert_eq!(
            &bytes[..4],
            [&0x0304u16.to_ne_bytes()[..], &cipher.to_ne_bytes()].concat()
        );

        // The server reads a record sealed with the extracted keys, and its next record
        // opens with them.
        let rec = seal_record(&k.tx, b"from the kernel");
        s.read_tls(&mut &rec[..]).unwrap();
        s.process_new_packets().unwrap();
        assert_eq!(read_all(&mut s), b"from the kernel");
        s.writer().write_all(b"to the kernel").unwrap();
        let mut wire = Vec::new();
        while s.write_tls(&mut wire).unwrap() > 0 {}
        assert_eq!(open_record(&k.rx, &wire), b"to the kernel");
    }
}

#[test]
fn ktls_secrets_tls12_match_the_key_block_and_protect_records() {
    for (suite, cipher) in [
        (
            CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            KTLS_CIPHER_AES_GCM_128,
        ),
        (
            CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            KTLS_CIPHER_AES_GCM_256,
        ),
        (
            CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
            KTLS_CIPHER_CHACHA20_POLY1305,
        ),
    ] {
        let log = Arc::new(Secrets::default());
        let (c, mut s) = extraction_pair(ProtocolVersion::TLSv1_2, suite, log.clone());
        let client_random = c.client_random();
        let server_random = c.server_random();
        let k = c.extract_ktls_secrets().unwrap();
        assert_eq!((k.tx.version, k.tx.cipher_type), (KTLS_TLS_1_2_VERSION, cipher));
        // RFC 5246 6.3 key block from the logged master secret, with ring's HMAC.
        let master = log.get("CLIENT_RANDOM");
        let sha384 = suite == CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384;
        let hmac = if sha384 {
            ring::hmac::HMAC_SHA384
        } else {
            ring::hmac::HMAC_SHA256
        };
        let key_len = if cipher == KTLS_CIPHER_AES_GCM_128 { 16 } else { 32 };
        let iv_len = if cipher == KTLS_CIPHER_CHACHA20_POLY1305 {
            12
        } else {
            4
        };
        let seed = [&b"key expansion"[..], &server_random, &client_random].concat();
        let kb = p_hash(hmac, &master, &seed, 2 * (key_len + iv_len));
        assert_eq!(*k.tx.key, kb[..key_len], "client write key");
        assert_eq!(*k.rx.key, kb[key_len..2 * key_len], "server write key");
        let client_iv = &kb[2 * key_len..2 * key_len + iv_len];
        if cipher == KTLS_CIPHER_CHACHA20_POLY1305 {
            assert_eq!(*k.tx.iv, client_iv);
        } else {
            assert_eq!(*k.tx.salt, client_iv);
            assert_eq!(*k.tx.iv, k.tx.rec_seq, "explicit nonce = next sequence number");
        }
        assert_eq!(u64::from_be_bytes(k.tx.rec_seq), 4, "Finished and 3 data records");
        let rec = seal_record(&k.tx, b"from the kernel");
        s.read_tls(&mut &rec[..]).unwrap();
        s.process_new_packets().unwrap();
        assert_eq!(read_all(&mut s), b"from the kernel");
        s.writer().write_all(b"to the kernel").unwrap();
        let mut wire = Vec::new();
        while s.write_tls(&mut wire).unwrap() > 0 {}
        assert_eq!(open_record(&k.rx, &wire), b"to the kernel");
    }
}

/// RFC 5246 5 P_hash.
fn p_hash(alg: ring::hmac::Algorithm, secret: &[u8], seed: &[u8], len: usize) -> Vec<u8> {
    let key = ring::hmac::Key::new(alg, secret);
    let mut a = ring::hmac::sign(&key, seed).as_ref().to_vec();
    let mut out = Vec::new();
    while out.len() < len {
        out.extend_from_slice(ring::hmac::sign(&key, &[&a[..], seed].concat()).as_ref());
        a = ring::hmac::sign(&key, &a).as_ref().to_vec();
    }
    out.truncate(len);
    out
}

#[test]
fn secrets_only_on_opt_in_and_with_nothing_buffered() {
    let (mut c, mut s) = pair(
        client_builder().build().unwrap(),
        server_builder("ecdsa-p256")
            .enable_secret_extraction(true)
            .build()
            .unwrap(),
    );
    handshake(&mut c, &mut s).unwrap();
    assert_eq!(
        c.extract_ktls_secrets().err(),
        Some(Error::Misuse(Misuse::SecretExtractionOff))
    );
    // Unread plaintext belongs to the old owner: refused.
    let (mut c, mut s) = pair(
        client_builder().build().unwrap(),
        server_builder("ecdsa-p256")
            .enable_secret_extraction(true)
            .build()
            .unwrap(),
    );
    handshake(&mut c, &mut s).unwrap();
    send_only(&mut c, &mut s, b"unread");
    assert_eq!(s.serialize().err(), Some(Error::Misuse(Misuse::InputBuffered)));
}

fn send_only(from: &mut Connection, to: &mut Connection, data: &[u8]) {
    from.writer().write_all(data).unwrap();
    transfer(from, to).unwrap();
}

#[test]
fn serialized_connections_continue_in_memory_both_versions_both_sides() {
    for v in [ProtocolVersion::TLSv1_3, ProtocolVersion::TLSv1_2] {
        // Record size limits both ways travel with the blob: a rebuilt side that forgot the
        // peer's would send records it refuses (record_overflow, failing `send`).
        let client = client_builder()
            .versions(&[v])
            .alpn_protocols(&[b"h2".as_slice()])
            .record_size_limit(1024)
            .enable_secret_extraction(true)
            .build()
            .unwrap();
        let server = server_builder("ecdsa-p256")
            .versions(&[v])
            .record_size_limit(700)
            .alpn_protocols(&[b"h2".as_slice()])
            .enable_secret_extraction(true)
            .build()
            .unwrap();
        let (mut c, mut s) = pair(client.clone(), server.clone());
        handshake(&mut c, &mut s).unwrap();
        transfer(&mut s, &mut c).unwrap();
        assert_eq!(send(&mut c, &mut s, b"before"), b"before");
        let mut exporter = [0u8; 16];
        c.export_keying_material(&mut exporter, b"label", None).unwrap();
        let (suite, random) = (c.cipher_suite(), c.client_random());

        let blob = c.serialize().unwrap();
        assert!(
            format!("{blob:?}").contains("secret bytes"),
            "Debug shows no secret"
        );
        let mut c =
            Connection::deserialize_client(client.clone(), &ConnectionBlob::from_bytes(blob.as_bytes()))
                .unwrap();
        assert_eq!(c.cipher_suite(), suite);
        assert_eq!(c.client_random(), random);
        assert_eq!(c.alpn_protocol(), Some(&b"h2"[..]));
        assert_eq!(c.protocol_version(), Some(v));
        assert!(!c.is_handshaking());
        let mut again = [0u8; 16];
        c.export_keying_material(&mut again, b"label", None).unwrap();
        assert_eq!(exporter, again);
        assert_eq!(send(&mut c, &mut s, b"after the move"), b"after the move");
        assert_eq!(send(&mut s, &mut c, b"reply"), b"reply");
        assert_eq!(send(&mut c, &mut s, &[5u8; 5000]), [5u8; 5000]);

        // The server side moves too.
        let blob = s.serialize().unwrap();
        let mut s = Connection::deserialize_server(server, &blob).unwrap();
        assert_eq!(send(&mut c, &mut s, b"to the new server"), b"to the new server");
        assert_eq!(send(&mut s, &mut c, b"from it"), b"from it");
        assert_eq!(send(&mut s, &mut c, &[6u8; 5000]), [6u8; 5000]);
        if v == ProtocolVersion::TLSv1_3 {
            c.request_key_update(true).unwrap();
            assert_eq!(send(&mut c, &mut s, b"rekeyed"), b"rekeyed");
            assert_eq!(send(&mut s, &mut c, b"both"), b"both");
        }
        // A blob for the other side, or a corrupted one, is refused.
        let blob = s.serialize().unwrap();
        assert!(Connection::deserialize_client(client.clone(), &blob).is_err());
        let mut bytes = blob.as_bytes().to_vec();
        bytes[7] ^= 0xff;
        assert!(Connection::deserialize_client(client, &ConnectionBlob::from_bytes(&bytes)).is_err());
    }
}

#[test]
fn reset_reuses_a_connection_object_for_a_new_peer() {
    let client = client_builder().build().unwrap();
    let server = server_builder("ecdsa-p256").build().unwrap();
    let (mut c, mut s) = pair(client.clone(), server.clone());
    handshake(&mut c, &mut s).unwrap();
    assert_eq!(send(&mut c, &mut s, b"first peer"), b"first peer");
    let first_random = c.client_random();
    c.reset_client(client, "localhost").unwrap();
    s.reset_server(server).unwrap();
    assert!(c.is_handshaking() && s.is_handshaking());
    assert!(c.peer_certificates().is_empty());
    handshake(&mut c, &mut s).unwrap();
    assert_ne!(c.client_random(), first_random);
    assert_eq!(send(&mut c, &mut s, b"second peer"), b"second peer");
}

// ---- across processes, rustls on the other end ----

const CHILD_ENV: &str = "SANSTLS_HANDOFF_ADDR";

fn rustls_server(v: ProtocolVersion) -> rustls::ServerConnection {
    let dir = vectors();
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(dir.join("localhost-ecdsa-p256.pem"))
            .unwrap()
            .map(|c| c.unwrap())
            .collect();
    let key = PrivateKeyDer::from_pem_file(dir.join("localhost-ecdsa-p256.key")).unwrap();
    let version = if v == ProtocolVersion::TLSv1_3 {
        &rustls::version::TLS13
    } else {
        &rustls::version::TLS12
    };
    let config =
        rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_protocol_versions(&[version])
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
    rustls::ServerConnection::new(Arc::new(config)).unwrap()
}

/// The second process: the blob on stdin, rustls's "wire" at `$SANSTLS_HANDOFF_ADDR`. It
/// rebuilds the connection, sends, prints what rustls answers. A no-op in a normal test run.
#[test]
fn handoff_child() {
    let Ok(addr) = std::env::var(CHILD_ENV) else {
        return;
    };
    let mut blob = Vec::new();
    std::io::stdin().read_to_end(&mut blob).unwrap();
    let config = client_builder().enable_secret_extraction(true).build().unwrap();
    let mut conn = Connection::deserialize_client(config, &ConnectionBlob::from_bytes(&blob)).unwrap();
    let mut sock = TcpStream::connect(&addr).unwrap();
    let got = common::interop::drive(&mut conn, &mut sock, b"after the move".to_vec(), |_, got| {
        got.ends_with(b"welcome back")
    })
    .unwrap();
    conn.send_close_notify();
    while conn.write_tls(&mut sock).unwrap_or(0) > 0 {}
    println!("CHILD-GOT:{}", String::from_utf8_lossy(&got));
}

#[test]
fn live_connection_moves_to_a_new_process_with_rustls_on_the_other_end() {
    for v in [ProtocolVersion::TLSv1_3, ProtocolVersion::TLSv1_2] {
        let mut theirs = rustls_server(v);
        let client = client_builder()
            .versions(&[v])
            .enable_secret_extraction(true)
            .build()
            .unwrap();
        let mut ours = Connection::client(client, "localhost").unwrap();
        pump(&mut theirs, &mut ours);
        assert!(!ours.is_handshaking() && !theirs.is_handshaking());
        ours.writer().write_all(b"before the move").unwrap();
        theirs.writer().write_all(b"hello from rustls").unwrap();
        pump(&mut theirs, &mut ours);
        assert_eq!(read_all(&mut ours), b"hello from rustls");
        let mut got = vec![0u8; 15];
        theirs.reader().read_exact(&mut got).unwrap();
        assert_eq!(got, b"before the move");

        let blob = ours.serialize().unwrap();
        // rustls's side of the wire, now reached over TCP by the new process.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "handoff_child", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, &addr)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(blob.as_bytes()).unwrap();
        drop(blob);
        let (mut sock, _) = listener.accept().unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        let start = Instant::now();
        let mut received = Vec::new();
        let mut answered = false;
        let mut closed = false;
        while !closed {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "timed out; got {received:?}"
            );
            let mut buf = [0u8; 16384];
            match sock.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let mut rd = &buf[..n];
                    while !rd.is_empty() {
                        theirs.read_tls(&mut rd).unwrap();
                        let state = theirs.process_new_packets().unwrap();
                        closed |= state.peer_has_closed();
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => panic!("{e}"),
            }
            let mut chunk = [0u8; 1024];
            while let Ok(n) = theirs.reader().read(&mut chunk) {
                if n == 0 {
                    break;
                }
                received.extend_from_slice(&chunk[..n]);
            }
            if received == b"after the move" && !answered {
                theirs.writer().write_all(b"welcome back").unwrap();
                answered = true;
            }
            while theirs.wants_write() {
                theirs.write_tls(&mut sock).unwrap();
            }
        }
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(received, b"after the move", "{v:?}");
        assert!(stdout.contains("CHILD-GOT:welcome back"), "{v:?}: {stdout}");
        assert!(closed, "rustls saw the new process's close_notify");
    }
}
