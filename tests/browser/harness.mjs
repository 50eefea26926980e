// The browser harness: `emvex dev fixtures/chat-web`, the page's static server
// (fixtures/chat-web/web/serve.mjs over web/dist, built by `npm run build -w fixtures/chat-web`)
// and Debian's Chromium driven by playwright-core (no browser download).
import { execSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { once } from "node:events";
import path from "node:path";
import { chromium } from "playwright-core";
import { repoRoot } from "../node/server.mjs";

export { freePort, startServer, stopServer } from "../node/server.mjs";
export const APP = "fixtures/chat-web";
const webDir = path.join(repoRoot, APP, "web");

/** Launches headless Chromium (`command -v chromium`). */
export async function launchBrowser() {
  let executablePath;
  try {
    executablePath = execSync("command -v chromium", { shell: "/bin/sh" }).toString().trim();
  } catch {
    throw new Error("chromium is not installed: apt-get install -y --no-install-recommends chromium");
  }
  return chromium.launch({ executablePath, headless: true, args: ["--no-sandbox"] });
}

/** Starts web/serve.mjs on a free port and resolves with `{ child, url }`. */
export async function startWeb() {
  if (!existsSync(path.join(webDir, "dist/bundle.js"))) {
    throw new Error("fixtures/chat-web/web/dist is not built: npm run build -w fixtures/chat-web");
  }
  const child = spawn(process.execPath, [path.join(webDir, "serve.mjs"), "--port", "0"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const url = await new Promise((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (chunk) => {
      out += chunk;
      const m = out.match(/at (http:\/\/127\.0\.0\.1:\d+\/)/);
      if (m) resolve(m[1]);
    });
    child.on("exit", (code) => reject(new Error(`serve.mjs exited with ${code}`)));
  });
  child.stdout.resume();
  return { child, url };
}

export async function stopWeb(web) {
  if (web && web.child.exitCode === null) {
    web.child.kill("SIGKILL");
    await once(web.child, "exit");
  }
}

/**
 * Opens the chat page against `convexUrl` with query parameters `params` (`channel`, `author`)
 * and collects its page errors and console errors in `page.errors` (`{ kind, text, at }`).
 */
export async function openPage(browser, webUrl, convexUrl, params = {}) {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.errors = [];
  page.on("pageerror", (e) => page.errors.push({ kind: "pageerror", text: String(e?.stack ?? e), at: Date.now() }));
  page.on("console", (msg) => {
    if (msg.type() === "error") page.errors.push({ kind: "console", text: msg.text(), at: Date.now() });
  });
  const query = new URLSearchParams({ convex: convexUrl, ...params });
  await page.goto(`${webUrl}?${query}`);
  return page;
}

/** The page's recorded states of `kind` ("chat", "history", "jobs"), parsed, from index `from`. */
export async function statesOf(page, kind, from = 0) {
  const all = await page.evaluate(() => window.__states);
  return all
    .slice(from)
    .map((s) => JSON.parse(s))
    .filter((s) => s.kind === kind);
}

/** Waits until the latest state of `kind` satisfies `predicate` (a function run in the page). */
export async function waitForState(page, kind, predicate, timeout = 10_000) {
  await page.waitForFunction(
    ([kind, source]) => {
      const pred = new Function(`return (${source})`)();
      for (let i = window.__states.length - 1; i >= 0; i--) {
        const s = JSON.parse(window.__states[i]);
        if (s.kind === kind) return pred(s);
      }
      return false;
    },
    [kind, predicate.toString()],
    { timeout, polling: 20 },
  );
}

/** Asserts no errors were collected on `pages`, except those `allowed` matches. */
export function errorsOf(pages, allowed = () => false) {
  return pages.flatMap((p) => p.errors).filter((e) => !allowed(e));
}
