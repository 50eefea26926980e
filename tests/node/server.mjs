// Starting `emvex dev` for the Node tests. The server binary is `target/release/emvex` unless the
// environment variable EMVEX_BIN names another one.
import { spawn } from "node:child_process";
import { once } from "node:events";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const bin = process.env.EMVEX_BIN ?? path.join(repoRoot, "target/release/emvex");
export const ADMIN_KEY = "node-test-admin-key";

/**
 * Starts `emvex dev <app> --port 0 --in-memory` and resolves with its API URL and its
 * HTTP-actions (site) URL, as printed on its first two lines. `options.port` listens on that
 * port (the site port is then picked free), `options.data` keeps the data in that directory.
 */
export async function startServer(app, options = {}) {
  const port = options.port ?? 0;
  const args = ["dev", app, "--port", String(port), "--admin-key", ADMIN_KEY];
  if (port !== 0) args.push("--site-port", "0");
  args.push(...(options.data ? ["--data", options.data] : ["--in-memory"]));
  const child = spawn(bin, args, { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
  });
  const [url, siteUrl] = await new Promise((resolve, reject) => {
    let buffered = "";
    const timer = setTimeout(() => reject(new Error(`no URLs within 60 s; stderr:\n${stderr}`)), 60_000);
    child.stdout.on("data", (chunk) => {
      buffered += chunk;
      const api = buffered.match(/ready at (http:\/\/127\.0\.0\.1:\d+)/);
      const site = buffered.match(/HTTP actions at (http:\/\/127\.0\.0\.1:\d+)/);
      if (api && site) {
        clearTimeout(timer);
        resolve([api[1], site[1]]);
      }
    });
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot start ${bin}: ${e.message}`));
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`emvex dev exited with ${code} before printing its URLs; stderr:\n${stderr}`));
    });
  });
  // Keep draining stdout so the server never blocks on a full pipe.
  child.stdout.resume();
  return { child, url, siteUrl };
}

/** Stops a server started by `startServer`. */
export async function stopServer(server) {
  if (server && server.child.exitCode === null) {
    server.child.kill("SIGKILL");
    await once(server.child, "exit");
  }
}
