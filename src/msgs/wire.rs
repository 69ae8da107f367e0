//! Helpers shared by the message codecs: extension blocks, bounded lists, error shorthands.

use std::collections::HashSet;

use crate::codec::{put_len_prefixed, Codec, DecodeError, ExtensionType, LenPrefix, Reader};
use crate::{Error, Parameter, PeerMisbehaved};

/// A `decode_error` for a value or length outside the RFC's bounds.
pub(crate) fn illegal(what: &'static str) -> Error {
    Error::Decode(DecodeError::IllegalValue(what))
}

/// An `illegal_parameter` for a rule without its own variant.
pub(crate) fn illegal_param(what: Parameter) -> Error {
    Error::PeerMisbehaved(PeerMisbehaved::IllegalParameter(what))
}

/// One extension as it came off the wire.
pub(crate) struct RawExt<'a> {
    pub typ: ExtensionType,
    pub data: &'a [u8],
}

/// Reads a `Extension extensions<0..2^16-1>` block.
///
/// RFC 8446 4.2: "There MUST NOT be more than one extension of the same type in a given
/// extension block" (no alert named; illegal_parameter, except where
/// [`read_negotiation_extensions`] reads).
pub(crate) fn read_extensions<'a>(r: &mut Reader<'a>) -> Result<Vec<RawExt<'a>>, Error> {
    let mut block = r.sub(LenPrefix::U16, "extensions")?;
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    while !block.is_empty() {
        let typ = block.u16("extension type")?;
        let data = block.vec_bytes(LenPrefix::U16, "extension data")?;
        if !seen.insert(typ) {
            return Err(PeerMisbehaved::DuplicateExtension.into());
        }
        out.push(RawExt {
            typ: ExtensionType::from(typ),
            data,
        });
    }
    Ok(out)
}

/// [`read_extensions`] for the messages whose extensions negotiate the connection (ClientHello,
/// ServerHello, EncryptedExtensions; not HelloRetryRequest): there a repeated extension is
/// decode_error, a message that does not parse, as BoringSSL says (RFC 8446 4.2 names no
/// alert; elsewhere we keep illegal_parameter, as BoringSSL does too).
pub(crate) fn read_negotiation_extensions<'a>(r: &mut Reader<'a>) -> Result<Vec<RawExt<'a>>, Error> {
    read_extensions(r).map_err(|e| match e {
        Error::PeerMisbehaved(PeerMisbehaved::DuplicateExtension) => {
            DecodeError::IllegalValue("extension repeated in a hello").into()
        }
        e => e,
    })
}

/// RFC 8446 4.2: a recognised extension not listed for this message is illegal_parameter.
/// Extension types we do not know (`Unknown`) always pass.
pub(crate) fn check_allowed(typ: ExtensionType, allowed: &[ExtensionType]) -> Result<(), Error> {
    if matches!(typ, ExtensionType::Unknown(_)) || allowed.contains(&typ) {
        Ok(())
    } else {
        Err(PeerMisbehaved::ExtensionForbiddenInMessage.into())
    }
}

/// Writes `type(2) || length(2) || body`.
pub(crate) fn put_extension(out: &mut Vec<u8>, typ: ExtensionType, body: impl FnOnce(&mut Vec<u8>)) {
    typ.encode(out);
    put_len_prefixed(out, LenPrefix::U16, body);
}

/// Writes an extension block from items that encode themselves.
pub(crate) fn put_extensions<T>(out: &mut Vec<u8>, items: &[T], enc: impl Fn(&T, &mut Vec<u8>)) {
    put_len_prefixed(out, LenPrefix::U16, |o| {
        for item in items {
            enc(item, o);
        }
    });
}

/// A length-prefixed list that must hold at least one item (`<2..>`-style floors).
pub(crate) fn nonempty_list<T: Codec>(
    r: &mut Reader<'_>,
    prefix: LenPrefix,
    what: &'static str,
) -> Result<Vec<T>, Error> {
    let v = r.vec_of::<T>(prefix, what)?;
    if v.is_empty() {
        return Err(illegal(what));
    }
    Ok(v)
}

/// Length-prefixed opaque bytes that must not be empty (`<1..>` floors).
pub(crate) fn nonempty_bytes<'a>(
    r: &mut Reader<'a>,
    prefix: LenPrefix,
    what: &'static str,
) -> Result<&'a [u8], Error> {
    let b = r.vec_bytes(prefix, what)?;
    if b.is_empty() {
        return Err(illegal(what));
    }
    Ok(b)
}

/// Reads a fixed 32-byte random.
pub(crate) fn read_random(r: &mut Reader<'_>) -> Result<[u8; 32], Error> {
    let mut out = [0u8; 32];
    out.copy_from_slice(r.take(32, "random")?);
    Ok(out)
}

/// Reads `opaque legacy_session_id<0..32>` (RFC 8446 4.1.2).
pub(crate) fn read_session_id(r: &mut Reader<'_>) -> Result<Vec<u8>, Error> {
    let id = r.vec_bytes(LenPrefix::U8, "session_id")?;
    if id.len() > 32 {
        return Err(illegal("session_id longer than 32 bytes"));
    }
    Ok(id.to_vec())
}
