// InstallSnapshot sends the whole state machine as one Raft message in one frame; before peer
// connections got their own frame limit, a state above 16 MiB could never reach a lagging follower.
import { afterEach, expect, test } from "bun:test";
import { TestCluster } from "../../helpers/cluster.ts";

let cluster: TestCluster | null = null;
afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

test("a follower that needs a snapshot larger than the frame limit still catches up", async () => {
  cluster = await TestCluster.start(3, { snapshotEntries: 8, fsync: false });
  const leader = await cluster.waitForLeader();
  const follower = ["n1", "n2", "n3"].find((id) => id !== leader)!;
  await cluster.stopNode(follower);
  const client = await cluster.client(leader);
  const value = new Uint8Array(1_000_000).fill(7); // under VALUE_BYTES_MAX (1 MiB)
  for (let i = 0; i < 20; i++) await client.kv.set({ key: `big-${i}`, value }); // ~20 MB of state
  const leaderNode = cluster.nodes.get(leader)!;
  expect((leaderNode.status().raft as { snapshotsTaken: number }).snapshotsTaken).toBeGreaterThan(0);
  const target = leaderNode.status().commitIndex;

  cluster.startNode(follower);
  const deadline = performance.now() + 6000;
  while (performance.now() < deadline && cluster.nodes.get(follower)!.status().appliedIndex < target) await Bun.sleep(100);
  const transport = leaderNode.status().transport as { batchesFailed: number };
  console.log("follower applied", cluster.nodes.get(follower)!.status().appliedIndex, "of", target, "; leader's failed RAFT.MSG batches:", transport.batchesFailed);
  expect(cluster.nodes.get(follower)!.status().appliedIndex).toBeGreaterThanOrEqual(target);
}, 30_000);
