// The catalog of commands: name, one-line summary, argument schema and result shape. The
// server validates with these schemas, the REPL prints them as help and completes the names,
// and PROTOCOL.md documents the same table. Services add their commands here as they land.
import { int, optional, schema, str, type Schema, type Shape } from "./schema.ts";

export const PROTOCOL_VERSION = 1;

export interface CommandInfo<S extends Shape = Shape> {
  readonly name: string;
  readonly summary: string;
  readonly args: Schema<S>;
  /** The shape of the `OK` value, as documentation. */
  readonly result: string;
  /** Commands a connection may send before a successful HELLO when the node has a token. */
  readonly allowedBeforeAuth?: boolean;
}

export const NODE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export const HELLO = {
  name: "HELLO",
  summary: "introduce the connection: protocol version, optional auth token and a name for logs",
  args: schema({
    version: int("protocol version the client speaks", { min: 1, max: 1_000_000 }),
    token: optional(str("shared secret, required when the node was started with --token", { bytesMax: 4096 })),
    name: optional(str("client name shown in logs and connection lists", { bytesMax: 128 })),
  }),
  result: "{server: \"sinkron\", version, node, role}",
  allowedBeforeAuth: true,
} satisfies CommandInfo;

export const PING = {
  name: "PING",
  summary: "liveness check; answers PONG",
  args: schema({}),
  result: "\"PONG\"",
  allowedBeforeAuth: true,
} satisfies CommandInfo;

export const STATUS = {
  name: "STATUS",
  summary: "this node's view of the cluster",
  args: schema({}),
  result: "{node, role, term, leader, commitIndex, appliedIndex, members}",
} satisfies CommandInfo;

export const CORE_COMMANDS: readonly CommandInfo[] = [HELLO, PING, STATUS];
