// Typed LOCK.* calls (DESIGN.md table, PROTOCOL.md §10). Thin on purpose: argument and
// result shapes, plus a deadline that outlasts the server-side wait; behaviour is the node's.
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

/** Holder and waiter entries: their exact shape is the lock service's to fix (PROTOCOL.md). */
export type LockParty = { owner: string; mode: LockMode; [detail: string]: unknown };
export type LockInfo = { holders: LockParty[]; waiters: LockParty[] };

export class LockApi {
  constructor(private readonly caller: Caller) {}

  /** Resolves when granted; rejects TIMEOUT (wait ran out) or DEADLOCK. */
  acquire(args: LockAcquireArgs, options?: CallOptions): Promise<LockGrant> {
    return this.caller.call("LOCK.ACQUIRE", args, optionsForWait(this.caller, args.waitMs, options)) as Promise<LockGrant>;
  }

  /** Rejects NOT_FOUND when `owner` does not hold `name`. */
  release(args: LockReleaseArgs, options?: CallOptions): Promise<{ released: true }> {
    return this.caller.call("LOCK.RELEASE", args, options) as Promise<{ released: true }>;
  }

  /** Extends a lease from now; rejects NOT_FOUND when not held. Result shape: TBD by the service. */
  renew(args: LockRenewArgs, options?: CallOptions): Promise<Record<string, unknown>> {
    return this.caller.call("LOCK.RENEW", args, options) as Promise<Record<string, unknown>>;
  }

  info(args: { name: string }, options?: CallOptions): Promise<LockInfo> {
    return this.caller.call("LOCK.INFO", args, options) as Promise<LockInfo>;
  }
}
