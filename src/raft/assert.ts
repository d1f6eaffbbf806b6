// Invariant checks for the Raft core. A broken invariant means a bug (or a host that broke the
// Ready contract); it must crash the process rather than become replicated data (STYLE.md habit 4).

export class RaftInvariantError extends Error {
  override name = "RaftInvariantError";
}

export function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new RaftInvariantError(message);
}
