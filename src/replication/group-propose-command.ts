// GROUP.PROPOSE: the internal command a member uses to hand one proposal to a group's leader.
// The member serving a client forwards only the proposal and keeps the client's request (and
// any later outcome, like a lock granted after a wait) on its own replica, so a leader change
// loses no waiting client. Proposals carry a rid, so the forwarder may safely retry them.
import { GROUP_PROPOSE } from "../protocol/commands.ts";
import { SinkronError } from "../protocol/errors.ts";
import { isPlainMap } from "../protocol/envelope.ts";
import { requirePeer, type CommandRegistry } from "../server/registry.ts";
import type { LeaderRouter } from "./leader-router.ts";
import type { RaftHost } from "./raft-host.ts";

export function registerGroupProposeCommand(registry: CommandRegistry, host: RaftHost, router: LeaderRouter): void {
  registry.register(GROUP_PROPOSE, (args, ctx) => {
    requirePeer(ctx, GROUP_PROPOSE.name);
    const group = host.group(args.group);
    if (group === undefined) throw new SinkronError("NOT_FOUND", `this node hosts no group ${args.group}`, { group: args.group });
    if (!isPlainMap(args.args)) throw new SinkronError("BAD_REQUEST", "argument 'args' must be a map");
    const opArgs = args.args;
    // From a peer: the router answers NOT_LEADER instead of forwarding a second time.
    return router.run(group, ctx, GROUP_PROPOSE.name, args, () => group.propose({ op: args.op, args: stampLeaderClock(opArgs), rid: args.rid ?? null }), true);
  });
}

/**
 * Time-based state (leases, wait deadlines) follows the leader's clock, not the clock of the
 * member that happened to serve the client: an operation carrying `nowMs` gets the leader's
 * time when the leader proposes it. Replicas never read a clock; they apply this value.
 */
export function stampLeaderClock(args: Record<string, unknown>, nowMs: number = Date.now()): Record<string, unknown> {
  return "nowMs" in args ? { ...args, nowMs } : args;
}
