// Pipelining as DESIGN.md fixes it: any number of requests without waiting, exactly one
// answer per request carrying its id, waiting commands overtaken by later ones, and the
// connection never blocked by a slow command.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { encodeValue, frameOf, schema, int } from "../../src/protocol/index.ts";
import type { SinkronNode } from "../../src/node/node.ts";
import { RawConnection } from "../helpers/raw-connection.ts";
import { startTestNode } from "../helpers/node.ts";

let node: SinkronNode;
const SLEEP = { name: "TEST.SLEEP", summary: "answers after ms", args: schema({ ms: int("delay", { min: 0, max: 10_000 }) }), result: "ms" };

beforeAll(async () => {
  node = await startTestNode();
  node.registry.register(SLEEP, async (args) => {
    await Bun.sleep(args.ms);
    return args.ms;
  });
});
afterAll(() => node.stop());

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

test("10,000 pipelined requests in one write are each answered exactly once", async () => {
  const conn = await RawConnection.open(node.port);
  const count = 10_000;
  const frames: Uint8Array[] = [];
  for (let i = 1; i <= count; i++) frames.push(frameOf(encodeValue([i, i % 3 === 0 ? "STATUS" : "PING", {}])));
  conn.send(concat(frames));
  await conn.waitForAnswers(count);
  await Bun.sleep(50);
  expect(conn.answers.length).toBe(count);
  const seen = new Set<number>();
  for (const [id, status, value] of conn.answers) {
    expect(status).toBe("OK");
    expect(seen.has(id)).toBe(false);
    seen.add(id);
    if (id % 3 === 0) expect((value as { node: string }).node).toBe("n1");
    else expect(value).toBe("PONG");
  }
  expect(seen.size).toBe(count);
  conn.close();
});

test("10,000 requests written one frame at a time with ids in random order", async () => {
  const conn = await RawConnection.open(node.port);
  const ids = Array.from({ length: 10_000 }, (_, i) => (i * 7919) % 4_000_000_000 + 1);
  for (const id of ids) conn.request(id, "PING");
  await conn.waitForAnswers(ids.length);
  expect(new Set(conn.answers.map((a) => a[0]))).toEqual(new Set(ids));
  conn.close();
});

test("a waiting command is overtaken by later ones and nothing blocks the connection", async () => {
  const conn = await RawConnection.open(node.port);
  conn.request(1, "TEST.SLEEP", { ms: 300 });
  conn.request(2, "PING");
  conn.request(3, "TEST.SLEEP", { ms: 50 });
  conn.request(4, "PING");
  await conn.waitForAnswers(4);
  expect(conn.answers.map((a) => a[0])).toEqual([2, 4, 3, 1]);
  expect(conn.answers.find((a) => a[0] === 1)).toEqual([1, "OK", 300]);
  conn.close();
});

test("answers to many concurrent waiting commands all arrive with their own ids", async () => {
  const conn = await RawConnection.open(node.port);
  for (let id = 1; id <= 500; id++) conn.request(id, "TEST.SLEEP", { ms: (id * 37) % 100 });
  await conn.waitForAnswers(500);
  for (const [id, status, value] of conn.answers) {
    expect(status).toBe("OK");
    expect(value).toBe((id * 37) % 100);
  }
  conn.close();
});

test("the same id used twice is answered twice: ids are the client's to choose", async () => {
  const conn = await RawConnection.open(node.port);
  conn.request(7, "PING");
  conn.request(7, "PING");
  await conn.waitForAnswers(2);
  expect(conn.answers).toEqual([[7, "OK", "PONG"], [7, "OK", "PONG"]]);
  conn.close();
});

test("a stream cut at every byte arrives whole: frames written one byte at a time", async () => {
  const conn = await RawConnection.open(node.port);
  const bytes = concat([1, 2, 3].map((id) => frameOf(encodeValue([id, "PING", {}]))));
  for (const byte of bytes) {
    conn.send(new Uint8Array([byte]));
    await Bun.sleep(1);
  }
  await conn.waitForAnswers(3);
  expect(conn.answers).toEqual([[1, "OK", "PONG"], [2, "OK", "PONG"], [3, "OK", "PONG"]]);
  conn.close();
});
