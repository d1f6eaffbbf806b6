// Property tests of one queue partition's state machine: seeded random sequences of produce /
// consume / ack / nack / tick (and some malformed commands) under an advancing leader clock,
// each step checked against a reference model built from plain arrays, plus invariants that
// hold whatever the model says (no message lost, none delivered after its ack, first
// deliveries per key in produce order, delivery counts). Every ~50 steps the machine is
// replaced by one restored from its snapshot (through MessagePack), which must carry on
// identically. A failure prints its seed; replay one with SINKRON_QUEUE_SEED=<seed>, run more
// with SINKRON_QUEUE_SEEDS=<count>.
import { expect, test } from "bun:test";
import { msgpack } from "../../src/protocol/msgpack.ts";
import { PartitionMachine } from "../../src/queue/partition-machine.ts";
import type { Delivery, Lane, LaneStats, MessageBody, PartitionConfig } from "../../src/queue/partition-machine.ts";
import { seededRandom } from "../../src/util/prng.ts";

const STEPS_PER_SEED = 300;
const SEEDS_DEFAULT = 200;
const RESTORE_EVERY_STEPS = 50;

type Rng = () => number;
const pick = <T,>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng() * items.length)]!;
const int = (rng: Rng, min: number, max: number): number => min + Math.floor(rng() * (max - min + 1));

interface Op {
  op: string;
  args: Record<string, unknown>;
}

/** `message` is a function so passing checks build no strings. */
function must(condition: boolean, message: () => string): asserts condition {
  if (!condition) throw new Error(message());
}

// ---- the reference model: obviously correct, not fast ------------------------------------------

type ModelState = "ready" | "inflight" | "delayed";

interface ModelMessage {
  seq: number;
  body: MessageBody;
  key: string | null;
  sizeBytes: number;
  lane: Lane;
  deliveries: number;
  state: ModelState;
  dueMs: number;
}

const UTF8 = new TextEncoder();
const byDue = (a: ModelMessage, b: ModelMessage) => a.dueMs - b.dueMs || a.seq - b.seq;

class Model {
  readonly messages = new Map<number, ModelMessage>();
  /** Seqs of ready messages per lane, in the order they will be taken. */
  readonly retry: [number[], number[]] = [[], []];
  readonly fresh: [number[], number[]] = [[], []];
  nextSeq = 1;
  readyLanes = new Set<Lane>();

  constructor(private readonly config: PartitionConfig) {}

  get bytes(): number {
    let sum = 0;
    for (const m of this.messages.values()) sum += m.sizeBytes;
    return sum;
  }

  stats(lane: Lane): LaneStats {
    const stats = { ready: 0, inflight: 0, delayed: 0 };
    for (const m of this.messages.values()) if (m.lane === lane) stats[m.state] += 1;
    return stats;
  }

  nextDueMs(): number | null {
    const due = [...this.messages.values()].filter((m) => m.state !== "ready").map((m) => m.dueMs);
    return due.length === 0 ? null : Math.min(...due);
  }

  /** A valid command's result; malformed commands never reach the model. */
  apply(op: Op): unknown {
    this.readyLanes = new Set();
    // Only well-formed commands reach the model (World.next says which are not).
    const a = op.args as { messages: [MessageBody, string | null][]; requests: [number, number][]; lane: Lane; seqs: number[]; delayMs: number; nowMs: number };
    switch (op.op) {
      case "q.produce":
        return this.produce(a.messages);
      case "q.consume":
        return a.requests.map(([max, visibilityMs]) => this.consume(a.lane, max, a.nowMs + visibilityMs));
      case "q.ack":
        return a.seqs.map((seq) => this.ack(a.lane, seq));
      case "q.nack":
        return a.seqs.map((seq) => this.nack(a.lane, seq, a.delayMs, a.nowMs));
      case "q.tick":
        return this.tick(a.nowMs);
    }
    throw new Error(`model: no op ${op.op}`);
  }

  private produce(batch: [MessageBody, string | null][]): unknown {
    const sizes = batch.map(([body]) => (typeof body === "string" ? UTF8.encode(body).length : body.byteLength));
    const bytes = sizes.reduce((x, y) => x + y, 0);
    const { messagesMax, bytesMax } = this.config.limits;
    if (this.messages.size + batch.length > messagesMax || this.bytes + bytes > bytesMax) return { $error: "TOO_LARGE", messages: this.messages.size, bytes: this.bytes };
    const first = this.nextSeq;
    batch.forEach(([body, key], i) => {
      const seq = this.nextSeq++;
      // Lone surrogates become U+FFFD, as a MessagePack round trip would make them.
      const kept = typeof body === "string" ? body.toWellFormed() : body;
      this.messages.set(seq, { seq, body: kept, key, sizeBytes: sizes[i]!, lane: 0, deliveries: 0, state: "ready", dueMs: 0 });
      this.fresh[0].push(seq);
    });
    this.readyLanes.add(0);
    return { first };
  }

  private consume(lane: Lane, max: number, deadlineMs: number): Delivery[] {
    const out: Delivery[] = [];
    while (out.length < max) {
      const seq = this.retry[lane].shift() ?? this.fresh[lane].shift();
      if (seq === undefined) break;
      const m = this.messages.get(seq)!;
      m.deliveries += 1;
      m.state = "inflight";
      m.dueMs = deadlineMs;
      out.push({ seq, body: m.body, key: m.key, deliveries: m.deliveries });
    }
    return out;
  }

  private ack(lane: Lane, seq: number): boolean {
    const m = this.messages.get(seq);
    if (m === undefined || m.lane !== lane) return false;
    this.messages.delete(seq);
    this.retry[lane] = this.retry[lane].filter((s) => s !== seq);
    this.fresh[lane] = this.fresh[lane].filter((s) => s !== seq);
    return true;
  }

  private nack(lane: Lane, seq: number, delayMs: number, nowMs: number): boolean {
    const m = this.messages.get(seq);
    if (m === undefined || m.lane !== lane || m.state !== "inflight") return false;
    if (this.isDeadLetter(m)) this.deadLetter(m);
    else if (delayMs === 0) this.requeue(m);
    else {
      m.state = "delayed";
      m.dueMs = nowMs + delayMs;
    }
    return true;
  }

  private tick(nowMs: number): unknown {
    const expired = [...this.messages.values()].filter((m) => m.state === "inflight" && m.dueMs <= nowMs).sort(byDue);
    let deadLettered = 0;
    for (const m of expired) {
      if (this.isDeadLetter(m)) {
        this.deadLetter(m);
        deadLettered += 1;
      } else this.requeue(m);
    }
    const promoted = [...this.messages.values()].filter((m) => m.state === "delayed" && m.dueMs <= nowMs).sort(byDue);
    for (const m of promoted) this.requeue(m);
    return { expired: expired.length, promoted: promoted.length, deadLettered };
  }

  private isDeadLetter(m: ModelMessage): boolean {
    return m.lane === 0 && m.deliveries >= this.config.maxDeliveries;
  }

  private requeue(m: ModelMessage): void {
    m.state = "ready";
    this.retry[m.lane].push(m.seq);
    this.readyLanes.add(m.lane);
  }

  private deadLetter(m: ModelMessage): void {
    m.lane = 1;
    m.state = "ready";
    this.fresh[1].push(m.seq);
    this.readyLanes.add(1);
  }

  /** The machine's snapshot format, built from the model: pins every fifo and heap order. */
  snapshot(): unknown {
    const readyRows = (seqs: number[]) => seqs.flatMap((seq) => {
      const m = this.messages.get(seq)!;
      return [m.seq, m.body, m.key, m.deliveries];
    });
    const timedRows = (state: ModelState) =>
      [...this.messages.values()].filter((m) => m.state === state).sort(byDue).flatMap((m) => [m.seq, m.lane, m.body, m.key, m.deliveries, m.dueMs]);
    return {
      version: 1,
      nextSeq: this.nextSeq,
      ready: [readyRows(this.retry[0]), readyRows(this.fresh[0]), readyRows(this.retry[1]), readyRows(this.fresh[1])],
      inflight: timedRows("inflight"),
      delayed: timedRows("delayed"),
    };
  }
}

// ---- the generator -------------------------------------------------------------------------------

const KEYS = ["a", "b", "c", null] as const;
const CHARS = ["x", "y", "é", "€", "😀", "\ud800"];

class World {
  nowMs: number;
  readonly config: PartitionConfig;
  /** Every seq ever produced, to aim acks and nacks at acked ones too. */
  private produced = 0;

  constructor(private readonly rng: Rng) {
    this.nowMs = int(rng, 0, 1_000);
    this.config = { maxDeliveries: int(rng, 1, 4), limits: { messagesMax: int(rng, 5, 60), bytesMax: int(rng, 40, 400) } };
  }

  /** The next command, and whether it is malformed (the machine must refuse it). */
  next(model: Model): { op: Op; isBad: boolean } {
    const rng = this.rng;
    const r = rng();
    if (r < 0.5) this.nowMs += int(rng, 0, 40);
    else if (r < 0.53) this.nowMs += int(rng, 100, 500);
    // A new leader's clock may lag the last stamp a little.
    const nowMs = rng() < 0.05 ? Math.max(0, this.nowMs - int(rng, 1, 50)) : this.nowMs;
    const kind = rng();
    let op: Op;
    if (kind < 0.2) op = this.produce();
    else if (kind < 0.45) op = { op: "q.consume", args: { lane: this.lane(), requests: Array.from({ length: int(rng, 0, 3) }, () => [int(rng, 0, 4), pick(rng, [0, 10, 50, 200])]), nowMs } };
    else if (kind < 0.7) op = { op: "q.ack", args: { lane: this.lane(), seqs: this.seqs(model, "ready") } };
    else if (kind < 0.85) op = { op: "q.nack", args: { lane: this.lane(), seqs: this.seqs(model, "inflight"), delayMs: pick(rng, [0, 0, 30, 100]), nowMs } };
    else op = { op: "q.tick", args: { nowMs } };
    if (rng() < 0.04) return { op: this.corrupt(op), isBad: true };
    if (op.op === "q.produce") this.produced += (op.args.messages as unknown[]).length;
    return { op, isBad: false };
  }

  private lane(): Lane {
    return this.rng() < 0.75 ? 0 : 1;
  }

  private produce(): Op {
    const rng = this.rng;
    const messages = Array.from({ length: int(rng, 1, 5) }, () => {
      const body = rng() < 0.2 ? Uint8Array.from({ length: int(rng, 0, 8) }, () => int(rng, 0, 255)) : Array.from({ length: int(rng, 0, 6) }, () => pick(rng, CHARS)).join("");
      return [body, pick(rng, KEYS)];
    });
    return { op: "q.produce", args: { messages } };
  }

  /** Mostly seqs of messages in `state` (inflight for nack), some of any state, acked or unknown. */
  private seqs(model: Model, preferred: ModelState): number[] {
    const rng = this.rng;
    const all = [...model.messages.values()];
    const wanted = all.filter((m) => m.state === (rng() < 0.6 ? "inflight" : preferred));
    return Array.from({ length: int(rng, 0, 4) }, () => {
      const r = rng();
      if (r < 0.75 && wanted.length > 0) return pick(rng, wanted).seq;
      if (r < 0.9 && all.length > 0) return pick(rng, all).seq;
      return int(rng, 0, this.produced + 2);
    });
  }

  private corrupt(op: Op): Op {
    const rng = this.rng;
    const args = { ...op.args };
    switch (int(rng, 0, 6)) {
      case 0:
        return { op: "q.bogus", args };
      case 1:
        return { op: "q.produce", args: { messages: rng() < 0.5 ? [] : [["ok", null], [1, null]] } };
      case 2:
        return { op: "q.consume", args: { lane: 0, requests: [[1, 10], [pick(rng, [-1, 0.5, "1"]), 10]], nowMs: this.nowMs } };
      case 3:
        return { op: pick(rng, ["q.consume", "q.ack", "q.nack"]), args: { ...args, lane: pick(rng, [2, -1, "0", null]) } };
      case 4:
        return { op: "q.ack", args: { lane: 0, seqs: [1, 2.5] } };
      case 5:
        return { op: "q.nack", args: { lane: 0, seqs: [1], delayMs: -5, nowMs: this.nowMs } };
      default:
        return { op: "q.tick", args: { nowMs: pick(rng, [undefined, -1, 1.5, "5"]) } };
    }
  }
}

// ---- the checker: properties that hold whatever the model says ------------------------------------

class Checker {
  /** seq → key, for every seq a produce reported. */
  private readonly produced = new Map<number, string | null>();
  private readonly acked = new Set<number>();
  private readonly deliveryCount = new Map<number, number>();
  /** key → seq of the latest first delivery of that key. */
  private readonly lastFirstByKey = new Map<string | null, number>();

  check(machine: PartitionMachine, op: Op, result: unknown): void {
    if (op.op === "q.produce" && (result as { first?: number }).first !== undefined) {
      const first = (result as { first: number }).first;
      (op.args.messages as [MessageBody, string | null][]).forEach(([, key], i) => this.produced.set(first + i, key));
    }
    if (op.op === "q.ack" && Array.isArray(result)) (op.args.seqs as number[]).forEach((seq, i) => (result as boolean[])[i] && this.acked.add(seq));
    if (op.op === "q.consume" && Array.isArray(result)) {
      for (const d of (result as Delivery[][]).flat()) {
        must(!this.acked.has(d.seq), () => `seq ${d.seq} delivered after its ack`);
        must(this.produced.has(d.seq), () => `seq ${d.seq} delivered but never produced`);
        const count = (this.deliveryCount.get(d.seq) ?? 0) + 1;
        this.deliveryCount.set(d.seq, count);
        must(d.deliveries === count, () => `seq ${d.seq} delivered with count ${d.deliveries}, delivery ${count}`);
        must(d.key === this.produced.get(d.seq), () => `seq ${d.seq} delivered with another key`);
        if (count === 1) {
          const last = this.lastFirstByKey.get(d.key) ?? 0;
          must(d.seq > last, () => `key ${d.key}: seq ${d.seq} first-delivered after seq ${last}`);
          this.lastFirstByKey.set(d.key, d.seq);
        }
      }
    }
    // No message lost or duplicated: every produced, unacked seq is in exactly one state.
    const snap = machine.snapshot() as { ready: unknown[][]; inflight: unknown[]; delayed: unknown[] };
    const held = [...snap.ready.flatMap((rows) => rows.filter((_, i) => i % 4 === 0)), ...snap.inflight.filter((_, i) => i % 6 === 0), ...snap.delayed.filter((_, i) => i % 6 === 0)] as number[];
    const expected = [...this.produced.keys()].filter((seq) => !this.acked.has(seq));
    const heldSet = new Set(held);
    must(held.length === expected.length && heldSet.size === held.length, () => `machine holds ${held.length} messages (${heldSet.size} distinct), ${expected.length} unacked`);
    for (const seq of expected) must(heldSet.has(seq), () => `seq ${seq} lost`);
  }
}

// ---- the run ---------------------------------------------------------------------------------------

interface RunCounts {
  produced: number;
  refusedFull: number;
  refusedBad: number;
  delivered: number;
  acked: number;
  nacked: number;
  expired: number;
  promoted: number;
  deadLettered: number;
  restores: number;
}

function restored(machine: PartitionMachine, config: PartitionConfig, readyLanes: Lane[]): PartitionMachine {
  const twin = new PartitionMachine(config);
  twin.onReady((lane) => readyLanes.push(lane));
  twin.restore(msgpack.unpack(msgpack.pack(machine.snapshot())));
  must(Bun.deepEquals(twin.snapshot(), machine.snapshot(), true), () => "restored snapshot differs");
  return twin;
}

function runSeed(seed: number, counts: RunCounts): void {
  const rng = seededRandom(seed);
  const world = new World(rng);
  const model = new Model(world.config);
  const checker = new Checker();
  const readyLanes: Lane[] = [];
  let machine = new PartitionMachine(world.config);
  machine.onReady((lane) => readyLanes.push(lane));
  for (let step = 0; step < STEPS_PER_SEED; step += 1) {
    if (step > 0 && step % RESTORE_EVERY_STEPS === 0) {
      machine = restored(machine, world.config, readyLanes);
      counts.restores += 1;
      readyLanes.length = 0;
    }
    const { op, isBad } = world.next(model);
    const before = isBad ? machine.snapshot() : null;
    readyLanes.length = 0;
    const result = machine.apply({ op: op.op, args: op.args, rid: `r${step}` }, { index: step + 1, term: 1 });
    try {
      if (isBad) {
        must((result as { $error?: string }).$error === "BAD_REQUEST", () => `malformed command not refused: ${JSON.stringify(result)}`);
        must(Bun.deepEquals(machine.snapshot(), before, true), () => "a refused command changed the state");
        must(readyLanes.length === 0, () => "a refused command woke consumers");
        counts.refusedBad += 1;
      } else {
        const expected = model.apply(op);
        if ((expected as { $error?: string }).$error === "TOO_LARGE") {
          const { message: _ignored, ...got } = result as Record<string, unknown>;
          must(Bun.deepEquals(got, expected), () => `refusal ${JSON.stringify(result)}, model ${JSON.stringify(expected)}`);
          counts.refusedFull += 1;
        } else must(Bun.deepEquals(result, expected, true), () => `result ${JSON.stringify(result)}, model ${JSON.stringify(expected)}`);
        must(Bun.deepEquals(readyLanes, [0, 1].filter((lane) => model.readyLanes.has(lane as Lane))), () => `onReady lanes ${JSON.stringify(readyLanes)}, model ${JSON.stringify([...model.readyLanes])}`);
        tally(counts, op, result);
      }
      machine.checkInvariants();
      checker.check(machine, op, result);
      for (const lane of [0, 1] as const) {
        const stats = machine.stats(lane);
        const expected = model.stats(lane);
        must(Bun.deepEquals(stats, expected), () => `lane ${lane} stats ${JSON.stringify(stats)}, model ${JSON.stringify(expected)}`);
        must(machine.readyCount(lane) === expected.ready, () => `lane ${lane} readyCount`);
      }
      must(machine.messages === model.messages.size && machine.bytes === model.bytes, () => `totals ${machine.messages}/${machine.bytes}, model ${model.messages.size}/${model.bytes}`);
      must(machine.nextDueMs() === model.nextDueMs(), () => `nextDueMs ${machine.nextDueMs()}, model ${model.nextDueMs()}`);
      if (step % 5 === 0) must(Bun.deepEquals(machine.snapshot(), model.snapshot(), true), () => "snapshot differs from the model's");
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new Error(`queue partition property failed: seed ${seed}, step ${step}, op ${JSON.stringify(op)}\nreplay: SINKRON_QUEUE_SEED=${seed} bun test test/queue/partition-property.test.ts\n${message}`);
    }
  }
}

function tally(counts: RunCounts, op: Op, result: unknown): void {
  switch (op.op) {
    case "q.produce":
      counts.produced += (op.args.messages as unknown[]).length;
      break;
    case "q.consume":
      counts.delivered += (result as unknown[][]).flat().length;
      break;
    case "q.ack":
      counts.acked += (result as boolean[]).filter(Boolean).length;
      break;
    case "q.nack":
      counts.nacked += (result as boolean[]).filter(Boolean).length;
      break;
    case "q.tick": {
      const t = result as { expired: number; promoted: number; deadLettered: number };
      counts.expired += t.expired;
      counts.promoted += t.promoted;
      counts.deadLettered += t.deadLettered;
    }
  }
}

function seeds(): number[] {
  const one = process.env.SINKRON_QUEUE_SEED;
  if (one !== undefined) return [Number(one)];
  const count = Number(process.env.SINKRON_QUEUE_SEEDS ?? SEEDS_DEFAULT);
  return Array.from({ length: count }, (_, i) => 0x9e3 + i * 7919);
}

test("random command sequences match the reference model, lose nothing, and survive restores", () => {
  const list = seeds();
  const counts: RunCounts = { produced: 0, refusedFull: 0, refusedBad: 0, delivered: 0, acked: 0, nacked: 0, expired: 0, promoted: 0, deadLettered: 0, restores: 0 };
  for (const seed of list) runSeed(seed, counts);
  console.log(`queue partition properties: ${list.length} seeds × ${STEPS_PER_SEED} steps:`, JSON.stringify(counts));
  // The generator must exercise every path, or the properties say little.
  if (list.length >= 50) for (const value of Object.values(counts)) expect(value).toBeGreaterThan(100);
}, 600_000);
