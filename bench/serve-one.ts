// Starts one standalone SinkronNode for benchmarks, in its own process so the load generator
// never shares its event loop:  bun bench/serve-one.ts [port (7001)] [host (127.0.0.1)]
// Prints "listening host:port" on stdout once ready; stops on SIGTERM/SIGINT.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SinkronNode } from "../src/node/node.ts";
import { silentLogger } from "../src/util/log.ts";

const port = Number(process.argv[2] ?? "7001");
const host = process.argv[3] ?? "127.0.0.1";
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write("usage: bun bench/serve-one.ts [port] [host]\n");
  process.exit(2);
}
const dataDir = mkdtempSync(join(tmpdir(), "sinkron-bench-"));
const node = new SinkronNode(
  { id: "n1", listen: { host, port }, peers: [{ id: "n1", address: `${host}:${port}` }], dataDir, http: null, redisUrl: null, token: null, limits: {} },
  silentLogger,
);
node.start();
process.stdout.write(`listening ${host}:${node.port}\n`);

let isStopping = false;
const stop = async () => {
  if (isStopping) return;
  isStopping = true;
  await node.stop();
  rmSync(dataDir, { recursive: true, force: true });
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
