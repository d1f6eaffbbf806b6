// Snapshots: the host compacts the log at its applied index; a follower behind the compaction
// point receives the whole snapshot (InstallSnapshot, Raft paper §7) and continues from it.

import { describe, expect, test } from "bun:test";
import { Harness, heartbeatTicks } from "./harness.ts";

const text = (data: Uint8Array): string => new TextDecoder().decode(data);

describe("snapshots", () => {
  test("compaction drops applied entries and returns what storage must keep", () => {
    const h = new Harness(["a", "b", "c"]);
    h.elect("a");
    for (let i = 0; i < 5; i++) h.propose("a", `x${i}`);
    h.stabilize();
    const snapshot = h.raft("a").compact(5, new TextEncoder().encode("fsm@5"));
    expect(snapshot).toMatchObject({ index: 5, term: 2, config: { voters: ["a", "b", "c"], learners: [] } });
    expect(h.raft("a").status()).toMatchObject({ firstIndex: 6, snapshotIndex: 5, lastIndex: 7 });
    expect(h.raft("a").compact(4, new Uint8Array())).toBeNull();
    expect(() => h.raft("a").compact(99, new Uint8Array())).toThrow();
  });

  test("a follower behind the compaction point installs the snapshot, then catches up", () => {
    const h = new Harness(["a", "b", "c"]);
    h.elect("a");
    h.isolate("c");
    for (let i = 0; i < 10; i++) h.propose("a", `x${i}`);
    h.stabilize();
    const snapshot = h.raft("a").compact(12, new TextEncoder().encode("fsm@12"));
    h.node("a").disk.compact(snapshot!);
    h.propose("a", "after");
    h.stabilize();
    h.take();
    h.heal();
    h.tick("a", heartbeatTicks);
    h.stabilize();
    const lines = h.take().filter((l) => l.includes("a->c") || l.includes("c->a"));
    expect(lines).toContain("a->c Snapshot t2 snapshot=12@2");
    expect(lines).toContain("c->a AppendResp t2 index=12");
    const c = h.node("c");
    expect(c.disk.snapshot).toMatchObject({ index: 12, term: 2 });
    expect(text(c.disk.snapshot!.data)).toBe("fsm@12");
    expect(h.logOf("c")).toBe("13@2");
    expect(c.applied.map((e) => text(e.data))).toEqual(["after"]);
    expect(h.raft("c").status()).toMatchObject({ commitIndex: 13, appliedIndex: 13, snapshotIndex: 12 });
  });

  test("a lost snapshot is sent again after an election timeout", () => {
    const h = new Harness(["a", "b", "c"]);
    h.elect("a");
    h.isolate("c");
    for (let i = 0; i < 3; i++) h.propose("a", `x${i}`);
    h.stabilize();
    h.raft("a").compact(5, new Uint8Array([5]));
    h.heal();
    h.tick("a");
    h.stabilize((m) => m.type !== "Snapshot");
    expect(h.raft("a").status().progress?.["c"]?.state).toBe("snapshot");
    for (let i = 0; i < 12; i++) {
      h.tick("a");
      h.stabilize();
    }
    expect(h.raft("c").status().snapshotIndex).toBe(5);
    expect(h.raft("a").status().progress?.["c"]?.state).toBe("replicate");
  });

  test("a restarted node resumes from its snapshot and log", () => {
    const h = new Harness(["a", "b", "c"]);
    h.elect("a");
    for (let i = 0; i < 4; i++) h.propose("a", `x${i}`);
    h.stabilize();
    const snapshot = h.raft("b").compact(4, new Uint8Array([4]));
    h.node("b").disk.compact(snapshot!);
    h.restart("b");
    h.flushReadies();
    expect(h.raft("b").status()).toMatchObject({ snapshotIndex: 4, lastIndex: 6, commitIndex: 6, appliedIndex: 6 });
    expect(h.node("b").applied.map((e) => e.index)).toEqual([5, 6]);
  });
});
