// LOCK.* on Raft group 0. The node that serves a client keeps the client's request: it forwards
// only the proposal to the leader (GROUP.PROPOSE, retried safely under the request's id) and
// learns the request's fate — granted now or after a wait, timed out, refused as a deadlock —
// from its OWN replica's apply (LockTable outcomes). So a leader change loses no waiter, and
// every replica decides identically. Time-based effects (lease expiry, wait deadlines) are
// proposed by the leader as `lock.tick` entries, so every replica applies the same thing.
import { randomBytes } from "node:crypto";
import { LOCK_ACQUIRE, LOCK_INFO, LOCK_RELEASE, LOCK_RENEW, LOCK_WAIT_MS_DEFAULT, GROUP_PROPOSE } from "../protocol/commands.ts";
import { SinkronError, isErrorCode } from "../protocol/errors.ts";
import type { LeaderRouter } from "../replication/leader-router.ts";
import { stampLeaderClock } from "../replication/group-propose-command.ts";
import type { RaftGroup } from "../replication/raft-group.ts";
import type { LogCommand } from "../replication/state-machine.ts";
import type { CommandContext, CommandRegistry } from "../server/registry.ts";
import type { Logger } from "../util/log.ts";
import type { LockOutcome, LockTable } from "./lock-table.ts";

export interface LockServiceOptions {
  group: RaftGroup;
  table: LockTable;
  router: LeaderRouter;
  nodeId: string;
  log: Logger;
  /** How often the leader checks for expired leases and wait deadlines. */
  expiryCheckMs: number;
  /** Extra time past `waitMs` before a request whose outcome never arrived is failed locally. */
  outcomeGraceMs?: number;
  /** The wall clock (injectable for tests). */
  nowMs?: () => number;
}

interface PendingAcquire {
  name: string;
  owner: string;
  mode: "shared" | "exclusive";
  resolve(result: { token: number; mode: string }): void;
  reject(error: SinkronError): void;
  timer: ReturnType<typeof setTimeout>;
  detach(): void;
}

const OUTCOME_GRACE_MS_DEFAULT = 10_000;

export class LockService {
  private readonly pending = new Map<string, PendingAcquire>();
  /** Request ids are unique per node incarnation: node id, a boot nonce, a counter. */
  private readonly requestPrefix: string;
  private requestSeq = 0;
  private tickInFlight = false;
  private expiryTimer: ReturnType<typeof setInterval> | null = null;
  private readonly nowMs: () => number;

  constructor(private readonly options: LockServiceOptions) {
    this.requestPrefix = `${options.nodeId}:${randomBytes(4).toString("hex")}`;
    this.nowMs = options.nowMs ?? Date.now;
    options.table.onOutcome((outcome) => this.settle(outcome));
    options.group.onSnapshotInstalled(() => this.reconcileAfterSnapshot());
  }

  register(registry: CommandRegistry): void {
    registry.register(LOCK_ACQUIRE, (args, ctx) => this.acquire(args, ctx));
    registry.register(LOCK_RELEASE, (args, ctx) => this.propose(ctx, "lock.release", { name: args.name, owner: args.owner }));
    registry.register(LOCK_RENEW, (args, ctx) => this.propose(ctx, "lock.renew", { name: args.name, owner: args.owner, ttlMs: args.ttlMs }));
    registry.register(LOCK_INFO, (args, ctx) =>
      this.options.router.run(this.options.group, ctx, LOCK_INFO.name, args, async () => {
        await this.options.group.readBarrier();
        const info = this.options.table.info(args.name);
        return { holders: info.holders, waiters: info.waiters.map(({ owner, mode, deadlineMs }) => ({ owner, mode, deadlineMs })) };
      }, true),
    );
  }

  start(): void {
    this.expiryTimer = setInterval(() => this.proposeExpiryIfDue(), this.options.expiryCheckMs);
  }

  stop(): void {
    if (this.expiryTimer) clearInterval(this.expiryTimer);
    const error = new SinkronError("UNAVAILABLE", "the node is shutting down; the lock request's outcome is unknown");
    for (const [requestId, pending] of [...this.pending]) this.finish(requestId, pending, () => pending.reject(error));
  }

  private acquire(args: { name: string; mode: "shared" | "exclusive"; owner: string; waitMs?: number; ttlMs?: number }, ctx: CommandContext): Promise<unknown> {
    const requestId = `${this.requestPrefix}:${++this.requestSeq}`;
    const waitMs = args.waitMs ?? LOCK_WAIT_MS_DEFAULT;
    return new Promise((resolve, reject) => {
      // A client gone while waiting withdraws its request, so the queue does not wait for it.
      const onClose = () => {
        const pending = this.pending.get(requestId);
        if (pending === undefined) return;
        this.finish(requestId, pending, () => {});
        void this.propose(ctx, "lock.cancel", { requestId }).catch((error: Error) => this.options.log.debug("lock.cancel not applied", { requestId, error }));
      };
      ctx.connection.closeSignal.addEventListener("abort", onClose, { once: true });
      const timer = setTimeout(() => {
        // Normally the outcome arrives through the log; this fires only if it never does (this
        // replica lags far behind). The leader may have granted it meanwhile: say "unknown",
        // never TIMEOUT, and try to withdraw it.
        const pending = this.pending.get(requestId);
        if (pending === undefined) return;
        this.finish(requestId, pending, () => pending.reject(outcomeUnknown(args.name, `no outcome reached this node within ${waitMs} ms`)));
        void this.propose(ctx, "lock.cancel", { requestId }).catch(() => {});
      }, waitMs + (this.options.outcomeGraceMs ?? OUTCOME_GRACE_MS_DEFAULT));
      this.pending.set(requestId, {
        name: args.name,
        owner: args.owner,
        mode: args.mode,
        resolve,
        reject,
        timer,
        detach: () => ctx.connection.closeSignal.removeEventListener("abort", onClose),
      });
      const command = { name: args.name, mode: args.mode, owner: args.owner, requestId, waitMs, ttlMs: args.ttlMs ?? null, nowMs: this.nowMs() };
      this.proposeWithRid(ctx, "lock.acquire", command, requestId).then(
        (result) => {
          const granted = result as { granted?: boolean; token?: number; mode?: "shared" | "exclusive" };
          if (granted.granted === true) this.settle({ requestId, name: args.name, owner: args.owner, result: { token: granted.token!, mode: granted.mode! } });
        },
        (error: unknown) => {
          const pending = this.pending.get(requestId);
          if (pending === undefined) return;
          // A transport failure or deadline (forwarding timed out, connection lost) does not say
          // the entry was dropped: it may still commit. Only refusals the table itself made
          // (marked `decided`; a try-lock's TIMEOUT is one) are definite; for the rest the client
          // hears "outcome unknown", never TIMEOUT.
          const failure = asSinkronError(error);
          const isDefinite = failure.details.decided === true || (failure.code !== "UNAVAILABLE" && failure.code !== "TIMEOUT" && failure.code !== "INTERNAL");
          const { decided: _internal, ...details } = failure.details;
          this.finish(requestId, pending, () => pending.reject(isDefinite ? new SinkronError(failure.code, failure.message, details) : outcomeUnknown(args.name, failure.message)));
          if (!isDefinite) void this.propose(ctx, "lock.cancel", { requestId }).catch(() => {});
        },
      );
    });
  }

  private settle(outcome: LockOutcome): void {
    const pending = this.pending.get(outcome.requestId);
    if (pending === undefined) return; // another node's client, or already answered
    this.finish(outcome.requestId, pending, () => {
      const result = outcome.result;
      if ("token" in result) {
        pending.resolve({ token: result.token, mode: result.mode });
      } else {
        const { error, message, ...details } = result;
        pending.reject(new SinkronError(isErrorCode(error) ? error : "INTERNAL", message, details));
      }
    });
  }

  private finish(requestId: string, pending: PendingAcquire, answer: () => void): void {
    this.pending.delete(requestId);
    clearTimeout(pending.timer);
    pending.detach();
    answer();
  }

  /**
   * A snapshot from the leader skips the entries whose outcomes this replica would have seen:
   * read the fate of each waiting request from the restored table instead.
   */
  private reconcileAfterSnapshot(): void {
    for (const [requestId, pending] of [...this.pending]) {
      const info = this.options.table.info(pending.name);
      if (info.waiters.some((w) => w.requestId === requestId)) continue;
      const held = info.holders.find((h) => h.owner === pending.owner && (h.mode === pending.mode || h.mode === "exclusive"));
      // Not waiting and not holding: either decided inside the snapshot, or not applied yet (its
      // outcome then still arrives). Leave it pending; the safety timer answers "unknown" if needed.
      if (held !== undefined) this.finish(requestId, pending, () => pending.resolve({ token: held.token, mode: held.mode }));
    }
  }

  private propose(ctx: CommandContext, op: string, args: Record<string, unknown>): Promise<unknown> {
    return this.proposeWithRid(ctx, op, { ...args, nowMs: this.nowMs() }, `${this.requestPrefix}:${++this.requestSeq}`);
  }

  /** Proposes on the leader — here, or forwarded; the rid makes a retry after a failover safe. */
  private proposeWithRid(ctx: CommandContext, op: string, args: Record<string, unknown>, rid: string): Promise<unknown> {
    const { group, router } = this.options;
    const local = () => group.propose({ op, args: stampLeaderClock(args, this.nowMs()), rid } satisfies LogCommand);
    return router.run(group, ctx, GROUP_PROPOSE.name, { group: group.id, op, args, rid }, local, true);
  }

  private proposeExpiryIfDue(): void {
    const { group, table } = this.options;
    if (!group.isLeader || this.tickInFlight) return;
    const dueMs = table.nextDeadlineMs();
    const nowMs = this.nowMs();
    if (dueMs === null || dueMs > nowMs) return;
    this.tickInFlight = true;
    group
      .propose({ op: "lock.tick", args: { nowMs }, rid: null })
      .catch((error: Error) => this.options.log.debug("lock.tick not applied", { error }))
      .finally(() => (this.tickInFlight = false));
  }
}

/** UNAVAILABLE in the catalog's sense: the request may or may not take effect. */
function outcomeUnknown(name: string, why: string): SinkronError {
  return new SinkronError("UNAVAILABLE", `the lock request's outcome is unknown (${why}); it may still be granted: check LOCK.INFO, and use ttlMs so a lost grant frees itself`, { name, outcomeUnknown: true });
}

function asSinkronError(error: unknown): SinkronError {
  return error instanceof SinkronError ? error : new SinkronError("INTERNAL", String((error as Error)?.message ?? error));
}
