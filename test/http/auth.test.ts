// With --token, the HTTP API asks for it as every binary connection does (HELLO): a request
// without `Authorization: Bearer <token>` gets 401 and runs nothing; /health stays open.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { HttpApi } from "../../src/http/server.ts";
import { registerCoreCommands } from "../../src/node/core-commands.ts";
import { CommandRegistry } from "../../src/server/registry.ts";
import { silentLogger } from "../../src/util/log.ts";

const TOKEN = "s3cret";
let api: HttpApi;
let statusCalls = 0;
let base = "";

beforeAll(() => {
  const registry = new CommandRegistry();
  registerCoreCommands(registry, {
    nodeId: "n1",
    token: TOKEN,
    clusterSecret: null,
    status: () => {
      statusCalls++;
      return { node: "n1", role: "leader", term: 3, leader: "n1", commitIndex: 7, appliedIndex: 7, members: [] };
    },
  });
  api = new HttpApi({ host: "127.0.0.1", port: 0, registry, token: TOKEN, log: silentLogger });
  api.start();
  base = `http://127.0.0.1:${api.port}`;
});
afterAll(() => api.stop());

test("no token, a wrong token or another scheme: 401 and nothing ran", async () => {
  const attempts: Record<string, string>[] = [{}, { authorization: "Bearer nope" }, { authorization: `Basic ${TOKEN}` }];
  for (const headers of attempts) {
    const response = await fetch(`${base}/status`, { headers });
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toBe("Bearer");
    expect(await response.json()).toMatchObject({ error: "UNAUTHORIZED" });
  }
  expect(statusCalls).toBe(0);
});

test("the right token: served", async () => {
  const response = await fetch(`${base}/status`, { headers: { authorization: `Bearer ${TOKEN}` } });
  expect(response.status).toBe(200);
  expect(await response.json()).toMatchObject({ node: "n1", state: "leader", current_term: 3 });
  expect(statusCalls).toBe(1);
});

test("/health needs no token", async () => {
  const response = await fetch(`${base}/health`);
  expect([200, 503]).toContain(response.status);
});
