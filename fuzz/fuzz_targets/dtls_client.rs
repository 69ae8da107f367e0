//! A DTLS 1.2 client fed arbitrary datagrams interleaved with timeouts, polls and writes
//! (`sanstls::fuzzing::DtlsStep`), deterministic randomness and clock.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sanstls::fuzzing;

fuzz_target!(|data: &[u8]| {
    fuzzing::drive_dtls_client(data);
});
