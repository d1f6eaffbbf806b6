// The partition replicas this node hosts, kept equal to what the catalog assigns it: a replica
// is created (or restored from storage) when its queue appears or the placement moves a
// partition here, and removed with its storage when the queue is deleted or the partition's
// leader has taken this node out of the group. For the partitions it leads, this node proposes
// the time-based changes (visibility timeouts, delayed nacks) as q.tick entries, moves the
// group's membership towards the catalog's placement one server at a time (add a learner, let
// it catch up, promote it, then remove a replica that is no longer placed), and hands leadership
// back to the partition's preferred leader, so leaders stay spread over the nodes.
import { CompositeStateMachine } from "../replication/state-machine-composite.ts";
import type { ConfChange } from "../raft/index.ts";
import type { RaftGroup } from "../replication/raft-group.ts";
import type { RaftHost } from "../replication/raft-host.ts";
import type { Logger } from "../util/log.ts";
import type { PartitionDescriptor, QueueCatalog, QueueDescriptor } from "./catalog-machine.ts";
import type { QueueLimits } from "./limits.ts";
import { PartitionMachine, type Lane } from "./partition-machine.ts";

export interface LocalPartition {
  queue: QueueDescriptor;
  partition: PartitionDescriptor;
  group: RaftGroup;
  machine: PartitionMachine;
  isTickInFlight: boolean;
  lastTransferMs: number;
  /** A membership change of this group proposed by this node and not settled yet. */
  isConfChangeInFlight: boolean;
  /** When this node, no longer placed here, last asked whether the group still counts it. */
  lastRetireCheckMs: number;
}

export interface LocalPartitionsOptions {
  selfId: string;
  host: RaftHost;
  catalog: QueueCatalog;
  limits: QueueLimits;
  log: Logger;
  /** How often leaders look for due deadlines. */
  tickMs: number;
  /** Called when a local replica made messages ready in `lane` of partition group `group`. */
  onReady(group: number, lane: Lane): void;
  /** Called after the set of partitions changed (a queue created or deleted). */
  onCatalogChanged(): void;
  /**
   * The members of the partition's group as a leader among `replicas` sees them, or null when
   * none answers as leader. A replica no longer placed here is dropped once they exclude it.
   */
  leaderMembers(group: number, replicas: readonly string[]): Promise<string[] | null>;
  nowMs?: () => number;
}

/** A leader not on its preferred node waits this long after winning before handing over. */
const PREFERRED_LEADER_SETTLE_MS = 2_000;
/** Between two hand-over attempts of one partition. */
const TRANSFER_RETRY_MS = 5_000;
/** Between two checks of a replica that is no longer placed here. */
const RETIRE_CHECK_MS = 1_000;

export class LocalPartitions {
  private readonly local = new Map<number, LocalPartition>();
  /** Every partition of every queue, hosted here or not, by group id. */
  private readonly byGroup = new Map<number, { queue: QueueDescriptor; partition: PartitionDescriptor }>();
  private isReconcileScheduled = false;
  private timer: ReturnType<typeof setInterval> | null = null;
  private readonly leaderSinceMs = new Map<number, number>();
  private readonly nowMs: () => number;
  private stopped = false;

  constructor(private readonly options: LocalPartitionsOptions) {
    this.nowMs = options.nowMs ?? Date.now;
    // Catalog changes arrive inside the ready loop's apply: act after it, not inside it.
    options.catalog.onChange(() => this.scheduleReconcile());
  }

  start(): void {
    this.scheduleReconcile();
    this.timer = setInterval(() => this.onTimer(), this.options.tickMs);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
  }

  get(group: number): LocalPartition | undefined {
    return this.local.get(group);
  }

  /** The queue and partition a group id belongs to, from the catalog as this node knows it. */
  lookup(group: number): { queue: QueueDescriptor; partition: PartitionDescriptor } | undefined {
    return this.byGroup.get(group);
  }

  get size(): number {
    return this.local.size;
  }

  /**
   * Per queue, the counts of the partitions this node leads (so summing over the nodes counts
   * each partition once): ready and delayed, in flight, and dead-lettered (lane 1, any state).
   * Queues with no partition led here are left out.
   */
  ledQueueStats(): LedQueueStats[] {
    const byQueue = new Map<string, LedQueueStats>();
    for (const local of this.local.values()) {
      if (!local.group.isLeader) continue;
      const name = local.queue.queue;
      let entry = byQueue.get(name);
      if (entry === undefined) {
        entry = { queue: name, partitionsLed: 0, ready: 0, delayed: 0, inflight: 0, deadLettered: 0 };
        byQueue.set(name, entry);
      }
      const live = local.machine.stats(0);
      const dead = local.machine.stats(1);
      entry.partitionsLed++;
      entry.ready += live.ready;
      entry.delayed += live.delayed;
      entry.inflight += live.inflight;
      entry.deadLettered += dead.ready + dead.inflight + dead.delayed;
    }
    return [...byQueue.values()];
  }

  private scheduleReconcile(): void {
    if (this.isReconcileScheduled || this.stopped) return;
    this.isReconcileScheduled = true;
    setImmediate(() => {
      this.isReconcileScheduled = false;
      if (!this.stopped) this.reconcile();
    });
  }

  private reconcile(): void {
    const { catalog, host, selfId, log } = this.options;
    this.byGroup.clear();
    for (const queue of catalog.list()) {
      for (const partition of queue.partitions) {
        this.byGroup.set(partition.group, { queue, partition });
        const local = this.local.get(partition.group);
        if (local !== undefined) {
          // The placement may have moved: the leader works from the catalog's newest view.
          local.queue = queue;
          local.partition = partition;
        } else if (partition.replicas.includes(selfId)) {
          this.host(queue, partition);
        }
      }
    }
    for (const [group, local] of [...this.local]) {
      if (!this.byGroup.has(group)) this.drop(local, "queue deleted");
    }
    // A replica left in storage by a queue deleted while this node was down: the catalog has
    // allocated its id (ids only grow) and no longer lists it, so it can never be needed again.
    for (const group of host.storedGroupIds()) {
      if (group !== 0 && group < catalog.nextGroup && !this.byGroup.has(group)) {
        host.removeGroup(group);
        log.info("stale partition replica removed from storage", { group });
      }
    }
    this.options.onCatalogChanged();
  }

  /** Stops hosting a replica and lets its storage go (its term and vote stay; see RaftHost.removeGroup). */
  private drop(local: LocalPartition, reason: string): void {
    const group = local.partition.group;
    this.local.delete(group);
    this.leaderSinceMs.delete(group);
    this.options.host.removeGroup(group);
    this.options.log.info(`partition replica removed (${reason})`, { queue: local.queue.queue, partition: local.partition.partition, group });
  }

  private host(queue: QueueDescriptor, partition: PartitionDescriptor): void {
    const { host, limits, selfId } = this.options;
    const machine = new PartitionMachine({
      maxDeliveries: queue.maxDeliveries,
      limits: { messagesMax: limits.partitionMessagesMax, bytesMax: limits.partitionBytesMax },
    });
    const fsm = new CompositeStateMachine(limits.dedupEntriesMax);
    fsm.mount("q", machine);
    // The first placement founds the group; a node placed here later starts empty and is added
    // by the group's leader (a replica restored from storage keeps the configuration it had).
    const founders = queue.placementEpoch === 0 ? partition.replicas : [];
    const group = host.createGroup(partition.group, founders, fsm);
    machine.onReady((lane) => this.options.onReady(partition.group, lane));
    const local: LocalPartition = { queue, partition, group, machine, isTickInFlight: false, lastTransferMs: 0, isConfChangeInFlight: false, lastRetireCheckMs: 0 };
    this.local.set(partition.group, local);
    group.onRoleChange(() => {
      if (group.isLeader) this.leaderSinceMs.set(partition.group, this.nowMs());
      else this.leaderSinceMs.delete(partition.group);
    });
    // A new partition elects its preferred leader at once instead of after an election timeout.
    if (partition.replicas[0] === selfId && group.startedEmpty && founders.length > 0) group.raft.campaign();
    this.options.log.debug("partition replica hosted", { queue: queue.queue, partition: partition.partition, group: partition.group });
  }

  private onTimer(): void {
    const now = this.nowMs();
    for (const local of this.local.values()) {
      if (!local.partition.replicas.includes(this.options.selfId)) this.checkRetired(local, now);
      if (!local.group.isLeader) continue;
      const due = local.machine.nextDueMs();
      if (due !== null && due <= now && !local.isTickInFlight) this.proposeTick(local, now);
      if (!this.moveMembership(local)) this.handBackToPreferred(local, now);
    }
  }

  /**
   * One step towards the placed replicas (thesis §4.1: one server at a time): add a missing one
   * as a learner; promote a placed learner once it caught up (the core refuses it before); then
   * remove one that is no longer placed — after leadership left it, if it is this node. Returns
   * whether the membership still differs from the placement.
   */
  private moveMembership(local: LocalPartition): boolean {
    const { selfId } = this.options;
    const target = local.partition.replicas;
    const status = local.group.raft.status();
    const members = [...status.voters, ...status.learners];
    const missing = target.filter((id) => !members.includes(id));
    const promotable = status.learners.filter((id) => target.includes(id));
    const extra = members.filter((id) => !target.includes(id));
    if (missing.length === 0 && promotable.length === 0 && extra.length === 0) return false;
    if (local.isConfChangeInFlight || status.leadTransferee !== null) return true;
    let change: ConfChange;
    if (missing.length > 0) change = { type: "addLearner", node: missing[0]! };
    else if (promotable.length > 0) {
      const learner = promotable[0]!;
      if ((status.progress?.[learner]?.match ?? 0) < status.commitIndex) return true;
      change = { type: "promote", node: learner };
    } else if (extra.includes(selfId)) {
      // Hand the group to a placed voter that is caught up; the new leader removes this node.
      const to = target.find((id) => id !== selfId && status.voters.includes(id) && (status.progress?.[id]?.match ?? 0) >= status.commitIndex);
      if (to !== undefined && local.group.raft.transferLeadership(to).ok) this.options.host.schedule();
      return true;
    } else change = { type: "remove", node: extra[0]! };
    local.isConfChangeInFlight = true;
    local.group
      .proposeConfChange(change)
      .then(() => this.options.log.info("partition membership changed", { group: local.partition.group, ...change }))
      .catch((error: Error) => this.options.log.debug("partition membership change not applied; will retry", { group: local.partition.group, ...change, error }))
      .finally(() => {
        local.isConfChangeInFlight = false;
      });
    return true;
  }

  /** A replica no longer placed here goes once the group's leader no longer counts it. */
  private checkRetired(local: LocalPartition, now: number): void {
    if (now - local.lastRetireCheckMs < RETIRE_CHECK_MS || local.group.isLeader) return;
    local.lastRetireCheckMs = now;
    const group = local.partition.group;
    void this.options
      .leaderMembers(group, local.partition.replicas)
      .then((members) => {
        const current = this.local.get(group);
        if (members === null || members.includes(this.options.selfId) || current === undefined || current.partition.replicas.includes(this.options.selfId)) return;
        this.drop(current, "moved to other nodes");
        this.options.onCatalogChanged();
      })
      .catch((error: Error) => this.options.log.debug("retire check failed", { group, error }));
  }

  private proposeTick(local: LocalPartition, now: number): void {
    local.isTickInFlight = true;
    local.group
      .propose({ op: "q.tick", args: { nowMs: now }, rid: null })
      .catch((error: Error) => this.options.log.debug("q.tick not applied", { group: local.partition.group, error }))
      .finally(() => {
        local.isTickInFlight = false;
      });
  }

  private handBackToPreferred(local: LocalPartition, now: number): void {
    const preferred = local.partition.replicas[0]!;
    if (preferred === this.options.selfId) return;
    const since = this.leaderSinceMs.get(local.partition.group) ?? now;
    if (now - since < PREFERRED_LEADER_SETTLE_MS || now - local.lastTransferMs < TRANSFER_RETRY_MS) return;
    const status = local.group.raft.status();
    const progress = status.progress?.[preferred];
    // Only to a replica that is up and has everything: a transfer to a lagging one stalls writes.
    if (progress === undefined || !progress.isRecentActive || progress.match < status.lastIndex) return;
    local.lastTransferMs = now;
    const result = local.group.raft.transferLeadership(preferred);
    if (result.ok) {
      this.options.log.debug("handing partition leadership to its preferred leader", { group: local.partition.group, to: preferred });
      this.options.host.schedule();
    }
  }
}

/** One queue's counts over the partitions a node leads (STATUS `queues.byQueue`). */
export interface LedQueueStats {
  queue: string;
  partitionsLed: number;
  ready: number;
  delayed: number;
  inflight: number;
  deadLettered: number;
}
