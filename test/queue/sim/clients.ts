// Simulated queue clients. Each runs one operation at a time (then its backlog of acks and
// nacks), proposes it to a replica that believes it leads the group — possibly a stale leader
// behind a partition — and waits for the answer the way RaftGroup.propose does: the result once
// the entry is applied on that replica, a failure when another entry took its index or a
// snapshot skipped it, or silence when that node crashed. Produces, acks and nacks carry a rid
// and are retried until answered; consumes carry none (as in QueueService) and are abandoned,
// leaving their messages inflight until the visibility timeout.

import type { Delivery, Lane, MessageBody } from "../../../src/queue/partition-machine.ts";
import type { ProposeResult } from "../../../src/raft/index.ts";
import { isAppliedError, type LogCommand } from "../../../src/replication/state-machine.ts";
import { SimulationViolation } from "../../raft/sim/checker.ts";
import type { SimEvents } from "../../raft/sim/events.ts";
import type { Prng } from "../../raft/sim/prng.ts";
import type { GroupHistory } from "./history.ts";

export type ClientOp =
  | { kind: "produce"; group: number; rid: string; messages: [MessageBody, string | null][] }
  | { kind: "consume"; group: number; lane: Lane; requests: [number, number][] }
  | { kind: "ack"; group: number; lane: Lane; seqs: number[]; rid: string }
  | { kind: "nack"; group: number; lane: Lane; seqs: number[]; delayMs: number; rid: string };

export interface Waiter {
  onApplied(result: unknown): void;
  onFailed(reason: string): void;
}

/** One replica a proposal can be handed to. */
export interface ProposeTarget {
  readonly name: string;
  /** The leader's wall clock, which it stamps on commands carrying nowMs. */
  clockMs(): number;
  propose(command: LogCommand, waiter: Waiter): ProposeResult;
}

export interface ClientHost {
  readonly now: number;
  readonly opsPrng: Prng;
  pickLeader(group: number): ProposeTarget | null;
  history(group: number): GroupHistory;
  readonly events: SimEvents;
}

export interface ClientProfile {
  groups: number;
  timeoutTicks: number;
  produceRate: number;
  consumeRate: number;
  ackRate: number;
  nackRate: number;
  nackDelayMaxMs: number;
  visibilityMinMs: number;
  visibilityMaxMs: number;
  binaryBodyRate: number;
}

/** Drainers consume with a visibility long enough for their acks to commit on a healed network. */
const DRAIN_VISIBILITY_MS = 2_000;
const DRAIN_BATCH_MAX = 50;

export type ClientKind = "producer" | "consumer" | "drainer";

interface Attempt {
  op: ClientOp;
  /** Identifies the proposal in flight, so a late answer to an abandoned one is ignored. */
  token: number;
  deadline: number | null;
  nextTryAt: number;
}

const encoder = new TextEncoder();

export class SimClient {
  private current: Attempt | null = null;
  private readonly backlog: ClientOp[] = [];
  private opSeq = 0;
  private tokenSeq = 0;
  /** Chaos clients stop inventing work when the faults heal (drainers are created then). */
  isGenerating = true;
  private drainLane: Lane = 0;
  private restUntil = 0;

  constructor(
    readonly id: string,
    readonly kind: ClientKind,
    private readonly profile: ClientProfile,
    private readonly drainGroup = 1,
  ) {}

  get isIdle(): boolean {
    return this.current === null && this.backlog.length === 0;
  }

  describe(): string {
    if (this.current === null) return `${this.id}: idle, ${this.backlog.length} queued`;
    const { op, deadline, nextTryAt } = this.current;
    return `${this.id}: ${op.kind} g${op.group} ${"rid" in op ? op.rid : ""} deadline ${deadline ?? "-"} next ${nextTryAt}, ${this.backlog.length} queued`;
  }

  step(host: ClientHost): void {
    if (this.current === null) {
      const op = this.backlog.shift() ?? (this.isGenerating && host.now >= this.restUntil ? this.newOp(host) : undefined);
      if (op === undefined) return;
      this.current = { op, token: 0, deadline: null, nextTryAt: host.now };
    }
    const current = this.current;
    if (current.deadline !== null) {
      if (host.now < current.deadline) return;
      host.events.count("clientTimeout");
      if (current.op.kind === "consume") {
        this.current = null;
        return;
      }
      current.deadline = null;
    }
    if (host.now >= current.nextTryAt) this.submit(host, current);
  }

  private newOp(host: ClientHost): ClientOp | undefined {
    const p = host.opsPrng;
    const profile = this.profile;
    if (this.kind === "drainer") {
      this.drainLane = this.drainLane === 0 ? 1 : 0;
      return { kind: "consume", group: this.drainGroup, lane: this.drainLane, requests: [[DRAIN_BATCH_MAX, DRAIN_VISIBILITY_MS]] };
    }
    const group = p.int(1, profile.groups);
    const n = ++this.opSeq;
    if (this.kind === "producer") {
      if (!p.chance(profile.produceRate)) return undefined;
      const count = p.chance(0.3) ? p.int(2, 6) : 1;
      const messages: [MessageBody, string | null][] = [];
      for (let i = 0; i < count; i++) {
        const text = `${this.id}.${n}.${i}${".".repeat(p.int(0, 40))}`;
        const key = p.chance(0.6) ? null : `k${p.int(0, 3)}`;
        messages.push([p.chance(profile.binaryBodyRate) ? encoder.encode(text) : text, key]);
      }
      return { kind: "produce", group, rid: `${this.id}:${n}`, messages };
    }
    if (!p.chance(profile.consumeRate)) return undefined;
    const requests: [number, number][] = [];
    for (let i = p.chance(0.2) ? 2 : 1; i > 0; i--) requests.push([p.int(1, 8), p.int(profile.visibilityMinMs, profile.visibilityMaxMs)]);
    return { kind: "consume", group, lane: p.chance(0.15) ? 1 : 0, requests };
  }

  private command(op: ClientOp, nowMs: number): LogCommand {
    switch (op.kind) {
      case "produce":
        return { op: "q.produce", args: { messages: op.messages }, rid: op.rid };
      case "consume":
        return { op: "q.consume", args: { lane: op.lane, requests: op.requests, nowMs }, rid: null };
      case "ack":
        return { op: "q.ack", args: { lane: op.lane, seqs: op.seqs }, rid: op.rid };
      case "nack":
        return { op: "q.nack", args: { lane: op.lane, seqs: op.seqs, delayMs: op.delayMs, nowMs }, rid: op.rid };
    }
  }

  private submit(host: ClientHost, current: Attempt): void {
    const target = host.pickLeader(current.op.group);
    if (target === null) {
      current.nextTryAt = host.now + host.opsPrng.int(1, 4);
      return;
    }
    const token = ++this.tokenSeq;
    const result = target.propose(this.command(current.op, target.clockMs()), {
      onApplied: (value) => this.onApplied(host, token, value),
      onFailed: (reason) => this.onFailed(host, token, reason),
    });
    if (!result.ok) {
      current.nextTryAt = host.now + host.opsPrng.int(1, 5);
      return;
    }
    current.token = token;
    current.deadline = host.now + this.profile.timeoutTicks;
    host.events.count(`${current.op.kind}Proposed`);
  }

  private onFailed(host: ClientHost, token: number, reason: string): void {
    const current = this.current;
    if (current === null || current.token !== token) return;
    host.events.count("proposalFailed");
    current.token = 0;
    if (current.op.kind === "consume") {
      this.current = null;
      return;
    }
    host.events.log(`${this.id}: ${current.op.kind} ${current.op.rid} failed (${reason}); retrying`);
    current.deadline = null;
    current.nextTryAt = host.now + 1;
  }

  private onApplied(host: ClientHost, token: number, result: unknown): void {
    const current = this.current;
    if (current === null || current.token !== token) {
      host.events.count("lateAnswerIgnored");
      return;
    }
    this.current = null;
    const op = current.op;
    if (isAppliedError(result)) {
      if (op.kind === "produce" && result.$error === "TOO_LARGE") {
        host.events.count("produceRefused");
        return;
      }
      throw new SimulationViolation(`${this.id}: ${op.kind} on group ${op.group} answered ${result.$error}: ${result.message}`);
    }
    switch (op.kind) {
      case "produce":
        host.history(op.group).onProduceAcknowledged(op.rid, op.messages, result as { first: number });
        host.events.count("produceAcknowledged");
        return;
      case "consume":
        this.onDeliveries(host, op, result as Delivery[][]);
        return;
      case "ack":
      case "nack":
        host.events.count(`${op.kind}Answered`);
        return;
    }
  }

  private onDeliveries(host: ClientHost, op: Extract<ClientOp, { kind: "consume" }>, taken: Delivery[][]): void {
    const seqs = taken.flat().map((d) => d.seq);
    if (this.kind === "drainer") {
      // Nothing ready (what is left may be inflight or delayed): look again a little later.
      if (seqs.length === 0) this.restUntil = host.now + 10;
      else {
        this.backlog.push({ kind: "ack", group: op.group, lane: op.lane, seqs, rid: `${this.id}:a${++this.opSeq}` });
      }
      return;
    }
    const p = host.opsPrng;
    const acks: number[] = [];
    const nacks: number[] = [];
    for (const seq of seqs) {
      const roll = p.next();
      if (roll < this.profile.ackRate) acks.push(seq);
      else if (roll < this.profile.ackRate + this.profile.nackRate) nacks.push(seq);
      // Otherwise the consumer "dies" with it: the message comes back after its visibility timeout.
    }
    if (acks.length > 0) this.backlog.push({ kind: "ack", group: op.group, lane: op.lane, seqs: acks, rid: `${this.id}:a${++this.opSeq}` });
    if (nacks.length > 0) {
      const delayMs = p.chance(0.5) ? 0 : p.int(1, this.profile.nackDelayMaxMs);
      this.backlog.push({ kind: "nack", group: op.group, lane: op.lane, seqs: nacks, delayMs, rid: `${this.id}:n${++this.opSeq}` });
    }
  }
}
