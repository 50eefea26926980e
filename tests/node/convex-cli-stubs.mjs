// Module hooks that let Node import the `convex` package's CLI sources
// (node_modules/convex/dist/esm/cli/...) on their own. Those files import packages that the
// published package bundles into cli.bundle.cjs instead of depending on them (chalk, zod,
// @sentry/node, commander, …). Each such bare import resolves here to a stub module that
// exports the names the importer asks for; every stub value is one inert, callable proxy. The
// codegen code paths the tests call only log through them.
// Registered by codegen.test.mjs with `module.register`.
import fs from "node:fs";
import { fileURLToPath } from "node:url";

export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (e) {
    if (e.code !== "ERR_MODULE_NOT_FOUND" || specifier.startsWith(".") || !context.parentURL) throw e;
    const importer = fs.readFileSync(fileURLToPath(context.parentURL), "utf8");
    const quoted = specifier.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
    const names = new Set();
    for (const m of importer.matchAll(new RegExp(`import\\s+([^;]*?)\\s+from\\s+"${quoted}"`, "g"))) {
      const braces = m[1].match(/\{([^}]*)\}/);
      for (const part of braces ? braces[1].split(",") : []) {
        const name = part.trim().split(/\s+as\s+/)[0].trim();
        if (name && name !== "default") names.add(name);
      }
    }
    return { url: `emvex-stub:${specifier}?${[...names].join(",")}`, shortCircuit: true };
  }
}

export async function load(url, context, next) {
  if (!url.startsWith("emvex-stub:")) return next(url, context);
  const names = url.split("?")[1].split(",").filter(Boolean);
  const source = `const P = new Proxy(function () {}, {
    get: (_t, key) => (key === "then" ? undefined : key === Symbol.toPrimitive ? () => "" : P),
    apply: () => P,
    construct: () => P,
  });
  export default P;
  ${names.map((n) => `export const ${n} = P;`).join("\n")}`;
  return { format: "module", source, shortCircuit: true };
}
