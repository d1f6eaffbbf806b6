// Typed LOCK.* calls (DESIGN.md table, PROTOCOL.md §10). Thin on purpose: argument and
// result shapes, plus a deadline that outlasts the server-side wait; behaviour is the node's.
import { LOCK_WAIT_MS_DEFAULT } from "../protocol/commands.ts";
import { SinkronError } from "../protocol/errors.ts";
import { optionsForWait, type CallOptions, type Caller } from "./caller.ts";

export type LockMode = "shared" | "exclusive";

export type LockAcquireArgs = {
  name: string;
  mode: LockMode;
  owner: string;
  /** How long to wait in line; absent: the node's default. */
  waitMs?: number;
  /** Lease: the lock is released if not released (or renewed) before then. */
  ttlMs?: number;
};

/** `token` is a fencing token that grows with every grant of that lock. */
export type LockGrant = { token: number; mode: LockMode };

export type LockReleaseArgs = { name: string; owner: string };
export type LockRenewArgs = { name: string; owner: string; ttlMs: number };

export type LockHolder = { owner: string; mode: LockMode; token: number; expiresAtMs: number | null };
export type LockWaiter = { owner: string; mode: LockMode; deadlineMs: number | null };
export type LockInfo = { holders: LockHolder[]; waiters: LockWaiter[] };

export type WithLockOptions = {
  mode?: LockMode;
  /** Defaults to a random id for this call: the lock is this call's alone. */
  owner?: string;
  waitMs?: number;
  /** Lease, renewed every third of it while `fn` runs (default 10 s), so a crash frees the lock. */
  ttlMs?: number;
};

const WITH_LOCK_TTL_MS_DEFAULT = 10_000;

export class LockApi {
  constructor(private readonly caller: Caller) {}

  /** Resolves when granted; rejects TIMEOUT (wait ran out) or DEADLOCK. */
  acquire(args: LockAcquireArgs, options?: CallOptions): Promise<LockGrant> {
    return this.caller.call("LOCK.ACQUIRE", args, optionsForWait(this.caller, args.waitMs ?? LOCK_WAIT_MS_DEFAULT, options)) as Promise<LockGrant>;
  }

  /**
   * Runs `fn` holding the lock: acquires (waiting up to `waitMs`), renews the lease while `fn`
   * runs, and releases on every exit path. `fn` gets the fencing token to hand to the resource
   * it protects, which should refuse tokens older than the newest it has seen (Kleppmann 2016).
   * If a renewal fails (the lease was lost), `fn`'s result still returns, but the error is
   * thrown after it: the caller must not assume its writes were exclusive.
   */
  async withLock<T>(name: string, fn: (grant: LockGrant) => Promise<T> | T, options: WithLockOptions = {}): Promise<T> {
    const owner = options.owner ?? `with-lock:${crypto.randomUUID()}`;
    const ttlMs = options.ttlMs ?? WITH_LOCK_TTL_MS_DEFAULT;
    const grant = await this.acquire({ name, mode: options.mode ?? "exclusive", owner, waitMs: options.waitMs, ttlMs });
    let renewFailure: unknown = null;
    const renewer = setInterval(() => {
      this.renew({ name, owner, ttlMs }).catch((error: unknown) => (renewFailure ??= error));
    }, Math.max(1, Math.floor(ttlMs / 3)));
    try {
      const result = await fn(grant);
      if (renewFailure !== null) throw new SinkronError("CONFLICT", `the lease on '${name}' could not be renewed while the function ran; it may have expired`, { name, cause: String(renewFailure) });
      return result;
    } finally {
      clearInterval(renewer);
      await this.release({ name, owner }).catch(() => {
        // Already gone (lease ran out) or unreachable: the lease frees it either way.
      });
    }
  }

  /** Rejects NOT_FOUND when `owner` does not hold `name`. */
  release(args: LockReleaseArgs, options?: CallOptions): Promise<{ released: true }> {
    return this.caller.call("LOCK.RELEASE", args, options) as Promise<{ released: true }>;
  }

  /** Extends a lease from now; rejects NOT_FOUND when not held. */
  renew(args: LockRenewArgs, options?: CallOptions): Promise<{ expiresAtMs: number }> {
    return this.caller.call("LOCK.RENEW", args, options) as Promise<{ expiresAtMs: number }>;
  }

  info(args: { name: string }, options?: CallOptions): Promise<LockInfo> {
    return this.caller.call("LOCK.INFO", args, options) as Promise<LockInfo>;
  }
}
