// Typed CACHE.* calls (DESIGN.md table, PROTOCOL.md §10): the coherent per-node cache.
// Thin on purpose: coherence is the node's job (src/cache/README.md).
import type { CacheGetResult, CacheLineState, CacheMetricsResult } from "../protocol/commands.ts";
import type { CallOptions, Caller } from "./caller.ts";

/** CACHE.GET's answer: the value, where it came from and the line's state. */
export type CacheEntry = CacheGetResult;
/** CACHE.METRICS's answer: one node's cache counters (counts since it started) and its settings. */
export type CacheMetrics = CacheMetricsResult;
export type { CacheLineState };

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
