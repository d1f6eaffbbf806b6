// Typed CLUSTER.* calls (DESIGN.md table): membership changes and leadership transfer.
import type { CallOptions, Caller } from "./caller.ts";
import type { Member } from "./core.ts";

export class ClusterApi {
  constructor(private readonly caller: Caller) {}

  add(args: { id: string; address: string }, options?: CallOptions): Promise<{ members: Member[] }> {
    return this.caller.call("CLUSTER.ADD", args, options) as Promise<{ members: Member[] }>;
  }

  remove(args: { id: string }, options?: CallOptions): Promise<{ members: Member[] }> {
    return this.caller.call("CLUSTER.REMOVE", args, options) as Promise<{ members: Member[] }>;
  }

  transfer(args: { to: string }, options?: CallOptions): Promise<{ leader: string }> {
    return this.caller.call("CLUSTER.TRANSFER", args, options) as Promise<{ leader: string }>;
  }
}
