// RaftHost lifecycle: what it keeps after startup, and what happens to work after stop().
import { expect, test } from "bun:test";
import { openWal } from "../../../src/storage/index.ts";
import { makeFsm, makeHost, runReady, tempDir } from "./helpers.ts";

test("createGroup hands the recovered entries to the core and keeps no reference (they pin WAL segment buffers)", () => {
  const dir = tempDir("recovered");
  {
    const { wal } = openWal({ dir, fsync: false });
    wal.appendEntries(0, Array.from({ length: 100 }, (_, i) => ({ index: i + 1, term: 1, type: "normal" as const, data: new Uint8Array(1000) })));
    wal.setHardState(0, { term: 1, vote: null, commit: 100 });
    wal.sync();
    wal.close();
  }
  const host = makeHost(dir);
  host.open();
  host.createGroup(0, ["n1", "n2", "n3"], makeFsm().fsm);
  const retained = (host as unknown as { recovered: Map<number, { entries: unknown[] }> }).recovered.get(0)?.entries.length ?? 0;
  expect(retained).toBe(0); // fails: RaftHost.recovered holds all 100 entries (views into the segment) forever
});

test("a proposal made after stop() is refused, not left pending forever", async () => {
  const host = makeHost(tempDir("stop"));
  host.open();
  const group = host.createGroup(0, ["n1"], makeFsm().fsm);
  group.raft.campaign();
  for (let i = 0; i < 10 && !group.isLeader; i++) await runReady(host);
  expect(group.isLeader).toBe(true);
  await host.stop();
  // What LeaderRouter.run does for a request still in flight when the node stops (group.isLeader stays true).
  const outcome = await Promise.race([
    group.propose({ op: "kv.set", args: { key: "k", value: 1 }, rid: null }).then(() => "resolved", (e) => `rejected ${e.code}`),
    Bun.sleep(300).then(() => "still pending"),
  ]);
  expect(outcome).toBe("rejected UNAVAILABLE");
});
