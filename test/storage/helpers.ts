// Shared test scaffolding for storage: temp dirs, a capturing logger, deterministic entries, a
// seeded random source, and a deliberately naive model of what the WAL must recover.

import { afterEach } from "bun:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Entry, EntryType, GroupId, HardState, StorageLogger } from "../../src/storage/types.ts";
import type { RecoveredGroup } from "../../src/storage/recovery.ts";
import { openWal } from "../../src/storage/open.ts";

export function tempDir(label: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `sinkron-${label}-`));
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/**
 * A test file's fresh directories, each removed after the test that made it:
 * `const freshDir = tempDirsPerTest("wal")` at the top of the file, then `freshDir()`.
 */
export function tempDirsPerTest(defaultLabel: string): (label?: string) => string {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) removeDir(dir);
  });
  return (label = defaultLabel) => {
    const dir = tempDir(label);
    dirs.push(dir);
    return dir;
  };
}

export function copyDir(from: string, to: string): void {
  fs.cpSync(from, to, { recursive: true });
}

export interface LogLine {
  level: "info" | "warn" | "error";
  message: string;
  fields: Record<string, unknown> | undefined;
}

export function captureLogger(): StorageLogger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  return {
    lines,
    info: (message, fields) => void lines.push({ level: "info", message, fields }),
    warn: (message, fields) => void lines.push({ level: "warn", message, fields }),
    error: (message, fields) => void lines.push({ level: "error", message, fields }),
  };
}

/** Opens the WAL in `dir` with a logger that keeps what recovery said (as `logger`). */
export function openCapturing(dir: string, segmentBytesMax = 64 * 1024 * 1024, fsync = true) {
  const logger = captureLogger();
  return { ...openWal({ dir, segmentBytesMax, fsync, logger }), logger };
}

/** Entry bytes derived from (group, index, term), so any recovered entry can be checked alone. */
export function entryData(group: GroupId, index: number, term: number, sizeBytes = 24): Uint8Array {
  const data = new Uint8Array(sizeBytes);
  const seed = `${group}:${index}:${term}:`;
  for (let i = 0; i < sizeBytes; i++) data[i] = seed.charCodeAt(i % seed.length);
  return data;
}

const TYPES: EntryType[] = ["normal", "config", "noop"];

export function makeEntries(group: GroupId, firstIndex: number, count: number, term: number, sizeBytes = 24): Entry[] {
  const entries: Entry[] = [];
  for (let i = 0; i < count; i++) {
    const index = firstIndex + i;
    entries.push({ index, term, type: TYPES[index % 3]!, data: entryData(group, index, term, sizeBytes) });
  }
  return entries;
}

export { seededRandom } from "../../src/util/prng.ts";

export function testSeed(): number {
  const fromEnv = process.env.SINKRON_STORAGE_SEED;
  return fromEnv !== undefined ? Number(fromEnv) : Math.floor(Math.random() * 2 ** 31);
}

/** The obvious implementation of the rules, to compare the WAL against. */
export class ModelGroup {
  hardState: HardState = { term: 0, vote: null, commit: 0 };
  compactedIndex = 0;
  compactedTerm = 0;
  entries: Entry[] = [];

  append(entries: Entry[]): void {
    const first = entries[0]!.index;
    this.entries = this.entries.filter((e) => e.index < first).concat(entries);
  }

  compact(index: number, term: number): void {
    if (index === this.compactedIndex) return;
    const at = this.entries.find((e) => e.index === index);
    this.entries = at !== undefined && at.term === term ? this.entries.filter((e) => e.index > index) : [];
    this.compactedIndex = index;
    this.compactedTerm = term;
  }

  reset(): void {
    this.hardState = { ...this.hardState, commit: 0 };
    this.compactedIndex = 0;
    this.compactedTerm = 0;
    this.entries = [];
  }

  get lastIndex(): number {
    return this.entries.length > 0 ? this.entries[this.entries.length - 1]!.index : this.compactedIndex;
  }

  clone(): ModelGroup {
    const copy = new ModelGroup();
    copy.hardState = { ...this.hardState };
    copy.compactedIndex = this.compactedIndex;
    copy.compactedTerm = this.compactedTerm;
    copy.entries = this.entries.slice();
    return copy;
  }
}

export class Model {
  readonly groups = new Map<GroupId, ModelGroup>();

  group(id: GroupId): ModelGroup {
    let group = this.groups.get(id);
    if (group === undefined) {
      group = new ModelGroup();
      this.groups.set(id, group);
    }
    return group;
  }

  clone(): Model {
    const copy = new Model();
    for (const [id, group] of this.groups) copy.groups.set(id, group.clone());
    return copy;
  }
}

/** Recovered state in a comparable form (hard state commit clamped as recovery does). */
export function describeRecovered(recovered: Map<GroupId, RecoveredGroup>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [id, g] of [...recovered].sort((a, b) => a[0] - b[0])) {
    out[id] = {
      hardState: g.hardState,
      compactedIndex: g.compactedIndex,
      compactedTerm: g.compactedTerm,
      entries: g.entries.map((e) => `${e.index}/${e.term}/${e.type}/${Buffer.from(e.data).toString("hex")}`),
    };
  }
  return out;
}

export function describeModel(model: Model): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [id, g] of [...model.groups].sort((a, b) => a[0] - b[0])) {
    out[id] = {
      hardState: { ...g.hardState, commit: Math.min(g.hardState.commit, g.lastIndex) },
      compactedIndex: g.compactedIndex,
      compactedTerm: g.compactedTerm,
      entries: g.entries.map((e) => `${e.index}/${e.term}/${e.type}/${Buffer.from(e.data).toString("hex")}`),
    };
  }
  return out;
}

export function segmentFiles(dir: string): string[] {
  const walDir = path.join(dir, "wal");
  return fs
    .readdirSync(walDir)
    .filter((name) => /^\d{20}\.log$/.test(name))
    .sort()
    .map((name) => path.join(walDir, name));
}

/** Drives a WAL and the model with the same calls. */
export class Twin {
  constructor(
    public wal: import("../../src/storage/wal.ts").Wal,
    public model: Model = new Model(),
  ) {}

  append(group: GroupId, firstIndex: number, count: number, term: number, sizeBytes = 24): Entry[] {
    const entries = makeEntries(group, firstIndex, count, term, sizeBytes);
    this.wal.appendEntries(group, entries);
    this.model.group(group).append(entries);
    return entries;
  }

  hardState(group: GroupId, hardState: HardState): void {
    this.wal.setHardState(group, hardState);
    this.model.group(group).hardState = { ...hardState };
  }

  compact(group: GroupId, index: number, term: number): void {
    this.wal.markCompacted(group, index, term);
    this.model.group(group).compact(index, term);
  }

  reset(group: GroupId): void {
    this.wal.resetGroup(group);
    this.model.group(group).reset();
  }
}
