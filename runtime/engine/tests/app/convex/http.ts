import { httpRouter } from "convex/server";
import { httpAction } from "./_generated/server";
import { api } from "./_generated/api";

const http = httpRouter();

http.route({
  path: "/hello",
  method: "POST",
  handler: httpAction(async (ctx, req) => {
    const body = await req.text();
    const q = await ctx.runQuery(api.limits.ok, {});
    console.log("hello", req.method);
    return new Response(
      JSON.stringify({ method: req.method, url: req.url, body, auth: req.headers.get("authorization"), q }),
      { status: 201, headers: { "content-type": "application/json", "set-cookie": "a=1" } },
    );
  }),
});

http.route({
  pathPrefix: "/files/",
  method: "GET",
  handler: httpAction(async (_ctx, req) => {
    return new Response(new Uint8Array([1, 2, 3]), { headers: { "x-path": new URL(req.url).pathname } });
  }),
});

http.route({
  path: "/boom",
  method: "GET",
  handler: httpAction(async () => {
    throw new Error("http boom");
  }),
});

export default http;
