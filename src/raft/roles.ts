// Role transitions: follower, pre-candidate, candidate, leader. Split from raft.ts so the state a
// term or role change resets (votes, reads, progress, transfer) is listed in one place.

import { assert } from "./assert.ts";
import { Progress } from "./progress.ts";
import type { Raft } from "./raft.ts";
import { appendEntry } from "./replication.ts";
import type { NodeId } from "./types.ts";

const emptyData = new Uint8Array(0);

function reset(r: Raft, term: number): void {
  if (term !== r.term) {
    assert(term > r.term, `term going back from ${r.term} to ${term}`);
    r.term = term;
    r.vote = null;
  }
  r.leader = null;
  r.electionElapsedTicks = 0;
  r.heartbeatElapsedTicks = 0;
  resetRandomizedElectionTicks(r);
  r.votes.clear();
  r.leadTransferee = null;
  r.readsAwaitingTermCommit = [];
  r.readRequests = [];
  r.readAcks.clear();
  r.isReadHeartbeatNeeded = false;
  r.isAppendFlushNeeded = false;
  r.isCommitBroadcastNeeded = false;
  r.uncommittedBytes = 0;
  r.progress.clear();
}

export function resetRandomizedElectionTicks(r: Raft): void {
  const draw = r.random();
  assert(draw >= 0 && draw < 1, `random() returned ${draw}, outside [0, 1)`);
  r.randomizedElectionTicks = r.electionTicks + Math.floor(draw * r.electionTicks);
}

export function becomeFollower(r: Raft, term: number, leader: NodeId | null): void {
  reset(r, term);
  r.role = "follower";
  r.leader = leader;
}

export function becomePreCandidate(r: Raft): void {
  assert(r.role !== "leader", "leader cannot become pre-candidate");
  // Deliberately keeps term and vote: a pre-vote round must not disrupt anyone (thesis §9.6).
  r.votes.clear();
  r.leader = null;
  r.role = "pre-candidate";
}

export function becomeCandidate(r: Raft): void {
  assert(r.role !== "leader", "leader cannot become candidate");
  reset(r, r.term + 1);
  r.vote = r.id;
  r.role = "candidate";
}

export function becomeLeader(r: Raft): void {
  assert(r.role === "candidate", `becomeLeader from ${r.role}`);
  reset(r, r.term);
  r.role = "leader";
  r.leader = r.id;
  const next = r.log.lastIndex() + 1;
  for (const id of [...r.config.voters, ...r.config.learners]) {
    const pr = new Progress(id, next, r.config.learners.includes(id));
    if (id === r.id) {
      pr.match = r.log.stable();
      pr.becomeReplicate();
      pr.next = next;
    }
    r.progress.set(id, pr);
  }
  // A no-op of our own term lets us commit everything before it (§5.4.2) and is the first step
  // of ReadIndex and of safe membership changes (thesis §6.4, Ongaro's 2015 single-server fix).
  appendEntry(r, "noop", emptyData);
  r.isAppendFlushNeeded = true;
}
