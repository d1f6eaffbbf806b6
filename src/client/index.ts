// sinkron/client — the TypeScript client: `connect({ nodes })`, then typed calls per service
// (`client.lock.acquire(...)`) or the generic `client.call(command, args)`. Every failure is
// a SinkronError whose `code` is one of the protocol's ERROR_CODES.
export { connect, SinkronClient } from "./client.ts";
export type { ClientEvents, ClientState, ClientStats, Push } from "./client.ts";
export type { CallOptions } from "./caller.ts";
export type { ConnectOptions, NodeOrder, ReconnectOptions } from "./options.ts";
export { CLIENT_DEFAULTS } from "./options.ts";
export type { HelloResult, Member, NodeStatus } from "./core.ts";
export type { LockAcquireArgs, LockGrant, LockInfo, LockMode, LockHolder, LockWaiter, WithLockOptions, LockReleaseArgs, LockRenewArgs } from "./lock.ts";
export type { AckArgs, ConsumeArgs, CreateQueueArgs, CreateQueueResult, Delivery, MessageBody, MessageId, NackArgs, ProduceArgs, QueueInfo, QueuePartitionInfo, SubscribeOptions, Subscription } from "./queue.ts";
export type { KvDelArgs, KvEntry, KvSetArgs } from "./kv.ts";
export type { CacheEntry, CacheLineState, CacheMetrics } from "./cache.ts";
export { LockApi } from "./lock.ts";
export { QueueApi } from "./queue.ts";
export { KvApi } from "./kv.ts";
export { ClusterApi } from "./cluster.ts";
export { CacheApi } from "./cache.ts";
export { SinkronError, ERROR_CODES, ERROR_MEANINGS, isErrorCode } from "../protocol/errors.ts";
export type { ErrorCode } from "../protocol/errors.ts";
export { PROTOCOL_VERSION } from "../protocol/commands.ts";
