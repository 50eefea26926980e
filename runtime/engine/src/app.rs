//! Loading an app from disk: entry-point discovery, transpiling, import resolution, bytecode.
//!
//! Owns: the immutable [`App`] (every module of the graph reachable from `convex/`, keyed by a
//! canonical name, with its resolved imports, source map, and QuickJS bytecode) and the on-disk
//! bytecode cache. The app's `convex/convex.config.*` and what it imports (component
//! definitions included) join the same graph; `definition_realm.rs` evaluates them. Then every
//! non-opaque component definition's function modules (and what they import) join it too, as
//! entries tagged with their [`DefinitionId`]; an isolate loads only its scope's entries.
//! `load.rs` runs these steps in order ([`App::load`]); nothing here runs JavaScript.
//! Invariants: a module's canonical name is its path relative to the app dir (`convex/a.ts`,
//! `node_modules/convex/dist/esm/server/index.js`) or its absolute path when outside the app
//! dir; it is what QuickJS dedups on (one instance per realm); stack traces and errors show it
//! by its [`display_name`].
//! Every static import of every module is resolved at load time (a failure is a `LoadError` with
//! `file:line:col`). After [`App::load`] returns, every module the app's realm evaluates has
//! bytecode; a module only a component imports gets it from the first isolate of one of that
//! component's instances (the load does not evaluate component modules). Cache entries are
//! keyed by sha256(engine version, canonical name, file content), so a stale entry is never used.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use emvex_clock::Clock;
use oxc_resolver::{ResolveOptions, Resolver};
use sha2::{Digest, Sha256};

use crate::commonjs::{
    self, EAGER_NAME, EAGER_SOURCE, Format, MODE_SPECIFIER, PackageTypes, RUNTIME_NAME, RUNTIME_SOURCE,
};
use crate::definitions::{
    DefinitionId, DefinitionInfo, OpaqueDefinition, config_file, has_use_node_directive, is_opaque_config,
};
use crate::quickjs_ffi::quickjs_version;
use crate::transpile::{self, ImportKind, ImportRef, LineMap};
use crate::{EngineOptions, Limits, LoadError};

/// Part of every cache key: bumped whenever what is compiled from the same file changes (v4:
/// CommonJS wrappers also re-export Babel's `Object.keys(_x).forEach` loops).
const CACHE_FORMAT: &str = "emvex-bytecode-v5";

/// What an entry module is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum EntryKind {
    Functions,
    Schema,
    Crons,
    Http,
}

/// A module under `convex/` that is loaded and analyzed.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// Path under `convex/` without extension (`dir/file`).
    pub module: String,
    /// Index into [`App::modules`].
    pub record: usize,
    pub kind: EntryKind,
    /// The definition whose module this is (`DefinitionId(0)`: the app).
    pub definition: DefinitionId,
}

/// One module of the graph.
#[derive(Debug)]
pub(crate) struct ModuleRecord {
    pub name: String,
    /// Transpiled code; empty when the bytecode came from the cache.
    pub source: String,
    /// Static imports: (specifier, canonical name of the target).
    pub imports: Vec<(String, String)>,
    /// Static imports as written, with their positions.
    import_refs: Vec<ImportRef>,
    /// Export name → 1-based line in the original source.
    pub export_lines: HashMap<String, u32>,
    pub map: Option<LineMap>,
    pub bytecode: OnceLock<Vec<u8>>,
    cache_key: String,
}

/// Counters showing how the app was loaded (for tests and diagnostics).
#[derive(Debug, Default)]
pub struct LoadStats {
    /// Modules whose bytecode came from the disk cache.
    pub cache_hits: AtomicUsize,
    /// Modules compiled from source.
    pub compiled: AtomicUsize,
}

/// Everything loaded from disk and transpiled; shared by isolates on several threads.
pub struct App {
    app_dir: PathBuf,
    cache_dir: Option<PathBuf>,
    pub(crate) env: BTreeMap<String, String>,
    pub(crate) limits: Limits,
    pub(crate) modules: Vec<ModuleRecord>,
    pub(crate) by_name: HashMap<String, usize>,
    pub(crate) entries: Vec<Entry>,
    /// `Date.now()` seen by module top-level code.
    pub(crate) import_time_ms: f64,
    /// Every reading of time in this app's executions (`Date.now()`, deadlines, timers).
    pub(crate) clock: Clock,
    pub(crate) import_seed: [u8; 32],
    /// Bytecode of the engine's prelude module (compiled by the first isolate).
    pub(crate) prelude_bytecode: OnceLock<Vec<u8>>,
    /// The app's and its components' definitions, set by `load` (see `definition_realm.rs`).
    definitions: OnceLock<Vec<DefinitionInfo>>,
    /// Modules under `convex/` marked `"use node"`, not loaded (`dir/file`, sorted).
    use_node_modules: Vec<String>,
    stats: LoadStats,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("app_dir", &self.app_dir)
            .field("modules", &self.modules.len())
            .field("entries", &self.entries.len())
            .finish()
    }
}

impl App {
    /// Step one of [`App::load`] (see `load.rs`): discovers the app's entry points, then loads,
    /// transpiles and resolves every module they (and the root `convex.config.*`) import. The
    /// app has no definitions yet. Returns it with the canonical name of its root config, if
    /// any, and the builder that [`App::add_definitions`] extends the graph with.
    pub(crate) fn build_graph(
        options: EngineOptions,
        opaque: &[OpaqueDefinition],
    ) -> Result<(Arc<App>, Option<String>, GraphBuilder), LoadError> {
        let app_dir = fs::canonicalize(&options.app_dir).map_err(|e| {
            LoadError::new("NoConvexDir", format!("app directory {} is not readable: {e}", options.app_dir.display()))
        })?;
        let convex_dir = app_dir.join("convex");
        if !convex_dir.is_dir() {
            return Err(LoadError::new("NoConvexDir", format!("{} has no convex/ directory", app_dir.display())));
        }
        let mut entry_files = Vec::new();
        let mut use_node_modules = Vec::new();
        discover(&convex_dir, &convex_dir, &mut entry_files, &mut use_node_modules)?;
        use_node_modules.sort();
        entry_files.sort();
        let mut seen_modules: HashMap<String, PathBuf> = HashMap::new();
        for (module, path, _) in &entry_files {
            if let Some(other) = seen_modules.insert(module.clone(), path.clone()) {
                return Err(LoadError::new(
                    "DuplicateModule",
                    format!("two files define module \"{module}\": {} and {}", other.display(), path.display()),
                ));
            }
        }

        let resolve_options = ResolveOptions {
            extensions: [".ts", ".tsx", ".js", ".mjs", ".jsx", ".mts"].map(String::from).to_vec(),
            extension_alias: vec![
                (".js".into(), vec![".ts".into(), ".tsx".into(), ".js".into()]),
                (".mjs".into(), vec![".mts".into(), ".mjs".into()]),
            ],
            condition_names: ["convex", "module", "browser", "import", "default"].map(String::from).to_vec(),
            main_fields: vec!["module".into(), "main".into()],
            ..ResolveOptions::default()
        };
        // Like esbuild, honour tsconfig `paths`; fall back to plain resolution when the tsconfig
        // itself cannot be used.
        let resolvers = [
            Resolver::new(ResolveOptions {
                tsconfig: Some(oxc_resolver::TsconfigDiscovery::Auto),
                ..resolve_options.clone()
            }),
            Resolver::new(resolve_options.clone()),
        ];
        // `require("…")` in CommonJS modules resolves as esbuild does for Convex: the `require`
        // conditions, `main`, and Node's extensions.
        let require_resolver = Resolver::new(ResolveOptions {
            extensions: [".js", ".json", ".cjs"].map(String::from).to_vec(),
            extension_alias: Vec::new(),
            condition_names: ["convex", "require", "browser", "default"].map(String::from).to_vec(),
            main_fields: vec!["main".into()],
            ..resolve_options
        });

        let mut modules: Vec<ModuleRecord> = Vec::new();
        let mut by_name: HashMap<String, usize> = HashMap::new();
        let mut queue: VecDeque<PathBuf> = VecDeque::new();
        let mut entries = Vec::new();
        let mut stats = LoadStats::default();
        for (module, path, kind) in &entry_files {
            let name = canonical_name(&app_dir, path);
            entries.push((module.clone(), name, *kind));
            queue.push_back(path.clone());
        }
        // The app definition and every module (and component definition) it imports join the
        // one module graph; they are evaluated in definition realms only (`definition_realm.rs`).
        let root_config = config_file(&convex_dir);
        let root_config_name = root_config.as_ref().map(|p| canonical_name(&app_dir, p));
        queue.extend(root_config);
        let mut graph = GraphBuilder {
            app_dir: app_dir.clone(),
            resolvers,
            require_resolver,
            package_types: PackageTypes::default(),
            opaque: opaque.to_vec(),
            cache_dir: options.cache_dir.clone(),
            queued: queue.iter().cloned().collect(),
        };
        graph.extend(queue, &mut modules, &mut by_name, &mut stats)?;
        let entries = entries
            .into_iter()
            .map(|(module, name, kind)| Entry { record: by_name[&name], module, kind, definition: DefinitionId(0) })
            .collect();

        let import_time_ms = options.clock.now_whole_ms();
        let mut seed_hasher = Sha256::new();
        seed_hasher.update(app_dir.to_string_lossy().as_bytes());
        let import_seed: [u8; 32] = seed_hasher.finalize().into();

        let app = Arc::new(App {
            app_dir: app_dir.clone(),
            cache_dir: options.cache_dir.clone(),
            env: options.env,
            limits: options.limits,
            modules,
            by_name,
            entries,
            import_time_ms,
            import_seed,
            clock: options.clock,
            prelude_bytecode: OnceLock::new(),
            definitions: OnceLock::new(),
            use_node_modules,
            stats,
        });
        Ok((app, root_config_name, graph))
    }

    /// Step three of [`App::load`]: adds every non-opaque component definition's function
    /// modules (and what they import) to the graph as entries of that definition, and stores
    /// `definitions`. Their bytecode is compiled by the first isolate of one of their instances.
    pub(crate) fn add_definitions(
        &mut self,
        graph: &mut GraphBuilder,
        definitions: Vec<DefinitionInfo>,
    ) -> Result<(), LoadError> {
        let mut component_files = Vec::new();
        for def in definitions.iter().skip(1).filter(|d| d.opaque.is_none()) {
            for module in &def.modules {
                let path = module_file(&def.dir, module)?;
                let kind = match module.as_str() {
                    "schema" => EntryKind::Schema,
                    "crons" => EntryKind::Crons,
                    "http" => EntryKind::Http,
                    _ => EntryKind::Functions,
                };
                component_files.push((def.id, module.clone(), path, kind));
            }
        }
        let queue = component_files.iter().map(|(_, _, path, _)| path.clone()).collect();
        graph.extend(queue, &mut self.modules, &mut self.by_name, &mut self.stats)?;
        for (definition, module, path, kind) in component_files {
            let record = self.by_name[&canonical_name(&self.app_dir, &path)];
            self.entries.push(Entry { module, record, kind, definition });
        }
        let _ = self.definitions.set(definitions);
        Ok(())
    }

    /// The deployment env the app's realm sees as `process.env`.
    pub fn env(&self) -> &BTreeMap<String, String> {
        &self.env
    }

    /// The app directory (canonicalized).
    pub fn app_dir(&self) -> &Path {
        &self.app_dir
    }

    /// The app's definition (id 0, always present) and every component definition its
    /// `convex.config.*` uses, transitively, by id. See `definitions.rs`.
    pub fn definitions(&self) -> &[DefinitionInfo] {
        self.definitions.get().map(Vec::as_slice).unwrap_or(&[])
    }

    /// How the modules' bytecode was obtained.
    pub fn stats(&self) -> &LoadStats {
        &self.stats
    }

    /// What `import name` from module `base` means in the load-time graph: the static import
    /// `base` declared, else `name` itself when it is a module of the graph. `None` for
    /// anything else (a dynamic import of a specifier nothing imports statically).
    pub(crate) fn resolve_static(&self, base: &str, name: &str) -> Option<String> {
        if let Some(&idx) = self.by_name.get(base)
            && let Some((_, target)) = self.modules[idx].imports.iter().find(|(s, _)| s == name)
        {
            return Some(target.clone());
        }
        self.by_name.contains_key(name).then(|| name.to_string())
    }

    /// The app's modules marked `"use node"` (`"dir/file"`, sorted): they run in Node.js on
    /// Convex, and emvex does not load them.
    pub fn use_node_modules(&self) -> &[String] {
        &self.use_node_modules
    }

    /// The app's function module paths (`"messages"`, `"dir/file"`), sorted.
    pub fn module_paths(&self) -> Vec<String> {
        self.definition_module_paths(DefinitionId(0))
    }

    /// Module paths (relative to its directory) of one definition's entries, sorted.
    pub fn definition_module_paths(&self, definition: DefinitionId) -> Vec<String> {
        let mut out: Vec<String> =
            self.entries.iter().filter(|e| e.definition == definition).map(|e| e.module.clone()).collect();
        out.sort();
        out
    }

    /// The static imports of the module loaded from `file` (a canonical path): each specifier
    /// as written and the canonical file it resolved to (also for an opaque definition's
    /// config, which is resolved but not loaded). Empty when `file` is not in the graph.
    pub fn static_imports(&self, file: &Path) -> Vec<(String, PathBuf)> {
        let Some(&idx) = self.by_name.get(&canonical_name(&self.app_dir, file)) else { return Vec::new() };
        let file_of = |name: &str| {
            let path = Path::new(name);
            if path.is_absolute() { path.to_path_buf() } else { self.app_dir.join(path) }
        };
        self.modules[idx].imports.iter().map(|(specifier, target)| (specifier.clone(), file_of(target))).collect()
    }

    /// Stores freshly compiled bytecode for a module (in memory and in the disk cache).
    pub(crate) fn store_bytecode(&self, idx: usize, bytes: Vec<u8>) {
        let rec = &self.modules[idx];
        self.stats.compiled.fetch_add(1, Ordering::Relaxed);
        if let Some(dir) = &self.cache_dir {
            // The cache is an optimisation: failing to write it only costs a recompile later.
            let _ = write_cache(dir, &rec.cache_key, rec, &bytes);
        }
        let _ = rec.bytecode.set(bytes);
    }

    /// Maps a `file:line:col` position of generated code back to the original source.
    pub(crate) fn map_position(&self, name: &str, line: u32, col: u32) -> Option<(u32, u32)> {
        let rec = &self.modules[*self.by_name.get(name)?];
        match &rec.map {
            Some(map) => map.lookup(line, col),
            None => Some((line, col)),
        }
    }
}

/// What the module graph is resolved against while it is built or extended, and the files
/// already queued into it.
pub(crate) struct GraphBuilder {
    app_dir: PathBuf,
    resolvers: [Resolver; 2],
    /// Resolves `require` of CommonJS modules.
    require_resolver: Resolver,
    package_types: PackageTypes,
    opaque: Vec<OpaqueDefinition>,
    cache_dir: Option<PathBuf>,
    queued: HashSet<PathBuf>,
}

impl GraphBuilder {
    /// Loads every file of `queue` and, transitively, its static imports not yet `queued`,
    /// appending their records to `modules`/`by_name`.
    fn extend(
        &mut self,
        mut queue: VecDeque<PathBuf>,
        modules: &mut Vec<ModuleRecord>,
        by_name: &mut HashMap<String, usize>,
        stats: &mut LoadStats,
    ) -> Result<(), LoadError> {
        let app_dir = self.app_dir.as_path();
        queue.retain(|p| !by_name.contains_key(&canonical_name(app_dir, p)));
        self.queued.extend(queue.iter().cloned());
        while let Some(path) = queue.pop_front() {
            let name = canonical_name(app_dir, &path);
            let package_is_module = self.package_types.is_module(&path);
            let record = prepare_module(&path, &name, package_is_module, self.cache_dir.as_deref(), stats)?;
            let dir = path.parent().unwrap_or(app_dir).to_path_buf();
            let mut imports = Vec::new();
            for imp in &record.import_refs {
                let target = match imp.kind {
                    ImportKind::Import => resolve_import(&self.resolvers, &path, &dir, &name, imp)?,
                    ImportKind::Runtime => {
                        for (runtime_name, source) in [(RUNTIME_NAME, RUNTIME_SOURCE), (EAGER_NAME, EAGER_SOURCE)] {
                            if !by_name.contains_key(runtime_name) {
                                let runtime = prepare_runtime(runtime_name, source, self.cache_dir.as_deref(), stats)?;
                                by_name.insert(runtime_name.to_string(), modules.len());
                                modules.push(runtime);
                            }
                        }
                        // The mode is settled once the whole graph is known (`settle_commonjs_modes`).
                        imports.push((imp.specifier.clone(), RUNTIME_NAME.to_string()));
                        continue;
                    }
                    ImportKind::Require { optional } => match resolve_require(&self.require_resolver, &dir, &name, imp)
                    {
                        Ok(target) => target,
                        // Like esbuild, an unresolvable `require` inside `try` is not an error until
                        // it runs: the runtime module stands in for it and throws when required.
                        Err(_) if optional => {
                            imports.push((imp.specifier.clone(), RUNTIME_NAME.to_string()));
                            continue;
                        }
                        Err(e) => return Err(e),
                    },
                };
                let target_name = canonical_name(app_dir, &target);
                imports.push((imp.specifier.clone(), target_name));
                if !is_opaque_config(&target, &self.opaque) && self.queued.insert(target.clone()) {
                    queue.push_back(target);
                }
            }
            let idx = modules.len();
            by_name.insert(name.clone(), idx);
            modules.push(ModuleRecord { imports, ..record });
        }
        settle_commonjs_modes(modules);
        Ok(())
    }
}

/// Points each CommonJS wrapper's mode import (`commonjs::MODE_SPECIFIER`) at the eager
/// module unless the module is required by some CommonJS module and imported by no ES module:
/// then its body runs only when first required, as in Node.
fn settle_commonjs_modes(modules: &mut [ModuleRecord]) {
    let mut required = HashSet::new();
    let mut imported = HashSet::new();
    for m in modules.iter() {
        for (r, (_, target)) in m.import_refs.iter().zip(&m.imports) {
            match r.kind {
                ImportKind::Require { .. } => required.insert(target.clone()),
                ImportKind::Import => imported.insert(target.clone()),
                ImportKind::Runtime => false,
            };
        }
    }
    for m in modules.iter_mut() {
        let lazy = required.contains(&m.name) && !imported.contains(&m.name);
        for (r, (spec, target)) in m.import_refs.iter().zip(m.imports.iter_mut()) {
            if r.kind == ImportKind::Runtime && spec == MODE_SPECIFIER {
                *target = if lazy { RUNTIME_NAME } else { EAGER_NAME }.to_string();
            }
        }
    }
}

/// The file of module path `module` (no extension) under definition directory `dir`.
fn module_file(dir: &Path, module: &str) -> Result<PathBuf, LoadError> {
    ["ts", "tsx", "js", "jsx", "mjs", "mts"]
        .iter()
        .map(|ext| dir.join(format!("{module}.{ext}")))
        .find(|p| p.is_file())
        .map(|p| fs::canonicalize(&p).unwrap_or(p))
        .ok_or_else(|| LoadError::new("Io", format!("module {module} of {} has no file", dir.display())))
}

/// Collects `(module path, file, kind)` for every entry point under `convex/`.
fn discover(
    root: &Path,
    dir: &Path,
    out: &mut Vec<(String, PathBuf, EntryKind)>,
    use_node: &mut Vec<String>,
) -> Result<(), LoadError> {
    let read = fs::read_dir(dir).map_err(|e| LoadError::new("Io", format!("cannot read {}: {e}", dir.display())))?;
    for item in read {
        let item = item.map_err(|e| LoadError::new("Io", format!("{}: {e}", dir.display())))?;
        let path = item.path();
        let file_name = item.file_name().to_string_lossy().into_owned();
        if file_name.starts_with('.') || file_name.starts_with('#') {
            continue;
        }
        let file_type = item.file_type().map_err(|e| LoadError::new("Io", format!("{}: {e}", path.display())))?;
        if file_type.is_dir() || (file_type.is_symlink() && path.is_dir()) {
            if dir == root && (file_name == "_generated" || file_name == "_deps") {
                continue;
            }
            // A sub-directory with its own `convex.config.*` is a component, not app modules.
            if file_name == "node_modules" || config_file(&path).is_some() {
                continue;
            }
            discover(root, &path, out, use_node)?;
            continue;
        }
        if file_name.ends_with(".d.ts")
            || file_name.ends_with(".d.mts")
            || file_name.contains(".test.")
            || file_name.contains(".spec.")
        {
            continue;
        }
        let Some((stem, ext)) = file_name.rsplit_once('.') else { continue };
        if !matches!(ext, "ts" | "tsx" | "js" | "jsx" | "mjs" | "mts") {
            continue;
        }
        let rel_dir = dir.strip_prefix(root).unwrap_or(Path::new(""));
        let mut module = String::new();
        for part in rel_dir.components() {
            module.push_str(&part.as_os_str().to_string_lossy());
            module.push('/');
        }
        module.push_str(stem);
        if has_use_node_directive(&path) {
            // "use node" modules run in Node.js on Convex (actions only); they are not loaded
            // into QuickJS (they typically import Node built-ins).
            use_node.push(module);
            continue;
        }
        let kind = match module.as_str() {
            "schema" => EntryKind::Schema,
            "crons" => EntryKind::Crons,
            "http" => EntryKind::Http,
            // App/component definitions and auth config are deploy-time configuration, not
            // function modules.
            "convex.config" | "auth.config" => continue,
            _ => EntryKind::Functions,
        };
        out.push((module, path, kind));
    }
    Ok(())
}

/// How a module file is shown in stacks: as is when relative (inside the app dir), otherwise
/// from its last `node_modules/` on.
pub(crate) fn display_name(file: &str) -> &str {
    if !file.starts_with('/') {
        return file;
    }
    match file.rfind("node_modules/") {
        Some(i) => &file[i..],
        None => file,
    }
}

/// The canonical module name of a file (see the module docs).
pub(crate) fn canonical_name(app_dir: &Path, path: &Path) -> String {
    match path.strip_prefix(app_dir) {
        Ok(rel) => rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect::<Vec<_>>().join("/"),
        Err(_) => path.to_string_lossy().into_owned(),
    }
}

fn resolve_import(
    resolvers: &[Resolver; 2],
    file: &Path,
    dir: &Path,
    importer: &str,
    imp: &ImportRef,
) -> Result<PathBuf, LoadError> {
    let importer = display_name(importer);
    let resolved = resolvers[0]
        .resolve_file(file, &imp.specifier)
        .or_else(|first| resolvers[1].resolve(dir, &imp.specifier).map_err(|_| first));
    match resolved {
        Ok(res) => {
            let path = res.full_path();
            let path = fs::canonicalize(&path).unwrap_or(path);
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
            if !matches!(ext, "ts" | "tsx" | "js" | "jsx" | "mjs" | "mts" | "cjs" | "json") {
                return Err(LoadError::new(
                    "UnresolvedImport",
                    format!(
                        "{importer}:{}:{}: cannot import \"{}\": {} is not a JavaScript or TypeScript module",
                        imp.line,
                        imp.col,
                        imp.specifier,
                        path.display()
                    ),
                ));
            }
            Ok(path)
        }
        Err(e) => {
            let spec = imp.specifier.as_str();
            if spec == "convex" || spec.starts_with("convex/") {
                return Err(LoadError::new(
                    "ConvexNotInstalled",
                    format!(
                        "{importer}:{}:{}: could not resolve \"{spec}\": the `convex` package is not installed (run npm install): {e}",
                        imp.line, imp.col
                    ),
                ));
            }
            Err(LoadError::new(
                "UnresolvedImport",
                format!("{importer}:{}:{}: could not resolve \"{spec}\": {e}", imp.line, imp.col),
            ))
        }
    }
}

/// Resolves `require(imp.specifier)` of CommonJS module `importer` in `dir`.
fn resolve_require(resolver: &Resolver, dir: &Path, importer: &str, imp: &ImportRef) -> Result<PathBuf, LoadError> {
    let shown = display_name(importer);
    let spec = imp.specifier.as_str();
    let path = match resolver.resolve(dir, spec) {
        Ok(res) => res.full_path(),
        Err(e) => {
            return Err(LoadError::new(
                "UnresolvedImport",
                format!("{shown}:{}:{}: could not resolve require(\"{spec}\"): {e}", imp.line, imp.col),
            ));
        }
    };
    let path = fs::canonicalize(&path).unwrap_or(path);
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let problem = match ext {
        "js" | "cjs" | "mjs" | "jsx" | "ts" | "tsx" | "mts" => None,
        // A JSON module carries the hook `require` looks for (see `commonjs::json_module`).
        "json" => None,
        _ => Some("it is not a JavaScript or JSON module"),
    };
    match problem {
        None => Ok(path),
        Some(why) => Err(LoadError::new(
            "UnresolvedImport",
            format!("{shown}:{}:{}: cannot require(\"{spec}\") ({}): {why}", imp.line, imp.col, path.display()),
        )),
    }
}

/// The record of one of the engine's CommonJS modules (see `commonjs.rs`), from the cache if there.
fn prepare_runtime(
    name: &str,
    source: &str,
    cache_dir: Option<&Path>,
    stats: &mut LoadStats,
) -> Result<ModuleRecord, LoadError> {
    let key = cache_key(name, source.as_bytes(), false);
    if let Some(dir) = cache_dir
        && let Some(cached) = read_cache(dir, &key)
    {
        *stats.cache_hits.get_mut() += 1;
        return Ok(cached_record(name, key, cached));
    }
    Ok(ModuleRecord {
        name: name.to_string(),
        source: source.to_string(),
        imports: Vec::new(),
        import_refs: Vec::new(),
        export_lines: HashMap::new(),
        map: None,
        bytecode: OnceLock::new(),
        cache_key: key,
    })
}

fn cached_record(name: &str, key: String, cached: CachedModule) -> ModuleRecord {
    ModuleRecord {
        name: name.to_string(),
        source: String::new(),
        imports: Vec::new(),
        import_refs: cached.imports,
        export_lines: cached.export_lines,
        map: cached.map,
        bytecode: OnceLock::from(cached.bytecode),
        cache_key: key,
    }
}

/// The cache key of module `name` with `content`: it covers everything the compiled output
/// depends on (engine, QuickJS, the format of the cache, and whether the nearest
/// `package.json` says `"type": "module"`, which decides if a `.js` file is CommonJS).
fn cache_key(name: &str, content: &[u8], package_is_module: bool) -> String {
    let mut h = Sha256::new();
    h.update(CACHE_FORMAT.as_bytes());
    h.update([0]);
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    h.update([0]);
    h.update(quickjs_version().as_bytes());
    h.update([0]);
    h.update(name.as_bytes());
    h.update([0, u8::from(package_is_module), 0]);
    h.update(content);
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads, hashes and either restores the module from the cache or transpiles it.
fn prepare_module(
    path: &Path,
    name: &str,
    package_is_module: bool,
    cache_dir: Option<&Path>,
    stats: &mut LoadStats,
) -> Result<ModuleRecord, LoadError> {
    let content = fs::read(path).map_err(|e| LoadError::new("Io", format!("cannot read {}: {e}", path.display())))?;
    let key = cache_key(name, &content, package_is_module);
    if let Some(dir) = cache_dir
        && let Some(cached) = read_cache(dir, &key)
    {
        *stats.cache_hits.get_mut() += 1;
        return Ok(cached_record(name, key, cached));
    }
    let text = String::from_utf8(content).map_err(|_| LoadError::new("Io", format!("{name} is not valid UTF-8")))?;
    // App code (inside the app dir, outside node_modules) gets its catch clauses
    // instrumented so engine-fatal errors cannot be swallowed.
    let instrument = !name.starts_with('/') && !name.contains("node_modules/");
    let out = if path.extension().and_then(|e| e.to_str()) == Some("json") {
        commonjs::json_module(name, &text)?
    } else if commonjs::format_of(path, &text, package_is_module) == Format::CommonJs {
        commonjs::wrap(name, display_name(name), &text, instrument)?
    } else {
        transpile::transpile(path, name, &text, instrument)?
    };
    let record = ModuleRecord {
        name: name.to_string(),
        source: out.code,
        imports: Vec::new(),
        import_refs: out.imports,
        export_lines: out.export_lines,
        map: out.map,
        bytecode: OnceLock::new(),
        cache_key: key,
    };
    Ok(record)
}

struct CachedModule {
    imports: Vec<ImportRef>,
    export_lines: HashMap<String, u32>,
    map: Option<LineMap>,
    bytecode: Vec<u8>,
}

const MAGIC: &[u8] = b"EMVXMOD2";

fn write_cache(dir: &Path, key: &str, rec: &ModuleRecord, bytecode: &[u8]) -> std::io::Result<()> {
    fs::create_dir_all(dir)?;
    let mut buf = Vec::with_capacity(bytecode.len() + 256);
    buf.extend_from_slice(MAGIC);
    let put_u32 = |buf: &mut Vec<u8>, v: u32| buf.extend_from_slice(&v.to_le_bytes());
    let put_str = |buf: &mut Vec<u8>, s: &str| {
        buf.extend_from_slice(&(s.len() as u32).to_le_bytes());
        buf.extend_from_slice(s.as_bytes());
    };
    // Imports are re-resolved on every load (the filesystem may have changed), so only the
    // specifiers and their positions are stored.
    put_u32(&mut buf, rec.import_refs.len() as u32);
    for imp in &rec.import_refs {
        put_str(&mut buf, &imp.specifier);
        put_u32(&mut buf, imp.line);
        put_u32(&mut buf, imp.col);
        put_u32(
            &mut buf,
            match imp.kind {
                ImportKind::Import => 0,
                ImportKind::Require { optional: false } => 1,
                ImportKind::Require { optional: true } => 2,
                ImportKind::Runtime => 3,
            },
        );
    }
    put_u32(&mut buf, rec.export_lines.len() as u32);
    for (name, line) in &rec.export_lines {
        put_str(&mut buf, name);
        put_u32(&mut buf, *line);
    }
    match &rec.map {
        None => put_u32(&mut buf, u32::MAX),
        Some(map) => {
            put_u32(&mut buf, map.tokens.len() as u32);
            for t in &map.tokens {
                for v in t {
                    put_u32(&mut buf, *v);
                }
            }
        }
    }
    put_u32(&mut buf, bytecode.len() as u32);
    buf.extend_from_slice(bytecode);
    static TMP_COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!("{key}.tmp{}-{n}", std::process::id()));
    fs::write(&tmp, &buf)?;
    fs::rename(&tmp, dir.join(format!("{key}.qbc")))
}

fn read_cache(dir: &Path, key: &str) -> Option<CachedModule> {
    let buf = fs::read(dir.join(format!("{key}.qbc"))).ok()?;
    let mut r = Reader { buf: &buf, pos: 0 };
    if r.take(MAGIC.len())? != MAGIC {
        return None;
    }
    let n = r.u32()?;
    let mut imports = Vec::new();
    for _ in 0..n {
        let specifier = r.string()?;
        let line = r.u32()?;
        let col = r.u32()?;
        let kind = match r.u32()? {
            0 => ImportKind::Import,
            1 => ImportKind::Require { optional: false },
            2 => ImportKind::Require { optional: true },
            3 => ImportKind::Runtime,
            _ => return None,
        };
        imports.push(ImportRef { specifier, line, col, kind });
    }
    let n = r.u32()?;
    let mut export_lines = HashMap::new();
    for _ in 0..n {
        let name = r.string()?;
        let line = r.u32()?;
        export_lines.insert(name, line);
    }
    let n = r.u32()?;
    let map = if n == u32::MAX {
        None
    } else {
        let mut tokens = Vec::with_capacity(n as usize);
        for _ in 0..n {
            tokens.push([r.u32()?, r.u32()?, r.u32()?, r.u32()?]);
        }
        Some(LineMap { tokens })
    };
    let n = r.u32()? as usize;
    let bytecode = r.take(n)?.to_vec();
    if r.pos != buf.len() {
        return None;
    }
    Some(CachedModule { imports, export_lines, map, bytecode })
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn string(&mut self) -> Option<String> {
        let n = self.u32()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names() {
        assert_eq!(display_name("convex/a.ts"), "convex/a.ts");
        assert_eq!(display_name("/w/node_modules/convex/dist/x.js"), "node_modules/convex/dist/x.js");
        assert_eq!(display_name("/w/lib/x.js"), "/w/lib/x.js");
    }

    #[test]
    fn canonical_names() {
        let app = Path::new("/x/app");
        assert_eq!(canonical_name(app, Path::new("/x/app/convex/a.ts")), "convex/a.ts");
        assert_eq!(canonical_name(app, Path::new("/x/node_modules/c/i.js")), "/x/node_modules/c/i.js");
    }

    #[test]
    fn cache_round_trip_and_rejects_garbage() {
        let dir = std::env::temp_dir().join(format!("emvex-cache-{}", std::process::id()));
        let rec = ModuleRecord {
            name: "convex/a.ts".into(),
            source: String::new(),
            imports: Vec::new(),
            import_refs: vec![
                ImportRef { specifier: "./b".into(), line: 2, col: 3, kind: ImportKind::Import },
                ImportRef { specifier: "x".into(), line: 4, col: 5, kind: ImportKind::Require { optional: true } },
                ImportRef { specifier: RUNTIME_NAME.into(), line: 1, col: 1, kind: ImportKind::Runtime },
            ],
            export_lines: HashMap::from([("q".to_string(), 4)]),
            map: Some(LineMap { tokens: vec![[0, 0, 1, 2]] }),
            bytecode: OnceLock::new(),
            cache_key: "k".into(),
        };
        write_cache(&dir, "k", &rec, b"bytes").unwrap();
        let back = read_cache(&dir, "k").unwrap();
        assert_eq!(back.imports, rec.import_refs);
        assert_eq!(back.export_lines, rec.export_lines);
        assert_eq!(back.map, rec.map);
        assert_eq!(back.bytecode, b"bytes");
        fs::write(dir.join("bad.qbc"), b"EMVXMOD2\xff\xff").unwrap();
        assert!(read_cache(&dir, "bad").is_none());
        assert!(read_cache(&dir, "missing").is_none());
        let _ = fs::remove_dir_all(&dir);
    }
}
