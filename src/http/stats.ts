// Counters of the HTTP adapter itself: requests by route and status, and their latency, for
// /metrics. Plain numbers, updated once per answered request.

/** Upper bounds (seconds) of the request latency histogram's buckets. */
export const HTTP_LATENCY_BUCKETS_S = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

export interface RequestCount {
  route: string;
  method: string;
  status: number;
  count: number;
}

export class HttpStats {
  private readonly counts = new Map<string, RequestCount>();
  /** Cumulative counts per bucket of HTTP_LATENCY_BUCKETS_S (plus +Inf last). */
  readonly latencyBuckets = new Array<number>(HTTP_LATENCY_BUCKETS_S.length + 1).fill(0);
  latencySumS = 0;
  latencyCount = 0;

  record(method: string, route: string, status: number, latencyMs: number): void {
    const key = `${method} ${route} ${status}`;
    const entry = this.counts.get(key);
    if (entry === undefined) this.counts.set(key, { route, method, status, count: 1 });
    else entry.count += 1;
    const latencyS = latencyMs / 1000;
    for (let i = 0; i < HTTP_LATENCY_BUCKETS_S.length; i++) if (latencyS <= HTTP_LATENCY_BUCKETS_S[i]!) this.latencyBuckets[i]! += 1;
    this.latencyBuckets[HTTP_LATENCY_BUCKETS_S.length]! += 1;
    this.latencySumS += latencyS;
    this.latencyCount += 1;
  }

  requestCounts(): RequestCount[] {
    return [...this.counts.values()];
  }
}
