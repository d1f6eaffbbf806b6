// The snapshot store: what save() returns from is what loadLatest() gives back, a crash mid-save
// leaves the previous snapshot in charge (the temp file is ignored and cleaned), damage is skipped.

import { describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { openSnapshotStore } from "../../src/storage/snapshot.ts";
import { StorageAssertionError } from "../../src/storage/assert.ts";
import type { SnapshotMeta } from "../../src/storage/types.ts";
import { captureLogger, tempDirsPerTest } from "./helpers.ts";

const freshDir = tempDirsPerTest("snap");

function meta(index: number, term: number): SnapshotMeta {
  return { index, term, config: { voters: ["n1", "n2", "n3"], learners: index % 2 === 0 ? ["n4"] : [] } };
}

function payload(index: number, sizeBytes = 1000): Uint8Array {
  return new Uint8Array(sizeBytes).map((_, i) => (i * 31 + index) & 0xff);
}

function snapshotFiles(dir: string, group: number): string[] {
  return fs.readdirSync(path.join(dir, "snapshots", String(group))).sort();
}

describe("snapshot store", () => {
  test("save then load returns the same meta and data, per group", () => {
    const dir = freshDir();
    const store = openSnapshotStore({ dir, logger: captureLogger() });
    expect(store.loadLatest(0)).toBeNull();
    store.save(0, meta(10, 2), payload(10));
    store.save(7, meta(3, 1), new Uint8Array());
    const reopened = openSnapshotStore({ dir, logger: captureLogger() });
    expect(reopened.loadLatest(0)).toEqual({ meta: meta(10, 2), data: payload(10) });
    expect(reopened.loadLatest(7)).toEqual({ meta: meta(3, 1), data: new Uint8Array() });
    expect(reopened.groups()).toEqual([0, 7]);
  });

  test("the latest wins and only the latest two per group are kept", () => {
    const dir = freshDir();
    const store = openSnapshotStore({ dir, logger: captureLogger() });
    for (const index of [5, 9, 9, 20, 31]) store.save(1, meta(index, 1 + Math.floor(index / 10)), payload(index));
    expect(store.loadLatest(1)).toEqual({ meta: meta(31, 4), data: payload(31) });
    expect(snapshotFiles(dir, 1)).toEqual(["00000000000000000020-3.snap", "00000000000000000031-4.snap"]);
  });

  test("a save older than the newest snapshot is refused", () => {
    const store = openSnapshotStore({ dir: freshDir(), logger: captureLogger() });
    store.save(1, meta(10, 1), payload(1));
    expect(() => store.save(1, meta(9, 1), payload(1))).toThrow(StorageAssertionError);
  });

  test("a temp file left by a crash mid-save is ignored and cleaned on open", () => {
    const dir = freshDir();
    const store = openSnapshotStore({ dir, logger: captureLogger() });
    store.save(2, meta(10, 1), payload(10));
    // The crash came after part of the next snapshot was written, before the rename.
    const temp = path.join(dir, "snapshots", "2", "00000000000000000050-2.snap.tmp");
    fs.writeFileSync(temp, payload(50, 100));
    expect(store.loadLatest(2)).toEqual({ meta: meta(10, 1), data: payload(10) });
    const logger = captureLogger();
    const reopened = openSnapshotStore({ dir, logger });
    expect(fs.existsSync(temp)).toBe(false);
    expect(logger.lines.some((l) => /temp file/.test(l.message))).toBe(true);
    expect(reopened.loadLatest(2)!.meta.index).toBe(10);
    reopened.save(2, meta(50, 2), payload(50));
    expect(reopened.loadLatest(2)).toEqual({ meta: meta(50, 2), data: payload(50) });
  });

  test("a damaged newest snapshot is skipped for the older one, loudly", () => {
    const dir = freshDir();
    const logger = captureLogger();
    const store = openSnapshotStore({ dir, logger });
    store.save(3, meta(10, 1), payload(10));
    store.save(3, meta(20, 1), payload(20));
    const newest = path.join(dir, "snapshots", "3", "00000000000000000020-1.snap");
    for (const damage of ["flip", "truncate"] as const) {
      const bytes = fs.readFileSync(newest);
      if (damage === "flip") {
        bytes[bytes.length - 7]! ^= 0x01;
        fs.writeFileSync(path.join(dir, "flipped"), bytes);
        fs.renameSync(path.join(dir, "flipped"), newest);
      } else {
        fs.truncateSync(newest, bytes.length - 100);
      }
      expect(store.loadLatest(3), damage).toEqual({ meta: meta(10, 1), data: payload(10) });
      expect(logger.lines.some((l) => l.level === "error" && /damaged snapshot skipped/.test(l.message)), damage).toBe(true);
    }
  });

  test("save is atomic: a snapshot file is whole or absent, never partial", () => {
    const dir = freshDir();
    const store = openSnapshotStore({ dir, logger: captureLogger() });
    store.save(4, meta(1, 1), payload(1, 3 * 1024 * 1024));
    // The only files are complete snapshots; no temp file survives a successful save.
    expect(snapshotFiles(dir, 4)).toEqual(["00000000000000000001-1.snap"]);
    expect(store.loadLatest(4)!.data.length).toBe(3 * 1024 * 1024);
  });
});
