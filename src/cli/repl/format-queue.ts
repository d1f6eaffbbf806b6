// Readable REPL answers for the queue commands: one line per delivered message (the id to ack
// comes first), a table of a queue's partitions with its totals, short sentences for the rest.
// Falls back to the generic view for anything it does not recognise.
import { formatBytes, type Outcome } from "./format.ts";

/** Body characters shown per message; a longer body is cut, with its full size. */
export const BODY_PREVIEW_CHARS = 60;

type Delivery = { id: string; body: unknown; key: string | null; deliveries: number };
type PartitionRow = { partition: number; group: number; leader: string | null; replicas: string[]; ready: number | null; inflight: number | null; delayed: number | null };

/** A person-readable line (or lines) for a queue command's OK answer, or null to use the generic view. */
export function formatQueueAnswer(command: string, outcome: Outcome): string | null {
  if (outcome.status !== "OK") return null;
  const value = outcome.value;
  if (command === "Q.CONSUME") return Array.isArray(value) && value.every(isDelivery) ? formatDeliveries(value) : null;
  if (value === null || typeof value !== "object") return null;
  const map = value as Record<string, unknown>;
  switch (command) {
    case "Q.PRODUCE":
      return typeof map.id === "string" ? `OK produced, id ${map.id}` : null;
    case "Q.ACK":
      return map.acked === true ? "OK acked" : null;
    case "Q.NACK":
      return map.requeued === true ? "OK requeued" : null;
    case "Q.DELETE":
      return map.deleted === true ? "OK deleted" : null;
    case "Q.CREATE": {
      const { queue, partitions, replicas, maxDeliveries, created } = map;
      if (typeof queue !== "string" || typeof partitions !== "number" || typeof replicas !== "number" || typeof maxDeliveries !== "number") return null;
      // Q.CREATE of an existing queue with the same settings is not an error: say which it was.
      const what = created === true ? `created queue ${queue}` : `queue ${queue} already exists`;
      return `OK ${what}: ${plural(partitions, "partition")} × ${plural(replicas, "replica")}, dead-lettered after ${plural(maxDeliveries, "delivery", "deliveries")}`;
    }
    case "Q.INFO":
      return Array.isArray(map.partitions) && map.partitions.every(isPartitionRow) && typeof map.queue === "string" ? formatInfo(map.queue, map.partitions, map) : null;
    default:
      return null;
  }
}

function formatDeliveries(deliveries: Delivery[]): string {
  if (deliveries.length === 0) return "OK no message";
  const rows = deliveries.map((d) => [d.id, String(d.deliveries), d.key ?? "-", bodyPreview(d.body)]);
  return [`OK ${plural(deliveries.length, "message")}`, ...table(["id", "deliveries", "key", "body"], rows, new Set())].join("\n");
}

function formatInfo(queue: string, partitions: PartitionRow[], info: Record<string, unknown>): string {
  const count = (n: number | null) => (n === null ? "?" : String(n));
  const rows = partitions.map((p) => [String(p.partition), String(p.group), p.leader ?? "-", p.replicas.join(","), count(p.ready), count(p.inflight), count(p.delayed)]);
  const sum = (pick: (p: PartitionRow) => number | null) => partitions.reduce((total, p) => total + (pick(p) ?? 0), 0);
  rows.push(["total", "", "", "", String(sum((p) => p.ready)), String(sum((p) => p.inflight)), String(sum((p) => p.delayed))]);
  const lines = [`OK queue ${queue}, ${plural(partitions.length, "partition")}`, ...table(["partition", "group", "leader", "replicas", "ready", "inflight", "delayed"], rows, new Set([1, 4, 5, 6]))];
  const unreachable = partitions.filter((p) => p.ready === null).length;
  if (unreachable > 0) lines.push(`  (${plural(unreachable, "partition")} could not be reached: totals leave ${unreachable === 1 ? "it" : "them"} out)`);
  // A `.dead` queue has no dead letters of its own and no delivery limit (maxDeliveries null).
  if (typeof info.maxDeliveries === "number" && typeof info.deadLettered === "number") {
    lines.push(`  dead letters: ${info.deadLettered} in ${queue}.dead (a message moves there after ${plural(info.maxDeliveries, "delivery", "deliveries")})`);
  }
  return lines.join("\n");
}

/** Rows under a header, two spaces between columns, numeric columns right-aligned; lines indented by two. */
function table(header: string[], rows: string[][], rightAligned: ReadonlySet<number>): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `  ${cells.map((c, i) => (rightAligned.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  ")}`.trimEnd();
  return [line(header), ...rows.map(line)];
}

/** A string as JSON (cut to BODY_PREVIEW_CHARS, size added); bytes as text or hex like the generic view, cut the same way. */
export function bodyPreview(body: unknown): string {
  if (typeof body === "string") {
    if (body.length <= BODY_PREVIEW_CHARS) return JSON.stringify(body);
    return `${JSON.stringify(body.slice(0, BODY_PREVIEW_CHARS))}… (${Buffer.byteLength(body)} bytes)`;
  }
  if (body instanceof Uint8Array) {
    const shown = formatBytes(body);
    // `<N bytes …>` keeps its length, so only the inside is cut.
    return shown.length <= BODY_PREVIEW_CHARS + 2 ? shown : `${shown.slice(0, BODY_PREVIEW_CHARS)}…>`;
  }
  return JSON.stringify(body) ?? String(body);
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

function isDelivery(value: unknown): value is Delivery {
  if (value === null || typeof value !== "object") return false;
  const d = value as Record<string, unknown>;
  return typeof d.id === "string" && typeof d.deliveries === "number" && (d.key === null || typeof d.key === "string");
}

function isPartitionRow(value: unknown): value is PartitionRow {
  if (value === null || typeof value !== "object") return false;
  const p = value as Record<string, unknown>;
  const isCount = (n: unknown) => n === null || typeof n === "number";
  return (
    typeof p.partition === "number" &&
    typeof p.group === "number" &&
    (p.leader === null || typeof p.leader === "string") &&
    Array.isArray(p.replicas) &&
    p.replicas.every((r) => typeof r === "string") &&
    isCount(p.ready) &&
    isCount(p.inflight) &&
    isCount(p.delayed)
  );
}
