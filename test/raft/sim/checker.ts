// Safety checkers run after every simulation step (TigerBeetle's state_checker in spirit): election
// safety, log matching, leader completeness, state machine safety, durability of committed entries,
// monotonic commit, and linearizable ReadIndex reads. A violation throws SimulationViolation.

import type { Entry, NodeId, RaftNode, Ready, Snapshot } from "../../../src/raft/index.ts";
import { entryKey } from "./fsm.ts";

export class SimulationViolation extends Error {
  override name = "SimulationViolation";
}

function violation(message: string): never {
  throw new SimulationViolation(message);
}

interface LoggedEntry {
  key: string;
  prevTerm: number;
}

interface AppliedEntry {
  term: number;
  key: string;
  hashAfter: number;
}

/**
 * What the checker needs of a replica's state machine after an apply or a restore: equal
 * (index, hash) on two replicas means they applied the same prefix alike. HashFsm is one; other
 * harnesses (the queue simulation) pass a digest of their own machine.
 */
export interface AppliedDigest {
  readonly index: number;
  readonly hash: number;
}

export interface ReadStart {
  /** Every write acknowledged, and every read completed, before this read began. */
  minIndex: number;
}

export class SafetyChecker {
  private readonly leaderOfTerm = new Map<number, NodeId>();
  /** "index:term" -> content and previous term, for every entry any node ever appended. */
  private readonly logged = new Map<string, LoggedEntry>();
  /**
   * index -> the entry's term, and the lowest term of any node seen holding it committed (at
   * or above the term it was committed in: the leader that committed it is checked that step).
   */
  private readonly committed = new Map<number, { term: number; seenAtTerm: number }>();
  committedMax = 0;
  private readonly applied = new Map<number, AppliedEntry>();
  private readonly commitSeen = new Map<string, number>();
  private readonly leaderTermChecked = new Set<string>();
  /** Highest index of an acknowledged write / a completed read's state: the floor for new reads. */
  ackedWriteMax = 0;
  completedReadMax = 0;
  readsCompleted = 0;
  writesAcked = 0;

  readStart(): ReadStart {
    return { minIndex: Math.max(this.ackedWriteMax, this.completedReadMax) };
  }

  onReady(id: NodeId, rd: Ready, node: RaftNode): void {
    let prevTerm: number | null = null;
    for (const entry of rd.entries) {
      const before = prevTerm ?? node.logTerm(entry.index - 1);
      if (before === null) violation(`${id}: no term for ${entry.index - 1} before a new entry`);
      this.noteLogged(id, entry, before);
      prevTerm = entry.term;
    }
    if (rd.snapshot !== undefined) this.noteCommitted(id, rd.snapshot.index, rd.snapshot.term, node.status().term);
  }

  private noteLogged(id: NodeId, entry: Entry, prevTerm: number): void {
    const key = `${entry.index}:${entry.term}`;
    const seen = this.logged.get(key);
    const content = entryKey(entry);
    if (seen === undefined) {
      this.logged.set(key, { key: content, prevTerm });
      return;
    }
    if (seen.key !== content || seen.prevTerm !== prevTerm) {
      violation(
        `log matching: ${id} has entry ${key} = ${content} after term ${prevTerm}, elsewhere ${seen.key} after term ${seen.prevTerm}`,
      );
    }
  }

  private noteCommitted(id: NodeId, index: number, term: number, observerTerm: number): void {
    const known = this.committed.get(index);
    if (known === undefined) {
      this.committed.set(index, { term, seenAtTerm: observerTerm });
      this.committedMax = Math.max(this.committedMax, index);
    } else if (known.term !== term) {
      violation(`committed entry changed: ${id} has ${index} committed at term ${term}, earlier seen at term ${known.term}`);
    } else if (observerTerm < known.seenAtTerm) {
      known.seenAtTerm = observerTerm;
    }
  }

  onApply(id: NodeId, entry: Entry, fsm: AppliedDigest): void {
    const seen = this.applied.get(entry.index);
    const key = entryKey(entry);
    if (seen === undefined) {
      this.applied.set(entry.index, { term: entry.term, key, hashAfter: fsm.hash });
      return;
    }
    if (seen.term !== entry.term || seen.key !== key || seen.hashAfter !== fsm.hash) {
      violation(
        `state machine safety: ${id} applied ${entry.index}@${entry.term} ${key} (hash ${fsm.hash}), ` +
          `another node applied ${entry.index}@${seen.term} ${seen.key} (hash ${seen.hashAfter})`,
      );
    }
  }

  onSnapshotRestore(id: NodeId, snapshot: Snapshot, fsm: AppliedDigest): void {
    if (fsm.index !== snapshot.index) violation(`${id}: snapshot ${snapshot.index} holds fsm index ${fsm.index}`);
    const seen = this.applied.get(snapshot.index);
    if (seen !== undefined && seen.hashAfter !== fsm.hash) {
      violation(`${id}: snapshot at ${snapshot.index} has hash ${fsm.hash}, replicas applied to ${seen.hashAfter}`);
    }
  }

  onWriteAcked(index: number): void {
    this.writesAcked++;
    this.ackedWriteMax = Math.max(this.ackedWriteMax, index);
  }

  /** A read started at `start` got readState index `readIndex`. */
  onReadState(id: NodeId, ctx: number, start: ReadStart, readIndex: number): void {
    if (readIndex < start.minIndex) {
      violation(`linearizable read: ${id} read ctx ${ctx} at index ${readIndex}, but ${start.minIndex} was acknowledged before it began`);
    }
  }

  /** A read was served from state at `stateIndex`. */
  onReadServed(id: NodeId, ctx: number, start: ReadStart, stateIndex: number): void {
    if (stateIndex < start.minIndex) {
      violation(`linearizable read: ${id} served ctx ${ctx} from state ${stateIndex} < ${start.minIndex}`);
    }
    this.readsCompleted++;
    this.completedReadMax = Math.max(this.completedReadMax, stateIndex);
  }

  /** After every step: checks over the live nodes' in-memory state. */
  afterStep(live: ReadonlyMap<NodeId, { node: RaftNode; incarnation: number }>): void {
    for (const [id, { node, incarnation }] of live) {
      const status = node.status();
      if (status.role === "leader") {
        const holder = this.leaderOfTerm.get(status.term);
        if (holder === undefined) this.leaderOfTerm.set(status.term, id);
        else if (holder !== id) violation(`election safety: ${holder} and ${id} both led term ${status.term}`);
        const checkKey = `${id}:${status.term}`;
        if (!this.leaderTermChecked.has(checkKey)) {
          this.leaderTermChecked.add(checkKey);
          this.checkLeaderCompleteness(id, node);
        }
      }
      const incarnationKey = `${id}#${incarnation}`;
      const lastCommit = this.commitSeen.get(incarnationKey) ?? 0;
      if (status.commitIndex < lastCommit) {
        violation(`commit index of ${id} went back from ${lastCommit} to ${status.commitIndex}`);
      }
      for (let index = Math.max(lastCommit + 1, status.snapshotIndex); index <= status.commitIndex; index++) {
        const term = node.logTerm(index);
        if (term !== null) this.noteCommitted(id, index, term, status.term);
      }
      this.commitSeen.set(incarnationKey, status.commitIndex);
      if (status.appliedIndex > status.commitIndex) violation(`${id} applied ${status.appliedIndex} beyond commit ${status.commitIndex}`);
    }
  }

  /**
   * Leader completeness (Raft paper §5.4): a leader holds every entry committed in an earlier
   * term. (A stale leader of a lower term may legitimately lack what a newer leader committed.)
   */
  private checkLeaderCompleteness(id: NodeId, node: RaftNode): void {
    const status = node.status();
    for (let index = status.snapshotIndex; index <= this.committedMax; index++) {
      const want = this.committed.get(index);
      if (want === undefined || want.seenAtTerm >= status.term) continue;
      const have = node.logTerm(index);
      if (have !== want.term) {
        violation(
          `leader completeness: ${id} (term ${status.term}) has ${index}@${have}, ` +
            `but ${index}@${want.term} was committed by term ${want.seenAtTerm}`,
        );
      }
    }
  }

  /** Every current leader still holds every committed entry (run periodically; O(log)). */
  checkCommittedRetained(live: ReadonlyMap<NodeId, { node: RaftNode }>): void {
    for (const [id, { node }] of live) if (node.status().role === "leader") this.checkLeaderCompleteness(id, node);
  }

  leaderCount(): number {
    return this.leaderOfTerm.size;
  }
}
