//! Order-preserving, prefix-free byte encoding of (possibly undefined) values, used as
//! index keys: for all `a`, `b`: `compare_maybe(a, b) == encode(a).cmp(&encode(b))`, and
//! the encoding of one value is never a proper prefix of the encoding of another, so the
//! concatenation of encodings (an index key tuple) compares lexicographically
//! element-wise.
//!
//! Layout (a variant of FoundationDB's tuple layer; tags follow Convex's type order but
//! the bytes are NOT byte-compatible with Convex's backend, which nobody needs):
//! - undefined `01`; null `03`;
//! - int64 `08` + 8 bytes big-endian of the value with its sign bit flipped;
//! - float64 `0D` + 8 bytes big-endian of the IEEE bits, all bits flipped for negative
//!   values, only the sign bit flipped otherwise (this is `f64::total_cmp` order);
//! - false `0E`, true `0F`;
//! - string `10` / bytes `11` + escaped bytes: each `00` becomes `00 FF`, and the end is
//!   marked by `00 01` (so a shorter string is never a prefix of a longer one);
//! - array `12` + each element + `00`;
//! - object `15` + for each field in name order: `01` + escaped name + value; then `00`.

use crate::Value;

const UNDEFINED: u8 = 0x01;
const NULL: u8 = 0x03;
const INT64: u8 = 0x08;
const FLOAT64: u8 = 0x0D;
const FALSE: u8 = 0x0E;
const TRUE: u8 = 0x0F;
const STRING: u8 = 0x10;
const BYTES: u8 = 0x11;
const ARRAY: u8 = 0x12;
const OBJECT: u8 = 0x15;

const END: u8 = 0x00;
const FIELD: u8 = 0x01;

/// Append the encoding of one possibly-undefined value (`None` = undefined) to `out`.
pub fn encode_value(v: Option<&Value>, out: &mut Vec<u8>) {
    match v {
        None => out.push(UNDEFINED),
        Some(v) => encode_present(v, out),
    }
}

/// Concatenation of [`encode_value`] for each element (an index key tuple).
pub fn encode_tuple(values: &[Option<&Value>]) -> Vec<u8> {
    let mut out = Vec::new();
    for v in values {
        encode_value(*v, &mut out);
    }
    out
}

/// Smallest byte string greater than every string that starts with `prefix`, or `None`
/// if there is none (empty prefix, or all bytes `0xFF`).
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let last = prefix.iter().rposition(|b| *b != 0xFF)?;
    let mut out = prefix[..=last].to_vec();
    out[last] += 1;
    Some(out)
}

fn encode_present(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Null => out.push(NULL),
        Value::Int64(n) => {
            out.push(INT64);
            out.extend_from_slice(&((*n as u64) ^ (1 << 63)).to_be_bytes());
        }
        Value::Float64(f) => {
            let bits = f.to_bits();
            let key = if bits & (1 << 63) != 0 { !bits } else { bits | (1 << 63) };
            out.push(FLOAT64);
            out.extend_from_slice(&key.to_be_bytes());
        }
        Value::Boolean(false) => out.push(FALSE),
        Value::Boolean(true) => out.push(TRUE),
        Value::String(s) => {
            out.push(STRING);
            escaped(s.as_bytes(), out);
        }
        Value::Bytes(b) => {
            out.push(BYTES);
            escaped(b, out);
        }
        Value::Array(items) => {
            out.push(ARRAY);
            for item in items {
                encode_present(item, out);
            }
            out.push(END);
        }
        Value::Object(fields) => {
            out.push(OBJECT);
            for (k, v) in fields {
                out.push(FIELD);
                escaped(k.as_bytes(), out);
                encode_present(v, out);
            }
            out.push(END);
        }
    }
}

fn escaped(bytes: &[u8], out: &mut Vec<u8>) {
    for &b in bytes {
        out.push(b);
        if b == 0 {
            out.push(0xFF);
        }
    }
    out.extend_from_slice(&[0x00, 0x01]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_strategies::value;
    use crate::{Object, compare_maybe};
    use proptest::prelude::*;

    fn maybe() -> impl Strategy<Value = Option<Value>> {
        prop_oneof![1 => Just(None), 6 => value().prop_map(Some)]
    }

    fn key(v: Option<&Value>) -> Vec<u8> {
        let mut out = Vec::new();
        encode_value(v, &mut out);
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

        #[test]
        fn order_matches_ord(a in maybe(), b in maybe()) {
            let (ka, kb) = (key(a.as_ref()), key(b.as_ref()));
            prop_assert_eq!(compare_maybe(a.as_ref(), b.as_ref()), ka.cmp(&kb));
            if ka != kb {
                prop_assert!(!kb.starts_with(&ka), "{:?} is a prefix of {:?}", ka, kb);
                prop_assert!(!ka.starts_with(&kb), "{:?} is a prefix of {:?}", kb, ka);
            }
        }

        #[test]
        fn sorting_by_key_equals_sorting_by_ord(mut values in prop::collection::vec(value(), 0..12)) {
            values.sort();
            let keys: Vec<Vec<u8>> = values.iter().map(|v| key(Some(v))).collect();
            for w in keys.windows(2) {
                prop_assert!(w[0] <= w[1]);
            }
            for (i, v) in values.iter().enumerate() {
                for (j, u) in values.iter().enumerate() {
                    prop_assert_eq!(v.cmp(u), keys[i].cmp(&keys[j]));
                }
            }
        }

        #[test]
        fn tuple_order_is_lexicographic(a in prop::collection::vec(maybe(), 0..3),
                                        b in prop::collection::vec(maybe(), 0..3)) {
            let ka = encode_tuple(&a.iter().map(Option::as_ref).collect::<Vec<_>>());
            let kb = encode_tuple(&b.iter().map(Option::as_ref).collect::<Vec<_>>());
            let mut expected = std::cmp::Ordering::Equal;
            for (x, y) in a.iter().zip(b.iter()) {
                expected = compare_maybe(x.as_ref(), y.as_ref());
                if expected.is_ne() { break; }
            }
            if expected.is_eq() { expected = a.len().cmp(&b.len()); }
            prop_assert_eq!(ka.cmp(&kb), expected);
        }

        #[test]
        fn prefix_end_bounds_all_extensions(prefix in prop::collection::vec(any::<u8>(), 0..6),
                                            suffix in prop::collection::vec(any::<u8>(), 0..6)) {
            let mut extended = prefix.clone();
            extended.extend_from_slice(&suffix);
            match prefix_end(&prefix) {
                Some(end) => {
                    prop_assert!(extended < end);
                    prop_assert!(end > prefix);
                    prop_assert!(!end.starts_with(&prefix));
                }
                None => prop_assert!(prefix.iter().all(|b| *b == 0xFF)),
            }
        }
    }

    #[test]
    fn edge_cases() {
        // A string is never a prefix-key of its extension by a NUL.
        let a = key(Some(&Value::String("a".into())));
        let b = key(Some(&Value::String("a\u{0}".into())));
        assert!(a < b && !b.starts_with(&a));
        // Empty field name vs empty object.
        let mut with_empty = Object::new();
        with_empty.insert(String::new(), Value::Null);
        let e = key(Some(&Value::Object(Object::new())));
        let f = key(Some(&Value::Object(with_empty)));
        assert!(e < f);
        // Undefined sorts below null.
        assert!(key(None) < key(Some(&Value::Null)));
        assert!(key(Some(&Value::Float64(-0.0))) < key(Some(&Value::Float64(0.0))));
        assert!(key(Some(&Value::Int64(i64::MAX))) < key(Some(&Value::Float64(f64::NEG_INFINITY))));
    }

    #[test]
    fn prefix_end_examples() {
        assert_eq!(prefix_end(&[1, 2, 3]), Some(vec![1, 2, 4]));
        assert_eq!(prefix_end(&[1, 0xFF, 0xFF]), Some(vec![2]));
        assert_eq!(prefix_end(&[0xFF]), None);
        assert_eq!(prefix_end(&[]), None);
    }
}
