// Follower side of replication: receiving Append, Heartbeat and Snapshot from the leader, and the
// damaged-storage repair rule. Split from raft.ts; functions over the Raft instance's state.

import { assert } from "./assert.ts";
import type { Raft } from "./raft.ts";
import { refreshConfigFromLog } from "./reconfig.ts";
import type { AppendMessage, HeartbeatMessage, NodeId, SnapshotMessage } from "./types.ts";

export function acceptLeader(r: Raft, from: NodeId): void {
  assert(
    r.leader === null || r.leader === from,
    `two leaders in term ${r.term}: ${r.leader} and ${from} (seen by ${r.id})`,
  );
  r.leader = from;
  r.electionElapsedTicks = 0;
}

export function handleAppend(r: Raft, m: AppendMessage): void {
  const commit = r.log.committed();
  let prevIndex = m.prevIndex;
  let prevTerm = m.prevTerm;
  let entries = m.entries;
  if (prevIndex < commit) {
    // Our prefix up to `commit` is committed and therefore the leader's too (§5.4.3); match
    // from there instead of from a prevIndex we may have compacted.
    const skip = commit - prevIndex;
    if (entries.length <= skip) {
      sendAppendAck(r, m.from, commit);
      return;
    }
    const atCommit = entries[skip - 1];
    assert(atCommit !== undefined && atCommit.index === commit, "append: malformed entry indices");
    assert(
      r.log.matchTerm(commit, atCommit.term),
      `committed entry ${commit} has term ${r.log.term(commit)} but leader ${m.from} has ${atCommit.term}`,
    );
    prevIndex = commit;
    prevTerm = atCommit.term;
    entries = entries.slice(skip);
  }
  if (!r.log.matchTerm(prevIndex, prevTerm)) {
    const hintIndex = r.log.findConflictByTerm(Math.min(prevIndex, r.log.lastIndex()), prevTerm);
    r.send({
      to: m.from,
      type: "AppendResp",
      reject: true,
      index: prevIndex,
      hintIndex,
      hintTerm: r.log.term(hintIndex) ?? 0,
    });
    return;
  }
  const conflict = r.log.findConflict(entries);
  if (conflict !== 0) {
    const first = entries[0];
    assert(first !== undefined, "append: conflict without entries");
    const suffix = entries.slice(conflict - first.index);
    const isConfigTouched = conflict <= r.configIndex || suffix.some((e) => e.type === "config");
    r.log.truncateAndAppend(suffix);
    if (isConfigTouched) refreshConfigFromLog(r);
  }
  const lastNewIndex = prevIndex + entries.length;
  r.log.commitTo(Math.min(m.commit, lastNewIndex));
  noteRepairProgress(r, m.term, lastNewIndex);
  sendAppendAck(r, m.from, lastNewIndex);
}

function sendAppendAck(r: Raft, to: NodeId, index: number): void {
  r.send({ to, type: "AppendResp", reject: false, index, hintIndex: 0, hintTerm: 0 });
}

export function handleHeartbeat(r: Raft, m: HeartbeatMessage): void {
  // The leader sends min(match, commit), so this never commits an entry we have not matched.
  r.log.commitTo(Math.min(m.commit, r.log.lastIndex()));
  r.send({ to: m.from, type: "HeartbeatResp", ctx: m.ctx });
}

export function handleSnapshot(r: Raft, m: SnapshotMessage): void {
  const snapshot = m.snapshot;
  if (snapshot.index <= r.log.committed()) {
    sendAppendAck(r, m.from, r.log.committed());
    return;
  }
  if (r.log.matchTerm(snapshot.index, snapshot.term)) {
    // We already hold the snapshot's last entry, hence (log matching) all before it.
    r.log.commitTo(snapshot.index);
  } else {
    r.log.restoreSnapshot(snapshot);
    refreshConfigFromLog(r);
  }
  noteRepairProgress(r, m.term, snapshot.index);
  sendAppendAck(r, m.from, snapshot.index);
}

/**
 * Damaged storage: voting resumes once a leader of a later term than the damage has made our
 * log match its own up to the damaged index — then we again hold everything we acknowledged.
 */
function noteRepairProgress(r: Raft, leaderTerm: number, matchedIndex: number): void {
  const until = r.votingDisabledUntil;
  if (until === null) return;
  if (leaderTerm > until.term && matchedIndex >= until.index) {
    r.votingDisabledUntil = null;
    r.isVotingRestoredUnreported = true;
  }
}
