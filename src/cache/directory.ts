// The home node's directory (README.md, "Home rules"): for each key it homes, which nodes hold a
// line and in which MESI state until when, and the order in which operations on that key run.
// Pure and deterministic: time comes in as arguments, and everything it wants done (read or
// write the store, invalidate a holder, answer a request, wake it later) goes out through the
// Ports it was built with. The service wires the ports to the network and the store; the model
// check in test/cache wires them to a simulated network with drops and reordering.
//
// Per key, operations run one at a time in arrival order, except that reads waiting next to
// each other share one store read (issued after every one of them arrived, so it is a valid
// linearization point for each). A write first invalidates every other holder and waits for
// each to acknowledge or for its lease to end, then writes the store, then answers (sets
// waiting next to each other go as one store write of the last value). A holder
// is forgotten only once it acknowledged an invalidation or its lease ended, never earlier.
import type { SinkronError } from "../protocol/errors.ts";
import type { LineState } from "./lines.ts";
import type { StoreRead } from "./store.ts";

export type WriteChange = { kind: "set"; value: unknown } | { kind: "delete" };

/** The home's answer to a fetch or a write: a line to install for leaseMs (0: do not cache). */
export interface Grant {
  found: boolean;
  value: unknown;
  state: LineState;
  leaseMs: number;
  seq: number;
  /** Writes that deleted: whether the key existed. */
  existed?: boolean;
}

export type Reply = (outcome: { ok: true; grant: Grant } | { ok: false; error: SinkronError }) => void;

export interface DirectoryPorts {
  storeRead(key: string): void;
  storeWrite(key: string, change: WriteChange): void;
  /**
   * Ask `holder` to drop its line; call invalidated(key, holder, round) when it confirms. The
   * round ties the confirmation to this request: a late answer to an earlier one confirms nothing.
   */
  invalidate(key: string, holder: string, round: number): void;
  /** Tell `holder` its M/E line is S now (no answer expected). */
  downgrade(key: string, holder: string): void;
  /** Call tick() at (or soon after) this time. */
  wakeAt(atMs: number): void;
}

export interface DirectoryOptions {
  leaseMs: number;
  /** Entries that record holders; past it, reads are answered without a lease. */
  entriesMax: number;
  /** Writes wait until this time: leases granted before this directory existed have ended. */
  writableAtMs: number;
  /**
   * Where this directory's answer numbers start. Holders keep the line with the higher number;
   * starting from the wall clock (x1000) keeps a restarted home's numbers above its old ones.
   */
  seqStart: number;
}

interface HolderEntry {
  state: LineState;
  /** The home's view: the lease ends no earlier than this (the holder's own view ends sooner). */
  leaseEndMs: number;
}

interface ReadOp {
  kind: "read";
  from: string;
  reply: Reply;
}

interface WriteOp {
  kind: "write";
  from: string;
  change: WriteChange;
  reply: Reply;
}

type Active =
  | { kind: "read"; readers: ReadOp[] }
  | {
      kind: "write";
      /** Writes applied as one; only the last one's change reaches the store (see advance). */
      ops: WriteOp[];
      awaiting: Set<string>;
      phase: "waiting-writable" | "invalidating" | "storing";
      /** Which invalidation request confirmations must answer (DirectoryPorts.invalidate). */
      round: number;
      /** When the store write left (phase "storing"); leases granted on its value end by then + leaseMs. */
      storeSentAtMs: number;
    }
  | { kind: "repair"; change: WriteChange };

interface Entry {
  holders: Map<string, HolderEntry>;
  queue: (ReadOp | WriteOp)[];
  active: Active | null;
  /**
   * The change of a store write that failed without a clear answer: it may still land. Before
   * the key's next read it is written again (a later write of the key does as well), so no
   * lease is granted on a value the late write would replace. Both stores apply one home's
   * writes in the order sent (Redis: one connection; group 0: its log), so the late write
   * cannot land after the one that repairs it.
   */
  repair: WriteChange | null;
}

/** Sets of one key written to the store as one, at most. */
const WRITES_MERGED_MAX = 1024;

export class HomeDirectory {
  private readonly entries = new Map<string, Entry>();
  private seq: number;
  private writableAt: number;
  /** Keys whose operations wait for time only (see wake). */
  private readonly waiting = new Set<string>();
  /** Numbers invalidation requests (one per write that invalidates). */
  private rounds = 0;
  private readableAt = 0;
  private closedError: SinkronError | null = null;

  constructor(
    private readonly ports: DirectoryPorts,
    private readonly options: DirectoryOptions,
  ) {
    this.seq = options.seqStart;
    this.writableAt = options.writableAtMs;
  }

  get size(): number {
    return this.entries.size;
  }

  get writableAtMs(): number {
    return this.writableAt;
  }

  /** From `atMs` on, writes may run (call tick() then); until then they wait. */
  allowWritesFrom(atMs: number): void {
    this.writableAt = atMs;
  }

  /** Until `atMs`, reads wait too (the store lost its state; see CacheService.noticeStoreBehind). */
  holdReadsUntil(atMs: number): void {
    this.readableAt = atMs;
  }

  /** Holders of `key` as the home sees them (tests, STATUS). */
  holders(key: string): Record<string, { state: LineState; leaseEndMs: number }> {
    return Object.fromEntries(this.entries.get(key)?.holders ?? []);
  }

  read(key: string, from: string, reply: Reply, nowMs: number): void {
    if (this.refuseIfClosed(reply)) return;
    const entry = this.entry(key);
    entry.queue.push({ kind: "read", from, reply });
    this.advance(key, entry, nowMs);
  }

  write(key: string, from: string, change: WriteChange, reply: Reply, nowMs: number): void {
    if (this.refuseIfClosed(reply)) return;
    const entry = this.entry(key);
    entry.queue.push({ kind: "write", from, change, reply });
    this.advance(key, entry, nowMs);
  }

  storeReadDone(key: string, result: { ok: true; read: StoreRead } | { ok: false; error: SinkronError }, nowMs: number): void {
    const entry = this.entries.get(key);
    const active = entry?.active;
    if (entry === undefined || active?.kind !== "read") return;
    entry.active = null;
    if (!result.ok) {
      for (const reader of active.readers) reader.reply({ ok: false, error: result.error });
    } else {
      this.dropExpired(entry, nowMs);
      const found = result.read.found;
      const value = found ? (result.read as { value: unknown }).value : null;
      const leasing = this.entries.size <= this.options.entriesMax;
      const readers = new Set(active.readers.map((r) => r.from));
      const others = [...entry.holders.keys()].filter((h) => !readers.has(h));
      // A sole reader that wrote the key last keeps M (the store has the value: write-through).
      const soleState = entry.holders.get(active.readers[0]!.from)?.state === "M" ? "M" : "E";
      const state: LineState = others.length === 0 && readers.size === 1 ? soleState : "S";
      if (leasing) {
        for (const holder of others) {
          const held = entry.holders.get(holder)!;
          if (held.state !== "S") {
            held.state = "S";
            this.ports.downgrade(key, holder);
          }
        }
        for (const from of readers) entry.holders.set(from, { state, leaseEndMs: nowMs + this.options.leaseMs });
      }
      const grant: Grant = { found, value, state, leaseMs: leasing ? this.options.leaseMs : 0, seq: ++this.seq };
      for (const reader of active.readers) reader.reply({ ok: true, grant });
    }
    this.advance(key, entry, nowMs);
  }

  storeWriteDone(key: string, result: { ok: true; existed?: boolean } | { ok: false; error: SinkronError; ambiguous: boolean }, nowMs: number): void {
    const entry = this.entries.get(key);
    const active = entry?.active;
    if (entry === undefined || active === null || active === undefined) return;
    if (active.kind === "repair") {
      entry.active = null;
      if (result.ok) entry.repair = null;
      else {
        // Still unknown whether the first write landed: the reads waiting for the repair fail
        // (the store is in trouble), and the next operation tries the repair again.
        while (entry.queue[0]?.kind === "read") entry.queue.shift()!.reply({ ok: false, error: result.error });
      }
      this.advance(key, entry, nowMs);
      return;
    }
    if (active.kind !== "write" || active.phase !== "storing") return;
    entry.active = null;
    const { ops } = active;
    if (!result.ok) {
      if (result.ambiguous) entry.repair = ops[ops.length - 1]!.change;
      for (const op of ops) op.reply({ ok: false, error: result.error });
    } else {
      // Every other holder acknowledged or ran out during the invalidation phase, and none
      // was added since (operations on a key run one at a time); the writers dropped their
      // own lines before writing (holder rule 4).
      entry.holders.clear();
      entry.repair = null;
      const leasing = this.entries.size <= this.options.entriesMax;
      const last = ops[ops.length - 1]!;
      if (leasing) entry.holders.set(last.from, { state: "M", leaseEndMs: nowMs + this.options.leaseMs });
      for (const op of ops) {
        // Earlier writes of a merged run were overwritten at once: their writers get no line.
        const leaseMs = op === last && leasing ? this.options.leaseMs : 0;
        const found = op.change.kind === "set";
        op.reply({
          ok: true,
          grant: { found, value: found ? (op.change as { value: unknown }).value : null, state: "M", leaseMs, seq: ++this.seq, ...(result.existed === undefined ? {} : { existed: result.existed }) },
        });
      }
      this.answerReadsAfterWrite(key, entry, last, active.storeSentAtMs, leasing, nowMs);
    }
    this.advance(key, entry, nowMs);
  }

  /**
   * Reads that queued up while a write ran are answered with the value it just stored, without a
   * store read: they are concurrent with the write, so they may take effect right after it, and
   * no other write of the key can come between (one operation at a time here; a home of a newer
   * ring writes only a lease after the store refused this epoch, which was after this write
   * landed). Their leases end where a lease granted when the store write LEFT would end
   * (storeSentAtMs + leaseMs), so a home slow to learn of a new ring grants nothing that outlives
   * the new home's wait; once that is past, they go to the store as usual.
   */
  private answerReadsAfterWrite(key: string, entry: Entry, last: WriteOp, storeSentAtMs: number, leasing: boolean, nowMs: number): void {
    const remainingMs = storeSentAtMs + this.options.leaseMs - nowMs;
    if (remainingMs <= 0 || entry.queue[0]?.kind !== "read") return;
    let count = 0;
    while (count < entry.queue.length && entry.queue[count]!.kind === "read") count += 1;
    const readers = entry.queue.splice(0, count) as ReadOp[];
    const found = last.change.kind === "set";
    const value = found ? (last.change as { value: unknown }).value : null;
    const from = new Set(readers.map((r) => r.from));
    // The writer holds M (when leasing); a reader other than it makes every line S.
    const writerOnly = from.size === 1 && from.has(last.from);
    const state: LineState = writerOnly ? "M" : "S";
    if (leasing) {
      const writer = entry.holders.get(last.from);
      if (!writerOnly && writer !== undefined && writer.state !== "S") {
        writer.state = "S";
        this.ports.downgrade(key, last.from);
      }
      for (const reader of from) entry.holders.set(reader, { state, leaseEndMs: Math.max(entry.holders.get(reader)?.leaseEndMs ?? 0, storeSentAtMs + this.options.leaseMs) });
    }
    const grant: Grant = { found, value, state, leaseMs: leasing ? remainingMs : 0, seq: ++this.seq };
    for (const reader of readers) reader.reply({ ok: true, grant });
  }

  /** `holder` confirmed it dropped `key` (or never had it) in answer to invalidation `round`. */
  invalidated(key: string, holder: string, round: number, nowMs: number): void {
    const entry = this.entries.get(key);
    const active = entry?.active;
    if (entry === undefined || active?.kind !== "write" || active.phase !== "invalidating" || active.round !== round) return;
    if (!active.awaiting.delete(holder)) return;
    entry.holders.delete(holder);
    this.advance(key, entry, nowMs);
  }

  /**
   * Time passed, for the keys waiting on time only (a lease to end, writes or reads to be
   * allowed): what wakeAt asked for. Cheap with many keys; tick() also sweeps the rest.
   */
  wake(nowMs: number): void {
    for (const key of [...this.waiting]) {
      const entry = this.entries.get(key);
      if (entry === undefined) this.waiting.delete(key);
      else this.advance(key, entry, nowMs);
    }
  }

  /** Time passed: lease waits may be over, writes may now be allowed, old entries can go. */
  tick(nowMs: number): void {
    for (const [key, entry] of this.entries) {
      const active = entry.active;
      if (active?.kind === "write" && active.phase !== "storing") this.advance(key, entry, nowMs);
      else if (active === null) {
        this.dropExpired(entry, nowMs);
        this.advance(key, entry, nowMs);
      }
    }
  }

  /** Refuses everything waiting and every later call (the ring moved on; this directory is done). */
  close(error: SinkronError): void {
    this.closedError = error;
    for (const entry of this.entries.values()) {
      const active = entry.active;
      // A store call in flight finishes on its own; its answer finds the entry gone.
      if (active?.kind === "read") for (const r of active.readers) r.reply({ ok: false, error });
      else if (active?.kind === "write") for (const op of active.ops) op.reply({ ok: false, error });
      // An active repair answers nobody; the reads behind it are in the queue.
      for (const op of entry.queue) op.reply({ ok: false, error });
    }
    this.entries.clear();
    this.waiting.clear();
  }

  private refuseIfClosed(reply: Reply): boolean {
    if (this.closedError === null) return false;
    reply({ ok: false, error: this.closedError });
    return true;
  }

  private entry(key: string): Entry {
    let entry = this.entries.get(key);
    if (entry === undefined) {
      entry = { holders: new Map(), queue: [], active: null, repair: null };
      this.entries.set(key, entry);
    }
    return entry;
  }

  /** Moves `key`'s operations along as far as they can go now. */
  private advance(key: string, entry: Entry, nowMs: number): void {
    this.waiting.delete(key);
    const active = entry.active;
    if (active?.kind === "write" && active.phase !== "storing") {
      this.advanceWrite(key, entry, active, nowMs);
      return;
    }
    if (active !== null) return;
    const next = entry.queue[0];
    if (next === undefined) {
      if (entry.holders.size === 0 && entry.repair === null) this.entries.delete(key);
      return;
    }
    if (entry.repair !== null) {
      if (next.kind === "read") {
        entry.active = { kind: "repair", change: entry.repair };
        this.ports.storeWrite(key, entry.repair);
        return;
      }
      // A write supersedes the repair: its store write goes after the late one too.
    }
    if (next.kind === "read") {
      if (nowMs < this.readableAt) {
        this.waiting.add(key);
        if (Number.isFinite(this.readableAt)) this.ports.wakeAt(this.readableAt);
        return;
      }
      let count = 0;
      while (count < entry.queue.length && entry.queue[count]!.kind === "read") count += 1;
      entry.active = { kind: "read", readers: entry.queue.splice(0, count) as ReadOp[] };
      this.ports.storeRead(key);
      return;
    }
    // Sets waiting next to each other are all concurrent (none answered yet), so they may take
    // effect back to back at one instant: one store write of the last value serves them all.
    // A hot key's writes then cost one store round trip per batch instead of one each.
    let count = 1;
    if (next.change.kind === "set") {
      while (count < entry.queue.length && count < WRITES_MERGED_MAX) {
        const op = entry.queue[count]!;
        if (op.kind !== "write" || op.change.kind !== "set") break;
        count += 1;
      }
    }
    const write: Active = { kind: "write", ops: entry.queue.splice(0, count) as WriteOp[], awaiting: new Set(), phase: "waiting-writable", round: ++this.rounds, storeSentAtMs: 0 };
    entry.active = write;
    this.advanceWrite(key, entry, write, nowMs);
  }

  private advanceWrite(key: string, entry: Entry, write: Extract<Active, { kind: "write" }>, nowMs: number): void {
    if (write.phase === "waiting-writable") {
      if (nowMs < this.writableAt) {
        this.waiting.add(key);
        if (Number.isFinite(this.writableAt)) this.ports.wakeAt(this.writableAt);
        return;
      }
      write.phase = "invalidating";
      this.dropExpired(entry, nowMs);
      const writers = new Set(write.ops.map((op) => op.from));
      for (const holder of entry.holders.keys()) {
        if (writers.has(holder)) continue;
        write.awaiting.add(holder);
        this.ports.invalidate(key, holder, write.round);
      }
    }
    // A holder that does not answer is waited out: its lease ends, then it serves nothing.
    let waitUntilMs = 0;
    for (const holder of write.awaiting) {
      const held = entry.holders.get(holder);
      if (held === undefined || nowMs >= held.leaseEndMs) {
        write.awaiting.delete(holder);
        entry.holders.delete(holder);
      } else waitUntilMs = Math.max(waitUntilMs, held.leaseEndMs);
    }
    if (write.awaiting.size > 0) {
      this.waiting.add(key);
      this.ports.wakeAt(waitUntilMs);
      return;
    }
    write.phase = "storing";
    write.storeSentAtMs = nowMs;
    this.ports.storeWrite(key, write.ops[write.ops.length - 1]!.change);
  }

  private dropExpired(entry: Entry, nowMs: number): void {
    for (const [holder, held] of entry.holders) if (nowMs >= held.leaseEndMs) entry.holders.delete(holder);
  }
}
