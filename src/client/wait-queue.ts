// Calls made but not sent yet — no free in-flight slot, too many unsent bytes, or no
// connection — in call order (the shape of postgres.js's queue.js: an array and a head
// index, so shift is O(1)). The client bounds its length; expired calls are cut out by the
// same coarse deadline sweep as the pending table.
import type { Call } from "./call.ts";

const COMPACT_HEAD_MIN = 1024;

export class WaitQueue {
  private items: Call[] = [];
  private head = 0;
  private earliestDeadlineMs = Infinity;

  get length(): number {
    return this.items.length - this.head;
  }

  push(call: Call): void {
    this.items.push(call);
    if (call.deadlineMs < this.earliestDeadlineMs) this.earliestDeadlineMs = call.deadlineMs;
  }

  shift(): Call | undefined {
    if (this.head >= this.items.length) return undefined;
    const call = this.items[this.head]!;
    this.head++;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= COMPACT_HEAD_MIN && this.head * 2 >= this.items.length) {
      // Drop the consumed prefix once it is most of the array, keeping shift amortized O(1).
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return call;
  }

  expire(nowMs: number, onExpired: (call: Call) => void): void {
    if (nowMs < this.earliestDeadlineMs) return;
    const kept: Call[] = [];
    const expired: Call[] = [];
    let earliestMs = Infinity;
    for (let i = this.head; i < this.items.length; i++) {
      const call = this.items[i]!;
      if (call.deadlineMs <= nowMs) {
        expired.push(call);
      } else {
        kept.push(call);
        if (call.deadlineMs < earliestMs) earliestMs = call.deadlineMs;
      }
    }
    this.items = kept;
    this.head = 0;
    this.earliestDeadlineMs = earliestMs;
    for (const call of expired) onExpired(call);
  }

  drain(): Call[] {
    const calls = this.items.slice(this.head);
    this.items = [];
    this.head = 0;
    this.earliestDeadlineMs = Infinity;
    return calls;
  }
}
