// Starts an in-process node on a free loopback port for tests, silent unless asked. Each node
// gets a fresh data directory; SINKRON_TEST_LOGS=1 shows its logs.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { SinkronNode } from "../../src/node/node.ts";
import type { NodeConfig } from "../../src/node/config.ts";
import { silentLogger } from "../../src/util/log.ts";

export async function startTestNode(overrides: Partial<NodeConfig> = {}): Promise<SinkronNode> {
  const node = new SinkronNode(
    {
      id: "n1",
      listen: { host: "127.0.0.1", port: 0 },
      peers: [{ id: "n1", address: "127.0.0.1:0" }],
      dataDir: mkdtempSync(path.join(tmpdir(), "sinkron-test-")),
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
