// JSON responses and the one mapping from protocol error codes to HTTP statuses, so every
// endpoint refuses the same way: `{error: CODE, message, ...details}` with the status below.
import { SinkronError, type ErrorCode } from "../protocol/errors.ts";

/** The HTTP status each protocol error code is answered with (issue 8's table). */
export const HTTP_STATUS_BY_CODE: Record<ErrorCode, number> = {
  BAD_REQUEST: 400,
  UNKNOWN_COMMAND: 400,
  UNAUTHORIZED: 401,
  NOT_FOUND: 404,
  TIMEOUT: 408,
  CONFLICT: 409,
  TOO_LARGE: 413,
  DEADLOCK: 423,
  INTERNAL: 500,
  NOT_LEADER: 503,
  UNAVAILABLE: 503,
};

const JSON_HEADERS = { "content-type": "application/json" } as const;

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { ...JSON_HEADERS, ...headers } });
}

export function errorResponse(error: SinkronError, headers: Record<string, string> = {}): Response {
  return json(HTTP_STATUS_BY_CODE[error.code], { ...error.details, error: error.code, message: error.message }, headers);
}

/** Anything thrown that is not a SinkronError is a bug of ours: INTERNAL, with no detail leaked. */
export function asSinkronError(error: unknown, what: string): SinkronError {
  if (error instanceof SinkronError) return error;
  return new SinkronError("INTERNAL", `internal error in ${what}`);
}
