// A node's configuration as the CLI, environment and tests hand it to SinkronNode.
import type { Address } from "../util/address.ts";
import type { ServerLimits } from "../server/limits.ts";
import type { LogLevel } from "../util/log.ts";

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
  redisUrl: string | null;
  token: string | null;
  limits: Partial<ServerLimits>;
  logLevel?: LogLevel;
}
