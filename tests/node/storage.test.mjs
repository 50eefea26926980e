// File storage through the real clients (convex@1.49.0): an upload URL from
// `ConvexHttpClient.mutation`, a `fetch` POST of the file as a browser does, the storage id saved
// with `v.id("_storage")`, the file served at its `getUrl` URL, a live `ConvexClient`
// subscription that sees the upload and the delete, and the bad paths (malformed, tampered and
// missing tokens, unknown ids).
// Run from the repository root after `cargo build --release`: `node --test tests/node/storage.test.mjs`.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import WebSocket from "ws";

import { ConvexClient, ConvexHttpClient } from "convex/browser";
import { api } from "../../fixtures/files/convex/_generated/api.js";
import { startServer, stopServer } from "./server.mjs";

describe("file storage through the real clients", () => {
  let server;
  let client;

  before(async () => {
    server = await startServer("fixtures/files");
    client = new ConvexHttpClient(server.url, { logger: false });
  });

  after(() => stopServer(server));

  async function uploadText(text, type) {
    const postUrl = await client.mutation(api.files.generateUploadUrl, {});
    const result = await fetch(postUrl, { method: "POST", headers: { "Content-Type": type }, body: text });
    assert.equal(result.status, 200);
    const { storageId } = await result.json();
    return storageId;
  }

  test("upload, save, serve, metadata", async () => {
    const bytes = new Uint8Array(70_000).map((_, i) => (i * 7) % 256);
    const postUrl = await client.mutation(api.files.generateUploadUrl, {});
    const result = await fetch(postUrl, {
      method: "POST",
      headers: { "Content-Type": "application/x-test" },
      body: new Blob([bytes]),
    });
    assert.equal(result.status, 200);
    const { storageId } = await result.json();
    // Saved into a `v.id("_storage")` field: the id validates as a real storage id.
    await client.mutation(api.files.save, { storageId, name: "bytes" });
    const url = await client.query(api.files.getUrl, { storageId });
    const served = await fetch(url);
    assert.equal(served.status, 200);
    assert.equal(served.headers.get("content-type"), "application/x-test");
    assert.deepEqual(new Uint8Array(await served.arrayBuffer()), bytes);
    const partial = await fetch(url, { headers: { Range: "bytes=10-19" } });
    assert.equal(partial.status, 206);
    assert.deepEqual(new Uint8Array(await partial.arrayBuffer()), bytes.slice(10, 20));
    const meta = await client.query(api.files.getMetadata, { storageId });
    assert.equal(meta.sha256, createHash("sha256").update(bytes).digest("hex"));
    assert.equal(meta.size, bytes.length);
    const { byGet } = await client.query(api.files.systemDoc, { storageId });
    assert.equal(byGet.sha256, createHash("sha256").update(bytes).digest("base64"));
  });

  test("a live query sees uploads and deletes", async () => {
    const live = new ConvexClient(server.url, { webSocketConstructor: WebSocket, logger: false });
    try {
      const seen = [];
      let wake = () => {};
      live.onUpdate(api.files.listFiles, {}, (files) => {
        seen.push(files);
        wake();
      });
      const until = (predicate) =>
        new Promise((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`timed out; saw ${JSON.stringify(seen.at(-1))}`)), 10_000);
          const check = () => {
            if (seen.length && predicate(seen.at(-1))) {
              clearTimeout(timer);
              resolve(seen.at(-1));
            }
          };
          wake = check;
          check();
        });
      const before = (await until(() => true)).length;
      const storageId = await uploadText("live", "text/plain");
      const files = await until((f) => f.some((x) => x._id === storageId));
      const file = files.find((x) => x._id === storageId);
      assert.equal(await (await fetch(file.url)).text(), "live");
      await client.mutation(api.files.deleteFile, { storageId });
      const after = await until((f) => !f.some((x) => x._id === storageId));
      assert.equal(after.length, before);
      assert.equal((await fetch(file.url)).status, 404);
    } finally {
      await live.close();
    }
  });

  test("actions store and read files", async () => {
    const storageId = await client.action(api.files.storeText, { text: "from node", type: "text/plain" });
    const read = await client.action(api.files.readText, { storageId });
    assert.equal(read.text, "from node");
    assert.equal(read.type, "text/plain");
    assert.equal(await (await fetch(read.url)).text(), "from node");
  });

  test("bad upload URLs and unknown ids", async () => {
    const postUrl = await client.mutation(api.files.generateUploadUrl, {});
    const malformed = await fetch(postUrl.replace(/token=.*/, "token=garbage"), { method: "POST", body: "x" });
    assert.equal(malformed.status, 401);
    assert.deepEqual(await malformed.json(), {
      code: "StorageTokenInvalid",
      message: "Couldn't decode the StoreFileAuthorization token",
    });
    const tampered = await fetch(postUrl.replace(/token=(\d)/, (_, d) => `token=${(Number(d) + 1) % 10}`), {
      method: "POST",
      body: "x",
    });
    assert.equal(tampered.status, 401);
    const noToken = await fetch(postUrl.split("?")[0], { method: "POST", body: "x" });
    assert.equal(noToken.status, 400);
    // The same URL twice: two files, as on Convex.
    const a = await (await fetch(postUrl, { method: "POST", body: "a" })).json();
    const b = await (await fetch(postUrl, { method: "POST", body: "b" })).json();
    assert.notEqual(a.storageId, b.storageId);
    // Unknown ids.
    await client.mutation(api.files.deleteFile, { storageId: a.storageId });
    assert.equal(await client.query(api.files.getUrl, { storageId: a.storageId }), null);
    assert.equal(await client.query(api.files.getMetadata, { storageId: a.storageId }), null);
    assert.equal(await client.action(api.files.readText, { storageId: a.storageId }), null);
    await assert.rejects(client.mutation(api.files.deleteFile, { storageId: a.storageId }), /not found/);
  });

  test("an HTTP action stores the request body", async () => {
    const result = await fetch(`${server.siteUrl}/upload?name=n`, {
      method: "POST",
      headers: { "Content-Type": "image/gif" },
      body: "GIF89a",
    });
    assert.equal(result.status, 200);
    const { storageId, url } = await result.json();
    const served = await fetch(url);
    assert.equal(served.headers.get("content-type"), "image/gif");
    assert.equal(await served.text(), "GIF89a");
    const back = await fetch(`${server.siteUrl}/file?id=${storageId}`);
    assert.equal(await back.text(), "GIF89a");
  });
});
