// A run made of closed-loop rounds (a write then a read on another node, a produce-consume-ack):
// the scenario workloads drive their own loops instead of the runner's pipelined connections,
// and share this bookkeeping — which phase the run is in, which requests are measured, what is
// in flight, when a drained run is over. Subclasses say how one request is made (measure()).
import type { DrivenRun, RunPhase } from "./phases.ts";
import { RunTally } from "./runner.ts";

export type RoundOutcome = { code: string; message: string | null };

/** Reads and stale reads of every phase (a stale read in the warmup is as wrong as any). */
export class StaleReadTally {
  reads = 0;
  staleReads = 0;
  firstStale: string | null = null;

  noteStale(message: string): void {
    this.staleReads++;
    this.firstStale ??= message;
  }
}

// No lastAnswerMs, so no stall check: every request a subclass makes has its own deadline.
export abstract class RoundRun extends RunTally implements DrivenRun {
  phase: RunPhase = "warmup";
  answersAll = 0;
  private measuredInflight = 0;
  private inflightNow = 0;
  private activeRounds = 0;
  private ticketsLeft: number;
  /** Aborted when the run ends: a subclass's requests still out may stop at once. */
  protected readonly abort = new AbortController();
  private finish: () => void = () => {};
  readonly finished = new Promise<void>((resolve) => (this.finish = resolve));

  /** `requestsTotal` (--requests) counts `requestsPerRound` a measured round; null: by duration. */
  constructor(requestsTotal: number | null, private readonly requestsPerRound: number) {
    super();
    this.ticketsLeft = requestsTotal ?? Number.POSITIVE_INFINITY;
  }

  /** Whether a new round may start (null: no more) and whether it is measured. */
  startRound(): boolean | null {
    switch (this.phase) {
      case "warmup":
        this.activeRounds++;
        return false;
      case "measure":
        if (this.ticketsLeft <= 0) return null;
        this.ticketsLeft -= this.requestsPerRound;
        if (this.ticketsLeft <= 0) this.phase = "drain";
        this.activeRounds++;
        return true;
      default:
        return null;
    }
  }

  endRound(): void {
    this.activeRounds--;
    if (this.phase === "drain" && this.activeRounds === 0) this.end();
  }

  /** Makes one request with `perform`, counting it; its outcome, or null once the run is over. */
  protected async measure<O extends RoundOutcome>(command: string, isMeasured: boolean, perform: () => Promise<O>): Promise<O | null> {
    if (this.phase === "done") return null;
    this.inflightNow++;
    if (isMeasured) {
      this.measuredInflight++;
      this.requestsSent++;
    }
    const sentMs = performance.now();
    const outcome = await perform();
    this.inflightNow--;
    // Ended while this request was out (interrupted, or given up on): the numbers are final.
    if (this.isOver()) return null;
    const nowMs = performance.now();
    this.answersAll++;
    if (isMeasured) {
      this.measuredInflight--;
      this.lastMeasuredAnswerMs = nowMs;
      this.recordAnswer(command, outcome.code, (nowMs - sentMs) * 1000, outcome.message);
    }
    return outcome;
  }

  isOver(): boolean {
    return this.phase === "done";
  }

  inflight(): number {
    return this.inflightNow;
  }

  startMeasuring(nowMs: number): void {
    this.phase = this.ticketsLeft <= 0 ? "drain" : "measure";
    this.measureStartMs = nowMs;
    this.lastMeasuredAnswerMs = nowMs;
  }

  stopIssuing(): void {
    if (this.phase === "warmup" || this.phase === "measure") this.phase = "drain";
    if (this.phase === "drain" && this.activeRounds === 0) this.end();
  }

  giveUp(code: string, message: string): void {
    if (this.phase === "done") return;
    if (this.measuredInflight > 0) this.recordLost(code, this.measuredInflight, message);
    this.end();
  }

  end(): void {
    if (this.phase === "done") return;
    this.phase = "done";
    this.abort.abort();
    this.finish();
  }
}
