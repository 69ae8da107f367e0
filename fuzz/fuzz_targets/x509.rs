//! The pki module on arbitrary chains against the test CA (plus an optional arbitrary
//! anchor or CRL), and the raw certificate parsers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sanstls::fuzzing;

fuzz_target!(|data: &[u8]| {
    fuzzing::verify_arbitrary_chain(data);
});
