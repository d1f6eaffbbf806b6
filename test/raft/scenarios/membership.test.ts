// Membership, one server at a time (thesis §4.1), effective when appended: a learner joins and
// catches up without voting, is promoted, and a removed leader steps down once its removal commits.

import { describe, expect, test } from "bun:test";
import { decodeConfigEntry } from "../../../src/raft/index.ts";
import { Harness, electionTicks } from "./harness.ts";

describe("membership", () => {
  test("add a learner: it receives the log, never campaigns, and does not count for commit", () => {
    const h = new Harness(["a", "b", "c"]);
    h.elect("a");
    h.add("d");
    const added = h.raft("a").proposeConfChange({ type: "addLearner", node: "d" });
    expect(added).toEqual({ ok: true, index: 3, term: 2 });
    expect(h.raft("a").status().learners).toEqual(["d"]);
    h.stabilize();
    expect(h.raft("d").status()).toMatchObject({ role: "learner", commitIndex: 3, voters: ["a", "b", "c"], learners: ["d"] });
    const applied = h.node("d").applied.filter((e) => e.type === "config").map((e) => decodeConfigEntry(e.data).change);
    expect(applied).toEqual([null, { type: "addLearner", node: "d" }]);
    h.raft("d").campaign();
    h.tick("d", electionTicks * 3);
    h.stabilize();
    expect(h.raft("d").status().role).toBe("learner");
    // With b and c cut off, a and the learner are not a quorum.
    h.isolate("b");
    h.isolate("c");
    const { index } = h.propose("a", "needs-a-voter");
    h.stabilize();
    expect(h.raft("d").status().lastIndex).toBe(index);
    expect(h.raft("a").status().commitIndex).toBe(index - 1);
  });

  test("one change at a time, and none before the leader committed in its term", () => {
    const h = new Harness(["a", "b", "c"]);
    h.raft("a").campaign();
    h.stabilize((m) => m.type !== "AppendResp");
    expect(h.raft("a").proposeConfChange({ type: "addLearner", node: "d" })).toMatchObject({ ok: false, code: "UNAVAILABLE" });
    h.tick("a");
    h.stabilize();
    h.isolate("b");
    h.isolate("c");
    expect(h.raft("a").proposeConfChange({ type: "addLearner", node: "d" })).toMatchObject({ ok: true });
    expect(h.raft("a").proposeConfChange({ type: "addLearner", node: "e" })).toMatchObject({ ok: false, code: "CONFLICT" });
    expect(h.raft("b").proposeConfChange({ type: "addLearner", node: "e" })).toEqual({ ok: false, code: "NOT_LEADER", leader: "a" });
    h.heal();
    h.stabilize();
    h.tick("a");
    h.stabilize();
    expect(h.raft("a").proposeConfChange({ type: "addLearner", node: "d" })).toMatchObject({ ok: false, code: "CONFLICT" });
    expect(h.raft("a").proposeConfChange({ type: "promote", node: "b" })).toMatchObject({ ok: false, code: "CONFLICT" });
    expect(h.raft("a").proposeConfChange({ type: "remove", node: "zz" })).toMatchObject({ ok: false, code: "CONFLICT" });
  });

  test("promote a caught-up learner; it then votes and counts", () => {
    const h = new Harness(["a", "b", "c"]);
    h.elect("a");
    h.add("d");
    h.raft("a").proposeConfChange({ type: "addLearner", node: "d" });
    h.stabilize();
    h.tick("a");
    h.stabilize();
    expect(h.raft("a").proposeConfChange({ type: "promote", node: "d" })).toMatchObject({ ok: true, index: 4 });
    h.stabilize();
    h.tick("a");
    h.stabilize();
    expect(h.raft("d").status()).toMatchObject({ role: "follower", voters: ["a", "b", "c", "d"], learners: [], commitIndex: 4 });
    // Four voters: a needs two others now.
    h.isolate("b");
    h.isolate("c");
    const { index } = h.propose("a", "x");
    h.stabilize();
    expect(h.raft("a").status().commitIndex).toBe(index - 1);
  });

  test("a promotion is refused while the learner lags", () => {
    const h = new Harness(["a", "b", "c"]);
    h.elect("a");
    h.raft("a").proposeConfChange({ type: "addLearner", node: "d" });
    h.stabilize();
    expect(h.raft("a").proposeConfChange({ type: "promote", node: "d" })).toMatchObject({ ok: false, code: "UNAVAILABLE" });
  });

  test("remove the leader: it leads until the removal commits, then hands over with TimeoutNow", () => {
    const h = new Harness(["a", "b", "c"]);
    h.elect("a");
    expect(h.raft("a").proposeConfChange({ type: "remove", node: "a" })).toMatchObject({ ok: true, index: 3 });
    expect(h.raft("a").status()).toMatchObject({ role: "leader", voters: ["b", "c"] });
    h.stabilize();
    const lines = h.take();
    expect(lines.some((l) => /^a->[bc] TimeoutNow t2$/.test(l))).toBe(true);
    expect(h.raft("a").status()).toMatchObject({ role: "follower", leader: null, voters: ["b", "c"] });
    const leaders = ["b", "c"].filter((id) => h.raft(id).status().role === "leader");
    expect(leaders.length).toBe(1);
    expect(h.raft(leaders[0]!).status().term).toBe(3);
    // The removed node never campaigns again.
    h.tick("a", electionTicks * 4);
    h.stabilize();
    expect(h.raft("a").status().role).toBe("follower");
  });

  test("a leader that crashed with its own uncommitted removal can still be elected to finish it (§4.2.2)", () => {
    const h = new Harness(["a", "b"], { checkQuorum: false });
    h.elect("a");
    h.raft("a").proposeConfChange({ type: "remove", node: "a" });
    h.stabilize((m) => m.type !== "Append" || m.entries.length === 0);
    const a = h.restart("a");
    expect(a.raft.status()).toMatchObject({ voters: ["b"], commitIndex: 2, lastIndex: 3 });
    // b's log lacks the removal, so b cannot win (a refuses); a campaigns under {b}.
    h.raft("b").campaign();
    h.stabilize();
    expect(h.raft("b").status().role).not.toBe("leader");
    h.raft("a").campaign();
    h.stabilize();
    h.tickAll(electionTicks * 3);
    expect(h.raft("b").status()).toMatchObject({ role: "leader", voters: ["b"] });
    expect(h.raft("a").status().role).toBe("follower");
  });

  test("remove a follower, then re-add it as a learner with its old disk", () => {
    const h = new Harness(["a", "b", "c"]);
    h.elect("a");
    h.raft("a").proposeConfChange({ type: "remove", node: "c" });
    h.stabilize();
    h.tick("a");
    h.stabilize();
    // The leader stops replicating to c as soon as it appends the removal, so c never learns of
    // it; pre-vote and leader stickiness keep its campaigns harmless (thesis §4.2.3).
    expect(h.raft("a").status().voters).toEqual(["a", "b"]);
    expect(h.raft("c").status()).toMatchObject({ voters: ["a", "b", "c"], lastIndex: 2 });
    h.propose("a", "while-away");
    h.stabilize();
    h.tick("c", electionTicks * 3);
    h.stabilize();
    expect(h.raft("a").status()).toMatchObject({ role: "leader", term: 2 });
    expect(h.raft("a").proposeConfChange({ type: "addLearner", node: "c" })).toMatchObject({ ok: true });
    h.stabilize();
    h.tick("a");
    h.stabilize();
    expect(h.raft("c").status()).toMatchObject({ role: "learner", lastIndex: 5, commitIndex: 5 });
  });
});
