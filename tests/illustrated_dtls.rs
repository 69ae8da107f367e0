//! Replays the captured DTLS 1.3 connection of `vectors/illustrated/dtls`
//! (TLS_AES_128_GCM_SHA256, X25519, RSA-PSS) with the `sanstls::dtls` building blocks: every
//! datagram of the pcap split into records, the X25519 exchange from the ephemeral keys,
//! every secret of `keylog.txt` from the real transcript with the "dtls13" labels, every
//! record number decrypted (and re-encrypted byte for byte), every record opened through the
//! replay window, the handshake messages reassembled, both Finished and the server's
//! CertificateVerify checked, and the server's ACK parsed. Then the same capture through
//! whole `DtlsConnection`s, client and server, with the capture's randoms, ephemeral keys
//! and RSA-PSS salt injected: every datagram each side writes is the captured one (the
//! server's flight record by record), every keylog secret comes out of our key log.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivatePkcs8KeyDer, SubjectPublicKeyInfoDer};
use sanstls::codec::{
    AlertDescription, AlertLevel, CipherSuite, ContentType, ExtensionType, HandshakeType, NamedGroup,
    ProtocolVersion, SignatureScheme,
};
use sanstls::crypto::dtls::{dtls13_derive_secret, dtls13_expand_label, SequenceNumberKey};
use sanstls::crypto::{
    hkdf_extract, tls13_signed_message, tls13_suite, verify_signature, FixedRandom, HashAlg, KeyExchange,
    Secret, Transcript,
};
use sanstls::dtls::fragment::{parse_fragments, HandshakeHeader};
use sanstls::dtls::record::{records, DatagramRecord};
use sanstls::dtls::{
    Ack, Dtls13Keys, DtlsConfig, DtlsConnection, HandshakeMessage, HeaderFormat, Pushed, Reassembler,
    ReassemblyLimits, RecordNumber, ReplayWindow, SeqLen,
};
use sanstls::msgs::{ClientExtension, ClientHello, EncryptedExtension, ServerHello, ServerHelloExtension};
use sanstls::pki::PinnedCertVerifier;
use sanstls::{CertifiedKey, ClientConfig, Event, FixedClock, KeyLog, ServerConfig};

struct Capture(PathBuf);

impl Capture {
    fn cap(&self, name: &str) -> Vec<u8> {
        common::read(&self.0.join("caps").join(name))
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

fn capture() -> Capture {
    common::vector("illustrated/dtls/keylog.txt");
    Capture(common::vector("illustrated/dtls"))
}

fn keylog(path: &Path) -> HashMap<String, (Vec<u8>, Vec<u8>)> {
    String::from_utf8(common::read(path))
        .expect("utf-8")
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let (label, random, secret) = (w.next()?, w.next()?, w.next()?);
            Some((
                label.to_string(),
                (hex::decode(random).ok()?, hex::decode(secret).ok()?),
            ))
        })
        .collect()
}

/// The UDP payloads of a classic pcap with BSD loopback link type (0) over IPv4.
fn pcap_datagrams(pcap: &[u8]) -> Vec<Vec<u8>> {
    assert_eq!(&pcap[..4], &[0xd4, 0xc3, 0xb2, 0xa1], "little-endian pcap");
    assert_eq!(
        u32::from_le_bytes(pcap[20..24].try_into().unwrap()),
        0,
        "DLT_NULL"
    );
    let mut out = vec![];
    let mut at = 24;
    while at < pcap.len() {
        let incl = u32::from_le_bytes(pcap[at + 8..at + 12].try_into().unwrap()) as usize;
        let pkt = &pcap[at + 16..at + 16 + incl];
        at += 16 + incl;
        let ip = &pkt[4..];
        assert_eq!(ip[0] >> 4, 4, "IPv4");
        assert_eq!(ip[9], 17, "UDP");
        let udp = &ip[usize::from(ip[0] & 0xf) * 4..];
        let udp_len = usize::from(u16::from_be_bytes([udp[4], udp[5]]));
        out.push(udp[8..udp_len].to_vec());
    }
    out
}

/// One direction of the connection as a receiver sees it: the replay window per epoch and
/// the handshake reassembler.
struct Receiver {
    windows: HashMap<u64, ReplayWindow>,
    handshake: Reassembler,
}

impl Receiver {
    fn new() -> Self {
        Receiver {
            windows: HashMap::new(),
            handshake: Reassembler::new(ReassemblyLimits::default()),
        }
    }

    /// Opens the single protected record of `datagram` with `keys`, through the replay
    /// window, and checks that sealing the plaintext again gives the datagram byte for byte
    /// (record-number encryption included). Returns (record number, content type, content).
    fn open(&mut self, keys: &Dtls13Keys, datagram: &[u8]) -> (RecordNumber, ContentType, Vec<u8>) {
        let recs: Vec<_> = records(datagram, 0).collect::<Result<_, _>>().unwrap();
        assert_eq!(recs.len(), 1);
        let DatagramRecord::Ciphertext(rec) = recs[0] else {
            panic!("expected a DTLSCiphertext")
        };
        // 001 C=0 S=1 L=1 EE: no connection id, 16-bit sequence number, length present.
        assert_eq!(
            (rec.cid(), rec.seq_len(), rec.has_length()),
            (None, SeqLen::Bits16, true)
        );
        assert_eq!(u64::from(rec.epoch_bits()), keys.epoch() & 3);
        let window = self.windows.entry(keys.epoch()).or_default();
        let seq = keys.unmask_seq(&rec, window.next_expected()).unwrap();
        assert!(window.check(seq));
        let opened = keys.open(&rec, seq).unwrap();
        window.mark(seq);
        // A replay of the same datagram is now refused before deprotection.
        assert!(!window.check(keys.unmask_seq(&rec, window.next_expected()).unwrap()));
        let mut resealed = vec![];
        keys.seal(
            &mut resealed,
            &HeaderFormat::default(),
            seq,
            opened.content_type,
            &opened.plaintext,
            0,
        )
        .unwrap();
        assert_eq!(resealed, datagram, "re-sealing gives the captured datagram");
        (
            RecordNumber::new(keys.epoch(), seq),
            opened.content_type,
            opened.plaintext,
        )
    }

    /// Feeds a handshake record payload and returns the whole messages it completed.
    fn handshake(&mut self, payload: &[u8]) -> Vec<HandshakeMessage> {
        for f in parse_fragments(payload) {
            let (h, data) = f.unwrap();
            assert_eq!(self.handshake.push(&h, data).unwrap(), Pushed::Buffered);
        }
        std::iter::from_fn(|| self.handshake.pop()).collect()
    }
}

/// The DTLSInnerPlaintext the capture stores: content || content type (no padding).
fn inner(content: &[u8], content_type: ContentType) -> Vec<u8> {
    [content, &[content_type.get()]].concat()
}

fn finished_verify_data(hash: HashAlg, base_key: &Secret, transcript_hash: &[u8]) -> Vec<u8> {
    let key = dtls13_expand_label(hash, base_key.as_bytes(), b"finished", &[], hash.output_len());
    hash.hmac(key.as_bytes(), transcript_hash)
}

#[test]
fn illustrated_dtls13_connection_replays() {
    let c = capture();
    let log = keylog(&c.path("keylog.txt"));
    let secret = |label: &str| {
        log.get(label)
            .unwrap_or_else(|| panic!("keylog lacks {label}"))
            .1
            .clone()
    };

    // Every datagram of the pcap is one of the capture files, in order.
    let names = [
        "01-hello-c",
        "02-hello-s",
        "03-encext-shs-prot",
        "04-cert-shs-prot",
        "05-cverify-shs-prot",
        "06-fin-shs-prot",
        "07-fin-chs-prot",
        "08-ack-sap-prot",
        "09-data-cap-prot",
        "10-data-sap-prot",
        "11-bye-sap-prot",
    ];
    let datagrams = pcap_datagrams(&common::read(&c.path("capture.pcap")));
    assert_eq!(datagrams.len(), names.len());
    for (d, n) in datagrams.iter().zip(names) {
        assert_eq!(d, &c.cap(n), "{n}");
    }
    let dg = |n: &str| datagrams[names.iter().position(|x| *x == n).unwrap()].clone();

    let mut at_server = Receiver::new(); // what the server receives
    let mut at_client = Receiver::new(); // what the client receives

    // Epoch 0: the hellos are DTLSPlaintext records (13-byte header).
    let plain = |dgram: &[u8], rx: &mut Receiver, seq: u64| {
        let recs: Vec<_> = records(dgram, 0).collect::<Result<_, _>>().unwrap();
        assert_eq!(recs.len(), 1);
        let DatagramRecord::Plaintext { header, fragment } = recs[0] else {
            panic!("expected DTLSPlaintext")
        };
        assert_eq!(
            (header.content_type, header.version, header.epoch, header.seq),
            (ContentType::Handshake, ProtocolVersion::DTLSv1_2, 0, seq)
        );
        let window = rx.windows.entry(0).or_default();
        assert!(window.check(header.seq));
        window.mark(header.seq);
        let mut again = vec![];
        header.encode(&mut again);
        again.extend_from_slice(fragment);
        assert_eq!(again, dgram);
        let mut msgs = rx.handshake(fragment);
        assert_eq!(msgs.len(), 1);
        msgs.remove(0)
    };
    let client_hello = plain(&dg("01-hello-c"), &mut at_server, 0);
    let server_hello = plain(&dg("02-hello-s"), &mut at_client, 0);
    assert_eq!(dg("01-hello-c"), c.cap("record-chello"));
    assert_eq!(dg("02-hello-s"), c.cap("record-shello"));
    assert_eq!(
        (client_hello.msg_type, client_hello.message_seq),
        (HandshakeType::ClientHello, 0)
    );
    assert_eq!(
        (server_hello.msg_type, server_hello.message_seq),
        (HandshakeType::ServerHello, 0)
    );
    // The keylog is keyed by the client random.
    assert_eq!(
        &log["CLIENT_HANDSHAKE_TRAFFIC_SECRET"].0[..],
        &client_hello.body[2..34]
    );

    // ServerHello: legacy_version(2) random(32) legacy_session_id_echo<0..32> cipher_suite.
    let sh = &server_hello.body;
    let suite_at = 2 + 32 + 1 + usize::from(sh[34]);
    let suite = CipherSuite::from(u16::from_be_bytes([sh[suite_at], sh[suite_at + 1]]));
    assert_eq!(suite, CipherSuite::TLS_AES_128_GCM_SHA256);
    let suite = tls13_suite(suite).unwrap();
    let hash = suite.hash;

    // X25519 from the injected keys.
    let x25519_tail = |der: &[u8]| der[der.len() - 32..].to_vec();
    let client_sk = PrivatePkcs8KeyDer::from_pem_file(c.path("client-ephemeral-private.key")).unwrap();
    let server_pk = SubjectPublicKeyInfoDer::from_pem_file(c.path("server-ephemeral-public.key")).unwrap();
    let client_pk = SubjectPublicKeyInfoDer::from_pem_file(c.path("client-ephemeral-public.key")).unwrap();
    let (server_pk, client_pk) = (x25519_tail(&server_pk), x25519_tail(&client_pk));
    assert!(client_hello.body.windows(32).any(|w| w == client_pk));
    assert!(server_hello.body.windows(32).any(|w| w == server_pk));
    let client_kx = KeyExchange::start(
        NamedGroup::x25519,
        &FixedRandom::new(vec![x25519_tail(client_sk.secret_pkcs8_der())]),
    )
    .unwrap();
    assert_eq!(client_kx.public_key(), client_pk);
    let shared = client_kx.complete(&server_pk).unwrap();

    // DTLS 1.3 key schedule: RFC 8446 7.1 with the "dtls13" label prefix (RFC 9147 5.9), and
    // the transcript over TLS-form messages, without the DTLS fields (RFC 9147 5.2).
    let mut transcript = Transcript::new(hash);
    transcript.update(&client_hello.tls_encoding());
    transcript.update(&server_hello.tls_encoding());
    let zeros = vec![0u8; hash.output_len()];
    let empty_hash = hash.hash(&[]);
    let early = hkdf_extract(hash, &zeros, &zeros);
    let derived = dtls13_derive_secret(hash, early.as_bytes(), b"derived", &empty_hash);
    let hs = hkdf_extract(hash, derived.as_bytes(), shared.as_bytes());
    let hello_hash = transcript.current_hash();
    let c_hs = dtls13_derive_secret(hash, hs.as_bytes(), b"c hs traffic", &hello_hash);
    let s_hs = dtls13_derive_secret(hash, hs.as_bytes(), b"s hs traffic", &hello_hash);
    assert!(c_hs.ct_eq(&secret("CLIENT_HANDSHAKE_TRAFFIC_SECRET")));
    assert!(s_hs.ct_eq(&secret("SERVER_HANDSHAKE_TRAFFIC_SECRET")));

    // The server flight in epoch 2, one record per datagram, sequence numbers 0..=3.
    let s_hs_keys = Dtls13Keys::new(2, suite.aead, hash, s_hs.as_bytes());
    let flight = [
        (
            "03-encext-shs-prot",
            "record-encext",
            HandshakeType::EncryptedExtensions,
        ),
        ("04-cert-shs-prot", "record-cert", HandshakeType::Certificate),
        (
            "05-cverify-shs-prot",
            "record-cverify",
            HandshakeType::CertificateVerify,
        ),
        ("06-fin-shs-prot", "record-sfin", HandshakeType::Finished),
    ];
    let mut server_msgs = vec![];
    for (i, (enc, plain, msg_type)) in flight.iter().enumerate() {
        let (rn, ct, content) = at_client.open(&s_hs_keys, &dg(enc));
        assert_eq!(rn, RecordNumber::new(2, i as u64), "{enc}");
        assert_eq!(ct, ContentType::Handshake);
        assert_eq!(inner(&content, ct), c.cap(plain), "{plain}");
        let mut msgs = at_client.handshake(&content);
        assert_eq!(msgs.len(), 1);
        let m = msgs.remove(0);
        assert_eq!((m.msg_type, m.message_seq), (*msg_type, i as u16 + 1));
        server_msgs.push(m);
    }
    let [ee, cert, cert_verify, server_finished] = <[HandshakeMessage; 4]>::try_from(server_msgs).unwrap();

    // The sn_key masks: what Dtls13Keys used is SequenceNumberKey over the "dtls13" "sn" label.
    let sn = SequenceNumberKey::new(suite.aead, hash, s_hs.as_bytes());
    let d3 = dg("03-encext-shs-prot");
    let sample: [u8; 16] = d3[5..21].try_into().unwrap();
    let mask = sn.mask(&sample);
    assert_eq!(
        [d3[1] ^ mask[0], d3[2] ^ mask[1]],
        [0, 0],
        "encrypted record number 0"
    );

    transcript.update(&ee.tls_encoding());
    transcript.update(&cert.tls_encoding());
    // CertificateVerify: the TLS 1.3 context string, by the key of server.crt.
    let cv = &cert_verify.body;
    let scheme = SignatureScheme::from(u16::from_be_bytes([cv[0], cv[1]]));
    assert_eq!(scheme, SignatureScheme::rsa_pss_rsae_sha256);
    let sig = &cv[4..];
    assert_eq!(usize::from(u16::from_be_bytes([cv[2], cv[3]])), sig.len());
    let cert_der = CertificateDer::from_pem_file(c.path("server.crt")).unwrap();
    assert!(cert.body.windows(cert_der.len()).any(|w| w == &cert_der[..]));
    let (_, x509) = x509_parser::parse_x509_certificate(&cert_der).unwrap();
    let spki = x509.tbs_certificate.subject_pki.raw;
    let signed = tls13_signed_message(true, &transcript.current_hash());
    verify_signature(spki, scheme, &signed, sig, true).expect("CertificateVerify verifies");
    transcript.update(&cert_verify.tls_encoding());

    // Server Finished over ClientHello..CertificateVerify, with the "dtls13" finished key.
    assert_eq!(
        server_finished.body,
        finished_verify_data(hash, &s_hs, &transcript.current_hash())
    );
    transcript.update(&server_finished.tls_encoding());

    // Application secrets over ClientHello..server Finished.
    let derived = dtls13_derive_secret(hash, hs.as_bytes(), b"derived", &empty_hash);
    let master = hkdf_extract(hash, derived.as_bytes(), &zeros);
    let through_server_fin = transcript.current_hash();
    let c_ap = dtls13_derive_secret(hash, master.as_bytes(), b"c ap traffic", &through_server_fin);
    let s_ap = dtls13_derive_secret(hash, master.as_bytes(), b"s ap traffic", &through_server_fin);
    assert!(c_ap.ct_eq(&secret("CLIENT_TRAFFIC_SECRET")));
    assert!(s_ap.ct_eq(&secret("SERVER_TRAFFIC_SECRET")));

    // Client Finished: epoch 2 under the client handshake keys, record 0, message_seq 1.
    let c_hs_keys = Dtls13Keys::new(2, suite.aead, hash, c_hs.as_bytes());
    let (client_fin_rn, ct, content) = at_server.open(&c_hs_keys, &dg("07-fin-chs-prot"));
    assert_eq!(
        (client_fin_rn, ct),
        (RecordNumber::new(2, 0), ContentType::Handshake)
    );
    assert_eq!(inner(&content, ct), c.cap("record-cfin"));
    let client_finished = at_server.handshake(&content).remove(0);
    assert_eq!(
        (client_finished.msg_type, client_finished.message_seq),
        (HandshakeType::Finished, 1)
    );
    assert_eq!(
        client_finished.body,
        finished_verify_data(hash, &c_hs, &through_server_fin)
    );

    // Epoch 3: the server's ACK of the client Finished record, then ping, pong, close_notify.
    let s_ap_keys = Dtls13Keys::new(3, suite.aead, hash, s_ap.as_bytes());
    let c_ap_keys = Dtls13Keys::new(3, suite.aead, hash, c_ap.as_bytes());
    let (rn, ct, content) = at_client.open(&s_ap_keys, &dg("08-ack-sap-prot"));
    assert_eq!((rn, ct), (RecordNumber::new(3, 0), ContentType::Ack));
    assert_eq!(inner(&content, ct), c.cap("record-sack"));
    let ack = Ack::decode(&content).unwrap();
    assert_eq!(ack.record_numbers, vec![client_fin_rn]);
    assert_eq!(ack.to_bytes(), content);

    let (rn, ct, content) = at_server.open(&c_ap_keys, &dg("09-data-cap-prot"));
    assert_eq!(
        (rn, ct, &content[..]),
        (
            RecordNumber::new(3, 0),
            ContentType::ApplicationData,
            &b"ping"[..]
        )
    );
    assert_eq!(inner(&content, ct), c.cap("record-cdata"));
    let (rn, ct, content) = at_client.open(&s_ap_keys, &dg("10-data-sap-prot"));
    assert_eq!(
        (rn, ct, &content[..]),
        (
            RecordNumber::new(3, 1),
            ContentType::ApplicationData,
            &b"pong"[..]
        )
    );
    assert_eq!(inner(&content, ct), c.cap("record-sdata"));
    let (rn, ct, content) = at_client.open(&s_ap_keys, &dg("11-bye-sap-prot"));
    assert_eq!(
        (rn, ct, &content[..]),
        (RecordNumber::new(3, 2), ContentType::Alert, &[1, 0][..])
    );
    assert_eq!(inner(&content, ct), c.cap("record-sbye"));

    // Keys of the wrong direction or epoch do not open a record.
    let pong = dg("10-data-sap-prot");
    let recs: Vec<_> = records(&pong, 0).collect::<Result<_, _>>().unwrap();
    let DatagramRecord::Ciphertext(rec) = recs[0] else {
        panic!()
    };
    for wrong in [&c_ap_keys, &s_hs_keys] {
        assert!(wrong
            .unmask_seq(&rec, 1)
            .and_then(|s| wrong.open(&rec, s))
            .is_err());
    }
}

// ---------------------------------------------------------------------------------------------
// The same capture through whole connections (`DtlsConnection`), with the capture's randoms,
// ephemeral keys and RSA-PSS salt injected.

/// 2019-01-01: inside the validity of the capture's server certificate (Oct 2018 - Oct 2019).
const THEN: u64 = 1_546_300_800;

/// The pcap's datagrams in order, with the capture file each one equals.
const DATAGRAMS: [&str; 11] = [
    "01-hello-c",
    "02-hello-s",
    "03-encext-shs-prot",
    "04-cert-shs-prot",
    "05-cverify-shs-prot",
    "06-fin-shs-prot",
    "07-fin-chs-prot",
    "08-ack-sap-prot",
    "09-data-cap-prot",
    "10-data-sap-prot",
    "11-bye-sap-prot",
];

/// The pcap's datagrams by capture file name (after checking they are the capture files).
fn wire(c: &Capture) -> HashMap<&'static str, Vec<u8>> {
    let datagrams = pcap_datagrams(&common::read(&c.path("capture.pcap")));
    assert_eq!(datagrams.len(), DATAGRAMS.len());
    DATAGRAMS
        .iter()
        .zip(datagrams)
        .map(|(n, d)| {
            assert_eq!(d, c.cap(n), "{n}");
            (*n, d)
        })
        .collect()
}

fn x25519_private(c: &Capture, name: &str) -> Vec<u8> {
    let der = PrivatePkcs8KeyDer::from_pem_file(c.path(name)).unwrap();
    let der = der.secret_pkcs8_der();
    der[der.len() - 32..].to_vec()
}

/// Collects what the connection's key log is given (label -> secret, and the random).
#[derive(Debug, Default)]
struct Collect(Mutex<BTreeMap<String, RandomAndSecret>>);

type RandomAndSecret = (Vec<u8>, Vec<u8>);

impl KeyLog for Collect {
    fn log(&self, label: &str, random: &[u8], secret: &[u8]) {
        self.0
            .lock()
            .unwrap()
            .insert(label.to_string(), (random.to_vec(), secret.to_vec()));
    }
}

/// Every line of the capture's keylog.txt is one our key log got. The capture names the
/// first application secrets `CLIENT_TRAFFIC_SECRET` / `SERVER_TRAFFIC_SECRET`; the NSS
/// format (and our log) adds the generation: `..._TRAFFIC_SECRET_0`.
fn assert_keylog(c: &Capture, got: &Collect) {
    let got = got.0.lock().unwrap();
    let expected = keylog(&c.path("keylog.txt"));
    assert_eq!(expected.len(), 4);
    for (label, (random, secret)) in expected {
        let ours = match label.as_str() {
            "CLIENT_TRAFFIC_SECRET" | "SERVER_TRAFFIC_SECRET" => format!("{label}_0"),
            _ => label.clone(),
        };
        let (r, s) = got
            .get(&ours)
            .unwrap_or_else(|| panic!("our key log lacks {ours}"));
        assert_eq!((r, s), (&random, &secret), "{label}");
    }
}

/// Every datagram the connection has ready.
fn poll_all(conn: &mut DtlsConnection) -> Vec<Vec<u8>> {
    let mut buf = vec![0u8; 2048];
    std::iter::from_fn(|| conn.poll_datagram(&mut buf).map(|n| buf[..n].to_vec())).collect()
}

/// Splits a datagram into its records, byte for byte: DTLSPlaintext (13-byte header with a
/// length) or DTLSCiphertext with the unified header this capture uses (`001 C=0 S=1 L=1 EE`:
/// flags, 16-bit sequence number, length).
fn split_records(mut d: &[u8]) -> Vec<Vec<u8>> {
    let mut out = vec![];
    while !d.is_empty() {
        let len = if d[0] & 0xe0 == 0x20 {
            assert_eq!(d[0] & 0x1c, 0x0c, "no CID, 16-bit sequence number, length");
            5 + usize::from(u16::from_be_bytes([d[3], d[4]]))
        } else {
            13 + usize::from(u16::from_be_bytes([d[11], d[12]]))
        };
        out.push(d[..len].to_vec());
        d = &d[len..];
    }
    out
}

fn events(conn: &mut DtlsConnection) -> Vec<Event> {
    std::iter::from_fn(|| conn.next_event()).collect()
}

/// The plaintext waiting in the reader (it reports `WouldBlock` once empty).
fn read_all(conn: &mut DtlsConnection) -> Vec<u8> {
    let mut out = vec![];
    let mut buf = [0u8; 256];
    while let Ok(n @ 1..) = conn.reader().read(&mut buf) {
        out.extend_from_slice(&buf[..n]);
    }
    out
}

/// Reshapes our ClientHello into the capture's: suites 1301 1302 1303; extensions key_share,
/// supported_versions (DTLS 1.3 only), signature_algorithms (the capture's fifteen, SHA-1 and
/// SHA-224 ones included), encrypt_then_mac (empty), supported_groups (x25519); no SNI.
fn capture_shape(hello: &mut ClientHello) {
    hello.cipher_suites = vec![
        CipherSuite::TLS_AES_128_GCM_SHA256,
        CipherSuite::TLS_AES_256_GCM_SHA384,
        CipherSuite::TLS_CHACHA20_POLY1305_SHA256,
    ];
    let key_share = hello
        .extensions
        .iter()
        .find(|e| e.typ() == ExtensionType::KeyShare)
        .cloned()
        .expect("our hello has a key share");
    let schemes = [
        0x0603, 0x0503, 0x0403, 0x0203, 0x0806, 0x080b, 0x0805, 0x080a, 0x0804, 0x0809, 0x0601, 0x0501,
        0x0401, 0x0301, 0x0201,
    ];
    hello.extensions = vec![
        key_share,
        ClientExtension::SupportedVersions(vec![ProtocolVersion::DTLSv1_3]),
        ClientExtension::SignatureAlgorithms(schemes.iter().map(|&s| SignatureScheme::from(s)).collect()),
        ClientExtension::Unknown {
            typ: ExtensionType::EncryptThenMac,
            data: Vec::new(),
        },
        ClientExtension::SupportedGroups(vec![NamedGroup::x25519]),
    ];
}

/// Our client with the capture's randomness, shaped like the captured one. Its ClientHello is
/// ready to poll.
fn capture_client(c: &Capture, now: Instant) -> (DtlsConnection, Arc<Collect>) {
    // The client draws its random (e0..ff in the capture), then its X25519 private key.
    let mut random: Vec<u8> = (0xe0u8..=0xff).collect();
    random.extend(x25519_private(c, "client-ephemeral-private.key"));
    let rng = Arc::new(FixedRandom::new(vec![random]));
    let server_cert = CertificateDer::from_pem_file(c.path("server.crt")).unwrap();
    let log = Arc::new(Collect::default());
    let config = ClientConfig::builder(Arc::new(PinnedCertVerifier::new(server_cert.to_vec())))
        .random(rng.clone())
        .time(Arc::new(FixedClock(THEN)))
        .key_log(log.clone())
        .versions(&[ProtocolVersion::TLSv1_3])
        .groups(&[NamedGroup::x25519])
        .customize_client_hello(capture_shape)
        .build()
        .unwrap();
    let client = DtlsConnection::client(config, "example.ulfheim.net", DtlsConfig::default(), now).unwrap();
    assert_eq!(rng.remaining(), 0, "random and key share drawn");
    (client, log)
}

#[test]
fn client_connection_replays_the_capture_byte_for_byte() {
    let c = capture();
    let dg = wire(&c);
    let now = Instant::now();
    let (mut client, log) = capture_client(&c, now);

    // Flight 1: the ClientHello datagram.
    assert_eq!(
        poll_all(&mut client),
        vec![{
            // The capture's record version is {254, 253}; ours is DTLS 1.0 on the initial
            // ClientHello (RFC 9147 5 allows both), the rest byte for byte.
            let mut hello = dg["01-hello-c"].clone();
            hello[2] = 0xff;
            hello
        }],
        "ClientHello"
    );
    assert!(
        client.poll_timeout().is_some(),
        "the ClientHello waits for an answer"
    );

    // The server's flight: ServerHello in epoch 0, then EE, Certificate, CertificateVerify,
    // Finished in epoch 2, one record per datagram.
    for n in &DATAGRAMS[1..6] {
        assert!(client.is_handshaking());
        client
            .recv_datagram(&dg[n], now)
            .unwrap_or_else(|e| panic!("{n}: {e}"));
    }
    assert_eq!(client.bad_records(), 0);
    assert_eq!(events(&mut client), vec![Event::HandshakeComplete]);
    assert!(!client.is_handshaking());
    assert_eq!(client.protocol_version(), Some(ProtocolVersion::DTLSv1_3));
    assert_eq!(client.cipher_suite(), Some(CipherSuite::TLS_AES_128_GCM_SHA256));
    assert_eq!(client.key_exchange_group(), Some(NamedGroup::x25519));
    assert_eq!(
        client.signature_scheme(),
        Some(SignatureScheme::rsa_pss_rsae_sha256)
    );
    let server_cert = CertificateDer::from_pem_file(c.path("server.crt")).unwrap();
    assert_eq!(client.peer_certificates(), &[server_cert]);
    assert_eq!(
        client.client_random(),
        *<&[u8; 32]>::try_from(&dg["01-hello-c"][27..59]).unwrap()
    );
    assert_eq!((client.read_epoch(), client.write_epoch()), (3, 3));
    assert_keylog(&c, &log);

    // Flight 3: the client Finished, epoch 2 record 0, sequence number encrypted.
    assert_eq!(
        poll_all(&mut client),
        vec![dg["07-fin-chs-prot"].clone()],
        "client Finished"
    );
    // RFC 9147 5.8.1, 7: the final flight is retransmitted until the server ACKs it.
    assert!(client.poll_timeout().is_some(), "Finished waits for its ACK");
    client.recv_datagram(&dg["08-ack-sap-prot"], now).unwrap();
    assert_eq!(client.poll_timeout(), None, "the ACK stops the timer");
    assert!(events(&mut client).is_empty());
    assert!(poll_all(&mut client).is_empty(), "an ACK is not acknowledged");

    // Application data: our "ping" is the captured record, epoch 3 record 0.
    client.writer().write_all(b"ping").unwrap();
    assert_eq!(
        poll_all(&mut client),
        vec![dg["09-data-cap-prot"].clone()],
        "ping"
    );
    client.recv_datagram(&dg["10-data-sap-prot"], now).unwrap();
    assert_eq!(events(&mut client), vec![Event::Data { len: 4 }]);
    assert_eq!(read_all(&mut client), b"pong");

    // The server's close_notify.
    client.recv_datagram(&dg["11-bye-sap-prot"], now).unwrap();
    assert_eq!(
        events(&mut client),
        vec![
            Event::Alert {
                level: AlertLevel::Warning,
                description: AlertDescription::CloseNotify
            },
            Event::PeerClosed
        ]
    );
    assert!(client.peer_has_closed());
    // The capture ends here: the client answers nothing until the application closes.
    assert!(poll_all(&mut client).is_empty());
    assert!(client.error().is_none());
    assert_eq!(client.bad_records(), 0);
}

/// Reshapes our ServerHello into the capture's extension order: key_share, then
/// supported_versions (RFC 8446 4.2 leaves the order to the sender; ours is the reverse).
fn capture_server_shape(hello: &mut ServerHello) {
    hello.extensions.sort_by_key(|e| match e {
        ServerHelloExtension::KeyShare(_) => 0,
        _ => 1,
    });
}

/// Our server with the capture's key, randomness and PSS salt, shaped like the captured one.
fn capture_server(c: &Capture) -> (DtlsConnection, Arc<Collect>, Arc<FixedRandom>) {
    // The server draws its X25519 private key, its random (70..8f in the capture), then the
    // RSA-PSS salt of its CertificateVerify (32 bytes of 0x12 in the capture, as the
    // signature opened with the public key shows).
    let mut random = x25519_private(c, "server-ephemeral-private.key");
    random.extend(0x70u8..=0x8f);
    random.extend([0x12; 32]);
    let rng = Arc::new(FixedRandom::new(vec![random]));
    let key = common::read(&c.path("server.key"));
    let cert = common::read(&c.path("server.crt"));
    let log = Arc::new(Collect::default());
    let config = ServerConfig::builder(CertifiedKey::from_pem(&cert, &key).unwrap())
        .versions(&[ProtocolVersion::TLSv1_3])
        .random(rng.clone())
        .time(Arc::new(FixedClock(THEN)))
        .key_log(log.clone())
        // The captured server sends no NewSessionTicket.
        .tickets(0)
        .customize_server_hello(capture_server_shape)
        // The captured server lists its groups in EncryptedExtensions (RFC 8446 4.2.7: it
        // MAY); ours sends none by default.
        .customize_encrypted_extensions(|ee| {
            let groups = [0x0017, 0x001d, 0x0018, 0x0019, 0x0100];
            ee.push(EncryptedExtension::SupportedGroups(
                groups.iter().map(|&g| NamedGroup::from(g)).collect(),
            ));
        })
        .build()
        .unwrap();
    let server = DtlsConnection::server(config, DtlsConfig::default()).unwrap();
    (server, log, rng)
}

/// Handshake traffic keys from the capture's keylog.txt (the building blocks, not ours).
fn keylog_keys(c: &Capture, label: &str, epoch: u64) -> Dtls13Keys {
    let suite = tls13_suite(CipherSuite::TLS_AES_128_GCM_SHA256).unwrap();
    let log = keylog(&c.path("keylog.txt"));
    Dtls13Keys::new(epoch, suite.aead, suite.hash, &log[label].1)
}

/// Opens handshake records of consecutive record numbers from `first` (`records` as
/// `split_records` gives them) with `keys`: the messages their fragments carry, in order,
/// each reassembled and framed whole (offset 0, fragment_length = length).
fn open_packed(keys: &Dtls13Keys, records: &[Vec<u8>], first: u64) -> Vec<u8> {
    let mut messages: Vec<(HandshakeHeader, Vec<u8>)> = Vec::new();
    for (n, rec) in (first..).zip(records) {
        let (seq, typ, content) = open_record(keys, rec, n);
        assert_eq!((seq, typ), (n, ContentType::Handshake));
        for frag in parse_fragments(&content) {
            let (h, data) = frag.unwrap();
            match messages.last_mut() {
                Some((m, body)) if m.message_seq == h.message_seq => {
                    assert_eq!(h.fragment_offset as usize, body.len());
                    body.extend_from_slice(data);
                }
                _ => {
                    assert_eq!(h.fragment_offset, 0);
                    messages.push((h, data.to_vec()));
                }
            }
        }
    }
    let mut out = Vec::new();
    for (h, body) in messages {
        assert_eq!(body.len(), h.length as usize);
        HandshakeHeader::whole(h.msg_type, h.message_seq, h.length).encode(&mut out);
        out.extend_from_slice(&body);
    }
    out
}

/// Opens one protected record (a whole record as `split_records` gives it) with `keys`:
/// (record number, content type, content).
fn open_record(keys: &Dtls13Keys, record: &[u8], next_expected: u64) -> (u64, ContentType, Vec<u8>) {
    let recs: Vec<_> = records(record, 0).collect::<Result<_, _>>().unwrap();
    let [DatagramRecord::Ciphertext(rec)] = recs[..] else {
        panic!("expected one DTLSCiphertext")
    };
    let seq = keys.unmask_seq(&rec, next_expected).unwrap();
    let opened = keys.open(&rec, seq).unwrap();
    (seq, opened.content_type, opened.plaintext)
}

#[test]
fn server_connection_replays_the_capture_byte_for_byte() {
    let c = capture();
    let dg = wire(&c);
    let now = Instant::now();
    let (mut server, log, rng) = capture_server(&c);
    server.recv_datagram(&dg["01-hello-c"], now).unwrap();
    assert_eq!(rng.remaining(), 0, "key share, random and PSS salt drawn");

    // The server's flight: the ServerHello record byte for byte; the encrypted messages the
    // captured server sent one per record we pack into as few records as the MTU allows
    // (RFC 9147 5.5 leaves that to the sender): at the default MTU (1200) two (the first
    // fills the first datagram), epoch 2 records 0 and 1, whose contents are the captured
    // records' contents in order.
    let flight = poll_all(&mut server);
    let records: Vec<Vec<u8>> = flight.iter().flat_map(|d| split_records(d)).collect();
    assert_eq!(records[0], dg["02-hello-s"], "ServerHello");
    let s_hs = keylog_keys(&c, "SERVER_HANDSHAKE_TRAFFIC_SECRET", 2);
    let messages: Vec<u8> = ["record-encext", "record-cert", "record-cverify", "record-sfin"]
        .iter()
        .flat_map(|name| content(&c, name))
        .collect();
    assert_eq!(records.len(), 3);
    assert_eq!(open_packed(&s_hs, &records[1..], 0), messages);
    assert!(flight.iter().all(|d| d.len() <= DtlsConfig::default().mtu));
    assert!(server.poll_timeout().is_some(), "the flight waits for the client");

    // The client's Finished completes the handshake; the server ACKs it (RFC 9147 7:
    // the final flight is acknowledged) in epoch 3 record 0.
    server.recv_datagram(&dg["07-fin-chs-prot"], now).unwrap();
    assert_eq!(events(&mut server), vec![Event::HandshakeComplete]);
    assert_eq!(server.protocol_version(), Some(ProtocolVersion::DTLSv1_3));
    assert_eq!(server.cipher_suite(), Some(CipherSuite::TLS_AES_128_GCM_SHA256));
    assert_eq!((server.read_epoch(), server.write_epoch()), (3, 3));
    assert_keylog(&c, &log);
    assert_eq!(poll_all(&mut server), vec![dg["08-ack-sap-prot"].clone()], "ACK");
    assert_eq!(server.poll_timeout(), None, "nothing left to retransmit");

    // "ping" in, "pong" out (epoch 3 record 1), then close_notify (record 2).
    server.recv_datagram(&dg["09-data-cap-prot"], now).unwrap();
    assert_eq!(events(&mut server), vec![Event::Data { len: 4 }]);
    assert_eq!(read_all(&mut server), b"ping");
    server.writer().write_all(b"pong").unwrap();
    assert_eq!(
        poll_all(&mut server),
        vec![dg["10-data-sap-prot"].clone()],
        "pong"
    );
    server.send_close_notify();
    assert_eq!(
        poll_all(&mut server),
        vec![dg["11-bye-sap-prot"].clone()],
        "close_notify"
    );
    assert!(server.error().is_none());
    assert_eq!(server.bad_records(), 0);
}

/// The records of `datagrams` opened with `keys` (record numbers from 0 up).
fn open_all(keys: &Dtls13Keys, datagrams: &[Vec<u8>]) -> Vec<(u64, ContentType, Vec<u8>)> {
    datagrams
        .iter()
        .flat_map(|d| split_records(d))
        .map(|r| open_record(keys, &r, 0))
        .collect()
}

/// The content of a captured DTLSInnerPlaintext file (content || type, no padding).
fn content(c: &Capture, name: &str) -> Vec<u8> {
    let mut v = c.cap(name);
    v.pop();
    v
}

fn ack_of(numbers: &[(u64, u64)]) -> Vec<u8> {
    Ack {
        record_numbers: numbers.iter().map(|&(e, s)| RecordNumber::new(e, s)).collect(),
    }
    .to_bytes()
}

/// The captured server flight with its Certificate datagram lost: the client ACKs the records
/// it holds on its ACK timer (RFC 9147 7.1; the partial flight stops its ClientHello's
/// retransmission, 7.2), completes when
/// the Certificate arrives, and sends the captured Finished message (under the record number
/// that comes next). The captured ACK acknowledges record (2, 0), which here carried our first
/// ACK and not the Finished: the Finished stays armed and is retransmitted (RFC 9147 7.2).
#[test]
fn client_acks_a_partial_captured_flight_then_finishes() {
    let c = capture();
    let dg = wire(&c);
    let mut now = Instant::now();
    let (mut client, log) = capture_client(&c, now);
    poll_all(&mut client);
    let c_hs = keylog_keys(&c, "CLIENT_HANDSHAKE_TRAFFIC_SECRET", 2);
    let mut sent = vec![];
    for n in [
        "02-hello-s",
        "03-encext-shs-prot",
        "05-cverify-shs-prot",
        "06-fin-shs-prot",
    ] {
        client.recv_datagram(&dg[n], now).unwrap();
        sent.push(open_all(&c_hs, &poll_all(&mut client)));
    }
    let held = [(0, 0), (2, 0), (2, 2), (2, 3)];
    assert_eq!(
        sent,
        vec![vec![], vec![], vec![], vec![]],
        "no ACK at once, gap or not: one goes on the ACK timer (RFC 9147 7.1)"
    );
    now = client.poll_timeout().unwrap();
    client.handle_timeout(now).unwrap();
    assert_eq!(
        open_all(&c_hs, &poll_all(&mut client)),
        vec![(0, ContentType::Ack, ack_of(&held))],
        "a quarter of the retransmission timeout later, one ACK of every record held"
    );
    assert_eq!(
        client.poll_timeout(),
        None,
        "the server's flight acknowledged the ClientHello: nothing to resend (RFC 9147 7.2)"
    );

    client.recv_datagram(&dg["04-cert-shs-prot"], now).unwrap();
    assert_eq!(events(&mut client), vec![Event::HandshakeComplete]);
    assert_keylog(&c, &log);
    let finished = (ContentType::Handshake, content(&c, "record-cfin"));
    let fin = open_all(&c_hs, &poll_all(&mut client));
    assert_eq!(
        fin,
        vec![(1, finished.0, finished.1.clone())],
        "the captured Finished"
    );

    client.recv_datagram(&dg["08-ack-sap-prot"], now).unwrap();
    now = client
        .poll_timeout()
        .expect("the Finished is still unacknowledged");
    client.handle_timeout(now).unwrap();
    assert_eq!(
        open_all(&c_hs, &poll_all(&mut client)),
        vec![(2, finished.0, finished.1)],
        "the Finished again, under a new record number"
    );
}

/// The client Finished retransmitted before the server's ACK arrives: the captured ACK names
/// the first transmission, record (2, 0), and that acknowledges the Finished (RFC 9147 7.2:
/// a message is acknowledged once every fragment was ACKed in some record).
#[test]
fn client_finished_retransmitted_then_acked_by_the_captured_ack() {
    let c = capture();
    let dg = wire(&c);
    let mut now = Instant::now();
    let (mut client, _) = capture_client(&c, now);
    poll_all(&mut client);
    for n in &DATAGRAMS[1..6] {
        client.recv_datagram(&dg[n], now).unwrap();
    }
    assert_eq!(poll_all(&mut client), vec![dg["07-fin-chs-prot"].clone()]);
    let c_hs = keylog_keys(&c, "CLIENT_HANDSHAKE_TRAFFIC_SECRET", 2);
    now = client.poll_timeout().unwrap();
    client.handle_timeout(now).unwrap();
    assert_eq!(
        open_all(&c_hs, &poll_all(&mut client)),
        vec![(1, ContentType::Handshake, content(&c, "record-cfin"))]
    );
    client.recv_datagram(&dg["08-ack-sap-prot"], now).unwrap();
    assert_eq!(
        client.poll_timeout(),
        None,
        "the ACK of the first copy stops the timer"
    );
    client.writer().write_all(b"ping").unwrap();
    assert_eq!(poll_all(&mut client), vec![dg["09-data-cap-prot"].clone()]);
}

/// The client's Finished late: our server resends its whole flight at the timeout under new
/// record numbers (ServerHello epoch 0 record 1, the rest epoch 2 records 2 and 3), the
/// same messages as the captured records; the captured Finished (answering the first copy) then
/// completes the handshake and the ACK is the captured one.
#[test]
fn server_retransmits_the_captured_flight_under_new_record_numbers() {
    let c = capture();
    let dg = wire(&c);
    let mut now = Instant::now();
    let (mut server, log, _) = capture_server(&c);
    server.recv_datagram(&dg["01-hello-c"], now).unwrap();
    assert_eq!(poll_all(&mut server).len(), 2, "the first copy");
    now = server.poll_timeout().unwrap();
    server.handle_timeout(now).unwrap();
    let again: Vec<Vec<u8>> = poll_all(&mut server)
        .iter()
        .flat_map(|d| split_records(d))
        .collect();
    assert_eq!(again.len(), 3);
    let mut hello = dg["02-hello-s"].clone();
    hello[10] = 1; // DTLSPlaintext sequence number 1 (last byte of the 48-bit field)
    assert_eq!(again[0], hello, "ServerHello, record 1");
    let s_hs = keylog_keys(&c, "SERVER_HANDSHAKE_TRAFFIC_SECRET", 2);
    let messages: Vec<u8> = ["record-encext", "record-cert", "record-cverify", "record-sfin"]
        .iter()
        .flat_map(|name| content(&c, name))
        .collect();
    assert_eq!(open_packed(&s_hs, &again[1..], 2), messages);

    server.recv_datagram(&dg["07-fin-chs-prot"], now).unwrap();
    assert_eq!(events(&mut server), vec![Event::HandshakeComplete]);
    assert_keylog(&c, &log);
    assert_eq!(poll_all(&mut server), vec![dg["08-ack-sap-prot"].clone()]);
    assert_eq!(server.poll_timeout(), None);
}
