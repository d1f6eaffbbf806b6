// RequestStats: counts by command and status, and a latency histogram reported cumulatively.
import { expect, test } from "bun:test";
import { LatencyHistogram, REQUEST_LATENCY_BUCKETS_MS, RequestStats } from "../../src/server/request-stats.ts";

test("counts by command and status; errors counted apart", () => {
  const stats = new RequestStats();
  for (let i = 0; i < 3; i++) stats.record("KV.SET", "OK", 1);
  stats.record("KV.SET", "NOT_FOUND", 1);
  stats.record("KV.GET", "OK", 1);
  stats.record("KV.SET", "NOT_FOUND", 1);
  expect(stats.requests).toBe(6);
  expect(stats.errors).toBe(2);
  expect(stats.counts().sort((a, b) => `${a.command}${a.status}`.localeCompare(`${b.command}${b.status}`))).toEqual([
    { command: "KV.GET", status: "OK", count: 1 },
    { command: "KV.SET", status: "NOT_FOUND", count: 2 },
    { command: "KV.SET", status: "OK", count: 3 },
  ]);
});

test("histogram buckets are cumulative, bounds inclusive, +Inf last and equal to the count", () => {
  const h = new LatencyHistogram([1, 10, 100]);
  for (const ms of [0, 1, 1.5, 10, 50, 100, 101, 5000]) h.observe(ms);
  const s = h.snapshot();
  expect(s.boundsMs).toEqual([1, 10, 100]);
  expect(s.counts).toEqual([2, 4, 6, 8]);
  expect(s.count).toBe(8);
  expect(s.sumMs).toBe(0 + 1 + 1.5 + 10 + 50 + 100 + 101 + 5000);
});

test("RequestStats' histogram uses the fixed request buckets", () => {
  const stats = new RequestStats();
  stats.record("PING", "OK", 0.05);
  stats.record("PING", "OK", 3);
  const s = stats.latency.snapshot();
  expect(s.boundsMs).toEqual([...REQUEST_LATENCY_BUCKETS_MS]);
  expect(s.counts[0]).toBe(1);
  expect(s.counts.at(-1)).toBe(2);
  expect(s.count).toBe(2);
});
