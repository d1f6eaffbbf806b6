// `sinkron bench <workload> …`: parses the flags, runs the workload with the generic runner,
// prints the report (and writes it as JSON), and turns Ctrl-C into "stop and report what was
// measured". Exit codes: 0 every measured request OK, 1 failures or no connection, 2 usage,
// 130 interrupted.
import { writeFileSync } from "node:fs";
import { BENCH_USAGE, BenchUsageError, parseBenchArgs, type BenchOptions } from "./args.ts";
import { discoverNodes, runOnNodes } from "./multi-node.ts";
import { ProgressLine, type ProgressOutput } from "./progress.ts";
import { buildReport, formatReport, type BenchReport } from "./report.ts";
import { runLoad, type RunHooks, type RunMeasurements } from "./runner.ts";
import { WORKLOADS, type BenchRequest, type ReportSection, type RunContext, type Workload, type WorkUnit } from "./workloads.ts";
import { connect } from "../src/client/index.ts";
import { formatAddress } from "../src/util/address.ts";

export interface BenchIo {
  stdout: ProgressOutput;
  stderr: ProgressOutput;
  /** Ctrl-C; by default SIGINT of this process while the run lasts. */
  signal?: AbortSignal;
}

/** The report with the sections some workloads add, each under its name (`cache`, `scenario`). */
export type BenchReportWithSections = BenchReport & { [section: string]: unknown };

export interface BenchOutcome {
  exitCode: number;
  report: BenchReportWithSections | null;
}

/** The measured phase of a run: the runner over one or more nodes, or a workload's own driver. */
export type Measure = (hooks: RunHooks) => Promise<RunMeasurements>;

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
  // The HTTP API's scenarios take flags of their own (--http URLs, no --target).
  if (argv[0] === "http") return (await import("./http-bench.ts")).runHttpBench(argv.slice(1), io);
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
  const { make, drive, probe } = spec;
  if ((make === undefined) === (drive === undefined)) throw new Error(`workload '${options.workload}' must have exactly one of make and drive`);
  let context: RunContext;
  try {
    context = { nodes: spec.nodes === "all" ? await discoverNodes(options.target, options.token, options.nodes) : [options.target], token: options.token };
    if (spec.setup !== undefined) await runSetup(options, spec.setup);
    await probe?.before(context);
  } catch (error) {
    io.stderr.write(`sinkron bench: setup failed: ${(error as Error).message}\n`);
    return EXIT_FAILURES;
  }
  const measure: Measure = drive !== undefined ? (hooks) => drive(options, context, hooks) : (hooks) => runOnNodes(options, context, make!, hooks);
  const after = probe === undefined ? undefined : (report: BenchReport) => probe.after(context, report);
  return (await executeRun(options, measure, commandLineOf(argv), io, spec.unit, after)).exitCode;
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

/** Runs a parsed benchmark with any workload (tests pass their own) against the target. */
export async function executeBench(options: BenchOptions, workload: () => Workload, commandLine: string, io: BenchIo, unit?: WorkUnit): Promise<BenchOutcome> {
  return executeRun(options, (hooks) => runLoad(options, workload, hooks), commandLine, io, unit);
}

/**
 * Measures, prints the report and writes the JSON. `sectionsAfter` adds a workload's own
 * numbers (read from the nodes after the run) before the machine line and into the JSON.
 */
export async function executeRun(options: BenchOptions, measure: Measure, commandLine: string, io: BenchIo, unit?: WorkUnit, sectionsAfter?: (report: BenchReport) => Promise<ReportSection[]>): Promise<BenchOutcome> {
  const progress = options.showProgress ? new ProgressLine(io.stderr) : null;
  const interrupt = new AbortController();
  const onSigint = () => interrupt.abort();
  const signal = io.signal ?? interrupt.signal;
  if (io.signal === undefined) process.on("SIGINT", onSigint);
  try {
    const measured = await measure({ signal, onTick: progress === null ? undefined : (tick) => progress.update(tick) });
    progress?.finish();
    const report = buildReport(options, measured, commandLine, unit);
    const sections = sectionsAfter === undefined ? [] : await sectionsAfter(report).catch((error: unknown) => {
      io.stderr.write(`sinkron bench: cannot read the nodes' numbers after the run: ${(error as Error).message}\n`);
      return [];
    });
    io.stdout.write(withSections(formatReport(report), sections));
    const full: BenchReportWithSections = { ...report, ...Object.fromEntries(sections.map((section) => [section.name, section.json])) };
    if (options.jsonPath !== null) writeFileSync(options.jsonPath, JSON.stringify(full, null, 2) + "\n");
    const hasFailures = report.requestsFailed > 0 || sections.some((section) => (section.failures ?? 0) > 0);
    const exitCode = report.interrupted ? EXIT_INTERRUPTED : hasFailures ? EXIT_FAILURES : EXIT_OK;
    return { exitCode, report: full };
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

/** The report's label column: `latency µs  ` and the like. */
const LABEL_WIDTH = 12;

/** Each section's lines under its label, before the report's last line (the machine). */
function withSections(text: string, sections: readonly ReportSection[]): string {
  if (sections.length === 0) return text;
  const lines = text.trimEnd().split("\n");
  const added = sections.flatMap((section) => section.lines.map((line, i) => (i === 0 ? section.name : "").padEnd(LABEL_WIDTH) + line));
  lines.splice(lines.length - 1, 0, ...added);
  return lines.join("\n") + "\n";
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
