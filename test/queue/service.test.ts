// The queue service on an in-process 3-node cluster: produce through any node, consume from any
// node, ack, nack, visibility timeouts, dead letters, long-poll, admin commands and bad input.
import { afterEach, expect, test } from "bun:test";
import { TestCluster } from "../helpers/cluster.ts";

let cluster: TestCluster | null = null;
afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

test("produce on every node, consume on another, ack: every message exactly once when nothing fails", async () => {
  cluster = await TestCluster.start(3);
  await cluster.waitForLeader();
  const clients = await Promise.all(["n1", "n2", "n3"].map((id) => cluster!.client(id)));
  const created = await clients[0]!.queue.create({ queue: "jobs" });
  expect(created).toEqual({ queue: "jobs", partitions: 6, replicas: 3, maxDeliveries: 16, created: true });
  const ids = await Promise.all(Array.from({ length: 300 }, (_, i) => clients[i % 3]!.queue.produce({ queue: "jobs", body: `m${i}` })));
  expect(new Set(ids.map((r) => r.id)).size).toBe(300);
  const seen = new Map<string, number>();
  for (let round = 0; round < 100 && seen.size < 300; round++) {
    const got = await clients[(round + 1) % 3]!.queue.consume({ queue: "jobs", max: 50, waitMs: 200 });
    for (const d of got) {
      seen.set(String(d.body), (seen.get(String(d.body)) ?? 0) + 1);
      expect(d.deliveries).toBe(1);
      await clients[round % 3]!.queue.ack({ queue: "jobs", id: d.id });
    }
  }
  expect(seen.size).toBe(300);
  expect([...seen.values()].every((n) => n === 1)).toBe(true);
  // Q.INFO counts come from this node's replicas, which may lag the last acks by a moment.
  let info = await clients[2]!.queue.info({ queue: "jobs" });
  for (let i = 0; i < 50 && info.ready + info.inflight > 0; i++) {
    await Bun.sleep(20);
    info = await clients[2]!.queue.info({ queue: "jobs" });
  }
  expect(info.ready).toBe(0);
  expect(info.inflight).toBe(0);
  expect(info.partitions).toHaveLength(6);
}, 30_000);

test("a message not acked within visibilityMs is delivered again with deliveries + 1; an acked one never again", async () => {
  cluster = await TestCluster.start(3);
  const client = await cluster.client("n2");
  await client.queue.create({ queue: "v", partitions: 1 });
  const { id } = await client.queue.produce({ queue: "v", body: "once" });
  const [first] = await client.queue.consume({ queue: "v", visibilityMs: 150 });
  expect(first).toMatchObject({ id, body: "once", deliveries: 1 });
  expect(await client.queue.consume({ queue: "v" })).toEqual([]);
  const again = await client.queue.consume({ queue: "v", waitMs: 3000 });
  expect(again).toEqual([{ id, body: "once", key: null, deliveries: 2 }]);
  expect(await client.queue.ack({ queue: "v", id })).toEqual({ acked: true });
  await expect(client.queue.ack({ queue: "v", id })).rejects.toMatchObject({ code: "NOT_FOUND" });
  expect(await client.queue.consume({ queue: "v", waitMs: 400 })).toEqual([]);
}, 20_000);

test("nack makes a message ready again, after delayMs; after maxDeliveries it moves to <queue>.dead", async () => {
  cluster = await TestCluster.start(3);
  const client = await cluster.client("n1");
  await client.queue.create({ queue: "n", partitions: 1, maxDeliveries: 2 });
  const { id } = await client.queue.produce({ queue: "n", body: "poison" });
  const [d1] = await client.queue.consume({ queue: "n" });
  expect(await client.queue.nack({ queue: "n", id: d1!.id, delayMs: 300 })).toEqual({ requeued: true });
  await expect(client.queue.nack({ queue: "n", id })).rejects.toMatchObject({ code: "NOT_FOUND" });
  expect(await client.queue.consume({ queue: "n" })).toEqual([]);
  const started = performance.now();
  const [d2] = await client.queue.consume({ queue: "n", waitMs: 3000 });
  expect(performance.now() - started).toBeGreaterThan(150);
  expect(d2).toMatchObject({ id, deliveries: 2 });
  await client.queue.nack({ queue: "n", id });
  expect(await client.queue.consume({ queue: "n", waitMs: 200 })).toEqual([]);
  const info = await client.queue.info({ queue: "n" });
  expect(info.deadLettered).toBe(1);
  const [dead] = await client.queue.consume({ queue: "n.dead", waitMs: 2000 });
  expect(dead).toMatchObject({ id, body: "poison" });
  expect(await client.queue.ack({ queue: "n.dead", id })).toEqual({ acked: true });
  expect((await client.queue.info({ queue: "n" })).deadLettered).toBe(0);
}, 20_000);

test("a long-poll on one node is answered when a message is produced through another", async () => {
  cluster = await TestCluster.start(3);
  const consumer = await cluster.client("n3");
  const producer = await cluster.client("n1");
  await producer.queue.create({ queue: "lp" });
  const started = performance.now();
  const waiting = consumer.queue.consume({ queue: "lp", waitMs: 10_000 });
  await Bun.sleep(300);
  await producer.queue.produce({ queue: "lp", body: "hello" });
  const got = await waiting;
  expect(got.map((d) => d.body)).toEqual(["hello"]);
  expect(performance.now() - started).toBeLessThan(5_000);
  // Waiting on a queue that does not exist yet: answered once its first produce creates it.
  const early = consumer.queue.consume({ queue: "later", waitMs: 10_000 });
  await Bun.sleep(100);
  await producer.queue.produce({ queue: "later", body: "x" });
  expect((await early).map((d) => d.body)).toEqual(["x"]);
}, 20_000);

test("messages with one key keep their produce order, also pipelined from one connection", async () => {
  cluster = await TestCluster.start(3);
  const client = await cluster.client("n2");
  await client.queue.create({ queue: "ord" });
  await Promise.all(Array.from({ length: 200 }, (_, i) => client.queue.produce({ queue: "ord", body: `${i % 4}:${i}`, key: `k${i % 4}` })));
  const byKey = new Map<string, number[]>();
  for (let round = 0; round < 50; round++) {
    const got = await client.queue.consume({ queue: "ord", max: 37, waitMs: 100 });
    if (got.length === 0) break;
    for (const d of got) {
      const [k, i] = String(d.body).split(":");
      expect(d.key).toBe(`k${k}`);
      byKey.set(k!, [...(byKey.get(k!) ?? []), Number(i)]);
      await client.queue.ack({ queue: "ord", id: d.id });
    }
  }
  for (const [k, order] of byKey) {
    expect(order).toEqual(Array.from({ length: 50 }, (_, j) => j * 4 + Number(k)));
  }
}, 20_000);

test("bad input gets a clear error and changes nothing", async () => {
  cluster = await TestCluster.start(3);
  const client = await cluster.client("n1");
  await client.queue.create({ queue: "b", partitions: 2 });
  const { id } = await client.queue.produce({ queue: "b", body: "keep" });
  const bad: [string, Record<string, unknown>, string][] = [
    ["Q.PRODUCE", { body: "x" }, "BAD_REQUEST"],
    ["Q.PRODUCE", { queue: "b" }, "BAD_REQUEST"],
    ["Q.PRODUCE", { queue: "b", body: 5 }, "BAD_REQUEST"],
    ["Q.PRODUCE", { queue: "b", body: "x".repeat(1024 * 1024 + 1) }, "TOO_LARGE"],
    ["Q.PRODUCE", { queue: "", body: "x" }, "BAD_REQUEST"],
    ["Q.PRODUCE", { queue: "b.dead", body: "x" }, "BAD_REQUEST"],
    ["Q.CONSUME", { queue: "b", max: -1 }, "BAD_REQUEST"],
    ["Q.CONSUME", { queue: "b", max: 0 }, "BAD_REQUEST"],
    ["Q.CONSUME", { queue: "b", max: 1001 }, "BAD_REQUEST"],
    ["Q.CONSUME", { queue: "b", visibilityMs: 0 }, "BAD_REQUEST"],
    ["Q.ACK", { queue: "b", id: "nonsense" }, "NOT_FOUND"],
    ["Q.ACK", { queue: "b", id: "zz.1" }, "NOT_FOUND"],
    ["Q.ACK", { queue: "nope", id }, "NOT_FOUND"],
    ["Q.ACK", { queue: "b.dead", id }, "NOT_FOUND"],
    ["Q.NACK", { queue: "b", id }, "NOT_FOUND"],
    ["Q.NACK", { queue: "b", id, delayMs: -5 }, "BAD_REQUEST"],
    ["Q.CREATE", { queue: "b", partitions: 3 }, "CONFLICT"],
    ["Q.CREATE", { queue: "x.dead" }, "BAD_REQUEST"],
    ["Q.CREATE", { queue: "c", partitions: 0 }, "BAD_REQUEST"],
    ["Q.INFO", { queue: "nope" }, "NOT_FOUND"],
    ["Q.DELETE", { queue: "nope" }, "NOT_FOUND"],
  ];
  for (const [command, args, code] of bad) {
    await expect(client.call(command, args)).rejects.toMatchObject({ code });
  }
  const info = await client.queue.info({ queue: "b" });
  expect(info.ready).toBe(1);
  expect(info.partitions).toHaveLength(2);
  const [d] = await client.queue.consume({ queue: "b" });
  expect(d).toMatchObject({ id, body: "keep", deliveries: 1 });
}, 20_000);

test("Q.DELETE removes the queue and its partition groups on every node; the name can be used again", async () => {
  cluster = await TestCluster.start(3);
  const client = await cluster.client("n3");
  await client.queue.create({ queue: "d", partitions: 2 });
  const { id } = await client.queue.produce({ queue: "d", body: "gone" });
  expect(await client.queue.delete({ queue: "d" })).toEqual({ deleted: true });
  await cluster.waitFor(() => [...cluster!.nodes.values()].every((n) => (n.status().queues as { hostedPartitions: number }).hostedPartitions === 0), 5000, "partitions removed");
  await expect(client.queue.ack({ queue: "d", id })).rejects.toMatchObject({ code: "NOT_FOUND" });
  await client.queue.produce({ queue: "d", body: "new" });
  const got = await client.queue.consume({ queue: "d", max: 10, waitMs: 1000 });
  expect(got.map((m) => m.body)).toEqual(["new"]);
  expect(got[0]!.id).not.toBe(id);
}, 20_000);

test("subscribe runs the handler, acks on success, nacks on a throw (delivered again), and stops cleanly", async () => {
  cluster = await TestCluster.start(3);
  const client = await cluster.client("n1");
  const producer = await cluster.client("n2");
  await producer.queue.create({ queue: "s" });
  const handled: string[] = [];
  let failedOnce = false;
  const subscription = client.queue.subscribe(
    "s",
    async (d) => {
      if (d.body === "m3" && !failedOnce) {
        failedOnce = true;
        throw new Error("transient");
      }
      handled.push(String(d.body));
    },
    { concurrency: 4, waitMs: 200 },
  );
  for (let i = 0; i < 20; i++) await producer.queue.produce({ queue: "s", body: `m${i}` });
  await cluster.waitFor(() => handled.length >= 20, 10_000, "all handled");
  await subscription.stop();
  expect(new Set(handled).size).toBe(20);
  expect(subscription.stats).toMatchObject({ acked: 20, nacked: 1, errors: 0 });
  const info = await producer.queue.info({ queue: "s" });
  expect(info.ready + info.inflight).toBe(0);
}, 20_000);

test("a stopped node restarts its partition replicas from its WAL and snapshots; nothing acknowledged is lost", async () => {
  // Small snapshot interval: partitions snapshot and compact while the node is down.
  cluster = await TestCluster.start(3, { snapshotEntries: 20 });
  const client = await cluster.client("n1");
  await client.queue.create({ queue: "r", partitions: 3 });
  const produced = new Set<string>();
  for (let i = 0; i < 60; i++) produced.add((await client.queue.produce({ queue: "r", body: `a${i}` })).id);
  await cluster.stopNode("n3");
  for (let i = 0; i < 120; i++) produced.add((await client.queue.produce({ queue: "r", body: `b${i}` })).id);
  cluster.startNode("n3");
  // n3 catches up (by snapshot where the log was compacted), then the others stop: n3 and n1
  // must still hold every message (a majority of each partition's replicas).
  await cluster.waitFor(() => (cluster!.nodes.get("n3")!.status().queues as { hostedPartitions: number }).hostedPartitions === 3, 5000, "n3 hosts its partitions");
  const n3 = await cluster.client("n3");
  for (const deadline = performance.now() + 10_000; (await n3.queue.info({ queue: "r" })).ready !== 180; ) {
    if (performance.now() > deadline) throw new Error("n3 did not catch up");
    await Bun.sleep(50);
  }
  await cluster.stopNode("n2");
  const seen = new Set<string>();
  for (let round = 0; round < 100 && seen.size < 180; round++) {
    for (const d of await n3.queue.consume({ queue: "r", max: 100, waitMs: 500 })) {
      seen.add(d.id);
      await n3.queue.ack({ queue: "r", id: d.id });
    }
  }
  expect([...produced].filter((id) => !seen.has(id))).toEqual([]);
}, 40_000);

test("with more nodes than replicas, a node that hosts no replica of a partition still serves it", async () => {
  cluster = await TestCluster.start(5);
  const clients = await Promise.all(["n1", "n2", "n3", "n4", "n5"].map((id) => cluster!.client(id)));
  expect(await clients[0]!.queue.create({ queue: "wide", partitions: 5, replicas: 3 })).toMatchObject({ partitions: 5, replicas: 3 });
  const info = await clients[4]!.queue.info({ queue: "wide" });
  for (const p of info.partitions) expect(p.replicas).toHaveLength(3);
  const leaders = new Map<string, number>();
  for (const p of info.partitions) leaders.set(p.replicas[0]!, (leaders.get(p.replicas[0]!) ?? 0) + 1);
  expect([...leaders.values()].every((n) => n === 1)).toBe(true); // 5 partitions, 5 nodes: one each
  const ids = await Promise.all(Array.from({ length: 50 }, (_, i) => clients[i % 5]!.queue.produce({ queue: "wide", body: `w${i}` })));
  // A long-poll on every node, answered for partitions it may not host.
  const seen = new Set<string>();
  for (let round = 0; round < 60 && seen.size < 50; round++) {
    const client = clients[round % 5]!;
    for (const d of await client.queue.consume({ queue: "wide", max: 10, waitMs: 300 })) {
      seen.add(d.id);
      await clients[(round + 2) % 5]!.queue.ack({ queue: "wide", id: d.id });
    }
  }
  expect(ids.filter(({ id }) => !seen.has(id))).toEqual([]);
  const totals = await clients[3]!.queue.info({ queue: "wide" });
  expect(totals.partitions.every((p) => p.ready === 0 && p.inflight === 0)).toBe(true);
  const waiting = clients[1]!.queue.consume({ queue: "wide", waitMs: 8000 });
  await Bun.sleep(200);
  await clients[3]!.queue.produce({ queue: "wide", body: "late" });
  expect((await waiting).map((d) => d.body)).toEqual(["late"]);
}, 40_000);

test("a new partition's preferred replica campaigns at once; leadership settles on the preferred replicas", async () => {
  cluster = await TestCluster.start(3);
  const client = await cluster.client("n1");
  await client.queue.create({ queue: "pl", partitions: 6 });
  const info = await client.queue.info({ queue: "pl" });
  const hosts = (id: string) => (cluster!.nodes.get(id)! as unknown as { host: { group(g: number): { startedEmpty: boolean } | undefined } }).host;
  await cluster.waitFor(() => [...cluster!.nodes.values()].every((n) => (n.status().queues as { hostedPartitions: number }).hostedPartitions === 6), 5000, "every node hosts its partitions");
  for (const p of info.partitions) expect(hosts(p.replicas[0]!).group(p.group)?.startedEmpty).toBe(true);
  // Leaders spread: each node prefers two of the six partitions, and leadership ends up there.
  const preferred = new Map<string, number>();
  for (const p of info.partitions) preferred.set(p.replicas[0]!, (preferred.get(p.replicas[0]!) ?? 0) + 1);
  expect([...preferred.values()]).toEqual([2, 2, 2]);
  for (const deadline = performance.now() + 15_000; ; ) {
    const now = await client.queue.info({ queue: "pl" });
    if (now.partitions.every((p) => p.leader === p.replicas[0])) break;
    if (performance.now() > deadline) throw new Error(`leaders not on preferred replicas: ${JSON.stringify(now.partitions)}`);
    await Bun.sleep(100);
  }
  // A restarted replica was restored from storage: it does not campaign out of turn.
  await cluster.stopNode("n2");
  cluster.startNode("n2");
  await cluster.waitFor(() => (cluster!.nodes.get("n2")!.status().queues as { hostedPartitions: number }).hostedPartitions === 6, 5000, "n2 hosts its partitions");
  for (const p of info.partitions) expect(hosts("n2").group(p.group)?.startedEmpty).toBe(false);
}, 30_000);

test("a partition whose entries are large batches snapshots by log bytes, not only by entry count", async () => {
  cluster = await TestCluster.start(3, { snapshotLogBytes: 64 * 1024 });
  const client = await cluster.client("n1");
  await client.queue.create({ queue: "big", partitions: 1 });
  const body = "x".repeat(4096);
  for (let round = 0; round < 10; round++) await Promise.all(Array.from({ length: 10 }, () => client.queue.produce({ queue: "big", body })));
  // 400 KiB written in ~10-100 entries, far below the 20,000-entry interval.
  const taken = () => [...cluster!.nodes.values()].map((n) => (n.status().raft as { snapshotsTaken: number }).snapshotsTaken);
  await cluster.waitFor(() => taken().every((n) => n > 0), 5000, "every replica snapshotted");
  expect((await client.queue.info({ queue: "big" })).ready).toBe(100);
}, 20_000);

test("read your writes across nodes: a queue created, a message produced or acked through one node is seen at once through another", async () => {
  cluster = await TestCluster.start(3);
  const [a, b, c] = await Promise.all(["n1", "n2", "n3"].map((id) => cluster!.client(id)));
  for (let i = 0; i < 10; i++) {
    await a!.queue.create({ queue: `ryw${i}`, partitions: 3 });
    expect((await c!.queue.info({ queue: `ryw${i}` })).partitions).toHaveLength(3);
  }
  for (let i = 0; i < 20; i++) {
    const { id } = await a!.queue.produce({ queue: "ryw0", body: `m${i}` });
    const got = await b!.queue.consume({ queue: "ryw0", waitMs: 0 });
    expect(got.map((d) => d.id)).toEqual([id]);
    await c!.queue.ack({ queue: "ryw0", id });
    const info = await b!.queue.info({ queue: "ryw0" });
    expect([info.ready, info.inflight]).toEqual([0, 0]);
  }
}, 30_000);

test("a consume through another node right after the produce that created the queue finds the message", async () => {
  cluster = await TestCluster.start(3);
  const [a, b] = await Promise.all(["n1", "n3"].map((id) => cluster!.client(id)));
  for (let i = 0; i < 10; i++) {
    const { id } = await a!.queue.produce({ queue: `fresh${i}`, body: "first" });
    expect((await b!.queue.consume({ queue: `fresh${i}` })).map((d) => d.id)).toEqual([id]);
  }
  expect(await b!.queue.consume({ queue: "never-created" })).toEqual([]);
}, 20_000);

test("keyless produces go to partitions led by the serving node; a consumer with a steady local supply still drains partitions led elsewhere", async () => {
  cluster = await TestCluster.start(3);
  const [a, b] = await Promise.all(["n1", "n2"].map((id) => cluster!.client(id)));
  await a!.queue.create({ queue: "spread", partitions: 6 });
  // Wait until every partition is led by its preferred replica (2 per node).
  for (const deadline = performance.now() + 15_000; ; ) {
    const info = await a!.queue.info({ queue: "spread" });
    if (info.partitions.every((p) => p.leader === p.replicas[0])) break;
    if (performance.now() > deadline) throw new Error("leaders did not settle");
    await Bun.sleep(100);
  }
  const info = await a!.queue.info({ queue: "spread" });
  const ledByN1 = new Set(info.partitions.filter((p) => p.leader === "n1").map((p) => p.group));
  const fromA = await Promise.all(Array.from({ length: 40 }, (_, i) => a!.queue.produce({ queue: "spread", body: `a${i}` })));
  const fromB = await Promise.all(Array.from({ length: 40 }, (_, i) => b!.queue.produce({ queue: "spread", body: `b${i}` })));
  expect(fromA.every(({ id }) => ledByN1.has(parseInt(id.split(".")[0]!, 36)))).toBe(true);
  expect(fromB.some(({ id }) => !ledByN1.has(parseInt(id.split(".")[0]!, 36)))).toBe(true);
  // A consumer on n1 with a steady local supply still drains n2's partitions (no starvation).
  const seen = new Set<string>();
  const bSeen = () => Array.from({ length: 40 }, (_, i) => `b${i}`).every((m) => seen.has(m));
  for (let round = 0; round < 400 && !bSeen(); round++) {
    await a!.queue.produce({ queue: "spread", body: `more${round}` }); // local supply = demand
    for (const d of await a!.queue.consume({ queue: "spread", max: 1 })) {
      seen.add(String(d.body));
      await a!.queue.ack({ queue: "spread", id: d.id });
    }
  }
  expect([...Array.from({ length: 40 }, (_, i) => `b${i}`)].filter((m) => !seen.has(m))).toEqual([]);
}, 30_000);

test("concurrent long-polls that find the partition they planned on emptied by each other take the ready messages of another at once", async () => {
  // Regression: with max 1, a consume asks the one partition its node's replica counts as ready
  // (the one this node leads, first); when several consumes plan it and its leader has one
  // message, the others came back empty and waited for a NEW message for their whole waitMs,
  // although another partition held ready ones (its wake-up had come before they looked).
  cluster = await TestCluster.start(3);
  const [a] = await Promise.all(["n1"].map((id) => cluster!.client(id)));
  await a!.queue.create({ queue: "race", partitions: 2 });
  let info = await a!.queue.info({ queue: "race" });
  for (const deadline = performance.now() + 15_000; !info.partitions.every((p) => p.leader === p.replicas[0]); ) {
    if (performance.now() > deadline) throw new Error("leaders did not settle");
    await Bun.sleep(100);
    info = await a!.queue.info({ queue: "race" });
  }
  const [first, second] = info.partitions;
  // One message in the partition the consumers' node leads, three in the other.
  const here = await cluster.client(first!.leader!);
  const there = await cluster.client(second!.leader!);
  await here.queue.produce({ queue: "race", body: "near" });
  for (let i = 0; i < 3; i++) await there.queue.produce({ queue: "race", body: `far${i}` });
  // All four are ready at the leaders; the consumers' node applies them on its replicas (what its
  // plans count) within a moment.
  for (let i = 0; i < 100 && (await here.queue.info({ queue: "race" })).ready !== 4; i++) await Bun.sleep(20);
  await Bun.sleep(200);
  const waitMs = 6_000;
  const startedMs = performance.now();
  // Four at once: at least three of any four plans put the locally led partition first.
  const got = await Promise.all(Array.from({ length: 4 }, () => here.queue.consume({ queue: "race", max: 1, waitMs })));
  const elapsedMs = performance.now() - startedMs;
  expect(got.map((batch) => batch.length)).toEqual([1, 1, 1, 1]);
  expect(got.flat().map((d) => String(d.body)).sort()).toEqual(["far0", "far1", "far2", "near"]);
  // Each found a ready message: none waited for its long-poll to run out.
  expect(elapsedMs).toBeLessThan(waitMs / 2);
}, 30_000);
