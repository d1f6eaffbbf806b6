// The replicated key-value store: the first service on Raft and the cache's embedded backing
// store. A key's revision is the log index of the write that produced its value, so
// revisions grow with every write across the whole store (as etcd's do).
import type { ApplyContext, LogCommand, StateMachine } from "../replication/state-machine.ts";
import { appliedError } from "../replication/state-machine.ts";

export interface KvEntry {
  value: unknown;
  revision: number;
}

export class KvMachine implements StateMachine {
  private readonly entries = new Map<string, KvEntry>();

  get size(): number {
    return this.entries.size;
  }

  get(key: string): KvEntry | undefined {
    return this.entries.get(key);
  }

  /** Writes as kv.set does; for other machines of group 0 that store into the same keys (the cache). */
  put(key: string, value: unknown, revision: number): void {
    this.entries.set(key, { value, revision });
  }

  delete(key: string): boolean {
    return this.entries.delete(key);
  }

  apply(command: LogCommand, ctx: ApplyContext): unknown {
    const key = command.args.key as string;
    switch (command.op) {
      case "kv.set":
        this.entries.set(key, { value: command.args.value, revision: ctx.index });
        return { revision: ctx.index };
      case "kv.del":
        return { deleted: this.entries.delete(key) };
      default:
        return appliedError("BAD_REQUEST", `unknown operation '${command.op}'`);
    }
  }

  snapshot(): [string, unknown, number][] {
    return [...this.entries].map(([key, e]) => [key, e.value, e.revision]);
  }

  restore(state: unknown): void {
    this.entries.clear();
    for (const [key, value, revision] of (state ?? []) as [string, unknown, number][]) this.entries.set(key, { value, revision });
  }
}
