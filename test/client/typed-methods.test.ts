// Every typed method sends its DESIGN.md command with the arguments as given (absent optional
// ones left out) and hands back the node's value; a mock node records what arrived.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { connect, type SinkronClient } from "../../src/client/index.ts";
import { MockServer, startMockServer } from "./support/mock-server.ts";

let server: MockServer;
let client: SinkronClient;
beforeAll(async () => {
  // Answers every command with {echo: [command, args]}.
  server = startMockServer({ onRequest: (r) => (r.command === "HELLO" ? undefined : { value: { echo: [r.command, r.args] } }) });
  client = await connect({ nodes: [server.address], name: "typed-test" });
});
afterAll(async () => {
  await client.close();
  server.stop();
});

const cases: Array<[string, () => Promise<unknown>, string, Record<string, unknown>]> = [
  ["lock.acquire", () => client.lock.acquire({ name: "a", mode: "exclusive", owner: "me", waitMs: 10 }), "LOCK.ACQUIRE", { name: "a", mode: "exclusive", owner: "me", waitMs: 10 }],
  ["lock.release", () => client.lock.release({ name: "a", owner: "me" }), "LOCK.RELEASE", { name: "a", owner: "me" }],
  ["lock.renew", () => client.lock.renew({ name: "a", owner: "me", ttlMs: 1000 }), "LOCK.RENEW", { name: "a", owner: "me", ttlMs: 1000 }],
  ["lock.info", () => client.lock.info({ name: "a" }), "LOCK.INFO", { name: "a" }],
  ["queue.produce", () => client.queue.produce({ queue: "q", body: "hi", key: undefined }), "Q.PRODUCE", { queue: "q", body: "hi" }],
  ["queue.consume", () => client.queue.consume({ queue: "q", max: 5, waitMs: 10 }), "Q.CONSUME", { queue: "q", max: 5, waitMs: 10 }],
  ["queue.ack", () => client.queue.ack({ queue: "q", id: "m1" }), "Q.ACK", { queue: "q", id: "m1" }],
  ["queue.nack", () => client.queue.nack({ queue: "q", id: "m1", delayMs: 5 }), "Q.NACK", { queue: "q", id: "m1", delayMs: 5 }],
  ["queue.create", () => client.queue.create({ queue: "q", partitions: 2 }), "Q.CREATE", { queue: "q", partitions: 2 }],
  ["queue.info", () => client.queue.info({ queue: "q" }), "Q.INFO", { queue: "q" }],
  ["queue.delete", () => client.queue.delete({ queue: "q" }), "Q.DELETE", { queue: "q" }],
  ["kv.get", () => client.kv.get({ key: "k" }), "KV.GET", { key: "k" }],
  ["kv.set", () => client.kv.set({ key: "k", value: { a: [1, 2] } }), "KV.SET", { key: "k", value: { a: [1, 2] } }],
  ["kv.del", () => client.kv.del({ key: "k" }), "KV.DEL", { key: "k" }],
  ["cluster.add", () => client.cluster.add({ id: "n9", address: "127.0.0.1:7009" }), "CLUSTER.ADD", { id: "n9", address: "127.0.0.1:7009" }],
  ["cluster.remove", () => client.cluster.remove({ id: "n9" }), "CLUSTER.REMOVE", { id: "n9" }],
  ["cluster.transfer", () => client.cluster.transfer({ to: "n2" }), "CLUSTER.TRANSFER", { to: "n2" }],
  ["cache.get", () => client.cache.get({ key: "k" }), "CACHE.GET", { key: "k" }],
  ["cache.set", () => client.cache.set({ key: "k", value: new Uint8Array([1]) }), "CACHE.SET", { key: "k", value: new Uint8Array([1]) }],
  ["cache.del", () => client.cache.del({ key: "k" }), "CACHE.DEL", { key: "k" }],
  ["cache.invalidate (all)", () => client.cache.invalidate(), "CACHE.INVALIDATE", {}],
  ["cache.invalidate (one)", () => client.cache.invalidate({ key: "k" }), "CACHE.INVALIDATE", { key: "k" }],
  ["cache.metrics", () => client.cache.metrics(), "CACHE.METRICS", {}],
  ["ping", () => client.ping(), "PING", {}],
  ["status", () => client.status(), "STATUS", {}],
];

for (const [name, invoke, command, args] of cases) {
  test(`${name} sends ${command}`, async () => {
    expect(await invoke()).toEqual({ echo: [command, args] });
  });
}

test("hello() says HELLO again with the protocol version and the client's name", async () => {
  expect((await client.hello()).node).toBe("mock");
  const hellos = server.requests.filter((r) => r.command === "HELLO");
  expect(hellos.length).toBe(2);
  expect(hellos[1]!.args).toEqual({ version: 1, name: "typed-test" });
});
