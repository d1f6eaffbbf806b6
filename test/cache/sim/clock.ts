// Simulated time for the cache model check: one event queue for the whole world, and per node a
// "process" with its own drifting clock, its own timers and microtask queue, that can be paused
// like a SIGSTOPped process (nothing it would do runs, but time goes on; on resume it does what
// piled up, in arrival order, and reads its clock afresh).

interface ScheduledEvent {
  atMs: number;
  seq: number;
  run: () => void;
}

/** A binary heap of events ordered by time, then by the order they were scheduled. */
export class Scheduler {
  nowMs = 0;
  private readonly heap: ScheduledEvent[] = [];
  private seq = 0;

  at(atMs: number, run: () => void): void {
    this.push({ atMs: Math.max(atMs, this.nowMs), seq: this.seq++, run });
  }

  get pending(): number {
    return this.heap.length;
  }

  /** Runs every event due up to `endMs`, then sets the clock to `endMs`. */
  runUntil(endMs: number): void {
    for (;;) {
      const top = this.heap[0];
      if (top === undefined || top.atMs > endMs) break;
      this.pop();
      this.nowMs = top.atMs;
      top.run();
    }
    this.nowMs = Math.max(this.nowMs, endMs);
  }

  private before(a: ScheduledEvent, b: ScheduledEvent): boolean {
    return a.atMs < b.atMs || (a.atMs === b.atMs && a.seq < b.seq);
  }

  private push(event: ScheduledEvent): void {
    const heap = this.heap;
    heap.push(event);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  private pop(): void {
    const heap = this.heap;
    const last = heap.pop()!;
    if (heap.length === 0) return;
    heap[0] = last;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < heap.length && this.before(heap[left]!, heap[smallest]!)) smallest = left;
      if (right < heap.length && this.before(heap[right]!, heap[smallest]!)) smallest = right;
      if (smallest === i) return;
      [heap[i], heap[smallest]] = [heap[smallest]!, heap[i]!];
      i = smallest;
    }
  }
}

export interface TimerHandle {
  isCancelled: boolean;
}

/**
 * One node's event loop. Every task (a delivered message, a timer, a client request) runs as one
 * turn, after which the turn's microtasks drain — as in Bun, where a promise continuation runs
 * before the next I/O callback. The local clock runs at `clockRate` (crystal drift) from an
 * arbitrary offset: nothing may compare one node's clock readings with another's.
 */
export class NodeProcess {
  isPaused = false;
  private readonly held: (() => void)[] = [];
  private readonly microtasks: (() => void)[] = [];

  constructor(
    readonly id: string,
    private readonly scheduler: Scheduler,
    private readonly clockOffsetMs: number,
    readonly clockRate: number,
  ) {}

  /** What performance.now() says on this node. */
  localNow(): number {
    return this.clockOffsetMs + this.scheduler.nowMs * this.clockRate;
  }

  /** Runs `task` as a turn now, or when the node resumes. */
  deliver(task: () => void): void {
    if (this.isPaused) this.held.push(task);
    else this.turn(task);
  }

  queueMicrotask(task: () => void): void {
    this.microtasks.push(task);
  }

  /** A setTimeout measured on this node's clock; a paused node runs it late, on resume. */
  setTimer(delayLocalMs: number, task: () => void): TimerHandle {
    const handle: TimerHandle = { isCancelled: false };
    this.scheduler.at(this.scheduler.nowMs + Math.max(0, delayLocalMs) / this.clockRate, () =>
      this.deliver(() => {
        if (!handle.isCancelled) task();
      }),
    );
    return handle;
  }

  pause(): void {
    this.isPaused = true;
  }

  /** Everything that arrived or fell due meanwhile runs now, in the order it came. */
  resume(): void {
    this.isPaused = false;
    const held = this.held.splice(0);
    for (const task of held) this.turn(task);
  }

  private turn(task: () => void): void {
    task();
    for (let next = this.microtasks.shift(); next !== undefined; next = this.microtasks.shift()) next();
  }
}
