// What a simulation run leaves for a human: counts of notable events for its summary, the most
// recent event lines, and the error a failed seed throws with those lines and its replay command.

const linesMax = 400;

export class SimEvents {
  readonly counts: Record<string, number> = {};
  private readonly lines: string[] = [];

  constructor(private readonly now: () => number) {}

  count(what: string): void {
    this.counts[what] = (this.counts[what] ?? 0) + 1;
  }

  log(line: string): void {
    this.lines.push(`[${this.now()}] ${line}`);
    if (this.lines.length > linesMax) this.lines.shift();
  }

  recent(): string {
    return this.lines.join("\n");
  }
}

/** `headline` says which seed failed where; the original stack stays readable below the new message. */
export function seedFailure(error: unknown, headline: string, replay: string, events: SimEvents): Error {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  const wrapped = new Error(`${headline}: ${message}\nreplay: ${replay}\n--- recent events ---\n${events.recent()}`);
  if (error instanceof Error && error.stack !== undefined) wrapped.stack = `${wrapped.message}\n--- original stack ---\n${error.stack}`;
  return wrapped;
}
