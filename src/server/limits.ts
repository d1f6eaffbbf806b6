// Every bound the server enforces, in one place with units in the names (STYLE.md habit 3).
// Each is configurable (CLI flag / environment variable, see src/cli/node-config.ts) and
// documented in the README's configuration table.
import { FRAME_BYTES_MAX_DEFAULT } from "../protocol/frame.ts";

export interface ServerLimits {
  /** Largest frame payload accepted or sent; a bigger length prefix gets TOO_LARGE and a close. */
  frameBytesMax: number;
  /**
   * Largest frame from a connection that said HELLO with `peer` (and passed the token): Raft
   * batches and whole snapshots travel as one frame between members.
   */
  peerFrameBytesMax: number;
  /** Requests of one connection awaiting an answer; past it the server stops reading that socket. */
  inflightRequestsMax: number;
  /** Unsent response bytes of one connection above which the server stops reading it. */
  outboundBytesHighWater: number;
  /** Input bytes handled from one connection per event-loop turn before yielding to others. */
  inboundBytesPerTurnMax: number;
  /** Open connections at once; one more is told UNAVAILABLE and closed. */
  connectionsMax: number;
  /** A frame started but not finished for this long closes the connection. */
  partialFrameTimeoutMs: number;
  /** How long shutdown waits for answers to flush before closing sockets. */
  shutdownGraceMs: number;
}

export const DEFAULT_SERVER_LIMITS: Readonly<ServerLimits> = {
  frameBytesMax: FRAME_BYTES_MAX_DEFAULT,
  peerFrameBytesMax: 512 * 1024 * 1024,
  inflightRequestsMax: 4096,
  outboundBytesHighWater: 8 * 1024 * 1024,
  inboundBytesPerTurnMax: 256 * 1024,
  connectionsMax: 10_000,
  partialFrameTimeoutMs: 30_000,
  shutdownGraceMs: 2_000,
};
