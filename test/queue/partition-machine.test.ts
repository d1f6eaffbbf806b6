// Scenarios for one queue partition's state machine, one per rule: seq assignment, limits,
// RETRY-before-FRESH order, ack in every state, nack with and without delay, dead-lettering,
// tick order, ready notifications, snapshots, and every kind of bad input (refused with
// BAD_REQUEST and nothing changed). Read them as the spec of src/queue/partition-machine.ts.
import { describe, expect, test } from "bun:test";
import { msgpack } from "../../src/protocol/msgpack.ts";
import { PartitionMachine } from "../../src/queue/partition-machine.ts";
import type { Lane, PartitionConfig } from "../../src/queue/partition-machine.ts";
import { PartitionDeque } from "../../src/queue/partition-deque.ts";

const CONFIG: PartitionConfig = { maxDeliveries: 3, limits: { messagesMax: 1_000, bytesMax: 1_000_000 } };

let index = 0;
function q(m: PartitionMachine, op: string, args: Record<string, unknown>): unknown {
  const result = m.apply({ op, args, rid: null }, { index: ++index, term: 1 });
  m.checkInvariants();
  return result;
}

function machine(config: PartitionConfig = CONFIG): PartitionMachine {
  return new PartitionMachine(config);
}

const produce = (m: PartitionMachine, ...bodies: (string | [string, string | null])[]) =>
  q(m, "q.produce", { messages: bodies.map((b) => (typeof b === "string" ? [b, null] : b)) });
/** The seqs taken by one consume request. */
const take = (m: PartitionMachine, lane: Lane, max: number, nowMs = 0, visibilityMs = 1_000) =>
  (q(m, "q.consume", { lane, requests: [[max, visibilityMs]], nowMs }) as { seq: number }[][])[0]!.map((d) => d.seq);
const ack = (m: PartitionMachine, lane: Lane, ...seqs: number[]) => q(m, "q.ack", { lane, seqs });
const nack = (m: PartitionMachine, lane: Lane, seqs: number[], delayMs = 0, nowMs = 0) => q(m, "q.nack", { lane, seqs, delayMs, nowMs });
const tick = (m: PartitionMachine, nowMs: number) => q(m, "q.tick", { nowMs });
const twin = (m: PartitionMachine, config: PartitionConfig = CONFIG) => {
  const restored = new PartitionMachine(config);
  restored.restore(msgpack.unpack(msgpack.pack(m.snapshot())));
  restored.checkInvariants();
  return restored;
};

describe("q.produce", () => {
  test("seqs are consecutive from 1 and never go back, across acks and restores", () => {
    const m = machine();
    expect(produce(m, "a", "b", "c")).toEqual({ first: 1 });
    expect(produce(m, "d")).toEqual({ first: 4 });
    expect(ack(m, 0, 1, 2, 3, 4)).toEqual([true, true, true, true]);
    expect(m.messages).toBe(0);
    expect(produce(m, "e", "f")).toEqual({ first: 5 });
    const r = twin(m);
    expect(produce(r, "g")).toEqual({ first: 7 });
    expect(ack(r, 0, 5, 6, 7)).toEqual([true, true, true]);
    expect(produce(twin(r), "h")).toEqual({ first: 8 });
  });

  test("messages enter lane 0 in order, with their keys and bodies as given", () => {
    const m = machine();
    const bytes = new Uint8Array([1, 2, 3]);
    q(m, "q.produce", { messages: [["x", "k1"], [bytes, null], ["z", "k1"]] });
    const [got] = q(m, "q.consume", { lane: 0, requests: [[10, 100]], nowMs: 5 }) as unknown[][];
    expect(got).toEqual([
      { seq: 1, body: "x", key: "k1", deliveries: 1 },
      { seq: 2, body: new Uint8Array([1, 2, 3]), key: null, deliveries: 1 },
      { seq: 3, body: "z", key: "k1", deliveries: 1 },
    ]);
    expect(m.stats(0)).toEqual({ ready: 0, inflight: 3, delayed: 0 });
    expect(m.stats(1)).toEqual({ ready: 0, inflight: 0, delayed: 0 });
  });

  test("the machine owns a copy of byte bodies", () => {
    const m = machine();
    const bytes = new Uint8Array([7, 7]);
    q(m, "q.produce", { messages: [[bytes, null]] });
    bytes[0] = 0;
    const [[delivery]] = q(m, "q.consume", { lane: 0, requests: [[1, 100]], nowMs: 0 }) as [[{ body: Uint8Array }]];
    expect([...delivery.body]).toEqual([7, 7]);
  });

  test("lone surrogates are kept as U+FFFD, as a MessagePack round trip would make them", () => {
    const m = machine();
    produce(m, "a\ud800b");
    const [[delivery]] = q(m, "q.consume", { lane: 0, requests: [[1, 100]], nowMs: 0 }) as [[{ body: string }]];
    expect(delivery.body).toBe("a\ufffdb");
    expect(twin(m).snapshot()).toEqual(m.snapshot());
  });

  test("bytes count UTF-8 of strings (lone surrogates as U+FFFD) and byteLength of bytes", () => {
    const m = machine();
    const bodies = ["abc", "é", "€", "😀", "\ud800", "x\udfffy", ""];
    for (const body of bodies) produce(m, body);
    q(m, "q.produce", { messages: [[new Uint8Array(10), null]] });
    const expected = bodies.reduce((sum, b) => sum + new TextEncoder().encode(b).length, 0) + 10;
    expect(m.bytes).toBe(expected);
    expect(m.messages).toBe(8);
    ack(m, 0, 4); // "😀"
    expect(m.bytes).toBe(expected - 4);
  });

  test("a batch over messagesMax or bytesMax is refused whole, with the partition's totals", () => {
    const m = machine({ maxDeliveries: 3, limits: { messagesMax: 3, bytesMax: 10 } });
    expect(produce(m, "aa", "bb")).toEqual({ first: 1 });
    const before = m.snapshot();
    const full = produce(m, "c", "d") as Record<string, unknown>;
    expect(full.$error).toBe("TOO_LARGE");
    expect(full.message).toContain("partition full");
    expect(full.messages).toBe(2);
    expect(full.bytes).toBe(4);
    expect((produce(m, "0123456") as { $error: string }).$error).toBe("TOO_LARGE"); // 4 + 7 > 10
    expect(m.snapshot()).toEqual(before);
    expect(produce(m, "012345")).toEqual({ first: 3 }); // exactly at both limits
    expect([m.messages, m.bytes]).toEqual([3, 10]);
    // Dead-lettered messages still count; acked ones do not.
    expect((produce(m, "") as { $error: string }).$error).toBe("TOO_LARGE");
    ack(m, 0, 1);
    expect(produce(m, "")).toEqual({ first: 4 });
  });
});

describe("q.consume", () => {
  test("RETRY before FRESH, each request served in order, up to its max", () => {
    const m = machine();
    produce(m, "1", "2", "3", "4", "5", "6");
    expect(take(m, 0, 2, 0, 100)).toEqual([1, 2]);
    expect(take(m, 0, 1, 0, 50)).toEqual([3]);
    nack(m, 0, [2]);
    tick(m, 50); // 3 expires
    nack(m, 0, [1]);
    const results = q(m, "q.consume", { lane: 0, requests: [[2, 10], [0, 10], [5, 10], [1, 10]], nowMs: 60 }) as { seq: number; deliveries: number }[][];
    expect(results.map((r) => r.map((d) => [d.seq, d.deliveries]))).toEqual([[[2, 2], [3, 2]], [], [[1, 2], [4, 1], [5, 1], [6, 1]], []]);
  });

  test("a taken message is inflight until nowMs + visibilityMs", () => {
    const m = machine();
    produce(m, "a", "b");
    expect(m.nextDueMs()).toBeNull();
    take(m, 0, 1, 1_000, 300);
    take(m, 0, 1, 1_100, 100);
    expect(m.nextDueMs()).toBe(1_200);
    expect(tick(m, 1_199)).toEqual({ expired: 0, promoted: 0, deadLettered: 0 });
    expect(tick(m, 1_200)).toEqual({ expired: 1, promoted: 0, deadLettered: 0 });
    expect(m.nextDueMs()).toBe(1_300);
    expect(m.stats(0)).toEqual({ ready: 1, inflight: 1, delayed: 0 });
  });

  test("visibilityMs 0 is due at once; an empty lane or no requests give empty answers", () => {
    const m = machine();
    expect(q(m, "q.consume", { lane: 0, requests: [[5, 0]], nowMs: 10 })).toEqual([[]]);
    expect(q(m, "q.consume", { lane: 1, requests: [], nowMs: 10 })).toEqual([]);
    produce(m, "a");
    take(m, 0, 1, 10, 0);
    expect(m.nextDueMs()).toBe(10);
    expect(tick(m, 10)).toEqual({ expired: 1, promoted: 0, deadLettered: 0 });
  });
});

describe("q.ack", () => {
  test("true in any state of that lane, once; false for unknown, acked or the other lane", () => {
    const m = machine();
    produce(m, "ready", "inflight", "delayed", "other");
    take(m, 0, 3, 0, 100);
    nack(m, 0, [1]); // back to ready (retry)
    nack(m, 0, [3], 500, 0); // delayed
    expect(m.stats(0)).toEqual({ ready: 2, inflight: 1, delayed: 1 });
    expect(ack(m, 1, 1, 2, 3)).toEqual([false, false, false]);
    expect(ack(m, 0, 1, 2, 3, 3, 99, 0, -1)).toEqual([true, true, true, false, false, false, false]);
    expect(m.stats(0)).toEqual({ ready: 1, inflight: 0, delayed: 0 });
    expect(m.nextDueMs()).toBeNull();
    expect(ack(m, 0)).toEqual([]);
  });

  test("an acked message is never delivered again, wherever it was in the fifo", () => {
    const m = machine();
    produce(m, "1", "2", "3", "4", "5");
    ack(m, 0, 1, 3, 5);
    expect(m.readyCount(0)).toBe(2);
    expect(take(m, 0, 10)).toEqual([2, 4]);
    tick(m, 1_000);
    expect(m.readyCount(0)).toBe(2);
    ack(m, 0, 2);
    expect(take(m, 0, 10, 1_000)).toEqual([4]);
    ack(m, 0, 4);
    expect(tick(m, 1_000_000)).toEqual({ expired: 0, promoted: 0, deadLettered: 0 });
    expect(m.messages).toBe(0);
  });

  test("acks from the middle of a big fifo keep counts exact and memory swept", () => {
    const m = machine({ maxDeliveries: 3, limits: { messagesMax: 100_000, bytesMax: 1e9 } });
    q(m, "q.produce", { messages: Array.from({ length: 20_000 }, (_, i) => [`m${i}`, null]) });
    const odd = Array.from({ length: 10_000 }, (_, i) => 2 * i + 1);
    expect((ack(m, 0, ...odd) as boolean[]).every(Boolean)).toBe(true);
    expect(m.readyCount(0)).toBe(10_000);
    const got = take(m, 0, 20_000);
    expect(got.length).toBe(10_000);
    expect(got.every((seq, i) => seq === 2 * i + 2)).toBe(true);
  });
});

describe("q.nack", () => {
  test("delay 0 appends to RETRY now, in nack order", () => {
    const m = machine();
    produce(m, "1", "2", "3", "4");
    take(m, 0, 3);
    expect(nack(m, 0, [3, 1, 3])).toEqual([true, true, false]);
    expect(take(m, 0, 10)).toEqual([3, 1, 4]);
  });

  test("a delay makes it delayed until nowMs + delayMs, then RETRY by (readyAt, seq)", () => {
    const m = machine();
    produce(m, "1", "2", "3", "4");
    take(m, 0, 4, 0, 10_000);
    nack(m, 0, [4], 200, 100);
    nack(m, 0, [1, 3], 100, 200);
    nack(m, 0, [2], 150, 100);
    expect(m.stats(0)).toEqual({ ready: 0, inflight: 0, delayed: 4 });
    expect(m.nextDueMs()).toBe(250);
    expect(tick(m, 299)).toEqual({ expired: 0, promoted: 1, deadLettered: 0 });
    expect(tick(m, 300)).toEqual({ expired: 0, promoted: 3, deadLettered: 0 });
    expect(take(m, 0, 10)).toEqual([2, 1, 3, 4]);
  });

  test("false unless inflight in that lane: ready, delayed, unknown, other lane", () => {
    const m = machine();
    produce(m, "1", "2", "3");
    take(m, 0, 2);
    nack(m, 0, [2], 100, 0);
    const before = m.snapshot();
    expect(nack(m, 0, [3, 2, 42])).toEqual([false, false, false]);
    expect(nack(m, 1, [1])).toEqual([false]);
    expect(m.snapshot()).toEqual(before);
  });

  test("lane 0 dead-letters at maxDeliveries, keeping seq, body, key and count; lane 1 has no limit", () => {
    const m = machine();
    q(m, "q.produce", { messages: [["poison", "k"], ["fine", null]] });
    for (let round = 1; round <= 2; round += 1) {
      expect(take(m, 0, 1)).toEqual([1]);
      expect(nack(m, 0, [1], round === 1 ? 0 : 5)).toEqual([true]);
      if (round === 2) tick(m, 5);
    }
    expect(take(m, 0, 1)).toEqual([1]); // third delivery
    expect(nack(m, 0, [1], 1_000)).toEqual([true]); // dead-lettered despite the delay
    expect(m.stats(0)).toEqual({ ready: 1, inflight: 0, delayed: 0 });
    expect(m.stats(1)).toEqual({ ready: 1, inflight: 0, delayed: 0 });
    expect(ack(m, 0, 1)).toEqual([false]);
    const [[dead]] = q(m, "q.consume", { lane: 1, requests: [[5, 10]], nowMs: 0 }) as [[unknown]];
    expect(dead).toEqual({ seq: 1, body: "poison", key: "k", deliveries: 4 });
    for (let i = 0; i < 5; i += 1) {
      nack(m, 1, [1]);
      take(m, 1, 1);
    }
    expect(m.stats(1)).toEqual({ ready: 0, inflight: 1, delayed: 0 });
    expect(ack(m, 1, 1)).toEqual([true]);
    expect(m.messages).toBe(1);
  });
});

describe("q.tick", () => {
  test("expiries in (deadline, seq) order, then promotions; dead-letters counted among expiries", () => {
    const m = machine({ maxDeliveries: 2, limits: CONFIG.limits });
    produce(m, "1", "2", "3", "4", "5", "6");
    take(m, 0, 1, 0, 10); // 1 delivered once
    tick(m, 10);
    take(m, 0, 1, 10, 50); // 1 again: deliveries 2, due 60
    take(m, 0, 2, 10, 40); // 2, 3 due 50
    take(m, 0, 1, 0, 50); // 4 due 50
    take(m, 0, 1, 0, 100); // 5 due 100
    take(m, 0, 1, 0, 10_000); // 6
    nack(m, 0, [6], 30, 20); // delayed to 50
    expect(m.nextDueMs()).toBe(50);
    expect(tick(m, 60)).toEqual({ expired: 4, promoted: 1, deadLettered: 1 });
    expect(take(m, 0, 10, 60)).toEqual([2, 3, 4, 6]);
    expect(take(m, 1, 10, 60)).toEqual([1]);
    expect(m.nextDueMs()).toBe(100);
  });

  test("a tick with an older clock does nothing", () => {
    const m = machine();
    produce(m, "1");
    take(m, 0, 1, 1_000, 100);
    expect(tick(m, 500)).toEqual({ expired: 0, promoted: 0, deadLettered: 0 });
    expect(m.stats(0).inflight).toBe(1);
  });
});

describe("onReady", () => {
  test("fires once per lane at the end of an apply that made messages ready, never otherwise", () => {
    const m = machine({ maxDeliveries: 1, limits: CONFIG.limits });
    const calls: [Lane, number][] = [];
    m.onReady((lane) => calls.push([lane, m.readyCount(lane)]));
    produce(m, "1", "2", "3");
    expect(calls.splice(0)).toEqual([[0, 3]]);
    take(m, 0, 3, 0, 100);
    ack(m, 0, 3);
    expect(calls.splice(0)).toEqual([]);
    nack(m, 0, [1], 0); // maxDeliveries 1: dead-letter
    expect(calls.splice(0)).toEqual([[1, 1]]);
    take(m, 1, 1, 0, 100);
    nack(m, 1, [1], 50, 0); // delayed: nothing ready yet
    expect(calls.splice(0)).toEqual([]);
    expect(tick(m, 100)).toEqual({ expired: 1, promoted: 1, deadLettered: 1 });
    expect(calls.splice(0)).toEqual([[1, 2]]);
    tick(m, 200);
    q(m, "q.nope", {});
    expect(calls.splice(0)).toEqual([]);
    const r = new PartitionMachine(CONFIG);
    const restored: Lane[] = [];
    r.onReady((lane) => restored.push(lane));
    r.restore(m.snapshot());
    expect(restored).toEqual([1]);
    r.restore(null);
    expect(restored).toEqual([1]);
  });

  test("every listener is called", () => {
    const m = machine();
    const calls: string[] = [];
    m.onReady((lane) => calls.push(`a${lane}`));
    m.onReady((lane) => calls.push(`b${lane}`));
    produce(m, "x");
    expect(calls).toEqual(["a0", "b0"]);
  });
});

describe("snapshots", () => {
  test("restore gives an identical machine: same snapshot, same future answers", () => {
    const m = machine({ maxDeliveries: 2, limits: CONFIG.limits });
    q(m, "q.produce", { messages: [["a", "k"], [new Uint8Array([1, 2]), null], ["c", "k"], ["d", null], ["e", null], ["f", null]] });
    take(m, 0, 4, 0, 100);
    nack(m, 0, [2]);
    nack(m, 0, [3], 70, 10);
    tick(m, 100); // 1, 4 expire
    take(m, 0, 1, 100, 5); // 2 again (deliveries 2)
    tick(m, 105); // 2 dead-lettered
    ack(m, 0, 5);
    const r = twin(m, { maxDeliveries: 2, limits: CONFIG.limits });
    expect(r.snapshot()).toEqual(m.snapshot());
    expect([r.messages, r.bytes, r.nextDueMs(), r.stats(0), r.stats(1)]).toEqual([m.messages, m.bytes, m.nextDueMs(), m.stats(0), m.stats(1)]);
    const script = (x: PartitionMachine) => [
      q(x, "q.consume", { lane: 0, requests: [[2, 10], [9, 10]], nowMs: 200 }),
      q(x, "q.consume", { lane: 1, requests: [[9, 10]], nowMs: 200 }),
      tick(x, 210),
      produce(x, "g"),
      q(x, "q.consume", { lane: 0, requests: [[9, 10]], nowMs: 220 }),
      x.snapshot(),
    ];
    expect(script(r)).toEqual(script(m));
  });

  test("restore(null) is the empty machine; restore replaces everything", () => {
    const m = machine();
    produce(m, "a", "b");
    take(m, 0, 1);
    m.restore(null);
    m.checkInvariants();
    expect([m.messages, m.bytes, m.nextDueMs(), m.stats(0)]).toEqual([0, 0, null, { ready: 0, inflight: 0, delayed: 0 }]);
    expect(produce(m, "c")).toEqual({ first: 1 });
    const fresh = machine();
    produce(fresh, "c");
    expect(m.snapshot()).toEqual(fresh.snapshot());
  });

  test("a malformed snapshot is a bug and throws", () => {
    expect(() => machine().restore({ version: 99 })).toThrow();
    expect(() => machine().restore({ version: 1, nextSeq: 2, ready: [[5, "x", null, 0], [], [], []], inflight: [], delayed: [] })).toThrow(/bad seq/);
    expect(() => machine().restore({ version: 1, nextSeq: 9, ready: [[5, "x", null, 0], [5, "x", null, 0], [], []], inflight: [], delayed: [] })).toThrow(/twice/);
  });
});

describe("bad input: BAD_REQUEST and nothing changes", () => {
  const cases: [string, string, Record<string, unknown>][] = [
    ["unknown op", "q.purge", {}],
    ["op of another service", "lock.acquire", {}],
    ["args not a map", "q.tick", [1] as unknown as Record<string, unknown>],
    ["args null", "q.tick", null as unknown as Record<string, unknown>],
    ["produce: no messages", "q.produce", {}],
    ["produce: empty batch", "q.produce", { messages: [] }],
    ["produce: messages not an array", "q.produce", { messages: "a" }],
    ["produce: message not a pair", "q.produce", { messages: [["a", null], ["b"]] }],
    ["produce: message with 3 items", "q.produce", { messages: [["a", null, 1]] }],
    ["produce: body a number", "q.produce", { messages: [["a", null], [5, null]] }],
    ["produce: body null", "q.produce", { messages: [[null, null]] }],
    ["produce: key a number", "q.produce", { messages: [["a", 1]] }],
    ["produce: key undefined", "q.produce", { messages: [["a", undefined]] }],
    ["consume: lane 2", "q.consume", { lane: 2, requests: [[1, 1]], nowMs: 0 }],
    ["consume: lane '0'", "q.consume", { lane: "0", requests: [[1, 1]], nowMs: 0 }],
    ["consume: no lane", "q.consume", { requests: [[1, 1]], nowMs: 0 }],
    ["consume: requests not an array", "q.consume", { lane: 0, requests: 1, nowMs: 0 }],
    ["consume: request not a pair", "q.consume", { lane: 0, requests: [[1, 1], [1]], nowMs: 0 }],
    ["consume: negative max", "q.consume", { lane: 0, requests: [[1, 1], [-1, 1]], nowMs: 0 }],
    ["consume: fractional max", "q.consume", { lane: 0, requests: [[1.5, 1]], nowMs: 0 }],
    ["consume: max NaN", "q.consume", { lane: 0, requests: [[Number.NaN, 1]], nowMs: 0 }],
    ["consume: negative visibilityMs", "q.consume", { lane: 0, requests: [[1, -1]], nowMs: 0 }],
    ["consume: visibilityMs Infinity", "q.consume", { lane: 0, requests: [[1, Number.POSITIVE_INFINITY]], nowMs: 0 }],
    ["consume: deadline past 2^53", "q.consume", { lane: 0, requests: [[1, Number.MAX_SAFE_INTEGER]], nowMs: 10 }],
    ["consume: no nowMs", "q.consume", { lane: 0, requests: [[1, 1]] }],
    ["consume: nowMs a string", "q.consume", { lane: 0, requests: [[1, 1]], nowMs: "0" }],
    ["consume: negative nowMs", "q.consume", { lane: 0, requests: [[1, 1]], nowMs: -5 }],
    ["ack: lane -1", "q.ack", { lane: -1, seqs: [1] }],
    ["ack: seqs not an array", "q.ack", { lane: 0, seqs: 1 }],
    ["ack: fractional seq", "q.ack", { lane: 0, seqs: [1, 2.5] }],
    ["ack: seq a string", "q.ack", { lane: 0, seqs: ["1"] }],
    ["nack: lane true", "q.nack", { lane: true, seqs: [1], delayMs: 0, nowMs: 0 }],
    ["nack: seq null", "q.nack", { lane: 0, seqs: [1, null], delayMs: 0, nowMs: 0 }],
    ["nack: negative delayMs", "q.nack", { lane: 0, seqs: [1], delayMs: -1, nowMs: 0 }],
    ["nack: no delayMs", "q.nack", { lane: 0, seqs: [1], nowMs: 0 }],
    ["nack: no nowMs", "q.nack", { lane: 0, seqs: [1], delayMs: 0 }],
    ["nack: fractional nowMs", "q.nack", { lane: 0, seqs: [1], delayMs: 0, nowMs: 0.5 }],
    ["nack: readyAt past 2^53", "q.nack", { lane: 0, seqs: [1], delayMs: Number.MAX_SAFE_INTEGER, nowMs: 1 }],
    ["tick: no nowMs", "q.tick", {}],
    ["tick: nowMs a string", "q.tick", { nowMs: "9" }],
    ["tick: nowMs Infinity", "q.tick", { nowMs: Number.POSITIVE_INFINITY }],
  ];

  for (const [name, op, args] of cases) {
    test(name, () => {
      const m = machine({ maxDeliveries: 1, limits: CONFIG.limits });
      const calls: Lane[] = [];
      m.onReady((lane) => calls.push(lane));
      produce(m, "1", "2", "3");
      take(m, 0, 2, 0, 100);
      nack(m, 0, [2]); // dead-lettered
      calls.length = 0;
      const before = m.snapshot();
      const result = q(m, op, args) as { $error?: string; message?: string };
      expect(result.$error).toBe("BAD_REQUEST");
      expect(typeof result.message).toBe("string");
      expect(m.snapshot()).toEqual(before);
      expect(calls).toEqual([]);
      expect(produce(m, "4")).toEqual({ first: 4 });
    });
  }
});

test("PartitionDeque: FIFO with lazy deletion and exact live counts", () => {
  const live = new Set<number>();
  const d = new PartitionDeque<number>((n) => live.has(n));
  for (let i = 0; i < 5_000; i += 1) {
    live.add(i);
    d.push(i);
  }
  for (let i = 0; i < 5_000; i += 3) {
    live.delete(i);
    d.markStale();
  }
  expect(d.liveCount).toBe(live.size);
  const order: number[] = [];
  for (let n = d.shift(); n !== undefined; n = d.shift()) {
    order.push(n);
    live.delete(n);
  }
  expect(order).toEqual(Array.from({ length: 5_000 }, (_, i) => i).filter((i) => i % 3 !== 0));
  expect(d.liveCount).toBe(0);
  expect(d.shift()).toBeUndefined();
});

test("throughput: 100k messages produced, consumed and acked in batches of 100", () => {
  const m = machine({ maxDeliveries: 3, limits: { messagesMax: 1_000_000, bytesMax: 1e9 } });
  const body = "x".repeat(100);
  const batch = Array.from({ length: 100 }, () => [body, null]);
  const started = performance.now();
  for (let i = 0; i < 1_000; i += 1) {
    m.apply({ op: "q.produce", args: { messages: batch }, rid: null }, { index: 0, term: 1 });
    const [got] = m.apply({ op: "q.consume", args: { lane: 0, requests: [[100, 30_000]], nowMs: i }, rid: null }, { index: 0, term: 1 }) as { seq: number }[][];
    m.apply({ op: "q.ack", args: { lane: 0, seqs: got!.map((d) => d.seq) }, rid: null }, { index: 0, term: 1 });
  }
  const ms = performance.now() - started;
  console.log(`partition machine: 100k messages through produce/consume/ack in ${ms.toFixed(0)} ms`);
  expect(m.messages).toBe(0);
  expect(ms).toBeLessThan(2_000);
});
