// Argument schemas: each command declares its args once, and the same declaration validates
// requests on the server, documents them in PROTOCOL.md and the REPL's help, and types them
// for handlers. Unknown keys are refused, so a misspelt option never silently does nothing.
import { SinkronError } from "./errors.ts";
import { isPlainMap, type Args } from "./envelope.ts";
import { encodeValue } from "./msgpack.ts";

export interface Field<T> {
  /** Human-readable type for docs and errors, e.g. "string (1..256 bytes)". */
  readonly type: string;
  readonly doc: string;
  readonly required: boolean;
  parse(value: unknown, key: string): T;
}

const utf8 = new TextEncoder();

function bad(key: string, message: string): SinkronError {
  return new SinkronError("BAD_REQUEST", `argument '${key}' ${message}`, { argument: key });
}

function tooLarge(key: string, message: string): SinkronError {
  return new SinkronError("TOO_LARGE", `argument '${key}' ${message}`, { argument: key });
}

export function str(doc: string, opts: { bytesMin?: number; bytesMax?: number } = {}): Field<string> {
  const bytesMin = opts.bytesMin ?? 1;
  const bytesMax = opts.bytesMax ?? 1024;
  return {
    type: `string (${bytesMin}..${bytesMax} bytes)`,
    doc,
    required: true,
    parse(value, key) {
      if (typeof value !== "string") throw bad(key, `must be a string, got ${describe(value)}`);
      // Cheap length guard before encoding: UTF-8 needs at least 1 byte per UTF-16 unit.
      if (value.length > bytesMax) throw bad(key, `must be at most ${bytesMax} bytes`);
      // A UTF-16 length is the byte length only when it is ASCII-safe on both bounds.
      const sizeBytes = value.length * 3 <= bytesMax && value.length >= bytesMin ? value.length : utf8.encode(value).byteLength;
      if (sizeBytes < bytesMin) throw bad(key, `must be at least ${bytesMin} bytes`);
      if (sizeBytes > bytesMax) throw bad(key, `must be at most ${bytesMax} bytes`);
      return value;
    },
  };
}

export function int(doc: string, opts: { min: number; max: number }): Field<number> {
  return {
    type: `integer (${opts.min}..${opts.max})`,
    doc,
    required: true,
    parse(value, key) {
      if (typeof value !== "number" || !Number.isInteger(value)) throw bad(key, `must be an integer, got ${describe(value)}`);
      if (value < opts.min || value > opts.max) throw bad(key, `must be in ${opts.min}..${opts.max}, got ${value}`);
      return value;
    },
  };
}

export function oneOf<const T extends string>(doc: string, values: readonly T[]): Field<T> {
  const allowed: ReadonlySet<string> = new Set(values);
  return {
    type: values.map((v) => JSON.stringify(v)).join(" | "),
    doc,
    required: true,
    parse(value, key) {
      if (typeof value !== "string" || !allowed.has(value)) {
        throw bad(key, `must be one of ${values.join(", ")}, got ${describe(value)}`);
      }
      return value as T;
    },
  };
}

export function bool(doc: string): Field<boolean> {
  return {
    type: "boolean",
    doc,
    required: true,
    parse(value, key) {
      if (typeof value !== "boolean") throw bad(key, `must be a boolean, got ${describe(value)}`);
      return value;
    },
  };
}

/** An opaque payload: a string or binary, bounded in size (message bodies, values). */
export function blob(doc: string, opts: { bytesMax: number }): Field<string | Uint8Array> {
  return {
    type: `string or binary (up to ${opts.bytesMax} bytes)`,
    doc,
    required: true,
    parse(value, key) {
      if (typeof value === "string") {
        if (value.length > opts.bytesMax || utf8.encode(value).byteLength > opts.bytesMax) {
          throw tooLarge(key, `must be at most ${opts.bytesMax} bytes`);
        }
        return value;
      }
      if (value instanceof Uint8Array) {
        if (value.byteLength > opts.bytesMax) throw tooLarge(key, `must be at most ${opts.bytesMax} bytes`);
        return value;
      }
      throw bad(key, `must be a string or binary, got ${describe(value)}`);
    },
  };
}

/** Any MessagePack value (string, number, binary, array, map, ...), bounded by its encoded size. */
export function anyValue(doc: string, opts: { bytesMax: number; overLimit?: "TOO_LARGE" | "BAD_REQUEST" }): Field<unknown> {
  const overLimit = opts.overLimit === "BAD_REQUEST" ? bad : tooLarge;
  return {
    type: `any value (up to ${opts.bytesMax} bytes encoded)`,
    doc,
    required: true,
    parse(value, key) {
      if (value === undefined) throw bad(key, "is required");
      if (value instanceof Date || (typeof value === "object" && value !== null && !Array.isArray(value) && !ArrayBuffer.isView(value) && !isPlainMap(value))) {
        throw bad(key, "must be plain MessagePack data (no extension types)");
      }
      // Encoding only to measure costs as much as sending (a Raft batch on every RAFT.MSG): a walk
      // that over-estimates settles almost every value; only a value near the limit is encoded.
      if (encodedBytesUpperBound(value, opts.bytesMax) <= opts.bytesMax) return value;
      if (encodeValue(value).byteLength > opts.bytesMax) throw overLimit(key, `must be at most ${opts.bytesMax} bytes encoded`);
      return value;
    },
  };
}

/** MessagePack's largest header (str32, bin32, array32, map32) and largest scalar (float64, uint64). */
const HEADER_BYTES_MAX = 5;
const SCALAR_BYTES_MAX = 9;

/**
 * A bound on the MessagePack size of `value` that is never below the real one: a string takes
 * at most 3 bytes per UTF-16 unit, every header and number its widest form. Stops (returning
 * Infinity) once past `budgetBytes`, or at anything it does not know — then the caller encodes.
 */
export function encodedBytesUpperBound(value: unknown, budgetBytes: number): number {
  let totalBytes = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === "string") totalBytes += HEADER_BYTES_MAX + v.length * 3;
    else if (typeof v === "number" || typeof v === "boolean" || v === null || v === undefined) totalBytes += SCALAR_BYTES_MAX;
    else if (v instanceof Uint8Array) totalBytes += HEADER_BYTES_MAX + v.byteLength;
    else if (Array.isArray(v)) {
      totalBytes += HEADER_BYTES_MAX;
      for (let i = 0; i < v.length; i++) stack.push(v[i]);
    } else if (isPlainMap(v)) {
      totalBytes += HEADER_BYTES_MAX;
      for (const k in v) {
        totalBytes += HEADER_BYTES_MAX + k.length * 3;
        stack.push(v[k]);
      }
    } else return Infinity;
    if (totalBytes > budgetBytes) return Infinity;
  }
  return totalBytes;
}

export function optional<T>(field: Field<T>): Field<T | undefined> {
  return {
    type: field.type,
    doc: field.doc,
    required: false,
    parse(value, key) {
      return value === undefined || value === null ? undefined : field.parse(value, key);
    },
  };
}

export type Shape = Record<string, Field<unknown>>;
export type Parsed<S extends Shape> = { [K in keyof S]: S[K] extends Field<infer T> ? T : never };

export interface Schema<S extends Shape = Shape> {
  readonly shape: S;
  parse(args: Args): Parsed<S>;
}

export function schema<S extends Shape>(shape: S): Schema<S> {
  const keys = Object.keys(shape);
  return {
    shape,
    parse(args) {
      if (!isPlainMap(args)) throw new SinkronError("BAD_REQUEST", "args must be a map");
      for (const key of Object.keys(args)) {
        if (!Object.hasOwn(shape, key)) {
          throw new SinkronError("BAD_REQUEST", `unknown argument '${key}'${keys.length ? ` (expected: ${keys.join(", ")})` : " (this command takes none)"}`, { argument: key });
        }
      }
      const out: Record<string, unknown> = {};
      for (const key of keys) {
        const field = shape[key]!;
        const value = args[key];
        if ((value === undefined || value === null) && field.required) throw bad(key, `is required (${field.type})`);
        out[key] = field.parse(value, key);
      }
      return out as Parsed<S>;
    },
  };
}

function describe(value: unknown): string {
  if (value === null) return "nil";
  if (Array.isArray(value)) return "array";
  if (value instanceof Uint8Array) return "binary";
  return typeof value;
}
