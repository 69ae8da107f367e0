//! The BoGo shim: BoringSSL's TLS test runner starts this program once per test, with flags
//! that say what to be (client or server, TLS or DTLS, versions, suites...) and what to
//! check. It connects back to the runner over TCP, sends its shim id, and runs one or more
//! connections (`-resume-count`) through sanstls's public API over that socket.
//!
//! Exit codes: 0 the test passed here, 1 it failed (the reason on stderr, with a token per
//! sanstls `Error` variant that `config.json`'s ErrorMap maps to the runner's names), 89 a
//! flag asks for a feature this shim does not provide.

mod config;
mod dtls;
mod opts;
mod quic;
mod tls;

use std::io::{self, Write};
use std::net::TcpStream;
use std::process::ExitCode;

use sanstls::Error;

use opts::{Command, Opts};

/// Exit code the runner counts as "unimplemented".
const UNIMPLEMENTED: u8 = 89;

/// Why a connection failed.
#[derive(Debug)]
pub enum Fail {
    /// sanstls refused the connection.
    Tls(Error),
    /// The socket failed or closed early.
    Io(io::Error),
    /// A `-expect-*` check or another shim-side condition did not hold.
    Check(String),
    /// The test needs something we do not provide.
    Unimplemented(String),
}

impl From<Error> for Fail {
    fn from(e: Error) -> Self {
        Fail::Tls(e)
    }
}

impl From<io::Error> for Fail {
    fn from(e: io::Error) -> Self {
        // The engine's Reader/Writer wrap its errors in io::Error.
        match e.get_ref().and_then(|inner| inner.downcast_ref::<Error>()) {
            Some(tls) => Fail::Tls(tls.clone()),
            None => Fail::Io(e),
        }
    }
}

/// `cond` or a failed check with `what`.
pub fn check(cond: bool, what: impl FnOnce() -> String) -> Result<(), Fail> {
    if cond {
        Ok(())
    } else {
        Err(Fail::Check(what()))
    }
}

/// A stable token for an error, `:Variant:` or `:Variant.Inner:` (e.g.
/// `:PeerMisbehaved.SuiteNotOffered:`, `:AlertReceived.handshake_failure:`), for ErrorMap.
pub fn error_token(e: &Error) -> String {
    let debug = format!("{e:?}");
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let outer = ident(&debug);
    let inner = debug.get(outer.len() + 1..).map(ident).unwrap_or_default();
    match e {
        Error::AlertReceived(a) | Error::Refused(a) => {
            format!(
                ":{outer}.{}:",
                a.name().map_or_else(|| a.get().to_string(), str::to_string)
            )
        }
        Error::PeerMisbehaved(_) | Error::LimitExceeded(_) | Error::InvalidCertificate(_) => {
            format!(":{outer}.{inner}:")
        }
        _ => format!(":{outer}:"),
    }
}

/// With `SANSTLS_BOGO_UNIMPLEMENTED_LOG` set, appends why a test was unimplemented to that file
/// (which flags to implement next).
fn log_unimplemented(what: &str) {
    if let Some(path) = std::env::var_os("SANSTLS_BOGO_UNIMPLEMENTED_LOG") {
        if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
            let _ = writeln!(f, "{what}");
        }
    }
}

fn report(conn: u32, fail: &Fail) {
    let mut err = io::stderr().lock();
    let _ = match fail {
        Fail::Tls(e) => writeln!(
            err,
            "connection {conn}: {}\n{} alert={:?}",
            e,
            error_token(e),
            e.alert().and_then(|a| a.name())
        ),
        Fail::Io(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
            writeln!(err, "connection {conn}: peer closed the socket\n:Eof:")
        }
        Fail::Io(e) => writeln!(err, "connection {conn}: socket error: {e}\n:Io:"),
        Fail::Check(what) => writeln!(err, "connection {conn}: check failed: {what}\n:ShimCheck:"),
        Fail::Unimplemented(what) => writeln!(err, "unimplemented: {what}"),
    };
}

/// Half-closes the socket and reads until the runner closes its side (as BoringSSL's shim
/// does on close): closing with unread data would reset the connection, and the runner could
/// miss our last alert or see a broken pipe instead.
pub fn drain(sock: &mut TcpStream) {
    use std::io::Read;
    let _ = sock.shutdown(std::net::Shutdown::Write);
    let _ = sock.set_read_timeout(Some(std::time::Duration::from_secs(10)));
    let mut buf = [0u8; 4096];
    while matches!(sock.read(&mut buf), Ok(n) if n > 0) {}
}

/// Connects back to the runner and sends our shim id (PORTING.md).
pub fn connect(o: &Opts) -> io::Result<TcpStream> {
    let addr = if o.ipv6 {
        format!("[::1]:{}", o.port)
    } else {
        format!("127.0.0.1:{}", o.port)
    };
    let mut sock = TcpStream::connect(addr)?;
    sock.set_nodelay(true)?;
    sock.write_all(&o.shim_id.to_le_bytes())?;
    Ok(sock)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opts = match opts::parse(&args) {
        Ok(Command::HandshakerSupported) => {
            println!("No");
            return ExitCode::SUCCESS;
        }
        Ok(Command::Run(o)) => o,
        Err(opts::Unimplemented(flag)) => {
            log_unimplemented(&opts::unknown_flags(&args).join(" "));
            eprintln!("unimplemented flag: {flag}");
            return ExitCode::from(UNIMPLEMENTED);
        }
    };
    let result = if opts[0].quic {
        quic::run(&opts)
    } else if opts[0].dtls {
        dtls::run(&opts)
    } else {
        tls::run(&opts)
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err((n, fail)) => {
            report(n, &fail);
            if let Fail::Unimplemented(what) = &fail {
                log_unimplemented(what);
                ExitCode::from(UNIMPLEMENTED)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sanstls::codec::AlertDescription;
    use sanstls::{Limit, PeerMisbehaved};

    #[test]
    fn one_token_per_error_variant() {
        assert_eq!(error_token(&Error::BadFinished), ":BadFinished:");
        assert_eq!(
            error_token(&Error::HandshakeFailure(sanstls::Failure::NoCommonSuite)),
            ":HandshakeFailure:"
        );
        assert_eq!(
            error_token(&Error::PeerMisbehaved(PeerMisbehaved::IllegalParameter(
                sanstls::Parameter::Cookie
            ))),
            ":PeerMisbehaved.IllegalParameter:"
        );
        assert_eq!(
            error_token(&Error::AlertReceived(AlertDescription::HandshakeFailure)),
            ":AlertReceived.handshake_failure:"
        );
        assert_eq!(
            error_token(&Error::AlertReceived(AlertDescription::from(30))),
            ":AlertReceived.30:"
        );
        assert_eq!(
            error_token(&Error::LimitExceeded(Limit::KeyUpdates)),
            ":LimitExceeded.KeyUpdates:"
        );
    }
}
