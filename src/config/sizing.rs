//! How large the records we send are: the trade-off between fewest AEAD calls and the
//! latency of the first byte.

/// Bytes on the wire (header, content, tag) of a record sent with
/// [`prefer_low_latency`](crate::ClientConfig::builder): one TCP segment
/// on an Ethernet path (1500-byte MTU less IPv6 and TCP headers with options) carries it.
pub const LOW_LATENCY_RECORD_LEN: usize = 1400;

/// How large the records we send are.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RecordSizing {
    /// Full records (16 KiB of plaintext): fewest records and AEAD calls.
    #[default]
    Throughput,
    /// Records of at most [`LOW_LATENCY_RECORD_LEN`] bytes on the wire.
    LowLatency,
    /// Low-latency records for the first `small_bytes` of application data and after
    /// `idle_ms` without sending; full records otherwise.
    Dynamic {
        /// Application bytes sent in low-latency records at the start.
        small_bytes: usize,
        /// Milliseconds without sending after which records start small again.
        idle_ms: u64,
    },
}
