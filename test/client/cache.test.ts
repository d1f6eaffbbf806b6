// The typed cache API against a real 3-node cluster: each method's result has the shape its
// type promises (CacheEntry, {deleted}, {invalidated}, CacheMetrics with every field the node
// sends), so the types stay true to the service.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { SinkronError, type CacheMetrics, type SinkronClient } from "../../src/client/index.ts";
import { TestCluster } from "../helpers/cluster.ts";

let cluster: TestCluster;
let n1: SinkronClient;
let n2: SinkronClient;
beforeAll(async () => {
  cluster = await TestCluster.start(3);
  n1 = await cluster.client("n1");
  n2 = await cluster.client("n2");
});
afterAll(() => cluster.stop());

test("set, then get on another node: a miss through the home, then a hit; del says whether the key was there", async () => {
  expect(await n1.cache.set({ key: "typed", value: { a: [1, 2] } })).toEqual({ ok: true });
  const miss = await n2.cache.get({ key: "typed" });
  expect(miss).toMatchObject({ value: { a: [1, 2] }, source: "store" });
  expect(["M", "E", "S"]).toContain(miss.state);
  expect(await n2.cache.get({ key: "typed" })).toEqual({ value: { a: [1, 2] }, source: "cache", state: miss.state });

  expect(await n2.cache.invalidate({ key: "typed" })).toEqual({ invalidated: 1 });
  expect(await n2.cache.invalidate({ key: "typed" })).toEqual({ invalidated: 0 });

  expect(await n2.cache.del({ key: "typed" })).toEqual({ deleted: true });
  expect(await n1.cache.del({ key: "typed" })).toEqual({ deleted: false });
  const error = await n1.cache.get({ key: "typed" }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(SinkronError);
  expect((error as SinkronError).code).toBe("NOT_FOUND");
});

test("metrics: exactly the fields CacheMetrics names, with their types", async () => {
  await n1.cache.set({ key: "m", value: "x" });
  await n1.cache.get({ key: "m" });
  const metrics = await n1.cache.metrics();
  const expected: Record<keyof CacheMetrics, "number" | "string"> = {
    hits: "number",
    misses: "number",
    writes: "number",
    invalidations: "number",
    evictions: "number",
    entries: "number",
    bytes: "number",
    capacity: "number",
    capacityBytes: "number",
    store: "string",
    leaseMs: "number",
    epoch: "number",
    homedKeys: "number",
  };
  expect(Object.keys(metrics).sort()).toEqual(Object.keys(expected).sort());
  for (const [field, type] of Object.entries(expected)) expect(typeof metrics[field as keyof CacheMetrics]).toBe(type);
  expect(metrics.store).toBe("embedded");
  expect(metrics.writes).toBeGreaterThanOrEqual(1);
  expect(metrics.hits + metrics.misses).toBeGreaterThanOrEqual(1);
  expect(metrics.entries).toBeGreaterThanOrEqual(1);
  expect(metrics.entries).toBeLessThanOrEqual(metrics.capacity);
});
