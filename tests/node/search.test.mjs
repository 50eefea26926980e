// Text search through the real clients (convex@1.49.0) against `emvex dev` on fixtures/search:
// `ConvexHttpClient` searches in relevance order with filter fields and pagination, Convex's
// errors for bad searches, and a live `ConvexClient` subscription to a search query that
// updates when a matching document is inserted (and when it is edited away).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";

import { ConvexClient, ConvexHttpClient } from "convex/browser";
import { api } from "../../fixtures/search/convex/_generated/api.js";
import { startServer, stopServer } from "./server.mjs";

/** Resolves with the first value `onUpdate` delivers for which `predicate` holds. */
function waitFor(client, query, args, predicate, timeoutMs = 10_000) {
  return new Promise((resolve, reject) => {
    let last;
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`no matching value within ${timeoutMs} ms; last: ${JSON.stringify(last)}`));
    }, timeoutMs);
    const unsubscribe = client.onUpdate(
      query,
      args,
      (value) => {
        last = value;
        if (predicate(value)) {
          clearTimeout(timer);
          unsubscribe();
          resolve(value);
        }
      },
      () => {},
    );
  });
}

describe("text search through the convex clients", () => {
  let server;
  let http;
  const clients = [];

  before(async () => {
    server = await startServer("fixtures/search");
    http = new ConvexHttpClient(server.url);
  });

  after(async () => {
    for (const c of clients) await c.close();
    await stopServer(server);
  });

  test("ConvexHttpClient: relevance order, prefix, filter fields, pagination", async () => {
    await http.mutation(api.messages.sendMany, {
      channel: "http",
      bodies: ["kiwi", "kiwi kiwi banana", "kiwi kiwi kiwi", "banana split", "Kiwifruit salad"],
    });
    const kiwi = await http.query(api.messages.search, { text: "kiwi", channel: "http", limit: 10 });
    // Among documents matching the same term, denser and shorter ones first (the rare
    // prefix match `kiwifruit` weighs most, as BM25's IDF has it).
    assert.deepEqual(kiwi.filter((b) => !b.startsWith("Kiwifruit")), ["kiwi kiwi kiwi", "kiwi", "kiwi kiwi banana"]);
    assert.deepEqual(new Set(kiwi), new Set(["kiwi", "kiwi kiwi banana", "kiwi kiwi kiwi", "Kiwifruit salad"]));
    assert.deepEqual(await http.query(api.messages.search, { text: "kiwi", channel: "other" }), []);
    const pages = [];
    let cursor = null;
    for (;;) {
      const p = await http.query(api.messages.searchPage, { text: "kiwi", paginationOpts: { numItems: 2, cursor } });
      pages.push(...p.page);
      if (p.isDone) break;
      cursor = p.continueCursor;
    }
    assert.deepEqual(pages, kiwi);
  });

  test("ConvexHttpClient: bad searches fail with Convex's messages", async () => {
    await assert.rejects(
      http.query(api.messages.rawSearch, {
        index: "search_body",
        searches: [{ field: "body", text: "x" }],
        eqs: [{ field: "nope", value: 1 }],
      }),
      /contains an equality filter on "nope" but that field isn't indexed for filtering in `filterFields`/,
    );
    await assert.rejects(
      http.query(api.messages.rawSearch, { index: "search_body", searches: [{ field: "body", text: "x" }], eqs: [], order: true }),
      /Search queries must always be in relevance order/,
    );
  });

  test("ConvexClient: a live search updates when a matching document is inserted", async () => {
    const [watcher, writer] = [new ConvexClient(server.url, { webSocketConstructor: WebSocket, logger: false }), new ConvexClient(server.url, { webSocketConstructor: WebSocket, logger: false })];
    clients.push(watcher, writer);
    const channel = `live-${Date.now()}`;
    const args = { text: "rocket", channel };
    await waitFor(watcher, api.messages.search, args, (v) => v.length === 0);
    const one = waitFor(watcher, api.messages.search, args, (v) => v.length === 1);
    const id = await writer.mutation(api.messages.send, { body: "A rocket launch", channel });
    assert.deepEqual(await one, ["A rocket launch"]);
    // A more relevant match arrives first in the result.
    const two = waitFor(watcher, api.messages.search, args, (v) => v.length === 2);
    await writer.mutation(api.messages.send, { body: "rocket rocket", channel });
    assert.deepEqual(await two, ["rocket rocket", "A rocket launch"]);
    // Editing a document so it no longer matches removes it.
    const back = waitFor(watcher, api.messages.search, args, (v) => v.length === 1);
    await writer.mutation(api.messages.edit, { id, body: "A boat trip" });
    assert.deepEqual(await back, ["rocket rocket"]);
  });
});
