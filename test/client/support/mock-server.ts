// A tiny node impostor for client tests: Bun.listen speaking the framed protocol, with hooks
// to answer late, out of order, never, or with bytes no real node would send. It records
// what it saw (requests, frames per data event) so tests can assert on the wire.
import type { Socket, TCPSocketListener } from "bun";
import { FrameDecoder, FrameWriter, frameOf } from "../../../src/protocol/frame.ts";
import { decodeValue, encodeValue } from "../../../src/protocol/msgpack.ts";

export interface MockRequest {
  id: number;
  command: string;
  args: Record<string, unknown>;
}

/** What to do with a request: answer (maybe later), or never (`null`). */
export type MockReply = { status?: string; value?: unknown; delayMs?: number } | null;

export interface MockServerOptions {
  nodeId?: string;
  port?: number;
  /** Return undefined to fall back to the defaults (HELLO, PING, ECHO, else UNKNOWN_COMMAND). */
  onRequest?: (request: MockRequest, connection: MockConnection) => MockReply | undefined;
  onConnection?: (connection: MockConnection) => void;
}

export class MockConnection {
  private readonly writer = new FrameWriter();
  private isWaitingForDrain = false;
  private isFlushQueued = false;
  isClosed = false;

  constructor(readonly socket: Socket<{ connection: MockConnection | null }>) {}

  reply(id: number, status: string, value: unknown): void {
    this.sendValue([id, status, value]);
  }

  push(kind: string, value: unknown): void {
    this.sendValue([0, kind, value]);
  }

  sendValue(value: unknown): void {
    this.sendPayload(encodeValue(value));
  }

  sendPayload(payload: Uint8Array): void {
    if (this.isClosed) return;
    this.writer.appendPayload(payload);
    if (!this.isFlushQueued) {
      this.isFlushQueued = true;
      queueMicrotask(() => {
        this.isFlushQueued = false;
        this.flush();
      });
    }
  }

  /** Bytes as they are, bypassing framing (for broken frames). */
  writeRaw(bytes: Uint8Array): void {
    this.flush();
    if (!this.isClosed) this.socket.write(bytes);
  }

  flush(): void {
    while (!this.isClosed && this.writer.pendingBytes > 0 && !this.isWaitingForDrain) {
      const pending = this.writer.pending();
      const written = this.socket.write(pending);
      if (written > 0) this.writer.consumed(written);
      if (written < pending.byteLength) this.isWaitingForDrain = true;
    }
  }

  onDrain(): void {
    this.isWaitingForDrain = false;
    this.flush();
  }

  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.socket.terminate();
  }
}

export class MockServer {
  readonly requests: MockRequest[] = [];
  /** Frames found in each data event, in arrival order. */
  readonly framesPerDataEvent: number[] = [];
  readonly connections = new Set<MockConnection>();
  connectionsAccepted = 0;
  private listener: TCPSocketListener<{ connection: MockConnection | null }> | null = null;
  private readonly decoders = new WeakMap<MockConnection, FrameDecoder>();

  constructor(private readonly options: MockServerOptions = {}) {}

  get port(): number {
    if (this.listener === null) throw new Error("mock server is not listening");
    return this.listener.port;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  start(): this {
    this.listener = Bun.listen<{ connection: MockConnection | null }>({
      hostname: "127.0.0.1",
      port: this.options.port ?? 0,
      data: { connection: null },
      socket: {
        open: (socket) => {
          const connection = new MockConnection(socket);
          socket.data = { connection };
          this.connections.add(connection);
          this.decoders.set(connection, new FrameDecoder());
          this.connectionsAccepted++;
          this.options.onConnection?.(connection);
        },
        data: (socket, chunk) => this.onData(socket.data.connection!, chunk),
        drain: (socket) => socket.data.connection?.onDrain(),
        close: (socket) => this.forget(socket.data.connection),
        error: (socket) => this.forget(socket.data.connection),
      },
    });
    return this;
  }

  /** Stops listening and drops every connection. */
  stop(): void {
    this.listener?.stop(true);
    this.listener = null;
    for (const connection of this.connections) connection.close();
    this.connections.clear();
  }

  private forget(connection: MockConnection | null): void {
    if (connection === null) return;
    connection.isClosed = true;
    this.connections.delete(connection);
  }

  private onData(connection: MockConnection, chunk: Uint8Array): void {
    const decoder = this.decoders.get(connection)!;
    decoder.push(chunk);
    let frames = 0;
    for (let result = decoder.next(); result.kind === "frame"; result = decoder.next()) {
      frames++;
      const [id, command, args] = decodeValue(result.payload) as [number, string, Record<string, unknown>];
      this.handle(connection, { id, command, args });
    }
    this.framesPerDataEvent.push(frames);
  }

  private handle(connection: MockConnection, request: MockRequest): void {
    this.requests.push(request);
    const custom = this.options.onRequest?.(request, connection);
    const reply = custom === undefined ? this.defaultReply(request) : custom;
    if (reply === null) return;
    const send = () => connection.reply(request.id, reply.status ?? "OK", reply.value);
    if (reply.delayMs === undefined) send();
    else setTimeout(send, reply.delayMs);
  }

  private defaultReply(request: MockRequest): MockReply {
    switch (request.command) {
      case "HELLO":
        return { value: { server: "sinkron", version: 1, node: this.options.nodeId ?? "mock", role: "standalone" } };
      case "PING":
        return { value: "PONG" };
      case "ECHO":
        return { value: request.args };
      default:
        return { status: "UNKNOWN_COMMAND", value: { message: `unknown command '${request.command}'` } };
    }
  }
}

export function startMockServer(options?: MockServerOptions): MockServer {
  return new MockServer(options).start();
}

/** A frame whose payload is the given raw bytes (which need not be valid MessagePack). */
export function rawFrame(payload: number[]): Uint8Array {
  return frameOf(new Uint8Array(payload));
}
