// `sinkron bench http …`: the original report's three Locust scenarios (lock, queue, cache;
// 10 users each) against the nodes' HTTP API, one after the other. Each is measured and
// printed as any workload (executeRun: phases, progress, report), with the original's figures
// and the ratio under it, then a table of all of them side by side. Exit 1 on any failure or
// stale read, as the other workloads.
import { writeFileSync } from "node:fs";
import { BATCH_DEFAULT, BENCH_USAGE, BenchUsageError, KEYS_DEFAULT, MESSAGES_DEFAULT, parseHttpBenchArgs, QUEUE_DEFAULT, VALUE_BYTES_DEFAULT, type BenchOptions, type HttpBenchOptions, type HttpScenarioName } from "./args.ts";
import { commandLineOf, EXIT_FAILURES, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, executeRun, type BenchIo, type BenchReportWithSections } from "./cli.ts";
import { driveHttpScenario, HttpScenarioTally, LOCK_RESOURCES, SCENARIO_UNITS } from "./http-scenarios.ts";
import type { BenchReport } from "./report.ts";
import type { ReportSection } from "./workloads.ts";

/** The original report's Locust figures (3 nodes, 10 users each): requests/s as a range, and its failure rate. */
export const ORIGINAL: Record<HttpScenarioName, { rpsMin: number; rpsMax: number; failures: string }> = {
  lock: { rpsMin: 84, rpsMax: 98, failures: "up to 49%" },
  queue: { rpsMin: 266, rpsMax: 294, failures: "0%" },
  cache: { rpsMin: 176, rpsMax: 176, failures: "0%" },
};
/** Issue 8's target: at least this many times the original's best figure, with no failure. */
export const TARGET_TIMES = 50;

const SCENARIO_LINES: Record<HttpScenarioName, string> = {
  lock: `POST /lock ACQUIRE_EXCLUSIVE of one of ${LOCK_RESOURCES.join("/")} (timeout_ms 5000, ttl_ms 10000), then RELEASE`,
  queue: "POST /produce, GET /consume?wait_ms=5000 (204 is EMPTY), POST /ack of the message got",
  cache: "POST /write of user-<u>-<n> on node i, GET /read of it on node i+1 (another value or 404 is STALE)",
};

export async function runHttpBench(argv: readonly string[], io: BenchIo): Promise<number> {
  let options: HttpBenchOptions;
  try {
    options = parseHttpBenchArgs(argv);
  } catch (error) {
    if (!(error instanceof BenchUsageError)) throw error;
    io.stderr.write(`sinkron bench http: ${error.message}\n\n${BENCH_USAGE}`);
    return EXIT_USAGE;
  }
  try {
    await Promise.all(options.bases.map((base) => fetch(`${base}/health`, { signal: AbortSignal.timeout(5_000) }).then((response) => response.arrayBuffer())));
  } catch (error) {
    io.stderr.write(`sinkron bench http: setup failed: cannot reach ${options.bases.join(", ")}: ${(error as Error).message}\n`);
    return EXIT_FAILURES;
  }
  const commandLine = commandLineOf(["http", ...argv]);
  const reports: BenchReportWithSections[] = [];
  let exitCode = EXIT_OK;
  for (const scenario of options.scenarios) {
    const tally = new HttpScenarioTally();
    const runOptions = benchOptionsOf(options, scenario);
    const outcome = await executeRun(
      runOptions,
      (hooks) => driveHttpScenario({ scenario, users: options.users, durationMs: options.durationMs, warmupMs: options.warmupMs, bases: options.bases, token: options.token }, hooks, tally),
      commandLine,
      io,
      SCENARIO_UNITS[scenario],
      async (report) => [httpSection(scenario, options, tally, report)],
    );
    io.stdout.write("\n");
    if (outcome.report !== null) reports.push(outcome.report);
    if (outcome.exitCode === EXIT_INTERRUPTED) {
      exitCode = EXIT_INTERRUPTED;
      break;
    }
    if (outcome.exitCode !== EXIT_OK) exitCode = EXIT_FAILURES;
  }
  io.stdout.write(comparisonTable(reports));
  if (options.jsonPath !== null) writeFileSync(options.jsonPath, JSON.stringify({ commandLine, scenarios: reports }, null, 2) + "\n");
  return exitCode;
}

/** The options executeRun and the report read: the first node as the target, a user as a connection. */
function benchOptionsOf(options: HttpBenchOptions, scenario: HttpScenarioName): BenchOptions {
  const first = new URL(options.bases[0]!);
  const port = first.port !== "" ? Number(first.port) : first.protocol === "https:" ? 443 : 80;
  return {
    workload: `http-${scenario}`,
    target: { host: first.hostname, port },
    connections: options.users,
    pipelineDepth: 1,
    durationMs: options.durationMs,
    requestsTotal: null,
    warmupMs: options.warmupMs,
    jsonPath: null,
    token: options.token,
    showProgress: options.showProgress,
    keys: KEYS_DEFAULT,
    valueBytes: VALUE_BYTES_DEFAULT,
    queue: QUEUE_DEFAULT,
    batch: BATCH_DEFAULT,
    messages: MESSAGES_DEFAULT,
  };
}

function failurePercent(report: BenchReport): number {
  const total = report.requestsAnswered + (report.requestsFailed - (report.requestsAnswered - report.requestsOk));
  return total === 0 ? 0 : (100 * report.requestsFailed) / total;
}

function timesOriginal(scenario: HttpScenarioName, requestsPerSec: number): { min: number; max: number; text: string } {
  const { rpsMin, rpsMax } = ORIGINAL[scenario];
  const min = requestsPerSec / rpsMax;
  const max = requestsPerSec / rpsMin;
  return { min, max, text: rpsMin === rpsMax ? `${times(min)}×` : `${times(min)}–${times(max)}×` };
}

const times = (x: number) => (x >= 10 ? int.format(x) : x.toFixed(1));

/** The lines under the report: the users and nodes, the failure rate, the original's figures and the ratio. */
function httpSection(scenario: HttpScenarioName, options: HttpBenchOptions, tally: HttpScenarioTally, report: BenchReport): ReportSection {
  const original = ORIGINAL[scenario];
  const rps = report.throughputOpsPerSec;
  const ratio = timesOriginal(scenario, rps);
  const percent = failurePercent(report);
  const isMet = ratio.min >= TARGET_TIMES && report.requestsFailed === 0 && tally.staleReads === 0;
  const lines = [
    `${options.users} user${options.users === 1 ? "" : "s"} over ${options.bases.length} node${options.bases.length === 1 ? "" : "s"} (${options.bases.join(", ")}): ${SCENARIO_LINES[scenario]}`,
    `${int.format(rps)} requests/s, failures ${int.format(report.requestsFailed)} (${percent.toFixed(2)}%)`,
    `original ${rangeText(scenario)} requests/s, failures ${original.failures}: ${ratio.text}; target ≥ ${TARGET_TIMES}× with 0% failures ${isMet ? "met" : "NOT met"}`,
  ];
  if (scenario === "cache") lines.push(`stale reads ${int.format(tally.staleReads)} of ${int.format(tally.reads)} reads (warmup included)${tally.firstStale === null ? "" : `; first: ${tally.firstStale}`}`);
  return {
    name: "http",
    lines,
    failures: tally.staleReads,
    json: {
      scenario,
      users: options.users,
      bases: options.bases,
      requestsPerSec: rps,
      failures: report.requestsFailed,
      failurePercent: Math.round(percent * 100) / 100,
      original: { requestsPerSecMin: original.rpsMin, requestsPerSecMax: original.rpsMax, failures: original.failures },
      timesOriginal: { min: Math.round(ratio.min * 10) / 10, max: Math.round(ratio.max * 10) / 10 },
      targetMet: isMet,
      reads: tally.reads,
      staleReads: tally.staleReads,
      firstStale: tally.firstStale,
    },
  };
}

const rangeText = (scenario: HttpScenarioName) => (ORIGINAL[scenario].rpsMin === ORIGINAL[scenario].rpsMax ? `${ORIGINAL[scenario].rpsMin}` : `${ORIGINAL[scenario].rpsMin}–${ORIGINAL[scenario].rpsMax}`);

/** Every scenario run, one row each, next to the original's figures. */
function comparisonTable(reports: readonly BenchReportWithSections[]): string {
  const header = ["scenario", "users", "requests/s", "failures", "p50 ms", "p90 ms", "p99 ms", "original RPS", "original failures", "× original"];
  const rows = reports.map((report) => {
    const scenario = report.workload.replace(/^http-/, "") as HttpScenarioName;
    const ms = (us: number) => (us / 1000).toFixed(us >= 10_000 ? 0 : 1);
    return [
      scenario,
      String(report.connections),
      int.format(report.throughputOpsPerSec),
      `${int.format(report.requestsFailed)} (${failurePercent(report).toFixed(2)}%)`,
      ms(report.latencyUs.p50),
      ms(report.latencyUs.p90),
      ms(report.latencyUs.p99),
      rangeText(scenario),
      ORIGINAL[scenario].failures,
      timesOriginal(scenario, report.throughputOpsPerSec).text,
    ];
  });
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c]!.length)));
  const line = (cells: string[]) => cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  ").trimEnd();
  return [`against the original report (target ≥ ${TARGET_TIMES}× with 0% failures)`, line(header), ...rows.map(line)].join("\n") + "\n";
}

const int = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
