// Settings of the cache on one node. Every one is configurable (NodeConfig.cache, the --cache-*
// flags) and documented in the README's configuration table.
export interface CacheSettings {
  /** Lines this node keeps (--cache-max-entries); the least recently used goes first. */
  entriesMax: number;
  /** Bytes of lines (keys, values, overhead) this node keeps (--cache-max-bytes). */
  bytesMax: number;
  /**
   * Read lease a home grants (--cache-lease-ms): how long a line is served without asking, and
   * the longest a write waits for a holder that does not answer its invalidation.
   */
  leaseMs: number;
  /** Keys this node's directory tracks holders for, as a home; past it, reads get no lease. */
  directoryEntriesMax: number;
  /** How long a node waits for a home or the store before answering UNAVAILABLE. */
  requestTimeoutMs: number;
  /** A member group 0's leader has not heard from this long leaves the ring (--cache-down-after). */
  downAfterMs: number;
}

export const DEFAULT_CACHE_SETTINGS: Readonly<CacheSettings> = {
  entriesMax: 100_000,
  bytesMax: 256 * 1024 * 1024,
  leaseMs: 2_000,
  directoryEntriesMax: 1_000_000,
  requestTimeoutMs: 5_000,
  downAfterMs: 3_000,
};

/**
 * A holder ends its lease this fraction early: its clock and the home's may run at slightly
 * different rates (crystal drift is ~1e-4), and the home must never think a lease over while
 * the holder still serves from it.
 */
export const LEASE_DRIFT_FRACTION = 0.01;
