// Bad input of every kind gets a clear error code from the catalog (or a close where the
// byte stream can no longer be trusted), and costs nothing else: the node keeps serving
// every other connection.
import { afterEach, expect, test } from "bun:test";
import { encodeValue, frameOf } from "../../src/protocol/index.ts";
import type { SinkronNode } from "../../src/node/node.ts";
import { RawConnection } from "../helpers/raw-connection.ts";
import { startTestNode } from "../helpers/node.ts";

let node: SinkronNode | null = null;
afterEach(async () => {
  await node?.stop();
  node = null;
});

function header(size: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, size);
  return b;
}

/** Sends `payload` as one frame on its own connection and returns the single answer. */
async function answerTo(port: number, payload: Uint8Array): Promise<[number, string, Record<string, unknown>]> {
  const conn = await RawConnection.open(port);
  conn.send(frameOf(payload));
  const [answer] = await conn.waitForAnswers(1);
  // The stream is still in sync after a bad frame: the same connection goes on working.
  conn.request(99, "PING");
  await conn.waitForAnswers(2);
  expect(conn.answers[1]).toEqual([99, "OK", "PONG"]);
  conn.close();
  return answer as [number, string, Record<string, unknown>];
}

const cases: [string, Uint8Array, number, string, RegExp][] = [
  ["not MessagePack (reserved byte 0xc1 with trailing garbage)", new Uint8Array([0xc1, 0x01]), 0, "BAD_REQUEST", /not one valid MessagePack/],
  ["truncated MessagePack", new Uint8Array([0x93, 0x01]), 0, "BAD_REQUEST", /not one valid MessagePack/],
  ["two values in one frame", new Uint8Array([0x01, 0x02]), 0, "BAD_REQUEST", /not one valid MessagePack/],
  ["an empty frame", new Uint8Array([]), 0, "BAD_REQUEST", /not one valid MessagePack/],
  ["a string instead of an array", encodeValue("PING"), 0, "BAD_REQUEST", /must be an array/],
  ["a map instead of an array", encodeValue({ id: 1 }), 0, "BAD_REQUEST", /must be an array/],
  ["two elements", encodeValue([1, "PING"]), 1, "BAD_REQUEST", /exactly 3 elements/],
  ["four elements", encodeValue([1, "PING", {}, 4]), 1, "BAD_REQUEST", /exactly 3 elements/],
  ["id 0", encodeValue([0, "PING", {}]), 0, "BAD_REQUEST", /request id/],
  ["negative id", encodeValue([-5, "PING", {}]), 0, "BAD_REQUEST", /request id/],
  ["fractional id", encodeValue([1.5, "PING", {}]), 0, "BAD_REQUEST", /request id/],
  ["id above 2^32-1", encodeValue([2 ** 32, "PING", {}]), 0, "BAD_REQUEST", /request id/],
  ["string id", encodeValue(["1", "PING", {}]), 0, "BAD_REQUEST", /request id/],
  ["lower-case command", encodeValue([3, "ping", {}]), 3, "BAD_REQUEST", /upper-case/],
  ["numeric command", encodeValue([3, 42, {}]), 3, "BAD_REQUEST", /upper-case/],
  ["huge command name", encodeValue([3, "A".repeat(100_000), {}]), 3, "BAD_REQUEST", /upper-case/],
  ["args as an array", encodeValue([4, "PING", []]), 4, "BAD_REQUEST", /args must be a map/],
  ["args nil", encodeValue([4, "PING", null]), 4, "BAD_REQUEST", /args must be a map/],
  ["binary args", encodeValue([4, "PING", new Uint8Array(3)]), 4, "BAD_REQUEST", /args must be a map/],
  ["unknown command", encodeValue([5, "NO.SUCH", {}]), 5, "UNKNOWN_COMMAND", /unknown command 'NO.SUCH'/],
  ["unknown argument", encodeValue([6, "PING", { loud: true }]), 6, "BAD_REQUEST", /unknown argument 'loud'/],
  ["missing required argument", encodeValue([7, "HELLO", {}]), 7, "BAD_REQUEST", /'version' is required/],
  ["argument of the wrong type", encodeValue([8, "HELLO", { version: "1" }]), 8, "BAD_REQUEST", /'version' must be an integer/],
  ["argument out of range", encodeValue([9, "HELLO", { version: 0 }]), 9, "BAD_REQUEST", /'version' must be in 1\.\./],
  ["string argument too long", encodeValue([10, "HELLO", { version: 1, name: "x".repeat(129) }]), 10, "BAD_REQUEST", /'name' must be at most 128 bytes/],
  ["timestamp extension as argument", new Uint8Array([0x93, 11, 0xa5, ...new TextEncoder().encode("HELLO"), 0x81, 0xa7, ...new TextEncoder().encode("version"), 0xd6, 0xff, 0, 0, 0, 1]), 11, "BAD_REQUEST", /'version' must be an integer/],
  ["__proto__ key in args", new Uint8Array([0x93, 12, 0xa4, ...new TextEncoder().encode("PING"), 0x81, 0xa9, ...new TextEncoder().encode("__proto__"), 0x81, 0xa1, 0x61, 1]), 12, "BAD_REQUEST", /unknown argument/],
];

for (const [name, payload, id, code, message] of cases) {
  test(`bad input: ${name} → ${code}`, async () => {
    node = await startTestNode();
    const [answerId, status, value] = await answerTo(node.port, payload);
    expect(answerId).toBe(id);
    expect(status).toBe(code);
    expect(typeof value.message).toBe("string");
    expect(value.message as string).toMatch(message);
    expect(({} as Record<string, unknown>).a).toBeUndefined();
  });
}

test("a length prefix above the limit gets TOO_LARGE and a close; other connections are untouched", async () => {
  node = await startTestNode({ limits: { frameBytesMax: 1024 } });
  const bystander = await RawConnection.open(node.port);
  const conn = await RawConnection.open(node.port);
  conn.send(header(1025));
  await conn.waitFor(() => conn.closed);
  expect(conn.answers).toHaveLength(1);
  expect(conn.answers[0]![0]).toBe(0);
  expect(conn.answers[0]![1]).toBe("TOO_LARGE");
  expect((conn.answers[0]![2] as { message: string }).message).toMatch(/1025 bytes exceeds the limit of 1024/);
  expect(await bystander.call(1, "PING")).toEqual([1, "OK", "PONG"]);
  bystander.close();
});

test("a frame of exactly the limit is accepted, one byte more is not", async () => {
  const args = { version: 1, name: "n".repeat(100) };
  const sizeBytes = encodeValue([1, "HELLO", args]).byteLength;
  node = await startTestNode({ limits: { frameBytesMax: sizeBytes } });
  const conn = await RawConnection.open(node.port);
  expect((await conn.call(1, "HELLO", args))[1]).toBe("OK");
  conn.request(2, "HELLO", { version: 1, name: "n".repeat(101) });
  await conn.waitFor(() => conn.closed);
  expect(conn.answers[1]![1]).toBe("TOO_LARGE");
});

test("the maximal 4 GiB length prefix is refused without allocating", async () => {
  node = await startTestNode();
  const conn = await RawConnection.open(node.port);
  conn.send(header(0xffff_ffff));
  await conn.waitFor(() => conn.closed);
  expect(conn.answers[0]![1]).toBe("TOO_LARGE");
});

test("half a frame then silence: the connection is closed with TIMEOUT after partialFrameTimeoutMs", async () => {
  node = await startTestNode({ limits: { partialFrameTimeoutMs: 300 } });
  const bystander = await RawConnection.open(node.port);
  const conn = await RawConnection.open(node.port);
  const frame = frameOf(encodeValue([1, "PING", {}]));
  conn.send(frame.subarray(0, 6));
  await conn.waitFor(() => conn.closed, 5000);
  expect(conn.answers).toEqual([[0, "TIMEOUT", { message: expect.stringMatching(/middle of a frame/) }]]);
  expect(await bystander.call(2, "PING")).toEqual([2, "OK", "PONG"]);
  bystander.close();
});

test("a claimed 16 MiB frame with a trickle of bytes holds only what arrived", async () => {
  node = await startTestNode();
  const conn = await RawConnection.open(node.port);
  conn.send(header(16 * 1024 * 1024));
  conn.send(new Uint8Array(1000));
  await Bun.sleep(50);
  const [summary] = node.connections();
  expect(summary!.inboundBytes).toBeLessThanOrEqual(1000);
  conn.close();
});

test("thousands of connections opening and closing leave the node serving", async () => {
  node = await startTestNode();
  const port = node.port;
  for (let round = 0; round < 10; round++) {
    const batch = await Promise.all(Array.from({ length: 200 }, () => RawConnection.open(port)));
    batch.forEach((c, i) => {
      if (i % 2 === 0) c.request(1, "PING");
      if (i % 3 === 0) c.send(new Uint8Array([0, 0, 0])); // a partial header, then gone
    });
    for (const c of batch) c.close();
  }
  await Bun.sleep(200);
  const conn = await RawConnection.open(port);
  expect(await conn.call(1, "PING")).toEqual([1, "OK", "PONG"]);
  expect(node.connections().length).toBe(1);
  conn.close();
});

test("connections beyond connectionsMax are told UNAVAILABLE and closed", async () => {
  node = await startTestNode({ limits: { connectionsMax: 3 } });
  const kept = await Promise.all([1, 2, 3].map(() => RawConnection.open(node!.port)));
  const extra = await RawConnection.open(node.port);
  await extra.waitFor(() => extra.closed);
  expect(extra.answers[0]![1]).toBe("UNAVAILABLE");
  expect(await kept[0]!.call(1, "PING")).toEqual([1, "OK", "PONG"]);
  kept.forEach((c) => c.close());
});

test("with a token: commands before HELLO are UNAUTHORIZED, a wrong token too, the right one opens", async () => {
  node = await startTestNode({ token: "s3cret" });
  const conn = await RawConnection.open(node.port);
  expect(await conn.call(1, "PING")).toEqual([1, "OK", "PONG"]);
  expect((await conn.call(2, "STATUS"))[1]).toBe("UNAUTHORIZED");
  expect((await conn.call(3, "HELLO", { version: 1 }))[1]).toBe("UNAUTHORIZED");
  expect((await conn.call(4, "HELLO", { version: 1, token: "wrong" }))[1]).toBe("UNAUTHORIZED");
  expect((await conn.call(5, "STATUS"))[1]).toBe("UNAUTHORIZED");
  const hello = await conn.call(6, "HELLO", { version: 1, token: "s3cret", name: "t" });
  expect(hello[1]).toBe("OK");
  expect(hello[2]).toMatchObject({ server: "sinkron", version: 1, node: "n1" });
  expect((await conn.call(7, "STATUS"))[1]).toBe("OK");
  conn.close();
});

test("a failing handler answers INTERNAL for that request only", async () => {
  node = await startTestNode();
  const { schema } = await import("../../src/protocol/index.ts");
  node.registry.register({ name: "TEST.THROW", summary: "", args: schema({}), result: "" }, () => {
    throw new TypeError("boom");
  });
  node.registry.register({ name: "TEST.REJECT", summary: "", args: schema({}), result: "" }, async () => {
    throw new TypeError("boom");
  });
  const conn = await RawConnection.open(node.port);
  conn.request(1, "TEST.THROW");
  conn.request(2, "TEST.REJECT");
  conn.request(3, "PING");
  await conn.waitForAnswers(3);
  const byId = new Map(conn.answers.map((a) => [a[0], a]));
  expect(byId.get(1)![1]).toBe("INTERNAL");
  expect(byId.get(2)![1]).toBe("INTERNAL");
  expect(byId.get(3)).toEqual([3, "OK", "PONG"]);
  conn.close();
});
