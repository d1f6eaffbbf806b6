// A hand-driven cluster for transcript-style scenario tests (etcd's testdata spirit): messages are
// delivered only when the test says so, every delivery is written to a transcript line, and each
// node persists its Ready to an in-memory disk before its messages leave.

import { RaftNode, type Message, type NodeId, type RaftConfig, type Ready, type Entry } from "../../../src/raft/index.ts";
import { SimDisk } from "../sim/disk.ts";
import { Prng } from "../sim/prng.ts";

export interface HarnessNode {
  id: NodeId;
  raft: RaftNode;
  disk: SimDisk;
  applied: Entry[];
  readStates: { ctx: number; index: number }[];
  votingRestoredReadies: number;
}

export const electionTicks = 10;
export const heartbeatTicks = 1;

export function describeMessage(m: Message): string {
  const head = `${m.from}->${m.to} ${m.type} t${m.term}`;
  switch (m.type) {
    case "PreVote":
    case "Vote":
      return `${head} last=${m.lastIndex}@${m.lastTerm}`;
    case "PreVoteResp":
    case "VoteResp":
      return `${head}${m.reject ? " reject" : ""}`;
    case "Append":
      return `${head} prev=${m.prevIndex}@${m.prevTerm} entries=[${m.entries.map((e) => `${e.index}@${e.term}`).join(",")}] commit=${m.commit}`;
    case "AppendResp":
      return m.reject ? `${head} reject index=${m.index} hint=${m.hintIndex}@${m.hintTerm}` : `${head} index=${m.index}`;
    case "Heartbeat":
      return `${head} commit=${m.commit} ctx=${m.ctx}`;
    case "HeartbeatResp":
      return `${head} ctx=${m.ctx}`;
    case "Snapshot":
      return `${head} snapshot=${m.snapshot.index}@${m.snapshot.term}`;
    case "TimeoutNow":
      return head;
  }
}

export class Harness {
  readonly nodes = new Map<NodeId, HarnessNode>();
  private mailbox: Message[] = [];
  private readonly cut = new Set<string>();
  transcript: string[] = [];
  private readonly prng = new Prng(7);
  readonly voters: NodeId[];

  constructor(voters: NodeId[], extra: Partial<RaftConfig> = {}) {
    this.voters = voters;
    for (const id of voters) this.add(id, { voters, ...extra });
  }

  add(id: NodeId, extra: Partial<RaftConfig> = {}, disk = new SimDisk()): HarnessNode {
    const random = this.prng.fork();
    const isEmpty = disk.hardState.term === 0 && disk.snapshot === null && disk.entries.length === 0;
    const raft = new RaftNode({
      id,
      group: 0,
      voters: [],
      electionTicks,
      heartbeatTicks,
      random: () => random.next(),
      ...(isEmpty ? {} : { restore: disk.restoreState() }),
      ...extra,
    });
    const node: HarnessNode = { id, raft, disk, applied: [], readStates: [], votingRestoredReadies: 0 };
    this.nodes.set(id, node);
    return node;
  }

  /** Stop a node, keeping only what it persisted, and start it again (optionally with extra config). */
  restart(id: NodeId, extra: Partial<RaftConfig> = {}): HarnessNode {
    const old = this.node(id);
    this.mailbox = this.mailbox.filter((m) => m.to !== id && m.from !== id);
    return this.add(id, { voters: this.voters, ...extra }, old.disk);
  }

  node(id: NodeId): HarnessNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  raft(id: NodeId): RaftNode {
    return this.node(id).raft;
  }

  isolate(id: NodeId): void {
    for (const other of this.nodes.keys()) {
      if (other === id) continue;
      this.cut.add(`${id}>${other}`);
      this.cut.add(`${other}>${id}`);
    }
  }

  cutLink(from: NodeId, to: NodeId): void {
    this.cut.add(`${from}>${to}`);
  }

  heal(): void {
    this.cut.clear();
  }

  /** Persist every node's Ready, queue its messages, apply what committed. */
  flushReadies(): void {
    for (const node of this.nodes.values()) {
      while (node.raft.hasReady()) {
        const rd: Ready = node.raft.ready();
        node.disk.persist(rd);
        this.mailbox.push(...rd.messages);
        if (rd.snapshot !== undefined) node.applied = [];
        node.applied.push(...rd.committed);
        node.readStates.push(...rd.readStates);
        if (rd.votingRestored === true) node.votingRestoredReadies++;
        node.raft.advance(rd);
      }
    }
  }

  /** Deliver queued messages (dropping cut links and those `filter` rejects) until the cluster is quiet. */
  stabilize(filter: (m: Message) => boolean = () => true, roundsMax = 100): void {
    for (let round = 0; round < roundsMax; round++) {
      this.flushReadies();
      if (this.mailbox.length === 0) return;
      const batch = this.mailbox;
      this.mailbox = [];
      for (const m of batch) {
        const target = this.nodes.get(m.to);
        if (target === undefined || this.cut.has(`${m.from}>${m.to}`) || !filter(m)) {
          this.transcript.push(`${describeMessage(m)} (dropped)`);
          continue;
        }
        this.transcript.push(describeMessage(m));
        target.raft.step(m);
      }
    }
    throw new Error("cluster did not become quiet");
  }

  tick(id: NodeId, count = 1): void {
    for (let i = 0; i < count; i++) this.raft(id).tick();
  }

  tickAll(count = 1): void {
    for (let i = 0; i < count; i++) {
      for (const node of this.nodes.values()) node.raft.tick();
      this.stabilize();
    }
  }

  /** Transcript lines since the last call, then clear. */
  take(): string[] {
    const lines = this.transcript;
    this.transcript = [];
    return lines;
  }

  elect(id: NodeId): void {
    this.raft(id).campaign();
    this.stabilize();
    if (this.raft(id).status().role !== "leader") throw new Error(`${id} did not win: ${JSON.stringify(this.raft(id).status())}`);
    this.take();
  }

  propose(id: NodeId, text: string): { index: number; term: number } {
    const result = this.raft(id).propose(new TextEncoder().encode(text));
    if (!result.ok) throw new Error(`propose at ${id} failed: ${JSON.stringify(result)}`);
    return { index: result.index, term: result.term };
  }

  /** index@term for every entry of `id`'s persisted log. */
  logOf(id: NodeId): string {
    return this.node(id).disk.entries.map((e) => `${e.index}@${e.term}`).join(" ");
  }
}
