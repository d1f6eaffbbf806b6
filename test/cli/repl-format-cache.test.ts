// The REPL's readable cache answers: a value with where it came from and its line's state, the
// counters as a table with the hit ratio, a sentence for the rest; errors fall back to the
// generic view (null), as do shapes the formatter does not recognise.
import { expect, test } from "bun:test";
import { formatCacheAnswer } from "../../src/cli/repl/format-cache.ts";

const ok = (value: unknown) => ({ status: "OK", value });

test("get says hit or miss and the line's state", () => {
  expect(formatCacheAnswer("CACHE.GET", ok({ value: "v", source: "cache", state: "S" }))).toBe('OK "v"  (hit in this node\'s cache; line S: shared)');
  expect(formatCacheAnswer("CACHE.GET", ok({ value: 7, source: "store", state: "E" }))).toBe("OK 7  (miss: read through the key's home; line E: exclusive)");
  expect(formatCacheAnswer("CACHE.GET", ok({ value: 7, source: "elsewhere", state: "E" }))).toBeNull();
});

test("set, del and invalidate are one sentence", () => {
  expect(formatCacheAnswer("CACHE.SET", ok({ ok: true }))).toStartWith("OK written");
  expect(formatCacheAnswer("CACHE.DEL", ok({ deleted: true }))).toBe("OK deleted");
  expect(formatCacheAnswer("CACHE.DEL", ok({ deleted: false }))).toBe("OK no such key (nothing deleted)");
  expect(formatCacheAnswer("CACHE.INVALIDATE", ok({ invalidated: 0 }))).toBe("OK no line dropped on this node");
  expect(formatCacheAnswer("CACHE.INVALIDATE", ok({ invalidated: 3 }))).toBe("OK 3 lines dropped on this node");
});

test("metrics: capacity line and a table with the hit ratio", () => {
  const text = formatCacheAnswer("CACHE.METRICS", ok({ hits: 90, misses: 10, writes: 5, invalidations: 2, evictions: 1, entries: 7, bytes: 700, capacity: 100000, capacityBytes: 268435456, store: "embedded", leaseMs: 2000, epoch: 17, homedKeys: 3 }))!;
  const lines = text.split("\n");
  expect(lines[0]).toBe("OK 7 of 100,000 lines, 700 B of 256 MiB; store embedded, lease 2,000 ms, ring epoch 17, home of 3 keys now");
  expect(lines[1]!.trim().split(/\s{2,}/)).toEqual(["gets", "hits", "misses", "hit ratio", "writes", "invalidations", "evictions"]);
  expect(lines[2]!.trim().split(/\s+/)).toEqual(["100", "90", "10", "90.0%", "5", "2", "1"]);
});

test("errors and other commands use the generic view", () => {
  expect(formatCacheAnswer("CACHE.GET", { status: "NOT_FOUND", value: { message: "no key 'k'" } })).toBeNull();
  expect(formatCacheAnswer("KV.GET", ok({ value: 1, revision: 2 }))).toBeNull();
});
