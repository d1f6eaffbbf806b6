// Request-id dedup (thesis §6.3): a retried command is applied once for as long as its id is
// remembered, which is DEDUP_RETENTION_MS of the leaders' clock stamped in every entry — not a
// count, which a busy group would run through in under a second (the review's finding: at 100k
// rid'd entries/s a retry after a failover found its rid evicted and applied twice).
import { expect, test } from "bun:test";
import { LockTable } from "../../src/locks/lock-table.ts";
import { KvMachine } from "../../src/kv/kv-machine.ts";
import { CompositeStateMachine, DEDUP_RETENTION_MS } from "../../src/replication/state-machine-composite.ts";
import { decodeCommand, encodeCommand } from "../../src/replication/log-codec.ts";
import { encodeValue } from "../../src/protocol/msgpack.ts";
import type { LogCommand } from "../../src/replication/state-machine.ts";

function machine(entriesMax?: number) {
  const sm = new CompositeStateMachine(entriesMax);
  sm.mount("lock", new LockTable());
  sm.mount("kv", new KvMachine());
  let index = 0;
  // Through the log codec, as RaftGroup applies entries.
  const apply = (command: LogCommand) => {
    const data = encodeCommand(command);
    return sm.apply(decodeCommand(data), { index: ++index, term: 1, data });
  };
  return { sm, apply };
}

test("a try-lock refused TIMEOUT and retried after 100,000 other rid'd entries within a second returns the first result", () => {
  const { sm, apply } = machine();
  apply({ op: "lock.acquire", args: { name: "r", mode: "exclusive", owner: "A", requestId: "a", waitMs: 0, ttlMs: null, nowMs: 1 }, rid: "a", atMs: 1_000 });
  const b = { name: "r", mode: "exclusive", owner: "B", requestId: "b", waitMs: 0, ttlMs: null, nowMs: 2 };
  const first = apply({ op: "lock.acquire", args: b, rid: "b", atMs: 1_001 }) as { $error?: string };
  expect(first.$error).toBe("TIMEOUT");
  apply({ op: "lock.release", args: { name: "r", owner: "A", nowMs: 3 }, rid: "rel-a", atMs: 1_002 });
  for (let i = 0; i < 100_000; i++) apply({ op: "kv.set", args: { key: `k${i % 100}`, value: i }, rid: `w${i}`, atMs: 1_002 + Math.floor(i / 100) });
  expect(sm.dedupEntries).toBe(100_003);
  // The leader that applied `b` crashed before answering; the forwarder retries on the new leader.
  const retried = apply({ op: "lock.acquire", args: { ...b, nowMs: 5 }, rid: "b", atMs: 2_500 });
  expect(retried).toEqual(first);
});

test("ids are forgotten once the leaders' clock has moved DEDUP_RETENTION_MS past them; a hard cap bounds memory", () => {
  const { sm, apply } = machine(1_000);
  for (let i = 0; i < 10; i++) apply({ op: "kv.set", args: { key: "k", value: i }, rid: `old${i}`, atMs: 5_000 + i });
  apply({ op: "kv.set", args: { key: "k", value: "late" }, rid: "late", atMs: 5_000 + DEDUP_RETENTION_MS + 5 });
  // old0..old4 are past the horizon; old5..old9 (and late) are not.
  expect(sm.dedupEntries).toBe(6);
  // An entry without a clock (written before the stamp existed) does not move the clock.
  apply({ op: "kv.set", args: { key: "k", value: 1 }, rid: "unstamped" });
  expect(sm.dedupEntries).toBe(7);
  for (let i = 0; i < 2_000; i++) apply({ op: "kv.set", args: { key: "k", value: i }, rid: `burst${i}`, atMs: 5_000 + DEDUP_RETENTION_MS + 6 });
  expect(sm.dedupEntries).toBe(1_000);
});

test("a retry is recognised although its entry carries another clock; snapshots keep the clock and ages", () => {
  const { sm, apply } = machine();
  const first = apply({ op: "kv.set", args: { key: "x", value: 1 }, rid: "r1", atMs: 10_000 });
  apply({ op: "kv.set", args: { key: "x", value: 2 }, rid: "r2", atMs: 10_001 });
  expect(apply({ op: "kv.set", args: { key: "x", value: 1 }, rid: "r1", atMs: 10_500 })).toEqual(first);
  expect((apply({ op: "kv.set", args: { key: "x", value: 99 }, rid: "r1", atMs: 10_600 }) as { $error?: string }).$error).toBe("CONFLICT");

  const twin = new CompositeStateMachine();
  twin.mount("lock", new LockTable());
  twin.mount("kv", new KvMachine());
  twin.restore(sm.snapshot());
  expect(twin.snapshot()).toEqual(sm.snapshot());
  const data = encodeCommand({ op: "kv.set", args: { key: "y", value: 0 }, rid: "r3", atMs: 10_000 + DEDUP_RETENTION_MS + 1 });
  twin.apply(decodeCommand(data), { index: 99, term: 1, data });
  expect(twin.dedupEntries).toBe(2); // r1 aged out; r2 and r3 remain
});

test("the log codec reads entries written before the clock stamp existed", () => {
  const legacy = encodeValue(["kv.set", { key: "k", value: 1 }, "rid-1"]);
  expect(decodeCommand(legacy)).toEqual({ op: "kv.set", args: { key: "k", value: 1 }, rid: "rid-1" });
  const stamped = encodeCommand({ op: "kv.set", args: { key: "k", value: 1 }, rid: "rid-1", atMs: 1_764_000_000_123 });
  expect(stamped.subarray(9)).toEqual(legacy);
  expect(decodeCommand(stamped)).toEqual({ op: "kv.set", args: { key: "k", value: 1 }, rid: "rid-1", atMs: 1_764_000_000_123 });
});
