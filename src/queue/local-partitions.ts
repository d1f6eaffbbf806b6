// The partition replicas this node hosts, kept equal to what the catalog assigns it: a replica
// is created (or restored from storage) when its queue appears, and removed with its storage
// when the queue is deleted. For the partitions it leads, this node also proposes the time-based
// changes (visibility timeouts, delayed nacks) as q.tick entries, and hands leadership back to
// the partition's preferred leader, so leaders stay spread over the nodes after a failover.
import { CompositeStateMachine } from "../replication/state-machine-composite.ts";
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
  nowMs?: () => number;
}

/** A leader not on its preferred node waits this long after winning before handing over. */
const PREFERRED_LEADER_SETTLE_MS = 2_000;
/** Between two hand-over attempts of one partition. */
const TRANSFER_RETRY_MS = 5_000;

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
        if (partition.replicas.includes(selfId) && !this.local.has(partition.group)) this.host(queue, partition);
      }
    }
    for (const [group, local] of [...this.local]) {
      if (this.byGroup.has(group)) continue;
      this.local.delete(group);
      this.leaderSinceMs.delete(group);
      host.removeGroup(group);
      log.info("partition replica removed (queue deleted)", { queue: local.queue.queue, partition: local.partition.partition, group });
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

  private host(queue: QueueDescriptor, partition: PartitionDescriptor): void {
    const { host, limits, selfId } = this.options;
    const machine = new PartitionMachine({
      maxDeliveries: queue.maxDeliveries,
      limits: { messagesMax: limits.partitionMessagesMax, bytesMax: limits.partitionBytesMax },
    });
    const fsm = new CompositeStateMachine(limits.dedupEntriesMax);
    fsm.mount("q", machine);
    const group = host.createGroup(partition.group, partition.replicas, fsm);
    machine.onReady((lane) => this.options.onReady(partition.group, lane));
    const local: LocalPartition = { queue, partition, group, machine, isTickInFlight: false, lastTransferMs: 0 };
    this.local.set(partition.group, local);
    group.onRoleChange(() => {
      if (group.isLeader) this.leaderSinceMs.set(partition.group, this.nowMs());
      else this.leaderSinceMs.delete(partition.group);
    });
    // A new partition elects its preferred leader at once instead of after an election timeout.
    if (partition.replicas[0] === selfId && group.startedEmpty) group.raft.campaign();
    this.options.log.debug("partition replica hosted", { queue: queue.queue, partition: partition.partition, group: partition.group });
  }

  private onTimer(): void {
    const now = this.nowMs();
    for (const local of this.local.values()) {
      if (!local.group.isLeader) continue;
      const due = local.machine.nextDueMs();
      if (due !== null && due <= now && !local.isTickInFlight) this.proposeTick(local, now);
      this.handBackToPreferred(local, now);
    }
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
