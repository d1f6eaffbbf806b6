// The cache workloads: cache-hit (GETs of lines the node holds), cache-mix (GETs and SETs over
// a Zipf key set) and cache-scenario (the original report's write-here, read-there loop, in
// cache-scenario.ts). Around each run the nodes' own CACHE.METRICS are read, so a run that
// missed instead of hitting says so next to its throughput.
import { connect, type CacheMetrics, type SinkronClient } from "../src/client/index.ts";
import { formatAddress } from "../src/util/address.ts";
import { seededRandom } from "../src/util/prng.ts";
import { READ_RATIO_DEFAULT, ZIPF_EXPONENT_DEFAULT, type BenchOptions } from "./args.ts";
import { driveCacheScenario, ScenarioTally, scenarioSection } from "./cache-scenario.ts";
import type { BenchReport } from "./report.ts";
import type { BenchRequest, ReportSection, RunContext, RunProbe, WorkloadSpec } from "./workloads.ts";
import { ZipfSampler } from "./zipf.ts";
import { isMap } from "./answers.ts";

/** cache-hit checks (decodes) one answer in this many; the rest are counted by envelope. */
export const CACHE_HIT_CHECK_EVERY = 16;

/** Keys warmed (read once on every node) in flight at a time, as the setup writes them. */
const WARM_BATCH = 256;


export function cacheKeys(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `c${i}`);
}

/** Measured GET answers by where the node took the value from. */
export interface AnswerSources {
  cache: number;
  store: number;
}

/** A measured GET answer is right when it holds `value`; its source is counted on the way. */
function checkGet(answer: unknown, value: string, sources: AnswerSources): boolean {
  if (!isMap(answer) || answer.value !== value) return false;
  if (answer.source === "cache") sources.cache++;
  else sources.store++;
  return true;
}

/**
 * CACHE.GET only, round-robin over `--keys` keys: the setup writes them, the probe reads each
 * once on every node of the run, so the run's GETs are hits — but for the one miss per key and
 * lease (--cache-lease-ms) that renews a line, which the hit ratio shows.
 */
export function cacheHitWorkload(options: BenchOptions): WorkloadSpec {
  const value = "v".repeat(options.valueBytes);
  const keys = cacheKeys(options.keys);
  const requests = keys.map((key) => Object.freeze(["CACHE.GET", { key }] as const) as BenchRequest);
  const sources: AnswerSources = { cache: 0, store: 0 };
  let connection = 0;
  return {
    setup: keys.map((key) => ["CACHE.SET", { key, value }] as const),
    nodes: options.isSpread === true ? "all" : "target",
    probe: cacheProbe({ warmKeys: keys, sources }),
    make: () => {
      let at = (connection++ * 7919) % requests.length;
      return {
        name: "cache-hit",
        next: () => requests[(at = (at + 1) % requests.length)]!,
        check: (_request, answer) => checkGet(answer, value, sources),
        // Decoding every 100-byte answer costs the load generator more than the server.
        checkEvery: CACHE_HIT_CHECK_EVERY,
      };
    },
  };
}

/**
 * CACHE.GET with probability --read-ratio, else CACHE.SET, of a key drawn from a Zipf law over
 * `--keys` keys (c0 the most popular). Every SET writes the value the setup wrote, so every GET
 * must find it; the point is the traffic: invalidations of the other nodes' lines, misses, and
 * the writes' round trips through the key's home and the store.
 */
export function cacheMixWorkload(options: BenchOptions): WorkloadSpec {
  const value = "v".repeat(options.valueBytes);
  const readRatio = options.readRatio ?? READ_RATIO_DEFAULT;
  const zipf = new ZipfSampler(options.keys, options.zipfExponent ?? ZIPF_EXPONENT_DEFAULT);
  const keys = cacheKeys(options.keys);
  // Built on first use and shared by the connections: a key's request keeps its encoding.
  const gets = new Array<BenchRequest | undefined>(keys.length);
  const sets = new Array<BenchRequest | undefined>(keys.length);
  const sources: AnswerSources = { cache: 0, store: 0 };
  let connection = 0;
  return {
    setup: keys.map((key) => ["CACHE.SET", { key, value }] as const),
    nodes: options.isSpread === true ? "all" : "target",
    probe: cacheProbe({ warmKeys: null, sources }),
    make: () => {
      const random = seededRandom(++connection);
      return {
        name: "cache-mix",
        next: () => {
          const rank = zipf.rank(random());
          if (random() < readRatio) return (gets[rank] ??= Object.freeze(["CACHE.GET", { key: keys[rank]! }] as const));
          return (sets[rank] ??= Object.freeze(["CACHE.SET", { key: keys[rank]!, value }] as const));
        },
        check: (request, answer) => (request[0] === "CACHE.GET" ? checkGet(answer, value, sources) : isMap(answer) && answer.ok === true),
      };
    },
  };
}

/**
 * The original report's scenario: `--connections` clients (default 10), each a closed loop
 * (`--pipeline` loops) of CACHE.SET of a value unique to the round on node i and CACHE.GET of
 * it on node i+1, over every node. A read of anything else is STALE. rounds/s = OK reads/s.
 */
export function cacheScenarioWorkload(options: BenchOptions): WorkloadSpec {
  const tally = new ScenarioTally();
  return {
    nodes: "all",
    unit: { name: "rounds", command: "CACHE.GET" },
    drive: (config, context, hooks) => driveCacheScenario(config, context, hooks, { valueBytes: options.valueBytes, tally }),
    probe: cacheProbe({ warmKeys: null, sources: null, more: (context, report) => scenarioSection(tally, context, report) }),
  };
}

interface CacheProbeOptions {
  /** Keys to read once on every node before the run, so its GETs find lines. */
  warmKeys: string[] | null;
  /** The workload's count of measured GET answers by source; null when it has none. */
  sources: AnswerSources | null;
  /** A workload's own lines and numbers, shown before the nodes' counters. */
  more?: (context: RunContext, report: BenchReport) => ReportSection;
}

type CounterName = "hits" | "misses" | "writes" | "invalidations" | "evictions";
const COUNTERS: readonly CounterName[] = ["hits", "misses", "writes", "invalidations", "evictions"];

/** Warms the lines, then reads every node's CACHE.METRICS before and after the run: the report's `cache` section. */
function cacheProbe(probe: CacheProbeOptions): RunProbe {
  let before: CacheMetrics[] = [];
  return {
    before: (context) =>
      withClients(context, async (clients) => {
        if (probe.warmKeys !== null) await Promise.all(clients.map((client) => warm(client, probe.warmKeys!)));
        before = await Promise.all(clients.map((client) => client.cache.metrics()));
      }),
    after: (context, report) =>
      withClients(context, async (clients) => {
        const after = await Promise.all(clients.map((client) => client.cache.metrics()));
        const nodes = context.nodes.map((address, i) => nodeDelta(formatAddress(address), before[i], after[i]!));
        const lines: string[] = [];
        const json: Record<string, unknown> = {};
        if (probe.sources !== null) {
          const { cache, store } = probe.sources;
          lines.push(`checked GETs answered from the serving node's cache: ${ratioText(cache, cache + store)} (${int.format(cache)} from cache, ${int.format(store)} through the key's home)`);
          json.answers = { cache, store, hitRatio: ratio(cache, cache + store) };
        }
        lines.push(...nodeTable(nodes));
        json.nodes = nodes;
        const cache: ReportSection = { name: "cache", lines, json };
        return probe.more === undefined ? [cache] : [probe.more(context, report), cache];
      }),
  };
}

type NodeDelta = Record<CounterName, number> & { node: string; hitRatio: number | null; entries: number; store: string; leaseMs: number };

/** A node's counters over the run (warmup included: they are the node's, not the run's). */
function nodeDelta(node: string, before: CacheMetrics | undefined, after: CacheMetrics): NodeDelta {
  const delta = Object.fromEntries(COUNTERS.map((name) => [name, after[name] - (before?.[name] ?? 0)])) as Record<CounterName, number>;
  return { node, ...delta, hitRatio: ratio(delta.hits, delta.hits + delta.misses), entries: after.entries, store: after.store, leaseMs: after.leaseMs };
}

function nodeTable(nodes: readonly NodeDelta[]): string[] {
  const header = ["node counters during the run", "hits", "misses", "hit ratio", "writes", "invalidations", "evictions", "lines"];
  const rows = nodes.map((n) => [n.node, ...[n.hits, n.misses].map((v) => int.format(v)), ratioText(n.hits, n.hits + n.misses), ...[n.writes, n.invalidations, n.evictions, n.entries].map((v) => int.format(v))]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  const store = nodes[0] === undefined ? "" : `  (store ${nodes[0].store}, lease ${int.format(nodes[0].leaseMs)} ms)`;
  return [line(header) + store, ...rows.map(line)];
}

/** Reads every key once, WARM_BATCH at a time: each becomes a line on this node for a lease. */
async function warm(client: SinkronClient, keys: readonly string[]): Promise<void> {
  for (let at = 0; at < keys.length; at += WARM_BATCH) {
    await Promise.all(keys.slice(at, at + WARM_BATCH).map((key) => client.cache.get({ key })));
  }
}

/** One client per node of the run, closed when `use` is done. */
async function withClients<T>(context: RunContext, use: (clients: SinkronClient[]) => Promise<T>): Promise<T> {
  const clients: SinkronClient[] = [];
  try {
    for (const address of context.nodes) {
      clients.push(await connect({ nodes: [formatAddress(address)], token: context.token ?? undefined, nodeOrder: "in-order", reconnect: false }));
    }
    return await use(clients);
  } finally {
    await Promise.all(clients.map((client) => client.close()));
  }
}

const int = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

function ratio(part: number, whole: number): number | null {
  return whole === 0 ? null : Math.round((part / whole) * 1e6) / 1e6;
}

/** "99.97%", never "100.00%" while something missed; "-" of nothing. */
export function ratioText(part: number, whole: number): string {
  if (whole === 0) return "-";
  const percent = (part * 100) / whole;
  return `${part < whole && percent > 99.99 ? "99.99" : percent.toFixed(2)}%`;
}
