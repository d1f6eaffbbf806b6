// The one MessagePack codec of the process. `useRecords: false` keeps frames plain
// MessagePack any language decodes (records are a msgpackr extension); `variableMapSize`
// gives small maps the smallest header, so our bytes match other encoders' for golden vectors.
import { Packr } from "msgpackr";

export const msgpack = new Packr({ useRecords: false, variableMapSize: true, moreTypes: false });

export function encodeValue(value: unknown): Uint8Array {
  return msgpack.pack(value);
}

/** Decodes exactly one value; throws when the bytes hold less or more than one value. */
export function decodeValue(bytes: Uint8Array): unknown {
  return msgpack.unpack(bytes);
}
