//! A real `redis-server` for the fleet tests and bench: Debian's package, started on a free
//! port of 127.0.0.1 without persistence, killed with the returned handle. Missing
//! redis-server fails the caller (it is installed by .ci/run).

#![allow(dead_code)] // each user (test, bench) takes what it needs

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running redis-server, killed and reaped on drop.
pub struct Redis {
    pub port: u16,
    child: Option<Child>,
}

impl Redis {
    /// Starts one on a free port and waits until it answers PING.
    pub fn start() -> Redis {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Self::start_on(port)
    }

    /// Starts one on `port` (a restart after [`Redis::kill`]).
    pub fn start_on(port: u16) -> Redis {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is needed (Debian's redis-server package; .ci/run installs it)");
        let r = Redis {
            port,
            child: Some(child),
        };
        let t = Instant::now();
        while !r.ping() {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "redis-server never answered"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        r
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn ping(&self) -> bool {
        self.command("PING").is_some_and(|r| r.starts_with("+PONG"))
    }

    /// One inline command; its raw reply (enough for PING, INFO, DBSIZE).
    pub fn command(&self, cmd: &str) -> Option<String> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        s.write_all(format!("{cmd}\r\n").as_bytes()).ok()?;
        let mut buf = vec![0u8; 64 * 1024];
        let mut got = Vec::new();
        // A bulk reply ($len) may come in pieces: read until it is whole.
        loop {
            let n = s.read(&mut buf).ok()?;
            got.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&got).into_owned();
            let whole = match text.strip_prefix('$') {
                Some(rest) => rest
                    .split_once("\r\n")
                    .and_then(|(len, body)| len.parse::<usize>().ok().map(|l| body.len() >= l + 2))
                    .unwrap_or(false),
                None => text.ends_with("\r\n"),
            };
            if n == 0 || whole {
                return Some(text);
            }
        }
    }

    /// A counter from INFO (e.g. `total_commands_processed`).
    pub fn info_counter(&self, name: &str) -> u64 {
        let info = self.command("INFO stats").unwrap_or_default();
        info.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    }

    /// Kills it (SIGKILL: an outage, not a shutdown).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}
