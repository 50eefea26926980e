//! The commit-timestamp placeholder `{"$commitTs": null}` (`db.vars.commitTs`, spec §4.2).
//!
//! A mutation may write the placeholder into a document (insert, patch, replace) or pass it to
//! a nested mutation; it stands for the timestamp the mutation commits at. emvex knows that
//! timestamp before the mutation ends (a mutation holds the single writer, so no other commit
//! can come between), so the placeholder is replaced by the Int64 timestamp while the
//! mutation's value is decoded. Everywhere else the decoder refuses it (`CommitTsNotAllowed`).
//!
//! Invariant: only objects that are exactly `{"$commitTs": null}` are replaced; everything
//! else, including a malformed `{"$commitTs": 1}`, is left for the decoder to judge.

use serde_json::Value as Json;

use crate::base64_util;

const KEY: &str = "$commitTs";

fn is_placeholder(json: &Json) -> bool {
    matches!(json, Json::Object(map) if map.len() == 1 && map.get(KEY).is_some_and(Json::is_null))
}

/// Whether `json` holds the placeholder anywhere.
pub fn contains_commit_ts(json: &Json) -> bool {
    match json {
        Json::Array(items) => items.iter().any(contains_commit_ts),
        Json::Object(map) => is_placeholder(json) || map.values().any(contains_commit_ts),
        _ => false,
    }
}

/// `json` with every placeholder replaced by the Int64 `ts` in Convex JSON
/// (`{"$integer": …}`).
pub fn resolve_commit_ts(json: &Json, ts: i64) -> Json {
    if is_placeholder(json) {
        let mut map = serde_json::Map::new();
        map.insert("$integer".into(), Json::String(base64_util::encode(&ts.to_le_bytes())));
        return Json::Object(map);
    }
    match json {
        Json::Array(items) => Json::Array(items.iter().map(|item| resolve_commit_ts(item, ts)).collect()),
        Json::Object(map) => Json::Object(map.iter().map(|(k, v)| (k.clone(), resolve_commit_ts(v, ts))).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Value;
    use serde_json::json;

    #[test]
    fn finds_and_replaces_placeholders_at_any_depth() {
        let doc = json!({"a": {"$commitTs": null}, "b": [1, {"c": {"$commitTs": null}}], "d": "x"});
        assert!(contains_commit_ts(&doc));
        let resolved = resolve_commit_ts(&doc, 42);
        assert!(!contains_commit_ts(&resolved));
        let value = Value::from_convex_json(&resolved).unwrap();
        let fields = value.into_object().unwrap();
        assert_eq!(fields["a"], Value::Int64(42));
        assert_eq!(fields["d"], Value::String("x".into()));
        assert_eq!(Value::from_convex_json(&resolved["b"][1]["c"]).unwrap(), Value::Int64(42));
    }

    #[test]
    fn leaves_malformed_and_ordinary_objects_to_the_decoder() {
        assert!(!contains_commit_ts(&json!({"$commitTs": 1})));
        assert!(!contains_commit_ts(&json!({"$commitTs": null, "x": 1})));
        assert!(!contains_commit_ts(&json!([1, "a", {"b": null}])));
        assert_eq!(resolve_commit_ts(&json!({"$commitTs": 1}), 5), json!({"$commitTs": 1}));
    }
}
