// A node's configuration as the CLI, environment and tests hand it to SinkronNode.
import type { Address } from "../util/address.ts";
import type { ServerLimits } from "../server/limits.ts";
import type { LogLevel } from "../util/log.ts";
import type { RaftTiming } from "../replication/raft-host.ts";
import type { QueueLimits } from "../queue/limits.ts";
import type { CacheSettings } from "../cache/limits.ts";

export interface Member {
  id: string;
  address: string;
}

export interface NodeConfig {
  id: string;
  listen: Address;
  /** Every member of the initial cluster, this node included. */
  peers: Member[];
  dataDir: string;
  http: Address | null;
  /** Redis as the cache's backing store (null: the embedded store of group 0). */
  redisUrl: string | null;
  /** Prepended to every cache key in Redis. */
  redisPrefix?: string;
  token: string | null;
  /**
   * Shared by the members only: a connection that says HELLO with `peer` must send it. Null (the
   * default for hand-run nodes) leaves members unauthenticated beyond the token.
   */
  clusterSecret?: string | null;
  limits: Partial<ServerLimits>;
  logLevel?: LogLevel;
  /** Raft and storage settings; defaults in src/node/node.ts. */
  raft?: Partial<RaftSettings>;
  /** Queue bounds; defaults in src/queue/limits.ts. */
  queue?: Partial<QueueLimits>;
  /** Cache bounds and lease; defaults in src/cache/limits.ts. */
  cache?: Partial<CacheSettings>;
}

export interface RaftSettings extends RaftTiming {
  /** false skips fsync: fast, and a crash may lose acknowledged writes. Reported in STATUS. */
  fsync: boolean;
  /** Applied entries between snapshots of a group's state machine. */
  snapshotEntries: number;
  /** Applied log bytes between snapshots (or twice the last snapshot, if larger). */
  snapshotLogBytes: number;
  segmentBytesMax: number;
  /** Start with no configuration and wait to be added with CLUSTER.ADD (a new member). */
  join: boolean;
}
