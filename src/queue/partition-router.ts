// Gets an operation on a partition to that partition's leader, from any node: proposed here when
// this node leads the partition, else handed to the leader with GROUP.PROPOSE. A node that hosts
// a replica knows the leader from its own Raft group; one that hosts none (more nodes than
// replicas) keeps a hint per group, learnt from NOT_LEADER answers, and starts at the
// partition's preferred leader. Waits for an election, bounded by leaderWaitMs.
import { GROUP_PROPOSE } from "../protocol/commands.ts";
import { SinkronError } from "../protocol/errors.ts";
import { stampLeaderClock } from "../replication/group-propose-command.ts";
import type { RaftHost } from "../replication/raft-host.ts";
import type { LogCommand } from "../replication/state-machine.ts";
import type { PeerTransport } from "../transport/peer-transport.ts";
import type { PartitionDescriptor } from "./catalog-machine.ts";

export interface PartitionRouterOptions {
  selfId: string;
  host: RaftHost;
  transport: PeerTransport;
  leaderWaitMs: number;
}

export class PartitionRouter {
  private readonly leaderHints = new Map<number, string>();

  constructor(private readonly options: PartitionRouterOptions) {}

  /** The leader this node believes in, or null. */
  leaderOf(partition: PartitionDescriptor): string | null {
    const local = this.options.host.group(partition.group);
    if (local !== undefined) return local.leader;
    return this.leaderHints.get(partition.group) ?? null;
  }

  /**
   * Proposes `command` on the partition's leader and resolves with its result once applied there.
   * `isRetrySafe`: the command carries a rid (applied once however often it is sent), so it may
   * be resent after a lost connection; otherwise a lost answer ends the call with UNAVAILABLE.
   */
  async propose(partition: PartitionDescriptor, command: LogCommand, isRetrySafe: boolean): Promise<unknown> {
    const { host, transport, selfId } = this.options;
    const deadlineMs = performance.now() + this.options.leaderWaitMs;
    for (let attempt = 0; ; attempt++) {
      const local = host.group(partition.group);
      if (local?.isLeader) {
        try {
          return await local.propose({ ...command, args: stampLeaderClock(command.args) });
        } catch (error) {
          if (!isLeadershipLoss(error) || performance.now() > deadlineMs) throw error;
          await local.waitForLeaderChange(Math.max(1, Math.min(deadlineMs - performance.now(), 50)));
          continue;
        }
      }
      const target = local !== undefined ? local.leader : (this.leaderHints.get(partition.group) ?? partition.replicas[attempt % partition.replicas.length]!);
      const client = target === null || target === selfId ? null : transport.client(target);
      if (client !== null && client.state === "connected") {
        try {
          return await client.call(GROUP_PROPOSE.name, { group: partition.group, op: command.op, args: command.args, ...(command.rid === null ? {} : { rid: command.rid }) });
        } catch (error) {
          if (!(error instanceof SinkronError)) throw error;
          const hinted = typeof error.details.leader === "string" ? error.details.leader : null;
          if (error.code === "NOT_LEADER" || (error.code === "NOT_FOUND" && local === undefined)) {
            // NOT_FOUND: that node does not host the group (yet); try the next replica.
            if (hinted !== null && hinted !== target) this.leaderHints.set(partition.group, hinted);
            else this.leaderHints.delete(partition.group);
          } else if (!(isRetrySafe && error.code === "UNAVAILABLE")) {
            throw error;
          }
          if (performance.now() > deadlineMs) throw error;
        }
      } else if (local === undefined) {
        this.leaderHints.delete(partition.group);
      }
      const remainingMs = deadlineMs - performance.now();
      if (remainingMs <= 0) {
        throw new SinkronError(target === null ? "NOT_LEADER" : "UNAVAILABLE", target === null ? `no leader is known for partition group ${partition.group}` : `the leader ${target} of partition group ${partition.group} cannot be reached`, { group: partition.group, leader: target });
      }
      const pauseMs = Math.min(remainingMs, 20 * (attempt + 1));
      if (local !== undefined) await local.waitForLeaderChange(pauseMs);
      else await Bun.sleep(pauseMs);
    }
  }
}

/** The local attempt did not take effect because leadership moved: safe to try again. */
function isLeadershipLoss(error: unknown): boolean {
  return error instanceof SinkronError && (error.code === "NOT_LEADER" || error.details.retryable === true);
}
