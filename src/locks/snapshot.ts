// The lock table as plain, msgpack-able data and back. Order is preserved exactly (locks in
// creation order, holders in grant order, waiters in queue order), because iteration order
// decides grant order and deadlock reports: a restored table must behave like the original.
import { assert } from "./assert.ts";
import { LockState } from "./lock-state.ts";
import type { LockMode, LockStats } from "./types.ts";

export const LOCK_SNAPSHOT_VERSION = 1;

type Counters = Omit<LockStats, "locks" | "holders" | "waiters">;

/** [owner, mode, token, expiresAtMs] */
type HolderRow = [string, LockMode, number, number | null];
/** [requestId, owner, mode, ttlMs, deadlineMs, seq, isConversion] */
type WaiterRow = [string, string, LockMode, number | null, number | null, number, boolean];

export interface LockSnapshot {
  version: number;
  lastIndex: number;
  nowMs: number | null;
  counters: Counters;
  locks: [string, HolderRow[], WaiterRow[]][];
}

export interface TableImage {
  lastIndex: number;
  nowMs: number | null;
  counters: Counters;
  locks: LockState[];
}

export function encodeSnapshot(image: TableImage): LockSnapshot {
  return {
    version: LOCK_SNAPSHOT_VERSION,
    lastIndex: image.lastIndex,
    nowMs: image.nowMs,
    counters: { ...image.counters },
    locks: image.locks.map((lock) => [
      lock.name,
      [...lock.holders.values()].map((h): HolderRow => [h.owner, h.mode, h.token, h.expiresAtMs]),
      lock.queue.map((w): WaiterRow => [w.requestId, w.owner, w.mode, w.ttlMs, w.deadlineMs, w.seq, w.isConversion]),
    ]),
  };
}

/** null (no snapshot yet) is the empty table. A malformed snapshot is a bug: it asserts. */
export function decodeSnapshot(state: unknown): TableImage {
  if (state === null || state === undefined) {
    return { lastIndex: 0, nowMs: null, counters: { grants: 0, timeouts: 0, deadlocks: 0, expirations: 0, cancellations: 0 }, locks: [] };
  }
  const snap = state as LockSnapshot;
  assert(snap.version === LOCK_SNAPSHOT_VERSION, `lock snapshot version ${String(snap.version)} is not ${LOCK_SNAPSHOT_VERSION}`);
  assert(Array.isArray(snap.locks), "lock snapshot without locks");
  const locks = snap.locks.map(([name, holders, waiters]) => {
    const lock = new LockState(name);
    for (const [owner, mode, token, expiresAtMs] of holders) {
      lock.holders.set(owner, { owner, name, mode, token, expiresAtMs, heapIndex: -1 });
    }
    for (const [requestId, owner, mode, ttlMs, deadlineMs, seq, isConversion] of waiters) {
      lock.queue.push({ requestId, name, owner, mode, ttlMs, deadlineMs, seq, isConversion, heapIndex: -1 });
    }
    return lock;
  });
  return { lastIndex: snap.lastIndex, nowMs: snap.nowMs, counters: { ...snap.counters }, locks };
}
