//! `emvex codegen [APP_DIR] [--check]`: `--check` passes on every fixture as committed; a
//! modified or missing generated file makes it exit 1 naming the file (and write nothing);
//! writing restores exactly the committed files; bad usage and unloadable apps exit 2; `emvex dev`
//! warns on stderr when `_generated/` is stale. A local component's own `_generated/`
//! (`api.ts`, `component.ts`, `dataModel.ts`, `server.ts`) is checked and written the same way,
//! and other files there are named by `--check` and removed by writing. (Byte equality with the
//! `convex` package's own templates is tested in `tests/node/codegen.test.mjs`.)

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;

const T: Duration = Duration::from_secs(120);
const GENERATED: [&str; 5] = ["api.d.ts", "api.js", "server.d.ts", "server.js", "dataModel.d.ts"];
const COMPONENT_GENERATED: [&str; 4] = ["api.ts", "component.ts", "dataModel.ts", "server.ts"];

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

fn fixtures() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> =
        fs::read_dir(repo_root().join("fixtures")).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    dirs
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A copy of `fixtures/<name>`'s `convex/` in a temp app that finds the repo's `node_modules`.
fn temp_app(fixture: &str) -> TempDir {
    let dir = TempDir::new(&format!("codegen-{fixture}"));
    copy_dir(&repo_root().join("fixtures").join(fixture).join("convex"), &dir.path.join("convex"));
    std::os::unix::fs::symlink(repo_root().join("node_modules"), dir.path.join("node_modules")).unwrap();
    dir
}

fn generated(app: &Path, file: &str) -> PathBuf {
    app.join("convex").join("_generated").join(file)
}

/// A file of the `_generated/` of the local component at `definition_path`.
fn component_generated(app: &Path, definition_path: &str, file: &str) -> PathBuf {
    app.join("convex").join(definition_path).join("_generated").join(file)
}

#[test]
fn check_passes_on_every_fixture_as_committed() {
    let fixtures = fixtures();
    assert!(fixtures.len() >= 6, "fixtures: {fixtures:?}");
    for fixture in fixtures {
        let out = run_cli(&["codegen", "--check", fixture.to_str().unwrap()], T);
        assert_eq!(out.status.code(), Some(0), "{}: {}", fixture.display(), stderr(&out));
    }
}

#[test]
fn a_modified_file_fails_the_check_by_name_and_writing_restores_it() {
    let app = temp_app("workpool");
    let api = generated(&app.path, "api.d.ts");
    let committed = fs::read_to_string(&api).unwrap();
    fs::write(&api, committed.replace("emailWorkpool", "renamedPool")).unwrap();

    let out = run_cli(&["codegen", "--check", app.str()], T);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    assert!(stderr(&out).contains(&format!("{} is out of date", api.display())), "stderr: {}", stderr(&out));
    assert!(stderr(&out).contains("run `emvex codegen"), "stderr: {}", stderr(&out));
    assert_ne!(fs::read_to_string(&api).unwrap(), committed, "--check must not write");

    let out = run_cli(&["codegen", app.str()], T);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("emvex codegen: wrote {}", api.display()));
    assert_eq!(fs::read_to_string(&api).unwrap(), committed);
    let out = run_cli(&["codegen", "--check", app.str()], T);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
}

#[test]
fn a_missing_generated_dir_is_named_then_written_whole() {
    for fixture in ["basic", "components"] {
        let app = temp_app(fixture);
        let committed: Vec<String> =
            GENERATED.iter().map(|f| fs::read_to_string(generated(&app.path, f)).unwrap()).collect();
        fs::remove_dir_all(app.path.join("convex/_generated")).unwrap();

        let out = run_cli(&["codegen", "--check", app.str()], T);
        assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
        let missing = generated(&app.path, "dataModel.d.ts");
        assert!(stderr(&out).contains(&format!("{} is missing", missing.display())), "stderr: {}", stderr(&out));
        assert!(!app.path.join("convex/_generated").exists(), "--check must not write");

        let out = run_cli(&["codegen", app.str()], T);
        assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
        for (file, text) in GENERATED.iter().zip(&committed) {
            assert_eq!(&fs::read_to_string(generated(&app.path, file)).unwrap(), text, "{fixture}: {file}");
        }
    }
}

#[test]
fn a_new_module_changes_the_api_types() {
    let app = temp_app("scheduling");
    fs::create_dir_all(app.path.join("convex/admin")).unwrap();
    fs::write(app.path.join("convex/admin/audit-log.ts"), "export const answer = 42;\n").unwrap();
    let out = run_cli(&["codegen", "--check", app.str()], T);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    assert!(stderr(&out).contains("api.d.ts is out of date"), "stderr: {}", stderr(&out));

    let out = run_cli(&["codegen", app.str()], T);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let api = fs::read_to_string(generated(&app.path, "api.d.ts")).unwrap();
    assert!(api.contains("import type * as admin_audit_log from \"../admin/audit-log.js\";\n"), "{api}");
    assert!(api.contains("  \"admin/audit-log\": typeof admin_audit_log;\n"), "{api}");
}

#[test]
fn components_are_typed_by_their_component_api() {
    let api = fs::read_to_string(repo_root().join("fixtures/workpool/convex/_generated/api.d.ts")).unwrap();
    assert!(
        api.contains("  emvexPool: import(\"emvex/workpool/_generated/component.js\").ComponentApi<\"emvexPool\">;\n")
    );
    assert!(api.contains(
        "  emailWorkpool: import(\"@convex-dev/workpool/_generated/component.js\").ComponentApi<\"emailWorkpool\">;\n"
    ));
    let api = fs::read_to_string(repo_root().join("fixtures/components/convex/_generated/api.d.ts")).unwrap();
    assert!(api.contains("  second: import(\"../counter/_generated/component.js\").ComponentApi<\"second\">;\n"));
    // A nested local child is imported from its directory relative to its parent's.
    let api = fs::read_to_string(repo_root().join("fixtures/components/convex/counter/_generated/api.ts")).unwrap();
    assert!(api.contains("  leaf: import(\"../leaf/_generated/component.js\").ComponentApi<\"leaf\">;\n"), "{api}");
}

#[test]
fn a_component_file_that_differs_is_named_and_rewritten() {
    let app = temp_app("components");
    let component = component_generated(&app.path, "counter", "component.ts");
    let committed = fs::read_to_string(&component).unwrap();
    assert!(
        committed.contains("      get: FunctionReference<\"query\", \"internal\", { name: string }, any, Name>;\n")
    );
    fs::write(&component, committed.replace("greet", "hello")).unwrap();

    let out = run_cli(&["codegen", "--check", app.str()], T);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    assert!(stderr(&out).contains(&format!("{} is out of date", component.display())), "stderr: {}", stderr(&out));

    let out = run_cli(&["codegen", app.str()], T);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("emvex codegen: wrote {}", component.display()));
    assert_eq!(fs::read_to_string(&component).unwrap(), committed);
}

#[test]
fn a_new_component_function_changes_its_component_api() {
    let app = temp_app("components");
    let lib = app.path.join("convex/counter/leaf/lib.ts");
    let source = fs::read_to_string(&lib).unwrap();
    fs::write(
        &lib,
        source.replace(
            "import { mutation, query }",
            "import { v } from \"convex/values\";\nimport { mutation, query }",
        ) + "\nexport const at = query({ args: { i: v.number() }, returns: v.union(v.number(), v.null()), handler: async () => null });\n",
    )
    .unwrap();
    let component = component_generated(&app.path, "counter/leaf", "component.ts");
    let out = run_cli(&["codegen", "--check", app.str()], T);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    assert!(stderr(&out).contains(&format!("{} is out of date", component.display())), "stderr: {}", stderr(&out));

    let out = run_cli(&["codegen", app.str()], T);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let text = fs::read_to_string(&component).unwrap();
    // 82 columns on one line: broken, one type argument a line, as prettier breaks it.
    let expected = "      at: FunctionReference<\n        \"query\",\n        \"internal\",\n        { i: number },\n        number | null,\n        Name\n      >;\n";
    assert!(text.contains(expected), "{text}");
}

#[test]
fn stray_files_in_a_component_generated_dir_are_named_then_removed() {
    let app = temp_app("components");
    let stray = component_generated(&app.path, "counter/leaf", "server.js");
    fs::write(&stray, "export {};\n").unwrap();
    let out = run_cli(&["codegen", "--check", app.str()], T);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("{} is not generated by codegen", stray.display())),
        "stderr: {}",
        stderr(&out)
    );
    assert!(stray.exists(), "--check must not remove");

    let out = run_cli(&["codegen", app.str()], T);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("emvex codegen: removed {}", stray.display()));
    assert!(!stray.exists());
}

#[test]
fn missing_component_generated_dirs_are_named_then_written_whole() {
    let app = temp_app("components");
    let mut committed = Vec::new();
    for dir in ["counter", "counter/leaf"] {
        for file in COMPONENT_GENERATED {
            committed.push((dir, file, fs::read_to_string(component_generated(&app.path, dir, file)).unwrap()));
        }
        fs::remove_dir_all(app.path.join("convex").join(dir).join("_generated")).unwrap();
    }
    let out = run_cli(&["codegen", "--check", app.str()], T);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    let missing = component_generated(&app.path, "counter", "dataModel.ts");
    assert!(stderr(&out).contains(&format!("{} is missing", missing.display())), "stderr: {}", stderr(&out));

    // The app's modules import the component's `_generated/`: it is written before loading.
    let out = run_cli(&["codegen", app.str()], T);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    for (dir, file, text) in committed {
        assert_eq!(fs::read_to_string(component_generated(&app.path, dir, file)).unwrap(), text, "{dir}: {file}");
    }
}

#[test]
fn bad_usage_and_unloadable_apps_exit_2() {
    let out = run_cli(&["codegen", "fixtures/does-not-exist"], T);
    assert_eq!(out.status.code(), Some(2), "stderr: {}", stderr(&out));
    let out = run_cli(&["codegen", "--no-such-flag", "fixtures/basic"], T);
    assert_eq!(out.status.code(), Some(2), "stderr: {}", stderr(&out));

    let app = temp_app("basic");
    fs::write(app.path.join("convex/broken.ts"), "export const x = ;\n").unwrap();
    let before = fs::read_to_string(generated(&app.path, "api.d.ts")).unwrap();
    let out = run_cli(&["codegen", app.str()], T);
    assert_eq!(out.status.code(), Some(2), "stderr: {}", stderr(&out));
    assert!(stderr(&out).contains("broken.ts"), "stderr: {}", stderr(&out));
    assert_eq!(fs::read_to_string(generated(&app.path, "api.d.ts")).unwrap(), before);
}

#[test]
fn dev_warns_once_when_generated_is_stale() {
    let app = temp_app("basic");
    fs::write(app.path.join("convex/extra.ts"), "export const answer = 42;\n").unwrap();
    let server = Server::start_app(app.str(), &["--in-memory"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    let expected = format!("{} is out of date; run `emvex codegen", generated(&app.path, "api.d.ts").display());
    while !server.stderr().contains(&expected) {
        assert!(Instant::now() < deadline, "no codegen warning; stderr: {}", server.stderr());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(server.stderr().matches("emvex codegen").count(), 1, "stderr: {}", server.stderr());
    // The warning is not fatal.
    assert_eq!(server.query_ok("messages:list", serde_json::json!({})), serde_json::json!([]));
}
