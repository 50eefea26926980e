//! The app's modules as Node.js imports them: every file under `convex/` written with its
//! TypeScript stripped (`.ts`/`.tsx`/`.mts`/`.jsx` become `.js`, with an inline source map
//! back to the original), beside a `package.json` marking them ES modules, the host script and
//! the console, in `<app>/.emvex/node/<content hash>/`.
//!
//! Invariants: the mirror lives inside the app directory, so the modules' bare imports resolve
//! from the app's `node_modules` by Node's own walk up the directories. A mirror directory is
//! named by the hash of everything in it and is never changed once written (it is written
//! under a temporary name and renamed into place), so several emvex processes serving the
//! same app share it safely, and one serving other sources gets its own. Mirrors of other
//! contents untouched for an hour are removed.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::NodeError;

/// The host script, written into every mirror.
const HOST_JS: &str = include_str!("host.mjs");

/// How long an unused mirror of other contents is kept.
const STALE_AFTER: Duration = Duration::from_secs(3600);

/// Bumped when what the mirror holds for the same sources changes (the stripping, the layout).
const MIRROR_FORMAT: &str = concat!("emvex-node-mirror-1-", env!("CARGO_PKG_VERSION"));

/// One file of the mirror: its path relative to the mirror root, its source text, and the
/// source file to strip it as (`None`: written as it is).
struct MirrorFile {
    target: PathBuf,
    text: String,
    strip_as: Option<PathBuf>,
}

/// Writes (or finds) the mirror of `convex_dir` for the app in `app_dir`; returns its root.
/// The name hashes the sources, so an unchanged app finds its mirror without stripping again.
pub(crate) fn write(app_dir: &Path, convex_dir: &Path) -> Result<PathBuf, NodeError> {
    let fixed = |target: &str, text: &str| MirrorFile { target: target.into(), text: text.into(), strip_as: None };
    let mut files = vec![
        fixed("package.json", "{\"type\":\"module\",\"private\":true}\n"),
        fixed("host.mjs", HOST_JS),
        fixed("console.js", emvex_engine::CONSOLE_JS),
    ];
    collect(convex_dir, Path::new("convex"), &mut files)?;
    files.sort_by(|a, b| a.target.cmp(&b.target));
    let mut hash = Sha256::new();
    hash.update(MIRROR_FORMAT.as_bytes());
    for file in &files {
        hash.update([0]);
        hash.update(file.target.to_string_lossy().as_bytes());
        hash.update([0, u8::from(file.strip_as.is_some())]);
        hash.update(file.text.as_bytes());
    }
    let name: String = hash.finalize()[..8].iter().map(|b| format!("{b:02x}")).collect();
    let parent = app_dir.join(".emvex").join("node");
    let root = parent.join(&name);
    prune(&parent, &name);
    if root.is_dir() {
        return Ok(root);
    }
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let attempt = WRITES.fetch_add(1, Ordering::Relaxed);
    let temp = parent.join(format!("tmp-{}-{attempt}", std::process::id()));
    let _ = fs::remove_dir_all(&temp);
    let written = write_files(&temp, convex_dir, &files);
    if let Err(e) = written {
        let _ = fs::remove_dir_all(&temp);
        return Err(e);
    }
    if let Err(e) = fs::rename(&temp, &root) {
        let _ = fs::remove_dir_all(&temp);
        // Another process wrote the same mirror first.
        if !root.is_dir() {
            return Err(NodeError::new(format!("cannot create {}: {e}", root.display())));
        }
    }
    Ok(root)
}

/// Writes `files` under `dir`, stripping the TypeScript ones.
fn write_files(dir: &Path, convex_dir: &Path, files: &[MirrorFile]) -> Result<(), NodeError> {
    for file in files {
        let code = match &file.strip_as {
            Some(source) => {
                let display = source.strip_prefix(convex_dir.parent().unwrap_or(convex_dir)).unwrap_or(source);
                emvex_engine::strip_types(source, &display.display().to_string(), &file.text)
                    .map_err(|e| NodeError::new(e.message))?
            }
            None => file.text.clone(),
        };
        let target = dir.join(&file.target);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent)
                .map_err(|e| NodeError::new(format!("cannot create {}: {e}", parent.display())))?;
        }
        fs::write(&target, code).map_err(|e| NodeError::new(format!("cannot write {}: {e}", target.display())))?;
    }
    Ok(())
}

/// Reads the files under `dir` into `out`, named as they are in the mirror (under `prefix`).
fn collect(dir: &Path, prefix: &Path, out: &mut Vec<MirrorFile>) -> Result<(), NodeError> {
    let read_error = |path: &Path, e: std::io::Error| NodeError::new(format!("cannot read {}: {e}", path.display()));
    for entry in fs::read_dir(dir).map_err(|e| read_error(dir, e))? {
        let entry = entry.map_err(|e| read_error(dir, e))?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            if name != "node_modules" && !name.starts_with('.') {
                collect(&path, &prefix.join(&name), out)?;
            }
            continue;
        }
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        let stripped = matches!(ext, "ts" | "tsx" | "mts" | "jsx" | "js" | "mjs") && !name.ends_with(".d.ts");
        let target = match ext {
            "ts" | "tsx" | "mts" | "jsx" if stripped => prefix.join(format!("{}.js", stem(&name))),
            "js" | "mjs" | "cjs" | "json" => prefix.join(&name),
            _ => continue,
        };
        let text = fs::read_to_string(&path).map_err(|e| read_error(&path, e))?;
        out.push(MirrorFile { target, text, strip_as: stripped.then_some(path) });
    }
    Ok(())
}

/// Removes mirrors (and abandoned temporary directories) other than `current` that nobody
/// touched for [`STALE_AFTER`]. (Their age is the file system's: this is housekeeping of files,
/// not something a function observes, so it is not read through the deployment's clock.)
fn prune(parent: &Path, current: &str) {
    let Ok(entries) = fs::read_dir(parent) else { return };
    for entry in entries.flatten() {
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > STALE_AFTER);
        if entry.file_name() != current && stale {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

fn stem(name: &str) -> &str {
    name.rsplit_once('.').map_or(name, |(stem, _)| stem)
}
