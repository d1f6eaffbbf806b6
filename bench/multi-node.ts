// Runs that use several nodes: which nodes (--nodes, or the members the target's STATUS lists)
// and one workload's connections spread over them. The runner stays single-target: each node
// gets a runner of its own, all started together, their measurements merged as one run's.
import type { Histogram } from "hdr-histogram-js";
import { connect } from "../src/client/index.ts";
import { formatAddress, parseAddress, type Address } from "../src/util/address.ts";
import { createLatencyHistogram } from "./histogram.ts";
import { runLoad, type CommandMeasurements, type ErrorTally, type RunConfig, type RunHooks, type RunMeasurements, type RunTick } from "./runner.ts";
import type { RunContext, Workload } from "./workloads.ts";

/**
 * The nodes of a run: `given` (--nodes) as is; else the members with an address in the
 * target's STATUS, the target's own entry first, so "node i" means the same on every run.
 */
export async function discoverNodes(target: Address, token: string | null, given?: Address[]): Promise<Address[]> {
  if (given !== undefined) return given;
  const client = await connect({ nodes: [formatAddress(target)], token: token ?? undefined, nodeOrder: "in-order", reconnect: false });
  try {
    const status = await client.status();
    const addresses = status.members
      .filter((m) => m.address !== null)
      .sort((a, b) => a.id.localeCompare(b.id))
      .map((m) => parseAddress(m.address!));
    const targetText = formatAddress(target);
    const at = addresses.findIndex((a) => formatAddress(a) === targetText);
    // The target's own entry first; a target reached by another name than the members' stays out.
    const ordered = at < 0 ? addresses : [...addresses.slice(at), ...addresses.slice(0, at)];
    return ordered.length > 0 ? ordered : [target];
  } finally {
    await client.close();
  }
}

/** `workload`'s connections round-robin over `context.nodes` (connection k on node k mod n). */
export async function runOnNodes(config: RunConfig, context: RunContext, workload: () => Workload, hooks: RunHooks = {}): Promise<RunMeasurements> {
  const shares = shareOut(config, context.nodes);
  if (shares.length === 1) return runLoad({ ...config, ...shares[0]! }, workload, hooks);
  // One node's refused connection ends every run: a spread run without a node is not the run asked for.
  const inner = new AbortController();
  const onAbort = () => inner.abort();
  hooks.signal?.addEventListener("abort", onAbort);
  if (hooks.signal?.aborted) onAbort();
  const ticks: (RunTick | null)[] = shares.map(() => null);
  const runs = shares.map((share, i) =>
    runLoad({ ...config, ...share }, workload, {
      signal: inner.signal,
      onTick: (tick) => {
        ticks[i] = tick;
        if (i === 0) hooks.onTick?.(sumTicks(ticks, tick));
      },
    }).catch((error: unknown) => {
      inner.abort();
      throw error;
    }),
  );
  try {
    const settled = await Promise.allSettled(runs);
    const failed = settled.find((s) => s.status === "rejected");
    if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
    const measured = mergeMeasurements(settled.map((s) => (s as PromiseFulfilledResult<RunMeasurements>).value));
    return { ...measured, interrupted: hooks.signal?.aborted === true };
  } finally {
    hooks.signal?.removeEventListener("abort", onAbort);
  }
}

type Share = Pick<RunConfig, "target" | "connections" | "requestsTotal">;

/** Connections (and a --requests count) divided among the nodes; a node with no share is left out. */
function shareOut(config: RunConfig, nodes: readonly Address[]): Share[] {
  if (nodes.length === 0) return [{ target: config.target, connections: config.connections, requestsTotal: config.requestsTotal }];
  const shares: Share[] = [];
  let requestsLeft = config.requestsTotal;
  for (let i = 0; i < nodes.length && i < config.connections; i++) {
    const connections = Math.floor(config.connections / nodes.length) + (i < config.connections % nodes.length ? 1 : 0);
    let requestsTotal: number | null = null;
    if (config.requestsTotal !== null) {
      const isLast = i === Math.min(nodes.length, config.connections) - 1;
      requestsTotal = isLast ? requestsLeft! : Math.floor((config.requestsTotal * connections) / config.connections);
      requestsLeft! -= requestsTotal;
      if (requestsTotal === 0) continue;
    }
    shares.push({ target: nodes[i]!, connections, requestsTotal });
  }
  return shares;
}

function sumTicks(ticks: readonly (RunTick | null)[], first: RunTick): RunTick {
  const sum = { ...first, answersPerSec: 0, answersMeasured: 0, failuresMeasured: 0, inflight: 0 };
  for (const tick of ticks) {
    if (tick === null) continue;
    sum.answersPerSec += tick.answersPerSec;
    sum.answersMeasured += tick.answersMeasured;
    sum.failuresMeasured += tick.failuresMeasured;
    sum.inflight += tick.inflight;
  }
  return sum;
}

/** Several runs' measurements as one run's: counts and histograms added, the longest elapsed time. */
export function mergeMeasurements(runs: readonly RunMeasurements[]): RunMeasurements {
  const commands = new Map<string, CommandMeasurements>();
  const errors = new Map<string, ErrorTally>();
  for (const run of runs) {
    for (const [command, c] of run.commands) {
      const into = commands.get(command);
      if (into === undefined) commands.set(command, { answered: c.answered, ok: c.ok, latencyUs: copyOf(c.latencyUs) });
      else {
        into.answered += c.answered;
        into.ok += c.ok;
        into.latencyUs.add(c.latencyUs);
      }
    }
    for (const [code, tally] of run.errors) {
      const into = errors.get(code);
      if (into === undefined) errors.set(code, { ...tally });
      else into.count += tally.count;
    }
  }
  const sum = (pick: (run: RunMeasurements) => number) => runs.reduce((total, run) => total + pick(run), 0);
  const latencyUs = createLatencyHistogram();
  for (const c of commands.values()) latencyUs.add(c.latencyUs);
  return {
    latencyUs,
    commands,
    requestsSent: sum((r) => r.requestsSent),
    requestsAnswered: sum((r) => r.requestsAnswered),
    requestsOk: sum((r) => r.requestsOk),
    requestsLost: sum((r) => r.requestsLost),
    errors,
    elapsedMs: Math.max(0, ...runs.map((r) => r.elapsedMs)),
    interrupted: runs.some((r) => r.interrupted),
  };
}

function copyOf(histogram: Histogram): Histogram {
  const copy = createLatencyHistogram();
  copy.add(histogram);
  return copy;
}
