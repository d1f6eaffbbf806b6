// Replication: a deposed leader's uncommitted tail is overwritten (Raft paper §5.3, fig. 7), the
// reject hint skips a whole divergent term per round trip, and proposals batch into one Append.

import { describe, expect, test } from "bun:test";
import type { Message } from "../../../src/raft/index.ts";
import { Harness, heartbeatTicks } from "./harness.ts";

describe("replication", () => {
  test("conflicting log: the old leader's uncommitted entries are overwritten by the new leader's", () => {
    const h = new Harness(["a", "b", "c"], { checkQuorum: false });
    h.elect("a");
    h.isolate("a");
    h.propose("a", "lost-1");
    h.propose("a", "lost-2");
    h.stabilize();
    expect(h.logOf("a")).toBe("1@1 2@2 3@2 4@2");
    h.elect("b");
    h.propose("b", "kept");
    h.stabilize();
    expect(h.logOf("b")).toBe("1@1 2@2 3@3 4@3");
    h.heal();
    h.tick("b", heartbeatTicks);
    h.stabilize();
    expect(h.logOf("a")).toBe("1@1 2@2 3@3 4@3");
    expect(h.raft("a").status()).toMatchObject({ role: "follower", term: 3, leader: "b", commitIndex: 4 });
    expect(h.node("a").applied.map((e) => new TextDecoder().decode(e.data))).not.toContain("lost-1");
  });

  test("fast backtracking: one reject skips a whole divergent term (thesis §5.3)", () => {
    const h = new Harness(["a", "b", "c"], { checkQuorum: false });
    h.elect("a");
    h.isolate("a");
    for (let i = 0; i < 20; i++) h.propose("a", `stale-${i}`);
    h.stabilize();
    h.elect("b");
    for (let i = 0; i < 27; i++) h.propose("b", `b-${i}`);
    h.stabilize();
    h.elect("c");
    expect(h.logOf("a").split(" ").pop()).toBe("22@2");
    expect(h.raft("c").status().lastIndex).toBe(31);
    h.heal();
    h.tick("c", heartbeatTicks);
    h.stabilize();
    const toAndFromA = h.take().filter((l) => /^(c->a|a->c) (Append|AppendResp)/.test(l));
    expect(toAndFromA.slice(0, 4)).toEqual([
      "c->a Append t4 prev=30@3 entries=[31@4] commit=31",
      "a->c AppendResp t4 reject index=30 hint=22@2",
      "c->a Append t4 prev=2@2 entries=[3@3,4@3,5@3,6@3,7@3,8@3,9@3,10@3,11@3,12@3,13@3,14@3,15@3,16@3,17@3,18@3,19@3,20@3,21@3,22@3,23@3,24@3,25@3,26@3,27@3,28@3,29@3,30@3,31@4] commit=31",
      "a->c AppendResp t4 index=31",
    ]);
    expect(h.logOf("a")).toBe(h.logOf("c"));
  });

  test("batching: proposals made before one Ready leave in one Append per follower", () => {
    const h = new Harness(["a", "b", "c"]);
    h.elect("a");
    for (let i = 0; i < 5; i++) h.propose("a", `x${i}`);
    h.stabilize();
    const appends = h.take().filter((l) => l.startsWith("a->b Append"));
    expect(appends[0]).toBe("a->b Append t2 prev=2@2 entries=[3@2,4@2,5@2,6@2,7@2] commit=2");
  });

  test("pipelining: a replicating follower gets up to maxInflightMsgs appends before any answer", () => {
    const h = new Harness(["a", "b", "c"], { maxInflightMsgs: 3, maxEntriesBytesPerMsg: 1 });
    h.elect("a");
    for (let i = 0; i < 10; i++) h.propose("a", `x${i}`);
    h.flushReadies();
    h.stabilize((m) => m.type !== "AppendResp");
    const toB = h.take().filter((l) => l.startsWith("a->b Append"));
    expect(toB).toEqual([
      "a->b Append t2 prev=2@2 entries=[3@2] commit=2",
      "a->b Append t2 prev=3@2 entries=[4@2] commit=2",
      "a->b Append t2 prev=4@2 entries=[5@2] commit=2",
    ]);
    expect(h.raft("a").status().progress?.["b"]).toMatchObject({ state: "replicate", inflightMsgs: 3 });
  });

  test("commit counts only entries of the leader's own term (§5.4.2, figure 8)", () => {
    const h = new Harness(["a", "b", "c"], { checkQuorum: false, maxEntriesBytesPerMsg: 1 });
    h.elect("a");
    h.isolate("a");
    h.propose("a", "old-term");
    h.stabilize();
    h.heal();
    // a learns of term 3 (a failed election elsewhere), then wins term 4 with its longer log.
    h.raft("a").step({ type: "PreVoteResp", group: 0, from: "c", to: "a", term: 3, reject: true });
    // Deliver 3@2 everywhere but hold back any Append that would land the no-op 4@4.
    const isNoop = (m: Message): boolean =>
      m.type === "Append" && m.entries.some((e) => e.term === 4) && h.raft(m.to).logTerm(m.prevIndex) === m.prevTerm;
    h.raft("a").campaign();
    h.stabilize((m) => !isNoop(m));
    expect(h.raft("a").status()).toMatchObject({ role: "leader", term: 4, lastIndex: 4 });
    expect(h.logOf("b")).toBe("1@1 2@2 3@2");
    expect(h.raft("a").status().commitIndex).toBe(2);
    // Once a term-4 entry is on a majority, everything before it commits with it.
    h.tick("a", heartbeatTicks);
    h.stabilize();
    expect(h.raft("a").status().commitIndex).toBe(4);
    expect(h.raft("b").status().commitIndex).toBe(4);
  });
});

describe("reordering", () => {
  test("a stale reject at the follower's match (reordered) re-probes but keeps the match", () => {
    const h = new Harness(["a", "b", "c"]);
    h.elect("a");
    h.propose("a", "x");
    h.stabilize();
    expect(h.raft("a").status().progress?.["b"]).toMatchObject({ match: 3, state: "replicate" });
    // An answer to an Append with prevIndex 3 that reached b before entry 3 did.
    h.raft("a").step({ type: "AppendResp", group: 0, from: "b", to: "a", term: 2, reject: true, index: 3, hintIndex: 2, hintTerm: 2 });
    expect(h.raft("a").status().progress?.["b"]).toMatchObject({ match: 3, state: "probe", next: 4 });
    h.stabilize();
    expect(h.raft("a").status().progress?.["b"]).toMatchObject({ match: 3, state: "replicate" });
    // Below the match it is ignored outright.
    h.raft("a").step({ type: "AppendResp", group: 0, from: "b", to: "a", term: 2, reject: true, index: 2, hintIndex: 1, hintTerm: 1 });
    expect(h.raft("a").status().progress?.["b"]).toMatchObject({ match: 3, state: "replicate" });
  });

  test("when every in-flight Append is lost, a heartbeat answer re-sends", () => {
    const h = new Harness(["a", "b", "c"]);
    h.elect("a");
    h.propose("a", "lost");
    h.stabilize((m) => m.type !== "Append");
    expect(h.raft("b").status().lastIndex).toBe(2);
    h.tick("a");
    h.stabilize();
    expect(h.raft("b").status()).toMatchObject({ lastIndex: 3, commitIndex: 3 });
  });
});

describe("limits", () => {
  test("a leader refuses proposals beyond maxUncommittedBytes until the backlog commits", () => {
    const h = new Harness(["a", "b", "c"], { maxUncommittedBytes: 100 });
    h.elect("a");
    h.isolate("b");
    h.isolate("c");
    const results = [0, 1, 2, 3, 4].map((i) => h.raft("a").propose(new Uint8Array(20).fill(i)).ok);
    // 44 bytes each (20 + framing): two fit, the third would exceed 100.
    expect(results).toEqual([true, true, false, false, false]);
    h.heal();
    h.tick("a");
    h.stabilize();
    expect(h.raft("a").propose(new Uint8Array(20)).ok).toBe(true);
  });
});
