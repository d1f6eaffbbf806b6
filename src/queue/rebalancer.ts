// Keeps queue placements in step with the cluster's members, on group 0's leader. When the voters
// change (CLUSTER.ADD / CLUSTER.REMOVE) every queue gets the placement consistent hashing gives
// for the new voters — about 1/N of the replicas move — and the partition leaders then move their
// groups' membership to it (LocalPartitions). CLUSTER.REMOVE drains a member first, because a node
// out of group 0 no longer learns of placements.
import { SinkronError } from "../protocol/errors.ts";
import type { RaftGroup } from "../replication/raft-group.ts";
import type { Logger } from "../util/log.ts";
import type { PlaceQueueOp, QueueCatalog } from "./catalog-machine.ts";
import { placePartitions } from "./placement.ts";

export interface QueueRebalancerOptions {
  /** The metadata group holding the catalog. */
  group0: RaftGroup;
  catalog: QueueCatalog;
  log: Logger;
  /** The members of a partition's group as its leader reports them, or null when none answers. */
  leaderMembers(group: number, replicas: readonly string[]): Promise<string[] | null>;
}

/** How often group 0's leader checks whether the voters changed since queues were placed. */
const PLACEMENT_CHECK_MS = 1_000;
/** How long CLUSTER.REMOVE waits for the queue partitions to leave the member. */
const DRAIN_TIMEOUT_MS = 60_000;
const DRAIN_POLL_MS = 200;

export class QueueRebalancer {
  private timer: ReturnType<typeof setInterval> | null = null;
  /** The nodes the catalog's placements were last checked against. */
  private placedFor = "";
  private isPlacing = false;
  /** Members CLUSTER.REMOVE is moving the queues off. */
  private readonly draining = new Set<string>();

  constructor(private readonly options: QueueRebalancerOptions) {}

  start(): void {
    this.timer = setInterval(() => void this.placeIfMembersChanged(), PLACEMENT_CHECK_MS);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private async placeIfMembersChanged(): Promise<void> {
    if (!this.options.group0.isLeader || this.isPlacing) return;
    const nodes = this.placeableNodes();
    const signature = [...nodes].sort().join(",");
    if (signature === this.placedFor) return;
    this.isPlacing = true;
    try {
      await this.placeOn(nodes);
      this.placedFor = signature;
    } catch (error) {
      this.options.log.debug("queue placement not updated; will retry", { error: error as Error });
    } finally {
      this.isPlacing = false;
    }
  }

  private placeableNodes(): string[] {
    return this.options.group0.raft.status().voters.filter((id) => !this.draining.has(id));
  }

  /** Proposes, for every queue whose placement differs, the placement consistent hashing gives on `nodes`. */
  private async placeOn(nodes: string[]): Promise<void> {
    const { group0, catalog } = this.options;
    for (const queue of catalog.list()) {
      const replicas = Math.min(queue.replicas, nodes.length);
      const placement = placePartitions({ queue: queue.queue, partitions: queue.partitions.length, replicas, nodes }).map((p) => p.replicas);
      const isSame = queue.partitions.every((p, i) => p.replicas.join(",") === placement[i]!.join(","));
      if (isSame) continue;
      const op: PlaceQueueOp = { queue: queue.queue, createdIndex: queue.createdIndex, placement };
      await group0.propose({ op: "queue.place", args: op as unknown as Record<string, unknown>, rid: null });
      this.options.log.info("queue placement moved", { queue: queue.queue, nodes });
    }
  }

  /**
   * CLUSTER.REMOVE's first step: place every queue without `id` and wait until no partition's
   * group counts it any more, so the partitions it led are handed over while it still follows
   * the catalog.
   */
  async drain(id: string): Promise<void> {
    this.draining.add(id);
    try {
      const nodes = this.placeableNodes();
      if (nodes.length === 0) throw new SinkronError("CONFLICT", `removing ${id} would leave the queues no member to live on`, { id });
      await this.placeOn(nodes);
      const deadlineMs = performance.now() + DRAIN_TIMEOUT_MS;
      for (;;) {
        const groups = this.options.catalog.list().flatMap((q) => q.partitions);
        const counted = await Promise.all(groups.map(async (p) => (await this.options.leaderMembers(p.group, p.replicas))?.includes(id) ?? true));
        if (!counted.includes(true)) return;
        if (performance.now() > deadlineMs) {
          throw new SinkronError("UNAVAILABLE", `queue partitions could not be moved off ${id} within ${DRAIN_TIMEOUT_MS} ms; it stays a member (retry CLUSTER.REMOVE)`, { id, retryable: true });
        }
        await Bun.sleep(DRAIN_POLL_MS);
      }
    } finally {
      this.draining.delete(id);
    }
  }
}
