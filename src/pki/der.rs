//! A minimal DER walker for the few raw fields `x509-parser` does not hand out byte-exact
//! (outer signature algorithm, validity times, key encodings). It never panics: every
//! read is bounds-checked and returns `None` on malformed input.

pub(crate) const SEQUENCE: u8 = 0x30;
pub(crate) const BOOLEAN: u8 = 0x01;
pub(crate) const INTEGER: u8 = 0x02;
pub(crate) const BIT_STRING: u8 = 0x03;
pub(crate) const OCTET_STRING: u8 = 0x04;
pub(crate) const NULL: u8 = 0x05;
pub(crate) const OID: u8 = 0x06;
pub(crate) const UTC_TIME: u8 = 0x17;
pub(crate) const GENERALIZED_TIME: u8 = 0x18;

/// One tag-length-value element.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tlv<'a> {
    pub tag: u8,
    pub value: &'a [u8],
    /// The whole element including tag and length.
    pub raw: &'a [u8],
}

/// Reads consecutive DER elements out of a slice.
pub(crate) struct Der<'a> {
    rest: &'a [u8],
}

impl<'a> Der<'a> {
    pub fn new(input: &'a [u8]) -> Self {
        Der { rest: input }
    }

    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// What is left to read.
    pub fn rest(&self) -> &'a [u8] {
        self.rest
    }

    pub fn peek_tag(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// Reads one element; only single-byte tags and minimal (DER) lengths are accepted.
    pub fn read(&mut self) -> Option<Tlv<'a>> {
        let input = self.rest;
        let (&tag, after_tag) = input.split_first()?;
        if tag & 0x1f == 0x1f {
            return None;
        }
        let (&first, mut after_len) = after_tag.split_first()?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 {
                return None;
            }
            let (bytes, rest) = split(after_len, n)?;
            after_len = rest;
            let mut len = 0usize;
            for &b in bytes {
                len = (len << 8) | usize::from(b);
            }
            // DER: the shortest length form, no leading zero bytes.
            if len < 0x80 || bytes.first() == Some(&0) {
                return None;
            }
            len
        };
        let (value, rest) = split(after_len, len)?;
        let header = input.len() - after_len.len();
        let raw = input.get(..header + len)?;
        self.rest = rest;
        Some(Tlv { tag, value, raw })
    }

    /// Reads one element and requires its tag.
    pub fn expect(&mut self, tag: u8) -> Option<Tlv<'a>> {
        let tlv = self.read()?;
        (tlv.tag == tag).then_some(tlv)
    }

    /// Reads an element only if the next tag is `tag`.
    pub fn optional(&mut self, tag: u8) -> Option<Tlv<'a>> {
        if self.peek_tag() == Some(tag) {
            self.read()
        } else {
            None
        }
    }
}

fn split(input: &[u8], n: usize) -> Option<(&[u8], &[u8])> {
    (input.len() >= n).then(|| input.split_at(n))
}

/// Parses the whole input as exactly one element with `tag`.
pub(crate) fn single(input: &[u8], tag: u8) -> Option<Tlv<'_>> {
    let mut d = Der::new(input);
    let tlv = d.expect(tag)?;
    d.is_empty().then_some(tlv)
}

/// The content of a BIT STRING with no unused bits (keys and signatures).
pub(crate) fn bit_string_bytes<'a>(tlv: &Tlv<'a>) -> Option<&'a [u8]> {
    match tlv.value.split_first() {
        Some((0, rest)) => Some(rest),
        _ => None,
    }
}

/// The magnitude bytes of a positive DER INTEGER, without the sign-padding zero.
pub(crate) fn positive_integer(value: &[u8]) -> Option<&[u8]> {
    match value {
        [] => None,
        [0] => Some(value),
        [0, next, ..] if *next & 0x80 == 0 => None, // non-minimal
        [0, rest @ ..] => Some(rest),
        [first, ..] if *first & 0x80 != 0 => None, // negative
        [first, next, ..] if *first == 0xff && *next & 0x80 != 0 => None,
        _ => Some(value),
    }
}

/// Seconds since the Unix epoch for a UTCTime or GeneralizedTime in the strict form
/// RFC 5280 4.1.2.5 requires: `YYMMDDHHMMSSZ` / `YYYYMMDDHHMMSSZ`, no fractions, no offsets.
pub(crate) fn time(tlv: &Tlv) -> Option<i64> {
    let v = tlv.value;
    let (year, rest) = match tlv.tag {
        UTC_TIME if v.len() == 13 => {
            let yy = digits(v.get(..2)?)?;
            // RFC 5280 4.1.2.5.1: YY >= 50 is 19YY, else 20YY.
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, v.get(2..)?)
        }
        GENERALIZED_TIME if v.len() == 15 => (digits(v.get(..4)?)?, v.get(4..)?),
        _ => return None,
    };
    if rest.get(10) != Some(&b'Z') {
        return None;
    }
    let month = digits(rest.get(0..2)?)?;
    let day = digits(rest.get(2..4)?)?;
    let hour = digits(rest.get(4..6)?)?;
    let minute = digits(rest.get(6..8)?)?;
    let second = digits(rest.get(8..10)?)?;
    if !(1..=12).contains(&month) || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days_in_month = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if day < 1 || day > days_in_month {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(days * 86_400 + hour * 3_600 + minute * 60 + second)
}

fn digits(b: &[u8]) -> Option<i64> {
    b.iter().try_fold(0i64, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
    })
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_strictly() {
        let t = |tag, s: &str| {
            let mut raw = vec![tag, s.len() as u8];
            raw.extend_from_slice(s.as_bytes());
            let tlv = single(&raw, tag)?;
            time(&tlv)
        };
        assert_eq!(t(UTC_TIME, "700101000000Z"), Some(0));
        assert_eq!(t(UTC_TIME, "491231235959Z"), Some(2_524_607_999));
        assert_eq!(t(GENERALIZED_TIME, "20240101000000Z"), Some(1_704_067_200));
        assert_eq!(t(GENERALIZED_TIME, "20240101000000.5Z"), None);
        assert_eq!(t(UTC_TIME, "7001010000Z"), None);
        assert_eq!(t(GENERALIZED_TIME, "20230229000000Z"), None);
    }

    #[test]
    fn lengths_must_be_minimal() {
        assert!(single(&[0x04, 0x81, 0x01, 0xaa], 0x04).is_none());
        assert!(single(&[0x04, 0x01, 0xaa], 0x04).is_some());
        assert!(single(&[0x04, 0x02, 0xaa], 0x04).is_none());
    }

    #[test]
    fn integers() {
        assert_eq!(positive_integer(&[0x00, 0x80]), Some(&[0x80][..]));
        assert_eq!(positive_integer(&[0x00, 0x01]), None);
        assert_eq!(positive_integer(&[0x80]), None);
        assert_eq!(positive_integer(&[0x7f]), Some(&[0x7f][..]));
    }
}
