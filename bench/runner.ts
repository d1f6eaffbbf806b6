// The generic load runner: opens C connections, warms up, then runs every connection's closed
// loop until the duration or request count is reached, and returns what it measured. It is
// always bounded — by the duration, the count, a stall timeout, or an abort (Ctrl-C) — and
// every measured request ends up exactly once as an answer (OK or by code) or as lost (an
// interrupted run reports its last in-flight requests as neither).
import type { Histogram } from "hdr-histogram-js";
import { createLatencyHistogram, LatencyRecorder } from "./histogram.ts";
import { LoadConnection, type LoadSink } from "./load-connection.ts";
import type { Workload } from "./workloads.ts";
import type { BenchOptions } from "./args.ts";
import { drivePhases, type DrivenRun, type RunPhase } from "./phases.ts";

/** What the runner needs of the parsed options (bench/args.ts documents each). */
export type RunConfig = Pick<BenchOptions, "target" | "connections" | "pipelineDepth" | "durationMs" | "requestsTotal" | "warmupMs" | "token">;

export interface RunHooks {
  /** Aborting stops at once and returns what was measured so far (`interrupted: true`). */
  signal?: AbortSignal;
  /** Called about once a second with the current state, for the progress line. */
  onTick?: (tick: RunTick) => void;
}

export interface RunTick {
  phase: "warmup" | "measure" | "drain";
  elapsedMs: number;
  answersPerSec: number;
  answersMeasured: number;
  failuresMeasured: number;
  inflight: number;
}

export interface ErrorTally {
  count: number;
  /** The first message seen with this code, to say what went wrong. */
  message: string | null;
}

/** The measured answers to one command of the workload. */
export interface CommandMeasurements {
  answered: number;
  ok: number;
  latencyUs: Histogram;
}

export interface RunMeasurements {
  latencyUs: Histogram;
  /** The same answers by command, for workloads that send several (consume and ack). */
  commands: Map<string, CommandMeasurements>;
  /** Measured requests sent, answered (any status) and lost (never answered). */
  requestsSent: number;
  requestsAnswered: number;
  requestsOk: number;
  requestsLost: number;
  errors: Map<string, ErrorTally>;
  /** From the end of warmup to the last measured answer (or the interrupt). */
  elapsedMs: number;
  interrupted: boolean;
}

export { DRAIN_TIMEOUT_MS, STALL_TIMEOUT_MS } from "./phases.ts";

interface CommandTally {
  answered: number;
  ok: number;
  latencyUs: LatencyRecorder;
}

/**
 * What a run measures, kept as it goes and turned into RunMeasurements at the end: the
 * runner's LoadRun and the cache scenario's driver (cache-scenario.ts) both build on it.
 */
export class RunTally {
  // One recorder per command (merged for the total at the end), so a run of one command
  // records each latency once and a mixed run keeps each command's runs of equal values.
  readonly commands = new Map<string, CommandTally>();
  private lastCommand: string | null = null;
  private lastTally: CommandTally | null = null;
  readonly errors = new Map<string, ErrorTally>();
  requestsSent = 0;
  requestsAnswered = 0;
  requestsOk = 0;
  requestsLost = 0;
  measureStartMs = 0;
  lastMeasuredAnswerMs = 0;
  interrupted = false;

  /** An answer to a measured `command` request. `code` is "OK" or the failure's code. */
  recordAnswer(command: string, code: string, latencyUs: number, message: string | null): void {
    this.requestsAnswered++;
    const tally = this.commandTally(command);
    tally.answered++;
    tally.latencyUs.record(latencyUs);
    if (code === "OK") {
      this.requestsOk++;
      tally.ok++;
    } else this.tally(code, 1, message);
  }

  /** Measured requests that will never be answered. */
  recordLost(code: string, count: number, message: string): void {
    this.requestsLost += count;
    this.tally(code, count, message);
  }

  /** What was measured; the elapsed time ends at the last measured answer, or now for an interrupted run. */
  measurements(): RunMeasurements {
    const { commands, latencyUs } = this.results();
    const endMs = this.interrupted ? performance.now() : this.lastMeasuredAnswerMs;
    return {
      latencyUs,
      commands,
      requestsSent: this.requestsSent,
      requestsAnswered: this.requestsAnswered,
      requestsOk: this.requestsOk,
      requestsLost: this.requestsLost,
      errors: this.errors,
      elapsedMs: this.measureStartMs === 0 ? 0 : Math.max(0, endMs - this.measureStartMs),
      interrupted: this.interrupted,
    };
  }

  /** Per-command numbers so far, with the latency histograms flushed; the total histogram merged from them. */
  private results(): { commands: Map<string, CommandMeasurements>; latencyUs: Histogram } {
    const commands = new Map<string, CommandMeasurements>();
    for (const [command, tally] of this.commands) {
      tally.latencyUs.flush();
      commands.set(command, { answered: tally.answered, ok: tally.ok, latencyUs: tally.latencyUs.histogram });
    }
    const histograms = [...commands.values()].map((c) => c.latencyUs);
    if (histograms.length === 1) return { commands, latencyUs: histograms[0]! };
    const latencyUs = createLatencyHistogram();
    for (const histogram of histograms) latencyUs.add(histogram);
    return { commands, latencyUs };
  }

  private commandTally(command: string): CommandTally {
    // Requests of one workload share their command strings: one comparison in the usual case.
    if (command === this.lastCommand) return this.lastTally!;
    let tally = this.commands.get(command);
    if (tally === undefined) this.commands.set(command, (tally = { answered: 0, ok: 0, latencyUs: new LatencyRecorder() }));
    this.lastCommand = command;
    this.lastTally = tally;
    return tally;
  }

  private tally(code: string, count: number, message: string | null): void {
    const tally = this.errors.get(code);
    if (tally === undefined) this.errors.set(code, { count, message });
    else tally.count += count;
  }
}

class LoadRun extends RunTally implements LoadSink, DrivenRun {
  phase: RunPhase = "connect";
  readonly connections: LoadConnection[] = [];
  answersAll = 0;
  lastAnswerMs = 0;
  private ticketsLeft: number;
  private finish: () => void = () => {};
  readonly finished = new Promise<void>((resolve) => (this.finish = resolve));

  constructor(readonly config: RunConfig) {
    super();
    this.ticketsLeft = config.requestsTotal ?? Number.POSITIVE_INFINITY;
  }

  takeTicket(): boolean {
    switch (this.phase) {
      case "warmup":
        return true;
      case "measure":
        if (this.ticketsLeft <= 0) return false;
        this.ticketsLeft--;
        this.requestsSent++;
        if (this.ticketsLeft === 0) this.phase = "drain";
        return true;
      default:
        return false;
    }
  }

  isMeasuring(): boolean {
    return this.phase === "measure" || this.phase === "drain";
  }

  noteAnswers(count: number, nowMs: number): void {
    this.answersAll += count;
    this.lastAnswerMs = nowMs;
    if (this.isMeasuring()) this.lastMeasuredAnswerMs = nowMs;
  }

  onIdle(): void {
    if (this.phase !== "drain") {
      // Every connection dead during warmup or measure: nothing more can happen.
      if (this.phase !== "done" && this.connections.every((c) => c.isClosed)) this.end();
      return;
    }
    if (this.connections.every((c) => c.inflight === 0 || c.isClosed)) this.end();
  }

  startMeasuring(nowMs: number): void {
    this.phase = this.ticketsLeft === 0 ? "drain" : "measure";
    this.measureStartMs = nowMs;
    this.lastMeasuredAnswerMs = nowMs;
  }

  stopIssuing(): void {
    if (this.phase === "measure" || this.phase === "warmup") this.phase = "drain";
    this.onIdle();
  }

  /** Counts what is still in flight as never answered, then ends. */
  giveUp(code: string, message: string): void {
    for (const connection of this.connections) {
      const lost = connection.measuredInflight();
      if (lost > 0) this.recordLost(code, lost, message);
    }
    this.end();
  }

  end(): void {
    if (this.phase === "done") return;
    this.phase = "done";
    for (const connection of this.connections) connection.close();
    this.finish();
  }

  inflight(): number {
    let total = 0;
    for (const connection of this.connections) total += connection.inflight;
    return total;
  }
}

/**
 * Runs `workload` against `config.target`. Rejects only when the connections cannot be set
 * up (refused, HELLO failed); everything after that is a measurement, errors included.
 */
export async function runLoad(config: RunConfig, workload: () => Workload, hooks: RunHooks = {}): Promise<RunMeasurements> {
  const run = new LoadRun(config);
  for (let i = 0; i < config.connections; i++) run.connections.push(new LoadConnection(run, workload(), config.pipelineDepth));
  try {
    await Promise.all(run.connections.map((c) => c.open(config.target, config.token)));
  } catch (error) {
    run.end();
    throw error;
  }
  await drivePhases(run, config, hooks, (startMs) => {
    // Nothing answered yet: the stall check counts from the start.
    run.lastAnswerMs = startMs;
    for (const connection of run.connections) connection.startLoad();
  });
  return run.measurements();
}
