// An in-process cluster of real nodes on loopback for replication tests: each node has its
// own port and data directory; nodes can be stopped and restarted on the same directory.
// Timing is fast (10 ms ticks) so elections settle in well under a second.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { SinkronNode } from "../../src/node/node.ts";
import type { NodeConfig, RaftSettings } from "../../src/node/config.ts";
import { connect, type SinkronClient } from "../../src/client/index.ts";
import { silentLogger } from "../../src/util/log.ts";
import { freePortRange } from "./ports.ts";

/** Members of test clusters prove their membership with this (clients do not know it). */
export const TEST_CLUSTER_SECRET = "test-cluster-secret";

export const FAST_RAFT: Partial<RaftSettings> = { tickMs: 10, electionTicks: 10, heartbeatTicks: 2 };

/**
 * Settings every node of a TestCluster gets besides the defaults (the cache's, its Redis store,
 * the HTTP API: give port 0 and each node binds its own, see SinkronNode.httpPort).
 */
export type TestNodeOptions = Partial<Pick<NodeConfig, "cache" | "redisUrl" | "redisPrefix" | "http">>;

export class TestCluster {
  readonly nodes = new Map<string, SinkronNode>();
  readonly configs = new Map<string, NodeConfig>();
  private readonly clients: SinkronClient[] = [];

  private constructor(
    readonly basePort: number,
    private readonly nodeOptions: TestNodeOptions = {},
  ) {}

  static async start(count: number, raft: Partial<RaftSettings> = {}, spare = 2, nodeOptions: TestNodeOptions = {}): Promise<TestCluster> {
    const basePort = freePortRange(count + spare);
    const cluster = new TestCluster(basePort, nodeOptions);
    const peers = Array.from({ length: count }, (_, i) => ({ id: `n${i + 1}`, address: `127.0.0.1:${basePort + i}` }));
    for (let i = 0; i < count; i++) {
      cluster.configs.set(peers[i]!.id, cluster.config(peers[i]!.id, basePort + i, peers, raft));
    }
    for (const id of cluster.configs.keys()) cluster.startNode(id);
    await cluster.waitForLeader();
    return cluster;
  }

  config(id: string, port: number, peers: { id: string; address: string }[], raft: Partial<RaftSettings>): NodeConfig {
    return {
      id,
      listen: { host: "127.0.0.1", port },
      peers,
      dataDir: mkdtempSync(path.join(tmpdir(), `sinkron-${id}-`)),
      http: null,
      redisUrl: null,
      token: null,
      clusterSecret: TEST_CLUSTER_SECRET,
      limits: {},
      raft: { ...FAST_RAFT, ...raft },
      ...this.nodeOptions,
    };
  }

  /** Adds a node that starts with --join (not yet a member). */
  addJoiner(id: string, portOffset: number): NodeConfig {
    const peers = [...this.configs.values()].map((c) => ({ id: c.id, address: `127.0.0.1:${c.listen.port}` }));
    const port = this.basePort + portOffset;
    const config = this.config(id, port, [...peers, { id, address: `127.0.0.1:${port}` }], { join: true });
    this.configs.set(id, config);
    this.startNode(id);
    return config;
  }

  startNode(id: string): SinkronNode {
    const config = this.configs.get(id)!;
    const node = new SinkronNode(config, process.env.SINKRON_TEST_LOGS ? undefined : silentLogger);
    node.start();
    this.nodes.set(id, node);
    return node;
  }

  async stopNode(id: string): Promise<void> {
    await this.nodes.get(id)?.stop();
    this.nodes.delete(id);
  }

  address(id: string): string {
    return `127.0.0.1:${this.configs.get(id)!.listen.port}`;
  }

  async client(id: string): Promise<SinkronClient> {
    const client = await connect({ nodes: [this.address(id)], nodeOrder: "in-order", requestTimeoutMs: 5000 });
    this.clients.push(client);
    return client;
  }

  leaderId(): string | null {
    for (const [id, node] of this.nodes) if (node.status().role === "leader") return id;
    return null;
  }

  async waitForLeader(timeoutMs = 5000): Promise<string> {
    return this.waitFor(() => {
      const id = this.leaderId();
      // Every running node must agree on it.
      return id !== null && [...this.nodes.values()].every((n) => n.status().leader === id || n.status().role === "learner") ? id : null;
    }, timeoutMs, "a leader everyone knows");
  }

  /**
   * Waits until a new cluster has written its start-up entries (the leader records the founders'
   * addresses), so a test that counts log entries starts from a quiet log.
   */
  async settled(timeoutMs = 5000, quietMs = 300): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    const commits = () => [...this.nodes.values()].map((n) => `${n.status().commitIndex}/${n.status().appliedIndex}`).join(",");
    let last = commits();
    let quietSince = performance.now();
    while (performance.now() - quietSince < quietMs) {
      if (performance.now() > deadline) throw new Error("the cluster's log did not settle");
      await Bun.sleep(20);
      const now = commits();
      if (now !== last) [last, quietSince] = [now, performance.now()];
    }
  }

  async waitFor<T>(probe: () => T | null | false, timeoutMs: number, what: string): Promise<T> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const value = probe();
      if (value !== null && value !== false) return value;
      if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await Bun.sleep(10);
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.close()));
    await Promise.all([...this.nodes.keys()].map((id) => this.stopNode(id)));
  }
}
