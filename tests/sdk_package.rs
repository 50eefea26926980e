//! The npm package `emvex` as a user gets it: `npm pack` of `sdk-ts/` (built by
//! `scripts/test-all`), installed with `npm install` into a fresh app outside this repository
//! next to `convex`, whose `convex.config.ts` mounts `emvex/workpool/convex.config` and whose
//! functions use `Workpool` from `emvex/workpool`; `emvex dev` serves it and the enqueued action
//! completes through the native component.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;
use serde_json::json;

const CONFIG_TS: &str = r#"import { defineApp } from "convex/server";
import workpool from "emvex/workpool/convex.config";
const app = defineApp();
app.use(workpool, { name: "pool" });
export default app;
"#;

const WORK_TS: &str = r#"import { actionGeneric, anyApi, componentsGeneric, internalMutationGeneric, mutationGeneric, queryGeneric } from "convex/server";
import { v } from "convex/values";
import { Workpool, vOnCompleteArgs, type WorkId } from "emvex/workpool";

const components = componentsGeneric() as any;
const internal = anyApi as any;
const pool = new Workpool(components.pool, { maxParallelism: 2 });

export const greet = actionGeneric({ args: { name: v.string() }, handler: async (_ctx, { name }) => `hello ${name}` });

export const done = internalMutationGeneric({
  args: vOnCompleteArgs(v.object({ name: v.string() })),
  handler: async (ctx, { workId, context, result }) => {
    await ctx.db.insert("results", { workId, name: context.name, kind: result.kind, value: result.kind === "success" ? result.returnValue : null });
  },
});

export const start = mutationGeneric({
  args: { name: v.string() },
  handler: async (ctx, { name }): Promise<WorkId> =>
    pool.enqueueAction(ctx, internal.work.greet, { name }, { onComplete: internal.work.done, context: { name } }),
});

export const results = queryGeneric({ args: {}, handler: async (ctx) => ctx.db.query("results").collect() });
"#;

fn run(dir: &Path, program: &str, args: &[&str]) -> String {
    let out = Command::new(program).args(args).current_dir(dir).output().unwrap_or_else(|e| panic!("{program}: {e}"));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{program} {args:?} failed:\n{text}\n{}", String::from_utf8_lossy(&out.stderr));
    text
}

#[test]
fn a_fresh_app_installs_the_packed_sdk_and_uses_the_native_workpool() {
    let tmp = TempDir::new("sdk-package");
    let sdk = repo_root().join("sdk-ts");
    assert!(sdk.join("dist/workpool/index.js").is_file(), "build sdk-ts first (npm run build -w sdk-ts)");
    run(&sdk, "npm", &["pack", "--silent", "--pack-destination", tmp.path.to_str().unwrap()]);
    let tarball = std::fs::read_dir(&tmp.path)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "tgz"))
        .expect("npm pack wrote a tarball");
    let app = tmp.path.join("app");
    std::fs::create_dir_all(app.join("convex")).unwrap();
    let package = json!({
        "name": "fresh-app", "private": true, "type": "module",
        "dependencies": {"convex": "1.49.0", "emvex": format!("file:{}", tarball.display())},
    });
    std::fs::write(app.join("package.json"), package.to_string()).unwrap();
    std::fs::write(app.join("convex/convex.config.ts"), CONFIG_TS).unwrap();
    std::fs::write(app.join("convex/work.ts"), WORK_TS).unwrap();
    run(&app, "npm", &["install", "--no-audit", "--no-fund", "--prefer-offline"]);

    let s = Server::start_app(app.to_str().unwrap(), &["--in-memory"]);
    let work_id = s.mutation_ok("work:start", json!({"name": "packed"}));
    let rows = poll("the onComplete row", Duration::from_secs(20), || {
        let rows = s.query_ok("work:results", json!({}));
        if rows.as_array().is_some_and(|r| !r.is_empty()) { Ok(rows) } else { Err(rows.to_string()) }
    });
    assert_eq!(rows[0]["workId"], work_id);
    assert_eq!((rows[0]["kind"].clone(), rows[0]["value"].clone()), (json!("success"), json!("hello packed")));
}
