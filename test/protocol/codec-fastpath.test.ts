// The codec's small-value fast path (added for the PING benchmark) must be invisible: for every
// value it takes, the bytes equal msgpackr's, and for every byte sequence decodeValue returns
// what msgpackr returns or throws where msgpackr throws. Checked on boundaries and seeded fuzz.
import { describe, expect, test } from "bun:test";
import { FrameWriter } from "../../src/protocol/frame.ts";
import { decodeValue, encodeValue, msgpack, SMALL_ENCODED_BYTES_MAX } from "../../src/protocol/msgpack.ts";
import { seededRandom } from "../../src/util/prng.ts";


const INTS = [0, 1, 31, 32, 127, 128, 255, 256, 65_535, 65_536, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff];
const random = seededRandom(42);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;

function asciiString(length: number): string {
  let text = "";
  for (let i = 0; i < length; i++) text += String.fromCharCode(Math.floor(random() * 128));
  return text;
}

function smallScalar(): unknown {
  switch (Math.floor(random() * 5)) {
    case 0:
      return random() < 0.5 ? pick(INTS) : Math.floor(random() * 0x1_0000_0000);
    case 1:
      return asciiString(Math.floor(random() * 32));
    case 2:
      return null;
    case 3:
      return random() < 0.5;
    default:
      return pick(["OK", "PONG", "PING", "UNKNOWN_COMMAND", "LOCK.ACQUIRE", ""]);
  }
}

function smallMap(): Record<string, unknown> {
  const map: Record<string, unknown> = {};
  for (let n = Math.floor(random() * 5); n > 0; n--) map[pick(["key", "name", "owner", "mode", "__proto__", "k", asciiString(Math.floor(random() * 8))])] = random() < 0.1 ? smallMap() : smallScalar();
  return map;
}

function smallValue(): unknown {
  if (random() < 0.2) return smallScalar();
  // A request's shape: [id, command, args], args often a small map.
  if (random() < 0.3) return [smallScalar(), smallScalar(), smallMap()];
  return Array.from({ length: Math.floor(random() * 5) }, smallScalar);
}

function smallEncoding(value: unknown): Uint8Array | null {
  const writer = new FrameWriter(16);
  if (!writer.appendSmallValue(value)) {
    expect(writer.pendingBytes).toBe(0);
    return null;
  }
  return writer.pending().slice(4);
}

function decodeOutcome(decode: (bytes: Uint8Array) => unknown, bytes: Uint8Array): { value: unknown } | { threw: true } {
  try {
    return { value: decode(bytes) };
  } catch {
    return { threw: true };
  }
}

describe("small-value encoding", () => {
  test("gives msgpackr's exact bytes for 20,000 random small values", () => {
    for (let i = 0; i < 20_000; i++) {
      const value = smallValue();
      const bytes = smallEncoding(value);
      // Maps are a decode-only shape: the encoder leaves them to msgpackr.
      if (Array.isArray(value) && value.some((v) => v !== null && typeof v === "object")) {
        expect(bytes).toBeNull();
        continue;
      }
      expect(bytes).not.toBeNull();
      expect(Buffer.from(bytes!).toString("hex")).toBe(Buffer.from(encodeValue(value)).toString("hex"));
      expect(bytes!.byteLength).toBeLessThanOrEqual(SMALL_ENCODED_BYTES_MAX);
    }
  });

  test("-0 is written as 0, like msgpackr", () => {
    expect(Buffer.from(smallEncoding([-0])!).toString("hex")).toBe(Buffer.from(encodeValue([-0])).toString("hex"));
  });

  test.each([
    ["a negative integer", [1, -1]],
    ["a float", [1.5]],
    ["2^32", [0x1_0000_0000]],
    ["a 32-character string", ["x".repeat(32)]],
    ["a non-ASCII string", ["é"]],
    ["undefined", [undefined]],
    ["an object", [1, "OK", { token: 1 }]],
    ["the empty map", [1, "OK", {}]],
    ["a nested array", [1, [2]]],
    ["5 elements", [1, 2, 3, 4, 5]],
    ["a hole", [1, , 3]],
    ["a bigint", [1n]],
    ["bytes", [new Uint8Array(2)]],
  ])("leaves %s to msgpackr", (_name, value) => {
    expect(smallEncoding(value)).toBeNull();
  });

  test("leaves an Array subclass to msgpackr", () => {
    class Tuple extends Array<number> {}
    expect(smallEncoding(Tuple.from([1, 2]))).toBeNull();
  });
});

describe("small-value decoding", () => {
  test("decodes every small encoding as msgpackr does, interned strings included", () => {
    for (let i = 0; i < 20_000; i++) {
      const bytes = encodeValue(smallValue());
      expect(decodeValue(bytes)).toEqual(msgpack.unpack(bytes));
    }
  });

  test("the empty map decodes to a fresh plain object each time", () => {
    const bytes = encodeValue([7, "PING", {}]);
    const first = decodeValue(bytes) as [number, string, object];
    const second = decodeValue(bytes) as [number, string, object];
    expect(first).toEqual([7, "PING", {}]);
    expect(Object.getPrototypeOf(first[2])).toBe(Object.prototype);
    expect(first[2]).not.toBe(second[2]);
  });

  test("agrees with msgpackr on 50,000 mutated, truncated and extended byte strings", () => {
    for (let i = 0; i < 50_000; i++) {
      const bytes = Array.from(encodeValue(smallValue()));
      const mutation = Math.floor(random() * 4);
      if (mutation === 0 && bytes.length > 0) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
      else if (mutation === 1) bytes.length = Math.floor(random() * bytes.length);
      else if (mutation === 2) bytes.push(Math.floor(random() * 256));
      else bytes.splice(Math.floor(random() * (bytes.length + 1)), 0, pick([0x80, 0x90, 0xa1, 0xc0, 0xcc, 0xce, 0xff]));
      const input = new Uint8Array(bytes);
      expect(decodeOutcome(decodeValue, input)).toEqual(decodeOutcome((b) => msgpack.unpack(b), input));
    }
  });

  test("many distinct strings (more than the intern table holds) all decode correctly", () => {
    for (let i = 0; i < 5_000; i++) {
      const text = `key-${i}-${asciiString(Math.floor(random() * 10))}`.slice(0, 31);
      expect(decodeValue(encodeValue([i, text]))).toEqual([i, text]);
    }
  });
});
