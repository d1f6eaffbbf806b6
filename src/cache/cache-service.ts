// The coherent cache on one node (README.md): CACHE.* commands for clients, and the internal
// CACHE.FETCH / CACHE.WRITE / CACHE.INV between holders and homes. It wires the pure parts —
// this node's lines (LineTable) and, as a home, its directory (HomeDirectory) — to the peer
// connections, the backing store and the clock. The ring of homes is group 0's address book;
// when it changes (a new epoch), lines are dropped, the directory starts over, and writes at
// this home wait one lease after the store's epoch was raised (README.md, "Membership changes").
import {
  CACHE_DEL,
  CACHE_FETCH,
  CACHE_GET,
  CACHE_INV,
  CACHE_INVALIDATE,
  CACHE_METRICS,
  CACHE_SET,
  CACHE_STORE_READ,
  CACHE_WRITE,
  type CacheGetResult,
  type CacheMetricsResult,
} from "../protocol/commands.ts";
import { SinkronError } from "../protocol/errors.ts";
import { encodeValue, Preencoded } from "../protocol/msgpack.ts";
import { requirePeer, type CommandContext, type CommandRegistry } from "../server/registry.ts";
import type { PeerTransport } from "../transport/peer-transport.ts";
import { HashRing } from "../util/hash-ring.ts";
import type { Logger } from "../util/log.ts";
import { HomeDirectory, type Grant, type WriteChange } from "./directory.ts";
import type { EmbeddedStore } from "./embedded-store.ts";
import { LEASE_DRIFT_FRACTION, type CacheSettings } from "./limits.ts";
import { keyBytes, LineTable } from "./lines.ts";
import { isStaleEpoch, staleEpochError, type BackingStore } from "./store.ts";

export interface CacheRingSource {
  /** The members whose nodes are homes. */
  list(): { id: string }[];
  /** Which version of that list this is (MemberMachine.epoch). */
  readonly epoch: number;
}

export interface CacheServiceOptions {
  selfId: string;
  members: CacheRingSource;
  store: BackingStore;
  /** Serves CACHE.STORE.READ for peers when this node leads group 0 (whatever `store` is). */
  embedded: EmbeddedStore;
  transport: PeerTransport;
  settings: CacheSettings;
  log: Logger;
}

/** How long a node waits before asking again after a refusal it expects to clear (ring catching up). */
const RETRY_PAUSE_MS = 10;
/** Extra wait past a lease before a new home writes: timers and clocks are not exact. */
const LEASE_MARGIN_MS = 5;
/** How often a failed raise of the store's epoch (Redis down) is tried again. */
const ADVANCE_RETRY_MS = 200;

export class CacheService {
  private readonly lines: LineTable;
  private ring: HashRing = new HashRing([]);
  private epoch = -1;
  private directory: HomeDirectory;
  private hits = 0;
  private misses = 0;
  private writes = 0;
  private invalidations = 0;
  private wakeTimer: ReturnType<typeof setTimeout> | null = null;
  private wakeAtMs = Infinity;
  private sweepTimer: ReturnType<typeof setInterval> | null = null;
  private stopped = false;
  /** Whether this process already had a ring (and so a directory) before. */
  private hadDirectory = false;
  /** The directory whose store epoch is being raised (one raise at a time). */
  private raising: HomeDirectory | null = null;

  constructor(private readonly options: CacheServiceOptions) {
    const { settings } = options;
    this.lines = new LineTable({ entriesMax: settings.entriesMax, bytesMax: settings.bytesMax });
    this.directory = this.newDirectory();
  }

  start(): void {
    this.onRingChange();
    // Ends lease waits the directory asked for and forgets keys whose leases all ran out.
    this.sweepTimer = setInterval(() => this.directory.tick(performance.now()), this.options.settings.leaseMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.sweepTimer !== null) clearInterval(this.sweepTimer);
    if (this.wakeTimer !== null) clearTimeout(this.wakeTimer);
    this.directory.close(new SinkronError("UNAVAILABLE", "the node is shutting down"));
    await this.options.store.close();
  }

  /** Group 0's address book changed (or was restored): a new ring, a new directory. */
  onRingChange(): void {
    const { members } = this.options;
    if (members.epoch === this.epoch || this.stopped) return;
    const epoch = members.epoch;
    this.epoch = epoch;
    this.ring = new HashRing(members.list().map((m) => m.id));
    const dropped = this.lines.clear();
    const old = this.directory;
    this.directory = this.newDirectory();
    old.close(staleEpochError(epoch - 1, epoch));
    this.options.log.info("cache ring changed", { epoch, homes: this.ring.nodes.length, linesDropped: dropped });
    // The first directory of this process holds reads back too: a store write the previous
    // process (before a restart) left in flight is ordered with nothing this one does, until
    // the raise (a barrier write in the embedded store) and one lease have passed.
    const isFirst = !this.hadDirectory;
    this.hadDirectory = true;
    if (isFirst) this.directory.holdReadsUntil(Infinity);
    this.raiseStoreEpoch(epoch, this.directory, isFirst);
  }

  metrics(): CacheMetricsResult {
    const { settings, store } = this.options;
    return {
      hits: this.hits,
      misses: this.misses,
      writes: this.writes,
      invalidations: this.invalidations,
      evictions: this.lines.evictions,
      entries: this.lines.entries,
      bytes: this.lines.bytes,
      capacity: settings.entriesMax,
      capacityBytes: settings.bytesMax,
      store: store.kind,
      leaseMs: settings.leaseMs,
      epoch: this.epoch,
      homedKeys: this.directory.size,
    };
  }

  register(registry: CommandRegistry): void {
    registry.register(CACHE_GET, (args) => this.get(args.key, true));
    registry.register(CACHE_SET, async (args) => {
      await this.write(args.key, { kind: "set", value: args.value });
      return { ok: true };
    });
    registry.register(CACHE_DEL, async (args) => ({ deleted: (await this.write(args.key, { kind: "delete" })).existed === true }));
    registry.register(CACHE_INVALIDATE, (args) => ({ invalidated: args.key === undefined ? this.lines.clear() : this.lines.drop(args.key) ? 1 : 0 }));
    registry.register(CACHE_METRICS, () => this.metrics());
    registry.register(CACHE_FETCH, (args, ctx) => this.serveAtHome(ctx, CACHE_FETCH.name, args.epoch, (reply) => this.directory.read(args.key, ctx.connection.peerId!, reply, performance.now())));
    registry.register(CACHE_WRITE, (args, ctx) => {
      requirePeer(ctx, CACHE_WRITE.name);
      if (args.delete !== true && args.value === undefined) throw new SinkronError("BAD_REQUEST", "argument 'value' is required unless delete is true", { argument: "value" });
      const change: WriteChange = args.delete === true ? { kind: "delete" } : { kind: "set", value: args.value };
      // The writer knows its value: the answer leaves it out.
      return this.serveAtHome(ctx, CACHE_WRITE.name, args.epoch, (reply) => this.directory.write(args.key, ctx.connection.peerId!, change, reply, performance.now())).then(({ value: _value, ...rest }) => rest);
    });
    registry.register(CACHE_INV, (args, ctx) => {
      requirePeer(ctx, CACHE_INV.name);
      if (args.downgrade === true) {
        this.lines.downgrade(args.key);
        return { dropped: false };
      }
      const dropped = this.lines.invalidate(args.key);
      if (dropped) this.invalidations += 1;
      return { dropped };
    });
    registry.register(CACHE_STORE_READ, (args, ctx) => {
      requirePeer(ctx, CACHE_STORE_READ.name);
      if (!Array.isArray(args.keys) || !args.keys.every((k) => typeof k === "string")) throw new SinkronError("BAD_REQUEST", "argument 'keys' must be an array of strings", { argument: "keys" });
      return this.options.embedded.serveRead({ epoch: args.epoch, keys: args.keys as string[] }, ctx);
    });
  }

  /**
   * CACHE.GET: a hit answers at once, without a promise; a miss asks the key's home. `wire`:
   * a hit's answer comes encoded (once per line and state) for the server to send as it is.
   */
  get(key: string, wire: true): CacheGetResult | Preencoded | Promise<CacheGetResult>;
  get(key: string, wire?: false): CacheGetResult | Promise<CacheGetResult>;
  get(key: string, wire = false): CacheGetResult | Preencoded | Promise<CacheGetResult> {
    const line = this.lines.lookup(key, performance.now());
    if (line !== undefined) {
      this.hits += 1;
      if (!line.found) throw notFound(key);
      const answer: CacheGetResult = { value: line.value, source: "cache", state: line.state };
      if (!wire) return answer;
      return (line.memo as Preencoded | undefined) ?? (line.memo = new Preencoded(encodeValue(answer)));
    }
    this.misses += 1;
    return this.askHome(key, null).then((grant) => {
      if (!grant.found) throw notFound(key);
      return { value: grant.value, source: "store" as const, state: grant.state };
    });
  }

  /** CACHE.SET / CACHE.DEL: answered once the home invalidated every other copy and the store has it. */
  async write(key: string, change: WriteChange): Promise<Grant> {
    const grant = await this.askHome(key, change);
    this.writes += 1;
    return grant;
  }

  /**
   * A fetch (change null) or write at `key`'s home, local or remote, asked again while the
   * refusal is one that clears by itself (the ring catching up), up to requestTimeoutMs. The
   * answer becomes a line here unless an invalidation crossed it (LineTable.install).
   */
  private async askHome(key: string, change: WriteChange | null): Promise<Grant> {
    const deadlineMs = performance.now() + this.options.settings.requestTimeoutMs;
    // A writer drops its own line before the write leaves: the home forgets it as a holder once
    // the write is done, and if no new line is installed (no lease granted, or an invalidation
    // crossed the answer), the old one must not outlive the write.
    if (change !== null) this.lines.invalidate(key);
    const ticket = this.lines.start(key);
    try {
      for (;;) {
        const sentAtMs = performance.now();
        try {
          let grant = await this.callHome(key, change, deadlineMs - sentAtMs);
          // The home leaves a write's value out of its answer: the writer knows it.
          if (change !== null) grant = { ...grant, value: change.kind === "set" ? change.value : null };
          if (grant.leaseMs > 0) {
            const leaseEndMs = sentAtMs + grant.leaseMs * (1 - LEASE_DRIFT_FRACTION);
            this.lines.install(ticket, { found: grant.found, value: grant.value, state: grant.state, leaseEndMs, seq: grant.seq, valueBytes: valueBytes(grant.value) }, performance.now());
          }
          return grant;
        } catch (error) {
          if (!isStaleEpoch(error) || performance.now() + RETRY_PAUSE_MS > deadlineMs || this.stopped) throw error;
          await Bun.sleep(RETRY_PAUSE_MS);
        }
      }
    } finally {
      this.lines.finish(ticket);
    }
  }

  private callHome(key: string, change: WriteChange | null, timeoutMs: number): Promise<Grant> {
    if (this.ring.isEmpty) return Promise.reject(staleEpochError(this.epoch, null));
    const home = this.ring.owner(key);
    const { selfId, transport } = this.options;
    if (home === selfId) {
      const directory = this.directory;
      return new Promise<Grant>((resolve, reject) => {
        // Bounded like a call to another home: the operation may still finish after (a write
        // then has an unknown outcome, as after any timeout).
        const timer = setTimeout(() => reject(new SinkronError("UNAVAILABLE", `the key's home (this node) did not finish within ${Math.ceil(timeoutMs)} ms`, { home, key })), Math.max(1, timeoutMs));
        const reply = (outcome: { ok: true; grant: Grant } | { ok: false; error: SinkronError }) => {
          clearTimeout(timer);
          if (outcome.ok) resolve(outcome.grant);
          else reject(outcome.error);
        };
        if (change === null) directory.read(key, selfId, reply, performance.now());
        else directory.write(key, selfId, change, reply, performance.now());
      });
    }
    const client = transport.client(home);
    if (client === null || client.state !== "connected") {
      return Promise.reject(new SinkronError("UNAVAILABLE", `the home node ${home} of this key cannot be reached`, { home, key }));
    }
    const args = change === null ? { key, epoch: this.epoch } : change.kind === "set" ? { key, epoch: this.epoch, value: change.value } : { key, epoch: this.epoch, delete: true };
    return client.call(change === null ? CACHE_FETCH.name : CACHE_WRITE.name, args, { timeoutMs: Math.max(1, Math.ceil(timeoutMs)) }) as Promise<Grant>;
  }

  /** A peer's fetch or write at this home: only between nodes that agree on the ring. */
  private serveAtHome(ctx: CommandContext, command: string, epoch: number, run: (reply: (outcome: { ok: true; grant: Grant } | { ok: false; error: SinkronError }) => void) => void): Promise<Grant> {
    requirePeer(ctx, command);
    if (epoch !== this.epoch) return Promise.reject(staleEpochError(epoch, this.epoch));
    return new Promise<Grant>((resolve, reject) => run((outcome) => (outcome.ok ? resolve(outcome.grant) : reject(outcome.error))));
  }

  private newDirectory(): HomeDirectory {
    const { settings } = this.options;
    let directory: HomeDirectory;
    const epoch = this.epoch;
    directory = new HomeDirectory(
      {
        storeRead: (key) => {
          this.options.store.read(key, epoch).then(
            (read) => directory.storeReadDone(key, { ok: true, read }, performance.now()),
            (error: unknown) => {
              this.noticeStoreBehind(error, epoch, directory);
              directory.storeReadDone(key, { ok: false, error: asSinkronError(error) }, performance.now());
            },
          );
        },
        storeWrite: (key, change) => {
          const { store } = this.options;
          const done = change.kind === "set" ? store.write(key, change.value, epoch).then(() => ({ ok: true as const })) : store.delete(key, epoch).then((existed) => ({ ok: true as const, existed }));
          done.then(
            (result) => directory.storeWriteDone(key, result, performance.now()),
            (error: unknown) => {
              this.noticeStoreBehind(error, epoch, directory);
              directory.storeWriteDone(key, { ok: false, error: asSinkronError(error), ambiguous: !isStaleEpoch(error) }, performance.now());
            },
          );
        },
        invalidate: (key, holder, round) => this.sendInvalidate(directory, key, holder, round),
        downgrade: (key, holder) => {
          if (holder === this.options.selfId) this.lines.downgrade(key);
          else this.options.transport.client(holder)?.call(CACHE_INV.name, { key, downgrade: true }).catch(() => {});
        },
        wakeAt: (atMs) => this.wakeAt(directory, atMs),
      },
      {
        leaseMs: settings.leaseMs,
        entriesMax: settings.directoryEntriesMax,
        // Until the store refuses the old epoch and one lease has passed (raiseStoreEpoch).
        writableAtMs: Infinity,
        seqStart: Date.now() * 1000,
      },
    );
    return directory;
  }

  /**
   * Asks `holder` to drop its line. Its confirmation lets the write go on early; a holder that
   * does not answer (paused, cut off, gone) is waited out by its lease instead.
   */
  private sendInvalidate(directory: HomeDirectory, key: string, holder: string, round: number): void {
    if (holder === this.options.selfId) {
      if (this.lines.invalidate(key)) this.invalidations += 1;
      // Not from inside the directory's own call: it is iterating its holders.
      queueMicrotask(() => directory.invalidated(key, holder, round, performance.now()));
      return;
    }
    const client = this.options.transport.client(holder);
    if (client === null) return;
    client.call(CACHE_INV.name, { key }, { timeoutMs: this.options.settings.leaseMs }).then(
      () => directory.invalidated(key, holder, round, performance.now()),
      () => {},
    );
  }

  private wakeAt(directory: HomeDirectory, atMs: number): void {
    if (directory !== this.directory || atMs >= this.wakeAtMs) return;
    if (this.wakeTimer !== null) clearTimeout(this.wakeTimer);
    this.wakeAtMs = atMs;
    this.wakeTimer = setTimeout(() => {
      this.wakeTimer = null;
      this.wakeAtMs = Infinity;
      this.directory.wake(performance.now());
    }, Math.max(0, Math.ceil(atMs - performance.now())));
  }

  /**
   * The store's epoch is behind ours or gone (a Redis that restarted without persistence lost
   * the key with everything else): raise it again, and hold writes back as after a ring change.
   */
  private noticeStoreBehind(error: unknown, epoch: number, directory: HomeDirectory): void {
    if (!isStaleEpoch(error) || directory !== this.directory || this.raising === directory) return;
    const storeEpoch = (error as SinkronError).details.storeEpoch;
    if (typeof storeEpoch === "number" && storeEpoch >= epoch) return;
    this.options.log.warn("cache: the store's epoch is behind this node's; raising it again", { epoch, storeEpoch: storeEpoch ?? null });
    directory.allowWritesFrom(Infinity);
    // No epoch at all: the store lost its state (a Redis restarted empty). Lines granted from
    // the old state live out their leases elsewhere; reads here wait as long, so no node sees a
    // key gone and then another node sees it back.
    const lostState = typeof storeEpoch !== "number";
    if (lostState) directory.holdReadsUntil(Infinity);
    this.raiseStoreEpoch(epoch, directory, lostState);
  }

  /**
   * Makes the store refuse older epochs, then lets this directory write one lease later: by
   * then every lease a home of an older ring granted has ended (README.md, "Membership changes").
   */
  private raiseStoreEpoch(epoch: number, directory: HomeDirectory, holdReads = false): void {
    this.raising = directory;
    this.options.store.advanceEpoch(epoch).then(
      () => {
        if (this.raising === directory) this.raising = null;
        if (directory !== this.directory) return;
        const { leaseMs } = this.options.settings;
        const writableAtMs = performance.now() + leaseMs * (1 + LEASE_DRIFT_FRACTION) + LEASE_MARGIN_MS;
        directory.allowWritesFrom(writableAtMs);
        if (holdReads) directory.holdReadsUntil(writableAtMs);
        this.wakeAt(directory, writableAtMs);
      },
      (error: unknown) => {
        if (directory !== this.directory || this.stopped) return;
        this.options.log.warn("cache: cannot raise the store's epoch yet; writes wait", { epoch, error: error as Error });
        setTimeout(() => this.raiseStoreEpoch(epoch, directory, holdReads), ADVANCE_RETRY_MS);
      },
    );
  }
}

function notFound(key: string): SinkronError {
  return new SinkronError("NOT_FOUND", `no key '${key}'`, { key });
}

function asSinkronError(error: unknown): SinkronError {
  return error instanceof SinkronError ? error : new SinkronError("INTERNAL", `backing store failed: ${(error as Error)?.message ?? String(error)}`);
}

/** A line's value size, as the LRU's byte bound counts it. */
function valueBytes(value: unknown): number {
  if (typeof value === "string") return keyBytes(value);
  if (value instanceof Uint8Array) return value.byteLength;
  if (value === null || typeof value === "number" || typeof value === "boolean") return 9;
  return encodeValue(value).byteLength;
}
