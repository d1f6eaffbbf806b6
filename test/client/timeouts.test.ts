// Deadlines: a call not answered in time rejects TIMEOUT within one sweep of its deadline,
// its late answer is ignored, and the connection keeps serving.
import { afterEach, describe, expect, test } from "bun:test";
import { connect, type SinkronClient } from "../../src/client/index.ts";
import { MockServer, startMockServer } from "./support/mock-server.ts";
import { rejectionOf } from "./support/nodes.ts";

let server: MockServer | null = null;
let client: SinkronClient | null = null;
afterEach(async () => {
  await client?.close();
  server?.stop();
  client = null;
  server = null;
});

/** A mock that answers SLOW after `delayMs` (from args) and everything else at once. */
function slowServer(): MockServer {
  return startMockServer({
    onRequest: (request) => (request.command === "SLOW" ? { value: "late", delayMs: Number(request.args.delayMs) } : undefined),
  });
}

describe("timeouts", () => {
  test("an unanswered call rejects TIMEOUT near its deadline; its late answer is ignored", async () => {
    server = slowServer();
    client = await connect({ nodes: [server.address], sweepIntervalMs: 20 });
    const startedMs = performance.now();
    const error = await rejectionOf(client.call("SLOW", { delayMs: 300 }, { timeoutMs: 100 }));
    const elapsedMs = performance.now() - startedMs;
    expect(error.code).toBe("TIMEOUT");
    expect(error.message).toContain("SLOW: no answer within 100 ms");
    expect(elapsedMs).toBeGreaterThanOrEqual(99);
    expect(elapsedMs).toBeLessThan(500); // one 20 ms sweep after the deadline, plus slack for loaded CI cores
    await Bun.sleep(250);
    expect(client.stats().lateResponses).toBe(1);
    expect(await client.ping()).toBe("PONG");
    expect(client.stats().connects).toBe(1);
  });

  test("the client's requestTimeoutMs is the default deadline; a call may choose its own", async () => {
    server = slowServer();
    client = await connect({ nodes: [server.address], requestTimeoutMs: 80, sweepIntervalMs: 10 });
    expect((await rejectionOf(client.call("SLOW", { delayMs: 200 }))).code).toBe("TIMEOUT");
    expect(await client.call("SLOW", { delayMs: 150 }, { timeoutMs: 1000 })).toBe("late");
  });

  test("a call only waiting for an in-flight slot times out as TIMEOUT with sent: false", async () => {
    server = slowServer();
    client = await connect({ nodes: [server.address], inflightRequestsMax: 1, sweepIntervalMs: 10 });
    const first = client.call("SLOW", { delayMs: 300 }, { timeoutMs: 1000 });
    const second = await rejectionOf(client.call("PING", {}, { timeoutMs: 50 }));
    expect(second.code).toBe("TIMEOUT");
    expect(second.details).toMatchObject({ sent: false });
    expect(await first).toBe("late");
  });

  test("many calls with mixed deadlines each expire on their own", async () => {
    server = slowServer();
    client = await connect({ nodes: [server.address], sweepIntervalMs: 10 });
    const calls = Array.from({ length: 300 }, (_, i) => {
      const timeoutMs = 30 + (i % 3) * 1000; // a third expire; two thirds outlive the answer
      return client!.call("SLOW", { delayMs: 150 }, { timeoutMs }).then(
        (v) => v,
        (e: { code: string }) => e.code,
      );
    });
    const results = await Promise.all(calls);
    results.forEach((result, i) => expect(result).toBe(i % 3 === 0 ? "TIMEOUT" : "late"));
  });

  test("an invalid timeoutMs is refused with BAD_REQUEST", async () => {
    server = slowServer();
    client = await connect({ nodes: [server.address] });
    expect((await rejectionOf(client.call("PING", {}, { timeoutMs: -1 }))).code).toBe("BAD_REQUEST");
    expect((await rejectionOf(client.call("PING", {}, { timeoutMs: Number.NaN }))).code).toBe("BAD_REQUEST");
  });

  test("commands that wait on the server get a deadline past their waitMs", async () => {
    server = startMockServer({
      onRequest: (request) => (request.command === "LOCK.ACQUIRE" ? { value: { token: 7, mode: "exclusive" }, delayMs: 200 } : undefined),
    });
    client = await connect({ nodes: [server.address], requestTimeoutMs: 50 });
    const grant = await client.lock.acquire({ name: "a", mode: "exclusive", owner: "me", waitMs: 500 });
    expect(grant).toEqual({ token: 7, mode: "exclusive" });
  });
});
