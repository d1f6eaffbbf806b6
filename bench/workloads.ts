// What a benchmark sends: a workload yields the next request `[command, args]` and may check
// an OK answer. The runner owns ids, timing and I/O, so adding a workload is one entry in
// WORKLOADS and nothing else.
import type { Args } from "../src/protocol/envelope.ts";
import type { Address } from "../src/util/address.ts";
import type { BenchOptions } from "./args.ts";
import { cacheHitWorkload, cacheMixWorkload, cacheScenarioWorkload } from "./cache-workloads.ts";
import type { BenchReport } from "./report.ts";
import type { RunConfig, RunHooks, RunMeasurements } from "./runner.ts";
import { seededRandom } from "../src/util/prng.ts";
import { isMap } from "./answers.ts";

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
  /**
   * Check (and decode) only one OK answer in this many; the others are counted from their
   * envelope's id and status alone, as redis-benchmark counts replies without parsing them.
   * For workloads whose answers are large and alike (cache hits), where decoding every value
   * would make the load generator, not the server, the bottleneck. Default 1: every answer.
   */
  readonly checkEvery?: number;
  /**
   * Sees every answer (warmup, measured or follow-up; any status) before the connection asks
   * `next()` to refill the slot: how a request that needs an earlier answer (the ack of a
   * consumed message) gets its arguments.
   */
  onAnswer?(request: BenchRequest, status: string, value: unknown): void;
}

const PING_REQUEST: BenchRequest = Object.freeze(["PING", {}] as const);

export function pingWorkload(): Workload {
  return {
    name: "ping",
    next: () => PING_REQUEST,
    check: (_request, value) => value === "PONG",
  };
}

/**
 * What a workload completes besides requests, counted as the OK answers to one command: a
 * message is done when its Q.ACK is answered, a lock pair when its LOCK.RELEASE is.
 */
export interface WorkUnit {
  /** Plural, as printed: "messages", "rounds", "pairs". */
  name: string;
  command: string;
}

/**
 * What a named workload needs: a factory (one workload per connection) and an optional setup;
 * or, for clients that need more than one connection's closed loop, a driver of its own.
 */
export interface WorkloadSpec {
  /** Each connection's workload, for the runner; a spec has `make` or `drive`. */
  make?: () => Workload;
  /** Runs the measured phase instead of the runner (the cache scenario: a write on one node, its read on the next). */
  drive?: RunDriver;
  /** Requests to complete before the warmup (e.g. writing the keys a read benchmark reads). */
  setup?: BenchRequest[];
  /** Reported as `<unit>/s` next to requests/s. */
  unit?: WorkUnit;
  /** "all": the run uses every node (--nodes, or the target's STATUS); by default the target alone. */
  nodes?: "target" | "all";
  /** Work around the measured phase (after the setup) and numbers the nodes count themselves. */
  probe?: RunProbe;
}

/** The nodes a run uses (the target first when it is one of them) and how to say HELLO to them. */
export interface RunContext {
  nodes: Address[];
  token: string | null;
}

/** Measures like the runner, over `context.nodes`; same bounds, same hooks, same measurements. */
export type RunDriver = (config: RunConfig, context: RunContext, hooks: RunHooks) => Promise<RunMeasurements>;

/** A part of the report only some workloads have: lines for people (labelled `name`), an object for the JSON (under `name`). */
export interface ReportSection {
  name: string;
  lines: string[];
  json: Record<string, unknown>;
  /** Wrong answers of every phase, the warmup's too (stale reads): any fails the run. */
  failures?: number;
}

/** Runs before the warmup (warming caches, reading counters) and after the run (the sections it adds). */
export interface RunProbe {
  before(context: RunContext): Promise<void>;
  after(context: RunContext, report: BenchReport): Promise<ReportSection[]>;
}


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
    unit: { name: "pairs", command: "LOCK.RELEASE" },
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
    unit: { name: "pairs", command: "LOCK.RELEASE" },
    make: () => {
      const me = connection++;
      const random = seededRandom(me + 1);
      return acquireReleaseLoop("lock-contended", () => ({ lock: resources[Math.floor(random() * resources.length)]!, owner: `client-${me}` }), 30_000);
    },
  };
}

/** Q.PRODUCE of one constant keyless body: the request is encoded once per connection. */
export function queueProduceWorkload(options: BenchOptions): WorkloadSpec {
  const request: BenchRequest = Object.freeze(["Q.PRODUCE", { queue: options.queue, body: "m".repeat(options.valueBytes) }] as const);
  return {
    unit: { name: "messages", command: "Q.PRODUCE" },
    make: () => ({ name: "queue-produce", next: () => request, check: (_request, answer) => isMap(answer) && typeof answer.id === "string" }),
  };
}

/**
 * One connection's share of consuming a queue: a Q.ACK for every message delivered to it goes
 * out before any further Q.CONSUME, so at most pipeline × batch messages are held at once. The
 * acks still owed when the run ends are follow-ups: a benchmark leaves no message in flight to
 * be redelivered after its visibility timeout.
 */
class QueueConsumer {
  private readonly acksOwed: string[] = [];
  private ackAt = 0;

  constructor(private readonly queue: string) {}

  hasAckOwed(): boolean {
    return this.ackAt < this.acksOwed.length;
  }

  nextAck(): BenchRequest {
    const id = this.acksOwed[this.ackAt++]!;
    if (this.ackAt === this.acksOwed.length) {
      this.acksOwed.length = 0;
      this.ackAt = 0;
    }
    return ["Q.ACK", { queue: this.queue, id }];
  }

  /** Takes the ids of an OK Q.CONSUME answer; the number of messages it delivered. */
  onConsumed(status: string, value: unknown): number {
    if (status !== "OK" || !Array.isArray(value)) return 0;
    for (const delivery of value) if (isMap(delivery) && typeof delivery.id === "string") this.acksOwed.push(delivery.id);
    return value.length;
  }
}

/** An empty Q.CONSUME answer counts as UNEXPECTED_VALUE: the queue ran dry, the figure is not a consume rate. */
function checkQueueAnswer(request: BenchRequest, answer: unknown): boolean {
  switch (request[0]) {
    case "Q.CONSUME":
      return Array.isArray(answer) && answer.length > 0;
    case "Q.ACK":
      return isMap(answer) && answer.acked === true;
    default:
      return isMap(answer) && typeof answer.id === "string";
  }
}

/**
 * Consume + ack of a backlog: the setup produces `--messages` messages (not timed), then each
 * connection consumes up to `--batch` at a time without waiting and acks each one.
 * messages/s = acks answered OK per second.
 */
export function queueConsumeWorkload(options: BenchOptions): WorkloadSpec {
  const produce: BenchRequest = Object.freeze(["Q.PRODUCE", { queue: options.queue, body: "m".repeat(options.valueBytes) }] as const);
  const consume: BenchRequest = Object.freeze(["Q.CONSUME", { queue: options.queue, max: options.batch, waitMs: 0 }] as const);
  return {
    setup: new Array<BenchRequest>(options.messages).fill(produce),
    unit: { name: "messages", command: "Q.ACK" },
    make: () => {
      const consumer = new QueueConsumer(options.queue);
      return {
        name: "queue-consume",
        hasFollowUp: () => consumer.hasAckOwed(),
        next: () => (consumer.hasAckOwed() ? consumer.nextAck() : consume),
        check: checkQueueAnswer,
        onAnswer: (request, status, value) => {
          if (request[0] === "Q.CONSUME") consumer.onConsumed(status, value);
        },
      };
    },
  };
}

/** How long a queue-scenario consume long-polls: the message a client just produced may still be on its way to this node's replica. */
export const SCENARIO_WAIT_MS = 5_000;

/**
 * The original report's queue scenario: each connection (a client, closed loop) produces a
 * message, then consumes one (any client's, long-polling) and acks it. A round is those three
 * requests; rounds/s = acks answered OK per second. With --pipeline above 1 a connection runs
 * that many rounds interleaved: acks first, then the consumes its produces are owed, then a
 * produce.
 */
export function queueScenarioWorkload(options: BenchOptions): WorkloadSpec {
  const produce: BenchRequest = Object.freeze(["Q.PRODUCE", { queue: options.queue, body: "m".repeat(options.valueBytes) }] as const);
  const consume: BenchRequest = Object.freeze(["Q.CONSUME", { queue: options.queue, max: 1, waitMs: SCENARIO_WAIT_MS }] as const);
  return {
    unit: { name: "rounds", command: "Q.ACK" },
    make: () => {
      const consumer = new QueueConsumer(options.queue);
      let consumesOwed = 0;
      return {
        name: "queue-scenario",
        hasFollowUp: () => consumer.hasAckOwed(),
        next: () => {
          if (consumer.hasAckOwed()) return consumer.nextAck();
          if (consumesOwed > 0) {
            consumesOwed--;
            return consume;
          }
          consumesOwed++;
          return produce;
        },
        check: checkQueueAnswer,
        onAnswer: (request, status, value) => {
          // A consume that got nothing (or failed) is owed again, so every round ends with an ack.
          if (request[0] === "Q.CONSUME" && consumer.onConsumed(status, value) === 0) consumesOwed++;
        },
      };
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
  "queue-produce": queueProduceWorkload,
  "queue-consume": queueConsumeWorkload,
  "queue-scenario": queueScenarioWorkload,
  "cache-hit": cacheHitWorkload,
  "cache-mix": cacheMixWorkload,
  "cache-scenario": cacheScenarioWorkload,
};
