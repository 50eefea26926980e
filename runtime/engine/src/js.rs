//! The engine's own JavaScript, kept as files in `src/js/` and joined at build time.
//!
//! Owns: which files make the prelude and in which order they are joined, and the script of the
//! definition realm. The prelude is one ES module (evaluated as `emvex:prelude`, its bytecode
//! cached per app by `isolate.rs`) made of one file per web API or concern; `install.js`, last,
//! is its default export and calls each file's setup function in the order the files are listed
//! below (the setup order, also described in `install.js`).
//!
//! Invariants (checked by the tests below):
//! - Every `.js` file of `src/js/` is in the prelude or is the definition realm script.
//! - The files share no top-level variable: each declares only functions (its setup function,
//!   and in `state.js` the helpers over the state object), so everything modules share goes
//!   through the one state object `install.js` creates.
//! - `install.js` calls the setup functions in the order of the files.
//! - The JavaScript type-checks (`npx tsc -p runtime/engine/src/js`, run by `scripts/test-all`).

/// Declares the prelude's files (in setup order) and the module made of them.
macro_rules! prelude {
    ($($file:literal),* $(,)?) => {
        /// The prelude's files in `src/js/`, in setup order.
        #[cfg(test)]
        const PRELUDE_FILES: &[&str] = &[$($file),*];

        /// The prelude module: the listed files joined in order.
        pub(crate) const PRELUDE: &str = concat!($(include_str!(concat!("js/", $file))),*);
    };
}

prelude!(
    "state.js",
    "console.js",
    "determinism.js",
    "crypto.js",
    "timers.js",
    "globals.js",
    "encoding.js",
    "url.js",
    "structured_clone.js",
    "events.js",
    "subtle.js",
    "blob.js",
    "headers.js",
    "form_data.js",
    "fetch.js",
    "host.js",
    "control.js",
    "install.js",
);

#[cfg(test)]
mod tests {
    use super::*;

    fn js_dir() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/js")
    }

    fn read(file: &str) -> String {
        std::fs::read_to_string(js_dir().join(file)).unwrap()
    }

    /// The names of the functions a file declares at its top level.
    fn top_level_functions(text: &str) -> Vec<String> {
        text.lines()
            .filter_map(|l| l.strip_prefix("function ").or_else(|| l.strip_prefix("export default function ")))
            .map(|l| l[..l.find('(').unwrap()].to_string())
            .collect()
    }

    #[test]
    fn every_js_file_is_in_the_prelude_or_is_the_realm_script() {
        for entry in std::fs::read_dir(js_dir()).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            if name.ends_with(".js") {
                assert!(PRELUDE_FILES.contains(&name.as_str()) || name == "definition_realm.js", "{name}");
            }
        }
        assert_eq!(PRELUDE_FILES.last(), Some(&"install.js"));
    }

    #[test]
    fn files_declare_only_functions_at_top_level() {
        for file in PRELUDE_FILES {
            let text = read(file);
            assert!(text.ends_with('\n'), "{file} must end with a newline (files are joined)");
            for line in text.lines() {
                let top_level = line.starts_with(|c: char| c.is_ascii_alphabetic());
                let allowed = line.starts_with("function ") || line.starts_with("export default function ");
                assert!(!top_level || allowed, "{file}: top-level statement other than a function: {line}");
            }
            assert!(!top_level_functions(&text).is_empty(), "{file} declares no function");
        }
    }

    #[test]
    fn install_calls_the_setup_functions_in_file_order() {
        let install = read("install.js");
        let mut last = 0;
        for file in &PRELUDE_FILES[..PRELUDE_FILES.len() - 1] {
            let setup = &top_level_functions(&read(file))[0];
            let at = install.find(&format!("{setup}(")).unwrap_or_else(|| panic!("install.js never calls {setup}"));
            assert!(at > last, "install.js calls {setup} ({file}) out of file order");
            last = at;
        }
    }

    #[test]
    fn the_prelude_is_the_files_joined() {
        let joined: String = PRELUDE_FILES.iter().map(|f| read(f)).collect();
        assert_eq!(PRELUDE, joined);
    }
}
