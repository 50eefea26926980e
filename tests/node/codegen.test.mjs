// `emvex codegen` against the real `convex` package: for an app without components, every file
// emvex writes must equal, byte for byte, what convex@1.49.0's own codegen templates produce
// for the same app after the CLI's prettier pass — rendered here by calling the CLI's template
// functions (node_modules/convex/dist/esm/cli/codegen_templates/*.js) the way its
// `doInitialComponentCodegen`/`doFinalComponentCodegen` do for a root component with the default
// options, with the module list from the CLI's own `entryPoints`. Apps with components are
// compared too, except for the `components` entries of api.d.ts (those need the CLI's
// component analysis, which comes from a deployment).
// Run: `node --test tests/node/` (EMVEX_BIN names the binary; default target/release/emvex).
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import { register } from "node:module";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";

import { repoRoot } from "./server.mjs";

register("./convex-cli-stubs.mjs", import.meta.url);

const bin = process.env.EMVEX_BIN ?? path.join(repoRoot, "target/release/emvex");
const convexDist = path.join(repoRoot, "node_modules/convex/dist/esm");
const load = (file) => import(pathToFileURL(path.join(convexDist, file)).href);
const FILES = ["api.d.ts", "api.js", "server.d.ts", "server.js", "dataModel.d.ts"];

let cli;
before(async () => {
  const prettier = await import(pathToFileURL(path.join(repoRoot, "node_modules/prettier/index.mjs")).href);
  cli = {
    format: (text) => prettier.default.format(text, { parser: "typescript", pluginSearchDirs: false }),
    ...(await load("cli/codegen_templates/component_api.js")),
    ...(await load("cli/codegen_templates/server.js")),
    ...(await load("cli/codegen_templates/dataModel.js")),
    ...(await load("bundler/index.js")),
    nodeFs: (await load("bundler/fs.js")).nodeFs,
  };
});

/** What `npx convex codegen` writes into `<app>/convex/_generated/` (root, no components). */
async function cliOutput(appDir) {
  const convexDir = path.join(appDir, "convex");
  const ctx = {
    fs: cli.nodeFs,
    crash: async (e) => {
      throw new Error(e.printedMessage);
    },
  };
  const root = { isRoot: true, path: convexDir, definitionPath: path.join(convexDir, "convex.config.ts") };
  const startPush = { analysis: { "": { definition: { childComponents: [], envVars: [] }, functions: {} } } };
  const options = { staticApi: false, useComponentApiImports: true };
  const hasSchema = ["schema.ts", "schema.js"].some((f) => fs.existsSync(path.join(convexDir, f)));
  const server = cli.serverCodegen({ useTypeScript: false, envVars: [] });
  return {
    "api.d.ts": await cli.format(await cli.componentApiDTS(ctx, startPush, root, root, new Map(), options)),
    "api.js": await cli.format(cli.componentApiJs()),
    "server.d.ts": await cli.format(server.DTS),
    "server.js": await cli.format(server.JS),
    "dataModel.d.ts": await cli.format(hasSchema ? cli.dynamicDataModelDTS() : cli.noSchemaDataModelDTS()),
  };
}

/** A copy of `fixtures/<name>` (or of `files`) in a temp dir, without `_generated/`. */
function tempApp(fixture, files = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "emvex-codegen-"));
  if (fixture) {
    fs.cpSync(path.join(repoRoot, "fixtures", fixture, "convex"), path.join(dir, "convex"), { recursive: true });
    fs.rmSync(path.join(dir, "convex/_generated"), { recursive: true, force: true });
  }
  for (const [file, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, "convex", file)), { recursive: true });
    fs.writeFileSync(path.join(dir, "convex", file), text);
  }
  fs.symlinkSync(path.join(repoRoot, "node_modules"), path.join(dir, "node_modules"));
  return dir;
}

function emvexCodegen(appDir) {
  execFileSync(bin, ["codegen", appDir], { stdio: ["ignore", "ignore", "pipe"] });
  return Object.fromEntries(
    FILES.map((f) => [f, fs.readFileSync(path.join(appDir, "convex/_generated", f), "utf8")]),
  );
}

const MODULE = "export const answer = 42;\n";

describe("emvex codegen equals the convex package's codegen", () => {
  for (const fixture of ["basic", "actions", "scheduling"]) {
    test(`fixtures/${fixture}`, async () => {
      const app = tempApp(fixture);
      const ours = emvexCodegen(app);
      const theirs = await cliOutput(app);
      for (const f of FILES) assert.equal(ours[f], theirs[f], `${f} of fixtures/${fixture}`);
    });
  }

  test("module names the CLI treats specially, and no schema", async () => {
    const app = tempApp(null, {
      "a.ts": MODULE,
      "dir/b.ts": MODULE,
      "dir/sub/my-file.ts": MODULE,
      "api.ts": MODULE,
      "default.ts": MODULE,
      "components.ts": MODULE,
      "Upper.ts": MODULE,
      "a10.js": MODULE,
      "a9.mjs": MODULE,
      "crons.ts": MODULE,
      "http.ts": MODULE,
      "a.test.ts": MODULE,
      ".hidden.ts": MODULE,
      "#tmp.ts": MODULE,
      "with space.ts": MODULE,
      "types.d.ts": "export type T = number;\n",
      "no_module.ts": "const x = 1;\n",
      "data.json": "{}\n",
      "nested/convex.config.ts": 'import { defineComponent } from "convex/server";\nexport default defineComponent("nested");\n',
      "nested/lib.ts": MODULE,
      "a_very_long_module_name_that_goes_well_beyond_the_eighty_columns_prettier_wants.ts": MODULE,
    });
    const ours = emvexCodegen(app);
    const theirs = await cliOutput(app);
    for (const f of FILES) assert.equal(ours[f], theirs[f], f);
    // The same module list the CLI's own entryPoints finds.
    const cliModules = (await cli.entryPoints({ fs: cli.nodeFs }, path.join(app, "convex"))).length;
    assert.equal((ours["api.d.ts"].match(/^import type \* as /gm) ?? []).length, cliModules);
  });

  for (const fixture of ["components", "workpool", "workpool-ts"]) {
    test(`fixtures/${fixture}: all but the components entries`, async () => {
      const app = tempApp(fixture);
      const ours = emvexCodegen(app);
      const theirs = await cliOutput(app);
      for (const f of FILES.filter((f) => f !== "api.d.ts")) assert.equal(ours[f], theirs[f], f);
      const head = (text) => text.slice(0, text.indexOf("export declare const components"));
      assert.equal(head(ours["api.d.ts"]), head(theirs["api.d.ts"]));
    });
  }

  test("--check passes on every fixture as committed", () => {
    for (const fixture of fs.readdirSync(path.join(repoRoot, "fixtures"))) {
      const result = spawnSync(bin, ["codegen", "--check", path.join("fixtures", fixture)], { cwd: repoRoot });
      assert.equal(result.status, 0, `fixtures/${fixture}: ${result.stderr}`);
    }
  });
});
