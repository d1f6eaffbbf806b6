// Merges the requests that reach one partition (or one store) from many connections into few proposals: items
// added while batches are in flight wait and leave together as the next batch, so under load the
// batches grow instead of the number of log entries (group commit, one level up). With one batch
// in flight per key, a connection's pipelined requests also keep the order it sent them, even
// when a batch must be retried on a new leader; where order does not matter, a few batches in
// flight hide the round trip.
import { SinkronError } from "../protocol/errors.ts";

export interface BatchLimits {
  /** Items in one batch; more wait for the next. */
  itemsMax: number;
  /** Weight (bytes) of one batch; more wait for the next (one item may exceed it alone). */
  weightMax: number;
  /** Items waiting per key, in flight not counted; beyond it add() refuses. */
  backlogMax: number;
  /** Batches of one key in flight at once (1 keeps the order items were added in). */
  inFlightMax: number;
}

interface Waiting<I, R> {
  item: I;
  weight: number;
  resolve(result: R): void;
  reject(error: unknown): void;
}

interface Lane<I, R> {
  waiting: Waiting<I, R>[];
  head: number;
  inFlight: number;
  scheduled: boolean;
}

export class KeyedBatcher<K, I, R> {
  private readonly lanes = new Map<K, Lane<I, R>>();

  /** `flush` answers one result per item, in order, or throws to fail the whole batch. */
  constructor(
    private readonly limits: BatchLimits,
    private readonly flush: (key: K, items: I[]) => Promise<R[]>,
  ) {}

  add(key: K, item: I, weight = 1): Promise<R> {
    let lane = this.lanes.get(key);
    if (lane === undefined) {
      lane = { waiting: [], head: 0, inFlight: 0, scheduled: false };
      this.lanes.set(key, lane);
    }
    if (lane.waiting.length - lane.head >= this.limits.backlogMax) {
      return Promise.reject(new SinkronError("UNAVAILABLE", "too many requests are waiting for this partition; retry later", { backlog: this.limits.backlogMax, retryable: true }));
    }
    const promise = new Promise<R>((resolve, reject) => lane.waiting.push({ item, weight, resolve, reject }));
    this.schedule(key, lane);
    return promise;
  }

  /** Fails everything waiting for `key` (its partition was deleted). In-flight batches end on their own. */
  failKey(key: K, error: SinkronError): void {
    const lane = this.lanes.get(key);
    if (lane === undefined) return;
    for (let i = lane.head; i < lane.waiting.length; i++) lane.waiting[i]!.reject(error);
    lane.waiting = [];
    lane.head = 0;
    if (lane.inFlight === 0) this.lanes.delete(key);
  }

  private schedule(key: K, lane: Lane<I, R>): void {
    if (lane.inFlight >= this.limits.inFlightMax || lane.scheduled) return;
    lane.scheduled = true;
    // End of this event-loop turn: every connection's requests read in this turn join the batch.
    setImmediate(() => {
      lane.scheduled = false;
      this.run(key, lane);
    });
  }

  private run(key: K, lane: Lane<I, R>): void {
    if (lane.inFlight >= this.limits.inFlightMax || lane.head >= lane.waiting.length) {
      if (lane.inFlight === 0 && lane.head >= lane.waiting.length) this.lanes.delete(key);
      return;
    }
    let end = lane.head;
    let weight = 0;
    while (end < lane.waiting.length && end - lane.head < this.limits.itemsMax) {
      const next = lane.waiting[end]!;
      if (end > lane.head && weight + next.weight > this.limits.weightMax) break;
      weight += next.weight;
      end++;
    }
    const batch = lane.waiting.slice(lane.head, end);
    lane.head = end;
    if (lane.head > 1024 && lane.head * 2 > lane.waiting.length) {
      lane.waiting = lane.waiting.slice(lane.head);
      lane.head = 0;
    }
    lane.inFlight++;
    this.flush(key, batch.map((w) => w.item)).then(
      (results) => {
        for (let i = 0; i < batch.length; i++) batch[i]!.resolve(results[i]!);
      },
      (error: unknown) => {
        for (const w of batch) w.reject(error);
      },
    ).finally(() => {
      lane.inFlight--;
      if (this.lanes.get(key) !== lane) return;
      if (lane.head < lane.waiting.length) this.run(key, lane);
      else if (lane.inFlight === 0) this.lanes.delete(key);
    });
  }
}
