//! Pagination cursors (§3.8): a position in a query's index order, bound to the query by a
//! fingerprint.
//!
//! Invariants: a cursor is only accepted by the query that minted it (same typed query, same
//! index key fields); anything else is `InvalidCursor`, never a panic.

use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::definition::Query;
use crate::DbError;

/// A position in a query's index order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Position {
    /// After (in scan order) the row with this index key.
    After(Vec<u8>),
    /// Past the end of the range.
    End,
}

const CURSOR_VERSION: u8 = 1;
const FINGERPRINT_BYTES: usize = 16;

/// The fingerprint of a query bound to an index: its serialized form plus the index's fields.
pub(crate) fn fingerprint(query: &Query, full_fields: &[String]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(query.to_wire_json().to_string().as_bytes());
    h.update(b"\n");
    h.update(serde_json::to_string(full_fields).unwrap_or_default().as_bytes());
    h.finalize().into()
}

/// Encodes a cursor: version byte, truncated fingerprint, position.
pub(crate) fn encode_cursor(fp: &[u8; 32], pos: &Position) -> String {
    let mut bytes = vec![CURSOR_VERSION];
    bytes.extend_from_slice(&fp[..FINGERPRINT_BYTES]);
    match pos {
        Position::End => bytes.push(0),
        Position::After(key) => {
            bytes.push(1);
            bytes.extend_from_slice(key);
        }
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes a cursor minted for the query with fingerprint `fp`; anything else is
/// `InvalidCursor`.
pub(crate) fn decode_cursor(cursor: &str, fp: &[u8; 32]) -> Result<Position, DbError> {
    let bytes =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor).map_err(|_| DbError::invalid_cursor())?;
    if bytes.len() < 2 + FINGERPRINT_BYTES
        || bytes[0] != CURSOR_VERSION
        || bytes[1..1 + FINGERPRINT_BYTES] != fp[..FINGERPRINT_BYTES]
    {
        return Err(DbError::invalid_cursor());
    }
    match bytes[1 + FINGERPRINT_BYTES] {
        0 if bytes.len() == 2 + FINGERPRINT_BYTES => Ok(Position::End),
        1 => Ok(Position::After(bytes[2 + FINGERPRINT_BYTES..].to_vec())),
        _ => Err(DbError::invalid_cursor()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(f: &[&str]) -> Vec<String> {
        f.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn cursors_roundtrip_and_reject_other_queries() {
        let fp1 = fingerprint(&Query::full_table_scan("q1"), &fields(&["_creationTime", "_id"]));
        let fp2 = fingerprint(&Query::full_table_scan("q2"), &fields(&["_creationTime", "_id"]));
        for pos in [Position::End, Position::After(vec![1, 2, 3]), Position::After(vec![])] {
            let c = encode_cursor(&fp1, &pos);
            assert_eq!(decode_cursor(&c, &fp1).unwrap(), pos);
            assert_eq!(decode_cursor(&c, &fp2).unwrap_err().code, "InvalidCursor");
        }
        assert_eq!(decode_cursor("garbage!", &fp1).unwrap_err().code, "InvalidCursor");
    }
}
