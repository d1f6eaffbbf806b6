// Readable REPL answers for the cache commands: a value with where it came from and the line's
// state, a node's counters as a small table with the hit ratio, short sentences for the rest.
// Falls back to the generic view for anything it does not recognise.
import type { CacheMetricsResult } from "../../protocol/commands.ts";
import { formatValue, type Outcome } from "./format.ts";

const STATE_NAMES: Readonly<Record<string, string>> = { M: "modified", E: "exclusive", S: "shared" };

const int = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

/** The counters CACHE.METRICS answers with that this view reads; the rest is shown as given. */
const METRIC_FIELDS = ["hits", "misses", "writes", "invalidations", "evictions", "entries", "bytes", "capacity", "capacityBytes"] as const satisfies readonly (keyof CacheMetricsResult)[];
type Metrics = Pick<CacheMetricsResult, (typeof METRIC_FIELDS)[number]>;

/** A person-readable line (or lines) for a cache command's OK answer, or null to use the generic view. */
export function formatCacheAnswer(command: string, outcome: Outcome): string | null {
  if (outcome.status !== "OK" || outcome.value === null || typeof outcome.value !== "object") return null;
  const value = outcome.value as Record<string, unknown>;
  switch (command) {
    case "CACHE.GET":
      return "value" in value && (value.source === "cache" || value.source === "store") && typeof value.state === "string" ? formatGet(value.value, value.source, value.state) : null;
    case "CACHE.SET":
      return value.ok === true ? "OK written (every other node's copy invalidated, the store has it)" : null;
    case "CACHE.DEL":
      return typeof value.deleted === "boolean" ? (value.deleted ? "OK deleted" : "OK no such key (nothing deleted)") : null;
    case "CACHE.INVALIDATE":
      return typeof value.invalidated === "number" ? `OK ${value.invalidated === 0 ? "no line" : plural(value.invalidated, "line")} dropped on this node` : null;
    case "CACHE.METRICS":
      return isMetrics(value) ? formatMetrics(value) : null;
    default:
      return null;
  }
}

function formatGet(value: unknown, source: "cache" | "store", state: string): string {
  const where = source === "cache" ? "hit in this node's cache" : "miss: read through the key's home";
  const name = STATE_NAMES[state];
  return `OK ${formatValue(value, "")}  (${where}; line ${state}${name === undefined ? "" : `: ${name}`})`;
}

function formatMetrics(m: Metrics & Record<string, unknown>): string {
  const gets = m.hits + m.misses;
  const settings = [
    typeof m.store === "string" ? `store ${m.store}` : null,
    typeof m.leaseMs === "number" ? `lease ${int.format(m.leaseMs)} ms` : null,
    typeof m.epoch === "number" ? `ring epoch ${m.epoch}` : null,
    typeof m.homedKeys === "number" ? `home of ${plural(m.homedKeys, "key")} now` : null,
  ].filter((part) => part !== null);
  const header = ["gets", "hits", "misses", "hit ratio", "writes", "invalidations", "evictions"];
  const row = [gets, m.hits, m.misses, -1, m.writes, m.invalidations, m.evictions].map((n) => int.format(n));
  row[3] = hitRatio(m.hits, gets);
  const widths = header.map((h, i) => Math.max(h.length, row[i]!.length));
  return [
    `OK ${int.format(m.entries)} of ${int.format(m.capacity)} lines, ${sizeText(m.bytes)} of ${sizeText(m.capacityBytes)}${settings.length === 0 ? "" : `; ${settings.join(", ")}`}`,
    `  ${header.map((h, i) => h.padStart(widths[i]!)).join("  ")}`,
    `  ${row.map((c, i) => c.padStart(widths[i]!)).join("  ")}`,
  ].join("\n");
}

/** "97.3%", or "-" before the first GET; never rounds a miss away to 100%. */
export function hitRatio(hits: number, gets: number): string {
  if (gets === 0) return "-";
  const percent = (hits * 100) / gets;
  return `${hits < gets && percent > 99.9 ? "99.9" : percent.toFixed(1)}%`;
}

function sizeText(bytes: number): string {
  if (bytes < 1024) return `${int.format(bytes)} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let scaled = bytes / 1024;
  let unit = 0;
  while (scaled >= 1024 && unit < units.length - 1) {
    scaled /= 1024;
    unit++;
  }
  return `${scaled >= 100 || Number.isInteger(scaled) ? scaled.toFixed(0) : scaled.toFixed(1)} ${units[unit]}`;
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${int.format(n)} ${n === 1 ? one : many}`;
}

function isMetrics(value: Record<string, unknown>): value is Metrics & Record<string, unknown> {
  return METRIC_FIELDS.every((field) => typeof value[field] === "number");
}
