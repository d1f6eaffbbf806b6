// The replicated state machine of a simulated partition group: the real PartitionMachine, or,
// for negative controls, a deliberately broken one that loses messages in a way every replica
// agrees on (so replica comparison cannot see it; only the at-least-once checks can).

import { PartitionMachine, type Delivery, type Lane, type PartitionConfig } from "../../../src/queue/partition-machine.ts";
import type { PartitionSnapshot } from "../../../src/queue/partition-snapshot.ts";
import { CompositeStateMachine } from "../../../src/replication/state-machine-composite.ts";
import { isAppliedError, type ApplyContext, type LogCommand, type StateMachine } from "../../../src/replication/state-machine.ts";

/** What the harness reads of a partition machine besides the StateMachine contract. */
export interface QueueMachine extends StateMachine {
  nextDueMs(): number | null;
  readonly messages: number;
  /** Recounts the machine's own indexes (O(n)); throws when they drifted. */
  checkInvariants(): void;
}

/**
 * "forgets-delivered": a message with seq divisible by 3 vanishes once delivered the first time,
 * as if the consume had acked it (at-most-once): caught only by the leader-state check, since it
 * was delivered. "drops-produced": the last message of every produce batch of two or more is
 * removed right away (its seq is still returned): never delivered, caught by the drain check.
 * "restore-requeues-inflight": restoring a snapshot makes inflight messages ready again, so a
 * replica restored from a snapshot differs from one that applied the log: caught by the replica
 * state comparison.
 */
export type MachineVariant = "real" | "forgets-delivered" | "drops-produced" | "restore-requeues-inflight";

class BrokenPartitionMachine implements QueueMachine {
  private readonly inner: PartitionMachine;

  constructor(
    private readonly variant: Exclude<MachineVariant, "real">,
    config: PartitionConfig,
  ) {
    this.inner = new PartitionMachine(config);
  }

  get messages(): number {
    return this.inner.messages;
  }

  nextDueMs(): number | null {
    return this.inner.nextDueMs();
  }

  apply(command: LogCommand, ctx: ApplyContext): unknown {
    const result = this.inner.apply(command, ctx);
    if (this.variant === "forgets-delivered" && command.op === "q.consume" && Array.isArray(result)) {
      const lane = command.args.lane as Lane;
      for (const taken of result as Delivery[][]) {
        for (const d of taken) if (d.deliveries === 1 && d.seq % 3 === 0) this.inner.apply({ op: "q.ack", args: { lane, seqs: [d.seq] }, rid: null }, ctx);
      }
    }
    if (this.variant === "drops-produced" && command.op === "q.produce" && !isAppliedError(result)) {
      const count = (command.args.messages as unknown[]).length;
      const last = (result as { first: number }).first + count - 1;
      if (count >= 2) this.inner.apply({ op: "q.ack", args: { lane: 0, seqs: [last] }, rid: null }, ctx);
    }
    return result;
  }

  checkInvariants(): void {
    this.inner.checkInvariants();
  }

  snapshot(): unknown {
    return this.inner.snapshot();
  }

  restore(state: unknown): void {
    this.inner.restore(this.variant === "restore-requeues-inflight" && state !== null ? requeueInflight(state as PartitionSnapshot) : state);
  }
}

/** Moves the inflight rows [seq, lane, body, key, deliveries, due] to their lane's retry fifo [seq, body, key, deliveries]. */
function requeueInflight(snapshot: PartitionSnapshot): PartitionSnapshot {
  const ready = snapshot.ready.map((rows) => rows.slice());
  for (let i = 0; i < snapshot.inflight.length; i += 6) {
    const [seq, lane, body, key, deliveries] = snapshot.inflight.slice(i, i + 5);
    ready[(lane as number) * 2]!.push(seq, body, key, deliveries);
  }
  return { ...snapshot, ready, inflight: [] };
}

/** A partition group's state machine as the node builds it: the queue machine mounted at "q". */
export function createGroupMachine(
  variant: MachineVariant,
  config: PartitionConfig,
  dedupEntriesMax: number,
): { fsm: CompositeStateMachine; machine: QueueMachine } {
  const machine: QueueMachine = variant === "real" ? new PartitionMachine(config) : new BrokenPartitionMachine(variant, config);
  const fsm = new CompositeStateMachine(dedupEntriesMax);
  fsm.mount("q", machine);
  return { fsm, machine };
}
