// One client (or peer, or REPL) connection: splits the byte stream into frames, dispatches
// requests, and writes answers in batches. It bounds everything a peer can make it hold —
// requests in flight, unsent bytes, input handled per turn — by pausing the socket rather
// than buffering, so one greedy or stalled connection never hurts the others.
import type { Socket } from "bun";
import { SinkronError } from "../protocol/errors.ts";
import { PUSH_ID, parseRequest, type RequestId, type Status } from "../protocol/envelope.ts";
import { FrameDecoder, FrameWriter } from "../protocol/frame.ts";
import { decodeValue, encodeValue, Preencoded, SMALL_ENCODED_BYTES_MAX } from "../protocol/msgpack.ts";
import type { Logger } from "../util/log.ts";
import type { CommandContext, CommandRegistry, ConnectionInfo } from "./registry.ts";
import type { ServerLimits } from "./limits.ts";
import { INVALID_REQUEST_LABEL, UNKNOWN_COMMAND_LABEL } from "./request-stats.ts";

export interface ConnectionHost {
  readonly registry: CommandRegistry;
  readonly limits: ServerLimits;
  readonly log: Logger;
  /** Null when the node runs without a token: every connection is trusted. */
  readonly token: string | null;
  /** Queues a flush of this connection at the end of the current microtask batch. */
  scheduleFlush(connection: Connection): void;
  /** A connection said HELLO with `peer`: the server can reach that member over it. */
  onPeer(connection: Connection): void;
  /**
   * A request was answered: `command` is a registered command's name (or a fixed label for an
   * unknown command or an invalid frame), `latencyMs` the time from dispatch to the answer.
   */
  onRequestDone(command: string, status: Status, latencyMs: number): void;
}

export class Connection implements ConnectionInfo {
  readonly id: number;
  readonly remote: string;
  name: string | null = null;
  authenticated: boolean;
  peerId: string | null = null;
  private readonly closeController = new AbortController();
  readonly closeSignal: AbortSignal = this.closeController.signal;
  /** Last time input arrived (ms, monotonic), for the partial-frame stall timeout. */
  lastInputAtMs: number;

  private readonly decoder: FrameDecoder;
  private readonly writer = new FrameWriter();
  private readonly context: CommandContext;
  private inflight = 0;
  private paused = false;
  private closed = false;
  private waitingForDrain = false;
  private resumeScheduled = false;
  private closeAfterFlush = false;
  /** The frame limit both ways: frameBytesMax, or peerFrameBytesMax once a member said HELLO. */
  private frameBytesMax: number;
  /** Small answers skip the size check below only when no small answer can exceed the limit. */
  private readonly canAppendSmall: boolean;

  constructor(
    private readonly socket: Socket<unknown>,
    private readonly host: ConnectionHost,
    id: number,
    nowMs: number,
  ) {
    this.id = id;
    this.remote = `${socket.remoteAddress}:${(socket as { remotePort?: number }).remotePort ?? "?"}`;
    this.authenticated = host.token === null;
    this.lastInputAtMs = nowMs;
    this.decoder = new FrameDecoder(host.limits.frameBytesMax);
    this.frameBytesMax = host.limits.frameBytesMax;
    this.canAppendSmall = host.limits.frameBytesMax >= SMALL_ENCODED_BYTES_MAX;
    this.context = { connection: this, push: (kind, value) => this.push(kind, value) };
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get inflightRequests(): number {
    return this.inflight;
  }

  /** Marks this connection as a cluster member's: it may send larger frames (peerFrameBytesMax). */
  becomePeer(peerId: string): void {
    this.peerId = peerId;
    this.frameBytesMax = Math.max(this.host.limits.frameBytesMax, this.host.limits.peerFrameBytesMax);
    this.decoder.setFrameBytesMax(this.frameBytesMax);
    this.host.onPeer(this);
  }

  /** A push written now, not at the end of the tick (Raft messages that must leave before an fsync). */
  pushNow(kind: string, value: unknown): void {
    this.enqueue(PUSH_ID, kind as Status, value);
    this.flush();
  }

  get outboundBytes(): number {
    return this.writer.pendingBytes;
  }

  get inboundBytes(): number {
    return this.decoder.bufferedBytes;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  get hasPartialFrame(): boolean {
    return this.decoder.hasPartialFrame;
  }

  onData(chunk: Uint8Array, nowMs: number): void {
    this.lastInputAtMs = nowMs;
    this.decoder.push(chunk);
    if (!this.resumeScheduled) this.processInput();
  }

  onDrain(): void {
    this.waitingForDrain = false;
    this.flush();
    this.maybeResume();
  }

  onClose(): void {
    this.closed = true;
    this.closeController.abort();
    this.decoder.reset();
    this.writer.clear();
  }

  /** Sends `[0, kind, value]`; used for server pushes and for errors tied to no request. */
  push(kind: string, value: unknown): void {
    this.enqueue(PUSH_ID, kind as Status, value);
    this.host.scheduleFlush(this);
  }

  /** Answers with an error tied to no request, then closes once it is written. */
  failAndClose(code: SinkronError["code"], message: string): void {
    this.enqueue(PUSH_ID, code, { message });
    this.closeAfterFlush = true;
    this.decoder.reset();
    this.flush();
  }

  /** Writes pending bytes; the kernel may take only part, the rest waits for `drain`. */
  flush(): void {
    if (this.closed) return;
    while (this.writer.pendingBytes > 0 && !this.waitingForDrain) {
      const pending = this.writer.pending();
      const written = this.socket.write(pending);
      if (written > 0) this.writer.consumed(written);
      if (written < pending.byteLength) this.waitingForDrain = true;
    }
    if (this.closeAfterFlush && this.writer.pendingBytes === 0) {
      this.closed = true;
      this.socket.end();
    }
  }

  /** Closes now, dropping anything unsent (shutdown after its grace period). */
  terminate(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.terminate();
  }

  /** Stops taking requests, answers what is pending, then closes. */
  endGracefully(): void {
    this.closeAfterFlush = true;
    this.decoder.reset();
    if (this.inflight === 0) this.flush();
  }

  private get isBlocked(): boolean {
    return this.inflight >= this.host.limits.inflightRequestsMax || this.writer.pendingBytes >= this.host.limits.outboundBytesHighWater;
  }

  private processInput(): void {
    let budgetBytes = this.host.limits.inboundBytesPerTurnMax;
    while (!this.closed && !this.closeAfterFlush) {
      if (this.isBlocked) {
        // Answers may still fit in the kernel's buffer: only a write that stalls is a block.
        this.flush();
        if (this.isBlocked) {
          this.pause();
          break;
        }
      }
      if (budgetBytes <= 0) {
        // Fairness (STYLE.md): a hard-pipelining client yields the loop to other sockets.
        this.pause();
        this.resumeScheduled = true;
        setImmediate(() => {
          this.resumeScheduled = false;
          this.maybeResume();
        });
        break;
      }
      const result = this.decoder.next();
      if (result.kind === "need-more") break;
      if (result.kind === "too-large") {
        this.host.log.warn("frame too large, closing connection", { remote: this.remote, sizeBytes: result.sizeBytes });
        this.failAndClose("TOO_LARGE", `frame of ${result.sizeBytes} bytes exceeds the limit of ${this.frameBytesMax} bytes`);
        return;
      }
      budgetBytes -= result.payload.byteLength + 4;
      this.handleFrame(result.payload);
    }
    this.flush();
  }

  private handleFrame(payload: Uint8Array): void {
    const startMs = performance.now();
    let value: unknown;
    try {
      value = decodeValue(payload);
    } catch (error) {
      this.respondError(PUSH_ID, new SinkronError("BAD_REQUEST", `frame is not one valid MessagePack value: ${(error as Error).message}`), INVALID_REQUEST_LABEL, startMs);
      return;
    }
    const parsed = parseRequest(value);
    if (!parsed.ok) {
      this.respondError(parsed.id, parsed.error, INVALID_REQUEST_LABEL, startMs);
      return;
    }
    const { id, command, args } = parsed.request;
    const entry = this.host.registry.get(command);
    if (entry === undefined) {
      this.respondError(id, new SinkronError("UNKNOWN_COMMAND", `unknown command '${command}'`, { command }), UNKNOWN_COMMAND_LABEL, startMs);
      return;
    }
    // The registered name: a label from a bounded set, whatever the client spelled.
    const name = entry.info.name;
    if (!this.authenticated && entry.info.allowedBeforeAuth !== true) {
      this.respondError(id, new SinkronError("UNAUTHORIZED", "send HELLO with the node's token first"), name, startMs);
      return;
    }
    let result: unknown;
    try {
      result = entry.handler(entry.info.args.parse(args), this.context);
    } catch (error) {
      this.respondError(id, this.asSinkronError(error, command), name, startMs);
      return;
    }
    if (result instanceof Promise) {
      this.inflight++;
      result.then(
        (v) => this.complete(id, "OK", v, name, startMs),
        (e) => this.completeError(id, this.asSinkronError(e, command), name, startMs),
      );
    } else {
      this.respond(id, "OK", result, name, startMs);
    }
  }

  private complete(id: RequestId, status: Status, value: unknown, command: string, startMs: number): void {
    this.inflight--;
    if (this.closed) return;
    this.respond(id, status, value, command, startMs);
    this.host.scheduleFlush(this);
    if (this.closeAfterFlush && this.inflight === 0) this.flush();
    this.maybeResume();
  }

  private completeError(id: RequestId, error: SinkronError, command: string, startMs: number): void {
    this.complete(id, error.code, error.toValue(), command, startMs);
  }

  private respond(id: RequestId, status: Status, value: unknown, command: string, startMs: number): void {
    this.host.onRequestDone(command, status, performance.now() - startMs);
    this.enqueue(id, status, value);
  }

  private respondError(id: RequestId, error: SinkronError, command: string, startMs: number): void {
    this.respond(id, error.code, error.toValue(), command, startMs);
  }

  private enqueue(id: RequestId, status: Status, value: unknown): void {
    if (this.closed) return;
    if (value instanceof Preencoded && FrameWriter.envelopeBytes(id, status, value.bytes) <= this.frameBytesMax) {
      this.writer.appendEnvelope(id, status, value.bytes);
      return;
    }
    const envelope = [id, status, value instanceof Preencoded ? decodeValue(value.bytes) : value];
    if (this.canAppendSmall && this.writer.appendSmallValue(envelope)) return;
    let payload: Uint8Array;
    try {
      payload = encodeValue(envelope);
    } catch (error) {
      this.host.log.error("response could not be encoded", { error: error as Error });
      payload = encodeValue([id, "INTERNAL", { message: "the response could not be encoded" }]);
    }
    if (payload.byteLength > this.frameBytesMax) {
      payload = encodeValue([id, "TOO_LARGE", { message: `the response of ${payload.byteLength} bytes exceeds the frame limit of ${this.frameBytesMax} bytes` }]);
    }
    this.writer.appendPayload(payload);
  }

  private asSinkronError(error: unknown, command: string): SinkronError {
    if (error instanceof SinkronError) return error;
    this.host.log.error("command failed", { command, error: error as Error, stack: (error as Error)?.stack });
    return new SinkronError("INTERNAL", `internal error in ${command}`);
  }

  private pause(): void {
    if (this.paused || this.closed) return;
    this.paused = true;
    this.socket.pause();
  }

  private maybeResume(): void {
    if (this.closed || this.resumeScheduled || this.isBlocked) return;
    if (this.paused) {
      this.paused = false;
      this.lastInputAtMs = performance.now();
      this.socket.resume();
    }
    if (this.decoder.bufferedBytes > 0) this.processInput();
  }
}
