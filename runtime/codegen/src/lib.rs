//! `emvex codegen`: an app's `convex/_generated/` files, offline, with exactly the content
//! `npx convex codegen` of convex 1.49 writes (`api`, `server`: `.js` + `.d.ts`;
//! `dataModel.d.ts`), including the `components` typing of mounted components.
//!
//! Owns: loading the app for codegen, the module list, the files' text, writing them and
//! checking them. Layering: uses the engine only (through [`emvex_engine::App`]'s public
//! definitions and import graph), so the same function serves `emvex codegen` and the check
//! `emvex dev` runs at start; it sits beside the executor, not under it, because it needs the
//! evaluated component definitions but none of the executor's state.
//!
//! Invariants:
//! - Output is a pure function of the app's files: the same app always yields the same bytes.
//! - [`Mode::Check`] writes nothing; [`Mode::Write`] writes only files whose content differs,
//!   and only the five generated files (other files in `_generated/` are left alone).
//! - The files that do not depend on evaluating the app (`api.js`, `server.js`,
//!   `dataModel.d.ts`) are written before the app is loaded, as the CLI does, so an app whose
//!   `_generated/` is missing can be loaded at all.
//! - Component definitions a native implementation replaces are matched as the executor
//!   matches them (the same [`OpaqueDefinition`]s), so codegen never evaluates them.

#![forbid(unsafe_code)]

mod entry_points;
mod render;
mod shape;
mod validator_type;

use std::fs;
use std::path::{Path, PathBuf};

use emvex_engine::{App, EngineOptions, OpaqueDefinition};

pub use entry_points::entry_points;
pub use render::{GeneratedFile, render};
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
    /// [`Mode::Write`]: these files were written.
    Written(Vec<PathBuf>),
    /// [`Mode::Check`]: this file (the first, in the CLI's writing order) is missing or differs.
    Differs(PathBuf),
}

/// Files whose content does not depend on evaluating the app; as the CLI's initial codegen,
/// they are written before the app is loaded, since the app's modules import them.
const INITIAL_FILES: [&str; 3] = ["dataModel.d.ts", "server.js", "api.js"];

/// Generates the `_generated/` files of the app in `app_dir` (the directory holding `convex/`)
/// and writes or checks them. In [`Mode::Check`] nothing is written and a missing or differing
/// file is reported before the app is loaded when it is one of the initial files.
pub fn run(app_dir: &Path, options: &CodegenOptions, mode: Mode) -> Result<Outcome, CodegenError> {
    let initial: Vec<GeneratedFile> =
        render(&AppShape::from_files(app_dir)?).into_iter().filter(|f| INITIAL_FILES.contains(&f.name)).collect();
    let mut written = match mode {
        Mode::Check => match first_difference(app_dir, &initial) {
            Some(path) => return Ok(Outcome::Differs(path)),
            None => Vec::new(),
        },
        Mode::Write => write(app_dir, &initial)?,
    };
    let engine_options = EngineOptions { cache_dir: options.cache_dir.clone(), ..EngineOptions::new(app_dir) };
    let app = App::load_with_opaque(engine_options, &options.opaque)
        .map_err(|e| CodegenError::new("AppNotLoadable", e.message))?;
    let files = render(&AppShape::of(&app)?);
    match mode {
        Mode::Check => Ok(first_difference(app_dir, &files).map_or(Outcome::UpToDate, Outcome::Differs)),
        Mode::Write => {
            written.extend(write(app_dir, &files)?);
            Ok(if written.is_empty() { Outcome::UpToDate } else { Outcome::Written(written) })
        }
    }
}

/// The `_generated/` directory of the app in `app_dir`.
pub fn generated_dir(app_dir: &Path) -> PathBuf {
    app_dir.join("convex").join("_generated")
}

/// The first of `files` whose content on disk differs (or that is missing).
fn first_difference(app_dir: &Path, files: &[GeneratedFile]) -> Option<PathBuf> {
    let dir = generated_dir(app_dir);
    files.iter().map(|f| dir.join(f.name)).zip(files).find(|(path, f)| !has_content(path, f)).map(|(path, _)| path)
}

fn has_content(path: &Path, file: &GeneratedFile) -> bool {
    fs::read(path).ok().as_deref() == Some(file.contents.as_bytes())
}

/// Writes the files that differ; returns the paths written.
fn write(app_dir: &Path, files: &[GeneratedFile]) -> Result<Vec<PathBuf>, CodegenError> {
    let dir = generated_dir(app_dir);
    fs::create_dir_all(&dir).map_err(|e| CodegenError::io(&dir, &e))?;
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
