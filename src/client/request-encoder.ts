// Encodes requests `[id, command, args]` as MessagePack. The envelope is written by hand
// (fixarray, smallest integer form of the id, the command's bytes cached per name) and only
// non-empty args go through the one shared Packr, so a call costs no array to pack and, for
// small requests, no allocation: the bytes land in a reused buffer of exactly the frame's
// size, which FrameWriter copies at once. Output is the same standard MessagePack msgpackr
// would produce for the whole array.
import { encodeValue } from "../protocol/msgpack.ts";

const FIXARRAY_3 = 0x93;
const EMPTY_MAP = 0x80;
const UINT8 = 0xcc;
const UINT16 = 0xcd;
const UINT32 = 0xce;
/** Requests up to this size reuse one buffer per size instead of allocating. */
const REUSED_BYTES_MAX = 256;
/** Command names are few; a client sending random names must not grow the cache forever. */
const COMMAND_CACHE_ENTRIES_MAX = 256;

export class RequestEncoder {
  private readonly commandBytes = new Map<string, Uint8Array>();
  private readonly bySize: (Uint8Array | undefined)[] = [];

  /** The request's bytes; valid until the next `encode` (copy or send them right away). */
  encode(id: number, command: string, args: Record<string, unknown>): Uint8Array {
    const commandBytes = this.commandBytesOf(command);
    const argsBytes = hasKeys(args) ? encodeValue(args) : null;
    const idBytes = id <= 0x7f ? 1 : id <= 0xff ? 2 : id <= 0xffff ? 3 : 5;
    const sizeBytes = 1 + idBytes + commandBytes.byteLength + (argsBytes === null ? 1 : argsBytes.byteLength);
    const out = sizeBytes <= REUSED_BYTES_MAX ? (this.bySize[sizeBytes] ??= new Uint8Array(sizeBytes)) : new Uint8Array(sizeBytes);
    out[0] = FIXARRAY_3;
    let at = 1;
    switch (idBytes) {
      case 1:
        out[at++] = id;
        break;
      case 2:
        out[at++] = UINT8;
        out[at++] = id;
        break;
      case 3:
        out[at++] = UINT16;
        out[at++] = id >>> 8;
        out[at++] = id & 0xff;
        break;
      default:
        out[at++] = UINT32;
        out[at++] = id >>> 24;
        out[at++] = (id >>> 16) & 0xff;
        out[at++] = (id >>> 8) & 0xff;
        out[at++] = id & 0xff;
    }
    out.set(commandBytes, at);
    at += commandBytes.byteLength;
    if (argsBytes === null) out[at] = EMPTY_MAP;
    else out.set(argsBytes, at);
    return out;
  }

  private commandBytesOf(command: string): Uint8Array {
    let bytes = this.commandBytes.get(command);
    if (bytes === undefined) {
      // encodeValue's result is a view into the Packr's shared buffer: keep a copy.
      bytes = encodeValue(command).slice();
      if (this.commandBytes.size >= COMMAND_CACHE_ENTRIES_MAX) this.commandBytes.clear();
      this.commandBytes.set(command, bytes);
    }
    return bytes;
  }
}

function hasKeys(args: Record<string, unknown>): boolean {
  for (const _ in args) return true;
  return false;
}
