// Readable REPL answers for the lock commands: who holds a lock, in which mode, with which
// fencing token and how much lease is left; who waits, in queue order. Falls back to the
// generic view for anything it does not recognise.
import type { Outcome } from "./format.ts";

type Holder = { owner: string; mode: string; token: number; expiresAtMs: number | null };
type Waiter = { owner: string; mode: string; deadlineMs: number | null };

/** A person-readable line (or lines) for a lock command's OK answer, or null to use the generic view. */
export function formatLockAnswer(command: string, outcome: Outcome, nowMs: number = Date.now()): string | null {
  if (outcome.status !== "OK" || outcome.value === null || typeof outcome.value !== "object") return null;
  const value = outcome.value as Record<string, unknown>;
  switch (command) {
    case "LOCK.ACQUIRE":
      return typeof value.token === "number" ? `OK granted ${String(value.mode)}, fencing token ${value.token}` : null;
    case "LOCK.RENEW":
      return typeof value.expiresAtMs === "number" ? `OK lease renewed, ${remaining(value.expiresAtMs, nowMs)} left` : null;
    case "LOCK.INFO": {
      if (!Array.isArray(value.holders) || !Array.isArray(value.waiters)) return null;
      const holders = value.holders as Holder[];
      const waiters = value.waiters as Waiter[];
      const lines = ["OK"];
      lines.push(holders.length === 0 ? "  holders: none" : "  holders:");
      for (const h of holders) lines.push(`    ${h.owner}  ${h.mode}  token ${h.token}  ${h.expiresAtMs === null ? "no lease" : `lease ${remaining(h.expiresAtMs, nowMs)} left`}`);
      lines.push(waiters.length === 0 ? "  waiters: none" : "  waiters (in order):");
      waiters.forEach((w, i) => lines.push(`    ${i + 1}. ${w.owner}  ${w.mode}  ${w.deadlineMs === null ? "waits without deadline" : `gives up in ${remaining(w.deadlineMs, nowMs)}`}`));
      return lines.join("\n");
    }
    default:
      return null;
  }
}

function remaining(atMs: number, nowMs: number): string {
  const ms = Math.max(0, atMs - nowMs);
  return ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;
}
