// The queue catalog, replicated in group 0: which queues exist, their settings, and where each
// partition lives (its Raft group and replicas, placed by consistent hashing when the queue was
// created). Every node hosts the partition groups the catalog assigns to it, so the catalog is
// the one place that decides placement. Group ids come from a counter that only grows, so a
// deleted queue's groups are never reused and a leftover replica can be recognised as stale.
import { appliedError, type ApplyContext, type LogCommand, type StateMachine } from "../replication/state-machine.ts";

export interface PartitionDescriptor {
  partition: number;
  /** The partition's Raft group id (≥ 1; group 0 is the metadata group). */
  group: number;
  /** replicas[0] is the preferred leader. */
  replicas: string[];
}

export interface QueueDescriptor {
  queue: string;
  /** Replicas per partition as placed (the requested count, clamped to the cluster size). */
  replicas: number;
  maxDeliveries: number;
  partitions: PartitionDescriptor[];
  /** Log index of the creating entry: tells two incarnations of one name apart. */
  createdIndex: number;
  /**
   * How often the placement changed since creation (members joined or left). At 0 the replicas
   * are the founders of their partition groups; later, a node new to a partition starts its
   * replica empty and waits for the partition's leader to add it (as a learner, then a voter).
   */
  placementEpoch: number;
}

export interface PlaceQueueOp {
  queue: string;
  /** The incarnation the proposer saw: a placement for a deleted and re-created queue is refused. */
  createdIndex: number;
  placement: string[][];
}

export interface CreateQueueOp {
  queue: string;
  replicas: number;
  maxDeliveries: number;
  /** [partition replicas] in partition order, computed by the proposer from the voters. */
  placement: string[][];
  /**
   * Which settings the caller chose explicitly: an existing queue with other values for them is
   * a CONFLICT; defaults (a queue created by its first produce) accept whatever exists.
   */
  explicit: { partitions: boolean; replicas: boolean; maxDeliveries: boolean };
}

export type CreateQueueResult = QueueDescriptor & { created: boolean };

interface CatalogSnapshot {
  nextGroup: number;
  queues: QueueDescriptor[];
}

const FIRST_PARTITION_GROUP = 1;

export class QueueCatalog implements StateMachine {
  private queues = new Map<string, QueueDescriptor>();
  private nextGroupId = FIRST_PARTITION_GROUP;
  private readonly listeners = new Set<() => void>();

  /** Calls `listener` after a queue was created or deleted, or the catalog was restored. */
  onChange(listener: () => void): void {
    this.listeners.add(listener);
  }

  get(queue: string): QueueDescriptor | undefined {
    return this.queues.get(queue);
  }

  list(): QueueDescriptor[] {
    return [...this.queues.values()];
  }

  /** Every group id below this was allocated; one that is not in the catalog was deleted. */
  get nextGroup(): number {
    return this.nextGroupId;
  }

  apply(command: LogCommand, ctx: ApplyContext): unknown {
    switch (command.op) {
      case "queue.create":
        return this.create(command.args as unknown as CreateQueueOp, ctx);
      case "queue.delete":
        return this.delete(String(command.args.queue));
      case "queue.place":
        return this.place(command.args as unknown as PlaceQueueOp);
      default:
        return appliedError("BAD_REQUEST", `unknown operation '${command.op}'`);
    }
  }

  private create(op: CreateQueueOp, ctx: ApplyContext): unknown {
    if (!isCreateOp(op)) return appliedError("BAD_REQUEST", "queue.create: malformed arguments");
    const existing = this.queues.get(op.queue);
    if (existing !== undefined) {
      const differs =
        (op.explicit.partitions && existing.partitions.length !== op.placement.length) ||
        (op.explicit.replicas && existing.replicas !== op.replicas) ||
        (op.explicit.maxDeliveries && existing.maxDeliveries !== op.maxDeliveries);
      if (differs) {
        return appliedError("CONFLICT", `queue '${op.queue}' exists with other settings`, {
          queue: op.queue,
          partitions: existing.partitions.length,
          replicas: existing.replicas,
          maxDeliveries: existing.maxDeliveries,
        });
      }
      return { ...existing, created: false } satisfies CreateQueueResult;
    }
    const descriptor: QueueDescriptor = {
      queue: op.queue,
      replicas: op.replicas,
      maxDeliveries: op.maxDeliveries,
      partitions: op.placement.map((replicas, partition) => ({ partition, group: this.nextGroupId++, replicas: [...replicas] })),
      createdIndex: ctx.index,
      placementEpoch: 0,
    };
    this.queues.set(op.queue, descriptor);
    this.changed();
    return { ...descriptor, created: true } satisfies CreateQueueResult;
  }

  /** New target replicas for a queue's partitions (same groups); their leaders move the replicas. */
  private place(op: PlaceQueueOp): unknown {
    const existing = this.queues.get(op.queue);
    if (existing === undefined || existing.createdIndex !== op.createdIndex) return appliedError("NOT_FOUND", `no queue '${op.queue}' (of that incarnation)`, { queue: op.queue });
    const isWellFormed =
      Array.isArray(op.placement) &&
      op.placement.length === existing.partitions.length &&
      op.placement.every((r) => Array.isArray(r) && r.length >= 1 && r.every((id) => typeof id === "string"));
    if (!isWellFormed) return appliedError("BAD_REQUEST", "queue.place: malformed placement");
    const updated: QueueDescriptor = {
      ...existing,
      placementEpoch: existing.placementEpoch + 1,
      partitions: existing.partitions.map((p, i) => ({ ...p, replicas: [...op.placement[i]!] })),
    };
    this.queues.set(op.queue, updated);
    this.changed();
    return { placed: true, placementEpoch: updated.placementEpoch };
  }

  private delete(queue: string): unknown {
    if (!this.queues.delete(queue)) return appliedError("NOT_FOUND", `no queue '${queue}'`, { queue });
    this.changed();
    return { deleted: true };
  }

  snapshot(): CatalogSnapshot {
    return { nextGroup: this.nextGroupId, queues: this.list() };
  }

  restore(state: unknown): void {
    const snap = state as CatalogSnapshot | null;
    this.queues = new Map((snap?.queues ?? []).map((q) => [q.queue, { ...q, placementEpoch: q.placementEpoch ?? 0 }]));
    this.nextGroupId = snap?.nextGroup ?? FIRST_PARTITION_GROUP;
    this.changed();
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }
}

function isCreateOp(op: CreateQueueOp): boolean {
  return (
    typeof op.queue === "string" &&
    Number.isInteger(op.replicas) &&
    op.replicas >= 1 &&
    Number.isInteger(op.maxDeliveries) &&
    op.maxDeliveries >= 1 &&
    Array.isArray(op.placement) &&
    op.placement.length >= 1 &&
    op.placement.every((r) => Array.isArray(r) && r.length >= 1 && r.every((id) => typeof id === "string")) &&
    typeof op.explicit === "object" &&
    op.explicit !== null
  );
}
