// The public face of one Raft group member: feed it ticks, messages and proposals, then drain a
// Ready (what to persist, send and apply) and advance(). Guarantees: messages in a Ready depend
// only on state that is in that Ready or an earlier one, so sending after persisting is safe; the
// hard state it reports never moves backwards and never changes a vote within a term.

import { assert } from "./assert.ts";
import { Raft, type RaftConfig, type TransferResult } from "./raft.ts";
import type {
  ConfChange,
  HardState,
  NodeId,
  GroupId,
  Message,
  ProposeResult,
  ReadIndexResult,
  Ready,
  ReportedRole,
  Snapshot,
  SoftState,
} from "./types.ts";
import type { ProgressState } from "./progress.ts";

export interface ProgressStatus {
  match: number;
  next: number;
  state: ProgressState;
  inflightMsgs: number;
  isLearner: boolean;
  isRecentActive: boolean;
}

export interface RaftStatus {
  id: NodeId;
  group: GroupId;
  role: ReportedRole;
  term: number;
  vote: NodeId | null;
  leader: NodeId | null;
  commitIndex: number;
  appliedIndex: number;
  lastIndex: number;
  firstIndex: number;
  snapshotIndex: number;
  voters: NodeId[];
  learners: NodeId[];
  votingDisabled: boolean;
  leadTransferee: NodeId | null;
  /** Present on the leader only. */
  progress?: Record<NodeId, ProgressStatus>;
}

export class RaftNode {
  private readonly raft: Raft;
  private lastHardState: HardState;
  private lastSoftState: SoftState;
  private outstanding: Ready | null = null;

  constructor(config: RaftConfig) {
    this.raft = new Raft(config);
    // What storage already holds; a fresh founder's bootstrap state differs and is emitted first.
    const restored = config.restore?.hardState;
    this.lastHardState = restored === undefined ? { term: 0, vote: null, commit: 0 } : { ...restored };
    // Damaged storage may hold a commit index past its surviving log; the core cut it back, and
    // reporting that as a backwards move would be noise: the next real commit overwrites it.
    this.lastHardState.commit = Math.min(this.lastHardState.commit, this.raft.log.committed());
    this.lastSoftState = { role: "follower", leader: null, term: this.raft.term };
  }

  tick(): void {
    this.raft.tick();
  }

  step(msg: Message): void {
    this.raft.step(msg);
  }

  /** Start an election now, as if the election timeout fired (no-op on a leader or a non-voter). */
  campaign(): void {
    this.raft.campaignNow();
  }

  propose(data: Uint8Array): ProposeResult {
    return this.raft.propose(data);
  }

  proposeConfChange(change: ConfChange): ProposeResult {
    return this.raft.proposeConfChange(change);
  }

  readIndex(ctx: number): ReadIndexResult {
    return this.raft.readIndex(ctx);
  }

  transferLeadership(to: NodeId): TransferResult {
    return this.raft.transferLeadership(to);
  }

  /**
   * The host snapshotted its state machine at applied index `index`. Entries <= index leave the
   * log; the returned snapshot (with term and membership) is what storage must persist, or null
   * when nothing changed (index not beyond the current snapshot, or a received one is pending).
   */
  compact(index: number, data: Uint8Array): Snapshot | null {
    return this.raft.compact(index, data);
  }

  /** False while a Ready is outstanding (handed out, not yet advanced). */
  hasReady(): boolean {
    if (this.outstanding !== null) return false;
    const raft = this.raft;
    return (
      raft.hasPendingFlush() ||
      raft.msgs.length > 0 ||
      raft.readStates.length > 0 ||
      raft.isVotingRestoredUnreported ||
      raft.log.unpersistedSnapshot() !== null ||
      raft.log.stable() < raft.log.lastIndex() ||
      raft.log.hasNextCommitted() ||
      !sameHardState(raft.hardState(), this.lastHardState) ||
      !sameSoftState(this.softState(), this.lastSoftState)
    );
  }

  ready(): Ready {
    assert(this.outstanding === null, "ready() called again before advance()");
    const raft = this.raft;
    raft.flush();
    const hardState = raft.hardState();
    const softState = this.softState();
    const rd: Ready = {
      entries: raft.log.unstableEntries(),
      messages: raft.msgs,
      committed: raft.log.nextCommitted(),
      readStates: raft.readStates,
    };
    raft.msgs = [];
    raft.readStates = [];
    if (!sameHardState(hardState, this.lastHardState)) {
      this.checkHardStateTransition(hardState);
      if (hardState.term !== this.lastHardState.term || hardState.vote !== this.lastHardState.vote) rd.isTermOrVoteChanged = true;
      rd.hardState = hardState;
      this.lastHardState = hardState;
    }
    if (!sameSoftState(softState, this.lastSoftState)) {
      rd.softState = softState;
      this.lastSoftState = softState;
    }
    const snapshot = raft.log.unpersistedSnapshot();
    if (snapshot !== null) rd.snapshot = snapshot;
    if (raft.isVotingRestoredUnreported) {
      rd.votingRestored = true;
      raft.isVotingRestoredUnreported = false;
    }
    this.outstanding = rd;
    return rd;
  }

  /** The host persisted, sent and applied everything in `rd`. */
  advance(rd: Ready): void {
    assert(this.outstanding === rd, "advance() with a Ready that is not the outstanding one");
    this.outstanding = null;
    const log = this.raft.log;
    if (rd.snapshot !== undefined) log.snapshotPersisted(rd.snapshot);
    const lastEntry = rd.entries[rd.entries.length - 1];
    if (lastEntry !== undefined) log.stableTo(lastEntry.index, lastEntry.term);
    const lastCommitted = rd.committed[rd.committed.length - 1];
    if (lastCommitted !== undefined) log.appliedTo(lastCommitted.index);
    this.raft.onPersisted();
  }

  status(): RaftStatus {
    const raft = this.raft;
    const log = raft.log;
    const status: RaftStatus = {
      id: raft.id,
      group: raft.group,
      role: this.reportedRole(),
      term: raft.term,
      vote: raft.vote,
      leader: raft.leader,
      commitIndex: log.committed(),
      appliedIndex: log.applied(),
      lastIndex: log.lastIndex(),
      firstIndex: log.firstIndex(),
      snapshotIndex: log.snapshotPoint().index,
      voters: [...raft.config.voters],
      learners: [...raft.config.learners],
      votingDisabled: raft.votingDisabledUntil !== null,
      leadTransferee: raft.leadTransferee,
    };
    if (raft.role === "leader") {
      const progress: Record<NodeId, ProgressStatus> = {};
      for (const pr of raft.progress.values()) {
        progress[pr.id] = {
          match: pr.id === raft.id ? log.stable() : pr.match,
          next: pr.id === raft.id ? log.lastIndex() + 1 : pr.next,
          state: pr.state,
          inflightMsgs: pr.inflightCount(),
          isLearner: pr.isLearner,
          isRecentActive: pr.isRecentActive,
        };
      }
      status.progress = progress;
    }
    return status;
  }

  /** Term of the entry at `index` in this node's log, or null if compacted or absent (for tests and tools). */
  logTerm(index: number): number | null {
    return this.raft.log.term(index);
  }

  private reportedRole(): ReportedRole {
    const raft = this.raft;
    if (raft.role === "follower" && raft.isLearner()) return "learner";
    return raft.role;
  }

  private softState(): SoftState {
    return { role: this.reportedRole(), leader: this.raft.leader, term: this.raft.term };
  }

  private checkHardStateTransition(next: HardState): void {
    const prev = this.lastHardState;
    assert(next.term >= prev.term, `hard state term going back from ${prev.term} to ${next.term}`);
    assert(next.commit >= prev.commit, `commit going back from ${prev.commit} to ${next.commit}`);
    if (next.term === prev.term && prev.vote !== null) {
      assert(next.vote === prev.vote, `vote changed within term ${next.term}: ${prev.vote} -> ${next.vote}`);
    }
  }
}

/** What a leader sends from its own log and commit index; it acknowledges nothing. */
const LEADER_MESSAGE_TYPES: ReadonlySet<Message["type"]> = new Set(["Append", "Heartbeat", "Snapshot", "TimeoutNow"]);

/**
 * May `m` leave before `rd` is persisted, while the host writes it? Raft thesis §10.2.1: a leader
 * may write its log in parallel with replicating it, because it counts itself towards a commit
 * only for entries it has persisted (its match is `log.stable()`, moved by `advance`), so an
 * entry still commits only once it is durable on a majority. Safe early: the leader-only
 * messages, which carry entries and a commit index but vouch for nothing on this disk — unless
 * the Ready changes the term or the vote, which must be durable before anyone hears of them (a
 * restart could otherwise vote twice, or lead a second time, in one term). Everything else
 * (AppendResp, VoteResp, PreVoteResp, HeartbeatResp…) acknowledges state and must wait.
 */
export function isSendableBeforePersist(rd: Ready, m: Message): boolean {
  return rd.isTermOrVoteChanged !== true && LEADER_MESSAGE_TYPES.has(m.type);
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

function sameSoftState(a: SoftState, b: SoftState): boolean {
  return a.role === b.role && a.leader === b.leader && a.term === b.term;
}
