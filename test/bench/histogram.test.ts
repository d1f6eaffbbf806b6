// The latency recorder's run-length batching must give the very histogram one record per value
// would give, clamped to 1 µs..60 s.
import { expect, test } from "bun:test";
import { createLatencyHistogram, LATENCY_US_MAX, LatencyRecorder, summarizeLatencyUs } from "../../bench/histogram.ts";

test("run-length batching records the same histogram as one record per value", () => {
  const recorder = new LatencyRecorder();
  const direct = createLatencyHistogram();
  const values = [5, 5, 5, 7.4, 7.6, 8, 8, 0, 0.2, 120, 120, 120, 3_000_000, 99_999_999, 99_999_999, 5];
  for (const value of values) {
    recorder.record(value);
    direct.recordValue(Math.min(LATENCY_US_MAX, Math.max(1, Math.round(value))));
  }
  recorder.flush();
  expect(recorder.histogram.totalCount).toBe(values.length);
  expect(summarizeLatencyUs(recorder.histogram)).toEqual(summarizeLatencyUs(direct));
  expect(recorder.histogram.maxValue).toBeLessThanOrEqual(LATENCY_US_MAX * 1.001);
  expect(recorder.histogram.minNonZeroValue).toBe(1);
});

test("an empty histogram summarizes to zeros", () => {
  expect(summarizeLatencyUs(createLatencyHistogram())).toEqual({ min: 0, mean: 0, p50: 0, p90: 0, p99: 0, p99_9: 0, max: 0 });
});
