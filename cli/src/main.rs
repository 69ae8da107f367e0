use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod limbo;

#[derive(Parser)]
#[command(name = "sanstls", about = "sanstls command-line tool")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run an x509-limbo suite: results JSON to stdout, a summary to stderr.
    Limbo { file: PathBuf },
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Limbo { file } => limbo::main(&file),
    }
}
