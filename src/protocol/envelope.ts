// The request/response envelope (DESIGN.md): request `[id, command, args]`, response
// `[id, status, value]`, push `[0, kind, value]`. Parsing never throws: a malformed request
// becomes a value the server answers with BAD_REQUEST, so bad input cannot hurt a node.
import { SinkronError, type ErrorCode } from "./errors.ts";

export type RequestId = number;
export const REQUEST_ID_MIN = 1;
export const REQUEST_ID_MAX = 0xffff_ffff;
/** Responses that cannot be tied to a request (the id was unreadable) and pushes use id 0. */
export const PUSH_ID = 0;

export type Args = Record<string, unknown>;
export interface Request {
  id: RequestId;
  command: string;
  args: Args;
}

export type ParsedRequest =
  | { ok: true; request: Request }
  | { ok: false; id: RequestId; error: SinkronError };

export type Status = "OK" | ErrorCode;
export type Response = [id: RequestId, status: Status, value: unknown];

const COMMAND_BYTES_MAX = 64;
const COMMAND_PATTERN = /^[A-Z][A-Z0-9_]*(\.[A-Z][A-Z0-9_]*)*$/;

export function isRequestId(value: unknown): value is RequestId {
  return typeof value === "number" && Number.isInteger(value) && value >= REQUEST_ID_MIN && value <= REQUEST_ID_MAX;
}

export function isPlainMap(value: unknown): value is Args {
  if (value === null || typeof value !== "object" || Array.isArray(value) || ArrayBuffer.isView(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

export function parseRequest(value: unknown): ParsedRequest {
  if (!Array.isArray(value)) return fail(PUSH_ID, "a request must be an array [id, command, args]");
  const id = isRequestId(value[0]) ? value[0] : PUSH_ID;
  if (value.length !== 3) return fail(id, `a request must have exactly 3 elements [id, command, args], got ${value.length}`);
  if (id === PUSH_ID) return fail(id, `the request id must be an integer in ${REQUEST_ID_MIN}..${REQUEST_ID_MAX}`);
  const command = value[1];
  if (typeof command !== "string" || command.length > COMMAND_BYTES_MAX || !COMMAND_PATTERN.test(command)) {
    return fail(id, "the command must be an upper-case name such as \"PING\" or \"LOCK.ACQUIRE\"");
  }
  const args = value[2];
  if (!isPlainMap(args)) return fail(id, "args must be a map (it may be empty)");
  return { ok: true, request: { id, command, args } };
}

function fail(id: RequestId, message: string): ParsedRequest {
  return { ok: false, id, error: new SinkronError("BAD_REQUEST", message) };
}

export type ParsedResponse =
  | { ok: true; id: RequestId; status: Status; value: unknown }
  | { ok: false; message: string };

/** Client side: checks the shape of `[id, status, value]`; a push has id 0. */
export function parseResponse(value: unknown): ParsedResponse {
  if (!Array.isArray(value) || value.length !== 3) return { ok: false, message: "a response must be an array [id, status, value]" };
  const [id, status, payload] = value;
  if (!(id === PUSH_ID || isRequestId(id))) return { ok: false, message: "a response id must be 0 or a request id" };
  if (typeof status !== "string") return { ok: false, message: "a response status must be a string" };
  return { ok: true, id, status: status as Status, value: payload };
}
