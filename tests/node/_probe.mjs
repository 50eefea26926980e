import WebSocket from "ws";
import { ConvexClient } from "convex/browser";
import { startServer, stopServer } from "./server.mjs";
const server = await startServer("fixtures/workpool-ts");
const c = new ConvexClient(server.url, { webSocketConstructor: WebSocket, logger: false });
const ids = await c.mutation("bench:enqueueTrivialBatchIds", { run: "w", n: 50 });
const t0 = Date.now();
await new Promise((resolve) => {
  const timer = setTimeout(resolve, 8000);
  c.onUpdate("bench:statusBatch", { ids }, (v) => {
    const counts = {}; for (const s of v) counts[s.state] = (counts[s.state] ?? 0) + 1;
    console.log(Date.now() - t0, JSON.stringify(counts));
    if (v.every((s) => s.state === "finished")) { clearTimeout(timer); resolve(); }
  }, (e) => console.log("ERR", e.message));
});
await c.close();
await stopServer(server);
