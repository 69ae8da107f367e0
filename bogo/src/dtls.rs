//! DTLS over the runner's TCP socket, framed as BoringSSL's packeted BIO does
//! (packeted_bio.cc): each datagram is `'P'` + u32 length + bytes, both ways; the runner also
//! sends `'T'` + u64 nanoseconds to move our clock (we answer `'t'` and run the timers),
//! `'E'` + u64 to check the next timeout, `'M'` (new MTU) and `'U'` (new initial timeout).
//! The clock is virtual: it starts at the real `Instant` and moves only when told to.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use sanstls::dtls::{DtlsConfig, DtlsConnection};
use sanstls::Event;

use crate::opts::Opts;
use crate::tls::{exchange, props, Props, Seen, Session};
use crate::{check, config, Fail};

struct Driver {
    conn: DtlsConnection,
    sock: TcpStream,
    now: Instant,
    mtu: usize,
    seen: Seen,
    /// Plaintext of received records, read out one record at a time (BoringSSL's SSL_read
    /// returns at most one record in DTLS; the runner's SplitAndPackAppData tests read the
    /// echo of two records as two reads).
    pending: VecDeque<u8>,
    /// The unread bytes of each received record in `pending` and still in the connection,
    /// oldest first (from `Event::Data`).
    record_lens: VecDeque<usize>,
    /// The runner closed the socket: it has finished the test (what it saw decides it), so
    /// a datagram we still had to send goes nowhere and is not our failure.
    runner_gone: bool,
    /// Whether the MTU is still the default one (no -mtu, no 'M' opcode): application data
    /// may then go out one record per write (see `write_all`).
    default_mtu: bool,
}

/// The datagram size for application data when the runner set no MTU: a full 16 KiB record
/// and its overhead.
const APP_DATA_MTU: usize = 16_384 + 256;

fn read_exact_or_eof(sock: &mut TcpStream, buf: &mut [u8]) -> Result<bool, Fail> {
    match sock.read_exact(buf) {
        Ok(()) => Ok(true),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset
            ) =>
        {
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        crate::drain(&mut self.sock);
    }
}

impl Driver {
    fn flush(&mut self) -> Result<(), Fail> {
        let mut buf = vec![0u8; self.mtu.max(65_535)];
        while let Some(n) = self.conn.poll_datagram(&mut buf) {
            let mut framed = Vec::with_capacity(n + 5);
            framed.push(b'P');
            framed.extend_from_slice(&(n as u32).to_be_bytes());
            framed.extend_from_slice(&buf[..n]);
            if self.runner_gone {
                continue;
            }
            match self.sock.write_all(&framed) {
                Ok(()) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
                    ) =>
                {
                    self.runner_gone = true;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    fn events(&mut self) {
        while let Some(ev) = self.conn.next_event() {
            match ev {
                Event::SessionTicket => self.seen.tickets += 1,
                Event::Data { len } if len > 0 => self.record_lens.push_back(len),
                _ => {}
            }
        }
    }

    fn after(&mut self, res: Result<(), sanstls::Error>) -> Result<(), Fail> {
        self.events();
        if let Err(e) = res {
            let _ = self.flush();
            return Err(Fail::Tls(e));
        }
        self.flush()
    }

    fn pump(&mut self) -> Result<bool, Fail> {
        if self.runner_gone {
            return Ok(false);
        }
        let mut op = [0u8; 1];
        if !read_exact_or_eof(&mut self.sock, &mut op)? {
            return Ok(false);
        }
        match op[0] {
            b'P' => {
                let mut len = [0u8; 4];
                if !read_exact_or_eof(&mut self.sock, &mut len)? {
                    return Ok(false);
                }
                let mut pkt = vec![0u8; u32::from_be_bytes(len) as usize];
                if !read_exact_or_eof(&mut self.sock, &mut pkt)? {
                    return Ok(false);
                }
                let res = self.conn.recv_datagram(&pkt, self.now);
                self.after(res)?;
            }
            b'T' => {
                let mut ns = [0u8; 8];
                if !read_exact_or_eof(&mut self.sock, &mut ns)? {
                    return Ok(false);
                }
                self.sock.write_all(b"t")?;
                self.now += Duration::from_nanos(u64::from_be_bytes(ns));
                let res = self.conn.handle_timeout(self.now);
                self.after(res)?;
            }
            b'E' => {
                let mut ns = [0u8; 8];
                if !read_exact_or_eof(&mut self.sock, &mut ns)? {
                    return Ok(false);
                }
                let want = u64::from_be_bytes(ns);
                let got = self
                    .conn
                    .poll_timeout()
                    .map(|t| t.saturating_duration_since(self.now));
                let want_d = (want != u64::MAX).then(|| Duration::from_micros(want / 1000));
                check(got == want_d, || {
                    format!("next timeout {got:?}, expected {want_d:?}")
                })?;
            }
            b'M' => {
                let mut mtu = [0u8; 4];
                if !read_exact_or_eof(&mut self.sock, &mut mtu)? {
                    return Ok(false);
                }
                let mtu = u32::from_be_bytes(mtu) as usize;
                self.conn.set_mtu(mtu).map_err(Fail::Tls)?;
                self.mtu = mtu;
                self.default_mtu = false;
            }
            b'U' => {
                return Err(Fail::Unimplemented(
                    "changing the initial timeout of a live DtlsConnection".into(),
                ))
            }
            other => return Err(Fail::Check(format!("unknown packeted-BIO opcode {other:#x}"))),
        }
        Ok(true)
    }
}

impl Session for Driver {
    fn props(&self) -> Props {
        Props {
            dtls: true,
            ..props!(self.conn)
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

    fn write_all(&mut self, mut data: &[u8]) -> Result<(), Fail> {
        // The packeted transport has no path MTU. BoringSSL bounds only its handshake flights
        // by its default MTU and writes application data one record per write (up to 16 KiB),
        // which the runner's echo checks expect; sanstls cuts records at the MTU (RFC 9147
        // 4.4), so once the handshake is done the shim raises it, as an application that knows
        // its path takes large datagrams would (DtlsConnection::set_mtu).
        if self.default_mtu && !self.conn.is_handshaking() {
            self.conn.set_mtu(APP_DATA_MTU).map_err(Fail::Tls)?;
            self.mtu = APP_DATA_MTU;
            self.default_mtu = false;
        }
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

    fn read(&mut self, max: usize) -> Result<Vec<u8>, Fail> {
        loop {
            self.events();
            if !self.pending.is_empty() {
                let record = self.record_lens.front().copied().unwrap_or(self.pending.len());
                let n = max.min(record).min(self.pending.len());
                if let Some(left) = self.record_lens.front_mut() {
                    *left -= n;
                    if *left == 0 {
                        self.record_lens.pop_front();
                    }
                }
                return Ok(self.pending.drain(..n).collect());
            }
            let mut buf = vec![0u8; 1 << 16];
            match self.conn.reader().read(&mut buf) {
                Ok(0) => return Ok(Vec::new()),
                Ok(n) => self.pending.extend(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.flush()?;
                    if !self.pump()? {
                        return Ok(Vec::new());
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn pump(&mut self) -> Result<bool, Fail> {
        Driver::pump(self)
    }

    fn key_update(&mut self) -> Result<(), Fail> {
        match self.conn.request_key_update(false) {
            // BoringSSL's SSL_key_update with one still unacknowledged sends no second one
            // (the runner's KeyUpdate-WaitForACK counts on it); ours says so, and the shim
            // does as BoringSSL's caller sees.
            Err(sanstls::Error::Misuse(sanstls::Misuse::KeyUpdatePending)) => {}
            res => res?,
        }
        self.flush()
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

    fn early_write(&mut self, _: &[u8]) -> Result<bool, Fail> {
        Ok(false)
    }

    fn discard_plaintext(&mut self) {
        self.pending.clear();
        self.record_lens.clear();
        let mut sink = [0u8; 4096];
        while matches!(self.conn.reader().read(&mut sink), Ok(n) if n > 0) {}
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
        if o.enable_early_data {
            return Err(fail(Fail::Unimplemented("DTLS 1.3 0-RTT".into())));
        }
        let mut dtls = DtlsConfig::default();
        if let Some(mtu) = o.mtu {
            dtls.mtu = mtu;
        }
        // BoringSSL's first retransmission timeout is 400 ms (RFC 9147 5.8.2 allows less
        // than RFC 6347's 1 s, sanstls's default); the runner's schedules assume it.
        dtls.timer.initial = Duration::from_millis(o.initial_timeout_ms.unwrap_or(400));
        // BoringSSL gives up at the 13th timeout of a flight, sanstls after a give-up time
        // per flight: the total of BoringSSL's 13 timeouts (doubling, capped at 60 s) gives
        // up at the same moment.
        let mut step = dtls.timer.initial;
        dtls.timer.total = Duration::ZERO;
        for _ in 0..13 {
            dtls.timer.total += step;
            step = (step * 2).min(dtls.timer.max);
        }
        let now = Instant::now();
        let same = is_resume && o == initial;
        let conn = if o.server {
            if !same || server_cfg.is_none() {
                server_cfg = Some(config::server(o).map_err(fail)?);
            }
            let cfg = server_cfg
                .clone()
                .ok_or_else(|| fail(Fail::Check("no config".into())))?;
            DtlsConnection::server(cfg, dtls.clone()).map_err(|e| fail(e.into()))?
        } else {
            if !same || client_cfg.is_none() {
                client_cfg = Some(config::client(o).map_err(fail)?);
            }
            let cfg = client_cfg
                .clone()
                .ok_or_else(|| fail(Fail::Check("no config".into())))?;
            let name = o.host_name.as_deref().unwrap_or("shim.bogo.invalid");
            DtlsConnection::client(cfg, name, dtls.clone(), now).map_err(|e| fail(e.into()))?
        };
        let sock = crate::connect(o).map_err(|e| fail(e.into()))?;
        let mut d = Driver {
            conn,
            sock,
            now,
            mtu: dtls.mtu,
            seen: Seen::default(),
            pending: VecDeque::new(),
            record_lens: VecDeque::new(),
            runner_gone: false,
            default_mtu: o.mtu.is_none(),
        };
        exchange(&mut d, o, retry, is_resume).map_err(fail)?;
        if o.resumption_delay > 0 {
            config::clock().advance(o.resumption_delay);
        }
    }
    Ok(())
}
