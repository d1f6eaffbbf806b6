// A FIFO with O(1) amortized push and pop and lazy deletion from the middle: an acked message
// stays in its fifo, marked stale, and is skipped when it reaches the head. The live count is
// exact, and the stale ones are swept out when they outnumber the live ones, so memory stays
// bounded by the live messages whatever the ack pattern.

/** Below this many entries, sweeping and head trimming are not worth their copy. */
const SWEEP_ENTRIES_MIN = 1024;

export class PartitionDeque<T> {
  private items: (T | undefined)[] = [];
  private head = 0;
  private staleCount = 0;

  /** `isLive` tells an entry that still belongs to this fifo from a stale one. */
  constructor(private readonly isLive: (item: T) => boolean) {}

  get liveCount(): number {
    return this.items.length - this.head - this.staleCount;
  }

  push(item: T): void {
    this.items.push(item);
  }

  /** The oldest live entry, removed; stale entries in front of it are dropped on the way. */
  shift(): T | undefined {
    const items = this.items;
    while (this.head < items.length) {
      const item = items[this.head] as T;
      items[this.head] = undefined; // let the record be collected
      this.head += 1;
      if (this.isLive(item)) {
        this.trimHead();
        return item;
      }
      this.staleCount -= 1;
    }
    // Drained: reuse the array rather than allocate one per drain (a consumer that keeps up drains often).
    items.length = 0;
    this.head = 0;
    this.staleCount = 0;
    return undefined;
  }

  /** Call once when an entry still in the fifo stops being live (its message was acked), after `isLive` turns false for it. */
  markStale(): void {
    this.staleCount += 1;
    const length = this.items.length - this.head;
    if (length >= SWEEP_ENTRIES_MIN && this.staleCount * 2 > length) this.sweep();
  }

  /** The live entries, oldest first. */
  toArray(): T[] {
    const out: T[] = [];
    for (let i = this.head; i < this.items.length; i += 1) {
      const item = this.items[i] as T;
      if (this.isLive(item)) out.push(item);
    }
    return out;
  }

  private sweep(): void {
    this.items = this.toArray();
    this.head = 0;
    this.staleCount = 0;
  }

  /** Drops the consumed prefix once it is half the array, so each entry is copied O(1) times. */
  private trimHead(): void {
    if (this.head >= SWEEP_ENTRIES_MIN && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}
