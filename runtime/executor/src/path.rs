//! Function paths and addresses: parsing the wire form (`messages:list`, `dir/file:fn`,
//! `messages.js:list`, `messages` for the default export) into a canonical [`UdfPath`], function
//! handles (`function://<component path>#<path>`) (spec §3.2, §3.11), and the
//! [`FunctionAddress`] a caller names a function by. Addresses are resolved against the
//! component tree in `components.rs`.
//!
//! Invariant: a `UdfPath` always holds a module path without extension and a valid export
//! identifier; its display forms match Convex's (`messages:list` stripped, `messages.js:list`
//! canonical). A handle round-trips: `decode_handle(encode_handle(c, p)) == (c, p)`.

use std::fmt;

use emvex_value::limits::check_identifier;

/// How a caller names a function, as written; resolved from the caller's instance by
/// `Components::resolve`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum FunctionAddress {
    /// A function handle (`function://<component>#<path>`): any instance.
    Handle(String),
    /// A function reference: `_reference/function/<path>` (the caller's instance) or
    /// `_reference/childComponent/<child>/<module…>/<export>` (a public function of a child).
    Reference(String),
    /// A path inside the caller's instance (`messages:list`), or a handle.
    Name(String),
}

/// A parsed function path inside one component.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct UdfPath {
    /// Module path under `convex/`, without extension: `messages`, `dir/file`.
    pub module: String,
    /// Export name; `default` for the default export.
    pub name: String,
}

/// Why a path string is not a function path (HTTP 400 `BadConvexFunctionIdentifier`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PathError {
    pub message: String,
}

impl UdfPath {
    /// Parses a wire path the way the Convex backend does: split at the last `:`, strip a `.js`
    /// extension (any other extension is rejected), default export `default`.
    pub(crate) fn parse(path: &str) -> Result<UdfPath, PathError> {
        let bad = |why: &str| PathError { message: format!("Couldn't parse function path \"{path}\": {why}") };
        let (module, name) = match path.rfind(':') {
            Some(i) => (&path[..i], &path[i + 1..]),
            None => (path, "default"),
        };
        let module = match module.strip_suffix(".js") {
            Some(m) => m,
            None => module,
        };
        if module.is_empty() {
            return Err(bad("the module path is empty"));
        }
        if module.starts_with('/') {
            return Err(bad("module paths must be relative"));
        }
        for component in module.split('/') {
            if component.is_empty() {
                return Err(bad("the module path has an empty component"));
            }
            if component.len() > 64 {
                return Err(bad("a module path component is longer than 64 characters"));
            }
            if !component.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-') {
                return Err(bad("module path components may contain only letters, digits, `_`, `-` and `.`"));
            }
            if !component.chars().any(|c| c.is_ascii_alphanumeric()) {
                return Err(bad("a module path component has no letter or digit"));
            }
            if component.contains('.') {
                return Err(bad("only the `.js` extension is allowed in function paths"));
            }
        }
        if check_identifier(name).is_err() {
            return Err(bad(&format!("`{name}` is not a valid export name")));
        }
        Ok(UdfPath { module: module.to_string(), name: name.to_string() })
    }

    /// `messages:list`, or `messages` for a default export (what `getFunctionMetadata().name` gives).
    pub(crate) fn stripped(&self) -> String {
        if self.name == "default" { self.module.clone() } else { format!("{}:{}", self.module, self.name) }
    }

    /// `messages.js:list` — the form Convex uses in error messages.
    pub(crate) fn canonical(&self) -> String {
        format!("{}.js:{}", self.module, self.name)
    }
}

impl fmt::Display for UdfPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.stripped())
    }
}

/// The prefix the `convex` package recognises handles by.
pub(crate) const HANDLE_PREFIX: &str = "function://";

/// A function handle for `path` in the component at `component` (`""` = the app): a plain string
/// that survives storage in documents and names the function from anywhere.
pub(crate) fn encode_handle(component: &str, path: &UdfPath) -> String {
    format!("{HANDLE_PREFIX}{component}#{}", path.stripped())
}

/// Decodes a handle made by [`encode_handle`] into (component path, function path).
pub(crate) fn decode_handle(handle: &str) -> Result<(String, UdfPath), PathError> {
    let bad = || PathError { message: format!("Invalid function handle \"{handle}\"") };
    let rest = handle.strip_prefix(HANDLE_PREFIX).ok_or_else(bad)?;
    let (component, path) = rest.split_once('#').ok_or_else(bad)?;
    let path = UdfPath::parse(path).map_err(|_| bad())?;
    Ok((component.to_string(), path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_wire_forms() {
        let p = UdfPath::parse("messages:list").unwrap();
        assert_eq!((p.module.as_str(), p.name.as_str()), ("messages", "list"));
        assert_eq!(UdfPath::parse("messages.js:list").unwrap(), p);
        let d = UdfPath::parse("dir/file").unwrap();
        assert_eq!((d.module.as_str(), d.name.as_str()), ("dir/file", "default"));
        assert_eq!(d.stripped(), "dir/file");
        assert_eq!(p.canonical(), "messages.js:list");
    }

    #[test]
    fn handles_round_trip() {
        let p = UdfPath::parse("dir/file:fn").unwrap();
        let h = encode_handle("", &p);
        assert_eq!(h, "function://#dir/file:fn");
        assert_eq!(decode_handle(&h).unwrap(), (String::new(), p.clone()));
        assert!(decode_handle("function://nohash").is_err());
        assert!(decode_handle("http://#a:b").is_err());
    }

    #[test]
    fn rejects_bad_paths() {
        for bad in ["", ":x", "/abs:x", "a//b:x", "m.ts:x", "m:1x", "m:", "m:__", "a b:c"] {
            assert!(UdfPath::parse(bad).is_err(), "{bad} should be rejected");
        }
    }
}
