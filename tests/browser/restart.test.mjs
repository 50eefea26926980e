// The chat-web page survives `emvex dev` being killed (SIGKILL) and started again on the same port
// and data directory: it reconnects, shows the data again, and a message sent while the server
// was down is delivered exactly once.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { ConvexHttpClient } from "convex/browser";
import { api } from "../../fixtures/chat-web/convex/_generated/api.js";
import {
  APP,
  errorsOf,
  freePort,
  launchBrowser,
  openPage,
  startServer,
  startWeb,
  statesOf,
  stopServer,
  stopWeb,
  waitForState,
} from "./harness.mjs";

let server;
let web;
let browser;
let data;

before(async () => {
  data = await mkdtemp(path.join(os.tmpdir(), "emvex-browser-restart-"));
  [web, browser] = await Promise.all([startWeb(), launchBrowser()]);
});

after(async () => {
  await browser?.close();
  await Promise.all([stopServer(server), stopWeb(web)]);
  await rm(data, { recursive: true, force: true });
});

test("the page recovers after emvex dev is killed and restarted on the same port and data", async () => {
  const port = await freePort();
  server = await startServer(APP, { port, data });
  const page = await openPage(browser, web.url, server.url, { channel: "restart", author: "phoenix" });
  await waitForState(page, "chat", (s) => s.messages !== null);
  await page.evaluate(() => window.__send("before the crash"));
  await waitForState(page, "history", (s) => s.ids.length === 1);
  assert.equal((await page.evaluate(() => window.__connection())).connectionCount, 1);

  await stopServer(server); // SIGKILL
  const killedAt = Date.now();
  await page.waitForFunction(() => !window.__connection().isWebSocketConnected, null, { timeout: 10_000 });
  await page.getByTestId("connection").getByText("disconnected").waitFor({ timeout: 5_000 });

  // Sent while the server is down: shown optimistically, queued, delivered after the restart.
  await page.evaluate(() => {
    window.__whileDown = window.__send("while the server was down");
  });
  await waitForState(page, "chat", (s) => s.messages.some((m) => m.body === "while the server was down"));

  server = await startServer(APP, { port, data });
  await page.waitForFunction(() => window.__connection().isWebSocketConnected, null, { timeout: 30_000 });
  const id = await page.evaluate(() => window.__whileDown);
  const reconnectedAfter = Date.now() - killedAt;
  await page.evaluate(() => window.__send("after the restart"));

  await waitForState(
    page,
    "chat",
    (s) => s.messages.length === 3 && !s.messages.some((m) => m.id.startsWith("optimistic")),
  );
  const [last] = (await statesOf(page, "chat")).slice(-1);
  assert.deepEqual(
    last.messages.map((m) => m.body),
    ["before the crash", "while the server was down", "after the restart"],
  );
  assert.equal(last.messages[1].id, id);
  await waitForState(page, "history", (s) => s.ids.length === 3);
  assert.equal((await page.evaluate(() => window.__connection())).connectionCount, 2);

  // The server has each message exactly once.
  const http = new ConvexHttpClient(server.url, { logger: false });
  const list = await http.query(api.messages.list, { channel: "restart" });
  assert.deepEqual(
    list.map((m) => m.body),
    ["before the crash", "while the server was down", "after the restart"],
  );

  // Only the reconnect noise of the browser while the server was down.
  const unexpected = errorsOf([page], (e) => e.kind === "console" && /WebSocket connection to .* failed/.test(e.text));
  assert.deepEqual(unexpected, [], `reconnected after ${reconnectedAfter} ms`);
});
