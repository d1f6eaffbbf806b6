// The Raft state machine (Ongaro's thesis; etcd-io/raft's shape): roles, elections with pre-vote
// and check-quorum, replication, commit, ReadIndex, snapshots, one-at-a-time membership and leader
// transfer. Pure: messages, ticks and proposals in; messages, log changes and state out. It never
// sends a message itself — RaftNode hands them to the host only after the matching state is durable.

import { assert } from "./assert.ts";
import { RaftLog, entryOverheadBytes, entrySizeBytes } from "./log.ts";
import {
  applyConfChange,
  cloneConfig,
  decodeConfigEntry,
  encodeConfigEntry,
  normalizeConfig,
} from "./membership.ts";
import { Progress } from "./progress.ts";
import { hasQuorum, majorityMatchIndex, tallyVotes } from "./quorum.ts";
import type {
  AppendMessage,
  AppendResponseMessage,
  ClusterConfig,
  ConfChange,
  Entry,
  GroupId,
  HardState,
  HeartbeatMessage,
  HeartbeatResponseMessage,
  Message,
  NodeId,
  ProposeResult,
  ReadIndexResult,
  ReadState,
  Role,
  Snapshot,
  SnapshotMessage,
  VoteMessage,
  PreVoteMessage,
  VoteResponseMessage,
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

interface ReadRequest {
  ctx: number;
  index: number;
  /** Heartbeat round that must be acknowledged by a majority before the read is safe. */
  round: number;
}

const emptyData = new Uint8Array(0);

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
  private readonly random: () => number;

  term = 0;
  vote: NodeId | null = null;
  leader: NodeId | null = null;
  role: Role = "follower";
  readonly log: RaftLog;

  /** Membership from the latest config entry in the log, committed or not (thesis §4.1). */
  config: ClusterConfig;
  configIndex = 0;
  /** Were we a voter in the configuration the latest config entry replaced? */
  private wasVoterBeforeConfig = false;
  readonly progress = new Map<NodeId, Progress>();
  private readonly votes = new Map<NodeId, boolean>();

  private electionElapsedTicks = 0;
  private heartbeatElapsedTicks = 0;
  private randomizedElectionTicks = 0;

  msgs: Message[] = [];
  readStates: ReadState[] = [];
  /** Reads asked before this leader committed an entry of its own term (thesis §6.4 step 1). */
  private readsAwaitingTermCommit: number[] = [];
  private readRequests: ReadRequest[] = [];
  private readRound = 0;
  private readonly readAcks = new Map<NodeId, number>();
  private isReadHeartbeatNeeded = false;
  private isAppendFlushNeeded = false;
  private isCommitBroadcastNeeded = false;

  leadTransferee: NodeId | null = null;
  /** Bytes of normal entries this leader appended that are not committed yet. */
  private uncommittedBytes = 0;
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
    this.refreshConfigFromLog();
    this.resetRandomizedElectionTicks();
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
        this.tickLeader();
        return;
      case "follower":
      case "pre-candidate":
      case "candidate":
        this.tickElection();
        return;
    }
  }

  private tickElection(): void {
    this.electionElapsedTicks++;
    if (this.isPromotable() && this.electionElapsedTicks >= this.randomizedElectionTicks) {
      this.electionElapsedTicks = 0;
      this.campaign(this.isPreVoteEnabled ? "pre" : "election", false);
    }
  }

  private tickLeader(): void {
    this.heartbeatElapsedTicks++;
    this.electionElapsedTicks++;
    for (const pr of this.progress.values()) if (pr.state === "snapshot") pr.snapshotElapsedTicks++;
    if (this.electionElapsedTicks >= this.electionTicks) {
      this.electionElapsedTicks = 0;
      // Check-quorum (thesis §6.2): a leader cut off from a majority steps down, so clients go
      // elsewhere and the stale leader stops answering reads.
      if (this.isCheckQuorumEnabled && !this.isQuorumActive()) {
        this.becomeFollower(this.term, null);
        return;
      }
      // A transfer that did not finish within an election timeout is abandoned (thesis §3.10).
      this.leadTransferee = null;
    }
    if (this.heartbeatElapsedTicks >= this.heartbeatTicks) {
      this.heartbeatElapsedTicks = 0;
      this.broadcastHeartbeat();
    }
  }

  /** Start an election now (as if the election timer fired). */
  campaignNow(): void {
    if (this.role === "leader") return;
    this.campaign(this.isPreVoteEnabled ? "pre" : "election", false);
  }

  step(m: Message): void {
    assert(m.group === this.group, `message for group ${m.group} delivered to group ${this.group}`);
    if (m.to !== this.id || m.from === this.id) return;

    if (m.term > this.term) {
      if (m.type === "PreVote" || m.type === "Vote") {
        const isForced = m.type === "Vote" && m.transfer;
        // Leader stickiness (thesis §4.2.3): while we hear from a live leader, ignore anyone
        // asking for votes, so a node returning from a partition cannot depose a healthy leader.
        const isInLease =
          this.isCheckQuorumEnabled && this.leader !== null && this.electionElapsedTicks < this.electionTicks;
        if (!isForced && isInLease) return;
      }
      if (m.type === "PreVote") {
        // A pre-vote never changes our term (thesis §9.6).
      } else if (m.type === "PreVoteResp" && !m.reject) {
        // A granted pre-vote is stamped with the future term; our term moves only when we campaign.
      } else {
        const isFromLeader = m.type === "Append" || m.type === "Heartbeat" || m.type === "Snapshot";
        this.becomeFollower(m.term, isFromLeader ? m.from : null);
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
        this.handleVoteRequest(m);
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

  // ---- elections ----

  private handleVoteRequest(m: PreVoteMessage | VoteMessage): void {
    const canVote =
      this.vote === m.from ||
      (this.vote === null && this.leader === null) ||
      (m.type === "PreVote" && m.term > this.term);
    const isUpToDate = this.log.isUpToDate(m.lastIndex, m.lastTerm);
    const responseType = m.type === "PreVote" ? "PreVoteResp" : "VoteResp";
    // A node whose storage lost acknowledged entries could vote for a candidate missing them.
    if (canVote && isUpToDate && this.votingDisabledUntil === null) {
      this.send({ to: m.from, type: responseType, reject: false, term: m.term });
      if (m.type === "Vote") {
        this.electionElapsedTicks = 0;
        this.vote = m.from;
      }
    } else {
      this.send({ to: m.from, type: responseType, reject: true });
    }
  }

  private campaign(kind: "pre" | "election", isTransfer: boolean): void {
    if (!this.isPromotable()) return;
    let voteTerm: number;
    if (kind === "pre") {
      this.becomePreCandidate();
      voteTerm = this.term + 1;
    } else {
      this.becomeCandidate();
      voteTerm = this.term;
    }
    this.votes.set(this.id, true);
    if (this.resolveElection()) return;
    for (const voter of this.config.voters) {
      if (voter === this.id) continue;
      if (kind === "pre") {
        this.send({
          to: voter,
          type: "PreVote",
          term: voteTerm,
          lastIndex: this.log.lastIndex(),
          lastTerm: this.log.lastTerm(),
        });
      } else {
        this.send({
          to: voter,
          type: "Vote",
          term: voteTerm,
          lastIndex: this.log.lastIndex(),
          lastTerm: this.log.lastTerm(),
          transfer: isTransfer,
        });
      }
    }
  }

  /** Acts on the tally; true when the election ended (won or lost). */
  private resolveElection(): boolean {
    switch (tallyVotes(this.config.voters, this.votes)) {
      case "won":
        if (this.role === "pre-candidate") this.campaign("election", false);
        else this.becomeLeader();
        return true;
      case "lost":
        this.becomeFollower(this.term, null);
        return true;
      case "pending":
        return false;
    }
  }

  private stepCandidate(m: Message): void {
    switch (m.type) {
      case "Append":
      case "Heartbeat":
      case "Snapshot":
        // Someone won this term (Raft paper §5.2).
        this.becomeFollower(this.term, m.from);
        this.stepFollower(m);
        return;
      case "PreVoteResp":
      case "VoteResp":
        this.handleVoteResponse(m);
        return;
      default:
        return;
    }
  }

  private handleVoteResponse(m: VoteResponseMessage): void {
    const expected = this.role === "pre-candidate" ? "PreVoteResp" : "VoteResp";
    if (m.type !== expected) return;
    this.votes.set(m.from, !m.reject);
    this.resolveElection();
  }

  // ---- role transitions ----

  private reset(term: number): void {
    if (term !== this.term) {
      assert(term > this.term, `term going back from ${this.term} to ${term}`);
      this.term = term;
      this.vote = null;
    }
    this.leader = null;
    this.electionElapsedTicks = 0;
    this.heartbeatElapsedTicks = 0;
    this.resetRandomizedElectionTicks();
    this.votes.clear();
    this.leadTransferee = null;
    this.readsAwaitingTermCommit = [];
    this.readRequests = [];
    this.readAcks.clear();
    this.isReadHeartbeatNeeded = false;
    this.isAppendFlushNeeded = false;
    this.isCommitBroadcastNeeded = false;
    this.uncommittedBytes = 0;
    this.progress.clear();
  }

  private resetRandomizedElectionTicks(): void {
    const r = this.random();
    assert(r >= 0 && r < 1, `random() returned ${r}, outside [0, 1)`);
    this.randomizedElectionTicks = this.electionTicks + Math.floor(r * this.electionTicks);
  }

  becomeFollower(term: number, leader: NodeId | null): void {
    this.reset(term);
    this.role = "follower";
    this.leader = leader;
  }

  private becomePreCandidate(): void {
    assert(this.role !== "leader", "leader cannot become pre-candidate");
    // Deliberately keeps term and vote: a pre-vote round must not disrupt anyone (thesis §9.6).
    this.votes.clear();
    this.leader = null;
    this.role = "pre-candidate";
  }

  private becomeCandidate(): void {
    assert(this.role !== "leader", "leader cannot become candidate");
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = "candidate";
  }

  private becomeLeader(): void {
    assert(this.role === "candidate", `becomeLeader from ${this.role}`);
    this.reset(this.term);
    this.role = "leader";
    this.leader = this.id;
    const next = this.log.lastIndex() + 1;
    for (const id of [...this.config.voters, ...this.config.learners]) {
      const pr = new Progress(id, next, this.config.learners.includes(id));
      if (id === this.id) {
        pr.match = this.log.stable();
        pr.becomeReplicate();
        pr.next = next;
      }
      this.progress.set(id, pr);
    }
    // A no-op of our own term lets us commit everything before it (§5.4.2) and is the first step
    // of ReadIndex and of safe membership changes (thesis §6.4, Ongaro's 2015 single-server fix).
    this.appendEntry("noop", emptyData);
    this.isAppendFlushNeeded = true;
  }

  // ---- follower ----

  private stepFollower(m: Message): void {
    switch (m.type) {
      case "Append":
        this.acceptLeader(m.from);
        this.handleAppend(m);
        return;
      case "Heartbeat":
        this.acceptLeader(m.from);
        this.handleHeartbeat(m);
        return;
      case "Snapshot":
        this.acceptLeader(m.from);
        this.handleSnapshot(m);
        return;
      case "TimeoutNow":
        // Leader transfer (thesis §3.10): campaign at once, skipping pre-vote and stickiness.
        if (this.isPromotable()) this.campaign("election", true);
        return;
      default:
        return;
    }
  }

  private acceptLeader(from: NodeId): void {
    assert(
      this.leader === null || this.leader === from,
      `two leaders in term ${this.term}: ${this.leader} and ${from} (seen by ${this.id})`,
    );
    this.leader = from;
    this.electionElapsedTicks = 0;
  }

  private handleAppend(m: AppendMessage): void {
    const commit = this.log.committed();
    let prevIndex = m.prevIndex;
    let prevTerm = m.prevTerm;
    let entries = m.entries;
    if (prevIndex < commit) {
      // Our prefix up to `commit` is committed and therefore the leader's too (§5.4.3); match
      // from there instead of from a prevIndex we may have compacted.
      const skip = commit - prevIndex;
      if (entries.length <= skip) {
        this.sendAppendAck(m.from, commit);
        return;
      }
      const atCommit = entries[skip - 1];
      assert(atCommit !== undefined && atCommit.index === commit, "append: malformed entry indices");
      assert(
        this.log.matchTerm(commit, atCommit.term),
        `committed entry ${commit} has term ${this.log.term(commit)} but leader ${m.from} has ${atCommit.term}`,
      );
      prevIndex = commit;
      prevTerm = atCommit.term;
      entries = entries.slice(skip);
    }
    if (!this.log.matchTerm(prevIndex, prevTerm)) {
      const hintIndex = this.log.findConflictByTerm(Math.min(prevIndex, this.log.lastIndex()), prevTerm);
      this.send({
        to: m.from,
        type: "AppendResp",
        reject: true,
        index: prevIndex,
        hintIndex,
        hintTerm: this.log.term(hintIndex) ?? 0,
      });
      return;
    }
    const conflict = this.log.findConflict(entries);
    if (conflict !== 0) {
      const first = entries[0];
      assert(first !== undefined, "append: conflict without entries");
      const suffix = entries.slice(conflict - first.index);
      const isConfigTouched = conflict <= this.configIndex || suffix.some((e) => e.type === "config");
      this.log.truncateAndAppend(suffix);
      if (isConfigTouched) this.refreshConfigFromLog();
    }
    const lastNewIndex = prevIndex + entries.length;
    this.log.commitTo(Math.min(m.commit, lastNewIndex));
    this.noteRepairProgress(m.term, lastNewIndex);
    this.sendAppendAck(m.from, lastNewIndex);
  }

  private sendAppendAck(to: NodeId, index: number): void {
    this.send({ to, type: "AppendResp", reject: false, index, hintIndex: 0, hintTerm: 0 });
  }

  private handleHeartbeat(m: HeartbeatMessage): void {
    // The leader sends min(match, commit), so this never commits an entry we have not matched.
    this.log.commitTo(Math.min(m.commit, this.log.lastIndex()));
    this.send({ to: m.from, type: "HeartbeatResp", ctx: m.ctx });
  }

  private handleSnapshot(m: SnapshotMessage): void {
    const snapshot = m.snapshot;
    if (snapshot.index <= this.log.committed()) {
      this.sendAppendAck(m.from, this.log.committed());
      return;
    }
    if (this.log.matchTerm(snapshot.index, snapshot.term)) {
      // We already hold the snapshot's last entry, hence (log matching) all before it.
      this.log.commitTo(snapshot.index);
    } else {
      this.log.restoreSnapshot(snapshot);
      this.refreshConfigFromLog();
    }
    this.noteRepairProgress(m.term, snapshot.index);
    this.sendAppendAck(m.from, snapshot.index);
  }

  /**
   * Damaged storage: voting resumes once a leader of a later term than the damage has made our
   * log match its own up to the damaged index — then we again hold everything we acknowledged.
   */
  private noteRepairProgress(leaderTerm: number, matchedIndex: number): void {
    const until = this.votingDisabledUntil;
    if (until === null) return;
    if (leaderTerm > until.term && matchedIndex >= until.index) {
      this.votingDisabledUntil = null;
      this.isVotingRestoredUnreported = true;
    }
  }

  // ---- leader ----

  private stepLeader(m: Message): void {
    switch (m.type) {
      case "AppendResp":
        this.handleAppendResponse(m);
        return;
      case "HeartbeatResp":
        this.handleHeartbeatResponse(m);
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

  private appendEntry(type: Entry["type"], data: Uint8Array): Entry {
    const entry: Entry = { index: this.log.lastIndex() + 1, term: this.term, type, data };
    this.log.append(entry);
    return entry;
  }

  private handleAppendResponse(m: AppendResponseMessage): void {
    const pr = this.progress.get(m.from);
    if (pr === undefined) return;
    pr.isRecentActive = true;
    if (m.reject) {
      this.handleAppendReject(m, pr);
      return;
    }
    // A follower can only have matched entries this leader holds (leader completeness, §5.4).
    assert(m.index <= this.log.lastIndex(), `${m.from} acked ${m.index} beyond leader ${this.id}'s last ${this.log.lastIndex()}`);
    const wasProbeMatch = pr.state === "probe" && pr.match === m.index;
    if (!pr.maybeUpdate(m.index) && !wasProbeMatch) return;
    switch (pr.state) {
      case "probe":
        pr.becomeReplicate();
        break;
      case "snapshot":
        if (pr.match + 1 >= this.log.firstIndex()) pr.becomeReplicate();
        break;
      case "replicate":
        pr.freeInflightUpTo(m.index);
        break;
    }
    if (this.maybeCommit()) this.isCommitBroadcastNeeded = true;
    if (this.role !== "leader") return;
    while (this.maybeSendAppend(m.from, false)) {
      // Keep the pipeline full up to maxInflightMsgs.
    }
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) {
      this.send({ to: m.from, type: "TimeoutNow" });
    }
  }

  private handleAppendReject(m: AppendResponseMessage, pr: Progress): void {
    const conflict = this.log.findConflictByTerm(m.hintIndex, m.hintTerm);
    switch (pr.state) {
      case "snapshot":
        return; // an answer to an append sent before the snapshot
      case "replicate":
        // Below match it is stale (reordered); at or above, re-sync with a single probe.
        if (m.index < pr.match) return;
        pr.becomeProbe();
        pr.next = Math.max(pr.match + 1, Math.min(m.index, conflict + 1));
        break;
      case "probe":
        if (m.index !== pr.next - 1) return; // answer to an older probe
        if (m.index <= pr.match) {
          // The follower no longer holds what it acknowledged: its storage lost acknowledged
          // entries (a damaged restart). Stop relying on that match and walk back from its hint.
          pr.forgetMatch();
        }
        pr.becomeProbe();
        pr.next = Math.max(pr.match + 1, Math.min(m.index, conflict + 1));
        break;
    }
    this.maybeSendAppend(m.from, true);
  }

  private handleHeartbeatResponse(m: HeartbeatResponseMessage): void {
    const pr = this.progress.get(m.from);
    if (pr === undefined) return;
    pr.isRecentActive = true;
    pr.isProbeSent = false;
    if (pr.state === "replicate" && pr.isInflightFull(this.maxInflightMsgs)) pr.freeFirstInflight();
    // A lost InstallSnapshot would leave the follower stuck; retry after an election timeout.
    if (pr.state === "snapshot" && pr.snapshotElapsedTicks >= this.electionTicks) pr.becomeProbe();
    // Even an empty Append: if everything in flight was lost, its rejection re-synchronises us.
    if (pr.match < this.log.lastIndex() || pr.state === "probe") this.maybeSendAppend(m.from, true);
    if (m.ctx > 0) {
      this.readAcks.set(m.from, Math.max(this.readAcks.get(m.from) ?? 0, m.ctx));
      this.releaseConfirmedReads();
    }
  }

  /** Send the next Append (or a snapshot) to `to` if its progress allows; true if something went out. */
  private maybeSendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.progress.get(to);
    if (pr === undefined || to === this.id || pr.isPaused(this.maxInflightMsgs)) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    const lastIndex = this.log.lastIndex();
    const entries = pr.next <= lastIndex ? this.log.slice(pr.next, lastIndex + 1, this.maxEntriesBytesPerMsg) : [];
    if (prevTerm === null || entries === null) return this.sendSnapshot(pr);
    if (entries.length === 0 && !sendIfEmpty) return false;
    this.send({ to, type: "Append", prevIndex, prevTerm, entries, commit: this.log.committed() });
    const last = entries[entries.length - 1];
    pr.sentAppend(last === undefined ? prevIndex : last.index, entries.length);
    return true;
  }

  private sendSnapshot(pr: Progress): boolean {
    if (!pr.isRecentActive) return false;
    const snapshot = this.log.snapshotForFollower();
    assert(snapshot !== null, `follower ${pr.id} needs compacted entries but there is no snapshot`);
    this.send({ to: pr.id, type: "Snapshot", snapshot });
    pr.becomeSnapshot(snapshot.index);
    return true;
  }

  private broadcastHeartbeat(): void {
    for (const pr of this.progress.values()) {
      if (pr.id === this.id) continue;
      this.send({
        to: pr.id,
        type: "Heartbeat",
        commit: Math.min(pr.match, this.log.committed()),
        ctx: this.readRound,
      });
    }
    this.isReadHeartbeatNeeded = false;
  }

  private isQuorumActive(): boolean {
    const isActive = hasQuorum(this.config.voters, (id) => id === this.id || this.progress.get(id)?.isRecentActive === true);
    for (const pr of this.progress.values()) if (pr.id !== this.id) pr.isRecentActive = false;
    return isActive;
  }

  private matchOf(id: NodeId): number {
    if (id === this.id) return this.log.stable();
    return this.progress.get(id)?.match ?? 0;
  }

  /** Advance commit by counting replicas, only for entries of our own term (Raft paper §5.4.2). */
  private maybeCommit(): boolean {
    const index = majorityMatchIndex(this.config.voters, (id) => this.matchOf(id));
    const before = this.log.committed();
    if (index <= before || this.log.term(index) !== this.term) return false;
    this.log.commitTo(index);
    for (let at = before + 1; at <= index && this.uncommittedBytes > 0; at++) {
      const entry = this.log.entry(at);
      if (entry !== null && entry.term === this.term && entry.type === "normal") this.uncommittedBytes -= entrySizeBytes(entry);
    }
    this.uncommittedBytes = Math.max(0, this.uncommittedBytes);
    this.afterLeaderCommit();
    return true;
  }

  private afterLeaderCommit(): void {
    if (this.log.term(this.log.committed()) === this.term && this.readsAwaitingTermCommit.length > 0) {
      const waiting = this.readsAwaitingTermCommit;
      this.readsAwaitingTermCommit = [];
      for (const ctx of waiting) this.registerRead(ctx);
    }
    if (!this.isVoter() && this.log.committed() >= this.configIndex) this.stepDownAfterRemoval();
  }

  /**
   * Thesis §4.2.2: a leader removed from the configuration leads until the removal commits, then
   * steps down. It tells the most caught-up voter to campaign at once instead of waiting a timeout.
   */
  private stepDownAfterRemoval(): void {
    for (const pr of this.progress.values()) {
      if (pr.id === this.id) continue;
      let sendIfEmpty = true;
      while (this.maybeSendAppend(pr.id, sendIfEmpty)) sendIfEmpty = false;
    }
    let successor: Progress | null = null;
    for (const pr of this.progress.values()) {
      if (pr.id === this.id || !this.config.voters.includes(pr.id)) continue;
      if (successor === null || pr.match > successor.match) successor = pr;
    }
    if (successor !== null && successor.match === this.log.lastIndex()) {
      this.send({ to: successor.id, type: "TimeoutNow" });
    }
    this.becomeFollower(this.term, null);
  }

  /** Called by RaftNode once the host persisted our log up to `stable`. */
  onPersisted(): void {
    if (this.role !== "leader") return;
    const self = this.progress.get(this.id);
    if (self !== undefined) self.match = this.log.stable();
    if (this.maybeCommit()) this.isCommitBroadcastNeeded = true;
  }

  /** Batch everything queued since the last Ready into as few messages as possible. */
  flush(): void {
    if (this.role !== "leader") return;
    if (this.isAppendFlushNeeded || this.isCommitBroadcastNeeded) {
      for (const pr of this.progress.values()) {
        if (pr.id === this.id) continue;
        let sendIfEmpty = this.isCommitBroadcastNeeded;
        while (this.maybeSendAppend(pr.id, sendIfEmpty)) sendIfEmpty = false;
      }
      this.isAppendFlushNeeded = false;
      this.isCommitBroadcastNeeded = false;
    }
    if (this.isReadHeartbeatNeeded) this.broadcastHeartbeat();
  }

  // ---- proposals ----

  propose(data: Uint8Array): ProposeResult {
    const refusal = this.proposalRefusal();
    if (refusal !== null) return refusal;
    const sizeBytes = data.byteLength + entryOverheadBytes;
    if (this.uncommittedBytes > 0 && this.uncommittedBytes + sizeBytes > this.maxUncommittedBytes) {
      return { ok: false, code: "UNAVAILABLE", message: "too many uncommitted entries; the cluster is not keeping up" };
    }
    const entry = this.appendEntry("normal", data);
    this.uncommittedBytes += sizeBytes;
    this.isAppendFlushNeeded = true;
    return { ok: true, index: entry.index, term: entry.term };
  }

  private proposalRefusal(): ProposeResult | null {
    if (this.role !== "leader") return { ok: false, code: "NOT_LEADER", leader: this.leader };
    if (this.leadTransferee !== null) {
      return { ok: false, code: "UNAVAILABLE", message: `leadership is being transferred to ${this.leadTransferee}` };
    }
    return null;
  }

  /**
   * One server at a time (thesis §4.1), effective as soon as the entry is appended. Refused until
   * this leader committed an entry of its term (fixes the single-server change bug Ongaro reported
   * on raft-dev in 2015) and while an earlier change is uncommitted.
   */
  proposeConfChange(change: ConfChange): ProposeResult {
    const refusal = this.proposalRefusal();
    if (refusal !== null) return refusal;
    if (this.log.term(this.log.committed()) !== this.term) {
      return { ok: false, code: "UNAVAILABLE", message: "leader has not committed an entry in its term yet" };
    }
    if (this.configIndex > this.log.committed()) {
      return { ok: false, code: "CONFLICT", message: "another membership change is not committed yet" };
    }
    const outcome = applyConfChange(this.config, change);
    if (!outcome.ok) return { ok: false, code: "CONFLICT", message: outcome.message };
    if (change.type === "promote") {
      // A voter that cannot keep up would stall commits (thesis §4.2.1): promote caught-up learners only.
      const match = this.progress.get(change.node)?.match ?? 0;
      if (match < this.log.committed()) {
        return { ok: false, code: "UNAVAILABLE", message: `${change.node} has not caught up (match ${match})` };
      }
    }
    const entry = this.appendEntry("config", encodeConfigEntry({ config: outcome.config, change }));
    this.setConfig(outcome.config, entry.index);
    this.isAppendFlushNeeded = true;
    return { ok: true, index: entry.index, term: entry.term };
  }

  /** The configuration in force just before the config entry at `index`. */
  private previousConfigAt(index: number): ClusterConfig {
    const entry = index > this.log.snapshotPoint().index ? this.log.lastConfigEntryAtOrBelow(index - 1) : null;
    return entry === null ? this.log.snapshotPoint().config : decodeConfigEntry(entry.data).config;
  }

  private refreshConfigFromLog(): void {
    const entry = this.log.lastConfigEntryAtOrBelow(this.log.lastIndex());
    if (entry === null) {
      const point = this.log.snapshotPoint();
      this.setConfig(cloneConfig(point.config), point.index);
    } else {
      this.setConfig(decodeConfigEntry(entry.data).config, entry.index);
    }
  }

  private setConfig(config: ClusterConfig, index: number): void {
    this.wasVoterBeforeConfig = !config.voters.includes(this.id) && this.previousConfigAt(index).voters.includes(this.id);
    this.config = config;
    this.configIndex = index;
    if (this.role !== "leader") return;
    const members = new Set([...config.voters, ...config.learners]);
    for (const id of [...this.progress.keys()]) if (!members.has(id)) this.progress.delete(id);
    for (const id of members) {
      const existing = this.progress.get(id);
      const isLearner = config.learners.includes(id);
      if (existing === undefined) this.progress.set(id, new Progress(id, this.log.lastIndex(), isLearner));
      else existing.isLearner = isLearner;
    }
    if (this.leadTransferee !== null && !config.voters.includes(this.leadTransferee)) this.leadTransferee = null;
    // A smaller quorum may already cover more entries.
    if (this.maybeCommit()) this.isCommitBroadcastNeeded = true;
  }

  // ---- reads ----

  /** ReadIndex (thesis §6.4): answered later through readStates, after a heartbeat round. */
  readIndex(ctx: number): ReadIndexResult {
    if (this.role !== "leader") return { ok: false, code: "NOT_LEADER", leader: this.leader };
    if (this.log.term(this.log.committed()) !== this.term) {
      this.readsAwaitingTermCommit.push(ctx);
      return { ok: true };
    }
    this.registerRead(ctx);
    return { ok: true };
  }

  private registerRead(ctx: number): void {
    const index = this.log.committed();
    if (this.config.voters.length === 1 && this.config.voters[0] === this.id) {
      this.readStates.push({ ctx, index });
      return;
    }
    this.readRound++;
    this.readRequests.push({ ctx, index, round: this.readRound });
    this.isReadHeartbeatNeeded = true;
  }

  private releaseConfirmedReads(): void {
    while (this.readRequests.length > 0) {
      const request = this.readRequests[0];
      if (request === undefined) break;
      const isConfirmed = hasQuorum(
        this.config.voters,
        (id) => id === this.id || (this.readAcks.get(id) ?? 0) >= request.round,
      );
      if (!isConfirmed) break;
      this.readRequests.shift();
      this.readStates.push({ ctx: request.ctx, index: request.index });
    }
  }

  // ---- leader transfer ----

  transferLeadership(to: NodeId): TransferResult {
    if (this.role !== "leader") return { ok: false, code: "NOT_LEADER", leader: this.leader };
    if (to === this.id) return { ok: true };
    if (!this.config.voters.includes(to)) return { ok: false, code: "CONFLICT", message: `${to} is not a voter` };
    if (this.leadTransferee === to) return { ok: true };
    this.leadTransferee = to;
    // The transfer is bounded by one election timeout, measured from now (thesis §3.10).
    this.electionElapsedTicks = 0;
    const pr = this.progress.get(to);
    if (pr !== undefined && pr.match === this.log.lastIndex()) this.send({ to, type: "TimeoutNow" });
    else this.maybeSendAppend(to, true);
    return { ok: true };
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

  private send(m: OutgoingMessage): void {
    const full = { ...m, group: this.group, from: this.id, term: m.term ?? this.term } as Message;
    this.msgs.push(full);
  }

  electionElapsed(): number {
    return this.electionElapsedTicks;
  }
}
