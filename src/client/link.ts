// One TCP connection to one node, speaking the framed protocol: frames requests out, parses
// responses in. Requests appended in one tick leave in ONE socket write (flushed from a
// microtask); Bun's write takes what the kernel accepts and drops the rest, so the tail stays
// in the FrameWriter until `drain`. A frame that cannot be decoded means the stream can no
// longer be trusted: the link closes itself and reports why.
import type { Socket, SocketHandler } from "bun";
import { PUSH_ID, parseResponse, type ParsedResponse, type Status } from "../protocol/envelope.ts";
import { SinkronError, isErrorCode } from "../protocol/errors.ts";
import { FrameDecoder, FrameWriter } from "../protocol/frame.ts";
import { decodeValue } from "../protocol/msgpack.ts";
import { formatAddress, type Address } from "../util/address.ts";

export interface LinkHandlers {
  /** One well-formed `[id, status, value]` frame (id 0 is a push). */
  onResponse(link: Link, id: number, status: Status, value: unknown): void;
  /** The unsent bytes went out (a flush or a drain): callers held back by bytes may go on. */
  onDrain(link: Link): void;
  /** Called exactly once, whoever closed the link. */
  onClose(link: Link, reason: SinkronError): void;
}

export interface LinkOptions {
  connectTimeoutMs: number;
  frameBytesMax: number;
}

export interface LinkStats {
  /** `socket.write` calls: one per flushed tick unless the kernel pushed back. */
  writes: number;
  bytesWritten: number;
  framesReceived: number;
}

const SOCKET_HANDLERS: SocketHandler<Link> = {
  // Plain Uint8Array chunks: a Buffer's subarray goes through its species constructor,
  // which measured as >10% of the client's time at 64 calls in flight.
  // (bun-types still types the chunk as Buffer; at run time it is a Uint8Array.)
  binaryType: "uint8array",
  open: (socket) => socket.data.attach(socket),
  data: (socket, chunk) => socket.data.onData(chunk),
  drain: (socket) => socket.data.onWritable(),
  end: (socket) => socket.data.close(unavailable(socket.data, "the node closed the connection")),
  close: (socket, error) => socket.data.close(unavailable(socket.data, error ? `connection closed: ${error.message}` : "the connection closed")),
  error: (socket, error) => socket.data.close(unavailable(socket.data, `socket error: ${error.message}`)),
  // The promise of Bun.connect rejects too; `open()` reports the failure from there.
  connectError: () => {},
};

export class Link {
  readonly address: Address;
  readonly addressText: string;
  readonly stats: LinkStats = { writes: 0, bytesWritten: 0, framesReceived: 0 };
  private socket: Socket<Link> | null = null;
  private readonly decoder: FrameDecoder;
  private readonly writer = new FrameWriter();
  private readonly handlers: LinkHandlers;
  private isFlushScheduled = false;
  private isWaitingForDrain = false;
  private closed = false;
  private lastErrorPushValue: SinkronError | null = null;

  private constructor(address: Address, frameBytesMax: number, handlers: LinkHandlers) {
    this.address = address;
    this.addressText = formatAddress(address);
    this.decoder = new FrameDecoder(frameBytesMax);
    this.handlers = handlers;
  }

  /** Opens a TCP connection; rejects with UNAVAILABLE when refused or not up in time. */
  static async open(address: Address, options: LinkOptions, handlers: LinkHandlers): Promise<Link> {
    const link = new Link(address, options.frameBytesMax, handlers);
    const connecting = Bun.connect<Link>({ hostname: address.host, port: address.port, data: link, socket: SOCKET_HANDLERS });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(unavailable(link, `no connection within ${options.connectTimeoutMs} ms`)), options.connectTimeoutMs);
    });
    try {
      await Promise.race([connecting, timedOut]);
    } catch (error) {
      // A connect that completes after we gave up is torn down by `attach` (closed is set).
      link.closed = true;
      connecting.catch(() => {});
      throw error instanceof SinkronError ? error : unavailable(link, `cannot connect: ${(error as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
    if (link.closed) throw unavailable(link, "the connection closed while opening");
    return link;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The node's last error push (e.g. "too many connections"): it usually explains a close. */
  get lastErrorPush(): SinkronError | null {
    return this.lastErrorPushValue;
  }

  get pendingBytes(): number {
    return this.writer.pendingBytes;
  }

  /** Queues one frame holding `payload`; it leaves with the rest of this tick's frames. */
  send(payload: Uint8Array): void {
    if (this.closed) return;
    this.writer.appendPayload(payload);
    if (!this.isFlushScheduled) {
      this.isFlushScheduled = true;
      queueMicrotask(this.flushTask);
    }
  }

  /**
   * Writes the queued frames now instead of at the end of the tick, for a caller about to block
   * the loop (a Raft leader sends its Appends, then fsyncs: the peers work meanwhile).
   */
  flushNow(): void {
    this.flush();
  }

  /** Closes the connection now; unsent bytes are dropped. Idempotent. */
  close(reason: SinkronError): void {
    if (this.closed) return;
    this.closed = true;
    this.writer.clear();
    this.decoder.reset();
    this.socket?.terminate();
    this.handlers.onClose(this, reason);
  }

  /** @internal socket callback */
  attach(socket: Socket<Link>): void {
    if (this.closed) {
      socket.terminate();
      return;
    }
    this.socket = socket;
    socket.setNoDelay(true);
  }

  /** @internal socket callback */
  onData(chunk: Uint8Array): void {
    if (this.closed) return;
    this.decoder.push(chunk);
    while (!this.closed) {
      const result = this.decoder.next();
      if (result.kind === "need-more") return;
      if (result.kind === "too-large") {
        this.close(unavailable(this, `the node sent a frame of ${result.sizeBytes} bytes, over frameBytesMax; connection closed`));
        return;
      }
      this.stats.framesReceived++;
      this.onFrame(result.payload);
    }
  }

  /** @internal socket callback */
  onWritable(): void {
    this.isWaitingForDrain = false;
    this.flush();
    if (!this.closed && !this.isWaitingForDrain) this.handlers.onDrain(this);
  }

  private onFrame(payload: Uint8Array): void {
    let parsed: ParsedResponse;
    try {
      // The protocol's one decoder: the same bytes mean the same values here and on the node.
      parsed = parseResponse(decodeValue(payload));
    } catch (error) {
      this.close(unavailable(this, `the node sent a frame that is not valid MessagePack (${(error as Error).message}); connection closed`));
      return;
    }
    if (!parsed.ok) {
      this.close(unavailable(this, `the node sent a malformed response (${parsed.message}); connection closed`));
      return;
    }
    if (parsed.id === PUSH_ID && isErrorCode(parsed.status)) this.lastErrorPushValue = SinkronError.fromResponse(parsed.status, parsed.value);
    this.handlers.onResponse(this, parsed.id, parsed.status, parsed.value);
  }

  private readonly flushTask = (): void => {
    this.isFlushScheduled = false;
    this.flush();
    // A write the kernel took whole brings no `drain` event, yet it may free room below
    // the high-water mark for calls that were held back.
    if (!this.closed && !this.isWaitingForDrain) this.handlers.onDrain(this);
  };

  private flush(): void {
    const socket = this.socket;
    if (this.closed || socket === null) return;
    while (this.writer.pendingBytes > 0 && !this.isWaitingForDrain) {
      const pending = this.writer.pending();
      const written = socket.write(pending);
      this.stats.writes++;
      if (written > 0) {
        this.writer.consumed(written);
        this.stats.bytesWritten += written;
      }
      if (written < pending.byteLength) this.isWaitingForDrain = true;
    }
  }
}

function unavailable(link: Link, message: string): SinkronError {
  const last = link.lastErrorPush;
  const because = last === null ? "" : ` after the node said ${last.code}: ${last.message}`;
  return new SinkronError("UNAVAILABLE", `${link.addressText}: ${message}${because}`, { node: link.addressText });
}
