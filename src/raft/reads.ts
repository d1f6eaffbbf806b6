// Linearizable reads with ReadIndex (thesis §6.4): registration, the heartbeat round that confirms
// leadership, release into readStates. Split from raft.ts; functions over the Raft instance's state.

import { hasQuorum } from "./quorum.ts";
import type { Raft } from "./raft.ts";
import type { ReadIndexResult } from "./types.ts";

export interface ReadRequest {
  ctx: number;
  index: number;
  /** Heartbeat round that must be acknowledged by a majority before the read is safe. */
  round: number;
}

/** ReadIndex (thesis §6.4): answered later through readStates, after a heartbeat round. */
export function readIndex(r: Raft, ctx: number): ReadIndexResult {
  if (r.role !== "leader") return { ok: false, code: "NOT_LEADER", leader: r.leader };
  if (r.log.term(r.log.committed()) !== r.term) {
    r.readsAwaitingTermCommit.push(ctx);
    return { ok: true };
  }
  registerRead(r, ctx);
  return { ok: true };
}

export function registerRead(r: Raft, ctx: number): void {
  const index = r.log.committed();
  if (r.config.voters.length === 1 && r.config.voters[0] === r.id) {
    r.readStates.push({ ctx, index });
    return;
  }
  r.readRound++;
  r.readRequests.push({ ctx, index, round: r.readRound });
  r.isReadHeartbeatNeeded = true;
}

export function releaseConfirmedReads(r: Raft): void {
  while (r.readRequests.length > 0) {
    const request = r.readRequests[0];
    if (request === undefined) break;
    const isConfirmed = hasQuorum(
      r.config.voters,
      (id) => id === r.id || (r.readAcks.get(id) ?? 0) >= request.round,
    );
    if (!isConfirmed) break;
    r.readRequests.shift();
    r.readStates.push({ ctx: request.ctx, index: request.index });
  }
}
