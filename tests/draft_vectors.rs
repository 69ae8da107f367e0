//! Replays draft-ietf-tls-tls13-vectors-07 through `sanstls::crypto`: every extracted and
//! derived secret, traffic key and IV, Finished, PSK binder and resumption PSK it lists,
//! every transcript hash it uses, the (EC)DH shares and shared secrets, and every protected
//! record (sealed byte for byte, then opened again).

mod common;

use std::collections::HashMap;

use sanstls::codec::NamedGroup;
use sanstls::crypto::hkdf::hkdf_expand_label;
use sanstls::crypto::{
    derive_secret, finished_verify_data, finished_verify_data_prk, hkdf_extract, resumption_psk, AeadAlg,
    FixedRandom, HashAlg, KeyExchange, KeySchedule13, Prk, RecordKey, Transcript,
};

const ALG: HashAlg = HashAlg::Sha256; // All traces use TLS_AES_128_GCM_SHA256.
const HRR_RANDOM: &str = "cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c";

struct Entry {
    side: String,
    action: String,
    fields: Vec<(String, Vec<u8>)>,
}

impl Entry {
    fn get(&self, name: &str) -> &[u8] {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
            .unwrap_or_else(|| panic!("{} {}: no field {name}", self.side, self.action))
    }

    fn quoted(&self) -> &str {
        self.action.split('"').nth(1).unwrap_or("")
    }
}

/// Splits the draft into numbered sections of `{side}  action:` entries with hex fields.
fn parse(text: &str) -> Vec<(String, Vec<Entry>)> {
    let mut sections: Vec<(String, Vec<Entry>)> = Vec::new();
    let lines = text
        .lines()
        .filter(|l| !l.starts_with("Thomson ") && !l.starts_with("Internet-Draft") && !l.contains('\u{c}'));
    for line in lines {
        let is_heading = line.chars().next().is_some_and(|c| c.is_ascii_digit()) && line.contains(".  ");
        if is_heading {
            sections.push((line.trim().to_string(), Vec::new()));
            continue;
        }
        let Some((_, entries)) = sections.last_mut() else {
            continue;
        };
        if let Some(rest) = line.strip_prefix("   {") {
            let (side, action) = rest.split_once("}  ").expect("entry header");
            entries.push(Entry {
                side: side.into(),
                action: action.trim().into(),
                fields: vec![],
            });
        } else if let Some(rest) = line.strip_prefix("         ") {
            // Continuation of a field's hex (or of a wrapped header).
            if let Some(e) = entries.last_mut() {
                if let Some((_, v)) = e.fields.last_mut() {
                    v.extend(hex::decode(rest.split_whitespace().collect::<String>()).expect("hex"));
                }
            }
        } else if let Some(rest) = line.strip_prefix("      ") {
            let Some(e) = entries.last_mut() else { continue };
            let Some((name, value)) = rest.split_once(":  ") else {
                e.action.push(' ');
                e.action.push_str(rest.trim());
                continue;
            };
            let name = name.split(" (").next().unwrap_or(name).trim().to_string();
            let value = value.trim();
            let bytes = if value == "(empty)" {
                vec![]
            } else if value.starts_with("0 (all zero") {
                vec![0; ALG.output_len()]
            } else {
                hex::decode(value.split_whitespace().collect::<String>()).expect("hex")
            };
            e.fields.push((name, bytes));
        }
    }
    sections
}

fn group_of(action: &str) -> NamedGroup {
    if action.contains("x25519") {
        NamedGroup::x25519
    } else if action.contains("P-256") {
        NamedGroup::secp256r1
    } else {
        panic!("unknown group in {action}")
    }
}

fn other(side: &str) -> &'static str {
    if side == "client" {
        "server"
    } else {
        "client"
    }
}

#[derive(Default)]
struct Counts(HashMap<&'static str, usize>);

impl Counts {
    fn hit(&mut self, what: &'static str) {
        *self.0.entry(what).or_default() += 1;
    }
    fn get(&self, what: &str) -> usize {
        self.0.get(what).copied().unwrap_or(0)
    }
}

/// Replays one section; returns how many checks of each kind ran.
fn replay(title: &str, entries: &[Entry]) -> Counts {
    let mut n = Counts::default();
    let mut transcript = Transcript::new(ALG);
    let mut snapshots = vec![transcript.current_hash().to_vec()];
    // The transcript before the last constructed message, and that message.
    let mut before_last = transcript.clone();
    let mut last_msg: Vec<u8> = vec![];
    let mut ks: Option<KeySchedule13> = None;
    // Key pairs by side: (private, public); (EC)DHE input of the handshake secret.
    let mut key_pairs: HashMap<String, (Vec<u8>, Vec<u8>, NamedGroup)> = HashMap::new();
    let mut ecdhe: Option<Vec<u8>> = None;
    // Traffic secrets by (writer, phase); each writer's current key and sequence number.
    let mut keys: HashMap<(String, String), Vec<u8>> = HashMap::new();
    let mut writing: HashMap<String, (RecordKey, u64)> = HashMap::new();

    for e in entries {
        let ctx = format!("{title}: {{{}}} {}", e.side, e.action);
        let a = e.action.as_str();
        if e.fields.is_empty() {
            // "(same as ...)": nothing to check, but a write key may become current.
            if let Some(phase) = a.strip_prefix("derive write traffic keys for ") {
                let phase = phase.split(" (").next().unwrap_or(phase).to_string();
                let secret = keys
                    .get(&(e.side.clone(), phase))
                    .unwrap_or_else(|| panic!("{ctx}: keys unknown"));
                writing.insert(
                    e.side.clone(),
                    (RecordKey::tls13(AeadAlg::Aes128Gcm, ALG, secret), 0),
                );
            }
            continue;
        }
        if a.starts_with("create an ephemeral") {
            let group = group_of(a);
            let (sk, pk) = (e.get("private key"), e.get("public key"));
            let kx = KeyExchange::start(group, &FixedRandom::new(vec![sk.to_vec()])).unwrap();
            assert_eq!(kx.public_key(), pk, "{ctx}");
            key_pairs.insert(e.side.clone(), (sk.to_vec(), pk.to_vec(), group));
            n.hit("key pair");
        } else if a.starts_with("construct a ") {
            let name = a
                .trim_start_matches("construct a ")
                .split(' ')
                .next()
                .unwrap_or("");
            let msg = e.get(name);
            if name == "ServerHello" && hex::encode(&msg[6..38]) == HRR_RANDOM {
                // RFC 8446 4.4.1: ClientHello1 becomes message_hash before the HRR.
                transcript.replace_with_message_hash();
                n.hit("message_hash");
            }
            before_last = transcript.clone();
            last_msg = msg.to_vec();
            transcript.update(msg);
            snapshots.push(transcript.current_hash().to_vec());
        } else if a.starts_with("extract secret") {
            let (salt, ikm) = (e.get("salt"), e.get("IKM"));
            let secret = hkdf_extract(ALG, salt, ikm);
            assert_eq!(secret.as_bytes(), e.get("secret"), "{ctx}");
            // Extracting straight into a PRK expands the same as the PRK of the secret.
            assert!(
                Prk::extract(ALG, salt, ikm)
                    .derive_secret(b"derived", ALG.empty_hash())
                    .ct_eq(derive_secret(ALG, secret.as_bytes(), b"derived", &ALG.hash(b"")).as_bytes()),
                "{ctx}: Prk::extract"
            );
            match e.quoted() {
                "early" => {
                    let psk = (ikm != [0u8; 32]).then_some(ikm);
                    ks = Some(KeySchedule13::new(ALG, psk));
                }
                "handshake" => {
                    ks.as_mut().expect("early first").input_shared_secret(ikm);
                    ecdhe = Some(ikm.to_vec());
                }
                "master" => ks.as_mut().expect("handshake first").input_empty(),
                other => panic!("{ctx}: unknown extract {other}"),
            }
            n.hit("extract");
        } else if a.starts_with("derive secret") {
            let label = e.quoted().strip_prefix("tls13 ").expect("tls13 label");
            let (prk, hash, expanded) = (e.get("PRK"), e.get("hash"), e.get("expanded"));
            assert_eq!(
                derive_secret(ALG, prk, label.as_bytes(), hash).as_bytes(),
                expanded,
                "{ctx}"
            );
            if label != "derived" {
                assert!(
                    snapshots.contains(&hash.to_vec()),
                    "{ctx}: hash is not a transcript hash"
                );
                let ks = ks.as_ref().expect("schedule");
                let ours = match label {
                    "c e traffic" => ks.client_early_traffic_secret(hash),
                    "e exp master" => ks.early_exporter_master_secret(hash),
                    "c hs traffic" => ks.client_handshake_traffic_secret(hash),
                    "s hs traffic" => ks.server_handshake_traffic_secret(hash),
                    "c ap traffic" => ks.client_application_traffic_secret_0(hash),
                    "s ap traffic" => ks.server_application_traffic_secret_0(hash),
                    "exp master" => ks.exporter_master_secret(hash),
                    "res master" => ks.resumption_master_secret(hash),
                    other => panic!("{ctx}: unknown label {other}"),
                };
                assert!(ours.ct_eq(expanded), "{ctx}: KeySchedule13 differs");
                n.hit("key schedule");
            }
            n.hit("derive");
        } else if let Some(rest) = a.strip_prefix("derive ") {
            // "derive {write,read} traffic keys for <phase>:"
            let (dir, phase) = rest.split_once(" traffic keys for ").expect("traffic keys");
            let phase = phase.trim_end_matches(':').to_string();
            let prk = e.get("PRK");
            let (key, iv) = (e.get("key expanded"), e.get("iv expanded"));
            assert_eq!(
                hkdf_expand_label(ALG, prk, b"key", &[], 16).as_bytes(),
                key,
                "{ctx}"
            );
            assert_eq!(
                hkdf_expand_label(ALG, prk, b"iv", &[], 12).as_bytes(),
                iv,
                "{ctx}"
            );
            // One PRK (one HMAC key setup) for both labels, in either order, gives the same.
            let shared = Prk::new(ALG, prk);
            assert_eq!(shared.expand_label(b"iv", &[], 12).as_bytes(), iv, "{ctx}");
            assert_eq!(shared.expand_label(b"key", &[], 16).as_bytes(), key, "{ctx}");
            assert_eq!(shared.expand_label(b"iv", &[], 12).as_bytes(), iv, "{ctx}");
            let writer = if dir == "write" {
                e.side.clone()
            } else {
                other(&e.side).to_string()
            };
            keys.insert((writer.clone(), phase), prk.to_vec());
            if dir == "write" {
                writing.insert(writer, (RecordKey::tls13(AeadAlg::Aes128Gcm, ALG, prk), 0));
            }
            n.hit("traffic keys");
        } else if a.starts_with("calculate finished") {
            let (prk, expanded, finished) = (e.get("PRK"), e.get("expanded"), e.get("finished"));
            assert_eq!(
                hkdf_expand_label(ALG, prk, b"finished", &[], 32).as_bytes(),
                expanded,
                "{ctx}"
            );
            let found = snapshots
                .iter()
                .any(|h| finished_verify_data(ALG, prk, h) == finished);
            assert!(found, "{ctx}: no transcript hash gives this Finished");
            // The traffic secret's PRK, after "key" and "iv", still gives the same Finished.
            let shared = Prk::new(ALG, prk);
            let _ = RecordKey::tls13_prk(AeadAlg::Aes128Gcm, &shared);
            assert_eq!(
                shared.expand_label(b"finished", &[], 32).as_bytes(),
                expanded,
                "{ctx}"
            );
            assert!(
                snapshots
                    .iter()
                    .any(|h| finished_verify_data_prk(&shared, h) == finished),
                "{ctx}: finished_verify_data_prk"
            );
            n.hit("finished");
        } else if a.starts_with("calculate PSK binder") {
            let (prefix, binder_hash) = (e.get("ClientHello prefix"), e.get("binder hash"));
            assert_eq!(ALG.hash(prefix), binder_hash, "{ctx}");
            let prk = e.get("PRK");
            assert!(
                ks.as_ref().expect("schedule").binder_key(true).ct_eq(prk),
                "{ctx}: res binder key"
            );
            assert_eq!(
                finished_verify_data(ALG, prk, binder_hash),
                e.get("finished"),
                "{ctx}"
            );
            n.hit("binder");
        } else if a.starts_with("generate resumption secret") {
            let psk = resumption_psk(ALG, e.get("PRK"), e.get("hash"));
            assert_eq!(psk.as_bytes(), e.get("expanded"), "{ctx}");
            let prk = Prk::new(ALG, e.get("PRK"));
            assert_eq!(
                prk.expand_label(b"resumption", e.get("hash"), 32).as_bytes(),
                e.get("expanded"),
                "{ctx}: Prk"
            );
            n.hit("resumption");
        } else if a.starts_with("send ") {
            let (payload, record) = (e.get("payload"), e.get("complete record"));
            if record[0] != 0x17 {
                assert_eq!(&record[5..], payload, "{ctx}");
                if !last_msg.is_empty() && payload.len() > last_msg.len() && payload.starts_with(&last_msg) {
                    // A ClientHello with PSK binders was shown as its prefix (RFC 8446
                    // 4.2.11.2); the transcript holds the whole message.
                    transcript = before_last.clone();
                    transcript.update(payload);
                    snapshots.push(transcript.current_hash().to_vec());
                }
                continue;
            }
            let inner_type = match a {
                _ if a.starts_with("send handshake") => 0x16,
                _ if a.starts_with("send application_data") => 0x17,
                _ if a.starts_with("send alert") => 0x15,
                _ => panic!("{ctx}: record type"),
            };
            let (key, seq) = writing
                .get_mut(&e.side)
                .unwrap_or_else(|| panic!("{ctx}: no write key"));
            let mut inner = payload.to_vec();
            inner.push(inner_type);
            key.seal_in_place(*seq, &record[..5], &mut inner).unwrap();
            assert_eq!(inner, &record[5..], "{ctx}: sealed record differs");
            let mut body = record[5..].to_vec();
            let opened = key.open_in_place(*seq, &record[..5], &mut body).unwrap();
            assert_eq!(&opened[..payload.len()], payload);
            *seq += 1;
            n.hit("record");
        }
    }

    // Both (EC)DH sides reach the handshake secret's input.
    if let (Some(c), Some(s)) = (key_pairs.get("client"), key_pairs.get("server")) {
        assert_eq!(c.2, s.2, "{title}: last key pairs are for one group");
        let kc = KeyExchange::start(c.2, &FixedRandom::new(vec![c.0.clone()])).unwrap();
        let ks_ = KeyExchange::start(s.2, &FixedRandom::new(vec![s.0.clone()])).unwrap();
        let zc = kc.complete(&s.1).unwrap();
        let zs = ks_.complete(&c.1).unwrap();
        assert!(zc.ct_eq(zs.as_bytes()));
        assert_eq!(
            Some(zc.as_bytes().to_vec()),
            ecdhe,
            "{title}: shared secret is the handshake IKM"
        );
        n.hit("shared secret");
    }
    n
}

fn sections() -> Vec<(String, Vec<Entry>)> {
    let path = common::vector("draft-ietf-tls-tls13-vectors-07.txt");
    let text = String::from_utf8(common::read(&path)).expect("utf-8");
    parse(&text)
}

fn run(prefix: &str) -> Counts {
    let sections = sections();
    let (title, entries) = sections
        .iter()
        .find(|(t, _)| t.starts_with(prefix))
        .unwrap_or_else(|| panic!("no section {prefix}"));
    replay(title, entries)
}

#[test]
fn simple_1rtt_handshake() {
    let n = run("3.");
    assert_eq!(n.get("key pair"), 2);
    assert_eq!(n.get("extract"), 3);
    assert_eq!(n.get("key schedule"), 6, "hs, ap, exp, res");
    assert_eq!(n.get("traffic keys"), 4);
    assert_eq!(n.get("finished"), 2);
    assert_eq!(n.get("resumption"), 1);
    assert_eq!(n.get("shared secret"), 1);
    assert!(n.get("record") >= 6, "records: {}", n.get("record"));
}

#[test]
fn hello_retry_request() {
    let n = run("5.");
    assert_eq!(n.get("message_hash"), 1);
    assert_eq!(n.get("key pair"), 3, "x25519, then P-256 on both sides");
    assert_eq!(n.get("shared secret"), 1);
    assert_eq!(n.get("finished"), 2);
    assert!(n.get("key schedule") >= 5);
    assert!(n.get("record") >= 4);
}

#[test]
fn resumed_0rtt_handshake() {
    let n = run("4.");
    assert_eq!(n.get("binder"), 1);
    assert!(
        n.get("key schedule") >= 7,
        "includes c e traffic and e exp master"
    );
    assert!(n.get("record") >= 5);
}

#[test]
fn client_authentication_and_compatibility_mode() {
    for s in ["6.", "7."] {
        let n = run(s);
        assert!(n.get("finished") >= 2 && n.get("record") >= 4, "{s}");
    }
}
