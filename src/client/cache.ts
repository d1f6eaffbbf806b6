// Typed CACHE.* calls (DESIGN.md table, PROTOCOL.md §10): the coherent per-node cache.
// Thin on purpose: coherence is the node's job.
import type { CallOptions, Caller } from "./caller.ts";

/** MESI state of the line on the answering node after the read. */
export type CacheLineState = "M" | "E" | "S";
export type CacheEntry = {
  value: unknown;
  /** "cache": served from a cached line; "store": read from the backing store. */
  source: "cache" | "store";
  state: CacheLineState;
};
export type CacheMetrics = {
  hits: number;
  misses: number;
  writes: number;
  invalidations: number;
  evictions: number;
  entries: number;
  bytes: number;
  capacity: number;
};

export class CacheApi {
  constructor(private readonly caller: Caller) {}

  /** Rejects NOT_FOUND for a key neither cached nor in the backing store. */
  get(args: { key: string }, options?: CallOptions): Promise<CacheEntry> {
    return this.caller.call("CACHE.GET", args, options) as Promise<CacheEntry>;
  }

  set(args: { key: string; value: unknown }, options?: CallOptions): Promise<{ ok: true }> {
    return this.caller.call("CACHE.SET", args, options) as Promise<{ ok: true }>;
  }

  /** Result shape: TBD by the cache service. */
  del(args: { key: string }, options?: CallOptions): Promise<Record<string, unknown>> {
    return this.caller.call("CACHE.DEL", args, options) as Promise<Record<string, unknown>>;
  }

  /** Without `key`, invalidates every line. */
  invalidate(args: { key?: string } = {}, options?: CallOptions): Promise<{ invalidated: number }> {
    return this.caller.call("CACHE.INVALIDATE", args, options) as Promise<{ invalidated: number }>;
  }

  metrics(options?: CallOptions): Promise<CacheMetrics> {
    return this.caller.call("CACHE.METRICS", {}, options) as Promise<CacheMetrics>;
  }
}
