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
        let buf = base32_decode(s)
            .ok_or_else(|| err("Unable to decode ID: ID wasn't valid base32".into()))?;
        let (table_number, mut pos) = vint_decode(&buf)
            .ok_or_else(|| err("Unable to decode ID: Invalid table number".into()))?;
        if table_number == 0 {
            return Err(err("Unable to decode ID: Invalid table number".into()));
        }
        let internal_id: [u8; 16] = buf
            .get(pos..pos + INTERNAL_ID_LEN)
            .ok_or_else(invalid_length)?
            .try_into()
            .expect("slice of length 16");
        pos += INTERNAL_ID_LEN;
        let expected = fletcher16(&buf[..pos]) ^ VERSION;
        let footer = buf.get(pos..pos + 2).ok_or_else(invalid_length)?;
        let footer = u16::from_le_bytes([footer[0], footer[1]]);
        pos += 2;
        if footer != expected {
            return Err(err(format!(
                "Unable to decode ID: Invalid ID version {footer} (expected {expected})"
            )));
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
