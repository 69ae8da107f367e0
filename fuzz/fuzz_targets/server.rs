//! A whole server connection fed arbitrary client bytes, deterministic randomness.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sanstls::fuzzing;

fuzz_target!(|data: &[u8]| {
    fuzzing::drive_server(data);
});
