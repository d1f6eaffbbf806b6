// The client against a real node: the core commands, typed errors, the service methods that
// wait for their servers, tokens and close().
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect, SinkronError, type SinkronClient } from "../../src/client/index.ts";
import type { SinkronNode } from "../../src/node/node.ts";
import { addressOf, rejectionOf, startNode } from "./support/nodes.ts";

describe("client against a node", () => {
  let node: SinkronNode;
  let client: SinkronClient;

  beforeAll(async () => {
    node = startNode({ id: "n1" });
    client = await connect({ nodes: [addressOf(node)], name: "basic-test" });
  });
  afterAll(async () => {
    await client.close();
    await node.stop();
  });

  test("connect says HELLO and learns the node", () => {
    expect(client.state).toBe("connected");
    expect(client.node).toBe("n1");
    expect(client.address).toBe(addressOf(node));
    expect(client.server).toMatchObject({ server: "sinkron", version: 1, node: "n1" });
  });

  test("ping, status and hello", async () => {
    expect(await client.ping()).toBe("PONG");
    const status = await client.status();
    expect(status.node).toBe("n1");
    expect(status.members[0]).toMatchObject({ id: "n1" });
    expect((await client.hello()).node).toBe("n1");
  });

  test("the generic call returns the OK value", async () => {
    expect(await client.call("PING")).toBe("PONG");
    expect(await client.call("PING", {}, { timeoutMs: 1000 })).toBe("PONG");
  });

  test("errors are SinkronErrors with the protocol code", async () => {
    const error = await rejectionOf(client.call("PING", { extra: 1 }));
    expect(error).toBeInstanceOf(SinkronError);
    expect(error.code).toBe("BAD_REQUEST");
    expect(error.message).toContain("unknown argument 'extra'");
    expect((await rejectionOf(client.call("NO.SUCH"))).code).toBe("UNKNOWN_COMMAND");
    // A lowercase name is the server's to refuse; the client sends what it is given.
    expect((await rejectionOf(client.call("ping"))).code).toBe("BAD_REQUEST");
  });

  test("absent optional arguments are not sent (no msgpack 'undefined' extension)", async () => {
    // HELLO's schema refuses unknown keys but accepts absent ones: token undefined must vanish.
    expect(await client.call("HELLO", { version: 1, token: undefined, name: undefined })).toMatchObject({ node: "n1" });
  });

  test("10,000 concurrent PING and STATUS on one connection all get their own answer", async () => {
    const before = client.stats();
    const calls = Array.from({ length: 10_000 }, (_, i) => (i % 2 === 0 ? client.ping() : client.status().then((s) => s.node)));
    const results = await Promise.all(calls);
    results.forEach((result, i) => expect(result).toBe(i % 2 === 0 ? "PONG" : "n1"));
    const after = client.stats();
    expect(after.connects).toBe(before.connects);
    expect(after.responsesReceived - before.responsesReceived).toBe(10_000);
    // Coalesced: far fewer socket writes than calls.
    expect(after.writes - before.writes).toBeLessThan(1000);
  });
});

describe("tokens", () => {
  let node: SinkronNode;
  beforeAll(() => {
    node = startNode({ id: "secure", token: "s3cret" });
  });
  afterAll(async () => {
    await node.stop();
  });

  test("the right token is accepted and commands work", async () => {
    const client = await connect({ nodes: [addressOf(node)], token: "s3cret" });
    expect((await client.status()).node).toBe("secure");
    await client.close();
  });

  test("a wrong or missing token fails connect() with UNAUTHORIZED at once", async () => {
    const startedMs = performance.now();
    const wrong = await rejectionOf(connect({ nodes: [addressOf(node)], token: "nope", connectTimeoutMs: 5000 }));
    expect(wrong).toBeInstanceOf(SinkronError);
    expect(wrong.code).toBe("UNAUTHORIZED");
    expect(wrong.message).toContain("wrong token");
    const missing = await rejectionOf(connect({ nodes: [addressOf(node)] }));
    expect(missing.code).toBe("UNAUTHORIZED");
    expect(performance.now() - startedMs).toBeLessThan(2000);
  });
});

describe("close()", () => {
  test("rejects pending and later calls with UNAVAILABLE and emits closed", async () => {
    const node = startNode({ id: "c1" });
    const client = await connect({ nodes: [addressOf(node)] });
    const events: string[] = [];
    client.on("closed", () => events.push("closed"));
    client.on("disconnected", () => events.push("disconnected"));
    const inflight = client.ping();
    await client.close();
    const error = await rejectionOf(inflight);
    expect(error.code).toBe("UNAVAILABLE");
    expect((await rejectionOf(client.ping())).code).toBe("UNAVAILABLE");
    expect(client.state).toBe("closed");
    expect(events).toEqual(["closed"]);
    await client.close(); // idempotent
    await node.stop();
  });

  test("invalid options fail fast", async () => {
    expect((await rejectionOf(connect({ nodes: [] }))).code).toBe("BAD_REQUEST");
    await expect(connect({ nodes: ["nonsense"] })).rejects.toThrow("host:port");
    await expect(connect({ nodes: ["127.0.0.1:1"], requestTimeoutMs: 0 })).rejects.toThrow("requestTimeoutMs");
  });
});
