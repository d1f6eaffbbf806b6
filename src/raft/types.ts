// The data the Raft core exchanges with its host: log entries, persistent state, snapshots and
// the wire messages. Everything here is a plain object of numbers, strings, booleans, arrays and
// Uint8Arrays (never undefined), so it encodes with msgpack and compares by value in tests.

export type NodeId = string;
export type GroupId = number;

/** "noop" opens every leader term (thesis §6.4); "config" holds a full membership (§4.1). */
export type EntryType = "normal" | "config" | "noop";

export interface Entry {
  index: number;
  term: number;
  type: EntryType;
  data: Uint8Array;
}

/** What must be durable before any message from the same Ready is sent (Raft paper fig. 2). */
export interface HardState {
  term: number;
  vote: NodeId | null;
  commit: number;
}

/** A membership: voters form quorums; learners only receive the log (thesis §4.2.1). */
export interface ClusterConfig {
  voters: NodeId[];
  learners: NodeId[];
}

export interface SnapshotMeta {
  index: number;
  term: number;
  /** The membership in force at `index`, so a log compacted past every config entry still knows it. */
  config: ClusterConfig;
}

export interface Snapshot extends SnapshotMeta {
  data: Uint8Array;
}

/** The role the core plays; the reported role adds "learner" for a follower that cannot vote. */
export type Role = "follower" | "pre-candidate" | "candidate" | "leader";
export type ReportedRole = Role | "learner";

interface MessageBase {
  group: GroupId;
  from: NodeId;
  to: NodeId;
  term: number;
}

/** term is the term the sender would campaign in (its term + 1); the receiver's term is unchanged (§9.6). */
export interface PreVoteMessage extends MessageBase {
  type: "PreVote";
  lastIndex: number;
  lastTerm: number;
}

export interface VoteMessage extends MessageBase {
  type: "Vote";
  lastIndex: number;
  lastTerm: number;
  /** Set when campaigning on TimeoutNow: bypasses leader stickiness (thesis §3.10, §4.2.3). */
  transfer: boolean;
}

export interface VoteResponseMessage extends MessageBase {
  type: "PreVoteResp" | "VoteResp";
  reject: boolean;
}

export interface AppendMessage extends MessageBase {
  type: "Append";
  prevIndex: number;
  prevTerm: number;
  entries: Entry[];
  commit: number;
}

/**
 * On success `index` is the last index known to match the leader. On reject `index` is the
 * rejected prevIndex and (hintIndex, hintTerm) is the follower's last entry with term <= prevTerm,
 * so the leader can skip a whole conflicting term per round trip (thesis §5.3 optimisation).
 */
export interface AppendResponseMessage extends MessageBase {
  type: "AppendResp";
  reject: boolean;
  index: number;
  hintIndex: number;
  hintTerm: number;
}

/** ctx is the leader's read-index round number; 0 when no read is waiting (thesis §6.4). */
export interface HeartbeatMessage extends MessageBase {
  type: "Heartbeat";
  commit: number;
  ctx: number;
}

export interface HeartbeatResponseMessage extends MessageBase {
  type: "HeartbeatResp";
  ctx: number;
}

/** InstallSnapshot carrying the whole snapshot; the follower answers with an AppendResp. */
export interface SnapshotMessage extends MessageBase {
  type: "Snapshot";
  snapshot: Snapshot;
}

export interface TimeoutNowMessage extends MessageBase {
  type: "TimeoutNow";
}

export type Message =
  | PreVoteMessage
  | VoteMessage
  | VoteResponseMessage
  | AppendMessage
  | AppendResponseMessage
  | HeartbeatMessage
  | HeartbeatResponseMessage
  | SnapshotMessage
  | TimeoutNowMessage;

export type MessageType = Message["type"];

export interface ReadState {
  ctx: number;
  /** Serve the read once the state machine has applied at least this index. */
  index: number;
}

export interface SoftState {
  role: ReportedRole;
  leader: NodeId | null;
  term: number;
}

/**
 * One batch of work for the host. Order: persist `snapshot` (discarding the whole old log), then
 * `entries` (replacing any stored suffix from entries[0].index), then `hardState`; only then send
 * `messages`; then restore the state machine from `snapshot` and apply `committed` in order; then
 * call advance(ready).
 */
export interface Ready {
  softState?: SoftState;
  hardState?: HardState;
  snapshot?: Snapshot;
  entries: Entry[];
  messages: Message[];
  committed: Entry[];
  readStates: ReadState[];
  /** Present once, when a node restarted with damaged storage has been repaired by a leader. */
  votingRestored?: true;
  /**
   * Present when `hardState` changes the term or the vote (not only the commit index): then no
   * message of this Ready may leave before it is durable. See `isSendableBeforePersist`.
   */
  isTermOrVoteChanged?: true;
}

export type ProposeResult =
  | { ok: true; index: number; term: number }
  | { ok: false; code: "NOT_LEADER"; leader: NodeId | null }
  | { ok: false; code: "UNAVAILABLE" | "CONFLICT"; message: string };

export type ReadIndexResult = { ok: true } | { ok: false; code: "NOT_LEADER"; leader: NodeId | null };

export type ConfChangeType = "addLearner" | "promote" | "remove";

export interface ConfChange {
  type: ConfChangeType;
  node: NodeId;
}
