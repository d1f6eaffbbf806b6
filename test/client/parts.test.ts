// The client's pure parts, one by one: backoff pacing, node order, the pending table's ids
// and deadlines, the wait queue, and the hand-written request encoder against msgpackr.
import { describe, expect, test } from "bun:test";
import { backoffDelayMs } from "../../src/client/backoff.ts";
import type { Call } from "../../src/client/call.ts";
import { NodeList } from "../../src/client/node-list.ts";
import { PendingTable } from "../../src/client/pending-table.ts";
import { RequestEncoder } from "../../src/client/request-encoder.ts";
import { WaitQueue } from "../../src/client/wait-queue.ts";
import { REQUEST_ID_MAX } from "../../src/protocol/envelope.ts";
import { decodeValue, encodeValue } from "../../src/protocol/msgpack.ts";

function call(deadlineMs: number, command = "PING"): Call {
  return { command, args: {}, deadlineMs, timeoutMs: 1, id: 0, resolve() {}, reject() {} };
}

describe("backoffDelayMs", () => {
  test("doubles per round between half and all of the nominal pause, capped at max", () => {
    expect(backoffDelayMs(0, 100, 5000, () => 0)).toBe(50);
    expect(backoffDelayMs(0, 100, 5000, () => 1)).toBe(100);
    expect(backoffDelayMs(3, 100, 5000, () => 0.5)).toBe(600); // nominal 800: 400 + 200
    expect(backoffDelayMs(10, 100, 5000, () => 1)).toBe(5000);
    expect(backoffDelayMs(10_000, 100, 5000, () => 0)).toBe(2500); // no overflow for huge rounds
  });
});

describe("NodeList", () => {
  const nodes = [1, 2, 3].map((port) => ({ host: "h", port }));
  test("in-order starts at the first node and wraps", () => {
    const list = new NodeList(nodes, "in-order");
    expect([1, 2, 3, 4].map(() => list.next().port)).toEqual([1, 2, 3, 1]);
  });
  test("random-start starts anywhere, then walks in order", () => {
    const list = new NodeList(nodes, "random-start", () => 0.5);
    expect([1, 2, 3].map(() => list.next().port)).toEqual([2, 3, 1]);
    expect(new NodeList(nodes, "random-start", () => 0.999).next().port).toBe(3);
  });
});

describe("PendingTable", () => {
  test("ids count up, a taken id is found once, an unknown or late id not at all", () => {
    const table = new PendingTable(4);
    const a = call(100);
    const b = call(100);
    expect(table.add(a)).toBe(1);
    expect(table.add(b)).toBe(2);
    expect(table.take(2)).toBe(b);
    expect(table.take(2)).toBeUndefined();
    expect(table.take(2 + 8)).toBeUndefined(); // same slot, other id
    expect(table.size).toBe(1);
  });

  test("ids wrap from 2^32-1 to 1 and skip ids still pending", () => {
    const table = new PendingTable(4);
    (table as unknown as { nextId: number }).nextId = REQUEST_ID_MAX - 1;
    const ids = [call(1), call(1), call(1)].map((c) => table.add(c));
    expect(ids).toEqual([REQUEST_ID_MAX - 1, REQUEST_ID_MAX, 1]);
    // Ids whose slot is still taken are skipped: one full lap later, slot of id 1 is busy.
    (table as unknown as { nextId: number }).nextId = 1 + 8;
    expect(table.add(call(1))).toBe(10);
  });

  test("never hands out an id that is pending, even when answers come out of order", () => {
    const table = new PendingTable(64);
    const live = new Map<number, Call>();
    let seed = 1;
    const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    for (let step = 0; step < 20_000; step++) {
      if (live.size < 64 && (live.size === 0 || random() < 0.55)) {
        const c = call(1);
        const id = table.add(c);
        expect(live.has(id)).toBe(false);
        live.set(id, c);
      } else {
        const ids = [...live.keys()];
        const id = ids[Math.floor(random() * ids.length)]!;
        expect(table.take(id)).toBe(live.get(id)!);
        live.delete(id);
      }
    }
    expect(table.size).toBe(live.size);
  });

  test("expire removes exactly the calls past their deadline", () => {
    const table = new PendingTable(8);
    const calls = [call(10), call(20), call(30)];
    calls.forEach((c) => table.add(c));
    const expired: Call[] = [];
    table.expire(5, (c) => expired.push(c));
    expect(expired).toEqual([]);
    table.expire(20, (c) => expired.push(c));
    expect(expired).toEqual([calls[0]!, calls[1]!]);
    expect(table.size).toBe(1);
    expect(table.drain()).toEqual([calls[2]!]);
    expect(table.size).toBe(0);
  });

  test("refuses more than its capacity (the client must bound it)", () => {
    const table = new PendingTable(1);
    table.add(call(1));
    expect(() => table.add(call(1))).toThrow("full");
  });
});

describe("WaitQueue", () => {
  test("first in, first out; expire cuts out only what is due, keeping order", () => {
    const queue = new WaitQueue();
    const calls = [call(50, "A"), call(10, "B"), call(60, "C"), call(20, "D")];
    calls.forEach((c) => queue.push(c));
    expect(queue.shift()?.command).toBe("A");
    const expired: string[] = [];
    queue.expire(20, (c) => expired.push(c.command));
    expect(expired).toEqual(["B", "D"]);
    expect(queue.length).toBe(1);
    expect(queue.shift()?.command).toBe("C");
    expect(queue.shift()).toBeUndefined();
  });

  test("stays O(1) per shift across many pushes and shifts", () => {
    const queue = new WaitQueue();
    for (let i = 0; i < 100_000; i++) queue.push(call(i));
    for (let i = 0; i < 100_000; i++) expect(queue.shift()!.deadlineMs).toBe(i);
    expect(queue.length).toBe(0);
  });
});

describe("RequestEncoder", () => {
  test("writes the same bytes as msgpackr would for the whole request", () => {
    const encoder = new RequestEncoder();
    const ids = [1, 127, 128, 255, 256, 65_535, 65_536, 2 ** 31, REQUEST_ID_MAX];
    const shapes: Array<[string, Record<string, unknown>]> = [
      ["PING", {}],
      ["LOCK.ACQUIRE", { name: "resource-A", mode: "exclusive", owner: "me", waitMs: 1000 }],
      ["KV.SET", { key: "k", value: { nested: [1, "two", null, true], bytes: new Uint8Array([1, 2, 3]) } }],
      ["KV.SET", { key: "big", value: "x".repeat(5000) }],
    ];
    for (const id of ids) {
      for (const [command, args] of shapes) {
        const ours = encoder.encode(id, command, args).slice();
        expect(Buffer.from(ours).toString("hex")).toBe(Buffer.from(encodeValue([id, command, args])).toString("hex"));
        expect(decodeValue(ours)).toEqual([id, command, args]);
      }
    }
  });
});
