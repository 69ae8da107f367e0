//! A DTLS 1.2 server, behind the cookie-checking `DtlsAcceptor` unless the flags byte
//! bypasses it, fed arbitrary datagrams interleaved with timeouts, polls and writes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sanstls::fuzzing;

fuzz_target!(|data: &[u8]| {
    fuzzing::drive_dtls_server(data);
});
