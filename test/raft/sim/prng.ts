// A small seeded PRNG (mulberry32) for the simulation: one seed decides every fault, delay and
// operation, so any failing run replays exactly. Not for cryptography.

import { seededRandom } from "../../../src/util/prng.ts";

export class Prng {
  /** Uniform in [0, 1). */
  readonly next: () => number;

  constructor(seed: number) {
    this.next = seededRandom(seed);
  }

  /** Uniform integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.next() * items.length)];
    if (item === undefined) throw new Error("pick from an empty list");
    return item;
  }

  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      const a = items[i] as T;
      items[i] = items[j] as T;
      items[j] = a;
    }
    return items;
  }

  /** An independent stream, so adding draws in one place does not shift every other decision. */
  fork(): Prng {
    return new Prng(Math.floor(this.next() * 4294967296));
  }
}
