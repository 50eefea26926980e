//! The Convex [`Value`] type, its total order (§4.3), its Convex JSON encoding (§4.2), the
//! lossy "clean" JSON export, and the §4.6 size formula.
//!
//! Invariants:
//! - `Ord`/`Eq` implement Convex's total order: type order
//!   `Null < Int64 < Float64 < Boolean < String < Bytes < Array < Object`; floats compare by
//!   `f64::total_cmp` and are equal only when bit-identical (so `NaN == NaN`, `-0 != +0`);
//!   an `Int64` never equals a `Float64`. `Hash` agrees with `Eq`.
//! - `from_convex_json(v.to_convex_json()) == v` for every value that passes
//!   [`crate::limits::check_value`].
//! - `Display` renders values the way Convex's backend does in error messages
//!   (`{a: 1.0, b: "x"}`, ints without suffix, bytes as `b"base64"`).

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;
use std::hash::{Hash, Hasher};

use serde_json::Value as Json;

use crate::{ValueError, base64_util, limits};

/// A Convex object: fields in byte order of their names.
pub type Object = BTreeMap<String, Value>;

/// A Convex value.
#[derive(Debug, Clone)]
pub enum Value {
    Null,
    Int64(i64),
    Float64(f64),
    Boolean(bool),
    String(String),
    Bytes(Vec<u8>),
    Array(Vec<Value>),
    Object(Object),
}

impl Value {
    /// Decode Convex JSON (§4.2): `$integer`, `$float`, `$bytes`. Rejects `$undefined`,
    /// `$commitTs`, `$set`, `$map`, bad base64, `$float` encodings of ordinary numbers and
    /// invalid field names with Convex's messages, and enforces the general value limits
    /// of §4.6 (size, nesting, array length, field count).
    pub fn from_convex_json(json: &Json) -> Result<Value, ValueError> {
        Ok(decode(json, 0)?.0)
    }

    /// Encode as Convex JSON (§4.2). Object keys come out in byte order.
    pub fn to_convex_json(&self) -> Json {
        match self {
            Value::Null => Json::Null,
            Value::Int64(n) => single("$integer", Json::String(base64_util::encode(&n.to_le_bytes()))),
            Value::Float64(f) => {
                if is_special_float(*f) {
                    single("$float", Json::String(base64_util::encode(&f.to_le_bytes())))
                } else {
                    Json::Number(serde_json::Number::from_f64(*f).expect("finite float is a JSON number"))
                }
            }
            Value::Boolean(b) => Json::Bool(*b),
            Value::String(s) => Json::String(s.clone()),
            Value::Bytes(b) => single("$bytes", Json::String(base64_util::encode(b))),
            Value::Array(items) => Json::Array(items.iter().map(Value::to_convex_json).collect()),
            Value::Object(fields) => {
                Json::Object(fields.iter().map(|(k, v)| (k.clone(), v.to_convex_json())).collect())
            }
        }
    }

    /// The lossy "clean" export (`format: "json"` on the HTTP API): int64 as a decimal
    /// string, bytes as a base64 string, NaN / Infinity / -Infinity as those strings.
    pub fn to_clean_json(&self) -> Json {
        match self {
            Value::Null => Json::Null,
            Value::Int64(n) => Json::String(n.to_string()),
            Value::Float64(f) => {
                if f.is_nan() {
                    Json::String("NaN".into())
                } else if f.is_infinite() {
                    Json::String(if *f > 0.0 { "Infinity" } else { "-Infinity" }.into())
                } else {
                    Json::Number(serde_json::Number::from_f64(*f).expect("finite float is a JSON number"))
                }
            }
            Value::Boolean(b) => Json::Bool(*b),
            Value::String(s) => Json::String(s.clone()),
            Value::Bytes(b) => Json::String(base64_util::encode(b)),
            Value::Array(items) => Json::Array(items.iter().map(Value::to_clean_json).collect()),
            Value::Object(fields) => Json::Object(fields.iter().map(|(k, v)| (k.clone(), v.to_clean_json())).collect()),
        }
    }

    /// Size in bytes by Convex's formula (§4.6): null/boolean 1; int64/float64 9;
    /// string and bytes 2 + byte length; array 2 + Σ elements; object
    /// 2 + Σ (name length + 1 + value size).
    pub fn size(&self) -> usize {
        match self {
            Value::Null | Value::Boolean(_) => 1,
            Value::Int64(_) | Value::Float64(_) => 9,
            Value::String(s) => 2 + s.len(),
            Value::Bytes(b) => 2 + b.len(),
            Value::Array(items) => 2 + items.iter().map(Value::size).sum::<usize>(),
            Value::Object(fields) => object_size(fields),
        }
    }

    /// Nesting depth as Convex counts it: scalars 0, an array or object is one more than
    /// its deepest element (so `{}` and `[]` are 1).
    pub fn nesting(&self) -> usize {
        match self {
            Value::Array(items) => 1 + items.iter().map(Value::nesting).max().unwrap_or(0),
            Value::Object(fields) => 1 + fields.values().map(Value::nesting).max().unwrap_or(0),
            _ => 0,
        }
    }

    /// The type name Convex's backend uses in messages: `"Null"`, `"Int64"`, `"Float64"`,
    /// `"Boolean"`, `"String"`, `"Bytes"`, `"Array"`, `"Object"`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "Null",
            Value::Int64(_) => "Int64",
            Value::Float64(_) => "Float64",
            Value::Boolean(_) => "Boolean",
            Value::String(_) => "String",
            Value::Bytes(_) => "Bytes",
            Value::Array(_) => "Array",
            Value::Object(_) => "Object",
        }
    }

    pub fn as_object(&self) -> Option<&Object> {
        match self {
            Value::Object(o) => Some(o),
            _ => None,
        }
    }

    pub fn into_object(self) -> Option<Object> {
        match self {
            Value::Object(o) => Some(o),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// Follow a dotted field path (`["a", "b"]` for `a.b`) through nested objects.
    /// `None` (undefined) if any step is missing or is not an object.
    pub fn get_path<S: AsRef<str>>(&self, path: &[S]) -> Option<&Value> {
        let mut cur = self;
        for part in path {
            cur = cur.as_object()?.get(part.as_ref())?;
        }
        Some(cur)
    }

    fn type_rank(&self) -> u8 {
        match self {
            Value::Null => 0,
            Value::Int64(_) => 1,
            Value::Float64(_) => 2,
            Value::Boolean(_) => 3,
            Value::String(_) => 4,
            Value::Bytes(_) => 5,
            Value::Array(_) => 6,
            Value::Object(_) => 7,
        }
    }
}

pub(crate) fn object_size(fields: &Object) -> usize {
    2 + fields.iter().map(|(k, v)| k.len() + 1 + v.size()).sum::<usize>()
}

/// Decode a value that may be `{"$undefined": null}` (filter literals, index range values,
/// top-level patch fields). `Ok(None)` means undefined.
pub fn maybe_value_from_convex_json(json: &Json) -> Result<Option<Value>, ValueError> {
    if let Json::Object(map) = json
        && map.len() == 1
        && let Some(inner) = map.get("$undefined")
    {
        if !inner.is_null() {
            return Err(ValueError::new(
                "InvalidConvexJson",
                format!("Malformed $undefined field on {}", js_object_string(json)),
            ));
        }
        return Ok(None);
    }
    Value::from_convex_json(json).map(Some)
}

/// Total order on possibly-undefined values: undefined (`None`) is lowest.
pub fn compare_maybe(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(a), Some(b)) => a.cmp(b),
    }
}

fn single(key: &str, value: Json) -> Json {
    let mut map = serde_json::Map::new();
    map.insert(key.to_string(), value);
    Json::Object(map)
}

/// NaN, ±Infinity and -0 cannot be plain JSON numbers.
fn is_special_float(f: f64) -> bool {
    !f.is_finite() || (f == 0.0 && f.is_sign_negative())
}

/// What JS's template literal prints for a non-string JSON value (`${value}`).
fn js_object_string(json: &Json) -> String {
    match json {
        Json::Object(_) => "[object Object]".into(),
        Json::Array(items) => items
            .iter()
            .map(|v| match v {
                Json::Null => String::new(),
                other => js_object_string(other),
            })
            .collect::<Vec<_>>()
            .join(","),
        Json::String(s) => s.clone(),
        Json::Null => "null".into(),
        Json::Bool(b) => b.to_string(),
        Json::Number(n) => n.as_f64().map(js_number_string).unwrap_or_else(|| n.to_string()),
    }
}

/// Format a float the way JavaScript's `Number.prototype.toString()` does.
pub(crate) fn js_number_string(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if x == 0.0 {
        return "0".into();
    }
    let sign = if x < 0.0 { "-" } else { "" };
    // Shortest round-trip digits and decimal exponent, e.g. "1.2345e-7".
    let sci = format!("{:e}", x.abs());
    let (mantissa, exp) = sci.split_once('e').expect("{:e} has an exponent");
    let exp: i32 = exp.parse().expect("exponent is an integer");
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let k = digits.len() as i32;
    let n = exp + 1;
    let body = if k <= n && n <= 21 {
        format!("{digits}{}", "0".repeat((n - k) as usize))
    } else if 0 < n && n <= 21 {
        format!("{}.{}", &digits[..n as usize], &digits[n as usize..])
    } else if -6 < n && n <= 0 {
        format!("0.{}{digits}", "0".repeat((-n) as usize))
    } else {
        let e = n - 1;
        let e_str = if e >= 0 { format!("+{e}") } else { e.to_string() };
        if k == 1 { format!("{digits}e{e_str}") } else { format!("{}.{}e{e_str}", &digits[..1], &digits[1..]) }
    };
    format!("{sign}{body}")
}

/// Decode one Convex JSON value, returning it with its size and nesting so limits are
/// checked bottom-up in one pass (as the backend's constructors do). `depth` counts the
/// enclosing containers so that over-deep input fails before recursing further.
fn decode(json: &Json, depth: usize) -> Result<(Value, usize, usize), ValueError> {
    if matches!(json, Json::Array(_)) || matches!(json, Json::Object(m) if m.len() != 1) {
        limits::check_nesting(depth + 1)?;
    }
    let value = match json {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Boolean(*b),
        Json::Number(n) => Value::Float64(
            n.as_f64().ok_or_else(|| ValueError::new("InvalidConvexJson", format!("Unsupported JSON number {n}")))?,
        ),
        Json::String(s) => Value::String(s.clone()),
        Json::Array(items) => {
            limits::check_array_length(items.len())?;
            let mut out = Vec::with_capacity(items.len());
            let mut size = 2;
            let mut nesting = 0;
            for item in items {
                let (v, s, n) = decode(item, depth + 1)?;
                size += s;
                nesting = nesting.max(n);
                out.push(v);
            }
            limits::check_size(size, limits::MAX_VALUE_SIZE)?;
            limits::check_nesting(nesting + 1)?;
            return Ok((Value::Array(out), size, nesting + 1));
        }
        Json::Object(map) => {
            if map.len() == 1 {
                let (key, inner) = map.iter().next().expect("one entry");
                if let Some(special) = decode_special(key, inner, json)? {
                    let size = special.size();
                    return Ok((special, size, 0));
                }
            }
            limits::check_field_count(map.len())?;
            let mut out = Object::new();
            let mut size = 2;
            let mut nesting = 0;
            for (k, v) in map {
                limits::check_field_name(k)?;
                let (v, s, n) = decode(v, depth + 1)?;
                size += k.len() + 1 + s;
                nesting = nesting.max(n);
                out.insert(k.clone(), v);
            }
            limits::check_size(size, limits::MAX_VALUE_SIZE)?;
            limits::check_nesting(nesting + 1)?;
            return Ok((Value::Object(out), size, nesting + 1));
        }
    };
    let size = value.size();
    limits::check_size(size, limits::MAX_VALUE_SIZE)?;
    Ok((value, size, 0))
}

fn decode_special(key: &str, inner: &Json, whole: &Json) -> Result<Option<Value>, ValueError> {
    let malformed =
        || ValueError::new("InvalidConvexJson", format!("Malformed {key} field on {}", js_object_string(whole)));
    let value = match key {
        "$bytes" => {
            let s = inner.as_str().ok_or_else(malformed)?;
            Value::Bytes(base64_util::decode(s)?)
        }
        "$integer" => {
            let s = inner.as_str().ok_or_else(malformed)?;
            let bytes = base64_util::decode(s)?;
            let bytes: [u8; 8] = bytes.as_slice().try_into().map_err(|_| {
                ValueError::new("InvalidConvexJson", format!("Received {} bytes, expected 8 for $integer", bytes.len()))
            })?;
            Value::Int64(i64::from_le_bytes(bytes))
        }
        "$float" => {
            let s = inner.as_str().ok_or_else(malformed)?;
            let bytes = base64_util::decode(s)?;
            let bytes: [u8; 8] = bytes.as_slice().try_into().map_err(|_| {
                ValueError::new("InvalidConvexJson", format!("Received {} bytes, expected 8 for $float", bytes.len()))
            })?;
            let f = f64::from_le_bytes(bytes);
            if !is_special_float(f) {
                return Err(ValueError::new(
                    "InvalidConvexJson",
                    format!("Float {} should be encoded as a number", js_number_string(f)),
                ));
            }
            Value::Float64(f)
        }
        "$commitTs" => {
            if !inner.is_null() {
                return Err(malformed());
            }
            return Err(ValueError::new(
                "CommitTsNotAllowed",
                "The commit timestamp placeholder (db.vars.commitTs) is not allowed here: it can \
                 only be written into a document by a mutation.",
            ));
        }
        "$undefined" => {
            return Err(ValueError::new(
                "UndefinedNotAllowed",
                "undefined is not a valid Convex value. To learn about Convex's supported types, \
                 see https://docs.convex.dev/using/types.",
            ));
        }
        "$set" => {
            return Err(ValueError::new(
                "InvalidConvexJson",
                "Received a Set which is no longer supported as a Convex type.",
            ));
        }
        "$map" => {
            return Err(ValueError::new(
                "InvalidConvexJson",
                "Received a Map which is no longer supported as a Convex type.",
            ));
        }
        _ => return Ok(None),
    };
    Ok(Some(value))
}

impl Ord for Value {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Value::Null, Value::Null) => Ordering::Equal,
            (Value::Int64(a), Value::Int64(b)) => a.cmp(b),
            (Value::Float64(a), Value::Float64(b)) => a.total_cmp(b),
            (Value::Boolean(a), Value::Boolean(b)) => a.cmp(b),
            (Value::String(a), Value::String(b)) => a.as_bytes().cmp(b.as_bytes()),
            (Value::Bytes(a), Value::Bytes(b)) => a.cmp(b),
            (Value::Array(a), Value::Array(b)) => a.cmp(b),
            (Value::Object(a), Value::Object(b)) => {
                let mut ai = a.iter();
                let mut bi = b.iter();
                loop {
                    match (ai.next(), bi.next()) {
                        (None, None) => return Ordering::Equal,
                        (None, Some(_)) => return Ordering::Less,
                        (Some(_), None) => return Ordering::Greater,
                        (Some((ak, av)), Some((bk, bv))) => {
                            let o = ak.as_bytes().cmp(bk.as_bytes()).then_with(|| av.cmp(bv));
                            if o != Ordering::Equal {
                                return o;
                            }
                        }
                    }
                }
            }
            _ => self.type_rank().cmp(&other.type_rank()),
        }
    }
}

impl PartialOrd for Value {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Value {}

impl Hash for Value {
    fn hash<H: Hasher>(&self, h: &mut H) {
        h.write_u8(self.type_rank());
        match self {
            Value::Null => {}
            Value::Int64(n) => n.hash(h),
            Value::Float64(f) => f.to_bits().hash(h),
            Value::Boolean(b) => b.hash(h),
            Value::String(s) => s.hash(h),
            Value::Bytes(b) => b.hash(h),
            Value::Array(items) => items.hash(h),
            Value::Object(fields) => fields.hash(h),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Int64(n) => write!(f, "{n}"),
            Value::Float64(x) => write!(f, "{x:?}"),
            Value::Boolean(b) => write!(f, "{b}"),
            Value::String(s) => write!(f, "{s:?}"),
            Value::Bytes(b) => write!(f, "b{:?}", base64_util::encode(b)),
            Value::Array(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            Value::Object(fields) => {
                f.write_str("{")?;
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}: {v}")?;
                }
                f.write_str("}")
            }
        }
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::Int64(n)
    }
}
impl From<f64> for Value {
    fn from(x: f64) -> Self {
        Value::Float64(x)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Boolean(b)
    }
}
impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}
impl From<Vec<u8>> for Value {
    fn from(b: Vec<u8>) -> Self {
        Value::Bytes(b)
    }
}
impl From<Vec<Value>> for Value {
    fn from(items: Vec<Value>) -> Self {
        Value::Array(items)
    }
}
impl From<Object> for Value {
    fn from(o: Object) -> Self {
        Value::Object(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dec(j: Json) -> Result<Value, ValueError> {
        Value::from_convex_json(&j)
    }

    #[test]
    fn spec_vectors_encode() {
        assert_eq!(Value::Int64(1).to_convex_json(), json!({"$integer": "AQAAAAAAAAA="}));
        assert_eq!(Value::Int64(-1).to_convex_json(), json!({"$integer": "//////////8="}));
        assert_eq!(Value::Int64(10).to_convex_json(), json!({"$integer": "CgAAAAAAAAA="}));
        assert_eq!(Value::Int64(42).to_convex_json(), json!({"$integer": "KgAAAAAAAAA="}));
        assert_eq!(Value::Float64(f64::NAN).to_convex_json(), json!({"$float": "AAAAAAAA+H8="}));
        assert_eq!(Value::Float64(f64::INFINITY).to_convex_json(), json!({"$float": "AAAAAAAA8H8="}));
        assert_eq!(Value::Float64(f64::NEG_INFINITY).to_convex_json(), json!({"$float": "AAAAAAAA8P8="}));
        assert_eq!(Value::Float64(-0.0).to_convex_json(), json!({"$float": "AAAAAAAAAIA="}));
        assert_eq!(Value::Float64(0.0).to_convex_json(), json!(0.0));
        assert_eq!(Value::Float64(5.0).to_convex_json(), json!(5.0));
        assert_eq!(Value::Bytes(vec![0, 0x10, 0x83]).to_convex_json(), json!({"$bytes": "ABCD"}));
    }

    #[test]
    fn spec_vectors_decode() {
        assert_eq!(dec(json!({"$integer": "AQAAAAAAAAA="})).unwrap(), Value::Int64(1));
        assert_eq!(dec(json!({"$integer": "//////////8="})).unwrap(), Value::Int64(-1));
        assert_eq!(dec(json!({"$integer": "CgAAAAAAAAA="})).unwrap(), Value::Int64(10));
        let nan = dec(json!({"$float": "AAAAAAAA+H8="})).unwrap();
        assert!(matches!(nan, Value::Float64(f) if f.is_nan()));
        assert_eq!(dec(json!({"$float": "AAAAAAAA8H8="})).unwrap(), Value::Float64(f64::INFINITY));
        assert_eq!(dec(json!({"$float": "AAAAAAAA8P8="})).unwrap(), Value::Float64(f64::NEG_INFINITY));
        let neg_zero = dec(json!({"$float": "AAAAAAAAAIA="})).unwrap();
        assert_eq!(neg_zero, Value::Float64(-0.0));
        assert_ne!(neg_zero, Value::Float64(0.0));
        // Every plain JSON number is a Float64, even an integer.
        assert_eq!(dec(json!(5)).unwrap(), Value::Float64(5.0));
        assert_eq!(dec(json!(-7)).unwrap(), Value::Float64(-7.0));
        assert_eq!(dec(json!(u64::MAX)).unwrap(), Value::Float64(u64::MAX as f64));
        assert_eq!(dec(json!({"$bytes": "ABCD"})).unwrap(), Value::Bytes(vec![0, 0x10, 0x83]));
        assert_eq!(dec(json!({"$bytes": ""})).unwrap(), Value::Bytes(vec![]));
        // URL-safe characters are accepted like the client does.
        assert_eq!(dec(json!({"$bytes": "-_8="})).unwrap(), dec(json!({"$bytes": "+/8="})).unwrap());
    }

    #[test]
    fn decode_objects_and_arrays() {
        let v = dec(json!({"b": [1, true, null, "x"], "a": {"$integer": "AQAAAAAAAAA="}, "": {}})).unwrap();
        let mut expected = Object::new();
        expected.insert("".into(), Value::Object(Object::new()));
        expected.insert("a".into(), Value::Int64(1));
        expected.insert(
            "b".into(),
            Value::Array(vec![Value::Float64(1.0), Value::Boolean(true), Value::Null, Value::String("x".into())]),
        );
        assert_eq!(v, Value::Object(expected));
        // Two keys: not special, but `$` field names are invalid.
        let e = dec(json!({"$integer": "AQAAAAAAAAA=", "x": 1})).unwrap_err();
        assert_eq!(e.message, "Field name $integer starts with a '$', which is reserved.");
    }

    #[test]
    fn keys_come_out_sorted() {
        let v = dec(json!({"b": 1, "Name": 2, "_id": "x", "a": 3, "_creationTime": 4})).unwrap();
        let j = v.to_convex_json();
        let keys: Vec<&String> = j.as_object().unwrap().keys().collect();
        assert_eq!(keys, vec!["Name", "_creationTime", "_id", "a", "b"]);
        assert_eq!(serde_json::to_string(&j).unwrap(), r#"{"Name":2.0,"_creationTime":4.0,"_id":"x","a":3.0,"b":1.0}"#);
    }

    #[test]
    fn rejections_with_convex_messages() {
        let msg = |j: Json| dec(j).unwrap_err().message;
        assert_eq!(msg(json!({"$set": []})), "Received a Set which is no longer supported as a Convex type.");
        assert_eq!(msg(json!({"$map": []})), "Received a Map which is no longer supported as a Convex type.");
        assert_eq!(dec(json!({"$undefined": null})).unwrap_err().code, "UndefinedNotAllowed");
        assert_eq!(dec(json!([{"$undefined": null}])).unwrap_err().code, "UndefinedNotAllowed");
        assert_eq!(dec(json!({"$commitTs": null})).unwrap_err().code, "CommitTsNotAllowed");
        assert_eq!(msg(json!({"$float": "AAAAAAAA8D8="})), "Float 1 should be encoded as a number");
        assert_eq!(msg(json!({"$float": "AAAAAAAAAAA="})), "Float 0 should be encoded as a number");
        assert_eq!(msg(json!({"$float": "mpmZmZmZuT8="})), "Float 0.1 should be encoded as a number");
        assert_eq!(msg(json!({"$integer": "AQ=="})), "Received 1 bytes, expected 8 for $integer");
        assert_eq!(msg(json!({"$float": "AQ=="})), "Received 1 bytes, expected 8 for $float");
        assert_eq!(msg(json!({"$integer": "AQ"})), "Invalid string. Length must be a multiple of 4");
        assert_eq!(dec(json!({"$bytes": "A!=="})).unwrap_err().code, "InvalidBase64");
        assert_eq!(msg(json!({"$integer": 5})), "Malformed $integer field on [object Object]");
        assert_eq!(msg(json!({"$bytes": null})), "Malformed $bytes field on [object Object]");
        assert_eq!(msg(json!({"$foo": 1})), "Field name $foo starts with a '$', which is reserved.");
        assert_eq!(
            msg(json!({"a\u{7f}": 1})),
            "Field name a\u{7f} has invalid character '\u{7f}': Field names can only contain non-control ASCII characters"
        );
        assert_eq!(
            msg(json!({"é": 1})),
            "Field name é has invalid character 'é': Field names can only contain non-control ASCII characters"
        );
        assert_eq!(dec(json!({"a": {"$foo": 1}})).unwrap_err().code, "InvalidFieldName");
    }

    #[test]
    fn decode_enforces_limits() {
        let long: Vec<Json> = (0..8193).map(|_| Json::Null).collect();
        assert_eq!(dec(Json::Array(long)).unwrap_err().code, "ArrayTooLong");
        let ok: Vec<Json> = (0..8192).map(|_| Json::Null).collect();
        assert!(dec(Json::Array(ok)).is_ok());
        let mut nested = json!(1);
        for _ in 0..64 {
            nested = json!([nested]);
        }
        assert!(dec(nested.clone()).is_ok());
        let e = dec(json!([nested])).unwrap_err();
        assert_eq!(e.code, "TooNested");
        assert_eq!(e.message, "Value is too nested (nested 65 levels deep > maximum nesting 64)");
        // Very deep input fails early instead of recursing to the bottom.
        let mut deep = json!(null);
        for _ in 0..500 {
            deep = json!({"a": [deep]});
        }
        assert_eq!(dec(deep).unwrap_err().code, "TooNested");
    }

    #[test]
    fn maybe_value() {
        assert_eq!(maybe_value_from_convex_json(&json!({"$undefined": null})).unwrap(), None);
        assert_eq!(maybe_value_from_convex_json(&json!(null)).unwrap(), Some(Value::Null));
        assert!(maybe_value_from_convex_json(&json!({"$undefined": 1})).is_err());
        // Only the top level may be undefined.
        assert!(maybe_value_from_convex_json(&json!({"a": {"$undefined": null}})).is_err());
    }

    #[test]
    fn clean_json() {
        let mut o = Object::new();
        o.insert("i".into(), Value::Int64(-9007199254740993));
        o.insert("b".into(), Value::Bytes(vec![0, 0x10, 0x83]));
        o.insert("n".into(), Value::Float64(f64::NAN));
        o.insert("p".into(), Value::Float64(f64::INFINITY));
        o.insert("m".into(), Value::Float64(f64::NEG_INFINITY));
        o.insert("z".into(), Value::Float64(-0.0));
        o.insert("f".into(), Value::Float64(1.5));
        o.insert("a".into(), Value::Array(vec![Value::Int64(3), Value::Null]));
        assert_eq!(
            Value::Object(o).to_clean_json(),
            json!({"i": "-9007199254740993", "b": "ABCD", "n": "NaN", "p": "Infinity",
                   "m": "-Infinity", "z": -0.0, "f": 1.5, "a": ["3", null]})
        );
    }

    #[test]
    fn size_formula() {
        assert_eq!(Value::Null.size(), 1);
        assert_eq!(Value::Boolean(true).size(), 1);
        assert_eq!(Value::Int64(1).size(), 9);
        assert_eq!(Value::Float64(1.0).size(), 9);
        assert_eq!(Value::String("héllo".into()).size(), 2 + 6);
        assert_eq!(Value::Bytes(vec![1, 2, 3]).size(), 5);
        assert_eq!(Value::Array(vec![Value::Null, Value::Int64(0)]).size(), 2 + 1 + 9);
        let mut o = Object::new();
        o.insert("ab".into(), Value::Null);
        o.insert("c".into(), Value::String("x".into()));
        assert_eq!(Value::Object(o).size(), 2 + (2 + 1 + 1) + (1 + 1 + 3));
        assert_eq!(Value::Object(Object::new()).nesting(), 1);
        assert_eq!(Value::Array(vec![Value::Array(vec![])]).nesting(), 2);
        assert_eq!(Value::Null.nesting(), 0);
    }

    #[test]
    fn total_order_across_types() {
        let ordered = vec![
            Value::Null,
            Value::Int64(i64::MIN),
            Value::Int64(-1),
            Value::Int64(0),
            Value::Int64(i64::MAX),
            Value::Float64(-f64::NAN),
            Value::Float64(f64::NEG_INFINITY),
            Value::Float64(-1.0),
            Value::Float64(-0.0),
            Value::Float64(0.0),
            Value::Float64(0.5),
            Value::Float64(f64::INFINITY),
            Value::Float64(f64::NAN),
            Value::Boolean(false),
            Value::Boolean(true),
            Value::String("".into()),
            Value::String("\u{0}".into()),
            Value::String("A".into()),
            Value::String("a".into()),
            Value::String("\u{ffff}".into()),
            Value::String("\u{1F600}".into()),
            Value::Bytes(vec![]),
            Value::Bytes(vec![0]),
            Value::Bytes(vec![255]),
            Value::Array(vec![]),
            Value::Array(vec![Value::Null]),
            Value::Array(vec![Value::Null, Value::Null]),
            Value::Array(vec![Value::Int64(0)]),
            Value::Object(Object::new()),
        ];
        for (i, a) in ordered.iter().enumerate() {
            for (j, b) in ordered.iter().enumerate() {
                assert_eq!(a.cmp(b), i.cmp(&j), "{a} vs {b}");
            }
        }
        // Ints never equal floats.
        assert!(Value::Int64(1) < Value::Float64(0.5));
        assert_ne!(Value::Int64(1), Value::Float64(1.0));
        // NaN equals itself (same bits).
        assert_eq!(Value::Float64(f64::NAN), Value::Float64(f64::NAN));
    }

    #[test]
    fn object_order() {
        let obj =
            |pairs: &[(&str, Value)]| Value::Object(pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect());
        // Field names first, then values, then fewer fields first.
        assert!(obj(&[("a", Value::Int64(5))]) < obj(&[("b", Value::Int64(0))]));
        assert!(obj(&[("a", Value::Int64(0))]) < obj(&[("a", Value::Int64(1))]));
        assert!(obj(&[("a", Value::Int64(0))]) < obj(&[("a", Value::Int64(0)), ("b", Value::Null)]));
        assert!(obj(&[("a", Value::Null), ("c", Value::Null)]) > obj(&[("a", Value::Null), ("b", Value::Null)]));
        assert_eq!(compare_maybe(None, Some(&Value::Null)), Ordering::Less);
        assert_eq!(compare_maybe(None, None), Ordering::Equal);
    }

    #[test]
    fn display_like_backend() {
        let v = dec(json!({"a": 1, "b": "x\"y", "c": [true, null, {"$integer": "AQAAAAAAAAA="}],
                           "d": {"$bytes": "ABCD"}}))
        .unwrap();
        assert_eq!(v.to_string(), r#"{a: 1.0, b: "x\"y", c: [true, null, 1], d: b"ABCD"}"#);
        assert_eq!(Value::Float64(f64::NAN).to_string(), "NaN");
        assert_eq!(Value::Float64(-0.0).to_string(), "-0.0");
    }

    #[test]
    fn js_number_formatting() {
        for (x, s) in [
            (1.0, "1"),
            (-1.5, "-1.5"),
            (0.1, "0.1"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (123456789.125, "123456789.125"),
            (1e-7, "1e-7"),
            (0.000001, "0.000001"),
            (1.5e-10, "1.5e-10"),
            (f64::MAX, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
        ] {
            assert_eq!(js_number_string(x), s);
        }
    }

    #[test]
    fn type_names() {
        assert_eq!(Value::Float64(1.0).type_name(), "Float64");
        assert_eq!(Value::Int64(1).type_name(), "Int64");
        assert_eq!(Value::Object(Object::new()).type_name(), "Object");
        assert!(Value::Object(Object::new()).as_object().is_some());
        assert!(Value::Null.as_object().is_none());
    }

    proptest::proptest! {
        #[test]
        fn convex_json_round_trip(v in crate::test_strategies::valid_value()) {
            crate::limits::check_value(&v).unwrap();
            let json = v.to_convex_json();
            let text = serde_json::to_string(&json).unwrap();
            let reparsed: Json = serde_json::from_str(&text).unwrap();
            proptest::prop_assert_eq!(Value::from_convex_json(&reparsed).unwrap(), v.clone());
            proptest::prop_assert_eq!(v.size(), Value::from_convex_json(&json).unwrap().size());
        }
    }

    #[test]
    fn get_path() {
        let v = dec(json!({"a": {"b": {"c": 1}}, "x": 2})).unwrap();
        assert_eq!(v.get_path(&["a", "b", "c"]), Some(&Value::Float64(1.0)));
        assert_eq!(v.get_path(&["x", "y"]), None);
        assert_eq!(v.get_path::<&str>(&[]), Some(&v));
    }
}
