// A SinkronNode in its own process, for tests and measurements that must not share an
// event loop with the client. Prints "PORT <n>" on stdout once listening; stops on SIGTERM.
// usage: bun test/client/support/node-process.ts [port] [token]
import { SinkronNode } from "../../../src/node/node.ts";
import { silentLogger } from "../../../src/util/log.ts";

const port = Number(process.argv[2] ?? 0);
const token = process.argv[3] ?? null;
const node = new SinkronNode(
  {
    id: "n1",
    listen: { host: "127.0.0.1", port },
    peers: [{ id: "n1", address: `127.0.0.1:${port}` }],
    dataDir: "/tmp/sinkron-client-node",
    http: null,
    redisUrl: null,
    token,
    limits: {},
  },
  silentLogger,
);
node.start();
process.stdout.write(`PORT ${node.port}\n`);
const stop = async () => {
  await node.stop();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
