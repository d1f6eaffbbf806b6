// Command-line options of `sinkron bench <workload>`, parsed into one typed, bounded value.
// Every workload shares these flags, so `kv`, `lock`, `queue`… reuse the parser as is; a bad
// flag is a BenchUsageError (exit 2) and never a half-configured run.
import { DEAD_LETTER_SUFFIX, QUEUE_CONSUME_MAX_LIMIT, QUEUE_NAME_BYTES_MAX } from "../src/protocol/commands.ts";
import { parseAddress, type Address } from "../src/util/address.ts";

export class BenchUsageError extends Error {
  override readonly name = "BenchUsageError";
}

export interface BenchOptions {
  workload: string;
  target: Address;
  connections: number;
  /** Requests in flight per connection (closed loop: a new one leaves when one is answered). */
  pipelineDepth: number;
  /** Exactly one of `durationMs` / `requestsTotal` bounds the measured phase. */
  durationMs: number | null;
  requestsTotal: number | null;
  warmupMs: number;
  jsonPath: string | null;
  token: string | null;
  /** False silences the once-a-second progress line (tests, scripts). */
  showProgress: boolean;
  /** Key-space size of the kv and cache workloads (keys k0..k<n-1>, c0..c<n-1>). */
  keys: number;
  /** Size of the values written by the kv and cache workloads and of the queue workloads' message bodies. */
  valueBytes: number;
  /** The queue of the queue workloads; created with the defaults by its first produce. */
  queue: string;
  /** queue-consume: `max` of each Q.CONSUME. */
  batch: number;
  /** queue-consume: messages produced (untimed) before the run. */
  messages: number;
  // The cache workloads' flags: absent unless given (each workload has its default below).
  /** cache-mix: the share of requests that are CACHE.GET (the rest CACHE.SET), 0..1. */
  readRatio?: number;
  /** cache-mix: exponent s of the Zipf distribution of keys (rank k drawn ∝ 1/k^s; 0 is uniform). */
  zipfExponent?: number;
  /** Cache workloads: spread the connections round-robin over every node (--nodes, or the target's STATUS). */
  isSpread?: boolean;
  /** The nodes a multi-node workload uses; absent: every member with an address in the target's STATUS. */
  nodes?: Address[];
}

export const KEYS_DEFAULT = 1000;
export const KEYS_MAX = 10_000_000;
export const VALUE_BYTES_DEFAULT = 100;
export const VALUE_BYTES_MAX = 1024 * 1024;
export const QUEUE_DEFAULT = "bench";
export const BATCH_DEFAULT = 1;
export const MESSAGES_DEFAULT = 100_000;
export const MESSAGES_MAX = 100_000_000;

export const READ_RATIO_DEFAULT = 0.9;
export const ZIPF_EXPONENT_DEFAULT = 0.99;
export const ZIPF_EXPONENT_MAX = 10;
export const NODES_MAX = 64;

/** Defaults that differ by workload: the scenario is 10 clients; hit and mix runs size their key sets for the lease. */
const WORKLOAD_DEFAULTS: Readonly<Record<string, { connections?: number; keys?: number }>> = {
  "cache-hit": { keys: 100 },
  "cache-mix": { keys: 10_000 },
  "cache-scenario": { connections: 10 },
};

export const CONNECTIONS_MAX = 10_000;
export const PIPELINE_DEPTH_MAX = 65_536;
export const DURATION_MS_MAX = 24 * 3600 * 1000;
export const REQUESTS_TOTAL_MAX = Number.MAX_SAFE_INTEGER;
export const DURATION_MS_DEFAULT = 10_000;
export const WARMUP_MS_DEFAULT = 1_000;

export const BENCH_USAGE = `usage: sinkron bench <workload> --target host:port [options]

workloads:
  ping                    PING round trips (the framed protocol's floor)
  kv-set                  KV.SET over --keys keys with --value-bytes values (replicated, durable writes)
  kv-get                  KV.GET over --keys keys, written first (linearizable reads)
  lock                    LOCK.ACQUIRE + LOCK.RELEASE pairs on distinct names (pairs/s = ops/s / 2)
  lock-contended          each connection acquires+releases one of --keys resources (resource-A..), waiting FIFO
  queue-produce           Q.PRODUCE of --value-bytes bodies to --queue (messages/s = ops/s)
  queue-consume           produces --messages first (untimed), then Q.CONSUME (max --batch) + Q.ACK of each message
  queue-scenario          each connection: Q.PRODUCE, then Q.CONSUME (long-poll) + Q.ACK of one message (rounds/s)
  cache-hit               CACHE.SET of --keys keys (default 100) first, warmed on the node(s), then CACHE.GET only (hits)
  cache-mix               CACHE.GET / CACHE.SET at --read-ratio over --keys keys (default 10,000) drawn from a Zipf(--zipf) law
  cache-scenario          the original report's: each client (--connections, default 10) writes a unique value
                          on node i, reads it back on node i+1; a read of anything else is STALE (rounds/s)
  http                    the original report's Locust scenarios (lock, queue, cache) against the HTTP API;
                          its own flags: sinkron bench http --http URL [--scenario lock|queue|cache|all]
                          [--users 10] [--duration 10s] [--warmup 1s] [--json out.json] [--token T] [--quiet]

options:
  --target host:port      node to load (required)
  --connections C         TCP connections (default 1, max ${CONNECTIONS_MAX})
  --pipeline P            requests in flight per connection (default 1, max ${PIPELINE_DEPTH_MAX})
  --duration 10s          measured phase length (ms, s, m; a bare number is seconds)
  --requests N            or: stop after N measured requests (all connections together)
  --warmup 1s             unmeasured phase before it (default 1s; 0 for none)
  --json out.json         also write the results as JSON
  --token T               the node's token, sent in HELLO
  --quiet                 no progress line
  --keys N                kv and cache workloads: key-space size (default ${KEYS_DEFAULT}; cache-hit 100, cache-mix 10,000)
  --value-bytes B         kv, cache and queue workloads: value / message body size in bytes (default ${VALUE_BYTES_DEFAULT})
  --queue NAME            queue workloads: the queue (default ${QUEUE_DEFAULT}; a new one is created with the defaults)
  --batch N               queue-consume: most messages per Q.CONSUME (default ${BATCH_DEFAULT}, max ${QUEUE_CONSUME_MAX_LIMIT})
  --messages N            queue-consume: messages to produce before the run (default ${MESSAGES_DEFAULT}; 0: use what is queued)
  --read-ratio R          cache-mix: share of GETs, 0..1 (default ${READ_RATIO_DEFAULT}; 0.99 for 99/1)
  --zipf S                cache-mix: Zipf exponent of the key popularity (default ${ZIPF_EXPONENT_DEFAULT}; 0: uniform)
  --spread                cache-hit, cache-mix: connections round-robin over every node, not just the target
  --nodes h:p,h:p,…       the nodes of --spread and cache-scenario (default: the members in the target's STATUS)
`;

const VALUE_FLAGS = new Set(["target", "connections", "pipeline", "duration", "requests", "warmup", "json", "token", "keys", "value-bytes", "queue", "batch", "messages", "read-ratio", "zipf", "nodes"]);
const BOOLEAN_FLAGS = new Set(["quiet", "spread"]);

/** Parses `ping --target h:p --pipeline 64 …`; throws BenchUsageError with the reason. */
export function parseBenchArgs(argv: readonly string[]): BenchOptions {
  const [workload, ...rest] = argv;
  if (workload === undefined || workload.startsWith("-")) throw new BenchUsageError("missing workload (e.g. 'ping')");
  const flags = readFlags(rest);
  const targetText = flags.get("target");
  if (targetText === undefined) throw new BenchUsageError("--target host:port is required");
  let target: Address;
  try {
    target = parseAddress(targetText);
  } catch (error) {
    throw new BenchUsageError(`--target: ${(error as Error).message}`);
  }
  const durationText = flags.get("duration");
  const requestsText = flags.get("requests");
  if (durationText !== undefined && requestsText !== undefined) throw new BenchUsageError("give --duration or --requests, not both");
  const requestsTotal = requestsText === undefined ? null : parseCount("requests", requestsText, 1, REQUESTS_TOTAL_MAX);
  const durationMs = requestsTotal !== null ? null : durationText === undefined ? DURATION_MS_DEFAULT : parseDurationFlag("duration", durationText, 1);
  const warmupText = flags.get("warmup");
  const defaults = WORKLOAD_DEFAULTS[workload] ?? {};
  const options: BenchOptions = {
    workload,
    target,
    connections: parseCount("connections", flags.get("connections") ?? String(defaults.connections ?? 1), 1, CONNECTIONS_MAX),
    pipelineDepth: parseCount("pipeline", flags.get("pipeline") ?? "1", 1, PIPELINE_DEPTH_MAX),
    durationMs,
    requestsTotal,
    warmupMs: warmupText === undefined ? WARMUP_MS_DEFAULT : parseDurationFlag("warmup", warmupText, 0),
    jsonPath: flags.get("json") ?? null,
    token: flags.get("token") ?? null,
    showProgress: !flags.has("quiet"),
    keys: parseCount("keys", flags.get("keys") ?? String(defaults.keys ?? KEYS_DEFAULT), 1, KEYS_MAX),
    valueBytes: parseCount("value-bytes", flags.get("value-bytes") ?? String(VALUE_BYTES_DEFAULT), 0, VALUE_BYTES_MAX),
    queue: parseQueueName(flags.get("queue") ?? QUEUE_DEFAULT),
    batch: parseCount("batch", flags.get("batch") ?? String(BATCH_DEFAULT), 1, QUEUE_CONSUME_MAX_LIMIT),
    messages: parseCount("messages", flags.get("messages") ?? String(MESSAGES_DEFAULT), 0, MESSAGES_MAX),
  };
  const readRatioText = flags.get("read-ratio");
  if (readRatioText !== undefined) options.readRatio = parseFraction("read-ratio", readRatioText, 0, 1);
  const zipfText = flags.get("zipf");
  if (zipfText !== undefined) options.zipfExponent = parseFraction("zipf", zipfText, 0, ZIPF_EXPONENT_MAX);
  if (flags.has("spread")) options.isSpread = true;
  const nodesText = flags.get("nodes");
  if (nodesText !== undefined) options.nodes = parseNodes(nodesText);
  return options;
}

/** A decimal number in min..max: 0.9, .99, 1. */
function parseFraction(flag: string, text: string, min: number, max: number): number {
  const value = /^\d*\.?\d+$/.test(text.trim()) ? Number(text) : Number.NaN;
  if (!(value >= min && value <= max)) throw new BenchUsageError(`--${flag} must be a number in ${min}..${max}, got '${text}'`);
  return value;
}

function parseNodes(text: string): Address[] {
  const parts = text.split(",").map((part) => part.trim()).filter((part) => part !== "");
  if (parts.length === 0 || parts.length > NODES_MAX) throw new BenchUsageError(`--nodes takes 1..${NODES_MAX} host:port, comma-separated, got '${text}'`);
  return parts.map((part) => {
    try {
      return parseAddress(part);
    } catch (error) {
      throw new BenchUsageError(`--nodes: ${(error as Error).message}`);
    }
  });
}

/** The node would refuse every request of a run with a bad name: say so before it starts. */
function parseQueueName(name: string): string {
  const bytes = Buffer.byteLength(name);
  if (bytes > QUEUE_NAME_BYTES_MAX) throw new BenchUsageError(`--queue must be at most ${QUEUE_NAME_BYTES_MAX} bytes, got ${bytes}`);
  if (name.endsWith(DEAD_LETTER_SUFFIX)) throw new BenchUsageError(`--queue: '${name}' names a dead-letter queue, which takes no produces`);
  return name;
}

export type HttpScenarioName = "lock" | "queue" | "cache";
export const HTTP_SCENARIOS: readonly HttpScenarioName[] = ["lock", "queue", "cache"];
/** The original report's Locust runs: 10 users each. */
export const HTTP_USERS_DEFAULT = 10;

/** `sinkron bench http …`: the HTTP API's scenarios have flags of their own (no --target: --http URLs). */
export interface HttpBenchOptions {
  scenarios: HttpScenarioName[];
  /** Closed-loop users per scenario, spread round-robin over `bases`. */
  users: number;
  durationMs: number;
  warmupMs: number;
  /** The nodes' HTTP base URLs, without a trailing slash: `http://127.0.0.1:8001`. */
  bases: string[];
  jsonPath: string | null;
  token: string | null;
  showProgress: boolean;
}

const HTTP_VALUE_FLAGS = new Set(["http", "scenario", "users", "duration", "warmup", "json", "token"]);
const HTTP_BOOLEAN_FLAGS = new Set(["quiet"]);

/** Parses the flags after `http` (`--http URL` is repeatable and takes comma-separated URLs). */
export function parseHttpBenchArgs(argv: readonly string[]): HttpBenchOptions {
  const flags = readFlags(argv, HTTP_VALUE_FLAGS, HTTP_BOOLEAN_FLAGS, new Set(["http"]));
  const httpText = flags.get("http");
  if (httpText === undefined) throw new BenchUsageError("--http http://host:port is required (repeatable, or comma-separated)");
  const bases = httpText.split(",").map((part) => part.trim()).filter((part) => part !== "");
  if (bases.length === 0 || bases.length > NODES_MAX) throw new BenchUsageError(`--http takes 1..${NODES_MAX} URLs, got '${httpText}'`);
  const scenarioText = flags.get("scenario") ?? "all";
  if (scenarioText !== "all" && !HTTP_SCENARIOS.includes(scenarioText as HttpScenarioName)) {
    throw new BenchUsageError(`--scenario must be lock, queue, cache or all, got '${scenarioText}'`);
  }
  return {
    scenarios: scenarioText === "all" ? [...HTTP_SCENARIOS] : [scenarioText as HttpScenarioName],
    users: parseCount("users", flags.get("users") ?? String(HTTP_USERS_DEFAULT), 1, CONNECTIONS_MAX),
    durationMs: parseDurationFlag("duration", flags.get("duration") ?? `${DURATION_MS_DEFAULT}ms`, 1),
    warmupMs: parseDurationFlag("warmup", flags.get("warmup") ?? `${WARMUP_MS_DEFAULT}ms`, 0),
    bases: bases.map(parseBaseUrl),
    jsonPath: flags.get("json") ?? null,
    token: flags.get("token") ?? null,
    showProgress: !flags.has("quiet"),
  };
}

function parseBaseUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new BenchUsageError(`--http takes URLs such as http://127.0.0.1:8001, got '${text}'`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new BenchUsageError(`--http takes http:// or https:// URLs, got '${text}'`);
  if (url.search !== "" || url.hash !== "") throw new BenchUsageError(`--http takes a base URL without query or fragment, got '${text}'`);
  return url.href.replace(/\/+$/, "");
}

/** `repeatable` flags may be given more than once: their values are joined with commas. */
function readFlags(argv: readonly string[], valueFlags: ReadonlySet<string> = VALUE_FLAGS, booleanFlags: ReadonlySet<string> = BOOLEAN_FLAGS, repeatable: ReadonlySet<string> = new Set()): Map<string, string> {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith("--")) throw new BenchUsageError(`unexpected argument '${arg}'`);
    const eq = arg.indexOf("=");
    const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    if (flags.has(name) && !repeatable.has(name)) throw new BenchUsageError(`--${name} given twice`);
    if (booleanFlags.has(name)) {
      if (eq >= 0) throw new BenchUsageError(`--${name} takes no value`);
      flags.set(name, "");
      continue;
    }
    if (!valueFlags.has(name)) throw new BenchUsageError(`unknown option --${name}`);
    const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined || value === "") throw new BenchUsageError(`--${name} needs a value`);
    const earlier = flags.get(name);
    flags.set(name, earlier === undefined ? value : `${earlier},${value}`);
  }
  return flags;
}

function parseCount(flag: string, text: string, min: number, max: number): number {
  // Accepts 1000000, 1_000_000 and 1e6: counts in benchmarks are typed by hand.
  const value = Number(text.replaceAll("_", ""));
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new BenchUsageError(`--${flag} must be an integer in ${min}..${max}, got '${text}'`);
  }
  return value;
}

function parseDurationFlag(flag: string, text: string, minMs: number): number {
  const durationMs = parseDurationMs(text);
  if (durationMs === null || durationMs < minMs || durationMs > DURATION_MS_MAX) {
    throw new BenchUsageError(`--${flag} must be a duration such as 500ms, 10s or 1m (at most 24h), got '${text}'`);
  }
  return durationMs;
}

const DURATION_UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, "": 1000 };

/** "500ms" → 500, "10s" → 10000, "1.5m" → 90000, "3" → 3000 (seconds); null when unreadable. */
export function parseDurationMs(text: string): number | null {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|)$/.exec(text.trim());
  if (match === null) return null;
  return Math.round(Number(match[1]) * DURATION_UNIT_MS[match[2]!]!);
}
