// One message as the partition machine holds it. A single record shape for every state keeps
// the hot paths monomorphic; `state` and `lane` say where it is, `dueMs` is its heap key.
import type { HeapItem } from "../locks/deadline-heap.ts";
import type { Lane, MessageBody } from "./partition-types.ts";

export const READY_FRESH = 0;
export const READY_RETRY = 1;
export const INFLIGHT = 2;
export const DELAYED = 3;
/** Acked: the record may linger in a fifo (lazy deletion) but is no longer a message. */
export const GONE = 4;
export type RecordState = typeof READY_FRESH | typeof READY_RETRY | typeof INFLIGHT | typeof DELAYED | typeof GONE;

export interface MessageRecord extends HeapItem {
  readonly seq: number;
  readonly body: MessageBody;
  readonly key: string | null;
  readonly sizeBytes: number;
  lane: Lane;
  deliveries: number;
  state: RecordState;
  /** The visibility deadline while INFLIGHT, the time it becomes ready while DELAYED. */
  dueMs: number;
}

export function newRecord(seq: number, body: MessageBody, key: string | null, sizeBytes: number, lane: Lane, deliveries: number): MessageRecord {
  return { seq, body, key, sizeBytes, lane, deliveries, state: READY_FRESH, dueMs: 0, heapIndex: -1 };
}

/** A strict total order (seqs are unique), so pop order never depends on a heap's layout. */
export function isDueBefore(a: MessageRecord, b: MessageRecord): boolean {
  return a.dueMs < b.dueMs || (a.dueMs === b.dueMs && a.seq < b.seq);
}

/** Deterministic on every runtime: lone surrogates count as U+FFFD (3 bytes), as TextEncoder writes them. */
export function bodySizeBytes(body: MessageBody): number {
  return typeof body === "string" ? Buffer.byteLength(body, "utf8") : body.byteLength;
}

/**
 * The body as the machine keeps it. Bytes are copied: a decoder's view into a log buffer
 * would pin that buffer, and a caller could change it under us. Strings are made well-formed
 * (lone surrogates become U+FFFD), which is what a MessagePack round trip does to them
 * anyway, so a replica that applied the command as proposed and one that applied it from
 * the log or a snapshot hold the same string.
 */
export function ownBody(body: MessageBody): MessageBody {
  return typeof body === "string" ? body.toWellFormed() : new Uint8Array(body);
}

export class PartitionInvariantError extends Error {
  override name = "PartitionInvariantError";
}

/** A broken invariant or a malformed snapshot is a bug: crash rather than replicate it. */
export function invariant(condition: boolean, message: string): asserts condition {
  if (!condition) throw new PartitionInvariantError(message);
}
