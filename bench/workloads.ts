// What a benchmark sends: a workload yields the next request `[command, args]` and may check
// an OK answer. The runner owns ids, timing and I/O, so adding `kv`, `lock`, `queue`… is one
// entry in WORKLOADS and nothing else.
import type { Args } from "../src/protocol/envelope.ts";
import type { BenchOptions } from "./args.ts";
import { seededRandom } from "../src/util/prng.ts";

export type BenchRequest = readonly [command: string, args: Args];

export interface Workload {
  readonly name: string;
  /**
   * The next request. Returning the very same tuple object as before lets the runner reuse
   * its encoded bytes (as redis-benchmark reuses one formatted command), so a constant
   * workload costs no encoding per request.
   */
  next(): BenchRequest;
  /**
   * True while `next()` would return a request that undoes state this workload made (the
   * release of a lock it acquired): the runner still sends it, unmeasured, after the run's
   * end, so a benchmark leaves nothing held and no other connection waits for it.
   */
  hasFollowUp?(): boolean;
  /** True when an OK answer's value is what the request should get; a false counts as UNEXPECTED_VALUE. */
  check?(request: BenchRequest, value: unknown): boolean;
}

const PING_REQUEST: BenchRequest = Object.freeze(["PING", {}] as const);

export function pingWorkload(): Workload {
  return {
    name: "ping",
    next: () => PING_REQUEST,
    check: (_request, value) => value === "PONG",
  };
}

/** What a named workload needs: a factory (one workload per connection) and an optional setup. */
export interface WorkloadSpec {
  make: () => Workload;
  /** Requests to complete before the warmup (e.g. writing the keys a read benchmark reads). */
  setup?: BenchRequest[];
}

const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object";

function kvKeys(options: BenchOptions): string[] {
  return Array.from({ length: options.keys }, (_, i) => `k${i}`);
}

/** KV.SET round-robin over the key space; each connection starts at its own offset. */
export function kvSetWorkload(options: BenchOptions): WorkloadSpec {
  const value = "v".repeat(options.valueBytes);
  const requests = kvKeys(options).map((key) => Object.freeze(["KV.SET", { key, value }] as const) as BenchRequest);
  let connection = 0;
  return {
    make: () => {
      let at = (connection++ * 7919) % requests.length;
      return {
        name: "kv-set",
        next: () => requests[(at = (at + 1) % requests.length)]!,
        check: (_request, answer) => isMap(answer) && typeof answer.revision === "number",
      };
    },
  };
}

/** KV.GET round-robin over keys that the setup wrote first. */
export function kvGetWorkload(options: BenchOptions): WorkloadSpec {
  const value = "v".repeat(options.valueBytes);
  const keys = kvKeys(options);
  const requests = keys.map((key) => Object.freeze(["KV.GET", { key }] as const) as BenchRequest);
  let connection = 0;
  return {
    setup: keys.map((key) => ["KV.SET", { key, value }] as const),
    make: () => {
      let at = (connection++ * 7919) % requests.length;
      return {
        name: "kv-get",
        next: () => requests[(at = (at + 1) % requests.length)]!,
        check: (_request, answer) => isMap(answer) && answer.value === value,
      };
    },
  };
}

/**
 * A connection's closed loop of LOCK.ACQUIRE (exclusive) then LOCK.RELEASE of the same lock.
 * The release is a follow-up: it still goes after the run's end, so nothing stays held.
 */
function acquireReleaseLoop(name: string, nextLock: () => { lock: string; owner: string }, waitMs: number): Workload {
  let releaseNext: BenchRequest | null = null;
  return {
    name,
    hasFollowUp: () => releaseNext !== null,
    next: () => {
      if (releaseNext !== null) {
        const request = releaseNext;
        releaseNext = null;
        return request;
      }
      const { lock, owner } = nextLock();
      releaseNext = ["LOCK.RELEASE", { name: lock, owner }];
      return ["LOCK.ACQUIRE", { name: lock, mode: "exclusive", owner, waitMs }];
    },
    check: (request, answer) => (request[0] === "LOCK.ACQUIRE" ? isMap(answer) && typeof answer.token === "number" : isMap(answer) && answer.released === true),
  };
}

/**
 * Lock pairs on distinct names, try-locks that never wait. Pipelining keeps each pair in order:
 * both go through the log in the order the connection sent them. pairs/s = ops/s / 2.
 */
export function lockPairsWorkload(): WorkloadSpec {
  let connection = 0;
  return {
    make: () => {
      const prefix = `bench-${connection++}-${Math.random().toString(36).slice(2, 8)}`;
      let pair = 0;
      return acquireReleaseLoop("lock", () => {
        const lock = `${prefix}-${pair++}`;
        return { lock, owner: lock };
      }, 0);
    },
  };
}

/**
 * The original report's lock scenario: each connection (a client, closed loop with pipeline
 * 1) takes an exclusive lock on one of `--keys` resources (resource-A, -B, -C…) at random,
 * then releases it; acquires wait in FIFO order.
 */
export function lockContendedWorkload(options: BenchOptions): WorkloadSpec {
  const resources = Array.from({ length: Math.min(options.keys, 26) }, (_, i) => `resource-${String.fromCharCode(65 + i)}`);
  let connection = 0;
  return {
    make: () => {
      const me = connection++;
      const random = seededRandom(me + 1);
      return acquireReleaseLoop("lock-contended", () => ({ lock: resources[Math.floor(random() * resources.length)]!, owner: `client-${me}` }), 30_000);
    },
  };
}

/** Workloads by the name given on the command line. */
export const WORKLOADS: Readonly<Record<string, (options: BenchOptions) => WorkloadSpec>> = {
  ping: () => ({ make: pingWorkload }),
  "kv-set": kvSetWorkload,
  "kv-get": kvGetWorkload,
  lock: lockPairsWorkload,
  "lock-contended": lockContendedWorkload,
};
