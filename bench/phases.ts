// The phases of a bounded run (warmup → measure → drain), its abort and its once-a-second
// progress ticker, shared by the runner's one-connection loops (runner.ts) and the cache
// scenario's own driver (cache-scenario.ts): both keep the same bounds and print the same
// progress lines.
import type { RunConfig, RunHooks, RunTick } from "./runner.ts";

/** Waiting for answers after the last request was sent; the rest are counted as NO_ANSWER. */
export const DRAIN_TIMEOUT_MS = 10_000;
/** No answer at all for this long while requests are in flight ends the run (NO_ANSWER). */
export const STALL_TIMEOUT_MS = 10_000;
const TICK_MS = 1_000;

export type RunPhase = "connect" | "warmup" | "measure" | "drain" | "done";
type PhaseTimes = Pick<RunConfig, "durationMs" | "warmupMs">;

/** What the phase timers and the ticker need of a run. */
export interface PhasedRun {
  /** Set to "warmup" here when the timers start on a run still in "connect". */
  phase: RunPhase;
  /** Answers of every phase (warmup included), for the rate. */
  readonly answersAll: number;
  /** Measured requests answered (any status), answered OK, and lost (never answered). */
  readonly requestsAnswered: number;
  readonly requestsOk: number;
  readonly requestsLost: number;
  /**
   * When the last answer of any phase arrived, for the stall check (STALL_TIMEOUT_MS). A run
   * without it has none: every one of its calls has a deadline of its own.
   */
  readonly lastAnswerMs?: number;
  /** Requests out now, measured or not. */
  inflight(): number;
  /** Warmup is over: measure from `nowMs` (or drain at once when no request is left to send). */
  startMeasuring(nowMs: number): void;
  /** No new requests: drain, ending at once when nothing is left out. */
  stopIssuing(): void;
  /** Counts what is still in flight as never answered (`code`), then ends. */
  giveUp(code: string, message: string): void;
}

/** A run drivePhases takes from its start to its end. */
export interface DrivenRun extends PhasedRun {
  /** Set by an abort (Ctrl-C), which ends the run at once with what it measured so far. */
  interrupted: boolean;
  /** Resolves once the run has ended. */
  readonly finished: Promise<void>;
  end(): void;
}

/**
 * Runs `run` through its phases: an abort (`hooks.signal`) ends it at once; the phase timers
 * and the ticker are started, then `start(startMs)` sets its loops going. Resolves once the run
 * has ended, with the timers cleared and the abort listener removed.
 */
export async function drivePhases(run: DrivenRun, config: PhaseTimes, hooks: RunHooks, start: (startMs: number) => void): Promise<void> {
  const onAbort = () => {
    run.interrupted = true;
    run.end();
  };
  hooks.signal?.addEventListener("abort", onAbort);
  if (hooks.signal?.aborted) onAbort();
  const startMs = performance.now();
  const timers = schedulePhases(run, config);
  const ticker = startTicker(run, startMs, hooks);
  try {
    start(startMs);
    await run.finished;
  } finally {
    clearInterval(ticker);
    for (const timer of timers) clearTimeout(timer);
    hooks.signal?.removeEventListener("abort", onAbort);
  }
}

/** Warmup → measure (→ drain after the duration, bounded by DRAIN_TIMEOUT_MS); returns the timers. */
function schedulePhases(run: PhasedRun, config: PhaseTimes): ReturnType<typeof setTimeout>[] {
  const timers: ReturnType<typeof setTimeout>[] = [];
  // A --requests run drains when its requests run out, without this timer.
  const beginDrain = () => {
    run.stopIssuing();
    if (run.phase !== "drain") return;
    timers.push(setTimeout(() => run.giveUp("NO_ANSWER", `no answer within ${DRAIN_TIMEOUT_MS} ms after the run ended`), DRAIN_TIMEOUT_MS));
  };
  const beginMeasuring = () => {
    if (run.phase !== "warmup") return;
    run.startMeasuring(performance.now());
    if (config.durationMs !== null) timers.push(setTimeout(beginDrain, config.durationMs));
  };
  if (run.phase === "connect") run.phase = "warmup";
  if (config.warmupMs === 0) beginMeasuring();
  else timers.push(setTimeout(beginMeasuring, config.warmupMs));
  return timers;
}

/** Once a second: the stall check, then a progress tick describing the second just past. */
function startTicker(run: PhasedRun, startMs: number, hooks: RunHooks): ReturnType<typeof setInterval> {
  let answersAtLastTick = 0;
  let lastTickMs = startMs;
  // The rate covers the past second, so it is labelled with the phase that second began in.
  let phaseOfInterval = run.phase;
  return setInterval(() => {
    const nowMs = performance.now();
    if (run.lastAnswerMs !== undefined && run.inflight() > 0 && nowMs - run.lastAnswerMs > STALL_TIMEOUT_MS) {
      run.giveUp("NO_ANSWER", `no answer at all for ${STALL_TIMEOUT_MS} ms`);
      return;
    }
    const answersPerSec = ((run.answersAll - answersAtLastTick) * 1000) / (nowMs - lastTickMs);
    answersAtLastTick = run.answersAll;
    lastTickMs = nowMs;
    const phase = phaseOfInterval;
    phaseOfInterval = run.phase;
    if (phase !== "warmup" && phase !== "measure" && phase !== "drain") return;
    const tick: RunTick = {
      phase,
      elapsedMs: nowMs - startMs,
      answersPerSec,
      answersMeasured: run.requestsAnswered,
      failuresMeasured: run.requestsAnswered - run.requestsOk + run.requestsLost,
      inflight: run.inflight(),
    };
    hooks.onTick?.(tick);
  }, TICK_MS);
}
