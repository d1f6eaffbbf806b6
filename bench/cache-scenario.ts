// The original report's cache scenario (README: ~176 cache ops/s on 3 nodes): C clients, each
// a closed loop that writes a value unique to the round on node i, then reads the key back on
// node i+1 (i moving on every round). The cache promises that a read which starts after a
// write was acknowledged returns that write or a newer one, on every node; only this loop
// writes its key, so any other answer (NOT_FOUND included) is a STALE read, counted in every
// phase. A client has a connection to every node and needs two of them per round, so this is a
// driver of its own rather than the runner's one-connection loops; it keeps the runner's
// phases, bounds and measurements.
import { connect, SinkronError, type SinkronClient } from "../src/client/index.ts";
import { formatAddress } from "../src/util/address.ts";
import type { BenchReport } from "./report.ts";
import { type RunConfig, type RunHooks, type RunMeasurements } from "./runner.ts";
import { drivePhases } from "./phases.ts";
import { RoundRun, StaleReadTally } from "./round-run.ts";
import type { ReportSection, RunContext } from "./workloads.ts";
import { isMap } from "./answers.ts";

/** The original system's figure for this scenario on 3 nodes, in requests/s. */
export const ORIGINAL_REQUESTS_PER_SEC = 176;
/** The failure code of a read that did not return the value its round just wrote. */
export const STALE_CODE = "STALE";
/** A call's deadline: past the node's own (5 s), so its UNAVAILABLE arrives before our TIMEOUT. */
const CALL_TIMEOUT_MS = 10_000;

/** Stale reads, and the shape of the run they came from. */
export class ScenarioTally extends StaleReadTally {
  nodes = 0;
  loops = 0;
}


type Outcome = { code: string; message: string | null };
const OK: Outcome = { code: "OK", message: null };

class ScenarioRun extends RoundRun {
  /** A round is two requests of --requests. */
  constructor(config: RunConfig) {
    super(config.requestsTotal ?? null, 2);
  }

  /** One request (each with its deadline, CALL_TIMEOUT_MS); its outcome, or null once the run is over. */
  call(client: SinkronClient, command: string, args: Record<string, unknown>, isMeasured: boolean, check: (value: unknown) => Outcome, onError: (error: SinkronError) => Outcome): Promise<Outcome | null> {
    return this.measure(command, isMeasured, async () => {
      try {
        return check(await client.call(command, args, { timeoutMs: CALL_TIMEOUT_MS }));
      } catch (error) {
        return error instanceof SinkronError ? onError(error) : { code: "INTERNAL", message: String(error) };
      }
    });
  }
}

export interface ScenarioSetup {
  valueBytes: number;
  tally: ScenarioTally;
}

/**
 * Runs the scenario over `context.nodes` with `config.connections` clients × `config.pipelineDepth`
 * loops each. Rejects only when a client cannot connect; everything after is a measurement.
 */
export async function driveCacheScenario(config: RunConfig, context: RunContext, hooks: RunHooks, setup: ScenarioSetup): Promise<RunMeasurements> {
  const clients = await connectClients(config.connections, context);
  const run = new ScenarioRun(config);
  const { tally } = setup;
  tally.nodes = context.nodes.length;
  tally.loops = config.connections * config.pipelineDepth;
  // A tag of this run in every value: a value left by an earlier run is stale too.
  const runTag = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
  try {
    await drivePhases(run, config, hooks, () => {
      for (let c = 0; c < clients.length; c++) {
        for (let p = 0; p < config.pipelineDepth; p++) {
          const loop = c * config.pipelineDepth + p;
          void clientLoop(run, tally, clients[c]!, loop, `scenario-${loop}`, (round) => padTo(`${runTag}:${loop}:${round}:`, setup.valueBytes));
        }
      }
    });
  } finally {
    await Promise.all(clients.flat().map((client) => client.close()));
  }
  return run.measurements();
}

/** One loop: SET on node i, then GET on node i+1, i moving on by one a round. */
async function clientLoop(run: ScenarioRun, tally: ScenarioTally, nodes: SinkronClient[], loop: number, key: string, valueOf: (round: number) => string): Promise<void> {
  const n = nodes.length;
  for (let round = 0; ; round++) {
    const isMeasured = run.startRound();
    if (isMeasured === null) return;
    try {
      const i = (loop + round) % n;
      const j = (i + 1) % n;
      const value = valueOf(round);
      const wrote = await run.call(nodes[i]!, "CACHE.SET", { key, value }, isMeasured, (answer) => (isMap(answer) && answer.ok === true ? OK : unexpected("CACHE.SET", answer)), (error) => ({ code: error.code, message: error.message }));
      if (wrote?.code !== "OK") continue;
      const where = `read on node ${j + 1} of ${n} after the write on node ${i + 1}`;
      const stale = (got: string): Outcome => {
        const message = `${key}: ${got}, expected ${JSON.stringify(value)} (${where})`;
        tally.noteStale(message);
        return { code: STALE_CODE, message };
      };
      const read = await run.call(
        nodes[j]!,
        "CACHE.GET",
        { key },
        isMeasured,
        (answer) => (isMap(answer) && answer.value === value ? OK : stale(`got ${preview(isMap(answer) ? answer.value : answer)}`)),
        // The write was acknowledged: the key must be there.
        (error) => (error.code === "NOT_FOUND" ? stale("NOT_FOUND") : { code: error.code, message: error.message }),
      );
      if (read !== null) tally.reads++;
    } finally {
      run.endRound();
    }
  }
}

/** `clients` × a connection to every node, each its own client (its own socket). */
async function connectClients(clients: number, context: RunContext): Promise<SinkronClient[][]> {
  const connected: SinkronClient[] = [];
  try {
    const all: SinkronClient[][] = [];
    for (let c = 0; c < clients; c++) {
      const row = await Promise.all(
        context.nodes.map((address) =>
          connect({ nodes: [formatAddress(address)], token: context.token ?? undefined, name: `sinkron-bench-${c}`, nodeOrder: "in-order", requestTimeoutMs: CALL_TIMEOUT_MS }).then((client) => {
            connected.push(client);
            return client;
          }),
        ),
      );
      all.push(row);
    }
    return all;
  } catch (error) {
    await Promise.all(connected.map((client) => client.close()));
    throw error;
  }
}

/** The scenario's lines: requests/s against the original's, and the stale reads of every phase. */
export function scenarioSection(tally: ScenarioTally, context: RunContext, report: BenchReport): ReportSection {
  const requestsPerSec = report.throughputOpsPerSec;
  const times = requestsPerSec / ORIGINAL_REQUESTS_PER_SEC;
  const lines = [
    `${tally.loops} client loop${tally.loops === 1 ? "" : "s"} over ${tally.nodes} node${tally.nodes === 1 ? "" : "s"} (${context.nodes.map(formatAddress).join(", ")}): write on node i, read on node i+1`,
    `${int.format(requestsPerSec)} requests/s = ${times >= 10 ? int.format(times) : times.toFixed(1)}× the original report's ${ORIGINAL_REQUESTS_PER_SEC} requests/s`,
    `stale reads ${int.format(tally.staleReads)} of ${int.format(tally.reads)} reads (warmup included)${tally.firstStale === null ? "" : `; first: ${tally.firstStale}`}`,
  ];
  return {
    name: "scenario",
    lines,
    failures: tally.staleReads,
    json: { nodes: context.nodes.map(formatAddress), loops: tally.loops, requestsPerSec, originalRequestsPerSec: ORIGINAL_REQUESTS_PER_SEC, timesOriginal: Math.round(times * 10) / 10, reads: tally.reads, staleReads: tally.staleReads, firstStale: tally.firstStale },
  };
}

function unexpected(command: string, answer: unknown): Outcome {
  return { code: "UNEXPECTED_VALUE", message: `unexpected answer to ${command}: ${preview(answer)}` };
}

/** `prefix` followed by "v"s up to `bytes` (never cut: the prefix makes the value unique). */
function padTo(prefix: string, bytes: number): string {
  return prefix.length >= bytes ? prefix : prefix + "v".repeat(bytes - prefix.length);
}

function preview(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

const int = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
