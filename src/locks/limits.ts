// The bounds of one lock table (STYLE.md habit 3: a limit on everything, names with units).
// Every bound is checked where a request would cross it and answered TOO_LARGE; the defaults
// below are the single place they are stated.

/** Fencing tokens are `index * TOKEN_GRANTS_PER_ENTRY_MAX + k`; see tokens.ts. */
export const TOKEN_GRANTS_PER_ENTRY_MAX = 1024;

export interface LockLimits {
  /** Locks that exist at once (a lock exists while it has a holder or a waiter). */
  locksMax: number;
  /** Requests waiting in the whole table (bounds a deadlock search: see waits-for.ts). */
  waitersMax: number;
  /** Requests waiting for one lock. Must stay below TOKEN_GRANTS_PER_ENTRY_MAX. */
  lockWaitersMax: number;
  /** Locks one owner holds plus requests it has waiting, together. */
  ownerLocksMax: number;
  /**
   * Cancelled request ids remembered so that an acquire applied after its cancel is refused;
   * the oldest is forgotten first. Bounds memory, not requests: nothing is refused TOO_LARGE.
   */
  tombstonesMax: number;
}

export const LOCK_LIMITS_DEFAULT: Readonly<LockLimits> = Object.freeze({
  locksMax: 100_000,
  waitersMax: 100_000,
  lockWaitersMax: 1_000,
  ownerLocksMax: 1_000,
  tombstonesMax: 100_000,
});

/** Fills in the defaults and refuses limits the table cannot honour (a configuration bug). */
export function resolveLockLimits(overrides: Partial<LockLimits> = {}): LockLimits {
  const limits: LockLimits = { ...LOCK_LIMITS_DEFAULT, ...overrides };
  for (const [key, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`lock limit ${key} must be a positive integer, got ${value}`);
  }
  // A single entry grants one lock at most once per waiter plus the request it carries; the
  // token scheme has room for TOKEN_GRANTS_PER_ENTRY_MAX grants of one lock per entry.
  if (limits.lockWaitersMax >= TOKEN_GRANTS_PER_ENTRY_MAX) {
    throw new RangeError(`lockWaitersMax must be below ${TOKEN_GRANTS_PER_ENTRY_MAX}, got ${limits.lockWaitersMax}`);
  }
  return limits;
}
