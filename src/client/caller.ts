// The one thing the per-service facades need from the client: a generic call and the
// default deadline. Keeping it an interface lets the facades stay thin and testable alone.
import type { Args } from "../protocol/envelope.ts";

export interface CallOptions {
  /** Deadline for this call, queueing included; default: the client's requestTimeoutMs. */
  timeoutMs?: number;
}

export interface Caller {
  call(command: string, args?: Args, options?: CallOptions): Promise<unknown>;
  readonly requestTimeoutMs: number;
}

/** Extra time past a server-side wait for the answer to travel back before we give up. */
export const WAIT_MARGIN_MS = 1_000;

/**
 * A command that waits on the server (`waitMs`) must not be timed out by the client first:
 * unless the caller chose a deadline, it gets max(requestTimeoutMs, waitMs + margin).
 */
export function optionsForWait(caller: Caller, waitMs: number | undefined, options: CallOptions | undefined): CallOptions | undefined {
  if (options?.timeoutMs !== undefined || waitMs === undefined) return options;
  return { ...options, timeoutMs: Math.max(caller.requestTimeoutMs, waitMs + WAIT_MARGIN_MS) };
}
