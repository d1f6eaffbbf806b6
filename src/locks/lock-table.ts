// The lock table of Raft group 0 (mounted as prefix "lock"): shared/exclusive locks with FIFO
// waiting, conversions, leases, fencing tokens and deadlock refusal, as a pure deterministic
// state machine. Replicas that apply the same entries hold the same table and report the same
// outcomes in the same order; time comes only from `nowMs` in the entries. Rules: README.md.
import type { ApplyContext, LogCommand, StateMachine } from "../replication/state-machine.ts";
import { appliedError } from "../replication/state-machine.ts";
import { assert } from "./assert.ts";
import type { AcquireArgs } from "./commands.ts";
import { ArgsError, parseAcquire, parseCancel, parseRelease, parseRenew, parseTick } from "./commands.ts";
import { DeadlineHeap } from "./deadline-heap.ts";
import type { LockLimits } from "./limits.ts";
import { resolveLockLimits } from "./limits.ts";
import { LockState } from "./lock-state.ts";
import { decodeSnapshot, encodeSnapshot } from "./snapshot.ts";
import { TokenMinter } from "./tokens.ts";
import type { CancelResult, Grant, Holder, LockErrorCode, LockInfo, LockMode, LockOutcome, LockRefusal, LockStats, Waiter } from "./types.ts";
import { findCycle } from "./waits-for.ts";

export type { LockOutcome } from "./types.ts";

type Counters = Omit<LockStats, "locks" | "holders" | "waiters">;

export class LockTable implements StateMachine {
  readonly limits: LockLimits;
  private readonly locks = new Map<string, LockState>();
  /** requestId → its waiting request. */
  private readonly requests = new Map<string, Waiter>();
  /** owner → its waiting requests in arrival order (seq), for the waits-for search. */
  private readonly ownerWaits = new Map<string, Waiter[]>();
  /** requestId → the hold its acquire granted (holds with a known requestId only). */
  private readonly grantedBy = new Map<string, Holder>();
  /**
   * Cancelled request ids, oldest first (Set order is insertion order): an acquire applied after
   * its cancel — still in flight, or retried — is refused instead of granting a lock to a client
   * that was told it failed. At most limits.tombstonesMax.
   */
  private readonly tombstones = new Set<string>();
  /** owner → holds plus waiting requests (ownerLocksMax). */
  private readonly ownerEntries = new Map<string, number>();
  /** Lease ends in time order; ties by token, then name (tokens repeat across locks). */
  private readonly leases = new DeadlineHeap<Holder>(
    (a, b) => a.expiresAtMs! < b.expiresAtMs! || (a.expiresAtMs === b.expiresAtMs && (a.token < b.token || (a.token === b.token && a.name < b.name))),
  );
  /** Wait deadlines in time order; ties by seq (one enqueue per entry: unique). */
  private readonly deadlines = new DeadlineHeap<Waiter>((a, b) => a.deadlineMs! < b.deadlineMs! || (a.deadlineMs === b.deadlineMs && a.seq < b.seq));
  private readonly tokens = new TokenMinter();
  private readonly listeners: ((outcome: LockOutcome) => void)[] = [];
  /** Outcomes decided by the entry being applied; reported once the entry is fully applied. */
  private pendingOutcomes: LockOutcome[] = [];
  private nowMs = Number.NEGATIVE_INFINITY;
  private waiterCount = 0;
  private holderCount = 0;
  private counters: Counters = emptyCounters();

  constructor(limits?: Partial<LockLimits>) {
    this.limits = resolveLockLimits(limits);
  }

  // ---- StateMachine ----------------------------------------------------------------------

  apply(command: LogCommand, ctx: ApplyContext): unknown {
    this.tokens.beginEntry(ctx.index);
    assert(this.pendingOutcomes.length === 0, "outcomes left over from an earlier entry");
    const result = this.applyOp(command);
    const outcomes = this.pendingOutcomes;
    this.pendingOutcomes = [];
    this.report(outcomes);
    return result;
  }

  snapshot(): unknown {
    return encodeSnapshot({
      lastIndex: this.tokens.lastIndex,
      nowMs: Number.isFinite(this.nowMs) ? this.nowMs : null,
      counters: { ...this.counters },
      locks: [...this.locks.values()],
      tombstones: [...this.tombstones],
    });
  }

  restore(state: unknown): void {
    const snap = decodeSnapshot(state);
    this.locks.clear();
    this.requests.clear();
    this.ownerWaits.clear();
    this.ownerEntries.clear();
    this.grantedBy.clear();
    this.tombstones.clear();
    this.leases.clear();
    this.deadlines.clear();
    this.waiterCount = 0;
    this.holderCount = 0;
    this.tokens.resetTo(snap.lastIndex);
    this.nowMs = snap.nowMs ?? Number.NEGATIVE_INFINITY;
    this.counters = { ...snap.counters };
    const waiters: Waiter[] = [];
    for (const lock of snap.locks) {
      this.locks.set(lock.name, lock);
      for (const holder of lock.holders.values()) this.trackHold(holder);
      for (const waiter of lock.queue) waiters.push(waiter);
    }
    // Owner indexes in arrival order, as they were built originally (deterministic searches).
    waiters.sort((a, b) => a.seq - b.seq);
    for (const waiter of waiters) this.trackWait(waiter);
    for (const requestId of snap.tombstones) this.addTombstone(requestId);
    this.checkInvariants();
  }

  // ---- what the service reads -------------------------------------------------------------

  /** Subscribes to request outcomes; returns the unsubscribe function. */
  onOutcome(listener: (outcome: LockOutcome) => void): () => void {
    this.listeners.push(listener);
    return () => {
      const index = this.listeners.indexOf(listener);
      if (index >= 0) this.listeners.splice(index, 1);
    };
  }

  info(name: string): LockInfo {
    const lock = this.locks.get(name);
    if (lock === undefined) return { name, holders: [], waiters: [] };
    return {
      name,
      holders: [...lock.holders.values()].map(({ owner, mode, token, expiresAtMs }) => ({ owner, mode, token, expiresAtMs })),
      waiters: lock.queue.map(({ owner, mode, requestId, deadlineMs, isConversion }) => ({ owner, mode, requestId, deadlineMs, isConversion })),
    };
  }

  /** Names of the locks that exist (held or waited for), in creation order. */
  names(): string[] {
    return [...this.locks.keys()];
  }

  /** Whether request `requestId` is still waiting. */
  isWaiting(requestId: string): boolean {
    return this.requests.has(requestId);
  }

  /** The earliest lease end or wait deadline; the leader proposes lock.tick once past it. */
  nextDeadlineMs(): number | null {
    const lease = this.leases.peek()?.expiresAtMs ?? null;
    const deadline = this.deadlines.peek()?.deadlineMs ?? null;
    if (lease === null) return deadline;
    return deadline === null ? lease : Math.min(lease, deadline);
  }

  stats(): LockStats {
    return { locks: this.locks.size, holders: this.holderCount, waiters: this.waiterCount, ...this.counters };
  }

  // ---- ops ---------------------------------------------------------------------------------

  private applyOp(command: LogCommand): unknown {
    switch (command.op) {
      case "lock.acquire": {
        const args = parseAcquire(command.args);
        if (args instanceof ArgsError) return this.refuseMalformedAcquire(command.args, args);
        this.advanceClock(args.nowMs);
        return this.acquire(args);
      }
      case "lock.release": {
        const args = parseRelease(command.args);
        if (args instanceof ArgsError) return appliedError("BAD_REQUEST", args.message);
        this.advanceClock(args.nowMs);
        return this.release(args.name, args.owner);
      }
      case "lock.renew": {
        const args = parseRenew(command.args);
        if (args instanceof ArgsError) return appliedError("BAD_REQUEST", args.message);
        this.advanceClock(args.nowMs);
        return this.renew(args.name, args.owner, args.ttlMs);
      }
      case "lock.cancel": {
        const args = parseCancel(command.args);
        if (args instanceof ArgsError) return appliedError("BAD_REQUEST", args.message);
        this.advanceClock(args.nowMs);
        return this.cancel(args.requestId);
      }
      case "lock.tick": {
        const args = parseTick(command.args);
        if (args instanceof ArgsError) return appliedError("BAD_REQUEST", args.message);
        return this.advanceClock(args.nowMs);
      }
      default:
        return appliedError("BAD_REQUEST", `unknown lock operation '${command.op}'`);
    }
  }

  private acquire(args: AcquireArgs): unknown {
    const { name, owner, mode, requestId } = args;
    if (this.tombstones.has(requestId)) {
      // Cancelled before it arrived: its client was already told it failed. Decide it as the
      // cancel would have, and change nothing else.
      this.counters.cancellations += 1;
      return this.refuse(args, "TIMEOUT", `the request for lock '${name}' was cancelled before it was applied`, { cancelled: true });
    }
    // A retried proposal of a request that is still waiting changes nothing.
    if (this.requests.has(requestId)) return { queued: true };
    const lock = this.locks.get(name);
    const held = lock?.holders.get(owner);
    // Idempotent: the same mode again, or shared asked by the exclusive holder (exclusive
    // already grants everything shared does), returns the existing grant and token.
    if (held !== undefined && (held.mode === "exclusive" || held.mode === mode)) {
      return this.decideGrant(args, { token: held.token, mode: held.mode });
    }
    if (lock !== undefined && lock.waiterOf(owner) !== undefined) {
      return this.refuse(args, "CONFLICT", `owner '${owner}' already has a request waiting for lock '${name}'`);
    }
    if (held !== undefined) return this.acquireConversion(args, lock!, held);
    if (this.ownerEntryCount(owner) >= this.limits.ownerLocksMax) {
      return this.refuse(args, "TOO_LARGE", `owner '${owner}' holds or waits for ${this.limits.ownerLocksMax} locks (ownerLocksMax)`);
    }
    if (lock === undefined) {
      if (this.locks.size >= this.limits.locksMax) return this.refuse(args, "TOO_LARGE", `the table holds ${this.limits.locksMax} locks (locksMax)`);
      const created = new LockState(name);
      this.locks.set(name, created);
      return this.decideGrant(args, this.grantNew(created, owner, mode, args.ttlMs, requestId));
    }
    // FIFO: a request is granted at once only when nobody waits (Gray & Reuter 1993, ch. 8);
    // so a waiting exclusive request holds back later shared ones — no writer starvation.
    if (lock.queue.length === 0 && !lock.conflictsWithHolders(owner, mode)) {
      return this.decideGrant(args, this.grantNew(lock, owner, mode, args.ttlMs, requestId));
    }
    return this.wait(args, lock, false);
  }

  /** Shared → exclusive by a holder: at once when it is the sole holder, else it waits. */
  private acquireConversion(args: AcquireArgs, lock: LockState, held: Holder): unknown {
    if (lock.holders.size === 1) return this.decideGrant(args, this.upgrade(lock, held, args.ttlMs, args.requestId));
    if (this.ownerEntryCount(args.owner) >= this.limits.ownerLocksMax) {
      return this.refuse(args, "TOO_LARGE", `owner '${args.owner}' holds or waits for ${this.limits.ownerLocksMax} locks (ownerLocksMax)`);
    }
    return this.wait(args, lock, true);
  }

  private wait(args: AcquireArgs, lock: LockState, isConversion: boolean): unknown {
    if (args.waitMs === 0) {
      this.counters.timeouts += 1;
      return this.refuse(args, "TIMEOUT", `lock '${args.name}' is not available (try-lock)`);
    }
    if (lock.queue.length >= this.limits.lockWaitersMax) {
      return this.refuse(args, "TOO_LARGE", `lock '${args.name}' has ${this.limits.lockWaitersMax} waiting requests (lockWaitersMax)`);
    }
    if (this.waiterCount >= this.limits.waitersMax) {
      return this.refuse(args, "TOO_LARGE", `the table has ${this.limits.waitersMax} waiting requests (waitersMax)`);
    }
    const waiter: Waiter = {
      requestId: args.requestId,
      name: args.name,
      owner: args.owner,
      mode: args.mode,
      ttlMs: args.ttlMs,
      deadlineMs: args.waitMs === null ? null : this.nowMs + args.waitMs,
      seq: this.tokens.lastIndex,
      isConversion,
      heapIndex: -1,
    };
    const position = lock.insertPosition(isConversion);
    lock.insert(waiter, position);
    // The graph was acyclic before this request, so a new cycle runs through its owner. At the
    // tail, the request only adds edges out of itself; a conversion inserted ahead of plain
    // requests also makes them wait for its owner, so then every wait of the owner is a start.
    const cycle = findCycle(this, args.owner, isConversion ? [...this.waitsOf(args.owner), waiter] : [waiter]);
    if (cycle !== null) {
      lock.remove(waiter);
      this.counters.deadlocks += 1;
      const path = cycle.map((step) => step.owner).concat(args.owner).join(" → ");
      return this.refuse(args, "DEADLOCK", `waiting for lock '${args.name}' would close a waits-for cycle: ${path}`, { cycle });
    }
    this.trackWait(waiter);
    return { queued: true };
  }

  private release(name: string, owner: string): unknown {
    const lock = this.locks.get(name);
    const held = lock?.holders.get(owner);
    if (lock === undefined || held === undefined) return appliedError("NOT_FOUND", `owner '${owner}' does not hold lock '${name}'`, { name, owner });
    this.dropHold(lock, held);
    this.settle(lock);
    return { released: true };
  }

  private renew(name: string, owner: string, ttlMs: number): unknown {
    const held = this.locks.get(name)?.holders.get(owner);
    if (held === undefined) return appliedError("NOT_FOUND", `owner '${owner}' does not hold lock '${name}'`, { name, owner });
    // The new lease runs from now, also for a hold that had none (it gains one).
    this.setLease(held, this.nowMs + ttlMs);
    return { expiresAtMs: held.expiresAtMs };
  }

  /**
   * Withdraws request `requestId` whatever its state, because the proposer answered its client
   * with a failure: a waiting request is removed (outcome TIMEOUT, cancelled), a hold it was
   * granted is released, and in every case a tombstone refuses the acquire if it is applied later
   * (still in flight, or retried past the rid dedup).
   */
  private cancel(requestId: string): CancelResult {
    let cancelled = false;
    const waiter = this.requests.get(requestId);
    if (waiter !== undefined) {
      const lock = this.locks.get(waiter.name)!;
      this.dropWait(lock, waiter);
      this.counters.cancellations += 1;
      this.decide(waiter, { error: "TIMEOUT", message: `the request for lock '${waiter.name}' was cancelled`, cancelled: true });
      this.settle(lock);
      cancelled = true;
    }
    // Granted already: the client was told otherwise, so nobody knows of this hold, and without
    // a lease it would never end.
    const held = this.grantedBy.get(requestId);
    let released = false;
    if (held !== undefined) {
      const lock = this.locks.get(held.name)!;
      this.dropHold(lock, held);
      this.counters.cancellations += 1;
      this.settle(lock);
      cancelled = true;
      released = true;
    }
    this.addTombstone(requestId);
    return released ? { cancelled, released } : { cancelled };
  }

  /** Remembers a cancelled id; the oldest is forgotten past tombstonesMax (apply order: deterministic). */
  private addTombstone(requestId: string): void {
    if (this.tombstones.has(requestId)) return;
    this.tombstones.add(requestId);
    while (this.tombstones.size > this.limits.tombstonesMax) this.tombstones.delete(this.tombstones.values().next().value!);
  }

  /**
   * Moves the table's clock to max(clock, nowMs) — a new leader's clock may lag — and applies,
   * in time order, every lease end and wait deadline now due, as if a tick had run at each.
   * On a tie a lease ends before a wait times out, so that waiter can still be granted.
   */
  private advanceClock(nowMs: number): { expired: number; timedOut: number } {
    this.nowMs = Math.max(this.nowMs, nowMs);
    let expired = 0;
    let timedOut = 0;
    for (;;) {
      const holder = this.leases.peek();
      const waiter = this.deadlines.peek();
      const leaseMs = holder?.expiresAtMs ?? Number.POSITIVE_INFINITY;
      const deadlineMs = waiter?.deadlineMs ?? Number.POSITIVE_INFINITY;
      if (Math.min(leaseMs, deadlineMs) > this.nowMs) break;
      if (holder !== undefined && leaseMs <= deadlineMs) {
        this.expire(holder);
        expired += 1;
      } else if (waiter !== undefined) {
        this.timeOut(waiter);
        timedOut += 1;
      }
    }
    return { expired, timedOut };
  }

  private expire(holder: Holder): void {
    const lock = this.locks.get(holder.name)!;
    this.dropHold(lock, holder);
    this.counters.expirations += 1;
    this.settle(lock);
  }

  private timeOut(waiter: Waiter): void {
    const lock = this.locks.get(waiter.name)!;
    this.dropWait(lock, waiter);
    this.counters.timeouts += 1;
    this.decide(waiter, { error: "TIMEOUT", message: `lock '${waiter.name}' was not granted within the wait`, name: waiter.name });
    this.settle(lock);
  }

  // ---- grants ------------------------------------------------------------------------------

  /**
   * After a hold or a waiter went away: grant from the head while the head is compatible —
   * consecutive shared requests together, an exclusive one alone — then drop the lock if empty.
   */
  private settle(lock: LockState): void {
    while (lock.isHeadGrantable()) {
      const waiter = lock.queue[0]!;
      this.dropWait(lock, waiter);
      const held = lock.holders.get(waiter.owner);
      assert(held === undefined || waiter.mode === "exclusive", `lock ${lock.name}: a shared holder waits for shared`);
      const grant = held !== undefined ? this.upgrade(lock, held, waiter.ttlMs, waiter.requestId) : this.grantNew(lock, waiter.owner, waiter.mode, waiter.ttlMs, waiter.requestId);
      this.decide(waiter, grant);
    }
    if (lock.holders.size === 0) {
      assert(lock.queue.length === 0, `lock ${lock.name}: requests wait while nobody holds it`);
      this.locks.delete(lock.name);
    }
  }

  private grantNew(lock: LockState, owner: string, mode: LockMode, ttlMs: number | null, requestId: string): Grant {
    assert(!lock.holders.has(owner), `lock ${lock.name}: owner ${owner} granted twice`);
    const holder: Holder = { owner, name: lock.name, mode, token: this.tokens.next(lock.name), expiresAtMs: null, requestId, heapIndex: -1 };
    lock.holders.set(owner, holder);
    this.trackHold(holder);
    if (ttlMs !== null) this.setLease(holder, this.nowMs + ttlMs);
    this.counters.grants += 1;
    return { token: holder.token, mode };
  }

  /**
   * Shared → exclusive in place: a new token (a new grant), the conversion's lease and request
   * id. Cancelling the conversion later releases the whole hold: the shared grant's token is
   * superseded, and handing an older token back would break its order.
   */
  private upgrade(lock: LockState, holder: Holder, ttlMs: number | null, requestId: string): Grant {
    assert(holder.mode === "shared", `lock ${lock.name}: upgrading a ${holder.mode} hold`);
    assert(lock.holders.size === 1, `lock ${lock.name}: upgrading while others hold it`);
    this.unindexGrant(holder);
    holder.requestId = requestId;
    this.indexGrant(holder);
    if (holder.heapIndex !== -1) this.leases.remove(holder);
    holder.mode = "exclusive";
    holder.token = this.tokens.next(lock.name);
    holder.expiresAtMs = null;
    if (ttlMs !== null) this.setLease(holder, this.nowMs + ttlMs);
    this.counters.grants += 1;
    return { token: holder.token, mode: "exclusive" };
  }

  private setLease(holder: Holder, expiresAtMs: number): void {
    if (holder.heapIndex !== -1) this.leases.remove(holder);
    holder.expiresAtMs = expiresAtMs;
    this.leases.push(holder);
  }

  // ---- bookkeeping -------------------------------------------------------------------------

  private trackHold(holder: Holder): void {
    this.indexGrant(holder);
    this.holderCount += 1;
    this.addOwnerEntries(holder.owner, 1);
    if (holder.expiresAtMs !== null && holder.heapIndex === -1) this.leases.push(holder);
  }

  private dropHold(lock: LockState, holder: Holder): void {
    assert(lock.holders.get(holder.owner) === holder, `lock ${lock.name}: dropping a hold it does not have`);
    lock.holders.delete(holder.owner);
    this.unindexGrant(holder);
    if (holder.heapIndex !== -1) this.leases.remove(holder);
    this.holderCount -= 1;
    this.addOwnerEntries(holder.owner, -1);
  }

  /**
   * Request ids are unique per request, but a log entry is input: if a buggy proposer reuses
   * one, the latest grant wins the index (deterministic) rather than asserting on every replica.
   */
  private indexGrant(holder: Holder): void {
    if (holder.requestId !== null) this.grantedBy.set(holder.requestId, holder);
  }

  private unindexGrant(holder: Holder): void {
    if (holder.requestId !== null && this.grantedBy.get(holder.requestId) === holder) this.grantedBy.delete(holder.requestId);
  }

  private trackWait(waiter: Waiter): void {
    assert(!this.requests.has(waiter.requestId), `request ${waiter.requestId} waits twice`);
    this.requests.set(waiter.requestId, waiter);
    const waits = this.ownerWaits.get(waiter.owner);
    if (waits === undefined) this.ownerWaits.set(waiter.owner, [waiter]);
    else waits.push(waiter);
    if (waiter.deadlineMs !== null) this.deadlines.push(waiter);
    this.waiterCount += 1;
    this.addOwnerEntries(waiter.owner, 1);
  }

  private dropWait(lock: LockState, waiter: Waiter): void {
    lock.remove(waiter);
    this.requests.delete(waiter.requestId);
    const waits = this.ownerWaits.get(waiter.owner)!;
    waits.splice(waits.indexOf(waiter), 1);
    if (waits.length === 0) this.ownerWaits.delete(waiter.owner);
    if (waiter.heapIndex !== -1) this.deadlines.remove(waiter);
    this.waiterCount -= 1;
    this.addOwnerEntries(waiter.owner, -1);
  }

  private addOwnerEntries(owner: string, delta: number): void {
    const count = this.ownerEntryCount(owner) + delta;
    assert(count >= 0, `owner ${owner}: negative entry count`);
    if (count === 0) this.ownerEntries.delete(owner);
    else this.ownerEntries.set(owner, count);
  }

  private ownerEntryCount(owner: string): number {
    return this.ownerEntries.get(owner) ?? 0;
  }

  // ---- WaitsForView ------------------------------------------------------------------------

  lock(name: string): LockState | undefined {
    return this.locks.get(name);
  }

  waitsOf(owner: string): readonly Waiter[] {
    return this.ownerWaits.get(owner) ?? [];
  }

  // ---- outcomes ----------------------------------------------------------------------------

  private decideGrant(args: AcquireArgs, grant: Grant): unknown {
    this.decide(args, grant);
    return { granted: true, token: grant.token, mode: grant.mode };
  }

  private refuse(args: AcquireArgs, code: LockErrorCode, message: string, details: Pick<LockRefusal, "cycle" | "cancelled"> = {}): unknown {
    this.decide(args, { ...details, error: code, message, name: args.name });
    // `decided`: the table refused it in the log, a definite outcome — unlike a TIMEOUT or
    // UNAVAILABLE from the way there (a forward that timed out), after which it may still commit.
    return appliedError(code, message, { ...details, name: args.name, decided: true });
  }

  /** A malformed acquire still gets its one outcome when it names its request. */
  private refuseMalformedAcquire(raw: Record<string, unknown>, error: ArgsError): unknown {
    const { requestId, name, owner } = raw;
    if (typeof requestId === "string" && requestId.length > 0) {
      this.pendingOutcomes.push({
        requestId,
        name: typeof name === "string" ? name : "",
        owner: typeof owner === "string" ? owner : "",
        result: { error: "BAD_REQUEST", message: error.message },
      });
    }
    return appliedError("BAD_REQUEST", error.message);
  }

  private decide(request: { requestId: string; name: string; owner: string }, result: LockOutcome["result"]): void {
    this.pendingOutcomes.push({ requestId: request.requestId, name: request.name, owner: request.owner, result });
  }

  private report(outcomes: LockOutcome[]): void {
    let failure: unknown = null;
    for (const outcome of outcomes) {
      for (const listener of [...this.listeners]) {
        try {
          listener(outcome);
        } catch (error) {
          failure ??= error;
        }
      }
    }
    // A listener's bug must not stop the others; the table itself is already consistent.
    if (failure !== null) throw failure;
  }

  // ---- invariants --------------------------------------------------------------------------

  /** Checks every structural invariant (O(table)); tests run it after every step. */
  checkInvariants(): void {
    let holders = 0;
    let waiters = 0;
    const entries = new Map<string, number>();
    const count = (owner: string) => entries.set(owner, (entries.get(owner) ?? 0) + 1);
    for (const [name, lock] of this.locks) {
      assert(lock.name === name && lock.holders.size > 0, `lock ${name}: exists without holders`);
      const exclusive = [...lock.holders.values()].filter((h) => h.mode === "exclusive").length;
      assert(exclusive === 0 || lock.holders.size === 1, `lock ${name}: an exclusive hold shares the lock`);
      assert(!lock.isHeadGrantable(), `lock ${name}: the head of the queue is grantable`);
      assert(lock.queue.length <= this.limits.lockWaitersMax, `lock ${name}: too many waiters`);
      let isConversionPart = true;
      for (const waiter of lock.queue) {
        if (!waiter.isConversion) isConversionPart = false;
        assert(!waiter.isConversion || isConversionPart, `lock ${name}: a conversion queued behind a plain request`);
        assert(this.requests.get(waiter.requestId) === waiter && waiter.name === name, `lock ${name}: waiter ${waiter.requestId} not indexed`);
        assert(lock.holders.get(waiter.owner)?.mode !== "exclusive", `lock ${name}: the exclusive holder also waits`);
        assert((waiter.deadlineMs === null) === (waiter.heapIndex === -1), `waiter ${waiter.requestId}: deadline heap out of sync`);
        count(waiter.owner);
        waiters += 1;
      }
      for (const [owner, holder] of lock.holders) {
        assert(holder.owner === owner, `lock ${name}: hold keyed by the wrong owner`);
        assert((holder.expiresAtMs === null) === (holder.heapIndex === -1), `hold ${owner}@${name}: lease heap out of sync`);
        count(owner);
        holders += 1;
      }
    }
    assert(holders === this.holderCount && waiters === this.waiterCount, "holder or waiter counts out of sync");
    assert(waiters === this.requests.size && holders === this.leases.size + countUnleased(this.locks), "indexes out of sync");
    assert(entries.size === this.ownerEntries.size, "owner entry counts out of sync");
    for (const [requestId, holder] of this.grantedBy) {
      assert(holder.requestId === requestId && this.locks.get(holder.name)?.holders.get(holder.owner) === holder, `request ${requestId}: indexed hold is gone`);
    }
    assert(this.tombstones.size <= this.limits.tombstonesMax, "too many tombstones");
    for (const [owner, n] of entries) assert(this.ownerEntries.get(owner) === n, `owner ${owner}: entry count out of sync`);
    for (const [owner, waits] of this.ownerWaits) {
      for (let i = 1; i < waits.length; i += 1) assert(waits[i - 1]!.seq < waits[i]!.seq, `owner ${owner}: waits out of arrival order`);
    }
  }
}

function countUnleased(locks: Map<string, LockState>): number {
  let n = 0;
  for (const lock of locks.values()) for (const holder of lock.holders.values()) if (holder.expiresAtMs === null) n += 1;
  return n;
}

function emptyCounters(): Counters {
  return { grants: 0, timeouts: 0, deadlocks: 0, expirations: 0, cancellations: 0 };
}
