// The one MessagePack codec of the process. `useRecords: false` keeps frames plain
// MessagePack any language decodes (records are a msgpackr extension); `variableMapSize`
// gives small maps the smallest header, so our bytes match other encoders' for golden vectors;
// `int64AsType: "auto"` reads a uint64/int64 that fits a double as a number (Go's msgpack
// writes every int that way). Extension types are not part of the protocol and are refused.
//
// Most frames are tiny envelopes — [id, "PING", {}], [id, "OK", "PONG"] — and msgpackr's fixed
// cost per call (state save, a DataView per new buffer) dominates them. A small-value fast path
// handles exactly those shapes byte-for-byte as msgpackr does and hands everything else to it.
import { addExtension, Packr } from "msgpackr";

// msgpackr's typings predate "auto" (unpack.js reads it: a number when it fits, else BigInt).
const INT64_AS_TYPE_AUTO = "auto" as unknown as "number";
export const msgpack = new Packr({ useRecords: false, variableMapSize: true, moreTypes: false, int64AsType: INT64_AS_TYPE_AUTO, encodeUndefinedAsNil: true });

/** The ext types msgpackr would otherwise decode into JS objects (timestamp, Set, Error, ...). */
const BUILT_IN_EXTENSION_TYPES = [-1, 0, 0x42, 0x62, 0x65, 0x69, 0x70, 0x73, 0x74, 0x78];
for (const type of BUILT_IN_EXTENSION_TYPES) {
  addExtension({
    type,
    unpack() {
      throw new Error(`MessagePack extension type ${type} is not part of the sinkron protocol`);
    },
  } as Parameters<typeof addExtension>[0]);
}

/**
 * A value already in MessagePack form. A handler that answers the same value many times (a
 * cache hit) returns it so, and the server splices the bytes into the response envelope
 * instead of encoding the value again.
 */
export class Preencoded {
  constructor(readonly bytes: Uint8Array) {}
}

export function encodeValue(value: unknown): Uint8Array {
  return msgpack.pack(value);
}

/** Decodes exactly one value; throws when the bytes hold less or more than one value. */
export function decodeValue(bytes: Uint8Array): unknown {
  if (bytes.length <= SMALL_DECODE_BYTES_MAX) {
    const small = decodeSmall(bytes);
    if (small !== NOT_SMALL) return small;
  }
  return msgpack.unpack(bytes);
}

// ---- small-value fast path -------------------------------------------------------------
// "Small" means: a scalar, or a fixarray of up to SMALL_ARRAY_LENGTH_MAX scalars, where a
// scalar is an unsigned 32-bit integer, an ASCII string under 32 bytes, nil, a boolean or (on
// decode) a map of up to SMALL_MAP_SIZE_MAX such scalars under ASCII keys (a request's args). Anything else — and any byte sequence that is not exactly one such
// value — goes to msgpackr, so values, bytes and errors are the same as without the fast path.

const NOT_SMALL: unique symbol = Symbol("not-small");
type Small = unknown;

const SMALL_ARRAY_LENGTH_MAX = 4;
const SMALL_MAP_SIZE_MAX = 4;
const FIXSTR_BYTES_MAX = 31;
/** The most bytes a small value encodes to: fixarray header + 4 × (fixstr header + 31). */
export const SMALL_ENCODED_BYTES_MAX = 1 + SMALL_ARRAY_LENGTH_MAX * (1 + FIXSTR_BYTES_MAX);
const SMALL_DECODE_BYTES_MAX = SMALL_ENCODED_BYTES_MAX;

// Decoded short strings are interned: the same command and status names arrive in every
// frame, and an interned string is built once and hashes once (the registry's Map lookup).
const INTERNED_STRINGS_MAX = 1024;
const INTERNED_BYTES_MAX = 24;
const interned = new Map<number, string>();

let readAt = 0;

function decodeSmall(bytes: Uint8Array): Small | typeof NOT_SMALL {
  const end = bytes.length;
  if (end === 0) return NOT_SMALL;
  const head = bytes[0]!;
  let value: Small | typeof NOT_SMALL;
  if (head >= 0x90 && head <= 0x90 + SMALL_ARRAY_LENGTH_MAX) {
    readAt = 1;
    const array: unknown[] = [];
    for (let i = head - 0x90; i > 0; i--) {
      const element = readScalar(bytes, end);
      if (element === NOT_SMALL) return NOT_SMALL;
      array.push(element);
    }
    value = array;
  } else {
    readAt = 0;
    value = readScalar(bytes, end);
  }
  return readAt === end ? value : NOT_SMALL;
}

function readScalar(bytes: Uint8Array, end: number): Small | typeof NOT_SMALL {
  if (readAt >= end) return NOT_SMALL;
  const b = bytes[readAt++]!;
  if (b < 0x80) return b;
  if (b >= 0xa0 && b <= 0xbf) return readAscii(bytes, b & 0x1f, end);
  if (b >= 0x81 && b <= 0x80 + SMALL_MAP_SIZE_MAX) return readSmallMap(bytes, b - 0x80, end);
  switch (b) {
    case 0x80:
      return {};
    case 0xc0:
      return null;
    case 0xc2:
      return false;
    case 0xc3:
      return true;
    case 0xcc:
      if (readAt + 1 > end) return NOT_SMALL;
      return bytes[readAt++]!;
    case 0xcd: {
      if (readAt + 2 > end) return NOT_SMALL;
      const v = (bytes[readAt]! << 8) | bytes[readAt + 1]!;
      readAt += 2;
      return v;
    }
    case 0xce: {
      if (readAt + 4 > end) return NOT_SMALL;
      const v = ((bytes[readAt]! << 24) >>> 0) + ((bytes[readAt + 1]! << 16) | (bytes[readAt + 2]! << 8) | bytes[readAt + 3]!);
      readAt += 4;
      return v;
    }
    default:
      return NOT_SMALL;
  }
}

/**
 * A fixmap of ASCII fixstr keys and scalar values, as msgpackr builds it (a plain object, the
 * last of repeated keys wins): the args of most requests ({key}, {name, owner}). A nested
 * non-empty map, another key type or "__proto__" (which msgpackr renames) goes to msgpackr.
 */
function readSmallMap(bytes: Uint8Array, size: number, end: number): Record<string, unknown> | typeof NOT_SMALL {
  const object: Record<string, unknown> = {};
  for (let i = 0; i < size; i++) {
    if (readAt >= end) return NOT_SMALL;
    const head = bytes[readAt++]!;
    if (head < 0xa0 || head > 0xbf) return NOT_SMALL;
    const key = readAscii(bytes, head & 0x1f, end);
    if (key === NOT_SMALL || key === "__proto__") return NOT_SMALL;
    if (readAt < end && bytes[readAt]! > 0x80 && bytes[readAt]! < 0x90) return NOT_SMALL;
    const value = readScalar(bytes, end);
    if (value === NOT_SMALL) return NOT_SMALL;
    object[key] = value;
  }
  return object;
}

function readAscii(bytes: Uint8Array, length: number, end: number): string | typeof NOT_SMALL {
  const start = readAt;
  const stop = start + length;
  if (stop > end) return NOT_SMALL;
  // FNV-1a over length and bytes: the key of the intern table.
  let hash = Math.imul(0x811c9dc5 ^ length, 0x01000193);
  for (let i = start; i < stop; i++) {
    const c = bytes[i]!;
    if (c >= 0x80) return NOT_SMALL;
    hash = Math.imul(hash ^ c, 0x01000193);
  }
  readAt = stop;
  const cached = interned.get(hash);
  if (cached !== undefined && cached.length === length && sameAscii(cached, bytes, start)) return cached;
  let text = "";
  for (let i = start; i < stop; i++) text += String.fromCharCode(bytes[i]!);
  if (length <= INTERNED_BYTES_MAX) {
    // Bounded: a peer sending endless distinct strings costs a clear now and then, never memory.
    if (interned.size >= INTERNED_STRINGS_MAX) interned.clear();
    interned.set(hash, text);
  }
  return text;
}

function sameAscii(text: string, bytes: Uint8Array, start: number): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) !== bytes[start + i]) return false;
  return true;
}

/**
 * Writes `value` at `target[at..]` if it is small, returning the bytes written, else -1
 * (nothing written). The caller guarantees SMALL_ENCODED_BYTES_MAX bytes of room. The bytes
 * are exactly what `encodeValue` produces for the same value.
 */
export function encodeSmallInto(value: unknown, target: Uint8Array, at: number): number {
  if (Array.isArray(value)) {
    // msgpackr packs only constructor === Array as an array; leave subclasses to it.
    if (value.constructor !== Array || value.length > SMALL_ARRAY_LENGTH_MAX) return -1;
    target[at] = 0x90 | value.length;
    let cursor = at + 1;
    for (let i = 0; i < value.length; i++) {
      const written = writeScalar(value[i], target, cursor);
      if (written < 0) return -1;
      cursor += written;
    }
    return cursor - at;
  }
  return writeScalar(value, target, at);
}

function writeScalar(value: unknown, target: Uint8Array, at: number): number {
  switch (typeof value) {
    case "number":
      // The same test msgpackr uses: unsigned 32-bit integers (and -0, written as 0).
      if (value >>> 0 !== value) return -1;
      if (value < 0x80) {
        target[at] = value;
        return 1;
      }
      if (value < 0x100) {
        target[at] = 0xcc;
        target[at + 1] = value;
        return 2;
      }
      if (value < 0x10000) {
        target[at] = 0xcd;
        target[at + 1] = value >> 8;
        target[at + 2] = value & 0xff;
        return 3;
      }
      target[at] = 0xce;
      target[at + 1] = value >>> 24;
      target[at + 2] = (value >> 16) & 0xff;
      target[at + 3] = (value >> 8) & 0xff;
      target[at + 4] = value & 0xff;
      return 5;
    case "string": {
      const length = value.length;
      if (length > FIXSTR_BYTES_MAX) return -1;
      for (let i = 0; i < length; i++) {
        const c = value.charCodeAt(i);
        if (c >= 0x80) return -1;
        target[at + 1 + i] = c;
      }
      target[at] = 0xa0 | length;
      return 1 + length;
    }
    case "boolean":
      target[at] = value ? 0xc3 : 0xc2;
      return 1;
    case "object":
      if (value !== null) return -1;
      target[at] = 0xc0;
      return 1;
    default:
      return -1;
  }
}
