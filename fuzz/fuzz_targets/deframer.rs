//! Record deframing and handshake decoding on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sanstls::fuzzing;

fuzz_target!(|data: &[u8]| {
    fuzzing::decode_records(data);
});
