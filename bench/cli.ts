// `sinkron bench <workload> …`: parses the flags, runs the workload with the generic runner,
// prints the report (and writes it as JSON), and turns Ctrl-C into "stop and report what was
// measured". Exit codes: 0 every measured request OK, 1 failures or no connection, 2 usage,
// 130 interrupted.
import { writeFileSync } from "node:fs";
import { BENCH_USAGE, BenchUsageError, parseBenchArgs, type BenchOptions } from "./args.ts";
import { ProgressLine, type ProgressOutput } from "./progress.ts";
import { buildReport, formatReport, type BenchReport } from "./report.ts";
import { runLoad } from "./runner.ts";
import { WORKLOADS, type BenchRequest, type Workload, type WorkUnit } from "./workloads.ts";
import { connect } from "../src/client/index.ts";
import { formatAddress } from "../src/util/address.ts";

export interface BenchIo {
  stdout: ProgressOutput;
  stderr: ProgressOutput;
  /** Ctrl-C; by default SIGINT of this process while the run lasts. */
  signal?: AbortSignal;
}

export interface BenchOutcome {
  exitCode: number;
  report: BenchReport | null;
}

export const EXIT_OK = 0;
export const EXIT_FAILURES = 1;
export const EXIT_USAGE = 2;
export const EXIT_INTERRUPTED = 130;

const defaultIo = (): BenchIo => ({ stdout: process.stdout, stderr: process.stderr });

export async function runBench(argv: string[], io: BenchIo = defaultIo()): Promise<number> {
  if (argv.length === 0 || argv.includes("--help") || argv.includes("-h") || argv[0] === "help") {
    io.stdout.write(BENCH_USAGE);
    return argv.length === 0 ? EXIT_USAGE : EXIT_OK;
  }
  let options: BenchOptions;
  try {
    options = parseBenchArgs(argv);
  } catch (error) {
    if (!(error instanceof BenchUsageError)) throw error;
    io.stderr.write(`sinkron bench: ${error.message}\n\n${BENCH_USAGE}`);
    return EXIT_USAGE;
  }
  const spec = WORKLOADS[options.workload]?.(options);
  if (spec === undefined) {
    io.stderr.write(`sinkron bench: unknown workload '${options.workload}' (known: ${Object.keys(WORKLOADS).join(", ")})\n`);
    return EXIT_USAGE;
  }
  if (spec.setup !== undefined) {
    try {
      await runSetup(options, spec.setup);
    } catch (error) {
      io.stderr.write(`sinkron bench: setup failed: ${(error as Error).message}\n`);
      return EXIT_FAILURES;
    }
  }
  return (await executeBench(options, spec.make, commandLineOf(argv), io, spec.unit)).exitCode;
}

/** Completes the setup requests with the client library, 256 in flight. */
async function runSetup(options: BenchOptions, requests: readonly BenchRequest[]): Promise<void> {
  const client = await connect({ nodes: [formatAddress(options.target)], token: options.token ?? undefined, nodeOrder: "in-order" });
  try {
    for (let at = 0; at < requests.length; at += 256) {
      await Promise.all(requests.slice(at, at + 256).map(([command, args]) => client.call(command, args)));
    }
  } finally {
    await client.close();
  }
}

/** Runs a parsed benchmark with any workload (tests pass their own). */
export async function executeBench(options: BenchOptions, workload: () => Workload, commandLine: string, io: BenchIo, unit?: WorkUnit): Promise<BenchOutcome> {
  const progress = options.showProgress ? new ProgressLine(io.stderr) : null;
  const interrupt = new AbortController();
  const onSigint = () => interrupt.abort();
  const signal = io.signal ?? interrupt.signal;
  if (io.signal === undefined) process.on("SIGINT", onSigint);
  try {
    const measured = await runLoad(options, workload, { signal, onTick: progress === null ? undefined : (tick) => progress.update(tick) });
    progress?.finish();
    const report = buildReport(options, measured, commandLine, unit);
    io.stdout.write(formatReport(report));
    if (options.jsonPath !== null) writeFileSync(options.jsonPath, JSON.stringify(report, null, 2) + "\n");
    const exitCode = report.interrupted ? EXIT_INTERRUPTED : report.requestsFailed > 0 ? EXIT_FAILURES : EXIT_OK;
    return { exitCode, report };
  } catch (error) {
    progress?.finish();
    const code = (error as { code?: unknown }).code;
    const reason = `${(error as Error).message}${typeof code === "string" && !(error as Error).message.includes(code) ? ` (${code})` : ""}`;
    io.stderr.write(`sinkron bench: cannot run against ${options.target.host}:${options.target.port}: ${reason}\n`);
    return { exitCode: EXIT_FAILURES, report: null };
  } finally {
    if (io.signal === undefined) process.off("SIGINT", onSigint);
  }
}

/** The command line as it would be retyped, with the token's value hidden (the JSON is shared). */
export function commandLineOf(argv: readonly string[]): string {
  const shown: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--token" && i + 1 < argv.length) {
      shown.push(arg, "***");
      i++;
    } else if (arg.startsWith("--token=")) {
      shown.push("--token=***");
    } else {
      shown.push(/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`);
    }
  }
  return ["sinkron", "bench", ...shown].join(" ");
}
