// Reactive queries with the real `ConvexClient` (convex@1.49.0, `convex/browser`) against
// `emvex dev` on fixtures/chat-web: subscriptions see every write, read-your-writes, one
// consistent snapshot per update, no callback for unrelated writes, errors as results.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";

import { ConvexClient, ConvexHttpClient } from "convex/browser";
import { ConvexError } from "convex/values";
import { api } from "../../fixtures/chat-web/convex/_generated/api.js";
import { startServer, stopServer } from "./server.mjs";

/** Resolves when `predicate(value)` holds for a value `onUpdate` delivered. */
function waitFor(client, query, args, predicate, timeoutMs = 10_000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`no matching value within ${timeoutMs} ms`));
    }, timeoutMs);
    const unsubscribe = client.onUpdate(
      query,
      args,
      (value) => {
        if (predicate(value)) {
          clearTimeout(timer);
          unsubscribe();
          resolve(value);
        }
      },
      // An error on the way to the awaited value is not the value.
      () => {},
    );
  });
}

describe("reactive queries through ConvexClient", () => {
  let server;
  const clients = [];

  before(async () => {
    server = await startServer("fixtures/chat-web");
  });

  after(async () => {
    for (const c of clients) await c.close();
    await stopServer(server);
  });

  function client() {
    const c = new ConvexClient(server.url, { webSocketConstructor: WebSocket, logger: false });
    clients.push(c);
    return c;
  }

  test("one client's mutation reaches another client's subscription", async () => {
    const [a, b] = [client(), client()];
    const channel = `t6-${Date.now()}`;
    await waitFor(a, api.messages.list, { channel }, (v) => v.length === 0);
    const seen = waitFor(a, api.messages.list, { channel }, (v) => v.length === 1);
    await b.mutation(api.messages.send, { channel, author: "b", body: "hi from b" });
    const value = await seen;
    assert.equal(value[0].body, "hi from b");
  });

  test("await mutation() then the client's own subscription already shows the write", async () => {
    const c = client();
    const channel = `ryw-${Date.now()}`;
    const values = [];
    const unsubscribe = c.onUpdate(api.messages.count, { channel }, (v) => values.push(v));
    await waitFor(c, api.messages.count, { channel }, (v) => v === 0);
    await c.mutation(api.messages.send, { channel, author: "me", body: "one" });
    assert.equal(c.client.localQueryResult("messages:count", { channel }), 1);
    unsubscribe();
  });

  test("values of a counter hammered by concurrent increments never go back and end at the total", async () => {
    const [watcher, writer] = [client(), client()];
    const name = `t7-${Date.now()}`;
    const seen = [];
    const unsubscribe = watcher.onUpdate(api.counter.get, { name }, (v) => seen.push(v));
    await waitFor(watcher, api.counter.get, { name }, (v) => v === 0);
    const results = await Promise.all(
      Array.from({ length: 100 }, () => writer.mutation(api.counter.increment, { name })),
    );
    assert.deepEqual(
      [...results].sort((x, y) => x - y),
      Array.from({ length: 100 }, (_, i) => i + 1),
      "each increment saw its own value",
    );
    await waitFor(watcher, api.counter.get, { name }, (v) => v === 100);
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i] >= seen[i - 1], `values went back: ${seen}`);
    unsubscribe();
  });

  test("every update shows one snapshot: a channel's count always equals its list's length", async () => {
    const watcher = client();
    const writers = [client(), client(), client()];
    const channel = `t8-${Date.now()}`;
    let list = null;
    let count = null;
    const mismatches = [];
    const check = () => {
      if (list !== null && count !== null && list.length !== count) mismatches.push([list.length, count]);
    };
    const u1 = watcher.onUpdate(api.messages.list, { channel }, (v) => {
      list = v;
      count = watcher.client.localQueryResult("messages:count", { channel }) ?? count;
      check();
    });
    const u2 = watcher.onUpdate(api.messages.count, { channel }, (v) => {
      count = v;
      list = watcher.client.localQueryResult("messages:list", { channel }) ?? list;
      check();
    });
    await waitFor(watcher, api.messages.count, { channel }, (v) => v === 0);
    await Promise.all(
      writers.flatMap((w, i) =>
        Array.from({ length: 10 }, (_, j) => w.mutation(api.messages.send, { channel, author: `w${i}`, body: `${j}` })),
      ),
    );
    await waitFor(watcher, api.messages.count, { channel }, (v) => v === 30);
    assert.deepEqual(mismatches, []);
    u1();
    u2();
  });

  test("writes to a table the query does not read cause no update", async () => {
    const [watcher, writer] = [client(), client()];
    const channel = `t9-${Date.now()}`;
    let calls = 0;
    const unsubscribe = watcher.onUpdate(api.messages.list, { channel }, () => calls++);
    await waitFor(watcher, api.messages.list, { channel }, () => true);
    const before = calls;
    for (let i = 0; i < 10; i++) await writer.mutation(api.other.touch, {});
    // Also a message in another channel: same table, another index range.
    await writer.mutation(api.messages.send, { channel: `${channel}-other`, author: "x", body: "elsewhere" });
    await watcher.mutation(api.other.touch, {});
    assert.equal(calls, before, "no callback for unrelated writes");
    unsubscribe();
  });

  test("query errors reach onError; a ConvexError keeps its data; the query recovers without a reconnect", async () => {
    const c = client();
    const boom = await new Promise((resolve) => {
      const u = c.onUpdate(api.errors.boom, {}, () => {}, (e) => {
        u();
        resolve(e);
      });
    });
    assert.ok(!(boom instanceof ConvexError), "a plain error is not a ConvexError");
    assert.match(boom.message, /boom/);
    const data = await new Promise((resolve) => {
      const u = c.onUpdate(api.errors.data, {}, () => {}, (e) => {
        u();
        resolve(e);
      });
    });
    assert.ok(data instanceof ConvexError);
    assert.deepEqual(data.data, { code: "NOPE" });

    await c.mutation(api.errors.setFlag, { name: "flaky", on: true });
    const failed = new Promise((resolve) => {
      const u = c.onUpdate(api.errors.flaky, {}, () => {}, (e) => {
        u();
        resolve(e);
      });
    });
    assert.match((await failed).message, /the flaky flag is on/);
    const fine = waitFor(c, api.errors.flaky, {}, (v) => v === "fine");
    await c.mutation(api.errors.setFlag, { name: "flaky", on: false });
    assert.equal(await fine, "fine");
    await assert.rejects(c.mutation(api.errors.mutBoom, {}), /mutation boom/);
  });

  test("actions run concurrently and their writes reach subscribers", async () => {
    const [watcher, c] = [client(), client()];
    const channel = `t14-${Date.now()}`;
    const t0 = Date.now();
    await Promise.all([c.action(api.slow.act, { ms: 500 }), c.action(api.slow.act, { ms: 500 })]);
    assert.ok(Date.now() - t0 < 950, `two 500 ms actions took ${Date.now() - t0} ms`);
    const seen = waitFor(watcher, api.messages.list, { channel }, (v) => v.length === 1);
    await c.action(api.slow.actWrites, { channel, body: "from an action" });
    assert.equal((await seen)[0].author, "action");
  });

  test("HTTP mutations reach WebSocket subscribers", async () => {
    const watcher = client();
    const http = new ConvexHttpClient(server.url);
    const channel = `t30-${Date.now()}`;
    const seen = waitFor(watcher, api.messages.list, { channel }, (v) => v.length === 1);
    await http.mutation(api.messages.send, { channel, author: "http", body: "over HTTP" });
    assert.equal((await seen)[0].author, "http");
  });
});
