// The one catalog of protocol error codes (DESIGN.md "Wire protocol"). Server, client and
// REPL all use it, so a code means the same thing everywhere and new codes are added here only.

export const ERROR_CODES = [
  "BAD_REQUEST",
  "UNKNOWN_COMMAND",
  "NOT_FOUND",
  "TIMEOUT",
  "DEADLOCK",
  "NOT_LEADER",
  "UNAVAILABLE",
  "UNAUTHORIZED",
  "TOO_LARGE",
  "CONFLICT",
  "INTERNAL",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** What each code means to a caller; PROTOCOL.md and the REPL's help print these. */
export const ERROR_MEANINGS: Record<ErrorCode, string> = {
  BAD_REQUEST: "the request is malformed or an argument is missing, of the wrong type or out of range; nothing changed",
  UNKNOWN_COMMAND: "the command name is not one this server knows; nothing changed",
  NOT_FOUND: "the named thing (lock holder, message id, key) does not exist",
  TIMEOUT: "the wait the request asked for (or the client's deadline) ran out before it could be satisfied",
  DEADLOCK: "granting this wait would close a cycle in the waits-for graph; this request was refused",
  NOT_LEADER: "no leader is known for the group that must order this request; retry shortly",
  UNAVAILABLE: "the service cannot answer now (no quorum, connection lost, shutting down); the outcome may be unknown",
  UNAUTHORIZED: "HELLO with the right token is required before this command",
  TOO_LARGE: "a frame, argument or collection exceeds a configured limit",
  CONFLICT: "the request conflicts with the current state (e.g. a membership change is already in progress)",
  INTERNAL: "the server failed unexpectedly; the request may or may not have taken effect",
};

const CODE_SET: ReadonlySet<string> = new Set(ERROR_CODES);

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && CODE_SET.has(value);
}

/** The value half of an error response: `{message, ...details}`. */
export interface ErrorValue {
  message: string;
  [detail: string]: unknown;
}

/**
 * An error with a protocol code. Thrown by handlers and by the client library; the server
 * turns it into `[id, code, {message, ...details}]`.
 */
export class SinkronError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = "SinkronError";
    this.code = code;
    this.details = details;
  }

  toValue(): ErrorValue {
    return { ...this.details, message: this.message };
  }

  /** Rebuilds an error from a response's status and value (client side). */
  static fromResponse(code: string, value: unknown): SinkronError {
    const map = value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
    const message = typeof map.message === "string" ? map.message : String(code);
    const { message: _ignored, ...details } = map;
    return new SinkronError(isErrorCode(code) ? code : "INTERNAL", message, isErrorCode(code) ? details : { ...details, code });
  }
}

export const badRequest = (message: string, details?: Record<string, unknown>) =>
  new SinkronError("BAD_REQUEST", message, details);
