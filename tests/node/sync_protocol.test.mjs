// The WebSocket sync protocol on the wire (spec/sync-protocol.md), driven with the raw `ws`
// client against `emvex dev` on fixtures/chat-web: exact message shapes, the version chain,
// the order of MutationResponse and Transition, FatalError on malformed input.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import WebSocket from "ws";

import { ADMIN_KEY, startServer, stopServer } from "./server.mjs";

const ZERO_TS = "AAAAAAAAAAA=";

/** A raw socket that records every server message and can wait for one. */
class RawSocket {
  constructor(url, options) {
    this.messages = [];
    this.waiters = [];
    this.ws = new WebSocket(url, options);
    this.closed = new Promise((resolve) => this.ws.on("close", (code, reason) => resolve({ code, reason: `${reason}` })));
    this.ws.on("message", (data, isBinary) => {
      assert.equal(isBinary, false, "the server sends text frames only");
      const message = JSON.parse(`${data}`);
      this.messages.push(message);
      for (const waiter of [...this.waiters]) waiter();
    });
  }
  open() {
    return new Promise((resolve, reject) => {
      this.ws.once("open", resolve);
      this.ws.once("error", reject);
    });
  }
  send(message) {
    this.ws.send(typeof message === "string" ? message : JSON.stringify(message));
  }
  /** Waits for the first message (from index `from`) that matches `predicate`. */
  async next(predicate, from = 0, timeoutMs = 10_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.slice(from).find(predicate);
      if (found) return found;
      if (Date.now() > deadline) {
        throw new Error(`no matching message within ${timeoutMs} ms; got ${JSON.stringify(this.messages)}`);
      }
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, 50);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      this.waiters = [];
    }
  }
  transitions() {
    return this.messages.filter((m) => m.type === "Transition");
  }
  close() {
    this.ws.close();
  }
}

function connect(sessionId = "raw-session") {
  return { type: "Connect", sessionId, connectionCount: 0, lastCloseReason: "InitialConnect", clientTs: Date.now() };
}

/** A first `ModifyQuerySet` (0 → 1) adding `queries` ([udfPath, args] pairs) as ids 0, 1, … */
function addQueries(...queries) {
  return {
    type: "ModifyQuerySet",
    baseVersion: 0,
    newVersion: 1,
    modifications: queries.map(([udfPath, args], queryId) => ({ type: "Add", queryId, udfPath, args: [args] })),
  };
}

function decodeTs(text) {
  assert.match(text, /^[A-Za-z0-9+/]{11}=$/, `an EncodedTs: ${text}`);
  return Buffer.from(text, "base64").readBigUInt64LE();
}

function assertChain(transitions) {
  let previous = { querySet: 0, identity: 0, ts: ZERO_TS };
  for (const t of transitions) {
    assert.deepEqual(t.startVersion, previous, "each Transition starts where the last one ended");
    assert.ok(t.endVersion.querySet >= t.startVersion.querySet);
    assert.ok(t.endVersion.identity >= t.startVersion.identity);
    assert.ok(decodeTs(t.endVersion.ts) >= decodeTs(t.startVersion.ts));
    assert.ok(Array.isArray(t.modifications));
    previous = t.endVersion;
  }
}

/** The resident memory of process `pid`, in MiB. */
function rssMiB(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(status.match(/VmRSS:\s+(\d+)/)[1]) / 1024;
}

describe("sync protocol over a raw WebSocket", () => {
  let server;
  let wsUrl;
  const sockets = [];

  before(async () => {
    server = await startServer("fixtures/chat-web");
    wsUrl = server.url.replace("http", "ws");
  });

  after(async () => {
    for (const s of sockets) s.close();
    await stopServer(server);
  });

  async function httpMutation(path, args) {
    const response = await fetch(`${server.url}/api/mutation`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ path, args: [args] }),
    });
    const body = await response.json();
    assert.equal(body.status, "success", JSON.stringify(body));
    return body.value;
  }

  async function open(path = "/api/1.49.0/sync", options = undefined) {
    const socket = new RawSocket(`${wsUrl}${path}`, options);
    sockets.push(socket);
    await socket.open();
    return socket;
  }

  test("the endpoint upgrades on every URL form the client may use, without a subprotocol", async () => {
    for (const path of ["/api/1.49.0/sync", "/api/sync", "/api/9.9.9/sync", "//api/1.49.0/sync"]) {
      const socket = await open(path);
      assert.equal(socket.ws.protocol, "", `${path}: no subprotocol`);
      socket.send(connect());
      socket.send({ type: "ModifyQuerySet", baseVersion: 0, newVersion: 1, modifications: [] });
      const t = await socket.next((m) => m.type === "Transition");
      assert.deepEqual(t.startVersion, { querySet: 0, identity: 0, ts: ZERO_TS });
      assert.equal(t.endVersion.querySet, 1);
      assert.deepEqual(t.modifications, []);
      decodeTs(t.endVersion.ts);
      socket.close();
    }
    const status = await new Promise((resolve, reject) => {
      const ws = new WebSocket(`${wsUrl}/api/latest/sync`);
      ws.on("unexpected-response", (_req, res) => resolve(res.statusCode));
      ws.on("open", () => reject(new Error("a non-semver client version was accepted")));
      ws.on("error", () => {});
    });
    assert.equal(status, 400);
  });

  test("a subscription gets its result, a mutation's response comes before the Transition that covers it", async () => {
    const socket = await open();
    socket.send(connect("chain"));
    socket.send(addQueries(["messages:list", { channel: "raw-chain" }]));
    const first = await socket.next((m) => m.type === "Transition" && m.modifications.length > 0);
    assert.deepEqual(first.modifications, [
      { type: "QueryUpdated", queryId: 0, value: [], logLines: [], journal: null },
    ]);
    socket.send({
      type: "Mutation",
      requestId: 0,
      udfPath: "messages:send",
      args: [{ channel: "raw-chain", author: "raw", body: "hello" }],
    });
    const response = await socket.next((m) => m.type === "MutationResponse");
    assert.equal(response.success, true);
    assert.deepEqual(response.logLines, []);
    const mutationTs = decodeTs(response.ts);
    const responseIndex = socket.messages.indexOf(response);
    for (const t of socket.messages.slice(0, responseIndex).filter((m) => m.type === "Transition")) {
      assert.ok(decodeTs(t.endVersion.ts) < mutationTs, "no Transition reaches the mutation's ts before its response");
    }
    const covering = await socket.next(
      (m) => m.type === "Transition" && decodeTs(m.endVersion.ts) >= mutationTs,
      responseIndex,
    );
    const update = covering.modifications.find((m) => m.queryId === 0);
    assert.equal(update.type, "QueryUpdated");
    assert.deepEqual(update.value.map((m) => m.body), ["hello"]);

    socket.send({ type: "ModifyQuerySet", baseVersion: 1, newVersion: 2, modifications: [{ type: "Remove", queryId: 0 }] });
    const removed = await socket.next((m) => m.type === "Transition" && m.endVersion.querySet === 2);
    assert.deepEqual(removed.modifications, [{ type: "QueryRemoved", queryId: 0 }]);
    const before = socket.messages.length;
    socket.send({
      type: "Mutation",
      requestId: 1,
      udfPath: "messages:send",
      args: [{ channel: "raw-chain", author: "raw", body: "again" }],
    });
    const second = await socket.next((m) => m.type === "MutationResponse" && m.requestId === 1, before);
    await socket.next((m) => m.type === "Transition" && decodeTs(m.endVersion.ts) >= decodeTs(second.ts), before);
    for (const t of socket.transitions().slice(-1)) assert.deepEqual(t.modifications, []);
    assertChain(socket.transitions());
  });

  test("a mutation on a socket without subscriptions is still followed by a covering Transition", async () => {
    const socket = await open();
    socket.send(connect("no-subs"));
    socket.send({ type: "ModifyQuerySet", baseVersion: 0, newVersion: 1, modifications: [] });
    socket.send({ type: "Mutation", requestId: 0, udfPath: "other:touch", args: [{}] });
    const response = await socket.next((m) => m.type === "MutationResponse");
    await socket.next((m) => m.type === "Transition" && decodeTs(m.endVersion.ts) >= decodeTs(response.ts));
    assertChain(socket.transitions());
  });

  test("a commit that leaves a subscribed result as it was sends nothing; one that changes it does", async () => {
    const mutate = (args) => httpMutation("errors:setFlag", args);
    const socket = await open();
    socket.send(connect("unchanged"));
    socket.send(addQueries(["errors:flaky", {}]));
    const first = await socket.next((m) => m.type === "Transition" && m.modifications.length > 0);
    assert.equal(first.modifications[0].value, "fine");
    // Both writes land in the query's read set (the `flaky` flag's index key); neither changes
    // what it returns.
    await mutate({ name: "flaky", on: false });
    await mutate({ name: "flaky", on: false });
    await mutate({ name: "flaky", on: true });
    const failed = await socket.next((m) => m.type === "Transition" && m.modifications[0]?.type === "QueryFailed");
    assert.match(failed.modifications[0].errorMessage, /the flaky flag is on/);
    assert.deepEqual(socket.transitions(), [first, failed], "no Transition for the unchanged result");
    await mutate({ name: "flaky", on: false });
    await socket.next((m) => m.type === "Transition" && m.modifications[0]?.value === "fine");
    assertChain(socket.transitions());
  });

  test("function errors travel as results, never as socket errors", async () => {
    const socket = await open();
    socket.send(connect("errors"));
    socket.send(
      addQueries(
        ["errors:boom", {}],
        ["errors:data", {}],
        ["nope:missing", {}],
        ["errors:internalOnly", {}],
        ["messages:list", { channel: 7 }],
      ),
    );
    const t = await socket.next((m) => m.type === "Transition" && m.modifications.length === 5);
    const byId = Object.fromEntries(t.modifications.map((m) => [m.queryId, m]));
    for (const m of t.modifications) assert.equal(m.type, "QueryFailed", JSON.stringify(m));
    assert.match(byId[0].errorMessage, /^\[Request ID: [0-9a-f]+\] Server Error\nUncaught Error: boom/);
    assert.equal("errorData" in byId[0], false, "a plain error has no errorData");
    assert.deepEqual(byId[1].errorData, { code: "NOPE" });
    assert.match(byId[2].errorMessage, /Could not find public function for 'nope:missing'/);
    assert.match(byId[3].errorMessage, /Could not find public function for 'errors:internalOnly'/);
    assert.match(byId[4].errorMessage, /ArgumentValidationError/);
    socket.send({ type: "Mutation", requestId: 0, udfPath: "errors:mutBoom", args: [{}] });
    const failed = await socket.next((m) => m.type === "MutationResponse");
    assert.equal(failed.success, false);
    assert.equal(failed.ts, null);
    assert.match(failed.result, /Uncaught Error: mutation boom/);
    socket.send({ type: "Action", requestId: 1, udfPath: "slow:act", args: [{ ms: 1 }] });
    const action = await socket.next((m) => m.type === "ActionResponse");
    assert.equal(action.success, true);
    assert.equal(typeof action.result, "number");
    assert.equal("ts" in action, false, "ActionResponse carries no ts");
  });

  test("an admin socket may subscribe to internal functions; a bad admin key gets AuthError and a close", async () => {
    const admin = await open();
    admin.send(connect("admin"));
    admin.send({ type: "Authenticate", baseVersion: 0, tokenType: "Admin", value: ADMIN_KEY });
    admin.send(addQueries(["errors:internalOnly", {}]));
    const t = await admin.next((m) => m.type === "Transition" && m.modifications.length === 1);
    assert.equal(t.endVersion.identity, 1);
    assert.deepEqual(t.modifications[0].value, "secret");

    const bad = await open();
    bad.send(connect("bad-admin"));
    bad.send({ type: "Authenticate", baseVersion: 0, tokenType: "Admin", value: "wrong" });
    const error = await bad.next((m) => m.type === "AuthError");
    assert.equal(error.authUpdateAttempted, true);
    assert.equal(error.baseVersion, 0);
    await bad.closed;

    // A user token that is no JWT is refused (this app has no auth providers either), never
    // confirmed; valid tokens are tested in auth.test.mjs.
    const user = await open();
    user.send(connect("user"));
    user.send({ type: "Authenticate", baseVersion: 0, tokenType: "User", value: "header.payload.signature" });
    user.send({ type: "ModifyQuerySet", baseVersion: 0, newVersion: 1, modifications: [] });
    const refused = await user.next((m) => m.type === "AuthError" || m.type === "Transition");
    assert.equal(refused.type, "AuthError");
    assert.equal(refused.authUpdateAttempted, true);
    assert.match(refused.error, /Could not parse JWT payload/);
    await user.closed;
  });

  test("malformed messages and a wrong baseVersion end in FatalError; the server keeps serving", async () => {
    for (const message of ["{not json", JSON.stringify({ type: "Nope" }), JSON.stringify({ type: "ModifyQuerySet", baseVersion: 5, newVersion: 6, modifications: [] })]) {
      const socket = await open();
      socket.send(connect("fatal"));
      socket.send(message);
      const fatal = await socket.next((m) => m.type === "FatalError");
      assert.equal(typeof fatal.error, "string");
      await socket.closed;
    }
    const duplicate = await open();
    duplicate.send(connect("dup"));
    const add = { type: "Add", queryId: 0, udfPath: "messages:list", args: [{ channel: "x" }] };
    duplicate.send({ type: "ModifyQuerySet", baseVersion: 0, newVersion: 1, modifications: [add, add] });
    const closed = await duplicate.closed;
    assert.equal(closed.code, 1011);
    assert.equal(closed.reason, "InternalServerError");

    const healthy = await open();
    healthy.send(connect("after"));
    healthy.send({ type: "ModifyQuerySet", baseVersion: 0, newVersion: 1, modifications: [add] });
    await healthy.next((m) => m.type === "Transition" && m.modifications.length === 1);
  });

  test("a subscribed runaway query fails with its time limit; the socket keeps serving", async () => {
    const socket = await open();
    socket.send(connect("runaway"));
    socket.send(addQueries(["errors:runaway", {}], ["counter:get", { name: "after-runaway" }]));
    const t = await socket.next((m) => m.type === "Transition" && m.modifications.length === 2);
    const runaway = t.modifications.find((m) => m.queryId === 0);
    assert.equal(runaway.type, "QueryFailed");
    assert.match(runaway.errorMessage, /Function execution timed out/);
    assert.equal(t.modifications.find((m) => m.queryId === 1).value, 0);
    const before = socket.messages.length;
    socket.send({ type: "Mutation", requestId: 0, udfPath: "counter:increment", args: [{ name: "after-runaway" }] });
    await socket.next((m) => m.type === "Transition" && m.modifications.some((x) => x.value === 1), before);
  });

  test("an oversized message closes only its own socket (1009); other sockets keep working", async () => {
    const healthy = await open();
    healthy.send(connect("healthy"));
    healthy.send(addQueries(["counter:get", { name: "oversized" }]));
    await healthy.next((m) => m.type === "Transition" && m.modifications.length === 1);
    const big = await open();
    big.send(connect("big"));
    big.send(JSON.stringify({ type: "Event", eventType: "x", event: "x".repeat(65 << 20) }));
    assert.equal((await big.closed).code, 1009);
    const before = healthy.messages.length;
    healthy.send({ type: "Mutation", requestId: 0, udfPath: "counter:increment", args: [{ name: "oversized" }] });
    await healthy.next((m) => m.type === "Transition" && m.modifications.some((x) => x.value === 1), before);
  });

  test("under commits faster than the query, subscribers keep moving and end at the last value", { timeout: 120_000 }, async () => {
    const channel = `churn-${Date.now()}`;
    const body = "z".repeat(2 << 10);
    for (let i = 0; i < 300; i++) await httpMutation("messages:send", { channel, author: "seed", body });
    const writers = 4;
    const each = 60;
    let written = 0;
    const writing = Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        for (let i = 0; i < each; i++) {
          await httpMutation("messages:send", { channel, author: `w${w}`, body: `${i}` });
          written++;
        }
      }),
    );
    // Subscribed before and while the writes go on: a first result computed under commits.
    const subscribers = [];
    for (let i = 0; i < 4; i++) {
      while (written < i * 20) await new Promise((resolve) => setTimeout(resolve, 5));
      const socket = await open();
      socket.send(connect(`churn-${i}`));
      socket.send(addQueries(["messages:count", { channel }], ["messages:list", { channel }]));
      subscribers.push(socket);
    }
    await writing;
    const total = 300 + writers * each;
    for (const socket of subscribers) {
      await socket.next((m) => m.type === "Transition" && m.modifications.some((x) => x.queryId === 0 && x.value === total));
      await socket.next((m) => m.type === "Transition" && m.modifications.some((x) => x.queryId === 1 && x.value.length === total));
      assertChain(socket.transitions());
    }
  });

  test("a client that does not read gets coalesced Transitions, not a backlog", { timeout: 120_000 }, async () => {
    const channel = `slow-${Date.now()}`;
    const body = "y".repeat(400 << 10);
    await httpMutation("messages:send", { channel, author: "big", body });
    await httpMutation("messages:send", { channel, author: "big", body });
    const slow = await open();
    slow.send(connect("slow-reader"));
    slow.send(addQueries(["messages:list", { channel }]));
    await slow.next((m) => m.type === "Transition" && m.modifications.length === 1);
    // A client that reads, subscribed to the same query: once it has a change, every socket's
    // session has been offered it.
    const reader = await open();
    reader.send(connect("fast-reader"));
    reader.send(addQueries(["messages:list", { channel }]));
    await reader.next((m) => m.type === "Transition" && m.modifications.length === 1);
    slow.ws.pause();
    const rssBefore = rssMiB(server.child.pid);
    // Each change makes an 800 KiB result: 150 of them would be 120 MiB queued for the socket.
    const changes = 150;
    for (let i = 0; i < changes; i++) {
      await httpMutation("messages:send", { channel, author: "small", body: `${i}` });
      await reader.next((m) => m.type === "Transition" && m.modifications[0]?.value?.length === i + 3);
      reader.messages.length = 0;
    }
    const grown = rssMiB(server.child.pid) - rssBefore;
    assert.ok(grown < 48, `the server grew by ${grown} MiB for a client that does not read`);
    slow.ws.resume();
    await slow.next(
      (m) => m.type === "Transition" && m.modifications[0]?.value?.length === changes + 2,
      0,
      30_000,
    );
    const received = slow.transitions().length - 1;
    assert.ok(received < changes / 2, `${received} Transitions for ${changes} changes: not coalesced`);
    assertChain(slow.transitions());
  });

  test("a client that leaves 128 MiB unread loses its connection; the server goes on", { timeout: 120_000 }, async () => {
    const healthy = await open();
    healthy.send(connect("healthy-beside-never-reads"));
    healthy.send(addQueries(["counter:get", { name: "never-reads" }]));
    await healthy.next((m) => m.type === "Transition" && m.modifications.length === 1);
    const slow = await open();
    slow.send(connect("never-reads"));
    slow.send({ type: "ModifyQuerySet", baseVersion: 0, newVersion: 1, modifications: [] });
    await slow.next((m) => m.type === "Transition");
    slow.ws.pause();
    const rssBefore = rssMiB(server.child.pid);
    // 160 responses of 1 MiB each: past the 128 MiB a client may leave unread.
    const actions = 160;
    for (let requestId = 0; requestId < actions; requestId++) {
      slow.send({ type: "Action", requestId, udfPath: "slow:blob", args: [{ kib: 1024 }] });
    }
    const deadline = Date.now() + 60_000;
    while (rssMiB(server.child.pid) - rssBefore < 100) {
      assert.ok(Date.now() < deadline, "the responses were never queued");
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // The last actions finish while the queue is dropped.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    slow.ws.resume();
    const closed = await Promise.race([
      slow.closed,
      new Promise((resolve) => setTimeout(() => resolve("still open"), 20_000)),
    ]);
    assert.equal(closed.code, 1006, "the connection is dropped without a close frame");
    const responses = slow.messages.filter((m) => m.type === "ActionResponse").length;
    assert.ok(responses < actions, `${responses} of ${actions} responses arrived`);
    const before = healthy.messages.length;
    healthy.send({ type: "Mutation", requestId: 0, udfPath: "counter:increment", args: [{ name: "never-reads" }] });
    await healthy.next((m) => m.type === "Transition" && m.modifications.some((x) => x.value === 1), before);
  });

  test("an idle socket gets a JSON Ping within 20 s", { timeout: 30_000 }, async () => {
    const socket = await open();
    socket.send(connect("idle"));
    socket.send({ type: "ModifyQuerySet", baseVersion: 0, newVersion: 1, modifications: [] });
    await socket.next((m) => m.type === "Transition");
    const ping = await socket.next((m) => m.type === "Ping", 1, 20_000);
    assert.deepEqual(ping, { type: "Ping" });
    for (const m of socket.messages) assert.ok(["Transition", "Ping"].includes(m.type), JSON.stringify(m));
  });

  test("a mutation whose connection drops before its response commits once; its re-send gets that result", async () => {
    const name = `dropped-${Date.now()}`;
    const args = [{ name, spin: 4_000_000 }];
    const first = await open();
    first.send(connect("dropped-session"));
    first.send({ type: "Mutation", requestId: 3, udfPath: "counter:incrementSlowly", args });
    // The mutation is running (it spins for a few hundred ms) when the connection goes, without
    // a close handshake: it commits, and its response has nowhere to go.
    await new Promise((resolve) => setTimeout(resolve, 50));
    first.ws.terminate();
    const second = await open();
    second.send({ ...connect("dropped-session"), connectionCount: 1, lastCloseReason: "closed with code 1006" });
    second.send({ type: "Mutation", requestId: 3, udfPath: "counter:incrementSlowly", args });
    const resent = await second.next((m) => m.type === "MutationResponse" && m.requestId === 3);
    assert.equal(resent.success, true);
    assert.equal(resent.result, 1, "the first run's result");
    second.send({ type: "Mutation", requestId: 4, udfPath: "counter:increment", args: [{ name }] });
    const next = await second.next((m) => m.type === "MutationResponse" && m.requestId === 4);
    assert.equal(next.result, 2, "the counter was incremented once before");
  });

  test("a mutation over the socket learns who connected (address, user agent) and its request id", async () => {
    const socket = await open(undefined, { headers: { "User-Agent": "raw-socket/1" } });
    socket.send(connect("metadata"));
    socket.send({ type: "Mutation", requestId: 0, udfPath: "other:requestMetadata", args: [{}] });
    const response = await socket.next((m) => m.type === "MutationResponse");
    assert.equal(response.success, true);
    assert.equal(response.result.ip, "127.0.0.1");
    assert.equal(response.result.userAgent, "raw-socket/1");
    assert.ok(response.result.requestId.length > 0);
    assert.equal(response.result.scheduledFunctionId, null);
  });

  test("a re-sent mutation with the same session and request id runs once and keeps its first result", async () => {
    const name = `resend-${Date.now()}`;
    const first = await open();
    first.send(connect("resend-session"));
    first.send({ type: "Mutation", requestId: 5, udfPath: "counter:increment", args: [{ name }] });
    const r1 = await first.next((m) => m.type === "MutationResponse");
    first.close();
    const second = await open();
    second.send({ ...connect("resend-session"), connectionCount: 1 });
    second.send({ type: "Mutation", requestId: 5, udfPath: "counter:increment", args: [{ name }] });
    const r2 = await second.next((m) => m.type === "MutationResponse");
    assert.equal(r2.result, r1.result);
    assert.equal(r2.ts, r1.ts, "the original commit ts");
    second.send(addQueries(["counter:get", { name }]));
    const t = await second.next((m) => m.type === "Transition" && m.modifications.length === 1);
    assert.equal(t.modifications[0].value, 1, "the counter was incremented exactly once");
  });
});
