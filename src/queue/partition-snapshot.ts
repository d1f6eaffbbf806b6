// A partition's state as plain, msgpack-able data and back. Messages are flat rows in a few
// arrays (not an object per message), so a snapshot of a million messages stays compact and
// quick to encode. Every order that decides future results is kept: each fifo in fifo order,
// the heaps in (due, seq) order, and the seq counter, so a restored machine answers exactly
// as the original would.
import { DELAYED, INFLIGHT, invariant, isDueBefore, newRecord, ownBody, READY_FRESH, READY_RETRY, bodySizeBytes } from "./partition-record.ts";
import type { MessageRecord } from "./partition-record.ts";
import type { Lane } from "./partition-types.ts";

export const PARTITION_SNAPSHOT_VERSION = 1;

const READY_ROW = 4; // seq, body, key, deliveries
const TIMED_ROW = 6; // seq, lane, body, key, deliveries, dueMs

export interface PartitionSnapshot {
  version: number;
  nextSeq: number;
  /** Lane 0 retry, lane 0 fresh, lane 1 retry, lane 1 fresh: rows [seq, body, key, deliveries] in fifo order. */
  ready: unknown[][];
  /** Rows [seq, lane, body, key, deliveries, deadlineMs] in (deadline, seq) order. */
  inflight: unknown[];
  /** Rows [seq, lane, body, key, deliveries, readyAtMs] in (readyAt, seq) order. */
  delayed: unknown[];
}

/** Fifo index in `ready`: lane * 2 + (0 retry, 1 fresh). */
export type ReadyFifos = [MessageRecord[], MessageRecord[], MessageRecord[], MessageRecord[]];

export interface PartitionImage {
  nextSeq: number;
  ready: ReadyFifos;
  inflight: MessageRecord[];
  delayed: MessageRecord[];
}

export function encodeSnapshot(image: PartitionImage): PartitionSnapshot {
  const ready = image.ready.map((fifo) => {
    const rows: unknown[] = [];
    for (const r of fifo) rows.push(r.seq, r.body, r.key, r.deliveries);
    return rows;
  });
  return { version: PARTITION_SNAPSHOT_VERSION, nextSeq: image.nextSeq, ready, inflight: timedRows(image.inflight), delayed: timedRows(image.delayed) };
}

function timedRows(records: MessageRecord[]): unknown[] {
  const sorted = [...records].sort((a, b) => (isDueBefore(a, b) ? -1 : 1));
  const rows: unknown[] = [];
  for (const r of sorted) rows.push(r.seq, r.lane, r.body, r.key, r.deliveries, r.dueMs);
  return rows;
}

/** null (no snapshot yet) is the empty partition. A malformed snapshot is a bug: it asserts. */
export function decodeSnapshot(state: unknown): PartitionImage {
  if (state === null || state === undefined) return { nextSeq: 1, ready: [[], [], [], []], inflight: [], delayed: [] };
  const snap = state as PartitionSnapshot;
  invariant(typeof snap === "object" && snap.version === PARTITION_SNAPSHOT_VERSION, `partition snapshot version ${String(snap?.version)} is not ${PARTITION_SNAPSHOT_VERSION}`);
  invariant(Number.isSafeInteger(snap.nextSeq) && snap.nextSeq >= 1, "partition snapshot: bad nextSeq");
  invariant(Array.isArray(snap.ready) && snap.ready.length === 4, "partition snapshot: ready must hold 4 fifos");
  const ready = snap.ready.map((rows, fifo) => {
    invariant(Array.isArray(rows) && rows.length % READY_ROW === 0, `partition snapshot: ready fifo ${fifo} malformed`);
    const lane = (fifo >> 1) as Lane;
    const out: MessageRecord[] = [];
    for (let i = 0; i < rows.length; i += READY_ROW) {
      const r = decodeRecord(snap.nextSeq, rows[i], lane, rows[i + 1], rows[i + 2], rows[i + 3]);
      r.state = fifo % 2 === 0 ? READY_RETRY : READY_FRESH;
      out.push(r);
    }
    return out;
  }) as ReadyFifos;
  return { nextSeq: snap.nextSeq, ready, inflight: decodeTimed(snap.nextSeq, snap.inflight, INFLIGHT), delayed: decodeTimed(snap.nextSeq, snap.delayed, DELAYED) };
}

function decodeTimed(nextSeq: number, rows: unknown, state: typeof INFLIGHT | typeof DELAYED): MessageRecord[] {
  invariant(Array.isArray(rows) && rows.length % TIMED_ROW === 0, "partition snapshot: timed rows malformed");
  const out: MessageRecord[] = [];
  for (let i = 0; i < rows.length; i += TIMED_ROW) {
    const lane: unknown = rows[i + 1];
    invariant(lane === 0 || lane === 1, "partition snapshot: bad lane");
    const r = decodeRecord(nextSeq, rows[i], lane, rows[i + 2], rows[i + 3], rows[i + 4]);
    const dueMs: unknown = rows[i + 5];
    invariant(Number.isSafeInteger(dueMs), "partition snapshot: bad due time");
    r.state = state;
    r.dueMs = dueMs as number;
    out.push(r);
  }
  return out;
}

function decodeRecord(nextSeq: number, seq: unknown, lane: Lane, body: unknown, key: unknown, deliveries: unknown): MessageRecord {
  invariant(Number.isSafeInteger(seq) && (seq as number) >= 1 && (seq as number) < nextSeq, "partition snapshot: bad seq");
  invariant(typeof body === "string" || body instanceof Uint8Array, "partition snapshot: bad body");
  invariant(key === null || typeof key === "string", "partition snapshot: bad key");
  invariant(Number.isSafeInteger(deliveries) && (deliveries as number) >= 0, "partition snapshot: bad deliveries");
  const owned = ownBody(body);
  return newRecord(seq as number, owned, key, bodySizeBytes(owned), lane, deliveries as number);
}
