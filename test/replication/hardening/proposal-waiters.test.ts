// RaftGroup keys proposal waiters by log index only. A deposed leader whose uncommitted tail was
// truncated (a new leader's shorter log, §5.3) and that wins again proposes at the same index;
// the old waiter is overwritten and its promise never settles.
import { expect, test } from "bun:test";
import { RaftGroup } from "../../../src/replication/raft-group.ts";
import type { RaftNode } from "../../../src/raft/index.ts";
import { encodeCommand } from "../../../src/replication/log-codec.ts";
import { silentLogger } from "../../../src/util/log.ts";
import { makeFsm } from "./helpers.ts";

test("a proposal at an index reused in a later term is settled, not forgotten", async () => {
  // Term 2: we lead and propose at 10 and 11. We lose leadership; the term-3 leader's log ends at 9,
  // so our 10..11 are truncated. Term 4: we lead again: no-op at 10, new proposal at 11.
  const results = [
    { ok: true as const, index: 10, term: 2 },
    { ok: true as const, index: 11, term: 2 },
    { ok: true as const, index: 11, term: 4 },
  ];
  const raft = { propose: () => results.shift()! } as unknown as RaftNode;
  const group = new RaftGroup(0, raft, makeFsm().fsm, 9, { wake() {} }, silentLogger);
  const settled: string[] = [];
  const track = (name: string, p: Promise<unknown>) => p.then(() => settled.push(`${name}:ok`), (e) => settled.push(`${name}:${e.code}`));
  const cmd = (v: number) => ({ op: "kv.set", args: { key: "k", value: v }, rid: null });
  track("a@10", group.propose(cmd(1)));
  track("b@11", group.propose(cmd(2)));
  group.onSoftState({ role: "follower", leader: "n2", term: 3 });
  group.onSoftState({ role: "leader", leader: "n1", term: 4 });
  track("c@11", group.propose(cmd(3)));
  group.apply({ index: 10, term: 4, type: "noop", data: new Uint8Array() });
  group.apply({ index: 11, term: 4, type: "normal", data: encodeCommand(cmd(3)) });
  await Bun.sleep(10);
  expect(settled).toContain("a@10:UNAVAILABLE");
  expect(settled).toContain("c@11:ok");
  expect(settled).toContain("b@11:UNAVAILABLE"); // fails: b's waiter was replaced by c's and never settles
});
