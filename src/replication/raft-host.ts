// Runs every Raft group of this node: one tick timer, one ready loop and one write-ahead log
// for all of them, so the appends of every group in one event-loop turn share one fdatasync
// (group commit). The loop follows the core's contract: persist (snapshot, entries, hard
// state; fsync), then send, then advance — nothing is acknowledged before it is durable; entries
// already committed are applied while the fsync runs. A leader's Appends leave before its own
// fsync (thesis §10.2.1), so the followers write in parallel with it.
import { isSendableBeforePersist, RaftNode, type GroupId, type Message, type NodeId, type Ready } from "../raft/index.ts";
import { openSnapshotStore, openWal, type SnapshotStore, type Wal, type RecoveredGroup } from "../storage/index.ts";
import { DataDirLock } from "../storage/dir-lock.ts";
import { SinkronError } from "../protocol/errors.ts";
import { decodeValue, encodeValue } from "../protocol/msgpack.ts";
import type { Logger } from "../util/log.ts";
import { RaftGroup } from "./raft-group.ts";
import type { StateMachine } from "./state-machine.ts";

export interface RaftTiming {
  /** One logical tick of every group. */
  tickMs: number;
  /** Election timeout is [electionTicks, 2*electionTicks) ticks. */
  electionTicks: number;
  heartbeatTicks: number;
}

export const DEFAULT_RAFT_TIMING: Readonly<RaftTiming> = { tickMs: 20, electionTicks: 15, heartbeatTicks: 3 };
/** Applied entries after which a group snapshots its state machine and compacts its log. */
export const SNAPSHOT_ENTRIES_DEFAULT = 20_000;
/**
 * Applied log bytes after which a group snapshots, whatever its entry count: a queue partition's
 * entries are whole batches, so counting entries alone would let its in-memory log grow to
 * gigabytes. A group whose state is larger waits until the log holds twice its last snapshot, so
 * the cost of snapshotting stays proportional to what was written (amortized O(1) per byte).
 */
export const SNAPSHOT_LOG_BYTES_DEFAULT = 64 * 1024 * 1024;

export interface RaftHostOptions {
  nodeId: NodeId;
  dataDir: string;
  fsync: boolean;
  segmentBytesMax?: number;
  timing: RaftTiming;
  snapshotEntries: number;
  /** See SNAPSHOT_LOG_BYTES_DEFAULT. */
  snapshotLogBytes?: number;
  log: Logger;
  /**
   * Hands messages to the transport: a loop's leader Appends before its fsync, the rest after
   * (so up to two calls per loop).
   */
  send(messages: Message[]): void;
  random?: () => number;
  /** Called on an unrecoverable error; the default ends the process with exit code 70. */
  onFatal?: (error: unknown) => void;
}

function defaultOnFatal(): void {
  process.exit(70);
}

export interface RaftHostStats {
  readyLoops: number;
  syncs: number;
  entriesPersisted: number;
  messagesSent: number;
  entriesApplied: number;
  snapshotsTaken: number;
  snapshotsInstalled: number;
  /** Entries this node appended to a group's log while leading it: its accepted proposals (config changes included). */
  proposals: number;
  /** Times one of this node's groups became candidate (an election it started, term bumped). */
  elections: number;
  /** Times one of this node's groups learnt of a new leader (itself included). */
  leaderChanges: number;
}

export class RaftHost {
  private readonly groups = new Map<GroupId, RaftGroup>();
  private wal: Wal | null = null;
  private lock: DataDirLock | null = null;
  private snapshots: SnapshotStore | null = null;
  private recovered = new Map<GroupId, RecoveredGroup>();
  private tickTimer: ReturnType<typeof setInterval> | null = null;
  private loopScheduled = false;
  /** The WAL sync of the running ready loop (or of a tick's commit), while the disk works. */
  private persisting: Promise<void> | null = null;
  private stopped = false;
  /** A commit-only hard state is buffered in the WAL, not yet synced (see persist). */
  private isCommitSyncPending = false;
  private readonly counters: RaftHostStats = { readyLoops: 0, syncs: 0, entriesPersisted: 0, messagesSent: 0, entriesApplied: 0, snapshotsTaken: 0, snapshotsInstalled: 0, proposals: 0, elections: 0, leaderChanges: 0 };

  constructor(private readonly options: RaftHostOptions) {}

  /** Opens storage; recovery (torn tail cut, damage found) is logged by the storage layer. */
  open(): void {
    const logger = this.options.log.child("storage");
    this.lock = DataDirLock.acquire(this.options.dataDir);
    const { wal, recovered, report } = openWal({ dir: this.options.dataDir, fsync: this.options.fsync, segmentBytesMax: this.options.segmentBytesMax, logger });
    this.wal = wal;
    this.recovered = recovered;
    this.snapshots = openSnapshotStore({ dir: this.options.dataDir, fsync: this.options.fsync, logger });
    if (!this.options.fsync) this.options.log.warn("fsync is OFF: a crash or power loss may lose acknowledged writes (--unsafe-no-fsync)");
    this.options.log.info("storage open", { groups: recovered.size, report: report as unknown as Record<string, unknown> });
  }

  get durability(): "fsync" | "UNSAFE-no-fsync" {
    return this.options.fsync ? "fsync" : "UNSAFE-no-fsync";
  }

  group(id: GroupId): RaftGroup | undefined {
    return this.groups.get(id);
  }

  allGroups(): RaftGroup[] {
    return [...this.groups.values()];
  }

  /** Creates (or restores from storage) the local replica of group `id`. */
  createGroup(id: GroupId, voters: NodeId[], fsm: StateMachine): RaftGroup {
    if (this.groups.has(id)) throw new Error(`group ${id} exists`);
    const restore = this.restoreState(id);
    if (restore.snapshot !== null) fsm.restore(decodeValue(restore.snapshot.data));
    const raft = new RaftNode({
      id: this.options.nodeId,
      group: id,
      voters,
      electionTicks: this.options.timing.electionTicks,
      heartbeatTicks: this.options.timing.heartbeatTicks,
      random: this.options.random ?? Math.random,
      preVote: true,
      checkQuorum: true,
      restore: restore.isEmpty ? undefined : { hardState: restore.hardState, snapshot: restore.snapshot, entries: restore.entries },
      votingDisabledUntil: restore.damage,
    });
    if (restore.damage) this.options.log.warn("storage damage: this replica will not vote or lead until repaired by a leader", { group: id, ...restore.damage });
    const group = new RaftGroup(id, raft, fsm, restore.snapshot?.index ?? 0, { wake: () => this.schedule() }, this.options.log.child(`g${id}`));
    group.startedEmpty = restore.isEmpty;
    this.groups.set(id, group);
    this.schedule();
    return group;
  }

  /**
   * Stops hosting group `id` (its queue was deleted, or its replica here moved to other nodes)
   * and lets its data go: the WAL resets the group's log to empty, so its segments can be
   * deleted, and its snapshots are removed. The term and vote stay: if the group comes back here
   * (a placement moves it back), this replica starts empty as a joining member but can never
   * vote twice in a term it already voted in.
   */
  removeGroup(id: GroupId): void {
    const group = this.groups.get(id);
    if (group !== undefined) {
      group.stop(new SinkronError("NOT_FOUND", `group ${id} was deleted`, { group: id }));
      this.groups.delete(id);
    }
    this.dropStoredGroup(id);
  }

  /** Groups with state in storage that this host does not run (yet, or any more). */
  storedGroupIds(): GroupId[] {
    const ids = new Set([...this.wal!.groupIds(), ...this.snapshots!.groups()]);
    return [...ids].filter((id) => !this.groups.has(id));
  }

  private dropStoredGroup(id: GroupId): void {
    this.recovered.delete(id);
    const stored = this.wal!.group(id);
    // Buffered: it rides with the next sync. Until then a restart finds the group's log again
    // and drops it again.
    if (stored !== undefined && (stored.lastIndex > 0 || stored.compactedIndex > 0 || stored.hardState.commit > 0)) this.wal!.resetGroup(id);
    this.snapshots!.drop(id);
  }

  /** Groups whose data this host dropped and may create again (their term and vote are kept). */
  private isResetGroup(id: GroupId): boolean {
    const stored = this.wal!.group(id);
    return stored !== undefined && stored.lastIndex === 0 && stored.compactedIndex === 0;
  }

  /**
   * What the core restarts from: the newest snapshot and the WAL's log after it. A crash after a
   * snapshot was saved but before the WAL recorded the compaction leaves the snapshot ahead of
   * the log; the compaction is finished here (Raft §7: the suffix stays only if the log holds the
   * snapshot's own (index, term)).
   */
  private restoreState(id: GroupId) {
    // A group dropped earlier by this process comes back with only its term and vote.
    const live = this.recovered.has(id) || !this.isResetGroup(id) ? undefined : this.wal!.group(id);
    const stored = this.recovered.get(id) ?? (live === undefined ? undefined : { hardState: { ...live.hardState, commit: 0 }, compactedIndex: 0, compactedTerm: 0, entries: [], damage: null });
    this.recovered.delete(id); // recovered entries are views into segment buffers: don't pin them
    const saved = this.snapshots!.loadLatest(id);
    const snapshot = saved === null ? null : { ...saved.meta, data: saved.data };
    const compactedIndex = stored?.compactedIndex ?? 0;
    let entries = stored?.entries ?? [];
    const hardState = { ...(stored?.hardState ?? { term: 0, vote: null, commit: 0 }) };
    if ((snapshot?.index ?? 0) < compactedIndex) {
      throw new Error(
        `group ${id}: the newest readable snapshot (index ${snapshot?.index ?? 0}) is older than the log's compaction point (${compactedIndex}); ` +
          `the snapshot file was lost or damaged. Move ${this.options.dataDir} aside, start this node with --join and CLUSTER.ADD it again to rebuild it from its peers.`,
      );
    }
    if (snapshot !== null && snapshot.index > compactedIndex) {
      const at = entries.find((e) => e.index === snapshot.index);
      entries = at !== undefined && at.term === snapshot.term ? entries.filter((e) => e.index > snapshot.index) : [];
      this.wal!.markCompacted(id, snapshot.index, snapshot.term);
      // Made durable now at start-up; a group created while the node runs lets it ride with the
      // next loop's sync (until then a restart would just finish this compaction again).
      if (!this.wal!.isSyncInFlight) this.wal!.sync();
    } else if (snapshot !== null) {
      entries = entries.filter((e) => e.index > snapshot.index);
    }
    if (snapshot !== null) {
      hardState.term = Math.max(hardState.term, snapshot.term);
      hardState.commit = Math.max(hardState.commit, snapshot.index);
    }
    return { isEmpty: stored === undefined && snapshot === null, hardState, snapshot, entries, damage: stored?.damage ?? null };
  }

  start(): void {
    this.tickTimer = setInterval(() => {
      for (const group of this.groups.values()) group.raft.tick();
      this.syncPendingCommit();
      this.schedule();
    }, this.options.timing.tickMs);
  }

  step(message: Message): void {
    const group = this.groups.get(message.group);
    if (group === undefined) return; // a group this node does not (yet) host: Raft retries
    try {
      group.raft.step(message);
    } catch (error) {
      this.fatal(error);
    }
    this.schedule();
  }

  /**
   * A broken invariant in the core, or a storage write that failed (the WAL refuses all later
   * writes: no fsync retry), leaves this replica unable to go on safely. Stop the process
   * instead of living on as a node that answers but never commits; a supervisor restarts it
   * and recovery starts from what is durable.
   */
  private fatal(error: unknown): never {
    this.failStop(error);
    throw error;
  }

  /** fatal() for a promise callback: nothing up the stack could catch a rethrow. */
  private failStop(error: unknown): void {
    this.stopped = true;
    this.options.log.error("fatal: stopping the node", { error: error as Error, stack: (error as Error)?.stack });
    (this.options.onFatal ?? defaultOnFatal)(error);
  }

  stats(): RaftHostStats & { wal: ReturnType<Wal["stats"]> | null } {
    return { ...this.counters, wal: this.wal?.stats() ?? null };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.tickTimer) clearInterval(this.tickTimer);
    const error = new SinkronError("UNAVAILABLE", "the node is shutting down");
    for (const group of this.groups.values()) group.stop(error);
    await this.persisting?.catch(() => {});
    this.wal?.close();
    this.lock?.release();
  }

  /** Runs the ready loop at the end of this turn; many wake-ups in one turn share one loop. */
  schedule(): void {
    if (this.loopScheduled || this.stopped) return;
    this.loopScheduled = true;
    setImmediate(() => {
      this.loopScheduled = false;
      if (!this.stopped) this.runReady();
    });
  }

  private runReady(): void {
    try {
      this.runReadyOnce();
    } catch (error) {
      this.fatal(error);
    }
  }

  private runReadyOnce(): void {
    // One loop at a time: while a loop's fsync is in flight, messages, proposals and ticks keep
    // entering the cores (the Ready contract allows it) and leave with the next loop.
    if (this.persisting !== null) return;
    const batch: [RaftGroup, Ready][] = [];
    for (const group of this.groups.values()) if (group.raft.hasReady()) batch.push([group, group.raft.ready()]);
    if (batch.length === 0) return;
    this.counters.readyLoops++;
    // Thesis §10.2.1 (safety argued at isSendableBeforePersist): a leader's Appends go out first,
    // so the followers' writes overlap ours; whatever acknowledges state waits for the fsync.
    this.sendMessages(batch, true);
    const mustSync = this.persist(batch);
    // Committed entries are durable on a majority already, so they are applied now rather than
    // after this node's own fsync of the loop's new entries (etcd applies unstable committed
    // entries likewise): a leader answers its clients one fsync sooner under load.
    for (const [group, rd] of batch) this.applyReady(group, rd);
    if (!mustSync) {
      this.finishReady(batch);
      return;
    }
    // The fsync runs off the event loop: the sockets keep being read meanwhile, so the next
    // loop's batch grows while the disk works (group commit across loops).
    this.startSync(() => this.finishReady(batch));
  }

  /**
   * Starts the WAL's sync (one at a time) and runs `then` once everything buffered is durable.
   * A failure of either stops the node (fail-stop: no fsync retry).
   */
  private startSync(then: () => void): void {
    this.isCommitSyncPending = false;
    this.persisting = this.wal!.syncAsync().then(
      () => {
        this.persisting = null;
        this.counters.syncs++;
        if (this.stopped) return;
        try {
          then();
        } catch (error) {
          this.failStop(error);
        }
      },
      (error: unknown) => {
        this.persisting = null;
        this.failStop(error);
      },
    );
  }

  /** After the loop's writes are durable: send what acknowledges them, advance, snapshot. */
  private finishReady(batch: [RaftGroup, Ready][]): void {
    this.sendMessages(batch, false);
    for (const [group, rd] of batch) group.raft.advance(rd);
    // After advance: the core compacts only what it knows is applied.
    for (const [group] of batch) {
      if (this.isSnapshotDue(group)) this.takeSnapshot(group);
    }
    for (const group of this.groups.values()) {
      if (group.raft.hasReady()) {
        this.schedule();
        break;
      }
    }
  }

  /** Sends the batch's messages that may leave before the persist (`early`), or the others. */
  private sendMessages(batch: [RaftGroup, Ready][], early: boolean): void {
    const messages: Message[] = [];
    for (const [, rd] of batch) for (const m of rd.messages) if (isSendableBeforePersist(rd, m) === early) messages.push(m);
    if (messages.length === 0) return;
    this.counters.messagesSent += messages.length;
    this.options.send(messages);
  }

  /** Buffers the batch's writes in the WAL; true when they need a sync before anything is acknowledged. */
  private persist(batch: [RaftGroup, Ready][]): boolean {
    const wal = this.wal!;
    let mustSync = false;
    for (const [group, rd] of batch) {
      if (rd.snapshot) {
        // The snapshot file is durable before the WAL says the log before it is gone.
        this.snapshots!.save(group.id, { index: rd.snapshot.index, term: rd.snapshot.term, config: rd.snapshot.config }, rd.snapshot.data);
        wal.markCompacted(group.id, rd.snapshot.index, rd.snapshot.term);
        mustSync = true;
      }
      if (rd.entries.length > 0) {
        wal.appendEntries(group.id, rd.entries);
        this.counters.entriesPersisted += rd.entries.length;
        // A leader's new entries are its own proposals; the empty entry of a new term arrives in
        // the Ready that makes it leader (group.role is still the old role then) and is not one.
        if (group.role === "leader" && (rd.softState === undefined || rd.softState.role === "leader")) this.counters.proposals += rd.entries.length;
        mustSync = true;
      }
      if (rd.hardState) {
        wal.setHardState(group.id, rd.hardState);
        // A commit-only change acknowledges nothing: the commit index is volatile in Raft (a
        // restarted node learns it again; etcd's MustSync skips it too), so it rides with the
        // next sync, or the next tick's, instead of adding an fsync to every commit.
        if (rd.isTermOrVoteChanged) mustSync = true;
        else this.isCommitSyncPending = true;
      }
      if (rd.votingRestored) {
        // In the same sync as the entries that repaired the log, so a restart does not keep an
        // idle repaired replica from voting.
        wal.clearDamage(group.id);
        mustSync = true;
      }
    }
    return mustSync;
  }

  /** Once a tick: a buffered commit-only hard state reaches the disk within tickMs. */
  private syncPendingCommit(): void {
    // A sync in flight will be followed by a loop that writes it, or by the next tick.
    if (!this.isCommitSyncPending || this.stopped || this.persisting !== null) return;
    this.startSync(() => this.schedule());
  }

  private applyReady(group: RaftGroup, rd: Ready): void {
    if (rd.softState) {
      if (rd.softState.role === "candidate" && group.role !== "candidate") this.counters.elections++;
      if (rd.softState.leader !== null && rd.softState.leader !== group.leader) this.counters.leaderChanges++;
      if (rd.softState.role !== group.role || rd.softState.leader !== group.leader) {
        this.options.log.info("raft role", { group: group.id, role: rd.softState.role, term: rd.softState.term, leader: rd.softState.leader });
      }
      group.onSoftState(rd.softState);
    }
    if (rd.snapshot) {
      group.onSnapshotRestored(rd.snapshot.index, decodeValue(rd.snapshot.data));
      this.counters.snapshotsInstalled++;
    }
    for (const entry of rd.committed) group.apply(entry);
    this.counters.entriesApplied += rd.committed.length;
    if (rd.readStates.length > 0) group.onReadStates(rd.readStates);
    group.releaseReads();
    if (rd.votingRestored) this.options.log.info("storage damage repaired from the leader; voting again", { group: group.id });
  }

  private isSnapshotDue(group: RaftGroup): boolean {
    if (group.appliedIndex - group.snapshotIndex >= this.options.snapshotEntries) return true;
    const logBytesMin = this.options.snapshotLogBytes ?? SNAPSHOT_LOG_BYTES_DEFAULT;
    return group.appliedBytesSinceSnapshot >= Math.max(logBytesMin, 2 * group.lastSnapshotBytes);
  }

  private takeSnapshot(group: RaftGroup): void {
    const data = encodeValue(group.fsm.snapshot());
    group.lastSnapshotBytes = data.byteLength;
    group.appliedBytesSinceSnapshot = 0;
    const snapshot = group.raft.compact(group.appliedIndex, data);
    if (snapshot === null) return;
    this.snapshots!.save(group.id, { index: snapshot.index, term: snapshot.term, config: snapshot.config }, data);
    this.wal!.markCompacted(group.id, snapshot.index, snapshot.term);
    group.snapshotIndex = snapshot.index;
    this.counters.snapshotsTaken++;
  }
}
