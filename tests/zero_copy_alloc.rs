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

/// `release_buffers` on an idle connection: the heap both connections hold, measured with the
/// counting allocator before and after (as the compare bench does: what dropping the pair
/// finally gives back is what it held).
#[test]
fn release_buffers_returns_an_idle_connections_heap() {
    let client = client_builder().build().unwrap();
    let server = server_builder("ecdsa-p256").build().unwrap();
    let (mut c, mut s) = pair(client, server);
    handshake(&mut c, &mut s).unwrap();
    transfer(&mut s, &mut c).unwrap();
    // Bulk traffic both ways grows every buffer (records in and out, plaintext, queue).
    for _ in 0..4 {
        assert_eq!(send(&mut c, &mut s, &[1u8; 60_000]).len(), 60_000);
        assert_eq!(send(&mut s, &mut c, &[2u8; 60_000]).len(), 60_000);
    }
    let busy = counting_alloc::live_bytes();
    c.release_buffers();
    s.release_buffers();
    let released = counting_alloc::live_bytes();
    // Nothing is lost: the buffers grow again on demand, and go again.
    assert_eq!(send(&mut c, &mut s, b"still here"), b"still here");
    assert_eq!(send(&mut s, &mut c, b"and here"), b"and here");
    c.release_buffers();
    s.release_buffers();
    assert_eq!(
        counting_alloc::live_bytes(),
        released,
        "released to the same floor"
    );
    drop((c, s));
    let gone = counting_alloc::live_bytes();
    let (held, after) = ((busy - gone) / 2, (released - gone) / 2);
    eprintln!("heap per connection after bulk traffic: {held} B; after release_buffers: {after} B");
    assert!(held > 64 * 1024, "bulk traffic grew the buffers: {held}");
    assert!(
        after < 8 * 1024,
        "an idle released connection holds little more than its keys: {after}"
    );
}
