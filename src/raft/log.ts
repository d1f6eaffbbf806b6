// The in-memory Raft log since the last snapshot: which entries are durable (stable) and which the
// host still has to persist (unstable), term lookup, conflict search and compaction. It guarantees
// contiguous indices, that nothing at or below the commit index is ever overwritten, and that the
// commit index only moves forward.

import { assert } from "./assert.ts";
import type { ClusterConfig, Entry, Snapshot } from "./types.ts";

/** Rough per-entry framing cost, so batches of tiny entries are still bounded by bytes. */
export const entryOverheadBytes = 24;

export function entrySizeBytes(entry: Entry): number {
  return entry.data.byteLength + entryOverheadBytes;
}

export class RaftLog {
  /** Index and term of the last entry folded into the snapshot; the log starts right after it. */
  private snapshotIndex = 0;
  private snapshotTerm = 0;
  private snapshotConfig: ClusterConfig;
  /** The latest snapshot with its data, kept to send to followers behind the compaction point. */
  private latestSnapshot: Snapshot | null = null;
  private entries: Entry[] = [];
  /** Entries up to here are durable on the host's disk. */
  private stableIndex = 0;
  /** A snapshot received from a leader that the host has not persisted yet. */
  private pendingSnapshot: Snapshot | null = null;
  private commitIndex = 0;
  private appliedIndex = 0;

  constructor(initialConfig: ClusterConfig) {
    this.snapshotConfig = initialConfig;
  }

  /** Rebuild from storage after a restart: everything handed in is durable by definition. */
  static restore(
    initialConfig: ClusterConfig,
    snapshot: Snapshot | null,
    entries: Entry[],
    commit: number,
    isCommitClamped: boolean,
  ): RaftLog {
    const log = new RaftLog(snapshot === null ? initialConfig : snapshot.config);
    if (snapshot !== null) {
      log.snapshotIndex = snapshot.index;
      log.snapshotTerm = snapshot.term;
      log.latestSnapshot = snapshot;
    }
    let expected = log.snapshotIndex + 1;
    for (const entry of entries) {
      assert(entry.index === expected, `restore: entry ${entry.index} where ${expected} was expected`);
      expected++;
    }
    log.entries = entries.slice();
    log.stableIndex = log.lastIndex();
    log.appliedIndex = log.snapshotIndex;
    log.commitIndex = Math.max(log.snapshotIndex, commit);
    // Only a node that knows its storage lost acknowledged records may hold a commit index past its log.
    if (isCommitClamped) log.commitIndex = Math.min(log.commitIndex, log.lastIndex());
    assert(log.commitIndex <= log.lastIndex(), `restore: commit ${log.commitIndex} beyond last index ${log.lastIndex()}`);
    return log;
  }

  firstIndex(): number {
    return this.snapshotIndex + 1;
  }

  lastIndex(): number {
    return this.snapshotIndex + this.entries.length;
  }

  lastTerm(): number {
    return this.term(this.lastIndex()) ?? 0;
  }

  committed(): number {
    return this.commitIndex;
  }

  applied(): number {
    return this.appliedIndex;
  }

  stable(): number {
    return this.stableIndex;
  }

  snapshotPoint(): { index: number; term: number; config: ClusterConfig } {
    return { index: this.snapshotIndex, term: this.snapshotTerm, config: this.snapshotConfig };
  }

  snapshotForFollower(): Snapshot | null {
    return this.latestSnapshot;
  }

  unpersistedSnapshot(): Snapshot | null {
    return this.pendingSnapshot;
  }

  /** Term at `index`, or null when it is compacted away or beyond the end. */
  term(index: number): number | null {
    if (index === this.snapshotIndex) return this.snapshotTerm;
    if (index < this.snapshotIndex || index > this.lastIndex()) return null;
    const entry = this.entries[index - this.snapshotIndex - 1];
    return entry === undefined ? null : entry.term;
  }

  entry(index: number): Entry | null {
    if (index <= this.snapshotIndex || index > this.lastIndex()) return null;
    return this.entries[index - this.snapshotIndex - 1] ?? null;
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** Election restriction, Raft paper §5.4.1: compare last terms, then lengths. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const myLastTerm = this.lastTerm();
    return lastTerm > myLastTerm || (lastTerm === myLastTerm && lastIndex >= this.lastIndex());
  }

  /** Entries in [from, to) capped at maxBytes (always at least one); null if `from` is compacted. */
  slice(from: number, to: number, maxBytes: number): Entry[] | null {
    if (from <= this.snapshotIndex) return null;
    const end = Math.min(to, this.lastIndex() + 1);
    const out: Entry[] = [];
    let bytes = 0;
    for (let index = from; index < end; index++) {
      const entry = this.entries[index - this.snapshotIndex - 1];
      assert(entry !== undefined, `slice: missing entry ${index}`);
      bytes += entrySizeBytes(entry);
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(entry);
    }
    return out;
  }

  /** Leader-side append of freshly created entries. */
  append(entry: Entry): void {
    assert(entry.index === this.lastIndex() + 1, `append: index ${entry.index} after last ${this.lastIndex()}`);
    assert(entry.term >= this.lastTerm(), `append: term ${entry.term} below last term ${this.lastTerm()}`);
    this.entries.push(entry);
  }

  /**
   * First index in `entries` whose term differs from ours or that we lack; 0 when all already
   * match. Entries at or below the snapshot are known to match (they are committed).
   */
  findConflict(entries: readonly Entry[]): number {
    for (const entry of entries) {
      if (entry.index <= this.snapshotIndex) continue;
      if (!this.matchTerm(entry.index, entry.term)) return entry.index;
    }
    return 0;
  }

  /**
   * The largest index <= `index` whose term is <= `term` (etcd's findConflictByTerm idea, thesis
   * §5.3): every entry above it is known not to match a log whose entry at `index` has `term`.
   * Stops where the log is compacted and returns that index.
   */
  findConflictByTerm(index: number, term: number): number {
    let at = Math.min(index, this.lastIndex());
    for (; at > this.snapshotIndex; at--) {
      const t = this.term(at);
      if (t !== null && t <= term) return at;
    }
    return Math.min(at, this.snapshotIndex);
  }

  /** Replace our suffix from entries[0].index with `entries` (follower receiving from the leader). */
  truncateAndAppend(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    assert(first.index > this.commitIndex, `truncate: entry ${first.index} at or below commit ${this.commitIndex}`);
    assert(first.index > this.snapshotIndex, `truncate: entry ${first.index} inside snapshot ${this.snapshotIndex}`);
    assert(first.index <= this.lastIndex() + 1, `truncate: gap before ${first.index} (last ${this.lastIndex()})`);
    this.entries.length = first.index - this.snapshotIndex - 1;
    let expected = first.index;
    for (const entry of entries) {
      assert(entry.index === expected, `truncate: non-contiguous entry ${entry.index}`);
      expected++;
      this.entries.push(entry);
    }
    this.stableIndex = Math.min(this.stableIndex, first.index - 1);
  }

  /** Move the commit index forward; a lower value is ignored (it is stale information). */
  commitTo(index: number): boolean {
    if (index <= this.commitIndex) return false;
    assert(index <= this.lastIndex(), `commit ${index} beyond last index ${this.lastIndex()}`);
    this.commitIndex = index;
    return true;
  }

  /** Entries the host must persist: everything after the stable point. */
  unstableEntries(): Entry[] {
    return this.entries.slice(this.stableIndex - this.snapshotIndex);
  }

  /**
   * The host persisted entries up to (index, term). Ignored if that entry was replaced meanwhile
   * (a conflicting append between ready() and advance()), so we never mark an unwritten entry stable.
   */
  stableTo(index: number, term: number): void {
    if (index > this.stableIndex && this.matchTerm(index, term)) this.stableIndex = index;
  }

  snapshotPersisted(snapshot: Snapshot): void {
    if (this.pendingSnapshot !== null && this.pendingSnapshot.index === snapshot.index) this.pendingSnapshot = null;
    this.appliedIndex = Math.max(this.appliedIndex, snapshot.index);
  }

  private appliedOrSnapshot(): number {
    return Math.max(this.appliedIndex, this.pendingSnapshot?.index ?? 0, this.snapshotIndex);
  }

  hasNextCommitted(): boolean {
    return this.commitIndex > this.appliedOrSnapshot();
  }

  /** Committed entries not yet applied (those after a pending snapshot, which is applied first). */
  nextCommitted(): Entry[] {
    const after = this.appliedOrSnapshot();
    if (this.commitIndex <= after) return [];
    return this.entries.slice(after - this.snapshotIndex, this.commitIndex - this.snapshotIndex);
  }

  appliedTo(index: number): void {
    assert(index <= this.commitIndex, `applied ${index} beyond commit ${this.commitIndex}`);
    assert(index >= this.appliedIndex, `applied index going back from ${this.appliedIndex} to ${index}`);
    this.appliedIndex = index;
  }

  /** Replace the whole log with a snapshot received from the leader (InstallSnapshot, §5.7). */
  restoreSnapshot(snapshot: Snapshot): void {
    assert(snapshot.index > this.commitIndex, `snapshot ${snapshot.index} not beyond commit ${this.commitIndex}`);
    this.snapshotIndex = snapshot.index;
    this.snapshotTerm = snapshot.term;
    this.snapshotConfig = snapshot.config;
    this.latestSnapshot = snapshot;
    this.pendingSnapshot = snapshot;
    this.entries = [];
    this.stableIndex = snapshot.index;
    this.commitIndex = snapshot.index;
  }

  /** Drop entries <= snapshot.index; the host took `snapshot` of its applied state. */
  compact(snapshot: Snapshot): void {
    assert(snapshot.index > this.snapshotIndex, `compact: ${snapshot.index} not beyond snapshot ${this.snapshotIndex}`);
    assert(snapshot.index <= this.appliedIndex, `compact: ${snapshot.index} beyond applied ${this.appliedIndex}`);
    assert(snapshot.index <= this.stableIndex, `compact: ${snapshot.index} beyond stable ${this.stableIndex}`);
    assert(this.matchTerm(snapshot.index, snapshot.term), `compact: term mismatch at ${snapshot.index}`);
    this.entries = this.entries.slice(snapshot.index - this.snapshotIndex);
    this.snapshotIndex = snapshot.index;
    this.snapshotTerm = snapshot.term;
    this.snapshotConfig = snapshot.config;
    this.latestSnapshot = snapshot;
  }

  /** The last config entry at or below `index` still in the log, or null if only the snapshot knows. */
  lastConfigEntryAtOrBelow(index: number): Entry | null {
    for (let at = Math.min(index, this.lastIndex()); at > this.snapshotIndex; at--) {
      const entry = this.entries[at - this.snapshotIndex - 1];
      if (entry !== undefined && entry.type === "config") return entry;
    }
    return null;
  }
}
