// The receiving end of the peer transport: RAFT.MSG carries a batch of Raft messages from a
// member that introduced itself with HELLO {peer} (as a request), or from a member we
// connected to (as a push on our connection). Each message is checked before it reaches
// the core, and binary payloads are copied out of the socket's chunk so the log does not pin
// network buffers in memory.
import { RAFT_MSG } from "../protocol/commands.ts";
import { SinkronError } from "../protocol/errors.ts";
import type { Message } from "../raft/index.ts";
import type { CommandRegistry } from "../server/registry.ts";
import { checkRaftMessage } from "./raft-message-check.ts";

export interface RaftTransportHost {
  /** This node's id (set once, when the node is built). */
  selfId: string;
  /** Whether `id` is a member this node knows (founder, address-book entry, voter or learner). */
  isMember(id: string): boolean;
  deliver(message: Message): void;
}

export function registerRaftTransportCommand(registry: CommandRegistry, host: RaftTransportHost): void {
  registry.register(RAFT_MSG, (args, ctx) => {
    const peer = ctx.connection.peerId;
    if (peer === null) throw new SinkronError("UNAUTHORIZED", "RAFT.MSG is for cluster members: say HELLO with `peer` first");
    if (args.from !== peer) throw new SinkronError("BAD_REQUEST", `RAFT.MSG from '${args.from}' on the connection of '${peer}'`);
    acceptRaftBatch(host, peer, args.msgs);
    return null;
  });
}

/**
 * Checks a batch of Raft messages from member `peer` and hands them to the core, all or none.
 * Used for RAFT.MSG requests and for RAFT.MSG pushes arriving on a connection we opened to
 * that member. Throws a SinkronError naming what is wrong.
 */
export function acceptRaftBatch(host: RaftTransportHost, peer: string, msgs: unknown): void {
  // The token authenticates the connection; membership decides whether its Raft traffic counts.
  if (!host.isMember(peer)) throw new SinkronError("UNAUTHORIZED", `'${peer}' is not a member of this cluster`);
  if (!Array.isArray(msgs)) throw new SinkronError("BAD_REQUEST", "argument 'msgs' must be an array of Raft messages");
  for (let i = 0; i < msgs.length; i++) {
    const problem = checkRaftMessage(msgs[i], host.selfId, peer);
    if (problem !== null) throw new SinkronError("BAD_REQUEST", `Raft message ${i} refused: ${problem}`, { index: i });
  }
  for (const message of msgs as Message[]) host.deliver(ownPayloads(message));
}

function ownPayloads(message: Message): Message {
  if (message.type === "Append") {
    for (const entry of message.entries) entry.data = entry.data.slice();
  } else if (message.type === "Snapshot") {
    message.snapshot.data = message.snapshot.data.slice();
  }
  return message;
}
