// Durable storage for Raft: the shared write-ahead log (group commit, torn-tail and damage
// recovery) and the snapshot store. Everything the rest of sinkron needs is exported from here.

export { openWal, SEGMENT_BYTES_MAX_DEFAULT, SEGMENT_BYTES_MIN, type WalOptions, type RecoveryReport, type OpenedWal } from "./open.ts";
export { Wal, type WalStats, type WalGroupState } from "./wal.ts";
export { openSnapshotStore, SnapshotStore, SNAPSHOTS_KEPT_PER_GROUP, type SnapshotStoreOptions } from "./snapshot.ts";
export type { RecoveredGroup, TornTail } from "./recovery.ts";
export { StorageAssertionError } from "./assert.ts";
export * from "./types.ts";
