// The vocabulary of the lock table: modes, holds, waiting requests and the outcomes the
// service layer is told about. Plain data only, so a snapshot is these records as they are.

export type LockMode = "shared" | "exclusive";

/** Error codes an acquire can end with (a subset of src/protocol/errors.ts). */
export type LockErrorCode = "TIMEOUT" | "DEADLOCK" | "NOT_FOUND" | "CONFLICT" | "TOO_LARGE" | "BAD_REQUEST";

export interface Grant {
  token: number;
  mode: LockMode;
}

/** One edge of a waits-for cycle: `owner` waits, in the queue of lock `name`, for the next step's owner. */
export interface CycleStep {
  owner: string;
  name: string;
}

/** Why an acquire ended without a grant. The optional fields are details for the client. */
export interface LockRefusal {
  error: LockErrorCode;
  message: string;
  /** The lock asked for. */
  name?: string;
  /** DEADLOCK: the cycle the request would have closed, starting at its owner. */
  cycle?: CycleStep[];
  /** TIMEOUT: the request was withdrawn by lock.cancel, not by its deadline. */
  cancelled?: boolean;
}

/**
 * What lock.cancel did. `cancelled`: the request was withdrawn by this cancel — it was waiting
 * (its outcome is TIMEOUT with `cancelled`) or it held the lock (`released`: the hold ended).
 * false: the request was neither waiting nor holding; its tombstone still refuses it if it
 * arrives later.
 */
export interface CancelResult {
  cancelled: boolean;
  released?: true;
}

/** The fate of one acquire request, reported once (LockTable.onOutcome). */
export interface LockOutcome {
  requestId: string;
  name: string;
  owner: string;
  result: Grant | LockRefusal;
}

export interface Holder {
  owner: string;
  /** The lock held. */
  name: string;
  mode: LockMode;
  /** Fencing token of the grant this hold came from (tokens.ts). */
  token: number;
  /** Lease end on the table's clock; null: no lease, held until released. */
  expiresAtMs: number | null;
  /**
   * The acquire whose grant this hold is, so lock.cancel of that request can withdraw it. An
   * idempotent re-acquire keeps it; an upgrade (a new grant) takes the conversion's. null: restored
   * from a snapshot older than this field — such a hold cannot be withdrawn by cancel.
   */
  requestId: string | null;
  /** Position in the lease heap; -1 when not in it. Not part of a snapshot. */
  heapIndex: number;
}

export interface Waiter {
  requestId: string;
  /** The lock it waits for. */
  name: string;
  owner: string;
  mode: LockMode;
  /** Lease to start at the grant; null: none. */
  ttlMs: number | null;
  /** Wait deadline on the table's clock; null: waits until granted or cancelled. */
  deadlineMs: number | null;
  /** Log index of the entry that enqueued it: unique, and orders waiters by arrival. */
  seq: number;
  /**
   * Enqueued as a conversion (the owner held the lock shared and asked exclusive). Conversions
   * queue ahead of plain requests (Gray & Reuter 1993, ch. 8: a conversion is served before new
   * requests), so a queue is always [conversions..., plain...], each part in arrival order.
   * Fixed at enqueue: the position does not change if the owner's shared hold ends meanwhile.
   */
  isConversion: boolean;
  heapIndex: number;
}

export interface HolderInfo {
  owner: string;
  mode: LockMode;
  token: number;
  expiresAtMs: number | null;
}

export interface WaiterInfo {
  owner: string;
  mode: LockMode;
  requestId: string;
  deadlineMs: number | null;
  isConversion: boolean;
}

export interface LockInfo {
  name: string;
  holders: HolderInfo[];
  /** In queue order: the head first. */
  waiters: WaiterInfo[];
}

export interface LockStats {
  locks: number;
  holders: number;
  waiters: number;
  grants: number;
  timeouts: number;
  deadlocks: number;
  expirations: number;
  cancellations: number;
}

/** Shared coexists with shared; exclusive conflicts with everything (the compatibility matrix of Gray & Reuter 1993, ch. 7). */
export function modesConflict(a: LockMode, b: LockMode): boolean {
  return a === "exclusive" || b === "exclusive";
}
