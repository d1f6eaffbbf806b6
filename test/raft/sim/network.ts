// The simulated network: every message is delayed, and may be lost, duplicated or reordered;
// directed links can be cut (symmetric or one-way partitions) and healed. Messages go through a
// msgpack round trip, so anything the core sends that would not survive the real wire fails here.

import { Packr } from "msgpackr";
import type { Message, NodeId } from "../../../src/raft/index.ts";
import type { Prng } from "./prng.ts";

export interface NetworkFaults {
  lossRate: number;
  duplicateRate: number;
  delayTicksMax: number;
  /** Occasionally a message is held back much longer than usual (reordering across rounds). */
  longDelayRate: number;
  /** Every message takes exactly delayTicksMax: per-link FIFO, like the real TCP transport. */
  isFifo: boolean;
}

interface InFlight {
  deliverAt: number;
  seq: number;
  msg: Message;
}

const packr = new Packr({ useRecords: false });

export class SimNetwork {
  private queue: InFlight[] = [];
  private seq = 0;
  private readonly cut = new Set<string>();
  faults: NetworkFaults;

  constructor(
    private readonly prng: Prng,
    faults: NetworkFaults,
  ) {
    this.faults = faults;
  }

  send(msg: Message, now: number): void {
    if (this.prng.chance(this.faults.lossRate)) return;
    const copies = this.prng.chance(this.faults.duplicateRate) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const delay = this.faults.isFifo
        ? this.faults.delayTicksMax
        : this.prng.chance(this.faults.longDelayRate)
        ? this.prng.int(this.faults.delayTicksMax, this.faults.delayTicksMax * 4)
        : this.prng.int(0, this.faults.delayTicksMax);
      this.queue.push({ deliverAt: now + delay, seq: this.seq++, msg: roundTrip(msg) });
    }
  }

  /** Messages due at `now`, in a random order; those crossing a cut link are dropped. */
  due(now: number): Message[] {
    const ready: InFlight[] = [];
    const later: InFlight[] = [];
    for (const item of this.queue) (item.deliverAt <= now ? ready : later).push(item);
    this.queue = later;
    const delivered = ready.filter((item) => !this.isCut(item.msg.from, item.msg.to));
    if (this.faults.isFifo) return delivered.sort((a, b) => a.seq - b.seq).map((item) => item.msg);
    return this.prng.shuffle(delivered.map((item) => item.msg));
  }

  isCut(from: NodeId, to: NodeId): boolean {
    return this.cut.has(`${from}>${to}`);
  }

  cutLink(from: NodeId, to: NodeId): void {
    this.cut.add(`${from}>${to}`);
  }

  /** Isolate `side` from `rest`; one-way cuts only stop traffic leaving `side`. */
  partition(side: readonly NodeId[], rest: readonly NodeId[], isOneWay: boolean): void {
    for (const a of side) {
      for (const b of rest) {
        this.cutLink(a, b);
        if (!isOneWay) this.cutLink(b, a);
      }
    }
  }

  healAll(): void {
    this.cut.clear();
  }

  hasCuts(): boolean {
    return this.cut.size > 0;
  }

  describeCuts(): string {
    return [...this.cut].sort().join(" ");
  }

  inFlightCount(): number {
    return this.queue.length;
  }
}

function roundTrip(msg: Message): Message {
  return packr.unpack(packr.pack(msg)) as Message;
}
