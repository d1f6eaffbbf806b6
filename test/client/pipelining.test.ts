// Pipelining on the wire, seen from a mock node: answers out of order and late still reach
// the right call, one tick's calls leave in one write, and the in-flight and waiting bounds
// hold.
import { afterEach, describe, expect, test } from "bun:test";
import { connect, type SinkronClient } from "../../src/client/index.ts";
import { MockServer, startMockServer } from "./support/mock-server.ts";
import { rejectionOf, waitFor } from "./support/nodes.ts";

let server: MockServer | null = null;
let client: SinkronClient | null = null;
afterEach(async () => {
  await client?.close();
  server?.stop();
  client = null;
  server = null;
});

describe("pipelining", () => {
  test("10,000 calls answered out of order and with delays each get their own answer", async () => {
    // Answers come back in a shuffled order: each waits 0..20 ms, chosen by the request.
    server = startMockServer({
      onRequest: (request) => (request.command === "ECHO" ? { value: request.args, delayMs: (request.id * 7919) % 21 } : undefined),
    });
    client = await connect({ nodes: [server.address] });
    const results = await Promise.all(Array.from({ length: 10_000 }, (_, n) => client!.call("ECHO", { n })));
    results.forEach((result, n) => expect(result).toEqual({ n }));
    const ids = server.requests.filter((r) => r.command === "ECHO").map((r) => r.id);
    expect(new Set(ids).size).toBe(10_000);
  });

  test("calls made in one tick leave in one socket write", async () => {
    server = startMockServer();
    client = await connect({ nodes: [server.address] });
    await client.ping();
    const writesBefore = client.stats().writes;
    const seenBefore = server.framesPerDataEvent.length;
    const calls = Array.from({ length: 200 }, () => client!.ping());
    await Promise.all(calls);
    expect(client.stats().writes - writesBefore).toBe(1);
    // Loopback delivers one 2 KB write as one segment: the mock saw all 200 frames at once.
    expect(server.framesPerDataEvent.slice(seenBefore)).toEqual([200]);
  });

  test("ids are unique among pending calls and answers to unknown ids are ignored", async () => {
    server = startMockServer({
      onRequest: (request, connection) => {
        if (request.command !== "ECHO") return undefined;
        connection.reply(request.id + 1_000_000, "OK", "stray"); // an id nobody waits for
        return { value: request.args };
      },
    });
    client = await connect({ nodes: [server.address] });
    expect(await client.call("ECHO", { a: 1 })).toEqual({ a: 1 });
    expect(client.stats().lateResponses).toBe(1);
  });

  test("no more than inflightRequestsMax calls are in flight; the rest wait in order", async () => {
    const held: Array<() => void> = [];
    let outstandingMax = 0;
    let outstanding = 0;
    server = startMockServer({
      onRequest: (request, connection) => {
        if (request.command !== "ECHO") return undefined;
        outstanding++;
        outstandingMax = Math.max(outstandingMax, outstanding);
        held.push(() => {
          outstanding--;
          connection.reply(request.id, "OK", request.args);
        });
        return null;
      },
    });
    client = await connect({ nodes: [server.address], inflightRequestsMax: 8 });
    const calls = Array.from({ length: 50 }, (_, n) => client!.call("ECHO", { n }));
    await waitFor(() => held.length === 8, 2000, "8 held requests");
    expect(client.stats()).toMatchObject({ inflightRequests: 8, waitingRequests: 42 });
    // Release answers one batch at a time until every call is through.
    while (held.length > 0) {
      for (const release of held.splice(0)) release();
      await Bun.sleep(5);
    }
    const results = await Promise.all(calls);
    results.forEach((result, n) => expect(result).toEqual({ n }));
    expect(outstandingMax).toBe(8);
    // Waiting calls go out in call order.
    expect(server.requests.filter((r) => r.command === "ECHO").map((r) => r.args.n)).toEqual(results.map((_, n) => n));
  });

  test("past waitingRequestsMax a call is refused at once with TOO_LARGE", async () => {
    server = startMockServer({ onRequest: (request) => (request.command === "ECHO" ? null : undefined) });
    client = await connect({ nodes: [server.address], inflightRequestsMax: 2, waitingRequestsMax: 3 });
    const accepted = Array.from({ length: 5 }, () => client!.call("ECHO", {}, { timeoutMs: 200 }));
    const refused = await rejectionOf(client.call("ECHO"));
    expect(refused.code).toBe("TOO_LARGE");
    expect(refused.details).toMatchObject({ limit: "waitingRequestsMax" });
    // The accepted ones time out normally (2 sent, 3 never sent).
    const codes = await Promise.all(accepted.map(async (p) => (await rejectionOf(p)).code));
    expect(codes).toEqual(["TIMEOUT", "TIMEOUT", "TIMEOUT", "TIMEOUT", "TIMEOUT"]);
  });

  test("calls held back by outboundBytesHighWater go out once the bytes are written", async () => {
    // The mock never answers ECHO, so only the written bytes can release the held calls.
    server = startMockServer({ onRequest: (request) => (request.command === "ECHO" ? null : undefined) });
    client = await connect({ nodes: [server.address], outboundBytesHighWater: 4096 });
    const blob = "x".repeat(1000);
    const calls = Array.from({ length: 40 }, () => client!.call("ECHO", { blob }, { timeoutMs: 3000 }).catch(() => {}));
    expect(client.stats().waitingRequests).toBeGreaterThan(0);
    await waitFor(() => server!.requests.filter((r) => r.command === "ECHO").length === 40, 2000, "all 40 requests at the mock");
    expect(client.stats()).toMatchObject({ inflightRequests: 40, waitingRequests: 0 });
    await client.close();
    await Promise.all(calls);
  });

  test("a request over frameBytesMax is refused locally and the connection lives on", async () => {
    server = startMockServer();
    client = await connect({ nodes: [server.address], frameBytesMax: 1024 });
    const error = await rejectionOf(client.call("ECHO", { blob: "x".repeat(2000) }));
    expect(error.code).toBe("TOO_LARGE");
    expect(await client.call("ECHO", { small: true })).toEqual({ small: true });
    expect(client.stats().connects).toBe(1);
  });

  test("args that MessagePack cannot carry are refused with BAD_REQUEST", async () => {
    server = startMockServer();
    client = await connect({ nodes: [server.address] });
    const error = await rejectionOf(client.call("ECHO", { n: 2n ** 70n }));
    expect(error.code).toBe("BAD_REQUEST");
    expect(await client.ping()).toBe("PONG");
  });
});
