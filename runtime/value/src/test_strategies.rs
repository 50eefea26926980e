//! Proptest strategies for values (tests only): special floats, i64 extremes, strings
//! with NUL and non-BMP characters, nested arrays and objects with odd field names.

use proptest::prelude::*;

use crate::{Object, Value};

pub(crate) fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<i64>().prop_map(Value::Int64),
        prop_oneof![Just(i64::MIN), Just(i64::MAX), Just(0), Just(-1), Just(1), Just(127), Just(-128), Just(128)]
            .prop_map(Value::Int64),
        any::<f64>().prop_map(Value::Float64),
        prop_oneof![
            Just(f64::NAN),
            Just(-f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(0.0),
            Just(-0.0),
            Just(f64::MIN_POSITIVE),
            Just(f64::MAX),
            Just(1.0),
        ]
        .prop_map(Value::Float64),
        any::<bool>().prop_map(Value::Boolean),
        "[\\x00\\x01a-c\\u{e000}\\u{ffff}\\u{10000}\\u{1f600}]{0,4}".prop_map(Value::String),
        prop::collection::vec(prop_oneof![Just(0u8), Just(1u8), Just(0xFFu8), any::<u8>()], 0..4)
            .prop_map(Value::Bytes),
    ]
}

pub(crate) fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[\\x00a-b]{0,2}", inner, 0..4).prop_map(|m: Object| Value::Object(m)),
        ]
    })
}

/// Values that pass `limits::check_value` (field names are valid Convex field names).
pub(crate) fn valid_value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[ -#%-~]{0,3}", inner, 0..4).prop_map(|m: Object| Value::Object(m)),
        ]
    })
}
