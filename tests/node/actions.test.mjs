// Actions and HTTP actions of `fixtures/actions` through the real `ConvexHttpClient`
// (convex@1.49.0) and plain `fetch`, against `emvex dev`. Run: `node --test tests/node/`.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";

import { ConvexHttpClient } from "convex/browser";
import { ConvexError } from "convex/values";
import { api } from "../../fixtures/actions/convex/_generated/api.js";
import { startServer, stopServer } from "./server.mjs";

describe("actions through ConvexHttpClient", () => {
  let server;
  let client;

  before(async () => {
    server = await startServer("fixtures/actions");
    client = new ConvexHttpClient(server.url, { logger: false });
  });

  after(() => stopServer(server));

  test("an action writes through mutations and reads them back", async () => {
    const result = await client.action(api.actions.writeAndRead, { tag: "node", values: [1, 2, 3] });
    assert.equal(result.ids.length, 3);
    assert.deepEqual(result.read, [1, 2, 3]);
    assert.deepEqual(await client.query(api.rows.list, { tag: "node" }), [1, 2, 3]);
  });

  test("an action calls another action", async () => {
    assert.equal(await client.action(api.actions.callAction, { n: 20 }), 41);
  });

  test("ConvexError data from an action reaches the client", async () => {
    await assert.rejects(client.action(api.actions.throwsConvexError, {}), (e) => {
      assert.ok(e instanceof ConvexError, `expected a ConvexError, got ${e}`);
      assert.deepEqual(e.data, { code: "ACTION_DENIED", attempts: 3 });
      return true;
    });
  });

  test("HTTP actions answer on the site URL", async () => {
    const response = await fetch(`${server.siteUrl}/json?q=node`);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { hello: "world", method: "GET", q: "node" });
    const missing = await fetch(`${server.siteUrl}/nope`);
    assert.equal(missing.status, 404);
    assert.equal(await missing.text(), "No matching routes found");
  });
});
