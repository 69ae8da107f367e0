//! Every handshake message, extension, DTLS header, ACK and alert decoder: decode, encode,
//! decode must agree.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sanstls::fuzzing;

fuzz_target!(|data: &[u8]| {
    fuzzing::message_round_trip(data);
});
