// Majority arithmetic: commit index by sorted match, vote tallies that end early, odd and even sizes.

import { describe, expect, test } from "bun:test";
import { majorityMatchIndex, quorumSize, tallyVotes } from "../../src/raft/index.ts";

describe("quorum", () => {
  test("quorum sizes", () => {
    expect([1, 2, 3, 4, 5, 6, 7].map(quorumSize)).toEqual([1, 2, 2, 3, 3, 4, 4]);
  });

  test("commit index is the highest index a majority has matched", () => {
    const match: Record<string, number> = { a: 9, b: 5, c: 7, d: 1, e: 7 };
    const of = (id: string): number => match[id] ?? 0;
    expect(majorityMatchIndex(["a", "b", "c"], of)).toBe(7);
    expect(majorityMatchIndex(["a", "b", "c", "d"], of)).toBe(5);
    expect(majorityMatchIndex(["a", "b", "c", "d", "e"], of)).toBe(7);
    expect(majorityMatchIndex(["a"], of)).toBe(9);
    expect(majorityMatchIndex([], of)).toBe(0);
  });

  test("vote tally: won, lost as soon as a majority is impossible, otherwise pending", () => {
    const voters = ["a", "b", "c", "d", "e"];
    expect(tallyVotes(voters, new Map([["a", true], ["b", true]]))).toBe("pending");
    expect(tallyVotes(voters, new Map([["a", true], ["b", true], ["c", true]]))).toBe("won");
    expect(tallyVotes(voters, new Map([["a", true], ["b", false], ["c", false]]))).toBe("pending");
    expect(tallyVotes(voters, new Map([["a", true], ["b", false], ["c", false], ["d", false]]))).toBe("lost");
    // Votes from non-voters (a learner, a removed node) never count.
    expect(tallyVotes(["a", "b", "c"], new Map([["a", true], ["x", true], ["y", true]]))).toBe("pending");
  });
});
