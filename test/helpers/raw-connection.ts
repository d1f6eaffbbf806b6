// A bare protocol connection for server tests: sends hand-made bytes or frames and collects
// decoded answers, with no client-library logic in between, so tests see exactly what the
// server wrote. Writes keep Bun's unwritten tail and finish it on drain.
import type { Socket } from "bun";
import { decodeValue, encodeValue, frameOf, FrameDecoder } from "../../src/protocol/index.ts";

export type Answer = [number, string, unknown];

export class RawConnection {
  readonly answers: Answer[] = [];
  closed = false;
  private readonly decoder = new FrameDecoder(0xffff_ffff);
  private socket!: Socket<unknown>;
  private outbox: Uint8Array[] = [];
  private waiters: (() => void)[] = [];
  private reading = true;
  private held: Uint8Array[] = [];

  static async open(port: number, host = "127.0.0.1"): Promise<RawConnection> {
    const conn = new RawConnection();
    conn.socket = await Bun.connect({
      hostname: host,
      port,
      socket: {
        data: (_s, chunk) => conn.onData(chunk),
        drain: () => conn.flushOutbox(),
        close: () => conn.onClosed(),
        error: () => conn.onClosed(),
      },
    });
    return conn;
  }

  /** Sends one request frame. */
  request(id: number, command: string, args: Record<string, unknown> = {}): void {
    this.send(frameOf(encodeValue([id, command, args])));
  }

  send(bytes: Uint8Array): void {
    this.outbox.push(bytes);
    this.flushOutbox();
  }

  get unsentBytes(): number {
    return this.outbox.reduce((n, b) => n + b.byteLength, 0);
  }

  /** Stops consuming answers (they stay in the kernel, so the server sees a slow reader). */
  stopReading(): void {
    this.reading = false;
    this.socket.pause();
  }

  startReading(): void {
    this.reading = true;
    this.socket.resume();
    for (const chunk of this.held.splice(0)) this.consume(chunk);
  }

  async waitFor(predicate: () => boolean, timeoutMs = 5000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (!predicate()) {
      if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms (answers: ${this.answers.length}, closed: ${this.closed})`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 20);
      });
    }
  }

  async waitForAnswers(count: number, timeoutMs = 5000): Promise<Answer[]> {
    await this.waitFor(() => this.answers.length >= count, timeoutMs);
    return this.answers;
  }

  async call(id: number, command: string, args: Record<string, unknown> = {}): Promise<Answer> {
    this.request(id, command, args);
    let found: Answer | undefined;
    await this.waitFor(() => (found = this.answers.find((a) => a[0] === id)) !== undefined);
    return found!;
  }

  close(): void {
    this.socket.end();
  }

  private flushOutbox(): void {
    while (this.outbox.length > 0) {
      const head = this.outbox[0]!;
      const written = this.socket.write(head);
      if (written >= head.byteLength) {
        this.outbox.shift();
        continue;
      }
      if (written > 0) this.outbox[0] = head.subarray(written);
      return;
    }
  }

  private onData(chunk: Uint8Array): void {
    if (!this.reading) {
      this.held.push(chunk);
      return;
    }
    this.consume(chunk);
  }

  private consume(chunk: Uint8Array): void {
    this.decoder.push(chunk);
    for (;;) {
      const r = this.decoder.next();
      if (r.kind !== "frame") break;
      this.answers.push(decodeValue(r.payload) as Answer);
    }
    this.wake();
  }

  private onClosed(): void {
    this.closed = true;
    this.wake();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}
