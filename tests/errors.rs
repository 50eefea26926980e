//! Calls and errors over HTTP: ConvexError data unchanged in `errorData`, other errors
//! as `Uncaught <Name>: <message>` without internals, argument validation naming the
//! path, rollback on throw, console lines as logLines (also on failure).

mod common;

use common::*;
use serde_json::json;

/// Error messages must not leak host internals.
fn assert_no_internals(message: &str) {
    for leak in ["panicked", ".rs:", "rquickjs", "emvex_", "RUST_BACKTRACE", "anyhow"] {
        assert!(!message.contains(leak), "error message leaks {leak:?}: {message}");
    }
}

#[test]
fn convex_error_object_data_is_returned_unchanged() {
    let s = Server::start();
    let e = s.mutation_err("errors:throwConvexError", json!({}));
    e.assert_contains("ConvexError");
    let data = e.data.expect("errorData must be present for a ConvexError");
    assert_json_eq(
        &data,
        &json!({
            "code": "NOT_ALLOWED",
            "count": 3,
            "big": int64(7),
            "nested": {"ok": false, "list": [1, "two", null]},
        }),
    );
    assert_no_internals(&e.message);
}

#[test]
fn convex_error_string_data() {
    let s = Server::start();
    let e = s.query_err("errors:throwConvexErrorString", json!({}));
    e.assert_contains("Uncaught ConvexError: just a string");
    assert_eq!(e.data, Some(json!("just a string")));
}

#[test]
fn plain_errors_have_no_error_data() {
    let s = Server::start();
    let e = s.query_err("errors:throwPlain", json!({}));
    e.assert_contains("Uncaught Error: boom");
    assert!(e.data.is_none(), "a plain Error must not carry errorData: {:?}", e.data);
    assert_no_internals(&e.message);
    let e = s.query_err("errors:throwTypeError", json!({}));
    e.assert_contains("Uncaught TypeError:");
    assert!(e.data.is_none());
    assert_no_internals(&e.message);
}

#[test]
fn error_message_format() {
    let s = Server::start();
    let r = s.query("errors:throwPlain", json!({}));
    assert_eq!(r.status, 200);
    let msg = r.json["errorMessage"].as_str().unwrap();
    // `[Request ID: <id>] Server Error\nUncaught Error: boom ...`
    assert_server_error_prefix(msg);
    let after = &msg[msg.find("] Server Error\n").unwrap() + "] Server Error\n".len()..];
    assert!(after.starts_with("Uncaught Error: boom"), "unexpected error text after the prefix: {after:?}");
    // Two calls get different request ids.
    let r2 = s.query("errors:throwPlain", json!({}));
    let id = |m: &str| m["[Request ID: ".len()..m.find(']').unwrap()].to_string();
    assert_ne!(id(msg), id(r2.json["errorMessage"].as_str().unwrap()));
}

#[test]
fn argument_validation_errors_name_the_field() {
    let s = Server::start();
    let e = s.mutation_err("messages:send", json!({"author": "a", "channel": "c"}));
    e.assert_contains("ArgumentValidationError: Object is missing the required field `body`.");
    let e = s.mutation_err("messages:send", json!({"author": "a", "body": "b", "channel": "c", "likes": "many"}));
    e.assert_contains("ArgumentValidationError: Value does not match validator.");
    e.assert_contains("Path: .likes");
    e.assert_contains("Value: \"many\"");
    e.assert_contains("Validator: v.float64()");
    let e = s.mutation_err("messages:send", json!({"author": "a", "body": "b", "channel": "c", "tags": ["x", 1]}));
    e.assert_contains("Path: .tags[1]");
    let e = s.mutation_err("messages:send", json!({"author": "a", "body": "b", "channel": "c", "bogus": 1}));
    e.assert_contains("ArgumentValidationError: Object contains extra field `bogus` that is not in the validator.");
    // Nothing was inserted by any of these.
    assert_eq!(s.query_ok("messages:count", json!({})).as_f64(), Some(0.0));
}

#[test]
fn rollback_on_throw() {
    let s = Server::start();
    s.mutation_ok("counters:set", json!({"name": "keep", "value": 1}));
    s.mutation_err("errors:insertThenThrow", json!({"name": "keep"}))
        .assert_contains("Uncaught Error: rolled back keep");
    assert_json_eq(&s.query_ok("errors:counterValues", json!({"name": "keep"})), &json!([1]));
    s.mutation_err("errors:throwConvexError", json!({}));
    assert_json_eq(&s.query_ok("errors:counterValues", json!({"name": "keep"})), &json!([1]));
}

#[test]
fn log_lines_are_returned() {
    let s = Server::start();
    let r = s.query("logs:logAll", json!({}));
    assert_eq!(r.ok_value("logs:logAll"), json!("logged"));
    assert_eq!(
        r.json["logLines"],
        json!(["[LOG] 'plain log' 1 true", "[INFO] 'some info'", "[WARN] 'a warning'", "[ERROR] 'an error'"])
    );
    // logLines are omitted when empty.
    let r = s.query("logs:silent", json!({}));
    assert_eq!(r.ok_value("logs:silent"), json!("quiet"));
    assert!(r.json.get("logLines").is_none(), "logLines must be omitted when empty: {}", r.text);
}

#[test]
fn log_lines_survive_a_failure() {
    let s = Server::start();
    let e = s.mutation_err("logs:logThenThrow", json!({"message": "nope"}));
    e.assert_contains("Uncaught Error: nope");
    assert_eq!(e.log_lines, Some(json!(["[LOG] 'before throw'"])));
}

#[test]
fn a_promise_that_never_resolves_fails() {
    let s = Server::start();
    s.query_err("limits:neverResolves", json!({})).assert_contains("never resolve");
    assert_eq!(s.query_ok("logs:silent", json!({})), json!("quiet"));
}

#[test]
fn unknown_and_non_function_exports() {
    let s = Server::start();
    s.query_err("messages:nope", json!({})).assert_contains("Could not find public function for 'messages:nope'");
    s.query_err("nosuchmodule:fn", json!({})).assert_contains("Could not find public function for 'nosuchmodule:fn'");
    s.query_err("errors:notAFunction", json!({}))
        .assert_contains("Could not find public function for 'errors:notAFunction'");
    s.mutation_err("messages:nope", json!({})).assert_contains("Could not find public function for 'messages:nope'");
}

#[test]
fn internal_functions_look_missing_to_the_public() {
    let s = Server::start();
    let missing = s.query_err("errors:noSuchThing", json!({"x": 1}));
    let internal = s.query_err("errors:secretQuery", json!({"x": 1}));
    internal.assert_contains("Could not find public function for 'errors:secretQuery'");
    // Same text as for a missing function, apart from the name and request id.
    let strip = |m: &str, name: &str| m[m.find("] Server Error").unwrap()..].replace(name, "NAME");
    assert_eq!(strip(&missing.message, "noSuchThing"), strip(&internal.message, "secretQuery"));
    s.mutation_err("errors:secretMutation", json!({"name": "sneaky"}))
        .assert_contains("Could not find public function for 'errors:secretMutation'");
    assert_eq!(s.query_ok("counters:get", json!({"name": "sneaky"})), json!(null));
}

#[test]
fn wrong_function_kind() {
    let s = Server::start();
    s.mutation_err("messages:list", json!({}))
        .assert_contains("Trying to execute messages.js:list as Mutation, but it is defined as Query.");
    s.query_err("messages:send", json!({"author": "a", "body": "b", "channel": "c"}))
        .assert_contains("Trying to execute messages.js:send as Query, but it is defined as Mutation.");
    assert_eq!(s.query_ok("messages:count", json!({})).as_f64(), Some(0.0));
}

#[test]
fn file_storage_is_served_in_mutations() {
    // Until issue 10 this was refused with an error naming the feature (`unsupported.rs` still
    // words the errors of operations emvex does not serve; its unit tests check them).
    let s = Server::start();
    let url = s.mutation_ok("system:uploadUrl", json!({}));
    assert!(url.as_str().unwrap().starts_with(&format!("{}/api/storage/upload?token=", s.url)), "{url}");
}
