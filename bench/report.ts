// Turns a run's measurements into the report a person reads and the JSON a script keeps: the
// same numbers in both, plus what is needed to compare runs later (the command line, the
// machine, the Bun version, the date).
import os from "node:os";
import { formatAddress } from "../src/util/address.ts";
import type { BenchOptions } from "./args.ts";
import { summarizeLatencyUs, type LatencySummaryUs } from "./histogram.ts";
import type { RunMeasurements } from "./runner.ts";
import type { WorkUnit } from "./workloads.ts";

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  bunVersion: string;
  platform: string;
  arch: string;
  osRelease: string;
  memoryBytes: number;
}

export interface BenchReport {
  workload: string;
  target: string;
  connections: number;
  pipelineDepth: number;
  durationMsRequested: number | null;
  requestsRequested: number | null;
  warmupMs: number;
  elapsedMs: number;
  requestsSent: number;
  requestsAnswered: number;
  requestsOk: number;
  requestsFailed: number;
  /** Failures by code: protocol codes, UNEXPECTED_VALUE, CONNECTION_CLOSED, BAD_RESPONSE, NO_ANSWER. */
  errors: Record<string, { count: number; message: string | null }>;
  /** Answers (of any status) per second over the measured phase. */
  throughputOpsPerSec: number;
  /** What the workload completes (messages, rounds, pairs): OK answers to `command`, and per second. */
  unit: { name: string; command: string; count: number; perSec: number } | null;
  latencyUs: LatencySummaryUs;
  /** The measured answers by command (one entry for a single-command workload). */
  commands: Record<string, { answered: number; ok: number; throughputOpsPerSec: number; latencyUs: LatencySummaryUs }>;
  interrupted: boolean;
  commandLine: string;
  machine: MachineInfo;
  date: string;
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? "unknown",
    cores: cpus.length,
    bunVersion: Bun.version,
    platform: os.platform(),
    arch: os.arch(),
    osRelease: os.release(),
    memoryBytes: os.totalmem(),
  };
}

export function buildReport(options: BenchOptions, measured: RunMeasurements, commandLine: string, unit: WorkUnit | null = null, now: Date = new Date()): BenchReport {
  const errors: BenchReport["errors"] = {};
  for (const [code, tally] of [...measured.errors].sort(([a], [b]) => a.localeCompare(b))) errors[code] = { count: tally.count, message: tally.message };
  const elapsedSec = measured.elapsedMs / 1000;
  const perSec = (count: number) => (elapsedSec > 0 ? Math.round(count / elapsedSec) : 0);
  const commands: BenchReport["commands"] = {};
  for (const [command, c] of measured.commands) commands[command] = { answered: c.answered, ok: c.ok, throughputOpsPerSec: perSec(c.answered), latencyUs: summarizeLatencyUs(c.latencyUs) };
  const unitCount = unit === null ? 0 : (measured.commands.get(unit.command)?.ok ?? 0);
  return {
    workload: options.workload,
    target: formatAddress(options.target),
    connections: options.connections,
    pipelineDepth: options.pipelineDepth,
    durationMsRequested: options.durationMs,
    requestsRequested: options.requestsTotal,
    warmupMs: options.warmupMs,
    elapsedMs: Math.round(measured.elapsedMs * 1000) / 1000,
    requestsSent: measured.requestsSent,
    requestsAnswered: measured.requestsAnswered,
    requestsOk: measured.requestsOk,
    requestsFailed: measured.requestsAnswered - measured.requestsOk + measured.requestsLost,
    errors,
    throughputOpsPerSec: perSec(measured.requestsAnswered),
    unit: unit === null ? null : { name: unit.name, command: unit.command, count: unitCount, perSec: perSec(unitCount) },
    latencyUs: summarizeLatencyUs(measured.latencyUs),
    commands,
    interrupted: measured.interrupted,
    commandLine,
    machine: machineInfo(),
    date: now.toISOString(),
  };
}

const int = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

export function formatReport(report: BenchReport): string {
  const lines: string[] = [];
  const shape = `${report.connections} connection${report.connections === 1 ? "" : "s"} × pipeline ${report.pipelineDepth}`;
  lines.push(`${report.workload}  ${report.target}  ${shape}${report.interrupted ? "  (interrupted)" : ""}`);
  lines.push(`throughput  ${int.format(report.throughputOpsPerSec)} ops/s  (${int.format(report.requestsAnswered)} answers in ${(report.elapsedMs / 1000).toFixed(2)} s)`);
  const unit = report.unit;
  if (unit !== null) lines.push(unit.name.padEnd(12) + `${int.format(unit.perSec)} ${unit.name}/s  (${int.format(unit.count)} ${unit.command} answered OK)`);
  const codes = Object.entries(report.errors);
  if (codes.length === 0) lines.push("errors      none");
  for (const [i, [code, tally]] of codes.entries()) {
    lines.push(`${i === 0 ? "errors" : ""}`.padEnd(12) + `${code} ${int.format(tally.count)}${tally.message === null ? "" : `  (${tally.message})`}`);
  }
  const l = report.latencyUs;
  lines.push(`latency µs  ${percentiles(l)}`);
  const commands = Object.entries(report.commands);
  if (commands.length > 1) {
    const width = Math.max(...commands.map(([command]) => command.length));
    for (const [i, [command, c]] of commands.entries()) {
      lines.push(`${i === 0 ? "by command" : ""}`.padEnd(12) + `${command.padEnd(width)}  ${int.format(c.throughputOpsPerSec)} ops/s  ${percentiles(c.latencyUs)}`);
    }
  }
  const m = report.machine;
  lines.push(`machine     ${m.cpuModel}, ${m.cores} cores, bun ${m.bunVersion}, ${report.date}`);
  return lines.join("\n") + "\n";
}

function percentiles(l: LatencySummaryUs): string {
  return `p50 ${int.format(l.p50)}  p90 ${int.format(l.p90)}  p99 ${int.format(l.p99)}  p99.9 ${int.format(l.p99_9)}  max ${int.format(l.max)}`;
}
