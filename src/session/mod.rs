//! Resumption state shared by many connections through the configs: the server's ticket
//! keys, session caches and 0-RTT anti-replay window (TLS 1.3, RFC 8446 4.6.1 and 8), the
//! TLS 1.2 session cache and tickets (RFC 5246 7.4.1.2, RFC 5077), the client's ticket
//! stores, and the seams a server fleet plugs its shared store into.

pub mod ticket12;
pub(crate) mod tickets;
