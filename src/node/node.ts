// A sinkron node: one process, one port. It assembles the server, the command registry, the
// Raft groups with their storage and peer transport, and the services on top of them.
// Group 0 holds the cluster's metadata (member addresses) and the key-value store.
import { NodeServer, type ConnectionSummary } from "../server/server.ts";
import { DEFAULT_SERVER_LIMITS } from "../server/limits.ts";
import { CommandRegistry } from "../server/registry.ts";
import { createLogger, type Logger } from "../util/log.ts";
import { HttpApi } from "../http/server.ts";
import { RaftHost, DEFAULT_RAFT_TIMING, SNAPSHOT_ENTRIES_DEFAULT, SNAPSHOT_LOG_BYTES_DEFAULT } from "../replication/raft-host.ts";
import { CompositeStateMachine } from "../replication/state-machine-composite.ts";
import { LeaderRouter } from "../replication/leader-router.ts";
import { registerGroupProposeCommand } from "../replication/group-propose-command.ts";
import type { RaftGroup } from "../replication/raft-group.ts";
import { PeerTransport } from "../transport/peer-transport.ts";
import { acceptRaftBatch, registerRaftTransportCommand, type RaftTransportHost } from "../transport/raft-command.ts";
import { KvMachine } from "../kv/kv-machine.ts";
import { LockTable } from "../locks/lock-table.ts";
import { LockService } from "../locks/lock-service.ts";
import { registerKvCommands } from "../kv/kv-service.ts";
import { QueueCatalog } from "../queue/catalog-machine.ts";
import { QueueService } from "../queue/queue-service.ts";
import { DEFAULT_QUEUE_LIMITS } from "../queue/limits.ts";
import { CacheService } from "../cache/cache-service.ts";
import { CacheStoreMachine } from "../cache/store-machine.ts";
import { EmbeddedStore } from "../cache/embedded-store.ts";
import { RedisStore } from "../cache/redis-store.ts";
import type { BackingStore } from "../cache/store.ts";
import { DEFAULT_CACHE_SETTINGS } from "../cache/limits.ts";
import { RingHealth } from "../cache/ring-health.ts";
import { registerCoreCommands, type NodeStatus } from "./core-commands.ts";
import { ClusterService } from "./cluster-service.ts";
import { MemberMachine } from "./member-machine.ts";
import type { Member, NodeConfig, RaftSettings } from "./config.ts";

export const METADATA_GROUP = 0;

export const DEFAULT_RAFT_SETTINGS: Readonly<RaftSettings> = {
  ...DEFAULT_RAFT_TIMING,
  fsync: true,
  snapshotEntries: SNAPSHOT_ENTRIES_DEFAULT,
  snapshotLogBytes: SNAPSHOT_LOG_BYTES_DEFAULT,
  segmentBytesMax: 64 * 1024 * 1024,
  join: false,
};

export class SinkronNode {
  readonly config: NodeConfig;
  readonly registry = new CommandRegistry();
  readonly log: Logger;
  readonly raftSettings: RaftSettings;
  private readonly server: NodeServer;
  private readonly transport: PeerTransport;
  private readonly host: RaftHost;
  private readonly members: MemberMachine;
  private readonly kv = new KvMachine();
  private readonly locks = new LockTable();
  private lockService: LockService | null = null;
  private readonly queues = new QueueCatalog();
  private queueService: QueueService | null = null;
  private cacheService: CacheService | null = null;
  private ringHealth: RingHealth | null = null;
  private readonly metadata = new CompositeStateMachine();
  private cluster: ClusterService | null = null;
  /** Where Raft messages from members enter, by request (RAFT.MSG) or by push. */
  private readonly raftInbound: RaftTransportHost = {
    selfId: "",
    isMember: (id) => this.isMember(id),
    deliver: (message) => this.host.step(message),
  };
  private group0: RaftGroup | null = null;
  private http: HttpApi | null = null;

  constructor(config: NodeConfig, log: Logger = createLogger(config.id, config.logLevel)) {
    this.config = config;
    this.log = log;
    this.raftSettings = { ...DEFAULT_RAFT_SETTINGS, ...config.raft };
    this.raftInbound.selfId = config.id;
    const limits = { ...DEFAULT_SERVER_LIMITS, ...config.limits };
    this.transport = new PeerTransport({
      selfId: config.id,
      token: config.token,
      clusterSecret: config.clusterSecret ?? null,
      log: log.child("transport"),
      frameBytesMax: limits.peerFrameBytesMax,
      inbound: (id) => this.server.peerConnection(id),
      onRaftPush: (from, msgs) => {
        try {
          acceptRaftBatch(this.raftInbound, from, msgs);
        } catch (error) {
          this.log.warn("raft push refused", { from, error: error as Error });
        }
      },
    });
    this.host = new RaftHost({
      nodeId: config.id,
      dataDir: config.dataDir,
      fsync: this.raftSettings.fsync,
      segmentBytesMax: this.raftSettings.segmentBytesMax,
      timing: this.raftSettings,
      snapshotEntries: this.raftSettings.snapshotEntries,
      snapshotLogBytes: this.raftSettings.snapshotLogBytes,
      log: log.child("raft"),
      send: (messages) => this.transport.send(messages),
    });
    this.members = new MemberMachine(() => {
      this.transport.setMembers(this.knownMembers());
      this.cacheService?.onRingChange();
    });
    this.metadata.mount("member", this.members);
    this.metadata.mount("kv", this.kv);
    this.metadata.mount("cache", new CacheStoreMachine(this.kv, () => this.members.epoch));
    this.metadata.mount("lock", this.locks);
    this.metadata.mount("queue", this.queues);
    registerCoreCommands(this.registry, { nodeId: config.id, token: config.token, clusterSecret: config.clusterSecret ?? null, status: () => this.status() });
    this.server = new NodeServer({
      host: config.listen.host,
      port: config.listen.port,
      registry: this.registry,
      log: log.child("server"),
      token: config.token,
      limits: config.limits,
      isMember: (id) => id !== config.id && this.isMember(id),
    });
  }

  /** The port actually bound (useful when configured with port 0). */
  get port(): number {
    return this.server.port;
  }

  /** The HTTP API's bound port; null without --http. */
  get httpPort(): number | null {
    return this.http?.port ?? null;
  }

  connections(): ConnectionSummary[] {
    return this.server.connectionList();
  }

  start(): void {
    this.host.open();
    const founders = this.raftSettings.join ? [] : this.config.peers.map((m) => m.id);
    const group0 = this.host.createGroup(METADATA_GROUP, founders, this.metadata);
    this.group0 = group0;
    const router = new LeaderRouter({ transport: this.transport, leaderWaitMs: this.leaderWaitMs() });
    this.cluster = new ClusterService({ group: group0, members: this.members, router, transport: this.transport, founders: this.config.peers, selfId: this.config.id, log: this.log.child("cluster"), electionMs: this.leaderWaitMs(), beforeRemove: (id) => this.queueService?.drain(id) ?? Promise.resolve() });
    this.cluster.register(this.registry);
    registerKvCommands(this.registry, group0, this.kv, router);
    this.lockService = new LockService({ group: group0, table: this.locks, router, nodeId: this.config.id, log: this.log.child("locks"), expiryCheckMs: this.raftSettings.tickMs });
    this.lockService.register(this.registry);
    this.queueService = new QueueService({
      selfId: this.config.id,
      host: this.host,
      group0,
      catalog: this.queues,
      router,
      transport: this.transport,
      limits: { ...DEFAULT_QUEUE_LIMITS, ...this.config.queue },
      log: this.log.child("queue"),
      tickMs: this.raftSettings.tickMs,
      leaderWaitMs: this.leaderWaitMs(),
    });
    this.queueService.register(this.registry);
    const embeddedStore = new EmbeddedStore({ group: group0, kv: this.kv, router, epochNow: () => this.members.epoch });
    const cacheSettings = { ...DEFAULT_CACHE_SETTINGS, ...this.config.cache };
    const members = this.members;
    this.cacheService = new CacheService({
      selfId: this.config.id,
      members: { list: () => members.ringMembers(), get epoch() { return members.epoch; } },
      store: this.cacheStore(embeddedStore),
      embedded: embeddedStore,
      transport: this.transport,
      settings: cacheSettings,
      log: this.log.child("cache"),
    });
    this.ringHealth = new RingHealth({ selfId: this.config.id, group: group0, members, downAfterMs: cacheSettings.downAfterMs, checkMs: Math.max(10, this.raftSettings.tickMs * 5), log: this.log.child("cache") });
    this.cacheService.register(this.registry);
    registerGroupProposeCommand(this.registry, this.host, router);
    registerRaftTransportCommand(this.registry, this.raftInbound);
    this.transport.setMembers(this.knownMembers());
    this.server.start();
    this.host.start();
    this.lockService.start();
    this.queueService.start();
    this.cacheService.start();
    this.ringHealth.start();
    if (this.config.http !== null) {
      this.http = new HttpApi({ ...this.config.http, registry: this.registry, token: this.config.token, log: this.log.child("http") });
      this.http.start();
    }
    this.log.info("listening", { address: `${this.config.listen.host}:${this.server.port}`, members: this.config.peers.length, durability: this.host.durability });
  }

  async stop(): Promise<void> {
    await this.http?.stop();
    this.lockService?.stop();
    this.queueService?.stop();
    this.ringHealth?.stop();
    await this.server.stop();
    await this.cacheService?.stop();
    await this.host.stop();
    await this.transport.close();
    this.log.info("stopped");
  }

  /** Redis when --redis was given (connecting in the background: misses wait or get UNAVAILABLE), else the embedded store. */
  private cacheStore(embedded: EmbeddedStore): BackingStore {
    const url = this.config.redisUrl;
    if (url === null) return embedded;
    const log = this.log.child("redis");
    const redis = new RedisStore({ url, prefix: this.config.redisPrefix ?? "", log });
    redis.connect().catch((error: Error) => log.warn("redis not reachable yet; cache misses and writes get UNAVAILABLE until it is", { url, error }));
    return redis;
  }

  status(): NodeStatus {
    const raft = this.group0?.raft.status();
    const members = this.cluster?.memberList() ?? this.config.peers.map((m) => ({ id: m.id, address: m.address, role: "voter" }));
    return {
      node: this.config.id,
      role: raft?.role ?? "follower",
      term: raft?.term ?? 0,
      leader: raft?.leader ?? null,
      commitIndex: raft?.commitIndex ?? 0,
      appliedIndex: this.group0?.appliedIndex ?? 0,
      members,
      durability: this.host.durability,
      locks: this.locks.stats(),
      queues: { queues: this.queues.list().length, hostedPartitions: this.queueService?.hostedPartitions() ?? 0, byQueue: this.queueService?.ledQueueStats() ?? [] },
      ...(this.cacheService === null ? {} : { cache: this.cacheService.metrics() }),
      votingDisabled: raft?.votingDisabled ?? false,
      raft: this.host.stats(),
      transport: this.transport.stats(),
      server: this.server.stats(),
    };
  }

  /**
   * Who this node talks to: every address in the replicated address book, plus the founders
   * from the command line while they are in the Raft configuration (or while this node knows no
   * configuration yet: a fresh or joining node). A removed founder is dropped.
   */
  private knownMembers(): Member[] {
    const byId = new Map(this.members.list().map((m) => [m.id, m.address]));
    const status = this.group0?.raft.status();
    const inConfig = new Set([...(status?.voters ?? []), ...(status?.learners ?? [])]);
    for (const founder of this.config.peers) {
      if (!byId.has(founder.id) && (inConfig.size === 0 || inConfig.has(founder.id))) byId.set(founder.id, founder.address);
    }
    return [...byId].map(([id, address]) => ({ id, address }));
  }

  private isMember(id: string): boolean {
    if (this.members.address(id) !== undefined || this.config.peers.some((m) => m.id === id)) return true;
    const status = this.group0?.raft.status();
    return status !== undefined && (status.voters.includes(id) || status.learners.includes(id));
  }

  /** Long enough for an election to finish: two maximal election timeouts. */
  private leaderWaitMs(): number {
    return 4 * this.raftSettings.electionTicks * this.raftSettings.tickMs;
  }
}
