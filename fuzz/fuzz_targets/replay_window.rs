//! The DTLS replay window against a model that remembers every sequence number marked.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sanstls::fuzzing;

fuzz_target!(|data: &[u8]| {
    fuzzing::replay_window_against_model(data);
});
