// Any node accepts any command (DESIGN.md): a command that must be ordered by a group's leader
// runs here when this node leads, and is forwarded to the leader otherwise — once: a node
// never forwards what a peer forwarded to it, so a stale view of the leader cannot make a loop.
// While no leader is known (an election), the command waits for one, bounded in time.
import { SinkronError } from "../protocol/errors.ts";
import type { Args } from "../protocol/envelope.ts";
import type { CommandContext } from "../server/registry.ts";
import type { PeerTransport } from "../transport/peer-transport.ts";
import type { RaftGroup } from "./raft-group.ts";

export interface LeaderRouterOptions {
  transport: PeerTransport;
  /** How long a command waits for a leader to emerge before NOT_LEADER. */
  leaderWaitMs: number;
}

export class LeaderRouter {
  constructor(private readonly options: LeaderRouterOptions) {}

  /**
   * Runs `local` when this node leads `group`, else forwards `command` with `args` to the leader.
   * `isRetrySafe`: the command may be resent after a lost connection (reads, writes with a rid).
   * `ctx` is the connection the command came on; null for a call the node makes on its own.
   */
  async run<T>(
    group: RaftGroup,
    ctx: CommandContext | null,
    command: string,
    args: Args,
    local: () => Promise<T>,
    isRetrySafe: boolean,
    options: { forwardTimeoutMs?: number } = {},
  ): Promise<T> {
    const deadlineMs = performance.now() + this.options.leaderWaitMs;
    for (let attempt = 0; ; attempt++) {
      if (group.isStopped) throw new SinkronError("UNAVAILABLE", "the node is shutting down");
      if (group.isLeader) {
        try {
          return await local();
        } catch (error) {
          if (!isLeadershipLoss(error) || performance.now() > deadlineMs) throw error;
          // The core stepped down before the ready loop told the group: let that loop run
          // (a macrotask) rather than spin on microtasks, which would starve it.
          await group.waitForLeaderChange(Math.max(1, Math.min(deadlineMs - performance.now(), 50)));
          continue;
        }
      }
      if (ctx !== null && ctx.connection.peerId !== null) {
        // Forwarded to us by a peer that thought we lead: answer, do not forward again.
        throw new SinkronError("NOT_LEADER", `${group.leader ? `the leader is ${group.leader}` : "no leader is known"}`, { group: group.id, leader: group.leader });
      }
      const leader = group.leader;
      const client = leader === null ? null : this.options.transport.client(leader);
      if (client !== null && client.state === "connected") {
        try {
          return (await client.call(command, args, options.forwardTimeoutMs === undefined ? undefined : { timeoutMs: options.forwardTimeoutMs })) as T;
        } catch (error) {
          const retry = error instanceof SinkronError && (error.code === "NOT_LEADER" || (isRetrySafe && error.code === "UNAVAILABLE"));
          if (!retry || performance.now() > deadlineMs) throw error;
        }
      }
      const remainingMs = deadlineMs - performance.now();
      if (remainingMs <= 0) {
        throw new SinkronError(leader === null ? "NOT_LEADER" : "UNAVAILABLE", leader === null ? `no leader is known for group ${group.id}` : `the leader ${leader} cannot be reached`, { group: group.id, leader });
      }
      await group.waitForLeaderChange(Math.min(remainingMs, 50 * (attempt + 1)));
    }
  }
}

/** The local attempt did not take effect because leadership moved: safe to try again. */
function isLeadershipLoss(error: unknown): boolean {
  return error instanceof SinkronError && (error.code === "NOT_LEADER" || error.details.retryable === true);
}
