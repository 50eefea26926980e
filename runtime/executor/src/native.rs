//! Running native components (crate `emvex-component`) as instances of the tree: their
//! definitions (functions and schema from the Rust implementation), and the [`NativeHost`] a
//! native call gets — backed by a [`TransactionHost`] of the native instance on the caller's
//! transaction, so a native function reads and writes exactly what a JavaScript function of
//! that instance would, with the same checks and texts.
//!
//! Invariants: a native call never commits or rolls back; its nested calls, schedules and
//! cancels go through the same syscall code as JavaScript's (`1.0/runUdf`, `1.0/schedule`,
//! `1.0/cancel_job`); its arguments were validated before the call, its result is validated
//! after it.

use emvex_component::{InstanceTx, NativeComponent, NativeError, NativeHost, NativeKind};
use emvex_engine::{DefinitionId, FunctionKind, Host, HostError};
use emvex_value::Value;
use emvex_value::id::DocumentId;
use serde_json::{Value as Json, json};

use crate::StartError;
use crate::components::{Definition, Implementation};
use crate::registry::Registry;
use crate::syscalls::TransactionHost;
use std::sync::Arc;

/// The definition a native implementation stands for.
pub fn native_definition(
    id: DefinitionId,
    path: &str,
    component: Arc<dyn NativeComponent>,
) -> Result<Definition, StartError> {
    let functions = component.functions();
    let analysis = emvex_engine::Analysis {
        functions: functions
            .iter()
            .map(|f| emvex_engine::AnalyzedFunction {
                module: f.module.clone(),
                name: f.name.clone(),
                kind: match f.kind {
                    NativeKind::Query => FunctionKind::Query,
                    NativeKind::Mutation => FunctionKind::Mutation,
                },
                visibility: if f.public {
                    emvex_engine::Visibility::Public
                } else {
                    emvex_engine::Visibility::Internal
                },
                args_json: f.args_json.clone(),
                returns_json: f.returns_json.clone(),
                line: None,
            })
            .collect(),
        schema_json: component.schema_json(),
        crons_json: None,
    };
    let registry = Registry::from_analysis(&analysis).map_err(|message| StartError {
        code: "InvalidFunction",
        message: format!("native component \"{path}\": {message}"),
    })?;
    let schema = match &analysis.schema_json {
        Some(json) => Some(emvex_database::SchemaDefinition::from_export_json(json).map_err(|e| StartError {
            code: "InvalidSchema",
            message: format!("native component \"{path}\": {}", e.message),
        })?),
        None => None,
    };
    Ok(Definition {
        id,
        path: path.to_string(),
        registry,
        schema,
        crons_json: None,
        implementation: Implementation::Native(component),
    })
}

/// The kind a native function has.
pub fn native_kind(kind: FunctionKind) -> NativeKind {
    match kind {
        FunctionKind::Query => NativeKind::Query,
        _ => NativeKind::Mutation,
    }
}

/// [`NativeHost`] over a syscall host of the native instance.
pub struct Bridge<'h, 'a> {
    pub host: &'h mut TransactionHost<'a>,
}

impl Bridge<'_, '_> {
    fn syscall(&mut self, op: &str, args: Json) -> Result<Json, NativeError> {
        let text = self.host.async_syscall(op, &args.to_string()).map_err(native_error)?;
        serde_json::from_str(&text).map_err(|e| NativeError::Internal(format!("{op} answered non-JSON: {e}")))
    }
}

/// A function address as the syscalls take it: a handle, or a name inside the instance.
fn address(address: &str) -> Json {
    if address.starts_with(crate::path::HANDLE_PREFIX) {
        json!({ "functionHandle": address })
    } else {
        json!({ "name": address })
    }
}

impl NativeHost for Bridge<'_, '_> {
    fn db(&mut self) -> InstanceTx<'_> {
        InstanceTx::new(self.host.tx, &self.host.component)
    }

    fn run_function(&mut self, target: &str, kind: NativeKind, args: Value) -> Result<Value, NativeError> {
        let mut request = address(target);
        request["udfType"] = json!(if kind == NativeKind::Query { "query" } else { "mutation" });
        request["args"] = args.to_convex_json();
        let result = self.syscall("1.0/runUdf", request)?;
        Value::from_convex_json(&result).map_err(|e| NativeError::Internal(e.message))
    }

    fn schedule(&mut self, target: &str, at_ms: f64, args: Value) -> Result<DocumentId, NativeError> {
        let mut request = address(target);
        request["ts"] = json!(at_ms / 1000.0);
        request["args"] = args.to_convex_json();
        let id = self.syscall("1.0/schedule", request)?;
        let id = id.as_str().ok_or_else(|| NativeError::Internal("1.0/schedule answered no id".into()))?;
        DocumentId::decode(id).map_err(|e| NativeError::Internal(e.message))
    }

    fn cancel(&mut self, job: &DocumentId) -> Result<(), NativeError> {
        self.syscall("1.0/cancel_job", json!({ "id": job.encode() }))?;
        Ok(())
    }

    fn log(&mut self, line: String) {
        self.host.nested_logs.push(line);
    }
}

fn native_error(e: HostError) -> NativeError {
    if e.fatal {
        NativeError::Internal(e.message)
    } else {
        NativeError::Developer { message: e.message, data: e.data.and_then(|d| Value::from_convex_json(&d).ok()) }
    }
}
