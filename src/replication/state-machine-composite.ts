// The state machine of one Raft group as the services see it: operations are routed by
// their prefix ("kv.", "member.", "lock.") to the service's own machine, and retried commands
// are answered from a replicated table of recent request ids, so a command retried after a
// failover is applied once (thesis §6.3). An id is remembered for DEDUP_RETENTION_MS of the
// leaders' clock (stamped in every entry), however many others arrive meanwhile; a hard cap on
// entries bounds memory (Ongaro's thesis §6.3 expires client sessions by leader time the same
// way). Eviction depends only on the log, so it is identical on every replica; for the same
// reason both bounds are constants of the code, not per-node settings. A request id reused for
// a different request is refused (CONFLICT) rather than answered with another request's result.
import { encodeValue } from "../protocol/msgpack.ts";
import { commandIdentityBytes } from "./log-codec.ts";
import type { ApplyContext, LogCommand, StateMachine } from "./state-machine.ts";
import { appliedError } from "./state-machine.ts";

/** Hard cap on remembered request ids (memory); retention by time normally evicts first. */
export const DEDUP_ENTRIES_MAX_DEFAULT = 1_000_000;
/** How long (leader clock) a request id is remembered: well past any forwarder's retries. */
export const DEDUP_RETENTION_MS = 30_000;

interface CompositeSnapshot {
  machines: Record<string, unknown>;
  /** [rid, result, fingerprint, atMs]; older snapshots lack the last two. */
  dedup: [string, unknown, number?, number?][];
  clockMs?: number;
}

interface Applied {
  result: unknown;
  fingerprint: number | undefined;
  /** The table's clock when it was applied (non-decreasing in insertion order). */
  atMs: number;
}

/**
 * What makes two requests "the same" for dedup: the operation and its arguments, except the
 * clock a leader stamps on proposals (`nowMs`), which differs between a request and its retry.
 * Without a stamp, the entry's own bytes are that (the same command encodes to the same bytes,
 * its rid included), which spares re-encoding a large batch on every replica.
 */
function fingerprint(command: LogCommand, data: Uint8Array | undefined): number {
  if (data !== undefined && !("nowMs" in command.args)) return Bun.hash.crc32(commandIdentityBytes(data));
  const { nowMs: _stamped, ...args } = command.args;
  return Bun.hash.crc32(encodeValue([command.op, args]));
}

export class CompositeStateMachine implements StateMachine {
  private readonly machines = new Map<string, StateMachine>();
  /** rid → result, in apply order (Map keeps insertion order), oldest evicted first. */
  private readonly dedup = new Map<string, Applied>();
  /** max(atMs) over applied commands: the leaders' clock as the log tells it. */
  private clockMs = 0;

  constructor(
    private readonly dedupEntriesMax = DEDUP_ENTRIES_MAX_DEFAULT,
    private readonly dedupRetentionMs = DEDUP_RETENTION_MS,
  ) {}

  /** Routes every op "<prefix>.<name>" to `machine`. */
  mount(prefix: string, machine: StateMachine): void {
    if (this.machines.has(prefix)) throw new Error(`state machine prefix '${prefix}' mounted twice`);
    this.machines.set(prefix, machine);
  }

  get dedupEntries(): number {
    return this.dedup.size;
  }

  apply(command: LogCommand, ctx: ApplyContext): unknown {
    if (command.atMs !== undefined && command.atMs > this.clockMs) {
      this.clockMs = command.atMs;
      this.evictExpired();
    }
    const print = command.rid === null ? undefined : fingerprint(command, ctx.data);
    if (command.rid !== null) {
      const seen = this.dedup.get(command.rid);
      if (seen !== undefined) {
        if (seen.fingerprint !== undefined && seen.fingerprint !== print) {
          return appliedError("CONFLICT", `request id '${command.rid}' was already used for a different request`, { rid: command.rid });
        }
        return seen.result;
      }
    }
    const dot = command.op.indexOf(".");
    const machine = dot > 0 ? this.machines.get(command.op.slice(0, dot)) : undefined;
    // An op no machine knows can only come from a newer node version; refusing it keeps this
    // replica's state equal to the others' (they refuse it too).
    const result = machine ? machine.apply(command, ctx) : appliedError("BAD_REQUEST", `unknown operation '${command.op}'`);
    if (command.rid !== null) {
      this.dedup.set(command.rid, { result, fingerprint: print, atMs: this.clockMs });
      if (this.dedup.size > this.dedupEntriesMax) this.dedup.delete(this.dedup.keys().next().value!);
    }
    return result;
  }

  private evictExpired(): void {
    const horizonMs = this.clockMs - this.dedupRetentionMs;
    for (const [rid, applied] of this.dedup) {
      if (applied.atMs >= horizonMs) break;
      this.dedup.delete(rid);
    }
  }

  snapshot(): CompositeSnapshot {
    const machines: Record<string, unknown> = {};
    for (const [prefix, machine] of this.machines) machines[prefix] = machine.snapshot();
    return { machines, dedup: [...this.dedup].map(([rid, applied]) => [rid, applied.result, applied.fingerprint, applied.atMs]), clockMs: this.clockMs };
  }

  restore(state: unknown): void {
    const snap = state as CompositeSnapshot;
    for (const [prefix, machine] of this.machines) machine.restore(snap.machines[prefix] ?? null);
    this.dedup.clear();
    this.clockMs = snap.clockMs ?? 0;
    for (const [rid, result, print, atMs] of snap.dedup) this.dedup.set(rid, { result, fingerprint: print ?? undefined, atMs: atMs ?? this.clockMs });
  }
}
