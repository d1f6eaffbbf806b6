// The client's options and every bound it enforces, in one place with units in the names
// (STYLE.md habit 3). `resolveOptions` fills defaults and refuses nonsense up front, so the
// rest of the client can rely on sane, finite numbers.
import { FRAME_BYTES_MAX_DEFAULT, FRAME_BYTES_LIMIT } from "../protocol/frame.ts";
import { SinkronError } from "../protocol/errors.ts";
import { parseAddress, type Address } from "../util/address.ts";

export interface ReconnectOptions {
  /** First pause after a full round of failed attempts; doubles per round. */
  backoffMsMin?: number;
  /** Ceiling of the pause between rounds. */
  backoffMsMax?: number;
}

/**
 * - `"random-start"` (default): begin at a random node, then walk the list in order. Spreads
 *   clients over the cluster, which is fine because any node accepts any command.
 * - `"in-order"`: always begin at the first node (predictable; handy in tests).
 */
export type NodeOrder = "random-start" | "in-order";

export interface ConnectOptions {
  /** `host:port` of one or more nodes; the client talks to one at a time and fails over. */
  nodes: readonly string[];
  /** Sent in HELLO; required when the nodes run with `--token`. */
  token?: string;
  /** Sent in HELLO; shows in the nodes' logs. */
  name?: string;
  /** Cluster members only: this node's id, sent in HELLO so the node accepts RAFT.MSG from us. */
  peer?: string;
  /** With `peer`: the cluster secret members share. */
  secret?: string;
  /** Default deadline of a call, from the moment it is made (queueing included). */
  requestTimeoutMs?: number;
  /** How long `connect()` keeps trying (all nodes, with backoff) before UNAVAILABLE. */
  connectTimeoutMs?: number;
  /** Bound on one attempt (TCP connect + HELLO) so a black-holed node cannot eat the budget. */
  attemptTimeoutMs?: number;
  /** Backoff between rounds of attempts (connect and reconnect); `false`: a drop closes the client. */
  reconnect?: ReconnectOptions | false;
  nodeOrder?: NodeOrder;
  /** Calls sent and not yet answered on the connection; more wait in the FIFO. */
  inflightRequestsMax?: number;
  /** Calls waiting to be sent (no slot, or no connection); one more is refused at once. */
  waitingRequestsMax?: number;
  /** Unsent request bytes above which new calls wait instead of being encoded. */
  outboundBytesHighWater?: number;
  /** Largest frame accepted or sent; must match the nodes' limit (default 16 MiB). */
  frameBytesMax?: number;
  /** How often deadlines are checked; a timeout fires within `timeoutMs + sweepIntervalMs`. */
  sweepIntervalMs?: number;
}

export interface ResolvedOptions {
  nodes: Address[];
  token: string | undefined;
  name: string | undefined;
  peer: string | undefined;
  secret: string | undefined;
  requestTimeoutMs: number;
  connectTimeoutMs: number;
  attemptTimeoutMs: number;
  /** False: the first drop closes the client. The backoff below also paces `connect()`. */
  isReconnectEnabled: boolean;
  backoffMsMin: number;
  backoffMsMax: number;
  nodeOrder: NodeOrder;
  inflightRequestsMax: number;
  waitingRequestsMax: number;
  outboundBytesHighWater: number;
  frameBytesMax: number;
  sweepIntervalMs: number;
}

export const CLIENT_DEFAULTS = {
  requestTimeoutMs: 5_000,
  connectTimeoutMs: 10_000,
  attemptTimeoutMs: 2_000,
  backoffMsMin: 50,
  backoffMsMax: 2_000,
  inflightRequestsMax: 4_096,
  waitingRequestsMax: 65_536,
  outboundBytesHighWater: 8 * 1024 * 1024,
  frameBytesMax: FRAME_BYTES_MAX_DEFAULT,
  sweepIntervalMs: 50,
} as const;

/** Deadlines are kept as numbers; past this a timer would overflow (setTimeout's 2^31-1 ms). */
const TIMEOUT_MS_LIMIT = 0x7fff_ffff;

export function resolveOptions(options: ConnectOptions): ResolvedOptions {
  if (!Array.isArray(options.nodes) || options.nodes.length === 0) {
    throw badOption("connect: `nodes` must list at least one host:port");
  }
  const nodes = options.nodes.map((text) => {
    try {
      return parseAddress(text);
    } catch (error) {
      throw badOption(`connect: ${(error as Error).message}`);
    }
  });
  const reconnect: ReconnectOptions = options.reconnect === false ? {} : (options.reconnect ?? {});
  const backoffMsMin = positive("reconnect.backoffMsMin", reconnect.backoffMsMin ?? CLIENT_DEFAULTS.backoffMsMin, TIMEOUT_MS_LIMIT);
  const backoffMsMax = positive("reconnect.backoffMsMax", reconnect.backoffMsMax ?? Math.max(backoffMsMin, CLIENT_DEFAULTS.backoffMsMax), TIMEOUT_MS_LIMIT);
  if (backoffMsMax < backoffMsMin) throw badOption("connect: reconnect.backoffMsMax must be >= reconnect.backoffMsMin");
  const nodeOrder = options.nodeOrder ?? "random-start";
  if (nodeOrder !== "random-start" && nodeOrder !== "in-order") throw badOption(`connect: unknown nodeOrder '${String(nodeOrder)}'`);
  return {
    nodes,
    token: options.token,
    name: options.name,
    peer: options.peer,
    secret: options.secret,
    requestTimeoutMs: positive("requestTimeoutMs", options.requestTimeoutMs ?? CLIENT_DEFAULTS.requestTimeoutMs, TIMEOUT_MS_LIMIT),
    connectTimeoutMs: positive("connectTimeoutMs", options.connectTimeoutMs ?? CLIENT_DEFAULTS.connectTimeoutMs, TIMEOUT_MS_LIMIT),
    attemptTimeoutMs: positive("attemptTimeoutMs", options.attemptTimeoutMs ?? CLIENT_DEFAULTS.attemptTimeoutMs, TIMEOUT_MS_LIMIT),
    isReconnectEnabled: options.reconnect !== false,
    backoffMsMin,
    backoffMsMax,
    nodeOrder,
    inflightRequestsMax: positive("inflightRequestsMax", options.inflightRequestsMax ?? CLIENT_DEFAULTS.inflightRequestsMax, 1 << 20),
    waitingRequestsMax: positive("waitingRequestsMax", options.waitingRequestsMax ?? CLIENT_DEFAULTS.waitingRequestsMax, 1 << 24),
    outboundBytesHighWater: positive("outboundBytesHighWater", options.outboundBytesHighWater ?? CLIENT_DEFAULTS.outboundBytesHighWater, 1 << 30),
    frameBytesMax: positive("frameBytesMax", options.frameBytesMax ?? CLIENT_DEFAULTS.frameBytesMax, FRAME_BYTES_LIMIT),
    sweepIntervalMs: positive("sweepIntervalMs", options.sweepIntervalMs ?? CLIENT_DEFAULTS.sweepIntervalMs, 60_000),
  };
}

/** A per-call timeout, checked like the options so a typo cannot mean "wait forever". */
export function checkTimeoutMs(timeoutMs: number): number {
  return positive("timeoutMs", timeoutMs, TIMEOUT_MS_LIMIT);
}

function positive(name: string, value: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > max) {
    throw badOption(`${name} must be an integer in 1..${max}, got ${String(value)}`);
  }
  return value;
}

/** Option mistakes are the caller's: BAD_REQUEST, like any argument the protocol refuses. */
function badOption(message: string): SinkronError {
  return new SinkronError("BAD_REQUEST", message);
}
