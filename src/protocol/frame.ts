// Length-prefixed framing (DESIGN.md "Wire protocol"): 4-byte big-endian length N, then N
// bytes of one MessagePack value. The decoder accepts the byte stream cut anywhere, keeps
// state across chunks, and hands out a frame as a view into the chunk when it lies inside
// one — it only copies a frame that straddles chunks. Memory follows the bytes that really
// arrived, never the length a peer claims, so a lying header cannot make us allocate 16 MiB.
import { encodeSmallInto, SMALL_ENCODED_BYTES_MAX } from "./msgpack.ts";

export const FRAME_HEADER_BYTES = 4;
/** The default and the hard ceiling of a frame's payload size. */
export const FRAME_BYTES_MAX_DEFAULT = 16 * 1024 * 1024;
export const FRAME_BYTES_LIMIT = 0xffff_ffff;

export type FrameResult =
  | { kind: "frame"; payload: Uint8Array }
  | { kind: "need-more" }
  | { kind: "too-large"; sizeBytes: number };

const NEED_MORE: FrameResult = { kind: "need-more" };
const EMPTY = new Uint8Array(0);
const ASSEMBLY_BYTES_MIN = 64 * 1024;

export class FrameDecoder {
  private frameBytesMax: number;
  /** Chunks not yet consumed; the first is read from `headOffset`. */
  private chunks: Uint8Array[] = [];
  private headOffset = 0;
  private buffered = 0;
  /** A frame being assembled from several chunks: its size, a buffer grown as bytes arrive. */
  private assemblySizeBytes = -1;
  private assembly: Uint8Array = EMPTY;
  private assemblyFilled = 0;
  private readonly header = new Uint8Array(FRAME_HEADER_BYTES);

  constructor(frameBytesMax: number = FRAME_BYTES_MAX_DEFAULT) {
    if (!Number.isInteger(frameBytesMax) || frameBytesMax < 1 || frameBytesMax > FRAME_BYTES_LIMIT) {
      throw new RangeError(`frameBytesMax must be an integer in 1..${FRAME_BYTES_LIMIT}`);
    }
    this.frameBytesMax = frameBytesMax;
  }

  /** Changes the limit for frames not yet started (a connection that proved to be a peer). */
  setFrameBytesMax(frameBytesMax: number): void {
    if (!Number.isInteger(frameBytesMax) || frameBytesMax < 1 || frameBytesMax > FRAME_BYTES_LIMIT) {
      throw new RangeError(`frameBytesMax must be an integer in 1..${FRAME_BYTES_LIMIT}`);
    }
    this.frameBytesMax = frameBytesMax;
  }

  /** Bytes received but not yet returned as frames (including a partly assembled frame). */
  get bufferedBytes(): number {
    return this.buffered + this.assemblyFilled;
  }

  push(chunk: Uint8Array): void {
    if (chunk.byteLength === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.byteLength;
  }

  next(): FrameResult {
    if (this.assemblySizeBytes >= 0) return this.continueAssembly();
    if (this.buffered < FRAME_HEADER_BYTES) return NEED_MORE;
    const sizeBytes = this.readHeader();
    if (sizeBytes > this.frameBytesMax) return { kind: "too-large", sizeBytes };
    const head = this.chunks[0];
    if (head !== undefined && head.byteLength - this.headOffset >= sizeBytes) {
      const payload = head.subarray(this.headOffset, this.headOffset + sizeBytes);
      this.consume(sizeBytes);
      return { kind: "frame", payload };
    }
    this.assemblySizeBytes = sizeBytes;
    this.assemblyFilled = 0;
    return this.continueAssembly();
  }

  /** Drops everything buffered (used when the connection is closed). */
  reset(): void {
    this.chunks = [];
    this.headOffset = 0;
    this.buffered = 0;
    this.assemblySizeBytes = -1;
    this.assembly = EMPTY;
    this.assemblyFilled = 0;
  }

  /** True while part of a frame has arrived and the rest has not. */
  get hasPartialFrame(): boolean {
    return this.assemblySizeBytes >= 0 || this.buffered > 0;
  }

  private readHeader(): number {
    const head = this.chunks[0]!;
    if (head.byteLength - this.headOffset >= FRAME_HEADER_BYTES) {
      const o = this.headOffset;
      const size = ((head[o]! << 24) >>> 0) + ((head[o + 1]! << 16) | (head[o + 2]! << 8) | head[o + 3]!);
      this.consume(FRAME_HEADER_BYTES);
      return size;
    }
    this.copyOut(this.header, 0, FRAME_HEADER_BYTES);
    const h = this.header;
    return ((h[0]! << 24) >>> 0) + ((h[1]! << 16) | (h[2]! << 8) | h[3]!);
  }

  private continueAssembly(): FrameResult {
    const sizeBytes = this.assemblySizeBytes;
    const take = Math.min(sizeBytes - this.assemblyFilled, this.buffered);
    const needed = this.assemblyFilled + take;
    if (needed > this.assembly.byteLength) {
      // Grow geometrically, capped at the frame size: copies stay O(n) in the bytes received.
      const grown = new Uint8Array(Math.min(sizeBytes, Math.max(needed, ASSEMBLY_BYTES_MIN, this.assembly.byteLength * 2)));
      grown.set(this.assembly.subarray(0, this.assemblyFilled));
      this.assembly = grown;
    }
    this.copyOut(this.assembly, this.assemblyFilled, take);
    this.assemblyFilled = needed;
    if (needed < sizeBytes) return NEED_MORE;
    const payload = this.assembly.subarray(0, sizeBytes);
    this.assemblySizeBytes = -1;
    this.assembly = EMPTY;
    this.assemblyFilled = 0;
    return { kind: "frame", payload };
  }

  /** Copies `count` buffered bytes into `target` at `at`, consuming them. */
  private copyOut(target: Uint8Array, at: number, count: number): void {
    let done = 0;
    while (done < count) {
      const head = this.chunks[0]!;
      const n = Math.min(count - done, head.byteLength - this.headOffset);
      target.set(head.subarray(this.headOffset, this.headOffset + n), at + done);
      done += n;
      this.consume(n);
    }
  }

  private consume(count: number): void {
    this.buffered -= count;
    this.headOffset += count;
    const head = this.chunks[0];
    if (head !== undefined && this.headOffset === head.byteLength) {
      this.chunks.shift();
      this.headOffset = 0;
    }
  }
}

/**
 * A growable byte buffer frames are appended to and written from, so one tick's frames go
 * out in one `write` (STYLE.md: a write per response costs ~7x in round trips). Bun's
 * `socket.write` takes what the kernel accepts and drops the rest, so the unwritten tail
 * stays here until `drain`.
 */
export class FrameWriter {
  private buf: Uint8Array;
  private view: DataView;
  private start = 0;
  private end = 0;
  private readonly initialBytes: number;

  constructor(initialBytes = 64 * 1024) {
    if (!Number.isInteger(initialBytes) || initialBytes < 1) throw new RangeError("initialBytes must be a positive integer");
    this.initialBytes = initialBytes;
    this.buf = new Uint8Array(initialBytes);
    this.view = new DataView(this.buf.buffer);
  }

  get pendingBytes(): number {
    return this.end - this.start;
  }

  /** Appends one frame holding `payload` (an already encoded MessagePack value). */
  appendPayload(payload: Uint8Array): void {
    this.reserve(FRAME_HEADER_BYTES + payload.byteLength);
    this.view.setUint32(this.end, payload.byteLength);
    this.buf.set(payload, this.end + FRAME_HEADER_BYTES);
    this.end += FRAME_HEADER_BYTES + payload.byteLength;
  }

  /**
   * Appends one response frame `[id, status, value]` whose value is already encoded: the
   * envelope's header, id and status are written here and the value's bytes copied after them.
   * `status` must be ASCII of at most 31 bytes (every status is).
   */
  appendEnvelope(id: number, status: string, encodedValue: Uint8Array): void {
    const headBytes = 1 + 5 + 1 + status.length;
    this.reserve(FRAME_HEADER_BYTES + headBytes + encodedValue.byteLength);
    const buf = this.buf;
    let at = this.end + FRAME_HEADER_BYTES;
    buf[at++] = 0x93;
    if (id < 0x80) buf[at++] = id;
    else if (id < 0x100) {
      buf[at++] = 0xcc;
      buf[at++] = id;
    } else if (id < 0x10000) {
      buf[at++] = 0xcd;
      buf[at++] = id >>> 8;
      buf[at++] = id & 0xff;
    } else {
      buf[at++] = 0xce;
      this.view.setUint32(at, id);
      at += 4;
    }
    buf[at++] = 0xa0 | status.length;
    for (let i = 0; i < status.length; i++) buf[at++] = status.charCodeAt(i);
    buf.set(encodedValue, at);
    at += encodedValue.byteLength;
    this.view.setUint32(this.end, at - this.end - FRAME_HEADER_BYTES);
    this.end = at;
  }

  /** The size of the frame payload appendEnvelope writes. */
  static envelopeBytes(id: number, status: string, encodedValue: Uint8Array): number {
    return 1 + (id < 0x80 ? 1 : id < 0x100 ? 2 : id < 0x10000 ? 3 : 5) + 1 + status.length + encodedValue.byteLength;
  }

  /**
   * Appends one frame holding `value` encoded straight into the buffer, when it is a small
   * value (msgpack.ts); returns false, appending nothing, otherwise. Saves an encode buffer
   * and a copy for the tiny answers most frames are ([id, "OK", "PONG"]).
   */
  appendSmallValue(value: unknown): boolean {
    this.reserve(FRAME_HEADER_BYTES + SMALL_ENCODED_BYTES_MAX);
    const sizeBytes = encodeSmallInto(value, this.buf, this.end + FRAME_HEADER_BYTES);
    if (sizeBytes < 0) return false;
    this.view.setUint32(this.end, sizeBytes);
    this.end += FRAME_HEADER_BYTES + sizeBytes;
    return true;
  }

  /** The bytes waiting to be written; valid until the next append or `consumed`. */
  pending(): Uint8Array {
    return this.buf.subarray(this.start, this.end);
  }

  consumed(count: number): void {
    this.start += count;
    if (this.start === this.end) {
      this.start = 0;
      this.end = 0;
    }
  }

  /** Drops all pending bytes and shrinks a buffer that grew for a burst. */
  clear(): void {
    this.start = 0;
    this.end = 0;
    if (this.buf.byteLength > this.initialBytes) {
      this.buf = new Uint8Array(this.initialBytes);
      this.view = new DataView(this.buf.buffer);
    }
  }

  private reserve(count: number): void {
    if (this.end + count <= this.buf.byteLength) return;
    const live = this.end - this.start;
    if (live + count <= this.buf.byteLength / 2) {
      this.buf.copyWithin(0, this.start, this.end);
    } else {
      let size = this.buf.byteLength * 2;
      while (size < live + count) size *= 2;
      const next = new Uint8Array(size);
      next.set(this.buf.subarray(this.start, this.end));
      this.buf = next;
      this.view = new DataView(next.buffer);
    }
    this.start = 0;
    this.end = live;
  }
}

/** One frame as a fresh buffer: header + payload. For tests and one-off writes. */
export function frameOf(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER_BYTES + payload.byteLength);
  new DataView(out.buffer).setUint32(0, payload.byteLength);
  out.set(payload, FRAME_HEADER_BYTES);
  return out;
}
