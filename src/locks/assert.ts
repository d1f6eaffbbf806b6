// Invariant checks for the lock table. A broken invariant is a bug that must crash the
// process rather than become replicated state (STYLE.md habit 4); bad input is never asserted.

export class LockInvariantError extends Error {
  override name = "LockInvariantError";
}

export function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new LockInvariantError(message);
}
