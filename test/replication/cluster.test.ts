// A 3-node cluster in one process: one leader everyone agrees on, writes and linearizable
// reads through any node (followers forward), leader transfer, restart recovery, membership
// changes one server at a time, catch-up by snapshot, and dedup of retried writes.
import { afterEach, expect, test } from "bun:test";
import { SinkronError } from "../../src/client/index.ts";
import { TEST_CLUSTER_SECRET, TestCluster } from "../helpers/cluster.ts";

let cluster: TestCluster | null = null;
afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

test("one leader; writes and reads through every node; followers forward to the leader", async () => {
  cluster = await TestCluster.start(3);
  const leader = await cluster.waitForLeader();
  for (const id of ["n1", "n2", "n3"]) {
    const client = await cluster.client(id);
    const { revision } = await client.kv.set({ key: `k-${id}`, value: { from: id } });
    expect(revision).toBeGreaterThan(0);
    for (const reader of ["n1", "n2", "n3"]) {
      const other = await cluster.client(reader);
      expect(await other.kv.get({ key: `k-${id}` })).toEqual({ value: { from: id }, revision });
    }
  }
  const status = await (await cluster.client("n2")).status();
  expect(status.leader).toBe(leader);
  expect(status.members.map((m) => m.id).sort()).toEqual(["n1", "n2", "n3"]);
  const client = await cluster.client("n3");
  await expect(client.kv.get({ key: "missing" })).rejects.toMatchObject({ code: "NOT_FOUND" });
  expect(await client.kv.del({ key: "k-n1" })).toEqual({ deleted: true });
  expect(await client.kv.del({ key: "k-n1" })).toEqual({ deleted: false });
  await expect(client.kv.get({ key: "k-n1" })).rejects.toMatchObject({ code: "NOT_FOUND" });
});

test("every replica applies the same writes in the same order", async () => {
  cluster = await TestCluster.start(3);
  const clients = await Promise.all(["n1", "n2", "n3"].map((id) => cluster!.client(id)));
  await Promise.all(Array.from({ length: 300 }, (_, i) => clients[i % 3]!.kv.set({ key: `k${i % 7}`, value: i })));
  const leader = cluster.nodes.get(cluster.leaderId()!)!;
  const commit = leader.status().commitIndex;
  await cluster.waitFor(() => [...cluster!.nodes.values()].every((n) => n.status().appliedIndex >= commit), 5000, "all replicas applied");
  const reads = await Promise.all(["n1", "n2", "n3"].map(async (id) => {
    const c = await cluster!.client(id);
    return Promise.all(Array.from({ length: 7 }, (_, k) => c.kv.get({ key: `k${k}` })));
  }));
  expect(reads[1]).toEqual(reads[0]!);
  expect(reads[2]).toEqual(reads[0]!);
});

test("a retried write with the same rid is applied once", async () => {
  cluster = await TestCluster.start(3);
  const client = await cluster.client("n1");
  const first = await client.call("KV.SET", { key: "counter", value: 1, rid: "client-a:1" });
  await client.kv.set({ key: "counter", value: 2 });
  const retry = await client.call("KV.SET", { key: "counter", value: 1, rid: "client-a:1" });
  expect(retry).toEqual(first);
  expect((await client.kv.get({ key: "counter" })).value).toBe(2);
  // The same rid for a different request is refused, not answered with the first one's result.
  await expect(client.call("KV.SET", { key: "counter", value: 99, rid: "client-a:1" })).rejects.toMatchObject({ code: "CONFLICT" });
  expect((await client.kv.get({ key: "counter" })).value).toBe(2);
});

test("leadership transfer moves the leader and writes keep working", async () => {
  cluster = await TestCluster.start(3);
  const leader = await cluster.waitForLeader();
  const target = ["n1", "n2", "n3"].find((id) => id !== leader)!;
  const client = await cluster.client(leader === "n1" ? "n2" : "n1");
  expect(await client.cluster.transfer({ to: target })).toEqual({ leader: target });
  expect(await cluster.waitForLeader()).toBe(target);
  await client.kv.set({ key: "after-transfer", value: true });
  expect((await client.kv.get({ key: "after-transfer" })).value).toBe(true);
  await expect(client.cluster.transfer({ to: "nobody" })).rejects.toBeInstanceOf(SinkronError);
});

test("a stopped follower restarts from its data directory and catches up", async () => {
  cluster = await TestCluster.start(3);
  const leader = await cluster.waitForLeader();
  const follower = ["n1", "n2", "n3"].find((id) => id !== leader)!;
  const client = await cluster.client(leader);
  for (let i = 0; i < 50; i++) await client.kv.set({ key: `before-${i}`, value: i });
  await cluster.stopNode(follower);
  for (let i = 0; i < 50; i++) await client.kv.set({ key: `during-${i}`, value: i });
  cluster.startNode(follower);
  const commit = cluster.nodes.get(leader)!.status().commitIndex;
  await cluster.waitFor(() => cluster!.nodes.get(follower)!.status().appliedIndex >= commit, 5000, "the follower to catch up");
  const reader = await cluster.client(follower);
  expect((await reader.kv.get({ key: "before-49" })).value).toBe(49);
  expect((await reader.kv.get({ key: "during-49" })).value).toBe(49);
});

test("the whole cluster restarts with every acknowledged write", async () => {
  cluster = await TestCluster.start(3);
  const client = await cluster.client("n1");
  const revisions = new Map<string, number>();
  for (let i = 0; i < 40; i++) revisions.set(`k${i}`, (await client.kv.set({ key: `k${i}`, value: `v${i}` })).revision);
  for (const id of ["n1", "n2", "n3"]) await cluster.stopNode(id);
  for (const id of ["n1", "n2", "n3"]) cluster.startNode(id);
  await cluster.waitForLeader();
  const reader = await cluster.client("n2");
  for (const [key, revision] of revisions) expect(await reader.kv.get({ key })).toEqual({ value: `v${key.slice(1)}`, revision });
});

test("a new member joins as a learner, catches up by snapshot, becomes a voter, and can be removed", async () => {
  cluster = await TestCluster.start(3, { snapshotEntries: 40 });
  const client = await cluster.client("n1");
  for (let i = 0; i < 150; i++) await client.kv.set({ key: `k${i}`, value: i });
  const joiner = cluster.addJoiner("n4", 3);
  const { members } = await client.cluster.add({ id: "n4", address: `127.0.0.1:${joiner.listen.port}` });
  expect(members.map((m) => [m.id, m.role]).sort()).toEqual([["n1", "voter"], ["n2", "voter"], ["n3", "voter"], ["n4", "voter"]]);
  const n4 = await cluster.client("n4");
  expect((await n4.kv.get({ key: "k149" })).value).toBe(149);
  expect(cluster.nodes.get("n4")!.status().raft).toMatchObject({ snapshotsInstalled: 1 });
  // Adding again is idempotent; the same id with another address is a conflict.
  expect((await client.cluster.add({ id: "n4", address: `127.0.0.1:${joiner.listen.port}` })).members).toHaveLength(4);
  await expect(client.cluster.add({ id: "n4", address: "127.0.0.1:1" })).rejects.toMatchObject({ code: "CONFLICT" });
  // Remove it again; the remaining three keep serving.
  const after = await client.cluster.remove({ id: "n4" });
  expect(after.members.map((m) => m.id).sort()).toEqual(["n1", "n2", "n3"]);
  await expect(client.cluster.remove({ id: "n4" })).rejects.toMatchObject({ code: "NOT_FOUND" });
  await client.kv.set({ key: "after-remove", value: 1 });
}, 30_000);

test("RAFT.MSG is refused on a client connection and malformed batches are refused whole", async () => {
  cluster = await TestCluster.start(1);
  const client = await cluster.client("n1");
  await expect(client.call("RAFT.MSG", { from: "n9", msgs: [] })).rejects.toMatchObject({ code: "UNAUTHORIZED" });
  const { connect } = await import("../../src/client/index.ts");
  await expect(connect({ nodes: [cluster.address("n1")], peer: "n9", secret: TEST_CLUSTER_SECRET }).then((c) => c.call("RAFT.MSG", { from: "n9", msgs: [] }))).rejects.toMatchObject({ code: "UNAUTHORIZED" });
  const peer = await connect({ nodes: [cluster.address("n1")], peer: "n1", secret: TEST_CLUSTER_SECRET });
  await expect(peer.call("RAFT.MSG", { from: "n8", msgs: [] })).rejects.toMatchObject({ code: "BAD_REQUEST" });
  await expect(peer.call("RAFT.MSG", { from: "n1", msgs: [{ type: "Vote", group: 0, from: "n1", to: "n1", term: -1 }] })).rejects.toMatchObject({ code: "BAD_REQUEST" });
  await expect(peer.call("RAFT.MSG", { from: "n1", msgs: [{ type: "Bogus", group: 0, from: "n1", to: "n1", term: 1 }] })).rejects.toMatchObject({ code: "BAD_REQUEST" });
  await expect(peer.call("RAFT.MSG", { from: "n1", msgs: [{ type: "Append", group: 0, from: "n1", to: "n1", term: 1, prevIndex: 0, prevTerm: 0, commit: 0, entries: [{ index: 5, term: 1, type: "normal", data: new Uint8Array(1) }] }] })).rejects.toMatchObject({ code: "BAD_REQUEST" });
  await peer.close();
  // The node is unharmed.
  await client.kv.set({ key: "still", value: "fine" });
  expect((await client.kv.get({ key: "still" })).value).toBe("fine");
});

test("bad KV arguments are refused and change nothing", async () => {
  cluster = await TestCluster.start(1);
  const client = await cluster.client("n1");
  await cluster.settled();
  const before = cluster.nodes.get("n1")!.status().commitIndex;
  const cases: [Record<string, unknown>, string][] = [
    [{}, "BAD_REQUEST"],
    [{ key: "" }, "BAD_REQUEST"],
    [{ key: "x".repeat(1025), value: 1 }, "BAD_REQUEST"],
    [{ key: 5, value: 1 }, "BAD_REQUEST"],
    [{ key: "k" }, "BAD_REQUEST"],
    [{ key: "k", value: "x".repeat(1024 * 1024 + 1) }, "TOO_LARGE"],
    [{ key: "k", value: 1, extra: true }, "BAD_REQUEST"],
  ];
  for (const [args, code] of cases) await expect(client.call("KV.SET", args)).rejects.toMatchObject({ code });
  await expect(client.call("KV.GET", { key: 1 })).rejects.toMatchObject({ code: "BAD_REQUEST" });
  expect(cluster.nodes.get("n1")!.status().commitIndex).toBe(before);
});

test("GROUP.PROPOSE: refused for clients, NOT_LEADER on a follower, applied on the leader", async () => {
  cluster = await TestCluster.start(3);
  const leader = await cluster.waitForLeader();
  const follower = ["n1", "n2", "n3"].find((id) => id !== leader)!;
  const { connect } = await import("../../src/client/index.ts");
  const client = await cluster.client(leader);
  const args = { group: 0, op: "kv.set", args: { key: "p", value: 7 }, rid: "t:1" };
  await expect(client.call("GROUP.PROPOSE", args)).rejects.toMatchObject({ code: "UNAUTHORIZED" });
  const toFollower = await connect({ nodes: [cluster.address(follower)], peer: leader, secret: TEST_CLUSTER_SECRET });
  await expect(toFollower.call("GROUP.PROPOSE", args)).rejects.toMatchObject({ code: "NOT_LEADER" });
  const toLeader = await connect({ nodes: [cluster.address(leader)], peer: follower, secret: TEST_CLUSTER_SECRET });
  const result = (await toLeader.call("GROUP.PROPOSE", args)) as { revision: number };
  expect(result.revision).toBeGreaterThan(0);
  expect(await toLeader.call("GROUP.PROPOSE", args)).toEqual(result); // same rid: applied once
  await expect(toLeader.call("GROUP.PROPOSE", { ...args, group: 9 })).rejects.toMatchObject({ code: "NOT_FOUND" });
  expect((await client.kv.get({ key: "p" })).value).toBe(7);
  await Promise.all([toFollower.close(), toLeader.close()]);
});
