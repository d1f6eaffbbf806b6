// A linearizable backing store with random latency and failures, as a home sees it. Each call
// takes effect at one instant between being sent and being answered (its linearization point),
// and every applied write is kept as a numbered version per key: the checkers judge reads
// against this ground truth. Failures: a read may fail; a write may fail definitely (not
// applied), or ambiguously (a timeout): applied before the answer, never, or LATE — landing
// after the failure was reported, at any time up to lateMsMax after it (several leases: no
// time bound is promised), except that it lands no later than the next write of the same key
// from the same home. That order is all home rule 4 relies on (README.md): both real stores
// apply one home's writes in the order sent (Redis: one connection; group 0: its log, where an
// entry that did not commit before a later one did never commits). Reads do not order it
// (group 0's ReadIndex does not wait for an entry that has not committed).
import type { StoreRead } from "../../../src/cache/store.ts";
import type { WriteChange } from "../../../src/cache/directory.ts";
import { SinkronError } from "../../../src/protocol/errors.ts";
import type { NodeProcess, Scheduler } from "./clock.ts";
import type { Trace } from "./network.ts";
import type { Prng } from "../../raft/sim/prng.ts";

export interface StoreFaults {
  /** Each leg (home → store, store → home) takes up to this long. */
  legMsMax: number;
  readFailureRate: number;
  definiteWriteFailureRate: number;
  ambiguousWriteFailureRate: number;
  /** A late write not overtaken by a later write lands up to this long after its failure reached the home. */
  lateMsMax: number;
}

/** A write that timed out and has not landed yet (it will). */
interface LateWrite {
  value: string | null;
  opId: number;
}

export interface Version {
  /** 0 is the key before any write: absent. */
  version: number;
  value: string | null;
  appliedAtMs: number;
  /** The client operation whose write this is (null for version 0). */
  opId: number | null;
}

export type StoreReadResult = { ok: true; read: StoreRead } | { ok: false; error: SinkronError };
export type StoreWriteResult = { ok: true; existed?: boolean } | { ok: false; error: SinkronError; ambiguous: boolean };

export class SimStore {
  private readonly versions = new Map<string, Version[]>();
  private readonly byOp = new Map<number, Version>();
  private readonly carriedBy = new Map<number, number>();
  /** Which client operation a change object carries (the directory passes it through unchanged). */
  readonly opOfChange = new WeakMap<WriteChange, number>();
  /** Per home and key ("H k"): the write that timed out there and may still land. */
  private readonly late = new Map<string, LateWrite>();
  /** Changes sent before: a second store write of one is the home's repair (home rule 4). */
  private readonly sent = new WeakSet<WriteChange>();
  lateWrites = 0;
  /** Late writes that landed only because a later write of their key from their home came. */
  lateWritesOrdered = 0;
  /** Store writes of a change written before (the home repairing an unknown outcome). */
  repairs = 0;
  private writesInFlight = 0;

  constructor(
    private readonly scheduler: Scheduler,
    private readonly prng: Prng,
    readonly faults: StoreFaults,
    private readonly trace: Trace | null,
  ) {}

  versionsOf(key: string): readonly Version[] {
    return this.history(key);
  }

  current(key: string): Version {
    return this.history(key).at(-1)!;
  }

  /** The version a client operation's write became, if it was applied. */
  versionOfOp(opId: number): Version | undefined {
    return this.byOp.get(opId);
  }

  /**
   * The version a write acknowledged as part of a merged store write took effect with: its own,
   * or the one of the last set merged with it (the home wrote only that one's value).
   */
  versionCarrying(opId: number): Version | undefined {
    const carrier = this.carriedBy.get(opId);
    return this.byOp.get(carrier ?? opId);
  }

  /** The home answered `change`'s write on the strength of the store write of `carrier`. */
  noteCarriedBy(change: WriteChange, carrier: WriteChange): void {
    const opId = this.opOfChange.get(change);
    const carrierId = this.opOfChange.get(carrier);
    if (opId !== undefined && carrierId !== undefined && opId !== carrierId) this.carriedBy.set(opId, carrierId);
  }

  read(home: NodeProcess, key: string, onDone: (result: StoreReadResult) => void): void {
    const executeAtMs = this.scheduler.nowMs + this.leg();
    this.scheduler.at(executeAtMs, () => {
      let result: StoreReadResult;
      if (this.prng.chance(this.faults.readFailureRate)) {
        result = { ok: false, error: new SinkronError("UNAVAILABLE", "store read failed") };
      } else {
        const { value, version } = this.current(key);
        result = { ok: true, read: value === null ? { found: false } : { found: true, value } };
        this.trace?.(`store: read ${key} = ${value} (v${version}) for ${home.id}`);
      }
      this.answer(home, () => onDone(result));
    });
  }

  write(home: NodeProcess, key: string, change: WriteChange, onDone: (result: StoreWriteResult) => void): void {
    const opId = this.opOfChange.get(change);
    if (opId === undefined) throw new Error("a write reached the store without its client operation");
    const isRepair = this.sent.has(change);
    this.sent.add(change);
    if (isRepair) this.repairs += 1;
    const value = change.kind === "set" ? (change.value as string) : null;
    const executeAtMs = this.scheduler.nowMs + this.leg();
    const lateSlot = `${home.id} ${key}`;
    this.writesInFlight += 1;
    this.scheduler.at(executeAtMs, () => {
      this.writesInFlight -= 1;
      // Home rule 4: a write of this home's still on its way lands before this one is applied.
      const pending = this.late.get(lateSlot);
      if (pending !== undefined) {
        this.late.delete(lateSlot);
        this.trace?.(`store: late write #${pending.opId} ${key} lands before #${opId}${isRepair ? " (repair)" : ""}, the next from ${home.id}`);
        this.lateWritesOrdered += 1;
        this.apply(key, pending.value, pending.opId);
      }
      const roll = this.prng.next();
      const { definiteWriteFailureRate: definite, ambiguousWriteFailureRate: ambiguous } = this.faults;
      if (roll < definite) {
        this.trace?.(`store: refused write #${opId} ${key}${isRepair ? " (repair)" : ""}`);
        this.answer(home, () => onDone({ ok: false, error: new SinkronError("UNAVAILABLE", "store refused the write"), ambiguous: false }));
      } else if (roll < definite + ambiguous) {
        const error = new SinkronError("TIMEOUT", "store write timed out");
        const fate = this.prng.pick(["applied", "lost", "late"] as const);
        if (fate === "applied") this.apply(key, value, opId);
        this.trace?.(`store: write #${opId} ${key}${isRepair ? " (repair)" : ""} times out (${fate})`);
        const answeredAtMs = this.answer(home, () => onDone({ ok: false, error, ambiguous: true }));
        if (fate === "late") {
          // On its way still: it lands at a random time, unless a later write of the key from
          // this home comes first and orders it (above).
          const write: LateWrite = { value, opId };
          this.late.set(lateSlot, write);
          this.lateWrites += 1;
          // Skewed: most land soon (while leases granted meanwhile run), a few very late.
          this.scheduler.at(answeredAtMs + this.prng.next() ** 3 * this.faults.lateMsMax, () => {
            if (this.late.get(lateSlot) !== write) return;
            this.late.delete(lateSlot);
            this.trace?.(`store: late write #${opId} ${key} lands`);
            this.apply(key, value, opId);
          });
        }
      } else {
        const existed = this.current(key).value !== null;
        this.apply(key, value, opId);
        this.answer(home, () => onDone(change.kind === "delete" ? { ok: true, existed } : { ok: true }));
      }
    });
  }

  /** Writes on their way to the store or timed out and not landed yet: the run is not over while there are any. */
  get writesUnsettled(): number {
    return this.writesInFlight + this.late.size;
  }

  private apply(key: string, value: string | null, opId: number): void {
    const history = this.history(key);
    const version: Version = { version: history.length, value, appliedAtMs: this.scheduler.nowMs, opId };
    history.push(version);
    this.byOp.set(opId, version);
    this.trace?.(`store: ${key} := ${value} (v${version.version}, #${opId})`);
  }

  /** Sends an answer to the home (held there while it is paused); returns when it arrives. */
  private answer(home: NodeProcess, onArrival: () => void): number {
    const atMs = this.scheduler.nowMs + this.leg();
    this.scheduler.at(atMs, () => home.deliver(onArrival));
    return atMs;
  }

  private leg(): number {
    return 0.05 + this.prng.next() * this.faults.legMsMax;
  }

  private history(key: string): Version[] {
    let history = this.versions.get(key);
    if (history === undefined) {
      history = [{ version: 0, value: null, appliedAtMs: -Infinity, opId: null }];
      this.versions.set(key, history);
    }
    return history;
  }
}
