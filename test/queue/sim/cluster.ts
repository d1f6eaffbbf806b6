// The queue simulation: simulated nodes each hosting a replica of one or more queue partition
// groups (Raft groups sharing the nodes, the network and the crashes, as on a real cluster),
// each replica a RaftNode driving CompositeStateMachine + PartitionMachine through log entries
// encoded by log-codec. Built from the Raft simulation's parts (test/raft/sim): its network
// (loss, duplication, reordering, one-way and flaky partitions), its disk (only persisted Readies
// survive a crash), its fault injection (weather, crashes, partitions, slow disks), its event log,
// its PRNG and its safety checker (one per group). Clients produce, consume, ack and nack;
// leaders stamp their own (skewed) clocks and propose q.tick as deadlines pass.
// After every step: the Raft checks, equal results and equal machine state for equal applied
// prefixes on every replica, the model in history.ts, and no acknowledged produce missing from
// a leader's state. At the end the faults heal, the cluster settles, drainers consume and ack
// until every partition is empty, and every acknowledged produce must have been delivered.

import { decodeValue, encodeValue } from "../../../src/protocol/msgpack.ts";
import type { PartitionConfig } from "../../../src/queue/partition-machine.ts";
import { isSendableBeforePersist, RaftNode, type Entry, type NodeId, type ProposeResult, type Ready, type ReportedRole, type Snapshot } from "../../../src/raft/index.ts";
import { decodeCommand, encodeCommand } from "../../../src/replication/log-codec.ts";
import type { CompositeStateMachine } from "../../../src/replication/state-machine-composite.ts";
import type { LogCommand } from "../../../src/replication/state-machine.ts";
import { SafetyChecker, SimulationViolation } from "../../raft/sim/checker.ts";
import { SimDisk } from "../../raft/sim/disk.ts";
import { SimEvents, seedFailure } from "../../raft/sim/events.ts";
import { NodeFaults, drawFlowLimits, drawWeather, type FlowLimits, type Weather } from "../../raft/sim/faults.ts";
import { SimNetwork } from "../../raft/sim/network.ts";
import { Prng } from "../../raft/sim/prng.ts";
import { SimClient, type ClientHost, type ClientProfile, type ProposeTarget, type Waiter } from "./clients.ts";
import { GroupHistory, snapshotSeqs, type HistoryCounts } from "./history.ts";
import { createGroupMachine, type MachineVariant, type QueueMachine } from "./machines.ts";

export interface QueueSimOptions {
  seed: number;
  chaosSteps: number;
  /** After healing: ticks allowed for clients to finish and drainers to empty every partition. */
  drainTicksMax: number;
  electionTicks: number;
  heartbeatTicks: number;
  /** Simulated wall-clock time per tick, for the leaders' nowMs stamps. */
  msPerTick: number;
  machine: MachineVariant;
  /** The model in history.ts; negative controls turn it off to test the end-to-end checks alone. */
  isModelEnabled: boolean;
  isLeaderStateChecked: boolean;
}

export const defaultQueueSimOptions: Omit<QueueSimOptions, "seed"> = {
  chaosSteps: 2000,
  drainTicksMax: 3000,
  electionTicks: 10,
  heartbeatTicks: 2,
  msPerTick: 10,
  machine: "real",
  isModelEnabled: true,
  isLeaderStateChecked: true,
};

interface Profile extends Weather {
  transferRate: number;
  compactRate: number;
  limits: FlowLimits;
  /** Leaders send Appends while their own write is in flight (thesis §10.2.1), as RaftHost does. */
  isEarlySend: boolean;
  clockSkewMaxMs: number;
  producers: number;
  consumers: number;
  clients: ClientProfile;
  config: PartitionConfig;
  dedupEntriesMax: number;
}

interface SimNode {
  readonly id: NodeId;
  isUp: boolean;
  incarnation: number;
  downUntil: number;
  /** This node's wall clock runs ahead of simulated time by this much. */
  readonly skewMs: number;
  readonly tickSkipRate: number;
  readonly replicas: Replica[];
}

interface Replica {
  readonly group: Group;
  readonly node: SimNode;
  readonly name: string;
  readonly random: Prng;
  readonly disk: SimDisk;
  raft: RaftNode | null;
  role: ReportedRole;
  fsm: CompositeStateMachine;
  machine: QueueMachine;
  applied: number;
  /** Chained hash of every applied entry and its result: equal on replicas at equal index. */
  chain: number;
  pending: { rd: Ready; persistAt: number; isSentEarly: boolean } | null;
  /** Proposals made here, by index, answered at apply (as RaftGroup does). */
  waiters: Map<number, { term: number; waiter: Waiter }>;
  isTickInFlight: boolean;
  /** Applied index at which the leader-state check last ran (-1: since restart). */
  checkedApplied: number;
  readonly target: ProposeTarget;
}

interface Group {
  readonly id: number;
  readonly voters: NodeId[];
  readonly replicas: Replica[];
  readonly checker: SafetyChecker;
  readonly history: GroupHistory;
  /** index -> crc32 of the partition machine's snapshot, first replica to reach it. */
  readonly stateDigests: Map<number, { digest: number; who: string }>;
  /** index -> crc32 of the whole composite snapshot (dedup table included), at compactions and restores. */
  readonly fullDigests: Map<number, { digest: number; who: string }>;
  /** index -> chain hash at a compaction, so a replica restored from that snapshot carries on the chain. */
  readonly chainAt: Map<number, number>;
}

export interface QueueSimResult {
  seed: number;
  nodes: number;
  groups: number;
  steps: number;
  drainTicks: number;
  history: HistoryCounts;
  counts: Record<string, number>;
}

const CHAIN_START = 0x811c9dc5;

export class QueueSimCluster implements ClientHost {
  private readonly prng: Prng;
  readonly opsPrng: Prng;
  private readonly faultPrng: Prng;
  private readonly network: SimNetwork;
  private readonly profile: Profile;
  private readonly nodes: SimNode[] = [];
  private readonly groups: Group[] = [];
  private readonly clients: SimClient[] = [];
  private readonly faults: NodeFaults<SimNode>;
  now = 0;
  readonly events = new SimEvents(() => this.now);

  constructor(readonly options: QueueSimOptions) {
    const seed = options.seed;
    this.prng = new Prng(seed);
    this.opsPrng = this.prng.fork();
    this.faultPrng = this.prng.fork();
    const networkPrng = this.prng.fork();
    // The shape is a function of the seed, so a replay rebuilds it exactly.
    const nodeCount = seed % 3 === 0 ? 5 : 3;
    const groupCount = 1 + (Math.floor(seed / 3) % 3);
    this.profile = this.drawProfile(this.prng.fork(), groupCount);
    this.network = new SimNetwork(networkPrng, this.profile.network);
    for (let i = 1; i <= nodeCount; i++) {
      this.nodes.push({
        id: `n${i}`,
        isUp: false,
        incarnation: 0,
        downUntil: 0,
        skewMs: this.prng.int(0, this.profile.clockSkewMaxMs),
        tickSkipRate: this.prng.next() * 0.05,
        replicas: [],
      });
    }
    const crashable = { isUp: (node: SimNode) => node.isUp, crash: (node: SimNode, downTicks: number) => this.crash(node, downTicks) };
    this.faults = new NodeFaults(this.profile, this.network, this.nodes, crashable, this.events);
    for (let g = 0; g < groupCount; g++) this.groups.push(this.createGroup(g));
    for (let i = 1; i <= this.profile.producers; i++) this.clients.push(new SimClient(`p${i}`, "producer", this.profile.clients));
    for (let i = 1; i <= this.profile.consumers; i++) this.clients.push(new SimClient(`c${i}`, "consumer", this.profile.clients));
    for (const node of this.nodes) this.start(node);
  }

  /** Each seed gets its own weather and workload. */
  private drawProfile(p: Prng, groups: number): Profile {
    const storm = p.next();
    const visibilityMinMs = p.pick([20, 100, 300]);
    return {
      ...drawWeather(p, storm),
      transferRate: p.next() * 0.006,
      compactRate: p.next() * 0.05,
      limits: drawFlowLimits(p),
      isEarlySend: p.chance(0.5),
      clockSkewMaxMs: p.pick([0, 50, 500]),
      producers: p.int(1, 3),
      consumers: p.int(1, 3),
      clients: {
        groups,
        timeoutTicks: p.int(15, 60),
        produceRate: 0.1 + p.next() * 0.3,
        consumeRate: 0.1 + p.next() * 0.3,
        ackRate: 0.4 + p.next() * 0.45,
        nackRate: p.next() * 0.2,
        nackDelayMaxMs: p.pick([50, 500, 2000]),
        visibilityMinMs,
        visibilityMaxMs: visibilityMinMs + p.pick([0, 200, 1500]),
        binaryBodyRate: p.pick([0, 0.2]),
      },
      config: {
        maxDeliveries: p.pick([1, 2, 3, 5]),
        limits: { messagesMax: p.pick([24, 200, 100_000]), bytesMax: p.pick([1500, 1_000_000]) },
      },
      dedupEntriesMax: p.pick([4, 64, 100_000]),
    };
  }

  /** Group ids start at 1 (0 is the metadata group); replicas rotate over the nodes, first preferred. */
  private createGroup(index: number): Group {
    const id = index + 1;
    const voters = [0, 1, 2].map((k) => this.nodes[(index + k) % this.nodes.length]!.id);
    const { isModelEnabled } = this.options;
    const group: Group = {
      id,
      voters,
      replicas: [],
      checker: new SafetyChecker(),
      history: new GroupHistory({ group: id, config: this.profile.config, dedupEntriesMax: this.profile.dedupEntriesMax, isModelEnabled }),
      stateDigests: new Map(),
      fullDigests: new Map(),
      chainAt: new Map(),
    };
    for (const nodeId of voters) {
      const node = this.nodes.find((n) => n.id === nodeId)!;
      const { fsm, machine } = createGroupMachine(this.options.machine, this.profile.config, this.profile.dedupEntriesMax);
      const replica: Replica = {
        group,
        node,
        name: `${nodeId}/g${id}`,
        random: this.prng.fork(),
        disk: new SimDisk(),
        raft: null,
        role: "follower",
        fsm,
        machine,
        applied: 0,
        chain: CHAIN_START,
        pending: null,
        waiters: new Map(),
        isTickInFlight: false,
        checkedApplied: -1,
        target: {
          name: `${nodeId}/g${id}`,
          clockMs: () => this.clockMs(node),
          propose: (command, waiter) => this.propose(replica, command, waiter),
        },
      };
      group.replicas.push(replica);
      node.replicas.push(replica);
    }
    return group;
  }

  // ---- ClientHost ----

  private group(id: number): Group {
    const group = this.groups[id - 1];
    if (group === undefined) throw new Error(`no group ${id}`);
    return group;
  }

  history(group: number): GroupHistory {
    return this.group(group).history;
  }

  pickLeader(group: number): ProposeTarget | null {
    const leaders = this.group(group).replicas.filter((r) => r.raft !== null && r.role === "leader");
    return leaders.length === 0 ? null : this.opsPrng.pick(leaders).target;
  }

  private clockMs(node: SimNode): number {
    return this.now * this.options.msPerTick + node.skewMs;
  }

  private propose(r: Replica, command: LogCommand, waiter: Waiter): ProposeResult {
    if (r.raft === null) return { ok: false, code: "NOT_LEADER", leader: null };
    const result = r.raft.propose(encodeCommand(command));
    if (!result.ok) return result;
    // A waiter still at this index belongs to an entry a newer leader's log replaced.
    const replaced = r.waiters.get(result.index);
    r.waiters.set(result.index, { term: result.term, waiter });
    if (replaced !== undefined) replaced.waiter.onFailed("its index was taken by a newer leader's entry");
    return result;
  }

  // ---- lifecycle ----

  private start(node: SimNode): void {
    node.isUp = true;
    node.incarnation++;
    for (const r of node.replicas) this.startReplica(r);
    this.events.log(`${node.id} start #${node.incarnation}`);
  }

  private startReplica(r: Replica): void {
    const disk = r.disk;
    const isEmpty = disk.isEmpty();
    r.raft = new RaftNode({
      id: r.node.id,
      group: r.group.id,
      voters: r.group.voters,
      electionTicks: this.options.electionTicks,
      heartbeatTicks: this.options.heartbeatTicks,
      random: () => r.random.next(),
      ...this.profile.limits,
      ...(isEmpty ? {} : { restore: disk.restoreState() }),
    });
    r.role = "follower";
    r.pending = null;
    r.waiters.clear();
    r.isTickInFlight = false;
    this.resetMachine(r, disk.snapshot);
    // A new partition's preferred replica campaigns at once (what LocalPartitions intends).
    if (isEmpty && r.group.voters[0] === r.node.id) r.raft.campaign();
  }

  private resetMachine(r: Replica, snapshot: Snapshot | null): void {
    const { fsm, machine } = createGroupMachine(this.options.machine, this.profile.config, this.profile.dedupEntriesMax);
    if (snapshot !== null) fsm.restore(decodeValue(snapshot.data));
    r.fsm = fsm;
    r.machine = machine;
    r.applied = snapshot?.index ?? 0;
    r.checkedApplied = -1;
    if (snapshot === null) {
      r.chain = CHAIN_START;
      return;
    }
    const chain = r.group.chainAt.get(snapshot.index);
    if (chain === undefined) throw new SimulationViolation(`${r.name}: snapshot at ${snapshot.index} that no replica compacted`);
    r.chain = chain;
    r.group.checker.onSnapshotRestore(r.node.id, snapshot, { index: r.applied, hash: r.chain });
    this.checkFullDigest(r);
    this.checkStateDigest(r);
  }

  private crash(node: SimNode, downTicks: number): void {
    node.isUp = false;
    node.downUntil = this.now + downTicks;
    // Unpersisted Readies and proposals waiting for answers die with the process.
    for (const r of node.replicas) {
      r.raft = null;
      r.pending = null;
      r.waiters.clear();
      r.isTickInFlight = false;
      r.role = "follower";
    }
  }

  private restartDue(isChaos: boolean): void {
    for (const node of this.nodes) if (!node.isUp && (!isChaos || this.now >= node.downUntil)) this.start(node);
  }

  // ---- one step ----

  step(isChaos: boolean): void {
    this.now++;
    if (isChaos) this.faults.inject(this.faultPrng, this.now);
    this.restartDue(isChaos);
    for (const client of this.clients) client.step(this);
    this.leaderDuties(isChaos);
    this.maybeCompact();
    for (const node of this.nodes) {
      if (!node.isUp || (isChaos && this.faultPrng.chance(node.tickSkipRate))) continue;
      for (const r of node.replicas) r.raft?.tick();
    }
    for (const msg of this.network.due(this.now)) {
      const node = this.nodes.find((n) => n.id === msg.to);
      if (node?.isUp !== true) continue;
      node.replicas.find((r) => r.group.id === msg.group)?.raft?.step(msg);
    }
    for (const node of this.nodes) for (const r of node.replicas) this.processReady(r);
    this.checkAfterStep();
  }

  private checkAfterStep(): void {
    for (const group of this.groups) {
      const live = new Map<NodeId, { node: RaftNode; incarnation: number }>();
      for (const r of group.replicas) if (r.raft !== null) live.set(r.node.id, { node: r.raft, incarnation: r.node.incarnation });
      group.checker.afterStep(live);
      if (this.now % 64 === 0) group.checker.checkCommittedRetained(live);
      if (!this.options.isLeaderStateChecked) continue;
      for (const r of group.replicas) {
        if (r.raft === null || r.role !== "leader" || r.checkedApplied === r.applied) continue;
        group.history.checkReplicaHolds(r.name, r.applied, snapshotSeqs(r.machine.snapshot()));
        r.checkedApplied = r.applied;
      }
    }
  }

  private processReady(r: Replica): void {
    for (let round = 0; round < 3 && r.raft !== null; round++) {
      const raft = r.raft;
      if (r.pending === null) {
        if (!raft.hasReady()) return;
        const rd = raft.ready();
        r.group.checker.onReady(r.node.id, rd, raft);
        if (rd.softState !== undefined) {
          r.role = rd.softState.role;
          this.events.log(`${r.name} ${rd.softState.role} term=${rd.softState.term} leader=${rd.softState.leader ?? "-"}`);
        }
        const isSentEarly = this.profile.isEarlySend;
        if (isSentEarly) for (const msg of rd.messages) if (isSendableBeforePersist(rd, msg)) this.network.send(msg, this.now);
        r.pending = { rd, persistAt: this.faults.persistAt(this.faultPrng, this.now), isSentEarly };
      }
      if (this.now < r.pending.persistAt) return;
      const { rd, isSentEarly } = r.pending;
      r.pending = null;
      r.disk.persist(rd);
      for (const msg of rd.messages) if (!isSentEarly || !isSendableBeforePersist(rd, msg)) this.network.send(msg, this.now);
      this.applyReady(r, rd);
      raft.advance(rd);
    }
  }

  private applyReady(r: Replica, rd: Ready): void {
    if (rd.snapshot !== undefined) this.installSnapshot(r, rd.snapshot);
    for (const entry of rd.committed) this.applyEntry(r, entry);
    if (rd.committed.length > 0) this.checkStateDigest(r);
  }

  private installSnapshot(r: Replica, snapshot: Snapshot): void {
    this.resetMachine(r, snapshot);
    // Proposals at or below the snapshot were decided by entries this replica will never apply.
    for (const [index, { waiter }] of [...r.waiters]) {
      if (index > snapshot.index) continue;
      r.waiters.delete(index);
      waiter.onFailed("caught up by snapshot; outcome unknown");
    }
    this.events.count("snapshotInstalled");
    this.events.log(`${r.name} installed snapshot ${snapshot.index}@${snapshot.term}`);
  }

  private applyEntry(r: Replica, entry: Entry): void {
    if (entry.index !== r.applied + 1) throw new SimulationViolation(`${r.name}: apply ${entry.index} after ${r.applied}`);
    let command: LogCommand | null = null;
    let result: unknown = null;
    if (entry.type === "normal") {
      command = decodeCommand(entry.data);
      result = r.fsm.apply(command, { index: entry.index, term: entry.term });
    }
    r.applied = entry.index;
    r.chain = Bun.hash.crc32(encodeValue(result), Bun.hash.crc32(entry.data, (r.chain ^ entry.term) >>> 0));
    r.group.checker.onApply(r.node.id, entry, { index: entry.index, hash: r.chain });
    r.group.history.onApplied(entry.index, command, result);
    const waiting = r.waiters.get(entry.index);
    if (waiting === undefined) return;
    r.waiters.delete(entry.index);
    if (waiting.term === entry.term) waiting.waiter.onApplied(result);
    else waiting.waiter.onFailed("another leader's entry committed at its index");
  }

  /** Replicas at the same applied index hold byte-identical partition state. */
  private checkStateDigest(r: Replica): void {
    r.machine.checkInvariants();
    const digest = Bun.hash.crc32(encodeValue(r.machine.snapshot()));
    const known = r.group.stateDigests.get(r.applied);
    if (known === undefined) r.group.stateDigests.set(r.applied, { digest, who: r.name });
    else if (known.digest !== digest) {
      throw new SimulationViolation(`replica state: ${r.name} at applied ${r.applied} has partition state ${digest}, ${known.who} had ${known.digest} there`);
    }
  }

  /** The same for the whole composite (dedup table included), checked where snapshots are taken or restored. */
  private checkFullDigest(r: Replica): number {
    const data = encodeValue(r.fsm.snapshot());
    const digest = Bun.hash.crc32(data);
    const known = r.group.fullDigests.get(r.applied);
    if (known === undefined) r.group.fullDigests.set(r.applied, { digest, who: r.name });
    else if (known.digest !== digest) {
      throw new SimulationViolation(`replica state: ${r.name} at applied ${r.applied} has composite snapshot ${digest}, ${known.who} had ${known.digest} there`);
    }
    return digest;
  }

  // ---- leaders' own work ----

  private leaderDuties(isChaos: boolean): void {
    for (const group of this.groups) {
      for (const r of group.replicas) {
        if (r.raft === null || r.role !== "leader") continue;
        this.maybeProposeTick(r);
        if (isChaos && this.faultPrng.chance(this.profile.transferRate)) {
          const to = this.faultPrng.pick(group.voters.filter((id) => id !== r.node.id));
          const result = r.raft.transferLeadership(to);
          this.events.log(`${r.name} transfer to ${to}: ${JSON.stringify(result)}`);
          if (result.ok) this.events.count("transfer");
        }
      }
    }
  }

  /** As LocalPartitions: one q.tick in flight per leader, stamped with its clock, once a deadline passed. */
  private maybeProposeTick(r: Replica): void {
    const due = r.machine.nextDueMs();
    const nowMs = this.clockMs(r.node);
    if (due === null || due > nowMs || r.isTickInFlight) return;
    const done = (): void => {
      r.isTickInFlight = false;
    };
    const result = this.propose(r, { op: "q.tick", args: { nowMs }, rid: null }, { onApplied: done, onFailed: done });
    if (result.ok) {
      r.isTickInFlight = true;
      this.events.count("tickProposed");
    }
  }

  private maybeCompact(): void {
    if (!this.faultPrng.chance(this.profile.compactRate)) return;
    const candidates = this.groups.flatMap((g) => g.replicas).filter((r) => r.raft !== null && r.applied > (r.disk.snapshot?.index ?? 0));
    if (candidates.length === 0) return;
    const r = this.faultPrng.pick(candidates);
    const snapshot = r.raft?.compact(r.applied, encodeValue(r.fsm.snapshot())) ?? null;
    if (snapshot === null) return;
    r.disk.compact(snapshot);
    r.group.chainAt.set(snapshot.index, r.chain);
    this.checkFullDigest(r);
    this.events.count("compact");
    this.events.log(`${r.name} compacted to ${snapshot.index}@${snapshot.term}`);
  }

  // ---- the end: heal, settle, drain ----

  /**
   * Heal everything (FIFO links, no loss, every node up), stop the chaos clients from inventing
   * work (they still finish and retry what they started), and run one drainer per group that
   * consumes both lanes and acks everything, until every client is idle and every group has a
   * leader that applied its whole log, holds no message, and every replica caught up with it.
   */
  drain(): number {
    this.faults.healAll();
    for (const client of this.clients) client.isGenerating = false;
    for (const group of this.groups) this.clients.push(new SimClient(`d${group.id}`, "drainer", this.profile.clients, group.id));
    this.events.log("healed: FIFO links, no loss, no partitions, all nodes restarting; draining");
    const startedAt = this.now;
    while (this.now - startedAt < this.options.drainTicksMax) {
      this.step(false);
      if (this.isDrained()) {
        this.finalChecks();
        return this.now - startedAt;
      }
    }
    const stuck = this.clients.filter((c) => !c.isIdle).map((c) => c.describe());
    const groups = this.groups.map((g) => {
      const states = g.replicas.map((r) => `${r.name} ${r.role} applied=${r.applied} messages=${r.machine.messages} next=${r.machine.nextDueMs() ?? "-"}`);
      return `g${g.id}: ${states.join("; ")}`;
    });
    throw new SimulationViolation(
      `drain: not empty within ${this.options.drainTicksMax} ticks after healing\n  busy clients: ${stuck.join(" | ") || "none"}\n  ${groups.join("\n  ")}`,
    );
  }

  private isDrained(): boolean {
    if (!this.clients.every((c) => c.isIdle)) return false;
    for (const group of this.groups) {
      let leader: Replica | null = null;
      for (const r of group.replicas) {
        if (r.raft !== null && r.role === "leader" && (leader === null || r.raft.status().term > leader.raft!.status().term)) leader = r;
      }
      if (leader === null || leader.machine.messages !== 0 || leader.applied !== leader.raft!.status().lastIndex) return false;
      if (group.replicas.some((r) => r.raft === null || r.applied !== leader.applied)) return false;
    }
    return true;
  }

  private finalChecks(): void {
    for (const group of this.groups) {
      group.history.checkAllAcknowledgedDelivered();
      for (const r of group.replicas) group.history.checkReplicaHolds(r.name, r.applied, snapshotSeqs(r.machine.snapshot()));
      if (this.options.isModelEnabled && group.history.liveCount !== 0) {
        throw new SimulationViolation(`model: group ${group.id} drained, but the model still holds ${group.history.liveCount} message(s)`);
      }
    }
  }

  summary(drainTicks: number): QueueSimResult {
    const history: HistoryCounts = { produced: 0, acknowledged: 0, refused: 0, deliveries: 0, redeliveries: 0, acked: 0, nacked: 0, expired: 0, deadLettered: 0, dedupHits: 0 };
    for (const group of this.groups) for (const key of Object.keys(history) as (keyof HistoryCounts)[]) history[key] += group.history.counts[key];
    return { seed: this.options.seed, nodes: this.nodes.length, groups: this.groups.length, steps: this.now, drainTicks, history, counts: this.events.counts };
  }
}

/** Run one seed end to end; throws (with the seed, its replay command and recent events) on any violation. */
export function runQueueSeed(seed: number, overrides: Partial<Omit<QueueSimOptions, "seed">> = {}): QueueSimResult {
  const options: QueueSimOptions = { ...defaultQueueSimOptions, ...overrides, seed };
  const cluster = new QueueSimCluster(options);
  try {
    for (let i = 0; i < options.chaosSteps; i++) cluster.step(true);
    return cluster.summary(cluster.drain());
  } catch (error) {
    const steps = options.chaosSteps === defaultQueueSimOptions.chaosSteps ? "" : `SINKRON_QUEUE_SIM_STEPS=${options.chaosSteps} `;
    const replay = `${steps}SINKRON_QUEUE_SIM_SEED=${seed} bun test test/queue/simulation.test.ts`;
    const variant = options.machine === "real" ? "" : ` (negative control: ${options.machine})`;
    throw seedFailure(error, `queue simulation seed ${seed}${variant} failed at step ${cluster.now}`, replay, cluster.events);
  }
}
