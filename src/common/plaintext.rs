//! The plaintext rules every connection type shares (TLS `Reader`/`Writer`, DTLS
//! `DtlsReader`/`DtlsWriter`): what a read returns when nothing is buffered, and how much a
//! write takes.

use std::io;

use crate::error::Error;

/// The `io::Read` rule every connection type shares (TLS `Reader`, DTLS `DtlsReader`): buffered
/// plaintext first, then `Ok(0)` after close_notify, the error after a failure, else
/// `WouldBlock`.
pub fn read_plaintext(
    received: &[u8],
    start: &mut usize,
    peer_closed: bool,
    error: Option<&Error>,
    buf: &mut [u8],
) -> io::Result<usize> {
    let avail = received.get(*start..).unwrap_or_default();
    if !avail.is_empty() {
        let n = avail.len().min(buf.len());
        buf[..n].copy_from_slice(&avail[..n]);
        *start += n;
        return Ok(n);
    }
    nothing_buffered(peer_closed, error).map(|()| 0)
}

/// What a reader gets when no plaintext is buffered: `Ok` (the end) after close_notify, the
/// error after a failure, else `WouldBlock`.
pub fn nothing_buffered(peer_closed: bool, error: Option<&Error>) -> io::Result<()> {
    if peer_closed {
        return Ok(());
    }
    if let Some(e) = error {
        return Err(io::Error::new(io::ErrorKind::ConnectionAborted, e.clone()));
    }
    Err(io::ErrorKind::WouldBlock.into())
}

/// How much of `len` bytes of plaintext a writer takes now, with `waiting` bytes not yet
/// encrypted: refused after a failure or our close_notify, otherwise up to the plaintext cap
/// (`WouldBlock` when it is reached).
pub fn plaintext_room(
    waiting: usize,
    max_buffered: usize,
    sent_close: bool,
    error: Option<&Error>,
    len: usize,
) -> io::Result<usize> {
    if let Some(e) = error {
        return Err(io::Error::new(io::ErrorKind::ConnectionAborted, e.clone()));
    }
    if sent_close {
        return Err(io::Error::new(
            io::ErrorKind::BrokenPipe,
            "close_notify already sent",
        ));
    }
    let room = max_buffered.saturating_sub(waiting);
    if room == 0 && len > 0 {
        return Err(io::ErrorKind::WouldBlock.into());
    }
    Ok(room.min(len))
}
