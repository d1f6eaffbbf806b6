// `sinkron node`: runs one node in this process until SIGTERM/SIGINT, then shuts down
// gracefully (answers in flight are flushed, sockets closed, storage synced).
import { SinkronNode } from "../node/node.ts";
import { parseNodeConfig, NODE_OPTIONS } from "./node-config.ts";
import { formatHelp } from "./options.ts";

export const NODE_USAGE = "usage: sinkron node --id n1 --listen 127.0.0.1:7001 --peers n1=127.0.0.1:7001,n2=...,n3=... --data ./data/n1 [options]";

export async function runNode(argv: string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(formatHelp(NODE_USAGE, NODE_OPTIONS));
    return 0;
  }
  const config = parseNodeConfig(argv);
  const node = new SinkronNode(config);
  node.start();
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      node.log.info("shutting down", { signal });
      resolve();
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
  });
  await node.stop();
  return 0;
}
