// LOCK.* on an in-process 3-node cluster: grants, FIFO waiting across nodes (the waiter is
// served by the node it is connected to), try-locks, leases that expire, wait timeouts,
// deadlock refusal, a waiting client that disconnects, fencing tokens that only grow, and bad
// input that changes nothing.
import { afterEach, expect, test } from "bun:test";
import { connect, SinkronError, type SinkronClient } from "../../src/client/index.ts";
import { TestCluster } from "../helpers/cluster.ts";

let cluster: TestCluster | null = null;
afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

test("exclusive excludes, the waiter on another node is granted on release, tokens grow", async () => {
  cluster = await TestCluster.start(3);
  const [a, b, c] = (await Promise.all(["n1", "n2", "n3"].map((id) => cluster!.client(id)))) as [SinkronClient, SinkronClient, SinkronClient];
  const first = await a.lock.acquire({ name: "r", mode: "exclusive", owner: "A" });
  const waiting = b.lock.acquire({ name: "r", mode: "exclusive", owner: "B", waitMs: 5000 });
  await Bun.sleep(100);
  const info = await c.lock.info({ name: "r" });
  expect(info.holders).toEqual([{ owner: "A", mode: "exclusive", token: first.token, expiresAtMs: null }]);
  expect(info.waiters.map((w) => w.owner)).toEqual(["B"]);
  expect(await a.lock.release({ name: "r", owner: "A" })).toEqual({ released: true });
  const second = await waiting;
  expect(second.token).toBeGreaterThan(first.token);
  await expect(a.lock.release({ name: "r", owner: "A" })).rejects.toMatchObject({ code: "NOT_FOUND" });
});

test("shared holders coexist; a waiting exclusive holds back later shared requests (FIFO)", async () => {
  cluster = await TestCluster.start(3);
  const [a, b, c] = (await Promise.all(["n1", "n2", "n3"].map((id) => cluster!.client(id)))) as [SinkronClient, SinkronClient, SinkronClient];
  await a.lock.acquire({ name: "s", mode: "shared", owner: "R1" });
  await b.lock.acquire({ name: "s", mode: "shared", owner: "R2" });
  const writer = c.lock.acquire({ name: "s", mode: "exclusive", owner: "W", waitMs: 5000 });
  await Bun.sleep(50);
  // A shared request after the waiting writer must wait too: no writer starvation.
  await expect(a.lock.acquire({ name: "s", mode: "shared", owner: "R3", waitMs: 0 })).rejects.toMatchObject({ code: "TIMEOUT" });
  await a.lock.release({ name: "s", owner: "R1" });
  await b.lock.release({ name: "s", owner: "R2" });
  expect((await writer).mode).toBe("exclusive");
});

test("a lease runs out and the next waiter gets the lock; renew extends it", async () => {
  cluster = await TestCluster.start(3);
  const [a, b] = (await Promise.all(["n1", "n2"].map((id) => cluster!.client(id)))) as [SinkronClient, SinkronClient];
  await a.lock.acquire({ name: "l", mode: "exclusive", owner: "A", ttlMs: 300 });
  const renewed = await a.lock.renew({ name: "l", owner: "A", ttlMs: 400 });
  expect(renewed.expiresAtMs).toBeGreaterThan(Date.now() + 200);
  const started = performance.now();
  const next = await b.lock.acquire({ name: "l", mode: "exclusive", owner: "B", waitMs: 5000 });
  expect(next.mode).toBe("exclusive");
  expect(performance.now() - started).toBeGreaterThan(200); // granted only once the renewed lease ran out
  await expect(a.lock.renew({ name: "l", owner: "A", ttlMs: 100 })).rejects.toMatchObject({ code: "NOT_FOUND" });
});

test("a wait that runs out answers TIMEOUT and leaves the queue", async () => {
  cluster = await TestCluster.start(3);
  const [a, b] = (await Promise.all(["n1", "n2"].map((id) => cluster!.client(id)))) as [SinkronClient, SinkronClient];
  await a.lock.acquire({ name: "t", mode: "exclusive", owner: "A" });
  await expect(b.lock.acquire({ name: "t", mode: "exclusive", owner: "B", waitMs: 200 })).rejects.toMatchObject({ code: "TIMEOUT" });
  expect((await b.lock.info({ name: "t" })).waiters).toEqual([]);
});

test("a wait that would close a cycle is refused with DEADLOCK; nothing else changes", async () => {
  cluster = await TestCluster.start(3);
  const [a, b] = (await Promise.all(["n1", "n2"].map((id) => cluster!.client(id)))) as [SinkronClient, SinkronClient];
  await a.lock.acquire({ name: "x", mode: "exclusive", owner: "P" });
  await b.lock.acquire({ name: "y", mode: "exclusive", owner: "Q" });
  const pWaits = a.lock.acquire({ name: "y", mode: "exclusive", owner: "P", waitMs: 5000 });
  await Bun.sleep(50);
  const refused = await b.lock.acquire({ name: "x", mode: "exclusive", owner: "Q", waitMs: 5000 }).catch((e: SinkronError) => e);
  expect(refused).toBeInstanceOf(SinkronError);
  expect((refused as SinkronError).code).toBe("DEADLOCK");
  await b.lock.release({ name: "y", owner: "Q" });
  expect((await pWaits).mode).toBe("exclusive");
});

test("a waiting client that disconnects is withdrawn from the queue", async () => {
  cluster = await TestCluster.start(3);
  const a = await cluster.client("n1");
  await a.lock.acquire({ name: "d", mode: "exclusive", owner: "A" });
  const leaver = await connect({ nodes: [cluster.address("n2")] });
  const abandoned = leaver.lock.acquire({ name: "d", mode: "exclusive", owner: "L", waitMs: 10_000 }).catch(() => "gone");
  await Bun.sleep(100);
  expect((await a.lock.info({ name: "d" })).waiters).toHaveLength(1);
  await leaver.close();
  await abandoned;
  let waiters = 1;
  for (let i = 0; i < 50 && waiters > 0; i++) {
    await Bun.sleep(20);
    waiters = (await a.lock.info({ name: "d" })).waiters.length;
  }
  expect(waiters).toBe(0);
});

test("bad lock arguments get BAD_REQUEST and change nothing", async () => {
  cluster = await TestCluster.start(1);
  const client = await cluster.client("n1");
  await cluster.settled();
  const before = cluster.nodes.get("n1")!.status().commitIndex;
  const cases: Record<string, unknown>[] = [
    { name: "a", mode: "exclusive" },
    { name: "a", mode: "sideways", owner: "o" },
    { name: "a", mode: "shared", owner: "o", waitMs: -1 },
    { name: "a", mode: "shared", owner: "o", waitMs: 3_600_001 },
    { name: "a", mode: "shared", owner: "o", ttlMs: 0 },
    { name: "a", mode: "shared", owner: "o", ttlMs: 86_400_001 },
    { name: "n".repeat(257), mode: "shared", owner: "o" },
    { name: "a", mode: "shared", owner: "o".repeat(129) },
    { name: "", mode: "shared", owner: "o" },
    { name: "a", mode: "shared", owner: "o", extra: 1 },
  ];
  for (const args of cases) await expect(client.call("LOCK.ACQUIRE", args)).rejects.toMatchObject({ code: "BAD_REQUEST" });
  await expect(client.call("LOCK.RELEASE", { name: "a" })).rejects.toMatchObject({ code: "BAD_REQUEST" });
  await expect(client.call("LOCK.RENEW", { name: "a", owner: "o" })).rejects.toMatchObject({ code: "BAD_REQUEST" });
  expect(cluster.nodes.get("n1")!.status().commitIndex).toBe(before);
});

test("withLock: hands over the token, renews the lease while running, releases on success and on throw", async () => {
  cluster = await TestCluster.start(3);
  const [a, b] = (await Promise.all(["n1", "n2"].map((id) => cluster!.client(id)))) as [SinkronClient, SinkronClient];
  const result = await a.lock.withLock("job", async (grant) => {
    expect(grant.mode).toBe("exclusive");
    await Bun.sleep(700); // longer than the lease: only renewal keeps it
    const info = await b.lock.info({ name: "job" });
    expect(info.holders).toHaveLength(1);
    expect(info.holders[0]!.token).toBe(grant.token);
    return "done";
  }, { ttlMs: 300 });
  expect(result).toBe("done");
  expect((await b.lock.info({ name: "job" })).holders).toEqual([]);
  await expect(a.lock.withLock("job", () => { throw new Error("boom"); })).rejects.toThrow("boom");
  expect((await b.lock.info({ name: "job" })).holders).toEqual([]);
});

test("a client that dies holding a leased lock: the lease frees it for the next waiter", async () => {
  cluster = await TestCluster.start(3);
  const mortal = await connect({ nodes: [cluster.address("n1")] });
  const held = await mortal.lock.acquire({ name: "orphan", mode: "exclusive", owner: "mortal", ttlMs: 400 });
  await mortal.close(); // the process holding it is gone; nobody will release or renew
  const survivor = await cluster.client("n3");
  const next = await survivor.lock.acquire({ name: "orphan", mode: "exclusive", owner: "survivor", waitMs: 5000 });
  expect(next.token).toBeGreaterThan(held.token);
  expect((await survivor.lock.info({ name: "orphan" })).holders.map((h) => h.owner)).toEqual(["survivor"]);
});
