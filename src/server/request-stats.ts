// Counters of the binary protocol's answered requests: counts by command and status, and a
// latency histogram, for STATUS (`server`) and /metrics. The hot path is one Map lookup of a
// per-command record created once, and a few increments: no allocation per request.

/** Upper bounds (ms) of the request latency histogram's buckets (+Inf is implicit). */
export const REQUEST_LATENCY_BUCKETS_MS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000] as const;

/** Label of requests that named no registered command (kept out of the label set: unbounded). */
export const UNKNOWN_COMMAND_LABEL = "(unknown)";
/** Label of frames that were no valid request at all. */
export const INVALID_REQUEST_LABEL = "(invalid)";

/** A histogram as STATUS reports it: cumulative counts per bound, the last one +Inf (= count). */
export interface HistogramSnapshot {
  boundsMs: number[];
  /** counts[i] = observations ≤ boundsMs[i]; counts[boundsMs.length] = all of them (+Inf). */
  counts: number[];
  sumMs: number;
  count: number;
}

export interface RequestCountSnapshot {
  command: string;
  status: string;
  count: number;
}

/** A fixed-bucket latency histogram; observe() counts into one bucket, snapshot() accumulates. */
export class LatencyHistogram {
  /** Non-cumulative: perBucket[i] counts observations in (bounds[i-1], bounds[i]]; last is > all bounds. */
  private readonly perBucket: number[];
  private sumMs = 0;
  private count = 0;

  constructor(private readonly boundsMs: readonly number[]) {
    this.perBucket = new Array<number>(boundsMs.length + 1).fill(0);
  }

  observe(ms: number): void {
    const bounds = this.boundsMs;
    let i = 0;
    while (i < bounds.length && ms > bounds[i]!) i++;
    this.perBucket[i]! += 1;
    this.sumMs += ms;
    this.count += 1;
  }

  snapshot(): HistogramSnapshot {
    const counts: number[] = [];
    let running = 0;
    for (const n of this.perBucket) counts.push((running += n));
    return { boundsMs: [...this.boundsMs], counts, sumMs: this.sumMs, count: this.count };
  }
}

class CommandRecord {
  ok = 0;
  /** Error code → count; errors are rare, so a Map here costs nothing on the OK path. */
  readonly errors = new Map<string, number>();
  constructor(readonly command: string) {}
}

export class RequestStats {
  private readonly byCommand = new Map<string, CommandRecord>();
  readonly latency = new LatencyHistogram(REQUEST_LATENCY_BUCKETS_MS);
  requests = 0;
  errors = 0;

  /** One answered request: `command` must come from a bounded set (registered names or the labels above). */
  record(command: string, status: string, latencyMs: number): void {
    let record = this.byCommand.get(command);
    if (record === undefined) {
      record = new CommandRecord(command);
      this.byCommand.set(command, record);
    }
    this.requests++;
    if (status === "OK") record.ok++;
    else {
      this.errors++;
      record.errors.set(status, (record.errors.get(status) ?? 0) + 1);
    }
    this.latency.observe(latencyMs);
  }

  counts(): RequestCountSnapshot[] {
    const out: RequestCountSnapshot[] = [];
    for (const record of this.byCommand.values()) {
      if (record.ok > 0) out.push({ command: record.command, status: "OK", count: record.ok });
      for (const [status, count] of record.errors) out.push({ command: record.command, status, count });
    }
    return out;
  }
}
