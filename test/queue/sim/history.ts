// The queue simulation's view of one partition group's committed log, built entry by entry in
// log order: each index is read once, the first time any replica applies it (the Raft checker
// makes every other replica prove, by a chained hash of entries and results, that it applied the
// same entry with the same result). Two layers:
//  - bookkeeping, always on, which the at-least-once checks rest on: when each seq was produced
//    and acked, whether it was ever delivered, which produces a client saw acknowledged, and the
//    dedup table (so a retried command answered from it is not mistaken for a second apply);
//  - a model (isModelEnabled) predicting every result: which messages are ready, inflight or
//    delayed, in which lane, how often delivered, how many a consume takes, what a tick moves.
//    Order within the fifos is left to the partition property test, which models it exactly.
// The negative controls turn the model off to prove the end-to-end checks catch a lost message
// on their own.

import { encodeValue } from "../../../src/protocol/msgpack.ts";
import type { Delivery, Lane, MessageBody, PartitionConfig } from "../../../src/queue/partition-machine.ts";
import { bodySizeBytes } from "../../../src/queue/partition-record.ts";
import type { TickResult } from "../../../src/queue/partition-machine.ts";
import { isAppliedError, type LogCommand } from "../../../src/replication/state-machine.ts";
import { SimulationViolation } from "../../raft/sim/checker.ts";

interface SeqInfo {
  readonly body: MessageBody;
  readonly key: string | null;
  readonly sizeBytes: number;
  readonly producedAt: number;
  /** Index of the q.ack entry that removed it. */
  ackedAt: number | null;
  firstDeliveredAt: number | null;
  lane: Lane;
  deliveries: number;
  state: "ready" | "inflight" | "delayed";
  dueMs: number;
  /** Rid of a produce a client saw acknowledged with this seq in its result. */
  acknowledgedBy: string | null;
}

export interface HistoryCounts {
  produced: number;
  acknowledged: number;
  refused: number;
  deliveries: number;
  redeliveries: number;
  acked: number;
  nacked: number;
  expired: number;
  deadLettered: number;
  dedupHits: number;
}

export interface HistoryOptions {
  group: number;
  config: PartitionConfig;
  dedupEntriesMax: number;
  isModelEnabled: boolean;
}

function violation(message: string): never {
  throw new SimulationViolation(message);
}

function sameBody(a: MessageBody, b: MessageBody): boolean {
  if (typeof a === "string" || typeof b === "string") return a === b;
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Seqs present in a PartitionMachine snapshot (rows as documented on PartitionSnapshot). */
export function snapshotSeqs(snapshot: unknown): Set<number> {
  const snap = snapshot as { ready: unknown[][]; inflight: unknown[]; delayed: unknown[] };
  const seqs = new Set<number>();
  const READY_ROW = 4;
  const TIMED_ROW = 6;
  for (const rows of snap.ready) for (let i = 0; i < rows.length; i += READY_ROW) seqs.add(rows[i] as number);
  for (const rows of [snap.inflight, snap.delayed]) for (let i = 0; i < rows.length; i += TIMED_ROW) seqs.add(rows[i] as number);
  return seqs;
}

export class GroupHistory {
  /** Highest index read so far; entries arrive in order. */
  lastIndex = 0;
  private nextSeq = 1;
  private readonly seqs = new Map<number, SeqInfo>();
  /** Seqs produced and not yet acked (the model's whole partition). */
  private readonly live = new Map<number, SeqInfo>();
  private liveBytes = 0;
  /** rid -> crc32 of the encoded first result, in apply order, evicted as the machine does. */
  private readonly dedup = new Map<string, number>();
  private readonly acknowledgedSeqs: number[] = [];
  readonly counts: HistoryCounts = {
    produced: 0,
    acknowledged: 0,
    refused: 0,
    deliveries: 0,
    redeliveries: 0,
    acked: 0,
    nacked: 0,
    expired: 0,
    deadLettered: 0,
    dedupHits: 0,
  };

  constructor(private readonly options: HistoryOptions) {}

  get liveCount(): number {
    return this.live.size;
  }

  private where(index: number): string {
    return `group ${this.options.group} index ${index}`;
  }

  private expect(condition: boolean, index: number, message: () => string): void {
    if (this.options.isModelEnabled && !condition) violation(`model: ${this.where(index)}: ${message()}`);
  }

  /** A committed entry (command null for a no-op or config entry) and the result its apply returned. */
  onApplied(index: number, command: LogCommand | null, result: unknown): void {
    if (index <= this.lastIndex) return;
    if (index !== this.lastIndex + 1) violation(`${this.where(index)}: first applied after ${this.lastIndex}: a gap in the log`);
    this.lastIndex = index;
    if (command === null) return;
    if (command.rid !== null) {
      const seen = this.dedup.get(command.rid);
      if (seen !== undefined) {
        this.counts.dedupHits++;
        this.expect(seen === Bun.hash.crc32(encodeValue(result)), index, () => `retried ${command.op} rid ${command.rid} answered differently from its first apply`);
        return;
      }
    }
    this.applyFresh(index, command, result);
    if (command.rid !== null) {
      this.dedup.set(command.rid, Bun.hash.crc32(encodeValue(result)));
      if (this.dedup.size > this.options.dedupEntriesMax) this.dedup.delete(this.dedup.keys().next().value!);
    }
  }

  private applyFresh(index: number, command: LogCommand, result: unknown): void {
    const args = command.args;
    switch (command.op) {
      case "q.produce":
        return this.produce(index, args.messages as [MessageBody, string | null][], result);
      case "q.consume":
        return this.consume(index, args.lane as Lane, args.requests as [number, number][], args.nowMs as number, result);
      case "q.ack":
        return this.ack(index, args.lane as Lane, args.seqs as number[], result);
      case "q.nack":
        return this.nack(index, args.lane as Lane, args.seqs as number[], args.delayMs as number, args.nowMs as number, result);
      case "q.tick":
        return this.tick(index, args.nowMs as number, result);
      default:
        violation(`${this.where(index)}: the simulation never proposes ${command.op}`);
    }
  }

  private produce(index: number, messages: [MessageBody, string | null][], result: unknown): void {
    const { messagesMax, bytesMax } = this.options.config.limits;
    const bytes = messages.reduce((sum, [body]) => sum + bodySizeBytes(body), 0);
    const isFull = this.live.size + messages.length > messagesMax || this.liveBytes + bytes > bytesMax;
    if (isAppliedError(result)) {
      if (result.$error !== "TOO_LARGE") violation(`${this.where(index)}: produce refused with ${result.$error}: ${result.message}`);
      this.expect(isFull, index, () => `produce of ${messages.length} refused, but ${this.live.size} messages / ${this.liveBytes} bytes leave room`);
      this.counts.refused++;
      return;
    }
    this.expect(!isFull, index, () => `produce of ${messages.length} accepted beyond the limits (${this.live.size} messages, ${this.liveBytes} bytes)`);
    const first = (result as { first: number }).first;
    this.expect(first === this.nextSeq, index, () => `produce got first seq ${first}, expected ${this.nextSeq}`);
    for (let i = 0; i < messages.length; i++) {
      const [body, key] = messages[i]!;
      const seq = first + i;
      if (this.seqs.has(seq)) violation(`${this.where(index)}: produce reused seq ${seq}`);
      const info: SeqInfo = {
        body,
        key,
        sizeBytes: bodySizeBytes(body),
        producedAt: index,
        ackedAt: null,
        firstDeliveredAt: null,
        lane: 0,
        deliveries: 0,
        state: "ready",
        dueMs: 0,
        acknowledgedBy: null,
      };
      this.seqs.set(seq, info);
      this.live.set(seq, info);
      this.liveBytes += info.sizeBytes;
    }
    this.nextSeq = Math.max(this.nextSeq, first + messages.length);
    this.counts.produced += messages.length;
  }

  private readyIn(lane: Lane): number {
    let ready = 0;
    for (const info of this.live.values()) if (info.lane === lane && info.state === "ready") ready++;
    return ready;
  }

  private consume(index: number, lane: Lane, requests: [number, number][], nowMs: number, result: unknown): void {
    if (!Array.isArray(result)) violation(`${this.where(index)}: consume answered ${JSON.stringify(result)}`);
    const taken = result as Delivery[][];
    this.expect(taken.length === requests.length, index, () => `consume of ${requests.length} requests answered ${taken.length}`);
    for (let r = 0; r < taken.length; r++) {
      const [max, visibilityMs] = requests[r] ?? [0, 0];
      const deliveries = taken[r]!;
      if (this.options.isModelEnabled) {
        const ready = this.readyIn(lane);
        this.expect(deliveries.length === Math.min(max, ready), index, () => `consume(max ${max}) in lane ${lane} took ${deliveries.length} with ${ready} ready`);
      }
      for (const d of deliveries) {
        const info = this.seqs.get(d.seq);
        if (info === undefined) violation(`${this.where(index)}: delivered seq ${d.seq}, which was never produced`);
        if (info.ackedAt !== null) violation(`${this.where(index)}: delivered seq ${d.seq} after its ack was committed at index ${info.ackedAt}`);
        this.expect(info.lane === lane, index, () => `seq ${d.seq} of lane ${info.lane} delivered from lane ${lane}`);
        this.expect(info.state === "ready", index, () => `seq ${d.seq} delivered while ${info.state} (due ${info.dueMs}, now ${nowMs})`);
        this.expect(sameBody(info.body, d.body) && info.key === d.key, index, () => `seq ${d.seq} delivered with another body or key`);
        this.expect(d.deliveries === info.deliveries + 1, index, () => `seq ${d.seq} delivery count ${d.deliveries} after ${info.deliveries}`);
        info.deliveries = d.deliveries;
        info.state = "inflight";
        info.dueMs = nowMs + visibilityMs;
        if (info.firstDeliveredAt === null) info.firstDeliveredAt = index;
        else this.counts.redeliveries++;
        this.counts.deliveries++;
      }
    }
  }

  private ack(index: number, lane: Lane, seqs: number[], result: unknown): void {
    if (!Array.isArray(result) || result.length !== seqs.length) violation(`${this.where(index)}: ack of ${seqs.length} answered ${JSON.stringify(result)}`);
    seqs.forEach((seq, i) => {
      const info = this.seqs.get(seq);
      const isExpected = info !== undefined && info.ackedAt === null && info.lane === lane;
      this.expect(result[i] === isExpected, index, () => `ack of seq ${seq} in lane ${lane} answered ${String(result[i])}`);
      if (result[i] !== true) return;
      if (info === undefined) violation(`${this.where(index)}: acked seq ${seq}, which was never produced`);
      if (info.ackedAt !== null) violation(`${this.where(index)}: seq ${seq} acked again after index ${info.ackedAt}`);
      info.ackedAt = index;
      this.live.delete(seq);
      this.liveBytes -= info.sizeBytes;
      this.counts.acked++;
    });
  }

  private nack(index: number, lane: Lane, seqs: number[], delayMs: number, nowMs: number, result: unknown): void {
    if (!Array.isArray(result) || result.length !== seqs.length) violation(`${this.where(index)}: nack of ${seqs.length} answered ${JSON.stringify(result)}`);
    seqs.forEach((seq, i) => {
      const info = this.live.get(seq);
      const isExpected = info !== undefined && info.lane === lane && info.state === "inflight";
      this.expect(result[i] === isExpected, index, () => `nack of seq ${seq} in lane ${lane} answered ${String(result[i])}`);
      if (result[i] !== true || info === undefined) return;
      this.counts.nacked++;
      if (this.isDeadLetter(info)) this.deadLetter(info);
      else if (delayMs === 0) info.state = "ready";
      else {
        info.state = "delayed";
        info.dueMs = nowMs + delayMs;
      }
    });
  }

  private isDeadLetter(info: SeqInfo): boolean {
    return info.lane === 0 && info.deliveries >= this.options.config.maxDeliveries;
  }

  private deadLetter(info: SeqInfo): void {
    info.lane = 1;
    info.state = "ready";
    this.counts.deadLettered++;
  }

  private tick(index: number, nowMs: number, result: unknown): void {
    const want: TickResult = { expired: 0, promoted: 0, deadLettered: 0 };
    const expiring: SeqInfo[] = [];
    const promoting: SeqInfo[] = [];
    for (const info of this.live.values()) {
      if (info.state === "inflight" && info.dueMs <= nowMs) expiring.push(info);
      else if (info.state === "delayed" && info.dueMs <= nowMs) promoting.push(info);
    }
    for (const info of expiring) {
      want.expired++;
      if (this.isDeadLetter(info)) {
        this.deadLetter(info);
        want.deadLettered++;
      } else info.state = "ready";
    }
    for (const info of promoting) {
      info.state = "ready";
      want.promoted++;
    }
    this.counts.expired += want.expired;
    const got = result as TickResult;
    this.expect(
      got.expired === want.expired && got.promoted === want.promoted && got.deadLettered === want.deadLettered,
      index,
      () => `tick at ${nowMs} answered ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`,
    );
  }

  /** A client saw its produce (rid) applied with `result` on the node it proposed to. */
  onProduceAcknowledged(rid: string, messages: [MessageBody, string | null][], result: { first: number }): void {
    for (let i = 0; i < messages.length; i++) {
      const seq = result.first + i;
      const info = this.seqs.get(seq);
      if (info === undefined) violation(`group ${this.options.group}: produce ${rid} acknowledged with seq ${seq}, which no committed entry produced`);
      if (!sameBody(info.body, messages[i]![0])) violation(`group ${this.options.group}: produce ${rid} acknowledged with seq ${seq}, which holds another body`);
      if (info.acknowledgedBy !== null) continue;
      info.acknowledgedBy = rid;
      this.acknowledgedSeqs.push(seq);
      this.counts.acknowledged++;
    }
  }

  /**
   * A replica's machine at applied index `applied` holds exactly `present`: every acknowledged
   * produce committed by then and not acked by then must be there, and nothing acked by then may be.
   */
  checkReplicaHolds(who: string, applied: number, present: ReadonlySet<number>): void {
    for (const seq of this.acknowledgedSeqs) {
      const info = this.seqs.get(seq)!;
      if (info.producedAt > applied || (info.ackedAt !== null && info.ackedAt <= applied)) continue;
      if (!present.has(seq)) {
        violation(
          `group ${this.options.group}: acknowledged produce ${info.acknowledgedBy} (seq ${seq}, committed at ${info.producedAt}) is missing from ` +
            `leader ${who}'s state at applied index ${applied}, and no ack removed it`,
        );
      }
    }
    for (const seq of present) {
      const info = this.seqs.get(seq);
      if (info === undefined || info.producedAt > applied) violation(`group ${this.options.group}: ${who} holds seq ${seq} at ${applied} before it was produced`);
      if (info.ackedAt !== null && info.ackedAt <= applied) violation(`group ${this.options.group}: ${who} still holds seq ${seq} at ${applied}, acked at ${info.ackedAt}`);
    }
  }

  /** After the drain: every acknowledged produce was delivered at least once. */
  checkAllAcknowledgedDelivered(): void {
    for (const seq of this.acknowledgedSeqs) {
      const info = this.seqs.get(seq)!;
      if (info.firstDeliveredAt === null) {
        violation(`group ${this.options.group}: acknowledged produce ${info.acknowledgedBy} (seq ${seq}, committed at ${info.producedAt}) was never delivered`);
      }
    }
  }
}
