// The coherent cache on real `sinkron node` processes, with the embedded store and with Redis
// (a throwaway redis-server) behind it. For each store: a pipelined workload — writes on one
// node, reads on the others — whose history is linearizable per key; and a node paused with
// SIGSTOP while it holds a line: a write elsewhere completes within about one lease, and once
// the node is resumed it never serves the old value, not even to reads that reached it while it
// was paused. With Redis, `redis-cli GET key` shows what CACHE.SET wrote.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect, SinkronError, type CacheEntry, type SinkronClient } from "../../src/client/index.ts";
import { HashRing } from "../../src/util/hash-ring.ts";
import { checkLinearizable, kvModel } from "../checkers/linearizability.ts";
import { recordCacheGet, recordCacheSet, type KvHistory } from "../helpers/outcomes.ts";
import { ProcessCluster } from "../helpers/process-cluster.ts";
import { startRedis, type RedisServer } from "../helpers/redis.ts";

const LEASE_MS = 1000;
const WORKLOAD_MS = 2500;
const KEYS = ["lin-a", "lin-b", "lin-c", "lin-d"];
/** Loops per node; each loop has one request in flight, so a node's connection carries several. */
const WRITER_LOOPS = 3;
const READER_LOOPS_PER_NODE = 3;
/** Slack for a 2-core machine running three nodes: scheduling, a Raft commit, the store write. */
const WRITE_MARGIN_MS = 2000;
const READS_WHILE_PAUSED = 5;
const READS_AFTER_RESUME = 20;
const REQUEST_TIMEOUT_MS = 8000;
const CLUSTER_TIMEOUT_MS = 40_000;
const REDIS_CLI_PATH = "/usr/bin/redis-cli";

/** Everything a test file leaves running, killed even if a test or afterAll never ran. */
const clusters = new Set<ProcessCluster>();
process.on("exit", () => {
  for (const cluster of clusters) void cluster.stop();
});

async function startCluster(extraArgs: string[]): Promise<ProcessCluster> {
  const cluster = await ProcessCluster.start(3, ["--cache-lease-ms", String(LEASE_MS), ...extraArgs]);
  clusters.add(cluster);
  return cluster;
}

async function disposeCluster(cluster: ProcessCluster | undefined): Promise<void> {
  if (cluster === undefined) return;
  // A test that failed while a node was paused must not leave it stopped (SIGKILL works anyway; this is tidier).
  for (const id of cluster.runningIds()) {
    const pid = cluster.pid(id);
    if (pid !== undefined) process.kill(pid, "SIGCONT");
  }
  await cluster.dispose();
  clusters.delete(cluster);
}

/** A client of `id` alone: no failover, so what it reads is what that node served. */
async function nodeClient(cluster: ProcessCluster, id: string, opened: SinkronClient[]): Promise<SinkronClient> {
  const client = await connect({ nodes: [cluster.address(id)], requestTimeoutMs: REQUEST_TIMEOUT_MS, reconnect: { backoffMsMin: 20, backoffMsMax: 200 } });
  opened.push(client);
  return client;
}

function keyHomedAt(home: string, label: string, ids: string[]): string {
  const ring = new HashRing(ids);
  for (let i = 0; i < 1000; i++) if (ring.owner(`${label}-${i}`) === home) return `${label}-${i}`;
  throw new Error(`no key homed at ${home}`);
}

/**
 * Once the ring is known, each home accepts writes one lease after it raised the store's epoch
 * (src/cache/README.md, "Membership changes"): write one key per home until all succeed.
 */
async function waitWritable(cluster: ProcessCluster, client: SinkronClient): Promise<void> {
  const deadlineMs = performance.now() + 20_000;
  const pending = new Set(cluster.ids);
  while (pending.size > 0) {
    for (const home of [...pending]) {
      try {
        await client.cache.set({ key: keyHomedAt(home, "warmup", cluster.ids), value: "w" });
        pending.delete(home);
      } catch (error) {
        if (!(error instanceof SinkronError) || performance.now() > deadlineMs) throw error;
        await Bun.sleep(50);
      }
    }
  }
}

/**
 * Writers on `writer`, readers on `readers`, a few keys, unique values; a CACHE.SET or CACHE.DEL
 * that failed may or may not have happened, a failed CACHE.GET happened not at all.
 */
async function runWorkload(cluster: ProcessCluster, writer: string, readers: string[], opened: SinkronClient[]) {
  const history: KvHistory = [];
  const sources = { cache: 0, store: 0, failed: 0 };
  const endMs = performance.now() + WORKLOAD_MS;
  let seq = 0;

  const writeLoop = async (client: SinkronClient, w: number) => {
    for (let i = 0; performance.now() < endMs; i++) {
      const key = KEYS[(w + i) % KEYS.length]!;
      if (i % 10 === 9) {
        const callMs = performance.now();
        try {
          const { deleted } = (await client.cache.del({ key })) as { deleted: boolean };
          history.push({ key, input: { kind: "del" }, output: { deleted }, callMs, returnMs: performance.now() });
        } catch (error) {
          if (!(error instanceof SinkronError)) throw error;
          history.push({ key, input: { kind: "del" }, output: null, callMs, returnMs: Infinity });
        }
        continue;
      }
      await recordCacheSet(history, client, key, `w${w}-${seq++}`);
    }
  };

  const readLoop = async (client: SinkronClient, r: number) => {
    for (let i = 0; performance.now() < endMs; i++) {
      const outcome = await recordCacheGet(history, client, KEYS[(r + i) % KEYS.length]!);
      if (outcome !== "not-found") sources[outcome] += 1;
    }
  };

  const writerClient = await nodeClient(cluster, writer, opened);
  const readerClients = await Promise.all(readers.map((id) => nodeClient(cluster, id, opened)));
  await Promise.all([
    ...Array.from({ length: WRITER_LOOPS }, (_, w) => writeLoop(writerClient, w)),
    ...readerClients.flatMap((client, n) => Array.from({ length: READER_LOOPS_PER_NODE }, (_, r) => readLoop(client, n * READER_LOOPS_PER_NODE + r))),
  ]);
  return { history, sources };
}

async function checkWorkload(cluster: ProcessCluster, label: string): Promise<void> {
  const opened: SinkronClient[] = [];
  try {
    const [writer, ...readers] = cluster.ids as [string, ...string[]];
    const { history, sources } = await runWorkload(cluster, writer, readers, opened);
    const completed = history.filter((op) => op.returnMs !== Infinity);
    console.log(`${label}: ${history.length} operations (${completed.length} completed); reads from cache ${sources.cache}, from store ${sources.store}, failed ${sources.failed}`);
    // Nothing fails while every node and the store are up; the hits show the leases were used.
    expect(completed.length).toBe(history.length);
    expect(sources.failed).toBe(0);
    expect(sources.cache).toBeGreaterThan(0);
    expect(completed.filter((op) => op.input.kind === "set").length).toBeGreaterThan(20);
    const result = checkLinearizable(kvModel, history);
    if (result.ok !== true) console.error(`${label}: not linearizable:`, JSON.stringify(result));
    expect(result.ok).toBe(true);
  } finally {
    await Promise.all(opened.map((c) => c.close()));
  }
}

/**
 * Node `paused` holds a line of a key homed elsewhere; it is stopped with SIGSTOP; a write on
 * another node completes within about one lease (the home waits the silent holder out); reads
 * sent to the paused node, and reads after it resumes, all see the new value.
 */
async function checkPausedHolder(cluster: ProcessCluster): Promise<void> {
  const opened: SinkronClient[] = [];
  try {
    // A follower of group 0, so the pause costs no election and the store stays writable.
    const leader = await cluster.waitForLeader();
    const paused = cluster.ids.find((id) => id !== leader)!;
    const writer = cluster.ids.find((id) => id !== paused)!;
    const key = keyHomedAt(writer, "paused", cluster.ids);
    const atWriter = await nodeClient(cluster, writer, opened);
    const atPaused = await nodeClient(cluster, paused, opened);

    await atWriter.cache.set({ key, value: "old" });
    expect((await atPaused.cache.get({ key })).value).toBe("old");
    expect(await atPaused.cache.get({ key })).toEqual({ value: "old", source: "cache", state: "S" } satisfies CacheEntry);

    const pid = cluster.pid(paused)!;
    process.kill(pid, "SIGSTOP");
    let whilePaused: Promise<CacheEntry>[] = [];
    try {
      const startMs = performance.now();
      await atWriter.cache.set({ key, value: "new" });
      const writeMs = performance.now() - startMs;
      console.log(`write while a holder was paused took ${Math.round(writeMs)} ms (lease ${LEASE_MS} ms)`);
      expect(writeMs).toBeLessThan(LEASE_MS + WRITE_MARGIN_MS);
      // Started after the write was acknowledged; the paused node takes them when it resumes,
      // before any of its timers has run.
      whilePaused = Array.from({ length: READS_WHILE_PAUSED }, () => atPaused.cache.get({ key }));
      await Bun.sleep(50);
    } finally {
      process.kill(pid, "SIGCONT");
    }
    const seen = (await Promise.all(whilePaused)).map((e) => e.value);
    for (let i = 0; i < READS_AFTER_RESUME; i++) seen.push((await atPaused.cache.get({ key })).value);
    expect(seen).toEqual(Array.from({ length: READS_WHILE_PAUSED + READS_AFTER_RESUME }, () => "new"));
    // And the line it holds again is a real one: later reads hit.
    expect((await atPaused.cache.get({ key })).source).toBe("cache");
  } finally {
    await Promise.all(opened.map((c) => c.close()));
  }
}

describe("embedded store", () => {
  let cluster: ProcessCluster | undefined;
  beforeAll(async () => {
    cluster = await startCluster([]);
    const client = await cluster.client("n1", { requestTimeoutMs: REQUEST_TIMEOUT_MS });
    await waitWritable(cluster, client);
  }, CLUSTER_TIMEOUT_MS);
  afterAll(() => disposeCluster(cluster));

  test("writes on one node, reads on the others: the history is linearizable per key", async () => {
    await checkWorkload(cluster!, "embedded");
  }, CLUSTER_TIMEOUT_MS);

  test("a holder paused with SIGSTOP is waited out by a write and never serves the old value after SIGCONT", async () => {
    await checkPausedHolder(cluster!);
  }, CLUSTER_TIMEOUT_MS);
});

describe("redis store", () => {
  let redis: RedisServer | undefined;
  let cluster: ProcessCluster | undefined;
  beforeAll(async () => {
    redis = await startRedis();
    cluster = await startCluster(["--redis", redis.url]);
    const client = await cluster.client("n1", { requestTimeoutMs: REQUEST_TIMEOUT_MS });
    await waitWritable(cluster, client);
  }, CLUSTER_TIMEOUT_MS);
  afterAll(async () => {
    await disposeCluster(cluster);
    await redis?.stop();
  });

  function cli(...args: string[]): string {
    const result = Bun.spawnSync([REDIS_CLI_PATH, "-p", String(redis!.port), ...args], { stdin: "ignore" });
    return result.stdout.toString().replace(/\n$/, "");
  }

  test("writes on one node, reads on the others: the history is linearizable per key", async () => {
    await checkWorkload(cluster!, "redis");
  }, CLUSTER_TIMEOUT_MS);

  test("a holder paused with SIGSTOP is waited out by a write and never serves the old value after SIGCONT", async () => {
    await checkPausedHolder(cluster!);
  }, CLUSTER_TIMEOUT_MS);

  test("a key is stored under its own name, a string as a plain string: redis-cli GET shows what CACHE.SET wrote", async () => {
    const client = await cluster!.client("n2", { requestTimeoutMs: REQUEST_TIMEOUT_MS });
    await client.cache.set({ key: "greeting", value: "hello, redis ✓" });
    expect(cli("GET", "greeting")).toBe("hello, redis ✓");
    expect((await client.cache.metrics()) as unknown).toMatchObject({ store: "redis" });
    // And the other way: what another program put there is what a miss reads.
    expect(cli("SET", "external", "written by redis-cli")).toBe("OK");
    const other = await cluster!.client("n3", { requestTimeoutMs: REQUEST_TIMEOUT_MS });
    expect(await other.cache.get({ key: "external" })).toMatchObject({ value: "written by redis-cli", source: "store" });
    await other.cache.del({ key: "greeting" });
    expect(cli("EXISTS", "greeting")).toBe("0");
  }, CLUSTER_TIMEOUT_MS);
});
