// One Raft group as the services use it: `propose` resolves with the command's result once
// it is committed and applied here, `readBarrier` resolves once this replica has applied
// everything committed before the read began (ReadIndex, thesis §6.4). The group's
// RaftNode and state machine are driven by the RaftHost's ready loop.
import type { ConfChange, Entry, GroupId, NodeId, ProposeResult, RaftNode, ReadState, SoftState } from "../raft/index.ts";
import { SinkronError } from "../protocol/errors.ts";
import type { Logger } from "../util/log.ts";
import { decodeCommand, encodeCommand } from "./log-codec.ts";
import { isAppliedError, type LogCommand, type StateMachine } from "./state-machine.ts";

interface ProposalWaiter {
  term: number;
  resolve(result: unknown): void;
  reject(error: SinkronError): void;
}

interface ReadWaiter {
  resolve(): void;
  reject(error: SinkronError): void;
}

export interface GroupHooks {
  /** Asks the host to run its ready loop soon. */
  wake(): void;
}

export class RaftGroup {
  readonly id: GroupId;
  readonly raft: RaftNode;
  readonly fsm: StateMachine;
  appliedIndex: number;
  snapshotIndex: number;
  /** Log bytes applied since the last snapshot, and that snapshot's size: when to snapshot again. */
  appliedBytesSinceSnapshot = 0;
  lastSnapshotBytes = 0;
  /** True when this replica started with nothing in storage (a new group, or a new member). */
  startedEmpty = false;
  role: SoftState["role"] = "follower";
  leader: NodeId | null = null;
  term = 0;

  private readonly proposals = new Map<number, ProposalWaiter>();
  private readonly readsAwaitingIndex = new Map<number, ReadWaiter>();
  /** Reads whose index is known, waiting for apply to reach it (ascending by index). */
  private readonly readsAwaitingApply: { index: number; waiter: ReadWaiter }[] = [];
  private nextReadCtx = 1;
  private readonly leaderWatchers = new Set<() => void>();
  private readonly roleListeners = new Set<() => void>();
  private readonly snapshotListeners = new Set<() => void>();
  private stoppedError: SinkronError | null = null;

  constructor(
    id: GroupId,
    raft: RaftNode,
    fsm: StateMachine,
    appliedIndex: number,
    private readonly hooks: GroupHooks,
    private readonly log: Logger,
  ) {
    this.id = id;
    this.raft = raft;
    this.fsm = fsm;
    this.appliedIndex = appliedIndex;
    this.snapshotIndex = appliedIndex;
  }

  get isLeader(): boolean {
    return this.role === "leader";
  }

  /** Proposes `command`; resolves with its result once applied on this node. */
  propose(command: LogCommand): Promise<unknown> {
    return this.awaitApplied(this.raft.propose(encodeCommand({ ...command, atMs: command.atMs ?? Date.now() })));
  }

  /** Proposes a membership change (one server at a time); resolves once applied here. */
  proposeConfChange(change: ConfChange): Promise<unknown> {
    return this.awaitApplied(this.raft.proposeConfChange(change));
  }

  /** Calls `listener` after this replica's state machine was replaced by a leader's snapshot. */
  onSnapshotInstalled(listener: () => void): void {
    this.snapshotListeners.add(listener);
  }

  /** Calls `listener` whenever this replica's role or known leader changes. */
  onRoleChange(listener: () => void): void {
    this.roleListeners.add(listener);
  }

  private awaitApplied(result: ProposeResult): Promise<unknown> {
    if (this.stoppedError !== null) return Promise.reject(this.stoppedError);
    if (!result.ok) {
      if (result.code === "NOT_LEADER") return Promise.reject(notLeader(this.id, result.leader));
      // UNAVAILABLE (a leader transfer under way, the uncommitted backlog full) refuses before
      // anything is appended: the command did not take effect and may be sent again.
      const details = result.code === "UNAVAILABLE" ? { group: this.id, retryable: true } : { group: this.id };
      return Promise.reject(new SinkronError(result.code, result.message, details));
    }
    this.hooks.wake();
    // A waiter still at this index belongs to an entry of an older term that a new leader's
    // log replaced (§5.3): that entry can never commit now, so its caller may safely retry.
    const replaced = this.proposals.get(result.index);
    if (replaced !== undefined) replaced.reject(notCommitted(this.id));
    return new Promise((resolve, reject) => {
      this.proposals.set(result.index, { term: result.term, resolve, reject });
    });
  }

  /** Resolves when this replica may serve a linearizable read (leader only). */
  readBarrier(): Promise<void> {
    if (this.stoppedError !== null) return Promise.reject(this.stoppedError);
    const ctx = this.nextReadCtx++;
    const result = this.raft.readIndex(ctx);
    if (!result.ok) return Promise.reject(notLeader(this.id, result.leader));
    this.hooks.wake();
    return new Promise((resolve, reject) => this.readsAwaitingIndex.set(ctx, { resolve, reject }));
  }

  /** Resolves the next time the known leader changes (or after `timeoutMs`). */
  waitForLeaderChange(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.leaderWatchers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.leaderWatchers.add(done);
    });
  }

  onSoftState(soft: SoftState): void {
    const leaderChanged = soft.leader !== this.leader;
    const lostLeadership = this.role === "leader" && soft.role !== "leader";
    this.role = soft.role;
    this.leader = soft.leader;
    this.term = soft.term;
    if (lostLeadership) {
      // Reads not yet confirmed can no longer be: a new leader may have newer writes.
      const error = new SinkronError("NOT_LEADER", "leadership changed before the read was confirmed", { group: this.id, leader: soft.leader });
      for (const waiter of this.readsAwaitingIndex.values()) waiter.reject(error);
      this.readsAwaitingIndex.clear();
    }
    if (leaderChanged) for (const watcher of [...this.leaderWatchers]) watcher();
    for (const listener of this.roleListeners) listener();
  }

  onReadStates(states: ReadState[]): void {
    for (const { ctx, index } of states) {
      const waiter = this.readsAwaitingIndex.get(ctx);
      if (waiter === undefined) continue;
      this.readsAwaitingIndex.delete(ctx);
      if (index <= this.appliedIndex) waiter.resolve();
      else insertByIndex(this.readsAwaitingApply, { index, waiter });
    }
  }

  /** Replaces the state machine with a snapshot's (installed from the leader). */
  onSnapshotRestored(index: number, state: unknown): void {
    this.fsm.restore(state);
    this.appliedBytesSinceSnapshot = 0;
    // Proposals at or below the snapshot were decided by entries we will never see here.
    for (const [proposalIndex, waiter] of this.proposals) {
      if (proposalIndex > index) continue;
      waiter.reject(new SinkronError("UNAVAILABLE", "this node caught up by snapshot; the outcome of the request is unknown"));
      this.proposals.delete(proposalIndex);
    }
    this.appliedIndex = index;
    this.snapshotIndex = index;
    this.releaseReads();
    for (const listener of this.snapshotListeners) listener();
  }

  apply(entry: Entry): void {
    let result: unknown = null;
    if (entry.type === "normal") {
      let command: LogCommand;
      try {
        command = decodeCommand(entry.data);
      } catch (error) {
        // Every replica decodes the same bytes the same way, so skipping is deterministic.
        this.log.error("undecodable log entry skipped", { group: this.id, index: entry.index, error: error as Error });
        command = { op: "invalid", args: {}, rid: null };
      }
      result = command.op === "invalid" ? null : this.fsm.apply(command, { index: entry.index, term: entry.term, data: entry.data });
    }
    this.appliedIndex = entry.index;
    this.appliedBytesSinceSnapshot += entry.data.byteLength;
    const waiter = this.proposals.get(entry.index);
    if (waiter !== undefined) {
      this.proposals.delete(entry.index);
      if (waiter.term !== entry.term) {
        waiter.reject(notCommitted(this.id));
      } else if (isAppliedError(result)) {
        const { $error, message, ...details } = result;
        waiter.reject(new SinkronError($error as SinkronError["code"], message, details));
      } else {
        waiter.resolve(result);
      }
    }
  }

  /** After a batch of applies: answers the reads whose index has been reached. */
  releaseReads(): void {
    while (this.readsAwaitingApply.length > 0 && this.readsAwaitingApply[0]!.index <= this.appliedIndex) {
      this.readsAwaitingApply.shift()!.waiter.resolve();
    }
  }

  /** Shutdown: fails everything pending and every later proposal or read. */
  stop(error: SinkronError): void {
    this.stoppedError = error;
    this.role = "follower";
    this.failAll(error);
  }

  get isStopped(): boolean {
    return this.stoppedError !== null;
  }

  private failAll(error: SinkronError): void {
    for (const waiter of this.proposals.values()) waiter.reject(error);
    this.proposals.clear();
    for (const waiter of this.readsAwaitingIndex.values()) waiter.reject(error);
    this.readsAwaitingIndex.clear();
    for (const { waiter } of this.readsAwaitingApply.splice(0)) waiter.reject(error);
  }
}

function notCommitted(group: GroupId): SinkronError {
  return new SinkronError("UNAVAILABLE", "leadership changed and the request was not committed; it did not take effect", { group, retryable: true });
}

function notLeader(group: GroupId, leader: NodeId | null): SinkronError {
  return new SinkronError("NOT_LEADER", leader ? `this node is not the leader of group ${group}; the leader is ${leader}` : `no leader is known for group ${group}`, { group, leader });
}

function insertByIndex(list: { index: number; waiter: ReadWaiter }[], item: { index: number; waiter: ReadWaiter }): void {
  let at = list.length;
  while (at > 0 && list[at - 1]!.index > item.index) at--;
  list.splice(at, 0, item);
}
