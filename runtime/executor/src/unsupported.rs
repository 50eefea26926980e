//! The operations of the `convex` package that emvex does not serve (yet), and the error each
//! answers with: it names the feature the app used, never a bare "Unknown operation".
//!
//! Owns: the table from syscall names to the features they belong to. Invariant: every name the
//! `convex` npm package can send reaches one of the syscall dispatchers; what they do not serve
//! ends here.

use emvex_engine::HostError;

/// The feature a syscall of the `convex` package belongs to, as a developer knows it.
fn feature(op: &str) -> Option<&'static str> {
    Some(match op {
        _ if op.starts_with("1.0/storage") || op.starts_with("storage/") => "File storage (`ctx.storage`)",
        "1.0/signJwt" => "Signing JWTs (`ctx.auth.signJwt`)",
        "1.0/createServiceToken" | "1.0/getServiceUrl" => "Convex services (`getServiceToken`, `getServiceUrl`)",
        "1.0/auditLog" => "Audit logging",
        _ => return None,
    })
}

/// The error for an operation nobody here serves.
pub(crate) fn unsupported(op: &str) -> HostError {
    match feature(op) {
        Some(feature) => HostError::developer(format!("{feature} is not supported by emvex yet (operation `{op}`)")),
        None => HostError::developer(format!(
            "The operation `{op}` is not supported by emvex yet (the `convex` package asked for something \
             emvex does not know; is it newer than the version emvex is tested with?)"
        )),
    }
}

/// The same for an action: `getTransactionMetrics()` (queries and mutations only) in an action
/// is the package's own mistake to report, and it recognises it by Convex's wording.
pub(crate) fn unsupported_in_action(op: &str) -> HostError {
    if op == "1.0/getTransactionMetrics" {
        return HostError::developer(format!("Unknown async operation {op}"));
    }
    unsupported(op)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_feature_or_the_operation() {
        assert_eq!(
            unsupported("1.0/storageGenerateUploadUrl").message,
            "File storage (`ctx.storage`) is not supported by emvex yet (operation `1.0/storageGenerateUploadUrl`)"
        );
        assert!(
            unsupported("1.0/somethingNew").message.starts_with("The operation `1.0/somethingNew` is not supported")
        );
        assert!(!unsupported("1.0/auditLog").message.contains("Unknown"));
        assert!(unsupported_in_action("1.0/getTransactionMetrics").message.contains("Unknown async operation"));
    }
}
