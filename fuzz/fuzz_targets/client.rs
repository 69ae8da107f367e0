//! A whole client connection fed arbitrary server bytes, with deterministic randomness and a
//! fixed clock so every crash reproduces.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sanstls::fuzzing;

fuzz_target!(|data: &[u8]| {
    fuzzing::drive_client(data);
});
