// The deterministic simulation: N RaftNodes, a faulty network, a disk per node that loses what
// was not persisted, crashes and restarts, partitions, membership changes, compaction, leader
// transfers, client writes and ReadIndex reads — all drawn from one seed — with every safety
// checker run after every step and a liveness check once the faults heal.

import { RaftNode, type NodeId, type Ready, type RaftStatus } from "../../../src/raft/index.ts";
import { SafetyChecker, SimulationViolation, type ReadStart } from "./checker.ts";
import { SimDisk } from "./disk.ts";
import { SimEvents, seedFailure } from "./events.ts";
import { NodeFaults, drawFlowLimits, drawWeather, type FlowLimits, type Weather } from "./faults.ts";
import { HashFsm, commandData, entryKey } from "./fsm.ts";
import { SimNetwork } from "./network.ts";
import { Prng } from "./prng.ts";

export interface SimOptions {
  seed: number;
  foundingVoters: number;
  spareNodes: number;
  chaosSteps: number;
  livenessTicksMax: number;
  electionTicks: number;
  heartbeatTicks: number;
  /** Simulate restarts that find a corrupt record inside acknowledged data. */
  isDamageEnabled: boolean;
  /** Negative control: damage storage but do not tell the core (must be able to break safety). */
  isDamageHidden: boolean;
}

export const defaultSimOptions: Omit<SimOptions, "seed"> = {
  foundingVoters: 3,
  spareNodes: 2,
  chaosSteps: 2500,
  livenessTicksMax: 1000,
  electionTicks: 10,
  heartbeatTicks: 2,
  isDamageEnabled: true,
  isDamageHidden: false,
};

interface SimNode {
  id: NodeId;
  isFounder: boolean;
  disk: SimDisk;
  random: Prng;
  raft: RaftNode | null;
  fsm: HashFsm;
  incarnation: number;
  pending: { rd: Ready; persistAt: number } | null;
  downUntil: number;
  isRetired: boolean;
  /** Writes proposed by this incarnation, by index, until applied or lost. */
  writes: Map<number, { term: number; key: string }>;
  reads: Map<number, ReadStart>;
  readsAwaitingApply: { ctx: number; index: number; start: ReadStart }[];
  tickSkipRate: number;
}

interface FaultProfile extends Weather {
  proposeRate: number;
  readRate: number;
  confChangeRate: number;
  transferRate: number;
  compactRate: number;
  limits: FlowLimits;
}

export interface SimResult {
  seed: number;
  steps: number;
  leaders: number;
  writesAcked: number;
  readsCompleted: number;
  committedMax: number;
  livenessTicks: number;
  note: string;
  counts: Record<string, number>;
}

export class SimCluster {
  private readonly prng: Prng;
  private readonly opsPrng: Prng;
  private readonly faultPrng: Prng;
  readonly network: SimNetwork;
  readonly checker = new SafetyChecker();
  readonly nodes = new Map<NodeId, SimNode>();
  private readonly founders: NodeId[];
  private readonly profile: FaultProfile;
  private readonly faults: NodeFaults<SimNode>;
  now = 0;
  private writeSeq = 0;
  private readCtx = 0;
  readonly events = new SimEvents(() => this.now);

  constructor(readonly options: SimOptions) {
    this.prng = new Prng(options.seed);
    this.opsPrng = this.prng.fork();
    this.faultPrng = this.prng.fork();
    const networkPrng = this.prng.fork();
    this.profile = this.drawProfile(this.prng.fork());
    this.network = new SimNetwork(networkPrng, this.profile.network);
    this.founders = [];
    const total = options.foundingVoters + options.spareNodes;
    for (let i = 1; i <= total; i++) {
      const id = `n${i}`;
      const isFounder = i <= options.foundingVoters;
      if (isFounder) this.founders.push(id);
      this.nodes.set(id, {
        id,
        isFounder,
        disk: new SimDisk(),
        random: this.prng.fork(),
        raft: null,
        fsm: new HashFsm(),
        incarnation: 0,
        pending: null,
        downUntil: 0,
        isRetired: !isFounder,
        writes: new Map(),
        reads: new Map(),
        readsAwaitingApply: [],
        tickSkipRate: this.prng.next() * 0.05,
      });
    }
    const crashable = { isUp: (n: SimNode) => n.raft !== null, crash: (n: SimNode, downTicks: number) => this.crash(n, downTicks) };
    this.faults = new NodeFaults(this.profile, this.network, [...this.nodes.values()], crashable, this.events);
    for (const id of this.founders) this.start(this.node(id));
  }

  /** Each seed gets its own weather: some calm, some stormy. */
  private drawProfile(p: Prng): FaultProfile {
    const storm = p.next();
    return {
      ...drawWeather(p, storm),
      proposeRate: 0.2 + p.next() * 0.5,
      readRate: 0.05 + p.next() * 0.2,
      confChangeRate: p.next() * 0.02,
      transferRate: p.next() * 0.006,
      compactRate: p.next() * 0.03,
      limits: drawFlowLimits(p),
    };
  }

  private node(id: NodeId): SimNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  private live(): Map<NodeId, { node: RaftNode; incarnation: number }> {
    const out = new Map<NodeId, { node: RaftNode; incarnation: number }>();
    for (const n of this.nodes.values()) if (n.raft !== null) out.set(n.id, { node: n.raft, incarnation: n.incarnation });
    return out;
  }

  private start(n: SimNode): void {
    const disk = n.disk;
    const damage = this.options.isDamageHidden ? null : disk.damage;
    // Negative control: storage hides the damage completely, commit index included.
    if (this.options.isDamageHidden) disk.hardState.commit = Math.min(disk.hardState.commit, disk.lastIndex());
    n.raft = new RaftNode({
      id: n.id,
      group: 0,
      voters: n.isFounder ? this.founders : [],
      electionTicks: this.options.electionTicks,
      heartbeatTicks: this.options.heartbeatTicks,
      random: () => n.random.next(),
      ...this.profile.limits,
      ...(disk.isEmpty() ? {} : { restore: disk.restoreState() }),
      ...(damage === null ? {} : { votingDisabledUntil: damage }),
    });
    n.incarnation++;
    n.fsm = disk.snapshot === null ? new HashFsm() : HashFsm.decode(disk.snapshot.data);
    if (disk.snapshot !== null) this.checker.onSnapshotRestore(n.id, disk.snapshot, n.fsm);
    n.pending = null;
    n.writes.clear();
    n.reads.clear();
    n.readsAwaitingApply = [];
    this.events.log(`${n.id} start #${n.incarnation} term=${disk.hardState.term} last=${disk.lastIndex()}${damage === null ? "" : ` votingDisabledUntil=${damage.index}@${damage.term}`}`);
  }

  private crash(n: SimNode, downTicks: number): void {
    n.raft = null;
    n.pending = null;
    n.downUntil = this.now + downTicks;
  }

  // ---- one step ----

  step(isChaos: boolean): void {
    this.now++;
    if (isChaos) {
      this.faults.inject(this.faultPrng, this.now);
      this.clientOps();
    }
    this.restartDue(isChaos);
    if (!isChaos) this.maybeCompact(this.opsPrng);
    for (const n of this.nodes.values()) {
      if (n.raft !== null && !(isChaos && this.faultPrng.chance(n.tickSkipRate))) n.raft.tick();
    }
    for (const msg of this.network.due(this.now)) {
      const target = this.nodes.get(msg.to);
      if (target?.raft !== null && target !== undefined && target.raft !== null) target.raft.step(msg);
    }
    for (const n of this.nodes.values()) this.processReady(n);
    const live = this.live();
    this.checker.afterStep(live);
    if (this.now % 64 === 0) this.checkNewestLeaderRetains(live);
  }

  private checkNewestLeaderRetains(live: Map<NodeId, { node: RaftNode; incarnation: number }>): void {
    const leader = this.newestLeader();
    if (leader === null) return;
    const entry = live.get(leader.id);
    if (entry !== undefined) this.checker.checkCommittedRetained(new Map([[leader.id, entry]]));
  }

  private processReady(n: SimNode): void {
    for (let round = 0; round < 3 && n.raft !== null; round++) {
      const raft = n.raft;
      if (n.pending === null) {
        if (!raft.hasReady()) return;
        const rd = raft.ready();
        this.checker.onReady(n.id, rd, raft);
        if (rd.votingRestored === true) {
          this.events.count("votingRestored");
          this.events.log(`${n.id} voting restored`);
        }
        if (rd.softState !== undefined) {
          this.events.log(`${n.id} ${rd.softState.role} term=${rd.softState.term} leader=${rd.softState.leader ?? "-"}`);
        }
        n.pending = { rd, persistAt: this.faults.persistAt(this.faultPrng, this.now) };
      }
      if (this.now < n.pending.persistAt) return;
      const rd = n.pending.rd;
      n.pending = null;
      n.disk.persist(rd);
      for (const msg of rd.messages) this.network.send(msg, this.now);
      this.applyReady(n, rd);
      raft.advance(rd);
      this.serveReads(n);
    }
  }

  private applyReady(n: SimNode, rd: Ready): void {
    if (rd.snapshot !== undefined) {
      n.fsm = HashFsm.decode(rd.snapshot.data);
      this.checker.onSnapshotRestore(n.id, rd.snapshot, n.fsm);
      this.events.count("snapshotInstalled");
      this.events.log(`${n.id} installed snapshot ${rd.snapshot.index}@${rd.snapshot.term}`);
      for (const index of [...n.writes.keys()]) if (index <= rd.snapshot.index) n.writes.delete(index);
    }
    for (const entry of rd.committed) {
      n.fsm.apply(entry);
      this.checker.onApply(n.id, entry, n.fsm);
      const write = n.writes.get(entry.index);
      if (write !== undefined) {
        n.writes.delete(entry.index);
        if (write.term === entry.term) {
          if (write.key !== entryKey(entry)) throw new SimulationViolation(`${n.id}: entry ${entry.index}@${entry.term} is not the write proposed there`);
          this.checker.onWriteAcked(entry.index);
        }
      }
      if (entry.type === "config") this.events.count("configApplied");
      if (entry.type === "config") this.events.log(`${n.id} applied config ${entry.index}: ${entryKey(entry)}`);
    }
    for (const rs of rd.readStates) {
      const start = n.reads.get(rs.ctx);
      if (start === undefined) throw new SimulationViolation(`${n.id}: readState for unknown ctx ${rs.ctx}`);
      n.reads.delete(rs.ctx);
      this.checker.onReadState(n.id, rs.ctx, start, rs.index);
      n.readsAwaitingApply.push({ ctx: rs.ctx, index: rs.index, start });
    }
  }

  private serveReads(n: SimNode): void {
    if (n.readsAwaitingApply.length === 0) return;
    const waiting: typeof n.readsAwaitingApply = [];
    for (const read of n.readsAwaitingApply) {
      if (read.index <= n.fsm.index) this.checker.onReadServed(n.id, read.ctx, read.start, n.fsm.index);
      else waiting.push(read);
    }
    n.readsAwaitingApply = waiting;
  }

  // ---- faults ----

  private restartDue(isChaos: boolean): void {
    for (const n of this.nodes.values()) {
      if (n.raft !== null || n.isRetired || (isChaos && this.now < n.downUntil)) continue;
      if (isChaos && this.options.isDamageEnabled && this.faultPrng.chance(0.25)) this.maybeDamage(n);
      this.start(n);
    }
  }

  /** At most one damaged node, and only while a majority of at least three voters is intact. */
  private maybeDamage(n: SimNode): void {
    for (const other of this.nodes.values()) if (other.disk.damage !== null && other !== n) return;
    const leader = this.newestLeader();
    if (leader === null || leader.voters.length < 3) return;
    const marker = n.disk.damageTail(this.faultPrng.int(1, 6));
    if (marker !== null) this.events.count("damage");
    if (marker !== null) this.events.log(`${n.id} storage damaged: lost tail, must repair to ${marker.index}@${marker.term}`);
  }

  private newestLeader(): RaftStatus | null {
    let best: RaftStatus | null = null;
    for (const n of this.nodes.values()) {
      if (n.raft === null) continue;
      const s = n.raft.status();
      if (s.role === "leader" && (best === null || s.term > best.term)) best = s;
    }
    return best;
  }

  private leaders(): SimNode[] {
    return [...this.nodes.values()].filter((n) => n.raft !== null && n.raft.status().role === "leader");
  }

  // ---- client operations ----

  private clientOps(): void {
    const p = this.opsPrng;
    const leaders = this.leaders();
    if (leaders.length === 0) {
      this.maybeCompact(p);
      return;
    }
    const pickLeader = (): SimNode => p.pick(leaders);
    if (p.chance(this.profile.proposeRate)) {
      const burst = p.chance(0.2) ? p.int(2, 12) : 1;
      const n = pickLeader();
      for (let i = 0; i < burst; i++) this.proposeWrite(n);
    }
    if (p.chance(this.profile.readRate)) this.startRead(pickLeader());
    if (p.chance(this.profile.confChangeRate)) this.changeMembership(pickLeader(), p);
    if (p.chance(this.profile.transferRate)) {
      const n = pickLeader();
      const voters = n.raft?.status().voters.filter((id) => id !== n.id) ?? [];
      if (voters.length > 0) {
        const to = p.pick(voters);
        const result = n.raft?.transferLeadership(to);
        this.events.log(`${n.id} transfer to ${to}: ${JSON.stringify(result)}`);
        if (result?.ok === true) this.events.count("transfer");
      }
    }
    this.maybeCompact(p);
    this.maybeRetireRemoved(p);
  }

  private proposeWrite(n: SimNode): void {
    if (n.raft === null) return;
    const key = `w${++this.writeSeq}`;
    const result = n.raft.propose(commandData(key));
    if (result.ok) n.writes.set(result.index, { term: result.term, key: `normal:${key}` });
  }

  private startRead(n: SimNode): void {
    if (n.raft === null) return;
    const ctx = ++this.readCtx;
    const start = this.checker.readStart();
    if (n.raft.readIndex(ctx).ok) n.reads.set(ctx, start);
  }

  private changeMembership(n: SimNode, p: Prng): void {
    if (n.raft === null) return;
    const status = n.raft.status();
    const members = new Set([...status.voters, ...status.learners]);
    const outsiders = [...this.nodes.keys()].filter((id) => !members.has(id));
    const isAnyDamaged = [...this.nodes.values()].some((x) => x.disk.damage !== null);
    const choices: (() => void)[] = [];
    if (outsiders.length > 0) {
      choices.push(() => {
        const id = p.pick(outsiders);
        const result = n.raft?.proposeConfChange({ type: "addLearner", node: id });
        this.events.log(`${n.id} propose addLearner ${id}: ${JSON.stringify(result)}`);
        const target = this.node(id);
        if (result?.ok === true && target.raft === null) {
          target.isRetired = false;
          target.downUntil = this.now;
        }
      });
    }
    if (status.learners.length > 0 && status.voters.length < 5) {
      choices.push(() => {
        const id = p.pick(status.learners);
        const result = n.raft?.proposeConfChange({ type: "promote", node: id });
        this.events.log(`${n.id} propose promote ${id}: ${JSON.stringify(result)}`);
      });
    }
    if (!isAnyDamaged && members.size > 1) {
      choices.push(() => {
        const id = p.pick([...members]);
        const result = n.raft?.proposeConfChange({ type: "remove", node: id });
        this.events.log(`${n.id} propose remove ${id}: ${JSON.stringify(result)}`);
      });
    }
    if (choices.length > 0) p.pick(choices)();
  }

  private maybeCompact(p: Prng): void {
    if (!p.chance(this.profile.compactRate)) return;
    const candidates = [...this.nodes.values()].filter((n) => n.raft !== null && n.fsm.index > (n.disk.snapshot?.index ?? 0));
    if (candidates.length === 0) return;
    const n = p.pick(candidates);
    const snapshot = n.raft?.compact(n.fsm.index, n.fsm.encode()) ?? null;
    if (snapshot !== null) {
      n.disk.compact(snapshot);
      this.events.count("compact");
      this.events.log(`${n.id} compacted to ${snapshot.index}@${snapshot.term}`);
    }
  }

  /** Stop a node some time after a leader has committed its removal; its disk stays for a re-add. */
  private maybeRetireRemoved(p: Prng): void {
    if (!p.chance(0.02)) return;
    const leader = this.newestLeader();
    if (leader === null || leader.commitIndex < leader.lastIndex) return;
    const members = new Set([...leader.voters, ...leader.learners]);
    for (const n of this.nodes.values()) {
      if (n.raft !== null && !members.has(n.id)) {
        n.raft = null;
        n.pending = null;
        n.isRetired = true;
        this.events.count("retire");
        this.events.log(`${n.id} retired (removed from ${[...members].join(",")})`);
        return;
      }
    }
  }

  // ---- liveness ----

  /**
   * Heal everything, then require: a leader, and a fresh write applied on every live member of
   * its configuration, within livenessTicksMax.
   */
  checkLiveness(): { ticks: number; note: string } {
    this.faults.healAll();
    this.events.log("healed: FIFO links, no loss, no partitions, all nodes restarting");
    const startedAt = this.now;
    let probe: { node: SimNode; index: number; term: number } | null = null;
    while (this.now - startedAt < this.options.livenessTicksMax) {
      this.step(false);
      const leader = this.newestLeader();
      if (leader === null) continue;
      const leaderNode = this.node(leader.id);
      if (probe === null || probe.node !== leaderNode || probe.term !== leader.term || !this.isProbeAlive(probe)) {
        const result: ReturnType<RaftNode["propose"]> | undefined = leaderNode.raft?.propose(commandData(`probe-${this.now}`));
        if (result?.ok === true) {
          probe = { node: leaderNode, index: result.index, term: result.term };
          leaderNode.writes.set(result.index, { term: result.term, key: `normal:probe-${this.now}` });
        } else {
          probe = null;
        }
        continue;
      }
      const members = [...leader.voters, ...leader.learners];
      const probeIndex = probe.index;
      const isDone = members.every((id) => {
        const m = this.node(id);
        return m.raft !== null && m.fsm.index >= probeIndex;
      });
      if (isDone) return { ticks: this.now - startedAt, note: "" };
    }
    const damageNote = this.damageBlocksElections();
    if (damageNote !== null) return { ticks: this.now - startedAt, note: damageNote };
    throw new SimulationViolation(
      `liveness: no leader committed a write on all members within ${this.options.livenessTicksMax} ticks after healing`,
    );
  }

  private isProbeAlive(probe: { node: SimNode; index: number; term: number }): boolean {
    return probe.node.raft !== null && probe.node.raft.logTerm(probe.index) === probe.term;
  }

  /** A damaged node may not vote; if that leaves no intact majority, no election is possible. */
  private damageBlocksElections(): string | null {
    let widest: RaftStatus | null = null;
    for (const n of this.nodes.values()) {
      const s = n.raft?.status();
      if (s !== undefined && (widest === null || s.lastIndex > widest.lastIndex)) widest = s;
    }
    if (widest === null) return null;
    const intact = widest.voters.filter((id) => this.nodes.get(id)?.raft?.status().votingDisabled === false).length;
    if (intact < Math.floor(widest.voters.length / 2) + 1) return `liveness not expected: only ${intact} of ${widest.voters.length} voters may vote`;
    return null;
  }

  summary(livenessTicks: number, note: string): SimResult {
    return {
      seed: this.options.seed,
      steps: this.now,
      leaders: this.checker.leaderCount(),
      writesAcked: this.checker.writesAcked,
      readsCompleted: this.checker.readsCompleted,
      committedMax: this.checker.committedMax,
      livenessTicks,
      note,
      counts: this.events.counts,
    };
  }
}

/** Run one seed end to end; throws (with the seed and recent events) on any violation. */
export function runSeed(seed: number, overrides: Partial<Omit<SimOptions, "seed">> = {}): SimResult {
  // The cluster shape is a function of the seed too, so the replay command reproduces it exactly.
  const shape = { foundingVoters: seed % 3 === 0 ? 5 : 3 };
  const options: SimOptions = { ...defaultSimOptions, ...shape, ...overrides, seed };
  const cluster = new SimCluster(options);
  try {
    for (let i = 0; i < options.chaosSteps; i++) cluster.step(true);
    const liveness = cluster.checkLiveness();
    return cluster.summary(liveness.ticks, liveness.note);
  } catch (error) {
    throw seedFailure(error, `simulation seed ${seed} failed at step ${cluster.now}`, `SINKRON_SIM_SEED=${seed} bun test test/raft`, cluster.events);
  }
}
