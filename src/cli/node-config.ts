// The options of `sinkron node`, each settable by flag or environment variable (for
// containers), and their translation into a NodeConfig.
import type { Member, NodeConfig } from "../node/config.ts";
import { DEFAULT_SERVER_LIMITS } from "../server/limits.ts";
import { DEFAULT_QUEUE_LIMITS, type QueueLimits } from "../queue/limits.ts";
import { DEFAULT_CACHE_SETTINGS, type CacheSettings } from "../cache/limits.ts";
import { NODE_ID_PATTERN } from "../protocol/commands.ts";
import { formatAddress, parseAddress } from "../util/address.ts";
import { parseLogLevel } from "../util/log.ts";
import { durationMs, flagOn, integer, parseOptions, sizeBytes, text, UsageError, type OptionSpec } from "./options.ts";

export function parsePeers(s: string): Member[] {
  const members: Member[] = [];
  for (const part of s.split(",").map((p) => p.trim()).filter(Boolean)) {
    const eq = part.indexOf("=");
    if (eq <= 0) throw new Error(`expected id=host:port, got '${part}'`);
    const id = part.slice(0, eq);
    if (!NODE_ID_PATTERN.test(id)) throw new Error(`bad node id '${id}' (letters, digits, _ . -; at most 64)`);
    if (members.some((m) => m.id === id)) throw new Error(`node id '${id}' listed twice`);
    members.push({ id, address: formatAddress(parseAddress(part.slice(eq + 1))) });
  }
  if (members.length === 0) throw new Error("at least one peer is needed");
  return members;
}

const opt = <T>(spec: OptionSpec<T>): OptionSpec<T> => spec;
const limits = DEFAULT_SERVER_LIMITS;
const queueLimits = DEFAULT_QUEUE_LIMITS;

export const NODE_OPTIONS = {
  id: opt({ flag: "id", env: "SINKRON_ID", doc: "this node's id; must appear in --peers", parse: text }),
  listen: opt({ flag: "listen", env: "SINKRON_LISTEN", doc: "host:port of the node's one TCP port", parse: parseAddress }),
  peers: opt({ flag: "peers", env: "SINKRON_PEERS", doc: "every member: id=host:port,id=host:port,...", parse: parsePeers }),
  data: opt({ flag: "data", env: "SINKRON_DATA", doc: "directory for the write-ahead log and snapshots", defaultText: "./data/<id>", parse: text }),
  http: opt({ flag: "http", env: "SINKRON_HTTP", doc: "host:port for the HTTP API, health and metrics", parse: parseAddress }),
  redis: opt({ flag: "redis", env: "SINKRON_REDIS", doc: "redis://host:port to use Redis as the cache's backing store", parse: text }),
  redisPrefix: opt({ flag: "redis-prefix", env: "SINKRON_REDIS_PREFIX", doc: "prepended to every cache key in Redis", defaultText: "none", parse: text }),
  cacheMaxEntries: opt({ flag: "cache-max-entries", env: "SINKRON_CACHE_MAX_ENTRIES", doc: "cache lines a node keeps (LRU)", defaultText: String(DEFAULT_CACHE_SETTINGS.entriesMax), parse: integer(0, 100_000_000) }),
  cacheMaxBytes: opt({ flag: "cache-max-bytes", env: "SINKRON_CACHE_MAX_BYTES", doc: "bytes of cache lines a node keeps (keys, values, ~96 B overhead each)", defaultText: "256MiB", parse: sizeBytes }),
  cacheDownAfterMs: opt({ flag: "cache-down-after", env: "SINKRON_CACHE_DOWN_AFTER", doc: "a member group 0's leader has not heard from this long leaves the cache ring (its keys get other homes)", defaultText: "3s", parse: durationMs }),
  cacheLeaseMs: opt({ flag: "cache-lease-ms", env: "SINKRON_CACHE_LEASE_MS", doc: "read lease: how long a line is served without asking, and the longest a write waits for an unresponsive holder", defaultText: "2s", parse: durationMs }),
  clusterSecret: opt({ flag: "cluster-secret", env: "SINKRON_CLUSTER_SECRET", doc: "secret the members share to prove they are members (not the client token)", parse: text }),
  token: opt({ flag: "token", env: "SINKRON_TOKEN", doc: "shared secret clients and peers must send in HELLO", parse: text }),
  frameBytesMax: opt({ flag: "frame-bytes-max", env: "SINKRON_FRAME_BYTES_MAX", doc: "largest frame accepted", defaultText: "16MiB", parse: sizeBytes }),
  peerFrameBytesMax: opt({ flag: "peer-frame-bytes-max", env: "SINKRON_PEER_FRAME_BYTES_MAX", doc: "largest frame from a cluster member (Raft batches, snapshots)", defaultText: "512MiB", parse: sizeBytes }),
  inflightRequestsMax: opt({ flag: "inflight-requests-max", env: "SINKRON_INFLIGHT_REQUESTS_MAX", doc: "unanswered requests per connection before the node stops reading it", defaultText: String(limits.inflightRequestsMax), parse: integer(1, 1_000_000) }),
  outboundBytesHighWater: opt({ flag: "outbound-bytes-high-water", env: "SINKRON_OUTBOUND_BYTES_HIGH_WATER", doc: "unsent answer bytes per connection before the node stops reading it", defaultText: "8MiB", parse: sizeBytes }),
  inboundBytesPerTurnMax: opt({ flag: "inbound-bytes-per-turn-max", env: "SINKRON_INBOUND_BYTES_PER_TURN_MAX", doc: "input handled from one connection per event-loop turn", defaultText: "256KiB", parse: sizeBytes }),
  connectionsMax: opt({ flag: "connections-max", env: "SINKRON_CONNECTIONS_MAX", doc: "open connections at once", defaultText: String(limits.connectionsMax), parse: integer(1, 1_000_000) }),
  partialFrameTimeoutMs: opt({ flag: "partial-frame-timeout", env: "SINKRON_PARTIAL_FRAME_TIMEOUT", doc: "close a connection stalled inside a frame this long", defaultText: "30s", parse: durationMs }),
  tickMs: opt({ flag: "tick", env: "SINKRON_TICK", doc: "Raft tick: the clock of elections and heartbeats", defaultText: "20ms", parse: durationMs }),
  electionTicks: opt({ flag: "election-ticks", env: "SINKRON_ELECTION_TICKS", doc: "election timeout, drawn from [n, 2n) ticks", defaultText: "15", parse: integer(2, 10_000) }),
  heartbeatTicks: opt({ flag: "heartbeat-ticks", env: "SINKRON_HEARTBEAT_TICKS", doc: "leader heartbeat interval in ticks (less than --election-ticks)", defaultText: "3", parse: integer(1, 10_000) }),
  snapshotEntries: opt({ flag: "snapshot-entries", env: "SINKRON_SNAPSHOT_ENTRIES", doc: "applied entries between snapshots (bounds the log)", defaultText: "20000", parse: integer(1, 100_000_000) }),
  snapshotLogBytes: opt({ flag: "snapshot-log-bytes", env: "SINKRON_SNAPSHOT_LOG_BYTES", doc: "applied log bytes between snapshots, or twice the last snapshot if larger (bounds the log's memory)", defaultText: "64MiB", parse: sizeBytes }),
  segmentBytesMax: opt({ flag: "segment-bytes-max", env: "SINKRON_SEGMENT_BYTES_MAX", doc: "size at which a WAL segment rotates", defaultText: "64MiB", parse: sizeBytes }),
  unsafeNoFsync: opt({ flag: "unsafe-no-fsync", env: "SINKRON_UNSAFE_NO_FSYNC", doc: "skip fsync: faster, and a crash may lose acknowledged writes (STATUS says so)", defaultText: "off", isSwitch: true, parse: flagOn }),
  join: opt({ flag: "join", env: "SINKRON_JOIN", doc: "start empty and wait to be added with CLUSTER.ADD", defaultText: "off", isSwitch: true, parse: flagOn }),
  queuePartitionMessagesMax: opt({ flag: "queue-partition-messages-max", env: "SINKRON_QUEUE_PARTITION_MESSAGES_MAX", doc: "messages one queue partition holds (all states); beyond, Q.PRODUCE gets TOO_LARGE", defaultText: String(queueLimits.partitionMessagesMax), parse: integer(1, 100_000_000) }),
  queuePartitionBytesMax: opt({ flag: "queue-partition-bytes-max", env: "SINKRON_QUEUE_PARTITION_BYTES_MAX", doc: "message body bytes one queue partition holds; beyond, Q.PRODUCE gets TOO_LARGE", defaultText: "256MiB", parse: sizeBytes }),
  queueBatchItemsMax: opt({ flag: "queue-batch-items-max", env: "SINKRON_QUEUE_BATCH_ITEMS_MAX", doc: "queue requests merged into one log entry of a partition", defaultText: String(queueLimits.batchItemsMax), parse: integer(1, 1_000_000) }),
  queueBatchBytesMax: opt({ flag: "queue-batch-bytes-max", env: "SINKRON_QUEUE_BATCH_BYTES_MAX", doc: "message bytes merged into one log entry of a partition", defaultText: "1MiB", parse: sizeBytes }),
  queueBacklogMax: opt({ flag: "queue-backlog-max", env: "SINKRON_QUEUE_BACKLOG_MAX", doc: "queue requests waiting on a node for one partition's next batch; beyond, UNAVAILABLE", defaultText: String(queueLimits.backlogMax), parse: integer(1, 100_000_000) }),
  queueBatchesInFlightMax: opt({ flag: "queue-batches-in-flight-max", env: "SINKRON_QUEUE_BATCHES_IN_FLIGHT_MAX", doc: "batches of keyless produces, consumes or acks a node has in flight to one partition (keyed produces: 1)", defaultText: String(queueLimits.batchesInFlightMax), parse: integer(1, 1024) }),
  queueWaitersMax: opt({ flag: "queue-waiters-max", env: "SINKRON_QUEUE_WAITERS_MAX", doc: "Q.CONSUME long-polls waiting on a node at once; beyond, UNAVAILABLE", defaultText: String(queueLimits.waitersMax), parse: integer(1, 10_000_000) }),
  logLevel: opt({ flag: "log-level", env: "SINKRON_LOG_LEVEL", doc: "debug, info, warn or error", defaultText: "info", parse: (s) => {
    if (!["debug", "info", "warn", "error"].includes(s)) throw new Error(`expected debug, info, warn or error, got '${s}'`);
    return s;
  } }),
};

export function parseNodeConfig(argv: string[], env: Record<string, string | undefined> = process.env): NodeConfig {
  const { values, positional } = parseOptions(NODE_OPTIONS, argv, env);
  if (positional.length > 0) throw new UsageError(`unexpected argument '${positional[0]}'`);
  const id = values.id ?? required("id");
  if (!NODE_ID_PATTERN.test(id)) throw new UsageError(`bad node id '${id}'`);
  const listen = values.listen ?? required("listen");
  const peers = values.peers ?? [{ id, address: formatAddress(listen) }];
  if (!peers.some((m) => m.id === id)) throw new UsageError(`--id ${id} is not one of --peers (${peers.map((m) => m.id).join(", ")})`);
  if (values.frameBytesMax !== undefined && (values.frameBytesMax < 1024 || values.frameBytesMax > 0xffff_ffff)) {
    throw new UsageError("--frame-bytes-max must be between 1KiB and 4GiB-1");
  }
  const serverLimits: NodeConfig["limits"] = {};
  if (values.frameBytesMax !== undefined) serverLimits.frameBytesMax = values.frameBytesMax;
  if (values.peerFrameBytesMax !== undefined) {
    if (values.peerFrameBytesMax < 1024 * 1024 || values.peerFrameBytesMax > 0xffff_ffff) throw new UsageError("--peer-frame-bytes-max must be between 1MiB and 4GiB-1");
    serverLimits.peerFrameBytesMax = values.peerFrameBytesMax;
  }
  if (values.inflightRequestsMax !== undefined) serverLimits.inflightRequestsMax = values.inflightRequestsMax;
  if (values.outboundBytesHighWater !== undefined) serverLimits.outboundBytesHighWater = values.outboundBytesHighWater;
  if (values.inboundBytesPerTurnMax !== undefined) serverLimits.inboundBytesPerTurnMax = values.inboundBytesPerTurnMax;
  if (values.connectionsMax !== undefined) serverLimits.connectionsMax = values.connectionsMax;
  if (values.partialFrameTimeoutMs !== undefined) serverLimits.partialFrameTimeoutMs = values.partialFrameTimeoutMs;
  const raft: NonNullable<NodeConfig["raft"]> = {};
  if (values.tickMs !== undefined) {
    if (values.tickMs < 1 || values.tickMs > 10_000) throw new UsageError("--tick must be between 1ms and 10s");
    raft.tickMs = values.tickMs;
  }
  if (values.electionTicks !== undefined) raft.electionTicks = values.electionTicks;
  if (values.heartbeatTicks !== undefined) raft.heartbeatTicks = values.heartbeatTicks;
  if ((raft.heartbeatTicks ?? 3) >= (raft.electionTicks ?? 15)) throw new UsageError("--heartbeat-ticks must be less than --election-ticks");
  if (values.snapshotEntries !== undefined) raft.snapshotEntries = values.snapshotEntries;
  if (values.snapshotLogBytes !== undefined) raft.snapshotLogBytes = values.snapshotLogBytes;
  if (values.segmentBytesMax !== undefined) {
    if (values.segmentBytesMax < 64 * 1024) throw new UsageError("--segment-bytes-max must be at least 64KiB");
    raft.segmentBytesMax = values.segmentBytesMax;
  }
  if (values.unsafeNoFsync !== undefined) raft.fsync = !values.unsafeNoFsync;
  if (values.join !== undefined) raft.join = values.join;
  const queue: Partial<QueueLimits> = {};
  if (values.queuePartitionMessagesMax !== undefined) queue.partitionMessagesMax = values.queuePartitionMessagesMax;
  if (values.queuePartitionBytesMax !== undefined) queue.partitionBytesMax = values.queuePartitionBytesMax;
  if (values.queueBatchItemsMax !== undefined) queue.batchItemsMax = values.queueBatchItemsMax;
  if (values.queueBatchBytesMax !== undefined) queue.batchBytesMax = values.queueBatchBytesMax;
  if (values.queueBacklogMax !== undefined) queue.backlogMax = values.queueBacklogMax;
  if (values.queueBatchesInFlightMax !== undefined) queue.batchesInFlightMax = values.queueBatchesInFlightMax;
  if (values.queueWaitersMax !== undefined) queue.waitersMax = values.queueWaitersMax;
  const cache: Partial<CacheSettings> = {};
  if (values.cacheMaxEntries !== undefined) cache.entriesMax = values.cacheMaxEntries;
  if (values.cacheMaxBytes !== undefined) cache.bytesMax = values.cacheMaxBytes;
  if (values.cacheLeaseMs !== undefined) {
    if (values.cacheLeaseMs < 10 || values.cacheLeaseMs > 600_000) throw new UsageError("--cache-lease-ms must be between 10ms and 10min");
    cache.leaseMs = values.cacheLeaseMs;
  }
  if (values.cacheDownAfterMs !== undefined) {
    if (values.cacheDownAfterMs < 100) throw new UsageError("--cache-down-after must be at least 100ms");
    cache.downAfterMs = values.cacheDownAfterMs;
  }
  return {
    queue,
    cache,
    ...(values.redisPrefix === undefined ? {} : { redisPrefix: values.redisPrefix }),
    id,
    listen,
    raft,
    peers,
    dataDir: values.data ?? `./data/${id}`,
    http: values.http ?? null,
    redisUrl: values.redis ?? null,
    token: values.token ?? null,
    clusterSecret: values.clusterSecret ?? null,
    limits: serverLimits,
    logLevel: parseLogLevel(values.logLevel),
  };
}

function required(name: string): never {
  throw new UsageError(`--${name} is required (or set ${(NODE_OPTIONS as Record<string, OptionSpec<unknown>>)[name]?.env})`);
}
