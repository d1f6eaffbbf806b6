// Typed KV.* calls (DESIGN.md table; schemas in src/protocol/commands.ts): the replicated,
// linearizable key-value store. Thin on purpose.
import type { CallOptions, Caller } from "./caller.ts";

export type KvEntry = { value: unknown; revision: number };

/** `rid`: an id unique per logical write (e.g. "client-id:sequence"); a retry with it is applied once. */
export type KvSetArgs = { key: string; value: unknown; rid?: string };
export type KvDelArgs = { key: string; rid?: string };

export class KvApi {
  constructor(private readonly caller: Caller) {}

  /** Rejects NOT_FOUND for a missing key. */
  get(args: { key: string }, options?: CallOptions): Promise<KvEntry> {
    return this.caller.call("KV.GET", args, options) as Promise<KvEntry>;
  }

  set(args: KvSetArgs, options?: CallOptions): Promise<{ revision: number }> {
    return this.caller.call("KV.SET", args, options) as Promise<{ revision: number }>;
  }

  del(args: KvDelArgs, options?: CallOptions): Promise<{ deleted: boolean }> {
    return this.caller.call("KV.DEL", args, options) as Promise<{ deleted: boolean }>;
  }
}
