// The shapes storage shares with the Raft core. Defined here (not imported from src/raft) so the
// WAL can be built and tested on its own; the core's types must stay structurally identical.

/** A Raft group hosted on this node: 0 is cluster metadata and locks, 1.. are queue partitions. */
export type GroupId = number;

export type EntryType = "normal" | "config" | "noop";

export interface Entry {
  index: number;
  term: number;
  type: EntryType;
  data: Uint8Array;
}

/** What Raft must persist before it answers a vote or an append (Raft paper, Figure 2). */
export interface HardState {
  term: number;
  vote: string | null;
  commit: number;
}

export interface MembershipConfig {
  voters: string[];
  learners: string[];
}

export interface SnapshotMeta {
  index: number;
  term: number;
  config: MembershipConfig;
}

export interface Snapshot {
  meta: SnapshotMeta;
  data: Uint8Array;
}

/**
 * Damage found inside data that was (or may have been) acknowledged: the highest index and the
 * highest term seen for the group in any readable record. Raft must neither vote nor lead in that
 * group until its log has been repaired from a leader up to `index`.
 */
export interface Damage {
  index: number;
  term: number;
}

/** Structured logger; storage reports torn tails, damage and unsafe modes through it. */
export interface StorageLogger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export const consoleLogger: StorageLogger = {
  info: (message, fields) => console.info(message, fields ?? ""),
  warn: (message, fields) => console.warn(message, fields ?? ""),
  error: (message, fields) => console.error(message, fields ?? ""),
};

export const HARD_STATE_EMPTY: HardState = Object.freeze({ term: 0, vote: null, commit: 0 });
