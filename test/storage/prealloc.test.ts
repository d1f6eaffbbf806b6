// Segment preallocation: the next segment is zero-filled in the background and renamed into place
// at rotation. Zeros after the data of a preallocated last segment are its clean end; a torn record
// before them is still a torn tail (cut by zeroing); a broken record with valid ones after is damage.

import { describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { openWal } from "../../src/storage/index.ts";
import { parseRecord } from "../../src/storage/record.ts";
import { Twin, captureLogger, describeModel, describeRecovered, makeEntries, segmentFiles, tempDirsPerTest } from "./helpers.ts";

const SEGMENT_BYTES_MAX = 16 * 1024;

const freshDir = tempDirsPerTest("prealloc");

function open(dir: string, segmentBytesMax = SEGMENT_BYTES_MAX) {
  const logger = captureLogger();
  return { ...openWal({ dir, segmentBytesMax, logger }), logger };
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = performance.now() + 10_000;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(2);
  }
}

function tempFiles(dir: string): string[] {
  return fs.readdirSync(path.join(dir, "wal")).filter((name) => name.endsWith(".tmp"));
}

function headCheckpoint(file: string) {
  const result = parseRecord(new Uint8Array(fs.readFileSync(file)), 0);
  if (result.status !== "ok" || result.record.kind !== "checkpoint") throw new Error(`${file} does not start with a checkpoint`);
  return result.record;
}

/** Record boundaries of a segment's data: [start, end) of each record up to the first that fails. */
function recordSpans(bytes: Uint8Array): [number, number][] {
  const spans: [number, number][] = [];
  for (let offset = 0; ; ) {
    const result = parseRecord(bytes, offset);
    if (result.status !== "ok") return spans;
    spans.push([offset, result.endOffset]);
    offset = result.endOffset;
  }
}

/** Fill segment 1 past half, let the preallocation finish, rotate onto it and write a few ticks. */
async function walOnPreallocatedSegment(dir: string) {
  const opened = open(dir);
  const twin = new Twin(opened.wal);
  let next = 1;
  const tick = (count = 10) => {
    twin.append(1, next, count, 1, 100);
    twin.hardState(1, { term: 1, vote: "a", commit: next - 1 });
    next += count;
    twin.wal.sync();
  };
  while (twin.wal.stats().bytes * 2 < SEGMENT_BYTES_MAX) tick();
  await until(() => twin.wal.stats().preallocatedBytes > 0, "the preallocation");
  expect(tempFiles(dir)).toEqual(["00000000000000000002.log.tmp"]);
  while (twin.wal.stats().segments === 1) tick();
  for (let i = 0; i < 3; i++) tick();
  // A last sync of entries only, so the segment's last record is an entries record.
  twin.append(1, next, 5, 1, 100);
  next += 5;
  twin.wal.sync();
  return { twin, logger: opened.logger };
}

describe("preallocated segments", () => {
  test("rotation onto a ready preallocated segment; its zeros read back as a clean end", async () => {
    const dir = freshDir();
    const { twin } = await walOnPreallocatedSegment(dir);
    const stats = twin.wal.stats();
    expect(stats.segmentsPreallocated).toBe(1);
    expect(stats.preallocatedBytes).toBe(SEGMENT_BYTES_MAX);
    expect(stats.preallocateMsTotal).toBeGreaterThan(0);
    const [first, second] = segmentFiles(dir);
    expect(tempFiles(dir)).toEqual([]);
    expect(headCheckpoint(first!).isPreallocated).toBe(false);
    expect(headCheckpoint(second!).isPreallocated).toBe(true);
    expect(fs.statSync(second!).size).toBe(SEGMENT_BYTES_MAX);
    // stats().bytes stays the data: segment 1 as written plus segment 2 up to its end of data.
    const dataBytes = recordSpans(new Uint8Array(fs.readFileSync(second!))).at(-1)![1];
    expect(stats.bytes).toBe(fs.statSync(first!).size + dataBytes);
    twin.wal.close();

    const { wal, recovered, report, logger } = open(dir);
    expect(report.tornTail).toBeUndefined();
    expect(report.findings).toEqual([]);
    expect(logger.lines.filter((l) => l.level !== "info")).toEqual([]);
    expect(describeRecovered(recovered)).toEqual(describeModel(twin.model));
    expect(wal.stats().bytes).toBe(stats.bytes);
    // Writing continues at the end of data, not at the end of the file.
    const entries = makeEntries(1, twin.model.group(1).lastIndex + 1, 3, 1);
    wal.appendEntries(1, entries);
    twin.model.group(1).append(entries);
    wal.close();
    expect(fs.statSync(second!).size).toBe(SEGMENT_BYTES_MAX);
    const again = open(dir);
    expect(again.report.tornTail).toBeUndefined();
    expect(describeRecovered(again.recovered)).toEqual(describeModel(twin.model));
    again.wal.close();
  });

  test("a torn record followed by zeros is a torn tail, cut by zeroing (every cut of the last record)", async () => {
    const pristine = freshDir();
    const { twin } = await walOnPreallocatedSegment(pristine);
    const modelAfter = twin.model.clone();
    const lastEntries = twin.model.group(1).entries.slice(-5);
    const before = twin.model.clone();
    before.group(1).entries = before.group(1).entries.slice(0, -5);
    twin.wal.close();
    const file = segmentFiles(pristine)[1]!;
    const original = new Uint8Array(fs.readFileSync(file));
    const [start, end] = recordSpans(original).at(-1)!;
    expect(lastEntries.length).toBe(5);
    const dir = freshDir("prealloc-torn");
    const copy = path.join(dir, "wal", path.basename(file));
    for (let cut = 0; cut <= end - start; cut++) {
      const where = `cut ${cut} of ${end - start}`;
      fs.rmSync(path.join(dir, "wal"), { recursive: true, force: true });
      fs.cpSync(path.join(pristine, "wal"), path.join(dir, "wal"), { recursive: true });
      const torn = original.slice();
      torn.fill(0, start + cut, end); // the write landed only up to `cut`; the rest is still zeros
      fs.writeFileSync(copy, torn);
      const { wal, recovered, report } = open(dir);
      expect(report.findings, where).toEqual([]);
      expect(report.damage, where).toBeUndefined();
      if (parseRecord(torn, start).status === "ok") {
        expect(report.tornTail, where).toBeUndefined();
        expect(describeRecovered(recovered), where).toEqual(describeModel(modelAfter));
      } else if (cut === 0) {
        expect(report.tornTail, where).toBeUndefined(); // nothing landed: the clean end of data
        expect(describeRecovered(recovered), where).toEqual(describeModel(before));
      } else {
        let lastNonZero = start + cut - 1;
        while (torn[lastNonZero] === 0) lastNonZero--;
        expect(report.tornTail, where).toEqual({ segment: copy, offset: start, bytesCut: lastNonZero + 1 - start, isPreallocated: true });
        expect(describeRecovered(recovered), where).toEqual(describeModel(before));
        const after = new Uint8Array(fs.readFileSync(copy));
        expect(after.length, where).toBe(SEGMENT_BYTES_MAX);
        expect(after.subarray(start).every((b) => b === 0), where).toBe(true);
      }
      wal.close();
      const again = open(dir);
      expect(again.report.tornTail, where).toBeUndefined();
      expect(again.report.findings, where).toEqual([]);
      again.wal.close();
    }
  });

  test("a zero length in the middle: damage when valid records follow, a torn tail when none do", async () => {
    const pristine = freshDir();
    const { twin } = await walOnPreallocatedSegment(pristine);
    twin.wal.close();
    const file = segmentFiles(pristine)[1]!;
    const original = new Uint8Array(fs.readFileSync(file));
    const spans = recordSpans(original);
    expect(spans.length).toBeGreaterThan(4);

    const middle = freshDir("prealloc-middle");
    fs.cpSync(path.join(pristine, "wal"), path.join(middle, "wal"), { recursive: true });
    const broken = original.slice();
    broken.fill(0, spans[2]![0], spans[2]![0] + 4);
    fs.writeFileSync(path.join(middle, "wal", path.basename(file)), broken);
    const damaged = open(middle);
    expect(damaged.report.tornTail).toBeUndefined();
    expect(damaged.report.damage?.has(1)).toBe(true);
    expect(damaged.report.findings.some((f) => /followed by valid records/.test(f))).toBe(true);
    damaged.wal.close();

    const last = freshDir("prealloc-last");
    fs.cpSync(path.join(pristine, "wal"), path.join(last, "wal"), { recursive: true });
    const [start, end] = spans.at(-1)!;
    const tornHeader = original.slice();
    tornHeader.fill(0, start, start + 4);
    const copy = path.join(last, "wal", path.basename(file));
    fs.writeFileSync(copy, tornHeader);
    const torn = open(last);
    expect(torn.report.damage).toBeUndefined();
    expect(torn.report.tornTail).toEqual({ segment: copy, offset: start, bytesCut: end - start, isPreallocated: true });
    torn.wal.close();
  });

  test("rotation while the preallocation is still filling creates the segment empty; the fill cleans up after itself", async () => {
    const dir = freshDir();
    const { wal } = open(dir);
    const twin = new Twin(wal);
    let next = 1;
    // No await between syncs: the zero-fill started at half full cannot finish before rotation.
    while (twin.wal.stats().segments < 3) {
      twin.append(2, next, 10, 1, 100);
      next += 10;
      twin.wal.sync();
    }
    expect(twin.wal.stats().segmentsPreallocated).toBe(0);
    for (const file of segmentFiles(dir)) expect(headCheckpoint(file).isPreallocated).toBe(false);
    await until(() => tempFiles(dir).length === 0, "abandoned fills to remove their temp files");
    // The next rotation, given time, is onto a preallocated segment again.
    while (twin.wal.stats().bytes - fs.statSync(segmentFiles(dir)[0]!).size - fs.statSync(segmentFiles(dir)[1]!).size < SEGMENT_BYTES_MAX / 2) {
      twin.append(2, next, 10, 1, 100);
      next += 10;
      twin.wal.sync();
    }
    await until(() => twin.wal.stats().preallocatedBytes > 0, "the preallocation");
    while (twin.wal.stats().segments < 4) {
      twin.append(2, next, 10, 1, 100);
      next += 10;
      twin.wal.sync();
    }
    expect(twin.wal.stats().segmentsPreallocated).toBe(1);
    expect(headCheckpoint(segmentFiles(dir)[3]!).isPreallocated).toBe(true);
    twin.wal.close();
    const reopened = open(dir);
    expect(reopened.report.findings).toEqual([]);
    expect(describeRecovered(reopened.recovered)).toEqual(describeModel(twin.model));
    reopened.wal.close();
  });

  test("a preallocated segment that stops being the last is cut back to its data, even reopened with a smaller limit", async () => {
    const dir = freshDir();
    const { twin } = await walOnPreallocatedSegment(dir);
    twin.wal.close();
    const second = segmentFiles(dir)[1]!;
    const dataBytes = recordSpans(new Uint8Array(fs.readFileSync(second))).at(-1)![1];
    expect(fs.statSync(second).size).toBe(SEGMENT_BYTES_MAX);
    // The data is already past this limit: the next sync rotates.
    const { wal } = open(dir, 4 * 1024);
    const twin2 = new Twin(wal, twin.model);
    twin2.append(1, twin.model.group(1).lastIndex + 1, 2, 1);
    wal.sync();
    twin2.append(1, twin.model.group(1).lastIndex + 1, 2, 1);
    wal.close();
    expect(segmentFiles(dir).length).toBe(3);
    expect(fs.statSync(second).size).toBe(dataBytes);
    const reopened = open(dir, 4 * 1024);
    expect(reopened.report.findings).toEqual([]);
    expect(reopened.report.tornTail).toBeUndefined();
    expect(describeRecovered(reopened.recovered)).toEqual(describeModel(twin.model));
    reopened.wal.close();
  });

  test("a crash during preallocation leaves only a temp file (removed); a renamed segment whose checkpoint never landed is removed", async () => {
    const dir = freshDir();
    const { twin } = await walOnPreallocatedSegment(dir);
    twin.wal.close();
    const walDir = path.join(dir, "wal");
    // Crash mid-fill of segment 3: a partial temp file.
    fs.writeFileSync(path.join(walDir, "00000000000000000003.log.tmp"), new Uint8Array(5000));
    const first = open(dir);
    expect(first.report.findings).toEqual([]);
    expect(first.report.tornTail).toBeUndefined();
    expect(tempFiles(dir)).toEqual([]);
    expect(first.logger.lines.some((l) => /leftover temp file/.test(l.message))).toBe(true);
    expect(describeRecovered(first.recovered)).toEqual(describeModel(twin.model));
    first.wal.close();
    // Crash at rotation after the rename, before the checkpoint write reached the disk. Rotation
    // cut segment 2 back to its data (durably) before the rename.
    const secondFile = segmentFiles(dir)[1]!;
    fs.truncateSync(secondFile, recordSpans(new Uint8Array(fs.readFileSync(secondFile))).at(-1)![1]);
    const third = path.join(walDir, "00000000000000000003.log");
    fs.writeFileSync(third, new Uint8Array(SEGMENT_BYTES_MAX));
    const second = open(dir);
    expect(second.report.findings).toEqual([]);
    expect(second.report.tornTail?.offset).toBe(0);
    expect(fs.existsSync(third)).toBe(false);
    expect(describeRecovered(second.recovered)).toEqual(describeModel(twin.model));
    second.wal.close();
  });
});
