// SinkronClient: one connection at a time to one node of a list, shared by every call. It
// owns the connection's life — connect, HELLO, reconnect with backoff to the next node,
// close — and the public API; the Dispatcher pipelines, bounds and times out the calls.
// Every failure is a SinkronError with a protocol code.
import type { Args, Status } from "../protocol/envelope.ts";
import { PROTOCOL_VERSION } from "../protocol/commands.ts";
import { SinkronError } from "../protocol/errors.ts";
import type { Address } from "../util/address.ts";
import { backoffDelayMs } from "./backoff.ts";
import type { Call } from "./call.ts";
import type { CallOptions, Caller } from "./caller.ts";
import { CacheApi } from "./cache.ts";
import { ClusterApi } from "./cluster.ts";
import type { HelloResult, NodeStatus } from "./core.ts";
import { Dispatcher } from "./dispatcher.ts";
import { Listeners } from "./events.ts";
import { KvApi } from "./kv.ts";
import { Link, type LinkHandlers } from "./link.ts";
import { LockApi } from "./lock.ts";
import { NodeList } from "./node-list.ts";
import { checkTimeoutMs, resolveOptions, type ConnectOptions, type ResolvedOptions } from "./options.ts";
import { QueueApi } from "./queue.ts";

/** A connection that lasted less than this before dropping counts as a failed attempt. */
const STABLE_CONNECTION_MS = 1_000;

export type ClientState = "connecting" | "connected" | "reconnecting" | "closed";

/** A server-initiated frame `[0, kind, value]`; error pushes have an error code as `kind`. */
export type Push = { kind: string; value: unknown; node: string };

export type ClientEvents = {
  /** HELLO was answered: calls flow to `node` (its id) at `address` (host:port). */
  connected: { node: string; address: string; server: HelloResult };
  /** The connection was lost; in-flight calls were rejected with UNAVAILABLE. */
  disconnected: { node: string; address: string; error: SinkronError };
  /** Every node failed in the last round; the next round starts after `delayMs`. */
  reconnecting: { round: number; delayMs: number; error: SinkronError | null };
  /** A problem with no call to report it to (e.g. HELLO refused by a node while reconnecting). */
  error: SinkronError;
  closed: { error: SinkronError };
};

export type ClientStats = {
  state: ClientState;
  node: string | null;
  address: string | null;
  inflightRequests: number;
  waitingRequests: number;
  requestsSent: number;
  responsesReceived: number;
  /** Answers that came after their call timed out (ignored). */
  lateResponses: number;
  pushesReceived: number;
  /** `socket.write` calls over the client's life: about one per tick with calls. */
  writes: number;
  bytesWritten: number;
  connects: number;
  disconnects: number;
};

/**
 * Connects to the first reachable node (see `nodeOrder`), says HELLO and resolves when it is
 * answered. Rejects UNAVAILABLE when no node answers within `connectTimeoutMs`, or with the
 * node's own error (UNAUTHORIZED for a wrong token) when HELLO is refused.
 */
export async function connect(options: ConnectOptions): Promise<SinkronClient> {
  const client = new SinkronClient(resolveOptions(options));
  await client.start();
  return client;
}

export class SinkronClient implements Caller {
  readonly lock: LockApi = new LockApi(this);
  readonly queue: QueueApi = new QueueApi(this);
  readonly kv: KvApi = new KvApi(this);
  readonly cluster: ClusterApi = new ClusterApi(this);
  readonly cache: CacheApi = new CacheApi(this);
  readonly requestTimeoutMs: number;

  private readonly options: ResolvedOptions;
  private readonly nodes: NodeList;
  private readonly dispatcher: Dispatcher;
  private readonly events = new Listeners<ClientEvents>();
  private readonly pushes = new Listeners<{ push: Push }>();
  private link: Link | null = null;
  private stateNow: ClientState = "connecting";
  private helloResult: HelloResult | null = null;
  private readonly sweepTimer: ReturnType<typeof setInterval>;
  private cancelSleep: (() => void) | null = null;
  private hasStarted = false;
  private connectedAtMs = 0;
  /** Consecutive connections that ended before STABLE_CONNECTION_MS. */
  private flapRounds = 0;
  private readonly counters = {
    pushesReceived: 0,
    writesOfClosedLinks: 0,
    bytesWrittenOfClosedLinks: 0,
    connects: 0,
    disconnects: 0,
  };
  private readonly linkHandlers: LinkHandlers = {
    onResponse: (link, id, status, value) => this.onResponse(link, id, status, value),
    onDrain: (link) => {
      if (link === this.dispatcher.target && this.dispatcher.waitingRequests > 0) this.dispatcher.pump();
    },
    onClose: (link, reason) => this.onLinkClosed(link, reason),
  };

  /**
   * Prefer `connect()`. For code that must own the client before it connects (the peer
   * transport): `new SinkronClient(resolveOptions(options))`, then `start()`.
   */
  constructor(options: ResolvedOptions) {
    this.options = options;
    this.requestTimeoutMs = options.requestTimeoutMs;
    this.nodes = new NodeList(options.nodes, options.nodeOrder);
    this.dispatcher = new Dispatcher(options, this.nodes.describe());
    this.sweepTimer = setInterval(() => this.dispatcher.sweep(performance.now()), options.sweepIntervalMs);
    this.sweepTimer.unref?.();
  }

  get state(): ClientState {
    return this.stateNow;
  }

  get isClosed(): boolean {
    return this.stateNow === "closed";
  }

  /** The id of the node we talk to (from HELLO), or null while not connected. */
  get node(): string | null {
    return this.stateNow === "connected" ? (this.helloResult?.node ?? null) : null;
  }

  /** host:port of the node we talk to, or null while not connected. */
  get address(): string | null {
    return this.stateNow === "connected" ? (this.link?.addressText ?? null) : null;
  }

  /** HELLO's answer from the current node, or null while not connected. */
  get server(): HelloResult | null {
    return this.stateNow === "connected" ? this.helloResult : null;
  }

  /** Runs the first connection; `connect()` calls it. Closes the client when it fails. */
  async start(): Promise<void> {
    if (this.hasStarted) throw new Error("start() may be called once");
    this.hasStarted = true;
    try {
      await this.connectRounds(performance.now() + this.options.connectTimeoutMs, true);
    } catch (error) {
      const failure = asSinkronError(error);
      this.shutdown(failure);
      throw failure;
    }
  }

  /**
   * Sends `command` with `args` and resolves with the `OK` value, or rejects with a
   * SinkronError: the node's error code, TIMEOUT (no answer within `timeoutMs`),
   * UNAVAILABLE (connection lost while in flight — it may or may not have taken effect — or
   * no node reachable before the deadline), TOO_LARGE (frame over `frameBytesMax`, or more
   * than `waitingRequestsMax` calls waiting while connected).
   */
  call(command: string, args: Args = {}, options?: CallOptions): Promise<unknown> {
    let timeoutMs = this.requestTimeoutMs;
    if (options?.timeoutMs !== undefined) {
      try {
        timeoutMs = checkTimeoutMs(options.timeoutMs);
      } catch (error) {
        return Promise.reject(error);
      }
    }
    if (this.stateNow === "closed") return Promise.reject(clientClosed());
    return new Promise<unknown>((resolve, reject) => {
      const call: Call = { command, args: withoutUndefined(args), deadlineMs: performance.now() + timeoutMs, timeoutMs, id: 0, resolve, reject };
      this.dispatcher.submit(call);
    });
  }

  /** Writes the calls made so far in this tick now rather than from the end-of-tick flush. */
  flush(): void {
    if (this.stateNow === "connected") this.link?.flushNow();
  }

  ping(options?: CallOptions): Promise<"PONG"> {
    return this.call("PING", {}, options) as Promise<"PONG">;
  }

  /** Says HELLO again on the current connection (same version, token and name). */
  hello(options?: CallOptions): Promise<HelloResult> {
    return this.call("HELLO", this.helloArgs(), options) as Promise<HelloResult>;
  }

  status(options?: CallOptions): Promise<NodeStatus> {
    return this.call("STATUS", {}, options) as Promise<NodeStatus>;
  }

  /** Server pushes (id 0), including error pushes such as `[0, "BAD_REQUEST", {message}]`. */
  onPush(handler: (push: Push) => void): () => void {
    return this.pushes.on("push", handler);
  }

  on<K extends keyof ClientEvents>(event: K, listener: (payload: ClientEvents[K]) => void): () => void {
    return this.events.on(event, listener);
  }

  /** Rejects every pending and waiting call with UNAVAILABLE, stops reconnecting, closes. */
  async close(): Promise<void> {
    this.shutdown(clientClosed());
  }

  stats(): ClientStats {
    const link = this.link;
    return {
      state: this.stateNow,
      node: this.node,
      address: this.address,
      inflightRequests: this.dispatcher.inflightRequests,
      waitingRequests: this.dispatcher.waitingRequests,
      ...this.dispatcher.counters,
      pushesReceived: this.counters.pushesReceived,
      writes: this.counters.writesOfClosedLinks + (link?.stats.writes ?? 0),
      bytesWritten: this.counters.bytesWrittenOfClosedLinks + (link?.stats.bytesWritten ?? 0),
      connects: this.counters.connects,
      disconnects: this.counters.disconnects,
    };
  }

  // ---- receiving ----

  private onResponse(link: Link, id: number, status: Status, value: unknown): void {
    if (link !== this.link) return;
    if (id === 0) {
      this.counters.pushesReceived++;
      this.pushes.emit("push", { kind: status, value, node: this.helloResult?.node ?? link.addressText });
      return;
    }
    this.dispatcher.settle(id, status, value);
  }

  // ---- connection lifecycle ----

  /**
   * Tries every node in turn; after a round in which all failed, pauses with backoff and
   * starts again. Ends when connected, at `deadlineMs` (UNAVAILABLE) or when closed.
   * On the first connect a refused HELLO is final (a wrong token will not get better);
   * while reconnecting it is reported as an `error` event and the next node is tried.
   */
  private async connectRounds(deadlineMs: number | null, isInitial: boolean): Promise<void> {
    let lastError: SinkronError | null = null;
    for (let round = 0; ; round++) {
      for (let i = 0; i < this.nodes.size; i++) {
        if (this.isClosed) throw clientClosed();
        const remainingMs = deadlineMs === null ? this.options.attemptTimeoutMs : Math.floor(deadlineMs - performance.now());
        if (remainingMs <= 0) throw this.unreachable(lastError);
        try {
          await this.attempt(this.nodes.next(), Math.min(this.options.attemptTimeoutMs, remainingMs));
          return;
        } catch (error) {
          lastError = asSinkronError(error);
          if (this.isClosed) throw clientClosed();
          if (helloRefusals.has(lastError)) {
            if (isInitial) throw lastError;
            this.events.emit("error", lastError);
          }
        }
      }
      let delayMs = backoffDelayMs(round, this.options.backoffMsMin, this.options.backoffMsMax, Math.random);
      if (deadlineMs !== null) delayMs = Math.max(0, Math.min(delayMs, Math.floor(deadlineMs - performance.now())));
      this.events.emit("reconnecting", { round, delayMs, error: lastError });
      await this.sleep(delayMs);
    }
  }

  private async reconnect(): Promise<void> {
    if (this.flapRounds > 0) {
      const delayMs = backoffDelayMs(this.flapRounds - 1, this.options.backoffMsMin, this.options.backoffMsMax, Math.random);
      this.events.emit("reconnecting", { round: this.flapRounds - 1, delayMs, error: null });
      await this.sleep(delayMs);
    }
    await this.connectRounds(null, false);
  }

  /** One node: TCP connect, then HELLO; resolves once HELLO is answered OK. */
  private async attempt(address: Address, timeoutMs: number): Promise<void> {
    const startedMs = performance.now();
    const link = await Link.open(address, { connectTimeoutMs: timeoutMs, frameBytesMax: this.options.frameBytesMax }, this.linkHandlers);
    if (this.stateNow === "closed") {
      link.close(clientClosed());
      throw clientClosed();
    }
    this.link = link;
    let hello: HelloResult;
    try {
      const remainingMs = Math.max(1, Math.floor(timeoutMs - (performance.now() - startedMs)));
      hello = parseHello(await this.sendNow(link, "HELLO", this.helloArgs(), remainingMs));
    } catch (error) {
      const failure = asSinkronError(error);
      // A node that answered HELLO with an error refused us; anything else is the link failing.
      const refused = failure.code !== "UNAVAILABLE" && failure.code !== "TIMEOUT";
      const reported = refused ? new SinkronError(failure.code, `${link.addressText} refused HELLO: ${failure.message}`, { ...failure.details, node: link.addressText }) : failure;
      if (refused) helloRefusals.add(reported);
      link.close(reported);
      throw reported;
    }
    this.helloResult = hello;
    this.stateNow = "connected";
    this.dispatcher.target = link;
    this.connectedAtMs = performance.now();
    this.counters.connects++;
    this.events.emit("connected", { node: hello.node, address: link.addressText, server: hello });
    this.dispatcher.pump();
  }

  /** Writes a call now, before the connection counts as up (only HELLO needs this). */
  private sendNow(link: Link, command: string, args: Args, timeoutMs: number): Promise<unknown> {
    return new Promise<unknown>((resolve, reject) => {
      this.dispatcher.sendNow({ command, args: withoutUndefined(args), deadlineMs: performance.now() + timeoutMs, timeoutMs, id: 0, resolve, reject }, link);
    });
  }

  private helloArgs(): Args {
    return { version: PROTOCOL_VERSION, token: this.options.token, name: this.options.name, peer: this.options.peer, secret: this.options.secret };
  }

  private onLinkClosed(link: Link, reason: SinkronError): void {
    if (link !== this.link) return;
    this.link = null;
    this.dispatcher.target = null;
    this.counters.writesOfClosedLinks += link.stats.writes;
    this.counters.bytesWrittenOfClosedLinks += link.stats.bytesWritten;
    const wasConnected = this.stateNow === "connected";
    // Only HELLO is in flight before the connection is up: it fails with the link's reason.
    this.dispatcher.failInflight((call) =>
      wasConnected
        ? new SinkronError("UNAVAILABLE", "connection lost; the request may or may not have taken effect", { node: link.addressText, command: call.command, cause: reason.message })
        : reason,
    );
    if (!wasConnected) return;
    this.counters.disconnects++;
    // A node that takes HELLO and then drops us at once must not make us spin: a connection
    // shorter than STABLE_CONNECTION_MS counts as a failed round, so backoff applies.
    this.flapRounds = performance.now() - this.connectedAtMs < STABLE_CONNECTION_MS ? this.flapRounds + 1 : 0;
    this.events.emit("disconnected", { node: this.helloResult?.node ?? link.addressText, address: link.addressText, error: reason });
    if (this.isClosed) return; // a listener closed the client
    if (!this.options.isReconnectEnabled) {
      this.shutdown(new SinkronError("UNAVAILABLE", `connection to ${link.addressText} lost and reconnect is disabled`, { cause: reason.message }));
      return;
    }
    this.stateNow = "reconnecting";
    this.reconnect().catch((error) => {
      if (this.stateNow !== "closed") this.shutdown(asSinkronError(error));
    });
  }

  private sleep(delayMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.cancelSleep = null;
        resolve();
      }, delayMs);
      this.cancelSleep = () => {
        clearTimeout(timer);
        this.cancelSleep = null;
        resolve();
      };
    });
  }

  private unreachable(lastError: SinkronError | null): SinkronError {
    const last = lastError === null ? "" : `; last error: ${lastError.message}`;
    return new SinkronError("UNAVAILABLE", `no node reachable within ${this.options.connectTimeoutMs} ms (tried ${this.nodes.describe()})${last}`);
  }

  private shutdown(error: SinkronError): void {
    if (this.stateNow === "closed") return;
    this.stateNow = "closed";
    clearInterval(this.sweepTimer);
    this.cancelSleep?.();
    const link = this.link;
    this.link = null;
    this.dispatcher.target = null;
    this.dispatcher.failAll(error);
    if (link !== null) {
      this.counters.writesOfClosedLinks += link.stats.writes;
      this.counters.bytesWrittenOfClosedLinks += link.stats.bytesWritten;
      link.close(error);
    }
    this.events.emit("closed", { error });
    this.events.clear();
    this.pushes.clear();
  }
}

/** Errors that mean "a node answered HELLO with an error", as opposed to a failed link. */
const helloRefusals = new WeakSet<SinkronError>();

function clientClosed(): SinkronError {
  return new SinkronError("UNAVAILABLE", "the client is closed");
}

function asSinkronError(error: unknown): SinkronError {
  if (error instanceof SinkronError) return error;
  return new SinkronError("INTERNAL", `client error: ${(error as Error)?.message ?? String(error)}`);
}

function parseHello(value: unknown): HelloResult {
  const map = value as Partial<HelloResult> | null;
  if (map === null || typeof map !== "object" || typeof map.node !== "string") {
    throw new SinkronError("UNAVAILABLE", "HELLO's answer does not name the node; is this a sinkron node?");
  }
  return { server: String(map.server), version: Number(map.version), node: map.node, role: String(map.role) };
}

/**
 * msgpackr would encode an `undefined` value as a non-standard extension; an absent
 * optional argument must simply not be sent. Returns `args` itself when nothing is dropped.
 */
function withoutUndefined(args: Args): Args {
  for (const key in args) {
    if (args[key] === undefined) {
      const out: Args = {};
      for (const k in args) if (args[k] !== undefined) out[k] = args[k];
      return out;
    }
  }
  return args;
}
