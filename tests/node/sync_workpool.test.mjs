// Live workpool status over the sync protocol: a `ConvexClient` subscribed to a query that
// calls `pool.status(workId)` sees pending → running → finished as the work runs, without
// polling — on the native workpool and on the npm package's TypeScript implementation, through
// both `Workpool` client classes.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";

import { ConvexClient } from "convex/browser";
import { api } from "../../fixtures/workpool/convex/_generated/api.js";
import { api as benchApi } from "../../fixtures/workpool-ts/convex/_generated/api.js";
import { startServer, stopServer } from "./server.mjs";

for (const implementation of ["native", "ts"]) {
  describe(`live workpool status (--workpool-impl ${implementation})`, () => {
    let server;
    let client;

    before(async () => {
      server = await startServer("fixtures/workpool", { extraArgs: ["--workpool-impl", implementation] });
      client = new ConvexClient(server.url, { webSocketConstructor: WebSocket, logger: false });
    });

    after(async () => {
      await client.close();
      await stopServer(server);
    });

    for (const which of ["upstream", "emvex"]) {
      test(`a job's status moves pending → running → finished (${which} client)`, async () => {
        const args = { client: which, pool: "emailWorkpool" };
        // A delayed start makes the pending state last long enough to be seen.
        const workId = await client.mutation(api.example.enqueueAction, {
          ...args,
          key: `live-${implementation}-${which}`,
          behavior: { kind: "sleep", ms: 600, group: "live", value: "done" },
          runAfter: 300,
        });
        const states = [];
        await new Promise((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`states so far: ${JSON.stringify(states)}`)), 20_000);
          const unsubscribe = client.onUpdate(
            api.example.status,
            { ...args, id: workId },
            (status) => {
              if (states.at(-1) !== status.state) states.push(status.state);
              if (status.state === "finished") {
                clearTimeout(timer);
                unsubscribe();
                resolve();
              }
            },
            (e) => reject(e),
          );
        });
        assert.deepEqual(states, ["pending", "running", "finished"]);
      });
    }
  });
}

// A batch watched through one subscription that starts while the batch runs: its first result
// is computed under a stream of commits (each finished job is one), which must not leave the
// subscription behind once the commits stop.
for (const implementation of ["native", "ts"]) {
  describe(`a running batch watched by one statusBatch subscription (--workpool-impl ${implementation})`, () => {
    let server;
    let client;

    before(async () => {
      server = await startServer("fixtures/workpool-ts", { extraArgs: ["--workpool-impl", implementation] });
      client = new ConvexClient(server.url, { webSocketConstructor: WebSocket, logger: false });
    });

    after(async () => {
      await client.close();
      await stopServer(server);
    });

    test("the subscriber sees every job finished", { timeout: 60_000 }, async () => {
      const ids = await client.mutation(benchApi.bench.enqueueTrivialBatchIds, { run: "watched", n: 500 });
      let last = [];
      await new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          const states = last.map((s) => s.state);
          const finished = states.filter((s) => s === "finished").length;
          reject(new Error(`after 30 s the subscriber saw ${finished} of ${ids.length} finished`));
        }, 30_000);
        const unsubscribe = client.onUpdate(
          benchApi.bench.statusBatch,
          { ids },
          (statuses) => {
            last = statuses;
            if (statuses.every((s) => s.state === "finished")) {
              clearTimeout(timer);
              unsubscribe();
              resolve();
            }
          },
          (e) => reject(e),
        );
      });
    });
  });
}
