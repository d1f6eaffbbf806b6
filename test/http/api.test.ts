// The HTTP API over real HTTP against an in-process 3-node cluster: every endpoint and status
// code of issue 8's table, locks shared with the binary protocol both ways, refusals that change
// nothing, keep-alive under concurrency, /metrics as Prometheus text, and /openapi.json checked
// against every answer these tests observed.
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { SinkronClient } from "../../src/client/index.ts";
import { TestCluster } from "../helpers/cluster.ts";
import { HTTP_BODY_BYTES_MAX } from "../../src/http/body.ts";

const TEST_TIMEOUT_MS = 20_000;

let cluster: TestCluster;
let client: SinkronClient;
/** (method path-template status) of every answer seen, checked against the OpenAPI document at the end. */
const observed = new Set<string>();
let seq = 0;
const fresh = (label: string) => `${label}-${Date.now().toString(36)}-${seq++}`;

function base(id = "n1"): string {
  return `http://127.0.0.1:${cluster.nodes.get(id)!.httpPort}`;
}

function template(path: string): string {
  const p = path.split("?")[0]!;
  return p.startsWith("/read/") ? "/read/{key}" : p;
}

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}, id = "n1"): Promise<{ status: number; json: any; text: string; headers: Headers }> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = typeof body === "string" ? body : JSON.stringify(body);
    (init.headers as Record<string, string>)["content-type"] = "application/json";
  }
  const response = await fetch(base(id) + path, init);
  const text = await response.text();
  let json: any = null;
  try {
    json = text === "" ? null : JSON.parse(text);
  } catch {}
  observed.add(`${method} ${template(path)} ${response.status}`);
  return { status: response.status, json, text, headers: response.headers };
}

const post = (path: string, body?: unknown, id?: string) => call("POST", path, body, {}, id);
const get = (path: string, headers: Record<string, string> = {}, id?: string) => call("GET", path, undefined, headers, id);

beforeAll(async () => {
  cluster = await TestCluster.start(3, {}, 0, { http: { host: "127.0.0.1", port: 0 } });
  await cluster.settled();
  client = await cluster.client("n2");
}, TEST_TIMEOUT_MS);

afterAll(async () => {
  await cluster?.stop();
});

test("GET /status reports the node's Raft view", async () => {
  const { status, json } = await get("/status");
  expect(status).toBe(200);
  expect(json.node).toBe("n1");
  expect(["leader", "follower", "candidate"]).toContain(json.state);
  expect(json.current_term).toBeGreaterThan(0);
  expect(json.leader).toBe(cluster.leaderId());
  expect(json.commit_index).toBeGreaterThan(0);
  expect(json.members.map((m: { id: string }) => m.id).sort()).toEqual(["n1", "n2", "n3"]);
});

test("GET /health is 200 while a leader is known, 503 on a node cut off from its cluster", async () => {
  for (const id of ["n1", "n2", "n3"]) expect((await get("/health", {}, id)).status).toBe(200);
  const other = await TestCluster.start(3, {}, 0, { http: { host: "127.0.0.1", port: 0 } });
  try {
    const leader = other.leaderId()!;
    const survivor = [...other.nodes.keys()].find((id) => id !== leader)!;
    for (const id of [...other.nodes.keys()]) if (id !== survivor) await other.stopNode(id);
    const node = other.nodes.get(survivor)!;
    await other.waitFor(() => node.status().leader === null, 5000, "the survivor to lose its leader");
    const response = await fetch(`http://127.0.0.1:${node.httpPort}/health`);
    observed.add(`GET /health ${response.status}`);
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ error: "UNAVAILABLE" });
    const status: any = await (await fetch(`http://127.0.0.1:${node.httpPort}/status`)).json();
    expect(status.leader).toBeNull();
    expect(["follower", "candidate"]).toContain(status.state);
  } finally {
    await other.stop();
  }
}, TEST_TIMEOUT_MS);

test("POST /lock: grant, contention timeout 408, release 202, release of a lock not held 404", async () => {
  const name = fresh("lock");
  const granted = await post("/lock", { action: "ACQUIRE_EXCLUSIVE", lock_name: name, client_id: "alice", timeout_ms: 1000 });
  expect(granted.status).toBe(202);
  expect(granted.json).toEqual({ status: "granted", lock_name: name, mode: "exclusive", token: expect.any(Number) });
  const blocked = await post("/lock", { action: "ACQUIRE_SHARED", lock_name: name, client_id: "bob", timeout_ms: 100 }, "n3");
  expect(blocked.status).toBe(408);
  expect(blocked.json.error).toBe("TIMEOUT");
  expect((await post("/lock", { action: "RELEASE", lock_name: name, client_id: "alice" })).json).toEqual({ status: "released" });
  const again = await post("/lock", { action: "RELEASE", lock_name: name, client_id: "alice" });
  expect(again.status).toBe(404);
  expect(again.json.error).toBe("NOT_FOUND");
  const shared = await post("/lock", { action: "ACQUIRE_SHARED", lock_name: name, client_id: "bob", timeout_ms: 0, ttl_ms: 5000 }, "n2");
  expect(shared.status).toBe(202);
  expect(shared.json.mode).toBe("shared");
  expect(shared.json.token).toBeGreaterThan(granted.json.token);
}, TEST_TIMEOUT_MS);

test("POST /lock: a deadlock is 423 with the cycle in the body", async () => {
  const [a, b] = [fresh("dl-a"), fresh("dl-b")];
  await post("/lock", { action: "ACQUIRE_EXCLUSIVE", lock_name: a, client_id: "p1" });
  await post("/lock", { action: "ACQUIRE_EXCLUSIVE", lock_name: b, client_id: "p2" });
  const waiting = post("/lock", { action: "ACQUIRE_EXCLUSIVE", lock_name: b, client_id: "p1", timeout_ms: 5000 });
  await cluster.waitFor(() => (cluster.nodes.get(cluster.leaderId()!)!.status().locks as { waiters: number }).waiters > 0, 3000, "p1 waiting");
  const refused = await post("/lock", { action: "ACQUIRE_EXCLUSIVE", lock_name: a, client_id: "p2", timeout_ms: 5000 }, "n2");
  expect(refused.status).toBe(423);
  expect(refused.json.error).toBe("DEADLOCK");
  expect(refused.json.message).toContain("cycle");
  expect(Array.isArray(refused.json.cycle)).toBe(true);
  await post("/lock", { action: "RELEASE", lock_name: b, client_id: "p2" });
  expect((await waiting).status).toBe(202);
}, TEST_TIMEOUT_MS);

test("a lock held via HTTP is held over the binary protocol, and the other way round", async () => {
  const name = fresh("both");
  await post("/lock", { action: "ACQUIRE_EXCLUSIVE", lock_name: name, client_id: "http-holder" }, "n3");
  const info = await client.lock.info({ name });
  expect(info.holders.map((h) => [h.owner, h.mode])).toEqual([["http-holder", "exclusive"]]);
  // waitMs > 0: a try-lock (0) refused on a follower comes back UNAVAILABLE "outcome unknown" (LockService).
  await expect(client.lock.acquire({ name, mode: "shared", owner: "tcp", waitMs: 50 })).rejects.toMatchObject({ code: "TIMEOUT" });
  await post("/lock", { action: "RELEASE", lock_name: name, client_id: "http-holder" });

  const other = fresh("both");
  await client.lock.acquire({ name: other, mode: "exclusive", owner: "tcp-holder" });
  const refused = await post("/lock", { action: "ACQUIRE_EXCLUSIVE", lock_name: other, client_id: "http", timeout_ms: 50 });
  expect(refused.status).toBe(408);
  // The binary client's hold is released over HTTP by naming its owner: one lock table.
  expect((await post("/lock", { action: "RELEASE", lock_name: other, client_id: "tcp-holder" })).status).toBe(202);
  expect((await client.lock.info({ name: other })).holders).toEqual([]);
}, TEST_TIMEOUT_MS);

test("POST /lock refuses bad input with 400 and changes nothing", async () => {
  const name = fresh("bad");
  for (const body of [
    { action: "STEAL", lock_name: name, client_id: "x" },
    { action: "ACQUIRE_EXCLUSIVE", client_id: "x" },
    { action: "ACQUIRE_EXCLUSIVE", lock_name: name },
    { action: "ACQUIRE_EXCLUSIVE", lock_name: name, client_id: "x", timeout_ms: -1 },
    { action: "ACQUIRE_EXCLUSIVE", lock_name: name, client_id: "x", ttl_ms: "soon" },
    { action: "ACQUIRE_EXCLUSIVE", lock_name: 7, client_id: "x" },
  ]) {
    const refused = await post("/lock", body);
    expect(refused.status).toBe(400);
    expect(refused.json.error).toBe("BAD_REQUEST");
    expect(typeof refused.json.message).toBe("string");
    // The refusal names the HTTP field, not the command's argument.
    expect(refused.json.message).not.toMatch(/'(name|owner|waitMs|ttlMs)'/);
  }
  expect((await client.lock.info({ name })).holders).toEqual([]);
}, TEST_TIMEOUT_MS);

test("queue: produce, consume, ack; 204 when empty; 404 for an unknown id", async () => {
  const queue = fresh("q");
  const produced = await post("/produce", { message: "hello", queue });
  expect(produced.status).toBe(200);
  expect(produced.json).toEqual({ status: "ok", msg_id: expect.any(String) });
  const consumed = await get(`/consume?queue=${queue}&visibility_ms=60000&wait_ms=2000`, {}, "n2");
  expect(consumed.status).toBe(200);
  expect(consumed.json).toEqual({ msg_id: produced.json.msg_id, message: "hello", deliveries: 1 });
  expect((await get(`/consume?queue=${queue}`)).status).toBe(204);
  expect((await post("/ack", { msg_id: consumed.json.msg_id, queue }, "n3")).json).toEqual({ status: "ok" });
  const twice = await post("/ack", { msg_id: consumed.json.msg_id, queue });
  expect(twice.status).toBe(404);
  expect(twice.json.error).toBe("NOT_FOUND");
}, TEST_TIMEOUT_MS);

test("queue: the default queue, keys, JSON messages, redelivery after visibility_ms", async () => {
  const produced = await post("/produce", { message: { n: 1 }, key: "k1" });
  expect(produced.status).toBe(200);
  const first = await get("/consume?visibility_ms=100&wait_ms=2000");
  expect(first.json).toMatchObject({ msg_id: produced.json.msg_id, message: '{"n":1}', deliveries: 1 });
  const second = await get("/consume?wait_ms=3000&visibility_ms=60000");
  expect(second.json).toMatchObject({ msg_id: produced.json.msg_id, deliveries: 2 });
  expect((await post("/ack", { msg_id: second.json.msg_id })).status).toBe(200);
}, TEST_TIMEOUT_MS);

test("queue: bad input is 400", async () => {
  expect((await post("/produce", { queue: "q" })).status).toBe(400);
  expect((await post("/produce", { message: "m", queue: "" })).status).toBe(400);
  expect((await get("/consume?wait_ms=soon")).status).toBe(400);
  expect((await get("/consume?visibility_ms=-5")).status).toBe(400);
  expect((await post("/ack", {})).status).toBe(400);
}, TEST_TIMEOUT_MS);

test("cache: write, read from another node, invalidate, 404 for a missing key", async () => {
  const key = fresh("k");
  expect((await post("/write", { key, value: { a: [1, 2] } })).json).toEqual({ status: "ok" });
  const read = await get(`/read/${key}`, {}, "n2");
  expect(read.status).toBe(200);
  expect(read.json).toEqual({ key, value: { a: [1, 2] }, source: "store" });
  expect((await get(`/read/${key}`, {}, "n2")).json.source).toBe("cache");
  expect((await post("/invalidate", { key }, "n2")).json).toEqual({ invalidated: 1 });
  expect((await post("/invalidate", undefined, "n2")).json).toEqual({ invalidated: expect.any(Number) });
  const missing = await get(`/read/${fresh("missing")}`);
  expect(missing.status).toBe(404);
  expect(missing.json.error).toBe("NOT_FOUND");
  const slashy = `a/b c/${fresh("d")}`;
  await post("/write", { key: slashy, value: "v" });
  expect((await get(`/read/${encodeURIComponent(slashy)}`)).json).toMatchObject({ key: slashy, value: "v" });
  expect((await post("/write", { key })).status).toBe(400);
}, TEST_TIMEOUT_MS);

test("404 unknown path, 405 wrong method with Allow, 400 malformed JSON, 413 a body over the limit: nothing changes", async () => {
  const key = fresh("refused");
  const unknown = await get("/nowhere");
  expect(unknown.status).toBe(404);
  expect(unknown.json.error).toBe("NOT_FOUND");
  const wrong = await get("/lock");
  expect(wrong.status).toBe(405);
  expect(wrong.headers.get("allow")).toBe("POST");
  expect(wrong.json.error).toBe("BAD_REQUEST");
  expect((await post("/status")).headers.get("allow")).toBe("GET");
  const malformed = await post("/write", `{"key": "${key}", "value": `);
  expect(malformed.status).toBe(400);
  expect(malformed.json).toMatchObject({ error: "BAD_REQUEST", message: expect.stringContaining("JSON") });
  expect((await post("/write", "[1,2]")).status).toBe(400);
  const huge = await post("/write", { key, value: "x".repeat(3 * 1024 * 1024) });
  expect(huge.status).toBe(413);
  expect(huge.json.error).toBe("TOO_LARGE");
  expect((await get(`/read/${key}`)).status).toBe(404);
}, TEST_TIMEOUT_MS);

test("the body limit at its edge: exactly HTTP_BODY_BYTES_MAX is read, one byte more is 413, chunked too", async () => {
  const key = fresh("edge");
  const head = JSON.stringify({ key, value: "v" });
  const exact = head + " ".repeat(HTTP_BODY_BYTES_MAX - head.length);
  expect((await post("/write", exact)).status).toBe(200);
  const over = await post("/write", JSON.stringify({ key, value: "w" }) + " ".repeat(HTTP_BODY_BYTES_MAX - head.length + 1));
  expect(over.status).toBe(413);
  // No Content-Length: the stream is cut at the limit, not buffered whole.
  const chunk = new TextEncoder().encode(" ".repeat(64 * 1024));
  let sent = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent === 0) controller.enqueue(new TextEncoder().encode(JSON.stringify({ key, value: "chunked" })));
      if (sent > HTTP_BODY_BYTES_MAX * 2) return controller.close();
      controller.enqueue(chunk);
      sent += chunk.byteLength;
    },
  });
  const response = await fetch(base() + "/write", { method: "POST", body: stream, headers: { "content-type": "application/json" } });
  observed.add(`POST /write ${response.status}`);
  expect(response.status).toBe(413);
  expect((await get(`/read/${key}`)).json.value).toBe("v");
}, TEST_TIMEOUT_MS);

test("keep-alive: 10 users × 50 sequential requests each, all answered", async () => {
  const key = fresh("ka");
  await post("/write", { key, value: 1 });
  const user = async (u: number) => {
    const statuses: number[] = [];
    for (let i = 0; i < 50; i++) {
      const r = await fetch(base(["n1", "n2", "n3"][u % 3]) + (i % 2 === 0 ? "/status" : `/read/${key}`));
      await r.arrayBuffer();
      statuses.push(r.status);
    }
    return statuses;
  };
  const all = (await Promise.all(Array.from({ length: 10 }, (_, u) => user(u)))).flat();
  expect(all.length).toBe(500);
  expect(all.every((s) => s === 200)).toBe(true);
}, TEST_TIMEOUT_MS);

test("a burst of 500 concurrent requests is all answered", async () => {
  const key = fresh("burst");
  await post("/write", { key, value: 1 });
  const startMs = performance.now();
  const statuses = await Promise.all(Array.from({ length: 500 }, (_, i) => {
    const path = i % 2 === 0 ? "/status" : `/read/${key}`;
    return fetch(base(["n1", "n2", "n3"][i % 3]) + path, { keepalive: true }).then(async (r) => (await r.arrayBuffer(), r.status));
  }));
  expect(statuses.every((s) => s === 200)).toBe(true);
  expect(performance.now() - startMs).toBeLessThan(10_000);
}, TEST_TIMEOUT_MS);

test("GET /metrics: Prometheus text for a scraper, the original JSON otherwise", async () => {
  const key = fresh("m");
  await post("/write", { key, value: 1 });
  await get(`/read/${key}`);
  const asJson = await get("/metrics");
  expect(asJson.status).toBe(200);
  const { cache_hits, cache_misses, writes, invalidations } = asJson.json;
  for (const n of [cache_hits, cache_misses, writes, invalidations]) expect(typeof n).toBe("number");
  expect(writes).toBeGreaterThan(0);

  const scraped = await get("/metrics", { accept: "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5" });
  expect(scraped.headers.get("content-type")).toStartWith("text/plain");
  const help = new Set<string>();
  const types = new Map<string, string>();
  const sampled = new Map<string, number>();
  for (const line of scraped.text.trimEnd().split("\n")) {
    let m: RegExpExecArray | null;
    if ((m = /^# HELP (sinkron_[a-z_]+) .+$/.exec(line))) help.add(m[1]!);
    else if ((m = /^# TYPE (sinkron_[a-z_]+) (gauge|counter|histogram)$/.exec(line))) types.set(m[1]!, m[2]!);
    else {
      m = /^(sinkron_[a-z_]+)(\{[a-z_]+="[^"\\]*"(,[a-z_]+="[^"\\]*")*\})? (-?[0-9.e+-]+)$/.exec(line);
      expect(m, `a sample line: ${line}`).not.toBeNull();
      const family = m![1]!.replace(/_(bucket|sum|count)$/, (suffix) => (types.has(m![1]!) ? suffix : ""));
      expect(types.has(family), `TYPE before ${line}`).toBe(true);
      sampled.set(m![1]!, Number(m![4]));
    }
  }
  for (const name of types.keys()) expect(help.has(name), `HELP for ${name}`).toBe(true);
  for (const name of ["sinkron_raft_term", "sinkron_raft_role", "sinkron_raft_commit_index", "sinkron_raft_applied_index", "sinkron_cache_hits_total", "sinkron_cache_misses_total", "sinkron_cache_writes_total", "sinkron_cache_invalidations_total", "sinkron_cache_evictions_total", "sinkron_cache_entries", "sinkron_cache_bytes", "sinkron_locks_held", "sinkron_locks_waiting", "sinkron_lock_grants_total", "sinkron_lock_timeouts_total", "sinkron_lock_deadlocks_total", "sinkron_server_connections", "sinkron_server_requests_total", "sinkron_http_requests_total", "sinkron_http_request_duration_seconds"]) {
    expect(types.has(name), name).toBe(true);
  }
  const status = cluster.nodes.get("n1")!.status();
  expect(sampled.get("sinkron_raft_term")).toBe(status.term);
  expect(sampled.get("sinkron_cache_writes_total")).toBe(writes);
}, TEST_TIMEOUT_MS);

test("GET /openapi.json is OpenAPI 3.1 and describes every answer these tests observed", async () => {
  const { status, json: doc } = await get("/openapi.json");
  expect(status).toBe(200);
  expect(doc.openapi).toBe("3.1.0");
  expect(typeof doc.info.title).toBe("string");
  expect(typeof doc.info.version).toBe("string");
  for (const [path, item] of Object.entries<Record<string, { responses: Record<string, unknown> }>>(doc.paths)) {
    expect(path.startsWith("/")).toBe(true);
    for (const op of Object.values(item)) for (const code of Object.keys(op.responses)) expect(code).toMatch(/^[1-5]\d\d$/);
  }
  const missing: string[] = [];
  for (const entry of observed) {
    const [method, path, code] = entry.split(" ") as [string, string, string];
    const op = doc.paths[path]?.[method.toLowerCase()];
    // 404 for an unknown path and 405 for a method a path does not have are not operations.
    if (op === undefined) {
      if (!(code === "404" || code === "405")) missing.push(entry);
      continue;
    }
    if (op.responses[code] === undefined) missing.push(entry);
  }
  expect(missing).toEqual([]);
  for (const path of ["/lock", "/status", "/produce", "/consume", "/ack", "/read/{key}", "/write", "/invalidate", "/metrics", "/health", "/openapi.json"]) {
    expect(doc.paths[path], path).toBeDefined();
  }
  // Every $ref resolves.
  const refs = JSON.stringify(doc).match(/"\$ref":"#\/components\/schemas\/[A-Za-z]+"/g) ?? [];
  for (const r of refs) expect(doc.components.schemas[r.split("/").pop()!.replace('"', "")]).toBeDefined();
});
