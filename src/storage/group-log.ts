// The shape of one group's log without its entries: hard state, compaction point, last index and
// the term of every index (as runs). The live WAL validates each call against it and recovery
// replays records through it, so both always agree on what a record means.

import { assertUint, isUint64 } from "./assert.ts";
import type { CheckpointGroup } from "./record.ts";
import { HARD_STATE_EMPTY, type Damage, type Entry, type GroupId, type HardState } from "./types.ts";

/** Indices [firstIndex, next run's firstIndex) all have `term`; Raft logs change term rarely. */
interface TermRun {
  firstIndex: number;
  term: number;
}

const ENTRY_TYPES = new Set(["normal", "config", "noop"]);

export class GroupLog {
  hardState: HardState = HARD_STATE_EMPTY;
  compactedIndex = 0;
  compactedTerm = 0;
  lastIndex = 0;
  /** Set by recovery when acknowledged data was lost; cleared only by clearDamage (a record). */
  damage: Damage | null = null;
  /**
   * Terms are known for [termsKnownFrom, lastIndex]. Only a replay that starts at a checkpoint
   * whose older segments were deleted has a gap (compactedIndex, termsKnownFrom) of unknown terms.
   */
  private termsKnownFrom = 1;
  private runs: TermRun[] = [];

  constructor(readonly group: GroupId) {}

  get lastTerm(): number {
    if (this.lastIndex === this.compactedIndex) return this.compactedTerm;
    const run = this.runs[this.runs.length - 1];
    return run === undefined ? 0 : run.term;
  }

  /** The term at `index`, or undefined when the index is compacted, beyond the log, or unknown. */
  termAt(index: number): number | undefined {
    if (index === this.compactedIndex) return this.compactedTerm;
    if (index < this.compactedIndex || index > this.lastIndex || index < this.termsKnownFrom) return undefined;
    let low = 0;
    let high = this.runs.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (this.runs[middle]!.firstIndex <= index) low = middle;
      else high = middle - 1;
    }
    return this.runs[low]?.term;
  }

  // ------------------------------------------------------------ entries

  /** Why these entries cannot be appended, or null. Entries may replace a suffix (Raft §5.3). */
  checkAppend(entries: readonly Entry[]): string | null {
    const first = entries[0];
    if (first === undefined) return "append of no entries";
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i]!;
      if (!isUint64(entry.index)) return `entry index must be a non-negative safe integer, got ${entry.index}`;
      if (!isUint64(entry.term) || entry.term === 0) return `entry ${entry.index} term must be a positive safe integer, got ${entry.term}`;
      if (!ENTRY_TYPES.has(entry.type)) return `entry ${entry.index} has unknown type ${String(entry.type)}`;
      if (!(entry.data instanceof Uint8Array)) return `entry ${entry.index} data is not a Uint8Array`;
      if (entry.index !== first.index + i) return `entries not contiguous: ${entry.index} after ${first.index + i - 1}`;
      if (i > 0 && entry.term < entries[i - 1]!.term) return `entry terms go back at index ${entry.index}`;
    }
    if (first.index <= this.compactedIndex) {
      return `group ${this.group}: append at ${first.index} into the compacted prefix (compacted through ${this.compactedIndex})`;
    }
    if (first.index > this.lastIndex + 1) {
      return `group ${this.group}: append at ${first.index} leaves a gap after last index ${this.lastIndex}`;
    }
    const previousTerm = this.termAt(first.index - 1);
    if (previousTerm !== undefined && first.term < previousTerm) {
      return `group ${this.group}: entry ${first.index} term ${first.term} is below the preceding term ${previousTerm}`;
    }
    return null;
  }

  /** Caller has checked with checkAppend. Replaces everything from the first entry's index on. */
  applyAppend(entries: readonly Entry[]): void {
    const firstIndex = entries[0]!.index;
    while (this.runs.length > 0 && this.runs[this.runs.length - 1]!.firstIndex >= firstIndex) this.runs.pop();
    if (firstIndex < this.termsKnownFrom) this.termsKnownFrom = firstIndex;
    for (const entry of entries) {
      const run = this.runs[this.runs.length - 1];
      if (run === undefined || run.term !== entry.term) this.runs.push({ firstIndex: entry.index, term: entry.term });
    }
    this.lastIndex = entries[entries.length - 1]!.index;
  }

  // ------------------------------------------------------------ compaction

  checkCompact(index: number, term: number): string | null {
    try {
      assertUint(index, 64, "compacted index");
      assertUint(term, 64, "compacted term");
    } catch (error) {
      return (error as Error).message;
    }
    if (index < this.compactedIndex) {
      return `group ${this.group}: compaction point goes back from ${this.compactedIndex} to ${index}`;
    }
    if (index === this.compactedIndex && term !== this.compactedTerm) {
      return `group ${this.group}: compaction at ${index} with term ${term}, was term ${this.compactedTerm}`;
    }
    return null;
  }

  /**
   * Whether compacting through (index, term) keeps the entries after it. Raft §7: a snapshot's
   * last entry that matches ours keeps the suffix; otherwise the whole log is discarded.
   */
  keepsSuffixAfter(index: number, term: number): boolean {
    return index <= this.lastIndex && this.termAt(index) === term;
  }

  applyCompact(index: number, term: number, keepsSuffix: boolean): void {
    this.compactedIndex = index;
    this.compactedTerm = term;
    if (!keepsSuffix || index >= this.lastIndex) {
      this.lastIndex = Math.max(index, keepsSuffix ? this.lastIndex : index);
      this.runs = [];
      this.termsKnownFrom = index + 1;
      return;
    }
    let drop = 0;
    while (drop + 1 < this.runs.length && this.runs[drop + 1]!.firstIndex <= index + 1) drop++;
    if (drop > 0) this.runs.splice(0, drop);
    const head = this.runs[0];
    if (head !== undefined && head.firstIndex < index + 1) head.firstIndex = index + 1;
    if (this.termsKnownFrom < index + 1) this.termsKnownFrom = index + 1;
  }

  // ------------------------------------------------------------ hard state

  /** Raft's persistent state only moves forward: term never drops, one vote per term, commit never drops. */
  checkHardState(next: HardState): string | null {
    try {
      assertUint(next.term, 64, "hardState.term");
      assertUint(next.commit, 64, "hardState.commit");
    } catch (error) {
      return (error as Error).message;
    }
    if (next.vote !== null && typeof next.vote !== "string") return "hardState.vote must be a string or null";
    if (next.vote !== null && Buffer.byteLength(next.vote) >= 0xffff) return "hardState.vote is too long";
    const current = this.hardState;
    if (next.term < current.term) return `group ${this.group}: term goes back from ${current.term} to ${next.term}`;
    if (next.term === current.term && current.vote !== null && next.vote !== current.vote) {
      return `group ${this.group}: vote in term ${next.term} changes from ${current.vote} to ${String(next.vote)}`;
    }
    if (next.commit < current.commit) return `group ${this.group}: commit goes back from ${current.commit} to ${next.commit}`;
    return null;
  }

  applyHardState(next: HardState): void {
    this.hardState = { term: next.term, vote: next.vote, commit: next.commit };
  }

  // ------------------------------------------------------------ reset

  /**
   * Start the log over, empty: the replica left the group and may rejoin it later as a new member.
   * Term and vote stay, so the node can never vote twice in a term. A damage mark keeps only its
   * term: the old log it described is gone, but a vote lost with it may have been cast in any term
   * up to damage.term, so the node must still not vote until a leader of a later term reached it.
   */
  applyReset(): void {
    this.hardState = { term: this.hardState.term, vote: this.hardState.vote, commit: 0 };
    this.compactedIndex = 0;
    this.compactedTerm = 0;
    this.lastIndex = 0;
    this.damage = this.damage === null || this.damage.term === 0 ? null : { index: 0, term: this.damage.term };
    this.termsKnownFrom = 1;
    this.runs = [];
  }

  // ------------------------------------------------------------ checkpoints

  toCheckpoint(): CheckpointGroup {
    return {
      group: this.group,
      hardState: this.hardState,
      compactedIndex: this.compactedIndex,
      compactedTerm: this.compactedTerm,
      lastIndex: this.lastIndex,
      lastTerm: this.lastTerm,
      damage: this.damage,
    };
  }

  /** Start from a checkpoint whose entries (compactedIndex, lastIndex] live in older segments. */
  static fromCheckpoint(checkpoint: CheckpointGroup): GroupLog {
    const log = new GroupLog(checkpoint.group);
    log.hardState = checkpoint.hardState;
    log.compactedIndex = checkpoint.compactedIndex;
    log.compactedTerm = checkpoint.compactedTerm;
    log.lastIndex = Math.max(checkpoint.lastIndex, checkpoint.compactedIndex);
    log.damage = checkpoint.damage;
    if (log.lastIndex > log.compactedIndex) {
      log.runs = [{ firstIndex: log.lastIndex, term: checkpoint.lastTerm }];
      log.termsKnownFrom = log.lastIndex;
    } else {
      log.termsKnownFrom = log.compactedIndex + 1;
    }
    return log;
  }

  /** Whether this shape says the same as a checkpoint written from an identical history. */
  matchesCheckpoint(checkpoint: CheckpointGroup): boolean {
    const hs = this.hardState;
    const other = checkpoint.hardState;
    return (
      hs.term === other.term &&
      hs.vote === other.vote &&
      hs.commit === other.commit &&
      this.compactedIndex === checkpoint.compactedIndex &&
      this.compactedTerm === checkpoint.compactedTerm &&
      this.lastIndex === checkpoint.lastIndex &&
      this.lastTerm === checkpoint.lastTerm &&
      (this.damage?.index ?? 0) === (checkpoint.damage?.index ?? 0) &&
      (this.damage?.term ?? 0) === (checkpoint.damage?.term ?? 0)
    );
  }
}
