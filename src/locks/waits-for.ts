// Deadlock detection on the waits-for graph (Gray & Reuter 1993, ch. 7; Coffman et al. 1971):
// owner X waits for owner Y when one of X's waiting requests conflicts with Y's hold of that
// lock, or with Y's request queued ahead of it (FIFO makes it wait for those too). The table
// keeps the graph acyclic, so a new cycle must pass through the owner whose request is new.
//
// Cost of one search: every owner is expanded at most once, and the per-lock scan state below
// reads each touched lock's holders and queue at most twice, so a search is
// O(owners reached + their waiting requests + holders and waiters of the locks they wait on),
// bounded by the table's size (waitersMax, plus holders). The start scans the new request's
// lock (O(lockWaitersMax)), or for a conversion every lock its owner waits for. Edges are never
// materialised.
import type { LockState } from "./lock-state.ts";
import type { CycleStep, Waiter } from "./types.ts";

export interface WaitsForView {
  lock(name: string): LockState | undefined;
  /** The requests `owner` has waiting, in a deterministic order (arrival). */
  waitsOf(owner: string): readonly Waiter[];
}


interface ScanState {
  positions: Map<Waiter, number>;
  /** Queue prefix [0, allUpTo) already scanned for every entry; [0, exclusiveUpTo) for exclusive ones. */
  allUpTo: number;
  exclusiveUpTo: number;
  holdersAllScanned: boolean;
  holdersExclusiveScanned: boolean;
}

/**
 * Looks for a cycle through `source`, starting from its waiting requests `sourceWaits` (which
 * may include one not yet registered with the view, but already inserted in its lock's queue).
 * Returns the cycle starting at `source`, or null. Iterative: no recursion depth to run out of.
 */
export function findCycle(view: WaitsForView, source: string, sourceWaits: readonly Waiter[]): CycleStep[] | null {
  const parent = new Map<string, CycleStep>();
  const stack: string[] = [];
  let closing: CycleStep | null = null;

  const discover = (owner: string, from: string, name: string): boolean => {
    if (owner === from) return false; // a conversion's own shared hold: not an edge
    if (owner === source) {
      closing = { owner: from, name };
      return true;
    }
    if (parent.has(owner)) return false;
    parent.set(owner, { owner: from, name });
    stack.push(owner);
    return false;
  };

  // The source's own requests: direct blockers, no shared scan state (its own entries are
  // self-edges here, but real edges for any other owner scanning the same prefix later).
  for (const waiter of sourceWaits) {
    const lock = view.lock(waiter.name);
    if (lock === undefined) continue;
    for (const holder of lock.holders.values()) {
      if (waiter.mode === "exclusive" || holder.mode === "exclusive") discover(holder.owner, source, waiter.name);
    }
    for (const ahead of lock.queue) {
      if (ahead === waiter) break;
      if (waiter.mode === "exclusive" || ahead.mode === "exclusive") discover(ahead.owner, source, waiter.name);
    }
  }

  const scans = new Map<string, ScanState>();
  while (stack.length > 0 && closing === null) {
    const owner = stack.pop()!;
    for (const waiter of view.waitsOf(owner)) {
      const lock = view.lock(waiter.name);
      if (lock === undefined) continue;
      if (scanBlockers(lock, waiter, scanOf(scans, lock), (blocker) => discover(blocker, owner, waiter.name))) break;
    }
  }
  if (closing === null) return null;
  return unwind(parent, source, closing);
}

function scanOf(scans: Map<string, ScanState>, lock: LockState): ScanState {
  let scan = scans.get(lock.name);
  if (scan === undefined) {
    const positions = new Map<Waiter, number>();
    lock.queue.forEach((waiter, position) => positions.set(waiter, position));
    scan = { positions, allUpTo: 0, exclusiveUpTo: 0, holdersAllScanned: false, holdersExclusiveScanned: false };
    scans.set(lock.name, scan);
  }
  return scan;
}

/** Reports the owners `waiter` waits for that no earlier scan of this lock reported; true stops. */
function scanBlockers(lock: LockState, waiter: Waiter, scan: ScanState, report: (owner: string) => boolean): boolean {
  const position = scan.positions.get(waiter);
  if (position === undefined) return false; // not in this lock's queue as the search saw it
  if (waiter.mode === "exclusive") {
    if (!scan.holdersAllScanned) {
      scan.holdersAllScanned = true;
      scan.holdersExclusiveScanned = true;
      for (const holder of lock.holders.values()) if (report(holder.owner)) return true;
    }
    for (; scan.allUpTo < position; scan.allUpTo += 1) if (report(lock.queue[scan.allUpTo]!.owner)) return true;
    scan.exclusiveUpTo = Math.max(scan.exclusiveUpTo, scan.allUpTo);
    return false;
  }
  if (!scan.holdersExclusiveScanned) {
    scan.holdersExclusiveScanned = true;
    for (const holder of lock.holders.values()) if (holder.mode === "exclusive" && report(holder.owner)) return true;
  }
  for (scan.exclusiveUpTo = Math.max(scan.exclusiveUpTo, scan.allUpTo); scan.exclusiveUpTo < position; scan.exclusiveUpTo += 1) {
    const ahead = lock.queue[scan.exclusiveUpTo]!;
    if (ahead.mode === "exclusive" && report(ahead.owner)) return true;
  }
  return false;
}

function unwind(parent: Map<string, CycleStep>, source: string, closing: CycleStep): CycleStep[] {
  const reversed: CycleStep[] = [closing];
  for (let owner = closing.owner; owner !== source; ) {
    const step = parent.get(owner)!;
    reversed.push(step);
    owner = step.owner;
  }
  return reversed.reverse();
}
