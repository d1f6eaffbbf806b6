// Peer identity: a connection that says HELLO {peer: id} becomes the target of that member's
// Raft traffic, so claiming a member's id needs the cluster secret, which members share and
// clients are not given (the client token is not enough: every client knows it). Found in review:
// a plain client claiming peer n2 received the leader's Raft messages meant for n2.
import { afterEach, expect, test } from "bun:test";
import { connect, type SinkronClient } from "../../src/client/index.ts";
import { TEST_CLUSTER_SECRET, TestCluster } from "../helpers/cluster.ts";

let cluster: TestCluster | null = null;
let impostor: SinkronClient | null = null;
afterEach(async () => {
  await impostor?.close();
  await cluster?.stop();
  cluster = impostor = null;
});

test("a client claiming a member's id without the cluster secret is refused and receives none of its Raft messages", async () => {
  cluster = await TestCluster.start(3);
  const leader = await cluster.waitForLeader();
  const victim = ["n1", "n2", "n3"].find((id) => id !== leader)!;
  for (const secret of [undefined, "guess"]) {
    const attempt = connect({ nodes: [cluster.address(leader)], nodeOrder: "in-order", peer: victim, secret, connectTimeoutMs: 1000, reconnect: false } as never);
    await expect(attempt).rejects.toMatchObject({ code: "UNAUTHORIZED" });
  }
  // The members themselves (which send the secret) still replicate.
  const client = await cluster.client(victim);
  await client.kv.set({ key: "still", value: "replicating" });
  expect((await client.kv.get({ key: "still" })).value).toBe("replicating");
});

test("with the cluster secret a connection may speak as a member (what the peer transport does)", async () => {
  cluster = await TestCluster.start(3);
  const leader = await cluster.waitForLeader();
  const victim = ["n1", "n2", "n3"].find((id) => id !== leader)!;
  impostor = await connect({ nodes: [cluster.address(leader)], nodeOrder: "in-order", peer: victim, secret: TEST_CLUSTER_SECRET } as never);
  let received = 0;
  impostor.onPush((push) => {
    if (push.kind === "RAFT.MSG") received += ((push.value as { msgs: unknown[] }).msgs ?? []).length;
  });
  await Bun.sleep(300);
  expect(received).toBeGreaterThan(0);
});
