// The public vocabulary of one queue partition's state machine. Kept apart from the machine so
// its helper modules (deque, args, snapshot) share the types without importing the machine.

/** 0 = the queue itself, 1 = its dead-letter queue "<queue>.dead". */
export type Lane = 0 | 1;

export type MessageBody = string | Uint8Array;

/** Over both lanes; bytes = sum of body sizes (UTF-8 length of strings, byteLength of bytes). */
export interface PartitionLimits {
  messagesMax: number;
  bytesMax: number;
}

export interface PartitionConfig {
  /** Lane 0 deliveries after which a nacked or expired message is dead-lettered instead of requeued. */
  maxDeliveries: number;
  limits: PartitionLimits;
}

export interface Delivery {
  seq: number;
  body: MessageBody;
  key: string | null;
  /** Counting this one: the first delivery has 1. */
  deliveries: number;
}

export interface LaneStats {
  ready: number;
  inflight: number;
  delayed: number;
}
