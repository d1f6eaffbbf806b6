// Checks our codec against the golden vectors in protocol/vectors/ — the files a client in any
// language checks itself against — and keeps the vectors, the error catalog, the limits and
// PROTOCOL.md from drifting apart: a code, limit or argument added to the code without its
// vector and its line in the spec fails here.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CORE_COMMANDS } from "../../src/protocol/commands.ts";
import { parseRequest, parseResponse } from "../../src/protocol/envelope.ts";
import { ERROR_CODES, ERROR_MEANINGS } from "../../src/protocol/errors.ts";
import { FRAME_HEADER_BYTES, FrameDecoder, FrameWriter, frameOf } from "../../src/protocol/frame.ts";
import { decodeValue, encodeValue } from "../../src/protocol/msgpack.ts";
import { DEFAULT_SERVER_LIMITS } from "../../src/server/limits.ts";
import { buildVectorFiles, type FrameVector, type InvalidVector, type StreamVector, type ValueVector } from "../../protocol/vectors/generate.ts";
import { fromHex, fromJson, toHex, toJson, withoutFloatMarkers, type JsonValue } from "../../protocol/vectors/values.ts";
import { seededRandom as random } from "../../src/util/prng.ts";

const ROOT = join(import.meta.dir, "../..");
const VECTORS_DIR = join(ROOT, "protocol/vectors");
const read = <T>(name: string): T[] => (JSON.parse(readFileSync(join(VECTORS_DIR, name), "utf8")) as { vectors: T[] }).vectors;

const msgpackVectors = read<ValueVector | InvalidVector>("msgpack.json");
const frameVectors = read<FrameVector>("frames.json");
const streamVectors = read<StreamVector>("stream.json");
const PROTOCOL_MD = readFileSync(join(ROOT, "protocol/PROTOCOL.md"), "utf8");

/**
 * An independent canonical MessagePack encoder (the smallest format for every value), so the
 * encode vectors are checked by something other than the encoder that generated them.
 */
function canonical(value: JsonValue): Uint8Array {
  const out: number[] = [];
  const uint = (n: number | bigint, sizeBytes: number) => {
    for (let i = sizeBytes - 1; i >= 0; i--) out.push(Number((BigInt(n) >> BigInt(8 * i)) & 0xffn));
  };
  const float64 = (n: number) => {
    const bytes = new Uint8Array(8);
    new DataView(bytes.buffer).setFloat64(0, n);
    out.push(0xcb, ...bytes);
  };
  const sized = (length: number, fix: number | null, fixMax: number, codes: [number, number, number]) => {
    if (fix !== null && length <= fixMax) out.push(fix | length);
    else if (codes[0] !== 0 && length < 0x100) out.push(codes[0], length);
    else if (length < 0x10000) (out.push(codes[1]), uint(length, 2));
    else (out.push(codes[2]), uint(length, 4));
  };
  const walk = (v: JsonValue): void => {
    if (v === null) return void out.push(0xc0);
    if (typeof v === "boolean") return void out.push(v ? 0xc3 : 0xc2);
    if (typeof v === "number") {
      if (!Number.isInteger(v)) return float64(v);
      if (v >= 0) {
        if (v < 0x80) out.push(v);
        else if (v < 0x100) (out.push(0xcc), uint(v, 1));
        else if (v < 0x10000) (out.push(0xcd), uint(v, 2));
        else if (v < 0x1_0000_0000) (out.push(0xce), uint(v, 4));
        else (out.push(0xcf), uint(v, 8));
      } else if (v >= -32) out.push(0x100 + v);
      else if (v >= -0x80) (out.push(0xd0), uint(0x100 + v, 1));
      else if (v >= -0x8000) (out.push(0xd1), uint(0x10000 + v, 2));
      else if (v >= -0x8000_0000) (out.push(0xd2), uint(0x1_0000_0000 + v, 4));
      else (out.push(0xd3), uint(BigInt.asUintN(64, BigInt(v)), 8));
      return;
    }
    if (typeof v === "string") {
      const bytes = new TextEncoder().encode(v);
      sized(bytes.length, 0xa0, 31, [0xd9, 0xda, 0xdb]);
      return void out.push(...bytes);
    }
    if (Array.isArray(v)) {
      sized(v.length, 0x90, 15, [0, 0xdc, 0xdd]);
      return v.forEach(walk);
    }
    const keys = Object.keys(v);
    if (keys.length === 1 && keys[0] === "$float") return float64(v.$float as number);
    if (keys.length === 1 && keys[0] === "$bin") {
      const bytes = fromHex(v.$bin as string);
      sized(bytes.length, null, 0, [0xc4, 0xc5, 0xc6]);
      return void out.push(...bytes);
    }
    sized(keys.length, 0x80, 15, [0, 0xde, 0xdf]);
    for (const key of keys) {
      walk(key);
      walk(v[key]!);
    }
  };
  walk(value);
  return new Uint8Array(out);
}

/** Decodes and puts the value in the vectors' JSON form; a BigInt or ext value fails here. */
const decodedJson = (bytes: Uint8Array): JsonValue => toJson(decodeValue(bytes));

/** Frames out of a decoder fed `pieces` in order; fails on anything but frames and need-more. */
function framesOf(pieces: Uint8Array[]): string[] {
  const decoder = new FrameDecoder();
  const frames: string[] = [];
  for (const piece of pieces) {
    decoder.push(piece);
    for (;;) {
      const result = decoder.next();
      if (result.kind === "need-more") break;
      if (result.kind === "too-large") throw new Error(`unexpected too-large ${result.sizeBytes}`);
      frames.push(toHex(result.payload));
    }
  }
  expect(decoder.bufferedBytes).toBe(0);
  return frames;
}


describe("vector files", () => {
  test("are exactly what protocol/vectors/generate.ts writes (re-run it after changing it)", () => {
    for (const [name, text] of Object.entries(buildVectorFiles())) {
      expect(readFileSync(join(VECTORS_DIR, name), "utf8")).toBe(text);
    }
  });

  test("have unique names and lower-case hex", () => {
    const all = [...msgpackVectors, ...frameVectors, ...streamVectors];
    expect(new Set(all.map((v) => v.name)).size).toBe(all.length);
    for (const v of all) expect(v.hex).toMatch(/^([0-9a-f]{2})*$/);
  });
});

describe("msgpack.json", () => {
  for (const v of msgpackVectors) {
    if (v.kind === "invalid") {
      test(`invalid: ${v.name} is refused`, () => {
        let decoded: unknown;
        try {
          decoded = decodeValue(fromHex(v.hex));
        } catch {
          return;
        }
        // msgpackr turns 0xc1 into a marker object instead of throwing; the server then refuses
        // it as a value of the wrong type, so the wire behaviour is still a BAD_REQUEST.
        expect(() => toJson(decoded)).toThrow("not a plain MessagePack value");
      });
      continue;
    }
    if (v.kind === "encode") {
      test(`encode: ${v.name} → exact bytes`, () => {
        expect(toHex(encodeValue(fromJson(v.value)))).toBe(v.hex);
      });
      test(`encode: ${v.name} is canonical (independent encoder agrees)`, () => {
        expect(toHex(canonical(v.value))).toBe(v.hex);
      });
    }
    test(`decode: ${v.name} → value`, () => {
      expect(decodedJson(fromHex(v.hex))).toEqual(withoutFloatMarkers(v.value));
    });
  }

  test("every MessagePack format family a client meets is covered", () => {
    const firstBytes = new Set(msgpackVectors.filter((v) => v.kind !== "invalid").map((v) => v.hex.slice(0, 2)));
    const families = ["c0", "c2", "c3", "cc", "cd", "ce", "cf", "d0", "d1", "d2", "d3", "ca", "cb", "d9", "da", "db", "c4", "c5", "c6", "dc", "dd", "de", "df"];
    for (const family of families) expect(firstBytes.has(family)).toBe(true);
  });

  test("our encoder writes integers outside -2^31..2^32-1 as float64 (as PROTOCOL.md says)", () => {
    expect(toHex(encodeValue(2 ** 32))).toBe("cb41f0000000000000");
    expect(toHex(encodeValue(-(2 ** 31) - 1))).toBe("cbc1e0000000200000");
    expect(PROTOCOL_MD).toContain("outside -2^31..2^32-1");
  });
});

describe("frames.json", () => {
  for (const v of frameVectors) {
    const frame = fromHex(v.hex);
    if (v.kind === "encode") {
      test(`encode: ${v.name} → exact frame`, () => {
        const payload = encodeValue(fromJson(v.value));
        expect(toHex(frameOf(payload))).toBe(v.hex);
        const writer = new FrameWriter(16);
        writer.appendPayload(payload);
        expect(toHex(writer.pending())).toBe(v.hex);
        expect(toHex(canonical(v.value))).toBe(v.hex.slice(FRAME_HEADER_BYTES * 2));
      });
    }
    test(`decode: ${v.name} → one frame → value → envelope`, () => {
      const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
      expect(view.getUint32(0)).toBe(frame.byteLength - FRAME_HEADER_BYTES);
      const payloads = framesOf([frame]);
      expect(payloads).toEqual([v.hex.slice(FRAME_HEADER_BYTES * 2)]);
      const value = decodeValue(fromHex(payloads[0]!));
      expect(toJson(value)).toEqual(withoutFloatMarkers(v.value));
      const envelope = v.envelope;
      switch (envelope.type) {
        case "request": {
          const parsed = parseRequest(value);
          if (!parsed.ok) throw new Error(`parseRequest refused it: ${parsed.error.message}`);
          expect(parsed.request.id).toBe(envelope.id);
          expect(parsed.request.command).toBe(envelope.command);
          expect(toJson(parsed.request.args)).toEqual(withoutFloatMarkers(envelope.args));
          break;
        }
        case "response":
        case "push": {
          const parsed = parseResponse(value);
          if (!parsed.ok) throw new Error(`parseResponse refused it: ${parsed.message}`);
          expect(parsed.id).toBe(envelope.type === "push" ? 0 : envelope.id);
          expect<string>(parsed.status).toBe(envelope.type === "push" ? envelope.kind : envelope.status);
          expect(toJson(parsed.value)).toEqual(withoutFloatMarkers(envelope.value));
          break;
        }
      }
    });
  }

  test("every error code of errors.ts has a response vector and a row in PROTOCOL.md", () => {
    const statuses = new Set(frameVectors.flatMap((v) => (v.envelope.type === "response" ? [v.envelope.status] : [])));
    for (const code of ERROR_CODES) {
      expect(statuses.has(code)).toBe(true);
      expect(PROTOCOL_MD).toContain(`| \`${code}\` | ${ERROR_MEANINGS[code]} |`);
    }
  });

  test("requests, responses and pushes are all represented", () => {
    const types = new Set(frameVectors.map((v) => v.envelope.type));
    expect([...types].sort()).toEqual(["push", "request", "response"]);
  });
});

describe("stream.json", () => {
  for (const v of streamVectors) {
    const stream = fromHex(v.hex);
    const expected = v.frames.map((f) => f.payload);

    test(`${v.name}: frames decode to their values in order`, () => {
      expect(framesOf([stream])).toEqual(expected);
      for (const f of v.frames) expect(toJson(decodeValue(fromHex(f.payload)))).toEqual(withoutFloatMarkers(f.value));
    });

    test(`${v.name}: cut at every byte boundary`, () => {
      for (let cut = 0; cut <= stream.byteLength; cut++) {
        expect(framesOf([stream.subarray(0, cut), stream.subarray(cut)])).toEqual(expected);
      }
    });

    test(`${v.name}: one byte at a time`, () => {
      const pieces = Array.from({ length: stream.byteLength }, (_, i) => stream.subarray(i, i + 1));
      expect(framesOf(pieces)).toEqual(expected);
    });

    test(`${v.name}: random pieces of 1..7 bytes (seeds 1..200)`, () => {
      for (let seed = 1; seed <= 200; seed++) {
        const next = random(seed);
        const pieces: Uint8Array[] = [];
        for (let at = 0; at < stream.byteLength; ) {
          const size = 1 + Math.floor(next() * 7);
          pieces.push(stream.slice(at, at + size));
          at += size;
        }
        const frames = framesOf(pieces);
        if (JSON.stringify(frames) !== JSON.stringify(expected)) throw new Error(`stream split with seed ${seed} decoded wrongly`);
      }
    });
  }
});

describe("PROTOCOL.md stays true to the code", () => {
  const section = (heading: string): string => {
    const start = PROTOCOL_MD.indexOf(heading);
    if (start < 0) throw new Error(`PROTOCOL.md has no heading '${heading}'`);
    const end = PROTOCOL_MD.indexOf("\n### ", start + heading.length);
    return PROTOCOL_MD.slice(start, end < 0 ? undefined : end);
  };

  for (const command of CORE_COMMANDS) {
    test(`${command.name}: every argument with its type, and the result`, () => {
      const text = section(`### \`${command.name}\``);
      for (const [key, field] of Object.entries(command.args.shape)) {
        const row = text.split("\n").find((line) => line.startsWith(`| \`${key}\` |`));
        if (row === undefined) throw new Error(`no row for argument '${key}' of ${command.name}`);
        expect(row).toContain(field.type);
        expect(row).toContain(field.required ? "required" : "optional");
      }
      expect(text).toContain(command.result);
      expect(text).toContain(command.allowedBeforeAuth === true ? "Allowed before authentication: yes" : "Allowed before authentication: no");
    });
  }

  test("every server limit with its default", () => {
    for (const [name, value] of Object.entries(DEFAULT_SERVER_LIMITS)) {
      const row = PROTOCOL_MD.split("\n").find((line) => line.startsWith(`| \`${name}\` |`));
      if (row === undefined) throw new Error(`no row for limit '${name}'`);
      expect(row).toContain(`| ${value}`);
    }
  });

  test("the PING frames in the examples are the golden ones", () => {
    const ping = frameVectors.find((v) => v.name === "request PING")!;
    const pong = frameVectors.find((v) => v.name === "response OK with a string (PING)")!;
    expect(PROTOCOL_MD).toContain(ping.hex.match(/../g)!.join(" "));
    expect(PROTOCOL_MD).toContain(pong.hex.match(/../g)!.join(" "));
  });
});
