// The replicated address book of group 0: which node id listens where. Raft's own
// configuration holds only ids (voters, learners); addresses live here so every member
// learns a new member's address from the log, in order with the configuration change.
//
// The book is also the cache's ring (src/cache/README.md) — less the members group 0's leader
// marked down (member.ring), so a dead node's keys get another home — and `epoch` names one
// version of that ring: every change raises it to max(epoch + 1, the proposing leader's wall clock), so epochs
// only grow within a cluster and a cluster started later over the same Redis starts above
// whatever an earlier one left there.
import type { ApplyContext, LogCommand, StateMachine } from "../replication/state-machine.ts";
import { appliedError } from "../replication/state-machine.ts";
import type { Member } from "./config.ts";

export class MemberMachine implements StateMachine {
  private readonly addresses = new Map<string, string>();
  private epochValue = 0;
  /** Members left out of the cache ring: the leader has not heard from them for a while. */
  private readonly ringDown = new Set<string>();

  constructor(private readonly onChange: () => void = () => {}) {}

  address(id: string): string | undefined {
    return this.addresses.get(id);
  }

  /** Which version of the address book this is; 0 before any member was recorded. */
  get epoch(): number {
    return this.epochValue;
  }

  list(): Member[] {
    return [...this.addresses].map(([id, address]) => ({ id, address }));
  }

  /** The cache ring: members not marked down. */
  ringMembers(): Member[] {
    return this.list().filter((m) => !this.ringDown.has(m.id));
  }

  isRingDown(id: string): boolean {
    return this.ringDown.has(id);
  }

  apply(command: LogCommand, _ctx: ApplyContext): unknown {
    const id = command.args.id as string;
    switch (command.op) {
      case "member.set":
        if (this.addresses.get(id) !== command.args.address) {
          this.addresses.set(id, command.args.address as string);
          this.bumpEpoch(command.atMs);
          this.onChange();
        }
        return { id };
      case "member.ring": {
        const down = command.args.down === true;
        if (this.addresses.has(id) && this.ringDown.has(id) !== down) {
          if (down) this.ringDown.add(id);
          else this.ringDown.delete(id);
          this.bumpEpoch(command.atMs);
          this.onChange();
        }
        return { id, down: this.ringDown.has(id) };
      }
      case "member.remove":
        this.ringDown.delete(id);
        if (this.addresses.delete(id)) {
          this.bumpEpoch(command.atMs);
          this.onChange();
        }
        return { id };
      default:
        return appliedError("BAD_REQUEST", `unknown operation '${command.op}'`);
    }
  }

  snapshot(): { members: [string, string][]; epoch: number; ringDown: string[] } {
    return { members: [...this.addresses], epoch: this.epochValue, ringDown: [...this.ringDown] };
  }

  /** Takes this snapshot's shape, or the bare [id, address] list snapshots had before epochs. */
  restore(state: unknown): void {
    type Snapshot = { members: [string, string][]; epoch: number; ringDown?: string[] };
    const snapshot: Snapshot = Array.isArray(state) ? { members: state as [string, string][], epoch: 0 } : ((state ?? { members: [], epoch: 0 }) as Snapshot);
    this.addresses.clear();
    for (const [id, address] of snapshot.members) this.addresses.set(id, address);
    this.epochValue = snapshot.epoch;
    this.ringDown.clear();
    for (const id of snapshot.ringDown ?? []) this.ringDown.add(id);
    this.onChange();
  }

  private bumpEpoch(atMs: number | undefined): void {
    this.epochValue = Math.max(this.epochValue + 1, Math.floor(atMs ?? 0));
  }
}
