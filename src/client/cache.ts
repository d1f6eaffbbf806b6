// Typed CACHE.* calls (DESIGN.md table, PROTOCOL.md §10): the coherent per-node cache.
// Thin on purpose: coherence is the node's job (src/cache/README.md).
import type { CallOptions, Caller } from "./caller.ts";

/** MESI state of the line on the answering node after the read. */
export type CacheLineState = "M" | "E" | "S";
export type CacheEntry = {
  value: unknown;
  /** "cache": served from this node's line, no network round trip; "store": fetched through the key's home. */
  source: "cache" | "store";
  state: CacheLineState;
};
/** One node's cache counters (counts since it started) and its settings. */
export type CacheMetrics = {
  /** GETs answered from a line. */
  hits: number;
  /** GETs that asked the key's home. */
  misses: number;
  /** SETs and DELs this node acknowledged. */
  writes: number;
  /** Lines dropped because another node wrote their key. */
  invalidations: number;
  /** Lines dropped by the LRU bounds. */
  evictions: number;
  /** Lines held now, and their bytes (key + value + 96 a line). */
  entries: number;
  bytes: number;
  /** The bounds: --cache-max-entries, --cache-max-bytes. */
  capacity: number;
  capacityBytes: number;
  /** The backing store: "embedded" or "redis". */
  store: string;
  /** --cache-lease-ms: how long a line may be served without asking its home. */
  leaseMs: number;
  /** The ring epoch this node's lines and directory belong to. */
  epoch: number;
  /** Keys this node's home directory tracks holders for now. */
  homedKeys: number;
};

export class CacheApi {
  constructor(private readonly caller: Caller) {}

  /** Rejects NOT_FOUND for a key neither cached nor in the backing store. */
  get(args: { key: string }, options?: CallOptions): Promise<CacheEntry> {
    return this.caller.call("CACHE.GET", args, options) as Promise<CacheEntry>;
  }

  /** Answered once every other node's copy is invalidated and the store has the value. */
  set(args: { key: string; value: unknown }, options?: CallOptions): Promise<{ ok: true }> {
    return this.caller.call("CACHE.SET", args, options) as Promise<{ ok: true }>;
  }

  /** `deleted`: whether the store held the key. */
  del(args: { key: string }, options?: CallOptions): Promise<{ deleted: boolean }> {
    return this.caller.call("CACHE.DEL", args, options) as Promise<{ deleted: boolean }>;
  }

  /** Drops the answering node's lines (of `key`, or all of them); the store is untouched. */
  invalidate(args: { key?: string } = {}, options?: CallOptions): Promise<{ invalidated: number }> {
    return this.caller.call("CACHE.INVALIDATE", args, options) as Promise<{ invalidated: number }>;
  }

  metrics(options?: CallOptions): Promise<CacheMetrics> {
    return this.caller.call("CACHE.METRICS", {}, options) as Promise<CacheMetrics>;
  }
}
