// An indexed binary min-heap of deadlines (lease ends, wait deadlines), so the table finds the
// next due one in O(1) and adds, moves or removes one in O(log n). The order must be total
// (time, then a unique tie-break), so the order things are popped in does not depend on the
// heap's layout: a table rebuilt from a snapshot pops the same sequence as the original.

export interface HeapItem {
  heapIndex: number;
}

export class DeadlineHeap<T extends HeapItem> {
  private readonly items: T[] = [];

  /** `isBefore` must be a strict total order; an item's key must not change while it is in the heap. */
  constructor(private readonly isBefore: (a: T, b: T) => boolean) {}

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(item: T): void {
    if (item.heapIndex !== -1) throw new Error("deadline heap: item already in a heap");
    item.heapIndex = this.items.length;
    this.items.push(item);
    this.up(item.heapIndex);
  }

  remove(item: T): void {
    const index = item.heapIndex;
    if (index < 0 || this.items[index] !== item) throw new Error("deadline heap: removing an item that is not in it");
    const last = this.items.pop()!;
    item.heapIndex = -1;
    if (last === item) return;
    this.items[index] = last;
    last.heapIndex = index;
    this.down(index);
    this.up(last.heapIndex);
  }

  clear(): void {
    for (const item of this.items) item.heapIndex = -1;
    this.items.length = 0;
  }

  private up(index: number): void {
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (!this.isBefore(this.items[index]!, this.items[parent]!)) return;
      this.swap(index, parent);
      index = parent;
    }
  }

  private down(index: number): void {
    for (;;) {
      const left = 2 * index + 1;
      const right = left + 1;
      let smallest = index;
      if (left < this.items.length && this.isBefore(this.items[left]!, this.items[smallest]!)) smallest = left;
      if (right < this.items.length && this.isBefore(this.items[right]!, this.items[smallest]!)) smallest = right;
      if (smallest === index) return;
      this.swap(index, smallest);
      index = smallest;
    }
  }

  private swap(i: number, j: number): void {
    const a = this.items[i]!;
    const b = this.items[j]!;
    this.items[i] = b;
    this.items[j] = a;
    a.heapIndex = j;
    b.heapIndex = i;
  }
}
