// Where long-polls wait on one node: a Q.CONSUME with nothing to take waits until a local
// replica of one of its partitions makes messages ready (LocalPartitions' onReady), a replica on
// another node says so (for partitions not hosted here), the catalog changes (a queue created,
// deleted or moved), the connection closes, or its deadline — whichever comes first. Waits are
// bounded (waitersMax) and every registration is undone when the wait ends.
import { SinkronError } from "../protocol/errors.ts";
import type { PartitionDescriptor } from "./catalog-machine.ts";
import type { Lane } from "./partition-machine.ts";

export interface ReadyWaitsOptions {
  /** Long-polls waiting at once on this node; one more is refused UNAVAILABLE. */
  waitersMax: number;
  /** Whether this node hosts a replica of the partition group (then its signals are local). */
  isHosted(group: number): boolean;
  /** Waits (until `signal` aborts or the deadline) for a replica elsewhere to have ready messages. */
  waitRemote(partition: PartitionDescriptor, lane: Lane, deadlineMs: number, signal: AbortSignal): Promise<void>;
}

interface Waiter {
  wake(): void;
}

export function laneKey(group: number, lane: Lane): string {
  return `${group}:${lane}`;
}

export class ReadyWaits {
  private readonly byLane = new Map<string, Set<Waiter>>();
  private readonly catalogWaiters = new Set<Waiter>();
  /** Counts "messages became ready" events; per (group, lane) the count at its latest event. */
  private epochCount = 0;
  private readonly epochs = new Map<string, number>();
  private count = 0;

  constructor(private readonly options: ReadyWaitsOptions) {}

  /** Take before looking at the partitions; pass to wait() so no event in between is lost. */
  get epoch(): number {
    return this.epochCount;
  }

  /** A local replica made messages ready in `lane` of partition `group`. */
  wake(group: number, lane: Lane): void {
    const key = laneKey(group, lane);
    this.epochs.set(key, ++this.epochCount);
    const set = this.byLane.get(key);
    if (set !== undefined) for (const waiter of [...set]) waiter.wake();
  }

  /** The catalog changed: every wait looks again (what to wait on may have changed). */
  catalogChanged(): void {
    for (const waiter of [...this.catalogWaiters]) waiter.wake();
  }

  /** Resolves at the next catalog change, or after `timeoutMs`. */
  nextCatalogChange(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const waiter: Waiter = { wake: () => done() };
      const timer = setTimeout(() => done(), timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.catalogWaiters.delete(waiter);
        resolve();
      };
      this.catalogWaiters.add(waiter);
    });
  }

  /**
   * Until one of `partitions` (in `lane`) may have ready messages, the catalog changes, `signal`
   * aborts, or the deadline. `sinceEpoch`: the epoch the caller's last look at the partitions
   * started from; if a local replica made messages ready since, the wait ends at once.
   */
  wait(partitions: readonly PartitionDescriptor[], lane: Lane, deadlineMs: number, signal: AbortSignal, sinceEpoch?: number): Promise<void> {
    if (this.count >= this.options.waitersMax) {
      return Promise.reject(new SinkronError("UNAVAILABLE", `too many consumers are long-polling on this node (${this.options.waitersMax}); retry later`, { retryable: true }));
    }
    this.count++;
    return new Promise<void>((resolve) => {
      const keys: string[] = [];
      let remoteAbort: AbortController | null = null;
      const waiter: Waiter = { wake: () => finish() };
      const timer = setTimeout(() => finish(), Math.max(0, deadlineMs - performance.now()));
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        this.count--;
        clearTimeout(timer);
        signal.removeEventListener("abort", finish);
        for (const key of keys) this.byLane.get(key)?.delete(waiter);
        this.catalogWaiters.delete(waiter);
        remoteAbort?.abort();
        resolve();
      };
      signal.addEventListener("abort", finish, { once: true });
      this.catalogWaiters.add(waiter);
      for (const partition of partitions) {
        if (this.options.isHosted(partition.group)) {
          const key = laneKey(partition.group, lane);
          keys.push(key);
          let set = this.byLane.get(key);
          if (set === undefined) this.byLane.set(key, (set = new Set()));
          set.add(waiter);
        } else {
          remoteAbort ??= new AbortController();
          void this.options.waitRemote(partition, lane, deadlineMs, remoteAbort.signal).then(finish);
        }
      }
      if (sinceEpoch !== undefined && keys.some((key) => (this.epochs.get(key) ?? 0) > sinceEpoch)) finish();
    });
  }

  /** Shutdown: every wait ends now. */
  stop(): void {
    for (const set of this.byLane.values()) for (const waiter of [...set]) waiter.wake();
    this.catalogChanged();
  }
}
