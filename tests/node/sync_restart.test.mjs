// Reconnects through server restarts with the real `ConvexClient`: `kill -9` of `emvex dev`, a
// mutation queued while it is down, a restart on the same port and data directory. The client
// reconnects on its own, resubscribes with its journals, and every mutation runs exactly once.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import WebSocket from "ws";

import { ConvexClient, ConvexHttpClient } from "convex/browser";
import { api } from "../../fixtures/chat-web/convex/_generated/api.js";
import { freePort, startServer, stopServer } from "./server.mjs";

/** Polls `check` until it returns a truthy value. */
async function eventually(what, check, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("restarts and reconnects", () => {
  const data = mkdtempSync(path.join(tmpdir(), "emvex-sync-restart-"));
  let server;
  let client;

  after(async () => {
    await client?.close();
    await stopServer(server);
    rmSync(data, { recursive: true, force: true });
  });

  test("after kill -9 and a restart, subscriptions and pages come back and a queued mutation runs once", async () => {
    const port = await freePort();
    server = await startServer("fixtures/chat-web", { port, data });
    const http = new ConvexHttpClient(server.url);
    for (const rank of [100, 200, 300, 400]) await http.mutation(api.ranked.insert, { rank });
    client = new ConvexClient(server.url, { webSocketConstructor: WebSocket, logger: false });
    const name = "restart-counter";
    let counter;
    client.onUpdate(api.counter.get, { name }, (v) => {
      counter = v;
    });
    let page;
    client.onPaginatedUpdate_experimental(api.ranked.paged, {}, { initialNumItems: 2 }, (v) => {
      page = v;
    });
    await eventually("first values", () => counter === 0 && page?.status === "CanLoadMore");
    assert.deepEqual(page.results.map((r) => r.rank), [100, 200]);
    assert.equal(await client.mutation(api.counter.increment, { name }), 1);
    await eventually("the counter at 1", () => counter === 1);
    const connections = client.connectionState().connectionCount;

    await stopServer(server);
    const queued = client.mutation(api.counter.increment, { name });
    await new Promise((resolve) => setTimeout(resolve, 300));
    server = await startServer("fixtures/chat-web", { port, data });
    // Inserted before the client is back: inside page 0's range, so page 0 grows.
    await new ConvexHttpClient(server.url).mutation(api.ranked.insert, { rank: 150 });

    assert.equal(await queued, 2, "the queued increment ran once, after the restart");
    await eventually("the counter at 2", () => counter === 2);
    await eventually("page 0 kept its range", () => JSON.stringify(page.results.map((r) => r.rank)) === "[100,150,200]");
    assert.ok(client.connectionState().connectionCount > connections, "the client reconnected");
    assert.equal(await new ConvexHttpClient(server.url).query(api.counter.get, { name }), 2);
  });
});
