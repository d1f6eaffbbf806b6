// Produces the README's PING rows: sinkron's framed PING next to `redis-benchmark -t ping`, run
// the same way (connections × pipeline) on the same machine, interleaved and repeated so both
// see the same noise; prints medians as a markdown table. Needs redis-server/redis-benchmark.
//   bun bench/compare-redis.ts [--reps 3] [--duration 5s] [--setup 1x64]… [--serve label=path/to/serve-one.ts]…
// Several --serve scripts (e.g. a copy of the server before a change) are compared side by side.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseDurationMs } from "./args.ts";
import { machineInfo, type BenchReport } from "./report.ts";

interface Setup {
  connections: number;
  pipelineDepth: number;
  /** redis-benchmark -n: enough for a few seconds here (it has no duration flag). */
  redisRequests: number;
}

const SETUPS: Setup[] = [
  { connections: 1, pipelineDepth: 1, redisRequests: 100_000 },
  { connections: 1, pipelineDepth: 64, redisRequests: 5_000_000 },
  { connections: 50, pipelineDepth: 1, redisRequests: 250_000 },
];

interface Sample {
  opsPerSec: number;
  p50Us: number;
  p99Us: number;
}

const bun = process.execPath;
const here = import.meta.dir;

interface CompareFlags {
  reps: number;
  durationText: string;
  servers: [string, string][];
  setups: Setup[];
  withRedis: boolean;
}

const COMPARE_USAGE = "usage: bun bench/compare-redis.ts [--reps N] [--duration 5s] [--setup 1x1|1x64|50x1]… [--serve label=serve-one.ts]… [--no-redis]";

function readFlags(argv: string[]): CompareFlags {
  const flags: CompareFlags = { reps: 3, durationText: "5s", servers: [], setups: [], withRedis: true };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === "--no-redis") {
      flags.withRedis = false;
      continue;
    }
    const value = argv[++i] ?? "";
    const setup = SETUPS.find((s) => `${s.connections}x${s.pipelineDepth}` === value);
    if (flag === "--reps" && Number.isInteger(Number(value)) && Number(value) >= 1) flags.reps = Number(value);
    else if (flag === "--duration" && parseDurationMs(value) !== null) flags.durationText = value;
    else if (flag === "--serve" && value.includes("=")) flags.servers.push(value.split("=", 2) as [string, string]);
    else if (flag === "--setup" && setup !== undefined) flags.setups.push(setup);
    else {
      process.stderr.write(`${COMPARE_USAGE}\n(bad: ${flag} ${value})\n`);
      process.exit(2);
    }
  }
  if (flags.servers.length === 0) flags.servers.push(["sinkron", join(here, "serve-one.ts")]);
  if (flags.setups.length === 0) flags.setups = SETUPS;
  return flags;
}

/** Resolves once something accepts connections on the port (redis-server has no ready line). */
async function waitForPort(port: number, timeoutMs = 5_000): Promise<void> {
  const deadlineMs = performance.now() + timeoutMs;
  for (;;) {
    try {
      const socket = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } });
      socket.end();
      return;
    } catch (error) {
      if (performance.now() > deadlineMs) throw new Error(`nothing listens on ${port} after ${timeoutMs} ms: ${(error as Error).message}`);
      await Bun.sleep(50);
    }
  }
}

function freePort(): number {
  const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = probe.port;
  probe.stop(true);
  return port;
}

async function startServer(script: string, port: number): Promise<Bun.Subprocess> {
  const child = Bun.spawn([bun, script, String(port)], { stdout: "pipe", stderr: "inherit" });
  const reader = child.stdout.getReader();
  const { value } = await reader.read();
  reader.releaseLock();
  if (!new TextDecoder().decode(value).startsWith("listening")) throw new Error(`${script} did not start`);
  return child;
}

async function runSinkron(port: number, setup: Setup, durationText: string, jsonPath: string): Promise<Sample> {
  const argv = [bun, join(here, "run.ts"), "ping", "--target", `127.0.0.1:${port}`, "--connections", String(setup.connections), "--pipeline", String(setup.pipelineDepth), "--duration", durationText, "--warmup", "1s", "--json", jsonPath, "--quiet"];
  const child = Bun.spawn(argv, { stdout: "ignore", stderr: "inherit" });
  if ((await child.exited) !== 0) throw new Error(`sinkron bench failed: ${argv.join(" ")}`);
  const report = JSON.parse(readFileSync(jsonPath, "utf8")) as BenchReport;
  return { opsPerSec: report.throughputOpsPerSec, p50Us: report.latencyUs.p50, p99Us: report.latencyUs.p99 };
}

/** Runs redis-benchmark -t ping; returns PING_MBULK (RESP-framed, the fair twin) and PING_INLINE. */
async function runRedis(port: number, setup: Setup): Promise<{ mbulk: Sample; inline: Sample }> {
  const argv = ["redis-benchmark", "-h", "127.0.0.1", "-p", String(port), "-t", "ping", "-c", String(setup.connections), "-P", String(setup.pipelineDepth), "-n", String(setup.redisRequests), "--csv"];
  const child = Bun.spawn(argv, { stdout: "pipe", stderr: "ignore" });
  const text = await new Response(child.stdout).text();
  await child.exited;
  const rows = new Map<string, Sample>();
  for (const line of text.trim().split("\n").slice(1)) {
    const cells = line.split(",").map((c) => c.replaceAll("\"", ""));
    rows.set(cells[0]!, { opsPerSec: Number(cells[1]), p50Us: Number(cells[4]) * 1000, p99Us: Number(cells[6]) * 1000 });
  }
  const mbulk = rows.get("PING_MBULK");
  const inline = rows.get("PING_INLINE");
  if (mbulk === undefined || inline === undefined) throw new Error(`unexpected redis-benchmark output:\n${text}`);
  return { mbulk, inline };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function medianSample(samples: Sample[]): Sample {
  return { opsPerSec: median(samples.map((s) => s.opsPerSec)), p50Us: median(samples.map((s) => s.p50Us)), p99Us: median(samples.map((s) => s.p99Us)) };
}

const int = (n: number) => Math.round(n).toLocaleString("en-US");

async function main(): Promise<void> {
  const { reps, durationText, servers, setups, withRedis } = readFlags(process.argv.slice(2));
  const dir = mkdtempSync(join(tmpdir(), "sinkron-compare-"));
  const redisPort = freePort();
  const redis = withRedis
    ? Bun.spawn(["redis-server", "--save", "", "--appendonly", "no", "--port", String(redisPort), "--bind", "127.0.0.1"], { stdout: "ignore", stderr: "inherit" })
    : null;
  const started = await Promise.all(servers.map(async ([label, script]) => ({ label, port: freePort(), script })));
  const children = await Promise.all(started.map((s) => startServer(s.script, s.port)));
  if (redis !== null) await waitForPort(redisPort);
  const samples = new Map<string, Sample[]>();
  const add = (key: string, sample: Sample) => samples.set(key, [...(samples.get(key) ?? []), sample]);
  try {
    for (let rep = 1; rep <= reps; rep++) {
      for (const setup of setups) {
        const shape = `c${setup.connections} P${setup.pipelineDepth}`;
        for (const server of started) {
          const sample = await runSinkron(server.port, setup, durationText, join(dir, "run.json"));
          add(`${server.label}|${shape}`, sample);
          process.stderr.write(`rep ${rep} ${shape} ${server.label}: ${int(sample.opsPerSec)} ops/s p50 ${sample.p50Us} µs p99 ${sample.p99Us} µs\n`);
        }
        if (redis !== null) {
          const { mbulk, inline } = await runRedis(redisPort, setup);
          add(`redis PING_MBULK|${shape}`, mbulk);
          add(`redis PING_INLINE|${shape}`, inline);
          process.stderr.write(`rep ${rep} ${shape} redis: MBULK ${int(mbulk.opsPerSec)} rps, INLINE ${int(inline.opsPerSec)} rps\n`);
        }
      }
    }
  } finally {
    for (const child of children) child.kill("SIGTERM");
    redis?.kill("SIGTERM");
    await Promise.all([...children.map((c) => c.exited), redis?.exited]);
    rmSync(dir, { recursive: true, force: true });
  }
  const m = machineInfo();
  console.log(`\nPING, medians of ${reps} interleaved runs — ${m.cpuModel}, ${m.cores} cores, bun ${m.bunVersion}, ${new Date().toISOString().slice(0, 10)}\n`);
  console.log("| setup | server | ops/s | p50 µs | p99 µs | vs redis PING_MBULK |");
  console.log("| --- | --- | ---: | ---: | ---: | ---: |");
  for (const setup of setups) {
    const shape = `c${setup.connections} P${setup.pipelineDepth}`;
    const redisMedian = samples.has(`redis PING_MBULK|${shape}`) ? medianSample(samples.get(`redis PING_MBULK|${shape}`)!) : null;
    for (const label of [...started.map((s) => s.label), "redis PING_MBULK", "redis PING_INLINE"]) {
      const list = samples.get(`${label}|${shape}`);
      if (list === undefined) continue;
      const s = medianSample(list);
      const ratio = redisMedian === null ? "" : `${(s.opsPerSec / redisMedian.opsPerSec).toFixed(2)}×`;
      console.log(`| ${setup.connections} conn × ${setup.pipelineDepth} in flight | ${label} | ${int(s.opsPerSec)} | ${int(s.p50Us)} | ${int(s.p99Us)} | ${ratio} |`);
    }
  }
  console.log("\nall runs (ops/s):");
  for (const [key, list] of samples) console.log(`  ${key.replace("|", "  ")}: ${list.map((s) => int(s.opsPerSec)).join(", ")}`);
}

await main();
