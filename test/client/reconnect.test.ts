// Losing a node: in-flight calls fail UNAVAILABLE (they may or may not have happened), new
// calls wait while the client reconnects with backoff — to the same node when it returns,
// or to the next node of the list — and the events say what happened.
import { afterEach, describe, expect, test } from "bun:test";
import { connect, type SinkronClient } from "../../src/client/index.ts";
import type { SinkronNode } from "../../src/node/node.ts";
import { startMockServer } from "./support/mock-server.ts";
import { addressOf, freePort, rejectionOf, startNode, waitFor } from "./support/nodes.ts";

const nodes: SinkronNode[] = [];
let client: SinkronClient | null = null;
afterEach(async () => {
  await client?.close();
  client = null;
  for (const node of nodes.splice(0)) await node.stop();
});

function track(node: SinkronNode): SinkronNode {
  nodes.push(node);
  return node;
}

const fastBackoff = { backoffMsMin: 10, backoffMsMax: 50 };

describe("reconnect and failover", () => {
  test("reconnects to the same node after it restarts on the same port", async () => {
    const port = freePort();
    let node = track(startNode({ id: "n1", port }));
    client = await connect({ nodes: [`127.0.0.1:${port}`], reconnect: fastBackoff });
    const events: string[] = [];
    client.on("connected", (e) => events.push(`connected ${e.node}`));
    client.on("disconnected", (e) => events.push(`disconnected ${e.node}`));
    expect(await client.ping()).toBe("PONG");

    await node.stop();
    nodes.splice(nodes.indexOf(node), 1);
    await waitFor(() => client!.state === "reconnecting", 2000, "reconnecting");
    const waiting = client.ping(); // queued while no node is up
    node = track(startNode({ id: "n1", port }));

    expect(await waiting).toBe("PONG");
    expect(events).toEqual(["disconnected n1", "connected n1"]);
    expect(client.stats()).toMatchObject({ connects: 2, disconnects: 1, state: "connected" });
  });

  test("fails over to the second node when the first stops, and says HELLO there", async () => {
    const first = track(startNode({ id: "n1" }));
    const second = track(startNode({ id: "n2" }));
    client = await connect({ nodes: [addressOf(first), addressOf(second)], nodeOrder: "in-order", reconnect: fastBackoff });
    expect(client.node).toBe("n1");
    await first.stop();
    nodes.splice(nodes.indexOf(first), 1);
    // (A call made before the client has seen the close would fail UNAVAILABLE: it was in flight.)
    await waitFor(() => client!.state !== "connected" || client!.node === "n2", 2000, "the drop");
    expect((await client.status()).node).toBe("n2");
    expect(client.node).toBe("n2");
    expect(client.address).toBe(addressOf(second));
  });

  test("in-flight calls reject UNAVAILABLE when the connection drops", async () => {
    const server = startMockServer({ onRequest: (request) => (request.command === "HANG" ? null : undefined) });
    client = await connect({ nodes: [server.address], reconnect: fastBackoff });
    const hanging = Array.from({ length: 3 }, () => client!.call("HANG"));
    await waitFor(() => server.requests.filter((r) => r.command === "HANG").length === 3, 2000, "requests at the mock");
    for (const connection of server.connections) connection.close();
    for (const call of hanging) {
      const error = await rejectionOf(call);
      expect(error.code).toBe("UNAVAILABLE");
      expect(error.message).toBe("connection lost; the request may or may not have taken effect");
    }
    // The mock still listens: the client comes back by itself.
    expect(await client.ping()).toBe("PONG");
    server.stop();
  });

  test("with every node down calls fail cleanly, and succeed once a node returns", async () => {
    const port = freePort();
    let node = track(startNode({ id: "n1", port }));
    client = await connect({ nodes: [`127.0.0.1:${port}`], reconnect: fastBackoff, sweepIntervalMs: 10 });
    const rounds: number[] = [];
    client.on("reconnecting", (e) => rounds.push(e.delayMs));
    await node.stop();
    nodes.splice(nodes.indexOf(node), 1);
    await waitFor(() => client!.state === "reconnecting", 2000, "reconnecting");

    const failures = await Promise.all(Array.from({ length: 20 }, () => rejectionOf(client!.ping({ timeoutMs: 150 }))));
    for (const error of failures) {
      expect(error.code).toBe("UNAVAILABLE");
      expect(error.details).toMatchObject({ sent: false });
    }
    expect(rounds.length).toBeGreaterThan(1);
    for (const delayMs of rounds) expect(delayMs).toBeLessThanOrEqual(fastBackoff.backoffMsMax);

    node = track(startNode({ id: "n1", port }));
    expect(await client.ping({ timeoutMs: 2000 })).toBe("PONG");
  });

  test("connect() with no reachable node rejects UNAVAILABLE after connectTimeoutMs", async () => {
    const startedMs = performance.now();
    const error = await rejectionOf(connect({ nodes: [`127.0.0.1:${freePort()}`, `127.0.0.1:${freePort()}`], connectTimeoutMs: 300, reconnect: fastBackoff }));
    const elapsedMs = performance.now() - startedMs;
    expect(error.code).toBe("UNAVAILABLE");
    expect(error.message).toContain("no node reachable within 300 ms");
    expect(elapsedMs).toBeGreaterThanOrEqual(250);
    expect(elapsedMs).toBeLessThan(1500);
  });

  test("connect() skips a dead node and uses the next one", async () => {
    const node = track(startNode({ id: "n2" }));
    client = await connect({ nodes: [`127.0.0.1:${freePort()}`, addressOf(node)], nodeOrder: "in-order" });
    expect(client.node).toBe("n2");
  });

  test("with reconnect: false a drop closes the client", async () => {
    const node = track(startNode({ id: "n1" }));
    client = await connect({ nodes: [addressOf(node)], reconnect: false });
    const closed = new Promise<string>((resolve) => client!.on("closed", (e) => resolve(e.error.message)));
    await node.stop();
    nodes.splice(nodes.indexOf(node), 1);
    expect(await closed).toContain("reconnect is disabled");
    expect(client.state).toBe("closed");
    expect((await rejectionOf(client.ping())).code).toBe("UNAVAILABLE");
  });

  test("a node that accepts HELLO and drops us at once is retried with backoff, not in a loop", async () => {
    const server = startMockServer({
      onRequest: (request, connection) => {
        if (request.command === "HELLO") setTimeout(() => connection.close(), 1);
        return undefined;
      },
    });
    client = await connect({ nodes: [server.address], reconnect: { backoffMsMin: 40, backoffMsMax: 80 } });
    await Bun.sleep(400);
    // Without backoff this would be hundreds of connections; with 20..80 ms pauses, about 8.
    expect(server.connectionsAccepted).toBeLessThan(20);
    expect(server.connectionsAccepted).toBeGreaterThan(2);
    await client.close();
    server.stop();
  });

  test("close() during reconnect stops it and rejects the waiting calls", async () => {
    const port = freePort();
    const node = startNode({ id: "n1", port });
    client = await connect({ nodes: [`127.0.0.1:${port}`], reconnect: fastBackoff });
    await node.stop();
    await waitFor(() => client!.state === "reconnecting", 2000, "reconnecting");
    const waiting = client.ping({ timeoutMs: 5000 });
    await client.close();
    const error = await rejectionOf(waiting);
    expect(error.code).toBe("UNAVAILABLE");
    expect(error.message).toContain("the client is closed");
    // Nothing reconnects behind our back once closed.
    const late = track(startNode({ id: "n1", port }));
    await Bun.sleep(100);
    expect(client.state).toBe("closed");
    expect(late.status().server).toMatchObject({ connections: 0 });
  });
});
