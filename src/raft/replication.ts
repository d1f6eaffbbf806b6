// Leader side of replication: proposals, Appends/heartbeats/snapshots to followers, AppendResp and
// progress handling, commit advancement (§5.4.2) and batching into Ready. Split from raft.ts.

import { assert } from "./assert.ts";
import { isQuorumActive } from "./election.ts";
import { entryOverheadBytes, entrySizeBytes } from "./log.ts";
import type { Progress } from "./progress.ts";
import { majorityMatchIndex } from "./quorum.ts";
import type { Raft } from "./raft.ts";
import { registerRead, releaseConfirmedReads } from "./reads.ts";
import { stepDownAfterRemoval } from "./reconfig.ts";
import { becomeFollower } from "./roles.ts";
import type { AppendResponseMessage, Entry, HeartbeatResponseMessage, NodeId, ProposeResult } from "./types.ts";

export function tickLeader(r: Raft): void {
  r.heartbeatElapsedTicks++;
  r.electionElapsedTicks++;
  for (const pr of r.progress.values()) if (pr.state === "snapshot") pr.snapshotElapsedTicks++;
  if (r.electionElapsedTicks >= r.electionTicks) {
    r.electionElapsedTicks = 0;
    // Check-quorum (thesis §6.2): a leader cut off from a majority steps down, so clients go
    // elsewhere and the stale leader stops answering reads.
    if (r.isCheckQuorumEnabled && !isQuorumActive(r)) {
      becomeFollower(r, r.term, null);
      return;
    }
    // A transfer that did not finish within an election timeout is abandoned (thesis §3.10).
    r.leadTransferee = null;
  }
  if (r.heartbeatElapsedTicks >= r.heartbeatTicks) {
    r.heartbeatElapsedTicks = 0;
    broadcastHeartbeat(r);
  }
}

export function appendEntry(r: Raft, type: Entry["type"], data: Uint8Array): Entry {
  const entry: Entry = { index: r.log.lastIndex() + 1, term: r.term, type, data };
  r.log.append(entry);
  return entry;
}

export function handleAppendResponse(r: Raft, m: AppendResponseMessage): void {
  const pr = r.progress.get(m.from);
  if (pr === undefined) return;
  pr.isRecentActive = true;
  if (m.reject) {
    handleAppendReject(r, m, pr);
    return;
  }
  // A follower can only have matched entries this leader holds (leader completeness, §5.4).
  assert(m.index <= r.log.lastIndex(), `${m.from} acked ${m.index} beyond leader ${r.id}'s last ${r.log.lastIndex()}`);
  const wasProbeMatch = pr.state === "probe" && pr.match === m.index;
  if (!pr.maybeUpdate(m.index) && !wasProbeMatch) return;
  switch (pr.state) {
    case "probe":
      pr.becomeReplicate();
      break;
    case "snapshot":
      if (pr.match + 1 >= r.log.firstIndex()) pr.becomeReplicate();
      break;
    case "replicate":
      pr.freeInflightUpTo(m.index);
      break;
  }
  if (maybeCommit(r)) r.isCommitBroadcastNeeded = true;
  if (r.role !== "leader") return;
  while (maybeSendAppend(r, m.from, false)) {
    // Keep the pipeline full up to maxInflightMsgs.
  }
  if (m.from === r.leadTransferee && pr.match === r.log.lastIndex()) {
    r.send({ to: m.from, type: "TimeoutNow" });
  }
}

function handleAppendReject(r: Raft, m: AppendResponseMessage, pr: Progress): void {
  const conflict = r.log.findConflictByTerm(m.hintIndex, m.hintTerm);
  switch (pr.state) {
    case "snapshot":
      return; // an answer to an append sent before the snapshot
    case "replicate":
      // Below match it is stale (reordered); at or above, re-sync with a single probe.
      if (m.index < pr.match) return;
      pr.becomeProbe();
      pr.next = Math.max(pr.match + 1, Math.min(m.index, conflict + 1));
      break;
    case "probe":
      if (m.index !== pr.next - 1) return; // answer to an older probe
      if (m.index <= pr.match) {
        // The follower no longer holds what it acknowledged: its storage lost acknowledged
        // entries (a damaged restart). Stop relying on that match and walk back from its hint.
        pr.forgetMatch();
      }
      pr.becomeProbe();
      pr.next = Math.max(pr.match + 1, Math.min(m.index, conflict + 1));
      break;
  }
  maybeSendAppend(r, m.from, true);
}

export function handleHeartbeatResponse(r: Raft, m: HeartbeatResponseMessage): void {
  const pr = r.progress.get(m.from);
  if (pr === undefined) return;
  pr.isRecentActive = true;
  pr.isProbeSent = false;
  if (pr.state === "replicate" && pr.isInflightFull(r.maxInflightMsgs)) pr.freeFirstInflight();
  // A lost InstallSnapshot would leave the follower stuck; retry after an election timeout.
  if (pr.state === "snapshot" && pr.snapshotElapsedTicks >= r.electionTicks) pr.becomeProbe();
  // Even an empty Append: if everything in flight was lost, its rejection re-synchronises us.
  if (pr.match < r.log.lastIndex() || pr.state === "probe") maybeSendAppend(r, m.from, true);
  if (m.ctx > 0) {
    r.readAcks.set(m.from, Math.max(r.readAcks.get(m.from) ?? 0, m.ctx));
    releaseConfirmedReads(r);
  }
}

/** Send the next Append (or a snapshot) to `to` if its progress allows; true if something went out. */
export function maybeSendAppend(r: Raft, to: NodeId, sendIfEmpty: boolean): boolean {
  const pr = r.progress.get(to);
  if (pr === undefined || to === r.id || pr.isPaused(r.maxInflightMsgs)) return false;
  const prevIndex = pr.next - 1;
  const prevTerm = r.log.term(prevIndex);
  const lastIndex = r.log.lastIndex();
  const entries = pr.next <= lastIndex ? r.log.slice(pr.next, lastIndex + 1, r.maxEntriesBytesPerMsg) : [];
  if (prevTerm === null || entries === null) return sendSnapshot(r, pr);
  if (entries.length === 0 && !sendIfEmpty) return false;
  r.send({ to, type: "Append", prevIndex, prevTerm, entries, commit: r.log.committed() });
  const last = entries[entries.length - 1];
  pr.sentAppend(last === undefined ? prevIndex : last.index, entries.length);
  return true;
}

function sendSnapshot(r: Raft, pr: Progress): boolean {
  if (!pr.isRecentActive) return false;
  const snapshot = r.log.snapshotForFollower();
  assert(snapshot !== null, `follower ${pr.id} needs compacted entries but there is no snapshot`);
  r.send({ to: pr.id, type: "Snapshot", snapshot });
  pr.becomeSnapshot(snapshot.index);
  return true;
}

function broadcastHeartbeat(r: Raft): void {
  for (const pr of r.progress.values()) {
    if (pr.id === r.id) continue;
    r.send({
      to: pr.id,
      type: "Heartbeat",
      commit: Math.min(pr.match, r.log.committed()),
      ctx: r.readRound,
    });
  }
  r.isReadHeartbeatNeeded = false;
}

function matchOf(r: Raft, id: NodeId): number {
  if (id === r.id) return r.log.stable();
  return r.progress.get(id)?.match ?? 0;
}

/** Advance commit by counting replicas, only for entries of our own term (Raft paper §5.4.2). */
export function maybeCommit(r: Raft): boolean {
  const index = majorityMatchIndex(r.config.voters, (id) => matchOf(r, id));
  const before = r.log.committed();
  if (index <= before || r.log.term(index) !== r.term) return false;
  r.log.commitTo(index);
  for (let at = before + 1; at <= index && r.uncommittedBytes > 0; at++) {
    const entry = r.log.entry(at);
    if (entry !== null && entry.term === r.term && entry.type === "normal") r.uncommittedBytes -= entrySizeBytes(entry);
  }
  r.uncommittedBytes = Math.max(0, r.uncommittedBytes);
  afterLeaderCommit(r);
  return true;
}

function afterLeaderCommit(r: Raft): void {
  if (r.log.term(r.log.committed()) === r.term && r.readsAwaitingTermCommit.length > 0) {
    const waiting = r.readsAwaitingTermCommit;
    r.readsAwaitingTermCommit = [];
    for (const ctx of waiting) registerRead(r, ctx);
  }
  if (!r.isVoter() && r.log.committed() >= r.configIndex) stepDownAfterRemoval(r);
}

/** Called by RaftNode once the host persisted our log up to `stable`. */
export function onPersisted(r: Raft): void {
  if (r.role !== "leader") return;
  const self = r.progress.get(r.id);
  if (self !== undefined) self.match = r.log.stable();
  if (maybeCommit(r)) r.isCommitBroadcastNeeded = true;
}

/** Batch everything queued since the last Ready into as few messages as possible. */
export function flush(r: Raft): void {
  if (r.role !== "leader") return;
  if (r.isAppendFlushNeeded || r.isCommitBroadcastNeeded) {
    for (const pr of r.progress.values()) {
      if (pr.id === r.id) continue;
      let sendIfEmpty = r.isCommitBroadcastNeeded;
      while (maybeSendAppend(r, pr.id, sendIfEmpty)) sendIfEmpty = false;
    }
    r.isAppendFlushNeeded = false;
    r.isCommitBroadcastNeeded = false;
  }
  if (r.isReadHeartbeatNeeded) broadcastHeartbeat(r);
}

// ---- proposals ----

export function propose(r: Raft, data: Uint8Array): ProposeResult {
  const refusal = proposalRefusal(r);
  if (refusal !== null) return refusal;
  const sizeBytes = data.byteLength + entryOverheadBytes;
  if (r.uncommittedBytes > 0 && r.uncommittedBytes + sizeBytes > r.maxUncommittedBytes) {
    return { ok: false, code: "UNAVAILABLE", message: "too many uncommitted entries; the cluster is not keeping up" };
  }
  const entry = appendEntry(r, "normal", data);
  r.uncommittedBytes += sizeBytes;
  r.isAppendFlushNeeded = true;
  return { ok: true, index: entry.index, term: entry.term };
}

export function proposalRefusal(r: Raft): ProposeResult | null {
  if (r.role !== "leader") return { ok: false, code: "NOT_LEADER", leader: r.leader };
  if (r.leadTransferee !== null) {
    return { ok: false, code: "UNAVAILABLE", message: `leadership is being transferred to ${r.leadTransferee}` };
  }
  return null;
}
