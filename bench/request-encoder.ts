// Encodes `[id, command, args]` cheaply for the load generator: `[command, args]` is packed
// once per distinct request object with the shared codec, and only the id is patched per
// request. The id is always written as msgpack uint32 (0xce), a valid encoding of any id, so
// the bytes stay plain MessagePack every decoder reads.
import { encodeValue } from "../src/protocol/msgpack.ts";
import type { RequestId } from "../src/protocol/envelope.ts";
import type { BenchRequest } from "./workloads.ts";

const FIXARRAY_2 = 0x92;
const FIXARRAY_3 = 0x93;
const UINT32 = 0xce;
const ID_OFFSET = 2;
const PREFIX_BYTES = 6;

export class RequestEncoder {
  private lastRequest: BenchRequest | null = null;
  private payload = new Uint8Array(0);
  private view = new DataView(this.payload.buffer);

  /** The request's payload with `id` in it; valid until the next call (the caller copies it). */
  encode(id: RequestId, request: BenchRequest): Uint8Array {
    if (request !== this.lastRequest) this.prepare(request);
    this.view.setUint32(ID_OFFSET, id);
    return this.payload;
  }

  private prepare(request: BenchRequest): void {
    const pair = encodeValue(request);
    // A 2-element array always packs as fixarray 0x92; anything else is a codec change to notice.
    if (pair[0] !== FIXARRAY_2) throw new Error("expected [command, args] to encode as a fixarray of 2");
    const payload = new Uint8Array(PREFIX_BYTES + pair.byteLength - 1);
    payload[0] = FIXARRAY_3;
    payload[1] = UINT32;
    payload.set(pair.subarray(1), PREFIX_BYTES);
    this.payload = payload;
    this.view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
    this.lastRequest = request;
  }
}
