// The shapes storage shares with the Raft core: taken from the core's own types (type-only, so
// the WAL still builds and tests without the core's code), plus storage's own records.
import type { ClusterConfig, Entry, EntryType, GroupId, HardState } from "../raft/types.ts";

export type { Entry, EntryType, GroupId, HardState };
export type MembershipConfig = ClusterConfig;

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
