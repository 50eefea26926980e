import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { expect, test } from "vitest";

const root = fileURLToPath(new URL("..", import.meta.url));
const built = existsSync(`${root}/dist/workpool/index.js`);

test.skipIf(!built)("npm pack ships the built workpool and its component definition", () => {
  const out = execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], {
    cwd: root,
    encoding: "utf8",
  });
  const [info] = JSON.parse(out);
  expect(info.name).toBe("emvex");
  const files: string[] = info.files.map((f: { path: string }) => f.path);
  for (const path of [
    "package.json",
    "dist/workpool/index.js",
    "dist/workpool/index.d.ts",
    "dist/workpool/component/convex.config.js",
    "dist/workpool/component/convex.config.d.ts",
    "dist/workpool/componentApi.d.ts",
  ]) {
    expect(files).toContain(path);
  }
  expect(files.filter((f) => !f.startsWith("dist/") && f !== "package.json" && f !== "README.md")).toEqual([]);
});

test.skipIf(!built)("the package's subpaths resolve to the built files and load", async () => {
  const pool = await import("emvex/workpool");
  expect(typeof pool.Workpool).toBe("function");
  const config = (await import("emvex/workpool/convex.config")).default as any;
  const configJs = (await import("emvex/workpool/convex.config.js")).default;
  expect(configJs).toBe(config);
  expect(config.componentDefinitionPath).toBeUndefined();
  const exported = config.export();
  expect(exported.name).toBe("workpool");
  expect(exported.childComponents).toEqual([]);
  expect(import.meta.resolve?.("emvex/workpool/convex.config")).toMatch(/\/dist\/workpool\/component\/convex\.config\.js$/);
});

test("the component definition source", async () => {
  const config = (await import("../src/workpool/component/convex.config.js")).default as any;
  expect(config.export().name).toBe("workpool");
  expect(config.export().childComponents).toEqual([]);
});
