// A sinkron node: one process, one port. It assembles the server, the command registry and
// (as they land) the Raft groups and services. Until Raft runs, STATUS reports the role
// "standalone" and says so in `note`.
import { NodeServer, type ConnectionSummary } from "../server/server.ts";
import { CommandRegistry } from "../server/registry.ts";
import { createLogger, type Logger } from "../util/log.ts";
import { registerCoreCommands, type NodeStatus } from "./core-commands.ts";
import type { NodeConfig } from "./config.ts";

export class SinkronNode {
  readonly config: NodeConfig;
  readonly registry = new CommandRegistry();
  readonly log: Logger;
  private readonly server: NodeServer;

  constructor(config: NodeConfig, log: Logger = createLogger(config.id, config.logLevel)) {
    this.config = config;
    this.log = log;
    registerCoreCommands(this.registry, {
      nodeId: config.id,
      token: config.token,
      status: () => this.status(),
    });
    this.server = new NodeServer({
      host: config.listen.host,
      port: config.listen.port,
      registry: this.registry,
      log: log.child("server"),
      token: config.token,
      limits: config.limits,
    });
  }

  /** The port actually bound (useful when configured with port 0). */
  get port(): number {
    return this.server.port;
  }

  connections(): ConnectionSummary[] {
    return this.server.connectionList();
  }

  start(): void {
    this.server.start();
    this.log.info("listening", { address: `${this.config.listen.host}:${this.server.port}`, members: this.config.peers.length });
  }

  async stop(): Promise<void> {
    await this.server.stop();
    this.log.info("stopped");
  }

  status(): NodeStatus {
    return {
      node: this.config.id,
      role: "standalone",
      term: 0,
      leader: null,
      commitIndex: 0,
      appliedIndex: 0,
      members: this.config.peers.map((m) => ({ id: m.id, address: m.address })),
      note: "Raft is not running yet: role, term, leader and indexes are placeholders",
      server: this.server.stats(),
    };
  }
}
