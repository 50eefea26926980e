// The real `ConvexHttpClient` (convex@1.49.0, `convex/browser`) against `emvex dev`.
// Run from the repository root: `node --test tests/node/`.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";

import { ConvexHttpClient } from "convex/browser";
import { ConvexError } from "convex/values";
import { api, internal } from "../../fixtures/basic/convex/_generated/api.js";
import { ADMIN_KEY, startServer, stopServer } from "./server.mjs";

describe("ConvexHttpClient against emvex dev", () => {
  let server;
  let client;

  before(async () => {
    server = await startServer("fixtures/basic");
    client = new ConvexHttpClient(server.url, { logger: false });
  });

  after(() => stopServer(server));

  test("mutations and queries", async () => {
    const id = await client.mutation(api.messages.send, { author: "node", body: "hello", channel: "n" });
    assert.equal(typeof id, "string");
    const doc = await client.query(api.messages.get, { id });
    assert.equal(doc._id, id);
    assert.equal(doc.body, "hello");
    assert.equal(doc.likes, 0);
    assert.equal(typeof doc._creationTime, "number");
    const list = await client.query(api.messages.byChannel, { channel: "n" });
    assert.deepEqual(
      list.map((m) => m.body),
      ["hello"],
    );
    const updated = await client.mutation(api.messages.update, { id, likes: 3 });
    assert.equal(updated.likes, 3);
  });

  test("int64, bytes and special floats round trip", async () => {
    const big = 2n ** 62n + 5n;
    assert.equal(await client.query(api.values.echo, { value: big }), big);
    assert.equal(await client.query(api.values.echo, { value: -(2n ** 63n) }), -(2n ** 63n));
    assert.equal(await client.query(api.values.addInt64, { a: 2n ** 62n, b: 5n }), big);
    const bytes = new Uint8Array([0, 1, 2, 254, 255]).buffer;
    const back = await client.query(api.values.echo, { value: bytes });
    assert.ok(back instanceof ArrayBuffer, "bytes come back as an ArrayBuffer");
    assert.deepEqual([...new Uint8Array(back)], [0, 1, 2, 254, 255]);
    assert.ok(Number.isNaN(await client.query(api.values.echo, { value: NaN })));
    assert.ok(Object.is(await client.query(api.values.echo, { value: -0 }), -0));
    assert.equal(await client.query(api.values.echo, { value: -Infinity }), -Infinity);
    assert.equal(await client.query(api.values.describe, { value: 7n }), "bigint:7");
  });

  test("ConvexError data reaches the client", async () => {
    await assert.rejects(client.mutation(api.errors.throwConvexError, {}), (err) => {
      assert.ok(err instanceof ConvexError, `expected a ConvexError, got ${err}`);
      assert.deepEqual(err.data, {
        code: "NOT_ALLOWED",
        count: 3,
        big: 7n,
        nested: { ok: false, list: [1, "two", null] },
      });
      return true;
    });
  });

  test("other errors are plain Errors with Convex's message", async () => {
    await assert.rejects(client.query(api.errors.throwPlain, {}), (err) => {
      assert.ok(!(err instanceof ConvexError));
      assert.match(err.message, /\[Request ID: [^\]]+\] Server Error\nUncaught Error: boom/);
      return true;
    });
    await assert.rejects(client.query("messages:nope", {}), /Could not find public function for 'messages:nope'/);
    await assert.rejects(client.query(internal.errors.secretQuery, { x: 1 }), /Could not find public function/);
    await assert.rejects(
      client.mutation(api.messages.send, { author: "a", channel: "c" }),
      /ArgumentValidationError: Object is missing the required field `body`/,
    );
    await assert.rejects(client.mutation(api.messages.list, {}), /is defined as Query/);
  });

  test("a thrown mutation commits nothing", async () => {
    await assert.rejects(client.mutation(api.errors.insertThenThrow, { name: "node-rb" }), /rolled back node-rb/);
    assert.deepEqual(await client.query(api.errors.counterValues, { name: "node-rb" }), []);
  });

  test("paginate loop", async () => {
    await client.mutation(api.pagination.seed, { from: 0, to: 23 });
    const seen = [];
    let cursor = null;
    let pages = 0;
    for (;;) {
      const result = await client.query(api.pagination.docs, { paginationOpts: { numItems: 5, cursor } });
      pages++;
      assert.ok(result.page.length <= 5);
      seen.push(...result.page.map((d) => d.i));
      if (result.isDone) break;
      cursor = result.continueCursor;
      assert.equal(typeof cursor, "string");
      assert.ok(pages < 20, "pagination never finished");
    }
    assert.deepEqual(
      seen,
      Array.from({ length: 23 }, (_, i) => i),
    );
    assert.equal(pages, 5);
  });

  test("admin client calls internal functions", async () => {
    const admin = new ConvexHttpClient(server.url, { logger: false });
    admin.setAdminAuth(ADMIN_KEY);
    assert.equal(await admin.function(internal.errors.secretQuery, undefined, { x: 21 }), 42);
    assert.equal(await admin.query(internal.errors.secretQuery, { x: 2 }), 4);
  });
});
