// The chat-web React page (real React 18, real `ConvexReactClient` from convex@1.49.0) in headless
// Chromium against `emvex dev fixtures/chat-web`: live queries across tabs, optimistic sends,
// paginated history under concurrent inserts, and workpool job statuses.
// Run from the repository root after `npm run build -w fixtures/chat-web`: `node --test tests/browser/`.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { ConvexHttpClient } from "convex/browser";
import { api } from "../../fixtures/chat-web/convex/_generated/api.js";
import {
  APP,
  errorsOf,
  launchBrowser,
  openPage,
  startServer,
  startWeb,
  statesOf,
  stopServer,
  stopWeb,
  waitForState,
} from "./harness.mjs";

describe("chat-web in Chromium against emvex dev", () => {
  let server;
  let web;
  let browser;
  let http;
  const pages = [];

  before(async () => {
    [server, web, browser] = await Promise.all([startServer(APP), startWeb(), launchBrowser()]);
    http = new ConvexHttpClient(server.url, { logger: false });
  });

  after(async () => {
    await browser?.close();
    await Promise.all([stopServer(server), stopWeb(web)]);
  });

  async function open(params) {
    const page = await openPage(browser, web.url, server.url, params);
    pages.push(page);
    await waitForState(page, "chat", (s) => s.messages !== null);
    return page;
  }

  test("two pages see each other's messages", async () => {
    const alice = await open({ channel: "two-tabs", author: "alice" });
    const bob = await open({ channel: "two-tabs", author: "bob" });

    // Alice types into the form and presses Send.
    await alice.getByLabel("message").fill("hello from alice");
    await alice.getByRole("button", { name: "Send" }).click();
    await bob.getByTestId("messages").getByText("hello from alice").waitFor({ timeout: 10_000 });

    await bob.evaluate(() => window.__send("hi alice, bob here"));
    await alice.getByTestId("messages").getByText("hi alice, bob here").waitFor({ timeout: 10_000 });

    for (const page of [alice, bob]) {
      await waitForState(page, "chat", (s) => s.messages.length === 2 && !s.messages.some((m) => m.id.startsWith("optimistic")));
      const [last] = (await statesOf(page, "chat")).slice(-1);
      assert.deepEqual(
        last.messages.map((m) => [m.author, m.body]),
        [
          ["alice", "hello from alice"],
          ["bob", "hi alice, bob here"],
        ],
      );
    }
    assert.deepEqual(errorsOf(pages), []);
  });

  test("an optimistic message shows at once and is replaced by the server's, never both", async () => {
    const channel = "optimistic";
    const page = await open({ channel, author: "opti" });
    const from = (await page.evaluate(() => window.__states.length));

    // Another client writes to the same table in a loop meanwhile.
    let writing = true;
    const writer = (async () => {
      for (let i = 0; writing && i < 200; i++) {
        await http.mutation(api.messages.send, { channel, author: "writer", body: `w${i}` });
      }
    })();

    const bodies = ["opt-1", "opt-2", "opt-3", "opt-4", "opt-5"];
    const ids = [];
    for (const body of bodies) {
      // Send without awaiting, then look at what the page rendered right after the call.
      const [id, seenOptimistic] = await page.evaluate(async (body) => {
        const start = window.__states.length;
        const done = window.__send(body);
        await new Promise((r) => setTimeout(r, 0));
        await new Promise((r) => requestAnimationFrame(() => r()));
        const seen = window.__states
          .slice(start)
          .map((s) => JSON.parse(s))
          .filter((s) => s.kind === "chat" && s.messages)
          .find((s) => s.messages.some((m) => m.body === body));
        return [await done, seen ? seen.messages.find((m) => m.body === body).id : null];
      }, body);
      assert.match(seenOptimistic ?? "", /^optimistic-/, `the first render showing ${body} shows the optimistic row`);
      ids.push(id);
    }
    // Two more sent together, not awaited one by one.
    ids.push(...(await page.evaluate(() => Promise.all([window.__send("opt-6"), window.__send("opt-7")]))));
    bodies.push("opt-6", "opt-7");
    writing = false;
    await writer;

    await waitForState(page, "chat", (s) => s.messages.some((m) => m.body === "opt-7" && !m.id.startsWith("optimistic")) && !s.messages.some((m) => m.id.startsWith("optimistic")));
    // The writer's last rows may reach the page in a later update than opt-7's: wait for the
    // page to show everything the server has.
    const serverIds = (await http.query(api.messages.list, { channel })).map((m) => m._id);
    // (The predicate runs in the page, so the ids go into its source.)
    const expected = JSON.stringify(JSON.stringify(serverIds));
    await waitForState(page, "chat", new Function("s", `return JSON.stringify(s.messages.map((m) => m.id)) === ${expected};`));
    const states = (await statesOf(page, "chat", from)).filter((s) => s.messages);
    bodies.forEach((body, i) => {
      const first = states.findIndex((s) => s.messages.some((m) => m.body === body));
      assert.ok(first >= 0, `${body} was rendered`);
      assert.match(states[first].messages.find((m) => m.body === body).id, /^optimistic-/, `${body} shows optimistically first`);
      states.slice(first).forEach((s, k) => {
        const rows = s.messages.filter((m) => m.body === body);
        assert.ok(rows.length > 0, `${body} never disappears once shown (render ${first + k})`);
        assert.equal(rows.length, 1, `render ${first + k} shows ${body} once, not the optimistic and the real row: ${JSON.stringify(rows)}`);
      });
      const last = states.at(-1).messages.filter((m) => m.body === body);
      assert.deepEqual(last.map((m) => m.id), [ids[i]], `${body} ends as the server's row`);
    });
    // And the server's list has every row once.
    const list = await http.query(api.messages.list, { channel });
    for (const body of bodies) assert.equal(list.filter((m) => m.body === body).length, 1);
    assert.deepEqual(states.at(-1).messages.map((m) => m.id), list.map((m) => m._id));
    assert.deepEqual(errorsOf(pages), []);
  });

  test("load more stays gapless and without duplicates while another page inserts", async () => {
    const channel = "history";
    for (let i = 0; i < 10; i++) {
      await http.mutation(api.messages.send, { channel, author: "seed", body: `seed ${i}` });
    }
    const reader = await open({ channel, author: "reader" });
    const writer = await open({ channel, author: "writer" });
    await waitForState(reader, "history", (s) => s.status === "CanLoadMore");
    const from = await reader.evaluate(() => window.__states.length);

    // The writer page inserts while the reader loads page after page.
    const inserting = writer.evaluate(async () => {
      for (let i = 0; i < 12; i++) {
        await window.__send(`live ${i}`);
        await new Promise((r) => setTimeout(r, 40));
      }
    });
    for (let pagesLoaded = 1; pagesLoaded < 10; pagesLoaded++) {
      const status = (await statesOf(reader, "history")).at(-1).status;
      if (status === "Exhausted") break;
      await waitForState(reader, "history", (s) => s.status !== "LoadingMore" && s.status !== "LoadingFirstPage");
      if (!(await reader.evaluate(() => window.__loadMore()))) continue;
      await new Promise((r) => setTimeout(r, 60));
    }
    await inserting;
    await waitForState(reader, "history", (s) => s.status === "Exhausted");
    const all = await http.query(api.messages.list, { channel });
    assert.equal(all.length, 22);
    const newestFirst = all.map((m) => m._id).reverse();
    await waitForState(reader, "history", new Function(`return (s) => s.ids.length === ${all.length}`)());

    const states = await statesOf(reader, "history", from);
    assert.ok(states.some((s) => s.status === "LoadingMore"), "load more was exercised");
    for (const [k, s] of states.entries()) {
      assert.equal(new Set(s.ids).size, s.ids.length, `render ${k} has no duplicates: ${s.ids}`);
      const at = s.ids.map((id) => newestFirst.indexOf(id));
      assert.ok(!at.includes(-1), `render ${k} shows only real rows`);
      at.forEach((pos, i) => {
        if (i > 0) assert.equal(pos, at[i - 1] + 1, `render ${k} is gapless (rows ${at})`);
      });
    }
    assert.deepEqual(states.at(-1).ids, newestFirst);
    await reader.getByTestId("history").getByText("live 11").waitFor();
    assert.deepEqual(errorsOf(pages), []);
  });

  test("a job's status goes pending → running → finished on screen", async () => {
    const page = await open({ channel: "jobs", author: "jobs" });
    const from = await page.evaluate(() => window.__states.length);
    // The pool runs one job at a time: the second waits, pending, while the first runs.
    const first = await page.evaluate(() => window.__enqueue(1200));
    const second = await page.evaluate(() => window.__enqueue(400));
    await page.locator("li.job-running").first().waitFor({ timeout: 10_000 });
    await page.locator("li.job-pending").first().waitFor({ timeout: 10_000 });
    await waitForState(page, "jobs", (s) => s.jobs && s.jobs.length >= 2 && s.jobs.every((j) => j.status === "finished"), 15_000);
    assert.equal(await page.locator("li.job-finished").count(), 2);

    const states = (await statesOf(page, "jobs", from)).filter((s) => s.jobs);
    const seen = (id) => {
      const statuses = states.map((s) => s.jobs.find((j) => j.id === id)?.status).filter(Boolean);
      return statuses.filter((st, i) => i === 0 || statuses[i - 1] !== st);
    };
    assert.deepEqual(seen(second), ["pending", "running", "finished"]);
    const firstSeen = seen(first);
    assert.deepEqual(firstSeen.slice(-2), ["running", "finished"]);
    assert.ok(firstSeen.length === 2 || firstSeen[0] === "pending", `first job: ${firstSeen}`);
    assert.deepEqual(errorsOf(pages), []);
  });
});
