// Damaged storage: a node that lost records it had acknowledged must not vote or campaign until a
// leader of a later term has made its log match up to the damaged index (the Jepsen NATS 2.12.1
// lesson: one flipped bit on one node must not let a short log decide an election).

import { describe, expect, test } from "bun:test";
import { Harness, electionTicks, heartbeatTicks } from "./harness.ts";

function damagedCluster(): Harness {
  const h = new Harness(["a", "b", "c"]);
  h.elect("a");
  for (let i = 0; i < 3; i++) h.propose("a", `x${i}`);
  h.stabilize();
  h.tick("a");
  h.stabilize();
  // c loses its last two acknowledged entries (4 and 5) and restarts knowing it.
  const disk = h.node("c").disk;
  disk.entries = disk.entries.slice(0, -2);
  h.restart("c", { votingDisabledUntil: { index: 5, term: 2 } });
  return h;
}

describe("damaged storage", () => {
  test("restarts with voting disabled and a commit index cut back to what survived", () => {
    const h = damagedCluster();
    expect(h.raft("c").status()).toMatchObject({ votingDisabled: true, lastIndex: 3, commitIndex: 3 });
  });

  test("does not campaign and refuses pre-votes and votes", () => {
    const h = damagedCluster();
    h.isolate("a");
    h.raft("c").campaign();
    h.tick("c", electionTicks * 3);
    h.stabilize();
    expect(h.raft("c").status().role).toBe("follower");
    h.tick("b", electionTicks * 2);
    h.stabilize();
    const lines = h.take();
    expect(lines).toContain("c->b PreVoteResp t2 reject");
    expect(h.raft("b").status().role).not.toBe("leader");
  });

  test("still replicates, but repair by the same-term leader does not restore voting", () => {
    const h = damagedCluster();
    // The leader's next Append is rejected below what c acknowledged; the leader forgets c's
    // match and walks back to what c still holds.
    h.propose("a", "next");
    h.stabilize();
    h.tick("a", heartbeatTicks);
    h.stabilize();
    expect(h.raft("c").status()).toMatchObject({ lastIndex: 6, commitIndex: 6, votingDisabled: true });
  });

  test("a leader of a later term matching the damaged index restores voting, reported in one Ready", () => {
    const h = damagedCluster();
    h.raft("a").transferLeadership("b");
    h.stabilize();
    expect(h.raft("b").status()).toMatchObject({ role: "leader", term: 3 });
    for (let i = 0; i < 3; i++) {
      h.tick("b");
      h.stabilize();
    }
    expect(h.raft("c").status()).toMatchObject({ votingDisabled: false, lastIndex: 6 });
    expect(h.node("c").votingRestoredReadies).toBe(1);
    expect(h.node("c").disk.damage).toBeNull();
    // It votes again: with b cut off, c and a can elect a leader.
    h.isolate("b");
    h.tick("a", electionTicks * 2);
    h.tick("c", electionTicks * 2);
    h.stabilize();
    h.raft("c").campaign();
    h.stabilize();
    expect(h.raft("c").status().role).toBe("leader");
  });
});
