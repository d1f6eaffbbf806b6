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
/** `deliveries` counts deliveries of this message, starting at 1; `key` is null when none was given. */
export type Delivery = { id: MessageId; body: MessageBody; key: string | null; deliveries: number };
export type AckArgs = { queue: string; id: MessageId };
export type NackArgs = { queue: string; id: MessageId; delayMs?: number };
export type CreateQueueArgs = { queue: string; partitions?: number; replicas?: number; maxDeliveries?: number };
/** Counts are null for a partition whose replicas could not be reached. */
export type QueuePartitionInfo = { partition: number; group: number; leader: string | null; replicas: string[]; ready: number | null; inflight: number | null; delayed: number | null };
/** `ready` includes delayed (nacked with a delay) messages; `maxDeliveries` is null for a `.dead` queue. */
export type QueueInfo = { queue: string; partitions: QueuePartitionInfo[]; ready: number; inflight: number; deadLettered: number; maxDeliveries: number | null };
export type CreateQueueResult = { queue: string; partitions: number; replicas: number; maxDeliveries: number; created: boolean };

export interface SubscribeOptions {
  /** Handlers running at once (default 1). */
  concurrency?: number;
  /** Visibility timeout of each delivery (server default 30 s); a handler should finish well within it. */
  visibilityMs?: number;
  /** Long-poll wait of each consume (default 5000). */
  waitMs?: number;
  /** Delay before a message whose handler threw is delivered again (default 0). */
  nackDelayMs?: number;
  /** Failures of consume, ack or nack calls (the loop backs off and goes on); default: ignored. */
  onError?: (error: unknown) => void;
}

export interface Subscription {
  /** Stops polling, waits for running handlers (and their acks); messages fetched but not started are given back. */
  stop(): Promise<void>;
  /** Messages handled so far: acked after success, nacked after a throw. */
  readonly stats: { acked: number; nacked: number; errors: number };
}

const SUBSCRIBE_BACKOFF_MS = 200;

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

  /** Idempotent for the same settings; CONFLICT when the queue exists with other explicit ones. */
  create(args: CreateQueueArgs, options?: CallOptions): Promise<CreateQueueResult> {
    return this.caller.call("Q.CREATE", args, options) as Promise<CreateQueueResult>;
  }

  info(args: { queue: string }, options?: CallOptions): Promise<QueueInfo> {
    return this.caller.call("Q.INFO", args, options) as Promise<QueueInfo>;
  }

  /** Deletes the queue, its dead letters and every message; NOT_FOUND when there is none. */
  delete(args: { queue: string }, options?: CallOptions): Promise<{ deleted: true }> {
    return this.caller.call("Q.DELETE", args, options) as Promise<{ deleted: true }>;
  }

  /**
   * Consumes `queue` until stopped: long-polls, runs `handler` on each message (up to
   * `concurrency` at once), acks it when the handler returns and nacks it when it throws.
   * Delivery is at-least-once: a handler may see a message again (check `deliveries`).
   */
  subscribe(queue: string, handler: (delivery: Delivery) => Promise<void> | void, options: SubscribeOptions = {}): Subscription {
    const concurrency = Math.max(1, options.concurrency ?? 1);
    const waitMs = options.waitMs ?? 5_000;
    const stats = { acked: 0, nacked: 0, errors: 0 };
    const running = new Set<Promise<void>>();
    let stopped = false;
    const report = (error: unknown) => {
      stats.errors++;
      options.onError?.(error);
    };
    const handle = async (delivery: Delivery) => {
      try {
        await handler(delivery);
      } catch {
        await this.nack({ queue, id: delivery.id, delayMs: options.nackDelayMs ?? 0 }).then(() => void stats.nacked++, report);
        return;
      }
      await this.ack({ queue, id: delivery.id }).then(() => void stats.acked++, report);
    };
    const loop = async () => {
      while (!stopped) {
        if (running.size >= concurrency) {
          await Promise.race(running);
          continue;
        }
        let batch: Delivery[];
        try {
          batch = await this.consume({ queue, max: Math.min(concurrency - running.size, 1000), waitMs, visibilityMs: options.visibilityMs });
        } catch (error) {
          report(error);
          await new Promise((resolve) => setTimeout(resolve, SUBSCRIBE_BACKOFF_MS));
          continue;
        }
        for (const delivery of batch) {
          if (stopped) {
            // Fetched after stop(): give it back now rather than after its visibility timeout.
            await this.nack({ queue, id: delivery.id }).catch(report);
            continue;
          }
          const task = handle(delivery).finally(() => running.delete(task));
          running.add(task);
        }
      }
    };
    const looping = loop();
    return {
      stats,
      async stop() {
        stopped = true;
        await looping;
        await Promise.all(running);
      },
    };
  }
}
