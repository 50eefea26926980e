// "use node" actions and vector search through the real clients (convex@1.49.0) against
// `emvex dev`: `ConvexHttpClient` and a WebSocket `ConvexClient` call Node.js actions on
// fixtures/node-actions (results, ConvexError data, a crash), and search movies by vector on
// fixtures/search from an action.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";

import { ConvexClient, ConvexHttpClient } from "convex/browser";
import { ConvexError } from "convex/values";
import { api as nodeApi } from "../../fixtures/node-actions/convex/_generated/api.js";
import { api as searchApi } from "../../fixtures/search/convex/_generated/api.js";
import { startServer, stopServer } from "./server.mjs";

describe("Node.js actions through the convex clients", () => {
  let server;
  let client;

  before(async () => {
    server = await startServer("fixtures/node-actions");
  });

  after(async () => {
    await client?.close();
    await stopServer(server);
  });

  test("ConvexHttpClient runs a Node action that uses Node built-ins and the database", async () => {
    const http = new ConvexHttpClient(server.url);
    const result = await http.action(nodeApi.hashing.digest, { text: "hello" });
    assert.equal(result.digest, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
    assert.equal(result.base64, "aGVsbG8=");
    assert.equal(result.ms, 172_800_000);
    const notes = await http.query(nodeApi.notes.list, {});
    assert.ok(notes.some((n) => n.text === "hello"));
    // A QuickJS action calling a Node one.
    assert.equal(
      await http.action(nodeApi.plain.viaNode, { text: "x" }),
      "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881",
    );
  });

  test("ConvexClient over the WebSocket: results, ConvexError data, a crashed process", async () => {
    client = new ConvexClient(server.url);
    assert.equal(await client.action(nodeApi.hashing.callQuickJs, { text: "ws" }), "WS!");
    await assert.rejects(client.action(nodeApi.hashing.fails, { convexError: true }), (e) => {
      assert.ok(e instanceof ConvexError, `a ConvexError, got ${e}`);
      assert.deepEqual(e.data, { code: "NOPE", detail: 7 });
      return true;
    });
    await assert.rejects(client.action(nodeApi.hashing.crash, {}), /the Node.js process running the action exited/);
    assert.equal(typeof (await client.action(nodeApi.hashing.pid, {})), "number", "a new process serves the next action");
  });
});

describe("vector search through the convex clients", () => {
  let server;

  before(async () => {
    server = await startServer("fixtures/search");
  });

  after(async () => {
    await stopServer(server);
  });

  test("an action's ctx.vectorSearch ranks by cosine similarity and filters", async () => {
    const http = new ConvexHttpClient(server.url);
    for (const [title, genre, embedding] of [
      ["Alien", "horror", [1, 0, 0]],
      ["Amelie", "romance", [0, 1, 0]],
      ["Heat", "thriller", [0.7, 0.7, 0]],
    ]) {
      await http.mutation(searchApi.movies.add, { title, genre, embedding });
    }
    const found = await http.action(searchApi.movies.similar, { vector: [1, 0.1, 0] });
    assert.deepEqual(found.map((m) => m.title), ["Alien", "Heat", "Amelie"]);
    assert.ok(found[0].score > 0.99 && found[0].score <= 1);
    const romance = await http.action(searchApi.movies.similar, { vector: [1, 0, 0], genres: ["romance"] });
    assert.deepEqual(romance.map((m) => m.title), ["Amelie"]);
    await assert.rejects(
      http.action(searchApi.movies.similar, { vector: [1, 0] }),
      /Expected a vector with dimensions 3, received 2\./,
    );
  });
});
