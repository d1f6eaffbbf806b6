// The seam between a Raft group and the services it orders (hashicorp/raft's FSM): commands
// reach a state machine only through committed log entries, in log order, on every replica,
// so replicas that applied the same prefix hold the same state. A state machine must be
// deterministic: no clocks, no randomness, no I/O — time arrives inside commands.

/** A command as it travels in a log entry: the operation, its arguments, a dedup id. */
export interface LogCommand {
  op: string;
  args: Record<string, unknown>;
  /**
   * A request id unique per logical client operation (`client:seq`); a command carrying an id
   * already applied returns the first result instead of applying twice (thesis §6.3).
   */
  rid: string | null;
  /**
   * The proposing leader's wall clock (ms), stamped by RaftGroup.propose. Replicas never read a
   * clock; they age their dedup table by this one (absent in entries from before it existed).
   */
  atMs?: number;
}

export interface ApplyContext {
  index: number;
  term: number;
  /** The entry's bytes as they are in the log (the encoded command), when applied from the log. */
  data?: Uint8Array;
}

export interface StateMachine {
  /** Applies one committed command and returns its result (a plain, msgpack-able value). */
  apply(command: LogCommand, ctx: ApplyContext): unknown;
  /** The whole state as a plain value, for a snapshot. */
  snapshot(): unknown;
  /** Replaces the whole state with a snapshot's. */
  restore(state: unknown): void;
}

/** A result that is an error value: applying refused the command (e.g. NOT_FOUND). */
export interface AppliedError {
  $error: string;
  message: string;
  [detail: string]: unknown;
}

export function appliedError(code: string, message: string, details: Record<string, unknown> = {}): AppliedError {
  return { ...details, $error: code, message };
}

export function isAppliedError(value: unknown): value is AppliedError {
  return value !== null && typeof value === "object" && typeof (value as { $error?: unknown }).$error === "string";
}
