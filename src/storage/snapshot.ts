// Durable snapshots of each group's state machine. save() is atomic (temp file, fsync, rename,
// directory fsync): after a crash a snapshot is either whole or absent. Each file is checksummed and
// the latest two per group are kept, so a damaged newest one still leaves an older one to load.

import * as fs from "node:fs";
import * as path from "node:path";
import { assert, assertUint } from "./assert.ts";
import { ByteReader, ByteWriter, DecodeError } from "./bytes.ts";
import { ensureDir, fsyncDir, removeTempFiles, writeFileAtomic } from "./files.ts";
import { plainBytes } from "./record.ts";
import { consoleLogger, type GroupId, type Snapshot, type SnapshotMeta, type StorageLogger } from "./types.ts";

const MAGIC = new TextEncoder().encode("SKSNAP01");
const HEADER_BYTES = MAGIC.length + 4 + 4 + 8;
const SNAPSHOT_NAME = /^(\d{20})-(\d+)\.snap$/;
const GROUP_DIR_NAME = /^\d+$/;
export const SNAPSHOTS_KEPT_PER_GROUP = 2;

export interface SnapshotStoreOptions {
  /** The node's data directory; snapshots live in `${dir}/snapshots/<group>/`. */
  dir: string;
  /** Default true; false skips fsync (reported by the WAL's own flag the same way). */
  fsync?: boolean;
  logger?: StorageLogger;
}

interface SnapshotFile {
  index: number;
  term: number;
  path: string;
}

export function openSnapshotStore(options: SnapshotStoreOptions): SnapshotStore {
  return new SnapshotStore(path.join(options.dir, "snapshots"), options.fsync ?? true, options.logger ?? consoleLogger);
}

export class SnapshotStore {
  constructor(
    private readonly root: string,
    private readonly isFsyncEnabled: boolean,
    private readonly logger: StorageLogger,
  ) {
    ensureDir(root, isFsyncEnabled);
    removeTempFiles(root);
    for (const group of this.groups()) {
      for (const name of removeTempFiles(this.groupDir(group))) {
        logger.info("snapshots: removed a temp file left by an interrupted save", { group, file: name });
      }
    }
  }

  /** Durable when it returns. Older snapshots beyond the latest two of the group are deleted. */
  save(group: GroupId, meta: SnapshotMeta, data: Uint8Array): void {
    assertUint(group, 32, "group id");
    assertUint(meta.index, 64, "snapshot index");
    assertUint(meta.term, 64, "snapshot term");
    assert(data instanceof Uint8Array, "snapshot data must be a Uint8Array");
    const existing = this.list(group);
    const newest = existing[existing.length - 1];
    assert(newest === undefined || meta.index >= newest.index, `snapshot of group ${group} at ${meta.index} is older than the one at ${newest?.index}`);

    const metaBytes = new TextEncoder().encode(JSON.stringify({ index: meta.index, term: meta.term, config: meta.config }));
    const header = new ByteWriter(HEADER_BYTES);
    header.raw(MAGIC);
    header.u32(metaBytes.length);
    header.u32(Bun.hash.crc32(data, Bun.hash.crc32(metaBytes)));
    header.u64(data.length);
    const groupDir = this.groupDir(group);
    ensureDir(groupDir, this.isFsyncEnabled);
    const filePath = path.join(groupDir, `${String(meta.index).padStart(20, "0")}-${meta.term}.snap`);
    writeFileAtomic(filePath, [header.bytes(), metaBytes, data], this.isFsyncEnabled);

    const kept = this.list(group);
    for (const old of kept.slice(0, Math.max(0, kept.length - SNAPSHOTS_KEPT_PER_GROUP))) fs.rmSync(old.path, { force: true });
  }

  /** The newest snapshot that reads back intact; a damaged one is logged and skipped. */
  loadLatest(group: GroupId): Snapshot | null {
    const files = this.list(group);
    for (let i = files.length - 1; i >= 0; i--) {
      const file = files[i]!;
      const snapshot = readSnapshot(file.path);
      if (typeof snapshot !== "string") {
        if (i < files.length - 1) {
          this.logger.error("snapshots: newer snapshots were damaged; loaded an older one", { group, index: file.index });
        }
        return snapshot;
      }
      this.logger.error("snapshots: damaged snapshot skipped", { group, file: file.path, reason: snapshot });
    }
    return null;
  }

  /** Deletes every snapshot of a group that no longer exists (a deleted queue's partition). */
  drop(group: GroupId): void {
    assertUint(group, 32, "group id");
    fs.rmSync(this.groupDir(group), { recursive: true, force: true });
    if (this.isFsyncEnabled) fsyncDir(this.root);
  }

  /** Groups that have at least one snapshot file. */
  groups(): GroupId[] {
    const groups: GroupId[] = [];
    for (const name of fs.readdirSync(this.root)) {
      if (!GROUP_DIR_NAME.test(name)) continue;
      if (this.list(Number(name)).length > 0) groups.push(Number(name));
    }
    return groups.sort((a, b) => a - b);
  }

  private groupDir(group: GroupId): string {
    return path.join(this.root, String(group));
  }

  /** Snapshot files of a group, oldest first. */
  private list(group: GroupId): SnapshotFile[] {
    const dir = this.groupDir(group);
    if (!fs.existsSync(dir)) return [];
    const files: SnapshotFile[] = [];
    for (const name of fs.readdirSync(dir)) {
      const match = SNAPSHOT_NAME.exec(name);
      if (match === null) continue;
      files.push({ index: Number(match[1]), term: Number(match[2]), path: path.join(dir, name) });
    }
    return files.sort((a, b) => a.index - b.index || a.term - b.term);
  }
}

/** The snapshot in a file, or why it cannot be trusted. */
function readSnapshot(filePath: string): Snapshot | string {
  const bytes = plainBytes(fs.readFileSync(filePath));
  if (bytes.length < HEADER_BYTES) return "shorter than its header";
  for (let i = 0; i < MAGIC.length; i++) if (bytes[i] !== MAGIC[i]) return "bad magic";
  try {
    const reader = new ByteReader(bytes, MAGIC.length);
    const metaBytes = reader.u32();
    const checksum = reader.u32();
    const dataBytes = reader.u64();
    if (HEADER_BYTES + metaBytes + dataBytes !== bytes.length) return "length fields disagree with the file size";
    const metaRaw = reader.raw(metaBytes);
    const data = reader.raw(dataBytes);
    if (Bun.hash.crc32(data, Bun.hash.crc32(metaRaw)) !== checksum) return "checksum mismatch";
    const meta = parseMeta(new TextDecoder().decode(metaRaw));
    return meta === null ? "malformed metadata" : { meta, data };
  } catch (error) {
    if (error instanceof DecodeError) return error.message;
    throw error;
  }
}

function parseMeta(text: string): SnapshotMeta | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null) return null;
  const { index, term, config } = value as Record<string, unknown>;
  if (typeof index !== "number" || typeof term !== "number" || typeof config !== "object" || config === null) return null;
  const { voters, learners } = config as Record<string, unknown>;
  const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === "string");
  if (!isStringArray(voters) || !isStringArray(learners)) return null;
  return { index, term, config: { voters, learners } };
}
