// The lock table as plain, msgpack-able data and back. Order is preserved exactly (locks in
// creation order, holders in grant order, waiters in queue order), because iteration order
// decides grant order and deadlock reports: a restored table must behave like the original.
import { assert } from "./assert.ts";
import { LockState } from "./lock-state.ts";
import type { LockMode, LockStats } from "./types.ts";

// Version 2 adds holders' request ids and the cancel tombstones. Version 1 still restores (an
// upgraded node may install an old snapshot): holds with an unknown request id, no tombstones.
export const LOCK_SNAPSHOT_VERSION = 2;
const LOCK_SNAPSHOT_VERSIONS_READ: readonly number[] = [1, 2];

type Counters = Omit<LockStats, "locks" | "holders" | "waiters">;

/** [owner, mode, token, expiresAtMs, requestId] (version 1: without requestId) */
type HolderRow = [string, LockMode, number, number | null, (string | null)?];
/** [requestId, owner, mode, ttlMs, deadlineMs, seq, isConversion] */
type WaiterRow = [string, string, LockMode, number | null, number | null, number, boolean];

export interface LockSnapshot {
  version: number;
  lastIndex: number;
  nowMs: number | null;
  counters: Counters;
  locks: [string, HolderRow[], WaiterRow[]][];
  /** Cancelled request ids, oldest first (absent in version 1). */
  tombstones?: string[];
}

export interface TableImage {
  lastIndex: number;
  nowMs: number | null;
  counters: Counters;
  locks: LockState[];
  /** Oldest first: eviction order. */
  tombstones: string[];
}

export function encodeSnapshot(image: TableImage): LockSnapshot {
  return {
    version: LOCK_SNAPSHOT_VERSION,
    lastIndex: image.lastIndex,
    nowMs: image.nowMs,
    counters: { ...image.counters },
    locks: image.locks.map((lock) => [
      lock.name,
      [...lock.holders.values()].map((h): HolderRow => [h.owner, h.mode, h.token, h.expiresAtMs, h.requestId]),
      lock.queue.map((w): WaiterRow => [w.requestId, w.owner, w.mode, w.ttlMs, w.deadlineMs, w.seq, w.isConversion]),
    ]),
    tombstones: [...image.tombstones],
  };
}

/** null (no snapshot yet) is the empty table. A malformed snapshot is a bug: it asserts. */
export function decodeSnapshot(state: unknown): TableImage {
  if (state === null || state === undefined) {
    return { lastIndex: 0, nowMs: null, counters: { grants: 0, timeouts: 0, deadlocks: 0, expirations: 0, cancellations: 0 }, locks: [], tombstones: [] };
  }
  const snap = state as LockSnapshot;
  assert(LOCK_SNAPSHOT_VERSIONS_READ.includes(snap.version), `lock snapshot version ${String(snap.version)} is not one of ${LOCK_SNAPSHOT_VERSIONS_READ.join(", ")}`);
  assert(Array.isArray(snap.locks), "lock snapshot without locks");
  const locks = snap.locks.map(([name, holders, waiters]) => {
    const lock = new LockState(name);
    for (const [owner, mode, token, expiresAtMs, requestId] of holders) {
      lock.holders.set(owner, { owner, name, mode, token, expiresAtMs, requestId: requestId ?? null, heapIndex: -1 });
    }
    for (const [requestId, owner, mode, ttlMs, deadlineMs, seq, isConversion] of waiters) {
      lock.queue.push({ requestId, name, owner, mode, ttlMs, deadlineMs, seq, isConversion, heapIndex: -1 });
    }
    return lock;
  });
  const tombstones = snap.tombstones ?? [];
  assert(Array.isArray(tombstones), "lock snapshot with malformed tombstones");
  return { lastIndex: snap.lastIndex, nowMs: snap.nowMs, counters: { ...snap.counters }, locks, tombstones: [...tombstones] };
}
