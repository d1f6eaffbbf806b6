// Starts an in-process node on a free loopback port for tests, silent unless asked.
import { SinkronNode } from "../../src/node/node.ts";
import type { NodeConfig } from "../../src/node/config.ts";
import { silentLogger } from "../../src/util/log.ts";

export async function startTestNode(overrides: Partial<NodeConfig> = {}): Promise<SinkronNode> {
  const node = new SinkronNode(
    {
      id: "n1",
      listen: { host: "127.0.0.1", port: 0 },
      peers: [{ id: "n1", address: "127.0.0.1:0" }],
      dataDir: "/tmp/sinkron-test",
      http: null,
      redisUrl: null,
      token: null,
      limits: {},
      ...overrides,
    },
    process.env.SINKRON_TEST_LOGS ? undefined : silentLogger,
  );
  node.start();
  return node;
}
