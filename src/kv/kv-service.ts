// KV.GET / KV.SET / KV.DEL on Raft group 0. Writes are answered once committed by a majority
// and applied here; reads are linearizable without a log write: the leader confirms it still
// leads (ReadIndex, thesis §6.4) and reads once it has applied that far.
import { KV_DEL, KV_GET, KV_SET } from "../protocol/commands.ts";
import { SinkronError } from "../protocol/errors.ts";
import type { LeaderRouter } from "../replication/leader-router.ts";
import type { RaftGroup } from "../replication/raft-group.ts";
import type { CommandRegistry } from "../server/registry.ts";
import type { KvMachine } from "./kv-machine.ts";

export function registerKvCommands(registry: CommandRegistry, group: RaftGroup, kv: KvMachine, router: LeaderRouter): void {
  registry.register(KV_GET, (args, ctx) =>
    router.run(group, ctx, KV_GET.name, args, async () => {
      await group.readBarrier();
      const entry = kv.get(args.key);
      if (entry === undefined) throw new SinkronError("NOT_FOUND", `no key '${args.key}'`, { key: args.key });
      return { value: entry.value, revision: entry.revision };
    }, true),
  );
  registry.register(KV_SET, (args, ctx) =>
    router.run(group, ctx, KV_SET.name, args, () =>
      group.propose({ op: "kv.set", args: { key: args.key, value: args.value }, rid: args.rid ?? null }),
      args.rid !== undefined,
    ),
  );
  registry.register(KV_DEL, (args, ctx) =>
    router.run(group, ctx, KV_DEL.name, args, () => group.propose({ op: "kv.del", args: { key: args.key }, rid: args.rid ?? null }), args.rid !== undefined),
  );
}
