//! TLS over the runner's TCP socket: a `Connection` driven by a blocking loop, doing what
//! BoringSSL's shim does after the handshake (bssl_shim.cc `DoExchange`): checks, exporter,
//! the optional first write, then echoing every read with each byte XORed with 0xff.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::TcpStream;

use sanstls::{Connection, Event};

use crate::opts::Opts;
use crate::{check, config, Fail};

/// The negotiated values the checks look at, from a `Connection` or a `DtlsConnection`.
pub struct Props {
    pub version: u16,
    pub resumed: bool,
    pub server_name: Option<String>,
    pub alpn: Option<Vec<u8>>,
    pub ems: Option<bool>,
    pub sig_scheme: Option<u16>,
    /// The client's CertificateVerify scheme (client authentication).
    pub client_sig_scheme: Option<u16>,
    pub group: Option<u16>,
    pub suite: u16,
    pub early_data: Option<bool>,
    pub peer_certs: Vec<Vec<u8>>,
    pub hrr: bool,
    /// Our end-entity certificate, if we sent one.
    pub sent_leaf: Option<Vec<u8>>,
    pub early_reason: Option<sanstls::conn::EarlyDataReason>,
    pub dtls: bool,
}

macro_rules! props {
    ($c:expr) => {
        crate::tls::Props {
            version: $c.protocol_version().map_or(0, |v| v.get()),
            resumed: $c.is_resumed(),
            server_name: $c.server_name().map(str::to_string),
            alpn: $c.alpn_protocol().map(<[u8]>::to_vec),
            ems: $c.extended_master_secret(),
            sig_scheme: $c.signature_scheme().map(|s| s.get()),
            client_sig_scheme: $c.client_signature_scheme().map(|s| s.get()),
            group: $c.key_exchange_group().map(|g| g.get()),
            suite: $c.cipher_suite().map_or(0, |s| s.get()),
            early_data: None,
            peer_certs: $c.peer_certificates().iter().map(|c| c.to_vec()).collect(),
            hrr: $c.had_hello_retry(),
            sent_leaf: $c.sent_certificates().first().map(|c| c.to_vec()),
            early_reason: $c.early_data_reason(),
            dtls: false,
        }
    };
}
pub(crate) use props;

/// One connection to the runner, TLS or DTLS, as the exchange drives it.
pub trait Session {
    fn props(&self) -> Props;
    fn seen(&self) -> &Seen;
    fn handshake(&mut self) -> Result<(), Fail>;
    fn write_all(&mut self, data: &[u8]) -> Result<(), Fail>;
    /// Up to `max` bytes of application data; empty at close_notify or EOF.
    fn read(&mut self, max: usize) -> Result<Vec<u8>, Fail>;
    /// Reads and processes more from the runner; false at EOF.
    fn pump(&mut self) -> Result<bool, Fail>;
    fn key_update(&mut self) -> Result<(), Fail>;
    fn export(&self, out: &mut [u8], label: &[u8], context: Option<&[u8]>) -> Result<(), Fail>;
    fn close_notify(&mut self) -> Result<(), Fail>;
    fn peer_closed(&self) -> bool;
    /// Client: writes 0-RTT data if the connection may; false when it may not.
    fn early_write(&mut self, data: &[u8]) -> Result<bool, Fail>;
    fn discard_plaintext(&mut self);
    /// Client: the handshake is under way with 0-RTT offered and not yet answered
    /// (BoringSSL's `SSL_in_early_data`).
    fn in_early_data(&mut self) -> bool {
        false
    }
}

/// What the handshake and the exchange saw, for the checks.
#[derive(Default)]
pub struct Seen {
    pub early_rejected: bool,
    pub tickets: usize,
    /// Server: accepted 0-RTT data not yet echoed.
    pub early: VecDeque<u8>,
}

struct Driver {
    conn: Connection,
    sock: TcpStream,
    seen: Seen,
    /// Client: what an early write could not send as 0-RTT (over max_early_data_size); sent
    /// first once the handshake is done if the server took the 0-RTT part (BoringSSL's
    /// SSL_write does a short write there and the runner reads the rest after).
    early_rest: Vec<u8>,
}

impl Drop for Driver {
    fn drop(&mut self) {
        crate::drain(&mut self.sock);
    }
}

impl Driver {
    fn flush(&mut self) -> Result<(), Fail> {
        while self.conn.write_tls(&mut self.sock)? > 0 {}
        Ok(())
    }

    fn events(&mut self) {
        while let Some(ev) = self.conn.next_event() {
            match ev {
                Event::SessionTicket => self.seen.tickets += 1,
                Event::EarlyDataRejected => self.seen.early_rejected = true,
                Event::EarlyData { .. } => {
                    let mut buf = [0u8; 4096];
                    while let Ok(n) = self.conn.early_data_reader().read(&mut buf) {
                        if n == 0 {
                            break;
                        }
                        self.seen.early.extend(&buf[..n]);
                    }
                }
                _ => {}
            }
        }
    }

    /// Reads once from the socket and processes it; false at EOF.
    fn pump(&mut self) -> Result<bool, Fail> {
        let n = match self.conn.read_tls(&mut self.sock) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => 0,
            Err(e) => return Err(e.into()),
        };
        if n == 0 {
            return Ok(false);
        }
        let res = self.conn.process_new_packets();
        self.events();
        if let Err(e) = res {
            // Sends the alert the error carries.
            let _ = self.flush();
            return Err(Fail::Tls(e));
        }
        Ok(true)
    }

    fn handshake(&mut self) -> Result<(), Fail> {
        loop {
            self.flush()?;
            if !self.conn.is_handshaking() {
                let rest = std::mem::take(&mut self.early_rest);
                if self.conn.early_data_accepted() && !rest.is_empty() {
                    self.write_all(&rest)?;
                }
                return Ok(());
            }
            // Server: BoringSSL's handshake returns once 0-RTT is accepted and its flight is
            // out (SSL_in_early_data); the exchange then echoes the early data as half-RTT
            // data (RFC 8446 4.4.4), which the runner waits for before its EndOfEarlyData.
            if !self.seen.early.is_empty() && self.conn.early_data_accepted() {
                return Ok(());
            }
            if !self.pump()? {
                return Err(Fail::Io(io::ErrorKind::UnexpectedEof.into()));
            }
        }
    }

    fn write_all(&mut self, mut data: &[u8]) -> Result<(), Fail> {
        while !data.is_empty() {
            match self.conn.writer().write(data) {
                Ok(n) => data = &data[n..],
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e.into()),
            }
            self.flush()?;
        }
        self.flush()
    }

    /// Up to `max` bytes of application data; empty at close_notify or EOF.
    fn read(&mut self, max: usize) -> Result<Vec<u8>, Fail> {
        if !self.seen.early.is_empty() {
            let n = max.min(self.seen.early.len());
            return Ok(self.seen.early.drain(..n).collect());
        }
        let mut buf = vec![0u8; max];
        loop {
            match self.conn.reader().read(&mut buf) {
                Ok(n) => {
                    buf.truncate(n);
                    return Ok(buf);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    // Flush first: processing may have queued an answer (KeyUpdate).
                    self.flush()?;
                    if !self.pump()? {
                        return Ok(Vec::new());
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

fn aes_hardware() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("aes") && std::arch::is_x86_feature_detected!("pclmulqdq")
    }
    #[cfg(target_arch = "aarch64")]
    {
        std::arch::is_aarch64_feature_detected!("aes")
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        false
    }
}

/// The negotiated values the runner asks about (bssl_shim.cc `CheckHandshakeProperties`).
fn check_properties(p: &Props, o: &Opts, is_resume: bool, seen: &Seen) -> Result<(), Fail> {
    let version = p.version;
    if let Some(want) = o.expect_version {
        check(version == want, || {
            format!("version {version:04x}, wanted {want:04x}")
        })?;
    }
    let expect_resume = is_resume && !o.expect_session_miss;
    check(p.resumed == expect_resume, || {
        format!("session was{} resumed", if p.resumed { "" } else { " not" })
    })?;
    if let Some(name) = &o.expect_server_name {
        check(p.server_name.as_deref() == Some(name.as_str()), || {
            format!("server name {:?}, wanted {name:?}", p.server_name)
        })?;
    }
    if o.expect_no_server_name {
        check(p.server_name.is_none(), || "unexpected server name".into())?;
    }
    let want_alpn = if o.server {
        o.select_alpn.as_deref().filter(|_| !o.decline_alpn)
    } else {
        // BoringSSL's shim reads `-expect-alpn ""` as "no protocol".
        o.expect_alpn.as_deref().filter(|a| !a.is_empty())
    };
    check(p.alpn.as_deref() == want_alpn.map(str::as_bytes), || {
        format!(
            "ALPN {:?}, wanted {want_alpn:?}",
            p.alpn.as_deref().map(String::from_utf8_lossy)
        )
    })?;
    if o.expect_extended_master_secret {
        // TLS 1.3 always binds its secrets to the transcript (BoringSSL reports it as EMS).
        check(p.ems != Some(false), || "no extended master secret".into())?;
    }
    if o.expect_no_secure_renegotiation {
        // sanstls always signals RFC 5746 support.
        return Err(Fail::Unimplemented("-expect-no-secure-renegotiation".into()));
    }
    if let Some(want) = o.expect_peer_signature_algorithm {
        // Nothing is signed on a resumed connection; BoringSSL reports the original session's
        // scheme, which sanstls does not keep.
        let got = if o.server {
            p.client_sig_scheme
        } else {
            p.sig_scheme
        }
        .unwrap_or(0);
        check(p.resumed || got == want, || {
            format!("peer signature algorithm {got:04x}, wanted {want:04x}")
        })?;
    }
    if let Some(want) = o.expect_curve_id {
        let got = p.group.unwrap_or(0);
        check(got == want, || format!("group {got:04x}, wanted {want:04x}"))?;
    }
    let suite = p.suite;
    let aes = aes_hardware();
    for (want, applies) in [
        (o.expect_cipher, true),
        (o.expect_cipher_aes, aes),
        (o.expect_cipher_no_aes, !aes),
    ] {
        if let (Some(want), true) = (want, applies) {
            check(suite == want, || format!("suite {suite:04x}, wanted {want:04x}"))?;
        }
    }
    if o.expect_accept_early_data {
        check(p.early_data == Some(true), || "0-RTT was not accepted".into())?;
    }
    if o.expect_reject_early_data && !o.server {
        check(seen.early_rejected, || "0-RTT was not rejected".into())?;
    }
    if o.expect_reject_early_data && o.server {
        check(p.early_data != Some(true), || "0-RTT was accepted".into())?;
    }
    let has_peer_cert = !p.peer_certs.is_empty();
    if o.expect_no_peer_cert {
        check(!has_peer_cert, || "unexpected peer certificate".into())?;
    } else if (!o.server || o.require_any_client_certificate) && !p.resumed {
        check(has_peer_cert, || "no peer certificate".into())?;
    }
    if let Some(path) = &o.expect_peer_cert_file {
        let want = config::pem_chain(path)?;
        check(p.peer_certs == want, || "peer certificate chain mismatch".into())?;
    }
    if let Some(n) = o.expect_selected_credential {
        let want = config::credential_leaf(o, n)?;
        check(p.sent_leaf.as_deref() == Some(want.as_slice()), || {
            format!("credential {n} was not the one used")
        })?;
    }
    if o.expect_verify_result {
        // A client without -verify-peer fails softly (config::RunnerCerts); otherwise a
        // failed verification ends the handshake, so reaching this means it passed (or the
        // session was resumed from one that did).
        let failed = config::verify_failed();
        check(failed == (o.verify_fail && !o.verify_peer), || {
            format!(
                "certificate verification failed: {failed}, wanted {}",
                o.verify_fail
            )
        })?;
    }
    // As BoringSSL's shim: not over DTLS (no 0-RTT there).
    if let (Some(want), false) = (&o.expect_early_data_reason, p.dtls) {
        let got = p.early_reason.map_or("unknown", early_reason_name);
        check(got == want, || format!("early data reason {got}, wanted {want}"))?;
    }
    if o.expect_hrr || o.expect_no_hrr {
        check(p.hrr == o.expect_hrr, || {
            format!("HelloRetryRequest: got {}, wanted {}", p.hrr, o.expect_hrr)
        })?;
    }
    Ok(())
}

/// BoringSSL's name for an early data reason (SSL_early_data_reason_string).
fn early_reason_name(r: sanstls::conn::EarlyDataReason) -> &'static str {
    use sanstls::conn::EarlyDataReason as R;
    match r {
        R::Accepted => "accept",
        R::Disabled => "disabled",
        R::NoSessionOffered => "no_session_offered",
        R::UnsupportedForSession => "unsupported_for_session",
        R::AlpnMismatch => "alpn_mismatch",
        R::PeerDeclined => "peer_declined",
        R::SessionNotResumed => "session_not_resumed",
        R::HelloRetryRequest => "hello_retry_request",
        R::ProtocolVersion => "protocol_version",
        R::TicketAgeSkew => "ticket_age_skew",
        // BoringSSL has no name for it: its anti-replay is the application's.
        R::Replay => "replay",
        _ => "unknown",
    }
}

const SIZES: [usize; 11] = [0, 1, 255, 256, 257, 16383, 16384, 16385, 32767, 32768, 32769];

pub fn exchange(d: &mut dyn Session, o: &Opts, retry: &Opts, is_resume: bool) -> Result<(), Fail> {
    let mut wrote_hello = false;
    if !o.server && o.shim_writes_first {
        wrote_hello = d.early_write(b"hello")?;
    }
    if is_resume && !o.server && o.expect_no_offer_early_data {
        check(!d.early_write(&[])?, || "client offered 0-RTT".into())?;
    }
    // BoringSSL's client handshake returns as soon as its ClientHello with 0-RTT is out
    // (SSL_in_early_data), and the exporter asked for then fails: the exporter master
    // secret comes with the server's Finished (RFC 8446 7.5). Ours is the same query.
    if o.export_keying_material > 0 && d.in_early_data() {
        let mut out = vec![0u8; o.export_keying_material];
        let ctx = o.use_export_context.then_some(o.export_context.as_bytes());
        d.export(&mut out, o.export_label.as_bytes(), ctx)?;
    }
    d.handshake()?;
    let rejected = d.seen().early_rejected;
    let o = if rejected { retry } else { o };
    if rejected {
        wrote_hello = false;
    }
    check_properties(&d.props(), o, is_resume, d.seen())?;

    if o.export_keying_material > 0 {
        let mut out = vec![0u8; o.export_keying_material];
        let ctx = o.use_export_context.then_some(o.export_context.as_bytes());
        d.export(&mut out, o.export_label.as_bytes(), ctx)?;
        d.write_all(&out)?;
    }

    if o.write_different_record_sizes {
        let buf = vec![0x42u8; 32769];
        for len in SIZES {
            d.write_all(&buf[..len])?;
        }
    } else {
        if o.shim_writes_first && !wrote_hello {
            d.write_all(b"hello")?;
        }
        if !o.shim_shuts_down {
            let read_size = if o.read_size > 0 {
                o.read_size
            } else if o.dtls {
                16384
            } else {
                512
            };
            loop {
                if o.key_update_before_read {
                    d.key_update()?;
                }
                let mut data = d.read(read_size)?;
                if data.is_empty() {
                    break;
                }
                if o.key_update {
                    d.key_update()?;
                }
                data.iter_mut().for_each(|b| *b ^= 0xff);
                d.write_all(&data)?;
            }
        }
    }

    if o.check_close_notify {
        if !o.shim_shuts_down {
            check(d.peer_closed(), || "the peer closed without close_notify".into())?;
        }
        d.close_notify()?;
        if o.shim_shuts_down {
            while !d.peer_closed() {
                if !d.pump()? {
                    return Err(Fail::Check("EOF before the peer's close_notify".into()));
                }
                // Data after our close_notify is discarded, as SSL_shutdown does.
                d.discard_plaintext();
            }
        }
    }
    Ok(())
}

impl Session for Driver {
    fn props(&self) -> Props {
        let mut p = props!(self.conn);
        p.early_data = self.conn.early_data_status();
        p
    }

    fn seen(&self) -> &Seen {
        &self.seen
    }

    fn handshake(&mut self) -> Result<(), Fail> {
        Driver::handshake(self)
    }

    fn write_all(&mut self, data: &[u8]) -> Result<(), Fail> {
        Driver::write_all(self, data)
    }

    fn read(&mut self, max: usize) -> Result<Vec<u8>, Fail> {
        Driver::read(self, max)
    }

    fn pump(&mut self) -> Result<bool, Fail> {
        Driver::pump(self)
    }

    fn key_update(&mut self) -> Result<(), Fail> {
        Ok(self.conn.request_key_update(false)?)
    }

    fn export(&self, out: &mut [u8], label: &[u8], context: Option<&[u8]>) -> Result<(), Fail> {
        Ok(self.conn.export_keying_material(out, label, context)?)
    }

    fn close_notify(&mut self) -> Result<(), Fail> {
        self.conn.send_close_notify();
        self.flush()
    }

    fn peer_closed(&self) -> bool {
        self.conn.peer_has_closed()
    }

    fn early_write(&mut self, data: &[u8]) -> Result<bool, Fail> {
        match self.conn.early_data() {
            Some(mut early) => {
                let n = early.write(data)?;
                self.early_rest = data[n..].to_vec();
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn discard_plaintext(&mut self) {
        let mut sink = [0u8; 4096];
        while matches!(self.conn.reader().read(&mut sink), Ok(n) if n > 0) {}
    }

    fn in_early_data(&mut self) -> bool {
        self.conn.is_handshaking() && self.conn.early_data().is_some()
    }
}

pub fn run(opts: &[Opts; 3]) -> Result<(), (u32, Fail)> {
    let [initial, resume, retry] = opts;
    let mut client_cfg = None;
    let mut server_cfg = None;
    for i in 0..=initial.resume_count {
        let is_resume = i > 0;
        let o = if is_resume { resume } else { initial };
        let fail = |f| (i + 1, f);
        if o.quic_transport_params.is_some() || o.expect_quic_transport_params.is_some() {
            // BoringSSL refuses QUIC transport parameters outside QUIC; sanstls's TLS and DTLS
            // connections have no such setting at all.
            return Err(fail(Fail::Unimplemented(
                "QUIC transport parameters on a TLS/DTLS connection".into(),
            )));
        }
        // One config for every connection whose settings are the same, so TLS 1.2 sessions
        // (kept per config) carry over to the resumption.
        let same = is_resume && o == initial;
        let conn = if o.server {
            if !same || server_cfg.is_none() {
                server_cfg = Some(config::server(o).map_err(fail)?);
            }
            let cfg = server_cfg
                .clone()
                .ok_or_else(|| fail(Fail::Check("no config".into())))?;
            Connection::server(cfg).map_err(|e| fail(e.into()))?
        } else {
            if !same || client_cfg.is_none() {
                client_cfg = Some(config::client(o).map_err(fail)?);
            }
            let cfg = client_cfg
                .clone()
                .ok_or_else(|| fail(Fail::Check("no config".into())))?;
            let name = o.host_name.as_deref().unwrap_or("shim.bogo.invalid");
            Connection::client(cfg, name).map_err(|e| fail(e.into()))?
        };
        let sock = crate::connect(o).map_err(|e| fail(e.into()))?;
        let mut d = Driver {
            conn,
            sock,
            seen: Seen::default(),
            early_rest: Vec::new(),
        };
        let res = exchange(&mut d, o, retry, is_resume);
        if let Err(e) = res {
            return Err(fail(e));
        }
        if o.resumption_delay > 0 {
            config::clock().advance(o.resumption_delay);
        }
    }
    Ok(())
}
