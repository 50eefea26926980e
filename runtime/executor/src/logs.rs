//! Printing function console lines the way `npx convex dev` shows them:
//! `[CONVEX Q(messages:list)] [LOG] 'hello'`.

use emvex_value::function::FunctionKind;

use crate::{CallError, CallResponse};

/// One printable line for a function's log line.
pub fn format_log_line(kind: Option<FunctionKind>, path: &str, line: &str) -> String {
    let letter = match kind {
        Some(FunctionKind::Query) => "Q",
        Some(FunctionKind::Mutation) => "M",
        Some(FunctionKind::Action) => "A",
        None => "?",
    };
    format!("[CONVEX {letter}({path})] {line}")
}

/// Prints a call's console lines, then its error if it failed after starting, as
/// `npx convex dev` does.
pub fn print_call_logs(response: &CallResponse) {
    for line in &response.log_lines {
        println!("{}", format_log_line(response.kind, &response.path, line));
    }
    if let (Some(kind), Err(CallError::Developer { message, .. })) = (response.kind, &response.outcome) {
        println!("{}", format_log_line(Some(kind), &response.path, message));
    }
}

/// An HTTP action's log line: `[CONVEX H(POST /echo)] [LOG] 'hi'`.
pub(crate) fn format_http_log_line(method: &str, path: &str, line: &str) -> String {
    format!("[CONVEX H({method} {path})] {line}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_convex_dev() {
        assert_eq!(
            format_log_line(Some(FunctionKind::Query), "messages:list", "[LOG] 'hi'"),
            "[CONVEX Q(messages:list)] [LOG] 'hi'"
        );
    }
}
