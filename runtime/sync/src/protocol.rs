//! The messages of Convex's WebSocket sync protocol (`spec/sync-protocol.md` §0, §2), parsed
//! and printed with their exact JSON shapes.
//!
//! Owns: client messages ([`ClientMessage`], parsed leniently: unknown fields are ignored, key
//! order is free), server messages ([`ServerMessage`], printed exactly: `errorData` only when an
//! error carries data, `logLines` always an array, `journal` always present on results), and
//! the "EncodedTs" form of timestamps (8 little-endian bytes in padded base64).
//!
//! Invariants: only the seven server message types of the spec are ever printed; a client
//! message that does not parse is a [`ProtocolError`] whose text starts like Convex's
//! (`Received Invalid JSON on websocket: …`).

use std::fmt::Write as _;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::{Map, Value as Json, json};

/// A client message that could not be understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError {
    pub message: String,
}

impl ProtocolError {
    fn invalid_json(detail: impl std::fmt::Display) -> ProtocolError {
        ProtocolError { message: format!("Received Invalid JSON on websocket: {detail}") }
    }
}

/// A database timestamp as the client sees it: `base64(u64.to_le_bytes())`, 12 characters.
pub fn encode_ts(ts: u64) -> String {
    STANDARD.encode(ts.to_le_bytes())
}

/// The inverse of [`encode_ts`].
pub fn decode_ts(text: &str) -> Result<u64, ProtocolError> {
    let bytes =
        STANDARD.decode(text).map_err(|e| ProtocolError::invalid_json(format!("bad timestamp {text:?}: {e}")))?;
    let bytes: [u8; 8] =
        bytes.try_into().map_err(|_| ProtocolError::invalid_json(format!("bad timestamp {text:?}: not 8 bytes")))?;
    Ok(u64::from_le_bytes(bytes))
}

/// What a client holds: its query set version, identity version and snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StateVersion {
    pub query_set: u32,
    pub identity: u32,
    pub ts: u64,
}

impl StateVersion {
    /// `{"querySet":…,"identity":…,"ts":"<EncodedTs>"}`, written into a Transition's text.
    fn write(self, text: &mut String) {
        let _ = write!(
            text,
            r#"{{"querySet":{},"identity":{},"ts":"{}"}}"#,
            self.query_set,
            self.identity,
            encode_ts(self.ts)
        );
    }
}

/// One entry of a `ModifyQuerySet`.
#[derive(Debug, Clone, PartialEq)]
pub enum QuerySetModification {
    Add {
        query_id: u32,
        udf_path: String,
        /// `[argsObject]` in Convex JSON.
        args: Json,
        /// `None` on a first subscription; `Some(journal)` on a re-subscription.
        journal: Option<Option<String>>,
        component_path: Option<String>,
    },
    Remove {
        query_id: u32,
    },
}

/// The token of an `Authenticate` message.
#[derive(Debug, Clone, PartialEq)]
pub enum AuthToken {
    None,
    Admin { key: String, impersonating: Option<Json> },
    User { token: String },
}

/// A message from the client.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientMessage {
    Connect {
        session_id: String,
        connection_count: u32,
        last_close_reason: Option<String>,
        max_observed_timestamp: Option<u64>,
        client_ts: Option<f64>,
    },
    ModifyQuerySet {
        base_version: u32,
        new_version: u32,
        modifications: Vec<QuerySetModification>,
    },
    Mutation {
        request_id: u32,
        udf_path: String,
        args: Json,
        component_path: Option<String>,
    },
    Action {
        request_id: u32,
        udf_path: String,
        args: Json,
        component_path: Option<String>,
    },
    Authenticate {
        base_version: u32,
        token: AuthToken,
    },
    Event,
}

#[derive(Deserialize)]
#[serde(tag = "type")]
enum WireClient {
    #[serde(rename_all = "camelCase")]
    Connect {
        session_id: String,
        #[serde(default)]
        connection_count: u32,
        #[serde(default)]
        last_close_reason: Option<String>,
        #[serde(default)]
        max_observed_timestamp: Option<String>,
        #[serde(default)]
        client_ts: Option<f64>,
    },
    #[serde(rename_all = "camelCase")]
    ModifyQuerySet {
        base_version: u32,
        new_version: u32,
        modifications: Vec<WireModification>,
    },
    Mutation(WireRequest),
    Action(WireRequest),
    #[serde(rename_all = "camelCase")]
    Authenticate {
        base_version: u32,
        token_type: String,
        #[serde(default)]
        value: Option<String>,
        #[serde(default)]
        impersonating: Option<Json>,
        #[serde(default)]
        acting_as: Option<Json>,
    },
    Event {},
}

/// The body of a `Mutation` or an `Action`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireRequest {
    request_id: u32,
    udf_path: String,
    #[serde(default)]
    args: Json,
    #[serde(default)]
    component_path: Option<String>,
}

#[derive(Deserialize)]
#[serde(tag = "type")]
enum WireModification {
    #[serde(rename_all = "camelCase")]
    Add {
        query_id: u32,
        udf_path: String,
        #[serde(default)]
        args: Json,
        #[serde(default, deserialize_with = "present")]
        journal: Option<Option<String>>,
        #[serde(default)]
        component_path: Option<String>,
    },
    #[serde(rename_all = "camelCase")]
    Remove { query_id: u32 },
}

/// Tells a present `null` (`Some(None)`) from an absent field (`None`, through `default`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

impl ClientMessage {
    /// Parses one text frame.
    pub fn parse(text: &str) -> Result<ClientMessage, ProtocolError> {
        let wire: WireClient = serde_json::from_str(text).map_err(ProtocolError::invalid_json)?;
        Ok(match wire {
            WireClient::Connect {
                session_id,
                connection_count,
                last_close_reason,
                max_observed_timestamp,
                client_ts,
            } => ClientMessage::Connect {
                session_id,
                connection_count,
                last_close_reason,
                max_observed_timestamp: max_observed_timestamp.as_deref().map(decode_ts).transpose()?,
                client_ts,
            },
            WireClient::ModifyQuerySet { base_version, new_version, modifications } => ClientMessage::ModifyQuerySet {
                base_version,
                new_version,
                modifications: modifications
                    .into_iter()
                    .map(|m| match m {
                        WireModification::Add { query_id, udf_path, args, journal, component_path } => {
                            QuerySetModification::Add { query_id, udf_path, args, journal, component_path }
                        }
                        WireModification::Remove { query_id } => QuerySetModification::Remove { query_id },
                    })
                    .collect(),
            },
            WireClient::Mutation(WireRequest { request_id, udf_path, args, component_path }) => {
                ClientMessage::Mutation { request_id, udf_path, args, component_path }
            }
            WireClient::Action(WireRequest { request_id, udf_path, args, component_path }) => {
                ClientMessage::Action { request_id, udf_path, args, component_path }
            }
            WireClient::Authenticate { base_version, token_type, value, impersonating, acting_as } => {
                let token = match token_type.as_str() {
                    "None" => AuthToken::None,
                    "Admin" => AuthToken::Admin {
                        key: value.ok_or_else(|| ProtocolError::invalid_json("Admin token without a value"))?,
                        impersonating: impersonating.or(acting_as),
                    },
                    "User" => AuthToken::User {
                        token: value.ok_or_else(|| ProtocolError::invalid_json("User token without a value"))?,
                    },
                    other => return Err(ProtocolError::invalid_json(format!("unknown tokenType {other:?}"))),
                };
                ClientMessage::Authenticate { base_version, token }
            }
            WireClient::Event {} => ClientMessage::Event,
        })
    }
}

/// A query's result as Transitions carry it, printed once however many sockets receive it:
/// the fields of its `QueryUpdated` or `QueryFailed` after `queryId`.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryState {
    failed: bool,
    /// `"value":…,"logLines":[…],"journal":…` (or `"errorMessage":…` and the rest), without
    /// braces.
    fields: String,
}

impl QueryState {
    /// A `QueryUpdated`'s state.
    pub fn updated(value: &Json, log_lines: &[String], journal: Option<&str>) -> QueryState {
        let fields = json!({ "value": value, "logLines": log_lines, "journal": journal });
        QueryState { failed: false, fields: object_fields(&fields) }
    }

    /// A `QueryFailed`'s state; `errorData` only when the error carries data.
    pub fn failed(
        error_message: &str,
        log_lines: &[String],
        journal: Option<&str>,
        error_data: Option<&Json>,
    ) -> QueryState {
        let mut fields = json!({ "errorMessage": error_message, "logLines": log_lines, "journal": journal });
        if let Some(data) = error_data {
            fields["errorData"] = data.clone();
        }
        QueryState { failed: true, fields: object_fields(&fields) }
    }

    /// The printed fields (what identifies the result's content for a socket).
    pub fn fields(&self) -> &str {
        &self.fields
    }

    pub fn is_failed(&self) -> bool {
        self.failed
    }
}

/// A JSON object's text without its braces.
fn object_fields(object: &Json) -> String {
    let text = object.to_string();
    text[1..text.len() - 1].to_string()
}

/// A query's new state in a Transition (`QueryUpdated`/`QueryFailed`, `QueryRemoved`).
#[derive(Debug, Clone, PartialEq)]
pub enum StateModification {
    Changed { query_id: u32, state: Arc<QueryState> },
    Removed { query_id: u32 },
}

impl StateModification {
    fn write(&self, text: &mut String) {
        match self {
            StateModification::Changed { query_id, state } => {
                let kind = if state.failed { "QueryFailed" } else { "QueryUpdated" };
                let _ = write!(text, r#"{{"type":"{kind}","queryId":{query_id},{}}}"#, state.fields);
            }
            StateModification::Removed { query_id } => {
                let _ = write!(text, r#"{{"type":"QueryRemoved","queryId":{query_id}}}"#);
            }
        }
    }
}

/// The outcome of a mutation or action as the client receives it.
#[derive(Debug, Clone, PartialEq)]
pub enum RequestOutcome {
    Success(Json),
    Failure { message: String, error_data: Option<Json> },
}

/// A message to the client.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerMessage {
    Transition {
        start: StateVersion,
        end: StateVersion,
        modifications: Vec<StateModification>,
        client_clock_skew: Option<f64>,
        server_ts: Option<u64>,
    },
    MutationResponse {
        request_id: u32,
        outcome: RequestOutcome,
        ts: Option<u64>,
        log_lines: Vec<String>,
    },
    ActionResponse {
        request_id: u32,
        outcome: RequestOutcome,
        log_lines: Vec<String>,
    },
    AuthError {
        error: String,
        base_version: Option<u32>,
        auth_update_attempted: bool,
    },
    FatalError {
        error: String,
    },
    Ping,
}

impl ServerMessage {
    /// The message as one JSON text frame. A Transition is printed around its results' shared
    /// text (what every socket subscribed to a query receives is printed once).
    pub fn to_text(&self) -> String {
        let ServerMessage::Transition { start, end, modifications, client_clock_skew, server_ts } = self else {
            return self.to_json().to_string();
        };
        let shared: usize = modifications
            .iter()
            .map(|m| match m {
                StateModification::Changed { state, .. } => state.fields.len() + 48,
                StateModification::Removed { .. } => 40,
            })
            .sum();
        let mut text = String::with_capacity(shared + 200);
        text.push_str(r#"{"type":"Transition","startVersion":"#);
        start.write(&mut text);
        text.push_str(r#","endVersion":"#);
        end.write(&mut text);
        text.push_str(r#","modifications":["#);
        for (i, modification) in modifications.iter().enumerate() {
            if i > 0 {
                text.push(',');
            }
            modification.write(&mut text);
        }
        text.push_str(r#"],"clientClockSkew":"#);
        match client_clock_skew {
            // A finite number prints as JSON does; anything else is `null`, as serde_json prints it.
            Some(skew) if skew.is_finite() => text.push_str(&Json::from(*skew).to_string()),
            _ => text.push_str("null"),
        }
        match server_ts {
            Some(ts) => {
                let _ = write!(text, r#","serverTs":{ts}}}"#);
            }
            None => text.push_str(r#","serverTs":null}"#),
        }
        text
    }

    pub fn to_json(&self) -> Json {
        match self {
            ServerMessage::Transition { .. } => serde_json::from_str(&self.to_text()).expect("a printed Transition"),
            ServerMessage::MutationResponse { request_id, outcome, ts, log_lines } => {
                let mut m = response("MutationResponse", *request_id, outcome, log_lines);
                // `ts` is required on success (the commit ts) and null on failure.
                let ts = match outcome {
                    RequestOutcome::Success(_) => ts.map(encode_ts),
                    RequestOutcome::Failure { .. } => None,
                };
                m.insert("ts".into(), json!(ts));
                Json::Object(m)
            }
            ServerMessage::ActionResponse { request_id, outcome, log_lines } => {
                Json::Object(response("ActionResponse", *request_id, outcome, log_lines))
            }
            ServerMessage::AuthError { error, base_version, auth_update_attempted } => json!({
                "type": "AuthError", "error": error, "baseVersion": base_version,
                "authUpdateAttempted": auth_update_attempted,
            }),
            ServerMessage::FatalError { error } => json!({ "type": "FatalError", "error": error }),
            ServerMessage::Ping => json!({ "type": "Ping" }),
        }
    }
}

fn response(kind: &str, request_id: u32, outcome: &RequestOutcome, log_lines: &[String]) -> Map<String, Json> {
    let mut m = Map::new();
    m.insert("type".into(), json!(kind));
    m.insert("requestId".into(), json!(request_id));
    match outcome {
        RequestOutcome::Success(value) => {
            m.insert("success".into(), json!(true));
            m.insert("result".into(), value.clone());
        }
        RequestOutcome::Failure { message, error_data } => {
            m.insert("success".into(), json!(false));
            m.insert("result".into(), json!(message));
            if let Some(data) = error_data {
                m.insert("errorData".into(), data.clone());
            }
        }
    }
    m.insert("logLines".into(), json!(log_lines));
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_encode_as_twelve_padded_base64_characters() {
        assert_eq!(encode_ts(0), "AAAAAAAAAAA=");
        assert_eq!(encode_ts(1), "AQAAAAAAAAA=");
        assert_eq!(encode_ts(1724300000000000000), "AMA02rbx7Rc=");
        assert_eq!(encode_ts((1 << 63) - 1), "/////////38=");
        assert_eq!(decode_ts("AMA02rbx7Rc=").unwrap(), 1724300000000000000);
        assert!(decode_ts("AAAA").is_err());
    }

    #[test]
    fn connect_parses_whatever_the_key_order() {
        let m = ClientMessage::parse(
            r#"{"connectionCount":1,"lastCloseReason":"InternalServerError","clientTs":1796279718104,
               "type":"Connect","sessionId":"s-1","maxObservedTimestamp":"yAAAAAAAAAA=","extra":true}"#,
        )
        .unwrap();
        assert_eq!(
            m,
            ClientMessage::Connect {
                session_id: "s-1".into(),
                connection_count: 1,
                last_close_reason: Some("InternalServerError".into()),
                max_observed_timestamp: Some(200),
                client_ts: Some(1796279718104.0),
            }
        );
    }

    #[test]
    fn add_tells_an_absent_journal_from_a_null_one() {
        let m = ClientMessage::parse(
            r#"{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[
                {"type":"Add","queryId":0,"udfPath":"messages:list","args":[{}]},
                {"type":"Add","queryId":1,"udfPath":"messages:list","args":[{}],"journal":null},
                {"type":"Add","queryId":2,"udfPath":"messages:list","args":[{}],"journal":"j"},
                {"type":"Remove","queryId":3}]}"#,
        )
        .unwrap();
        let ClientMessage::ModifyQuerySet { modifications, .. } = m else { panic!() };
        let journals: Vec<_> = modifications
            .iter()
            .filter_map(|m| match m {
                QuerySetModification::Add { journal, .. } => Some(journal.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(journals, vec![None, Some(None), Some(Some("j".into()))]);
        assert_eq!(modifications[3], QuerySetModification::Remove { query_id: 3 });
    }

    #[test]
    fn authenticate_forms() {
        let none = ClientMessage::parse(r#"{"type":"Authenticate","tokenType":"None","baseVersion":1}"#).unwrap();
        assert_eq!(none, ClientMessage::Authenticate { base_version: 1, token: AuthToken::None });
        let admin =
            ClientMessage::parse(r#"{"type":"Authenticate","baseVersion":0,"tokenType":"Admin","value":"k"}"#).unwrap();
        assert_eq!(
            admin,
            ClientMessage::Authenticate {
                base_version: 0,
                token: AuthToken::Admin { key: "k".into(), impersonating: None }
            }
        );
        assert!(ClientMessage::parse(r#"{"type":"Authenticate","baseVersion":0,"tokenType":"Magic"}"#).is_err());
    }

    #[test]
    fn malformed_and_unknown_messages_are_protocol_errors() {
        for text in [
            "{",
            "[]",
            r#"{"type":"Nope"}"#,
            r#"{"type":"Mutation","udfPath":"a:b"}"#,
            r#"{"type":"Mutation","requestId":"one","udfPath":"a:b","args":[{}]}"#,
            r#"{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[{"type":"Add","queryId":-1,"udfPath":"a:b"}]}"#,
            r#"{"type":"Connect","sessionId":"s","maxObservedTimestamp":"AAAA"}"#,
        ] {
            let e = ClientMessage::parse(text).unwrap_err();
            assert!(e.message.starts_with("Received Invalid JSON on websocket: "), "{text}: {}", e.message);
        }
        assert_eq!(
            ClientMessage::parse(r#"{"type":"Event","eventType":"x","event":{}}"#).unwrap(),
            ClientMessage::Event
        );
    }

    #[test]
    fn server_messages_have_the_exact_shapes() {
        let t = ServerMessage::Transition {
            start: StateVersion::default(),
            end: StateVersion { query_set: 1, identity: 0, ts: 100 },
            modifications: vec![
                StateModification::Changed {
                    query_id: 0,
                    state: Arc::new(QueryState::updated(&json!([1]), &[], None)),
                },
                StateModification::Changed {
                    query_id: 1,
                    state: Arc::new(QueryState::failed("boom", &["[LOG] 'x'".into()], None, None)),
                },
                StateModification::Changed {
                    query_id: 3,
                    state: Arc::new(QueryState::failed("no", &[], Some("j"), Some(&json!({"code": "X"})))),
                },
                StateModification::Removed { query_id: 2 },
            ],
            client_clock_skew: Some(-12.0),
            server_ts: Some(5),
        };
        assert_eq!(
            t.to_json(),
            json!({"type":"Transition",
                "startVersion":{"querySet":0,"identity":0,"ts":"AAAAAAAAAAA="},
                "endVersion":{"querySet":1,"identity":0,"ts":"ZAAAAAAAAAA="},
                "modifications":[
                    {"type":"QueryUpdated","queryId":0,"value":[1],"logLines":[],"journal":null},
                    {"type":"QueryFailed","queryId":1,"errorMessage":"boom","logLines":["[LOG] 'x'"],"journal":null},
                    {"type":"QueryFailed","queryId":3,"errorMessage":"no","logLines":[],"journal":"j","errorData":{"code":"X"}},
                    {"type":"QueryRemoved","queryId":2}],
                "clientClockSkew":-12.0,"serverTs":5})
        );
        let ok = ServerMessage::MutationResponse {
            request_id: 0,
            outcome: RequestOutcome::Success(Json::Null),
            ts: Some(150),
            log_lines: vec![],
        };
        assert_eq!(
            ok.to_json(),
            json!({"type":"MutationResponse","requestId":0,"success":true,"result":null,"logLines":[],"ts":"lgAAAAAAAAA="})
        );
        let failed = ServerMessage::MutationResponse {
            request_id: 3,
            outcome: RequestOutcome::Failure { message: "nope".into(), error_data: Some(json!({"code":"NOPE"})) },
            ts: Some(1),
            log_lines: vec![],
        };
        assert_eq!(
            failed.to_json(),
            json!({"type":"MutationResponse","requestId":3,"success":false,"result":"nope",
                   "errorData":{"code":"NOPE"},"logLines":[],"ts":null})
        );
        let action = ServerMessage::ActionResponse {
            request_id: 2,
            outcome: RequestOutcome::Success(json!(1)),
            log_lines: vec![],
        };
        assert_eq!(
            action.to_json(),
            json!({"type":"ActionResponse","requestId":2,"success":true,"result":1,"logLines":[]})
        );
        assert_eq!(ServerMessage::Ping.to_text(), r#"{"type":"Ping"}"#);
    }
}
