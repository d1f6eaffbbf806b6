// The simulated network between cache nodes, and calls over it. Like the peer transport, each
// node calls another over its own connection ("A>H": A's client to H carries A's fetches and
// writes and their answers; "H>A" carries H's invalidations and downgrades and their answers),
// so an answer and an invalidation travel independently and can cross. Every message is
// delayed, sometimes held back much longer, lost, or (invalidations, downgrades) delivered
// twice; nodes can be cut off. In "fifo" ordering each direction of a connection delivers in
// order, as TCP does; in "any" ordering every message overtakes any other.
import type { NodeProcess, Scheduler } from "./clock.ts";
import type { Prng } from "../../raft/sim/prng.ts";

export type Ordering = "fifo" | "any";

export interface NetworkFaults {
  ordering: Ordering;
  lossRate: number;
  /** Invalidations and downgrades only (idempotent): a copy must change nothing, whoever sends it twice. */
  duplicateRate: number;
  delayMsMax: number;
  /** A message held back long (a stalled connection): up to longDelayMsMax. */
  longDelayRate: number;
  longDelayMsMax: number;
}

export interface CallOptions {
  timeoutLocalMs: number;
  /** May the request be delivered twice (idempotent: invalidations, downgrades)? */
  isDuplicable: boolean;
}

export type Trace = (line: string) => void;

/** What a call's answer is: the value the handler gave, or an error the caller saw. */
export type CallOutcome<A> = { ok: true; value: A } | { ok: false; reason: "timeout" };

interface PendingCall {
  settle: (outcome: CallOutcome<unknown>) => void;
}

export class SimNetwork {
  private readonly lastDeliveryMs = new Map<string, number>();
  private readonly cutUntilMs = new Map<string, number>();
  private readonly pending = new Map<number, PendingCall>();
  private callSeq = 0;
  messagesLost = 0;

  constructor(
    private readonly scheduler: Scheduler,
    private readonly prng: Prng,
    private readonly processes: ReadonlyMap<string, NodeProcess>,
    readonly faults: NetworkFaults,
    private readonly trace: Trace | null,
  ) {}

  /** `node` can neither send nor receive until `untilMs` (a cable pulled, then plugged back). */
  cutOff(node: string, untilMs: number): void {
    this.cutUntilMs.set(node, Math.max(untilMs, this.cutUntilMs.get(node) ?? 0));
  }

  isCutOff(node: string): boolean {
    return (this.cutUntilMs.get(node) ?? -1) > this.scheduler.nowMs;
  }

  /**
   * Runs `handler` on `to` (as a turn of its event loop); whatever it answers, whenever it does,
   * goes back to `from`, whose `onOutcome` gets it — or a timeout after `timeoutLocalMs` of
   * `from`'s clock. Like the transport's call(): at most one outcome, matched by call id, so a
   * late or duplicated answer is ignored. Returns the call id (for traces).
   */
  call<A>(from: string, to: string, label: string, handler: (answer: (value: A) => void) => void, onOutcome: (outcome: CallOutcome<A>) => void, options: CallOptions): number {
    const id = ++this.callSeq;
    const caller = this.process(from);
    this.pending.set(id, { settle: onOutcome as (outcome: CallOutcome<unknown>) => void });
    const connection = `${from}>${to}`;
    const copies = options.isDuplicable && this.prng.chance(this.faults.duplicateRate) ? 2 : 1;
    for (let copy = 0; copy < copies; copy++) {
      this.send(from, to, `${connection}:request`, `${label}${copy > 0 ? " (duplicate)" : ""}`, () =>
        handler((value) => this.send(to, from, `${connection}:answer`, `answer to ${label}`, () => this.settle(id, { ok: true, value }))),
      );
    }
    caller.setTimer(options.timeoutLocalMs, () => {
      if (this.pending.has(id)) this.trace?.(`${from}: ${label} timed out`);
      this.settle(id, { ok: false, reason: "timeout" });
    });
    return id;
  }

  /** A message no one answers (a downgrade: the answer is ignored anyway). */
  tell(from: string, to: string, label: string, handler: () => void, isDuplicable: boolean): void {
    const copies = isDuplicable && this.prng.chance(this.faults.duplicateRate) ? 2 : 1;
    for (let copy = 0; copy < copies; copy++) this.send(from, to, `${from}>${to}:request`, label, handler);
  }

  private settle(id: number, outcome: CallOutcome<unknown>): void {
    const call = this.pending.get(id);
    if (call === undefined) return;
    this.pending.delete(id);
    call.settle(outcome);
  }

  private send(from: string, to: string, channel: string, label: string, onArrival: () => void): void {
    if (this.isCutOff(from) || this.prng.chance(this.faults.lossRate)) {
      this.messagesLost += 1;
      this.trace?.(`net: lost ${label}`);
      return;
    }
    const { faults } = this;
    const delayMs = this.prng.chance(faults.longDelayRate) ? this.prng.next() * faults.longDelayMsMax : 0.05 + this.prng.next() * faults.delayMsMax;
    let deliverAtMs = this.scheduler.nowMs + delayMs;
    if (faults.ordering === "fifo") {
      // One direction of one connection is a byte stream: nothing overtakes what was sent before.
      deliverAtMs = Math.max(deliverAtMs, this.lastDeliveryMs.get(channel) ?? 0);
      this.lastDeliveryMs.set(channel, deliverAtMs);
    }
    this.scheduler.at(deliverAtMs, () => {
      if (this.isCutOff(to)) {
        this.messagesLost += 1;
        this.trace?.(`net: lost ${label} (${to} cut off)`);
        return;
      }
      this.process(to).deliver(onArrival);
    });
  }

  private process(node: string): NodeProcess {
    const process = this.processes.get(node);
    if (process === undefined) throw new Error(`no node ${node}`);
    return process;
  }
}
