// Quick throughput measurement of the WAL (not a test; run by hand):
//   node_modules/.bin/bun test/storage/wal.measure.ts
// Each tick appends 64 entries of 100 B (to one group, then spread over 8 groups) and syncs once,
// then yields to the event loop as a node does (the next segment's preallocation runs there).
// MEASURE_SEGMENT_BYTES (default 64 MiB) makes segments small enough to rotate within the run.

import * as fs from "node:fs";
import * as path from "node:path";
import { openWal } from "../../src/storage/index.ts";
import type { Entry } from "../../src/storage/types.ts";
import { captureLogger, removeDir, tempDir } from "./helpers.ts";

const ENTRIES_PER_TICK = 64;
const ENTRY_BYTES = 100;
const DURATION_MS = Number(process.env.MEASURE_MS ?? 2000);
const SEGMENT_BYTES_MAX = Number(process.env.MEASURE_SEGMENT_BYTES ?? 64 * 1024 * 1024);

async function measure(label: string, groups: number, fsync: boolean): Promise<void> {
  const dir = tempDir("measure");
  const { wal } = openWal({ dir, fsync, segmentBytesMax: SEGMENT_BYTES_MAX, logger: captureLogger() });
  const data = new Uint8Array(ENTRY_BYTES).fill(7);
  const next = new Array<number>(groups).fill(1);
  const startedMs = performance.now();
  let ticks = 0;
  const syncMs: number[] = [];
  while (performance.now() - startedMs < DURATION_MS) {
    for (let i = 0; i < ENTRIES_PER_TICK / groups; i++) {
      for (let group = 0; group < groups; group++) {
        const entry: Entry = { index: next[group]!, term: 1, type: "normal", data };
        wal.appendEntries(group, [entry]);
        next[group]!++;
      }
    }
    const before = performance.now();
    wal.sync();
    syncMs.push(performance.now() - before);
    ticks++;
    await new Promise((resolve) => setImmediate(resolve));
  }
  const elapsedS = (performance.now() - startedMs) / 1000;
  const stats = wal.stats();
  wal.close();
  removeDir(dir);
  syncMs.sort((a, b) => a - b);
  const pct = (p: number) => syncMs[Math.min(syncMs.length - 1, Math.floor(syncMs.length * p))]!.toFixed(3);
  console.log(
    `${label.padEnd(34)} ${(ticks / elapsedS).toFixed(0).padStart(7)} syncs/s ${((ticks * ENTRIES_PER_TICK) / elapsedS).toFixed(0).padStart(9)} entries/s` +
      `  sync ms p50 ${pct(0.5)} p99 ${pct(0.99)} max ${stats.syncMsMax.toFixed(3)}  ${(stats.bytesWritten / elapsedS / 1e6).toFixed(1)} MB/s, ${stats.segmentsCreated} rotations, ${(stats as { segmentsPreallocated?: number }).segmentsPreallocated ?? "-"} preallocated`,
  );
}

/** The floor: the same bytes with a bare writev + fdatasync, no WAL. Shared disks vary; compare in one run. */
function measureRaw(): void {
  const dir = tempDir("measure-raw");
  const fd = fs.openSync(path.join(dir, "raw.log"), fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT, 0o644);
  const tick = new Uint8Array(ENTRIES_PER_TICK * (ENTRY_BYTES + 21) + 17).fill(7);
  const startedMs = performance.now();
  let ticks = 0;
  while (performance.now() - startedMs < DURATION_MS) {
    fs.writevSync(fd, [tick]);
    fs.fdatasyncSync(fd);
    ticks++;
  }
  const elapsedS = (performance.now() - startedMs) / 1000;
  fs.closeSync(fd);
  removeDir(dir);
  console.log(`${"raw writev+fdatasync (floor)".padEnd(34)} ${(ticks / elapsedS).toFixed(0).padStart(7)} syncs/s`);
}

/** Recovery speed: replay a WAL of `walBytes` written as 64-entry ticks over 8 groups. */
function measureReplay(walBytes: number): void {
  const dir = tempDir("measure-replay");
  const { wal } = openWal({ dir, fsync: false, logger: captureLogger() });
  const data = new Uint8Array(ENTRY_BYTES).fill(7);
  const next = new Array<number>(8).fill(1);
  while (wal.stats().bytes < walBytes) {
    for (let group = 0; group < 8; group++) {
      const entries: Entry[] = [];
      for (let i = 0; i < ENTRIES_PER_TICK / 8; i++) entries.push({ index: next[group]!++, term: 1, type: "normal", data });
      wal.appendEntries(group, entries);
    }
    wal.sync();
  }
  const entriesTotal = next.reduce((sum, n) => sum + n - 1, 0);
  wal.close();
  const startedMs = performance.now();
  const opened = openWal({ dir, logger: captureLogger() });
  const elapsedMs = performance.now() - startedMs;
  opened.wal.close();
  removeDir(dir);
  console.log(`replay of ${(walBytes / 1e6).toFixed(0)} MB, ${entriesTotal} entries: ${elapsedMs.toFixed(0)} ms (${(entriesTotal / elapsedMs / 1000).toFixed(2)} M entries/s)`);
}

measureRaw();
await measure("fsync, 1 group x 64 entries", 1, true);
await measure("fsync, 8 groups x 8 entries", 8, true);
await measure("no fsync (unsafe), 1 group x 64", 1, false);
measureRaw();
measureReplay(64 * 1024 * 1024);
