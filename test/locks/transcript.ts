// A transcript driver for the lock table (etcd-io/raft's datadriven style): a scenario is
// commands and, under each, the lines it must print — its result, then every outcome it
// decided. One command is one log entry (index 1, 2, ...), so tokens print as t<index>.<k>.
import { expect } from "bun:test";
import { LockTable } from "../../src/locks/lock-table.ts";
import type { LockLimits } from "../../src/locks/limits.ts";
import type { LockOutcome } from "../../src/locks/types.ts";
import { TOKEN_GRANTS_PER_ENTRY_MAX } from "../../src/locks/limits.ts";
import { msgpack } from "../../src/protocol/msgpack.ts";

export function tokenName(token: number): string {
  return `t${Math.floor(token / TOKEN_GRANTS_PER_ENTRY_MAX)}.${token % TOKEN_GRANTS_PER_ENTRY_MAX}`;
}

const MODES: Record<string, "shared" | "exclusive"> = { s: "shared", x: "exclusive" };

export class LockDriver {
  table: LockTable;
  index = 0;
  nowMs = 0;
  private outcomes: LockOutcome[] = [];

  /** checkInvariants after every entry (O(table) each; off for scale tests). */
  isCheckingEachStep = true;

  constructor(readonly limits: Partial<LockLimits> = {}) {
    this.table = new LockTable(limits);
    this.table.onOutcome((o) => this.outcomes.push(o));
  }

  apply(op: string, args: Record<string, unknown>): { result: unknown; outcomes: LockOutcome[] } {
    this.outcomes = [];
    const result = this.table.apply({ op, args, rid: null }, { index: ++this.index, term: 1 });
    if (this.isCheckingEachStep) this.table.checkInvariants();
    return { result, outcomes: this.outcomes };
  }

  /** Replaces the table with one restored from its snapshot, through MessagePack bytes. */
  snapshotRestore(): void {
    const bytes = msgpack.pack(this.table.snapshot());
    this.table = new LockTable(this.limits);
    this.table.restore(msgpack.unpack(bytes));
    this.table.onOutcome((o) => this.outcomes.push(o));
    this.table.checkInvariants();
  }

  /** Runs one transcript command and returns the lines it prints. */
  run(line: string): string[] {
    const [command, ...words] = line.trim().split(/\s+/);
    const flags = new Map<string, string>();
    const positional: string[] = [];
    for (const word of words) {
      const eq = word.indexOf("=");
      if (eq > 0) flags.set(word.slice(0, eq), word.slice(eq + 1));
      else positional.push(word);
    }
    const at = flags.get("at");
    if (at !== undefined) this.nowMs = Number(at);
    const num = (key: string): number | null => (flags.has(key) ? (flags.get(key) === "inf" ? null : Number(flags.get(key))) : null);
    const nowMs = this.nowMs;
    let applied: { result: unknown; outcomes: LockOutcome[] };
    switch (command) {
      case "acquire": {
        const [requestId, owner, name, mode] = positional;
        applied = this.apply("lock.acquire", { requestId, owner, name, mode: MODES[mode!] ?? mode, waitMs: flags.has("wait") ? num("wait") : 10_000, ttlMs: num("ttl"), nowMs });
        break;
      }
      case "release":
        applied = this.apply("lock.release", { owner: positional[0], name: positional[1], nowMs });
        break;
      case "renew":
        applied = this.apply("lock.renew", { owner: positional[0], name: positional[1], ttlMs: num("ttl"), nowMs });
        break;
      case "cancel":
        applied = this.apply("lock.cancel", { requestId: positional[0], nowMs });
        break;
      case "tick":
        applied = this.apply("lock.tick", { nowMs });
        break;
      case "info":
        return this.infoLines(positional[0]!);
      case "snapshot-restore":
        this.snapshotRestore();
        return ["restored"];
      case "stats":
        return [Object.entries(this.table.stats()).map(([k, v]) => `${k}=${v}`).join(" ")];
      case "next-deadline":
        return [String(this.table.nextDeadlineMs())];
      default:
        throw new Error(`unknown transcript command '${command}'`);
    }
    return [formatResult(applied.result), ...applied.outcomes.map(formatOutcome)];
  }

  private infoLines(name: string): string[] {
    const info = this.table.info(name);
    const holders = info.holders.map((h) => `${h.owner} ${abbrev(h.mode)} ${tokenName(h.token)}${h.expiresAtMs === null ? "" : ` exp=${h.expiresAtMs}`}`);
    const waiters = info.waiters.map((w) => `${w.requestId} ${w.owner} ${abbrev(w.mode)}${w.deadlineMs === null ? "" : ` dl=${w.deadlineMs}`}${w.isConversion ? " conv" : ""}`);
    return [`holders: ${holders.join(", ") || "-"}`, `waiters: ${waiters.join(", ") || "-"}`];
  }
}

const abbrev = (mode: string): string => (mode === "shared" ? "s" : "x");

export function formatResult(result: unknown): string {
  const r = result as Record<string, unknown>;
  if (typeof r.$error === "string") {
    const cycle = r.cycle as { owner: string; name: string }[] | undefined;
    if (cycle) return `${r.$error} ${formatCycle(cycle)}`;
    if (r.cancelled === true) return `${r.$error} cancelled`;
    const limit = /\((\w+Max)\)/.exec(String(r.message))?.[1];
    return limit ? `${r.$error} ${limit}` : String(r.$error);
  }
  // Before `released`: a cancel that ended a hold answers {cancelled: true, released: true}.
  if ("cancelled" in r) return `cancelled ${String(r.cancelled)}${r.released === true ? " released" : ""}`;
  if (r.granted === true) return `granted ${abbrev(String(r.mode))} ${tokenName(r.token as number)}`;
  if (r.queued === true) return "queued";
  if (r.released === true) return "released";
  if ("expiresAtMs" in r) return `expires ${String(r.expiresAtMs)}`;
  if ("expired" in r) return `expired=${String(r.expired)} timedOut=${String(r.timedOut)}`;
  return JSON.stringify(result);
}

export function formatCycle(cycle: { owner: string; name: string }[]): string {
  return cycle.map((step) => `${step.owner} -${step.name}->`).join(" ") + ` ${cycle[0]!.owner}`;
}

export function formatOutcome(o: LockOutcome): string {
  const head = `outcome ${o.requestId} ${o.owner} ${o.name}:`;
  if ("token" in o.result) return `${head} granted ${abbrev(o.result.mode)} ${tokenName(o.result.token)}`;
  const extra = o.result.cycle ? ` ${formatCycle(o.result.cycle)}` : o.result.cancelled ? " cancelled" : "";
  return `${head} ${o.result.error}${extra}`;
}

/**
 * Runs a transcript: lines starting with "> " are the expected output of the command above
 * them; blank lines and lines starting with "#" are ignored. Compares the whole text at once,
 * so a failure shows a readable diff.
 */
export function transcript(text: string, limits: Partial<LockLimits> = {}): LockDriver {
  const driver = new LockDriver(limits);
  const expected: string[] = [];
  const actual: string[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    if (line.startsWith(">")) {
      expected.push(line);
      continue;
    }
    expected.push(line);
    actual.push(line, ...driver.run(line).map((out) => `> ${out.trim()}`));
  }
  expect(actual.join("\n")).toBe(expected.join("\n"));
  return driver;
}
