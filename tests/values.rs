//! Values and ids over HTTP: Convex JSON round trips (int64 as bigint, bytes, NaN,
//! ±Infinity, -0), key order, validators of every kind naming the failing path,
//! v6 ids accepted/rejected by `v.id` and `normalizeId`, field-name rules.

mod common;

use common::*;
use serde_json::{Value, json};

fn echo(server: &Server, value: Value) -> Value {
    server.query_ok("values:echo", json!({ "value": value }))
}

#[test]
fn int64_round_trips_as_bigint() {
    let s = Server::start();
    for n in [0i64, 1, -1, 42, i64::MAX, i64::MIN, 1 << 53, (1 << 53) + 1] {
        let v = echo(&s, int64(n));
        assert_eq!(v, int64(n), "int64 {n} did not round trip");
        assert_eq!(as_int64(&v), n);
    }
    // Known encoding from the spec: 42n -> "KgAAAAAAAAA=".
    assert_eq!(int64(42), json!({"$integer": "KgAAAAAAAAA="}));
    assert_eq!(s.query_ok("values:describe", json!({"value": int64(42)})), json!("bigint:42"));
    // Arithmetic beyond 2^53 is exact, so the argument really is a bigint inside the function.
    let sum = s.query_ok("values:addInt64", json!({"a": int64(1 << 62), "b": int64(5)}));
    assert_eq!(as_int64(&sum), (1i64 << 62) + 5);
}

#[test]
fn plain_json_numbers_are_float64() {
    let s = Server::start();
    assert_eq!(s.query_ok("values:describe", json!({"value": 5})), json!("number:5"));
    assert_eq!(s.query_ok("values:describe", json!({"value": 0.5})), json!("number:0.5"));
    let v = echo(&s, json!(5));
    assert!(v.is_number(), "a float64 must come back as a plain JSON number, got {v}");
    assert_eq!(v.as_f64(), Some(5.0));
    // An int64 and a float64 are different types.
    let r = s.query_err("values:addInt64", json!({"a": 1, "b": int64(1)}));
    r.assert_contains("ArgumentValidationError");
    r.assert_contains("Path: .a");
    r.assert_contains("Validator: v.int64()");
}

#[test]
fn special_floats_round_trip() {
    let s = Server::start();
    assert_eq!(special_float(f64::NAN), json!({"$float": "AAAAAAAA+H8="}));
    assert_eq!(special_float(-0.0), json!({"$float": "AAAAAAAAAIA="}));
    for (f, expect) in [
        (f64::NAN, "AAAAAAAA+H8="),
        (f64::INFINITY, "AAAAAAAA8H8="),
        (f64::NEG_INFINITY, "AAAAAAAA8P8="),
        (-0.0, "AAAAAAAAAIA="),
    ] {
        let v = echo(&s, special_float(f));
        assert_eq!(v, json!({"$float": expect}), "special float {f} did not round trip");
    }
    let d = s.query_ok(
        "values:describe",
        json!({"value": {
            "nan": special_float(f64::NAN),
            "inf": special_float(f64::INFINITY),
            "neg": special_float(f64::NEG_INFINITY),
            "nz": special_float(-0.0),
            "z": 0.0,
        }}),
    );
    assert_eq!(
        d,
        json!({"inf": "number:Infinity", "nan": "number:NaN", "neg": "number:-Infinity", "nz": "number:-0", "z": "number:0"})
    );
    // +0 stays a plain number.
    let z = echo(&s, json!(0.0));
    assert!(z.is_number(), "0 must be a plain number, got {z}");
}

#[test]
fn finite_float_encoded_as_dollar_float_is_rejected() {
    let s = Server::start();
    // jsonToConvex rejects `$float` for ordinary numbers ("should be encoded as a number").
    let r = s.query("values:echo", json!({"value": special_float(1.5)}));
    assert_ne!(r.json.get("status").and_then(Value::as_str), Some("success"), "got {}", r.text);
}

#[test]
fn bytes_round_trip() {
    let s = Server::start();
    let data: Vec<u8> = (0u8..=255).collect();
    for d in [&[][..], &[0u8][..], &[1, 2, 3, 4, 5][..], &data[..]] {
        let v = echo(&s, bytes(d));
        assert_eq!(v, bytes(d));
        assert_eq!(unb64(v["$bytes"].as_str().unwrap()), d);
    }
    assert_eq!(s.query_ok("values:describe", json!({"value": bytes(&[9, 8, 7])})), json!("bytes:3"));
}

#[test]
fn strings_arrays_objects_round_trip() {
    let s = Server::start();
    let value = json!({
        "s": "héllo wörld 🌍 \u{0} \"quoted\"",
        "empty": "",
        "arr": [1, "two", null, true, false, [int64(3)], {"x": bytes(&[1])}],
        "nested": {"deep": {"deeper": {"deepest": [special_float(f64::INFINITY)]}}},
        "_under": "nested objects may use underscores",
    });
    assert_json_eq(&echo(&s, value.clone()), &value);
    assert_eq!(echo(&s, json!(null)), json!(null));
    assert_eq!(echo(&s, json!(true)), json!(true));
    assert_eq!(echo(&s, json!([])), json!([]));
    assert_eq!(echo(&s, json!({})), json!({}));
}

#[test]
fn object_keys_come_back_sorted() {
    let s = Server::start();
    let v = echo(&s, json!({"b": 1, "a": 2, "_c": 3, "B": 4}));
    assert_eq!(keys(&v), vec!["B", "_c", "a", "b"]);
    let id = send_message(&s, "ann", "hi", "general", 1.0);
    let doc = s.query_ok("messages:get", json!({"id": id}));
    assert_eq!(keys(&doc), vec!["_creationTime", "_id", "author", "body", "channel", "likes"]);
}

fn every_kind_args(ref_id: &str) -> Value {
    json!({
        "str": "s",
        "num": 1.5,
        "f64": special_float(f64::NEG_INFINITY),
        "int": int64(-7),
        "bool": true,
        "nul": null,
        "bytes": bytes(&[1, 2]),
        "lit": "fixed",
        "ref": ref_id,
        "arr": [1, 2, 3],
        "obj": {"a": "x"},
        "rec": {"k1": true, "k2": false},
        "uni": 3,
        "anything": {"whatever": [int64(1), "x"]},
    })
}

#[test]
fn every_validator_kind_accepts_matching_args_and_returns() {
    let s = Server::start();
    let id = send_message(&s, "ann", "hi", "general", 1.0);
    let args = every_kind_args(&id);
    let v = s.query_ok("values:typed", args.clone());
    assert_json_eq(&v, &args);
    // Optional fields present.
    let mut args2 = args.clone();
    args2["opt"] = json!("here");
    args2["obj"] = json!({"a": "x", "b": 2});
    args2["uni"] = json!("a string");
    assert_json_eq(&s.query_ok("values:typed", args2.clone()), &args2);
}

#[test]
fn wrong_argument_types_name_the_field_path() {
    let s = Server::start();
    let id = send_message(&s, "ann", "hi", "general", 1.0);
    let base = every_kind_args(&id);
    let cases: Vec<(&str, Value, Vec<&str>)> = vec![
        ("str", json!(1), vec!["Value does not match validator.", "Path: .str", "Validator: v.string()"]),
        ("num", json!("x"), vec!["Path: .num", "Value: \"x\"", "Validator: v.float64()"]),
        ("num", int64(1), vec!["Path: .num", "Validator: v.float64()"]),
        ("int", json!(1), vec!["Path: .int", "Validator: v.int64()"]),
        ("bool", json!("true"), vec!["Path: .bool", "Validator: v.boolean()"]),
        ("nul", json!(0), vec!["Path: .nul", "Validator: v.null()"]),
        ("bytes", json!("AQI="), vec!["Path: .bytes", "Validator: v.bytes()"]),
        ("lit", json!("other"), vec!["does not match literal validator `v.literal(\"fixed\")`", "Path: .lit"]),
        ("ref", json!("not-an-id"), vec!["Path: .ref", "Validator: v.id(\"messages\")"]),
        ("arr", json!([1, "x"]), vec!["Path: .arr[1]", "Validator: v.float64()"]),
        ("obj", json!({"a": 1}), vec!["Path: .obj.a", "Validator: v.string()"]),
        (
            "obj",
            json!({"a": "x", "c": 1}),
            vec!["Object contains extra field `c` that is not in the validator.", "Path: .obj"],
        ),
        ("obj", json!({}), vec!["Object is missing the required field `a`", "Path: .obj"]),
        ("rec", json!({"k": 1}), vec!["Path: .rec.values()", "Validator: v.boolean()"]),
        ("uni", json!(true), vec!["Path: .uni"]),
        ("opt", json!(5), vec!["Path: .opt", "Validator: v.string()"]),
    ];
    for (field, bad, needles) in cases {
        let mut args = base.clone();
        args[field] = bad.clone();
        let e = s.query_err("values:typed", args);
        e.assert_contains("ArgumentValidationError");
        for n in needles {
            assert!(e.message.contains(n), "field {field}={bad}: missing {n:?} in:\n{}", e.message);
        }
    }
    // Missing required field and extra top-level field.
    let mut missing = base.clone();
    missing.as_object_mut().unwrap().remove("str");
    s.query_err("values:typed", missing)
        .assert_contains("ArgumentValidationError: Object is missing the required field `str`.");
    let mut extra = base.clone();
    extra["bogus"] = json!(1);
    s.query_err("values:typed", extra)
        .assert_contains("ArgumentValidationError: Object contains extra field `bogus` that is not in the validator.");
}

#[test]
fn returns_validator_failure() {
    let s = Server::start();
    let e = s.query_err("values:badReturn", json!({}));
    e.assert_contains("ReturnsValidationError");
    e.assert_contains("Validator: v.string()");
}

#[test]
fn ids_have_the_v6_format() {
    let s = Server::start();
    let m1 = send_message(&s, "ann", "hi", "general", 1.0);
    let m2 = send_message(&s, "bob", "yo", "general", 1.0);
    let c = s.mutation_ok("counters:set", json!({"name": "n", "value": 1.0}));
    let c = c.as_str().unwrap();
    let (t1, i1) = decode_id(&m1).unwrap_or_else(|| panic!("{m1} is not a valid v6 id"));
    let (t2, i2) = decode_id(&m2).unwrap_or_else(|| panic!("{m2} is not a valid v6 id"));
    let (tc, _) = decode_id(c).unwrap_or_else(|| panic!("{c} is not a valid v6 id"));
    assert_eq!(t1, t2, "two messages must share a table number");
    assert_ne!(t1, tc, "messages and counters must have different table numbers");
    assert!(t1 >= 10001 && tc >= 10001, "user tables start at 10001: {t1} {tc}");
    assert_ne!(i1, i2, "internal ids must differ");
    assert_eq!(m1.len(), 32, "user table ids are 32 characters: {m1}");
}

#[test]
fn v_id_accepts_only_ids_of_its_table() {
    let s = Server::start();
    let msg = send_message(&s, "ann", "hi", "general", 1.0);
    let counter = s.mutation_ok("counters:set", json!({"name": "n", "value": 1.0}));
    assert_eq!(s.query_ok("values:takesCounterId", json!({"id": counter})), counter);
    let e = s.query_err("values:takesCounterId", json!({"id": msg}));
    e.assert_contains("ArgumentValidationError");
    e.assert_contains(&format!("Found ID \"{msg}\" from table `messages`, which does not match the table name in validator `v.id(\"counters\")`."));
    e.assert_contains("Path: .id");
    for bad in ["garbage", "", &msg.to_uppercase(), &msg[..msg.len() - 1]] {
        let e = s.query_err("values:takesCounterId", json!({ "id": bad }));
        e.assert_contains("ArgumentValidationError: Value does not match validator.");
        e.assert_contains("Validator: v.id(\"counters\")");
    }
    // A corrupted checksum is not an id.
    let mut chars: Vec<char> = msg.chars().collect();
    let last = chars.len() - 1;
    chars[last] = if chars[last] == '0' { '1' } else { '0' };
    let corrupted: String = chars.into_iter().collect();
    assert!(decode_id(&corrupted).is_none());
    let e = s.query_err("messages:get", json!({ "id": corrupted }));
    e.assert_contains("Value does not match validator.");
}

#[test]
fn normalize_id() {
    let s = Server::start();
    let msg = send_message(&s, "ann", "hi", "general", 1.0);
    assert_eq!(s.query_ok("values:normalize", json!({"table": "messages", "id": msg})), json!(msg));
    assert_eq!(s.query_ok("values:normalize", json!({"table": "counters", "id": msg})), json!(null));
    assert_eq!(s.query_ok("values:normalize", json!({"table": "messages", "id": "garbage"})), json!(null));
    assert_eq!(s.query_ok("values:normalize", json!({"table": "messages", "id": msg.to_uppercase()})), json!(null));
    // A table that does not exist.
    assert_eq!(s.query_ok("values:normalize", json!({"table": "nosuchtable", "id": msg})), json!(null));
}

#[test]
fn schema_with_every_validator_kind_is_enforced() {
    let s = Server::start();
    let id = send_message(&s, "ann", "hi", "general", 1.0);
    let doc = every_kind_args(&id);
    let stored = s.mutation_ok("values:insertKinds", json!({ "doc": doc.clone() }));
    let mut expected = doc.clone();
    expected["_id"] = stored["_id"].clone();
    expected["_creationTime"] = stored["_creationTime"].clone();
    assert_json_eq(&stored, &expected);
    assert!(decode_id(stored["_id"].as_str().unwrap()).is_some());

    let cases: Vec<(&str, Value, &str)> = vec![
        ("int", json!(1), "Path: .int"),
        ("ref", json!("nope"), "Path: .ref"),
        ("lit", json!("other"), "Path: .lit"),
        ("arr", json!(["x"]), "Path: .arr[0]"),
        ("rec", json!({"k": "yes"}), "Path: .rec.values()"),
        ("bytes", json!(null), "Path: .bytes"),
    ];
    for (field, bad, path) in cases {
        let mut d = doc.clone();
        d[field] = bad.clone();
        let e = s.mutation_err("values:insertKinds", json!({ "doc": d }));
        e.assert_contains(
            "Failed to insert or update a document in table \"kinds\" because it does not match the schema",
        );
        assert!(e.message.contains(path), "{field}={bad}: expected {path:?} in {}", e.message);
    }
    // A counters id in a v.id("messages") field.
    let counter = s.mutation_ok("counters:set", json!({"name": "n", "value": 1.0}));
    let mut d = doc.clone();
    d["ref"] = counter.clone();
    s.mutation_err("values:insertKinds", json!({ "doc": d })).assert_contains(
        "from table `counters`, which does not match the table name in validator `v.id(\"messages\")`",
    );
}

#[test]
fn field_names_starting_with_dollar_are_rejected() {
    let s = Server::start();
    s.mutation_err("values:insertDollarField", json!({}))
        .assert_contains("Field name $bad starts with a '$', which is reserved.");
    // As an argument, `{"$bad": 1}` is not valid Convex JSON.
    let r = s.query("values:echo", json!({"value": {"$bad": 1}}));
    assert_ne!(r.json.get("status").and_then(Value::as_str), Some("success"), "got {}", r.text);
    // Nothing was inserted.
    assert_eq!(s.query_ok("items:sorted", json!({"group": "bad"})), json!([]));
}

#[test]
fn top_level_underscore_fields_are_rejected() {
    let s = Server::start();
    let e = s.mutation_err("values:insertUnderscoreField", json!({}));
    e.assert_contains("_secret");
    assert_eq!(s.query_ok("counters:get", json!({"name": "n"})), json!(null));
}

#[test]
fn field_name_rules_apply_to_arguments() {
    let s = Server::start();
    // Up to 1024 printable ASCII characters are fine.
    let ok_key = "k".repeat(1024);
    let v = echo(&s, json!({ ok_key.clone(): 1 }));
    assert_eq!(keys(&v), vec![ok_key]);
    // Longer names, control characters and non-ASCII names are not valid field names.
    for bad in ["k".repeat(1025), "a\u{1}b".to_string(), "naïve".to_string()] {
        let r = s.query("values:echo", json!({"value": { bad.clone(): 1 }}));
        assert_ne!(
            r.json.get("status"),
            Some(&json!("success")),
            "field name {bad:?} accepted: {}",
            &r.text[..r.text.len().min(200)]
        );
    }
    assert_eq!(s.query_ok("logs:silent", json!({})), json!("quiet"));
}

/// `db.vars.commitTs` becomes the mutation's commit timestamp wherever the mutation writes it
/// (insert, patch, a nested mutation's arguments), later mutations get later timestamps, and a
/// query sees them at or below its snapshot; elsewhere the placeholder is refused.
#[test]
fn commit_ts_placeholder_becomes_the_commit_timestamp() {
    let s = Server::start();
    let first = s.mutation_ok("stamps:stamp", json!({"label": "a"}));
    let second = s.mutation_ok("stamps:stamp", json!({"label": "b"}));
    let listed = s.query_ok("stamps:list", json!({}));
    let stamps = listed["stamps"].as_array().unwrap();
    let at = |label: &str| {
        as_int64(&stamps.iter().find(|s| s["label"] == label).unwrap_or_else(|| panic!("no {label}"))["at"])
    };
    let (a, b) = (at("a"), at("b"));
    for label in ["a-2", "a-nested"] {
        assert_eq!(at(label), a, "{label} carries the same commit ts as its mutation");
    }
    assert_eq!(at("b-nested"), b);
    assert!(b > a, "a later mutation commits later: {a} then {b}");
    assert!(a > as_int64(&first["snapshotTs"]), "the commit comes after the mutation's snapshot");
    assert!(b > as_int64(&second["snapshotTs"]));
    assert!(as_int64(&second["snapshotTs"]) >= a, "the second mutation's snapshot includes the first");
    assert_eq!(as_int64(&first["readBack"]), a, "read back inside the mutation: the same timestamp");
    assert_eq!(as_int64(&listed["snapshotTs"]), b, "the query reads at the last commit");
    let order: Vec<_> = stamps.iter().map(|s| s["label"].as_str().unwrap()).collect();
    assert_eq!(order[3..], ["b", "b-2", "b-nested"], "by_at orders by commit ts: {order:?}");

    s.mutation_err("stamps:scheduleWithPlaceholder", json!({})).assert_contains("db.vars.commitTs");
    let r = s.query_err("values:echo", json!({"value": {"$commitTs": null}}));
    r.assert_contains("only be written into a document by a mutation");
}
