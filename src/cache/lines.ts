// This node's cached lines: an LRU bounded by entries and by bytes, each line with its MESI
// state and the end of its read lease. Pure: time comes in as arguments, nothing here sends
// anything. The rules that make a hit safe live here (README.md, "Holder rules"):
//
// - a line is served only while now < leaseEndMs, the lease counted from when the request that
//   got it was SENT (so it always ends before the home's own view of it ends);
// - an answer is installed only if no invalidation for its key arrived while it was on its way:
//   the home's answer and a later invalidation travel on different connections and may cross,
//   and a line installed after its invalidation would outlive the write that invalidated it;
// - an answer never replaces a line the home handed out later (higher `seq`).

export type LineState = "M" | "E" | "S";

export interface LineLimits {
  /** Lines kept at most; the least recently used goes first. */
  entriesMax: number;
  /** Bytes of keys, values and per-line overhead kept at most. */
  bytesMax: number;
}

/** What a line costs besides its key and value: the node object, map slot and bookkeeping. */
export const LINE_OVERHEAD_BYTES = 96;

export interface LineGrant {
  /** False: the key does not exist in the store (a line may cache that too). */
  found: boolean;
  value: unknown;
  state: LineState;
  leaseEndMs: number;
  /** The home's order of this answer among all its answers; later answers win. */
  seq: number;
  /** Size of the value as it would travel (see valueBytes). */
  valueBytes: number;
}

export interface Line extends LineGrant {
  readonly key: string;
  bytes: number;
  /** Whatever the service derived from this line's value and state (its encoded answer); reset when the state changes. */
  memo: unknown;
  newer: Line | null;
  older: Line | null;
}

/** Taken when a request that may bring a line leaves; handed back to install() with its answer. */
export interface RequestTicket {
  readonly key: string;
  readonly invalidationsAtStart: number;
}

interface Pending {
  requests: number;
  invalidations: number;
}

const utf8 = new TextEncoder();

export function keyBytes(key: string): number {
  return key.length <= 64 && /^[\x00-\x7f]*$/.test(key) ? key.length : utf8.encode(key).byteLength;
}

export class LineTable {
  private readonly lines = new Map<string, Line>();
  /** Keys with requests on their way to the home, and invalidations met meanwhile. */
  private readonly pending = new Map<string, Pending>();
  private newest: Line | null = null;
  private oldest: Line | null = null;
  private totalBytes = 0;
  evictions = 0;

  constructor(readonly limits: LineLimits) {}

  get entries(): number {
    return this.lines.size;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  /** The line for `key` if its lease still runs (it becomes the most recently used); else undefined. */
  lookup(key: string, nowMs: number): Line | undefined {
    const line = this.lines.get(key);
    if (line === undefined) return undefined;
    if (nowMs >= line.leaseEndMs) {
      this.remove(line);
      return undefined;
    }
    if (this.newest !== line) {
      this.unlink(line);
      this.linkNewest(line);
    }
    return line;
  }

  /** Call before sending a fetch or write for `key`; every ticket must reach finish(). */
  start(key: string): RequestTicket {
    let pending = this.pending.get(key);
    if (pending === undefined) {
      pending = { requests: 0, invalidations: 0 };
      this.pending.set(key, pending);
    }
    pending.requests += 1;
    return { key, invalidationsAtStart: pending.invalidations };
  }

  /**
   * Installs the answer to `ticket`'s request unless an invalidation of its key arrived since it
   * left, or a line from a later answer is already here. Says whether it was installed.
   */
  install(ticket: RequestTicket, grant: LineGrant, nowMs: number): boolean {
    const pending = this.pending.get(ticket.key);
    if (pending !== undefined && pending.invalidations !== ticket.invalidationsAtStart) return false;
    if (nowMs >= grant.leaseEndMs) return false;
    const existing = this.lines.get(ticket.key);
    if (existing !== undefined && existing.seq > grant.seq) return false;
    const bytes = keyBytes(ticket.key) + grant.valueBytes + LINE_OVERHEAD_BYTES;
    if (bytes > this.limits.bytesMax || this.limits.entriesMax < 1) {
      if (existing !== undefined) this.remove(existing);
      return false;
    }
    if (existing !== undefined) this.remove(existing);
    const line: Line = { key: ticket.key, ...grant, bytes, memo: undefined, newer: null, older: null };
    this.lines.set(line.key, line);
    this.linkNewest(line);
    this.totalBytes += bytes;
    while (this.lines.size > this.limits.entriesMax || this.totalBytes > this.limits.bytesMax) {
      this.remove(this.oldest!);
      this.evictions += 1;
    }
    return true;
  }

  finish(ticket: RequestTicket): void {
    const pending = this.pending.get(ticket.key);
    if (pending === undefined) return;
    pending.requests -= 1;
    if (pending.requests <= 0) this.pending.delete(ticket.key);
  }

  /** The home says another node writes `key`: drop it, and refuse answers already on their way. */
  invalidate(key: string): boolean {
    const pending = this.pending.get(key);
    if (pending !== undefined) pending.invalidations += 1;
    const line = this.lines.get(key);
    if (line === undefined) return false;
    this.remove(line);
    return true;
  }

  /** Another node now reads `key` too: an M or E line becomes S. Safety does not depend on it. */
  downgrade(key: string): void {
    const line = this.lines.get(key);
    if (line !== undefined && line.state !== "S") {
      line.state = "S";
      line.memo = undefined;
    }
  }

  /** Drops one line (CACHE.INVALIDATE with a key); says whether there was one. */
  drop(key: string): boolean {
    const line = this.lines.get(key);
    if (line === undefined) return false;
    this.remove(line);
    return true;
  }

  /** Drops every line and makes answers on their way uninstallable; returns how many lines went. */
  clear(): number {
    const count = this.lines.size;
    this.lines.clear();
    this.newest = null;
    this.oldest = null;
    this.totalBytes = 0;
    for (const pending of this.pending.values()) pending.invalidations += 1;
    return count;
  }

  /** Keys from most to least recently used (tests, debugging). */
  keysByRecency(): string[] {
    const keys: string[] = [];
    for (let line = this.newest; line !== null; line = line.older) keys.push(line.key);
    return keys;
  }

  private remove(line: Line): void {
    this.lines.delete(line.key);
    this.unlink(line);
    this.totalBytes -= line.bytes;
  }

  private linkNewest(line: Line): void {
    line.older = this.newest;
    line.newer = null;
    if (this.newest !== null) this.newest.newer = line;
    this.newest = line;
    if (this.oldest === null) this.oldest = line;
  }

  private unlink(line: Line): void {
    if (line.newer !== null) line.newer.older = line.older;
    else this.newest = line.older;
    if (line.older !== null) line.older.newer = line.newer;
    else this.oldest = line.newer;
    line.newer = null;
    line.older = null;
  }
}
