// ReadIndex (thesis §6.4): the leader records its commit index, confirms it is still leader with
// one heartbeat round acknowledged by a majority, then releases the read; no log write happens.

import { describe, expect, test } from "bun:test";
import { Harness, electionTicks } from "./harness.ts";

describe("read index", () => {
  test("a read is released after a majority acknowledges one heartbeat round", () => {
    const h = new Harness(["a", "b", "c"]);
    h.elect("a");
    h.propose("a", "x");
    h.stabilize();
    h.take();
    expect(h.raft("a").readIndex(42)).toEqual({ ok: true });
    h.stabilize();
    expect(h.take()).toEqual([
      "a->b Heartbeat t2 commit=3 ctx=1",
      "a->c Heartbeat t2 commit=3 ctx=1",
      "b->a HeartbeatResp t2 ctx=1",
      "c->a HeartbeatResp t2 ctx=1",
    ]);
    expect(h.node("a").readStates).toEqual([{ ctx: 42, index: 3 }]);
    expect(h.raft("a").status().lastIndex).toBe(3);
  });

  test("reads asked together share one heartbeat round; one answering follower is enough", () => {
    const h = new Harness(["a", "b", "c"]);
    h.elect("a");
    h.isolate("c");
    h.raft("a").readIndex(1);
    h.raft("a").readIndex(2);
    h.stabilize();
    expect(h.take().filter((l) => !l.endsWith("(dropped)"))).toEqual([
      "a->b Heartbeat t2 commit=2 ctx=2",
      "b->a HeartbeatResp t2 ctx=2",
    ]);
    expect(h.node("a").readStates).toEqual([
      { ctx: 1, index: 2 },
      { ctx: 2, index: 2 },
    ]);
  });

  test("a new leader defers reads until its no-op commits", () => {
    const h = new Harness(["a", "b", "c"]);
    h.raft("a").campaign();
    h.stabilize((m) => m.type !== "Append");
    expect(h.raft("a").status()).toMatchObject({ role: "leader", commitIndex: 1 });
    h.raft("a").readIndex(7);
    h.stabilize((m) => m.type !== "Append");
    expect(h.node("a").readStates).toEqual([]);
    h.tick("a");
    h.stabilize();
    expect(h.node("a").readStates).toEqual([{ ctx: 7, index: 2 }]);
  });

  test("a leader cut off from the majority never answers; followers refuse with the leader's id", () => {
    const h = new Harness(["a", "b", "c"]);
    h.elect("a");
    expect(h.raft("b").readIndex(1)).toEqual({ ok: false, code: "NOT_LEADER", leader: "a" });
    h.isolate("a");
    h.raft("a").readIndex(9);
    for (let i = 0; i < electionTicks * 2; i++) {
      h.tick("a");
      h.stabilize();
    }
    expect(h.node("a").readStates).toEqual([]);
    expect(h.raft("a").status().role).toBe("follower");
    expect(h.raft("a").readIndex(10)).toEqual({ ok: false, code: "NOT_LEADER", leader: null });
  });

  test("a single-voter cluster answers at once", () => {
    const h = new Harness(["a"]);
    h.elect("a");
    h.raft("a").readIndex(5);
    h.flushReadies();
    expect(h.node("a").readStates).toEqual([{ ctx: 5, index: 2 }]);
  });
});
