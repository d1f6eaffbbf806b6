// The cache's writes into the embedded store, as group 0 operations ("cache.write"). They land
// in the same key-value map as KV.SET, so `KV.GET key` shows what `CACHE.SET key` wrote. Each
// batch carries the ring epoch its home node believed in and is refused, as a whole, when group
// 0's address book has moved on since: the fence of README.md, "Membership changes". The
// check runs at apply time, in log order, so every replica refuses the same batches.
import type { KvMachine } from "../kv/kv-machine.ts";
import type { ApplyContext, LogCommand, StateMachine } from "../replication/state-machine.ts";
import { appliedError } from "../replication/state-machine.ts";

/** One write of a batch: [key, value] sets, [key] deletes. */
export type StoreWriteOp = [key: string, value?: unknown];

export class CacheStoreMachine implements StateMachine {
  constructor(
    private readonly kv: KvMachine,
    private readonly epochNow: () => number,
  ) {}

  apply(command: LogCommand, ctx: ApplyContext): unknown {
    if (command.op !== "cache.write") return appliedError("BAD_REQUEST", `unknown operation '${command.op}'`);
    const epoch = command.args.epoch as number;
    const storeEpoch = this.epochNow();
    if (epoch !== storeEpoch) {
      return appliedError("UNAVAILABLE", `the cache ring changed (epoch ${epoch}, store at ${storeEpoch}); retry`, { staleEpoch: true, retryable: true, epoch, storeEpoch });
    }
    const ops = command.args.ops as StoreWriteOp[];
    // Per op: whether the key existed before (what CACHE.DEL answers).
    return ops.map((op) => {
      if (op.length === 1) return this.kv.delete(op[0]);
      const existed = this.kv.get(op[0]) !== undefined;
      this.kv.put(op[0], op[1], ctx.index);
      return existed;
    });
  }

  /** The state lives in the kv and member machines; this one holds none of its own. */
  snapshot(): null {
    return null;
  }

  restore(): void {}
}
