// Restart with a snapshot store and a WAL that disagree about the compaction point.
import { expect, test } from "bun:test";
import * as fs from "node:fs";
import path from "node:path";
import { openSnapshotStore, openWal } from "../../../src/storage/index.ts";
import { encodeValue } from "../../../src/protocol/msgpack.ts";
import { makeFsm, makeHost, runReady, tempDir } from "./helpers.ts";

const config = { voters: ["n1", "n2", "n3"], learners: [] };
const entry = (index: number, term: number) => ({ index, term, type: "normal" as const, data: encodeValue(["kv.set", { key: `k${index}`, value: index }, null]) });

test("kill -9 between saving a received snapshot and the WAL sync: the node restarts and runs", async () => {
  const dir = tempDir("snap-ahead");
  // Before: the follower's WAL holds 1..3, commit 3.
  {
    const { wal } = openWal({ dir, fsync: false });
    wal.appendEntries(0, [entry(1, 1), entry(2, 1), entry(3, 1)]);
    wal.setHardState(0, { term: 2, vote: null, commit: 3 });
    wal.sync();
    wal.close();
  }
  // RaftHost.persist() for a Ready carrying a leader's snapshot at 10: snapshots.save() is durable,
  // wal.markCompacted()/setHardState() are only buffered — the process is killed before wal.sync().
  const { fsm: donor } = makeFsm();
  openSnapshotStore({ dir, fsync: false }).save(0, { index: 10, term: 2, config }, encodeValue(donor.snapshot()));

  const fatal: unknown[] = [];
  const host = makeHost(dir, "n1", [], 1_000_000, (error) => fatal.push(error));
  host.open();
  host.createGroup(0, ["n1", "n2", "n3"], makeFsm().fsm);
  // The first ready loop after restart persists hardState.commit = 10 over a WAL whose last index is 3.
  await runReady(host);
  expect(fatal).toEqual([]);
});

test("newest snapshot damaged (older one loaded, below the compaction point): the node refuses to start and says how to rebuild it", () => {
  const dir = tempDir("snap-behind");
  const { fsm } = makeFsm();
  const snaps = openSnapshotStore({ dir, fsync: false });
  {
    const { wal } = openWal({ dir, fsync: false });
    wal.appendEntries(0, Array.from({ length: 20 }, (_, i) => entry(i + 1, 1)));
    wal.setHardState(0, { term: 1, vote: null, commit: 20 });
    wal.sync();
    snaps.save(0, { index: 5, term: 1, config }, encodeValue(fsm.snapshot()));
    snaps.save(0, { index: 15, term: 1, config }, encodeValue(fsm.snapshot()));
    wal.markCompacted(0, 15, 1);
    wal.sync();
    wal.close();
  }
  // A bit flip in the newest snapshot file: loadLatest() logs it and returns the one at 5.
  const groupDir = path.join(dir, "snapshots", "0");
  const newest = fs.readdirSync(groupDir).filter((f) => f.endsWith(".snap")).sort().at(-1)!;
  const bytes = fs.readFileSync(path.join(groupDir, newest));
  bytes[bytes.length - 1]! ^= 0xff;
  fs.writeFileSync(path.join(groupDir, newest), bytes);

  const host = makeHost(dir);
  host.open();
  // The prefix up to the compaction point is gone on this node: it refuses to start, saying how to
  // rebuild it from its peers, rather than serve a state machine with a hole in it.
  expect(() => host.createGroup(0, ["n1", "n2", "n3"], makeFsm().fsm)).toThrow(/older than the log's compaction point \(15\).*--join/);
});
