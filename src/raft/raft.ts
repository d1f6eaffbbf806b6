// The Raft state machine (Ongaro's thesis; etcd-io/raft's shape): roles, elections with pre-vote
// and check-quorum, replication, commit, ReadIndex, snapshots, one-at-a-time membership and leader
// transfer. Pure: messages, ticks and proposals in; messages, log changes and state out. It never
// sends a message itself — RaftNode hands them to the host only after the matching state is durable.
// This file holds the class, its state and the tick/step dispatch; the work is in roles.ts,
// election.ts, follower.ts, replication.ts, reads.ts and reconfig.ts.

import { assert } from "./assert.ts";
import * as election from "./election.ts";
import * as follower from "./follower.ts";
import { RaftLog } from "./log.ts";
import { cloneConfig, decodeConfigEntry, encodeConfigEntry, normalizeConfig } from "./membership.ts";
import type { Progress } from "./progress.ts";
import * as reads from "./reads.ts";
import type { ReadRequest } from "./reads.ts";
import * as reconfig from "./reconfig.ts";
import * as replication from "./replication.ts";
import * as roles from "./roles.ts";
import type {
  ClusterConfig,
  ConfChange,
  Entry,
  GroupId,
  HardState,
  Message,
  NodeId,
  ProposeResult,
  ReadIndexResult,
  ReadState,
  Role,
  Snapshot,
} from "./types.ts";

export interface RestoreState {
  hardState: HardState;
  snapshot?: Snapshot | null;
  entries: Entry[];
}

/** Where a node with damaged storage must be repaired up to before it may vote again. */
export interface VotingDisabledUntil {
  index: number;
  term: number;
}

export interface RaftConfig {
  id: NodeId;
  group: GroupId;
  /** Initial membership, used only when storage holds none (a fresh node); identical on every founding node. */
  voters: NodeId[];
  learners?: NodeId[];
  /** Election timeout is drawn from [electionTicks, 2*electionTicks) (Raft paper §5.2). */
  electionTicks: number;
  heartbeatTicks: number;
  /** Seeded source in [0, 1); the only randomness the core uses. */
  random: () => number;
  preVote?: boolean;
  checkQuorum?: boolean;
  maxInflightMsgs?: number;
  maxEntriesBytesPerMsg?: number;
  /** A leader refuses proposals while its own uncommitted entries exceed this (bounds memory and catch-up). */
  maxUncommittedBytes?: number;
  restore?: RestoreState;
  votingDisabledUntil?: VotingDisabledUntil | null;
}

export const defaultMaxInflightMsgs = 64;
export const defaultMaxEntriesBytesPerMsg = 1024 * 1024;
export const defaultMaxUncommittedBytes = 64 * 1024 * 1024;

export type TransferResult =
  | { ok: true }
  | { ok: false; code: "NOT_LEADER"; leader: NodeId | null }
  | { ok: false; code: "UNAVAILABLE" | "CONFLICT"; message: string };

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
type OutgoingMessage = DistributiveOmit<Message, "group" | "from" | "term"> & { term?: number };

/**
 * One Raft group member's state. The fields are shared with the modules that operate on them
 * (roles, election, follower, replication, reads, reconfig); the class keeps construction,
 * inspection and the tick/step dispatch. Nothing outside src/raft sees it: RaftNode is the API.
 */
export class Raft {
  readonly id: NodeId;
  readonly group: GroupId;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly isPreVoteEnabled: boolean;
  readonly isCheckQuorumEnabled: boolean;
  readonly maxInflightMsgs: number;
  readonly maxEntriesBytesPerMsg: number;
  readonly maxUncommittedBytes: number;
  readonly random: () => number;

  term = 0;
  vote: NodeId | null = null;
  leader: NodeId | null = null;
  role: Role = "follower";
  readonly log: RaftLog;

  /** Membership from the latest config entry in the log, committed or not (thesis §4.1). */
  config: ClusterConfig;
  configIndex = 0;
  /** Were we a voter in the configuration the latest config entry replaced? */
  wasVoterBeforeConfig = false;
  readonly progress = new Map<NodeId, Progress>();
  readonly votes = new Map<NodeId, boolean>();

  electionElapsedTicks = 0;
  heartbeatElapsedTicks = 0;
  randomizedElectionTicks = 0;

  msgs: Message[] = [];
  readStates: ReadState[] = [];
  /** Reads asked before this leader committed an entry of its own term (thesis §6.4 step 1). */
  readsAwaitingTermCommit: number[] = [];
  readRequests: ReadRequest[] = [];
  readRound = 0;
  readonly readAcks = new Map<NodeId, number>();
  isReadHeartbeatNeeded = false;
  isAppendFlushNeeded = false;
  isCommitBroadcastNeeded = false;

  leadTransferee: NodeId | null = null;
  /** Bytes of normal entries this leader appended that are not committed yet. */
  uncommittedBytes = 0;
  votingDisabledUntil: VotingDisabledUntil | null;
  isVotingRestoredUnreported = false;

  constructor(config: RaftConfig) {
    assert(config.electionTicks > config.heartbeatTicks, "electionTicks must exceed heartbeatTicks");
    assert(config.heartbeatTicks > 0, "heartbeatTicks must be positive");
    this.id = config.id;
    this.group = config.group;
    this.electionTicks = config.electionTicks;
    this.heartbeatTicks = config.heartbeatTicks;
    this.random = config.random;
    this.isPreVoteEnabled = config.preVote ?? true;
    this.isCheckQuorumEnabled = config.checkQuorum ?? true;
    this.maxInflightMsgs = config.maxInflightMsgs ?? defaultMaxInflightMsgs;
    this.maxEntriesBytesPerMsg = config.maxEntriesBytesPerMsg ?? defaultMaxEntriesBytesPerMsg;
    this.maxUncommittedBytes = config.maxUncommittedBytes ?? defaultMaxUncommittedBytes;
    assert(this.maxInflightMsgs > 0, "maxInflightMsgs must be positive");
    this.votingDisabledUntil = config.votingDisabledUntil ?? null;

    const initialConfig = normalizeConfig(config.voters, config.learners ?? []);
    const restore = config.restore;
    const isFresh =
      restore === undefined ||
      (restore.hardState.term === 0 && (restore.snapshot ?? null) === null && restore.entries.length === 0);
    if (isFresh) {
      this.log = new RaftLog(initialConfig);
      if (initialConfig.voters.length > 0) this.bootstrap(initialConfig);
    } else {
      const isDamaged = this.votingDisabledUntil !== null;
      this.log = RaftLog.restore(
        initialConfig,
        restore.snapshot ?? null,
        restore.entries,
        restore.hardState.commit,
        isDamaged,
      );
      this.term = restore.hardState.term;
      this.vote = restore.hardState.vote;
    }
    this.config = initialConfig;
    reconfig.refreshConfigFromLog(this);
    roles.resetRandomizedElectionTicks(this);
  }

  /**
   * A founding node writes the initial membership as entry 1 of term 1, committed: every founder
   * writes the identical entry, so membership is always a function of the log alone.
   */
  private bootstrap(config: ClusterConfig): void {
    this.term = 1;
    this.log.append({ index: 1, term: 1, type: "config", data: encodeConfigEntry({ config, change: null }) });
    this.log.commitTo(1);
  }

  // ---- inspection ----

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed() };
  }

  isVoter(): boolean {
    return this.config.voters.includes(this.id);
  }

  isLearner(): boolean {
    return this.config.learners.includes(this.id);
  }

  /**
   * May this node start an election? Not as a learner, not while repairing damaged storage. A
   * voter being removed keeps campaigning until it knows its removal committed (thesis §4.2.2):
   * it may be the only one holding the removal, and its own vote is not counted.
   */
  isPromotable(): boolean {
    const isElectable = this.isVoter() || (this.wasVoterBeforeConfig && this.configIndex > this.log.committed());
    return isElectable && this.votingDisabledUntil === null && this.log.unpersistedSnapshot() === null;
  }

  hasPendingFlush(): boolean {
    return this.role === "leader" && (this.isAppendFlushNeeded || this.isCommitBroadcastNeeded || this.isReadHeartbeatNeeded);
  }

  // ---- inputs ----

  tick(): void {
    switch (this.role) {
      case "leader":
        replication.tickLeader(this);
        return;
      case "follower":
      case "pre-candidate":
      case "candidate":
        election.tickElection(this);
        return;
    }
  }

  /** Start an election now (as if the election timer fired). */
  campaignNow(): void {
    if (this.role === "leader") return;
    election.campaign(this, this.isPreVoteEnabled ? "pre" : "election", false);
  }

  step(m: Message): void {
    assert(m.group === this.group, `message for group ${m.group} delivered to group ${this.group}`);
    if (m.to !== this.id || m.from === this.id) return;

    if (m.term > this.term) {
      if (m.type === "PreVote" || m.type === "Vote") {
        const isForced = m.type === "Vote" && m.transfer;
        if (!isForced && election.isInLeaderLease(this)) return;
      }
      if (m.type === "PreVote") {
        // A pre-vote never changes our term (thesis §9.6).
      } else if (m.type === "PreVoteResp" && !m.reject) {
        // A granted pre-vote is stamped with the future term; our term moves only when we campaign.
      } else {
        const isFromLeader = m.type === "Append" || m.type === "Heartbeat" || m.type === "Snapshot";
        roles.becomeFollower(this, m.term, isFromLeader ? m.from : null);
      }
    } else if (m.term < this.term) {
      if ((this.isCheckQuorumEnabled || this.isPreVoteEnabled) && (m.type === "Append" || m.type === "Heartbeat")) {
        // A stale leader (e.g. back from a partition) would otherwise never learn the new term:
        // with pre-vote nobody's vote requests reach it. Answer so it steps down.
        this.send({ to: m.from, type: "AppendResp", reject: true, index: 0, hintIndex: 0, hintTerm: 0 });
      } else if (m.type === "PreVote") {
        this.send({ to: m.from, type: "PreVoteResp", reject: true });
      }
      return;
    }

    switch (m.type) {
      case "PreVote":
      case "Vote":
        election.handleVoteRequest(this, m);
        return;
      default:
        break;
    }
    switch (this.role) {
      case "leader":
        this.stepLeader(m);
        return;
      case "pre-candidate":
      case "candidate":
        this.stepCandidate(m);
        return;
      case "follower":
        this.stepFollower(m);
        return;
    }
  }

  // ---- per-role dispatch ----

  private stepCandidate(m: Message): void {
    switch (m.type) {
      case "Append":
      case "Heartbeat":
      case "Snapshot":
        // Someone won this term (Raft paper §5.2).
        roles.becomeFollower(this, this.term, m.from);
        this.stepFollower(m);
        return;
      case "PreVoteResp":
      case "VoteResp":
        election.handleVoteResponse(this, m);
        return;
      default:
        return;
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case "Append":
        follower.acceptLeader(this, m.from);
        follower.handleAppend(this, m);
        return;
      case "Heartbeat":
        follower.acceptLeader(this, m.from);
        follower.handleHeartbeat(this, m);
        return;
      case "Snapshot":
        follower.acceptLeader(this, m.from);
        follower.handleSnapshot(this, m);
        return;
      case "TimeoutNow":
        // Leader transfer (thesis §3.10): campaign at once, skipping pre-vote and stickiness.
        if (this.isPromotable()) election.campaign(this, "election", true);
        return;
      default:
        return;
    }
  }

  private stepLeader(m: Message): void {
    switch (m.type) {
      case "AppendResp":
        replication.handleAppendResponse(this, m);
        return;
      case "HeartbeatResp":
        replication.handleHeartbeatResponse(this, m);
        return;
      case "Append":
      case "Heartbeat":
      case "Snapshot":
        assert(false, `two leaders in term ${this.term}: ${this.id} and ${m.from}`);
        return;
      default:
        return;
    }
  }

  // ---- host inputs, implemented in the modules ----

  becomeFollower(term: number, leader: NodeId | null): void {
    roles.becomeFollower(this, term, leader);
  }

  /** Called by RaftNode once the host persisted our log up to `stable`. */
  onPersisted(): void {
    replication.onPersisted(this);
  }

  /** Batch everything queued since the last Ready into as few messages as possible. */
  flush(): void {
    replication.flush(this);
  }

  propose(data: Uint8Array): ProposeResult {
    return replication.propose(this, data);
  }

  /** One server at a time (thesis §4.1); see reconfig.ts. */
  proposeConfChange(change: ConfChange): ProposeResult {
    return reconfig.proposeConfChange(this, change);
  }

  /** ReadIndex (thesis §6.4): answered later through readStates, after a heartbeat round. */
  readIndex(ctx: number): ReadIndexResult {
    return reads.readIndex(this, ctx);
  }

  transferLeadership(to: NodeId): TransferResult {
    return reconfig.transferLeadership(this, to);
  }

  // ---- snapshots ----

  /** The host snapshotted its state machine at `index` (<= applied); returns what to persist. */
  compact(index: number, data: Uint8Array): Snapshot | null {
    const point = this.log.snapshotPoint();
    if (index <= point.index) return null;
    if (this.log.unpersistedSnapshot() !== null) return null;
    const term = this.log.term(index);
    assert(term !== null, `compact: no entry at ${index}`);
    const entry = this.log.lastConfigEntryAtOrBelow(index);
    const config = entry === null ? cloneConfig(point.config) : decodeConfigEntry(entry.data).config;
    const snapshot: Snapshot = { index, term, config, data };
    this.log.compact(snapshot);
    return snapshot;
  }

  // ---- plumbing ----

  send(m: OutgoingMessage): void {
    const full = { ...m, group: this.group, from: this.id, term: m.term ?? this.term } as Message;
    this.msgs.push(full);
  }

  electionElapsed(): number {
    return this.electionElapsedTicks;
  }
}
