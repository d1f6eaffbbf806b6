// Q.* on any node. A queue's partitions are Raft groups of their own (placed by the catalog in
// group 0); this service turns client commands into partition proposals, merges the ones that
// meet at one partition into few log entries (KeyedBatcher), and answers a client once its
// operation is committed by a majority of the partition's replicas and applied. Consumes take
// from every partition, long-polling on the local replicas' "ready" signals (or a replica's,
// for partitions this node does not host); time-based changes are proposed by each partition's
// leader (LocalPartitions), so a leader change neither loses an in-flight message nor
// redelivers it early.
import { randomBytes } from "node:crypto";
import {
  DEAD_LETTER_SUFFIX,
  Q_ACK,
  Q_CONSUME,
  Q_CREATE,
  Q_DELETE,
  Q_INFO,
  Q_NACK,
  Q_PARTITION,
  Q_PRODUCE,
  QUEUE_MAX_DELIVERIES_DEFAULT,
  QUEUE_VISIBILITY_MS_DEFAULT,
} from "../protocol/commands.ts";
import { SinkronError } from "../protocol/errors.ts";
import type { LeaderRouter } from "../replication/leader-router.ts";
import type { RaftGroup } from "../replication/raft-group.ts";
import type { RaftHost } from "../replication/raft-host.ts";
import { requirePeer, type CommandContext, type CommandRegistry } from "../server/registry.ts";
import type { PeerTransport } from "../transport/peer-transport.ts";
import type { Logger } from "../util/log.ts";
import { KeyedBatcher } from "../util/keyed-batcher.ts";
import type { CreateQueueOp, CreateQueueResult, PartitionDescriptor, QueueCatalog, QueueDescriptor } from "./catalog-machine.ts";
import type { QueueLimits } from "./limits.ts";
import { LocalPartitions, type LedQueueStats, type LocalPartition } from "./local-partitions.ts";
import { formatMessageId, parseMessageId } from "./message-id.ts";
import type { Delivery, Lane, LaneStats, MessageBody } from "./partition-machine.ts";
import { placePartitions } from "./placement.ts";
import { PartitionRouter } from "./partition-router.ts";
import { laneKey, ReadyWaits } from "./ready-waits.ts";
import { QueueRebalancer } from "./rebalancer.ts";

export interface QueueServiceOptions {
  selfId: string;
  host: RaftHost;
  /** The metadata group holding the catalog. */
  group0: RaftGroup;
  catalog: QueueCatalog;
  router: LeaderRouter;
  transport: PeerTransport;
  limits: QueueLimits;
  log: Logger;
  tickMs: number;
  leaderWaitMs: number;
}

export const DEFAULT_PARTITIONS_PER_NODE = 2;
export const DEFAULT_REPLICAS = 3;

/** A delivery as clients see it. */
export interface ClientDelivery {
  id: string;
  body: MessageBody;
  key: string | null;
  deliveries: number;
}


/** Pause before a long-poll tries again after a partition could not be reached. */
const CONSUME_RETRY_PAUSE_MS = 50;

/** One consume plan in this many ignores partition leadership (see planConsume). */
const LOCAL_FIRST_PERIOD = 4;

/** How long a remote replica's ready count is trusted for planning a consume. */
const REMOTE_READY_HINT_MS = 1_000;

/** `members` (voters and learners of the group, as that replica sees them) and `role` help retire moved replicas. */
type PartitionStatsReply = { leader: string | null; lanes: [LaneStats, LaneStats]; role?: string; members?: string[] };

export class QueueService {
  private readonly partitions: LocalPartitions;
  private readonly partitionRouter: PartitionRouter;
  private readonly ridPrefix = `${randomBytes(4).toString("hex")}`;
  private ridSeq = 0;
  private produceCursor = 0;
  private consumeCursor = 0;
  private consumePlans = 0;
  private readonly waits: ReadyWaits;
  private readonly rebalancer: QueueRebalancer;
  /** Ready counts other nodes' replicas last reported for partitions not hosted here. */
  private readonly remoteReady = new Map<string, { ready: number; atMs: number }>();
  /** Produces with a key: one batch in flight per partition, so their order holds. */
  private readonly keyedProduceBatcher: KeyedBatcher<number, [MessageBody, string | null], number>;
  private readonly produceBatcher: KeyedBatcher<number, [MessageBody, string | null], number>;
  private readonly ackBatcher: KeyedBatcher<string, number, boolean>;
  private readonly consumeBatcher: KeyedBatcher<string, [number, number], Delivery[]>;

  constructor(private readonly options: QueueServiceOptions) {
    const { limits } = options;
    this.partitionRouter = new PartitionRouter({ selfId: options.selfId, host: options.host, transport: options.transport, leaderWaitMs: options.leaderWaitMs });
    this.partitions = new LocalPartitions({
      selfId: options.selfId,
      host: options.host,
      catalog: options.catalog,
      limits,
      log: options.log,
      tickMs: options.tickMs,
      onReady: (group, lane) => this.waits.wake(group, lane),
      onCatalogChanged: () => this.waits.catalogChanged(),
      leaderMembers: (group, replicas) => this.leaderMembers(group, replicas),
    });
    this.waits = new ReadyWaits({
      waitersMax: limits.waitersMax,
      isHosted: (group) => this.partitions.get(group) !== undefined,
      waitRemote: (partition, lane, deadlineMs, signal) => this.waitRemote(partition, lane, deadlineMs, signal),
    });
    this.rebalancer = new QueueRebalancer({
      group0: options.group0,
      catalog: options.catalog,
      log: options.log,
      leaderMembers: (group, replicas) => this.leaderMembers(group, replicas),
    });
    const ordered = { itemsMax: limits.batchItemsMax, weightMax: limits.batchBytesMax, backlogMax: limits.backlogMax, inFlightMax: 1 };
    const unordered = { ...ordered, inFlightMax: limits.batchesInFlightMax };
    this.keyedProduceBatcher = new KeyedBatcher(ordered, (group, messages) => this.flushProduce(group, messages));
    this.produceBatcher = new KeyedBatcher(unordered, (group, messages) => this.flushProduce(group, messages));
    this.ackBatcher = new KeyedBatcher(unordered, (key, seqs) => this.flushAck(key, seqs));
    this.consumeBatcher = new KeyedBatcher(unordered, (key, requests) => this.flushConsume(key, requests));
  }

  register(registry: CommandRegistry): void {
    registry.register(Q_PRODUCE, (args) => this.produce(args.queue, args.body, args.key ?? null));
    registry.register(Q_CONSUME, (args, ctx) => this.consume(args.queue, args.max ?? 1, args.waitMs ?? 0, args.visibilityMs ?? QUEUE_VISIBILITY_MS_DEFAULT, ctx));
    registry.register(Q_ACK, (args, ctx) => this.withQueue(ctx, Q_ACK.name, args, args.queue, () => this.ack(args.queue, args.id)));
    registry.register(Q_NACK, (args, ctx) => this.withQueue(ctx, Q_NACK.name, args, args.queue, () => this.nack(args.queue, args.id, args.delayMs ?? 0)));
    registry.register(Q_CREATE, async (args, ctx) => {
      // Runs on group 0's leader (forwarded when this node does not lead it).
      const result = await this.options.router.run(this.options.group0, ctx, Q_CREATE.name, args, () => this.createOnLeader(args).then(summarize), true);
      // Answer once this node's catalog knows the queue, so the caller's next command finds it here.
      await this.waitForCatalog(args.queue);
      return result;
    });
    registry.register(Q_INFO, (args, ctx) => this.withQueue(ctx, Q_INFO.name, args, args.queue, () => this.info(args.queue)));
    registry.register(Q_DELETE, (args, ctx) => {
      refuseDeadLetterName(args.queue, "deleted on its own: Q.DELETE its queue");
      return this.options.router.run(this.options.group0, ctx, Q_DELETE.name, args, () => this.options.group0.propose({ op: "queue.delete", args: { queue: args.queue }, rid: null }), true);
    });
    registry.register(Q_PARTITION, (args, ctx) => {
      requirePeer(ctx, Q_PARTITION.name);
      return this.partitionStats(args.group, args.lane as Lane, args.waitMs ?? 0, ctx);
    });
  }

  start(): void {
    this.partitions.start();
    this.rebalancer.start();
  }

  /** CLUSTER.REMOVE's first step: move every queue partition off `id` (see QueueRebalancer). */
  drain(id: string): Promise<void> {
    return this.rebalancer.drain(id);
  }

  /**
   * Runs `run` here when this node's catalog knows the queue. Otherwise this node may just not
   * have applied its creation yet (it was created through another node a moment ago): group 0's
   * leader, after confirming its leadership, has the final word (NOT_FOUND, or the answer).
   */
  private withQueue<T>(ctx: CommandContext, command: string, args: Record<string, unknown>, name: string, run: () => Promise<T>): Promise<T> {
    if (this.options.catalog.get(laneOf(name).base) !== undefined) return run();
    const { router, group0 } = this.options;
    return router.run(group0, ctx, command, args, async () => {
      await group0.readBarrier();
      return run();
    }, false);
  }

  stop(): void {
    this.rebalancer.stop();
    this.partitions.stop();
    this.waits.stop();
  }

  // ------------------------------------------------------------------ produce

  private async produce(name: string, body: MessageBody, key: string | null): Promise<{ id: string }> {
    refuseDeadLetterName(name, "written to only by dead-lettering");
    const queue = this.options.catalog.get(name) ?? (await this.createWithDefaults(name));
    const partition = key === null ? this.pickKeylessPartition(queue) : queue.partitions[Bun.hash.crc32(key) % queue.partitions.length]!;
    const weight = bodyBytes(body) + (key === null ? 0 : key.length);
    const seq = await (key === null ? this.produceBatcher : this.keyedProduceBatcher).add(partition.group, [body, key], weight);
    return { id: formatMessageId(partition.group, seq) };
  }

  /**
   * A keyless message may go to any partition: round-robin over the partitions this node leads
   * (no forwarding hop; with clients on every node, every partition gets its share), or over all
   * of them when it leads none.
   */
  private pickKeylessPartition(queue: QueueDescriptor): PartitionDescriptor {
    const cursor = this.produceCursor++;
    const count = queue.partitions.length;
    for (let i = 0; i < count; i++) {
      const partition = queue.partitions[(cursor + i) % count]!;
      if (this.partitions.get(partition.group)?.group.isLeader === true) return partition;
    }
    return queue.partitions[cursor % count]!;
  }

  private async flushProduce(group: number, messages: [MessageBody, string | null][]): Promise<number[]> {
    const partition = this.partitionOrGone(group);
    const result = (await this.partitionRouter.propose(partition, { op: "q.produce", args: { messages }, rid: this.nextRid() }, true)) as { first: number };
    return messages.map((_, i) => result.first + i);
  }

  // ------------------------------------------------------------------ consume

  private async consume(name: string, max: number, waitMs: number, visibilityMs: number, ctx: CommandContext): Promise<ClientDelivery[]> {
    const { lane, base } = laneOf(name);
    const deadlineMs = performance.now() + waitMs;
    for (;;) {
      const queue = this.options.catalog.get(base);
      // Messages that become ready while this round runs must wake the wait that follows it.
      const epoch = this.waits.epoch;
      if (queue !== undefined) {
        try {
          const got = await this.consumeOnce(queue, lane, max, visibilityMs);
          if (got.length > 0) return got;
        } catch (error) {
          // A partition's leader died or moved under a long-poll: keep waiting (whatever that
          // consume may have taken comes back after its visibility timeout). A consume that
          // must answer now reports it.
          if (!isTransient(error) || performance.now() + CONSUME_RETRY_PAUSE_MS >= deadlineMs) throw error;
          await Bun.sleep(CONSUME_RETRY_PAUSE_MS);
          continue;
        }
      }
      if (performance.now() >= deadlineMs || ctx.connection.closeSignal.aborted) {
        // This node's replicas may lag their leaders: before answering "nothing", ask the leaders
        // (no log entry), so a consume right after an acknowledged produce finds the message —
        // also when the produce created the queue and this node has not applied that yet.
        if (queue === undefined) return this.consumeUnknownQueue(name, max, visibilityMs, ctx);
        return this.consumeOnce(queue, lane, max, visibilityMs, await this.leaderReadyCounts(queue, lane));
      }
      await this.waits.wait(queue?.partitions ?? [], lane, deadlineMs, ctx.connection.closeSignal, epoch);
    }
  }

  /** A last look for a queue this node does not know: group 0's leader has the final word. */
  private async consumeUnknownQueue(name: string, max: number, visibilityMs: number, ctx: CommandContext): Promise<ClientDelivery[]> {
    const { lane, base } = laneOf(name);
    const { router, group0, catalog } = this.options;
    const args = { queue: name, max, visibilityMs, waitMs: 0 };
    return router.run(group0, ctx, Q_CONSUME.name, args, async () => {
      await group0.readBarrier();
      const queue = catalog.get(base);
      return queue === undefined ? [] : this.consumeOnce(queue, lane, max, visibilityMs, await this.leaderReadyCounts(queue, lane));
    }, false).catch((error: unknown) => {
      // Not knowing is the answer "nothing yet" for a queue that may never have existed.
      if (error instanceof SinkronError && (error.code === "NOT_LEADER" || error.code === "UNAVAILABLE")) return [];
      throw error;
    });
  }

  /** Ready counts of the partitions this node does not lead, as their leaders see them now. */
  private async leaderReadyCounts(queue: QueueDescriptor, lane: Lane): Promise<Map<number, number>> {
    const counts = new Map<number, number>();
    await Promise.all(
      queue.partitions.map(async (partition) => {
        const local = this.partitions.get(partition.group);
        if (local?.group.isLeader) return;
        const stats = await this.statsOf(partition).catch(() => null);
        if (stats !== null) counts.set(partition.group, stats.lanes[lane].ready);
      }),
    );
    return counts;
  }

  /**
   * One round over the partitions that may have ready messages; [] when none had any. When every
   * partition asked came back empty — this node's replica counted a message another consumer had
   * just taken at the leader — the partitions not asked yet get one more round at once: a long-poll
   * must not wait for a NEW message while another partition still has a ready one (its wake-up
   * came before this round and will not come again).
   */
  private async consumeOnce(queue: QueueDescriptor, lane: Lane, max: number, visibilityMs: number, confirmed?: ReadonlyMap<number, number>, asked?: ReadonlySet<number>): Promise<ClientDelivery[]> {
    const plan = this.planConsume(queue, lane, max, confirmed, asked);
    if (plan.length === 0) return [];
    const settled = await Promise.allSettled(plan.map(([partition, n]) => this.consumeBatcher.add(laneKey(partition.group, lane), [n, visibilityMs])));
    const out: ClientDelivery[] = [];
    let failure: unknown = null;
    for (let i = 0; i < settled.length; i++) {
      const outcome = settled[i]!;
      if (outcome.status === "rejected") {
        failure ??= outcome.reason;
        continue;
      }
      const group = plan[i]![0].group;
      for (const d of outcome.value) out.push({ id: formatMessageId(group, d.seq), body: d.body, key: d.key, deliveries: d.deliveries });
    }
    // Messages taken from the partitions that answered are in flight now: hand them over even if
    // another partition failed (that one's messages, if any were taken, come back after their
    // visibility timeout). Fail only when nothing came and something went wrong.
    if (out.length === 0 && failure !== null) throw failure;
    if (out.length === 0 && asked === undefined) return this.consumeOnce(queue, lane, max, visibilityMs, confirmed, new Set(plan.map(([partition]) => partition.group)));
    return out;
  }

  /**
   * How many messages to ask of which partition, from a rotating start so every partition is
   * served: first those this node's replicas see as ready, then partitions hosted elsewhere whose
   * replicas last said they had ready messages; partitions with no recent word are asked blindly
   * only when nothing else is known (a consume writes a log entry even when it finds nothing).
   */
  private planConsume(queue: QueueDescriptor, lane: Lane, max: number, confirmed?: ReadonlyMap<number, number>, exclude?: ReadonlySet<number>): [PartitionDescriptor, number][] {
    const plan: [PartitionDescriptor, number][] = [];
    const count = queue.partitions.length;
    const start = this.consumeCursor++ % count;
    const unknown: PartitionDescriptor[] = [];
    let remaining = max;
    // Partitions led here first (no forwarding hop), then other local replicas, then the rest —
    // except every LOCAL_FIRST_PERIOD-th plan, which puts the ones led here last, so partitions
    // led elsewhere get at least that share and are never starved by a steady local stream.
    const isLocalFirst = this.consumePlans++ % LOCAL_FIRST_PERIOD !== 0;
    const passOf = (local: LocalPartition | undefined) => (local === undefined ? 2 : local.group.isLeader === isLocalFirst ? 0 : 1);
    for (const pass of [0, 1, 2] as const) {
      for (let i = 0; i < count && remaining > 0; i++) {
        const partition = queue.partitions[(start + i) % count]!;
        const local = this.partitions.get(partition.group);
        if (passOf(local) !== pass || exclude?.has(partition.group) === true) continue;
        let ready: number;
        const leaderCount = confirmed?.get(partition.group);
        if (leaderCount !== undefined) ready = leaderCount;
        else if (local !== undefined) ready = local.machine.readyCount(lane);
        else {
          const hint = this.remoteReady.get(laneKey(partition.group, lane));
          if (hint === undefined || performance.now() - hint.atMs > REMOTE_READY_HINT_MS) {
            unknown.push(partition);
            continue;
          }
          ready = hint.ready;
        }
        if (ready <= 0) continue;
        const n = Math.min(ready, remaining);
        plan.push([partition, n]);
        remaining -= n;
      }
    }
    if (plan.length === 0 && unknown.length > 0) plan.push([unknown[0]!, max]);
    return plan;
  }

  private async flushConsume(key: string, requests: [number, number][]): Promise<Delivery[][]> {
    const { group, lane } = splitLaneKey(key);
    const partition = this.partitionOrGone(group);
    this.remoteReady.delete(key); // what it said is used up
    // No rid: a retried consume would be answered from the dedup table with every body in it.
    // A consume whose answer was lost leaves its messages in flight until their visibility ends.
    return (await this.partitionRouter.propose(partition, { op: "q.consume", args: { lane, requests, nowMs: 0 }, rid: null }, false)) as Delivery[][];
  }

  /** Long-polls a replica of a partition this node does not host. */
  private async waitRemote(partition: PartitionDescriptor, lane: Lane, deadlineMs: number, signal: AbortSignal): Promise<void> {
    const target = this.partitionRouter.leaderOf(partition) ?? partition.replicas[0]!;
    const client = this.options.transport.client(target);
    const waitMs = Math.max(0, Math.floor(deadlineMs - performance.now()));
    if (client === null || client.state !== "connected") {
      await Bun.sleep(Math.min(waitMs, 100));
      return;
    }
    try {
      const reply = client.call(Q_PARTITION.name, { group: partition.group, lane, waitMs }, { timeoutMs: waitMs + 5_000 }).then((stats) => {
        this.noteRemoteStats(partition.group, stats as PartitionStatsReply);
      });
      await Promise.race([reply, new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }))]);
    } catch {
      await Bun.sleep(Math.min(waitMs, 100));
    }
  }

  private noteRemoteStats(group: number, stats: PartitionStatsReply): void {
    const atMs = performance.now();
    for (const lane of [0, 1] as const) this.remoteReady.set(laneKey(group, lane), { ready: stats.lanes[lane].ready, atMs });
  }

  // ------------------------------------------------------------------ ack / nack

  private async ack(name: string, id: string): Promise<{ acked: true }> {
    const { lane, base } = laneOf(name);
    const { partition, seq } = this.locate(base, name, id);
    const acked = await this.ackBatcher.add(laneKey(partition.group, lane), seq);
    if (!acked) throw unknownMessage(name, id);
    return { acked: true };
  }

  private async flushAck(key: string, seqs: number[]): Promise<boolean[]> {
    const { group, lane } = splitLaneKey(key);
    const partition = this.partitionOrGone(group);
    return (await this.partitionRouter.propose(partition, { op: "q.ack", args: { lane, seqs }, rid: this.nextRid() }, true)) as boolean[];
  }

  private async nack(name: string, id: string, delayMs: number): Promise<{ requeued: true }> {
    const { lane, base } = laneOf(name);
    const { partition, seq } = this.locate(base, name, id);
    const [requeued] = (await this.partitionRouter.propose(partition, { op: "q.nack", args: { lane, seqs: [seq], delayMs, nowMs: 0 }, rid: this.nextRid() }, true)) as boolean[];
    if (requeued !== true) throw new SinkronError("NOT_FOUND", `message '${id}' is not in flight in queue '${name}'`, { queue: name, id });
    return { requeued: true };
  }

  private locate(base: string, name: string, id: string): { partition: PartitionDescriptor; seq: number } {
    const queue = this.options.catalog.get(base);
    if (queue === undefined) throw new SinkronError("NOT_FOUND", `no queue '${base}'`, { queue: name });
    const address = parseMessageId(id);
    const partition = address === null ? undefined : queue.partitions.find((p) => p.group === address.group);
    if (address === null || partition === undefined) throw unknownMessage(name, id);
    return { partition, seq: address.seq };
  }

  // ------------------------------------------------------------------ admin

  private createOnLeader(args: { queue: string; partitions?: number; replicas?: number; maxDeliveries?: number }): Promise<CreateQueueResult> {
    refuseDeadLetterName(args.queue, "created with its queue");
    const voters = this.options.group0.raft.status().voters;
    const replicas = Math.min(args.replicas ?? DEFAULT_REPLICAS, voters.length);
    const partitions = args.partitions ?? DEFAULT_PARTITIONS_PER_NODE * voters.length;
    const placement = placePartitions({ queue: args.queue, partitions, replicas, nodes: voters }).map((p) => p.replicas);
    const op: CreateQueueOp = {
      queue: args.queue,
      replicas,
      maxDeliveries: args.maxDeliveries ?? QUEUE_MAX_DELIVERIES_DEFAULT,
      placement,
      explicit: { partitions: args.partitions !== undefined, replicas: args.replicas !== undefined, maxDeliveries: args.maxDeliveries !== undefined },
    };
    return this.options.group0.propose({ op: "queue.create", args: op as unknown as Record<string, unknown>, rid: null }) as Promise<CreateQueueResult>;
  }

  /** A queue's first produce creates it with the defaults (an existing one is kept as it is). */
  private async createWithDefaults(name: string): Promise<QueueDescriptor> {
    const { router, group0 } = this.options;
    await router.run(group0, null, Q_CREATE.name, { queue: name }, () => this.createOnLeader({ queue: name }).then(summarize), true);
    return this.waitForCatalog(name);
  }

  private async waitForCatalog(name: string): Promise<QueueDescriptor> {
    const deadlineMs = performance.now() + this.options.leaderWaitMs;
    for (;;) {
      const queue = this.options.catalog.get(name);
      if (queue !== undefined) return queue;
      const remainingMs = deadlineMs - performance.now();
      if (remainingMs <= 0) throw new SinkronError("UNAVAILABLE", `queue '${name}' was created but this node has not learnt of it yet; retry`, { queue: name, retryable: true });
      await this.waits.nextCatalogChange(Math.min(remainingMs, 50));
    }
  }

  private async info(name: string): Promise<unknown> {
    const { lane, base } = laneOf(name);
    const queue = this.options.catalog.get(base);
    if (queue === undefined) throw new SinkronError("NOT_FOUND", `no queue '${base}'`, { queue: name });
    const replies = await Promise.all(queue.partitions.map((p) => this.statsOf(p).catch(() => null)));
    let ready = 0;
    let inflight = 0;
    let deadLettered = 0;
    const partitions = queue.partitions.map((p, i) => {
      const reply = replies[i];
      const stats = reply?.lanes[lane] ?? null;
      if (stats !== null) {
        ready += stats.ready + stats.delayed;
        inflight += stats.inflight;
      }
      if (lane === 0 && reply) {
        const dead = reply.lanes[1];
        deadLettered += dead.ready + dead.inflight + dead.delayed;
      }
      return {
        partition: p.partition,
        group: p.group,
        leader: reply?.leader ?? this.partitionRouter.leaderOf(p),
        replicas: p.replicas,
        ready: stats?.ready ?? null,
        inflight: stats?.inflight ?? null,
        delayed: stats?.delayed ?? null,
      };
    });
    return { queue: name, partitions, ready, inflight, deadLettered, maxDeliveries: lane === 0 ? queue.maxDeliveries : null };
  }

  /**
   * A partition's counts as its leader knows them (after a ReadIndex round, so a client sees its
   * own acknowledged produces and acks); a local replica's when no leader can answer.
   */
  private async statsOf(partition: PartitionDescriptor): Promise<PartitionStatsReply> {
    const local = this.partitions.get(partition.group);
    const leader = this.partitionRouter.leaderOf(partition);
    if (local !== undefined && (leader === this.options.selfId || leader === null)) return this.localStats(local.partition.group, true);
    const target = leader ?? partition.replicas[0]!;
    const client = this.options.transport.client(target);
    try {
      if (client === null) throw new SinkronError("UNAVAILABLE", `no connection to ${target}`);
      const stats = (await client.call(Q_PARTITION.name, { group: partition.group, lane: 0 })) as PartitionStatsReply;
      this.noteRemoteStats(partition.group, stats);
      return stats;
    } catch (error) {
      if (local !== undefined) return this.localStats(partition.group, false);
      throw error;
    }
  }

  /** This replica's counts; `confirm`: when it leads, first confirm that (ReadIndex). */
  private async localStats(group: number, confirm: boolean): Promise<PartitionStatsReply> {
    let local = this.partitions.get(group);
    if (local === undefined) throw new SinkronError("NOT_FOUND", `this node hosts no partition group ${group}`, { group });
    if (confirm && local.group.isLeader) await local.group.readBarrier().catch(() => {});
    local = this.partitions.get(group);
    if (local === undefined) throw new SinkronError("NOT_FOUND", `this node hosts no partition group ${group}`, { group });
    const status = local.group.raft.status();
    return { leader: local.group.leader, lanes: [local.machine.stats(0), local.machine.stats(1)], role: status.role, members: [...status.voters, ...status.learners] };
  }

  /** The group's members as its leader (this node, or one among `replicas`) reports them. */
  private async leaderMembers(group: number, replicas: readonly string[]): Promise<string[] | null> {
    const local = this.partitions.get(group);
    if (local?.group.isLeader) {
      const status = local.group.raft.status();
      return [...status.voters, ...status.learners];
    }
    for (const id of replicas) {
      if (id === this.options.selfId) continue;
      const client = this.options.transport.client(id);
      if (client === null || client.state !== "connected") continue;
      const reply = (await client.call(Q_PARTITION.name, { group, lane: 0 }).catch(() => null)) as PartitionStatsReply | null;
      if (reply?.role === "leader" && reply.members !== undefined) return reply.members;
    }
    return null;
  }

  private async partitionStats(group: number, lane: Lane, waitMs: number, ctx: CommandContext): Promise<PartitionStatsReply> {
    const local = this.partitions.get(group);
    if (local === undefined) throw new SinkronError("NOT_FOUND", `this node hosts no partition group ${group}`, { group });
    if (waitMs > 0 && local.machine.readyCount(lane) === 0) {
      await this.waits.wait([local.partition], lane, performance.now() + waitMs, ctx.connection.closeSignal);
    }
    return this.localStats(group, waitMs === 0);
  }

  private partitionOrGone(group: number): PartitionDescriptor {
    const found = this.partitions.lookup(group);
    if (found === undefined) throw new SinkronError("NOT_FOUND", `the queue of partition group ${group} was deleted`, { group });
    return found.partition;
  }

  private nextRid(): string {
    return `${this.options.selfId}:${this.ridPrefix}:${++this.ridSeq}`;
  }

  hostedPartitions(): number {
    return this.partitions.size;
  }

  /** Per queue, the counts of the partitions this node leads (STATUS `queues.byQueue`). */
  ledQueueStats(): LedQueueStats[] {
    return this.partitions.ledQueueStats();
  }
}

/** Q.CREATE's answer: the settings, not the placement (Q.INFO shows that). */
function summarize(result: CreateQueueResult): { queue: string; partitions: number; replicas: number; maxDeliveries: number; created: boolean } {
  return { queue: result.queue, partitions: result.partitions.length, replicas: result.replicas, maxDeliveries: result.maxDeliveries, created: result.created };
}

/** Failures a retry may get past: no leader yet, a leader lost or unreachable, a deadline. */
function isTransient(error: unknown): boolean {
  return error instanceof SinkronError && (error.code === "UNAVAILABLE" || error.code === "NOT_LEADER" || error.code === "TIMEOUT");
}

function laneOf(name: string): { lane: Lane; base: string } {
  return name.endsWith(DEAD_LETTER_SUFFIX) && name.length > DEAD_LETTER_SUFFIX.length
    ? { lane: 1, base: name.slice(0, -DEAD_LETTER_SUFFIX.length) }
    : { lane: 0, base: name };
}

function refuseDeadLetterName(name: string, what: string): void {
  if (laneOf(name).lane === 1) throw new SinkronError("BAD_REQUEST", `'${name}' is a dead-letter queue: it is ${what}`, { queue: name });
}

function splitLaneKey(key: string): { group: number; lane: Lane } {
  const colon = key.indexOf(":");
  return { group: Number(key.slice(0, colon)), lane: Number(key.slice(colon + 1)) as Lane };
}

function bodyBytes(body: MessageBody): number {
  return typeof body === "string" ? Buffer.byteLength(body) : body.byteLength;
}

function unknownMessage(queue: string, id: string): SinkronError {
  return new SinkronError("NOT_FOUND", `no message '${id}' in queue '${queue}' (unknown, or already acked)`, { queue, id });
}
