//! Document ids in Convex's v6 format (§4.5):
//! `base32( VInt(table_number) ‖ internal_id[16] ‖ le_u16(fletcher16(previous bytes) ^ 0) )`
//! with the lower-case Crockford alphabet, most significant bit first, no padding.
//!
//! Invariants: `DocumentId::decode(&id.encode()) == Ok(id)` for every id with a non-zero
//! table number, and `decode` accepts only canonical encodings (so each id has exactly one
//! string form): wrong length, characters outside the alphabet (including upper case),
//! a zero table number, a bad checksum, trailing bytes and non-zero padding bits are all
//! rejected with the backend's "Unable to decode ID: ..." messages.

use std::fmt;
use std::str::FromStr;

use crate::ValueError;

const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
const VERSION: u16 = 0;
const INTERNAL_ID_LEN: usize = 16;
const MIN_BINARY_LEN: usize = 1 + INTERNAL_ID_LEN + 2;
const MAX_BINARY_LEN: usize = 5 + INTERNAL_ID_LEN + 2;

/// Shortest encoded id (table numbers below 128).
pub const MIN_ENCODED_LEN: usize = base32_len(MIN_BINARY_LEN);
/// Longest encoded id (table numbers of 2^28 and above).
pub const MAX_ENCODED_LEN: usize = base32_len(MAX_BINARY_LEN);

/// A document id: the table number inside its component namespace and 16 random bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DocumentId {
    pub table_number: u32,
    pub internal_id: [u8; 16],
}

impl DocumentId {
    pub fn new(table_number: u32, internal_id: [u8; 16]) -> Self {
        DocumentId { table_number, internal_id }
    }

    /// The v6 string form.
    pub fn encode(&self) -> String {
        let mut buf = Vec::with_capacity(MAX_BINARY_LEN);
        vint_encode(self.table_number, &mut buf);
        buf.extend_from_slice(&self.internal_id);
        let footer = fletcher16(&buf) ^ VERSION;
        buf.extend_from_slice(&footer.to_le_bytes());
        base32_encode(&buf)
    }

    /// Parse a v6 id, rejecting every non-canonical or corrupted form.
    pub fn decode(s: &str) -> Result<DocumentId, ValueError> {
        let invalid_length = || err(format!("Unable to decode ID: Invalid ID length {}", s.len()));
        if s.len() < MIN_ENCODED_LEN || s.len() > MAX_ENCODED_LEN {
            return Err(invalid_length());
        }
        let buf = base32_decode(s).ok_or_else(|| err("Unable to decode ID: ID wasn't valid base32".into()))?;
        let (table_number, mut pos) =
            vint_decode(&buf).ok_or_else(|| err("Unable to decode ID: Invalid table number".into()))?;
        if table_number == 0 {
            return Err(err("Unable to decode ID: Invalid table number".into()));
        }
        let internal_id: [u8; 16] =
            buf.get(pos..pos + INTERNAL_ID_LEN).ok_or_else(invalid_length)?.try_into().expect("slice of length 16");
        pos += INTERNAL_ID_LEN;
        let expected = fletcher16(&buf[..pos]) ^ VERSION;
        let footer = buf.get(pos..pos + 2).ok_or_else(invalid_length)?;
        let footer = u16::from_le_bytes([footer[0], footer[1]]);
        pos += 2;
        if footer != expected {
            return Err(err(format!("Unable to decode ID: Invalid ID version {footer} (expected {expected})")));
        }
        if pos != buf.len() {
            return Err(invalid_length());
        }
        let id = DocumentId { table_number, internal_id };
        if id.encode() != s {
            return Err(invalid_length());
        }
        Ok(id)
    }

    /// A fresh id with 16 random bytes.
    pub fn random(table_number: u32, rng: &mut impl rand::Rng) -> DocumentId {
        let mut internal_id = [0u8; 16];
        rng.fill(&mut internal_id);
        DocumentId { table_number, internal_id }
    }
}

impl fmt::Display for DocumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

impl FromStr for DocumentId {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DocumentId::decode(s)
    }
}

fn err(message: String) -> ValueError {
    ValueError::new("InvalidId", message)
}

const fn base32_len(bytes: usize) -> usize {
    (bytes * 8).div_ceil(5)
}

fn vint_encode(mut n: u32, out: &mut Vec<u8>) {
    while n >= 0x80 {
        out.push((n as u8 & 0x7F) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Returns the number and the count of bytes read; `None` if truncated or over 5 bytes.
fn vint_decode(buf: &[u8]) -> Option<(u32, usize)> {
    let mut n: u32 = 0;
    for i in 0..5 {
        let byte = *buf.get(i)?;
        n |= ((byte & 0x7F) as u32).checked_shl(7 * i as u32)?;
        if byte < 0x80 {
            return Some((n, i + 1));
        }
    }
    None
}

fn fletcher16(buf: &[u8]) -> u16 {
    let (mut c0, mut c1) = (0u8, 0u8);
    for b in buf {
        c0 = c0.wrapping_add(*b);
        c1 = c1.wrapping_add(c0);
    }
    ((c1 as u16) << 8) | c0 as u16
}

fn base32_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(base32_len(data.len()));
    let mut acc: u32 = 0;
    let mut bits = 0;
    for &b in data {
        acc = (acc << 8) | b as u32;
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((acc >> bits) & 0x1F) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((acc << (5 - bits)) & 0x1F) as usize] as char);
    }
    out
}

/// Decodes whole bytes; left-over bits are dropped (canonicality is checked by re-encoding).
fn base32_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 5 / 8);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for c in s.bytes() {
        let v = ALPHABET.iter().position(|a| *a == c)? as u32;
        acc = (acc << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;

    fn hex(s: &str) -> [u8; 16] {
        let v: Vec<u8> = (0..16).map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap()).collect();
        v.try_into().unwrap()
    }

    #[test]
    fn spec_vectors() {
        let id = DocumentId::new(10001, std::array::from_fn(|i| i as u8));
        assert_eq!(id.encode(), "j57000820c20a1g7104gm2rc1m70ynr8");
        assert_eq!(DocumentId::decode("j57000820c20a1g7104gm2rc1m70ynr8").unwrap(), id);

        let id = DocumentId::new(1, [0; 16]);
        assert_eq!(id.encode(), "0400000000000000000000000000248");
        assert_eq!(DocumentId::decode("0400000000000000000000000000248").unwrap(), id);

        let id = DocumentId::decode("nx70paj9d23tdhf40ch42r3zktyxrddc").unwrap();
        assert_eq!(id.table_number, 10031);
        assert_eq!(id.internal_id, hex("0b2a496887a6c5e4032241607f9ebddc"));
        assert_eq!(id.to_string(), "nx70paj9d23tdhf40ch42r3zktyxrddc");
    }

    #[test]
    fn lengths_by_table_number() {
        for (table, len) in [
            (1u32, 31),
            (127, 31),
            (128, 32),
            (10001, 32),
            (16383, 32),
            (16384, 34),
            ((1 << 21) - 1, 34),
            (1 << 21, 36),
            ((1 << 28) - 1, 36),
            (1 << 28, 37),
            (u32::MAX, 37),
        ] {
            let id = DocumentId::new(table, [0xAB; 16]);
            let s = id.encode();
            assert_eq!(s.len(), len, "table {table}");
            assert_eq!(DocumentId::decode(&s).unwrap(), id);
        }
        assert_eq!(MIN_ENCODED_LEN, 31);
        assert_eq!(MAX_ENCODED_LEN, 37);
    }

    #[test]
    fn rejections() {
        let good = "j57000820c20a1g7104gm2rc1m70ynr8";
        let msg = |s: &str| DocumentId::decode(s).unwrap_err().message;
        assert_eq!(msg(""), "Unable to decode ID: Invalid ID length 0");
        assert_eq!(msg(&good[..30]), "Unable to decode ID: Invalid ID length 30");
        assert_eq!(msg(&format!("{good}000000")), "Unable to decode ID: Invalid ID length 38");
        // Upper case and characters outside the Crockford alphabet.
        assert_eq!(msg(&good.to_uppercase()), "Unable to decode ID: ID wasn't valid base32");
        assert_eq!(msg(&good.replace('j', "i")), "Unable to decode ID: ID wasn't valid base32");
        assert_eq!(msg(&good.replace('0', "u")), "Unable to decode ID: ID wasn't valid base32");
        // Zero table number.
        let mut zero = vec![0u8];
        zero.extend_from_slice(&[0; 16]);
        let f = fletcher16(&zero);
        zero.extend_from_slice(&f.to_le_bytes());
        assert_eq!(msg(&base32_encode(&zero)), "Unable to decode ID: Invalid table number");
        // Checksum mismatch.
        let mut bytes = base32_decode(good).unwrap();
        bytes[5] ^= 1;
        assert!(msg(&base32_encode(&bytes)).starts_with("Unable to decode ID: Invalid ID version"));
        // Non-canonical: last character carries non-zero padding bits.
        let last = good.chars().last().unwrap();
        let idx = ALPHABET.iter().position(|c| *c as char == last).unwrap();
        let tweaked = format!("{}{}", &good[..good.len() - 1], ALPHABET[idx ^ 1] as char);
        assert!(DocumentId::decode(&tweaked).is_err());
        // Trailing bytes: a table-1 id padded to a 32-char string.
        let short = DocumentId::new(1, [7; 16]).encode();
        let mut b = base32_decode(&short).unwrap();
        b.push(0);
        assert!(DocumentId::decode(&base32_encode(&b)).is_err());
        assert!(DocumentId::decode("not an id").is_err());
        assert_eq!(DocumentId::decode("x").unwrap_err().code, "InvalidId");
    }

    #[test]
    fn random_ids_differ_and_round_trip() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let a = DocumentId::random(10001, &mut rng);
        let b = DocumentId::random(10001, &mut rng);
        assert_ne!(a, b);
        assert_eq!(a.table_number, 10001);
        assert_eq!(DocumentId::decode(&a.encode()).unwrap(), a);
    }

    proptest! {
        #[test]
        fn round_trip(table in 1u32.., internal in any::<[u8; 16]>()) {
            let id = DocumentId::new(table, internal);
            prop_assert_eq!(DocumentId::decode(&id.encode()).unwrap(), id);
        }

        #[test]
        fn single_character_corruption_is_rejected(table in 1u32..20000,
                                                   internal in any::<[u8; 16]>(),
                                                   pos in any::<prop::sample::Index>(),
                                                   replacement in 0usize..32) {
            let s = DocumentId::new(table, internal).encode();
            let i = pos.index(s.len());
            let mut bytes = s.clone().into_bytes();
            prop_assume!(bytes[i] != ALPHABET[replacement]);
            bytes[i] = ALPHABET[replacement];
            let corrupted = String::from_utf8(bytes).unwrap();
            // Fletcher-16 detects every single-symbol change of these short messages, and
            // non-canonical padding bits are rejected by the re-encoding check.
            prop_assert!(DocumentId::decode(&corrupted).is_err(), "{} accepted", corrupted);
        }
    }
}
