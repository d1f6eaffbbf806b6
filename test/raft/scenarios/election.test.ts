// Elections: the basic exchange, pre-vote stopping a returning partitioned node from inflating
// terms (thesis §9.6), check-quorum step-down and leader stickiness (thesis §6.2, §4.2.3).

import { describe, expect, test } from "bun:test";
import { Harness, electionTicks } from "./harness.ts";

describe("election", () => {
  test("basic election: pre-vote round, vote round, no-op commits everywhere", () => {
    const h = new Harness(["a", "b", "c"]);
    h.raft("a").campaign();
    h.stabilize();
    expect(h.take()).toEqual([
      "a->b PreVote t2 last=1@1",
      "a->c PreVote t2 last=1@1",
      "b->a PreVoteResp t2",
      "c->a PreVoteResp t2",
      "a->b Vote t2 last=1@1",
      "a->c Vote t2 last=1@1",
      "b->a VoteResp t2",
      "c->a VoteResp t2",
      "a->b Append t2 prev=1@1 entries=[2@2] commit=1",
      "a->c Append t2 prev=1@1 entries=[2@2] commit=1",
      "b->a AppendResp t2 index=2",
      "c->a AppendResp t2 index=2",
      "a->b Append t2 prev=2@2 entries=[] commit=2",
      "a->c Append t2 prev=2@2 entries=[] commit=2",
      "b->a AppendResp t2 index=2",
      "c->a AppendResp t2 index=2",
    ]);
    for (const id of ["a", "b", "c"]) {
      const s = h.raft(id).status();
      expect([s.role, s.term, s.leader, s.commitIndex]).toEqual([id === "a" ? "leader" : "follower", 2, "a", 2]);
    }
  });

  test("a candidate with a stale log loses: the election restriction (§5.4.1)", () => {
    const h = new Harness(["a", "b", "c"]);
    h.elect("a");
    h.isolate("c");
    h.propose("a", "x");
    h.stabilize();
    h.heal();
    h.raft("c").campaign();
    h.stabilize();
    // b is in a's lease, so it does not even answer; a is the leader and ignores it too.
    expect(h.raft("c").status().role).toBe("pre-candidate");
    h.tickAll(electionTicks * 3);
    expect(h.raft("a").status().role).toBe("leader");
  });

  test("pre-vote: a node returning from a partition does not inflate terms or depose the leader", () => {
    const h = new Harness(["a", "b", "c"]);
    h.elect("a");
    h.isolate("c");
    for (let i = 0; i < electionTicks * 10; i++) {
      h.tick("c");
      h.tick("a");
      h.tick("b");
      h.stabilize();
    }
    const lines = h.take();
    expect(lines.filter((l) => l.startsWith("c->a PreVote")).length).toBeGreaterThan(2);
    expect(lines.filter((l) => l.includes(" Vote ") && l.startsWith("c->")).length).toBe(0);
    expect(h.raft("c").status().term).toBe(2);
    h.heal();
    h.tickAll(electionTicks * 3);
    expect(h.raft("a").status()).toMatchObject({ role: "leader", term: 2 });
    expect(h.raft("c").status()).toMatchObject({ role: "follower", term: 2, leader: "a" });
  });

  test("without pre-vote the same returning node inflates its term and forces an election", () => {
    const h = new Harness(["a", "b", "c"], { preVote: false, checkQuorum: false });
    h.elect("a");
    h.isolate("c");
    h.tick("c", electionTicks * 2);
    h.stabilize();
    expect(h.raft("c").status().term).toBeGreaterThan(2);
    h.heal();
    h.propose("a", "x");
    h.stabilize();
    // c ignores the lower-term leader, times out, and its higher-term Vote deposes a.
    h.tickAll(electionTicks * 2);
    expect(h.raft("a").status().term).toBeGreaterThan(2);
  });

  test("check-quorum: a leader cut off from the majority steps down within two election timeouts", () => {
    const h = new Harness(["a", "b", "c"]);
    h.elect("a");
    h.isolate("a");
    // Activity is checked once per election timeout; the first check still sees the election's answers.
    for (let i = 0; i < electionTicks; i++) {
      h.tick("a");
      h.stabilize();
    }
    expect(h.raft("a").status().role).toBe("leader");
    for (let i = 0; i < electionTicks; i++) {
      h.tick("a");
      h.stabilize();
    }
    expect(h.raft("a").status()).toMatchObject({ role: "follower", leader: null, term: 2 });
    expect(h.raft("a").propose(new Uint8Array([1]))).toEqual({ ok: false, code: "NOT_LEADER", leader: null });
  });

  test("leader stickiness: a follower ignores a vote request while it hears from a live leader", () => {
    const h = new Harness(["a", "b", "c"]);
    h.elect("a");
    h.raft("b").step({ type: "Vote", group: 0, from: "c", to: "b", term: 5, lastIndex: 9, lastTerm: 4, transfer: false });
    h.flushReadies();
    expect(h.raft("b").status()).toMatchObject({ term: 2, leader: "a", vote: "a" });
    expect(h.take()).toEqual([]);
    // After an election timeout of silence from the leader the same request is granted.
    h.isolate("a");
    h.tick("b", electionTicks);
    h.raft("b").step({ type: "Vote", group: 0, from: "c", to: "b", term: 5, lastIndex: 9, lastTerm: 4, transfer: false });
    h.stabilize();
    expect(h.raft("b").status()).toMatchObject({ term: 5, vote: "c" });
  });

  test("a split vote ends: randomized timeouts elect exactly one leader", () => {
    const h = new Harness(["a", "b", "c", "d", "e"]);
    h.tickAll(electionTicks * 4);
    const leaders = ["a", "b", "c", "d", "e"].filter((id) => h.raft(id).status().role === "leader");
    expect(leaders.length).toBe(1);
  });
});
