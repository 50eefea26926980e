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
// A local component's own `_generated/` (`api.ts`, `component.ts`, `dataModel.ts`, `server.ts`)
// is rendered the way `doFinalComponentCodegen` renders it, from the analysis Convex's backend
// would hand the CLI: each module bundled with esbuild and its functions' `exportArgs()` /
// `exportReturns()` read in Node (object fields sorted, as the backend serializes validators),
// exported as the backend's `file_based_exports` does (every public function under its module
// path), and the component's config export evaluated like the app's.
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
    ...(await load("cli/codegen_templates/component_server.js")),
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
    const app = await evaluateDefinition(specs.appDefinitionSpecWithoutImpls.definition.source);
    const componentDefinitions = new Map();
    for (const spec of specs.componentDefinitionSpecsWithoutImpls) {
      componentDefinitions.set(spec.definitionPath, await evaluateDefinition(spec.definition.source));
    }
    return { definition: app.export(), components, componentDefinitions };
  } finally {
    process.chdir(cwd);
  }
}

/** The default export of a bundled `convex.config`, its `_componentDeps/<path>` imports stubbed. */
async function evaluateDefinition(bundled) {
  const source = bundled.replace(/"\.\/_componentDeps\/([A-Za-z0-9_-]+)"/g, (_m, encoded) => {
    const definitionPath = JSON.stringify(Buffer.from(encoded, "base64url").toString());
    const stub = `export default { componentDefinitionPath: ${definitionPath}, export: () => ({}) };`;
    return JSON.stringify(`data:text/javascript,${encodeURIComponent(stub)}`);
  });
  return (await import(`data:text/javascript,${encodeURIComponent(source)}`)).default;
}

/** `value` with every object's keys sorted: how the backend serializes a validator. */
function sortedJson(value) {
  if (Array.isArray(value)) return value.map(sortedJson);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortedJson(value[k])]));
}

/**
 * The backend's analysis of a component directory: its functions (each module bundled with
 * esbuild into the app, so `convex` resolves, and imported) and its exports.
 */
async function analyseComponent(appDir, directory) {
  const esbuild = (await import(pathToFileURL(path.join(repoRoot, "node_modules/esbuild/lib/main.js")).href)).default;
  const modules = (await cli.entryPoints({ fs: cli.nodeFs }, directory.path)).map((p) => path.relative(directory.path, p));
  const functions = {};
  const exportsRoot = new Map();
  for (const modulePath of modules) {
    const outfile = path.join(appDir, ".analysis", path.relative(appDir, directory.path), `${modulePath}.mjs`);
    await esbuild.build({
      entryPoints: [path.join(directory.path, modulePath)],
      bundle: true,
      format: "esm",
      platform: "node",
      outfile,
      external: ["convex", "convex/*"],
      logLevel: "silent",
    });
    const namespace = await import(pathToFileURL(outfile).href);
    const stripped = modulePath.replace(/\.[^.]+$/, "");
    const analysed = [];
    for (const [name, f] of Object.entries(namespace)) {
      if (!f || !(f.isQuery || f.isMutation || f.isAction)) continue;
      const udfType = f.isQuery ? "Query" : f.isMutation ? "Mutation" : "Action";
      const kind = f.isInternal ? "internal" : "public";
      const validator = (text) => JSON.stringify(sortedJson(JSON.parse(text)));
      analysed.push({ name, udfType, visibility: { kind }, args: validator(f.exportArgs()), returns: validator(f.exportReturns()) });
      if (kind !== "public") continue;
      let node = exportsRoot;
      for (const part of stripped.split("/")) {
        if (!node.has(part)) node.set(part, new Map());
        node = node.get(part);
      }
      node.set(name, `_reference/function/${stripped}.js:${name}`);
    }
    functions[`${stripped}.js`] = { functions: analysed };
  }
  const tree = (node) =>
    node instanceof Map
      ? { type: "branch", branch: [...node.keys()].sort().map((k) => [k, tree(node.get(k))]) }
      : { type: "leaf", leaf: node };
  return { functions, exports: tree(exportsRoot) };
}

/**
 * What `npx convex codegen` writes into each local component's `_generated/`, by definition
 * path, for an app emvex has already generated code for (its modules import `_generated/`).
 */
async function cliComponentOutput(appDir) {
  const convexDir = path.join(appDir, "convex");
  ctx.fs = cli.nodeFs;
  const root = { isRoot: true, path: convexDir, definitionPath: path.join(convexDir, "convex.config.ts") };
  const { components, componentDefinitions } = await analyseDefinitions(appDir, root);
  const local = [...components.values()].filter((d) => !d.isRoot && d.definitionPath.endsWith(".ts"));
  const startPush = { analysis: {} };
  for (const directory of local) {
    const definitionPath = path.relative(convexDir, directory.path);
    const { functions, exports } = await analyseComponent(appDir, directory);
    const definition = { ...componentDefinitions.get(definitionPath).export(), exports };
    startPush.analysis[definitionPath] = { definition, functions };
  }
  const out = {};
  for (const directory of local) {
    const definitionPath = path.relative(convexDir, directory.path);
    const { definition } = startPush.analysis[definitionPath];
    const envVars = definition.envVars?.length > 0 ? definition.envVars : [];
    const hasSchema = ["schema.ts", "schema.js"].some((f) => fs.existsSync(path.join(directory.path, f)));
    const options = { staticApi: false, useComponentApiImports: true };
    let api = await cli.format(await cli.componentApiTSWithTypes(ctx, startPush, root, directory, components, options));
    // emvex's one deliberate difference: 1.49 imports a nested local child's ComponentApi from
    // `../<child's definition path>/…`, which does not exist below this component's
    // `_generated/`; emvex imports it from the child's directory relative to this one.
    for (const child of definition.childComponents) {
      const childDir = path.join(convexDir, child.path);
      api = api.replaceAll(`import("../${child.path}/`, `import("../${path.relative(directory.path, childDir)}/`);
    }
    out[definitionPath] = {
      "dataModel.ts": await cli.format(hasSchema ? cli.dynamicDataModelTS() : cli.noSchemaDataModelTS()),
      "component.ts": await cli.format(await cli.componentTS(ctx, startPush, root, directory)),
      "server.ts": await cli.format(cli.componentServerTS(false, envVars)),
      "api.ts": api,
    };
  }
  return out;
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
const COMPONENT_FILES = ["dataModel.ts", "component.ts", "server.ts", "api.ts"];

/** emvex's and the CLI's files of every local component of `app`. */
async function compareComponents(app) {
  const theirs = await cliComponentOutput(app);
  assert.ok(Object.keys(theirs).length > 0, "no local component");
  for (const [definitionPath, files] of Object.entries(theirs)) {
    const dir = path.join(app, "convex", definitionPath, "_generated");
    assert.deepEqual(fs.readdirSync(dir).sort(), [...COMPONENT_FILES].sort(), `${definitionPath}/_generated`);
    for (const f of COMPONENT_FILES) {
      assert.equal(fs.readFileSync(path.join(dir, f), "utf8"), files[f], `${definitionPath}/_generated/${f}`);
    }
  }
  return theirs;
}

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

  for (const fixture of ["components", "workpool", "workpool-ts", "auth"]) {
    test(`fixtures/${fixture} (mounted components)`, async () => {
      const app = tempApp(fixture);
      const ours = emvexCodegen(app);
      const theirs = await cliOutput(app);
      for (const f of FILES) assert.equal(ours[f], theirs[f], `${f} of fixtures/${fixture}`);
    });
  }

  test("fixtures/components: each local component's own _generated/", async () => {
    const app = tempApp("components");
    for (const dir of ["counter", "counter/leaf"]) {
      fs.rmSync(path.join(app, "convex", dir, "_generated"), { recursive: true, force: true });
    }
    emvexCodegen(app);
    const theirs = await compareComponents(app);
    assert.deepEqual(Object.keys(theirs).sort(), ["counter", "counter/leaf"]);
  });

  test("a component's validators are typed and laid out as the CLI and prettier do", async () => {
    const fns = [
      'import { v } from "convex/values";',
      'import { action, internalMutation, mutation, query } from "./_generated/server";',
      "const h = async () => null as any;",
      'export const get = query({ args: { id: v.id("things"), z: v.string(), a: v.optional(v.number()) }, returns: v.union(v.object({ name: v.string(), size: v.number() }), v.null()), handler: h });',
      'export const list = query({ args: {}, returns: v.array(v.object({ name: v.string(), tags: v.array(v.string()), createdAtTimestamp: v.number() })), handler: h });',
      'export const kinds = query({ args: { kind: v.union(v.literal("first-choice"), v.literal("second-choice"), v.literal("third-choice")) }, returns: v.record(v.string(), v.union(v.literal(1), v.literal(2n), v.boolean())), handler: h });',
      "export const short = mutation({ args: { n: v.number() }, returns: v.number(), handler: h });",
      "export const untyped = mutation(h);",
      "export const hidden = internalMutation({ args: {}, handler: h });",
      "export const Upper = action({ args: { bytes: v.bytes(), anything: v.any(), big: v.int64() }, returns: v.object({}), handler: h });",
      "export const a10 = query({ args: {}, handler: h });",
      "export const a9 = query({ args: {}, handler: h });",
      "",
    ].join("\n");
    const app = tempApp(null, {
      "convex.config.ts": 'import { defineApp } from "convex/server";\nimport kit from "./kit/convex.config";\nconst app = defineApp();\napp.use(kit);\napp.use(kit, { name: "kit2" });\nexport default app;\n',
      "app.ts": MODULE,
      "kit/convex.config.ts": 'import { defineComponent } from "convex/server";\nimport { v } from "convex/values";\nexport default defineComponent("kit", { env: { MODE: v.string(), LEVEL: v.optional(v.union(v.literal("low"), v.literal("high"))) } });\n',
      "kit/fns.ts": fns,
      "kit/dir/deep.ts": 'import { query } from "../_generated/server";\nexport const ping = query({ args: {}, handler: async () => 1 });\n',
      "kit/plain.ts": MODULE,
    });
    emvexCodegen(app);
    const theirs = await compareComponents(app);
    assert.match(theirs.kit["component.ts"], /get: FunctionReference<\n/);
    assert.match(theirs.kit["server.ts"], /readonly LEVEL: "low" \| "high" \| undefined;/);
  });

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
