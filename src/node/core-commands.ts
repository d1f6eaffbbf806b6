// HELLO, PING and STATUS: the commands every node answers regardless of its services.
import { HELLO, PING, PROTOCOL_VERSION, STATUS, type StatusResult } from "../protocol/commands.ts";
import { SinkronError } from "../protocol/errors.ts";
import type { CommandRegistry } from "../server/registry.ts";

export type NodeStatus = StatusResult;

export interface CoreCommandsHost {
  readonly nodeId: string;
  readonly token: string | null;
  /** What a member must send as `secret` in a peer HELLO; null: members are not authenticated. */
  readonly clusterSecret?: string | null;
  status(): NodeStatus;
}

export function registerCoreCommands(registry: CommandRegistry, host: CoreCommandsHost): void {
  registry.register(HELLO, (args, ctx) => {
    // Any version >= 1 is accepted: a newer client learns ours from the answer and adapts.
    if (host.token !== null) {
      if (args.token !== host.token) {
        ctx.connection.authenticated = false;
        throw new SinkronError("UNAUTHORIZED", args.token === undefined ? "this node requires a token" : "wrong token");
      }
      ctx.connection.authenticated = true;
    }
    if (args.name !== undefined) ctx.connection.name = args.name;
    if (args.peer !== undefined) {
      // Claiming a member's id makes this connection the target of that member's Raft traffic;
      // only the cluster secret proves it (the client token does not: clients know it too).
      const secret = host.clusterSecret ?? null;
      if (secret !== null && args.secret !== secret) {
        throw new SinkronError("UNAUTHORIZED", args.secret === undefined ? "a member's HELLO needs the cluster secret" : "wrong cluster secret");
      }
      ctx.connection.becomePeer(args.peer);
    }
    return { server: "sinkron", version: PROTOCOL_VERSION, node: host.nodeId, role: host.status().role };
  });
  registry.register(PING, () => "PONG");
  registry.register(STATUS, () => host.status());
}
