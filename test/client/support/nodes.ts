// Helpers for client tests against real, in-process SinkronNodes.
import { SinkronNode } from "../../../src/node/node.ts";
import { silentLogger } from "../../../src/util/log.ts";

export function startNode(options: { id?: string; port?: number; token?: string | null } = {}): SinkronNode {
  const id = options.id ?? "n1";
  const port = options.port ?? 0;
  const node = new SinkronNode(
    {
      id,
      listen: { host: "127.0.0.1", port },
      peers: [{ id, address: `127.0.0.1:${port}` }],
      dataDir: `/tmp/sinkron-client-test-${id}`,
      http: null,
      redisUrl: null,
      token: options.token ?? null,
      limits: { shutdownGraceMs: 200 },
    },
    silentLogger,
  );
  node.start();
  return node;
}

export const addressOf = (node: SinkronNode): string => `127.0.0.1:${node.port}`;

/** Polls `predicate` every 5 ms until true; throws after `timeoutMs`. */
export async function waitFor(predicate: () => boolean, timeoutMs = 3000, what = "condition"): Promise<void> {
  const deadlineMs = performance.now() + timeoutMs;
  while (!predicate()) {
    if (performance.now() > deadlineMs) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(5);
  }
}

/** Resolves to the SinkronError (or other error) a promise rejects with; fails if it resolves. */
export async function rejectionOf(promise: Promise<unknown>): Promise<{ code?: string; message: string; details?: Record<string, unknown> }> {
  try {
    const value = await promise;
    throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
  } catch (error) {
    return error as { code?: string; message: string };
  }
}

/** A port that was free a moment ago (listen on 0, read it, close). */
export function freePort(): number {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = listener.port;
  listener.stop(true);
  return port;
}
