//! `emvex codegen`: an app's `convex/_generated/` files, offline, with exactly the content
//! `npx convex codegen` of convex 1.49 writes (`api`, `server`: `.js` + `.d.ts`;
//! `dataModel.d.ts`), including the `components` typing of mounted components, and each local
//! component's own `_generated/` (`api.ts`, `component.ts`, `dataModel.ts`, `server.ts`).
//!
//! Owns: loading the app for codegen, the module list, the files' text, writing them and
//! checking them. Layering: uses the engine only (through [`emvex_engine::App`]'s public
//! definitions and import graph, and an [`emvex_engine::Isolate`] per local component to
//! analyze its functions), so the same function serves `emvex codegen` and the check
//! `emvex dev` runs at start; it sits beside the executor, not under it, because it needs the
//! evaluated component definitions but none of the executor's state.
//!
//! Invariants:
//! - Output is a pure function of the app's files: the same app always yields the same bytes.
//! - [`Mode::Check`] writes nothing; [`Mode::Write`] writes only files whose content differs,
//!   and only the generated files. In the app's `_generated/` other files are left alone; in a
//!   local component's, other files are removed, as the CLI removes them (directories and an
//!   `ai` entry are kept), and `--check` names the first such file.
//! - The files that do not depend on evaluating the app (`api.js`, `server.js`,
//!   `dataModel.d.ts`, and a component's initial `dataModel.ts`, `server.ts`, `api.ts` when
//!   missing) are written before the app is loaded, as the CLI does, so an app whose
//!   `_generated/` is missing can be loaded at all.
//! - Component definitions a native implementation replaces are matched as the executor
//!   matches them (the same [`OpaqueDefinition`]s), so codegen never evaluates them.

#![forbid(unsafe_code)]

mod collation;
mod component;
mod entry_points;
mod pretty;
mod render;
mod render_component;
mod shape;
mod validator_type;

use std::fs;
use std::path::{Path, PathBuf};

use emvex_engine::{App, EngineOptions, OpaqueDefinition};

pub use component::{ComponentFunction, ComponentShape, local_component_dirs};
pub use entry_points::entry_points;
pub use render::{GeneratedFile, render};
pub use render_component::{COMPONENT_FILES, render_component};
pub use shape::{AppShape, EnvVar, MountedComponent};

/// Why codegen could not run. `code` is stable (`AppNotLoadable`, `Io`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodegenError {
    pub code: &'static str,
    pub message: String,
}

impl CodegenError {
    pub(crate) fn new(code: &'static str, message: String) -> CodegenError {
        CodegenError { code, message }
    }

    pub(crate) fn io(path: &Path, e: &std::io::Error) -> CodegenError {
        CodegenError::new("Io", format!("{}: {e}", path.display()))
    }
}

impl std::fmt::Display for CodegenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CodegenError {}

/// How [`run`] loads the app.
#[derive(Debug, Clone, Default)]
pub struct CodegenOptions {
    /// Definitions a native component replaces (not evaluated).
    pub opaque: Vec<OpaqueDefinition>,
    /// Bytecode cache directory to use while loading, if any.
    pub cache_dir: Option<PathBuf>,
}

/// Write the files, or only compare them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Write,
    Check,
}

/// What [`run`] found or did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every generated file already had its content.
    UpToDate,
    /// [`Mode::Write`]: these files were written, and these stale files in a local
    /// component's `_generated/` removed.
    Written { written: Vec<PathBuf>, removed: Vec<PathBuf> },
    /// [`Mode::Check`]: this file (the first, in the CLI's writing order; the app's files before
    /// its components') is missing or differs.
    Differs(PathBuf),
    /// [`Mode::Check`]: this file in a local component's `_generated/` is not one codegen
    /// writes (writing removes it).
    Stray(PathBuf),
}

/// Entries of a component's `_generated/` the CLI never removes.
const PRESERVED_ENTRIES: [&str; 1] = ["ai"];

/// Files whose content does not depend on evaluating the app; as the CLI's initial codegen,
/// they are written before the app is loaded, since the app's modules import them.
const INITIAL_FILES: [&str; 3] = ["dataModel.d.ts", "server.js", "api.js"];

/// Generates the `_generated/` files of the app in `app_dir` (the directory holding `convex/`)
/// and of its local components, and writes or checks them. In [`Mode::Check`] nothing is
/// written and a missing or differing file is reported before the app is loaded when it is one
/// of the initial files.
pub fn run(app_dir: &Path, options: &CodegenOptions, mode: Mode) -> Result<Outcome, CodegenError> {
    let initial: Vec<GeneratedFile> =
        render(&AppShape::from_files(app_dir)?).into_iter().filter(|f| INITIAL_FILES.contains(&f.name)).collect();
    // A component's initial files are written only when missing, as the CLI writes them.
    let mut missing_initial = Vec::new();
    for (path, dir) in local_component_dirs(&app_dir.join("convex"))? {
        let generated = component_generated_dir(app_dir, &path);
        let missing = render_component::initial(shape::has_schema(&dir)).into_iter();
        missing_initial.push((generated.clone(), missing.filter(|f| !generated.join(f.name).exists()).collect()));
    }
    let mut written = Vec::new();
    match mode {
        Mode::Check => {
            if let Some(path) = first_difference(&generated_dir(app_dir), &initial) {
                return Ok(Outcome::Differs(path));
            }
            let mut missing = missing_initial
                .iter()
                .flat_map(|(dir, files): &(PathBuf, Vec<GeneratedFile>)| files.iter().map(move |f| dir.join(f.name)));
            if let Some(path) = missing.next() {
                return Ok(Outcome::Differs(path));
            }
        }
        Mode::Write => {
            written.extend(write(&generated_dir(app_dir), &initial)?);
            for (dir, files) in &missing_initial {
                written.extend(write(dir, files)?);
            }
        }
    }
    let engine_options = EngineOptions { cache_dir: options.cache_dir.clone(), ..EngineOptions::new(app_dir) };
    let app = App::load_with_opaque(engine_options, &options.opaque)
        .map_err(|e| CodegenError::new("AppNotLoadable", e.message))?;
    let mut outputs = vec![(generated_dir(app_dir), render(&AppShape::of(&app)?), false)];
    for shape in ComponentShape::all_of(&app)? {
        outputs.push((component_generated_dir(app_dir, &shape.path), render_component(&shape)?, true));
    }
    let mut removed = Vec::new();
    for (dir, files, is_component) in outputs {
        let strays = if is_component { strays(&dir, &files)? } else { Vec::new() };
        match mode {
            Mode::Check => {
                if let Some(path) = first_difference(&dir, &files) {
                    return Ok(Outcome::Differs(path));
                }
                if let Some(path) = strays.into_iter().next() {
                    return Ok(Outcome::Stray(path));
                }
            }
            Mode::Write => {
                written.extend(write(&dir, &files)?);
                for path in strays {
                    fs::remove_file(&path).map_err(|e| CodegenError::io(&path, &e))?;
                    removed.push(path);
                }
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    written.retain(|path| seen.insert(path.clone()));
    Ok(if written.is_empty() && removed.is_empty() { Outcome::UpToDate } else { Outcome::Written { written, removed } })
}

/// The `_generated/` directory of the app in `app_dir`.
pub fn generated_dir(app_dir: &Path) -> PathBuf {
    app_dir.join("convex").join("_generated")
}

/// The `_generated/` directory of the local component at definition path `path`.
pub fn component_generated_dir(app_dir: &Path, path: &str) -> PathBuf {
    app_dir.join("convex").join(path).join("_generated")
}

/// The first of `files` whose content in `dir` differs (or that is missing).
fn first_difference(dir: &Path, files: &[GeneratedFile]) -> Option<PathBuf> {
    files.iter().map(|f| dir.join(f.name)).zip(files).find(|(path, f)| !has_content(path, f)).map(|(path, _)| path)
}

/// Files in a component's `_generated/` that are not among `files` (and not preserved), sorted.
fn strays(dir: &Path, files: &[GeneratedFile]) -> Result<Vec<PathBuf>, CodegenError> {
    let Ok(read) = fs::read_dir(dir) else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for entry in read {
        let entry = entry.map_err(|e| CodegenError::io(dir, &e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_file = entry.file_type().map_err(|e| CodegenError::io(&entry.path(), &e))?.is_file();
        if is_file && !files.iter().any(|f| f.name == name) && !PRESERVED_ENTRIES.contains(&name.as_str()) {
            out.push(entry.path());
        }
    }
    out.sort();
    Ok(out)
}

fn has_content(path: &Path, file: &GeneratedFile) -> bool {
    fs::read(path).ok().as_deref() == Some(file.contents.as_bytes())
}

/// Writes the files that differ into `dir`; returns the paths written.
fn write(dir: &Path, files: &[GeneratedFile]) -> Result<Vec<PathBuf>, CodegenError> {
    if files.is_empty() {
        return Ok(Vec::new());
    }
    fs::create_dir_all(dir).map_err(|e| CodegenError::io(dir, &e))?;
    let mut written = Vec::new();
    for file in files {
        let path = dir.join(file.name);
        if !has_content(&path, file) {
            fs::write(&path, &file.contents).map_err(|e| CodegenError::io(&path, &e))?;
            written.push(path);
        }
    }
    Ok(written)
}
