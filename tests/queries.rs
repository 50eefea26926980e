//! Query syscalls over HTTP: index ranges (eq/gt/gte/lt/lte, multi-field), order,
//! the cross-type total order, the filter language, take/first/unique/collect/count,
//! db.system, getUserIdentity, function metadata, determinism, fetch/setTimeout errors.

mod common;

use common::*;
use serde_json::{Value, json};

fn seed_messages(s: &Server) {
    // (author, body, channel, likes)
    for (a, b, c, l) in [
        ("ann", "a1", "general", 1.0),
        ("bob", "b1", "general", 5.0),
        ("ann", "a2", "random", 3.0),
        ("ann", "a3", "general", 7.0),
        ("bob", "b2", "random", 2.0),
        ("ann", "a4", "general", 5.0),
    ] {
        send_message(s, a, b, c, l);
    }
}

fn bodies(v: &Value) -> Vec<String> {
    v.as_array().unwrap().iter().map(|d| d["body"].as_str().unwrap().to_string()).collect()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap_or_else(|| panic!("not a number: {x}"))).collect()
}

#[test]
fn with_index_eq_and_order() {
    let s = Server::start();
    seed_messages(&s);
    assert_eq!(bodies(&s.query_ok("messages:byChannel", json!({"channel": "general"}))), ["a1", "b1", "a3", "a4"]);
    assert_eq!(
        bodies(&s.query_ok("messages:byChannel", json!({"channel": "general", "order": "desc"}))),
        ["a4", "a3", "b1", "a1"]
    );
    assert_eq!(bodies(&s.query_ok("messages:byChannel", json!({"channel": "nobody"}))), Vec::<String>::new());
    assert_eq!(
        bodies(&s.query_ok("messages:byChannelAuthor", json!({"channel": "general", "author": "ann"}))),
        ["a1", "a3", "a4"]
    );
    assert_eq!(bodies(&s.query_ok("messages:byChannelAuthor", json!({"channel": "random", "author": "bob"}))), ["b2"]);
}

#[test]
fn index_ranges_gt_gte_lt_lte() {
    let s = Server::start();
    seed_messages(&s);
    let range = |op: &str, value: f64| {
        floats(&s.query_ok("messages:likesRange", json!({"author": "ann", "op": op, "value": value})))
    };
    // ann's likes: 1, 3, 7, 5 -> index order 1, 3, 5, 7
    assert_eq!(range("gt", 3.0), [5.0, 7.0]);
    assert_eq!(range("gte", 3.0), [3.0, 5.0, 7.0]);
    assert_eq!(range("lt", 5.0), [1.0, 3.0]);
    assert_eq!(range("lte", 5.0), [1.0, 3.0, 5.0]);
    assert_eq!(range("gt", 100.0), Vec::<f64>::new());
    assert_eq!(
        floats(&s.query_ok("messages:likesRange", json!({"author": "ann", "op": "between", "value": 1, "upper": 5}))),
        [3.0, 5.0]
    );
}

#[test]
fn index_misuse_errors() {
    let s = Server::start();
    seed_messages(&s);
    s.query_err("messages:badIndexOrder", json!({})).assert_contains(
        "Tried to query index messages.by_channel_author but the query didn't use the index fields in order.",
    );
    s.query_err("messages:missingIndex", json!({})).assert_contains("Index messages.by_nothing not found.");
}

#[test]
fn first_take_unique() {
    let s = Server::start();
    assert_eq!(s.query_ok("messages:firstInChannel", json!({"channel": "general"})), json!(null));
    assert_eq!(s.query_ok("messages:uniqueInChannel", json!({"channel": "general"})), json!(null));
    seed_messages(&s);
    assert_eq!(s.query_ok("messages:firstInChannel", json!({"channel": "general"}))["body"], json!("a1"));
    assert_eq!(s.query_ok("messages:takeInChannel", json!({"channel": "general", "n": 2})), json!(["a1", "b1"]));
    assert_eq!(s.query_ok("messages:takeInChannel", json!({"channel": "general", "n": 0})), json!([]));
    assert_eq!(
        s.query_ok("messages:takeInChannel", json!({"channel": "general", "n": 100})),
        json!(["a1", "b1", "a3", "a4"])
    );
    send_message(&s, "solo", "only", "lonely", 0.0);
    assert_eq!(s.query_ok("messages:uniqueInChannel", json!({"channel": "lonely"}))["body"], json!("only"));
    s.query_err("messages:uniqueInChannel", json!({"channel": "random"}))
        .assert_contains("unique() query returned more than one result from table messages:");
}

#[test]
fn early_break_from_iteration() {
    let s = Server::start();
    seed_messages(&s);
    assert_eq!(s.query_ok("messages:bodiesUntil", json!({"stopAt": "a2"})), json!(["a1", "b1", "a2"]));
    // The next query works normally (the cursor was cleaned up).
    assert_eq!(s.query_ok("messages:count", json!({})).as_f64(), Some(6.0));
}

#[test]
fn count_sees_every_document() {
    let s = Server::start();
    assert_eq!(s.query_ok("messages:count", json!({})).as_f64(), Some(0.0));
    seed_messages(&s);
    assert_eq!(s.query_ok("messages:count", json!({})).as_f64(), Some(6.0));
}

/// Values in the Convex total order (lowest first), one per type and the float edge cases.
fn ordered_values() -> Vec<Value> {
    vec![
        json!(null),
        int64(i64::MIN),
        int64(-1),
        int64(5),
        special_float(f64::NEG_INFINITY),
        json!(-1.5),
        special_float(-0.0),
        json!(0.0),
        json!(2.5),
        special_float(f64::INFINITY),
        special_float(f64::NAN),
        json!(false),
        json!(true),
        json!(""),
        json!("A"),
        json!("a"),
        json!("ab"),
        json!("é"),
        // Strings compare by UTF-8 bytes: U+E000 (EE 80 80) sorts before U+1F600 (F0 ...),
        // although JS's UTF-16 `<` says the opposite.
        json!("\u{e000}"),
        json!("😀"),
        bytes(&[]),
        bytes(&[0]),
        bytes(&[1, 2]),
        json!([]),
        json!([1.0]),
        json!([1.0, 2.0]),
        json!([2.0]),
        json!({}),
        json!({"a": 1.0}),
        json!({"a": 2.0}),
        json!({"b": 0.0}),
    ]
}

#[test]
fn index_order_is_the_convex_total_order() {
    let s = Server::start();
    let values = ordered_values();
    // Insert in a scrambled order.
    let mut scrambled = values.clone();
    scrambled.reverse();
    scrambled.rotate_left(7);
    s.mutation_ok("items:addAll", json!({"group": "order", "values": scrambled}));
    s.mutation_ok("items:addWithoutValue", json!({"group": "order"}));
    let sorted = s.query_ok("items:sorted", json!({"group": "order"}));
    let sorted = sorted.as_array().unwrap();
    // The document without `value` sorts first (undefined is lowest); it comes back without the field.
    assert_eq!(sorted.len(), values.len() + 1);
    assert_eq!(sorted[0], json!("<missing>"), "a document without the field sorts first (undefined is lowest)");
    assert_json_eq(&Value::Array(sorted[1..].to_vec()), &Value::Array(values.clone()));
    let desc = s.query_ok("items:sorted", json!({"group": "order", "order": "desc"}));
    let mut expected_desc = values.clone();
    expected_desc.reverse();
    assert_json_eq(&Value::Array(desc.as_array().unwrap()[..values.len()].to_vec()), &Value::Array(expected_desc));
    assert_eq!(s.query_ok("items:missingValue", json!({})), json!(["order"]));
}

#[test]
fn index_bounds_are_type_agnostic() {
    let s = Server::start();
    let values = ordered_values();
    s.mutation_ok("items:addAll", json!({"group": "t", "values": values}));
    // gt 0.0: every float above +0 and every value of a type sorting after float64.
    let gt = s.query_ok("items:range", json!({"group": "t", "op": "gt", "bound": 0.0}));
    let first_after_zero = values.iter().position(|v| v == &json!(0.0)).unwrap() + 1;
    assert_json_eq(&gt, &Value::Array(values[first_after_zero..].to_vec()));
    // lt 0.0: null, every int64, and floats below +0 (incl. -0).
    let lt = s.query_ok("items:range", json!({"group": "t", "op": "lt", "bound": 0.0}));
    assert_json_eq(&lt, &Value::Array(values[..first_after_zero - 1].to_vec()));
    let lte = s.query_ok("items:range", json!({"group": "t", "op": "lte", "bound": 0.0}));
    assert_json_eq(&lte, &Value::Array(values[..first_after_zero].to_vec()));
    // gte "a": strings from "a" on, then bytes, arrays, objects.
    let gte = s.query_ok("items:range", json!({"group": "t", "op": "gte", "bound": "a"}));
    let a = values.iter().position(|v| v == &json!("a")).unwrap();
    assert_json_eq(&gte, &Value::Array(values[a..].to_vec()));
    // An int64 bound: lt 0n keeps null and negative ints only.
    let lt_int = s.query_ok("items:range", json!({"group": "t", "op": "lt", "bound": int64(0)}));
    assert_json_eq(&lt_int, &json!([null, int64(i64::MIN), int64(-1)]));
}

fn filtered(s: &Server, group: &str, which: &str) -> Value {
    s.query_ok("items:filtered", json!({"group": group, "which": which}))
}

#[test]
fn filter_language() {
    let s = Server::start();
    s.mutation_ok("items:addAll", json!({"group": "mixed", "values": [1.0, 2.0, 3.0, 5.0, 12.0, "one", int64(1)]}));
    s.mutation_ok("items:addAll", json!({"group": "floats", "values": [1.0, 2.0, 3.0, 4.0]}));
    s.mutation_ok(
        "items:addAll",
        json!({"group": "nested", "values": [{"inner": "deep"}, {"inner": "shallow"}, "deep", {"other": "deep"}]}),
    );
    assert_json_eq(&filtered(&s, "mixed", "and"), &json!([2.0, 3.0, 5.0]));
    assert_json_eq(&filtered(&s, "mixed", "or"), &json!([1.0, "one"]));
    assert_json_eq(&filtered(&s, "mixed", "not"), &json!([2.0, 3.0, 5.0, 12.0, "one", int64(1)]));
    assert_json_eq(&filtered(&s, "mixed", "neq"), &json!([2.0, 3.0, 5.0, 12.0, "one", int64(1)]));
    assert_json_eq(&filtered(&s, "mixed", "eqInt"), &json!([int64(1)]));
    // "a" > every number and every int64; "one" > "a".
    assert_json_eq(&filtered(&s, "mixed", "crossType"), &json!([1.0, 2.0, 3.0, 5.0, 12.0, int64(1)]));
    assert_json_eq(&filtered(&s, "floats", "arith"), &json!([3.0]));
    assert_json_eq(&filtered(&s, "floats", "mod"), &json!([1.0, 3.0]));
    assert_json_eq(&filtered(&s, "floats", "neg"), &json!([2.0]));
    assert_json_eq(&filtered(&s, "nested", "nestedField"), &json!([{"inner": "deep"}]));
}

#[test]
fn filter_evaluation_errors() {
    let s = Server::start();
    s.mutation_ok("items:addAll", json!({"group": "floats", "values": [1.0]}));
    // Mixed int64/float64 arithmetic is an EvalError ("Cannot add 1 (type ...) and 1 (type ...)").
    let e = s.query_err("items:filtered", json!({"group": "floats", "which": "addMixed"}));
    e.assert_contains("Uncaught Error: Cannot add ");
    // `not` of a non-boolean is an error too, raised inside the function.
    s.query_err("items:filtered", json!({"group": "floats", "which": "notBoolean"})).assert_contains("Uncaught Error:");
    // Float arithmetic follows IEEE-754 and is not an error.
    assert_json_eq(&filtered(&s, "floats", "arith"), &json!([]));
}

#[test]
fn system_table_scheduled_functions() {
    let s = Server::start();
    assert_eq!(s.query_ok("system:scheduled", json!({})), json!([]));
    let job = s.mutation_ok("system:scheduleLater", json!({"name": "later"}));
    assert!(job.is_string(), "runAfter returns the job id: {job}");
    let jobs = s.query_ok("system:scheduled", json!({}));
    assert_json_eq(&jobs, &json!([{"name": "system.js:noteRun", "args": [{"name": "later"}], "kind": "pending"}]));
    // The job has not run (it is an hour away).
    assert_eq!(s.query_ok("counters:get", json!({"name": "later"})), json!(null));
    // A failed mutation schedules nothing.
    s.mutation_err("errors:insertThenThrow", json!({"name": "x"}));
    assert_eq!(s.query_ok("system:scheduled", json!({})).as_array().unwrap().len(), 1);
}

#[test]
fn system_get_and_normalize_id_of_a_scheduled_job() {
    let s = Server::start();
    let job = s.mutation_ok("system:scheduleLater", json!({"name": "j"}));
    let got = s.query_ok("system:scheduledJob", json!({ "id": job }));
    assert_eq!(got["id"], job);
    assert_eq!(got["name"], json!("system.js:noteRun"));
    assert_eq!(got["kind"], json!("pending"));
    assert!(got["scheduledTime"].as_f64().is_some(), "{got}");
    // A user-table id is not a `_scheduled_functions` id.
    let msg = send_message(&s, "a", "b", "c", 0.0);
    assert_eq!(s.query_ok("system:scheduledJob", json!({ "id": msg })), json!(null));
}

#[test]
fn scanning_a_table_that_was_never_written_is_empty() {
    let s = Server::start();
    assert_eq!(s.query_ok("items:scanMissingTable", json!({})), json!([]));
}

#[test]
fn user_identity_is_null_without_auth() {
    let s = Server::start();
    assert_eq!(s.query_ok("system:whoAmI", json!({})), json!(null));
}

#[test]
fn function_metadata() {
    let s = Server::start();
    assert_json_eq(
        &s.query_ok("system:metadata", json!({})),
        &json!({"name": "system:metadata", "componentPath": "", "type": "query", "visibility": "public"}),
    );
    assert_json_eq(
        &s.mutation_ok("system:mutationMetadata", json!({})),
        &json!({"name": "system:mutationMetadata", "componentPath": "", "type": "mutation", "visibility": "public"}),
    );
}

#[test]
fn date_now_is_frozen_and_real() {
    let s = Server::start();
    let r = s.query_ok("determinism:now", json!({}));
    let a = r["a"].as_f64().unwrap();
    assert_eq!(r["b"].as_f64(), Some(a), "Date.now() must not advance within a query: {r}");
    assert_eq!(r["c"].as_f64(), Some(a), "new Date() must agree with Date.now(): {r}");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as f64;
    assert!((now - a).abs() < 60_000.0, "Date.now() {a} is far from the real time {now}");
}

#[test]
fn math_random_works_in_queries_and_mutations() {
    let s = Server::start();
    let r = floats(&s.query_ok("determinism:random", json!({})));
    assert_eq!(r.len(), 3);
    for x in &r {
        assert!((0.0..1.0).contains(x), "Math.random() out of range: {r:?}");
    }
    assert!(r[0] != r[1] || r[1] != r[2], "Math.random() is constant: {r:?}");
    let m = floats(&s.mutation_ok("determinism:randomInMutation", json!({})));
    assert_eq!(m.len(), 2);
    assert!(m.iter().all(|x| (0.0..1.0).contains(x)), "{m:?}");
}

#[test]
fn fetch_and_set_timeout_are_refused() {
    let s = Server::start();
    s.query_err("determinism:callsFetch", json!({}))
        .assert_contains("Can't use fetch() in queries and mutations. Please consider using an action.");
    s.query_err("determinism:callsSetTimeout", json!({}))
        .assert_contains("Can't use setTimeout in queries and mutations. Please consider using an action.");
    // The server keeps working.
    assert_eq!(s.query_ok("logs:silent", json!({})), json!("quiet"));
}

#[test]
fn request_metadata_names_the_caller_the_request_and_the_scheduled_job() {
    let s = Server::start();
    let body = json!({ "path": "system:requestMetadata", "args": [{}] });
    let response: Value = s
        .client()
        .post(format!("{}/api/mutation", s.url))
        .header("User-Agent", "emvex-test/1")
        .json(&body)
        .send()
        .expect("mutation")
        .json()
        .expect("json");
    let meta = &response["value"];
    assert_eq!(meta["ip"], json!("127.0.0.1"), "{response}");
    assert_eq!(meta["userAgent"], json!("emvex-test/1"));
    assert_eq!(meta["scheduledFunctionId"], json!(null));
    assert!(meta["requestId"].as_str().is_some_and(|id| !id.is_empty()), "{response}");

    // The id a function sees is the one its client is told in an error.
    let e = s.mutation_err("system:failWithRequestId", json!({}));
    let told = e.message.strip_prefix("[Request ID: ").and_then(|rest| rest.split_once(']')).map(|(id, _)| id);
    let told = told.unwrap_or_else(|| panic!("no request id in {:?}", e.message));
    e.assert_contains(&format!("seen {told}"));

    let job = s.mutation_ok("system:scheduleNote", json!({}));
    let job = job.as_str().expect("a job id").to_string();
    poll("the scheduled run", std::time::Duration::from_secs(10), || {
        match s.query_ok("counters:get", json!({ "name": format!("seen:{job}") })) {
            Value::Null => Err("not yet".into()),
            found => Ok(found),
        }
    });
}

#[test]
fn transaction_metrics_count_what_the_mutation_did() {
    let s = Server::start();
    s.mutation_ok("counters:set", json!({ "name": "m1", "value": 1 }));
    s.mutation_ok("counters:set", json!({ "name": "m2", "value": 2 }));
    let m = s.mutation_ok("system:metrics", json!({ "name": "m3" }));
    let used = |key: &str| m[key]["used"].as_f64().unwrap_or_else(|| panic!("{key} in {m}"));
    let remaining = |key: &str| m[key]["remaining"].as_f64().unwrap_or_else(|| panic!("{key} in {m}"));
    assert_eq!(used("documentsRead"), 2.0, "{m}");
    assert!(used("bytesRead") > 0.0, "{m}");
    assert_eq!(used("databaseQueries"), 1.0, "{m}");
    assert_eq!(used("documentsWritten"), 1.0, "the job in _scheduled_functions is not counted: {m}");
    assert!(used("bytesWritten") > 0.0, "{m}");
    assert_eq!(used("functionsScheduled"), 1.0, "{m}");
    assert_eq!(remaining("functionsScheduled"), 999.0, "{m}");
    assert!(used("scheduledFunctionArgsBytes") > 0.0, "{m}");
    assert_eq!(remaining("documentsRead"), 32_000.0 - 2.0, "{m}");
}
