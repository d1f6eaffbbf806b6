// Recovery from every kind of broken WAL: a torn tail is cut and never replayed; damage inside
// acknowledged data freezes the affected groups at the damage point, is reported with the highest
// index and term still readable, is persisted until repaired, and never makes the next start fail.

import { describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { ByteWriter } from "../../src/storage/bytes.ts";
import { encodeCheckpoint, encodeEntries, encodeHardState, parseRecord, type WalRecord } from "../../src/storage/record.ts";
import type { GroupId } from "../../src/storage/types.ts";
import {
  Model,
  ModelGroup,
  Twin,
  copyDir,
  describeModel,
  describeRecovered,
  makeEntries,
  openCapturing,
  removeDir,
  seededRandom,
  segmentFiles,
  tempDirsPerTest,
  testSeed,
} from "./helpers.ts";

const freshDir = tempDirsPerTest("recovery");

const open = openCapturing;

/** Make `${dir}/wal` hold exactly these segment files (cheaper than a fresh directory per case). */
function resetWal(dir: string, files: Map<string, Uint8Array>): void {
  const walDir = path.join(dir, "wal");
  fs.mkdirSync(walDir, { recursive: true });
  for (const name of fs.readdirSync(walDir)) fs.rmSync(path.join(walDir, name), { recursive: true });
  for (const [name, bytes] of files) fs.writeFileSync(path.join(walDir, name), bytes);
}

/** One record as written, with the model as it was just before that record. */
interface WrittenRecord {
  segment: string;
  start: number;
  end: number;
  record: WalRecord;
  modelBefore: Model;
}

/**
 * Write a history in which every sync holds exactly one record (plus a checkpoint when a segment
 * starts), then list every record on disk with the model state just before it.
 */
function writeHistory(dir: string, segmentBytesMax: number, steps: number): { records: WrittenRecord[]; model: Model } {
  const twin = new Twin(open(dir, segmentBytesMax).wal);
  const modelBeforeStep: Model[] = [];
  for (let step = 0; step < steps; step++) {
    modelBeforeStep.push(twin.model.clone());
    const group = step % 3;
    const g = twin.model.group(group);
    const term = 1 + Math.floor(step / 10);
    switch (step % 5) {
      case 0:
      case 1:
      case 3:
        twin.append(group, g.lastIndex + 1, 3, term, 120);
        break;
      case 2:
        twin.hardState(group, { term, vote: `n${step % 4}`, commit: g.lastIndex });
        break;
      case 4:
        // Group 0 never compacts, so no segment is deleted and every record stays on disk.
        if (group !== 0 && g.lastIndex - 2 > g.compactedIndex) twin.compact(group, g.lastIndex - 2, g.entries.at(-3)!.term);
        else twin.append(group, g.lastIndex + 1, 1, term, 120);
        break;
    }
    twin.wal.sync();
  }
  twin.wal.close();
  const records: WrittenRecord[] = [];
  let step = 0;
  for (const segment of segmentFiles(dir)) {
    const bytes = new Uint8Array(fs.readFileSync(segment));
    for (let offset = 0; offset < bytes.length; ) {
      const parsed = parseRecord(bytes, offset);
      if (parsed.status !== "ok") throw new Error(`history unreadable at ${segment}:${offset}`);
      const isCheckpoint = parsed.record.kind === "checkpoint";
      const modelBefore = step < modelBeforeStep.length ? modelBeforeStep[step]! : twin.model;
      records.push({ segment, start: offset, end: parsed.endOffset, record: parsed.record, modelBefore });
      if (!isCheckpoint) step++;
      offset = parsed.endOffset;
    }
  }
  expect(step).toBe(steps);
  return { records, model: twin.model };
}

/** The highest index and term each group's records mention, skipping one record. */
function seenMaxExcept(records: WrittenRecord[], skipped: WrittenRecord | null): Map<GroupId, { index: number; term: number }> {
  const seen = new Map<GroupId, { index: number; term: number }>();
  const see = (group: GroupId, index: number, term: number) => {
    const s = seen.get(group) ?? { index: 0, term: 0 };
    seen.set(group, { index: Math.max(s.index, index), term: Math.max(s.term, term) });
  };
  for (const r of records) {
    if (r === skipped) continue;
    const record = r.record;
    switch (record.kind) {
      case "entries":
        for (const e of record.entries) see(record.group, e.index, e.term);
        break;
      case "hardState":
        see(record.group, record.hardState.commit, record.hardState.term);
        break;
      case "compacted":
        see(record.group, record.index, record.term);
        break;
      case "checkpoint":
        for (const g of record.groups) see(g.group, Math.max(g.lastIndex, g.compactedIndex, g.hardState.commit), Math.max(g.lastTerm, g.hardState.term));
        break;
      case "damageCleared":
        break;
    }
  }
  return seen;
}

/** The model frozen at `before`, with groups that only appear later present but empty. */
function frozenModel(before: Model, final: Model): Model {
  const model = before.clone();
  for (const id of final.groups.keys()) if (!model.groups.has(id)) model.groups.set(id, new ModelGroup());
  return model;
}

describe("torn tail", () => {
  test("a cut at every byte offset of the last record is cut off and never replayed", () => {
    const pristine = freshDir();
    const twin = new Twin(open(pristine).wal);
    for (let i = 0; i < 5; i++) {
      twin.append(i % 2, twin.model.group(i % 2).lastIndex + 1, 4, 1);
      twin.hardState(i % 2, { term: 1, vote: "a", commit: i });
      twin.wal.sync();
    }
    const before = twin.model.clone();
    const segment = path.basename(segmentFiles(pristine)[0]!);
    const sizeBefore = fs.statSync(segmentFiles(pristine)[0]!).size;
    twin.append(1, twin.model.group(1).lastIndex + 1, 3, 2, 40);
    twin.wal.close();
    const sizeAfter = fs.statSync(segmentFiles(pristine)[0]!).size;
    const whole = open(pristine);
    expect(describeRecovered(whole.recovered)).toEqual(describeModel(twin.model));
    whole.wal.close();

    const written = new Uint8Array(fs.readFileSync(path.join(pristine, "wal", segment)));
    const dir = freshDir("torn");
    const file = path.join(dir, "wal", segment);
    for (const fill of ["truncated", "zeros"] as const) {
      for (let cut = sizeBefore; cut < sizeAfter; cut++) {
        const damaged = new Uint8Array(fill === "zeros" ? sizeAfter : cut); // zeros: the file grew, the data never landed
        damaged.set(written.subarray(0, cut));
        resetWal(dir, new Map([[segment, damaged]]));
        const { recovered, report, wal, logger } = open(dir, undefined, cut % 16 === 0);
        const where = `${fill} cut at ${cut}`;
        expect(describeRecovered(recovered), where).toEqual(describeModel(before));
        expect(report.damage, where).toBeUndefined();
        const isTorn = fill === "zeros" || cut > sizeBefore;
        if (isTorn) {
          expect(report.tornTail, where).toEqual({ segment: file, offset: sizeBefore, bytesCut: (fill === "zeros" ? sizeAfter : cut) - sizeBefore, isPreallocated: false });
          expect(logger.lines.some((l) => l.level === "warn" && /torn tail cut/.test(l.message)), where).toBe(true);
        } else {
          expect(report.tornTail, where).toBeUndefined();
        }
        expect(fs.statSync(file).size, where).toBe(sizeBefore);
        // The WAL continues after the cut and the next start is clean.
        wal.appendEntries(1, makeEntries(1, before.group(1).lastIndex + 1, 1, 3));
        wal.close();
        const again = open(dir, undefined, false);
        expect(again.report.tornTail, where).toBeUndefined();
        expect(again.recovered.get(1)!.entries.at(-1)!.term, where).toBe(3);
        again.wal.close();
      }
    }
  });

  test("a torn first write of a new segment removes the segment", () => {
    const pristine = freshDir();
    const segmentBytesMax = 4 * 1024;
    const twin = new Twin(open(pristine, segmentBytesMax).wal);
    while (twin.wal.stats().segments === 1) {
      twin.append(1, twin.model.group(1).lastIndex + 1, 10, 1, 100);
      twin.wal.sync();
      if (twin.wal.stats().segments === 1 && twin.wal.stats().bytes >= segmentBytesMax) break;
    }
    const before = twin.model.clone();
    twin.append(2, 1, 2, 1); // this sync opens segment 2: checkpoint + entries
    twin.wal.close();
    const files = segmentFiles(pristine);
    expect(files.length).toBe(2);
    const size = fs.statSync(files[1]!).size;
    const first = new Uint8Array(fs.readFileSync(files[0]!));
    const second = new Uint8Array(fs.readFileSync(files[1]!));
    const dir = freshDir("torn-new");
    const file = path.join(dir, "wal", path.basename(files[1]!));
    for (let cut = 0; cut < size; cut++) {
      resetWal(dir, new Map([[path.basename(files[0]!), first], [path.basename(files[1]!), second.subarray(0, cut)]]));
      const { recovered, report, wal } = open(dir, segmentBytesMax, false);
      expect(describeRecovered(recovered), `cut ${cut}`).toEqual(describeModel(before));
      expect(report.damage, `cut ${cut}`).toBeUndefined();
      if (cut === 0 || report.tornTail?.offset === 0) expect(fs.existsSync(file), `cut ${cut}`).toBe(false);
      wal.appendEntries(2, makeEntries(2, 1, 1, 1));
      wal.close();
      const again = open(dir, segmentBytesMax, false);
      expect(again.report.findings, `cut ${cut}`).toEqual([]);
      again.wal.close();
    }
  });
});

describe("damage inside acknowledged data", () => {
  test("bit flips anywhere before the last record: damage reported, nothing after it trusted", () => {
    const seed = testSeed();
    const random = seededRandom(seed);
    const pristine = freshDir();
    const { records, model } = writeHistory(pristine, 4 * 1024, 60);
    expect(segmentFiles(pristine).length).toBeGreaterThan(2);
    const candidates = records.slice(0, -1);
    for (let trial = 0; trial < 25; trial++) {
      const victim = candidates[Math.floor(random() * candidates.length)]!;
      const position = victim.start + Math.floor(random() * (victim.end - victim.start));
      const bit = 1 << Math.floor(random() * 8);
      const where = `seed ${seed} trial ${trial}: flip bit ${bit} at ${path.basename(victim.segment)}:${position} in a ${victim.record.kind} record`;
      const dir = freshDir("flip");
      copyDir(pristine, dir);
      const file = path.join(dir, "wal", path.basename(victim.segment));
      const bytes = fs.readFileSync(file);
      bytes[position]! ^= bit;
      fs.writeFileSync(file, bytes);

      const { recovered, report, wal, logger } = open(dir, 4 * 1024, false);
      const expected = frozenModel(victim.modelBefore, model);
      expect(describeRecovered(recovered), where).toEqual(describeModel(expected));
      const seen = seenMaxExcept(records, victim);
      expect(report.damage, where).toBeDefined();
      for (const id of model.groups.keys()) {
        expect(report.damage!.get(id), `${where}, group ${id}`).toEqual(seen.get(id)!);
        expect(recovered.get(id)!.damage, `${where}, group ${id}`).toEqual(seen.get(id)!);
        expect(wal.group(id)!.damage, `${where}, group ${id}`).toEqual(seen.get(id)!);
      }
      expect(report.findings.length, where).toBeGreaterThan(0);
      expect(report.quarantineDir, where).toBeDefined();
      expect(fs.readdirSync(report.quarantineDir!).length, where).toBeGreaterThan(0);
      expect(logger.lines.some((l) => l.level === "error"), where).toBe(true);
      wal.close();

      // The next start is clean: same state, damage still marked, no new findings.
      const second = open(dir, 4 * 1024, false);
      expect(second.report.findings, where).toEqual([]);
      expect(second.report.quarantineDir, where).toBeUndefined();
      expect(describeRecovered(second.recovered), where).toEqual(describeModel(expected));
      expect(second.report.damage, where).toEqual(report.damage);

      // Repair from a leader up to the damage point, then clear: the mark is gone for good.
      for (const [id, damage] of report.damage!) {
        const lastIndex = second.wal.group(id)!.lastIndex;
        const term = Math.max(damage.term, second.wal.group(id)!.lastTerm);
        if (damage.index > lastIndex) second.wal.appendEntries(id, makeEntries(id, lastIndex + 1, damage.index - lastIndex, term));
        second.wal.clearDamage(id);
      }
      second.wal.close();
      const third = open(dir, 4 * 1024, false);
      expect(third.report.damage, where).toBeUndefined();
      expect(third.report.findings, where).toEqual([]);
      third.wal.close();
      removeDir(dir);
    }
  });

  test("a deleted middle segment freezes every group at the gap", () => {
    const dir = freshDir();
    const { records, model } = writeHistory(dir, 4 * 1024, 60);
    const files = segmentFiles(dir);
    expect(files.length).toBeGreaterThanOrEqual(4);
    const missing = files[1]!;
    fs.rmSync(missing);
    const { recovered, report, wal } = open(dir, 4 * 1024);
    const firstMissing = records.find((r) => r.segment === missing)!;
    expect(describeRecovered(recovered)).toEqual(describeModel(frozenModel(firstMissing.modelBefore, model)));
    const readable = records.filter((r) => r.segment !== missing);
    const seen = seenMaxExcept(readable, null);
    for (const id of model.groups.keys()) expect(report.damage!.get(id)).toEqual(seen.get(id)!);
    expect(report.findings.some((f) => /missing/.test(f))).toBe(true);
    wal.close();
    const again = open(dir, 4 * 1024);
    expect(again.report.findings).toEqual([]);
    again.wal.close();
  });

  test("a middle segment cut short is damage, not a torn tail", () => {
    const dir = freshDir();
    const { records, model } = writeHistory(dir, 4 * 1024, 60);
    const files = segmentFiles(dir);
    const victim = records.filter((r) => r.segment === files[1]!).at(-2)!;
    fs.truncateSync(files[1]!, victim.start + 5);
    const { recovered, report, wal } = open(dir, 4 * 1024);
    expect(report.tornTail).toBeUndefined();
    expect(describeRecovered(recovered)).toEqual(describeModel(frozenModel(victim.modelBefore, model)));
    for (const id of model.groups.keys()) expect(report.damage!.has(id)).toBe(true);
    wal.close();
  });

  test("a lost oldest segment whose entries were not compacted damages only the groups that had entries there", () => {
    const dir = freshDir();
    const segmentBytesMax = 4 * 1024;
    const twin = new Twin(open(dir, segmentBytesMax).wal);
    twin.hardState(3, { term: 4, vote: "x", commit: 0 }); // in segment 1, but no entries
    twin.append(1, 1, 40, 2, 100); // fills segment 1
    twin.wal.sync();
    twin.append(2, 1, 3, 1); // segment 2
    twin.append(1, 41, 3, 2);
    twin.wal.close();
    const files = segmentFiles(dir);
    expect(files.length).toBe(2);
    fs.rmSync(files[0]!);
    const { recovered, report, wal } = open(dir, segmentBytesMax);
    expect([...report.damage!.keys()]).toEqual([1]);
    expect(report.damage!.get(1)).toEqual({ index: 43, term: 2 });
    expect(recovered.get(1)!.entries).toEqual([]);
    expect(recovered.get(2)!.entries.map((e) => e.index)).toEqual([1, 2, 3]);
    expect(recovered.get(3)!.hardState).toEqual({ term: 4, vote: "x", commit: 0 });
    wal.close();
  });

  test("a record whose checksum holds but whose body does not decode is damage, even at the tail", () => {
    const dir = freshDir();
    const twin = new Twin(open(dir).wal);
    twin.append(1, 1, 3, 1);
    twin.wal.close();
    const body = new Uint8Array([9, 1, 2, 3]); // unknown record kind 9
    const header = new DataView(new ArrayBuffer(8));
    header.setUint32(0, body.length, true);
    header.setUint32(4, Bun.hash.crc32(body), true);
    fs.appendFileSync(segmentFiles(dir)[0]!, Buffer.concat([new Uint8Array(header.buffer), body]));
    const { recovered, report, wal } = open(dir);
    expect(report.tornTail).toBeUndefined();
    expect(report.damage!.get(1)).toEqual({ index: 3, term: 1 });
    expect(report.findings[0]).toMatch(/malformed/);
    expect(recovered.get(1)!.entries.length).toBe(3);
    wal.close();
  });

  test("a commit index beyond the readable log is damage (hard states follow their entries)", () => {
    const dir = freshDir();
    fs.mkdirSync(path.join(dir, "wal"));
    const writer = new ByteWriter();
    encodeCheckpoint(writer, true, []);
    encodeEntries(writer, 4, makeEntries(4, 1, 3, 1));
    encodeHardState(writer, 4, { term: 1, vote: "n1", commit: 7 });
    fs.writeFileSync(path.join(dir, "wal", "00000000000000000001.log"), writer.bytes());
    const { recovered, report, wal } = open(dir);
    expect(report.damage!.get(4)).toEqual({ index: 7, term: 1 });
    expect(recovered.get(4)!.hardState).toEqual({ term: 1, vote: "n1", commit: 3 });
    expect(recovered.get(4)!.entries.length).toBe(3);
    wal.close();
    const again = open(dir);
    expect(again.report.findings).toEqual([]);
    again.wal.close();
  });

  test("segments left behind by an interrupted rewrite are set aside, not replayed", () => {
    const dir = freshDir();
    const { model } = writeHistory(dir, 4 * 1024, 30);
    const files = segmentFiles(dir);
    const bytes = fs.readFileSync(files[1]!);
    bytes[20]! ^= 0x10;
    fs.writeFileSync(files[1]!, bytes);
    const first = open(dir, 4 * 1024);
    first.wal.close();
    // A crash between writing the base segment and moving the old ones: put them back.
    for (const name of fs.readdirSync(first.report.quarantineDir!)) {
      fs.renameSync(path.join(first.report.quarantineDir!, name), path.join(dir, "wal", name));
    }
    const second = open(dir, 4 * 1024);
    expect(second.report.findings).toEqual([]);
    expect(describeRecovered(second.recovered)).toEqual(describeRecovered(first.recovered));
    expect(second.report.damage).toEqual(first.report.damage);
    expect(segmentFiles(dir).length).toBe(1);
    expect(model.groups.size).toBe(3);
    second.wal.close();
  });

  test("a leftover temp file in the WAL directory is removed", () => {
    const dir = freshDir();
    open(dir).wal.close();
    fs.writeFileSync(path.join(dir, "wal", "00000000000000000002.log.tmp"), "half a base segment");
    const { wal, logger, report } = open(dir);
    expect(fs.readdirSync(path.join(dir, "wal"))).toEqual(["00000000000000000001.log"]);
    expect(logger.lines.some((l) => /leftover temp file/.test(l.message))).toBe(true);
    expect(report.findings).toEqual([]);
    wal.close();
  });
});
