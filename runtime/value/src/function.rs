//! Function kinds and visibility: the one definition the engine (analysis, invocation), the
//! executor (registry, calls, scheduler) and native components share, with Convex's strings.
//!
//! Invariant: [`FunctionKind::as_str`] / [`FunctionKind::parse`] and [`Visibility::as_str`] /
//! [`Visibility::parse`] round-trip, and they are the only place the strings `"query"`,
//! `"mutation"`, `"action"`, `"public"` and `"internal"` are mapped to and from the types.
//! HTTP actions are not registered functions (the `convex/http.ts` router picks them), so
//! they are no kind here.

use std::fmt;

/// What a registered function is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FunctionKind {
    Query,
    Mutation,
    Action,
}

impl FunctionKind {
    /// Convex's lower-case name (`query`, `mutation`, `action`), as in `udfType`, `fnType`
    /// and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            FunctionKind::Query => "query",
            FunctionKind::Mutation => "mutation",
            FunctionKind::Action => "action",
        }
    }

    /// The kind Convex's lower-case name names.
    pub fn parse(name: &str) -> Option<FunctionKind> {
        match name {
            "query" => Some(FunctionKind::Query),
            "mutation" => Some(FunctionKind::Mutation),
            "action" => Some(FunctionKind::Action),
            _ => None,
        }
    }

    /// The capitalised name (`Query`, `Mutation`, `Action`) Convex's messages use.
    pub fn title(self) -> &'static str {
        match self {
            FunctionKind::Query => "Query",
            FunctionKind::Mutation => "Mutation",
            FunctionKind::Action => "Action",
        }
    }
}

impl fmt::Display for FunctionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who may call a function: public functions are reachable by clients (and, in a component,
/// from its parent); internal ones only from inside the app or component, and by admins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Visibility {
    Public,
    Internal,
}

impl Visibility {
    /// `public` or `internal`.
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Internal => "internal",
        }
    }

    /// The visibility `public` or `internal` names.
    pub fn parse(name: &str) -> Option<Visibility> {
        match name {
            "public" => Some(Visibility::Public),
            "internal" => Some(Visibility::Internal),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for kind in [FunctionKind::Query, FunctionKind::Mutation, FunctionKind::Action] {
            assert_eq!(FunctionKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(FunctionKind::parse("httpAction"), None);
        assert_eq!(FunctionKind::Mutation.title(), "Mutation");
        for visibility in [Visibility::Public, Visibility::Internal] {
            assert_eq!(Visibility::parse(visibility.as_str()), Some(visibility));
        }
        assert_eq!(Visibility::parse("private"), None);
    }
}
