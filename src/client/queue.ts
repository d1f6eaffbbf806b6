// Typed Q.* calls (DESIGN.md table, PROTOCOL.md §10): produce, long-poll consume, ack, nack,
// and queue admin. Thin on purpose: delivery semantics (at-least-once, visibility timeouts)
// live in the node.
import { optionsForWait, type CallOptions, type Caller } from "./caller.ts";

/** A message body travels as given: a string or bytes. */
export type MessageBody = string | Uint8Array;
/** Assigned by the queue on produce: opaque, unique in the queue; pass it back to ack/nack. */
export type MessageId = string;

export type ProduceArgs = { queue: string; body: MessageBody; key?: string };
export type ConsumeArgs = {
  queue: string;
  /** Most messages to return at once. */
  max?: number;
  /** Long-poll: how long to wait for a first message; the answer is [] when none came. */
  waitMs?: number;
  /** How long the delivered messages stay invisible to others before redelivery. */
  visibilityMs?: number;
};
/** `deliveries` counts deliveries of this message, starting at 1. */
export type Delivery = { id: MessageId; body: MessageBody; key?: string; deliveries: number };
export type AckArgs = { queue: string; id: MessageId };
export type NackArgs = { queue: string; id: MessageId; delayMs?: number };
export type CreateQueueArgs = { queue: string; partitions?: number; replicas?: number; maxDeliveries?: number };
export type QueuePartitionInfo = { partition: number; leader: string | null; replicas: string[]; ready: number; inflight: number };
export type QueueInfo = { queue: string; partitions: QueuePartitionInfo[]; ready: number; inflight: number; deadLettered: number };

export class QueueApi {
  constructor(private readonly caller: Caller) {}

  produce(args: ProduceArgs, options?: CallOptions): Promise<{ id: MessageId }> {
    return this.caller.call("Q.PRODUCE", args, options) as Promise<{ id: MessageId }>;
  }

  consume(args: ConsumeArgs, options?: CallOptions): Promise<Delivery[]> {
    return this.caller.call("Q.CONSUME", args, optionsForWait(this.caller, args.waitMs, options)) as Promise<Delivery[]>;
  }

  /** Rejects NOT_FOUND for an unknown (or already acked) id. */
  ack(args: AckArgs, options?: CallOptions): Promise<{ acked: true }> {
    return this.caller.call("Q.ACK", args, options) as Promise<{ acked: true }>;
  }

  nack(args: NackArgs, options?: CallOptions): Promise<{ requeued: true }> {
    return this.caller.call("Q.NACK", args, options) as Promise<{ requeued: true }>;
  }

  /** Result shape: TBD by the queue service. */
  create(args: CreateQueueArgs, options?: CallOptions): Promise<Record<string, unknown>> {
    return this.caller.call("Q.CREATE", args, options) as Promise<Record<string, unknown>>;
  }

  info(args: { queue: string }, options?: CallOptions): Promise<QueueInfo> {
    return this.caller.call("Q.INFO", args, options) as Promise<QueueInfo>;
  }

  /** Result shape: TBD by the queue service. */
  delete(args: { queue: string }, options?: CallOptions): Promise<Record<string, unknown>> {
    return this.caller.call("Q.DELETE", args, options) as Promise<Record<string, unknown>>;
  }
}
