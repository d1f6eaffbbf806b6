// /metrics: the numbers STATUS and CACHE.METRICS report, as the Prometheus text exposition
// format (version 0.0.4) for a scraper, or as the original API's JSON for everyone else.
// Names are `sinkron_*` with their unit last (`_bytes`, `_seconds`, `_total`).
import type { CacheMetricsResult, StatusResult } from "../protocol/commands.ts";
import { HTTP_LATENCY_BUCKETS_S, type HttpStats } from "./stats.ts";

export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** A scraper says so in Accept (Prometheus sends openmetrics-text and text/plain). */
export function wantsPrometheus(accept: string | null): boolean {
  if (accept === null) return false;
  const lower = accept.toLowerCase();
  return lower.includes("text/plain") || lower.includes("application/openmetrics-text");
}

type Labels = Record<string, string | number>;
type Sample = { suffix?: string; labels?: Labels; value: number };

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function formatSample(name: string, sample: Sample): string {
  const labels = Object.entries(sample.labels ?? {});
  const text = labels.length === 0 ? "" : `{${labels.map(([k, v]) => `${k}="${escapeLabel(String(v))}"`).join(",")}}`;
  return `${name}${sample.suffix ?? ""}${text} ${Number.isFinite(sample.value) ? sample.value : 0}`;
}

class Exposition {
  private readonly lines: string[] = [];

  metric(name: string, type: "gauge" | "counter" | "histogram", help: string, samples: Sample[] | number): this {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    const list = typeof samples === "number" ? [{ value: samples }] : samples;
    for (const sample of list) this.lines.push(formatSample(name, sample));
    return this;
  }

  text(): string {
    return this.lines.join("\n") + "\n";
  }
}

/** A number from STATUS's open-ended fields (they are typed unknown); 0 when absent. */
function num(map: unknown, key: string): number {
  if (map === null || typeof map !== "object") return 0;
  const value = (map as Record<string, unknown>)[key];
  return typeof value === "number" ? value : 0;
}

/** A field of STATUS's open-ended fields; undefined when absent. */
function field(map: unknown, key: string): unknown {
  return map === null || typeof map !== "object" ? undefined : (map as Record<string, unknown>)[key];
}

function numbers(value: unknown): number[] {
  return Array.isArray(value) && value.every((n) => typeof n === "number") ? (value as number[]) : [];
}

/**
 * A histogram STATUS reports in milliseconds ({boundsMs, counts cumulative with +Inf last, sumMs,
 * count}) as Prometheus seconds: `_bucket{le}` cumulative, `+Inf` equal to `_count`, `_sum`.
 */
function histogramSamples(snapshot: unknown, labels: Labels = {}): Sample[] {
  const boundsMs = numbers(field(snapshot, "boundsMs"));
  let counts = numbers(field(snapshot, "counts"));
  const count = num(snapshot, "count");
  if (counts.length !== boundsMs.length + 1) counts = [...boundsMs.map(() => 0), count];
  const samples: Sample[] = boundsMs.map((ms, i) => ({ suffix: "_bucket", labels: { ...labels, le: ms / 1000 }, value: counts[i]! }));
  samples.push({ suffix: "_bucket", labels: { ...labels, le: "+Inf" }, value: counts[boundsMs.length]! });
  samples.push({ suffix: "_sum", labels, value: num(snapshot, "sumMs") / 1000 }, { suffix: "_count", labels, value: count });
  return samples;
}

const RAFT_ROLES = ["leader", "follower", "candidate", "precandidate", "learner"] as const;

function raftMetrics(out: Exposition, s: StatusResult): void {
  out.metric("sinkron_raft_term", "gauge", "current Raft term of the metadata group", s.term)
    .metric("sinkron_raft_role", "gauge", "1 for this node's Raft role in the metadata group", RAFT_ROLES.map((role) => ({ labels: { role }, value: s.role === role ? 1 : 0 })))
    .metric("sinkron_raft_leader_known", "gauge", "1 when this node knows the metadata group's leader", s.leader === null ? 0 : 1)
    .metric("sinkron_raft_commit_index", "gauge", "commit index of the metadata group", s.commitIndex)
    .metric("sinkron_raft_applied_index", "gauge", "applied index of the metadata group", s.appliedIndex)
    .metric("sinkron_raft_members", "gauge", "members in the cluster configuration", s.members.length)
    .metric("sinkron_raft_entries_persisted_total", "counter", "log entries written to the write-ahead log", num(s.raft, "entriesPersisted"))
    .metric("sinkron_raft_entries_applied_total", "counter", "log entries applied to state machines", num(s.raft, "entriesApplied"))
    .metric("sinkron_raft_syncs_total", "counter", "write-ahead log fsyncs", num(s.raft, "syncs"))
    .metric("sinkron_raft_messages_sent_total", "counter", "Raft messages sent to peers", num(s.raft, "messagesSent"))
    .metric("sinkron_raft_snapshots_taken_total", "counter", "snapshots taken", num(s.raft, "snapshotsTaken"))
    .metric("sinkron_raft_snapshots_installed_total", "counter", "snapshots installed from a leader", num(s.raft, "snapshotsInstalled"))
    .metric("sinkron_raft_proposals_total", "counter", "entries this node appended to its groups' logs as leader (accepted proposals)", num(s.raft, "proposals"))
    .metric("sinkron_raft_elections_total", "counter", "elections this node started (a group became candidate)", num(s.raft, "elections"))
    .metric("sinkron_raft_leader_changes_total", "counter", "new leaders this node's groups learnt of", num(s.raft, "leaderChanges"))
    .metric("sinkron_raft_wal_written_bytes_total", "counter", "bytes written to the write-ahead log", num(field(s.raft, "wal"), "bytesWritten"))
    .metric("sinkron_raft_fsync_seconds", "histogram", "write-ahead log sync latency (write and fdatasync)", histogramSamples(field(field(s.raft, "wal"), "syncLatencyMs")));
}

function queueMetrics(out: Exposition, queues: unknown): void {
  const raw = field(queues, "byQueue");
  const byQueue = Array.isArray(raw) ? (raw as unknown[]).filter((q): q is Record<string, unknown> => q !== null && typeof q === "object" && typeof (q as Record<string, unknown>).queue === "string") : [];
  const per = (key: string) => byQueue.map((q) => ({ labels: { queue: q.queue as string }, value: num(q, key) }));
  out.metric("sinkron_queue_led_partitions", "gauge", "partitions of the queue this node leads (the queue series below count those)", per("partitionsLed"))
    .metric("sinkron_queue_ready_messages", "gauge", "messages ready for delivery in the partitions this node leads", per("ready"))
    .metric("sinkron_queue_delayed_messages", "gauge", "messages waiting out a delay in the partitions this node leads", per("delayed"))
    .metric("sinkron_queue_inflight_messages", "gauge", "messages delivered and not yet acked in the partitions this node leads", per("inflight"))
    .metric("sinkron_queue_dead_lettered_messages", "gauge", "messages in the dead-letter lane of the partitions this node leads", per("deadLettered"));
}

function requestCountSamples(server: unknown): Sample[] {
  const raw = field(server, "requestsByCommand");
  if (!Array.isArray(raw)) return [];
  return (raw as unknown[])
    .filter((r): r is Record<string, unknown> => r !== null && typeof r === "object" && typeof (r as Record<string, unknown>).command === "string" && typeof (r as Record<string, unknown>).status === "string")
    .map((r) => ({ labels: { command: r.command as string, status: r.status as string }, value: num(r, "count") }));
}

function lockMetrics(out: Exposition, locks: unknown): void {
  out.metric("sinkron_locks", "gauge", "locks with a holder or a waiter", num(locks, "locks"))
    .metric("sinkron_locks_held", "gauge", "holds of locks (a shared lock counts each holder)", num(locks, "holders"))
    .metric("sinkron_locks_waiting", "gauge", "requests waiting for a lock", num(locks, "waiters"))
    .metric("sinkron_lock_grants_total", "counter", "lock grants", num(locks, "grants"))
    .metric("sinkron_lock_timeouts_total", "counter", "lock waits that ran out", num(locks, "timeouts"))
    .metric("sinkron_lock_deadlocks_total", "counter", "lock waits refused because they would close a waits-for cycle", num(locks, "deadlocks"))
    .metric("sinkron_lock_expirations_total", "counter", "leases that ran out", num(locks, "expirations"))
    .metric("sinkron_lock_cancellations_total", "counter", "waits withdrawn", num(locks, "cancellations"));
}

function cacheMetrics(out: Exposition, c: CacheMetricsResult): void {
  out.metric("sinkron_cache_hits_total", "counter", "cache reads served from this node's line", c.hits)
    .metric("sinkron_cache_misses_total", "counter", "cache reads that asked the key's home", c.misses)
    .metric("sinkron_cache_writes_total", "counter", "cache writes and deletes this node acknowledged", c.writes)
    .metric("sinkron_cache_invalidations_total", "counter", "lines dropped because another node wrote their key", c.invalidations)
    .metric("sinkron_cache_evictions_total", "counter", "lines dropped by the LRU bounds", c.evictions)
    .metric("sinkron_cache_entries", "gauge", "cache lines held", c.entries)
    .metric("sinkron_cache_bytes", "gauge", "bytes of cache lines held", c.bytes)
    .metric("sinkron_cache_capacity_entries", "gauge", "most cache lines this node keeps", c.capacity)
    .metric("sinkron_cache_capacity_bytes", "gauge", "most bytes of cache lines this node keeps", c.capacityBytes);
}

function serverMetrics(out: Exposition, s: StatusResult, http: HttpStats): void {
  out.metric("sinkron_queues", "gauge", "queues in the catalog", num(s.queues, "queues"))
    .metric("sinkron_queue_hosted_partitions", "gauge", "queue partitions with a replica on this node", num(s.queues, "hostedPartitions"))
    .metric("sinkron_server_connections", "gauge", "open binary-protocol connections", num(s.server, "connections"))
    .metric("sinkron_server_connections_accepted_total", "counter", "binary-protocol connections accepted", num(s.server, "connectionsAccepted"))
    .metric("sinkron_server_connections_refused_total", "counter", "binary-protocol connections refused", num(s.server, "connectionsRefused"))
    .metric("sinkron_server_requests_total", "counter", "binary-protocol requests answered, by command and status (OK or the error code)", requestCountSamples(s.server))
    .metric("sinkron_server_request_duration_seconds", "histogram", "binary-protocol request latency, from dispatch to answer", histogramSamples(field(s.server, "requestLatencyMs")))
    .metric("sinkron_server_errors_total", "counter", "binary-protocol requests answered with an error", num(s.server, "errors"))
    .metric("sinkron_http_requests_total", "counter", "HTTP API requests by route and status", http.requestCounts().map((r) => ({ labels: { method: r.method, route: r.route, status: r.status }, value: r.count })));
  const buckets: Sample[] = HTTP_LATENCY_BUCKETS_S.map((le, i) => ({ suffix: "_bucket", labels: { le }, value: http.latencyBuckets[i]! }));
  buckets.push({ suffix: "_bucket", labels: { le: "+Inf" }, value: http.latencyBuckets[HTTP_LATENCY_BUCKETS_S.length]! });
  buckets.push({ suffix: "_sum", value: http.latencySumS }, { suffix: "_count", value: http.latencyCount });
  out.metric("sinkron_http_request_duration_seconds", "histogram", "HTTP API request latency", buckets);
}

export function prometheusText(status: StatusResult, cache: CacheMetricsResult, http: HttpStats): string {
  const out = new Exposition();
  raftMetrics(out, status);
  lockMetrics(out, status.locks);
  queueMetrics(out, status.queues);
  cacheMetrics(out, cache);
  serverMetrics(out, status, http);
  return out.text();
}

/** The original API's JSON metrics, and the rest of the cache counters beside them. */
export function metricsJson(status: StatusResult, c: CacheMetricsResult): Record<string, unknown> {
  const reads = c.hits + c.misses;
  return {
    node: status.node,
    cache_hits: c.hits,
    cache_misses: c.misses,
    hit_rate: reads === 0 ? 0 : c.hits / reads,
    writes: c.writes,
    invalidations: c.invalidations,
    evictions: c.evictions,
    entries: c.entries,
    bytes: c.bytes,
    capacity: c.capacity,
    capacity_bytes: c.capacityBytes,
    store: c.store,
  };
}
