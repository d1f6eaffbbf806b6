// The interactive REPL's history file (~/.sinkron_history unless SINKRON_REPL_HISTORY names
// another, or is empty to keep none). Bounded: only the last HISTORY_LINES_MAX lines are
// kept. A file that cannot be read or written never stops the REPL.
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

export const HISTORY_LINES_MAX = 1000;

export function historyPath(env: Record<string, string | undefined>): string | null {
  const configured = env.SINKRON_REPL_HISTORY;
  if (configured !== undefined) return configured === "" ? null : configured;
  return join(env.HOME ?? homedir(), ".sinkron_history");
}

export class History {
  private readonly lines: string[];

  constructor(private readonly path: string | null) {
    this.lines = path === null ? [] : readLines(path).slice(-HISTORY_LINES_MAX);
  }

  /** Oldest first. */
  get entries(): readonly string[] {
    return this.lines;
  }

  add(line: string): void {
    if (line.trim() === "" || this.lines[this.lines.length - 1] === line) return;
    this.lines.push(line);
    if (this.path === null) return;
    try {
      // Appending keeps a crash from losing the session; the file is cut back on close.
      appendFileSync(this.path, `${line.replace(/\n/g, " ")}\n`);
    } catch {
      // History is a convenience: an unwritable home must not break the REPL.
    }
    if (this.lines.length > HISTORY_LINES_MAX * 2) this.lines.splice(0, this.lines.length - HISTORY_LINES_MAX);
  }

  /** Rewrites the file with the last HISTORY_LINES_MAX lines. */
  save(): void {
    if (this.path === null) return;
    try {
      const kept = this.lines.slice(-HISTORY_LINES_MAX);
      writeFileSync(this.path, kept.length > 0 ? `${kept.join("\n")}\n` : "");
    } catch {
      // see add()
    }
  }
}

function readLines(path: string): string[] {
  try {
    return readFileSync(path, "utf8").split("\n").filter((line) => line.trim() !== "");
  } catch {
    return [];
  }
}
