//! `sanstls`: the command-line face of the engine: `connect` (a TLS client on stdin/stdout),
//! `serve` (a TLS server: HTTP page or echo) and `limbo` (the x509-limbo harness).
#![forbid(unsafe_code)]

mod common;
mod connect;
mod dtls;
mod fleet;
mod limbo;
mod netfilter;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "sanstls",
    version,
    about = "A sans-I/O TLS engine: client and server tools"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Connect to HOST:PORT; stdin goes to the server, the server's bytes go to stdout.
    Connect(Box<connect::Args>),
    /// Serve TLS: an HTTP page showing the negotiated parameters (default) or an echo.
    Serve(Box<serve::Args>),
    /// Run an x509-limbo suite: results JSON to stdout, a summary to stderr.
    Limbo { file: PathBuf },
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Connect(args) => connect::run(*args),
        Command::Serve(args) => serve::run(*args),
        Command::Limbo { file } => return limbo::main(&file),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
