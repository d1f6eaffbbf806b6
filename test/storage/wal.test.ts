// The live WAL: every record kind survives a reopen, overwrites and compaction follow Raft's
// rules, segments rotate and are deleted only when nothing in them is still needed, and broken
// invariants are refused before anything is written.

import { describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import { openWal } from "../../src/storage/index.ts";
import { StorageAssertionError } from "../../src/storage/assert.ts";
import { parseRecord } from "../../src/storage/record.ts";
import { Twin, captureLogger, describeModel, describeRecovered, makeEntries, segmentFiles, tempDirsPerTest } from "./helpers.ts";

const freshDir = tempDirsPerTest("wal");

/** Open, close, and return what was recovered. */
function recoveredOf(dir: string, segmentBytesMax?: number) {
  const { wal, recovered } = reopen(dir, segmentBytesMax);
  wal.close();
  return recovered;
}

function reopen(dir: string, segmentBytesMax?: number) {
  const logger = captureLogger();
  const opened = openWal(segmentBytesMax === undefined ? { dir, logger } : { dir, segmentBytesMax, logger });
  return { ...opened, logger };
}

describe("round trip", () => {
  test("every record kind across many groups survives close and reopen", () => {
    const dir = freshDir();
    const twin = new Twin(reopen(dir).wal);
    for (let round = 1; round <= 5; round++) {
      for (let group = 0; group < 40; group++) {
        const start = twin.model.group(group).lastIndex + 1;
        twin.append(group, start, 1 + ((group + round) % 7), round);
        twin.hardState(group, { term: round, vote: group % 2 === 0 ? `node-${group % 3}` : null, commit: start });
        if (round === 3 && group % 4 === 0) twin.compact(group, start, round);
      }
      twin.wal.sync();
    }
    // Group commit: each tick's appends for all 40 groups shared one write and one fdatasync.
    expect(twin.wal.stats().syncs).toBe(5);
    twin.wal.close();
    const { recovered, report } = reopen(dir);
    expect(describeRecovered(recovered)).toEqual(describeModel(twin.model));
    expect(report.tornTail).toBeUndefined();
    expect(report.damage).toBeUndefined();
    expect(report.findings).toEqual([]);
  });

  test("a fresh directory opens empty and the reopened WAL continues where it stopped", () => {
    const dir = freshDir();
    const first = reopen(dir);
    expect(first.recovered.size).toBe(0);
    const twin = new Twin(first.wal);
    twin.append(7, 1, 3, 1);
    twin.wal.close();
    const second = reopen(dir);
    const twin2 = new Twin(second.wal, twin.model);
    twin2.append(7, 4, 2, 2);
    twin2.wal.close();
    expect(describeRecovered(recoveredOf(dir))).toEqual(describeModel(twin.model));
  });

  test("entry data of every size, including empty and larger than a record target, round-trips", () => {
    const dir = freshDir();
    const twin = new Twin(reopen(dir).wal);
    twin.append(1, 1, 1, 1, 0);
    twin.append(1, 2, 3, 1, 700 * 1024); // 2.1 MB batch: split into several records
    twin.append(1, 5, 1, 2, 5);
    twin.wal.close();
    expect(describeRecovered(recoveredOf(dir))).toEqual(describeModel(twin.model));
  });

  test("close syncs what is buffered", () => {
    const dir = freshDir();
    const twin = new Twin(reopen(dir).wal);
    twin.append(0, 1, 5, 1);
    expect(twin.wal.pendingBytes).toBeGreaterThan(0);
    twin.wal.close();
    expect(describeRecovered(recoveredOf(dir))).toEqual(describeModel(twin.model));
  });

  test("sync with nothing buffered does no I/O; stats count what was written", () => {
    const dir = freshDir();
    const { wal } = reopen(dir);
    wal.sync();
    expect(wal.stats().syncs).toBe(0);
    wal.appendEntries(3, makeEntries(3, 1, 64, 1, 100));
    wal.setHardState(3, { term: 1, vote: "a", commit: 0 });
    const pendingBytes = wal.pendingBytes;
    wal.sync();
    const stats = wal.stats();
    expect(stats.syncs).toBe(1);
    expect(stats.entriesWritten).toBe(64);
    expect(stats.recordsWritten).toBe(2);
    expect(stats.bytesWritten).toBe(pendingBytes);
    expect(stats.pendingBytes).toBe(0);
    expect(stats.syncMsTotal).toBeGreaterThan(0);
    expect(stats.fsync).toBe(true);
    expect(stats.durability).toBe("fsync");
    expect(stats.bytes).toBe(fs.statSync(segmentFiles(dir)[0]!).size);
    wal.close();
  });
});

describe("Raft log rules", () => {
  test("appending at or below the last index replaces the suffix (Raft §5.3)", () => {
    const dir = freshDir();
    const twin = new Twin(reopen(dir).wal);
    twin.append(1, 1, 10, 1);
    twin.wal.sync();
    twin.append(1, 6, 3, 2); // 6..8 at term 2 replaces 6..10 at term 1
    twin.wal.sync();
    twin.append(1, 9, 1, 3);
    twin.append(1, 8, 2, 3); // overwrite inside one sync
    twin.wal.close();
    const { recovered, wal } = reopen(dir);
    expect(describeRecovered(recovered)).toEqual(describeModel(twin.model));
    expect(recovered.get(1)!.entries.map((e) => `${e.index}@${e.term}`)).toEqual(
      ["1@1", "2@1", "3@1", "4@1", "5@1", "6@2", "7@2", "8@3", "9@3"],
    );
    expect(wal.group(1)).toMatchObject({ lastIndex: 9, lastTerm: 3 });
    wal.close();
  });

  test("compaction keeps the suffix only when the log has the compacted entry (Raft §7)", () => {
    const dir = freshDir();
    const twin = new Twin(reopen(dir).wal);
    twin.append(1, 1, 10, 2);
    twin.compact(1, 4, 2); // matching term: 5..10 stay
    twin.append(2, 1, 10, 2);
    twin.compact(2, 4, 3); // a snapshot from another history: the whole log goes
    twin.append(3, 1, 3, 1);
    twin.compact(3, 50, 4); // a snapshot beyond the log (InstallSnapshot to a lagging follower)
    twin.append(3, 51, 2, 4);
    twin.wal.close();
    const { recovered, wal } = reopen(dir);
    expect(describeRecovered(recovered)).toEqual(describeModel(twin.model));
    expect(recovered.get(1)!.entries.map((e) => e.index)).toEqual([5, 6, 7, 8, 9, 10]);
    expect(recovered.get(2)!.entries).toEqual([]);
    expect(recovered.get(3)).toMatchObject({ compactedIndex: 50, compactedTerm: 4 });
    expect(wal.group(2)).toMatchObject({ compactedIndex: 4, lastIndex: 4, lastTerm: 3 });
    wal.close();
  });

  test("hard state: the latest one wins, unchanged ones write nothing", () => {
    const dir = freshDir();
    const twin = new Twin(reopen(dir).wal);
    twin.hardState(0, { term: 1, vote: null, commit: 0 });
    twin.hardState(0, { term: 1, vote: "n1", commit: 0 });
    twin.wal.sync();
    const recordsBefore = twin.wal.stats().recordsWritten;
    twin.hardState(0, { term: 1, vote: "n1", commit: 0 });
    twin.wal.sync();
    expect(twin.wal.stats().recordsWritten).toBe(recordsBefore);
    twin.hardState(0, { term: 5, vote: "n2", commit: 0 });
    twin.hardState(0, { term: 6, vote: null, commit: 0 });
    twin.wal.close();
    expect(recoveredOf(dir).get(0)!.hardState).toEqual({ term: 6, vote: null, commit: 0 });
  });

  test("hard states are written after the tick's other records, so a torn batch never keeps a commit without its entries", () => {
    const dir = freshDir();
    const { wal } = reopen(dir);
    wal.setHardState(1, { term: 2, vote: null, commit: 3 });
    wal.appendEntries(1, makeEntries(1, 1, 4, 2));
    wal.markCompacted(1, 1, 2);
    wal.sync();
    wal.close();
    const bytes = new Uint8Array(fs.readFileSync(segmentFiles(dir)[0]!));
    const kinds: string[] = [];
    for (let offset = 0; offset < bytes.length; ) {
      const parsed = parseRecord(bytes, offset);
      if (parsed.status !== "ok") throw new Error(`unreadable at ${offset}`);
      kinds.push(parsed.record.kind);
      offset = parsed.endOffset;
    }
    expect(kinds).toEqual(["checkpoint", "entries", "compacted", "hardState"]);
  });

  test("a commit beyond the log at sync is a bug: nothing is written and the WAL stops", () => {
    const dir = freshDir();
    const { wal } = reopen(dir);
    wal.appendEntries(1, makeEntries(1, 1, 2, 1));
    wal.sync();
    wal.setHardState(1, { term: 2, vote: null, commit: 9 });
    wal.appendEntries(1, makeEntries(1, 3, 2, 2));
    expect(() => wal.sync()).toThrow(StorageAssertionError);
    expect(() => wal.appendEntries(1, makeEntries(1, 5, 1, 2))).toThrow(/failed earlier/);
    wal.close();
    const { recovered } = reopen(dir);
    expect(recovered.get(1)!.entries.map((e) => e.index)).toEqual([1, 2]);
    expect(recovered.get(1)!.hardState.commit).toBe(0);
  });

  test("broken invariants are refused before anything is buffered", () => {
    const dir = freshDir();
    const { wal } = reopen(dir);
    wal.appendEntries(1, makeEntries(1, 1, 5, 2));
    wal.setHardState(1, { term: 3, vote: "a", commit: 2 });
    wal.markCompacted(1, 2, 2);
    wal.sync();
    const refused: Array<[string, () => void]> = [
      ["empty batch", () => wal.appendEntries(1, [])],
      ["gap after last", () => wal.appendEntries(1, makeEntries(1, 7, 1, 2))],
      ["into compacted prefix", () => wal.appendEntries(1, makeEntries(1, 2, 1, 2))],
      ["not contiguous", () => wal.appendEntries(1, [...makeEntries(1, 6, 1, 2), ...makeEntries(1, 8, 1, 2)])],
      ["term goes back in batch", () => wal.appendEntries(1, [...makeEntries(1, 6, 1, 3), ...makeEntries(1, 7, 1, 2)])],
      ["term below predecessor", () => wal.appendEntries(1, makeEntries(1, 6, 1, 1))],
      ["term 0", () => wal.appendEntries(1, makeEntries(1, 6, 1, 0))],
      ["fractional index", () => wal.appendEntries(1, [{ index: 6.5, term: 2, type: "normal", data: new Uint8Array() }])],
      ["bad group id", () => wal.appendEntries(-1, makeEntries(1, 1, 1, 1))],
      ["term goes back", () => wal.setHardState(1, { term: 2, vote: null, commit: 2 })],
      ["second vote in a term", () => wal.setHardState(1, { term: 3, vote: "b", commit: 2 })],
      ["commit goes back", () => wal.setHardState(1, { term: 3, vote: "a", commit: 1 })],
      ["compaction goes back", () => wal.markCompacted(1, 1, 2)],
      ["same point, other term", () => wal.markCompacted(1, 2, 7)],
    ];
    for (const [label, call] of refused) {
      expect(call, label).toThrow(StorageAssertionError);
    }
    expect(wal.pendingBytes).toBe(0);
    expect(wal.groupIds()).toEqual([1]);
    wal.appendEntries(1, makeEntries(1, 6, 1, 2));
    wal.close();
    expect(() => wal.sync()).toThrow(StorageAssertionError);
    expect(recoveredOf(dir).get(1)!.entries.map((e) => e.index)).toEqual([3, 4, 5, 6]);
  });
});

describe("segments", () => {
  test("rotate at segmentBytesMax, each starting with a checkpoint", () => {
    const dir = freshDir();
    const segmentBytesMax = 8 * 1024;
    const twin = new Twin(reopen(dir, segmentBytesMax).wal);
    for (let i = 0; i < 60; i++) {
      for (let group = 0; group < 3; group++) twin.append(group, i * 4 + 1, 4, 1, 100);
      twin.wal.sync();
    }
    const batchBytesMax = 3 * (8 + 9 + 4 * 121);
    const files = segmentFiles(dir);
    expect(files.length).toBe(twin.wal.stats().segments);
    expect(files.length).toBeGreaterThanOrEqual(8);
    for (const file of files) {
      const bytes = new Uint8Array(fs.readFileSync(file));
      expect(bytes.length).toBeLessThan(segmentBytesMax + batchBytesMax + 200);
      const first = parseRecord(bytes, 0);
      expect(first.status === "ok" && first.record.kind).toBe("checkpoint");
    }
    for (const file of files.slice(0, -1)) expect(fs.statSync(file).size).toBeGreaterThanOrEqual(segmentBytesMax);
    twin.wal.close();
    expect(describeRecovered(recoveredOf(dir, segmentBytesMax))).toEqual(describeModel(twin.model));
  });

  test("a segment is deleted once every group has compacted past its entries", () => {
    const dir = freshDir();
    const segmentBytesMax = 4 * 1024;
    const twin = new Twin(reopen(dir, segmentBytesMax).wal);
    let last = 0;
    for (let i = 0; i < 40; i++) {
      twin.append(1, last + 1, 5, 1, 100);
      twin.append(2, last + 1, 5, 1, 100);
      last += 5;
      twin.wal.sync();
    }
    const segmentsBefore = twin.wal.stats().segments;
    expect(segmentsBefore).toBeGreaterThan(5);
    twin.compact(1, last - 10, 1); // group 2 still needs everything
    twin.wal.sync();
    expect(twin.wal.stats().segmentsDeleted).toBe(0);
    twin.compact(2, last - 10, 1);
    twin.wal.sync();
    const stats = twin.wal.stats();
    expect(stats.segments).toBeLessThanOrEqual(2);
    expect(stats.segmentsDeleted).toBe(1 + stats.segmentsCreated - stats.segments);
    expect(segmentFiles(dir).length).toBe(stats.segments);
    twin.wal.close();
    const { recovered, report } = reopen(dir, segmentBytesMax);
    expect(report.findings).toEqual([]);
    expect(describeRecovered(recovered)).toEqual(describeModel(twin.model));
    expect(recovered.get(1)!.entries.map((e) => e.index)).toEqual([191, 192, 193, 194, 195, 196, 197, 198, 199, 200]);
  });

  test("compaction that passes a deleted segment's entries later leaves no hole on replay", () => {
    // Segment N's checkpoint says the log reaches L; entries ≤ L live in deleted segments and are
    // only covered by a compaction record written after that checkpoint.
    const dir = freshDir();
    const segmentBytesMax = 4 * 1024;
    const twin = new Twin(reopen(dir, segmentBytesMax).wal);
    for (let i = 0; i < 30; i++) {
      twin.append(1, i * 5 + 1, 5, 1, 100);
      twin.wal.sync();
    }
    twin.compact(1, 148, 1);
    twin.wal.sync();
    expect(twin.wal.stats().segments).toBe(1);
    twin.wal.close();
    const { recovered, report } = reopen(dir, segmentBytesMax);
    expect(report.findings).toEqual([]);
    expect(describeRecovered(recovered)).toEqual(describeModel(twin.model));
  });

  test("an overwritten suffix does not keep its old segment alive", () => {
    const dir = freshDir();
    const segmentBytesMax = 4 * 1024;
    const twin = new Twin(reopen(dir, segmentBytesMax).wal);
    twin.append(1, 1, 100, 1, 100); // one big segment
    twin.wal.sync();
    twin.append(1, 21, 5, 2, 100); // 26..100 at term 1 are gone
    twin.wal.sync();
    twin.append(1, 26, 30, 2, 100);
    twin.wal.sync();
    twin.compact(1, 40, 2);
    twin.wal.sync();
    expect(twin.wal.stats().segments).toBe(2);
    twin.wal.close();
    expect(describeRecovered(recoveredOf(dir, segmentBytesMax))).toEqual(describeModel(twin.model));
  });

  test("hard states survive the deletion of the segment that wrote them (checkpoints)", () => {
    const dir = freshDir();
    const segmentBytesMax = 4 * 1024;
    const twin = new Twin(reopen(dir, segmentBytesMax).wal);
    twin.hardState(5, { term: 9, vote: "n3", commit: 0 });
    twin.append(6, 1, 2, 1);
    twin.compact(6, 2, 1); // group 6 lives on only as a compaction point
    twin.wal.sync();
    for (let i = 0; i < 30; i++) {
      twin.append(1, i * 5 + 1, 5, 1, 100);
      twin.hardState(1, { term: 1, vote: "n1", commit: i * 5 });
      twin.wal.sync();
      twin.compact(1, i * 5 + 5, 1);
    }
    twin.wal.sync();
    const firstSegment = segmentFiles(dir)[0]!;
    expect(firstSegment.endsWith("00000000000000000001.log")).toBe(false);
    twin.wal.close();
    const { recovered } = reopen(dir, segmentBytesMax);
    expect(recovered.get(5)!.hardState).toEqual({ term: 9, vote: "n3", commit: 0 });
    expect(recovered.get(6)).toMatchObject({ compactedIndex: 2, compactedTerm: 1, entries: [] });
    expect(describeRecovered(recovered)).toEqual(describeModel(twin.model));
  });

  test("a segment with live entries of one group is kept however far others compact", () => {
    const dir = freshDir();
    const segmentBytesMax = 4 * 1024;
    const twin = new Twin(reopen(dir, segmentBytesMax).wal);
    twin.append(9, 1, 1, 1); // never compacted
    for (let i = 0; i < 30; i++) {
      twin.append(1, i * 5 + 1, 5, 1, 100);
      twin.wal.sync();
      twin.compact(1, i * 5 + 5, 1);
    }
    twin.wal.sync();
    expect(segmentFiles(dir)[0]!.endsWith("00000000000000000001.log")).toBe(true);
    twin.wal.close();
    expect(describeRecovered(recoveredOf(dir, segmentBytesMax))).toEqual(describeModel(twin.model));
  });
});

describe("modes", () => {
  test("fsync:false is reported in stats and logged loudly", () => {
    const dir = freshDir();
    const logger = captureLogger();
    const { wal } = openWal({ dir, fsync: false, logger });
    wal.appendEntries(1, makeEntries(1, 1, 3, 1));
    wal.sync();
    expect(wal.stats()).toMatchObject({ fsync: false, durability: "UNSAFE-no-fsync", syncs: 1 });
    expect(wal.isFsyncEnabled).toBe(false);
    expect(logger.lines.some((line) => line.level === "warn" && /fsync is DISABLED/.test(line.message))).toBe(true);
    wal.close();
  });

  test("segmentBytesMax below the minimum is refused", () => {
    expect(() => openWal({ dir: freshDir(), segmentBytesMax: 100, logger: captureLogger() })).toThrow(StorageAssertionError);
  });
});
