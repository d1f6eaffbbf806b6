// The node's one TCP port (DESIGN.md "One process, one port"): clients, peers and the REPL
// all connect here and speak the framed protocol. The server owns the connections, flushes
// their answers once per microtask batch, enforces the connection-level limits and shuts
// down gracefully.
import type { Socket, TCPSocketListener } from "bun";
import type { Status } from "../protocol/envelope.ts";
import type { Logger } from "../util/log.ts";
import { Connection, type ConnectionHost } from "./connection.ts";
import { DEFAULT_SERVER_LIMITS, type ServerLimits } from "./limits.ts";
import { RequestStats, type HistogramSnapshot, type RequestCountSnapshot } from "./request-stats.ts";
import type { CommandRegistry } from "./registry.ts";

export interface ServerOptions {
  host: string;
  port: number;
  registry: CommandRegistry;
  log: Logger;
  token?: string | null;
  limits?: Partial<ServerLimits>;
  /** Whether a node id is a cluster member (peer connections of strangers are not used). */
  isMember?: (id: string) => boolean;
}

export interface ConnectionSummary {
  id: number;
  remote: string;
  name: string | null;
  inflightRequests: number;
  outboundBytes: number;
  inboundBytes: number;
  isPaused: boolean;
}

export interface ServerStats {
  connections: number;
  connectionsAccepted: number;
  connectionsRefused: number;
  requests: number;
  errors: number;
  /** Answered requests by command (registered name, "(unknown)" or "(invalid)") and status (OK or the error code). */
  requestsByCommand: RequestCountSnapshot[];
  /** Time from dispatch to answer of every answered request. */
  requestLatencyMs: HistogramSnapshot;
}

type ConnSocket = Socket<{ connection: Connection | null }>;

const SWEEP_INTERVAL_MS = 1000;

export class NodeServer implements ConnectionHost {
  readonly registry: CommandRegistry;
  readonly limits: ServerLimits;
  readonly log: Logger;
  readonly token: string | null;

  private listener: TCPSocketListener<{ connection: Connection | null }> | null = null;
  private readonly connections = new Set<Connection>();
  private readonly dirty = new Set<Connection>();
  /** The newest connection each member opened to us (HELLO {peer}): our way to push to it. */
  private readonly peers = new Map<string, Connection>();
  private flushQueued = false;
  private nextConnectionId = 1;
  private sweepTimer: ReturnType<typeof setInterval> | null = null;
  private readonly counters = { connectionsAccepted: 0, connectionsRefused: 0 };
  private readonly requestStats = new RequestStats();

  constructor(private readonly options: ServerOptions) {
    this.registry = options.registry;
    this.log = options.log;
    this.token = options.token ?? null;
    this.limits = { ...DEFAULT_SERVER_LIMITS, ...options.limits };
  }

  get port(): number {
    if (this.listener === null) throw new Error("server is not listening");
    return this.listener.port;
  }

  stats(): ServerStats {
    const requests = this.requestStats;
    return {
      connections: this.connections.size,
      ...this.counters,
      requests: requests.requests,
      errors: requests.errors,
      requestsByCommand: requests.counts(),
      requestLatencyMs: requests.latency.snapshot(),
    };
  }

  connectionList(): ConnectionSummary[] {
    return [...this.connections].map((c) => ({
      id: c.id,
      remote: c.remote,
      name: c.name,
      inflightRequests: c.inflightRequests,
      outboundBytes: c.outboundBytes,
      inboundBytes: c.inboundBytes,
      isPaused: c.isPaused,
    }));
  }

  start(): void {
    this.listener = Bun.listen<{ connection: Connection | null }>({
      hostname: this.options.host,
      port: this.options.port,
      data: { connection: null },
      socket: {
        open: (socket) => this.onOpen(socket),
        data: (socket, chunk) => socket.data.connection?.onData(chunk, performance.now()),
        drain: (socket) => socket.data.connection?.onDrain(),
        close: (socket) => this.onClose(socket),
        error: (socket, error) => {
          this.log.debug("socket error", { error });
          this.onClose(socket);
        },
      },
    });
    this.sweepTimer = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
    this.sweepTimer.unref?.();
  }

  scheduleFlush(connection: Connection): void {
    this.dirty.add(connection);
    if (this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(() => this.flushDirty());
  }

  onPeer(connection: Connection): void {
    // Only members become push targets; a connection claiming a stranger's id gets none.
    if (connection.peerId !== null && (this.options.isMember?.(connection.peerId) ?? true)) this.peers.set(connection.peerId, connection);
  }

  /** An open connection from member `id`, to push messages to it; undefined when it has none. */
  peerConnection(id: string): Connection | undefined {
    const connection = this.peers.get(id);
    return connection !== undefined && !connection.isClosed ? connection : undefined;
  }

  onRequestDone(command: string, status: Status, latencyMs: number): void {
    this.requestStats.record(command, status, latencyMs);
  }

  /** Stops accepting, lets in-flight answers go out for up to `shutdownGraceMs`, then closes. */
  async stop(): Promise<void> {
    if (this.listener === null) return;
    this.listener.stop(false);
    this.listener = null;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    for (const connection of this.connections) connection.endGracefully();
    const deadline = performance.now() + this.limits.shutdownGraceMs;
    while (this.connections.size > 0 && performance.now() < deadline) await Bun.sleep(10);
    for (const connection of this.connections) connection.terminate();
    this.connections.clear();
  }

  private onOpen(socket: ConnSocket): void {
    socket.setNoDelay?.(true);
    const connection = new Connection(socket as Socket<unknown>, this, this.nextConnectionId++, performance.now());
    if (this.connections.size >= this.limits.connectionsMax) {
      this.counters.connectionsRefused++;
      this.log.warn("connection refused: connectionsMax reached", { remote: connection.remote, connectionsMax: this.limits.connectionsMax });
      socket.data = { connection };
      connection.failAndClose("UNAVAILABLE", `too many connections (connectionsMax ${this.limits.connectionsMax})`);
      return;
    }
    this.counters.connectionsAccepted++;
    socket.data = { connection };
    this.connections.add(connection);
  }

  private onClose(socket: ConnSocket): void {
    const connection = socket.data.connection;
    if (connection === null) return;
    connection.onClose();
    this.connections.delete(connection);
    if (connection.peerId !== null && this.peers.get(connection.peerId) === connection) this.peers.delete(connection.peerId);
    this.dirty.delete(connection);
  }

  private flushDirty(): void {
    this.flushQueued = false;
    for (const connection of this.dirty) connection.flush();
    this.dirty.clear();
  }

  private sweep(): void {
    const nowMs = performance.now();
    for (const connection of this.connections) {
      // A paused connection holds buffered input because we stopped reading, not because
      // the peer stalled; its clock restarts on resume.
      if (!connection.isPaused && connection.hasPartialFrame && nowMs - connection.lastInputAtMs > this.limits.partialFrameTimeoutMs) {
        this.log.warn("closing connection stalled inside a frame", { remote: connection.remote });
        connection.failAndClose("TIMEOUT", `no bytes for ${this.limits.partialFrameTimeoutMs} ms in the middle of a frame`);
      }
    }
  }
}
