//! [`Secret`]: key material that is zeroized on drop and never printed.

use core::fmt;

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// Secret bytes (traffic secrets, keys, shared secrets). Zeroized on drop; `Debug` prints
/// `Secret(..)` only; comparisons are constant-time ([`Secret::ct_eq`]).
#[derive(Clone)]
pub struct Secret(Zeroizing<Vec<u8>>);

impl Secret {
    /// Takes ownership of `v`; it is zeroized when the `Secret` drops.
    pub fn new(v: Vec<u8>) -> Self {
        Secret(Zeroizing::new(v))
    }

    /// The secret bytes; copy them only into storage that is zeroized too.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True for a zero-length secret.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Constant-time equality with `other` (lengths are not secret).
    pub fn ct_eq(&self, other: &[u8]) -> bool {
        self.0.len() == other.len() && bool::from(self.0.as_slice().ct_eq(other))
    }
}

/// Its only field is `Zeroizing`, which wipes the bytes when the `Secret` drops.
impl zeroize::ZeroizeOnDrop for Secret {}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl From<Vec<u8>> for Secret {
    fn from(v: Vec<u8>) -> Self {
        Secret::new(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_does_not_print_bytes() {
        let s = Secret::new(vec![0xab, 0xcd, 0x42]);
        let d = format!("{s:?} {:?}", s.clone());
        assert_eq!(d, "Secret(..) Secret(..)");
        assert!(!d.contains("ab") && !d.contains("171") && !d.contains("66"));
    }

    #[test]
    fn ct_eq_compares_contents_and_length() {
        let s = Secret::new(vec![1, 2, 3]);
        assert!(s.ct_eq(&[1, 2, 3]));
        assert!(!s.ct_eq(&[1, 2, 4]));
        assert!(!s.ct_eq(&[1, 2]));
        assert!(!s.ct_eq(&[1, 2, 3, 0]));
    }
}
