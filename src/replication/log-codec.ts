// How a LogCommand is laid out in a log entry: the msgpack array [op, args, rid]. Arrays keep
// entries small (no repeated key names) and the format is plain MessagePack, so a log can be
// read by any tool.
import { decodeValue, encodeValue } from "../protocol/msgpack.ts";
import type { LogCommand } from "./state-machine.ts";

export function encodeCommand(command: LogCommand): Uint8Array {
  return encodeValue([command.op, command.args, command.rid]);
}

export function decodeCommand(data: Uint8Array): LogCommand {
  const value = decodeValue(data);
  if (!Array.isArray(value) || value.length !== 3 || typeof value[0] !== "string") {
    throw new Error("log entry does not hold a command [op, args, rid]");
  }
  const [op, args, rid] = value as [string, Record<string, unknown>, string | null];
  return { op, args, rid };
}
