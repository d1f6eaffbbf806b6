// How a LogCommand is laid out in a log entry: the leader's clock when it proposed the command,
// as a MessagePack float64 (always 9 bytes), followed by the MessagePack array [op, args, rid].
// Arrays keep entries small (no repeated key names), and the bytes after the clock are the same
// for a command and its retry, so they serve as the command's fingerprint for dedup. Entries
// written before the clock existed are the array alone; both forms decode.
import { decodeValue, encodeValue } from "../protocol/msgpack.ts";
import type { LogCommand } from "./state-machine.ts";

const FLOAT64_TAG = 0xcb;
/** Bytes of the clock prefix. */
export const COMMAND_CLOCK_BYTES = 9;

export function encodeCommand(command: LogCommand): Uint8Array {
  const body = encodeValue([command.op, command.args, command.rid]);
  if (command.atMs === undefined) return body;
  const data = new Uint8Array(COMMAND_CLOCK_BYTES + body.length);
  data[0] = FLOAT64_TAG;
  new DataView(data.buffer, data.byteOffset, COMMAND_CLOCK_BYTES).setFloat64(1, command.atMs);
  data.set(body, COMMAND_CLOCK_BYTES);
  return data;
}

export function decodeCommand(data: Uint8Array): LogCommand {
  const hasClock = data.length > COMMAND_CLOCK_BYTES && data[0] === FLOAT64_TAG;
  const value = decodeValue(hasClock ? data.subarray(COMMAND_CLOCK_BYTES) : data);
  if (!Array.isArray(value) || value.length !== 3 || typeof value[0] !== "string") {
    throw new Error("log entry does not hold a command [op, args, rid]");
  }
  const [op, args, rid] = value as [string, Record<string, unknown>, string | null];
  if (!hasClock) return { op, args, rid };
  const atMs = new DataView(data.buffer, data.byteOffset, COMMAND_CLOCK_BYTES).getFloat64(1);
  return { op, args, rid, atMs };
}

/** The bytes that say what a command is (its clock excluded): equal for a command and its retry. */
export function commandIdentityBytes(data: Uint8Array): Uint8Array {
  return data.length > COMMAND_CLOCK_BYTES && data[0] === FLOAT64_TAG ? data.subarray(COMMAND_CLOCK_BYTES) : data;
}
