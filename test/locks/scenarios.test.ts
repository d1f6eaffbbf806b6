// Scenario transcripts for the lock table: one per rule of issue 5 (FIFO with mixed modes,
// writer non-starvation, shared batches, idempotency, conversions, try-lock, leases, wait
// timeouts, renew, cancel, limits, deadlocks, tokens across snapshots). Read them as specs.
import { expect, test } from "bun:test";
import { LockDriver, formatResult, transcript } from "./transcript.ts";

test("shared coexist, exclusive excludes, FIFO with mixed modes", () => {
  transcript(`
    acquire r1 a L s
    > granted s t1.0
    > outcome r1 a L: granted s t1.0
    acquire r2 b L s
    > granted s t2.0
    > outcome r2 b L: granted s t2.0
    acquire r3 c L x
    > queued
    acquire r4 d L s
    > queued
    acquire r5 e L s
    > queued
    acquire r6 f L x
    > queued
    acquire r7 g L s
    > queued
    info L
    > holders: a s t1.0, b s t2.0
    > waiters: r3 c x dl=10000, r4 d s dl=10000, r5 e s dl=10000, r6 f x dl=10000, r7 g s dl=10000
    release a L
    > released
    release b L
    > released
    > outcome r3 c L: granted x t9.0
    release c L
    > released
    > outcome r4 d L: granted s t10.0
    > outcome r5 e L: granted s t10.1
    info L
    > holders: d s t10.0, e s t10.1
    > waiters: r6 f x dl=10000, r7 g s dl=10000
    release d L
    > released
    release e L
    > released
    > outcome r6 f L: granted x t12.0
    release f L
    > released
    > outcome r7 g L: granted s t13.0
    info L
    > holders: g s t13.0
    > waiters: -
    stats
    > locks=1 holders=1 waiters=0 grants=7 timeouts=0 deadlocks=0 expirations=0 cancellations=0
  `);
});

test("upgrade deadlock: two shared holders both ask exclusive; the second is refused", () => {
  transcript(`
    acquire r1 a L s
    > granted s t1.0
    > outcome r1 a L: granted s t1.0
    acquire r2 b L s
    > granted s t2.0
    > outcome r2 b L: granted s t2.0
    acquire r3 a L x
    > queued
    acquire r4 b L x
    > DEADLOCK b -L-> a -L-> b
    > outcome r4 b L: DEADLOCK b -L-> a -L-> b
    info L
    > holders: a s t1.0, b s t2.0
    > waiters: r3 a x dl=10000 conv
  `);
});

test("deadlock of 3 owners: the newest request is refused with the cycle", () => {
  transcript(`
    acquire r1 a A x
    > granted x t1.0
    > outcome r1 a A: granted x t1.0
    acquire r2 b B x
    > granted x t2.0
    > outcome r2 b B: granted x t2.0
    acquire r3 c C x
    > granted x t3.0
    > outcome r3 c C: granted x t3.0
    acquire r4 a B x
    > queued
    acquire r5 b C x
    > queued
    acquire r6 c A x
    > DEADLOCK c -A-> a -B-> b -C-> c
    > outcome r6 c A: DEADLOCK c -A-> a -B-> b -C-> c
    stats
    > locks=3 holders=3 waiters=2 grants=3 timeouts=0 deadlocks=1 expirations=0 cancellations=0
  `);
});

test("idempotent re-acquire; exclusive holder asking shared gets its exclusive grant", () => {
  transcript(`
    acquire r1 a L s
    > granted s t1.0
    > outcome r1 a L: granted s t1.0
    acquire r2 a L s
    > granted s t1.0
    > outcome r2 a L: granted s t1.0
    acquire r3 b M x
    > granted x t3.0
    > outcome r3 b M: granted x t3.0
    acquire r4 b M x
    > granted x t3.0
    > outcome r4 b M: granted x t3.0
    acquire r5 b M s
    > granted x t3.0
    > outcome r5 b M: granted x t3.0
  `);
});

test("sole-holder upgrade at once, new token; upgrade waits behind co-holder, ahead of plain waiters", () => {
  transcript(`
    acquire r1 a L s
    > granted s t1.0
    > outcome r1 a L: granted s t1.0
    acquire r2 a L x
    > granted x t2.0
    > outcome r2 a L: granted x t2.0
    acquire r3 b M s
    > granted s t3.0
    > outcome r3 b M: granted s t3.0
    acquire r4 c M s
    > granted s t4.0
    > outcome r4 c M: granted s t4.0
    acquire r5 d M x
    > queued
    acquire r6 b M x
    > queued
    info M
    > holders: b s t3.0, c s t4.0
    > waiters: r6 b x dl=10000 conv, r5 d x dl=10000
    release c M
    > released
    > outcome r6 b M: granted x t7.0
    info M
    > holders: b x t7.0
    > waiters: r5 d x dl=10000
  `);
});

test("try-lock", () => {
  transcript(`
    acquire r1 a L x
    > granted x t1.0
    > outcome r1 a L: granted x t1.0
    acquire r2 b L s wait=0
    > TIMEOUT
    > outcome r2 b L: TIMEOUT
    acquire r3 b M s wait=0
    > granted s t3.0
    > outcome r3 b M: granted s t3.0
    stats
    > locks=2 holders=2 waiters=0 grants=2 timeouts=1 deadlocks=0 expirations=0 cancellations=0
  `);
});

test("lease expiry wakes waiters; renew; renew of expired", () => {
  transcript(`
    acquire r1 a L x ttl=1000
    > granted x t1.0
    > outcome r1 a L: granted x t1.0
    acquire r2 b L s wait=inf ttl=500
    > queued
    acquire r3 c L s wait=inf
    > queued
    next-deadline
    > 1000
    renew a L ttl=2000 at=800
    > expires 2800
    next-deadline
    > 2800
    tick at=2799
    > expired=0 timedOut=0
    tick at=2800
    > expired=1 timedOut=0
    > outcome r2 b L: granted s t6.0
    > outcome r3 c L: granted s t6.1
    info L
    > holders: b s t6.0 exp=3300, c s t6.1
    > waiters: -
    renew b L ttl=100 at=3400
    > NOT_FOUND
    renew c L ttl=100 at=3400
    > expires 3500
  `);
});

test("wait timeout; later waiters still granted in order", () => {
  transcript(`
    acquire r1 a L x
    > granted x t1.0
    > outcome r1 a L: granted x t1.0
    acquire r2 b L x wait=100
    > queued
    acquire r3 c L s wait=1000
    > queued
    next-deadline
    > 100
    tick at=100
    > expired=0 timedOut=1
    > outcome r2 b L: TIMEOUT
    release a L at=150
    > released
    > outcome r3 c L: granted s t5.0
  `);
});

test("cancel", () => {
  transcript(`
    acquire r1 a L x
    > granted x t1.0
    > outcome r1 a L: granted x t1.0
    acquire r2 b L x
    > queued
    acquire r3 c L s
    > queued
    cancel r2
    > cancelled true
    > outcome r2 b L: TIMEOUT cancelled
    cancel r2
    > cancelled false
    release a L
    > released
    > outcome r3 c L: granted s t6.0
  `);
});

test("cancel before its acquire: a tombstone refuses the acquire when it arrives, and changes nothing else", () => {
  transcript(`
    acquire r1 a L x
    > granted x t1.0
    > outcome r1 a L: granted x t1.0
    # The proposer gave up on r2 (outcome unknown) while r2 was still in flight.
    cancel r2
    > cancelled false
    acquire r2 b L x
    > TIMEOUT cancelled
    > outcome r2 b L: TIMEOUT cancelled
    # Refused even when the lock is free; a retry past the rid dedup is refused again.
    cancel r3
    > cancelled false
    acquire r3 c N x
    > TIMEOUT cancelled
    > outcome r3 c N: TIMEOUT cancelled
    acquire r3 c N x
    > TIMEOUT cancelled
    > outcome r3 c N: TIMEOUT cancelled
    info L
    > holders: a x t1.0
    > waiters: -
    info N
    > holders: -
    > waiters: -
    stats
    > locks=1 holders=1 waiters=0 grants=1 timeouts=0 deadlocks=0 expirations=0 cancellations=3
  `);
});

test("cancel after the grant releases the hold (the grant's request, not a re-acquire's) and grants the next waiters", () => {
  transcript(`
    acquire r1 a L x ttl=5000
    > granted x t1.0
    > outcome r1 a L: granted x t1.0
    acquire r2 b L s wait=inf
    > queued
    acquire r3 c L s wait=inf
    > queued
    cancel r1
    > cancelled true released
    > outcome r2 b L: granted s t4.0
    > outcome r3 c L: granted s t4.1
    # a's lease went with its hold.
    next-deadline
    > null
    # An idempotent re-acquire keeps the original grant's request id: cancelling it ends nothing.
    acquire r5 b L s
    > granted s t4.0
    > outcome r5 b L: granted s t4.0
    cancel r5
    > cancelled false
    info L
    > holders: b s t4.0, c s t4.1
    > waiters: -
    cancel r2
    > cancelled true released
    cancel r2
    > cancelled false
    # An upgrade is a new grant: the conversion's id now names the hold, and cancelling it ends
    # the whole hold (the shared grant's token is superseded).
    acquire r9 c L x
    > granted x t9.0
    > outcome r9 c L: granted x t9.0
    cancel r3
    > cancelled false
    info L
    > holders: c x t9.0
    > waiters: -
    cancel r9
    > cancelled true released
    info L
    > holders: -
    > waiters: -
    stats
    > locks=0 holders=0 waiters=0 grants=4 timeouts=0 deadlocks=0 expirations=0 cancellations=3
  `);
});

test("cancel of an unknown or already decided request is harmless", () => {
  transcript(`
    acquire r1 a L x
    > granted x t1.0
    > outcome r1 a L: granted x t1.0
    acquire r2 b L x wait=100
    > queued
    tick at=100
    > expired=0 timedOut=1
    > outcome r2 b L: TIMEOUT
    cancel r2
    > cancelled false
    cancel nobody
    > cancelled false
    cancel nobody
    > cancelled false
    info L
    > holders: a x t1.0
    > waiters: -
    release a L
    > released
    acquire r7 b L x
    > granted x t8.0
    > outcome r7 b L: granted x t8.0
    stats
    > locks=1 holders=1 waiters=0 grants=2 timeouts=1 deadlocks=0 expirations=0 cancellations=0
  `);
});

test("tombstones are bounded (tombstonesMax): the oldest is forgotten first, a repeat does not refresh it", () => {
  transcript(
    `
    cancel r1
    > cancelled false
    cancel r2
    > cancelled false
    cancel r1
    > cancelled false
    cancel r3
    > cancelled false
    # r1 is forgotten: its (very) late acquire is applied as new.
    acquire r1 a L s
    > granted s t5.0
    > outcome r1 a L: granted s t5.0
    acquire r2 b L s
    > TIMEOUT cancelled
    > outcome r2 b L: TIMEOUT cancelled
    acquire r3 c L s
    > TIMEOUT cancelled
    > outcome r3 c L: TIMEOUT cancelled
  `,
    { tombstonesMax: 2 },
  );
});

test("snapshot and restore keep the tombstones and the holds' request ids", () => {
  transcript(`
    acquire r1 a L x
    > granted x t1.0
    > outcome r1 a L: granted x t1.0
    acquire r2 b L x
    > queued
    cancel r9
    > cancelled false
    snapshot-restore
    > restored
    acquire r9 c M x
    > TIMEOUT cancelled
    > outcome r9 c M: TIMEOUT cancelled
    cancel r1
    > cancelled true released
    > outcome r2 b L: granted x t5.0
    snapshot-restore
    > restored
    cancel r2
    > cancelled true released
    info L
    > holders: -
    > waiters: -
  `);
});

test("a version 1 snapshot (no tombstones, no holders' request ids) restores; such a hold outlives a cancel", () => {
  const driver = new LockDriver();
  const v1 = {
    version: 1,
    lastIndex: 2,
    nowMs: 0,
    counters: { grants: 2, timeouts: 0, deadlocks: 0, expirations: 0, cancellations: 0 },
    locks: [["L", [["a", "exclusive", 1024, null]], [["r2", "b", "exclusive", null, 10_000, 2, false]]]],
  };
  driver.table.restore(v1);
  driver.table.checkInvariants();
  driver.index = 2;
  expect(driver.run("cancel r1")).toEqual(["cancelled false"]);
  expect(driver.run("info L")).toEqual(["holders: a x t1.0", "waiters: r2 b x dl=10000"]);
  expect(driver.run("cancel r2")).toEqual(["cancelled true", "outcome r2 b L: TIMEOUT cancelled"]);
  const snap = driver.table.snapshot() as { version: number; locks: unknown[]; tombstones: string[] };
  expect(snap).toMatchObject({ version: 2, locks: [["L", [["a", "exclusive", 1024, null, null]], []]], tombstones: ["r1", "r2"] });
  expect(driver.run("release a L")).toEqual(["released"]);
});

test("the clock never runs back", () => {
  transcript(`
    acquire r1 a L x ttl=1000 at=5000
    > granted x t1.0
    > outcome r1 a L: granted x t1.0
    acquire r2 b L x at=4000
    > queued
    info L
    > holders: a x t1.0 exp=6000
    > waiters: r2 b x dl=15000
    tick at=5999
    > expired=0 timedOut=0
    tick at=6000
    > expired=1 timedOut=0
    > outcome r2 b L: granted x t4.0
  `);
});

test("duplicate waiting request of one owner, retried proposal", () => {
  transcript(`
    acquire r1 a L x
    > granted x t1.0
    > outcome r1 a L: granted x t1.0
    acquire r2 b L x
    > queued
    acquire r3 b L s
    > CONFLICT
    > outcome r3 b L: CONFLICT
    acquire r2 b L x
    > queued
  `);
});

test("bad input", () => {
  transcript(`
    acquire r1 a L q
    > BAD_REQUEST
    > outcome r1 a L: BAD_REQUEST
    acquire r2 a L x ttl=0
    > BAD_REQUEST
    > outcome r2 a L: BAD_REQUEST
    release a
    > BAD_REQUEST
    tick
    > expired=0 timedOut=0
  `);
});

test("deadlock of 2 owners; nothing else changes", () => {
  transcript(`
    acquire r1 a A x
    > granted x t1.0
    > outcome r1 a A: granted x t1.0
    acquire r2 b B x
    > granted x t2.0
    > outcome r2 b B: granted x t2.0
    acquire r3 a B x
    > queued
    acquire r4 b A s
    > DEADLOCK b -A-> a -B-> b
    > outcome r4 b A: DEADLOCK b -A-> a -B-> b
    info A
    > holders: a x t1.0
    > waiters: -
    info B
    > holders: b x t2.0
    > waiters: r3 a x dl=10000
    stats
    > locks=2 holders=2 waiters=1 grants=2 timeouts=0 deadlocks=1 expirations=0 cancellations=0
    release b B
    > released
    > outcome r3 a B: granted x t5.0
  `);
});

test("FIFO edges: c waits for b (queued ahead, exclusive), not only for holders", () => {
  transcript(`
    acquire r1 a S s
    > granted s t1.0
    > outcome r1 a S: granted s t1.0
    acquire r2 b S x
    > queued
    acquire r3 c X x
    > granted x t3.0
    > outcome r3 c X: granted x t3.0
    acquire r4 c S s
    > queued
    acquire r5 a X x
    > DEADLOCK a -X-> c -S-> b -S-> a
    > outcome r5 a X: DEADLOCK a -X-> c -S-> b -S-> a
    info X
    > holders: c x t3.0
    > waiters: -
  `);
});

test("shared waits do not conflict: no false deadlock", () => {
  transcript(`
    acquire r1 a A s
    > granted s t1.0
    > outcome r1 a A: granted s t1.0
    acquire r2 b B s
    > granted s t2.0
    > outcome r2 b B: granted s t2.0
    acquire r3 a B s
    > granted s t3.0
    > outcome r3 a B: granted s t3.0
    acquire r4 b A s
    > granted s t4.0
    > outcome r4 b A: granted s t4.0
  `);
});

test("writer non-starvation", () => {
  transcript(`
    acquire r1 a L s
    > granted s t1.0
    > outcome r1 a L: granted s t1.0
    acquire r2 w L x
    > queued
    acquire r3 b L s
    > queued
    acquire r4 c L s
    > queued
    release a L
    > released
    > outcome r2 w L: granted x t5.0
    release w L
    > released
    > outcome r3 b L: granted s t6.0
    > outcome r4 c L: granted s t6.1
  `);
});

test("limits at their edges", () => {
  transcript(`
    acquire r1 a L x
    > granted x t1.0
    > outcome r1 a L: granted x t1.0
    acquire r2 b L x
    > queued
    acquire r3 c L x
    > queued
    acquire r4 d L x
    > TOO_LARGE lockWaitersMax
    > outcome r4 d L: TOO_LARGE
    acquire r5 a M x
    > granted x t5.0
    > outcome r5 a M: granted x t5.0
    acquire r6 a N x
    > TOO_LARGE ownerLocksMax
    > outcome r6 a N: TOO_LARGE
    acquire r7 e N x
    > granted x t7.0
    > outcome r7 e N: granted x t7.0
    acquire r8 e O x
    > TOO_LARGE locksMax
    > outcome r8 e O: TOO_LARGE
    acquire r9 f M x
    > queued
    acquire r10 g N x
    > TOO_LARGE waitersMax
    > outcome r10 g N: TOO_LARGE
    stats
    > locks=3 holders=3 waiters=3 grants=3 timeouts=0 deadlocks=0 expirations=0 cancellations=0
  `, { lockWaitersMax: 2, locksMax: 3, ownerLocksMax: 2, waitersMax: 3 });
});

test("tokens across snapshot and restore; waiters survive", () => {
  transcript(`
    acquire r1 a L x
    > granted x t1.0
    > outcome r1 a L: granted x t1.0
    acquire r2 b L s wait=inf
    > queued
    snapshot-restore
    > restored
    info L
    > holders: a x t1.0
    > waiters: r2 b s
    release a L
    > released
    > outcome r2 b L: granted s t3.0
    release b L
    > released
    snapshot-restore
    > restored
    acquire r3 c L x
    > granted x t5.0
    > outcome r3 c L: granted x t5.0
  `);
});

test("one tick expires two locks and grants a shared batch: per-lock rank k", () => {
  transcript(`
    acquire r1 a L x ttl=100
    > granted x t1.0
    > outcome r1 a L: granted x t1.0
    acquire r2 b M x ttl=100
    > granted x t2.0
    > outcome r2 b M: granted x t2.0
    acquire r3 c L s wait=inf
    > queued
    acquire r4 d L s wait=inf
    > queued
    acquire r5 e M x wait=inf
    > queued
    tick at=100
    > expired=2 timedOut=0
    > outcome r3 c L: granted s t6.0
    > outcome r4 d L: granted s t6.1
    > outcome r5 e M: granted x t6.0
  `);
});

test("a sole holder's upgrade is granted at once, even ahead of queued exclusive requests", () => {
  transcript(`
    acquire r1 a L s
    > granted s t1.0
    > outcome r1 a L: granted s t1.0
    acquire r2 b L x
    > queued
    acquire r3 a L x
    > granted x t3.0
    > outcome r3 a L: granted x t3.0
    info L
    > holders: a x t3.0
    > waiters: r2 b x dl=10000
  `);
});

test("a conversion keeps its place when its shared hold ends meanwhile", () => {
  transcript(`
    acquire r1 a L s
    > granted s t1.0
    > outcome r1 a L: granted s t1.0
    acquire r2 b L s ttl=100
    > granted s t2.0
    > outcome r2 b L: granted s t2.0
    acquire r3 c L x
    > queued
    acquire r4 b L x
    > queued
    release b L
    > released
    info L
    > holders: a s t1.0
    > waiters: r4 b x dl=10000 conv, r3 c x dl=10000
    release a L
    > released
    > outcome r4 b L: granted x t6.0
  `);
});

test("conversion queued at the tail would be a certain deadlock; ahead of plain requests it is not", () => {
  transcript(`
    acquire r1 a L s
    > granted s t1.0
    > outcome r1 a L: granted s t1.0
    acquire r2 b L s
    > granted s t2.0
    > outcome r2 b L: granted s t2.0
    acquire r3 c L x
    > queued
    acquire r4 a L x
    > queued
    info L
    > holders: a s t1.0, b s t2.0
    > waiters: r4 a x dl=10000 conv, r3 c x dl=10000
    release b L
    > released
    > outcome r4 a L: granted x t5.0
    release a L
    > released
    > outcome r3 c L: granted x t6.0
  `);
});

test("a lease end and a wait deadline at the same instant: the lease ends first, the waiter is granted", () => {
  transcript(`
    acquire r1 a L x ttl=100
    > granted x t1.0
    > outcome r1 a L: granted x t1.0
    acquire r2 b L x wait=100
    > queued
    tick at=100
    > expired=1 timedOut=0
    > outcome r2 b L: granted x t3.0
  `);
});

test("deadlock of 10 owners: the request closing the ring is refused with the whole cycle", () => {
  const driver = new LockDriver();
  const owners = Array.from({ length: 10 }, (_, i) => `o${i}`);
  owners.forEach((owner, i) => driver.run(`acquire g${i} ${owner} R${i} x`));
  // o_i waits for R_{i+1}, held by o_{i+1}; the last wait would close the ring.
  for (let i = 0; i < 9; i += 1) expect(driver.run(`acquire w${i} o${i} R${i + 1} x`)).toEqual(["queued"]);
  const before = driver.table.snapshot();
  expect(driver.run("acquire w9 o9 R0 s")).toEqual([
    "DEADLOCK o9 -R0-> o0 -R1-> o1 -R2-> o2 -R3-> o3 -R4-> o4 -R5-> o5 -R6-> o6 -R7-> o7 -R8-> o8 -R9-> o9",
    "outcome w9 o9 R0: DEADLOCK o9 -R0-> o0 -R1-> o1 -R2-> o2 -R3-> o3 -R4-> o4 -R5-> o5 -R6-> o6 -R7-> o7 -R8-> o8 -R9-> o9",
  ]);
  // Nothing else changed (only the deadlock counter and the applied index).
  const after = driver.table.snapshot() as { lastIndex: number; counters: { deadlocks: number } };
  expect({ ...after, lastIndex: 0, counters: { ...after.counters, deadlocks: 0 } }).toEqual({ ...(before as object), lastIndex: 0 } as never);
  // Breaking the ring anywhere lets the chain drain in order.
  expect(driver.run("release o9 R9")).toEqual(["released", "outcome w8 o8 R9: granted x t21.0"]);
});

test("the applied index must advance: re-applying an entry is a bug and asserts", () => {
  const driver = new LockDriver();
  driver.run("acquire r1 a L x");
  expect(() => driver.table.apply({ op: "lock.tick", args: { nowMs: 0 }, rid: null }, { index: 1, term: 1 })).toThrow(/does not advance/);
});

test("an unknown op and malformed args are answered BAD_REQUEST and change nothing", () => {
  const driver = new LockDriver();
  driver.run("acquire r1 a L x");
  const before = JSON.stringify(driver.table.info("L"));
  for (const [op, args] of [
    ["lock.frobnicate", {}],
    ["lock.acquire", { name: "L", mode: "exclusive", owner: "", requestId: "r9", waitMs: 0, ttlMs: null, nowMs: 0 }],
    ["lock.acquire", { name: "L", mode: "exclusive", owner: "b", requestId: "r9", waitMs: -1, ttlMs: null, nowMs: 0 }],
    ["lock.acquire", { name: "L", mode: "exclusive", owner: "b", requestId: "r9", waitMs: 5, ttlMs: null, nowMs: Number.NaN }],
    ["lock.renew", { name: "L", owner: "a", ttlMs: null, nowMs: 0 }],
    ["lock.cancel", { nowMs: 0 }],
    ["lock.release", { name: 7, owner: "a", nowMs: 0 }],
  ] as const) {
    expect(formatResult(driver.apply(op, args).result)).toBe("BAD_REQUEST");
  }
  expect(JSON.stringify(driver.table.info("L"))).toBe(before);
});

test("listeners see the table after the entry is applied, and can unsubscribe", () => {
  const driver = new LockDriver();
  driver.run("acquire r1 a L x");
  driver.run("acquire r2 b L x");
  const seen: string[] = [];
  const stop = driver.table.onOutcome((o) => seen.push(`${o.requestId} holders=${driver.table.info("L").holders.map((h) => h.owner).join(",")}`));
  driver.run("release a L");
  stop();
  driver.run("release b L");
  expect(seen).toEqual(["r2 holders=b"]);
});

test("limits are validated: lockWaitersMax must leave room in the token scheme", async () => {
  const { resolveLockLimits } = await import("../../src/locks/limits.ts");
  expect(() => resolveLockLimits({ lockWaitersMax: 1024 })).toThrow(RangeError);
  expect(() => resolveLockLimits({ locksMax: 0 })).toThrow(RangeError);
  expect(resolveLockLimits({ locksMax: 5 }).locksMax).toBe(5);
});
