// Auth with the real clients (convex@1.49.0) against `emvex dev` on fixtures/auth: tokens are
// signed here (node:crypto keys made here, RS256 and ES256), the RS256 key set is a `data:` URI
// and the ES256 one is served by this test. ConvexHttpClient.setAuth / setAdminAuth over HTTP,
// ConvexClient.setAuth / clearAuth / setAdminAuth over the WebSocket, and the bad paths.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { generateKeyPairSync, sign as cryptoSign } from "node:crypto";
import WebSocket from "ws";

import { ConvexClient, ConvexHttpClient } from "convex/browser";
import { api } from "../../fixtures/auth/convex/_generated/api.js";
import { ADMIN_KEY, startServer, stopServer } from "./server.mjs";

const RS_ISSUER = "https://auth.emvex.test";
const AUDIENCE = "emvex-tests";

const b64url = (data) => Buffer.from(data).toString("base64url");

/** A signing key of `alg` ("RS256" | "ES256") with its public JWK. */
function makeKey(alg, kid) {
  const { publicKey, privateKey } =
    alg === "RS256"
      ? generateKeyPairSync("rsa", { modulusLength: 2048 })
      : generateKeyPairSync("ec", { namedCurve: "P-256" });
  const jwk = { ...publicKey.export({ format: "jwk" }), kid, alg, use: "sig" };
  return {
    jwk,
    sign(claims) {
      const header = b64url(JSON.stringify({ alg, typ: "JWT", kid }));
      const payload = b64url(JSON.stringify(claims));
      const input = Buffer.from(`${header}.${payload}`);
      const signature =
        alg === "RS256"
          ? cryptoSign("sha256", input, privateKey)
          : cryptoSign("sha256", input, { key: privateKey, dsaEncoding: "ieee-p1363" });
      return `${header}.${payload}.${b64url(signature)}`;
    },
  };
}

const nowS = () => Math.floor(Date.now() / 1000);

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

describe("auth through the real clients", () => {
  let server;
  let jwksServer;
  let esIssuer;
  const rs = makeKey("RS256", "rs-1");
  const es = makeKey("ES256", "es-1");
  const forger = makeKey("RS256", "rs-1");
  const clients = [];

  const userToken = (sub, extra = {}) =>
    rs.sign({ iss: RS_ISSUER, sub, aud: AUDIENCE, iat: nowS(), exp: nowS() + 600, ...extra });

  before(async () => {
    jwksServer = createServer((req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ keys: [es.jwk] }));
    });
    await new Promise((resolve) => jwksServer.listen(0, "127.0.0.1", resolve));
    esIssuer = `http://127.0.0.1:${jwksServer.address().port}`;
    const rsJwks = `data:text/plain;charset=utf-8;base64,${Buffer.from(JSON.stringify({ keys: [rs.jwk] })).toString("base64")}`;
    server = await startServer("fixtures/auth", {
      extraArgs: [
        "--env", `AUTH_RS_ISSUER=${RS_ISSUER}`,
        "--env", `AUTH_RS_JWKS=${rsJwks}`,
        "--env", `AUTH_ES_ISSUER=${esIssuer}`,
        "--env", `AUTH_ES_JWKS=${esIssuer}/jwks.json`,
      ],
    });
  });

  after(async () => {
    for (const c of clients) await c.close();
    await stopServer(server);
    jwksServer.close();
  });

  function wsClient() {
    const c = new ConvexClient(server.url, { webSocketConstructor: WebSocket, logger: false });
    clients.push(c);
    return c;
  }

  test("ConvexHttpClient.setAuth gives functions the token's identity (RS256 and ES256)", async () => {
    const http = new ConvexHttpClient(server.url);
    assert.equal(await http.query(api.identity.whoami, {}), null);
    http.setAuth(userToken("alice", { email: "alice@example.com", roles: ["admin"] }));
    const alice = await http.query(api.identity.whoami, {});
    assert.deepEqual(alice, {
      tokenIdentifier: `${RS_ISSUER}|alice`,
      issuer: RS_ISSUER,
      subject: "alice",
      email: "alice@example.com",
      roles: ["admin"],
    });
    const nested = await http.action(api.identity.whoamiAction, {});
    assert.equal(nested.own.subject, "alice");
    assert.equal(nested.viaMutation.subject, "alice");
    assert.equal(nested.inComponent, null);

    http.setAuth(es.sign({ iss: esIssuer, sub: "bob", iat: nowS(), exp: nowS() + 60 }));
    assert.equal((await http.mutation(api.identity.whoamiMutation, {})).tokenIdentifier, `${esIssuer}|bob`);
  });

  test("ConvexHttpClient: bad tokens are refused with Convex's errors, not run anonymously", async () => {
    const http = new ConvexHttpClient(server.url);
    const refused = async (token, text) => {
      http.setAuth(token);
      await assert.rejects(http.query(api.identity.whoami, {}), (e) => {
        assert.match(e.message, text);
        return true;
      });
    };
    await refused(forger.sign({ iss: RS_ISSUER, sub: "eve", aud: AUDIENCE, iat: nowS(), exp: nowS() + 60 }), /InvalidAuthHeader.*'kid'/);
    await refused(rs.sign({ iss: "https://evil.test", sub: "eve", aud: AUDIENCE, iat: nowS(), exp: nowS() + 60 }), /NoAuthProvider/);
    await refused(rs.sign({ iss: RS_ISSUER, sub: "eve", aud: "other", iat: nowS(), exp: nowS() + 60 }), /NoAuthProvider/);
    await refused(rs.sign({ iss: RS_ISSUER, sub: "eve", aud: AUDIENCE, iat: nowS() - 600, exp: nowS() - 60 }), /Token expired/);
    await refused("garbage", /Could not parse JWT payload/);
  });

  test("ConvexHttpClient.setAdminAuth(key, identity) acts as that identity", async () => {
    const http = new ConvexHttpClient(server.url);
    http.setAdminAuth(ADMIN_KEY, { subject: "carol", issuer: "https://ids.test", name: "Carol" });
    assert.deepEqual(await http.query(api.identity.whoami, {}), {
      tokenIdentifier: "https://ids.test|carol",
      subject: "carol",
      issuer: "https://ids.test",
      name: "Carol",
    });
  });

  test("ConvexClient.setAuth over the WebSocket: confirmed, switched, cleared; other queries unaffected", async () => {
    const client = wsClient();
    let token = userToken("alice");
    const changes = [];
    const confirmed = new Promise((resolve) =>
      client.setAuth(
        async () => token,
        (isAuthenticated) => {
          changes.push(isAuthenticated);
          if (isAuthenticated) resolve();
        },
      ),
    );
    const alice = await waitFor(client, api.identity.whoami, {}, (v) => v?.subject === "alice");
    await confirmed;
    assert.equal(alice.tokenIdentifier, `${RS_ISSUER}|alice`);
    assert.equal(await client.query(api.identity.constant, {}), "same for everyone");
    assert.equal((await client.mutation(api.identity.whoamiMutation, {})).subject, "alice");

    token = userToken("bob");
    client.setAuth(async () => token);
    await waitFor(client, api.identity.whoami, {}, (v) => v?.subject === "bob");
    client.client.clearAuth();
    await waitFor(client, api.identity.whoami, {}, (v) => v === null);
  });

  test("ConvexClient: a token with a bad signature is refused (onChange(false)), the client goes on anonymous", async () => {
    const client = wsClient();
    const bad = forger.sign({ iss: RS_ISSUER, sub: "eve", aud: AUDIENCE, iat: nowS(), exp: nowS() + 600 });
    const refused = new Promise((resolve) => client.setAuth(async () => bad, (ok) => ok || resolve()));
    await refused;
    assert.equal(await client.query(api.identity.whoami, {}), null);
  });

  test("ConvexClient: a token that expires while connected is refreshed after the server's AuthError", async () => {
    const client = wsClient();
    let fetches = 0;
    const fetchToken = async ({ forceRefreshToken }) => {
      fetches += 1;
      // The client fetches twice on setAuth (then with forceRefreshToken): those tokens live
      // 4 s, later ones 10 minutes.
      const life = fetches <= 2 ? 4 : 600;
      return rs.sign({ iss: RS_ISSUER, sub: "alice", aud: AUDIENCE, iat: nowS(), exp: nowS() + life, n: fetches, forced: forceRefreshToken });
    };
    await new Promise((resolve) => client.setAuth(fetchToken, (ok) => ok && resolve()));
    const before = fetches;
    await new Promise((r) => setTimeout(r, 5_000));
    const identity = await client.mutation(api.identity.whoamiMutation, {});
    assert.equal(identity.subject, "alice");
    assert.ok(fetches > before, `the client fetched a new token (${before} → ${fetches})`);
    assert.ok(identity.n > 2, `the mutation ran with a refreshed token: ${JSON.stringify(identity)}`);
  });

  test("ConvexClient.setAdminAuth(key, identity) over the WebSocket", async () => {
    const client = wsClient();
    client.setAdminAuth(ADMIN_KEY, { tokenIdentifier: "https://ids.test|dave", subject: "dave", issuer: "https://ids.test" });
    const dave = await waitFor(client, api.identity.whoami, {}, (v) => v?.subject === "dave");
    assert.equal(dave.tokenIdentifier, "https://ids.test|dave");
  });
});
