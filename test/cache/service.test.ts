// The coherent cache on an in-process 3-node cluster (embedded store), through the commands a
// client sends: MESI states and sources as src/cache/README.md's table says, deletes, the KV
// store shared with CACHE.SET, exact metrics for a scripted sequence, CACHE.INVALIDATE, LRU
// order and the byte bound, bad input that changes nothing, internal commands refused to
// clients, and a concurrent pipelined workload whose history is linearizable per key.
import { afterAll, beforeAll, beforeEach, expect, test } from "bun:test";
import { SinkronError, type CacheEntry, type CacheMetrics, type SinkronClient } from "../../src/client/index.ts";
import { LINE_OVERHEAD_BYTES } from "../../src/cache/lines.ts";
import { HashRing } from "../../src/util/hash-ring.ts";
import { checkLinearizable, kvModel } from "../checkers/linearizability.ts";
import { TestCluster } from "../helpers/cluster.ts";
import { recordCacheGet, recordCacheSet, rejection, type KvHistory } from "../helpers/outcomes.ts";

const IDS = ["n1", "n2", "n3"] as const;
/** Long enough that no line of a scripted sequence runs out while the sequence runs. */
const LEASE_MS = 2_000;
/** Small, so the LRU bounds are reached with a handful of keys. */
const ENTRIES_MAX = 4;
const BYTES_MAX = 1024;
/** A null (deleted or missing) value's size as the LRU counts it: one MessagePack scalar, at most 9 bytes. */
const NULL_VALUE_BYTES = 9;
const TEST_TIMEOUT_MS = 20_000;

let cluster: TestCluster;
/** One client per node, each connected to that node only. */
const clients = new Map<string, SinkronClient>();
const ring = new HashRing([...IDS]);
let keySeq = 0;

function at(id: string): SinkronClient {
  return clients.get(id)!;
}

/** A key no earlier test touched, optionally homed at `home`. */
function freshKey(label: string, home?: string): string {
  for (let attempt = 0; attempt < 1000; attempt++) {
    const key = `${label}-${keySeq++}`;
    if (home === undefined || ring.owner(key) === home) return key;
  }
  throw new Error(`no key homed at ${home} in 1000 tries`);
}

function lineBytes(key: string, valueBytes: number): number {
  return Buffer.byteLength(key) + valueBytes + LINE_OVERHEAD_BYTES;
}

async function metricsOf(id: string): Promise<CacheMetrics> {
  return at(id).cache.metrics();
}

/** Counter changes between two snapshots; entries and bytes as they are now. */
function delta(before: CacheMetrics, after: CacheMetrics) {
  return {
    hits: after.hits - before.hits,
    misses: after.misses - before.misses,
    writes: after.writes - before.writes,
    invalidations: after.invalidations - before.invalidations,
    evictions: after.evictions - before.evictions,
    entries: after.entries,
    bytes: after.bytes,
  };
}

function entry(value: unknown, source: CacheEntry["source"], state: CacheEntry["state"]): CacheEntry {
  return { value, source, state };
}

beforeAll(async () => {
  cluster = await TestCluster.start(3, {}, 2, { cache: { leaseMs: LEASE_MS, entriesMax: ENTRIES_MAX, bytesMax: BYTES_MAX } });
  for (const id of IDS) clients.set(id, await cluster.client(id));
  // A home serves writes one lease after it learnt the ring (README "Membership changes"): one
  // write per home, so no test below waits for that or has its writer's line expire meanwhile.
  await Promise.all(IDS.map((home) => at(home).cache.set({ key: freshKey("warmup", home), value: "w" })));
}, TEST_TIMEOUT_MS);

afterAll(async () => {
  await cluster?.stop();
});

// Every test starts with no lines anywhere; CACHE.INVALIDATE moves no counter.
beforeEach(async () => {
  await Promise.all(IDS.map((id) => at(id).cache.invalidate()));
});

test("set on one node: the writer hits in M, the first reader elsewhere reads S from the store, then hits", async () => {
  const key = freshKey("states");
  expect(await at("n1").cache.set({ key, value: "v1" })).toEqual({ ok: true });
  expect(await at("n1").cache.get({ key })).toEqual(entry("v1", "cache", "M"));
  for (const reader of ["n2", "n3"]) {
    expect(await at(reader).cache.get({ key })).toEqual(entry("v1", "store", "S"));
    expect(await at(reader).cache.get({ key })).toEqual(entry("v1", "cache", "S"));
  }
}, TEST_TIMEOUT_MS);

test("a sole reader of a key nobody holds gets E; the next reader gets S and the first is downgraded", async () => {
  const key = freshKey("exclusive");
  // KV.SET writes the same map the embedded store reads, and leaves no line anywhere.
  await at("n1").kv.set({ key, value: "kv-written" });
  expect(await at("n2").cache.get({ key })).toEqual(entry("kv-written", "store", "E"));
  expect(await at("n2").cache.get({ key })).toEqual(entry("kv-written", "cache", "E"));
  expect(await at("n3").cache.get({ key })).toEqual(entry("kv-written", "store", "S"));
  // The downgrade notice needs no answer, so it may land a moment after n3's answer.
  let state = (await at("n2").cache.get({ key })).state;
  for (let i = 0; i < 100 && state !== "S"; i++) {
    await Bun.sleep(10);
    state = (await at("n2").cache.get({ key })).state;
  }
  expect(state).toBe("S");
}, TEST_TIMEOUT_MS);

test("CACHE.SET is visible through KV.GET: the embedded store shares the key", async () => {
  const key = freshKey("shared");
  await at("n2").cache.set({ key, value: { nested: [1, "two"] } });
  for (const id of IDS) expect((await at(id).kv.get({ key })).value).toEqual({ nested: [1, "two"] });
}, TEST_TIMEOUT_MS);

test("delete: NOT_FOUND on every node (cached lines included) and gone from KV.GET", async () => {
  const key = freshKey("delete");
  await at("n1").cache.set({ key, value: "doomed" });
  // Every node holds a line before the delete, so the delete must invalidate them.
  for (const id of IDS) expect((await at(id).cache.get({ key })).value).toBe("doomed");
  expect(await at("n3").cache.del({ key })).toEqual({ deleted: true });
  for (const id of IDS) {
    expect((await rejection(at(id).cache.get({ key }))).code).toBe("NOT_FOUND");
    // The second read is served from the (negative) line, and still NOT_FOUND.
    expect((await rejection(at(id).cache.get({ key }))).code).toBe("NOT_FOUND");
    expect((await rejection(at(id).kv.get({ key }))).code).toBe("NOT_FOUND");
  }
  expect(await at("n2").cache.del({ key })).toEqual({ deleted: false });
}, TEST_TIMEOUT_MS);

test("metrics move exactly as a scripted sequence of sets, gets and a delete says", async () => {
  const key = freshKey("metrics");
  const missing = freshKey("metrics-missing");
  const before = new Map(await Promise.all(IDS.map(async (id) => [id, await metricsOf(id)] as const)));

  await at("n1").cache.set({ key, value: "one" }); // n1: write
  expect((await at("n1").cache.get({ key })).source).toBe("cache"); // n1: hit
  expect((await at("n2").cache.get({ key })).source).toBe("store"); // n2: miss
  expect((await at("n2").cache.get({ key })).source).toBe("cache"); // n2: hit
  expect((await at("n3").cache.get({ key })).source).toBe("store"); // n3: miss
  await at("n2").cache.set({ key, value: "two" }); // n2: write; n1 and n3: one invalidation each
  expect(await at("n1").cache.get({ key })).toEqual(entry("two", "store", "S")); // n1: miss
  expect((await rejection(at("n3").cache.get({ key: missing }))).code).toBe("NOT_FOUND"); // n3: miss, a negative line
  expect((await rejection(at("n3").cache.get({ key: missing }))).code).toBe("NOT_FOUND"); // n3: hit
  expect(await at("n1").cache.del({ key })).toEqual({ deleted: true }); // n1: write; n2: invalidation
  expect((await rejection(at("n2").cache.get({ key }))).code).toBe("NOT_FOUND"); // n2: miss, a negative line

  const expected = {
    n1: { hits: 1, misses: 1, writes: 2, invalidations: 1, evictions: 0, entries: 1 },
    n2: { hits: 1, misses: 2, writes: 1, invalidations: 1, evictions: 0, entries: 1, bytes: lineBytes(key, NULL_VALUE_BYTES) },
    n3: { hits: 1, misses: 2, writes: 0, invalidations: 1, evictions: 0, entries: 1, bytes: lineBytes(missing, NULL_VALUE_BYTES) },
  };
  for (const id of IDS) expect({ id, ...delta(before.get(id)!, await metricsOf(id)) }).toMatchObject({ id, ...expected[id] });
  // The deleter's negative line costs key + overhead + the absent value: 9 bytes when its home is
  // local (null), 1 when remote (CACHE.WRITE's answer leaves the value out, so it is undefined).
  const n1Bytes = (await metricsOf("n1")).bytes;
  expect(n1Bytes).toBeGreaterThanOrEqual(lineBytes(key, 0));
  expect(n1Bytes).toBeLessThanOrEqual(lineBytes(key, NULL_VALUE_BYTES));
  const m = await metricsOf("n1");
  expect(m.capacity).toBe(ENTRIES_MAX);
  expect((m as unknown as { capacityBytes: number; store: string; leaseMs: number }).store).toBe("embedded");
}, TEST_TIMEOUT_MS);

test("CACHE.INVALIDATE drops this node's lines (one or all) and counts them; the next get is a miss from the store", async () => {
  const key = freshKey("inv");
  const missing = freshKey("inv-missing");
  await at("n1").cache.set({ key, value: "kept" });
  await at("n2").cache.get({ key });
  await rejection(at("n2").cache.get({ key: missing }));
  const before = await metricsOf("n2");
  expect(before.entries).toBe(2);

  expect(await at("n2").cache.invalidate({ key })).toEqual({ invalidated: 1 });
  expect(await at("n2").cache.invalidate({ key })).toEqual({ invalidated: 0 });
  expect(await at("n2").cache.get({ key })).toEqual(entry("kept", "store", "S"));
  expect(await at("n2").cache.invalidate()).toEqual({ invalidated: 2 });
  expect(await at("n2").cache.invalidate()).toEqual({ invalidated: 0 });
  expect((await at("n2").cache.get({ key })).source).toBe("store");

  // Only the two gets moved a counter; a dropped-on-request line is no "invalidation".
  expect(delta(before, await metricsOf("n2"))).toEqual({ hits: 0, misses: 2, writes: 0, invalidations: 0, evictions: 0, entries: 1, bytes: lineBytes(key, 4) });
  // The store is untouched, and the writer's line elsewhere too.
  expect((await at("n3").kv.get({ key })).value).toBe("kept");
  expect((await at("n1").cache.get({ key })).source).toBe("cache");
}, TEST_TIMEOUT_MS);

test("LRU by entries: the least recently used line goes first, a hit makes a line recent", async () => {
  const keys = Array.from({ length: ENTRIES_MAX + 1 }, () => freshKey("lru"));
  for (const key of keys) await at("n1").kv.set({ key, value: key });
  const reader = at("n3");
  const before = await metricsOf("n3");
  const [k1, k2, k3, k4, k5] = keys as [string, string, string, string, string];
  for (const key of [k1, k2, k3, k4]) expect((await reader.cache.get({ key })).source).toBe("store");
  expect((await reader.cache.get({ key: k1 })).source).toBe("cache"); // k1 is now the most recent
  expect((await reader.cache.get({ key: k5 })).source).toBe("store"); // evicts k2, the least recent
  expect(delta(before, await metricsOf("n3"))).toMatchObject({ evictions: 1, entries: ENTRIES_MAX });
  for (const key of [k1, k3, k4, k5]) expect((await reader.cache.get({ key })).source).toBe("cache");
  // Recency now k5, k4, k3, k1 (newest first): bringing k2 back evicts k1.
  expect((await reader.cache.get({ key: k2 })).source).toBe("store");
  expect((await reader.cache.get({ key: k1 })).source).toBe("store");
  expect(delta(before, await metricsOf("n3"))).toMatchObject({ hits: 5, misses: 7, evictions: 3, entries: ENTRIES_MAX });
}, TEST_TIMEOUT_MS);

test("LRU by bytes: lines are evicted to stay within cache-max-bytes; a line larger than the cache is served, not kept", async () => {
  const big = "x".repeat(300);
  const keys = [freshKey("bytes"), freshKey("bytes"), freshKey("bytes")];
  const hugeKey = freshKey("bytes-huge");
  for (const key of keys) await at("n1").kv.set({ key, value: big });
  await at("n1").kv.set({ key: hugeKey, value: "y".repeat(BYTES_MAX) });
  const line = lineBytes(keys[0]!, big.length);
  // Two such lines fit, a third does not.
  expect(2 * line).toBeLessThanOrEqual(BYTES_MAX);
  expect(3 * line).toBeGreaterThan(BYTES_MAX);
  const reader = at("n2");
  const before = await metricsOf("n2");
  await reader.cache.get({ key: keys[0]! });
  await reader.cache.get({ key: keys[1]! });
  expect(delta(before, await metricsOf("n2"))).toMatchObject({ evictions: 0, entries: 2, bytes: 2 * line });
  await reader.cache.get({ key: keys[2]! });
  expect(delta(before, await metricsOf("n2"))).toMatchObject({ evictions: 1, entries: 2, bytes: 2 * line });
  expect((await reader.cache.get({ key: keys[0]! })).source).toBe("store"); // the oldest went (and evicts keys[1] now)
  expect((await reader.cache.get({ key: keys[2]! })).source).toBe("cache");

  const huge = await reader.cache.get({ key: hugeKey });
  expect(huge.source).toBe("store");
  expect((huge.value as string).length).toBe(BYTES_MAX);
  expect((await reader.cache.get({ key: hugeKey })).source).toBe("store");
  // It evicted nothing to make room it could never have.
  expect(delta(before, await metricsOf("n2"))).toMatchObject({ evictions: 2, entries: 2, bytes: 2 * line });
  const after = await metricsOf("n2");
  expect(after.bytes).toBeLessThanOrEqual(BYTES_MAX);
}, TEST_TIMEOUT_MS);

test("bad input gets BAD_REQUEST and changes nothing: no value, no line, no counter", async () => {
  const key = freshKey("bad");
  const untouched = freshKey("bad-untouched");
  await at("n1").cache.set({ key, value: "original" });
  await at("n1").cache.get({ key }); // a hit: n1 holds its line
  const client = at("n1");
  const before = await metricsOf("n1");
  const requests: Array<[string, Record<string, unknown>]> = [
    ["CACHE.GET", {}],
    ["CACHE.GET", { key: 5 }],
    ["CACHE.GET", { key: "" }],
    ["CACHE.GET", { key, extra: true }],
    ["CACHE.SET", { value: "no key" }],
    ["CACHE.SET", { key }],
    ["CACHE.SET", { key: ["array"], value: "v" }],
    ["CACHE.SET", { key: "k".repeat(1025), value: "v" }],
    // 1026 bytes of UTF-8 in 513 UTF-16 units: the limit is in bytes.
    ["CACHE.SET", { key: "é".repeat(513), value: "v" }],
    ["CACHE.SET", { key, value: "v".repeat(1024 * 1024) }],
    ["CACHE.SET", { key: untouched, value: new Uint8Array(1024 * 1024 + 1) }],
    ["CACHE.SET", { key, value: "changed", ttl: 5 }],
    ["CACHE.DEL", { key: 7 }],
    ["CACHE.DEL", { key, force: true }],
    ["CACHE.INVALIDATE", { key: 7 }],
    ["CACHE.INVALIDATE", { key: "k".repeat(1025) }],
    ["CACHE.METRICS", { verbose: true }],
  ];
  for (const [command, args] of requests) {
    const error = await rejection(client.call(command, args));
    expect({ command, args: Object.keys(args), code: error.code }).toEqual({ command, args: Object.keys(args), code: "BAD_REQUEST" });
  }
  expect(await metricsOf("n1")).toEqual(before);
  expect(await client.cache.get({ key })).toEqual(entry("original", "cache", "M"));
  for (const id of IDS) expect((await at(id).kv.get({ key })).value).toBe("original");
  expect((await rejection(client.kv.get({ key: untouched }))).code).toBe("NOT_FOUND");

  // The edges themselves are accepted: a 1024-byte key, a value of exactly 1 MiB encoded (str32: 5 header bytes).
  const longKey = "k".repeat(1024);
  await client.cache.set({ key: longKey, value: "edge" });
  expect((await at("n2").cache.get({ key: longKey })).value).toBe("edge");
  const largest = "v".repeat(1024 * 1024 - 5);
  await client.cache.set({ key, value: largest });
  expect(((await at("n3").cache.get({ key })).value as string).length).toBe(largest.length);
}, TEST_TIMEOUT_MS);

test("internal commands from a client are UNAUTHORIZED and do nothing", async () => {
  const key = freshKey("internal");
  await at("n2").cache.set({ key, value: "safe" });
  await at("n1").cache.get({ key });
  const client = at("n1");
  const { epoch } = (await metricsOf("n1")) as CacheMetrics & { epoch: number };
  const before = await metricsOf("n1");
  const requests: Array<[string, Record<string, unknown>]> = [
    ["CACHE.FETCH", { key, epoch }],
    ["CACHE.WRITE", { key, epoch, value: "forged" }],
    ["CACHE.WRITE", { key, epoch, delete: true }],
    ["CACHE.INV", { key }],
    ["CACHE.INV", { key, downgrade: true }],
    ["CACHE.STORE.READ", { epoch, keys: [key] }],
  ];
  for (const [command, args] of requests) {
    const error = await rejection(client.call(command, args));
    expect({ command, code: error.code }).toEqual({ command, code: "UNAUTHORIZED" });
  }
  expect(await metricsOf("n1")).toEqual(before);
  // n1's line is still there and still S (neither dropped nor downgraded), and the store unchanged.
  expect(await client.cache.get({ key })).toEqual(entry("safe", "cache", "S"));
  expect((await client.kv.get({ key })).value).toBe("safe");
}, TEST_TIMEOUT_MS);

test("coherence under concurrency: pipelined sets and gets on every node are linearizable per key, and every node ends on the same value", async () => {
  const keys = Array.from({ length: 6 }, () => freshKey("conc"));
  const history: KvHistory = [];
  // Kept small enough per key (about 6 operations in flight) that the checker's search stays short.
  const ROUNDS = 25;
  const IN_FLIGHT = 6;
  let opCount = 0;
  let hits = 0;
  // Operation n touches key n % keys and is a set when floor(n / keys) % 3 is 0: every key gets sets and gets.
  const one = async (client: SinkronClient, writer: string): Promise<void> => {
    const n = opCount++;
    const key = keys[n % keys.length]!;
    if (Math.floor(n / keys.length) % 3 === 0) await recordCacheSet(history, client, key, `${writer}-${n}`);
    else if ((await recordCacheGet(history, client, key)) === "cache") hits++;
  };
  // Two connections per node; each round sends IN_FLIGHT requests on each without waiting.
  const extra = await Promise.all(IDS.map((id) => cluster.client(id)));
  const conns = IDS.flatMap((id, i) => [{ id, client: at(id) }, { id, client: extra[i]! }]);
  for (let round = 0; round < ROUNDS; round++) {
    await Promise.all(conns.flatMap(({ id, client }, c) => Array.from({ length: IN_FLIGHT }, () => one(client, `${id}c${c}`))));
  }
  const settledMs = performance.now();
  const finals = new Map<string, string | null>();
  for (const key of keys) {
    for (const id of IDS) {
      const callMs = performance.now();
      const got = await at(id).cache.get({ key }).then(
        (e) => e.value as string,
        (error: SinkronError) => (error.code === "NOT_FOUND" ? null : Promise.reject(error)),
      );
      history.push({ key, input: { kind: "get" }, output: { value: got }, callMs, returnMs: performance.now() });
      if (finals.has(key)) expect({ key, id, value: got }).toEqual({ key, id, value: finals.get(key)! });
      finals.set(key, got);
    }
    // The final value is the value of a set that no other set of the key followed entirely.
    const sets = history.filter((op) => op.key === key && op.input.kind === "set" && op.callMs < settledMs);
    const latest = sets.filter((s) => !sets.some((t) => t.callMs > s.returnMs));
    expect(latest.map((s) => (s.input as { value: string }).value)).toContain(finals.get(key)!);
  }
  const completed = history.filter((op) => op.returnMs !== Infinity).length;
  // Nothing fails while all nodes are up, and some reads were hits: the leases were in play.
  expect(completed).toBe(ROUNDS * IN_FLIGHT * conns.length + keys.length * IDS.length);
  expect(hits).toBeGreaterThan(0);
  const result = checkLinearizable(kvModel, history);
  if (result.ok !== true) console.error("not linearizable:", JSON.stringify(result));
  expect(result.ok).toBe(true);
}, TEST_TIMEOUT_MS);
