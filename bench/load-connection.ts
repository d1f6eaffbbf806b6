// One connection of the load generator: a closed loop keeping `pipelineDepth` requests in
// flight. It speaks the framed protocol itself (as redis-benchmark speaks RESP) and stays
// lean: requests of one turn go out in one write, ids map to fixed slots (no Map, no
// per-request allocation beyond decoding), and one clock read stamps a whole batch.
import type { Socket } from "bun";
import { PROTOCOL_VERSION } from "../src/protocol/commands.ts";
import { PUSH_ID, parseResponse, REQUEST_ID_MAX, type RequestId } from "../src/protocol/envelope.ts";
import { FrameDecoder, FrameWriter } from "../src/protocol/frame.ts";
import { decodeValue, encodeValue } from "../src/protocol/msgpack.ts";
import type { Address } from "../src/util/address.ts";
import { RequestEncoder } from "./request-encoder.ts";
import type { BenchRequest, Workload } from "./workloads.ts";

/** What a connection reports to the run it belongs to; the runner implements it. */
export interface LoadSink {
  /** Grants one more request, or false once the run has stopped issuing. */
  takeTicket(): boolean;
  /** True once warmup is over: requests sent from now on are counted and timed. */
  isMeasuring(): boolean;
  /** An answer to a measured `command` request. `code` is "OK" or the failure's code. */
  recordAnswer(command: string, code: string, latencyUs: number, message: string | null): void;
  /** Measured requests that will never be answered (connection lost, run drained). */
  recordLost(code: string, count: number, message: string): void;
  /** Any answer, measured or warmup: for the progress line and the stall detector. */
  noteAnswers(count: number, nowMs: number): void;
  /** This connection has nothing in flight and cannot send more, or has died. */
  onIdle(): void;
}

export const HELLO_TIMEOUT_MS = 5_000;
const CLIENT_NAME = "sinkron-bench";
/** HELLO's id; load ids start above it (seq ≥ 1), so a late or stray HELLO answer is caught. */
const HELLO_ID = 1;

export class LoadConnection {
  private socket: Socket<undefined> | null = null;
  private readonly writer = new FrameWriter(16 * 1024);
  private readonly decoder = new FrameDecoder();
  /** OK answers still to count unchecked before the next checked one (Workload.checkEvery). */
  private uncheckedLeft = 0;
  private readonly encoder = new RequestEncoder();
  // Slot `s` carries ids ≡ s+1 (mod slotCount): an answer finds its slot by arithmetic, and
  // the stored id rejects a duplicate or unknown one. Out-of-order answers are fine.
  private readonly slotCount: number;
  private readonly slotIds: Uint32Array;
  private readonly slotSentMs: Float64Array;
  private readonly slotMeasured: Uint8Array;
  private readonly slotRequests: (BenchRequest | undefined)[];
  private readonly freeSlots: Int32Array;
  private freeCount: number;
  private readonly seqMax: number;
  private seq = 1;
  private waitingForDrain = false;
  private isLoading = false;
  private isDead = false;
  private hello: { resolve: () => void; reject: (error: Error) => void } | null = null;
  /** Last error pushed by the server (id 0), used to explain a close. */
  private lastPushMessage: string | null = null;

  constructor(
    private readonly sink: LoadSink,
    private readonly workload: Workload,
    pipelineDepth: number,
  ) {
    this.slotCount = pipelineDepth;
    this.slotIds = new Uint32Array(pipelineDepth);
    this.slotSentMs = new Float64Array(pipelineDepth);
    this.slotMeasured = new Uint8Array(pipelineDepth);
    this.slotRequests = new Array<BenchRequest | undefined>(pipelineDepth).fill(undefined);
    this.freeSlots = new Int32Array(pipelineDepth);
    for (let s = 0; s < pipelineDepth; s++) this.freeSlots[s] = pipelineDepth - 1 - s;
    this.freeCount = pipelineDepth;
    this.seqMax = Math.floor(REQUEST_ID_MAX / pipelineDepth) - 1;
  }

  get inflight(): number {
    return this.slotCount - this.freeCount;
  }

  get isClosed(): boolean {
    return this.isDead;
  }

  /** Connects and says HELLO (with the token, if any); rejects with the reason. */
  async open(target: Address, token: string | null): Promise<void> {
    this.socket = await Bun.connect({
      hostname: target.host,
      port: target.port,
      socket: {
        data: (_socket, chunk) => this.onData(chunk),
        drain: () => this.onDrain(),
        close: () => this.onClosed("the server closed the connection"),
        error: (_socket, error) => this.onClosed(`socket error: ${error.message}`),
      },
    });
    this.socket.setNoDelay(true);
    const args: Record<string, unknown> = { version: PROTOCOL_VERSION, name: CLIENT_NAME };
    if (token !== null) args.token = token;
    const answered = new Promise<void>((resolve, reject) => (this.hello = { resolve, reject }));
    this.writer.appendPayload(encodeValue([HELLO_ID, "HELLO", args]));
    this.flush();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer to HELLO within ${HELLO_TIMEOUT_MS} ms`)), HELLO_TIMEOUT_MS);
    });
    try {
      await Promise.race([answered, timeout]);
    } finally {
      clearTimeout(timer);
      this.hello = null;
    }
  }

  /** Starts the closed loop: fills the pipeline and refills it as answers arrive. */
  startLoad(): void {
    this.isLoading = true;
    this.fill();
  }

  /** Stops the loop and closes; answers still in flight are no longer looked at. */
  close(): void {
    this.isLoading = false;
    this.isDead = true;
    this.socket?.end();
  }

  /** Measured requests still unanswered; the run counts them when it gives up waiting. */
  measuredInflight(): number {
    let count = 0;
    for (let s = 0; s < this.slotCount; s++) if (this.slotIds[s] !== 0 && this.slotMeasured[s] === 1) count++;
    return count;
  }

  private onData(chunk: Uint8Array): void {
    // After close() the run's numbers are final; bytes still arriving are not counted.
    if (this.isDead) return;
    const nowMs = performance.now();
    this.decoder.push(chunk);
    let answers = 0;
    for (;;) {
      const result = this.decoder.next();
      if (result.kind === "need-more") break;
      if (result.kind === "too-large") {
        this.die("BAD_RESPONSE", `the server sent a frame of ${result.sizeBytes} bytes, above the limit`);
        return;
      }
      if (!this.onFrame(result.payload, nowMs)) return;
      answers++;
    }
    if (answers > 0) this.sink.noteAnswers(answers, nowMs);
    if (this.isLoading) this.fill();
  }

  /** Handles one frame; false when the connection had to be given up. */
  private onFrame(payload: Uint8Array, nowMs: number): boolean {
    if (this.uncheckedLeft > 0 && this.hello === null) {
      const envelope = peekOkEnvelope(payload);
      if (envelope !== null) {
        this.uncheckedLeft--;
        return this.onAnswer(envelope, "OK", SKIPPED, nowMs);
      }
    } else if (this.hello === null) this.uncheckedLeft = (this.workload.checkEvery ?? 1) - 1;
    let value: unknown;
    try {
      value = decodeValue(payload);
    } catch (error) {
      this.die("BAD_RESPONSE", `the server sent a frame that is not MessagePack: ${(error as Error).message}`);
      return false;
    }
    const response = parseResponse(value);
    if (!response.ok) {
      this.die("BAD_RESPONSE", response.message);
      return false;
    }
    if (response.id === PUSH_ID) {
      this.lastPushMessage = `${response.status}: ${messageOf(response.value) ?? "(no message)"}`;
      return true;
    }
    if (this.hello !== null) {
      if (response.id !== HELLO_ID) {
        this.die("BAD_RESPONSE", `the server answered id ${response.id} before HELLO`);
        return false;
      }
      if (response.status === "OK") this.hello.resolve();
      else this.hello.reject(new Error(`HELLO refused: ${response.status}: ${messageOf(response.value) ?? ""}`));
      return true;
    }
    return this.onAnswer(response.id, response.status, response.value, nowMs);
  }

  private onAnswer(id: RequestId, status: string, value: unknown, nowMs: number): boolean {
    const slot = (id - 1) % this.slotCount;
    if (this.slotIds[slot] !== id) {
      this.die("BAD_RESPONSE", `the server answered id ${id}, which is not in flight`);
      return false;
    }
    const request = this.slotRequests[slot]!;
    if (this.slotMeasured[slot] === 1) {
      const latencyUs = (nowMs - this.slotSentMs[slot]!) * 1000;
      const command = request[0];
      if (status !== "OK") this.sink.recordAnswer(command, status, latencyUs, messageOf(value));
      else if (value !== SKIPPED && this.workload.check !== undefined && !this.workload.check(request, value)) {
        this.sink.recordAnswer(command, "UNEXPECTED_VALUE", latencyUs, `unexpected answer to ${command}: ${preview(value)}`);
      } else this.sink.recordAnswer(command, "OK", latencyUs, null);
    }
    if (value !== SKIPPED) this.workload.onAnswer?.(request, status, value);
    this.slotIds[slot] = 0;
    this.slotRequests[slot] = undefined;
    this.freeSlots[this.freeCount++] = slot;
    return true;
  }

  private fill(): void {
    if (this.freeCount > 0 && !this.isDead) {
      const nowMs = performance.now();
      while (this.freeCount > 0) {
        if (this.sink.takeTicket()) this.send(nowMs, this.sink.isMeasuring());
        // Past the end, only what undoes state this connection made (a lock's release) still goes.
        else if (this.workload.hasFollowUp?.() === true) this.send(nowMs, false);
        else break;
      }
      this.flush();
    }
    if (this.freeCount === this.slotCount) this.sink.onIdle();
  }

  private send(nowMs: number, isMeasured: boolean): void {
    const slot = this.freeSlots[--this.freeCount]!;
    if (this.seq > this.seqMax) this.seq = 1;
    const id = this.seq++ * this.slotCount + slot + 1;
    const request = this.workload.next();
    this.writer.appendPayload(this.encoder.encode(id, request));
    this.slotIds[slot] = id;
    this.slotSentMs[slot] = nowMs;
    this.slotMeasured[slot] = isMeasured ? 1 : 0;
    this.slotRequests[slot] = request;
  }

  private flush(): void {
    const socket = this.socket;
    if (socket === null) return;
    // Bun's write takes what the kernel accepts and drops the rest (STYLE.md): keep the tail.
    while (this.writer.pendingBytes > 0 && !this.waitingForDrain) {
      const pending = this.writer.pending();
      const written = socket.write(pending);
      if (written > 0) this.writer.consumed(written);
      if (written < pending.byteLength) this.waitingForDrain = true;
    }
  }

  private onDrain(): void {
    this.waitingForDrain = false;
    this.flush();
  }

  private onClosed(reason: string): void {
    if (this.isDead) return;
    const detail = this.lastPushMessage === null ? reason : `${reason} (${this.lastPushMessage})`;
    this.die("CONNECTION_CLOSED", detail);
  }

  private die(code: string, message: string): void {
    if (this.isDead) return;
    this.isDead = true;
    this.isLoading = false;
    this.hello?.reject(new Error(message));
    const lost = this.measuredInflight();
    if (lost > 0) this.sink.recordLost(code, lost, message);
    this.slotIds.fill(0);
    this.slotRequests.fill(undefined);
    this.freeCount = this.slotCount;
    this.socket?.end();
    this.sink.onIdle();
  }
}

function messageOf(value: unknown): string | null {
  if (value !== null && typeof value === "object" && "message" in value) {
    const message = (value as { message: unknown }).message;
    if (typeof message === "string") return message;
  }
  return null;
}

function preview(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** Stands for the value of an answer counted without decoding it. */
const SKIPPED: unique symbol = Symbol("skipped");

/**
 * The id of `[id, "OK", value]` read from its first bytes without decoding the value, or null
 * for anything else (another status, an id of an unexpected width): those are decoded whole.
 */
function peekOkEnvelope(payload: Uint8Array): number | null {
  if (payload.length < 5 || payload[0] !== 0x93) return null;
  let at = 1;
  const head = payload[at++]!;
  let id: number;
  if (head < 0x80) id = head;
  else if (head === 0xcc) id = payload[at++]!;
  else if (head === 0xcd) {
    id = (payload[at]! << 8) | payload[at + 1]!;
    at += 2;
  } else if (head === 0xce) {
    id = ((payload[at]! << 24) >>> 0) + ((payload[at + 1]! << 16) | (payload[at + 2]! << 8) | payload[at + 3]!);
    at += 4;
  } else return null;
  return at + 3 <= payload.length && payload[at] === 0xa2 && payload[at + 1] === 0x4f && payload[at + 2] === 0x4b ? id : null;
}
