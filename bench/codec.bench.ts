// Micro-benchmarks of the codec every request crosses twice: envelope encode/decode, the frame
// decoder on a stream cut at random places, and the frame writer. Run: `bun bench/codec.bench.ts`.
// Each task does a batch of operations so the timer's own cost stays out of ns/op.
import { Bench } from "tinybench";
import { FrameDecoder, FrameWriter, frameOf } from "../src/protocol/frame.ts";
import { decodeValue, encodeValue } from "../src/protocol/msgpack.ts";
import { RequestEncoder } from "./request-encoder.ts";
import { machineInfo } from "./report.ts";
import { seededRandom } from "../src/util/prng.ts";

const OPS_PER_TASK = 1_000;
const STREAM_FRAMES = 1_000;
const CUT_SEED = 0x5eed;


const pingRequest = encodeValue([123_456, "PING", {}]);
const pongResponse = encodeValue([123_456, "OK", "PONG"]);
const lockResponseValue = [123_456, "OK", { token: 42_017, mode: "exclusive" }];
const lockResponse = encodeValue(lockResponseValue);

/** 1,000 small frames (PING requests and typical responses) cut into chunks of 1..200 bytes. */
function streamCutAtRandom(): Uint8Array[] {
  const frames: Uint8Array[] = [];
  for (let i = 0; i < STREAM_FRAMES; i++) frames.push(frameOf(i % 2 === 0 ? encodeValue([i + 1, "PING", {}]) : encodeValue([i + 1, "OK", { token: i, mode: "shared" }])));
  const stream = Buffer.concat(frames);
  const random = seededRandom(CUT_SEED);
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < stream.byteLength; ) {
    const sizeBytes = Math.min(stream.byteLength - at, 1 + Math.floor(random() * 200));
    chunks.push(stream.subarray(at, at + sizeBytes));
    at += sizeBytes;
  }
  return chunks;
}

const chunks = streamCutAtRandom();
// PING requests back to back as one read delivers them: each decode gets a new view, as on a socket.
const pingFrameBytes = frameOf(encodeValue([1_000_000, "PING", {}])).byteLength;
const pingStream = Buffer.concat(Array.from({ length: OPS_PER_TASK }, (_, i) => frameOf(encodeValue([1_000_000 + i, "PING", {}]))));
const decoder = new FrameDecoder();
const writer = new FrameWriter();
const requestEncoder = new RequestEncoder();
const pingTuple = ["PING", {}] as const;
let sink: unknown;

const bench = new Bench({ time: 700, warmupTime: 200 });
bench
  .add("encode PING request [id, \"PING\", {}]", () => {
    for (let i = 0; i < OPS_PER_TASK; i++) sink = encodeValue([i + 1, "PING", {}]);
  })
  .add("decode PING request", () => {
    for (let i = 0; i < OPS_PER_TASK; i++) sink = decodeValue(pingRequest);
  })
  .add("encode response [id, \"OK\", \"PONG\"]", () => {
    for (let i = 0; i < OPS_PER_TASK; i++) sink = encodeValue([i + 1, "OK", "PONG"]);
  })
  .add("decode response PONG", () => {
    for (let i = 0; i < OPS_PER_TASK; i++) sink = decodeValue(pongResponse);
  })
  .add("encode response {token, mode}", () => {
    for (let i = 0; i < OPS_PER_TASK; i++) sink = encodeValue([i + 1, "OK", { token: 42_017 + i, mode: "exclusive" }]);
  })
  .add("decode response {token, mode}", () => {
    for (let i = 0; i < OPS_PER_TASK; i++) sink = decodeValue(lockResponse);
  })
  .add("bench RequestEncoder PING (id patch)", () => {
    for (let i = 0; i < OPS_PER_TASK; i++) sink = requestEncoder.encode(i + 1, pingTuple);
  })
  .add(`FrameDecoder: ${STREAM_FRAMES} frames in ${chunks.length} random chunks`, () => {
    let frames = 0;
    for (const chunk of chunks) {
      decoder.push(chunk);
      while (decoder.next().kind === "frame") frames++;
    }
    if (frames !== STREAM_FRAMES) throw new Error(`decoded ${frames} frames, expected ${STREAM_FRAMES}`);
  })
  .add("decode PING request from a fresh view (as read)", () => {
    for (let i = 0; i < OPS_PER_TASK; i++) sink = decodeValue(pingStream.subarray(i * pingFrameBytes + 4, (i + 1) * pingFrameBytes));
  })
  .add("FrameWriter append PONG response", () => {
    for (let i = 0; i < OPS_PER_TASK; i++) writer.appendPayload(pongResponse);
    writer.consumed(writer.pendingBytes);
  })
  .add("answer PONG: encodeValue + appendPayload", () => {
    for (let i = 0; i < OPS_PER_TASK; i++) writer.appendPayload(encodeValue([i + 1, "OK", "PONG"]));
    writer.consumed(writer.pendingBytes);
  })
  .add("answer PONG: appendSmallValue (server path)", () => {
    for (let i = 0; i < OPS_PER_TASK; i++) writer.appendSmallValue([i + 1, "OK", "PONG"]);
    writer.consumed(writer.pendingBytes);
  });

await bench.run();

const opsPerTask = (name: string) => (name.startsWith("FrameDecoder") ? STREAM_FRAMES : OPS_PER_TASK);
const m = machineInfo();
console.log(`codec micro-benchmarks — ${m.cpuModel}, ${m.cores} cores, bun ${m.bunVersion}, ${new Date().toISOString()}`);
console.log("task".padEnd(52) + "ns/op".padStart(9) + "ops/s".padStart(14) + "±%".padStart(7) + "samples".padStart(9));
for (const task of bench.tasks) {
  const result = task.result;
  if (result.state !== "completed") {
    console.log(`${task.name.padEnd(52)} ${result.state}${"error" in result ? `: ${result.error.message}` : ""}`);
    continue;
  }
  const ops = opsPerTask(task.name);
  const nsPerOp = (result.latency.mean * 1e6) / ops;
  console.log(
    task.name.padEnd(52) +
      nsPerOp.toFixed(1).padStart(9) +
      Math.round(1e9 / nsPerOp).toLocaleString("en-US").padStart(14) +
      result.latency.rme.toFixed(1).padStart(7) +
      String(result.latency.samplesCount).padStart(9),
  );
}
void sink;
