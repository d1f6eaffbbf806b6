// The envelope rules of PROTOCOL.md §4 at the parser level: which requests are refused, on
// which id, with which message; what a client accepts as a response; and the error catalog the
// design fixes. The same cases over a live socket are in bad-input.test.ts.
import { describe, expect, test } from "bun:test";
import { PUSH_ID, REQUEST_ID_MAX, parseRequest, parseResponse, type ParsedRequest } from "../../src/protocol/envelope.ts";
import { ERROR_CODES, ERROR_MEANINGS, SinkronError, isErrorCode } from "../../src/protocol/errors.ts";

const refused = (parsed: ParsedRequest): { id: number; code: string; message: string } => {
  if (parsed.ok) throw new Error("expected the request to be refused");
  return { id: parsed.id, code: parsed.error.code, message: parsed.error.message };
};

const NOT_ARRAY = "a request must be an array [id, command, args]";
const BAD_ID = "the request id must be an integer in 1..4294967295";
const BAD_COMMAND = 'the command must be an upper-case name such as "PING" or "LOCK.ACQUIRE"';
const BAD_ARGS = "args must be a map (it may be empty)";

describe("parseRequest", () => {
  test("accepts [id, command, args] at both ends of the id range", () => {
    expect(parseRequest([1, "PING", {}])).toEqual({ ok: true, request: { id: 1, command: "PING", args: {} } });
    expect(parseRequest([REQUEST_ID_MAX, "LOCK.ACQUIRE", { name: "a" }])).toEqual({
      ok: true,
      request: { id: 4294967295, command: "LOCK.ACQUIRE", args: { name: "a" } },
    });
  });

  test("a value that is not an array is refused on id 0", () => {
    for (const value of [null, {}, "PING", 7, new Uint8Array(3)]) {
      expect(refused(parseRequest(value))).toEqual({ id: PUSH_ID, code: "BAD_REQUEST", message: NOT_ARRAY });
    }
  });

  test("a wrong arity is refused on the id when it can be read, else on 0", () => {
    expect(refused(parseRequest([4, "PING"]))).toEqual({ id: 4, code: "BAD_REQUEST", message: "a request must have exactly 3 elements [id, command, args], got 2" });
    expect(refused(parseRequest([4, "PING", {}, 1]))).toEqual({ id: 4, code: "BAD_REQUEST", message: "a request must have exactly 3 elements [id, command, args], got 4" });
    expect(refused(parseRequest([])).id).toBe(0);
    expect(refused(parseRequest(["x"])).id).toBe(0);
  });

  test("an id outside 1..2^32-1 or not an integer is refused on id 0", () => {
    for (const id of [0, -1, 1.5, 2 ** 32, "1", null, true, 1n, Number.NaN]) {
      expect(refused(parseRequest([id, "PING", {}]))).toEqual({ id: 0, code: "BAD_REQUEST", message: BAD_ID });
    }
  });

  test("command names: upper-case dotted words of at most 64 bytes", () => {
    for (const command of ["PING", "LOCK.ACQUIRE", "Q.PRODUCE", "A_B.C1", "A".repeat(64)]) expect(parseRequest([1, command, {}]).ok).toBe(true);
    for (const command of ["ping", "Ping", "PING ", "1PING", "LOCK.", ".LOCK", "LOCK..ACQUIRE", "LOCK-ACQUIRE", "", "A".repeat(65), 7, null]) {
      expect(refused(parseRequest([2, command, {}]))).toEqual({ id: 2, code: "BAD_REQUEST", message: BAD_COMMAND });
    }
  });

  test("args must be a plain map", () => {
    expect(parseRequest([1, "PING", Object.create(null)]).ok).toBe(true);
    for (const args of [null, [], "x", 1, new Uint8Array(1), new Map(), new Date(0)]) {
      expect(refused(parseRequest([3, "PING", args]))).toEqual({ id: 3, code: "BAD_REQUEST", message: BAD_ARGS });
    }
  });
});

describe("parseResponse", () => {
  test("accepts responses and pushes, passing unknown statuses through for the client to treat as errors", () => {
    expect(parseResponse([1, "OK", "PONG"])).toEqual({ ok: true, id: 1, status: "OK", value: "PONG" });
    expect(parseResponse([0, "TOO_LARGE", { message: "m" }])).toEqual({ ok: true, id: 0, status: "TOO_LARGE", value: { message: "m" } });
    expect(parseResponse([5, "NEW_CODE", {}])).toMatchObject({ ok: true, status: "NEW_CODE" });
  });

  test("refuses anything that is not [id, status, value]", () => {
    expect(parseResponse({})).toEqual({ ok: false, message: "a response must be an array [id, status, value]" });
    expect(parseResponse([1, "OK"])).toEqual({ ok: false, message: "a response must be an array [id, status, value]" });
    for (const id of [-1, 1.5, 2 ** 32, "1"]) expect(parseResponse([id, "OK", null])).toEqual({ ok: false, message: "a response id must be 0 or a request id" });
    expect(parseResponse([1, 200, null])).toEqual({ ok: false, message: "a response status must be a string" });
  });
});

describe("error catalog", () => {
  test("holds exactly the codes DESIGN.md fixes, each with a meaning", () => {
    expect([...ERROR_CODES]).toEqual([
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
    ]);
    for (const code of ERROR_CODES) expect(ERROR_MEANINGS[code].length).toBeGreaterThan(20);
    expect(isErrorCode("OK")).toBe(false);
  });

  test("the error value is {...details, message}; message wins over a detail of that name", () => {
    const error = new SinkronError("BAD_REQUEST", "real", { argument: "x", message: "shadowed" });
    expect(error.toValue()).toEqual({ argument: "x", message: "real" });
  });

  test("fromResponse rebuilds known codes and maps unknown ones to INTERNAL, keeping the code", () => {
    const known = SinkronError.fromResponse("NOT_FOUND", { message: "gone", key: "k" });
    expect([known.code, known.message, known.details]).toEqual(["NOT_FOUND", "gone", { key: "k" }]);
    const unknown = SinkronError.fromResponse("NEW_CODE", { message: "later" });
    expect([unknown.code, unknown.message, unknown.details]).toEqual(["INTERNAL", "later", { code: "NEW_CODE" }]);
    const bare = SinkronError.fromResponse("TIMEOUT", "not a map");
    expect([bare.code, bare.message]).toEqual(["TIMEOUT", "TIMEOUT"]);
  });
});
