// One call's bookkeeping, from the moment it is made until it is settled exactly once.
import type { Args } from "../protocol/envelope.ts";
import type { SinkronError } from "../protocol/errors.ts";

export interface Call {
  readonly command: string;
  readonly args: Args;
  /** Absolute deadline on the `performance.now()` clock. */
  readonly deadlineMs: number;
  readonly timeoutMs: number;
  /** 0 until the call is written to a connection. */
  id: number;
  resolve(value: unknown): void;
  reject(error: SinkronError): void;
}
