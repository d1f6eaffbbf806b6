// Lock safety on real processes: clients on every node contend for a few locks while the
// leader is killed with kill -9 and restarted. An independent check over the recorded history
// (acknowledged grants and the release calls that ended them) finds no two overlapping
// exclusive holds, no shared hold overlapping an exclusive one, and fencing tokens that only
// grow; and every request got an answer.
import { afterEach, expect, test } from "bun:test";
import { connect, SinkronError, type SinkronClient } from "../../src/client/index.ts";
import { ProcessCluster } from "../helpers/process-cluster.ts";

const DURATION_MS = Number(process.env.SINKRON_LOCK_CHAOS_MS ?? 6000);
const LOCKS = ["resource-A", "resource-B", "resource-C"];

interface Hold {
  lock: string;
  owner: string;
  mode: "shared" | "exclusive";
  token: number;
  grantedAtMs: number;
  releasedAtMs: number;
}

let cluster: ProcessCluster | null = null;
afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

/** Retries a call whose outcome is unknown (the node died under it); the lock ops are idempotent per owner. */
async function untilKnown<T>(call: () => Promise<T>, deadlineMs: number): Promise<T> {
  for (;;) {
    try {
      return await call();
    } catch (error) {
      if (!(error instanceof SinkronError) || error.code !== "UNAVAILABLE" || performance.now() > deadlineMs) throw error;
      await Bun.sleep(50);
    }
  }
}

test(`locks under kill -9 of the leader: no overlapping holds, tokens only grow (${DURATION_MS} ms)`, async () => {
  cluster = await ProcessCluster.start(3);
  const holds: Hold[] = [];
  const outcomes = new Map<string, number>();
  const clients: SinkronClient[] = [];
  let running = true;

  const worker = async (w: number) => {
    const nodes = cluster!.addresses();
    const client = await connect({ nodes: [...nodes.slice(w % 3), ...nodes.slice(0, w % 3)], nodeOrder: "in-order", requestTimeoutMs: 4000, reconnect: { backoffMsMin: 20, backoffMsMax: 200 } });
    clients.push(client);
    for (let round = 0; running; round++) {
      const lock = LOCKS[(w + round) % LOCKS.length]!;
      const mode = (w + round) % 4 === 0 ? "shared" : "exclusive";
      const owner = `w${w}-r${round}`;
      const endMs = performance.now() + 15_000;
      let grant;
      try {
        grant = await untilKnown(() => client.lock.acquire({ name: lock, mode, owner, waitMs: 2000, ttlMs: 5000 }), endMs);
      } catch (error) {
        const code = error instanceof SinkronError ? error.code : "THROWN";
        outcomes.set(code, (outcomes.get(code) ?? 0) + 1);
        continue;
      }
      const grantedAtMs = performance.now();
      outcomes.set("GRANTED", (outcomes.get("GRANTED") ?? 0) + 1);
      await Bun.sleep(5 + ((w * 7 + round) % 20));
      const releasedAtMs = performance.now();
      holds.push({ lock, owner, mode, token: grant.token, grantedAtMs, releasedAtMs });
      await untilKnown(() => client.lock.release({ name: lock, owner }), performance.now() + 15_000).catch((error: SinkronError) => {
        if (error.code !== "NOT_FOUND") throw error; // a retried release that already took effect
      });
    }
  };

  const workers = Array.from({ length: 9 }, (_, w) => worker(w));
  await Bun.sleep(1500);
  const leader = await cluster.waitForLeader();
  cluster.kill9(leader);
  await Bun.sleep(1500);
  cluster.spawn(leader);
  await Bun.sleep(Math.max(0, DURATION_MS - 3000));
  running = false;
  await Promise.all(workers);
  await Promise.all(clients.map((c) => c.close()));
  console.log(`locks: ${holds.length} holds; outcomes ${JSON.stringify(Object.fromEntries(outcomes))}`);
  expect(holds.length).toBeGreaterThan(20);

  for (const lock of LOCKS) {
    const mine = holds.filter((h) => h.lock === lock).sort((a, b) => a.grantedAtMs - b.grantedAtMs);
    for (let i = 0; i < mine.length; i++) {
      for (let j = i + 1; j < mine.length && mine[j]!.grantedAtMs < mine[i]!.releasedAtMs; j++) {
        const [a, b] = [mine[i]!, mine[j]!];
        if (a.mode === "exclusive" || b.mode === "exclusive") {
          throw new Error(`overlapping holds of ${lock}: ${JSON.stringify(a)} and ${JSON.stringify(b)}`);
        }
      }
    }
    // Each exclusive grant's token is above every token granted before it was acknowledged.
    let highest = 0;
    for (const hold of mine) {
      if (hold.mode === "exclusive") expect(hold.token).toBeGreaterThan(highest);
      highest = Math.max(highest, hold.token);
    }
  }
}, 90_000);
