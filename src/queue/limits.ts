// Bounds of the queue service on one node. Every one is configurable (NodeConfig.queue, the
// --queue-* flags) and documented in the README's configuration table.
export interface QueueLimits {
  /** Messages one partition holds (ready, in flight, delayed, dead-lettered); beyond: TOO_LARGE. */
  partitionMessagesMax: number;
  /** Body bytes one partition holds; beyond: TOO_LARGE. */
  partitionBytesMax: number;
  /** Requests merged into one proposal to a partition. */
  batchItemsMax: number;
  /** Body bytes merged into one proposal to a partition. */
  batchBytesMax: number;
  /** Requests waiting on this node for one partition's next batch; beyond: UNAVAILABLE. */
  backlogMax: number;
  /**
   * Batches of keyless produces, consumes or acks a node has in flight to one partition (keyed
   * produces keep one, so their order holds even across a retry on a new leader).
   */
  batchesInFlightMax: number;
  /** Q.CONSUME calls long-polling on this node at once; beyond: UNAVAILABLE. */
  waitersMax: number;
  /** Request ids remembered per partition to apply a retried batch once. */
  dedupEntriesMax: number;
}

export const DEFAULT_QUEUE_LIMITS: Readonly<QueueLimits> = {
  partitionMessagesMax: 1_000_000,
  partitionBytesMax: 256 * 1024 * 1024,
  batchItemsMax: 4096,
  batchBytesMax: 1024 * 1024,
  backlogMax: 65_536,
  batchesInFlightMax: 4,
  waitersMax: 10_000,
  dedupEntriesMax: 10_000,
};
