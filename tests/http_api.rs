//! The HTTP API (client-protocol.md §0.5, §0.6, §1): envelopes, args shapes, formats,
//! `/api/run/...`, admin-only `/api/function`, internal functions, `/api/action`,
//! CORS preflight, and 4xx answers for malformed requests.

mod common;

use common::*;
use serde_json::{Value, json};

#[test]
fn success_envelope() {
    let s = Server::start();
    let r = s.query("logs:silent", json!({}));
    assert_eq!(r.status, 200);
    assert_eq!(r.json, json!({"status": "success", "value": "quiet"}));
    let ct = r.header("content-type").unwrap_or_default();
    assert!(ct.starts_with("application/json"), "content-type {ct:?}");
}

#[test]
fn args_as_array_object_or_missing() {
    let s = Server::start();
    let as_array = s.post(
        "/api/query",
        &json!({"path": "values:echo", "args": [{"value": 1}], "format": "convex_encoded_json"}),
        false,
    );
    assert_eq!(as_array.ok_value("array args").as_f64(), Some(1.0));
    let as_object = s.post(
        "/api/query",
        &json!({"path": "values:echo", "args": {"value": 2}, "format": "convex_encoded_json"}),
        false,
    );
    assert_eq!(as_object.ok_value("object args").as_f64(), Some(2.0));
    let missing = s.post("/api/query", &json!({"path": "logs:silent", "format": "convex_encoded_json"}), false);
    assert_eq!(missing.ok_value("missing args"), json!("quiet"));
}

#[test]
fn path_forms() {
    let s = Server::start();
    // `module.js:fn` is the same function as `module:fn`.
    assert_eq!(s.query_ok("logs.js:silent", json!({})), json!("quiet"));
    // A bare module path means `:default`, which this module does not export.
    s.query_err("logs", json!({})).assert_contains("Could not find public function for 'logs");
}

#[test]
fn default_format_is_clean_json() {
    let s = Server::start();
    // Without `format`, values use the clean "json" export: int64 as a decimal string.
    let r = s.post("/api/query", &json!({"path": "values:echo", "args": {"value": int64(42)}}), false);
    assert_eq!(r.ok_value("default format"), json!("42"));
    let r = s.post(
        "/api/query",
        &json!({"path": "values:echo", "args": {"value": int64(42)}, "format": "convex_encoded_json"}),
        false,
    );
    assert_eq!(r.ok_value("encoded format"), int64(42));
    let r = s.post("/api/query", &json!({"path": "values:echo", "args": {"value": 1}, "format": "yaml"}), false);
    assert_eq!(r.status, 400, "an unknown format is a bad request: {}", r.text);
}

#[test]
fn mutation_then_query_reads_the_write() {
    let s = Server::start();
    let id = send_message(&s, "ann", "hi", "general", 0.0);
    let doc = s.query_ok("messages:get", json!({ "id": id }));
    assert_eq!(doc["body"], json!("hi"));
}

#[test]
fn run_endpoint() {
    let s = Server::start();
    let id = s.run("messages/send", json!({"author": "ann", "body": "via run", "channel": "c"}));
    let id = id.ok_value("run messages/send");
    let doc = s.run("messages/get", json!({ "id": id })).ok_value("run messages/get");
    assert_eq!(doc["body"], json!("via run"));
    // Default format of /api/run is clean json.
    let r = s.post("/api/run/values/echo", &json!({"args": {"value": int64(7)}}), false);
    assert_eq!(r.ok_value("run default format"), json!("7"));
    // Internal functions are hidden from /api/run without the admin key.
    s.run("errors/secretQuery", json!({"x": 1}))
        .fn_error("run internal")
        .assert_contains("Could not find public function for 'errors:secretQuery'");
    // ... and reachable with it.
    let r = s.post("/api/run/errors/secretQuery", &json!({"args": {"x": 4}, "format": "convex_encoded_json"}), true);
    assert_eq!(r.ok_value("run internal as admin").as_f64(), Some(8.0));
    // Fewer than two segments.
    let r = s.post("/api/run/messages", &json!({"args": {}}), false);
    assert_eq!(r.status, 400, "{}", r.text);
}

#[test]
fn admin_function_endpoint() {
    let s = Server::start();
    assert_eq!(s.function("errors:secretQuery", json!({"x": 21})).ok_value("secretQuery").as_f64(), Some(42.0));
    let id = s.function("errors:secretMutation", json!({"name": "adm"})).ok_value("secretMutation");
    assert!(id.is_string());
    assert_eq!(s.query_ok("counters:get", json!({"name": "adm"})).as_f64(), Some(100.0));
    // Public functions too; the kind is detected server-side.
    assert_eq!(s.function("logs:silent", json!({})).ok_value("public via admin"), json!("quiet"));
    s.function("messages:nope", json!({}))
        .fn_error("unknown via admin")
        .assert_contains("Could not find function for 'messages:nope'");
}

#[test]
fn admin_function_endpoint_requires_the_key() {
    let s = Server::start();
    let r = s.post("/api/function", &call_body("errors:secretQuery", json!({"x": 1})), false);
    assert_eq!(r.status, 403, "no key: {}", r.text);
    let r = s.post_raw(
        "/api/function",
        &call_body("errors:secretQuery", json!({"x": 1})).to_string(),
        &[("Content-Type", "application/json"), ("Authorization", "Convex wrong-key")],
    );
    assert!(r.status == 401 || r.status == 403, "wrong key must be refused, got {}: {}", r.status, r.text);
    assert!(r.json.get("status").is_none(), "a refused admin call must not run the function: {}", r.text);
}

#[test]
fn admin_key_unlocks_internal_functions_on_public_routes() {
    let s = Server::start();
    let r = s.post("/api/query", &call_body("errors:secretQuery", json!({"x": 5})), true);
    assert_eq!(r.ok_value("internal query as admin").as_f64(), Some(10.0));
    let r = s.post("/api/mutation", &call_body("errors:secretMutation", json!({"name": "a2"})), true);
    r.ok_value("internal mutation as admin");
    // Without the key: same answer as a missing function.
    s.query_err("errors:secretQuery", json!({"x": 5}))
        .assert_contains("Could not find public function for 'errors:secretQuery'");
}

#[test]
fn action_endpoint_gives_a_clear_error() {
    let s = Server::start();
    let r = s.action("messages:list", json!({}));
    assert_ne!(r.json.get("status"), Some(&json!("success")), "a query is not an action: {}", r.text);
    assert!(!r.text.is_empty());
    if r.status == 200 {
        let e = r.fn_error("action");
        assert!(
            e.message.contains("is defined as Query") || e.message.to_lowercase().contains("action"),
            "unclear action error: {}",
            e.message
        );
    }
    let r = s.action("nosuch:action", json!({}));
    assert_ne!(r.json.get("status"), Some(&json!("success")), "{}", r.text);
}

#[test]
fn malformed_bodies_are_400_with_a_message() {
    let s = Server::start();
    let json_ct = [("Content-Type", "application/json")];
    for (what, body) in [
        ("not json", "{not json"),
        ("empty body", ""),
        ("json array", "[1, 2]"),
        ("missing path", r#"{"args": {}}"#),
        ("path not a string", r#"{"path": 5, "args": {}}"#),
    ] {
        for route in ["/api/query", "/api/mutation"] {
            let r = s.post_raw(route, body, &json_ct);
            assert_eq!(r.status, 400, "{what} on {route}: HTTP {} {}", r.status, r.text);
            assert!(!r.text.trim().is_empty(), "{what} on {route}: 400 without a message");
            if let Some(obj) = r.json.as_object() {
                assert!(
                    obj.get("message").and_then(Value::as_str).is_some_and(|m| !m.is_empty()),
                    "{what}: {}",
                    r.text
                );
            }
        }
    }
    // Args that are neither an object nor an array: refused, either as 400 or as a function error.
    let r = s.post_raw("/api/query", r#"{"path": "logs:silent", "args": "x"}"#, &json_ct);
    assert!(r.status == 400 || r.json["status"] == json!("error"), "string args accepted: {}", r.text);
    // Bad function path syntax.
    let r = s.post("/api/query", &json!({"path": "bad path!", "args": {}}), false);
    assert_eq!(r.status, 400, "{}", r.text);
    // Invalid Convex JSON in args.
    let r = s.post(
        "/api/query",
        &json!({"path": "values:echo", "args": {"value": {"$integer": "short"}}, "format": "convex_encoded_json"}),
        false,
    );
    assert!(r.status == 400 || r.json["status"] == json!("error"), "bad $integer accepted: {}", r.text);
    // The server still works.
    assert_eq!(s.query_ok("logs:silent", json!({})), json!("quiet"));
}

#[test]
fn cors_preflight() {
    let s = Server::start();
    let resp = s
        .client()
        .request(reqwest::Method::OPTIONS, format!("{}/api/query", s.url))
        .header("Origin", "http://example.com")
        .header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", "content-type,convex-client")
        .send()
        .unwrap();
    let status = resp.status().as_u16();
    assert!((200..300).contains(&status), "preflight status {status}");
    let h = |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_lowercase();
    assert_eq!(h("access-control-allow-origin"), "http://example.com");
    assert_eq!(h("access-control-allow-credentials"), "true");
    assert!(h("access-control-allow-methods").contains("post"), "methods: {}", h("access-control-allow-methods"));
    let allowed = h("access-control-allow-headers");
    assert!(allowed.contains("convex-client") && allowed.contains("content-type"), "headers: {allowed}");
    // The actual request carries the CORS header too.
    let r = s
        .client()
        .post(format!("{}/api/query", s.url))
        .header("Origin", "http://example.com")
        .header("Content-Type", "application/json")
        .header("Convex-Client", "npm-1.49.0")
        .body(call_body("logs:silent", json!({})).to_string())
        .send()
        .unwrap();
    assert_eq!(
        r.headers().get("access-control-allow-origin").and_then(|v| v.to_str().ok()),
        Some("http://example.com")
    );
    assert_eq!(r.status().as_u16(), 200);
}

#[test]
fn client_headers_are_accepted() {
    let s = Server::start();
    let r = s.post_raw(
        "/api/mutation",
        &call_body("messages:send", json!({"author": "a", "body": "b", "channel": "c"})).to_string(),
        &[("Content-Type", "application/json"), ("Convex-Client", "npm-1.49.0")],
    );
    assert!(r.ok_value("mutation with Convex-Client").is_string());
}
