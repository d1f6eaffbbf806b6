// Concurrent clients do KV.SET and KV.GET on a few keys through different nodes while nodes
// are killed with kill -9 and restarted; the recorded history must be linearizable (checked
// per key by test/checkers). A write whose answer was lost counts as "may have happened".
import { afterEach, expect, test } from "bun:test";
import { connect, SinkronError, type SinkronClient } from "../../src/client/index.ts";
import { checkLinearizable, kvModel, type KvInput, type KvOutput, type Operation } from "../checkers/linearizability.ts";
import { ProcessCluster } from "../helpers/process-cluster.ts";

const DURATION_MS = Number(process.env.SINKRON_LINEARIZABILITY_MS ?? 6000);
const KEYS = ["a", "b", "c"];

let cluster: ProcessCluster | null = null;
afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

test(`KV history under kill -9 and restarts is linearizable (${DURATION_MS} ms)`, async () => {
  cluster = await ProcessCluster.start(3);
  const history: Operation<KvInput, KvOutput>[] = [];
  const clients: SinkronClient[] = [];
  let running = true;
  let seq = 0;

  const worker = async (w: number) => {
    // Each worker prefers its own node, and fails over to the others.
    const nodes = cluster!.addresses();
    const ordered = [...nodes.slice(w % 3), ...nodes.slice(0, w % 3)];
    const client = await connect({ nodes: ordered, nodeOrder: "in-order", requestTimeoutMs: 1500, reconnect: { backoffMsMin: 20, backoffMsMax: 200 } });
    clients.push(client);
    while (running) {
      const key = KEYS[Math.floor(Math.random() * KEYS.length)]!;
      const callMs = performance.now();
      if (Math.random() < 0.5) {
        const value = `w${w}-${seq++}`;
        try {
          await client.kv.set({ key, value });
          history.push({ key, input: { kind: "set", value }, output: null, callMs, returnMs: performance.now() });
        } catch (error) {
          if (!(error instanceof SinkronError)) throw error;
          // Unknown outcome: it may take effect at any time after the call.
          history.push({ key, input: { kind: "set", value }, output: null, callMs, returnMs: Infinity });
          await Bun.sleep(20);
        }
      } else {
        try {
          const { value } = await client.kv.get({ key });
          history.push({ key, input: { kind: "get" }, output: { value: value as string }, callMs, returnMs: performance.now() });
        } catch (error) {
          if (!(error instanceof SinkronError)) throw error;
          if (error.code === "NOT_FOUND") history.push({ key, input: { kind: "get" }, output: { value: null }, callMs, returnMs: performance.now() });
          else await Bun.sleep(20); // a failed read has no effect: leave it out
        }
      }
    }
  };

  const nemesis = async () => {
    const startedMs = performance.now();
    let round = 0;
    while (performance.now() - startedMs < DURATION_MS - 1500) {
      await Bun.sleep(1200);
      const leader = round % 2 === 0 ? await cluster!.leader() : null;
      const victim = leader ?? cluster!.ids[round % cluster!.ids.length]!;
      cluster!.kill9(victim);
      await Bun.sleep(400);
      cluster!.spawn(victim);
      round++;
    }
  };

  const workers = Array.from({ length: 6 }, (_, w) => worker(w));
  await nemesis();
  await Bun.sleep(Math.max(0, 500));
  running = false;
  await Promise.all(workers);
  await Promise.all(clients.map((c) => c.close()));

  const completed = history.filter((op) => op.returnMs !== Infinity).length;
  console.log(`linearizability: ${history.length} operations (${completed} completed, ${history.length - completed} with unknown outcome)`);
  expect(completed).toBeGreaterThan(50);
  const result = checkLinearizable(kvModel, history);
  if (result.ok !== true) console.error("not linearizable:", JSON.stringify(result));
  expect(result.ok).toBe(true);
}, 90_000);
