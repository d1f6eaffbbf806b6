// A node that misbehaves: bytes that are not MessagePack, a value that is not a response, a
// length prefix over the limit. The stream cannot be trusted any more, so the client drops
// it, fails what was in flight with UNAVAILABLE and reconnects. Pushes, including error
// pushes, reach onPush; a node that never answers HELLO is skipped.
import { afterEach, describe, expect, test } from "bun:test";
import { connect, type Push, type SinkronClient, type SinkronError } from "../../src/client/index.ts";
import { MockServer, rawFrame, startMockServer } from "./support/mock-server.ts";
import { rejectionOf, waitFor } from "./support/nodes.ts";

let servers: MockServer[] = [];
let client: SinkronClient | null = null;
afterEach(async () => {
  await client?.close();
  for (const server of servers) server.stop();
  client = null;
  servers = [];
});

function serve(...args: Parameters<typeof startMockServer>): MockServer {
  const server = startMockServer(...args);
  servers.push(server);
  return server;
}

/** A mock that answers BREAK with `bytes` instead of a response. */
function breakingServer(bytes: Uint8Array): MockServer {
  return serve({
    onRequest: (request, connection) => {
      if (request.command !== "BREAK") return undefined;
      connection.writeRaw(bytes);
      return null;
    },
  });
}

const fastBackoff = { backoffMsMin: 10, backoffMsMax: 40 };

describe("bad frames from the node", () => {
  const cases: Array<[string, Uint8Array, string]> = [
    ["truncated MessagePack", rawFrame([0x93, 0x01]), "not valid MessagePack"],
    ["trailing bytes after the value", rawFrame([0x93, 0x01, 0xa2, 0x4f, 0x4b, 0xc0, 0xc0]), "not valid MessagePack"],
    ["a value that is not [id, status, value]", rawFrame([0x92, 0x01, 0x02]), "malformed response"],
    ["a length prefix over frameBytesMax", new Uint8Array([0x7f, 0xff, 0xff, 0xff]), "over frameBytesMax"],
  ];
  for (const [name, bytes, reason] of cases) {
    test(`${name}: in-flight calls fail UNAVAILABLE and the client reconnects`, async () => {
      const server = breakingServer(bytes);
      client = await connect({ nodes: [server.address], reconnect: fastBackoff, frameBytesMax: 1024 * 1024 });
      const disconnected = new Promise<SinkronError>((resolve) => client!.on("disconnected", (e) => resolve(e.error)));
      const victim = client.call("BREAK");
      const bystander = client.call("PING");
      const error = await rejectionOf(victim);
      expect(error.code).toBe("UNAVAILABLE");
      expect(error.message).toBe("connection lost; the request may or may not have taken effect");
      expect((await disconnected).message).toContain(reason);
      // PING went out in the same write; its answer may have made it before the bad frame.
      await bystander.then(
        (value) => expect(value).toBe("PONG"),
        (e: SinkronError) => expect(e.code).toBe("UNAVAILABLE"),
      );
      expect(await client.ping()).toBe("PONG");
      expect(server.connectionsAccepted).toBe(2);
    });
  }

  test("a response split into single bytes is still read", async () => {
    const server = serve({
      onRequest: (request, connection) => {
        if (request.command !== "DRIP") return undefined;
        const bytes = rawFrame([0x93, request.id, 0xa2, 0x4f, 0x4b, 0xa3, 0x61, 0x62, 0x63]);
        bytes.forEach((byte, i) => setTimeout(() => connection.writeRaw(new Uint8Array([byte])), i * 2));
        return null;
      },
    });
    client = await connect({ nodes: [server.address] });
    expect(await client.call("DRIP")).toBe("abc");
  });

  test("error statuses other than the catalog's arrive as INTERNAL with the code kept", async () => {
    const server = serve({ onRequest: (request) => (request.command === "ODD" ? { status: "WEIRD", value: { message: "hm", x: 1 } } : undefined) });
    client = await connect({ nodes: [server.address] });
    const error = await rejectionOf(client.call("ODD"));
    expect(error.code).toBe("INTERNAL");
    expect(error.details).toEqual({ x: 1, code: "WEIRD" });
  });
});

describe("pushes", () => {
  test("pushes and error pushes reach onPush; unsubscribing stops them", async () => {
    const server = serve({
      onRequest: (request, connection) => {
        if (request.command !== "NOTIFY") return undefined;
        connection.push("lock.granted", { name: "a" });
        connection.push("BAD_REQUEST", { message: "frame is not one valid MessagePack value" });
        return { value: "sent" };
      },
    });
    client = await connect({ nodes: [server.address] });
    const pushes: Push[] = [];
    const stop = client.onPush((push) => pushes.push(push));
    expect(await client.call("NOTIFY")).toBe("sent");
    expect(pushes).toEqual([
      { kind: "lock.granted", value: { name: "a" }, node: "mock" },
      { kind: "BAD_REQUEST", value: { message: "frame is not one valid MessagePack value" }, node: "mock" },
    ]);
    stop();
    await client.call("NOTIFY");
    expect(pushes.length).toBe(2);
    expect(client.stats().pushesReceived).toBe(4);
  });

  test("an error push before a close explains the disconnect", async () => {
    const server = serve({
      onRequest: (request, connection) => {
        if (request.command !== "KICK") return undefined;
        connection.push("UNAVAILABLE", { message: "too many connections" });
        setTimeout(() => connection.close(), 5);
        return null;
      },
    });
    client = await connect({ nodes: [server.address], reconnect: fastBackoff });
    const disconnected = new Promise<SinkronError>((resolve) => client!.on("disconnected", (e) => resolve(e.error)));
    client.call("KICK").catch(() => {});
    expect((await disconnected).message).toContain("too many connections");
  });
});

describe("nodes that do not behave at HELLO", () => {
  test("a node that accepts but never answers HELLO is skipped after attemptTimeoutMs", async () => {
    const mute = serve({ onRequest: () => null });
    const good = serve({ nodeId: "good" });
    const startedMs = performance.now();
    client = await connect({ nodes: [mute.address, good.address], nodeOrder: "in-order", attemptTimeoutMs: 100, sweepIntervalMs: 10 });
    expect(client.node).toBe("good");
    expect(performance.now() - startedMs).toBeGreaterThanOrEqual(95);
  });

  test("a node refusing HELLO while reconnecting is reported as an error event and skipped", async () => {
    let isRefusing = false;
    const fickle = serve({
      nodeId: "fickle",
      onRequest: (request) => (request.command === "HELLO" && isRefusing ? { status: "UNAUTHORIZED", value: { message: "token rotated" } } : undefined),
    });
    const other = serve({ nodeId: "other" });
    client = await connect({ nodes: [fickle.address, other.address], nodeOrder: "in-order", reconnect: fastBackoff });
    expect(client.node).toBe("fickle");
    const errors: string[] = [];
    client.on("error", (e) => errors.push(`${e.code} ${e.message}`));
    isRefusing = true;
    for (const connection of fickle.connections) connection.close();
    // The next node in the list is "other": it answers. Make fickle the only choice next time.
    await waitFor(() => client!.node === "other", 2000, "failover to other");
    for (const connection of other.connections) connection.close();
    other.stop();
    await waitFor(() => errors.length > 0, 2000, "an error event");
    expect(errors[0]).toContain("UNAUTHORIZED");
    expect(errors[0]).toContain("token rotated");
    isRefusing = false;
    await waitFor(() => client!.node === "fickle", 2000, "back on fickle");
  });
});
