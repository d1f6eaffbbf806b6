// Property tests of the lock table: random interleavings of acquire / release / renew / cancel /
// tick (with a leader clock that sometimes lags) from a seeded PRNG, every invariant checked
// after every step against brute-force references, and a twin table restored from snapshots
// at random points that must behave identically. Cancels hit waiting requests, granted ones and
// ones not proposed yet, against a small tombstone bound so that eviction happens too. A failure prints its seed; replay one with
// SINKRON_LOCK_SEED=<seed>, run more with SINKRON_LOCK_SEEDS=<count>.
import { expect, test } from "bun:test";
import { LockTable } from "../../src/locks/lock-table.ts";
import type { LockInfo, LockMode, LockOutcome, LockStats, WaiterInfo } from "../../src/locks/types.ts";
import { modesConflict } from "../../src/locks/types.ts";
import { msgpack } from "../../src/protocol/msgpack.ts";
import { CompositeStateMachine } from "../../src/replication/state-machine-composite.ts";
import { seededRandom } from "../../src/util/prng.ts";

const STEPS_PER_SEED = 400;
const SEEDS_DEFAULT = 150;
/** Small, so tombstones are evicted within a run (a cancel tombstones whatever it names). */
const TOMBSTONES_MAX = 4;

interface Op {
  op: string;
  args: Record<string, unknown>;
}

interface Step {
  op: Op;
  result: unknown;
  outcomes: LockOutcome[];
}

type Rng = () => number;
const pick = <T,>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng() * items.length)]!;

/** One random world: a handful of owners and locks, so conflicts and cycles are frequent. */
class World {
  readonly owners: string[];
  readonly names: string[];
  nowMs = 1_000;
  private requestSeq = 0;
  /** owner@name → the request whose grant the current hold is (as the outcomes told). */
  private readonly grants = new Map<string, { requestId: string; token: number }>();

  constructor(private readonly rng: Rng) {
    this.owners = Array.from({ length: 2 + Math.floor(rng() * 6) }, (_, i) => `o${i}`);
    this.names = Array.from({ length: 1 + Math.floor(rng() * 4) }, (_, i) => `L${i}`);
  }

  next(table: LockTable): Op {
    const rng = this.rng;
    // The proposer's clock: mostly forward, sometimes a lagging new leader.
    const r = rng();
    if (r < 0.1) this.nowMs -= Math.floor(rng() * 300);
    else if (r < 0.6) this.nowMs += Math.floor(rng() * 120);
    const nowMs = this.nowMs;
    const kind = rng();
    if (kind < 0.5) {
      const waiting = this.waitingRequests(table);
      if (rng() < 0.03 && waiting.length > 0) {
        const w = pick(rng, waiting); // a retried proposal (deduped in front of the table by its rid)
        return { op: "lock.acquire", args: { requestId: w.requestId, owner: w.owner, name: w.name, mode: w.mode, waitMs: 50, ttlMs: null, nowMs } };
      }
      const waitMs = pick(rng, [0, 0, 50, 200, 1_000, null] as const);
      const ttlMs = pick(rng, [null, null, 100, 400] as const);
      const mode: LockMode = rng() < 0.5 ? "shared" : "exclusive";
      return { op: "lock.acquire", args: { requestId: `r${++this.requestSeq}`, owner: pick(rng, this.owners), name: pick(rng, this.names), mode, waitMs, ttlMs, nowMs } };
    }
    if (kind < 0.75) {
      const held = this.holds(table);
      const [owner, name] = held.length > 0 && rng() < 0.85 ? pick(rng, held) : [pick(rng, this.owners), pick(rng, this.names)];
      return { op: "lock.release", args: { owner, name, nowMs } };
    }
    if (kind < 0.83) {
      const held = this.holds(table);
      const [owner, name] = held.length > 0 && rng() < 0.85 ? pick(rng, held) : [pick(rng, this.owners), pick(rng, this.names)];
      return { op: "lock.renew", args: { owner, name, ttlMs: pick(rng, [50, 300]), nowMs } };
    }
    if (kind < 0.9) {
      const waiting = this.waitingRequests(table);
      const granted = this.grantRequests(table);
      const which = rng();
      let requestId = `r${Math.floor(rng() * (this.requestSeq + 1))}`; // anything issued, or r0: never
      if (which < 0.45 && waiting.length > 0) requestId = pick(rng, waiting).requestId;
      else if (which < 0.7 && granted.length > 0) requestId = pick(rng, granted);
      else if (which < 0.85) requestId = `r${this.requestSeq + 1 + Math.floor(rng() * 2)}`; // before its acquire
      return { op: "lock.cancel", args: { requestId, nowMs } };
    }
    this.nowMs += Math.floor(rng() * 400);
    return { op: "lock.tick", args: { nowMs: this.nowMs } };
  }

  /** Learns which request each new grant came from (an idempotent answer repeats the token). */
  observe(outcomes: LockOutcome[]): void {
    for (const o of outcomes) {
      if (!("token" in o.result)) continue;
      const key = `${o.owner}@${o.name}`;
      if (this.grants.get(key)?.token !== o.result.token) this.grants.set(key, { requestId: o.requestId, token: o.result.token });
    }
  }

  private grantRequests(table: LockTable): string[] {
    return this.names.flatMap((name) =>
      table.info(name).holders.flatMap((h) => {
        const grant = this.grants.get(`${h.owner}@${name}`);
        return grant?.token === h.token ? [grant.requestId] : [];
      }),
    );
  }

  private holds(table: LockTable): [string, string][] {
    return this.names.flatMap((name) => table.info(name).holders.map((h): [string, string] => [h.owner, name]));
  }

  private waitingRequests(table: LockTable): (WaiterInfo & { name: string })[] {
    return this.names.flatMap((name) => table.info(name).waiters.map((w) => ({ ...w, name })));
  }
}

function must(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

// ---- brute-force references -------------------------------------------------------------------

/** Edges owner → owner with the lock they are waited on in, recomputed from scratch. */
function waitsForEdges(infos: LockInfo[]): { from: string; to: string; name: string }[] {
  const edges: { from: string; to: string; name: string }[] = [];
  for (const info of infos) {
    info.waiters.forEach((w, i) => {
      for (const h of info.holders) if (h.owner !== w.owner && modesConflict(h.mode, w.mode)) edges.push({ from: w.owner, to: h.owner, name: info.name });
      for (const a of info.waiters.slice(0, i)) if (a.owner !== w.owner && modesConflict(a.mode, w.mode)) edges.push({ from: w.owner, to: a.owner, name: info.name });
    });
  }
  return edges;
}

/** Owners on some cycle: v is on a cycle iff v reaches itself (plain BFS from every node). */
function ownersOnCycles(edges: { from: string; to: string }[]): Set<string> {
  const next = new Map<string, string[]>();
  for (const e of edges) next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
  const onCycle = new Set<string>();
  for (const start of next.keys()) {
    const seen = new Set<string>();
    const frontier = [...(next.get(start) ?? [])];
    while (frontier.length > 0) {
      const v = frontier.pop()!;
      if (v === start) {
        onCycle.add(start);
        break;
      }
      if (seen.has(v)) continue;
      seen.add(v);
      frontier.push(...(next.get(v) ?? []));
    }
  }
  return onCycle;
}

/** Where the table's rules put a new request: conversions after queued conversions, others last. */
function withHypothetical(infos: LockInfo[], args: Record<string, unknown>): LockInfo[] {
  return infos.map((info) => {
    if (info.name !== args.name) return info;
    const isConversion = args.mode === "exclusive" && info.holders.some((h) => h.owner === args.owner && h.mode === "shared");
    const waiter: WaiterInfo = { owner: args.owner as string, mode: args.mode as LockMode, requestId: args.requestId as string, deadlineMs: null, isConversion };
    const position = isConversion ? info.waiters.filter((w) => w.isConversion).length : info.waiters.length;
    return { ...info, waiters: [...info.waiters.slice(0, position), waiter, ...info.waiters.slice(position)] };
  });
}

// ---- the checker -------------------------------------------------------------------------------

class Checker {
  private readonly maxToken = new Map<string, number>();
  private readonly outcomeCount = new Map<string, number>();
  private readonly issued = new Set<string>();
  private clockMs = Number.NEGATIVE_INFINITY;
  /** owner@name → the request whose grant the current hold is (when the tokens match). */
  private readonly grantOf = new Map<string, { requestId: string; token: number }>();
  /** The model of the table's tombstones: every cancelled id, oldest first, at most TOMBSTONES_MAX. */
  private readonly tombstones = new Set<string>();
  tombstoneRefusals = 0;
  cancelReleases = 0;

  constructor(private readonly names: string[]) {}

  check(table: LockTable, before: LockInfo[], step: Step): void {
    table.checkInvariants();
    const after = this.names.map((name) => table.info(name));
    const { op, result, outcomes } = step;
    // A retried acquire is answered by the dedup table: the lock table never sees it.
    const isRetry = op.op === "lock.acquire" && this.issued.has(op.args.requestId as string);
    if (isRetry) must(outcomes.length === 0, "a deduped retry decided something");
    else this.clockMs = Math.max(this.clockMs, op.args.nowMs as number);
    const res = result as Record<string, unknown>;

    for (const info of after) {
      // Mutual exclusion (DESIGN.md guarantees).
      const exclusive = info.holders.filter((h) => h.mode === "exclusive").length;
      must(exclusive === 0 || info.holders.length === 1, `${info.name}: exclusive shares the lock`);
      // Every due lease and deadline was applied with the entry that carried the time.
      for (const h of info.holders) must(h.expiresAtMs === null || h.expiresAtMs > this.clockMs, `${info.name}: lease of ${h.owner} overdue`);
      for (const w of info.waiters) must(w.deadlineMs === null || w.deadlineMs > this.clockMs, `${info.name}: ${w.requestId} overdue`);
    }

    // Exactly one outcome per request; a waiting request has none yet.
    if (op.op === "lock.acquire") this.issued.add(op.args.requestId as string);
    for (const o of outcomes) {
      const n = (this.outcomeCount.get(o.requestId) ?? 0) + 1;
      this.outcomeCount.set(o.requestId, n);
      must(n === 1 && this.issued.has(o.requestId), `${o.requestId}: outcome ${n}`);
    }
    const waitingIds = new Set(after.flatMap((info) => info.waiters.map((w) => w.requestId)));
    for (const id of waitingIds) must(!this.outcomeCount.has(id), `${id} waits after its outcome`);
    if (op.op === "lock.acquire") {
      const id = op.args.requestId as string;
      must(waitingIds.has(id) !== this.outcomeCount.has(id), `${id}: neither waiting nor decided`);
    }

    this.checkCancel(before, after, op, res, outcomes, isRetry);
    const isIdempotentAnswer = this.checkTokens(before, op, outcomes);
    // Every hold carries a token some grant reported.
    for (const info of after) for (const h of info.holders) must(h.token <= this.maxToken.get(info.name)!, `${info.name}: token ${h.token} never reported`);
    this.checkFifo(before, after, op, res, outcomes, isIdempotentAnswer);
    this.checkDeadlocks(after, op, res);
  }

  /**
   * lock.cancel X withdraws X whatever its state: afterwards X neither waits nor holds; it says
   * `cancelled` exactly when X was waiting (outcome TIMEOUT, cancelled) or holding (`released`);
   * and an acquire X applied later is refused TIMEOUT, cancelled, while X's tombstone lasts
   * (evicted oldest first).
   */
  private checkCancel(before: LockInfo[], after: LockInfo[], op: Op, res: Record<string, unknown>, outcomes: LockOutcome[], isRetry: boolean): void {
    const id = op.args.requestId as string;
    const heldBy = (infos: LockInfo[], requestId: string) =>
      infos.some((info) => info.holders.some((h) => {
        const grant = this.grantOf.get(`${h.owner}@${info.name}`);
        return grant?.token === h.token && grant.requestId === requestId;
      }));
    const wasHolding = op.op === "lock.cancel" && heldBy(before, id);
    for (const o of outcomes) {
      if (!("token" in o.result)) continue;
      const key = `${o.owner}@${o.name}`;
      if (this.grantOf.get(key)?.token !== o.result.token) this.grantOf.set(key, { requestId: o.requestId, token: o.result.token });
    }
    const isWaiting = after.some((info) => info.waiters.some((w) => w.requestId === id));
    const refusedCancelled = outcomes.some((o) => o.requestId === id && !("token" in o.result) && o.result.error === "TIMEOUT" && o.result.cancelled === true);
    if (op.op === "lock.cancel") {
      must(!isWaiting && !heldBy(after, id), `${id} waits or holds after its cancel`);
      const grantedThisStep = outcomes.some((o) => o.requestId === id && "token" in o.result);
      must(res.released !== true || wasHolding || grantedThisStep, `${id}: cancel released a hold it did not have`);
      must(res.cancelled === (refusedCancelled || res.released === true), `${id}: cancelled ${String(res.cancelled)} does not match what it withdrew`);
      if (res.released === true) this.cancelReleases += 1;
      if (!this.tombstones.has(id)) {
        this.tombstones.add(id);
        if (this.tombstones.size > TOMBSTONES_MAX) this.tombstones.delete(this.tombstones.values().next().value!);
      }
      return;
    }
    if (op.op !== "lock.acquire" || isRetry) return;
    if (this.tombstones.has(id)) {
      must(res.$error === "TIMEOUT" && res.cancelled === true && refusedCancelled, `${id}: acquired after its cancel`);
      must(!isWaiting && !heldBy(after, id), `${id}: a cancelled acquire changed the table`);
      this.tombstoneRefusals += 1;
    } else {
      must(res.cancelled !== true && !refusedCancelled, `${id}: refused as cancelled without a tombstone`);
    }
  }

  /** At the end of a run: every request ever issued is waiting or has exactly one outcome. */
  checkEnd(table: LockTable): void {
    for (const id of this.issued) must(table.isWaiting(id) !== this.outcomeCount.has(id), `${id}: neither waiting nor decided at the end`);
  }

  /** Tokens strictly increase per lock over all new grants; a repeat is an idempotent return. */
  private checkTokens(before: LockInfo[], op: Op, outcomes: LockOutcome[]): boolean {
    let isIdempotentAnswer = false;
    const grantedThisStep = new Map<string, LockOutcome["result"]>();
    for (const o of outcomes) {
      if (!("token" in o.result)) continue;
      const last = this.maxToken.get(o.name) ?? -1;
      if (o.result.token > last) {
        this.maxToken.set(o.name, o.result.token);
        grantedThisStep.set(`${o.owner}@${o.name}`, o.result);
        continue;
      }
      // Not new: must be the acquire's idempotent answer with the hold the owner already had
      // (from before the step, or granted from the queue as the entry's clock advanced).
      must(op.op === "lock.acquire", `${o.name}: token ${o.result.token} not above ${last}`);
      must(o.requestId === op.args.requestId, `${o.name}: token ${o.result.token} reused for ${o.requestId}`);
      const held = grantedThisStep.get(`${o.owner}@${o.name}`) ?? before.find((i) => i.name === o.name)?.holders.find((h) => h.owner === o.owner);
      must(held !== undefined && "token" in held, `${o.name}: ${o.requestId} repeats a token ${o.owner} does not hold`);
      const hold = held as { token: number; mode: LockMode };
      must(hold.token === o.result.token, `${o.name}: idempotent answer with another token`);
      must(hold.mode === "exclusive" || hold.mode === op.args.mode, `${o.name}: idempotent answer of a weaker mode`);
      isIdempotentAnswer = true;
    }
    return isIdempotentAnswer;
  }

  /**
   * FIFO: a queued request is granted only when every request queued ahead of it (before the
   * step) also left the queue in this step; a new request is granted at once only if nobody
   * still waits (except idempotent answers and a sole holder's upgrade); a new waiter goes to
   * the tail, or, if a conversion, right after the queued conversions.
   */
  private checkFifo(before: LockInfo[], after: LockInfo[], op: Op, res: Record<string, unknown>, outcomes: LockOutcome[], isIdempotentAnswer: boolean): void {
    const stillWaiting = new Set(after.flatMap((info) => info.waiters.map((w) => w.requestId)));
    for (const o of outcomes) {
      if (!("token" in o.result)) continue;
      const queue = before.find((i) => i.name === o.name)?.waiters ?? [];
      const position = queue.findIndex((w) => w.requestId === o.requestId);
      for (const ahead of queue.slice(0, Math.max(position, 0))) must(!stillWaiting.has(ahead.requestId), `${o.name}: ${o.requestId} granted before ${ahead.requestId}`);
    }
    if (op.op !== "lock.acquire") return;
    const name = op.args.name as string;
    const infoBefore = before.find((i) => i.name === name)!;
    const infoAfter = after.find((i) => i.name === name)!;
    const heldBefore = infoBefore.holders.find((h) => h.owner === op.args.owner);
    const wasWaiting = infoBefore.waiters.some((w) => w.requestId === op.args.requestId);
    if (res.granted === true && !wasWaiting) {
      // A sole holder's upgrade is granted at once by rule (issue 5), whatever waits.
      // (The shared hold may be from before the step or granted as the entry's clock advanced.)
      const heldShared = heldBefore?.mode === "shared" || outcomes.some((o) => o.owner === op.args.owner && o.name === name && "token" in o.result && o.result.mode === "shared");
      const isUpgrade = heldShared && op.args.mode === "exclusive" && infoAfter.holders.length === 1;
      if (!isIdempotentAnswer && !isUpgrade) {
        for (const w of infoBefore.waiters) must(!stillWaiting.has(w.requestId), `${name}: new request granted while ${w.requestId} waits`);
      }
    }
    if (res.queued === true && !wasWaiting) {
      const position = infoAfter.waiters.findIndex((w) => w.requestId === op.args.requestId);
      const waiter = infoAfter.waiters[position]!;
      const holdsShared = infoAfter.holders.some((h) => h.owner === op.args.owner && h.mode === "shared");
      must(waiter.isConversion === (holdsShared && op.args.mode === "exclusive"), `${name}: conversion flag wrong`);
      const conversions = infoAfter.waiters.filter((w) => w.isConversion).length;
      must(position === (waiter.isConversion ? conversions - 1 : infoAfter.waiters.length - 1), `${name}: new waiter at position ${position}`);
    }
  }

  /** The graph stays acyclic; a DEADLOCK refusal is exactly a request that would close a cycle. */
  private checkDeadlocks(after: LockInfo[], op: Op, res: Record<string, unknown>): void {
    const cyclic = ownersOnCycles(waitsForEdges(after));
    must(cyclic.size === 0, `waits-for cycle through ${[...cyclic].join(",")}`);
    if (res.$error !== "DEADLOCK") return;
    const hypothetical = withHypothetical(after, op.args);
    const edges = waitsForEdges(hypothetical);
    must(ownersOnCycles(edges).has(op.args.owner as string), "DEADLOCK refused a request that closes no cycle");
    const cycle = res.cycle as { owner: string; name: string }[];
    must(cycle[0]!.owner === op.args.owner, "reported cycle does not start at the requester");
    cycle.forEach((stepOfCycle, i) => {
      const to = cycle[(i + 1) % cycle.length]!.owner;
      must(edges.some((e) => e.from === stepOfCycle.owner && e.to === to && e.name === stepOfCycle.name), `reported edge ${stepOfCycle.owner} -${stepOfCycle.name}-> ${to} does not exist`);
    });
  }
}

// ---- the run -----------------------------------------------------------------------------------

/** Group 0 as the lead mounts it: the table under prefix "lock", request-id dedup in front. */
class Group {
  readonly composite = new CompositeStateMachine();
  readonly table = new LockTable({ tombstonesMax: TOMBSTONES_MAX });
  outcomes: LockOutcome[] = [];

  constructor() {
    this.composite.mount("lock", this.table);
    this.table.onOutcome((o) => this.outcomes.push(o));
  }

  apply(op: Op, index: number): unknown {
    this.outcomes = [];
    // Acquires travel with rid = requestId (lock-service.ts), so a retried proposal is deduped.
    const rid = op.op === "lock.acquire" ? (op.args.requestId as string) : null;
    return this.composite.apply({ op: op.op, args: op.args, rid }, { index, term: 1 });
  }

  /** A replica that caught up from this one's snapshot, through MessagePack bytes. */
  restoredTwin(): Group {
    const twin = new Group();
    twin.composite.restore(msgpack.unpack(msgpack.pack(this.composite.snapshot())));
    return twin;
  }
}

type RunStats = Pick<LockStats, "grants" | "timeouts" | "deadlocks" | "expirations" | "cancellations"> & { tombstoneRefusals: number; cancelReleases: number };

function runSeed(seed: number): RunStats {
  const rng = seededRandom(seed);
  const world = new World(rng);
  const checker = new Checker(world.names);
  const a = new Group();
  let b = new Group();
  let index = 0;
  for (let stepNo = 0; stepNo < STEPS_PER_SEED; stepNo += 1) {
    // Log indexes advance with gaps (entries of other machines in group 0).
    index += 1 + (rng() < 0.2 ? Math.floor(rng() * 5) : 0);
    if (rng() < 0.05) b = a.restoredTwin();
    const op = world.next(a.table);
    const before = world.names.map((name) => a.table.info(name));
    const result = a.apply(op, index);
    const resultB = b.apply(op, index);
    world.observe(a.outcomes);
    try {
      must(Bun.deepEquals(resultB, result, true), "the restored twin answered differently");
      must(Bun.deepEquals(b.outcomes, a.outcomes, true), "the restored twin decided differently");
      must(b.table.nextDeadlineMs() === a.table.nextDeadlineMs(), "the restored twin's next deadline differs");
      if (stepNo % 16 === 0) must(Bun.deepEquals(b.table.snapshot(), a.table.snapshot(), true), "the restored twin's state differs");
      checker.check(a.table, before, { op, result, outcomes: a.outcomes });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const after = world.names.map((name) => a.table.info(name));
      throw new Error(
        `lock property failed: seed ${seed}, step ${stepNo}, op ${JSON.stringify(op)}\nreplay: SINKRON_LOCK_SEED=${seed} bun test test/locks\n${message}\n` +
          `before: ${JSON.stringify(before)}\nafter: ${JSON.stringify(after)}\nresult: ${JSON.stringify(result)}\noutcomes: ${JSON.stringify(a.outcomes)}`,
      );
    }
  }
  checker.checkEnd(a.table);
  const { grants, timeouts, deadlocks, expirations, cancellations } = a.table.stats();
  return { grants, timeouts, deadlocks, expirations, cancellations, tombstoneRefusals: checker.tombstoneRefusals, cancelReleases: checker.cancelReleases };
}

function seeds(): number[] {
  const one = process.env.SINKRON_LOCK_SEED;
  if (one !== undefined) return [Number(one)];
  const count = Number(process.env.SINKRON_LOCK_SEEDS ?? SEEDS_DEFAULT);
  return Array.from({ length: count }, (_, i) => 0x10c4 + i * 7919);
}

test("random interleavings keep every lock invariant, and a restored twin behaves identically", () => {
  const list = seeds();
  const total: RunStats = { grants: 0, timeouts: 0, deadlocks: 0, expirations: 0, cancellations: 0, tombstoneRefusals: 0, cancelReleases: 0 };
  for (const seed of list) {
    const run = runSeed(seed);
    for (const key of Object.keys(total) as (keyof RunStats)[]) total[key] += run[key];
  }
  console.log(`lock properties: ${list.length} seeds × ${STEPS_PER_SEED} steps:`, JSON.stringify(total));
  // The generator must exercise every path, or the properties say little.
  if (list.length >= 50) for (const value of Object.values(total)) expect(value).toBeGreaterThan(50);
}, 600_000);
