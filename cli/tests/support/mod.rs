//! Helpers every CLI test binary shares: peer detection and child processes that die with
//! the test.
#![allow(dead_code)]

use std::process::{Child, Command, Stdio};

/// True when `cmd` runs (as `cmd version` or `cmd --version`). Under `CI=true` a missing peer
/// fails the test instead of skipping it.
pub fn have(cmd: &str) -> bool {
    let runs = |arg: &str| {
        Command::new(cmd)
            .arg(arg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    };
    let ok = runs("version") || runs("--version");
    assert!(
        ok || std::env::var_os("CI").is_none(),
        "{cmd} is missing under CI"
    );
    ok
}

/// A child process killed and reaped when dropped, so a failing test leaves no server behind.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
