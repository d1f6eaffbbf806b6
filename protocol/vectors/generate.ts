// Writes the golden test vectors (protocol/vectors/*.json) that any sinkron client can check
// its codec against. Encode vectors take their bytes from our encoder (test/protocol/vectors
// .test.ts re-derives them with an independent canonical encoder); decode-only and invalid
// vectors are written here by hand. Deterministic: `bun protocol/vectors/generate.ts` rewrites
// identical files; `--check` only compares and exits 1 when a file is stale.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { encodeValue } from "../../src/protocol/msgpack.ts";
import { frameOf } from "../../src/protocol/frame.ts";
import { bin, float, fromJson, toHex, type JsonValue } from "./values.ts";

export interface ValueVector {
  name: string;
  kind: "encode" | "decode";
  hex: string;
  value: JsonValue;
  note?: string;
}

export interface InvalidVector {
  name: string;
  kind: "invalid";
  hex: string;
  reason: string;
}

export type Envelope =
  | { type: "request"; id: number; command: string; args: JsonValue }
  | { type: "response"; id: number; status: string; value: JsonValue }
  | { type: "push"; kind: string; value: JsonValue };

export interface FrameVector {
  name: string;
  kind: "encode" | "decode";
  hex: string;
  value: JsonValue;
  envelope: Envelope;
  note?: string;
}

export interface StreamVector {
  name: string;
  hex: string;
  frames: { payload: string; value: JsonValue }[];
  note: string;
}

const CONVENTION =
  "hex: lower-case, two digits per byte. value: JSON, except {\"$bin\": \"<hex>\"} is a MessagePack bin and " +
  "{\"$float\": n} a float (float32 or float64) whose value is n; a JSON number with a fraction is a float64, " +
  "any other JSON number an integer. No vector has a map key starting with '$'. kind: 'encode' = a sinkron " +
  "encoder must produce exactly these bytes (canonical: the smallest format for every value, map entries in " +
  "the order listed); 'decode' = another valid encoding every decoder must accept; 'invalid' = bytes every " +
  "decoder must refuse. See protocol/vectors/README.md.";

/** Deterministic filler bytes: every value 0x00..0xff appears, none is special. */
function pattern(sizeBytes: number, seed: number): Uint8Array {
  const out = new Uint8Array(sizeBytes);
  for (let i = 0; i < sizeBytes; i++) out[i] = (i * 37 + seed) & 0xff;
  return out;
}

const ascii = (sizeBytes: number): string => {
  const letters = "abcdefghijklmnopqrstuvwxyz0123456789";
  let out = "";
  for (let i = 0; i < sizeBytes; i++) out += letters[i % letters.length];
  return out;
};

const keysMap = (count: number): JsonValue => Object.fromEntries(Array.from({ length: count }, (_, i) => [`k${i}`, i]));

const payloadHex = (value: JsonValue): string => toHex(encodeValue(fromJson(value)));
const frameHex = (value: JsonValue): string => toHex(frameOf(encodeValue(fromJson(value))));
/** A frame around hand-written payload bytes (for decode-only vectors). */
const frameAround = (hex: string): string => (hex.length / 2).toString(16).padStart(8, "0") + hex;

function encodeVector(name: string, value: JsonValue, note?: string): ValueVector {
  return { name, kind: "encode", hex: payloadHex(value), value, ...(note === undefined ? {} : { note }) };
}

function decodeVector(name: string, hex: string, value: JsonValue, note?: string): ValueVector {
  return { name, kind: "decode", hex, value, ...(note === undefined ? {} : { note }) };
}

function msgpackVectors(): (ValueVector | InvalidVector)[] {
  return [
    encodeVector("nil", null),
    encodeVector("true", true),
    encodeVector("false", false),
    encodeVector("positive fixint 0", 0),
    encodeVector("positive fixint 127", 127),
    encodeVector("uint8 128", 128),
    encodeVector("uint8 255", 255),
    encodeVector("uint16 256", 256),
    encodeVector("uint16 65535", 65535),
    encodeVector("uint32 65536", 65536),
    encodeVector("uint32 4294967295", 4294967295, "the largest request id"),
    encodeVector("negative fixint -1", -1),
    encodeVector("negative fixint -32", -32),
    encodeVector("int8 -33", -33),
    encodeVector("int8 -128", -128),
    encodeVector("int16 -129", -129),
    encodeVector("int16 -32768", -32768),
    encodeVector("int32 -32769", -32769),
    encodeVector("int32 -2147483648", -2147483648),
    encodeVector("float64 1.5", 1.5, "sinkron writes every non-integral number as float64, never float32"),
    encodeVector("float64 -2.25", -2.25),
    encodeVector("float64 0.1", 0.1),
    encodeVector("fixstr empty", ""),
    encodeVector("fixstr PING", "PING"),
    encodeVector("fixstr 31 bytes", ascii(31)),
    encodeVector("str8 32 bytes", ascii(32)),
    encodeVector("str8 255 bytes", ascii(255)),
    encodeVector("str16 256 bytes", ascii(256)),
    encodeVector("fixstr UTF-8 two-byte letters", "héllo", "6 bytes: the header counts UTF-8 bytes, not characters"),
    encodeVector("fixstr UTF-8 three-byte letters", "日本"),
    encodeVector("fixstr UTF-8 four-byte emoji", "😀", "one code point, two UTF-16 units, four UTF-8 bytes"),
    encodeVector("str8 16 characters of 32 UTF-8 bytes", "é".repeat(16), "a str8, not a fixstr: 32 bytes do not fit in 31"),
    encodeVector("bin8 empty", bin(new Uint8Array(0))),
    encodeVector("bin8 4 bytes", bin(new Uint8Array([0x00, 0x01, 0xfe, 0xff]))),
    encodeVector("bin8 255 bytes", bin(pattern(255, 1))),
    encodeVector("bin16 256 bytes", bin(pattern(256, 2))),
    encodeVector("fixarray empty", []),
    encodeVector("fixarray 3 mixed", [1, "a", null]),
    encodeVector("fixarray 15", Array.from({ length: 15 }, (_, i) => i)),
    encodeVector("array16 16", Array.from({ length: 16 }, (_, i) => i)),
    encodeVector("nested arrays", [[1, [2, [3, []]]], []]),
    encodeVector("fixmap empty", {}),
    encodeVector("fixmap 1 entry", { a: 1 }),
    encodeVector("fixmap 15 entries", keysMap(15)),
    encodeVector("map16 16 entries", keysMap(16)),
    encodeVector("nested maps", { a: { b: { c: [1, { d: null }] } }, e: true }),
    encodeVector("map of every type", { s: "x", i: -1, u: 300, f: 1.5, b: bin(new Uint8Array([0x00, 0xff])), n: null, t: true, a: [] }),

    decodeVector("uint8 1", "cc01", 1, "not minimal: any format that holds the value is valid"),
    decodeVector("uint16 1", "cd0001", 1),
    decodeVector("uint32 1", "ce00000001", 1),
    decodeVector("uint64 1", "cf0000000000000001", 1, "Go's vmihailenco/msgpack writes int64 like this by default"),
    decodeVector("uint64 4294967296", "cf0000000100000000", 4294967296),
    decodeVector("int8 1", "d001", 1, "a positive value in a signed format"),
    decodeVector("int16 -1", "d1ffff", -1),
    decodeVector("int32 -1", "d2ffffffff", -1),
    decodeVector("int64 -1", "d3ffffffffffffffff", -1),
    decodeVector("int64 9007199254740991", "d3001fffffffffffff", 9007199254740991, "2^53-1, the largest integer sinkron uses"),
    decodeVector("float32 1.5", "ca3fc00000", float(1.5)),
    decodeVector("float64 1.0", "cb3ff0000000000000", float(1), "a float with an integral value; sinkron accepts it where an integer is expected"),
    decodeVector("str8 empty", "d900", ""),
    decodeVector("str8 1 byte", "d90161", "a"),
    decodeVector("str16 1 byte", "da000161", "a"),
    decodeVector("str32 1 byte", "db0000000161", "a"),
    decodeVector("bin16 1 byte", "c5000101", bin(new Uint8Array([1]))),
    decodeVector("bin32 1 byte", "c60000000101", bin(new Uint8Array([1]))),
    decodeVector("array16 empty", "dc0000", []),
    decodeVector("array16 1 element", "dc000101", [1]),
    decodeVector("array32 1 element", "dd0000000101", [1]),
    decodeVector("map16 empty", "de0000", {}),
    decodeVector("map16 1 entry", "de0001a16101", { a: 1 }),
    decodeVector("map32 1 entry", "df00000001a16101", { a: 1 }),

    { name: "empty input", kind: "invalid", hex: "", reason: "a frame's payload must hold exactly one value" },
    { name: "reserved byte 0xc1", kind: "invalid", hex: "c1", reason: "0xc1 is never used by MessagePack" },
    { name: "truncated array", kind: "invalid", hex: "9201", reason: "an array of 2 with only 1 element" },
    { name: "truncated map", kind: "invalid", hex: "81a161", reason: "a map entry with a key and no value" },
    { name: "truncated str", kind: "invalid", hex: "a56162", reason: "a str of 5 bytes with only 2" },
    { name: "truncated uint16", kind: "invalid", hex: "cd01", reason: "a uint16 with only 1 byte" },
    { name: "two values", kind: "invalid", hex: "c0c0", reason: "a frame's payload must hold exactly one value" },
  ];
}

function request(id: number, command: string, args: JsonValue): { value: JsonValue; envelope: Envelope } {
  return { value: [id, command, args], envelope: { type: "request", id, command, args } };
}

function response(id: number, status: string, value: JsonValue): { value: JsonValue; envelope: Envelope } {
  return { value: [id, status, value], envelope: { type: "response", id, status, value } };
}

function push(kind: string, value: JsonValue): { value: JsonValue; envelope: Envelope } {
  return { value: [0, kind, value], envelope: { type: "push", kind, value } };
}

function encodeFrame(name: string, message: { value: JsonValue; envelope: Envelope }, note?: string): FrameVector {
  return { name, kind: "encode", hex: frameHex(message.value), ...message, ...(note === undefined ? {} : { note }) };
}

function decodeFrame(name: string, payload: string, message: { value: JsonValue; envelope: Envelope }, note: string): FrameVector {
  return { name, kind: "decode", hex: frameAround(payload), ...message, note };
}

const MEMBERS: JsonValue = [
  { id: "n1", address: "127.0.0.1:7001" },
  { id: "n2", address: "127.0.0.1:7002" },
  { id: "n3", address: "127.0.0.1:7003" },
];

/** One error response per code of src/protocol/errors.ts (the test checks none is missing). */
const ERROR_EXAMPLES: [status: string, value: JsonValue][] = [
  ["BAD_REQUEST", { argument: "version", message: "argument 'version' must be an integer, got string" }],
  ["UNKNOWN_COMMAND", { command: "NOPE", message: "unknown command 'NOPE'" }],
  ["NOT_FOUND", { message: "lock 'resource-A' is not held by 'client-1'" }],
  ["TIMEOUT", { message: "lock 'resource-A' was not granted within 5000 ms" }],
  ["DEADLOCK", { message: "waiting would close a cycle", cycle: ["client-1", "client-2"] }],
  ["NOT_LEADER", { message: "no leader is known for group 0" }],
  ["UNAVAILABLE", { message: "no quorum: 1 of 3 members reachable" }],
  ["UNAUTHORIZED", { message: "send HELLO with the node's token first" }],
  ["TOO_LARGE", { argument: "body", message: "argument 'body' must be at most 1048576 bytes" }],
  ["CONFLICT", { message: "a membership change is already in progress" }],
  ["INTERNAL", { message: "internal error in STATUS" }],
];

function frameVectors(): FrameVector[] {
  return [
    encodeFrame("request HELLO without token", request(1, "HELLO", { version: 1 })),
    encodeFrame("request HELLO with token and name", request(2, "HELLO", { version: 1, token: "s3cret", name: "repl" })),
    encodeFrame("request HELLO with nil token", request(21, "HELLO", { version: 1, token: null }), "nil is the same as an absent argument"),
    encodeFrame("request PING", request(3, "PING", {})),
    encodeFrame("request STATUS", request(4, "STATUS", {})),
    encodeFrame("request PING with the largest id", request(4294967295, "PING", {})),
    encodeFrame(
      "request LOCK.ACQUIRE with every argument",
      request(5, "LOCK.ACQUIRE", { name: "resource-A", mode: "exclusive", owner: "client-1", waitMs: 5000, ttlMs: 30000 }),
      "planned command: argument names fixed by the design (PROTOCOL.md §10)",
    ),
    encodeFrame(
      "request Q.PRODUCE with a binary body",
      request(6, "Q.PRODUCE", { queue: "jobs", body: bin(pattern(16, 3)), key: "user-42" }),
      "planned command: argument names fixed by the design (PROTOCOL.md §10)",
    ),
    encodeFrame(
      "request KV.SET with a nested value",
      request(7, "KV.SET", {
        key: "config/app",
        value: { replicas: 3, ratio: 0.75, tags: ["a", "b"], limits: { cpuMs: 1500, memBytes: 268435456, note: null }, enabled: true },
      }),
      "planned command: argument names fixed by the design (PROTOCOL.md §10)",
    ),

    encodeFrame("response OK with a string (PING)", response(3, "OK", "PONG")),
    encodeFrame("response OK with a map (HELLO)", response(1, "OK", { server: "sinkron", version: 1, node: "n1", role: "standalone" })),
    encodeFrame(
      "response OK with a map (STATUS)",
      response(4, "OK", { node: "n1", role: "standalone", term: 0, leader: null, commitIndex: 0, appliedIndex: 0, members: MEMBERS }),
    ),
    encodeFrame("response OK with a map (LOCK.ACQUIRE)", response(5, "OK", { token: 42, mode: "exclusive" })),
    encodeFrame(
      "response OK with an array (Q.CONSUME)",
      response(8, "OK", [{ id: "m-1", body: bin(pattern(16, 3)), key: "user-42", deliveries: 1 }]),
    ),
    encodeFrame("response OK with an empty array", response(9, "OK", []), "Q.CONSUME when nothing came within waitMs"),
    encodeFrame("response OK with nil", response(10, "OK", null), "no command answers nil yet; a client must accept it"),
    ...ERROR_EXAMPLES.map(([status, value], i) => encodeFrame(`response error ${status}`, response(11 + i, status, value))),

    encodeFrame(
      "push BAD_REQUEST for an undecodable frame",
      push("BAD_REQUEST", { message: "frame is not one valid MessagePack value: Unexpected end of MessagePack data" }),
      "the connection stays open",
    ),
    encodeFrame(
      "push TOO_LARGE before close",
      push("TOO_LARGE", { message: "frame of 16777217 bytes exceeds the limit of 16777216 bytes" }),
      "the server closes the connection after writing it",
    ),
    encodeFrame(
      "push TIMEOUT for a stalled frame before close",
      push("TIMEOUT", { message: "no bytes for 30000 ms in the middle of a frame" }),
      "the server closes the connection after writing it",
    ),
    encodeFrame(
      "push UNAVAILABLE for too many connections",
      push("UNAVAILABLE", { message: "too many connections (connectionsMax 10000)" }),
      "sent on a connection over connectionsMax, which is then closed",
    ),

    decodeFrame("request PING in array16, str8 and map16", "dc000301d90450494e47de0000", request(1, "PING", {}), "non-minimal formats are valid"),
    decodeFrame("request PING with the id as uint32", "93ce00000001a450494e4780", request(1, "PING", {}), "non-minimal id"),
    decodeFrame("request PING with the id as uint64", "93cf0000000000000001a450494e4780", request(1, "PING", {}), "non-minimal id in a 64-bit format"),
    decodeFrame(
      "request HELLO with version as uint16 in a map16",
      "9302a548454c4c4fde0001a776657273696f6ecd0001",
      request(2, "HELLO", { version: 1 }),
      "non-minimal args",
    ),
    decodeFrame("response OK in str8", "9303d9024f4ba4504f4e47", response(3, "OK", "PONG"), "non-minimal status string"),
  ];
}

function streamVector(name: string, values: JsonValue[], note: string): StreamVector {
  const frames = values.map((value) => ({ payload: payloadHex(value), value }));
  return { name, hex: values.map(frameHex).join(""), frames, note };
}

function streamVectors(): StreamVector[] {
  return [
    streamVector(
      "client to server: five pipelined requests",
      [
        [1, "HELLO", { version: 1, name: "vectors" }],
        [2, "LOCK.ACQUIRE", { name: "resource-A", mode: "shared", owner: "client-1", waitMs: 1000 }],
        [3, "PING", {}],
        [4, "Q.PRODUCE", { queue: "jobs", body: bin(pattern(300, 5)) }],
        [5, "STATUS", {}],
      ],
      "the Q.PRODUCE frame is over 255 bytes, so its length prefix uses two bytes",
    ),
    streamVector(
      "server to client: answers out of order and a push",
      [
        [1, "OK", { server: "sinkron", version: 1, node: "n2", role: "follower" }],
        [3, "OK", "PONG"],
        [0, "BAD_REQUEST", { message: "frame is not one valid MessagePack value: Unexpected end of MessagePack data" }],
        [5, "OK", { node: "n2", role: "follower", term: 7, leader: "n1", commitIndex: 1042, appliedIndex: 1042, members: MEMBERS }],
        [4, "OK", { id: "jobs/0/1042" }],
        [2, "OK", { token: 17, mode: "shared" }],
      ],
      "request 2 waited for its lock, so later answers overtook it; ids match answers to requests",
    ),
  ];
}

export function buildVectorFiles(): Record<string, string> {
  const file = (description: string, vectors: unknown[]): string =>
    JSON.stringify({ description, convention: CONVENTION, vectors }, null, 2) + "\n";
  return {
    "msgpack.json": file(
      "MessagePack values a sinkron client must encode and decode: hex is one MessagePack value, no frame header.",
      msgpackVectors(),
    ),
    "frames.json": file(
      "Whole frames (4-byte big-endian length, then one MessagePack value) of requests, responses and pushes; envelope says what the frame means.",
      frameVectors(),
    ),
    "stream.json": file(
      "Several frames back to back as they travel on one connection; decode them in order, however the bytes are split.",
      streamVectors(),
    ),
  };
}

if (import.meta.main) {
  const dir = import.meta.dir;
  const isCheck = process.argv.includes("--check");
  let stale = 0;
  for (const [name, text] of Object.entries(buildVectorFiles())) {
    const path = join(dir, name);
    let current: string | null = null;
    try {
      current = readFileSync(path, "utf8");
    } catch {
      current = null;
    }
    if (current === text) continue;
    stale++;
    if (isCheck) {
      process.stderr.write(`stale: ${path}\n`);
    } else {
      writeFileSync(path, text);
      process.stdout.write(`wrote ${path}\n`);
    }
  }
  if (isCheck && stale > 0) process.exit(1);
  if (stale === 0) process.stdout.write("vectors are up to date\n");
}
