// Membership of group 0, one server at a time (thesis §4.1): CLUSTER.ADD records the new
// member's address, adds it as a learner, waits until it has caught up, then promotes it to
// voter, so a slow newcomer never costs the cluster its quorum (§4.2.1). CLUSTER.REMOVE and
// CLUSTER.TRANSFER complete the set. The leader also writes the founders' addresses into the
// replicated address book on its first term, so every member learns them from the log.
import { CLUSTER_ADD, CLUSTER_REMOVE, CLUSTER_TRANSFER } from "../protocol/commands.ts";
import { SinkronError } from "../protocol/errors.ts";
import type { LeaderRouter } from "../replication/leader-router.ts";
import type { RaftGroup } from "../replication/raft-group.ts";
import type { CommandRegistry } from "../server/registry.ts";
import type { PeerTransport } from "../transport/peer-transport.ts";
import { formatAddress, parseAddress } from "../util/address.ts";
import type { Logger } from "../util/log.ts";
import type { Member } from "./config.ts";
import type { MemberMachine } from "./member-machine.ts";

export interface ClusterServiceOptions {
  group: RaftGroup;
  members: MemberMachine;
  router: LeaderRouter;
  transport: PeerTransport;
  founders: Member[];
  selfId: string;
  log: Logger;
  /** About the time an election takes; bounds the waits of a transfer. */
  electionMs: number;
  /**
   * Before a member leaves group 0: move what lives on it elsewhere (queue partitions), while it
   * still follows the catalog. Throws when that cannot finish; the member then stays.
   */
  beforeRemove?: (id: string) => Promise<void>;
}

export interface MemberView {
  id: string;
  address: string | null;
  role: "voter" | "learner";
}

/** How long CLUSTER.ADD waits for a learner to catch up before leaving it a learner. */
const CATCH_UP_TIMEOUT_MS = 30_000;
const CATCH_UP_POLL_MS = 20;

export class ClusterService {
  private recordingFounders = false;

  constructor(private readonly options: ClusterServiceOptions) {
    options.group.onRoleChange(() => this.recordFoundersIfLeader());
  }

  register(registry: CommandRegistry): void {
    const { group, router } = this.options;
    registry.register(CLUSTER_ADD, (args, ctx) => {
      const address = normalizeAddress(args.address);
      return router.run(group, ctx, CLUSTER_ADD.name, { id: args.id, address }, () => this.add(args.id, address), true, { forwardTimeoutMs: CATCH_UP_TIMEOUT_MS + 10_000 });
    });
    registry.register(CLUSTER_REMOVE, (args, ctx) => router.run(group, ctx, CLUSTER_REMOVE.name, args, () => this.remove(args.id), true));
    registry.register(CLUSTER_TRANSFER, (args, ctx) => router.run(group, ctx, CLUSTER_TRANSFER.name, args, () => this.transfer(args.to), true));
  }

  memberList(): MemberView[] {
    const status = this.options.group.raft.status();
    const view = (id: string, role: MemberView["role"]): MemberView => ({ id, address: this.addressOf(id), role });
    return [...status.voters.map((id) => view(id, "voter")), ...status.learners.map((id) => view(id, "learner"))];
  }

  private addressOf(id: string): string | null {
    return this.options.members.address(id) ?? this.options.founders.find((m) => m.id === id)?.address ?? null;
  }

  private async add(id: string, address: string): Promise<{ members: MemberView[] }> {
    const { group } = this.options;
    const status = group.raft.status();
    const known = this.options.members.address(id);
    if (status.voters.includes(id)) {
      if (known !== undefined && known !== address) throw new SinkronError("CONFLICT", `member ${id} exists with address ${known}`, { id, address: known });
      return { members: this.memberList() };
    }
    if (known !== address) await group.propose({ op: "member.set", args: { id, address }, rid: null });
    if (!status.learners.includes(id)) await group.proposeConfChange({ type: "addLearner", node: id });
    await this.waitCaughtUp(id);
    await group.proposeConfChange({ type: "promote", node: id });
    this.options.log.info("member added", { id, address });
    return { members: this.memberList() };
  }

  private async waitCaughtUp(id: string): Promise<void> {
    const { group } = this.options;
    const deadlineMs = performance.now() + CATCH_UP_TIMEOUT_MS;
    for (;;) {
      if (group.isStopped) throw new SinkronError("UNAVAILABLE", "the node is shutting down");
      const status = group.raft.status();
      if (status.role !== "leader") throw new SinkronError("NOT_LEADER", "leadership changed while the new member was catching up", { leader: status.leader });
      const match = status.progress?.[id]?.match ?? 0;
      if (match >= status.commitIndex) return;
      if (performance.now() > deadlineMs) {
        throw new SinkronError("UNAVAILABLE", `member ${id} joined as a learner but did not catch up within ${CATCH_UP_TIMEOUT_MS} ms; retry CLUSTER.ADD once it runs`, { id });
      }
      await Bun.sleep(CATCH_UP_POLL_MS);
    }
  }

  private async remove(id: string): Promise<{ members: MemberView[] }> {
    const { group, selfId } = this.options;
    const status = group.raft.status();
    if (!status.voters.includes(id) && !status.learners.includes(id)) throw new SinkronError("NOT_FOUND", `no member ${id}`, { id });
    if (id === selfId && status.voters.length > 1) {
      // A leader removing itself hands leadership over first, so the cluster keeps a leader
      // that can finish the change (the new leader gets this command by forwarding).
      const to = bestTransferTarget(status, selfId);
      await this.transfer(to);
      throw new SinkronError("NOT_LEADER", `leadership moved to ${to} to remove ${id}; retry`, { leader: to, retryable: true });
    }
    await this.options.beforeRemove?.(id);
    await group.proposeConfChange({ type: "remove", node: id });
    await group.propose({ op: "member.remove", args: { id }, rid: null });
    this.options.log.info("member removed", { id });
    return { members: this.memberList() };
  }

  private async transfer(to: string): Promise<{ leader: string }> {
    const { group } = this.options;
    if (group.leader === to) return { leader: to };
    const result = group.raft.transferLeadership(to);
    if (!result.ok) {
      if (result.code === "NOT_LEADER") throw new SinkronError("NOT_LEADER", "not the leader", { leader: result.leader });
      throw new SinkronError(result.code, result.message, { to });
    }
    const deadlineMs = performance.now() + 2 * this.options.electionMs;
    while (group.leader !== to && performance.now() < deadlineMs) await group.waitForLeaderChange(deadlineMs - performance.now());
    if (group.leader !== to) throw new SinkronError("UNAVAILABLE", `leadership did not move to ${to} in time`, { to, leader: group.leader });
    return { leader: to };
  }

  private recordFoundersIfLeader(): void {
    const { group, members, founders } = this.options;
    if (!group.isLeader || this.recordingFounders) return;
    const missing = founders.filter((m) => members.address(m.id) === undefined && group.raft.status().voters.includes(m.id));
    if (missing.length === 0) return;
    this.recordingFounders = true;
    Promise.all(missing.map((m) => group.propose({ op: "member.set", args: { id: m.id, address: m.address }, rid: null })))
      .catch((error: Error) => this.options.log.debug("founder addresses not recorded yet", { error }))
      .finally(() => (this.recordingFounders = false));
  }
}

/** The voter most likely to take over at once: recently heard from, with the longest log. */
function bestTransferTarget(status: ReturnType<RaftGroup["raft"]["status"]>, selfId: string): string {
  const candidates = status.voters.filter((v) => v !== selfId);
  const progress = status.progress ?? {};
  const score = (id: string) => (progress[id]?.isRecentActive ? 1 : 0) * 2 ** 52 + (progress[id]?.match ?? 0);
  return candidates.reduce((best, id) => (score(id) > score(best) ? id : best));
}

function normalizeAddress(text: string): string {
  try {
    return formatAddress(parseAddress(text));
  } catch (error) {
    throw new SinkronError("BAD_REQUEST", `argument 'address' ${(error as Error).message}`, { argument: "address" });
  }
}
