// Majority arithmetic over a voter set: the highest index a majority has durably stored, and the
// outcome of an election. Pure functions, so commit and vote rules are tested on their own.

import type { NodeId } from "./types.ts";

export function quorumSize(voterCount: number): number {
  return Math.floor(voterCount / 2) + 1;
}

/** The largest index that at least a majority of `voters` have matched (Raft paper §5.3). */
export function majorityMatchIndex(voters: readonly NodeId[], matchOf: (id: NodeId) => number): number {
  if (voters.length === 0) return 0;
  const matches = voters.map(matchOf).sort((a, b) => b - a);
  const value = matches[quorumSize(voters.length) - 1];
  return value ?? 0;
}

export type VoteOutcome = "won" | "lost" | "pending";

/** Votes from non-voters are ignored; "lost" as soon as a majority can no longer be reached. */
export function tallyVotes(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteOutcome {
  let granted = 0;
  let rejected = 0;
  for (const id of voters) {
    const vote = votes.get(id);
    if (vote === true) granted++;
    else if (vote === false) rejected++;
  }
  const needed = quorumSize(voters.length);
  if (granted >= needed) return "won";
  if (voters.length - rejected < needed) return "lost";
  return "pending";
}

/** How many of `voters` satisfy `predicate`, compared with a majority. */
export function hasQuorum(voters: readonly NodeId[], predicate: (id: NodeId) => boolean): boolean {
  let count = 0;
  for (const id of voters) if (predicate(id)) count++;
  return voters.length > 0 && count >= quorumSize(voters.length);
}
