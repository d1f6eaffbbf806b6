// One lock: its holders and its FIFO queue of waiting requests, with the compatibility and
// queue-position rules (Gray & Reuter 1993, ch. 7 for the shared/exclusive matrix, ch. 8 for
// FIFO lock queues). It decides nothing on its own; the table calls it and keeps the indexes.
import { assert } from "./assert.ts";
import type { Holder, LockMode, Waiter } from "./types.ts";

export class LockState {
  /** owner → hold; Map order is grant order, kept by snapshots. */
  readonly holders = new Map<string, Holder>();
  /** Head first. Invariant: the head is never grantable (it would have been granted). */
  readonly queue: Waiter[] = [];

  constructor(readonly name: string) {}

  get isEmpty(): boolean {
    return this.holders.size === 0 && this.queue.length === 0;
  }

  /** True when some holder other than `owner` conflicts with `mode`. */
  conflictsWithHolders(owner: string, mode: LockMode): boolean {
    if (mode === "shared") {
      for (const holder of this.holders.values()) if (holder.owner !== owner && holder.mode === "exclusive") return true;
      return false;
    }
    for (const holder of this.holders.values()) if (holder.owner !== owner) return true;
    return false;
  }

  /** A waiter at the head is granted when no other owner's hold conflicts with it. */
  isHeadGrantable(): boolean {
    const head = this.queue[0];
    return head !== undefined && !this.conflictsWithHolders(head.owner, head.mode);
  }

  /** Where a new request goes: conversions after the queued conversions, others at the tail. */
  insertPosition(isConversion: boolean): number {
    if (!isConversion) return this.queue.length;
    let position = 0;
    while (position < this.queue.length && this.queue[position]!.isConversion) position += 1;
    return position;
  }

  insert(waiter: Waiter, position: number): void {
    assert(position >= 0 && position <= this.queue.length, `lock ${this.name}: insert position ${position} out of range`);
    this.queue.splice(position, 0, waiter);
  }

  remove(waiter: Waiter): void {
    const position = this.queue.indexOf(waiter);
    assert(position >= 0, `lock ${this.name}: waiter ${waiter.requestId} is not queued`);
    this.queue.splice(position, 1);
  }

  waiterOf(owner: string): Waiter | undefined {
    return this.queue.find((waiter) => waiter.owner === owner);
  }
}
