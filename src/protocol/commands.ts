// The catalog of commands: name, one-line summary, argument schema and result shape. The
// server validates with these schemas, the REPL prints them as help and completes the names,
// and PROTOCOL.md documents the same table. Services add their commands here as they land.
import { anyValue, blob, bool, int, oneOf, optional, schema, str, type Schema, type Shape } from "./schema.ts";

export const PROTOCOL_VERSION = 1;

export interface CommandInfo<S extends Shape = Shape> {
  readonly name: string;
  readonly summary: string;
  readonly args: Schema<S>;
  /** The shape of the `OK` value, as documentation. */
  readonly result: string;
  /** Commands a connection may send before a successful HELLO when the node has a token. */
  readonly allowedBeforeAuth?: boolean;
}

export const NODE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export const HELLO = {
  name: "HELLO",
  summary: "introduce the connection: protocol version, optional auth token and a name for logs",
  args: schema({
    version: int("protocol version the client speaks", { min: 1, max: 1_000_000 }),
    token: optional(str("shared secret, required when the node was started with --token", { bytesMax: 4096 })),
    name: optional(str("client name shown in logs and connection lists", { bytesMax: 128 })),
    peer: optional(str("set by a cluster member introducing itself: its node id", { bytesMax: 64 })),
    secret: optional(str("with peer: the cluster secret (--cluster-secret), which members share and clients do not know", { bytesMax: 4096 })),
  }),
  result: "{server: \"sinkron\", version, node, role}",
  allowedBeforeAuth: true,
} satisfies CommandInfo;

export const PING = {
  name: "PING",
  summary: "liveness check; answers PONG",
  args: schema({}),
  result: "\"PONG\"",
  allowedBeforeAuth: true,
} satisfies CommandInfo;

/** A member as STATUS and CLUSTER.* report it; `address` is null while not known to the node. */
export type MemberInfo = { id: string; address: string | null; role: "voter" | "learner" };

/** STATUS's result: this node's view of the cluster; nodes add fields (durability, raft, ...). */
export type StatusResult = {
  node: string;
  role: string;
  term: number;
  leader: string | null;
  commitIndex: number;
  appliedIndex: number;
  members: MemberInfo[];
  [extra: string]: unknown;
};

export const STATUS = {
  name: "STATUS",
  summary: "this node's view of the cluster",
  args: schema({}),
  result: "{node, role, term, leader, commitIndex, appliedIndex, members}",
} satisfies CommandInfo;

/** Bounds of the replicated key-value store; the same bounds hold for every service's keys. */
export const KEY_BYTES_MAX = 1024;
export const VALUE_BYTES_MAX = 1024 * 1024;
export const RID_BYTES_MAX = 128;

const key = () => str("the key", { bytesMax: KEY_BYTES_MAX });
const rid = () =>
  optional(str("request id unique per logical operation (e.g. client-id:sequence); a retry with the same rid is applied once", { bytesMax: RID_BYTES_MAX }));

export const KV_GET = {
  name: "KV.GET",
  summary: "linearizable read of a key from the replicated store",
  args: schema({ key: key() }),
  result: "{value, revision} or NOT_FOUND",
} satisfies CommandInfo;

export const KV_SET = {
  name: "KV.SET",
  summary: "write a key; answered once committed by a majority and applied",
  args: schema({ key: key(), value: anyValue("the value: any MessagePack data", { bytesMax: VALUE_BYTES_MAX }), rid: rid() }),
  result: "{revision}",
} satisfies CommandInfo;

export const KV_DEL = {
  name: "KV.DEL",
  summary: "delete a key",
  args: schema({ key: key(), rid: rid() }),
  result: "{deleted}",
} satisfies CommandInfo;

const nodeId = (doc: string) => str(doc, { bytesMax: 64 });

export const CLUSTER_ADD = {
  name: "CLUSTER.ADD",
  summary: "add a member: joins as a learner, catches up, then becomes a voter",
  args: schema({ id: nodeId("the new member's node id"), address: str("its host:port", { bytesMax: 261 }) }),
  result: "{members}",
} satisfies CommandInfo;

export const CLUSTER_REMOVE = {
  name: "CLUSTER.REMOVE",
  summary: "remove a member",
  args: schema({ id: nodeId("the member to remove") }),
  result: "{members}",
} satisfies CommandInfo;

export const CLUSTER_TRANSFER = {
  name: "CLUSTER.TRANSFER",
  summary: "hand leadership of group 0 to another voter",
  args: schema({ to: nodeId("the member that should lead") }),
  result: "{leader}",
} satisfies CommandInfo;

/** Bounds of lock arguments. */
export const LOCK_NAME_BYTES_MAX = 256;
export const LOCK_OWNER_BYTES_MAX = 128;
export const LOCK_WAIT_MS_MAX = 3_600_000;
/** What LOCK.ACQUIRE waits when `waitMs` is not given. */
export const LOCK_WAIT_MS_DEFAULT = 30_000;
export const LOCK_TTL_MS_MAX = 86_400_000;

const lockName = () => str("the lock's name", { bytesMax: LOCK_NAME_BYTES_MAX });
const lockOwner = () => str("who holds or asks: a client-chosen id, the same for all requests of one holder", { bytesMax: LOCK_OWNER_BYTES_MAX });

export const LOCK_ACQUIRE = {
  name: "LOCK.ACQUIRE",
  summary: "take a shared or exclusive lock, waiting in FIFO order; answers with a fencing token",
  args: schema({
    name: lockName(),
    mode: oneOf("shared locks coexist; exclusive excludes all others", ["shared", "exclusive"] as const),
    owner: lockOwner(),
    waitMs: optional(int(`how long to wait (0: try once; default ${LOCK_WAIT_MS_DEFAULT})`, { min: 0, max: LOCK_WAIT_MS_MAX })),
    ttlMs: optional(int("lease: released this long after the grant unless renewed (default: no lease)", { min: 1, max: LOCK_TTL_MS_MAX })),
  }),
  result: "{token, mode}",
} satisfies CommandInfo;

export const LOCK_RELEASE = {
  name: "LOCK.RELEASE",
  summary: "release a lock held by owner",
  args: schema({ name: lockName(), owner: lockOwner() }),
  result: "{released: true} or NOT_FOUND",
} satisfies CommandInfo;

export const LOCK_RENEW = {
  name: "LOCK.RENEW",
  summary: "extend a held lock's lease",
  args: schema({ name: lockName(), owner: lockOwner(), ttlMs: int("the new lease, from now", { min: 1, max: LOCK_TTL_MS_MAX }) }),
  result: "{expiresAtMs} or NOT_FOUND",
} satisfies CommandInfo;

export const LOCK_INFO = {
  name: "LOCK.INFO",
  summary: "holders and waiters of a lock (linearizable)",
  args: schema({ name: lockName() }),
  result: "{holders: [{owner, mode, token, expiresAtMs}], waiters: [{owner, mode, deadlineMs}]}",
} satisfies CommandInfo;

/** Bounds of queue arguments. */
export const QUEUE_NAME_BYTES_MAX = 200;
export const QUEUE_BODY_BYTES_MAX = 1024 * 1024;
export const QUEUE_KEY_BYTES_MAX = KEY_BYTES_MAX;
export const QUEUE_CONSUME_MAX_LIMIT = 1000;
export const QUEUE_WAIT_MS_MAX = 3_600_000;
export const QUEUE_VISIBILITY_MS_DEFAULT = 30_000;
export const QUEUE_VISIBILITY_MS_MAX = 43_200_000;
export const QUEUE_DELAY_MS_MAX = 86_400_000;
export const QUEUE_PARTITIONS_MAX = 256;
export const QUEUE_REPLICAS_MAX = 7;
export const QUEUE_MAX_DELIVERIES_DEFAULT = 16;
export const QUEUE_MAX_DELIVERIES_MAX = 1000;
/** `<queue>.dead` names a queue's dead-letter queue; no queue of its own may end so. */
export const DEAD_LETTER_SUFFIX = ".dead";
/** A message id: opaque to clients; the node reads `<group>.<seq>` (base 36) out of it. */
export const MESSAGE_ID_BYTES_MAX = 32;

const queueName = () => str(`the queue ('<queue>${DEAD_LETTER_SUFFIX}' is its dead-letter queue)`, { bytesMin: 1, bytesMax: QUEUE_NAME_BYTES_MAX });
const messageId = () => str("the message id from Q.PRODUCE / Q.CONSUME", { bytesMin: 1, bytesMax: MESSAGE_ID_BYTES_MAX });

export const Q_PRODUCE = {
  name: "Q.PRODUCE",
  summary: "add a message to a queue; answered once durable on a majority of its partition",
  args: schema({
    queue: queueName(),
    body: blob("the message: a string or binary", { bytesMax: QUEUE_BODY_BYTES_MAX }),
    key: optional(str("messages with one key go to one partition and keep their order", { bytesMax: QUEUE_KEY_BYTES_MAX })),
  }),
  result: "{id}",
} satisfies CommandInfo;

export const Q_CONSUME = {
  name: "Q.CONSUME",
  summary: "take up to max ready messages from any partition, long-polling up to waitMs",
  args: schema({
    queue: queueName(),
    max: optional(int("most messages to return (default 1)", { min: 1, max: QUEUE_CONSUME_MAX_LIMIT })),
    waitMs: optional(int("how long to wait when no message is ready (default 0)", { min: 0, max: QUEUE_WAIT_MS_MAX })),
    visibilityMs: optional(int(`redelivered when not acked within this (default ${QUEUE_VISIBILITY_MS_DEFAULT})`, { min: 1, max: QUEUE_VISIBILITY_MS_MAX })),
  }),
  result: "[{id, body, key, deliveries}] (empty when nothing came within waitMs)",
} satisfies CommandInfo;

export const Q_ACK = {
  name: "Q.ACK",
  summary: "acknowledge a delivered message: it is never delivered again",
  args: schema({ queue: queueName(), id: messageId() }),
  result: "{acked: true} or NOT_FOUND",
} satisfies CommandInfo;

export const Q_NACK = {
  name: "Q.NACK",
  summary: "give an in-flight message back for redelivery (after delayMs)",
  args: schema({ queue: queueName(), id: messageId(), delayMs: optional(int("make it ready again after this (default 0)", { min: 0, max: QUEUE_DELAY_MS_MAX })) }),
  result: "{requeued: true} or NOT_FOUND",
} satisfies CommandInfo;

export const Q_CREATE = {
  name: "Q.CREATE",
  summary: "create a queue with explicit settings (idempotent for the same settings)",
  args: schema({
    queue: queueName(),
    partitions: optional(int("partitions, each its own Raft group (default: 2 per node)", { min: 1, max: QUEUE_PARTITIONS_MAX })),
    replicas: optional(int("replicas per partition (default 3, at most the cluster size)", { min: 1, max: QUEUE_REPLICAS_MAX })),
    maxDeliveries: optional(int(`deliveries before a message moves to '<queue>${DEAD_LETTER_SUFFIX}' (default ${QUEUE_MAX_DELIVERIES_DEFAULT})`, { min: 1, max: QUEUE_MAX_DELIVERIES_MAX })),
  }),
  result: "{queue, partitions, replicas, maxDeliveries, created}",
} satisfies CommandInfo;

export const Q_INFO = {
  name: "Q.INFO",
  summary: "a queue's partitions (leader, replicas, counts) and totals",
  args: schema({ queue: queueName() }),
  result: "{queue, partitions: [{partition, group, leader, replicas, ready, inflight, delayed}], ready, inflight, deadLettered, maxDeliveries}",
} satisfies CommandInfo;

export const Q_DELETE = {
  name: "Q.DELETE",
  summary: "delete a queue, its dead-letter queue and every message in them",
  args: schema({ queue: queueName() }),
  result: "{deleted: true} or NOT_FOUND",
} satisfies CommandInfo;

/** Internal, peer-only: questions to a partition replica that are not proposals. */
export const Q_PARTITION = {
  name: "Q.PARTITION",
  summary: "internal: a partition replica's counts, or a wait until it has ready messages",
  args: schema({
    group: int("the partition's Raft group", { min: 1, max: 1_000_000 }),
    lane: int("0: the queue, 1: its dead letters", { min: 0, max: 1 }),
    waitMs: optional(int("wait up to this long for a ready message", { min: 0, max: QUEUE_WAIT_MS_MAX })),
  }),
  result: "{leader, ready, inflight, delayed}",
} satisfies CommandInfo;

/** A forwarded GROUP.PROPOSE carries a whole batch of produces: room for many bodies. */
export const GROUP_PROPOSE_ARGS_BYTES_MAX = 8 * 1024 * 1024;

/**
 * Internal, peer-only: propose an operation to a group this node leads and answer with its
 * result once applied. A node that serves a client's command forwards just the proposal, and
 * waits for later outcomes (a lock granted after a wait) on its own replica.
 */
export const GROUP_PROPOSE = {
  name: "GROUP.PROPOSE",
  summary: "internal: propose an operation to a group's leader",
  args: schema({
    group: int("the Raft group", { min: 0, max: 1_000_000 }),
    op: str("the state machine operation", { bytesMax: 64 }),
    args: anyValue("its arguments", { bytesMax: GROUP_PROPOSE_ARGS_BYTES_MAX }),
    rid: optional(str("request id for dedup", { bytesMax: RID_BYTES_MAX })),
  }),
  result: "the operation's result",
} satisfies CommandInfo;

/** Bounds of cache arguments (the cache's keys and values are the embedded store's). */
export const CACHE_KEY_BYTES_MAX = KEY_BYTES_MAX;
export const CACHE_VALUE_BYTES_MAX = VALUE_BYTES_MAX;

const cacheKey = () => str("the key", { bytesMax: CACHE_KEY_BYTES_MAX });
const cacheValue = () => anyValue("the value: any MessagePack data", { bytesMax: CACHE_VALUE_BYTES_MAX, overLimit: "BAD_REQUEST" });
const ringEpoch = () => int("the ring epoch the sender believes in", { min: 0, max: Number.MAX_SAFE_INTEGER });

/** MESI state of the line on the answering node after the read. */
export type CacheLineState = "M" | "E" | "S";

/** CACHE.GET's result. */
export type CacheGetResult = {
  value: unknown;
  /** "cache": served from this node's line, no network round trip; "store": fetched through the key's home. */
  source: "cache" | "store";
  state: CacheLineState;
};

export const CACHE_GET = {
  name: "CACHE.GET",
  summary: "coherent read: from this node's cache while its lease runs, else from the key's home",
  args: schema({ key: cacheKey() }),
  result: "{value, source: \"cache\" | \"store\", state: \"M\" | \"E\" | \"S\"} or NOT_FOUND",
} satisfies CommandInfo;

export const CACHE_SET = {
  name: "CACHE.SET",
  summary: "coherent write: answered once every other copy is invalidated and the store has it",
  args: schema({ key: cacheKey(), value: cacheValue() }),
  result: "{ok: true}",
} satisfies CommandInfo;

export const CACHE_DEL = {
  name: "CACHE.DEL",
  summary: "coherent delete: like CACHE.SET, removing the key from the store",
  args: schema({ key: cacheKey() }),
  result: "{deleted: boolean}",
} satisfies CommandInfo;

export const CACHE_INVALIDATE = {
  name: "CACHE.INVALIDATE",
  summary: "drop this node's cached copies (of one key, or all); the store is untouched",
  args: schema({ key: optional(cacheKey()) }),
  result: "{invalidated: number}",
} satisfies CommandInfo;

/** CACHE.METRICS's result: one node's cache counters (counts since it started) and its settings. */
export type CacheMetricsResult = {
  /** GETs answered from a line. */
  hits: number;
  /** GETs that asked the key's home. */
  misses: number;
  /** SETs and DELs this node acknowledged. */
  writes: number;
  /** Lines dropped because another node wrote their key. */
  invalidations: number;
  /** Lines dropped by the LRU bounds. */
  evictions: number;
  /** Lines held now, and their bytes (key + value + 96 a line). */
  entries: number;
  bytes: number;
  /** The bounds: --cache-max-entries, --cache-max-bytes. */
  capacity: number;
  capacityBytes: number;
  /** The backing store: "embedded" or "redis". */
  store: string;
  /** --cache-lease-ms: how long a line may be served without asking its home. */
  leaseMs: number;
  /** The ring epoch this node's lines and directory belong to. */
  epoch: number;
  /** Keys this node's home directory tracks holders for now. */
  homedKeys: number;
};

export const CACHE_METRICS = {
  name: "CACHE.METRICS",
  summary: "this node's cache counters",
  args: schema({}),
  result: "{hits, misses, writes, invalidations, evictions, entries, bytes, capacity, capacityBytes, store, leaseMs, epoch, homedKeys}",
} satisfies CommandInfo;

/** Internal, peer-only: a holder's read miss, sent to the key's home. */
export const CACHE_FETCH = {
  name: "CACHE.FETCH",
  summary: "internal: read a key at its home and take a read lease",
  args: schema({ key: cacheKey(), epoch: ringEpoch() }),
  result: "{found, value, state, leaseMs, seq}",
} satisfies CommandInfo;

/** Internal, peer-only: a write or delete, sent to the key's home. */
export const CACHE_WRITE = {
  name: "CACHE.WRITE",
  summary: "internal: write a key at its home (invalidate the holders, write the store)",
  args: schema({ key: cacheKey(), epoch: ringEpoch(), value: optional(cacheValue()), delete: optional(bool("delete the key instead of writing value")) }),
  result: "{found, state, leaseMs, seq, existed?} (the writer knows the value)",
} satisfies CommandInfo;

/** Internal, peer-only: the home tells a holder to drop its line (or to downgrade it to S). */
export const CACHE_INV = {
  name: "CACHE.INV",
  summary: "internal: drop (or downgrade) this node's line of a key",
  args: schema({ key: cacheKey(), downgrade: optional(bool("only turn an M or E line into S")) }),
  result: "{dropped: boolean}",
} satisfies CommandInfo;

/** Internal, peer-only: a linearizable read of many keys from the embedded store at group 0's leader. */
export const CACHE_STORE_READ = {
  name: "CACHE.STORE.READ",
  summary: "internal: read keys from the embedded store at group 0's leader, fenced by epoch",
  args: schema({ epoch: ringEpoch(), keys: anyValue("the keys", { bytesMax: 8 * 1024 * 1024 }) }),
  result: "[[] | [value]] per key",
} satisfies CommandInfo;

/** Raft traffic between members; accepted only on a connection that said HELLO with `peer`. */
export const RAFT_MSG = {
  name: "RAFT.MSG",
  summary: "internal: a batch of Raft messages from a peer",
  args: schema({
    from: nodeId("the sending member"),
    msgs: anyValue("the Raft messages", { bytesMax: 64 * 1024 * 1024 }),
  }),
  result: "null",
} satisfies CommandInfo;

export const CORE_COMMANDS: readonly CommandInfo[] = [HELLO, PING, STATUS];
export const KV_COMMANDS: readonly CommandInfo[] = [KV_GET, KV_SET, KV_DEL];
export const CLUSTER_COMMANDS: readonly CommandInfo[] = [CLUSTER_ADD, CLUSTER_REMOVE, CLUSTER_TRANSFER];
export const LOCK_COMMANDS: readonly CommandInfo[] = [LOCK_ACQUIRE, LOCK_RELEASE, LOCK_RENEW, LOCK_INFO];
export const QUEUE_COMMANDS: readonly CommandInfo[] = [Q_PRODUCE, Q_CONSUME, Q_ACK, Q_NACK, Q_CREATE, Q_INFO, Q_DELETE];
export const CACHE_COMMANDS: readonly CommandInfo[] = [CACHE_GET, CACHE_SET, CACHE_DEL, CACHE_INVALIDATE, CACHE_METRICS];
