// Bounds a client cannot push past: requests in flight per connection and unsent answer
// bytes. The server stops reading a connection at either bound and resumes when it clears,
// so a client that never reads holds a bounded amount of the node's memory.
import { afterEach, expect, test } from "bun:test";
import { encodeValue, frameOf, int, schema } from "../../src/protocol/index.ts";
import type { SinkronNode } from "../../src/node/node.ts";
import { RawConnection } from "../helpers/raw-connection.ts";
import { startTestNode } from "../helpers/node.ts";

let node: SinkronNode | null = null;
afterEach(async () => {
  await node?.stop();
  node = null;
});

test("no more than inflightRequestsMax requests of one connection are handled at once", async () => {
  node = await startTestNode({ limits: { inflightRequestsMax: 16 } });
  let started = 0;
  const gates: (() => void)[] = [];
  node.registry.register({ name: "TEST.GATE", summary: "", args: schema({ n: int("", { min: 0, max: 1e9 }) }), result: "" }, (args) => {
    started++;
    return new Promise((resolve) => gates.push(() => resolve(args.n)));
  });
  const conn = await RawConnection.open(node.port);
  for (let i = 1; i <= 100; i++) conn.request(i, "TEST.GATE", { n: i });
  await Bun.sleep(100);
  expect(started).toBe(16);
  expect(node.connections()[0]!.isPaused).toBe(true);
  // Another connection is not held back by this one.
  const other = await RawConnection.open(node.port);
  expect(await other.call(1, "PING")).toEqual([1, "OK", "PONG"]);
  other.close();
  // Releasing the gates lets the rest through, 16 at a time, every one answered once.
  while (conn.answers.length < 100) {
    for (const open of gates.splice(0)) open();
    await Bun.sleep(5);
  }
  expect(started).toBe(100);
  expect(conn.answers.map((a) => a[0]).sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
  conn.close();
});

test("a client that does not read: unsent answers stay near outboundBytesHighWater, then all arrive", async () => {
  const highWaterBytes = 64 * 1024;
  node = await startTestNode({ limits: { outboundBytesHighWater: highWaterBytes } });
  const conn = await RawConnection.open(node.port);
  conn.stopReading();
  // STATUS answers are ~250 bytes: 40,000 of them (~10 MB) far exceed kernel buffers.
  const count = 40_000;
  const frames = new Uint8Array(count * 20);
  let at = 0;
  for (let i = 1; i <= count; i++) {
    const f = frameOf(encodeValue([i, "STATUS", {}]));
    frames.set(f, at);
    at += f.byteLength;
  }
  conn.send(frames.subarray(0, at));
  let maxOutbound = 0;
  for (let i = 0; i < 30; i++) {
    await Bun.sleep(20);
    for (const c of node.connections()) maxOutbound = Math.max(maxOutbound, c.outboundBytes);
  }
  const [summary] = node.connections();
  expect(summary!.isPaused).toBe(true);
  // One turn's worth of input (256 KiB of requests) can land above the mark before pausing.
  expect(maxOutbound).toBeLessThan(highWaterBytes + 6 * 1024 * 1024);
  conn.startReading();
  await conn.waitForAnswers(count, 20_000);
  expect(conn.answers.length).toBe(count);
  expect(new Set(conn.answers.map((a) => a[0])).size).toBe(count);
  conn.close();
}, 30_000);

test("the input of one connection is taken in bounded slices, so others get answered meanwhile", async () => {
  node = await startTestNode({ limits: { inboundBytesPerTurnMax: 4096 } });
  const hog = await RawConnection.open(node.port);
  const count = 50_000;
  const one = frameOf(encodeValue([1, "PING", {}]));
  const burst = new Uint8Array(one.byteLength * count);
  for (let i = 0; i < count; i++) burst.set(one, i * one.byteLength);
  hog.send(burst);
  const other = await RawConnection.open(node.port);
  const answer = await other.call(5, "PING");
  expect(answer).toEqual([5, "OK", "PONG"]);
  // The other connection was served before the hog's backlog was done.
  expect(hog.answers.length).toBeLessThan(count);
  await hog.waitForAnswers(count, 20_000);
  hog.close();
  other.close();
});
