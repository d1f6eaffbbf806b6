// Opening the WAL: replay (recovery.ts), then repair what replay found so the next start reads a
// clean log. A torn tail is truncated; damage is rewritten as a self-contained base segment that
// carries the damage marks, and the damaged segments are moved to wal/quarantine/ for inspection.

import * as fs from "node:fs";
import * as path from "node:path";
import { assert } from "./assert.ts";
import { ByteWriter } from "./bytes.ts";
import { ensureDir, fsyncDir, fsyncFile, listSegments, removeTempFiles, segmentName, writeAll, writeFileAtomic, zeroChunk } from "./files.ts";
import { encodeCheckpoint, encodeEntriesSplit, type CheckpointGroup } from "./record.ts";
import { replayWal, type RecoveredGroup, type SegmentState, type TornTail } from "./recovery.ts";
import { consoleLogger, type Damage, type GroupId, type StorageLogger } from "./types.ts";
import { Wal } from "./wal.ts";

export const SEGMENT_BYTES_MAX_DEFAULT = 64 * 1024 * 1024;
/** Below this a segment would rotate on nearly every sync and the checkpoint would dominate. */
export const SEGMENT_BYTES_MIN = 4 * 1024;

export interface WalOptions {
  /** The node's data directory; segments live in `${dir}/wal/`. */
  dir: string;
  /** Default 64 MiB. A segment rotates at the first sync that brings it to this size. */
  segmentBytesMax?: number;
  /** Default true. false skips every fsync: fast, and a crash or power loss may lose acknowledged writes. */
  fsync?: boolean;
  logger?: StorageLogger;
}

export interface RecoveryReport {
  /** A torn last record (never acknowledged) that was cut off. */
  tornTail?: TornTail;
  /** Groups that must neither vote nor lead until repaired (new damage and damage still unrepaired). */
  damage?: Map<GroupId, Damage>;
  /** Why damage was declared, one line per finding; empty when none was found by this start. */
  findings: string[];
  /** Where damaged or superseded segments were moved; kept for inspection, never read again. */
  quarantineDir?: string;
  segmentsRead: number;
  recordsRead: number;
  bytesRead: number;
  durationMs: number;
}

export interface OpenedWal {
  wal: Wal;
  /** Every group the WAL knows, with its log after the compaction point. */
  recovered: Map<GroupId, RecoveredGroup>;
  report: RecoveryReport;
}

export function openWal(options: WalOptions): OpenedWal {
  const segmentBytesMax = options.segmentBytesMax ?? SEGMENT_BYTES_MAX_DEFAULT;
  assert(Number.isInteger(segmentBytesMax) && segmentBytesMax >= SEGMENT_BYTES_MIN, `segmentBytesMax must be an integer >= ${SEGMENT_BYTES_MIN}`);
  const isFsyncEnabled = options.fsync ?? true;
  const logger = options.logger ?? consoleLogger;
  const walDir = path.join(options.dir, "wal");
  const startedMs = performance.now();
  ensureDir(walDir, isFsyncEnabled);
  if (!isFsyncEnabled) {
    logger.warn("wal: fsync is DISABLED — a crash or power loss can lose writes that were acknowledged", { walDir });
  }
  for (const name of removeTempFiles(walDir)) logger.info("wal: removed leftover temp file", { file: name });

  const replay = replayWal(walDir);
  const report: RecoveryReport = {
    findings: replay.findings,
    segmentsRead: replay.segments.length,
    recordsRead: replay.recordsRead,
    bytesRead: replay.bytesRead,
    durationMs: 0,
  };
  if (replay.tornTail !== null) report.tornTail = replay.tornTail;
  if (replay.damage.size > 0) report.damage = replay.damage;
  const nextSeq = Math.max(0, ...listSegments(walDir).map((s) => s.seq)) + 1;

  let segments: SegmentState[];
  if (replay.findings.length > 0) {
    // Rewrite what survived as one base segment and set the damaged files aside, so the next start
    // reads a clean log with the damage marks instead of finding (and rewriting) the damage again.
    logger.error("wal: damage inside acknowledged data; affected groups must not vote or lead until repaired", {
      findings: replay.findings,
      damage: Object.fromEntries(replay.newDamage),
    });
    const base = writeBaseSegment(walDir, nextSeq, replay.groups, isFsyncEnabled);
    report.quarantineDir = quarantine(walDir, `before-${nextSeq}`, [...replay.staleSegments, ...replay.segments], isFsyncEnabled);
    logger.warn("wal: damaged segments moved aside", { quarantineDir: report.quarantineDir, baseSegment: base.path });
    segments = [base];
  } else {
    if (replay.staleSegments.length > 0) {
      const label = `before-${replay.segments[0]?.seq ?? nextSeq}`;
      report.quarantineDir = quarantine(walDir, label, replay.staleSegments, isFsyncEnabled);
      logger.warn("wal: segments older than the newest base segment moved aside", { quarantineDir: report.quarantineDir });
    }
    segments = replay.segments;
    if (replay.tornTail !== null) cutTornTail(replay.tornTail, isFsyncEnabled, logger);
    const last = segments[segments.length - 1];
    if (last !== undefined && last.sizeBytes === 0) {
      // The whole segment was one torn write, its checkpoint included: it never existed. (A
      // preallocated segment whose checkpoint never landed reads as non-preallocated: same rule.)
      fs.rmSync(last.path);
      if (isFsyncEnabled) fsyncDir(walDir);
      segments.pop();
    }
    if (segments.length === 0) segments = [writeBaseSegment(walDir, nextSeq, new Map(), isFsyncEnabled)];
  }
  report.durationMs = performance.now() - startedMs;

  const wal = new Wal(walDir, segments, replay.groups, { segmentBytesMax, isFsyncEnabled, logger });
  return { wal, recovered: replay.groups, report };
}

function cutTornTail(tornTail: TornTail, isFsyncEnabled: boolean, logger: StorageLogger): void {
  logger.warn("wal: torn tail cut (a write that never completed; it was not acknowledged)", { ...tornTail });
  if (!tornTail.isPreallocated) {
    fs.truncateSync(tornTail.segment, tornTail.offset);
    if (isFsyncEnabled) fsyncFile(tornTail.segment);
    return;
  }
  // A preallocated segment keeps its size: the torn bytes become zeros again, the clean end of data.
  const fd = fs.openSync(tornTail.segment, "r+");
  try {
    for (let done = 0; done < tornTail.bytesCut; ) {
      const chunk = zeroChunk(Math.min(tornTail.bytesCut - done, 1024 * 1024));
      writeAll(fd, [chunk], tornTail.offset + done);
      done += chunk.length;
    }
    if (isFsyncEnabled) fs.fdatasyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function quarantine(walDir: string, label: string, files: readonly { path: string }[], isFsyncEnabled: boolean): string {
  const target = path.join(walDir, "quarantine", label);
  ensureDir(target, isFsyncEnabled);
  for (const file of files) fs.renameSync(file.path, path.join(target, path.basename(file.path)));
  if (isFsyncEnabled) {
    fsyncDir(target);
    fsyncDir(walDir);
  }
  return target;
}

/** A segment holding the whole state (checkpoint + every live entry); older segments are obsolete. */
function writeBaseSegment(walDir: string, seq: number, groups: Map<GroupId, RecoveredGroup>, isFsyncEnabled: boolean): SegmentState {
  const writer = new ByteWriter();
  const checkpoint: CheckpointGroup[] = [];
  for (const [group, g] of groups) {
    checkpoint.push({
      group,
      hardState: g.hardState,
      compactedIndex: g.compactedIndex,
      compactedTerm: g.compactedTerm,
      lastIndex: g.compactedIndex,
      lastTerm: g.compactedTerm,
      damage: g.damage,
    });
  }
  encodeCheckpoint(writer, true, checkpoint);
  const maxIndexByGroup = new Map<GroupId, number>();
  for (const [group, g] of groups) {
    if (g.entries.length === 0) continue;
    encodeEntriesSplit(writer, group, g.entries);
    maxIndexByGroup.set(group, g.entries[g.entries.length - 1]!.index);
  }
  const segmentPath = path.join(walDir, segmentName(seq));
  writeFileAtomic(segmentPath, [writer.bytes()], isFsyncEnabled);
  return { seq, path: segmentPath, sizeBytes: writer.length, maxIndexByGroup };
}
