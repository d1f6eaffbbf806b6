// The lock ops as they arrive in log entries, parsed into typed arguments. The service has
// already validated types and sizes, but a log entry is input all the same: anything malformed
// becomes a BAD_REQUEST value (identical on every replica), never an exception.
import type { LockMode } from "./types.ts";

export interface AcquireArgs {
  name: string;
  mode: LockMode;
  owner: string;
  requestId: string;
  /** null: wait until granted or cancelled; 0: try-lock. */
  waitMs: number | null;
  /** null: no lease. */
  ttlMs: number | null;
  nowMs: number;
}

export interface ReleaseArgs {
  name: string;
  owner: string;
  nowMs: number;
}

export interface RenewArgs {
  name: string;
  owner: string;
  ttlMs: number;
  nowMs: number;
}

export interface CancelArgs {
  requestId: string;
  nowMs: number;
}

export interface TickArgs {
  nowMs: number;
}

/** A parse failure: what was wrong, in words a client can act on. */
export class ArgsError {
  constructor(readonly message: string) {}
}

type Args = Record<string, unknown>;

export function parseAcquire(args: Args): AcquireArgs | ArgsError {
  const mode = args.mode;
  if (mode !== "shared" && mode !== "exclusive") return new ArgsError(`mode must be "shared" or "exclusive"`);
  const fields = {
    name: text(args, "name"),
    owner: text(args, "owner"),
    requestId: text(args, "requestId"),
    waitMs: duration(args, "waitMs", 0, true),
    ttlMs: duration(args, "ttlMs", 1, true),
    nowMs: instant(args),
  };
  for (const value of Object.values(fields)) if (value instanceof ArgsError) return value;
  return { mode, ...fields } as AcquireArgs;
}

export function parseRelease(args: Args): ReleaseArgs | ArgsError {
  return collect({ name: text(args, "name"), owner: text(args, "owner"), nowMs: instant(args) }) as ReleaseArgs | ArgsError;
}

export function parseRenew(args: Args): RenewArgs | ArgsError {
  return collect({ name: text(args, "name"), owner: text(args, "owner"), ttlMs: duration(args, "ttlMs", 1, false), nowMs: instant(args) }) as RenewArgs | ArgsError;
}

export function parseCancel(args: Args): CancelArgs | ArgsError {
  return collect({ requestId: text(args, "requestId"), nowMs: instant(args) }) as CancelArgs | ArgsError;
}

export function parseTick(args: Args): TickArgs | ArgsError {
  return collect({ nowMs: instant(args) }) as TickArgs | ArgsError;
}

function collect(fields: Record<string, unknown>): Record<string, unknown> | ArgsError {
  for (const value of Object.values(fields)) if (value instanceof ArgsError) return value;
  return fields;
}

function text(args: Args, key: string): string | ArgsError {
  const value = args[key];
  return typeof value === "string" && value.length > 0 ? value : new ArgsError(`${key} must be a non-empty string`);
}

/** A duration in ms, at least `minMs`; null (or absent) allowed when `isOptional`. */
function duration(args: Args, key: string, minMs: number, isOptional: boolean): number | null | ArgsError {
  const value = args[key];
  if ((value === null || value === undefined) && isOptional) return null;
  return typeof value === "number" && Number.isFinite(value) && value >= minMs ? value : new ArgsError(`${key} must be a finite number >= ${minMs}${isOptional ? " or null" : ""}`);
}

function instant(args: Args): number | ArgsError {
  const value = args.nowMs;
  return typeof value === "number" && Number.isFinite(value) ? value : new ArgsError("nowMs must be a finite number (the proposer's clock)");
}
