//! The `emvex` command line: `emvex dev` serves an app, `emvex run` runs one function,
//! `emvex codegen` writes (or `--check`s) the app's `convex/_generated/` files.
//!
//! Exit codes: 0 success, 1 the function failed (`run`) or a generated file is out of date
//! (`codegen --check`), 2 bad usage or an app that cannot be loaded. Data lives in
//! `APP_DIR/.emvex/` unless `--data` or `--in-memory` says otherwise; the bytecode cache always
//! lives in `APP_DIR/.emvex/cache`.

#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// mimalloc: QuickJS allocates and frees many small objects per call; mimalloc measured ~10%
/// faster per mutation than the system allocator here.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Args, Parser, Subcommand};
use emvex_executor::{CallError, CallRequest, DataLocation, Executor, ExecutorConfig, Limits, UserIdentity};
use emvex_server::{BoundServer, ServerConfig};

#[derive(Parser)]
#[command(
    name = "emvex",
    version,
    about = "Run Convex apps locally: queries and mutations over SQLite, served over Convex's HTTP API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Load the app and serve it on 127.0.0.1 (Convex's HTTP API).
    Dev(DevArgs),
    /// Run one query or mutation (internal ones too) and print its result as Convex JSON.
    Run(RunArgs),
    /// Write convex/_generated/ (api, server, dataModel) and each local component's
    /// _generated/ (api, component, server, dataModel) as `npx convex codegen` of convex 1.49
    /// does, offline.
    Codegen(CodegenArgs),
}

#[derive(Args)]
struct CodegenArgs {
    /// The app's directory (the one holding `convex/`).
    #[arg(default_value = ".")]
    app_dir: PathBuf,
    /// Write nothing; exit 1 naming the first generated file that is missing or differs.
    #[arg(long)]
    check: bool,
}

#[derive(Args)]
struct Storage {
    /// Directory for the SQLite data file [default: APP_DIR/.emvex]
    #[arg(long, value_name = "DIR", conflicts_with = "in_memory")]
    data: Option<PathBuf>,
    /// Keep all data (documents, stored files) in memory; only caches are written to disk.
    #[arg(long)]
    in_memory: bool,
}

#[derive(Args)]
struct LimitArgs {
    /// Time limit for one query or mutation, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    timeout_ms: u64,
    /// Memory limit for one execution, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 64)]
    memory_limit_mb: usize,
    /// Time limit for one action, in milliseconds (Convex: 10 minutes).
    #[arg(long, value_name = "MS", default_value_t = 600_000)]
    action_timeout_ms: u64,
    /// `"use node"` actions that run at once, each in a Node.js process of its own; more wait
    /// for a free process (within their time limit)
    #[arg(long, value_name = "N", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..))]
    node_actions: u16,
    /// JS threads running functions: queries and mutations run one at a time on the first,
    /// actions and HTTP actions on all of them [default: one per core]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    workers: Option<u16>,
    /// Which implementation serves `@convex-dev/workpool` (and `emvex/workpool`) mounts:
    /// emvex's native Rust component, or the npm package's own TypeScript (`ts`; `emvex/workpool`
    /// mounts have no TypeScript implementation and stay native)
    #[arg(long, value_enum, default_value_t = WorkpoolImpl::Native)]
    workpool_impl: WorkpoolImpl,
    /// A deployment environment variable the app sees in `process.env` (as `npx convex env set`
    /// does on Convex); repeat for several
    #[arg(long = "env", value_name = "NAME=VALUE", value_parser = parse_env_var)]
    env: Vec<(String, String)>,
}

/// `NAME=VALUE`, with Convex's rules for variable names.
fn parse_env_var(text: &str) -> Result<(String, String), String> {
    let (name, value) = text.split_once('=').ok_or_else(|| format!("expected NAME=VALUE, got \"{text}\""))?;
    let valid = name.len() <= 40
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(format!(
            "invalid environment variable name \"{name}\": it must start with a letter, contain only letters, digits and underscores, and be at most 40 characters"
        ));
    }
    Ok((name.to_string(), value.to_string()))
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum WorkpoolImpl {
    Native,
    Ts,
}

#[derive(Args)]
struct DevArgs {
    /// The app's directory (the one holding `convex/`).
    #[arg(default_value = ".")]
    app_dir: PathBuf,
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 3210)]
    port: u16,
    /// Port for HTTP actions (`convex/http.ts`) on 127.0.0.1 (0 picks a free one)
    /// [default: the next port after --port (3211), or a free one with --port 0]
    #[arg(long)]
    site_port: Option<u16>,
    #[command(flatten)]
    storage: Storage,
    /// Admin key for `Authorization: Convex <key>` [default: a random key, printed at start]
    #[arg(long, value_name = "KEY")]
    admin_key: Option<String>,
    #[command(flatten)]
    limits: LimitArgs,
}

#[derive(Args)]
struct RunArgs {
    /// `[APP_DIR] FUNCTION [ARGS_JSON]`, e.g. `fixtures/basic messages:send '{"body":"hi"}'`.
    #[arg(num_args = 1..=3, value_name = "[APP_DIR] FUNCTION [ARGS_JSON]", required = true)]
    positional: Vec<String>,
    /// Run as this user, as `npx convex run --identity` does: a JSON `UserIdentity` with
    /// `tokenIdentifier`, or `issuer` and `subject` (e.g. '{"subject":"u1","issuer":"https://x"}').
    #[arg(long, value_name = "JSON")]
    identity: Option<String>,
    #[command(flatten)]
    storage: Storage,
    #[command(flatten)]
    limits: LimitArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Dev(args) => dev(args),
        Command::Run(args) => run(args),
        Command::Codegen(args) => codegen(args),
    }
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("emvex: {message}");
    ExitCode::from(2)
}

fn check_app_dir(app_dir: &Path) -> Result<(), String> {
    if !app_dir.is_dir() {
        return Err(format!("app directory {} does not exist", app_dir.display()));
    }
    if !app_dir.join("convex").is_dir() {
        return Err(format!("{} is not a Convex app: it has no convex/ folder", app_dir.display()));
    }
    Ok(())
}

/// The native component definitions to mount.
fn native_components(workpool: WorkpoolImpl) -> Vec<emvex_executor::NativeDefinition> {
    let mut native = emvex_component::workpool::definitions();
    if workpool == WorkpoolImpl::Ts {
        native.retain(|n| n.package != "@convex-dev/workpool");
    }
    native
}

/// How codegen loads an app: every native definition stays unevaluated, as `emvex dev` serves
/// them by default (the generated types do not depend on the implementation).
fn codegen_options() -> emvex_codegen::CodegenOptions {
    let opaque = emvex_executor::opaque_definitions(&native_components(WorkpoolImpl::Native));
    emvex_codegen::CodegenOptions { opaque, cache_dir: None }
}

fn codegen(args: CodegenArgs) -> ExitCode {
    if let Err(message) = check_app_dir(&args.app_dir) {
        return usage_error(&message);
    }
    let mode = if args.check { emvex_codegen::Mode::Check } else { emvex_codegen::Mode::Write };
    let dir = emvex_codegen::generated_dir(&args.app_dir);
    match emvex_codegen::run(&args.app_dir, &codegen_options(), mode) {
        Ok(emvex_codegen::Outcome::UpToDate) => {
            println!("emvex codegen: {} is up to date", dir.display());
            ExitCode::SUCCESS
        }
        Ok(emvex_codegen::Outcome::Written { written, removed }) => {
            for path in written {
                println!("emvex codegen: wrote {}", path.display());
            }
            for path in removed {
                println!("emvex codegen: removed {}", path.display());
            }
            ExitCode::SUCCESS
        }
        Ok(emvex_codegen::Outcome::Differs(path)) => {
            eprintln!("emvex codegen: {}; run `emvex codegen {}`", stale(&path), args.app_dir.display());
            ExitCode::from(1)
        }
        Ok(emvex_codegen::Outcome::Stray(path)) => {
            eprintln!("emvex codegen: {}; run `emvex codegen {}`", stray(&path), args.app_dir.display());
            ExitCode::from(1)
        }
        Err(e) => usage_error(&format!("cannot generate code for {}: {e}", args.app_dir.display())),
    }
}

/// `<file> is missing` or `<file> is out of date`.
fn stale(path: &Path) -> String {
    let state = if path.exists() { "is out of date" } else { "is missing" };
    format!("{} {state}", path.display())
}

/// `<file> is not generated by codegen` (a stale file in a local component's `_generated/`).
fn stray(path: &Path) -> String {
    format!("{} is not generated by codegen and would be removed", path.display())
}

/// `emvex dev`'s codegen check: one stderr line when a generated file is missing or out of
/// date; never fatal (an app that cannot be loaded is reported by the executor's load). Runs
/// once the server is ready, with the same bytecode cache, so it costs the start nothing.
fn warn_if_generated_is_stale(app_dir: &Path, cache_dir: Option<PathBuf>) {
    let options = emvex_codegen::CodegenOptions { cache_dir, ..codegen_options() };
    match emvex_codegen::run(app_dir, &options, emvex_codegen::Mode::Check) {
        Ok(emvex_codegen::Outcome::Differs(path)) => {
            eprintln!("emvex dev: {}; run `emvex codegen {}` to regenerate it", stale(&path), app_dir.display());
        }
        Ok(emvex_codegen::Outcome::Stray(path)) => {
            eprintln!("emvex dev: {}; run `emvex codegen {}`", stray(&path), app_dir.display());
        }
        _ => {}
    }
}

fn config(
    app_dir: &Path,
    storage: &Storage,
    limits: &LimitArgs,
    urls: Option<(&str, &str)>,
    print_logs: bool,
) -> ExecutorConfig {
    let state_dir = app_dir.join(".emvex");
    let data = if storage.in_memory {
        DataLocation::InMemory
    } else {
        DataLocation::Dir(storage.data.clone().unwrap_or_else(|| state_dir.clone()))
    };
    let mut env: BTreeMap<String, String> = limits.env.iter().cloned().collect();
    if let Some((cloud, site)) = urls {
        env.insert("CONVEX_CLOUD_URL".to_string(), cloud.to_string());
        env.insert("CONVEX_SITE_URL".to_string(), site.to_string());
    }
    ExecutorConfig {
        app_dir: app_dir.to_path_buf(),
        data,
        cache_dir: Some(state_dir.join("cache")),
        limits: Limits {
            user_timeout: Duration::from_millis(limits.timeout_ms),
            action_timeout: Duration::from_millis(limits.action_timeout_ms),
            memory_bytes: limits.memory_limit_mb << 20,
            node_actions: usize::from(limits.node_actions),
            ..Limits::default()
        },
        env,
        print_logs,
        native: native_components(limits.workpool_impl),
        workers: limits.workers.map_or_else(emvex_executor::default_workers, usize::from),
        clock: emvex_executor::Clock::real(),
    }
}

fn dev(args: DevArgs) -> ExitCode {
    if let Err(message) = check_app_dir(&args.app_dir) {
        return usage_error(&message);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return usage_error(&format!("cannot start the async runtime: {e}")),
    };
    runtime.block_on(async move {
        // Bind first so the URL is known before the app is loaded (it becomes CONVEX_CLOUD_URL).
        let listener = match tokio::net::TcpListener::bind(("127.0.0.1", args.port)).await {
            Ok(l) => l,
            Err(e) => return usage_error(&format!("cannot listen on 127.0.0.1:{}: {e}", args.port)),
        };
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(args.port);
        let url = format!("http://127.0.0.1:{port}");
        let wanted_site_port = args.site_port.unwrap_or(if args.port == 0 { 0 } else { args.port.saturating_add(1) });
        let site_listener = match tokio::net::TcpListener::bind(("127.0.0.1", wanted_site_port)).await {
            Ok(l) => l,
            Err(e) => {
                return usage_error(&format!("cannot listen on 127.0.0.1:{wanted_site_port} for HTTP actions: {e}"));
            }
        };
        let site_port = site_listener.local_addr().map(|a| a.port()).unwrap_or(wanted_site_port);
        let site_url = format!("http://127.0.0.1:{site_port}");
        let config = config(&args.app_dir, &args.storage, &args.limits, Some((&url, &site_url)), true);
        let (app_dir, cache_dir) = (config.app_dir.clone(), config.cache_dir.clone());
        let executor = match tokio::task::spawn_blocking(move || Executor::start(config)).await {
            Ok(Ok(executor)) => executor,
            Ok(Err(e)) => return usage_error(&format!("cannot load {}: {}", args.app_dir.display(), e.message)),
            Err(e) => return usage_error(&format!("loading the app failed: {e}")),
        };
        let admin_key = args.admin_key.unwrap_or_else(|| format!("emvex-admin-{:032x}", rand_u128()));
        let server_config = ServerConfig { admin_key: admin_key.clone(), print_logs: true };
        let site_executor = executor.clone();
        let server = BoundServer::new(listener, executor, server_config);
        tokio::spawn(async move {
            if let Err(e) = emvex_server::serve_site(site_listener, site_executor).await {
                eprintln!("emvex: the HTTP actions server stopped: {e}");
            }
        });
        println!("emvex dev: {} functions ready at {url}", args.app_dir.display());
        println!("emvex dev: HTTP actions at {site_url}");
        println!("emvex dev: admin key: {admin_key}");
        // A second after ready, on a thread of its own: the check loads the app a second time
        // (from the bytecode cache the executor just filled), which would otherwise delay the
        // start and the first requests.
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_secs(1));
            warn_if_generated_is_stale(&app_dir, cache_dir)
        });
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        match server.serve(shutdown).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("emvex: server stopped: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

fn rand_u128() -> u128 {
    use std::hash::{BuildHasher, RandomState};
    let a = RandomState::new().hash_one(std::time::SystemTime::now()) as u128;
    let b = RandomState::new().hash_one(std::process::id()) as u128;
    (a << 64) | b
}

fn run(args: RunArgs) -> ExitCode {
    let (app_dir, function, args_json) = match split_run_positionals(&args.positional) {
        Ok(parts) => parts,
        Err(message) => return usage_error(&message),
    };
    if let Err(message) = check_app_dir(&app_dir) {
        return usage_error(&message);
    }
    let call_args: serde_json::Value = match args_json.as_deref() {
        None => serde_json::json!({}),
        Some(text) => match serde_json::from_str(text) {
            Ok(v @ serde_json::Value::Object(_)) => v,
            Ok(_) => return usage_error("ARGS_JSON must be a JSON object, e.g. '{\"body\": \"hi\"}'"),
            Err(e) => return usage_error(&format!("ARGS_JSON is not valid JSON: {e}")),
        },
    };
    let identity = match args.identity.as_deref().map(serde_json::from_str::<serde_json::Value>) {
        None => None,
        Some(Err(e)) => return usage_error(&format!("--identity is not valid JSON: {e}")),
        Some(Ok(json)) => match emvex_auth::acting_identity(&json) {
            Ok(identity) => Some(UserIdentity::from_object(&identity)),
            Err(e) => return usage_error(&format!("--identity: {}", e.message)),
        },
    };
    let executor = match Executor::start(config(&app_dir, &args.storage, &args.limits, None, false)) {
        Ok(e) => e,
        Err(e) => return usage_error(&format!("cannot load {}: {}", app_dir.display(), e.message)),
    };
    let response = executor.call_blocking(CallRequest {
        request_id: "cli".into(),
        path: function,
        args: call_args,
        kind: None,
        admin: true,
        identity,
        component_path: None,
        ..CallRequest::default()
    });
    for line in &response.log_lines {
        eprintln!("{line}");
    }
    match response.outcome {
        Ok(value) => {
            let text = serde_json::to_string_pretty(&value.to_convex_json()).unwrap_or_default();
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(CallError::Developer { message, data }) => {
            eprintln!("{message}");
            if let Some(data) = data {
                eprintln!("ConvexError data: {}", data.to_convex_json());
            }
            ExitCode::from(1)
        }
        Err(CallError::BadRequest { message, .. }) => usage_error(&message),
        Err(CallError::Internal { message }) => {
            eprintln!("emvex: internal error: {message}");
            ExitCode::from(1)
        }
    }
}

/// `[APP_DIR] FUNCTION [ARGS_JSON]`: with two values, the second is the args when it looks like
/// a JSON object, otherwise it is the function and the first is the app directory.
fn split_run_positionals(p: &[String]) -> Result<(PathBuf, String, Option<String>), String> {
    match p {
        [function] => Ok((PathBuf::from("."), function.clone(), None)),
        [a, b] if b.trim_start().starts_with('{') => Ok((PathBuf::from("."), a.clone(), Some(b.clone()))),
        [app, function] => Ok((PathBuf::from(app), function.clone(), None)),
        [app, function, json] => Ok((PathBuf::from(app), function.clone(), Some(json.clone()))),
        _ => Err("usage: emvex run [APP_DIR] FUNCTION [ARGS_JSON]".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_positionals() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(split_run_positionals(&s(&["m:f"])).unwrap().1, "m:f");
        let (app, f, a) = split_run_positionals(&s(&["m:f", "{}"])).unwrap();
        assert_eq!((app, f, a), (PathBuf::from("."), "m:f".into(), Some("{}".into())));
        let (app, f, a) = split_run_positionals(&s(&["app", "m:f"])).unwrap();
        assert_eq!((app, f, a), (PathBuf::from("app"), "m:f".into(), None));
    }
}
