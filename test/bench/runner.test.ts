// The benchmark runner against an in-process node: bounded runs complete, every measured
// request is counted exactly once, failures are tallied by code, and the JSON report has the
// fields scripts rely on. No speed is asserted: these cores are shared and noisy.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SinkronNode } from "../../src/node/node.ts";
import { silentLogger } from "../../src/util/log.ts";
import { parseBenchArgs } from "../../bench/args.ts";
import { EXIT_FAILURES, EXIT_INTERRUPTED, EXIT_OK, executeBench, runBench } from "../../bench/cli.ts";
import { pingWorkload, type BenchRequest, type Workload } from "../../bench/workloads.ts";
import { captureIo } from "./support.ts";

const TOKEN = "s3cret";
let node: SinkronNode;
let tokenNode: SinkronNode;
let dir: string;

function startNode(token: string | null): SinkronNode {
  // Each node locks its own data directory.
  const dataDir = mkdtempSync(join(dir, "node-"));
  const started = new SinkronNode(
    { id: "n1", listen: { host: "127.0.0.1", port: 0 }, peers: [{ id: "n1", address: "127.0.0.1:0" }], dataDir, http: null, redisUrl: null, token, limits: {} },
    silentLogger,
  );
  started.start();
  return started;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "sinkron-bench-test-"));
  node = startNode(null);
  tokenNode = startNode(TOKEN);
});

afterAll(async () => {
  await node.stop();
  await tokenNode.stop();
  rmSync(dir, { recursive: true, force: true });
});

function fixedWorkload(request: BenchRequest, check?: Workload["check"]): () => Workload {
  return () => ({ name: "fixed", next: () => request, check });
}

describe("sinkron bench ping", () => {
  test("a --requests run completes, answers every request once and writes the JSON report", async () => {
    const jsonPath = join(dir, "ping.json");
    const argv = ["ping", "--target", `127.0.0.1:${node.port}`, "--connections", "3", "--pipeline", "16", "--requests", "5000", "--warmup", "0", "--json", jsonPath, "--quiet"];
    const io = captureIo();
    expect(await runBench(argv, io)).toBe(EXIT_OK);

    const report = JSON.parse(readFileSync(jsonPath, "utf8"));
    expect(report).toMatchObject({
      workload: "ping",
      target: `127.0.0.1:${node.port}`,
      connections: 3,
      pipelineDepth: 16,
      requestsRequested: 5000,
      requestsSent: 5000,
      requestsAnswered: 5000,
      requestsOk: 5000,
      requestsFailed: 0,
      errors: {},
      interrupted: false,
      commandLine: `sinkron bench ${argv.join(" ")}`,
    });
    expect(report.throughputOpsPerSec).toBeGreaterThan(0);
    for (const key of ["p50", "p90", "p99", "p99_9", "max"]) expect(report.latencyUs[key]).toBeGreaterThan(0);
    expect(report.latencyUs.p50).toBeLessThanOrEqual(report.latencyUs.p99);
    expect(report.latencyUs.p99).toBeLessThanOrEqual(report.latencyUs.max);
    expect(report.machine.cores).toBeGreaterThan(0);
    expect(typeof report.machine.cpuModel).toBe("string");
    expect(report.machine.bunVersion).toBe(Bun.version);
    expect(Number.isNaN(Date.parse(report.date))).toBe(false);

    const text = io.out.join("");
    expect(text).toContain("throughput");
    expect(text).toContain("p99.9");
    expect(text).toContain("errors      none");
  });

  test("a warmed-up run counts only measured requests, and the progress line appears", async () => {
    const options = parseBenchArgs(["ping", "--target", `127.0.0.1:${node.port}`, "--pipeline", "4", "--requests", "3000", "--warmup", "1100ms"]);
    const io = captureIo();
    const { exitCode, report } = await executeBench(options, pingWorkload, "test", io);
    expect(exitCode).toBe(EXIT_OK);
    expect(report!.requestsSent).toBe(3000);
    expect(report!.requestsAnswered).toBe(3000);
    expect(report!.requestsOk).toBe(3000);
    // Not a TTY: plain lines, one per second, the first during warmup.
    expect(io.err.join("")).toMatch(/\[\s*1s\] warmup .* ops\/s/);
  });

  test("a duration run stops by itself", async () => {
    const options = parseBenchArgs(["ping", "--target", `127.0.0.1:${node.port}`, "--pipeline", "8", "--duration", "300ms", "--warmup", "0", "--quiet"]);
    const { exitCode, report } = await executeBench(options, pingWorkload, "test", captureIo());
    expect(exitCode).toBe(EXIT_OK);
    expect(report!.requestsAnswered).toBeGreaterThan(0);
    expect(report!.requestsAnswered).toBe(report!.requestsSent);
    expect(report!.elapsedMs).toBeGreaterThanOrEqual(250);
  });
});

describe("failures are counted by code", () => {
  const target = () => ["--target", `127.0.0.1:${node.port}`, "--warmup", "0", "--quiet"];

  test("an unknown command: every answer is an UNKNOWN_COMMAND failure", async () => {
    const options = parseBenchArgs(["bad", ...target(), "--pipeline", "8", "--requests", "1000"]);
    const { exitCode, report } = await executeBench(options, fixedWorkload(["NO.SUCH.COMMAND", {}]), "test", captureIo());
    expect(exitCode).toBe(EXIT_FAILURES);
    expect(report!.requestsAnswered).toBe(1000);
    expect(report!.requestsOk).toBe(0);
    expect(report!.requestsFailed).toBe(1000);
    expect(Object.keys(report!.errors)).toEqual(["UNKNOWN_COMMAND"]);
    expect(report!.errors.UNKNOWN_COMMAND!.count).toBe(1000);
    expect(report!.errors.UNKNOWN_COMMAND!.message).toContain("NO.SUCH.COMMAND");
  });

  test("good and bad requests mixed: each is counted once under its own code", async () => {
    const requests: BenchRequest[] = [["PING", {}], ["NO.SUCH", {}], ["PING", { unexpected: 1 }]];
    let n = 0;
    const mixed = (): Workload => ({ name: "mixed", next: () => requests[n++ % 3]!, check: (_r, v) => v === "PONG" });
    const options = parseBenchArgs(["mixed", ...target(), "--connections", "1", "--pipeline", "32", "--requests", "3000"]);
    const { report } = await executeBench(options, mixed, "test", captureIo());
    expect(report!.requestsAnswered).toBe(3000);
    expect(report!.requestsOk).toBe(1000);
    expect(report!.errors.UNKNOWN_COMMAND!.count).toBe(1000);
    expect(report!.errors.BAD_REQUEST!.count).toBe(1000);
    expect(report!.requestsFailed).toBe(2000);
    // The same answers by command: PING's two forms share one entry.
    expect(Object.keys(report!.commands).sort()).toEqual(["NO.SUCH", "PING"]);
    expect(report!.commands.PING).toMatchObject({ answered: 2000, ok: 1000 });
    expect(report!.commands["NO.SUCH"]).toMatchObject({ answered: 1000, ok: 0 });
    expect(report!.commands.PING!.latencyUs.p50).toBeGreaterThan(0);
  });

  test("a unit counts the OK answers of its command", async () => {
    const requests: BenchRequest[] = [["PING", {}], ["NO.SUCH", {}]];
    let n = 0;
    const options = parseBenchArgs(["mixed", ...target(), "--pipeline", "8", "--requests", "400"]);
    const io = captureIo();
    const { report } = await executeBench(options, () => ({ name: "mixed", next: () => requests[n++ % 2]! }), "test", io, { name: "pongs", command: "PING" });
    expect(report!.unit).toMatchObject({ name: "pongs", command: "PING", count: 200 });
    expect(io.out.join("")).toMatch(/pongs\s+[\d,]+ pongs\/s {2}\(200 PING answered OK\)/);
    expect(io.out.join("")).toMatch(/by command {2}(PING|NO\.SUCH) +[\d,]+ ops\/s {2}p50 .*\n {12}(PING|NO\.SUCH) +[\d,]+ ops\/s/);
  });

  test("an OK answer the workload's check refuses is UNEXPECTED_VALUE", async () => {
    const options = parseBenchArgs(["ping", ...target(), "--requests", "200"]);
    const { report } = await executeBench(options, fixedWorkload(["PING", {}], (_r, v) => v === "PANG"), "test", captureIo());
    expect(report!.errors.UNEXPECTED_VALUE!.count).toBe(200);
    expect(report!.errors.UNEXPECTED_VALUE!.message).toContain("PONG");
  });
});

describe("setup, tokens and interruption", () => {
  test("a node with a token: the right token runs, a wrong one fails before any load", async () => {
    const base = ["ping", "--target", `127.0.0.1:${tokenNode.port}`, "--requests", "100", "--warmup", "0", "--quiet"];
    expect(await runBench([...base, "--token", TOKEN], captureIo())).toBe(EXIT_OK);
    const io = captureIo();
    expect(await runBench([...base, "--token", "wrong"], io)).toBe(EXIT_FAILURES);
    expect(io.err.join("")).toContain("UNAUTHORIZED");
  });

  test("nothing listening: a clear error and exit 1", async () => {
    const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const port = probe.port;
    probe.stop(true);
    const io = captureIo();
    expect(await runBench(["ping", "--target", `127.0.0.1:${port}`, "--requests", "10", "--quiet"], io)).toBe(EXIT_FAILURES);
    expect(io.err.join("")).toContain("cannot run against");
  });

  test("an abort (Ctrl-C) stops a long run at once and reports what was measured", async () => {
    const abort = new AbortController();
    const options = parseBenchArgs(["ping", "--target", `127.0.0.1:${node.port}`, "--duration", "60s", "--warmup", "0", "--quiet"]);
    setTimeout(() => abort.abort(), 300);
    const startedMs = performance.now();
    const { exitCode, report } = await executeBench(options, pingWorkload, "test", captureIo(abort.signal));
    expect(performance.now() - startedMs).toBeLessThan(5_000);
    expect(exitCode).toBe(EXIT_INTERRUPTED);
    expect(report!.interrupted).toBe(true);
    expect(report!.requestsAnswered).toBeGreaterThan(0);
    expect(report!.requestsFailed).toBe(0);
  });
});
