// The deterministic state machine of one queue partition (DESIGN.md "State machines are
// deterministic"): messages in two lanes (the queue and its dead-letter queue), each lane a
// RETRY fifo ahead of a FRESH fifo of ready messages, plus inflight messages under a
// visibility deadline and delayed ones waiting for a time. Time only arrives as `nowMs` in
// commands the partition's leader stamped, so every replica applying the same log reaches
// the same state and answers. Costs: O(1) amortized per message to produce, consume and ack a
// ready message; O(log n) for anything on a deadline heap.
import { DeadlineHeap } from "../locks/deadline-heap.ts";
import type { ApplyContext, LogCommand, StateMachine } from "../replication/state-machine.ts";
import { appliedError } from "../replication/state-machine.ts";
import { BadArgs, parseAck, parseConsume, parseNack, parseProduce, parseTick } from "./partition-args.ts";
import type { AckArgs, ConsumeArgs, NackArgs, ProduceArgs, TickArgs } from "./partition-args.ts";
import { PartitionDeque } from "./partition-deque.ts";
import { DELAYED, GONE, INFLIGHT, invariant, isDueBefore, newRecord, ownBody, READY_FRESH, READY_RETRY } from "./partition-record.ts";
import type { MessageRecord } from "./partition-record.ts";
import { decodeSnapshot, encodeSnapshot } from "./partition-snapshot.ts";
import type { ReadyFifos } from "./partition-snapshot.ts";
import type { Delivery, Lane, LaneStats, PartitionConfig } from "./partition-types.ts";

export type { Delivery, Lane, LaneStats, MessageBody, PartitionConfig, PartitionLimits } from "./partition-types.ts";

export interface TickResult {
  /** Inflight messages whose visibility deadline passed, including those dead-lettered. */
  expired: number;
  /** Delayed messages that became ready. */
  promoted: number;
  /** Of the expired, those moved to lane 1 because lane 0 delivered them maxDeliveries times. */
  deadLettered: number;
}

class LaneState {
  /** Messages requeued by expiry, nack or promotion, served before fresh ones. */
  readonly retry: PartitionDeque<MessageRecord>;
  /** Messages never taken from this lane: produced (lane 0) or dead-lettered (lane 1). */
  readonly fresh: PartitionDeque<MessageRecord>;
  inflight = 0;
  delayed = 0;

  constructor(lane: Lane) {
    this.retry = new PartitionDeque((r) => r.state === READY_RETRY && r.lane === lane);
    this.fresh = new PartitionDeque((r) => r.state === READY_FRESH && r.lane === lane);
  }

  get ready(): number {
    return this.retry.liveCount + this.fresh.liveCount;
  }

  take(): MessageRecord | undefined {
    return this.retry.shift() ?? this.fresh.shift();
  }
}

export class PartitionMachine implements StateMachine {
  private readonly records = new Map<number, MessageRecord>();
  private lanes: [LaneState, LaneState] = [new LaneState(0), new LaneState(1)];
  private readonly inflightHeap = new DeadlineHeap<MessageRecord>(isDueBefore);
  private readonly delayedHeap = new DeadlineHeap<MessageRecord>(isDueBefore);
  /** Never goes back, so a seq names one message forever (an ack can never hit a newer one). */
  private nextSeq = 1;
  private totalBytes = 0;
  private readonly readyListeners: ((lane: Lane) => void)[] = [];
  /** Bit `1 << lane` set when the current apply made a message of that lane ready. */
  private readyLanes = 0;

  constructor(private readonly config: PartitionConfig) {
    invariant(config.maxDeliveries >= 1, "partition: maxDeliveries must be at least 1");
    invariant(config.limits.messagesMax >= 0 && config.limits.bytesMax >= 0, "partition: limits must be non-negative");
  }

  get messages(): number {
    return this.records.size;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  stats(lane: Lane): LaneStats {
    const state = this.lanes[lane];
    return { ready: state.ready, inflight: state.inflight, delayed: state.delayed };
  }

  readyCount(lane: Lane): number {
    return this.lanes[lane].ready;
  }

  /** Earliest inflight visibility deadline or delayed readyAt over both lanes, or null. The leader proposes q.tick when it passes. */
  nextDueMs(): number | null {
    const inflight = this.inflightHeap.peek();
    const delayed = this.delayedHeap.peek();
    if (inflight === undefined) return delayed === undefined ? null : delayed.dueMs;
    return delayed === undefined ? inflight.dueMs : Math.min(inflight.dueMs, delayed.dueMs);
  }

  /** Called synchronously at the end of an apply (or restore) that made at least one message ready. Used for long-poll wake-ups. */
  onReady(listener: (lane: Lane) => void): void {
    this.readyListeners.push(listener);
  }

  apply(command: LogCommand, _ctx: ApplyContext): unknown {
    this.readyLanes = 0;
    const result = this.dispatch(command);
    this.notifyReady();
    return result;
  }

  private dispatch(command: LogCommand): unknown {
    const args = command.args;
    if (args === null || typeof args !== "object" || Array.isArray(args)) return appliedError("BAD_REQUEST", `${command.op}: args must be a map`);
    switch (command.op) {
      case "q.produce":
        return refusedOr(parseProduce(args), (a) => this.produce(a));
      case "q.consume":
        return refusedOr(parseConsume(args), (a) => this.consume(a));
      case "q.ack":
        return refusedOr(parseAck(args), (a) => this.ack(a));
      case "q.nack":
        return refusedOr(parseNack(args), (a) => this.nack(a));
      case "q.tick":
        return refusedOr(parseTick(args), (a) => this.tick(a));
      default:
        return appliedError("BAD_REQUEST", `unknown queue operation '${String(command.op)}'`);
    }
  }

  private produce({ messages, sizesBytes, bytes }: ProduceArgs): unknown {
    const { messagesMax, bytesMax } = this.config.limits;
    if (this.records.size + messages.length > messagesMax || this.totalBytes + bytes > bytesMax) {
      return appliedError("TOO_LARGE", `queue partition full: ${messages.length} message(s) of ${bytes} bytes do not fit (limits ${messagesMax} messages, ${bytesMax} bytes)`, {
        messages: this.records.size,
        bytes: this.totalBytes,
      });
    }
    const first = this.nextSeq;
    const fresh = this.lanes[0].fresh;
    for (let i = 0; i < messages.length; i += 1) {
      const [body, key] = messages[i]!;
      const record = newRecord(this.nextSeq, ownBody(body), key, sizesBytes[i]!, 0, 0);
      this.nextSeq += 1;
      this.records.set(record.seq, record);
      fresh.push(record);
    }
    this.totalBytes += bytes;
    this.readyLanes |= 1;
    return { first };
  }

  private consume({ lane, requests, nowMs }: ConsumeArgs): Delivery[][] {
    const state = this.lanes[lane];
    const results: Delivery[][] = [];
    for (const [max, visibilityMs] of requests) {
      const taken: Delivery[] = [];
      while (taken.length < max) {
        const record = state.take();
        if (record === undefined) break;
        record.deliveries += 1;
        record.state = INFLIGHT;
        record.dueMs = nowMs + visibilityMs;
        this.inflightHeap.push(record);
        state.inflight += 1;
        taken.push({ seq: record.seq, body: record.body, key: record.key, deliveries: record.deliveries });
      }
      results.push(taken);
    }
    return results;
  }

  private ack({ lane, seqs }: AckArgs): boolean[] {
    return seqs.map((seq) => {
      const record = this.records.get(seq);
      if (record === undefined || record.lane !== lane) return false;
      this.leaveState(record);
      this.records.delete(seq);
      this.totalBytes -= record.sizeBytes;
      return true;
    });
  }

  private nack({ lane, seqs, delayMs, nowMs }: NackArgs): boolean[] {
    return seqs.map((seq) => {
      const record = this.records.get(seq);
      if (record === undefined || record.lane !== lane || record.state !== INFLIGHT) return false;
      this.leaveState(record);
      if (this.isDeadLetter(record)) this.deadLetter(record);
      else if (delayMs === 0) this.requeue(record);
      else {
        record.state = DELAYED;
        record.dueMs = nowMs + delayMs;
        this.delayedHeap.push(record);
        this.lanes[lane].delayed += 1;
      }
      return true;
    });
  }

  private tick({ nowMs }: TickArgs): TickResult {
    let expired = 0;
    let deadLettered = 0;
    // Expiries before promotions, each in (due, seq) order: the order they reach the fifos.
    for (let record = this.inflightHeap.peek(); record !== undefined && record.dueMs <= nowMs; record = this.inflightHeap.peek()) {
      this.leaveState(record);
      expired += 1;
      if (this.isDeadLetter(record)) {
        this.deadLetter(record);
        deadLettered += 1;
      } else this.requeue(record);
    }
    let promoted = 0;
    for (let record = this.delayedHeap.peek(); record !== undefined && record.dueMs <= nowMs; record = this.delayedHeap.peek()) {
      this.leaveState(record);
      this.requeue(record);
      promoted += 1;
    }
    return { expired, promoted, deadLettered };
  }

  private isDeadLetter(record: MessageRecord): boolean {
    return record.lane === 0 && record.deliveries >= this.config.maxDeliveries;
  }

  /** Takes the record out of its current state's structure and count; the caller sets the next state. */
  private leaveState(record: MessageRecord): void {
    const state = this.lanes[record.lane];
    const previous = record.state;
    // GONE before markStale: a sweep that markStale may start must already see it as stale.
    record.state = GONE;
    switch (previous) {
      case READY_FRESH:
        state.fresh.markStale();
        break;
      case READY_RETRY:
        state.retry.markStale();
        break;
      case INFLIGHT:
        this.inflightHeap.remove(record);
        state.inflight -= 1;
        break;
      case DELAYED:
        this.delayedHeap.remove(record);
        state.delayed -= 1;
        break;
      case GONE:
        invariant(false, `partition: seq ${record.seq} is acked but still indexed`);
    }
  }

  private requeue(record: MessageRecord): void {
    record.state = READY_RETRY;
    this.lanes[record.lane].retry.push(record);
    this.readyLanes |= 1 << record.lane;
  }

  /** Lane 1 has no delivery limit, so a message is dead-lettered at most once. */
  private deadLetter(record: MessageRecord): void {
    record.lane = 1;
    record.state = READY_FRESH;
    this.lanes[1].fresh.push(record);
    this.readyLanes |= 2;
  }

  private notifyReady(): void {
    const lanes = this.readyLanes;
    this.readyLanes = 0;
    if (lanes === 0) return;
    for (const lane of [0, 1] as const) {
      if ((lanes & (1 << lane)) === 0) continue;
      for (const listener of this.readyListeners) listener(lane);
    }
  }

  snapshot(): unknown {
    const ready: ReadyFifos = [this.lanes[0].retry.toArray(), this.lanes[0].fresh.toArray(), this.lanes[1].retry.toArray(), this.lanes[1].fresh.toArray()];
    const inflight: MessageRecord[] = [];
    const delayed: MessageRecord[] = [];
    for (const record of this.records.values()) {
      if (record.state === INFLIGHT) inflight.push(record);
      else if (record.state === DELAYED) delayed.push(record);
    }
    return encodeSnapshot({ nextSeq: this.nextSeq, ready, inflight, delayed });
  }

  restore(state: unknown): void {
    const image = decodeSnapshot(state);
    this.records.clear();
    this.inflightHeap.clear();
    this.delayedHeap.clear();
    this.lanes = [new LaneState(0), new LaneState(1)];
    this.nextSeq = image.nextSeq;
    this.totalBytes = 0;
    image.ready.forEach((fifo, index) => {
      const lane = this.lanes[index >> 1]!;
      for (const record of fifo) {
        this.index(record);
        (index % 2 === 0 ? lane.retry : lane.fresh).push(record);
      }
    });
    for (const record of image.inflight) {
      this.index(record);
      this.inflightHeap.push(record);
      this.lanes[record.lane].inflight += 1;
    }
    for (const record of image.delayed) {
      this.index(record);
      this.delayedHeap.push(record);
      this.lanes[record.lane].delayed += 1;
    }
    this.readyLanes = (this.lanes[0].ready > 0 ? 1 : 0) | (this.lanes[1].ready > 0 ? 2 : 0);
    this.notifyReady();
  }

  private index(record: MessageRecord): void {
    invariant(!this.records.has(record.seq), `partition snapshot: seq ${record.seq} appears twice`);
    this.records.set(record.seq, record);
    this.totalBytes += record.sizeBytes;
  }

  /** Recounts everything from scratch (O(n)); for tests and debugging. */
  checkInvariants(): void {
    const counted = [0, 0].map(() => ({ ready: 0, inflight: 0, delayed: 0 }));
    let bytes = 0;
    for (const [seq, record] of this.records) {
      invariant(record.seq === seq && seq < this.nextSeq, `partition: seq ${seq} misindexed`);
      const lane = counted[record.lane]!;
      if (record.state === READY_FRESH || record.state === READY_RETRY) lane.ready += 1;
      else if (record.state === INFLIGHT) lane.inflight += 1;
      else if (record.state === DELAYED) lane.delayed += 1;
      else invariant(false, `partition: seq ${seq} indexed while acked`);
      invariant((record.state === INFLIGHT || record.state === DELAYED) === (record.heapIndex >= 0), `partition: seq ${seq} heap membership wrong`);
      bytes += record.sizeBytes;
    }
    invariant(bytes === this.totalBytes, "partition: byte count drifted");
    for (const lane of [0, 1] as const) {
      const state = this.lanes[lane];
      const fifoReady = state.retry.toArray().length + state.fresh.toArray().length;
      invariant(fifoReady === state.ready && state.ready === counted[lane]!.ready, `partition: lane ${lane} ready count drifted`);
      invariant(state.inflight === counted[lane]!.inflight && state.delayed === counted[lane]!.delayed, `partition: lane ${lane} counts drifted`);
    }
    invariant(this.inflightHeap.size === counted[0]!.inflight + counted[1]!.inflight, "partition: inflight heap size drifted");
    invariant(this.delayedHeap.size === counted[0]!.delayed + counted[1]!.delayed, "partition: delayed heap size drifted");
  }
}

function refusedOr<T>(parsed: T | BadArgs, run: (args: T) => unknown): unknown {
  return parsed instanceof BadArgs ? appliedError("BAD_REQUEST", parsed.message) : run(parsed);
}
