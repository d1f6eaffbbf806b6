// Little-endian byte writer and reader for the WAL and snapshot formats. The writer grows one
// buffer and is reused across syncs so a tick's records cost one copy each and no allocation.

const U32_SPAN = 0x1_0000_0000;

export class ByteWriter {
  private buffer: Uint8Array;
  private view: DataView;
  length = 0;

  constructor(initialBytes = 64 * 1024) {
    this.buffer = new Uint8Array(initialBytes);
    this.view = new DataView(this.buffer.buffer);
  }

  /** The bytes written so far; a view, valid until the next write or reset. */
  bytes(): Uint8Array {
    return this.buffer.subarray(0, this.length);
  }

  get capacityBytes(): number {
    return this.buffer.length;
  }

  /** Forget the contents; give back a buffer that one large tick grew beyond `keepBytesMax`. */
  reset(keepBytesMax: number): void {
    this.length = 0;
    if (this.buffer.length > keepBytesMax) {
      this.buffer = new Uint8Array(keepBytesMax);
      this.view = new DataView(this.buffer.buffer);
    }
  }

  /** Drop everything written after `length` (used to undo a half-encoded record). */
  truncate(length: number): void {
    this.length = length;
  }

  ensure(extraBytes: number): void {
    const needed = this.length + extraBytes;
    if (needed <= this.buffer.length) return;
    let capacity = this.buffer.length * 2;
    while (capacity < needed) capacity *= 2;
    const grown = new Uint8Array(capacity);
    grown.set(this.buffer.subarray(0, this.length));
    this.buffer = grown;
    this.view = new DataView(grown.buffer);
  }

  u8(value: number): void {
    this.ensure(1);
    this.buffer[this.length] = value;
    this.length += 1;
  }

  u16(value: number): void {
    this.ensure(2);
    this.view.setUint16(this.length, value, true);
    this.length += 2;
  }

  u32(value: number): void {
    this.ensure(4);
    this.view.setUint32(this.length, value, true);
    this.length += 4;
  }

  /** A safe integer as u64 (low word first); callers assert the range. */
  u64(value: number): void {
    this.ensure(8);
    this.view.setUint32(this.length, value % U32_SPAN, true);
    this.view.setUint32(this.length + 4, Math.floor(value / U32_SPAN), true);
    this.length += 8;
  }

  raw(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.buffer.set(bytes, this.length);
    this.length += bytes.length;
  }

  /** Overwrite a u32 already written at `offset` (length and checksum fields). */
  patchU32(offset: number, value: number): void {
    this.view.setUint32(offset, value, true);
  }
}

/** A field runs past the end or holds an impossible value; record parsing reports it as "malformed". */
export class DecodeError extends Error {}

export class ByteReader {
  private readonly view: DataView;
  offset: number;

  constructor(
    private readonly bytes: Uint8Array,
    start = 0,
    private readonly end = bytes.length,
    view?: DataView,
  ) {
    this.view = view ?? new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.offset = start;
  }

  get remainingBytes(): number {
    return this.end - this.offset;
  }

  private take(count: number): number {
    const at = this.offset;
    if (at + count > this.end) throw new DecodeError(`read of ${count} bytes at ${at} past end ${this.end}`);
    this.offset = at + count;
    return at;
  }

  u8(): number {
    return this.view.getUint8(this.take(1));
  }

  u16(): number {
    return this.view.getUint16(this.take(2), true);
  }

  u32(): number {
    return this.view.getUint32(this.take(4), true);
  }

  u64(): number {
    const at = this.take(8);
    const high = this.view.getUint32(at + 4, true);
    // Anything above 2^53 was never written by us: treat as corruption, not as a rounded number.
    if (high > 0x1f_ffff) throw new DecodeError(`u64 at ${at} exceeds 2^53`);
    return high * U32_SPAN + this.view.getUint32(at, true);
  }

  /** A view into the source (no copy). Built directly: subarray() is several times slower. */
  raw(count: number): Uint8Array {
    const at = this.take(count);
    return new Uint8Array(this.bytes.buffer, this.bytes.byteOffset + at, count);
  }
}
