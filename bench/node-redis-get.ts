// The cache benchmark's reference row: GETs through node-redis against Redis itself, one
// connection with N commands in flight (node-redis pipelines what is sent in one tick), the way
// `sinkron bench cache-hit --pipeline N` reads sinkron's cache. Prints ops/s and p50/p99.
//   bun bench/node-redis-get.ts [redis://127.0.0.1:6379] [--inflight 64] [--duration 5s] [--keys 100] [--value-bytes 100]
import { createClient } from "redis";
import { parseDurationMs } from "./args.ts";
import { LatencyRecorder, summarizeLatencyUs } from "./histogram.ts";

const args = process.argv.slice(2);
const flag = (name: string, fallback: string) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? args[at + 1]! : fallback;
};
const url = args.find((a) => a.startsWith("redis://")) ?? "redis://127.0.0.1:6379";
const inflight = Number(flag("inflight", "64"));
const durationMs = parseDurationMs(flag("duration", "5s")) ?? 5000;
const keyCount = Number(flag("keys", "100"));
const value = "v".repeat(Number(flag("value-bytes", "100")));

const client = createClient({ url });
client.on("error", (error: Error) => process.stderr.write(`redis: ${error.message}\n`));
await client.connect();
const keys = Array.from({ length: keyCount }, (_, i) => `nrbench:${i}`);
await Promise.all(keys.map((key) => client.set(key, value)));

const latencies = new LatencyRecorder();
let done = 0;
let next = 0;
let measuring = false;
const endAtMs = performance.now() + 1000 + durationMs;
const measureFromMs = performance.now() + 1000;
let startedMs = 0;

async function loop(): Promise<void> {
  while (performance.now() < endAtMs) {
    const key = keys[next++ % keyCount]!;
    const sentMs = performance.now();
    const got = await client.get(key);
    if (got !== value) throw new Error(`unexpected value for ${key}`);
    const nowMs = performance.now();
    if (!measuring && nowMs >= measureFromMs) {
      measuring = true;
      startedMs = nowMs;
    }
    if (measuring) {
      done++;
      latencies.record((nowMs - sentMs) * 1000);
    }
  }
}
await Promise.all(Array.from({ length: inflight }, loop));
const seconds = (performance.now() - startedMs) / 1000;
console.log(`node-redis GET  ${url}  1 connection × ${inflight} in flight`);
console.log(`throughput  ${Math.round(done / seconds).toLocaleString("en-US")} ops/s  (${done.toLocaleString("en-US")} answers in ${seconds.toFixed(2)} s)`);
latencies.flush();
const summary = summarizeLatencyUs(latencies.histogram);
console.log(`latency µs  p50 ${summary.p50}  p99 ${summary.p99}`);
await client.quit();
