// LockService races around requests whose outcome the serving node cannot know (review 2 of
// issue 5): the forwarded proposal timed out, the local replica lags past waitMs + grace, or the
// client left while its acquire was still being forwarded. The service answers the client with a
// failure and proposes lock.cancel; the table's cancel withdraws the request whatever the order
// (tombstone before the acquire, release after the grant), so the client's answer and the table
// agree. Driven with a fake group and router around a real LockTable; each fake "applies" an
// entry where the real leader's log would put it.
import { expect, test } from "bun:test";
import { LockService } from "../../src/locks/lock-service.ts";
import { LockTable } from "../../src/locks/lock-table.ts";
import { SinkronError } from "../../src/protocol/errors.ts";

/** args: the GROUP.PROPOSE arguments ({group, op, args, rid}); local: proposing on this node. */
type Run = (args: { op: string; args: Record<string, unknown>; rid: string | null }, local: () => Promise<unknown>) => Promise<unknown>;

function harness(run: Run, options: { outcomeGraceMs?: number } = {}) {
  const table = new LockTable();
  let index = 0;
  let snapshotListener: () => void = () => {};
  const applied: { op: string; result: unknown }[] = [];
  const apply = (op: string, args: Record<string, unknown>, rid: string | null = null) => {
    const result = table.apply({ op, args, rid }, { index: ++index, term: 1 });
    applied.push({ op, result });
    return result;
  };
  const group: any = {
    id: 0, isLeader: true, isStopped: false, leader: "n1",
    onSnapshotInstalled: (fn: () => void) => (snapshotListener = fn),
    propose: async () => ({}),
    readBarrier: async () => {},
    waitForLeaderChange: () => Bun.sleep(10),
  };
  const router: any = { run: (_g: unknown, _ctx: unknown, _command: string, args: any, local: () => Promise<unknown>) => run(args, local) };
  const log: any = { debug() {}, info() {}, warn() {}, error() {}, child() { return this; } };
  const service = new LockService({ group, table, router, nodeId: "n1", log, expiryCheckMs: 1_000_000, nowMs: () => 1000, outcomeGraceMs: options.outcomeGraceMs });
  const abort = new AbortController();
  const ctx: any = { connection: { closeSignal: abort.signal, peerId: null }, push() {} };
  const acquire = (args: Record<string, unknown>) => (service as any).acquire(args, ctx) as Promise<{ token: number }>;
  const cancels = () => applied.filter((a) => a.op === "lock.cancel").map((a) => a.result);
  return { table, apply, acquire, abort, cancels, triggerSnapshot: () => snapshotListener() };
}

const settle = (p: Promise<unknown>) => p.then((v) => ({ ok: v }), (e: SinkronError) => ({ error: e.code, outcomeUnknown: (e.details as { outcomeUnknown?: boolean } | undefined)?.outcomeUnknown }));
const holders = (table: LockTable, name: string) => table.info(name).holders.map((h) => `${h.owner}:${h.mode}:${h.expiresAtMs}`);

test("forwarded proposal times out and commits later: the client hears UNAVAILABLE, the cancel's tombstone refuses the late acquire", async () => {
  let h: ReturnType<typeof harness>;
  h = harness(async (args) => {
    if (args.op === "lock.acquire") {
      // The leader appended the entry; the peer call's deadline ran out before it committed.
      setTimeout(() => h.apply("lock.acquire", args.args, args.rid), 20);
      throw new SinkronError("TIMEOUT", "GROUP.PROPOSE: no answer within 5000 ms");
    }
    return h.apply(args.op, args.args, args.rid);
  });
  const answer = await settle(h.acquire({ name: "r", mode: "exclusive", owner: "B", waitMs: 1000 }));
  await Bun.sleep(50);
  expect(answer).toEqual({ error: "UNAVAILABLE", outcomeUnknown: true });
  expect(h.cancels()).toEqual([{ cancelled: false }]); // applied first: only a tombstone
  expect(holders(h.table, "r")).toEqual([]);
  expect(h.table.names()).toEqual([]);
});

test("safety timer answers UNAVAILABLE while the lagging replica later applies the grant: the cancel after it releases the hold", async () => {
  let h: ReturnType<typeof harness>;
  const lagged: (() => void)[] = [];
  // The leader's log: acquire B, release A (nowMs 1010), then the timer's cancel. This replica
  // applied the acquire, then lags behind the rest for longer than waitMs + grace.
  h = harness(async (args) => {
    if (args.op === "lock.acquire") return h.apply(args.op, args.args, args.rid);
    return new Promise((resolve) => lagged.push(() => resolve(h.apply(args.op, args.args, args.rid))));
  }, { outcomeGraceMs: 10 });
  h.apply("lock.acquire", { name: "r", mode: "exclusive", owner: "A", requestId: "x:1", waitMs: 0, ttlMs: null, nowMs: 1000 });
  const answer = settle(h.acquire({ name: "r", mode: "exclusive", owner: "B", waitMs: 30 }));
  await Bun.sleep(80);
  const got = await answer;
  h.apply("lock.release", { name: "r", owner: "A", nowMs: 1010 });
  expect(holders(h.table, "r")).toEqual(["B:exclusive:null"]); // granted to a client told otherwise
  for (const next of lagged) next();
  expect(got).toEqual({ error: "UNAVAILABLE", outcomeUnknown: true });
  await Bun.sleep(20);
  expect(h.cancels()).toEqual([{ cancelled: true, released: true }]);
  expect(holders(h.table, "r")).toEqual([]);
});

test("a snapshot installed while an acquire is in flight leaves it pending, so the client gets the later grant", async () => {
  let h: ReturnType<typeof harness>;
  let release!: () => void;
  h = harness((args) => new Promise((resolve) => (release = () => resolve(h.apply(args.op, args.args, args.rid)))));
  const answer = settle(h.acquire({ name: "r", mode: "exclusive", owner: "B", waitMs: 1000 }));
  await Bun.sleep(5);
  h.triggerSnapshot(); // the snapshot covers entries before the acquire
  release(); // the acquire's entry comes after the snapshot and grants
  const got = await answer;
  // Either the client gets the grant, or nobody holds the lock for it.
  if ("error" in got) expect(holders(h.table, "r")).toEqual([]);
  else expect(holders(h.table, "r")).toEqual(["B:exclusive:null"]);
});

test("disconnect while the acquire is still being forwarded: the cancel applies first, and the late acquire is refused", async () => {
  let h: ReturnType<typeof harness>;
  const outcomes: string[] = [];
  h = harness(async (args) => {
    if (args.op === "lock.acquire") await Bun.sleep(30); // e.g. retried after a failover
    return h.apply(args.op, args.args, args.rid);
  });
  h.table.onOutcome((o) => outcomes.push(`${o.owner} ${"token" in o.result ? "granted" : `${o.result.error}${o.result.cancelled ? " cancelled" : ""}`}`));
  void settle(h.acquire({ name: "r", mode: "exclusive", owner: "B", waitMs: 1000 }));
  await Bun.sleep(5);
  h.abort.abort(); // the client goes away
  await Bun.sleep(60);
  expect(h.cancels()).toEqual([{ cancelled: false }]);
  expect(outcomes).toEqual(["B TIMEOUT cancelled"]);
  expect(holders(h.table, "r")).toEqual([]);
});

test("a try-lock refused by the leader's table, answered before this replica applies it, is TIMEOUT, not 'outcome unknown'", async () => {
  // The leader's table (ahead of this replica): A holds r there; its refusal comes back as the
  // forwarded proposal's error, marked `decided`, before this replica's own table decides it.
  const leader = new LockTable();
  leader.apply({ op: "lock.acquire", args: { name: "r", mode: "exclusive", owner: "A", requestId: "x:1", waitMs: 0, ttlMs: null, nowMs: 1000 }, rid: null }, { index: 1, term: 1 });
  let index = 1;
  const h = harness(async (args) => {
    const result = leader.apply({ op: args.op, args: args.args, rid: args.rid }, { index: ++index, term: 1 }) as Record<string, unknown>;
    if (typeof result.$error === "string") {
      const { $error, message, ...details } = result;
      throw new SinkronError($error as SinkronError["code"], message as string, details);
    }
    return result;
  });
  const failure = await h.acquire({ name: "r", mode: "exclusive", owner: "B", waitMs: 0 }).catch((e: SinkronError) => e);
  expect(failure).toBeInstanceOf(SinkronError);
  expect((failure as SinkronError).code).toBe("TIMEOUT");
  expect((failure as SinkronError).details).toEqual({ name: "r" });
  expect(h.cancels()).toEqual([]);
});
