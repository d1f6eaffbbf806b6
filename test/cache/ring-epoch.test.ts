// The cache ring's epoch (MemberMachine): it must rise with every change of the ring and with
// nothing else, identically on every replica (it comes from the log only), survive a snapshot,
// and start a cluster born later above an older one's epochs (the leader's wall clock).
import { expect, test } from "bun:test";
import { MemberMachine } from "../../src/node/member-machine.ts";
import type { LogCommand } from "../../src/replication/state-machine.ts";

const cmd = (op: string, args: Record<string, unknown>, atMs?: number): LogCommand => ({ op, args, rid: null, ...(atMs === undefined ? {} : { atMs }) });
let index = 0;
const apply = (m: MemberMachine, c: LogCommand) => m.apply(c, { index: ++index, term: 1 });

test("every ring change raises the epoch; repeats and unknown members do not", () => {
  let changes = 0;
  const m = new MemberMachine(() => changes++);
  expect(m.epoch).toBe(0);
  apply(m, cmd("member.set", { id: "a", address: "h:1" }, 1000));
  expect(m.epoch).toBe(1000);
  apply(m, cmd("member.set", { id: "a", address: "h:1" }, 2000));
  expect(m.epoch).toBe(1000);
  apply(m, cmd("member.set", { id: "b", address: "h:2" }, 500));
  expect(m.epoch).toBe(1001); // a leader clock behind the last epoch still moves it up
  apply(m, cmd("member.ring", { id: "b", down: true }, 3000));
  expect(m.epoch).toBe(3000);
  expect(m.ringMembers().map((x) => x.id)).toEqual(["a"]);
  expect(m.list().map((x) => x.id)).toEqual(["a", "b"]);
  apply(m, cmd("member.ring", { id: "b", down: true }, 4000));
  apply(m, cmd("member.ring", { id: "zz", down: true }, 4000));
  expect(m.epoch).toBe(3000);
  apply(m, cmd("member.ring", { id: "b", down: false }, 3500));
  expect(m.epoch).toBe(3500);
  apply(m, cmd("member.remove", { id: "b" }, 3600));
  expect(m.epoch).toBe(3600);
  apply(m, cmd("member.remove", { id: "b" }, 3700));
  expect(m.epoch).toBe(3600);
  expect(changes).toBe(5);
});

test("a snapshot carries the epoch and the down set; an old snapshot (a bare list) restores at epoch 0", () => {
  const m = new MemberMachine();
  apply(m, cmd("member.set", { id: "a", address: "h:1" }, 10));
  apply(m, cmd("member.set", { id: "b", address: "h:2" }, 20));
  apply(m, cmd("member.ring", { id: "a", down: true }, 30));
  const twin = new MemberMachine();
  twin.restore(m.snapshot());
  expect(twin.epoch).toBe(30);
  expect(twin.ringMembers()).toEqual([{ id: "b", address: "h:2" }]);
  const old = new MemberMachine();
  old.restore([["a", "h:1"]]);
  expect(old.epoch).toBe(0);
  expect(old.ringMembers()).toEqual([{ id: "a", address: "h:1" }]);
});
