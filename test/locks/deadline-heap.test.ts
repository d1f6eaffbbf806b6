// The deadline heap against a sorted array: random pushes and removals from a seed, popping
// in exactly the order of the strict total order whatever the heap's layout.
import { expect, test } from "bun:test";
import { DeadlineHeap } from "../../src/locks/deadline-heap.ts";
import { seededRandom } from "../../src/util/prng.ts";

interface Item {
  timeMs: number;
  id: number;
  heapIndex: number;
}

test("pops in (time, id) order after random pushes and removals", () => {
  const rng = seededRandom(42);
  const heap = new DeadlineHeap<Item>((a, b) => a.timeMs < b.timeMs || (a.timeMs === b.timeMs && a.id < b.id));
  const live: Item[] = [];
  for (let i = 0; i < 5_000; i += 1) {
    if (live.length > 0 && rng() < 0.4) {
      const victim = live.splice(Math.floor(rng() * live.length), 1)[0]!;
      heap.remove(victim);
      expect(victim.heapIndex).toBe(-1);
    } else {
      const item = { timeMs: Math.floor(rng() * 50), id: i, heapIndex: -1 };
      heap.push(item);
      live.push(item);
    }
    expect(heap.size).toBe(live.length);
  }
  live.sort((a, b) => a.timeMs - b.timeMs || a.id - b.id);
  const popped: number[] = [];
  while (heap.size > 0) {
    const top = heap.peek()!;
    heap.remove(top);
    popped.push(top.id);
  }
  expect(popped).toEqual(live.map((item) => item.id));
});

test("refuses to push an item twice or remove one it does not hold", () => {
  const heap = new DeadlineHeap<Item>((a, b) => a.timeMs < b.timeMs);
  const item = { timeMs: 1, id: 1, heapIndex: -1 };
  heap.push(item);
  expect(() => heap.push(item)).toThrow();
  heap.remove(item);
  expect(() => heap.remove(item)).toThrow();
});
