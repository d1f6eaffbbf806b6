// Resetting one group: its log starts over empty (term and vote kept, commit 0) and that survives
// reopen, rotation, checkpoints and segment deletion; a reset that never became durable leaves the
// old log; the old log's entries neither keep segments alive nor read as damage once reset.

import { describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { StorageAssertionError } from "../../src/storage/assert.ts";
import { ByteWriter } from "../../src/storage/bytes.ts";
import { encodeCheckpoint, encodeEntries, encodeGroupReset, encodeHardState, parseRecord, type WalRecord } from "../../src/storage/record.ts";
import {
  Model,
  Twin,
  copyDir,
  describeModel,
  describeRecovered,
  makeEntries,
  openCapturing,
  seededRandom,
  segmentFiles,
  tempDirsPerTest,
  testSeed,
} from "./helpers.ts";

const freshDir = tempDirsPerTest("reset");

const open = openCapturing;

function readRecords(file: string): Array<{ start: number; end: number; record: WalRecord }> {
  const bytes = new Uint8Array(fs.readFileSync(file));
  const records: Array<{ start: number; end: number; record: WalRecord }> = [];
  for (let offset = 0; offset < bytes.length; ) {
    const parsed = parseRecord(bytes, offset);
    if (parsed.status !== "ok") throw new Error(`unreadable at ${file}:${offset}`);
    records.push({ start: offset, end: parsed.endOffset, record: parsed.record });
    offset = parsed.endOffset;
  }
  return records;
}

function writeSegment(dir: string, seq: number, fill: (writer: ByteWriter) => void): void {
  fs.mkdirSync(path.join(dir, "wal"), { recursive: true });
  const writer = new ByteWriter();
  fill(writer);
  fs.writeFileSync(path.join(dir, "wal", `${String(seq).padStart(20, "0")}.log`), writer.bytes());
}

describe("reset round trip", () => {
  test("entries 1..50, reset, entries 1..10: the new log is recovered, term and vote kept, no damage", () => {
    const dir = freshDir();
    const twin = new Twin(open(dir).wal);
    twin.append(1, 1, 50, 2);
    twin.hardState(1, { term: 3, vote: "n2", commit: 40 });
    twin.append(2, 1, 5, 1);
    twin.wal.sync();
    twin.reset(1);
    expect(twin.wal.group(1)).toEqual({
      hardState: { term: 3, vote: "n2", commit: 0 },
      compactedIndex: 0,
      compactedTerm: 0,
      lastIndex: 0,
      lastTerm: 0,
      damage: null,
    });
    // The kept term and vote still bind: no second vote in term 3, no going back.
    expect(() => twin.wal.setHardState(1, { term: 3, vote: "n3", commit: 0 })).toThrow(StorageAssertionError);
    expect(() => twin.wal.setHardState(1, { term: 2, vote: null, commit: 0 })).toThrow(StorageAssertionError);
    expect(() => twin.wal.appendEntries(1, makeEntries(1, 2, 1, 3))).toThrow(StorageAssertionError);
    twin.append(1, 1, 10, 4);
    twin.hardState(1, { term: 4, vote: null, commit: 6 });
    twin.wal.close();

    const { recovered, report, wal } = open(dir);
    expect(describeRecovered(recovered)).toEqual(describeModel(twin.model));
    expect(recovered.get(1)!.entries.map((e) => `${e.index}@${e.term}`)).toEqual(makeEntries(1, 1, 10, 4).map((e) => `${e.index}@4`));
    expect(recovered.get(1)!.hardState).toEqual({ term: 4, vote: null, commit: 6 });
    expect(report.findings).toEqual([]);
    expect(report.damage).toBeUndefined();
    expect(report.tornTail).toBeUndefined();
    expect(wal.group(1)).toMatchObject({ lastIndex: 10, lastTerm: 4, compactedIndex: 0 });
    wal.close();
  });

  test("a reset group with nothing after it recovers empty with term and vote, commit 0", () => {
    const dir = freshDir();
    const twin = new Twin(open(dir).wal);
    twin.append(1, 1, 20, 2);
    twin.compact(1, 5, 2);
    twin.hardState(1, { term: 7, vote: "n1", commit: 15 });
    twin.wal.sync();
    twin.reset(1);
    twin.wal.close();
    const { recovered, report, wal } = open(dir);
    expect(recovered.get(1)).toEqual({ hardState: { term: 7, vote: "n1", commit: 0 }, compactedIndex: 0, compactedTerm: 0, entries: [], damage: null });
    expect(report.findings).toEqual([]);
    // The group starts again from index 1, as a joining member would.
    wal.appendEntries(1, makeEntries(1, 1, 2, 8));
    wal.close();
    expect(open(dir).recovered.get(1)!.entries.map((e) => e.index)).toEqual([1, 2]);
  });

  test("within one tick: a hard state buffered before the reset keeps its term and vote but not its commit", () => {
    const dir = freshDir();
    const twin = new Twin(open(dir).wal);
    twin.append(1, 1, 50, 1);
    twin.wal.sync();
    twin.hardState(1, { term: 5, vote: "x", commit: 40 });
    twin.append(1, 51, 2, 5);
    twin.reset(1);
    twin.wal.sync();
    expect(twin.wal.group(1)!.hardState).toEqual({ term: 5, vote: "x", commit: 0 });
    const now = freshDir("reset-tick");
    copyDir(dir, now);
    const atReset = open(now);
    expect(atReset.report.findings).toEqual([]);
    expect(atReset.recovered.get(1)).toEqual({ hardState: { term: 5, vote: "x", commit: 0 }, compactedIndex: 0, compactedTerm: 0, entries: [], damage: null });
    atReset.wal.close();
    twin.append(1, 1, 3, 6);
    twin.reset(1); // twice in one tick
    twin.append(1, 1, 2, 6);
    twin.hardState(1, { term: 6, vote: "y", commit: 1 });
    twin.wal.close();
    const { recovered, report, wal } = open(dir);
    expect(describeRecovered(recovered)).toEqual(describeModel(twin.model));
    expect(recovered.get(1)!.hardState).toEqual({ term: 6, vote: "y", commit: 1 });
    expect(report.findings).toEqual([]);
    wal.close();
  });

  test("an unknown group is left alone: nothing is buffered and no group appears", () => {
    const dir = freshDir();
    const { wal } = open(dir);
    wal.appendEntries(1, makeEntries(1, 1, 1, 1));
    wal.sync();
    wal.resetGroup(99);
    expect(wal.pendingBytes).toBe(0);
    expect(wal.groupIds()).toEqual([1]);
    wal.close();
    expect([...open(dir).recovered.keys()]).toEqual([1]);
  });

  test("a reset not yet synced is lost in a crash: the old log comes back whole", () => {
    const dir = freshDir();
    const twin = new Twin(open(dir).wal);
    twin.append(1, 1, 30, 2);
    twin.hardState(1, { term: 2, vote: "a", commit: 30 });
    twin.wal.sync();
    const before = twin.model.clone();
    twin.reset(1);
    twin.append(1, 1, 2, 3);
    const crashed = freshDir("reset-crash");
    copyDir(dir, crashed); // nothing of the reset reached the file yet
    twin.wal.close();
    const { recovered, report, wal } = open(crashed);
    expect(describeRecovered(recovered)).toEqual(describeModel(before));
    expect(report.findings).toEqual([]);
    wal.close();
  });
});

describe("torn tail after a reset", () => {
  test("a cut at every byte of the sync holding the reset recovers exactly the records that landed", () => {
    const pristine = freshDir();
    const twin = new Twin(open(pristine).wal);
    twin.append(1, 1, 12, 2, 40);
    twin.hardState(1, { term: 3, vote: "b", commit: 10 });
    twin.append(2, 1, 3, 1);
    twin.wal.sync();
    const file = segmentFiles(pristine)[0]!;
    const sizeBefore = fs.statSync(file).size;
    // The last sync: reset, entries, hard state (in that order on disk).
    const models: Model[] = [twin.model.clone()];
    twin.reset(1);
    models.push(twin.model.clone());
    twin.append(1, 1, 3, 4, 40);
    models.push(twin.model.clone());
    twin.hardState(1, { term: 4, vote: null, commit: 2 });
    models.push(twin.model.clone());
    twin.wal.close();
    const tail = readRecords(file).filter((r) => r.start >= sizeBefore);
    expect(tail.map((r) => r.record.kind)).toEqual(["groupReset", "entries", "hardState"]);
    const sizeAfter = tail.at(-1)!.end;
    const boundaries = [sizeBefore, ...tail.map((r) => r.end)];
    const written = new Uint8Array(fs.readFileSync(file));

    const dir = freshDir("reset-torn");
    const target = path.join(dir, "wal", path.basename(file));
    fs.mkdirSync(path.join(dir, "wal"));
    for (const fill of ["truncated", "zeros"] as const) {
      for (let cut = sizeBefore; cut < sizeAfter; cut++) {
        const damaged = new Uint8Array(fill === "zeros" ? sizeAfter : cut);
        damaged.set(written.subarray(0, cut));
        fs.writeFileSync(target, damaged);
        const { recovered, report, wal } = open(dir, undefined, false);
        // A zero fill can rebuild a record whose last bytes are zeros (a reset of group 1 ends in
        // three): then it did land. A record landed if the file holds all of its bytes.
        const isIntact = (end: number) => end <= cut || (end <= damaged.length && written.subarray(cut, end).every((b) => b === 0));
        const landed = boundaries.filter(isIntact).length - 1;
        const where = `${fill} cut at ${cut} (${landed} records landed)`;
        expect(describeRecovered(recovered), where).toEqual(describeModel(models[landed]!));
        expect(report.damage, where).toBeUndefined();
        expect(report.findings, where).toEqual([]);
        const end = boundaries[landed]!;
        if (fill === "zeros" || cut > end) {
          expect(report.tornTail, where).toMatchObject({ offset: end, bytesCut: damaged.length - end });
        } else {
          expect(report.tornTail, where).toBeUndefined();
        }
        expect(fs.statSync(target).size, where).toBe(end);
        wal.close();
      }
    }
  });
});

describe("segments and checkpoints", () => {
  test("a reset survives rotation: later checkpoints describe the reset log", () => {
    const dir = freshDir();
    const segmentBytesMax = 4 * 1024;
    const twin = new Twin(open(dir, segmentBytesMax).wal);
    for (let i = 0; i < 10; i++) {
      twin.append(1, i * 5 + 1, 5, 1, 100);
      twin.wal.sync();
    }
    twin.hardState(1, { term: 2, vote: "n1", commit: 50 });
    twin.wal.sync();
    twin.reset(1);
    twin.append(1, 1, 4, 3, 100);
    twin.hardState(1, { term: 3, vote: "n2", commit: 4 });
    twin.wal.sync();
    const segmentsAtReset = segmentFiles(dir).length;
    for (let i = 0; i < 30; i++) {
      twin.append(2, i * 5 + 1, 5, 1, 100);
      twin.wal.sync();
    }
    const files = segmentFiles(dir);
    expect(files.length).toBeGreaterThan(segmentsAtReset + 2);
    const head = readRecords(files.at(-1)!)[0]!.record;
    if (head.kind !== "checkpoint") throw new Error("segment does not start with a checkpoint");
    expect(head.groups.find((g) => g.group === 1)).toEqual({
      group: 1,
      hardState: { term: 3, vote: "n2", commit: 4 },
      compactedIndex: 0,
      compactedTerm: 0,
      lastIndex: 4,
      lastTerm: 3,
      damage: null,
    });
    twin.wal.close();
    const { recovered, report, wal } = open(dir, segmentBytesMax);
    expect(report.findings).toEqual([]);
    expect(describeRecovered(recovered)).toEqual(describeModel(twin.model));
    wal.close();
  });

  test("segments holding only a reset group's old entries are deleted once the other groups compact", () => {
    const dir = freshDir();
    const segmentBytesMax = 4 * 1024;
    const twin = new Twin(open(dir, segmentBytesMax).wal);
    let last = 0;
    for (let i = 0; i < 30; i++) {
      twin.append(1, last + 1, 5, 1, 100); // group 1 never compacts
      twin.append(2, last + 1, 5, 1, 100);
      last += 5;
      twin.wal.sync();
    }
    twin.compact(2, last, 1);
    twin.wal.sync();
    expect(twin.wal.stats().segmentsDeleted).toBe(0); // group 1's entries keep every segment
    const segmentsBefore = twin.wal.stats().segments;
    expect(segmentsBefore).toBeGreaterThan(5);
    twin.reset(1);
    twin.append(1, 1, 3, 2, 100);
    twin.wal.sync();
    // The reset write itself made the old entries obsolete: only segments with live entries stay.
    const stats = twin.wal.stats();
    expect(stats.segments).toBeLessThanOrEqual(2);
    expect(stats.segmentsDeleted).toBe(1 + stats.segmentsCreated - stats.segments);
    expect(segmentFiles(dir)[0]!.endsWith("00000000000000000001.log")).toBe(false);
    twin.wal.close();
    const { recovered, report, wal } = open(dir, segmentBytesMax);
    expect(report.findings).toEqual([]);
    expect(describeRecovered(recovered)).toEqual(describeModel(twin.model));
    wal.close();
  });

  test("a reset buffered while a sync waits for the disk deletes nothing until it is durable itself", async () => {
    const dir = freshDir();
    const segmentBytesMax = 4 * 1024;
    const twin = new Twin(open(dir, segmentBytesMax).wal);
    for (let i = 0; i < 20; i++) {
      twin.append(1, i * 5 + 1, 5, 1, 100);
      twin.append(2, i * 5 + 1, 5, 1, 100);
      twin.wal.sync();
    }
    twin.compact(2, 100, 1);
    twin.wal.sync();
    const segmentsBefore = twin.wal.stats().segments;
    expect(segmentsBefore).toBeGreaterThan(3);
    const before = twin.model.clone();
    twin.append(2, 101, 1, 1);
    const inFlight = twin.wal.syncAsync();
    expect(twin.wal.isSyncInFlight).toBe(true);
    twin.reset(1); // buffered for the next sync; the in-flight one does not carry it
    await inFlight;
    expect(twin.wal.stats().segmentsDeleted).toBe(0);
    // A crash now: the reset never landed, so group 1's old entries must all still be there.
    const crashed = freshDir("reset-async-crash");
    copyDir(dir, crashed);
    const afterCrash = open(crashed, segmentBytesMax, false);
    expect(afterCrash.report.findings).toEqual([]);
    const expected = before.clone();
    expected.group(2).append(makeEntries(2, 101, 1, 1));
    expect(describeRecovered(afterCrash.recovered)).toEqual(describeModel(expected));
    afterCrash.wal.close();

    await twin.wal.syncAsync();
    expect(twin.wal.stats().segmentsDeleted).toBeGreaterThan(0);
    expect(twin.wal.stats().segments).toBeLessThanOrEqual(2);
    twin.wal.close();
    const { recovered, report, wal } = open(dir, segmentBytesMax);
    expect(report.findings).toEqual([]);
    expect(describeRecovered(recovered)).toEqual(describeModel(twin.model));
    wal.close();
  });

  test("replay starting at a checkpoint from before the reset: the reset closes the hole of deleted entries", () => {
    const checkpoint = [
      { group: 1, hardState: { term: 2, vote: "a", commit: 40 }, compactedIndex: 0, compactedTerm: 0, lastIndex: 50, lastTerm: 2, damage: null },
    ];
    const withReset = freshDir();
    writeSegment(withReset, 5, (w) => {
      encodeCheckpoint(w, false, checkpoint);
      encodeGroupReset(w, 1);
      encodeEntries(w, 1, makeEntries(1, 1, 3, 3));
    });
    const opened = open(withReset);
    expect(opened.report.findings).toEqual([]);
    expect(opened.recovered.get(1)!.hardState).toEqual({ term: 2, vote: "a", commit: 0 });
    expect(opened.recovered.get(1)!.entries.map((e) => e.index)).toEqual([1, 2, 3]);
    opened.wal.close();
    // Without the reset the same files are damage (entries 1..50 are in no segment): the case is real.
    const withoutReset = freshDir();
    writeSegment(withoutReset, 5, (w) => encodeCheckpoint(w, false, checkpoint));
    const damaged = open(withoutReset);
    expect(damaged.report.damage?.get(1)).toEqual({ index: 50, term: 2 });
    damaged.wal.close();
  });
});

describe("damage", () => {
  test("damage after the reset reports the new log's extent, not the old one's", () => {
    const dir = freshDir();
    writeSegment(dir, 1, (w) => {
      encodeCheckpoint(w, true, []);
      encodeEntries(w, 1, makeEntries(1, 1, 50, 1));
      encodeHardState(w, 1, { term: 1, vote: "a", commit: 50 });
      encodeGroupReset(w, 1);
      encodeEntries(w, 1, makeEntries(1, 1, 10, 2));
      encodeEntries(w, 1, makeEntries(1, 20, 2, 2)); // a gap: damage attributable to group 1
    });
    const { recovered, report, wal } = open(dir);
    expect(recovered.get(1)!.entries.map((e) => e.index)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(recovered.get(1)!.hardState).toEqual({ term: 1, vote: "a", commit: 0 });
    expect(report.damage!.get(1)).toEqual({ index: 21, term: 2 });
    wal.close();
  });

  test("damage before the reset freezes the old log: the reset is not applied and the damage covers the old log", () => {
    const dir = freshDir();
    writeSegment(dir, 1, (w) => {
      encodeCheckpoint(w, true, []);
      encodeEntries(w, 1, makeEntries(1, 1, 30, 1));
      encodeEntries(w, 1, makeEntries(1, 40, 11, 1)); // a gap: group 1 freezes at 30
      encodeGroupReset(w, 1);
      encodeEntries(w, 1, makeEntries(1, 1, 10, 2));
    });
    const { recovered, report, wal } = open(dir);
    expect(recovered.get(1)!.entries.length).toBe(30);
    expect(report.damage!.get(1)).toEqual({ index: 50, term: 2 });
    wal.close();
  });

  test("resetting a damaged group keeps the damage's term (index 0) until cleared", () => {
    const dir = freshDir();
    writeSegment(dir, 1, (w) => {
      encodeCheckpoint(w, true, [
        { group: 1, hardState: { term: 3, vote: "a", commit: 0 }, compactedIndex: 0, compactedTerm: 0, lastIndex: 0, lastTerm: 0, damage: { index: 30, term: 4 } },
      ]);
    });
    const first = open(dir);
    expect(first.report.damage!.get(1)).toEqual({ index: 30, term: 4 });
    first.wal.resetGroup(1);
    expect(first.wal.group(1)!.damage).toEqual({ index: 0, term: 4 });
    first.wal.close();
    const second = open(dir);
    expect(second.recovered.get(1)).toMatchObject({ hardState: { term: 3, vote: "a", commit: 0 }, entries: [], damage: { index: 0, term: 4 } });
    expect(second.report.findings).toEqual([]);
    second.wal.clearDamage(1);
    second.wal.close();
    const third = open(dir);
    expect(third.recovered.get(1)!.damage).toBeNull();
    expect(third.report.damage).toBeUndefined();
    third.wal.close();
  });
});

describe("random histories with resets", () => {
  test("every reopen recovers the model exactly and without findings; resetting every group frees every old segment", () => {
    const seed = testSeed();
    const random = seededRandom(seed);
    const dir = freshDir();
    const segmentBytesMax = 4 * 1024;
    const GROUPS = 3;
    let twin = new Twin(open(dir, segmentBytesMax, false).wal);
    const terms = new Map<number, number>();
    for (let group = 0; group < GROUPS; group++) twin.append(group, 1, 1, 1);
    let resets = 0;
    for (let step = 0; step < 1500; step++) {
      const where = `seed ${seed} step ${step}`;
      const group = Math.floor(random() * GROUPS);
      const g = twin.model.group(group);
      const term = terms.get(group) ?? 1;
      const roll = random();
      if (roll < 0.5) {
        // Append, sometimes overwriting an uncommitted suffix.
        const floor = Math.max(g.hardState.commit, g.compactedIndex);
        const first = random() < 0.2 && g.lastIndex > floor ? floor + 1 + Math.floor(random() * (g.lastIndex - floor)) : g.lastIndex + 1;
        const nextTerm = random() < 0.1 ? term + 1 : term;
        terms.set(group, nextTerm);
        twin.append(group, first, 1 + Math.floor(random() * 6), Math.max(nextTerm, twin.wal.group(group)?.lastTerm ?? 0), 100);
      } else if (roll < 0.75) {
        const lastIndex = g.lastIndex;
        const commit = Math.max(g.hardState.commit, Math.min(lastIndex, g.hardState.commit + Math.floor(random() * 8)));
        twin.hardState(group, { term: Math.max(term, g.hardState.term), vote: `n${Math.max(term, g.hardState.term) % 3}`, commit });
      } else if (roll < 0.92) {
        const at = g.entries.find((e) => e.index === g.hardState.commit);
        if (at !== undefined && at.index > g.compactedIndex) twin.compact(group, at.index, at.term);
      } else if (twin.wal.group(group) !== undefined) {
        twin.reset(group);
        resets++;
      }
      if (random() < 0.4) twin.wal.sync();
      if (step % 75 === 74) {
        twin.wal.close();
        const reopened = open(dir, segmentBytesMax, false);
        expect(reopened.report.findings, where).toEqual([]);
        expect(describeRecovered(reopened.recovered), where).toEqual(describeModel(twin.model));
        twin = new Twin(reopened.wal, twin.model);
      }
    }
    while (twin.wal.stats().segments < 3) {
      twin.append(0, twin.model.group(0).lastIndex + 1, 5, Math.max(terms.get(0) ?? 1, twin.wal.group(0)!.lastTerm), 100);
      twin.wal.sync();
    }
    expect(resets, `seed ${seed}`).toBeGreaterThan(20);
    for (let group = 0; group < GROUPS; group++) twin.reset(group);
    twin.wal.sync();
    expect(twin.wal.stats().segments, `seed ${seed}`).toBe(1);
    twin.wal.close();
    const { recovered, report, wal } = open(dir, segmentBytesMax, false);
    expect(report.findings).toEqual([]);
    expect(describeRecovered(recovered)).toEqual(describeModel(twin.model));
    wal.close();
  });
});
