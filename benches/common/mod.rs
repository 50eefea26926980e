//! Helpers shared by the benchmarks: fixture paths, scratch directories, an in-process executor.

use std::path::{Path, PathBuf};

use emvex_executor::{DataLocation, Executor, ExecutorConfig, Limits};

/// A fixture app under `fixtures/`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name)
}

/// A fresh, empty scratch directory for this process.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("emvex-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// An executor for `app` with its SQLite file in `data` (default limits, no log printing, one
/// JS thread).
pub fn start_executor(app: &Path, data: &Path) -> Executor {
    start_executor_with_workers(app, data, 1)
}

/// [`start_executor`] with `workers` JS threads.
pub fn start_executor_with_workers(app: &Path, data: &Path, workers: usize) -> Executor {
    Executor::start(ExecutorConfig {
        app_dir: app.to_path_buf(),
        data: DataLocation::Dir(data.to_path_buf()),
        cache_dir: Some(app.join(".emvex/cache")),
        limits: Limits::default(),
        env: Default::default(),
        print_logs: false,
        native: Vec::new(),
        workers,
    })
    .expect("start executor")
}
