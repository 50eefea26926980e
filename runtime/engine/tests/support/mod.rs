//! Helpers shared by the engine's integration tests.
//!
//! Owns: writing throw-away apps under the target dir (so `convex` resolves from the
//! workspace's `node_modules`). Each app lives in `<group>/<name>`, emptied first, so tests
//! running in parallel never share a directory as long as their names differ.

use std::path::{Path, PathBuf};

/// Writes an app into `$CARGO_TARGET_TMPDIR/<group>/<name>`: paths are relative to the app dir.
pub fn write_app(group: &str, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(group).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    for (path, text) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    dir
}
