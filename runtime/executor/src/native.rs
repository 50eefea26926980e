//! Running native components (crate `emvex-component`) as instances of the tree: their
//! definitions (functions and schema from the Rust implementation), and the [`NativeHost`] a
//! native call gets — backed by a [`TransactionHost`] of the native instance on the caller's
//! transaction, so a native function reads and writes exactly what a JavaScript function of
//! that instance would, with the same checks and texts.
//!
//! Invariants: a native call never commits or rolls back; its nested calls, schedules and
//! cancels are the same typed operations of the syscall host that JavaScript's `1.0/runUdf`,
//! `1.0/schedule` and `1.0/cancel_job` reach after their arguments are parsed; its arguments
//! were validated before the call, its result is validated after it.

use std::sync::Arc;

use emvex_component::{InstanceTx, NativeComponent, NativeError, NativeHost};
use emvex_engine::{DefinitionId, HostError};
use emvex_value::function::FunctionKind;
use emvex_value::id::DocumentId;
use emvex_value::{ErrorClass, Value};

use crate::StartError;
use crate::components::{Definition, Implementation};
use crate::path::FunctionAddress;
use crate::registry::Registry;
use crate::syscalls::{NestedCall, TransactionHost};

/// The definition a native implementation stands for.
pub(crate) fn native_definition(
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
                kind: f.kind,
                visibility: f.visibility,
                args_json: f.args_json.clone(),
                returns_json: f.returns_json.clone(),
                line: None,
            })
            .collect(),
        schema_json: component.schema_json(),
        crons_json: None,
        auth_config_json: None,
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
        registry,
        schema,
        crons_json: None,
        auth_config_json: None,
        implementation: Implementation::Native(component),
    })
}

/// [`NativeHost`] over a syscall host of the native instance.
pub(crate) struct Bridge<'h, 'a> {
    pub host: &'h mut TransactionHost<'a>,
}

impl NativeHost for Bridge<'_, '_> {
    fn db(&mut self) -> InstanceTx<'_> {
        InstanceTx::new(self.host.tx, &self.host.component)
    }

    fn run_function(&mut self, address: &str, kind: FunctionKind, args: Value) -> Result<Value, NativeError> {
        let call = NestedCall::of_kind(kind).map_err(native_error)?;
        self.host.run_function(&FunctionAddress::Name(address.to_string()), call, args).map_err(native_error)
    }

    fn schedule(&mut self, address: &str, at_ms: f64, args: Value) -> Result<DocumentId, NativeError> {
        self.host.schedule(&FunctionAddress::Name(address.to_string()), at_ms, args).map_err(native_error)
    }

    fn cancel(&mut self, job: &DocumentId) -> Result<(), NativeError> {
        self.host.cancel_job(job).map_err(native_error)
    }

    fn log(&mut self, line: String) {
        self.host.nested_logs.push(line);
    }
}

/// A syscall host error as a native error of the same class.
fn native_error(e: HostError) -> NativeError {
    match e.class {
        ErrorClass::Internal => NativeError::Internal(e.message),
        ErrorClass::Developer => {
            NativeError::Developer { message: e.message, data: e.data.and_then(|d| Value::from_convex_json(&d).ok()) }
        }
    }
}
