// Calls sent on the current connection and not yet answered, by request id. Ids run
// 1..2^32-1 and wrap; the call with id X sits in slot X mod size, and an id whose slot is
// still taken is skipped, so two pending calls never share an id and a late answer finds
// either nothing or a call with another id (ignored). A flat array beats a Map here: no
// hashing, no rehash, measured on the hot path.
// Deadlines are checked by a coarse sweep, not a timer per call: the table keeps a lower
// bound of its earliest deadline and scans only once that bound has passed — about once per
// timeout period — so the sweep costs O(size) per timeout, not per call.
import { REQUEST_ID_MAX, REQUEST_ID_MIN } from "../protocol/envelope.ts";
import type { Call } from "./call.ts";

export class PendingTable {
  private readonly slots: (Call | undefined)[];
  private readonly mask: number;
  private readonly capacity: number;
  private count = 0;
  private nextId = REQUEST_ID_MIN;
  /** No pending call has a deadline before this (it may be stale-early, never late). */
  private earliestDeadlineMs = Infinity;

  /** `capacity`: most calls pending at once; the table refuses more (the client bounds it). */
  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 1 << 24) throw new RangeError("PendingTable capacity must be in 1..2^24");
    // Twice the capacity keeps free slots plentiful, so skipping a taken slot is rare.
    let size = 2;
    while (size < capacity * 2) size *= 2;
    this.slots = new Array<Call | undefined>(size).fill(undefined);
    this.mask = size - 1;
    this.capacity = capacity;
  }

  get size(): number {
    return this.count;
  }

  /** Gives `call` a free id and records it. */
  add(call: Call): number {
    if (this.count >= this.capacity) throw new Error("PendingTable is full: the caller must bound calls in flight");
    let id = this.nextId;
    while (this.slots[id & this.mask] !== undefined) id = id === REQUEST_ID_MAX ? REQUEST_ID_MIN : id + 1;
    this.nextId = id === REQUEST_ID_MAX ? REQUEST_ID_MIN : id + 1;
    call.id = id;
    this.slots[id & this.mask] = call;
    this.count++;
    if (call.deadlineMs < this.earliestDeadlineMs) this.earliestDeadlineMs = call.deadlineMs;
    return id;
  }

  /** Removes and returns the call waiting for `id`; undefined for an unknown or late id. */
  take(id: number): Call | undefined {
    const slot = id & this.mask;
    const call = this.slots[slot];
    if (call === undefined || call.id !== id) return undefined;
    this.slots[slot] = undefined;
    this.count--;
    return call;
  }

  /** Removes every call whose deadline is at or before `nowMs` and hands each to `onExpired`. */
  expire(nowMs: number, onExpired: (call: Call) => void): void {
    if (nowMs < this.earliestDeadlineMs) return;
    let earliestMs = Infinity;
    const expired: Call[] = [];
    for (let slot = 0; slot < this.slots.length; slot++) {
      const call = this.slots[slot];
      if (call === undefined) continue;
      if (call.deadlineMs <= nowMs) {
        expired.push(call);
        this.slots[slot] = undefined;
        this.count--;
      } else if (call.deadlineMs < earliestMs) {
        earliestMs = call.deadlineMs;
      }
    }
    this.earliestDeadlineMs = earliestMs;
    for (const call of expired) onExpired(call);
  }

  /** Empties the table (the connection is gone) and returns what was pending. */
  drain(): Call[] {
    const calls: Call[] = [];
    for (let slot = 0; slot < this.slots.length; slot++) {
      const call = this.slots[slot];
      if (call !== undefined) {
        calls.push(call);
        this.slots[slot] = undefined;
      }
    }
    this.count = 0;
    this.earliestDeadlineMs = Infinity;
    return calls;
  }
}
