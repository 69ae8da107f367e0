//! `examples/webrtc_peers.rs` run as a test, so the example keeps working: two peers with
//! fresh self-signed certificates, fingerprints exchanged in process, DTLS over UDP on
//! 127.0.0.1, the same DTLS-SRTP keys on both sides.

#[allow(dead_code)]
#[path = "../examples/webrtc_peers.rs"]
mod example;

#[test]
fn the_webrtc_example_peers_agree_on_srtp_keys() {
    let (a, b) = example::run().unwrap();
    assert_eq!(a, b);
    assert_eq!(
        a.profile(),
        sanstls::srtp::SrtpProtectionProfile::SRTP_AEAD_AES_128_GCM
    );
    assert_eq!(a.client_write_key().len(), 16);
    assert_eq!(a.server_write_salt().len(), 12);
    assert_ne!(a.client_write_key(), a.server_write_key());
}
