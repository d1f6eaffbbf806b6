// A leader may send its Appends before it persists the Ready that holds them (thesis §10.2.1):
// isSendableBeforePersist says which messages may, and the core must still count the leader
// toward a commit only once `advance` reported its entries persisted.

import { describe, expect, test } from "bun:test";
import { isSendableBeforePersist, RaftNode, type Message, type NodeId, type Ready } from "../../../src/raft/index.ts";

const ids: NodeId[] = ["a", "b", "c"];

function makeNodes(): Map<NodeId, RaftNode> {
  const nodes = new Map<NodeId, RaftNode>();
  for (const id of ids) {
    nodes.set(id, new RaftNode({ id, group: 0, voters: ids, electionTicks: 10, heartbeatTicks: 2, random: () => 0 }));
  }
  return nodes;
}

/** Drains every node's Ready (persist = advance), delivering messages until quiet. */
function settle(nodes: Map<NodeId, RaftNode>): void {
  for (let round = 0; round < 100; round++) {
    const outbox: Message[] = [];
    for (const node of nodes.values()) {
      if (!node.hasReady()) continue;
      const rd = node.ready();
      outbox.push(...rd.messages);
      node.advance(rd);
    }
    if (outbox.length === 0) return;
    for (const m of outbox) nodes.get(m.to)!.step(m);
  }
  throw new Error("did not settle");
}

function leaderCluster(): Map<NodeId, RaftNode> {
  const nodes = makeNodes();
  nodes.get("a")!.campaign();
  settle(nodes);
  expect(nodes.get("a")!.status().role).toBe("leader");
  return nodes;
}

describe("sending before persisting", () => {
  test("a leader's Appends of a proposal may leave early; its Ready changes no term or vote", () => {
    const nodes = leaderCluster();
    const a = nodes.get("a")!;
    a.propose(new TextEncoder().encode("x"));
    const rd = a.ready();
    expect(rd.isTermOrVoteChanged).toBeUndefined();
    const appends = rd.messages.filter((m) => m.type === "Append");
    expect(appends.map((m) => m.to).sort()).toEqual(["b", "c"]);
    for (const m of rd.messages) expect(isSendableBeforePersist(rd, m)).toBe(true);
    a.advance(rd);
  });

  test("the leader does not count itself before advance: one follower's ack does not commit", () => {
    const nodes = leaderCluster();
    const a = nodes.get("a")!;
    const b = nodes.get("b")!;
    const { index } = a.propose(new TextEncoder().encode("x")) as { index: number };
    const rd = a.ready();
    // Sent early; b persists and acknowledges while a has not yet persisted.
    for (const m of rd.messages) if (m.to === "b") b.step(m);
    const bReady = b.ready();
    b.advance(bReady);
    for (const m of bReady.messages) a.step(m);
    expect(a.status().commitIndex).toBeLessThan(index);
    // a's own write completes: now a majority (a, b) holds the entry.
    a.advance(rd);
    expect(a.status().commitIndex).toBe(index);
  });

  test("a candidate's Ready (new term and vote) sends nothing early", () => {
    const nodes = makeNodes();
    const a = nodes.get("a")!;
    a.campaign();
    // The pre-vote round (pre-vote is on by default) changes no vote; its answers make a candidate.
    let rd: Ready = a.ready();
    a.advance(rd);
    for (const m of rd.messages) nodes.get(m.to)!.step(m);
    for (const id of ["b", "c"]) {
      const answer = nodes.get(id)!.ready();
      nodes.get(id)!.advance(answer);
      for (const m of answer.messages) a.step(m);
    }
    rd = a.ready();
    expect(rd.hardState).toMatchObject({ vote: "a" });
    expect(rd.messages.some((m) => m.type === "Vote")).toBe(true);
    expect(rd.isTermOrVoteChanged).toBe(true);
    expect(rd.messages.length).toBeGreaterThan(0);
    for (const m of rd.messages) expect(isSendableBeforePersist(rd, m)).toBe(false);
    a.advance(rd);
    // The voter's answer acknowledges its durable vote: never early either.
    const b = nodes.get("b")!;
    for (const m of rd.messages) if (m.to === "b") b.step(m);
    rd = b.ready();
    const voteResp = rd.messages.find((m) => m.type === "VoteResp");
    expect(voteResp).toBeDefined();
    expect(isSendableBeforePersist(rd, voteResp!)).toBe(false);
  });

  test("a follower's AppendResp waits for its write; a commit-only hard state is no term or vote change", () => {
    const nodes = leaderCluster();
    const a = nodes.get("a")!;
    const b = nodes.get("b")!;
    a.propose(new TextEncoder().encode("x"));
    const rd = a.ready();
    for (const m of rd.messages) if (m.to === "b") b.step(m);
    a.advance(rd);
    const bReady = b.ready();
    const resp = bReady.messages.find((m) => m.type === "AppendResp");
    expect(resp).toBeDefined();
    expect(isSendableBeforePersist(bReady, resp!)).toBe(false);
    b.advance(bReady);
    for (const m of bReady.messages) a.step(m);
    const commitReady = a.ready();
    expect(commitReady.hardState?.commit).toBeGreaterThan(0);
    expect(commitReady.isTermOrVoteChanged).toBeUndefined();
    a.advance(commitReady);
  });
});
