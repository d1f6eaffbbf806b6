// The node's one write-ahead log, shared by every Raft group it hosts. Calls only buffer; sync()
// writes everything buffered with one writev and one fdatasync (group commit), and once it returns
// all of it survives kill -9 and power loss. Segments rotate at segmentBytesMax, each starting with
// a checkpoint of every group, so old segments can go once compaction has passed their entries.
// With fsync on, the next segment is zero-filled in the background while the active one fills:
// overwriting real zeros makes each fdatasync cheaper than extending the file.

import * as fs from "node:fs";
import * as path from "node:path";
import { StorageAssertionError, assert, assertUint } from "./assert.ts";
import { ByteWriter } from "./bytes.ts";
import { TEMP_SUFFIX, fsyncDir, segmentName, writeAll } from "./files.ts";
import { GroupLog } from "./group-log.ts";
import {
  ENTRIES_RECORD_OVERHEAD_BYTES,
  RECORD_BODY_BYTES_MAX,
  RECORD_HEADER_BYTES,
  encodeCheckpoint,
  encodeCompacted,
  encodeDamageCleared,
  encodeEntriesSplit,
  encodeGroupReset,
  encodeHardState,
  entryEncodedBytes,
  type CheckpointGroup,
} from "./record.ts";
import { clampSegments, forgetGroupEntries, type RecoveredGroup, type SegmentState } from "./recovery.ts";
import type { Entry, GroupId, HardState, StorageLogger } from "./types.ts";

/** After a sync the write buffer shrinks back to this if one large tick grew it. */
const PENDING_BYTES_KEEP_MAX = 4 * 1024 * 1024;
/** Size of one encoded hard-state record without its vote id, for pendingBytes. */
const HARD_STATE_RECORD_BYTES = RECORD_HEADER_BYTES + 1 + 4 + 8 + 8 + 2;
/** Preallocation writes zeros in chunks of this size (async, off the sync path). */
const PREALLOCATE_CHUNK_BYTES = 1024 * 1024;

/** What a sync wrote, for the bookkeeping once it is durable. */
interface PendingWrite {
  /** The segment written to (a rotation inside this sync switched to it). */
  fd: number;
  startedMs: number;
  /** Each group's compaction point as written by this sync; null when no segment can be deleted. */
  compactedIndexes: ReadonlyMap<GroupId, number> | null;
  /** Counts writes; once this one is durable, so is every earlier one (syncs run one at a time). */
  writeNumber: number;
}

/** fdatasync on libuv's thread pool: the event loop goes on while the disk works. */
function fdatasyncOffThread(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fdatasync(fd, (error) => (error ? reject(error) : resolve())));
}

/** The next segment being zero-filled as `NNN.log.tmp`; renamed into place at rotation once ready. */
interface Preallocation {
  seq: number;
  tempPath: string;
  isReady: boolean;
}

/** Upper bounds (ms) of the sync latency histogram's buckets (+Inf is implicit). */
export const WAL_SYNC_BUCKETS_MS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000] as const;

/** The sync latency histogram as stats() reports it: cumulative counts, the last one +Inf (= syncs). */
export interface WalSyncHistogram {
  boundsMs: number[];
  counts: number[];
  sumMs: number;
  count: number;
}

export interface WalStats {
  segments: number;
  /** Bytes of data in all live segments (a preallocated segment's zeros not counted). */
  bytes: number;
  syncs: number;
  syncMsTotal: number;
  syncMsMax: number;
  /** Wall time of each sync (write and fdatasync), as a histogram. */
  syncLatencyMs: WalSyncHistogram;
  bytesWritten: number;
  recordsWritten: number;
  entriesWritten: number;
  /** Segments opened by rotation since this WAL was opened. */
  segmentsCreated: number;
  segmentsDeleted: number;
  /** Zeros written ahead into next segments (completed preallocations). */
  preallocatedBytes: number;
  /** Wall time of completed preallocations (async: not spent inside sync()). */
  preallocateMsTotal: number;
  /** Segments opened by rotation onto a preallocated file. */
  segmentsPreallocated: number;
  groups: number;
  pendingBytes: number;
  fsync: boolean;
  /** Shown in STATUS and logs: "fsync" is the only mode that keeps acknowledged writes on power loss. */
  durability: "fsync" | "UNSAFE-no-fsync";
}

/** A copy of one group as the WAL sees it, buffered (not yet synced) calls included. */
export type WalGroupState = Omit<CheckpointGroup, "group">;

export interface WalConfig {
  segmentBytesMax: number;
  isFsyncEnabled: boolean;
  logger: StorageLogger;
}

export class Wal {
  private readonly groups = new Map<GroupId, GroupLog>();
  private readonly pending = new ByteWriter();
  /**
   * The latest hard state per group since the last sync. Written after the tick's other records,
   * so a torn batch can never keep a commit index whose entries it lost (etcd orders its WAL alike).
   */
  private readonly pendingHardStates = new Map<GroupId, HardState>();
  /** Per group, the highest index appended since the last sync (goes to the active segment). */
  private readonly pendingMaxIndex = new Map<GroupId, number>();
  private readonly touchedGroups = new Set<GroupId>();
  /**
   * The checkpoint that will open the next segment, encoded when the active one filled up; in two
   * variants, as whether the next segment is preallocated is only known at rotation.
   */
  private nextCheckpoint: { plain: Uint8Array; preallocated: Uint8Array } | null = null;
  private preallocation: Preallocation | null = null;
  /** A preallocation of this segment failed (logged); it is created unpreallocated. */
  private preallocationFailedSeq = -1;
  private fd: number;
  private failure: Error | null = null;
  private isClosed = false;
  private syncInFlight = false;
  private writesStarted = 0;
  /**
   * Segment seq → the write that carries a reset which retired entries in it. A reset forgets the
   * group's entries in every segment when called; until that write is durable, a crash would bring
   * them back, so the segment must stay.
   */
  private readonly resetPins = new Map<number, number>();
  private pendingRecords = 0;
  private pendingEntries = 0;
  private readonly counters = {
    syncs: 0,
    syncMsTotal: 0,
    syncMsMax: 0,
    bytesWritten: 0,
    recordsWritten: 0,
    entriesWritten: 0,
    segmentsCreated: 0,
    segmentsDeleted: 0,
    preallocatedBytes: 0,
    preallocateMsTotal: 0,
    segmentsPreallocated: 0,
  };
  /** Syncs per bucket of WAL_SYNC_BUCKETS_MS (non-cumulative; the last counts those above all bounds). */
  private readonly syncBuckets = new Array<number>(WAL_SYNC_BUCKETS_MS.length + 1).fill(0);

  /** Use openWal(); this takes over the segments recovery left in place, the last one active. */
  constructor(
    private readonly walDir: string,
    private readonly segments: SegmentState[],
    recovered: Map<GroupId, RecoveredGroup>,
    private readonly config: WalConfig,
  ) {
    assert(segments.length > 0, "the WAL needs an active segment");
    for (const [id, g] of recovered) this.groups.set(id, groupLogFromRecovered(id, g));
    // No O_APPEND: writes go to the end of data, which in a preallocated segment is not its size.
    this.fd = fs.openSync(this.active.path, fs.constants.O_WRONLY);
    if (this.active.sizeBytes >= config.segmentBytesMax) this.nextCheckpoint = this.encodeCheckpoint();
  }

  private get active(): SegmentState {
    return this.segments[this.segments.length - 1]!;
  }

  /** Bytes the next sync will write (a new segment's checkpoint not included). */
  get pendingBytes(): number {
    let bytes = this.pending.length;
    for (const hardState of this.pendingHardStates.values()) {
      bytes += HARD_STATE_RECORD_BYTES + (hardState.vote === null ? 0 : Buffer.byteLength(hardState.vote));
    }
    return bytes;
  }

  get isFsyncEnabled(): boolean {
    return this.config.isFsyncEnabled;
  }

  // ------------------------------------------------------------ buffered calls

  /** Buffer entries; a first index at or below the last index replaces the log from there on. */
  appendEntries(group: GroupId, entries: readonly Entry[]): void {
    this.checkUsable();
    const log = this.groupLog(group);
    const problem = log.checkAppend(entries);
    assert(problem === null, `appendEntries: ${problem}`);
    for (const entry of entries) {
      assert(
        entryEncodedBytes(entry) + ENTRIES_RECORD_OVERHEAD_BYTES <= RECORD_BODY_BYTES_MAX,
        `entry ${entry.index} of ${entry.data.length} bytes exceeds the WAL record maximum`,
      );
    }
    this.groups.set(group, log);
    const firstIndex = entries[0]!.index;
    if (firstIndex <= log.lastIndex) clampSegments(this.segments, group, firstIndex - 1);
    this.pendingRecords += encodeEntriesSplit(this.pending, group, entries);
    this.pendingEntries += entries.length;
    log.applyAppend(entries);
    this.pendingMaxIndex.set(group, log.lastIndex);
    this.touchedGroups.add(group);
  }

  /**
   * Buffer a hard state; the latest one wins. Unchanged hard states write nothing. At sync its
   * commit must not exceed the group's last index (Raft never commits what it does not hold).
   */
  setHardState(group: GroupId, hardState: HardState): void {
    this.checkUsable();
    const log = this.groupLog(group);
    const current = log.hardState;
    if (current.term === hardState.term && current.vote === hardState.vote && current.commit === hardState.commit) return;
    const problem = log.checkHardState(hardState);
    assert(problem === null, `setHardState: ${problem}`);
    this.groups.set(group, log);
    log.applyHardState(hardState);
    this.pendingHardStates.set(group, log.hardState);
    this.touchedGroups.add(group);
  }

  /**
   * Buffer "the log through (index, term) is in a snapshot". Entries up to index may be discarded;
   * the entries after it are kept only if the log has (index, term) itself (Raft §7). Save the
   * snapshot durably first: once this is synced, those entries may be gone.
   */
  markCompacted(group: GroupId, index: number, term: number): void {
    this.checkUsable();
    const log = this.groupLog(group);
    const problem = log.checkCompact(index, term);
    assert(problem === null, `markCompacted: ${problem}`);
    if (index === log.compactedIndex) return;
    this.groups.set(group, log);
    const keepsSuffix = log.keepsSuffixAfter(index, term);
    encodeCompacted(this.pending, group, index, term, keepsSuffix);
    this.pendingRecords++;
    log.applyCompact(index, term, keepsSuffix);
    this.touchedGroups.add(group);
  }

  /** Buffer "this group was repaired": the damage mark found at recovery is dropped for good. */
  clearDamage(group: GroupId): void {
    this.checkUsable();
    const log = this.groups.get(group);
    if (log === undefined || log.damage === null) return;
    encodeDamageCleared(this.pending, group);
    this.pendingRecords++;
    log.damage = null;
  }

  /**
   * Buffer "this group's log starts over, empty": for a replica that left the group, and may later
   * rejoin it as a new member under the same id. Its entries and compaction point go, commit
   * becomes 0, term and vote stay (a node never votes twice in a term, even across a rejoin);
   * entries may then start again at index 1. A damage mark keeps only its term (GroupLog.applyReset).
   * A group the WAL does not know is left alone: it has nothing to drop, and its first later call
   * starts it empty anyway. Drop the group's snapshots separately; the WAL holds none.
   */
  resetGroup(group: GroupId): void {
    this.checkUsable();
    const log = this.groups.get(group);
    if (log === undefined) return;
    encodeGroupReset(this.pending, group);
    this.pendingRecords++;
    log.applyReset();
    // Entries buffered before the reset are written, but retired by it in the same write.
    this.pendingMaxIndex.delete(group);
    for (const segment of forgetGroupEntries(this.segments, group)) this.resetPins.set(segment.seq, this.writesStarted + 1);
    // A hard state buffered before the reset would be written after it (hard states go last):
    // the reset's own hard state takes its place, so its term and vote are kept and its commit is not.
    if (this.pendingHardStates.has(group)) this.pendingHardStates.set(group, log.hardState);
    this.touchedGroups.add(group);
  }

  // ------------------------------------------------------------ sync

  /** Write everything buffered (one writev) and make it durable (one fdatasync), blocking. */
  sync(): void {
    const written = this.writePending();
    if (written === null) return;
    try {
      if (this.config.isFsyncEnabled) fs.fdatasyncSync(written.fd);
    } catch (error) {
      this.fail(error instanceof Error ? error : new Error(String(error)));
    }
    this.finishSync(written);
  }

  /**
   * Like sync(), but the fdatasync runs on a worker thread, so the event loop keeps reading
   * sockets (and buffering the next batch) while the disk works. Everything buffered before the
   * call is durable when the promise resolves. No other sync may start before it settles: the
   * host runs one at a time (calls made meanwhile buffer for the next one).
   */
  async syncAsync(): Promise<void> {
    const written = this.writePending();
    if (written === null) return;
    if (this.config.isFsyncEnabled) {
      this.syncInFlight = true;
      try {
        await fdatasyncOffThread(written.fd);
      } catch (error) {
        this.fail(error instanceof Error ? error : new Error(String(error)));
      } finally {
        this.syncInFlight = false;
      }
    }
    this.finishSync(written);
  }

  /** An async sync is waiting for the disk (the caller must not sync again before it settles). */
  get isSyncInFlight(): boolean {
    return this.syncInFlight;
  }

  /** Writes the buffer (and a rotation's checkpoint) to the page cache; null when nothing was buffered. */
  private writePending(): PendingWrite | null {
    this.checkUsable();
    assert(!this.syncInFlight, "wal: a sync was started while another one is waiting for the disk");
    if (this.pending.length === 0 && this.pendingHardStates.size === 0) return null;
    const startedMs = performance.now();
    this.checkCommitsHeld();
    const writeNumber = ++this.writesStarted;
    for (const [group, hardState] of this.pendingHardStates) encodeHardState(this.pending, group, hardState);
    this.pendingRecords += this.pendingHardStates.size;
    const chunks: Uint8Array[] = [];
    const isNewSegment = this.nextCheckpoint !== null;
    try {
      if (this.nextCheckpoint !== null) {
        const isPreallocated = this.openNextSegment();
        chunks.push(isPreallocated ? this.nextCheckpoint.preallocated : this.nextCheckpoint.plain);
      }
      chunks.push(this.pending.bytes());
      const writtenBytes = writeAll(this.fd, chunks, this.active.sizeBytes);
      // The directory entry of a new segment is made durable here, before its data's fdatasync.
      if (isNewSegment && this.config.isFsyncEnabled) fsyncDir(this.walDir);
      this.active.sizeBytes += writtenBytes;
      this.counters.bytesWritten += writtenBytes;
    } catch (error) {
      // After a failed write or fsync the kernel may have dropped dirty pages: never retry (fsyncgate).
      this.fail(error instanceof Error ? error : new Error(String(error)));
    }
    this.nextCheckpoint = null;
    for (const [group, maxIndex] of this.pendingMaxIndex) {
      const current = this.active.maxIndexByGroup.get(group) ?? 0;
      this.active.maxIndexByGroup.set(group, Math.max(current, maxIndex));
    }
    this.pendingMaxIndex.clear();
    this.pendingHardStates.clear();
    this.touchedGroups.clear();
    this.pending.reset(PENDING_BYTES_KEEP_MAX);
    this.counters.recordsWritten += this.pendingRecords;
    this.counters.entriesWritten += this.pendingEntries;
    this.pendingRecords = 0;
    this.pendingEntries = 0;
    // Encoded now, while the groups' state is exactly what is written (nothing buffered yet):
    // calls made while the disk works buffer records that must follow the checkpoint, not be in it.
    if (this.active.sizeBytes >= this.config.segmentBytesMax) this.nextCheckpoint = this.encodeCheckpoint();
    // Likewise the compaction points this write makes durable (only needed when a segment may go).
    const compactedIndexes = this.segments.length > 1 ? new Map([...this.groups].map(([group, log]) => [group, log.compactedIndex])) : null;
    return { fd: this.fd, startedMs, compactedIndexes, writeNumber };
  }

  /** After the fdatasync: what depends on the written records being durable. */
  private finishSync(written: PendingWrite): void {
    // Compaction marks written by this sync are durable now: old segments may go (by those marks
    // only: one buffered while the disk worked is not durable yet).
    if (written.compactedIndexes !== null) this.deleteObsoleteSegments(written.compactedIndexes, written.writeNumber);
    this.startPreallocation();
    const elapsedMs = performance.now() - written.startedMs;
    this.counters.syncs++;
    this.counters.syncMsTotal += elapsedMs;
    if (elapsedMs > this.counters.syncMsMax) this.counters.syncMsMax = elapsedMs;
    let bucket = 0;
    while (bucket < WAL_SYNC_BUCKETS_MS.length && elapsedMs > WAL_SYNC_BUCKETS_MS[bucket]!) bucket++;
    this.syncBuckets[bucket]! += 1;
  }

  /**
   * A commit index beyond the log means the caller lost committed entries (an overwrite below
   * commit, a snapshot behind it): a bug that must not reach the disk. The WAL stops here.
   */
  private checkCommitsHeld(): void {
    for (const group of this.touchedGroups) {
      const log = this.groups.get(group)!;
      if (log.hardState.commit > log.lastIndex) {
        this.fail(new StorageAssertionError(`group ${group}: commit ${log.hardState.commit} is beyond the last index ${log.lastIndex}`));
      }
    }
  }

  private fail(error: Error): never {
    this.failure = error;
    this.config.logger.error("wal: the WAL stopped and refuses further writes", { error: error.message });
    throw error;
  }

  /**
   * Make segment N+1 the active one: the preallocated file if its zero-fill is done, else a new
   * empty file. Returns whether it is preallocated. The caller writes its checkpoint at offset 0,
   * then fdatasyncs it and fsyncs the directory.
   */
  private openNextSegment(): boolean {
    const seq = this.active.seq + 1;
    const segmentPath = path.join(this.walDir, segmentName(seq));
    this.cutZeroTail();
    const preallocation = this.preallocation;
    // One that is still filling is abandoned: it removes its own temp file when it finishes.
    this.preallocation = null;
    let fd: number;
    const isPreallocated = preallocation !== null && preallocation.isReady && preallocation.seq === seq;
    if (isPreallocated) {
      assert(!fs.existsSync(segmentPath), `segment ${segmentPath} already exists`);
      fs.renameSync(preallocation.tempPath, segmentPath);
      fd = fs.openSync(segmentPath, fs.constants.O_WRONLY);
      this.counters.segmentsPreallocated++;
    } else {
      fd = fs.openSync(segmentPath, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o644);
    }
    fs.closeSync(this.fd);
    this.fd = fd;
    this.segments.push({ seq, path: segmentPath, sizeBytes: 0, maxIndexByGroup: new Map() });
    this.counters.segmentsCreated++;
    return isPreallocated;
  }

  /**
   * A segment that stops being the last must end at its data: recovery reads zeros after the data
   * as a clean end only in the last segment, and a WAL reopened with a smaller segmentBytesMax must
   * not find a non-last segment with a zero tail (that would read as damage). Done (and made
   * durable) before the next segment appears in the directory.
   */
  private cutZeroTail(): void {
    if (fs.fstatSync(this.fd).size <= this.active.sizeBytes) return;
    fs.ftruncateSync(this.fd, this.active.sizeBytes);
    if (this.config.isFsyncEnabled) fs.fdatasyncSync(this.fd);
  }

  /**
   * Once the active segment is half full (fsync on only: without fsync there is nothing to gain),
   * zero-fill the next one as `NNN.log.tmp` with async writes, off the sync path. A crash leaves
   * only a temp file, which open removes.
   */
  private startPreallocation(): void {
    if (!this.config.isFsyncEnabled || this.preallocation !== null || this.failure !== null || this.isClosed) return;
    if (this.active.sizeBytes * 2 < this.config.segmentBytesMax) return;
    const seq = this.active.seq + 1;
    if (seq === this.preallocationFailedSeq) return;
    const preallocation: Preallocation = { seq, tempPath: path.join(this.walDir, segmentName(seq) + TEMP_SUFFIX), isReady: false };
    this.preallocation = preallocation;
    void this.fillSegment(preallocation);
  }

  private async fillSegment(preallocation: Preallocation): Promise<void> {
    const startedMs = performance.now();
    const sizeBytes = this.config.segmentBytesMax;
    const isCurrent = () => this.preallocation === preallocation && !this.isClosed && this.failure === null;
    let handle: fs.promises.FileHandle | null = null;
    let inode = -1;
    try {
      // wx: never truncate a file someone else (an abandoned fill of an earlier WAL instance) owns.
      handle = await fs.promises.open(preallocation.tempPath, "wx", 0o644);
      inode = fs.fstatSync(handle.fd).ino;
      const zeros = new Uint8Array(PREALLOCATE_CHUNK_BYTES);
      for (let at = 0; at < sizeBytes && isCurrent(); ) {
        const { bytesWritten } = await handle.write(zeros, 0, Math.min(zeros.length, sizeBytes - at), at);
        if (bytesWritten <= 0) throw new Error(`preallocation wrote ${bytesWritten} bytes`);
        at += bytesWritten;
      }
      if (isCurrent()) await handle.datasync();
      await handle.close();
      handle = null;
      if (isCurrent()) {
        preallocation.isReady = true;
        this.counters.preallocatedBytes += sizeBytes;
        this.counters.preallocateMsTotal += performance.now() - startedMs;
        return;
      }
    } catch (error) {
      this.config.logger.warn("wal: could not preallocate the next segment; it will be created empty", {
        segment: preallocation.tempPath,
        error: String(error),
      });
      this.preallocationFailedSeq = preallocation.seq;
    }
    if (handle !== null) await handle.close().catch(() => {});
    removeOwnTempFile(preallocation.tempPath, inode);
    if (this.preallocation === preallocation) this.preallocation = null;
  }

  /** The state every later segment starts from, so the ones before it can be deleted. */
  private encodeCheckpoint(): { plain: Uint8Array; preallocated: Uint8Array } {
    const groups = [...this.groups.values()].map((log) => log.toCheckpoint());
    const encode = (isPreallocated: boolean) => {
      const writer = new ByteWriter(RECORD_HEADER_BYTES + 64 * (this.groups.size + 1));
      encodeCheckpoint(writer, false, groups, isPreallocated);
      return writer.bytes().slice();
    };
    return { plain: encode(false), preallocated: encode(true) };
  }

  /**
   * Delete the oldest segments whose every entry is compacted (or overwritten, or retired by a
   * durable reset). Only the oldest go, each unlink made durable before the next, so a crash never
   * leaves a gap in the sequence. `durableWrite`: every write up to this one is durable.
   */
  private deleteObsoleteSegments(compactedIndexes: ReadonlyMap<GroupId, number>, durableWrite: number): void {
    while (this.segments.length > 1) {
      const oldest = this.segments[0]!;
      if ((this.resetPins.get(oldest.seq) ?? 0) > durableWrite) return;
      // A reset group's compaction point belongs to its new log: resetGroup already forgot the old one's entries.
      for (const [group, maxIndex] of oldest.maxIndexByGroup) {
        if (maxIndex > (compactedIndexes.get(group) ?? 0)) return;
      }
      try {
        fs.rmSync(oldest.path, { force: true });
        if (this.config.isFsyncEnabled) fsyncDir(this.walDir);
      } catch (error) {
        this.config.logger.warn("wal: could not delete an obsolete segment; will retry", { segment: oldest.path, error: String(error) });
        return;
      }
      this.segments.shift();
      this.resetPins.delete(oldest.seq);
      this.counters.segmentsDeleted++;
    }
  }

  // ------------------------------------------------------------ inspection and shutdown

  group(group: GroupId): WalGroupState | undefined {
    const log = this.groups.get(group);
    if (log === undefined) return undefined;
    return {
      hardState: { ...log.hardState },
      compactedIndex: log.compactedIndex,
      compactedTerm: log.compactedTerm,
      lastIndex: log.lastIndex,
      lastTerm: log.lastTerm,
      damage: log.damage === null ? null : { ...log.damage },
    };
  }

  groupIds(): GroupId[] {
    return [...this.groups.keys()];
  }

  private syncHistogram(): WalSyncHistogram {
    const counts: number[] = [];
    let running = 0;
    for (const n of this.syncBuckets) counts.push((running += n));
    return { boundsMs: [...WAL_SYNC_BUCKETS_MS], counts, sumMs: this.counters.syncMsTotal, count: this.counters.syncs };
  }

  stats(): WalStats {
    let bytes = 0;
    for (const segment of this.segments) bytes += segment.sizeBytes;
    return {
      segments: this.segments.length,
      bytes,
      ...this.counters,
      syncLatencyMs: this.syncHistogram(),
      groups: this.groups.size,
      pendingBytes: this.pendingBytes,
      fsync: this.config.isFsyncEnabled,
      durability: this.config.isFsyncEnabled ? "fsync" : "UNSAFE-no-fsync",
    };
  }

  /** Syncs what is buffered (unless the WAL failed), then releases the file. Idempotent. */
  close(): void {
    if (this.isClosed) return;
    assert(!this.syncInFlight, "wal: close() while a sync is waiting for the disk; await it first");
    try {
      if (this.failure === null) this.sync();
    } finally {
      this.isClosed = true;
      fs.closeSync(this.fd);
      // A finished preallocation is dropped (open would remove it anyway); one still filling
      // removes its own temp file when it finishes.
      if (this.preallocation?.isReady === true) fs.rmSync(this.preallocation.tempPath, { force: true });
      this.preallocation = null;
    }
  }

  private checkUsable(): void {
    assert(!this.isClosed, "the WAL is closed");
    if (this.failure !== null) throw new Error(`the WAL failed earlier and accepts no writes: ${this.failure.message}`);
  }

  /** The group's log; a new group is registered by the caller only once its first call is valid. */
  private groupLog(group: GroupId): GroupLog {
    const log = this.groups.get(group);
    if (log !== undefined) return log;
    assertUint(group, 32, "group id");
    return new GroupLog(group);
  }
}

/** Remove `tempPath` only if it is still the file we created (inode), never a newer one. */
function removeOwnTempFile(tempPath: string, inode: number): void {
  if (inode < 0) return;
  try {
    if (fs.statSync(tempPath).ino === inode) fs.rmSync(tempPath, { force: true });
  } catch {
    // Already gone (removed at open, or the directory was removed).
  }
}

function groupLogFromRecovered(group: GroupId, recovered: RecoveredGroup): GroupLog {
  const log = GroupLog.fromCheckpoint({
    group,
    hardState: recovered.hardState,
    compactedIndex: recovered.compactedIndex,
    compactedTerm: recovered.compactedTerm,
    lastIndex: recovered.compactedIndex,
    lastTerm: recovered.compactedTerm,
    damage: recovered.damage,
  });
  if (recovered.entries.length > 0) log.applyAppend(recovered.entries);
  return log;
}
