// `emvex codegen` against the real `convex` package: every file emvex writes must equal, byte
// for byte, what convex@1.49.0's own codegen produces for the same app after the CLI's prettier
// pass — rendered here by calling the CLI's template functions
// (node_modules/convex/dist/esm/cli/codegen_templates/*.js) the way its
// `doInitialComponentCodegen`/`doFinalComponentCodegen` do for a root component with the default
// options, with the module list from the CLI's own `entryPoints`. For an app with a
// `convex.config.ts`, the part of the analysis that codegen reads (the app's `childComponents`
// and `envVars`, each child's import specifier) is computed as the CLI and Convex's backend do:
// the CLI's `componentGraph` and `bundleDefinitions` (esbuild) bundle the config, and the bundle
// is evaluated here with each `_componentDeps/<path>` import standing for its definition path.
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
    ...(await load("cli/lib/components/definition/bundle.js")),
    nodeFs: (await load("bundler/fs.js")).nodeFs,
  };
});

const ctx = {
  fs: null,
  crash: async (e) => {
    throw new Error(e.printedMessage);
  },
};

/**
 * The app definition as Convex analyses it (`childComponents`, `envVars`) and the CLI's map of
 * component directories (with each one's `importSpecifier`), for an app with a config.
 */
async function analyseDefinitions(appDir, root) {
  const cwd = process.cwd();
  process.chdir(appDir); // the CLI finds `convex/` from the working directory
  try {
    const { components, dependencyGraph } = await cli.componentGraph(ctx, appDir, root, false, false);
    const specs = await cli.bundleDefinitions(ctx, appDir, dependencyGraph, root, [...components.values()], false, false);
    const source = specs.appDefinitionSpecWithoutImpls.definition.source.replace(
      /"\.\/_componentDeps\/([A-Za-z0-9_-]+)"/g,
      (_m, encoded) => {
        const definitionPath = JSON.stringify(Buffer.from(encoded, "base64url").toString());
        const stub = `export default { componentDefinitionPath: ${definitionPath}, export: () => ({}) };`;
        return JSON.stringify(`data:text/javascript,${encodeURIComponent(stub)}`);
      },
    );
    const app = (await import(`data:text/javascript,${encodeURIComponent(source)}`)).default;
    return { definition: app.export(), components };
  } finally {
    process.chdir(cwd);
  }
}

/** What `npx convex codegen` writes into `<app>/convex/_generated/`. */
async function cliOutput(appDir) {
  const convexDir = path.join(appDir, "convex");
  ctx.fs = cli.nodeFs;
  const root = { isRoot: true, path: convexDir, definitionPath: path.join(convexDir, "convex.config.ts") };
  const hasConfig = fs.existsSync(root.definitionPath);
  const { definition, components } = hasConfig
    ? await analyseDefinitions(appDir, root)
    : { definition: { childComponents: [] }, components: new Map() };
  const envVars = definition.envVars?.length > 0 ? definition.envVars : [];
  const startPush = { analysis: { "": { definition: { ...definition, envVars }, functions: {} } } };
  const options = { staticApi: false, useComponentApiImports: true };
  const hasSchema = ["schema.ts", "schema.js"].some((f) => fs.existsSync(path.join(convexDir, f)));
  const server = cli.serverCodegen({ useTypeScript: false, envVars });
  return {
    "api.d.ts": await cli.format(await cli.componentApiDTS(ctx, startPush, root, root, components, options)),
    "api.js": await cli.format(cli.componentApiJs()),
    "server.d.ts": await cli.format(server.DTS),
    "server.js": await cli.format(server.JS),
    "dataModel.d.ts": await cli.format(hasSchema ? cli.dynamicDataModelDTS() : cli.noSchemaDataModelDTS()),
  };
}

/** A copy of `fixtures/<name>`'s `convex/` (and/or `files`) in a temp app, without `_generated/`. */
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
  // The CLI reads the app's package.json; node_modules is the repository's.
  fs.writeFileSync(path.join(dir, "package.json"), '{ "name": "codegen-test-app", "private": true, "type": "module" }\n');
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
    test(`fixtures/${fixture} (mounted components)`, async () => {
      const app = tempApp(fixture);
      const ours = emvexCodegen(app);
      const theirs = await cliOutput(app);
      for (const f of FILES) assert.equal(ours[f], theirs[f], `${f} of fixtures/${fixture}`);
    });
  }

  test("env vars declared by defineApp type server.d.ts's Env", async () => {
    const app = tempApp(null, {
      "convex.config.ts": [
        'import { defineApp } from "convex/server";',
        'import { v } from "convex/values";',
        "const app = defineApp({",
        '  env: { MODE: v.string(), LEVEL: v.optional(v.union(v.literal("low"), v.literal("high"))), RETRIES: v.number() },',
        "});",
        "export default app;",
        "",
      ].join("\n"),
      "a.ts": MODULE,
    });
    const ours = emvexCodegen(app);
    const theirs = await cliOutput(app);
    for (const f of FILES) assert.equal(ours[f], theirs[f], f);
    assert.match(ours["server.d.ts"], /readonly LEVEL: "low" \| "high" \| undefined;/);
  });

  test("--check passes on every fixture as committed", () => {
    for (const fixture of fs.readdirSync(path.join(repoRoot, "fixtures"))) {
      const result = spawnSync(bin, ["codegen", "--check", path.join("fixtures", fixture)], { cwd: repoRoot });
      assert.equal(result.status, 0, `fixtures/${fixture}: ${result.stderr}`);
    }
  });
});
