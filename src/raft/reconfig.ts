// Membership changes one server at a time (thesis §4.1) and leader transfer (§3.10): proposing a
// change, tracking the config in force, a removed leader's step-down. Split from raft.ts.

import { applyConfChange, cloneConfig, decodeConfigEntry, encodeConfigEntry } from "./membership.ts";
import { Progress } from "./progress.ts";
import type { Raft, TransferResult } from "./raft.ts";
import { appendEntry, maybeCommit, maybeSendAppend, proposalRefusal } from "./replication.ts";
import { becomeFollower } from "./roles.ts";
import type { ClusterConfig, ConfChange, NodeId, ProposeResult } from "./types.ts";

/**
 * Thesis §4.2.2: a leader removed from the configuration leads until the removal commits, then
 * steps down. It tells the most caught-up voter to campaign at once instead of waiting a timeout.
 */
export function stepDownAfterRemoval(r: Raft): void {
  for (const pr of r.progress.values()) {
    if (pr.id === r.id) continue;
    let sendIfEmpty = true;
    while (maybeSendAppend(r, pr.id, sendIfEmpty)) sendIfEmpty = false;
  }
  let successor: Progress | null = null;
  for (const pr of r.progress.values()) {
    if (pr.id === r.id || !r.config.voters.includes(pr.id)) continue;
    if (successor === null || pr.match > successor.match) successor = pr;
  }
  if (successor !== null && successor.match === r.log.lastIndex()) {
    r.send({ to: successor.id, type: "TimeoutNow" });
  }
  becomeFollower(r, r.term, null);
}

/**
 * One server at a time (thesis §4.1), effective as soon as the entry is appended. Refused until
 * this leader committed an entry of its term (fixes the single-server change bug Ongaro reported
 * on raft-dev in 2015) and while an earlier change is uncommitted.
 */
export function proposeConfChange(r: Raft, change: ConfChange): ProposeResult {
  const refusal = proposalRefusal(r);
  if (refusal !== null) return refusal;
  if (r.log.term(r.log.committed()) !== r.term) {
    return { ok: false, code: "UNAVAILABLE", message: "leader has not committed an entry in its term yet" };
  }
  if (r.configIndex > r.log.committed()) {
    return { ok: false, code: "CONFLICT", message: "another membership change is not committed yet" };
  }
  const outcome = applyConfChange(r.config, change);
  if (!outcome.ok) return { ok: false, code: "CONFLICT", message: outcome.message };
  if (change.type === "promote") {
    // A voter that cannot keep up would stall commits (thesis §4.2.1): promote caught-up learners only.
    const match = r.progress.get(change.node)?.match ?? 0;
    if (match < r.log.committed()) {
      return { ok: false, code: "UNAVAILABLE", message: `${change.node} has not caught up (match ${match})` };
    }
  }
  const entry = appendEntry(r, "config", encodeConfigEntry({ config: outcome.config, change }));
  setConfig(r, outcome.config, entry.index);
  r.isAppendFlushNeeded = true;
  return { ok: true, index: entry.index, term: entry.term };
}

/** The configuration in force just before the config entry at `index`. */
function previousConfigAt(r: Raft, index: number): ClusterConfig {
  const entry = index > r.log.snapshotPoint().index ? r.log.lastConfigEntryAtOrBelow(index - 1) : null;
  return entry === null ? r.log.snapshotPoint().config : decodeConfigEntry(entry.data).config;
}

export function refreshConfigFromLog(r: Raft): void {
  const entry = r.log.lastConfigEntryAtOrBelow(r.log.lastIndex());
  if (entry === null) {
    const point = r.log.snapshotPoint();
    setConfig(r, cloneConfig(point.config), point.index);
  } else {
    setConfig(r, decodeConfigEntry(entry.data).config, entry.index);
  }
}

function setConfig(r: Raft, config: ClusterConfig, index: number): void {
  r.wasVoterBeforeConfig = !config.voters.includes(r.id) && previousConfigAt(r, index).voters.includes(r.id);
  r.config = config;
  r.configIndex = index;
  if (r.role !== "leader") return;
  const members = new Set([...config.voters, ...config.learners]);
  for (const id of [...r.progress.keys()]) if (!members.has(id)) r.progress.delete(id);
  for (const id of members) {
    const existing = r.progress.get(id);
    const isLearner = config.learners.includes(id);
    if (existing === undefined) r.progress.set(id, new Progress(id, r.log.lastIndex(), isLearner));
    else existing.isLearner = isLearner;
  }
  if (r.leadTransferee !== null && !config.voters.includes(r.leadTransferee)) r.leadTransferee = null;
  // A smaller quorum may already cover more entries.
  if (maybeCommit(r)) r.isCommitBroadcastNeeded = true;
}

// ---- leader transfer ----

export function transferLeadership(r: Raft, to: NodeId): TransferResult {
  if (r.role !== "leader") return { ok: false, code: "NOT_LEADER", leader: r.leader };
  if (to === r.id) return { ok: true };
  if (!r.config.voters.includes(to)) return { ok: false, code: "CONFLICT", message: `${to} is not a voter` };
  if (r.leadTransferee === to) return { ok: true };
  r.leadTransferee = to;
  // The transfer is bounded by one election timeout, measured from now (thesis §3.10).
  r.electionElapsedTicks = 0;
  const pr = r.progress.get(to);
  if (pr !== undefined && pr.match === r.log.lastIndex()) r.send({ to, type: "TimeoutNow" });
  else maybeSendAppend(r, to, true);
  return { ok: true };
}
