//! QUIC over the runner's mock QUIC transport (mock_quic_transport.cc). Not yet driven.

use crate::opts::Opts;
use crate::Fail;

pub fn run(_opts: &[Opts; 3]) -> Result<(), (u32, Fail)> {
    Err((1, Fail::Unimplemented("QUIC shim".into())))
}
