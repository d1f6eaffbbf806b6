// One seeded run of the cache model: 3–5 nodes, each a real LineTable and (as the home of some
// keys) a real HomeDirectory, over a network that delays, loses, reorders and duplicates, a
// store that is slow and sometimes fails, nodes paused like SIGSTOP or cut off for a while,
// clocks that drift, and clients issuing GET / SET / DEL / CACHE.INVALIDATE at random nodes.
// Every GET is checked as it returns; the whole history after the run. The seed decides
// everything, so a failure replays exactly (and its report is the same run again, traced).
import { DEFAULT_CACHE_SETTINGS, type CacheSettings } from "../../../src/cache/limits.ts";
import type { WriteChange } from "../../../src/cache/directory.ts";
import { Prng } from "../../raft/sim/prng.ts";
import { NodeProcess, Scheduler } from "./clock.ts";
import { CacheModelViolation, History, describeOp, type OpKind } from "./history.ts";
import { SimNetwork, type NetworkFaults, type Ordering, type Trace } from "./network.ts";
import { CacheNode, type HolderBug, type HomeBug } from "./node.ts";
import { SimStore, type StoreFaults } from "./store.ts";

export interface ModelOptions {
  /** What the run is held to: the README's read-after-acknowledgement, or linearizability too. */
  check: "read-after-ack" | "linearizable";
  /**
   * "fifo": each direction of a connection delivers in order, as the TCP peer transport does
   * (one connection per peer, calls failed — never resent — when it drops). "any": nothing
   * holds a message's place; the protocol is not built for that (see model.test.ts).
   */
  ordering: Ordering;
  /** Messages held back up to 1.5 leases (stalled connections). */
  hasLongDelays: boolean;
  /** The share of messages held back long; drawn per seed (up to 5%) when not given. */
  longDelayRate?: number;
  /** Store writes that time out and may land late, repaired by the home (home rule 4). */
  hasAmbiguousWrites: boolean;
  /** The share of store writes that time out; drawn per seed (up to 6%) when not given. */
  ambiguousWriteRate?: number;
  /** The chance, at each client operation, that a node is paused; drawn per seed (up to 3%) when not given. */
  pauseRate?: number;
  /** The home's directory bound; small makes reads and writes go unleased (home rule 5). */
  directoryEntriesMax: number;
  /** Keys are spread over this many homes at most (all nodes when not given). */
  homesMax?: number;
  holderBug: HolderBug | null;
  homeBug: HomeBug | null;
  operations: number;
  isTraced: boolean;
}

export const defaultModelOptions: ModelOptions = {
  check: "linearizable",
  ordering: "fifo",
  hasLongDelays: true,
  hasAmbiguousWrites: true,
  directoryEntriesMax: 100_000,
  holderBug: null,
  homeBug: null,
  operations: 300,
  isTraced: false,
};

export interface ModelResult {
  seed: number;
  nodes: number;
  keys: number;
  ordering: Ordering;
  operations: number;
  gets: number;
  hits: number;
  writesAcknowledged: number;
  unknownOutcomes: number;
  messagesLost: number;
  lateWrites: number;
  /** Late writes that landed when the next write of their key from their home came (home rule 4's order). */
  lateWritesOrdered: number;
  /** Store writes the homes sent again after an unknown outcome (home rule 4's repair). */
  repairs: number;
  pauses: number;
  cutOffs: number;
  localDrops: number;
  evictions: number;
}

/** Simulated milliseconds; a lease is long against the network so that hits are common. */
const LEASE_MS = 100;
const REQUEST_TIMEOUT_MS = 250;
/** A late store write not ordered by a later one lands up to this long after it timed out: no bound the home could wait out. */
const LATE_WRITE_MS_MAX = 8 * LEASE_MS;
/** After the workload, how long the homes may take to finish what is queued before it counts as stuck. */
const DRAIN_MS_MAX = 30_000;

/** Everything a seed decides before the run starts. */
interface Profile {
  nodeIds: string[];
  keys: string[];
  homes: Map<string, string>;
  settings: CacheSettings;
  network: NetworkFaults;
  store: StoreFaults;
  clock: { offsetMs: number; rate: number }[];
  meanGapMs: number;
  pauseRate: number;
  cutOffRate: number;
  localDropRate: number;
}

function drawProfile(p: Prng, options: ModelOptions): Profile {
  const nodeCount = p.int(3, 5);
  const nodeIds = Array.from({ length: nodeCount }, (_, i) => String.fromCharCode(65 + i));
  const keys = Array.from({ length: p.int(1, 4) }, (_, i) => `k${i}`);
  // One home per key, spread over the nodes (a ring in miniature).
  const homeOrder = p.shuffle(nodeIds.slice()).slice(0, options.homesMax ?? nodeCount);
  const homes = new Map(keys.map((key, i) => [key, homeOrder[i % homeOrder.length]!]));
  const storm = p.next();
  return {
    nodeIds,
    keys,
    homes,
    settings: {
      ...DEFAULT_CACHE_SETTINGS,
      entriesMax: p.int(1, 3),
      bytesMax: p.pick([200, 10_000]),
      leaseMs: LEASE_MS,
      directoryEntriesMax: options.directoryEntriesMax,
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
    },
    network: {
      ordering: options.ordering,
      lossRate: storm * 0.04,
      duplicateRate: p.next() * 0.15,
      delayMsMax: p.pick([1, 4, 10]),
      longDelayRate: options.hasLongDelays ? (options.longDelayRate ?? storm * 0.05) : 0,
      longDelayMsMax: 1.5 * LEASE_MS,
    },
    store: {
      legMsMax: p.pick([0.5, 2, 6]),
      readFailureRate: storm * 0.03,
      definiteWriteFailureRate: storm * 0.03,
      ambiguousWriteFailureRate: options.hasAmbiguousWrites ? (options.ambiguousWriteRate ?? storm * 0.06) : 0,
      lateMsMax: LATE_WRITE_MS_MAX,
    },
    // Crystal drift, well inside the 1% the holder allows for.
    clock: nodeIds.map(() => ({ offsetMs: p.next() * 1e6, rate: 1 + (p.next() - 0.5) * 0.006 })),
    // Busy enough that operations overlap, not so busy that a home's queue grows without end.
    meanGapMs: p.pick([6, 12, 25]),
    pauseRate: options.pauseRate ?? storm * 0.03,
    cutOffRate: storm * 0.02,
    localDropRate: p.next() * 0.05,
  };
}

class World {
  readonly scheduler = new Scheduler();
  readonly processes = new Map<string, NodeProcess>();
  readonly nodes = new Map<string, CacheNode>();
  readonly network: SimNetwork;
  readonly store: SimStore;
  readonly history: History;
  readonly traceLines: string[] = [];
  readonly counts = { pauses: 0, cutOffs: 0, localDrops: 0 };
  private readonly traceTo: Trace | null;

  constructor(
    readonly profile: Profile,
    prng: Prng,
    options: ModelOptions,
  ) {
    this.traceTo = options.isTraced ? (line: string) => this.traceLines.push(`[${this.scheduler.nowMs.toFixed(2)}] ${line}`) : null;
    profile.nodeIds.forEach((id, i) => this.processes.set(id, new NodeProcess(id, this.scheduler, profile.clock[i]!.offsetMs, profile.clock[i]!.rate)));
    this.network = new SimNetwork(this.scheduler, prng.fork(), this.processes, profile.network, this.traceTo);
    this.store = new SimStore(this.scheduler, prng.fork(), profile.store, this.traceTo);
    this.history = new History(this.store);
    const nodeWorld = {
      network: this.network,
      store: this.store,
      homeOf: (key: string) => profile.homes.get(key)!,
      node: (id: string) => this.nodes.get(id)!,
      trace: this.traceTo,
    };
    for (const id of profile.nodeIds) this.nodes.set(id, new CacheNode(id, this.processes.get(id)!, profile.settings, nodeWorld, options.holderBug, options.homeBug));
    for (const node of this.nodes.values()) node.start();
  }

  trace(line: string): void {
    this.traceTo?.(line);
  }

  /** A client's request to `nodeId`; it is served when the node runs (later if it is paused). */
  issue(nodeId: string, key: string, kind: OpKind): void {
    const node = this.nodes.get(nodeId)!;
    const { history, scheduler } = this;
    const value = kind === "set" ? `v${history.ops.length + 1}` : null;
    const op = history.begin(nodeId, key, kind, value, scheduler.nowMs);
    const label = describeOp(op).replace(/ \[.*$/, "");
    this.trace(`${label}: issued`);
    this.processes.get(nodeId)!.deliver(() => {
      if (kind === "get") {
        node.get(key, label, (outcome) => history.endGet(op, outcome.ok ? outcome : { ok: false }, scheduler.nowMs));
        return;
      }
      const change: WriteChange = kind === "set" ? { kind: "set", value } : { kind: "delete" };
      this.store.opOfChange.set(change, op.id);
      node.write(key, change, label, (outcome) => history.endWrite(op, outcome.ok ? outcome : { ok: false }, scheduler.nowMs));
    });
  }

  /** Pauses, cut-offs and local drops, drawn as the clients go (from a stream of their own). */
  injectFaults(p: Prng): void {
    const { scheduler, network, profile } = this;
    const leaseMs = profile.settings.leaseMs;
    if (p.chance(profile.pauseRate)) {
      const id = p.pick(profile.nodeIds);
      const process = this.processes.get(id)!;
      if (!process.isPaused) {
        const forMs = p.next() * 3 * leaseMs;
        process.pause();
        this.counts.pauses += 1;
        this.trace(`${NODE_EVENT}${id}: paused for ${forMs.toFixed(2)}`);
        scheduler.at(scheduler.nowMs + forMs, () => {
          this.trace(`${NODE_EVENT}${id}: resumed`);
          process.resume();
        });
      }
    }
    if (p.chance(profile.cutOffRate)) {
      const id = p.pick(profile.nodeIds);
      const forMs = p.next() * 2 * leaseMs;
      network.cutOff(id, scheduler.nowMs + forMs);
      this.counts.cutOffs += 1;
      this.trace(`${NODE_EVENT}${id}: cut off for ${forMs.toFixed(2)}`);
    }
    if (p.chance(profile.localDropRate)) {
      const id = p.pick(profile.nodeIds);
      const key = p.chance(0.2) ? null : p.pick(profile.keys);
      this.counts.localDrops += 1;
      this.processes.get(id)!.deliver(() => this.nodes.get(id)!.dropLocally(key));
    }
  }

  result(seed: number): ModelResult {
    const ops = this.history.ops;
    return {
      seed,
      nodes: this.profile.nodeIds.length,
      keys: this.profile.keys.length,
      ordering: this.profile.network.ordering,
      operations: ops.length,
      gets: ops.filter((op) => op.kind === "get" && op.status === "ok").length,
      hits: ops.filter((op) => op.source === "cache").length,
      writesAcknowledged: ops.filter((op) => op.kind !== "get" && op.status === "ok").length,
      unknownOutcomes: ops.filter((op) => op.kind !== "get" && op.status === "error" && this.store.versionOfOp(op.id) !== undefined).length,
      messagesLost: this.network.messagesLost,
      lateWrites: this.store.lateWrites,
      lateWritesOrdered: this.store.lateWritesOrdered,
      repairs: this.store.repairs,
      ...this.counts,
      evictions: [...this.nodes.values()].reduce((sum, node) => sum + node.lines.evictions, 0),
    };
  }
}

/** The world of `seed`, built and with its whole workload and fault plan scheduled. */
function prepare(seed: number, options: ModelOptions): { world: World; endMs: number } {
  const prng = new Prng(seed);
  const profile = drawProfile(prng.fork(), options);
  const world = new World(profile, prng, options);
  const workload = prng.fork();
  const faults = prng.fork();
  let atMs = 0;
  for (let i = 0; i < options.operations; i++) {
    atMs += -Math.log(1 - workload.next()) * profile.meanGapMs;
    const nodeId = workload.pick(profile.nodeIds);
    const key = workload.pick(profile.keys);
    const roll = workload.next();
    // Mostly reads, so lines live long enough to be hit between writes.
    const kind: OpKind = roll < 0.75 ? "get" : roll < 0.95 ? "set" : "del";
    world.scheduler.at(atMs, () => world.issue(nodeId, key, kind));
    world.scheduler.at(atMs, () => world.injectFaults(faults));
  }
  // Long enough for every pause and cut to end, every request to time out (late writes: see execute).
  return { world, endMs: atMs + 4 * profile.settings.leaseMs + 3 * profile.settings.requestTimeoutMs };
}

/** The history of `seed`'s run, unchecked at the end (for looking into a run by hand). */
export function historyOf(seed: number, overrides: Partial<ModelOptions> = {}): History {
  const options: ModelOptions = { ...defaultModelOptions, ...overrides };
  const { world, endMs } = prepare(seed, options);
  execute(world, endMs, { ...options, check: "read-after-ack" });
  return world.history;
}

/** Runs the world to its end; each GET is checked as it returns, the history at the end. */
function execute(world: World, endMs: number, options: ModelOptions): void {
  world.scheduler.runUntil(endMs);
  // Every request times out (also one to a local home), but a node paused late in the run
  // serves what piled up only on resume: let everything finish; then give the homes time to
  // finish what their timed-out requests left queued (repairs too), and every late write time to land.
  const drain = (isBusy: () => boolean): void => {
    for (let extraMs = 0; extraMs < DRAIN_MS_MAX && isBusy(); extraMs += 100) world.scheduler.runUntil(world.scheduler.nowMs + 100);
  };
  drain(() => world.history.ops.some((op) => op.status === "pending") || world.store.writesUnsettled > 0);
  world.scheduler.runUntil(world.scheduler.nowMs + 2 * REQUEST_TIMEOUT_MS);
  drain(() => world.store.writesUnsettled > 0);
  world.history.checkFinished();
  if (options.check === "linearizable") world.history.checkLinearizable();
}

/**
 * Runs `seed`; on a violation, runs it again traced (the same run: tracing draws nothing) and
 * throws the violation with its replay command, the profile and the trace of the key.
 */
export function runCacheSeed(seed: number, overrides: Partial<ModelOptions> = {}): ModelResult {
  const options: ModelOptions = { ...defaultModelOptions, ...overrides };
  const { world, endMs } = prepare(seed, options);
  try {
    execute(world, endMs, options);
    return world.result(seed);
  } catch (error) {
    const replay = `CACHE_MODEL_SEED=${seed}${Object.keys(overrides).length === 0 ? "" : ` CACHE_MODEL_OPTIONS='${JSON.stringify(overrides)}'`}`;
    // Not a violation (the simulation broke, or the checker gave up): still say how to replay it.
    if (!(error instanceof CacheModelViolation)) throw new Error(`cache model seed ${seed}: ${error instanceof Error ? error.message : String(error)}\nreplay: ${replay} bun test test/cache/model.test.ts`, { cause: error });
    throw new CacheModelViolation(report(seed, options, error, replay), error.key, error.opIds);
  }
}

const TRACE_LINES_MAX = 150;

function traceTimeMs(line: string): number {
  return Number(line.slice(1, line.indexOf("]")));
}
/** Marks trace lines about a whole node (pauses, cuts), kept in every key's trace. */
const NODE_EVENT = "* ";

function report(seed: number, options: ModelOptions, violation: CacheModelViolation, replay: string): string {
  const traced = { ...options, isTraced: true };
  const { world, endMs } = prepare(seed, traced);
  let again: unknown = null;
  try {
    execute(world, endMs, traced);
  } catch (error) {
    again = error;
  }
  const keyPattern = new RegExp(`\\b${violation.key}\\b|\\] \\${NODE_EVENT.trim()} `);
  // The lines of the key up to the end of the operations named (a GET checked as it returned
  // stopped the run there; the linearizability check runs at the end and names its suspects).
  const named = world.history.ops.filter((op) => violation.opIds.includes(op.id));
  const untilMs = named.length === 0 ? Infinity : Math.max(...named.map((op) => op.returnMs ?? op.callMs));
  const lines =
    again instanceof CacheModelViolation && again.message === violation.message
      ? world.traceLines.filter((line) => keyPattern.test(line) && traceTimeMs(line) <= untilMs + 0.01).slice(-TRACE_LINES_MAX)
      : ["(the traced run went differently: tracing changed the run — a bug in the simulation)"];
  const { profile } = world;
  return [
    `cache model seed ${seed} failed: ${violation.message}`,
    `replay: ${replay} bun test test/cache/model.test.ts`,
    `options: ${JSON.stringify({ ...options, isTraced: undefined })}`,
    `profile: nodes ${profile.nodeIds.join(",")}; homes ${[...profile.homes].map(([k, h]) => `${k}@${h}`).join(" ")}; ${profile.network.ordering} ordering; lines entriesMax ${profile.settings.entriesMax}`,
    `--- trace of ${violation.key} (last ${lines.length} lines; times are simulated ms) ---`,
    ...lines,
  ].join("\n");
}
