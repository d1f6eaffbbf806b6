// Reads a WAL directory back into per-group state without changing any file; open.ts then acts
// on the verdict. A broken record at the very end of the last segment is a torn tail (never
// acknowledged, cut); anything else broken is damage inside acknowledged data: every group it
// may touch is frozen at that point and reported with the highest index and term still readable.

import * as fs from "node:fs";
import { GroupLog } from "./group-log.ts";
import { listSegments, zeroTailStart, type SegmentFile } from "./files.ts";
import {
  RECORD_BODY_BYTES_MAX,
  RECORD_HEADER_BYTES,
  checkFrame,
  isPlausibleBody,
  parseRecord,
  plainBytes,
  type CheckpointGroup,
  type WalRecord,
} from "./record.ts";
import type { Damage, Entry, GroupId, HardState } from "./types.ts";

/** CRC work allowed when looking for a valid record after a broken one; past it we assume damage. */
export const RESYNC_CRC_BYTES_MAX = 256 * 1024 * 1024;

export interface RecoveredGroup {
  hardState: HardState;
  compactedIndex: number;
  compactedTerm: number;
  /** Entries after the compaction point, contiguous from compactedIndex + 1. */
  entries: Entry[];
  /** Set while the group must neither vote nor lead (see Damage); persisted until clearDamage. */
  damage: Damage | null;
}

export interface TornTail {
  segment: string;
  offset: number;
  bytesCut: number;
  /** The segment is preallocated: the cut overwrites the torn bytes with zeros instead of truncating. */
  isPreallocated: boolean;
}

/** What replay learned about one segment file; the live WAL keeps it to decide deletions. */
export interface SegmentState {
  seq: number;
  path: string;
  /** Valid bytes (after a torn tail is cut): the end of data, not the file size of a preallocated segment. */
  sizeBytes: number;
  /** Per group, the highest index of a still-live entry written in this segment. */
  maxIndexByGroup: Map<GroupId, number>;
}

export interface ReplayResult {
  groups: Map<GroupId, RecoveredGroup>;
  tornTail: TornTail | null;
  /** Damage found by this replay (absent from the files' own damage marks). */
  newDamage: Map<GroupId, Damage>;
  /** Every group that must not vote or lead: newDamage plus marks persisted by earlier recoveries. */
  damage: Map<GroupId, Damage>;
  /** Human-readable reasons for every damage decision, in file order. */
  findings: string[];
  segments: SegmentState[];
  /** Segments older than the newest base segment: leftovers of an interrupted rewrite. */
  staleSegments: SegmentFile[];
  recordsRead: number;
  bytesRead: number;
}

/** One group's state while replaying: the shape, the entries still readable, and what was seen. */
class ReplayGroup {
  readonly log: GroupLog;
  /** Entries (holeEnd, log.lastIndex]; holeEnd > compactedIndex only while older segments are gone. */
  entries: Entry[] = [];
  holeEnd: number;
  /** Damage was found at or before this group's next record: nothing after it is applied. */
  isFrozen = false;
  hasNewDamage = false;
  seenIndexMax = 0;
  seenTermMax = 0;

  constructor(log: GroupLog) {
    this.log = log;
    this.holeEnd = log.lastIndex;
  }

  see(index: number, term: number): void {
    if (index > this.seenIndexMax) this.seenIndexMax = index;
    if (term > this.seenTermMax) this.seenTermMax = term;
  }

  append(entries: readonly Entry[]): void {
    const firstIndex = entries[0]!.index;
    if (firstIndex <= this.holeEnd) {
      this.holeEnd = firstIndex - 1;
      this.entries = [];
    } else if (firstIndex <= this.log.lastIndex) {
      this.entries.length = firstIndex - this.holeEnd - 1;
    }
    for (const entry of entries) this.entries.push(entry);
    this.log.applyAppend(entries);
  }

  compact(index: number, term: number, keepsSuffix: boolean): void {
    if (!keepsSuffix) {
      this.entries = [];
      this.holeEnd = index;
    } else if (index >= this.holeEnd) {
      this.entries.splice(0, index - this.holeEnd);
      this.holeEnd = index;
    }
    this.log.applyCompact(index, term, keepsSuffix);
  }

  /**
   * The log starts over empty. What earlier records said about its indices no longer describes
   * anything this node holds: a damage report's index starts again from here (terms stay seen,
   * as the hard state's term and vote stay).
   */
  reset(): void {
    this.entries = [];
    this.holeEnd = 0;
    this.seenIndexMax = 0;
    this.log.applyReset();
  }

  get hasHole(): boolean {
    return this.holeEnd > this.log.compactedIndex;
  }
}

class Replay {
  readonly groups = new Map<GroupId, ReplayGroup>();
  readonly findings: string[] = [];
  readonly segments: SegmentState[] = [];
  tornTail: TornTail | null = null;
  /** Unattributable damage was found: every group, including ones first seen later, is frozen. */
  isAllFrozen = false;
  recordsRead = 0;
  bytesRead = 0;

  private group(id: GroupId): ReplayGroup {
    let group = this.groups.get(id);
    if (group === undefined) {
      group = new ReplayGroup(new GroupLog(id));
      if (this.isAllFrozen) {
        group.isFrozen = true;
        group.hasNewDamage = true;
      }
      this.groups.set(id, group);
    }
    return group;
  }

  damageAll(reason: string): void {
    this.findings.push(reason);
    this.isAllFrozen = true;
    for (const group of this.groups.values()) {
      group.isFrozen = true;
      group.hasNewDamage = true;
    }
  }

  damageGroup(id: GroupId, reason: string): void {
    this.findings.push(`group ${id}: ${reason}`);
    const group = this.group(id);
    group.isFrozen = true;
    group.hasNewDamage = true;
  }

  readSegment(file: SegmentFile, bytes: Uint8Array, isStart: boolean, isLast: boolean): void {
    const state: SegmentState = { seq: file.seq, path: file.path, sizeBytes: bytes.length, maxIndexByGroup: new Map() };
    this.segments.push(state);
    this.bytesRead += bytes.length;
    const where = (offset: number) => `segment ${file.seq} offset ${offset}`;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let offset = 0;
    /** From the head checkpoint's flags: zeros after the data are the preallocated rest, no tear. */
    let isPreallocated = false;
    while (offset < bytes.length) {
      const result = parseRecord(bytes, offset, view);
      if (result.status === "ok") {
        this.recordsRead++;
        const isCheckpoint = result.record.kind === "checkpoint";
        if (offset === 0 && result.record.kind === "checkpoint") isPreallocated = result.record.isPreallocated;
        if (isCheckpoint !== (offset === 0)) {
          this.damageAll(`${where(offset)}: ${isCheckpoint ? "checkpoint inside a segment" : "segment does not start with a checkpoint"}`);
        }
        this.observe(result.record);
        this.apply(result.record, isStart && offset === 0, state, offset);
        offset = result.endOffset;
        continue;
      }
      if (result.status === "malformed") {
        // The checksum held, so this is no torn write: a bug or a format we do not know.
        this.damageAll(`${where(offset)}: malformed record (${result.reason})`);
        offset = result.endOffset;
        continue;
      }
      // No valid record can start inside a run of zeros (its length would be 0): search only
      // before it. In a preallocated last segment, nothing but zeros from here on is the clean end.
      const dataEnd = zeroTailStart(bytes, offset);
      if (isPreallocated && isLast && dataEnd === offset) {
        state.sizeBytes = offset;
        return;
      }
      const next = findNextValidRecord(bytes, offset + 1, dataEnd - 1);
      if (next === "none" && isLast) {
        const bytesCut = (isPreallocated ? dataEnd : bytes.length) - offset;
        this.tornTail = { segment: file.path, offset, bytesCut, isPreallocated };
        state.sizeBytes = offset;
        return;
      }
      if (next === "none") {
        this.damageAll(`${where(offset)}: ${result.status} record ends a segment that is not the last`);
        return;
      }
      if (next === "budgetExhausted") {
        this.damageAll(`${where(offset)}: ${result.status} record; gave up looking for valid records after it`);
        return;
      }
      this.damageAll(`${where(offset)}: ${result.status} record followed by valid records at ${next}`);
      offset = next;
    }
  }

  /** Note the highest index and term each readable record mentions, trusted or not. */
  private observe(record: WalRecord): void {
    switch (record.kind) {
      case "entries": {
        const group = this.group(record.group);
        for (const entry of record.entries) group.see(entry.index, entry.term);
        return;
      }
      case "hardState":
        this.group(record.group).see(record.hardState.commit, record.hardState.term);
        return;
      case "compacted":
        this.group(record.group).see(record.index, record.term);
        return;
      case "checkpoint":
        for (const g of record.groups) {
          const group = this.group(g.group);
          group.see(Math.max(g.lastIndex, g.compactedIndex, g.hardState.commit), Math.max(g.lastTerm, g.hardState.term));
          if (g.damage !== null) group.see(g.damage.index, g.damage.term);
        }
        return;
      case "damageCleared":
      case "groupReset":
        // A reset lowers the seen index only where it is applied (apply): in a group frozen
        // before it, the old log is what recovery returns, and its damage must cover all of it.
        this.group(record.group);
        return;
    }
  }

  private apply(record: WalRecord, isStartCheckpoint: boolean, segment: SegmentState, offset: number): void {
    // Built only when damage is found: replay applies millions of records.
    const where = () => `segment ${segment.seq} offset ${offset}`;
    if (record.kind === "checkpoint") {
      this.applyCheckpoint(record.groups, isStartCheckpoint, where);
      return;
    }
    const group = this.group(record.group);
    if (group.isFrozen) return;
    switch (record.kind) {
      case "entries": {
        const problem = group.log.checkAppend(record.entries);
        if (problem !== null) return this.damageGroup(record.group, `${where()}: ${problem}`);
        const firstIndex = record.entries[0]!.index;
        if (firstIndex <= group.log.lastIndex) clampSegments(this.segments, record.group, firstIndex - 1);
        group.append(record.entries);
        const maxIndex = segment.maxIndexByGroup.get(record.group) ?? 0;
        segment.maxIndexByGroup.set(record.group, Math.max(maxIndex, group.log.lastIndex));
        return;
      }
      case "hardState": {
        const problem = group.log.checkHardState(record.hardState);
        if (problem !== null) return this.damageGroup(record.group, `${where()}: ${problem}`);
        group.log.applyHardState(record.hardState);
        return;
      }
      case "compacted": {
        const problem = checkCompactRecord(group.log, record.index, record.term, record.keepsSuffix);
        if (problem !== null) return this.damageGroup(record.group, `${where()}: ${problem}`);
        group.compact(record.index, record.term, record.keepsSuffix);
        return;
      }
      case "damageCleared":
        group.log.damage = null;
        return;
      case "groupReset":
        forgetGroupEntries(this.segments, record.group);
        group.reset();
        return;
    }
  }

  private applyCheckpoint(checkpoint: CheckpointGroup[], isStart: boolean, where: () => string): void {
    if (isStart) {
      for (const g of checkpoint) {
        const group = new ReplayGroup(GroupLog.fromCheckpoint(g));
        const seen = this.groups.get(g.group);
        if (seen !== undefined) group.see(seen.seenIndexMax, seen.seenTermMax);
        this.groups.set(g.group, group);
      }
      return;
    }
    // A later checkpoint restates what replay already built; any difference is damage.
    const listed = new Set<GroupId>();
    for (const g of checkpoint) {
      listed.add(g.group);
      const group = this.groups.get(g.group);
      if (group === undefined || group.isFrozen) continue;
      if (!group.log.matchesCheckpoint(g)) this.damageGroup(g.group, `${where()}: checkpoint disagrees with the replayed log`);
    }
    for (const [id, group] of this.groups) {
      if (!listed.has(id) && !group.isFrozen) this.damageGroup(id, `${where()}: checkpoint omits the group`);
    }
  }

  finish(staleSegments: SegmentFile[]): ReplayResult {
    const groups = new Map<GroupId, RecoveredGroup>();
    const newDamage = new Map<GroupId, Damage>();
    const damage = new Map<GroupId, Damage>();
    for (const [id, group] of this.groups) {
      const log = group.log;
      if (group.hasHole && !group.hasNewDamage) {
        group.hasNewDamage = true;
        this.findings.push(`group ${id}: entries ${log.compactedIndex + 1}..${group.holeEnd} are in no segment and were not compacted`);
      }
      // Entries after a hole cannot be used: Raft needs the log contiguous from the compaction point.
      const entries = group.hasHole ? [] : group.entries;
      const lastIndex = entries.length > 0 ? entries[entries.length - 1]!.index : log.compactedIndex;
      // Hard states are written after their batch's entries, so a commit beyond the log means
      // committed entries were lost. Recovery hands Raft a commit it can hold (commit is volatile).
      if (log.hardState.commit > lastIndex && !group.hasNewDamage) {
        group.hasNewDamage = true;
        this.findings.push(`group ${id}: commit ${log.hardState.commit} is beyond the last readable index ${lastIndex}`);
      }
      const hardState = { ...log.hardState, commit: Math.min(log.hardState.commit, lastIndex) };
      let groupDamage = log.damage;
      if (group.hasNewDamage) {
        const found = {
          index: Math.max(group.seenIndexMax, lastIndex, log.damage?.index ?? 0),
          term: Math.max(group.seenTermMax, log.damage?.term ?? 0),
        };
        newDamage.set(id, found);
        groupDamage = found;
      }
      if (groupDamage !== null) damage.set(id, groupDamage);
      groups.set(id, { hardState, compactedIndex: log.compactedIndex, compactedTerm: log.compactedTerm, entries, damage: groupDamage });
    }
    return {
      groups,
      tornTail: this.tornTail,
      newDamage,
      damage,
      findings: this.findings,
      segments: this.segments,
      staleSegments,
      recordsRead: this.recordsRead,
      bytesRead: this.bytesRead,
    };
  }
}

/** An overwrite retires older copies of the suffix: they no longer keep their segments alive. */
export function clampSegments(segments: readonly SegmentState[], group: GroupId, keepIndexMax: number): void {
  for (const segment of segments) {
    const maxIndex = segment.maxIndexByGroup.get(group);
    if (maxIndex !== undefined && maxIndex > keepIndexMax) segment.maxIndexByGroup.set(group, keepIndexMax);
  }
}

/**
 * A reset retires every entry the group has written so far; returns the segments that held any.
 * (The live WAL calls this before the reset is durable and keeps those segments until it is.)
 */
export function forgetGroupEntries(segments: readonly SegmentState[], group: GroupId): SegmentState[] {
  const held: SegmentState[] = [];
  for (const segment of segments) {
    if (segment.maxIndexByGroup.delete(group)) held.push(segment);
  }
  return held;
}

function checkCompactRecord(log: GroupLog, index: number, term: number, keepsSuffix: boolean): string | null {
  const problem = log.checkCompact(index, term);
  if (problem !== null) return problem;
  if (index === log.compactedIndex) return null;
  if (keepsSuffix && index > log.lastIndex) return `compaction at ${index} keeps a suffix beyond last index ${log.lastIndex}`;
  const knownTerm = log.termAt(index);
  if (knownTerm !== undefined && (knownTerm === term) !== keepsSuffix) {
    return `compaction at ${index} term ${term} disagrees with the log's term ${knownTerm}`;
  }
  return null;
}

/**
 * The offset of the first record starting in [from, startMax] whose framing and checksum hold,
 * "none" if there is none, or "budgetExhausted" when a long run of garbage made the search too
 * costly to finish.
 */
export function findNextValidRecord(bytes: Uint8Array, from: number, startMax = bytes.length): number | "none" | "budgetExhausted" {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let crcBytesLeft = RESYNC_CRC_BYTES_MAX;
  const last = Math.min(bytes.length - RECORD_HEADER_BYTES - 1, startMax);
  for (let offset = from; offset <= last; offset++) {
    const bodyBytes = view.getUint32(offset, true);
    if (bodyBytes === 0 || bodyBytes > RECORD_BODY_BYTES_MAX) continue;
    if (offset + RECORD_HEADER_BYTES + bodyBytes > bytes.length) continue;
    if (!isPlausibleBody(bytes, view, offset + RECORD_HEADER_BYTES, bodyBytes)) continue;
    crcBytesLeft -= bodyBytes;
    if (crcBytesLeft < 0) return "budgetExhausted";
    if (checkFrame(bytes, view, offset) === "ok") return offset;
  }
  return "none";
}

/** The first record of a segment, if it reads cleanly (used to find the newest base segment). */
function readFirstRecord(filePath: string): WalRecord | null {
  const fd = fs.openSync(filePath, "r");
  try {
    const header = new Uint8Array(RECORD_HEADER_BYTES);
    if (fs.readSync(fd, header, 0, RECORD_HEADER_BYTES, 0) !== RECORD_HEADER_BYTES) return null;
    const bodyBytes = new DataView(header.buffer).getUint32(0, true);
    if (bodyBytes === 0 || bodyBytes > RECORD_BODY_BYTES_MAX) return null;
    const record = new Uint8Array(RECORD_HEADER_BYTES + bodyBytes);
    if (fs.readSync(fd, record, 0, record.length, 0) !== record.length) return null;
    const result = parseRecord(record, 0);
    return result.status === "ok" ? result.record : null;
  } finally {
    fs.closeSync(fd);
  }
}

function isBaseSegment(file: SegmentFile): boolean {
  const record = readFirstRecord(file.path);
  return record !== null && record.kind === "checkpoint" && record.isBase;
}

/** Replay every segment from the newest base on. Reads only; the caller repairs. */
export function replayWal(walDir: string): ReplayResult {
  const files = listSegments(walDir);
  let start = files.length - 1;
  while (start > 0 && !isBaseSegment(files[start]!)) start--;
  start = Math.max(start, 0);
  const replay = new Replay();
  for (let i = start; i < files.length; i++) {
    const file = files[i]!;
    const previous = files[i - 1];
    if (i > start && previous !== undefined && file.seq !== previous.seq + 1) {
      replay.damageAll(`segments ${previous.seq + 1}..${file.seq - 1} are missing`);
    }
    const bytes = plainBytes(fs.readFileSync(file.path));
    replay.readSegment(file, bytes, i === start, i === files.length - 1);
  }
  return replay.finish(files.slice(0, start));
}
