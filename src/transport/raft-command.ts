// The receiving end of the peer transport: RAFT.MSG carries a batch of Raft messages from a
// member that introduced itself with HELLO {peer}. Each message is checked before it reaches
// the core, and binary payloads are copied out of the socket's chunk so the log does not pin
// network buffers in memory.
import { RAFT_MSG } from "../protocol/commands.ts";
import { SinkronError } from "../protocol/errors.ts";
import type { Message } from "../raft/index.ts";
import type { CommandRegistry } from "../server/registry.ts";
import { checkRaftMessage } from "./raft-message-check.ts";

export interface RaftTransportHost {
  selfId: string;
  /** Whether `id` is a member this node knows (founder, address-book entry, voter or learner). */
  isMember(id: string): boolean;
  deliver(message: Message): void;
}

export function registerRaftTransportCommand(registry: CommandRegistry, host: RaftTransportHost): void {
  const selfId = host.selfId;
  registry.register(RAFT_MSG, (args, ctx) => {
    const peer = ctx.connection.peerId;
    if (peer === null) throw new SinkronError("UNAUTHORIZED", "RAFT.MSG is for cluster members: say HELLO with `peer` first");
    // The token authenticates the connection; membership decides whether its Raft traffic counts.
    if (!host.isMember(peer)) throw new SinkronError("UNAUTHORIZED", `'${peer}' is not a member of this cluster`);
    if (args.from !== peer) throw new SinkronError("BAD_REQUEST", `RAFT.MSG from '${args.from}' on the connection of '${peer}'`);
    if (!Array.isArray(args.msgs)) throw new SinkronError("BAD_REQUEST", "argument 'msgs' must be an array of Raft messages");
    for (let i = 0; i < args.msgs.length; i++) {
      const problem = checkRaftMessage(args.msgs[i], selfId, peer);
      if (problem !== null) throw new SinkronError("BAD_REQUEST", `Raft message ${i} refused: ${problem}`, { index: i });
    }
    for (const message of args.msgs as Message[]) host.deliver(ownPayloads(message));
    return null;
  });
}

function ownPayloads(message: Message): Message {
  if (message.type === "Append") {
    for (const entry of message.entries) entry.data = entry.data.slice();
  } else if (message.type === "Snapshot") {
    message.snapshot.data = message.snapshot.data.slice();
  }
  return message;
}
