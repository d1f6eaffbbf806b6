// One cache node of the model: the real LineTable and HomeDirectory, wired to the simulated
// network, store and clock exactly as src/cache/cache-service.ts wires them to the real ones —
// a writer drops its own line first, the ticket is taken before the request leaves, the lease
// end counted from the send time on the holder's clock and shortened by LEASE_DRIFT_FRACTION,
// the answer installed with the ticket, a local home's answer and a local invalidation's
// confirmation handled in a microtask, a request to the local home timing out like a remote
// one, an answer to an invalidation call (within its leaseMs timeout) handed to the directory
// with that invalidation's round, one wake-up timer plus a sweep every lease, writes held
// until one lease after start. Where this file and the service differ, the model checks the
// wrong thing: keep them in step.
import { HomeDirectory, type Grant, type Reply, type WriteChange } from "../../../src/cache/directory.ts";
import { LEASE_DRIFT_FRACTION, type CacheSettings } from "../../../src/cache/limits.ts";
import { keyBytes, LineTable, type LineGrant, type LineLimits, type RequestTicket } from "../../../src/cache/lines.ts";
import type { NodeProcess, TimerHandle } from "./clock.ts";
import type { SimNetwork, Trace } from "./network.ts";
import type { SimStore } from "./store.ts";

/** The service's margin past a lease before a new home writes (cache-service.ts). */
const LEASE_MARGIN_MS = 5;

/**
 * Holders broken on purpose, for the negative controls: the checkers must catch each.
 * - "ignores-lease": serves a line however old it is (README holder rule 1 dropped);
 * - "lease-from-arrival": counts the lease from when the answer arrived, not from when the
 *   request left (holder rule 1's sentAt), so a slow answer outlives the home's view of it;
 * - "ticket-at-answer": takes the ticket when the answer arrives, so an invalidation that
 *   crossed the answer goes unnoticed (holder rule 2 dropped);
 * - "keeps-own-line": a writer keeps its line while its write is on its way (holder rule 4
 *   dropped — the service before commit 4844506).
 */
export type HolderBug = "ignores-lease" | "lease-from-arrival" | "ticket-at-answer" | "keeps-own-line";

/**
 * A home broken on purpose, for the negative controls:
 * - "forgets-unknown-outcomes": tells its directory that a store write which timed out failed
 *   definitely, so nothing is repaired (home rule 4 dropped): a late write may then land after
 *   a read was leased, and the lines of that read outlive it.
 */
export type HomeBug = "forgets-unknown-outcomes";

/** A LineTable with one of the line-level bugs (the others are in CacheNode.askHome). */
class BrokenLineTable extends LineTable {
  constructor(
    limits: LineLimits,
    private readonly bug: HolderBug,
  ) {
    super(limits);
  }

  override lookup(key: string, nowMs: number) {
    return super.lookup(key, this.bug === "ignores-lease" ? -Infinity : nowMs);
  }

  override install(ticket: RequestTicket, grant: LineGrant, nowMs: number): boolean {
    if (this.bug !== "ticket-at-answer") return super.install(ticket, grant, nowMs);
    const late = super.start(ticket.key);
    const installed = super.install(late, grant, nowMs);
    super.finish(late);
    return installed;
  }
}

export type GetOutcome = { ok: true; value: string | null; source: "cache" | "store" } | { ok: false; error: string };
export type WriteOutcome = { ok: true; existed?: boolean } | { ok: false; error: string };

export interface NodeWorld {
  network: SimNetwork;
  store: SimStore;
  /** The key's home (the ring). */
  homeOf(key: string): string;
  node(id: string): CacheNode;
  trace: Trace | null;
}

export class CacheNode {
  readonly lines: LineTable;
  readonly directory: HomeDirectory;
  private wakeTimer: TimerHandle | null = null;
  private wakeAtMs = Infinity;
  /** The store write whose answer the directory is handling right now (see noteCarrier). */
  private completing: { key: string; change: WriteChange } | null = null;

  constructor(
    readonly id: string,
    readonly process: NodeProcess,
    private readonly settings: CacheSettings,
    private readonly world: NodeWorld,
    private readonly holderBug: HolderBug | null,
    private readonly homeBug: HomeBug | null = null,
  ) {
    const limits = { entriesMax: settings.entriesMax, bytesMax: settings.bytesMax };
    this.lines = holderBug === "ignores-lease" || holderBug === "ticket-at-answer" ? new BrokenLineTable(limits, holderBug) : new LineTable(limits);
    this.directory = this.newDirectory();
  }

  /** Like CacheService.start() at a fresh cluster: the store's epoch is already ours. */
  start(): void {
    this.process.deliver(() => {
      this.sweep();
      const writableAtMs = this.now() + this.settings.leaseMs * (1 + LEASE_DRIFT_FRACTION) + LEASE_MARGIN_MS;
      this.directory.allowWritesFrom(writableAtMs);
      this.wakeAt(writableAtMs);
    });
  }

  /** CACHE.GET: a hit answers at once from the line; a miss asks the key's home. */
  get(key: string, label: string, done: (outcome: GetOutcome) => void): void {
    const line = this.lines.lookup(key, this.now());
    if (line !== undefined) {
      this.trace(`${label} hit ${line.found ? String(line.value) : "absent"} (${line.state}, seq ${line.seq}, lease end ${line.leaseEndMs.toFixed(2)} local)`);
      done({ ok: true, value: line.found ? (line.value as string) : null, source: "cache" });
      return;
    }
    this.askHome(key, null, label, (outcome) => done(outcome.ok ? { ok: true, value: outcome.grant.found ? (outcome.grant.value as string) : null, source: "store" } : outcome));
  }

  /** CACHE.SET / CACHE.DEL. */
  write(key: string, change: WriteChange, label: string, done: (outcome: WriteOutcome) => void): void {
    this.askHome(key, change, label, (outcome) => done(outcome.ok ? { ok: true, ...(outcome.grant.existed === undefined ? {} : { existed: outcome.grant.existed }) } : outcome));
  }

  /** CACHE.INVALIDATE with a key, or without one (every line). */
  dropLocally(key: string | null): void {
    if (key === null) this.trace(`${this.id}: CACHE.INVALIDATE (all): ${this.lines.clear()} lines`);
    else this.trace(`${this.id}: CACHE.INVALIDATE ${key}: ${this.lines.drop(key) ? "dropped" : "no line"}`);
  }

  /**
   * CacheService.askHome: the ticket is taken before the request leaves, the lease counted from
   * that moment on this node's clock, and the answer installed only through the ticket.
   */
  private askHome(key: string, change: WriteChange | null, label: string, done: (outcome: { ok: true; grant: Grant } | { ok: false; error: string }) => void): void {
    const deadlineMs = this.now() + this.settings.requestTimeoutMs;
    // Holder rule 4: a writer drops its own line, and refuses answers on their way, first.
    if (change !== null && this.holderBug !== "keeps-own-line") this.lines.invalidate(key);
    const ticket = this.lines.start(key);
    const sentAtMs = this.now();
    this.callHome(key, change, label, deadlineMs - sentAtMs, (outcome) => {
      try {
        if (!outcome.ok) {
          this.trace(`${label} failed: ${outcome.error}`);
          done(outcome);
          return;
        }
        let grant = outcome.grant;
        if (change !== null) grant = { ...grant, value: change.kind === "set" ? change.value : null };
        let installed = false;
        if (grant.leaseMs > 0) {
          const leaseStartMs = this.holderBug === "lease-from-arrival" ? this.now() : sentAtMs;
          const leaseEndMs = leaseStartMs + grant.leaseMs * (1 - LEASE_DRIFT_FRACTION);
          installed = this.lines.install(ticket, { found: grant.found, value: grant.value, state: grant.state, leaseEndMs, seq: grant.seq, valueBytes: valueBytes(grant.value) }, this.now());
        }
        this.trace(`${label} answered ${grant.found ? String(grant.value) : "absent"} (${grant.state}, seq ${grant.seq}, leaseMs ${grant.leaseMs}, ${installed ? "installed" : "not installed"})`);
        done({ ok: true, grant });
      } finally {
        this.lines.finish(ticket);
      }
    });
  }

  private callHome(key: string, change: WriteChange | null, label: string, timeoutMs: number, onOutcome: (outcome: { ok: true; grant: Grant } | { ok: false; error: string }) => void): void {
    const home = this.world.homeOf(key);
    if (home === this.id) {
      // The service resolves a promise here: the continuation runs as a microtask. It is bounded
      // like a call to another home; whichever of the answer and the timeout comes first counts.
      let isSettled = false;
      const timer = this.process.setTimer(Math.max(1, timeoutMs), () => {
        if (isSettled) return;
        isSettled = true;
        this.trace(`${label} local home timed out`);
        onOutcome({ ok: false, error: "UNAVAILABLE" });
      });
      const reply: Reply = (outcome) => {
        if (isSettled) return;
        isSettled = true;
        timer.isCancelled = true;
        this.process.queueMicrotask(() => onOutcome(outcome.ok ? outcome : { ok: false, error: outcome.error.message }));
      };
      if (change === null) this.directory.read(key, this.id, reply, this.now());
      else this.directory.write(key, this.id, change, this.noteCarrier(key, change, reply), this.now());
      return;
    }
    const target = this.world.node(home);
    this.world.network.call<{ ok: true; grant: Grant } | { ok: false; error: string }>(
      this.id,
      home,
      `${label} ${change === null ? "fetch" : "write"} ${this.id}>${home}`,
      (answer) => target.serveAtHome(key, this.id, change, answer),
      (outcome) => onOutcome(outcome.ok ? outcome.value : { ok: false, error: "TIMEOUT" }),
      { timeoutLocalMs: Math.max(1, Math.ceil(timeoutMs)), isDuplicable: false },
    );
  }

  /** CACHE.FETCH / CACHE.WRITE arriving at this home from `from`. */
  serveAtHome(key: string, from: string, change: WriteChange | null, answer: (outcome: { ok: true; grant: Grant } | { ok: false; error: string }) => void): void {
    const reply: Reply = (outcome) => answer(outcome.ok ? outcome : { ok: false, error: outcome.error.message });
    if (change === null) this.directory.read(key, from, reply, this.now());
    else this.directory.write(key, from, change, this.noteCarrier(key, change, reply), this.now());
  }

  /**
   * Bookkeeping for the checkers, not the protocol: sets merged into one store write are
   * answered inside storeWriteDone of the write that carried them; remember which one it was.
   */
  private noteCarrier(key: string, change: WriteChange, reply: Reply): Reply {
    return (outcome) => {
      const carrier = this.completing;
      if (outcome.ok && carrier !== null && carrier.key === key) this.world.store.noteCarriedBy(change, carrier.change);
      reply(outcome);
    };
  }

  /** CACHE.INV arriving from a home. */
  serveInvalidate(key: string, isDowngrade: boolean): { dropped: boolean } {
    if (isDowngrade) {
      this.lines.downgrade(key);
      return { dropped: false };
    }
    const dropped = this.lines.invalidate(key);
    this.trace(`${this.id}: invalidation of ${key} (${dropped ? "dropped the line" : "no line"})`);
    return { dropped };
  }

  private newDirectory(): HomeDirectory {
    const { settings, world } = this;
    const directory: HomeDirectory = new HomeDirectory(
      {
        storeRead: (key) => world.store.read(this.process, key, (result) => directory.storeReadDone(key, result, this.now())),
        storeWrite: (key, change) =>
          world.store.write(this.process, key, change, (result) => {
            this.completing = { key, change };
            try {
              const told = this.homeBug === "forgets-unknown-outcomes" && !result.ok ? { ...result, ambiguous: false } : result;
              directory.storeWriteDone(key, told, this.now());
            } finally {
              this.completing = null;
            }
          }),
        invalidate: (key, holder, round) => this.sendInvalidate(directory, key, holder, round),
        downgrade: (key, holder) => {
          if (holder === this.id) this.lines.downgrade(key);
          else world.network.tell(this.id, holder, `downgrade ${key} ${this.id}>${holder}`, () => world.node(holder).serveInvalidate(key, true), true);
        },
        wakeAt: (atMs) => this.wakeAt(atMs),
      },
      {
        leaseMs: settings.leaseMs,
        entriesMax: settings.directoryEntriesMax,
        writableAtMs: Infinity,
        seqStart: Math.floor(this.now() * 1000),
      },
    );
    return directory;
  }

  /** CacheService.sendInvalidate: a confirmation lets the write go on early; silence is waited out. */
  private sendInvalidate(directory: HomeDirectory, key: string, holder: string, round: number): void {
    if (holder === this.id) {
      this.lines.invalidate(key);
      // Not from inside the directory's own call: it is iterating its holders.
      this.process.queueMicrotask(() => directory.invalidated(key, holder, round, this.now()));
      return;
    }
    const { network } = this.world;
    const target = this.world.node(holder);
    const callId = network.call<{ dropped: boolean }>(
      this.id,
      holder,
      `invalidate ${key} ${this.id}>${holder}`,
      (answer) => answer(target.serveInvalidate(key, false)),
      (outcome) => {
        if (!outcome.ok) return;
        this.trace(`${this.id}: ${holder} confirmed the invalidation of ${key} (call ${callId}, round ${round})`);
        directory.invalidated(key, holder, round, this.now());
      },
      { timeoutLocalMs: this.settings.leaseMs, isDuplicable: true },
    );
    this.trace(`${this.id}: asks ${holder} to invalidate ${key} (call ${callId}, round ${round})`);
  }

  private wakeAt(atMs: number): void {
    if (atMs >= this.wakeAtMs) return;
    if (this.wakeTimer !== null) this.wakeTimer.isCancelled = true;
    this.wakeAtMs = atMs;
    this.wakeTimer = this.process.setTimer(Math.max(0, Math.ceil(atMs - this.now())), () => {
      this.wakeTimer = null;
      this.wakeAtMs = Infinity;
      this.directory.wake(this.now());
    });
  }

  /** The service's setInterval(tick, leaseMs). */
  private sweep(): void {
    this.process.setTimer(this.settings.leaseMs, () => {
      this.directory.tick(this.now());
      this.sweep();
    });
  }

  private now(): number {
    return this.process.localNow();
  }

  private trace(line: string): void {
    this.world.trace?.(line);
  }
}

/** The service's valueBytes for the values the model uses (strings). */
function valueBytes(value: unknown): number {
  return typeof value === "string" ? keyBytes(value) : 9;
}
