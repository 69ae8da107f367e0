//! Two WebRTC-style peers on 127.0.0.1: each makes a fresh self-signed certificate, the
//! two exchange their fingerprints and UDP addresses "out of band" (an in-process channel
//! standing in for SDP signalling, RFC 8122 `a=fingerprint`), then run DTLS over real UDP
//! sockets with the roles the application sets (in WebRTC, ICE and the SDP `a=setup`
//! attribute decide: here peer A is active, the DTLS client), each checking the other's
//! certificate by fingerprint only (RFC 8827 6.5). Both print the DTLS-SRTP profile and
//! the SRTP master keys and salts they derived, which must be the same.
//!
//!     cargo run --example webrtc_peers
//!
//! Bounded: a peer that has not finished within 10 seconds gives up with an error.

use std::net::{SocketAddr, UdpSocket};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sanstls::dtls::{DtlsConfig, DtlsConnection};
use sanstls::pki::{Fingerprint, FingerprintAlg, FingerprintVerifier};
use sanstls::srtp::{SrtpKeyingMaterial, SrtpProtectionProfile};
use sanstls::{CertifiedKey, ClientConfig, Event, ServerConfig};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How long a peer may take, handshake included.
const DEADLINE: Duration = Duration::from_secs(10);

/// The SRTP profiles both peers accept, preferred first (RFC 7714's AEAD profiles, then the
/// one every WebRTC endpoint has).
const PROFILES: &[SrtpProtectionProfile] = &[
    SrtpProtectionProfile::SRTP_AEAD_AES_128_GCM,
    SrtpProtectionProfile::SRTP_AES128_CM_HMAC_SHA1_80,
];

/// What one peer tells the other through signalling: its fingerprint (the `a=fingerprint`
/// line) and its address (the ICE candidate).
struct Offer {
    fingerprint: String,
    addr: SocketAddr,
}

/// The DTLS role ICE and `a=setup` settled on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    /// `a=setup:active`: sends the ClientHello.
    Client,
    /// `a=setup:passive`: answers it.
    Server,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One peer: certificate, signalling, then DTLS over its UDP socket until the SRTP keys are
/// there.
fn peer(
    name: &'static str,
    role: Role,
    to_other: mpsc::Sender<Offer>,
    from_other: mpsc::Receiver<Offer>,
) -> Result<SrtpKeyingMaterial, BoxError> {
    let cert = CertifiedKey::self_signed_p256("webrtc")?;
    let fingerprint = cert.fingerprint(FingerprintAlg::Sha256).ok_or("no certificate")?;
    let sock = UdpSocket::bind("127.0.0.1:0")?;
    println!("{name}: a=fingerprint:{fingerprint}");
    to_other.send(Offer {
        fingerprint: fingerprint.to_string(),
        addr: sock.local_addr()?,
    })?;
    let theirs = from_other.recv_timeout(DEADLINE)?;
    let verifier = Arc::new(FingerprintVerifier::new(vec![Fingerprint::parse(
        &theirs.fingerprint,
    )?])?);
    sock.connect(theirs.addr)?;

    let start = Instant::now();
    let dtls = DtlsConfig::default();
    let mut conn = match role {
        Role::Client => {
            let config = ClientConfig::builder(verifier)
                .enable_sni(false)
                .srtp_profiles(PROFILES)
                .client_auth_cert(cert)
                .build()?;
            DtlsConnection::client(config, "webrtc.invalid", dtls, start)?
        }
        Role::Server => {
            let config = ServerConfig::builder(cert)
                .client_verifier(verifier)
                .srtp_profiles(PROFILES)
                .build()?;
            DtlsConnection::server(config, dtls)?
        }
    };
    let mut buf = vec![0u8; 65_536];
    let mut keys = None;
    // The last flight may still need to reach the other side (or be resent): a server
    // lingers until its timers are done or the other peer's keys would be there too.
    let mut linger_until = None;
    loop {
        while let Some(n) = conn.poll_datagram(&mut buf) {
            // A lost datagram is DTLS's to repair: the timer resends the flight.
            let _ = sock.send(&buf[..n]);
        }
        if let Some(e) = conn.error() {
            return Err(format!("{name}: {e}").into());
        }
        while let Some(event) = conn.next_event() {
            if let Event::SrtpKeyingMaterial(k) = event {
                keys = Some(*k);
                linger_until = Some(Instant::now() + Duration::from_millis(300));
            }
        }
        let now = Instant::now();
        if linger_until.is_some_and(|t| now >= t) {
            break;
        }
        if now.duration_since(start) > DEADLINE {
            return Err(format!("{name}: no DTLS-SRTP keys within {DEADLINE:?}").into());
        }
        let wake = [conn.poll_timeout(), linger_until].into_iter().flatten().min();
        let wait = wake.map_or(Duration::from_millis(100), |t| t.saturating_duration_since(now));
        sock.set_read_timeout(Some(
            wait.clamp(Duration::from_millis(1), Duration::from_millis(100)),
        ))?;
        match sock.recv(&mut buf) {
            Ok(n) => conn.recv_datagram(&buf[..n], Instant::now())?,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                if conn.poll_timeout().is_some_and(|t| t <= Instant::now()) {
                    conn.handle_timeout(Instant::now())?;
                }
            }
            // The other peer's socket closed first (ICMP unreachable): nothing more to hear.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused && keys.is_some() => break,
            Err(e) => return Err(e.into()),
        }
    }
    let keys = keys.ok_or("no keys")?;
    println!(
        "{name} ({role:?}): {} {} srtp={} client_write_key={} client_write_salt={} \
         server_write_key={} server_write_salt={}",
        conn.protocol_version().map(|v| v.to_string()).unwrap_or_default(),
        conn.cipher_suite().map(|s| s.to_string()).unwrap_or_default(),
        keys.profile(),
        hex(keys.client_write_key()),
        hex(keys.client_write_salt()),
        hex(keys.server_write_key()),
        hex(keys.server_write_salt()),
    );
    Ok(keys)
}

/// Runs both peers; returns A's and B's keying material.
pub fn run() -> Result<(SrtpKeyingMaterial, SrtpKeyingMaterial), BoxError> {
    let (a_tx, b_rx) = mpsc::channel();
    let (b_tx, a_rx) = mpsc::channel();
    // "ICE decides": A is active (the DTLS client), B passive (the DTLS server).
    let b = std::thread::spawn(move || peer("peer B", Role::Server, b_tx, b_rx));
    let a = peer("peer A", Role::Client, a_tx, a_rx);
    let b = b.join().map_err(|_| "peer B panicked")?;
    let (a, b) = (a?, b?);
    if a != b {
        return Err("the peers derived different SRTP keys".into());
    }
    Ok((a, b))
}

fn main() -> Result<(), BoxError> {
    let (a, _) = run()?;
    println!("both peers: {} with the same SRTP keys", a.profile());
    Ok(())
}
