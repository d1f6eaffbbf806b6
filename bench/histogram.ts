// Latency recording for the benchmarks: one HdrHistogram in microseconds (1 µs..60 s, 3
// significant digits, fixed size), so recording is O(1) without allocation and percentiles
// are exact to 0.1% however long the run.
import { build, type Histogram } from "hdr-histogram-js";

export const LATENCY_US_MIN = 1;
export const LATENCY_US_MAX = 60_000_000;

export interface LatencySummaryUs {
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p99_9: number;
  max: number;
}

export function createLatencyHistogram(): Histogram {
  return build({
    lowestDiscernibleValue: LATENCY_US_MIN,
    highestTrackableValue: LATENCY_US_MAX,
    numberOfSignificantValueDigits: 3,
    // A fixed range keeps every record O(1); values outside it are clamped, not resized for.
    autoResize: false,
  });
}

/** Clamps a latency into the histogram's range (a 0 µs loopback answer counts as 1). */
function clampLatencyUs(latencyUs: number): number {
  return latencyUs < LATENCY_US_MIN ? LATENCY_US_MIN : latencyUs > LATENCY_US_MAX ? LATENCY_US_MAX : Math.round(latencyUs);
}

/**
 * Records latencies with run-length batching: the answers of one socket read share a receive
 * time and usually a send time, so equal values arrive in runs and go in with one
 * `recordValueWithCount` — the same histogram, a fraction of the load generator's CPU.
 */
export class LatencyRecorder {
  readonly histogram = createLatencyHistogram();
  private runValueUs = 0;
  private runCount = 0;

  record(latencyUs: number): void {
    const valueUs = clampLatencyUs(latencyUs);
    if (valueUs === this.runValueUs) {
      this.runCount++;
      return;
    }
    this.flush();
    this.runValueUs = valueUs;
    this.runCount = 1;
  }

  /** Puts the pending run into the histogram; call before reading it. */
  flush(): void {
    if (this.runCount > 0) this.histogram.recordValueWithCount(this.runValueUs, this.runCount);
    this.runCount = 0;
  }
}

export function summarizeLatencyUs(histogram: Histogram): LatencySummaryUs {
  if (histogram.totalCount === 0) return { min: 0, mean: 0, p50: 0, p90: 0, p99: 0, p99_9: 0, max: 0 };
  return {
    min: histogram.minNonZeroValue,
    mean: Math.round(histogram.mean * 10) / 10,
    p50: histogram.getValueAtPercentile(50),
    p90: histogram.getValueAtPercentile(90),
    p99: histogram.getValueAtPercentile(99),
    p99_9: histogram.getValueAtPercentile(99.9),
    max: histogram.maxValue,
  };
}
