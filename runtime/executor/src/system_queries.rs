//! The `_system/cli/*` queries the official Convex CLI reads over the sync protocol and the
//! HTTP API (spec `cli-protocol.md` §4.10): the function list that `npx convex run` prints
//! for a missing function, the deployment's environment variables (`env list`, `env get`),
//! and the tables and documents of an instance (`data`). Convex serves them as JavaScript
//! system functions; emvex answers them in Rust, with the same argument and result shapes.
//!
//! Invariants: only admins reach them (the caller checks, as for internal functions); each
//! runs inside the caller's read-only transaction and on the instance the caller named, so
//! its reads are tracked like a query's and a subscription to one is live; a bad argument
//! answers a developer error ([`DbError`] of class developer) in Convex's validator words,
//! never a panic.

use std::sync::LazyLock;

use emvex_database::{DbError, Order, PageRequest, Query, Transaction};
use emvex_value::Value;
use emvex_value::function::{FunctionKind, Visibility};
use serde_json::{Value as Json, json};

use crate::components::Components;
use crate::path::UdfPath;
use crate::registry::FunctionInfo;

/// The module every system query lives under.
const PREFIX: &str = "_system/";

/// Variables emvex sets for every deployment, as Convex does; `env list` does not show them.
const SYSTEM_VARIABLES: [&str; 2] = ["CONVEX_CLOUD_URL", "CONVEX_SITE_URL"];

/// One system query: its address and what answers it.
struct SystemQuery {
    info: FunctionInfo,
    answer: fn(&mut Transaction, &Components, &str, &Json) -> Result<Json, DbError>,
}

static QUERIES: LazyLock<Vec<SystemQuery>> = LazyLock::new(|| {
    let query = |module: &str, name: &str, answer| SystemQuery {
        info: FunctionInfo {
            path: UdfPath { module: module.to_string(), name: name.to_string() },
            kind: FunctionKind::Query,
            visibility: Visibility::Internal,
            args: None,
            returns: None,
        },
        answer,
    };
    vec![
        query("_system/cli/modules", "apiSpec", api_spec),
        query("_system/cli/queryEnvironmentVariables", "default", list_variables),
        query("_system/cli/queryEnvironmentVariables", "get", get_variable),
        query("_system/cli/tables", "default", tables),
        query("_system/cli/tableData", "default", table_data),
        query("_system/cli/tableSize", "default", table_size),
        query("_system/cli/queryTable", "default", query_table),
    ]
});

/// Whether `path` names a system function (served here or not at all).
pub(crate) fn is_system(path: &UdfPath) -> bool {
    path.module.starts_with(PREFIX)
}

/// The system query at `path`, if emvex serves it.
pub(crate) fn info(path: &UdfPath) -> Option<&'static FunctionInfo> {
    QUERIES.iter().find(|q| &q.info.path == path).map(|q| &q.info)
}

/// Answers the system query at `path` for instance `component` inside `tx`.
pub(crate) fn run(
    tx: &mut Transaction,
    components: &Components,
    component: &str,
    path: &UdfPath,
    args: &[Value],
) -> Result<Value, DbError> {
    let query = QUERIES.iter().find(|q| &q.info.path == path).ok_or_else(|| {
        DbError::new("FunctionNotFound", format!("Could not find function for '{}'", path.stripped()))
    })?;
    let args = match args {
        [] => json!({}),
        [Value::Object(_)] => args[0].to_convex_json(),
        _ => return Err(invalid(format!("{} takes one object of arguments", path.stripped()))),
    };
    let answer = (query.answer)(tx, components, component, &args)?;
    Value::from_convex_json(&answer).map_err(|e| DbError::storage(format!("a system query's answer: {}", e.message)))
}

fn invalid(message: String) -> DbError {
    DbError::new("ArgumentValidationError", message)
}

/// A required string argument, refused in the words of Convex's validators.
fn string_arg<'a>(args: &'a Json, name: &str) -> Result<&'a str, DbError> {
    args.get(name).and_then(Json::as_str).ok_or_else(|| {
        invalid(format!(
            "ArgumentValidationError: Object is missing the required field `{name}` or it is not a string."
        ))
    })
}

/// `_system/cli/modules:apiSpec`: every function of the instance (identifier with the module's
/// `.js`, kind, visibility, argument and return validators) and its HTTP routes.
fn api_spec(_tx: &mut Transaction, components: &Components, component: &str, _args: &Json) -> Result<Json, DbError> {
    let any = || json!({ "type": "any" });
    let Some(definition) = components.definition_of(component) else { return Ok(json!([])) };
    let specs = definition
        .registry
        .functions()
        .map(|f| {
            json!({
                "identifier": f.path.canonical(),
                "functionType": f.kind.title(),
                "visibility": { "kind": f.visibility.as_str() },
                "args": f.args.as_ref().map_or_else(any, |v| v.to_json()),
                "returns": f.returns.as_ref().map_or_else(any, |v| v.to_json()),
            })
        })
        .collect();
    Ok(Json::Array(specs))
}

/// The deployment's variables (the app's `process.env`, without the ones emvex sets itself).
fn deployment_variables(components: &Components) -> impl Iterator<Item = (&String, &String)> {
    components
        .instance("")
        .into_iter()
        .flat_map(|app| app.env.iter())
        .filter(|(name, _)| !SYSTEM_VARIABLES.contains(&name.as_str()))
}

/// `_system/cli/queryEnvironmentVariables`: `[{name, value}]` by name.
fn list_variables(_tx: &mut Transaction, components: &Components, _: &str, _args: &Json) -> Result<Json, DbError> {
    Ok(deployment_variables(components).map(|(name, value)| json!({ "name": name, "value": value })).collect())
}

/// `_system/cli/queryEnvironmentVariables:get` `{name}`: `{name, value}` or `null`, as
/// `process.env[name]` of the app reads it.
fn get_variable(_tx: &mut Transaction, components: &Components, _: &str, args: &Json) -> Result<Json, DbError> {
    let name = string_arg(args, "name")?;
    let value = components.instance("").and_then(|app| app.env.get(name));
    Ok(value.map_or(Json::Null, |value| json!({ "name": name, "value": value })))
}

/// `_system/cli/tables`: the instance's user tables, as one finished page.
fn tables(tx: &mut Transaction, _: &Components, component: &str, _args: &Json) -> Result<Json, DbError> {
    let names = tx.list_tables(component)?;
    let page: Vec<Json> =
        names.into_iter().filter(|name| !name.starts_with('_')).map(|name| json!({ "name": name })).collect();
    Ok(json!({ "page": page, "isDone": true, "continueCursor": "end" }))
}

/// `_system/cli/tableData` `{table, order, paginationOpts}`: a page of the table's documents by
/// `_creationTime` (system tables through `db.system`, as Convex's does).
fn table_data(tx: &mut Transaction, _: &Components, component: &str, args: &Json) -> Result<Json, DbError> {
    let table = string_arg(args, "table")?;
    let order = match string_arg(args, "order")? {
        "asc" => Order::Asc,
        "desc" => Order::Desc,
        other => {
            return Err(invalid(format!(
                "ArgumentValidationError: Value does not match validator.\nPath: .order\nValue: \"{other}\"\nValidator: v.union(v.literal(\"asc\"), v.literal(\"desc\"))"
            )));
        }
    };
    let options = args.get("paginationOpts").filter(|o| o.is_object()).ok_or_else(|| {
        invalid("ArgumentValidationError: Object is missing the required field `paginationOpts`.".into())
    })?;
    let cursor = options.get("cursor").and_then(Json::as_str).map(str::to_string);
    let page_size = options.get("numItems").and_then(Json::as_f64).unwrap_or(100.0);
    let request = PageRequest::new(Query::full_table_scan(table).order(order), cursor, page_size);
    let result = tx.query_page(component, &request)?;
    let page: Vec<Json> = result.page.iter().map(|doc| doc.to_value().to_convex_json()).collect();
    Ok(json!({ "page": page, "isDone": result.is_done, "continueCursor": result.continue_cursor }))
}

/// `_system/cli/tableSize` `{tableName}`: how many documents the table holds.
fn table_size(tx: &mut Transaction, _: &Components, component: &str, args: &Json) -> Result<Json, DbError> {
    let table = string_arg(args, "tableName")?;
    Ok(json!(tx.count(component, table)? as f64))
}

/// `_system/cli/queryTable` `{tableName}`: a value that changes whenever the table does (the
/// CLI re-pushes when it changes). Convex answers a random number after reading the table;
/// the table's size and the snapshot it was read at serve the same purpose.
fn query_table(tx: &mut Transaction, components: &Components, component: &str, args: &Json) -> Result<Json, DbError> {
    let size = table_size(tx, components, component, args)?;
    Ok(json!({ "size": size, "ts": tx.snapshot_ts().to_string() }))
}
