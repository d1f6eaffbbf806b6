// Measures PING round trips per second through the client over ONE connection, against a
// node in another process, at 1 and 64 calls in flight (issue 3: target >= 300k/s at 64).
// Also prints CPU time per call of each side, which says which one limits the rate and is
// steadier than calls/s on shared cores. Not a test: run it by hand.
// usage: bun test/client/support/measure-ping.ts [durationMs]   (MEASURE_ONLY_64=1 to skip 1)
import { readFileSync } from "node:fs";
import { connect } from "../../../src/client/index.ts";

const durationMs = Number(process.argv[2] ?? 3000);
const server = Bun.spawn([process.execPath, `${import.meta.dir}/node-process.ts`, "0"], { stdout: "pipe", stderr: "inherit" });
const port = await readPort(server.stdout);
const client = await connect({ nodes: [`127.0.0.1:${port}`] });

async function readPort(stdout: ReadableStream<Uint8Array>): Promise<number> {
  const reader = stdout.getReader();
  let text = "";
  while (!/PORT (\d+)/.test(text)) {
    const { value, done } = await reader.read();
    if (done) throw new Error("node process exited");
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  return Number(/PORT (\d+)/.exec(text)![1]);
}

/** The node process's user+system CPU time in ms (Linux /proc; clock ticks of 10 ms). */
function serverCpuMs(): number {
  try {
    const fields = readFileSync(`/proc/${server.pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return 0;
  }
}

async function run(inflight: number): Promise<{ callsPerSecond: number; line: string }> {
  let calls = 0;
  const endMs = performance.now() + durationMs;
  const worker = async () => {
    while (performance.now() < endMs) {
      await client.ping();
      calls++;
    }
  };
  const before = { stats: client.stats(), cpu: process.cpuUsage(), serverMs: serverCpuMs(), atMs: performance.now() };
  await Promise.all(Array.from({ length: inflight }, worker));
  const elapsedMs = performance.now() - before.atMs;
  const cpu = process.cpuUsage(before.cpu);
  const stats = client.stats();
  const writesPerCall = (stats.writes - before.stats.writes) / (stats.requestsSent - before.stats.requestsSent);
  const clientUsPerCall = (cpu.user + cpu.system) / calls;
  const serverUsPerCall = ((serverCpuMs() - before.serverMs) * 1000) / calls;
  const line = `cpu per call: client ${clientUsPerCall.toFixed(2)} us, node ${serverUsPerCall.toFixed(2)} us; socket writes per call ${writesPerCall.toFixed(3)}`;
  return { callsPerSecond: calls / (elapsedMs / 1000), line };
}

await run(64); // warm-up: JIT both sides
for (const inflight of process.env.MEASURE_ONLY_64 ? [64] : [1, 64]) {
  const { callsPerSecond, line } = await run(inflight);
  console.log(`PING in flight ${inflight}: ${Math.round(callsPerSecond).toLocaleString("en-US")} calls/s (${line})`);
}
await client.close();
server.kill("SIGTERM");
await server.exited;
