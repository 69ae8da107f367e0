//! QUIC over the runner's mock QUIC transport (mock_quic_transport.cc): instead of packets,
//! records of `type u8, level u8, cipher suite u16, length u32`, then the traffic secret of
//! that level and direction (which the peer checks: it stands in for packet protection), then
//! the handshake bytes (type 22), application data (23) or an alert (21). Levels: 0 initial
//! (no secret, suite 0), 1 early data, 2 handshake, 3 application.

use std::io::{self, Read, Write};
use std::net::TcpStream;

use sanstls::quic::{KeyChange, Level, QuicConnection, Secrets};
use sanstls::{Event, Side};

use crate::opts::Opts;
use crate::tls::{exchange, Props, Seen, Session};
use crate::{check, config, Fail};

const HANDSHAKE: u8 = 22;
const APPLICATION_DATA: u8 = 23;
const ALERT: u8 = 21;

fn level_id(level: Level) -> u8 {
    match level {
        Level::Initial => 0,
        Level::ZeroRtt => 1,
        Level::Handshake => 2,
        Level::OneRtt => 3,
    }
}

fn level_of(id: u8) -> Option<Level> {
    Some(match id {
        0 => Level::Initial,
        1 => Level::ZeroRtt,
        2 => Level::Handshake,
        3 => Level::OneRtt,
        _ => return None,
    })
}

/// The suite and secret of one level in one direction (none yet: suite 0, empty secret).
#[derive(Clone, Default)]
struct LevelSecret {
    suite: u16,
    secret: Vec<u8>,
}

struct Driver {
    conn: QuicConnection,
    sock: TcpStream,
    side: Side,
    read: [LevelSecret; 4],
    write: [LevelSecret; 4],
    seen: Seen,
    pending: Vec<u8>,
    eof: bool,
}

impl Drop for Driver {
    fn drop(&mut self) {
        crate::drain(&mut self.sock);
    }
}

impl Driver {
    fn write_record(&mut self, level: Level, typ: u8, data: &[u8]) -> Result<(), Fail> {
        let w = &self.write[usize::from(level_id(level))];
        let mut rec = Vec::with_capacity(8 + w.secret.len() + data.len());
        rec.push(typ);
        rec.push(level_id(level));
        rec.extend_from_slice(&w.suite.to_be_bytes());
        rec.extend_from_slice(&((w.secret.len() + data.len()) as u32).to_be_bytes());
        rec.extend_from_slice(&w.secret);
        rec.extend_from_slice(data);
        self.sock.write_all(&rec)?;
        Ok(())
    }

    fn install(&mut self, level: Level, secrets: &Secrets) {
        let suite = secrets.suite().suite.get();
        let (local, remote) = match self.side {
            Side::Client => (secrets.client(), secrets.server()),
            Side::Server => (secrets.server(), secrets.client()),
        };
        let i = usize::from(level_id(level));
        self.write[i] = LevelSecret {
            suite,
            secret: local.as_bytes().to_vec(),
        };
        self.read[i] = LevelSecret {
            suite,
            secret: remote.as_bytes().to_vec(),
        };
    }

    fn flush(&mut self) -> Result<(), Fail> {
        loop {
            let level = self.conn.write_level();
            let mut bytes = Vec::new();
            let change = self.conn.write_handshake(&mut bytes);
            if !bytes.is_empty() {
                self.write_record(level, HANDSHAKE, &bytes)?;
            }
            match change {
                Some(KeyChange::Handshake { secrets }) => self.install(Level::Handshake, &secrets),
                Some(KeyChange::OneRtt { secrets }) => self.install(Level::OneRtt, &secrets),
                None => return Ok(()),
            }
        }
    }

    fn events(&mut self) {
        while let Some(ev) = self.conn.next_event() {
            match ev {
                Event::SessionTicket => self.seen.tickets += 1,
                Event::EarlyDataRejected => self.seen.early_rejected = true,
                _ => {}
            }
        }
    }

    /// One record from the runner; false at EOF.
    fn pump(&mut self) -> Result<bool, Fail> {
        let mut header = [0u8; 8];
        match self.sock.read_exact(&mut header) {
            Ok(()) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset
                ) =>
            {
                self.eof = true;
                return Ok(false);
            }
            Err(e) => return Err(e.into()),
        }
        let typ = header[0];
        let level = level_of(header[1]).ok_or_else(|| Fail::Check(format!("bad level {}", header[1])))?;
        let suite = u16::from_be_bytes([header[2], header[3]]);
        let len = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
        let mut body = vec![0u8; len];
        self.sock.read_exact(&mut body)?;
        let want = &self.read[usize::from(level_id(level))];
        if level != Level::Initial && want.suite == 0 {
            if level == Level::ZeroRtt {
                // 0-RTT we have no keys for: refused, skipped (as the mock transport does).
                return Ok(true);
            }
            return Err(Fail::Check(format!("record at {level:?} before its keys")));
        }
        check(suite == want.suite, || {
            format!("suite {suite:04x} at {level:?}, wanted {:04x}", want.suite)
        })?;
        let secret_len = want.secret.len();
        check(
            body.len() >= secret_len && body[..secret_len] == want.secret[..],
            || format!("wrong secret at {level:?}"),
        )?;
        let data = &body[secret_len..];
        match typ {
            HANDSHAKE => {
                let res = self.conn.read_handshake(level, data);
                self.events();
                if let Err(e) = res {
                    self.send_alert();
                    return Err(Fail::Tls(e));
                }
                self.flush()?;
            }
            APPLICATION_DATA => self.pending.extend_from_slice(data),
            ALERT => {
                let alert = data.get(1).copied().unwrap_or(0);
                return Err(Fail::Tls(sanstls::Error::AlertReceived(alert.into())));
            }
            other => return Err(Fail::Check(format!("record type {other}"))),
        }
        Ok(true)
    }

    /// The alert of our error, as BoringSSL's QUIC code sends it (at the current write level).
    fn send_alert(&mut self) {
        if let Some(alert) = self.conn.alert() {
            let level = self.conn.write_level();
            let _ = self.write_record(level, ALERT, &[2, alert.get()]);
        }
    }
}

impl Session for Driver {
    fn props(&self) -> Props {
        let c = &self.conn;
        Props {
            version: 0x0304,
            resumed: c.is_resumed(),
            server_name: c.server_name().map(str::to_string),
            alpn: c.alpn_protocol().map(<[u8]>::to_vec),
            ems: None,
            sig_scheme: None,
            client_sig_scheme: None,
            group: None,
            suite: c.cipher_suite().map_or(0, |s| s.get()),
            early_data: c.early_data_status(),
            peer_certs: c.peer_certificates().iter().map(|c| c.to_vec()).collect(),
            hrr: c.had_hello_retry(),
            sent_leaf: None,
            early_reason: c.early_data_reason(),
            dtls: false,
        }
    }

    fn seen(&self) -> &Seen {
        &self.seen
    }

    fn handshake(&mut self) -> Result<(), Fail> {
        loop {
            self.flush()?;
            if !self.conn.is_handshaking() {
                return Ok(());
            }
            if !self.pump()? {
                return Err(Fail::Io(io::ErrorKind::UnexpectedEof.into()));
            }
        }
    }

    fn write_all(&mut self, data: &[u8]) -> Result<(), Fail> {
        self.write_record(Level::OneRtt, APPLICATION_DATA, data)
    }

    fn read(&mut self, max: usize) -> Result<Vec<u8>, Fail> {
        while self.pending.is_empty() {
            if !self.pump()? {
                return Ok(Vec::new());
            }
        }
        let n = max.min(self.pending.len());
        Ok(self.pending.drain(..n).collect())
    }

    fn pump(&mut self) -> Result<bool, Fail> {
        Driver::pump(self)
    }

    fn key_update(&mut self) -> Result<(), Fail> {
        Err(Fail::Unimplemented(
            "KeyUpdate over QUIC (RFC 9001 6: none)".into(),
        ))
    }

    fn export(&self, out: &mut [u8], label: &[u8], context: Option<&[u8]>) -> Result<(), Fail> {
        Ok(self.conn.export_keying_material(out, label, context)?)
    }

    fn close_notify(&mut self) -> Result<(), Fail> {
        // QUIC has no close_notify (RFC 9001 4.8); closing is the transport's.
        Ok(())
    }

    fn peer_closed(&self) -> bool {
        self.eof
    }

    fn early_write(&mut self, _: &[u8]) -> Result<bool, Fail> {
        Ok(false)
    }

    fn discard_plaintext(&mut self) {
        self.pending.clear();
    }
}

fn unsupported(o: &Opts) -> Option<&'static str> {
    if o.enable_early_data {
        return Some("QUIC 0-RTT in the shim (the early secret's suite is not exposed)");
    }
    if o.expect_peer_signature_algorithm.is_some() || o.expect_curve_id.is_some() {
        return Some("QuicConnection does not expose the signature scheme or group");
    }
    if o.expect_selected_credential.is_some() {
        return Some("QuicConnection does not expose the certificate it sent");
    }
    if o.key_update || o.key_update_before_read {
        return Some("KeyUpdate over QUIC");
    }
    if o.quic_legacy_codepoint {
        return Some("the pre-RFC quic_transport_parameters codepoint");
    }
    None
}

pub fn run(opts: &[Opts; 3]) -> Result<(), (u32, Fail)> {
    let [initial, resume, retry] = opts;
    let mut client_cfg = None;
    let mut server_cfg = None;
    for i in 0..=initial.resume_count {
        let is_resume = i > 0;
        let o = if is_resume { resume } else { initial };
        let fail = |f| (i + 1, f);
        if let Some(why) = unsupported(o) {
            return Err(fail(Fail::Unimplemented(why.into())));
        }
        let tp = o.quic_transport_params.clone().unwrap_or_default();
        let same = is_resume && o == initial;
        let conn = if o.server {
            if !same || server_cfg.is_none() {
                server_cfg = Some(config::server(o).map_err(fail)?);
            }
            let cfg = server_cfg
                .clone()
                .ok_or_else(|| fail(Fail::Check("no config".into())))?;
            QuicConnection::server(cfg, tp).map_err(|e| fail(e.into()))?
        } else {
            if !same || client_cfg.is_none() {
                client_cfg = Some(config::client(o).map_err(fail)?);
            }
            let cfg = client_cfg
                .clone()
                .ok_or_else(|| fail(Fail::Check("no config".into())))?;
            let name = o.host_name.as_deref().unwrap_or("shim.bogo.invalid");
            QuicConnection::client(cfg, name, tp).map_err(|e| fail(e.into()))?
        };
        let sock = crate::connect(o).map_err(|e| fail(e.into()))?;
        let mut d = Driver {
            side: if o.server { Side::Server } else { Side::Client },
            conn,
            sock,
            read: Default::default(),
            write: Default::default(),
            seen: Seen::default(),
            pending: Vec::new(),
            eof: false,
        };
        let res = exchange(&mut d, o, retry, is_resume).and_then(|()| {
            if let Some(want) = &o.expect_quic_transport_params {
                check(d.conn.transport_parameters() == Some(want.as_slice()), || {
                    "QUIC transport parameters mismatch".into()
                })?;
            }
            Ok(())
        });
        res.map_err(fail)?;
        if o.resumption_delay > 0 {
            config::clock().advance(o.resumption_delay);
        }
    }
    Ok(())
}
