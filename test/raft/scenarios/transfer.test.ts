// Leader transfer (thesis §3.10): the leader stops taking proposals, brings the target up to
// date, sends TimeoutNow; the target campaigns at once, past leader stickiness. Bounded by one
// election timeout.

import { describe, expect, test } from "bun:test";
import { Harness, electionTicks } from "./harness.ts";

describe("leader transfer", () => {
  test("to an up-to-date follower: TimeoutNow at once, target wins the next term", () => {
    const h = new Harness(["a", "b", "c"]);
    h.elect("a");
    expect(h.raft("a").transferLeadership("b")).toEqual({ ok: true });
    h.stabilize();
    const lines = h.take();
    expect(lines[0]).toBe("a->b TimeoutNow t2");
    expect(lines).toContain("b->a Vote t3 last=2@2");
    expect(h.raft("b").status()).toMatchObject({ role: "leader", term: 3 });
    expect(h.raft("a").status()).toMatchObject({ role: "follower", leader: "b" });
  });

  test("to a lagging follower: catch up first, refuse proposals meanwhile", () => {
    const h = new Harness(["a", "b", "c"]);
    h.elect("a");
    h.isolate("b");
    for (let i = 0; i < 5; i++) h.propose("a", `x${i}`);
    h.stabilize();
    expect(h.raft("a").transferLeadership("b")).toEqual({ ok: true });
    expect(h.raft("a").propose(new Uint8Array([1]))).toMatchObject({ ok: false, code: "UNAVAILABLE" });
    h.heal();
    h.tick("a");
    h.stabilize();
    const lines = h.take();
    const appendAt = lines.findIndex((l) => l.startsWith("b->a AppendResp t2 index=7"));
    const timeoutAt = lines.indexOf("a->b TimeoutNow t2");
    expect(appendAt).toBeGreaterThanOrEqual(0);
    expect(timeoutAt).toBeGreaterThan(appendAt);
    expect(h.raft("b").status()).toMatchObject({ role: "leader", term: 3, commitIndex: 8 });
  });

  test("a transfer that cannot finish is abandoned after an election timeout", () => {
    const h = new Harness(["a", "b", "c"]);
    h.elect("a");
    h.isolate("b");
    h.raft("a").transferLeadership("b");
    expect(h.raft("a").status().leadTransferee).toBe("b");
    for (let i = 0; i < electionTicks; i++) {
      h.tick("a");
      h.tick("c");
      h.stabilize();
    }
    expect(h.raft("a").status()).toMatchObject({ role: "leader", leadTransferee: null });
    expect(h.raft("a").propose(new Uint8Array([1]))).toMatchObject({ ok: true });
  });

  test("refusals: not leader, not a voter", () => {
    const h = new Harness(["a", "b", "c"]);
    h.elect("a");
    expect(h.raft("b").transferLeadership("c")).toEqual({ ok: false, code: "NOT_LEADER", leader: "a" });
    expect(h.raft("a").transferLeadership("zz")).toMatchObject({ ok: false, code: "CONFLICT" });
    expect(h.raft("a").transferLeadership("a")).toEqual({ ok: true });
  });
});
