// What the leader knows about one follower's log and how it replicates to it (etcd's progress
// states): probe (one message in flight until we learn where the logs agree), replicate
// (optimistic pipelining bounded by maxInflightMsgs) and snapshot (waiting on InstallSnapshot).

import type { NodeId } from "./types.ts";

export type ProgressState = "probe" | "replicate" | "snapshot";

export class Progress {
  /** Highest index known to match the leader's log. */
  match = 0;
  /** Next index to send. */
  next: number;
  state: ProgressState = "probe";
  /** Probe state: a probe is outstanding; cleared by any answer or heartbeat response. */
  isProbeSent = false;
  /** Snapshot state: index of the snapshot sent, and ticks since, to retry a lost one. */
  pendingSnapshotIndex = 0;
  snapshotElapsedTicks = 0;
  /** Replicate state: last index of each Append in flight, ascending. */
  private inflightLastIndexes: number[] = [];
  /** Heard from since the last check-quorum round (thesis §6.2). */
  isRecentActive = true;
  isLearner: boolean;

  constructor(
    readonly id: NodeId,
    next: number,
    isLearner: boolean,
  ) {
    this.next = next;
    this.isLearner = isLearner;
  }

  becomeProbe(): void {
    // After a snapshot, resume right after it if that is further than what the follower acked.
    this.next = this.state === "snapshot" ? Math.max(this.match + 1, this.pendingSnapshotIndex + 1) : this.match + 1;
    this.state = "probe";
    this.isProbeSent = false;
    this.pendingSnapshotIndex = 0;
    this.inflightLastIndexes = [];
  }

  becomeReplicate(): void {
    this.next = this.match + 1;
    this.state = "replicate";
    this.isProbeSent = false;
    this.pendingSnapshotIndex = 0;
    this.inflightLastIndexes = [];
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.state = "snapshot";
    this.pendingSnapshotIndex = snapshotIndex;
    this.snapshotElapsedTicks = 0;
    this.isProbeSent = false;
    this.inflightLastIndexes = [];
  }

  /** A successful AppendResp; false when it tells us nothing new (duplicate or reordered). */
  maybeUpdate(index: number): boolean {
    let isUpdated = false;
    if (this.match < index) {
      this.match = index;
      isUpdated = true;
      this.isProbeSent = false;
    }
    this.next = Math.max(this.next, index + 1);
    return isUpdated;
  }

  /**
   * The follower rejected an append at or below what it had acknowledged: its storage lost
   * acknowledged entries (damaged-storage restart). Forget the match so nothing relies on it.
   */
  forgetMatch(): void {
    this.match = 0;
  }

  isPaused(maxInflightMsgs: number): boolean {
    switch (this.state) {
      case "probe":
        return this.isProbeSent;
      case "replicate":
        return this.inflightLastIndexes.length >= maxInflightMsgs;
      case "snapshot":
        return true;
    }
  }

  isInflightFull(maxInflightMsgs: number): boolean {
    return this.inflightLastIndexes.length >= maxInflightMsgs;
  }

  inflightCount(): number {
    return this.inflightLastIndexes.length;
  }

  /** Record an Append just sent whose last entry is `lastIndex` (none when entryCount is 0). */
  sentAppend(lastIndex: number, entryCount: number): void {
    switch (this.state) {
      case "replicate":
        if (entryCount > 0) {
          this.next = lastIndex + 1;
          this.inflightLastIndexes.push(lastIndex);
        }
        return;
      case "probe":
        this.isProbeSent = true;
        return;
      case "snapshot":
        return;
    }
  }

  /** Appends up to `index` were acknowledged: their window slots are free again. */
  freeInflightUpTo(index: number): void {
    let count = 0;
    while (count < this.inflightLastIndexes.length && (this.inflightLastIndexes[count] ?? Infinity) <= index) count++;
    if (count > 0) this.inflightLastIndexes.splice(0, count);
  }

  /** A full window with no acks may mean lost Appends; free one so a (rejected) send can re-sync. */
  freeFirstInflight(): void {
    this.inflightLastIndexes.shift();
  }
}
