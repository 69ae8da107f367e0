//! Every ```sh block of README.md, as written, from the repository root: a new user's first
//! commands must work. `cargo run ... -p sanstls-cli --` is this package's binary; servers
//! (`serve`) start in the background and are probed until they listen, then each other line
//! runs through `sh` with a deadline and must succeed (a `# handshake: ...` comment under a
//! command is checked against its stderr); the servers stop at the end of their block. The
//! cargo commands CI runs (fmt, clippy, test, doc) and its BoGo run are not run here (this is
//! one of them; BoGo takes minutes): each must be a line of `.ci/run`, and `cargo test --test
//! NAME` must name a test target.

mod support;
use support::Killed;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(60);
const CLI: [&str; 2] = [
    "cargo run --release -p sanstls-cli --",
    "cargo run -p sanstls-cli --",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// One command line of a block (continuations joined, trailing comment dropped) and the
/// `# ...` comment lines right under it.
struct Line {
    cmd: String,
    expect: Vec<String>,
}

fn sh_blocks(readme: &str) -> Vec<Vec<Line>> {
    let mut blocks = Vec::new();
    let mut lines = readme.lines();
    while let Some(l) = lines.next() {
        if l.trim() != "```sh" {
            continue;
        }
        let mut block: Vec<Line> = Vec::new();
        let mut pending = String::new();
        for l in lines.by_ref() {
            if l.trim() == "```" {
                break;
            }
            if let Some(c) = l.trim().strip_prefix("# ") {
                if let Some(last) = block.last_mut() {
                    last.expect.push(c.to_string());
                }
                continue;
            }
            if let Some(head) = l.strip_suffix('\\') {
                pending.push_str(head);
                continue;
            }
            pending.push_str(l);
            let cmd = match pending.find(" # ") {
                Some(i) => pending[..i].trim().to_string(),
                None => pending.trim().to_string(),
            };
            pending.clear();
            if !cmd.is_empty() {
                block.push(Line {
                    cmd,
                    expect: Vec::new(),
                });
            }
        }
        blocks.push(block);
    }
    blocks
}

/// The line with README's `cargo run -p sanstls-cli --` replaced by the built binary.
fn with_binary(cmd: &str) -> Option<String> {
    CLI.iter()
        .find(|p| cmd.contains(*p))
        .map(|p| cmd.replace(p, &format!("'{}'", env!("CARGO_BIN_EXE_sanstls"))))
}

fn sh(cmd: &str, dir: &Path) -> Command {
    let mut c = Command::new("sh");
    c.arg("-c").arg(cmd).current_dir(dir);
    c
}

/// Starts a `serve` line and waits for its "listening on" log line.
fn start_server(cmd: &str, dir: &Path) -> Killed {
    let mut child = Killed(
        sh(&format!("exec {cmd}"), dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stderr = child.0.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut log = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            log.push_str(&line);
            log.push('\n');
            if line.contains("listening on") {
                let _ = tx.send(Ok(()));
            }
        }
        let _ = tx.send(Err(log));
    });
    match rx.recv_timeout(DEADLINE) {
        Ok(Ok(())) => child,
        Ok(Err(log)) => panic!("`{cmd}` exited before listening:\n{log}"),
        Err(_) => panic!("`{cmd}` did not listen within {DEADLINE:?}"),
    }
}

fn run_line(line: &Line, dir: &Path) {
    let cmd = with_binary(&line.cmd).unwrap_or_else(|| line.cmd.clone());
    let mut child = sh(&cmd, dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if t.elapsed() > DEADLINE {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "`{}` failed:\n{stderr}", line.cmd);
    if cmd.contains(" connect ") {
        assert!(stderr.contains("handshake: "), "`{}`:\n{stderr}", line.cmd);
    }
    for e in &line.expect {
        for part in e.split(" ... ") {
            assert!(
                stderr.contains(part),
                "`{}`: expected `{part}` in\n{stderr}",
                line.cmd
            );
        }
    }
}

/// A cargo command CI runs: each `&&` part is a line of `.ci/run` (or, for `cargo test
/// --test NAME`, NAME is a test target).
fn check_cargo(cmd: &str) {
    let ci = std::fs::read_to_string(root().join(".ci/run")).unwrap();
    for part in cmd.split("&&").map(str::trim) {
        if let Some(name) = part.strip_prefix("cargo test --test ") {
            let name = name.split_whitespace().next().unwrap();
            assert!(
                root().join(format!("tests/{name}.rs")).is_file(),
                "no test target {name}"
            );
            continue;
        }
        assert!(
            ci.lines().any(|l| l.trim() == part),
            "README's `{part}` is not run by .ci/run"
        );
    }
}

/// A BoGo run: the script is there and executable, and CI runs the whole suite.
fn check_bogo(cmd: &str) {
    use std::os::unix::fs::PermissionsExt;
    let script = root().join("bogo/run.sh");
    let mode = std::fs::metadata(&script).unwrap().permissions().mode();
    assert!(mode & 0o111 != 0, "`{cmd}`: bogo/run.sh is not executable");
    check_cargo("bogo/run.sh");
}

#[test]
fn readme_shell_blocks_run_as_written() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let blocks = sh_blocks(&readme);
    assert!(blocks.len() >= 4, "README's sh blocks: {}", blocks.len());
    // The repository root, seen through a scratch directory so that files the commands write
    // (`> results.json`) stay out of the work tree.
    struct Scratch(PathBuf);
    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let scratch = Scratch(std::env::temp_dir().join(format!("sanstls-readme-{}", std::process::id())));
    let dir = &scratch.0;
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    std::os::unix::fs::symlink(root().join("vectors"), dir.join("vectors")).unwrap();
    for block in &blocks {
        let mut servers = Vec::new();
        for line in block {
            for bad in ["[--", "FILE", "sanstls "] {
                let bare = line.cmd.replace("sanstls-cli", "");
                assert!(
                    !bare.contains(bad),
                    "README line is not a command: `{}`",
                    line.cmd
                );
            }
            eprintln!("README: {}", line.cmd);
            match with_binary(&line.cmd) {
                Some(cmd) if cmd.contains(" serve") => servers.push(start_server(&cmd, dir)),
                Some(_) => run_line(line, dir),
                None if line.cmd.starts_with("cargo ") => check_cargo(&line.cmd),
                None if line.cmd.starts_with("bogo/run.sh") => check_bogo(&line.cmd),
                None => run_line(line, dir),
            }
        }
        drop(servers);
    }
}
