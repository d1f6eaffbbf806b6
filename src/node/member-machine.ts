// The replicated address book of group 0: which node id listens where. Raft's own
// configuration holds only ids (voters, learners); addresses live here so every member
// learns a new member's address from the log, in order with the configuration change.
import type { ApplyContext, LogCommand, StateMachine } from "../replication/state-machine.ts";
import { appliedError } from "../replication/state-machine.ts";
import type { Member } from "./config.ts";

export class MemberMachine implements StateMachine {
  private readonly addresses = new Map<string, string>();

  constructor(private readonly onChange: () => void = () => {}) {}

  address(id: string): string | undefined {
    return this.addresses.get(id);
  }

  list(): Member[] {
    return [...this.addresses].map(([id, address]) => ({ id, address }));
  }

  apply(command: LogCommand, _ctx: ApplyContext): unknown {
    const id = command.args.id as string;
    switch (command.op) {
      case "member.set":
        this.addresses.set(id, command.args.address as string);
        this.onChange();
        return { id };
      case "member.remove":
        this.addresses.delete(id);
        this.onChange();
        return { id };
      default:
        return appliedError("BAD_REQUEST", `unknown operation '${command.op}'`);
    }
  }

  snapshot(): [string, string][] {
    return [...this.addresses];
  }

  restore(state: unknown): void {
    this.addresses.clear();
    for (const [id, address] of (state ?? []) as [string, string][]) this.addresses.set(id, address);
    this.onChange();
  }
}
