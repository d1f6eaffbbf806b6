// Queue partitions follow the cluster's membership: after CLUSTER.ADD the placement takes in the
// new member (about 1/N of the replicas move to it) and after CLUSTER.REMOVE nothing stays on the
// removed one; each move goes learner → caught up → voter → the old replica removed, so no
// acknowledged message is lost on the way.
import { afterEach, expect, test } from "bun:test";
import type { SinkronNode } from "../../src/node/node.ts";
import { TestCluster } from "../helpers/cluster.ts";

let cluster: TestCluster | null = null;
afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

type HostView = { host: { group(g: number): { raft: { status(): { voters: string[]; learners: string[]; role: string } } } | undefined } };
const groupOf = (node: SinkronNode, group: number) => (node as unknown as HostView).host.group(group);
const hosted = (node: SinkronNode) => (node.status().queues as { hostedPartitions: number }).hostedPartitions;

/** Every partition's group has exactly its placed replicas as voters, seen from its leader. */
async function membershipMatchesPlacement(c: TestCluster, queue: string): Promise<boolean> {
  const client = await c.client([...c.nodes.keys()][0]!);
  const info = await client.queue.info({ queue });
  return info.partitions.every((p) => {
    const leader = p.leader === null ? undefined : c.nodes.get(p.leader);
    const status = leader === undefined ? undefined : groupOf(leader, p.group)?.raft.status();
    return status !== undefined && status.role === "leader" && status.learners.length === 0 && [...status.voters].sort().join() === [...p.replicas].sort().join();
  });
}

async function eventually(probe: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await probe())) {
    if (performance.now() > deadline) {
      if (process.env.QDBG) {
        const info = await (await cluster!.client("n2")).queue.info({ queue: "moving" });
        for (const p of info.partitions) {
          const views = [...cluster!.nodes.entries()].map(([id, n]) => { const st = groupOf(n, p.group)?.raft.status(); return st ? `${id}:${st.role}[${st.voters}|${st.learners}]` : `${id}:-`; });
          console.log(p.group, "placed", p.replicas.join(","), "leader", p.leader, views.join("  "));
        }
      }
      throw new Error(`timed out waiting for: ${what}`);
    }
    await Bun.sleep(50);
  }
}

test("CLUSTER.ADD moves about 1/N of the replicas to the new member and CLUSTER.REMOVE moves everything off the removed one, losing nothing", async () => {
  cluster = await TestCluster.start(3);
  const client = await cluster.client("n2");
  await client.queue.create({ queue: "moving", partitions: 8 });
  const produced = new Set<string>();
  for (let i = 0; i < 80; i++) produced.add((await client.queue.produce({ queue: "moving", body: `a${i}` })).id);

  const joiner = cluster.addJoiner("n4", 3);
  await client.cluster.add({ id: "n4", address: `127.0.0.1:${joiner.listen.port}` });
  await eventually(async () => (await client.queue.info({ queue: "moving" })).partitions.some((p) => p.replicas.includes("n4")), 10_000, "placement takes in n4");
  const placed = (await client.queue.info({ queue: "moving" })).partitions;
  const onN4 = placed.filter((p) => p.replicas.includes("n4")).length;
  // 8 partitions × 3 replicas over 4 nodes: n4 gets its share (24/4 = 6), not everything.
  expect(onN4).toBeGreaterThanOrEqual(4);
  expect(onN4).toBeLessThanOrEqual(7);
  await eventually(() => membershipMatchesPlacement(cluster!, "moving"), 20_000, "groups' members match the placement after the add");
  await eventually(() => [...cluster!.nodes.values()].every((n) => hosted(n) === placed.filter((p) => p.replicas.includes(n.config.id)).length), 10_000, "moved-away replicas dropped");
  for (let i = 0; i < 40; i++) produced.add((await client.queue.produce({ queue: "moving", body: `b${i}` })).id);

  await client.cluster.remove({ id: "n1" });
  await eventually(async () => (await client.queue.info({ queue: "moving" })).partitions.every((p) => !p.replicas.includes("n1")), 10_000, "placement leaves n1");
  await eventually(() => membershipMatchesPlacement(cluster!, "moving"), 20_000, "groups' members match the placement after the remove");
  await eventually(() => hosted(cluster!.nodes.get("n1")!) === 0, 10_000, "n1 drops its replicas");
  await cluster.stopNode("n1");

  const n3 = await cluster.client("n3");
  const seen = new Set<string>();
  for (let round = 0; round < 100 && seen.size < produced.size; round++) {
    for (const d of await n3.queue.consume({ queue: "moving", max: 100, waitMs: 300 })) {
      seen.add(d.id);
      await n3.queue.ack({ queue: "moving", id: d.id });
    }
  }
  expect([...produced].filter((id) => !seen.has(id))).toEqual([]);
}, 90_000);

test("a partition that moves away and back again rejoins its old node empty, keeps every message, and survives a restart", async () => {
  cluster = await TestCluster.start(3);
  const client = await cluster.client("n1");
  await client.queue.create({ queue: "boomerang", partitions: 6 });
  const produced = new Set<string>();
  for (let i = 0; i < 60; i++) produced.add((await client.queue.produce({ queue: "boomerang", body: `m${i}` })).id);
  const before = (await client.queue.info({ queue: "boomerang" })).partitions.map((p) => p.replicas.join());

  const joiner = cluster.addJoiner("n4", 3);
  await client.cluster.add({ id: "n4", address: `127.0.0.1:${joiner.listen.port}` });
  await eventually(async () => (await client.queue.info({ queue: "boomerang" })).partitions.some((p) => p.replicas.includes("n4")), 10_000, "placement takes in n4");
  await eventually(() => membershipMatchesPlacement(cluster!, "boomerang"), 20_000, "moved to n4");
  for (let i = 0; i < 20; i++) produced.add((await client.queue.produce({ queue: "boomerang", body: `n${i}` })).id);

  // n4 leaves: the placement is the original one again, so replicas return to nodes that dropped them.
  await client.cluster.remove({ id: "n4" });
  expect((await client.queue.info({ queue: "boomerang" })).partitions.map((p) => p.replicas.join())).toEqual(before);
  await eventually(() => membershipMatchesPlacement(cluster!, "boomerang"), 20_000, "moved back");
  await cluster.stopNode("n4");
  for (const id of ["n1", "n2", "n3"]) await eventually(() => hosted(cluster!.nodes.get(id)!) === 6, 10_000, `${id} hosts all six again`);

  // A restart recovers the groups that were reset and refilled.
  await cluster.stopNode("n2");
  cluster.startNode("n2");
  await eventually(() => hosted(cluster!.nodes.get("n2")!) === 6, 10_000, "n2 hosts its partitions after restart");
  await cluster.stopNode("n3");
  const seen = new Set<string>();
  const n2 = await cluster.client("n2");
  for (let round = 0; round < 100 && seen.size < produced.size; round++) {
    for (const d of await n2.queue.consume({ queue: "boomerang", max: 100, waitMs: 300 })) {
      seen.add(d.id);
      await n2.queue.ack({ queue: "boomerang", id: d.id });
    }
  }
  expect([...produced].filter((id) => !seen.has(id))).toEqual([]);
}, 90_000);
