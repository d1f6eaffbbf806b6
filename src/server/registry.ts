// The dispatch table services plug into: a command's catalog entry (name, schema, docs) and
// its handler. A handler returns a value or a promise of one, or throws a SinkronError.
import type { CommandInfo } from "../protocol/commands.ts";
import type { Args } from "../protocol/envelope.ts";
import type { Parsed, Shape } from "../protocol/schema.ts";
import { SinkronError } from "../protocol/errors.ts";

export interface ConnectionInfo {
  readonly id: number;
  readonly remote: string;
  name: string | null;
  authenticated: boolean;
  /** The node id a cluster member gave in HELLO; null for clients. */
  readonly peerId: string | null;
  /** Records a cluster member's HELLO: its id, and the larger frame limit members get. */
  becomePeer(peerId: string): void;
  /** Aborted when the connection closes: a command that waits on the client's behalf stops. */
  readonly closeSignal: AbortSignal;
}

export interface CommandContext {
  readonly connection: ConnectionInfo;
  /** Sends a server-initiated frame `[0, kind, value]` on this connection. */
  push(kind: string, value: unknown): void;
}

export type Handler = (args: Args, ctx: CommandContext) => unknown;

/** Internal commands run only on a connection a cluster member opened (HELLO with `peer`). */
export function requirePeer(ctx: CommandContext, command: string): void {
  if (ctx.connection.peerId === null) throw new SinkronError("UNAUTHORIZED", `${command} is for cluster members`);
}

export interface Command {
  readonly info: CommandInfo;
  readonly handler: Handler;
}

export class CommandRegistry {
  private readonly commands = new Map<string, Command>();

  /** `handler` receives args already validated by `info.args`. */
  register<S extends Shape>(info: CommandInfo<S>, handler: (args: Parsed<S>, ctx: CommandContext) => unknown): void {
    if (this.commands.has(info.name)) throw new Error(`command ${info.name} registered twice`);
    this.commands.set(info.name, { info: info as unknown as CommandInfo, handler: handler as Handler });
  }

  get(name: string): Command | undefined {
    return this.commands.get(name);
  }

  names(): string[] {
    return [...this.commands.keys()].sort();
  }
}
