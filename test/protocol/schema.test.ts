// Argument schemas decide what a client sees when an argument is wrong: the error code, the
// `argument` detail and the message. Clients must not parse messages, but people read them,
// so they are pinned here exactly, field kind by field kind.
import { describe, expect, test } from "bun:test";
import { SinkronError } from "../../src/protocol/errors.ts";
import { blob, bool, int, oneOf, optional, schema, str } from "../../src/protocol/schema.ts";

/** The SinkronError a refused value throws. */
function caught(run: () => unknown): SinkronError {
  try {
    run();
  } catch (error) {
    if (error instanceof SinkronError) return error;
    throw error;
  }
  throw new Error("expected the value to be refused");
}

/** What the server would answer for a refused value: code, message and details. */
function refusal(run: () => unknown): { code: string; message: string; details: Record<string, unknown> } {
  const error = caught(run);
  return { code: error.code, message: error.message, details: error.details };
}

const badArg = (key: string, message: string) => ({ code: "BAD_REQUEST", message: `argument '${key}' ${message}`, details: { argument: key } });

describe("str", () => {
  const name = str("a name", { bytesMax: 8 });

  test("accepts a string within its bounds and describes itself", () => {
    expect(name.parse("resource", "name")).toBe("resource");
    expect(name.type).toBe("string (1..8 bytes)");
    expect(str("x").type).toBe("string (1..1024 bytes)");
  });

  test("refuses other types, naming what came", () => {
    expect(refusal(() => name.parse(7, "name"))).toEqual(badArg("name", "must be a string, got number"));
    expect(refusal(() => name.parse(null, "name"))).toEqual(badArg("name", "must be a string, got nil"));
    expect(refusal(() => name.parse([], "name"))).toEqual(badArg("name", "must be a string, got array"));
    expect(refusal(() => name.parse(new Uint8Array(1), "name"))).toEqual(badArg("name", "must be a string, got binary"));
    expect(refusal(() => name.parse({}, "name"))).toEqual(badArg("name", "must be a string, got object"));
  });

  test("counts UTF-8 bytes, not characters", () => {
    expect(name.parse("éééé", "name")).toBe("éééé"); // 8 bytes
    expect(refusal(() => name.parse("ééééé", "name"))).toEqual(badArg("name", "must be at most 8 bytes")); // 10 bytes
    expect(refusal(() => name.parse("😀😀😀", "name"))).toEqual(badArg("name", "must be at most 8 bytes")); // 12 bytes
    expect(refusal(() => name.parse("abcdefghi", "name"))).toEqual(badArg("name", "must be at most 8 bytes"));
  });

  test("refuses the empty string by default (bytesMin 1)", () => {
    expect(refusal(() => name.parse("", "name"))).toEqual(badArg("name", "must be at least 1 bytes"));
    expect(str("x", { bytesMin: 0 }).parse("", "x")).toBe("");
  });

  // BUG (src/protocol/schema.ts, str): when value.length * 3 <= bytesMax the byte count is taken
  // as value.length (UTF-16 units), which undercounts non-ASCII text, so bytesMin refuses
  // strings that are long enough. Fix: encode whenever the string is not plain ASCII, or at
  // least whenever value.length < bytesMin.
  test("bytesMin counts UTF-8 bytes too", () => {
    expect(str("x", { bytesMin: 2, bytesMax: 100 }).parse("é", "x")).toBe("é"); // 2 bytes
  });
});

describe("int", () => {
  const version = int("protocol version", { min: 1, max: 10 });

  test("accepts integers in range, including a float with an integral value", () => {
    expect(version.parse(1, "version")).toBe(1);
    expect(version.parse(10, "version")).toBe(10);
    expect(version.parse(3.0, "version")).toBe(3);
    expect(version.type).toBe("integer (1..10)");
  });

  test("refuses non-integers and out-of-range values", () => {
    expect(refusal(() => version.parse(1.5, "version"))).toEqual(badArg("version", "must be an integer, got number"));
    expect(refusal(() => version.parse(Number.NaN, "version"))).toEqual(badArg("version", "must be an integer, got number"));
    expect(refusal(() => version.parse(Infinity, "version"))).toEqual(badArg("version", "must be an integer, got number"));
    expect(refusal(() => version.parse("1", "version"))).toEqual(badArg("version", "must be an integer, got string"));
    expect(refusal(() => version.parse(1n, "version"))).toEqual(badArg("version", "must be an integer, got bigint"));
    expect(refusal(() => version.parse(true, "version"))).toEqual(badArg("version", "must be an integer, got boolean"));
    expect(refusal(() => version.parse(0, "version"))).toEqual(badArg("version", "must be in 1..10, got 0"));
    expect(refusal(() => version.parse(11, "version"))).toEqual(badArg("version", "must be in 1..10, got 11"));
    expect(refusal(() => version.parse(-1, "version"))).toEqual(badArg("version", "must be in 1..10, got -1"));
  });
});

describe("oneOf and bool", () => {
  const mode = oneOf("lock mode", ["shared", "exclusive"]);

  test("oneOf accepts exactly the listed strings", () => {
    expect(mode.parse("shared", "mode")).toBe("shared");
    expect(mode.type).toBe('"shared" | "exclusive"');
    expect(refusal(() => mode.parse("Shared", "mode"))).toEqual(badArg("mode", "must be one of shared, exclusive, got string"));
    expect(refusal(() => mode.parse(1, "mode"))).toEqual(badArg("mode", "must be one of shared, exclusive, got number"));
  });

  test("bool accepts only true and false", () => {
    const flag = bool("a flag");
    expect(flag.parse(false, "flag")).toBe(false);
    expect(refusal(() => flag.parse("true", "flag"))).toEqual(badArg("flag", "must be a boolean, got string"));
    expect(refusal(() => flag.parse(0, "flag"))).toEqual(badArg("flag", "must be a boolean, got number"));
  });
});

describe("blob", () => {
  const body = blob("message body", { bytesMax: 4 });
  const tooLarge = { code: "TOO_LARGE", message: "argument 'body' must be at most 4 bytes", details: { argument: "body" } };

  test("accepts text and binary within the bound", () => {
    expect(body.parse("abcd", "body")).toBe("abcd");
    expect(body.parse("éé", "body")).toBe("éé");
    expect(body.parse(new Uint8Array(4), "body")).toEqual(new Uint8Array(4));
    expect(body.parse("", "body")).toBe("");
    expect(body.type).toBe("string or binary (up to 4 bytes)");
  });

  test("over the bound is TOO_LARGE (not BAD_REQUEST), in UTF-8 bytes", () => {
    expect(refusal(() => body.parse("abcde", "body"))).toEqual(tooLarge);
    expect(refusal(() => body.parse("ééé", "body"))).toEqual(tooLarge);
    expect(refusal(() => body.parse(new Uint8Array(5), "body"))).toEqual(tooLarge);
  });

  test("other types are BAD_REQUEST", () => {
    expect(refusal(() => body.parse(5, "body"))).toEqual(badArg("body", "must be a string or binary, got number"));
    expect(refusal(() => body.parse([1], "body"))).toEqual(badArg("body", "must be a string or binary, got array"));
    expect(refusal(() => body.parse({ a: 1 }, "body"))).toEqual(badArg("body", "must be a string or binary, got object"));
  });
});

describe("optional", () => {
  const name = optional(str("a name", { bytesMax: 8 }));

  test("absent and nil are both absent", () => {
    expect(name.parse(undefined, "name")).toBeUndefined();
    expect(name.parse(null, "name")).toBeUndefined();
    expect(name.required).toBe(false);
    expect(name.type).toBe("string (1..8 bytes)");
  });

  test("a present value is checked like the required field", () => {
    expect(name.parse("n1", "name")).toBe("n1");
    expect(refusal(() => name.parse(5, "name"))).toEqual(badArg("name", "must be a string, got number"));
  });
});

describe("schema", () => {
  const hello = schema({
    version: int("protocol version", { min: 1, max: 1_000_000 }),
    token: optional(str("token", { bytesMax: 4096 })),
    name: optional(str("name", { bytesMax: 128 })),
  });

  test("parses a map into the declared keys, absent optionals as undefined", () => {
    expect(hello.parse({ version: 1 })).toEqual({ version: 1, token: undefined, name: undefined });
    expect(hello.parse({ version: 2, token: "t", name: null })).toEqual({ version: 2, token: "t", name: undefined });
  });

  test("an unknown key is refused and the expected keys are listed", () => {
    expect(refusal(() => hello.parse({ version: 1, nmae: "x" }))).toEqual({
      code: "BAD_REQUEST",
      message: "unknown argument 'nmae' (expected: version, token, name)",
      details: { argument: "nmae" },
    });
    expect(refusal(() => schema({}).parse({ x: 1 }))).toEqual({
      code: "BAD_REQUEST",
      message: "unknown argument 'x' (this command takes none)",
      details: { argument: "x" },
    });
  });

  test("unknown keys are reported before missing ones", () => {
    expect(refusal(() => hello.parse({ x: 1 })).message).toBe("unknown argument 'x' (expected: version, token, name)");
  });

  test("a missing or nil required key is refused with its type", () => {
    const missing = badArg("version", "is required (integer (1..1000000))");
    expect(refusal(() => hello.parse({}))).toEqual(missing);
    expect(refusal(() => hello.parse({ version: null }))).toEqual(missing);
  });

  test("args that are not a map are refused", () => {
    expect(refusal(() => hello.parse([] as unknown as Record<string, unknown>))).toEqual({
      code: "BAD_REQUEST",
      message: "args must be a map",
      details: {},
    });
  });

  test("the error value on the wire is {argument, message}", () => {
    expect(caught(() => hello.parse({ version: "1" })).toValue()).toEqual({
      argument: "version",
      message: "argument 'version' must be an integer, got string",
    });
  });
});

describe("anyValue's size bound", () => {
  const { anyValue, encodedBytesUpperBound } = require("../../src/protocol/schema.ts") as typeof import("../../src/protocol/schema.ts");
  const { encodeValue } = require("../../src/protocol/msgpack.ts") as typeof import("../../src/protocol/msgpack.ts");

  test("never under-estimates the encoded size", () => {
    const values: unknown[] = [
      null, true, 0, -1, 2 ** 40, 1.5, "", "é€😀", "x".repeat(70_000), new Uint8Array(300),
      [1, "a", [new Uint8Array(3), { k: "v" }]], { type: "Append", entries: [{ index: 1, term: 1, type: "normal", data: new Uint8Array(100) }] },
    ];
    for (const value of values) expect(encodedBytesUpperBound(value, Infinity)).toBeGreaterThanOrEqual(encodeValue(value).byteLength);
  });

  test("a value over the limit is refused exactly, also when the bound alone is not enough", () => {
    const field = anyValue("v", { bytesMax: 20 });
    expect(field.parse("x".repeat(18), "v")).toBe("x".repeat(18)); // bound 59 > 20, encoded 19
    expect(caught(() => field.parse("x".repeat(20), "v")).code).toBe("TOO_LARGE");
    expect(caught(() => field.parse([new Uint8Array(30)], "v")).code).toBe("TOO_LARGE");
  });
});
