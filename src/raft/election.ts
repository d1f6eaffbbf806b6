// Elections: pre-vote (§9.6), vote, campaign and tally, leader stickiness (§4.2.3) and
// check-quorum (§6.2). Split from raft.ts; functions over the Raft instance's state.

import { hasQuorum, tallyVotes } from "./quorum.ts";
import type { Raft } from "./raft.ts";
import { becomeCandidate, becomeFollower, becomeLeader, becomePreCandidate } from "./roles.ts";
import type { PreVoteMessage, VoteMessage, VoteResponseMessage } from "./types.ts";

export function tickElection(r: Raft): void {
  r.electionElapsedTicks++;
  if (r.isPromotable() && r.electionElapsedTicks >= r.randomizedElectionTicks) {
    r.electionElapsedTicks = 0;
    campaign(r, r.isPreVoteEnabled ? "pre" : "election", false);
  }
}

export function handleVoteRequest(r: Raft, m: PreVoteMessage | VoteMessage): void {
  const canVote =
    r.vote === m.from ||
    (r.vote === null && r.leader === null) ||
    (m.type === "PreVote" && m.term > r.term);
  const isUpToDate = r.log.isUpToDate(m.lastIndex, m.lastTerm);
  const responseType = m.type === "PreVote" ? "PreVoteResp" : "VoteResp";
  // A node whose storage lost acknowledged entries could vote for a candidate missing them.
  if (canVote && isUpToDate && r.votingDisabledUntil === null) {
    r.send({ to: m.from, type: responseType, reject: false, term: m.term });
    if (m.type === "Vote") {
      r.electionElapsedTicks = 0;
      r.vote = m.from;
    }
  } else {
    r.send({ to: m.from, type: responseType, reject: true });
  }
}

export function campaign(r: Raft, kind: "pre" | "election", isTransfer: boolean): void {
  if (!r.isPromotable()) return;
  let voteTerm: number;
  if (kind === "pre") {
    becomePreCandidate(r);
    voteTerm = r.term + 1;
  } else {
    becomeCandidate(r);
    voteTerm = r.term;
  }
  r.votes.set(r.id, true);
  if (resolveElection(r)) return;
  for (const voter of r.config.voters) {
    if (voter === r.id) continue;
    if (kind === "pre") {
      r.send({
        to: voter,
        type: "PreVote",
        term: voteTerm,
        lastIndex: r.log.lastIndex(),
        lastTerm: r.log.lastTerm(),
      });
    } else {
      r.send({
        to: voter,
        type: "Vote",
        term: voteTerm,
        lastIndex: r.log.lastIndex(),
        lastTerm: r.log.lastTerm(),
        transfer: isTransfer,
      });
    }
  }
}

/** Acts on the tally; true when the election ended (won or lost). */
function resolveElection(r: Raft): boolean {
  switch (tallyVotes(r.config.voters, r.votes)) {
    case "won":
      if (r.role === "pre-candidate") campaign(r, "election", false);
      else becomeLeader(r);
      return true;
    case "lost":
      becomeFollower(r, r.term, null);
      return true;
    case "pending":
      return false;
  }
}

export function handleVoteResponse(r: Raft, m: VoteResponseMessage): void {
  const expected = r.role === "pre-candidate" ? "PreVoteResp" : "VoteResp";
  if (m.type !== expected) return;
  r.votes.set(m.from, !m.reject);
  resolveElection(r);
}

export function isQuorumActive(r: Raft): boolean {
  const isActive = hasQuorum(r.config.voters, (id) => id === r.id || r.progress.get(id)?.isRecentActive === true);
  for (const pr of r.progress.values()) if (pr.id !== r.id) pr.isRecentActive = false;
  return isActive;
}

/**
 * Leader stickiness (thesis §4.2.3): while we hear from a live leader, ignore anyone asking for
 * votes, so a node returning from a partition cannot depose a healthy leader.
 */
export function isInLeaderLease(r: Raft): boolean {
  return r.isCheckQuorumEnabled && r.leader !== null && r.electionElapsedTicks < r.electionTicks;
}
