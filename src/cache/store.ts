// The backing store behind the cache (issue 7): what a home node reads on a miss and writes
// through on a write. Two implementations: the embedded replicated key-value store of Raft
// group 0 (default) and Redis through node-redis (`--redis URL`).
//
// Every call carries the caller's ring epoch (see README.md, "Membership changes"), and the
// store refuses a call whose epoch is not the store's current one. That fence is what keeps a
// home that has not yet learnt of a membership change from granting a lease or acknowledging a
// write behind the new home's back: the new home waits one lease after it has raised the
// store's epoch, and after that no old-epoch read or write can succeed.
import { SinkronError } from "../protocol/errors.ts";

export type StoreRead = { found: true; value: unknown } | { found: false };

export interface BackingStore {
  /** "embedded" or "redis": shown in STATUS and CACHE.METRICS. */
  readonly kind: string;
  /**
   * A linearizable read of `key`, taken at a point where the store's epoch was `epoch`.
   * Rejects with a SinkronError: UNAVAILABLE (store down, or `staleEpoch` in details when the
   * epochs differ — the caller refreshes its view and retries).
   */
  read(key: string, epoch: number): Promise<StoreRead>;
  /** Writes `value` (any MessagePack value) if the store's epoch is `epoch`; rejects as `read`. */
  write(key: string, value: unknown, epoch: number): Promise<void>;
  /** Deletes `key` if the store's epoch is `epoch`; resolves whether it existed. */
  delete(key: string, epoch: number): Promise<boolean>;
  /**
   * Makes the store's epoch at least `epoch`, so that from then on calls from older epochs are
   * refused. The embedded store's epoch follows group 0's log by itself, so there this only
   * waits until this node has applied it.
   */
  advanceEpoch(epoch: number): Promise<void>;
  close(): Promise<void>;
}

/** The error a store gives a call from an epoch that is not its own: retry after catching up. */
export function staleEpochError(callerEpoch: number, storeEpoch: number | null): SinkronError {
  return new SinkronError("UNAVAILABLE", `the cache ring changed (epoch ${callerEpoch}, store at ${storeEpoch ?? "none"}); retry`, {
    staleEpoch: true,
    retryable: true,
    epoch: callerEpoch,
    storeEpoch,
  });
}

export function isStaleEpoch(error: unknown): boolean {
  return error instanceof SinkronError && error.details.staleEpoch === true;
}
