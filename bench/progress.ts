// The once-a-second progress line on stderr: rewritten in place with `\r` on a terminal, one
// plain line per tick otherwise (logs and CI keep every line readable).
import type { RunTick } from "./runner.ts";

export interface ProgressOutput {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

const int = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

export class ProgressLine {
  private hasOpenLine = false;

  constructor(private readonly out: ProgressOutput) {}

  update(tick: RunTick): void {
    const seconds = (tick.elapsedMs / 1000).toFixed(0).padStart(3);
    const text = `[${seconds}s] ${tick.phase.padEnd(7)} ${int.format(tick.answersPerSec).padStart(10)} ops/s  answered ${int.format(tick.answersMeasured)}  failed ${int.format(tick.failuresMeasured)}  in flight ${tick.inflight}`;
    if (this.out.isTTY === true) {
      // \x1b[K clears what a longer previous line left behind.
      this.out.write(`\r${text}\x1b[K`);
      this.hasOpenLine = true;
    } else {
      this.out.write(`${text}\n`);
    }
  }

  /** Ends the in-place line so the report starts on a fresh one. */
  finish(): void {
    if (this.hasOpenLine) this.out.write("\n");
    this.hasOpenLine = false;
  }
}
