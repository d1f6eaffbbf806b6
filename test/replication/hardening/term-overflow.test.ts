// Found in review: one Vote{transfer: true} at 2^53-1 (bypasses stickiness) moved a node there for
// good (persisted); its next campaign term 2^53 was refused by every peer's check, so it could
// never again win an election. Terms and indexes from the network are now capped at 2^48.
import { expect, test } from "bun:test";
import { checkRaftMessage } from "../../../src/transport/raft-message-check.ts";

test("a peer message with a term beyond 2^48 is refused before it reaches the core", () => {
  const vote = { type: "Vote", group: 0, from: "n2", to: "n1", term: Number.MAX_SAFE_INTEGER, lastIndex: 0, lastTerm: 0, transfer: true };
  expect(checkRaftMessage(vote, "n1", "n2")).toBe("bad term");
  expect(checkRaftMessage({ ...vote, term: 2 ** 48 }, "n1", "n2")).toBeNull();
  expect(checkRaftMessage({ ...vote, term: 2 ** 48 + 1 }, "n1", "n2")).toBe("bad term");
  expect(checkRaftMessage({ ...vote, lastIndex: 2 ** 52 }, "n1", "n2")).not.toBeNull();
});
