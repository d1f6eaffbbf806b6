// The HTTP API's only way into the node: a command of the node's CommandRegistry, parsed by the
// command's own schema and run by its own handler, exactly as a binary-protocol request is.
// An HTTP request is an authenticated client connection that lives as long as the request.
import type { CommandRegistry, CommandContext, ConnectionInfo } from "../server/registry.ts";
import type { Args } from "../protocol/envelope.ts";
import { SinkronError } from "../protocol/errors.ts";
import { decodeValue, Preencoded } from "../protocol/msgpack.ts";

let nextConnectionId = 1;

export type Dispatch = (command: string, args: Args, signal: AbortSignal) => Promise<unknown>;

function httpConnection(remote: string, closeSignal: AbortSignal): ConnectionInfo {
  return {
    id: -(nextConnectionId++),
    remote,
    name: "http",
    authenticated: true,
    peerId: null,
    becomePeer() {
      throw new SinkronError("BAD_REQUEST", "an HTTP request cannot become a cluster member");
    },
    closeSignal,
  };
}

export function createDispatch(registry: CommandRegistry): Dispatch {
  return async (command, args, signal) => {
    const entry = registry.get(command);
    if (entry === undefined) throw new SinkronError("INTERNAL", `command ${command} is not registered on this node`);
    // Server-initiated pushes have no place in a request/response exchange.
    const ctx: CommandContext = { connection: httpConnection("http", signal), push() {} };
    const result = await entry.handler(entry.info.args.parse(args), ctx);
    // A handler may answer with bytes already encoded for the wire (CACHE.GET's hot path).
    return result instanceof Preencoded ? decodeValue(result.bytes) : result;
  };
}
