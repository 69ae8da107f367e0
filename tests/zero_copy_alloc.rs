//! Steady state on the zero-copy path allocates nothing: counted with a global allocator in
//! this test binary (allocation counts are deterministic; no timing is asserted).

mod common;

#[path = "../benches/support/counting_alloc.rs"]
mod counting_alloc;

#[global_allocator]
static ALLOC: counting_alloc::Counting = counting_alloc::Counting;

use common::*;

#[test]
fn zero_copy_records_allocate_nothing_in_steady_state() {
    let (mut c, mut s) = pair(
        client_builder().build().unwrap(),
        server_builder("ecdsa-p256").build().unwrap(),
    );
    handshake(&mut c, &mut s).unwrap();
    transfer(&mut s, &mut c).unwrap();
    let data = vec![0x5a_u8; 64 * 1024];
    let mut wire = vec![0u8; c.encrypted_len(data.len())];
    let mut round = |c: &mut sanstls::Connection, s: &mut sanstls::Connection| {
        let sealed = c.encrypt_into(&data, &mut wire).unwrap();
        assert_eq!(sealed.consumed, data.len());
        let mut at = 0;
        let mut got = 0;
        while at < sealed.written {
            let res = s.read_in_place(&mut wire[at..sealed.written]).unwrap();
            got += res.data(&wire[at..]).len();
            at += res.consumed;
        }
        assert_eq!(got, data.len());
    };
    // Warm up (both directions), then count 4 rounds of 4 records each.
    round(&mut c, &mut s);
    round(&mut s, &mut c);
    let before = counting_alloc::allocations();
    for _ in 0..4 {
        round(&mut c, &mut s);
        round(&mut s, &mut c);
    }
    let allocs = counting_alloc::allocations() - before;
    assert_eq!(allocs, 0, "allocations over 32 zero-copy records");
}
